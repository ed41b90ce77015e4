/* cmd_queue.c: queue.* requests: decode parameters, run the pure queue,
 * answer now or park. */
#include "cmd.h"
#include "config.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "session.h"
#include "util.h"
#include "worker.h"

/* The queue called r->name; created as an unbounded plain queue when
 * create is set and the name is free.  Replies and returns NULL if the
 * name is another kind of object (or absent and not created). */
static struct object *
queue_lookup(struct worker *w, struct request *r, bool create)
{
	struct object	*o = registry_find(&w->reg, r->name, r->namelen);

	if (o == NULL) {
		if (!create) {
			reply_error(w, &r->ctx, QLOCK_ENOENT, "no queue '%.*s'",
			    (int)r->namelen, r->name);
			return NULL;
		}
		o = registry_add(&w->reg, r->name, r->namelen, OBJ_QUEUE);
		queue_init(&o->u.queue, 0, false);
		return o;
	}
	if (o->kind != OBJ_QUEUE) {
		reply_error(w, &r->ctx, QLOCK_ETYPE, "'%.*s' is a %s, not a queue",
		    (int)r->namelen, r->name, obj_kind_name(o->kind));
		return NULL;
	}
	return o;
}

/* A new waiter for r on o, recorded in its session. */
static struct waiter *
waiter_new(struct worker *w, struct request *r, struct object *o)
{
	struct waiter	*wt = xcalloc(1, sizeof(*wt));

	wt->ctx = r->ctx;
	wt->obj = o;
	wt->heap_idx = NO_SLOT;
	wt->sess = session_get(w, r->ctx.sess);
	TAILQ_INSERT_TAIL(&wt->sess->waiters, wt, sess_link);
	return wt;
}

/* queue.open [name, maxsize, joinable] */
void
cmd_queue_open(struct worker *w, struct request *r)
{
	struct object	*o;
	struct queue	*q;
	int64_t		 maxsize;
	bool		 joinable;

	if (arg_int(w, r, &maxsize) == -1 || arg_bool(w, r, &joinable) == -1)
		return;
	if (maxsize < 0 || maxsize > INT32_MAX) {
		reply_error(w, &r->ctx, QLOCK_EINVAL,
		    "maxsize must be 0 (unbounded) to %d", INT32_MAX);
		return;
	}
	if ((o = queue_lookup(w, r, true)) == NULL)
		return;
	q = &o->u.queue;
	if (o->opened && (q->maxsize != maxsize || q->joinable != joinable)) {
		reply_error(w, &r->ctx, QLOCK_EINVAL,
		    "queue '%.*s' is open with maxsize %ld%s", (int)r->namelen,
		    r->name, q->maxsize, q->joinable ? ", joinable" : "");
		return;
	}
	if (!o->opened) {
		/* Items put before the open count as unfinished tasks. */
		if (joinable && !q->joinable)
			q->unfinished = q->count;
		q->maxsize = (long)maxsize;
		q->joinable = joinable;
		o->opened = true;
	}
	reply_nil(w, &r->ctx);
}

/* queue.put [name, item, timeout] */
void
cmd_queue_put(struct worker *w, struct request *r)
{
	struct object	*o;
	struct qitem	*it;
	struct waiter	*wt;
	const uint8_t	*raw;
	size_t		 rawlen;
	double		 deadline;

	if (mp_skip(&r->params, &raw, &rawlen) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO, "queue.put: bad item");
		return;
	}
	if (arg_timeout(w, r, &deadline) == -1)
		return;
	if ((o = queue_lookup(w, r, true)) == NULL)
		return;
	it = qitem_new(raw, rawlen);
	if (queue_put(&o->u.queue, it, &w->woken) == 0) {
		reply_nil(w, &r->ctx);
		return;
	}
	if (deadline == 0) {
		qitem_free(it);
		reply_error(w, &r->ctx, QLOCK_FULL, "queue '%.*s' is full",
		    (int)r->namelen, r->name);
		return;
	}
	wt = waiter_new(w, r, o);
	queue_park_put(&o->u.queue, wt, it);
	worker_park(w, wt, deadline);
}

/* Reply with an item's bytes as the result. */
static void
reply_item(struct worker *w, const struct reqctx *ctx, struct qitem *it)
{
	pack_raw(reply_begin(w, ctx), it->data, it->len);
	reply_end(w, ctx);
}

/* queue.get [name, timeout] */
void
cmd_queue_get(struct worker *w, struct request *r)
{
	struct object	*o;
	struct qitem	*it;
	struct waiter	*wt;
	double		 deadline;

	if (arg_timeout(w, r, &deadline) == -1)
		return;
	if ((o = queue_lookup(w, r, true)) == NULL)
		return;
	if (queue_get(&o->u.queue, &it, &w->woken) == 0) {
		reply_item(w, &r->ctx, it);
		qitem_free(it);
		registry_gc(&w->reg, o);
		return;
	}
	if (deadline == 0) {
		reply_error(w, &r->ctx, QLOCK_EMPTY, "queue '%.*s' is empty",
		    (int)r->namelen, r->name);
		registry_gc(&w->reg, o);
		return;
	}
	wt = waiter_new(w, r, o);
	queue_park_get(&o->u.queue, wt);
	worker_park(w, wt, deadline);
}

/* queue.size [name] */
void
cmd_queue_size(struct worker *w, struct request *r)
{
	struct object	*o = registry_find(&w->reg, r->name, r->namelen);

	if (o != NULL && o->kind != OBJ_QUEUE) {
		reply_error(w, &r->ctx, QLOCK_ETYPE, "'%.*s' is a %s, not a queue",
		    (int)r->namelen, r->name, obj_kind_name(o->kind));
		return;
	}
	/* A name never used is an empty queue. */
	msgpack_pack_uint64(reply_begin(w, &r->ctx),
	    o == NULL ? 0 : o->u.queue.count);
	reply_end(w, &r->ctx);
}

/* The joinable queue r names, or NULL after replying. */
static struct object *
joinable_lookup(struct worker *w, struct request *r)
{
	struct object	*o = queue_lookup(w, r, false);

	if (o != NULL && !o->u.queue.joinable) {
		reply_error(w, &r->ctx, QLOCK_EINVAL,
		    "queue '%.*s' is not joinable (open it with QLOCK_JOINABLE)",
		    (int)r->namelen, r->name);
		return NULL;
	}
	return o;
}

/* queue.task_done [name] */
void
cmd_queue_task_done(struct worker *w, struct request *r)
{
	struct object	*o;

	if ((o = joinable_lookup(w, r)) == NULL)
		return;
	if (queue_task_done(&o->u.queue, &w->woken) != 0) {
		reply_error(w, &r->ctx, QLOCK_EVALUE,
		    "task_done() called more times than there were items");
		return;
	}
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
	wt = waiter_new(w, r, o);
	queue_park_join(&o->u.queue, wt);
	worker_park(w, wt, deadline);
}

void
cmd_queue_answer(struct worker *w, struct waiter *wt)
{
	int	st = wt->status;

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
	if (wt->op == WOP_QUEUE_GET)
		reply_item(w, &wt->ctx, wt->item);
	else
		reply_nil(w, &wt->ctx);
}
