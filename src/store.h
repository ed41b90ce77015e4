/* store.h: durability: each worker's append-only log of its shard's
 * changes, fsync policies with group commit, compaction, replay, and the
 * re-partitioning of logs when the worker count changes.
 *
 * Layout of --data-dir:
 *   CURRENT            "gen K workers N\n": the live generation
 *   gen-K/shard-I.log  worker I's log (header, then records)
 *
 * File format, version STORE_VERSION:
 *   header: "QLOCKLOG" (8 bytes), u32 version, u32 reserved (little-endian)
 *   record: u32 magic "QREC", u32 payload length, u32 CRC-32 of the payload,
 *           payload: one msgpack array [type, fields...] (see store_int.h)
 *   the file may end in zeros (space allocated ahead of the records).
 * To change the format: bump STORE_VERSION, keep reading the old version
 * (or convert it at start), and never change what an existing record type
 * means: add a new type instead. */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"

#define STORE_VERSION	1
/* A worker's exit status when its log cannot be replayed: the master
 * stops the daemon instead of restarting the worker. */
#define STORE_EXIT_BADLOG	78

struct config;
struct worker;

/* A growable byte buffer records are packed into.  A snapshot's buffer
 * spills: whole records go to fd (at off) whenever it holds a megabyte. */
struct store_buf {
	uint8_t		*p;
	size_t		 len, cap;
	bool		 spill;
	bool		 spill_failed;	/* a write to fd failed (errno kept) */
	int		 fd;
	uint64_t	 off;
};

/* One worker's open log. */
struct store {
	bool		 raft;		/* raft mode (--peer): no file, the
					   records go to raft entries */
	char		*path;		/* gen-K/shard-I.log */
	char		*dirpath;	/* gen-K, fsync'ed after renames */
	int		 fd;
	int		 policy;	/* enum fsync_policy */
	uint64_t	 end;		/* offset after the last whole record */
	uint64_t	 allocated;	/* file size reserved with fallocate */
	uint64_t	 synced;	/* offset known to be on disk */
	uint64_t	 live;		/* size of the last snapshot written */
	struct store_buf pend;		/* records not written yet */
	uint64_t	 next_item;	/* item ids continue from here */
	uint64_t	 token_reserved; /* fencing tokens below this are logged */
	uint64_t	 fsyncs;	/* count and total time, for stats */
	double		 fsync_secs;
	bool		 disk_full;	/* the last reservation failed */
	/* Compaction, in a child process (see store_compact.c): */
	int		 compact_pid;	/* the child writing path.tmp, or 0 */
	int		 done_pid;	/* a child done, not yet reaped, or 0 */
	int		 compact_fd;	/* its status pipe */
	struct event	*compact_ev;	/* the status pipe is readable */
	bool		 compact_ready;	/* path.tmp is written: finish it */
	struct store_buf tail;		/* what was logged since the fork */
	uint64_t	 compact_from;	/* the log's size at the fork */
	double		 compact_t0;	/* when it began */
	bool		 closing;	/* no new compaction */
	int		 retire_fd;	/* the log a compaction replaced, being
					   freed a step at a time, or -1 */
	uint64_t	 retire_size;	/* what is left of it */
	struct event	*retire_ev;	/* the next step */
	/* everysec: the fsync process (see store.c): */
	int		 syncer_pid;
	int		 sync_sock;	/* SOCK_SEQPACKET to it, or -1 */
	struct event	*sync_ev;	/* its answer is readable */
	bool		 sync_busy;	/* a request is out */
	uint32_t	 file_gen;	/* +1 each time the log file is replaced */
	double		 sync_t0;	/* when the request went out */
	int		 markfd;	/* tests: synced offset written to
					   <log>.synced after each fsync
					   (QLOCKD_TEST_SYNC_MARKS), or -1 */
};

/*
 * Master, before forking: create the data directory, drop leftovers of
 * an interrupted re-partition, check every log (damage in the middle is
 * refused with the file and offset unless repair is set, which cuts the
 * log there), and re-partition the logs if the worker count changed.
 * Returns -1 with a message on stderr.
 */
int	store_prepare(const struct config *conf, bool repair);

/* Worker: open its log and replay it into w->reg.  Fatal on failure. */
void	store_open(struct worker *w);
void	store_close(struct worker *w);
/* Write (and per policy fsync) what this loop pass logged, then release
 * the replies that waited for it; compacts when the log has grown well
 * past the live data. */
void	store_flush(struct worker *w);
/* Room for a change: 0, or -1 when the disk is full (reply Limit; the
 * change must not be made). */
int	store_reserve(struct worker *w, size_t bytes);

/* The changes worth keeping, logged as they happen (no-ops without
 * --data-dir). */
void	store_q_open(struct worker *w, struct object *o);
/* The id the next item put gets (0 without --data-dir). */
uint64_t store_q_newid(struct worker *w);
void	store_q_put(struct worker *w, struct object *o, const struct qref *r);
void	store_q_take(struct worker *w, struct object *o, uint64_t id);
void	store_q_done(struct worker *w, struct object *o, uint64_t id);
void	store_q_back(struct worker *w, struct object *o, uint64_t id);
/* A joinable queue's count of unfinished tasks changed without an item
 * (task_done while nothing is taken). */
void	store_q_unfinished(struct worker *w, struct object *o);
void	store_d_set(struct worker *w, struct object *o, const char *key,
	    size_t klen, const void *val, size_t vlen);
void	store_d_del(struct worker *w, struct object *o, const char *key,
	    size_t klen);
/* Semaphore: settings and base value (free permits plus those held). */
void	store_s_set(struct worker *w, struct object *o, long base);
void	store_e_set(struct worker *w, struct object *o);
void	store_l_open(struct worker *w, struct object *o);
/* o was opened with giveback=False (o->keep). */
void	store_keep(struct worker *w, struct object *o);
void	store_b_open(struct worker *w, struct object *o);
void	store_delete(struct worker *w, struct object *o);
/* Raft mode: this worker now serves its shard (src/repl.c): item ids and
 * fencing tokens continue from what the replicated state has seen. */
void	store_raft_serve(struct worker *w, uint64_t max_item, uint64_t tokens);
/* Fencing tokens below this are recorded as reserved (0: no store). */
uint64_t store_token_mark(const struct worker *w);
/* Called before granting a fencing token above the logged reservation. */
void	store_tokens(struct worker *w);

#endif
