/* worker.h: a shard worker: one libevent loop serving client connections
 * and owning the objects whose names hash to it. */
#ifndef WORKER_H
#define WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <msgpack.h>

#include "hmap.h"
#include "object.h"
#include "preauth.h"
#include "waitq.h"

struct config;
struct conn;

struct repl;
struct xfwd;
struct store;

/* A reply that may go out only once the log covers its change. */
struct held {
	TAILQ_ENTRY(held) link;
	struct reqctx	ctx;
	uint64_t	seq;		/* raft mode: the own entry it waits
					   for (src/repl_read.c) */
	size_t		len;
	uint8_t		frame[];
};
TAILQ_HEAD(heldlist, held);

/* The link to one sibling worker. */
struct peer {
	int			 id;	/* its shard index */
	bool			 up;	/* connected; false while it is down */
	int			 fd;	/* mesh socket */
	void			*cbarg;	/* its callbacks' argument */
	struct event		*rev;	/* readable: read into in */
	struct evbuffer		*in;	/* bytes received, not yet handled */
	struct evbuffer		*out;	/* messages not yet written */
	struct event		*wev;	/* writable, when out did not fit */
	TAILQ_ENTRY(peer)	 dirty_link; /* in worker->dirty_peers */
	bool			 dirty;	/* queued for the end of the pass */
};

/* A request forwarded to a peer and not yet answered (for failing it if
 * the peer dies).  Its connection keeps it in a list too and frees it
 * when it closes: the answer that comes later finds no record and is
 * dropped. */
struct fwd {
	struct hnode	 node;		/* in worker->fwds by tag */
	TAILQ_ENTRY(fwd) conn_link;	/* in conn->fwds */
	struct conn	*conn;		/* the client connection */
	uint64_t	 tag;
	uint64_t	 sess;		/* the client connection's session */
	uint64_t	 msgid;		/* the client's id for the request */
	int		 peer;		/* the owner it went to */
	bool		 blocking;	/* a call that may park (CMD_BLOCKS) */
};
TAILQ_HEAD(fwdlist, fwd);

#define STATS_METHODS	64	/* room for every method (cmd.c checks) */
#define STATS_CODES	32	/* error slots: -status for each QLOCK_E*... */
#define STATS_NOMETHOD	(STATS_CODES - 1)	/* ...and this one for NoMethod */

/* Counters for stats; summed over workers by the stats command. */
struct worker_stats {
	uint64_t	conns_total;	/* connections accepted */
	uint64_t	auth_failures;	/* handshakes refused */
	uint64_t	unauth_refused;	/* connections refused or dropped
					   before authenticating (caps) */
	uint64_t	requests;	/* requests received from clients */
	uint64_t	forwarded;	/* of those, sent to another worker */
	uint64_t	relayed;	/* named requests relayed to their
					   shard's leader node (xfwd.c) */
	uint64_t	errors;		/* error responses sent */
	uint64_t	retries_answered; /* retries answered with a kept
					     reply (session_reply.c) */
	uint64_t	by_method[STATS_METHODS]; /* client requests, by
						     cmd_index() */
	uint64_t	by_code[STATS_CODES];	/* error responses, by slot */
};

