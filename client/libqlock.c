/* libqlock.c: qlockd's C client: blocking, one request at a time. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth.h"
#include "frame.h"
#include "mp.h"
#include "qlock.h"
#include "status.h"

#define DEFAULT_ADDRESS	"127.0.0.1:7450"
#define RESPONSE_MAX	(64u * 1024 * 1024)	/* largest response accepted */
#define REQUEST_MAX	0x7fffffffu	/* a frame length is signed 32-bit */
#define BUF_KEEP	(1024u * 1024)	/* free larger buffers between calls */
#define ERR_MAX		256		/* longest last_error text */
#define HANDSHAKE_SECS	30		/* longest wait for a handshake frame */

/*
 * msgpack-RPC message types and the shape of a response; changing them is a
 * protocol change: docs/PROTOCOL.md and the daemon's dispatch go with it.
 */
#define RPC_REQUEST	0
#define RPC_RESPONSE	1
#define RPC_NOTIFY	2

/* One connection to qlockd. */
struct qlock {
	int		 fd;		/* the socket; -1 once broken */
	uint64_t	 msgid;		/* id of the last request sent */
	msgpack_sbuffer	 sbuf;		/* request being built: header, body */
	msgpack_packer	 pk;		/* packs into sbuf */
	int		 pkerr;		/* status of a failed pack, or 0 */
	uint8_t		*rbuf;		/* body of the last frame read */
	size_t		 rcap;		/* bytes allocated at rbuf */
	char		 err[ERR_MAX];	/* text for qlock_last_error() */
};

/* Why the last qlock_connect() of this thread failed: it has no qlock *. */
static _Thread_local char connect_err[ERR_MAX];

/* Record the text of a failure and return its status. */
static int __attribute__((format(printf, 3, 4)))
fail(qlock *c, int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return status;
}

/* Close the socket for good: every later call fails with QLOCK_ECONN. */
static void
conn_drop(qlock *c)
{
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Send all of buf; QLOCK_ECONN (and the connection dropped) on failure. */
static int
io_write(qlock *c, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		/* MSG_NOSIGNAL: a closed peer is EPIPE here, never SIGPIPE. */
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fail(c, QLOCK_ECONN, "send: %s", strerror(errno));
			conn_drop(c);
			return QLOCK_ECONN;
		}
		p += n;
		len -= (size_t)n;
	}
	return QLOCK_OK;
}

/* Receive exactly len bytes; QLOCK_ECONN (connection dropped) on failure. */
static int
io_read(qlock *c, void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = recv(c->fd, p, len, 0);
		if (n == 0) {
			fail(c, QLOCK_ECONN, "connection closed by the daemon");
			conn_drop(c);
			return QLOCK_ECONN;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				fail(c, QLOCK_ECONN, "no answer from the "
				    "daemon in %d seconds", HANDSHAKE_SECS);
			else
				fail(c, QLOCK_ECONN, "recv: %s",
				    strerror(errno));
			conn_drop(c);
			return QLOCK_ECONN;
		}
		p += n;
		len -= (size_t)n;
	}
	return QLOCK_OK;
}

/* Read one frame of at most max bytes into rbuf; its length in *len. */
static int
frame_read(qlock *c, size_t max, size_t *len)
{
	uint8_t	 hdr[FRAME_HDR];
	uint8_t	*p;
	size_t	 n = 0;
	int	 st;

	if ((st = io_read(c, hdr, sizeof(hdr))) != QLOCK_OK)
		return st;
	if (frame_header(hdr, sizeof(hdr), max, &n) != FRAME_OK) {
		fail(c, QLOCK_EPROTO, "the daemon sent a frame over the "
		    "%zu-byte limit", max);
		conn_drop(c);
		return QLOCK_EPROTO;
	}
	if (n + 1 > c->rcap) {
		/* One spare byte so the buffer is never empty for malloc. */
		if ((p = realloc(c->rbuf, n + 1)) == NULL) {
			fail(c, QLOCK_ELIMIT, "out of memory for a %zu-byte "
			    "response", n);
			conn_drop(c);	/* the stream is out of step now */
			return QLOCK_ELIMIT;
		}
		c->rbuf = p;
		c->rcap = n + 1;
	}
	if ((st = io_read(c, c->rbuf, n)) != QLOCK_OK)
		return st;
	*len = n;
	return QLOCK_OK;
}

