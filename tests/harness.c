/* harness.c: start, watch and stop the real qlockd for integration tests;
 * harness_raw.c has the raw client for protocol tests. */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "auth.h"
#include "frame.h"
#include "harness.h"

#define START_TRIES	5	/* new ports to try if the daemon cannot bind */
#define MAX_DAEMONS	8	/* started by one test process */
#define LOG_TAIL	4000	/* bytes of log shown when something fails */

/* Daemons this process started and has not stopped, for the exit hook. */
static struct qd *running[MAX_DAEMONS];
static pid_t	  running_owner;	/* the process that may stop them */
static bool	  hook_installed;

double
qd_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
qd_nap(void)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

const char *
qd_daemon_path(void)
{
	const char	*p = getenv("QLOCKD");

	return p != NULL && *p != '\0' ? p : "./qlockd";
}

const char *
qd_cli_path(void)
{
	const char	*p = getenv("QLOCK_CLI");

	return p != NULL && *p != '\0' ? p : "./qlock";
}

/* Read a whole file (malloc'd, NUL-terminated); "" if unreadable. */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f = fopen(path, "r");
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if (f != NULL) {
		for (;;) {
			if (cap - len < 4096) {
				cap = cap * 2 + 8192;
				if ((buf = realloc(buf, cap)) == NULL)
					abort();
			}
			if ((n = fread(buf + len, 1, cap - len - 1, f)) == 0)
				break;
			len += n;
		}
		fclose(f);
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		abort();
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

char *
qd_log(const struct qd *d)
{
	return slurp(d->logfile, NULL);
}

/* The end of the log, for failure messages (static buffer). */
static const char *
log_tail(const struct qd *d)
{
	static char	 tail[LOG_TAIL + 1];
	size_t		 len;
	char		*all = slurp(d->logfile, &len);
	const char	*p = len > LOG_TAIL ? all + len - LOG_TAIL : all;

	snprintf(tail, sizeof(tail), "%s", p);
	free(all);
	return tail;
}

bool
qd_log_wait(const struct qd *d, const char *needle, double secs)
{
	double	 end = qd_now() + secs;
	char	*log;
	bool	 found;

	for (;;) {
		log = qd_log(d);
		found = strstr(log, needle) != NULL;
		free(log);
		if (found || qd_now() >= end)
			return found;
		qd_nap();
	}
}

/* A TCP port nobody listens on right now (bind 0, read it, close). */
static int
free_port(int family)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, port;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	port = family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return port;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

/* Kill what this test process left running, so a failed assertion does
 * not leave a daemon behind; show its log for the failure. */
static void
exit_hook(void)
{
	int	i;

	if (getpid() != running_owner)
		return;
	for (i = 0; i < MAX_DAEMONS; i++) {
		struct qd *d = running[i];

		if (d == NULL || d->pid == 0)
			continue;
		fprintf(stderr, "harness: qlockd pid %d still running at exit "
		    "(test failed?); killing it. Temp dir kept: %s\n"
		    "--- daemon log (tail) ---\n%s--- end of log ---\n",
		    (int)d->pid, d->dir, log_tail(d));
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
}

static void
track(struct qd *d, bool on)
{
	int	i;

	if (!hook_installed || running_owner != getpid()) {
		memset(running, 0, sizeof(running));
		running_owner = getpid();
		if (!hook_installed)
			atexit(exit_hook);
		hook_installed = true;
	}
	for (i = 0; i < MAX_DAEMONS; i++) {
		if (on && running[i] == NULL) {
			running[i] = d;
			return;
		}
		if (!on && running[i] == d) {
			running[i] = NULL;
			return;
		}
	}
	ck_assert_msg(!on, "harness: more than %d daemons at once", MAX_DAEMONS);
}

/* Set the child up to die with its parent; false if the parent is gone. */
static bool
die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return getppid() == parent;
}

pid_t
qd_fork(void)
{
	pid_t	parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (!die_with_parent(parent))
			_exit(99);
		running_owner = 0;	/* the exit hook is the test's, not ours */
	}
	return pid;
}

int
qd_wait_child(pid_t pid, double secs)
{
	double	end = qd_now() + secs;
	int	status;
	pid_t	r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1;
		if (qd_now() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		qd_nap();
	}
}

