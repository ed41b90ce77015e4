/* qpack.h: a queue's items packed in blocks of a few KB (length-prefixed
 * entries, ids delta-coded), FIFO, with put-back items at the head. */
#ifndef QPACK_H
#define QPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

/* One item outside the blocks (put back, parked, handed or taken): its
 * msgpack bytes exactly as the client sent them. */
struct qitem {
	TAILQ_ENTRY(qitem) link;	/* in a qpack's front, or a session's
					   taken list */
	uint64_t	id;		/* unique within its queue (for the log) */
	size_t		len;
	uint8_t		data[];
};
TAILQ_HEAD(qitemlist, qitem);

/* A look at one item, valid until its qpack changes: the item's msgpack
 * bytes are hdr (a str/bin header the block folded away) then body. */
struct qref {
	uint64_t	 id;
	const uint8_t	*body;
	size_t		 bodylen;
	uint8_t		 hdr[5];
	uint8_t		 hdrlen;
};

struct qblock;
TAILQ_HEAD(qblocklist, qblock);

struct qpack {
	struct qitemlist  front;	/* put back: before every block */
	struct qblocklist blocks;	/* oldest first; take at the first */
	uint64_t	  tail_id;	/* id of the last entry appended */
	int64_t		  tail_step;	/* and its delta from the one before */
	uint32_t	  tail_last;	/* offset of that entry in the last
					   block */
};

/* A walk over a qpack, head to tail (qpack_iter_*). */
struct qiter {
	const struct qitem	*it;	/* next front item, or NULL */
	const struct qblock	*b;	/* then this block */
	uint32_t		 off;	/* at this offset */
	uint64_t		 id;	/* id of the entry before off */
	int64_t			 step;	/* its delta */
};

struct qitem	*qitem_new(const void *data, size_t len);
struct qitem	*qitem_of_ref(const struct qref *r);
void		 qitem_free(struct qitem *it);
void		 qref_of_item(const struct qitem *it, struct qref *r);
void		 qref_of_bytes(uint64_t id, const void *data, size_t len,
		    struct qref *r);
size_t		 qref_len(const struct qref *r);

void	 qpack_init(struct qpack *p);
void	 qpack_clear(struct qpack *p);
/* Append a copy of len bytes of msgpack at the tail. */
void	 qpack_push(struct qpack *p, uint64_t id, const void *data, size_t len);
/* Put an item (now the qpack's) at the head. */
void	 qpack_push_front(struct qpack *p, struct qitem *it);
/* The head item, or false if empty; qpack_pop drops it. */
bool	 qpack_head(const struct qpack *p, struct qref *r);
void	 qpack_pop(struct qpack *p);
/* The tail item, or false if empty. */
bool	 qpack_last(const struct qpack *p, struct qref *r);
/* Take out the item with this id wherever it is (the head is quick), as
 * a qitem of its own; NULL if there is none. */
struct qitem *qpack_remove(struct qpack *p, uint64_t id);

/* Bytes allocated for the blocks and the front items (malloc's own
 * overhead not counted). */
size_t	 qpack_footprint(const struct qpack *p);

void	 qpack_iter_init(const struct qpack *p, struct qiter *i);
bool	 qpack_iter_next(struct qiter *i, struct qref *r);

#endif
