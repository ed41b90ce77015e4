/*
 * lq_follow.c: following a cluster's leaders (docs/PROTOCOL.md,
 * "Routing").  In a cluster only the leader of a shard serves its
 * objects; the topology names the leaders and their workers' addresses.
 * A request for a named object goes to its shard's leader; the answer
 * NotLeader (nothing was done) sends it again to the leader the error
 * names, or, after asking topology again, to the new one, for at most
 * FOLLOW_WAIT seconds and FOLLOW_TRIES tries.  A connection that cannot
 * be opened is tried elsewhere the same way (nothing was sent).  A
 * leader's connection lost once the request was sent: it is sent again,
 * once, if its session resumes on the new leader (resend_check); else the
 * call fails with QLOCK_ECONN (its outcome is unknown: never sent twice),
 * and the next call asks for the leaders again and goes on, on new
 * connections.  Each connection to a leader binds its session to the
 * handle's token first (lq_leader_open), so holds outlive a leader that
 * dies.
 */
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "lq_int.h"

#define FOLLOW_WAIT	10.0	/* s: how long one call follows leaders */
#define FOLLOW_TRIES	100	/* and at most that many sends or connects */
#define BACKOFF_MIN	0.05	/* s: wait between tries, doubling */
#define BACKOFF_MAX	0.2

static void
pause_s(double s)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The next address of a comma-separated list at *list into buf (false at
 * its end or for one too long). */
