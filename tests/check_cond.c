/* check_cond.c: unit tests of the pure Condition state machine (its own
 * RLock, wait/notify, re-acquire on timeout) against Python's semantics. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "qlock.h"
#include "obj_cond.h"
#include "suiterun.h"
#include "util.h"
#include "waiterpool.h"
#include "waitq.h"

static struct cond	  c;		/* the condition under test */
static uint64_t		  clk;		/* the token counter */
static struct waitlist	  woken;	/* what the operations woke */

static void
setup(void)
{
	TAILQ_INIT(&woken);
	clk = 0;
	cond_init(&c);
}

/* Take every waiter off its queue and free it. */
static void
teardown(void)
{
	pool_free();
}

/* A fresh, unparked waiter for session sess that teardown frees. */
static struct waiter *
waiter_new(uint64_t sess)
{
	struct waiter	*w = pool_waiter(sess);

	w->outcome = 12345;
	return w;
}

/* cond.acquire for sess, expecting a grant now. */
static void
acquire_ok(uint64_t sess)
{
	ck_assert_int_eq(lock_acquire(&c.lock, sess, &clk), 0);
	ck_assert_uint_eq(c.lock.owner, sess);
}

/* cond.acquire for sess, expecting to wait; park a lock waiter. */
static struct waiter *
acquire_park(uint64_t sess)
{
	struct waiter	*w;

	ck_assert_int_eq(lock_acquire(&c.lock, sess, &clk), LOCK_WAIT);
	w = waiter_new(sess);
	w->op = WOP_LOCK_ACQUIRE;
	lock_park(&c.lock, w, 1);
	return w;
}

static void
release_ok(uint64_t sess)
{
	ck_assert_int_eq(lock_release(&c.lock, sess, &clk, &woken), 0);
}

/* sess, holding the lock, waits: the lock is released fully. */
static struct waiter *
wait_ok(uint64_t sess)
{
	struct waiter	*w = waiter_new(sess);
	uint32_t	 depth = c.lock.depth;

	ck_assert_int_eq(cond_wait(&c, &c.lock, sess, w, &clk, &woken), 0);
	ck_assert_int_eq(w->op, WOP_COND_WAIT);
	ck_assert_ptr_eq(w->wq, &c.waiters);
	ck_assert_uint_eq(w->depth, depth);
	ck_assert_uint_ne(c.lock.owner, sess);
	return w;
}

static uint32_t
notify(uint64_t sess, uint32_t n)
{
	uint32_t	moved = 12345;

	ck_assert_int_eq(cond_notify(&c, &c.lock, sess, n, &moved), 0);
	return moved;
}

/* The condition's lock is an RLock. */
START_TEST(test_cond_lock_recursive)
{
	acquire_ok(1);
	acquire_ok(1);
	ck_assert_uint_eq(c.lock.depth, 2);
	ck_assert_int_eq(lock_acquire(&c.lock, 2, &clk), LOCK_WAIT);
	release_ok(1);
	release_ok(1);
	ck_assert(!lock_busy(&c.lock));
}
END_TEST

/* wait() without holding the lock is refused (RuntimeError in Python),
 * whether the lock is free or someone else's; nothing is parked. */
START_TEST(test_cond_wait_without_lock)
{
	struct waiter	*w = waiter_new(1);

	ck_assert_int_eq(cond_wait(&c, &c.lock, 1, w, &clk, &woken), QLOCK_ENOTOWNER);
	acquire_ok(2);
	ck_assert_int_eq(cond_wait(&c, &c.lock, 1, w, &clk, &woken), QLOCK_ENOTOWNER);
	ck_assert_ptr_null(w->wq);
	ck_assert_uint_eq(c.waiters.n, 0);
	ck_assert_uint_eq(c.lock.owner, 2);
	ck_assert_uint_eq(c.lock.depth, 1);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	release_ok(2);
	ck_assert_int_eq(cond_wait(&c, &c.lock, 2, w, &clk, &woken), QLOCK_ENOTOWNER);
}
END_TEST

/* wait() releases every level of the lock and remembers the depth. */
START_TEST(test_cond_wait_releases_fully)
{
	struct waiter	*w;

	acquire_ok(1);
	acquire_ok(1);
	acquire_ok(1);
	w = wait_ok(1);
	ck_assert_uint_eq(w->depth, 3);
	ck_assert_uint_eq(c.lock.owner, 0);
	ck_assert_uint_eq(c.lock.depth, 0);
	ck_assert_uint_eq(c.waiters.n, 1);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert_int_eq(lock_release(&c.lock, 1, &clk, &woken),
	    QLOCK_ENOTOWNER);
	acquire_ok(2);
}
END_TEST

