/* check_sem.c: unit tests of the pure Semaphore/BoundedSemaphore state
 * machine against Python's threading semantics, with FIFO waiters. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "qlock.h"
#include "obj_sem.h"
#include "suiterun.h"
#include "util.h"
#include "waiterpool.h"
#include "waitq.h"

static struct sem	  s;		/* the semaphore under test */
static struct waitlist	  woken;	/* what the operations woke */

static void
setup(void)
{
	TAILQ_INIT(&woken);
}

/* Take every waiter off its queue and free it. */
static void
teardown(void)
{
	pool_free();
}

/* Acquire, expecting SEM_WAIT; park a waiter as the command layer does. */
static struct waiter *
acquire_park(uint64_t sess)
{
	struct waiter	*w;

	ck_assert_int_eq(sem_acquire(&s), SEM_WAIT);
	w = pool_waiter(sess);
	w->op = WOP_SEM_ACQUIRE;
	waitq_push(&s.waiters, w);
	return w;
}

/* Each acquire takes a permit until none is left (loop: plain, bounded). */
START_TEST(test_sem_acquire_counts_down)
{
	int	i;

	qsem_init(&s, 3, _i == 1);
	ck_assert_int_eq(s.value, 3);
	ck_assert_int_eq(s.initial, 3);
	for (i = 2; i >= 0; i--) {
		ck_assert_int_eq(sem_acquire(&s), 0);
		ck_assert_int_eq(s.value, i);
	}
	ck_assert_int_eq(sem_acquire(&s), SEM_WAIT);
	ck_assert_int_eq(s.value, 0);
	ck_assert_uint_eq(s.waiters.n, 0);
}
END_TEST

/* Semaphore(0) has nothing to give (loop: plain, bounded). */
START_TEST(test_sem_zero_waits)
{
	qsem_init(&s, 0, _i == 1);
	ck_assert_int_eq(sem_acquire(&s), SEM_WAIT);
	ck_assert_int_eq(s.value, 0);
}
END_TEST

/* A plain Semaphore may be released above its initial value (Python). */
START_TEST(test_sem_unbounded_release_grows)
{
	int	i;

	qsem_init(&s, 1, false);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_int_eq(s.value, 6);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(sem_acquire(&s), 0);
	ck_assert_int_eq(sem_acquire(&s), SEM_WAIT);
}
END_TEST

/* BoundedSemaphore: releasing above the initial value is a ValueError,
 * and the count stays where it was. */
START_TEST(test_sem_bounded_over_release)
{
	qsem_init(&s, 2, true);
	ck_assert_int_eq(sem_release(&s, &woken), QLOCK_EVALUE);
	ck_assert_int_eq(s.value, 2);
	ck_assert_int_eq(sem_acquire(&s), 0);
	ck_assert_int_eq(sem_acquire(&s), 0);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_int_eq(s.value, 2);
	ck_assert_int_eq(sem_release(&s, &woken), QLOCK_EVALUE);
	ck_assert_int_eq(s.value, 2);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
}
END_TEST

/* A release with waiters hands the permit to the oldest one without
 * touching the count; with none left, it goes back to the count. */
START_TEST(test_sem_release_hands_to_oldest)
{
	struct waiter	*w[3];
	int		 i;

	qsem_init(&s, 1, _i == 1);
	ck_assert_int_eq(sem_acquire(&s), 0);
	for (i = 0; i < 3; i++)
		w[i] = acquire_park(10 + (uint64_t)i);
	ck_assert_uint_eq(s.waiters.n, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(sem_release(&s, &woken), 0);
		ck_assert_int_eq(s.value, 0);
		ck_assert_uint_eq(waitlist_len(&woken), (size_t)i + 1);
		ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), w[i]);
		ck_assert_int_eq(w[i]->status, QLOCK_OK);
		ck_assert_ptr_null(w[i]->wq);
		ck_assert_uint_eq(s.waiters.n, 2 - (size_t)i);
	}
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_int_eq(s.value, 1);
	ck_assert_uint_eq(waitlist_len(&woken), 3);
	if (_i == 1)
		ck_assert_int_eq(sem_release(&s, &woken), QLOCK_EVALUE);
}
END_TEST

/* FIFO: a new acquire waits while others wait, even with a permit free
 * (that state is set by hand: the API never leaves a permit beside a
 * waiter, since releases hand over). */
START_TEST(test_sem_no_barging)
{
	struct waiter	*a, *b;

	qsem_init(&s, 0, false);
	a = acquire_park(1);
	s.value = 1;
	ck_assert_int_eq(sem_acquire(&s), SEM_WAIT);
	ck_assert_int_eq(s.value, 1);
	s.value = 0;
	/* after a hand-off the permit is a's, not a newcomer's */
	b = acquire_park(2);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), a);
	ck_assert_int_eq(sem_acquire(&s), SEM_WAIT);
	ck_assert_ptr_eq(waitq_first(&s.waiters), b);
}
END_TEST

/* A waiter that timed out is skipped; when the last one leaves, permits
 * are taken straight from the count again. */
START_TEST(test_sem_cancelled_waiter_skipped)
{
	struct waiter	*a, *b, *c;

	qsem_init(&s, 0, false);
	a = acquire_park(1);
	b = acquire_park(2);
	c = acquire_park(3);
	waitq_remove(a);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), b);
	ck_assert_int_eq(a->status, 12345);
	waitq_remove(c);
	ck_assert_uint_eq(s.waiters.n, 0);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_int_eq(s.value, 1);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	ck_assert_int_eq(sem_acquire(&s), 0);
}
END_TEST

