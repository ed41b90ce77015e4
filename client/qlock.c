/* qlock.c: qlock(1): qlockd's queues, locks, events, dicts from the shell. */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "qlock.h"

#define EXIT_DONE	0	/* success */
#define EXIT_NOTYET	1	/* a get, wait or acquire not done in time */
#define EXIT_ERROR	2	/* any error, usage included */

#define PRINT_DEPTH	32	/* deepest nesting the printer descends into */

/* What a command accepts besides its operands. */
#define OPT_TIMEOUT	0x1	/* --timeout S */
#define OPT_RAW		0x2	/* --raw */
#define OPT_INT		0x4	/* --int */
#define OPT_COMMAND	0x8	/* -- COMMAND... (required) */
#define OPT_WORK	0x10	/* -j N, --on-failure P, --max-attempts N */
#define OPT_JSON	0x20	/* --json */

/* A command line after parsing. */
struct args {
	const char	*what;		/* "get", "dict set"...: for messages */
	double		 timeout;	/* --timeout, QLOCK_FOREVER if absent */
	bool		 raw;		/* --raw: print the bytes exactly */
	bool		 as_int;	/* --int: dict set stores an integer */
	bool		 json;		/* --json: print the result as JSON */
	int		 npos;		/* number of operands */
	char		**pos;		/* operands (points into argv) */
	char		**cmd;		/* after "--": the command to run */
	long		 jobs;		/* work -j: commands at once */
	long		 max_attempts;	/* work --max-attempts */
	const char	*on_failure;	/* work --on-failure, NULL: requeue */
	const char	*address;	/* -a: work opens more connections */
	const char	*keyfile;	/* -k: likewise */
};

/* One command: its words, operand counts, options and implementation. */
struct cmd {
	const char	*group;		/* first word */
	const char	*sub;		/* second word, NULL if none */
	int		 minpos;	/* fewest operands */
	int		 maxpos;	/* most operands */
	int		 opts;		/* OPT_* accepted */
	int		(*exec)(qlock *, struct args *);
	const char	*usage;		/* operands, for the usage message */
};

/* Child of lock/sem, for the signal forwarder; 0 when none. */
static volatile sig_atomic_t child_pid;

static const int forwarded[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2
};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static void	usage(FILE *, int) __attribute__((noreturn));
static qlock	*connect_with(const char *, const char *, int *);
static void	cmd_usage(const struct cmd *, const char *)
		    __attribute__((noreturn));

/* Report a failed call, as "qlock: what: reason"; returns the exit code. */
static int
outcome(qlock *c, const char *what, const char *name, int st)
{
	if (st == QLOCK_OK)
		return EXIT_DONE;
	if (st == QLOCK_EMPTY || st == QLOCK_FULL || st == QLOCK_TIMEOUT)
		return EXIT_NOTYET;
	if (name != NULL)
		fprintf(stderr, "qlock: %s %s: %s\n", what, name,
		    qlock_last_error(c));
	else
		fprintf(stderr, "qlock: %s: %s\n", what, qlock_last_error(c));
	return EXIT_ERROR;
}

/* Write bytes to stdout, with a newline unless raw. */
static int
print_bytes(const void *p, size_t len, bool raw)
{
	if ((len > 0 && fwrite(p, 1, len, stdout) != len) ||
	    (!raw && putchar('\n') == EOF)) {
		fprintf(stderr, "qlock: write: %s\n", strerror(errno));
		return EXIT_ERROR;
	}
	return EXIT_DONE;
}

/* Print a string or byte string readably: control bytes as \xNN. */
static void
print_text(FILE *f, const char *p, size_t len)
{
	size_t		i;
	unsigned char	ch;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			fprintf(f, "\\x%02x", ch);
		else
			putc(ch, f);
	}
}

/* Print any msgpack object on one line: scalars bare, containers bracketed. */
static void
print_object(const msgpack_object *o, int depth)
{
	uint32_t	i;

	if (depth > PRINT_DEPTH) {
		fputs("...", stdout);
		return;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("nil", stdout);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", stdout);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		printf("%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		printf("%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		printf("%g", o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		print_text(stdout, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		print_text(stdout, o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		putchar('[');
		for (i = 0; i < o->via.array.size; i++) {
			if (i > 0)
				fputs(", ", stdout);
			print_object(&o->via.array.ptr[i], depth + 1);
		}
		putchar(']');
		break;
	case MSGPACK_OBJECT_MAP:
		putchar('{');
		for (i = 0; i < o->via.map.size; i++) {
			if (i > 0)
				fputs(", ", stdout);
			print_object(&o->via.map.ptr[i].key, depth + 1);
			fputs(": ", stdout);
			print_object(&o->via.map.ptr[i].val, depth + 1);
		}
		putchar('}');
		break;
	case MSGPACK_OBJECT_EXT:
		printf("ext(%d, %" PRIu32 " bytes)", o->via.ext.type,
		    o->via.ext.size);
		break;
	default:
		fputs("?", stdout);
		break;
	}
}

/* Print a map on one line as key=value pairs. */
static void
print_fields(const msgpack_object_map *m)
{
	uint32_t	i;

	for (i = 0; i < m->size; i++) {
		if (i > 0)
			putchar(' ');
		print_object(&m->ptr[i].key, 1);
		putchar('=');
		print_object(&m->ptr[i].val, 1);
	}
}

/* Print stats (a map: one "key: value" a line) or list (one object a line). */
static int
print_result(const char *what, const void *buf, size_t len, bool list)
{
	msgpack_unpacked	 up;
	const msgpack_object	*o;
	uint32_t		 i;
	size_t			 off = 0;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		fprintf(stderr, "qlock: %s: cannot decode the result\n", what);
		msgpack_unpacked_destroy(&up);
		return EXIT_ERROR;
	}
	o = &up.data;
	if (!list && o->type == MSGPACK_OBJECT_MAP) {
		for (i = 0; i < o->via.map.size; i++) {
			print_object(&o->via.map.ptr[i].key, 1);
			fputs(": ", stdout);
			print_object(&o->via.map.ptr[i].val, 1);
			putchar('\n');
		}
	} else if (list && o->type == MSGPACK_OBJECT_ARRAY) {
		for (i = 0; i < o->via.array.size; i++) {
			if (o->via.array.ptr[i].type == MSGPACK_OBJECT_MAP)
				print_fields(&o->via.array.ptr[i].via.map);
			else
				print_object(&o->via.array.ptr[i], 1);
			putchar('\n');
		}
	} else {
		print_object(o, 0);
		putchar('\n');
	}
	msgpack_unpacked_destroy(&up);
	return EXIT_DONE;
}

