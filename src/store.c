/* store.c: the worker's log: open and replay, group commit under each
 * fsync policy (everysec through a helper process), space reservation,
 * and the change records the commands log.  See store.h for the layout. */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "repl.h"
#include "store_int.h"
#include "util.h"
#include "worker.h"

/* Ask for a flush at the end of this loop pass. */
void
store_schedule_flush(struct worker *w)
{
	if (!w->store_flush_pending) {
		w->store_flush_pending = true;
		event_active(w->store_flush_ev, EV_TIMEOUT, 0);
	}
}

static void
store_flush_cb(evutil_socket_t fd, short ev, void *arg)
{
	store_flush(arg);
}

/* After an fsync that covered the log up to off: for power-loss tests,
 * record what is on disk. */
static void
mark_synced_to(struct store *st, uint64_t off)
{
	char	buf[32];
	int	n;

	st->synced = off;
	if (st->markfd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%020llu\n", (unsigned long long)st->synced);
	if (pwrite(st->markfd, buf, (size_t)n, 0) != n)
		log_warn("writing the sync mark of %s", st->path);
}

void
store_mark_synced(struct store *st)
{
	mark_synced_to(st, st->end);
}

/*
 * everysec: the once-a-second fdatasync runs in a small helper process,
 * so that the worker's loop never waits for the disk (it would stall
 * every client of the worker for as long as the flush takes, tens of
 * milliseconds under load).  The worker sends it the log's descriptor
 * (SCM_RIGHTS) with the offset written so far, one request at a time; it
 * answers with the offset and fdatasync's errno.  Forked before the log
 * is replayed, so it shares almost no memory with the worker.
 */
struct sync_msg {
	uint64_t	upto;		/* the log is written up to here */
	uint32_t	gen;		/* st->file_gen when sent */
	int32_t		err;		/* answer: fdatasync's errno, or 0 */
};

/* Keep only fd (as 3) and the standard streams: a forked helper must not
 * hold the worker's sockets open (a peer notices a dead worker by EOF). */
int
store_keep_only_fd(int fd)
{
	if (fd != 3 && dup2(fd, 3) == -1)
		return -1;
	(void)close_range(4, ~0U, 0);
	return 3;
}

/* Die with the worker (parent); leave its signals to it. */
void
store_helper_setup(pid_t parent)
{
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
}

static void __attribute__((noreturn))
syncer_main(pid_t parent, int sock)
{
	struct sync_msg	 m;
	ssize_t		 n;
	int		 fd;

	store_helper_setup(parent);
	if ((sock = store_keep_only_fd(sock)) == -1)
		_exit(1);
	for (;;) {
		n = fd_recv(sock, &m, sizeof(m), &fd);
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(m))
			_exit(0);		/* the worker closed: done */
		if (fd == -1)
			_exit(1);
		m.err = fdatasync(fd) == -1 ? errno : 0;
		close(fd);
		if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
			_exit(1);
	}
}

/* The fsync process answered. */
static void
syncer_answer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct store	*st = w->store;
	struct sync_msg	 m;
	ssize_t		 n;

	n = recv(fd, &m, sizeof(m), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(m))
		fatalx("%s: the fsync process is gone (restarting)", st->path);
	st->sync_busy = false;
	if (m.err != 0) {
		errno = m.err;
		fatal("fdatasync %s (never retried: restarting)", st->path);
	}
	st->fsync_secs += now_mono() - st->sync_t0;
	st->fsyncs++;
	if (m.gen == st->file_gen && m.upto > st->synced)
		mark_synced_to(st, m.upto);
}

/* Ask the fsync process to flush what is written; one request at a time. */
static void
syncer_request(struct store *st)
{
	struct sync_msg	m = { st->end, st->file_gen, 0 };

	if (st->sync_busy || st->synced >= st->end)
		return;
	if (fd_send(st->sync_sock, &m, sizeof(m), st->fd) != (ssize_t)sizeof(m))
		fatal("%s: asking the fsync process (restarting)", st->path);
	st->sync_busy = true;
	st->sync_t0 = now_mono();
}

