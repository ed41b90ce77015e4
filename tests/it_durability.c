/* it_durability.c: qlockd --data-dir against the real daemon: crashes and
 * restarts keep every acknowledged change exactly once, re-partitioning,
 * unfinished joinable items, parked requests, removals and power loss. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "durable.h"
#include "harness.h"
#include "qlock.h"
#include "suiterun.h"

/* --- 1. crash and restart, exactly once ---------------------------------- */

/* A process kill loses nothing acknowledged under every policy: the
 * record is written (to the page cache at least) before the reply. */
static const char *const policies[] = { "always", "everysec", "no" };

START_TEST(test_durability_crash_exactly_once)
{
	const char	*policy = policies[_i];
	struct scratch	 s;
	struct prod_log	*pl = calloc(NPROD, sizeof(*pl));
	struct qd	*d;
	qlock		*c, *holder;
	pid_t		 prods[NPROD], before[8], after[8];
	uint64_t	 tok, maxtok = 0;
	int64_t		 v;
	void		*val;
	size_t		 len;
	long		 semv = -1;
	int		 i, j, n, st, is_set = 0, acked;
	bool		 replaced = false;
	double		 end;
	char		 key[16];

	ck_assert_ptr_nonnull(pl);
	scratch_new(&s);
	d = dstart(&s, 3, policy, NULL);
	c = qd_connect(d);
	/* State besides the queues: an event, a semaphore raised to 5 with
	 * one permit held at the crash, a dict entry, fencing tokens. */
	ck_assert_int_eq(qlock_event_set(c, "d-ev"), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_open(c, "d-sem", 2, 0), QLOCK_OK);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(qlock_sem_release(c, "d-sem"), QLOCK_OK);
	holder = qd_connect(d);
	ck_assert_int_eq(qlock_sem_acquire(holder, "d-sem", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set(c, "d-meta", "k", "v1", 2), QLOCK_OK);
	for (i = 0; i < 3; i++) {
		tok = take_token(c, "d-fence");
		ck_assert_uint_gt(tok, maxtok);
		maxtok = tok;
	}

	producers_start(&s, d, prods, NPROD, "d-q", true);
	wait_acked(&s, NPROD, 150, 20);

	/* One worker dies mid-production and replays its shard. */
	ck_assert_int_eq(qd_worker_pids(d, before, 8), 3);
	ck_assert_int_eq(kill(before[1], SIGKILL), 0);
	for (end = qd_now() + QD_WAIT; !replaced && qd_now() < end; ) {
		n = qd_worker_pids(d, after, 8);
		replaced = n == 3;
		for (j = 0; j < n; j++)
			if (after[j] == before[1])
				replaced = false;
		if (!replaced)
			qd_nap();
	}
	ck_assert_msg(replaced, "worker %d not replaced", (int)before[1]);
	ck_assert(qd_log_wait(d, "restarting worker", QD_WAIT));
	acked = acked_so_far(&s, NPROD);
	wait_acked(&s, NPROD, acked + 150, 20);

	/* Tokens from a fresh connection, after the worker's restart. */
	qlock_close(c);
	c = qd_connect(d);
	tok = take_token(c, "d-fence");
	ck_assert_uint_gt(tok, maxtok);
	maxtok = tok;
	qlock_close(c);

	/* Then the whole daemon, with the producers still putting. */
	dcrash(d, NULL);
	qlock_close(holder);
	producers_stop(&s, prods, NPROD, pl);

	d = dstart(&s, 3, policy, NULL);
	c = qd_connect(d);
	fprintf(stderr, "crash/%s:", policy);
	check_exactly_once(c, "d-q", pl, NPROD);
	for (i = 0; i < NPROD; i++) {
		snprintf(key, sizeof(key), "p%d", i);
		v = -1;
		st = qlock_dict_get_int(c, "d-ctr", key, &v);
		ck_assert_msg(st == QLOCK_OK || (st == QLOCK_ENOKEY &&
		    pl[i].incr_acked == 0), "d-ctr[%s]: %s", key,
		    qlock_strerror(st));
		if (st == QLOCK_ENOKEY)
			v = 0;
		ck_assert_msg(v >= pl[i].incr_acked && v <= pl[i].incr_tried,
		    "d-ctr[%s] is %lld after the restart: %ld increments "
		    "acknowledged, %ld tried", key, (long long)v,
		    pl[i].incr_acked, pl[i].incr_tried);
	}
	ck_assert_int_eq(qlock_event_is_set(c, "d-ev", &is_set), QLOCK_OK);
	ck_assert_msg(is_set, "the event was set before the crash, not after");
	ck_assert_int_eq(qlock_sem_value(c, "d-sem", &semv), QLOCK_OK);
	ck_assert_msg(semv == 5, "the semaphore's value is %ld after the "
	    "restart, expected 5 (2 + 3 releases; the held permit's "
	    "session is gone)", semv);
	ck_assert_int_eq(qlock_dict_get(c, "d-meta", "k", &val, &len),
	    QLOCK_OK);
	ck_assert(len == 2 && memcmp(val, "v1", 2) == 0);
	free(val);
	tok = take_token(c, "d-fence");
	ck_assert_msg(tok > maxtok, "fencing token %llu after the restart, "
	    "but %llu was granted before", (unsigned long long)tok,
	    (unsigned long long)maxtok);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
	free(pl);
}
END_TEST

/* --- 2. another worker count --------------------------------------------- */

/* The CURRENT file says gen and workers; the other generation is gone. */
static void
check_current(const struct scratch *s, unsigned gen, int workers)
{
	char	 want[64], *cur = read_all(spath(s, "data/CURRENT"), NULL);
	struct stat st;

	snprintf(want, sizeof(want), "gen %u workers %d\n", gen, workers);
	ck_assert_msg(cur != NULL && strcmp(cur, want) == 0, "CURRENT is "
	    "'%s', expected '%s'", cur ? cur : "(none)", want);
	free(cur);
	ck_assert_msg(gen == 0 || stat(spath(s, "data/gen-%u", gen - 1), &st)
	    == -1, "data/gen-%u is still there after the re-partition",
	    gen - 1);
	ck_assert(stat(spath(s, "data/gen-%u", gen), &st) == 0);
}

/* Dict r-d<i%5>[k<i>] = i for i < n; queues r-q<i%8> hold "r<i>". */
static void
repart_check_dicts(qlock *c, int n)
{
	char	 dict[16], key[16];
	int64_t	 v;
	long	 len;
	int	 i, st;

	for (i = 0; i < n; i++) {
		snprintf(dict, sizeof(dict), "r-d%d", i % 5);
		snprintf(key, sizeof(key), "k%d", i);
		st = qlock_dict_get_int(c, dict, key, &v);
		ck_assert_msg(st == QLOCK_OK && v == i, "%s[%s]: %s, %lld",
		    dict, key, qlock_strerror(st), (long long)v);
	}
	for (i = 0; i < 5; i++) {
		snprintf(dict, sizeof(dict), "r-d%d", i);
		ck_assert_int_eq(qlock_dict_len(c, dict, &len), QLOCK_OK);
		ck_assert_int_eq(len, n / 5);
	}
}

static void
repart_fill(qlock *c, int from, int to)
{
	char	 q[16], dict[16], key[16], item[32];
	int	 i;

	for (i = from; i < to; i++) {
		snprintf(q, sizeof(q), "r-q%d", i % NQ);
		snprintf(item, sizeof(item), "r%d", i);
		put_str(c, q, item);
		snprintf(dict, sizeof(dict), "r-d%d", i % 5);
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(qlock_dict_set_int(c, dict, key, i), QLOCK_OK);
	}
}

START_TEST(test_durability_repartition)
{
	static const char *const kills[] = { "kill-tmp-fsync", "kill-rename" };
	struct scratch	 s;
	char		 ctl[192], *out;
	int		 status;
	bool		 interrupted;
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	char		 q[16], want[32];
	uint64_t	 t1, t2, t3;
	long		 size;
	size_t		 k;
	int		 i;

	scratch_new(&s);
	d = dstart(&s, 3, "always", NULL);
	c = qd_connect(d);
	repart_fill(c, 0, 120);
	t1 = take_token(c, "r-fence");
	qlock_close(c);
	dcrash(d, NULL);

	/* The master dies inside the re-partition (faultfs: at a new
	 * shard's fsync, right after its rename): 3 workers stay live. */
	interrupted = faultfs_path() != NULL;
	if (!interrupted)
		fprintf(stderr, "SKIP interrupted re-partition: no $FAULTFS\n");
	for (i = 0; interrupted && i < 2; i++) {
		snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
		write_str(ctl, kills[i]);
		faultfs_on(ctl);
		status = drun(&s, 2, QD_WAIT, &out, "--fsync", "always", NULL);
		faultfs_off();
		ck_assert_msg(status != -1 && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL, "the master should have died "
		    "re-partitioning (%s): status 0x%x; output:\n%s", kills[i],
		    status, out);
		free(out);
		check_current(&s, 0, 3);
	}

	/* 3 -> 2, after a crash. */
	d = dstart(&s, 2, "always", NULL);
	check_current(&s, 1, 2);
	ck_assert(qd_log_wait(d, "re-partitioning", 0));
	ck_assert_msg(!interrupted || qd_log_wait(d, "interrupted re-partition",
	    0), "the leftover gen-1 of the interrupted re-partition was not "
	    "mentioned");
	c = qd_connect(d);
	for (i = 0; i < NQ; i++) {
		snprintf(q, sizeof(q), "r-q%d", i);
		ck_assert_int_eq(qlock_queue_size(c, q, &size), QLOCK_OK);
		ck_assert_msg(size == 15, "%s holds %ld items after 3 -> 2 "
		    "workers, expected 15", q, size);
	}
	repart_check_dicts(c, 120);
	t2 = take_token(c, "r-fence");
	ck_assert_msg(t2 > t1, "token %llu after re-partitioning, %llu "
	    "before", (unsigned long long)t2, (unsigned long long)t1);
	repart_fill(c, 120, 160);
	qlock_close(c);
	qd_stop(d);

	/* 2 -> 4, after a clean stop. */
	d = dstart(&s, 4, "always", NULL);
	check_current(&s, 2, 4);
	c = qd_connect(d);
	repart_check_dicts(c, 160);
	t3 = take_token(c, "r-fence");
	ck_assert_uint_gt(t3, t2);
	for (i = 0; i < NQ; i++) {
		snprintf(q, sizeof(q), "r-q%d", i);
		memset(&it, 0, sizeof(it));
		drain(c, q, &it);
		ck_assert_msg(it.n == 20, "%s holds %zu items after 3 -> 2 "
		    "-> 4 workers, expected 20", q, it.n);
		for (k = 0; k < it.n; k++) {
			snprintf(want, sizeof(want), "r%d", i + (int)k * NQ);
			ck_assert_msg(strcmp(it.v[k], want) == 0, "%s item %zu "
			    "is '%s', expected '%s'", q, k, it.v[k], want);
		}
		items_free(&it);
	}
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 3. JoinableQueue: unfinished items come back ------------------------ */

/* How the daemon goes away with joinable items taken and unfinished. */
static const char *const joinable_ends[] = {
	"crash",			/* SIGKILL, sessions still open */
	"stop",				/* SIGTERM: the sessions end first */
	"crash after compactions",	/* the held items are in a snapshot */
	"crash, then 3 workers",	/* re-partitioned */
};

START_TEST(test_durability_joinable_unfinished)
{
	const char	*how = joinable_ends[_i];
	struct scratch	 s;
	struct qd	*d;
	qlock		*a, *b, *c;
	char		 item[320], *log;
	long		 size = -1;
	void		*got;
	size_t		 len;
	int		 i, workers = _i == 2 ? 1 : 2;
	static const char *const back[] = { "j2", "j3", "j6", "j7", "j8",
	    "j9", "j10" };

	scratch_new(&s);
	d = dstart(&s, workers, "always", "--compact-min", "4096", NULL);
	a = qd_connect(d);
	b = qd_connect(d);
	ck_assert_int_eq(qlock_queue_open(a, "jq", 0, QLOCK_JOINABLE),
	    QLOCK_OK);
	for (i = 1; i <= 10; i++) {
		snprintf(item, sizeof(item), "j%d", i);
		put_str(a, "jq", item);
	}
	/* a takes j1-j3 and finishes one (j1); b takes and finishes j4, j5. */
	get_expect(a, "jq", "j1");
	get_expect(a, "jq", "j2");
	get_expect(a, "jq", "j3");
	ck_assert_int_eq(qlock_queue_task_done(a, "jq"), QLOCK_OK);
	get_expect(b, "jq", "j4");
	get_expect(b, "jq", "j5");
	ck_assert_int_eq(qlock_queue_task_done(b, "jq"), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_task_done(b, "jq"), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_size(b, "jq", &size), QLOCK_OK);
	ck_assert_int_eq(size, 5);
	if (_i == 2) {
		/* Churn on the same (only) shard until it compacts. */
		memset(item, 'z', sizeof(item));
		for (i = 0; i < 100; i++) {
			put_ok(b, "jq-churn", item, sizeof(item));
			ck_assert_int_eq(qlock_queue_get(b, "jq-churn", &got,
			    &len, 0), QLOCK_OK);
			free(got);
		}
		log = qd_log(d);
		ck_assert_msg(strstr(log, "compacted") != NULL, "no compaction "
		    "after 100 put/get cycles with --compact-min 4096");
		free(log);
	}
	if (_i == 1)
		qd_stop(d);
	else
		dcrash(d, NULL);	/* a and b still connected */
	qlock_close(a);
	qlock_close(b);

	d = dstart(&s, _i == 3 ? 3 : workers, "always", NULL);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_queue_size(c, "jq", &size), QLOCK_OK);
	ck_assert_msg(size == 7, "jq holds %ld items after the %s, expected "
	    "7 (j2 j3 unfinished, j6-j10)", size, how);
	ck_assert_int_eq(qlock_queue_join(c, "jq", 0), QLOCK_TIMEOUT);
	for (i = 0; i < 7; i++)
		get_expect(c, "jq", back[i]);
	for (i = 0; i < 7; i++)
		ck_assert_int_eq(qlock_queue_task_done(c, "jq"), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_task_done(c, "jq"), QLOCK_EVALUE);
	ck_assert_int_eq(qlock_queue_join(c, "jq", 1.0), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 3b. parked puts and gets -------------------------------------------- */

/* A child that puts item to q, blocking up to 5 s: exits 0 if acknowledged. */
static pid_t
blocked_putter(const struct qd *d, const char *q, const char *item)
{
	qlock	*c;
	pid_t	 pid;
	int	 st;

	if ((pid = qd_fork()) != 0)
		return pid;
	if ((c = qlock_connect(d->address, d->key, &st)) == NULL)
		_exit(10);
	st = qlock_queue_put(c, q, item, strlen(item), 5.0);
	_exit(st == QLOCK_OK ? 0 : 1);
}

/* A child that gets from q, blocking up to 5 s: exits 0 if it got "handed". */
static pid_t
blocked_getter(const struct qd *d, const char *q)
{
	qlock	*c;
	pid_t	 pid;
	void	*item;
	size_t	 len;
	int	 st;

	if ((pid = qd_fork()) != 0)
		return pid;
	if ((c = qlock_connect(d->address, d->key, &st)) == NULL)
		_exit(10);
	st = qlock_queue_get(c, q, &item, &len, 5.0);
	_exit(st == QLOCK_OK && len == 6 && memcmp(item, "handed", 6) == 0 ?
	    0 : 1);
}

/* A put parked on a full queue is logged when it gets in, and only then;
 * an item handed straight to a parked getter is gone for good. */
START_TEST(test_durability_parked)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*a;
	struct items	 it;
	pid_t		 p3, p4, pg;
	long		 size = -1;
	int		 status;

	scratch_new(&s);
	d = dstart(&s, 2, "always", NULL);
	a = qd_connect(d);
	ck_assert_int_eq(qlock_queue_open(a, "bq", 2, 0), QLOCK_OK);
	put_str(a, "bq", "b1");
	put_str(a, "bq", "b2");
	p3 = blocked_putter(d, "bq", "b3");
	ck_assert(qd_wait_stat(a, "waiters", 1, QD_WAIT));
	get_expect(a, "bq", "b1");	/* b3 gets in */
	status = qd_wait_child(p3, QD_WAIT);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "the parked put of b3: status 0x%x",
	    status);
	/* A getter parked on an empty queue takes the next put directly. */
	pg = blocked_getter(d, "pg");
	ck_assert(qd_wait_stat(a, "waiters", 1, QD_WAIT));
	put_str(a, "pg", "handed");
	status = qd_wait_child(pg, QD_WAIT);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "the parked get: status 0x%x", status);
	p4 = blocked_putter(d, "bq", "b4");	/* parked at the crash */
	ck_assert(qd_wait_stat(a, "waiters", 1, QD_WAIT));
	qlock_close(a);
	dcrash(d, NULL);
	status = qd_wait_child(p4, QD_WAIT);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 1, "b4 was acknowledged on a full queue");

	d = dstart(&s, 2, "always", NULL);
	a = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(a, "bq", &it);
	ck_assert_msg(it.n == 2 && strcmp(it.v[0], "b2") == 0 &&
	    strcmp(it.v[1], "b3") == 0, "bq holds %zu items after the crash "
	    "(first '%s'), expected b2 b3", it.n, it.n > 0 ? it.v[0] : "");
	items_free(&it);
	ck_assert_int_eq(qlock_queue_size(a, "pg", &size), QLOCK_OK);
	ck_assert_msg(size == 0, "the item handed to a parked getter is "
	    "back in its queue after the crash");
	qlock_close(a);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 3c. removals -------------------------------------------------------- */