/* wait() hands the lock to the oldest lock waiter with a fresh token. */
START_TEST(test_cond_wait_hands_lock_on)
{
	struct waiter	*a, *b;
	uint64_t	 tok;

	acquire_ok(1);
	tok = c.lock.token;
	a = acquire_park(2);
	b = acquire_park(3);
	wait_ok(1);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), a);
	ck_assert_int_eq(a->status, QLOCK_OK);
	ck_assert_uint_eq(c.lock.owner, 2);
	ck_assert_uint_eq(c.lock.depth, 1);
	ck_assert_uint_eq(a->value, c.lock.token);
	ck_assert_uint_gt(a->value, tok);
	ck_assert_ptr_eq(waitq_first(&c.lock.waiters), b);
}
END_TEST

/* notify() without the lock is refused and moves nobody. */
START_TEST(test_cond_notify_without_lock)
{
	struct waiter	*w;
	uint32_t	 moved = 12345;

	acquire_ok(1);
	w = wait_ok(1);
	ck_assert_int_eq(cond_notify(&c, &c.lock, 1, 1, &moved), QLOCK_ENOTOWNER);
	ck_assert_uint_eq(moved, 0);
	acquire_ok(2);
	moved = 12345;
	ck_assert_int_eq(cond_notify(&c, &c.lock, 1, UINT32_MAX, &moved),
	    QLOCK_ENOTOWNER);
	ck_assert_uint_eq(moved, 0);
	ck_assert_ptr_eq(w->wq, &c.waiters);
	ck_assert_int_eq(w->op, WOP_COND_WAIT);
	ck_assert_uint_eq(c.lock.waiters.n, 0);
}
END_TEST

/* notify(n) moves at most n waiters, oldest first, to the lock's queue;
 * notify(0) moves none; notify with nobody waiting is fine. */
START_TEST(test_cond_notify_n_oldest)
{
	struct waiter	*w[5];
	uint64_t	 s;
	int		 i;

	for (s = 1; s <= 5; s++) {
		acquire_ok(s);
		w[s - 1] = wait_ok(s);
	}
	acquire_ok(9);
	ck_assert_uint_eq(notify(9, 0), 0);
	ck_assert_uint_eq(c.waiters.n, 5);
	ck_assert_uint_eq(notify(9, 2), 2);
	ck_assert_uint_eq(c.waiters.n, 3);
	ck_assert_uint_eq(c.lock.waiters.n, 2);
	for (i = 0; i < 2; i++) {
		ck_assert_ptr_eq(w[i]->wq, &c.lock.waiters);
		ck_assert_int_eq(w[i]->op, WOP_COND_REACQUIRE);
		ck_assert_int_eq(w[i]->outcome, QLOCK_OK);
	}
	ck_assert_ptr_eq(waitq_first(&c.lock.waiters), w[0]);
	ck_assert_ptr_eq(waitq_first(&c.waiters), w[2]);
	ck_assert_uint_eq(notify(9, 1), 1);
	ck_assert_ptr_eq(TAILQ_LAST(&c.lock.waiters.head, waitlist), w[2]);
	ck_assert_uint_eq(notify(9, UINT32_MAX), 2);
	ck_assert_uint_eq(c.waiters.n, 0);
	ck_assert_uint_eq(c.lock.waiters.n, 5);
	ck_assert_uint_eq(notify(9, UINT32_MAX), 0);
	ck_assert_uint_eq(waitlist_len(&woken), 0);	/* nobody runs yet */
	ck_assert_uint_eq(c.lock.owner, 9);
}
END_TEST

/* Notified waiters get the lock only once the notifier has released all
 * of it, one at a time, each at its saved depth with a fresh token. */
START_TEST(test_cond_notified_relock_after_release)
{
	struct waiter	*a, *b;
	uint64_t	 last;

	acquire_ok(1);
	acquire_ok(1);
	a = wait_ok(1);			/* depth 2 */
	acquire_ok(2);
	b = wait_ok(2);			/* depth 1 */
	acquire_ok(3);
	acquire_ok(3);
	last = c.lock.token;
	ck_assert_uint_eq(notify(3, UINT32_MAX), 2);
	release_ok(3);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert_uint_eq(c.lock.owner, 3);
	release_ok(3);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), a);
	ck_assert_int_eq(a->status, QLOCK_OK);
	ck_assert_int_eq(a->outcome, QLOCK_OK);
	ck_assert_uint_eq(c.lock.owner, 1);
	ck_assert_uint_eq(c.lock.depth, 2);
	ck_assert_uint_eq(a->value, c.lock.token);
	ck_assert_uint_gt(a->value, last);
	last = a->value;
	release_ok(1);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	release_ok(1);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), b);
	ck_assert_uint_eq(c.lock.owner, 2);
	ck_assert_uint_eq(c.lock.depth, 1);
	ck_assert_uint_gt(b->value, last);
	release_ok(2);
	ck_assert(!lock_busy(&c.lock));
}
END_TEST

