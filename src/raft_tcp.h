/* raft_tcp.h: qlockd's transport for libraft: TCP with TCP_NODELAY on
 * every stream, a mutual HMAC-SHA256 challenge-response with the cluster's
 * key (the daemon's authkey) before a stream is handed to raft, so that
 * only members holding the key can vote or append, and after it every byte
 * in AES-256-GCM records with a key of the connection (docs/HA.md, "Raft
 * traffic: TCP_NODELAY and the cluster key"). */
#ifndef RAFT_TCP_H
#define RAFT_TCP_H

#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>

struct raft_tcp_stats {
	uint64_t	accepted;	/* streams authenticated and handed to raft */
	uint64_t	connected;
	uint64_t	refused;	/* handshakes that failed (wrong key,
					   wrong group, an id not a member,
					   garbage, timeout) */
	uint64_t	bad_record;	/* connections closed after the
					   handshake for a record not
					   authentic (tampered, injected,
					   replayed, cut) or too long */
};

#define RAFT_TCP_MAX_MEMBERS	64

/* Set up t (to give to raft_uv_init) on loop.  key (keylen bytes) is
 * borrowed and must outlive t; group is the raft group (shard) this
 * transport serves: a peer that connects for another group is refused.
 * 0, or a RAFT_* error code. */
int	raft_tcp_init(struct raft_uv_transport *t, uv_loop_t *loop,
	    const void *key, size_t keylen, int group);
/* Add id to the members t accepts connections from (at most
 * RAFT_TCP_MAX_MEMBERS; call before raft starts).  An inbound hello from
 * an id that is not a member, or from this node's own id, is refused.
 * 0, or RAFT_INVALID (id 0, or too many). */
int	raft_tcp_member(struct raft_uv_transport *t, raft_id id);
/* Free what raft_tcp_init allocated (after raft closed the transport). */
void	raft_tcp_close(struct raft_uv_transport *t);
/* Counters of t, for stats and tests. */
const struct raft_tcp_stats *raft_tcp_stats(const struct raft_uv_transport *t);

#endif
