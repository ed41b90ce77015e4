/* cmd_cancel.c: cancel [name, msgid]: withdraw one parked request of the
 * calling session, which is then answered Cancelled; nothing it would
 * have taken is taken. */
#include "cmd.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "session.h"
#include "worker.h"

/* The parked request msgid of the calling session on this worker (the
 * name only routed the cancel here: a cond.acquire over a Lock parks on
 * the lock). */
static struct waiter *
cancel_find(struct worker *w, struct request *r, uint64_t msgid)
{
	struct session	*s = session_find(w, r->ctx.sess);
	struct waiter	*wt;

	if (s == NULL)
		return NULL;
	TAILQ_FOREACH(wt, &s->waiters, sess_link) {
		if (wt->ctx.msgid == msgid && wt->wq != NULL && wt->obj != NULL)
			return wt;
	}
	return NULL;
}

/* Withdraw wt; false if it is past the point of no return. */
static bool
cancel_waiter(struct worker *w, struct waiter *wt)
{
	switch (wt->op) {
	case WOP_COND_REACQUIRE:
		/* Notified (or timed out): its outcome is decided. */
		return false;
	case WOP_COND_WAIT:
		/* It answers once it holds the lock again, as Python's. */
		worker_unpark(w, wt);
		cmd_cond_requeue(w, wt, QLOCK_ECANCELLED);
		return true;
	case WOP_BARRIER_WAIT:
		/* A party that leaves breaks the barrier for the others. */
		waitq_wake(wt, QLOCK_ECANCELLED, &w->woken);
		barrier_break(&wt->obj->u.barrier, &w->woken);
		return true;
	default:
		waitq_wake(wt, QLOCK_ECANCELLED, &w->woken);
		return true;
	}
}

/* cancel [name, msgid] -> true: answered Cancelled; false: too late (it
 * was answered, or will be, as usual) or no such request. */
void
cmd_cancel(struct worker *w, struct request *r)
{
	struct waiter	*wt;
	uint64_t	 msgid;
	bool		 done = false;

	if (mp_read_uint(&r->params, &msgid) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO,
		    "cancel: msgid must be an unsigned integer");
		return;
	}
	if ((wt = cancel_find(w, r, msgid)) != NULL)
		done = cancel_waiter(w, wt);
	/* The cancelled request is answered before the cancel. */
	worker_flush_woken(w);
	if (done)
		msgpack_pack_true(reply_begin(w, &r->ctx));
	else
		msgpack_pack_false(reply_begin(w, &r->ctx));
	reply_end(w, &r->ctx);
}
