/* check_dict.c: unit tests of the pure dict (raw msgpack values, atomic
 * incr, compare-and-set) and of the integer encoding it stores, checked
 * against msgpack-c's own packer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "qlock.h"
#include "mp.h"
#include "obj_dict.h"
#include "suiterun.h"

static struct dict	d;	/* the dict under test */

static void
setup(void)
{
	dict_init(&d);
}

static void
teardown(void)
{
	dict_clear(&d);
}

/* dict calls with NUL-terminated keys. */
#define K(s)	(s), strlen(s)

/* True if key holds exactly the len bytes at val. */
static bool
holds(const char *key, size_t klen, const void *val, size_t len)
{
	struct dentry	*e = dict_get(&d, key, klen);

	return e != NULL && e->vallen == len && memcmp(e->val, val, len) == 0;
}

/* Store the shortest msgpack encoding of v under key. */
static void
set_int(const char *key, int64_t v)
{
	uint8_t	buf[9];

	dict_set(&d, K(key), buf, mp_write_int(buf, v));
}

/* True if key holds v in its shortest encoding. */
static bool
holds_int(const char *key, int64_t v)
{
	uint8_t	buf[9];

	return holds(K(key), buf, mp_write_int(buf, v));
}

/* Sum of the lengths of every key and value. */
static size_t
bytes_of_entries(void)
{
	struct hnode	*n;
	struct dentry	*e;
	size_t		 sum = 0;

	for (n = hmap_first(&d.entries); n != NULL;
	    n = hmap_next(&d.entries, n)) {
		e = hmap_entry(n, struct dentry, node);
		sum += e->keylen + e->vallen;
	}
	return sum;
}

/* Interesting integers: every power of two and its neighbours, both
 * signs, and the msgpack format boundaries; *n set to the count. */
static int64_t *
int_samples(size_t *n)
{
	static const int64_t fixed[] = {
		0, 1, -1, 31, 32, -31, -32, -33, 126, 127, 128, 129,
		-127, -128, -129, 255, 256, 257, -255, -256, -257,
		32767, 32768, -32767, -32768, -32769, 65535, 65536,
		-65535, -65536, -65537, INT32_MAX, (int64_t)INT32_MAX + 1,
		INT32_MIN, (int64_t)INT32_MIN - 1, UINT32_MAX,
		(int64_t)UINT32_MAX + 1, -(int64_t)UINT32_MAX,
		-(int64_t)UINT32_MAX - 1, -(int64_t)UINT32_MAX - 2,
		INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1,
	};
	int64_t		*v = malloc((sizeof(fixed) / sizeof(fixed[0]) +
			    63 * 6 + 4000) * sizeof(*v));
	unsigned	 seed = 2024;
	size_t		 k = 0, i;
	int		 bit;

	ck_assert_ptr_nonnull(v);
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		v[k++] = fixed[i];
	for (bit = 0; bit < 63; bit++) {
		int64_t	p = (int64_t)1 << bit;

		v[k++] = p;
		v[k++] = p - 1;
		v[k++] = p + 1;
		v[k++] = -p;
		v[k++] = -p - 1;
		v[k++] = -p + 1;
	}
	for (i = 0; i < 4000; i++) {
		uint64_t	u = (uint64_t)rand_r(&seed) << 33 ^
				    (uint64_t)rand_r(&seed) << 11 ^
				    (uint64_t)rand_r(&seed);

		/* spread over every width */
		u >>= rand_r(&seed) % 64;
		v[k++] = (int64_t)(rand_r(&seed) % 2 ? u : ~u);
	}
	*n = k;
	return v;
}

/* set, get, overwrite, len, del, as Manager().dict() does. */
START_TEST(test_dict_set_get_del)
{
	ck_assert_uint_eq(dict_len(&d), 0);
	ck_assert_ptr_null(dict_get(&d, K("a")));
	dict_set(&d, K("a"), "\xc4\x01x", 3);
	dict_set(&d, K("b"), "\xa2hi", 3);
	ck_assert_uint_eq(dict_len(&d), 2);
	ck_assert(holds(K("a"), "\xc4\x01x", 3));
	ck_assert(holds(K("b"), "\xa2hi", 3));
	dict_set(&d, K("a"), "\xc4\x05hello", 7);
	ck_assert_uint_eq(dict_len(&d), 2);
	ck_assert(holds(K("a"), "\xc4\x05hello", 7));
	ck_assert_int_eq(dict_del(&d, K("a")), 0);
	ck_assert_ptr_null(dict_get(&d, K("a")));
	ck_assert_uint_eq(dict_len(&d), 1);
	ck_assert_int_eq(dict_del(&d, K("a")), QLOCK_ENOKEY);
	ck_assert_int_eq(dict_del(&d, K("zz")), QLOCK_ENOKEY);
	ck_assert(holds(K("b"), "\xa2hi", 3));
	ck_assert_int_eq(dict_del(&d, K("b")), 0);
	ck_assert_uint_eq(dict_len(&d), 0);
	dict_set(&d, K("a"), "\xc0", 1);	/* back after a delete */
	ck_assert(holds(K("a"), "\xc0", 1));
}
END_TEST

