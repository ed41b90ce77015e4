/* raft-bench-thread.c: raft-bench's -T, raft on a uv loop in a thread of
 * its own while the node's main thread runs a libevent loop, as a qlockd
 * worker would, and submits applies through a queue and uv_async_send;
 * raft's answers come back through a queue and an eventfd that libevent
 * watches.  Also the libevent loop's load of -L and -T alike: -b burns CPU
 * in it, -f forks a child from it as compaction does.  A scratch
 * measurement for issue 13 (docs/HA.md), not part of the daemon. */
#include <sys/eventfd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <raft.h>
#include <uv.h>

#include "raft-bench.h"

/* -b: a loaded worker, burning burn_us of CPU every burn_ms. */
static void
burn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;
	uint64_t	 t0 = now_ns(), t;

	(void)fd;
	(void)what;
	do
		t = now_ns();
	while (t - t0 < (uint64_t)n->opts->burn_us * 1000);
	if (n->todo != 0)
		n->burnt += t - t0;
}

/* -f: fork a child the way compaction does, from the libevent loop, with
 * raft's thread (in -T) running.  The child only writes and _exits: no
 * locks, no stdio, no uv. */
static void
fork_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;
	uint64_t	 t0, applied;
	pid_t		 pid;
	int		 out;

	(void)fd;
	(void)what;
	if (n->forked != 0 && waitpid(n->forked, NULL, WNOHANG) == 0)
		return;		/* the last one is still writing */
	n->forked = 0;
	t0 = now_ns();
	if ((pid = fork()) == -1)
		return;
	if (pid == 0) {
		applied = n->applied;	/* -T: a torn read is harmless */
		if ((out = open("/dev/null", O_WRONLY)) == -1 ||
		    write(out, &applied, sizeof applied) != sizeof applied)
			_exit(1);
		_exit(0);
	}
	if (n->todo != 0) {
		n->forks++;
		n->forkns += now_ns() - t0;
	}
	n->forked = pid;
}

/* Run cb every ms on the worker's libevent loop. */
static void
every(struct node *n, unsigned ms, event_callback_fn cb)
{
	struct event	*ev;
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if ((ev = event_new(n->base, -1, EV_PERSIST, cb, n)) == NULL ||
	    event_add(ev, &tv) == -1)
		abort();
}

/* The load on the worker's libevent loop (n->base), -L and -T alike. */
void
node_extras(struct node *n)
{
	if (n->opts->burn_us != 0)
		every(n, n->opts->burn_ms, burn_cb);
	if (n->opts->fork_ms != 0)
		every(n, n->opts->fork_ms, fork_cb);
}

/* Either thread: take the whole of a hand-over queue. */
static struct benchreq *
queue_take(struct node *n, struct benchreq **head, struct benchreq ***tail)
{
	struct benchreq	*q;

	pthread_mutex_lock(&n->mu);
	q = *head;
	*head = NULL;
	*tail = head;
	pthread_mutex_unlock(&n->mu);
	return (q);
}

/* Raft thread: hand an answer back to the libevent thread; wake it when
 * the queue was empty (it drains the whole queue after reading the
 * eventfd, so one wake-up per batch is enough). */
static void
thread_answer(struct node *n, struct benchreq *b, int status)
{
	uint64_t	one = 1;
	int		wake;

	b->status = status;
	b->next = NULL;
	pthread_mutex_lock(&n->mu);
	wake = n->doneq == NULL;
	*n->donetail = b;
	n->donetail = &b->next;
	pthread_mutex_unlock(&n->mu);
	if (wake && write(n->efd, &one, sizeof one) != sizeof one)
		abort();
}

static void
thread_apply_cb(struct raft_apply *req, int status, void *result)
{
	struct benchreq	*b = req->data;

	(void)result;
	thread_answer(b->node, b, status);
}

/* Raft thread: take every submitted entry and apply it. */
static void
thread_async_cb(uv_async_t *a)
{
	struct node	*n = a->data;
	struct benchreq	*q, *b;

	q = queue_take(n, &n->subq, &n->subtail);
	while ((b = q) != NULL) {
		q = b->next;
		b->req.data = b;
		if (raft_apply(&n->raft, &b->req, &b->buf, 1,
		    thread_apply_cb) != 0) {
			raft_free(b->buf.base);
			thread_answer(n, b, RAFT_NOTLEADER);
		}
	}
}

/* Libevent thread: submit one entry of the current bench. */
static void
thread_next(struct node *n)
{
	struct benchreq	*b;

	if (n->sent >= n->todo)
		return;
	if ((b = calloc(1, sizeof *b)) == NULL ||
	    (b->buf.base = raft_malloc(n->size)) == NULL)
		abort();
	memset(b->buf.base, 'x', n->size);
	b->buf.len = n->size;
	b->node = n;
	b->start = now_ns();
	n->sent++;
	pthread_mutex_lock(&n->mu);
	*n->subtail = b;
	n->subtail = &b->next;
	pthread_mutex_unlock(&n->mu);
	uv_async_send(&n->async);	/* coalesced while one is pending */
}

/* Libevent thread: raft answered; latency ends here, as the worker would
 * see it. */
static void
thread_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;
	struct benchreq	*q, *b;
	uint64_t	 v;

	(void)what;
	if (read(fd, &v, sizeof v) == -1 && errno != EAGAIN)
		abort();
	q = queue_take(n, &n->doneq, &n->donetail);
	while ((b = q) != NULL) {
		q = b->next;
		bench_done(n, b, b->status);
	}
}

/* Libevent thread: commands from the parent. */
static void
thread_cmd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;
	ssize_t		 r;

	(void)what;
	r = read(fd, n->cmdbuf + n->cmdlen, sizeof n->cmdbuf - 1 - n->cmdlen);
	if (r == -1 && errno == EINTR)
		return;
	if (r <= 0)
		exit(0);	/* the parent went away */
	node_input(n, (size_t)r);
}

static void *
thread_main(void *arg)
{
	struct node	*n = arg;

	uv_run(&n->loop, UV_RUN_DEFAULT);
	return (NULL);
}

/* -T: raft (started, not yet run) goes to a thread of its own; this thread
 * runs the worker's libevent loop.  Does not return. */
void
node_thread(struct node *n, int cmdfd)
{
	struct event	*ev;

	pthread_mutex_init(&n->mu, NULL);
	n->subtail = &n->subq;
	n->donetail = &n->doneq;
	n->next = thread_next;
	if ((n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    uv_async_init(&n->loop, &n->async, thread_async_cb) != 0)
		abort();
	n->async.data = n;
	if ((n->base = event_base_new()) == NULL ||
	    (ev = event_new(n->base, n->efd, EV_READ | EV_PERSIST,
	    thread_done_cb, n)) == NULL || event_add(ev, NULL) == -1 ||
	    (ev = event_new(n->base, cmdfd, EV_READ | EV_PERSIST,
	    thread_cmd_cb, n)) == NULL || event_add(ev, NULL) == -1)
		abort();
	node_extras(n);
	if (pthread_create(&n->thread, NULL, thread_main, n) != 0)
		abort();
	event_base_dispatch(n->base);
	exit(0);
}
