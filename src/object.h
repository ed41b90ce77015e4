/* object.h: the named objects a worker owns, by name. */
#ifndef OBJECT_H
#define OBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "hmap.h"
#include "obj_queue.h"

#define NAME_MAX_LEN 1024	/* longest object name, in bytes */

enum obj_kind {
	OBJ_QUEUE,
	OBJ_NKINDS
};

/* One named object. */
struct object {
	struct hnode	 node;		/* in the registry, keyed by name */
	char		*name;		/* NUL-terminated copy */
	size_t		 namelen;
	enum obj_kind	 kind;
	bool		 opened;	/* created by an explicit open with
					   settings; otherwise freed when idle */
	union {
		struct queue	queue;
	} u;
};

/* All objects a worker owns. */
struct registry {
	struct hmap	byname;
	size_t		count[OBJ_NKINDS];	/* objects per kind */
};

void		 registry_init(struct registry *r);
/* Free every object; their waiters must be gone. */
void		 registry_free(struct registry *r);
struct object	*registry_find(struct registry *r, const char *name, size_t len);
/* A new object of that kind; the caller initialises its union member. */
struct object	*registry_add(struct registry *r, const char *name, size_t len,
		    enum obj_kind kind);
void		 registry_del(struct registry *r, struct object *o);
/* Free the object if it was implicitly created and holds nothing. */
void		 registry_gc(struct registry *r, struct object *o);
const char	*obj_kind_name(enum obj_kind kind);

#endif
