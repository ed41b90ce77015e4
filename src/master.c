/* master.c: the supervisor: configuration, listening sockets, the worker
 * pool and its mesh, restarts with back-off, and shutdown.  It holds no
 * objects and serves no clients, so a crashing worker costs it nothing. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "balance.h"
#include "cluster.h"
#include "config.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "pidfile.h"
#include "priv.h"
#include "qmsg.h"
#include "sdnotify.h"
#include "store.h"
#include "topo.h"
#include "util.h"
#include "worker.h"

#define RESPAWN_MIN	0.1	/* first restart delay, seconds */
#define RESPAWN_MAX	30.0	/* longest restart delay */
#define RESPAWN_STABLE	10.0	/* a worker up this long resets the back-off */
#define STOP_KILL_AFTER	15.0	/* SIGKILL workers that outlive a stop */

/* One worker slot. */
struct slot {
	int		 id;
	pid_t		 pid;		/* 0 while not running */
	int		 ctlfd;		/* our end of its control socket */
	struct event	*ctl_ev;
	uint32_t	 gen;		/* incarnation, bumped per start */
	bool		 ready;		/* said READY since its last start */
	double		 started;	/* monotonic time of the last start */
	double		 backoff;	/* delay before the next restart */
	struct event	*respawn_ev;
	struct master	*m;
};

struct master {
	struct config	 conf;
	struct event_base *base;
	int		*lfds;		/* listening sockets */
	int		 nlfds;
	char		**unix_paths;	/* unix socket paths to unlink at exit */
	int		 nunix;
	struct slot	*slots;
	bool		 announced;	/* "ready" logged / notified */
	bool		 stopping;
	int		 exit_status;	/* master_main's, once stopped */
	uint64_t	 restarts;	/* worker restarts since start */
	struct metrics	*metrics;	/* the /metrics endpoint, or NULL */
	struct event	*sig_ev[4];
	struct event	*kill_ev;
	struct event	*watchdog_ev;	/* systemd watchdog pings, if asked */
	bool		 activated;	/* the sockets came from systemd */
	int		 pidfd;		/* --pid-file, locked; -1 if none */
};

static void master_ctl_cb(evutil_socket_t, short, void *);

/* Open the listening sockets, or take systemd's (socket activation:
 * LISTEN_FDS replaces --listen). */
static int
master_listen(struct master *m)
{
	int	i, n;

	if ((n = sdnotify_listen_fds()) == -1)
		return -1;
	if (n > 0) {
		m->lfds = xcalloc((size_t)n, sizeof(int));
		for (i = 0; i < n; i++) {
			m->lfds[i] = SDNOTIFY_FDS_START + i;
			if (fd_nonblock_cloexec(m->lfds[i]) == -1)
				fatal("socket from systemd");
		}
		m->nlfds = n;
		m->activated = true;
		log_info("using %d socket%s from systemd instead of --listen",
		    n, n == 1 ? "" : "s");
		return 0;
	}
	m->lfds = xcalloc((size_t)m->conf.nlisten, sizeof(int));
	for (i = 0; i < m->conf.nlisten; i++) {
		if ((m->lfds[i] = listen_open(&m->conf, "listen",
		    m->conf.listen[i])) == -1)
			return -1;
		if (strncmp(m->conf.listen[i], "unix:", 5) == 0) {
			m->unix_paths = xrealloc(m->unix_paths,
			    (size_t)(m->nunix + 1) * sizeof(char *));
			m->unix_paths[m->nunix++] = xstrdup(m->conf.listen[i] + 5);
		}
		/* Every worker accepts on it until EAGAIN. */
		if (fd_nonblock_cloexec(m->lfds[i]) == -1)
			fatal("listening socket");
		m->nlfds++;
	}
	return 0;
}

/* Tell systemd (when it asked: $NOTIFY_SOCKET) of a state change; a
 * failure is logged, never fatal. */
static void
master_notify(struct master *m, const char *state)
{
	if (sdnotify_send(state) == -1)
		log_warn("NOTIFY_SOCKET: cannot send %.*s", (int)strcspn(state,
		    "\n"), state);
}

/* systemd's watchdog: ping while every worker is up and serving; a pool
 * that keeps crashing stops the pings and systemd restarts the service. */
