/* check_mp.c: unit tests of the bounds-checked msgpack reader, against
 * msgpack-c's packer as an independent encoder. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "check_mp.h"
#include "mp.h"
#include "suiterun.h"

msgpack_sbuffer	 sb;	/* what the packer wrote */
msgpack_packer	 pk;	/* packs into sb */
uint8_t		*blob;	/* BIG bytes of filler for str/bin/ext */

static void
setup(void)
{
	size_t	i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	blob = malloc(BIG);
	ck_assert_ptr_nonnull(blob);
	for (i = 0; i < BIG; i++)
		blob[i] = (uint8_t)(i * 7 + 1);
}

static void
teardown(void)
{
	free(blob);
	msgpack_sbuffer_destroy(&sb);
}

const uint8_t *
sbdata(void)
{
	return (const uint8_t *)sb.data;
}

/* Every proper prefix of buf[0..len) is refused by mp_check and mp_skip. */
static void
assert_prefixes_refused(const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	const uint8_t	*start = NULL;
	size_t		 n, got = 0;

	/* plain ifs: a ck_assert per prefix would log a mark point each */
	for (n = 0; n < len; n++) {
		if (mp_check(buf, n) != -1)
			ck_abort_msg("prefix of %zu/%zu bytes (first byte "
			    "0x%02x) accepted", n, len, buf[0]);
		mp_reader_init(&r, buf, n);
		if (mp_skip(&r, &start, &got) != -1 || r.p != buf)
			ck_abort_msg("mp_skip of a %zu/%zu-byte prefix "
			    "succeeded or moved", n, len);
	}
}

/* The packer's output is one object starting with marker, of the given type:
 * accepted whole, skipped whole, every truncation refused.  Clears sb. */
static void
assert_one(uint8_t marker, enum mp_type type)
{
	struct mp_reader r;
	const uint8_t	*start = NULL;
	size_t		 len = 0;

	ck_assert_uint_gt(sb.size, 0);
	ck_assert_msg(sbdata()[0] == marker, "packer wrote 0x%02x, not 0x%02x",
	    sbdata()[0], marker);
	ck_assert_msg(mp_check(sb.data, sb.size) == 0,
	    "0x%02x object of %zu bytes refused", marker, sb.size);
	mp_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(mp_peek(&r), type);
	ck_assert_int_eq(mp_skip(&r, &start, &len), 0);
	ck_assert_ptr_eq(start, sbdata());
	ck_assert_uint_eq(len, sb.size);
	ck_assert_ptr_eq(r.p, r.end);
	assert_prefixes_refused(sbdata(), sb.size);
	msgpack_sbuffer_clear(&sb);
}

/* Raw bytes are refused by mp_check. */
static void
assert_refused(const uint8_t *buf, size_t len)
{
	ck_assert_msg(mp_check(buf, len) == -1,
	    "%zu bytes starting 0x%02x accepted", len, len ? buf[0] : 0);
}

/* ---- mp_check: every type ------------------------------------------- */

START_TEST(test_mp_check_ints)
{
	msgpack_pack_uint64(&pk, 0);		assert_one(0x00, MP_UINT);
	msgpack_pack_uint64(&pk, 127);		assert_one(0x7f, MP_UINT);
	msgpack_pack_int64(&pk, -1);		assert_one(0xff, MP_INT);
	msgpack_pack_int64(&pk, -32);		assert_one(0xe0, MP_INT);
	msgpack_pack_uint64(&pk, 200);		assert_one(0xcc, MP_UINT);
	msgpack_pack_uint64(&pk, 60000);	assert_one(0xcd, MP_UINT);
	msgpack_pack_uint64(&pk, BIG);		assert_one(0xce, MP_UINT);
	msgpack_pack_uint64(&pk, UINT64_MAX);	assert_one(0xcf, MP_UINT);
	msgpack_pack_int64(&pk, -100);		assert_one(0xd0, MP_INT);
	msgpack_pack_int64(&pk, -1000);		assert_one(0xd1, MP_INT);
	msgpack_pack_int64(&pk, -BIG);		assert_one(0xd2, MP_INT);
	msgpack_pack_int64(&pk, INT64_MIN);	assert_one(0xd3, MP_INT);
}
END_TEST

