/* cmd_lock.c: lock.* and cond.* requests: Lock/RLock ownership with
 * fencing tokens, and Condition over its own lock. */
#include "cmd.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "session.h"
#include "store.h"
#include "worker.h"

/* Reply to a granted acquire: the token for locks, nil for conditions. */
static void
reply_grant(struct worker *w, const struct reqctx *ctx, struct object *o,
    uint64_t token)
{
	hold_get(w, ctx->sess, o);
	store_tokens(w);
	if (o->kind == OBJ_LOCK) {
		msgpack_pack_uint64(reply_begin(w, ctx), token);
		reply_end(w, ctx);
	} else
		reply_nil(w, ctx);
}

/* The lock inside o (a lock, or a condition's). */
static struct lock *
lock_of(struct object *o)
{
	return o->kind == OBJ_LOCK ? &o->u.lock : &o->u.cond.lock;
}

/* Acquire o's lock for r: now, or park until the deadline. */
static void
acquire(struct worker *w, struct request *r, struct object *o)
{
	struct lock	*l = lock_of(o);
	struct waiter	*wt;
	double		 deadline;

	if (arg_timeout(w, r, &deadline) == -1) {
		registry_gc(&w->reg, o);	/* a refused call leaves nothing */
		return;
	}
	if (lock_acquire(l, r->ctx.sess, &w->tokens) == 0) {
		reply_grant(w, &r->ctx, o, l->token);
		return;
	}
	if (deadline == 0) {
		reply_error(w, &r->ctx, QLOCK_TIMEOUT, "'%.*s' is held",
		    (int)r->namelen, r->name);
		registry_gc(&w->reg, o);
		return;
	}
	wt = cmd_waiter(w, r, o);
	wt->op = WOP_LOCK_ACQUIRE;
	lock_park(l, wt, 1);
	worker_park(w, wt, deadline);
}

/* Release o's lock once for r. */
static void
release(struct worker *w, struct request *r, struct object *o)
{
	struct lock	*l = lock_of(o);
	struct hold	*h;

	if (lock_release(l, r->ctx.sess, &w->tokens, &w->woken) != 0) {
		reply_error(w, &r->ctx, QLOCK_ENOTOWNER,
		    "'%.*s' is not held by this connection", (int)r->namelen,
		    r->name);
		return;
	}
	if (l->owner != r->ctx.sess && (h = hold_find(w, r->ctx.sess, o)) != NULL)
		hold_free(w, h);
	reply_nil(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* lock.open [name, recursive] */
void
cmd_lock_open(struct worker *w, struct request *r)
{
	struct object	*o;
	bool		 recursive;

	if (arg_bool(w, r, &recursive) == -1 || cmd_reserve(w, r, 8) == -1 ||
	    (o = cmd_object(w, r, OBJ_LOCK, LOOKUP_CREATE)) == NULL)
		return;
	if (o->opened && o->u.lock.recursive != recursive) {
		reply_error(w, &r->ctx, QLOCK_EINVAL, "'%.*s' is open as a%s",
		    (int)r->namelen, r->name,
		    o->u.lock.recursive ? "n RLock" : " Lock");
		return;
	}
	if (!o->opened) {
		o->u.lock.recursive = recursive;
		o->opened = true;
		store_l_open(w, o);
	}
	reply_nil(w, &r->ctx);
}

/* lock.acquire [name, timeout] -> fencing token */
void
cmd_lock_acquire(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_LOCK, LOOKUP_CREATE);

	if (o != NULL)
		acquire(w, r, o);
}

/* lock.release [name] */
void
cmd_lock_release(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_LOCK, LOOKUP_CREATE);

	if (o != NULL)
		release(w, r, o);
}

/* cond.acquire [name, timeout] */
void
cmd_cond_acquire(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_COND, LOOKUP_CREATE);

	if (o != NULL)
		acquire(w, r, o);
}

