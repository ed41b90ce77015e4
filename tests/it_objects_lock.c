/* it_objects_lock.c: it_objects' tests: lock details, delete, semaphores
 * before open. */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <msgpack.h>

#include "harness.h"
#include "qlock.h"
#include "suiterun.h"
#include "it_objects.h"

/* =========================================================================
 * Lock details
 * ========================================================================= */

START_TEST(test_lock_release_not_owner)
{
	qlock	*a = qd_connect(D), *b = qd_connect(D);

	OK(a, qlock_lock_acquire(a, "lk-owner", QD_WAIT));
	IS(b, qlock_lock_release(b, "lk-owner"), QLOCK_ENOTOWNER);
	/* Still a's: b cannot take it. */
	IS(b, qlock_lock_acquire(b, "lk-owner", 0), QLOCK_TIMEOUT);
	OK(a, qlock_lock_release(a, "lk-owner"));
	IS(a, qlock_lock_release(a, "lk-owner"), QLOCK_ENOTOWNER);
	IS(b, qlock_lock_release(b, "lk-never-held"), QLOCK_ENOTOWNER);
	OK(b, qlock_lock_acquire(b, "lk-owner", 0));
	OK(b, qlock_lock_release(b, "lk-owner"));
	qlock_close(b);
	qlock_close(a);
}
END_TEST

#define FIFO_LOCK	"lk-fifo"
#define FIFO_Q		"lk-fifo-order"
#define FIFO_N		3

struct grant {
	uint32_t	who;
	uint64_t	token;
};

/* Acquire, record who and the token, release. */
static void
fifo_waiter(uint32_t who)
{
	qlock		*c = cconnect();
	struct grant	 g = { who, 0 };

	CTRY(c, qlock_lock_acquire_token(c, FIFO_LOCK, CHILD_WAIT, &g.token));
	CTRY(c, qlock_queue_put(c, FIFO_Q, &g, sizeof(g), CHILD_WAIT));
	CTRY(c, qlock_lock_release(c, FIFO_LOCK));
	_exit(0);
}

START_TEST(test_lock_fifo_handoff)
{
	qlock		*c = qd_connect(D);
	pid_t		 pids[FIFO_N];
	struct grant	*g;
	uint64_t	 token, last;
	size_t		 len;
	uint32_t	 i;

	OK(c, qlock_lock_acquire_token(c, FIFO_LOCK, QD_WAIT, &token));
	for (i = 0; i < FIFO_N; i++) {
		if ((pids[i] = qd_fork()) == 0)
			fifo_waiter(i);
		wait_waiters(c, FIFO_LOCK, i + 1);	/* parked in order */
	}
	OK(c, qlock_lock_release(c, FIFO_LOCK));
	for (i = 0; i < FIFO_N; i++)
		child_is(pids[i], 0, "lock waiter");
	last = token;
	for (i = 0; i < FIFO_N; i++) {
		OK(c, qlock_queue_get(c, FIFO_Q, (void **)&g, &len, 0));
		ck_assert_uint_eq(len, sizeof(*g));
		ck_assert_msg(g->who == i, "grant %u went to the waiter that "
		    "parked as number %u", i, g->who);
		ck_assert_msg(g->token > last, "token %llu after %llu",
		    (unsigned long long)g->token, (unsigned long long)last);
		last = g->token;
		free(g);
	}
	qlock_close(c);
}
END_TEST

#define FENCE_LOCK	"lk-fence"
#define FENCE_Q		"lk-fence-q"
#define FENCE_PROCS	4
#define FENCE_ROUNDS	25

/* Acquire, log the token while holding, release; many times. */
static void
fence_worker(void)
{
	qlock		*c = cconnect();
	uint64_t	 token;
	int		 i;

	for (i = 0; i < FENCE_ROUNDS; i++) {
		CTRY(c, qlock_lock_acquire_token(c, FENCE_LOCK, CHILD_WAIT,
		    &token));
		CTRY(c, qlock_queue_put(c, FENCE_Q, &token, sizeof(token),
		    CHILD_WAIT));
		CTRY(c, qlock_lock_release(c, FENCE_LOCK));
	}
	_exit(0);
}

START_TEST(test_lock_fencing_tokens)
{
	qlock		*c = qd_connect(D);
	pid_t		 pids[FENCE_PROCS];
	uint64_t	 first, last, *t, end;
	size_t		 len;
	int		 i;

	OK(c, qlock_lock_acquire_token(c, FENCE_LOCK, QD_WAIT, &first));
	OK(c, qlock_lock_release(c, FENCE_LOCK));
	for (i = 0; i < FENCE_PROCS; i++)
		if ((pids[i] = qd_fork()) == 0)
			fence_worker();
	for (i = 0; i < FENCE_PROCS; i++)
		child_is(pids[i], 0, "fencing worker");
	/* Logged in grant order (each while holding): strictly increasing. */
	last = first;
	for (i = 0; i < FENCE_PROCS * FENCE_ROUNDS; i++) {
		OK(c, qlock_queue_get(c, FENCE_Q, (void **)&t, &len, 0));
		ck_assert_uint_eq(len, sizeof(*t));
		ck_assert_msg(*t > last, "grant %d: token %llu after %llu", i,
		    (unsigned long long)*t, (unsigned long long)last);
		last = *t;
		free(t);
	}
	OK(c, qlock_lock_acquire_token(c, FENCE_LOCK, QD_WAIT, &end));
	ck_assert_msg(end > last, "token %llu after %llu",
	    (unsigned long long)end, (unsigned long long)last);
	OK(c, qlock_lock_release(c, FENCE_LOCK));
	qlock_close(c);
}
END_TEST

