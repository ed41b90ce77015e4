/* check_queue.c: unit tests of the pure Queue/JoinableQueue state machine
 * against Python's queue semantics. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_queue.h"
#include "qlock.h"
#include "obj_queue.h"
#include "suiterun.h"
#include "waiterpool.h"
#include "waitq.h"

struct queue	  q;		/* the queue under test */
struct waitlist	  woken;	/* what the operations woke */

static void
setup(void)
{
	TAILQ_INIT(&woken);
}

/* Take every waiter off its queue and free it with the item it holds,
 * then the queue's own items: a clean run leaks nothing under valgrind. */
static void
teardown(void)
{
	pool_free();
	queue_clear(&q);
}

static struct qitem *
item(const char *s)
{
	return qitem_new(s, strlen(s));
}

/* True if the item holds exactly the string s. */
static bool
item_is(const struct qitem *it, const char *s)
{
	return it != NULL && it->len == strlen(s) &&
	    memcmp(it->data, s, it->len) == 0;
}

/* True if the queue's tail (head) item holds exactly the string s. */
static bool
end_is(bool last, const char *s)
{
	struct qref	r;
	struct qitem	*it;
	bool		 ok;

	if (last ? !queue_last(&q, &r) : queue_peek(&q, &r) != 0)
		return false;
	it = qitem_of_ref(&r);
	ok = item_is(it, s);
	qitem_free(it);
	return ok;
}

/* Put s, expecting it to complete now. */
static void
put_ok(const char *s)
{
	ck_assert_int_eq(queue_put(&q, item(s), &woken), 0);
}

/* Put s, expecting QUEUE_WAIT, and park a putter holding it. */
static struct waiter *
put_park(const char *s)
{
	struct qitem	*it = item(s);
	struct waiter	*w;

	ck_assert_int_eq(queue_put(&q, it, &woken), QUEUE_WAIT);
	w = pool_waiter(0);
	queue_park_put(&q, w, it);
	return w;
}

/* Get, expecting the item s now; frees it. */
static void
get_expect(const char *s)
{
	struct qitem	*it = NULL;

	ck_assert_int_eq(queue_get(&q, &it, &woken), 0);
	ck_assert_msg(item_is(it, s), "expected item '%s'", s);
	qitem_free(it);
}

/* Get on an empty queue: QUEUE_WAIT; park a getter. */
static struct waiter *
get_park(void)
{
	struct qitem	*it = NULL;
	struct waiter	*w;

	ck_assert_int_eq(queue_get(&q, &it, &woken), QUEUE_WAIT);
	ck_assert_ptr_null(it);
	w = pool_waiter(0);
	queue_park_get(&q, w);
	return w;
}

/* Items come out in the order they went in. */
START_TEST(test_queue_fifo_order)
{
	static const char *const s[] = { "one", "two", "three", "four", "5" };
	size_t	i;

	queue_init(&q, 0, false);
	for (i = 0; i < 5; i++)
		put_ok(s[i]);
	ck_assert_uint_eq(q.count, 5);
	for (i = 0; i < 5; i++)
		get_expect(s[i]);
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.bytes, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
}
END_TEST

/* Get on an empty queue asks to park and leaves the output alone. */
START_TEST(test_queue_get_empty_waits)
{
	struct qitem	*it = (struct qitem *)&q;	/* a sentinel */

	queue_init(&q, 3, false);
	ck_assert_int_eq(queue_get(&q, &it, &woken), QUEUE_WAIT);
	ck_assert_ptr_eq(it, (struct qitem *)&q);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert(!queue_busy(&q));
	put_ok("x");
	get_expect("x");
	it = NULL;
	ck_assert_int_eq(queue_get(&q, &it, &woken), QUEUE_WAIT);
	ck_assert_ptr_null(it);
}
END_TEST

/* maxsize <= 0 is unbounded, as in Python (loop: 0 and -1). */
START_TEST(test_queue_unbounded)
{
	char	buf[32];
	int	i;

	queue_init(&q, _i == 0 ? 0 : -1, false);
	for (i = 0; i < 10000; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		put_ok(buf);
	}
	ck_assert_uint_eq(q.count, 10000);
	ck_assert_uint_eq(q.putters.n, 0);
	for (i = 0; i < 10000; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		get_expect(buf);
	}
	ck_assert_uint_eq(q.count, 0);
}
END_TEST