static void
master_watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct master	*m = arg;
	int		 i;

	if (m->stopping)
		return;
	for (i = 0; i < m->conf.workers; i++)
		if (!m->slots[i].ready)
			return;
	master_notify(m, "WATCHDOG=1");
}

/* Fork worker slot s with meshfds[j] as its end of a socketpair to j;
 * the child closes every fd of other (n entries, -1 for none) that is not
 * one of its own. */
static void
master_fork(struct master *m, struct slot *s, int *meshfds, const int *other,
    int n)
{
	int	ctl[2], i, j;
	pid_t	pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) == -1)
		fatal("socketpair");
	s->gen++;
	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		/* Child: drop the master's loop and fds, keep our ends. */
		close(ctl[0]);
		for (i = 0; i < n; i++) {
			bool mine = false;

			for (j = 0; j < m->conf.workers; j++)
				if (other[i] == meshfds[j])
					mine = true;
			if (other[i] != -1 && !mine)
				close(other[i]);
		}
		event_reinit(m->base);
		for (i = 0; i < m->conf.workers; i++) {
			if (m->slots[i].ctlfd != -1)
				close(m->slots[i].ctlfd);
			if (m->slots[i].ctl_ev != NULL)
				event_free(m->slots[i].ctl_ev);
			event_free(m->slots[i].respawn_ev);
		}
		for (i = 0; i < 4; i++)
			event_free(m->sig_ev[i]);
		if (m->metrics != NULL)
			metrics_forget(m->metrics);
		event_base_free(m->base);
		worker_main(&m->conf, s->id, s->gen, ctl[1], meshfds, m->lfds,
		    m->nlfds);
	}
	close(ctl[1]);
	for (j = 0; j < m->conf.workers; j++) {
		if (meshfds[j] != -1)
			close(meshfds[j]);
		meshfds[j] = -1;
	}
	if (fd_nonblock_cloexec(ctl[0]) == -1)
		fatal("control socket");
	s->pid = pid;
	s->ctlfd = ctl[0];
	s->ready = false;
	s->started = now_mono();
	s->ctl_ev = event_new(m->base, s->ctlfd, EV_READ | EV_PERSIST,
	    master_ctl_cb, s);
	event_add(s->ctl_ev, NULL);
}

/* Send a control message, with an fd when passfd != -1. */
static void
master_send(struct slot *s, uint32_t type, uint64_t tag, int passfd)
{
	struct qmsg_hdr	 hdr = { type, 0, tag, 0 };

	if (fd_send(s->ctlfd, &hdr, sizeof(hdr), passfd) == -1)
		log_warn("control message to worker %d", s->id);
}

/* Restart slot s, meshing it with every running worker: each gets its
 * end of a new socketpair over the control socket. */
static void
master_start(struct master *m, struct slot *s)
{
	int	*meshfds = xcalloc((size_t)m->conf.workers, sizeof(int));
	int	 sp[2], j;

	for (j = 0; j < m->conf.workers; j++) {
		meshfds[j] = -1;
		if (j == s->id || m->slots[j].pid == 0)
			continue;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
			fatal("socketpair");
		master_send(&m->slots[j], QMSG_PEER_UP, (uint64_t)s->id, sp[0]);
		close(sp[0]);
		meshfds[j] = sp[1];
	}
	master_fork(m, s, meshfds, NULL, 0);
	free(meshfds);
}

/* Start every worker at once, meshed by inheritance: row i of the matrix
 * holds worker i's ends. */
static void
master_start_all(struct master *m)
{
	int	n = m->conf.workers, i, j, sp[2];
	int	*mesh = xmalloc((size_t)(n * n) * sizeof(int));

	for (i = 0; i < n * n; i++)
		mesh[i] = -1;
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			    sp) == -1)
				fatal("socketpair");
			mesh[i * n + j] = sp[0];
			mesh[j * n + i] = sp[1];
		}
	}
	for (i = 0; i < n; i++)
		master_fork(m, &m->slots[i], &mesh[i * n], mesh, n * n);
	free(mesh);
}

/* metrics_ask_fn: ask every serving worker for its counters. */
static int
master_stats_ask(void *arg, uint64_t tag, uint8_t *asked)
{
	struct master	*m = arg;
	int		 i, n = 0;

	for (i = 0; i < m->conf.workers; i++) {
		if (m->slots[i].pid == 0 || !m->slots[i].ready)
			continue;
		master_send(&m->slots[i], QMSG_STATS_REQ, tag, -1);
		asked[i] = 1;
		n++;
	}
	return n;
}

