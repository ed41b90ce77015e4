/* uvev.h: a libuv loop driven from a worker's libevent loop, on one
 * thread: libevent watches uv's backend fd and a timer for uv's next
 * timeout, and runs uv_run(UV_RUN_NOWAIT) when either fires (docs/HA-LOOP.md,
 * "libuv inside a libevent worker").  raft runs on that uv loop. */
#ifndef UVEV_H
#define UVEV_H

#include <event2/event.h>
#include <uv.h>

struct uvev;

/* Drive loop (already uv_loop_init'ed) from base; NULL on failure. */
struct uvev *uvev_new(struct event_base *base, uv_loop_t *loop);
/* Work was queued on the uv loop from outside uv's callbacks (a
 * raft_apply from a libevent callback): run uv once at the end of this
 * libevent pass, then re-arm the timeout. */
void	uvev_poke(struct uvev *u);
/* Stop driving (the uv loop itself is the caller's to close). */
void	uvev_free(struct uvev *u);

#endif
