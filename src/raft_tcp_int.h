/* raft_tcp_int.h: what the files of the raft transport share (raft_tcp.c:
 * sockets, lifetimes, raft's interface; raft_tcp_hs.c: the handshake's
 * messages on one stream; raft_tcp_rec.c: the records after it).  Not for other modules: their
 * interface is raft_tcp.h. */
#ifndef RAFT_TCP_INT_H
#define RAFT_TCP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft_tcp.h"

#define RT_MAGIC		"QLR1"
#define RT_MAGIC_SIDE		"QLS2"	/* a side stream (raft_tcp_side) */
#define RT_OK			"QLOK"
#define RT_NONCE		32
#define RT_MAC			32
#define RT_ADDR_MAX		512
#define RT_HELLO_FIXED		(4 + 4 + 8 + 8 + 2 + RT_NONCE)
#define RT_HANDSHAKE_MS		3000
#define RT_MAX_PENDING		32
#define RT_LOG_EVERY_MS		10000
/* Classes of warnings, limited apart: handshakes refused (a scanner's
 * noise), and records that closed an established connection (tampering:
 * never hidden behind the other). */
#define RT_LOG_HS		0
#define RT_LOG_REC		1
#define RT_LOG_CLASSES		2
#define RT_BACKLOG		128

/* Where a handshake is: C connects, A accepts. */
enum rt_state {
	HS_RESOLVE,		/* C: resolving the peer's address */
	HS_CONNECT,		/* C: TCP connect */
	HS_C_REPLY,		/* C: hello sent, awaiting nonce_a + MAC */
	HS_C_OK,		/* C: MAC sent, awaiting "QLOK" */
	HS_A_HELLO,		/* A: awaiting the hello's fixed part */
	HS_A_ADDR,		/* A: ...its address */
	HS_A_MAC,		/* A: awaiting C's MAC */
	HS_A_OK,		/* A: writing "QLOK" */
	HS_DONE,		/* handed to raft */
	HS_FAILED,		/* closing */
};

struct rt;
struct rl;

struct hs {
	struct rt		*rt;
	struct hs		*prev, *next;
	bool			 inbound;
	enum rt_state		 state;
	uv_tcp_t		*tcp;		/* raft_malloc'd: raft frees it */
	bool			 tcp_open;
	uv_timer_t		 timer;
	bool			 timer_open;
	uv_getaddrinfo_t	 gai;
	bool			 resolving;
	uv_connect_t		 conn;
	/* Each side writes two messages, each from its own request and
	 * buffer: the first's callback may not have run when the second
	 * goes. */
	uv_write_t		 wreq[2];
	unsigned		 writing;	/* writes not called back yet */
	bool			 ready;		/* handshake done, a write of
						   ours not called back yet */
	struct raft_uv_connect	*req;		/* C: raft's request */
	raft_uv_connect_cb	 cb;
	bool			 cb_done;
	raft_id			 peer_id;
	bool			 side;		/* a side stream, not raft's */
	raft_tcp_side_cb	 side_cb;	/* C: whom it goes to */
	void			*side_arg;
	char			 addr[RT_ADDR_MAX + 1];	/* the peer's raft
						   address (A: as claimed) */
	char			 where[80];	/* the peer's ip:port */
	/* The transcript: hello, then nonce_a. */
	uint8_t			 tr[RT_HELLO_FIXED + RT_ADDR_MAX + RT_NONCE];
	size_t			 trlen;
	uint8_t			 rbuf[RT_ADDR_MAX + RT_NONCE + RT_MAC];
	size_t			 need, have;
	uint8_t			 wbuf0[RT_HELLO_FIXED + RT_ADDR_MAX];
	uint8_t			 wbuf1[RT_NONCE + RT_MAC];
};

struct rt {
	struct raft_uv_transport *t;
	uv_loop_t		*loop;
	const uint8_t		*key;
	size_t			 keylen;
	int			 group;
	raft_id			 id;
	raft_id			 members[RAFT_TCP_MAX_MEMBERS];
	unsigned		 nmembers;
	char			 address[RT_ADDR_MAX + 1];
	uv_tcp_t		 listener;
	bool			 listener_open;
	raft_uv_accept_cb	 accept_cb;
	raft_tcp_side_cb	 side_cb;	/* A: side streams, if any */
	void			*side_arg;
	struct hs		*head, *tail;	/* oldest first */
	struct rl		*relays;	/* raft_tcp_rec.c's */
	unsigned		 npending_in;
	bool			 closing;
	raft_uv_transport_close_cb close_cb;
	struct raft_tcp_stats	 stats;
	/* Per class (RT_LOG_*): uv_now before which its lines are
	 * counted, not logged, and how many were. */
	uint64_t		 log_next[RT_LOG_CLASSES];
	uint64_t		 suppressed[RT_LOG_CLASSES];
};

/* raft_tcp.c */
/* Log a connection refused or closed through its peer at warn, unless
 * another of its class (RT_LOG_*) was within RT_LOG_EVERY_MS (counted
 * then, logged later); claimed: peer_id is not authenticated yet. */
void	rtcp_warn(struct rt *rt, int cls, bool inbound, bool claimed,
	    const char *where, raft_id peer_id, const char *verb,
	    const char *why);
/* Call the transport's close callback if it is closing and holds nothing
 * any more. */
void	rtcp_maybe_closed(struct rt *rt);
/* Give up on h (a local or network error: logged at debug). */
void	rtcp_fail(struct hs *h, int uverr);
/* Give up on h, a refusal: counted, and logged at warn (rate-limited). */
void	rtcp_refuse(struct hs *h, const char *why);
/* Authenticated, nothing of ours pending on the stream: hand it to raft. */
void	rtcp_done(struct hs *h);

/* raft_tcp_hs.c */
/* A: read the hello. */
void	rtcp_hs_inbound(struct hs *h);
/* C: connected: send the hello, read the reply. */
void	rtcp_hs_outbound(struct hs *h);

/* raft_tcp_rec.c */
/* The handshake is done: put a relay between h's TCP stream (the relay's
 * from now on, also on failure) and a socketpair; *out: raft's end (the
 * side handler's, for a side stream).  0, or a uv error. */
int	rtcp_rec_start(struct hs *h, uv_stream_t **out);
/* The transport closes: close every relay. */
void	rtcp_rec_close_all(struct rt *rt);

#endif