int
lq_addr_next(const char **list, char *buf, size_t len)
{
	const char	*p = *list, *e;
	size_t		 n;

	while (*p == ',' || *p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	e = strchr(p, ',');
	n = e == NULL ? strlen(p) : (size_t)(e - p);
	*list = p + n;
	while (n > 0 && p[n - 1] == ' ')
		n--;
	if (n == 0 || n >= len)
		return lq_addr_next(list, buf, len);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 1;
}

/* Open the first connection again: to the members given, in order, else
 * to a leader's worker known from the last topology (any worker answers
 * topology). */
int
lq_follow_reopen(qlock *c)
{
	struct lq_route	*rt = c->route;
	const char	*list = c->members;
	char		 buf[1024];
	int		 fd, i;

	while (list != NULL && lq_addr_next(&list, buf, sizeof(buf)))
		if ((fd = lq_conn_open(c, buf)) != -1)
			goto found;
	for (i = 0; rt != NULL && i < rt->nshards; i++)
		if (rt->addr[i] != NULL &&
		    (fd = lq_conn_open(c, rt->addr[i])) != -1) {
			snprintf(buf, sizeof(buf), "%s", rt->addr[i]);
			goto found;
		}
	return QLOCK_ECONN;		/* c->err says why the last failed */
found:
	if (c->fd != -1)
		close(c->fd);
	c->fd = fd;
	free(c->at);
	c->at = strdup(buf);
	return QLOCK_OK;
}

/* The request being followed stays in c->sbuf (its msgid in c->msgid)
 * while another is made on the side, in a buffer of its own, straight on a
 * socket (no routing): what aside_begin keeps and aside_end puts back. */
struct aside {
	msgpack_sbuffer	 sbuf;
	uint64_t	 msgid;
	size_t		 tmo_off;	/* where its timeout is packed */
	double		 tmo;
	struct lq_route	*route;
	char		 err[ERR_MAX];
};

static void
aside_begin(qlock *c, struct aside *a)
{
	a->sbuf = c->sbuf;
	a->msgid = c->msgid;
	a->tmo_off = c->tmo_off;
	a->tmo = c->tmo;
	a->route = c->route;
	snprintf(a->err, sizeof(a->err), "%s", c->err);
	msgpack_sbuffer_init(&c->sbuf);
	c->route = NULL;		/* lq_req_call on c->fd */
}

/* keep_err: the side request's error stays the call's. */
static void
aside_end(qlock *c, struct aside *a, bool keep_err)
{
	msgpack_sbuffer_destroy(&c->sbuf);
	c->sbuf = a->sbuf;
	c->msgid = a->msgid;	/* the answer awaited is the request's */
	c->tmo_off = a->tmo_off;
	c->tmo = a->tmo;
	c->route = a->route;
	if (!keep_err)
		snprintf(c->err, sizeof(c->err), "%s", a->err);
}

/* Ask topology on the first connection (opened again if it broke): a
 * new route (no connections) naming the leaders, or NULL if it failed or
 * is not a cluster's of as many shards as c's route. */
struct lq_route *
lq_follow_topology(qlock *c)
{
	struct lq_route	*old = c->route, *rt;
	struct mp_reader res;
	struct aside	 a;
	int		 tries;

	aside_begin(c, &a);
	rt = NULL;
	for (tries = 0; tries < 2 && rt == NULL; tries++) {
		c->route = old;		/* lq_follow_reopen's addresses */
		if (c->fd == -1 && lq_follow_reopen(c) != QLOCK_OK)
			break;
		c->route = NULL;
		if (lq_req_begin(c, "topology", 0) == QLOCK_OK &&
		    lq_req_call(c, &res) == QLOCK_OK)
			rt = lq_route_parse(c->at != NULL ? c->at : "",
			    &res);
	}
	aside_end(c, &a, false);
	if (rt != NULL && (!rt->cluster || rt->nshards != old->nshards)) {
		c->route = rt;
		lq_route_free(c);
		c->route = old;
		rt = NULL;
	}
	return rt;
}

/*
 * Ask topology and take the leaders it names.  A connection to a leader
 * stays, whatever the answer says: closing it would end its session on a
 * leader that may well be alive, and with it what the session holds.  A
 * member in an election, just started, or cut off from a shard's leader
 * names none for it, or one that was; so a shard named without a leader
 * keeps its own, and one named with another gets it in next[], for the
 * next request (follow_move).  On failure the route stays as it was,
 * marked stale.
 */
static void
follow_refresh(qlock *c)
{
	struct lq_route	*old = c->route, *rt;
	int		 i;

	if ((rt = lq_follow_topology(c)) == NULL) {
		old->stale = true;
		return;
	}
	for (i = 0; i < rt->nshards; i++) {
		if (old->fd[i] == -1 || old->addr[i] == NULL)
			continue;
		if (rt->addr[i] != NULL && strcmp(rt->addr[i], old->addr[i]) != 0)
			rt->next[i] = rt->addr[i];
		else
			free(rt->addr[i]);
		rt->addr[i] = old->addr[i];
		old->addr[i] = NULL;
		rt->fd[i] = old->fd[i];
		old->fd[i] = -1;
	}
	lq_route_free(c);
	c->route = rt;
}

/*
 * The topology named another leader for shard than the one its connection
 * reaches: open a connection there, bound to the session (lq_leader_open),
 * and only then close the old one.  If the leader named cannot be had (it
 * broke, or does not lead: the member asked lagged), the old connection
 * stays the shard's while it is open.  1: moved; 0: stayed; -1: neither
 * (the old connection closed too; the shard's leader is the one named).
 */
static int
follow_move(qlock *c, struct lq_route *rt, int shard)
{
	char	*to = rt->next[shard];
	int	 fd;

	rt->next[shard] = NULL;
	if ((fd = lq_leader_open(c, to)) == -1 && lq_conn_alive(rt->fd[shard])) {
		free(to);
		return 0;
	}
	close(rt->fd[shard]);
	rt->fd[shard] = fd;
	free(rt->addr[shard]);
	rt->addr[shard] = to;
	return fd == -1 ? -1 : 1;
}

/*
 * Open a connection to a shard's leader at addr and bind its session to
 * this client's token (session.resume; docs/PROTOCOL.md, "Sessions",
 * "Across a failover"): what the client held on a leader that died is its
 * again on the new one if it comes back within the grace period, and
 * c->resumed_last says which request's answer the daemon kept (-1: none
 * resumed).  -1 if it cannot be opened, breaks, or the node does not lead
 * the shard (NotLeader, the leader named in c->err): nothing of the
 * request was sent.  A daemon that does not know the method (an older
 * one) or refuses the token serves the connection as before.
 */
int
lq_leader_open(qlock *c, const char *addr)
{
	static const char *const keys[] = { "resumed", "last" };
	struct mp_reader res;
	struct aside	 a;
	int64_t		 v[2];
	int		 first = c->fd, fd, st;

	c->resumed_last = -1;
	if (!c->token_set) {
		if (getrandom(c->token, sizeof(c->token), 0) !=
		    (ssize_t)sizeof(c->token))
			return lq_fail(c, QLOCK_ECONN, "getrandom: %s",
			    strerror(errno)), -1;
		c->token_set = true;
	}
	if ((fd = lq_conn_open(c, addr)) == -1)
		return -1;
	aside_begin(c, &a);
	c->fd = fd;
	if ((st = lq_req_begin(c, "session.resume", 1)) == QLOCK_OK) {
		lq_pk_bin(c, c->token, sizeof(c->token));
		st = lq_req_call(c, &res);
	}
	if (c->fd == -1)
		st = QLOCK_ECONN;		/* it broke, and is closed */
	else if (st == QLOCK_OK && lq_res_fields(c, "session.resume", &res,
	    keys, v, 2) == QLOCK_OK && v[0] && v[1] >= 0)
		c->resumed_last = v[1];
	c->fd = first;
	aside_end(c, &a, st == QLOCK_ECONN || st == QLOCK_ENOTLEADER);
	if (st == QLOCK_ECONN)
		return -1;
	if (st == QLOCK_ENOTLEADER) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A request sent on a leader's connection that broke before its answer
 * came may be sent again only on the new connection of a session that
 * resumed, and only if the daemon kept the answer of this very request or
 * of none after it: then it either answers from what it kept (done once)
 * or does it now (never done).  Else its outcome is unknown.
 */
static int
resend_check(qlock *c)
{
	if (c->resumed_last >= 0 && (uint64_t)c->resumed_last <= c->msgid)
		return QLOCK_OK;
	return lq_fail(c, QLOCK_ECONN, "the connection to the leader broke "
	    "with the request in flight and its session did not resume: its "
	    "outcome is unknown");
}

/* The NotLeader message "shard G: leader is node N at ADDR": ADDR of the
 * kind of the first connection's, to send to, or NULL. */
static char *
named_leader(const qlock *c)
{
	const char	*p = strstr(c->err, ": leader is node ");
	bool		 unix_ = c->at != NULL && strncmp(c->at, "unix:", 5) == 0;

	if (p == NULL || (p = strstr(p, " at ")) == NULL || p[4] == '\0')
		return NULL;
	p += 4;
	if ((strncmp(p, "unix:", 5) == 0) != unix_)
		return NULL;
	return strdup(p);
}

/* False if the daemon closed fd (a leader that died since its last
 * answer): a request not sent yet can go elsewhere. */
bool
lq_conn_alive(int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	char		b;
	ssize_t		n;

	if (poll(&pfd, 1, 0) != 1)
		return true;
	if ((pfd.revents & (POLLHUP | POLLERR)) != 0)
		return false;
	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR));
}

