/* cluster.h: the cluster settings (--node-id, --peer, --raft-dir,
 * --raft-election-ms) and their validation; replication itself is
 * src/repl.c (docs/HA.md). */
#ifndef CLUSTER_H
#define CLUSTER_H
#include <stddef.h>

struct config;

#define CLUSTER_MAX_ID	65535

/* One --peer ID=HOST:PORT, parsed. */
struct cluster_peer {
	int	 id;		/* raft id, 1..CLUSTER_MAX_ID */
	char	 host[256];	/* IPv4, IPv6 (without brackets) or a name */
	int	 port;		/* raft port of group 0; group g: port + g */
};

/* Parse "ID=HOST:PORT" (HOST may be [V6]); -1 with why filled in. */
int	cluster_peer_parse(const char *s, struct cluster_peer *p, char *why,
	    size_t whylen);
/* Check the cluster settings together: --peer needs --node-id and
 * --raft-dir, ids and addresses unique, this node among the peers, every
 * group's port in range, no --data-dir; --node-id or --raft-dir alone are
 * errors.  -1 with the reason printed to stderr. */
int	cluster_check(const struct config *c);
/* Master, after giving root up: create --raft-dir (0700) if it is not
 * there; each worker makes its group's shard-G below it.  -1 with the
 * reason printed to stderr. */
int	cluster_prepare(const struct config *c);
#endif
