/* it_daemon.c: the daemon as a process: its authkey file rules, SIGTERM,
 * a killed worker restarted without losing the others' clients, unix and
 * IPv6 listeners, and the qlock tool against it. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "qlock.h"
#include "suiterun.h"

/* A temp dir for key files of daemons that must refuse to start. */
static char tmpdir[64];

static void
mk_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/qlockd-itd.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
rm_tmpdir(void)
{
	char	path[128];

	snprintf(path, sizeof(path), "%s/key", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/real", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

/* Write a key file with mode, in tmpdir; its path (static). */
static const char *
key_file(const char *content, size_t len, mode_t mode)
{
	static char	path[128];
	int		fd;

	snprintf(path, sizeof(path), "%s/key", tmpdir);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* Run the daemon expecting it to refuse: exit != 0, message in output. */
static void
expect_refusal(const char *const *argv, const char *needle)
{
	char	*out;
	int	 status = qd_run(argv, QD_WAIT, &out);

	ck_assert_msg(status != -1, "qlockd kept running (expected it to "
	    "refuse); output:\n%s", out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "qlockd ended with status 0x%x, expected a non-zero exit; "
	    "output:\n%s", status, out);
	ck_assert_msg(strstr(out, needle) != NULL, "the refusal does not "
	    "mention '%s':\n%s", needle, out);
	free(out);
}

/* --- the authkey file ------------------------------------------------------- */

START_TEST(test_daemon_no_authkey_refused)
{
	const char *argv[] = { "-f", "--listen", "127.0.0.1:1", "--workers",
	    "1", NULL };

	expect_refusal(argv, "--authkey-file");
}
END_TEST

START_TEST(test_daemon_keyfile_created)
{
	struct qd_opts	 o = { .workers = 1, .no_keyfile = true };
	struct qd	*d = qd_start_opts(&o);
	struct stat	 st;
	qlock		*c;
	int		 status;

	ck_assert_int_eq(stat(d->keyfile, &st), 0);
	ck_assert_msg((st.st_mode & 0777) == 0600, "created with mode %03o",
	    (unsigned)(st.st_mode & 0777));
	ck_assert_int_ge(strlen(d->key), 16);
	/* A client reading the same file gets in. */
	qd_setenv(d);
	c = qlock_connect(NULL, NULL, &status);
	ck_assert_msg(c != NULL, "connect with QLOCK_AUTHKEY_FILE: %s",
	    qlock_strerror(status));
	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);
}
END_TEST

START_TEST(test_daemon_keyfile_0644_refused)
{
	const char *argv[] = { "-f", "--listen", "127.0.0.1:1", "--workers",
	    "1", "--authkey-file", NULL, NULL };

	mk_tmpdir();
	argv[6] = key_file("a good secret\n", 14, 0644);
	expect_refusal(argv, "chmod 600");
	rm_tmpdir();
}
END_TEST

/* An empty key (or only a newline) would let anyone in. */
START_TEST(test_daemon_keyfile_empty_refused)
{
	const char *argv[] = { "-f", "--listen", "127.0.0.1:1", "--workers",
	    "1", "--authkey-file", NULL, NULL };

	mk_tmpdir();
	argv[6] = key_file("\n", (size_t)_i, 0600);
	expect_refusal(argv, "empty");
	rm_tmpdir();
}
END_TEST

#define GOOD_KEY	"0123456789abcdef"	/* AUTHKEY_MIN bytes */

/* --check-config with the key file path: it loads the key and exits. */
static void
expect_key_ok(const char *path)
{
	const char *argv[] = { "--check-config", "--authkey-file", path, NULL };
	char	*out;
	int	 status = qd_run(argv, QD_WAIT, &out);

	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "the key file %s was refused "
	    "(status 0x%x):\n%s", path, status, out);
	free(out);
}

/* A key systemd passed with LoadCredential= may show mode 0440 (the ACL
 * mask that lets the service user read it): accepted directly in
 * $CREDENTIALS_DIRECTORY, refused anywhere else; others' bits never. */
START_TEST(test_daemon_keyfile_credentials)
{
	const char *argv[] = { "-f", "--listen", "127.0.0.1:1", "--workers",
	    "1", "--authkey-file", NULL, NULL };
	const char *path;

	mk_tmpdir();
	path = key_file(GOOD_KEY "\n", 17, 0440);
	argv[6] = path;
	unsetenv("CREDENTIALS_DIRECTORY");
	expect_refusal(argv, "chmod 600");
	setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
	expect_key_ok(path);
	key_file(GOOD_KEY "\n", 17, 0444);
	expect_refusal(argv, "chmod 600");
	key_file(GOOD_KEY "\n", 17, 0460);
	expect_refusal(argv, "chmod 600");
	/* Only the directory itself: not a file below it, nor a sibling whose
	 * name begins the same. */
	setenv("CREDENTIALS_DIRECTORY", "/tmp", 1);
	key_file(GOOD_KEY "\n", 17, 0440);
	expect_refusal(argv, "chmod 600");
	unsetenv("CREDENTIALS_DIRECTORY");
	rm_tmpdir();
}
END_TEST

/* Defect 8: the key file's name is not followed through a symlink. */
START_TEST(test_daemon_keyfile_symlink_refused)
{
	const char *argv[] = { "-f", "--listen", "127.0.0.1:1", "--workers",
	    "1", "--authkey-file", NULL, NULL };
	char	real[128];

	mk_tmpdir();
	argv[6] = key_file(GOOD_KEY "\n", 17, 0600);
	expect_key_ok(argv[6]);
	snprintf(real, sizeof(real), "%s/real", tmpdir);
	ck_assert_int_eq(rename(argv[6], real), 0);
	ck_assert_int_eq(symlink(real, argv[6]), 0);
	expect_refusal(argv, "symbolic link");
	rm_tmpdir();
}
END_TEST

/* Defect 8: a FIFO at the key path blocked the start for ever; a
 * directory is no key either. */
START_TEST(test_daemon_keyfile_fifo_refused)
{
	const char *argv[] = { "-f", "--listen", "127.0.0.1:1", "--workers",
	    "1", "--authkey-file", NULL, NULL };
	char	path[128];

	mk_tmpdir();
	snprintf(path, sizeof(path), "%s/key", tmpdir);
	argv[6] = path;
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	expect_refusal(argv, "not a regular file");	/* within QD_WAIT */
	unlink(path);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	expect_refusal(argv, "not a regular file");
	rmdir(path);
	rm_tmpdir();
}
END_TEST

/* Defect 8: a 1-byte key was accepted; AUTHKEY_MIN bytes are needed. */
START_TEST(test_daemon_keyfile_short_refused)
{
	const char *argv[] = { "-f", "--listen", "127.0.0.1:1", "--workers",
	    "1", "--authkey-file", NULL, NULL };

	mk_tmpdir();
	argv[6] = key_file("x\n", 2, 0600);
	expect_refusal(argv, "at least 16");
	argv[6] = key_file(GOOD_KEY, 15, 0600);
	expect_refusal(argv, "at least 16");
	argv[6] = key_file("0123456789abcde\n", 16, 0600);	/* 15 + newline */
	expect_refusal(argv, "at least 16");
	expect_key_ok(key_file(GOOD_KEY, 16, 0600));
	rm_tmpdir();
}
END_TEST

/* Defect 8: a key file owned by another user (who could change the key)
 * is refused; root's or the daemon's own user's is fine.  Needs root. */
START_TEST(test_daemon_keyfile_owner_refused)
{
	const char *argv[] = { "-f", "--listen", "127.0.0.1:1", "--workers",
	    "1", "--authkey-file", NULL, NULL };

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: chown needs root\n");
		return;
	}
	mk_tmpdir();
	argv[6] = key_file(GOOD_KEY "\n", 17, 0600);
	ck_assert_int_eq(chown(argv[6], 12345, 12345), 0);
	expect_refusal(argv, "owned by uid 12345");
	ck_assert_int_eq(chown(argv[6], 0, 0), 0);
	expect_key_ok(argv[6]);
	rm_tmpdir();
}
END_TEST

