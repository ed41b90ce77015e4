/* worker.c: a shard worker's life: its loop, parked waiters and their
 * deadlines, the control socket to the master, and an orderly stop. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/listener.h>

#include "balance.h"
#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "peer.h"
#include "qlock.h"
#include "qmsg.h"
#include "repl.h"
#include "reply.h"
#include "session.h"
#include "store.h"
#include "topo.h"
#include "util.h"
#include "worker.h"
#include "xfwd.h"

#define STOP_GRACE 5.0	/* seconds to flush replies at stop */
#define WORKER_MMAP_MIN	(32 << 20)	/* smaller allocations come from the heap */
#define WORKER_HEAP_KEEP (64 << 20)	/* free heap kept before giving it back */

/* Re-arm the deadline timer for the earliest parked waiter. */
static void
worker_arm_timer(struct worker *w)
{
	struct waiter	*first = deadlines_min(&w->deadlines);
	struct timeval	 tv;
	double		 d;

	if (first == NULL) {
		evtimer_del(w->timer);
		return;
	}
	/* Deadlines are at most SECS_MAX ahead (arg_timeout refuses more). */
	d = first->deadline - now_mono();
	if (d < 0)
		d = 0;
	if (d > SECS_MAX)
		d = SECS_MAX;
	(void)secs_timeval(d, &tv);
	evtimer_add(w->timer, &tv);
}

/* Deadlines passed: the waiters time out. */
static void
worker_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct waiter	*wt;
	double		 now = now_mono();

	/* A timeout says nothing came: a read of the state, like any. */
	if ((wt = deadlines_min(&w->deadlines)) != NULL && wt->deadline <= now)
		repl_read(w);
	while ((wt = deadlines_min(&w->deadlines)) != NULL &&
	    wt->deadline <= now) {
		deadlines_remove(&w->deadlines, wt);
		switch (wt->op) {
		case WOP_COND_WAIT:
			/* Timed out, but it returns holding the lock. */
			cmd_cond_requeue(w, wt, QLOCK_TIMEOUT);
			break;
		case WOP_BARRIER_WAIT:
			/* A party's timeout breaks the barrier for all. */
			barrier_break(&wt->obj->u.barrier, &w->woken);
			break;
		default:
			waitq_wake(wt, QLOCK_TIMEOUT, &w->woken);
			break;
		}
	}
	worker_arm_timer(w);
	worker_flush_woken(w);
}

/* End of the loop pass: write the replies it produced. */
static void
worker_out_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;

	w->out_pending = false;
	conn_flush_dirty(w);
	peer_flush_dirty(w);
}

void
worker_schedule_output(struct worker *w)
{
	if (!w->out_pending) {
		w->out_pending = true;
		event_active(w->out_ev, EV_TIMEOUT, 0);
	}
}

void
worker_unpark(struct worker *w, struct waiter *wt)
{
	if (wt->heap_idx != NO_SLOT)
		deadlines_remove(&w->deadlines, wt);
}

void
worker_park(struct worker *w, struct waiter *wt, double deadline)
{
	if (w->stopping) {
		waitq_wake(wt, QLOCK_EUNAVAIL, &w->woken);
		return;
	}
	wt->deadline = deadline;
	if (deadline >= 0) {
		deadlines_add(&w->deadlines, wt);
		if (deadlines_min(&w->deadlines) == wt)
			worker_arm_timer(w);
	}
}

/* Unlink a waiter from its session and deadline, and free it. */
static void
waiter_free(struct worker *w, struct waiter *wt)
{
	struct object	*o = wt->obj;

	session_note_wait(w, wt, false);	/* it left its place */
	if (wt->heap_idx != NO_SLOT) {
		deadlines_remove(&w->deadlines, wt);
		if (w->deadlines.n == 0)
			evtimer_del(w->timer);
	}
	TAILQ_REMOVE(&wt->sess->waiters, wt, sess_link);
	if (wt->ctx.origin == w->id)
		conn_unanswered_done(conn_find(w, wt->ctx.sess), true);
	session_gc(w, wt->sess);
	if (wt->item != NULL)
		qitem_free(wt->item);
	free(wt->lockname);
	free(wt);
	if (o != NULL)
		registry_gc(&w->reg, o);
}

