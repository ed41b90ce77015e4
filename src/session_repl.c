/*
 * session_repl.c: sessions whose holds survive a failover (issue 13,
 * docs/HA-SESSIONS.md).  A client binds its connection's session, on
 * the connection's worker, to a token of its own
 * (session.resume); in a cluster the session's holds are then recorded
 * under the token's key (the first 8 bytes of its SHA-256; the token is
 * never stored): R_H_LOCK / R_H_FREE / R_H_SEM / R_H_ITEM, replicated
 * with the rest of the pass's records (store_hold.c keeps them in a
 * follower's replay state).  A new leader turns them into detached
 * sessions, each with a timer of --session-grace; a resume with the same
 * token takes the holds over, else the timer ends the session as a dead
 * client's.  A keyed session whose connection closes on a leader that
 * stays up ends at once, as any.  A single node binds nothing.
 */
#include <string.h>

#include <openssl/sha.h>

#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "obj_queue.h"
#include "qlock.h"
#include "repl.h"
#include "reply.h"
#include "session.h"
#include "store.h"
#include "store_int.h"
#include "util.h"
#include "worker.h"

#define TOKEN_MIN	16
#define TOKEN_MAX	64

/* The key a session is bound to, or 0. */
static uint64_t
sess_key(struct worker *w, uint64_t sess)
{
	struct session	*s;

	if (w->keyed.count == 0 || (s = session_find(w, sess)) == NULL)
		return 0;
	return s->key;
}

/* The buffer a keyed hold's record goes into (the pass's entry). */
static struct store_buf *
hold_buf(struct worker *w, struct object *o)
{
	if (w->store == NULL || !w->store->raft)
		return NULL;
	o->logged = true;	/* freeing it logs its delete */
	store_schedule_flush(w);
	return &w->store->pend;
}

void
session_note_lock(struct worker *w, struct object *o, uint64_t sess)
{
	const struct lock *l = o->kind == OBJ_COND ? &o->u.cond.lock :
	    &o->u.lock;
	struct store_buf *b;
	uint64_t	 key;

	if (o->keep || (key = sess_key(w, sess)) == 0 ||
	    (b = hold_buf(w, o)) == NULL)
		return;
	if (l->owner == sess && l->depth > 0)
		rec_h_lock(b, o, key, l->depth, l->token);
	else
		rec_item(b, o, R_H_FREE, key);
}

void
session_note_sem(struct worker *w, struct hold *h)
{
	struct store_buf *b;

	if (h->sess->key != 0 && !h->obj->keep &&
	    (b = hold_buf(w, h->obj)) != NULL)
		rec_pair(b, h->obj, R_H_SEM, h->sess->key, h->permits);
}

void
session_note_item(struct worker *w, struct hold *h, uint64_t id)
{
	struct store_buf *b;

	if (h->sess->key != 0 && (b = hold_buf(w, h->obj)) != NULL)
		rec_pair(b, h->obj, R_H_ITEM, id, h->sess->key);
}

/* What wt's parked request waits for, as an R_H_WAIT kind; -1: not
 * one whose place is kept. */
static int
wait_kind(const struct waiter *wt)
{
	switch (wt->op) {
	case WOP_QUEUE_GET:
		return WAIT_GET;
	case WOP_QUEUE_PUT:	/* on a full queue */
		return WAIT_PUT;
	case WOP_LOCK_ACQUIRE:	/* lock.acquire, cond.acquire */
		return WAIT_LOCK;
	case WOP_SEM_ACQUIRE:
		return WAIT_SEM;
	case WOP_COND_WAIT:	/* waiting for a notify */
	case WOP_COND_REACQUIRE:	/* then for the lock */
		return WAIT_COND;
	default:
		return -1;
	}
}

/* A parked put's item (its record carries it), else NULL. */
static const void *
wait_item(const struct waiter *wt)
{
	return wt->op == WOP_QUEUE_PUT && wt->item != NULL ?
	    wt->item->data : NULL;
}

static size_t
wait_itemlen(const struct waiter *wt)
{
	return wt->op == WOP_QUEUE_PUT && wt->item != NULL ? wt->item->len : 0;
}

/* The object name wt's records give: a cond.wait's lock object's (the
 * condition, or the Lock it waits over), which it stays under from its
 * park to its answer; else its object's. */
