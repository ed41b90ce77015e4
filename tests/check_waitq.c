/* check_waitq.c: unit tests of the FIFO wait queues and the deadline
 * min-heap. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "qlock.h"
#include "suiterun.h"
#include "waitq.h"

#define NW	1000

static struct waiter	*w;		/* NW zeroed, unparked waiters */
static struct waitq	 wq, wq2;
static struct waitlist	 woken;
static struct deadlines	 dl;

static void
setup(void)
{
	size_t	i;

	w = calloc(NW, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	for (i = 0; i < NW; i++) {
		w[i].heap_idx = NO_SLOT;
		w[i].deadline = -1;
	}
	waitq_init(&wq);
	waitq_init(&wq2);
	TAILQ_INIT(&woken);
	deadlines_init(&dl);
}

static void
teardown(void)
{
	deadlines_free(&dl);
	free(w);
}

/* The waiters on q, in order, are exactly idx[0..n). */
static void
assert_order(const struct waitq *q, const int *idx, size_t n)
{
	struct waiter	*x;
	size_t		 i = 0;

	ck_assert_uint_eq(q->n, n);
	TAILQ_FOREACH(x, &q->head, link) {
		ck_assert_uint_lt(i, n);
		ck_assert_ptr_eq(x, &w[idx[i]]);
		ck_assert_ptr_eq(x->wq, q);
		i++;
	}
	ck_assert_uint_eq(i, n);
}

/* A fresh queue is empty. */
START_TEST(test_waitq_empty)
{
	ck_assert_uint_eq(wq.n, 0);
	ck_assert_ptr_null(waitq_first(&wq));
	ck_assert(TAILQ_EMPTY(&wq.head));
}
END_TEST

/* Waiters come off in the order they were pushed. */
START_TEST(test_waitq_fifo)
{
	int	i;

	for (i = 0; i < 10; i++) {
		waitq_push(&wq, &w[i]);
		ck_assert_ptr_eq(w[i].wq, &wq);
		ck_assert_uint_eq(wq.n, (size_t)i + 1);
		ck_assert_ptr_eq(waitq_first(&wq), &w[0]);
	}
	for (i = 0; i < 10; i++) {
		ck_assert_ptr_eq(waitq_first(&wq), &w[i]);
		waitq_remove(&w[i]);
		ck_assert_ptr_null(w[i].wq);
		ck_assert_uint_eq(wq.n, 9 - (size_t)i);
	}
	ck_assert_ptr_null(waitq_first(&wq));
}
END_TEST

/* Removing from the middle, the head and the tail keeps the rest in
 * order; removing twice is harmless. */
START_TEST(test_waitq_remove_middle)
{
	static const int	 all[] = { 0, 1, 2, 3, 4 };
	static const int	 a[] = { 0, 1, 3, 4 };
	static const int	 b[] = { 1, 3, 4 };
	static const int	 c[] = { 1, 3 };
	int			 i;

	for (i = 0; i < 5; i++)
		waitq_push(&wq, &w[i]);
	assert_order(&wq, all, 5);
	waitq_remove(&w[2]);
	ck_assert_ptr_null(w[2].wq);
	assert_order(&wq, a, 4);
	waitq_remove(&w[2]);			/* not parked: no-op */
	assert_order(&wq, a, 4);
	waitq_remove(&w[0]);
	assert_order(&wq, b, 3);
	waitq_remove(&w[4]);
	assert_order(&wq, c, 2);
	waitq_push(&wq, &w[2]);			/* parks again at the tail */
	ck_assert_ptr_eq(TAILQ_LAST(&wq.head, waitlist), &w[2]);
	ck_assert_uint_eq(wq.n, 3);
}
END_TEST

/* A never-parked waiter can be removed safely. */
START_TEST(test_waitq_remove_unparked)
{
	waitq_push(&wq, &w[0]);
	waitq_remove(&w[1]);
	ck_assert_uint_eq(wq.n, 1);
	ck_assert_ptr_eq(waitq_first(&wq), &w[0]);
}
END_TEST

/* Wake takes a waiter off its queue, records the status and appends it to
 * the woken list, in wake order. */
START_TEST(test_waitq_wake)
{
	static const int	 left[] = { 0, 2 };
	struct waiter		*x;

	waitq_push(&wq, &w[0]);
	waitq_push(&wq, &w[1]);
	waitq_push(&wq, &w[2]);
	waitq_push(&wq, &w[3]);
	waitq_wake(&w[3], QLOCK_TIMEOUT, &woken);
	waitq_wake(&w[1], QLOCK_OK, &woken);
	assert_order(&wq, left, 2);
	ck_assert_ptr_null(w[1].wq);
	ck_assert_ptr_null(w[3].wq);
	ck_assert_int_eq(w[3].status, QLOCK_TIMEOUT);
	ck_assert_int_eq(w[1].status, QLOCK_OK);
	x = TAILQ_FIRST(&woken);
	ck_assert_ptr_eq(x, &w[3]);
	x = TAILQ_NEXT(x, link);
	ck_assert_ptr_eq(x, &w[1]);
	ck_assert_ptr_null(TAILQ_NEXT(x, link));

	/* Once woken, remove must leave the woken list alone. */
	waitq_remove(&w[3]);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), &w[3]);
	ck_assert_ptr_eq(TAILQ_NEXT(&w[3], link), &w[1]);
	ck_assert_uint_eq(wq.n, 2);
}
END_TEST

