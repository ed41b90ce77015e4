/*
 * topo.c: direct routing.  Beside the listeners every worker shares, each
 * worker has sockets of its own, one per shared listener: for TCP the same
 * host on port BASE + worker (BASE is --worker-ports, by default the
 * listener's port + 1), for a unix socket PATH.N.  The master opens them
 * and keeps them across a worker's restarts; `topology` tells a client
 * the shard count, the hash rule and these addresses, so that it can send
 * each named request straight to its owner instead of through a hop
 * between workers (docs/PROTOCOL.md, "Routing").
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "listen.h"
#include "repl.h"
#include "reply.h"
#include "topo.h"
#include "util.h"
#include "worker.h"

#define PORTS_AUTO	(-1)	/* listener's port + 1 */
#define PORTS_OFF	(-2)	/* no own sockets */

/* --worker-ports as a number: PORTS_AUTO, PORTS_OFF, 0 (any free port) or
 * the first worker's port; -3 if it is none of these. */
static long
ports_base(const char *spec)
{
	char	*end;
	long	 v;

	if (spec == NULL || strcmp(spec, "auto") == 0)
		return PORTS_AUTO;
	if (strcmp(spec, "off") == 0)
		return PORTS_OFF;
	errno = 0;
	v = strtol(spec, &end, 10);
	if (errno != 0 || end == spec || *end != '\0' || v < 0 || v > 65535)
		return -3;
	return v;
}

/* The TCP port of addr, or -1 (a unix socket). */
static long
addr_port(const char *addr)
{
	const char	*colon;

	if (addr == NULL || strncmp(addr, "unix:", 5) == 0 ||
	    (colon = strrchr(addr, ':')) == NULL)
		return -1;
	return atol(colon + 1);
}

/* A worker's port that is also a --listen or --metrics-listen port. */
static int
ports_clash(const struct config *c, long base)
{
	long	lo, p, q;
	int	i, j, bad = 0;

	if (base == PORTS_OFF || base == 0)
		return 0;
	for (i = 0; i < c->nlisten; i++) {
		if ((p = addr_port(c->listen[i])) <= 0)
			continue;
		lo = base == PORTS_AUTO ? p + 1 : base;
		for (j = -1; j < c->nlisten; j++) {
			q = addr_port(j < 0 ? c->metrics_listen : c->listen[j]);
			if (q >= lo && q < lo + c->workers) {
				fprintf(stderr, "qlockd: --worker-ports %s: worker "
				    "%ld would take port %ld, which --%s %s "
				    "uses\n", c->worker_ports != NULL ?
				    c->worker_ports : "auto", q - lo, q,
				    j < 0 ? "metrics-listen" : "listen",
				    j < 0 ? c->metrics_listen : c->listen[j]);
				bad = -1;
			}
		}
	}
	return bad;
}

int
topo_check(const struct config *c)
{
	long	base = ports_base(c->worker_ports);

	if (base == -3) {
		fprintf(stderr, "qlockd: --worker-ports %s: expected auto, off, 0 "
		    "or a port\n", c->worker_ports);
		return -1;
	}
	if (base > 0 && base + c->workers - 1 > 65535) {
		fprintf(stderr, "qlockd: --worker-ports %ld: %d workers need "
		    "ports up to %ld\n", base, c->workers,
		    base + c->workers - 1);
		return -1;
	}
	return ports_clash(c, base);
}

int
topo_check_in_use(const struct config *c)
{
	long	 base = ports_base(c->worker_ports), p;
	char	 addr[300];
	int	 i, w, bad = 0;

	if (base == PORTS_OFF || base == 0)
		return 0;
	for (i = 0; i < c->nlisten; i++) {
		if ((p = addr_port(c->listen[i])) <= 0)
			continue;
		for (w = 0; w < c->workers; w++) {
			/* The listener's host (brackets and all), the worker's port. */
			snprintf(addr, sizeof(addr), "%.*s:%ld",
			    (int)(strrchr(c->listen[i], ':') - c->listen[i]),
			    c->listen[i], (base == PORTS_AUTO ? p + 1 : base) + w);
			switch (listen_probe("worker-ports", addr, false)) {
			case -1:
				bad = -1;
				break;
			case 1:
				printf("qlockd: --worker-ports: %s: a running qlockd "
				    "serves it\n", addr);
				break;
			}
		}
	}
	return bad;
}

/* The address worker i's own socket beside listener fd takes, into buf;
 * 0 if the listener has none (an abstract unix socket), -1 on error. */
