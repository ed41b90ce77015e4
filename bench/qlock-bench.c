/* qlock-bench.c: load a running qlockd from many client processes and
 * print each test's rate and latency percentiles, as redis-benchmark does. */
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

#define DEFAULT_ADDRESS	"127.0.0.1:7450"
#define MAX_CLIENTS	512
#define MAX_QUEUES	1024
#define MAX_REQUESTS	20000000L	/* samples are kept: 4 bytes each */
#define MAX_DEPTH	4096
#define MAX_SIZE	(16L * 1024 * 1024)
#define NAME_LEN	96
#define ERR_LEN		200
#define GET_WAIT	0.5	/* seconds a get waits before the clock is checked */
#define PROBE_TRIES	64	/* candidate names tried per wanted name */
#define READY_GRACE	30.0	/* seconds clients have to connect (and probe) */
#define EXIT_GRACE	10.0	/* seconds past --max-seconds before clients are killed */
#define RESPONSE_MAX	(64u * 1024 * 1024)

enum test { T_PING, T_ROUNDTRIP, T_PIPELINE, T_PRODCONS, T_PUT, T_NTESTS };
static const char *const test_names[T_NTESTS] = {
	"ping", "roundtrip", "pipeline", "prodcons", "put"
};

/* Which queue names a roundtrip or pipeline client uses. */
enum placement {
	PLACE_ANY,	/* whatever the names hash to */
	PLACE_LOCAL,	/* only names the client's own worker owns */
	PLACE_REMOTE,	/* only names another worker owns: every request forwarded */
};

/* The command line. */
struct opts {
	const char	*address;	/* -a, $QLOCK_ADDRESS, DEFAULT_ADDRESS */
	char		*key;		/* the authkey, NUL-terminated */
	int		 clients;	/* connections */
	int		 procs;		/* processes they are spread over */
	bool		 poll;		/* polling clients (--procs or --redis) */
	bool		 redis;		/* the server is Redis: RESP, no key */
	long		 requests;	/* units per test, over all clients */
	size_t		 size;		/* bytes per queue item */
	int		 queues;	/* names per client (roundtrip, pipeline) or shared (prodcons) */
	int		 depth;		/* requests per pipelined batch */
	double		 max_seconds;	/* each test stops by itself after this */
	enum placement	 placement;
	unsigned	 tests;		/* bit (1 << enum test) per test to run */
	char		 prefix[40];	/* start of every queue name */
	bool		 csv;		/* machine-readable lines */
	const char	*dump;		/* write each test's samples to DUMP.<test> */
};

/* What the parent and the client processes share (MAP_SHARED). */
struct shared {
	double	 start[MAX_CLIENTS];	/* when each client began, CLOCK_MONOTONIC s */
	double	 end[MAX_CLIENTS];	/* when it finished its last unit */
	long	 units[MAX_CLIENTS];	/* units completed by each client */
	long	 errors[MAX_CLIENTS];	/* failed calls per client */
	char	 err[MAX_CLIENTS][ERR_LEN]; /* the text of each one's first failure */
	int	 timed_out[MAX_CLIENTS]; /* stopped by --max-seconds */
	int	 cancel;		/* set by the parent: do not start */
	long	 nsamples;		/* next free slot in samples (atomic) */
	long	 claimed[MAX_QUEUES];	/* prodcons: gets promised per queue (atomic) */
	long	 dups;			/* prodcons: items received twice (atomic) */
	long	 bad;			/* prodcons: items that are not what was put (atomic) */
};

/* One test run: options, shared memory, and this process's role. */
struct bench {
	struct opts	 o;
	enum test	 test;
	struct shared	*sh;
	float		*samples;	/* latency of each unit, microseconds */
	size_t		 ncap;		/* room in samples */
	uint64_t	*seen;		/* prodcons: one bit per item */
	size_t		 nseen;		/* words in seen */
	int		 readyw;	/* client -> parent: 'r' ready, 'e' failed */
	int		 gor;		/* closed by the parent: start */
	int		 tokr, tokw;	/* a one-byte token: one client probes at a time */
	int		 id;		/* client number, in a client */
};

/* A connection that speaks the protocol itself, for pipelining
 * (libqlock waits for each answer before the next request). */