/* What was deleted, cleared or taken away stays so after a crash, and a
 * name deleted and reused as another kind comes back as the new kind. */
START_TEST(test_durability_removals)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	void		*val;
	size_t		 len;
	long		 n = -1;
	int		 is_set = 1, st, round;

	scratch_new(&s);
	d = dstart(&s, 2, "always", NULL);
	c = qd_connect(d);
	put_str(c, "rm-q", "gone1");
	put_str(c, "rm-q", "gone2");
	ck_assert_int_eq(qlock_delete(c, "rm-q"), QLOCK_OK);
	put_str(c, "rm-reuse", "old");
	ck_assert_int_eq(qlock_delete(c, "rm-reuse"), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set(c, "rm-reuse", "k", "new", 3),
	    QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set(c, "rm-d", "a", "1", 1), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set(c, "rm-d", "b", "2", 1), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_del(c, "rm-d", "a"), QLOCK_OK);
	ck_assert_int_eq(qlock_event_set(c, "rm-ev"), QLOCK_OK);
	ck_assert_int_eq(qlock_event_clear(c, "rm-ev"), QLOCK_OK);
	qlock_close(c);
	for (round = 0; round < 2; round++) {
		/* Round 0 after a crash; round 1 after a second restart. */
		dcrash(d, NULL);
		d = dstart(&s, 2, "always", NULL);
		c = qd_connect(d);
		ck_assert_int_eq(qlock_queue_size(c, "rm-q", &n), QLOCK_OK);
		ck_assert_msg(n == 0, "deleted queue rm-q holds %ld items "
		    "after the crash", n);
		st = qlock_dict_get(c, "rm-reuse", "k", &val, &len);
		ck_assert_msg(st == QLOCK_OK, "rm-reuse, deleted as a queue "
		    "and reused as a dict: %s (%s)", qlock_strerror(st),
		    qlock_last_error(c));
		ck_assert(len == 3 && memcmp(val, "new", 3) == 0);
		free(val);
		ck_assert_int_eq(qlock_dict_get(c, "rm-d", "a", &val, &len),
		    QLOCK_ENOKEY);
		ck_assert_int_eq(qlock_dict_len(c, "rm-d", &n), QLOCK_OK);
		ck_assert_int_eq(n, 1);
		ck_assert_int_eq(qlock_event_is_set(c, "rm-ev", &is_set),
		    QLOCK_OK);
		ck_assert_msg(!is_set, "a cleared event is set after the "
		    "crash");
		qlock_close(c);
	}
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* A bounded semaphore released by a session holding no permit while
 * another holds one: after both leave, the live value and the value
 * replayed from the log are the same (the bound), not the bound + 1. */
