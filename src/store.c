/* store.c: the per-shard append-only log: records, replay, group commit,
 * compaction and re-partitioning.  See store.h for the layout. */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <msgpack.h>
#include <zlib.h>

#include "config.h"
#include "log.h"
#include "mp.h"
#include "qlock.h"
#include "reply.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define HDR_MAGIC	"QLOCKLOG"
#define HDR_LEN		16
#define REC_MAGIC	0x43455251u	/* "QREC" little-endian */
#define REC_HDR		12
#define REC_MAX		(1u << 30)
#define ALLOC_CHUNK	(8u << 20)	/* space reserved ahead of the records */
#define ZERO_CHUNK	(1u << 20)	/* always: space zero-filled ahead */
#define TOKEN_CHUNK	1000000		/* fencing tokens reserved per record */
#define SNAP_SPILL	(1u << 20)	/* a snapshot is written in pieces of this */
#define COMPACT_NICE	10		/* the compaction process's nice value */
#define RETIRE_STEP	(4u << 20)	/* bytes of a replaced log freed per step */

/* Record types: the first element of every record's array. */
enum rec_type {
	R_Q_OPEN = 1,	/* name, maxsize, joinable */
	R_Q_PUT,	/* name, id, item */
	R_Q_TAKE,	/* name, id: left the queue (joinable: taken, unfinished) */
	R_Q_DONE,	/* name, id: a taken joinable item is finished */
	R_Q_BACK,	/* name, id: a taken item went back to the head */
	R_D_SET,	/* dict, key, value */
	R_D_DEL,	/* dict, key */
	R_S_SET,	/* name, initial, bounded, base */
	R_E_SET,	/* name, flag */
	R_L_OPEN,	/* name, recursive */
	R_B_OPEN,	/* name, parties */
	R_DELETE,	/* name */
	R_TOKENS,	/* fencing tokens below this value may have been granted */
};

/* Little-endian u32 helpers for the fixed headers. */
static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* ---- replay ------------------------------------------------------------ */

/* A joinable item taken and not finished, during replay. */
struct taken {
	struct hnode	 node;		/* by (object, id) */
	struct {
		struct object	*obj;
		uint64_t	 id;
	} key;
	struct qitem	*it;
};

/* State while replaying one log. */
struct replay {
	struct registry	*reg;
	struct hmap	 taken;		/* joinable items out of their queue */
	uint64_t	 max_item;	/* highest item id seen */
	uint64_t	 tokens;	/* highest token reservation seen */
};

/* The object called name of kind, created if absent; NULL if it is
 * another kind (a log cannot say that; treated as damage). */
static struct object *
replay_object(struct replay *rp, const char *name, uint32_t len,
    enum obj_kind kind)
{
	struct object	*o = registry_find(rp->reg, name, len);

	if (o == NULL)
		o = registry_add(rp->reg, name, len, kind);
	return o->kind == kind ? o : NULL;
}

static struct taken *
taken_find(struct replay *rp, struct object *o, uint64_t id)
{
	struct taken	 key;
	struct hnode	*n;

	memset(&key.key, 0, sizeof(key.key));
	key.key.obj = o;
	key.key.id = id;
	n = hmap_find(&rp->taken, &key.key, sizeof(key.key));
	return n == NULL ? NULL : hmap_entry(n, struct taken, node);
}

/* Apply one record to the registry; -1 if it makes no sense. */
static int
replay_record(struct replay *rp, const uint8_t *p, size_t len)
{
	struct mp_reader r;
	struct object	*o;
	struct qitem	*it;
	struct taken	*t;
	struct waitlist	 woken;
	uint32_t	 n, namelen, klen;
	uint64_t	 type, id;
	int64_t		 a, b, c;
	bool		 flag;
	const char	*name, *key;
	const uint8_t	*raw;
	size_t		 rawlen;

	TAILQ_INIT(&woken);
	mp_reader_init(&r, p, len);
	if (mp_check(p, len) == -1 || mp_read_array(&r, &n) == -1 || n < 1 ||
	    mp_read_uint(&r, &type) == -1)
		return -1;
	if (type == R_TOKENS)
		return mp_read_uint(&r, &id) == -1 ? -1 :
		    (rp->tokens = id > rp->tokens ? id : rp->tokens, 0);
	if (mp_read_str(&r, &name, &namelen) == -1 || namelen == 0)
		return -1;
	switch (type) {
	case R_Q_OPEN:
		if ((o = replay_object(rp, name, namelen, OBJ_QUEUE)) == NULL ||
		    mp_read_int(&r, &a) == -1 || mp_read_bool(&r, &flag) == -1)
			return -1;
		if (flag && !o->u.queue.joinable)
			o->u.queue.unfinished = o->u.queue.count;
		o->u.queue.maxsize = (long)a;
		o->u.queue.joinable = flag;
		o->opened = true;
		return 0;
	case R_Q_PUT:
		if ((o = replay_object(rp, name, namelen, OBJ_QUEUE)) == NULL ||
		    mp_read_uint(&r, &id) == -1 || mp_skip(&r, &raw, &rawlen) == -1)
			return -1;
		it = qitem_new(raw, rawlen);
		it->id = id;
		if (id > rp->max_item)
			rp->max_item = id;
		/* Replay never waits: the bound was checked when it happened. */
		TAILQ_INSERT_TAIL(&o->u.queue.items, it, link);
		o->u.queue.count++;
		o->u.queue.bytes += rawlen;
		if (o->u.queue.joinable)
			o->u.queue.unfinished++;
		return 0;
	case R_Q_TAKE:
		if ((o = replay_object(rp, name, namelen, OBJ_QUEUE)) == NULL ||
		    mp_read_uint(&r, &id) == -1)
			return -1;
		TAILQ_FOREACH(it, &o->u.queue.items, link)
			if (it->id == id)
				break;
		if (it == NULL)
			return -1;
		TAILQ_REMOVE(&o->u.queue.items, it, link);
		o->u.queue.count--;
		o->u.queue.bytes -= it->len;
		if (!o->u.queue.joinable) {
			qitem_free(it);
			return 0;
		}
		t = xcalloc(1, sizeof(*t));
		t->key.obj = o;
		t->key.id = id;
		t->it = it;
		hmap_insert(&rp->taken, &t->node, &t->key, sizeof(t->key));
		return 0;
	case R_Q_DONE:
	case R_Q_BACK:
		if ((o = replay_object(rp, name, namelen, OBJ_QUEUE)) == NULL ||
		    mp_read_uint(&r, &id) == -1)
			return -1;
		if ((t = taken_find(rp, o, id)) == NULL)
			return -1;
		hmap_remove(&rp->taken, &t->node);
		if (type == R_Q_DONE) {
			qitem_free(t->it);
			(void)queue_task_done(&o->u.queue, &woken);
		} else
			queue_putback(&o->u.queue, t->it, &woken);
		free(t);
		return 0;
	case R_D_SET:
		if ((o = replay_object(rp, name, namelen, OBJ_DICT)) == NULL ||
		    mp_read_str(&r, &key, &klen) == -1 ||
		    mp_skip(&r, &raw, &rawlen) == -1)
			return -1;
		dict_set(&o->u.dict, key, klen, raw, rawlen);
		return 0;
	case R_D_DEL:
		if ((o = replay_object(rp, name, namelen, OBJ_DICT)) == NULL ||
		    mp_read_str(&r, &key, &klen) == -1)
			return -1;
		(void)dict_del(&o->u.dict, key, klen);
		return 0;
	case R_S_SET:
		if ((o = replay_object(rp, name, namelen, OBJ_SEM)) == NULL ||
		    mp_read_int(&r, &a) == -1 || mp_read_bool(&r, &flag) == -1 ||
		    mp_read_int(&r, &b) == -1)
			return -1;
		sem_init(&o->u.sem, (long)a, flag);
		o->u.sem.value = (long)b;
		o->opened = true;
		return 0;
	case R_E_SET:
		if ((o = replay_object(rp, name, namelen, OBJ_EVENT)) == NULL ||
		    mp_read_bool(&r, &flag) == -1)
			return -1;
		o->u.event.set = flag;
		return 0;
	case R_L_OPEN:
		if ((o = replay_object(rp, name, namelen, OBJ_LOCK)) == NULL ||
		    mp_read_bool(&r, &flag) == -1)
			return -1;
		o->u.lock.recursive = flag;
		o->opened = true;
		return 0;
	case R_B_OPEN:
		if ((o = replay_object(rp, name, namelen, OBJ_BARRIER)) == NULL ||
		    mp_read_int(&r, &c) == -1 || c < 1)
			return -1;
		barrier_init(&o->u.barrier, (uint32_t)c);
		o->opened = true;
		return 0;
	case R_DELETE:
		if ((o = registry_find(rp->reg, name, namelen)) != NULL) {
			struct hnode *hn, *next;

			for (hn = hmap_first(&rp->taken); hn != NULL; hn = next) {
				next = hmap_next(&rp->taken, hn);
				t = hmap_entry(hn, struct taken, node);
				if (t->key.obj == o) {
					hmap_remove(&rp->taken, hn);
					qitem_free(t->it);
					free(t);
				}
			}
			registry_del(rp->reg, o);
		}
		return 0;
	}
	return -1;
}