/* Values are kept byte for byte, whatever msgpack they hold; the dict
 * owns a copy. */
START_TEST(test_dict_values_copied)
{
	uint8_t	val[4] = { 0x93, 0x01, 0xc2, 0xc0 };	/* [1, false, nil] */

	dict_set(&d, K("k"), val, sizeof(val));
	memset(val, 0, sizeof(val));
	ck_assert(holds(K("k"), "\x93\x01\xc2\xc0", 4));
}
END_TEST

/* Keys are byte strings of a given length: a prefix, or the same bytes
 * with a NUL after them, are other keys. */
START_TEST(test_dict_keys_by_length)
{
	dict_set(&d, "ab", 1, "\x01", 1);
	dict_set(&d, "ab", 2, "\x02", 1);
	dict_set(&d, "a\0", 2, "\x03", 1);
	ck_assert_uint_eq(dict_len(&d), 3);
	ck_assert(holds("a", 1, "\x01", 1));
	ck_assert(holds("ab", 2, "\x02", 1));
	ck_assert(holds("a\0", 2, "\x03", 1));
	ck_assert_int_eq(dict_del(&d, "a\0", 2), 0);
	ck_assert(holds("a", 1, "\x01", 1));
	ck_assert_ptr_null(dict_get(&d, "a\0", 2));
}
END_TEST

/* Thousands of keys: all found, all removable. */
START_TEST(test_dict_many_keys)
{
	char	key[32];
	int	i;

	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		set_int(key, i);
	}
	ck_assert_uint_eq(dict_len(&d), 5000);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		ck_assert(holds_int(key, i));
	}
	for (i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "key-%d", i);
		ck_assert_int_eq(dict_del(&d, K(key)), 0);
	}
	ck_assert_uint_eq(dict_len(&d), 2500);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		ck_assert((dict_get(&d, K(key)) == NULL) == (i % 2 == 0));
	}
	ck_assert_uint_eq(d.bytes, bytes_of_entries());
}
END_TEST

/* bytes counts keys and values through set, overwrite, incr, cas, del. */
START_TEST(test_dict_bytes_accounting)
{
	int64_t	r;

	ck_assert_uint_eq(d.bytes, 0);
	dict_set(&d, K("abc"), "\xc4\x02xy", 4);
	ck_assert_uint_eq(d.bytes, 7);
	dict_set(&d, K("abc"), "\x01", 1);
	ck_assert_uint_eq(d.bytes, 4);
	ck_assert_int_eq(dict_incr(&d, K("abc"), 1000, &r), 0);
	ck_assert_uint_eq(d.bytes, 3 + 3);
	ck_assert_int_eq(dict_incr(&d, K("n"), 1, &r), 0);
	ck_assert_uint_eq(d.bytes, 6 + 2);
	ck_assert(dict_cas(&d, K("new"), NULL, 0, "\xa1z", 2));
	ck_assert_uint_eq(d.bytes, 8 + 5);
	ck_assert_uint_eq(d.bytes, bytes_of_entries());
	ck_assert_int_eq(dict_del(&d, K("abc")), 0);
	ck_assert_int_eq(dict_del(&d, K("n")), 0);
	ck_assert_int_eq(dict_del(&d, K("new")), 0);
	ck_assert_uint_eq(d.bytes, 0);
}
END_TEST

/* clear empties the dict, which is usable again afterwards. */
START_TEST(test_dict_clear_reuse)
{
	int64_t	r;

	set_int("a", 1);
	set_int("b", 2);
	dict_clear(&d);
	ck_assert_uint_eq(dict_len(&d), 0);
	ck_assert_uint_eq(d.bytes, 0);
	ck_assert_ptr_null(dict_get(&d, K("a")));
	ck_assert_int_eq(dict_incr(&d, K("a"), 5, &r), 0);
	ck_assert_int_eq(r, 5);
	ck_assert_uint_eq(dict_len(&d), 1);
}
END_TEST