START_TEST(test_lock_rlock_reentry)
{
	qlock		*a = qd_connect(D), *b = qd_connect(D);
	uint64_t	 t1, t2;

	OK(a, qlock_lock_open(a, "lk-rlock", QLOCK_RECURSIVE));
	OK(a, qlock_lock_acquire_token(a, "lk-rlock", QD_WAIT, &t1));
	OK(a, qlock_lock_acquire(a, "lk-rlock", 0));
	OK(a, qlock_lock_acquire(a, "lk-rlock", 0.2));
	IS(b, qlock_lock_acquire(b, "lk-rlock", 0), QLOCK_TIMEOUT);
	OK(a, qlock_lock_release(a, "lk-rlock"));
	OK(a, qlock_lock_release(a, "lk-rlock"));
	/* Depth 1 left: still a's. */
	IS(b, qlock_lock_acquire(b, "lk-rlock", 0), QLOCK_TIMEOUT);
	IS(b, qlock_lock_release(b, "lk-rlock"), QLOCK_ENOTOWNER);
	OK(a, qlock_lock_release(a, "lk-rlock"));
	IS(a, qlock_lock_release(a, "lk-rlock"), QLOCK_ENOTOWNER);
	OK(b, qlock_lock_acquire_token(b, "lk-rlock", 0, &t2));
	ck_assert_uint_gt(t2, t1);
	OK(b, qlock_lock_release(b, "lk-rlock"));
	/* Re-opened as the other kind: Inval. */
	IS(a, qlock_lock_open(a, "lk-rlock", 0), QLOCK_EINVAL);
	qlock_close(b);
	qlock_close(a);
}
END_TEST

START_TEST(test_lock_self_deadlock_times_out)
{
	qlock	*c = qd_connect(D);
	double	 t0, dt;

	OK(c, qlock_lock_acquire(c, "lk-plain", QD_WAIT));
	t0 = qd_now();
	IS(c, qlock_lock_acquire(c, "lk-plain", 0.2), QLOCK_TIMEOUT);
	dt = qd_now() - t0;
	ck_assert_msg(dt >= 0.19 && dt < 5.0, "acquire 0.2 s took %.3f s", dt);
	/* Still held once, by us. */
	OK(c, qlock_lock_release(c, "lk-plain"));
	IS(c, qlock_lock_release(c, "lk-plain"), QLOCK_ENOTOWNER);
	qlock_close(c);
}
END_TEST

START_TEST(test_lock_etype)
{
	qlock	*c = qd_connect(D);
	void	*item = NULL;
	size_t	 len;
	long	 n;

	OK(c, qlock_lock_open(c, "lk-typed", 0));
	OK(c, qlock_lock_acquire(c, "lk-typed", QD_WAIT));
	IS(c, qlock_queue_put(c, "lk-typed", "x", 1, 0), QLOCK_ETYPE);
	IS(c, qlock_queue_get(c, "lk-typed", &item, &len, 0), QLOCK_ETYPE);
	IS(c, qlock_queue_size(c, "lk-typed", &n), QLOCK_ETYPE);
	IS(c, qlock_queue_open(c, "lk-typed", 0, 0), QLOCK_ETYPE);
	IS(c, qlock_sem_open(c, "lk-typed", 1, 0), QLOCK_ETYPE);
	IS(c, qlock_event_set(c, "lk-typed"), QLOCK_ETYPE);
	IS(c, qlock_dict_set(c, "lk-typed", "k", "v", 1), QLOCK_ETYPE);
	/* And a queue used as a lock. */
	OK(c, qlock_queue_open(c, "q-typed", 0, 0));
	IS(c, qlock_lock_acquire(c, "q-typed", 0), QLOCK_ETYPE);
	IS(c, qlock_lock_release(c, "q-typed"), QLOCK_ETYPE);
	/* The lock is unharmed. */
	OK(c, qlock_lock_release(c, "lk-typed"));
	qlock_close(c);
}
END_TEST

#define DEL_ENOENT	0	/* exit code: the wait ended with NoEnt */
#define DEL_OTHER	1

/* Wait on a lock or a queue for ever; exit DEL_ENOENT if told NoEnt. */
static void
del_waiter(bool queue, const char *name)
{
	qlock	*c = cconnect();
	void	*item;
	size_t	 len;
	int	 st;

	st = queue ? qlock_queue_get(c, name, &item, &len, CHILD_WAIT) :
	    qlock_lock_acquire(c, name, CHILD_WAIT);
	if (st != QLOCK_ENOENT)
		cdie(DEL_OTHER, c, "wait on a deleted object", st);
	/* The connection is still usable. */
	CTRY(c, qlock_ping(c));
	_exit(DEL_ENOENT);
}

