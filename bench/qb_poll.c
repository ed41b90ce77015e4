/* qb_poll.c: qlock-bench's polling clients (--procs, --redis): many raw
 * connections driven from one poll loop per process. */

#include <sys/epoll.h>
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
	struct rset	  rs;
	int		  id;		/* connection number: its slot in shared */
	long		  quota;	/* units to do */
	long		  k;		/* next name (and item) number */
	int		  step;		/* roundtrip: 0 the put is out, 1 the get */
	int		  batch;	/* requests in the step out */
	int		  owed;		/* of them, answers still to come */
	bool		  done;
	double		  t0;		/* when the unit began */
	int		  watched;	/* of rs.open, how many epfd has */
	uint8_t		 *item;
	char		(*names)[NAME_LEN];
	int		 *shard;	/* each name's (rset_shard) */
};

/* Append one request for name k (-1: none) to c's step, in the server's
 * protocol. */
static int
lconn_pack(struct bench *b, struct lconn *c, const char *method, long k,
    const void *item, double timeout)
{
	struct raw	*r;
	const char	*name = k < 0 ? NULL : c->names[k % b->o.queues];

	if ((r = rset_pick_shard(b, &c->rs, k < 0 ? -1 :
	    c->shard[k % b->o.queues])) == NULL)
		return -1;
	if (b->o.redis)
		resp_request(r, method, name, item, b->o.size);
	else
		raw_pack(r, method, name, item, b->o.size, timeout);
	return 0;
}