/* Waking everyone from the front drains the queue in order. */
START_TEST(test_waitq_wake_all)
{
	struct waiter	*x;
	int		 i;

	for (i = 0; i < 100; i++)
		waitq_push(&wq, &w[i]);
	while ((x = waitq_first(&wq)) != NULL)
		waitq_wake(x, QLOCK_EBROKEN, &woken);
	ck_assert_uint_eq(wq.n, 0);
	i = 0;
	TAILQ_FOREACH(x, &woken, link) {
		ck_assert_ptr_eq(x, &w[i]);
		ck_assert_int_eq(x->status, QLOCK_EBROKEN);
		i++;
	}
	ck_assert_int_eq(i, 100);
}
END_TEST

/* Two queues do not disturb each other, and remove finds the right one. */
START_TEST(test_waitq_two_queues)
{
	static const int	 a[] = { 0, 4 };
	static const int	 b[] = { 1, 3 };
	int			 i;

	for (i = 0; i < 5; i++)
		waitq_push(i % 2 == 0 ? &wq : &wq2, &w[i]);
	waitq_remove(&w[2]);
	assert_order(&wq, a, 2);
	assert_order(&wq2, b, 2);
	waitq_wake(&w[3], QLOCK_OK, &woken);
	assert_order(&wq, a, 2);
	ck_assert_uint_eq(wq2.n, 1);
	ck_assert_ptr_eq(waitq_first(&wq2), &w[1]);
}
END_TEST

/* The heap's structure: every slot's waiter records the slot, and no child
 * is earlier than its parent. */
static void
assert_heap(void)
{
	size_t	i;

	for (i = 0; i < dl.n; i++) {
		if (dl.v[i]->heap_idx != i)
			ck_abort_msg("slot %zu: heap_idx %zu", i,
			    dl.v[i]->heap_idx);
		if (i > 0 && dl.v[(i - 1) / 2]->deadline > dl.v[i]->deadline)
			ck_abort_msg("slot %zu is earlier than its parent", i);
	}
}

/* An empty heap has no minimum; freeing it twice is fine. */
START_TEST(test_deadlines_empty)
{
	ck_assert_ptr_null(deadlines_min(&dl));
	deadlines_remove(&dl, &w[0]);		/* not in it: no-op */
	ck_assert_uint_eq(dl.n, 0);
	deadlines_free(&dl);
	ck_assert_ptr_null(deadlines_min(&dl));
}
END_TEST

/* Taking the minimum repeatedly yields the deadlines in order. */
START_TEST(test_deadlines_sorted_drain)
{
	struct waiter	*m;
	double		 last = -1;
	size_t		 i;

	srand(7);
	for (i = 0; i < NW; i++) {
		w[i].deadline = (double)(rand() % 500) + (double)i / NW;
		deadlines_add(&dl, &w[i]);
	}
	ck_assert_uint_eq(dl.n, NW);
	assert_heap();
	for (i = 0; i < NW; i++) {
		m = deadlines_min(&dl);
		ck_assert_ptr_nonnull(m);
		ck_assert(m->deadline >= last);
		last = m->deadline;
		deadlines_remove(&dl, m);
		ck_assert_uint_eq(m->heap_idx, NO_SLOT);
	}
	ck_assert_ptr_null(deadlines_min(&dl));
}
END_TEST

/* Equal deadlines: all come out, the heap stays sound. */
START_TEST(test_deadlines_equal)
{
	size_t	i;

	for (i = 0; i < 200; i++) {
		w[i].deadline = i % 2 == 0 ? 5.0 : 3.0;
		deadlines_add(&dl, &w[i]);
	}
	assert_heap();
	for (i = 0; i < 200; i++) {
		ck_assert(deadlines_min(&dl)->deadline ==
		    (i < 100 ? 3.0 : 5.0));
		deadlines_remove(&dl, deadlines_min(&dl));
		assert_heap();
	}
	ck_assert_uint_eq(dl.n, 0);
}
END_TEST

