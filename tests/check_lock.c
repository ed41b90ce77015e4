/* check_lock.c: unit tests of the pure Lock/RLock state machine against
 * Python's threading semantics, FIFO hand-off and fencing tokens. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "qlock.h"
#include "obj_lock.h"
#include "suiterun.h"
#include "util.h"
#include "waiterpool.h"
#include "waitq.h"

static struct lock	  l;		/* the lock under test */
static uint64_t		  clk;		/* the token counter it draws from */
static struct waitlist	  woken;	/* what the operations woke */

static void
setup(void)
{
	TAILQ_INIT(&woken);
	clk = 0;
}

/* Take every waiter off its queue and free it. */
static void
teardown(void)
{
	pool_free();
}

/* Acquire for sess, expecting an immediate grant; returns the token. */
static uint64_t
acquire_ok(uint64_t sess)
{
	ck_assert_int_eq(lock_acquire(&l, sess, &clk), 0);
	ck_assert_uint_eq(l.owner, sess);
	return l.token;
}

/* Acquire for sess, expecting LOCK_WAIT; park a waiter as the command
 * layer does (depth 1). */
static struct waiter *
acquire_park(uint64_t sess)
{
	struct waiter	*w;

	ck_assert_int_eq(lock_acquire(&l, sess, &clk), LOCK_WAIT);
	w = pool_waiter(sess);
	w->op = WOP_LOCK_ACQUIRE;
	lock_park(&l, w, 1);
	return w;
}

/* A free lock is granted at once with the next token. */
START_TEST(test_lock_acquire_free_grants)
{
	lock_init(&l, false);
	ck_assert(!lock_busy(&l));
	clk = 41;
	ck_assert_uint_eq(acquire_ok(7), 42);
	ck_assert_uint_eq(clk, 42);
	ck_assert_uint_eq(l.depth, 1);
	ck_assert(lock_busy(&l));
	ck_assert_uint_eq(waitlist_len(&woken), 0);
}
END_TEST

/* Python's Lock deadlocks on re-acquire by its holder: we ask to wait,
 * and nothing about the grant changes. */
START_TEST(test_lock_nonrecursive_reacquire_waits)
{
	uint64_t	tok;

	lock_init(&l, false);
	tok = acquire_ok(1);
	ck_assert_int_eq(lock_acquire(&l, 1, &clk), LOCK_WAIT);
	ck_assert_uint_eq(l.owner, 1);
	ck_assert_uint_eq(l.depth, 1);
	ck_assert_uint_eq(l.token, tok);
	ck_assert_uint_eq(clk, tok);
	ck_assert_int_eq(lock_acquire(&l, 2, &clk), LOCK_WAIT);
	ck_assert_uint_eq(l.owner, 1);
}
END_TEST

/* Release by the owner frees the lock; the next grant has a new token. */
START_TEST(test_lock_release_frees)
{
	uint64_t	t1, t2;

	lock_init(&l, _i == 1);
	t1 = acquire_ok(1);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 0);
	ck_assert_uint_eq(l.depth, 0);
	ck_assert(!lock_busy(&l));
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	t2 = acquire_ok(2);
	ck_assert_uint_gt(t2, t1);
}
END_TEST

/* Release by anyone but the owner is refused and changes nothing; so is
 * the release of a free lock and a second release (loop: Lock, RLock). */
START_TEST(test_lock_release_not_owner)
{
	uint64_t	tok;

	lock_init(&l, _i == 1);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), QLOCK_ENOTOWNER);
	ck_assert_int_eq(lock_release(&l, 0, &clk, &woken), QLOCK_ENOTOWNER);
	tok = acquire_ok(1);
	ck_assert_int_eq(lock_release(&l, 2, &clk, &woken), QLOCK_ENOTOWNER);
	ck_assert_int_eq(lock_release(&l, 0, &clk, &woken), QLOCK_ENOTOWNER);
	ck_assert_uint_eq(l.owner, 1);
	ck_assert_uint_eq(l.depth, 1);
	ck_assert_uint_eq(l.token, tok);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), QLOCK_ENOTOWNER);
	ck_assert_uint_eq(clk, tok);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
}
END_TEST

