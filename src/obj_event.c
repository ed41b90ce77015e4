/* obj_event.c: the event flag. */
#include "qlock.h"
#include "obj_event.h"

void
qevent_init(struct qevent *e)
{
	e->set = false;
	waitq_init(&e->waiters);
}

void
qevent_set(struct qevent *e, struct waitlist *woken)
{
	struct waiter	*w;

	e->set = true;
	while ((w = waitq_first(&e->waiters)) != NULL)
		waitq_wake(w, QLOCK_OK, woken);
}

void
qevent_clear(struct qevent *e)
{
	e->set = false;
}

int
qevent_wait(const struct qevent *e)
{
	return e->set ? 0 : QEVENT_WAIT;
}