/* Removing the last slot, the root, a middle element, and one twice. */
START_TEST(test_deadlines_remove_arbitrary)
{
	struct waiter	*last;
	size_t		 i;

	for (i = 0; i < 20; i++) {
		w[i].deadline = (double)((i * 7) % 20);
		deadlines_add(&dl, &w[i]);
	}
	assert_heap();
	last = dl.v[dl.n - 1];
	deadlines_remove(&dl, last);
	ck_assert_uint_eq(last->heap_idx, NO_SLOT);
	ck_assert_uint_eq(dl.n, 19);
	assert_heap();
	deadlines_remove(&dl, &w[0]);		/* deadline 0: the root */
	ck_assert_uint_eq(dl.n, 18);
	assert_heap();
	ck_assert(deadlines_min(&dl)->deadline == 1.0);
	deadlines_remove(&dl, dl.v[5]);
	assert_heap();
	deadlines_remove(&dl, &w[0]);		/* already out: no-op */
	ck_assert_uint_eq(dl.n, 17);
	deadlines_add(&dl, &w[0]);		/* back in */
	ck_assert_ptr_eq(deadlines_min(&dl), &w[0]);
	assert_heap();
}
END_TEST

/* Moving a replacement up: removing a deep node whose last-slot replacement
 * is earlier than the removed node's parent. */
START_TEST(test_deadlines_remove_sifts_up)
{
	/* Heap by index: 0:[0] 1:[10] 2:[1] 3..6:[11,12,2,3] */
	static const double	d[] = { 0, 10, 1, 11, 12, 2, 3 };
	size_t			i;

	for (i = 0; i < 7; i++) {
		w[i].deadline = d[i];
		deadlines_add(&dl, &w[i]);
	}
	assert_heap();
	deadlines_remove(&dl, &w[3]);	/* 11 at slot 3, replaced by 3 */
	assert_heap();
	ck_assert_uint_eq(dl.n, 6);
	for (i = 0; i < 6; i++) {
		deadlines_remove(&dl, deadlines_min(&dl));
		assert_heap();
	}
}
END_TEST

/* 1000 waiters added and removed at random: the minimum always matches a
 * linear scan, and heap_idx is kept for every waiter in and out. */
START_TEST(test_deadlines_random)
{
	bool		*in = calloc(NW, sizeof(*in));
	struct waiter	*m, *best;
	size_t		 i, k, n = 0;
	int		 step;

	ck_assert_ptr_nonnull(in);
	srand(12345u + (unsigned)_i);
	for (step = 0; step < 20000; step++) {
		k = (size_t)rand() % NW;
		if (!in[k]) {
			w[k].deadline = (double)(rand() % 100000) / 7.0;
			deadlines_add(&dl, &w[k]);
			in[k] = true;
			n++;
		} else {
			deadlines_remove(&dl, &w[k]);
			in[k] = false;
			n--;
		}
		ck_assert_uint_eq(dl.n, n);
		/* Plain checks in the scan: ck_assert is slow in a loop. */
		best = NULL;
		for (i = 0; i < NW; i++) {
			if (in[i]) {
				if (w[i].heap_idx >= dl.n ||
				    dl.v[w[i].heap_idx] != &w[i])
					ck_abort_msg("step %d: waiter %zu has "
					    "a wrong heap_idx", step, i);
				if (best == NULL ||
				    w[i].deadline < best->deadline)
					best = &w[i];
			} else if (w[i].heap_idx != NO_SLOT)
				ck_abort_msg("step %d: removed waiter %zu "
				    "keeps a slot", step, i);
		}
		m = deadlines_min(&dl);
		if (best == NULL)
			ck_assert_ptr_null(m);
		else
			ck_assert(m->deadline == best->deadline);
		if (step % 97 == 0)
			assert_heap();
	}
	assert_heap();
	free(in);
}
END_TEST

static Suite *
waitq_suite(void)
{
	Suite	*s = suite_create("waitq");
	TCase	*tc;

	tc = tcase_create("waitq");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_waitq_empty);
	tcase_add_test(tc, test_waitq_fifo);
	tcase_add_test(tc, test_waitq_remove_middle);
	tcase_add_test(tc, test_waitq_remove_unparked);
	tcase_add_test(tc, test_waitq_wake);
	tcase_add_test(tc, test_waitq_wake_all);
	tcase_add_test(tc, test_waitq_two_queues);
	suite_add_tcase(s, tc);

	tc = tcase_create("deadlines");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_deadlines_empty);
	tcase_add_test(tc, test_deadlines_sorted_drain);
	tcase_add_test(tc, test_deadlines_equal);
	tcase_add_test(tc, test_deadlines_remove_arbitrary);
	tcase_add_test(tc, test_deadlines_remove_sifts_up);
	tcase_add_loop_test(tc, test_deadlines_random, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(waitq_suite(), CK_FORK_GETENV);
}
