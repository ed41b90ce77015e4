/*
 * lq_call.c: libqlock's requests: packing, calling, reading results; and
 * the calls on no object: ping, delete, stats, list.
 */
#include <sys/types.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "frame.h"
#include "lq_int.h"
#include "mp.h"
#include "qlock.h"
#include "status.h"

/* Record a failed pack into the request buffer (the first one wins). */
void
lq_pk_check(qlock *c, int r)
{
	if (r != 0 && c->pkerr == 0)
		c->pkerr = lq_fail(c, QLOCK_ELIMIT,
		    "out of memory for a request");
}

void
lq_pk_str(qlock *c, const char *s)
{
	size_t	len = strlen(s);

	if (len > REQUEST_MAX) {
		if (c->pkerr == 0)
			c->pkerr = lq_fail(c, QLOCK_ELIMIT, "a string of %zu "
			    "bytes is over the frame limit", len);
		return;
	}
	lq_pk_check(c, msgpack_pack_str(&c->pk, len));
	lq_pk_check(c, msgpack_pack_str_body(&c->pk, s, len));
}

void
lq_pk_bin(qlock *c, const void *p, size_t len)
{
	if (len > REQUEST_MAX) {
		if (c->pkerr == 0)
			c->pkerr = lq_fail(c, QLOCK_ELIMIT, "a value of %zu "
			    "bytes is over the frame limit", len);
		return;
	}
	lq_pk_check(c, msgpack_pack_bin(&c->pk, len));
	lq_pk_check(c, msgpack_pack_bin_body(&c->pk, len > 0 ? p : "", len));
}

void
lq_pk_int(qlock *c, int64_t v)
{
	lq_pk_check(c, msgpack_pack_int64(&c->pk, v));
}

void
lq_pk_bool(qlock *c, bool v)
{
	lq_pk_check(c, v ? msgpack_pack_true(&c->pk) :
	    msgpack_pack_false(&c->pk));
}

/* A timeout on the wire: negative for ever (as is +inf), 0 no wait. */
void
lq_pk_timeout(qlock *c, double timeout)
{
	if (timeout < 0 || isinf(timeout))
		timeout = QLOCK_FOREVER;
	/* Where it is, so that a request sent again to a new leader waits
	 * only what is left of it (lq_follow.c). */
	c->tmo_off = c->sbuf.size;
	c->tmo = timeout;
	lq_pk_check(c, msgpack_pack_double(&c->pk, timeout));
}

/* Fail QLOCK_EINVAL for a NULL or empty name. */
int
lq_check_name(qlock *c, const char *what, const char *name)
{
	if (name == NULL || *name == '\0')
		return lq_fail(c, QLOCK_EINVAL, "%s: empty name", what);
	return QLOCK_OK;
}

/* Fail QLOCK_EINVAL for a timeout that is not a number. */
int
lq_check_timeout(qlock *c, const char *what, double timeout)
{
	if (isnan(timeout))
		return lq_fail(c, QLOCK_EINVAL, "%s: timeout is not a number",
		    what);
	return QLOCK_OK;
}

/* Start request [0, msgid, method, [...nparams]]; the caller packs params. */
int
lq_req_begin(qlock *c, const char *method, uint32_t nparams)
{
	static const char	zero[FRAME_HDR];

	/* In a cluster a broken first connection is opened again, to any
	 * member, at the next request (lq_follow.c). */
	if (c->fd == -1 && (c->route == NULL || !c->route->cluster))
		return QLOCK_ECONN;	/* err still says why it broke */
	/* Give back what a huge request or response left allocated. */
	if (c->sbuf.alloc > BUF_KEEP) {
		msgpack_sbuffer_destroy(&c->sbuf);
		msgpack_sbuffer_init(&c->sbuf);
	}
	if (c->rcap > BUF_KEEP) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
	}
	msgpack_sbuffer_clear(&c->sbuf);
	c->pkerr = 0;
	c->tmo_off = 0;
	lq_pk_check(c, msgpack_sbuffer_write(&c->sbuf, zero, sizeof(zero)));
	lq_pk_check(c, msgpack_pack_array(&c->pk, 4));
	lq_pk_check(c, msgpack_pack_uint8(&c->pk, RPC_REQUEST));
	c->msgid = ++c->msgnext;
	lq_pk_check(c, msgpack_pack_uint64(&c->pk, c->msgid));
	lq_pk_str(c, method);
	lq_pk_check(c, msgpack_pack_array(&c->pk, nparams));
	return QLOCK_OK;
}

/* Protocol violation: the stream cannot be trusted any more. */
int
lq_violated(qlock *c, const char *what)
{
	lq_fail(c, QLOCK_EPROTO, "bad response from the daemon: %s", what);
	lq_conn_drop(c);
	return QLOCK_EPROTO;
}

/*
 * Decode the response in rbuf: *mine is false for a notification or an
 * answer to another msgid (both ignored); else the status, with the result
 * object in *res.
 */
