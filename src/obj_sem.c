/* obj_sem.c: counting semaphore with FIFO waiters. */
#include "qlock.h"
#include "obj_sem.h"

void
qsem_init(struct sem *s, long value, bool bounded)
{
	s->value = value;
	s->initial = value;
	s->bounded = bounded;
	waitq_init(&s->waiters);
}

int
sem_acquire(struct sem *s)
{
	if (s->value > 0 && waitq_first_live(&s->waiters) == NULL) {
		s->value--;
		return 0;
	}
	return SEM_WAIT;
}

int
sem_release(struct sem *s, struct waitlist *woken)
{
	struct waiter	*w = waitq_first_live(&s->waiters);

	/* As Python: checked before any hand-off. */
	if (s->bounded && s->value >= s->initial)
		return QLOCK_EVALUE;
	if (w != NULL) {
		waitq_wake(w, QLOCK_OK, woken);	/* the permit passes on */
		return 0;
	}
	s->value++;
	return 0;
}

int
sem_pump(struct sem *s, struct waitlist *woken)
{
	struct waiter	*w;
	int		 n = 0;

	while (s->value > 0 && (w = waitq_first_live(&s->waiters)) != NULL) {
		s->value--;
		waitq_wake(w, QLOCK_OK, woken);
		n++;
	}
	return n;
}

long
sem_durable(const struct sem *s, long held)
{
	long	v = s->value + held;

	if (s->bounded && v > s->initial)
		v = s->initial;
	return v;
}
