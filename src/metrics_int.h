/* metrics_int.h: what the master's halves of the metrics share
 * (metrics.c renders, metrics_raft.c the cluster's families). */
#ifndef METRICS_INT_H
#define METRICS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <msgpack.h>

/* Whether k is the string s. */
static inline bool
key_is(const msgpack_object *k, const char *s)
{
	size_t	len = strlen(s);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
	    memcmp(k->via.str.ptr, s, len) == 0;
}

/* HELP and TYPE lines of a metric family. */
static inline void
family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* The value under key k of map m, or NULL. */
static inline const msgpack_object *
map_get(const msgpack_object *m, const char *k)
{
	uint32_t	j;

	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (j = 0; j < m->via.map.size; j++)
		if (key_is(&m->via.map.ptr[j].key, k))
			return &m->via.map.ptr[j].val;
	return NULL;
}

static inline uint64_t
map_uint(const msgpack_object *m, const char *k)
{
	const msgpack_object	*v = map_get(m, k);

	if (v != NULL && v->type == MSGPACK_OBJECT_BOOLEAN)
		return v->via.boolean;
	return v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
	    v->via.u64 : 0;
}

/* The cluster families (metrics_raft.c); nothing for a single node. */
void	metrics_raft_out(struct evbuffer *, const msgpack_object *, int);

#endif
