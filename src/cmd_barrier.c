/* cmd_barrier.c: barrier.* requests. */
#include "cmd.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "store.h"
#include "worker.h"

/* barrier.open [name, parties] */
void
cmd_barrier_open(struct worker *w, struct request *r)
{
	struct object	*o;
	int64_t		 parties;

	if (arg_int(w, r, &parties) == -1)
		return;
	if (parties < 1 || parties > INT32_MAX) {
		reply_error(w, &r->ctx, QLOCK_EINVAL,
		    "a barrier needs 1 to %d parties", INT32_MAX);
		return;
	}
	if (cmd_reserve(w, r, 8) == -1 ||
	    (o = cmd_object(w, r, OBJ_BARRIER, LOOKUP_CREATE)) == NULL)
		return;
	if (o->opened) {
		if (o->u.barrier.parties != parties) {
			reply_error(w, &r->ctx, QLOCK_EINVAL,
			    "'%.*s' is open with %u parties", (int)r->namelen,
			    r->name, o->u.barrier.parties);
			return;
		}
	} else {
		barrier_init(&o->u.barrier, (uint32_t)parties);
		o->opened = true;
		store_b_open(w, o);
	}
	reply_nil(w, &r->ctx);
}

/* barrier.wait [name, timeout] -> index */
void
cmd_barrier_wait(struct worker *w, struct request *r)
{
	struct object	*o;
	struct waiter	*wt;
	double		 deadline;
	uint32_t	 index;
	int		 rc;

	if (arg_timeout(w, r, &deadline) == -1 ||
	    (o = cmd_object(w, r, OBJ_BARRIER, LOOKUP_EXISTING)) == NULL)
		return;
	rc = barrier_wait(&o->u.barrier, &index, &w->woken);
	if (rc == 0) {
		msgpack_pack_uint32(reply_begin(w, &r->ctx), index);
		reply_end(w, &r->ctx);
		return;
	}
	if (rc != BARRIER_WAIT) {
		reply_error(w, &r->ctx, rc, "barrier '%.*s' is broken",
		    (int)r->namelen, r->name);
		return;
	}
	wt = cmd_waiter(w, r, o);
	wt->op = WOP_BARRIER_WAIT;
	wt->value = index;
	waitq_push(&o->u.barrier.waiters, wt);
	if (deadline == 0)	/* cannot wait: as a timeout, it breaks */
		barrier_break(&o->u.barrier, &w->woken);
	else
		worker_park(w, wt, deadline);
}

/* barrier.abort [name] */
void
cmd_barrier_abort(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_BARRIER, LOOKUP_EXISTING);

	if (o == NULL)
		return;
	barrier_break(&o->u.barrier, &w->woken);
	reply_nil(w, &r->ctx);
}

/* barrier.reset [name] */
void
cmd_barrier_reset(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_BARRIER, LOOKUP_EXISTING);

	if (o == NULL)
		return;
	barrier_reset(&o->u.barrier, &w->woken);
	reply_nil(w, &r->ctx);
}

/* barrier.state [name] -> {parties, n_waiting, broken}: changes nothing */
void
cmd_barrier_state(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_BARRIER, LOOKUP_EXISTING);
	msgpack_packer	*pk;

	if (o == NULL)
		return;
	pk = reply_begin(w, &r->ctx);
	msgpack_pack_map(pk, 3);
	pack_cstr(pk, "parties");	msgpack_pack_uint32(pk, o->u.barrier.parties);
	pack_cstr(pk, "n_waiting");	msgpack_pack_uint32(pk, o->u.barrier.count);
	pack_cstr(pk, "broken");
	if (o->u.barrier.broken)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	reply_end(w, &r->ctx);
}

void
cmd_barrier_answer(struct worker *w, struct waiter *wt)
{
	int	st = wt->status;

	if (st == QLOCK_OK) {
		msgpack_pack_uint64(reply_begin(w, &wt->ctx), wt->value);
		reply_end(w, &wt->ctx);
		return;
	}
	reply_error(w, &wt->ctx, st, "%s", st == QLOCK_EBROKEN ?
	    "the barrier was broken, aborted or reset" : st == QLOCK_ENOENT ?
	    "the barrier was deleted" : "the server is shutting down");
}
