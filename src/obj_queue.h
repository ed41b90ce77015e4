/* obj_queue.h: Queue and JoinableQueue as a pure state machine (no I/O,
 * no clock): operations return a result now or ask the caller to park. */
#ifndef OBJ_QUEUE_H
#define OBJ_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "qpack.h"
#include "waitq.h"

struct queue {
	long		 maxsize;	/* <= 0: unbounded, as Python */
	bool		 joinable;	/* JoinableQueue: counts unfinished tasks */
	struct qpack	 items;		/* FIFO of items, packed */
	size_t		 count;		/* items in it */
	size_t		 bytes;		/* their total size (msgpack bytes) */
	uint64_t	 unfinished;	/* joinable: put and not task_done */
	struct waitq	 getters;	/* parked get, oldest first */
	struct waitq	 putters;	/* parked put (full), oldest first */
	struct waitq	 joiners;	/* parked join */
};

#define QUEUE_WAIT 1	/* operation cannot complete now: park a waiter */

void	 queue_init(struct queue *q, long maxsize, bool joinable);
/* Free the items; waiters must have been taken off first. */
void	 queue_clear(struct queue *q);
/* Parked waiters, items or unfinished tasks: the queue holds state. */
bool	 queue_busy(const struct queue *q);

/* Put: hands it to the oldest getter, or appends it; QUEUE_WAIT when full
 * (then the caller parks a waiter holding it with queue_park_put). */
int	 queue_put(struct queue *q, struct qitem *it, struct waitlist *woken);
/* The same for len bytes of msgpack (copied) with this id: a getter is
 * handed a qitem of them; QUEUE_WAIT when full (nothing kept). */
int	 queue_put_bytes(struct queue *q, uint64_t id, const void *data,
	    size_t len, struct waitlist *woken);
/* Get: the head item as a qitem of its own (a parked putter then takes
 * the freed room), or QUEUE_WAIT when empty. */
int	 queue_get(struct queue *q, struct qitem **it, struct waitlist *woken);
/* Get in two steps, copying nothing: look at the head item (QUEUE_WAIT
 * when empty), then drop it, which may admit a parked putter. */
int	 queue_peek(const struct queue *q, struct qref *r);
void	 queue_pop(struct queue *q, struct waitlist *woken);
/* The tail item (false if empty), e.g. the putter queue_pop admitted. */
bool	 queue_last(const struct queue *q, struct qref *r);
/* Replay: append at the tail, past any bound, handing to no one. */
void	 queue_push(struct queue *q, uint64_t id, const void *data,
	    size_t len);
/* Replay: take out the item with this id (NULL if none) as a qitem. */
struct qitem *queue_remove(struct queue *q, uint64_t id);
void	 queue_park_get(struct queue *q, struct waiter *w);
/* The head item to the oldest getter not away, if both: true (a getter
 * came back from away; a parked putter may take the room). */
bool	 queue_pump(struct queue *q, struct waitlist *woken);
void	 queue_park_put(struct queue *q, struct waiter *w, struct qitem *it);
/* The oldest putter not away puts its item in, if there is room: true (a
 * putter came back from away). */
bool	 queue_pump_put(struct queue *q, struct waitlist *woken);
/* Put an item back at the head (an unfinished joinable item whose taker
 * went away); it goes to a parked getter first. Does not count a task. */
void	 queue_putback(struct queue *q, struct qitem *it, struct waitlist *woken);
/* One task done; QLOCK_EVALUE if none is unfinished. Wakes joiners at 0. */
int	 queue_task_done(struct queue *q, struct waitlist *woken);
/* 0 if no task is unfinished, else QUEUE_WAIT (park on q->joiners). */
int	 queue_join(struct queue *q);
void	 queue_park_join(struct queue *q, struct waiter *w);

#endif