/* Send one handshake frame body. */
static int
frame_write_small(qlock *c, const uint8_t *body, size_t len)
{
	uint8_t	buf[FRAME_HDR + AUTH_MSG_MAX];

	if (len > AUTH_MSG_MAX)
		return fail(c, QLOCK_EPROTO, "handshake message too long");
	frame_put_header(buf, len);
	memcpy(buf + FRAME_HDR, body, len);
	return io_write(c, buf, FRAME_HDR + len);
}

/*
 * Find the authkey: the argument, else QLOCK_AUTHKEY, else the bytes of the
 * file QLOCK_AUTHKEY_FILE names (one trailing newline dropped).
 */
static int
key_load(qlock *c, const char *authkey, uint8_t *key, size_t *keylen)
{
	const char	*path;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if (authkey == NULL && (authkey = getenv("QLOCK_AUTHKEY")) != NULL &&
	    *authkey == '\0')
		authkey = NULL;		/* set but empty: as if unset */
	if (authkey != NULL && *authkey != '\0') {
		len = strlen(authkey);
		if (len > AUTH_KEY_MAX)
			return fail(c, QLOCK_EAUTH, "authkey longer than %d "
			    "bytes", AUTH_KEY_MAX);
		memcpy(key, authkey, len);
		*keylen = len;
		return QLOCK_OK;
	}
	if (authkey != NULL)
		return fail(c, QLOCK_EAUTH, "empty authkey refused");
	path = getenv("QLOCK_AUTHKEY_FILE");
	if (path == NULL || *path == '\0')
		return fail(c, QLOCK_EAUTH, "no authkey: set QLOCK_AUTHKEY or "
		    "QLOCK_AUTHKEY_FILE");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return fail(c, QLOCK_EAUTH, "%s: %s", path, strerror(errno));
	/* Read up to one byte past the longest key with its newline. */
	while (len < AUTH_KEY_MAX + 2) {
		n = read(fd, key + len, AUTH_KEY_MAX + 2 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fail(c, QLOCK_EAUTH, "%s: %s", path, strerror(errno));
			close(fd);
			return QLOCK_EAUTH;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > 0 && key[len - 1] == '\n')
		len--;
	if (len > AUTH_KEY_MAX)
		return fail(c, QLOCK_EAUTH, "%s: authkey longer than %d bytes",
		    path, AUTH_KEY_MAX);
	if (len == 0)
		return fail(c, QLOCK_EAUTH, "%s: empty authkey refused", path);
	*keylen = len;
	return QLOCK_OK;
}

/* connect(2) on a blocking socket, finishing the connection if interrupted. */
static int
sock_connect(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct pollfd	pfd;
	socklen_t	elen;
	int		error;

	if (connect(fd, sa, salen) == 0)
		return 0;
	if (errno != EINTR && errno != EINPROGRESS)
		return -1;
	/* The connection goes on in the background: wait for its outcome. */
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (poll(&pfd, 1, -1) == -1) {
		if (errno != EINTR)
			return -1;
	}
	elen = sizeof(error);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &elen) == -1)
		return -1;
	if (error != 0) {
		errno = error;
		return -1;
	}
	return 0;
}

/* Connect to "unix:/PATH". */
static int
sock_open_unix(qlock *c, const char *address)
{
	struct sockaddr_un	 sun;
	const char		*path = address + 5;	/* after "unix:" */

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (*path == '\0')
		return fail(c, QLOCK_EINVAL, "%s: no socket path", address);
	if (strlen(path) >= sizeof(sun.sun_path))
		return fail(c, QLOCK_EINVAL, "%s: socket path too long",
		    address);
	memcpy(sun.sun_path, path, strlen(path));
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return fail(c, QLOCK_ECONN, "socket: %s", strerror(errno));
	if (sock_connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fail(c, QLOCK_ECONN, "%s: %s", address, strerror(errno));
		conn_drop(c);
		return QLOCK_ECONN;
	}
	return QLOCK_OK;
}

