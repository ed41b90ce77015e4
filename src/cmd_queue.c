/* cmd_queue.c: queue.* requests: decode parameters, run the pure queue,
 * answer now or park. */
#include "cmd.h"
#include "config.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "worker.h"

/* queue.open [name, maxsize, joinable, giveback?] */
void
cmd_queue_open(struct worker *w, struct request *r)
{
	struct object	*o;
	struct queue	*q;
	int64_t		 maxsize;
	bool		 joinable, keep;

	if (arg_int(w, r, &maxsize) == -1 || arg_bool(w, r, &joinable) == -1 ||
	    arg_giveback(w, r, 3, &keep) == -1)
		return;
	if (maxsize < 0 || maxsize > INT32_MAX) {
		reply_error(w, &r->ctx, QLOCK_EINVAL,
		    "maxsize must be 0 (unbounded) to %d", INT32_MAX);
		return;
	}
	if (cmd_reserve(w, r, 16) == -1 ||
	    (o = cmd_object(w, r, OBJ_QUEUE, LOOKUP_CREATE)) == NULL)
		return;
	q = &o->u.queue;
	if (o->opened && (q->maxsize != maxsize || q->joinable != joinable ||
	    o->keep != keep)) {
		reply_error(w, &r->ctx, QLOCK_EINVAL,
		    "queue '%.*s' is open with maxsize %ld%s%s", (int)r->namelen,
		    r->name, q->maxsize, q->joinable ? ", joinable" : "",
		    o->keep ? ", giveback=False" : "");
		return;
	}
	if (!o->opened) {
		/* Items put before the open count as unfinished tasks. */
		if (joinable && !q->joinable)
			q->unfinished = q->count;
		q->maxsize = (long)maxsize;
		q->joinable = joinable;
		o->opened = true;
		o->keep = keep;
		store_q_open(w, o);
		if (keep)
			store_keep(w, o);
	}
	reply_nil(w, &r->ctx);
}

/* queue.put [name, item, timeout] */
void
cmd_queue_put(struct worker *w, struct request *r)
{
	struct object	*o;
	struct qitem	*it;
	struct qref	 ref;
	struct waiter	*wt;
	const uint8_t	*raw;
	size_t		 rawlen;
	uint64_t	 id;
	double		 deadline;

	if (mp_skip(&r->params, &raw, &rawlen) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO, "queue.put: bad item");
		return;
	}
	if (arg_timeout(w, r, &deadline) == -1 ||
	    cmd_reserve(w, r, rawlen) == -1)
		return;
	if ((o = cmd_object(w, r, OBJ_QUEUE, LOOKUP_CREATE)) == NULL)
		return;
	/* Copied into the queue's blocks: no allocation of its own. */
	id = store_q_newid(w);
	if (queue_put_bytes(&o->u.queue, id, raw, rawlen, &w->woken) == 0) {
		qref_of_bytes(id, raw, rawlen, &ref);
		store_q_put(w, o, &ref);
		reply_nil(w, &r->ctx);
		return;
	}
	if (deadline == 0) {
		reply_error(w, &r->ctx, QLOCK_FULL, "queue '%.*s' is full",
		    (int)r->namelen, r->name);
		return;
	}
	it = qitem_new(raw, rawlen);
	it->id = id;
	wt = cmd_waiter(w, r, o);
	queue_park_put(&o->u.queue, wt, it);
	worker_park(w, wt, deadline);
	session_note_wait(w, wt, true);	/* its place, if bound */
}

/* Reply with an item's bytes as the result. */
static void
reply_item(struct worker *w, const struct reqctx *ctx, const struct qref *r)
{
	pack_qref(reply_begin(w, ctx), r);
	reply_end(w, ctx);
}

/* An item left the queue for session sess: a joinable queue keeps it
 * until task_done, to put it back if the session ends first; with
 * giveback=False it is gone for good and only its task stays unfinished
 * (the log says so: the item done, then the unfinished count).  id is
 * the item's; it its copy, which only a joinable queue with giveback
 * needs (else it may be NULL), freed or kept here. */
static void
queue_taken(struct worker *w, uint64_t sess, struct object *o, uint64_t id,
    struct qitem *it)
{
	struct hold	*h;

	if (o->u.queue.joinable && o->keep) {
		store_q_done(w, o, id);
		store_q_unfinished(w, o);
	}
	if (!o->u.queue.joinable || o->keep) {
		if (it != NULL)
			qitem_free(it);
		return;
	}
	h = hold_get(w, sess, o);
	TAILQ_INSERT_TAIL(&h->items, it, link);
	h->nitems++;
	session_note_item(w, h, id);
}

/* queue.get [name, timeout] */
void
cmd_queue_get(struct worker *w, struct request *r)
{
	struct object	*o;
	struct queue	*q;
	struct qitem	*it = NULL;
	struct qref	 ref;
	struct waiter	*wt;
	double		 deadline;
	size_t		 parked;
	uint64_t	 id;

	if (arg_timeout(w, r, &deadline) == -1 || cmd_reserve(w, r, 16) == -1)
		return;
	if ((o = cmd_object(w, r, OBJ_QUEUE, LOOKUP_CREATE)) == NULL)
		return;
	q = &o->u.queue;
	parked = q->putters.n;
	if (queue_peek(q, &ref) == 0) {
		/* Answered from the block; only a taken joinable item that
		 * may come back is copied out. */
		id = ref.id;
		store_q_take(w, o, id);
		if (q->joinable && !o->keep)
			it = qitem_of_ref(&ref);
		reply_item(w, &r->ctx, &ref);
		queue_pop(q, &w->woken);
		/* A parked putter's item took the freed room at the tail. */
		if (q->putters.n < parked && queue_last(q, &ref))
			store_q_put(w, o, &ref);
		queue_taken(w, r->ctx.sess, o, id, it);
		registry_gc(&w->reg, o);
		return;
	}
	if (deadline == 0) {
		reply_error(w, &r->ctx, QLOCK_EMPTY, "queue '%.*s' is empty",
		    (int)r->namelen, r->name);
		registry_gc(&w->reg, o);
		return;
	}
	wt = cmd_waiter(w, r, o);
	queue_park_get(&o->u.queue, wt);
	worker_park(w, wt, deadline);
	session_note_wait(w, wt, true);	/* its place, if bound */
}

