/* check_mp_read.c: check_mp's tests of the typed readers (mp_read_*,
 * mp_peek, mp_skip). */
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

/* ---- readers -------------------------------------------------------- */

/* Integers at every encoding boundary, packed by msgpack-c in its
 * smallest form, read back exactly by mp_read_int. */
static const int64_t ints[] = {
	0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX,
	(int64_t)UINT32_MAX + 1, INT64_MAX,
	-1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,
	(int64_t)INT32_MIN - 1, INT64_MIN,
};

START_TEST(test_mp_read_int_boundaries)
{
	struct mp_reader r;
	int64_t		 v = 42;

	msgpack_pack_int64(&pk, ints[_i]);
	mp_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(mp_read_int(&r, &v), 0);
	ck_assert_int_eq(v, ints[_i]);
	ck_assert_ptr_eq(r.p, r.end);
}
END_TEST

/* Non-negative ones read by mp_read_uint too, negative ones refused. */
START_TEST(test_mp_read_uint_sign)
{
	struct mp_reader r;
	uint64_t	 u = 42;
	int		 rc;

	msgpack_pack_int64(&pk, ints[_i]);
	mp_reader_init(&r, sb.data, sb.size);
	rc = mp_read_uint(&r, &u);
	if (ints[_i] >= 0) {
		ck_assert_int_eq(rc, 0);
		ck_assert_uint_eq(u, (uint64_t)ints[_i]);
		ck_assert_ptr_eq(r.p, r.end);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_ptr_eq(r.p, sbdata());
	}
}
END_TEST

/* Over INT64_MAX: not an int64, but a uint64. */
START_TEST(test_mp_read_int_over_int64)
{
	static const uint64_t big[] = { (uint64_t)INT64_MAX + 1, UINT64_MAX };
	struct mp_reader r;
	int64_t		 v = 42;
	uint64_t	 u = 0;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_uint64(&pk, big[i]);
		ck_assert_uint_eq(sbdata()[0], 0xcf);
		mp_reader_init(&r, sb.data, sb.size);
		ck_assert_int_eq(mp_read_int(&r, &v), -1);
		ck_assert_ptr_eq(r.p, sbdata());
		ck_assert_int_eq(mp_read_uint(&r, &u), 0);
		ck_assert_uint_eq(u, big[i]);
		ck_assert_ptr_eq(r.p, r.end);
	}
}
END_TEST

/* Signed encodings of non-negative values (other encoders use them). */
START_TEST(test_mp_read_int_signed_forms)
{
	static const uint8_t i8[] = { 0xd0, 0x05 };
	static const uint8_t i64[] = { 0xd3, 0x7f, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff };
	static const uint8_t i64m1[] = { 0xd3, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff };
	static const uint8_t i16neg[] = { 0xd1, 0xff, 0x00 };
	struct mp_reader r;
	int64_t		 v = 0;
	uint64_t	 u = 0;

	mp_reader_init(&r, i8, sizeof(i8));
	ck_assert_int_eq(mp_read_uint(&r, &u), 0);
	ck_assert_uint_eq(u, 5);
	mp_reader_init(&r, i64, sizeof(i64));
	ck_assert_int_eq(mp_read_int(&r, &v), 0);
	ck_assert_int_eq(v, INT64_MAX);
	mp_reader_init(&r, i64, sizeof(i64));
	ck_assert_int_eq(mp_read_uint(&r, &u), 0);
	ck_assert_uint_eq(u, (uint64_t)INT64_MAX);
	mp_reader_init(&r, i64m1, sizeof(i64m1));
	ck_assert_int_eq(mp_read_int(&r, &v), 0);
	ck_assert_int_eq(v, -1);
	mp_reader_init(&r, i64m1, sizeof(i64m1));
	ck_assert_int_eq(mp_read_uint(&r, &u), -1);
	ck_assert_ptr_eq(r.p, i64m1);
	mp_reader_init(&r, i16neg, sizeof(i16neg));
	ck_assert_int_eq(mp_read_int(&r, &v), 0);
	ck_assert_int_eq(v, -256);
}
END_TEST