/* Order taken items by id, highest first (each is pushed at the head). */
static int
taken_cmp(const void *a, const void *b)
{
	const struct taken *x = *(struct taken *const *)a;
	const struct taken *y = *(struct taken *const *)b;

	return x->key.id < y->key.id ? 1 : x->key.id > y->key.id ? -1 : 0;
}

/* End of replay: unfinished joinable items go back to the head of their
 * queues, oldest first (their takers' sessions are gone). */
static void
replay_finish(struct replay *rp)
{
	struct taken	**v = xcalloc(rp->taken.count + 1, sizeof(*v));
	struct hnode	 *n;
	struct waitlist	  woken;
	size_t		  i, nv = 0;

	TAILQ_INIT(&woken);
	for (n = hmap_first(&rp->taken); n != NULL; n = hmap_next(&rp->taken, n))
		v[nv++] = hmap_entry(n, struct taken, node);
	qsort(v, nv, sizeof(*v), taken_cmp);
	for (i = 0; i < nv; i++) {
		queue_putback(&v[i]->key.obj->u.queue, v[i]->it, &woken);
		free(v[i]);
	}
	free(v);
	hmap_free(&rp->taken);
}

/* How a scan of a log ended. */
enum scan_end {
	SCAN_CLEAN,	/* records, then nothing (or zeros) */
	SCAN_TORN,	/* a partial record at the tail: cut it */
	SCAN_DAMAGED,	/* a bad record with good ones after it */
};

/* Check the record at off; its total size, or 0 if it is not whole. */
static size_t
record_at(const uint8_t *p, size_t size, size_t off)
{
	uint32_t	len;

	if (size - off < REC_HDR || get_le32(p + off) != REC_MAGIC)
		return 0;
	len = get_le32(p + off + 4);
	if (len == 0 || len > REC_MAX || size - off - REC_HDR < len)
		return 0;
	if (crc32(0, p + off + REC_HDR, len) != get_le32(p + off + 8))
		return 0;
	return REC_HDR + len;
}

/*
 * Walk the records of a mapped log, applying each to rp when it is set.
 * *end is the offset after the last whole record; *bad the first bad one.
 */
static enum scan_end
scan(const uint8_t *p, size_t size, struct replay *rp, size_t *end,
    size_t *bad, const char *path)
{
	size_t		off = HDR_LEN, n, i, j;

	while (off < size && (n = record_at(p, size, off)) != 0) {
		if (rp != NULL &&
		    replay_record(rp, p + off + REC_HDR, n - REC_HDR) == -1) {
			*end = *bad = off;
			log_warnx("%s: record at offset %zu does not apply", path,
			    off);
			return SCAN_DAMAGED;
		}
		off += n;
	}
	*end = *bad = off;
	if (off >= size)
		return SCAN_CLEAN;
	for (i = off; i < size && p[i] == 0; i++)
		;
	if (i == size)
		return SCAN_CLEAN;		/* allocated, never written */
	if (size - off < REC_HDR)
		return SCAN_TORN;		/* not even a whole header */
	/*
	 * Damage in the middle, or a torn last append?  After damage, the
	 * records that were written after it still chain, whole, to the end
	 * of the file.  Bytes inside a torn append that merely look like a
	 * record (a client's item may contain anything) do not reach the end
	 * that way, since the tear falls where it falls.
	 */
	for (i = off + 1; i + REC_HDR <= size; i++) {
		if (get_le32(p + i) != REC_MAGIC || record_at(p, size, i) == 0)
			continue;
		for (j = i; j < size && (n = record_at(p, size, j)) != 0; j += n)
			;
		while (j < size && p[j] == 0)
			j++;
		if (j == size)
			return SCAN_DAMAGED;
	}
	return SCAN_TORN;
}