START_TEST(test_durability_bounded_sem_foreign_release)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*holder, *other;
	long		 live = -1, replayed = -1;

	scratch_new(&s);
	d = dstart(&s, 2, "always", NULL);
	holder = qd_connect(d);
	other = qd_connect(d);
	ck_assert_int_eq(qlock_sem_open(holder, "bs-sem", 2, 1), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_acquire(holder, "bs-sem", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_release(other, "bs-sem"), QLOCK_OK);
	qlock_close(holder);
	qlock_close(other);
	other = qd_connect(d);
	ck_assert_int_eq(qlock_sem_value(other, "bs-sem", &live), QLOCK_OK);
	qlock_close(other);
	dcrash(d, NULL);
	d = dstart(&s, 2, "always", NULL);
	other = qd_connect(d);
	ck_assert_int_eq(qlock_sem_value(other, "bs-sem", &replayed),
	    QLOCK_OK);
	ck_assert_msg(live == 2 && replayed == live, "bounded semaphore(2): "
	    "%ld live, %ld replayed from the log", live, replayed);
	ck_assert_int_eq(qlock_sem_release(other, "bs-sem"), QLOCK_EVALUE);
	qlock_close(other);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* A log written before that fix holds a bounded semaphore's value as the
 * bound + 1: replay caps it at the bound, as a release there would. */
START_TEST(test_durability_bounded_sem_old_log)
{
	struct scratch	 s;
	struct qd	*d;
	struct logmap	*m = calloc(1, sizeof(*m));
	qlock		*c;
	uint8_t		*p;
	size_t		 len, at = 0;
	long		 value = -1;
	int		 i;

	ck_assert_ptr_nonnull(m);
	scratch_new(&s);
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_sem_open(c, "old-sem", 2, 1), QLOCK_OK);
	qlock_close(c);
	dcrash(d, NULL);
	/* [R_S_SET, "old-sem", 2, true, 2]: make the last element 3. */
	log_parse(spath(&s, "data/gen-0/shard-0.log"), m);
	ck_assert_ptr_nonnull(p = (uint8_t *)read_all(spath(&s,
	    "data/gen-0/shard-0.log"), &len));
	for (i = 0; i < m->n; i++)
		if (memmem(p + m->start[i], m->end[i] - m->start[i],
		    "old-sem", 7) != NULL)
			at = m->end[i];
	ck_assert_msg(at != 0 && p[at - 1] == 2 && p[at - 2] == 0xc3,
	    "no sem record ending in true, 2");
	p[at - 1] = 3;
	for (i = 0; i < m->n; i++)
		if (m->end[i] == at)
			put_le32(p + m->start[i] + 8, crc32_of(p + m->start[i] +
			    REC_HDR, at - m->start[i] - REC_HDR));
	write_all_file(spath(&s, "data/gen-0/shard-0.log"), p, len);
	free(p);
	free(m);
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_sem_value(c, "old-sem", &value), QLOCK_OK);
	ck_assert_msg(value == 2, "bounded semaphore(2) replayed as %ld",
	    value);
	ck_assert_int_eq(qlock_sem_release(c, "old-sem"), QLOCK_EVALUE);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 6. power loss ------------------------------------------------------- */

