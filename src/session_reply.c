/*
 * session_reply.c: at most once across a failover (issue 13,
 * docs/HA-SESSIONS.md "Replies after commit, at most once").  A session bound to a key keeps
 * the reply of its last request that changed state (a named request of a
 * method not flagged CMD_READ, executed on this worker), with its msgid,
 * in the replicated state: an R_H_REPLY record in the entry of the
 * request's effects (store_reply.c keeps it in a follower's replay state),
 * carried into the detached session at a new leader's epoch.  Once a
 * session.resume took a detached session over, a request whose msgid is
 * the kept reply's is answered with it and not executed; one at or below
 * the highest msgid executed is Inval; a higher one executes.  Replies
 * over REPLY_KEEP_MAX bytes are not kept: their msgid is, and their retry
 * is Inval like an older request's.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "frame.h"
#include "log.h"
#include "qlock.h"
#include "repl.h"
#include "reply.h"
#include "session.h"
#include "store_int.h"
#include "util.h"
#include "worker.h"

#define REPLY_KEEP_MAX	(1u << 20)	/* bytes of a reply kept at most */

/* The keyed session of a request's context here, or NULL. */
static struct session *
keyed_of(struct worker *w, const struct reqctx *ctx)
{
	struct session	*s;

	if (w->keyed.count == 0 || ctx->origin != w->id ||
	    (s = session_find(w, ctx->sess)) == NULL || s->key == 0)
		return NULL;
	return s;
}

static struct store_buf *
reply_buf(struct worker *w)
{
	if (w->store == NULL || !w->store->raft)
		return NULL;
	store_schedule_flush(w);
	return &w->store->pend;
}

/* The object name a parked request r waits on, and its waiter's op
 * (-1: not one whose place is kept; WOP_QUEUE_GET is 0): a cond.acquire
 * over a Lock waits on that lock (its third parameter); a cond.wait's
 * place is its lock's (that lock, or the condition's own), where the
 * failover woke it (session_repl.c waits_serve). */
static int
place_target(const struct request *r, const char **name, uint32_t *len)
{
	struct mp_reader rd = r->params;
	const uint8_t	*raw;
	size_t		 rawlen;

	*name = r->name;
	*len = (uint32_t)r->namelen;
	if (r->cmd->exec == cmd_queue_get)
		return WOP_QUEUE_GET;
	if (r->cmd->exec == cmd_queue_put)
		return WOP_QUEUE_PUT;
	if (r->cmd->exec == cmd_sem_acquire)
		return WOP_SEM_ACQUIRE;
	if (r->cmd->exec == cmd_lock_acquire)
		return WOP_LOCK_ACQUIRE;
	if (r->cmd->exec != cmd_cond_acquire && r->cmd->exec != cmd_cond_wait)
		return -1;
	if (r->nparams > 2 && mp_skip(&rd, &raw, &rawlen) == 0 &&
	    mp_read_nil(&rd) == -1 && mp_read_str(&rd, name, len) == -1)
		return -1;
	return r->cmd->exec == cmd_cond_wait ? WOP_COND_REACQUIRE :
	    WOP_LOCK_ACQUIRE;
}

/* r is the resend of the request s's grant answered. */
static bool
grant_matches(const struct session *s, const struct request *r)
{
	const char	*name;
	uint32_t	 len;

	return place_target(r, &name, &len) == s->grant_op &&
	    len == s->grant_len && memcmp(name, s->grant_name, len) == 0;
}

/* The resend of a request parked at a failover (a get, an acquire)
 * takes its placeholder's place (session_repl.c waits_serve): the
 * request's connection and timeout, not executed again.  True if it did
 * (or its timeout was bad: answered). */
static bool
take_place(struct worker *w, struct session *s, struct request *r)
{
	struct waiter	*wt;
	const char	*name;
	const uint8_t	*raw;
	size_t		 rawlen;
	uint32_t	 len;
	double		 deadline;
	int		 op;

	if ((op = place_target(r, &name, &len)) == -1)
		return false;
	TAILQ_FOREACH(wt, &s->waiters, sess_link)
		if ((int)wt->op == op && wt->wq != NULL &&
		    wt->ctx.msgid == r->ctx.msgid)
			break;
	if (wt == NULL || len != wt->obj->namelen ||
	    memcmp(name, wt->obj->name, len) != 0)
		return false;		/* another object: run it */
	/* A put's item: the place has it (the same, from the record). */
	if (op == WOP_QUEUE_PUT && mp_skip(&r->params, &raw, &rawlen) == -1)
		return false;
	if (arg_timeout(w, r, &deadline) == -1)
		return true;
	wt->placed = false;
	wt->ctx = r->ctx;
	wt->ctx.keep = true;
	/* A cond.wait woken by the failover waits for its lock untimed. */
	if (wt->heap_idx == NO_SLOT && op != WOP_COND_REACQUIRE)
		worker_park(w, wt, deadline);
	if (r->ctx.msgid > s->hi)
		s->hi = r->ctx.msgid;
	return true;
}

