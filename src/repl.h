/* repl.h: a shard's Raft group inside its worker (issue 13, docs/HA.md).
 * With --peer, worker g of every node is a member of raft group g; the
 * group's leader serves shard g's objects and replicates the changes it
 * makes (the store's records) before it answers. */
#ifndef REPL_H
#define REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct reqctx;
struct store_buf;
struct worker;

/* The group as this worker sees it, for stats, metrics and topology. */
struct repl_info {
	int		state;		/* RAFT_FOLLOWER, RAFT_CANDIDATE,
					   RAFT_LEADER (raft.h), or 0: no raft */
	uint64_t	term;
	int		leader;		/* node id of the leader, 0: unknown */
	bool		serving;	/* this node leads and serves the shard */
	uint64_t	commit;		/* commit index */
	uint64_t	applied;	/* last applied index */
	uint64_t	last;		/* last index in this node's log */
};

/* Is this worker a member of a raft group (the daemon has --peer)? */
bool	repl_on(const struct worker *w);
/* Fill ri (zeroed when repl_on is false). */
void	repl_get_info(const struct worker *w, struct repl_info *ri);
/* Pack the group as this worker sees it, one msgpack map (stats and the
 * metrics snapshot; see docs/PROTOCOL.md): shard, node, role, term,
 * leader, serving, commit, applied, last, and peers: for a leader, each
 * other member's node, match and next index and in_touch (a message from
 * it within the election timeout); empty otherwise.  Call only when
 * repl_on. */
void	repl_pack_info(const struct worker *w, msgpack_packer *pk);

/* Worker start, after store_open: join group w->id (raft_dir/shard-ID),
 * bootstrapped with every --peer when the directory is new.  Nothing
 * without --peer. */
void	repl_start(struct worker *w);
/* Leave the group (worker_free). */
void	repl_close(struct worker *w);
/* The worker stops (SIGTERM): named requests are refused from now on;
 * once this leader's entries are committed, its leadership goes to the
 * most up-to-date follower (raft_transfer) instead of waiting for an
 * election.  repl_stopped: that is done (or there was nothing to do). */
void	repl_stop(struct worker *w);
bool	repl_stopped(const struct worker *w);
/* Does this worker serve its shard's named requests?  Always without
 * --peer; with it, once it leads and its epoch is applied. */
bool	repl_serving(const struct worker *w);
/* Answer a named request this worker does not serve: NotLeader, naming
 * the leader when known ("shard G: leader is node N at ADDR"). */
void	repl_refuse(struct worker *w, const struct reqctx *ctx);
/* The node leading this worker's group and its first client address for
 * the shard (NUL-terminated into buf): 0 when unknown, when it is this
 * node, or when the address does not fit. */
int	repl_leader(struct worker *w, char *buf, size_t len);
/* The store in raft mode: propose the records of this pass (b, emptied)
 * as one entry; the held replies go when it commits. */
void	repl_flush(struct worker *w, struct store_buf *b);
/* A named request is about to be served from this leader's state: its
 * replies (and the pass's) wait until an entry appended after it commits
 * in our term, this pass's records, or else a read round a majority
 * confirms (or a barrier), so that a deposed leader never answers from
 * stale state.  Nothing without --peer. */
void	repl_read(struct worker *w);
/* The count of own entries a reply held now waits for. */
uint64_t repl_hold_seq(const struct worker *w);
/* The leaders table: a sibling came up (tell it ours), a sibling's
 * message about its group (QMSG_LEADER). */
void	repl_peer_up(struct worker *w, int id);
void	repl_peer_leader(struct worker *w, int id, const uint8_t *p,
	    size_t len);
/* topology in a cluster: shard g's leader's addresses (a msgpack
 * array), and the keys node and leaders. */
void	repl_pack_addrs(struct worker *w, msgpack_packer *pk, int g);
void	repl_pack_topology(struct worker *w, msgpack_packer *pk);

#endif
