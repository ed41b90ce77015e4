/* obj_cond.h: Condition as a pure state machine: its own (recursive) lock
 * and a FIFO of waiters that must re-acquire the lock before returning. */
#ifndef OBJ_COND_H
#define OBJ_COND_H

#include "obj_lock.h"
#include "waitq.h"

struct cond {
	struct lock	lock;		/* the condition's lock (an RLock) */
	struct waitq	waiters;	/* in wait(), not yet notified */
};

void	cond_init(struct cond *c);
/* wait(): sess must hold the lock (else QLOCK_ENOTOWNER); releases it
 * fully and parks w (op WOP_COND_WAIT) remembering the depth. */
int	cond_wait(struct cond *c, uint64_t sess, struct waiter *w,
	    uint64_t *clock, struct waitlist *woken);
/* notify(n): sess must hold the lock; moves up to n waiters (oldest
 * first) to the lock's queue with outcome OK.  Returns how many. */
int	cond_notify(struct cond *c, uint64_t sess, uint32_t n, uint32_t *moved);
/* A waiter's time ran out (or it was otherwise released with outcome):
 * it now waits for the lock, and gets it at once if it is free. */
void	cond_requeue(struct cond *c, struct waiter *w, int outcome,
	    uint64_t *clock, struct waitlist *woken);

#endif