/* Cut each of nshards logs back to its fsync'ed mark; the bytes dropped. */
static long
cut_to_sync_marks(const struct scratch *s, int nshards)
{
	char		*mark, *end;
	unsigned long long synced;
	off_t		 size;
	long		 cut = 0;
	int		 i;

	for (i = 0; i < nshards; i++) {
		mark = read_all(spath(s, "data/gen-0/shard-%d.log.synced", i),
		    NULL);
		ck_assert_msg(mark != NULL, "no shard-%d.log.synced with "
		    "QLOCKD_TEST_SYNC_MARKS=1", i);
		synced = strtoull(mark, &end, 10);
		ck_assert_msg(end != mark && *end == '\n', "bad sync mark '%s'",
		    mark);
		free(mark);
		size = file_size(spath(s, "data/gen-0/shard-%d.log", i));
		ck_assert_msg(size >= 0 && synced <= (unsigned long long)size,
		    "shard-%d: synced mark %llu beyond the file's %lld bytes",
		    i, synced, (long long)size);
		cut += (long)(size - (off_t)synced);
		ck_assert_int_eq(truncate(spath(s, "data/gen-0/shard-%d.log",
		    i), (off_t)synced), 0);
	}
	return cut;
}

/*
 * --fsync everysec and a power cut: what was acknowledged more than a few
 * seconds before it is there (the fsync process flushes the log every
 * second); what came after may be lost, but never out of order, twice,
 * or half.
 */
