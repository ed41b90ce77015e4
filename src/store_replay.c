/* store_replay.c: reading a shard's log back: check each record, apply it
 * to a registry, and tell a torn tail from damage. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "log.h"
#include "mp.h"
#include "store_int.h"
#include "util.h"

/*
 * The object called name of kind, created if absent.  A name met as
 * another kind was freed in between when it became idle (logs written
 * before such frees logged a delete say nothing of it): if the object is
 * idle here too it is freed and made anew.  NULL if it is not (an opened
 * or busy object changes kind only through a delete: damage).
 */
struct object *
replay_object(struct replay *rp, const char *name, uint32_t len,
    enum obj_kind kind)
{
	struct object	*o = registry_find(rp->reg, name, len);

	if (o != NULL && o->kind != kind) {
		if (!o->opened)
			replay_forget(rp, o);	/* freed by the gc below */
		registry_gc(rp->reg, o);
		o = registry_find(rp->reg, name, len);
	}
	if (o == NULL)
		o = registry_add(rp->reg, name, len, kind);
	if (o->kind != kind)
		return NULL;
	o->logged = true;
	return o;
}

struct taken *
replay_taken_find(struct replay *rp, struct object *o, uint64_t id)
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
int
replay_record(struct replay *rp, const uint8_t *p, size_t len)
{
	struct mp_reader r;
	struct object	*o;
	struct qitem	*it;
	struct taken	*t;
	struct waitlist	 woken;
	uint32_t	 n, namelen;
	uint64_t	 type, id;
	int64_t		 a, b, c;
	bool		 flag;
	const char	*name;
	const uint8_t	*raw, *kraw;
	size_t		 rawlen, krawlen;

	TAILQ_INIT(&woken);
	mp_reader_init(&r, p, len);
	if (mp_check(p, len) == -1 || mp_read_array(&r, &n) == -1 || n < 1 ||
	    mp_read_uint(&r, &type) == -1)
		return -1;
	if (type == R_H_REPLY)
		return replay_reply(rp, &r);
	if (type == R_H_BIND)
		return replay_bind(rp, &r);
	if (type == R_TOKENS)
		return mp_read_uint(&r, &id) == -1 ? -1 :
		    (rp->tokens = id > rp->tokens ? id : rp->tokens, 0);
	if (mp_read_str(&r, &name, &namelen) == -1 || namelen == 0)
		return -1;
	if (type >= R_H_LOCK && type <= R_H_ITEM)
		return replay_hold(rp, type, name, namelen, &r);
	if (type == R_H_WAIT || type == R_H_UNWAIT)
		return replay_wait(rp, type, name, namelen, &r);
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
		if (id > rp->max_item)
			rp->max_item = id;
		/* Replay never waits: the bound was checked when it happened. */
		queue_push(&o->u.queue, id, raw, rawlen);
		if (o->u.queue.joinable)
			o->u.queue.unfinished++;
		return 0;
	case R_Q_TAKE:
		if ((o = replay_object(rp, name, namelen, OBJ_QUEUE)) == NULL ||
		    mp_read_uint(&r, &id) == -1)
			return -1;
		/* The head, unless the log interleaved a hand-off. */
		if ((it = queue_remove(&o->u.queue, id)) == NULL)
			return -1;
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
		if ((t = replay_taken_find(rp, o, id)) == NULL)
			return -1;
		hmap_remove(&rp->taken, &t->node);
		if (type == R_Q_DONE) {
			qitem_free(t->it);
			(void)queue_task_done(&o->u.queue, &woken);
		} else
			queue_putback(&o->u.queue, t->it, &woken);
		free(t);
		return 0;
	case R_Q_UNFIN:
		if ((o = replay_object(rp, name, namelen, OBJ_QUEUE)) == NULL ||
		    !o->u.queue.joinable || mp_read_uint(&r, &id) == -1)
			return -1;
		o->u.queue.unfinished = id;
		return 0;
	case R_D_SET:
		if ((o = replay_object(rp, name, namelen, OBJ_DICT)) == NULL ||
		    mp_skip(&r, &kraw, &krawlen) == -1 ||
		    !dict_key_ok(kraw, krawlen) ||
		    mp_skip(&r, &raw, &rawlen) == -1)
			return -1;
		/* A key is its msgpack bytes (a str key's are what logs
		 * written before other key types hold too). */
		dict_set(&o->u.dict, (const char *)kraw, krawlen, raw, rawlen);
		return 0;
	case R_D_DEL:
		if ((o = replay_object(rp, name, namelen, OBJ_DICT)) == NULL ||
		    mp_skip(&r, &kraw, &krawlen) == -1 ||
		    !dict_key_ok(kraw, krawlen))
			return -1;
		(void)dict_del(&o->u.dict, (const char *)kraw, krawlen);
		return 0;
	case R_S_SET:
		if ((o = replay_object(rp, name, namelen, OBJ_SEM)) == NULL ||
		    mp_read_int(&r, &a) == -1 || mp_read_bool(&r, &flag) == -1 ||
		    mp_read_int(&r, &b) == -1)
			return -1;
		if (a < 0 || b < 0)
			return -1;
		qsem_init(&o->u.sem, (long)a, flag);
		/* Saturated as the log keeps it now: logs written before
		 * sem_durable() could hold the bound + 1 after a release by a
		 * session that held no permit. */
		o->u.sem.value = (long)b;
		o->u.sem.value = sem_durable(&o->u.sem, 0);
		o->opened = true;
		return 0;
	case R_E_SET:
		if ((o = replay_object(rp, name, namelen, OBJ_EVENT)) == NULL ||
		    mp_read_bool(&r, &flag) == -1)
			return -1;
		o->u.event.set = flag;
		return 0;
	case R_KEEP:
		if ((o = registry_find(rp->reg, name, namelen)) == NULL ||
		    (o->kind != OBJ_LOCK && o->kind != OBJ_SEM &&
		    o->kind != OBJ_QUEUE) || mp_read_bool(&r, &flag) == -1)
			return -1;
		o->keep = flag;
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
			replay_forget(rp, o);
			registry_del(rp->reg, o);
		}
		replay_waits_drop(rp, name, namelen, 0);
		return 0;
	}
	return -1;
}