static void
wait_name(const struct waiter *wt, const struct object *o, const char **name,
    uint32_t *len)
{
	if (wait_kind(wt) == WAIT_COND && wt->lockname != NULL) {
		*name = wt->lockname;
		*len = (uint32_t)wt->locklen;
	} else {
		*name = o->name;
		*len = (uint32_t)o->namelen;
	}
}

/* A keyed session's request parked by this worker for its own
 * connection: its place is kept. */
static bool
wait_kept(struct worker *w, const struct waiter *wt)
{
	return wait_kind(wt) != -1 && wt->sess->key != 0 &&
	    wt->ctx.origin == w->id;
}

void
session_note_wait(struct worker *w, struct waiter *wt, bool parked)
{
	struct store_buf *b;
	const char	*name;
	uint32_t	 len;

	if (wait_kept(w, wt) && wt->obj != NULL &&
	    (b = hold_buf(w, wt->obj)) != NULL) {
		wait_name(wt, wt->obj, &name, &len);
		rec_h_wait(b, parked ? R_H_WAIT : R_H_UNWAIT, name, len,
		    wt->sess->key, wt->ctx.msgid, wait_kind(wt), wt->depth,
		    wait_item(wt), wait_itemlen(wt));
	}
}

/* The waiters of o whose places are kept, as records, in order. */
static void
waits_of(struct worker *w, struct store_buf *b, struct object *o,
    struct waitq *q)
{
	struct waiter	*wt;
	const char	*name;
	uint32_t	 len;

	TAILQ_FOREACH(wt, &q->head, link)
		if (wait_kept(w, wt)) {
			wait_name(wt, o, &name, &len);
			rec_h_wait(b, R_H_WAIT, name, len, wt->sess->key,
			    wt->ctx.msgid, wait_kind(wt), wt->depth,
			    wait_item(wt), wait_itemlen(wt));
		}
}

/* The keyed sessions' parked requests, each object's in order (a
 * leader's snapshot). */
void
session_waits_snapshot(struct worker *w, struct store_buf *b)
{
	struct hnode	*n;
	struct object	*o;

	for (n = hmap_first(&w->reg.byname); n != NULL;
	    n = hmap_next(&w->reg.byname, n)) {
		o = hmap_entry(n, struct object, node);
		if (o->kind == OBJ_QUEUE) {
			waits_of(w, b, o, &o->u.queue.getters);
			waits_of(w, b, o, &o->u.queue.putters);
		}
		else if (o->kind == OBJ_LOCK)
			waits_of(w, b, o, &o->u.lock.waiters);
		else if (o->kind == OBJ_COND) {
			/* Those notified, waiting for the lock, first. */
			waits_of(w, b, o, &o->u.cond.lock.waiters);
			waits_of(w, b, o, &o->u.cond.waiters);
		}
		else if (o->kind == OBJ_SEM)
			waits_of(w, b, o, &o->u.sem.waiters);
	}
}

/* Where a restored wait of kind parks on o (found or made); NULL if o
 * is another kind of object. */
static struct waitq *
wait_queue(struct worker *w, const struct rwait *x, struct object **op)
{
	struct object	*o = registry_find(&w->reg, x->name, x->namelen);

	/* A semaphore is opened; a condition's lock object exists. */
	if (o == NULL && x->kind != WAIT_SEM && x->kind != WAIT_COND)
		o = registry_add(&w->reg, x->name, x->namelen,
		    x->kind == WAIT_GET || x->kind == WAIT_PUT ? OBJ_QUEUE :
		    OBJ_LOCK);
	if ((*op = o) == NULL)
		return NULL;
	if (x->kind == WAIT_GET && o->kind == OBJ_QUEUE)
		return &o->u.queue.getters;
	if (x->kind == WAIT_PUT && o->kind == OBJ_QUEUE)
		return &o->u.queue.putters;
	if ((x->kind == WAIT_LOCK || x->kind == WAIT_COND) &&
	    o->kind == OBJ_LOCK)
		return &o->u.lock.waiters;
	if ((x->kind == WAIT_LOCK || x->kind == WAIT_COND) &&
	    o->kind == OBJ_COND)
		return &o->u.cond.lock.waiters;
	if (x->kind == WAIT_SEM && o->kind == OBJ_SEM)
		return &o->u.sem.waiters;
	return NULL;
}