/* Truncated integers and non-integers are refused, cursor unchanged. */
START_TEST(test_mp_read_int_refused)
{
	static const uint8_t bad[][9] = {
		{ 0xcc }, { 0xcd, 0x01 }, { 0xce, 1, 2, 3 },
		{ 0xcf, 1, 2, 3, 4, 5, 6, 7 }, { 0xd0 }, { 0xd1, 0x01 },
		{ 0xd2, 1, 2, 3 }, { 0xd3, 1, 2, 3, 4, 5, 6, 7 },
	};
	static const size_t badlen[] = { 1, 2, 4, 8, 1, 2, 4, 8 };
	static const uint8_t other[] = { 0xc0, 0xc2, 0xc3, 0xa0, 0x90, 0x80,
	    0xc1 };
	struct mp_reader r;
	int64_t		 v = 42;
	uint64_t	 u = 42;
	double		 d = 42;
	uint8_t		 tmp[9];
	size_t		 i;

	for (i = 0; i < sizeof(badlen) / sizeof(badlen[0]); i++) {
		mp_reader_init(&r, bad[i], badlen[i]);
		ck_assert_int_eq(mp_read_int(&r, &v), -1);
		ck_assert_int_eq(mp_read_uint(&r, &u), -1);
		ck_assert_int_eq(mp_read_number(&r, &d), -1);
		ck_assert_ptr_eq(r.p, bad[i]);
		/* one more byte makes each whole */
		memcpy(tmp, bad[i], badlen[i]);
		tmp[badlen[i]] = 0x00;
		mp_reader_init(&r, tmp, badlen[i] + 1);
		ck_assert_int_eq(mp_read_int(&r, &v), 0);
		ck_assert_ptr_eq(r.p, r.end);
	}
	for (i = 0; i < sizeof(other); i++) {
		mp_reader_init(&r, &other[i], 1);
		ck_assert_int_eq(mp_read_int(&r, &v), -1);
		ck_assert_int_eq(mp_read_uint(&r, &u), -1);
		ck_assert_int_eq(mp_read_number(&r, &d), -1);
		ck_assert_ptr_eq(r.p, &other[i]);
	}
	mp_reader_init(&r, other, 0);
	ck_assert_int_eq(mp_read_int(&r, &v), -1);
	ck_assert_int_eq(mp_read_uint(&r, &u), -1);
	ck_assert_int_eq(mp_read_number(&r, &d), -1);
	ck_assert_ptr_eq(r.p, other);
}
END_TEST

/* Floats of both widths and integers of any sign read as a double. */
START_TEST(test_mp_read_number)
{
	struct mp_reader r;
	double		 d = 0;
	int64_t		 v;
	uint64_t	 u;

	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_float(&pk, -3.0e38f);
	msgpack_pack_double(&pk, 0.1);
	msgpack_pack_double(&pk, -1e300);
	msgpack_pack_int64(&pk, -7);
	msgpack_pack_int64(&pk, INT64_MIN);
	msgpack_pack_uint64(&pk, 1000000);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_double(&pk, INFINITY);
	mp_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert_double_eq(d, 1.5);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert_double_eq(d, (double)-3.0e38f);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert_double_eq(d, 0.1);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert_double_eq(d, -1e300);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert_double_eq(d, -7.0);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert_double_eq(d, -9223372036854775808.0);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert_double_eq(d, 1e6);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert_double_eq(d, 18446744073709551615.0);
	ck_assert_int_eq(mp_read_number(&r, &d), 0);
	ck_assert(isinf(d) && d > 0);
	ck_assert_ptr_eq(r.p, r.end);
	/* a float is not an int */
	mp_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(mp_read_int(&r, &v), -1);
	ck_assert_int_eq(mp_read_uint(&r, &u), -1);
	ck_assert_ptr_eq(r.p, sbdata());
}
END_TEST