/* Split "HOST:PORT" or "[V6]:PORT" into host and port (pointers into buf). */
static int
addr_split(qlock *c, const char *address, char *buf, size_t bufsz,
    char **host, char **port)
{
	char	*colon, *close_br;

	if (strlen(address) >= bufsz)
		return fail(c, QLOCK_EINVAL, "%s: address too long", address);
	strcpy(buf, address);
	if (buf[0] == '[') {
		if ((close_br = strchr(buf, ']')) == NULL || close_br[1] != ':')
			return fail(c, QLOCK_EINVAL, "%s: expected [V6]:PORT",
			    address);
		*close_br = '\0';
		*host = buf + 1;
		*port = close_br + 2;
	} else {
		if ((colon = strrchr(buf, ':')) == NULL)
			return fail(c, QLOCK_EINVAL, "%s: expected HOST:PORT, "
			    "[V6]:PORT or unix:/PATH", address);
		*colon = '\0';
		*host = buf;
		*port = colon + 1;
		if (strchr(*host, ':') != NULL)
			return fail(c, QLOCK_EINVAL, "%s: an IPv6 address "
			    "goes in brackets: [V6]:PORT", address);
	}
	if (**host == '\0' || **port == '\0')
		return fail(c, QLOCK_EINVAL, "%s: expected HOST:PORT",
		    address);
	return QLOCK_OK;
}

/* Connect to "HOST:PORT" or "[V6]:PORT", trying each address it resolves to. */
static int
sock_open_tcp(qlock *c, const char *address)
{
	struct addrinfo	 hints, *res, *ai;
	char		 buf[NI_MAXHOST + 64];
	char		*host = NULL, *port = NULL;
	int		 st, error, saved = ECONNREFUSED, on = 1;

	if ((st = addr_split(c, address, buf, sizeof(buf), &host, &port)) != 0)
		return st;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		return fail(c, QLOCK_ECONN, "%s: %s", address,
		    error == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(error));
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (c->fd == -1) {
			saved = errno;
			continue;
		}
		/* Every request is one small frame: never let Nagle hold it. */
		if (sock_connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) == 0)
			break;
		saved = errno;
		conn_drop(c);
	}
	freeaddrinfo(res);
	if (c->fd == -1)
		return fail(c, QLOCK_ECONN, "%s: %s", address, strerror(saved));
	return QLOCK_OK;
}

/* Set how long a blocking recv may wait; 0 for ever. */
static void
sock_rcvtimeo(int fd, int secs)
{
	struct timeval	tv;

	tv.tv_sec = secs;
	tv.tv_usec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Run the client side of the authkey handshake to its end. */
static int
handshake(qlock *c, const uint8_t *key, size_t keylen)
{
	struct auth		a;
	enum auth_result	r;
	uint8_t			nonce[AUTH_NONCE_LEN], out[AUTH_MSG_MAX];
	size_t			inlen = 0, outlen;
	int			st;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return fail(c, QLOCK_EAUTH, "no random bytes for a challenge");
	auth_client_start(&a, key, keylen, nonce);
	/* A peer that is not qlockd may never speak: do not wait for ever. */
	sock_rcvtimeo(c->fd, HANDSHAKE_SECS);
	do {
		if ((st = frame_read(c, FRAME_MAX_PREAUTH, &inlen)) != 0)
			goto out;
		r = auth_input(&a, c->rbuf, inlen, out, &outlen);
		if (outlen > 0 &&
		    (st = frame_write_small(c, out, outlen)) != QLOCK_OK)
			goto out;
	} while (r == AUTH_CONTINUE);
	if (r == AUTH_FAIL) {
		st = fail(c, QLOCK_EAUTH, "handshake: %s",
		    auth_why_text(a.why));
		goto out;
	}
	sock_rcvtimeo(c->fd, 0);
	st = QLOCK_OK;
out:
	OPENSSL_cleanse(&a, sizeof(a));
	OPENSSL_cleanse(nonce, sizeof(nonce));
	OPENSSL_cleanse(out, sizeof(out));
	return st;
}

qlock *
qlock_connect(const char *address, const char *authkey, int *status)
{
	qlock	*c;
	uint8_t	 key[AUTH_KEY_MAX + 2];
	size_t	 keylen = 0;
	int	 st;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(connect_err, sizeof(connect_err), "out of memory");
		if (status != NULL)
			*status = QLOCK_ELIMIT;
		return NULL;
	}
	c->fd = -1;
	msgpack_sbuffer_init(&c->sbuf);
	msgpack_packer_init(&c->pk, &c->sbuf, msgpack_sbuffer_write);
	snprintf(c->err, sizeof(c->err), "no error");

	if (address == NULL)
		address = getenv("QLOCK_ADDRESS");
	if (address == NULL || *address == '\0')
		address = DEFAULT_ADDRESS;
	st = key_load(c, authkey, key, &keylen);
	if (st == QLOCK_OK) {
		if (strncmp(address, "unix:", 5) == 0)
			st = sock_open_unix(c, address);
		else
			st = sock_open_tcp(c, address);
	}
	if (st == QLOCK_OK)
		st = handshake(c, key, keylen);
	OPENSSL_cleanse(key, sizeof(key));
	if (status != NULL)
		*status = st;
	if (st != QLOCK_OK) {
		snprintf(connect_err, sizeof(connect_err), "%s", c->err);
		qlock_close(c);
		return NULL;
	}
	return c;
}