START_TEST(test_mp_check_scalars)
{
	msgpack_pack_nil(&pk);			assert_one(0xc0, MP_NIL);
	msgpack_pack_false(&pk);		assert_one(0xc2, MP_BOOL);
	msgpack_pack_true(&pk);			assert_one(0xc3, MP_BOOL);
	msgpack_pack_float(&pk, 1.5f);		assert_one(0xca, MP_FLOAT);
	msgpack_pack_double(&pk, 0.1);		assert_one(0xcb, MP_FLOAT);
}
END_TEST

START_TEST(test_mp_check_str_bin)
{
	msgpack_pack_str_with_body(&pk, blob, 0);   assert_one(0xa0, MP_STR);
	msgpack_pack_str_with_body(&pk, blob, 31);  assert_one(0xbf, MP_STR);
	msgpack_pack_str_with_body(&pk, blob, 32);  assert_one(0xd9, MP_STR);
	msgpack_pack_str_with_body(&pk, blob, 300); assert_one(0xda, MP_STR);
	msgpack_pack_str_with_body(&pk, blob, BIG); assert_one(0xdb, MP_STR);
	msgpack_pack_bin_with_body(&pk, blob, 0);   assert_one(0xc4, MP_BIN);
	msgpack_pack_bin_with_body(&pk, blob, 5);   assert_one(0xc4, MP_BIN);
	msgpack_pack_bin_with_body(&pk, blob, 300); assert_one(0xc5, MP_BIN);
	msgpack_pack_bin_with_body(&pk, blob, BIG); assert_one(0xc6, MP_BIN);
}
END_TEST

START_TEST(test_mp_check_ext)
{
	msgpack_pack_ext_with_body(&pk, blob, 1, 5);	assert_one(0xd4, MP_EXT);
	msgpack_pack_ext_with_body(&pk, blob, 2, 5);	assert_one(0xd5, MP_EXT);
	msgpack_pack_ext_with_body(&pk, blob, 4, -1);	assert_one(0xd6, MP_EXT);
	msgpack_pack_ext_with_body(&pk, blob, 8, 5);	assert_one(0xd7, MP_EXT);
	msgpack_pack_ext_with_body(&pk, blob, 16, 5);	assert_one(0xd8, MP_EXT);
	msgpack_pack_ext_with_body(&pk, blob, 0, 5);	assert_one(0xc7, MP_EXT);
	msgpack_pack_ext_with_body(&pk, blob, 3, 5);	assert_one(0xc7, MP_EXT);
	msgpack_pack_ext_with_body(&pk, blob, 300, 5);	assert_one(0xc8, MP_EXT);
	msgpack_pack_ext_with_body(&pk, blob, BIG, 5);	assert_one(0xc9, MP_EXT);
}
END_TEST

START_TEST(test_mp_check_containers)
{
	uint32_t	i;

	msgpack_pack_array(&pk, 0);			assert_one(0x90, MP_ARRAY);
	msgpack_pack_map(&pk, 0);			assert_one(0x80, MP_MAP);

	msgpack_pack_array(&pk, 15);
	for (i = 0; i < 15; i++)
		msgpack_pack_uint32(&pk, i);
	assert_one(0x9f, MP_ARRAY);
	msgpack_pack_array(&pk, 16);
	for (i = 0; i < 16; i++)
		msgpack_pack_nil(&pk);
	assert_one(0xdc, MP_ARRAY);
	msgpack_pack_array(&pk, BIG);
	for (i = 0; i < BIG; i++)
		msgpack_pack_uint32(&pk, i & 0x7f);
	assert_one(0xdd, MP_ARRAY);

	msgpack_pack_map(&pk, 15);
	for (i = 0; i < 15; i++) {
		msgpack_pack_uint32(&pk, i);
		msgpack_pack_str_with_body(&pk, "v", 1);
	}
	assert_one(0x8f, MP_MAP);
	msgpack_pack_map(&pk, 16);
	for (i = 0; i < 16; i++) {
		msgpack_pack_uint32(&pk, i);
		msgpack_pack_true(&pk);
	}
	assert_one(0xde, MP_MAP);
	msgpack_pack_map(&pk, BIG);
	for (i = 0; i < BIG; i++) {
		msgpack_pack_uint32(&pk, i & 0x7f);
		msgpack_pack_nil(&pk);
	}
	assert_one(0xdf, MP_MAP);
}
END_TEST