static void
master_ctl_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct slot	*s = arg;
	struct master	*m = s->m;
	struct qmsg_hdr	 hdr;
	ssize_t		 n;
	int		 i;
	char		 addr[128], state[64];

	/* A metrics reply carries a payload: metrics_reply reads it whole. */
	if (recv(fd, &hdr, sizeof(hdr), MSG_PEEK) == sizeof(hdr) &&
	    hdr.type == QMSG_STATS_REPLY) {
		metrics_reply(m->metrics, s->id, fd);
		return;
	}
	n = recv(fd, &hdr, sizeof(hdr), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		event_del(s->ctl_ev);	/* it died; SIGCHLD does the rest */
		return;
	}
	if ((size_t)n != sizeof(hdr) || hdr.type != QMSG_READY) {
		log_warnx("worker %d sent a bad control message", s->id);
		return;
	}
	s->ready = true;
	if (m->announced)
		return;
	for (i = 0; i < m->conf.workers; i++)
		if (!m->slots[i].ready)
			return;
	m->announced = true;
	/* The sockets' own addresses: systemd's may differ from --listen. */
	for (i = 0; i < m->nlfds; i++) {
		listen_describe(m->lfds[i], addr, sizeof(addr));
		log_info("listening on %s%s", addr, m->activated ?
		    " (socket from systemd)" : "");
	}
	if (m->conf.metrics_listen != NULL)
		log_info("metrics on http://%s/metrics", m->conf.metrics_listen);
	log_info("ready: %d worker%s", m->conf.workers,
	    m->conf.workers == 1 ? "" : "s");
	snprintf(state, sizeof(state), "READY=1\nSTATUS=serving with %d "
	    "worker%s", m->conf.workers, m->conf.workers == 1 ? "" : "s");
	master_notify(m, state);
}

static void
master_respawn_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct slot	*s = arg;

	if (s->m->stopping || s->pid != 0)
		return;
	log_info("restarting worker %d", s->id);
	s->m->restarts++;
	master_start(s->m, s);
}

static void master_stop(struct master *);

/* Reap children; schedule restarts unless stopping. */
static void
master_sigchld(struct master *m)
{
	struct slot	*s;
	pid_t		 pid;
	int		 status, i, alive = 0;
	double		 ran;
	struct timeval	 tv;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (s = NULL, i = 0; i < m->conf.workers; i++)
			if (m->slots[i].pid == pid)
				s = &m->slots[i];
		if (s == NULL)
			continue;
		s->pid = 0;
		s->ready = false;
		close(s->ctlfd);
		s->ctlfd = -1;
		if (s->ctl_ev != NULL)
			event_free(s->ctl_ev);
		s->ctl_ev = NULL;
		metrics_worker_gone(m->metrics, s->id);
		balance_worker_gone(s->id);
		if (m->stopping) {
			if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
				log_warnx("worker %d ended badly at stop", s->id);
			continue;
		}
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == STORE_EXIT_BADLOG) {
			/* Restarting it would only meet the same log. */
			log_warnx("worker %d cannot replay its log or join its "
			    "cluster (see above); stopping the daemon", s->id);
			m->exit_status = 1;
			master_stop(m);
			continue;
		}
		if (WIFSIGNALED(status))
			log_warnx("worker %d (pid %d) killed by signal %d",
			    s->id, (int)pid, WTERMSIG(status));
		else
			log_warnx("worker %d (pid %d) exited with status %d",
			    s->id, (int)pid, WEXITSTATUS(status));
		for (i = 0; i < m->conf.workers; i++)
			if (m->slots[i].pid != 0)
				master_send(&m->slots[i], QMSG_PEER_DOWN,
				    (uint64_t)s->id, -1);
		ran = now_mono() - s->started;
		s->backoff = ran >= RESPAWN_STABLE || s->backoff == 0 ?
		    RESPAWN_MIN : s->backoff * 2;
		if (s->backoff > RESPAWN_MAX)
			s->backoff = RESPAWN_MAX;
		log_info("worker %d restarts in %.1f s", s->id, s->backoff);
		(void)secs_timeval(s->backoff, &tv);
		evtimer_add(s->respawn_ev, &tv);
	}
	if (!m->stopping)
		return;
	for (i = 0; i < m->conf.workers; i++)
		if (m->slots[i].pid != 0)
			alive++;
	if (alive == 0)
		event_base_loopexit(m->base, NULL);
}