/* Map a log file read-only; *size 0 and NULL for an empty file. */
static const uint8_t *
map_file(int fd, size_t *size)
{
	struct stat	st;
	void		*p;

	if (fstat(fd, &st) == -1)
		return NULL;
	*size = (size_t)st.st_size;
	if (*size == 0)
		return NULL;
	p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* True if p holds our header. */
static bool
header_ok(const uint8_t *p, size_t size)
{
	return size >= HDR_LEN && memcmp(p, HDR_MAGIC, 8) == 0 &&
	    get_le32(p + 8) == STORE_VERSION;
}

/* ---- writing ------------------------------------------------------------ */

/* Write all of buf at off; -1 on error (errno set). */
static int
write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* fsync a directory (after renames in it). */
static int
fsync_dir(const char *path)
{
	int	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
recbuf_write(void *data, const char *buf, size_t len)
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
static size_t
rec_begin(struct store_buf *b, msgpack_packer *pk, uint32_t nfields,
    enum rec_type type)
{
	static const uint8_t	zero[REC_HDR];
	size_t			at = b->len;

	recbuf_write(b, (const char *)zero, sizeof(zero));
	msgpack_packer_init(pk, b, recbuf_write);
	msgpack_pack_array(pk, nfields + 1);
	msgpack_pack_uint8(pk, (uint8_t)type);
	return at;
}

/* A spilling buffer: write what it holds to its file. */
static void
spill(struct store_buf *b)
{
	if (!b->spill_failed && write_all(b->fd, b->p, b->len, b->off) == -1)
		b->spill_failed = true;
	b->off += b->len;
	b->len = 0;
}

/* Finish the record started at at: fill in its length and checksum. */
static void
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
static void
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
static void
rec_q_put(struct store_buf *b, const struct object *o, const struct qitem *it)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 3, R_Q_PUT);

	pack_name(&pk, o);
	msgpack_pack_uint64(&pk, it->id);
	pack_raw(&pk, it->data, it->len);
	rec_end(b, at);
}

/* [type, name, id]: R_Q_TAKE, R_Q_DONE, R_Q_BACK */
static void
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
static void
rec_d_set(struct store_buf *b, const struct object *o, const char *key,
    size_t klen, const void *val, size_t vlen)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 3, R_D_SET);

	pack_name(&pk, o);
	pack_str(&pk, key, klen);
	pack_raw(&pk, val, vlen);
	rec_end(b, at);
}

/* [R_S_SET, name, initial, bounded, base] */
static void
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
static void
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
static void
rec_b_open(struct store_buf *b, const struct object *o)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 2, R_B_OPEN);

	pack_name(&pk, o);
	msgpack_pack_uint32(&pk, o->u.barrier.parties);
	rec_end(b, at);
}

/* [R_TOKENS, upto] */
static void
rec_tokens(struct store_buf *b, uint64_t upto)
{
	msgpack_packer	pk;
	size_t		at = rec_begin(b, &pk, 1, R_TOKENS);

	msgpack_pack_uint64(&pk, upto);
	rec_end(b, at);
}

/* The whole state of one object as records (for snapshots). */
static void
snapshot_object(struct store_buf *b, const struct object *o)
{
	struct hold	*h;
	struct qitem	*it;
	struct hnode	*n;
	struct dentry	*e;
	long		 base;

	switch (o->kind) {
	case OBJ_QUEUE:
		if (o->opened)
			rec_q_open(b, o);
		/* Taken and unfinished first: they come back at the head. */
		TAILQ_FOREACH(h, &o->holds, obj_link) {
			TAILQ_FOREACH(it, &h->items, link) {
				rec_q_put(b, o, it);
				rec_item(b, o, R_Q_TAKE, it->id);
			}
		}
		TAILQ_FOREACH(it, &o->u.queue.items, link)
			rec_q_put(b, o, it);
		break;
	case OBJ_DICT:
		for (n = hmap_first(&o->u.dict.entries); n != NULL;
		    n = hmap_next(&o->u.dict.entries, n)) {
			e = hmap_entry(n, struct dentry, node);
			rec_d_set(b, o, e->key, e->keylen, e->val, e->vallen);
		}
		break;
	case OBJ_SEM:
		base = o->u.sem.value;
		TAILQ_FOREACH(h, &o->holds, obj_link)
			base += (long)h->permits;
		rec_s_set(b, o, base);
		break;
	case OBJ_EVENT:
		if (o->u.event.set)
			rec_flag(b, o, R_E_SET, true);
		break;
	case OBJ_LOCK:
		if (o->opened)
			rec_flag(b, o, R_L_OPEN, o->u.lock.recursive);
		break;
	case OBJ_BARRIER:
		rec_b_open(b, o);
		break;
	default:
		break;	/* conditions hold nothing durable */
	}
}

/* Write a log holding the state of reg to fd (from offset 0), a megabyte
 * at a time, and fsync it; its size, or -1 (errno set). */
static int64_t
snapshot_fd(int fd, struct registry *reg, uint64_t tokens)
{
	struct store_buf b = { .spill = true, .fd = fd };
	struct hnode	*n;
	uint8_t		 hdr[HDR_LEN] = { 0 };

	memcpy(hdr, HDR_MAGIC, 8);
	put_le32(hdr + 8, STORE_VERSION);
	recbuf_write(&b, (const char *)hdr, sizeof(hdr));
	rec_tokens(&b, tokens);
	for (n = hmap_first(&reg->byname); n != NULL; n = hmap_next(&reg->byname, n))
		snapshot_object(&b, hmap_entry(n, struct object, node));
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
static int
snapshot_write(const char *path, const char *dirpath, struct registry *reg,
    uint64_t tokens)
{
	char	tmp[8200];
	int	fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || snapshot_fd(fd, reg, tokens) == -1 || close(fd) == -1 ||
	    rename(tmp, path) == -1 || fsync_dir(dirpath) == -1) {
		log_warn("writing %s", tmp);
		if (fd != -1)
			unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- the data directory (master) ---------------------------------------- */

/* Read CURRENT: generation and worker count; 0 if absent, -1 if bad. */
static int
current_read(const char *dir, unsigned *gen, int *workers)
{
	char	path[4096], line[128];
	FILE	*f;
	int	rc = -1;

	snprintf(path, sizeof(path), "%s/CURRENT", dir);
	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	if (fgets(line, sizeof(line), f) != NULL &&
	    sscanf(line, "gen %u workers %d", gen, workers) == 2 && *workers > 0)
		rc = 1;
	fclose(f);
	return rc;
}

/* Point CURRENT at a generation, atomically. */
static int
current_write(const char *dir, unsigned gen, int workers)
{
	char	path[4096], tmp[4096], line[64];
	int	fd, n;

	snprintf(path, sizeof(path), "%s/CURRENT", dir);
	snprintf(tmp, sizeof(tmp), "%s/CURRENT.tmp", dir);
	n = snprintf(line, sizeof(line), "gen %u workers %d\n", gen, workers);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write_all(fd, line, (size_t)n, 0) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1 ||
	    fsync_dir(dir) == -1)
		return -1;
	return 0;
}

/* Remove a generation directory and its files. */
static void
gen_remove(const char *dir, const char *name)
{
	char		 path[4096], file[8192];
	DIR		*d;
	struct dirent	*de;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		unlink(file);
	}
	closedir(d);
	rmdir(path);
}

