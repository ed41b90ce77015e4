/* it_crash.c: qlockd --data-dir against the real daemon: the daemon
 * killed at each step of re-partitioning its logs (the faultfs.so shim
 * kills it where asked) loses nothing, whichever worker count it is
 * started with next. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "durable.h"
#include "harness.h"
#include "qlock.h"
#include "suiterun.h"

#define RP_QUEUES	8	/* queues of the re-partitioned data */
#define RP_ITEMS	60	/* items in each */
#define RP_KEYS		40	/* entries of dict "rp-d" */

/* Fill a fresh data dir, with one worker: queues rp-0.. of items
 * "q<i>-<n>", dict rp-d of k<n> = n, semaphore rp-s at 3. */
static void
rp_fill(const struct scratch *s)
{
	struct qd	*d = dstart(s, 1, "always", NULL);
	qlock		*c = qd_connect(d);
	char		 q[32], item[64], key[32];
	int		 i, n;

	for (i = 0; i < RP_QUEUES; i++) {
		snprintf(q, sizeof(q), "rp-%d", i);
		for (n = 0; n < RP_ITEMS; n++) {
			snprintf(item, sizeof(item), "q%d-%d", i, n);
			put_str(c, q, item);
		}
	}
	for (n = 0; n < RP_KEYS; n++) {
		snprintf(key, sizeof(key), "k%d", n);
		ck_assert_int_eq(qlock_dict_set_int(c, "rp-d", key, n),
		    QLOCK_OK);
	}
	ck_assert_int_eq(qlock_sem_open(c, "rp-s", 3, 0), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);
}

/* Start with --workers n and check that everything is there, without
 * taking anything (drain: take every item and check its order). */
static void
rp_check(const struct scratch *s, int n, bool drain_all, const char *how)
{
	struct qd	*d = dstart(s, n, "always", NULL);
	qlock		*c = qd_connect(d);
	char		 q[32], item[64], key[32];
	long		 size, v;
	int64_t		 iv;
	int		 i, k, st;

	for (i = 0; i < RP_QUEUES; i++) {
		snprintf(q, sizeof(q), "rp-%d", i);
		st = qlock_queue_size(c, q, &size);
		ck_assert_msg(st == QLOCK_OK && size == RP_ITEMS, "%s, then "
		    "%d workers: %s holds %ld items (%s), expected %d", how, n,
		    q, size, qlock_strerror(st), RP_ITEMS);
		for (k = 0; drain_all && k < RP_ITEMS; k++) {
			snprintf(item, sizeof(item), "q%d-%d", i, k);
			get_expect(c, q, item);
		}
	}
	for (k = 0; k < RP_KEYS; k++) {
		snprintf(key, sizeof(key), "k%d", k);
		iv = -1;
		st = qlock_dict_get_int(c, "rp-d", key, &iv);
		ck_assert_msg(st == QLOCK_OK && iv == k, "%s, then %d workers: "
		    "rp-d[%s] is %lld (%s)", how, n, key, (long long)iv,
		    qlock_strerror(st));
	}
	st = qlock_sem_value(c, "rp-s", &v);
	ck_assert_msg(st == QLOCK_OK && v == 3, "%s, then %d workers: rp-s is "
	    "%ld (%s)", how, n, v, qlock_strerror(st));
	qlock_close(c);
	qd_stop(d);
}

/* One step of a re-partition to kill the daemon at, and what follows. */
struct rp_round {
	const char	*kill;		/* the faultfs mode */
	int		 to;		/* the worker count being moved to */
	int		 next;		/* the worker count started with next */
};

/*
 * Re-partitioning killed (SIGKILL, by the faultfs shim) as a new shard's
 * snapshot is fsync'ed, after it is renamed into place, as CURRENT.tmp is
 * fsync'ed and after CURRENT is switched: the next start, with the old
 * count, the new one or another, has every item, entry and value, and
 * the items in order.
 */
START_TEST(test_crash_repartition)
{
	static const struct rp_round rounds[] = {
		{ "kill-tmp-fsync",	3, 1 },
		{ "kill-rename",	3, 3 },
		{ "kill-current-fsync",	2, 4 },
		{ "kill-current",	2, 2 },
		{ "kill-rename",	5, 1 },
	};
	struct scratch	 s;
	char		 ctl[192], how[96], *out;
	int		 r, status;

	if (faultfs_path() == NULL) {
		fprintf(stderr, "SKIP test_crash_repartition: no $FAULTFS\n");
		return;
	}
	scratch_new(&s);
	snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
	rp_fill(&s);
	for (r = 0; r < (int)(sizeof(rounds) / sizeof(rounds[0])); r++) {
		write_str(ctl, rounds[r].kill);
		faultfs_on(ctl);
		status = drun(&s, rounds[r].to, QD_WAIT, &out, NULL);
		faultfs_off();
		ck_assert_msg(status != -1 && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL, "re-partitioning to %d "
		    "workers was not killed at %s: status 0x%x; output:\n%s",
		    rounds[r].to, rounds[r].kill, status, out);
		ck_assert_msg(strstr(out, "re-partitioning") != NULL, "no "
		    "re-partition before %s:\n%s", rounds[r].kill, out);
		free(out);
		snprintf(how, sizeof(how), "killed re-partitioning to %d "
		    "workers at %s", rounds[r].to, rounds[r].kill);
		rp_check(&s, rounds[r].next, false, how);
	}
	rp_check(&s, 2, true, "at last");
	scratch_free(&s);
}
END_TEST

static Suite *
crash_suite(void)
{
	Suite	*s = suite_create("it_crash");
	TCase	*tc;

	tc = tcase_create("crash");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_crash_repartition);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(crash_suite(), CK_FORK);
}