struct raw {
	int		 fd;
	uint64_t	 msgid;		/* of the last request packed */
	msgpack_sbuffer	 out;		/* the batch being built */
	uint8_t		*in;		/* bytes received, from inpos to inlen unread */
	size_t		 inpos, inlen, incap;
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "qlock-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Record a client's failure: counted, and the first one's text kept. */
static void __attribute__((format(printf, 2, 3)))
client_fail(struct bench *b, const char *fmt, ...)
{
	va_list	ap;

	b->sh->errors[b->id]++;
	if (b->sh->err[b->id][0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(b->sh->err[b->id], ERR_LEN, fmt, ap);
	va_end(ap);
}

/* Keep one latency sample, if there is room. */
static void
sample_add(struct bench *b, double seconds)
{
	long	i = __atomic_fetch_add(&b->sh->nsamples, 1, __ATOMIC_RELAXED);

	if (i >= 0 && (size_t)i < b->ncap)
		b->samples[i] = (float)(seconds * 1e6);
}

/* Queue name number k of client id (id -1: shared by all clients). */
static void
name_make(const struct bench *b, int id, long k, char *buf)
{
	if (id < 0)
		snprintf(buf, NAME_LEN, "%s.%s.%ld", b->o.prefix,
		    test_names[b->test], k);
	else
		snprintf(buf, NAME_LEN, "%s.%s.%d.%ld", b->o.prefix,
		    test_names[b->test], id, k);
}

/* Fill an item: bytes 0-7 its number, 8-15 when it was put (ns), then 'x'. */
static void
item_fill(uint8_t *item, size_t size, uint64_t n)
{
	struct timespec	ts;
	uint64_t	ns;

	if (size >= 8)
		memcpy(item, &n, 8);
	if (size >= 16) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		memcpy(item + 8, &ns, 8);
	}
}

/* Read the authkey file: its bytes, one trailing newline dropped. */
static char *
key_read(const char *path)
{
	char	buf[AUTH_KEY_MAX + 2];
	size_t	len = 0;
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("%s: %s", path, strerror(errno));
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("%s: %s", path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len > AUTH_KEY_MAX || memchr(buf, '\0', len) != NULL)
		die("%s: the authkey must be 1 to %d bytes, without NUL",
		    path, AUTH_KEY_MAX);
	buf[len] = '\0';
	return strdup(buf);
}

/* ---- the raw connection (pipeline test) -------------------------------- */

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
static int
raw_write(struct raw *r, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(r->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The next whole frame already received (its body, valid until the next
 * raw_fill), or NULL; *bad is set if its header is not acceptable. */
static const uint8_t *
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
static ssize_t
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
static const uint8_t *
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
static int
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
static int
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

static void
raw_close(struct raw *r)
{
	if (r->fd != -1)
		close(r->fd);
	msgpack_sbuffer_destroy(&r->out);
	free(r->in);
}

/* Append one framed request [0, msgid, method, [name, (item,) timeout]]
 * ([0, msgid, method, []] without a name). */
static void
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
		msgpack_pack_array(&pk, item != NULL ? 3 : 2);
		msgpack_pack_str_with_body(&pk, name, strlen(name));
		if (item != NULL)
			msgpack_pack_bin_with_body(&pk, item, len);
		msgpack_pack_double(&pk, timeout);
	}
	frame_put_header((uint8_t *)r->out.data + start,
	    r->out.size - start - FRAME_HDR);
}

/* Check one response: 0 for a success, -1 (with why) otherwise.  On
 * success *res is the result if it is bytes, NULL if not. */
static int
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
static int
stats_read(qlock *c, uint64_t *requests, uint64_t *forwarded)
{
	struct mp_reader	 rd;
	const char		*k;
	uint32_t		 n, klen, i;
	uint64_t		 v;
	void			*buf;
	size_t			 len;
	int			 st;

	if ((st = qlock_stats_raw(c, &buf, &len)) != QLOCK_OK)
		return st;
	*requests = *forwarded = 0;
	mp_reader_init(&rd, buf, len);
	if (mp_read_map(&rd, &n) == -1)
		n = 0;
	for (i = 0; i < n; i++) {
		if (mp_read_str(&rd, &k, &klen) == -1)
			break;
		if (mp_read_uint(&rd, &v) == -1) {
			if (mp_skip(&rd, NULL, NULL) == -1)
				break;
			continue;
		}
		if (klen == 8 && memcmp(k, "requests", 8) == 0)
			*requests = v;
		else if (klen == 9 && memcmp(k, "forwarded", 9) == 0)
			*forwarded = v;
	}
	free(buf);
	return QLOCK_OK;
}

/*
 * Choose a client's queue names.  With a placement, ask the size of one
 * candidate name after another and watch the daemon's forwarded counter:
 * it moves when the name's owner is another worker.  The caller holds the
 * probe token, so no other client's traffic moves the counter meanwhile.
 */
static int
names_choose(struct bench *b, qlock *c, char (*names)[NAME_LEN], int nwant)
{
	uint64_t	req, fwd0, fwd1;
	long		k, size;
	int		found = 0, st;
	bool		remote;

	if (b->o.placement == PLACE_ANY) {
		for (k = 0; k < nwant; k++)
			name_make(b, b->id, k, names[k]);
		return 0;
	}
	if ((st = stats_read(c, &req, &fwd0)) != QLOCK_OK) {
		client_fail(b, "stats: %s", qlock_last_error(c));
		return -1;
	}
	for (k = 0; found < nwant && k < (long)nwant * PROBE_TRIES; k++) {
		name_make(b, b->id, k, names[found]);
		if ((st = qlock_queue_size(c, names[found], &size)) != QLOCK_OK ||
		    (st = stats_read(c, &req, &fwd1)) != QLOCK_OK) {
			client_fail(b, "probe: %s", qlock_last_error(c));
			return -1;
		}
		remote = fwd1 != fwd0;
		fwd0 = fwd1;
		if (remote == (b->o.placement == PLACE_REMOTE))
			found++;
	}
	if (found < nwant) {
		client_fail(b, "found %d of %d %s queue names in %ld tries%s",
		    found, nwant, b->o.placement == PLACE_REMOTE ? "remote" :
		    "local", k, b->o.placement == PLACE_REMOTE ?
		    " (does the daemon run one worker?)" : "");
		return -1;
	}
	return 0;
}

/* ---- the tests, in a client process ------------------------------------ */

/* Units (pings, pairs, requests or items) this client does of total. */
static long
quota(long total, int nclients, int id)
{
	return total / nclients + (id < total % nclients ? 1 : 0);
}

/* Stop at the time limit: true (and noted) once it is reached. */
static bool
out_of_time(struct bench *b, double deadline)
{
	if (now() < deadline)
		return false;
	b->sh->timed_out[b->id] = 1;
	return true;
}

/* ping: one round trip per unit; no object, so never forwarded. */
static void
run_ping(struct bench *b, qlock *c, double deadline)
{
	long	n = quota(b->o.requests, b->o.clients, b->id), i;
	double	t0, t1 = now();

	for (i = 0; i < n && !out_of_time(b, deadline); i++) {
		t0 = now();
		if (qlock_ping(c) != QLOCK_OK) {
			client_fail(b, "ping: %s", qlock_last_error(c));
			return;
		}
		t1 = now();
		sample_add(b, t1 - t0);
		b->sh->units[b->id]++;
	}
	b->sh->end[b->id] = t1;
}

/* roundtrip: a put and then a get on the client's own queues, per unit. */
static void
run_roundtrip(struct bench *b, qlock *c, char (*names)[NAME_LEN],
    double deadline)
{
	long	 n = quota(b->o.requests, b->o.clients, b->id), i;
	uint8_t	*item = calloc(1, b->o.size + 1);
	void	*got;
	size_t	 gotlen;
	double	 t0, t1 = now(), wait;
	int	 st;

	if (item == NULL) {
		client_fail(b, "out of memory");
		return;
	}
	memset(item, 'x', b->o.size);
	for (i = 0; i < n && !out_of_time(b, deadline); i++) {
		const char *name = names[i % b->o.queues];

		item_fill(item, b->o.size, (uint64_t)i);
		t0 = now();
		if ((st = qlock_queue_put(c, name, item, b->o.size,
		    QLOCK_FOREVER)) != QLOCK_OK) {
			client_fail(b, "put %s: %s", name, qlock_last_error(c));
			break;
		}
		/* The item is there: a get that waits at all is a fault. */
		wait = deadline - now();
		if ((st = qlock_queue_get(c, name, &got, &gotlen,
		    wait > 0 ? wait : 0)) != QLOCK_OK) {
			client_fail(b, "get %s: %s", name, qlock_last_error(c));
			break;
		}
		t1 = now();
		if (gotlen != b->o.size || memcmp(got, item, b->o.size) != 0)
			client_fail(b, "get %s: not the item put", name);
		free(got);
		sample_add(b, t1 - t0);
		b->sh->units[b->id]++;
	}
	b->sh->end[b->id] = t1;
	free(item);
}

/* put: acknowledged puts only (what --fsync costs), one item per unit. */
static void
run_put(struct bench *b, qlock *c, char (*names)[NAME_LEN], double deadline)
{
	long	 n = quota(b->o.requests, b->o.clients, b->id), i;
	uint8_t	*item = calloc(1, b->o.size + 1);
	double	 t0, t1 = now();

	if (item == NULL) {
		client_fail(b, "out of memory");
		return;
	}
	for (i = 0; i < n && !out_of_time(b, deadline); i++) {
		const char *name = names[i % b->o.queues];

		item_fill(item, b->o.size, (uint64_t)i);
		t0 = now();
		if (qlock_queue_put(c, name, item, b->o.size, QLOCK_FOREVER) !=
		    QLOCK_OK) {
			client_fail(b, "put %s: %s", name, qlock_last_error(c));
			break;
		}
		t1 = now();
		sample_add(b, t1 - t0);
		b->sh->units[b->id]++;
	}
	b->sh->end[b->id] = t1;
	free(item);
}

/* pipeline: batches of --depth requests (put, get, put, get, ...) written
 * at once, then every response read; the latency is the batch's. */
static void
run_pipeline(struct bench *b, struct raw *r, char (*names)[NAME_LEN],
    double deadline)
{
	long		 n = quota(b->o.requests, b->o.clients, b->id);
	long		 done = 0, k = 0;
	uint8_t		*item = calloc(1, b->o.size + 1);
	const uint8_t	*body;
	const void	*res;
	char		 why[128];
	size_t		 len;
	uint32_t	 reslen;
	double		 t0, t1 = now();
	int		 batch, j;

	if (item == NULL) {
		client_fail(b, "out of memory");
		return;
	}
	memset(item, 'x', b->o.size);
	n += n % 2;		/* whole pairs */
	while (done < n && !out_of_time(b, deadline)) {
		batch = n - done < b->o.depth ? (int)(n - done) : b->o.depth;
		msgpack_sbuffer_clear(&r->out);
		for (j = 0; j < batch; j += 2, k++) {
			const char *name = names[k % b->o.queues];

			raw_pack(r, "queue.put", name, item, b->o.size, -1.0);
			raw_pack(r, "queue.get", name, NULL, 0,
			    b->o.max_seconds);
		}
		t0 = now();
		if (raw_write(r, r->out.data, r->out.size) == -1) {
			client_fail(b, "send: %s", strerror(errno));
			break;
		}
		for (j = 0; j < batch; j++) {
			if ((body = raw_frame(r, RESPONSE_MAX, &len)) == NULL) {
				client_fail(b, "receive: connection broken "
				    "or timed out");
				goto out;
			}
			if (raw_response(body, len, why, sizeof(why), &res,
			    &reslen) == -1)
				client_fail(b, "pipeline: %s", why);
		}
		t1 = now();
		sample_add(b, t1 - t0);
		done += batch;
		b->sh->units[b->id] = done;
	}
out:
	b->sh->end[b->id] = t1;
	free(item);
}

/* Items of prodcons that go to queue q of nq, out of total. */
static long
items_for_queue(long total, int nq, int q)
{
	return total / nq + (q < total % nq ? 1 : 0);
}

/* prodcons producer p of np: items p, p + np, ... to queue item % queues. */
static void
run_producer(struct bench *b, qlock *c, int p, int np, double deadline)
{
	uint8_t	*item = calloc(1, b->o.size + 1);
	char	 name[NAME_LEN];
	long	 g;
	double	 t1 = now();

	if (item == NULL) {
		client_fail(b, "out of memory");
		return;
	}
	memset(item, 'x', b->o.size);
	for (g = p; g < b->o.requests && !out_of_time(b, deadline); g += np) {
		name_make(b, -1, g % b->o.queues, name);
		item_fill(item, b->o.size, (uint64_t)g);
		if (qlock_queue_put(c, name, item, b->o.size, QLOCK_FOREVER) !=
		    QLOCK_OK) {
			client_fail(b, "put %s: %s", name, qlock_last_error(c));
			break;
		}
		t1 = now();
		b->sh->units[b->id]++;
	}
	b->sh->end[b->id] = t1;
	free(item);
}

/* Check a received item, mark it seen and sample its put-to-get time. */
static void
item_check(struct bench *b, const uint8_t *item, size_t len, int q,
    double t)
{
	uint64_t	g, ns, bit;

	if (len != b->o.size) {
		__atomic_fetch_add(&b->sh->bad, 1, __ATOMIC_RELAXED);
		return;
	}
	if (len < 8)
		return;		/* too small to carry its number */
	memcpy(&g, item, 8);
	if (g >= (uint64_t)b->o.requests || (int)(g % (uint64_t)b->o.queues) != q) {
		__atomic_fetch_add(&b->sh->bad, 1, __ATOMIC_RELAXED);
		return;
	}
	bit = (uint64_t)1 << (g % 64);
	if (__atomic_fetch_or(&b->seen[g / 64], bit, __ATOMIC_RELAXED) & bit)
		__atomic_fetch_add(&b->sh->dups, 1, __ATOMIC_RELAXED);
	if (len >= 16) {
		memcpy(&ns, item + 8, 8);
		sample_add(b, t - (double)ns / 1e9);
	}
}

/*
 * prodcons consumer: claim one of the gets owed on a queue (each queue is
 * owed as many as are put there, so every claimed get is answered), take
 * it, and go round the queues until nothing is owed.
 */
static void
run_consumer(struct bench *b, qlock *c, int cid, double deadline)
{
	char	 name[NAME_LEN];
	int	 q = cid % b->o.queues, tries, st;
	void	*got;
	size_t	 gotlen;
	double	 t, wait, t1 = now();

	for (;;) {
		for (tries = 0; tries < b->o.queues; tries++, q = (q + 1) %
		    b->o.queues) {
			if (__atomic_fetch_add(&b->sh->claimed[q], 1,
			    __ATOMIC_RELAXED) < items_for_queue(b->o.requests,
			    b->o.queues, q))
				break;
		}
		if (tries == b->o.queues)
			break;		/* all claimed */
		name_make(b, -1, q, name);
		for (;;) {
			if (out_of_time(b, deadline))
				goto out;
			wait = deadline - now();
			st = qlock_queue_get(c, name, &got, &gotlen,
			    wait < GET_WAIT ? wait : GET_WAIT);
			if (st == QLOCK_OK)
				break;
			if (st != QLOCK_EMPTY) {
				client_fail(b, "get %s: %s", name,
				    qlock_last_error(c));
				goto out;
			}
		}
		t = now();
		item_check(b, got, gotlen, q, t);
		free(got);
		t1 = t;
		b->sh->units[b->id]++;
		q = (q + 1) % b->o.queues;
	}
out:
	b->sh->end[b->id] = t1;
}

/* Tell the parent how setting up went: 'r' ready, 'e' failed. */
static void
client_ready(struct bench *b, char what)
{
	while (write(b->readyw, &what, 1) == -1 && errno == EINTR)
		;
}

/* Setting up failed (client_fail said why): tell the parent, and go. */
static void __attribute__((noreturn))
client_give_up(struct bench *b)
{
	client_ready(b, 'e');
	_exit(1);
}

/* Set up: wait for the parent to start every client (it closes its end
 * of the go pipe), or to cancel; the time of the start. */
static double
client_wait_go(struct bench *b)
{
	char	go;

	client_ready(b, 'r');
	while (read(b->gor, &go, 1) == -1 && errno == EINTR)
		;
	if (b->sh->cancel)
		_exit(1);
	return now();
}

/* A client process: connect, choose names, wait for the start, run. */
static void __attribute__((noreturn))
client_main(struct bench *b)
{
	char		(*names)[NAME_LEN] = NULL;
	struct raw	 r;
	qlock		*c = NULL;
	char		 tok;
	double		 deadline;
	int		 st, np;

	r.fd = -1;
	if (b->test == T_PIPELINE) {
		if (raw_connect(&r, b->o.address, b->o.key,
		    b->o.max_seconds + READY_GRACE) == -1) {
			client_fail(b, "connect to %s failed", b->o.address);
			client_give_up(b);
		}
	}
	/* Placement is for roundtrip only (main checks): the pipeline's raw
	 * connection needs no libqlock one. */
	if (b->test != T_PIPELINE &&
	    (c = qlock_connect(b->o.address, b->o.key, &st)) == NULL) {
		client_fail(b, "connect: %s", qlock_last_error(NULL));
		client_give_up(b);
	}
	if (b->test == T_ROUNDTRIP || b->test == T_PIPELINE ||
	    b->test == T_PUT) {
		if ((names = calloc((size_t)b->o.queues, NAME_LEN)) == NULL)
			_exit(1);
		if (b->o.placement != PLACE_ANY &&
		    read(b->tokr, &tok, 1) != 1) {
			client_fail(b, "probe token lost");
			client_give_up(b);
		}
		st = names_choose(b, c, names, b->o.queues);
		/* Pass the token on, even after a failure. */
		if (b->o.placement != PLACE_ANY && write(b->tokw, &tok, 1) != 1) {
			client_fail(b, "probe token lost");
			st = -1;
		}
		if (st == -1) {
			client_give_up(b);
		}
	}
	b->sh->start[b->id] = client_wait_go(b);
	deadline = b->sh->start[b->id] + b->o.max_seconds;
	np = b->o.clients / 2;
	switch (b->test) {
	case T_PING:
		run_ping(b, c, deadline);
		break;
	case T_ROUNDTRIP:
		run_roundtrip(b, c, names, deadline);
		break;
	case T_PIPELINE:
		run_pipeline(b, &r, names, deadline);
		break;
	case T_PUT:
		run_put(b, c, names, deadline);
		break;
	case T_PRODCONS:
		if (b->id < np)
			run_producer(b, c, b->id, np, deadline);
		else
			run_consumer(b, c, b->id - np, deadline);
		break;
	case T_NTESTS:
		break;
	}
	qlock_close(c);
	if (r.fd != -1)
		raw_close(&r);
	free(names);
	_exit(0);
}

/* ---- Redis, for a peer measured by the same client (--redis) ------------ */

/* Append one RESP command of n arguments. */
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
static void
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
static int
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
	case '+':
	case ':':
		r->inpos += line;
		return 1;
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

/* ---- many connections from one process (--procs) ------------------------ */

/*
 * With --procs P below --clients C, process p drives connections p, p + P,
 * ... from one poll loop, as redis-benchmark drives all of its own: each
 * connection has one step in flight (a ping, a put, a get, or a pipelined
 * batch), and the answer to it sends the next.  The daemon sees the same
 * C connections; what changes is how many processes the clients wake on
 * the same cores.
 */
struct lconn {
	struct raw	  r;
	int		  id;		/* connection number: its slot in shared */
	long		  quota;	/* units to do */
	long		  k;		/* next name (and item) number */
	int		  step;		/* roundtrip: 0 the put is out, 1 the get */
	int		  batch;	/* requests in the step out */
	int		  owed;		/* of them, answers still to come */
	bool		  done;
	double		  t0;		/* when the unit began */
	uint8_t		 *item;
	char		(*names)[NAME_LEN];
};

/* Append one request to c's step, in the server's protocol. */
static void
lconn_pack(struct bench *b, struct lconn *c, const char *method,
    const char *name, const void *item, double timeout)
{
	if (b->o.redis)
		resp_request(&c->r, method, name, item, b->o.size);
	else
		raw_pack(&c->r, method, name, item, b->o.size, timeout);
}

/* Send c's next step; -1 if the connection broke. */
static int
lconn_send(struct bench *b, struct lconn *c)
{
	const char	*name = b->test == T_PING ? NULL :
			    c->names[c->k % b->o.queues];
	long		 left;
	int		 j;

	msgpack_sbuffer_clear(&c->r.out);
	c->batch = 1;
	switch (b->test) {
	case T_PING:
		lconn_pack(b, c, "ping", NULL, NULL, 0);
		break;
	case T_ROUNDTRIP:
		if (c->step == 1) {
			lconn_pack(b, c, "queue.get", name, NULL,
			    b->o.max_seconds);
			break;
		}
		/* FALLTHROUGH */
	case T_PUT:
		item_fill(c->item, b->o.size, (uint64_t)c->k);
		lconn_pack(b, c, "queue.put", name, c->item, -1.0);
		break;
	case T_PIPELINE:
		left = c->quota - b->sh->units[c->id];
		c->batch = left < b->o.depth ? (int)left : b->o.depth;
		for (j = 0; j < c->batch; j += 2, c->k++) {
			name = c->names[c->k % b->o.queues];
			lconn_pack(b, c, "queue.put", name, c->item, -1.0);
			lconn_pack(b, c, "queue.get", name, NULL,
			    b->o.max_seconds);
		}
		break;
	default:
		return -1;
	}
	c->owed = c->batch;
	if (c->step == 0)
		c->t0 = now();
	if (raw_write(&c->r, c->r.out.data, c->r.out.size) == -1) {
		client_fail(b, "send: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* One answer for c (ok, or why not; got: the bytes it carried): check
 * it, and at the end of a step send the next one. */
static int
lconn_answer(struct bench *b, struct lconn *c, bool ok, const char *why,
    const void *got, uint32_t gotlen, double deadline)
{
	double	t;

	if (!ok)
		client_fail(b, "%s: %s", test_names[b->test], why);
	else if (b->test == T_ROUNDTRIP && c->step == 1 && (got == NULL ||
	    gotlen != b->o.size || memcmp(got, c->item, b->o.size) != 0))
		client_fail(b, "get %s: not the item put",
		    c->names[c->k % b->o.queues]);
	if (--c->owed > 0)
		return 0;
	if (b->test == T_ROUNDTRIP && c->step == 0) {
		c->step = 1;
		return lconn_send(b, c);
	}
	t = now();
	sample_add(b, t - c->t0);
	b->sh->end[c->id] = t;
	b->sh->units[c->id] += b->test == T_PIPELINE ? c->batch : 1;
	if (b->test != T_PIPELINE)
		c->k++;
	c->step = 0;
	if (b->sh->units[c->id] >= c->quota || out_of_time(b, deadline)) {
		c->done = true;
		return 0;
	}
	return lconn_send(b, c);
}

/* c is readable: take what arrived and handle every whole answer. */
static int
lconn_input(struct bench *b, struct lconn *c, double deadline)
{
	const uint8_t	*body;
	const void	*got;
	uint32_t	 gotlen = 0;
	char		 why[128];
	size_t		 len;
	ssize_t		 n;
	bool		 bad = false;
	int		 rc;

	n = raw_fill(&c->r, b->o.redis ? 0 : RESPONSE_MAX);
	if (n == -1 && errno == EINTR)
		return 0;
	if (n <= 0) {
		client_fail(b, "receive: %s", n == 0 ? "connection closed" :
		    strerror(errno));
		return -1;
	}
	c->r.inlen += (size_t)n;
	while (!c->done && b->o.redis) {
		if ((rc = resp_next(&c->r, &got, &gotlen, why,
		    sizeof(why))) == 0)
			break;
		if (rc == -2) {
			client_fail(b, "receive: %s", why);
			return -1;	/* cannot tell where the reply ends */
		}
		if (lconn_answer(b, c, rc == 1, why, got, gotlen,
		    deadline) == -1)
			return -1;
	}
	while (!c->done && !b->o.redis && (body = raw_next(&c->r,
	    RESPONSE_MAX, &len, &bad)) != NULL) {
		rc = raw_response(body, len, why, sizeof(why), &got, &gotlen);
		if (lconn_answer(b, c, rc == 0, why, got, gotlen,
		    deadline) == -1)
			return -1;
	}
	if (bad) {
		client_fail(b, "receive: a frame over %u bytes", RESPONSE_MAX);
		return -1;
	}
	return 0;
}

/* A polling client process: connections proc, proc + procs, ... */
static void __attribute__((noreturn))
loop_main(struct bench *b, int proc)
{
	struct lconn	*cs;
	struct pollfd	*pfd;
	int		*at, n = 0, live, i, m, ms, k;
	double		 t, deadline;

	cs = calloc((size_t)b->o.clients, sizeof(*cs));
	pfd = calloc((size_t)b->o.clients, sizeof(*pfd));
	at = calloc((size_t)b->o.clients, sizeof(*at));
	if (cs == NULL || pfd == NULL || at == NULL)
		_exit(1);
	for (i = proc; i < b->o.clients; i += b->o.procs, n++) {
		struct lconn *c = &cs[n];

		c->id = b->id = i;
		c->quota = quota(b->o.requests, b->o.clients, i);
		if (b->test == T_PIPELINE)
			c->quota += c->quota % 2;	/* whole pairs */
		c->item = calloc(1, b->o.size + 1);
		c->names = calloc((size_t)b->o.queues, NAME_LEN);
		if (c->item == NULL || c->names == NULL) {
			client_fail(b, "out of memory");
			client_give_up(b);
		}
		memset(c->item, 'x', b->o.size);
		for (k = 0; k < b->o.queues; k++)
			name_make(b, i, k, c->names[k]);
		if ((b->o.redis ? raw_open(&c->r, b->o.address,
		    b->o.max_seconds + READY_GRACE) : raw_connect(&c->r,
		    b->o.address, b->o.key, b->o.max_seconds + READY_GRACE)) ==
		    -1) {
			client_fail(b, "connect to %s failed", b->o.address);
			client_give_up(b);
		}
	}
	t = client_wait_go(b);
	deadline = t + b->o.max_seconds;
	live = n;
	for (i = 0; i < n; i++) {
		b->id = cs[i].id;
		b->sh->start[cs[i].id] = b->sh->end[cs[i].id] = t;
		if (cs[i].quota == 0 || lconn_send(b, &cs[i]) == -1) {
			cs[i].done = true;
			live--;
		}
	}
	while (live > 0) {
		for (i = m = 0; i < n; i++) {
			if (cs[i].done)
				continue;
			pfd[m].fd = cs[i].r.fd;
			pfd[m].events = POLLIN;
			at[m++] = i;
		}
		t = deadline - now();
		ms = t > 0 ? (int)(t * 1000) + 1 : 0;
		if ((k = poll(pfd, (nfds_t)m, ms)) == -1 && errno != EINTR) {
			b->id = cs[at[0]].id;
			client_fail(b, "poll: %s", strerror(errno));
			break;
		}
		if (k == 0) {		/* the time is up, answers owed */
			for (i = 0; i < m; i++) {
				b->id = cs[at[i]].id;
				(void)out_of_time(b, deadline);
			}
			break;
		}
		for (i = 0; i < m; i++) {
			struct lconn *c = &cs[at[i]];

			if (pfd[i].revents == 0)
				continue;
			b->id = c->id;
			if (lconn_input(b, c, deadline) == -1)
				c->done = true;
			if (c->done)
				live--;
		}
	}
	for (i = 0; i < n; i++) {
		raw_close(&cs[i].r);
		free(cs[i].item);
		free(cs[i].names);
	}
	free(cs);
	free(pfd);
	free(at);
	_exit(0);
}

/* ---- the parent ---------------------------------------------------------- */

/* Map size bytes shared with the children, zeroed. */
static void *
shared_map(size_t size)
{
	void	*p = mmap(NULL, size > 0 ? size : 1, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap %zu bytes: %s", size, strerror(errno));
	return p;
}

static int
float_cmp(const void *a, const void *b)
{
	float	x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0-100) of n sorted samples, in ms; -1 if none. */
static double
percentile(const float *s, size_t n, double p)
{
	size_t	i;

	if (n == 0)
		return -1;
	i = (size_t)ceil(p / 100.0 * (double)n);
	i = i == 0 ? 0 : i - 1;
	return s[i < n ? i : n - 1] / 1000.0;
}

/* Write n sorted samples (microseconds), one a line, to PREFIX.<test>. */
static void
samples_dump(const char *prefix, enum test t, const float *s, size_t n)
{
	char	 path[PATH_MAX];
	FILE	*f;
	size_t	 i;

	snprintf(path, sizeof(path), "%s.%s", prefix, test_names[t]);
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "qlock-bench: %s: %s\n", path, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%.1f\n", s[i]);
	if (fclose(f) != 0)
		fprintf(stderr, "qlock-bench: %s: %s\n", path, strerror(errno));
}

/* Wait for every child, killing any still there at the deadline. */
static void
children_reap(const pid_t *pids, int n, double deadline)
{
	struct timespec	ts = { 0, 5000000 };
	int		i, left = n, status;
	pid_t		pid;
	bool		killed = false;

	while (left > 0) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			left--;
			continue;
		}
		if (pid == -1 && errno != EINTR)
			break;
		if (!killed && now() >= deadline) {
			fprintf(stderr, "qlock-bench: clients still running "
			    "past the time limit; killing them\n");
			for (i = 0; i < n; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
			killed = true;
		}
		nanosleep(&ts, NULL);
	}
}

/* Wait for n ready bytes; false if a client failed or the time ran out. */
static bool
clients_ready(int readyr, int n)
{
	struct pollfd	pfd = { readyr, POLLIN, 0 };
	double		deadline = now() + READY_GRACE;
	char		buf[MAX_CLIENTS];
	ssize_t		got;
	int		have = 0, i;
	bool		ok = true;

	while (have < n) {
		double left = deadline - now();

		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) == 0)
			return false;
		got = read(readyr, buf, (size_t)(n - have));
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		for (i = 0; i < got; i++)
			if (buf[i] != 'r')
				ok = false;
		have += (int)got;
	}
	return ok;
}

/* Run one test with o.clients connections and print its line. */
static int
test_run(struct opts *o, enum test t, qlock *stats, struct shared *sh,
    float *samples, size_t ncap)
{
	struct bench	 b;
	pid_t		*pids;
	uint64_t	 req0, fwd0, req1, fwd1;
	int		 readyp[2], gop[2], tokp[2], i, nclients = o->clients;
	int		 nprocs = o->procs;
	long		 units = 0, errors = 0, seen = 0, lost = 0, nsamp;
	double		 t0 = INFINITY, t1 = 0, secs, rate, p50, p99, max;
	double		 mean = 0;
	bool		 timed_out = false, ok;
	size_t		 w;
	const char	*unit, *lat;

	memset(&b, 0, sizeof(b));
	b.o = *o;
	b.test = t;
	b.sh = sh;
	b.samples = samples;
	b.ncap = ncap;
	memset(sh, 0, sizeof(*sh));
	if (t == T_PRODCONS) {
		b.nseen = ((size_t)o->requests + 63) / 64;
		b.seen = shared_map(b.nseen * sizeof(uint64_t));
	}
	if (pipe(readyp) == -1 || pipe(gop) == -1 || pipe(tokp) == -1)
		die("pipe: %s", strerror(errno));
	if (write(tokp[1], "t", 1) != 1)
		die("pipe: %s", strerror(errno));
	b.readyw = readyp[1];
	b.gor = gop[0];
	b.tokr = tokp[0];
	b.tokw = tokp[1];
	pids = calloc((size_t)nprocs, sizeof(*pids));
	if (pids == NULL)
		die("out of memory");
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < nprocs; i++) {
		if ((pids[i] = fork()) == -1) {
			fprintf(stderr, "qlock-bench: fork: %s\n", strerror(errno));
			nprocs = i;
			sh->cancel = 1;
			break;
		}
		if (pids[i] == 0) {
			close(readyp[0]);
			close(gop[1]);
			b.id = i;
			if (o->poll)
				loop_main(&b, i);
			client_main(&b);
		}
	}
	close(readyp[1]);
	close(gop[0]);
	close(tokp[0]);
	close(tokp[1]);
	ok = !sh->cancel && clients_ready(readyp[0], nprocs);
	/* The counters after the probes: only the test's own traffic counts. */
	req0 = fwd0 = req1 = fwd1 = 0;
	if (ok && stats != NULL && stats_read(stats, &req0, &fwd0) != QLOCK_OK) {
		fprintf(stderr, "qlock-bench: stats: %s\n",
		    qlock_last_error(stats));
		ok = false;
	}
	if (!ok)
		sh->cancel = 1;
	close(gop[1]);		/* go */
	children_reap(pids, nprocs, now() + o->max_seconds + READY_GRACE +
	    EXIT_GRACE);
	close(readyp[0]);
	free(pids);
	for (i = 0; i < nclients; i++) {
		if (sh->err[i][0] != '\0' && errors == 0)
			fprintf(stderr, "qlock-bench: %s: client %d: %s\n",
			    test_names[t], i, sh->err[i]);
		errors += sh->errors[i];
	}
	if (!ok) {
		if (errors == 0)
			fprintf(stderr, "qlock-bench: %s: clients did not start\n",
			    test_names[t]);
		if (b.seen != NULL)
			munmap(b.seen, b.nseen * sizeof(uint64_t));
		return -1;
	}
	if (stats != NULL && stats_read(stats, &req1, &fwd1) != QLOCK_OK) {
		fprintf(stderr, "qlock-bench: stats: %s\n",
		    qlock_last_error(stats));
		req1 = req0;
		fwd1 = fwd0;
	}
	req1 -= req1 > req0 ? 1 : 0;	/* the stats call itself */
	for (i = 0; i < nclients; i++) {
		if (t == T_PRODCONS && i < nclients / 2)
			continue;	/* items count when consumed */
		units += sh->units[i];
	}
	for (i = 0; i < nclients; i++) {
		if (sh->start[i] > 0 && sh->start[i] < t0)
			t0 = sh->start[i];
		if (sh->end[i] > t1)
			t1 = sh->end[i];
		if (sh->timed_out[i])
			timed_out = true;
	}
	secs = t1 > t0 ? t1 - t0 : 0;
	rate = secs > 0 ? (double)units / secs : 0;
	nsamp = sh->nsamples < (long)ncap ? sh->nsamples : (long)ncap;
	qsort(samples, (size_t)nsamp, sizeof(float), float_cmp);
	p50 = percentile(samples, (size_t)nsamp, 50);
	p99 = percentile(samples, (size_t)nsamp, 99);
	max = percentile(samples, (size_t)nsamp, 100);
	for (i = 0; i < nsamp; i++)
		mean += samples[i] / 1000.0;
	mean = nsamp > 0 ? mean / (double)nsamp : -1;
	if (o->dump != NULL)
		samples_dump(o->dump, t, samples, (size_t)nsamp);
	if (t == T_PRODCONS && o->size >= 8) {
		for (w = 0; w < b.nseen; w++)
			seen += __builtin_popcountll(b.seen[w]);
		lost = o->requests - seen;
	} else if (t == T_PRODCONS)
		lost = o->requests - units;
	if (b.seen != NULL)
		munmap(b.seen, b.nseen * sizeof(uint64_t));

	unit = t == T_ROUNDTRIP ? "put+get pairs" : t == T_PRODCONS ?
	    "items" : "requests";
	lat = t == T_ROUNDTRIP ? " per pair" : t == T_PIPELINE ?
	    " per batch" : t == T_PRODCONS ? " put to get" : "";
	if (o->csv) {
		printf("%s,%d,%zu,%d,%s,%d,%ld,%.3f,%.2f,%.3f,%.3f,%.3f,%.3f,%"
		    PRIu64 ",%" PRIu64 ",%ld,%ld,%ld,%s\n", test_names[t], nclients,
		    o->size, o->queues, o->placement == PLACE_LOCAL ? "local" :
		    o->placement == PLACE_REMOTE ? "remote" : "any",
		    t == T_PIPELINE ? o->depth : 1, units, secs, rate, p50, p99,
		    mean, max, req1 - req0, fwd1 - fwd0, errors, lost,
		    t == T_PRODCONS ? sh->dups + sh->bad : 0,
		    timed_out ? "timeout" : "ok");
	} else {
		printf("%s: %.2f %s per second", test_names[t], rate, unit);
		if (t == T_ROUNDTRIP)
			printf(" (%.2f requests per second)", 2 * rate);
		if (p50 >= 0)
			printf(", p50=%.3f msec, p99=%.3f msec%s (mean %.3f, "
			    "max %.3f)", p50, p99, lat, mean, max);
		printf(" [c=%d", nclients);
		if (o->poll)
			printf(" procs=%d", nprocs);
		printf(" n=%ld d=%zu q=%d%s", units, o->size, o->queues,
		    o->placement == PLACE_LOCAL ? " local" :
		    o->placement == PLACE_REMOTE ? " remote" : "");
		if (o->redis)
			printf(" redis]");
		else
			printf(" forwarded=%" PRIu64 "/%" PRIu64 "]",
			    fwd1 - fwd0, req1 - req0);
		if (t == T_PIPELINE)
			printf(" (P=%d)", o->depth);
		if (timed_out)
			printf(" STOPPED AT %.0f s", o->max_seconds);
		if (errors > 0)
			printf(" ERRORS=%ld", errors);
		if (t == T_PRODCONS && (lost > 0 || sh->dups > 0 || sh->bad > 0))
			printf(" LOST=%ld DUP=%ld BAD=%ld", lost, sh->dups,
			    sh->bad);
		printf("\n");
	}
	fflush(stdout);
	return errors > 0 || lost > 0 || sh->dups > 0 || sh->bad > 0 ? -1 : 0;
}

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
"usage: qlock-bench [options]\n"
"  -a, --address ADDR       HOST:PORT or unix:/PATH (default: $QLOCK_ADDRESS, "
    DEFAULT_ADDRESS ")\n"
"  -k, --authkey-file PATH  the shared key (default: $QLOCK_AUTHKEY, "
    "$QLOCK_AUTHKEY_FILE)\n"
"  -c, --clients N          connections (default 4)\n"
"  -p, --procs N            polling clients: the connections spread over N\n"
"                           processes, each polling its own and speaking the\n"
"                           protocol itself, as redis-benchmark (default: a\n"
"                           libqlock process per connection; ping, put,\n"
"                           roundtrip and pipeline only)\n"
"  -n, --requests N         units per test over all clients (default 100000)\n"
"  -d, --size BYTES         queue item size (default 64)\n"
"  -q, --queues N           queue names: per client for roundtrip and pipeline,\n"
"                           shared for prodcons (default 1)\n"
"  -t, --test LIST          ping,roundtrip,pipeline,prodcons,put (default: all)\n"
"  -P, --depth N            requests per pipelined batch (default 16)\n"
"  -s, --max-seconds S      stop each test after S seconds (default 60)\n"
"      --placement WHERE    roundtrip names: any, local (owned by the client's\n"
"                           worker) or remote (owned by another) (default any)\n"
"      --prefix STR         start of queue names (default qb<pid>)\n"
"      --redis              the server is redis-server (RESP, no key): ping is\n"
"                           PING, a put LPUSH, a get RPOP; for a peer measured\n"
"                           by this same client\n"
"      --csv                test,clients,size,queues,placement,depth,units,\n"
"                           seconds,rate,p50_ms,p99_ms,mean_ms,max_ms,\n"
"                           requests,forwarded,errors,lost,dup_or_bad,end\n"
"      --dump PREFIX        write each test's latencies (us, sorted) to\n"
"                           PREFIX.<test>\n"
"units: ping a ping; roundtrip a put+get pair; pipeline a request;\n"
"prodcons an item put by one of c/2 producers and got by a consumer\n");
	exit(status);
}