void
worker_flush_woken(struct worker *w)
{
	struct waiter	*wt;

	while ((wt = TAILQ_FIRST(&w->woken)) != NULL) {
		TAILQ_REMOVE(&w->woken, wt, link);
		if (wt->status == QLOCK_ECANCELLED) {
			/* Withdrawn by a cancel (cmd_cancel.c). */
			reply_error(w, &wt->ctx, QLOCK_ECANCELLED,
			    "cancelled: nothing was done");
			waiter_free(w, wt);
			continue;
		}
		if (wt->placed)
			session_place_answered(w, wt);
		switch (wt->op) {
		case WOP_QUEUE_GET:
		case WOP_QUEUE_PUT:
		case WOP_QUEUE_JOIN:
			cmd_queue_answer(w, wt);
			break;
		case WOP_LOCK_ACQUIRE:
		case WOP_COND_WAIT:
		case WOP_COND_REACQUIRE:
			cmd_lock_answer(w, wt);
			break;
		case WOP_SEM_ACQUIRE:
			cmd_sem_answer(w, wt);
			break;
		case WOP_EVENT_WAIT:
			cmd_event_answer(w, wt);
			break;
		case WOP_BARRIER_WAIT:
			cmd_barrier_answer(w, wt);
			break;
		}
		waiter_free(w, wt);
	}
}

void
worker_drop_waiter(struct worker *w, struct waiter *wt)
{
	if (wt->wq == NULL) {
		TAILQ_REMOVE(&w->woken, wt, link);	/* woken, not answered */
	} else {
		waitq_remove(wt);
		/* A party that leaves a barrier breaks it for the others. */
		if (wt->op == WOP_BARRIER_WAIT && wt->obj != NULL)
			barrier_break(&wt->obj->u.barrier, &w->woken);
	}
	waiter_free(w, wt);
}

void
worker_delete_object(struct worker *w, struct object *o)
{
	struct waitq	*qs[OBJ_MAX_WAITQS];
	struct waiter	*wt;
	struct hold	*h;
	struct qitem	*it;
	int		 i, n = object_waitqs(o, qs);

	for (i = 0; i < n; i++) {
		while ((wt = waitq_first(qs[i])) != NULL) {
			wt->obj = NULL;		/* it is going away */
			waitq_wake(wt, QLOCK_ENOENT, &w->woken);
		}
	}
	/* What sessions held of it is gone with it. */
	while ((h = TAILQ_FIRST(&o->holds)) != NULL) {
		while ((it = TAILQ_FIRST(&h->items)) != NULL) {
			TAILQ_REMOVE(&h->items, it, link);
			qitem_free(it);
		}
		hold_free(w, h);
	}
	worker_flush_woken(w);
	registry_del(&w->reg, o);
}

/* Send a reply now, to its connection here or through its worker. */
static void
deliver_now(struct worker *w, const struct reqctx *ctx, const void *frame,
    size_t len)
{
	struct conn	*c;

	if (ctx->origin != w->id) {
		/* Its connection is on another worker; a dead one drops it. */
		(void)peer_send(w, ctx->origin, QMSG_REQ_REPLY, ctx->tag,
		    ctx->sess, frame, len);
		return;
	}
	if ((c = conn_find(w, ctx->sess)) != NULL)
		conn_write(c, frame, len);
}

void
worker_deliver(struct worker *w, const struct reqctx *ctx, const void *frame,
    size_t len)
{
	struct held	*h;

	/* Nothing is acknowledged before the log has it (and, with
	 * --fsync always, before it is on disk); replies keep their order. */
	if (w->store_flush_pending || !TAILQ_EMPTY(&w->held)) {
		h = xmalloc(sizeof(*h) + len);
		h->ctx = *ctx;
		h->seq = repl_hold_seq(w);
		h->len = len;
		memcpy(h->frame, frame, len);
		TAILQ_INSERT_TAIL(&w->held, h, link);
		return;
	}
	deliver_now(w, ctx, frame, len);
}

void
worker_release_held(struct worker *w)
{
	struct held	*h;

	while ((h = TAILQ_FIRST(&w->held)) != NULL) {
		TAILQ_REMOVE(&w->held, h, link);
		deliver_now(w, &h->ctx, h->frame, h->len);
		free(h);
	}
}

