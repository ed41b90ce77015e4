/* obj_cond.c: condition variable over its own lock. */
#include "qlock.h"
#include "obj_cond.h"

void
cond_init(struct cond *c)
{
	lock_init(&c->lock, true);
	waitq_init(&c->waiters);
}

int
cond_wait(struct cond *c, uint64_t sess, struct waiter *w, uint64_t *clock,
    struct waitlist *woken)
{
	uint32_t	depth;

	if (c->lock.owner != sess || c->lock.depth == 0)
		return QLOCK_ENOTOWNER;
	depth = lock_release_all(&c->lock, sess, clock, woken);
	w->op = WOP_COND_WAIT;
	w->depth = depth;
	waitq_push(&c->waiters, w);
	return 0;
}

void
cond_requeue(struct cond *c, struct waiter *w, int outcome, uint64_t *clock,
    struct waitlist *woken)
{
	waitq_remove(w);
	w->op = WOP_COND_REACQUIRE;
	w->outcome = outcome;
	if (c->lock.owner == 0 && c->lock.waiters.n == 0) {
		c->lock.owner = w->ctx.sess;
		c->lock.depth = w->depth;
		c->lock.token = ++*clock;
		w->value = c->lock.token;
		waitq_wake(w, QLOCK_OK, woken);
		return;
	}
	waitq_push(&c->lock.waiters, w);
}

int
cond_notify(struct cond *c, uint64_t sess, uint32_t n, uint32_t *moved)
{
	struct waiter	*w;

	*moved = 0;
	if (c->lock.owner != sess || c->lock.depth == 0)
		return QLOCK_ENOTOWNER;
	/* The notifier holds the lock, so they queue for it. */
	while (*moved < n && (w = waitq_first(&c->waiters)) != NULL) {
		waitq_remove(w);
		w->op = WOP_COND_REACQUIRE;
		w->outcome = QLOCK_OK;
		waitq_push(&c->lock.waiters, w);
		(*moved)++;
	}
	return 0;
}