long
qd_rss_kb(pid_t pid)
{
	char	 path[64], *s, *p;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = slurp(path, NULL);
	if ((p = strstr(s, "VmRSS:")) != NULL)
		kb = strtol(p + 6, NULL, 10);
	free(s);
	return kb;
}

/* Fork and exec qlockd with argv, output to logfile; the pid.  As root,
 * --user root is added unless argv has a --user: the daemon refuses root
 * without one, and the tests keep root.  --worker-ports 0 is added unless
 * argv has one: the default (the listener's port + 1 + worker) may be
 * taken on a machine running tests in parallel. */
static pid_t
spawn(const char *const *argv, const char *logfile)
{
	pid_t		 parent = getpid(), pid;
	const char	*full[64];
	int		 fd, n = 0;
	bool		 user = false, wports = false;

	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid != 0)
		return pid;
	/* A test killed by Check's timeout takes its daemon with it. */
	if (!die_with_parent(parent))
		_exit(127);
	if ((fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1)
		_exit(127);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1)
		dup2(fd, STDIN_FILENO);
	/* Not a systemd service, even if the tests run under one. */
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	for (; argv[n] != NULL && n < 59; n++) {
		full[n] = argv[n];
		user = user || strncmp(argv[n], "--user", 6) == 0;
		wports = wports || strncmp(argv[n], "--worker-ports", 14) == 0;
	}
	if (geteuid() == 0 && !user) {
		full[n++] = "--user";
		full[n++] = "root";
	}
	if (!wports) {
		full[n++] = "--worker-ports";
		full[n++] = "0";
	}
	full[n] = NULL;
	execv(full[0], (char *const *)full);
	fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Write a fresh random key, mode 0600. */
static void
write_key(struct qd *d)
{
	unsigned char	raw[32];
	int		fd, i;
	ssize_t		n;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd != -1 && read(fd, raw, sizeof(raw)) == sizeof(raw),
	    "cannot read /dev/urandom");
	close(fd);
	for (i = 0; i < 32; i++)
		snprintf(d->key + 2 * i, 3, "%02x", raw[i]);
	fd = open(d->keyfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_msg(fd != -1, "%s: %s", d->keyfile, strerror(errno));
	ck_assert_int_eq(fchmod(fd, 0600), 0);
	n = write(fd, d->key, 64);
	ck_assert_int_eq(n, 64);
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
}

/* The key of a file the daemon created; false if not there yet. */
static bool
read_key(struct qd *d)
{
	size_t	 len;
	char	*k = slurp(d->keyfile, &len);

	if (len > 0 && k[len - 1] == '\n')
		k[--len] = '\0';
	if (len == 0 || len >= sizeof(d->key)) {
		free(k);
		return false;
	}
	memcpy(d->key, k, len + 1);
	free(k);
	return true;
}

/* Wait until the daemon answers ping and every worker answers stats.
 * 1 ready, 0 it exited (*status), -1 timed out. */
static int
wait_ready(struct qd *d, int *status)
{
	double	 end = qd_now() + QD_WAIT;
	qlock	*c;
	uint64_t nw;
	int	 st;

	while (qd_now() < end) {
		if (waitpid(d->pid, status, WNOHANG) == d->pid) {
			d->pid = 0;
			return 0;
		}
		if (d->key[0] == '\0' && !read_key(d)) {
			qd_nap();
			continue;
		}
		if ((c = qlock_connect(d->address, d->key, &st)) != NULL) {
			if (qlock_ping(c) == QLOCK_OK &&
			    qd_stat(c, "workers", &nw) == 0 &&
			    (d->workers == 0 || nw == (uint64_t)d->workers)) {
				qlock_close(c);
				return 1;
			}
			qlock_close(c);
		}
		qd_nap();
	}
	return -1;
}

