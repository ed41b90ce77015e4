/* config.c: defaults, the option table, command-line and config-file
 * parsing, and the authkey file. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "config.h"
#include "util.h"

#define DEFAULT_LISTEN	"127.0.0.1:7450"

enum opt_type { OPT_FLAG, OPT_INT, OPT_SIZE, OPT_SECONDS, OPT_STRING,
    OPT_LISTEN, OPT_FSYNC, OPT_LOGLEVEL, OPT_MODE, OPT_PEER };

/* One setting: its name (long option and config key), type, bounds and help. */
struct option_desc {
	const char	*name;
	int		 shortopt;	/* 0: none */
	enum opt_type	 type;
	long long	 min, max;	/* OPT_INT, OPT_SIZE, OPT_SECONDS */
	size_t		 offset;	/* field in struct config */
	bool		 in_file;	/* may appear in the config file */
	const char	*arg;		/* metavariable for --help */
	const char	*help;
};

#define OFF(f) offsetof(struct config, f)
static const struct option_desc options[] = {
	{ "foreground", 'f', OPT_FLAG, 0, 0, OFF(foreground), false, NULL,
	  "stay in the foreground and log to stderr" },
	{ "listen", 'l', OPT_LISTEN, 0, 0, OFF(listen), true, "ADDR",
	  "HOST:PORT, [V6]:PORT or unix:/PATH; repeatable (default " DEFAULT_LISTEN ")" },
	{ "workers", 'w', OPT_INT, 1, 256, OFF(workers), true, "N",
	  "worker processes (default: number of CPUs)" },
	{ "authkey-file", 'k', OPT_STRING, 0, 0, OFF(authkey_file), true, "PATH",
	  "the shared secret; created with a random key if missing" },
	{ "auth-legacy-md5", 0, OPT_FLAG, 0, 0, OFF(auth_legacy_md5), true, NULL,
	  "also accept Python <= 3.11 clients (HMAC-MD5 handshake)" },
	{ "data-dir", 0, OPT_STRING, 0, 0, OFF(data_dir), true, "DIR",
	  "keep an append-only log per worker there (default: memory only)" },
	{ "fsync", 0, OPT_FSYNC, 0, 0, OFF(fsync), true, "POLICY",
	  "always, everysec or no (default everysec)" },
	{ "repair-log", 0, OPT_FLAG, 0, 0, OFF(repair_log), false, NULL,
	  "cut a log damaged in the middle at the damage (losing what follows)" },
	{ "compact-min", 0, OPT_SIZE, 4096, 1LL << 40, OFF(compact_min), true,
	  "BYTES", "compact a log once it passes this and twice its live data "
	  "(default 4194304)" },
	{ "max-frame", 0, OPT_SIZE, 1024, 1LL << 30, OFF(max_frame), true, "BYTES",
	  "largest message accepted (default 16777216)" },
	{ "handshake-timeout", 0, OPT_SECONDS, 1, 3600, OFF(handshake_timeout), true,
	  "SECONDS", "time a new connection has to authenticate (default 10)" },
	{ "tcp-keepalive", 0, OPT_INT, 0, 7200, OFF(tcp_keepalive), true,
	  "SECONDS", "probe a silent TCP client after this long; it is dropped "
	  "(and what it held given back) about twice this after its last "
	  "word; 0: off (default 30)" },
	{ "max-output", 0, OPT_SIZE, 65536, 1LL << 32, OFF(max_output), true, "BYTES",
	  "unsent replies per connection before its reading pauses (default 67108864)" },
	{ "max-unauth", 0, OPT_INT, 1, 1000000, OFF(max_unauth), true, "N",
	  "connections not yet authenticated per worker; past it the oldest "
	  "is dropped (default 1024)" },
	{ "max-unauth-per-addr", 0, OPT_INT, 1, 1000000, OFF(max_unauth_per_addr),
	  true, "N", "the same per client address, IPv6 by /64; past it new "
	  "ones are refused (default 32)" },
	{ "log-level", 0, OPT_LOGLEVEL, 0, 0, OFF(log_level), true, "LEVEL",
	  "error, warn, info or debug (default info)" },
	{ "metrics-listen", 0, OPT_STRING, 0, 0, OFF(metrics_listen), true, "ADDR",
	  "serve Prometheus metrics at http://ADDR/metrics; HOST:PORT or "
	  "[V6]:PORT (default: off)" },
	{ "worker-ports", 0, OPT_STRING, 0, 0, OFF(worker_ports), true, "BASE",
	  "each worker's own TCP port, where routing clients reach it: "
	  "BASE + worker; auto (listen port + 1 + worker), 0 (any) or off "
	  "(default auto)" },
	{ "user", 0, OPT_STRING, 0, 0, OFF(user), true, "NAME",
	  "give root up to NAME after binding and reading the key (as "
	  "root, default: qlockd, else nobody; --user root keeps root)" },
	{ "socket-mode", 0, OPT_MODE, 0, 0777, OFF(socket_mode), true, "MODE",
	  "permissions of unix sockets, octal (default 0660)" },
	{ "pid-file", 0, OPT_STRING, 0, 0, OFF(pid_file), true, "PATH",
	  "write the master's pid there, locked while it runs; removed at "
	  "exit (default: none)" },
	{ "node-id", 0, OPT_INT, 1, 65535, OFF(node_id), true, "ID",
	  "this node's id in a cluster (needs --peer; docs/HA.md)" },
	{ "peer", 0, OPT_PEER, 0, 0, OFF(peer), true, "ID=HOST:PORT",
	  "a cluster member's raft address, this node included; repeatable "
	  "(default: none, a single node)" },
	{ "raft-dir", 0, OPT_STRING, 0, 0, OFF(raft_dir), true, "DIR",
	  "where a cluster node keeps its raft log (needs --peer)" },
	{ "raft-election-ms", 0, OPT_INT, 10, 600000, OFF(raft_election_ms), true,
	  "N", "a cluster's raft election timeout in milliseconds; heartbeats "
	  "every N/10 (default 1000)" },
	{ "session-grace", 0, OPT_INT, 0, 3600000, OFF(session_grace), true,
	  "MS", "a cluster: how long a new leader keeps what a session bound "
	  "to a token held, for it to resume; 0: give it back at once "
	  "(default 10000)" },
	{ "config", 'c', OPT_STRING, 0, 0, OFF(config_file), false, "FILE",
	  "read settings from FILE; command-line options override it" },
	{ "check-config", 0, OPT_FLAG, 0, 0, OFF(check_only), false, NULL,
	  "check the settings and the authkey file, then exit" },
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

void
config_defaults(struct config *c)
{
	long	ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	c->workers = ncpu < 1 ? 1 : ncpu > 256 ? 256 : (int)ncpu;
	c->fsync = FSYNC_EVERYSEC;
	c->max_frame = 16u * 1024 * 1024;
	c->handshake_timeout = 10;
	c->tcp_keepalive = 30;
	c->max_output = 64u * 1024 * 1024;
	c->max_unauth = 1024;
	c->max_unauth_per_addr = 32;
	c->compact_min = 4u * 1024 * 1024;
	c->raft_election_ms = 1000;
	c->session_grace = 10000;
	c->log_level = LOG_LVL_INFO;
	c->socket_mode = 0660;
	c->run_uid = geteuid();
	c->run_gid = getegid();
}

static void
usage(FILE *f)
{
	size_t	i;
	char	lhs[64];

	fprintf(f, "usage: qlockd [options]\n\n"
	    "Serves named queues, locks, semaphores, events, conditions, barriers\n"
	    "and dicts to clients that know the authkey.\n\noptions:\n");
	for (i = 0; i < NOPTIONS; i++) {
		const struct option_desc *o = &options[i];

		if (o->shortopt)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->shortopt,
			    o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-32s %s\n", lhs, o->help);
	}
	fprintf(f, "  %-32s %s\n  %-32s %s\n", "-h, --help", "show this help",
	    "-V, --version", "show the version");
}

/* Parse a number with bounds; suffixes k, m, g for sizes. */
static int
parse_number(const struct option_desc *o, const char *s, double *out,
    char *why, size_t whylen)
{
	char		*end;
	double		 v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0) {
		snprintf(why, whylen, "'%s' is not a number", s);
		return -1;
	}
	if (o->type == OPT_SIZE && *end != '\0') {
		if (strcmp(end, "k") == 0 || strcmp(end, "K") == 0)
			v *= 1024, end++;
		else if (strcmp(end, "m") == 0 || strcmp(end, "M") == 0)
			v *= 1024 * 1024, end++;
		else if (strcmp(end, "g") == 0 || strcmp(end, "G") == 0)
			v *= 1024 * 1024 * 1024, end++;
	}
	if (*end != '\0' || isnan(v)) {
		snprintf(why, whylen, "'%s' is not a number", s);
		return -1;
	}
	/* The range first: only a double in range may be cast to an integer. */
	if (!(v >= (double)o->min && v <= (double)o->max)) {
		snprintf(why, whylen, "%s is out of range %lld..%lld", s,
		    o->min, o->max);
		return -1;
	}
	if (o->type != OPT_SECONDS && v != (double)(long long)v) {
		snprintf(why, whylen, "'%s' is not a whole number", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Apply one setting; on error, why says what is wrong with it. */
static int
apply(struct config *c, const struct option_desc *o, const char *val,
    char *why, size_t whylen)
{
	void	*field = (char *)c + o->offset;
	double	 num;
	char	*end;

	switch (o->type) {
	case OPT_FLAG:
		if (val == NULL || strcmp(val, "yes") == 0 ||
		    strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			*(bool *)field = true;
		else if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0 ||
		    strcmp(val, "0") == 0)
			*(bool *)field = false;
		else {
			snprintf(why, whylen, "'%s' is not yes or no", val);
			return -1;
		}
		return 0;
	case OPT_INT:
	case OPT_SIZE:
	case OPT_SECONDS:
		if (parse_number(o, val, &num, why, whylen) == -1)
			return -1;
		if (o->type == OPT_INT)
			*(int *)field = (int)num;
		else if (o->type == OPT_SIZE)
			*(size_t *)field = (size_t)num;
		else
			*(double *)field = num;
		return 0;
	case OPT_STRING:
		if (*val == '\0') {
			snprintf(why, whylen, "empty value");
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(val);
		return 0;
	case OPT_LISTEN:
		if (c->nlisten == CONFIG_MAX_LISTEN) {
			snprintf(why, whylen, "more than %d addresses",
			    CONFIG_MAX_LISTEN);
			return -1;
		}
		if (*val == '\0') {
			snprintf(why, whylen, "empty address");
			return -1;
		}
		c->listen[c->nlisten++] = xstrdup(val);
		return 0;
	case OPT_PEER:
		if (c->npeer == CONFIG_MAX_PEERS || *val == '\0') {
			snprintf(why, whylen, "empty, or more than %d peers",
			    CONFIG_MAX_PEERS);
			return -1;
		}
		c->peer[c->npeer++] = xstrdup(val);
		return 0;
	case OPT_FSYNC:
		if (strcmp(val, "always") == 0)
			c->fsync = FSYNC_ALWAYS;
		else if (strcmp(val, "everysec") == 0)
			c->fsync = FSYNC_EVERYSEC;
		else if (strcmp(val, "no") == 0)
			c->fsync = FSYNC_NO;
		else {
			snprintf(why, whylen, "'%s' is not always, everysec or no", val);
			return -1;
		}
		c->fsync_given = true;
		return 0;
	case OPT_MODE:
		errno = 0;
		num = (double)strtol(val, &end, 8);
		if (end == val || *end != '\0' || errno != 0 ||
		    num < (double)o->min || num > (double)o->max) {
			snprintf(why, whylen, "'%s' is not an octal mode 0 to "
			    "0777", val);
			return -1;
		}
		*(unsigned *)field = (unsigned)num;
		return 0;
	case OPT_LOGLEVEL:
		if (log_level_parse(val, &c->log_level) == -1) {
			snprintf(why, whylen, "'%s' is not error, warn, info or debug", val);
			return -1;
		}
		return 0;
	}
	return -1;
}

static const struct option_desc *
find_option(const char *name)
{
	size_t	i;

	for (i = 0; i < NOPTIONS; i++) {
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	}
	return NULL;
}

/* Strip leading and trailing blanks in place. */
static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Read "key = value" lines; skip keys the command line set (cli_set). */
static int
config_read_file(struct config *c, const char *path, const bool *cli_set)
{
	FILE				*f;
	char				 line[4096], why[256], *key, *val, *eq;
	const struct option_desc	*o;
	int				 lineno = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "qlockd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		key = trim(line);
		if (*key == '#' || *key == '\0')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			fprintf(stderr, "qlockd: %s:%d: expected 'key = value'\n",
			    path, lineno);
			rc = -1;
			continue;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		if ((o = find_option(key)) == NULL || !o->in_file) {
			fprintf(stderr, "qlockd: %s:%d: unknown setting '%s'\n",
			    path, lineno, key);
			rc = -1;
			continue;
		}
		/* A setting the command line overrides is still checked. */
		if (cli_set[o - options]) {
			struct config	scratch;

			config_defaults(&scratch);
			if (apply(&scratch, o, val, why, sizeof(why)) == -1) {
				fprintf(stderr, "qlockd: %s:%d: %s: %s\n", path,
				    lineno, key, why);
				rc = -1;
			}
			config_free(&scratch);
			continue;
		}
		if (apply(c, o, val, why, sizeof(why)) == -1) {
			fprintf(stderr, "qlockd: %s:%d: %s: %s\n", path, lineno,
			    key, why);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

int
config_parse(struct config *c, int argc, char *argv[])
{
	struct option	 longopts[NOPTIONS + 3];
	char		 shortopts[2 * NOPTIONS + 4], why[256];
	bool		 cli_set[NOPTIONS] = { false };
	size_t		 i, n = 0;
	int		 ch, idx;

	for (i = 0; i < NOPTIONS; i++) {
		longopts[i].name = options[i].name;
		longopts[i].has_arg = options[i].type == OPT_FLAG ?
		    no_argument : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 256 + (int)i;
		if (options[i].shortopt) {
			shortopts[n++] = (char)options[i].shortopt;
			if (options[i].type != OPT_FLAG)
				shortopts[n++] = ':';
		}
	}
	longopts[NOPTIONS] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[NOPTIONS + 1] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[NOPTIONS + 2] = (struct option){ NULL, 0, NULL, 0 };
	memcpy(shortopts + n, "hV", 3);

	c->argc = argc;
	c->argv = argv;
	optind = 0;	/* glibc: 0 restarts the scan, forgetting any
			   half-read option cluster of an earlier call */
	opterr = 1;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		const struct option_desc *o = NULL;

		if (ch == 'h') {
			usage(stdout);
			return 1;
		}
		if (ch == 'V') {
			printf("qlockd %s\n", PACKAGE_VERSION);
			return 1;
		}
		if (ch >= 256)
			o = &options[ch - 256];
		else {
			for (i = 0; i < NOPTIONS; i++)
				if (options[i].shortopt == ch)
					o = &options[i];
		}
		if (o == NULL) {
			usage(stderr);
			return -1;
		}
		if (apply(c, o, optarg, why, sizeof(why)) == -1) {
			fprintf(stderr, "qlockd: --%s: %s\n", o->name, why);
			return -1;
		}
		cli_set[o - options] = true;
	}
	if (optind < argc) {
		fprintf(stderr, "qlockd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (c->config_file != NULL &&
	    config_read_file(c, c->config_file, cli_set) == -1)
		return -1;
	if (c->nlisten == 0)
		c->listen[c->nlisten++] = xstrdup(DEFAULT_LISTEN);
	return 0;
}

/* Create path with a fresh random key (hex, so it can be pasted into
 * QLOCK_AUTHKEY), mode 0600. */
static int
authkey_create(const char *path)
{
	unsigned char	raw[32];
	char		hex[sizeof(raw) * 2 + 2];
	size_t		i;
	int		fd;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fprintf(stderr, "qlockd: cannot get random bytes for a key\n");
		return -1;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[2 * sizeof(raw)] = '\n';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		fprintf(stderr, "qlockd: cannot create authkey file %s: %s\n",
		    path, strerror(errno));
		return -1;
	}
	if (write(fd, hex, sizeof(raw) * 2 + 1) != (ssize_t)(sizeof(raw) * 2 + 1) ||
	    fsync(fd) == -1) {
		fprintf(stderr, "qlockd: cannot write authkey file %s: %s\n",
		    path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	fprintf(stderr, "qlockd: created %s with a new random authkey; give "
	    "clients the same key (QLOCK_AUTHKEY_FILE=%s)\n", path, path);
	return 0;
}

/*
 * A file systemd passed with LoadCredential=: directly in the service's
 * $CREDENTIALS_DIRECTORY, which only the service can reach.  systemd may
 * grant the service user read access there with an ACL, whose mask then
 * shows as the group's read bit (0440): that is not "others".
 */
static bool
in_credentials(const char *path)
{
	const char	*dir = getenv("CREDENTIALS_DIRECTORY");
	size_t		 len;

	if (dir == NULL || *dir != '/')
		return false;
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	return strncmp(path, dir, len) == 0 && path[len] == '/' &&
	    path[len + 1] != '\0' && strchr(path + len + 1, '/') == NULL;
}

int
config_load_authkey(struct config *c)
{
	struct stat	 st;
	unsigned char	*buf;
	ssize_t		 n;
	int		 fd;

	if (c->authkey_file == NULL) {
		fprintf(stderr, "qlockd: no authkey: pass --authkey-file PATH "
		    "(a missing file is created with a random key)\n");
		return -1;
	}
	if (access(c->authkey_file, F_OK) == -1 && errno == ENOENT &&
	    authkey_create(c->authkey_file) == -1)
		return -1;
	/* No symlink followed, and no wait on a FIFO: the type is checked
	 * on what was opened. */
	if ((fd = open(c->authkey_file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		fprintf(stderr, "qlockd: cannot open authkey file %s: %s\n",
		    c->authkey_file, errno == ELOOP ? "it is a symbolic link, "
		    "which is not followed: name the file itself" :
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "qlockd: authkey file %s is not a regular file\n",
		    c->authkey_file);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != c->run_uid) {
		fprintf(stderr, "qlockd: authkey file %s is owned by uid %u, "
		    "not by root or the user qlockd runs as (uid %u): anyone "
		    "who owns it can change the key\n", c->authkey_file,
		    (unsigned)st.st_uid, (unsigned)c->run_uid);
		close(fd);
		return -1;
	}
	if (st.st_mode & (in_credentials(c->authkey_file) ?
	    (S_IWGRP | S_IXGRP | S_IRWXO) : (S_IRWXG | S_IRWXO))) {
		fprintf(stderr, "qlockd: authkey file %s can be read by others "
		    "(mode %03o); fix it with: chmod 600 %s\n", c->authkey_file,
		    (unsigned)(st.st_mode & 0777), c->authkey_file);
		close(fd);
		return -1;
	}
	buf = xmalloc(4097);
	n = read(fd, buf, 4097);
	close(fd);
	if (n < 0 || n > 4096) {
		fprintf(stderr, "qlockd: authkey file %s: %s\n", c->authkey_file,
		    n < 0 ? strerror(errno) : "longer than 4096 bytes");
		free(buf);
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n == 0) {
		fprintf(stderr, "qlockd: authkey file %s is empty; an empty key "
		    "would let anyone in. Put a secret in it, or delete it to "
		    "have one generated\n", c->authkey_file);
		free(buf);
		return -1;
	}
	if (n < AUTHKEY_MIN) {
		fprintf(stderr, "qlockd: authkey file %s holds %zd bytes; a key "
		    "needs at least %d (delete the file to have a random one "
		    "generated)\n", c->authkey_file, n, AUTHKEY_MIN);
		OPENSSL_cleanse(buf, (size_t)n);
		free(buf);
		return -1;
	}
	c->authkey = buf;
	c->authkey_len = (size_t)n;
	return 0;
}

void
config_free(struct config *c)
{
	int	i;

	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	free(c->authkey_file);
	free(c->data_dir);
	free(c->config_file);
	free(c->pid_file);
	free(c->metrics_listen);
	free(c->worker_ports);
	for (i = 0; i < c->npeer; i++)
		free(c->peer[i]);
	free(c->raft_dir);
	free(c->user);
	if (c->authkey != NULL) {
		OPENSSL_cleanse(c->authkey, c->authkey_len);
		free(c->authkey);
	}
}

/* Copy a string setting if it differs; true if it did. */
static bool
differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

int
config_reload(struct config *c, bool quiet)
{
	struct config	n;
	int		i;
	bool		listen_changed;

	config_defaults(&n);
	if (config_parse(&n, c->argc, c->argv) != 0) {
		log_warnx("SIGHUP: the configuration has errors (see above); "
		    "keeping the running one");
		config_free(&n);
		return -1;
	}
	/* Limits and the log level apply at once. */
	c->max_frame = n.max_frame;
	c->handshake_timeout = n.handshake_timeout;
	c->tcp_keepalive = n.tcp_keepalive;
	c->max_output = n.max_output;
	c->max_unauth = n.max_unauth;
	c->max_unauth_per_addr = n.max_unauth_per_addr;
	c->compact_min = n.compact_min;
	c->log_level = n.log_level;
	c->auth_legacy_md5 = n.auth_legacy_md5;
	log_set_level(c->log_level);
	if (quiet) {
		config_free(&n);
		return 0;
	}
	/* The rest is fixed for the life of the process. */
	listen_changed = n.nlisten != c->nlisten;
	for (i = 0; !listen_changed && i < n.nlisten; i++)
		listen_changed = strcmp(n.listen[i], c->listen[i]) != 0;
	if (listen_changed)
		log_warnx("SIGHUP: listen addresses changed; restart to apply");
	if (n.workers != c->workers)
		log_warnx("SIGHUP: workers changed (%d -> %d); restart to apply",
		    c->workers, n.workers);
	if (differs(n.authkey_file, c->authkey_file))
		log_warnx("SIGHUP: authkey-file changed; restart to apply");
	if (differs(n.data_dir, c->data_dir) || n.fsync != c->fsync)
		log_warnx("SIGHUP: data-dir or fsync changed; restart to apply");
	if (differs(n.metrics_listen, c->metrics_listen))
		log_warnx("SIGHUP: metrics-listen changed; restart to apply");
	if (differs(n.pid_file, c->pid_file))
		log_warnx("SIGHUP: pid-file changed; restart to apply");
	if (differs(n.worker_ports, c->worker_ports))
		log_warnx("SIGHUP: worker-ports changed; restart to apply");
	if (n.node_id != c->node_id || n.npeer != c->npeer ||
	    differs(n.raft_dir, c->raft_dir) ||
	    n.raft_election_ms != c->raft_election_ms ||
	    n.session_grace != c->session_grace)
		log_warnx("SIGHUP: node-id, peer, raft-dir, raft-election-ms or "
		    "session-grace changed; restart to apply");
	if (differs(n.user, c->user) || n.socket_mode != c->socket_mode)
		log_warnx("SIGHUP: user or socket-mode changed; restart to apply");
	config_free(&n);
	return 0;
}