void
worker_release_held_upto(struct worker *w, uint64_t seq)
{
	struct held	*h;

	while ((h = TAILQ_FIRST(&w->held)) != NULL && h->seq <= seq) {
		TAILQ_REMOVE(&w->held, h, link);
		deliver_now(w, &h->ctx, h->frame, h->len);
		free(h);
	}
}

void
worker_peer_down(struct worker *w, int id)
{
	struct hnode	*n, *next;
	struct fwd	*f;

	if (!w->peers[id].up)
		return;
	log_info("worker %d is down", id);
	peer_close(w, id);
	/* Requests we forwarded there have an unknown outcome. */
	for (n = hmap_first(&w->fwds); n != NULL; n = next) {
		next = hmap_next(&w->fwds, n);
		f = hmap_entry(n, struct fwd, node);
		if (f->peer != id)
			continue;
		reply_error(w, &(struct reqctx){ f->sess, f->msgid, 0, w->id, false },
		    QLOCK_EUNAVAIL, "worker %d died with this request in flight; "
		    "its outcome is unknown", id);
		fwd_free(w, f);
	}
	fanout_peer_down(w, id);
	/* Sessions whose connections were there are over. */
	session_end_worker(w, id);
	xfwd_worker_down(w, id);
}

static void worker_stop(struct worker *w);

/* A message from the master. */
static void
worker_ctl_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct qmsg_hdr	 hdr;
	ssize_t		 n;
	int		 passed;

	n = fd_recv(fd, &hdr, sizeof(hdr), &passed);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The master is gone: nobody will restart us or our peers. */
		log_warnx("master went away; stopping");
		event_del(w->ctl_ev);
		worker_stop(w);
		return;
	}
	if ((size_t)n == sizeof(hdr) && hdr.type == QMSG_STATS_REQ) {
		metrics_worker_reply(w, hdr.tag);	/* tag: the gather's */
		return;
	}
	if ((size_t)n != sizeof(hdr) || hdr.tag >= (uint64_t)w->nworkers ||
	    (int)hdr.tag == w->id)
		fatalx("bad control message from the master");
	switch (hdr.type) {
	case QMSG_PEER_UP:
		if (passed == -1)
			fatalx("PEER_UP without a socket");
		log_info("worker %d is up", (int)hdr.tag);
		worker_peer_down(w, (int)hdr.tag);	/* any old one is gone */
		peer_up(w, (int)hdr.tag, passed);
		repl_peer_up(w, (int)hdr.tag);
		break;
	case QMSG_PEER_DOWN:
		worker_peer_down(w, (int)hdr.tag);
		break;
	default:
		fatalx("unknown control message %u", hdr.type);
	}
}

/* While stopping: exit once every reply is flushed, or at the deadline. */
static void
worker_stop_check_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;

	if ((conn_pending_output(w) == 0 && w->fwds.count == 0 &&
	    TAILQ_EMPTY(&w->held) && repl_stopped(w)) ||
	    now_mono() >= w->stop_deadline)
		event_base_loopexit(w->base, NULL);
}

/* SIGTERM: stop accepting, fail what is parked, flush, exit. */
static void
worker_stop(struct worker *w)
{
	struct timeval	 tv = { 0, 20000 };
	struct hnode	*n, *next;
	struct session	*s;
	struct waiter	*wt;
	int		 i;

	if (w->stopping)
		return;
	w->stopping = true;
	log_info("stopping");
	repl_stop(w);
	for (i = 0; i < w->nlisteners; i++)
		evconnlistener_disable(w->listeners[i]);
	balance_enable(w, false);
	/* Parked requests are answered "unavailable" now. */
	for (n = hmap_first(&w->sessions); n != NULL; n = next) {
		next = hmap_next(&w->sessions, n);
		s = hmap_entry(n, struct session, node);
		TAILQ_FOREACH(wt, &s->waiters, sess_link) {
			if (wt->wq != NULL) {
				if (wt->heap_idx != NO_SLOT)
					deadlines_remove(&w->deadlines, wt);
				waitq_wake(wt, QLOCK_EUNAVAIL, &w->woken);
			}
		}
	}
	worker_flush_woken(w);
	w->stop_deadline = now_mono() + STOP_GRACE;
	w->stop_ev = event_new(w->base, -1, EV_PERSIST, worker_stop_check_cb, w);
	event_add(w->stop_ev, &tv);
}