/* Send c's next step; -1 if the connection broke. */
static int
lconn_send(struct bench *b, struct lconn *c)
{
	long		 left;
	int		 j, rc = 0;

	rset_clear(&c->rs);
	c->batch = 1;
	switch (b->test) {
	case T_PING:
		rc = lconn_pack(b, c, "ping", -1, NULL, 0);
		break;
	case T_LOCK:
		rc = lconn_pack(b, c, c->step == 1 ? "lock.release" :
		    "lock.acquire", c->k, NULL, c->step == 1 ?
		    RAW_NO_TIMEOUT : b->o.max_seconds);
		break;
	case T_ROUNDTRIP:
		if (c->step == 1) {
			rc = lconn_pack(b, c, "queue.get", c->k, NULL,
			    b->o.max_seconds);
			break;
		}
		/* FALLTHROUGH */
	case T_PUT:
		item_fill(c->item, b->o.size, (uint64_t)c->k);
		rc = lconn_pack(b, c, "queue.put", c->k, c->item, -1.0);
		break;
	case T_PIPELINE:
		left = c->quota - b->sh->units[c->id];
		c->batch = left < b->o.depth ? (int)left : b->o.depth;
		for (j = 0; j < c->batch && rc == 0; j += 2, c->k++) {
			rc = lconn_pack(b, c, "queue.put", c->k, c->item,
			    -1.0);
			if (rc == 0)
				rc = lconn_pack(b, c, "queue.get", c->k, NULL,
				    b->o.max_seconds);
		}
		break;
	default:
		return -1;
	}
	if (rc == -1)
		return -1;
	c->owed = c->batch;
	if (c->step == 0)
		c->t0 = now_mono();
	if (rset_flush(&c->rs) == -1) {
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
	/* Redis's SETNX answered 0: another holds the lock; try again. */
	if (b->test == T_LOCK && c->step == 0 && b->o.redis && ok &&
	    got != NULL && gotlen == 1 && *(const char *)got == '0')
		return lconn_send(b, c);
	if ((b->test == T_ROUNDTRIP || b->test == T_LOCK) && c->step == 0) {
		c->step = 1;
		return lconn_send(b, c);
	}
	t = now_mono();
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
lconn_input(struct bench *b, struct lconn *c, struct raw *r, double deadline)
{
	const uint8_t	*body;
	const void	*got;
	uint32_t	 gotlen = 0;
	char		 why[128];
	size_t		 len;
	ssize_t		 n;
	bool		 bad = false;
	int		 rc;

	n = raw_fill(r, b->o.redis ? 0 : RESPONSE_MAX);
	if (n == -1 && errno == EINTR)
		return 0;
	if (n <= 0) {
		client_fail(b, "receive: %s", n == 0 ? "connection closed" :
		    strerror(errno));
		return -1;
	}
	r->inlen += (size_t)n;
	while (!c->done && b->o.redis) {
		if ((rc = resp_next(r, &got, &gotlen, why,
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
	while (!c->done && !b->o.redis && (body = raw_next(r,
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

/* Watch c's connections opened since the last call (their answers wake
 * the loop): data is c's slot in the process and the connection's. */
static int
lconn_watch(struct bench *b, int epfd, struct lconn *c, int slot)
{
	struct epoll_event	ev;
	int			i;

	for (; c->watched < c->rs.nopen; c->watched++) {
		i = c->rs.open[c->watched];
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = (uint64_t)slot << 8 | (uint64_t)i;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->rs.conn[i].fd, &ev) == -1) {
			client_fail(b, "epoll_ctl: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* c is done: its connections wake the loop no more. */
static void
lconn_unwatch(int epfd, struct lconn *c)
{
	int	i;

	for (i = 0; i < c->watched; i++)
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL,
		    c->rs.conn[c->rs.open[i]].fd, NULL);
	c->watched = 0;
}

/* Set up this process's connections: proc, proc + procs, ...; how many. */
static int
loop_setup(struct bench *b, int proc, struct lconn *cs)
{
	int	i, k, n = 0;

	for (i = proc; i < b->o.clients; i += b->o.procs, n++) {
		struct lconn *c = &cs[n];

		rset_init(&c->rs);
		c->id = b->id = i;
		c->quota = quota(b->o.requests, b->o.clients, i);
		if (b->test == T_PIPELINE)
			c->quota += c->quota % 2;	/* whole pairs */
		c->item = calloc(1, b->o.size + 1);
		c->names = calloc((size_t)b->o.queues, NAME_LEN);
		c->shard = calloc((size_t)b->o.queues, sizeof(*c->shard));
		if (c->item == NULL || c->names == NULL || c->shard == NULL) {
			client_fail(b, "out of memory");
			client_give_up(b);
		}
		memset(c->item, 'x', b->o.size);
		for (k = 0; k < b->o.queues; k++) {	/* lock: all one */
			name_make(b, b->test == T_LOCK ? -1 : i,
			    b->test == T_LOCK ? 0 : k, c->names[k]);
			c->shard[k] = rset_shard(b, c->names[k]);
		}
		if ((b->o.redis ? raw_open(&c->rs.conn[0], b->o.address,
		    b->o.max_seconds + READY_GRACE) : raw_connect(&c->rs.conn[0],
		    b->o.address, b->o.key, b->o.max_seconds + READY_GRACE)) ==
		    -1) {
			client_fail(b, "connect to %s failed", b->o.address);
			client_give_up(b);
		}
		rset_opened(&c->rs, 0);
	}
	return n;
}

/* c's step failed or c is through: one live connection fewer. */
static void
lconn_end(int epfd, struct lconn *c, int *live)
{
	c->done = true;
	lconn_unwatch(epfd, c);
	(*live)--;
}

/*
 * A polling client process.  One epoll set watches every connection of
 * the process (registered once, when opened), so that a wake-up costs
 * the same however many connections routing opened; each wake-up
 * handles every connection with answers.
 */
void __attribute__((noreturn))
loop_main(struct bench *b, int proc)
{
	struct lconn		*cs;
	struct epoll_event	 evs[64];
	struct lconn		*c;
	int			 n, live, i, k, ms, epfd;
	double			 t, deadline;

	if ((cs = calloc((size_t)b->o.clients, sizeof(*cs))) == NULL)
		_exit(1);
	n = loop_setup(b, proc, cs);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		client_fail(b, "epoll_create1: %s", strerror(errno));
		client_give_up(b);
	}
	t = client_wait_go(b);
	deadline = t + b->o.max_seconds;
	live = n;
	for (i = 0; i < n; i++) {
		c = &cs[i];
		b->id = c->id;
		b->sh->start[c->id] = b->sh->end[c->id] = t;
		if (c->quota == 0 || lconn_send(b, c) == -1 ||
		    lconn_watch(b, epfd, c, i) == -1)
			lconn_end(epfd, c, &live);
	}
	while (live > 0) {
		t = deadline - now_mono();
		ms = t > 0 ? (int)(t * 1000) + 1 : 0;
		if ((k = epoll_wait(epfd, evs, 64, ms)) == -1) {
			if (errno == EINTR)
				continue;
			client_fail(b, "epoll_wait: %s", strerror(errno));
			break;
		}
		if (k == 0) {		/* the time is up, answers owed */
			for (i = 0; i < n; i++) {
				b->id = cs[i].id;
				if (!cs[i].done)
					(void)out_of_time(b, deadline);
			}
			break;
		}
		for (i = 0; i < k; i++) {
			c = &cs[evs[i].data.u64 >> 8];
			if (c->done)
				continue;
			b->id = c->id;
			if (lconn_input(b, c, &c->rs.conn[evs[i].data.u64 &
			    0xff], deadline) == -1 || c->done ||
			    lconn_watch(b, epfd, c, (int)(c - cs)) == -1)
				lconn_end(epfd, c, &live);
		}
	}
	for (i = 0; i < n; i++) {
		rset_close(&cs[i].rs);
		free(cs[i].item);
		free(cs[i].names);
		free(cs[i].shard);
	}
	close(epfd);
	free(cs);
	_exit(0);
}

/* ---- the parent ---------------------------------------------------------- */

/* Map size bytes shared with the children, zeroed. */