/* RLock: the owner re-enters, counting depth under one token; only the
 * last release frees it; others wait meanwhile. */
START_TEST(test_lock_rlock_depth)
{
	uint64_t	tok;
	int		i;

	lock_init(&l, true);
	tok = acquire_ok(5);
	for (i = 2; i <= 4; i++) {
		ck_assert_int_eq(lock_acquire(&l, 5, &clk), 0);
		ck_assert_uint_eq(l.depth, (uint32_t)i);
		ck_assert_uint_eq(l.token, tok);
	}
	ck_assert_uint_eq(clk, tok);
	ck_assert_int_eq(lock_acquire(&l, 6, &clk), LOCK_WAIT);
	for (i = 3; i >= 1; i--) {
		ck_assert_int_eq(lock_release(&l, 5, &clk, &woken), 0);
		ck_assert_uint_eq(l.depth, (uint32_t)i);
		ck_assert_uint_eq(l.owner, 5);
	}
	ck_assert_int_eq(lock_release(&l, 6, &clk, &woken), QLOCK_ENOTOWNER);
	ck_assert_int_eq(lock_release(&l, 5, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 0);
	ck_assert_uint_eq(l.depth, 0);
	ck_assert_int_eq(lock_release(&l, 5, &clk, &woken), QLOCK_ENOTOWNER);
}
END_TEST

/* An RLock's owner re-enters even while others are queued (Python). */
START_TEST(test_lock_rlock_reenter_with_waiters)
{
	struct waiter	*w;

	lock_init(&l, true);
	acquire_ok(1);
	w = acquire_park(2);
	ck_assert_int_eq(lock_acquire(&l, 1, &clk), 0);
	ck_assert_uint_eq(l.depth, 2);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert_ptr_eq(w->wq, &l.waiters);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), w);
	ck_assert_uint_eq(l.owner, 2);
}
END_TEST

/* Each release hands the lock to the oldest waiter: its session owns it,
 * its value is the new token, and nothing else is woken. */
START_TEST(test_lock_handoff_oldest)
{
	struct waiter	*w[4];
	uint64_t	 last;
	int		 i;

	lock_init(&l, _i == 1);
	last = acquire_ok(10);
	for (i = 0; i < 4; i++)
		w[i] = acquire_park(11 + (uint64_t)i);
	ck_assert_uint_eq(l.waiters.n, 4);
	for (i = 0; i < 4; i++) {
		uint64_t	owner = i == 0 ? 10 : 11 + (uint64_t)i - 1;

		ck_assert_int_eq(lock_release(&l, owner, &clk, &woken), 0);
		ck_assert_uint_eq(waitlist_len(&woken), (size_t)i + 1);
		ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), w[i]);
		ck_assert_int_eq(w[i]->status, QLOCK_OK);
		ck_assert_ptr_null(w[i]->wq);
		ck_assert_uint_eq(l.owner, w[i]->ctx.sess);
		ck_assert_uint_eq(l.depth, 1);
		ck_assert_uint_eq(w[i]->value, l.token);
		ck_assert_uint_gt(l.token, last);
		last = l.token;
		ck_assert_uint_eq(l.waiters.n, 3 - (size_t)i);
		/* still waiting: the later ones */
		if (i < 3)
			ck_assert_ptr_eq(waitq_first(&l.waiters), w[i + 1]);
	}
	ck_assert_int_eq(lock_release(&l, 14, &clk, &woken), 0);
	ck_assert(!lock_busy(&l));
	ck_assert_uint_eq(waitlist_len(&woken), 4);
}
END_TEST

/* No barging: once someone waits, a newcomer (even the old owner, right
 * after handing off) waits behind them. */
