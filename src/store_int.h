/* store_int.h: what the files of the store share (store.c: the worker's
 * log; store_rec.c: records and snapshots; store_replay.c: replay;
 * store_dir.c: the data directory; store_compact.c: compaction; repl.c:
 * the store's raft mode, records as raft entries).  Not for other
 * modules: their interface is store.h. */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <msgpack.h>

#include "hmap.h"
#include "mp.h"
#include "object.h"
#include "store.h"

#define HDR_MAGIC	"QLOCKLOG"
#define HDR_LEN		16
#define REC_MAGIC	0x43455251u	/* "QREC" little-endian */
#define REC_HDR		12
#define REC_MAX		(1u << 30)
#define ALLOC_CHUNK	(8u << 20)	/* space reserved ahead of the records */
#define ZERO_CHUNK	(1u << 20)	/* always: space zero-filled ahead */
#define TOKEN_CHUNK	1000000		/* fencing tokens reserved per record */
#define SNAP_SPILL	(1u << 20)	/* a snapshot is written in pieces of this */
#define COMPACT_NICE	10		/* the compaction process's nice value */
#define RETIRE_STEP	(4u << 20)	/* bytes of a replaced log freed per step */

/* Record types: the first element of every record's array.  Never change
 * what one means: add a new type (see store.h). */
enum rec_type {
	R_Q_OPEN = 1,	/* name, maxsize, joinable */
	R_Q_PUT,	/* name, id, item */
	R_Q_TAKE,	/* name, id: left the queue (joinable: taken, unfinished) */
	R_Q_DONE,	/* name, id: a taken joinable item is finished */
	R_Q_BACK,	/* name, id: a taken item went back to the head */
	R_D_SET,	/* dict, key, value */
	R_D_DEL,	/* dict, key */
	R_S_SET,	/* name, initial, bounded, base */
	R_E_SET,	/* name, flag */
	R_L_OPEN,	/* name, recursive */
	R_B_OPEN,	/* name, parties */
	R_DELETE,	/* name */
	R_TOKENS,	/* fencing tokens below this value may have been granted */
	R_Q_UNFIN,	/* name, count: a joinable queue's unfinished tasks */
	R_KEEP,		/* name, flag: opened with giveback=False (a lock,
			   semaphore or queue opened just before) */
	/* Holds of sessions bound to a key (session.resume, a cluster
	 * only): what survives a failover (src/store_hold.c). */
	R_H_LOCK,	/* name, key, depth, token, cond: the lock (cond: a
			   Condition's own) is held by key at that depth */
	R_H_FREE,	/* name, key: key no longer holds the lock */
	R_H_SEM,	/* name, key, count: permits key holds now */
	R_H_ITEM,	/* name, id, key: the taken item is key's */
	R_H_REPLY,	/* key, msgid, reply: key's last request that
			   changed state and its reply (the msgpack after
			   the msgid; nil: too large to keep); msgid 0:
			   key keeps none (store_reply.c) */
	R_H_BIND,	/* key, flag: true: a session bound key (known to
			   a new leader even if it holds and kept nothing);
			   false: key's session ended (forget key, its kept
			   reply too) (store_reply.c) */
	R_H_WAIT,	/* name, key, msgid[, kind[, depth]]: key's
			   request msgid parked on the object, after those
			   before: a queue.get (kind absent or WAIT_GET), an
			   acquire of a lock or a condition's lock
			   (WAIT_LOCK), of a semaphore (WAIT_SEM), a
			   cond.wait, named by its lock object, with the
			   depth it holds again (WAIT_COND), a put on a full
			   queue with its item (WAIT_PUT) (store_wait.c) */
	R_H_UNWAIT,	/* name, key, msgid: it left (answered, dropped) */
};

/* What an R_H_WAIT waits for (its kind field). */
enum { WAIT_GET = 0, WAIT_LOCK = 1, WAIT_SEM = 2, WAIT_COND = 3,
    WAIT_PUT = 4, WAIT_KINDS };

/* Little-endian u32 helpers for the fixed headers. */
static inline void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

TAILQ_HEAD(rwaitq, rwait);

/* State while replaying one log (replay_init). */
struct replay {
	struct registry	*reg;
	struct hmap	 taken;		/* joinable items out of their queue */
	struct hmap	 holds;		/* keyed sessions' locks and permits
					   (struct rhold, store_hold.c) */
	struct hmap	 replies;	/* keys bound and their last
					   replies (struct rreply,
					   store_reply.c) */
	struct rwaitq	 waits;		/* keyed parked requests, in
					   record order (store_wait.c) */
	struct hmap	 waitkeys;	/* their keys (struct rwkey) */
	size_t		 nwaits;
	uint64_t	 max_item;	/* highest item id seen */
	uint64_t	 tokens;	/* highest token reservation seen */
};

