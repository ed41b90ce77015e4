/* check_util.c: unit tests of util.c's secs_timeval, the one conversion of
 * seconds (a double) to a timeval, and of shard_tag, the hash tag rule. */
#include <sys/time.h>

#include <math.h>
#include <string.h>

#include <check.h>

#include "suiterun.h"
#include "util.h"

/* Defect 4: out-of-range or NaN seconds are refused, tv untouched. */
START_TEST(test_secs_timeval_refused)
{
	static const double bad[] = { NAN, -NAN, -1e-9, -1, INFINITY,
	    -INFINITY, SECS_MAX * (1 + 1e-15), 1e19, 1e300 };
	struct timeval	tv = { 7, 7 };
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(secs_timeval(bad[i], &tv) == -1, "%g accepted",
		    bad[i]);
		ck_assert(tv.tv_sec == 7 && tv.tv_usec == 7);
	}
}
END_TEST

/* In range: whole seconds and microseconds, never early. */
START_TEST(test_secs_timeval_values)
{
	static const struct {
		double	s;
		long	sec, usec;
	} ok[] = {
		{ 0, 0, 0 }, { 1, 1, 0 }, { 2.5, 2, 500000 },
		{ 1e-7, 0, 1 }, { 0.9999999, 1, 0 }, { 3600, 3600, 0 },
		{ SECS_MAX, (long)SECS_MAX, 0 },
	};
	struct timeval	tv;
	size_t		i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(secs_timeval(ok[i].s, &tv), 0);
		ck_assert_msg(tv.tv_sec == ok[i].sec && tv.tv_usec == ok[i].usec,
		    "%.9g s: %ld.%06ld", ok[i].s, (long)tv.tv_sec,
		    (long)tv.tv_usec);
		ck_assert((double)tv.tv_sec + (double)tv.tv_usec / 1e6 >=
		    ok[i].s);
	}
}
END_TEST

/* The bytes that pick a name's shard: the first "{...}" when not empty
 * (Redis Cluster's rule: the first '{', the first '}' after it), else the
 * whole name. */
START_TEST(test_shard_tag)
{
	static const struct {
		const char	*name;
		const char	*tag;
	} t[] = {
		{ "{L}", "L" },
		{ "cond{L}", "L" },
		{ "a{L}b{M}", "L" },
		{ "x{user:1}.q", "user:1" },
		{ "{{a}}", "{a" },
		{ "a}{b}", "b" },
		{ "{}L", "{}L" },	/* empty first braces: whole name */
		{ "{}{L}", "{}{L}" },
		{ "a{", "a{" },
		{ "plain", "plain" },
	};
	const char	*tag;
	size_t		 i, len;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		tag = shard_tag(t[i].name, strlen(t[i].name), &len);
		ck_assert_msg(len == strlen(t[i].tag) &&
		    memcmp(tag, t[i].tag, len) == 0, "%s: tag '%.*s', not '%s'",
		    t[i].name, (int)len, tag, t[i].tag);
	}
	ck_assert_uint_eq(shard_of("cond{L}", 7, 3), shard_of("L", 1, 3));
	ck_assert_uint_eq(shard_of("anything", 8, 1), 0);
}
END_TEST

static Suite *
util_suite(void)
{
	Suite	*s = suite_create("check_util");
	TCase	*tc = tcase_create("secs_timeval");

	tcase_add_test(tc, test_secs_timeval_refused);
	tcase_add_test(tc, test_secs_timeval_values);
	suite_add_tcase(s, tc);
	tc = tcase_create("shard_tag");
	tcase_add_test(tc, test_shard_tag);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(util_suite(), CK_FORK_GETENV);
}
