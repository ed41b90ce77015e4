/* raft-bench.h: what raft-bench.c (the cluster, uv and -L modes) and
 * raft-bench-thread.c (-T: raft on a thread of its own; the busy loop and
 * the forks of -b and -f) share.  A scratch measurement for issue 13. */
#ifndef RAFT_BENCH_H
#define RAFT_BENCH_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#define NODES		3
#define MAXLAT		(1 << 20)

/* How each node runs its loops. */
enum mode {
	MODE_UV,	/* raft on uv_run, the process's only loop */
	MODE_LIBEVENT,	/* -L: uv's backend fd watched by a libevent loop */
	MODE_THREAD	/* -T: uv on a thread; libevent submits through queues */
};

/* A transport that wraps raft's stock TCP one and sets TCP_NODELAY on every
 * stream it hands to raft, accepted or connected. */
struct ndtrans {
	struct raft_uv_transport	 pub;	/* given to raft_uv_init; first */
	struct raft_uv_transport	 inner;	/* raft_uv_tcp_init's transport */
	raft_uv_accept_cb		 accept_cb; /* raft's accept callback */
	raft_uv_transport_close_cb	 close_cb; /* raft's close callback */
	int				 nodelay; /* set TCP_NODELAY or not */
};

/* One outstanding connect through the wrapper. */
struct ndconnect {
	struct raft_uv_connect	 req;	/* given to the inner transport */
	struct raft_uv_connect	*outer;	/* raft's request */
	raft_uv_connect_cb	 cb;	/* raft's callback */
	struct ndtrans		*nt;
};

struct node;

/* One apply in flight on the leader. */
struct benchreq {
	struct raft_apply	 req;
	uint64_t		 start;	/* ns, CLOCK_MONOTONIC */
	struct node		*node;
	struct raft_buffer	 buf;	/* -T: the entry, until raft takes it */
	int			 status; /* -T: raft's answer */
	struct benchreq		*next;	/* -T: on a hand-over queue */
};

/* Options every node process gets from the parent. */
struct nodeopts {
	enum mode	 mode;
	int		 nodelay;
	unsigned	 election_ms;
	unsigned	 burn_us;	/* -b: CPU burnt per burn_ms in libevent */
	unsigned	 burn_ms;
	unsigned	 fork_ms;	/* -f: fork a child this often, 0: never */
};

/* A node: a raft instance on its own uv loop in its own process. */
struct node {
	raft_id			 id;
	const struct nodeopts	*opts;
	uv_loop_t		 loop;
	struct raft		 raft;
	struct raft_io		 io;
	struct raft_fsm		 fsm;
	struct ndtrans		 nt;
	uint64_t		 applied; /* FSM state: entries applied */
	uv_timer_t		 tick;	/* watches raft_state() every ms */
	int			 leader; /* was leader at the last tick */
	raft_term		 term;	/* term at the last tick */
	uv_pipe_t		 cmd;	/* commands from the parent (uv, -L) */
	char			 cmdbuf[128];
	size_t			 cmdlen;
	FILE			*rep;	/* reports to the parent */
	uint64_t		 todo, sent, done, failed; /* current bench */
	size_t			 size;	/* entry size */
	uint64_t		 t0;	/* bench start */
	uint64_t		*lat;	/* per-commit latency, ns */
	void			(*next)(struct node *); /* submit one entry */
	struct event_base	*base;	/* -L, -T: the worker's loop */
	struct event		*uvtimer; /* -L: uv's next timeout */
	uint64_t		 burnt;	/* -b: ns burnt in the current bench */
	pid_t			 forked; /* -f: the child not yet reaped */
	unsigned		 forks;	/* -f: children forked in this bench */
	uint64_t		 forkns; /* -f: time fork() took, summed */
	/* -T: the hand-over between the libevent and the raft thread. */
	pthread_t		 thread;
	uv_async_t		 async;	/* wakes the raft thread */
	pthread_mutex_t		 mu;	/* guards both queues */
	struct benchreq		*subq, **subtail; /* to raft_apply */
	struct benchreq		*doneq, **donetail; /* answered by raft */
	int			 efd;	/* eventfd: doneq became non-empty */
};

uint64_t	now_ns(void);
void		node_input(struct node *, size_t);
void		bench_done(struct node *, struct benchreq *, int);
void		node_extras(struct node *);
void		node_thread(struct node *, int);

#endif