/* Remove every gen-* directory but the live one, and stray temp files. */
static void
gen_cleanup(const char *dir, unsigned live)
{
	char		 keep[32];
	DIR		*d;
	struct dirent	*de;

	snprintf(keep, sizeof(keep), "gen-%u", live);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "gen-", 4) == 0 &&
		    strcmp(de->d_name, keep) != 0) {
			log_info("removing %s/%s, left by an interrupted "
			    "re-partition", dir, de->d_name);
			gen_remove(dir, de->d_name);
		}
	}
	closedir(d);
}

/*
 * Check one log (and replay it into rp if set): refuse damage in the
 * middle unless repair, cut a torn tail.  -1 with a message on stderr.
 */
static int
check_log(const char *path, struct replay *rp, bool repair)
{
	const uint8_t	*p;
	size_t		 size = 0, end, bad;
	enum scan_end	 how;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "qlockd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	p = map_file(fd, &size);
	if (size == 0) {
		close(fd);
		return 0;
	}
	if (p == NULL || !header_ok(p, size)) {
		fprintf(stderr, "qlockd: %s: not a qlockd log of version %d\n",
		    path, STORE_VERSION);
		if (p != NULL)
			munmap((void *)p, size);
		close(fd);
		return -1;
	}
	how = scan(p, size, rp, &end, &bad, path);
	munmap((void *)p, size);
	if (how == SCAN_DAMAGED && !repair) {
		fprintf(stderr, "qlockd: %s: damaged record at offset %zu, with "
		    "valid records after it; refusing to start. To keep the "
		    "records before it and drop the rest, start once with "
		    "--repair-log\n", path, bad);
		close(fd);
		return -1;
	}
	if (how != SCAN_CLEAN) {
		log_warnx("%s: %s at offset %zu: cut back to the last whole "
		    "record (%zu bytes dropped)", path, how == SCAN_TORN ?
		    "torn tail" : "damage repaired", bad, size - end);
		if (ftruncate(fd, (off_t)end) == -1 || fdatasync(fd) == -1) {
			fprintf(stderr, "qlockd: %s: cannot truncate: %s\n", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

int
store_prepare(const struct config *conf, bool repair)
{
	const char	*dir = conf->data_dir;
	char		 gendir[4096], path[8192];
	struct registry	*regs, old;
	struct replay	 rp;
	struct hnode	*n, *next;
	struct object	*o;
	unsigned	 gen = 0;
	int		 workers = 0, i, j, rc;
	uint64_t	 tokens = 0;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "qlockd: --data-dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if ((rc = current_read(dir, &gen, &workers)) == -1) {
		fprintf(stderr, "qlockd: %s/CURRENT is unreadable or damaged\n", dir);
		return -1;
	}
	if (rc == 0) {
		/* A new directory. */
		snprintf(gendir, sizeof(gendir), "%s/gen-0", dir);
		gen_cleanup(dir, 0);
		if ((mkdir(gendir, 0700) == -1 && errno != EEXIST) ||
		    current_write(dir, 0, conf->workers) == -1) {
			fprintf(stderr, "qlockd: cannot set up %s: %s\n", dir,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	gen_cleanup(dir, gen);
	snprintf(gendir, sizeof(gendir), "%s/gen-%u", dir, gen);
	if (mkdir(gendir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "qlockd: %s: %s\n", gendir, strerror(errno));
		return -1;
	}
	if (workers == conf->workers) {
		for (j = 0; j < workers; j++) {
			snprintf(path, sizeof(path), "%s/shard-%d.log", gendir, j);
			if (check_log(path, NULL, repair) == -1)
				return -1;
		}
		return 0;
	}
	/* Re-partition: replay every old log, move each object to its new
	 * shard, write the new generation, then switch CURRENT to it. */
	log_info("re-partitioning %s from %d to %d workers", dir, workers,
	    conf->workers);
	regs = xcalloc((size_t)conf->workers, sizeof(*regs));
	for (i = 0; i < conf->workers; i++)
		registry_init(&regs[i]);
	for (j = 0; j < workers; j++) {
		registry_init(&old);
		memset(&rp, 0, sizeof(rp));
		rp.reg = &old;
		hmap_init(&rp.taken);
		snprintf(path, sizeof(path), "%s/shard-%d.log", gendir, j);
		rc = check_log(path, &rp, repair);
		replay_finish(&rp);
		if (rp.tokens > tokens)
			tokens = rp.tokens;
		for (n = hmap_first(&old.byname); n != NULL; n = next) {
			next = hmap_next(&old.byname, n);
			o = hmap_entry(n, struct object, node);
			hmap_remove(&old.byname, n);
			i = (int)shard_of(o->name, o->namelen,
			    (unsigned)conf->workers);
			hmap_insert(&regs[i].byname, &o->node, o->name, o->namelen);
			regs[i].count[o->kind]++;
		}
		registry_free(&old);
		if (rc == -1)
			goto fail;
	}
	snprintf(gendir, sizeof(gendir), "%s/gen-%u", dir, gen + 1);
	gen_remove(dir, gendir + strlen(dir) + 1);
	if (mkdir(gendir, 0700) == -1) {
		fprintf(stderr, "qlockd: %s: %s\n", gendir, strerror(errno));
		goto fail;
	}
	for (i = 0; i < conf->workers; i++) {
		snprintf(path, sizeof(path), "%s/shard-%d.log", gendir, i);
		if (snapshot_write(path, gendir, &regs[i], tokens) == -1) {
			fprintf(stderr, "qlockd: cannot write %s\n", path);
			goto fail;
		}
	}
	if (fsync_dir(dir) == -1 || current_write(dir, gen + 1, conf->workers) == -1) {
		fprintf(stderr, "qlockd: cannot switch %s/CURRENT: %s\n", dir,
		    strerror(errno));
		goto fail;
	}
	snprintf(gendir, sizeof(gendir), "gen-%u", gen);
	gen_remove(dir, gendir);
	for (i = 0; i < conf->workers; i++)
		registry_free(&regs[i]);
	free(regs);
	return 0;
fail:
	for (i = 0; i < conf->workers; i++)
		registry_free(&regs[i]);
	free(regs);
	return -1;
}

/* ---- the worker's log ---------------------------------------------------- */

static void compact_abandon(struct store *);
static void compact_reap(struct store *, bool);
static void retire_done(struct store *);

/* Ask for a flush at the end of this loop pass. */
static void
schedule_flush(struct worker *w)
{
	if (!w->store_flush_pending) {
		w->store_flush_pending = true;
		event_active(w->store_flush_ev, EV_TIMEOUT, 0);
	}
}

static void
store_flush_cb(evutil_socket_t fd, short ev, void *arg)
{
	store_flush(arg);
}

/* After an fsync that covered the log up to off: for power-loss tests,
 * record what is on disk. */
static void
mark_synced_to(struct store *st, uint64_t off)
{
	char	buf[32];
	int	n;

	st->synced = off;
	if (st->markfd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%020llu\n", (unsigned long long)st->synced);
	if (pwrite(st->markfd, buf, (size_t)n, 0) != n)
		log_warn("writing the sync mark of %s", st->path);
}

static void
mark_synced(struct store *st)
{
	mark_synced_to(st, st->end);
}

/*
 * everysec: the once-a-second fdatasync runs in a small helper process,
 * so that the worker's loop never waits for the disk (it would stall
 * every client of the worker for as long as the flush takes, tens of
 * milliseconds under load).  The worker sends it the log's descriptor
 * (SCM_RIGHTS) with the offset written so far, one request at a time; it
 * answers with the offset and fdatasync's errno.  Forked before the log
 * is replayed, so it shares almost no memory with the worker.
 */
struct sync_msg {
	uint64_t	upto;		/* the log is written up to here */
	uint32_t	gen;		/* st->file_gen when sent */
	int32_t		err;		/* answer: fdatasync's errno, or 0 */
};

/* Keep only fd (as 3) and the standard streams: a forked helper must not
 * hold the worker's sockets open (a peer notices a dead worker by EOF). */
static int
keep_only_fd(int fd)
{
	if (fd != 3 && dup2(fd, 3) == -1)
		return -1;
	(void)close_range(4, ~0U, 0);
	return 3;
}

/* Die with the worker (parent); leave its signals to it. */
static void
helper_setup(pid_t parent)
{
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
}

static void __attribute__((noreturn))
syncer_main(pid_t parent, int sock)
{
	struct sync_msg	 m;
	ssize_t		 n;
	int		 fd;

	helper_setup(parent);
	if ((sock = keep_only_fd(sock)) == -1)
		_exit(1);
	for (;;) {
		n = fd_recv(sock, &m, sizeof(m), &fd);
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(m))
			_exit(0);		/* the worker closed: done */
		if (fd == -1)
			_exit(1);
		m.err = fdatasync(fd) == -1 ? errno : 0;
		close(fd);
		if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
			_exit(1);
	}
}

/* The fsync process answered. */
static void
syncer_answer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct store	*st = w->store;
	struct sync_msg	 m;
	ssize_t		 n;

	n = recv(fd, &m, sizeof(m), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(m))
		fatalx("%s: the fsync process is gone (restarting)", st->path);
	st->sync_busy = false;
	if (m.err != 0) {
		errno = m.err;
		fatal("fdatasync %s (never retried: restarting)", st->path);
	}
	st->fsync_secs += now_mono() - st->sync_t0;
	st->fsyncs++;
	if (m.gen == st->file_gen && m.upto > st->synced)
		mark_synced_to(st, m.upto);
}

/* Ask the fsync process to flush what is written; one request at a time. */
static void
syncer_request(struct store *st)
{
	struct sync_msg	m = { st->end, st->file_gen, 0 };

	if (st->sync_busy || st->synced >= st->end)
		return;
	if (fd_send(st->sync_sock, &m, sizeof(m), st->fd) != (ssize_t)sizeof(m))
		fatal("%s: asking the fsync process (restarting)", st->path);
	st->sync_busy = true;
	st->sync_t0 = now_mono();
}

static void
syncer_start(struct worker *w, struct store *st)
{
	pid_t		 parent = getpid(), pid;
	int		 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("fsync process socket");
	if ((pid = fork()) == -1)
		fatal("fork the fsync process");
	if (pid == 0) {
		close(sv[0]);
		syncer_main(parent, sv[1]);
	}
	close(sv[1]);
	if (fd_nonblock_cloexec(sv[0]) == -1)
		fatal("fsync process socket");
	st->syncer_pid = pid;
	st->sync_sock = sv[0];
	st->sync_ev = event_new(w->base, sv[0], EV_READ | EV_PERSIST,
	    syncer_answer_cb, w);
	if (st->sync_ev == NULL)
		fatalx("cannot watch the fsync process");
	event_add(st->sync_ev, NULL);
}

static void
syncer_stop(struct store *st)
{
	if (st->sync_sock == -1)
		return;
	event_free(st->sync_ev);
	st->sync_ev = NULL;
	close(st->sync_sock);		/* it exits when it reads EOF */
	st->sync_sock = -1;
	while (waitpid(st->syncer_pid, NULL, 0) == -1 && errno == EINTR)
		;
	st->syncer_pid = 0;
	st->sync_busy = false;
}

/* Everysec: have what was written in the last second fsync'ed. */
static void
store_sec_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;

	syncer_request(w->store);
}

void
store_open(struct worker *w)
{
	struct store	*st;
	struct replay	 rp;
	struct stat	 sb;
	char		 path[8192];
	const uint8_t	*p;
	size_t		 size = 0, end, bad;
	enum scan_end	 how;
	unsigned	 gen;
	int		 workers;
	struct timeval	 sec = { 1, 0 };

	if (w->conf->data_dir == NULL)
		return;
	if (current_read(w->conf->data_dir, &gen, &workers) != 1 ||
	    workers != w->nworkers)
		fatalx("%s/CURRENT does not match %d workers", w->conf->data_dir,
		    w->nworkers);
	st = xcalloc(1, sizeof(*st));
	st->policy = w->conf->fsync;
	st->markfd = -1;
	st->compact_fd = -1;
	st->sync_sock = -1;
	st->retire_fd = -1;
	snprintf(path, sizeof(path), "%s/gen-%u", w->conf->data_dir, gen);
	st->dirpath = xstrdup(path);
	snprintf(path, sizeof(path), "%s/gen-%u/shard-%d.log", w->conf->data_dir,
	    gen, w->id);
	st->path = xstrdup(path);
	snprintf(path, sizeof(path), "%s.tmp", st->path);
	unlink(path);		/* an interrupted compaction */
	if ((st->fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		fatal("open %s", st->path);
	if (fstat(st->fd, &sb) == -1)
		fatal("fstat %s", st->path);
	if (st->policy == FSYNC_EVERYSEC)
		syncer_start(w, st);	/* before the replay fills the heap */
	if (sb.st_size == 0) {
		uint8_t hdr[HDR_LEN] = { 0 };

		memcpy(hdr, HDR_MAGIC, 8);
		put_le32(hdr + 8, STORE_VERSION);
		if (write_all(st->fd, hdr, sizeof(hdr), 0) == -1 ||
		    fdatasync(st->fd) == -1 || fsync_dir(st->dirpath) == -1)
			fatal("write %s", st->path);
	}
	p = map_file(st->fd, &size);
	if (p == NULL || !header_ok(p, size))
		fatalx("%s: not a qlockd log of version %d", st->path,
		    STORE_VERSION);
	memset(&rp, 0, sizeof(rp));
	rp.reg = &w->reg;
	hmap_init(&rp.taken);
	how = scan(p, size, &rp, &end, &bad, st->path);
	if (how == SCAN_DAMAGED)
		fatalx("%s: damaged at offset %zu (restart with --repair-log)",
		    st->path, bad);
	munmap((void *)p, size);
	replay_finish(&rp);
	if (how == SCAN_TORN) {
		log_warnx("%s: torn tail at offset %zu cut", st->path, end);
		if (ftruncate(st->fd, (off_t)end) == -1)
			fatal("ftruncate %s", st->path);
		size = end;
	}
	/* Zeros after the records (SCAN_CLEAN) are space reserved ahead. */
	st->end = st->synced = end;
	st->allocated = size;
	st->live = end;
	if (getenv("QLOCKD_TEST_SYNC_MARKS") != NULL) {
		snprintf(path, sizeof(path), "%s.synced", st->path);
		st->markfd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		mark_synced(st);
	}
	st->next_item = rp.max_item;
	st->token_reserved = rp.tokens;
	if (w->tokens < rp.tokens)
		w->tokens = rp.tokens;
	w->store = st;
	w->store_flush_ev = event_new(w->base, -1, 0, store_flush_cb, w);
	if (st->policy == FSYNC_EVERYSEC) {
		w->store_sec_ev = event_new(w->base, -1, EV_PERSIST, store_sec_cb, w);
		event_add(w->store_sec_ev, &sec);
	}
	log_info("%s: %zu bytes replayed, %zu objects", st->path, end,
	    w->reg.byname.count);
}

void
store_close(struct worker *w)
{
	struct store	*st = w->store;

	if (st == NULL)
		return;
	if (st->compact_pid != 0) {	/* a compaction still writing */
		kill(st->compact_pid, SIGKILL);
		while (waitpid(st->compact_pid, NULL, 0) == -1 && errno == EINTR)
			;
		st->compact_pid = 0;
	}
	if (st->compact_ev != NULL || st->compact_ready)
		compact_abandon(st);
	compact_reap(st, true);
	retire_done(st);
	st->closing = true;
	store_flush(w);
	syncer_stop(st);
	if (st->synced < st->end && st->policy != FSYNC_NO &&
	    fdatasync(st->fd) == -1)
		log_warn("fdatasync %s at exit", st->path);
	close(st->fd);
	if (st->markfd != -1)
		close(st->markfd);
	if (w->store_flush_ev != NULL)
		event_free(w->store_flush_ev);
	if (w->store_sec_ev != NULL)
		event_free(w->store_sec_ev);
	free(st->pend.p);
	free(st->path);
	free(st->dirpath);
	free(st);
	w->store = NULL;
}

/*
 * Space for the log is reserved ahead of the records, so that a full disk
 * refuses a change instead of failing its write.  With --fsync always it
 * is also zero-filled, a megabyte at a time: an fdatasync after writing
 * into blocks that are already part of the file, and written, has no
 * metadata to flush (no new size, no unwritten extents to convert), which
 * made it 1.4-2x as fast on the ext4 disk measured (docs/PERFORMANCE.md).
 * The file then ends in zeros, which replay reads as "allocated, never
 * written".  Larger reservations (a big record) and the other policies
 * only allocate (FALLOC_FL_KEEP_SIZE), which costs no writes.
 */
static int
reserve_zeroed(struct store *st, uint64_t upto)
{
	static const uint8_t	zeros[64 * 1024];
	uint64_t		from, off;
	size_t			len;

	/* Records written without a reservation of their own (a session's
	 * give-backs) may lie past allocated: never zero what is written. */
	from = st->allocated > st->end ? st->allocated : st->end;
	if (from >= upto)
		return 0;
	if (fallocate(st->fd, 0, (off_t)from, (off_t)(upto - from)) == -1 &&
	    errno != EOPNOTSUPP)
		return -1;
	for (off = from; off < upto; off += len) {
		len = upto - off < sizeof(zeros) ? upto - off : sizeof(zeros);
		if (write_all(st->fd, zeros, len, off) == -1) {
			if (errno == ENOSPC || errno == EDQUOT)
				return -1;
			fatal("write %s (zero-filling ahead)", st->path);
		}
	}
	return 0;
}

int
store_reserve(struct worker *w, size_t bytes)
{
	struct store	*st = w->store;
	uint64_t	 need;
	int		 rc;

	if (st == NULL)
		return 0;
	need = st->end + st->pend.len + bytes + REC_HDR + 64;
	if (need <= st->allocated)
		return 0;
	if (st->policy == FSYNC_ALWAYS && need - st->allocated <= ZERO_CHUNK) {
		need = (need + ZERO_CHUNK - 1) / ZERO_CHUNK * ZERO_CHUNK;
		rc = reserve_zeroed(st, need);
	} else {
		need = (need + ALLOC_CHUNK - 1) / ALLOC_CHUNK * ALLOC_CHUNK;
		rc = fallocate(st->fd, FALLOC_FL_KEEP_SIZE,
		    (off_t)st->allocated, (off_t)(need - st->allocated));
	}
	if (rc == -1) {
		if (errno != ENOSPC && errno != EDQUOT && errno != EOPNOTSUPP)
			log_warn("fallocate %s", st->path);
		if (errno == EOPNOTSUPP) {	/* cannot tell: let writes decide */
			st->allocated = need;
			return 0;
		}
		if (!st->disk_full)
			log_warnx("%s: disk full: refusing changes until there "
			    "is room", st->path);
		st->disk_full = true;
		return -1;
	}
	if (st->disk_full)
		log_info("%s: room again on disk", st->path);
	st->disk_full = false;
	st->allocated = need;
	return 0;
}

/*
 * Compaction rewrites the log as a snapshot of the live state, without
 * stopping the worker: a child process, forked between two loop passes
 * (when every change made is in the log), writes the snapshot of its
 * copy-on-write image to path.tmp and fsyncs it, while the worker goes on
 * serving and logging, keeping a copy of every record it appends (tail).
 * When the child is done, the worker appends the tail to path.tmp,
 * fdatasyncs it, renames it over the log and fsyncs the directory, in one
 * step between two passes.  A crash at any moment leaves either the old
 * log, whole, or the new one, whole; a leftover path.tmp is removed at
 * start.  A failed compaction keeps the log and is tried again when the
 * log has doubled.
 */

static void
compact_path(const struct store *st, char *buf, size_t len)
{
	snprintf(buf, len, "%s.tmp", st->path);
}

/* The child: write the snapshot, report on the pipe, exit. */
static void __attribute__((noreturn))
compact_child(struct worker *w, pid_t parent, int statusfd)
{
	struct store	*st = w->store;
	char		 tmp[8200], status = 1;
	int		 fd;

	helper_setup(parent);
	if ((statusfd = keep_only_fd(statusfd)) == -1)
		_exit(1);
	/* Yield the CPU to the worker, which goes on serving. */
	(void)setpriority(PRIO_PROCESS, 0, COMPACT_NICE);
	compact_path(st, tmp, sizeof(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd != -1 && snapshot_fd(fd, &w->reg, st->token_reserved) != -1 &&
	    close(fd) == 0)
		status = 0;
	else
		log_warn("compaction: writing %s", tmp);
	while (write(statusfd, &status, 1) == -1 && errno == EINTR)
		;
	_exit(status);
}

static void
compact_reset(struct store *st)
{
	if (st->compact_ev != NULL)
		event_free(st->compact_ev);
	st->compact_ev = NULL;
	if (st->compact_fd != -1)
		close(st->compact_fd);
	st->compact_fd = -1;
	st->compact_pid = 0;
	st->compact_ready = false;
	free(st->tail.p);
	memset(&st->tail, 0, sizeof(st->tail));
}

/* Give up this compaction: keep the log, try again once it has doubled. */
static void
compact_abandon(struct store *st)
{
	char	tmp[8200];

	compact_path(st, tmp, sizeof(tmp));
	unlink(tmp);
	compact_reset(st);
	st->live = st->end;
}

/* Reap a compaction process that said it is done (waiting, if block). */
static void
compact_reap(struct store *st, bool block)
{
	pid_t	pid;

	if (st->done_pid == 0)
		return;
	do
		pid = waitpid(st->done_pid, NULL, block ? 0 : WNOHANG);
	while (pid == -1 && errno == EINTR);
	if (pid != 0)
		st->done_pid = 0;
}

/* The child reported (or died).  Finish at the end of the pass; a child
 * that succeeded is reaped later, not waited for while it unmaps its
 * copy of the shard. */
static void
compact_child_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct store	*st = w->store;
	char		 status = 1;
	int		 ws = 0;

	if (read(fd, &status, 1) != 1)
		status = 1;
	if (status == 0) {
		st->done_pid = st->compact_pid;
		st->compact_pid = 0;
		compact_reap(st, false);
		st->compact_ready = true;
		schedule_flush(w);
		return;
	}
	while (waitpid(st->compact_pid, &ws, 0) == -1 && errno == EINTR)
		;
	st->compact_pid = 0;
	if (WIFSIGNALED(ws))
		log_warnx("%s: compaction process killed by signal %d; keeping "
		    "the log", st->path, WTERMSIG(ws));
	else
		log_warnx("%s: compaction failed; keeping the log", st->path);
	compact_abandon(st);
}

/* Fork the child that writes the snapshot. */
static void
compact_start(struct worker *w)
{
	struct store	*st = w->store;
	pid_t		 parent = getpid(), pid;
	int		 p[2];

	compact_reap(st, true);		/* the last one, long done */
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("compaction: pipe");
		st->live = st->end;
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("compaction: fork");
		close(p[0]);
		close(p[1]);
		st->live = st->end;
		return;
	}
	if (pid == 0) {
		close(p[0]);
		compact_child(w, parent, p[1]);
	}
	close(p[1]);
	st->compact_pid = pid;
	st->compact_fd = p[0];
	st->compact_from = st->end;
	st->compact_t0 = now_mono();
	st->compact_ev = event_new(w->base, p[0], EV_READ, compact_child_cb, w);
	if (st->compact_ev == NULL)
		fatalx("cannot watch the compaction process");
	event_add(st->compact_ev, NULL);
	log_debug("%s: compacting %llu bytes (process %ld)", st->path,
	    (unsigned long long)st->end, (long)pid);
}

/*
 * The log a compaction replaced is unlinked; closing the last descriptor
 * of a big file frees all its blocks at once, 33 ms for about 100 MB
 * here, and every client of the worker would wait.  So it is cut from the
 * end a few megabytes per loop pass, and closed once empty.
 */
static void
retire_done(struct store *st)
{
	if (st->retire_fd == -1)
		return;
	close(st->retire_fd);
	st->retire_fd = -1;
	event_free(st->retire_ev);
	st->retire_ev = NULL;
}

static void
retire_step_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct store	*st = arg;
	struct timeval	 now = { 0, 0 };

	st->retire_size = st->retire_size > RETIRE_STEP ?
	    st->retire_size - RETIRE_STEP : 0;
	if (st->retire_size == 0 ||
	    ftruncate(st->retire_fd, (off_t)st->retire_size) == -1) {
		retire_done(st);
		return;
	}
	evtimer_add(st->retire_ev, &now);
}

static void
retire_start(struct worker *w, int fd, uint64_t size)
{
	struct store	*st = w->store;
	struct timeval	 now = { 0, 0 };

	retire_done(st);		/* the one before, if still there */
	st->retire_fd = fd;
	st->retire_size = size;
	st->retire_ev = evtimer_new(w->base, retire_step_cb, st);
	if (st->retire_ev == NULL)
		fatalx("cannot schedule freeing the old log");
	evtimer_add(st->retire_ev, &now);
}

/* path.tmp holds the snapshot: add the tail and put it in the log's place. */
static void
compact_finish(struct worker *w)
{
	struct store	*st = w->store;
	char		 tmp[8200];
	struct stat	 sb;
	uint64_t	 size;
	int		 fd;

	compact_path(st, tmp, sizeof(tmp));
	if ((fd = open(tmp, O_RDWR | O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1 ||
	    write_all(fd, st->tail.p, st->tail.len, (uint64_t)sb.st_size) == -1 ||
	    fdatasync(fd) == -1 || rename(tmp, st->path) == -1) {
		log_warn("%s: finishing compaction; keeping the log", tmp);
		if (fd != -1)
			close(fd);
		compact_abandon(st);
		return;
	}
	/* The new log is whole and on disk under either name. */
	if (fsync_dir(st->dirpath) == -1)
		log_warn("fsync %s", st->dirpath);
	retire_start(w, st->fd, st->allocated > st->end ? st->allocated :
	    st->end);
	st->fd = fd;
	st->file_gen++;			/* an fsync answer for the old file */
	size = (uint64_t)sb.st_size + st->tail.len;
	log_info("%s: compacted %llu bytes to %llu in %.3f s (%zu of them "
	    "logged meanwhile)", st->path,
	    (unsigned long long)(st->compact_from + st->tail.len),
	    (unsigned long long)size, now_mono() - st->compact_t0, st->tail.len);
	st->end = st->allocated = st->live = size;
	mark_synced(st);
	compact_reset(st);
}

void
store_flush(struct worker *w)
{
	struct store	*st = w->store;
	double		 t0;

	w->store_flush_pending = false;
	if (st == NULL)
		return;
	if (st->pend.len > 0) {
		if (write_all(st->fd, st->pend.p, st->pend.len, st->end) == -1)
			fatal("write %s (restarting; unacknowledged changes "
			    "are not kept)", st->path);
		st->end += st->pend.len;
		if (st->compact_pid != 0 || st->compact_ready)
			recbuf_write(&st->tail, (const char *)st->pend.p,
			    st->pend.len);
		st->pend.len = 0;
		if (st->policy == FSYNC_ALWAYS) {
			/* One fdatasync for everything this pass wrote. */
			t0 = now_mono();
			if (fdatasync(st->fd) == -1)
				fatal("fdatasync %s (never retried: restarting)",
				    st->path);
			st->fsync_secs += now_mono() - t0;
			st->fsyncs++;
			mark_synced(st);
		}
	}
	worker_release_held(w);
	if (st->compact_ready)
		compact_finish(w);
	else if (st->compact_pid == 0 && !st->closing &&
	    st->end > w->conf->compact_min && st->end > 2 * st->live)
		compact_start(w);
}

/* The live log: each change's record goes into the pending buffer, and
 * schedule_flush makes sure it is written before any reply goes out. */

void
store_q_open(struct worker *w, const struct object *o)
{
	if (w->store != NULL) {
		rec_q_open(&w->store->pend, o);
		schedule_flush(w);
	}
}

void
store_q_put(struct worker *w, const struct object *o, struct qitem *it)
{
	if (w->store != NULL) {
		it->id = ++w->store->next_item;
		rec_q_put(&w->store->pend, o, it);
		schedule_flush(w);
	}
}

/* A queue record naming one item id. */
static void
log_item(struct worker *w, const struct object *o, enum rec_type type,
    uint64_t id)
{
	if (w->store != NULL) {
		rec_item(&w->store->pend, o, type, id);
		schedule_flush(w);
	}
}

void
store_q_take(struct worker *w, const struct object *o, const struct qitem *it)
{
	log_item(w, o, R_Q_TAKE, it->id);
}

void
store_q_done(struct worker *w, const struct object *o, uint64_t id)
{
	log_item(w, o, R_Q_DONE, id);
}

void
store_q_back(struct worker *w, const struct object *o, uint64_t id)
{
	log_item(w, o, R_Q_BACK, id);
}

void
store_d_set(struct worker *w, const struct object *o, const char *key,
    size_t klen, const void *val, size_t vlen)
{
	if (w->store != NULL) {
		rec_d_set(&w->store->pend, o, key, klen, val, vlen);
		schedule_flush(w);
	}
}

void
store_d_del(struct worker *w, const struct object *o, const char *key,
    size_t klen)
{
	msgpack_packer	pk;
	size_t		at;

	if (w->store == NULL)
		return;
	at = rec_begin(&w->store->pend, &pk, 2, R_D_DEL);
	pack_name(&pk, o);
	pack_str(&pk, key, klen);
	rec_end(&w->store->pend, at);
	schedule_flush(w);
}

void
store_s_set(struct worker *w, const struct object *o, long base)
{
	if (w->store != NULL) {
		rec_s_set(&w->store->pend, o, base);
		schedule_flush(w);
	}
}

void
store_e_set(struct worker *w, const struct object *o)
{
	if (w->store != NULL) {
		rec_flag(&w->store->pend, o, R_E_SET, o->u.event.set);
		schedule_flush(w);
	}
}

void
store_l_open(struct worker *w, const struct object *o)
{
	if (w->store != NULL) {
		rec_flag(&w->store->pend, o, R_L_OPEN, o->u.lock.recursive);
		schedule_flush(w);
	}
}

void
store_b_open(struct worker *w, const struct object *o)
{
	if (w->store != NULL) {
		rec_b_open(&w->store->pend, o);
		schedule_flush(w);
	}
}

void
store_delete(struct worker *w, const struct object *o)
{
	msgpack_packer	pk;
	size_t		at;

	if (w->store == NULL)
		return;
	at = rec_begin(&w->store->pend, &pk, 1, R_DELETE);
	pack_name(&pk, o);
	rec_end(&w->store->pend, at);
	schedule_flush(w);
}

void
store_tokens(struct worker *w)
{
	struct store	*st = w->store;

	if (st == NULL || w->tokens < st->token_reserved)
		return;
	st->token_reserved = w->tokens + TOKEN_CHUNK;
	rec_tokens(&st->pend, st->token_reserved);
	schedule_flush(w);
}