static void
worker_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct worker	*w = arg;

	if (sig == SIGHUP)
		(void)config_reload(w->conf_rw, true);
	else
		worker_stop(w);
}

/* accept() failed for another reason than "try again": out of file
 * descriptors (EMFILE, ENFILE) or memory.  The listener would retry at
 * once, forever: pause accepting for a tenth of a second instead. */
void
worker_accept_pause(struct worker *w)
{
	struct timeval	 tv = { 0, 100000 };
	int		 i;

	if (now_mono() - w->accept_warned >= 10) {	/* once in a while */
		log_warn("accept (%zu connections open); pausing accepts "
		    "for 0.1 s at a time", w->nconns);
		w->accept_warned = now_mono();
	}
	for (i = 0; i < w->nlisteners; i++)
		evconnlistener_disable(w->listeners[i]);
	balance_enable(w, false);
	evtimer_add(w->accept_ev, &tv);
}

static void
worker_accept_error_cb(struct evconnlistener *l, void *arg)
{
	worker_accept_pause(arg);
}

/* Accept again after a pause, unless stopping. */
static void
worker_accept_resume_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	int		 i;

	if (w->stopping)
		return;
	for (i = 0; i < w->nlisteners; i++)
		evconnlistener_enable(w->listeners[i]);
	balance_enable(w, true);
}

/* Tell the master we serve. */
static void
worker_send_ready(struct worker *w)
{
	struct qmsg_hdr	hdr = { QMSG_READY, 0, (uint64_t)w->id, 0 };

	if (send(w->ctlfd, &hdr, sizeof(hdr), MSG_NOSIGNAL) != sizeof(hdr))
		log_warn("cannot tell the master we are ready");
}

void
worker_free(struct worker *w)
{
	struct hnode	*n, *next;
	int		 i;

	for (n = hmap_first(&w->conns); n != NULL; n = next) {
		next = hmap_next(&w->conns, n);
		conn_free(hmap_entry(n, struct conn, node));
	}
	for (i = 0; i < w->nworkers; i++)
		if (i != w->id)
			peer_close(w, i);
	while ((n = hmap_first(&w->fwds)) != NULL)	/* none left, normally */
		fwd_free(w, hmap_entry(n, struct fwd, node));
	for (i = 0; i < w->nworkers; i++)	/* completes every fan-out */
		if (i != w->id)
			fanout_peer_down(w, i);
	for (n = hmap_first(&w->sessions); n != NULL; n = next) {
		next = hmap_next(&w->sessions, n);
		session_end(w, hmap_entry(n, struct session, node)->id);
		next = hmap_first(&w->sessions);
	}
	xfwd_free(w);
	repl_close(w);
	store_close(w);
	worker_release_held(w);
	event_free(w->out_ev);
	registry_free(&w->reg);
	for (i = 0; i < w->nlisteners; i++)
		evconnlistener_free(w->listeners[i]);
	free(w->listeners);
	balance_free(w);
	free(w->peers);
	hmap_free(&w->conns);
	preauth_free(&w->preauth);
	hmap_free(&w->fwds);
	hmap_free(&w->fanouts);
	hmap_free(&w->sessions);
	hmap_free(&w->keyed);
	deadlines_free(&w->deadlines);
	msgpack_sbuffer_destroy(&w->sbuf);
	free(w->rbuf);
	event_free(w->timer);
	if (w->ctlfd != -1) {
		event_free(w->ctl_ev);
		event_free(w->sigterm_ev);
		event_free(w->sigint_ev);
		event_free(w->sighup_ev);
		close(w->ctlfd);
	}
	if (w->accept_ev != NULL)
		event_free(w->accept_ev);
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	event_base_free(w->base);
	free(w);
}