/* Truncated floats are refused, cursor unchanged. */
START_TEST(test_mp_read_number_truncated)
{
	static const uint8_t f32[] = { 0xca, 0x3f, 0xc0, 0x00 };
	static const uint8_t f64[] = { 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0 };
	struct mp_reader r;
	double		 d = 42;

	mp_reader_init(&r, f32, sizeof(f32));
	ck_assert_int_eq(mp_read_number(&r, &d), -1);
	ck_assert_ptr_eq(r.p, f32);
	mp_reader_init(&r, f64, sizeof(f64));
	ck_assert_int_eq(mp_read_number(&r, &d), -1);
	ck_assert_ptr_eq(r.p, f64);
}
END_TEST

START_TEST(test_mp_read_nil_bool)
{
	struct mp_reader r;
	bool		 b = false;

	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_uint64(&pk, 1);
	mp_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(mp_read_bool(&r, &b), -1);	/* nil is no bool */
	ck_assert_ptr_eq(r.p, sbdata());
	ck_assert_int_eq(mp_read_nil(&r), 0);
	ck_assert_int_eq(mp_read_nil(&r), -1);
	ck_assert_ptr_eq(r.p, sbdata() + 1);
	ck_assert_int_eq(mp_read_bool(&r, &b), 0);
	ck_assert(b);
	ck_assert_int_eq(mp_read_bool(&r, &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(mp_read_bool(&r, &b), -1);	/* 1 is no bool */
	ck_assert_int_eq(mp_read_nil(&r), -1);
	ck_assert_ptr_eq(r.p, sbdata() + 3);
}
END_TEST

/* Strings of each width come back as pointers into the buffer. */
START_TEST(test_mp_read_str)
{
	static const uint32_t lens[] = { 0, 1, 31, 32, 255, 256, 65535, 65536,
	    BIG };
	struct mp_reader r;
	const char	*s = NULL;
	const void	*v = NULL;
	uint32_t	 len = 0;
	size_t		 i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_str_with_body(&pk, blob, lens[i]);
		mp_reader_init(&r, sb.data, sb.size);
		ck_assert_int_eq(mp_read_str(&r, &s, &len), 0);
		ck_assert_uint_eq(len, lens[i]);
		ck_assert_ptr_eq(s, sb.data + sb.size - lens[i]);
		ck_assert_mem_eq(s, blob, lens[i]);
		ck_assert_ptr_eq(r.p, r.end);
		/* read_bytes takes strings too */
		mp_reader_init(&r, sb.data, sb.size);
		ck_assert_int_eq(mp_read_bytes(&r, &v, &len), 0);
		ck_assert_uint_eq(len, lens[i]);
		ck_assert_ptr_eq(v, s);
		ck_assert_ptr_eq(r.p, r.end);
	}
}
END_TEST

/* Bins are bytes but not strings. */
START_TEST(test_mp_read_bytes)
{
	static const uint32_t lens[] = { 0, 5, 255, 256, 65535, 65536, BIG };
	struct mp_reader r;
	const char	*s = NULL;
	const void	*v = NULL;
	uint32_t	 len = 0;
	size_t		 i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_bin_with_body(&pk, blob, lens[i]);
		mp_reader_init(&r, sb.data, sb.size);
		ck_assert_int_eq(mp_read_str(&r, &s, &len), -1);
		ck_assert_ptr_eq(r.p, sbdata());
		ck_assert_int_eq(mp_read_bytes(&r, &v, &len), 0);
		ck_assert_uint_eq(len, lens[i]);
		ck_assert_ptr_eq(v, sb.data + sb.size - lens[i]);
		ck_assert_mem_eq(v, blob, lens[i]);
		ck_assert_ptr_eq(r.p, r.end);
	}
}
END_TEST