/* --- stopping ------------------------------------------------------------------ */

/* SIGTERM with a client parked for ever: the client gets an error (not a
 * hang) and the daemon exits 0. */
START_TEST(test_daemon_sigterm_parked_client)
{
	struct qd	*d = qd_start(_i == 0 ? 1 : 3, NULL);
	qlock		*c = qd_connect(d), *idle = qd_connect(d);
	pid_t		 pid;
	int		 status;

	qd_setenv(d);
	if ((pid = qd_fork()) == 0) {
		qlock	*cc = qlock_connect(NULL, NULL, NULL);
		void	*item;
		size_t	 len;
		int	 st;

		if (cc == NULL)
			_exit(2);
		st = qlock_queue_get(cc, "parked-at-stop", &item, &len,
		    QLOCK_FOREVER);
		/* 0: an error reply or a broken connection, as expected. */
		_exit(st == QLOCK_EUNAVAIL || st == QLOCK_ECONN ? 0 :
		    st == QLOCK_OK ? 3 : 10 - st);
	}
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	status = qd_terminate(d, QD_WAIT);
	ck_assert_msg(status != -1, "qlockd still running %.0f s after SIGTERM",
	    QD_WAIT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "qlockd ended with status 0x%x after SIGTERM", status);
	status = qd_wait_child(pid, QD_WAIT);
	ck_assert_msg(status != -1, "the parked client hangs after SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the parked client's get ended with child status 0x%x", status);
	/* The idle client finds its connection gone. */
	ck_assert_int_eq(qlock_ping(idle), QLOCK_ECONN);
	qlock_close(idle);
	qlock_close(c);
	qd_assert_log_clean(d);
	qd_free(d);
}
END_TEST

