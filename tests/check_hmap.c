/* check_hmap.c: unit tests of the intrusive chained hash table. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "hmap.h"
#include "suiterun.h"

#define NKEYS	10000

/* An element as the registry would have one: key inside the element. */
struct elem {
	int		 val;
	struct hnode	 node;		/* not first: hmap_entry must offset */
	size_t		 keylen;
	char		 key[40];
	int		 seen;		/* visits in one iteration */
};

static struct hmap	 h;
static struct elem	*e;		/* NKEYS elements */

static void
setup(void)
{
	hmap_init(&h);
	e = calloc(NKEYS, sizeof(*e));
	ck_assert_ptr_nonnull(e);
}

static void
teardown(void)
{
	hmap_free(&h);
	free(e);
}

/* Give element i the key "key-<i>" and insert it. */
static void
insert_num(int i)
{
	e[i].val = i;
	e[i].keylen = (size_t)snprintf(e[i].key, sizeof(e[i].key), "key-%d", i);
	hmap_insert(&h, &e[i].node, e[i].key, e[i].keylen);
}

/* Give element i the bytes key[0..len) and insert it. */
static void
insert_bytes(int i, const void *key, size_t len)
{
	ck_assert_uint_le(len, sizeof(e[i].key));
	e[i].val = i;
	memcpy(e[i].key, key, len);
	e[i].keylen = len;
	hmap_insert(&h, &e[i].node, e[i].key, len);
}

/* The element found for key, or NULL. */
static struct elem *
find(const void *key, size_t len)
{
	struct hnode	*n = hmap_find(&h, key, len);

	return n == NULL ? NULL : hmap_entry(n, struct elem, node);
}

static struct elem *
find_num(int i)
{
	char	buf[40];
	int	len = snprintf(buf, sizeof(buf), "key-%d", i);

	return find(buf, (size_t)len);
}

/* Iterate once, counting visits per element; returns the nodes seen. */
static size_t
iterate(void)
{
	struct hnode	*n;
	size_t		 total = 0;

	for (n = hmap_first(&h); n != NULL; n = hmap_next(&h, n)) {
		hmap_entry(n, struct elem, node)->seen++;
		total++;
	}
	return total;
}

/* An empty table finds nothing and iterates over nothing. */
START_TEST(test_hmap_empty)
{
	ck_assert_ptr_null(hmap_find(&h, "x", 1));
	ck_assert_ptr_null(hmap_find(&h, "", 0));
	ck_assert_ptr_null(hmap_first(&h));
	ck_assert_uint_eq(h.count, 0);
	hmap_free(&h);
	hmap_free(&h);
}
END_TEST

/* hmap_entry gives back the element around the node. */
START_TEST(test_hmap_entry)
{
	insert_num(3);
	ck_assert_ptr_eq(find_num(3), &e[3]);
	ck_assert_int_eq(find_num(3)->val, 3);
	ck_assert_ptr_null(find_num(4));
	ck_assert_ptr_null(find("key-3", 4));
	ck_assert_ptr_null(find("key-30", 6));
}
END_TEST

/* 10,000 keys: each is found as itself, missing keys are not. */
START_TEST(test_hmap_insert_find_many)
{
	int	i;

	for (i = 0; i < NKEYS; i++) {
		insert_num(i);
		ck_assert_uint_eq(h.count, (size_t)i + 1);
	}
	for (i = 0; i < NKEYS; i++)
		ck_assert_ptr_eq(find_num(i), &e[i]);
	for (i = NKEYS; i < 2 * NKEYS; i++)
		ck_assert_ptr_null(find_num(i));
	ck_assert_ptr_null(find_num(-1));
}
END_TEST

/* The table doubles as it fills, keeping the load at most one and every
 * key reachable across each resize. */
START_TEST(test_hmap_growth)
{
	size_t	prev = 0;
	int	i, j;

	for (i = 0; i < NKEYS; i++) {
		insert_num(i);
		ck_assert_uint_ge(h.nbuckets, 16);
		ck_assert_uint_eq(h.nbuckets & (h.nbuckets - 1), 0);
		ck_assert_uint_le(h.count, h.nbuckets);
		if (h.nbuckets != prev) {
			if (prev != 0)
				ck_assert_uint_eq(h.nbuckets, prev * 2);
			prev = h.nbuckets;
			for (j = 0; j <= i; j++)
				ck_assert_ptr_eq(find_num(j), &e[j]);
		}
	}
	ck_assert_uint_ge(h.nbuckets, NKEYS);
}
END_TEST

