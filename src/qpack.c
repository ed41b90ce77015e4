/*
 * qpack.c: a queue's items packed in blocks, as Redis's quicklist packs a
 * list: no allocation per item.  Append at the last block, take from the
 * first, free a block once consumed.  A block holds entries back to back:
 *
 *   [lead] [len: varint] [delta: zigzag varint] [body]
 *
 *   lead < 0x80:  a msgpack bin of lead bytes, its header folded away; no
 *                 len, no delta: the id is the previous entry's plus the
 *                 previous entry's step (its id minus the one before it);
 *   lead >= 0x80: bits 1-2 the kind (QK_RAW: body is the item's msgpack
 *                 bytes; QK_STR / QK_BIN: a str / bin whose minimal header
 *                 was folded away), bit 0 set if a delta follows (the new
 *                 step), else the step is the previous one.
 *
 * Ids are consecutive in put order when one queue is busy (step 1), 0
 * without --data-dir (step 0): then a 100-byte bin costs 101 bytes.  A block
 * keeps the id and step of the entry before its first, so each block reads
 * alone.  Items put back at the head (a dead taker's unfinished joinable
 * item) keep their own allocation in a list before the blocks.  This format
 * lives in memory only: nothing on disk or on the wire depends on it.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "qpack.h"
#include "util.h"

#define QK_RAW		0
#define QK_STR		1
#define QK_BIN		2

#define ENTRY_HEAD_MAX	21	/* lead, a 10-byte len, a 10-byte delta */

struct qblock {
	TAILQ_ENTRY(qblock) link;
	uint32_t	size;		/* bytes of data */
	uint32_t	head;		/* offset of the first entry */
	uint32_t	end;		/* end of the last entry */
	uint64_t	base_id;	/* id of the entry before the first */
	int64_t		base_step;	/* and its step */
	uint8_t		data[];
};

/* Block sizes: a full block is one 16 KB malloc chunk (glibc adds 16
 * bytes); the first grows from QBLOCK_MIN by doubling, so a short queue
 * costs little; an emptied only block of at most QBLOCK_KEEP stays for
 * the next put (a put/get ping-pong allocates nothing). */
#define QBLOCK_ALLOC	(16384 - 16)
#define QBLOCK_DATA	((uint32_t)(QBLOCK_ALLOC - sizeof(struct qblock)))
#define QBLOCK_MIN	128
#define QBLOCK_KEEP	256

