/* harness.h: the integration tests' fixture: start the real qlockd on a
 * free loopback port with a fresh authkey, wait for it, stop it and check
 * its exit; plus stats polling, worker pids, child processes and a raw
 * socket client that speaks the framing and handshake by hand. */
#ifndef HARNESS_H
#define HARNESS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <msgpack.h>

#include "qlock.h"

#define QD_WAIT		10.0	/* seconds any wait on the daemon may take */
#define QD_MAX_ARGS	16	/* extra daemon options in struct qd_opts */

/* Which address the daemon listens on. */
enum qd_listen {
	QD_TCP4,		/* 127.0.0.1:<free port> */
	QD_TCP6,		/* [::1]:<free port> */
	QD_UNIX,		/* unix:<temp dir>/qlockd.sock */
};

/* How to start the daemon. */
struct qd_opts {
	int		 workers;	/* --workers N; 0: the daemon's default */
	enum qd_listen	 listen;
	bool		 no_keyfile;	/* let the daemon create the key file */
	const char	*args[QD_MAX_ARGS + 1];	/* more options, NULL-ended */
};

/* One running daemon. */
struct qd {
	pid_t		 pid;		/* the master; 0 once reaped */
	pid_t		 owner;		/* the test process that started it */
	int		 workers;	/* how many workers it should run */
	int		 port;		/* TCP port; 0 for unix */
	char		 dir[128];	/* private temp dir, removed at stop */
	char		 keyfile[192];
	char		 logfile[192];	/* the daemon's stdout and stderr */
	char		 sockpath[192];	/* QD_UNIX: the socket */
	char		 address[224];	/* for qlock_connect / QLOCK_ADDRESS */
	char		 key[80];	/* the authkey (hex) */
	struct qd_opts	 opts;
};

/* Monotonic clock, seconds. */
double		 qd_now(void);
/* Sleep a little inside a bounded polling loop (never as synchronisation). */
void		 qd_nap(void);

/* A test case of s whose every test runs between setup and teardown (a
 * daemon fixture), each within timeout seconds. */
/* The daemon of the running test, and the usual fixtures: D started with
 * 1 or 3 workers and the environment (QLOCK_ADDRESS, ...) pointed at it;
 * D stopped. */
extern struct qd *D;
void		 qd_fixture_w1(void);
void		 qd_fixture_w3(void);
void		 qd_fixture_stop(void);
TCase		*qd_tcase(Suite *s, const char *name, void (*setup)(void),
		    void (*teardown)(void), double timeout);

/* Start qlockd with --workers n and more options (NULL-ended); fails the
 * test if it is not serving within QD_WAIT seconds. */
struct qd	*qd_start(int workers, ...);
struct qd	*qd_start_opts(const struct qd_opts *o);
/* SIGTERM; fail the test unless it exits with status 0 in QD_WAIT
 * seconds (SIGKILL then) with no sanitizer report or unclean worker exit
 * in its log; remove the temp dir; free d. */
void		 qd_stop(struct qd *d);
/* SIGTERM and wait at most secs: the wait status, or -1 (then killed). */
int		 qd_terminate(struct qd *d, double secs);
/* Fail the test if the log has a sanitizer report or a worker that did
 * not exit 0 at stop (qd_stop checks this itself). */
void		 qd_assert_log_clean(const struct qd *d);
/* Remove the temp dir and free d (after qd_terminate). */
void		 qd_free(struct qd *d);

/* A new connection with the daemon's key; fails the test on error. */
qlock		*qd_connect(const struct qd *d);
/* QLOCK_ADDRESS and QLOCK_AUTHKEY_FILE for this process and its children. */
void		 qd_setenv(const struct qd *d);
/* The master's children (the workers), at most max; their number. */
int		 qd_worker_pids(const struct qd *d, pid_t *pids, int max);
/* The daemon's log so far (malloc'd, NUL-terminated). */
char		*qd_log(const struct qd *d);
/* Wait up to secs for needle to appear in the log. */
bool		 qd_log_wait(const struct qd *d, const char *needle, double secs);