static int
own_addr(int fd, long base, int i, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 host[NI_MAXHOST], serv[NI_MAXSERV];
	long			 port;
	int			 err;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		fprintf(stderr, "qlockd: getsockname: %s\n", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		if (sl <= offsetof(struct sockaddr_un, sun_path) ||
		    sun->sun_path[0] == '\0')
			return 0;
		if ((size_t)snprintf(buf, len, "unix:%.*s.%d",
		    (int)(sl - offsetof(struct sockaddr_un, sun_path)),
		    sun->sun_path, i) >= len)
			return -1;
		return 1;
	}
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		return 0;
	if ((err = getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV)) != 0) {
		fprintf(stderr, "qlockd: getnameinfo: %s\n", gai_strerror(err));
		return -1;
	}
	if (base == 0)
		port = 0;
	else {
		port = (base == PORTS_AUTO ? atol(serv) + 1 : base) + i;
		if (port > 65535) {
			fprintf(stderr, "qlockd: worker %d's port would be %ld; "
			    "set --worker-ports\n", i, port);
			return -1;
		}
	}
	if ((size_t)snprintf(buf, len, ss.ss_family == AF_INET6 ?
	    "[%s]:%ld" : "%s:%ld", host, port) >= len)
		return -1;
	return 1;
}

int
topo_open(struct config *c, const int *lfds, int nlfds)
{
	struct topo	*t = xcalloc(1, sizeof(*t));
	long		 base = ports_base(c->worker_ports);
	char		 addr[PATH_MAX + 16];
	int		 i, k, n, r, fd;

	c->topo = t;
	t->nworkers = c->workers;
	if (topo_check(c) == -1)
		return -1;
	t->laddrs = xcalloc((size_t)(nlfds + 1), sizeof(char *));
	for (k = 0; k < nlfds; k++) {
		listen_describe(lfds[k], addr, sizeof(addr));
		t->laddrs[t->nlisten++] = xstrdup(addr);
	}
	if (base == PORTS_OFF)
		return 0;
	t->stride = nlfds;
	t->fds = xcalloc((size_t)(c->workers * nlfds), sizeof(int));
	t->addrs = xcalloc((size_t)(c->workers * nlfds), sizeof(char *));
	for (k = 0; k < nlfds; k++) {
		for (i = 0; i < c->workers; i++) {
			if ((r = own_addr(lfds[k], base, i, addr,
			    sizeof(addr))) == -1)
				return -1;
			if (r == 0)
				break;
			if ((fd = listen_open(c, "worker-ports", addr)) == -1 ||
			    fd_nonblock_cloexec(fd) == -1)
				return -1;
			n = i * nlfds + t->nown;
			t->fds[n] = fd;
			listen_describe(fd, addr, sizeof(addr));
			t->addrs[n] = xstrdup(addr);
		}
		if (i == c->workers)
			t->nown++;
	}
	return 0;
}

const int *
topo_own(const struct topo *t, int id, int *n)
{
	*n = 0;
	if (t == NULL || t->nown == 0)
		return NULL;
	*n = t->nown;
	return &t->fds[id * t->stride];
}

void
topo_close_others(const struct topo *t, int id)
{
	int	i, k;

	if (t == NULL)
		return;
	for (i = 0; i < t->nworkers; i++)
		for (k = 0; i != id && k < t->nown; k++)
			close(t->fds[i * t->stride + k]);
}

void
topo_free(struct topo *t)
{
	int	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nworkers * t->stride; i++) {
		if (t->addrs[i] == NULL)
			continue;
		close(t->fds[i]);
		if (strncmp(t->addrs[i], "unix:", 5) == 0)
			unlink(t->addrs[i] + 5);
		free(t->addrs[i]);
	}
	for (i = 0; i < t->nlisten; i++)
		free(t->laddrs[i]);
	free(t->laddrs);
	free(t->addrs);
	free(t->fds);
	free(t);
}

void
cmd_topology(struct worker *w, struct request *r)
{
	const struct topo	*t = w->conf->topo;
	msgpack_packer		*pk = reply_begin(w, &r->ctx);
	int			 i, k, nown = t == NULL ? 0 : t->nown;

	msgpack_pack_map(pk, repl_on(w) ? 7 : 5);
	pack_cstr(pk, "shards");
	msgpack_pack_int(pk, w->nworkers);
	pack_cstr(pk, "hash");
	pack_cstr(pk, "fnv1a-64");
	pack_cstr(pk, "tags");
	msgpack_pack_true(pk);
	pack_cstr(pk, "shard");
	msgpack_pack_int(pk, w->id);
	pack_cstr(pk, "addrs");
	msgpack_pack_array(pk, (size_t)w->nworkers);
	for (i = 0; i < w->nworkers; i++) {
		if (repl_on(w)) {	/* where the shard's leader serves */
			repl_pack_addrs(w, pk, i);
			continue;
		}
		msgpack_pack_array(pk, (size_t)nown);
		for (k = 0; k < nown; k++)
			pack_cstr(pk, t->addrs[i * t->stride + k]);
	}
	if (repl_on(w))
		repl_pack_topology(w, pk);
	reply_end(w, &r->ctx);
}
