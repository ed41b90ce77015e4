/* obj_lock.c: lock ownership and FIFO hand-off. */
#include "qlock.h"
#include "obj_lock.h"

void
lock_init(struct lock *l, bool recursive)
{
	l->recursive = recursive;
	l->owner = 0;
	l->depth = 0;
	l->token = 0;
	waitq_init(&l->waiters);
}

/* Make sess the owner at depth with a fresh token. */
static void
lock_grant(struct lock *l, uint64_t sess, uint32_t depth, uint64_t *clock)
{
	l->owner = sess;
	l->depth = depth;
	l->token = ++*clock;
}

int
lock_acquire(struct lock *l, uint64_t sess, uint64_t *clock)
{
	if (l->owner == 0 && waitq_first_live(&l->waiters) == NULL) {
		lock_grant(l, sess, 1, clock);
		return 0;
	}
	if (l->owner == sess && l->recursive) {
		l->depth++;
		return 0;
	}
	return LOCK_WAIT;
}

void
lock_park(struct lock *l, struct waiter *w, uint32_t depth)
{
	w->depth = depth;
	waitq_push(&l->waiters, w);
}

/* The lock is free: hand it to the oldest waiter not away, if any. */
static void
lock_handoff(struct lock *l, uint64_t *clock, struct waitlist *woken)
{
	struct waiter	*w = waitq_first_live(&l->waiters);

	l->owner = 0;
	l->depth = 0;
	if (w == NULL)
		return;
	lock_grant(l, w->ctx.sess, w->depth, clock);
	w->value = l->token;
	waitq_wake(w, QLOCK_OK, woken);
}

bool
lock_pump(struct lock *l, uint64_t *clock, struct waitlist *woken)
{
	if (l->owner != 0 || waitq_first_live(&l->waiters) == NULL)
		return false;
	lock_handoff(l, clock, woken);
	return true;
}

int
lock_release(struct lock *l, uint64_t sess, uint64_t *clock,
    struct waitlist *woken)
{
	if (l->owner != sess || l->depth == 0)
		return QLOCK_ENOTOWNER;
	if (--l->depth == 0)
		lock_handoff(l, clock, woken);
	return 0;
}

uint32_t
lock_release_all(struct lock *l, uint64_t sess, uint64_t *clock,
    struct waitlist *woken)
{
	uint32_t	depth = l->depth;

	if (l->owner != sess || depth == 0)
		return 0;
	lock_handoff(l, clock, woken);
	return depth;
}

bool
lock_busy(const struct lock *l)
{
	return l->owner != 0 || l->waiters.n > 0;
}
