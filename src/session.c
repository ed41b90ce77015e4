/* session.c: owner-side session records, holds, and giving back what a
 * session had when it ends. */
#include "cmd.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "xfwd.h"

struct session *
session_find(struct worker *w, uint64_t id)
{
	struct hnode	*n = hmap_find(&w->sessions, &id, sizeof(id));

	return n == NULL ? NULL : hmap_entry(n, struct session, node);
}

struct session *
session_get(struct worker *w, uint64_t id)
{
	struct session	*s = session_find(w, id);

	if (s != NULL)
		return s;
	s = xcalloc(1, sizeof(*s));
	s->id = id;
	TAILQ_INIT(&s->waiters);
	TAILQ_INIT(&s->holds);
	hmap_insert(&w->sessions, &s->node, &s->id, sizeof(s->id));
	return s;
}

void
session_gc(struct worker *w, struct session *s)
{
	if (!TAILQ_EMPTY(&s->waiters) || !TAILQ_EMPTY(&s->holds) ||
	    s->key != 0)
		return;
	hmap_remove(&w->sessions, &s->node);
	free(s->grant_name);
	free(s);
}

struct hold *
hold_find(struct worker *w, uint64_t sess, struct object *o)
{
	struct hold	*h;

	/* From the object's side: few sessions hold one object at a time
	 * (one for a lock), while one session may hold many objects. */
	TAILQ_FOREACH(h, &o->holds, obj_link) {
		if (h->sess->id == sess)
			return h;
	}
	return NULL;
}

struct hold *
hold_get(struct worker *w, uint64_t sess, struct object *o)
{
	struct hold	*h = hold_find(w, sess, o);

	if (h != NULL)
		return h;
	h = xcalloc(1, sizeof(*h));
	h->sess = session_get(w, sess);
	h->obj = o;
	TAILQ_INIT(&h->items);
	TAILQ_INSERT_TAIL(&h->sess->holds, h, sess_link);
	TAILQ_INSERT_TAIL(&o->holds, h, obj_link);
	return h;
}

void
hold_free(struct worker *w, struct hold *h)
{
	struct session	*s = h->sess;

	TAILQ_REMOVE(&s->holds, h, sess_link);
	TAILQ_REMOVE(&h->obj->holds, h, obj_link);
	free(h);
	session_gc(w, s);
}

void
hold_release(struct worker *w, struct hold *h)
{
	struct object	*o = h->obj;
	struct qitem	*it;
	uint64_t	 n;

	switch (o->kind) {
	case OBJ_LOCK:
		if (!o->keep) {	/* giveback=False: it stays held */
			(void)lock_release_all(&o->u.lock, h->sess->id,
			    &w->tokens, &w->woken);
			session_note_lock(w, o, h->sess->id);
		}
		break;
	case OBJ_COND:
		(void)lock_release_all(&o->u.cond.lock, h->sess->id,
		    &w->tokens, &w->woken);
		session_note_lock(w, o, h->sess->id);
		break;
	case OBJ_SEM:
		if ((n = h->permits) > 0) {
			h->permits = 0;
			session_note_sem(w, h);	/* none held: count 0 */
			h->permits = n;
		}
		for (; h->permits > 0; h->permits--)
			(void)sem_release(&o->u.sem, &w->woken);
		break;
	case OBJ_QUEUE:
		/* Unfinished items go back to the head, oldest first. */
		while ((it = TAILQ_LAST(&h->items, qitemlist)) != NULL) {
			TAILQ_REMOVE(&h->items, it, link);
			store_q_back(w, o, it->id);
			queue_putback(&o->u.queue, it, &w->woken);
		}
		h->nitems = 0;
		break;
	default:
		break;
	}
	hold_free(w, h);
}

void
session_end(struct worker *w, uint64_t id)
{
	struct session	*s = session_find(w, id);
	struct waiter	*wt;
	struct hold	*h;
	struct object	*o;

	xfwd_session_end(w, id);	/* its upstream here, if any */
	if (s == NULL)
		return;
	/* Keep the record alive while taking it apart. */
	h = xcalloc(1, sizeof(*h));
	TAILQ_INSERT_TAIL(&s->holds, h, sess_link);
	/* Its parked requests go first, so nothing is handed to them. */
	while ((wt = TAILQ_FIRST(&s->waiters)) != NULL)
		worker_drop_waiter(w, wt);
	while ((h = TAILQ_FIRST(&s->holds)) != NULL && h->obj != NULL) {
		o = h->obj;
		hold_release(w, h);
		registry_gc(&w->reg, o);
	}
	/* Only the placeholder is left. */
	TAILQ_REMOVE(&s->holds, h, sess_link);
	free(h);
	session_unbind(w, s);
	session_gc(w, s);
	worker_flush_woken(w);
}

void
session_end_worker(struct worker *w, int id)
{
	struct hnode	*n, *next;
	uint64_t	*ids;
	size_t		 nids = 0, i;

	/* Collect first: ending one session frees records. */
	ids = xcalloc(w->sessions.count + 1, sizeof(*ids));
	for (n = hmap_first(&w->sessions); n != NULL; n = next) {
		next = hmap_next(&w->sessions, n);
		if (SESS_WORKER(hmap_entry(n, struct session, node)->id) == id)
			ids[nids++] = hmap_entry(n, struct session, node)->id;
	}
	for (i = 0; i < nids; i++)
		session_end(w, ids[i]);
	free(ids);
}
