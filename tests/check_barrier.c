/* check_barrier.c: unit tests of the pure Barrier state machine against
 * Python's threading.Barrier semantics (indexes, reuse, abort, reset). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "qlock.h"
#include "obj_barrier.h"
#include "suiterun.h"
#include "util.h"
#include "waiterpool.h"
#include "waitq.h"

static struct barrier	  b;		/* the barrier under test */
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

/* A fresh, unparked waiter for session sess that teardown frees. */
static struct waiter *
waiter_new(uint64_t sess)
{
	struct waiter	*w = pool_waiter(sess);

	w->value = 12345;
	return w;
}

/* Arrive, expecting BARRIER_WAIT with index want; park a waiter holding
 * the index as the command layer does. */
static struct waiter *
arrive_park(uint64_t sess, uint32_t want)
{
	struct waiter	*w;
	uint32_t	 index = 12345;

	ck_assert_int_eq(barrier_wait(&b, &index, &woken), BARRIER_WAIT);
	ck_assert_uint_eq(index, want);
	w = waiter_new(sess);
	w->op = WOP_BARRIER_WAIT;
	w->value = index;
	waitq_push(&b.waiters, w);
	return w;
}

/* One full round of b.parties: the first parties-1 park, the last passes
 * at once with the last index and wakes the others in arrival order,
 * each with its own index. */
static void
round_ok(void)
{
	struct waiter	*w, *first = NULL;
	uint32_t	 i, index = 12345;
	bool		 seen[64] = { false };

	ck_assert_uint_le(b.parties, 64);
	for (i = 0; i + 1 < b.parties; i++) {
		w = arrive_park(100 + i, i);
		if (first == NULL)
			first = w;
		ck_assert_uint_eq(b.count, i + 1);
	}
	TAILQ_INIT(&woken);
	ck_assert_int_eq(barrier_wait(&b, &index, &woken), 0);
	ck_assert_uint_eq(index, b.parties - 1);
	seen[index] = true;
	ck_assert_uint_eq(waitlist_len(&woken), b.parties - 1);
	ck_assert_uint_eq(b.waiters.n, 0);
	ck_assert_uint_eq(b.count, 0);
	i = 0;
	TAILQ_FOREACH(w, &woken, link) {
		if (i == 0)
			ck_assert_ptr_eq(w, first);
		ck_assert_int_eq(w->status, QLOCK_OK);
		ck_assert_ptr_null(w->wq);
		ck_assert_uint_eq(w->value, i);
		ck_assert(!seen[w->value]);
		seen[w->value] = true;
		i++;
	}
	for (i = 0; i < b.parties; i++)
		ck_assert(seen[i]);
}

/* Barrier(5): indexes 0..4 by arrival; the last releases the other four. */
START_TEST(test_barrier_round)
{
	barrier_init(&b, 5);
	ck_assert_uint_eq(b.parties, 5);
	ck_assert_uint_eq(b.count, 0);
	ck_assert(!b.broken);
	round_ok();
	ck_assert(!b.broken);
}
END_TEST

/* The barrier is reusable: further rounds number from 0 again. */
START_TEST(test_barrier_reusable)
{
	int	r;

	barrier_init(&b, 5);
	for (r = 0; r < 4; r++)
		round_ok();
}
END_TEST

