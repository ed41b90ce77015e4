/* it_datadir.c: qlockd --data-dir against the real daemon: the files it
 * writes are not trusted to anyone else (a link planted as a temporary
 * file is not followed; a data dir another user owns or may write in is
 * refused). */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "durable.h"
#include "harness.h"
#include "qlock.h"
#include "suiterun.h"

#define PRECIOUS	"precious, not qlockd's\n"

/* Plant data/name as a link to <scratch>/victim, which holds PRECIOUS. */
static void
plant_link(const struct scratch *s, const char *name)
{
	char	victim[256];

	snprintf(victim, sizeof(victim), "%s", spath(s, "victim"));
	write_str(victim, PRECIOUS);
	ck_assert_int_eq(symlink(victim, spath(s, "data/%s", name)), 0);
}

/* The victim still holds PRECIOUS. */
static void
victim_intact(const struct scratch *s, const char *how)
{
	char	*v = read_all(spath(s, "victim"), NULL);

	ck_assert_msg(v != NULL && strcmp(v, PRECIOUS) == 0, "%s: the file a "
	    "planted link points to was written: '%s'", how, v);
	free(v);
}

/*
 * Defect 8 of issue 9 (data dir): CURRENT.tmp was opened with O_TRUNC and
 * followed links, so a link planted there overwrote any file the daemon
 * could write.  Now the stale name is removed and the file made afresh
 * (O_EXCL | O_NOFOLLOW), when the directory is new and when it is
 * re-partitioned; the same for a shard's snapshot file.
 */
START_TEST(test_datadir_planted_links)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;

	scratch_new(&s);
	ck_assert_int_eq(mkdir(s.data, 0700), 0);
	plant_link(&s, "CURRENT.tmp");
	d = dstart(&s, 1, "always", NULL);
	victim_intact(&s, "a new data dir");
	c = qd_connect(d);
	put_str(c, "q", "kept");
	qlock_close(c);
	qd_stop(d);

	/* Re-partitioning writes gen-1/shard-*.log.tmp and CURRENT.tmp. */
	unlink(spath(&s, "victim"));
	plant_link(&s, "CURRENT.tmp");
	ck_assert_int_eq(mkdir(spath(&s, "data/gen-1"), 0700), 0);
	ck_assert_int_eq(symlink(spath(&s, "victim"),
	    spath(&s, "data/gen-1/shard-0.log.tmp")), 0);
	d = dstart(&s, 2, "always", NULL);
	victim_intact(&s, "re-partitioning");
	c = qd_connect(d);
	get_expect(c, "q", "kept");
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* Start on s->data and expect a refusal that mentions want. */
static void
expect_refused(const struct scratch *s, const char *want, const char *how)
{
	char	*out;
	int	 status = drun(s, 1, QD_WAIT, &out, NULL);

	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 2, "%s: status 0x%x; output:\n%s", how,
	    status, out);
	ck_assert_msg(strstr(out, s->data) != NULL && strstr(out, want) !=
	    NULL, "%s: the refusal does not name the dir and say '%s':\n%s",
	    how, want, out);
	free(out);
}

/*
 * A data dir that others may write in (0777), or that another user owns,
 * is refused with a clear message; fixed, it is used.
 */
START_TEST(test_datadir_owner_and_mode)
{
	struct scratch	 s;
	struct qd	*d;

	scratch_new(&s);
	ck_assert_int_eq(mkdir(s.data, 0700), 0);
	ck_assert_int_eq(chmod(s.data, 0777), 0);
	expect_refused(&s, "writable by its group or others", "mode 0777");
	ck_assert_int_eq(chmod(s.data, 0720), 0);
	expect_refused(&s, "writable by its group or others", "mode 0720");
	ck_assert_int_eq(chmod(s.data, 0755), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(s.data, 65534, 65534), 0);
		expect_refused(&s, "owned by uid 65534", "another owner");
		ck_assert_int_eq(chown(s.data, 0, 0), 0);
	}
	d = dstart(&s, 1, "always", NULL);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

static Suite *
datadir_suite(void)
{
	Suite	*s = suite_create("it_datadir");
	TCase	*tc;

	tc = tcase_create("datadir");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_datadir_planted_links);
	tcase_add_test(tc, test_datadir_owner_and_mode);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(datadir_suite(), CK_FORK);
}