/* A joinable item taken and not finished, during replay. */
struct taken {
	struct hnode	 node;		/* by (object, id) */
	struct {
		struct object	*obj;
		uint64_t	 id;
	} key;
	struct qitem	*it;
	uint64_t	 skey;		/* the taker's session key, 0: none */
};

/* A keyed session's hold of a lock or semaphore, during replay. */
struct rhold {
	struct hnode	 node;		/* by (object, key) */
	struct {
		struct object	*obj;
		uint64_t	 skey;
	} key;
	uint32_t	 depth;		/* lock: levels held, 0: none */
	uint64_t	 token;		/* lock: its fencing token */
	uint64_t	 permits;	/* semaphore: permits held */
};

/* A keyed session's parked request, during replay (by name: the
 * object may be idle in the registry).  In two lists: the replay's, in
 * record order (a new leader's places, snapshots), and its key's (what
 * an R_H_UNWAIT or the key's end looks through). */
struct rwait {
	TAILQ_ENTRY(rwait) link;	/* in the replay's */
	TAILQ_ENTRY(rwait) klink;	/* in its key's */
	struct rwkey	*key;
	char		*name;
	uint32_t	 namelen;
	uint64_t	 skey;
	uint64_t	 msgid;
	int		 kind;		/* WAIT_GET, WAIT_LOCK, WAIT_SEM,
					   WAIT_COND, WAIT_PUT */
	uint32_t	 depth;		/* WAIT_COND's */
	uint8_t		*item;		/* WAIT_PUT's, as msgpack */
	size_t		 itemlen;
};

/* A key's parked requests, during replay. */
struct rwkey {
	struct hnode	 node;		/* by skey */
	uint64_t	 skey;
	struct rwaitq	 waits;
};

/* A key bound and its session's last reply, during replay. */
struct rreply {
	struct hnode	 node;		/* by skey */
	uint64_t	 skey;
	uint64_t	 msgid;		/* 0: bound, no reply kept */
	uint8_t		*raw;		/* NULL: too large to keep */
	size_t		 len;
};

/* How a scan of a log ended. */
enum scan_end {
	SCAN_CLEAN,	/* records, then nothing (or zeros) */
	SCAN_TORN,	/* a partial record at the tail: cut it */
	SCAN_DAMAGED,	/* a bad record with good ones after it */
	SCAN_BADREC,	/* a whole record that does not apply */
};

/* store_rec.c: records and snapshots. */
int	 rec_write(void *data, const char *buf, size_t len);
/* Start a record of type with nfields after it (its header offset), and
 * end it (length, checksum). */
size_t	 rec_begin(struct store_buf *b, msgpack_packer *pk, uint32_t nfields,
	    enum rec_type type);
void	 rec_end(struct store_buf *b, size_t at);
void	 rec_q_open(struct store_buf *b, const struct object *o);
void	 rec_q_put(struct store_buf *b, const struct object *o,
	    const struct qref *r);
void	 rec_item(struct store_buf *b, const struct object *o,
	    enum rec_type type, uint64_t id);
void	 rec_d_set(struct store_buf *b, const struct object *o,
	    const char *key, size_t klen, const void *val, size_t vlen);
void	 rec_d_del(struct store_buf *b, const struct object *o,
	    const char *key, size_t klen);
void	 rec_s_set(struct store_buf *b, const struct object *o, long base);
void	 rec_flag(struct store_buf *b, const struct object *o,
	    enum rec_type type, bool flag);
void	 rec_b_open(struct store_buf *b, const struct object *o);
void	 rec_q_unfin(struct store_buf *b, const struct object *o);
void	 rec_delete(struct store_buf *b, const struct object *o);
void	 rec_tokens(struct store_buf *b, uint64_t upto);
void	 rec_h_lock(struct store_buf *b, const struct object *o,
	    uint64_t skey, uint32_t depth, uint64_t token);
/* [type, name, x, y]: R_H_SEM (key, count), R_H_ITEM (id, key); R_H_FREE
 * (name, key) is a rec_item. */
void	 rec_pair(struct store_buf *b, const struct object *o,
	    enum rec_type type, uint64_t x, uint64_t y);