/* A put on a full queue waits and does not take the item in. */
START_TEST(test_queue_full_put_waits)
{
	struct qitem	*it;

	queue_init(&q, 2, false);
	put_ok("a");
	put_ok("b");
	it = item("c");
	ck_assert_int_eq(queue_put(&q, it, &woken), QUEUE_WAIT);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_uint_eq(q.bytes, 2);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	qitem_free(it);		/* still the caller's */
	get_expect("a");
	put_ok("d");		/* room again */
	get_expect("b");
	get_expect("d");
}
END_TEST

/* maxsize 1: strictly one item at a time. */
START_TEST(test_queue_maxsize_one)
{
	struct waiter	*p;

	queue_init(&q, 1, false);
	put_ok("a");
	p = put_park("b");
	get_expect("a");
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), p);
	ck_assert_uint_eq(q.count, 1);
	get_expect("b");
	put_ok("c");
	get_expect("c");
}
END_TEST

/* Each get admits the longest-waiting putter's item at the tail and wakes
 * it with QLOCK_OK; putters are served FIFO. */
START_TEST(test_queue_get_admits_oldest_putter)
{
	struct waiter	*c, *d, *e, *w;

	queue_init(&q, 2, false);
	put_ok("a");
	put_ok("b");
	c = put_park("c");
	d = put_park("d");
	e = put_park("e");
	ck_assert_uint_eq(q.putters.n, 3);
	ck_assert(c->wq == &q.putters);

	get_expect("a");
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	w = TAILQ_FIRST(&woken);
	ck_assert_ptr_eq(w, c);
	ck_assert_int_eq(c->status, QLOCK_OK);
	ck_assert_ptr_null(c->item);		/* the queue owns it now */
	ck_assert_ptr_null(c->wq);
	ck_assert_int_eq(c->op, WOP_QUEUE_PUT);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_uint_eq(q.putters.n, 2);
	ck_assert_ptr_eq(waitq_first(&q.putters), d);
	ck_assert(end_is(true, "c"));

	get_expect("b");
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), d);
	get_expect("c");
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), e);
	ck_assert_uint_eq(waitlist_len(&woken), 3);
	ck_assert_uint_eq(q.putters.n, 0);
	get_expect("d");
	get_expect("e");
	ck_assert_uint_eq(waitlist_len(&woken), 3);
	ck_assert_uint_eq(q.count, 0);
	ck_assert(!queue_busy(&q));
}
END_TEST

/* While putters are parked a new put waits behind them, and the freed room
 * goes to them in arrival order. */
START_TEST(test_queue_put_no_overtaking)
{
	struct waiter	*b, *c, *d;

	queue_init(&q, 1, false);
	put_ok("a");
	b = put_park("b");
	c = put_park("c");
	get_expect("a");		/* admits b */
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), b);
	d = put_park("d");		/* full, c still ahead */
	get_expect("b");
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), c);
	get_expect("c");
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), d);
	get_expect("d");
	ck_assert_uint_eq(waitlist_len(&woken), 3);
}
END_TEST

/* Even with room (a putter parked on a non-full queue), a new put does not
 * overtake a parked putter. */
START_TEST(test_queue_put_waits_behind_putter_with_room)
{
	struct waiter	*p;

	queue_init(&q, 3, false);
	put_ok("a");
	p = pool_waiter(0);
	queue_park_put(&q, p, item("p"));
	put_park("b");
	ck_assert_uint_eq(q.count, 1);
	ck_assert_uint_eq(q.putters.n, 2);
	ck_assert_ptr_eq(waitq_first(&q.putters), p);
}
END_TEST

/* A putter that gave up (timeout, disconnect) is skipped: the next one in
 * line gets the room. */
START_TEST(test_queue_cancelled_putter_skipped)
{
	struct waiter	*b, *c;

	queue_init(&q, 1, false);
	put_ok("a");
	b = put_park("b");
	c = put_park("c");
	waitq_remove(b);
	qitem_free(b->item);
	b->item = NULL;
	ck_assert_uint_eq(q.putters.n, 1);
	get_expect("a");
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), c);
	get_expect("c");
	waitq_remove(c);	/* once woken: a no-op */
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), c);
}
END_TEST

/* A put with getters parked hands the very item to the oldest getter; the
 * queue stays empty. */