/* A new leader: rp's parked requests become placeholders on their
 * objects, in order, owned by their keys' detached sessions, with no
 * connection and no deadline (the grace bounds them), away until their
 * sessions resume; the resend takes the place.  A cond.wait's is woken
 * by the failover, as if notified: it waits for its lock again, at its
 * depth (a condition's waiters may wake without a notify; they check
 * what they wait for). */
static void
waits_serve(struct worker *w, struct replay *rp)
{
	static const int ops[] = { WOP_QUEUE_GET, WOP_LOCK_ACQUIRE,
	    WOP_SEM_ACQUIRE, WOP_COND_REACQUIRE };
	struct qitem	*it;
	struct rwait	*x;
	struct object	*o;
	struct session	*s;
	struct waiter	*wt;
	struct waitq	*q;

	TAILQ_FOREACH(x, &rp->waits, link) {
		if ((q = wait_queue(w, x, &o)) == NULL)
			continue;
		s = session_detached_get(w, x->skey);
		wt = xcalloc(1, sizeof(*wt));
		wt->ctx.sess = s->id;
		wt->ctx.msgid = x->msgid;
		wt->ctx.origin = w->id;
		wt->ctx.keep = true;
		wt->obj = o;
		wt->heap_idx = NO_SLOT;
		wt->deadline = -1;
		wt->away = true;
		wt->placed = true;
		wt->sess = s;
		TAILQ_INSERT_TAIL(&s->waiters, wt, sess_link);
		if (x->kind == WAIT_GET)
			queue_park_get(&o->u.queue, wt);
		else if (x->kind == WAIT_PUT) {
			/* Its item, under an id of ours, goes in when its
			 * session is back and there is room. */
			it = qitem_new(x->item, x->itemlen);
			it->id = store_q_newid(w);
			queue_park_put(&o->u.queue, wt, it);
		} else {
			wt->op = ops[x->kind];
			wt->depth = x->kind == WAIT_COND ? x->depth : 1;
			wt->outcome = QLOCK_OK;
			waitq_push(q, wt);
		}
	}
	replay_waits_free(rp);
}

/* Everything s holds, as records under its key (it was just bound). */
static void
note_all(struct worker *w, struct session *s)
{
	struct hold	*h;
	struct qitem	*it;

	TAILQ_FOREACH(h, &s->holds, sess_link) {
		switch (h->obj->kind) {
		case OBJ_LOCK:
		case OBJ_COND:
			session_note_lock(w, h->obj, s->id);
			break;
		case OBJ_SEM:
			if (h->permits > 0)
				session_note_sem(w, h);
			break;
		case OBJ_QUEUE:
			TAILQ_FOREACH(it, &h->items, link)
				session_note_item(w, h, it->id);
			break;
		default:
			break;
		}
	}
}

static struct session *
keyed_find(struct worker *w, uint64_t key)
{
	struct hnode	*n = hmap_find(&w->keyed, &key, sizeof(key));

	return n == NULL ? NULL : hmap_entry(n, struct session, knode);
}

static void
bind_key(struct worker *w, struct session *s, uint64_t key)
{
	s->key = key;
	hmap_insert(&w->keyed, &s->knode, &s->key, sizeof(s->key));
}

/* Forget s's key here (its session ends, or a resume took it over). */
static void
unkey(struct worker *w, struct session *s)
{
	if (s->key == 0)
		return;
	session_reply_forget(s);
	hmap_remove(&w->keyed, &s->knode);
	if (s->grace != NULL)
		event_free(s->grace);
	s->grace = NULL;
	s->detached = false;
	s->key = 0;
}

void
session_unbind(struct worker *w, struct session *s)
{
	if (s->key == 0)
		return;
	session_bind_note(w, s->key, false);
	unkey(w, s);
}

size_t
session_detached_count(struct worker *w)
{
	struct hnode	*n;
	size_t		 count = 0;

	for (n = hmap_first(&w->keyed); n != NULL; n = hmap_next(&w->keyed, n))
		count += hmap_entry(n, struct session, knode)->detached;
	return count;
}

static size_t
nholds(const struct session *s)
{
	const struct hold *h;
	size_t		   n = 0;

	TAILQ_FOREACH(h, &s->holds, sess_link)
		n++;
	return n;
}

/* A detached session's grace period is over: it ends as a dead client's. */
static void
grace_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct session	*s = arg;
	struct worker	*w = s->grace_w;

	log_info("shard %d: a session detached by the failover was not "
	    "resumed in time: what it held is given back", w->id);
	session_end(w, s->id);
}

