/* obj_barrier.c: the barrier's count and generations. */
#include "qlock.h"
#include "obj_barrier.h"

void
barrier_init(struct barrier *b, uint32_t parties)
{
	b->parties = parties;
	b->count = 0;
	b->broken = false;
	waitq_init(&b->waiters);
}

int
barrier_wait(struct barrier *b, uint32_t *index, struct waitlist *woken)
{
	struct waiter	*w;

	if (b->broken)
		return QLOCK_EBROKEN;
	*index = b->count++;
	if (b->count < b->parties)
		return BARRIER_WAIT;
	while ((w = waitq_first(&b->waiters)) != NULL)
		waitq_wake(w, QLOCK_OK, woken);
	b->count = 0;
	return 0;
}

/* Wake every waiting party with EBROKEN. */
static void
barrier_fail_all(struct barrier *b, struct waitlist *woken)
{
	struct waiter	*w;

	while ((w = waitq_first(&b->waiters)) != NULL)
		waitq_wake(w, QLOCK_EBROKEN, woken);
	b->count = 0;
}

void
barrier_break(struct barrier *b, struct waitlist *woken)
{
	b->broken = true;
	barrier_fail_all(b, woken);
}

void
barrier_reset(struct barrier *b, struct waitlist *woken)
{
	barrier_fail_all(b, woken);
	b->broken = false;
}
