/* store_wait.c: the parked queue.gets and queue.puts, lock and semaphore
 * acquires and cond.waits of sessions bound to a key
 * (session.resume, in a cluster) in the replicated state, so that a new
 * leader puts them back in their places (docs/HA-SESSIONS.md "Waiters'
 * places across a failover").  The records
 *	[R_H_WAIT, name, key, msgid(, kind(, depth | item))]
 *	[R_H_UNWAIT, name, key, msgid]
 * say that key's request msgid parked on object name, behind those before
 * it (kind: WAIT_GET if absent, WAIT_LOCK, WAIT_SEM; WAIT_COND, a
 * cond.wait named by its lock object, with the depth it holds again;
 * WAIT_PUT, a put on a full queue, with its item), and that it left
 * (answered or dropped).  R_H_BIND false drops all
 * of a key's, R_DELETE all on the queue.  Kept by name, in record order
 * (the queue may be idle in the registry).  Like all of replay: no clock,
 * no random source, no I/O. */
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "store_int.h"
#include "util.h"

void
rec_h_wait(struct store_buf *b, int type, const char *name, uint32_t namelen,
    uint64_t skey, uint64_t msgid, int kind, uint32_t depth, const void *item,
    size_t itemlen)
{
	msgpack_packer	pk;
	uint32_t	n = type == R_H_UNWAIT || kind == WAIT_GET ? 3 :
			    kind == WAIT_COND || kind == WAIT_PUT ? 5 : 4;
	size_t		at = rec_begin(b, &pk, n, (enum rec_type)type);

	pack_str(&pk, name, namelen);
	msgpack_pack_uint64(&pk, skey);
	msgpack_pack_uint64(&pk, msgid);
	if (n > 3)
		msgpack_pack_uint8(&pk, (uint8_t)kind);
	if (n > 4 && kind == WAIT_COND)
		msgpack_pack_uint32(&pk, depth);
	else if (n > 4)
		pack_raw(&pk, item, itemlen);	/* an item is its msgpack */
	rec_end(b, at);
}

static bool
same_name(const struct rwait *x, const char *name, uint32_t namelen)
{
	return x->namelen == namelen && memcmp(x->name, name, namelen) == 0;
}

int
replay_wait(struct replay *rp, uint64_t type, const char *name,
    uint32_t namelen, struct mp_reader *r)
{
	struct rwait	*x;
	uint64_t	 skey, msgid, kind = WAIT_GET, depth = 0;
	const uint8_t	*raw = NULL;
	size_t		 i, rawlen = 0;

	if (mp_read_uint(r, &skey) == -1 || skey == 0 ||
	    mp_read_uint(r, &msgid) == -1 ||
	    (r->p < r->end && (mp_read_uint(r, &kind) == -1 ||
	    kind >= WAIT_KINDS)) ||
	    (kind == WAIT_COND && (mp_read_uint(r, &depth) == -1 ||
	    depth == 0 || depth > UINT32_MAX)) ||
	    (kind == WAIT_PUT && type == R_H_WAIT &&
	    mp_skip(r, &raw, &rawlen) == -1))
		return -1;
	if (type == R_H_UNWAIT) {
		for (i = 0; i < rp->nwaits; i++) {
			x = &rp->waits[i];
			if (x->skey == skey && x->msgid == msgid &&
			    same_name(x, name, namelen)) {
				free(x->name);
				free(x->item);
				memmove(x, x + 1, (rp->nwaits - i - 1) *
				    sizeof(*x));
				rp->nwaits--;
				break;
			}
		}
		return 0;
	}
	if (rp->nwaits == rp->capwaits) {
		rp->capwaits = rp->capwaits == 0 ? 8 : rp->capwaits * 2;
		rp->waits = xrealloc(rp->waits, rp->capwaits *
		    sizeof(*rp->waits));
	}
	x = &rp->waits[rp->nwaits++];
	x->name = xmalloc(namelen);
	memcpy(x->name, name, namelen);
	x->namelen = namelen;
	x->skey = skey;
	x->msgid = msgid;
	x->kind = (int)kind;
	x->depth = (uint32_t)depth;
	x->item = NULL;
	x->itemlen = rawlen;
	if (raw != NULL) {
		x->item = xmalloc(rawlen);
		memcpy(x->item, raw, rawlen);
	}
	return 0;
}

void
replay_waits_drop(struct replay *rp, const char *name, uint32_t namelen,
    uint64_t skey)
{
	size_t	i, j = 0;

	for (i = 0; i < rp->nwaits; i++) {
		if ((name == NULL || same_name(&rp->waits[i], name, namelen)) &&
		    (skey == 0 || rp->waits[i].skey == skey)) {
			free(rp->waits[i].name);
			free(rp->waits[i].item);
		} else
			rp->waits[j++] = rp->waits[i];
	}
	rp->nwaits = j;
}

void
replay_waits_free(struct replay *rp)
{
	replay_waits_drop(rp, NULL, 0, 0);
	free(rp->waits);
	rp->waits = NULL;
	rp->capwaits = 0;
}

void
replay_waits_snapshot(struct store_buf *b, const struct replay *rp)
{
	size_t	i;

	for (i = 0; i < rp->nwaits; i++)
		rec_h_wait(b, R_H_WAIT, rp->waits[i].name,
		    rp->waits[i].namelen, rp->waits[i].skey,
		    rp->waits[i].msgid, rp->waits[i].kind, rp->waits[i].depth,
		    rp->waits[i].item, rp->waits[i].itemlen);
}