/* Order taken items by id, lowest first. */
int
replay_taken_cmp(const void *a, const void *b)
{
	const struct taken *x = *(struct taken *const *)a;
	const struct taken *y = *(struct taken *const *)b;

	return x->key.id < y->key.id ? -1 : x->key.id > y->key.id;
}

void
replay_init(struct replay *rp, struct registry *reg)
{
	memset(rp, 0, sizeof(*rp));
	rp->reg = reg;
	hmap_init(&rp->taken);
	hmap_init(&rp->holds);
	hmap_init(&rp->replies);
	hmap_init(&rp->waitkeys);
	TAILQ_INIT(&rp->waits);
}

/* End of replay: unfinished joinable items go back to the head of their
 * queues, oldest first (their takers' sessions are gone). */
void
replay_finish(struct replay *rp)
{
	replay_putback(rp, true);
	hmap_free(&rp->taken);
	replay_holds_free(rp);
	replay_replies_free(rp);
	replay_waits_free(rp);
}

/* Forget rp's taken items (their objects are being freed). */
void
replay_discard(struct replay *rp)
{
	struct hnode	*n;
	struct taken	*t;

	while ((n = hmap_first(&rp->taken)) != NULL) {
		t = hmap_entry(n, struct taken, node);
		hmap_remove(&rp->taken, n);
		qitem_free(t->it);
		free(t);
	}
	hmap_free(&rp->taken);
	replay_holds_free(rp);
	replay_replies_free(rp);
	replay_waits_free(rp);
}

/* The items of queue o that rp holds as taken and unfinished: fn on each,
 * by id (so that replicas write the same snapshot), and their count. */