/* A log image (header, then records) of reg's state into b; rp, if not
 * NULL, adds the items it holds as taken. */
void	 snapshot_records(struct store_buf *b, struct registry *reg,
	    uint64_t tokens, const struct replay *rp);
int64_t	 snapshot_fd(int fd, struct registry *reg, uint64_t tokens);
int	 snapshot_write(const char *path, const char *dirpath,
	    struct registry *reg, uint64_t tokens);

/* store_replay.c: reading logs back. */
enum scan_end replay_scan(const uint8_t *p, size_t size, struct replay *rp,
	    size_t *end, size_t *bad, const char *path);
/* An empty replay state feeding reg. */
void	 replay_init(struct replay *rp, struct registry *reg);
int	 replay_record(struct replay *rp, const uint8_t *p, size_t len);
void	 replay_finish(struct replay *rp);
void	 replay_discard(struct replay *rp);
uint64_t replay_taken_each(const struct replay *rp, const struct object *o,
	    void (*fn)(void *, const struct taken *), void *arg);
const uint8_t *replay_map(int fd, size_t *size);
struct taken *replay_taken_find(struct replay *rp, struct object *o,
	    uint64_t id);

/* store_hold.c: keyed sessions' holds in the replay state. */
int	 replay_hold(struct replay *rp, uint64_t type, const char *name,
	    uint32_t namelen, struct mp_reader *r);
struct object *replay_object(struct replay *rp, const char *name,
	    uint32_t len, enum obj_kind kind);
/* Forget the holds (and taken items) of o, being freed. */
void	 replay_forget(struct replay *rp, struct object *o);
/* Taken items go back to the head of their queues, oldest first: all of
 * them, or (a new leader's epoch) those of unkeyed sessions only: keyed
 * sessions' items and holds stay. */
void	 replay_putback(struct replay *rp, bool all);
int	 replay_taken_cmp(const void *a, const void *b);
/* Free the holds (replay_discard does, and the taken items). */
void	 replay_holds_free(struct replay *rp);
/* o's keyed holds in rp as records, by key (replicas write the same). */
void	 replay_holds_snapshot(struct store_buf *b, const struct replay *rp,
	    const struct object *o);
bool	 replay_header_ok(const uint8_t *p, size_t size);

/* store_reply.c: keyed sessions' last replies in the replay state, and
 * the keys bound (an entry with msgid 0 and nothing kept). */
void	 rec_h_reply(struct store_buf *b, uint64_t skey, uint64_t msgid,
	    const void *raw, size_t len);
void	 rec_h_bind(struct store_buf *b, uint64_t skey, bool bound);
int	 replay_reply(struct replay *rp, struct mp_reader *r);
int	 replay_bind(struct replay *rp, struct mp_reader *r);
void	 replay_replies_free(struct replay *rp);
/* rp's replies as records, by key (replicas write the same). */
void	 replay_replies_snapshot(struct store_buf *b, const struct replay *rp);

/* store_wait.c: keyed sessions' parked gets in the replay state. */
void	 rec_h_wait(struct store_buf *b, int type, const char *name,
	    uint32_t namelen, uint64_t skey, uint64_t msgid, int kind,
	    uint32_t depth, const void *item, size_t itemlen);
int	 replay_wait(struct replay *rp, uint64_t type, const char *name,
	    uint32_t namelen, struct mp_reader *r);
/* Drop the waits on name (NULL: any) of skey (0: any). */
void	 replay_waits_drop(struct replay *rp, const char *name,
	    uint32_t namelen, uint64_t skey);
void	 replay_waits_free(struct replay *rp);
/* rp's waits as records, in order (replicas write the same). */
void	 replay_waits_snapshot(struct store_buf *b, const struct replay *rp);

/* store_dir.c: files and the data directory. */
int	 store_write_all(int fd, const void *buf, size_t len, uint64_t off);
int	 store_fsync_dir(const char *path);
int	 current_read(const char *dir, unsigned *gen, int *workers);
int	 store_create(const char *path);

/* store_compact.c: compaction, and freeing the log it replaced. */
void	 compact_start(struct worker *w);
void	 compact_finish(struct worker *w);
void	 compact_abandon(struct store *st);
void	 compact_reap(struct store *st, bool block);
void	 retire_done(struct store *st);

/* store.c: shared with the compaction. */
void	 store_schedule_flush(struct worker *w);
void	 store_mark_synced(struct store *st);
int	 store_keep_only_fd(int fd);
void	 store_helper_setup(pid_t parent);

#endif
