/* cmd_event.c: event.* requests. */
#include "cmd.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "store.h"
#include "worker.h"

/* event.set [name] */
void
cmd_event_set(struct worker *w, struct request *r)
{
	struct object	*o;

	if (cmd_reserve(w, r, 8) == -1 ||
	    (o = cmd_object(w, r, OBJ_EVENT, LOOKUP_CREATE)) == NULL)
		return;
	if (!o->u.event.set) {
		qevent_set(&o->u.event, &w->woken);
		store_e_set(w, o);
	}
	reply_nil(w, &r->ctx);
}

/* event.clear [name] */
void
cmd_event_clear(struct worker *w, struct request *r)
{
	struct object	*o;

	if (cmd_reserve(w, r, 8) == -1 ||
	    (o = cmd_object(w, r, OBJ_EVENT, LOOKUP_CREATE)) == NULL)
		return;
	if (o->u.event.set) {
		qevent_clear(&o->u.event);
		store_e_set(w, o);
	}
	reply_nil(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* event.is_set [name] -> bool */
void
cmd_event_is_set(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_EVENT, LOOKUP_CREATE);
	msgpack_packer	*pk;

	if (o == NULL)
		return;
	pk = reply_begin(w, &r->ctx);
	if (o->u.event.set)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	reply_end(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* event.wait [name, timeout] */
void
cmd_event_wait(struct worker *w, struct request *r)
{
	struct object	*o;
	struct waiter	*wt;
	double		 deadline;

	if (arg_timeout(w, r, &deadline) == -1 ||
	    (o = cmd_object(w, r, OBJ_EVENT, LOOKUP_CREATE)) == NULL)
		return;
	if (qevent_wait(&o->u.event) == 0) {
		reply_nil(w, &r->ctx);
		return;
	}
	if (deadline == 0) {
		reply_error(w, &r->ctx, QLOCK_TIMEOUT, "'%.*s' is not set",
		    (int)r->namelen, r->name);
		registry_gc(&w->reg, o);
		return;
	}
	wt = cmd_waiter(w, r, o);
	wt->op = WOP_EVENT_WAIT;
	waitq_push(&o->u.event.waiters, wt);
	worker_park(w, wt, deadline);
}

void
cmd_event_answer(struct worker *w, struct waiter *wt)
{
	int	st = wt->status;

	if (st == QLOCK_OK)
		reply_nil(w, &wt->ctx);
	else
		reply_error(w, &wt->ctx, st, "%s", st == QLOCK_TIMEOUT ?
		    "not set in time" : st == QLOCK_ENOENT ?
		    "the event was deleted" : "the server is shutting down");
}
