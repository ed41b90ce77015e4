/* suiterun.h: the main of every test program: run its suite and turn the
 * failures into the exit status. */
#ifndef SUITERUN_H
#define SUITERUN_H

#include <stdlib.h>

#include <check.h>

/* Run every test of s.  fork: CK_FORK (each test in a process of its
 * own), or CK_FORK_GETENV, Check's default, where $CK_FORK decides
 * (make check-valgrind runs the unit tests unforked). */
static inline int
suite_run(Suite *s, enum fork_status fork)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_set_fork_status(sr, fork);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