START_TEST(test_lock_no_barging)
{
	struct waiter	*a, *b;

	lock_init(&l, false);
	acquire_ok(1);
	a = acquire_park(2);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 2);
	b = acquire_park(1);
	ck_assert_int_eq(lock_acquire(&l, 3, &clk), LOCK_WAIT);
	ck_assert_int_eq(lock_release(&l, 2, &clk, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), a);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), b);
	ck_assert_uint_eq(l.owner, 1);
	ck_assert_uint_eq(b->value, l.token);
	ck_assert_uint_gt(b->value, a->value);
}
END_TEST

/* A waiter taken off the queue (timed out) is skipped by the hand-off. */
START_TEST(test_lock_cancelled_waiter_skipped)
{
	struct waiter	*a, *b, *c;

	lock_init(&l, false);
	acquire_ok(1);
	a = acquire_park(2);
	b = acquire_park(3);
	c = acquire_park(4);
	waitq_remove(b);
	ck_assert_uint_eq(l.waiters.n, 2);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), a);
	waitq_remove(a);	/* no-op: already woken */
	ck_assert_int_eq(lock_release(&l, 2, &clk, &woken), 0);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), c);
	ck_assert_uint_eq(l.owner, 4);
	ck_assert_uint_eq(waitlist_len(&woken), 2);
	ck_assert_int_eq(b->status, 12345);
	waitq_remove(c);
	ck_assert_int_eq(lock_release(&l, 4, &clk, &woken), 0);
	ck_assert(!lock_busy(&l));
}
END_TEST

/* The last waiter leaving by timeout leaves a free lock behind that the
 * next acquire gets at once. */
START_TEST(test_lock_all_waiters_cancelled)
{
	struct waiter	*a;

	lock_init(&l, false);
	acquire_ok(1);
	a = acquire_park(2);
	waitq_remove(a);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert(!lock_busy(&l));
	acquire_ok(2);
}
END_TEST

/* A waiter parked with a depth (a condition's re-acquirer) gets it. */
START_TEST(test_lock_handoff_restores_depth)
{
	struct waiter	*w;

	lock_init(&l, true);
	acquire_ok(1);
	ck_assert_int_eq(lock_acquire(&l, 2, &clk), LOCK_WAIT);
	w = pool_waiter(2);
	lock_park(&l, w, 3);
	ck_assert_uint_eq(w->depth, 3);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 2);
	ck_assert_uint_eq(l.depth, 3);
	ck_assert_int_eq(lock_release(&l, 2, &clk, &woken), 0);
	ck_assert_int_eq(lock_release(&l, 2, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 2);
	ck_assert_int_eq(lock_release(&l, 2, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 0);
}
END_TEST

/* A session that ends gives back every level and hands off; anyone else's
 * release_all does nothing (loop: Lock, RLock). */
START_TEST(test_lock_release_all)
{
	struct waiter	*w;
	uint32_t	 depth = _i == 1 ? 3 : 1;
	uint32_t	 i;
	uint64_t	 tok;

	lock_init(&l, _i == 1);
	ck_assert_uint_eq(lock_release_all(&l, 1, &clk, &woken), 0);
	tok = acquire_ok(1);
	for (i = 1; i < depth; i++)
		ck_assert_int_eq(lock_acquire(&l, 1, &clk), 0);
	w = acquire_park(2);
	ck_assert_uint_eq(lock_release_all(&l, 2, &clk, &woken), 0);
	ck_assert_uint_eq(lock_release_all(&l, 0, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 1);
	ck_assert_uint_eq(l.depth, depth);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert_uint_eq(lock_release_all(&l, 1, &clk, &woken), depth);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), w);
	ck_assert_int_eq(w->status, QLOCK_OK);
	ck_assert_uint_eq(l.owner, 2);
	ck_assert_uint_eq(l.depth, 1);
	ck_assert_uint_gt(w->value, tok);
	ck_assert_uint_eq(w->value, l.token);
	ck_assert_uint_eq(lock_release_all(&l, 1, &clk, &woken), 0);
	ck_assert_uint_eq(lock_release_all(&l, 2, &clk, &woken), 1);
	ck_assert(!lock_busy(&l));
	ck_assert_uint_eq(waitlist_len(&woken), 1);
}
END_TEST