/* A request-shaped message using every kind of object, nested 4 deep. */
void
pack_nested(void)
{
	msgpack_pack_map(&pk, 4);
	msgpack_pack_str_with_body(&pk, "cmd", 3);
	msgpack_pack_str_with_body(&pk, "queue_put", 9);
	msgpack_pack_str_with_body(&pk, "args", 4);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_int64(&pk, -5);
	msgpack_pack_uint64(&pk, 1ull << 40);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_float(&pk, -0.25f);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_bin_with_body(&pk, blob, 40);
	msgpack_pack_ext_with_body(&pk, blob, 4, 1);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "k", 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_str_with_body(&pk, blob, 300);
	msgpack_pack_uint64(&pk, 7);			/* a non-string key */
	msgpack_pack_map(&pk, 0);
	msgpack_pack_nil(&pk);
	msgpack_pack_int64(&pk, INT64_MIN);
}

START_TEST(test_mp_check_nested)
{
	pack_nested();
	assert_one(0x84, MP_MAP);
}
END_TEST

/* ---- mp_check: hostile input ---------------------------------------- */

/* An 18-byte frame declaring a billion-entry map. */
START_TEST(test_mp_check_billion_map)
{
	uint8_t	buf[18];

	memset(buf, 0x01, sizeof(buf));
	buf[0] = 0xdf;
	buf[1] = 0x3b; buf[2] = 0x9a; buf[3] = 0xca; buf[4] = 0x00;
	assert_refused(buf, sizeof(buf));
	/* the same inside an array, and as a map value */
	memset(buf, 0x01, sizeof(buf));
	buf[0] = 0x91; buf[1] = 0xdf;
	buf[2] = 0x3b; buf[3] = 0x9a; buf[4] = 0xca; buf[5] = 0x00;
	assert_refused(buf, sizeof(buf));
	memset(buf, 0x01, sizeof(buf));
	buf[0] = 0x81; buf[1] = 0x01; buf[2] = 0xdf;
	buf[3] = 0x3b; buf[4] = 0x9a; buf[5] = 0xca; buf[6] = 0x00;
	assert_refused(buf, sizeof(buf));
}
END_TEST

/* Counts and lengths of 2^32-1 with a few bytes behind them. */
START_TEST(test_mp_check_huge_declared)
{
	static const uint8_t arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3 };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4 };
	static const uint8_t str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b' };
	static const uint8_t bin32[] = { 0xc6, 0xff, 0xff, 0xff, 0xff, 'a', 'b' };
	static const uint8_t ext32[] = { 0xc9, 0xff, 0xff, 0xff, 0xff, 1, 'a' };
	static const uint8_t str16[] = { 0xda, 0xff, 0xff, 'a', 'b' };
	static const uint8_t arr16[] = { 0xdc, 0xff, 0xff, 1, 2 };
	static const uint8_t str8[] = { 0xd9, 0x05, 'a', 'b', 'c', 'd' };
	static const uint8_t ext8[] = { 0xc7, 0x02, 0x01, 'a' };
	static const uint8_t fixarr[] = { 0x93, 0x01, 0x02 };
	static const uint8_t fixmap[] = { 0x82, 0x01, 0x02, 0x03 };

	assert_refused(arr32, sizeof(arr32));
	assert_refused(map32, sizeof(map32));
	assert_refused(str32, sizeof(str32));
	assert_refused(bin32, sizeof(bin32));
	assert_refused(ext32, sizeof(ext32));
	assert_refused(str16, sizeof(str16));
	assert_refused(arr16, sizeof(arr16));
	assert_refused(str8, sizeof(str8));
	assert_refused(ext8, sizeof(ext8));
	assert_refused(fixarr, sizeof(fixarr));
	assert_refused(fixmap, sizeof(fixmap));
}
END_TEST

/* A map declaring exactly as many entries as its bytes hold is fine; one
 * entry more is refused (the count bound is not off by one). */
START_TEST(test_mp_check_count_exact)
{
	uint8_t		buf[5 + 2 * 8];
	uint32_t	n = 8;

	memset(buf, 0x01, sizeof(buf));
	buf[0] = 0xdf;
	buf[1] = 0; buf[2] = 0; buf[3] = 0; buf[4] = (uint8_t)n;
	ck_assert_int_eq(mp_check(buf, sizeof(buf)), 0);
	buf[4] = (uint8_t)(n + 1);
	assert_refused(buf, sizeof(buf));
	buf[0] = 0xdd;					/* array32 of 16 */
	buf[4] = (uint8_t)(2 * n);
	ck_assert_int_eq(mp_check(buf, sizeof(buf)), 0);
	buf[4] = (uint8_t)(2 * n + 1);
	assert_refused(buf, sizeof(buf));
}
END_TEST