START_TEST(test_durability_power_loss_everysec)
{
	struct scratch	 s;
	struct prod_log	*pl = calloc(NPROD, sizeof(*pl));
	struct prod_log	*before = calloc(NPROD, sizeof(*before));
	struct qd	*d;
	qlock		*c;
	pid_t		 prods[NPROD];
	long		 cut;
	int		 i;

	ck_assert_ptr_nonnull(pl);
	ck_assert_ptr_nonnull(before);
	scratch_new(&s);
	/* No compaction: its fsync would cover the log as well. */
	setenv("QLOCKD_TEST_SYNC_MARKS", "1", 1);
	d = dstart(&s, 2, "everysec", "--compact-min", "1g", NULL);
	unsetenv("QLOCKD_TEST_SYNC_MARKS");
	producers_start(&s, d, prods, NPROD, "pe-q", false);
	wait_acked(&s, NPROD, 400, 20);
	for (i = 0; i < NPROD; i++)
		prod_read(spath(&s, "prod-%d", i), &before[i]);
	/* The bound under test: "at most about a second is at risk". */
	sleep(3);
	dcrash(d, NULL);
	producers_stop(&s, prods, NPROD, pl);

	cut = cut_to_sync_marks(&s, 2);
	fprintf(stderr, "power loss, everysec: %ld unsynced bytes dropped;",
	    cut);
	d = dstart(&s, 2, "everysec", NULL);
	c = qd_connect(d);
	check_delivered(c, "pe-q", pl, before, NPROD);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
	free(before);
	free(pl);
}
END_TEST