void
qlock_close(qlock *c)
{
	if (c == NULL)
		return;
	conn_drop(c);
	msgpack_sbuffer_destroy(&c->sbuf);
	free(c->rbuf);
	free(c);
}

const char *
qlock_strerror(int status)
{
	return status_text(status);
}

const char *
qlock_last_error(const qlock *c)
{
	if (c == NULL)
		return connect_err[0] != '\0' ? connect_err : "no error";
	return c->err;
}

/* Record a failed pack into the request buffer (the first one wins). */
static void
pk_check(qlock *c, int r)
{
	if (r != 0 && c->pkerr == 0)
		c->pkerr = fail(c, QLOCK_ELIMIT, "out of memory for a request");
}

static void
pk_str(qlock *c, const char *s)
{
	size_t	len = strlen(s);

	if (len > REQUEST_MAX) {
		if (c->pkerr == 0)
			c->pkerr = fail(c, QLOCK_ELIMIT, "a string of %zu "
			    "bytes is over the frame limit", len);
		return;
	}
	pk_check(c, msgpack_pack_str(&c->pk, len));
	pk_check(c, msgpack_pack_str_body(&c->pk, s, len));
}

static void
pk_bin(qlock *c, const void *p, size_t len)
{
	if (len > REQUEST_MAX) {
		if (c->pkerr == 0)
			c->pkerr = fail(c, QLOCK_ELIMIT, "a value of %zu bytes "
			    "is over the frame limit", len);
		return;
	}
	pk_check(c, msgpack_pack_bin(&c->pk, len));
	pk_check(c, msgpack_pack_bin_body(&c->pk, len > 0 ? p : "", len));
}

static void
pk_int(qlock *c, int64_t v)
{
	pk_check(c, msgpack_pack_int64(&c->pk, v));
}

static void
pk_bool(qlock *c, bool v)
{
	pk_check(c, v ? msgpack_pack_true(&c->pk) : msgpack_pack_false(&c->pk));
}

/* A timeout on the wire: negative for ever (as is +inf), 0 no wait. */
static void
pk_timeout(qlock *c, double timeout)
{
	if (timeout < 0 || isinf(timeout))
		timeout = QLOCK_FOREVER;
	pk_check(c, msgpack_pack_double(&c->pk, timeout));
}

/* Fail QLOCK_EINVAL for a NULL or empty name. */
static int
check_name(qlock *c, const char *what, const char *name)
{
	if (name == NULL || *name == '\0')
		return fail(c, QLOCK_EINVAL, "%s: empty name", what);
	return QLOCK_OK;
}

/* Fail QLOCK_EINVAL for a timeout that is not a number. */
static int
check_timeout(qlock *c, const char *what, double timeout)
{
	if (isnan(timeout))
		return fail(c, QLOCK_EINVAL, "%s: timeout is not a number",
		    what);
	return QLOCK_OK;
}

/* Start request [0, msgid, method, [...nparams]]; the caller packs params. */
static int
req_begin(qlock *c, const char *method, uint32_t nparams)
{
	static const char	zero[FRAME_HDR];

	if (c->fd == -1)
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
	pk_check(c, msgpack_sbuffer_write(&c->sbuf, zero, sizeof(zero)));
	pk_check(c, msgpack_pack_array(&c->pk, 4));
	pk_check(c, msgpack_pack_uint8(&c->pk, RPC_REQUEST));
	pk_check(c, msgpack_pack_uint64(&c->pk, ++c->msgid));
	pk_str(c, method);
	pk_check(c, msgpack_pack_array(&c->pk, nparams));
	return QLOCK_OK;
}

