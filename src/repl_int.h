/* repl_int.h: what the files of a worker's raft group share (repl.c: the
 * group, its entries and FSM; repl_read.c: the end of a loop pass, the
 * read barriers and rounds; repl_readidx.c: the rounds' messages;
 * repl_lead.c: who leads each shard, told
 * between sibling workers, for topology and NotLeader).  Not for other
 * modules: their interface is repl.h. */
#ifndef REPL_INT_H
#define REPL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <msgpack.h>
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "repl.h"
#include "store_int.h"

struct repl_entry;

/* Who leads one shard, as this worker knows it. */
struct repl_lead {
	int		 node;		/* node id, 0: unknown */
	uint8_t		*addrs;		/* msgpack array of its client
					   addresses for the shard (maybe
					   empty), never NULL once set */
	size_t		 len;
};

/* How a leader confirms reads (QLOCKD_READS, docs/HA.md). */
enum repl_read_mode {
	REPL_READ_INDEX,	/* "index": a round (repl_readidx.c) */
	REPL_READ_BARRIER,	/* "barrier": a raft_barrier */
	REPL_READ_LOCAL,	/* "local", tests only: nothing (unsafe) */
};

/* A read round's seq, not done yet or done before an earlier entry. */
struct repl_round {
	uint64_t	seq;
	bool		done;
};

struct rix;

struct repl {
	struct worker		*w;
	uv_loop_t		 loop;
	struct raft		 raft;
	struct raft_io		 io;
	struct raft_fsm		 fsm;
	struct raft_uv_transport trans;
	struct uvev		*uvev;		/* uv driven from libevent */
	uv_check_t		 check;		/* after each uv pass */
	bool			 closing;
	bool			 stopping;	/* SIGTERM: serve no more */
	bool			 handed;	/* ...and leadership handed over
						   (or never held) */
	bool			 xfer_started;
	struct raft_transfer	 xfer;
	int			 xfer_to;	/* node to hand over to, 0: any */
	int			 preferred;	/* the node that should lead */
	double			 serve_t0;	/* serving since (now_mono) */
	/* The replicated state as the records rebuild it (followers, and a
	 * leader until its epoch is applied). */
	struct replay		 rp;
	bool			 serving;	/* epoch applied: serving */
	raft_term		 serving_term;
	raft_term		 epoch_term;	/* last term an epoch was proposed */
	int			 epoch_node;	/* the last epoch applied: who */
	uint64_t		 epoch_applied;	/* its term */
	uint8_t			*epoch_addrs;	/* and where (msgpack array;
						   two with its node's
						   listeners, repl_entry.h) */
	size_t			 epoch_len;
	uint8_t			*my_addrs;	/* this node's addresses for the
						   shard (the same) */
	size_t			 my_len;
	uint64_t		 proposed;	/* own entries proposed... */
	uint64_t		 committed;	/* ...and done (committed, or a
						   round confirmed), every
						   seq up to it */
	uint64_t		 ent_hi;	/* last entry seq committed */
	struct repl_round	*rounds;	/* seqs of rounds past
						   committed, ascending */
	size_t			 nrounds, roundcap;
	enum repl_read_mode	 read_mode;
	struct rix		*rix;		/* repl_readidx.c */
	unsigned		 inflight;
	bool			 read_wanted;	/* this pass served a named
						   request: a barrier */
	bool			 bar_inflight;	/* a read barrier or round (one
						   at most) */
	bool			 read_deferred;	/* reads executed while it was in
						   flight: their replies wait
						   for our next entry (seq
						   proposed + 1) */
	struct repl_lead	*leads;		/* [nworkers] */
	bool			 lead_sent;	/* ours told the siblings once */
	/* Snapshots (repl_snap.c). */
	unsigned		 recs_inflight;	/* own "recs" entries in flight */
	bool			 snap_wanted;	/* refused for them: drain */
	bool			 drain_first;	/* at the first refusal (tests) */
	unsigned		 fail_left;	/* children to fail (tests) */
	uint64_t		 drains;	/* drains run */
	double			 snap_retry;	/* no snapshot, no drain before */
	uv_timer_t		 snap_timer;	/* bounds a drain */
	bool			 snap_timer_on;	/* initialised */
	int			 snap_child;	/* the process writing it, or 0 */
	int			 snap_fd;	/* the file it writes, or -1 */
	int			 snap_status;	/* its wait status (thread) */
	bool			 snap_waited;	/* reaped by snapshot_async */
	double			 snap_t0;	/* when it was forked */
	double			 snap_fork_ms;	/* what fork took the loop */
	uint64_t		 snap_taken;	/* snapshots handed to raft */
	uint64_t		 snap_failed;	/* children that failed */
};