struct qd *
qd_start_opts(const struct qd_opts *o)
{
	struct qd	*d = calloc(1, sizeof(*d));
	const char	*argv[QD_MAX_ARGS + 16];
	char		 listen[256], workers[16];
	int		 try, argc, i, status = 0, r = -1;
	long		 ncpu;

	ck_assert_ptr_nonnull(d);
	d->opts = *o;
	d->owner = getpid();
	snprintf(d->dir, sizeof(d->dir), "/tmp/qlockd-it.XXXXXX");
	ck_assert_msg(mkdtemp(d->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(d->keyfile, sizeof(d->keyfile), "%s/authkey", d->dir);
	snprintf(d->logfile, sizeof(d->logfile), "%s/qlockd.log", d->dir);
	snprintf(d->sockpath, sizeof(d->sockpath), "%s/qlockd.sock", d->dir);
	if (!o->no_keyfile)
		write_key(d);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	d->workers = o->workers > 0 ? o->workers :
	    ncpu < 1 ? 1 : ncpu > 256 ? 256 : (int)ncpu;

	for (try = 0; try < START_TRIES; try++) {
		switch (o->listen) {
		case QD_TCP4:
			d->port = free_port(AF_INET);
			ck_assert_msg(d->port > 0, "no free IPv4 port");
			snprintf(listen, sizeof(listen), "127.0.0.1:%d", d->port);
			break;
		case QD_TCP6:
			d->port = free_port(AF_INET6);
			ck_assert_msg(d->port > 0, "no free IPv6 port");
			snprintf(listen, sizeof(listen), "[::1]:%d", d->port);
			break;
		case QD_UNIX:
			snprintf(listen, sizeof(listen), "unix:%s", d->sockpath);
			break;
		}
		ck_assert_int_lt(snprintf(d->address, sizeof(d->address), "%s",
		    listen), (int)sizeof(d->address));
		snprintf(workers, sizeof(workers), "%d", d->workers);
		argc = 0;
		argv[argc++] = qd_daemon_path();
		argv[argc++] = "-f";
		argv[argc++] = "--listen";
		argv[argc++] = listen;
		argv[argc++] = "--authkey-file";
		argv[argc++] = d->keyfile;
		argv[argc++] = "--workers";
		argv[argc++] = workers;
		for (i = 0; i < QD_MAX_ARGS && o->args[i] != NULL; i++)
			argv[argc++] = o->args[i];
		argv[argc] = NULL;

		d->pid = spawn(argv, d->logfile);
		track(d, true);
		if ((r = wait_ready(d, &status)) != 0)
			break;
		track(d, false);
		/* It exited: retry only if the port was taken meanwhile. */
		if (o->listen == QD_UNIX || !qd_log_wait(d, "cannot listen", 0))
			break;
		fprintf(stderr, "harness: port %d was taken; retrying\n",
		    d->port);
	}
	if (r == 0)
		ck_abort_msg("qlockd exited at start (status 0x%x); log in %s:\n%s",
		    status, d->logfile, log_tail(d));
	if (r == -1)
		ck_abort_msg("qlockd not serving %s after %.0f s; log:\n%s",
		    d->address, QD_WAIT, log_tail(d));
	/* Kept if the test fails before qd_stop: show where. */
	fprintf(stderr, "harness: qlockd pid %d on %s, %d worker%s, log %s\n",
	    (int)d->pid, d->address, d->workers, d->workers == 1 ? "" : "s",
	    d->logfile);
	return d;
}

struct qd *
qd_start(int workers, ...)
{
	struct qd_opts	 o;
	va_list		 ap;
	const char	*a;
	int		 n = 0;

	memset(&o, 0, sizeof(o));
	o.workers = workers;
	va_start(ap, workers);
	while ((a = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(n, QD_MAX_ARGS);
		o.args[n++] = a;
	}
	va_end(ap);
	return qd_start_opts(&o);
}

int
qd_terminate(struct qd *d, double secs)
{
	double	end = qd_now() + secs;
	int	status;

	if (d->pid == 0)
		return -1;
	kill(d->pid, SIGTERM);
	for (;;) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid)
			break;
		if (qd_now() >= end) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			d->pid = 0;
			track(d, false);
			return -1;
		}
		qd_nap();
	}
	d->pid = 0;
	track(d, false);
	return status;
}

