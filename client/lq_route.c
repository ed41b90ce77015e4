/*
 * lq_route.c: direct routing.  A qlock * asks the daemon for its topology
 * once, at connect; from then on each request for a named object goes
 * straight to the worker that owns the name, over a connection to that
 * worker's own address, opened at the first such request with the same
 * key.  Each of those connections is a session of its own on its worker,
 * and every request for one name always takes the same connection, so
 * what a hold on a worker belongs to is what it always was: the qlock *.
 * A daemon without `topology`, one worker, QLOCK_ROUTE=0, or an owner
 * that cannot be reached directly: requests go over the first connection
 * and the daemon forwards them (docs/PROTOCOL.md, "Routing").  In a
 * cluster the owners are the shards' leaders, at the addresses the
 * topology gives, and lq_follow.c follows them through failovers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "lq_int.h"
#include "shard.h"

#define ROUTE_MAX_SHARDS	4096

/* The methods that name no object (their first parameter is not one). */
static bool
method_named(const char *m, uint32_t len)
{
	static const char *const unnamed[] = { "ping", "stats", "list",
	    "topology", "session.resume" };
	size_t	i;

	for (i = 0; i < sizeof(unnamed) / sizeof(unnamed[0]); i++)
		if (strlen(unnamed[i]) == len && memcmp(unnamed[i], m, len) == 0)
			return false;
	return true;
}

void
lq_route_free(qlock *c)
{
	struct lq_route	*r = c->route;
	int		 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nshards; i++) {
		if (r->fd[i] != -1)
			close(r->fd[i]);
		free(r->addr[i]);
		free(r->next[i]);
	}
	free(r->fd);
	free(r->addr);
	free(r->next);
	free(r);
	c->route = NULL;
}

/* A leader's address among its worker's addrs (an msgpack array of n):
 * the first of the kind (TCP or unix) of the address the client used, as
 * advertised: in a cluster each leader's host is its own. */
static char *
leader_addr(const char *address, struct mp_reader *r, uint32_t n)
{
	const char	*a;
	uint32_t	 alen, i;
	char		*out = NULL;
	bool		 unix_ = strncmp(address, "unix:", 5) == 0;

	for (i = 0; i < n; i++) {
		if (mp_read_str(r, &a, &alen) == -1) {
			free(out);
			return NULL;
		}
		if (out != NULL || (alen >= 5 && memcmp(a, "unix:", 5) == 0) !=
		    unix_)
			continue;
		if ((out = malloc(alen + 1)) != NULL) {
			memcpy(out, a, alen);
			out[alen] = '\0';
		}
	}
	return out;
}

/* Read the topology reply into a route; NULL if it is not one we follow.
 * address is where the first connection reached the daemon. */
struct lq_route *
lq_route_parse(const char *address, struct mp_reader *res)
{
	struct lq_route	*rt;
	const char	*k, *hash = NULL;
	uint32_t	 nk, klen, hlen = 0, n, m, i, nl = 0;
	int64_t		 shards = 0, self = -1, node = 0, lead;
	struct mp_reader addrs, leaders;
	bool		 have_addrs = false, cluster = false;

	if (mp_read_map(res, &nk) == -1)
		return NULL;
	while (nk-- > 0) {
		if (mp_read_str(res, &k, &klen) == -1)
			return NULL;
		if (klen == 6 && memcmp(k, "shards", 6) == 0) {
			if (mp_read_int(res, &shards) == -1)
				return NULL;
		} else if (klen == 5 && memcmp(k, "shard", 5) == 0) {
			if (mp_read_int(res, &self) == -1)
				return NULL;
		} else if (klen == 4 && memcmp(k, "hash", 4) == 0) {
			if (mp_read_str(res, &hash, &hlen) == -1)
				return NULL;
		} else if (klen == 5 && memcmp(k, "addrs", 5) == 0) {
			addrs = *res;
			have_addrs = true;
			if (mp_skip(res, NULL, NULL) == -1)
				return NULL;
		} else if (klen == 4 && memcmp(k, "node", 4) == 0) {
			if (mp_read_int(res, &node) == -1)
				return NULL;
		} else if (klen == 7 && memcmp(k, "leaders", 7) == 0) {
			leaders = *res;
			cluster = true;
			if (mp_skip(res, NULL, NULL) == -1 ||
			    mp_read_array(&leaders, &nl) == -1)
				return NULL;
		} else if (mp_skip(res, NULL, NULL) == -1)
			return NULL;
	}
	/* A cluster's client follows the leaders even with one shard. */
	if (shards < (cluster ? 1 : 2) || shards > ROUTE_MAX_SHARDS ||
	    self < 0 || self >= shards || !have_addrs || hash == NULL ||
	    hlen != 8 || memcmp(hash, "fnv1a-64", 8) != 0 ||
	    mp_read_array(&addrs, &n) == -1 || n != (uint32_t)shards ||
	    (cluster && nl != (uint32_t)shards))
		return NULL;
	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return NULL;
	rt->nshards = (int)shards;
	rt->self = (int)self;
	rt->cluster = cluster;
	rt->fd = malloc((size_t)shards * sizeof(int));
	rt->addr = calloc((size_t)shards, sizeof(char *));
	rt->next = calloc((size_t)shards, sizeof(char *));
	if (rt->fd == NULL || rt->addr == NULL || rt->next == NULL) {
		free(rt->fd);
		free(rt->addr);
		free(rt->next);
		free(rt);
		return NULL;
	}
	for (i = 0; i < n; i++)
		rt->fd[i] = -1;
	for (i = 0; i < n; i++) {
		if (mp_read_array(&addrs, &m) == -1)
			break;
		lead = 0;
		if (cluster && mp_read_nil(&leaders) == -1 &&
		    mp_read_int(&leaders, &lead) == -1)
			break;
		/* In a cluster every shard, the first connection's own
		 * included, has a connection to its leader's worker: the
		 * session bound to this client's token (lq_follow.c). */
		if (cluster)
			rt->addr[i] = leader_addr(address, &addrs, m);
		else if (i != (uint32_t)self)
			rt->addr[i] = shard_direct_read(address, &addrs, m);
		else
			for (; m > 0; m--)
				mp_skip(&addrs, NULL, NULL);
	}
	return rt;
}

