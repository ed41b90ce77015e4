/*
 * lq_keep.c: qlock_keep, for a handle that holds something on a shard and
 * makes no call for a while (qlock(1)'s lock and sem run a command so).
 * In a cluster its session there is bound to the handle's token; when the
 * shard's leader dies, the new one keeps what the session held for the
 * daemon's --session-grace, for the handle to take back by resuming the
 * session (docs/PROTOCOL.md, "Sessions", "Across a failover").  A call
 * does that by itself; qlock_keep does it without one: it asks a member
 * for the leaders, and when the connection to name's shard closed, or the
 * topology names another leader (a frozen or cut-off leader keeps its
 * connections open), it resumes the session on the leader named.  The old
 * connection is closed only once the new one resumed: a topology from a
 * member that lags cannot make the handle drop a live leader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lq_int.h"
#include "shard.h"

/* Free a route that is not c's. */
static void
route_drop(qlock *c, struct lq_route *rt)
{
	struct lq_route	*mine = c->route;

	if (rt == NULL)
		return;
	c->route = rt;
	lq_route_free(c);
	c->route = mine;
}

int
qlock_keep(qlock *c, const char *name)
{
	struct lq_route	*rt, *now;
	const char	*addr;
	unsigned	 shard;
	int		 fd, nfd;
	bool		 alive;

	if (c == NULL || name == NULL)
		return c == NULL ? QLOCK_EINVAL : lq_fail(c, QLOCK_EINVAL,
		    "keep: NULL name");
	rt = c->route;
	if (rt == NULL || !rt->cluster) {
		/* One node: a connection lost took its session with it. */
		fd = lq_route_name_fd(c, name);
		if (fd != -1 && lq_conn_alive(fd))
			return QLOCK_OK;
		return lq_fail(c, QLOCK_ENOTOWNER, "connection to the daemon "
		    "lost, and with it what this handle held on '%s'", name);
	}
	shard = shard_of(name, strlen(name), (unsigned)rt->nshards);
	fd = rt->fd[shard];
	alive = fd != -1 && lq_conn_alive(fd);
	now = lq_follow_topology(c);
	addr = now != NULL ? now->addr[shard] : NULL;
	if (alive && (addr == NULL || (rt->addr[shard] != NULL &&
	    strcmp(addr, rt->addr[shard]) == 0))) {
		route_drop(c, now);
		return QLOCK_OK;	/* still there, or nothing better known */
	}
	if (addr == NULL) {
		route_drop(c, now);
		return lq_fail(c, QLOCK_ECONN, "keep: no leader of shard %u "
		    "known now", shard);
	}
	if ((nfd = lq_leader_open(c, addr)) == -1) {
		route_drop(c, now);
		return QLOCK_ECONN;	/* c->err says why */
	}
	if (fd != -1)
		close(fd);
	rt->fd[shard] = nfd;
	free(rt->addr[shard]);
	rt->addr[shard] = now->addr[shard];
	now->addr[shard] = NULL;
	free(rt->next[shard]);		/* moved already */
	rt->next[shard] = NULL;
	route_drop(c, now);
	if (c->resumed_last < 0)
		return lq_fail(c, QLOCK_ENOTOWNER, "the session did not resume "
		    "on the new leader of '%s': what this handle held there "
		    "was given back", name);
	return QLOCK_OK;
}