/* repl.c */
/* Hand sb's bytes to raft as our entry seq (0: an epoch); exits if this
 * node cannot. */
void	repl_propose(struct repl *r, msgpack_sbuffer *sb, uint64_t seq);
/* Our entry seq (0: an epoch) is done: committed and applied, its replies
 * go; or not (deposed: what we did or read may never hold), and, unless
 * the worker ends anyway, it restarts from the replicated state with the
 * held replies unsent. */
void	repl_entry_done(struct repl *r, uint64_t seq, int status,
	    const char *what);
/* After raft_apply or raft_barrier returned rv: true when appended (in
 * flight now); else false if the worker is stopping, and exits if not. */
bool	repl_appended(struct repl *r, int rv, const char *what);

/* repl_read.c */
/* Our entry seq committed (entries commit in seq order). */
void	repl_entry_committed(struct repl *r, uint64_t seq);
/* The read round of seq is confirmed. */
void	repl_round_done(struct repl *r, uint64_t seq);
/* Confirm round seq by a barrier instead (repl_rix_barrier_done after). */
void	repl_round_barrier(struct repl *r, uint64_t seq);
void	repl_read_init(struct repl *r);

/* repl_readidx.c */
void	repl_rix_init(struct repl *r);
/* Ask the members for a round whose seq is seq (repl_round_done once a
 * majority answered it in our term). */
void	repl_rix_round(struct repl *r, uint64_t seq);
/* The barrier of repl_round_barrier committed. */
void	repl_rix_barrier_done(struct repl *r, uint64_t seq);
/* Close the streams (before raft closes the transport)... */
void	repl_rix_close(struct repl *r);
/* ...and free what is left once it has. */
void	repl_rix_free(struct repl *r);

/* An epoch is known (applied, or in a snapshot): who leads, and where. */
void	repl_epoch_known(struct repl *r, const struct repl_entry *e);

/* repl_snap.c: the FSM's snapshot functions (version 3) and restore. */
void	repl_snap_init(struct repl *r);
/* At the end of a leader's pass: a snapshot was refused for its entries
 * in flight; wait (bounded) until they are applied, raft taking it then. */
void	repl_snap_drain(struct repl *r);
/* The drain's timer, closed with raft's handles. */
void	repl_snap_close(struct repl *r);

/* repl_lead.c */
void	repl_lead_init(struct repl *r);
void	repl_lead_free(struct repl *r);
/* Our group's leader may have changed: update and tell the siblings. */
void	repl_lead_check(struct repl *r);
/* This node's client addresses for shard id, as a msgpack array. */
void	repl_my_addrs(struct repl *r);

/* repl_tail.c: open segments cut short are extended with zeros to the
 * segment size (raft 0.15 aborts on them otherwise). */
#define REPL_SEGMENT_SIZE	(8 * 1024 * 1024)	/* raft_uv's default */
void	repl_tail_repair(const char *dir, size_t segment_size);
/* Exit saying why when this member's Raft address cannot be bound. */
void	repl_bind_check(int shard, const char *self);

#endif
