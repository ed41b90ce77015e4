/* check_status.c: unit tests of the status code <-> wire name table. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "qlock.h"
#include "status.h"
#include "suiterun.h"

/* Every error status of qlock.h, in one place. */
static const int errors[] = {
	QLOCK_EMPTY, QLOCK_FULL, QLOCK_TIMEOUT, QLOCK_EAUTH, QLOCK_ECONN,
	QLOCK_EPROTO, QLOCK_ETYPE, QLOCK_ENOTOWNER, QLOCK_EVALUE,
	QLOCK_EBROKEN, QLOCK_ENOKEY, QLOCK_ELIMIT, QLOCK_EINVAL,
	QLOCK_ENOENT, QLOCK_EUNAVAIL, QLOCK_ECANCELLED, QLOCK_ENOTLEADER,
};
#define NERRORS (sizeof(errors) / sizeof(errors[0]))

/* Values that are no status at all. */
static const int bogus[] = { 1, 2, 100, INT_MAX, -18, -19, -1000, INT_MIN + 1 };
#define NBOGUS (sizeof(bogus) / sizeof(bogus[0]))

/* Short helper: status_from_name over a C string. */
static int
from_cstr(const char *s)
{
	return status_from_name(s, strlen(s));
}

/* Each error has a wire name that maps back to it (the loop index is the
 * position in errors[]). */
START_TEST(test_status_name_roundtrip)
{
	const char	*name = status_name(errors[_i]);

	ck_assert_ptr_nonnull(name);
	ck_assert_uint_gt(strlen(name), 0);
	ck_assert_int_eq(from_cstr(name), errors[_i]);
}
END_TEST

/* No two statuses share a wire name. */
START_TEST(test_status_name_distinct)
{
	size_t	i, j;

	for (i = 0; i < NERRORS; i++)
		for (j = i + 1; j < NERRORS; j++)
			ck_assert_str_ne(status_name(errors[i]),
			    status_name(errors[j]));
}
END_TEST

/* The names status.h documents. */
START_TEST(test_status_name_documented)
{
	ck_assert_str_eq(status_name(QLOCK_EMPTY), "Empty");
	ck_assert_str_eq(status_name(QLOCK_TIMEOUT), "Timeout");
	ck_assert_int_eq(from_cstr("Empty"), QLOCK_EMPTY);
	ck_assert_int_eq(from_cstr("Timeout"), QLOCK_TIMEOUT);
}
END_TEST

/* QLOCK_OK and non-statuses have no wire name. */
START_TEST(test_status_name_ok_and_unknown)
{
	size_t	i;

	ck_assert_ptr_null(status_name(QLOCK_OK));
	for (i = 0; i < NBOGUS; i++)
		ck_assert_msg(status_name(bogus[i]) == NULL,
		    "status_name(%d) is not NULL", bogus[i]);
}
END_TEST

/* The server's NoMethod, and any name we do not know, are protocol errors. */
START_TEST(test_status_from_name_unknown)
{
	ck_assert_int_eq(from_cstr("NoMethod"), QLOCK_EPROTO);
	ck_assert_int_eq(from_cstr(""), QLOCK_EPROTO);
	ck_assert_int_eq(from_cstr("Bogus"), QLOCK_EPROTO);
	ck_assert_int_eq(from_cstr("EmptyX"), QLOCK_EPROTO);
	ck_assert_int_eq(from_cstr("Empty "), QLOCK_EPROTO);
	/* the length counts, not the NUL: a prefix is not a match */
	ck_assert_int_eq(status_from_name("Empty", 4), QLOCK_EPROTO);
	ck_assert_int_eq(status_from_name("Timeout", 0), QLOCK_EPROTO);
	/* and the name need not be NUL-terminated */
	ck_assert_int_eq(status_from_name("FullXYZ", 4), QLOCK_FULL);
}
END_TEST

/* status_text is never NULL nor empty, for statuses and non-statuses. */
START_TEST(test_status_text_never_null)
{
	const char	*t;
	size_t		 i;

	t = status_text(QLOCK_OK);
	ck_assert_ptr_nonnull(t);
	for (i = 0; i < NERRORS; i++) {
		t = status_text(errors[i]);
		ck_assert_ptr_nonnull(t);
		ck_assert_uint_gt(strlen(t), 0);
	}
	for (i = 0; i < NBOGUS; i++) {
		t = status_text(bogus[i]);
		ck_assert_msg(t != NULL && *t != '\0',
		    "status_text(%d) is NULL or empty", bogus[i]);
	}
}
END_TEST

/* Each error has its own sentence. */
START_TEST(test_status_text_distinct)
{
	size_t	i, j;

	for (i = 0; i < NERRORS; i++) {
		ck_assert_str_ne(status_text(errors[i]), status_text(QLOCK_OK));
		for (j = i + 1; j < NERRORS; j++)
			ck_assert_str_ne(status_text(errors[i]),
			    status_text(errors[j]));
	}
}
END_TEST

static Suite *
status_suite(void)
{
	Suite	*s = suite_create("status");
	TCase	*tc = tcase_create("names");

	tcase_add_loop_test(tc, test_status_name_roundtrip, 0, (int)NERRORS);
	tcase_add_test(tc, test_status_name_distinct);
	tcase_add_test(tc, test_status_name_documented);
	tcase_add_test(tc, test_status_name_ok_and_unknown);
	tcase_add_test(tc, test_status_from_name_unknown);
	tcase_add_test(tc, test_status_text_never_null);
	tcase_add_test(tc, test_status_text_distinct);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(status_suite(), CK_FORK_GETENV);
}