/* Every proper prefix of a valid nested message is refused. */
START_TEST(test_mp_check_truncated)
{
	pack_nested();
	ck_assert_int_eq(mp_check(sb.data, sb.size), 0);
	assert_prefixes_refused(sbdata(), sb.size);
}
END_TEST

/* Anything after the one object is refused. */
START_TEST(test_mp_check_trailing)
{
	uint8_t	*buf;
	size_t	 len;

	pack_nested();
	len = sb.size;
	buf = malloc(len + 2);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, sb.data, len);
	buf[len] = 0x00;
	assert_refused(buf, len + 1);
	buf[len] = 0xc0;
	buf[len + 1] = 0xc0;
	assert_refused(buf, len + 2);
	free(buf);

	/* two whole objects are not one */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_array(&pk, 0);
	assert_refused(sbdata(), sb.size);
}
END_TEST

/* 0xc1 is reserved, wherever it appears. */
START_TEST(test_mp_check_reserved)
{
	static const uint8_t alone[] = { 0xc1 };
	static const uint8_t in_array[] = { 0x92, 0x01, 0xc1 };
	static const uint8_t as_key[] = { 0x81, 0xc1, 0x01 };
	static const uint8_t as_value[] = { 0x81, 0x01, 0xc1 };

	assert_refused(alone, sizeof(alone));
	assert_refused(in_array, sizeof(in_array));
	assert_refused(as_key, sizeof(as_key));
	assert_refused(as_value, sizeof(as_value));
	/* however many bytes follow it: fixarray of n holding 0xc1 and then
	 * k zeros (fixint 0), so no reading of 0xc1 as a header of any size
	 * could make the counts come out right */
	{
		uint8_t	buf[2 + 24];
		size_t	n, k;

		for (n = 1; n <= 15; n++) {
			for (k = 0; k <= 24; k++) {
				memset(buf, 0, sizeof(buf));
				buf[0] = (uint8_t)(0x90 | n);
				buf[1] = 0xc1;
				if (mp_check(buf, 2 + k) != -1)
					ck_abort_msg("[%zu: 0xc1 + %zu zeros] "
					    "accepted", n, k);
			}
		}
	}
}
END_TEST

START_TEST(test_mp_check_empty)
{
	static const uint8_t none[1] = { 0x00 };

	assert_refused(none, 0);
}
END_TEST

/* ---- mp_check_depth: nesting (defect 10) ---------------------------- */

/* Pack depth arrays (or maps, keyed by nil), each holding the next, and
 * innermost leaf: a scalar, or an empty array when leaf_array. */
static void
pack_deep(int depth, bool maps, bool leaf_array)
{
	int	i;

	for (i = 0; i < depth; i++) {
		if (maps) {
			msgpack_pack_map(&pk, 1);
			msgpack_pack_nil(&pk);
		} else
			msgpack_pack_array(&pk, 1);
	}
	if (leaf_array)
		msgpack_pack_array(&pk, 0);
	else
		msgpack_pack_int(&pk, 7);
}

static int
check_depth(int maxdepth)
{
	return mp_check_depth(sbdata(), sb.size, maxdepth);
}

START_TEST(test_mp_depth_limit)
{
	int	maps;

	for (maps = 0; maps < 2; maps++) {
		sb.size = 0;
		pack_deep(MP_MAX_DEPTH, maps, false);
		ck_assert_int_eq(check_depth(MP_MAX_DEPTH), 0);
		ck_assert_int_eq(check_depth(MP_MAX_DEPTH - 1), MP_DEEP);
		sb.size = 0;
		pack_deep(MP_MAX_DEPTH - 1, maps, true);  /* empty one at 32 */
		ck_assert_int_eq(check_depth(MP_MAX_DEPTH), 0);
		sb.size = 0;
		pack_deep(MP_MAX_DEPTH, maps, true);	/* empty one at 33 */
		ck_assert_int_eq(check_depth(MP_MAX_DEPTH), MP_DEEP);
		sb.size = 0;
		pack_deep(MP_MAX_DEPTH + 1, maps, false);
		ck_assert_int_eq(check_depth(MP_MAX_DEPTH), MP_DEEP);
		ck_assert_int_eq(check_depth(1000), MP_DEEP);	/* clamped */
		ck_assert_int_eq(mp_check(sbdata(), sb.size), 0);
	}
	sb.size = 0;
	msgpack_pack_int(&pk, 1);
	ck_assert_int_eq(check_depth(0), 0);
	sb.size = 0;
	msgpack_pack_array(&pk, 0);
	ck_assert_int_eq(check_depth(0), MP_DEEP);
	ck_assert_int_eq(check_depth(1), 0);
}
END_TEST