/* incr of an absent key starts from 0 and stores the shortest encoding;
 * further incrs add up, negative deltas too. */
START_TEST(test_dict_incr_from_absent)
{
	int64_t	r = 12345;

	ck_assert_int_eq(dict_incr(&d, K("n"), 5, &r), 0);
	ck_assert_int_eq(r, 5);
	ck_assert(holds(K("n"), "\x05", 1));
	ck_assert_int_eq(dict_incr(&d, K("n"), 300, &r), 0);
	ck_assert_int_eq(r, 305);
	ck_assert(holds(K("n"), "\xcd\x01\x31", 3));
	ck_assert_int_eq(dict_incr(&d, K("n"), -306, &r), 0);
	ck_assert_int_eq(r, -1);
	ck_assert(holds(K("n"), "\xff", 1));
	ck_assert_int_eq(dict_incr(&d, K("z"), 0, &r), 0);
	ck_assert_int_eq(r, 0);
	ck_assert(holds(K("z"), "\x00", 1));
	ck_assert_int_eq(dict_incr(&d, K("m"), INT64_MIN, &r), 0);
	ck_assert_int_eq(r, INT64_MIN);
	ck_assert(holds_int("m", INT64_MIN));
	ck_assert_uint_eq(dict_len(&d), 3);
}
END_TEST

/* incr accepts an integer in any msgpack width or signedness, and stores
 * the result in the shortest form. */
START_TEST(test_dict_incr_any_int_encoding)
{
	static const struct {
		const char	*raw;
		size_t		 len;
		int64_t		 v;
	} in[] = {
		{ "\xcc\x05", 2, 5 },
		{ "\xcd\x00\x05", 3, 5 },
		{ "\xce\x00\x00\x00\x05", 5, 5 },
		{ "\xcf\x00\x00\x00\x00\x00\x00\x00\x05", 9, 5 },
		{ "\xd0\x05", 2, 5 },
		{ "\xd0\xfb", 2, -5 },
		{ "\xd1\xff\xfb", 3, -5 },
		{ "\xd2\xff\xff\xff\xfb", 5, -5 },
		{ "\xd3\xff\xff\xff\xff\xff\xff\xff\xfb", 9, -5 },
		{ "\xe0", 1, -32 },
	};
	int64_t	r;
	size_t	i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		dict_set(&d, K("n"), in[i].raw, in[i].len);
		ck_assert_int_eq(dict_incr(&d, K("n"), 1, &r), 0);
		ck_assert_int_eq(r, in[i].v + 1);
		ck_assert(holds_int("n", in[i].v + 1));
	}
}
END_TEST

/* incr of anything but one whole integer is a type error that changes
 * nothing: bin, str, nil, bool, float, array, map, truncated, trailing. */
START_TEST(test_dict_incr_not_int)
{
	static const struct {
		const char	*raw;
		size_t		 len;
	} in[] = {
		{ "\xc4\x01\x05", 3 },			/* bin */
		{ "\xa1" "5", 2 },			/* str */
		{ "\xc0", 1 },				/* nil */
		{ "\xc3", 1 },				/* true */
		{ "\xcb\x40\x14\x00\x00\x00\x00\x00\x00", 9 },	/* 5.0 */
		{ "\xca\x40\xa0\x00\x00", 5 },		/* 5.0f */
		{ "\x91\x05", 2 },			/* [5] */
		{ "\x81\x01\x02", 3 },			/* {1: 2} */
		{ "\xcd\x01", 2 },			/* truncated */
		{ "\x05\x05", 2 },			/* two ints */
		{ "\xc1", 1 },				/* reserved */
	};
	int64_t	r = 12345;
	size_t	i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		dict_set(&d, K("v"), in[i].raw, in[i].len);
		ck_assert_msg(dict_incr(&d, K("v"), 1, &r) == QLOCK_ETYPE,
		    "value %zu taken as an integer", i);
		ck_assert(holds(K("v"), in[i].raw, in[i].len));
		ck_assert_int_eq(r, 12345);
	}
	ck_assert_uint_eq(dict_len(&d), 1);
}
END_TEST

