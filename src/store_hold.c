/* store_hold.c: what sessions bound to a key (session.resume, in a
 * cluster) hold, in the replay state a raft follower keeps from entry to
 * entry: a lock's owner key, depth and fencing token, a semaphore's
 * permits per key, and the key of each taken joinable item (struct taken).
 * A new leader's epoch gives back only what unkeyed sessions took; the
 * new leader turns the rest into detached sessions (src/session_repl.c).
 * Like all of replay: no clock, no random source, no I/O. */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "util.h"

static struct rhold *
rhold_find(struct replay *rp, struct object *o, uint64_t skey)
{
	struct rhold	 key;
	struct hnode	*n;

	memset(&key.key, 0, sizeof(key.key));
	key.key.obj = o;
	key.key.skey = skey;
	n = hmap_find(&rp->holds, &key.key, sizeof(key.key));
	return n == NULL ? NULL : hmap_entry(n, struct rhold, node);
}

static struct rhold *
rhold_get(struct replay *rp, struct object *o, uint64_t skey)
{
	struct rhold	*h = rhold_find(rp, o, skey);

	if (h != NULL)
		return h;
	h = xcalloc(1, sizeof(*h));
	h->key.obj = o;
	h->key.skey = skey;
	hmap_insert(&rp->holds, &h->node, &h->key, sizeof(h->key));
	return h;
}

/* Free h once it holds nothing. */
static void
rhold_gc(struct replay *rp, struct rhold *h)
{
	if (h->depth != 0 || h->permits != 0)
		return;
	hmap_remove(&rp->holds, &h->node);
	free(h);
}

/* A lock has one owner: any other key's hold of o's lock ends. */
static void
rhold_lock_owner(struct replay *rp, struct object *o, uint64_t skey)
{
	struct hnode	*n, *next;
	struct rhold	*h;

	for (n = hmap_first(&rp->holds); n != NULL; n = next) {
		next = hmap_next(&rp->holds, n);
		h = hmap_entry(n, struct rhold, node);
		if (h->key.obj == o && h->key.skey != skey && h->depth != 0) {
			h->depth = 0;
			rhold_gc(rp, h);
		}
	}
}

int
replay_hold(struct replay *rp, uint64_t type, const char *name,
    uint32_t namelen, struct mp_reader *r)
{
	struct object	*o;
	struct rhold	*h;
	struct taken	*t;
	uint64_t	 skey, a, b;
	bool		 cond;

	switch (type) {
	case R_H_LOCK:
		if (mp_read_uint(r, &skey) == -1 || skey == 0 ||
		    mp_read_uint(r, &a) == -1 || a == 0 || a > UINT32_MAX ||
		    mp_read_uint(r, &b) == -1 || mp_read_bool(r, &cond) == -1 ||
		    (o = replay_object(rp, name, namelen, cond ? OBJ_COND :
		    OBJ_LOCK)) == NULL)
			return -1;
		rhold_lock_owner(rp, o, skey);
		h = rhold_get(rp, o, skey);
		h->depth = (uint32_t)a;
		h->token = b;
		return 0;
	case R_H_FREE:
		if (mp_read_uint(r, &skey) == -1)
			return -1;
		/* Nothing held (the object deleted meanwhile): nothing to do. */
		if ((o = registry_find(rp->reg, name, namelen)) != NULL &&
		    (h = rhold_find(rp, o, skey)) != NULL) {
			h->depth = 0;
			rhold_gc(rp, h);
		}
		return 0;
	case R_H_SEM:
		if (mp_read_uint(r, &skey) == -1 || skey == 0 ||
		    mp_read_uint(r, &a) == -1 ||
		    (o = replay_object(rp, name, namelen, OBJ_SEM)) == NULL)
			return -1;
		h = rhold_get(rp, o, skey);
		h->permits = a;
		rhold_gc(rp, h);
		return 0;
	case R_H_ITEM:
		if (mp_read_uint(r, &a) == -1 || mp_read_uint(r, &skey) == -1 ||
		    (o = registry_find(rp->reg, name, namelen)) == NULL ||
		    o->kind != OBJ_QUEUE ||
		    (t = replay_taken_find(rp, o, a)) == NULL)
			return -1;
		t->skey = skey;
		return 0;
	}
	return -1;
}

void
replay_forget(struct replay *rp, struct object *o)
{
	struct hnode	*n, *next;
	struct taken	*t;
	struct rhold	*h;

	for (n = hmap_first(&rp->taken); n != NULL; n = next) {
		next = hmap_next(&rp->taken, n);
		t = hmap_entry(n, struct taken, node);
		if (t->key.obj == o) {
			hmap_remove(&rp->taken, n);
			qitem_free(t->it);
			free(t);
		}
	}
	for (n = hmap_first(&rp->holds); n != NULL; n = next) {
		next = hmap_next(&rp->holds, n);
		h = hmap_entry(n, struct rhold, node);
		if (h->key.obj == o) {
			hmap_remove(&rp->holds, n);
			free(h);
		}
	}
}

void
replay_putback(struct replay *rp, bool all)
{
	struct taken	**v = xcalloc(rp->taken.count + 1, sizeof(*v));
	struct hnode	 *n;
	struct waitlist	  woken;
	size_t		  i, nv = 0;

	TAILQ_INIT(&woken);
	for (n = hmap_first(&rp->taken); n != NULL; n = hmap_next(&rp->taken, n))
		if (all || hmap_entry(n, struct taken, node)->skey == 0)
			v[nv++] = hmap_entry(n, struct taken, node);
	qsort(v, nv, sizeof(*v), replay_taken_cmp);
	for (i = nv; i-- > 0; ) {	/* each is pushed at the head */
		hmap_remove(&rp->taken, &v[i]->node);
		queue_putback(&v[i]->key.obj->u.queue, v[i]->it, &woken);
		free(v[i]);
	}
	free(v);
}

void
replay_holds_free(struct replay *rp)
{
	struct hnode	*n;

	while ((n = hmap_first(&rp->holds)) != NULL) {
		hmap_remove(&rp->holds, n);
		free(hmap_entry(n, struct rhold, node));
	}
	hmap_free(&rp->holds);
}

static int
rhold_cmp(const void *a, const void *b)
{
	const struct rhold *x = *(struct rhold *const *)a;
	const struct rhold *y = *(struct rhold *const *)b;

	return x->key.skey < y->key.skey ? -1 : x->key.skey > y->key.skey;
}

void
replay_holds_snapshot(struct store_buf *b, const struct replay *rp,
    const struct object *o)
{
	struct hnode	 *n;
	struct rhold	 *h, **v;
	size_t		  nv = 0, i;

	if (rp == NULL || rp->holds.count == 0)
		return;
	v = xcalloc(rp->holds.count, sizeof(*v));
	for (n = hmap_first(&rp->holds); n != NULL; n = hmap_next(&rp->holds, n))
		if ((h = hmap_entry(n, struct rhold, node))->key.obj == o)
			v[nv++] = h;
	qsort(v, nv, sizeof(*v), rhold_cmp);
	for (i = 0; i < nv; i++) {
		if (v[i]->depth != 0)
			rec_h_lock(b, o, v[i]->key.skey, v[i]->depth,
			    v[i]->token);
		if (v[i]->permits != 0)
			rec_pair(b, o, R_H_SEM, v[i]->key.skey, v[i]->permits);
	}
	free(v);
}
