/* it_durability.c: qlockd --data-dir against the real daemon: crashes and
 * restarts keep every acknowledged change exactly once, re-partitioning,
 * unfinished joinable items, torn and damaged logs, power loss, a full or
 * failing disk (the faultfs.so LD_PRELOAD shim) and crashes during
 * compaction. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "qlock.h"
#include "suiterun.h"

#define NQ		8	/* queues the producers spread items over */
#define NPROD		4	/* producer processes */
#define MAXSEQ		20000	/* put attempts one producer may make */
#define LOG_HDR		16	/* "QLOCKLOG", u32 version, u32 0 */
#define REC_HDR		12	/* u32 magic, u32 length, u32 CRC-32 */
#define REC_MAGIC	0x43455251u
#define R_Q_PUT		2	/* store.c's record type of a put */
#define MAXREC		256	/* records a parsed test log may hold */

/* --- files and directories ----------------------------------------------- */

/* A test's scratch directory: the data dir and the helpers' files. */
struct scratch {
	char	dir[64];	/* /tmp/qlockd-dur.XXXXXX */
	char	data[96];	/* <dir>/data: the --data-dir */
};

static void
scratch_new(struct scratch *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/qlockd-dur.XXXXXX");
	ck_assert_msg(mkdtemp(s->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(s->data, sizeof(s->data), "%s/data", s->dir);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void
scratch_free(struct scratch *s)
{
	if (getenv("QLOCK_TEST_KEEP") == NULL)
		rm_tree(s->dir);
}

/* A path under the scratch dir, in one of four static buffers: copy it
 * if it must outlive four more calls. */
static const char *
spath(const struct scratch *s, const char *fmt, ...)
{
	static char	buf[4][256];
	static int	next;
	char		*p = buf[next++ % 4];
	char		 tail[160];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	snprintf(p, sizeof(buf[0]), "%s/%s", s->dir, tail);
	return p;
}

/* A whole file (malloc'd, NUL-terminated); NULL if unreadable. */
static char *
read_all(const char *path, size_t *lenp)
{
	FILE	*f = fopen(path, "r");
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			ck_assert_ptr_nonnull(buf = realloc(buf, cap));
		}
		if ((n = fread(buf + len, 1, cap - len - 1, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

static void
write_all_file(const char *path, const void *data, size_t len)
{
	int	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_msg(fd != -1, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
write_str(const char *path, const char *s)
{
	write_all_file(path, s, strlen(s));
}

static off_t
file_size(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* How many times needle occurs in hay. */
static int
count_str(const char *hay, const char *needle)
{
	int	n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* A parsed log: where each record starts and ends. */
struct logmap {
	size_t	start[MAXREC], end[MAXREC];
	int	n;
	int	type[MAXREC];	/* the record's type (first array element) */
	size_t	size;		/* the file's size */
};

/* Parse a log by the format in store.h (header, records, then zeros);
 * fails the test if it is not one. */
static void
log_parse(const char *path, struct logmap *m)
{
	size_t		 len, off = LOG_HDR, i;
	uint8_t		*p = (uint8_t *)read_all(path, &len);
	uint32_t	 rl;

	ck_assert_msg(p != NULL, "cannot read %s", path);
	ck_assert_msg(len >= LOG_HDR && memcmp(p, "QLOCKLOG", 8) == 0 &&
	    le32(p + 8) == 1 && le32(p + 12) == 0, "%s: bad header", path);
	m->n = 0;
	m->size = len;
	while (off + REC_HDR <= len && le32(p + off) == REC_MAGIC) {
		rl = le32(p + off + 4);
		ck_assert_msg(off + REC_HDR + rl <= len, "%s: record at %zu "
		    "runs past the end", path, off);
		ck_assert_int_lt(m->n, MAXREC);
		m->start[m->n] = off;
		m->end[m->n] = off + REC_HDR + rl;
		/* [type, ...]: a fixarray then a positive fixint. */
		m->type[m->n] = rl >= 2 ? p[off + REC_HDR + 1] : -1;
		m->n++;
		off += REC_HDR + rl;
	}
	for (i = off; i < len; i++)
		ck_assert_msg(p[i] == 0, "%s: junk at offset %zu after the "
		    "records", path, i);
	free(p);
}

/* --- the daemon on a data dir -------------------------------------------- */

/* Start qlockd with --data-dir s->data, --fsync policy and more options
 * (NULL-ended). */
static struct qd *
dstart(const struct scratch *s, int workers, const char *policy, ...)
{
	struct qd_opts	 o;
	va_list		 ap;
	const char	*a;
	int		 n = 0;

	memset(&o, 0, sizeof(o));
	o.workers = workers;
	o.listen = QD_TCP4;
	o.args[n++] = "--data-dir";
	o.args[n++] = s->data;
	o.args[n++] = "--fsync";
	o.args[n++] = policy;
	va_start(ap, policy);
	while ((a = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(n, QD_MAX_ARGS);
		o.args[n++] = a;
	}
	va_end(ap);
	return qd_start_opts(&o);
}

/* True once pid has exited (gone or a zombie). */
static bool
proc_dead(pid_t pid)
{
	char	 path[64], buf[512], *rp;
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp == NULL || rp[1] == '\0' || rp[2] == 'Z' || rp[2] == 'X';
}

/* Crash the whole daemon: stop the master (so it restarts nobody),
 * SIGKILL every worker and the master, wait until all are dead; free d.
 * Its log is returned if logp is set (malloc'd). */
static void
dcrash(struct qd *d, char **logp)
{
	pid_t	pids[64];
	int	n, i;
	double	end;

	ck_assert_int_eq(kill(d->pid, SIGSTOP), 0);
	n = qd_worker_pids(d, pids, 64);
	for (i = 0; i < n; i++)
		(void)kill(pids[i], SIGKILL);
	(void)kill(d->pid, SIGKILL);
	if (logp != NULL)
		*logp = qd_log(d);
	qd_free(d);			/* reaps the master */
	end = qd_now() + QD_WAIT;
	for (i = 0; i < n; i++) {
		while (!proc_dead(pids[i]) && qd_now() < end)
			qd_nap();
		ck_assert_msg(proc_dead(pids[i]), "worker %d still alive "
		    "%.0f s after SIGKILL", (int)pids[i], QD_WAIT);
	}
}

/*
 * Run qlockd on s->data with --workers n and more options (NULL-ended),
 * listening on a unix socket in the scratch dir, and wait at most secs
 * for it to exit: the wait status (-1: still running, then killed) and
 * its output in *out.
 */
static int
drun(const struct scratch *s, int workers, double secs, char **out, ...)
{
	static char	 listen[192], keyfile[192], nw[16];
	const char	*argv[QD_MAX_ARGS + 1], *a;
	va_list		 ap;
	int		 n = 0;

	snprintf(keyfile, sizeof(keyfile), "%s", spath(s, "key"));
	write_str(keyfile, "00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff\n");
	snprintf(listen, sizeof(listen), "unix:%s", spath(s, "sock"));
	snprintf(nw, sizeof(nw), "%d", workers);
	argv[n++] = "-f";
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--authkey-file";
	argv[n++] = keyfile;
	argv[n++] = "--workers";
	argv[n++] = nw;
	argv[n++] = "--data-dir";
	argv[n++] = s->data;
	va_start(ap, out);
	while ((a = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(n, QD_MAX_ARGS);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	return qd_run(argv, secs, out);
}

/* A connection, retried while a restarted worker comes up. */
static qlock *
connect_retry(const struct qd *d)
{
	double	 end = qd_now() + QD_WAIT;
	qlock	*c;
	int	 st = 0;

	while ((c = qlock_connect(d->address, d->key, &st)) == NULL &&
	    qd_now() < end)
		qd_nap();
	ck_assert_msg(c != NULL, "cannot connect to %s for %.0f s: %s",
	    d->address, QD_WAIT, qlock_strerror(st));
	return c;
}

/* --- the faultfs shim ---------------------------------------------------- */

/* The shim's path, or NULL (then the tests that need it skip). */
static const char *
faultfs_path(void)
{
	const char	*p = getenv("FAULTFS");

	return p != NULL && *p != '\0' && access(p, R_OK) == 0 ? p : NULL;
}

/* Preload the shim into the daemons started from now on, with ctl as
 * its control file. */
static void
faultfs_on(const char *ctl)
{
	setenv("LD_PRELOAD", faultfs_path(), 1);
	setenv("FAULTFS_CTL", ctl, 1);
	/* An --enable-asan daemon insists on its runtime coming first. */
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
}

static void
faultfs_off(void)
{
	unsetenv("LD_PRELOAD");
	unsetenv("FAULTFS_CTL");
}

/* --- queues and items ---------------------------------------------------- */

/* Items got from a queue, in order. */
struct items {
	char	**v;
	size_t	 *len;
	size_t	  n, cap;
};

static void
items_free(struct items *it)
{
	size_t	i;

	for (i = 0; i < it->n; i++)
		free(it->v[i]);
	free(it->v);
	free(it->len);
	memset(it, 0, sizeof(*it));
}

/* Get every item of queue name (timeout 0 until Empty), appended to out. */
static void
drain(qlock *c, const char *name, struct items *out)
{
	void	*item;
	size_t	 len;
	int	 st, guard;

	for (guard = 0; guard < 100000; guard++) {
		st = qlock_queue_get(c, name, &item, &len, 0);
		if (st == QLOCK_EMPTY)
			return;
		ck_assert_msg(st == QLOCK_OK, "get from %s: %s (%s)", name,
		    qlock_strerror(st), qlock_last_error(c));
		if (out->n == out->cap) {
			out->cap = out->cap * 2 + 64;
			ck_assert_ptr_nonnull(out->v = realloc(out->v,
			    out->cap * sizeof(*out->v)));
			ck_assert_ptr_nonnull(out->len = realloc(out->len,
			    out->cap * sizeof(*out->len)));
		}
		/* NUL-terminated for the tests' parsers. */
		ck_assert_ptr_nonnull(out->v[out->n] = realloc(item, len + 1));
		out->v[out->n][len] = '\0';
		out->len[out->n++] = len;
	}
	ck_abort_msg("queue %s never ran empty", name);
}

/* A put that must succeed (retrying an unknown outcome is not allowed
 * here: the callers count items). */
static void
put_ok(qlock *c, const char *q, const void *item, size_t len)
{
	int	st = qlock_queue_put(c, q, item, len, 0);

	ck_assert_msg(st == QLOCK_OK, "put to %s: %s (%s)", q,
	    qlock_strerror(st), qlock_last_error(c));
}

static void
put_str(qlock *c, const char *q, const char *s)
{
	put_ok(c, q, s, strlen(s));
}

/* Retry a call while the owning worker is restarting. */
#define RETRY_UNAVAIL(st, call) do {					\
	double end_ = qd_now() + QD_WAIT;				\
	while (((st) = (call)) == QLOCK_EUNAVAIL && qd_now() < end_)	\
		qd_nap();						\
} while (0)

/* A lock's fencing token (acquired and released again). */
static uint64_t
take_token(qlock *c, const char *lock)
{
	uint64_t	tok = 0;
	int		st;

	RETRY_UNAVAIL(st, qlock_lock_acquire_token(c, lock, 5.0, &tok));
	ck_assert_msg(st == QLOCK_OK, "acquire %s: %s", lock,
	    qlock_strerror(st));
	RETRY_UNAVAIL(st, qlock_lock_release(c, lock));
	ck_assert_int_eq(st, QLOCK_OK);
	return tok;
}

/* --- producers: put unique items, log attempts and acknowledgements ------ */

/* What one producer's log file says. */
struct prod_log {
	uint8_t	state[MAXSEQ];	/* 0 never tried, 1 tried, 2 acknowledged */
	int	tried, acked;
	long	incr_tried, incr_acked;	/* dict incr attempts and successes */
	char	error[128];	/* an unexpected status, if any */
};

/* The queue a producer's item seq goes to. */
static int
prod_queue(int p, int seq)
{
	return (seq * 7 + p) % NQ;
}

/*
 * A producer process: until stopfile exists, put item "p<p> s<seq>|..."
 * to queue <prefix><prod_queue>, writing "A seq" to file before and
 * "K seq" after an acknowledgement; with incr, then increment
 * d-ctr[p<p>] ("I" before, "J" after).  Every attempt gets a new seq: an
 * attempt whose outcome is unknown may or may not be stored, and is not
 * retried as the same item.  Reconnects on ECONN.  Never returns.
 */
static void
producer(const struct qd *d, int p, const char *file, const char *stopfile,
    const char *prefix, bool incr)
{
	char	 item[512], q[64], key[16];
	qlock	*c = NULL;
	int	 fd, seq = 0, st, len, pad;
	int64_t	 v;
	double	 end = qd_now() + 40;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0600);
	if (fd == -1)
		_exit(10);
	snprintf(key, sizeof(key), "p%d", p);
	while (seq < MAXSEQ && qd_now() < end && access(stopfile, F_OK) != 0) {
		if (c == NULL &&
		    (c = qlock_connect(d->address, d->key, &st)) == NULL) {
			qd_nap();
			continue;
		}
		len = snprintf(item, sizeof(item), "p%d s%d|", p, seq);
		pad = (seq % 7) * 60;
		memset(item + len, 'a' + seq % 26, (size_t)pad);
		len += pad;
		snprintf(q, sizeof(q), "%s%d", prefix, prod_queue(p, seq));
		dprintf(fd, "A %d\n", seq);
		st = qlock_queue_put(c, q, item, (size_t)len, 0);
		if (st == QLOCK_OK)
			dprintf(fd, "K %d\n", seq);
		seq++;
		if (st == QLOCK_ECONN) {
			qlock_close(c);
			c = NULL;
			continue;
		}
		if (st == QLOCK_EUNAVAIL) {
			qd_nap();
			continue;
		}
		if (st != QLOCK_OK) {
			dprintf(fd, "X put %d %s\n", seq - 1,
			    qlock_strerror(st));
			_exit(2);
		}
		if (!incr)
			continue;
		dprintf(fd, "I\n");
		st = qlock_dict_incr(c, "d-ctr", key, 1, &v);
		if (st == QLOCK_OK)
			dprintf(fd, "J\n");
		else if (st == QLOCK_ECONN) {
			qlock_close(c);
			c = NULL;
		} else if (st != QLOCK_EUNAVAIL) {
			dprintf(fd, "X incr %s\n", qlock_strerror(st));
			_exit(3);
		}
	}
	_exit(0);
}

/* Read a producer's file. */
static void
prod_read(const char *file, struct prod_log *pl)
{
	char	*buf = read_all(file, NULL), *line, *save = NULL;
	int	 seq;

	memset(pl, 0, sizeof(*pl));
	ck_assert_msg(buf != NULL, "no producer file %s", file);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == 'A' && sscanf(line, "A %d", &seq) == 1 &&
		    seq >= 0 && seq < MAXSEQ) {
			pl->state[seq] = 1;
			pl->tried++;
		} else if (line[0] == 'K' && sscanf(line, "K %d", &seq) == 1 &&
		    seq >= 0 && seq < MAXSEQ) {
			pl->state[seq] = 2;
			pl->acked++;
		} else if (line[0] == 'I')
			pl->incr_tried++;
		else if (line[0] == 'J')
			pl->incr_acked++;
		else if (line[0] == 'X')
			snprintf(pl->error, sizeof(pl->error), "%s", line);
	}
	free(buf);
}

/* Acknowledged puts so far over n producer files. */
static int
acked_so_far(const struct scratch *s, int n)
{
	int	 i, k = 0;
	char	*buf;

	for (i = 0; i < n; i++) {
		if ((buf = read_all(spath(s, "prod-%d", i), NULL)) == NULL)
			continue;
		k += count_str(buf, "K ");
		free(buf);
	}
	return k;
}

/* Wait until the producers have n acknowledged puts in all. */
static void
wait_acked(const struct scratch *s, int nprod, int n, double secs)
{
	double	end = qd_now() + secs;
	int	k;

	while ((k = acked_so_far(s, nprod)) < n && qd_now() < end)
		qd_nap();
	ck_assert_msg(k >= n, "only %d puts acknowledged in %.0f s (want %d)",
	    k, secs, n);
}

/* Start nprod producers against d. */
static void
producers_start(const struct scratch *s, const struct qd *d, pid_t *pids,
    int nprod, const char *prefix, bool incr)
{
	int	i;

	unlink(spath(s, "stop"));
	for (i = 0; i < nprod; i++) {
		if ((pids[i] = qd_fork()) == 0)
			producer(d, i, spath(s, "prod-%d", i), spath(s, "stop"),
			    prefix, incr);
	}
}

/* Tell the producers to stop and reap them; read their files. */
static void
producers_stop(const struct scratch *s, pid_t *pids, int nprod,
    struct prod_log *pl)
{
	int	i, status;

	write_str(spath(s, "stop"), "stop\n");
	for (i = 0; i < nprod; i++) {
		status = qd_wait_child(pids[i], QD_WAIT);
		prod_read(spath(s, "prod-%d", i), &pl[i]);
		ck_assert_msg(status != -1 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0, "producer %d ended with status "
		    "0x%x: %s", i, status, pl[i].error);
	}
}

/*
 * Drain the producers' queues and check exactly-once delivery: every
 * acknowledged item is there once, nothing appears that was never
 * attempted, nothing twice, and each producer's items keep their order
 * within a queue.  With must, only the items acknowledged in must (an
 * earlier reading of the producers' files) have to be there.
 */
static void
check_delivered(qlock *c, const char *prefix, struct prod_log *pl,
    const struct prod_log *must, int nprod)
{
	static uint8_t	found[NPROD][MAXSEQ];
	struct items	it;
	char		q[64];
	int		i, p, s, last[NPROD], nfound = 0, nmaybe = 0;
	size_t		k;

	memset(found, 0, sizeof(found));
	for (i = 0; i < NQ; i++) {
		memset(&it, 0, sizeof(it));
		snprintf(q, sizeof(q), "%s%d", prefix, i);
		drain(c, q, &it);
		for (p = 0; p < NPROD; p++)
			last[p] = -1;
		for (k = 0; k < it.n; k++) {
			ck_assert_msg(sscanf(it.v[k], "p%d s%d|", &p, &s) ==
			    2 && p >= 0 && p < nprod && s >= 0 && s < MAXSEQ,
			    "queue %s holds a foreign item '%.40s'", q,
			    it.v[k]);
			ck_assert_msg(pl[p].state[s] != 0, "queue %s holds p%d "
			    "s%d, which was never put", q, p, s);
			ck_assert_msg(found[p][s] == 0, "p%d s%d is in the "
			    "queues twice (after a restart)", p, s);
			ck_assert_msg(prod_queue(p, s) == i, "p%d s%d is in "
			    "queue %s, put to %s%d", p, s, q, prefix,
			    prod_queue(p, s));
			ck_assert_msg(s > last[p], "queue %s: p%d s%d comes "
			    "after s%d (order lost)", q, p, s, last[p]);
			last[p] = s;
			found[p][s] = 1;
			nfound++;
			if (pl[p].state[s] == 1)
				nmaybe++;
		}
		items_free(&it);
	}
	for (p = 0; p < nprod; p++) {
		for (s = 0; s < MAXSEQ; s++)
			ck_assert_msg((must != NULL ? must : pl)[p].state[s] !=
			    2 || found[p][s], "p%d s%d was acknowledged%s but "
			    "is gone after the restart (%d acknowledged by "
			    "p%d)", p, s, must != NULL ? " well before the "
			    "crash" : "", pl[p].acked, p);
	}
	fprintf(stderr, "  %d items back, %d of them never acknowledged\n",
	    nfound, nmaybe);
}

static void
check_exactly_once(qlock *c, const char *prefix, struct prod_log *pl,
    int nprod)
{
	check_delivered(c, prefix, pl, NULL, nprod);
}

/* --- 1. crash and restart, exactly once ---------------------------------- */

static const char *const policies[] = { "always", "everysec" };

START_TEST(test_durability_crash_exactly_once)
{
	const char	*policy = policies[_i];
	struct scratch	 s;
	struct prod_log	*pl = calloc(NPROD, sizeof(*pl));
	struct qd	*d;
	qlock		*c, *holder;
	pid_t		 prods[NPROD], before[8], after[8];
	uint64_t	 tok, maxtok = 0;
	int64_t		 v;
	void		*val;
	size_t		 len;
	long		 semv = -1;
	int		 i, j, n, st, is_set = 0, acked;
	bool		 replaced = false;
	double		 end;
	char		 key[16];

	ck_assert_ptr_nonnull(pl);
	scratch_new(&s);
	d = dstart(&s, 3, policy, NULL);
	c = qd_connect(d);
	/* State besides the queues: an event, a semaphore raised to 5 with
	 * one permit held at the crash, a dict entry, fencing tokens. */
	ck_assert_int_eq(qlock_event_set(c, "d-ev"), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_open(c, "d-sem", 2, 0), QLOCK_OK);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(qlock_sem_release(c, "d-sem"), QLOCK_OK);
	holder = qd_connect(d);
	ck_assert_int_eq(qlock_sem_acquire(holder, "d-sem", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set(c, "d-meta", "k", "v1", 2), QLOCK_OK);
	for (i = 0; i < 3; i++) {
		tok = take_token(c, "d-fence");
		ck_assert_uint_gt(tok, maxtok);
		maxtok = tok;
	}

	producers_start(&s, d, prods, NPROD, "d-q", true);
	wait_acked(&s, NPROD, 150, 20);

	/* One worker dies mid-production and replays its shard. */
	ck_assert_int_eq(qd_worker_pids(d, before, 8), 3);
	ck_assert_int_eq(kill(before[1], SIGKILL), 0);
	for (end = qd_now() + QD_WAIT; !replaced && qd_now() < end; ) {
		n = qd_worker_pids(d, after, 8);
		replaced = n == 3;
		for (j = 0; j < n; j++)
			if (after[j] == before[1])
				replaced = false;
		if (!replaced)
			qd_nap();
	}
	ck_assert_msg(replaced, "worker %d not replaced", (int)before[1]);
	ck_assert(qd_log_wait(d, "restarting worker", QD_WAIT));
	acked = acked_so_far(&s, NPROD);
	wait_acked(&s, NPROD, acked + 150, 20);

	/* Tokens from a fresh connection, after the worker's restart. */
	qlock_close(c);
	c = qd_connect(d);
	tok = take_token(c, "d-fence");
	ck_assert_uint_gt(tok, maxtok);
	maxtok = tok;
	qlock_close(c);

	/* Then the whole daemon, with the producers still putting. */
	dcrash(d, NULL);
	qlock_close(holder);
	producers_stop(&s, prods, NPROD, pl);

	d = dstart(&s, 3, policy, NULL);
	c = qd_connect(d);
	fprintf(stderr, "crash/%s:", policy);
	check_exactly_once(c, "d-q", pl, NPROD);
	for (i = 0; i < NPROD; i++) {
		snprintf(key, sizeof(key), "p%d", i);
		v = -1;
		st = qlock_dict_get_int(c, "d-ctr", key, &v);
		ck_assert_msg(st == QLOCK_OK || (st == QLOCK_ENOKEY &&
		    pl[i].incr_acked == 0), "d-ctr[%s]: %s", key,
		    qlock_strerror(st));
		if (st == QLOCK_ENOKEY)
			v = 0;
		ck_assert_msg(v >= pl[i].incr_acked && v <= pl[i].incr_tried,
		    "d-ctr[%s] is %lld after the restart: %ld increments "
		    "acknowledged, %ld tried", key, (long long)v,
		    pl[i].incr_acked, pl[i].incr_tried);
	}
	ck_assert_int_eq(qlock_event_is_set(c, "d-ev", &is_set), QLOCK_OK);
	ck_assert_msg(is_set, "the event was set before the crash, not after");
	ck_assert_int_eq(qlock_sem_value(c, "d-sem", &semv), QLOCK_OK);
	ck_assert_msg(semv == 5, "the semaphore's value is %ld after the "
	    "restart, expected 5 (2 + 3 releases; the held permit's "
	    "session is gone)", semv);
	ck_assert_int_eq(qlock_dict_get(c, "d-meta", "k", &val, &len),
	    QLOCK_OK);
	ck_assert(len == 2 && memcmp(val, "v1", 2) == 0);
	free(val);
	tok = take_token(c, "d-fence");
	ck_assert_msg(tok > maxtok, "fencing token %llu after the restart, "
	    "but %llu was granted before", (unsigned long long)tok,
	    (unsigned long long)maxtok);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
	free(pl);
}
END_TEST

/* --- 2. another worker count --------------------------------------------- */

/* The CURRENT file says gen and workers; the other generation is gone. */
static void
check_current(const struct scratch *s, unsigned gen, int workers)
{
	char	 want[64], *cur = read_all(spath(s, "data/CURRENT"), NULL);
	struct stat st;

	snprintf(want, sizeof(want), "gen %u workers %d\n", gen, workers);
	ck_assert_msg(cur != NULL && strcmp(cur, want) == 0, "CURRENT is "
	    "'%s', expected '%s'", cur ? cur : "(none)", want);
	free(cur);
	ck_assert_msg(gen == 0 || stat(spath(s, "data/gen-%u", gen - 1), &st)
	    == -1, "data/gen-%u is still there after the re-partition",
	    gen - 1);
	ck_assert(stat(spath(s, "data/gen-%u", gen), &st) == 0);
}

/* Dict r-d<i%5>[k<i>] = i for i < n; queues r-q<i%8> hold "r<i>". */
static void
repart_check_dicts(qlock *c, int n)
{
	char	 dict[16], key[16];
	int64_t	 v;
	long	 len;
	int	 i, st;

	for (i = 0; i < n; i++) {
		snprintf(dict, sizeof(dict), "r-d%d", i % 5);
		snprintf(key, sizeof(key), "k%d", i);
		st = qlock_dict_get_int(c, dict, key, &v);
		ck_assert_msg(st == QLOCK_OK && v == i, "%s[%s]: %s, %lld",
		    dict, key, qlock_strerror(st), (long long)v);
	}
	for (i = 0; i < 5; i++) {
		snprintf(dict, sizeof(dict), "r-d%d", i);
		ck_assert_int_eq(qlock_dict_len(c, dict, &len), QLOCK_OK);
		ck_assert_int_eq(len, n / 5);
	}
}

static void
repart_fill(qlock *c, int from, int to)
{
	char	 q[16], dict[16], key[16], item[32];
	int	 i;

	for (i = from; i < to; i++) {
		snprintf(q, sizeof(q), "r-q%d", i % NQ);
		snprintf(item, sizeof(item), "r%d", i);
		put_str(c, q, item);
		snprintf(dict, sizeof(dict), "r-d%d", i % 5);
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(qlock_dict_set_int(c, dict, key, i), QLOCK_OK);
	}
}

START_TEST(test_durability_repartition)
{
	static const char *const kills[] = { "kill-tmp-fsync", "kill-rename" };
	struct scratch	 s;
	char		 ctl[192], *out;
	int		 status;
	bool		 interrupted;
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	char		 q[16], want[32];
	uint64_t	 t1, t2, t3;
	long		 size;
	size_t		 k;
	int		 i;

	scratch_new(&s);
	d = dstart(&s, 3, "always", NULL);
	c = qd_connect(d);
	repart_fill(c, 0, 120);
	t1 = take_token(c, "r-fence");
	qlock_close(c);
	dcrash(d, NULL);

	/* The master dies inside the re-partition (faultfs: at a new
	 * shard's fsync, right after its rename): 3 workers stay live. */
	interrupted = faultfs_path() != NULL;
	if (!interrupted)
		fprintf(stderr, "SKIP interrupted re-partition: no $FAULTFS\n");
	for (i = 0; interrupted && i < 2; i++) {
		snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
		write_str(ctl, kills[i]);
		faultfs_on(ctl);
		status = drun(&s, 2, QD_WAIT, &out, "--fsync", "always", NULL);
		faultfs_off();
		ck_assert_msg(status != -1 && WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL, "the master should have died "
		    "re-partitioning (%s): status 0x%x; output:\n%s", kills[i],
		    status, out);
		free(out);
		check_current(&s, 0, 3);
	}

	/* 3 -> 2, after a crash. */
	d = dstart(&s, 2, "always", NULL);
	check_current(&s, 1, 2);
	ck_assert(qd_log_wait(d, "re-partitioning", 0));
	ck_assert_msg(!interrupted || qd_log_wait(d, "interrupted re-partition",
	    0), "the leftover gen-1 of the interrupted re-partition was not "
	    "mentioned");
	c = qd_connect(d);
	for (i = 0; i < NQ; i++) {
		snprintf(q, sizeof(q), "r-q%d", i);
		ck_assert_int_eq(qlock_queue_size(c, q, &size), QLOCK_OK);
		ck_assert_msg(size == 15, "%s holds %ld items after 3 -> 2 "
		    "workers, expected 15", q, size);
	}
	repart_check_dicts(c, 120);
	t2 = take_token(c, "r-fence");
	ck_assert_msg(t2 > t1, "token %llu after re-partitioning, %llu "
	    "before", (unsigned long long)t2, (unsigned long long)t1);
	repart_fill(c, 120, 160);
	qlock_close(c);
	qd_stop(d);

	/* 2 -> 4, after a clean stop. */
	d = dstart(&s, 4, "always", NULL);
	check_current(&s, 2, 4);
	c = qd_connect(d);
	repart_check_dicts(c, 160);
	t3 = take_token(c, "r-fence");
	ck_assert_uint_gt(t3, t2);
	for (i = 0; i < NQ; i++) {
		snprintf(q, sizeof(q), "r-q%d", i);
		memset(&it, 0, sizeof(it));
		drain(c, q, &it);
		ck_assert_msg(it.n == 20, "%s holds %zu items after 3 -> 2 "
		    "-> 4 workers, expected 20", q, it.n);
		for (k = 0; k < it.n; k++) {
			snprintf(want, sizeof(want), "r%d", i + (int)k * NQ);
			ck_assert_msg(strcmp(it.v[k], want) == 0, "%s item %zu "
			    "is '%s', expected '%s'", q, k, it.v[k], want);
		}
		items_free(&it);
	}
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 3. JoinableQueue: unfinished items come back ------------------------ */

/* Get one item and expect it to be want. */
static void
get_expect(qlock *c, const char *q, const char *want)
{
	void	*item;
	size_t	 len;
	int	 st = qlock_queue_get(c, q, &item, &len, 0);

	ck_assert_msg(st == QLOCK_OK, "get %s: %s", q, qlock_strerror(st));
	ck_assert_msg(len == strlen(want) && memcmp(item, want, len) == 0,
	    "got '%.*s' from %s, expected '%s'", (int)len, (char *)item, q,
	    want);
	free(item);
}

/* How the daemon goes away with joinable items taken and unfinished. */
static const char *const joinable_ends[] = {
	"crash",			/* SIGKILL, sessions still open */
	"stop",				/* SIGTERM: the sessions end first */
	"crash after compactions",	/* the held items are in a snapshot */
	"crash, then 3 workers",	/* re-partitioned */
};

START_TEST(test_durability_joinable_unfinished)
{
	const char	*how = joinable_ends[_i];
	struct scratch	 s;
	struct qd	*d;
	qlock		*a, *b, *c;
	char		 item[320], *log;
	long		 size = -1;
	void		*got;
	size_t		 len;
	int		 i, workers = _i == 2 ? 1 : 2;
	static const char *const back[] = { "j2", "j3", "j6", "j7", "j8",
	    "j9", "j10" };

	scratch_new(&s);
	d = dstart(&s, workers, "always", "--compact-min", "4096", NULL);
	a = qd_connect(d);
	b = qd_connect(d);
	ck_assert_int_eq(qlock_queue_open(a, "jq", 0, QLOCK_JOINABLE),
	    QLOCK_OK);
	for (i = 1; i <= 10; i++) {
		snprintf(item, sizeof(item), "j%d", i);
		put_str(a, "jq", item);
	}
	/* a takes j1-j3 and finishes one (j1); b takes and finishes j4, j5. */
	get_expect(a, "jq", "j1");
	get_expect(a, "jq", "j2");
	get_expect(a, "jq", "j3");
	ck_assert_int_eq(qlock_queue_task_done(a, "jq"), QLOCK_OK);
	get_expect(b, "jq", "j4");
	get_expect(b, "jq", "j5");
	ck_assert_int_eq(qlock_queue_task_done(b, "jq"), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_task_done(b, "jq"), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_size(b, "jq", &size), QLOCK_OK);
	ck_assert_int_eq(size, 5);
	if (_i == 2) {
		/* Churn on the same (only) shard until it compacts. */
		memset(item, 'z', sizeof(item));
		for (i = 0; i < 100; i++) {
			put_ok(b, "jq-churn", item, sizeof(item));
			ck_assert_int_eq(qlock_queue_get(b, "jq-churn", &got,
			    &len, 0), QLOCK_OK);
			free(got);
		}
		log = qd_log(d);
		ck_assert_msg(strstr(log, "compacted") != NULL, "no compaction "
		    "after 100 put/get cycles with --compact-min 4096");
		free(log);
	}
	if (_i == 1)
		qd_stop(d);
	else
		dcrash(d, NULL);	/* a and b still connected */
	qlock_close(a);
	qlock_close(b);

	d = dstart(&s, _i == 3 ? 3 : workers, "always", NULL);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_queue_size(c, "jq", &size), QLOCK_OK);
	ck_assert_msg(size == 7, "jq holds %ld items after the %s, expected "
	    "7 (j2 j3 unfinished, j6-j10)", size, how);
	ck_assert_int_eq(qlock_queue_join(c, "jq", 0), QLOCK_TIMEOUT);
	for (i = 0; i < 7; i++)
		get_expect(c, "jq", back[i]);
	for (i = 0; i < 7; i++)
		ck_assert_int_eq(qlock_queue_task_done(c, "jq"), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_task_done(c, "jq"), QLOCK_EVALUE);
	ck_assert_int_eq(qlock_queue_join(c, "jq", 1.0), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 3b. parked puts and gets -------------------------------------------- */

/* A child that puts item to q, blocking up to 5 s: exits 0 if acknowledged. */
static pid_t
blocked_putter(const struct qd *d, const char *q, const char *item)
{
	qlock	*c;
	pid_t	 pid;
	int	 st;

	if ((pid = qd_fork()) != 0)
		return pid;
	if ((c = qlock_connect(d->address, d->key, &st)) == NULL)
		_exit(10);
	st = qlock_queue_put(c, q, item, strlen(item), 5.0);
	_exit(st == QLOCK_OK ? 0 : 1);
}

/* A child that gets from q, blocking up to 5 s: exits 0 if it got "handed". */
static pid_t
blocked_getter(const struct qd *d, const char *q)
{
	qlock	*c;
	pid_t	 pid;
	void	*item;
	size_t	 len;
	int	 st;

	if ((pid = qd_fork()) != 0)
		return pid;
	if ((c = qlock_connect(d->address, d->key, &st)) == NULL)
		_exit(10);
	st = qlock_queue_get(c, q, &item, &len, 5.0);
	_exit(st == QLOCK_OK && len == 6 && memcmp(item, "handed", 6) == 0 ?
	    0 : 1);
}

/* A put parked on a full queue is logged when it gets in, and only then;
 * an item handed straight to a parked getter is gone for good. */
START_TEST(test_durability_parked)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*a;
	struct items	 it;
	pid_t		 p3, p4, pg;
	long		 size = -1;
	int		 status;

	scratch_new(&s);
	d = dstart(&s, 2, "always", NULL);
	a = qd_connect(d);
	ck_assert_int_eq(qlock_queue_open(a, "bq", 2, 0), QLOCK_OK);
	put_str(a, "bq", "b1");
	put_str(a, "bq", "b2");
	p3 = blocked_putter(d, "bq", "b3");
	ck_assert(qd_wait_stat(a, "waiters", 1, QD_WAIT));
	get_expect(a, "bq", "b1");	/* b3 gets in */
	status = qd_wait_child(p3, QD_WAIT);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "the parked put of b3: status 0x%x",
	    status);
	/* A getter parked on an empty queue takes the next put directly. */
	pg = blocked_getter(d, "pg");
	ck_assert(qd_wait_stat(a, "waiters", 1, QD_WAIT));
	put_str(a, "pg", "handed");
	status = qd_wait_child(pg, QD_WAIT);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "the parked get: status 0x%x", status);
	p4 = blocked_putter(d, "bq", "b4");	/* parked at the crash */
	ck_assert(qd_wait_stat(a, "waiters", 1, QD_WAIT));
	qlock_close(a);
	dcrash(d, NULL);
	status = qd_wait_child(p4, QD_WAIT);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 1, "b4 was acknowledged on a full queue");

	d = dstart(&s, 2, "always", NULL);
	a = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(a, "bq", &it);
	ck_assert_msg(it.n == 2 && strcmp(it.v[0], "b2") == 0 &&
	    strcmp(it.v[1], "b3") == 0, "bq holds %zu items after the crash "
	    "(first '%s'), expected b2 b3", it.n, it.n > 0 ? it.v[0] : "");
	items_free(&it);
	ck_assert_int_eq(qlock_queue_size(a, "pg", &size), QLOCK_OK);
	ck_assert_msg(size == 0, "the item handed to a parked getter is "
	    "back in its queue after the crash");
	qlock_close(a);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 3c. removals -------------------------------------------------------- */

/* What was deleted, cleared or taken away stays so after a crash, and a
 * name deleted and reused as another kind comes back as the new kind. */
START_TEST(test_durability_removals)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	void		*val;
	size_t		 len;
	long		 n = -1;
	int		 is_set = 1, st, round;

	scratch_new(&s);
	d = dstart(&s, 2, "always", NULL);
	c = qd_connect(d);
	put_str(c, "rm-q", "gone1");
	put_str(c, "rm-q", "gone2");
	ck_assert_int_eq(qlock_delete(c, "rm-q"), QLOCK_OK);
	put_str(c, "rm-reuse", "old");
	ck_assert_int_eq(qlock_delete(c, "rm-reuse"), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set(c, "rm-reuse", "k", "new", 3),
	    QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set(c, "rm-d", "a", "1", 1), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set(c, "rm-d", "b", "2", 1), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_del(c, "rm-d", "a"), QLOCK_OK);
	ck_assert_int_eq(qlock_event_set(c, "rm-ev"), QLOCK_OK);
	ck_assert_int_eq(qlock_event_clear(c, "rm-ev"), QLOCK_OK);
	qlock_close(c);
	for (round = 0; round < 2; round++) {
		/* Round 0 after a crash; round 1 after a second restart. */
		dcrash(d, NULL);
		d = dstart(&s, 2, "always", NULL);
		c = qd_connect(d);
		ck_assert_int_eq(qlock_queue_size(c, "rm-q", &n), QLOCK_OK);
		ck_assert_msg(n == 0, "deleted queue rm-q holds %ld items "
		    "after the crash", n);
		st = qlock_dict_get(c, "rm-reuse", "k", &val, &len);
		ck_assert_msg(st == QLOCK_OK, "rm-reuse, deleted as a queue "
		    "and reused as a dict: %s (%s)", qlock_strerror(st),
		    qlock_last_error(c));
		ck_assert(len == 3 && memcmp(val, "new", 3) == 0);
		free(val);
		ck_assert_int_eq(qlock_dict_get(c, "rm-d", "a", &val, &len),
		    QLOCK_ENOKEY);
		ck_assert_int_eq(qlock_dict_len(c, "rm-d", &n), QLOCK_OK);
		ck_assert_int_eq(n, 1);
		ck_assert_int_eq(qlock_event_is_set(c, "rm-ev", &is_set),
		    QLOCK_OK);
		ck_assert_msg(!is_set, "a cleared event is set after the "
		    "crash");
		qlock_close(c);
	}
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 4. torn tails ------------------------------------------------------- */

#define TORN_ITEMS	30

/* Item i of the torn-tail log: varied sizes, the last two small. */
static size_t
torn_item(int i, char *buf, size_t size)
{
	size_t	len, n;

	len = i == TORN_ITEMS - 1 ? 9 : i == TORN_ITEMS - 2 ? 21 :
	    (size_t)(i * 397) % 1500 + 6;
	ck_assert_uint_lt(len, size);
	n = (size_t)snprintf(buf, size, "t%02d:", i);
	memset(buf + n, 'A' + i % 26, len - n);
	return len;
}

/* A log of TORN_ITEMS puts to queue "tq", written by the daemon and
 * stopped cleanly; its map. */
static void
torn_make_log(const struct scratch *s, struct logmap *m)
{
	struct qd	*d = dstart(s, 1, "always", NULL);
	qlock		*c = qd_connect(d);
	char		 item[2048], *dlog;
	size_t		 len;
	long		 size;
	int		 i;

	for (i = 0; i < TORN_ITEMS; i++) {
		len = torn_item(i, item, sizeof(item));
		put_ok(c, "tq", item, len);
	}
	qlock_close(c);
	qd_stop(d);
	log_parse(spath(s, "data/gen-0/shard-0.log"), m);
	ck_assert_msg(m->n == TORN_ITEMS, "the log holds %d records for %d "
	    "puts", m->n, TORN_ITEMS);
	for (i = 0; i < m->n; i++)
		ck_assert_int_eq(m->type[i], R_Q_PUT);
	/* With --fsync always the log ends in zeros reserved ahead: that is
	 * a whole log, not a torn one.  Then drop them: the cuts below are
	 * made into the records. */
	d = dstart(s, 1, "always", NULL);
	dlog = qd_log(d);
	ck_assert_msg(strstr(dlog, "torn") == NULL, "a log ending in the "
	    "zeros reserved ahead was taken as torn:\n%s", dlog);
	free(dlog);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_queue_size(c, "tq", &size), QLOCK_OK);
	ck_assert_int_eq(size, TORN_ITEMS);
	qlock_close(c);
	qd_stop(d);
	log_parse(spath(s, "data/gen-0/shard-0.log"), m);
	ck_assert_int_eq(m->n, TORN_ITEMS);
	ck_assert_int_eq(truncate(spath(s, "data/gen-0/shard-0.log"),
	    (off_t)m->end[m->n - 1]), 0);
}

/* Copy the data dir to <dir>/cut with the log cut at size cut. */
static void
torn_copy(const struct scratch *s, const char *log, size_t cut,
    struct scratch *copy)
{
	char	*cur = read_all(spath(s, "data/CURRENT"), NULL);

	ck_assert_ptr_nonnull(cur);
	*copy = *s;
	snprintf(copy->data, sizeof(copy->data), "%s/cut", s->dir);
	rm_tree(copy->data);
	ck_assert_int_eq(mkdir(copy->data, 0700), 0);
	write_str(spath(s, "cut/CURRENT"), cur);
	ck_assert_int_eq(mkdir(spath(s, "cut/gen-0"), 0700), 0);
	write_all_file(spath(s, "cut/gen-0/shard-0.log"), log, cut);
	free(cur);
}

START_TEST(test_durability_torn_tail)
{
	struct scratch	 s, cp;
	struct logmap	*m = calloc(1, sizeof(*m));
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	size_t		 cuts[400], ncuts = 0, cut, loglen, k, want, len;
	char		*log, *dlog, item[2048];
	bool		 boundary;
	int		 i, whole;
	off_t		 size;

	ck_assert_ptr_nonnull(m);
	scratch_new(&s);
	torn_make_log(&s, m);
	log = read_all(spath(&s, "data/gen-0/shard-0.log"), &loglen);
	ck_assert_uint_eq(loglen, m->end[m->n - 1]);
	/* Every byte of the last two records, and a sample before them. */
	for (cut = m->start[m->n - 2]; cut <= loglen; cut++)
		cuts[ncuts++] = cut;
	for (i = 0; i < 24; i++)
		cuts[ncuts++] = LOG_HDR + (m->start[m->n - 2] - LOG_HDR) *
		    (size_t)i / 24 + (size_t)i % 5;
	for (i = 1; i < 6; i++)
		cuts[ncuts++] = m->start[i * 4] + (size_t)i * 2;   /* headers */
	for (k = 0; k < ncuts; k++) {
		cut = cuts[k];
		for (whole = 0; whole < m->n && m->end[whole] <= cut; whole++)
			;
		want = whole == 0 ? LOG_HDR : m->end[whole - 1];
		boundary = want == cut;
		torn_copy(&s, log, cut, &cp);
		d = dstart(&cp, 1, "always", NULL);
		size = file_size(spath(&s, "cut/gen-0/shard-0.log"));
		ck_assert_msg(size == (off_t)want, "cut at %zu: the log is "
		    "%lld bytes after the start, expected %zu (cut back to the "
		    "last whole record)", cut, (long long)size, want);
		c = qd_connect(d);
		memset(&it, 0, sizeof(it));
		drain(c, "tq", &it);
		ck_assert_msg(it.n == (size_t)whole, "cut at %zu (of %zu): %zu "
		    "items back, expected the %d whole records before it", cut,
		    loglen, it.n, whole);
		for (i = 0; i < whole; i++) {
			len = torn_item(i, item, sizeof(item));
			ck_assert_msg(it.len[i] == len &&
			    memcmp(it.v[i], item, len) == 0, "cut at %zu: item "
			    "%d is '%.8s...' (%zu bytes), expected '%.8s...' "
			    "(%zu)", cut, i, it.v[i], it.len[i], item, len);
		}
		items_free(&it);
		qlock_close(c);
		dlog = qd_log(d);
		ck_assert_msg(boundary || strstr(dlog, "torn tail") != NULL,
		    "cut at %zu, inside a record: the log does not mention a "
		    "torn tail:\n%s", cut, dlog);
		ck_assert_msg(!boundary || strstr(dlog, "torn tail") == NULL,
		    "cut at %zu, a record boundary: the log claims a torn "
		    "tail:\n%s", cut, dlog);
		free(dlog);
		qd_stop(d);
	}
	fprintf(stderr, "torn tail: %zu cuts of a %zu-byte log\n", ncuts,
	    loglen);
	free(log);
	free(m);
	scratch_free(&s);
}
END_TEST

/* CRC-32 as zlib computes it, to build a record by hand. */
static uint32_t
crc32_of(const uint8_t *p, size_t len)
{
	uint32_t	c = 0xffffffffu;
	int		k;

	while (len-- > 0) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * An item whose bytes happen to hold a whole log record (a client may
 * store anything, a copy of a log for one): if the daemon dies while
 * appending it, what is left is still a torn tail, not damage in the
 * middle that keeps the daemon from starting.
 */
START_TEST(test_durability_torn_tail_record_like_item)
{
	/* [2, "tq", 99, "x"]: a put record's payload. */
	static const uint8_t payload[] = { 0x94, 0x02, 0xa2, 't', 'q', 0x63,
	    0xa1, 'x' };
	struct scratch	 s, cp;
	struct logmap	*m = calloc(1, sizeof(*m));
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	uint8_t		 item[128];
	size_t		 len = 0, loglen, cut;
	char		*log;

	ck_assert_ptr_nonnull(m);
	memcpy(item, "before|", 7);
	len = 7;
	put_le32(item + len, REC_MAGIC);
	put_le32(item + len + 4, sizeof(payload));
	put_le32(item + len + 8, crc32_of(payload, sizeof(payload)));
	memcpy(item + len + REC_HDR, payload, sizeof(payload));
	len += REC_HDR + sizeof(payload);
	memset(item + len, '.', 40);
	len += 40;

	scratch_new(&s);
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	put_str(c, "tq", "r0");
	put_str(c, "tq", "r1");
	put_ok(c, "tq", item, len);
	qlock_close(c);
	qd_stop(d);
	log_parse(spath(&s, "data/gen-0/shard-0.log"), m);
	ck_assert_int_eq(m->n, 3);
	log = read_all(spath(&s, "data/gen-0/shard-0.log"), &loglen);
	/* Cut in the trailing dots: the embedded record is whole. */
	cut = m->end[2] - 20;

	torn_copy(&s, log, cut, &cp);
	d = dstart(&cp, 1, "always", NULL);
	ck_assert(qd_log_wait(d, "torn tail", 0));
	c = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(c, "tq", &it);
	ck_assert_msg(it.n == 2 && strcmp(it.v[0], "r0") == 0 &&
	    strcmp(it.v[1], "r1") == 0, "%zu items back after the torn "
	    "append, expected r0 r1", it.n);
	items_free(&it);
	qlock_close(c);
	qd_stop(d);
	free(log);
	free(m);
	scratch_free(&s);
}
END_TEST

/* --- 5. damage in the middle --------------------------------------------- */

START_TEST(test_durability_damaged_middle)
{
	/* Where in record 3 a byte is flipped: payload, CRC, length. */
	static const size_t	 where[] = { REC_HDR + 3, 9, 5 };
	struct scratch		 s;
	struct logmap		*m = calloc(1, sizeof(*m));
	struct qd		*d;
	qlock			*c;
	struct items		 it;
	char			*log, *out, needle[64], item[2048];
	char			 path[192];
	size_t			 loglen, off, len;
	int			 status, i;

	ck_assert_ptr_nonnull(m);
	scratch_new(&s);
	torn_make_log(&s, m);
	snprintf(path, sizeof(path), "%s",
	    spath(&s, "data/gen-0/shard-0.log"));
	log = read_all(path, &loglen);
	off = m->start[3] + where[_i];
	log[off] ^= 0x5a;
	write_all_file(path, log, loglen);
	free(log);

	status = drun(&s, 1, QD_WAIT, &out, NULL);
	ck_assert_msg(status != -1, "qlockd started on a log damaged in the "
	    "middle (offset %zu); output:\n%s", m->start[3], out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "status 0x%x on a damaged log; output:\n%s", status, out);
	ck_assert_msg(strstr(out, "gen-0/shard-0.log") != NULL, "the refusal "
	    "does not name the file:\n%s", out);
	snprintf(needle, sizeof(needle), "offset %zu", m->start[3]);
	ck_assert_msg(strstr(out, needle) != NULL, "the refusal does not say "
	    "'%s':\n%s", needle, out);
	ck_assert_msg(strstr(out, "--repair-log") != NULL, "the refusal does "
	    "not point to --repair-log:\n%s", out);
	free(out);
	ck_assert_msg(file_size(path) == (off_t)loglen, "refusing to start "
	    "changed the damaged log");

	/* --repair-log keeps the three records before the damage. */
	d = dstart(&s, 1, "always", "--repair-log", NULL);
	ck_assert(qd_log_wait(d, needle, 0));
	ck_assert_int_eq(file_size(path), (off_t)m->start[3]);
	c = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(c, "tq", &it);
	ck_assert_msg(it.n == 3, "%zu items after --repair-log, expected the "
	    "3 before the damage", it.n);
	for (i = 0; i < 3; i++) {
		len = torn_item(i, item, sizeof(item));
		ck_assert(it.len[i] == len && memcmp(it.v[i], item, len) == 0);
	}
	items_free(&it);
	put_str(c, "tq", "after-repair");
	qlock_close(c);
	qd_stop(d);

	/* And it starts again without the option. */
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	get_expect(c, "tq", "after-repair");
	qlock_close(c);
	qd_stop(d);
	free(m);
	scratch_free(&s);
}
END_TEST

/* --- 6. power loss ------------------------------------------------------- */

/* Cut each of nshards logs back to its fsync'ed mark; the bytes dropped. */
static long
cut_to_sync_marks(const struct scratch *s, int nshards)
{
	char		*mark, *end;
	unsigned long long synced;
	off_t		 size;
	long		 cut = 0;
	int		 i;

	for (i = 0; i < nshards; i++) {
		mark = read_all(spath(s, "data/gen-0/shard-%d.log.synced", i),
		    NULL);
		ck_assert_msg(mark != NULL, "no shard-%d.log.synced with "
		    "QLOCKD_TEST_SYNC_MARKS=1", i);
		synced = strtoull(mark, &end, 10);
		ck_assert_msg(end != mark && *end == '\n', "bad sync mark '%s'",
		    mark);
		free(mark);
		size = file_size(spath(s, "data/gen-0/shard-%d.log", i));
		ck_assert_msg(size >= 0 && synced <= (unsigned long long)size,
		    "shard-%d: synced mark %llu beyond the file's %lld bytes",
		    i, synced, (long long)size);
		cut += (long)(size - (off_t)synced);
		ck_assert_int_eq(truncate(spath(s, "data/gen-0/shard-%d.log",
		    i), (off_t)synced), 0);
	}
	return cut;
}

/*
 * --fsync everysec and a power cut: what was acknowledged more than a few
 * seconds before it is there (the fsync process flushes the log every
 * second); what came after may be lost, but never out of order, twice,
 * or half.
 */
START_TEST(test_durability_power_loss_everysec)
{
	struct scratch	 s;
	struct prod_log	*pl = calloc(NPROD, sizeof(*pl));
	struct prod_log	*before = calloc(NPROD, sizeof(*before));
	struct qd	*d;
	qlock		*c;
	pid_t		 prods[NPROD];
	long		 cut;
	int		 i;

	ck_assert_ptr_nonnull(pl);
	ck_assert_ptr_nonnull(before);
	scratch_new(&s);
	/* No compaction: its fsync would cover the log as well. */
	setenv("QLOCKD_TEST_SYNC_MARKS", "1", 1);
	d = dstart(&s, 2, "everysec", "--compact-min", "1g", NULL);
	unsetenv("QLOCKD_TEST_SYNC_MARKS");
	producers_start(&s, d, prods, NPROD, "pe-q", false);
	wait_acked(&s, NPROD, 400, 20);
	for (i = 0; i < NPROD; i++)
		prod_read(spath(&s, "prod-%d", i), &before[i]);
	/* The bound under test: "at most about a second is at risk". */
	sleep(3);
	dcrash(d, NULL);
	producers_stop(&s, prods, NPROD, pl);

	cut = cut_to_sync_marks(&s, 2);
	fprintf(stderr, "power loss, everysec: %ld unsynced bytes dropped;",
	    cut);
	d = dstart(&s, 2, "everysec", NULL);
	c = qd_connect(d);
	check_delivered(c, "pe-q", pl, before, NPROD);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
	free(before);
	free(pl);
}
END_TEST

START_TEST(test_durability_power_loss)
{
	struct scratch	 s;
	struct prod_log	*pl = calloc(NPROD, sizeof(*pl));
	struct qd	*d;
	qlock		*c;
	pid_t		 prods[NPROD];
	long		 cut;

	ck_assert_ptr_nonnull(pl);
	scratch_new(&s);
	setenv("QLOCKD_TEST_SYNC_MARKS", "1", 1);
	d = dstart(&s, 2, "always", NULL);
	unsetenv("QLOCKD_TEST_SYNC_MARKS");
	producers_start(&s, d, prods, NPROD, "pl-q", false);
	wait_acked(&s, NPROD, 400, 20);
	dcrash(d, NULL);
	producers_stop(&s, prods, NPROD, pl);

	/* Lose whatever was not fsync'ed, as a power cut would. */
	cut = cut_to_sync_marks(&s, 2);
	fprintf(stderr, "power loss: %ld unsynced bytes dropped;", cut);
	d = dstart(&s, 2, "always", NULL);
	c = qd_connect(d);
	check_exactly_once(c, "pl-q", pl, NPROD);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
	free(pl);
}
END_TEST

/* --- 7. a full disk, a failing disk (faultfs) ---------------------------- */

#define BIG	(1u << 20)

START_TEST(test_durability_disk_full)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	char		*big = malloc(BIG), want[32], *dlog;
	char		 ctl[192];
	void		*val;
	size_t		 len, k;
	long		 size = -1;
	int		 i, st = QLOCK_OK, nbig = 0;

	if (faultfs_path() == NULL) {
		fprintf(stderr, "SKIP test_durability_disk_full: "
		    "no $FAULTFS\n");
		free(big);
		return;
	}
	ck_assert_ptr_nonnull(big);
	scratch_new(&s);
	snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
	write_str(ctl, "");
	faultfs_on(ctl);
	d = dstart(&s, 1, "always", NULL);
	faultfs_off();
	c = qd_connect(d);
	ck_assert_int_eq(qlock_dict_set(c, "fx-d", "k", "v", 1), QLOCK_OK);
	for (i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "small-%d", i);
		put_str(c, "fx-q", want);
	}

	/* The disk fills: 1 MiB puts use up what is reserved (up to 8 MiB;
	 * with --fsync always small records are reserved a megabyte ahead,
	 * so none may fit), then the next reservation fails. */
	write_str(ctl, "enospc");
	for (i = 0; i < 24; i++) {
		snprintf(big, BIG, "big-%d:", i);
		memset(big + strlen(big), 'b', BIG - strlen(big));
		st = qlock_queue_put(c, "fx-q", big, BIG, 0);
		if (st != QLOCK_OK)
			break;
		nbig++;
	}
	ck_assert_msg(st == QLOCK_ELIMIT, "a put with the disk full: %s (%s), "
	    "expected %s", qlock_strerror(st), qlock_last_error(c),
	    qlock_strerror(QLOCK_ELIMIT));
	ck_assert_msg(strstr(qlock_last_error(c), "disk full") != NULL,
	    "the error does not say 'disk full': %s", qlock_last_error(c));
	ck_assert_msg(nbig < 8, "%d 1 MiB puts fitted in the at most 8 MiB "
	    "reserved", nbig);
	/* Reads still work. */
	ck_assert_int_eq(qlock_queue_size(c, "fx-q", &size), QLOCK_OK);
	ck_assert_int_eq(size, 5 + nbig);
	ck_assert_int_eq(qlock_dict_get(c, "fx-d", "k", &val, &len), QLOCK_OK);
	ck_assert(len == 1 && memcmp(val, "v", 1) == 0);
	free(val);
	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);
	dlog = qd_log(d);
	ck_assert_msg(strstr(dlog, "disk full") != NULL, "the daemon's log "
	    "does not say the disk is full");
	free(dlog);

	/* Room again: puts succeed. */
	write_str(ctl, "");
	snprintf(big, BIG, "big-after:");
	memset(big + strlen(big), 'c', BIG - strlen(big));
	st = qlock_queue_put(c, "fx-q", big, BIG, 0);
	ck_assert_msg(st == QLOCK_OK, "a put once there is room again: %s "
	    "(%s)", qlock_strerror(st), qlock_last_error(c));
	qlock_close(c);
	dcrash(d, NULL);

	/* After a crash: exactly what was acknowledged. */
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(c, "fx-q", &it);
	ck_assert_msg(it.n == (size_t)(5 + nbig + 1), "%zu items after the "
	    "restart, expected %d acknowledged", it.n, 5 + nbig + 1);
	for (k = 0; k < it.n; k++) {
		if (k < 5)
			snprintf(want, sizeof(want), "small-%zu", k);
		else if (k < (size_t)(5 + nbig))
			snprintf(want, sizeof(want), "big-%zu:", k - 5);
		else
			snprintf(want, sizeof(want), "big-after:");
		ck_assert_msg(strncmp(it.v[k], want, strlen(want)) == 0 &&
		    (k < 5 || it.len[k] == BIG), "item %zu is '%.12s' (%zu "
		    "bytes), expected '%s'", k, it.v[k], it.len[k], want);
	}
	items_free(&it);
	qlock_close(c);
	qd_stop(d);
	free(big);
	scratch_free(&s);
}
END_TEST

static const char *const eio_modes[] = { "eio", "eio-sync" };

START_TEST(test_durability_disk_error)
{
	const char	*mode = eio_modes[_i];
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	char		 item[32], *dlog;
	char		 ctl[192];
	size_t		 k, j;
	int		 i, st;
	double		 end;

	if (faultfs_path() == NULL) {
		fprintf(stderr, "SKIP test_durability_disk_error: "
		    "no $FAULTFS\n");
		return;
	}
	scratch_new(&s);
	snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
	write_str(ctl, "");
	faultfs_on(ctl);
	d = dstart(&s, 2, "always", NULL);
	faultfs_off();
	c = qd_connect(d);
	for (i = 0; i < 10; i++) {
		snprintf(item, sizeof(item), "e%d", i);
		put_str(c, "fx-e", item);
	}

	/* The log cannot be written (or synced): no acknowledgement, the
	 * worker exits and is restarted. */
	write_str(ctl, mode);
	st = qlock_queue_put(c, "fx-e", "e-fail", 6, 0);
	ck_assert_msg(st == QLOCK_EUNAVAIL || st == QLOCK_ECONN, "a put whose "
	    "log %s failed: %s, expected %s or %s", strcmp(mode, "eio") == 0 ?
	    "write" : "fdatasync", qlock_strerror(st),
	    qlock_strerror(QLOCK_EUNAVAIL), qlock_strerror(QLOCK_ECONN));
	ck_assert_msg(qd_log_wait(d, "restarting worker", QD_WAIT), "the log "
	    "does not say the worker was restarted");
	dlog = qd_log(d);
	ck_assert_msg(strstr(dlog, strcmp(mode, "eio") == 0 ? "write " :
	    "fdatasync ") != NULL && strstr(dlog, "exited with status") != NULL,
	    "the log does not say why the worker exited:\n%s", dlog);
	free(dlog);

	/* Healthy again: a put goes through once the worker is back. */
	write_str(ctl, "");
	for (end = qd_now() + QD_WAIT;;) {
		if (st == QLOCK_ECONN) {
			qlock_close(c);
			c = connect_retry(d);
		}
		st = qlock_queue_put(c, "fx-e", "e-after", 7, 0);
		if (st == QLOCK_OK || qd_now() >= end)
			break;
		ck_assert_msg(st == QLOCK_EUNAVAIL || st == QLOCK_ECONN,
		    "put after the restart: %s", qlock_strerror(st));
		qd_nap();
	}
	ck_assert_msg(st == QLOCK_OK, "no put succeeded within %.0f s of the "
	    "disk recovering: %s", QD_WAIT, qlock_strerror(st));
	qlock_close(c);
	dcrash(d, NULL);

	d = dstart(&s, 2, "always", NULL);
	c = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(c, "fx-e", &it);
	for (k = 0, j = 0; k < it.n; k++) {
		if (j == 10 && strcmp(it.v[k], "e-fail") == 0)
			continue;	/* unacknowledged: may be kept */
		if (j < 10)
			snprintf(item, sizeof(item), "e%zu", j);
		else
			snprintf(item, sizeof(item), "e-after");
		ck_assert_msg(strcmp(it.v[k], item) == 0, "item %zu is '%s', "
		    "expected '%s'", k, it.v[k], item);
		j++;
	}
	ck_assert_msg(j == 11, "%zu of the 11 acknowledged items are back",
	    j);
	items_free(&it);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 8. crashes during compaction ---------------------------------------- */

#define CYC_LIVE	40	/* items kept in the queue while cycling */

/*
 * The cycler: put/get on "cq" keeping about CYC_LIVE items of ~300
 * bytes, so that a 4 KiB --compact-min compacts often.  Writes "p id"
 * before and "P id" after an acknowledged put, "g" before and "G id"
 * after a get; stops at ECONN (the daemon is gone) or the stop file.
 */
static void
cycler(const struct qd *d, const char *file, const char *stopfile, int round)
{
	char	 item[512];
	qlock	*c;
	void	*got;
	size_t	 len;
	int	 fd, st, id = round * 100000, count = 0, n, r;
	double	 end = qd_now() + 20;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0600);
	if (fd == -1 || (c = qlock_connect(d->address, d->key, &st)) == NULL)
		_exit(10);
	srand((unsigned)getpid());
	while (qd_now() < end && access(stopfile, F_OK) != 0) {
		r = rand() % 100;
		if (count < CYC_LIVE / 2 || (count < 2 * CYC_LIVE && r < 50)) {
			n = snprintf(item, sizeof(item), "c%d|", id);
			memset(item + n, 'x', 300);
			dprintf(fd, "p %d\n", id);
			st = qlock_queue_put(c, "cq", item, (size_t)n + 300, 0);
			if (st == QLOCK_OK) {
				dprintf(fd, "P %d\n", id);
				count++;
			}
			id++;
		} else {
			dprintf(fd, "g\n");
			st = qlock_queue_get(c, "cq", &got, &len, 0);
			if (st == QLOCK_OK) {
				dprintf(fd, "G %d\n", atoi((char *)got + 1));
				free(got);
				count--;
			}
		}
		if (st == QLOCK_ECONN || st == QLOCK_EUNAVAIL)
			_exit(0);
		if (st != QLOCK_OK) {
			dprintf(fd, "X %s\n", qlock_strerror(st));
			_exit(2);
		}
	}
	_exit(0);
}

/*
 * What the cycler's file says must be in "cq": the acknowledged puts not
 * got, in order (want), and the item of an unanswered put (*maybe_put,
 * may be at the tail) or whether a get was unanswered (*maybe_got: the
 * head may be gone).  Also checks each get returned the head.
 */
static int
cycler_expect(const char *file, int *want, int max, int *maybe_put,
    bool *maybe_got)
{
	char	*buf = read_all(file, NULL), *line, *save = NULL;
	int	 n = 0, head = 0, id;

	ck_assert_ptr_nonnull(buf);
	*maybe_put = -1;
	*maybe_got = false;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		*maybe_put = -1;
		*maybe_got = false;
		if (sscanf(line, "p %d", &id) == 1)
			*maybe_put = id;
		else if (sscanf(line, "P %d", &id) == 1) {
			ck_assert_int_lt(n, max);
			want[n++] = id;
		} else if (line[0] == 'g')
			*maybe_got = true;
		else if (sscanf(line, "G %d", &id) == 1) {
			ck_assert_msg(head < n && want[head] == id, "the "
			    "cycler got c%d, expected c%d", id, head < n ?
			    want[head] : -1);
			head++;
		} else
			ck_abort_msg("cycler: %s", line);
	}
	free(buf);
	memmove(want, want + head, (size_t)(n - head) * sizeof(*want));
	return n - head;
}

/* Drain "cq" and compare with the cycler's account. */
static void
cycler_check(qlock *c, const char *file, const char *how)
{
	static int	 want[200000];
	struct items	 it;
	int		 n, maybe_put, skip = 0, id;
	bool		 maybe_got;
	size_t		 k;

	n = cycler_expect(file, want, 200000, &maybe_put, &maybe_got);
	memset(&it, 0, sizeof(it));
	drain(c, "cq", &it);
	/* An unanswered get may have taken the head. */
	if (maybe_got && n > 0 && (it.n == 0 || atoi(it.v[0] + 1) != want[0]))
		skip = 1;
	for (k = 0; k < it.n; k++) {
		id = atoi(it.v[k] + 1);
		if ((int)k + skip == n && id == maybe_put)
			continue;	/* an unanswered put that was kept */
		ck_assert_msg((int)k + skip < n, "%s: item c%d is back, but "
		    "was got or never acknowledged (%d expected)", how, id, n);
		ck_assert_msg(id == want[k + (size_t)skip], "%s: item %zu is "
		    "c%d, expected c%d (%d expected, %zu back)", how, k, id,
		    want[k + (size_t)skip], n, it.n);
	}
	ck_assert_msg(it.n + (size_t)skip >= (size_t)n, "%s: %zu items back, "
	    "%d acknowledged and not got", how, it.n, n);
	items_free(&it);
}

START_TEST(test_durability_compaction_crash)
{
	/* Rounds 0-3: SIGKILL the daemon at a random moment after some
	 * compactions.  4: the compaction process dies once it has written
	 * the snapshot (faultfs: at the fsync of the .tmp); the worker goes
	 * on, compacts again later, and then the daemon is killed.  5, 6:
	 * the worker dies finishing a compaction (at the fdatasync of the
	 * .tmp after adding what was logged meanwhile; right after the
	 * rename). */
	static const char *const kills[] = { "kill-tmp-fsync",
	    "kill-tmp-fdatasync", "kill-rename" };
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	pid_t		 pid;
	char		*log, how[64];
	char		 ctl[192];
	int		 round, status, before, ncomp;
	bool		 shim = faultfs_path() != NULL;
	double		 end;

	scratch_new(&s);
	snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
	write_str(ctl, "");
	for (round = 0; round < 7; round++) {
		if (round >= 4 && !shim) {
			fprintf(stderr, "SKIP compaction crash round %d: no "
			    "$FAULTFS\n", round);
			continue;
		}
		if (shim)
			faultfs_on(ctl);
		d = dstart(&s, 1, "everysec", "--compact-min", "4096", NULL);
		faultfs_off();
		log = qd_log(d);
		before = count_str(log, "compacted");
		free(log);
		unlink(spath(&s, "stop"));
		if (round >= 4)
			write_str(ctl, kills[round - 4]);
		if ((pid = qd_fork()) == 0)
			cycler(d, spath(&s, "cyc"), spath(&s, "stop"), round);
		if (round == 4) {
			ck_assert_msg(qd_log_wait(d, "compaction process killed",
			    QD_WAIT), "the compaction process did not die");
			log = qd_log(d);
			before = count_str(log, "compacted");
			ck_assert_msg(strstr(log, "restarting worker") == NULL,
			    "the worker died with its compaction process");
			free(log);
		}
		if (round <= 4) {
			/* Wait for 2 + round compactions (round 4: one more),
			 * then a little more for a moment that varies. */
			end = qd_now() + QD_WAIT;
			do {
				log = qd_log(d);
				ncomp = count_str(log, "compacted") - before;
				free(log);
				if (ncomp >= (round < 4 ? 2 + round : 1))
					break;
				qd_nap();
			} while (qd_now() < end);
			ck_assert_msg(ncomp >= (round < 4 ? 2 + round : 1),
			    "only %d compactions in %.0f s", ncomp, QD_WAIT);
			/* Not a synchronisation: a crash moment that varies
			 * (up to 20 ms into the cycles after the last one). */
			usleep((useconds_t)(rand() % 20000));
			dcrash(d, NULL);
			snprintf(how, sizeof(how), "daemon killed after %d "
			    "compactions%s", ncomp, round == 4 ? " and a failed "
			    "one" : "");
		} else {
			if (!qd_log_wait(d, "restarting worker", QD_WAIT)) {
				log = qd_log(d);
				fprintf(stderr, "--- daemon log ---\n%s--- end "
				    "---\n", log);
				ck_abort_msg("the worker did not die in "
				    "compaction (%s)", kills[round - 4]);
			}
			snprintf(how, sizeof(how), "worker killed at %s",
			    kills[round - 4]);
		}
		status = qd_wait_child(pid, QD_WAIT);
		write_str(spath(&s, "stop"), "");
		ck_assert_msg(status != -1 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0, "cycler: status 0x%x", status);
		if (round <= 4)
			d = dstart(&s, 1, "everysec", "--compact-min", "4096",
			    NULL);
		c = connect_retry(d);	/* a restarted worker may be coming up */
		cycler_check(c, spath(&s, "cyc"), how);
		qlock_close(c);
		qd_stop(d);
	}
	scratch_free(&s);
}
END_TEST


/* How many of pid's descriptors are logs that were deleted (replaced). */
static int
deleted_logs_open(pid_t pid)
{
	char		 dir[64], path[320], target[512];
	struct dirent	*de;
	DIR		*d;
	ssize_t		 n;
	int		 count = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "/shard-") != NULL &&
		    strstr(target, "(deleted)") != NULL)
			count++;
	}
	closedir(d);
	return count;
}

/*
 * A compaction does not stop the worker: while the compaction process
 * writes a large shard out, puts go on being acknowledged, and those
 * (logged meanwhile, then added to the new log) are all there, in order,
 * after the daemon is killed and restarted.
 */
START_TEST(test_durability_compaction_background)
{
	enum { ITEM = 8192, MAXN = 8000 };
	static const unsigned long long big = 8u << 20;
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	char		*item = malloc(ITEM), *log, *p;
	unsigned long long from, to, meanwhile = 0;
	double		 secs, end;
	pid_t		 worker;
	int		 n = 0, k;
	size_t		 i;
	bool		 seen = false;

	ck_assert_ptr_nonnull(item);
	scratch_new(&s);
	d = dstart(&s, 1, "no", "--compact-min", "1048576", NULL);
	c = qd_connect(d);
	/* 8 KiB items until a compaction of 8 MB or more reports puts
	 * acknowledged while it ran. */
	while (!seen && n < MAXN) {
		k = snprintf(item, ITEM, "b%d|", n);
		memset(item + k, 'y', ITEM - (size_t)k);
		ck_assert_int_eq(qlock_queue_put(c, "bg", item, ITEM, 0),
		    QLOCK_OK);
		if (++n % 50 != 0)
			continue;
		log = qd_log(d);
		for (p = log; (p = strstr(p, "compacted ")) != NULL; p++) {
			if (sscanf(p, "compacted %llu bytes to %llu in %lf s "
			    "(%llu of them logged meanwhile)", &from, &to, &secs,
			    &meanwhile) == 4 && to >= big && meanwhile > 0)
				seen = true;
		}
		free(log);
	}
	ck_assert_msg(seen, "no compaction of 8 MB or more with puts logged "
	    "while it ran, in %d puts", n);
	/* The log it replaced is freed (a step at a time), not kept open. */
	ck_assert_int_eq(qd_worker_pids(d, &worker, 1), 1);
	for (end = qd_now() + QD_WAIT; deleted_logs_open(worker) > 0 &&
	    qd_now() < end; )
		qd_nap();
	ck_assert_msg(deleted_logs_open(worker) == 0, "the worker still holds "
	    "a replaced log open after %.0f s", QD_WAIT);
	qlock_close(c);
	dcrash(d, NULL);

	d = dstart(&s, 1, "no", "--compact-min", "1048576", NULL);
	c = connect_retry(d);
	memset(&it, 0, sizeof(it));
	drain(c, "bg", &it);
	ck_assert_msg(it.n == (size_t)n, "%zu items back of %d acknowledged",
	    it.n, n);
	for (i = 0; i < it.n; i++)
		ck_assert_msg(it.len[i] == ITEM && atoi(it.v[i] + 1) == (int)i,
		    "item %zu is %.12s (%zu bytes)", i, it.v[i], it.len[i]);
	items_free(&it);
	qlock_close(c);
	qd_stop(d);
	free(item);
	scratch_free(&s);
}
END_TEST

static Suite *
durability_suite(void)
{
	Suite	*s = suite_create("it_durability");
	TCase	*tc;

	tc = tcase_create("crash");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_durability_crash_exactly_once, 0, 2);
	tcase_add_test(tc, test_durability_repartition);
	tcase_add_loop_test(tc, test_durability_joinable_unfinished, 0, 4);
	tcase_add_test(tc, test_durability_parked);
	tcase_add_test(tc, test_durability_removals);
	tcase_add_test(tc, test_durability_power_loss);
	tcase_add_test(tc, test_durability_power_loss_everysec);
	suite_add_tcase(s, tc);

	tc = tcase_create("logs");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_durability_torn_tail);
	tcase_add_test(tc, test_durability_torn_tail_record_like_item);
	tcase_add_loop_test(tc, test_durability_damaged_middle, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_durability_disk_full);
	tcase_add_loop_test(tc, test_durability_disk_error, 0, 2);
	tcase_add_test(tc, test_durability_compaction_crash);
	tcase_add_test(tc, test_durability_compaction_background);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(durability_suite(), CK_FORK);
}