/* Hand-offs append to a woken list that already holds others. */
START_TEST(test_lock_woken_appended)
{
	struct waiter	*other, *w;

	lock_init(&l, false);
	other = pool_waiter(99);
	TAILQ_INSERT_TAIL(&woken, other, link);
	acquire_ok(1);
	w = acquire_park(2);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), other);
	ck_assert_ptr_eq(TAILQ_NEXT(other, link), w);
	ck_assert_uint_eq(waitlist_len(&woken), 2);
}
END_TEST

/* Tokens drawn from one counter by several locks strictly increase over
 * every grant and hand-off, and re-entry never draws one. */
START_TEST(test_lock_tokens_increase)
{
	struct lock	 m;
	struct waiter	*w;
	uint64_t	 last = 0, t;
	int		 round;

	lock_init(&l, true);
	lock_init(&m, false);
	for (round = 0; round < 50; round++) {
		t = acquire_ok(1);
		ck_assert_uint_gt(t, last);
		last = t;
		ck_assert_int_eq(lock_acquire(&l, 1, &clk), 0);
		ck_assert_uint_eq(l.token, last);
		ck_assert_int_eq(lock_acquire(&m, 2, &clk), 0);
		ck_assert_uint_gt(m.token, last);
		last = m.token;
		w = acquire_park(3);
		ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
		ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
		ck_assert_uint_gt(w->value, last);
		last = w->value;
		ck_assert_uint_eq(lock_release_all(&l, 3, &clk, &woken), 1);
		ck_assert_int_eq(lock_release(&m, 2, &clk, &woken), 0);
		ck_assert_uint_eq(clk, last);
	}
}
END_TEST

/* A reference model of ownership, depth and the FIFO, driven with random
 * operations by four sessions (loop: seeds; even Lock, odd RLock). */
START_TEST(test_lock_model_random)
{
	struct waiter	*parked[5] = { NULL };	/* by session 1..4 */
	uint64_t	 fifo[8], mowner = 0, last = 0;
	uint32_t	 mdepth = 0;
	size_t		 nfifo = 0, k;
	unsigned	 seed = 1234u + (unsigned)_i;
	int		 step;

	lock_init(&l, _i % 2 == 1);
	for (step = 0; step < 3000; step++) {
		uint64_t	 s = 1 + (uint64_t)(rand_r(&seed) % 4);
		struct waiter	*w;
		int		 op = rand_r(&seed) % 4, rc;

		TAILQ_INIT(&woken);
		switch (op) {
		case 0:		/* acquire */
			if (parked[s] != NULL)
				break;
			rc = lock_acquire(&l, s, &clk);
			if (mowner == 0 && nfifo == 0) {
				ck_assert_int_eq(rc, 0);
				mowner = s;
				mdepth = 1;
				ck_assert_uint_gt(l.token, last);
				last = l.token;
			} else if (mowner == s && l.recursive) {
				ck_assert_int_eq(rc, 0);
				mdepth++;
			} else {
				ck_assert_int_eq(rc, LOCK_WAIT);
				w = pool_waiter(s);
				lock_park(&l, w, 1);
				parked[s] = w;
				fifo[nfifo++] = s;
			}
			break;
		case 1:		/* release */
		case 2:		/* session ends */
			if (op == 1)
				rc = lock_release(&l, s, &clk, &woken);
			else
				rc = (int)lock_release_all(&l, s, &clk, &woken);
			if (mowner != s) {
				ck_assert_int_eq(rc, op == 1 ?
				    QLOCK_ENOTOWNER : 0);
				ck_assert_uint_eq(waitlist_len(&woken), 0);
				break;
			}
			ck_assert_int_eq(rc, op == 1 ? 0 : (int)mdepth);
			mdepth = op == 1 ? mdepth - 1 : 0;
			if (mdepth > 0) {
				ck_assert_uint_eq(waitlist_len(&woken), 0);
				break;
			}
			mowner = 0;
			if (nfifo == 0) {
				ck_assert_uint_eq(waitlist_len(&woken), 0);
				break;
			}
			mowner = fifo[0];
			mdepth = 1;
			memmove(fifo, fifo + 1, --nfifo * sizeof(*fifo));
			ck_assert_uint_eq(waitlist_len(&woken), 1);
			w = TAILQ_FIRST(&woken);
			ck_assert_ptr_eq(w, parked[mowner]);
			ck_assert_int_eq(w->status, QLOCK_OK);
			ck_assert_uint_gt(w->value, last);
			last = w->value;
			parked[mowner] = NULL;
			break;
		case 3:		/* a waiter times out */
			if ((w = parked[s]) == NULL)
				break;
			waitq_remove(w);
			parked[s] = NULL;
			for (k = 0; fifo[k] != s; k++)
				;
			memmove(fifo + k, fifo + k + 1,
			    (--nfifo - k) * sizeof(*fifo));
			break;
		}
		ck_assert_uint_eq(l.owner, mowner);
		ck_assert_uint_eq(l.depth, mdepth);
		ck_assert_uint_eq(l.waiters.n, nfifo);
		ck_assert(lock_busy(&l) == (mowner != 0 || nfifo > 0));
		if (mowner != 0)
			ck_assert_uint_eq(l.token, last);
		ck_assert_uint_eq(clk, last);
	}
}
END_TEST

