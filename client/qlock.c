/* qlock.c: qlock(1): qlockd's queues, locks, events, dicts from the shell. */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A command line after parsing. */
struct args {
	const char	*what;		/* "get", "dict set"...: for messages */
	double		 timeout;	/* --timeout, QLOCK_FOREVER if absent */
	bool		 raw;		/* --raw: print the bytes exactly */
	bool		 as_int;	/* --int: dict set stores an integer */
	int		 npos;		/* number of operands */
	char		**pos;		/* operands (points into argv) */
	char		**cmd;		/* after "--": the command to run */
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
print_text(const char *p, size_t len)
{
	size_t		i;
	unsigned char	ch;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			printf("\\x%02x", ch);
		else
			putchar(ch);
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
		print_text(o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		print_text(o->via.bin.ptr, o->via.bin.size);
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

static int
cmd_stats(qlock *c, struct args *a)
{
	void	*buf;
	size_t	 len;
	int	 st, rv;

	if ((st = qlock_stats_raw(c, &buf, &len)) != QLOCK_OK)
		return outcome(c, a->what, NULL, st);
	rv = print_result(a->what, buf, len, false);
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
	{ "stats", NULL, 0, 0, 0, cmd_stats, "" },
	{ "list", NULL, 0, 0, 0, cmd_list, "" },
	{ "ping", NULL, 0, 0, 0, cmd_ping, "" },
	{ "delete", NULL, 1, 1, 0, cmd_delete, "NAME" },
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
	    "exit as COMMAND\n");
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

/* Sort a command's words into options, operands and the command to run. */
static int
args_parse(const struct cmd *cmd, int argc, char **argv, struct args *a)
{
	const char	*val;
	int		 i, n = 0;

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
		val = NULL;
		if (strcmp(argv[i], "--timeout") == 0 ||
		    strcmp(argv[i], "-t") == 0) {
			if (++i == argc) {
				fprintf(stderr, "qlock: %s: option needs a "
				    "value\n", argv[i - 1]);
				return -1;
			}
			val = argv[i];
		} else if (strncmp(argv[i], "--timeout=", 10) == 0)
			val = argv[i] + 10;
		if (val != NULL && (cmd->opts & OPT_TIMEOUT)) {
			if (parse_timeout(val, &a->timeout) == -1) {
				fprintf(stderr, "qlock: bad timeout: %s\n",
				    val);
				return -1;
			}
		} else if (strcmp(argv[i], "--raw") == 0 &&
		    (cmd->opts & OPT_RAW))
			a->raw = true;
		else if (strcmp(argv[i], "--int") == 0 && (cmd->opts & OPT_INT))
			a->as_int = true;
		else {
			fprintf(stderr, "qlock: %s: unknown option %s\n",
			    a->what, val != NULL ? "--timeout" : argv[i]);
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