START_TEST(test_queue_put_hands_to_oldest_getter)
{
	struct waiter	*g1, *g2, *g3, *w;
	struct qitem	*a, *b;

	queue_init(&q, _i, false);	/* unbounded and maxsize 1 */
	g1 = get_park();
	g2 = get_park();
	g3 = get_park();
	ck_assert_uint_eq(q.getters.n, 3);
	ck_assert(queue_busy(&q));
	ck_assert_int_eq(g1->op, WOP_QUEUE_GET);

	a = item("a");
	ck_assert_int_eq(queue_put(&q, a, &woken), 0);
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.bytes, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	w = TAILQ_FIRST(&woken);
	ck_assert_ptr_eq(w, g1);
	ck_assert_ptr_eq(g1->item, a);
	ck_assert_int_eq(g1->status, QLOCK_OK);
	ck_assert_ptr_null(g1->wq);
	ck_assert_ptr_eq(waitq_first(&q.getters), g2);

	b = item("b");
	ck_assert_int_eq(queue_put(&q, b, &woken), 0);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), g2);
	ck_assert_ptr_eq(g2->item, b);
	put_ok("c");
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), g3);
	ck_assert(item_is(g3->item, "c"));
	ck_assert_uint_eq(q.getters.n, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 3);

	put_ok("d");			/* nobody waiting: queued */
	ck_assert_uint_eq(q.count, 1);
	ck_assert_uint_eq(waitlist_len(&woken), 3);
	get_expect("d");
}
END_TEST

/* Wakes are appended after whatever the worker already had to answer. */
START_TEST(test_queue_woken_appended)
{
	struct waiter	*g, *other;

	queue_init(&q, 0, false);
	other = pool_waiter(0);
	TAILQ_INSERT_TAIL(&woken, other, link);
	g = get_park();
	put_ok("x");
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), other);
	ck_assert_ptr_eq(TAILQ_NEXT(other, link), g);
	ck_assert_ptr_null(TAILQ_NEXT(g, link));
}
END_TEST

/* count and bytes follow every put, get, handoff and putback. */
START_TEST(test_queue_bytes_accounting)
{
	struct qitem	*it;
	struct waiter	*g;

	queue_init(&q, 0, false);
	put_ok("");
	ck_assert_uint_eq(q.count, 1);
	ck_assert_uint_eq(q.bytes, 0);
	put_ok("abc");
	put_ok("0123456789");
	ck_assert_uint_eq(q.count, 3);
	ck_assert_uint_eq(q.bytes, 13);
	ck_assert_int_eq(queue_get(&q, &it, &woken), 0);
	ck_assert_uint_eq(it->len, 0);
	qitem_free(it);
	ck_assert_uint_eq(q.bytes, 13);
	ck_assert_int_eq(queue_get(&q, &it, &woken), 0);
	ck_assert_uint_eq(q.count, 1);
	ck_assert_uint_eq(q.bytes, 10);
	queue_putback(&q, it, &woken);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_uint_eq(q.bytes, 13);
	get_expect("abc");
	get_expect("0123456789");
	ck_assert_uint_eq(q.bytes, 0);
	g = get_park();
	put_ok("handed");
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.bytes, 0);
	ck_assert(item_is(g->item, "handed"));
}
END_TEST

/* A bounded queue's bytes include admitted putters' items. */
START_TEST(test_queue_bytes_with_putters)
{
	queue_init(&q, 2, false);
	put_ok("aa");
	put_ok("bbb");
	put_park("cccc");
	ck_assert_uint_eq(q.bytes, 5);
	get_expect("aa");
	ck_assert_uint_eq(q.bytes, 7);
	ck_assert_uint_eq(q.count, 2);
}
END_TEST

/* JoinableQueue: every accepted put is a task; get does not finish it;
 * task_done does; join waits until none is left. */
START_TEST(test_queue_joinable_counts)
{
	queue_init(&q, 0, true);
	ck_assert_int_eq(queue_join(&q), 0);
	put_ok("a");
	put_ok("b");
	ck_assert_uint_eq(q.unfinished, 2);
	ck_assert_int_eq(queue_join(&q), QUEUE_WAIT);
	get_expect("a");
	get_expect("b");
	ck_assert_uint_eq(q.unfinished, 2);
	ck_assert(queue_busy(&q));		/* tasks outstanding */
	ck_assert_int_eq(queue_join(&q), QUEUE_WAIT);
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert_uint_eq(q.unfinished, 1);
	ck_assert_int_eq(queue_join(&q), QUEUE_WAIT);
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert_uint_eq(q.unfinished, 0);
	ck_assert_int_eq(queue_join(&q), 0);
	ck_assert(!queue_busy(&q));
	ck_assert_uint_eq(waitlist_len(&woken), 0);
}
END_TEST

/* task_done with nothing unfinished: ValueError, and the count stays 0. */
START_TEST(test_queue_task_done_too_many)
{
	queue_init(&q, 0, true);
	ck_assert_int_eq(queue_task_done(&q, &woken), QLOCK_EVALUE);
	put_ok("a");
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert_int_eq(queue_task_done(&q, &woken), QLOCK_EVALUE);
	ck_assert_uint_eq(q.unfinished, 0);
	ck_assert_int_eq(queue_join(&q), 0);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
}
END_TEST