static size_t
varint_put(uint8_t *p, uint64_t v)
{
	size_t	n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static size_t
varint_get(const uint8_t *p, uint64_t *v)
{
	size_t		n = 0;
	unsigned	shift = 0;

	*v = 0;
	do {
		*v |= (uint64_t)(p[n] & 0x7f) << shift;
		shift += 7;
	} while (p[n++] & 0x80);
	return n;
}

/* The kind of a msgpack item whose header can be folded away (its
 * minimal str/bin header, as hdr_make writes it back), with the header's
 * length; QK_RAW otherwise. */
static unsigned
fold(const uint8_t *p, size_t len, size_t *hl)
{
	size_t		n;
	unsigned	kind;

	*hl = 0;
	if (len == 0)
		return QK_RAW;
	if ((p[0] & 0xe0) == 0xa0) {
		*hl = 1;
		return len == 1 + (size_t)(p[0] & 0x1f) ? QK_STR : QK_RAW;
	}
	switch (p[0]) {
	case 0xc4: *hl = 2; kind = QK_BIN; break;
	case 0xc5: *hl = 3; kind = QK_BIN; break;
	case 0xc6: *hl = 5; kind = QK_BIN; break;
	case 0xd9: *hl = 2; kind = QK_STR; break;
	case 0xda: *hl = 3; kind = QK_STR; break;
	case 0xdb: *hl = 5; kind = QK_STR; break;
	default:
		return QK_RAW;
	}
	if (len < *hl)
		return QK_RAW;
	n = *hl == 2 ? p[1] : *hl == 3 ? (size_t)p[1] << 8 | p[2] :
	    (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
	/* Minimal: the header hdr_make would write for n bytes. */
	if (len != *hl + n || (*hl == 3 && n < 256) || (*hl == 5 && n < 65536) ||
	    (kind == QK_STR && *hl == 2 && n < 32))
		return QK_RAW;
	return kind;
}

/* The minimal msgpack header of a str/bin of n bytes into r. */
static void
hdr_make(unsigned kind, size_t n, struct qref *r)
{
	uint8_t	*h = r->hdr;

	r->hdrlen = 0;
	if (kind == QK_RAW)
		return;
	if (kind == QK_STR && n < 32) {
		h[0] = 0xa0 | (uint8_t)n;
		r->hdrlen = 1;
		return;
	}
	if (n < 256) {
		h[0] = kind == QK_STR ? 0xd9 : 0xc4;
		h[1] = (uint8_t)n;
		r->hdrlen = 2;
	} else if (n < 65536) {
		h[0] = kind == QK_STR ? 0xda : 0xc5;
		h[1] = (uint8_t)(n >> 8);
		h[2] = (uint8_t)n;
		r->hdrlen = 3;
	} else {
		h[0] = kind == QK_STR ? 0xdb : 0xc6;
		h[1] = (uint8_t)(n >> 24);
		h[2] = (uint8_t)(n >> 16);
		h[3] = (uint8_t)(n >> 8);
		h[4] = (uint8_t)n;
		r->hdrlen = 5;
	}
}

/* Write an entry's head; its length. */
static size_t
entry_head(uint8_t *p, unsigned kind, size_t bodylen, bool delta,
    int64_t step)
{
	size_t	n = 1;

	if (kind == QK_BIN && bodylen < 0x80 && !delta) {
		p[0] = (uint8_t)bodylen;
		return 1;
	}
	p[0] = 0x80 | (uint8_t)(kind << 1) | (delta ? 1 : 0);
	n += varint_put(p + n, bodylen);
	if (delta)
		n += varint_put(p + n, ((uint64_t)step << 1) ^
		    (uint64_t)(step >> 63));
	return n;
}

/* Read the entry at off, after one of id prev and step *step: the item
 * into r, its step into *step; the offset after it. */
static uint32_t
entry_read(const struct qblock *b, uint32_t off, uint64_t prev,
    int64_t *step, struct qref *r)
{
	const uint8_t	*p = b->data + off;
	uint64_t	 len, z;
	unsigned	 kind = QK_BIN;
	size_t		 n = 1;

	if (p[0] < 0x80)
		len = p[0];
	else {
		kind = (p[0] >> 1) & 3;
		n += varint_get(p + n, &len);
		if (p[0] & 1) {
			n += varint_get(p + n, &z);
			*step = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
		}
	}
	r->id = prev + (uint64_t)*step;
	r->body = p + n;
	r->bodylen = len;
	hdr_make(kind, len, r);
	return off + (uint32_t)(n + len);
}

/* Append an item at the end of b, after one of id *prev and step *step. */
static void
entry_append(struct qblock *b, const struct qref *r, uint64_t *prev,
    int64_t *step)
{
	int64_t		 delta = (int64_t)(r->id - *prev);
	size_t		 n;

	n = entry_head(b->data + b->end, r->hdrlen == 0 ? QK_RAW :
	    r->hdr[0] == 0xc4 || r->hdr[0] == 0xc5 || r->hdr[0] == 0xc6 ?
	    QK_BIN : QK_STR, r->bodylen, delta != *step, delta);
	memcpy(b->data + b->end + n, r->body, r->bodylen);
	b->end += (uint32_t)(n + r->bodylen);
	*prev = r->id;
	*step = delta;
}

/* A new block of size bytes, reading on from (id, step). */
static struct qblock *
block_new(uint32_t size, uint64_t id, int64_t step)
{
	struct qblock	*b = xmalloc(sizeof(*b) + size);

	b->size = size;
	b->head = b->end = 0;
	b->base_id = id;
	b->base_step = step;
	return b;
}

/* The last block, with room for need more bytes at its end. */
static struct qblock *
block_room(struct qpack *p, size_t need)
{
	struct qblock	*b = TAILQ_LAST(&p->blocks, qblocklist);
	size_t		 size;

	if (b != NULL && need <= b->size - b->end)
		return b;
	if (b != NULL && b->head >= b->size / 2 &&
	    b->end - b->head + need <= b->size) {
		/* Half of it consumed: move the rest down (amortised). */
		memmove(b->data, b->data + b->head, b->end - b->head);
		b->end -= b->head;
		p->tail_last -= b->head;
		b->head = 0;
		return b;
	}
	if (b != NULL && b->size < QBLOCK_DATA && b->end + need <= QBLOCK_DATA) {
		size = (size_t)b->size * 2;
		if (size < b->end + need)
			size = b->end + need;
		if (size > QBLOCK_DATA)
			size = QBLOCK_DATA;
		TAILQ_REMOVE(&p->blocks, b, link);
		b = xrealloc(b, sizeof(*b) + size);
		b->size = (uint32_t)size;
		TAILQ_INSERT_TAIL(&p->blocks, b, link);
		return b;
	}
	if (need > QBLOCK_DATA)
		size = need;			/* a big item: a block alone */
	else if (b != NULL && b->size >= QBLOCK_DATA)
		size = QBLOCK_DATA;		/* a long queue: full blocks */
	else
		size = need > QBLOCK_MIN ? need : QBLOCK_MIN;
	if (size > UINT32_MAX)
		fatalx("qpack: item of %zu bytes", need);
	b = block_new((uint32_t)size, p->tail_id, p->tail_step);
	TAILQ_INSERT_TAIL(&p->blocks, b, link);
	return b;
}

/* Find the last entry of the last block again (after it changed). */
static void
tail_recompute(struct qpack *p)
{
	struct qblock	*b = TAILQ_LAST(&p->blocks, qblocklist);
	struct qref	 r;
	uint32_t	 off;

	if (b == NULL)
		return;
	p->tail_id = b->base_id;
	p->tail_step = b->base_step;
	p->tail_last = b->head;
	for (off = b->head; off < b->end; ) {
		p->tail_last = off;
		off = entry_read(b, off, p->tail_id, &p->tail_step, &r);
		p->tail_id = r.id;
	}
}

/* An emptied block goes, unless it is the only one and small. */
static void
block_emptied(struct qpack *p, struct qblock *b)
{
	if (TAILQ_NEXT(b, link) == NULL && TAILQ_PREV(b, qblocklist, link) ==
	    NULL && b->size <= QBLOCK_KEEP) {
		b->head = b->end = 0;
		b->base_id = p->tail_id;
		b->base_step = p->tail_step;
		return;
	}
	TAILQ_REMOVE(&p->blocks, b, link);
	free(b);
}

struct qitem *
qitem_new(const void *data, size_t len)
{
	struct qitem	*it = xmalloc(sizeof(*it) + len);

	it->id = 0;
	it->len = len;
	memcpy(it->data, data, len);
	return it;
}

struct qitem *
qitem_of_ref(const struct qref *r)
{
	struct qitem	*it = xmalloc(sizeof(*it) + qref_len(r));

	it->id = r->id;
	it->len = qref_len(r);
	memcpy(it->data, r->hdr, r->hdrlen);
	memcpy(it->data + r->hdrlen, r->body, r->bodylen);
	return it;
}

void
qitem_free(struct qitem *it)
{
	free(it);
}

void
qref_of_item(const struct qitem *it, struct qref *r)
{
	qref_of_bytes(it->id, it->data, it->len, r);
}

void
qref_of_bytes(uint64_t id, const void *data, size_t len, struct qref *r)
{
	r->id = id;
	r->body = data;
	r->bodylen = len;
	r->hdrlen = 0;
}

size_t
qref_len(const struct qref *r)
{
	return r->hdrlen + r->bodylen;
}

void
qpack_init(struct qpack *p)
{
	memset(p, 0, sizeof(*p));
	TAILQ_INIT(&p->front);
	TAILQ_INIT(&p->blocks);
}

void
qpack_clear(struct qpack *p)
{
	struct qitem	*it;
	struct qblock	*b;

	while ((it = TAILQ_FIRST(&p->front)) != NULL) {
		TAILQ_REMOVE(&p->front, it, link);
		qitem_free(it);
	}
	while ((b = TAILQ_FIRST(&p->blocks)) != NULL) {
		TAILQ_REMOVE(&p->blocks, b, link);
		free(b);
	}
	qpack_init(p);
}

void
qpack_push(struct qpack *p, uint64_t id, const void *data, size_t len)
{
	struct qblock	*b;
	uint8_t		 head[ENTRY_HEAD_MAX];
	const uint8_t	*raw = data;
	int64_t		 delta = (int64_t)(id - p->tail_id);
	size_t		 hl, n;
	unsigned	 kind;

	kind = fold(raw, len, &hl);
	if (kind == QK_RAW)
		hl = 0;
	n = entry_head(head, kind, len - hl, delta != p->tail_step, delta);
	b = block_room(p, n + len - hl);
	memcpy(b->data + b->end, head, n);
	memcpy(b->data + b->end + n, raw + hl, len - hl);
	p->tail_last = b->end;
	b->end += (uint32_t)(n + len - hl);
	p->tail_id = id;
	p->tail_step = delta;
}

void
qpack_push_front(struct qpack *p, struct qitem *it)
{
	TAILQ_INSERT_HEAD(&p->front, it, link);
}

bool
qpack_head(const struct qpack *p, struct qref *r)
{
	struct qblock	*b;
	int64_t		 step;

	if (!TAILQ_EMPTY(&p->front)) {
		qref_of_item(TAILQ_FIRST(&p->front), r);
		return true;
	}
	if ((b = TAILQ_FIRST(&p->blocks)) == NULL || b->head == b->end)
		return false;
	step = b->base_step;
	(void)entry_read(b, b->head, b->base_id, &step, r);
	return true;
}

/* Drop the first block's first entry (the block has one). */
static void
block_pop(struct qpack *p, struct qblock *b)
{
	struct qref	r;

	b->head = entry_read(b, b->head, b->base_id, &b->base_step, &r);
	b->base_id = r.id;
	if (b->head == b->end)
		block_emptied(p, b);
}

void
qpack_pop(struct qpack *p)
{
	struct qitem	*it;
	struct qblock	*b;

	if ((it = TAILQ_FIRST(&p->front)) != NULL) {
		TAILQ_REMOVE(&p->front, it, link);
		qitem_free(it);
		return;
	}
	if ((b = TAILQ_FIRST(&p->blocks)) != NULL && b->head < b->end)
		block_pop(p, b);
}

bool
qpack_last(const struct qpack *p, struct qref *r)
{
	struct qblock	*b = TAILQ_LAST(&p->blocks, qblocklist);
	int64_t		 step = p->tail_step;

	if (b != NULL && b->head < b->end) {
		/* Read from the entry before: the step ends at tail_step. */
		(void)entry_read(b, p->tail_last, p->tail_id -
		    (uint64_t)p->tail_step, &step, r);
		return true;
	}
	if (TAILQ_EMPTY(&p->front))
		return false;
	qref_of_item(TAILQ_LAST(&p->front, qitemlist), r);
	return true;
}

/* Take the entry at off out of b: b is encoded again without it (the next
 * entry's delta may change).  The item, as a qitem of its own. */
static struct qitem *
block_cut(struct qpack *p, struct qblock *b, uint32_t at)
{
	struct qblock	*nb;
	struct qitem	*it = NULL;
	struct qref	 r;
	uint64_t	 id = b->base_id, nid = b->base_id;
	int64_t		 step = b->base_step, nstep = b->base_step;
	uint32_t	 off, next;
	bool		 last = TAILQ_NEXT(b, link) == NULL;

	/* The two entries after it may each need a delta now. */
	nb = block_new(b->end - b->head + 2 * ENTRY_HEAD_MAX, b->base_id,
	    b->base_step);
	for (off = b->head; off < b->end; off = next) {
		next = entry_read(b, off, id, &step, &r);
		id = r.id;
		if (off == at)
			it = qitem_of_ref(&r);
		else
			entry_append(nb, &r, &nid, &nstep);
	}
	TAILQ_INSERT_BEFORE(b, nb, link);
	TAILQ_REMOVE(&p->blocks, b, link);
	free(b);
	if (last)
		tail_recompute(p);
	if (nb->head == nb->end) {
		block_emptied(p, nb);
		tail_recompute(p);
	}
	return it;
}

struct qitem *
qpack_remove(struct qpack *p, uint64_t id)
{
	struct qitem	*it;
	struct qblock	*b;
	struct qref	 r;
	uint64_t	 prev;
	int64_t		 step;
	uint32_t	 off, next;

	TAILQ_FOREACH(it, &p->front, link) {
		if (it->id == id) {
			TAILQ_REMOVE(&p->front, it, link);
			return it;
		}
	}
	TAILQ_FOREACH(b, &p->blocks, link) {
		prev = b->base_id;
		step = b->base_step;
		for (off = b->head; off < b->end; off = next) {
			next = entry_read(b, off, prev, &step, &r);
			if (r.id != id) {
				prev = r.id;
				continue;
			}
			/* The blocks' head, as replay's takes are: quick. */
			if (b == TAILQ_FIRST(&p->blocks) && off == b->head) {
				it = qitem_of_ref(&r);
				block_pop(p, b);
				return it;
			}
			return block_cut(p, b, off);
		}
	}
	return NULL;
}

void
qpack_iter_init(const struct qpack *p, struct qiter *i)
{
	memset(i, 0, sizeof(*i));
	i->it = TAILQ_FIRST(&p->front);
	if ((i->b = TAILQ_FIRST(&p->blocks)) != NULL) {
		i->off = i->b->head;
		i->id = i->b->base_id;
		i->step = i->b->base_step;
	}
}

bool
qpack_iter_next(struct qiter *i, struct qref *r)
{
	if (i->it != NULL) {
		qref_of_item(i->it, r);
		i->it = TAILQ_NEXT(i->it, link);
		return true;
	}
	while (i->b != NULL && i->off >= i->b->end) {
		if ((i->b = TAILQ_NEXT(i->b, link)) != NULL) {
			i->off = i->b->head;
			i->id = i->b->base_id;
			i->step = i->b->base_step;
		}
	}
	if (i->b == NULL)
		return false;
	i->off = entry_read(i->b, i->off, i->id, &i->step, r);
	i->id = r->id;
	return true;
}

size_t
qpack_footprint(const struct qpack *p)
{
	const struct qitem	*it;
	const struct qblock	*b;
	size_t			 n = 0;

	TAILQ_FOREACH(it, &p->front, link)
		n += sizeof(*it) + it->len;
	TAILQ_FOREACH(b, &p->blocks, link)
		n += sizeof(*b) + b->size;
	return n;
}
