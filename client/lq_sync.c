/* lq_sync.c: libqlock's lock, semaphore, event, condition and barrier calls. */
#include <sys/types.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "frame.h"
#include "lq_int.h"
#include "mp.h"
#include "qlock.h"
#include "status.h"

int
qlock_lock_open(qlock *c, const char *name, int flags)
{
	struct mp_reader	res;
	int			st;

	if ((st = lq_check_name(c, "lock.open", name)) != QLOCK_OK ||
	    (st = lq_req_begin(c, "lock.open", lq_nogiveback(flags) ? 3 : 2)) !=
	    QLOCK_OK)
		return st;
	lq_pk_str(c, name);
	lq_pk_bool(c, (flags & QLOCK_RECURSIVE) != 0);
	if (lq_nogiveback(flags))
		lq_pk_bool(c, false);
	return lq_req_call(c, &res);
}

int
qlock_lock_acquire(qlock *c, const char *name, double timeout)
{
	return qlock_lock_acquire_token(c, name, timeout, NULL);
}

int
qlock_lock_acquire_token(qlock *c, const char *name, double timeout,
    uint64_t *token)
{
	struct mp_reader	res;
	uint64_t		v;
	int			st;

	if ((st = lq_call_name_timeout(c, "lock.acquire", name, timeout,
	    &res)) != QLOCK_OK)
		return st;
	if (token != NULL) {
		if (mp_read_uint(&res, &v) == -1)
			return lq_bad_result(c, "lock.acquire");
		*token = v;
	}
	return QLOCK_OK;
}

int
qlock_lock_release(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "lock.release", name, &res);
}

int
qlock_sem_open(qlock *c, const char *name, long value, int flags)
{
	struct mp_reader	res;
	int			st;

	if ((st = lq_check_name(c, "sem.open", name)) != QLOCK_OK ||
	    (st = lq_req_begin(c, "sem.open", lq_nogiveback(flags) ? 4 : 3)) !=
	    QLOCK_OK)
		return st;
	lq_pk_str(c, name);
	lq_pk_int(c, value);
	lq_pk_bool(c, (flags & QLOCK_BOUNDED) != 0);
	if (lq_nogiveback(flags))
		lq_pk_bool(c, false);
	return lq_req_call(c, &res);
}

int
qlock_sem_acquire(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return lq_call_name_timeout(c, "sem.acquire", name, timeout, &res);
}

int
qlock_sem_release(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "sem.release", name, &res);
}

int
qlock_sem_value(qlock *c, const char *name, long *value)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if (value == NULL)
		return lq_fail(c, QLOCK_EINVAL,
		    "sem.value: NULL value pointer");
	if ((st = lq_call_name(c, "sem.value", name, &res)) != QLOCK_OK ||
	    (st = lq_res_int(c, "sem.value", &res, LONG_MIN, LONG_MAX, &v)) !=
	    QLOCK_OK)
		return st;
	*value = (long)v;
	return QLOCK_OK;
}

int
qlock_event_set(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "event.set", name, &res);
}

int
qlock_event_clear(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "event.clear", name, &res);
}

int
qlock_event_is_set(qlock *c, const char *name, int *is_set)
{
	struct mp_reader	res;
	bool			v;
	int			st;

	if (is_set == NULL)
		return lq_fail(c, QLOCK_EINVAL, "event.is_set: NULL pointer");
	if ((st = lq_call_name(c, "event.is_set", name, &res)) != QLOCK_OK)
		return st;
	if (mp_read_bool(&res, &v) == -1)
		return lq_bad_result(c, "event.is_set");
	*is_set = v;
	return QLOCK_OK;
}

int
qlock_event_wait(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return lq_call_name_timeout(c, "event.wait", name, timeout, &res);
}

int
qlock_cond_acquire(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return lq_call_name_timeout(c, "cond.acquire", name, timeout, &res);
}

int
qlock_cond_release(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "cond.release", name, &res);
}

int
qlock_cond_wait(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return lq_call_name_timeout(c, "cond.wait", name, timeout, &res);
}

int
qlock_cond_notify(qlock *c, const char *name, int n)
{
	struct mp_reader	res;
	int			st;

	if ((st = lq_check_name(c, "cond.notify", name)) != QLOCK_OK ||
	    (st = lq_req_begin(c, "cond.notify", 2)) != QLOCK_OK)
		return st;
	lq_pk_str(c, name);
	lq_pk_int(c, n);
	return lq_req_call(c, &res);
}

int
qlock_cond_notify_all(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "cond.notify_all", name, &res);
}

int
qlock_barrier_open(qlock *c, const char *name, int parties)
{
	struct mp_reader	res;
	int			st;

	if ((st = lq_check_name(c, "barrier.open", name)) != QLOCK_OK ||
	    (st = lq_req_begin(c, "barrier.open", 2)) != QLOCK_OK)
		return st;
	lq_pk_str(c, name);
	lq_pk_int(c, parties);
	return lq_req_call(c, &res);
}

int
qlock_barrier_wait(qlock *c, const char *name, double timeout, int *index)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if ((st = lq_call_name_timeout(c, "barrier.wait", name, timeout,
	    &res)) != QLOCK_OK)
		return st;
	if (index != NULL) {
		if ((st = lq_res_int(c, "barrier.wait", &res, INT_MIN, INT_MAX,
		    &v)) != QLOCK_OK)
			return st;
		*index = (int)v;
	}
	return QLOCK_OK;
}

int
qlock_barrier_state(qlock *c, const char *name,
    struct qlock_barrier_state *bs)
{
	static const char *const keys[] = { "parties", "n_waiting", "broken" };
	struct mp_reader	res;
	int64_t			v[3];
	int			st;

	if (bs == NULL)
		return lq_fail(c, QLOCK_EINVAL,
		    "barrier.state: NULL state pointer");
	if ((st = lq_call_name(c, "barrier.state", name, &res)) != QLOCK_OK ||
	    (st = lq_res_fields(c, "barrier.state", &res, keys, v, 3)) !=
	    QLOCK_OK)
		return st;
	bs->parties = (int)v[0];
	bs->n_waiting = (int)v[1];
	bs->broken = v[2] != 0;
	return QLOCK_OK;
}

int
qlock_barrier_abort(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "barrier.abort", name, &res);
}

int
qlock_barrier_reset(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "barrier.reset", name, &res);
}