/* Protocol violation: the stream cannot be trusted any more. */
static int
violated(qlock *c, const char *what)
{
	fail(c, QLOCK_EPROTO, "bad response from the daemon: %s", what);
	conn_drop(c);
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
		return violated(c, "not one msgpack object");
	mp_reader_init(&r, c->rbuf, len);
	if (mp_read_array(&r, &n) == -1 || mp_read_uint(&r, &type) == -1)
		return violated(c, "not an msgpack-RPC message");
	if (type == RPC_NOTIFY && n == 3)
		return QLOCK_OK;
	if (type != RPC_RESPONSE || n != 4 || mp_read_uint(&r, &msgid) == -1)
		return violated(c, "not an msgpack-RPC response");
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
		return fail(c, QLOCK_EPROTO, "bad response from the daemon: "
		    "malformed error");
	st = status_from_name(code, codelen);
	if (st == QLOCK_OK)
		st = QLOCK_EPROTO;
	if (n >= 2 && mp_read_str(&r, &msg, &msglen) == 0 && msglen > 0)
		return fail(c, st, "%.*s", (int)msglen, msg);
	if (st == QLOCK_EPROTO && codelen > 0)
		return fail(c, st, "%.*s", (int)codelen, code);
	return fail(c, st, "%s", status_text(st));
}

/* Send the request built since req_begin and wait for its response. */
static int
req_call(qlock *c, struct mp_reader *res)
{
	size_t	len = 0, body;
	bool	mine;
	int	st;

	if (c->pkerr != 0)
		return c->pkerr;
	body = c->sbuf.size - FRAME_HDR;
	if (body > REQUEST_MAX)
		return fail(c, QLOCK_ELIMIT, "a request of %zu bytes is over "
		    "the frame limit", body);
	frame_put_header((uint8_t *)c->sbuf.data, body);
	if ((st = io_write(c, c->sbuf.data, c->sbuf.size)) != QLOCK_OK)
		return st;
	do {
		if ((st = frame_read(c, RESPONSE_MAX, &len)) != QLOCK_OK)
			return st;
		st = resp_parse(c, len, &mine, res);
		if (st != QLOCK_OK)
			return st;
	} while (!mine);
	return QLOCK_OK;
}

/* Call a method whose only parameter is a name. */
static int
call_name(qlock *c, const char *method, const char *name,
    struct mp_reader *res)
{
	int	st;

	if ((st = check_name(c, method, name)) != QLOCK_OK ||
	    (st = req_begin(c, method, 1)) != QLOCK_OK)
		return st;
	pk_str(c, name);
	return req_call(c, res);
}

/* Call a method whose parameters are a name and a timeout. */
static int
call_name_timeout(qlock *c, const char *method, const char *name,
    double timeout, struct mp_reader *res)
{
	int	st;

	if ((st = check_name(c, method, name)) != QLOCK_OK ||
	    (st = check_timeout(c, method, timeout)) != QLOCK_OK ||
	    (st = req_begin(c, method, 2)) != QLOCK_OK)
		return st;
	pk_str(c, name);
	pk_timeout(c, timeout);
	return req_call(c, res);
}

/* A result of the wrong type: the connection is in step, so keep it. */
static int
bad_result(qlock *c, const char *method)
{
	return fail(c, QLOCK_EPROTO, "bad response from the daemon: "
	    "unexpected result type for %s", method);
}

/* Read an integer result that must fit in [min, max]. */
static int
res_int(qlock *c, const char *method, struct mp_reader *res, int64_t min,
    int64_t max, int64_t *v)
{
	if (mp_read_int(res, v) == -1 || *v < min || *v > max)
		return bad_result(c, method);
	return QLOCK_OK;
}