static void
syncer_start(struct worker *w, struct store *st)
{
	pid_t		 parent = getpid(), pid;
	int		 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("fsync process socket");
	if ((pid = fork()) == -1)
		fatal("fork the fsync process");
	if (pid == 0) {
		close(sv[0]);
		syncer_main(parent, sv[1]);
	}
	close(sv[1]);
	if (fd_nonblock_cloexec(sv[0]) == -1)
		fatal("fsync process socket");
	st->syncer_pid = pid;
	st->sync_sock = sv[0];
	st->sync_ev = event_new(w->base, sv[0], EV_READ | EV_PERSIST,
	    syncer_answer_cb, w);
	if (st->sync_ev == NULL)
		fatalx("cannot watch the fsync process");
	event_add(st->sync_ev, NULL);
}

static void
syncer_stop(struct store *st)
{
	if (st->sync_sock == -1)
		return;
	event_free(st->sync_ev);
	st->sync_ev = NULL;
	close(st->sync_sock);		/* it exits when it reads EOF */
	st->sync_sock = -1;
	while (waitpid(st->syncer_pid, NULL, 0) == -1 && errno == EINTR)
		;
	st->syncer_pid = 0;
	st->sync_busy = false;
}

/* Everysec: have what was written in the last second fsync'ed. */
static void
store_sec_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;

	syncer_request(w->store);
}

static void store_gc(void *, struct object *);

/* A log this worker cannot replay: say why and exit with the status that
 * tells the master to stop the daemon instead of restarting the worker. */
static void __attribute__((noreturn, format(printf, 1, 2)))
badlog(const char *fmt, ...)
{
	va_list	ap;
	char	msg[8400];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	exit(STORE_EXIT_BADLOG);
}

/* Raft mode (--peer): no file; what a loop pass records becomes one raft
 * entry (src/repl.c), and the state comes from raft's snapshot and log. */
static void
store_open_raft(struct worker *w)
{
	struct store	*st = xcalloc(1, sizeof(*st));

	st->raft = true;
	st->fd = st->markfd = st->compact_fd = st->sync_sock = -1;
	st->retire_fd = -1;
	w->store = st;
	w->store_flush_ev = event_new(w->base, -1, 0, store_flush_cb, w);
}

void
store_raft_serve(struct worker *w, uint64_t max_item, uint64_t tokens)
{
	struct store	*st = w->store;

	st->next_item = max_item;
	st->token_reserved = tokens;
	if (w->tokens < tokens)
		w->tokens = tokens;
	w->reg.on_gc = store_gc;
	w->reg.on_gc_arg = w;
}

uint64_t
store_token_mark(const struct worker *w)
{
	return w->store == NULL ? 0 : w->store->token_reserved;
}

