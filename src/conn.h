/* conn.h: a client connection: handshake, frames in, responses out. */
#ifndef CONN_H
#define CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "auth.h"
#include "hmap.h"
#include "preauth.h"

struct worker;
struct fwd;

/* Bytes asked of one read of a client's socket (into worker->rbuf). */
#define CONN_READ_CHUNK	(64 * 1024)
/* Requests of one connection not yet answered before it stops being read:
 * plain ones at other workers (their answers come at once, to its
 * output), and calls that may park, here or at other workers (they may
 * wait long, and a client may need many at once, so more). */
#define CONN_INFLIGHT_MAX	32
#define CONN_PARKED_MAX		1024

enum conn_state {
	CONN_AUTH,	/* handshake in progress; nothing else is possible */
	CONN_READY,	/* authenticated: requests accepted */
	CONN_CLOSING,	/* flushing a last message, then closed */
};

struct conn {
	struct hnode		 node;		/* in worker->conns by session id */
	uint64_t		 sess;		/* this connection's session id */
	struct worker		*w;
	int			 fd;
	struct event		*rev;		/* readable (persistent) */
	uint8_t			*in;		/* the start of a frame not yet
						   whole (or not yet handled
						   while paused); NULL if none */
	size_t			 inlen, incap;
	size_t			 discard;	/* bytes of a frame over the
						   limit still to skip */
	enum conn_state		 state;
	struct auth		 auth;		/* handshake state */
	struct event		*hs_timer;	/* handshake deadline */
	struct preauth_key	 akey;		/* its address, for the limits */
	bool			 preauth;	/* in worker->preauth.conns */
	TAILQ_ENTRY(conn)	 preauth_link;
	bool			 held;		/* handshake answer waits out its
						   address's back-off */
	struct event		*backoff_ev;	/* ends the wait; NULL if none */
	uint8_t			*touched;	/* [nworkers]: peers that saw
						   requests of this session */
	bool			 paused;	/* reading stopped: output full
						   or too much unanswered */
	TAILQ_HEAD(, fwd)	 fwds;		/* its forwarded requests not
						   yet answered */
	unsigned		 inflight;	/* plain requests at peers and
						   fan-outs, unanswered */
	unsigned		 parked;	/* calls that may park, here or
						   at peers, unanswered */
	bool			 reading;	/* rev is added */
	bool			 no_relay;	/* an upstream of another node
						   (XFWD_MARK): its requests
						   are never relayed */
	struct evbuffer		*out;		/* replies not yet written */
	struct event		*wev;		/* writable, when out did not
						   fit in the socket */
	TAILQ_ENTRY(conn)	 dirty_link;	/* in worker->dirty */
	bool			 dirty;		/* queued for the end of the pass */
	char			 addr[64];	/* peer address, for the log */
};

/* evconnlistener callback: a new client. */
void	conn_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
	    struct sockaddr *sa, int salen, void *arg);
struct conn *conn_find(struct worker *w, uint64_t sess);
/* Queue a framed message for the client. */
void	conn_write(struct conn *c, const void *buf, size_t len);
/* Note that a request of this session went to peer id. */
void	conn_touch(struct conn *c, int peer);
/* Record a request of c forwarded as f, counted against c until fwd_free. */
void	conn_fwd_add(struct conn *c, struct fwd *f);
/* Count a request of c that is not answered yet (parked: one that may
 * wait), and stop reading c past the limits; the end of one.  The
 * connection of a session: NULL if it is not here (any more). */
void	conn_unanswered_add(struct conn *c, bool parked);
void	conn_unanswered_done(struct conn *c, bool parked);
/* A forwarded request was answered or failed: forget and free it. */
void	fwd_free(struct worker *w, struct fwd *f);
/* Close now: the session ends everywhere. */
void	conn_free(struct conn *c);
/* Bytes waiting to be sent to every client (for draining at stop). */
size_t	conn_pending_output(struct worker *w);
/* End of a loop pass: write what every connection was given, one writev
 * each; only what does not fit waits for the socket to be writable. */
void	conn_flush_dirty(struct worker *w);

#endif
