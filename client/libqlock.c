/*
 * libqlock.c: qlockd's C client: blocking, one request at a time. This
 * file holds the connection: sockets, frames, the handshake; lq_call.c
 * builds requests and reads results, lq_queue.c, lq_sync.c and lq_dict.c
 * hold the calls per kind of object.
 */
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
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth.h"
#include "clock.h"
#include "frame.h"
#include "lq_int.h"
#include "mp.h"
#include "qlock.h"
#include "sockopt.h"
#include "status.h"

#define DEFAULT_ADDRESS	"127.0.0.1:7450"

/* Why the last qlock_connect() of this thread failed: it has no qlock *. */
static _Thread_local char connect_err[ERR_MAX];

/* Record the text of a failure and return its status. */
int __attribute__((format(printf, 3, 4)))
lq_fail(qlock *c, int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return status;
}

/* Close the socket for good: every later call fails with QLOCK_ECONN. */
void
lq_conn_drop(qlock *c)
{
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Send all of buf; QLOCK_ECONN (and the connection dropped) on failure. */
int
lq_io_write(qlock *c, const void *buf, size_t len)
{
	if (frame_send_all(c->fd, buf, len) == -1) {
		lq_fail(c, QLOCK_ECONN, "send: %s", strerror(errno));
		lq_conn_drop(c);
		return QLOCK_ECONN;
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
			lq_fail(c, QLOCK_ECONN,
			    "connection closed by the daemon");
			lq_conn_drop(c);
			return QLOCK_ECONN;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				lq_fail(c, QLOCK_ECONN, "no handshake from the "
				    "daemon within the connect timeout of %g s",
				    c->ctimeout);
			else
				lq_fail(c, QLOCK_ECONN, "recv: %s",
				    strerror(errno));
			lq_conn_drop(c);
			return QLOCK_ECONN;
		}
		p += n;
		len -= (size_t)n;
	}
	return QLOCK_OK;
}

