/* qlock.h: libqlock, the C client of qlockd (queues, locks, semaphores,
 * events, conditions, barriers and dicts shared over the network). */
#ifndef QLOCK_H
#define QLOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A qlock * is one connection, and one session on the daemon: what it holds
 * (locks, permits, unfinished joinable items) is given back when it closes.
 * It is not thread-safe: use one per thread (or guard it with a mutex).
 * Every call returns QLOCK_OK (0) or a negative status.
 */
typedef struct qlock qlock;

#define QLOCK_FOREVER (-1.0)

enum {
	QLOCK_OK        =   0,
	QLOCK_EMPTY     =  -1,  /* queue.Empty: nothing to get in time */
	QLOCK_FULL      =  -2,  /* queue.Full: no room in time */
	QLOCK_TIMEOUT   =  -3,  /* acquire / wait / join did not succeed in time */
	QLOCK_EAUTH     =  -4,  /* authkey refused, by either side */
	QLOCK_ECONN     =  -5,  /* cannot connect, or the connection broke */
	QLOCK_EPROTO    =  -6,  /* malformed or unexpected message */
	QLOCK_ETYPE     =  -7,  /* the name exists as another kind of object */
	QLOCK_ENOTOWNER =  -8,  /* release of a lock this connection does not hold */
	QLOCK_EVALUE    =  -9,  /* bounded semaphore over-released, task_done too often */
	QLOCK_EBROKEN   = -10,  /* barrier broken, reset or aborted */
	QLOCK_ENOKEY    = -11,  /* dict key absent */
	QLOCK_ELIMIT    = -12,  /* item too large, memory or object limit reached */
	QLOCK_EINVAL    = -13,  /* bad argument (empty name, negative maxsize, ...) */
	QLOCK_ENOENT    = -14,  /* semaphore or barrier used before it was opened */
	QLOCK_EUNAVAIL  = -15,  /* the worker owning the object died while the
				   request was in flight: outcome unknown, retry */
	QLOCK_ECANCELLED = -16, /* a parked request withdrawn by a cancel */
	QLOCK_ENOTLEADER = -17, /* cluster: this node does not lead the object's
				   shard; nothing was done (libqlock follows
				   the leaders for 10 s first) */
};
#define QLOCK_JOINABLE   1  /* queue_open flag */
#define QLOCK_RECURSIVE  1  /* lock_open flag: RLock */
#define QLOCK_BOUNDED    1  /* sem_open flag: BoundedSemaphore */
/* lock_open (a Lock), sem_open, queue_open flag: giveback=False, as
 * multiprocessing: what a connection took outlives it (a held Lock, a
 * permit, a taken item's unfinished task) and any connection may release
 * the Lock. */
#define QLOCK_NO_GIVEBACK 0x100

/* Connection.  NULL address / authkey: QLOCK_ADDRESS (default
 * 127.0.0.1:7450), then QLOCK_AUTHKEY or QLOCK_AUTHKEY_FILE. */
qlock      *qlock_connect(const char *address, const char *authkey, int *status);
/* As qlock_connect, and connecting and the handshake together take at
 * most timeout seconds (0, negative or infinite: no limit), else
 * QLOCK_ECONN.  qlock_connect takes the limit from QLOCK_CONNECT_TIMEOUT
 * (seconds), else QLOCK_CONNECT_TIMEOUT_DEFAULT. */
#define QLOCK_CONNECT_TIMEOUT_DEFAULT 10.0
qlock      *qlock_connect_timeout(const char *address, const char *authkey,
                double timeout, int *status);
/* TCP connections probe a silent daemon after QLOCK_KEEPALIVE idle
 * seconds (0: never), else this many, and fail with QLOCK_ECONN about
 * twice that after its last word. */
#define QLOCK_KEEPALIVE_DEFAULT 30
void        qlock_close(qlock *c);
const char *qlock_strerror(int status);
const char *qlock_last_error(const qlock *c);   /* the server's words for the last error */
int         qlock_ping(qlock *c);
/* The socket that carries the requests on name (NULL: the first
 * connection; with direct routing an object's owner has its own), to
 * poll(2) for its end (POLLRDHUP, POLLHUP) while holding something there;
 * -1 once broken.  Do not read, write or close it: qlock_close does. */
int         qlock_fileno(const qlock *c, const char *name);
/* In a cluster, keep what c holds on name's shard through a failover
 * without a call: QLOCK_OK if its session is on the shard's leader (still,
 * or resumed on a new one); QLOCK_ECONN if that cannot be told now (no
 * leader reachable: call again soon, the new leader keeps it for
 * --session-grace); QLOCK_ENOTOWNER if it was given back (one node: the
 * connection was lost).  Call it every second or so while holding. */
int         qlock_keep(qlock *c, const char *name);

