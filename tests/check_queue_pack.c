/* check_queue_pack.c: the packed item store (qpack) against a plain list:
 * every item comes back byte for byte with its id, in order, whatever its
 * msgpack form, its size and the ids' pattern, after pops, put-backs and
 * removals from the middle; and a 100-byte item costs about 101 bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_queue.h"
#include "qpack.h"

#define NMODEL	6000

/* The model: what the qpack should hold, head first. */
struct mitem {
	uint64_t	 id;
	size_t		 len;
	uint8_t		*data;
};

static struct mitem	model[NMODEL];
static size_t		mhead, mtail;
static struct qpack	pk;

/* Item number n as msgpack, in one of many forms (folded or not). */
static size_t
make_item(unsigned n, uint8_t *buf)
{
	size_t	len, i;

	switch (n % 9) {
	case 0:				/* bin8, folded to one lead byte */
		len = n % 128;
		buf[0] = 0xc4;
		buf[1] = (uint8_t)len;
		for (i = 0; i < len; i++)
			buf[2 + i] = (uint8_t)(n + i);
		return 2 + len;
	case 1:				/* bin16 */
		len = 256 + n % 3000;
		buf[0] = 0xc5;
		buf[1] = (uint8_t)(len >> 8);
		buf[2] = (uint8_t)len;
		memset(buf + 3, (int)n, len);
		return 3 + len;
	case 2:				/* fixstr */
		len = n % 32;
		buf[0] = 0xa0 | (uint8_t)len;
		memset(buf + 1, 'a' + (int)(n % 26), len);
		return 1 + len;
	case 3:				/* str8 */
		len = 32 + n % 200;
		buf[0] = 0xd9;
		buf[1] = (uint8_t)len;
		memset(buf + 2, 'A' + (int)(n % 26), len);
		return 2 + len;
	case 4:				/* str8 that could be a fixstr: raw */
		buf[0] = 0xd9;
		buf[1] = 5;
		memcpy(buf + 2, "hello", 5);
		return 7;
	case 5:				/* bin16 that could be a bin8: raw */
		buf[0] = 0xc5;
		buf[1] = 0;
		buf[2] = 3;
		memcpy(buf + 3, "abc", 3);
		return 6;
	case 6:				/* an int, an array: raw */
		buf[0] = 0x93;
		buf[1] = 1;
		buf[2] = 0xcd;
		buf[3] = (uint8_t)(n >> 8);
		buf[4] = (uint8_t)n;
		buf[5] = 0xc0;
		return 6;
	case 7:				/* a bin8 header lying about its size */
		buf[0] = 0xc4;
		buf[1] = 200;
		memset(buf + 2, 7, 10);
		return 12;
	default:			/* bytes that are no msgpack at all */
		len = n % 5;
		memset(buf, 0xc1, len);
		return len;
	}
}

/* The id of the n-th item put under pattern pat. */
static uint64_t
make_id(int pat, unsigned n)
{
	switch (pat) {
	case 0:
		return 0;			/* no --data-dir */
	case 1:
		return 1000000000000ull + n;	/* one busy queue */
	case 2:
		return 7 + 3ull * n + (n % 50 == 0 ? 1000 : 0);
	default:				/* anything, even going back */
		return (uint64_t)rand() * 2654435761u + n;
	}
}

static void
model_push(uint64_t id, const uint8_t *buf, size_t len)
{
	ck_assert_uint_lt(mtail, NMODEL);
	model[mtail].id = id;
	model[mtail].len = len;
	model[mtail].data = malloc(len + 1);
	memcpy(model[mtail].data, buf, len);
	mtail++;
}

/* True if r is exactly model item m. */
static bool
ref_is(const struct qref *r, const struct mitem *m)
{
	struct qitem	*it = qitem_of_ref(r);
	bool		 ok;

	ok = r->id == m->id && it->len == m->len && qref_len(r) == m->len &&
	    memcmp(it->data, m->data, m->len) == 0;
	qitem_free(it);
	return ok;
}

/* The qpack holds the model, in order. */
static void
check_all(void)
{
	struct qiter	i;
	struct qref	r;
	size_t		n = mhead;

	qpack_iter_init(&pk, &i);
	while (qpack_iter_next(&i, &r)) {
		ck_assert_uint_lt(n, mtail);
		ck_assert_msg(ref_is(&r, &model[n]), "item %zu differs", n);
		n++;
	}
	ck_assert_uint_eq(n, mtail);
	if (mtail > mhead) {
		ck_assert(qpack_head(&pk, &r) && ref_is(&r, &model[mhead]));
		ck_assert(qpack_last(&pk, &r) && ref_is(&r, &model[mtail - 1]));
	} else
		ck_assert(!qpack_head(&pk, &r) && !qpack_last(&pk, &r));
}

static void
pack_setup(void)
{
	qpack_init(&pk);
	mhead = mtail = 0;
	srand(42);
}

static void
pack_teardown(void)
{
	size_t	i;

	qpack_clear(&pk);
	for (i = 0; i < mtail; i++)
		free(model[i].data);
}

/* Items of every form and ids of every pattern come back exactly, in
 * order, through pushes and pops interleaved (blocks fill, grow, are
 * compacted and freed). */
