/* it_objects_kill.c: it_objects' tests: clients killed while holding or
 * waiting. */
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
 * Clients killed while holding or waiting
 * ========================================================================= */

/* What a child reports: when its call returned, and a value. */
struct report {
	double		t;
	uint64_t	value;
};

static void
kl_holder(int fd)
{
	qlock	*c = cconnect();
	uint64_t token;

	CTRY(c, qlock_lock_acquire_token(c, "kill-lock", CHILD_WAIT, &token));
	cwrite(fd, &token, sizeof(token));
	hang();
}

static void
kl_waiter(int fd)
{
	qlock		*c = cconnect();
	struct report	 r;

	CTRY(c, qlock_lock_acquire_token(c, "kill-lock", CHILD_WAIT,
	    &r.value));
	r.t = qd_now();
	cwrite(fd, &r, sizeof(r));
	_exit(0);
}

START_TEST(test_kill_lock_holder)
{
	qlock		*c = qd_connect(D);
	int		 p[2];
	pid_t		 holder, waiter;
	uint64_t	 htoken;
	struct report	 r;
	double		 t0;

	xpipe(p);
	if ((holder = qd_fork()) == 0)
		kl_holder(p[1]);
	ck_assert_msg(pipe_read(p[0], &htoken, sizeof(htoken), QD_WAIT),
	    "the holder did not get the lock");
	if ((waiter = qd_fork()) == 0)
		kl_waiter(p[1]);
	wait_waiters(c, "kill-lock", 1);
	t0 = qd_now();
	kill(holder, SIGKILL);
	ck_assert_msg(pipe_read(p[0], &r, sizeof(r), QD_WAIT),
	    "the waiter never got the lock of a killed holder");
	ck_assert_msg(r.t - t0 < KILL_BOUND, "lock given back %.3f s after "
	    "the holder was killed", r.t - t0);
	ck_assert_uint_gt(r.value, htoken);
	child_is(waiter, 0, "waiter");
	child_kill(holder);
	/* The waiter exited: free for us. */
	OK(c, qlock_lock_acquire(c, "kill-lock", QD_WAIT));
	OK(c, qlock_lock_release(c, "kill-lock"));
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

static void
ks_holder(int fd)
{
	qlock	*c = cconnect();

	CTRY(c, qlock_sem_acquire(c, "kill-sem", CHILD_WAIT));
	CTRY(c, qlock_sem_acquire(c, "kill-sem", CHILD_WAIT));
	cwrite(fd, "h", 1);
	hang();
}

/* Get a permit, report when, keep it until killed. */
static void
ks_waiter(int fd)
{
	qlock		*c = cconnect();
	struct report	 r = { 0, 0 };

	CTRY(c, qlock_sem_acquire(c, "kill-sem", CHILD_WAIT));
	r.t = qd_now();
	cwrite(fd, &r, sizeof(r));
	hang();
}

/* Poll sem_value until want; fail unless within secs. */
static void
wait_sem_value(qlock *c, const char *name, long want, double secs,
    double since, const char *what)
{
	double	end = since + secs;
	long	v = -1;

	for (;;) {
		OK(c, qlock_sem_value(c, name, &v));
		if (v == want)
			return;
		ck_assert_msg(qd_now() < end, "%s: semaphore value %ld after "
		    "%.3f s, expected %ld", what, v, qd_now() - since, want);
		qd_nap();
	}
}

START_TEST(test_kill_sem_holder)
{
	qlock		*c = qd_connect(D);
	int		 p[2];
	char		 ch;
	pid_t		 holder, waiter;
	struct report	 r;
	long		 v;
	double		 t0;

	xpipe(p);
	OK(c, qlock_sem_open(c, "kill-sem", 2, 0));
	if ((holder = qd_fork()) == 0)
		ks_holder(p[1]);
	ck_assert(pipe_read(p[0], &ch, 1, QD_WAIT));
	OK(c, qlock_sem_value(c, "kill-sem", &v));
	ck_assert_int_eq(v, 0);
	if ((waiter = qd_fork()) == 0)
		ks_waiter(p[1]);
	wait_waiters(c, "kill-sem", 1);
	t0 = qd_now();
	kill(holder, SIGKILL);
	ck_assert_msg(pipe_read(p[0], &r, sizeof(r), QD_WAIT),
	    "the waiter never got a permit of a killed holder");
	ck_assert_msg(r.t - t0 < KILL_BOUND, "permit given back %.3f s after "
	    "the holder was killed", r.t - t0);
	/* The holder's other permit is free; the waiter keeps one. */
	wait_sem_value(c, "kill-sem", 1, KILL_BOUND, t0, "holder killed");
	child_kill(holder);
	t0 = qd_now();
	child_kill(waiter);
	wait_sem_value(c, "kill-sem", 2, KILL_BOUND, t0, "waiter killed");
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

#define KJ_Q	"kill-jq"

/* Take an item, never finish it. */
static void
kj_taker(int fd)
{
	qlock	*c = cconnect();
	void	*item;
	size_t	 len;

	CTRY(c, qlock_queue_get(c, KJ_Q, &item, &len, CHILD_WAIT));
	if (len != 3 || memcmp(item, "job", 3) != 0)
		cdie(CX_OTHER, c, "wrong item", 0);
	cwrite(fd, "g", 1);
	hang();
}

/* Get (parked before the taker dies), report when, finish it. */
static void
kj_finisher(int fd)
{
	qlock		*c = cconnect();
	struct report	 r = { 0, 0 };
	void		*item;
	size_t		 len;

	CTRY(c, qlock_queue_get(c, KJ_Q, &item, &len, CHILD_WAIT));
	r.t = qd_now();
	if (len != 3 || memcmp(item, "job", 3) != 0)
		cdie(CX_OTHER, c, "wrong item", 0);
	cwrite(fd, &r, sizeof(r));
	CTRY(c, qlock_queue_task_done(c, KJ_Q));
	_exit(0);
}

START_TEST(test_kill_joinable_consumer)
{
	qlock		*c = qd_connect(D);
	int		 p[2];
	char		 ch;
	pid_t		 taker, finisher;
	struct report	 r;
	double		 t0;
	long		 size;
	void		*item;
	size_t		 len;

	xpipe(p);
	OK(c, qlock_queue_open(c, KJ_Q, 0, QLOCK_JOINABLE));
	OK(c, qlock_queue_put(c, KJ_Q, "job", 3, QD_WAIT));

	/* First: killed with the item taken; it comes back to a fresh get. */
	if ((taker = qd_fork()) == 0)
		kj_taker(p[1]);
	ck_assert(pipe_read(p[0], &ch, 1, QD_WAIT));
	OK(c, qlock_queue_size(c, KJ_Q, &size));
	ck_assert_int_eq(size, 0);
	IS(c, qlock_queue_join(c, KJ_Q, 0.2), QLOCK_TIMEOUT);
	t0 = qd_now();
	child_kill(taker);
	OK(c, qlock_queue_get(c, KJ_Q, &item, &len, KILL_BOUND));
	ck_assert_msg(qd_now() - t0 < KILL_BOUND, "item back %.3f s after "
	    "the consumer was killed", qd_now() - t0);
	ck_assert(len == 3 && memcmp(item, "job", 3) == 0);
	free(item);
	OK(c, qlock_queue_put(c, KJ_Q, "job", 3, QD_WAIT));
	OK(c, qlock_queue_task_done(c, KJ_Q));	/* ours, the one we got */

	/* Second: a consumer parked when the taker dies gets the item. */
	if ((taker = qd_fork()) == 0)
		kj_taker(p[1]);
	ck_assert(pipe_read(p[0], &ch, 1, QD_WAIT));
	if ((finisher = qd_fork()) == 0)
		kj_finisher(p[1]);
	wait_waiters(c, KJ_Q, 1);
	t0 = qd_now();
	kill(taker, SIGKILL);
	ck_assert_msg(pipe_read(p[0], &r, sizeof(r), QD_WAIT),
	    "the item of a killed consumer never came back");
	ck_assert_msg(r.t - t0 < KILL_BOUND, "item back %.3f s after the "
	    "consumer was killed", r.t - t0);
	child_is(finisher, 0, "new consumer");
	child_kill(taker);
	OK(c, qlock_queue_join(c, KJ_Q, QD_WAIT));
	OK(c, qlock_queue_size(c, KJ_Q, &size));
	ck_assert_int_eq(size, 0);
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

START_TEST(test_kill_barrier_party)
{
	qlock		*c = qd_connect(D);
	int		 p[2];
	pid_t		 a, b;
	struct report	 r;
	double		 t0;

	xpipe(p);
	OK(c, qlock_barrier_open(c, "kill-bar", 3));
	if ((a = qd_fork()) == 0)
		party("kill-bar", CHILD_WAIT, p[1]);
	if ((b = qd_fork()) == 0)
		party("kill-bar", CHILD_WAIT, -1);
	wait_waiters(c, "kill-bar", 2);
	t0 = qd_now();
	kill(b, SIGKILL);
	ck_assert_msg(pipe_read(p[0], &r.t, sizeof(r.t), QD_WAIT),
	    "the other party still waits after one was killed");
	ck_assert_msg(r.t - t0 < KILL_BOUND, "barrier broken %.3f s after the "
	    "party was killed", r.t - t0);
	child_is(a, BAR_BROKEN, "party when another was killed");
	child_kill(b);
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

#define KC	"kill-cond"

/* Hold the condition and wait on it; exit 0 once woken. */
static void
kc_waiter(void)
{
	qlock	*c = cconnect();

	CTRY(c, qlock_cond_acquire(c, KC, CHILD_WAIT));
	CTRY(c, qlock_cond_wait(c, KC, CHILD_WAIT));
	CTRY(c, qlock_cond_release(c, KC));
	_exit(0);
}

static void
kc_holder(int fd)
{
	qlock	*c = cconnect();

	CTRY(c, qlock_cond_acquire(c, KC, CHILD_WAIT));
	cwrite(fd, "h", 1);
	hang();
}

START_TEST(test_kill_cond_waiter)
{
	qlock	*c = qd_connect(D);
	int	 p[2];
	char	 ch;
	pid_t	 dead, live, holder;
	double	 t0;

	/* Two waiters; the first is killed; notify(1) reaches the other. */
	if ((dead = qd_fork()) == 0)
		kc_waiter();
	wait_waiters(c, KC, 1);
	if ((live = qd_fork()) == 0)
		kc_waiter();
	wait_waiters(c, KC, 2);
	child_kill(dead);
	wait_waiters(c, KC, 1);
	OK(c, qlock_cond_acquire(c, KC, QD_WAIT));
	OK(c, qlock_cond_notify(c, KC, 1));
	OK(c, qlock_cond_release(c, KC));
	child_is(live, 0, "live condition waiter after notify(1)");
	wait_waiters(c, KC, 0);

	/* A killed holder of the condition's lock gives it back. */
	xpipe(p);
	if ((holder = qd_fork()) == 0)
		kc_holder(p[1]);
	ck_assert(pipe_read(p[0], &ch, 1, QD_WAIT));
	IS(c, qlock_cond_acquire(c, KC, 0), QLOCK_TIMEOUT);
	t0 = qd_now();
	kill(holder, SIGKILL);
	OK(c, qlock_cond_acquire(c, KC, QD_WAIT));
	ck_assert_msg(qd_now() - t0 < KILL_BOUND, "condition lock given back "
	    "%.3f s after the holder was killed", qd_now() - t0);
	OK(c, qlock_cond_notify_all(c, KC));
	OK(c, qlock_cond_release(c, KC));
	child_kill(holder);
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

/* The tests of this file, in the order they run. */
void
objects_kill_tests(TCase *tc)
{
	tcase_add_test(tc, test_kill_lock_holder);
	tcase_add_test(tc, test_kill_sem_holder);
	tcase_add_test(tc, test_kill_joinable_consumer);
	tcase_add_test(tc, test_kill_barrier_party);
	tcase_add_test(tc, test_kill_cond_waiter);
}
