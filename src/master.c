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
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "config.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "priv.h"
#include "qmsg.h"
#include "store.h"
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
};

/* Open one listening socket for addr; -1 with a message. */
static int
listen_one(struct master *m, const char *addr)
{
	struct addrinfo	 hints, *res, *ai;
	char		 host[256], *port;
	const char	*h;
	int		 fd = -1, one = 1, err;

	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un	sun;
		struct stat		st;
		const char		*path = addr + 5;
		mode_t			mask;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (*path == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
			fprintf(stderr, "qlockd: %s: bad unix socket path\n", addr);
			return -1;
		}
		strcpy(sun.sun_path, path);
		/* A stale socket from an earlier run is replaced, nothing else. */
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
		/* Born owner-only, then given --socket-mode: never wider. */
		mask = umask(0177);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    listen(fd, 1024) == -1) {
			fprintf(stderr, "qlockd: %s: %s\n", addr, strerror(errno));
			umask(mask);
			if (fd != -1)
				close(fd);
			return -1;
		}
		umask(mask);
		if (priv_socket(&m->conf, path) == -1) {
			close(fd);
			unlink(path);
			return -1;
		}
		m->unix_paths = xrealloc(m->unix_paths,
		    (size_t)(m->nunix + 1) * sizeof(char *));
		m->unix_paths[m->nunix++] = xstrdup(path);
		return fd;
	}
	if (addr[0] == '[') {
		const char *close_br = strchr(addr, ']');

		if (close_br == NULL || close_br[1] != ':' ||
		    (size_t)(close_br - addr - 1) >= sizeof(host)) {
			fprintf(stderr, "qlockd: %s: expected [V6]:PORT\n", addr);
			return -1;
		}
		memcpy(host, addr + 1, (size_t)(close_br - addr - 1));
		host[close_br - addr - 1] = '\0';
		port = (char *)close_br + 2;
	} else {
		const char *colon = strrchr(addr, ':');

		if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
			fprintf(stderr, "qlockd: %s: expected HOST:PORT, [V6]:PORT "
			    "or unix:/PATH\n", addr);
			return -1;
		}
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		port = (char *)colon + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	h = host[0] == '\0' || strcmp(host, "*") == 0 ? NULL : host;
	if ((err = getaddrinfo(h, port, &hints, &res)) != 0) {
		fprintf(stderr, "qlockd: %s: %s\n", addr, gai_strerror(err));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
		errno = err;
	}
	if (fd == -1)
		fprintf(stderr, "qlockd: cannot listen on %s: %s\n", addr,
		    strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static void master_ctl_cb(evutil_socket_t, short, void *);

/* Check that an address parses (for --check-config). */
static int
listen_check(const char *addr)
{
	struct addrinfo	 hints, *res;
	char		 host[256];
	const char	*colon, *port;
	int		 err;

	if (strncmp(addr, "unix:", 5) == 0) {
		if (addr[5] != '/' || strlen(addr + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			fprintf(stderr, "qlockd: %s: need unix:/ABSOLUTE/PATH\n", addr);
			return -1;
		}
		return 0;
	}
	if (addr[0] == '[') {
		const char *cb = strchr(addr, ']');

		if (cb == NULL || cb[1] != ':' || (size_t)(cb - addr - 1) >= sizeof(host)) {
			fprintf(stderr, "qlockd: %s: expected [V6]:PORT\n", addr);
			return -1;
		}
		memcpy(host, addr + 1, (size_t)(cb - addr - 1));
		host[cb - addr - 1] = '\0';
		port = cb + 2;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    (size_t)(colon - addr) >= sizeof(host)) {
			fprintf(stderr, "qlockd: %s: expected HOST:PORT, [V6]:PORT "
			    "or unix:/PATH\n", addr);
			return -1;
		}
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		port = colon + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((err = getaddrinfo(host[0] == '\0' ? NULL : host, port, &hints,
	    &res)) != 0) {
		fprintf(stderr, "qlockd: %s: %s\n", addr, gai_strerror(err));
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

/* Open the listening sockets, or take systemd's (socket activation:
 * LISTEN_FDS replaces --listen). */
static int
master_listen(struct master *m)
{
	int	i, n = 0;

#ifdef HAVE_SYSTEMD
	if ((n = sd_listen_fds(1)) < 0) {
		fprintf(stderr, "qlockd: LISTEN_FDS: %s\n", strerror(-n));
		return -1;
	}
#endif
	if (n > 0) {
		m->lfds = xcalloc((size_t)n, sizeof(int));
		for (i = 0; i < n; i++) {
			m->lfds[i] = 3 + i;	/* SD_LISTEN_FDS_START */
			if (fd_nonblock_cloexec(m->lfds[i]) == -1)
				fatal("socket from systemd");
		}
		m->nlfds = n;
		log_info("using %d socket%s from systemd instead of --listen",
		    n, n == 1 ? "" : "s");
		return 0;
	}
	m->lfds = xcalloc((size_t)m->conf.nlisten, sizeof(int));
	for (i = 0; i < m->conf.nlisten; i++) {
		if ((m->lfds[i] = listen_one(m, m->conf.listen[i])) == -1)
			return -1;
		/* Every worker accepts on it until EAGAIN. */
		if (fd_nonblock_cloexec(m->lfds[i]) == -1)
			fatal("listening socket");
		m->nlfds++;
	}
	return 0;
}

/* systemd's watchdog: ping while every worker is up and serving; a pool
 * that keeps crashing stops the pings and systemd restarts the service. */
static void
master_watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
#ifdef HAVE_SYSTEMD
	struct master	*m = arg;
	int		 i;

	if (m->stopping)
		return;
	for (i = 0; i < m->conf.workers; i++)
		if (!m->slots[i].ready)
			return;
	sd_notify(0, "WATCHDOG=1");
#endif
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
	for (i = 0; i < m->conf.nlisten; i++)
		log_info("listening on %s", m->conf.listen[i]);
	if (m->conf.metrics_listen != NULL)
		log_info("metrics on http://%s/metrics", m->conf.metrics_listen);
	log_info("ready: %d worker%s", m->conf.workers,
	    m->conf.workers == 1 ? "" : "s");
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
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
		if (m->stopping) {
			if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
				log_warnx("worker %d ended badly at stop", s->id);
			continue;
		}
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == STORE_EXIT_BADLOG) {
			/* Restarting it would only meet the same log. */
			log_warnx("worker %d cannot replay its log (see above); "
			    "stopping the daemon", s->id);
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
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
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
		if (config_reload(&m->conf, false) == 0) {
			/* Each worker reloads its own copy the same way. */
			for (i = 0; i < m->conf.workers; i++)
				if (m->slots[i].pid != 0)
					kill(m->slots[i].pid, SIGHUP);
		}
		break;
	}
}

/* Everything before the daemon runs: the settings, the key, the data
 * directory and the listeners.  -1 to go on, else the exit status. */
static int
master_prepare(struct master *m, int argc, char *argv[], int *metrics_fd)
{
	int	i, rc;

	config_defaults(&m->conf);
	if ((rc = config_parse(&m->conf, argc, argv)) != 0)
		return rc == 1 ? 0 : 2;
	if (priv_resolve(&m->conf) == -1)
		return 2;
	if (m->conf.check_only && m->conf.authkey_file != NULL &&
	    access(m->conf.authkey_file, F_OK) == -1 && errno == ENOENT)
		printf("qlockd: %s does not exist yet; it will be created with "
		    "a random key at start\n", m->conf.authkey_file);
	else if (config_load_authkey(&m->conf) == -1)
		return 2;
	if (m->conf.metrics_listen != NULL &&
	    (strncmp(m->conf.metrics_listen, "unix:", 5) == 0 ||
	    listen_check(m->conf.metrics_listen) == -1)) {
		fprintf(stderr, "qlockd: --metrics-listen %s: expected HOST:PORT "
		    "or [V6]:PORT\n", m->conf.metrics_listen);
		return 2;
	}
	if (m->conf.check_only) {
		for (i = 0; i < m->conf.nlisten; i++)
			if (listen_check(m->conf.listen[i]) == -1)
				return 2;
		printf("qlockd: configuration OK\n");
		return 0;
	}
	log_init(m->conf.foreground, m->conf.log_level);
	log_set_role("master");
	if (master_listen(m) == -1)
		return 1;
	if (m->conf.metrics_listen != NULL &&
	    ((*metrics_fd = listen_one(m, m->conf.metrics_listen)) == -1 ||
	    fd_nonblock_cloexec(*metrics_fd) == -1))
		return 1;
	/* Bound and keyed: root is given up before any file is written. */
	if (priv_drop(&m->conf) == -1)
		return 1;
	if (m->conf.data_dir != NULL &&
	    store_prepare(&m->conf, m->conf.repair_log) == -1)
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
	free(m->unix_paths);
	free(m->lfds);
	config_free(&m->conf);
	free(m);
}

int
master_main(int argc, char *argv[])
{
	struct master	*m = xcalloc(1, sizeof(*m));
	static const int sigs[4] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
	int		 i, rc, metrics_fd = -1;

	if ((rc = master_prepare(m, argc, argv, &metrics_fd)) != -1) {
		master_unprepare(m);
		return rc;
	}
	if (!m->conf.foreground && daemon(0, 0) == -1)
		fatal("daemon");
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
	master_start_all(m);
#ifdef HAVE_SYSTEMD
	{
		uint64_t	usec;
		struct timeval	tv;

		if (sd_watchdog_enabled(0, &usec) > 0) {
			usec /= 2;
			tv.tv_sec = (time_t)(usec / 1000000);
			tv.tv_usec = (suseconds_t)(usec % 1000000);
			m->watchdog_ev = event_new(m->base, -1, EV_PERSIST,
			    master_watchdog_cb, m);
			event_add(m->watchdog_ev, &tv);
		}
	}
#endif
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
	rc = m->exit_status;
	config_free(&m->conf);
	free(m->slots);
	free(m->lfds);
	free(m);
	return rc;
}
