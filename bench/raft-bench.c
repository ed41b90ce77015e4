/* raft-bench.c: a three-node libraft cluster on loopback, one process per
 * node; measures commits/s of fixed-size entries with and without
 * TCP_NODELAY on raft's connections, and leader election time after kill -9
 * of the leader; -L drives each node's uv loop from a libevent loop watching
 * uv's backend fd, as a qlockd worker would; -T runs raft on a thread of
 * its own and submits from a libevent loop (raft-bench-thread.c); -b makes
 * the libevent loop busy and -f forks children from it.  A scratch
 * measurement for issue 13 (docs/HA.md), not part of the daemon. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "raft-bench.h"

uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

/* Set TCP_NODELAY on a stream raft is about to own, if asked to. */
static void
nd_stream(struct ndtrans *nt, struct uv_stream_s *stream)
{
	if (nt->nodelay && stream != NULL && stream->type == UV_TCP &&
	    uv_tcp_nodelay((uv_tcp_t *)stream, 1) != 0)
		fprintf(stderr, "raft-bench: uv_tcp_nodelay failed\n");
}

static struct ndtrans *
nd_from_inner(struct raft_uv_transport *t)
{
	return ((struct ndtrans *)((char *)t -
	    offsetof(struct ndtrans, inner)));
}

static int
nd_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct ndtrans	*nt = (struct ndtrans *)t;
	int		 rv;

	if ((rv = nt->inner.init(&nt->inner, id, address)) != 0)
		memcpy(t->errmsg, nt->inner.errmsg, sizeof t->errmsg);
	return (rv);
}

static void
nd_accept_cb(struct raft_uv_transport *inner, raft_id id, const char *address,
    struct uv_stream_s *stream)
{
	struct ndtrans	*nt = nd_from_inner(inner);

	nd_stream(nt, stream);
	nt->accept_cb(&nt->pub, id, address, stream);
}

static int
nd_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct ndtrans	*nt = (struct ndtrans *)t;
	int		 rv;

	nt->accept_cb = cb;
	if ((rv = nt->inner.listen(&nt->inner, nd_accept_cb)) != 0)
		memcpy(t->errmsg, nt->inner.errmsg, sizeof t->errmsg);
	return (rv);
}

static void
nd_connect_cb(struct raft_uv_connect *req, struct uv_stream_s *stream,
    int status)
{
	struct ndconnect	*c = req->data;

	if (status == 0)
		nd_stream(c->nt, stream);
	c->cb(c->outer, stream, status);
	free(c);
}

static int
nd_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
    raft_id id, const char *address, raft_uv_connect_cb cb)
{
	struct ndtrans		*nt = (struct ndtrans *)t;
	struct ndconnect	*c;
	int			 rv;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return (RAFT_NOMEM);
	c->req.data = c;
	c->outer = req;
	c->cb = cb;
	c->nt = nt;
	rv = nt->inner.connect(&nt->inner, &c->req, id, address, nd_connect_cb);
	if (rv != 0) {
		memcpy(t->errmsg, nt->inner.errmsg, sizeof t->errmsg);
		free(c);
	}
	return (rv);
}

static void
nd_close_cb(struct raft_uv_transport *inner)
{
	struct ndtrans	*nt = nd_from_inner(inner);

	if (nt->close_cb != NULL)
		nt->close_cb(&nt->pub);
}

static void
nd_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct ndtrans	*nt = (struct ndtrans *)t;

	nt->close_cb = cb;
	nt->inner.close(&nt->inner, nd_close_cb);
}

static int
nd_setup(struct ndtrans *nt, uv_loop_t *loop, int nodelay)
{
	int	rv;

	memset(nt, 0, sizeof *nt);
	if ((rv = raft_uv_tcp_init(&nt->inner, loop)) != 0)
		return (rv);
	nt->nodelay = nodelay;
	nt->pub.init = nd_init;
	nt->pub.listen = nd_listen;
	nt->pub.connect = nd_connect;
	nt->pub.close = nd_close;
	return (0);
}