/* Notified waiters queue behind those already waiting for the lock. */
START_TEST(test_cond_notified_behind_lock_waiters)
{
	struct waiter	*cw, *lw;

	acquire_ok(1);
	cw = wait_ok(1);
	acquire_ok(2);
	lw = acquire_park(3);
	ck_assert_uint_eq(notify(2, 1), 1);
	release_ok(2);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), lw);
	ck_assert_uint_eq(c.lock.owner, 3);
	release_ok(3);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), cw);
	ck_assert_uint_eq(c.lock.owner, 1);
}
END_TEST

/* A wait that times out with the lock free re-acquires at once: woken OK
 * holding the lock at its depth, with TIMEOUT as the outcome to report. */
START_TEST(test_cond_requeue_timeout_lock_free)
{
	struct waiter	*w;
	uint64_t	 tok;

	acquire_ok(1);
	acquire_ok(1);
	tok = c.lock.token;
	w = wait_ok(1);
	cond_requeue(&c.lock, w, QLOCK_TIMEOUT, &clk, &woken);
	ck_assert_uint_eq(c.waiters.n, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), w);
	ck_assert_ptr_null(w->wq);
	ck_assert_int_eq(w->status, QLOCK_OK);
	ck_assert_int_eq(w->outcome, QLOCK_TIMEOUT);
	ck_assert_int_eq(w->op, WOP_COND_REACQUIRE);
	ck_assert_uint_eq(c.lock.owner, 1);
	ck_assert_uint_eq(c.lock.depth, 2);
	ck_assert_uint_eq(w->value, c.lock.token);
	ck_assert_uint_gt(w->value, tok);
	ck_assert_uint_eq(clk, c.lock.token);
	release_ok(1);
	release_ok(1);
	ck_assert(!lock_busy(&c.lock));
}
END_TEST

/* A wait that times out while the lock is held waits for it, then gets it
 * with the TIMEOUT outcome; a later notify no longer sees it. */
START_TEST(test_cond_requeue_timeout_lock_held)
{
	struct waiter	*a, *b;

	acquire_ok(1);
	a = wait_ok(1);
	acquire_ok(2);
	b = wait_ok(2);
	acquire_ok(3);
	cond_requeue(&c.lock, a, QLOCK_TIMEOUT, &clk, &woken);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert_ptr_eq(a->wq, &c.lock.waiters);
	ck_assert_int_eq(a->op, WOP_COND_REACQUIRE);
	ck_assert_uint_eq(c.waiters.n, 1);
	ck_assert_uint_eq(notify(3, 1), 1);	/* b, not a again */
	ck_assert_ptr_eq(b->wq, &c.lock.waiters);
	ck_assert_uint_eq(c.lock.waiters.n, 2);
	release_ok(3);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), a);
	ck_assert_int_eq(a->status, QLOCK_OK);
	ck_assert_int_eq(a->outcome, QLOCK_TIMEOUT);
	ck_assert_uint_eq(c.lock.owner, 1);
	ck_assert_uint_eq(a->value, c.lock.token);
	release_ok(1);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), b);
	ck_assert_int_eq(b->outcome, QLOCK_OK);
	ck_assert_uint_eq(c.lock.owner, 2);
}
END_TEST

/* The command layer's wait with timeout 0: wait, then requeue at once;
 * with a lock waiter queued, the lock goes to it first. */
START_TEST(test_cond_wait_zero_timeout)
{
	struct waiter	*lw, *w;

	acquire_ok(1);
	lw = acquire_park(2);
	w = wait_ok(1);
	cond_requeue(&c.lock, w, QLOCK_TIMEOUT, &clk, &woken);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), lw);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	ck_assert_ptr_eq(w->wq, &c.lock.waiters);
	release_ok(2);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), w);
	ck_assert_int_eq(w->outcome, QLOCK_TIMEOUT);
	ck_assert_uint_eq(c.lock.owner, 1);
}
END_TEST

