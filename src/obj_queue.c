/* obj_queue.c: FIFO queue with bounded size, parked getters and putters,
 * and JoinableQueue's unfinished-task count. */
#include <string.h>

#include "qlock.h"
#include "obj_queue.h"
#include "util.h"

struct qitem *
qitem_new(const void *data, size_t len)
{
	struct qitem	*it = xmalloc(sizeof(*it) + len);

	it->id = 0;
	it->len = len;
	memcpy(it->data, data, len);
	return it;
}

void
qitem_free(struct qitem *it)
{
	free(it);
}

void
queue_init(struct queue *q, long maxsize, bool joinable)
{
	memset(q, 0, sizeof(*q));
	q->maxsize = maxsize;
	q->joinable = joinable;
	TAILQ_INIT(&q->items);
	waitq_init(&q->getters);
	waitq_init(&q->putters);
	waitq_init(&q->joiners);
}

void
queue_clear(struct queue *q)
{
	struct qitem	*it;

	while ((it = TAILQ_FIRST(&q->items)) != NULL) {
		TAILQ_REMOVE(&q->items, it, link);
		qitem_free(it);
	}
	q->count = q->bytes = 0;
	q->unfinished = 0;
}

bool
queue_busy(const struct queue *q)
{
	return q->count > 0 || q->unfinished > 0 || q->getters.n > 0 ||
	    q->putters.n > 0 || q->joiners.n > 0;
}

/* True if one more item fits. */
static bool
queue_has_room(const struct queue *q)
{
	return q->maxsize <= 0 || q->count < (size_t)q->maxsize;
}

/* Append an item to the tail. */
static void
queue_append(struct queue *q, struct qitem *it)
{
	TAILQ_INSERT_TAIL(&q->items, it, link);
	q->count++;
	q->bytes += it->len;
}

/* Give an item to the oldest parked getter, if any; true if taken. */
static bool
queue_handoff(struct queue *q, struct qitem *it, struct waitlist *woken)
{
	struct waiter	*w = waitq_first(&q->getters);

	if (w == NULL)
		return false;
	w->item = it;
	waitq_wake(w, QLOCK_OK, woken);
	return true;
}

int
queue_put(struct queue *q, struct qitem *it, struct waitlist *woken)
{
	if (q->count == 0 && queue_handoff(q, it, woken)) {
		if (q->joinable)
			q->unfinished++;
		return 0;
	}
	if (!queue_has_room(q) || q->putters.n > 0)
		return QUEUE_WAIT;	/* FIFO: no overtaking parked putters */
	queue_append(q, it);
	if (q->joinable)
		q->unfinished++;
	return 0;
}

int
queue_get(struct queue *q, struct qitem **itp, struct waitlist *woken)
{
	struct qitem	*it;
	struct waiter	*w;

	if ((it = TAILQ_FIRST(&q->items)) == NULL)
		return QUEUE_WAIT;
	TAILQ_REMOVE(&q->items, it, link);
	q->count--;
	q->bytes -= it->len;
	*itp = it;
	/* The freed room goes to the longest-waiting putter. */
	if ((w = waitq_first(&q->putters)) != NULL && queue_has_room(q)) {
		queue_append(q, w->item);
		if (q->joinable)
			q->unfinished++;
		w->item = NULL;
		waitq_wake(w, QLOCK_OK, woken);
	}
	return 0;
}

void
queue_park_get(struct queue *q, struct waiter *w)
{
	w->op = WOP_QUEUE_GET;
	w->item = NULL;
	waitq_push(&q->getters, w);
}

void
queue_park_put(struct queue *q, struct waiter *w, struct qitem *it)
{
	w->op = WOP_QUEUE_PUT;
	w->item = it;
	waitq_push(&q->putters, w);
}

void
queue_putback(struct queue *q, struct qitem *it, struct waitlist *woken)
{
	if (q->count == 0 && queue_handoff(q, it, woken))
		return;
	TAILQ_INSERT_HEAD(&q->items, it, link);
	q->count++;
	q->bytes += it->len;
}

int
queue_task_done(struct queue *q, struct waitlist *woken)
{
	struct waiter	*w;

	if (q->unfinished == 0)
		return QLOCK_EVALUE;
	if (--q->unfinished == 0) {
		while ((w = waitq_first(&q->joiners)) != NULL)
			waitq_wake(w, QLOCK_OK, woken);
	}
	return 0;
}

int
queue_join(struct queue *q)
{
	return q->unfinished == 0 ? 0 : QUEUE_WAIT;
}

void
queue_park_join(struct queue *q, struct waiter *w)
{
	w->op = WOP_QUEUE_JOIN;
	waitq_push(&q->joiners, w);
}
