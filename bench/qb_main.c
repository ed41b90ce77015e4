/* qb_main.c: load a running qlockd from many client processes and
 * print each test's rate and latency percentiles, as redis-benchmark does.
 * Options, the parent and reporting. */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "auth.h"
#include "frame.h"
#include "mp.h"
#include "qlock.h"
#include "qb.h"

const char *const test_names[T_NTESTS] = {
	"ping", "roundtrip", "pipeline", "prodcons", "put", "lock"
};

static void *
shared_map(size_t size)
{
	void	*p = mmap(NULL, size > 0 ? size : 1, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap %zu bytes: %s", size, strerror(errno));
	return p;
}

static int
float_cmp(const void *a, const void *b)
{
	float	x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0-100) of n sorted samples, in ms; -1 if none. */
static double
percentile(const float *s, size_t n, double p)
{
	size_t	i;

	if (n == 0)
		return -1;
	i = (size_t)ceil(p / 100.0 * (double)n);
	i = i == 0 ? 0 : i - 1;
	return s[i < n ? i : n - 1] / 1000.0;
}

/* Write n sorted samples (microseconds), one a line, to PREFIX.<test>. */
static void
samples_dump(const char *prefix, enum test t, const float *s, size_t n)
{
	char	 path[PATH_MAX];
	FILE	*f;
	size_t	 i;

	snprintf(path, sizeof(path), "%s.%s", prefix, test_names[t]);
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "qlock-bench: %s: %s\n", path, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%.1f\n", s[i]);
	if (fclose(f) != 0)
		fprintf(stderr, "qlock-bench: %s: %s\n", path, strerror(errno));
}

/* Wait for every child, killing any still there at the deadline. */
static void
children_reap(const pid_t *pids, int n, double deadline)
{
	struct timespec	ts = { 0, 5000000 };
	int		i, left = n, status;
	pid_t		pid;
	bool		killed = false;

	while (left > 0) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			left--;
			continue;
		}
		if (pid == -1 && errno != EINTR)
			break;
		if (!killed && now_mono() >= deadline) {
			fprintf(stderr, "qlock-bench: clients still running "
			    "past the time limit; killing them\n");
			for (i = 0; i < n; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
			killed = true;
		}
		nanosleep(&ts, NULL);
	}
}

/* Wait for n ready bytes; false if a client failed or the time ran out. */
static bool
clients_ready(int readyr, int n)
{
	struct pollfd	pfd = { readyr, POLLIN, 0 };
	double		deadline = now_mono() + READY_GRACE;
	char		buf[MAX_CLIENTS];
	ssize_t		got;
	int		have = 0, i;
	bool		ok = true;

	while (have < n) {
		double left = deadline - now_mono();

		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) == 0)
			return false;
		got = read(readyr, buf, (size_t)(n - have));
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		for (i = 0; i < got; i++)
			if (buf[i] != 'r')
				ok = false;
		have += (int)got;
	}
	return ok;
}

