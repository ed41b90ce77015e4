/* session.c: owner-side session records and giving back what a session
 * had when it ends. */
#include "cmd.h"
#include "session.h"
#include "util.h"
#include "worker.h"

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
	hmap_insert(&w->sessions, &s->node, &s->id, sizeof(s->id));
	return s;
}

void
session_gc(struct worker *w, struct session *s)
{
	if (!TAILQ_EMPTY(&s->waiters))
		return;
	hmap_remove(&w->sessions, &s->node);
	free(s);
}

void
session_end(struct worker *w, uint64_t id)
{
	struct session	*s = session_find(w, id);
	struct waiter	*wt;

	if (s == NULL)
		return;
	/* Its parked requests go: nobody is left to answer. */
	while ((wt = TAILQ_FIRST(&s->waiters)) != NULL)
		worker_drop_waiter(w, wt);	/* gc's s when empty */
	worker_flush_woken(w);
}

void
session_end_worker(struct worker *w, int id)
{
	struct hnode	*n, *next;
	struct session	*s;
	uint64_t	 sid;

	for (n = hmap_first(&w->sessions); n != NULL; n = next) {
		next = hmap_next(&w->sessions, n);
		s = hmap_entry(n, struct session, node);
		if (SESS_WORKER(s->id) != id)
			continue;
		/* Ending s may free other records; restart the scan. */
		sid = s->id;
		session_end(w, sid);
		next = hmap_first(&w->sessions);
	}
}
