/* qb_tests.c: qlock-bench's tests as run by one client process. */

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

/* ping: one round trip per unit; no object, so never forwarded. */
static void
run_ping(struct bench *b, qlock *c, double deadline)
{
	long	n = quota(b->o.requests, b->o.clients, b->id), i;
	double	t0, t1 = now_mono();

	for (i = 0; i < n && !out_of_time(b, deadline); i++) {
		t0 = now_mono();
		if (qlock_ping(c) != QLOCK_OK) {
			client_fail(b, "ping: %s", qlock_last_error(c));
			return;
		}
		t1 = now_mono();
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
	double	 t0, t1 = now_mono(), wait;
	int	 st;

	if (item == NULL) {
		client_fail(b, "out of memory");
		return;
	}
	memset(item, 'x', b->o.size);
	for (i = 0; i < n && !out_of_time(b, deadline); i++) {
		const char *name = names[i % b->o.queues];

		item_fill(item, b->o.size, (uint64_t)i);
		t0 = now_mono();
		if ((st = qlock_queue_put(c, name, item, b->o.size,
		    QLOCK_FOREVER)) != QLOCK_OK) {
			client_fail(b, "put %s: %s", name, qlock_last_error(c));
			break;
		}
		/* The item is there: a get that waits at all is a fault. */
		wait = deadline - now_mono();
		if ((st = qlock_queue_get(c, name, &got, &gotlen,
		    wait > 0 ? wait : 0)) != QLOCK_OK) {
			client_fail(b, "get %s: %s", name, qlock_last_error(c));
			break;
		}
		t1 = now_mono();
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
	double	 t0, t1 = now_mono();

	if (item == NULL) {
		client_fail(b, "out of memory");
		return;
	}
	for (i = 0; i < n && !out_of_time(b, deadline); i++) {
		const char *name = names[i % b->o.queues];

		item_fill(item, b->o.size, (uint64_t)i);
		t0 = now_mono();
		if (qlock_queue_put(c, name, item, b->o.size, QLOCK_FOREVER) !=
		    QLOCK_OK) {
			client_fail(b, "put %s: %s", name, qlock_last_error(c));
			break;
		}
		t1 = now_mono();
		sample_add(b, t1 - t0);
		b->sh->units[b->id]++;
	}
	b->sh->end[b->id] = t1;
	free(item);
}

/* pipeline: batches of --depth requests (put, get, put, get, ...) written
 * at once, then every response read; the latency is the batch's. */
static void
run_pipeline(struct bench *b, struct rset *rs, char (*names)[NAME_LEN],
    double deadline)
{
	long		 n = quota(b->o.requests, b->o.clients, b->id);
	long		 done = 0, k = 0;
	uint8_t		*item = calloc(1, b->o.size + 1);
	struct raw	*r;
	const uint8_t	*body;
	const void	*res;
	char		 why[128];
	size_t		 len;
	uint32_t	 reslen;
	double		 t0, t1 = now_mono();
	int		 batch, i, j;

	if (item == NULL) {
		client_fail(b, "out of memory");
		return;
	}
	memset(item, 'x', b->o.size);
	n += n % 2;		/* whole pairs */
	while (done < n && !out_of_time(b, deadline)) {
		batch = n - done < b->o.depth ? (int)(n - done) : b->o.depth;
		rset_clear(rs);
		for (j = 0; j < batch; j += 2, k++) {
			const char *name = names[k % b->o.queues];

			if ((r = rset_pick(b, rs, name)) == NULL)
				goto out;
			raw_pack(r, "queue.put", name, item, b->o.size, -1.0);
			raw_pack(r, "queue.get", name, NULL, 0,
			    b->o.max_seconds);
			rs->owed[r - rs->conn] += 2;
		}
		t0 = now_mono();
		if (rset_flush(rs) == -1) {
			client_fail(b, "send: %s", strerror(errno));
			break;
		}
		for (i = 0; i <= QB_MAX_SHARDS; i++) {
			for (j = 0; j < rs->owed[i]; j++) {
				body = raw_frame(&rs->conn[i], RESPONSE_MAX,
				    &len);
				if (body == NULL) {
					client_fail(b, "receive: connection "
					    "broken or timed out");
					goto out;
				}
				if (raw_response(body, len, why, sizeof(why),
				    &res, &reslen) == -1)
					client_fail(b, "pipeline: %s", why);
			}
		}
		t1 = now_mono();
		sample_add(b, t1 - t0);
		done += batch;
		b->sh->units[b->id] = done;
	}
out:
	b->sh->end[b->id] = t1;
	free(item);
}

/* lock: acquire and release one lock shared by every client (a hand-off
 * between contenders); the latency is the pair's, waiting included. */
static void
run_lock(struct bench *b, qlock *c, double deadline)
{
	long	 n = quota(b->o.requests, b->o.clients, b->id), i;
	char	 name[NAME_LEN];
	double	 t0, t1 = now_mono();
	int	 st;

	name_make(b, -1, 0, name);
	for (i = 0; i < n && !out_of_time(b, deadline); i++) {
		t0 = now_mono();
		if ((st = qlock_lock_acquire(c, name, b->o.max_seconds)) !=
		    QLOCK_OK) {
			client_fail(b, "lock.acquire: %s", qlock_last_error(c));
			if (st == QLOCK_ECONN)
				break;
			continue;
		}
		if (qlock_lock_release(c, name) != QLOCK_OK) {
			client_fail(b, "lock.release: %s", qlock_last_error(c));
			break;
		}
		t1 = now_mono();
		sample_add(b, t1 - t0);
		b->sh->units[b->id]++;
	}
	b->sh->end[b->id] = t1;
}

/* Items of prodcons that go to queue q of nq, out of total. */
static long
items_for_queue(long total, int nq, int q)
{
	return total / nq + (q < total % nq ? 1 : 0);
}

/* Redis, from prodcons's processes: send r's request and wait for its
 * reply; 1 (a bulk string's bytes in *got, or NULL), or -1 (failed). */
static int
redis_call(struct bench *b, struct raw *r, const void **got, uint32_t *len)
{
	char	why[128];
	ssize_t	n;
	int	rc;

	if (raw_write(r, r->out.data, r->out.size) == -1) {
		client_fail(b, "send: %s", strerror(errno));
		return -1;
	}
	while ((rc = resp_next(r, got, len, why, sizeof(why))) == 0) {
		if ((n = raw_fill(r, 0)) <= 0) {
			client_fail(b, "receive: %s", n == 0 ?
			    "connection closed" : strerror(errno));
			return -1;
		}
		r->inlen += (size_t)n;
	}
	if (rc != 1) {
		client_fail(b, "%s", why);
		return -1;
	}
	return 1;
}

/* prodcons producer p of np: items p, p + np, ... to queue item % queues. */
static void
run_producer(struct bench *b, qlock *c, struct raw *r, int p, int np,
    double deadline)
{
	const void	*got;
	uint32_t	 len;
	uint8_t	*item = calloc(1, b->o.size + 1);
	char	 name[NAME_LEN];
	long	 g;
	double	 t1 = now_mono();

	if (item == NULL) {
		client_fail(b, "out of memory");
		return;
	}
	memset(item, 'x', b->o.size);
	for (g = p; g < b->o.requests && !out_of_time(b, deadline); g += np) {
		name_make(b, -1, g % b->o.queues, name);
		item_fill(item, b->o.size, (uint64_t)g);
		if (b->o.redis) {
			msgpack_sbuffer_clear(&r->out);
			resp_request(r, "queue.put", name, item, b->o.size);
			if (redis_call(b, r, &got, &len) == -1)
				break;
		} else if (qlock_queue_put(c, name, item, b->o.size,
		    QLOCK_FOREVER) != QLOCK_OK) {
			client_fail(b, "put %s: %s", name, qlock_last_error(c));
			break;
		}
		t1 = now_mono();
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
run_consumer(struct bench *b, qlock *c, struct raw *r, int cid,
    double deadline)
{
	const void	*rgot;
	uint32_t	 rlen;
	char		 tbuf[32];
	char	 name[NAME_LEN];
	int	 q = cid % b->o.queues, tries, st;
	void	*got;
	size_t	 gotlen;
	double	 t, wait, t1 = now_mono();

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
			wait = deadline - now_mono();
			if (b->o.redis) {	/* BRPOP, nil when it waited */
				snprintf(tbuf, sizeof(tbuf), "%.3f",
				    wait < GET_WAIT ? wait : GET_WAIT);
				msgpack_sbuffer_clear(&r->out);
				resp_request(r, "queue.bget", name, tbuf,
				    strlen(tbuf));
				if (redis_call(b, r, &rgot, &rlen) == -1)
					goto out;
				if (rgot == NULL)
					continue;
				t = now_mono();
				item_check(b, rgot, rlen, q, t);
				goto got;
			}
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
		t = now_mono();
		item_check(b, got, gotlen, q, t);
		free(got);
got:
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
void __attribute__((noreturn))
client_give_up(struct bench *b)
{
	client_ready(b, 'e');
	_exit(1);
}

/* Set up: wait for the parent to start every client (it closes its end
 * of the go pipe), or to cancel; the time of the start. */
double
client_wait_go(struct bench *b)
{
	char	go;

	client_ready(b, 'r');
	while (read(b->gor, &go, 1) == -1 && errno == EINTR)
		;
	if (b->sh->cancel)
		_exit(1);
	return now_mono();
}

/* A client process: connect, choose names, wait for the start, run. */
void __attribute__((noreturn))
client_main(struct bench *b)
{
	char		(*names)[NAME_LEN] = NULL;
	struct rset	 rs;
	qlock		*c = NULL;
	char		 tok;
	double		 deadline;
	int		 st, np;

	rset_init(&rs);
	if (b->test == T_PIPELINE) {
		if (raw_connect(&rs.conn[0], b->o.address, b->o.key,
		    b->o.max_seconds + READY_GRACE) == -1) {
			client_fail(b, "connect to %s failed", b->o.address);
			client_give_up(b);
		}
	}
	/* Placement is for roundtrip only (main checks): the pipeline's raw
	 * connection needs no libqlock one. */
	if (b->o.redis) {
		if (raw_open(&rs.conn[0], b->o.address,
		    b->o.max_seconds + READY_GRACE) == -1) {
			client_fail(b, "connect to %s failed", b->o.address);
			client_give_up(b);
		}
	} else if (b->test != T_PIPELINE &&
	    (c = qlock_connect(b->o.address, b->o.key, &st)) == NULL) {
		client_fail(b, "connect: %s", qlock_last_error(NULL));
		client_give_up(b);
	}
	if (rs.conn[0].fd != -1)
		rset_opened(&rs, 0);
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
		run_pipeline(b, &rs, names, deadline);
		break;
	case T_PUT:
		run_put(b, c, names, deadline);
		break;
	case T_LOCK:
		run_lock(b, c, deadline);
		break;
	case T_PRODCONS:
		if (b->id < np)
			run_producer(b, c, &rs.conn[0], b->id, np,
			    deadline);
		else
			run_consumer(b, c, &rs.conn[0], b->id - np,
			    deadline);
		break;
	case T_NTESTS:
		break;
	}
	qlock_close(c);
	rset_close(&rs);
	free(names);
	_exit(0);
}

/* ---- Redis, for a peer measured by the same client (--redis) ------------ */

/* Append one RESP command of n arguments. */