/* Rewrite the request's timeout to what is left of it after spent s. */
static void
timeout_left(qlock *c, double spent)
{
	uint8_t		*p;
	double		 left;
	uint64_t	 u;
	int		 i;

	if (c->tmo_off == 0 || c->tmo <= 0 || isinf(c->tmo))
		return;
	left = c->tmo - spent;
	if (left < 0)
		left = 0;
	p = (uint8_t *)c->sbuf.data + c->tmo_off;
	if (*p != 0xcb)			/* msgpack float 64 */
		return;
	memcpy(&u, &left, sizeof(u));
	for (i = 8; i >= 1; i--, u >>= 8)
		p[i] = (uint8_t)(u & 0xff);
}

/* Send the request on fd (c->fd for the call) and read its answer; false
 * in *lost if fd broke (it is closed then). */
static int
call_on(qlock *c, int fd, struct mp_reader *res, bool *lost)
{
	int	first = c->fd, st;

	c->fd = fd;
	st = lq_req_call_fd(c, res);
	*lost = c->fd == -1;
	c->fd = fd == first ? c->fd : first;
	return st;
}

int
lq_follow_call(qlock *c, struct mp_reader *res)
{
	struct lq_route	*rt;
	double		 start = now_mono(), backoff = BACKOFF_MIN;
	char		*named;
	bool		 lost, on_first, fresh, resend = false;
	int		 tries, shard, fd, st = QLOCK_ECONN;

	for (tries = 0; tries < FOLLOW_TRIES; tries++) {
		if (tries > 0) {
			if (now_mono() - start >= FOLLOW_WAIT)
				break;
			pause_s(backoff);
			backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
		}
		if (c->route->stale || tries > 0)
			follow_refresh(c);
		rt = c->route;
		shard = lq_route_shard(c);
		fresh = false;
		if (shard != -1 && rt->next[shard] != NULL &&
		    rt->fd[shard] != -1) {
			switch (follow_move(c, rt, shard)) {
			case 1:
				if (resend && resend_check(c) != QLOCK_OK)
					return QLOCK_ECONN;
				fresh = true;
				break;
			case -1:
				st = QLOCK_ECONN;
				rt->stale = true;
				continue;
			}
		}
		if (shard != -1 && rt->fd[shard] == -1 &&
		    rt->addr[shard] != NULL) {
			/* Not sent yet: a leader out of reach is looked for
			 * again. */
			if ((rt->fd[shard] = lq_leader_open(c,
			    rt->addr[shard])) == -1) {
				st = QLOCK_ECONN;
				rt->stale = true;
				continue;
			}
			if (resend && resend_check(c) != QLOCK_OK)
				return QLOCK_ECONN;
			fresh = true;
		}
		if (resend && !fresh) {
			/* Sent again only on a resumed session's connection. */
			st = QLOCK_ECONN;
			rt->stale = true;
			continue;
		}
		fd = shard != -1 && rt->fd[shard] != -1 ? rt->fd[shard] : c->fd;
		if (fd == -1) {
			if ((st = lq_follow_reopen(c)) != QLOCK_OK) {
				rt->stale = true;
				continue;
			}
			fd = c->fd;
		}
		on_first = fd == c->fd;
		if (!lq_conn_alive(fd)) {
			/* Closed while idle: not sent, go elsewhere. */
			close(fd);
			if (on_first)
				c->fd = -1;
			else
				rt->fd[shard] = -1;
			st = lq_fail(c, QLOCK_ECONN, "connection closed by the "
			    "daemon");
			rt->stale = true;
			continue;
		}
		timeout_left(c, now_mono() - start);
		st = call_on(c, fd, res, &lost);
		if (lost) {
			/* Sent: its outcome is unknown.  On a leader's
			 * connection it is sent again, once, if its session
			 * resumes (resend_check); else the next call finds
			 * the leaders again. */
			if (on_first)
				c->fd = -1;
			else
				rt->fd[shard] = -1;
			rt->stale = true;
			if (on_first || resend)
				return st;
			resend = true;
			continue;
		}
		if (st != QLOCK_ENOTLEADER)
			return st;
		/* Nothing was done: to the leader it names, else to the one
		 * the topology names once there is one. */
		rt->stale = true;
		if (shard == -1 || (named = named_leader(c)) == NULL)
			continue;
		if (rt->addr[shard] != NULL &&
		    strcmp(rt->addr[shard], named) == 0) {
			free(named);
			continue;
		}
		if (rt->fd[shard] != -1) {
			close(rt->fd[shard]);
			rt->fd[shard] = -1;
		}
		free(rt->addr[shard]);
		rt->addr[shard] = named;
		/* At once: skip the wait and the topology. */
		if ((rt->fd[shard] = lq_leader_open(c, named)) == -1)
			continue;
		if (resend && resend_check(c) != QLOCK_OK)
			return QLOCK_ECONN;
		timeout_left(c, now_mono() - start);
		st = call_on(c, rt->fd[shard], res, &lost);
		if (lost) {
			rt->fd[shard] = -1;
			if (resend)
				return st;
			resend = true;
			continue;
		}
		if (st != QLOCK_ENOTLEADER)
			return st;
	}
	if (resend)
		return lq_fail(c, QLOCK_ECONN, "the connection to the leader "
		    "broke with the request in flight and no leader took its "
		    "session again within %g s: its outcome is unknown",
		    FOLLOW_WAIT);
	return st;
}
