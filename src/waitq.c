/* waitq.c: wait queues and the deadline heap. */
#include <stdlib.h>

#include "waitq.h"
#include "util.h"

void
waitq_init(struct waitq *q)
{
	TAILQ_INIT(&q->head);
	q->n = 0;
}

void
waitq_push(struct waitq *q, struct waiter *w)
{
	TAILQ_INSERT_TAIL(&q->head, w, link);
	w->wq = q;
	q->n++;
}

struct waiter *
waitq_first(const struct waitq *q)
{
	return TAILQ_FIRST(&q->head);
}

struct waiter *
waitq_first_live(const struct waitq *q)
{
	struct waiter	*w;

	TAILQ_FOREACH(w, &q->head, link)
		if (!w->away)
			return w;
	return NULL;
}

void
waitq_remove(struct waiter *w)
{
	if (w->wq == NULL)
		return;
	TAILQ_REMOVE(&w->wq->head, w, link);
	w->wq->n--;
	w->wq = NULL;
}

void
waitq_wake(struct waiter *w, int status, struct waitlist *woken)
{
	waitq_remove(w);
	w->status = status;
	TAILQ_INSERT_TAIL(woken, w, link);
}

void
deadlines_init(struct deadlines *d)
{
	d->v = NULL;
	d->n = d->cap = 0;
}

void
deadlines_free(struct deadlines *d)
{
	free(d->v);
	deadlines_init(d);
}

/* Put w at slot i and record it there. */
static void
heap_set(struct deadlines *d, size_t i, struct waiter *w)
{
	d->v[i] = w;
	w->heap_idx = i;
}

/* Move the waiter at slot i up or down until the heap holds again. */
static void
heap_fix(struct deadlines *d, size_t i)
{
	struct waiter	*w = d->v[i];
	size_t		 parent, child;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (d->v[parent]->deadline <= w->deadline)
			break;
		heap_set(d, i, d->v[parent]);
		i = parent;
	}
	for (;;) {
		child = 2 * i + 1;
		if (child >= d->n)
			break;
		if (child + 1 < d->n &&
		    d->v[child + 1]->deadline < d->v[child]->deadline)
			child++;
		if (d->v[child]->deadline >= w->deadline)
			break;
		heap_set(d, i, d->v[child]);
		i = child;
	}
	heap_set(d, i, w);
}

void
deadlines_add(struct deadlines *d, struct waiter *w)
{
	if (d->n == d->cap) {
		d->cap = d->cap == 0 ? 64 : d->cap * 2;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	heap_set(d, d->n++, w);
	heap_fix(d, d->n - 1);
}

void
deadlines_remove(struct deadlines *d, struct waiter *w)
{
	size_t	i = w->heap_idx;

	if (i == NO_SLOT)
		return;
	w->heap_idx = NO_SLOT;
	if (i == --d->n)
		return;
	heap_set(d, i, d->v[d->n]);
	heap_fix(d, i);
}

struct waiter *
deadlines_min(const struct deadlines *d)
{
	return d->n == 0 ? NULL : d->v[0];
}
