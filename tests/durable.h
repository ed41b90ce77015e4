/* durable.h: what the --data-dir integration tests share: scratch
 * directories, hand-made and parsed logs, starting, crashing and running
 * the daemon on a data dir, the faultfs shim, queues and items, and the
 * producer processes that check exactly-once delivery across crashes. */
#ifndef DURABLE_H
#define DURABLE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "qlock.h"

#define NQ		8	/* queues the producers spread items over */
#define NPROD		4	/* producer processes */
#define MAXSEQ		20000	/* put attempts one producer may make */
#define LOG_HDR		16	/* "QLOCKLOG", u32 version, u32 0 */
#define REC_HDR		12	/* u32 magic, u32 length, u32 CRC-32 */
#define REC_MAGIC	0x43455251u
#define R_Q_PUT		2	/* store_int.h's record types */
#define R_D_SET		6
#define R_DELETE	12
#define MAXREC		256	/* records a parsed test log may hold */
#define TORN_ITEMS	30

/* Retry a call while the owning worker is restarting. */
#define RETRY_UNAVAIL(st, call) do {					\
	double end_ = qd_now() + QD_WAIT;				\
	while (((st) = (call)) == QLOCK_EUNAVAIL && qd_now() < end_)	\
		qd_nap();						\
} while (0)

/* A test's scratch directory: the data dir and the helpers' files. */
struct scratch {
	char	dir[64];	/* /tmp/qlockd-dur.XXXXXX */
	char	data[96];	/* <dir>/data: the --data-dir */
};

/* A parsed log: where each record starts and ends. */
struct logmap {
	size_t	start[MAXREC], end[MAXREC];
	int	n;
	int	type[MAXREC];	/* the record's type (first array element) */
	size_t	size;		/* the file's size */
};

/* Items got from a queue, in order. */
struct items {
	char	**v;
	size_t	 *len;
	size_t	  n, cap;
};

/* What one producer's log file says. */
struct prod_log {
	uint8_t	state[MAXSEQ];	/* 0 never tried, 1 tried, 2 acknowledged */
	int	tried, acked;
	long	incr_tried, incr_acked;	/* dict incr attempts and successes */
	char	error[128];	/* an unexpected status, if any */
};

void		 scratch_new(struct scratch *s);
void		 rm_tree(const char *dir);
void		 scratch_free(struct scratch *s);
/* A path under the scratch dir, in one of four static buffers: copy it
 * if it must outlive four more calls. */
const char	*spath(const struct scratch *s, const char *fmt, ...);
/* A whole file (malloc'd, NUL-terminated); NULL if unreadable. */
char		*read_all(const char *path, size_t *lenp);
void		 write_all_file(const char *path, const void *data, size_t len);
void		 write_str(const char *path, const char *s);
off_t		 file_size(const char *path);
/* How many times needle occurs in hay. */
int		 count_str(const char *hay, const char *needle);
uint32_t	 le32(const uint8_t *p);
/* Parse a log by the format in store.h (header, records, then zeros);
 * fails the test if it is not one. */
void		 log_parse(const char *path, struct logmap *m);
/* Rewrite a log without its records of type (and without the zeros after
 * the records); how many were dropped. */
int		 log_drop_type(const char *path, int type);
/* Start qlockd with --data-dir s->data, --fsync policy and more options
 * (NULL-ended), on a unix socket in its temp dir. */
struct qd	*dstart(const struct scratch *s, int workers,
		    const char *policy, ...);
/* True once pid has exited (gone or a zombie). */
bool		 proc_dead(pid_t pid);
/* Crash the whole daemon: stop the master (so it restarts nobody),
 * SIGKILL every worker and the master, wait until all are dead; free d.
 * Its log is returned if logp is set (malloc'd). */
void		 dcrash(struct qd *d, char **logp);
/*
 * Run qlockd on s->data with --workers n and more options (NULL-ended),
 * listening on a unix socket in the scratch dir, and wait at most secs
 * for it to exit: the wait status (-1: still running, then killed) and
 * its output in *out.
 */
int		 drun(const struct scratch *s, int workers, double secs,
		    char **out, ...);
/* A connection, retried while a restarted worker comes up. */
qlock		*connect_retry(const struct qd *d);
/* The shim's path, or NULL (then the tests that need it skip). */
const char	*faultfs_path(void);
/* Preload the shim into the daemons started from now on, with ctl as
 * its control file. */
void		 faultfs_on(const char *ctl);
void		 faultfs_off(void);
void		 items_free(struct items *it);
/* Get every item of queue name (timeout 0 until Empty), appended to out. */
void		 drain(qlock *c, const char *name, struct items *out);
/* A put that must succeed (retrying an unknown outcome is not allowed
 * here: the callers count items). */
void		 put_ok(qlock *c, const char *q, const void *item, size_t len);
void		 put_str(qlock *c, const char *q, const char *s);
/* A lock's fencing token (acquired and released again). */
uint64_t	 take_token(qlock *c, const char *lock);
/* The queue a producer's item seq goes to. */
int		 prod_queue(int p, int seq);
/*
 * A producer process: until stopfile exists, put item "p<p> s<seq>|..."
 * to queue <prefix><prod_queue>, writing "A seq" to file before and
 * "K seq" after an acknowledgement; with incr, then increment
 * d-ctr[p<p>] ("I" before, "J" after).  Every attempt gets a new seq: an
 * attempt whose outcome is unknown may or may not be stored, and is not
 * retried as the same item.  Reconnects on ECONN.  Never returns.
 */
void		 producer(const struct qd *d, int p, const char *file,
		    const char *stopfile, const char *prefix, bool incr);
/* Read a producer's file. */
void		 prod_read(const char *file, struct prod_log *pl);
/* Acknowledged puts so far over n producer files. */
int		 acked_so_far(const struct scratch *s, int n);
/* Wait until the producers have n acknowledged puts in all. */
void		 wait_acked(const struct scratch *s, int nprod, int n,
		    double secs);
/* Start nprod producers against d. */
void		 producers_start(const struct scratch *s, const struct qd *d,
		    pid_t *pids, int nprod, const char *prefix, bool incr);
/* Tell the producers to stop and reap them; read their files. */
void		 producers_stop(const struct scratch *s, pid_t *pids, int nprod,
		    struct prod_log *pl);
/*
 * Drain the producers' queues and check exactly-once delivery: every
 * acknowledged item is there once, nothing appears that was never
 * attempted, nothing twice, and each producer's items keep their order
 * within a queue.  With must, only the items acknowledged in must (an
 * earlier reading of the producers' files) have to be there.
 */
void		 check_delivered(qlock *c, const char *prefix,
		    struct prod_log *pl, const struct prod_log *must,
		    int nprod);
void		 check_exactly_once(qlock *c, const char *prefix,
		    struct prod_log *pl, int nprod);
/* Get one item and expect it to be want. */
void		 get_expect(qlock *c, const char *q, const char *want);
/* Item i of the torn-tail log: varied sizes, the last two small. */
size_t		 torn_item(int i, char *buf, size_t size);
/* A log of TORN_ITEMS puts to queue "tq", written by the daemon and
 * stopped cleanly; its map. */
void		 torn_make_log(const struct scratch *s, struct logmap *m);
/* Copy the data dir to <dir>/cut with the log cut at size cut. */
void		 torn_copy(const struct scratch *s, const char *log, size_t cut,
		    struct scratch *copy);
/* CRC-32 as zlib computes it, to build a record by hand. */
uint32_t	 crc32_of(const uint8_t *p, size_t len);
void		 put_le32(uint8_t *p, uint32_t v);

#endif /* DURABLE_H */