/* --- a worker killed ----------------------------------------------------------- */

#define NSHARD_NAMES 64

/* Retry op while it answers QLOCK_EUNAVAIL (request in flight to a dead
 * worker, or its owner still restarting), at most QD_WAIT seconds. */
#define RETRY_UNAVAIL(st, op) do {					\
	double end_ = qd_now() + QD_WAIT;				\
	while (((st) = (op)) == QLOCK_EUNAVAIL && qd_now() < end_)	\
		qd_nap();						\
} while (0)

/* The workers named in a `list' answer, as a bit set. */
static unsigned
list_workers(qlock *c)
{
	msgpack_unpacked up;
	void		*buf;
	size_t		 len, off = 0;
	uint32_t	 i, j;
	unsigned	 set = 0;

	ck_assert_int_eq(qlock_list_raw(c, &buf, &len), QLOCK_OK);
	msgpack_unpacked_init(&up);
	ck_assert_int_eq(msgpack_unpack_next(&up, buf, len, &off),
	    MSGPACK_UNPACK_SUCCESS);
	ck_assert_int_eq(up.data.type, MSGPACK_OBJECT_ARRAY);
	for (i = 0; i < up.data.via.array.size; i++) {
		msgpack_object *m = &up.data.via.array.ptr[i];

		ck_assert_int_eq(m->type, MSGPACK_OBJECT_MAP);
		for (j = 0; j < m->via.map.size; j++) {
			msgpack_object *k = &m->via.map.ptr[j].key;
			msgpack_object *v = &m->via.map.ptr[j].val;

			if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 6 &&
			    memcmp(k->via.str.ptr, "worker", 6) == 0 &&
			    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
			    v->via.u64 < 32)
				set |= 1u << v->via.u64;
		}
	}
	msgpack_unpacked_destroy(&up);
	free(buf);
	return set;
}

/* queue.size of name on a raw connection: 0, or the error code. */
static int
raw_size(int fd, uint64_t msgid, const char *name, char *code, size_t codesz)
{
	struct raw_call	c;
	struct raw_resp	r;
	int		rc;

	msgpack_pack_str_with_body(raw_call_begin(&c, msgid, "queue.size", 1),
	    name, strlen(name));
	raw_call_send(fd, &c);
	rc = raw_recv_resp(fd, &r, QD_WAIT);
	ck_assert_msg(rc == 0, "queue.size %s on the surviving connection: no "
	    "answer (%d)", name, rc);
	ck_assert_uint_eq(r.msgid, msgid);
	snprintf(code, codesz, "%s", r.is_error ? r.code : "");
	rc = r.is_error ? -1 : 0;
	raw_resp_free(&r);
	return rc;
}

