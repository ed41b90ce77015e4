/* qb.h: qlock-bench's shared definitions (bench/qb_*.c). */
#ifndef QB_H
#define QB_H

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "auth.h"
#include "clock.h"
#include "frame.h"
#include "mp.h"
#include "qlock.h"

#define DEFAULT_ADDRESS	"127.0.0.1:7450"
#define MAX_CLIENTS	512
#define MAX_QUEUES	1024
#define MAX_REQUESTS	20000000L	/* samples are kept: 4 bytes each */
#define MAX_DEPTH	4096
#define MAX_SIZE	(16L * 1024 * 1024)
#define NAME_LEN	96
#define ERR_LEN		200
#define GET_WAIT	0.5	/* seconds a get waits before the clock is checked */
#define PROBE_TRIES	64	/* candidate names tried per wanted name */
#define READY_GRACE	30.0	/* seconds clients have to connect (and probe) */
#define EXIT_GRACE	10.0	/* seconds past --max-seconds before clients are killed */
#define QB_MAX_SHARDS	64	/* routing: shards followed at most */
#define RAW_NO_TIMEOUT	(-2.0)	/* raw_pack: a method without a timeout */
#define RESPONSE_MAX	(64u * 1024 * 1024)

enum test { T_PING, T_ROUNDTRIP, T_PIPELINE, T_PRODCONS, T_PUT, T_LOCK,
    T_NTESTS };
extern const char *const test_names[T_NTESTS];

/* Which queue names a roundtrip or pipeline client uses. */
enum placement {
	PLACE_ANY,	/* whatever the names hash to */
	PLACE_LOCAL,	/* only names the client's own worker owns */
	PLACE_REMOTE,	/* only names another worker owns: every request forwarded */
};

/* The command line. */
struct opts {
	const char	*address;	/* -a, $QLOCK_ADDRESS, DEFAULT_ADDRESS */
	char		*key;		/* the authkey, NUL-terminated */
	int		 clients;	/* connections */
	int		 procs;		/* processes they are spread over */
	bool		 poll;		/* polling clients (--procs or --redis) */
	bool		 redis;		/* the server is Redis: RESP, no key */
	long		 requests;	/* units per test, over all clients */
	size_t		 size;		/* bytes per queue item */
	int		 queues;	/* names per client (roundtrip, pipeline) or shared (prodcons) */
	int		 depth;		/* requests per pipelined batch */
	double		 max_seconds;	/* each test stops by itself after this */
	enum placement	 placement;
	unsigned	 tests;		/* bit (1 << enum test) per test to run */
	char		 prefix[40];	/* start of every queue name */
	bool		 csv;		/* machine-readable lines */
	const char	*dump;		/* write each test's samples to DUMP.<test> */
	bool		 no_route;	/* --no-route or QLOCK_ROUTE=0 */
	int		 shards;	/* routing raw connections: 0 not */
	char		*shard_addr[QB_MAX_SHARDS]; /* each shard's own address */
};

/* What the parent and the client processes share (MAP_SHARED). */
struct shared {
	double	 start[MAX_CLIENTS];	/* when each client began, CLOCK_MONOTONIC s */
	double	 end[MAX_CLIENTS];	/* when it finished its last unit */
	long	 units[MAX_CLIENTS];	/* units completed by each client */
	long	 errors[MAX_CLIENTS];	/* failed calls per client */
	char	 err[MAX_CLIENTS][ERR_LEN]; /* the text of each one's first failure */
	int	 timed_out[MAX_CLIENTS]; /* stopped by --max-seconds */
	int	 cancel;		/* set by the parent: do not start */
	long	 nsamples;		/* next free slot in samples (atomic) */
	long	 claimed[MAX_QUEUES];	/* prodcons: gets promised per queue (atomic) */
	long	 dups;			/* prodcons: items received twice (atomic) */
	long	 bad;			/* prodcons: items that are not what was put (atomic) */
};

/* One test run: options, shared memory, and this process's role. */
struct bench {
	struct opts	 o;
	enum test	 test;
	struct shared	*sh;
	float		*samples;	/* latency of each unit, microseconds */
	size_t		 ncap;		/* room in samples */
	uint64_t	*seen;		/* prodcons: one bit per item */
	size_t		 nseen;		/* words in seen */
	int		 readyw;	/* client -> parent: 'r' ready, 'e' failed */
	int		 gor;		/* closed by the parent: start */
	int		 tokr, tokw;	/* a one-byte token: one client probes at a time */
	int		 id;		/* client number, in a client */
};

/* A connection that speaks the protocol itself, for pipelining
 * (libqlock waits for each answer before the next request). */
struct raw {
	int		 fd;
	uint64_t	 msgid;		/* of the last request packed */
	msgpack_sbuffer	 out;		/* the batch being built */
	uint8_t		*in;		/* bytes received, from inpos to inlen unread */
	size_t		 inpos, inlen, incap;
};

/* A raw client's connections: conn[0] its first, conn[1 + s] shard s's
 * own (fd -1 until used); owed: answers due on each for a batch; open:
 * the indexes of those connected, in the order they were (nopen). */
struct rset {
	struct raw	 conn[1 + QB_MAX_SHARDS];
	int		 owed[1 + QB_MAX_SHARDS];
	int		 open[1 + QB_MAX_SHARDS];
	int		 nopen;
};

/* qb_util.c */
void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);
void __attribute__((format(printf, 2, 3))) client_fail(struct bench *b, const char *fmt, ...);
void sample_add(struct bench *b, double seconds);
void name_make(const struct bench *b, int id, long k, char *buf);
void item_fill(uint8_t *item, size_t size, uint64_t n);
char *key_read(const char *path);
int stats_read(qlock *c, uint64_t *requests, uint64_t *forwarded);
int names_choose(struct bench *b, qlock *c, char (*names)[NAME_LEN], int nwant);
long quota(long total, int nclients, int id);
bool out_of_time(struct bench *b, double deadline);

/* qb_raw.c */
int raw_write(struct raw *r, const void *buf, size_t len);
const uint8_t *raw_next(struct raw *r, size_t max, size_t *len, bool *bad);
ssize_t raw_fill(struct raw *r, size_t max);
const uint8_t *raw_frame(struct raw *r, size_t max, size_t *len);
int raw_open(struct raw *r, const char *address, double timeout);
int raw_connect(struct raw *r, const char *address, const char *key,
    double timeout);
void raw_close(struct raw *r);
void raw_pack(struct raw *r, const char *method, const char *name,
    const void *item, size_t len, double timeout);
int raw_response(const uint8_t *body, size_t len, char *why, size_t whylen,
    const void **res, uint32_t *reslen);
void resp_request(struct raw *r, const char *method, const char *name,
    const void *item, size_t size);
int resp_next(struct raw *r, const void **res, uint32_t *reslen, char *why,
    size_t whylen);

/* qb_route.c */
void route_read(struct opts *o);
void rset_init(struct rset *s);
void rset_opened(struct rset *s, int i);
int rset_shard(const struct bench *b, const char *name);
struct raw *rset_pick(struct bench *b, struct rset *s, const char *name);
struct raw *rset_pick_shard(struct bench *b, struct rset *s, int shard);
void rset_clear(struct rset *s);
int rset_flush(struct rset *s);
void rset_close(struct rset *s);

/* qb_tests.c */
void __attribute__((noreturn)) client_give_up(struct bench *b);
double client_wait_go(struct bench *b);
void __attribute__((noreturn)) client_main(struct bench *b);

/* qb_poll.c */
void __attribute__((noreturn)) loop_main(struct bench *b, int proc);

#endif /* QB_H */