/* Depth falls again as containers close: siblings each nested to the
 * limit pass, one nested past it after them does not. */
START_TEST(test_mp_depth_siblings)
{
	int	i;

	msgpack_pack_array(&pk, 4);
	for (i = 0; i < 3; i++)
		pack_deep(MP_MAX_DEPTH - 1, i == 1, false);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_int(&pk, 1);
	pack_deep(MP_MAX_DEPTH - 2, false, false);
	msgpack_pack_int(&pk, 2);
	pack_deep(MP_MAX_DEPTH - 3, true, true);
	ck_assert_int_eq(check_depth(MP_MAX_DEPTH), 0);
	ck_assert_int_eq(check_depth(MP_MAX_DEPTH - 1), MP_DEEP);

	sb.size = 0;
	msgpack_pack_array(&pk, 3);
	pack_deep(MP_MAX_DEPTH - 1, false, false);
	msgpack_pack_nil(&pk);
	pack_deep(MP_MAX_DEPTH, false, false);	/* one too deep, last */
	ck_assert_int_eq(check_depth(MP_MAX_DEPTH), MP_DEEP);
	ck_assert_int_eq(mp_check(sbdata(), sb.size), 0);
}
END_TEST

/* 10,000 levels: refused by depth at once, still well-formed to mp_check
 * and mp_skip (the log replays what an older daemon stored); malformed
 * input stays -1. */
START_TEST(test_mp_depth_hostile)
{
	struct mp_reader r;
	size_t		 len;

	pack_deep(10000, false, false);
	ck_assert_int_eq(check_depth(MP_MAX_DEPTH), MP_DEEP);
	ck_assert_int_eq(mp_check(sbdata(), sb.size), 0);
	mp_reader_init(&r, sbdata(), sb.size);
	ck_assert_int_eq(mp_skip(&r, NULL, &len), 0);
	ck_assert_uint_eq(len, sb.size);
	ck_assert_int_eq(check_depth(MP_MAX_DEPTH), MP_DEEP);
	/* Truncated before the limit, and trailing bytes: malformed. */
	sb.size = 0;
	pack_deep(5, false, false);
	ck_assert_int_eq(mp_check_depth(sbdata(), sb.size - 1, MP_MAX_DEPTH),
	    -1);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(check_depth(MP_MAX_DEPTH), -1);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *
mp_suite(void)
{
	Suite	*s = suite_create("mp");
	TCase	*tc;

	tc = tcase_create("check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mp_check_ints);
	tcase_add_test(tc, test_mp_check_scalars);
	tcase_add_test(tc, test_mp_check_str_bin);
	tcase_add_test(tc, test_mp_check_ext);
	tcase_add_test(tc, test_mp_check_containers);
	tcase_add_test(tc, test_mp_check_nested);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mp_check_billion_map);
	tcase_add_test(tc, test_mp_check_huge_declared);
	tcase_add_test(tc, test_mp_check_count_exact);
	tcase_add_test(tc, test_mp_check_truncated);
	tcase_add_test(tc, test_mp_check_trailing);
	tcase_add_test(tc, test_mp_check_reserved);
	tcase_add_test(tc, test_mp_check_empty);
	tcase_add_test(tc, test_mp_depth_limit);
	tcase_add_test(tc, test_mp_depth_siblings);
	tcase_add_test(tc, test_mp_depth_hostile);
	suite_add_tcase(s, tc);

	tc = tcase_create("read");
	tcase_add_checked_fixture(tc, setup, teardown);
	mp_read_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(mp_suite(), CK_FORK_GETENV);
}