struct session *
session_detached_get(struct worker *w, uint64_t key)
{
	struct session	*s = keyed_find(w, key);
	struct timeval	 tv;
	int		 ms = w->conf->session_grace;

	if (s != NULL)
		return s;
	s = session_get(w, SESS_MAKE(w->id, w->gen, ++w->next_sess));
	bind_key(w, s, key);
	s->detached = true;
	s->grace_w = w;
	s->grace = evtimer_new(w->base, grace_cb, s);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(s->grace, &tv);
	return s;
}

void
session_repl_serve(struct worker *w, struct replay *rp)
{
	struct taken	**v = xcalloc(rp->taken.count + 1, sizeof(*v));
	struct hnode	 *n;
	struct rhold	 *rh;
	struct session	 *s;
	struct hold	 *h;
	struct lock	 *l;
	struct object	 *o;
	size_t		  nv = 0, i;
	long		  take;

	/* Items, oldest first, so that each hold's are in order. */
	for (n = hmap_first(&rp->taken); n != NULL; n = hmap_next(&rp->taken, n))
		if (hmap_entry(n, struct taken, node)->skey != 0)
			v[nv++] = hmap_entry(n, struct taken, node);
	qsort(v, nv, sizeof(*v), replay_taken_cmp);
	for (i = 0; i < nv; i++) {
		s = session_detached_get(w, v[i]->skey);
		h = hold_get(w, s->id, v[i]->key.obj);
		TAILQ_INSERT_TAIL(&h->items, v[i]->it, link);
		h->nitems++;
		hmap_remove(&rp->taken, &v[i]->node);
		free(v[i]);
	}
	free(v);
	session_reply_serve(w, rp);
	waits_serve(w, rp);
	while ((n = hmap_first(&rp->holds)) != NULL) {
		rh = hmap_entry(n, struct rhold, node);
		o = rh->key.obj;
		s = session_detached_get(w, rh->key.skey);
		h = hold_get(w, s->id, o);
		if (rh->depth > 0 && (o->kind == OBJ_LOCK || o->kind == OBJ_COND)) {
			l = o->kind == OBJ_COND ? &o->u.cond.lock : &o->u.lock;
			l->owner = s->id;
			l->depth = rh->depth;
			l->token = rh->token;
		}
		if (rh->permits > 0 && o->kind == OBJ_SEM) {
			/* The replicated value counts them as free. */
			take = o->u.sem.value < (long)rh->permits ?
			    o->u.sem.value : (long)rh->permits;
			o->u.sem.value -= take;
			h->permits += (uint64_t)take;
		}
		if (h->permits == 0 && h->nitems == 0 && (o->kind == OBJ_SEM ||
		    o->kind == OBJ_QUEUE))
			hold_free(w, h);
		hmap_remove(&rp->holds, n);
		free(rh);
	}
	if (w->keyed.count > 0)
		log_info("shard %d: %zu sessions detached by the failover, "
		    "kept for %d ms", w->id, session_detached_count(w),
		    w->conf->session_grace);
}

/* wt's session is back: hand-offs no longer pass over its place; what
 * is free meanwhile (a queued item, the lock, permits) is its if it is
 * the first waiter. */
static void
place_back(struct worker *w, struct waiter *wt)
{
	struct object	*o = wt->obj;
	struct queue	*q;
	size_t		 parked;
	struct qref	 ref;

	wt->away = false;
	if (o->kind == OBJ_LOCK || o->kind == OBJ_COND) {
		(void)lock_pump(o->kind == OBJ_LOCK ? &o->u.lock :
		    &o->u.cond.lock, &w->tokens, &w->woken);
		return;
	}
	if (o->kind == OBJ_SEM) {
		(void)sem_pump(&o->u.sem, &w->woken);
		return;
	}
	q = &o->u.queue;
	/* A put's item, if there is room (and then a getter may take it). */
	if (wt->op == WOP_QUEUE_PUT && queue_pump_put(q, &w->woken) &&
	    queue_last(q, &ref))
		store_q_put(w, wt->obj, &ref);
	parked = q->putters.n;
	if (!queue_pump(q, &w->woken))
		return;
	/* A parked putter's item took the freed room at the tail. */
	if (q->putters.n < parked && queue_last(q, &ref))
		store_q_put(w, wt->obj, &ref);
}