/* A plain Queue counts no tasks: join never waits. */
START_TEST(test_queue_plain_no_tasks)
{
	struct waiter	*g;

	queue_init(&q, 1, false);
	put_ok("a");
	put_park("b");
	get_expect("a");
	get_expect("b");
	g = get_park();
	put_ok("c");
	ck_assert(item_is(g->item, "c"));
	ck_assert_uint_eq(q.unfinished, 0);
	ck_assert_int_eq(queue_join(&q), 0);
	ck_assert_int_eq(queue_task_done(&q, &woken), QLOCK_EVALUE);
}
END_TEST

/* All joiners wake, in order, when the last task is done; not before. */
START_TEST(test_queue_joiners_all_woken)
{
	struct waiter	*j[3], *w;
	int		 i;

	queue_init(&q, 0, true);
	put_ok("a");
	put_ok("b");
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(queue_join(&q), QUEUE_WAIT);
		j[i] = pool_waiter(0);
		queue_park_join(&q, j[i]);
		ck_assert_int_eq(j[i]->op, WOP_QUEUE_JOIN);
	}
	ck_assert_uint_eq(q.joiners.n, 3);
	get_expect("a");
	get_expect("b");
	ck_assert(queue_busy(&q));
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	ck_assert_uint_eq(q.joiners.n, 3);
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert_uint_eq(q.joiners.n, 0);
	ck_assert_uint_eq(waitlist_len(&woken), 3);
	i = 0;
	TAILQ_FOREACH(w, &woken, link) {
		ck_assert_ptr_eq(w, j[i]);
		ck_assert_int_eq(w->status, QLOCK_OK);
		ck_assert_ptr_null(w->wq);
		i++;
	}
	ck_assert(!queue_busy(&q));
}
END_TEST

/* Handing an item to a parked getter counts as a task too. */
START_TEST(test_queue_joinable_handoff_counts)
{
	struct waiter	*g;

	queue_init(&q, 0, true);
	g = get_park();
	put_ok("a");
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), g);
	ck_assert_uint_eq(q.unfinished, 1);
	ck_assert_int_eq(queue_join(&q), QUEUE_WAIT);
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert_int_eq(queue_join(&q), 0);
}
END_TEST

/* A parked put is a task only once its item is admitted. */
START_TEST(test_queue_joinable_putter_counts_when_admitted)
{
	queue_init(&q, 1, true);
	put_ok("a");
	put_park("b");
	ck_assert_uint_eq(q.unfinished, 1);
	get_expect("a");
	ck_assert_uint_eq(q.unfinished, 2);
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	get_expect("b");
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert_int_eq(queue_join(&q), 0);
}
END_TEST

/* putback puts the item at the head, counting no new task. */
START_TEST(test_queue_putback_head)
{
	struct qitem	*it;

	queue_init(&q, 0, true);
	put_ok("a");
	put_ok("b");
	ck_assert_int_eq(queue_get(&q, &it, &woken), 0);
	ck_assert(item_is(it, "a"));
	ck_assert_uint_eq(q.unfinished, 2);
	queue_putback(&q, it, &woken);
	ck_assert_uint_eq(q.unfinished, 2);
	ck_assert_uint_eq(q.count, 2);
	ck_assert(end_is(false, "a"));
	ck_assert(end_is(true, "b"));
	ck_assert_uint_eq(waitlist_len(&woken), 0);
	get_expect("a");
	get_expect("b");
	ck_assert_uint_eq(q.unfinished, 2);
}
END_TEST

/* putback on an empty queue with getters parked: the oldest gets it. */
START_TEST(test_queue_putback_to_getter)
{
	struct qitem	*it;
	struct waiter	*g1, *g2;

	queue_init(&q, 0, true);
	put_ok("a");
	ck_assert_int_eq(queue_get(&q, &it, &woken), 0);
	g1 = get_park();
	g2 = get_park();
	queue_putback(&q, it, &woken);
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	ck_assert_ptr_eq(TAILQ_FIRST(&woken), g1);
	ck_assert_ptr_eq(g1->item, it);
	ck_assert_int_eq(g1->status, QLOCK_OK);
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.unfinished, 1);
	ck_assert_ptr_eq(waitq_first(&q.getters), g2);
}
END_TEST

/* putback onto a full queue with putters parked: the item is not lost and
 * comes out first; no putter is admitted while the queue is over full. */
