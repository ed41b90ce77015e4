/* obj_cond.h: Condition as a pure state machine: a FIFO of waiters that
 * must re-acquire a lock before returning; the lock is the condition's own
 * (recursive) one, or an existing Lock's or RLock's (Python's
 * Condition(lock)), passed in as l. */
#ifndef OBJ_COND_H
#define OBJ_COND_H

#include "obj_lock.h"
#include "waitq.h"

struct cond {
	struct lock	lock;		/* the condition's own lock (an RLock) */
	struct waitq	waiters;	/* in wait(), not yet notified */
};

void	cond_init(struct cond *c);
/* wait(): sess must hold the lock (else QLOCK_ENOTOWNER); releases it
 * fully and parks w (op WOP_COND_WAIT) remembering the depth. */
int	cond_wait(struct cond *c, struct lock *l, uint64_t sess, struct waiter *w,
	    uint64_t *clock, struct waitlist *woken);
/* notify(n): sess must hold the lock; moves up to n waiters (oldest
 * first) to the lock's queue with outcome OK.  Returns how many. */
int	cond_notify(struct cond *c, struct lock *l, uint64_t sess, uint32_t n,
	    uint32_t *moved);
/* A waiter's time ran out (or it was otherwise released with outcome):
 * it now waits for the lock, and gets it at once if it is free. */
void	cond_requeue(struct lock *l, struct waiter *w, int outcome,
	    uint64_t *clock, struct waitlist *woken);

#endif