/* Move what detached session d holds to s (the connection's). */
static void
take_over(struct worker *w, struct session *d, struct session *s)
{
	struct hold	*hd, *hs;
	struct waiter	*wt;
	struct lock	*l;
	struct object	*o;

	/* Its placeholders, in their places, now s's (the resend takes
	 * them: session_retry). */
	while ((wt = TAILQ_FIRST(&d->waiters)) != NULL) {
		TAILQ_REMOVE(&d->waiters, wt, sess_link);
		wt->sess = s;
		wt->ctx.sess = s->id;
		TAILQ_INSERT_TAIL(&s->waiters, wt, sess_link);
		conn_unanswered_add(conn_find(w, s->id), true);
		if (wt->away)
			place_back(w, wt);
	}
	while ((hd = TAILQ_FIRST(&d->holds)) != NULL) {
		o = hd->obj;
		if (o->kind == OBJ_LOCK || o->kind == OBJ_COND) {
			l = o->kind == OBJ_COND ? &o->u.cond.lock : &o->u.lock;
			if (l->owner == d->id)
				l->owner = s->id;
		}
		hs = hold_get(w, s->id, o);
		hs->permits += hd->permits;
		hd->permits = 0;
		/* d's items are older: they go first. */
		TAILQ_CONCAT(&hd->items, &hs->items, link);
		TAILQ_CONCAT(&hs->items, &hd->items, link);
		hs->nitems += hd->nitems;
		hd->nitems = 0;
		hold_free(w, hd);
	}
}

/* session.resume [token] -> {resumed, holds, last} */
void
cmd_session_resume(struct worker *w, struct request *r)
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	struct session	*s, *d;
	msgpack_packer	*pk;
	const void	*tok;
	uint32_t	 len;
	uint64_t	 key = 0;
	size_t		 held = 0, i;
	uint64_t	 last = 0;
	bool		 resumed = false, had;

	if (mp_read_bytes(&r->params, &tok, &len) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO,
		    "session.resume: the token must be bytes");
		return;
	}
	if (len < TOKEN_MIN || len > TOKEN_MAX) {
		reply_error(w, &r->ctx, QLOCK_EINVAL, "session.resume: a token "
		    "is %d to %d bytes", TOKEN_MIN, TOKEN_MAX);
		return;
	}
	if (repl_on(w)) {
		/* A request of this worker's own shard, never relayed. */
		if (!repl_serving(w)) {
			repl_refuse(w, &r->ctx);
			return;
		}
		repl_read(w);	/* answered once still the leader */
		SHA256(tok, len, md);
		for (i = 0; i < 8; i++)
			key = key << 8 | md[i];
		if (key == 0)
			key = 1;
		s = session_get(w, r->ctx.sess);
		d = keyed_find(w, key);
		if (s->key != 0 && s->key != key) {
			reply_error(w, &r->ctx, QLOCK_EINVAL, "session.resume: "
			    "this connection's session has another token");
			session_gc(w, s);
			return;
		}
		if (s->key == 0 && d != NULL && !d->detached) {
			reply_error(w, &r->ctx, QLOCK_EINVAL,
			    "session is in use by another connection");
			session_gc(w, s);
			return;
		}
		if (s->key == 0) {
			had = !TAILQ_EMPTY(&s->holds);
			if (d != NULL) {
				held = nholds(d);
				take_over(w, d, s);
				session_reply_move(d, s);
				unkey(w, d);	/* the key lives on in s */
				session_gc(w, d);
				resumed = true;
				s->resumed = true;
			} else	/* in this pass's entry: the answer waits
				 * for its commit, so every later leader
				 * knows the key once the client has it */
				session_bind_note(w, key, true);
			bind_key(w, s, key);
			if (had)	/* unkeyed holds until now */
				note_all(w, s);
		}
		if (!resumed)
			held = nholds(s);
		last = s->last;
	}
	pk = reply_begin(w, &r->ctx);
	msgpack_pack_map(pk, 3);
	pack_cstr(pk, "resumed");
	if (resumed)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pack_cstr(pk, "holds");
	msgpack_pack_uint64(pk, held);
	/* The msgid of the kept reply: a lost request at or below it was
	 * executed (retry it: the kept one is answered), above it was not. */
	pack_cstr(pk, "last");
	msgpack_pack_uint64(pk, last);
	reply_end(w, &r->ctx);
}