static int
resp_parse(qlock *c, size_t len, bool *mine, struct mp_reader *res)
{
	struct mp_reader	 r;
	const char		*code, *msg;
	uint32_t		 n, codelen, msglen;
	uint64_t		 type, msgid;
	int			 st;

	*mine = false;
	if (mp_check(c->rbuf, len) == -1)
		return lq_violated(c, "not one msgpack object");
	mp_reader_init(&r, c->rbuf, len);
	if (mp_read_array(&r, &n) == -1 || mp_read_uint(&r, &type) == -1)
		return lq_violated(c, "not an msgpack-RPC message");
	if (type == RPC_NOTIFY && n == 3)
		return QLOCK_OK;
	if (type != RPC_RESPONSE || n != 4 || mp_read_uint(&r, &msgid) == -1)
		return lq_violated(c, "not an msgpack-RPC response");
	if (msgid != c->msgid)
		return QLOCK_OK;	/* stale: not what we wait for */
	*mine = true;
	if (mp_read_nil(&r) == 0) {
		*res = r;
		return QLOCK_OK;
	}
	/* error: [code, message]; the message is optional. */
	if (mp_read_array(&r, &n) == -1 || n < 1 ||
	    mp_read_str(&r, &code, &codelen) == -1)
		return lq_fail(c, QLOCK_EPROTO, "bad response from the daemon: "
		    "malformed error");
	st = status_from_name(code, codelen);
	if (st == QLOCK_OK)
		st = QLOCK_EPROTO;
	if (n >= 2 && mp_read_str(&r, &msg, &msglen) == 0 && msglen > 0)
		return lq_fail(c, st, "%.*s", (int)msglen, msg);
	if (st == QLOCK_EPROTO && codelen > 0)
		return lq_fail(c, st, "%.*s", (int)codelen, code);
	return lq_fail(c, st, "%s", status_text(st));
}

/* Send the request in c->sbuf on c->fd and wait for its response. */
int
lq_req_call_fd(qlock *c, struct mp_reader *res)
{
	size_t	len = 0;
	bool	mine;
	int	st;

	if ((st = lq_io_write(c, c->sbuf.data, c->sbuf.size)) != QLOCK_OK)
		return st;
	do {
		if ((st = lq_frame_read(c, RESPONSE_MAX, &len)) != QLOCK_OK)
			return st;
		st = resp_parse(c, len, &mine, res);
		if (st != QLOCK_OK)
			return st;
	} while (!mine);
	return QLOCK_OK;
}

/* Send the request built since req_begin and wait for its response, on
 * the connection to its object's owner when routing (lq_route.c).  A
 * connection that breaks breaks them all: what the qlock * held on that
 * worker is gone, and every later call says so (QLOCK_ECONN). */
int
lq_req_call(qlock *c, struct mp_reader *res)
{
	size_t	body;
	int	first = c->fd, st;

	if (c->pkerr != 0)
		return c->pkerr;
	body = c->sbuf.size - FRAME_HDR;
	if (body > REQUEST_MAX)
		return lq_fail(c, QLOCK_ELIMIT, "a request of %zu bytes is "
		    "over the frame limit", body);
	frame_put_header((uint8_t *)c->sbuf.data, body);
	if (c->route != NULL && c->route->cluster)
		return lq_follow_call(c, res);
	if ((c->fd = lq_route_fd(c)) == first)
		return lq_req_call_fd(c, res);
	st = lq_req_call_fd(c, res);
	if (c->fd == -1) {
		close(first);		/* the owner's connection broke */
		lq_route_free(c);
	} else
		c->fd = first;
	return st;
}

/* Call a method whose only parameter is a name. */
int
lq_call_name(qlock *c, const char *method, const char *name,
    struct mp_reader *res)
{
	int	st;

	if ((st = lq_check_name(c, method, name)) != QLOCK_OK ||
	    (st = lq_req_begin(c, method, 1)) != QLOCK_OK)
		return st;
	lq_pk_str(c, name);
	return lq_req_call(c, res);
}

/* Call a method whose parameters are a name and a timeout. */
int
lq_call_name_timeout(qlock *c, const char *method, const char *name,
    double timeout, struct mp_reader *res)
{
	int	st;

	if ((st = lq_check_name(c, method, name)) != QLOCK_OK ||
	    (st = lq_check_timeout(c, method, timeout)) != QLOCK_OK ||
	    (st = lq_req_begin(c, method, 2)) != QLOCK_OK)
		return st;
	lq_pk_str(c, name);
	lq_pk_timeout(c, timeout);
	return lq_req_call(c, res);
}

/* A result of the wrong type: the connection is in step, so keep it. */
int
lq_bad_result(qlock *c, const char *method)
{
	return lq_fail(c, QLOCK_EPROTO, "bad response from the daemon: "
	    "unexpected result type for %s", method);
}

