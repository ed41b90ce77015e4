/* object.h: the named objects a worker owns, by name. */
#ifndef OBJECT_H
#define OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "hmap.h"
#include "obj_barrier.h"
#include "obj_cond.h"
#include "obj_dict.h"
#include "obj_event.h"
#include "obj_lock.h"
#include "obj_queue.h"
#include "obj_sem.h"

#define NAME_MAX_LEN 1024	/* longest object name, in bytes */

enum obj_kind {
	OBJ_QUEUE,
	OBJ_LOCK,
	OBJ_SEM,
	OBJ_EVENT,
	OBJ_COND,
	OBJ_BARRIER,
	OBJ_DICT,
	OBJ_NKINDS
};

struct hold;
TAILQ_HEAD(holdlist, hold);

/* One named object. */
struct object {
	struct hnode	 node;		/* in the registry, keyed by name */
	char		*name;		/* NUL-terminated copy */
	size_t		 namelen;
	enum obj_kind	 kind;
	bool		 opened;	/* created by an explicit open with
					   settings; otherwise freed when idle */
	bool		 logged;	/* a record in the log names it, so
					   freeing it must log a delete */
	bool		 keep;		/* opened with giveback=False (a Lock,
					   semaphore or queue): what a session
					   took outlives it, and any session
					   may release a Lock, as Python's */
	struct holdlist	 holds;		/* sessions holding part of it */
	union {
		struct queue	queue;
		struct lock	lock;
		struct sem	sem;
		struct qevent	event;
		struct cond	cond;
		struct barrier	barrier;
		struct dict	dict;
	} u;
};

/* All objects a worker owns. */
struct registry {
	struct hmap	byname;
	size_t		count[OBJ_NKINDS];	/* objects per kind */
	/* Told before registry_gc frees an object (the log's delete). */
	void		(*on_gc)(void *arg, struct object *o);
	void		*on_gc_arg;
};

void		 registry_init(struct registry *r);
/* Free every object; their waiters and holds must be gone. */
void		 registry_free(struct registry *r);
struct object	*registry_find(struct registry *r, const char *name, size_t len);
/* A new object of that kind, in its initial state (a queue is unbounded
 * and plain, a lock plain, a semaphore 0, a barrier 1 party). */
struct object	*registry_add(struct registry *r, const char *name, size_t len,
		    enum obj_kind kind);
void		 registry_del(struct registry *r, struct object *o);
/* Free the object if it was implicitly created and holds nothing
 * (calling on_gc first). */
void		 registry_gc(struct registry *r, struct object *o);
const char	*obj_kind_name(enum obj_kind kind);
/* The object's wait queues; returns how many (at most OBJ_MAX_WAITQS). */
#define OBJ_MAX_WAITQS 3
int		 object_waitqs(struct object *o, struct waitq **qs);
/* Parked waiters on it. */
size_t		 object_waiters(struct object *o);
/* A size for listings: items, permits, entries, waiting parties... */
uint64_t	 object_size(const struct object *o);

#endif