/* Run one test with o.clients connections and print its line. */
static int
test_run(struct opts *o, enum test t, qlock *stats, struct shared *sh,
    float *samples, size_t ncap)
{
	struct bench	 b;
	pid_t		*pids;
	uint64_t	 req0, fwd0, req1, fwd1;
	int		 readyp[2], gop[2], tokp[2], i, nclients = o->clients;
	int		 nprocs = o->procs;
	long		 units = 0, errors = 0, seen = 0, lost = 0, nsamp;
	double		 t0 = INFINITY, t1 = 0, secs, rate, p50, p99, max;
	double		 mean = 0;
	bool		 timed_out = false, ok;
	size_t		 w;
	const char	*unit, *lat;

	memset(&b, 0, sizeof(b));
	b.o = *o;
	b.test = t;
	b.sh = sh;
	b.samples = samples;
	b.ncap = ncap;
	memset(sh, 0, sizeof(*sh));
	if (t == T_PRODCONS) {
		b.nseen = ((size_t)o->requests + 63) / 64;
		b.seen = shared_map(b.nseen * sizeof(uint64_t));
	}
	if (pipe(readyp) == -1 || pipe(gop) == -1 || pipe(tokp) == -1)
		die("pipe: %s", strerror(errno));
	if (write(tokp[1], "t", 1) != 1)
		die("pipe: %s", strerror(errno));
	b.readyw = readyp[1];
	b.gor = gop[0];
	b.tokr = tokp[0];
	b.tokw = tokp[1];
	pids = calloc((size_t)nprocs, sizeof(*pids));
	if (pids == NULL)
		die("out of memory");
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < nprocs; i++) {
		if ((pids[i] = fork()) == -1) {
			fprintf(stderr, "qlock-bench: fork: %s\n", strerror(errno));
			nprocs = i;
			sh->cancel = 1;
			break;
		}
		if (pids[i] == 0) {
			close(readyp[0]);
			close(gop[1]);
			b.id = i;
			if (o->poll && t != T_PRODCONS)
				loop_main(&b, i);
			client_main(&b);
		}
	}
	close(readyp[1]);
	close(gop[0]);
	close(tokp[0]);
	close(tokp[1]);
	ok = !sh->cancel && clients_ready(readyp[0], nprocs);
	/* The counters after the probes: only the test's own traffic counts. */
	req0 = fwd0 = req1 = fwd1 = 0;
	if (ok && stats != NULL && stats_read(stats, &req0, &fwd0) != QLOCK_OK) {
		fprintf(stderr, "qlock-bench: stats: %s\n",
		    qlock_last_error(stats));
		ok = false;
	}
	if (!ok)
		sh->cancel = 1;
	close(gop[1]);		/* go */
	children_reap(pids, nprocs, now_mono() + o->max_seconds + READY_GRACE +
	    EXIT_GRACE);
	close(readyp[0]);
	free(pids);
	for (i = 0; i < nclients; i++) {
		if (sh->err[i][0] != '\0' && errors == 0)
			fprintf(stderr, "qlock-bench: %s: client %d: %s\n",
			    test_names[t], i, sh->err[i]);
		errors += sh->errors[i];
	}
	if (!ok) {
		if (errors == 0)
			fprintf(stderr, "qlock-bench: %s: clients did not start\n",
			    test_names[t]);
		if (b.seen != NULL)
			munmap(b.seen, b.nseen * sizeof(uint64_t));
		return -1;
	}
	if (stats != NULL && stats_read(stats, &req1, &fwd1) != QLOCK_OK) {
		fprintf(stderr, "qlock-bench: stats: %s\n",
		    qlock_last_error(stats));
		req1 = req0;
		fwd1 = fwd0;
	}
	req1 -= req1 > req0 ? 1 : 0;	/* the stats call itself */
	for (i = 0; i < nclients; i++) {
		if (t == T_PRODCONS && i < nclients / 2)
			continue;	/* items count when consumed */
		units += sh->units[i];
	}
	for (i = 0; i < nclients; i++) {
		if (sh->start[i] > 0 && sh->start[i] < t0)
			t0 = sh->start[i];
		if (sh->end[i] > t1)
			t1 = sh->end[i];
		if (sh->timed_out[i])
			timed_out = true;
	}
	secs = t1 > t0 ? t1 - t0 : 0;
	rate = secs > 0 ? (double)units / secs : 0;
	nsamp = sh->nsamples < (long)ncap ? sh->nsamples : (long)ncap;
	qsort(samples, (size_t)nsamp, sizeof(float), float_cmp);
	p50 = percentile(samples, (size_t)nsamp, 50);
	p99 = percentile(samples, (size_t)nsamp, 99);
	max = percentile(samples, (size_t)nsamp, 100);
	for (i = 0; i < nsamp; i++)
		mean += samples[i] / 1000.0;
	mean = nsamp > 0 ? mean / (double)nsamp : -1;
	if (o->dump != NULL)
		samples_dump(o->dump, t, samples, (size_t)nsamp);
	if (t == T_PRODCONS && o->size >= 8) {
		for (w = 0; w < b.nseen; w++)
			seen += __builtin_popcountll(b.seen[w]);
		lost = o->requests - seen;
	} else if (t == T_PRODCONS)
		lost = o->requests - units;
	if (b.seen != NULL)
		munmap(b.seen, b.nseen * sizeof(uint64_t));

	unit = t == T_ROUNDTRIP ? "put+get pairs" : t == T_PRODCONS ?
	    "items" : t == T_LOCK ? "acquire+release pairs" : "requests";
	lat = t == T_ROUNDTRIP ? " per pair" : t == T_PIPELINE ?
	    " per batch" : t == T_PRODCONS ? " put to get" : t == T_LOCK ?
	    " per acquire+release" : "";
	if (o->csv) {
		printf("%s,%d,%zu,%d,%s,%d,%ld,%.3f,%.2f,%.3f,%.3f,%.3f,%.3f,%"
		    PRIu64 ",%" PRIu64 ",%ld,%ld,%ld,%s\n", test_names[t], nclients,
		    o->size, o->queues, o->placement == PLACE_LOCAL ? "local" :
		    o->placement == PLACE_REMOTE ? "remote" : "any",
		    t == T_PIPELINE ? o->depth : 1, units, secs, rate, p50, p99,
		    mean, max, req1 - req0, fwd1 - fwd0, errors, lost,
		    t == T_PRODCONS ? sh->dups + sh->bad : 0,
		    timed_out ? "timeout" : "ok");
	} else {
		printf("%s: %.2f %s per second", test_names[t], rate, unit);
		if (t == T_ROUNDTRIP)
			printf(" (%.2f requests per second)", 2 * rate);
		if (p50 >= 0)
			printf(", p50=%.3f msec, p99=%.3f msec%s (mean %.3f, "
			    "max %.3f)", p50, p99, lat, mean, max);
		printf(" [c=%d", nclients);
		if (o->poll)
			printf(" procs=%d", nprocs);
		printf(" n=%ld d=%zu q=%d%s", units, o->size, o->queues,
		    o->placement == PLACE_LOCAL ? " local" :
		    o->placement == PLACE_REMOTE ? " remote" : "");
		if (o->redis)
			printf(" redis]");
		else
			printf(" forwarded=%" PRIu64 "/%" PRIu64 "]",
			    fwd1 - fwd0, req1 - req0);
		if (t == T_PIPELINE)
			printf(" (P=%d)", o->depth);
		if (timed_out)
			printf(" STOPPED AT %.0f s", o->max_seconds);
		if (errors > 0)
			printf(" ERRORS=%ld", errors);
		if (t == T_PRODCONS && (lost > 0 || sh->dups > 0 || sh->bad > 0))
			printf(" LOST=%ld DUP=%ld BAD=%ld", lost, sh->dups,
			    sh->bad);
		printf("\n");
	}
	fflush(stdout);
	return errors > 0 || lost > 0 || sh->dups > 0 || sh->bad > 0 ? -1 : 0;
}

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
"usage: qlock-bench [options]\n"
"  -a, --address ADDR       HOST:PORT or unix:/PATH (default: $QLOCK_ADDRESS, "
    DEFAULT_ADDRESS ")\n"