/* Read an integer result that must fit in [min, max]. */
int
lq_res_int(qlock *c, const char *method, struct mp_reader *res, int64_t min,
    int64_t max, int64_t *v)
{
	if (mp_read_int(res, v) == -1 || *v < min || *v > max)
		return lq_bad_result(c, method);
	return QLOCK_OK;
}

/* Copy a value: str/bin payload, else its msgpack bytes; NUL-terminated. */
int
lq_res_value(qlock *c, struct mp_reader *res, void **out, size_t *outlen)
{
	const void	*p;
	const uint8_t	*raw;
	uint32_t	 n32;
	size_t		 n;
	uint8_t		*buf;

	if (mp_read_bytes(res, &p, &n32) == 0)
		n = n32;
	else if (mp_skip(res, &raw, &n) == 0)
		p = raw;
	else
		return lq_bad_result(c, "a value");
	if ((buf = malloc(n + 1)) == NULL)
		return lq_fail(c, QLOCK_ELIMIT, "out of memory for a %zu-byte "
		    "value", n);
	if (n > 0)
		memcpy(buf, p, n);
	buf[n] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = n;
	return QLOCK_OK;
}

/* Copy the raw msgpack bytes of a result of the given type. */
int
lq_res_raw(qlock *c, const char *method, struct mp_reader *res,
    enum mp_type want, void **out, size_t *outlen)
{
	const uint8_t	*raw;
	size_t		 n;
	uint8_t		*buf;

	if (mp_peek(res) != want || mp_skip(res, &raw, &n) == -1)
		return lq_bad_result(c, method);
	if ((buf = malloc(n)) == NULL)
		return lq_fail(c, QLOCK_ELIMIT, "out of memory for a %zu-byte "
		    "result", n);
	memcpy(buf, raw, n);
	*out = buf;
	*outlen = n;
	return QLOCK_OK;
}

/*
 * Read a map result whose values are integers or booleans (true 1, false
 * 0) into vals, in the order of keys; keys it does not know are skipped,
 * a key missing is a bad result.
 */
int
lq_res_fields(qlock *c, const char *method, struct mp_reader *res,
    const char *const *keys, int64_t *vals, size_t nkeys)
{
	const char	*k;
	uint32_t	 n, klen, i;
	size_t		 j, found = 0;
	bool		 b;
	int64_t		 v;

	if (mp_read_map(res, &n) == -1)
		return lq_bad_result(c, method);
	for (i = 0; i < n; i++) {
		if (mp_read_str(res, &k, &klen) == -1)
			return lq_bad_result(c, method);
		for (j = 0; j < nkeys; j++)
			if (strlen(keys[j]) == klen &&
			    memcmp(keys[j], k, klen) == 0)
				break;
		if (j == nkeys) {
			if (mp_skip(res, NULL, NULL) == -1)
				return lq_bad_result(c, method);
			continue;
		}
		if (mp_read_bool(res, &b) == 0)
			v = b;
		else if (mp_read_int(res, &v) == -1)
			return lq_bad_result(c, method);
		vals[j] = v;
		found |= (size_t)1 << j;
	}
	if (found != ((size_t)1 << nkeys) - 1)
		return lq_bad_result(c, method);
	return QLOCK_OK;
}

int
qlock_ping(qlock *c)
{
	struct mp_reader	 res;
	const char		*s;
	uint32_t		 len;
	int			 st;

	if ((st = lq_req_begin(c, "ping", 0)) != QLOCK_OK ||
	    (st = lq_req_call(c, &res)) != QLOCK_OK)
		return st;
	if (mp_read_str(&res, &s, &len) == -1 || len != 4 ||
	    memcmp(s, "pong", 4) != 0)
		return lq_bad_result(c, "ping");
	return QLOCK_OK;
}

int
qlock_delete(qlock *c, const char *name)
{
	struct mp_reader	res;

	return lq_call_name(c, "delete", name, &res);
}

int
qlock_stats_raw(qlock *c, void **buf, size_t *len)
{
	struct mp_reader	res;
	int			st;

	if (buf == NULL || len == NULL)
		return lq_fail(c, QLOCK_EINVAL, "stats: NULL pointer");
	*buf = NULL;
	*len = 0;
	if ((st = lq_req_begin(c, "stats", 0)) != QLOCK_OK ||
	    (st = lq_req_call(c, &res)) != QLOCK_OK)
		return st;
	return lq_res_raw(c, "stats", &res, MP_MAP, buf, len);
}

int
qlock_list_raw(qlock *c, void **buf, size_t *len)
{
	struct mp_reader	res;
	int			st;

	if (buf == NULL || len == NULL)
		return lq_fail(c, QLOCK_EINVAL, "list: NULL pointer");
	*buf = NULL;
	*len = 0;
	if ((st = lq_req_begin(c, "list", 0)) != QLOCK_OK ||
	    (st = lq_req_call(c, &res)) != QLOCK_OK)
		return st;
	return lq_res_raw(c, "list", &res, MP_ARRAY, buf, len);
}
