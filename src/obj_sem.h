/* obj_sem.h: Semaphore and BoundedSemaphore as a pure state machine. */
#ifndef OBJ_SEM_H
#define OBJ_SEM_H

#include <stdbool.h>

#include "waitq.h"

struct sem {
	long		value;		/* permits free now */
	long		initial;	/* value at open: the bound */
	bool		bounded;	/* BoundedSemaphore: never above initial */
	struct waitq	waiters;	/* parked acquirers, oldest first */
};

#define SEM_WAIT 1	/* no permit free: park a waiter */

void	qsem_init(struct sem *s, long value, bool bounded);
/* Take a permit, or SEM_WAIT (also while others wait: FIFO). */
int	sem_acquire(struct sem *s);
/* Give one back: to the oldest waiter, or to the count; QLOCK_EVALUE if a
 * bounded semaphore would go above its initial value. */
int	sem_release(struct sem *s, struct waitlist *woken);
/* Free permits to the oldest waiters not away (one came back from
 * away: a failover's place); how many were handed. */
int	sem_pump(struct sem *s, struct waitlist *woken);
/* The value once every one of the held permits is given back: what the log
 * keeps.  A bounded semaphore saturates at its initial value, as the
 * releases of a session that ends do. */
long	sem_durable(const struct sem *s, long held);

#endif
