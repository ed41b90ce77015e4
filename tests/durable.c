/* durable.c: the --data-dir integration tests' shared helpers (see
 * durable.h). */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

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

#include "durable.h"

/* --- files and directories ----------------------------------------------- */

void
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

void
rm_tree(const char *dir)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

void
scratch_free(struct scratch *s)
{
	if (getenv("QLOCK_TEST_KEEP") == NULL)
		rm_tree(s->dir);
}

/* A path under the scratch dir, in one of four static buffers: copy it
 * if it must outlive four more calls. */
const char *
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
char *
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

void
write_all_file(const char *path, const void *data, size_t len)
{
	int	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_msg(fd != -1, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void
write_str(const char *path, const char *s)
{
	write_all_file(path, s, strlen(s));
}

off_t
file_size(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* How many times needle occurs in hay. */
int
count_str(const char *hay, const char *needle)
{
	int	n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Parse a log by the format in store.h (header, records, then zeros);
 * fails the test if it is not one. */
void
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

/* Rewrite a log without its records of type (and without the zeros after
 * the records); how many were dropped. */
int
log_drop_type(const char *path, int type)
{
	struct logmap	*m = calloc(1, sizeof(*m));
	size_t		 len, out = LOG_HDR;
	char		*p;
	int		 i, dropped = 0;

	ck_assert_ptr_nonnull(m);
	log_parse(path, m);
	ck_assert_ptr_nonnull(p = read_all(path, &len));
	for (i = 0; i < m->n; i++) {
		if (m->type[i] == type) {
			dropped++;
			continue;
		}
		memmove(p + out, p + m->start[i], m->end[i] - m->start[i]);
		out += m->end[i] - m->start[i];
	}
	write_all_file(path, p, out);
	free(p);
	free(m);
	return dropped;
}

/* --- the daemon on a data dir -------------------------------------------- */

/* Start qlockd with --data-dir s->data, --fsync policy and more options
 * (NULL-ended), on a unix socket in its temp dir. */
struct qd *
dstart(const struct scratch *s, int workers, const char *policy, ...)
{
	struct qd_opts	 o;
	va_list		 ap;
	const char	*a;
	int		 n = 0;

	memset(&o, 0, sizeof(o));
	o.workers = workers;
	o.listen = QD_UNIX;	/* no free-port race between tests */
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
bool
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
void
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
int
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
qlock *
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
const char *
faultfs_path(void)
{
	const char	*p = getenv("FAULTFS");

	return p != NULL && *p != '\0' && access(p, R_OK) == 0 ? p : NULL;
}

/* Preload the shim into the daemons started from now on, with ctl as
 * its control file. */
void
faultfs_on(const char *ctl)
{
	setenv("LD_PRELOAD", faultfs_path(), 1);
	setenv("FAULTFS_CTL", ctl, 1);
	/* An --enable-asan daemon insists on its runtime coming first. */
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
}

void
faultfs_off(void)
{
	unsetenv("LD_PRELOAD");
	unsetenv("FAULTFS_CTL");
}

/* --- queues and items ---------------------------------------------------- */

void
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
void
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
void
put_ok(qlock *c, const char *q, const void *item, size_t len)
{
	int	st = qlock_queue_put(c, q, item, len, 0);

	ck_assert_msg(st == QLOCK_OK, "put to %s: %s (%s)", q,
	    qlock_strerror(st), qlock_last_error(c));
}

void
put_str(qlock *c, const char *q, const char *s)
{
	put_ok(c, q, s, strlen(s));
}

/* A lock's fencing token (acquired and released again). */
uint64_t
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

/* The queue a producer's item seq goes to. */
int
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
void
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
void
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
int
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
void
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
void
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
void
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
void
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

void
check_exactly_once(qlock *c, const char *prefix, struct prod_log *pl,
    int nprod)
{
	check_delivered(c, prefix, pl, NULL, nprod);
}

/* Get one item and expect it to be want. */
void
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

/* Item i of the torn-tail log: varied sizes, the last two small. */
size_t
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
void
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
void
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

/* CRC-32 as zlib computes it, to build a record by hand. */
uint32_t
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

void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