static void
master_kill_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct master	*m = arg;
	int		 i;

	for (i = 0; i < m->conf.workers; i++) {
		if (m->slots[i].pid != 0) {
			log_warnx("worker %d did not stop; killing it", i);
			kill(m->slots[i].pid, SIGKILL);
		}
	}
}

/* SIGTERM / SIGINT: stop accepting, let workers drain, exit. */
static void
master_stop(struct master *m)
{
	struct timeval	tv = { (time_t)STOP_KILL_AFTER, 0 };
	int		i, alive = 0;

	if (m->stopping)
		return;
	m->stopping = true;
	master_notify(m, "STOPPING=1\nSTATUS=stopping");
	log_info("stopping");
	for (i = 0; i < m->nlfds; i++)
		close(m->lfds[i]);
	m->nlfds = 0;
	for (i = 0; i < m->conf.workers; i++) {
		evtimer_del(m->slots[i].respawn_ev);
		if (m->slots[i].pid != 0) {
			kill(m->slots[i].pid, SIGTERM);
			alive++;
		}
	}
	if (alive == 0) {
		event_base_loopexit(m->base, NULL);
		return;
	}
	m->kill_ev = evtimer_new(m->base, master_kill_cb, m);
	evtimer_add(m->kill_ev, &tv);
}

static void
master_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct master	*m = arg;
	int		 i;
	char		 state[64];

	switch (sig) {
	case SIGCHLD:
		master_sigchld(m);
		break;
	case SIGTERM:
	case SIGINT:
		master_stop(m);
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading %s", m->conf.config_file != NULL ?
		    m->conf.config_file : "the command line");
		snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
		    (unsigned long long)(now_mono() * 1e6));
		master_notify(m, state);
		if (config_reload(&m->conf, false) == 0) {
			/* Each worker reloads its own copy the same way. */
			for (i = 0; i < m->conf.workers; i++)
				if (m->slots[i].pid != 0)
					kill(m->slots[i].pid, SIGHUP);
		}
		master_notify(m, "READY=1");
		break;
	}
}

/* Everything before the daemon runs: the settings, the key, the data
 * directory and the listeners.  -1 to go on, else the exit status. */
static int
master_prepare(struct master *m, int argc, char *argv[], int *metrics_fd)
{
	int	rc;

	config_defaults(&m->conf);
	if ((rc = config_parse(&m->conf, argc, argv)) != 0)
		return rc == 1 ? 0 : 2;
	if (priv_resolve(&m->conf) == -1)
		return 2;
	if (cluster_check(&m->conf) == -1)
		return 2;
	if (m->conf.check_only && m->conf.authkey_file != NULL &&
	    access(m->conf.authkey_file, F_OK) == -1 && errno == ENOENT)
		printf("qlockd: %s does not exist yet; it will be created with "
		    "a random key at start\n", m->conf.authkey_file);
	else if (config_load_authkey(&m->conf) == -1)
		return 2;
	if (m->conf.metrics_listen != NULL &&
	    strncmp(m->conf.metrics_listen, "unix:", 5) == 0) {
		fprintf(stderr, "qlockd: --metrics-listen %s: expected HOST:PORT "
		    "or [V6]:PORT\n", m->conf.metrics_listen);
		return 2;
	}
	if (m->conf.check_only) {
		if (listen_check_config(&m->conf) == -1 ||
		    topo_check(&m->conf) == -1 ||
		    topo_check_in_use(&m->conf) == -1)
			return 2;
		printf("qlockd: configuration OK\n");
		return 0;
	}
	log_init(m->conf.foreground, m->conf.log_level);
	log_set_role("master");
	if (master_listen(m) == -1 ||
	    topo_open(&m->conf, m->lfds, m->nlfds) == -1)
		return 1;
	if (m->conf.metrics_listen != NULL &&
	    ((*metrics_fd = listen_open(&m->conf, "metrics-listen",
	    m->conf.metrics_listen)) == -1 ||
	    fd_nonblock_cloexec(*metrics_fd) == -1))
		return 1;
	/* Bound: a second daemon of this pid file stops here. */
	if (m->conf.pid_file != NULL &&
	    (m->pidfd = pidfile_open(m->conf.pid_file)) == -1)
		return 1;
	/* Bound and keyed: root is given up before any file is written. */
	if (priv_drop(&m->conf) == -1)
		return 1;
	if (m->conf.data_dir != NULL &&
	    store_prepare(&m->conf, m->conf.repair_log) == -1)
		return 2;
	if (cluster_prepare(&m->conf) == -1)
		return 2;
	return -1;
}

