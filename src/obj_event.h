/* obj_event.h: Event as a pure state machine: a flag and its waiters. */
#ifndef OBJ_EVENT_H
#define OBJ_EVENT_H

#include <stdbool.h>

#include "waitq.h"

struct qevent {
	bool		set;		/* the flag */
	struct waitq	waiters;	/* parked wait() calls */
};

#define QEVENT_WAIT 1	/* not set: park a waiter */

void	qevent_init(struct qevent *e);
/* Set the flag and wake every waiter. */
void	qevent_set(struct qevent *e, struct waitlist *woken);
void	qevent_clear(struct qevent *e);
/* 0 if set, else QEVENT_WAIT. */
int	qevent_wait(const struct qevent *e);

#endif