uint64_t
replay_taken_each(const struct replay *rp, const struct object *o,
    void (*fn)(void *, const struct taken *), void *arg)
{
	struct hnode	 *n;
	struct taken	 *t, **v;
	uint64_t	  count = 0, i;

	if (rp == NULL || rp->taken.count == 0)
		return 0;
	v = xcalloc(rp->taken.count, sizeof(*v));
	for (n = hmap_first(&rp->taken); n != NULL;
	    n = hmap_next(&rp->taken, n)) {
		t = hmap_entry(n, struct taken, node);
		if (t->key.obj == o)
			v[count++] = t;
	}
	qsort(v, count, sizeof(*v), replay_taken_cmp);
	for (i = 0; fn != NULL && i < count; i++)
		fn(arg, v[i]);
	free(v);
	return count;
}

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
 * Is there a whole record at or after from?  Each offset is looked at once;
 * a candidate that fails its CRC costs its length, so the work is bounded
 * by a budget of a few times the file's size: past it, the answer is yes
 * (no proof that nothing valid follows, so the caller refuses).
 */
static bool
record_after(const uint8_t *p, size_t size, size_t from)
{
	uint64_t	budget = 4 * (uint64_t)size + (1u << 20);
	size_t		i;
	uint32_t	len;

	for (i = from; i + REC_HDR <= size; i++) {
		if (get_le32(p + i) != REC_MAGIC)
			continue;
		len = get_le32(p + i + 4);
		if (len == 0 || len > REC_MAX || size - i - REC_HDR < len)
			continue;
		if (record_at(p, size, i) != 0 || budget < len)
			return true;
		budget -= len;
	}
	return false;
}

/*
 * The log stops being whole records at off, before data_end (the end of
 * what is not zeros): a torn last record, or damage?  Only the last record
 * may be torn, so nothing valid may follow the bad one.  A torn record
 * whose header was written reaches at least to data_end, and what lies
 * inside it is its own payload, which may hold anything (a client's item
 * can be a copy of a log), so it is not searched.  But a payload is one
 * msgpack value of exactly the record's length: one that ends early, with
 * written bytes after it, is not a torn record but one whose length was
 * damaged.
 */
static enum scan_end
scan_tail(const uint8_t *p, size_t size, size_t off, size_t data_end)
{
	struct mp_reader r;
	const uint8_t	*raw;
	size_t		 reach, rawlen;
	uint32_t	 len;

	if (data_end - off >= REC_HDR && get_le32(p + off) == REC_MAGIC &&
	    (len = get_le32(p + off + 4)) != 0 && len <= REC_MAX &&
	    (reach = off + REC_HDR + len) >= data_end) {
		mp_reader_init(&r, p + off + REC_HDR,
		    (reach < size ? reach : size) - off - REC_HDR);
		if (mp_skip(&r, &raw, &rawlen) == 0 &&
		    off + REC_HDR + rawlen < data_end)
			return SCAN_DAMAGED;
		return SCAN_TORN;
	}
	return record_after(p, size, off + 1) ? SCAN_DAMAGED : SCAN_TORN;
}

/*
 * Walk the records of a mapped log, applying each to rp when it is set, in
 * one pass.  *end is the offset after the last whole record; *bad the
 * first bad one.
 */
enum scan_end
replay_scan(const uint8_t *p, size_t size, struct replay *rp, size_t *end,
    size_t *bad, const char *path)
{
	size_t		off = HDR_LEN, n, data_end;

	while (off < size && (n = record_at(p, size, off)) != 0) {
		if (rp != NULL &&
		    replay_record(rp, p + off + REC_HDR, n - REC_HDR) == -1) {
			*end = *bad = off;
			return SCAN_BADREC;
		}
		off += n;
	}
	*end = *bad = off;
	for (data_end = size; data_end > off && p[data_end - 1] == 0; data_end--)
		;
	if (data_end <= off)
		return SCAN_CLEAN;		/* allocated, never written */
	return scan_tail(p, size, off, data_end);
}

/* Map a log file read-only; *size 0 and NULL for an empty file. */
const uint8_t *
replay_map(int fd, size_t *size)
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
bool
replay_header_ok(const uint8_t *p, size_t size)
{
	return size >= HDR_LEN && memcmp(p, HDR_MAGIC, 8) == 0 &&
	    get_le32(p + 8) == STORE_VERSION;
}
