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
	case OBJ_NKINDS:
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

void
registry_gc(struct registry *r, struct object *o)
{
	bool	busy = true;

	if (o->opened)
		return;
	switch (o->kind) {
	case OBJ_QUEUE:
		busy = queue_busy(&o->u.queue);
		break;
	case OBJ_NKINDS:
		break;
	}
	if (!busy)
		registry_del(r, o);
}

const char *
obj_kind_name(enum obj_kind kind)
{
	switch (kind) {
	case OBJ_QUEUE:	return "queue";
	case OBJ_NKINDS: break;
	}
	return "?";
}
