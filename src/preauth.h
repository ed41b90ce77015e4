/* preauth.h: what connections that have not authenticated yet may cost a
 * worker: a cap on them per worker and per client address, and a growing
 * delay for addresses whose handshakes keep failing. */
#ifndef PREAUTH_H
#define PREAUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "frame.h"
#include "hmap.h"

struct worker;
struct conn;

/* The input a connection may hold before it authenticates: one whole
 * handshake frame, the largest the handshake allows (its messages are at
 * most FRAME_MAX_PREAUTH bytes, as recv_bytes(256) in Python). */
#define PREAUTH_IN_MAX		(FRAME_HDR + FRAME_MAX_PREAUTH)

/* Failed handshakes remembered per worker (addresses, oldest replaced),
 * the delay after one failure and its ceiling (doubling in between), and
 * how long an address must stay quiet to be forgiven. */
#define PREAUTH_PENALTIES	256
#define PREAUTH_DELAY_MIN	0.05
#define PREAUTH_DELAY_MAX	2.0
#define PREAUTH_FORGIVE		60.0

/* A client address as the limits see it: IPv4 whole, IPv6 by its /64
 * (one host usually has a whole /64); family 0 for unix sockets, which
 * are only counted per worker. */
struct preauth_key {
	uint8_t		family;		/* AF_INET, AF_INET6 or 0 */
	uint8_t		addr[8];	/* IPv4 in the first 4 bytes */
};

/* Pre-auth connections of one address. */
struct preauth_count {
	struct hnode		node;	/* in preauth->counts by key */
	struct preauth_key	key;
	unsigned		n;
};

/* Failed handshakes of one address, and until when its next one waits. */
struct preauth_penalty {
	struct preauth_key	key;
	unsigned		fails;	/* in a row, 0: slot unused */
	double			until;	/* monotonic: next verdict not before */
	double			last;	/* monotonic: last failure */
};

struct preauth {
	struct hmap		 counts;	/* key -> struct preauth_count */
	TAILQ_HEAD(, conn)	 conns;		/* pre-auth, oldest first */
	size_t			 n;		/* their number */
	struct preauth_penalty	 pen[PREAUTH_PENALTIES];
	double			 warned;	/* last refusal logged */
};

void	preauth_init(struct preauth *p);
void	preauth_free(struct preauth *p);
/* The key of a peer address. */
void	preauth_key(const struct sockaddr *sa, struct preauth_key *k);
/* Whether one more pre-auth connection from k is allowed (the address's
 * cap); the worker's cap is kept by dropping the oldest (conn.c). */
bool	preauth_admit(struct worker *w, const struct preauth_key *k);
/* Count c as pre-auth from key k; forget it once it authenticates or
 * goes. */
void	preauth_add(struct worker *w, struct conn *c);
void	preauth_remove(struct worker *w, struct conn *c);
/* Seconds a handshake verdict for k must still wait (0: none). */
double	preauth_delay(struct worker *w, const struct preauth_key *k);
/* A handshake from k failed: its next verdict waits longer. */
void	preauth_failed(struct worker *w, const struct preauth_key *k);
/* Count a connection refused or dropped by a cap, and say so in the log
 * now and then. */
void	preauth_refused(struct worker *w, const char *why);

#endif