/* Parse a timeout in seconds; negative means for ever. */
static int
parse_timeout(const char *s, double *t)
{
	char	*end;

	errno = 0;
	*t = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || isnan(*t))
		return -1;
	if (*t < 0)
		*t = QLOCK_FOREVER;
	return 0;
}

/* Parse a decimal 64-bit integer. */
static int
parse_int(const char *s, int64_t *v)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE)
		return -1;
	*v = n;
	return 0;
}

static int
cmd_ping(qlock *c, struct args *a)
{
	int	st;

	if ((st = qlock_ping(c)) != QLOCK_OK)
		return outcome(c, a->what, NULL, st);
	puts("pong");
	return EXIT_DONE;
}

static int
cmd_put(qlock *c, struct args *a)
{
	return outcome(c, a->what, a->pos[0], qlock_queue_put(c, a->pos[0],
	    a->pos[1], strlen(a->pos[1]), a->timeout));
}

static int
cmd_get(qlock *c, struct args *a)
{
	void	*item;
	size_t	 len;
	int	 st, rv;

	st = qlock_queue_get(c, a->pos[0], &item, &len, a->timeout);
	if (st != QLOCK_OK)
		return outcome(c, a->what, a->pos[0], st);
	rv = print_bytes(item, len, a->raw);
	free(item);
	/* Printed is handed over: on a joinable queue the task is done
	 * (otherwise the item would go back when this connection ends).
	 * A plain queue answers Inval (or NoEnt once it is empty and gone),
	 * which is fine. */
	if (rv == EXIT_DONE &&
	    (st = qlock_queue_task_done(c, a->pos[0])) != QLOCK_OK &&
	    st != QLOCK_EINVAL && st != QLOCK_ENOENT)
		return outcome(c, a->what, a->pos[0], st);
	return rv;
}

static int
cmd_size(qlock *c, struct args *a)
{
	long	size;
	int	st;

	if ((st = qlock_queue_size(c, a->pos[0], &size)) != QLOCK_OK)
		return outcome(c, a->what, a->pos[0], st);
	printf("%ld\n", size);
	return EXIT_DONE;
}

static int
cmd_delete(qlock *c, struct args *a)
{
	return outcome(c, a->what, a->pos[0], qlock_delete(c, a->pos[0]));
}

/*
 * Pass a signal on to the child.  One the kernel sent (si_code SI_KERNEL:
 * ^C, ^\ or a hangup from the terminal) went to our whole foreground process
 * group, the child included: sending it again would deliver it twice.
 */
static void
forward_cb(int sig, siginfo_t *si, void *ctx)
{
	int	saved = errno;

	(void)ctx;
	if (child_pid > 0 && (si == NULL || si->si_code != SI_KERNEL))
		kill((pid_t)child_pid, sig);
	errno = saved;
}

/* Run a command as flock(1) does; returns its exit status, 128+N if killed. */
static int
run(const char *what, char **cmd)
{
	struct sigaction	 sa, old[NFORWARDED];
	sigset_t		 block, mask;
	pid_t			 pid;
	size_t			 i;
	int			 status, rv;

	/* Blocked across fork: none is lost before the forwarder is set. */
	sigemptyset(&block);
	for (i = 0; i < NFORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	sigprocmask(SIG_BLOCK, &block, &mask);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "qlock: %s: fork: %s\n", what, strerror(errno));
		sigprocmask(SIG_SETMASK, &mask, NULL);
		return EXIT_ERROR;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &mask, NULL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "qlock: %s: %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward_cb;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &sa, &old[i]);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "qlock: %s: waitpid: %s\n", what,
			    strerror(errno));
			status = -1;
			break;
		}
	}
	for (i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &old[i], NULL);
	child_pid = 0;

	if (status == -1)
		rv = EXIT_ERROR;
	else if (WIFEXITED(status))
		rv = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rv = 128 + WTERMSIG(status);
	else
		rv = EXIT_ERROR;
	return rv;
}

static int
cmd_lock(qlock *c, struct args *a)
{
	int	st, rv;

	st = qlock_lock_acquire(c, a->pos[0], a->timeout);
	if (st != QLOCK_OK)
		return outcome(c, a->what, a->pos[0], st);
	rv = run(a->what, a->cmd);
	/* A lost release still leaves the command's status to report. */
	if ((st = qlock_lock_release(c, a->pos[0])) != QLOCK_OK)
		fprintf(stderr, "qlock: lock %s: release: %s\n", a->pos[0],
		    qlock_last_error(c));
	return rv;
}

static int
cmd_sem(qlock *c, struct args *a)
{
	int64_t	value;
	int	st, rv;

	if (parse_int(a->pos[1], &value) == -1 || value < LONG_MIN ||
	    value > LONG_MAX) {
		fprintf(stderr, "qlock: sem: bad VALUE: %s\n", a->pos[1]);
		return EXIT_ERROR;
	}
	if ((st = qlock_sem_open(c, a->pos[0], (long)value, 0)) != QLOCK_OK)
		return outcome(c, a->what, a->pos[0], st);
	if ((st = qlock_sem_acquire(c, a->pos[0], a->timeout)) != QLOCK_OK)
		return outcome(c, a->what, a->pos[0], st);
	rv = run(a->what, a->cmd);
	if ((st = qlock_sem_release(c, a->pos[0])) != QLOCK_OK)
		fprintf(stderr, "qlock: sem %s: release: %s\n", a->pos[0],
		    qlock_last_error(c));
	return rv;
}

static int
cmd_event_set(qlock *c, struct args *a)
{
	return outcome(c, a->what, a->pos[0], qlock_event_set(c, a->pos[0]));
}

static int
cmd_event_clear(qlock *c, struct args *a)
{
	return outcome(c, a->what, a->pos[0], qlock_event_clear(c, a->pos[0]));
}

static int
cmd_event_wait(qlock *c, struct args *a)
{
	return outcome(c, a->what, a->pos[0], qlock_event_wait(c, a->pos[0],
	    a->timeout));
}

static int
cmd_event_is_set(qlock *c, struct args *a)
{
	int	is_set, st;

	if ((st = qlock_event_is_set(c, a->pos[0], &is_set)) != QLOCK_OK)
		return outcome(c, a->what, a->pos[0], st);
	printf("%d\n", is_set ? 1 : 0);
	return EXIT_DONE;
}

