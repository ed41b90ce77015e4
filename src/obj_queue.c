/* obj_queue.c: FIFO queue with bounded size, parked getters and putters,
 * and JoinableQueue's unfinished-task count. */
#include <string.h>

#include "qlock.h"
#include "obj_queue.h"
#include "util.h"

void
queue_init(struct queue *q, long maxsize, bool joinable)
{
	memset(q, 0, sizeof(*q));
	q->maxsize = maxsize;
	q->joinable = joinable;
	qpack_init(&q->items);
	waitq_init(&q->getters);
	waitq_init(&q->putters);
	waitq_init(&q->joiners);
}

void
queue_clear(struct queue *q)
{
	qpack_clear(&q->items);
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

void
queue_push(struct queue *q, uint64_t id, const void *data, size_t len)
{
	qpack_push(&q->items, id, data, len);
	q->count++;
	q->bytes += len;
}

/* Append an item's bytes to the tail, and free it. */
static void
queue_append(struct queue *q, struct qitem *it)
{
	queue_push(q, it->id, it->data, it->len);
	qitem_free(it);
}

/* The oldest parked getter but those away (a failover's places kept
 * for sessions not back yet), or NULL. */
static struct waiter *
first_getter(const struct queue *q)
{
	return waitq_first_live(&q->getters);
}

/* Give an item to the oldest parked getter, if any; true if taken. */
static bool
queue_handoff(struct queue *q, struct qitem *it, struct waitlist *woken)
{
	struct waiter	*w = first_getter(q);

	if (w == NULL)
		return false;
	w->item = it;
	waitq_wake(w, QLOCK_OK, woken);
	return true;
}

#define PUT_TAIL	0
#define PUT_GETTER	(QUEUE_WAIT + 1)

/* Where a put goes: PUT_TAIL, PUT_GETTER or QUEUE_WAIT (full). */
static int
queue_put_where(const struct queue *q)
{
	if (q->count == 0 && first_getter(q) != NULL)
		return PUT_GETTER;
	if (!queue_has_room(q) || waitq_first_live(&q->putters) != NULL)
		return QUEUE_WAIT;	/* FIFO: no overtaking parked putters
					   (but places of sessions away) */
	return PUT_TAIL;
}

int
queue_put(struct queue *q, struct qitem *it, struct waitlist *woken)
{
	int	where = queue_put_where(q);

	if (where == QUEUE_WAIT)
		return QUEUE_WAIT;
	if (where == PUT_GETTER)
		(void)queue_handoff(q, it, woken);
	else
		queue_append(q, it);
	if (q->joinable)
		q->unfinished++;
	return 0;
}

int
queue_put_bytes(struct queue *q, uint64_t id, const void *data, size_t len,
    struct waitlist *woken)
{
	struct qitem	*it;
	int		 where = queue_put_where(q);

	if (where == QUEUE_WAIT)
		return QUEUE_WAIT;
	if (where == PUT_GETTER) {
		it = qitem_new(data, len);
		it->id = id;
		(void)queue_handoff(q, it, woken);
	} else
		queue_push(q, id, data, len);
	if (q->joinable)
		q->unfinished++;
	return 0;
}

int
queue_peek(const struct queue *q, struct qref *r)
{
	return qpack_head(&q->items, r) ? 0 : QUEUE_WAIT;
}

bool
queue_last(const struct queue *q, struct qref *r)
{
	return qpack_last(&q->items, r);
}

void
queue_pop(struct queue *q, struct waitlist *woken)
{
	struct waiter	*w;
	struct qref	 r;

	if (!qpack_head(&q->items, &r))
		return;
	q->count--;
	q->bytes -= qref_len(&r);
	qpack_pop(&q->items);
	/* The freed room goes to the longest-waiting putter not away. */
	if ((w = waitq_first_live(&q->putters)) != NULL && queue_has_room(q)) {
		queue_append(q, w->item);
		if (q->joinable)
			q->unfinished++;
		w->item = NULL;
		waitq_wake(w, QLOCK_OK, woken);
	}
}

int
queue_get(struct queue *q, struct qitem **itp, struct waitlist *woken)
{
	struct qref	r;

	if (queue_peek(q, &r) != 0)
		return QUEUE_WAIT;
	*itp = qitem_of_ref(&r);
	queue_pop(q, woken);
	return 0;
}

struct qitem *
queue_remove(struct queue *q, uint64_t id)
{
	struct qitem	*it = qpack_remove(&q->items, id);

	if (it != NULL) {
		q->count--;
		q->bytes -= it->len;
	}
	return it;
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

bool
queue_pump(struct queue *q, struct waitlist *woken)
{
	struct waiter	*w;
	struct qitem	*it;

	if (q->count == 0 || (w = first_getter(q)) == NULL ||
	    queue_get(q, &it, woken) != 0)
		return false;
	w->item = it;
	waitq_wake(w, QLOCK_OK, woken);
	return true;
}

bool
queue_pump_put(struct queue *q, struct waitlist *woken)
{
	struct waiter	*w = waitq_first_live(&q->putters);

	if (w == NULL || !queue_has_room(q))
		return false;
	queue_append(q, w->item);
	if (q->joinable)
		q->unfinished++;
	w->item = NULL;
	waitq_wake(w, QLOCK_OK, woken);
	return true;
}

void
queue_putback(struct queue *q, struct qitem *it, struct waitlist *woken)
{
	if (q->count == 0 && queue_handoff(q, it, woken))
		return;
	qpack_push_front(&q->items, it);
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