START_TEST(test_delete_wakes_waiters)
{
	qlock		*c = qd_connect(D);
	struct objinfo	 oi;
	pid_t		 pid;

	OK(c, qlock_lock_acquire(c, "del-lock", QD_WAIT));
	if ((pid = qd_fork()) == 0)
		del_waiter(false, "del-lock");
	wait_waiters(c, "del-lock", 1);
	OK(c, qlock_delete(c, "del-lock"));
	child_is(pid, DEL_ENOENT, "lock waiter on a deleted lock");
	obj_info(c, "del-lock", &oi);
	ck_assert_msg(!oi.found, "deleted lock still listed");
	/* Our hold went with it: the name is free again. */
	IS(c, qlock_lock_release(c, "del-lock"), QLOCK_ENOTOWNER);
	OK(c, qlock_lock_acquire(c, "del-lock", 0));
	OK(c, qlock_lock_release(c, "del-lock"));

	if ((pid = qd_fork()) == 0)
		del_waiter(true, "del-queue");
	wait_waiters(c, "del-queue", 1);
	OK(c, qlock_delete(c, "del-queue"));
	child_is(pid, DEL_ENOENT, "getter on a deleted queue");

	IS(c, qlock_delete(c, "del-never"), QLOCK_ENOENT);
	qlock_close(c);
}
END_TEST

START_TEST(test_sem_before_open)
{
	qlock	*c = qd_connect(D);
	long	 v;

	IS(c, qlock_sem_acquire(c, "sem-never", 0.1), QLOCK_ENOENT);
	IS(c, qlock_sem_release(c, "sem-never"), QLOCK_ENOENT);
	IS(c, qlock_sem_value(c, "sem-never", &v), QLOCK_ENOENT);
	qlock_close(c);
}
END_TEST

/* qlock_queue_state and qlock_barrier_state read what queue.state and
 * barrier.state answer, and change nothing. */
START_TEST(test_state_reads)
{
	struct qlock_queue_state	qs;
	struct qlock_barrier_state	bs;
	qlock				*c = qd_connect(D);
	void				*item;
	size_t				 len;
	double				 end;
	pid_t				 pid;

	OK(c, qlock_queue_state(c, "st-never", &qs));
	ck_assert(qs.size == 0 && qs.maxsize == 0 && !qs.joinable &&
	    qs.unfinished == 0);
	IS(c, qlock_queue_state(c, "st-never", NULL), QLOCK_EINVAL);

	OK(c, qlock_queue_open(c, "st-jq", 5, QLOCK_JOINABLE));
	OK(c, qlock_queue_put(c, "st-jq", "a", 1, 0));
	OK(c, qlock_queue_put(c, "st-jq", "b", 1, 0));
	OK(c, qlock_queue_get(c, "st-jq", &item, &len, 0));
	free(item);
	OK(c, qlock_queue_state(c, "st-jq", &qs));
	ck_assert_int_eq(qs.size, 1);
	ck_assert_int_eq(qs.maxsize, 5);
	ck_assert_int_eq(qs.joinable, 1);
	ck_assert_int_eq(qs.unfinished, 2);

	IS(c, qlock_barrier_state(c, "st-bar", &bs), QLOCK_ENOENT);
	OK(c, qlock_barrier_open(c, "st-bar", 3));
	OK(c, qlock_barrier_state(c, "st-bar", &bs));
	ck_assert(bs.parties == 3 && bs.n_waiting == 0 && !bs.broken);
	if ((pid = qd_fork()) == 0)
		party("st-bar", CHILD_WAIT, -1);
	for (end = qd_now() + QD_WAIT;; qd_nap()) {
		OK(c, qlock_barrier_state(c, "st-bar", &bs));
		if (bs.n_waiting == 1)
			break;
		ck_assert_msg(qd_now() < end, "no party waiting after %.0f s",
		    QD_WAIT);
	}
	OK(c, qlock_barrier_abort(c, "st-bar"));
	child_is(pid, BAR_BROKEN, "party of an aborted barrier");
	OK(c, qlock_barrier_state(c, "st-bar", &bs));
	ck_assert(bs.parties == 3 && bs.n_waiting == 0 && bs.broken);
	qlock_close(c);
}
END_TEST

/* The tests of this file, in the order they run. */
void
objects_lock_tests(TCase *tc)
{
	tcase_add_test(tc, test_lock_release_not_owner);
	tcase_add_test(tc, test_lock_fifo_handoff);
	tcase_add_test(tc, test_lock_fencing_tokens);
	tcase_add_test(tc, test_lock_rlock_reentry);
	tcase_add_test(tc, test_lock_self_deadlock_times_out);
	tcase_add_test(tc, test_lock_etype);
	tcase_add_test(tc, test_delete_wakes_waiters);
	tcase_add_test(tc, test_sem_before_open);
	tcase_add_test(tc, test_state_reads);
}
