/* store_rec.c: the log's records, packed into buffers, and snapshots: a
 * registry's whole state as records, written crash-safely. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <zlib.h>

#include "log.h"
#include "reply.h"
#include "session.h"
#include "store_int.h"
#include "util.h"

/* msgpack's write callback: append to a store_buf. */
int
rec_write(void *data, const char *buf, size_t len)
{
	struct store_buf	*b = data;

	if (b->len + len > b->cap) {
		while (b->len + len > b->cap)
			b->cap = b->cap == 0 ? 4096 : b->cap * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, buf, len);
	b->len += len;
	return 0;
}

/* Start a record in b: room for its header; returns the header offset. */
size_t
rec_begin(struct store_buf *b, msgpack_packer *pk, uint32_t nfields,
    enum rec_type type)
{
	static const uint8_t	zero[REC_HDR];
	size_t			at = b->len;

	rec_write(b, (const char *)zero, sizeof(zero));
	msgpack_packer_init(pk, b, rec_write);
	msgpack_pack_array(pk, nfields + 1);
	msgpack_pack_uint8(pk, (uint8_t)type);
	return at;
}

/* A spilling buffer: write what it holds to its file. */
static void
spill(struct store_buf *b)
{
	if (!b->spill_failed && store_write_all(b->fd, b->p, b->len, b->off) == -1)
		b->spill_failed = true;
	b->off += b->len;
	b->len = 0;
}

/* Finish the record started at at: fill in its length and checksum. */
void
rec_end(struct store_buf *b, size_t at)
{
	uint32_t	len = (uint32_t)(b->len - at - REC_HDR);

	put_le32(b->p + at, REC_MAGIC);
	put_le32(b->p + at + 4, len);
	put_le32(b->p + at + 8, (uint32_t)crc32(0, b->p + at + REC_HDR, len));
	if (b->spill && b->len >= SNAP_SPILL)
		spill(b);
}

/* Pack the name of o. */
static void
pack_name(msgpack_packer *pk, const struct object *o)
{
	pack_str(pk, o->name, o->namelen);
}

/* Pack a boolean. */
static void
pack_bool(msgpack_packer *pk, bool v)
{
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* The record encoders, shared by snapshots and the live log. */

/* [R_Q_OPEN, name, maxsize, joinable] */
void
rec_q_open(struct store_buf *b, const struct object *o)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 3, R_Q_OPEN);

	pack_name(&pk, o);
	msgpack_pack_int64(&pk, o->u.queue.maxsize);
	pack_bool(&pk, o->u.queue.joinable);
	rec_end(b, at);
}

/* [R_Q_PUT, name, id, item] */
void
rec_q_put(struct store_buf *b, const struct object *o, const struct qref *r)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 3, R_Q_PUT);

	pack_name(&pk, o);
	msgpack_pack_uint64(&pk, r->id);
	pack_qref(&pk, r);
	rec_end(b, at);
}

/* [type, name, id]: R_Q_TAKE, R_Q_DONE, R_Q_BACK */
void
rec_item(struct store_buf *b, const struct object *o, enum rec_type type,
    uint64_t id)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 2, type);

	pack_name(&pk, o);
	msgpack_pack_uint64(&pk, id);
	rec_end(b, at);
}

/* [R_D_SET, dict, key, value] */
void
rec_d_set(struct store_buf *b, const struct object *o, const char *key,
    size_t klen, const void *val, size_t vlen)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 3, R_D_SET);

	pack_name(&pk, o);
	pack_raw(&pk, key, klen);	/* a key is its msgpack bytes */
	pack_raw(&pk, val, vlen);
	rec_end(b, at);
}

/* [R_D_DEL, dict, key] */
void
rec_d_del(struct store_buf *b, const struct object *o, const char *key,
    size_t klen)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 2, R_D_DEL);

	pack_name(&pk, o);
	pack_raw(&pk, key, klen);
	rec_end(b, at);
}

/* [R_S_SET, name, initial, bounded, base] */
void
rec_s_set(struct store_buf *b, const struct object *o, long base)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 4, R_S_SET);

	pack_name(&pk, o);
	msgpack_pack_int64(&pk, o->u.sem.initial);
	pack_bool(&pk, o->u.sem.bounded);
	msgpack_pack_int64(&pk, base);
	rec_end(b, at);
}