/* FSM: count entries; a snapshot is the count. */
static int
fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct node	*n = fsm->data;

	(void)buf;
	n->applied++;
	*result = NULL;
	return (0);
}

static int
fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *nbufs)
{
	struct node	*n = fsm->data;

	if ((*bufs = raft_malloc(sizeof **bufs)) == NULL)
		return (RAFT_NOMEM);
	if (((*bufs)[0].base = raft_malloc(sizeof n->applied)) == NULL) {
		raft_free(*bufs);
		return (RAFT_NOMEM);
	}
	memcpy((*bufs)[0].base, &n->applied, sizeof n->applied);
	(*bufs)[0].len = sizeof n->applied;
	*nbufs = 1;
	return (0);
}

static int
fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct node	*n = fsm->data;

	if (buf->len == sizeof n->applied)
		memcpy(&n->applied, buf->base, sizeof n->applied);
	raft_free(buf->base);
	return (0);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* An apply answered, on the thread that submitted it: count it, submit the
 * next one or report the bench.  Latencies are of commits only. */
void
bench_done(struct node *n, struct benchreq *b, int status)
{
	uint64_t	 el, ok;

	if (status != 0) {
		/* Deposed: raft fails what is in flight from inside its own
		 * state change, where calling raft_apply again crashes
		 * libraft 0.15 (SIGSEGV, seen with -L -b 300000/1000 -e 200).
		 * Give up the rest of this bench, counted as failed. */
		n->failed += 1 + n->todo - n->sent;
		n->done += n->todo - n->sent;
		n->sent = n->todo;
	} else if (n->done - n->failed < MAXLAT)
		n->lat[n->done - n->failed] = now_ns() - b->start;
	n->done++;
	free(b);
	if (n->done < n->todo) {
		n->next(n);
		return;
	}
	el = now_ns() - n->t0;
	ok = n->done - n->failed;
	if (ok > MAXLAT)
		ok = MAXLAT;
	qsort(n->lat, ok, sizeof *n->lat, cmp_u64);
	fprintf(n->rep, "R %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
	    " %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %" PRIu64 "\n", n->done,
	    n->failed, el, ok ? n->lat[ok / 2] : 0,
	    ok ? n->lat[ok * 99 / 100] : 0, ok ? n->lat[ok - 1] : 0,
	    n->burnt, n->forks, n->forkns);
	fflush(n->rep);
	n->todo = 0;
}

static void
bench_cb(struct raft_apply *req, int status, void *result)
{
	struct benchreq	*b = req->data;

	(void)result;
	bench_done(b->node, b, status);
}

/* Submit one entry of the current bench. */
static void
bench_next(struct node *n)
{
	struct benchreq		*b;
	struct raft_buffer	 buf;

	if (n->sent >= n->todo)
		return;
	if ((b = calloc(1, sizeof *b)) == NULL ||
	    (buf.base = raft_malloc(n->size)) == NULL)
		abort();
	memset(buf.base, 'x', n->size);
	buf.len = n->size;
	b->req.data = b;
	b->node = n;
	b->start = now_ns();
	n->sent++;
	if (raft_apply(&n->raft, &b->req, &buf, 1, bench_cb) != 0) {
		raft_free(buf.base);
		b->start = 0;
		bench_cb(&b->req, RAFT_NOTLEADER, NULL);
	}
}

/* "b COUNT SIZE WINDOW": apply COUNT entries, WINDOW in flight. */
static void
node_command(struct node *n, const char *line)
{
	unsigned long long	count, size, window, i;

	if (sscanf(line, "b %llu %llu %llu", &count, &size, &window) != 3 ||
	    count == 0 || window == 0)
		return;
	n->todo = count;
	n->size = size;
	n->sent = n->done = n->failed = 0;
	n->burnt = n->forkns = 0;
	n->forks = 0;
	n->t0 = now_ns();
	for (i = 0; i < window; i++)
		n->next(n);
}

static void
cmd_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct node	*n = h->data;

	(void)hint;
	buf->base = n->cmdbuf + n->cmdlen;
	buf->len = sizeof n->cmdbuf - 1 - n->cmdlen;
}