/* Copy a value: str/bin payload, else its msgpack bytes; NUL-terminated. */
static int
res_value(qlock *c, struct mp_reader *res, void **out, size_t *outlen)
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
		return bad_result(c, "a value");
	if ((buf = malloc(n + 1)) == NULL)
		return fail(c, QLOCK_ELIMIT, "out of memory for a %zu-byte "
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
static int
res_raw(qlock *c, const char *method, struct mp_reader *res,
    enum mp_type want, void **out, size_t *outlen)
{
	const uint8_t	*raw;
	size_t		 n;
	uint8_t		*buf;

	if (mp_peek(res) != want || mp_skip(res, &raw, &n) == -1)
		return bad_result(c, method);
	if ((buf = malloc(n)) == NULL)
		return fail(c, QLOCK_ELIMIT, "out of memory for a %zu-byte "
		    "result", n);
	memcpy(buf, raw, n);
	*out = buf;
	*outlen = n;
	return QLOCK_OK;
}

int
qlock_ping(qlock *c)
{
	struct mp_reader	 res;
	const char		*s;
	uint32_t		 len;
	int			 st;

	if ((st = req_begin(c, "ping", 0)) != QLOCK_OK ||
	    (st = req_call(c, &res)) != QLOCK_OK)
		return st;
	if (mp_read_str(&res, &s, &len) == -1 || len != 4 ||
	    memcmp(s, "pong", 4) != 0)
		return bad_result(c, "ping");
	return QLOCK_OK;
}

/* Open flags: giveback=False is sent only when asked for, so opens stay
 * what older daemons accept. */
static bool
nogiveback(int flags)
{
	return (flags & QLOCK_NO_GIVEBACK) != 0;
}

int
qlock_queue_open(qlock *c, const char *name, long maxsize, int flags)
{
	struct mp_reader	res;
	int			st;

	if ((st = check_name(c, "queue.open", name)) != QLOCK_OK ||
	    (st = req_begin(c, "queue.open", nogiveback(flags) ? 4 : 3)) !=
	    QLOCK_OK)
		return st;
	pk_str(c, name);
	pk_int(c, maxsize);
	pk_bool(c, (flags & QLOCK_JOINABLE) != 0);
	if (nogiveback(flags))
		pk_bool(c, false);
	return req_call(c, &res);
}

int
qlock_queue_put(qlock *c, const char *name, const void *item, size_t len,
    double timeout)
{
	struct mp_reader	res;
	int			st;

	if ((st = check_name(c, "queue.put", name)) != QLOCK_OK ||
	    (st = check_timeout(c, "queue.put", timeout)) != QLOCK_OK)
		return st;
	if (item == NULL && len > 0)
		return fail(c, QLOCK_EINVAL, "queue.put: NULL item");
	if ((st = req_begin(c, "queue.put", 3)) != QLOCK_OK)
		return st;
	pk_str(c, name);
	pk_bin(c, item, len);
	pk_timeout(c, timeout);
	return req_call(c, &res);
}

int
qlock_queue_get(qlock *c, const char *name, void **item, size_t *len,
    double timeout)
{
	struct mp_reader	res;
	int			st;

	if (item == NULL)
		return fail(c, QLOCK_EINVAL, "queue.get: NULL item pointer");
	*item = NULL;
	if (len != NULL)
		*len = 0;
	if ((st = call_name_timeout(c, "queue.get", name, timeout, &res)) !=
	    QLOCK_OK)
		return st;
	return res_value(c, &res, item, len);
}

int
qlock_queue_size(qlock *c, const char *name, long *size)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if (size == NULL)
		return fail(c, QLOCK_EINVAL, "queue.size: NULL size pointer");
	if ((st = call_name(c, "queue.size", name, &res)) != QLOCK_OK ||
	    (st = res_int(c, "queue.size", &res, LONG_MIN, LONG_MAX, &v)) !=
	    QLOCK_OK)
		return st;
	*size = (long)v;
	return QLOCK_OK;
}

int
qlock_queue_task_done(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "queue.task_done", name, &res);
}

int
qlock_queue_join(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return call_name_timeout(c, "queue.join", name, timeout, &res);
}

int
qlock_lock_open(qlock *c, const char *name, int flags)
{
	struct mp_reader	res;
	int			st;

	if ((st = check_name(c, "lock.open", name)) != QLOCK_OK ||
	    (st = req_begin(c, "lock.open", nogiveback(flags) ? 3 : 2)) !=
	    QLOCK_OK)
		return st;
	pk_str(c, name);
	pk_bool(c, (flags & QLOCK_RECURSIVE) != 0);
	if (nogiveback(flags))
		pk_bool(c, false);
	return req_call(c, &res);
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

	if ((st = call_name_timeout(c, "lock.acquire", name, timeout, &res)) !=
	    QLOCK_OK)
		return st;
	if (token != NULL) {
		if (mp_read_uint(&res, &v) == -1)
			return bad_result(c, "lock.acquire");
		*token = v;
	}
	return QLOCK_OK;
}

int
qlock_lock_release(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "lock.release", name, &res);
}

int
qlock_sem_open(qlock *c, const char *name, long value, int flags)
{
	struct mp_reader	res;
	int			st;

	if ((st = check_name(c, "sem.open", name)) != QLOCK_OK ||
	    (st = req_begin(c, "sem.open", nogiveback(flags) ? 4 : 3)) !=
	    QLOCK_OK)
		return st;
	pk_str(c, name);
	pk_int(c, value);
	pk_bool(c, (flags & QLOCK_BOUNDED) != 0);
	if (nogiveback(flags))
		pk_bool(c, false);
	return req_call(c, &res);
}

int
qlock_sem_acquire(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return call_name_timeout(c, "sem.acquire", name, timeout, &res);
}