START_TEST(test_durability_power_loss)
{
	struct scratch	 s;
	struct prod_log	*pl = calloc(NPROD, sizeof(*pl));
	struct qd	*d;
	qlock		*c;
	pid_t		 prods[NPROD];
	long		 cut;

	ck_assert_ptr_nonnull(pl);
	scratch_new(&s);
	setenv("QLOCKD_TEST_SYNC_MARKS", "1", 1);
	d = dstart(&s, 2, "always", NULL);
	unsetenv("QLOCKD_TEST_SYNC_MARKS");
	producers_start(&s, d, prods, NPROD, "pl-q", false);
	wait_acked(&s, NPROD, 400, 20);
	dcrash(d, NULL);
	producers_stop(&s, prods, NPROD, pl);

	/* Lose whatever was not fsync'ed, as a power cut would. */
	cut = cut_to_sync_marks(&s, 2);
	fprintf(stderr, "power loss: %ld unsynced bytes dropped;", cut);
	d = dstart(&s, 2, "always", NULL);
	c = qd_connect(d);
	check_exactly_once(c, "pl-q", pl, NPROD);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
	free(pl);
}
END_TEST

static Suite *
durability_suite(void)
{
	Suite	*s = suite_create("it_durability");
	TCase	*tc;

	tc = tcase_create("crash");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_durability_crash_exactly_once, 0, 3);
	tcase_add_test(tc, test_durability_repartition);
	tcase_add_loop_test(tc, test_durability_joinable_unfinished, 0, 4);
	tcase_add_test(tc, test_durability_parked);
	tcase_add_test(tc, test_durability_removals);
	tcase_add_test(tc, test_durability_bounded_sem_foreign_release);
	tcase_add_test(tc, test_durability_bounded_sem_old_log);
	tcase_add_test(tc, test_durability_power_loss);
	tcase_add_test(tc, test_durability_power_loss_everysec);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(durability_suite(), CK_FORK);
}
