/* cmd_lock.c: lock.* and cond.* requests: Lock/RLock ownership with
 * fencing tokens, and Condition over its own lock or an existing Lock or
 * RLock on the same worker (Python's Condition(lock)). */
#include <string.h>

#include "cmd.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "worker.h"

/* Reply to a granted acquire: the token for locks, nil for conditions. */
static void
reply_grant(struct worker *w, const struct reqctx *ctx, struct object *o,
    uint64_t token)
{
	hold_get(w, ctx->sess, o);
	store_tokens(w);
	session_note_lock(w, o, ctx->sess);
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
	session_note_wait(w, wt, true);	/* its place, if bound */
}

/* Release o's lock once for r (a giveback=False Lock: for whoever holds
 * it, as any process may release Python's). */
static void
release(struct worker *w, struct request *r, struct object *o)
{
	struct lock	*l = lock_of(o);
	struct hold	*h;
	uint64_t	 owner = l->owner;

	if (o->keep && owner != 0 && owner != r->ctx.sess) {
		(void)lock_release(l, owner, &w->tokens, &w->woken);
		if ((h = hold_find(w, owner, o)) != NULL)
			hold_free(w, h);
		reply_nil(w, &r->ctx);
		registry_gc(&w->reg, o);
		return;
	}
	if (lock_release(l, r->ctx.sess, &w->tokens, &w->woken) != 0) {
		reply_error(w, &r->ctx, QLOCK_ENOTOWNER,
		    "'%.*s' is not held by this connection", (int)r->namelen,
		    r->name);
		return;
	}
	session_note_lock(w, o, r->ctx.sess);
	if (l->owner != r->ctx.sess && (h = hold_find(w, r->ctx.sess, o)) != NULL)
		hold_free(w, h);
	reply_nil(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* lock.open [name, recursive, giveback?] */
void
cmd_lock_open(struct worker *w, struct request *r)
{
	struct object	*o;
	bool		 recursive, keep;

	if (arg_bool(w, r, &recursive) == -1 ||
	    arg_giveback(w, r, 2, &keep) == -1)
		return;
	if (recursive && keep) {
		reply_error(w, &r->ctx, QLOCK_EINVAL, "giveback=False is for a "
		    "Lock, not an RLock (only its owner may release it)");
		return;
	}
	if (cmd_reserve(w, r, 8) == -1 ||
	    (o = cmd_object(w, r, OBJ_LOCK, LOOKUP_CREATE)) == NULL)
		return;
	if (o->opened && (o->u.lock.recursive != recursive || o->keep != keep)) {
		reply_error(w, &r->ctx, QLOCK_EINVAL, "'%.*s' is open as a%s%s",
		    (int)r->namelen, r->name,
		    o->u.lock.recursive ? "n RLock" : " Lock",
		    o->keep ? " with giveback=False" : "");
		return;
	}
	if (!o->opened) {
		o->u.lock.recursive = recursive;
		o->opened = true;
		o->keep = keep;
		store_l_open(w, o);
		if (keep)
			store_keep(w, o);
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

/* The Lock or RLock named lname for a condition: found, or created as a
 * plain Lock as lock.acquire would; NULL if the name is another kind. */
static struct object *
cond_lock_lookup(struct worker *w, const char *lname, size_t llen)
{
	struct object	*lo = registry_find(&w->reg, lname, llen);

	if (lo == NULL)
		return registry_add(&w->reg, lname, llen, OBJ_LOCK);
	return lo->kind == OBJ_LOCK ? lo : NULL;
}

/*
 * The object whose lock condition o uses for r: the Lock or RLock named by
 * r's parameter pos (counting the name as 0; the reader is skip
 * parameters before it), which must live on this worker; o itself if that
 * parameter is absent or nil.  NULL after replying.
 */
static struct object *
cond_lock_obj(struct worker *w, struct request *r, struct object *o,
    uint32_t pos, int skip)
{
	struct mp_reader rd = r->params;
	struct object	*lo;
	const uint8_t	*raw;
	const char	*lname;
	size_t		 rawlen;
	uint32_t	 llen;

	if (r->nparams <= pos)
		return o;
	while (skip-- > 0)
		(void)mp_skip(&rd, &raw, &rawlen);
	if (mp_read_nil(&rd) == 0)
		return o;
	if (mp_read_str(&rd, &lname, &llen) == -1 || llen == 0 ||
	    llen > NAME_MAX_LEN) {
		reply_error(w, &r->ctx, QLOCK_EPROTO, "%s: the lock must be "
		    "nil or the name of a Lock or RLock", r->cmd->name);
		return NULL;
	}
	if (shard_of(lname, llen, (unsigned)w->nworkers) != (unsigned)w->id) {
		reply_error(w, &r->ctx, QLOCK_EINVAL, "'%.*s' and its lock "
		    "'%.*s' live on different workers: give them one hash tag "
		    "(as 'cond{L}' over the lock 'L')", (int)r->namelen,
		    r->name, (int)(llen > 100 ? 100 : llen), lname);
		return NULL;
	}
	if ((lo = cond_lock_lookup(w, lname, llen)) == NULL)
		reply_error(w, &r->ctx, QLOCK_ETYPE, "'%.*s' is not a Lock or "
		    "RLock", (int)(llen > 100 ? 100 : llen), lname);
	return lo;
}

/* Whether the waiters of condition o wait over lock object lo (every
 * wait and notify of one condition must use one lock). */
static bool
cond_lock_agrees(struct object *o, struct object *lo)
{
	struct waiter	*first = waitq_first(&o->u.cond.waiters);

	if (first == NULL)
		return true;
	if (lo == o)
		return first->lockname == NULL;
	return first->lockname != NULL && first->locklen == lo->namelen &&
	    memcmp(first->lockname, lo->name, lo->namelen) == 0;
}

/* The lock object for condition request r (the condition o unless r names
 * a Lock); NULL after replying, having freed o if it was left idle. */
static struct object *
cond_target(struct worker *w, struct request *r, struct object *o,
    uint32_t pos, int skip)
{
	struct object	*lo = cond_lock_obj(w, r, o, pos, skip);

	if (lo != NULL && !cond_lock_agrees(o, lo)) {
		reply_error(w, &r->ctx, QLOCK_EINVAL, "'%.*s' is waited on "
		    "over another lock", (int)r->namelen, r->name);
		if (lo != o)
			registry_gc(&w->reg, lo);
		lo = NULL;
	}
	if (lo != o)
		registry_gc(&w->reg, o);	/* o itself is not used */
	return lo;
}

/* Whether the caller may wait on or notify condition o over lock object
 * lo: it must hold the lock, and the waiters must be over the same one.
 * -1 after replying and freeing what was left idle. */
static int
cond_may(struct worker *w, struct request *r, struct object *o,
    struct object *lo, const char *what)
{
	if (lock_of(lo)->owner != r->ctx.sess)
		reply_error(w, &r->ctx, QLOCK_ENOTOWNER, "cannot %s '%.*s' "
		    "without holding its lock", what, (int)r->namelen, r->name);
	else if (!cond_lock_agrees(o, lo))
		reply_error(w, &r->ctx, QLOCK_EINVAL, "'%.*s' is waited on "
		    "over another lock", (int)r->namelen, r->name);
	else
		return 0;
	if (lo != o)
		registry_gc(&w->reg, lo);
	registry_gc(&w->reg, o);
	return -1;
}

/* cond.acquire [name, timeout, lock]: the condition's lock, or the Lock
 * or RLock named by the optional lock (then answered with its token). */
void
cmd_cond_acquire(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_COND, LOOKUP_CREATE);

	if (o != NULL && (o = cond_target(w, r, o, 2, 1)) != NULL)
		acquire(w, r, o);
}

/* cond.release [name, lock] */
void
cmd_cond_release(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_COND, LOOKUP_CREATE);

	if (o != NULL && (o = cond_target(w, r, o, 1, 0)) != NULL)
		release(w, r, o);
}

/* cond.wait [name, timeout, lock]: release, sleep until notified or timed
 * out, hold the lock again, answer. */
void
cmd_cond_wait(struct worker *w, struct request *r)
{
	struct object	*o, *lo;
	struct waiter	*wt;
	struct lock	*l;
	double		 deadline;

	if (arg_timeout(w, r, &deadline) == -1 ||
	    (o = cmd_object(w, r, OBJ_COND, LOOKUP_CREATE)) == NULL)
		return;
	if ((lo = cond_lock_obj(w, r, o, 2, 0)) == NULL) {
		registry_gc(&w->reg, o);
		return;
	}
	if (cond_may(w, r, o, lo, "wait on") == -1)
		return;
	l = lock_of(lo);
	wt = cmd_waiter(w, r, o);
	if (lo != o) {
		wt->lockname = xmemdup(lo->name, lo->namelen);
		wt->locklen = lo->namelen;
	}
	(void)cond_wait(&o->u.cond, l, r->ctx.sess, wt, &w->tokens, &w->woken);
	session_note_lock(w, lo, r->ctx.sess);
	session_note_wait(w, wt, true);	/* its place, if bound */
	if (deadline == 0)	/* no time to wait: relock at once */
		cmd_cond_requeue(w, wt, QLOCK_TIMEOUT);
	else
		worker_park(w, wt, deadline);
}

void
cmd_cond_requeue(struct worker *w, struct waiter *wt, int outcome)
{
	struct object	*o = wt->obj, *lo;

	if (wt->lockname == NULL) {
		cond_requeue(&o->u.cond.lock, wt, outcome, &w->tokens,
		    &w->woken);
		return;
	}
	/* Over a Lock: from now on it waits on (and will hold) the lock. */
	if ((lo = cond_lock_lookup(w, wt->lockname, wt->locklen)) == NULL) {
		waitq_wake(wt, QLOCK_ENOENT, &w->woken);	/* replaced */
		return;
	}
	wt->obj = lo;
	cond_requeue(&lo->u.lock, wt, outcome, &w->tokens, &w->woken);
	registry_gc(&w->reg, o);
}

/* Notify up to n waiters of the condition r names; the lock is its
 * parameter pos. */
static void
notify(struct worker *w, struct request *r, uint32_t n, uint32_t pos)
{
	struct object	*o = cmd_object(w, r, OBJ_COND, LOOKUP_CREATE), *lo;
	struct waiter	*wt, *next;
	uint32_t	 moved;

	if (o == NULL)
		return;
	if ((lo = cond_lock_obj(w, r, o, pos, 0)) == NULL) {
		registry_gc(&w->reg, o);
		return;
	}
	if (cond_may(w, r, o, lo, "notify") == -1)
		return;
	/* Moved waiters no longer time out: they wait for the lock only
	 * (over a Lock, on the lock object itself). */
	for (wt = waitq_first(&o->u.cond.waiters), moved = 0;
	    wt != NULL && moved < n; wt = next, moved++) {
		next = TAILQ_NEXT(wt, link);
		worker_unpark(w, wt);
		wt->obj = lo;
	}
	(void)cond_notify(&o->u.cond, lock_of(lo), r->ctx.sess, n, &moved);
	reply_nil(w, &r->ctx);
	if (lo != o)
		registry_gc(&w->reg, o);
}

/* cond.notify [name, n, lock] */
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
	notify(w, r, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n, 2);
}

/* cond.notify_all [name, lock] */
void
cmd_cond_notify_all(struct worker *w, struct request *r)
{
	notify(w, r, UINT32_MAX, 1);
}

void
cmd_lock_answer(struct worker *w, struct waiter *wt)
{
	int	st = wt->status;

	if (st == QLOCK_OK && wt->op == WOP_COND_REACQUIRE) {
		/* Holding the lock again; report what ended the wait. */
		hold_get(w, wt->ctx.sess, wt->obj);
		store_tokens(w);
		session_note_lock(w, wt->obj, wt->ctx.sess);
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