/* nread more bytes of commands are in cmdbuf: run every whole line. */
void
node_input(struct node *n, size_t nread)
{
	char	*nl;

	n->cmdlen += nread;
	n->cmdbuf[n->cmdlen] = '\0';
	while ((nl = strchr(n->cmdbuf, '\n')) != NULL) {
		*nl = '\0';
		node_command(n, n->cmdbuf);
		n->cmdlen -= (size_t)(nl + 1 - n->cmdbuf);
		memmove(n->cmdbuf, nl + 1, n->cmdlen + 1);
	}
	if (n->cmdlen == sizeof n->cmdbuf - 1)
		n->cmdlen = 0;
}

static void
cmd_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	if (nread < 0)
		exit(0);	/* the parent went away */
	node_input(s->data, (size_t)nread);
}

/* Report "L ID NS" when this node becomes leader, "T ID TERM" when its term
 * changes (-T: on the raft thread; stdio locks the stream). */
static void
tick_cb(uv_timer_t *t)
{
	struct node	*n = t->data;
	int		 leader = raft_state(&n->raft) == RAFT_LEADER;

	if (n->raft.current_term != n->term) {
		n->term = n->raft.current_term;
		fprintf(n->rep, "T %llu %llu\n", (unsigned long long)n->id,
		    (unsigned long long)n->term);
		fflush(n->rep);
	}

	if (leader && !n->leader) {
		fprintf(n->rep, "L %llu %" PRIu64 "\n",
		    (unsigned long long)n->id, now_ns());
		fflush(n->rep);
	}
	n->leader = leader;
}

/* -L: run uv's ready work, then wake again at uv's next timeout. */
static void
uv_drive(struct node *n)
{
	struct timeval	tv;
	int		ms;

	uv_run(&n->loop, UV_RUN_NOWAIT);
	if ((ms = uv_backend_timeout(&n->loop)) < 0) {
		evtimer_del(n->uvtimer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(n->uvtimer, &tv);
}

static void
uv_drive_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	uv_drive(arg);
}

/* -L: a libevent loop watching uv's backend (epoll) fd. */
static void
node_libevent(struct node *n)
{
	struct event_base	*base;
	struct event		*ev;

	if ((n->base = base = event_base_new()) == NULL ||
	    (ev = event_new(base, uv_backend_fd(&n->loop),
	    EV_READ | EV_PERSIST, uv_drive_cb, n)) == NULL ||
	    (n->uvtimer = evtimer_new(base, uv_drive_cb, n)) == NULL ||
	    event_add(ev, NULL) == -1)
		abort();
	node_extras(n);
	uv_drive(n);
	event_base_dispatch(base);
}

static void
node_run(raft_id id, const char *dir, int port0, const struct nodeopts *o,
    int cmdfd, int repfd)
{
	struct node			*n;
	struct raft_configuration	 conf;
	char				 addr[64];
	unsigned			 i;
	int				 rv;

	if ((n = calloc(1, sizeof *n)) == NULL ||
	    (n->lat = calloc(MAXLAT, sizeof *n->lat)) == NULL)
		abort();
	n->id = id;
	n->opts = o;
	n->next = bench_next;
	if ((n->rep = fdopen(repfd, "w")) == NULL)
		abort();
	uv_loop_init(&n->loop);
	n->fsm.version = 1;
	n->fsm.data = n;
	n->fsm.apply = fsm_apply;
	n->fsm.snapshot = fsm_snapshot;
	n->fsm.restore = fsm_restore;
	if (nd_setup(&n->nt, &n->loop, o->nodelay) != 0 ||
	    raft_uv_init(&n->io, &n->loop, dir, &n->nt.pub) != 0)
		abort();
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port0 + (int)id);
	if ((rv = raft_init(&n->raft, &n->io, &n->fsm, id, addr)) != 0) {
		fprintf(stderr, "raft_init: %s\n", raft_errmsg(&n->raft));
		exit(1);
	}
	raft_set_election_timeout(&n->raft, o->election_ms);
	raft_set_heartbeat_timeout(&n->raft,
	    o->election_ms / 10 ? o->election_ms / 10 : 1);
	raft_set_snapshot_threshold(&n->raft, 1u << 30);
	raft_configuration_init(&conf);
	for (i = 1; i <= NODES; i++) {
		snprintf(addr, sizeof addr, "127.0.0.1:%d", port0 + (int)i);
		raft_configuration_add(&conf, i, addr, RAFT_VOTER);
	}
	rv = raft_bootstrap(&n->raft, &conf);
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
		fprintf(stderr, "raft_bootstrap: %s\n", raft_strerror(rv));
		exit(1);
	}
	raft_configuration_close(&conf);
	if (raft_start(&n->raft) != 0) {
		fprintf(stderr, "raft_start: %s\n", raft_errmsg(&n->raft));
		exit(1);
	}
	uv_timer_init(&n->loop, &n->tick);
	n->tick.data = n;
	uv_timer_start(&n->tick, tick_cb, 1, 1);
	if (o->mode == MODE_THREAD)
		node_thread(n, cmdfd);	/* does not return */
	uv_pipe_init(&n->loop, &n->cmd, 0);
	uv_pipe_open(&n->cmd, cmdfd);
	n->cmd.data = n;
	uv_read_start((uv_stream_t *)&n->cmd, cmd_alloc_cb, cmd_read_cb);
	if (o->mode == MODE_LIBEVENT)
		node_libevent(n);
	else
		uv_run(&n->loop, UV_RUN_DEFAULT);
	exit(0);
}