/* Hand-offs are appended to a woken list that already holds others. */
START_TEST(test_sem_woken_appended)
{
	struct waiter	*other, *w;

	qsem_init(&s, 0, false);
	other = pool_waiter(99);
	TAILQ_INSERT_TAIL(&woken, other, link);
	w = acquire_park(1);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), other);
	ck_assert_ptr_eq(TAILQ_NEXT(other, link), w);
}
END_TEST

/* As Python's BoundedSemaphore: the bound is checked before any hand-off,
 * so releasing one opened with 0 fails even while someone waits. */
START_TEST(test_sem_bounded_zero_release_refused)
{
	struct waiter	*w;

	qsem_init(&s, 0, true);
	w = acquire_park(1);
	ck_assert_int_eq(sem_release(&s, &woken), QLOCK_EVALUE);
	ck_assert(TAILQ_EMPTY(&woken));
	ck_assert_int_eq(s.waiters.n, 1);
	ck_assert_ptr_eq(waitq_first(&s.waiters), w);
}
END_TEST

/* A session holding no permit releases a bounded semaphore while another
 * holds one (as Python allows): the holder's own release then fails, so
 * what the log keeps (sem_durable) is the bound, not value + held. */
START_TEST(test_sem_durable_foreign_release)
{
	qsem_init(&s, 2, true);
	ck_assert_int_eq(sem_acquire(&s), 0);
	ck_assert_int_eq(sem_durable(&s, 1), 2);
	ck_assert_int_eq(sem_release(&s, &woken), 0);	/* the foreign one */
	ck_assert_int_eq(s.value, 2);
	ck_assert_int_eq(sem_durable(&s, 1), 2);
	ck_assert_int_eq(sem_release(&s, &woken), QLOCK_EVALUE); /* holder */
	ck_assert_int_eq(s.value, sem_durable(&s, 0));
	/* A plain semaphore keeps every permit. */
	qsem_init(&s, 2, false);
	ck_assert_int_eq(sem_acquire(&s), 0);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_int_eq(sem_durable(&s, 1), 3);
}
END_TEST

/* A reference model: permits held plus permits free stay constant for a
 * bounded semaphore whose holders release what they took (loop: seeds). */
START_TEST(test_sem_model_random)
{
	long		 held = 0, initial = 1 + _i % 4;
	size_t		 nwait = 0;
	unsigned	 seed = 99u + (unsigned)_i;
	int		 step;

	qsem_init(&s, initial, true);
	for (step = 0; step < 3000; step++) {
		int	rc;

		TAILQ_INIT(&woken);
		if (rand_r(&seed) % 2 == 0) {
			bool	grant = s.value > 0 && nwait == 0;

			rc = sem_acquire(&s);
			if (grant) {
				ck_assert_int_eq(rc, 0);
				held++;
			} else {
				ck_assert_int_eq(rc, SEM_WAIT);
				acquire_park(1);
				nwait++;
			}
		} else {
			rc = sem_release(&s, &woken);
			if (held == 0) {
				ck_assert_int_eq(rc, QLOCK_EVALUE);
				ck_assert_uint_eq(nwait, 0);
			} else {
				ck_assert_int_eq(rc, 0);
				if (nwait > 0) {
					ck_assert_uint_eq(waitlist_len(&woken), 1);
					nwait--;
				} else {
					held--;
				}
			}
		}
		ck_assert_int_eq(s.value + held, initial);
		ck_assert_uint_eq(s.waiters.n, nwait);
		ck_assert(nwait == 0 || s.value == 0);
	}
}
END_TEST

/* Away places (sessions not back after a failover) are passed over by
 * releases and acquires; sem_pump hands free permits to those back. */
START_TEST(test_sem_away_passed_over)
{
	struct waiter	*p, *q, *w;

	qsem_init(&s, 1, false);
	ck_assert_int_eq(sem_acquire(&s), 0);
	p = acquire_park(2);
	p->away = true;
	q = acquire_park(3);
	q->away = true;
	w = acquire_park(4);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), w);	/* past 2 and 3 */
	ck_assert_int_eq(s.value, 0);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_int_eq(sem_release(&s, &woken), 0);
	ck_assert_int_eq(s.value, 2);		/* kept free, not given away */
	ck_assert_int_eq(sem_acquire(&s), 0);	/* taken by a live caller */
	ck_assert_int_eq(sem_pump(&s, &woken), 0);
	q->away = false;			/* 3 back: the free permit */
	ck_assert_int_eq(sem_pump(&s, &woken), 1);
	ck_assert_int_eq(s.value, 0);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), q);
	ck_assert_ptr_eq(waitq_first(&s.waiters), p);
}
END_TEST

static Suite *
sem_suite(void)
{
	Suite	*st = suite_create("sem");
	TCase	*tc;

	tc = tcase_create("count");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_sem_acquire_counts_down, 0, 2);
	tcase_add_loop_test(tc, test_sem_zero_waits, 0, 2);
	tcase_add_test(tc, test_sem_unbounded_release_grows);
	tcase_add_test(tc, test_sem_bounded_over_release);
	tcase_add_test(tc, test_sem_durable_foreign_release);
	suite_add_tcase(st, tc);

	tc = tcase_create("waiters");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_sem_release_hands_to_oldest, 0, 2);
	tcase_add_test(tc, test_sem_no_barging);
	tcase_add_test(tc, test_sem_cancelled_waiter_skipped);
	tcase_add_test(tc, test_sem_woken_appended);
	tcase_add_test(tc, test_sem_bounded_zero_release_refused);
	tcase_add_test(tc, test_sem_away_passed_over);
	tcase_add_loop_test(tc, test_sem_model_random, 0, 8);
	suite_add_tcase(st, tc);
	return st;
}

int
main(void)
{
	return suite_run(sem_suite(), CK_FORK_GETENV);
}
