/* lq_dict.c: libqlock's dict calls. */
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

/* Check a dict name and key, then start the request with them packed. */
static int
dict_begin(qlock *c, const char *method, const char *dict, const char *key,
    uint32_t nparams)
{
	int	st;

	if ((st = lq_check_name(c, method, dict)) != QLOCK_OK)
		return st;
	if (key == NULL)
		return lq_fail(c, QLOCK_EINVAL, "%s: NULL key", method);
	if ((st = lq_req_begin(c, method, nparams)) != QLOCK_OK)
		return st;
	lq_pk_str(c, dict);
	lq_pk_str(c, key);
	return QLOCK_OK;
}

int
qlock_dict_set(qlock *c, const char *dict, const char *key, const void *val,
    size_t len)
{
	struct mp_reader	res;
	int			st;

	if (val == NULL && len > 0)
		return lq_fail(c, QLOCK_EINVAL, "dict.set: NULL value");
	if ((st = dict_begin(c, "dict.set", dict, key, 3)) != QLOCK_OK)
		return st;
	lq_pk_bin(c, val, len);
	return lq_req_call(c, &res);
}

int
qlock_dict_get(qlock *c, const char *dict, const char *key, void **val,
    size_t *len)
{
	struct mp_reader	res;
	int			st;

	if (val == NULL)
		return lq_fail(c, QLOCK_EINVAL, "dict.get: NULL value pointer");
	*val = NULL;
	if (len != NULL)
		*len = 0;
	if ((st = dict_begin(c, "dict.get", dict, key, 2)) != QLOCK_OK ||
	    (st = lq_req_call(c, &res)) != QLOCK_OK)
		return st;
	return lq_res_value(c, &res, val, len);
}

int
qlock_dict_del(qlock *c, const char *dict, const char *key)
{
	struct mp_reader	res;
	int			st;

	if ((st = dict_begin(c, "dict.del", dict, key, 2)) != QLOCK_OK)
		return st;
	return lq_req_call(c, &res);
}

int
qlock_dict_len(qlock *c, const char *dict, long *len)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if (len == NULL)
		return lq_fail(c, QLOCK_EINVAL,
		    "dict.len: NULL length pointer");
	if ((st = lq_call_name(c, "dict.len", dict, &res)) != QLOCK_OK ||
	    (st = lq_res_int(c, "dict.len", &res, 0, LONG_MAX, &v)) != QLOCK_OK)
		return st;
	*len = (long)v;
	return QLOCK_OK;
}

/* Free an array of n keys and the array. */
static void
keys_free(char **keys, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

int
qlock_dict_keys(qlock *c, const char *dict, char ***keys, size_t *n)
{
	struct mp_reader	 res;
	const void		*s;
	char			**v;
	uint32_t		 count, i, len;
	int			 st;

	if (keys == NULL || n == NULL)
		return lq_fail(c, QLOCK_EINVAL, "dict.keys: NULL pointer");
	*keys = NULL;
	*n = 0;
	if ((st = lq_call_name(c, "dict.keys", dict, &res)) != QLOCK_OK)
		return st;
	if (mp_read_array(&res, &count) == -1)
		return lq_bad_result(c, "dict.keys");
	/* count is bounded by the frame: mp_check saw a byte per key. */
	if ((v = calloc((size_t)count + 1, sizeof(*v))) == NULL)
		return lq_fail(c, QLOCK_ELIMIT, "out of memory for %u keys",
		    count);
	for (i = 0; i < count; i++) {
		if (mp_read_bytes(&res, &s, &len) == -1) {
			keys_free(v, i);
			return lq_bad_result(c, "dict.keys");
		}
		if ((v[i] = malloc((size_t)len + 1)) == NULL) {
			keys_free(v, i);
			return lq_fail(c, QLOCK_ELIMIT,
			    "out of memory for keys");
		}
		memcpy(v[i], s, len);
		v[i][len] = '\0';
	}
	*keys = v;	/* NULL-terminated too, for convenience */
	*n = count;
	return QLOCK_OK;
}

int
qlock_dict_incr(qlock *c, const char *dict, const char *key, int64_t delta,
    int64_t *result)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if ((st = dict_begin(c, "dict.incr", dict, key, 3)) != QLOCK_OK)
		return st;
	lq_pk_int(c, delta);
	if ((st = lq_req_call(c, &res)) != QLOCK_OK)
		return st;
	if (mp_read_int(&res, &v) == -1)
		return lq_bad_result(c, "dict.incr");
	if (result != NULL)
		*result = v;
	return QLOCK_OK;
}

int
qlock_dict_get_int(qlock *c, const char *dict, const char *key, int64_t *val)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if (val == NULL)
		return lq_fail(c, QLOCK_EINVAL, "dict.get: NULL value pointer");
	if ((st = dict_begin(c, "dict.get", dict, key, 2)) != QLOCK_OK ||
	    (st = lq_req_call(c, &res)) != QLOCK_OK)
		return st;
	if (mp_read_int(&res, &v) == -1)
		return lq_fail(c, QLOCK_ETYPE, "dict.get: the value of %s "
		    "is not a 64-bit integer", key);
	*val = v;
	return QLOCK_OK;
}

int
qlock_dict_set_int(qlock *c, const char *dict, const char *key, int64_t val)
{
	struct mp_reader	res;
	int			st;

	if ((st = dict_begin(c, "dict.set", dict, key, 3)) != QLOCK_OK)
		return st;
	lq_pk_int(c, val);
	return lq_req_call(c, &res);
}

int
qlock_dict_cas(qlock *c, const char *dict, const char *key,
    const void *expected, size_t elen, const void *val, size_t len,
    int *swapped)
{
	struct mp_reader	res;
	bool			v;
	int			st;

	if (val == NULL && len > 0)
		return lq_fail(c, QLOCK_EINVAL, "dict.cas: NULL value");
	if ((st = dict_begin(c, "dict.cas", dict, key, 4)) != QLOCK_OK)
		return st;
	if (expected == NULL)
		lq_pk_check(c, msgpack_pack_nil(&c->pk)); /* key absent */
	else
		lq_pk_bin(c, expected, elen);
	lq_pk_bin(c, val, len);
	if ((st = lq_req_call(c, &res)) != QLOCK_OK)
		return st;
	if (mp_read_bool(&res, &v) == -1)
		return lq_bad_result(c, "dict.cas");
	if (swapped != NULL)
		*swapped = v;
	return QLOCK_OK;
}