int
qlock_sem_release(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "sem.release", name, &res);
}

int
qlock_sem_value(qlock *c, const char *name, long *value)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if (value == NULL)
		return fail(c, QLOCK_EINVAL, "sem.value: NULL value pointer");
	if ((st = call_name(c, "sem.value", name, &res)) != QLOCK_OK ||
	    (st = res_int(c, "sem.value", &res, LONG_MIN, LONG_MAX, &v)) !=
	    QLOCK_OK)
		return st;
	*value = (long)v;
	return QLOCK_OK;
}

int
qlock_event_set(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "event.set", name, &res);
}

int
qlock_event_clear(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "event.clear", name, &res);
}

int
qlock_event_is_set(qlock *c, const char *name, int *is_set)
{
	struct mp_reader	res;
	bool			v;
	int			st;

	if (is_set == NULL)
		return fail(c, QLOCK_EINVAL, "event.is_set: NULL pointer");
	if ((st = call_name(c, "event.is_set", name, &res)) != QLOCK_OK)
		return st;
	if (mp_read_bool(&res, &v) == -1)
		return bad_result(c, "event.is_set");
	*is_set = v;
	return QLOCK_OK;
}

int
qlock_event_wait(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return call_name_timeout(c, "event.wait", name, timeout, &res);
}

int
qlock_cond_acquire(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return call_name_timeout(c, "cond.acquire", name, timeout, &res);
}

int
qlock_cond_release(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "cond.release", name, &res);
}

int
qlock_cond_wait(qlock *c, const char *name, double timeout)
{
	struct mp_reader	res;

	return call_name_timeout(c, "cond.wait", name, timeout, &res);
}

int
qlock_cond_notify(qlock *c, const char *name, int n)
{
	struct mp_reader	res;
	int			st;

	if ((st = check_name(c, "cond.notify", name)) != QLOCK_OK ||
	    (st = req_begin(c, "cond.notify", 2)) != QLOCK_OK)
		return st;
	pk_str(c, name);
	pk_int(c, n);
	return req_call(c, &res);
}

int
qlock_cond_notify_all(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "cond.notify_all", name, &res);
}

int
qlock_barrier_open(qlock *c, const char *name, int parties)
{
	struct mp_reader	res;
	int			st;

	if ((st = check_name(c, "barrier.open", name)) != QLOCK_OK ||
	    (st = req_begin(c, "barrier.open", 2)) != QLOCK_OK)
		return st;
	pk_str(c, name);
	pk_int(c, parties);
	return req_call(c, &res);
}

int
qlock_barrier_wait(qlock *c, const char *name, double timeout, int *index)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if ((st = call_name_timeout(c, "barrier.wait", name, timeout, &res)) !=
	    QLOCK_OK)
		return st;
	if (index != NULL) {
		if ((st = res_int(c, "barrier.wait", &res, INT_MIN, INT_MAX,
		    &v)) != QLOCK_OK)
			return st;
		*index = (int)v;
	}
	return QLOCK_OK;
}

int
qlock_barrier_abort(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "barrier.abort", name, &res);
}

int
qlock_barrier_reset(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "barrier.reset", name, &res);
}

/* Check a dict name and key, then start the request with them packed. */
static int
dict_begin(qlock *c, const char *method, const char *dict, const char *key,
    uint32_t nparams)
{
	int	st;

	if ((st = check_name(c, method, dict)) != QLOCK_OK)
		return st;
	if (key == NULL)
		return fail(c, QLOCK_EINVAL, "%s: NULL key", method);
	if ((st = req_begin(c, method, nparams)) != QLOCK_OK)
		return st;
	pk_str(c, dict);
	pk_str(c, key);
	return QLOCK_OK;
}

int
qlock_dict_set(qlock *c, const char *dict, const char *key, const void *val,
    size_t len)
{
	struct mp_reader	res;
	int			st;

	if (val == NULL && len > 0)
		return fail(c, QLOCK_EINVAL, "dict.set: NULL value");
	if ((st = dict_begin(c, "dict.set", dict, key, 3)) != QLOCK_OK)
		return st;
	pk_bin(c, val, len);
	return req_call(c, &res);
}

int
qlock_dict_get(qlock *c, const char *dict, const char *key, void **val,
    size_t *len)
{
	struct mp_reader	res;
	int			st;

	if (val == NULL)
		return fail(c, QLOCK_EINVAL, "dict.get: NULL value pointer");
	*val = NULL;
	if (len != NULL)
		*len = 0;
	if ((st = dict_begin(c, "dict.get", dict, key, 2)) != QLOCK_OK ||
	    (st = req_call(c, &res)) != QLOCK_OK)
		return st;
	return res_value(c, &res, val, len);
}