START_TEST(test_qpack_roundtrip)
{
	static uint8_t	buf[4096];
	struct qref	r;
	unsigned	n;
	size_t		len;

	for (n = 0; n < NMODEL - 1; n++) {
		len = make_item(n, buf);
		model_push(make_id(_i, n), buf, len);
		qpack_push(&pk, model[mtail - 1].id, buf, len);
		/* Take one in three, so the head block is read while
		 * the tail one is written. */
		if (n % 3 == 2) {
			ck_assert(qpack_head(&pk, &r));
			ck_assert(ref_is(&r, &model[mhead]));
			qpack_pop(&pk);
			mhead++;
		}
		if (n % 1000 == 0)
			check_all();
	}
	check_all();
	while (mhead < mtail) {
		ck_assert(qpack_head(&pk, &r));
		ck_assert_msg(ref_is(&r, &model[mhead]), "item %zu", mhead);
		qpack_pop(&pk);
		mhead++;
	}
	check_all();
	/* Empty, it takes items again. */
	len = make_item(0, buf);
	model_push(make_id(_i, 1), buf, len);
	qpack_push(&pk, model[mtail - 1].id, buf, len);
	check_all();
}
END_TEST

/* Any item can be taken out by id (replay does, should a log take one
 * that is not the head): the others keep their order and ids. */
START_TEST(test_qpack_remove)
{
	static uint8_t	buf[4096];
	struct qitem	*it;
	size_t		len, k, pos[] = { 0, 1, 500, 1701, 1999, 1 };
	unsigned	n;

	for (n = 0; n < 2000; n++) {
		len = make_item(n, buf);
		model_push(make_id(2 + _i, n), buf, len);
		qpack_push(&pk, model[mtail - 1].id, buf, len);
	}
	for (k = 0; k < sizeof(pos) / sizeof(pos[0]); k++) {
		size_t at = mhead + (pos[k] < mtail - mhead ? pos[k] :
		    mtail - mhead - 1);
		struct mitem m = model[at];

		it = qpack_remove(&pk, m.id);
		ck_assert_ptr_nonnull(it);
		ck_assert(it->id == m.id && it->len == m.len &&
		    memcmp(it->data, m.data, m.len) == 0);
		qitem_free(it);
		free(m.data);
		memmove(model + at, model + at + 1,
		    (mtail - at - 1) * sizeof(*model));
		mtail--;
		check_all();
	}
	ck_assert_ptr_null(qpack_remove(&pk, 5));
	/* The tail goes on from the new last item. */
	for (n = 2000; n < 2100; n++) {
		len = make_item(n, buf);
		model_push(make_id(2 + _i, n), buf, len);
		qpack_push(&pk, model[mtail - 1].id, buf, len);
	}
	check_all();
}
END_TEST

/* Put-back items come first, newest put back first, and are taken out
 * by id too. */
START_TEST(test_qpack_front)
{
	struct qitem	*a = qitem_new("\xa1" "a", 2), *b = qitem_new("b", 1);
	struct qitem	*it;
	struct qref	 r;

	a->id = 10;
	b->id = 11;
	qpack_push(&pk, 12, "\xa1" "c", 2);
	qpack_push_front(&pk, b);
	qpack_push_front(&pk, a);
	ck_assert(qpack_head(&pk, &r) && r.id == 10);
	ck_assert(qpack_last(&pk, &r) && r.id == 12);
	it = qpack_remove(&pk, 11);
	ck_assert_ptr_eq(it, b);
	qitem_free(it);
	/* The blocks' first item, behind a put-back one. */
	qpack_push(&pk, 13, "d", 1);
	it = qpack_remove(&pk, 12);
	ck_assert(it != NULL && it->id == 12 && it->len == 2 &&
	    memcmp(it->data, "\xa1" "c", 2) == 0);
	qitem_free(it);
	ck_assert(qpack_head(&pk, &r) && r.id == 10);
	ck_assert(qpack_last(&pk, &r) && r.id == 13);
	qpack_pop(&pk);
	ck_assert(qpack_head(&pk, &r) && r.id == 13 && qref_len(&r) == 1 &&
	    r.hdrlen == 0 && r.body[0] == 'd');
	qpack_push(&pk, 14, "\xa1" "e", 2);
	qpack_pop(&pk);
	ck_assert(qpack_head(&pk, &r) && r.id == 14 && qref_len(&r) == 2 &&
	    r.hdrlen == 1 && r.hdr[0] == 0xa1 && r.body[0] == 'e');
	qpack_pop(&pk);
	ck_assert(!qpack_head(&pk, &r));
}
END_TEST

/* The point of it all: 100,000 items of a 100-byte payload (a msgpack
 * bin8 of 102 bytes) cost at most 102 bytes each, ids consecutive or 0. */
START_TEST(test_qpack_compact)
{
	uint8_t		buf[102];
	unsigned	n;
	size_t		bytes;

	buf[0] = 0xc4;
	buf[1] = 100;
	for (n = 0; n < 100000; n++) {
		memset(buf + 2, (int)n, 100);
		qpack_push(&pk, _i == 0 ? 0 : 5000 + n, buf, sizeof(buf));
	}
	bytes = qpack_footprint(&pk);
	ck_assert_msg(bytes <= 102u * 100000, "%zu bytes per item",
	    bytes / 100000);
}
END_TEST

void
queue_pack_tests(TCase *tc)
{
	tcase_add_checked_fixture(tc, pack_setup, pack_teardown);
	tcase_add_loop_test(tc, test_qpack_roundtrip, 0, 4);
	tcase_add_loop_test(tc, test_qpack_remove, 0, 2);
	tcase_add_test(tc, test_qpack_front);
	tcase_add_loop_test(tc, test_qpack_compact, 0, 2);
}