/* 64-bit overflow either way is a value error that changes nothing. */
START_TEST(test_dict_incr_overflow)
{
	int64_t	r = 12345;

	set_int("max", INT64_MAX);
	ck_assert_int_eq(dict_incr(&d, K("max"), 1, &r), QLOCK_EVALUE);
	ck_assert_int_eq(dict_incr(&d, K("max"), INT64_MAX, &r),
	    QLOCK_EVALUE);
	ck_assert(holds_int("max", INT64_MAX));
	set_int("min", INT64_MIN);
	ck_assert_int_eq(dict_incr(&d, K("min"), -1, &r), QLOCK_EVALUE);
	ck_assert_int_eq(dict_incr(&d, K("min"), INT64_MIN, &r),
	    QLOCK_EVALUE);
	ck_assert(holds_int("min", INT64_MIN));
	ck_assert_int_eq(r, 12345);
	ck_assert_int_eq(dict_incr(&d, K("max"), -1, &r), 0);
	ck_assert_int_eq(r, INT64_MAX - 1);
	ck_assert_int_eq(dict_incr(&d, K("max"), 1, &r), 0);
	ck_assert_int_eq(r, INT64_MAX);
	ck_assert_int_eq(dict_incr(&d, K("min"), INT64_MAX, &r), 0);
	ck_assert_int_eq(r, -1);
}
END_TEST

/* A msgpack uint64 above INT64_MAX is an integer: adding to it overflows
 * 64 bits, a value error (the header: ETYPE only for non-integers). */