/* The parent's view of one node process. */
struct child {
	pid_t	 pid;
	int	 cmd;	/* write end */
	FILE	*rep;	/* read end */
};

struct cluster {
	struct child	 c[NODES + 1];	/* indexed by raft id */
	char		 dir[256];
	int		 port0;
	struct nodeopts	 o;
	raft_id		 leader;	/* the last to report leadership */
	raft_term	 term;		/* the highest term reported */
	unsigned	 leaders;	/* leaderships reported */
};

static const char *const modename[] = { "uv", "libevent", "thread" };

static void
child_start(struct cluster *cl, raft_id id)
{
	char	dir[300];
	int	cp[2], rp[2];
	pid_t	pid;

	snprintf(dir, sizeof dir, "%s/%llu", cl->dir, (unsigned long long)id);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		abort();
	if (pipe(cp) == -1 || pipe(rp) == -1 || (pid = fork()) == -1)
		abort();
	if (pid == 0) {
		close(cp[1]);
		close(rp[0]);
		for (raft_id j = 1; j <= NODES; j++) {
			if (cl->c[j].pid == 0)
				continue;
			close(cl->c[j].cmd);
			fclose(cl->c[j].rep);
		}
		node_run(id, dir, cl->port0, &cl->o, cp[0], rp[1]);
	}
	close(cp[0]);
	close(rp[1]);
	cl->c[id].pid = pid;
	cl->c[id].cmd = cp[1];
	/* Unbuffered: cluster_read polls the fd, and a second line read
	 * ahead into a buffer (a node's "T" and "L" of one tick) would wait
	 * there unseen. */
	if ((cl->c[id].rep = fdopen(rp[0], "r")) == NULL ||
	    setvbuf(cl->c[id].rep, NULL, _IONBF, 0) != 0)
		abort();
}

static void
child_kill(struct cluster *cl, raft_id id)
{
	kill(cl->c[id].pid, SIGKILL);
	waitpid(cl->c[id].pid, NULL, 0);
	close(cl->c[id].cmd);
	fclose(cl->c[id].rep);
	cl->c[id].pid = 0;
}

/* Keep count of leaderships and terms, whoever reads the line. */
static void
cluster_note(struct cluster *cl, const char *line)
{
	unsigned long long	id, v;

	if (sscanf(line, "T %llu %llu", &id, &v) == 2 && v > cl->term)
		cl->term = v;
	if (sscanf(line, "L %llu %llu", &id, &v) == 2) {
		cl->leader = (raft_id)id;
		cl->leaders++;
	}
}

/* Read the next report line from any live node, within ms; returns its id
 * or 0 on timeout. */