/* Strings and bins whose bytes are not all there, and other types. */
START_TEST(test_mp_read_str_refused)
{
	static const uint8_t bad[][8] = {
		{ 0xa5, 'a', 'b', 'c', 'd' },		/* fixstr 5, 4 present */
		{ 0xd9, 0x04, 'a', 'b', 'c' },
		{ 0xd9 },
		{ 0xda, 0x00, 0x04, 'a', 'b', 'c' },
		{ 0xda, 0x00 },
		{ 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' },
		{ 0xdb, 0x00, 0x00, 0x00 },
		{ 0xc4, 0x02, 'a' },
		{ 0xc5, 0x00, 0x02, 'a' },
		{ 0xc6, 0x00, 0x00, 0x00, 0x02, 'a' },
		{ 0xc0 }, { 0x01 }, { 0x91, 0xa0 }, { 0x81, 0xa0, 0xa0 },
		{ 0xd4, 0x01, 0x00 }, { 0xc1 },
	};
	static const size_t badlen[] = { 5, 5, 1, 6, 2, 6, 4, 3, 4, 6,
	    1, 1, 2, 3, 3, 1 };
	struct mp_reader r;
	const char	*s = NULL;
	const void	*v = NULL;
	uint32_t	 len = 99;
	size_t		 i;

	ck_assert_uint_eq(sizeof(badlen) / sizeof(badlen[0]),
	    sizeof(bad) / sizeof(bad[0]));
	for (i = 0; i < sizeof(badlen) / sizeof(badlen[0]); i++) {
		mp_reader_init(&r, bad[i], badlen[i]);
		ck_assert_msg(mp_read_str(&r, &s, &len) == -1,
		    "read_str of case %zu succeeded", i);
		ck_assert_msg(mp_read_bytes(&r, &v, &len) == -1,
		    "read_bytes of case %zu succeeded", i);
		ck_assert_ptr_eq(r.p, bad[i]);
	}
}
END_TEST

/* Array and map headers of each width give their element / pair count
 * and leave the cursor on the first element. */
START_TEST(test_mp_read_array_map)
{
	static const uint32_t counts[] = { 0, 1, 15, 16, 65535, 65536, BIG };
	struct mp_reader r;
	uint32_t	 n = 0, i;
	size_t		 k;
	int64_t		 v = 0;

	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_array(&pk, counts[k]);
		for (i = 0; i < counts[k]; i++)
			msgpack_pack_int64(&pk, -1);
		mp_reader_init(&r, sb.data, sb.size);
		ck_assert_int_eq(mp_read_map(&r, &n), -1);
		ck_assert_ptr_eq(r.p, sbdata());
		ck_assert_int_eq(mp_read_array(&r, &n), 0);
		ck_assert_uint_eq(n, counts[k]);
		ck_assert_ptr_eq(r.p, r.end - counts[k]);
		if (counts[k] > 0) {
			ck_assert_int_eq(mp_read_int(&r, &v), 0);
			ck_assert_int_eq(v, -1);
		}

		msgpack_sbuffer_clear(&sb);
		msgpack_pack_map(&pk, counts[k]);
		for (i = 0; i < counts[k]; i++) {
			msgpack_pack_uint32(&pk, 3);
			msgpack_pack_nil(&pk);
		}
		mp_reader_init(&r, sb.data, sb.size);
		ck_assert_int_eq(mp_read_array(&r, &n), -1);
		ck_assert_ptr_eq(r.p, sbdata());
		ck_assert_int_eq(mp_read_map(&r, &n), 0);
		ck_assert_uint_eq(n, counts[k]);
		ck_assert_ptr_eq(r.p, r.end - 2 * (size_t)counts[k]);
	}
}
END_TEST

