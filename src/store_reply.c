/* store_reply.c: the last reply of each session bound to a key
 * (session.resume, in a cluster) in the replicated state: the reply of
 * its last request that changed state, with its msgid, so that a new
 * leader answers that request's retry with it instead of executing it
 * again (docs/HA-SESSIONS.md "Replies after commit, at most once").  The record
 *	[R_H_REPLY, key, msgid, reply]
 * goes into the entry of the request's effects; reply is the response's
 * msgpack after its msgid (error, result), nil if too large to keep;
 * msgid 0 forgets the key's (its session ended, written before
 * R_H_BIND was).  The record
 *	[R_H_BIND, key, flag]
 * says that a session bound key (true: in the entry of its bind, so that a
 * new leader knows the session even if it never changed anything) or
 * that key's session ended (false: forget key and its kept reply).  Both
 * live in one map, by key: a bound key without a reply has msgid 0.
 * Like all of replay: no clock, no random source, no I/O. */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "util.h"

void
rec_h_reply(struct store_buf *b, uint64_t skey, uint64_t msgid,
    const void *raw, size_t len)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 3, R_H_REPLY);

	msgpack_pack_uint64(&pk, skey);
	msgpack_pack_uint64(&pk, msgid);
	if (raw == NULL)
		msgpack_pack_nil(&pk);
	else {
		msgpack_pack_bin(&pk, len);
		msgpack_pack_bin_body(&pk, raw, len);
	}
	rec_end(b, at);
}

void
rec_h_bind(struct store_buf *b, uint64_t skey, bool bound)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 2, R_H_BIND);

	msgpack_pack_uint64(&pk, skey);
	if (bound)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	rec_end(b, at);
}

static struct rreply *
rreply_find(struct replay *rp, uint64_t skey)
{
	struct hnode	*n = hmap_find(&rp->replies, &skey, sizeof(skey));

	return n == NULL ? NULL : hmap_entry(n, struct rreply, node);
}

static void
rreply_free(struct replay *rp, struct rreply *x)
{
	hmap_remove(&rp->replies, &x->node);
	free(x->raw);
	free(x);
}

int
replay_reply(struct replay *rp, struct mp_reader *r)
{
	struct rreply	*x;
	uint64_t	 skey, msgid;
	const void	*raw = NULL;
	uint32_t	 len = 0;

	if (mp_read_uint(r, &skey) == -1 || skey == 0 ||
	    mp_read_uint(r, &msgid) == -1)
		return -1;
	if (mp_peek(r) == MP_NIL) {
		if (mp_read_nil(r) == -1)
			return -1;
	} else if (mp_read_bytes(r, &raw, &len) == -1 || len == 0)
		return -1;
	x = rreply_find(rp, skey);
	if (msgid == 0) {
		if (x != NULL)
			rreply_free(rp, x);
		return 0;
	}
	if (x == NULL) {
		x = xcalloc(1, sizeof(*x));
		x->skey = skey;
		hmap_insert(&rp->replies, &x->node, &x->skey, sizeof(x->skey));
	}
	free(x->raw);
	x->raw = NULL;
	x->msgid = msgid;
	x->len = len;
	if (raw != NULL) {
		x->raw = xmalloc(len);
		memcpy(x->raw, raw, len);
	}
	return 0;
}

int
replay_bind(struct replay *rp, struct mp_reader *r)
{
	struct rreply	*x;
	uint64_t	 skey;
	bool		 bound;

	if (mp_read_uint(r, &skey) == -1 || skey == 0 ||
	    mp_read_bool(r, &bound) == -1)
		return -1;
	x = rreply_find(rp, skey);
	if (!bound) {
		if (x != NULL)
			rreply_free(rp, x);
		replay_waits_drop(rp, NULL, 0, skey);
	} else if (x == NULL) {
		x = xcalloc(1, sizeof(*x));
		x->skey = skey;
		hmap_insert(&rp->replies, &x->node, &x->skey, sizeof(x->skey));
	}
	return 0;
}

void
replay_replies_free(struct replay *rp)
{
	struct hnode	*n;

	while ((n = hmap_first(&rp->replies)) != NULL)
		rreply_free(rp, hmap_entry(n, struct rreply, node));
	hmap_free(&rp->replies);
}

static int
rreply_cmp(const void *a, const void *b)
{
	const struct rreply *x = *(struct rreply *const *)a;
	const struct rreply *y = *(struct rreply *const *)b;

	return x->skey < y->skey ? -1 : x->skey > y->skey;
}

void
replay_replies_snapshot(struct store_buf *b, const struct replay *rp)
{
	struct hnode	 *n;
	struct rreply	**v;
	size_t		  nv = 0, i;

	if (rp->replies.count == 0)
		return;
	v = xcalloc(rp->replies.count, sizeof(*v));
	for (n = hmap_first(&rp->replies); n != NULL;
	    n = hmap_next(&rp->replies, n))
		v[nv++] = hmap_entry(n, struct rreply, node);
	qsort(v, nv, sizeof(*v), rreply_cmp);
	for (i = 0; i < nv; i++) {
		if (v[i]->msgid == 0)
			rec_h_bind(b, v[i]->skey, true);
		else
			rec_h_reply(b, v[i]->skey, v[i]->msgid, v[i]->raw,
			    v[i]->len);
	}
	free(v);
}