void
session_place_answered(struct worker *w, struct waiter *wt)
{
	struct session	*s = wt->sess;

	if (wt->status != QLOCK_OK || wt->obj == NULL ||
	    (wt->op != WOP_LOCK_ACQUIRE && wt->op != WOP_SEM_ACQUIRE &&
	    wt->op != WOP_COND_REACQUIRE))
		return;
	free(s->grant_name);
	s->grant = wt->ctx.msgid;
	s->grant_op = (int)wt->op;
	s->grant_len = wt->obj->namelen;
	s->grant_name = xmalloc(s->grant_len + 1);
	memcpy(s->grant_name, wt->obj->name, s->grant_len);
}

static void
grant_forget(struct session *s)
{
	free(s->grant_name);
	s->grant_name = NULL;
	s->grant = 0;
}

/* s's place was granted at its resume and its resend will never come
 * (drop_places): give the lock or the permit back, as a dead waiter's. */
static void
grant_back(struct worker *w, struct session *s)
{
	struct object	*o = registry_find(&w->reg, s->grant_name,
			    s->grant_len);
	struct lock	*l;
	struct hold	*h;

	log_info("shard %d: request %llu, granted at its session's resume, "
	    "was not sent again: what it was granted is given back", w->id,
	    (unsigned long long)s->grant);
	grant_forget(s);
	if (o == NULL || (h = hold_find(w, s->id, o)) == NULL)
		return;
	if (o->kind == OBJ_LOCK || o->kind == OBJ_COND) {
		l = o->kind == OBJ_COND ? &o->u.cond.lock : &o->u.lock;
		if (l->owner != s->id)
			return;
		(void)lock_release_all(l, s->id, &w->tokens, &w->woken);
		session_note_lock(w, o, s->id);
	} else if (o->kind == OBJ_SEM && h->permits > 0) {
		h->permits--;
		session_note_sem(w, h);
		(void)sem_release(&o->u.sem, &w->woken);
		if (h->permits > 0)
			return;
	} else
		return;
	hold_free(w, h);
	registry_gc(&w->reg, o);
}

/* A session sends one request at a time (libqlock per handle, Python
 * per thread): once it sends msgid or a later one that is not the
 * resend of a failover's place (another method or object), that place
 * will never be claimed.  Drop it as a dead waiter's (R_H_UNWAIT), so
 * that nothing is handed to it that nobody waits for. */
static void
drop_places(struct worker *w, struct session *s, uint64_t msgid)
{
	struct waiter	*wt, *next;
	bool		 dropped = false;

	for (wt = TAILQ_FIRST(&s->waiters); wt != NULL; wt = next) {
		next = TAILQ_NEXT(wt, sess_link);
		if (!wt->placed || wt->wq == NULL || wt->ctx.msgid > msgid)
			continue;
		log_info("shard %d: request %llu of a resumed session is not "
		    "the resend of its parked request %llu: its place is "
		    "dropped", w->id, (unsigned long long)msgid,
		    (unsigned long long)wt->ctx.msgid);
		worker_drop_waiter(w, wt);
		dropped = true;
	}
	if (s->grant != 0 && s->grant <= msgid) {
		grant_back(w, s);
		dropped = true;
	}
	if (dropped)
		worker_flush_woken(w);
}

bool
session_retry(struct worker *w, struct request *r)
{
	struct session	*s;
	struct mp_reader params;

	r->ctx.keep = false;
	if (r->cmd->exec == cmd_session_resume ||
	    (s = keyed_of(w, &r->ctx)) == NULL)
		return false;
	params = r->params;
	if (s->grant != 0 && r->ctx.msgid == s->grant &&
	    grant_matches(s, r))
		grant_forget(s);	/* the resend: its kept reply */
	else if (!TAILQ_EMPTY(&s->waiters) || s->grant != 0) {
		if (take_place(w, s, r))
			return true;
		drop_places(w, s, r->ctx.msgid);
	}
	r->params = params;	/* as it was, to execute it */
	if (s->resumed && r->ctx.msgid != 0 && r->ctx.msgid <= s->hi) {
		if (r->ctx.msgid == s->last && s->last_raw != NULL) {
			w->stats.retries_answered++;
			reply_relay(w, &r->ctx, s->last_raw, s->last_len);
		} else
			reply_error(w, &r->ctx, QLOCK_EINVAL, "request %llu "
			    "was already answered%s",
			    (unsigned long long)r->ctx.msgid,
			    r->ctx.msgid == s->last ? " (its reply was too "
			    "large to keep)" : "");
		return true;
	}
	if (r->ctx.msgid > s->hi)
		s->hi = r->ctx.msgid;
	return false;
}