/* Removing half leaves the other half; removed keys are gone and may be
 * inserted again. */
START_TEST(test_hmap_remove)
{
	int	i;

	for (i = 0; i < NKEYS; i++)
		insert_num(i);
	for (i = 0; i < NKEYS; i += 2)
		hmap_remove(&h, &e[i].node);
	ck_assert_uint_eq(h.count, NKEYS / 2);
	for (i = 0; i < NKEYS; i++) {
		if (i % 2 == 0)
			ck_assert_ptr_null(find_num(i));
		else
			ck_assert_ptr_eq(find_num(i), &e[i]);
	}
	for (i = 0; i < NKEYS; i += 2)
		insert_num(i);
	ck_assert_uint_eq(h.count, NKEYS);
	for (i = 0; i < NKEYS; i++)
		ck_assert_ptr_eq(find_num(i), &e[i]);
	for (i = 0; i < NKEYS; i++)
		hmap_remove(&h, &e[i].node);
	ck_assert_uint_eq(h.count, 0);
	ck_assert_ptr_null(hmap_first(&h));
	ck_assert_ptr_null(find_num(1));
}
END_TEST

/* Iteration visits every element exactly once, at every size. */
START_TEST(test_hmap_iterate_once)
{
	int	i, j;

	ck_assert_uint_eq(iterate(), 0);
	for (i = 0; i < NKEYS; i++) {
		insert_num(i);
		if (i < 100 || i % 997 == 0 || i == NKEYS - 1) {
			for (j = 0; j <= i; j++)
				e[j].seen = 0;
			ck_assert_uint_eq(iterate(), (size_t)i + 1);
			for (j = 0; j <= i; j++)
				ck_assert_int_eq(e[j].seen, 1);
		}
	}
}
END_TEST

/* Removing the current node after taking next: the rest are still each
 * visited once, and the removed ones are gone. */
START_TEST(test_hmap_remove_during_iteration)
{
	struct hnode	*n, *next;
	struct elem	*x;
	size_t		 total = 0;
	int		 i;

	for (i = 0; i < NKEYS; i++)
		insert_num(i);
	for (n = hmap_first(&h); n != NULL; n = next) {
		next = hmap_next(&h, n);
		x = hmap_entry(n, struct elem, node);
		x->seen++;
		total++;
		if (x->val % 3 != 0)
			hmap_remove(&h, n);
	}
	ck_assert_uint_eq(total, NKEYS);
	for (i = 0; i < NKEYS; i++) {
		ck_assert_int_eq(e[i].seen, 1);
		if (i % 3 == 0)
			ck_assert_ptr_eq(find_num(i), &e[i]);
		else
			ck_assert_ptr_null(find_num(i));
	}
	ck_assert_uint_eq(h.count, (NKEYS + 2) / 3);

	/* Now remove everything while iterating. */
	for (i = 0; i < NKEYS; i++)
		e[i].seen = 0;
	total = 0;
	for (n = hmap_first(&h); n != NULL; n = next) {
		next = hmap_next(&h, n);
		hmap_entry(n, struct elem, node)->seen++;
		hmap_remove(&h, n);
		total++;
	}
	ck_assert_uint_eq(total, (NKEYS + 2) / 3);
	for (i = 0; i < NKEYS; i += 3)
		ck_assert_int_eq(e[i].seen, 1);
	ck_assert_uint_eq(h.count, 0);
	ck_assert_ptr_null(hmap_first(&h));
}
END_TEST

/* Keys that are prefixes of one another, including the empty key, are
 * distinct: each finds only itself. */