/* Truncated container headers are refused, cursor unchanged. */
START_TEST(test_mp_read_array_map_truncated)
{
	static const uint8_t a16[] = { 0xdc, 0x00 };
	static const uint8_t a32[] = { 0xdd, 0x00, 0x00, 0x00 };
	static const uint8_t m16[] = { 0xde, 0x00 };
	static const uint8_t m32[] = { 0xdf, 0x00, 0x00, 0x00 };
	struct mp_reader r;
	uint32_t	 n = 99;

	mp_reader_init(&r, a16, sizeof(a16));
	ck_assert_int_eq(mp_read_array(&r, &n), -1);
	ck_assert_ptr_eq(r.p, a16);
	mp_reader_init(&r, a32, sizeof(a32));
	ck_assert_int_eq(mp_read_array(&r, &n), -1);
	ck_assert_ptr_eq(r.p, a32);
	mp_reader_init(&r, m16, sizeof(m16));
	ck_assert_int_eq(mp_read_map(&r, &n), -1);
	ck_assert_ptr_eq(r.p, m16);
	mp_reader_init(&r, m32, sizeof(m32));
	ck_assert_int_eq(mp_read_map(&r, &n), -1);
	ck_assert_ptr_eq(r.p, m32);
	mp_reader_init(&r, a16, 0);
	ck_assert_int_eq(mp_read_array(&r, &n), -1);
	ck_assert_int_eq(mp_read_map(&r, &n), -1);
	ck_assert_ptr_eq(r.p, a16);
}
END_TEST

/* mp_peek names each type and consumes nothing. */
START_TEST(test_mp_peek)
{
	static const struct {
		uint8_t		b;
		enum mp_type	t;
	} cases[] = {
		{ 0x00, MP_UINT }, { 0x7f, MP_UINT }, { 0xcc, MP_UINT },
		{ 0xcf, MP_UINT }, { 0xe0, MP_INT }, { 0xff, MP_INT },
		{ 0xd0, MP_INT }, { 0xd3, MP_INT }, { 0x80, MP_MAP },
		{ 0x8f, MP_MAP }, { 0xde, MP_MAP }, { 0xdf, MP_MAP },
		{ 0x90, MP_ARRAY }, { 0x9f, MP_ARRAY }, { 0xdc, MP_ARRAY },
		{ 0xdd, MP_ARRAY }, { 0xa0, MP_STR }, { 0xbf, MP_STR },
		{ 0xd9, MP_STR }, { 0xdb, MP_STR }, { 0xc0, MP_NIL },
		{ 0xc2, MP_BOOL }, { 0xc3, MP_BOOL }, { 0xc4, MP_BIN },
		{ 0xc6, MP_BIN }, { 0xca, MP_FLOAT }, { 0xcb, MP_FLOAT },
		{ 0xc7, MP_EXT }, { 0xc9, MP_EXT }, { 0xd4, MP_EXT },
		{ 0xd8, MP_EXT }, { 0xc1, MP_NONE },
	};
	struct mp_reader r;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mp_reader_init(&r, &cases[i].b, 1);
		ck_assert_msg(mp_peek(&r) == cases[i].t,
		    "peek 0x%02x: %d, not %d", cases[i].b, mp_peek(&r),
		    cases[i].t);
		ck_assert_ptr_eq(r.p, &cases[i].b);
	}
	mp_reader_init(&r, cases, 0);
	ck_assert_int_eq(mp_peek(&r), MP_NONE);
}
END_TEST

/* mp_skip returns the exact raw bytes of each element, however nested,
 * compared with msgpack-c's encoding of that element alone. */