/* queue.size [name] */
void
cmd_queue_size(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_QUEUE, LOOKUP_CREATE);

	if (o == NULL)
		return;
	/* A name never used is an empty queue (freed again at once). */
	msgpack_pack_uint64(reply_begin(w, &r->ctx), o->u.queue.count);
	reply_end(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* queue.state [name] -> {size, maxsize, joinable, unfinished}: one read */
void
cmd_queue_state(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_QUEUE, LOOKUP_CREATE);
	struct queue	*q;
	msgpack_packer	*pk;

	if (o == NULL)
		return;
	q = &o->u.queue;
	pk = reply_begin(w, &r->ctx);
	msgpack_pack_map(pk, 4);
	pack_cstr(pk, "size");		msgpack_pack_uint64(pk, q->count);
	pack_cstr(pk, "maxsize");	msgpack_pack_int64(pk, q->maxsize);
	pack_cstr(pk, "joinable");
	if (q->joinable)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pack_cstr(pk, "unfinished");	msgpack_pack_uint64(pk, q->unfinished);
	reply_end(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* The joinable queue r names, or NULL after replying. */
static struct object *
joinable_lookup(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_QUEUE, LOOKUP_EXISTING);

	if (o != NULL && !o->u.queue.joinable) {
		reply_error(w, &r->ctx, QLOCK_EINVAL,
		    "queue '%.*s' is not joinable (open it with QLOCK_JOINABLE)",
		    (int)r->namelen, r->name);
		return NULL;
	}
	return o;
}

/* A task is done: forget the oldest item the session took (or, if it
 * took none, the oldest any session took: another process may finish
 * the work, as in Python). */
static void
queue_done(struct worker *w, uint64_t sess, struct object *o)
{
	struct hold	*h = hold_find(w, sess, o);
	struct qitem	*it;

	if (h == NULL || h->nitems == 0) {
		TAILQ_FOREACH(h, &o->holds, obj_link)
			if (h->nitems > 0)
				break;
	}
	if (h == NULL || (it = TAILQ_FIRST(&h->items)) == NULL) {
		store_q_unfinished(w, o);
		return;
	}
	TAILQ_REMOVE(&h->items, it, link);
	h->nitems--;
	store_q_done(w, o, it->id);
	qitem_free(it);
	if (h->nitems == 0)
		hold_free(w, h);
}

/* queue.task_done [name] */
void
cmd_queue_task_done(struct worker *w, struct request *r)
{
	struct object	*o;

	if (cmd_reserve(w, r, 16) == -1 || (o = joinable_lookup(w, r)) == NULL)
		return;
	if (queue_task_done(&o->u.queue, &w->woken) != 0) {
		reply_error(w, &r->ctx, QLOCK_EVALUE,
		    "task_done() called more times than there were items");
		return;
	}
	queue_done(w, r->ctx.sess, o);
	reply_nil(w, &r->ctx);
}

/* queue.join [name, timeout] */
void
cmd_queue_join(struct worker *w, struct request *r)
{
	struct object	*o;
	struct waiter	*wt;
	double		 deadline;

	if (arg_timeout(w, r, &deadline) == -1)
		return;
	if ((o = joinable_lookup(w, r)) == NULL)
		return;
	if (queue_join(&o->u.queue) == 0) {
		reply_nil(w, &r->ctx);
		return;
	}
	if (deadline == 0) {
		reply_error(w, &r->ctx, QLOCK_TIMEOUT, "%llu tasks unfinished",
		    (unsigned long long)o->u.queue.unfinished);
		return;
	}
	wt = cmd_waiter(w, r, o);
	queue_park_join(&o->u.queue, wt);
	worker_park(w, wt, deadline);
}

void
cmd_queue_answer(struct worker *w, struct waiter *wt)
{
	struct qref	ref;
	int		st = wt->status;

	if (st == QLOCK_TIMEOUT && wt->op == WOP_QUEUE_GET)
		st = QLOCK_EMPTY;
	else if (st == QLOCK_TIMEOUT && wt->op == WOP_QUEUE_PUT)
		st = QLOCK_FULL;
	if (st != QLOCK_OK) {
		reply_error(w, &wt->ctx, st, "%s", st == QLOCK_EMPTY ?
		    "nothing to get in time" : st == QLOCK_FULL ?
		    "no room in time" : st == QLOCK_TIMEOUT ?
		    "tasks still unfinished" : st == QLOCK_ENOENT ?
		    "the queue was deleted" : "the server is shutting down");
		return;
	}
	if (wt->op == WOP_QUEUE_GET) {
		qref_of_item(wt->item, &ref);
		store_q_take(w, wt->obj, ref.id);
		reply_item(w, &wt->ctx, &ref);
		queue_taken(w, wt->ctx.sess, wt->obj, ref.id, wt->item);
		wt->item = NULL;
	} else
		reply_nil(w, &wt->ctx);
}
