/* lq_int.h: libqlock's private declarations, shared by its files. */
#ifndef LQ_INT_H
#define LQ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "auth.h"
#include "mp.h"
#include "qlock.h"

#define RESPONSE_MAX	(64u * 1024 * 1024)	/* largest response accepted */
#define REQUEST_MAX	0x7fffffffu	/* a frame length is signed 32-bit */
#define BUF_KEEP	(1024u * 1024)	/* free larger buffers between calls */
#define ERR_MAX		256		/* longest last_error text */
#define LQ_TOKEN_LEN	16		/* bytes of a session token */

/*
 * msgpack-RPC message types and the shape of a response; changing them is a
 * protocol change: docs/PROTOCOL.md and the daemon's dispatch go with it.
 */
#define RPC_REQUEST	0
#define RPC_RESPONSE	1
#define RPC_NOTIFY	2

/* Direct routing (lq_route.c): the daemon's shards and a connection to
 * each owner used so far.  In a cluster (the topology names leaders) the
 * owners are the shards' leaders, followed by lq_follow.c. */
struct lq_route {
	int		  nshards;
	int		  self;		/* the shard the first connection reaches */
	int		 *fd;		/* [shard]: -1 until used */
	char		**addr;		/* [shard]: its own address; NULL: go
					   through the first connection */
	char		**next;		/* [shard]: the leader a topology named
					   since fd[shard] was opened, if
					   another: fd[shard] is closed only
					   once its session is bound there */
	bool		  cluster;	/* the daemon is a cluster's member */
	bool		  stale;	/* ask topology again before the next
					   request */
};

/* One connection to qlockd (and, routing, one to each owner used). */
struct qlock {
	int		 fd;		/* the socket; -1 once broken */
	struct lq_route	*route;		/* NULL: every request on fd */
	uint8_t		 key[AUTH_KEY_MAX + 2];	/* for the owners' connections */
	size_t		 keylen;
	uint64_t	 msgid;		/* id of the request whose answer is
					   awaited */
	uint64_t	 msgnext;	/* the last id given: ids are never
					   reused on any of the connections
					   (a bound session's only increase) */
	msgpack_sbuffer	 sbuf;		/* request being built: header, body */
	msgpack_packer	 pk;		/* packs into sbuf */
	int		 pkerr;		/* status of a failed pack, or 0 */
	uint8_t		*rbuf;		/* body of the last frame read */
	size_t		 rcap;		/* bytes allocated at rbuf */
	char		 err[ERR_MAX];	/* text for qlock_last_error() */
	double		 ctimeout;	/* connect and handshake limit, s;
					   0: none */
	double		 deadline;	/* its end, on CLOCK_MONOTONIC */
	double		 otimeout;	/* the same for owners' connections */
	char		*members;	/* the addresses given (a cluster's
					   members, comma-separated) */
	char		*at;		/* the one the first connection reached */
	size_t		 tmo_off;	/* where the request's timeout is packed
					   in sbuf (0: none) */
	double		 tmo;		/* its value */
	uint8_t		 token[LQ_TOKEN_LEN];	/* in a cluster: names this
					   client's sessions (session.resume) */
	bool		 token_set;
	int64_t		 resumed_last;	/* the last session.resume's: the id
					   of the request whose reply the
					   daemon kept; -1: not resumed, or
					   no such answer */
};

/* libqlock.c: the connection, its socket and its frames. */
int	lq_fail(qlock *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	lq_conn_drop(qlock *);
int	lq_io_write(qlock *, const void *, size_t);
int	lq_frame_read(qlock *, size_t, size_t *);
int	lq_conn_open(qlock *, const char *);
int	lq_addr_next(const char **, char *, size_t);

/* lq_route.c: which connection a request takes. */
void	lq_route_init(qlock *, const char *);
int	lq_route_fd(qlock *);
int	lq_route_name_fd(const qlock *, const char *);
void	lq_route_free(qlock *);
struct lq_route *lq_route_parse(const char *, struct mp_reader *);
int	lq_route_shard(const qlock *);

/* lq_follow.c: following a cluster's leaders. */
int	lq_follow_call(qlock *, struct mp_reader *);
int	lq_follow_reopen(qlock *);
struct lq_route *lq_follow_topology(qlock *);
int	lq_leader_open(qlock *, const char *);
bool	lq_conn_alive(int);

/* lq_call.c: building a request, calling, reading its result. */
void	lq_pk_check(qlock *, int);
void	lq_pk_str(qlock *, const char *);
void	lq_pk_bin(qlock *, const void *, size_t);
void	lq_pk_int(qlock *, int64_t);
void	lq_pk_bool(qlock *, bool);
void	lq_pk_timeout(qlock *, double);
int	lq_check_name(qlock *, const char *, const char *);
int	lq_check_timeout(qlock *, const char *, double);
int	lq_req_begin(qlock *, const char *, uint32_t);
int	lq_violated(qlock *, const char *);
int	lq_req_call_fd(qlock *, struct mp_reader *);
int	lq_req_call(qlock *, struct mp_reader *);
int	lq_call_name(qlock *, const char *, const char *, struct mp_reader *);
int	lq_call_name_timeout(qlock *, const char *, const char *, double,
	    struct mp_reader *);
int	lq_bad_result(qlock *, const char *);
int	lq_res_int(qlock *, const char *, struct mp_reader *, int64_t, int64_t,
	    int64_t *);
int	lq_res_value(qlock *, struct mp_reader *, void **, size_t *);
int	lq_res_raw(qlock *, const char *, struct mp_reader *, enum mp_type,
	    void **, size_t *);
int	lq_res_fields(qlock *, const char *, struct mp_reader *,
	    const char *const *, int64_t *, size_t);

/* lq_queue.c */
bool	lq_nogiveback(int);

#endif /* LQ_INT_H */