START_TEST(test_queue_putback_full)
{
	struct qitem	*it;
	struct waiter	*c;

	queue_init(&q, 1, true);
	put_ok("a");
	put_park("b");
	ck_assert_int_eq(queue_get(&q, &it, &woken), 0);	/* admits b */
	ck_assert_uint_eq(waitlist_len(&woken), 1);
	c = put_park("c");
	queue_putback(&q, it, &woken);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_uint_eq(q.unfinished, 2);
	get_expect("a");
	ck_assert_uint_eq(waitlist_len(&woken), 1);		/* c still parked */
	ck_assert_ptr_eq(c->wq, &q.putters);
	ck_assert_uint_eq(q.count, 1);
	get_expect("b");
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), c);
	get_expect("c");
	ck_assert_uint_eq(q.unfinished, 3);
}
END_TEST

/* queue_busy: true for any held state, false for a fresh or drained one. */
START_TEST(test_queue_busy)
{
	struct waiter	*w;

	queue_init(&q, 1, true);
	ck_assert(!queue_busy(&q));
	put_ok("a");
	ck_assert(queue_busy(&q));			/* item */
	w = put_park("b");
	ck_assert(queue_busy(&q));
	waitq_remove(w);
	get_expect("a");
	ck_assert(queue_busy(&q));			/* unfinished */
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert(!queue_busy(&q));
	w = get_park();
	ck_assert(queue_busy(&q));			/* getter */
	waitq_remove(w);
	ck_assert(!queue_busy(&q));
	put_ok("c");
	ck_assert(queue_busy(&q));
	w = pool_waiter(0);
	queue_park_join(&q, w);
	get_expect("c");
	ck_assert_int_eq(queue_task_done(&q, &woken), 0);
	ck_assert_ptr_eq(TAILQ_LAST(&woken, waitlist), w);
	ck_assert(!queue_busy(&q));
	w = pool_waiter(0);
	queue_park_join(&q, w);				/* joiner alone */
	ck_assert(queue_busy(&q));
}
END_TEST

/* queue_clear frees every item and resets the counts (valgrind checks the
 * frees with CK_FORK=no). */
START_TEST(test_queue_clear)
{
	char	buf[64];
	int	i;

	queue_init(&q, 0, true);
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "item %d with some payload", i);
		put_ok(buf);
	}
	queue_clear(&q);
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.bytes, 0);
	ck_assert_uint_eq(q.unfinished, 0);
	ck_assert(!end_is(false, "") && !end_is(true, ""));
	ck_assert(!queue_busy(&q));
	put_ok("again");
	get_expect("again");
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite	*s = suite_create("queue");
	TCase	*tc;

	tc = tcase_create("fifo");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_queue_fifo_order);
	tcase_add_test(tc, test_queue_get_empty_waits);
	tcase_add_loop_test(tc, test_queue_unbounded, 0, 2);
	tcase_add_test(tc, test_queue_bytes_accounting);
	tcase_add_test(tc, test_queue_clear);
	tcase_add_test(tc, test_queue_busy);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounded");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_queue_full_put_waits);
	tcase_add_test(tc, test_queue_maxsize_one);
	tcase_add_test(tc, test_queue_get_admits_oldest_putter);
	tcase_add_test(tc, test_queue_put_no_overtaking);
	tcase_add_test(tc, test_queue_put_waits_behind_putter_with_room);
	tcase_add_test(tc, test_queue_cancelled_putter_skipped);
	tcase_add_test(tc, test_queue_bytes_with_putters);
	suite_add_tcase(s, tc);

	tc = tcase_create("getters");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_queue_put_hands_to_oldest_getter, 0, 2);
	tcase_add_test(tc, test_queue_woken_appended);
	suite_add_tcase(s, tc);

	tc = tcase_create("joinable");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_queue_joinable_counts);
	tcase_add_test(tc, test_queue_task_done_too_many);
	tcase_add_test(tc, test_queue_plain_no_tasks);
	tcase_add_test(tc, test_queue_joiners_all_woken);
	tcase_add_test(tc, test_queue_joinable_handoff_counts);
	tcase_add_test(tc, test_queue_joinable_putter_counts_when_admitted);
	tcase_add_test(tc, test_queue_putback_head);
	tcase_add_test(tc, test_queue_putback_to_getter);
	tcase_add_test(tc, test_queue_putback_full);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_add_checked_fixture(tc, setup, teardown);
	queue_model_tests(tc);
	suite_add_tcase(s, tc);

	tc = tcase_create("pack");
	queue_pack_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(queue_suite(), CK_FORK_GETENV);
}
