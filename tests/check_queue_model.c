/* check_queue_model.c: check_queue's random walk against a model of
 * Python's queue semantics. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_queue.h"
#include "qlock.h"
#include "obj_queue.h"
#include "waiterpool.h"
#include "waitq.h"

/*
 * A random walk checked against a model of Python's semantics: FIFO items,
 * FIFO getters and putters, handoff to the oldest getter, putters admitted
 * one per freed slot, tasks counted when accepted, joiners woken at zero.
 */
#define MAXIDS	4096

/* Make item number id; its length varies with id. */
static struct qitem *
id_item(int id)
{
	uint8_t	buf[16];

	memset(buf, 0xa5, sizeof(buf));
	memcpy(buf, &id, sizeof(id));
	return qitem_new(buf, sizeof(id) + (size_t)(id % 7));
}

static int
item_id(const struct qitem *it)
{
	int	id;

	ck_assert_ptr_nonnull(it);
	ck_assert_uint_ge(it->len, sizeof(id));
	memcpy(&id, it->data, sizeof(id));
	ck_assert_uint_eq(it->len, sizeof(id) + (size_t)(id % 7));
	return id;
}

/* One expected wake. */
struct expect {
	struct waiter	*w;
	int		 id;		/* item handed to a getter, or -1 */
};

/* Remove index i of an array of n pointers. */
static void
arr_del(void **v, size_t *n, size_t i)
{
	memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
	(*n)--;
}