/* Free what master_prepare set up, when the daemon does not run. */
static void
master_unprepare(struct master *m)
{
	int	i;

	for (i = 0; i < m->nlfds; i++)
		close(m->lfds[i]);
	for (i = 0; i < m->nunix; i++) {
		unlink(m->unix_paths[i]);
		free(m->unix_paths[i]);
	}
	pidfile_remove(m->pidfd, m->conf.pid_file);
	free(m->unix_paths);
	free(m->lfds);
	topo_free(m->conf.topo);
	config_free(&m->conf);
	free(m);
}

int
master_main(int argc, char *argv[])
{
	struct master	*m = xcalloc(1, sizeof(*m));
	static const int sigs[4] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
	int		 i, rc, metrics_fd = -1;
	uint64_t	 usec;
	struct timeval	 tv;

	m->pidfd = -1;
	if ((rc = master_prepare(m, argc, argv, &metrics_fd)) != -1) {
		master_unprepare(m);
		return rc;
	}
	if (!m->conf.foreground) {
		/* The last word on the terminal: where to look from now on. */
		fprintf(stderr, "qlockd: going to the background; logs go to "
		    "%s\n", log_destination());
		if (daemon(0, 0) == -1)
			fatal("daemon");
	}
	if (m->pidfd != -1)
		(void)pidfile_write(m->pidfd, m->conf.pid_file);
	signal(SIGPIPE, SIG_IGN);

	if ((m->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (i = 0; i < 4; i++) {
		m->sig_ev[i] = evsignal_new(m->base, sigs[i], master_signal_cb, m);
		event_add(m->sig_ev[i], NULL);
	}
	m->slots = xcalloc((size_t)m->conf.workers, sizeof(*m->slots));
	for (i = 0; i < m->conf.workers; i++) {
		m->slots[i].id = i;
		m->slots[i].ctlfd = -1;
		m->slots[i].m = m;
		m->slots[i].respawn_ev = evtimer_new(m->base, master_respawn_cb,
		    &m->slots[i]);
	}
	if (metrics_fd != -1)
		m->metrics = metrics_new(m->base, metrics_fd, m->conf.workers,
		    &m->restarts, master_stats_ask, m);
	if (balance_init(m->conf.workers) == -1)
		fatal("shared memory for the workers' connection counts");
	master_start_all(m);
	if (sdnotify_watchdog(&usec) == 1) {
		usec /= 2;
		tv.tv_sec = (time_t)(usec / 1000000);
		tv.tv_usec = (suseconds_t)(usec % 1000000);
		m->watchdog_ev = event_new(m->base, -1, EV_PERSIST,
		    master_watchdog_cb, m);
		event_add(m->watchdog_ev, &tv);
	}
	event_base_dispatch(m->base);

	for (i = 0; i < m->nunix; i++) {
		unlink(m->unix_paths[i]);
		free(m->unix_paths[i]);
	}
	free(m->unix_paths);
	metrics_free(m->metrics);
	for (i = 0; i < m->conf.workers; i++)
		event_free(m->slots[i].respawn_ev);
	for (i = 0; i < 4; i++)
		event_free(m->sig_ev[i]);
	if (m->kill_ev != NULL)
		event_free(m->kill_ev);
	if (m->watchdog_ev != NULL)
		event_free(m->watchdog_ev);
	event_base_free(m->base);
	log_info("stopped");
	pidfile_remove(m->pidfd, m->conf.pid_file);
	rc = m->exit_status;
	topo_free(m->conf.topo);
	config_free(&m->conf);
	free(m->slots);
	free(m->lfds);
	free(m);
	return rc;
}