void
store_open(struct worker *w)
{
	struct store	*st;
	struct replay	 rp;
	struct stat	 sb;
	char		 path[8192];
	const uint8_t	*p;
	size_t		 size = 0, end, bad;
	enum scan_end	 how;
	unsigned	 gen;
	int		 workers;
	struct timeval	 sec = { 1, 0 };

	if (w->conf->npeer > 0) {
		store_open_raft(w);
		return;
	}
	if (w->conf->data_dir == NULL)
		return;
	if (current_read(w->conf->data_dir, &gen, &workers) != 1 ||
	    workers != w->nworkers)
		fatalx("%s/CURRENT does not match %d workers", w->conf->data_dir,
		    w->nworkers);
	st = xcalloc(1, sizeof(*st));
	st->policy = w->conf->fsync;
	st->markfd = -1;
	st->compact_fd = -1;
	st->sync_sock = -1;
	st->retire_fd = -1;
	snprintf(path, sizeof(path), "%s/gen-%u", w->conf->data_dir, gen);
	st->dirpath = xstrdup(path);
	snprintf(path, sizeof(path), "%s/gen-%u/shard-%d.log", w->conf->data_dir,
	    gen, w->id);
	st->path = xstrdup(path);
	snprintf(path, sizeof(path), "%s.tmp", st->path);
	unlink(path);		/* an interrupted compaction */
	if ((st->fd = open(st->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1)
		fatal("open %s", st->path);
	if (fstat(st->fd, &sb) == -1)
		fatal("fstat %s", st->path);
	if (st->policy == FSYNC_EVERYSEC)
		syncer_start(w, st);	/* before the replay fills the heap */
	if (sb.st_size == 0) {
		uint8_t hdr[HDR_LEN] = { 0 };

		memcpy(hdr, HDR_MAGIC, 8);
		put_le32(hdr + 8, STORE_VERSION);
		if (store_write_all(st->fd, hdr, sizeof(hdr), 0) == -1 ||
		    fdatasync(st->fd) == -1 || store_fsync_dir(st->dirpath) == -1)
			fatal("write %s", st->path);
	}
	p = replay_map(st->fd, &size);
	if (p == NULL || !replay_header_ok(p, size))
		badlog("%s: not a qlockd log of version %d", st->path,
		    STORE_VERSION);
	replay_init(&rp, &w->reg);
	how = replay_scan(p, size, &rp, &end, &bad, st->path);
	if (how == SCAN_DAMAGED || how == SCAN_BADREC)
		badlog("%s: %s at offset %zu: the daemon stops (start it "
		    "with --repair-log to keep the records before it and drop "
		    "the rest)", st->path, how == SCAN_DAMAGED ? "damaged" :
		    "a record that does not apply", bad);
	munmap((void *)p, size);
	replay_finish(&rp);
	if (how == SCAN_TORN) {
		log_warnx("%s: torn tail at offset %zu cut", st->path, end);
		if (ftruncate(st->fd, (off_t)end) == -1)
			fatal("ftruncate %s", st->path);
		size = end;
	}
	/* Zeros after the records (SCAN_CLEAN) are space reserved ahead. */
	st->end = st->synced = end;
	st->allocated = size;
	st->live = end;
	if (getenv("QLOCKD_TEST_SYNC_MARKS") != NULL) {
		snprintf(path, sizeof(path), "%s.synced", st->path);
		st->markfd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		store_mark_synced(st);
	}
	st->next_item = rp.max_item;
	st->token_reserved = rp.tokens;
	if (w->tokens < rp.tokens)
		w->tokens = rp.tokens;
	w->store = st;
	w->reg.on_gc = store_gc;
	w->reg.on_gc_arg = w;
	w->store_flush_ev = event_new(w->base, -1, 0, store_flush_cb, w);
	if (st->policy == FSYNC_EVERYSEC) {
		w->store_sec_ev = event_new(w->base, -1, EV_PERSIST, store_sec_cb, w);
		event_add(w->store_sec_ev, &sec);
	}
	log_info("%s: %zu bytes replayed, %zu objects", st->path, end,
	    w->reg.byname.count);
}

void
store_close(struct worker *w)
{
	struct store	*st = w->store;

	if (st == NULL)
		return;
	if (st->raft) {
		event_free(w->store_flush_ev);
		free(st->pend.p);
		free(st);
		w->store = NULL;
		return;
	}
	if (st->compact_pid != 0) {	/* a compaction still writing */
		kill(st->compact_pid, SIGKILL);
		while (waitpid(st->compact_pid, NULL, 0) == -1 && errno == EINTR)
			;
		st->compact_pid = 0;
	}
	if (st->compact_ev != NULL || st->compact_ready)
		compact_abandon(st);
	compact_reap(st, true);
	retire_done(st);
	st->closing = true;
	store_flush(w);
	syncer_stop(st);
	if (st->synced < st->end && st->policy != FSYNC_NO &&
	    fdatasync(st->fd) == -1)
		log_warn("fdatasync %s at exit", st->path);
	close(st->fd);
	if (st->markfd != -1)
		close(st->markfd);
	if (w->store_flush_ev != NULL)
		event_free(w->store_flush_ev);
	if (w->store_sec_ev != NULL)
		event_free(w->store_sec_ev);
	free(st->pend.p);
	free(st->path);
	free(st->dirpath);
	free(st);
	w->store = NULL;
}

/*
 * Space for the log is reserved ahead of the records, so that a full disk
 * refuses a change instead of failing its write.  With --fsync always it
 * is also zero-filled, a megabyte at a time: an fdatasync after writing
 * into blocks that are already part of the file, and written, has no
 * metadata to flush (no new size, no unwritten extents to convert), which
 * made it 1.4-2x as fast on the ext4 disk measured (docs/PERFORMANCE.md).
 * The file then ends in zeros, which replay reads as "allocated, never
 * written".  Larger reservations (a big record) and the other policies
 * only allocate (FALLOC_FL_KEEP_SIZE), which costs no writes.
 */
static int
reserve_zeroed(struct store *st, uint64_t upto)
{
	static const uint8_t	zeros[64 * 1024];
	uint64_t		from, off;
	size_t			len;

	/* Records written without a reservation of their own (a session's
	 * give-backs) may lie past allocated: never zero what is written. */
	from = st->allocated > st->end ? st->allocated : st->end;
	if (from >= upto)
		return 0;
	if (fallocate(st->fd, 0, (off_t)from, (off_t)(upto - from)) == -1 &&
	    errno != EOPNOTSUPP)
		return -1;
	for (off = from; off < upto; off += len) {
		len = upto - off < sizeof(zeros) ? upto - off : sizeof(zeros);
		if (store_write_all(st->fd, zeros, len, off) == -1) {
			if (errno == ENOSPC || errno == EDQUOT)
				return -1;
			fatal("write %s (zero-filling ahead)", st->path);
		}
	}
	return 0;
}

int
store_reserve(struct worker *w, size_t bytes)
{
	struct store	*st = w->store;
	uint64_t	 need;
	int		 rc;

	if (st == NULL || st->raft)
		return 0;
	need = st->end + st->pend.len + bytes + REC_HDR + 64;
	if (need <= st->allocated)
		return 0;
	if (st->policy == FSYNC_ALWAYS && need - st->allocated <= ZERO_CHUNK) {
		need = (need + ZERO_CHUNK - 1) / ZERO_CHUNK * ZERO_CHUNK;
		rc = reserve_zeroed(st, need);
	} else {
		need = (need + ALLOC_CHUNK - 1) / ALLOC_CHUNK * ALLOC_CHUNK;
		rc = fallocate(st->fd, FALLOC_FL_KEEP_SIZE,
		    (off_t)st->allocated, (off_t)(need - st->allocated));
	}
	if (rc == -1) {
		if (errno != ENOSPC && errno != EDQUOT && errno != EOPNOTSUPP)
			log_warn("fallocate %s", st->path);
		if (errno == EOPNOTSUPP) {	/* cannot tell: let writes decide */
			st->allocated = need;
			return 0;
		}
		if (!st->disk_full)
			log_warnx("%s: disk full: refusing changes until there "
			    "is room", st->path);
		st->disk_full = true;
		return -1;
	}
	if (st->disk_full)
		log_info("%s: room again on disk", st->path);
	st->disk_full = false;
	st->allocated = need;
	return 0;
}

void
store_flush(struct worker *w)
{
	struct store	*st = w->store;
	double		 t0;

	w->store_flush_pending = false;
	if (st == NULL)
		return;
	if (st->raft) {
		repl_flush(w, &st->pend);
		return;
	}
	if (st->pend.len > 0) {
		if (store_write_all(st->fd, st->pend.p, st->pend.len, st->end) == -1)
			fatal("write %s (restarting; unacknowledged changes "
			    "are not kept)", st->path);
		st->end += st->pend.len;
		if (st->compact_pid != 0 || st->compact_ready)
			rec_write(&st->tail, (const char *)st->pend.p,
			    st->pend.len);
		st->pend.len = 0;
		if (st->policy == FSYNC_ALWAYS) {
			/* One fdatasync for everything this pass wrote. */
			t0 = now_mono();
			if (fdatasync(st->fd) == -1)
				fatal("fdatasync %s (never retried: restarting)",
				    st->path);
			st->fsync_secs += now_mono() - t0;
			st->fsyncs++;
			store_mark_synced(st);
		}
	}
	worker_release_held(w);
	if (st->compact_ready)
		compact_finish(w);
	else if (st->compact_pid == 0 && !st->closing &&
	    st->end > w->conf->compact_min && st->end > 2 * st->live)
		compact_start(w);
}

/* The live log: each change's record goes into the pending buffer, and
 * schedule_flush makes sure it is written before any reply goes out. */

/* The buffer a change to o is logged in, or NULL without --data-dir.  o
 * is then named in the log: freeing it must log its delete. */
static struct store_buf *
change(struct worker *w, struct object *o)
{
	if (w->store == NULL)
		return NULL;
	o->logged = true;
	store_schedule_flush(w);
	return &w->store->pend;
}

void
store_q_open(struct worker *w, struct object *o)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_q_open(b, o);
}

uint64_t
store_q_newid(struct worker *w)
{
	return w->store == NULL ? 0 : ++w->store->next_item;
}

void
store_q_put(struct worker *w, struct object *o, const struct qref *r)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_q_put(b, o, r);
}

