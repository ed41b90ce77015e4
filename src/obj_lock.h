/* obj_lock.h: Lock and RLock as a pure state machine: an owner session,
 * a recursion depth, FIFO hand-off, and fencing tokens. */
#ifndef OBJ_LOCK_H
#define OBJ_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "waitq.h"

struct lock {
	bool		recursive;	/* RLock: the owner may re-acquire */
	uint64_t	owner;		/* owning session id; 0: free */
	uint32_t	depth;		/* acquisitions by the owner */
	uint64_t	token;		/* fencing token of the current grant */
	struct waitq	waiters;	/* parked acquirers, oldest first */
};

#define LOCK_WAIT 1	/* held by another: park a waiter */

void	lock_init(struct lock *l, bool recursive);
/* Acquire for session sess; a grant takes the next token from *clock.
 * A non-recursive lock re-acquired by its owner waits (as Python's Lock
 * deadlocks), so a timeout is the way out. */
int	lock_acquire(struct lock *l, uint64_t sess, uint64_t *clock);
void	lock_park(struct lock *l, struct waiter *w, uint32_t depth);
/* Release once; QLOCK_ENOTOWNER if sess does not hold it.  At depth 0
 * the lock goes straight to the oldest waiter (woken, token in value). */
int	lock_release(struct lock *l, uint64_t sess, uint64_t *clock,
	    struct waitlist *woken);
/* Release every level held by sess (its session ended); returns the
 * depth it held. */
uint32_t lock_release_all(struct lock *l, uint64_t sess, uint64_t *clock,
	    struct waitlist *woken);
bool	lock_busy(const struct lock *l);
/* The lock is free and a waiter came back from away (a failover's
 * place): grant it to the oldest waiter not away; true if granted. */
bool	lock_pump(struct lock *l, uint64_t *clock, struct waitlist *woken);

#endif
