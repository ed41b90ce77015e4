/* object.c: the per-worker registry of named objects. */
#include <string.h>

#include "object.h"
#include "util.h"

void
registry_init(struct registry *r)
{
	memset(r, 0, sizeof(*r));
	hmap_init(&r->byname);
}

/* Free an object's state; it has no waiters left. */
static void
object_free(struct object *o)
{
	switch (o->kind) {
	case OBJ_QUEUE:
		queue_clear(&o->u.queue);
		break;
	case OBJ_DICT:
		dict_clear(&o->u.dict);
		break;
	default:
		break;
	}
	free(o->name);
	free(o);
}

void
registry_free(struct registry *r)
{
	struct hnode	*n, *next;

	for (n = hmap_first(&r->byname); n != NULL; n = next) {
		next = hmap_next(&r->byname, n);
		object_free(hmap_entry(n, struct object, node));
	}
	hmap_free(&r->byname);
}

struct object *
registry_find(struct registry *r, const char *name, size_t len)
{
	struct hnode	*n = hmap_find(&r->byname, name, len);

	return n == NULL ? NULL : hmap_entry(n, struct object, node);
}

struct object *
registry_add(struct registry *r, const char *name, size_t len,
    enum obj_kind kind)
{
	struct object	*o = xcalloc(1, sizeof(*o));

	o->name = xmalloc(len + 1);
	memcpy(o->name, name, len);
	o->name[len] = '\0';
	o->namelen = len;
	o->kind = kind;
	TAILQ_INIT(&o->holds);
	switch (kind) {
	case OBJ_QUEUE:		queue_init(&o->u.queue, 0, false); break;
	case OBJ_LOCK:		lock_init(&o->u.lock, false); break;
	case OBJ_SEM:		qsem_init(&o->u.sem, 0, false); break;
	case OBJ_EVENT:		qevent_init(&o->u.event); break;
	case OBJ_COND:		cond_init(&o->u.cond); break;
	case OBJ_BARRIER:	barrier_init(&o->u.barrier, 1); break;
	case OBJ_DICT:		dict_init(&o->u.dict); break;
	case OBJ_NKINDS:	break;
	}
	hmap_insert(&r->byname, &o->node, o->name, len);
	r->count[kind]++;
	return o;
}

void
registry_del(struct registry *r, struct object *o)
{
	hmap_remove(&r->byname, &o->node);
	r->count[o->kind]--;
	object_free(o);
}

/* True if the object differs from a freshly created one of its kind. */
static bool
object_busy(struct object *o)
{
	if (!TAILQ_EMPTY(&o->holds) || object_waiters(o) > 0)
		return true;
	switch (o->kind) {
	case OBJ_QUEUE:		return queue_busy(&o->u.queue);
	case OBJ_LOCK:		return lock_busy(&o->u.lock);
	case OBJ_EVENT:		return o->u.event.set;
	case OBJ_COND:		return lock_busy(&o->u.cond.lock);
	case OBJ_DICT:		return dict_len(&o->u.dict) > 0;
	default:		return true;	/* sem, barrier: opened */
	}
}

void
registry_gc(struct registry *r, struct object *o)
{
	if (o->opened || object_busy(o))
		return;
	if (r->on_gc != NULL)
		r->on_gc(r->on_gc_arg, o);
	registry_del(r, o);
}

const char *
obj_kind_name(enum obj_kind kind)
{
	static const char *const names[OBJ_NKINDS] = {
		"queue", "lock", "semaphore", "event", "condition", "barrier",
		"dict",
	};

	return kind < OBJ_NKINDS ? names[kind] : "?";
}

int
object_waitqs(struct object *o, struct waitq **qs)
{
	switch (o->kind) {
	case OBJ_QUEUE:
		qs[0] = &o->u.queue.getters;
		qs[1] = &o->u.queue.putters;
		qs[2] = &o->u.queue.joiners;
		return 3;
	case OBJ_LOCK:
		qs[0] = &o->u.lock.waiters;
		return 1;
	case OBJ_SEM:
		qs[0] = &o->u.sem.waiters;
		return 1;
	case OBJ_EVENT:
		qs[0] = &o->u.event.waiters;
		return 1;
	case OBJ_COND:
		qs[0] = &o->u.cond.waiters;
		qs[1] = &o->u.cond.lock.waiters;
		return 2;
	case OBJ_BARRIER:
		qs[0] = &o->u.barrier.waiters;
		return 1;
	default:
		return 0;
	}
}

size_t
object_waiters(struct object *o)
{
	struct waitq	*qs[OBJ_MAX_WAITQS];
	size_t		 n = 0;
	int		 i, nq = object_waitqs(o, qs);

	for (i = 0; i < nq; i++)
		n += qs[i]->n;
	return n;
}

uint64_t
object_size(const struct object *o)
{
	switch (o->kind) {
	case OBJ_QUEUE:		return o->u.queue.count;
	case OBJ_LOCK:		return o->u.lock.depth;
	case OBJ_SEM:		return (uint64_t)o->u.sem.value;
	case OBJ_EVENT:		return o->u.event.set;
	case OBJ_COND:		return o->u.cond.lock.depth;
	case OBJ_BARRIER:	return o->u.barrier.count;
	case OBJ_DICT:		return dict_len(&o->u.dict);
	default:		return 0;
	}
}
