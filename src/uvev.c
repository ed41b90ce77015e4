/* uvev.c: a libuv loop driven from a worker's libevent loop (uvev.h):
 * uv's backend fd and next timeout watched from libevent,
 * uv_run(UV_RUN_NOWAIT) when either fires. */
#include <stdlib.h>

#include "log.h"
#include "util.h"
#include "uvev.h"

struct uvev {
	uv_loop_t	*loop;
	struct event	*io;		/* uv's epoll fd is readable */
	struct event	*timer;		/* uv's next timeout; also the poke */
};

static void
uvev_run_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct uvev	*u = arg;
	struct timeval	 tv;
	int		 ms;

	uv_run(u->loop, UV_RUN_NOWAIT);
	if ((ms = uv_backend_timeout(u->loop)) < 0) {
		evtimer_del(u->timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(u->timer, &tv);
}

struct uvev *
uvev_new(struct event_base *base, uv_loop_t *loop)
{
	struct uvev	*u = xcalloc(1, sizeof(*u));

	u->loop = loop;
	u->io = event_new(base, uv_backend_fd(loop), EV_READ | EV_PERSIST,
	    uvev_run_cb, u);
	u->timer = evtimer_new(base, uvev_run_cb, u);
	if (u->io == NULL || u->timer == NULL || event_add(u->io, NULL) == -1) {
		uvev_free(u);
		return NULL;
	}
	uvev_poke(u);
	return u;
}

void
uvev_poke(struct uvev *u)
{
	event_active(u->timer, EV_TIMEOUT, 0);
}

void
uvev_free(struct uvev *u)
{
	if (u == NULL)
		return;
	if (u->io != NULL)
		event_free(u->io);
	if (u->timer != NULL)
		event_free(u->timer);
	free(u);
}