START_TEST(test_mp_skip_span)
{
	msgpack_sbuffer	 part[3];
	msgpack_packer	 ppk;
	struct mp_reader r;
	const uint8_t	*start = NULL, *whole;
	size_t		 len = 0, off, i;
	uint32_t	 n = 0;

	for (i = 0; i < 3; i++)
		msgpack_sbuffer_init(&part[i]);
	/* part 0: a scalar; part 1: the nested message; part 2: a big str */
	msgpack_packer_init(&ppk, &part[0], msgpack_sbuffer_write);
	msgpack_pack_int64(&ppk, -100000);
	pack_nested();
	msgpack_sbuffer_write(&part[1], sb.data, sb.size);
	msgpack_packer_init(&ppk, &part[2], msgpack_sbuffer_write);
	msgpack_pack_str_with_body(&ppk, blob, 300);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	for (i = 0; i < 3; i++)
		msgpack_sbuffer_write(&sb, part[i].data, part[i].size);
	whole = sbdata();
	ck_assert_int_eq(mp_check(sb.data, sb.size), 0);

	mp_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(mp_read_array(&r, &n), 0);
	ck_assert_uint_eq(n, 3);
	off = 1;
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(mp_skip(&r, &start, &len), 0);
		ck_assert_ptr_eq(start, whole + off);
		ck_assert_uint_eq(len, part[i].size);
		ck_assert_mem_eq(start, part[i].data, len);
		off += len;
		ck_assert_ptr_eq(r.p, whole + off);
	}
	ck_assert_ptr_eq(r.p, r.end);
	/* nothing left to skip */
	ck_assert_int_eq(mp_skip(&r, &start, &len), -1);
	ck_assert_ptr_eq(r.p, r.end);

	/* skipping the whole array at once; NULL outputs are allowed */
	mp_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(mp_skip(&r, NULL, NULL), 0);
	ck_assert_ptr_eq(r.p, r.end);

	for (i = 0; i < 3; i++)
		msgpack_sbuffer_destroy(&part[i]);
}
END_TEST

/* mp_skip refuses a hostile element, cursor unchanged, after good ones. */
START_TEST(test_mp_skip_refused)
{
	static const uint8_t buf[] = { 0x93, 0x01, 0xdf, 0x3b, 0x9a, 0xca,
	    0x00, 0x01, 0x01, 0x01 };
	static const uint8_t res[] = { 0x92, 0xc0, 0xc1 };
	struct mp_reader r;
	const uint8_t	*start = NULL;
	size_t		 len = 0;
	uint32_t	 n = 0;

	mp_reader_init(&r, buf, sizeof(buf));
	ck_assert_int_eq(mp_skip(&r, &start, &len), -1);
	ck_assert_ptr_eq(r.p, buf);
	ck_assert_int_eq(mp_read_array(&r, &n), 0);
	ck_assert_int_eq(mp_skip(&r, &start, &len), 0);
	ck_assert_ptr_eq(start, buf + 1);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(mp_skip(&r, &start, &len), -1);
	ck_assert_ptr_eq(r.p, buf + 2);

	mp_reader_init(&r, res, sizeof(res));
	ck_assert_int_eq(mp_read_array(&r, &n), 0);
	ck_assert_int_eq(mp_skip(&r, NULL, NULL), 0);
	ck_assert_int_eq(mp_skip(&r, &start, &len), -1);
	ck_assert_ptr_eq(r.p, res + 2);
}
END_TEST

/* The readers' tests, in the order they run. */
void
mp_read_tests(TCase *tc)
{
	int	nints = (int)(sizeof(ints) / sizeof(ints[0]));

	tcase_add_loop_test(tc, test_mp_read_int_boundaries, 0, nints);
	tcase_add_loop_test(tc, test_mp_read_uint_sign, 0, nints);
	tcase_add_test(tc, test_mp_read_int_over_int64);
	tcase_add_test(tc, test_mp_read_int_signed_forms);
	tcase_add_test(tc, test_mp_read_int_refused);
	tcase_add_test(tc, test_mp_read_number);
	tcase_add_test(tc, test_mp_read_number_truncated);
	tcase_add_test(tc, test_mp_read_nil_bool);
	tcase_add_test(tc, test_mp_read_str);
	tcase_add_test(tc, test_mp_read_bytes);
	tcase_add_test(tc, test_mp_read_str_refused);
	tcase_add_test(tc, test_mp_read_array_map);
	tcase_add_test(tc, test_mp_read_array_map_truncated);
	tcase_add_test(tc, test_mp_peek);
	tcase_add_test(tc, test_mp_skip_span);
	tcase_add_test(tc, test_mp_skip_refused);
}
