/* qb_raw.c: qlock-bench's raw connections: the daemon's framing and
 * msgpack, and Redis's RESP (--redis). */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "auth.h"
#include "frame.h"
#include "mp.h"
#include "qlock.h"
#include "qb.h"

/* Connect a socket to HOST:PORT, [V6]:PORT or unix:/PATH; -1 on failure. */
static int
raw_socket(const char *address)
{
	struct addrinfo	 hints, *res, *ai;
	char		 host[256], *port, *p;
	int		 fd = -1, on = 1;

	if (strncmp(address, "unix:", 5) == 0) {
		struct sockaddr_un	sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(address + 5) >= sizeof(sun.sun_path))
			return -1;
		strcpy(sun.sun_path, address + 5);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (strlen(address) >= sizeof(host))
		return -1;
	strcpy(host, address[0] == '[' ? address + 1 : address);
	if ((port = strrchr(host, ':')) == NULL)
		return -1;
	*port++ = '\0';
	if ((p = strchr(host, ']')) != NULL)
		*p = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	/* As libqlock: a batch is one write, but never let Nagle hold one. */
	if (fd != -1)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

/* Send all of buf; -1 on failure. */
int
raw_write(struct raw *r, const void *buf, size_t len)
{
	return frame_send_all(r->fd, buf, len);
}

/* The next whole frame already received (its body, valid until the next
 * raw_fill), or NULL; *bad is set if its header is not acceptable. */
const uint8_t *
raw_next(struct raw *r, size_t max, size_t *len, bool *bad)
{
	size_t		 body = 0;
	const uint8_t	*p;

	*bad = false;
	if (r->inlen - r->inpos < FRAME_HDR)
		return NULL;
	if (frame_header(r->in + r->inpos, FRAME_HDR, max, &body) != FRAME_OK) {
		*bad = true;
		return NULL;
	}
	if (r->inlen - r->inpos - FRAME_HDR < body)
		return NULL;
	p = r->in + r->inpos + FRAME_HDR;
	r->inpos += FRAME_HDR + body;
	*len = body;
	return p;
}

/* One recv into r->in, with room for the whole frame under way (max 0:
 * the input is not framed); recv's result (-1 with ENOMEM if no room). */
ssize_t
raw_fill(struct raw *r, size_t max)
{
	size_t	 body = 0;
	uint8_t	*p;

	/* Move what is unread to the front, and make room. */
	if (r->inpos > 0) {
		memmove(r->in, r->in + r->inpos, r->inlen - r->inpos);
		r->inlen -= r->inpos;
		r->inpos = 0;
	}
	if (max == 0 || frame_header(r->in, r->inlen, max, &body) != FRAME_OK)
		body = 0;
	if (r->incap - r->inlen < FRAME_HDR + body + 65536) {
		r->incap = r->inlen + FRAME_HDR + body + 65536;
		if ((p = realloc(r->in, r->incap)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		r->in = p;
	}
	return recv(r->fd, r->in + r->inlen, r->incap - r->inlen, 0);
}

/* The next frame's body (valid until the next call), or NULL on failure. */
const uint8_t *
raw_frame(struct raw *r, size_t max, size_t *len)
{
	const uint8_t	*p;
	ssize_t		 n;
	bool		 bad;

	for (;;) {
		if ((p = raw_next(r, max, len, &bad)) != NULL)
			return p;
		if (bad)
			return NULL;
		n = raw_fill(r, max);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		r->inlen += (size_t)n;
	}
}

/* Connect, no handshake (Redis's is none); -1 on failure. */
int
raw_open(struct raw *r, const char *address, double timeout)
{
	struct timeval	tv;

	memset(r, 0, sizeof(*r));
	msgpack_sbuffer_init(&r->out);
	if ((r->fd = raw_socket(address)) == -1)
		return -1;
	/* A stuck server must not hold the benchmark for ever. */
	tv.tv_sec = (time_t)timeout;
	tv.tv_usec = 0;
	(void)setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(r->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

/* Connect and run the authkey handshake; -1 on failure. */
int
raw_connect(struct raw *r, const char *address, const char *key,
    double timeout)
{
	struct auth		a;
	enum auth_result	res;
	uint8_t			nonce[AUTH_NONCE_LEN], out[FRAME_HDR + AUTH_MSG_MAX];
	const uint8_t		*in;
	size_t			inlen, outlen;
	int			fd;

	if (raw_open(r, address, timeout) == -1)
		return -1;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (read(fd, nonce, sizeof(nonce)) != (ssize_t)sizeof(nonce)) {
		close(fd);
		return -1;
	}
	close(fd);
	auth_client_start(&a, key, strlen(key), nonce);
	do {
		if ((in = raw_frame(r, FRAME_MAX_PREAUTH, &inlen)) == NULL)
			return -1;
		res = auth_input(&a, in, inlen, out + FRAME_HDR, &outlen);
		if (outlen > 0) {
			frame_put_header(out, outlen);
			if (raw_write(r, out, FRAME_HDR + outlen) == -1)
				return -1;
		}
	} while (res == AUTH_CONTINUE);
	return res == AUTH_OK ? 0 : -1;
}

void
raw_close(struct raw *r)
{
	if (r->fd != -1)
		close(r->fd);
	msgpack_sbuffer_destroy(&r->out);
	free(r->in);
}

/* Append one framed request [0, msgid, method, [name, (item,) timeout]]
 * ([0, msgid, method, []] without a name). */
void
raw_pack(struct raw *r, const char *method, const char *name,
    const void *item, size_t len, double timeout)
{
	static const char	zero[FRAME_HDR];
	msgpack_packer		pk;
	size_t			start = r->out.size;

	msgpack_packer_init(&pk, &r->out, msgpack_sbuffer_write);
	msgpack_sbuffer_write(&r->out, zero, sizeof(zero));
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint64(&pk, ++r->msgid);
	msgpack_pack_str_with_body(&pk, method, strlen(method));
	if (name == NULL)
		msgpack_pack_array(&pk, 0);
	else {
		msgpack_pack_array(&pk, (item != NULL ? 2 : 1) +
		    (timeout != RAW_NO_TIMEOUT ? 1 : 0));
		msgpack_pack_str_with_body(&pk, name, strlen(name));
		if (item != NULL)
			msgpack_pack_bin_with_body(&pk, item, len);
		if (timeout != RAW_NO_TIMEOUT)
			msgpack_pack_double(&pk, timeout);
	}
	frame_put_header((uint8_t *)r->out.data + start,
	    r->out.size - start - FRAME_HDR);
}

/* Check one response: 0 for a success, -1 (with why) otherwise.  On
 * success *res is the result if it is bytes, NULL if not. */
int
raw_response(const uint8_t *body, size_t len, char *why, size_t whylen,
    const void **res, uint32_t *reslen)
{
	struct mp_reader	 rd;
	uint32_t		 n;
	uint64_t		 type, msgid;
	const char		*code;

	mp_reader_init(&rd, body, len);
	if (mp_check(body, len) == -1 || mp_read_array(&rd, &n) == -1 ||
	    n != 4 || mp_read_uint(&rd, &type) == -1 || type != 1 ||
	    mp_read_uint(&rd, &msgid) == -1) {
		snprintf(why, whylen, "malformed response");
		return -1;
	}
	if (mp_read_nil(&rd) == 0) {
		if (mp_read_bytes(&rd, res, reslen) == -1)
			*res = NULL;
		return 0;
	}
	if (mp_read_array(&rd, &n) == 0 && n >= 1 &&
	    mp_read_str(&rd, &code, &n) == 0)
		snprintf(why, whylen, "error %.*s", (int)n, code);
	else
		snprintf(why, whylen, "malformed error");
	return -1;
}

/* ---- the daemon's counters ---------------------------------------------- */

/* Read the daemon's "requests" and "forwarded" counters (all workers). */
static void
resp_pack(struct raw *r, int n, const void *const *arg, const size_t *len)
{
	char	head[32];
	int	i, k;

	k = snprintf(head, sizeof(head), "*%d\r\n", n);
	msgpack_sbuffer_write(&r->out, head, (size_t)k);
	for (i = 0; i < n; i++) {
		k = snprintf(head, sizeof(head), "$%zu\r\n", len[i]);
		msgpack_sbuffer_write(&r->out, head, (size_t)k);
		msgpack_sbuffer_write(&r->out, arg[i], len[i]);
		msgpack_sbuffer_write(&r->out, "\r\n", 2);
	}
}

/* The request for a ping, put (LPUSH) or get (RPOP) in RESP. */
void
resp_request(struct raw *r, const char *method, const char *name,
    const void *item, size_t size)
{
	const void	*arg[3];
	size_t		 len[3];

	if (name == NULL) {
		arg[0] = "PING";
		len[0] = 4;
		resp_pack(r, 1, arg, len);
		return;
	}
	/* A lock: SETNX (1 taken, 0 held by another: try again), DEL. */
	if (strcmp(method, "lock.acquire") == 0) {
		arg[0] = "SETNX";
		item = "1";
		size = 1;
	} else if (strcmp(method, "lock.release") == 0)
		arg[0] = "DEL";
	else if (strcmp(method, "queue.bget") == 0)
		arg[0] = "BRPOP";	/* item: the timeout, as text */
	else
		arg[0] = strcmp(method, "queue.put") == 0 ? "LPUSH" : "RPOP";
	len[0] = strlen(arg[0]);
	arg[1] = name;
	len[1] = strlen(name);
	arg[2] = item;
	len[2] = size;
	resp_pack(r, item != NULL ? 3 : 2, arg, len);
}

/*
 * The next whole RESP reply already received, or 0 if there is none yet;
 * 1 for a success (*res: a bulk string's bytes, or NULL), -1 for an error
 * reply, -2 for what is not a reply of these commands (both with why).
 */
/* A bulk string at p of avail bytes: its length in *len and its bytes
 * after *hdr; 0 if incomplete, -1 if malformed. */
static int
resp_bulk(const uint8_t *p, size_t avail, size_t *hdr, long long *len)
{
	const uint8_t	*eol;
	char		*end;

	if ((eol = memchr(p, '\n', avail)) == NULL)
		return 0;
	*hdr = (size_t)(eol - p) + 1;
	if (p[0] != '$' || *hdr < 4)
		return -1;
	*len = strtoll((const char *)p + 1, &end, 10);
	if (end != (const char *)eol - 1 || *len < 0 ||
	    *len > (long long)RESPONSE_MAX)
		return -1;
	return avail >= *hdr + (size_t)*len + 2 ? 1 : 0;
}

/* The [key, value] array whose header is line bytes long: 1 with the
 * value in *res, 0 if incomplete, -2 if malformed. */
static int
resp_pair(struct raw *r, size_t line, const void **res, uint32_t *reslen,
    char *why, size_t whylen)
{
	const uint8_t	*p = r->in + r->inpos + line;
	size_t		 avail = r->inlen - r->inpos - line, h1, h2;
	long long	 l1, l2;
	int		 rc;

	if ((rc = resp_bulk(p, avail, &h1, &l1)) == 1) {
		p += h1 + (size_t)l1 + 2;
		avail -= h1 + (size_t)l1 + 2;
		rc = resp_bulk(p, avail, &h2, &l2);
	}
	if (rc == -1) {
		snprintf(why, whylen, "malformed array reply");
		return -2;
	}
	if (rc == 0)
		return 0;
	*res = p + h2;
	*reslen = (uint32_t)l2;
	r->inpos = (size_t)(p + h2 + (size_t)l2 + 2 - r->in);
	return 1;
}

int
resp_next(struct raw *r, const void **res, uint32_t *reslen, char *why,
    size_t whylen)
{
	const uint8_t	*p = r->in + r->inpos, *eol;
	size_t		 avail = r->inlen - r->inpos, line;
	long long	 n;
	char		*end;

	*res = NULL;
	if ((eol = memchr(p, '\n', avail)) == NULL)
		return avail > 64 ? (snprintf(why, whylen, "reply line too "
		    "long"), -2) : 0;
	line = (size_t)(eol - p) + 1;
	if (line < 3 || p[line - 2] != '\r') {
		snprintf(why, whylen, "malformed reply");
		return -2;
	}
	switch (p[0]) {
	case ':':			/* the digits, for SETNX */
		*res = p + 1;
		*reslen = (uint32_t)(line - 3);
		r->inpos += line;
		return 1;
	case '+':
		r->inpos += line;
		return 1;
	case '*':		/* BRPOP: nil, or [key, value]: the value */
		n = strtoll((const char *)p + 1, &end, 10);
		if (end != (const char *)p + line - 2 || (n != -1 && n != 2)) {
			snprintf(why, whylen, "unexpected array reply");
			return -2;
		}
		if (n == -1) {
			r->inpos += line;
			return 1;
		}
		return resp_pair(r, line, res, reslen, why, whylen);
	case '-':
		snprintf(why, whylen, "error %.*s", (int)(line - 3), p + 1);
		r->inpos += line;
		return -1;
	case '$':
		n = strtoll((const char *)p + 1, &end, 10);
		if (end != (const char *)p + line - 2 || n < -1 ||
		    n > (long long)RESPONSE_MAX) {
			snprintf(why, whylen, "malformed bulk reply");
			return -2;
		}
		if (n == -1) {
			r->inpos += line;
			return 1;
		}
		if (avail < line + (size_t)n + 2)
			return 0;
		*res = p + line;
		*reslen = (uint32_t)n;
		r->inpos += line + (size_t)n + 2;
		return 1;
	default:
		snprintf(why, whylen, "unexpected reply type '%c'", p[0]);
		return -2;
	}
}