struct worker {
	int			 id;		/* shard index, 0..nworkers-1 */
	int			 nworkers;
	uint32_t		 gen;		/* incarnation (restart count) */
	const struct config	*conf;
	struct config		*conf_rw;	/* the same, for SIGHUP reloads */
	struct event_base	*base;
	int			 ctlfd;		/* SOCK_SEQPACKET to the master */
	struct event		*ctl_ev;
	struct evconnlistener	**listeners;
	struct event		*accept_ev;	/* resumes accepting after a
						   failed accept (EMFILE) */
	double			 accept_warned;	/* when that was last logged */
	int			 nlisteners;	/* this worker's own addresses */
	struct balance		*bal;		/* the shared listeners */
	struct peer		*peers;		/* [nworkers]; own slot unused */
	struct hmap		 conns;		/* session id -> struct conn */
	TAILQ_HEAD(, conn)	 dirty;		/* conns with replies to write */
	TAILQ_HEAD(, peer)	 dirty_peers;	/* peers with messages to write */
	struct event		*out_ev;	/* writes them at the end of the
						   pass */
	bool			 out_pending;	/* out_ev is active */
	size_t			 nconns;
	struct preauth		 preauth;	/* connections not authenticated
						   yet, failed addresses */
	uint32_t		 next_sess;	/* counter for session ids */
	struct hmap		 fwds;		/* tag -> struct fwd */
	uint64_t		 next_tag;
	struct hmap		 fanouts;	/* tag -> struct fanout */
	struct registry		 reg;		/* objects owned here */
	struct hmap		 sessions;	/* session id -> struct session */
	struct hmap		 keyed;		/* key -> struct session bound
						   to it (session_repl.c) */
	struct deadlines	 deadlines;	/* parked waiters with a deadline */
	struct event		*timer;		/* fires at the earliest deadline */
	uint64_t		 tokens;	/* last fencing token granted */
	struct waitlist		 woken;		/* waiters to answer after the
						   current operation */
	msgpack_sbuffer		 sbuf;		/* scratch for encoding replies */
	uint8_t			*rbuf;		/* scratch for reading clients
						   (CONN_READ_CHUNK bytes) */
	msgpack_packer		 pk;		/* packs into sbuf */
	struct event		*sigterm_ev;
	struct event		*sigint_ev;
	struct event		*sighup_ev;
	bool			 stopping;	/* SIGTERM: draining */
	struct event		*stop_ev;	/* drain deadline / exit check */
	double			 stop_deadline;
	struct worker_stats	 stats;
	struct store		*store;		/* the shard's log, or NULL */
	struct event		*store_flush_ev; /* end-of-pass write/fsync */
	struct event		*store_sec_ev;	/* everysec fsync timer */
	bool			 store_flush_pending;
	struct heldlist		 held;		/* replies waiting for the log */
	struct repl		*repl;		/* the shard's raft group, or NULL
						   (a single node) */
	struct xfwd		*xfwd;		/* upstreams to the leader, or
						   NULL (none yet; xfwd.c) */
};

/* Set up worker id: its state, loop and store (replaying its log). fds:
 * control socket (-1: none, and no signal handlers, for a worker run
 * in-process by a test or fuzz target), mesh sockets per peer (-1 for
 * self or none), listener sockets. */
struct worker *worker_new(struct config *conf, int id, uint32_t gen, int ctlfd,
	    const int *meshfds, const int *lfds, int nlfds);
/* Free everything a worker holds, closing its sockets and its store. */
void	worker_free(struct worker *w);
/* Out of file descriptors (or memory) on accept: stop accepting on every
 * listener for a tenth of a second. */
void	worker_accept_pause(struct worker *w);
/* Run worker id (never returns): worker_new, then its loop. */
void	worker_main(struct config *conf, int id, uint32_t gen, int ctlfd,
	    const int *meshfds, const int *lfds, int nlfds) __attribute__((noreturn));

/* Parked waiters: add with an absolute deadline (< 0: none). */
void	worker_park(struct worker *w, struct waiter *wt, double deadline);
/* Have the end of this loop pass write what conns and peers were given. */
void	worker_schedule_output(struct worker *w);
/* Take a parked waiter off the deadline heap (it keeps waiting). */
void	worker_unpark(struct worker *w, struct waiter *wt);
/* Answer and free every waiter in w->woken. */
void	worker_flush_woken(struct worker *w);
/* Take a waiter off everything and free it (and any item it holds). */
void	worker_drop_waiter(struct worker *w, struct waiter *wt);
/* Deliver a framed response to the client of ctx. */
void	worker_deliver(struct worker *w, const struct reqctx *ctx,
	    const void *frame, size_t len);
/* Delete an object; its parked waiters are answered NoEnt. */
void	worker_delete_object(struct worker *w, struct object *o);
/* The log is written (and synced per policy): send the held replies. */
void	worker_release_held(struct worker *w);
/* Raft mode: send the held replies that wait for own entries up to seq. */
void	worker_release_held_upto(struct worker *w, uint64_t seq);
/* A peer died or its socket broke. */
void	worker_peer_down(struct worker *w, int id);

#endif