/* [type, name, flag]: R_E_SET, R_L_OPEN */
void
rec_flag(struct store_buf *b, const struct object *o, enum rec_type type,
    bool flag)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 2, type);

	pack_name(&pk, o);
	pack_bool(&pk, flag);
	rec_end(b, at);
}

/* [R_B_OPEN, name, parties] */
void
rec_b_open(struct store_buf *b, const struct object *o)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 2, R_B_OPEN);

	pack_name(&pk, o);
	msgpack_pack_uint32(&pk, o->u.barrier.parties);
	rec_end(b, at);
}

/* [R_Q_UNFIN, name, count] */
void
rec_q_unfin(struct store_buf *b, const struct object *o)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 2, R_Q_UNFIN);

	pack_name(&pk, o);
	msgpack_pack_uint64(&pk, o->u.queue.unfinished);
	rec_end(b, at);
}

/* [R_DELETE, name] */
void
rec_delete(struct store_buf *b, const struct object *o)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 1, R_DELETE);

	pack_name(&pk, o);
	rec_end(b, at);
}

/* [R_TOKENS, upto] */
void
rec_tokens(struct store_buf *b, uint64_t upto)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 1, R_TOKENS);

	msgpack_pack_uint64(&pk, upto);
	rec_end(b, at);
}

/* [R_H_LOCK, name, key, depth, token, cond] */
void
rec_h_lock(struct store_buf *b, const struct object *o, uint64_t skey,
    uint32_t depth, uint64_t token)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 5, R_H_LOCK);

	pack_name(&pk, o);
	msgpack_pack_uint64(&pk, skey);
	msgpack_pack_uint32(&pk, depth);
	msgpack_pack_uint64(&pk, token);
	pack_bool(&pk, o->kind == OBJ_COND);
	rec_end(b, at);
}

/* [type, name, x, y]: R_H_SEM (key, count), R_H_ITEM (id, key). */
void
rec_pair(struct store_buf *b, const struct object *o, enum rec_type type,
    uint64_t x, uint64_t y)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 3, type);

	pack_name(&pk, o);
	msgpack_pack_uint64(&pk, x);
	msgpack_pack_uint64(&pk, y);
	rec_end(b, at);
}

/* Items of queue o taken and not finished. */
static uint64_t
queue_held(const struct object *o)
{
	struct hold	*h;
	uint64_t	 n = 0;

	TAILQ_FOREACH(h, &o->holds, obj_link)
		n += h->nitems;
	return n;
}

/* A taken item a replay holds, as the records that make it taken again. */
struct taken_rec {
	struct store_buf	*b;
	const struct object	*o;
};

static void
snapshot_taken(void *arg, const struct taken *t)
{
	struct taken_rec	*tr = arg;
	struct qref		 r;

	qref_of_item(t->it, &r);
	rec_q_put(tr->b, tr->o, &r);
	rec_item(tr->b, tr->o, R_Q_TAKE, t->it->id);
	if (t->skey != 0)
		rec_pair(tr->b, tr->o, R_H_ITEM, t->it->id, t->skey);
}

/* A lock (or a condition's) held by a keyed session, and the keyed holds
 * rp keeps of o. */
static void
snapshot_lock(struct store_buf *b, const struct object *o,
    const struct lock *l, const struct replay *rp)
{
	struct hold	*h;

	TAILQ_FOREACH(h, &o->holds, obj_link)
		if (h->sess->key != 0 && l->owner == h->sess->id &&
		    l->depth > 0 && !o->keep)
			rec_h_lock(b, o, h->sess->key, l->depth, l->token);
	replay_holds_snapshot(b, rp, o);
}

/* The whole state of one object as records (for snapshots); rp, if not
 * NULL, holds more taken items (a raft follower's, src/repl.c). */
