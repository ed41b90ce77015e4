/* topo.h: the daemon's layout as clients see it: how names map to shards,
 * and for each shard an address where its owner accepts clients directly
 * (docs/PROTOCOL.md, "Routing"). */
#ifndef TOPO_H
#define TOPO_H

struct config;
struct request;
struct worker;

/* Each worker's own listening sockets, opened and kept by the master so
 * that a restarted worker gets its address back; inherited by the
 * workers (struct config's topo). */
struct topo {
	int	  nworkers;
	int	  nown;		/* own sockets per worker: one per listener
				   (but an abstract unix socket) */
	int	  stride;	/* slots per worker: the listeners */
	int	 *fds;		/* [worker * stride + k], k < nown */
	char	**addrs;	/* the same, as bound: HOST:PORT, unix:/PATH */
	int	  nlisten;	/* the shared listeners, also with worker
				   ports off... */
	char	**laddrs;	/* ...as bound: where a relaying member
				   reaches this node (src/xfwd.c) */
};

/* Check --worker-ports: auto, off, 0 or a port.  -1 with a message. */
int	topo_check(const struct config *c);
/* --check-config: each worker's own TCP port, beside each listener, can
 * be bound now (or a running qlockd serves it).  -1 with a message naming
 * --worker-ports. */
int	topo_check_in_use(const struct config *c);
/* Open every worker's own sockets beside the nlfds shared listeners (as
 * bound, so also for sockets from systemd) into c->topo; with
 * worker-ports off, a topo with no own sockets.  Either way the
 * listeners' addresses as bound.  -1 with a message. */
int	topo_open(struct config *c, const int *lfds, int nlfds);
/* Worker id's own sockets (*n of them; NULL and 0 without a topo). */
const int *topo_own(const struct topo *t, int id, int *n);
/* In the process of worker id: close the other workers' own sockets. */
void	topo_close_others(const struct topo *t, int id);
/* Close and free; the master also removes the unix sockets. */
void	topo_free(struct topo *t);

/* topology []: shards, hash rule and each shard's direct addresses. */
void	cmd_topology(struct worker *w, struct request *r);

#endif