struct worker *
worker_new(struct config *conf, int id, uint32_t gen, int ctlfd,
    const int *meshfds, const int *lfds, int nlfds)
{
	struct worker	*w = xcalloc(1, sizeof(*w));
	struct timespec	 ts;
	const int	*own;
	int		 i, fd, nown;

	w->id = id;
	w->nworkers = conf->workers;
	w->gen = gen;
	w->conf = conf;
	w->conf_rw = conf;
	w->ctlfd = ctlfd;
	if ((w->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	hmap_init(&w->conns);
	preauth_init(&w->preauth);
	hmap_init(&w->fwds);
	hmap_init(&w->fanouts);
	hmap_init(&w->sessions);
	registry_init(&w->reg);
	deadlines_init(&w->deadlines);
	TAILQ_INIT(&w->woken);
	TAILQ_INIT(&w->held);
	TAILQ_INIT(&w->dirty);
	TAILQ_INIT(&w->dirty_peers);
	w->out_ev = event_new(w->base, -1, 0, worker_out_cb, w);
	msgpack_sbuffer_init(&w->sbuf);
	w->rbuf = xmalloc(CONN_READ_CHUNK);
	msgpack_packer_init(&w->pk, &w->sbuf, msgpack_sbuffer_write);
	w->timer = evtimer_new(w->base, worker_timer_cb, w);
	/* Fencing tokens continue from the clock in microseconds, so that a
	 * restarted worker never hands out a token below an earlier one
	 * (while grants stay under a million a second). */
	clock_gettime(CLOCK_REALTIME, &ts);
	w->tokens = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;

	store_open(w);		/* replays the shard's log, if any */

	w->peers = xcalloc((size_t)w->nworkers, sizeof(*w->peers));
	for (i = 0; i < w->nworkers; i++) {
		w->peers[i].id = i;
		if (i != id && meshfds[i] != -1)
			peer_up(w, i, meshfds[i]);
	}
	if (ctlfd != -1) {
		if (fd_nonblock_cloexec(ctlfd) == -1)
			fatal("control socket");
		w->ctl_ev = event_new(w->base, ctlfd, EV_READ | EV_PERSIST,
		    worker_ctl_cb, w);
		event_add(w->ctl_ev, NULL);
		w->sigterm_ev = evsignal_new(w->base, SIGTERM, worker_signal_cb,
		    w);
		w->sigint_ev = evsignal_new(w->base, SIGINT, worker_signal_cb, w);
		w->sighup_ev = evsignal_new(w->base, SIGHUP, worker_signal_cb, w);
		event_add(w->sigterm_ev, NULL);
		event_add(w->sigint_ev, NULL);
		event_add(w->sighup_ev, NULL);
	}

	/* This worker's own addresses (topo.c); the shared listeners are
	 * taken in turn with the siblings (balance.c). */
	own = topo_own(conf->topo, id, &nown);
	w->listeners = xcalloc((size_t)(nown > 0 ? nown : 1),
	    sizeof(*w->listeners));
	for (i = 0; i < nown; i++) {
		fd = own[i];
		/* Already listening (backlog 0: do not call listen again). */
		w->listeners[i] = evconnlistener_new(w->base, conn_accept_cb, w,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
		if (w->listeners[i] == NULL)
			fatalx("cannot listen on inherited socket %d", fd);
		evconnlistener_set_error_cb(w->listeners[i], worker_accept_error_cb);
		w->nlisteners++;
	}
	w->accept_ev = evtimer_new(w->base, worker_accept_resume_cb, w);
	balance_listen(w, lfds, nlfds);
	repl_start(w);		/* with --peer: join the shard's raft group */
	return (w);
}

void
worker_main(struct config *conf, int id, uint32_t gen, int ctlfd,
    const int *meshfds, const int *lfds, int nlfds)
{
	struct worker	*w;

	log_set_role("worker %d", id);
	/*
	 * Large items come and go: a 1 MiB put is read into a buffer, copied
	 * into its queue, packed into a reply and freed.  With glibc's
	 * defaults each such buffer is a fresh mmap, or heap that is given
	 * back and grown again, and every page of it faults in anew: a 1 MiB
	 * put+get pair cost about 10 ms here instead of about 1.  Keep that
	 * memory in the heap, for reuse.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_MIN);
	(void)mallopt(M_TRIM_THRESHOLD, WORKER_HEAP_KEEP);
	topo_close_others(conf->topo, id);
	w = worker_new(conf, id, gen, ctlfd, meshfds, lfds, nlfds);
	worker_send_ready(w);
	log_debug("serving (incarnation %u)", gen);
	event_base_dispatch(w->base);
	log_info("stopped");
	worker_free(w);
	exit(0);
}