"  -k, --authkey-file PATH  the shared key (default: $QLOCK_AUTHKEY, "
    "$QLOCK_AUTHKEY_FILE)\n"
"  -c, --clients N          connections (default 4)\n"
"  -p, --procs N            polling clients: the connections spread over N\n"
"                           processes, each polling its own and speaking the\n"
"                           protocol itself, as redis-benchmark (default: a\n"
"                           libqlock process per connection; ping, put,\n"
"                           roundtrip and pipeline only)\n"
"  -n, --requests N         units per test over all clients (default 100000)\n"
"  -d, --size BYTES         queue item size (default 64)\n"
"  -q, --queues N           queue names: per client for roundtrip and pipeline,\n"
"                           shared for prodcons (default 1)\n"
"  -t, --test LIST          ping,roundtrip,pipeline,prodcons,put,lock (default:\n"
"                           all); lock: acquire+release of one lock by every\n"
"                           client (Redis: SETNX, again while 0, then DEL)\n"
"  -P, --depth N            requests per pipelined batch (default 16)\n"
"  -s, --max-seconds S      stop each test after S seconds (default 60)\n"
"      --placement WHERE    roundtrip names: any, local (owned by the client's\n"
"                           worker) or remote (owned by another) (default any)\n"
"      --prefix STR         start of queue names (default qb<pid>)\n"
"      --redis              the server is redis-server (RESP, no key): ping is\n"
"                           PING, a put LPUSH, a get RPOP (prodcons: BRPOP);\n"
"                           for a peer measured by this same client\n"
"      --no-route           raw connections (pipeline, --procs) send every\n"
"                           request on their first connection, as QLOCK_ROUTE=0\n"
"                           does for libqlock (default: to each name's owner,\n"
"                           from the daemon's topology)\n"
"      --csv                test,clients,size,queues,placement,depth,units,\n"
"                           seconds,rate,p50_ms,p99_ms,mean_ms,max_ms,\n"
"                           requests,forwarded,errors,lost,dup_or_bad,end\n"
"      --dump PREFIX        write each test's latencies (us, sorted) to\n"
"                           PREFIX.<test>\n"
"units: ping a ping; roundtrip a put+get pair; pipeline a request;\n"
"prodcons an item put by one of c/2 producers and got by a consumer\n");
	exit(status);
}

