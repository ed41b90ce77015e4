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
 * (the queue may be idle in the registry), and by key, so that an
 * R_H_UNWAIT or a key's end costs what that key has parked, not what all
 * have.  Like all of replay: no clock, no random source, no I/O. */
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

static struct rwkey *
rwkey_find(const struct replay *rp, uint64_t skey)
{
	struct hnode	*n = hmap_find(&rp->waitkeys, &skey, sizeof(skey));

	return n == NULL ? NULL : hmap_entry(n, struct rwkey, node);
}

/* Append x to rp's waits and to skey's. */
static void
wait_link(struct replay *rp, struct rwait *x, uint64_t skey)
{
	struct rwkey	*k;

	if ((k = rwkey_find(rp, skey)) == NULL) {
		k = xcalloc(1, sizeof(*k));
		k->skey = skey;
		TAILQ_INIT(&k->waits);
		hmap_insert(&rp->waitkeys, &k->node, &k->skey, sizeof(k->skey));
	}
	x->key = k;
	x->skey = skey;
	TAILQ_INSERT_TAIL(&rp->waits, x, link);
	TAILQ_INSERT_TAIL(&k->waits, x, klink);
	rp->nwaits++;
}

/* Take x out of both lists (its key's gone with its last) and free it. */
static void
wait_drop(struct replay *rp, struct rwait *x)
{
	struct rwkey	*k = x->key;

	TAILQ_REMOVE(&rp->waits, x, link);
	TAILQ_REMOVE(&k->waits, x, klink);
	if (TAILQ_EMPTY(&k->waits)) {
		hmap_remove(&rp->waitkeys, &k->node);
		free(k);
	}
	rp->nwaits--;
	free(x->name);
	free(x->item);
	free(x);
}

int
replay_wait(struct replay *rp, uint64_t type, const char *name,
    uint32_t namelen, struct mp_reader *r)
{
	struct rwait	*x;
	struct rwkey	*k;
	uint64_t	 skey, msgid, kind = WAIT_GET, depth = 0;
	const uint8_t	*raw = NULL;
	size_t		 rawlen = 0;

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
		if ((k = rwkey_find(rp, skey)) == NULL)
			return 0;
		TAILQ_FOREACH(x, &k->waits, klink) {
			if (x->msgid == msgid && same_name(x, name, namelen)) {
				wait_drop(rp, x);
				break;
			}
		}
		return 0;
	}
	x = xcalloc(1, sizeof(*x));
	x->name = xmalloc(namelen);
	memcpy(x->name, name, namelen);
	x->namelen = namelen;
	x->msgid = msgid;
	x->kind = (int)kind;
	x->depth = (uint32_t)depth;
	x->itemlen = rawlen;
	if (raw != NULL) {
		x->item = xmalloc(rawlen);
		memcpy(x->item, raw, rawlen);
	}
	wait_link(rp, x, skey);
	return 0;
}

void
replay_waits_drop(struct replay *rp, const char *name, uint32_t namelen,
    uint64_t skey)
{
	struct rwait	*x, *next;
	struct rwkey	*k;

	if (skey == 0)
		x = TAILQ_FIRST(&rp->waits);
	else if ((k = rwkey_find(rp, skey)) != NULL)
		x = TAILQ_FIRST(&k->waits);
	else
		return;
	for (; x != NULL; x = next) {
		next = skey == 0 ? TAILQ_NEXT(x, link) : TAILQ_NEXT(x, klink);
		if (name == NULL || same_name(x, name, namelen))
			wait_drop(rp, x);	/* k freed with its last */
	}
}

void
replay_waits_free(struct replay *rp)
{
	replay_waits_drop(rp, NULL, 0, 0);
	hmap_free(&rp->waitkeys);
}

void
replay_waits_snapshot(struct store_buf *b, const struct replay *rp)
{
	const struct rwait	*x;

	TAILQ_FOREACH(x, &rp->waits, link)
		rec_h_wait(b, R_H_WAIT, x->name, x->namelen, x->skey,
		    x->msgid, x->kind, x->depth, x->item, x->itemlen);
}
