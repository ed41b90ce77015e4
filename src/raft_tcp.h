/* raft_tcp.h: qlockd's transport for libraft: TCP with TCP_NODELAY on
 * every stream, a mutual HMAC-SHA256 challenge-response with the cluster's
 * key (the daemon's authkey) before a stream is handed to raft, so that
 * only members holding the key can vote or append, and after it every byte
 * in AES-256-GCM records with a key of the connection
 * (docs/HA-TRANSPORT.md). */
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
/* Side streams: the same handshake (hello magic "QLS2" instead of
 * "QLR1"), on raft's port, to a member, for a protocol of the caller's
 * (src/repl_readidx.c), in records both ways (raft_tcp_rec.c).  cb gets
 * its end of the relay (raft_malloc'd, data unset: the caller's to use,
 * close and raft_free) with status 0, or
 * NULL and -1 when it failed.  raft_tcp_side_accept: inbound side streams
 * go to cb (refused before it is called once); raft_tcp_side_connect: 0,
 * or a RAFT_* error code (cb then is not called). */
typedef void (*raft_tcp_side_cb)(void *arg, raft_id id, uv_stream_t *s,
	    int status);
void	raft_tcp_side_accept(struct raft_uv_transport *t, raft_tcp_side_cb cb,
	    void *arg);
int	raft_tcp_side_connect(struct raft_uv_transport *t, raft_id id,
	    const char *address, raft_tcp_side_cb cb, void *arg);
/* Free what raft_tcp_init allocated (after raft closed the transport). */
void	raft_tcp_close(struct raft_uv_transport *t);
/* Counters of t, for stats and tests. */
const struct raft_tcp_stats *raft_tcp_stats(const struct raft_uv_transport *t);

#endif