START_TEST(test_dict_incr_big_uint)
{
	int64_t	r = 12345;
	int	rc;

	dict_set(&d, K("u"), "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9);
	rc = dict_incr(&d, K("u"), 1, &r);
	ck_assert_msg(rc == QLOCK_EVALUE,
	    "incr of uint64 2^63 + 1: got %d, want QLOCK_EVALUE", rc);
	ck_assert(holds(K("u"), "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9));
}
END_TEST

/* cas with expected NULL creates an absent key, and fails once present. */
START_TEST(test_dict_cas_absent)
{
	ck_assert(dict_cas(&d, K("k"), NULL, 0, "\x01", 1));
	ck_assert(holds(K("k"), "\x01", 1));
	ck_assert(!dict_cas(&d, K("k"), NULL, 0, "\x02", 1));
	ck_assert(holds(K("k"), "\x01", 1));
	ck_assert_uint_eq(dict_len(&d), 1);
}
END_TEST

/* cas swaps only when the present value equals the expected one; an
 * absent key never matches a value. */
START_TEST(test_dict_cas_present)
{
	ck_assert(!dict_cas(&d, K("k"), "\xa1x", 2, "\xa1y", 2));
	ck_assert_ptr_null(dict_get(&d, K("k")));
	dict_set(&d, K("k"), "\xa1x", 2);
	ck_assert(!dict_cas(&d, K("k"), "\xa1z", 2, "\xa1y", 2));
	ck_assert(!dict_cas(&d, K("k"), "\xa2xx", 3, "\xa1y", 2));
	ck_assert(!dict_cas(&d, K("k"), "\xc4\x01x", 3, "\xa1y", 2));
	ck_assert(holds(K("k"), "\xa1x", 2));
	ck_assert(dict_cas(&d, K("k"), "\xa1x", 2, "\xc4\x03new", 5));
	ck_assert(holds(K("k"), "\xc4\x03new", 5));
	ck_assert(!dict_cas(&d, K("k"), "\xa1x", 2, "\xa1y", 2));
	ck_assert(dict_cas(&d, K("k"), "\xc4\x03new", 5, "\xc0", 1));
	ck_assert(holds(K("k"), "\xc0", 1));
	ck_assert_uint_eq(dict_len(&d), 1);
}
END_TEST

/* Integers compare by value whatever their encoding; an int never equals
 * a non-int with other bytes. */
START_TEST(test_dict_cas_int_by_value)
{
	int64_t	r;

	ck_assert_int_eq(dict_incr(&d, K("n"), 5, &r), 0);	/* 0x05 */
	ck_assert(dict_cas(&d, K("n"), "\xcc\x05", 2, "\xd3\x00\x00\x00\x00"
	    "\x00\x00\x00\x07", 9));
	ck_assert(holds(K("n"), "\xd3\x00\x00\x00\x00\x00\x00\x00\x07", 9));
	ck_assert(dict_cas(&d, K("n"), "\x07", 1, "\xff", 1));
	ck_assert(dict_cas(&d, K("n"), "\xd1\xff\xff", 3, "\x01", 1));
	ck_assert(!dict_cas(&d, K("n"), "\x02", 1, "\x03", 1));
	ck_assert(!dict_cas(&d, K("n"), "\xc4\x01\x01", 3, "\x03", 1));
	ck_assert(!dict_cas(&d, K("n"), "\xcb\x3f\xf0\x00\x00\x00\x00\x00"
	    "\x00", 9, "\x03", 1));		/* 1.0 is not the int 1 */
	ck_assert(holds(K("n"), "\x01", 1));
	ck_assert_int_eq(dict_incr(&d, K("n"), 1, &r), 0);
	ck_assert_int_eq(r, 2);
}
END_TEST

/* mp_write_int writes exactly what msgpack-c's packer writes (the
 * shortest form) for boundaries, powers of two and random widths. */
START_TEST(test_dict_mp_write_int_matches_msgpack_c)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	uint8_t		 buf[9];
	int64_t		*v;
	size_t		 n, i, len;

	v = int_samples(&n);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (i = 0; i < n; i++) {
		msgpack_sbuffer_clear(&sb);
		ck_assert_int_eq(msgpack_pack_int64(&pk, v[i]), 0);
		memset(buf, 0xee, sizeof(buf));
		len = mp_write_int(buf, v[i]);
		ck_assert_msg(len == sb.size && memcmp(buf, sb.data, len) == 0,
		    "%lld: %zu bytes from mp_write_int, %zu from msgpack-c",
		    (long long)v[i], len, sb.size);
	}
	msgpack_sbuffer_destroy(&sb);
	free(v);
}
END_TEST

/* Every encoding mp_write_int makes is one integer to mp_is_int and to
 * msgpack-c's unpacker, with the same value. */
START_TEST(test_dict_mp_is_int_round_trip)
{
	msgpack_unpacked u;
	uint8_t		 buf[9];
	int64_t		*v, back;
	size_t		 n, i, len, off;

	v = int_samples(&n);
	msgpack_unpacked_init(&u);
	for (i = 0; i < n; i++) {
		len = mp_write_int(buf, v[i]);
		ck_assert_uint_ge(len, 1);
		ck_assert_uint_le(len, 9);
		back = ~v[i];
		ck_assert(mp_is_int(buf, len, &back));
		ck_assert_int_eq(back, v[i]);
		ck_assert(!mp_is_int(buf, len - 1, &back));
		off = 0;
		ck_assert_int_eq(msgpack_unpack_next(&u, (const char *)buf,
		    len, &off), MSGPACK_UNPACK_SUCCESS);
		ck_assert_uint_eq(off, len);
		if (v[i] >= 0) {
			ck_assert_int_eq(u.data.type,
			    MSGPACK_OBJECT_POSITIVE_INTEGER);
			ck_assert_uint_eq(u.data.via.u64, (uint64_t)v[i]);
		} else {
			ck_assert_int_eq(u.data.type,
			    MSGPACK_OBJECT_NEGATIVE_INTEGER);
			ck_assert_int_eq(u.data.via.i64, v[i]);
		}
	}
	msgpack_unpacked_destroy(&u);
	free(v);
}
END_TEST

/* mp_is_int refuses anything that is not exactly one int64. */
START_TEST(test_dict_mp_is_int_refuses)
{
	int64_t	v = 12345;

	ck_assert(!mp_is_int("", 0, &v));
	ck_assert(!mp_is_int("\x05\x05", 2, &v));
	ck_assert(!mp_is_int("\xc0", 1, &v));
	ck_assert(!mp_is_int("\xc2", 1, &v));
	ck_assert(!mp_is_int("\xa1" "1", 2, &v));
	ck_assert(!mp_is_int("\xc4\x01\x01", 3, &v));
	ck_assert(!mp_is_int("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9, &v));
	ck_assert(!mp_is_int("\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9, &v));
	ck_assert(!mp_is_int("\xd3\x00\x00\x00", 4, &v));
	ck_assert(mp_is_int("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9, &v));
	ck_assert_int_eq(v, INT64_MAX);
}
END_TEST

/* The keys in order, as a string "a b c" (keys are plain text here). */
static void
order_is(const char *want)
{
	struct dentry	*e;
	char		 got[128] = "";
	size_t		 n = 0;

	TAILQ_FOREACH(e, &d.order, order) {
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%.*s",
		    n > 0 ? " " : "", (int)e->keylen, e->key);
		ck_assert_uint_lt(n, sizeof(got));
	}
	ck_assert_str_eq(got, want);
}

/* Insertion order, as Python's dict: an update keeps its place, a key
 * deleted and set again goes to the end, the last is popitem's. */
START_TEST(test_dict_insertion_order)
{
	dict_set(&d, K("b"), "\x01", 1);
	dict_set(&d, K("a"), "\x02", 1);
	dict_set(&d, K("c"), "\x03", 1);
	order_is("b a c");
	dict_set(&d, K("b"), "\x04", 1);
	order_is("b a c");
	ck_assert_int_eq(dict_del(&d, K("a")), 0);
	dict_set(&d, K("a"), "\x05", 1);
	order_is("b c a");
	ck_assert_ptr_eq(dict_last(&d), dict_get(&d, K("a")));
	set_int("d", 7);
	ck_assert_ptr_eq(dict_last(&d), dict_get(&d, K("d")));
	dict_clear(&d);
	dict_init(&d);
	ck_assert_ptr_null(dict_last(&d));
	order_is("");
}
END_TEST

/* A key is a str, bin or integer in its shortest encoding, so that equal
 * keys have equal bytes; other types and encodings are refused. */
START_TEST(test_dict_key_ok)
{
	static const struct {
		const char	*raw;
		size_t		 len;
		bool		 ok;
	} k[] = {
		{ "\xa1" "a", 2, true },	/* fixstr */
		{ "\xd9\x01" "a", 3, false },	/* str8 for 1 byte */
		{ "\xc4\x01" "a", 3, true },	/* bin8 */
		{ "\xc5\x00\x01" "a", 4, false }, /* bin16 for 1 byte */
		{ "\x01", 1, true },		/* positive fixint */
		{ "\xcc\x01", 2, false },	/* uint8 for 1 */
		{ "\xd0\x01", 2, false },	/* int8 for 1 */
		{ "\xcc\xc8", 2, true },	/* 200 */
		{ "\xd1\x00\xc8", 3, false },	/* int16 for 200 */
		{ "\xff", 1, true },		/* -1 */
		{ "\xd0\xff", 2, false },	/* int8 for -1 */
		{ "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, true },
		{ "\xcf\x00\x00\x00\x00\x00\x00\x00\x01", 9, false },
		{ "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9, false }, /* 1.0 */
		{ "\xc0", 1, false },		/* nil */
		{ "\xc3", 1, false },		/* true */
		{ "\x90", 1, false },		/* [] */
		{ "\xa1" "a" "\x01", 3, false },	/* trailing bytes */
	};
	size_t	i;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		ck_assert_msg(dict_key_ok(k[i].raw, k[i].len) == k[i].ok,
		    "key %zu: expected %s", i, k[i].ok ? "ok" : "refused");
}
END_TEST

static Suite *
dict_suite(void)
{
	Suite	*s = suite_create("dict");
	TCase	*tc;

	tc = tcase_create("entries");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dict_set_get_del);
	tcase_add_test(tc, test_dict_values_copied);
	tcase_add_test(tc, test_dict_keys_by_length);
	tcase_add_test(tc, test_dict_many_keys);
	tcase_add_test(tc, test_dict_bytes_accounting);
	tcase_add_test(tc, test_dict_clear_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("incr");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dict_incr_from_absent);
	tcase_add_test(tc, test_dict_incr_any_int_encoding);
	tcase_add_test(tc, test_dict_incr_not_int);
	tcase_add_test(tc, test_dict_incr_overflow);
	tcase_add_test(tc, test_dict_incr_big_uint);
	suite_add_tcase(s, tc);

	tc = tcase_create("cas");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dict_cas_absent);
	tcase_add_test(tc, test_dict_cas_present);
	tcase_add_test(tc, test_dict_cas_int_by_value);
	suite_add_tcase(s, tc);

	tc = tcase_create("python");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dict_insertion_order);
	tcase_add_test(tc, test_dict_key_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("int encoding");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dict_mp_write_int_matches_msgpack_c);
	tcase_add_test(tc, test_dict_mp_is_int_round_trip);
	tcase_add_test(tc, test_dict_mp_is_int_refuses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(dict_suite(), CK_FORK_GETENV);
}
