/* cmd_sem.c: sem.* requests: Semaphore and BoundedSemaphore, with the
 * permits each session took given back when it ends. */
#include "cmd.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "session.h"
#include "store.h"
#include "worker.h"

/* Free permits plus those sessions hold: what survives a restart. */
static long
sem_base(struct worker *w, const struct object *o)
{
	const struct hold	*h;
	const struct waiter	*wt;
	long			 held = 0;

	TAILQ_FOREACH(h, &o->holds, obj_link)
		held += (long)h->permits;
	/* And permits handed to waiters not answered yet. */
	TAILQ_FOREACH(wt, &w->woken, link)
		if (wt->obj == o && wt->op == WOP_SEM_ACQUIRE &&
		    wt->status == QLOCK_OK && !o->keep)
			held++;
	/* A foreign release of a bounded semaphore may have filled it while
	 * permits are held: those holders' releases will then fail. */
	return sem_durable(&o->u.sem, held);
}

/* A permit was taken by sess: held by its session (given back when it
 * ends), or with giveback=False taken for good (logged as such). */
static void
sem_took(struct worker *w, struct object *o, uint64_t sess)
{
	struct hold	*h;

	if (o->keep) {
		store_s_set(w, o, sem_base(w, o));
		return;
	}
	h = hold_get(w, sess, o);
	h->permits++;
	session_note_sem(w, h);
}

/* sem.open [name, value, bounded, giveback?] */
void
cmd_sem_open(struct worker *w, struct request *r)
{
	struct object	*o;
	int64_t		 value;
	bool		 bounded, keep;

	if (arg_int(w, r, &value) == -1 || arg_bool(w, r, &bounded) == -1 ||
	    arg_giveback(w, r, 3, &keep) == -1)
		return;
	if (value < 0 || value > INT32_MAX) {
		reply_error(w, &r->ctx, QLOCK_EINVAL,
		    "a semaphore's value is 0 to %d", INT32_MAX);
		return;
	}
	if (cmd_reserve(w, r, 32) == -1 ||
	    (o = cmd_object(w, r, OBJ_SEM, LOOKUP_CREATE)) == NULL)
		return;
	if (o->opened) {
		/* Idempotent for the same settings, as every process of a
		 * program opens it the same way. */
		if (o->u.sem.initial != value || o->u.sem.bounded != bounded ||
		    o->keep != keep) {
			reply_error(w, &r->ctx, QLOCK_EINVAL,
			    "'%.*s' is open with value %ld%s%s", (int)r->namelen,
			    r->name, o->u.sem.initial,
			    o->u.sem.bounded ? ", bounded" : "",
			    o->keep ? ", giveback=False" : "");
			return;
		}
	} else {
		qsem_init(&o->u.sem, (long)value, bounded);
		o->opened = true;
		o->keep = keep;
		store_s_set(w, o, sem_base(w, o));
		if (keep)
			store_keep(w, o);
	}
	reply_nil(w, &r->ctx);
}

/* sem.acquire [name, timeout] */
void
cmd_sem_acquire(struct worker *w, struct request *r)
{
	struct object	*o;
	struct waiter	*wt;
	double		 deadline;

	if (arg_timeout(w, r, &deadline) == -1 ||
	    (o = cmd_object(w, r, OBJ_SEM, LOOKUP_EXISTING)) == NULL)
		return;
	if (sem_acquire(&o->u.sem) == 0) {
		sem_took(w, o, r->ctx.sess);
		reply_nil(w, &r->ctx);
		return;
	}
	if (deadline == 0) {
		reply_error(w, &r->ctx, QLOCK_TIMEOUT, "no permit free");
		return;
	}
	wt = cmd_waiter(w, r, o);
	wt->op = WOP_SEM_ACQUIRE;
	waitq_push(&o->u.sem.waiters, wt);
	worker_park(w, wt, deadline);
	session_note_wait(w, wt, true);	/* its place, if bound */
}

/* sem.release [name] */
void
cmd_sem_release(struct worker *w, struct request *r)
{
	struct object	*o;
	struct hold	*h;

	if (cmd_reserve(w, r, 32) == -1 ||
	    (o = cmd_object(w, r, OBJ_SEM, LOOKUP_EXISTING)) == NULL)
		return;
	if (sem_release(&o->u.sem, &w->woken) != 0) {
		reply_error(w, &r->ctx, QLOCK_EVALUE,
		    "bounded semaphore '%.*s' released too many times",
		    (int)r->namelen, r->name);
		return;
	}
	/* Anyone may release (as in Python); the releaser's own permits
	 * are the ones that stop being held. */
	if ((h = hold_find(w, r->ctx.sess, o)) != NULL) {
		h->permits--;
		session_note_sem(w, h);
		if (h->permits == 0)
			hold_free(w, h);
	} else
		store_s_set(w, o, sem_base(w, o));	/* a permit was made */
	reply_nil(w, &r->ctx);
}

/* sem.value [name] */
void
cmd_sem_value(struct worker *w, struct request *r)
{
	struct object	*o;

	if ((o = cmd_object(w, r, OBJ_SEM, LOOKUP_EXISTING)) == NULL)
		return;
	msgpack_pack_int64(reply_begin(w, &r->ctx), o->u.sem.value);
	reply_end(w, &r->ctx);
}

void
cmd_sem_answer(struct worker *w, struct waiter *wt)
{
	int	st = wt->status;

	if (st == QLOCK_OK) {
		sem_took(w, wt->obj, wt->ctx.sess);
		reply_nil(w, &wt->ctx);
		return;
	}
	reply_error(w, &wt->ctx, st, "%s", st == QLOCK_TIMEOUT ?
	    "no permit in time" : st == QLOCK_ENOENT ?
	    "the semaphore was deleted" : "the server is shutting down");
}
