/* waitq.h: parked requests: the FIFO of waiters every blocking object
 * keeps, and the one deadline heap a worker keeps for all of them. */
#ifndef WAITQ_H
#define WAITQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct qitem;
struct object;
struct session;

/* Who a reply goes to: the client connection's session and its msgid. */
struct reqctx {
	uint64_t	sess;		/* session id; its worker is sess_worker() */
	uint64_t	msgid;		/* the client's request id */
	uint64_t	tag;		/* forwarding tag at the origin, 0 if local */
	int		origin;		/* worker holding the connection */
	bool		keep;		/* its reply is its session's to keep
					   (session_reply.c) */
};

/* The operation a waiter is parked in; the command layer answers by it. */
enum wait_op {
	WOP_QUEUE_GET,
	WOP_QUEUE_PUT,
	WOP_QUEUE_JOIN,
	WOP_LOCK_ACQUIRE,	/* lock.acquire and cond.acquire */
	WOP_SEM_ACQUIRE,
	WOP_EVENT_WAIT,
	WOP_COND_WAIT,		/* waiting for a notify */
	WOP_COND_REACQUIRE,	/* notified or timed out: waiting for the lock;
				   status holds the outcome to report */
	WOP_BARRIER_WAIT,
};

/* One parked request. */
struct waiter {
	TAILQ_ENTRY(waiter) link;	/* in its waitq, then in a woken list */
	TAILQ_ENTRY(waiter) sess_link;	/* in its session's list of waiters */
	struct waitq	*wq;		/* queue it is parked on; NULL once woken */
	size_t		 heap_idx;	/* slot in the deadline heap, or NO_SLOT */
	double		 deadline;	/* monotonic seconds; < 0: none */
	enum wait_op	 op;		/* what it waits for */
	int		 status;	/* QLOCK_* result once woken */
	struct qitem	*item;		/* put: item to put; get: item received */
	uint64_t	 value;		/* numeric result (token, index) */
	uint32_t	 depth;		/* lock depth to restore on grant (cond) */
	int		 outcome;	/* cond: result to report once relocked */
	struct object	*obj;		/* the object it waits on */
	char		*lockname;	/* cond.wait over a Lock/RLock: its
					   name (malloc'd); NULL: the
					   condition's own lock */
	size_t		 locklen;
	bool		 away;		/* a place kept for a session not
					   resumed yet: hand-offs pass
					   over it (session_repl.c) */
	bool		 placed;	/* a failover's place its resend has
					   not taken yet: a later request
					   of its session drops it
					   (session_reply.c) */
	struct session	*sess;		/* the owner-side session record */
	struct reqctx	 ctx;		/* where the answer goes */
};
#define NO_SLOT ((size_t)-1)

TAILQ_HEAD(waitlist, waiter);

/* A FIFO of waiters on one object and condition. */
struct waitq {
	struct waitlist	head;
	size_t		n;
};

void	 waitq_init(struct waitq *q);
void	 waitq_push(struct waitq *q, struct waiter *w);
struct waiter *waitq_first(const struct waitq *q);
/* The oldest waiter but those away (a failover's places kept for
 * sessions not back yet: hand-offs pass over them), or NULL. */
struct waiter *waitq_first_live(const struct waitq *q);
/* Take w off its waitq (if on one). */
void	 waitq_remove(struct waiter *w);
/* Take w off its waitq with a result and append it to woken. */
void	 waitq_wake(struct waiter *w, int status, struct waitlist *woken);

/* Min-heap of waiters by deadline. */
struct deadlines {
	struct waiter	**v;
	size_t		  n, cap;
};

void	 deadlines_init(struct deadlines *d);
void	 deadlines_free(struct deadlines *d);
void	 deadlines_add(struct deadlines *d, struct waiter *w);
void	 deadlines_remove(struct deadlines *d, struct waiter *w);
/* Earliest waiter, or NULL. */
struct waiter *deadlines_min(const struct deadlines *d);

#endif