static raft_id
cluster_read(struct cluster *cl, char *line, size_t len, int ms)
{
	struct pollfd	pfd[NODES];
	raft_id		ids[NODES], id;
	int		n = 0, i;

	for (id = 1; id <= NODES; id++) {
		if (cl->c[id].pid == 0)
			continue;
		pfd[n].fd = fileno(cl->c[id].rep);
		pfd[n].events = POLLIN;
		ids[n++] = id;
	}
	if (poll(pfd, (nfds_t)n, ms) <= 0)
		return (0);
	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (fgets(line, (int)len, cl->c[ids[i]].rep) == NULL) {
			int	st = 0;

			waitpid(cl->c[ids[i]].pid, &st, 0);
			fprintf(stderr, "raft-bench: node %llu died (%s %d)\n",
			    (unsigned long long)ids[i], WIFSIGNALED(st) ?
			    "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) :
			    WEXITSTATUS(st));
			exit(1);
		}
		cluster_note(cl, line);
		return (ids[i]);
	}
	return (0);
}

/* Wait for a node other than `not` to report leadership; its id. */
static raft_id
cluster_leader(struct cluster *cl, raft_id not, uint64_t *at)
{
	char			line[256];
	unsigned long long	id;
	uint64_t		ns;
	raft_id			from;

	for (;;) {
		if ((from = cluster_read(cl, line, sizeof line, 30000)) == 0) {
			fprintf(stderr, "raft-bench: no leader in 30 s\n");
			exit(1);
		}
		if (sscanf(line, "L %llu %" SCNu64, &id, &ns) == 2 &&
		    id != not) {
			*at = ns;
			return ((raft_id)id);
		}
	}
}

