/* check_event.c: unit tests of the pure Event state machine against
 * Python's threading.Event semantics. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "qlock.h"
#include "obj_event.h"
#include "suiterun.h"
#include "util.h"
#include "waiterpool.h"
#include "waitq.h"

static struct qevent	  e;		/* the event under test */
static struct waitlist	  woken;	/* what the operations woke */

static void
setup(void)
{
	TAILQ_INIT(&woken);
	qevent_init(&e);
}

/* Take every waiter off its queue and free it. */
static void
teardown(void)
{
	pool_free();
}

/* wait() on a clear event: QEVENT_WAIT; park a waiter. */
static struct waiter *
wait_park(uint64_t sess)
{
	struct waiter	*w;

	ck_assert_int_eq(qevent_wait(&e), QEVENT_WAIT);
	w = pool_waiter(sess);
	w->op = WOP_EVENT_WAIT;
	waitq_push(&e.waiters, w);
	return w;
}

/* A new event is clear: wait() blocks. */
START_TEST(test_event_starts_clear)
{
	ck_assert(!e.set);
	ck_assert_int_eq(qevent_wait(&e), QEVENT_WAIT);
	ck_assert_uint_eq(e.waiters.n, 0);
}
END_TEST

/* Once set, wait() returns at once, as often as asked. */
START_TEST(test_event_set_then_wait)
{
	int	i;

	qevent_set(&e, &woken);
	ck_assert(e.set);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(qevent_wait(&e), 0);
}
END_TEST

/* set() wakes every waiter, oldest first, with OK. */
START_TEST(test_event_set_wakes_all)
{
	struct waiter	*w[5], *x;
	int		 i;

	for (i = 0; i < 5; i++)
		w[i] = wait_park(1 + (uint64_t)i);
	ck_assert_uint_eq(e.waiters.n, 5);
	qevent_set(&e, &woken);
	ck_assert_uint_eq(e.waiters.n, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 5);
	i = 0;
	TAILQ_FOREACH(x, &woken, link) {
		ck_assert_ptr_eq(x, w[i]);
		ck_assert_int_eq(x->status, QLOCK_OK);
		ck_assert_ptr_null(x->wq);
		i++;
	}
}
END_TEST

/* clear() makes wait() block again and wakes nobody; a later set() wakes
 * those who came after the clear. */
START_TEST(test_event_clear)
{
	struct waiter	*a, *b;

	qevent_set(&e, &woken);
	qevent_clear(&e);
	ck_assert(!e.set);
	a = wait_park(1);
	qevent_clear(&e);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert_ptr_eq(a->wq, &e.waiters);
	b = wait_park(2);
	qevent_set(&e, &woken);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), a);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), b);
	ck_assert_int_eq(qevent_wait(&e), 0);
}
END_TEST

/* Setting a set event is harmless and wakes only new waiters (none can
 * park while it is set, so none). */
START_TEST(test_event_set_twice)
{
	wait_park(1);
	qevent_set(&e, &woken);
	qevent_set(&e, &woken);
	ck_assert(e.set);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
}
END_TEST

/* A waiter that timed out is not woken by set(). */
START_TEST(test_event_cancelled_not_woken)
{
	struct waiter	*a, *b;

	a = wait_park(1);
	b = wait_park(2);
	waitq_remove(a);
	qevent_set(&e, &woken);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), b);
	ck_assert_int_eq(a->status, 12345);
}
END_TEST

/* Woken waiters are appended after what the list already holds. */
START_TEST(test_event_woken_appended)
{
	struct waiter	*other, *w;

	other = pool_waiter(99);
	TAILQ_INSERT_TAIL(&woken, other, link);
	w = wait_park(1);
	qevent_set(&e, &woken);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), other);
	ck_assert_ptr_eq(TAILQ_NEXT(other, link), w);
}
END_TEST

/* Many rounds of set/clear keep flag and queue consistent. */
START_TEST(test_event_rounds)
{
	int	round, i;

	for (round = 0; round < 20; round++) {
		TAILQ_INIT(&woken);
		for (i = 0; i < round; i++)
			wait_park((uint64_t)i + 1);
		qevent_set(&e, &woken);
		ck_assert_uint_eq(waitlist_len(&woken), (size_t)round);
		ck_assert_int_eq(qevent_wait(&e), 0);
		qevent_clear(&e);
		ck_assert_int_eq(qevent_wait(&e), QEVENT_WAIT);
	}
}
END_TEST

static Suite *
event_suite(void)
{
	Suite	*s = suite_create("event");
	TCase	*tc;

	tc = tcase_create("flag");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_event_starts_clear);
	tcase_add_test(tc, test_event_set_then_wait);
	tcase_add_test(tc, test_event_clear);
	tcase_add_test(tc, test_event_set_twice);
	suite_add_tcase(s, tc);

	tc = tcase_create("waiters");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_event_set_wakes_all);
	tcase_add_test(tc, test_event_cancelled_not_woken);
	tcase_add_test(tc, test_event_woken_appended);
	tcase_add_test(tc, test_event_rounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(event_suite(), CK_FORK_GETENV);
}
