/* obj_barrier.h: Barrier as a pure state machine: parties arrive, the
 * last one releases them all; a timeout, an abort or a lost party breaks
 * it until reset. */
#ifndef OBJ_BARRIER_H
#define OBJ_BARRIER_H

#include <stdbool.h>
#include <stdint.h>

#include "waitq.h"

struct barrier {
	uint32_t	parties;	/* parties needed to pass */
	uint32_t	count;		/* parties waiting now */
	bool		broken;		/* waits fail until reset */
	struct waitq	waiters;	/* the waiting parties */
};

#define BARRIER_WAIT 1	/* not all here: park a waiter (value = index) */

void	barrier_init(struct barrier *b, uint32_t parties);
/* Arrive: *index is 0..parties-1 in arrival order.  The last party returns 0
 * and every parked one is woken; others get BARRIER_WAIT.
 * QLOCK_EBROKEN while broken. */
int	barrier_wait(struct barrier *b, uint32_t *index, struct waitlist *woken);
/* Break it: every waiting party gets QLOCK_EBROKEN (abort, timeout, a
 * party lost). */
void	barrier_break(struct barrier *b, struct waitlist *woken);
/* Back to the initial state; waiting parties get QLOCK_EBROKEN. */
void	barrier_reset(struct barrier *b, struct waitlist *woken);

#endif
