/* check_config.c: unit tests of the command-line and config-file parser:
 * numbers out of range or not numbers at all, and parsing twice. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "parseargs.h"
#include "suiterun.h"

/* config_parse of "qlockd opt val" must refuse it. */
static void
refused(const char *opt, const char *val)
{
	const char	*args[] = { opt, val, NULL };
	struct config	 c;

	ck_assert_msg(parseargs(&c, args) == -1, "%s %s was accepted", opt,
	    val);
	config_free(&c);
}

/* Defect 9: an out-of-range double was cast to int (undefined) before its
 * range was checked, and NaN passed the range check. */
START_TEST(test_config_numbers_refused)
{
	static const char *const bad[][2] = {
		{ "--workers", "8.9e59" }, { "--workers", "-8.9e59" },
		{ "--workers", "1e19" }, { "--workers", "nan" },
		{ "--workers", "inf" }, { "--workers", "257" },
		{ "--workers", "0" }, { "--workers", "2.5" },
		{ "--workers", "" }, { "--workers", "4x" },
		{ "--handshake-timeout", "nan" }, { "--handshake-timeout", "-nan" },
		{ "--handshake-timeout", "NAN(123)" },
		{ "--handshake-timeout", "inf" }, { "--handshake-timeout", "1e400" },
		{ "--handshake-timeout", "0.5" }, { "--handshake-timeout", "3601" },
		{ "--max-frame", "1e300" }, { "--max-frame", "nan" },
		{ "--max-frame", "9e18g" }, { "--max-frame", "-1" },
		{ "--max-frame", "1.5" }, { "--max-output", "1e20k" },
		{ "--compact-min", "-inf" }, { "-w", "1e308" },
		{ "--socket-mode", "0999" }, { "--socket-mode", "1000" },
		{ "--socket-mode", "-1" }, { "--socket-mode", "" },
		{ "--socket-mode", "rw" }, { "--user", "" },
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i][0], bad[i][1]);
}
END_TEST

START_TEST(test_config_numbers_accepted)
{
	const char	*args[] = { "--workers", "256", "--handshake-timeout",
			    "2.5", "--max-frame", "64k", NULL };
	const char	*args2[] = { "-w", "1e0", "--max-output", "4g",
			    "--max-frame", "1073741824", "--socket-mode", "0640",
			    NULL };
	struct config	 c;

	ck_assert_int_eq(parseargs(&c, args), 0);
	ck_assert_int_eq(c.workers, 256);
	ck_assert(c.handshake_timeout == 2.5);
	ck_assert_uint_eq(c.max_frame, 65536);
	ck_assert_uint_eq(c.socket_mode, 0660);		/* the default */
	config_free(&c);
	ck_assert_int_eq(parseargs(&c, args2), 0);
	ck_assert_int_eq(c.workers, 1);
	ck_assert_uint_eq(c.max_output, 4ULL << 30);
	ck_assert_uint_eq(c.max_frame, 1ULL << 30);
	ck_assert_uint_eq(c.socket_mode, 0640);
	config_free(&c);
}
END_TEST

/* The config file goes through the same checks. */
START_TEST(test_config_file_numbers)
{
	static const char *const lines[] = { "workers = 8.9e59\n",
	    "handshake-timeout = nan\n", "max-frame = 1e300\n",
	    "workers = 3\n" };
	char		 path[] = "/tmp/check_config.XXXXXX";
	const char	*args[] = { "--config", path, NULL };
	struct config	 c;
	size_t		 i;
	FILE		*f;
	int		 fd;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		strcpy(path, "/tmp/check_config.XXXXXX");
		ck_assert_int_ne(fd = mkstemp(path), -1);
		ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
		fputs(lines[i], f);
		fclose(f);
		if (i < 3)
			ck_assert_msg(parseargs(&c, args) == -1, "config file line "
			    "'%s' was accepted", lines[i]);
		else {
			ck_assert_int_eq(parseargs(&c, args), 0);
			ck_assert_int_eq(c.workers, 3);
		}
		config_free(&c);
		unlink(path);
	}
}
END_TEST

/* Defect 9: with optind = 1, glibc's getopt kept the rest of a short
 * option cluster an earlier call stopped in, and the next parse (a
 * SIGHUP reload) read it as an option of its own. */
START_TEST(test_config_parse_twice)
{
	const char	*bad[] = { "-Zf", NULL };
	const char	*none[] = { NULL };
	const char	*fg[] = { "-f", "--workers", "2", NULL };
	struct config	 c;

	ck_assert_int_eq(parseargs(&c, bad), -1);	/* stops at -Z, before f */
	config_free(&c);
	ck_assert_int_eq(parseargs(&c, none), 0);
	ck_assert_msg(!c.foreground, "a -f left over from the previous "
	    "command line was applied");
	config_free(&c);
	ck_assert_int_eq(parseargs(&c, fg), 0);
	ck_assert(c.foreground);
	ck_assert_int_eq(c.workers, 2);
	config_free(&c);
	ck_assert_int_eq(parseargs(&c, fg), 0);	/* the same argv again */
	ck_assert(c.foreground);
	ck_assert_int_eq(c.workers, 2);
	config_free(&c);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("check_config");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, test_config_numbers_refused);
	tcase_add_test(tc, test_config_numbers_accepted);
	tcase_add_test(tc, test_config_file_numbers);
	tcase_add_test(tc, test_config_parse_twice);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(config_suite(), CK_FORK_GETENV);
}