/* Tokens strictly increase over grants, wait hand-offs and relocks. */
START_TEST(test_cond_tokens_increase)
{
	struct waiter	*w;
	uint64_t	 last = 0;
	int		 round;

	for (round = 0; round < 30; round++) {
		acquire_ok(1);
		ck_assert_uint_gt(c.lock.token, last);
		last = c.lock.token;
		w = wait_ok(1);
		acquire_ok(2);
		ck_assert_uint_gt(c.lock.token, last);
		last = c.lock.token;
		if (round % 2 == 0) {
			ck_assert_uint_eq(notify(2, 1), 1);
		} else {
			release_ok(2);
			cond_requeue(&c.lock, w, QLOCK_TIMEOUT, &clk, &woken);
			acquire_park(2);
		}
		if (round % 2 == 0)
			release_ok(2);
		ck_assert_uint_eq(c.lock.owner, 1);
		ck_assert_uint_eq(w->value, c.lock.token);
		ck_assert_uint_gt(w->value, last);
		last = w->value;
		release_ok(1);
		if (round % 2 == 1) {
			ck_assert_uint_eq(c.lock.owner, 2);
			ck_assert_uint_gt(c.lock.token, last);
			last = c.lock.token;
			release_ok(2);
		}
		ck_assert(!lock_busy(&c.lock));
	}
}
END_TEST

/* Over a given (plain) Lock, as Python's Condition(lock): wait releases
 * that lock, not the condition's own; notify needs that lock and queues
 * the waiter for it; the grant restores the depth on that lock. */
START_TEST(test_cond_over_given_lock)
{
	struct lock	 ext;
	struct waiter	*w = waiter_new(1);
	uint32_t	 moved;

	lock_init(&ext, false);
	ck_assert_int_eq(lock_acquire(&ext, 1, &clk), 0);
	/* Holding ext, not c.lock: waiting over c.lock is refused. */
	ck_assert_int_eq(cond_wait(&c, &c.lock, 1, w, &clk, &woken),
	    QLOCK_ENOTOWNER);
	ck_assert_int_eq(cond_wait(&c, &ext, 1, w, &clk, &woken), 0);
	ck_assert_uint_eq(ext.owner, 0);
	ck_assert(!lock_busy(&c.lock));
	ck_assert_int_eq(lock_acquire(&ext, 2, &clk), 0);
	ck_assert_int_eq(cond_notify(&c, &c.lock, 2, 1, &moved),
	    QLOCK_ENOTOWNER);
	ck_assert_int_eq(cond_notify(&c, &ext, 2, 1, &moved), 0);
	ck_assert_uint_eq(moved, 1);
	ck_assert_ptr_eq(w->wq, &ext.waiters);
	ck_assert_int_eq(lock_release(&ext, 2, &clk, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), w);
	ck_assert_uint_eq(ext.owner, 1);
	ck_assert_uint_eq(ext.depth, 1);
	ck_assert(!lock_busy(&c.lock));
}
END_TEST

/* A wait that times out with the lock free but for a place kept for a
 * session not back yet (away) re-acquires at once: the place is passed
 * over, as by any hand-off. */
START_TEST(test_cond_requeue_timeout_past_away)
{
	struct waiter	*w, *p;

	acquire_ok(1);
	w = wait_ok(1);
	p = waiter_new(2);
	p->op = WOP_LOCK_ACQUIRE;
	p->away = true;
	lock_park(&c.lock, p, 1);
	cond_requeue(&c.lock, w, QLOCK_TIMEOUT, &clk, &woken);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), w);
	ck_assert_int_eq(w->status, QLOCK_OK);
	ck_assert_uint_eq(c.lock.owner, 1);
	ck_assert_ptr_eq(waitq_first(&c.lock.waiters), p);
}
END_TEST

static Suite *
cond_suite(void)
{
	Suite	*s = suite_create("cond");
	TCase	*tc;

	tc = tcase_create("wait");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cond_lock_recursive);
	tcase_add_test(tc, test_cond_wait_without_lock);
	tcase_add_test(tc, test_cond_wait_releases_fully);
	tcase_add_test(tc, test_cond_wait_hands_lock_on);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cond_notify_without_lock);
	tcase_add_test(tc, test_cond_notify_n_oldest);
	tcase_add_test(tc, test_cond_notified_relock_after_release);
	tcase_add_test(tc, test_cond_notified_behind_lock_waiters);
	tcase_add_test(tc, test_cond_over_given_lock);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeout");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cond_requeue_timeout_lock_free);
	tcase_add_test(tc, test_cond_requeue_timeout_lock_held);
	tcase_add_test(tc, test_cond_wait_zero_timeout);
	tcase_add_test(tc, test_cond_tokens_increase);
	tcase_add_test(tc, test_cond_requeue_timeout_past_away);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(cond_suite(), CK_FORK_GETENV);
}
