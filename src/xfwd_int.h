/* xfwd_int.h: what xfwd.c (relaying, sessions' upstreams) and xfwd_up.c
 * (an upstream's connection: connecting, the handshake, binding the
 * session, following a new leader) share.  docs/HA.md, "Forwarding to
 * leaders". */
#ifndef XFWD_INT_H
#define XFWD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "auth.h"
#include "hmap.h"
#include "reply.h"

struct worker;

/* The random token an upstream binds its session on the leader with. */
#define UP_TOKEN_LEN	32

/* A relayed request not answered yet. */
struct relay {
	struct hnode	 node;		/* in upstream->reqs by id */
	uint64_t	 id;		/* its msgid on the upstream */
	struct reqctx	 ctx;		/* where the answer goes */
	uint8_t		*frame;		/* [0, id, method, params]: what is
					   sent (again) */
	size_t		 framelen;
	bool		 blocking;	/* CMD_BLOCKS */
	bool		 counted;	/* against its connection here */
	bool		 sent;		/* handed to a socket: its outcome
					   is the leader's */
	bool		 resent;	/* sent again on a new leader (once) */
};

enum up_state {
	UP_CONNECTING,		/* connecting, or the handshake */
	UP_RESUMING,		/* following: session.resume sent, not
				   answered */
	UP_READY,		/* requests go out as they come */
	UP_WAITING		/* broken, bound: a new leader is awaited */
};

/* One session's connection to the leader of this worker's shard. */
struct upstream {
	struct hnode	 node;		/* in xfwd->ups by sess */
	uint64_t	 sess;
	struct worker	*w;
	struct bufferevent *bev;	/* NULL while UP_WAITING */
	enum up_state	 state;
	int		 leader;	/* node id */
	char		 addr[256];	/* its address for the shard */
	struct auth	 auth;
	struct hmap	 reqs;		/* id -> struct relay */
	size_t		 unsent;	/* bytes of requests not sent yet */
	uint64_t	 next_id;	/* kept across leaders: resent
					   requests keep their ids */
	uint8_t		 token[UP_TOKEN_LEN];
	uint64_t	 resume_id;	/* of the session.resume in flight */
	bool		 bound;		/* a leader bound the token */
	bool		 refused;	/* the leader did not serve the shard
					   when asked to bind: replace it */
	bool		 lost;		/* broke bound: following the
					   session to the next leader */
	double		 give_up;	/* now_mono() when following ends */
	double		 backoff;	/* s before the next try */
	struct event	*retry;		/* the next try's timer */
};

struct xfwd {
	struct hmap	 ups;		/* session id -> struct upstream */
	struct evdns_base *dns;		/* once a leader has a host name */
};

/* xfwd.c */
void	relay_free(struct upstream *, struct relay *);
void	up_free(struct upstream *);
void	up_fail(struct upstream *, const char *);

/* xfwd_up.c */
/* The node that leads this worker's shard (0: none known) and its
 * address for it in buf: another node's, or, once this worker serves the
 * shard itself, its own (a session bound through an upstream keeps it:
 * the upstream then reaches this worker over loopback). */
int	up_leader(struct worker *, char *, size_t);
/* Connect up to up->leader at up->addr (the handshake follows); -1 if
 * that address cannot be connected to without blocking. */
int	up_connect(struct upstream *);
/* up broke (why says how): a bound session follows its leader, else
 * up_fail. */
void	up_broken(struct upstream *, const char *);
/* The leader now is another: follow it (a bound upstream). */
void	up_move(struct upstream *);
/* Send rl now if up is ready, else keep it for then. */
void	up_send(struct upstream *, struct relay *);

#endif
