/* check_frame.c: unit tests of the 4-byte big-endian frame header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "frame.h"
#include "suiterun.h"

#define SENTINEL ((size_t)0xdeadbeef)

static size_t	bodylen;	/* output of frame_header, reset per test */

/* Each test starts with a sentinel so an untouched output is visible. */
static void
setup(void)
{
	bodylen = SENTINEL;
}

/* Fewer than 4 bytes is never enough, whatever they say. */
START_TEST(test_frame_header_more)
{
	const uint8_t	buf[4] = { 0, 0, 0, 5 };
	size_t		avail;

	for (avail = 0; avail < FRAME_HDR; avail++) {
		ck_assert_int_eq(frame_header(buf, avail, 100, &bodylen),
		    FRAME_MORE);
		ck_assert_uint_eq(bodylen, SENTINEL);
	}
	ck_assert_int_eq(frame_header(buf, 4, 100, &bodylen), FRAME_OK);
	ck_assert_uint_eq(bodylen, 5);
}
END_TEST

/* Big-endian: each header byte has its own weight. */
START_TEST(test_frame_header_big_endian)
{
	const uint8_t	buf[6] = { 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb };

	/* extra bytes after the header (the body) do not matter */
	ck_assert_int_eq(frame_header(buf, sizeof(buf), 0x7fffffff, &bodylen),
	    FRAME_OK);
	ck_assert_uint_eq(bodylen, 0x01020304u);
}
END_TEST

/* A body of exactly max is allowed; one byte more is refused. */
START_TEST(test_frame_header_max)
{
	uint8_t	buf[FRAME_HDR];

	frame_put_header(buf, FRAME_MAX_PREAUTH);
	ck_assert_int_eq(frame_header(buf, 4, FRAME_MAX_PREAUTH, &bodylen),
	    FRAME_OK);
	ck_assert_uint_eq(bodylen, FRAME_MAX_PREAUTH);

	bodylen = SENTINEL;
	frame_put_header(buf, FRAME_MAX_PREAUTH + 1);
	ck_assert_int_eq(frame_header(buf, 4, FRAME_MAX_PREAUTH, &bodylen),
	    FRAME_TOOBIG);
	ck_assert_uint_eq(bodylen, SENTINEL);

	frame_put_header(buf, FRAME_MAX_DEFAULT);
	ck_assert_int_eq(frame_header(buf, 4, FRAME_MAX_DEFAULT, &bodylen),
	    FRAME_OK);
	ck_assert_uint_eq(bodylen, FRAME_MAX_DEFAULT);
	frame_put_header(buf, FRAME_MAX_DEFAULT + 1);
	ck_assert_int_eq(frame_header(buf, 4, FRAME_MAX_DEFAULT, &bodylen),
	    FRAME_TOOBIG);
}
END_TEST

/* Negative lengths (Python's -1 escape for bodies over 2 GiB) are too big
 * even when the caller's max would allow anything. */
START_TEST(test_frame_header_negative)
{
	const uint8_t	min[4] = { 0x80, 0x00, 0x00, 0x00 };
	const uint8_t	m1[4] = { 0xff, 0xff, 0xff, 0xff };
	const uint8_t	top[4] = { 0x7f, 0xff, 0xff, 0xff };

	ck_assert_int_eq(frame_header(min, 4, SIZE_MAX, &bodylen),
	    FRAME_TOOBIG);
	ck_assert_int_eq(frame_header(m1, 4, SIZE_MAX, &bodylen),
	    FRAME_TOOBIG);
	ck_assert_uint_eq(bodylen, SENTINEL);
	/* the largest positive length is still a length */
	ck_assert_int_eq(frame_header(top, 4, SIZE_MAX, &bodylen), FRAME_OK);
	ck_assert_uint_eq(bodylen, 0x7fffffffu);
}
END_TEST