/* A queue record naming one item id. */
static void
log_item(struct worker *w, struct object *o, enum rec_type type,
    uint64_t id)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_item(b, o, type, id);
}

void
store_q_take(struct worker *w, struct object *o, uint64_t id)
{
	log_item(w, o, R_Q_TAKE, id);
}

void
store_q_done(struct worker *w, struct object *o, uint64_t id)
{
	log_item(w, o, R_Q_DONE, id);
}

void
store_q_back(struct worker *w, struct object *o, uint64_t id)
{
	log_item(w, o, R_Q_BACK, id);
}

void
store_q_unfinished(struct worker *w, struct object *o)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_q_unfin(b, o);
}

void
store_d_set(struct worker *w, struct object *o, const char *key,
    size_t klen, const void *val, size_t vlen)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_d_set(b, o, key, klen, val, vlen);
}

void
store_d_del(struct worker *w, struct object *o, const char *key,
    size_t klen)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_d_del(b, o, key, klen);
}

void
store_s_set(struct worker *w, struct object *o, long base)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_s_set(b, o, base);
}

void
store_e_set(struct worker *w, struct object *o)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_flag(b, o, R_E_SET, o->u.event.set);
}

void
store_l_open(struct worker *w, struct object *o)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_flag(b, o, R_L_OPEN, o->u.lock.recursive);
}

void
store_keep(struct worker *w, struct object *o)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_flag(b, o, R_KEEP, o->keep);
}

void
store_b_open(struct worker *w, struct object *o)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_b_open(b, o);
}

void
store_delete(struct worker *w, struct object *o)
{
	struct store_buf	*b = change(w, o);

	if (b != NULL)
		rec_delete(b, o);
	o->logged = false;
}

/* registry_gc frees o: a name the log knows must not come back from it as
 * this object (replay would meet the name as another kind, or revive a
 * stale value). */
static void
store_gc(void *arg, struct object *o)
{
	if (o->logged)
		store_delete(arg, o);
}

void
store_tokens(struct worker *w)
{
	struct store	*st = w->store;

	if (st == NULL || w->tokens < st->token_reserved)
		return;
	st->token_reserved = w->tokens + TOKEN_CHUNK;
	rec_tokens(&st->pend, st->token_reserved);
	store_schedule_flush(w);
}