/* dict get: an integer value prints in decimal, any other as its bytes. */
static int
cmd_dict_get(qlock *c, struct args *a)
{
	void	*val;
	size_t	 len;
	int64_t	 n;
	int	 st, rv;

	st = qlock_dict_get_int(c, a->pos[0], a->pos[1], &n);
	if (st == QLOCK_OK) {
		printf("%" PRId64 "%s", n, a->raw ? "" : "\n");
		return EXIT_DONE;
	}
	if (st == QLOCK_ETYPE)
		st = qlock_dict_get(c, a->pos[0], a->pos[1], &val, &len);
	if (st != QLOCK_OK)
		return outcome(c, a->what, a->pos[0], st);
	rv = print_bytes(val, len, a->raw);
	free(val);
	return rv;
}

static int
cmd_dict_set(qlock *c, struct args *a)
{
	int64_t	n;

	if (a->as_int) {
		if (parse_int(a->pos[2], &n) == -1) {
			fprintf(stderr, "qlock: dict set: not an integer: %s\n",
			    a->pos[2]);
			return EXIT_ERROR;
		}
		return outcome(c, a->what, a->pos[0],
		    qlock_dict_set_int(c, a->pos[0], a->pos[1], n));
	}
	return outcome(c, a->what, a->pos[0], qlock_dict_set(c, a->pos[0],
	    a->pos[1], a->pos[2], strlen(a->pos[2])));
}

static int
cmd_dict_del(qlock *c, struct args *a)
{
	return outcome(c, a->what, a->pos[0], qlock_dict_del(c, a->pos[0],
	    a->pos[1]));
}

static int
cmd_dict_incr(qlock *c, struct args *a)
{
	int64_t	delta = 1, n;
	int	st;

	if (a->npos > 2 && parse_int(a->pos[2], &delta) == -1) {
		fprintf(stderr, "qlock: dict incr: not an integer: %s\n",
		    a->pos[2]);
		return EXIT_ERROR;
	}
	st = qlock_dict_incr(c, a->pos[0], a->pos[1], delta, &n);
	if (st != QLOCK_OK)
		return outcome(c, a->what, a->pos[0], st);
	printf("%" PRId64 "\n", n);
	return EXIT_DONE;
}