START_TEST(test_queue_model_random)
{
	static int		 mitems[MAXIDS];
	static struct waiter	*mget[MAXIDS], *mput[MAXIDS], *mjoin[MAXIDS];
	static struct qitem	*taken[MAXIDS];
	struct expect		 want[MAXIDS];
	size_t			 ni = 0, ng = 0, np = 0, nj = 0, nt = 0, ne;
	size_t			 mbytes = 0, i;
	uint64_t		 munf = 0;
	long			 maxsize;
	bool			 joinable;
	int			 step, op, nextid = 0, rc;
	struct qitem		*it;
	struct qiter		 qi;
	struct qref		 r;
	struct waiter		*w;
	unsigned		 seed = 1000u + (unsigned)_i;

	srand(seed);
	maxsize = (long[]){ 0, 1, 2, 3, 5, -1 }[_i % 6];
	joinable = (_i / 6) % 2 == 0;
	queue_init(&q, maxsize, joinable);

	for (step = 0; step < 3000; step++) {
		ne = 0;
		op = rand() % 100;
		if (op < 30 && nextid < MAXIDS - 1) {		/* put */
			int	id = nextid++;

			it = id_item(id);
			rc = queue_put(&q, it, &woken);
			if (ni == 0 && ng > 0) {
				ck_assert_int_eq(rc, 0);
				want[ne++] = (struct expect){ mget[0], id };
				arr_del((void **)mget, &ng, 0);
				munf += joinable;
			} else if ((maxsize > 0 && ni >= (size_t)maxsize) ||
			    np > 0) {
				ck_assert_int_eq(rc, QUEUE_WAIT);
				w = pool_waiter(0);
				queue_park_put(&q, w, it);
				w->value = (uint64_t)id;	/* model's copy */
				mput[np++] = w;
			} else {
				ck_assert_int_eq(rc, 0);
				mitems[ni++] = id;
				/* The queue copied it in and freed it. */
				mbytes += sizeof(int) + (size_t)(id % 7);
				munf += joinable;
			}
		} else if (op < 60) {				/* get */
			it = NULL;
			rc = queue_get(&q, &it, &woken);
			if (ni == 0) {
				ck_assert_int_eq(rc, QUEUE_WAIT);
				w = pool_waiter(0);
				queue_park_get(&q, w);
				mget[ng++] = w;
			} else {
				ck_assert_int_eq(rc, 0);
				ck_assert_int_eq(item_id(it), mitems[0]);
				mbytes -= it->len;
				memmove(mitems, mitems + 1,
				    (ni - 1) * sizeof(*mitems));
				ni--;
				taken[nt++] = it;
				if (np > 0 && (maxsize <= 0 ||
				    ni < (size_t)maxsize)) {
					w = mput[0];
					want[ne++] = (struct expect){ w, -1 };
					mitems[ni++] = (int)w->value;
					mbytes += sizeof(int) +
					    (size_t)(w->value % 7);
					arr_del((void **)mput, &np, 0);
					munf += joinable;
				}
			}
		} else if (op < 72) {		/* task_done (finish a taken item) */
			rc = queue_task_done(&q, &woken);
			if (munf == 0) {
				ck_assert_int_eq(rc, QLOCK_EVALUE);
			} else {
				ck_assert_int_eq(rc, 0);
				if (--munf == 0) {
					for (i = 0; i < nj; i++)
						want[ne++] =
						    (struct expect){ mjoin[i], -1 };
					nj = 0;
				}
			}
			if (nt > 0) {
				qitem_free(taken[0]);
				arr_del((void **)taken, &nt, 0);
			}
		} else if (op < 80) {				/* join */
			rc = queue_join(&q);
			if (munf == 0)
				ck_assert_int_eq(rc, 0);
			else {
				ck_assert_int_eq(rc, QUEUE_WAIT);
				w = pool_waiter(0);
				queue_park_join(&q, w);
				mjoin[nj++] = w;
			}
		} else if (op < 88 && nt > 0) {		/* putback */
			i = (size_t)rand() % nt;
			it = taken[i];
			arr_del((void **)taken, &nt, i);
			queue_putback(&q, it, &woken);
			if (ni == 0 && ng > 0) {
				want[ne++] = (struct expect){ mget[0],
				    item_id(it) };
				arr_del((void **)mget, &ng, 0);
			} else {
				memmove(mitems + 1, mitems,
				    ni * sizeof(*mitems));
				mitems[0] = item_id(it);
				ni++;
				mbytes += it->len;
			}
		} else if (op < 94 && ng > 0) {		/* a getter gives up */
			i = (size_t)rand() % ng;
			waitq_remove(mget[i]);
			arr_del((void **)mget, &ng, i);
		} else if (np > 0) {			/* a putter gives up */
			i = (size_t)rand() % np;
			w = mput[i];
			waitq_remove(w);
			qitem_free(w->item);
			w->item = NULL;
			arr_del((void **)mput, &np, i);
		}

		/* The wakes, in order, with their results. */
		i = 0;
		TAILQ_FOREACH(w, &woken, link) {
			ck_assert_uint_lt(i, ne);
			ck_assert_msg(w == want[i].w,
			    "seed %u step %d: wrong waiter woken", seed, step);
			ck_assert_int_eq(w->status, QLOCK_OK);
			ck_assert_ptr_null(w->wq);
			if (want[i].id >= 0) {
				ck_assert_int_eq(item_id(w->item), want[i].id);
				taken[nt++] = w->item;
				w->item = NULL;
			} else
				ck_assert_ptr_null(w->item);
			i++;
		}
		ck_assert_uint_eq(i, ne);
		TAILQ_INIT(&woken);

		/* The state matches the model. */
		ck_assert_uint_eq(q.count, ni);
		ck_assert_uint_eq(q.bytes, mbytes);
		ck_assert_uint_eq(q.unfinished, munf);
		ck_assert_uint_eq(q.getters.n, ng);
		ck_assert_uint_eq(q.putters.n, np);
		ck_assert_uint_eq(q.joiners.n, nj);
		ck_assert_ptr_eq(waitq_first(&q.getters), ng ? mget[0] : NULL);
		ck_assert_ptr_eq(waitq_first(&q.putters), np ? mput[0] : NULL);
		ck_assert(queue_busy(&q) ==
		    (ni > 0 || munf > 0 || ng > 0 || np > 0 || nj > 0));
	}
	/* Drain and compare the whole queue. */
	i = 0;
	qpack_iter_init(&q.items, &qi);
	while (qpack_iter_next(&qi, &r)) {
		it = qitem_of_ref(&r);
		ck_assert_int_eq(item_id(it), mitems[i++]);
		qitem_free(it);
	}
	ck_assert_uint_eq(i, ni);
	for (i = 0; i < nt; i++)
		qitem_free(taken[i]);
}
END_TEST

/* The model's tests. */
void
queue_model_tests(TCase *tc)
{
	tcase_add_loop_test(tc, test_queue_model_random, 0, 24);
}