/* One integer from the daemon's stats map; 0 or a QLOCK_E* status. */
int		 qd_stat(qlock *c, const char *key, uint64_t *val);
/* Poll stats until key == want, at most secs; false on timeout; fails
 * the test if the connection breaks. */
bool		 qd_wait_stat(qlock *c, const char *key, uint64_t want, double secs);

/* Run qlockd with argv (NULL-ended, without the program) and wait at most
 * secs for it to exit: the wait status (-1: still running, killed) and,
 * in *out, its stdout+stderr (malloc'd). */
int		 qd_run(const char *const *argv, double secs, char **out);
/* The daemon binary ($QLOCKD) and the qlock tool ($QLOCK_CLI). */
const char	*qd_daemon_path(void);
const char	*qd_cli_path(void);

/* fork() for a test's helper process: it dies with the test, never
 * touches the test's daemons at exit, and must end with _exit(). */
pid_t		 qd_fork(void);
/* Wait up to secs for a child: its wait status, or -1 (then killed). */
int		 qd_wait_child(pid_t pid, double secs);
/* VmRSS of a process in KiB, or -1. */
long		 qd_rss_kb(pid_t pid);

/* --- raw client: frames and the handshake by hand ---------------------- */

/* A connected socket to the daemon, nothing sent; fails the test on error. */
int		 raw_connect(const struct qd *d);
/* Connect and authenticate with the daemon's key; fails the test on error. */
int		 raw_connect_auth(const struct qd *d);
/* Run the client side of the handshake with key: 0, QLOCK_EAUTH or
 * QLOCK_ECONN. */
int		 raw_auth(int fd, const void *key, size_t keylen);
int		 raw_send(int fd, const void *buf, size_t len);
int		 raw_send_frame(int fd, const void *body, size_t len);
/* Send the body packed in sbuf as one frame. */
int		 raw_send_sbuf(int fd, const msgpack_sbuffer *sb);
/* Send [0, msgid, method, []]. */
int		 raw_send_call0(int fd, uint64_t msgid, const char *method);
/* Receive one frame within secs: 0 (body malloc'd), -1 closed, -2 timeout. */
int		 raw_recv_frame(int fd, uint8_t **body, size_t *len, double secs);
/* Discard input until the daemon closes; false if still open after secs. */
bool		 raw_wait_closed(int fd, double secs);

/* A decoded msgpack-RPC response. */
struct raw_resp {
	uint64_t	 msgid;
	bool		 is_error;
	char		 code[32];	/* error code when is_error */
	char		 msg[256];	/* error message */
	msgpack_object	 result;
	msgpack_unpacked up;		/* owns result */
	uint8_t		*body;
};
/* Receive one response within secs: 0, -1 closed, -2 timeout, -3 not a
 * well-formed response. */
int		 raw_recv_resp(int fd, struct raw_resp *r, double secs);
void		 raw_resp_free(struct raw_resp *r);
/* Ping on fd and expect "pong" for msgid within QD_WAIT seconds. */
bool		 raw_ping(int fd, uint64_t msgid);
/* The worker process holding the daemon's end of fd; -1 if not found. */
pid_t		 raw_conn_worker(const struct qd *d, int fd);

/* A request being built by hand: [0, msgid, method, [params...]]. */
struct raw_call {
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
};
/* Start one with room for nparams; pack the params into the packer. */
msgpack_packer	*raw_call_begin(struct raw_call *c, uint64_t msgid,
		    const char *method, uint32_t nparams);
/* Send it as one frame and free it; fails the test on error. */
void		 raw_call_send(int fd, struct raw_call *c);
/* The response to msgid must come within QD_WAIT seconds and be the
 * error code, or a result if code is NULL; fails the test otherwise. */
void		 raw_expect(int fd, uint64_t msgid, const char *code,
		    const char *what);
/* CPU time (user + system) a process has used, in seconds; -1 if gone. */
double		 qd_cpu_secs(pid_t pid);

#endif /* HARNESS_H */