/* Print a JSON string: quotes, backslashes and control bytes escaped. */
static void
print_json_string(const char *p, size_t len)
{
	size_t		i;
	unsigned char	ch;

	putchar('"');
	for (i = 0; i < len; i++) {
		ch = (unsigned char)p[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* Print any msgpack object as JSON: bytes as strings, integer map keys
 * quoted, what JSON cannot say (other keys, ext, NaN) as null or "?". */
static void
print_json(const msgpack_object *o, int depth)
{
	const msgpack_object	*k;
	uint32_t		 i;

	switch (depth > PRINT_DEPTH ? MSGPACK_OBJECT_NIL : o->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", stdout);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		printf("%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		printf("%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (isfinite(o->via.f64))
			printf("%.17g", o->via.f64);
		else
			fputs("null", stdout);
		break;
	case MSGPACK_OBJECT_STR:
		print_json_string(o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		print_json_string(o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		putchar('[');
		for (i = 0; i < o->via.array.size; i++) {
			if (i > 0)
				putchar(',');
			print_json(&o->via.array.ptr[i], depth + 1);
		}
		putchar(']');
		break;
	case MSGPACK_OBJECT_MAP:
		putchar('{');
		for (i = 0; i < o->via.map.size; i++) {
			k = &o->via.map.ptr[i].key;
			if (i > 0)
				putchar(',');
			if (k->type == MSGPACK_OBJECT_STR ||
			    k->type == MSGPACK_OBJECT_BIN)
				print_json(k, depth + 1);
			else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				printf("\"%" PRIu64 "\"", k->via.u64);
			else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
				printf("\"%" PRId64 "\"", k->via.i64);
			else
				fputs("\"?\"", stdout);
			putchar(':');
			print_json(&o->via.map.ptr[i].val, depth + 1);
		}
		putchar('}');
		break;
	default:
		fputs("null", stdout);
		break;
	}
}

static int
cmd_stats(qlock *c, struct args *a)
{
	msgpack_unpacked up;
	void		*buf;
	size_t		 len, off = 0;
	int		 st, rv = EXIT_DONE;

	if ((st = qlock_stats_raw(c, &buf, &len)) != QLOCK_OK)
		return outcome(c, a->what, NULL, st);
	if (!a->json) {
		rv = print_result(a->what, buf, len, false);
		free(buf);
		return rv;
	}
	/* --json: the whole map as one JSON object on one line. */
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		print_json(&up.data, 0);
		putchar('\n');
	} else {
		fprintf(stderr, "qlock: %s: cannot decode the result\n", a->what);
		rv = EXIT_ERROR;
	}
	msgpack_unpacked_destroy(&up);
	free(buf);
	return rv;
}

static int
cmd_list(qlock *c, struct args *a)
{
	void	*buf;
	size_t	 len;
	int	 st, rv;

	if ((st = qlock_list_raw(c, &buf, &len)) != QLOCK_OK)
		return outcome(c, a->what, NULL, st);
	rv = print_result(a->what, buf, len, true);
	free(buf);
	return rv;
}

/*
 * qlock work: a process pool fed by a joinable queue, as
 * multiprocessing.Pool is across machines.  Each of the -j slots takes,
 * runs and settles one item at a time on its own connection: the daemon's
 * task_done forgets the oldest item the session took, so a session that
 * holds one item always settles the right one, and if qlock work dies the
 * daemon gives back exactly the items whose commands had not finished.
 */

#define WORK_POLL	0.2	/* longest get: signals and exits seen by then */
#define WORK_POLL_MS	200	/* the same, for poll() */
#define WORK_WAIT_MS	1000	/* longest sleep with no get to make */
#define WORK_JOBS_MAX	1024	/* most commands -j allows at once */
#define WORK_LOG_MAX	200	/* most bytes of an item a log line shows */
#define WORK_FAILED	".failed" /* suffix of the queue of poison items */

/* What to do with an item whose command failed. */
enum work_policy {
	WORK_REQUEUE,	/* back on the queue; poison items to QUEUE.failed */
	WORK_DROP,	/* log it and call it done */
	WORK_MOVE,	/* put it on another queue */
};

/* One place for a command: its connection, its item, its process. */
struct slot {
	qlock		*c;		/* this slot's own connection */
	pid_t		 pid;		/* the command running, 0 when idle */
	void		*item;		/* the item taken (malloc'ed), or NULL */
	size_t		 len;		/* its length */
	size_t		 off;		/* bytes of it written to the stdin */
	int		 wfd;		/* the stdin pipe's write end, or -1 */
	bool		 signalled;	/* we sent the command SIGTERM */
	bool		 held;		/* settling failed: the session keeps the
					   item, for the daemon to give back */
};

/* Failures so far of one item's bytes, in this process. */
struct attempt {
	struct attempt	*next;		/* the next item's */
	long		 count;		/* failures so far */
	size_t		 len;		/* length of data */
	unsigned char	 data[];	/* the item's bytes */
};

/* The signals qlock work handles: stop signals (SIGHUP too, as SIGTERM,
 * unless ignored on entry), SIGCHLD, and SIGPIPE, which it ignores. */
static const int work_sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE };
#define WORK_NSIGS	(sizeof(work_sigs) / sizeof(work_sigs[0]))

/* The state of qlock work. */
struct work {
	const char	*queue;		/* QUEUE, the joinable queue taken from */
	char		*failed_queue;	/* QUEUE.failed, for poison items */
	const char	*target;	/* move:Q2's Q2 */
	enum work_policy policy;	/* --on-failure */
	long		 max_attempts;	/* failures before QUEUE.failed */
	double		 idle;		/* --timeout: stop after this long with
					   no item, negative: never */
	char		**cmd;		/* COMMAND... */
	struct slot	*slots;		/* -j of them */
	int		 nslots;	/* how many */
	int		 running;	/* slots with a command running */
	struct pollfd	*pfds;		/* poll set: wake pipe, stdin pipes */
	struct attempt	*attempts;	/* items that failed, to spot poison */
	int		 wake[2];	/* self-pipe the signal handler writes */
	sigset_t	 sigs;		/* the signals blocked across fork */
	struct sigaction old[WORK_NSIGS]; /* work_sigs' dispositions on entry,
					   restored for the commands */
	int		 stops_seen;	/* stop signals acted on */
	bool		 stopping;	/* take no more items */
	bool		 error;		/* something failed: exit 2 */
	unsigned long	 done;		/* commands that exited 0 */
	unsigned long	 failed;	/* commands that failed */
	unsigned long	 requeued;	/* items put back on the queue */
	unsigned long	 moved;		/* items put on another queue */
	unsigned long	 dropped;	/* items dropped */
};

/* For qlock work's signal handler: stop signals received, and the write
 * end of the pipe that wakes the loop (-1: none). */
static volatile sig_atomic_t work_stops;
static volatile sig_atomic_t work_wakefd = -1;

/* Count a stop signal or note a child's exit; wake the loop either way. */
static void
work_signal_cb(int sig)
{
	int	saved = errno;
	char	b = 0;

	if (sig != SIGCHLD)
		work_stops++;
	if (work_wakefd != -1)
		(void)!write(work_wakefd, &b, 1);
	errno = saved;
}

/* Seconds on the monotonic clock. */
static double
work_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void	work_log_item(const struct work *, const struct slot *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* Log a failed item: how its command ended, the item (escaped, cut
 * short), and what became of it. */
static void
work_log_item(const struct work *w, const struct slot *s, const char *why,
    const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "qlock: work %s: %s: item \"", w->queue, why);
	print_text(stderr, s->item, s->len < WORK_LOG_MAX ? s->len :
	    WORK_LOG_MAX);
	fprintf(stderr, "\"%s ", s->len > WORK_LOG_MAX ? "..." : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	putc('\n', stderr);
}

/* The failure record of the slot's item, or NULL; *prevp links to it. */
static struct attempt *
work_attempt_find(struct work *w, const struct slot *s,
    struct attempt ***prevp)
{
	struct attempt	**prev, *at;

	for (prev = &w->attempts; (at = *prev) != NULL; prev = &at->next) {
		if (at->len == s->len &&
		    (s->len == 0 || memcmp(at->data, s->item, s->len) == 0))
			break;
	}
	if (prevp != NULL)
		*prevp = prev;
	return at;
}

/* Count one more failure of the slot's item; returns the count so far. */
static long
work_attempt_fail(struct work *w, const struct slot *s)
{
	struct attempt	*at;

	if ((at = work_attempt_find(w, s, NULL)) == NULL) {
		if ((at = malloc(sizeof(*at) + s->len)) == NULL)
			return 1;	/* counted as a first failure */
		at->count = 0;
		at->len = s->len;
		if (s->len > 0)
			memcpy(at->data, s->item, s->len);
		at->next = w->attempts;
		w->attempts = at;
	}
	return ++at->count;
}

/* Forget the failures of the slot's item: it is done or gone. */
static void
work_attempt_forget(struct work *w, const struct slot *s)
{
	struct attempt	**prev, *at;

	if ((at = work_attempt_find(w, s, &prev)) != NULL) {
		*prev = at->next;
		free(at);
	}
}

/* Mark the slot's item done; -1 (logged, the item left to the daemon) if
 * the daemon refused. */
static int
work_task_done(struct work *w, struct slot *s)
{
	int	st;

	if ((st = qlock_queue_task_done(s->c, w->queue)) == QLOCK_OK)
		return 0;
	fprintf(stderr, "qlock: work %s: task_done: %s\n", w->queue,
	    qlock_last_error(s->c));
	s->held = true;
	w->error = w->stopping = true;
	return -1;
}

/* Put a copy of the slot's item on queue, then mark the original done:
 * join() never sees the item finished while it is still to be done. */
static int
work_move(struct work *w, struct slot *s, const char *queue)
{
	if (qlock_queue_put(s->c, queue, s->item, s->len, QLOCK_FOREVER) !=
	    QLOCK_OK) {
		/* The session keeps the original: given back at close. */
		fprintf(stderr, "qlock: work %s: put on %s: %s\n", w->queue,
		    queue, qlock_last_error(s->c));
		s->held = true;
		w->error = w->stopping = true;
		return -1;
	}
	return work_task_done(w, s);
}

/* Act on how a slot's command ended, and free the slot. */
static void
work_settle(struct work *w, struct slot *s, int status)
{
	char	why[64];
	long	n;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (work_task_done(w, s) == 0) {
			w->done++;
			work_attempt_forget(w, s);
		}
		goto out;
	}
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "exit %d", WEXITSTATUS(status));
	if (s->signalled) {
		/* We stopped it: not the item's failure, only unfinished. */
		work_log_item(w, s, why, "put back on %s", w->queue);
		if (work_move(w, s, w->queue) == 0)
			w->requeued++;
		goto out;
	}
	w->failed++;
	switch (w->policy) {
	case WORK_REQUEUE:
		if ((n = work_attempt_fail(w, s)) < w->max_attempts) {
			work_log_item(w, s, why, "requeued (failure %ld of %ld)",
			    n, w->max_attempts);
			if (work_move(w, s, w->queue) == 0)
				w->requeued++;
			break;
		}
		work_log_item(w, s, why, "moved to %s after %ld failures",
		    w->failed_queue, n);
		if (work_move(w, s, w->failed_queue) == 0) {
			w->moved++;
			work_attempt_forget(w, s);
		}
		break;
	case WORK_DROP:
		work_log_item(w, s, why, "dropped");
		if (work_task_done(w, s) == 0)
			w->dropped++;
		break;
	case WORK_MOVE:
		work_log_item(w, s, why, "moved to %s", w->target);
		if (work_move(w, s, w->target) == 0)
			w->moved++;
		break;
	}
out:
	free(s->item);
	s->item = NULL;
	s->pid = 0;
	w->running--;
}

/* Write what the pipe takes of the slot's item to its command's stdin;
 * close it when all is written or the command stopped reading. */
static void
work_feed(struct work *w, struct slot *s)
{
	ssize_t	n;

	while (s->wfd != -1 && s->off < s->len) {
		n = write(s->wfd, (char *)s->item + s->off, s->len - s->off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			/* EPIPE: the command ignores its stdin, as it may. */
			if (errno != EPIPE)
				fprintf(stderr, "qlock: work %s: write: %s\n",
				    w->queue, strerror(errno));
			break;
		}
		s->off += (size_t)n;
	}
	if (s->wfd != -1) {
		close(s->wfd);
		s->wfd = -1;
	}
}

/* Start the command for the slot's item, in its own process group (a ^C
 * at the terminal reaches qlock work alone, which lets it finish). */
static int
work_spawn(struct work *w, struct slot *s)
{
	sigset_t	mask;
	size_t		i;
	pid_t		pid;
	int		fds[2];

	if (pipe2(fds, O_CLOEXEC) == -1) {
		fprintf(stderr, "qlock: work %s: pipe: %s\n", w->queue,
		    strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	/* Blocked across fork: the child's handlers are reset first. */
	sigprocmask(SIG_BLOCK, &w->sigs, &mask);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "qlock: work %s: fork: %s\n", w->queue,
		    strerror(errno));
		sigprocmask(SIG_SETMASK, &mask, NULL);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		(void)setpgid(0, 0);
		for (i = 0; i < WORK_NSIGS; i++)
			sigaction(work_sigs[i], &w->old[i], NULL);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		if (fds[0] == STDIN_FILENO)
			(void)fcntl(fds[0], F_SETFD, 0);
		else if (dup2(fds[0], STDIN_FILENO) == -1)
			_exit(126);
		execvp(w->cmd[0], w->cmd);
		fprintf(stderr, "qlock: work: %s: %s\n", w->cmd[0],
		    strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	(void)setpgid(pid, pid);	/* either side may win the race */
	sigprocmask(SIG_SETMASK, &mask, NULL);
	close(fds[0]);
	(void)fcntl(fds[1], F_SETFL, O_NONBLOCK);
	s->pid = pid;
	s->wfd = fds[1];
	s->off = 0;
	s->signalled = false;
	w->running++;
	work_feed(w, s);
	return 0;
}

/* Take an item for an idle slot, waiting at most timeout, and start its
 * command; QLOCK_EMPTY when none came, another status on an error. */
static int
work_take(struct work *w, struct slot *s, double timeout)
{
	int	st;

	st = qlock_queue_get(s->c, w->queue, &s->item, &s->len, timeout);
	if (st == QLOCK_EMPTY)
		return st;
	if (st != QLOCK_OK) {
		fprintf(stderr, "qlock: work %s: get: %s\n", w->queue,
		    qlock_last_error(s->c));
		w->error = w->stopping = true;
		return st;
	}
	/* Told to stop while waiting, or unable to run it: give it back. */
	if (work_stops > 0 || work_spawn(w, s) == -1) {
		if (work_stops == 0)
			w->error = w->stopping = true;
		if (work_move(w, s, w->queue) == 0)
			w->requeued++;
		free(s->item);
		s->item = NULL;
	}
	return QLOCK_OK;
}

/* Collect the commands that ended and settle their items. */
static void
work_reap(struct work *w)
{
	struct slot	*s;
	pid_t		 pid;
	int		 i, status;

	for (i = 0; i < w->nslots; i++) {
		s = &w->slots[i];
		if (s->pid == 0)
			continue;
		while ((pid = waitpid(s->pid, &status, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		if (pid == 0)
			continue;
		if (pid == -1) {
			/* Cannot happen with SIGCHLD not ignored. */
			fprintf(stderr, "qlock: work %s: waitpid: %s\n",
			    w->queue, strerror(errno));
			status = 1 << 8;	/* as "exit 1" */
		}
		if (s->wfd != -1) {
			close(s->wfd);
			s->wfd = -1;
		}
		work_settle(w, s, status);
	}
}

/* Act on new stop signals: the first stops taking items, each later one
 * sends SIGTERM to the commands still running. */
static void
work_signals(struct work *w)
{
	struct slot	*s;
	int		 i, stops = work_stops;

	if (stops == 0 || stops == w->stops_seen)
		return;
	if (w->stops_seen == 0) {
		w->stopping = true;
		if (w->running > 0)
			fprintf(stderr, "qlock: work %s: stopping: waiting "
			    "for %d command%s (signal again to terminate)\n",
			    w->queue, w->running, w->running == 1 ? "" : "s");
	}
	if (stops > 1) {
		for (i = 0; i < w->nslots; i++) {
			s = &w->slots[i];
			if (s->pid == 0)
				continue;
			if (kill(-s->pid, SIGTERM) == -1)
				(void)kill(s->pid, SIGTERM);
			s->signalled = true;
		}
	}
	w->stops_seen = stops;
}

/* Sleep at most ms, until a signal or a stdin pipe that can take more. */
static void
work_wait(struct work *w, int ms)
{
	char	buf[64];
	nfds_t	n = 0;
	int	i;

	w->pfds[n].fd = w->wake[0];
	w->pfds[n++].events = POLLIN;
	for (i = 0; i < w->nslots; i++) {
		if (w->slots[i].wfd == -1)
			continue;
		w->pfds[n].fd = w->slots[i].wfd;
		w->pfds[n++].events = POLLOUT;
	}
	(void)poll(w->pfds, n, ms);
	while (read(w->wake[0], buf, sizeof(buf)) > 0)
		;
}

/* Handle the stop signals and SIGCHLD; ignore SIGPIPE (a command that
 * does not read its stdin).  A SIGINT or SIGHUP ignored on entry, as in
 * a background job, stays ignored. */
static int
work_signals_setup(struct work *w)
{
	struct sigaction	sa;
	size_t			i;

	if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		fprintf(stderr, "qlock: work: pipe: %s\n", strerror(errno));
		return -1;
	}
	work_wakefd = w->wake[1];
	sigemptyset(&w->sigs);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < WORK_NSIGS; i++) {
		sigaddset(&w->sigs, work_sigs[i]);
		sigaction(work_sigs[i], NULL, &w->old[i]);
		sa.sa_flags = SA_RESTART;
		if (work_sigs[i] == SIGPIPE)
			sa.sa_handler = SIG_IGN;
		else if ((work_sigs[i] == SIGINT || work_sigs[i] == SIGHUP) &&
		    w->old[i].sa_handler == SIG_IGN)
			continue;
		else {
			sa.sa_handler = work_signal_cb;
			if (work_sigs[i] == SIGCHLD)
				sa.sa_flags |= SA_NOCLDSTOP;
		}
		sigaction(work_sigs[i], &sa, NULL);
	}
	return 0;
}

/* Restore the signal dispositions and close the self-pipe. */
static void
work_signals_restore(struct work *w)
{
	size_t	i;

	for (i = 0; i < WORK_NSIGS; i++)
		sigaction(work_sigs[i], &w->old[i], NULL);
	work_wakefd = -1;
	close(w->wake[0]);
	close(w->wake[1]);
}

/* Read work's options (checked by args_parse) into w; -1 if out of
 * memory. */
static int
work_options(struct work *w, const struct args *a)
{
	const char	*p = a->on_failure;

	w->queue = a->pos[0];
	w->cmd = a->cmd;
	w->idle = a->timeout;
	w->nslots = a->jobs > 0 ? (int)a->jobs : 1;
	w->max_attempts = a->max_attempts > 0 ? a->max_attempts : 3;
	w->policy = WORK_REQUEUE;
	if (p != NULL && strcmp(p, "drop") == 0)
		w->policy = WORK_DROP;
	else if (p != NULL && strncmp(p, "move:", 5) == 0) {
		w->policy = WORK_MOVE;
		w->target = p + 5;
	}
	if ((w->failed_queue = malloc(strlen(w->queue) +
	    sizeof(WORK_FAILED))) == NULL) {
		fprintf(stderr, "qlock: work: %s\n", strerror(errno));
		return -1;
	}
	strcpy(w->failed_queue, w->queue);
	strcat(w->failed_queue, WORK_FAILED);
	return 0;
}

/* Run the pool until --timeout passes with no item, a stop signal, or an
 * error; every item taken is settled (done, put back or moved) first. */
static void
work_loop(struct work *w)
{
	struct slot	*s;
	double		 idle_since, t, left;
	bool		 pending;
	int		 i, st;

	idle_since = work_now();
	for (;;) {
		work_reap(w);
		work_signals(w);
		pending = false;
		for (i = 0; i < w->nslots; i++) {
			work_feed(w, &w->slots[i]);
			pending |= w->slots[i].wfd != -1;
		}
		if (w->stopping && w->running == 0)
			break;
		for (s = NULL, i = 0; i < w->nslots && !w->stopping; i++) {
			if (w->slots[i].pid == 0 && !w->slots[i].held) {
				s = &w->slots[i];
				break;
			}
		}
		if (s == NULL) {
			/* Every slot busy: the --timeout clock waits. */
			idle_since = work_now();
			work_wait(w, pending ? WORK_POLL_MS : WORK_WAIT_MS);
			continue;
		}
		/* A stdin still to feed: do not wait in the daemon. */
		t = pending ? 0 : WORK_POLL;
		if (w->idle >= 0) {
			left = w->idle - (work_now() - idle_since);
			t = left < 0 ? 0 : left < t ? left : t;
		}
		if ((st = work_take(w, s, t)) == QLOCK_OK) {
			idle_since = work_now();
			continue;
		}
		if (st != QLOCK_EMPTY)
			continue;
		if (w->idle >= 0 && work_now() - idle_since >= w->idle)
			w->stopping = true;
		else if (pending)
			work_wait(w, WORK_POLL_MS);
	}
}

/* qlock work: open QUEUE joinable, a connection per slot, run the pool. */
static int
cmd_work(qlock *c, struct args *a)
{
	struct work		 w;
	struct attempt		*at;
	int			 i, st;

	memset(&w, 0, sizeof(w));
	w.wake[0] = w.wake[1] = -1;
	if (work_options(&w, a) == -1)
		return EXIT_ERROR;
	if ((st = qlock_queue_open(c, w.queue, 0, QLOCK_JOINABLE)) !=
	    QLOCK_OK) {
		free(w.failed_queue);
		return outcome(c, a->what, w.queue, st);
	}
	if ((w.slots = calloc((size_t)w.nslots, sizeof(*w.slots))) == NULL ||
	    (w.pfds = calloc((size_t)w.nslots + 1, sizeof(*w.pfds))) ==
	    NULL) {
		fprintf(stderr, "qlock: work: %s\n", strerror(errno));
		w.error = true;
		goto out;
	}
	for (i = 0; i < w.nslots; i++) {
		w.slots[i].wfd = -1;
		w.slots[i].c = i == 0 ? c : connect_with(a->address,
		    a->keyfile, &st);
		if (w.slots[i].c == NULL) {
			fprintf(stderr, "qlock: work: connect: %s\n",
			    qlock_last_error(NULL));
			w.error = true;
			goto out;
		}
	}
	if (work_signals_setup(&w) == -1) {
		w.error = true;
		goto out;
	}
	work_loop(&w);
	work_signals_restore(&w);
	fprintf(stderr, "qlock: work %s: done %lu, failed %lu, requeued %lu, "
	    "moved %lu, dropped %lu\n", w.queue, w.done, w.failed, w.requeued,
	    w.moved, w.dropped);
out:
	/* A slot's connection closing gives back any item it still holds. */
	for (i = 1; w.slots != NULL && i < w.nslots; i++) {
		if (w.slots[i].c != NULL)
			qlock_close(w.slots[i].c);
	}
	while ((at = w.attempts) != NULL) {
		w.attempts = at->next;
		free(at);
	}
	free(w.slots);
	free(w.pfds);
	free(w.failed_queue);
	return w.error ? EXIT_ERROR : EXIT_DONE;
}

static const struct cmd cmds[] = {
	{ "put", NULL, 2, 2, OPT_TIMEOUT, cmd_put, "QUEUE ITEM [--timeout S]" },
	{ "get", NULL, 1, 1, OPT_TIMEOUT | OPT_RAW, cmd_get,
	  "QUEUE [--timeout S] [--raw]" },
	{ "size", NULL, 1, 1, 0, cmd_size, "QUEUE" },
	{ "lock", NULL, 1, 1, OPT_TIMEOUT | OPT_COMMAND, cmd_lock,
	  "NAME [--timeout S] -- COMMAND..." },
	{ "sem", NULL, 2, 2, OPT_TIMEOUT | OPT_COMMAND, cmd_sem,
	  "NAME VALUE [--timeout S] -- COMMAND..." },
	{ "event", "set", 1, 1, 0, cmd_event_set, "NAME" },
	{ "event", "clear", 1, 1, 0, cmd_event_clear, "NAME" },
	{ "event", "wait", 1, 1, OPT_TIMEOUT, cmd_event_wait,
	  "NAME [--timeout S]" },
	{ "event", "is_set", 1, 1, 0, cmd_event_is_set, "NAME" },
	{ "dict", "get", 2, 2, OPT_RAW, cmd_dict_get, "DICT KEY [--raw]" },
	{ "dict", "set", 3, 3, OPT_INT, cmd_dict_set,
	  "DICT KEY VALUE [--int]" },
	{ "dict", "del", 2, 2, 0, cmd_dict_del, "DICT KEY" },
	{ "dict", "incr", 2, 3, 0, cmd_dict_incr, "DICT KEY [DELTA]" },
	{ "stats", NULL, 0, 0, OPT_JSON, cmd_stats, "[--json]" },
	{ "list", NULL, 0, 0, 0, cmd_list, "" },
	{ "ping", NULL, 0, 0, 0, cmd_ping, "" },
	{ "delete", NULL, 1, 1, 0, cmd_delete, "NAME" },
	{ "work", NULL, 1, 1, OPT_TIMEOUT | OPT_COMMAND | OPT_WORK, cmd_work,
	  "QUEUE [-j N] [--on-failure requeue|drop|move:QUEUE2]\n"
	  "        [--max-attempts N] [--timeout S] -- COMMAND..." },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *f, int status)
{
	size_t	i;

	fprintf(f, "usage: qlock [-a ADDR] [-k AUTHKEY_FILE] COMMAND [ARG...]\n"
	    "  -a, --address ADDR        HOST:PORT, [V6]:PORT or unix:/PATH "
	    "(default: $QLOCK_ADDRESS, 127.0.0.1:7450)\n"
	    "  -k, --authkey-file PATH   the shared key (default: "
	    "$QLOCK_AUTHKEY, $QLOCK_AUTHKEY_FILE)\n"
	    "  -h, --help                this message\n"
	    "commands:\n");
	for (i = 0; i < NCMDS; i++) {
		fprintf(f, "  %s%s%s%s%s\n", cmds[i].group,
		    cmds[i].sub != NULL ? " " : "",
		    cmds[i].sub != NULL ? cmds[i].sub : "",
		    *cmds[i].usage != '\0' ? " " : "", cmds[i].usage);
	}
	fprintf(f, "a timeout S is in seconds (negative or absent: for ever, "
	    "0: do not wait)\n"
	    "exit status: 0 done, 1 not done in time, 2 error; lock and sem "
	    "exit as COMMAND\n"
	    "work: run COMMAND for each item of the joinable QUEUE, the item "
	    "on its stdin,\n"
	    "  at most N (default 1) at once; exit 0 marks the item done. On "
	    "failure:\n"
	    "  requeue (default) puts it back on QUEUE, but after "
	    "--max-attempts (default 3)\n"
	    "  failures of the same bytes in this process moves it to "
	    "QUEUE.failed;\n"
	    "  drop logs it to stderr; move:QUEUE2 puts it on QUEUE2. "
	    "--timeout S: stop\n"
	    "  when no item came for S seconds (default: never). SIGTERM or "
	    "SIGINT: take\n"
	    "  no more, let the running commands finish, settle their items, "
	    "exit 0;\n"
	    "  signalled again, it sends them SIGTERM and puts their items "
	    "back.\n"
	    "  Exit 0 when stopped, 2 on an error.\n");
	exit(status);
}

/* The usage of one command, after a mistake in its arguments. */
static void
cmd_usage(const struct cmd *cmd, const char *what)
{
	fprintf(stderr, "usage: qlock [-a ADDR] [-k AUTHKEY_FILE] %s%s%s\n",
	    what, *cmd->usage != '\0' ? " " : "", cmd->usage);
	exit(EXIT_ERROR);
}

/* Find the command named by argv; *used is how many words it takes. */
static const struct cmd *
cmd_find(int argc, char **argv, int *used)
{
	size_t	i;
	bool	group = false;

	for (i = 0; i < NCMDS; i++) {
		if (strcmp(argv[0], cmds[i].group) != 0)
			continue;
		if (cmds[i].sub == NULL) {
			*used = 1;
			return &cmds[i];
		}
		group = true;
		if (argc > 1 && strcmp(argv[1], cmds[i].sub) == 0) {
			*used = 2;
			return &cmds[i];
		}
	}
	if (group)
		fprintf(stderr, "qlock: %s: unknown or missing subcommand\n",
		    argv[0]);
	else
		fprintf(stderr, "qlock: %s: unknown command\n", argv[0]);
	return NULL;
}

/* True if s is a negative number, hence an operand rather than an option. */
static bool
is_number(const char *s)
{
	char	*end;

	(void)strtod(s, &end);
	return end != s && *end == '\0';
}

/* The options that take a value. */
enum valopt_id { VO_TIMEOUT, VO_JOBS, VO_ON_FAILURE, VO_MAX_ATTEMPTS };

/* An option with a value: its spellings and the OPT_* allowing it. */
static const struct valopt {
	enum valopt_id	 id;		/* which one */
	const char	*lng;		/* --name, also as --name=VALUE */
	const char	*shrt;		/* -n, also as -nVALUE; NULL if none */
	int		 opt;		/* OPT_* of the commands accepting it */
} valopts[] = {
	{ VO_TIMEOUT,	   "--timeout",	     "-t", OPT_TIMEOUT },
	{ VO_JOBS,	   "--jobs",	     "-j", OPT_WORK },
	{ VO_ON_FAILURE,   "--on-failure",   NULL, OPT_WORK },
	{ VO_MAX_ATTEMPTS, "--max-attempts", NULL, OPT_WORK },
};
#define NVALOPTS (sizeof(valopts) / sizeof(valopts[0]))

/*
 * The option argv[*i] spells, or NULL; *val is its value, from the same
 * word or the next (*i then moves on to it), NULL if missing.
 */
static const struct valopt *
valopt_find(int argc, char **argv, int *i, const char **val)
{
	const char	*w = argv[*i];
	size_t		 k, n;

	for (k = 0; k < NVALOPTS; k++) {
		n = strlen(valopts[k].lng);
		if (strncmp(w, valopts[k].lng, n) == 0 && w[n] == '=') {
			*val = w + n + 1;
			return &valopts[k];
		}
		if (valopts[k].shrt != NULL && strncmp(w, valopts[k].shrt,
		    2) == 0 && w[2] != '\0') {
			*val = w + 2;
			return &valopts[k];
		}
		if (strcmp(w, valopts[k].lng) == 0 || (valopts[k].shrt !=
		    NULL && strcmp(w, valopts[k].shrt) == 0)) {
			*val = *i + 1 < argc ? argv[++*i] : NULL;
			return &valopts[k];
		}
	}
	return NULL;
}

/* Parse a count from 1 to max; -1 if it is not one. */
static int
parse_count(const char *s, long max, long *n)
{
	int64_t	v;

	if (parse_int(s, &v) == -1 || v < 1 || v > max)
		return -1;
	*n = (long)v;
	return 0;
}

/* Store an option's value in a; -1 after a message if it is bad. */
static int
valopt_set(const struct valopt *o, const char *val, struct args *a)
{
	switch (o->id) {
	case VO_TIMEOUT:
		if (parse_timeout(val, &a->timeout) == 0)
			return 0;
		break;
	case VO_JOBS:
		if (parse_count(val, WORK_JOBS_MAX, &a->jobs) == 0)
			return 0;
		break;
	case VO_MAX_ATTEMPTS:
		if (parse_count(val, LONG_MAX, &a->max_attempts) == 0)
			return 0;
		break;
	case VO_ON_FAILURE:
		if (strcmp(val, "requeue") == 0 || strcmp(val, "drop") == 0 ||
		    (strncmp(val, "move:", 5) == 0 && val[5] != '\0')) {
			a->on_failure = val;
			return 0;
		}
		fprintf(stderr, "qlock: %s: --on-failure: requeue, drop or "
		    "move:QUEUE2, not %s\n", a->what, val);
		return -1;
	}
	fprintf(stderr, "qlock: %s: bad %s: %s\n", a->what, o->lng, val);
	return -1;
}

/* Sort a command's words into options, operands and the command to run. */
static int
args_parse(const struct cmd *cmd, int argc, char **argv, struct args *a)
{
	const struct valopt	*o;
	const char		*val;
	int			 i, n = 0;

	a->timeout = QLOCK_FOREVER;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			if (cmd->opts & OPT_COMMAND) {
				a->cmd = argv + i + 1;
				break;
			}
			while (++i < argc)	/* the rest are operands */
				argv[n++] = argv[i];
			break;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0' ||
		    is_number(argv[i])) {
			argv[n++] = argv[i];	/* compacted in place */
			continue;
		}
		if ((o = valopt_find(argc, argv, &i, &val)) != NULL &&
		    (cmd->opts & o->opt)) {
			if (val == NULL) {
				fprintf(stderr, "qlock: %s: option needs a "
				    "value\n", o->lng);
				return -1;
			}
			if (valopt_set(o, val, a) == -1)
				return -1;
		} else if (o == NULL && strcmp(argv[i], "--raw") == 0 &&
		    (cmd->opts & OPT_RAW))
			a->raw = true;
		else if (o == NULL && strcmp(argv[i], "--int") == 0 &&
		    (cmd->opts & OPT_INT))
			a->as_int = true;
		else if (o == NULL && strcmp(argv[i], "--json") == 0 &&
		    (cmd->opts & OPT_JSON))
			a->json = true;
		else {
			fprintf(stderr, "qlock: %s: unknown option %s\n",
			    a->what, o != NULL ? o->lng : argv[i]);
			return -1;
		}
	}
	a->pos = argv;
	a->npos = n;
	if (n < cmd->minpos || n > cmd->maxpos) {
		fprintf(stderr, "qlock: %s: wrong number of arguments\n",
		    a->what);
		return -1;
	}
	if ((cmd->opts & OPT_COMMAND) &&
	    (a->cmd == NULL || a->cmd[0] == NULL)) {
		fprintf(stderr, "qlock: %s: no command after --\n", a->what);
		return -1;
	}
	return 0;
}

/* Restore an environment variable to a saved value (NULL: unset). */
static void
env_restore(const char *name, char *saved)
{
	if (saved != NULL) {
		setenv(name, saved, 1);
		free(saved);
	} else
		unsetenv(name);
}

/* Connect; a key file from -k goes to the library as QLOCK_AUTHKEY_FILE. */
static qlock *
connect_with(const char *address, const char *keyfile, int *st)
{
	qlock	*c;
	char	*key = NULL, *file = NULL;
	char	*v;

	if (keyfile == NULL)
		return qlock_connect(address, NULL, st);
	/* Kept from the command that lock and sem run: restored after. */
	if ((v = getenv("QLOCK_AUTHKEY")) != NULL && (key = strdup(v)) == NULL)
		goto nomem;
	if ((v = getenv("QLOCK_AUTHKEY_FILE")) != NULL &&
	    (file = strdup(v)) == NULL)
		goto nomem;
	if (unsetenv("QLOCK_AUTHKEY") == -1 ||
	    setenv("QLOCK_AUTHKEY_FILE", keyfile, 1) == -1)
		goto nomem;
	c = qlock_connect(address, NULL, st);
	env_restore("QLOCK_AUTHKEY", key);
	env_restore("QLOCK_AUTHKEY_FILE", file);
	return c;
nomem:
	fprintf(stderr, "qlock: %s\n", strerror(errno));
	exit(EXIT_ERROR);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "address",	  required_argument, NULL, 'a' },
		{ "authkey-file", required_argument, NULL, 'k' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ NULL,		  0,		     NULL, 0 }
	};
	const struct cmd	*cmd;
	struct args		 a;
	const char		*address = NULL, *keyfile = NULL;
	char			 what[64];
	qlock			*c;
	int			 ch, used, st, rv;

	/* "+": stop at the command, whose own options come after it. */
	while ((ch = getopt_long(argc, argv, "+a:k:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			address = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'h':
			usage(stdout, EXIT_DONE);
		default:
			usage(stderr, EXIT_ERROR);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(stderr, EXIT_ERROR);
	if ((cmd = cmd_find(argc, argv, &used)) == NULL)
		usage(stderr, EXIT_ERROR);

	memset(&a, 0, sizeof(a));
	snprintf(what, sizeof(what), "%s%s%s", cmd->group,
	    cmd->sub != NULL ? " " : "", cmd->sub != NULL ? cmd->sub : "");
	a.what = what;
	a.address = address;
	a.keyfile = keyfile;
	if (args_parse(cmd, argc - used, argv + used, &a) == -1)
		cmd_usage(cmd, what);

	if ((c = connect_with(address, keyfile, &st)) == NULL) {
		fprintf(stderr, "qlock: connect: %s\n", qlock_last_error(NULL));
		return EXIT_ERROR;
	}
	rv = cmd->exec(c, &a);
	qlock_close(c);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "qlock: write: %s\n", strerror(errno));
		return EXIT_ERROR;
	}
	return rv;
}