/* Parse a whole number in [min, max] for option name. */
static long
num_arg(const char *name, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		die("%s: '%s' is not a number from %ld to %ld", name, s, min,
		    max);
	return v;
}

/* Parse the comma-separated test list into a bit set. */
static unsigned
tests_arg(const char *s)
{
	char		*copy = strdup(s), *tok, *save = NULL;
	unsigned	 set = 0;
	int		 t;

	if (copy == NULL)
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (t = 0; t < T_NTESTS; t++)
			if (strcmp(tok, test_names[t]) == 0)
				break;
		if (t == T_NTESTS)
			die("unknown test '%s'", tok);
		set |= 1u << t;
	}
	free(copy);
	return set;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "address",		required_argument, NULL, 'a' },
		{ "authkey-file",	required_argument, NULL, 'k' },
		{ "clients",		required_argument, NULL, 'c' },
		{ "procs",		required_argument, NULL, 'p' },
		{ "redis",		no_argument,	   NULL, 'R' },
		{ "requests",		required_argument, NULL, 'n' },
		{ "size",		required_argument, NULL, 'd' },
		{ "queues",		required_argument, NULL, 'q' },
		{ "test",		required_argument, NULL, 't' },
		{ "depth",		required_argument, NULL, 'P' },
		{ "max-seconds",	required_argument, NULL, 's' },
		{ "placement",		required_argument, NULL, 'L' },
		{ "prefix",		required_argument, NULL, 'X' },
		{ "csv",		no_argument,	   NULL, 'C' },
		{ "dump",		required_argument, NULL, 'D' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "no-route",		no_argument,	   NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts	 o;
	struct shared	*sh;
	const char	*keyfile = NULL, *env;
	float		*samples;
	qlock		*stats;
	char		*end;
	int		 ch, st, failed = 0;
	enum test	 t;

	memset(&o, 0, sizeof(o));
	o.clients = 4;
	o.requests = 100000;
	o.size = 64;
	o.queues = 1;
	o.depth = 16;
	o.max_seconds = 60;
	o.tests = (1u << T_NTESTS) - 1;
	snprintf(o.prefix, sizeof(o.prefix), "qb%ld", (long)getpid());
	while ((ch = getopt_long(argc, argv, "a:k:c:p:n:d:q:t:P:s:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			o.address = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'c':
			o.clients = (int)num_arg("--clients", optarg, 1,
			    MAX_CLIENTS);
			break;
		case 'p':
			o.procs = (int)num_arg("--procs", optarg, 1,
			    MAX_CLIENTS);
			break;
		case 'n':
			o.requests = num_arg("--requests", optarg, 1,
			    MAX_REQUESTS);
			break;
		case 'd':
			o.size = (size_t)num_arg("--size", optarg, 0, MAX_SIZE);
			break;
		case 'q':
			o.queues = (int)num_arg("--queues", optarg, 1,
			    MAX_QUEUES);
			break;
		case 't':
			o.tests = tests_arg(optarg);
			break;
		case 'P':
			o.depth = (int)num_arg("--depth", optarg, 2, MAX_DEPTH);
			if (o.depth % 2 != 0)
				die("--depth: a batch is whole put+get pairs: "
				    "give an even number");
			break;
		case 's':
			o.max_seconds = strtod(optarg, &end);
			if (end == optarg || *end != '\0' ||
			    !(o.max_seconds > 0 && o.max_seconds <= 86400))
				die("--max-seconds: '%s' is not 0 to 86400",
				    optarg);
			break;
		case 'L':
			if (strcmp(optarg, "any") == 0)
				o.placement = PLACE_ANY;
			else if (strcmp(optarg, "local") == 0)
				o.placement = PLACE_LOCAL;
			else if (strcmp(optarg, "remote") == 0)
				o.placement = PLACE_REMOTE;
			else
				die("--placement: any, local or remote");
			break;
		case 'X':
			if (*optarg == '\0' || strlen(optarg) >= sizeof(o.prefix))
				die("--prefix: 1 to %zu bytes",
				    sizeof(o.prefix) - 1);
			strcpy(o.prefix, optarg);
			break;
		case 'C':
			o.csv = true;
			break;
		case 'R':
			o.redis = true;
			break;
		case 'D':
			o.dump = optarg;
			break;
		case 'N':
			o.no_route = true;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (o.address == NULL && ((env = getenv("QLOCK_ADDRESS")) == NULL ||
	    *(o.address = env) == '\0'))
		o.address = DEFAULT_ADDRESS;
	if (o.redis) {
		if (o.placement != PLACE_ANY)
			die("--redis: no --placement");
		o.key = strdup("");
	} else if (keyfile != NULL)
		o.key = key_read(keyfile);
	else if ((env = getenv("QLOCK_AUTHKEY")) != NULL && *env != '\0')
		o.key = strdup(env);
	else if ((env = getenv("QLOCK_AUTHKEY_FILE")) != NULL && *env != '\0')
		o.key = key_read(env);
	else
		die("no authkey: use -k or set QLOCK_AUTHKEY or "
		    "QLOCK_AUTHKEY_FILE");
	if (o.key == NULL)
		die("out of memory");
	if ((o.tests & (1u << T_PRODCONS)) && o.clients < 2)
		die("prodcons needs --clients 2 or more (half produce, half "
		    "consume)");
	if (o.placement != PLACE_ANY && (o.tests & ~(1u << T_ROUNDTRIP)))
		die("--placement applies to --test roundtrip only");
	/* --procs (even one per connection) and --redis mean the polling
	 * clients: the same code then measures both servers. */
	o.poll = o.procs != 0 || o.redis;
	if (o.procs != 0 && (o.tests & (1u << T_PRODCONS)))
		die("--procs: prodcons runs a process per connection");
	if (o.procs == 0 || o.procs > o.clients)
		o.procs = o.clients;
	if (o.poll && o.placement != PLACE_ANY)
		die("--procs: --placement needs libqlock clients");

	/* Routing: libqlock reads QLOCK_ROUTE itself; --placement measures
	 * forwarding, which routing would avoid. */
	if ((env = getenv("QLOCK_ROUTE")) != NULL && (strcmp(env, "0") == 0 ||
	    strcmp(env, "off") == 0))
		o.no_route = true;
	if (o.no_route || o.placement != PLACE_ANY)
		setenv("QLOCK_ROUTE", "0", 1);
	if (!o.redis && !o.no_route && o.placement == PLACE_ANY)
		route_read(&o);
	stats = NULL;
	if (!o.redis && (stats = qlock_connect(o.address, o.key, &st)) == NULL)
		die("connect to %s: %s", o.address, qlock_last_error(NULL));
	sh = shared_map(sizeof(*sh));
	samples = shared_map((size_t)o.requests * sizeof(float));
	if (o.csv)
		printf("test,clients,size,queues,placement,depth,units,seconds,"
		    "rate,p50_ms,p99_ms,mean_ms,max_ms,requests,forwarded,errors,"
		    "lost,dup_or_bad,end\n");
	for (t = 0; t < T_NTESTS; t++) {
		if (!(o.tests & (1u << t)))
			continue;
		if (test_run(&o, t, stats, sh, samples,
		    (size_t)o.requests) == -1)
			failed = 1;
	}
	qlock_close(stats);
	munmap(samples, (size_t)o.requests * sizeof(float));
	munmap(sh, sizeof(*sh));
	free(o.key);
	return failed;
}