int
qlock_dict_del(qlock *c, const char *dict, const char *key)
{
	struct mp_reader	res;
	int			st;

	if ((st = dict_begin(c, "dict.del", dict, key, 2)) != QLOCK_OK)
		return st;
	return req_call(c, &res);
}

int
qlock_dict_len(qlock *c, const char *dict, long *len)
{
	struct mp_reader	res;
	int64_t			v;
	int			st;

	if (len == NULL)
		return fail(c, QLOCK_EINVAL, "dict.len: NULL length pointer");
	if ((st = call_name(c, "dict.len", dict, &res)) != QLOCK_OK ||
	    (st = res_int(c, "dict.len", &res, 0, LONG_MAX, &v)) != QLOCK_OK)
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
		return fail(c, QLOCK_EINVAL, "dict.keys: NULL pointer");
	*keys = NULL;
	*n = 0;
	if ((st = call_name(c, "dict.keys", dict, &res)) != QLOCK_OK)
		return st;
	if (mp_read_array(&res, &count) == -1)
		return bad_result(c, "dict.keys");
	/* count is bounded by the frame: mp_check saw a byte per key. */
	if ((v = calloc((size_t)count + 1, sizeof(*v))) == NULL)
		return fail(c, QLOCK_ELIMIT, "out of memory for %u keys",
		    count);
	for (i = 0; i < count; i++) {
		if (mp_read_bytes(&res, &s, &len) == -1) {
			keys_free(v, i);
			return bad_result(c, "dict.keys");
		}
		if ((v[i] = malloc((size_t)len + 1)) == NULL) {
			keys_free(v, i);
			return fail(c, QLOCK_ELIMIT, "out of memory for keys");
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
	pk_int(c, delta);
	if ((st = req_call(c, &res)) != QLOCK_OK)
		return st;
	if (mp_read_int(&res, &v) == -1)
		return bad_result(c, "dict.incr");
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
		return fail(c, QLOCK_EINVAL, "dict.get: NULL value pointer");
	if ((st = dict_begin(c, "dict.get", dict, key, 2)) != QLOCK_OK ||
	    (st = req_call(c, &res)) != QLOCK_OK)
		return st;
	if (mp_read_int(&res, &v) == -1)
		return fail(c, QLOCK_ETYPE, "dict.get: the value of %s is not "
		    "a 64-bit integer", key);
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
	pk_int(c, val);
	return req_call(c, &res);
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
		return fail(c, QLOCK_EINVAL, "dict.cas: NULL value");
	if ((st = dict_begin(c, "dict.cas", dict, key, 4)) != QLOCK_OK)
		return st;
	if (expected == NULL)
		pk_check(c, msgpack_pack_nil(&c->pk));	/* the key is absent */
	else
		pk_bin(c, expected, elen);
	pk_bin(c, val, len);
	if ((st = req_call(c, &res)) != QLOCK_OK)
		return st;
	if (mp_read_bool(&res, &v) == -1)
		return bad_result(c, "dict.cas");
	if (swapped != NULL)
		*swapped = v;
	return QLOCK_OK;
}

int
qlock_delete(qlock *c, const char *name)
{
	struct mp_reader	res;

	return call_name(c, "delete", name, &res);
}

int
qlock_stats_raw(qlock *c, void **buf, size_t *len)
{
	struct mp_reader	res;
	int			st;

	if (buf == NULL || len == NULL)
		return fail(c, QLOCK_EINVAL, "stats: NULL pointer");
	*buf = NULL;
	*len = 0;
	if ((st = req_begin(c, "stats", 0)) != QLOCK_OK ||
	    (st = req_call(c, &res)) != QLOCK_OK)
		return st;
	return res_raw(c, "stats", &res, MP_MAP, buf, len);
}

int
qlock_list_raw(qlock *c, void **buf, size_t *len)
{
	struct mp_reader	res;
	int			st;

	if (buf == NULL || len == NULL)
		return fail(c, QLOCK_EINVAL, "list: NULL pointer");
	*buf = NULL;
	*len = 0;
	if ((st = req_begin(c, "list", 0)) != QLOCK_OK ||
	    (st = req_call(c, &res)) != QLOCK_OK)
		return st;
	return res_raw(c, "list", &res, MP_ARRAY, buf, len);
}