void
lq_route_init(qlock *c, const char *address)
{
	const char		*env = getenv("QLOCK_ROUTE");
	struct mp_reader	 res;

	if (env != NULL && (strcmp(env, "0") == 0 || strcmp(env, "off") == 0))
		return;
	if (lq_req_begin(c, "topology", 0) != QLOCK_OK ||
	    lq_req_call(c, &res) != QLOCK_OK) {
		/* An older daemon (NoMethod): forwarding, and no error. */
		snprintf(c->err, sizeof(c->err), "no error");
		return;
	}
	c->route = lq_route_parse(address, &res);
}

/* The shard of the named object the request in c->sbuf is about, or -1
 * for a request that names none (or no routing). */
int
lq_route_shard(const qlock *c)
{
	const struct lq_route	*rt = c->route;
	struct mp_reader	 r;
	const char		*s;
	uint32_t		 n, len;
	uint64_t		 u;

	if (rt == NULL)
		return -1;
	mp_reader_init(&r, (const uint8_t *)c->sbuf.data + FRAME_HDR,
	    c->sbuf.size - FRAME_HDR);
	if (mp_read_array(&r, &n) == -1 || mp_read_uint(&r, &u) == -1 ||
	    mp_read_uint(&r, &u) == -1 || mp_read_str(&r, &s, &len) == -1 ||
	    !method_named(s, len) || mp_read_array(&r, &n) == -1 || n == 0 ||
	    mp_read_str(&r, &s, &len) == -1)
		return -1;
	return (int)shard_of(s, len, (unsigned)rt->nshards);
}

/* The socket the request in c->sbuf goes on: an owner's, or c->fd. */
int
lq_route_fd(qlock *c)
{
	struct lq_route		*rt = c->route;
	int			 shard, fd;

	if ((shard = lq_route_shard(c)) == -1)
		return c->fd;
	if (rt->fd[shard] != -1)
		return rt->fd[shard];
	if (rt->addr[shard] == NULL)
		return c->fd;
	fd = lq_conn_open(c, rt->addr[shard]);
	/* Unreachable directly: this shard goes through c->fd for good, so
	 * that all its requests stay in one session. */
	free(rt->addr[shard]);
	rt->addr[shard] = NULL;
	if (fd == -1)
		return c->fd;
	rt->fd[shard] = fd;
	return fd;
}

/* The socket the requests on name take once made: its owner's connection
 * if one is open, else c->fd. */
int
lq_route_name_fd(const qlock *c, const char *name)
{
	const struct lq_route	*rt = c->route;
	unsigned		 shard;

	if (rt == NULL || name == NULL)
		return c->fd;
	shard = shard_of(name, strlen(name), (unsigned)rt->nshards);
	return rt->fd[shard] != -1 ? rt->fd[shard] : c->fd;
}