/* Queue and JoinableQueue.  open creates the queue if absent (idempotent);
 * put/get on a name never opened use an unbounded plain queue. */
int qlock_queue_open(qlock *c, const char *name, long maxsize, int flags);
int qlock_queue_put(qlock *c, const char *name, const void *item, size_t len, double timeout);
int qlock_queue_get(qlock *c, const char *name, void **item, size_t *len, double timeout);
int qlock_queue_size(qlock *c, const char *name, long *size);
/* queue.state: one read, changing nothing; a name never used reads as an
 * empty unbounded plain queue. */
struct qlock_queue_state {
	long	size;		/* items in the queue */
	long	maxsize;	/* 0: unbounded */
	int	joinable;	/* 1 for a JoinableQueue */
	long	unfinished;	/* tasks not yet done (0 unless joinable) */
};
int qlock_queue_state(qlock *c, const char *name, struct qlock_queue_state *qs);
int qlock_queue_task_done(qlock *c, const char *name);
int qlock_queue_join(qlock *c, const char *name, double timeout);

/* Lock and RLock: held by the connection; freed if it goes away. */
int qlock_lock_open(qlock *c, const char *name, int flags);
int qlock_lock_acquire(qlock *c, const char *name, double timeout);
/* As qlock_lock_acquire, and the grant's fencing token: 64 bits, strictly
 * increasing per lock name, for resources that must refuse stale holders. */
int qlock_lock_acquire_token(qlock *c, const char *name, double timeout, uint64_t *token);
int qlock_lock_release(qlock *c, const char *name);

/* Semaphore and BoundedSemaphore: must be opened with a value first. */
int qlock_sem_open(qlock *c, const char *name, long value, int flags);
int qlock_sem_acquire(qlock *c, const char *name, double timeout);
int qlock_sem_release(qlock *c, const char *name);
int qlock_sem_value(qlock *c, const char *name, long *value);

/* Event */
int qlock_event_set(qlock *c, const char *name);
int qlock_event_clear(qlock *c, const char *name);
int qlock_event_is_set(qlock *c, const char *name, int *is_set);
int qlock_event_wait(qlock *c, const char *name, double timeout); /* OK once set, else QLOCK_TIMEOUT */

/* Condition: its own lock; created on first use, like locks, events and dicts.
 * wait releases the lock, sleeps, and holds it again on return (also on timeout). */
int qlock_cond_acquire(qlock *c, const char *name, double timeout);
int qlock_cond_release(qlock *c, const char *name);
int qlock_cond_wait(qlock *c, const char *name, double timeout);
int qlock_cond_notify(qlock *c, const char *name, int n);
int qlock_cond_notify_all(qlock *c, const char *name);

/* Barrier: must be opened with its number of parties first. */
int qlock_barrier_open(qlock *c, const char *name, int parties);
int qlock_barrier_wait(qlock *c, const char *name, double timeout, int *index);
int qlock_barrier_abort(qlock *c, const char *name);
/* barrier.state: Python's parties, n_waiting and broken, changing nothing. */
struct qlock_barrier_state {
	int	parties;
	int	n_waiting;	/* parties waiting now */
	int	broken;		/* 1 if broken (until reset) */
};
int qlock_barrier_state(qlock *c, const char *name, struct qlock_barrier_state *bs);
int qlock_barrier_reset(qlock *c, const char *name);

/* Dict (Manager().dict()): string keys, byte-string values, and integer
 * values that incr changes atomically. */
int qlock_dict_set(qlock *c, const char *dict, const char *key, const void *val, size_t len);
int qlock_dict_get(qlock *c, const char *dict, const char *key, void **val, size_t *len);
int qlock_dict_del(qlock *c, const char *dict, const char *key);
int qlock_dict_len(qlock *c, const char *dict, long *len);
int qlock_dict_keys(qlock *c, const char *dict, char ***keys, size_t *n);   /* free each, then the array */
int qlock_dict_incr(qlock *c, const char *dict, const char *key, int64_t delta, int64_t *result);
int qlock_dict_get_int(qlock *c, const char *dict, const char *key, int64_t *val);
int qlock_dict_set_int(qlock *c, const char *dict, const char *key, int64_t val);
/* Compare-and-set: *swapped is 1 when the value was expected (NULL
 * expected: the key was absent) and is now val. */
int qlock_dict_cas(qlock *c, const char *dict, const char *key,
    const void *expected, size_t elen, const void *val, size_t len, int *swapped);

/* Any object: delete it (waiters are failed with QLOCK_ENOENT). */
int qlock_delete(qlock *c, const char *name);

/* The daemon's statistics and object listing, as msgpack bytes (a map, and
 * an array of maps), for tools; qlock(1) prints them. */
int qlock_stats_raw(qlock *c, void **buf, size_t *len);
int qlock_list_raw(qlock *c, void **buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* QLOCK_H */