/* Read one frame of at most max bytes into rbuf; its length in *len. */
int
lq_frame_read(qlock *c, size_t max, size_t *len)
{
	uint8_t	 hdr[FRAME_HDR];
	uint8_t	*p;
	size_t	 n = 0;
	int	 st;

	if ((st = io_read(c, hdr, sizeof(hdr))) != QLOCK_OK)
		return st;
	if (frame_header(hdr, sizeof(hdr), max, &n) != FRAME_OK) {
		lq_fail(c, QLOCK_EPROTO, "the daemon sent a frame over the "
		    "%zu-byte limit", max);
		lq_conn_drop(c);
		return QLOCK_EPROTO;
	}
	if (n + 1 > c->rcap) {
		/* One spare byte so the buffer is never empty for malloc. */
		if ((p = realloc(c->rbuf, n + 1)) == NULL) {
			lq_fail(c, QLOCK_ELIMIT, "out of memory for a %zu-byte "
			    "response", n);
			/* The stream is out of step now. */
			lq_conn_drop(c);
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
		return lq_fail(c, QLOCK_EPROTO, "handshake message too long");
	frame_put_header(buf, len);
	memcpy(buf + FRAME_HDR, body, len);
	return lq_io_write(c, buf, FRAME_HDR + len);
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
			return lq_fail(c, QLOCK_EAUTH, "authkey longer than %d "
			    "bytes", AUTH_KEY_MAX);
		memcpy(key, authkey, len);
		*keylen = len;
		return QLOCK_OK;
	}
	if (authkey != NULL)
		return lq_fail(c, QLOCK_EAUTH, "empty authkey refused");
	path = getenv("QLOCK_AUTHKEY_FILE");
	if (path == NULL || *path == '\0')
		return lq_fail(c, QLOCK_EAUTH, "no authkey: set "
		    "QLOCK_AUTHKEY or QLOCK_AUTHKEY_FILE");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return lq_fail(c, QLOCK_EAUTH, "%s: %s", path, strerror(errno));
	/* Read up to one byte past the longest key with its newline. */
	while (len < AUTH_KEY_MAX + 2) {
		n = read(fd, key + len, AUTH_KEY_MAX + 2 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			lq_fail(c, QLOCK_EAUTH, "%s: %s", path,
			    strerror(errno));
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
		return lq_fail(c, QLOCK_EAUTH, "%s: authkey longer than "
		    "%d bytes", path, AUTH_KEY_MAX);
	if (len == 0)
		return lq_fail(c, QLOCK_EAUTH, "%s: empty authkey refused",
		    path);
	*keylen = len;
	return QLOCK_OK;
}

/* Seconds left before the connect deadline: -1 if none, 0 if past. */
static double
time_left(const qlock *c)
{
	double	left;

	if (c->ctimeout <= 0)
		return -1;
	left = c->deadline - now_mono();
	return left > 0 ? left : 0;
}

/*
 * connect(2) within the connect deadline (ETIMEDOUT past it), finishing
 * the connection if interrupted; the socket is left blocking.
 */
static int
sock_connect(qlock *c, const struct sockaddr *sa, socklen_t salen)
{
	struct pollfd	pfd;
	socklen_t	elen;
	double		left;
	int		error, flags, n;

	if ((flags = fcntl(c->fd, F_GETFL)) == -1 ||
	    fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return -1;
	if (connect(c->fd, sa, salen) == 0)
		goto done;
	if (errno != EINTR && errno != EINPROGRESS)
		return -1;
	/* The connection goes on in the background: wait for its outcome. */
	pfd.fd = c->fd;
	pfd.events = POLLOUT;
	for (;;) {
		left = time_left(c);
		n = poll(&pfd, 1, left < 0 ? -1 : (int)ceil(left * 1000));
		if (n == 1)
			break;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
	elen = sizeof(error);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &elen) == -1)
		return -1;
	if (error != 0) {
		errno = error;
		return -1;
	}
done:
	return fcntl(c->fd, F_SETFL, flags);
}

/* The failure to connect to address, errno saved. */
static int
sock_fail(qlock *c, const char *address, int saved)
{
	if (saved == ETIMEDOUT && c->ctimeout > 0)
		return lq_fail(c, QLOCK_ECONN, "%s: not connected within the "
		    "connect timeout of %g s", address, c->ctimeout);
	return lq_fail(c, QLOCK_ECONN, "%s: %s", address, strerror(saved));
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
		return lq_fail(c, QLOCK_EINVAL, "%s: no socket path", address);
	if (strlen(path) >= sizeof(sun.sun_path))
		return lq_fail(c, QLOCK_EINVAL, "%s: socket path too long",
		    address);
	memcpy(sun.sun_path, path, strlen(path));
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return lq_fail(c, QLOCK_ECONN, "socket: %s", strerror(errno));
	if (sock_connect(c, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		sock_fail(c, address, errno);
		lq_conn_drop(c);
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
		return lq_fail(c, QLOCK_EINVAL, "%s: address too long",
		    address);
	strcpy(buf, address);
	if (buf[0] == '[') {
		if ((close_br = strchr(buf, ']')) == NULL || close_br[1] != ':')
			return lq_fail(c, QLOCK_EINVAL,
			    "%s: expected [V6]:PORT", address);
		*close_br = '\0';
		*host = buf + 1;
		*port = close_br + 2;
	} else {
		if ((colon = strrchr(buf, ':')) == NULL)
			return lq_fail(c, QLOCK_EINVAL, "%s: expected "
			    "HOST:PORT, [V6]:PORT or unix:/PATH", address);
		*colon = '\0';
		*host = buf;
		*port = colon + 1;
		if (strchr(*host, ':') != NULL)
			return lq_fail(c, QLOCK_EINVAL, "%s: an IPv6 address "
			    "goes in brackets: [V6]:PORT", address);
	}
	if (**host == '\0' || **port == '\0')
		return lq_fail(c, QLOCK_EINVAL, "%s: expected HOST:PORT",
		    address);
	/* A number must be a port; other words are services' names. */
	if (strspn(*port, "0123456789") == strlen(*port) &&
	    (strlen(*port) > 5 || atoi(*port) < 1 || atoi(*port) > 65535))
		return lq_fail(c, QLOCK_EINVAL, "%s: invalid port %s (1 to "
		    "65535)", address, *port);
	return QLOCK_OK;
}

/* Connect to "HOST:PORT" or "[V6]:PORT", trying each address it resolves to. */
/* Idle seconds before probing the daemon: QLOCK_KEEPALIVE (0: off),
 * else QLOCK_KEEPALIVE_DEFAULT. */
static int
env_keepalive(void)
{
	const char	*s = getenv("QLOCK_KEEPALIVE");
	char		*end;
	long		 v;

	if (s == NULL || *s == '\0')
		return QLOCK_KEEPALIVE_DEFAULT;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < 0 || v > 7200)
		return QLOCK_KEEPALIVE_DEFAULT;
	return (int)v;
}

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
		return lq_fail(c, QLOCK_ECONN, "%s: %s", address,
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
		if (sock_connect(c, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) == 0)
			break;
		saved = errno;
		lq_conn_drop(c);
		if (time_left(c) == 0)
			break;		/* no time for the next address */
	}
	freeaddrinfo(res);
	if (c->fd == -1)
		return sock_fail(c, address, saved);
	/* A daemon host that vanished silently fails a blocked call with
	 * QLOCK_ECONN instead of leaving it waiting for ever. */
	(void)sock_keepalive(c->fd, env_keepalive());
	return QLOCK_OK;
}

/* Let a blocking recv wait at most what is left of the connect timeout
 * (for ever without one); QLOCK_ECONN if it is over. */
static int
sock_rcvtimeo(qlock *c)
{
	struct timeval	tv = { 0, 0 };
	double		left = time_left(c);

	if (left == 0)
		return lq_fail(c, QLOCK_ECONN, "no handshake from the daemon "
		    "within the connect timeout of %g s", c->ctimeout);
	if (left > 0) {
		tv.tv_sec = (time_t)left;
		tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			tv.tv_usec = 1;		/* 0 would be for ever */
	}
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return QLOCK_OK;
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
		return lq_fail(c, QLOCK_EAUTH,
		    "no random bytes for a challenge");
	auth_client_start(&a, key, keylen, nonce);
	/* A peer that is not qlockd may never speak: the connect timeout
	 * bounds the handshake as a whole. */
	do {
		if ((st = sock_rcvtimeo(c)) != QLOCK_OK ||
		    (st = lq_frame_read(c, FRAME_MAX_PREAUTH, &inlen)) != 0)
			goto out;
		r = auth_input(&a, c->rbuf, inlen, out, &outlen);
		if (outlen > 0 &&
		    (st = frame_write_small(c, out, outlen)) != QLOCK_OK)
			goto out;
	} while (r == AUTH_CONTINUE);
	if (r == AUTH_FAIL) {
		st = lq_fail(c, QLOCK_EAUTH, "handshake: %s",
		    auth_why_text(a.why));
		goto out;
	}
	c->ctimeout = 0;		/* requests wait as long as they ask */
	(void)sock_rcvtimeo(c);
	st = QLOCK_OK;
out:
	OPENSSL_cleanse(&a, sizeof(a));
	OPENSSL_cleanse(nonce, sizeof(nonce));
	OPENSSL_cleanse(out, sizeof(out));
	return st;
}

/* The connect timeout of QLOCK_CONNECT_TIMEOUT, else the default; -1 if
 * the variable is not a number of seconds. */
static int
env_connect_timeout(double *timeout)
{
	const char	*s = getenv("QLOCK_CONNECT_TIMEOUT");
	char		*end;

	*timeout = QLOCK_CONNECT_TIMEOUT_DEFAULT;
	if (s == NULL || *s == '\0')
		return 0;
	errno = 0;
	*timeout = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || isnan(*timeout))
		return -1;
	return 0;
}

/* Open another connection of c's, to address with c's key (an owner's,
 * for routing): its socket, or -1 with c->err saying why.  c->fd is left
 * as it was. */
int
lq_conn_open(qlock *c, const char *address)
{
	int	first = c->fd, fd, st;

	c->fd = -1;
	if (c->otimeout > 0) {
		c->ctimeout = c->otimeout;
		c->deadline = now_mono() + c->otimeout;
	}
	if (strncmp(address, "unix:", 5) == 0)
		st = sock_open_unix(c, address);
	else
		st = sock_open_tcp(c, address);
	if (st == QLOCK_OK)
		st = handshake(c, c->key, c->keylen);
	if (st != QLOCK_OK)
		lq_conn_drop(c);
	fd = c->fd;
	c->fd = first;
	c->ctimeout = 0;
	return fd;
}

qlock *
qlock_connect(const char *address, const char *authkey, int *status)
{
	double	timeout;

	if (env_connect_timeout(&timeout) == -1) {
		snprintf(connect_err, sizeof(connect_err), "QLOCK_CONNECT_TIMEOUT"
		    ": not a number of seconds: %s",
		    getenv("QLOCK_CONNECT_TIMEOUT"));
		if (status != NULL)
			*status = QLOCK_EINVAL;
		return NULL;
	}
	return qlock_connect_timeout(address, authkey, timeout, status);
}

/* Whether address lists several (comma-separated) addresses: each piece
 * looks like one.  A unix socket path with a comma in it, alone, is one
 * address as it always was. */
static bool
addr_is_list(const char *address)
{
	const char	*p = strchr(address, ','), *e;
	size_t		 n;

	if (p == NULL)
		return false;
	while (p != NULL) {
		p++;
		while (*p == ' ')
			p++;
		e = strchr(p, ',');
		n = e == NULL ? strlen(p) : (size_t)(e - p);
		if (strncmp(p, "unix:", 5) != 0 && memchr(p, ':', n) == NULL)
			return false;
		p = e;
	}
	return true;
}

/* Open and authenticate the first connection: to address, or to the
 * first of its addresses that completes the handshake, each within the
 * connect timeout (0, negative or infinite: no limit); c->at says which. */
static int
conn_first(qlock *c, const char *address, const uint8_t *key,
    size_t keylen, double timeout)
{
	const char	*list = address, *a;
	char		 buf[1024];
	bool		 one = !addr_is_list(address);
	int		 st = QLOCK_EINVAL;

	if ((c->members = strdup(address)) == NULL)
		return lq_fail(c, QLOCK_ELIMIT, "out of memory");
	if (!one && list[strspn(list, ", ")] == '\0')
		return lq_fail(c, QLOCK_EINVAL, "%s: no address", address);
	while (one ? list != NULL : lq_addr_next(&list, buf, sizeof(buf))) {
		a = one ? address : buf;
		list = one ? NULL : list;
		lq_conn_drop(c);
		if (timeout > 0 && !isinf(timeout)) {
			c->ctimeout = timeout;
			c->deadline = now_mono() + timeout;
		}
		if (strncmp(a, "unix:", 5) == 0)
			st = sock_open_unix(c, a);
		else
			st = sock_open_tcp(c, a);
		if (st == QLOCK_OK)
			st = handshake(c, key, keylen);
		if (st == QLOCK_OK) {
			if ((c->at = strdup(a)) == NULL)
				st = lq_fail(c, QLOCK_ELIMIT, "out of memory");
			return st;
		}
	}
	return st;
}

qlock *
qlock_connect_timeout(const char *address, const char *authkey,
    double timeout, int *status)
{
	qlock	*c;
	uint8_t	 key[AUTH_KEY_MAX + 2];
	size_t	 keylen = 0;
	int	 st;

	if (isnan(timeout)) {
		snprintf(connect_err, sizeof(connect_err), "connect timeout "
		    "is not a number");
		if (status != NULL)
			*status = QLOCK_EINVAL;
		return NULL;
	}

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
	if (st == QLOCK_OK)
		st = conn_first(c, address, key, keylen, timeout);
	if (st == QLOCK_OK) {
		memcpy(c->key, key, keylen);
		c->keylen = keylen;
		if (timeout > 0 && !isinf(timeout))
			c->otimeout = timeout;
		lq_route_init(c, c->at);
	}
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
	lq_conn_drop(c);
	lq_route_free(c);
	free(c->members);
	free(c->at);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	msgpack_sbuffer_destroy(&c->sbuf);
	free(c->rbuf);
	free(c);
}

int
qlock_fileno(const qlock *c, const char *name)
{
	return c == NULL ? -1 : lq_route_name_fd(c, name);
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