static void
snapshot_object(struct store_buf *b, const struct object *o,
    const struct replay *rp)
{
	struct taken_rec tr = { b, o };
	struct hold	*h;
	struct qitem	*it;
	struct qiter	 qi;
	struct qref	 r;
	struct dentry	*e;
	long		 base;
	uint64_t	 ntaken;

	switch (o->kind) {
	case OBJ_QUEUE:
		if (o->opened)
			rec_q_open(b, o);
		/* Taken and unfinished first: they come back at the head. */
		TAILQ_FOREACH(h, &o->holds, obj_link) {
			TAILQ_FOREACH(it, &h->items, link) {
				qref_of_item(it, &r);
				rec_q_put(b, o, &r);
				rec_item(b, o, R_Q_TAKE, it->id);
				if (h->sess->key != 0)
					rec_pair(b, o, R_H_ITEM, it->id,
					    h->sess->key);
			}
		}
		ntaken = replay_taken_each(rp, o, snapshot_taken, &tr);
		qpack_iter_init(&o->u.queue.items, &qi);
		while (qpack_iter_next(&qi, &r))
			rec_q_put(b, o, &r);
		/* Tasks marked done while their items were still queued. */
		if (o->u.queue.joinable && o->u.queue.unfinished !=
		    o->u.queue.count + queue_held(o) + ntaken)
			rec_q_unfin(b, o);
		break;
	case OBJ_DICT:
		/* In insertion order, which replay rebuilds. */
		TAILQ_FOREACH(e, &o->u.dict.order, order)
			rec_d_set(b, o, e->key, e->keylen, e->val, e->vallen);
		break;
	case OBJ_SEM:
		base = 0;
		TAILQ_FOREACH(h, &o->holds, obj_link)
			base += (long)h->permits;
		rec_s_set(b, o, sem_durable(&o->u.sem, base));
		TAILQ_FOREACH(h, &o->holds, obj_link)
			if (h->sess->key != 0 && h->permits > 0)
				rec_pair(b, o, R_H_SEM, h->sess->key, h->permits);
		replay_holds_snapshot(b, rp, o);
		break;
	case OBJ_EVENT:
		if (o->u.event.set)
			rec_flag(b, o, R_E_SET, true);
		break;
	case OBJ_LOCK:
		if (o->opened)
			rec_flag(b, o, R_L_OPEN, o->u.lock.recursive);
		snapshot_lock(b, o, &o->u.lock, rp);
		break;
	case OBJ_COND:	/* its own lock, if a keyed session holds it */
		snapshot_lock(b, o, &o->u.cond.lock, rp);
		break;
	case OBJ_BARRIER:
		rec_b_open(b, o);
		break;
	default:
		break;
	}
	if (o->keep)
		rec_flag(b, o, R_KEEP, true);
}

void
snapshot_records(struct store_buf *b, struct registry *reg, uint64_t tokens,
    const struct replay *rp)
{
	struct hnode	*n;
	uint8_t		 hdr[HDR_LEN] = { 0 };

	memcpy(hdr, HDR_MAGIC, 8);
	put_le32(hdr + 8, STORE_VERSION);
	rec_write(b, (const char *)hdr, sizeof(hdr));
	rec_tokens(b, tokens);
	for (n = hmap_first(&reg->byname); n != NULL; n = hmap_next(&reg->byname, n))
		snapshot_object(b, hmap_entry(n, struct object, node), rp);
	if (rp != NULL) {
		replay_replies_snapshot(b, rp);
		replay_waits_snapshot(b, rp);
	}
}

/* Write a log holding the state of reg to fd (from offset 0), a megabyte
 * at a time, and fsync it; its size, or -1 (errno set). */
int64_t
snapshot_fd(int fd, struct registry *reg, uint64_t tokens)
{
	struct store_buf b = { .spill = true, .fd = fd };

	snapshot_records(&b, reg, tokens, NULL);
	spill(&b);
	free(b.p);
	if (b.spill_failed || fsync(fd) == -1)
		return -1;
	return (int64_t)b.off;
}

/*
 * Write a fresh log holding the state of reg at path, crash-safely:
 * path.tmp, fsync, rename, fsync the directory.  Returns 0 or -1.
 */
int
snapshot_write(const char *path, const char *dirpath, struct registry *reg,
    uint64_t tokens)
{
	char	tmp[8200];
	int	fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = store_create(tmp);
	if (fd == -1 || snapshot_fd(fd, reg, tokens) == -1 || close(fd) == -1 ||
	    rename(tmp, path) == -1 || store_fsync_dir(dirpath) == -1) {
		log_warn("writing %s", tmp);
		if (fd != -1)
			unlink(tmp);
		return -1;
	}
	return 0;
}