/* An empty body is a valid frame (Python's send_bytes(b"")). */
START_TEST(test_frame_header_zero)
{
	const uint8_t	buf[4] = { 0, 0, 0, 0 };

	ck_assert_int_eq(frame_header(buf, 4, 0, &bodylen), FRAME_OK);
	ck_assert_uint_eq(bodylen, 0);
	ck_assert_int_eq(frame_header(buf, 4, FRAME_MAX_DEFAULT, &bodylen),
	    FRAME_OK);
	ck_assert_uint_eq(bodylen, 0);
}
END_TEST

/* put_header writes big-endian bytes that frame_header reads back. */
START_TEST(test_frame_put_header_roundtrip)
{
	static const size_t lens[] = {
		0, 1, 0xff, 0x100, 0xffff, 0x10000, 0x123456, 0x01020304,
		FRAME_MAX_DEFAULT, 0x7fffffff,
	};
	uint8_t	buf[FRAME_HDR];
	size_t	i;

	frame_put_header(buf, 0x0a0b0c0d);
	ck_assert_uint_eq(buf[0], 0x0a);
	ck_assert_uint_eq(buf[1], 0x0b);
	ck_assert_uint_eq(buf[2], 0x0c);
	ck_assert_uint_eq(buf[3], 0x0d);

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		bodylen = SENTINEL;
		frame_put_header(buf, lens[i]);
		ck_assert_int_eq(frame_header(buf, sizeof(buf), 0x7fffffff,
		    &bodylen), FRAME_OK);
		ck_assert_uint_eq(bodylen, lens[i]);
	}
}
END_TEST

/* The msgid of a request over the limit, from its first bytes only. */
START_TEST(test_frame_peek_msgid)
{
	static const struct {
		uint8_t			b[FRAME_PEEK];
		size_t			n;
		enum frame_result	want;
		uint64_t		msgid;
	} t[] = {
		{ { 0x94, 0x00, 0x07 }, 3, FRAME_OK, 7 },
		{ { 0x94, 0x00, 0xcc, 0xc8 }, 4, FRAME_OK, 200 },
		{ { 0x94, 0x00, 0xcd, 0x12, 0x34 }, 5, FRAME_OK, 0x1234 },
		{ { 0x94, 0x00, 0xce, 1, 2, 3, 4 }, 7, FRAME_OK, 0x01020304 },
		{ { 0x94, 0x00, 0xcf, 0, 0, 0, 1, 0, 0, 0, 2 }, 11, FRAME_OK,
		  0x100000002ull },
		{ { 0x94, 0x00, 0xce, 1, 2 }, 5, FRAME_MORE, 0 },
		{ { 0x94, 0x00 }, 2, FRAME_MORE, 0 },
		{ { 0x94 }, 1, FRAME_MORE, 0 },
		/* a notification, another shape, a signed msgid: id 0 */
		{ { 0x93, 0x02, 0xa4 }, 3, FRAME_OK, 0 },
		{ { 0x94, 0x01, 0x07 }, 3, FRAME_OK, 0 },
		{ { 0x94, 0x00, 0xd0, 0x07 }, 4, FRAME_OK, 0 },
	};
	uint64_t	msgid;
	size_t		i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msgid = 99;
		ck_assert_int_eq(frame_peek_msgid(t[i].b, t[i].n, 1u << 20,
		    &msgid), t[i].want);
		if (t[i].want == FRAME_OK)
			ck_assert_uint_eq(msgid, t[i].msgid);
	}
	/* A body shorter than the msgid it starts: no more is coming. */
	ck_assert_int_eq(frame_peek_msgid(t[5].b, 5, 5, &msgid), FRAME_OK);
	ck_assert_uint_eq(msgid, 0);
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc = tcase_create("header");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_frame_header_more);
	tcase_add_test(tc, test_frame_header_big_endian);
	tcase_add_test(tc, test_frame_header_max);
	tcase_add_test(tc, test_frame_header_negative);
	tcase_add_test(tc, test_frame_header_zero);
	tcase_add_test(tc, test_frame_put_header_roundtrip);
	tcase_add_test(tc, test_frame_peek_msgid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(frame_suite(), CK_FORK_GETENV);
}