/* A place kept for a session not back yet (away) is passed over: a
 * release goes to the next waiter or leaves the lock free, an acquire
 * takes a free lock; back and first in line, lock_pump grants it. */
START_TEST(test_lock_away_passed_over)
{
	struct waiter	*p, *w;

	lock_init(&l, false);
	acquire_ok(1);
	p = acquire_park(2);
	p->away = true;
	w = acquire_park(3);
	ck_assert_int_eq(lock_release(&l, 1, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 3);		/* past 2's place */
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), w);
	ck_assert_ptr_eq(waitq_first(&l.waiters), p);
	ck_assert_int_eq(lock_release(&l, 3, &clk, &woken), 0);
	ck_assert_uint_eq(l.owner, 0);		/* free, 2 still away */
	ck_assert(!lock_pump(&l, &clk, &woken));
	acquire_ok(4);				/* a free lock is taken */
	ck_assert_int_eq(lock_release(&l, 4, &clk, &woken), 0);
	p->away = false;			/* 2 is back: its turn */
	ck_assert(lock_pump(&l, &clk, &woken));
	ck_assert_uint_eq(l.owner, 2);
	ck_assert_uint_eq(p->value, l.token);
	ck_assert(!lock_pump(&l, &clk, &woken));
}
END_TEST

static Suite *
lock_suite(void)
{
	Suite	*s = suite_create("lock");
	TCase	*tc;

	tc = tcase_create("ownership");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lock_acquire_free_grants);
	tcase_add_test(tc, test_lock_nonrecursive_reacquire_waits);
	tcase_add_loop_test(tc, test_lock_release_frees, 0, 2);
	tcase_add_loop_test(tc, test_lock_release_not_owner, 0, 2);
	tcase_add_test(tc, test_lock_rlock_depth);
	tcase_add_test(tc, test_lock_rlock_reenter_with_waiters);
	suite_add_tcase(s, tc);

	tc = tcase_create("handoff");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_lock_handoff_oldest, 0, 2);
	tcase_add_test(tc, test_lock_no_barging);
	tcase_add_test(tc, test_lock_cancelled_waiter_skipped);
	tcase_add_test(tc, test_lock_all_waiters_cancelled);
	tcase_add_test(tc, test_lock_handoff_restores_depth);
	tcase_add_loop_test(tc, test_lock_release_all, 0, 2);
	tcase_add_test(tc, test_lock_woken_appended);
	suite_add_tcase(s, tc);

	tc = tcase_create("tokens");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lock_tokens_increase);
	tcase_add_test(tc, test_lock_away_passed_over);
	tcase_add_loop_test(tc, test_lock_model_random, 0, 8);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(lock_suite(), CK_FORK_GETENV);
}
