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
#include "qlock_int.h"

static void	usage(FILE *, int) __attribute__((noreturn));
static void	cmd_usage(const struct cmd *, const char *)
		    __attribute__((noreturn));

static const struct cmd cmds[] = {
	{ "put", NULL, 1, 2, OPT_TIMEOUT | OPT_FILE, cmd_put,
	  "QUEUE [ITEM | - | -f FILE] [--timeout S]" },
	{ "get", NULL, 1, 1, OPT_TIMEOUT | OPT_RAW, cmd_get,
	  "QUEUE [--timeout S] [--raw]" },
	{ "size", NULL, 1, 1, 0, cmd_size, "QUEUE" },
	{ "state", NULL, 1, 1, 0, cmd_state, "QUEUE" },
	{ "lock", NULL, 1, 1, OPT_TIMEOUT | OPT_WAIT | OPT_COMMAND, cmd_lock,
	  "NAME [-w S | -n] -- COMMAND..." },
	{ "sem", NULL, 2, 2, OPT_TIMEOUT | OPT_WAIT | OPT_COMMAND, cmd_sem,
	  "NAME VALUE [-w S | -n] -- COMMAND..." },
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

	fprintf(f, "usage: qlock [-v] [-a ADDR] [-k AUTHKEY_FILE] [-T S] "
	    "COMMAND [ARG...]\n"
	    "  -a, --address ADDR        HOST:PORT, [V6]:PORT or unix:/PATH, "
	    "or several, comma-separated\n"
	    "                            (default: $QLOCK_ADDRESS, "
	    "127.0.0.1:7450)\n"
	    "  -k, --authkey-file PATH   the shared key (default: "
	    "$QLOCK_AUTHKEY, $QLOCK_AUTHKEY_FILE)\n"
	    "  -T, --connect-timeout S   give up connecting after S seconds "
	    "(0: never;\n"
	    "                            default: $QLOCK_CONNECT_TIMEOUT, "
	    "10)\n"
	    "  -v, --verbose             say why the exit status is 1\n"
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
	    "lock, sem: -w S waits at most S seconds (as --timeout), -n not "
	    "at all; COMMAND\n"
	    "  gets the lock's fencing token in $QLOCK_LOCK_TOKEN, is stopped "
	    "(SIGTERM, then\n"
	    "  SIGKILL after 5 s) if the connection is lost, and killed if "
	    "qlock is\n"
	    "  killed\n"
	    "put: without ITEM, or with -, the item is standard input, byte "
	    "for byte\n"
	    "  (a lone dash as the item: printf - | qlock put QUEUE)\n"
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
enum valopt_id { VO_TIMEOUT, VO_JOBS, VO_ON_FAILURE, VO_MAX_ATTEMPTS,
	VO_FILE };

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
	{ VO_FILE,	   "--file",	     "-f", OPT_FILE },
	{ VO_TIMEOUT,	   "--wait",	     "-w", OPT_WAIT },
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
	case VO_FILE:
		a->file = val;
		return 0;
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
		else if (o == NULL && (strcmp(argv[i], "-n") == 0 ||
		    strcmp(argv[i], "--nonblock") == 0) &&
		    (cmd->opts & OPT_WAIT))
			a->timeout = 0;
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

/* Connect within -T's timeout, else the environment's. */
static qlock *
connect_timed(const struct args *a, int *st)
{
	if (isnan(a->connect_timeout))
		return qlock_connect(a->address, NULL, st);
	return qlock_connect_timeout(a->address, NULL, a->connect_timeout, st);
}

/* Connect; a key file from -k goes to the library as QLOCK_AUTHKEY_FILE. */
qlock *
connect_with(const struct args *a, int *st)
{
	qlock	*c;
	char	*key = NULL, *file = NULL;
	char	*v;

	if (a->keyfile == NULL)
		return connect_timed(a, st);
	/* Kept from the command that lock and sem run: restored after. */
	if ((v = getenv("QLOCK_AUTHKEY")) != NULL && (key = strdup(v)) == NULL)
		goto nomem;
	if ((v = getenv("QLOCK_AUTHKEY_FILE")) != NULL &&
	    (file = strdup(v)) == NULL)
		goto nomem;
	if (unsetenv("QLOCK_AUTHKEY") == -1 ||
	    setenv("QLOCK_AUTHKEY_FILE", a->keyfile, 1) == -1)
		goto nomem;
	c = connect_timed(a, st);
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
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ "verbose",	  no_argument,	     NULL, 'v' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ NULL,		  0,		     NULL, 0 }
	};
	const struct cmd	*cmd;
	struct args		 a;
	const char		*address = NULL, *keyfile = NULL;
	double			 ctimeout = NAN;
	bool			 verbose = false;
	char			 what[64];
	qlock			*c;
	int			 ch, used, st, rv;

	/* "+": stop at the command, whose own options come after it. */
	while ((ch = getopt_long(argc, argv, "+a:k:T:vh", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'a':
			address = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'T':
			if (parse_timeout(optarg, &ctimeout) == -1) {
				fprintf(stderr, "qlock: bad --connect-timeout:"
				    " %s\n", optarg);
				usage(stderr, EXIT_ERROR);
			}
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
	a.connect_timeout = ctimeout;
	a.verbose = verbose;
	if (args_parse(cmd, argc - used, argv + used, &a) == -1)
		cmd_usage(cmd, what);

	if ((c = connect_with(&a, &st)) == NULL) {
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