START_TEST(test_daemon_worker_restart)
{
	struct qd	*d = qd_start(3, NULL);
	pid_t		 before[8], after[8], victim = -1, survivor_pid = -1, w;
	int		 fds[64], nfds = 0, victim_fd = -1, survivor_fd = -1;
	int		 i, j, n, st;
	double		 end;
	bool		 replaced = false;
	qlock		*c;
	char		 name[32], code[32];
	void		*item;
	size_t		 len;

	ck_assert_int_eq(qd_worker_pids(d, before, 8), 3);
	/* Connections until two are on different workers. */
	while (survivor_fd == -1 && nfds < 64) {
		int fd = raw_connect_auth(d);

		fds[nfds++] = fd;
		w = raw_conn_worker(d, fd);
		ck_assert_msg(w > 0, "cannot tell which worker serves a "
		    "connection");
		if (victim_fd == -1) {
			victim_fd = fd;
			victim = w;
		} else if (w != victim) {
			survivor_fd = fd;
			survivor_pid = w;
		}
	}
	ck_assert_msg(survivor_fd != -1, "64 connections all went to worker %d",
	    (int)victim);

	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	/* A new pid replaces it among the master's children. */
	for (end = qd_now() + QD_WAIT; !replaced && qd_now() < end; ) {
		n = qd_worker_pids(d, after, 8);
		replaced = n == 3;
		for (i = 0; i < n; i++) {
			if (after[i] == victim)
				replaced = false;
		}
		if (!replaced)
			qd_nap();
	}
	ck_assert_msg(replaced, "worker %d was not replaced in %.0f s",
	    (int)victim, QD_WAIT);
	for (i = 0, j = 0; i < 3; i++) {
		if (after[i] != before[0] && after[i] != before[1] &&
		    after[i] != before[2])
			j++;
	}
	ck_assert_int_eq(j, 1);
	ck_assert_msg(qd_log_wait(d, "restarting worker", QD_WAIT),
	    "the log does not say the worker was restarted");

	/* Its clients lost their connection; the others' kept theirs. */
	ck_assert_msg(raw_wait_closed(victim_fd, QD_WAIT), "a connection of "
	    "the killed worker is still open");
	ck_assert_msg(raw_ping(survivor_fd, 1), "a connection of surviving "
	    "worker %d broke", (int)survivor_pid);

	/* Every shard serves again, through a new client... */
	c = qd_connect(d);
	ck_assert(qd_wait_stat(c, "workers", 3, QD_WAIT));
	for (i = 0; i < NSHARD_NAMES; i++) {
		snprintf(name, sizeof(name), "shard-%d", i);
		RETRY_UNAVAIL(st, qlock_queue_put(c, name, name, strlen(name),
		    QLOCK_FOREVER));
		ck_assert_msg(st == QLOCK_OK, "put %s after the restart: %s (%s)",
		    name, qlock_strerror(st), qlock_last_error(c));
	}
	ck_assert_msg(list_workers(c) == 7, "the %d names do not cover the 3 "
	    "shards (workers seen: %#x)", NSHARD_NAMES, list_workers(c));
	for (i = 0; i < NSHARD_NAMES; i++) {
		snprintf(name, sizeof(name), "shard-%d", i);
		RETRY_UNAVAIL(st, qlock_queue_get(c, name, &item, &len, 0));
		ck_assert_msg(st == QLOCK_OK, "get %s after the restart: %s (%s)",
		    name, qlock_strerror(st), qlock_last_error(c));
		ck_assert(len == strlen(name) && memcmp(item, name, len) == 0);
		free(item);
	}
	/* ...and through the surviving connection, forwarded to every shard. */
	for (i = 0; i < NSHARD_NAMES; i++) {
		double until = qd_now() + QD_WAIT;

		snprintf(name, sizeof(name), "shard-%d", i);
		while (raw_size(survivor_fd, 100 + (uint64_t)i, name, code,
		    sizeof(code)) != 0 && strcmp(code, "Unavail") == 0 &&
		    qd_now() < until)
			qd_nap();
		ck_assert_msg(code[0] == '\0', "queue.size %s on the surviving "
		    "connection: %s", name, code);
	}
	ck_assert(raw_ping(survivor_fd, 2));
	qlock_close(c);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	qd_stop(d);
}
END_TEST

/* --- listeners --------------------------------------------------------------- */

START_TEST(test_daemon_unix_socket)
{
	struct qd_opts	 o = { .workers = 2, .listen = QD_UNIX };
	struct qd	*d = qd_start_opts(&o);
	struct stat	 st;
	qlock		*c;
	void		*item;
	size_t		 len;
	int		 status, fd;

	ck_assert_int_eq(strncmp(d->address, "unix:", 5), 0);
	ck_assert_int_eq(lstat(d->sockpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	qd_setenv(d);
	c = qlock_connect(NULL, NULL, &status);
	ck_assert_msg(c != NULL, "connect to %s: %s", getenv("QLOCK_ADDRESS"),
	    qlock_strerror(status));
	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "over-unix", "hi", 2, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_get(c, "over-unix", &item, &len, 0),
	    QLOCK_OK);
	ck_assert(len == 2 && memcmp(item, "hi", 2) == 0);
	free(item);
	fd = raw_connect_auth(d);
	ck_assert(raw_ping(fd, 1));
	close(fd);
	qlock_close(c);
	status = qd_terminate(d, QD_WAIT);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "stop: status 0x%x", status);
	ck_assert_msg(lstat(d->sockpath, &st) == -1 && errno == ENOENT,
	    "the socket %s is left behind", d->sockpath);
	qd_assert_log_clean(d);
	qd_free(d);
}
END_TEST