/* Parse a whole number in [min, max] for option name. */
static long
num_arg(const char *name, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		die("%s: '%s' is not a number from %ld to %ld", name, s, min,
		    max);
	return v;
}

/* Parse the comma-separated test list into a bit set. */
static unsigned
tests_arg(const char *s)
{
	char		*copy = strdup(s), *tok, *save = NULL;
	unsigned	 set = 0;
	int		 t;

	if (copy == NULL)
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (t = 0; t < T_NTESTS; t++)
			if (strcmp(tok, test_names[t]) == 0)
				break;
		if (t == T_NTESTS)
			die("unknown test '%s'", tok);
		set |= 1u << t;
	}
	free(copy);
	return set;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "address",		required_argument, NULL, 'a' },
		{ "authkey-file",	required_argument, NULL, 'k' },
		{ "clients",		required_argument, NULL, 'c' },
		{ "procs",		required_argument, NULL, 'p' },
		{ "redis",		no_argument,	   NULL, 'R' },
		{ "requests",		required_argument, NULL, 'n' },
		{ "size",		required_argument, NULL, 'd' },
		{ "queues",		required_argument, NULL, 'q' },
		{ "test",		required_argument, NULL, 't' },
		{ "depth",		required_argument, NULL, 'P' },
		{ "max-seconds",	required_argument, NULL, 's' },
		{ "placement",		required_argument, NULL, 'L' },
		{ "prefix",		required_argument, NULL, 'X' },
		{ "csv",		no_argument,	   NULL, 'C' },
		{ "dump",		required_argument, NULL, 'D' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts	 o;
	struct shared	*sh;
	const char	*keyfile = NULL, *env;
	float		*samples;
	qlock		*stats;
	char		*end;
	int		 ch, st, failed = 0;
	enum test	 t;

	memset(&o, 0, sizeof(o));
	o.clients = 4;
	o.requests = 100000;
	o.size = 64;
	o.queues = 1;
	o.depth = 16;
	o.max_seconds = 60;
	o.tests = (1u << T_NTESTS) - 1;
	snprintf(o.prefix, sizeof(o.prefix), "qb%ld", (long)getpid());
	while ((ch = getopt_long(argc, argv, "a:k:c:p:n:d:q:t:P:s:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			o.address = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'c':
			o.clients = (int)num_arg("--clients", optarg, 1,
			    MAX_CLIENTS);
			break;
		case 'p':
			o.procs = (int)num_arg("--procs", optarg, 1,
			    MAX_CLIENTS);
			break;
		case 'n':
			o.requests = num_arg("--requests", optarg, 1,
			    MAX_REQUESTS);
			break;
		case 'd':
			o.size = (size_t)num_arg("--size", optarg, 0, MAX_SIZE);
			break;
		case 'q':
			o.queues = (int)num_arg("--queues", optarg, 1,
			    MAX_QUEUES);
			break;
		case 't':
			o.tests = tests_arg(optarg);
			break;
		case 'P':
			o.depth = (int)num_arg("--depth", optarg, 2, MAX_DEPTH);
			if (o.depth % 2 != 0)
				die("--depth: a batch is whole put+get pairs: "
				    "give an even number");
			break;
		case 's':
			o.max_seconds = strtod(optarg, &end);
			if (end == optarg || *end != '\0' ||
			    !(o.max_seconds > 0 && o.max_seconds <= 86400))
				die("--max-seconds: '%s' is not 0 to 86400",
				    optarg);
			break;
		case 'L':
			if (strcmp(optarg, "any") == 0)
				o.placement = PLACE_ANY;
			else if (strcmp(optarg, "local") == 0)
				o.placement = PLACE_LOCAL;
			else if (strcmp(optarg, "remote") == 0)
				o.placement = PLACE_REMOTE;
			else
				die("--placement: any, local or remote");
			break;
		case 'X':
			if (*optarg == '\0' || strlen(optarg) >= sizeof(o.prefix))
				die("--prefix: 1 to %zu bytes",
				    sizeof(o.prefix) - 1);
			strcpy(o.prefix, optarg);
			break;
		case 'C':
			o.csv = true;
			break;
		case 'R':
			o.redis = true;
			break;
		case 'D':
			o.dump = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (o.address == NULL && ((env = getenv("QLOCK_ADDRESS")) == NULL ||
	    *(o.address = env) == '\0'))
		o.address = DEFAULT_ADDRESS;
	if (o.redis) {
		if (o.tests & (1u << T_PRODCONS))
			die("--redis: ping, put, roundtrip and pipeline only");
		if (o.placement != PLACE_ANY)
			die("--redis: no --placement");
		o.key = strdup("");
	} else if (keyfile != NULL)
		o.key = key_read(keyfile);
	else if ((env = getenv("QLOCK_AUTHKEY")) != NULL && *env != '\0')
		o.key = strdup(env);
	else if ((env = getenv("QLOCK_AUTHKEY_FILE")) != NULL && *env != '\0')
		o.key = key_read(env);
	else
		die("no authkey: use -k or set QLOCK_AUTHKEY or "
		    "QLOCK_AUTHKEY_FILE");
	if (o.key == NULL)
		die("out of memory");
	if ((o.tests & (1u << T_PRODCONS)) && o.clients < 2)
		die("prodcons needs --clients 2 or more (half produce, half "
		    "consume)");
	if (o.placement != PLACE_ANY && (o.tests & ~(1u << T_ROUNDTRIP)))
		die("--placement applies to --test roundtrip only");
	/* --procs (even one per connection) and --redis mean the polling
	 * clients: the same code then measures both servers. */
	o.poll = o.procs != 0 || o.redis;
	if (o.procs == 0 || o.procs > o.clients)
		o.procs = o.clients;
	if (o.poll && (o.tests & (1u << T_PRODCONS)))
		die("--procs: prodcons runs a libqlock process per connection");
	if (o.poll && o.placement != PLACE_ANY)
		die("--procs: --placement needs libqlock clients");

	stats = NULL;
	if (!o.redis && (stats = qlock_connect(o.address, o.key, &st)) == NULL)
		die("connect to %s: %s", o.address, qlock_last_error(NULL));
	sh = shared_map(sizeof(*sh));
	samples = shared_map((size_t)o.requests * sizeof(float));
	if (o.csv)
		printf("test,clients,size,queues,placement,depth,units,seconds,"
		    "rate,p50_ms,p99_ms,mean_ms,max_ms,requests,forwarded,errors,"
		    "lost,dup_or_bad,end\n");
	for (t = 0; t < T_NTESTS; t++) {
		if (!(o.tests & (1u << t)))
			continue;
		if (test_run(&o, t, stats, sh, samples,
		    (size_t)o.requests) == -1)
			failed = 1;
	}
	qlock_close(stats);
	munmap(samples, (size_t)o.requests * sizeof(float));
	munmap(sh, sizeof(*sh));
	free(o.key);
	return failed;
}