/* cond.release [name] */
void
cmd_cond_release(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_COND, LOOKUP_CREATE);

	if (o != NULL)
		release(w, r, o);
}

/* cond.wait [name, timeout]: release, sleep until notified or timed out,
 * hold the lock again, answer. */
void
cmd_cond_wait(struct worker *w, struct request *r)
{
	struct object	*o;
	struct waiter	*wt;
	double		 deadline;

	if (arg_timeout(w, r, &deadline) == -1 ||
	    (o = cmd_object(w, r, OBJ_COND, LOOKUP_CREATE)) == NULL)
		return;
	if (o->u.cond.lock.owner != r->ctx.sess) {
		reply_error(w, &r->ctx, QLOCK_ENOTOWNER,
		    "cannot wait on '%.*s' without holding its lock",
		    (int)r->namelen, r->name);
		registry_gc(&w->reg, o);
		return;
	}
	wt = cmd_waiter(w, r, o);
	(void)cond_wait(&o->u.cond, r->ctx.sess, wt, &w->tokens, &w->woken);
	if (deadline == 0)	/* no time to wait: relock at once */
		cond_requeue(&o->u.cond, wt, QLOCK_TIMEOUT, &w->tokens,
		    &w->woken);
	else
		worker_park(w, wt, deadline);
}

/* Notify up to n waiters of the condition r names. */
static void
notify(struct worker *w, struct request *r, uint32_t n)
{
	struct object	*o = cmd_object(w, r, OBJ_COND, LOOKUP_CREATE);
	struct waiter	*wt, *next;
	uint32_t	 moved;

	if (o == NULL)
		return;
	if (o->u.cond.lock.owner != r->ctx.sess) {
		reply_error(w, &r->ctx, QLOCK_ENOTOWNER,
		    "cannot notify '%.*s' without holding its lock",
		    (int)r->namelen, r->name);
		registry_gc(&w->reg, o);
		return;
	}
	/* Moved waiters no longer time out: they wait for the lock only. */
	for (wt = waitq_first(&o->u.cond.waiters), moved = 0;
	    wt != NULL && moved < n; wt = next, moved++) {
		next = TAILQ_NEXT(wt, link);
		worker_unpark(w, wt);
	}
	(void)cond_notify(&o->u.cond, r->ctx.sess, n, &moved);
	reply_nil(w, &r->ctx);
}

/* cond.notify [name, n] */
void
cmd_cond_notify(struct worker *w, struct request *r)
{
	int64_t	n;

	if (arg_int(w, r, &n) == -1)
		return;
	if (n < 0) {
		reply_error(w, &r->ctx, QLOCK_EINVAL, "n must be >= 0");
		return;
	}
	notify(w, r, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
}

/* cond.notify_all [name] */
void
cmd_cond_notify_all(struct worker *w, struct request *r)
{
	notify(w, r, UINT32_MAX);
}

void
cmd_lock_answer(struct worker *w, struct waiter *wt)
{
	int	st = wt->status;

	if (st == QLOCK_OK && wt->op == WOP_COND_REACQUIRE) {
		/* Holding the lock again; report what ended the wait. */
		hold_get(w, wt->ctx.sess, wt->obj);
		store_tokens(w);
		if (wt->outcome == QLOCK_OK)
			reply_nil(w, &wt->ctx);
		else
			reply_error(w, &wt->ctx, wt->outcome, "%s (the lock is "
			    "held again)", wt->outcome == QLOCK_ECANCELLED ?
			    "cancelled" : "not notified in time");
		return;
	}
	if (st == QLOCK_OK) {
		reply_grant(w, &wt->ctx, wt->obj, wt->value);
		return;
	}
	reply_error(w, &wt->ctx, st, "%s", st == QLOCK_TIMEOUT ?
	    "not acquired in time" : st == QLOCK_ENOENT ?
	    "the object was deleted" : "the server is shutting down");
}
