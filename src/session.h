/* session.h: what each client session has parked and holds in the objects
 * this worker owns, so that all of it is given back at once when the
 * session ends. */
#ifndef SESSION_H
#define SESSION_H

#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "hmap.h"
#include "object.h"
#include "obj_queue.h"
#include "waitq.h"

struct replay;
struct worker;

/* Session ids: the origin worker in the top byte, then its incarnation,
 * then a counter, so a restarted worker never reuses a live id. */
#define SESS_WORKER(id)	((int)((id) >> 56))
#define SESS_MAKE(worker, gen, n) \
	((uint64_t)(worker) << 56 | ((uint64_t)(gen) & 0xffffff) << 32 | \
	 ((uint64_t)(n) & 0xffffffff))

/* What one session holds of one object. */
struct hold {
	TAILQ_ENTRY(hold) sess_link;	/* in the session's holds */
	TAILQ_ENTRY(hold) obj_link;	/* in the object's holds */
	struct session	*sess;
	struct object	*obj;
	uint64_t	 permits;	/* semaphore: permits taken */
	struct qitemlist items;		/* joinable queue: taken, not done,
					   oldest first */
	size_t		 nitems;
};

/* The owner-side record of one session; exists while it has anything here. */
struct session {
	struct hnode	 node;		/* in worker->sessions, by id */
	uint64_t	 id;
	struct waitlist	 waiters;	/* parked requests, linked by sess_link */
	struct holdlist	 holds;		/* what it holds here */
	/* Bound to a key by session.resume (a cluster only): its holds are
	 * replicated under the key and survive a failover; the record lives
	 * until the session ends (src/session_repl.c). */
	uint64_t	 key;		/* 0: none */
	struct hnode	 knode;		/* in worker->keyed, by key */
	bool		 detached;	/* no connection: a failover's */
	struct event	*grace;		/* ...ended when this fires */
	struct worker	*grace_w;	/* its worker, for the timer */
	/* Its last request that changed state, replicated with its reply
	 * (src/session_reply.c): a retry of it is answered from here. */
	uint64_t	 last;		/* its msgid, 0: none */
	uint8_t		*last_raw;	/* the reply after the msgid; NULL:
					   too large to keep */
	size_t		 last_len;
	uint64_t	 hi;		/* highest msgid executed */
	bool		 resumed;	/* took over a detached session */
	/* A failover's place granted a lock or a permit before its resend
	 * came (at the resume): given back if the session sends anything
	 * else (session_reply.c). */
	uint64_t	 grant;		/* its msgid, 0: none */
	int		 grant_op;	/* WOP_LOCK_ACQUIRE, WOP_SEM_ACQUIRE */
	char		*grant_name;	/* the object's (malloc'd) */
	size_t		 grant_len;
};

/* Find or create the record of session id. */
struct session *session_get(struct worker *w, uint64_t id);
struct session *session_find(struct worker *w, uint64_t id);
/* Free the record if it has nothing left. */
void	session_gc(struct worker *w, struct session *s);
/* The session ended: cancel its waiters and give back what it held. */
void	session_end(struct worker *w, uint64_t id);
/* End every session whose connection lived on worker id (it died). */
void	session_end_worker(struct worker *w, int id);

/* The hold of session sess on o, created if absent. */
struct hold *hold_get(struct worker *w, uint64_t sess, struct object *o);
struct hold *hold_find(struct worker *w, uint64_t sess, struct object *o);
/* Forget a hold (its items must be gone); gc's its session. */
void	hold_free(struct worker *w, struct hold *h);
/* Give back everything h holds (lock, permits, items) and free it. */
void	hold_release(struct worker *w, struct hold *h);

/* session_repl.c: sessions bound to a key (session.resume, a cluster).
 * Record a keyed session's hold after it changed: o's lock for sess (held
 * at some depth, or not any more), h's permits, an item h took. */
void	session_note_lock(struct worker *w, struct object *o, uint64_t sess);
void	session_note_sem(struct worker *w, struct hold *h);
void	session_note_item(struct worker *w, struct hold *h, uint64_t id);
/* Record a keyed session's queue.get wt parked (parked) or leaving its
 * queue's getters (answered, dropped). */
struct waiter;
void	session_note_wait(struct worker *w, struct waiter *wt, bool parked);
/* The keyed sessions' parked gets as records (a leader's snapshot). */
struct store_buf;
void	session_waits_snapshot(struct worker *w, struct store_buf *b);
/* Forget s's key (its session ends). */
void	session_unbind(struct worker *w, struct session *s);
/* Sessions detached by a failover, waiting for a resume. */
size_t	session_detached_count(struct worker *w);
/* This worker now leads: keyed holds in rp become detached sessions. */
void	session_repl_serve(struct worker *w, struct replay *rp);
/* The detached session of key on this new leader, made if absent. */
struct session *session_detached_get(struct worker *w, uint64_t key);

/* session_reply.c: the last reply of a keyed session (at most once).
 * A request of a resumed session that is a retry: answered (the kept
 * reply, or Inval), true; else false, and its msgid noted. */
struct request;
struct reqctx;
bool	session_retry(struct worker *w, struct request *r);
/* A failover's place wt is answered before its resend came: remember a
 * grant (a lock, a permit) to give back if the resend never comes. */
void	session_place_answered(struct worker *w, struct waiter *wt);
/* Whether the reply of r (executed here) is to be kept. */
bool	session_keeps(struct worker *w, const struct request *r);
/* Keep the reply frame (header, [1, msgid, error, result]) of ctx. */
void	session_keep_reply(struct worker *w, const struct reqctx *ctx,
	    const void *frame, size_t len);
/* Move d's kept reply to s (a resume). */
void	session_reply_move(struct session *d, struct session *s);
/* Forget s's kept reply (here only). */
void	session_reply_forget(struct session *s);
/* Record that a session bound key (bound) or that key's session ended
 * (it is forgotten, with its kept reply) in the replicated state. */
void	session_bind_note(struct worker *w, uint64_t key, bool bound);
/* The keyed sessions as records, by key: each kept reply, or the bind. */
struct store_buf;
void	session_reply_snapshot(struct worker *w, struct store_buf *b);
/* rp's kept replies become detached sessions' (a new leader). */
void	session_reply_serve(struct worker *w, struct replay *rp);

#endif
