/* obj_cond.c: condition variable over its own lock or a given one. */
#include "qlock.h"
#include "obj_cond.h"

void
cond_init(struct cond *c)
{
	lock_init(&c->lock, true);
	waitq_init(&c->waiters);
}

int
cond_wait(struct cond *c, struct lock *l, uint64_t sess, struct waiter *w,
    uint64_t *clock, struct waitlist *woken)
{
	uint32_t	depth;

	if (l->owner != sess || l->depth == 0)
		return QLOCK_ENOTOWNER;
	depth = lock_release_all(l, sess, clock, woken);
	w->op = WOP_COND_WAIT;
	w->depth = depth;
	waitq_push(&c->waiters, w);
	return 0;
}

void
cond_requeue(struct lock *l, struct waiter *w, int outcome, uint64_t *clock,
    struct waitlist *woken)
{
	waitq_remove(w);
	w->op = WOP_COND_REACQUIRE;
	w->outcome = outcome;
	if (l->owner == 0 && waitq_first_live(&l->waiters) == NULL) {
		l->owner = w->ctx.sess;
		l->depth = w->depth;
		l->token = ++*clock;
		w->value = l->token;
		waitq_wake(w, QLOCK_OK, woken);
		return;
	}
	waitq_push(&l->waiters, w);
}

int
cond_notify(struct cond *c, struct lock *l, uint64_t sess, uint32_t n,
    uint32_t *moved)
{
	struct waiter	*w;

	*moved = 0;
	if (l->owner != sess || l->depth == 0)
		return QLOCK_ENOTOWNER;
	/* The notifier holds the lock, so they queue for it. */
	while (*moved < n && (w = waitq_first(&c->waiters)) != NULL) {
		waitq_remove(w);
		w->op = WOP_COND_REACQUIRE;
		w->outcome = QLOCK_OK;
		waitq_push(&l->waiters, w);
		(*moved)++;
	}
	return 0;
}