bool
session_keeps(struct worker *w, const struct request *r)
{
	return (r->cmd->flags & (CMD_NAMED | CMD_READ)) == CMD_NAMED &&
	    r->ctx.msgid != 0 && repl_on(w) && keyed_of(w, &r->ctx) != NULL;
}

void
session_keep_reply(struct worker *w, const struct reqctx *ctx,
    const void *frame, size_t len)
{
	struct mp_reader rd;
	struct store_buf *b;
	struct session	*s;
	uint32_t	 n;
	uint64_t	 v;

	if ((s = keyed_of(w, ctx)) == NULL || (b = reply_buf(w)) == NULL)
		return;
	/* [1, msgid, error, result]: keep what follows the msgid. */
	mp_reader_init(&rd, (const uint8_t *)frame + FRAME_HDR,
	    len - FRAME_HDR);
	if (mp_read_array(&rd, &n) == -1 || n != 4 ||
	    mp_read_uint(&rd, &v) == -1 || mp_read_uint(&rd, &v) == -1)
		return;
	free(s->last_raw);
	s->last_raw = NULL;
	s->last = ctx->msgid;
	s->last_len = (size_t)(rd.end - rd.p);
	if (s->last_len <= REPLY_KEEP_MAX) {
		s->last_raw = xmalloc(s->last_len);
		memcpy(s->last_raw, rd.p, s->last_len);
	}
	if (s->last > s->hi)
		s->hi = s->last;
	rec_h_reply(b, s->key, s->last, s->last_raw, s->last_len);
}

void
session_reply_move(struct session *d, struct session *s)
{
	if (d->last == 0)
		return;
	free(s->last_raw);
	s->last = d->last;
	s->last_raw = d->last_raw;
	s->last_len = d->last_len;
	if (d->hi > s->hi)
		s->hi = d->hi;
	d->last = 0;
	d->last_raw = NULL;
	d->last_len = 0;
}

void
session_bind_note(struct worker *w, uint64_t key, bool bound)
{
	struct store_buf *b;

	if ((b = reply_buf(w)) != NULL)
		rec_h_bind(b, key, bound);
}

void
session_reply_forget(struct session *s)
{
	grant_forget(s);
	free(s->last_raw);
	s->last_raw = NULL;
	s->last = 0;
	s->last_len = 0;
}

static int
sess_cmp(const void *a, const void *b)
{
	const struct session *x = *(struct session *const *)a;
	const struct session *y = *(struct session *const *)b;

	return x->key < y->key ? -1 : x->key > y->key;
}

void
session_reply_snapshot(struct worker *w, struct store_buf *b)
{
	struct session	**v;
	struct session	 *s;
	struct hnode	 *n;
	size_t		  nv = 0, i;

	if (w->keyed.count == 0)
		return;
	session_waits_snapshot(w, b);
	v = xcalloc(w->keyed.count, sizeof(*v));
	for (n = hmap_first(&w->keyed); n != NULL; n = hmap_next(&w->keyed, n))
		v[nv++] = hmap_entry(n, struct session, knode);
	qsort(v, nv, sizeof(*v), sess_cmp);
	for (i = 0; i < nv; i++) {
		s = v[i];
		if (s->last == 0)	/* bound, nothing kept */
			rec_h_bind(b, s->key, true);
		else
			rec_h_reply(b, s->key, s->last, s->last_raw,
			    s->last_len);
	}
	free(v);
}

void
session_reply_serve(struct worker *w, struct replay *rp)
{
	struct hnode	*n;
	struct rreply	*x;
	struct session	*s;

	while ((n = hmap_first(&rp->replies)) != NULL) {
		x = hmap_entry(n, struct rreply, node);
		s = session_detached_get(w, x->skey);
		free(s->last_raw);
		s->last = x->msgid;
		s->last_raw = x->raw;
		s->last_len = x->len;
		if (x->msgid > s->hi)
			s->hi = x->msgid;
		hmap_remove(&rp->replies, n);
		free(x);
	}
}