/* Whether this machine can listen on [::1]. */
static bool
have_ipv6_loopback(void)
{
	struct sockaddr_in6	s6;
	int			fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool			ok;

	if (fd == -1)
		return false;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0;
	close(fd);
	return ok;
}

START_TEST(test_daemon_ipv6)
{
	struct qd_opts	 o = { .workers = 2, .listen = QD_TCP6 };
	struct qd	*d;
	qlock		*c;
	long		 size = -1;
	int		 fd;

	if (!have_ipv6_loopback()) {
		fprintf(stderr, "SKIP test_daemon_ipv6: this machine has no "
		    "::1\n");
		return;
	}
	d = qd_start_opts(&o);
	ck_assert_int_eq(d->address[0], '[');
	c = qd_connect(d);
	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "over-v6", "x", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_size(c, "over-v6", &size), QLOCK_OK);
	ck_assert_int_eq(size, 1);
	fd = raw_connect_auth(d);
	ck_assert(raw_ping(fd, 1));
	close(fd);
	qlock_close(c);
	qd_stop(d);
}
END_TEST

/* --- the qlock tool ------------------------------------------------------------ */

/* Run the qlock tool with args (NULL-ended); its exit status, and its
 * standard output in out. */
static int
cli(char *out, size_t outsz, const char *arg, ...)
{
	const char	*argv[16];
	char		 path[64] = "/tmp/qlockd-cli.XXXXXX";
	va_list		 ap;
	int		 argc = 0, fd, status;
	ssize_t		 n;
	pid_t		 pid;

	argv[argc++] = qd_cli_path();
	va_start(ap, arg);
	for (; arg != NULL && argc < 15; arg = va_arg(ap, const char *))
		argv[argc++] = arg;
	va_end(ap);
	argv[argc] = NULL;
	ck_assert_int_ne(fd = mkstemp(path), -1);
	if ((pid = qd_fork()) == 0) {
		dup2(fd, STDOUT_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	status = qd_wait_child(pid, QD_WAIT);
	ck_assert_msg(status != -1, "%s %s: still running after %.0f s",
	    argv[0], argv[1], QD_WAIT);
	n = pread(fd, out, outsz - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_daemon_qlock_tool)
{
	struct qd	*d = qd_start(2, NULL);
	char		 out[256];

	qd_setenv(d);
	ck_assert_int_eq(cli(out, sizeof(out), "ping", NULL), 0);
	ck_assert_int_eq(cli(out, sizeof(out), "put", "cli-q", "hello", NULL), 0);
	ck_assert_int_eq(cli(out, sizeof(out), "size", "cli-q", NULL), 0);
	ck_assert_msg(strncmp(out, "1", 1) == 0, "size printed '%s'", out);
	ck_assert_int_eq(cli(out, sizeof(out), "get", "cli-q", "--timeout", "0",
	    NULL), 0);
	ck_assert_msg(strstr(out, "hello") != NULL, "get printed '%s'", out);
	/* Nothing in time: 1. */
	ck_assert_int_eq(cli(out, sizeof(out), "get", "cli-q", "--timeout",
	    "0.2", NULL), 1);
	/* An error (a wrong key): 2. */
	setenv("QLOCK_AUTHKEY", "wrong", 1);
	ck_assert_int_eq(cli(out, sizeof(out), "ping", NULL), 2);
	unsetenv("QLOCK_AUTHKEY");
	qd_stop(d);
}
END_TEST

static Suite *
daemon_suite(void)
{
	Suite	*s = suite_create("it_daemon");
	TCase	*tc;

	tc = tcase_create("authkey");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_daemon_no_authkey_refused);
	tcase_add_test(tc, test_daemon_keyfile_created);
	tcase_add_test(tc, test_daemon_keyfile_0644_refused);
	tcase_add_test(tc, test_daemon_keyfile_credentials);
	tcase_add_test(tc, test_daemon_keyfile_symlink_refused);
	tcase_add_test(tc, test_daemon_keyfile_fifo_refused);
	tcase_add_test(tc, test_daemon_keyfile_short_refused);
	tcase_add_test(tc, test_daemon_keyfile_owner_refused);
	tcase_add_loop_test(tc, test_daemon_keyfile_empty_refused, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_daemon_sigterm_parked_client, 0, 2);
	tcase_add_test(tc, test_daemon_worker_restart);
	suite_add_tcase(s, tc);

	tc = tcase_create("listeners");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_daemon_unix_socket);
	tcase_add_test(tc, test_daemon_ipv6);
	tcase_add_test(tc, test_daemon_qlock_tool);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(daemon_suite(), CK_FORK);
}
