/* repl.h: a shard's Raft group inside its worker (issue 13, docs/HA.md).
 * With --peer, worker g of every node is a member of raft group g; the
 * group's leader serves shard g's objects and replicates the changes it
 * makes (the store's records) before it answers. */
#ifndef REPL_H
#define REPL_H

#include <stdbool.h>
#include <stdint.h>

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

#endif