/* Run one bench on the leader; returns 0 if all entries committed. */
static int
cluster_bench(struct cluster *cl, raft_id leader, unsigned long count,
    unsigned size, unsigned window, const char *label)
{
	char			line[256];
	unsigned long long	done, failed, el, p50, p99, max, burnt, forkns;
	unsigned		forks, leaders = cl->leaders;
	raft_term		term = cl->term;

	dprintf(cl->c[leader].cmd, "b %lu %u %u\n", count, size, window);
	for (;;) {
		if (cluster_read(cl, line, sizeof line, 120000) == 0) {
			fprintf(stderr, "raft-bench: bench timed out\n");
			exit(1);
		}
		if (sscanf(line, "R %llu %llu %llu %llu %llu %llu %llu %u %llu",
		    &done, &failed, &el, &p50, &p99, &max, &burnt, &forks,
		    &forkns) == 9)
			break;
	}
	if (label != NULL)
		printf("loop=%s nodelay=%d burn=%u/%ums entry=%uB "
		    "window=%-3u commits=%llu failed=%llu commits/s=%.0f "
		    "p50=%.3fms p99=%.3fms max=%.1fms burnt=%.0f%% terms=+%llu "
		    "leaderships=+%u forks=%u fork=%.3fms\n",
		    modename[cl->o.mode], cl->o.nodelay, cl->o.burn_us,
		    cl->o.burn_ms, size, window, done - failed, failed,
		    (double)(done - failed) * 1e9 / (double)el, p50 / 1e6,
		    p99 / 1e6, max / 1e6, (double)burnt * 100 / (double)el,
		    (unsigned long long)(cl->term - term),
		    cl->leaders - leaders, forks,
		    forks ? (double)forkns / forks / 1e6 : 0.0);
	fflush(stdout);
	if (failed == 0)
		return (0);
	/* Deposed: the next bench goes to the next leader. */
	while (cl->leaders == leaders || cl->leader == leader)
		if (cluster_read(cl, line, sizeof line, 30000) == 0) {
			fprintf(stderr, "raft-bench: no new leader in 30 s\n");
			exit(1);
		}
	return (-1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: raft-bench [-n count] [-s size] "
	    "[-w window,...] [-d nodelay,...] [-e election-ms] [-k kills] "
	    "[-p port] [-D dir] [-L | -T] [-b us[/ms]] [-f ms]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct cluster	 cl;
	unsigned long	 count = 5000;
	unsigned	 size = 1024, election_ms = 1000, kills = 5, k;
	const char	*windows = "1,16", *nodelays = "0,1";
	const char	*base = "/var/tmp";
	char		 wl[64], *w, *sp, *d, *sp2, dl[16], cmd[600];
	raft_id		 leader, next;
	uint64_t	 at, t0;
	int		 ch, port = 0;
	enum mode	 mode = MODE_UV;
	unsigned	 burn_us = 0, burn_ms = 1, fork_ms = 0;
	char		*ep;

	while ((ch = getopt(argc, argv, "n:s:w:d:e:k:p:D:LTb:f:")) != -1) {
		switch (ch) {
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 's': size = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': windows = optarg; break;
		case 'd': nodelays = optarg; break;
		case 'e':
			election_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'k': kills = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': port = atoi(optarg); break;
		case 'D': base = optarg; break;
		case 'L': mode = MODE_LIBEVENT; break;
		case 'T': mode = MODE_THREAD; break;
		case 'b':
			burn_us = (unsigned)strtoul(optarg, &ep, 10);
			if (*ep == '/')
				burn_ms = (unsigned)strtoul(ep + 1, NULL, 10);
			break;
		case 'f': fork_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if ((burn_us != 0 || fork_ms != 0) && mode == MODE_UV)
		usage();	/* -b and -f work in the libevent loop */
	if (count == 0 || election_ms < 10 || burn_ms == 0 ||
	    strlen(windows) >= sizeof wl ||
	    strlen(nodelays) >= sizeof dl)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (port == 0)
		port = 20000 + (int)(getpid() % 20000);
	snprintf(dl, sizeof dl, "%s", nodelays);
	for (d = strtok_r(dl, ",", &sp2); d != NULL;
	    d = strtok_r(NULL, ",", &sp2)) {
		memset(&cl, 0, sizeof cl);
		cl.o.nodelay = atoi(d);
		cl.o.mode = mode;
		cl.o.election_ms = election_ms;
		cl.o.burn_us = burn_us;
		cl.o.burn_ms = burn_ms;
		cl.o.fork_ms = fork_ms;
		cl.port0 = port;
		port += NODES + 1;
		snprintf(cl.dir, sizeof cl.dir, "%s/raft-bench.XXXXXX", base);
		if (mkdtemp(cl.dir) == NULL)
			abort();
		for (raft_id id = 1; id <= NODES; id++)
			child_start(&cl, id);
		leader = cluster_leader(&cl, 0, &at);
		/* Warm up: every follower connected and caught up. */
		cluster_bench(&cl, leader, 200, size, 1, NULL);
		snprintf(wl, sizeof wl, "%s", windows);
		for (w = strtok_r(wl, ",", &sp); w != NULL;
		    w = strtok_r(NULL, ",", &sp)) {
			/* To the leader now: one may have been deposed. */
			cluster_bench(&cl, cl.leader, count, size,
			    (unsigned)atoi(w), "");
		}
		leader = cl.leader;
		for (k = 0; k < kills; k++) {
			t0 = now_ns();
			child_kill(&cl, leader);
			next = cluster_leader(&cl, leader, &at);
			/* Served again: the first commit under the new leader. */
			cluster_bench(&cl, next, 1, size, 1, NULL);
			printf("nodelay=%d election-timeout=%ums kill -9 of "
			    "leader %llu: new leader %llu after %.1f ms, "
			    "first commit after %.1f ms\n", cl.o.nodelay,
			    election_ms, (unsigned long long)leader,
			    (unsigned long long)next, (double)(at - t0) / 1e6,
			    (double)(now_ns() - t0) / 1e6);
			fflush(stdout);
			child_start(&cl, leader);
			/* The restarted node catches up before the next kill
			 * (it may stand and win: follow cl.leader). */
			cluster_bench(&cl, next, 200, size, 1, NULL);
			leader = cl.leader;
		}
		for (raft_id id = 1; id <= NODES; id++)
			child_kill(&cl, id);
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", cl.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "raft-bench: could not remove %s\n",
			    cl.dir);
	}
	return (0);
}