START_TEST(test_hmap_prefix_keys)
{
	static const char	 k[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t			 len;

	for (len = 0; len <= 36; len++)
		insert_bytes((int)len, k, len);
	ck_assert_uint_eq(h.count, 37);
	for (len = 0; len <= 36; len++) {
		ck_assert_ptr_eq(find(k, len), &e[len]);
		ck_assert_uint_eq(find(k, len)->keylen, len);
	}
	ck_assert_ptr_null(find("abd", 3));
	ck_assert_ptr_null(find("bcd", 3));
	/* Same length, differing only in the last byte. */
	ck_assert_ptr_null(find("abcdefghijklmnopqrstuvwxyz012345678X", 36));
	hmap_remove(&h, &e[3].node);
	ck_assert_ptr_null(find(k, 3));
	ck_assert_ptr_eq(find(k, 2), &e[2]);
	ck_assert_ptr_eq(find(k, 4), &e[4]);
}
END_TEST

/* Binary keys with NUL bytes are compared by length and bytes, never as C
 * strings. */
START_TEST(test_hmap_binary_keys)
{
	static const struct {
		const char	*b;
		size_t		 len;
	} k[] = {
		{ "\0", 1 }, { "\0\0", 2 }, { "\0\0\0", 3 },
		{ "a", 1 }, { "a\0", 2 }, { "a\0b", 3 }, { "a\0c", 3 },
		{ "\0a", 2 }, { "a\0b\0", 4 }, { "\xff\0\xff", 3 },
		{ "", 0 },
	};
	size_t	i, n = sizeof(k) / sizeof(k[0]);
	uint8_t	big[40];

	for (i = 0; i < n; i++)
		insert_bytes((int)i, k[i].b, k[i].len);
	ck_assert_uint_eq(h.count, n);
	for (i = 0; i < n; i++)
		ck_assert_ptr_eq(find(k[i].b, k[i].len), &e[i]);
	ck_assert_ptr_null(find("a\0d", 3));
	ck_assert_ptr_null(find("\0\0\0\0", 4));
	ck_assert_ptr_null(find("b", 1));

	/* Keys that are all zero bytes but for one position. */
	for (i = 0; i < 40; i++) {
		memset(big, 0, sizeof(big));
		big[i] = 1;
		insert_bytes((int)(100 + i), big, sizeof(big));
	}
	for (i = 0; i < 40; i++) {
		memset(big, 0, sizeof(big));
		big[i] = 1;
		ck_assert_ptr_eq(find(big, sizeof(big)), &e[100 + i]);
	}
	memset(big, 0, sizeof(big));
	ck_assert_ptr_null(find(big, sizeof(big)));
	for (i = 0; i < n; i++)
		ck_assert_ptr_eq(find(k[i].b, k[i].len), &e[i]);
}
END_TEST

/* Random inserts and removes against a presence array. */
START_TEST(test_hmap_random)
{
	bool	*in = calloc(NKEYS, sizeof(*in));
	size_t	 n = 0;
	int	 step, i;

	ck_assert_ptr_nonnull(in);
	srand(99);
	for (step = 0; step < 50000; step++) {
		i = rand() % NKEYS;
		if (in[i]) {
			hmap_remove(&h, &e[i].node);
			n--;
		} else {
			insert_num(i);
			n++;
		}
		in[i] = !in[i];
		ck_assert_uint_eq(h.count, n);
		ck_assert_ptr_eq(find_num(i), in[i] ? &e[i] : NULL);
	}
	for (i = 0; i < NKEYS; i++) {
		e[i].seen = 0;
		ck_assert_ptr_eq(find_num(i), in[i] ? &e[i] : NULL);
	}
	ck_assert_uint_eq(iterate(), n);
	for (i = 0; i < NKEYS; i++)
		ck_assert_int_eq(e[i].seen, in[i] ? 1 : 0);
	free(in);
}
END_TEST

static Suite *
hmap_suite(void)
{
	Suite	*s = suite_create("hmap");
	TCase	*tc;

	tc = tcase_create("hmap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hmap_empty);
	tcase_add_test(tc, test_hmap_entry);
	tcase_add_test(tc, test_hmap_insert_find_many);
	tcase_add_test(tc, test_hmap_growth);
	tcase_add_test(tc, test_hmap_remove);
	tcase_add_test(tc, test_hmap_iterate_once);
	tcase_add_test(tc, test_hmap_remove_during_iteration);
	tcase_add_test(tc, test_hmap_prefix_keys);
	tcase_add_test(tc, test_hmap_binary_keys);
	tcase_add_test(tc, test_hmap_random);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(hmap_suite(), CK_FORK_GETENV);
}