void
qd_free(struct qd *d)
{
	if (d == NULL)
		return;
	if (d->pid != 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		track(d, false);
	}
	if (getenv("QLOCK_TEST_KEEP") == NULL)
		nftw(d->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(d);
}

/* Sanitizer reports and unclean worker exits in the daemon's log. */
static const char *const log_alarms[] = {
	"Sanitizer",		/* ERROR: AddressSanitizer / LeakSanitizer */
	"runtime error:",	/* UBSan */
	"ended badly at stop",	/* a worker did not exit 0 on SIGTERM */
};

void
qd_assert_log_clean(const struct qd *d)
{
	char	*log = qd_log(d);
	size_t	 i;

	for (i = 0; i < sizeof(log_alarms) / sizeof(log_alarms[0]); i++) {
		const char *hit = strstr(log, log_alarms[i]);

		ck_assert_msg(hit == NULL, "the daemon log has '%s':\n%.3000s",
		    log_alarms[i], hit - (hit - log > 200 ? 200 : hit - log));
	}
	free(log);
}

void
qd_stop(struct qd *d)
{
	int	status = qd_terminate(d, QD_WAIT);

	ck_assert_msg(status != -1, "qlockd did not exit within %.0f s of "
	    "SIGTERM (killed); log:\n%s", QD_WAIT, log_tail(d));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "qlockd ended with %s %d after SIGTERM, not exit 0; log:\n%s",
	    WIFEXITED(status) ? "exit status" : "signal",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
	    log_tail(d));
	qd_assert_log_clean(d);
	qd_free(d);
}

qlock *
qd_connect(const struct qd *d)
{
	qlock	*c;
	int	 st = 0;

	c = qlock_connect(d->address, d->key, &st);
	ck_assert_msg(c != NULL, "qlock_connect %s: %s (%s)", d->address,
	    qlock_strerror(st), qlock_last_error(NULL));
	return c;
}

void
qd_setenv(const struct qd *d)
{
	setenv("QLOCK_ADDRESS", d->address, 1);
	setenv("QLOCK_AUTHKEY_FILE", d->keyfile, 1);
	unsetenv("QLOCK_AUTHKEY");
}

int
qd_worker_pids(const struct qd *d, pid_t *pids, int max)
{
	char		 path[64], buf[4096], *p, *end;
	FILE		*f;
	DIR		*dir;
	struct dirent	*de;
	int		 n = 0, ppid;
	long		 v;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)d->pid,
	    (int)d->pid);
	if ((f = fopen(path, "r")) != NULL) {
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[len] = '\0';
		for (p = buf; n < max; p = end) {
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			pids[n++] = (pid_t)v;
		}
		return n;
	}
	/* No children file: scan every process for our master as parent. */
	if ((dir = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL && n < max) {
		char *stat, *rp;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (snprintf(path, sizeof(path), "/proc/%s/stat",
		    de->d_name) >= (int)sizeof(path))
			continue;
		stat = slurp(path, NULL);
		/* pid (comm) state ppid: comm may hold spaces and ')'. */
		if ((rp = strrchr(stat, ')')) != NULL &&
		    sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == d->pid)
			pids[n++] = (pid_t)atoi(de->d_name);
		free(stat);
	}
	closedir(dir);
	return n;
}

/* --- running the daemon to see it refuse --------------------------------- */

int
qd_run(const char *const *argv, double secs, char **out)
{
	char		 dir[] = "/tmp/qlockd-run.XXXXXX", log[64];
	const char	*full[QD_MAX_ARGS + 4];
	int		 i = 0, status;
	pid_t		 pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/out", dir);
	full[i++] = qd_daemon_path();
	for (; argv[i - 1] != NULL && i < QD_MAX_ARGS + 2; i++)
		full[i] = argv[i - 1];
	full[i] = NULL;
	pid = spawn(full, log);
	status = qd_wait_child(pid, secs);
	*out = slurp(log, NULL);
	unlink(log);
	rmdir(dir);
	return status;
}

struct qd *D;

void
qd_fixture_w1(void)
{
	D = qd_start(1, NULL);
	qd_setenv(D);
}

void
qd_fixture_w3(void)
{
	D = qd_start(3, NULL);
	qd_setenv(D);
}

void
qd_fixture_stop(void)
{
	qd_stop(D);
	D = NULL;
}

TCase *
qd_tcase(Suite *s, const char *name, void (*setup)(void),
    void (*teardown)(void), double timeout)
{
	TCase	*tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

double
qd_cpu_secs(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "pid (comm)": state and 10 more fields, then utime, stime. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
