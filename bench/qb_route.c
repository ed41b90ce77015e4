/* qb_route.c: qlock-bench's routing for its raw connections: the daemon's
 * topology, read once by the parent, and per client one connection to
 * each shard's own address, opened at first use (docs/PROTOCOL.md,
 * "Routing"). */

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "mp.h"
#include "qlock.h"
#include "shard.h"
#include "qb.h"

/* Ask the daemon at o->address for its topology and fill o->shards and
 * o->shard_addr; with one shard, or none reachable, routing is off. */
void
route_read(struct opts *o)
{
	struct raw		 r;
	struct mp_reader	 rd, addrs;
	const uint8_t		*body;
	const void		*res;
	const char		*k;
	char			 why[128];
	size_t			 len;
	uint32_t		 n, m, klen, reslen, i;
	uint64_t		 u;
	int64_t			 shards = 0;
	bool			 have_addrs = false;

	o->shards = 0;
	if (raw_connect(&r, o->address, o->key, o->max_seconds) == -1)
		die("connect to %s failed", o->address);
	msgpack_sbuffer_clear(&r.out);
	raw_pack(&r, "topology", NULL, NULL, 0, 0);
	if (raw_write(&r, r.out.data, r.out.size) == -1 ||
	    (body = raw_frame(&r, RESPONSE_MAX, &len)) == NULL)
		die("topology: connection broken");
	if (raw_response(body, len, why, sizeof(why), &res, &reslen) == -1) {
		fprintf(stderr, "qlock-bench: topology: %s: not routing\n",
		    why);
		raw_close(&r);
		return;
	}
	/* The result after [type, msgid, nil]. */
	mp_reader_init(&rd, body, len);
	if (mp_read_array(&rd, &n) == -1 || mp_read_uint(&rd, &u) == -1 ||
	    mp_read_uint(&rd, &u) == -1 || mp_read_nil(&rd) == -1 ||
	    mp_read_map(&rd, &n) == -1)
		goto bad;
	for (i = 0; i < n; i++) {
		if (mp_read_str(&rd, &k, &klen) == -1)
			goto bad;
		if (klen == 6 && memcmp(k, "shards", 6) == 0) {
			if (mp_read_int(&rd, &shards) == -1)
				goto bad;
		} else if (klen == 5 && memcmp(k, "addrs", 5) == 0) {
			addrs = rd;
			have_addrs = true;
			if (mp_skip(&rd, NULL, NULL) == -1)
				goto bad;
		} else if (mp_skip(&rd, NULL, NULL) == -1)
			goto bad;
	}
	if (shards < 1 || shards > QB_MAX_SHARDS || !have_addrs ||
	    mp_read_array(&addrs, &n) == -1 || n != (uint32_t)shards)
		goto bad;
	for (i = 0; i < n; i++) {
		if (mp_read_array(&addrs, &m) == -1)
			goto bad;
		if ((o->shard_addr[i] = shard_direct_read(o->address, &addrs, m)) ==
		    NULL) {
			fprintf(stderr, "qlock-bench: shard %u has no address "
			    "of this kind: not routing\n", i);
			raw_close(&r);
			return;
		}
	}
	o->shards = shards > 1 ? (int)shards : 0;
	raw_close(&r);
	return;
bad:
	die("topology: malformed answer");
}

/* A client's set of connections: conn[0] its first one, still to be
 * opened by the caller (who then says so with rset_opened). */
void
rset_init(struct rset *s)
{
	int	i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i <= QB_MAX_SHARDS; i++)
		s->conn[i].fd = -1;
}

/* Connection i has just been connected. */
void
rset_opened(struct rset *s, int i)
{
	s->open[s->nopen++] = i;
}

/* The shard a request for name goes to: -1 for the first connection
 * (no name, no routing, or Redis). */
int
rset_shard(const struct bench *b, const char *name)
{
	if (name == NULL || b->o.redis || b->o.shards == 0)
		return -1;
	return (int)shard_of(name, strlen(name), (unsigned)b->o.shards);
}

/* The connection for shard (-1: the first one), connected now if it is
 * not yet; NULL (the client failed) if it cannot be. */
struct raw *
rset_pick_shard(struct bench *b, struct rset *s, int shard)
{
	struct raw	*r;

	if (shard < 0)
		return &s->conn[0];
	r = &s->conn[1 + shard];
	if (r->fd != -1)
		return r;
	if (raw_connect(r, b->o.shard_addr[shard], b->o.key,
	    b->o.max_seconds + READY_GRACE) == -1) {
		client_fail(b, "connect to shard %d at %s failed", shard,
		    b->o.shard_addr[shard]);
		r->fd = -1;
		return NULL;
	}
	rset_opened(s, 1 + shard);
	return r;
}

/* The connection a request for name goes out on: the first one without
 * routing or a name, else its shard's own (rset_pick_shard). */
struct raw *
rset_pick(struct bench *b, struct rset *s, const char *name)
{
	return rset_pick_shard(b, s, rset_shard(b, name));
}

/* Clear every open connection's batch and its count of answers owed. */
void
rset_clear(struct rset *s)
{
	int	i;

	for (i = 0; i < s->nopen; i++) {
		s->owed[s->open[i]] = 0;
		msgpack_sbuffer_clear(&s->conn[s->open[i]].out);
	}
}

/* Send every open connection's batch; -1 if one broke. */
int
rset_flush(struct rset *s)
{
	struct raw	*r;
	int		 i;

	for (i = 0; i < s->nopen; i++) {
		r = &s->conn[s->open[i]];
		if (r->out.size > 0 &&
		    raw_write(r, r->out.data, r->out.size) == -1)
			return -1;
	}
	return 0;
}

void
rset_close(struct rset *s)
{
	int	i;

	for (i = 0; i <= QB_MAX_SHARDS; i++)
		if (s->conn[i].fd != -1)
			raw_close(&s->conn[i]);
	s->nopen = 0;
}