/* Barrier(1) passes at once with index 0, waking nobody. */
START_TEST(test_barrier_one_party)
{
	uint32_t	index = 12345;

	barrier_init(&b, 1);
	ck_assert_int_eq(barrier_wait(&b, &index, &woken), 0);
	ck_assert_uint_eq(index, 0);
	ck_assert_int_eq(barrier_wait(&b, &index, &woken), 0);
	ck_assert_uint_eq(index, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
}
END_TEST

/* Sizes from 2 to 40 (loop): every round numbers its parties 0..n-1. */
START_TEST(test_barrier_sizes)
{
	barrier_init(&b, 2 + (uint32_t)_i * 2);
	round_ok();
	round_ok();
}
END_TEST

/* abort() wakes every waiting party with EBROKEN; later waits fail at
 * once until reset, after which the barrier works again from index 0. */
START_TEST(test_barrier_abort)
{
	struct waiter	*w[3], *x;
	uint32_t	 index = 12345;
	int		 i;

	barrier_init(&b, 5);
	for (i = 0; i < 3; i++)
		w[i] = arrive_park(1 + (uint64_t)i, (uint32_t)i);
	barrier_break(&b, &woken);
	ck_assert(b.broken);
	ck_assert_uint_eq(b.waiters.n, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 3);
	i = 0;
	TAILQ_FOREACH(x, &woken, link) {
		ck_assert_ptr_eq(x, w[i]);
		ck_assert_int_eq(x->status, QLOCK_EBROKEN);
		ck_assert_ptr_null(x->wq);
		i++;
	}
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(barrier_wait(&b, &index, &woken),
		    QLOCK_EBROKEN);
		ck_assert_uint_eq(index, 12345);
	}
	ck_assert_uint_eq(b.waiters.n, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 3);
	barrier_reset(&b, &woken);
	ck_assert(!b.broken);
	ck_assert_uint_eq(waitlist_len(&woken), 3);
	round_ok();
}
END_TEST

/* abort() of an idle barrier breaks it too (Python). */
START_TEST(test_barrier_abort_idle)
{
	uint32_t	index;

	barrier_init(&b, 3);
	barrier_break(&b, &woken);
	ck_assert_int_eq(barrier_wait(&b, &index, &woken), QLOCK_EBROKEN);
	barrier_break(&b, &woken);
	ck_assert(b.broken);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
}
END_TEST

/* reset() fails the parties waiting now with EBROKEN but leaves the
 * barrier usable, counting from 0. */
START_TEST(test_barrier_reset_waiting)
{
	struct waiter	*a, *c;

	barrier_init(&b, 4);
	a = arrive_park(1, 0);
	c = arrive_park(2, 1);
	barrier_reset(&b, &woken);
	ck_assert(!b.broken);
	ck_assert_uint_eq(b.count, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 2);
	ck_assert_int_eq(a->status, QLOCK_EBROKEN);
	ck_assert_int_eq(c->status, QLOCK_EBROKEN);
	round_ok();
}
END_TEST

/* A party timing out breaks the round (the command layer parks it, then
 * breaks): the timed-out party and the others all get EBROKEN. */
START_TEST(test_barrier_timeout_breaks)
{
	struct waiter	*a, *t;

	barrier_init(&b, 3);
	a = arrive_park(1, 0);
	t = arrive_park(2, 1);
	barrier_break(&b, &woken);
	ck_assert_int_eq(a->status, QLOCK_EBROKEN);
	ck_assert_int_eq(t->status, QLOCK_EBROKEN);
	ck_assert_uint_eq(b.count, 0);
	barrier_reset(&b, &woken);
	round_ok();
}
END_TEST

/* Woken parties are appended after what the list already holds. */
START_TEST(test_barrier_woken_appended)
{
	struct waiter	*other, *w;
	uint32_t	 index;

	barrier_init(&b, 2);
	other = waiter_new(99);
	TAILQ_INSERT_TAIL(&woken, other, link);
	w = arrive_park(1, 0);
	ck_assert_int_eq(barrier_wait(&b, &index, &woken), 0);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), other);
	ck_assert_ptr_eq(TAILQ_NEXT(other, link), w);
}
END_TEST

static Suite *
barrier_suite(void)
{
	Suite	*s = suite_create("barrier");
	TCase	*tc;

	tc = tcase_create("rounds");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_barrier_round);
	tcase_add_test(tc, test_barrier_reusable);
	tcase_add_test(tc, test_barrier_one_party);
	tcase_add_loop_test(tc, test_barrier_sizes, 0, 20);
	tcase_add_test(tc, test_barrier_woken_appended);
	suite_add_tcase(s, tc);

	tc = tcase_create("broken");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_barrier_abort);
	tcase_add_test(tc, test_barrier_abort_idle);
	tcase_add_test(tc, test_barrier_reset_waiting);
	tcase_add_test(tc, test_barrier_timeout_breaks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(barrier_suite(), CK_FORK_GETENV);
}
