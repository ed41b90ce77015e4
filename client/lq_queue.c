/* lq_queue.c: libqlock's queue calls. */
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

/* Open flags: giveback=False is sent only when asked for, so opens stay
 * what older daemons accept. */
bool
lq_nogiveback(int flags)
{
	return (flags & QLOCK_NO_GIVEBACK) != 0;
}

int
qlock_queue_open(qlock *c, const char *name, long maxsize, int flags)
{
	struct mp_reader	res;
	int			st;

	if ((st = lq_check_name(c, "queue.open", name)) != QLOCK_OK ||
	    (st = lq_req_begin(c, "queue.open",
	    lq_nogiveback(flags) ? 4 : 3)) != QLOCK_OK)
		return st;
	lq_pk_str(c, name);
	lq_pk_int(c, maxsize);
	lq_pk_bool(c, (flags & QLOCK_JOINABLE) != 0);
	if (lq_nogiveback(flags))
		lq_pk_bool(c, false);
	return lq_req_call(c, &res);
}

int
qlock_queue_put(qlock *c, const char *name, const void *item, size_t len,
    double timeout)
{
	struct mp_reader	res;
	int			st;

	if ((st = lq_check_name(c, "queue.put", name)) != QLOCK_OK ||
	    (st = lq_check_timeout(c, "queue.put", timeout)) != QLOCK_OK)
		return st;
	if (item == NULL && len > 0)
		return lq_fail(c, QLOCK_EINVAL, "queue.put: NULL item");
	if ((st = lq_req_begin(c, "queue.put", 3)) != QLOCK_OK)
		return st;
	lq_pk_str(c, name);
	lq_pk_bin(c, item, len);
	lq_pk_timeout(c, timeout);
	return lq_req_call(c, &res);
}

int
qlock_queue_get(qlock *c, const char *name, void **item, size_t *len,
    double timeout)
{
	struct mp_reader	res;
	int			st;

	if (item == NULL)
		return lq_fail(c, QLOCK_EINVAL, "queue.get: NULL item pointer");
	*item = NULL;
	if (len != NULL)
		*len = 0;
	if ((st = lq_call_name_timeout(c, "queue.get", name, timeout, &res)) !=
	    QLOCK_OK)
		return st;
	return lq_res_value(c, &res, item, len);
}

int
qlock_queue_size(qlock *c, const char *name, long *size)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if (size == NULL)
		return lq_fail(c, QLOCK_EINVAL,
		    "queue.size: NULL size pointer");
	if ((st = lq_call_name(c, "queue.size", name, &res)) != QLOCK_OK ||
	    (st = lq_res_int(c, "queue.size", &res, LONG_MIN, LONG_MAX, &v)) !=
	    QLOCK_OK)
		return st;
	*size = (long)v;
	return QLOCK_OK;
}

int
qlock_queue_state(qlock *c, const char *name, struct qlock_queue_state *qs)
{
	static const char *const keys[] = {
		"size", "maxsize", "joinable", "unfinished"
	};
	struct mp_reader	res;
	int64_t			v[4];
	int			st;

	if (qs == NULL)
		return lq_fail(c, QLOCK_EINVAL,
		    "queue.state: NULL state pointer");
	if ((st = lq_call_name(c, "queue.state", name, &res)) != QLOCK_OK ||
	    (st = lq_res_fields(c, "queue.state", &res, keys, v, 4)) !=
	    QLOCK_OK)
		return st;
	qs->size = (long)v[0];
	qs->maxsize = (long)v[1];
	qs->joinable = v[2] != 0;
	qs->unfinished = (long)v[3];
	return QLOCK_OK;
}

int
qlock_queue_task_done(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "queue.task_done", name, &res);
}

int
qlock_queue_join(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return lq_call_name_timeout(c, "queue.join", name, timeout, &res);
}
