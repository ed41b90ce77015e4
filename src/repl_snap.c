/*
 * repl_snap.c: raft snapshots of a worker's shard (docs/HA-LOOP.md, "Snapshots
 * instead of our log and its compaction"), FSM version 3.
 *
 * fsm.snapshot runs on the worker's loop at raft's applied index: it forks
 * a child, whose copy-on-write image is the state at that index, and
 * returns.  The child writes the log image (the last epoch applied, then
 * the records of snapshot_records and the kept replies) to a file in
 * --raft-dir that is unlinked already, and exits 0.  snapshot_async, on
 * libuv's thread pool, waits for the child and reads the file back as the
 * snapshot's one buffer; raft then writes it (raft_uv, off the loop too).
 * snapshot_finalize, on the loop, has the buffer freed on the pool and
 * closes the file (emptied on the pool already).  The loop pays for fork (copying page tables),
 * never for serialising the shard.  A child that fails is a failed
 * snapshot: raft tries again after later entries, not before a second.
 *
 * A serving leader's state is ahead of raft's applied index while its own
 * entries are in flight (and while a pass's records wait to be proposed):
 * a snapshot then would hold effects beyond its index, so fsm.snapshot
 * refuses (RAFT_BUSY), and raft asks again after its next entries.  If
 * some are in flight every time, for a whole threshold of entries (the
 * log twice as long as it should be), the refusal asks for a drain at the
 * end of the pass: the pass's records proposed, the worker runs raft's
 * loop alone, serving no request, until its entries are applied -- raft
 * takes the snapshot then, in the same apply -- or a bound passes.  A
 * drain holds the loop for about one commit.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "config.h"
#include "log.h"
#include "mp.h"
#include "repl_entry.h"
#include "repl_int.h"
#include "session.h"
#include "util.h"
#include "uvev.h"
#include "worker.h"

#define SNAP_RETRY	1.0	/* seconds before another try after a failure */
#define SNAP_DRAIN_MAX	0.2	/* seconds a drain may hold the loop at most */

/* The child: the state as a log image into fd (at 0), then exit. */
static void __attribute__((noreturn))
snap_child(struct repl *r, pid_t parent, int fd, bool fail)
{
	struct worker	*w = r->w;
	struct store_buf b = { .spill = true };
	msgpack_sbuffer	 sb;
	uint64_t	 tokens = store_token_mark(w);

	store_helper_setup(parent);
	if ((fd = store_keep_only_fd(fd)) == -1 || fail)
		_exit(1);
	/* Yield the CPU to the worker, which goes on serving. */
	(void)setpriority(PRIO_PROCESS, 0, COMPACT_NICE);
	b.fd = fd;
	if (tokens < r->rp.tokens)
		tokens = r->rp.tokens;
	/* The last epoch applied (who leads, where), then the objects. */
	msgpack_sbuffer_init(&sb);
	if (r->epoch_addrs != NULL)
		repl_entry_epoch(&sb, r->epoch_node, r->epoch_applied,
		    r->epoch_addrs, r->epoch_len, w->nworkers);
	else
		repl_entry_epoch(&sb, 0, 0, (const uint8_t *)"\x90", 1,
		    w->nworkers);
	rec_write(&b, sb.data, sb.size);
	snapshot_records(&b, &w->reg, tokens, &r->rp);
	/* A leader's keyed sessions' kept replies (a follower's are its
	 * replay state's, in snapshot_records). */
	session_reply_snapshot(w, &b);
	if (b.spill_failed || store_write_all(fd, b.p, b.len, b.off) == -1)
		_exit(1);
	_exit(0);
}

/* A file for the child, unlinked at once: nothing is left behind. */
static int
snap_file(struct repl *r)
{
	char	path[8200];
	int	fd;

	snprintf(path, sizeof(path), "%s/shard-%d.snap.tmp",
	    r->w->conf->raft_dir, r->w->id);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("shard %d: snapshot file %s", r->w->id, path);
		return -1;
	}
	(void)unlink(path);
	return fd;
}

/* fsm.snapshot, on the loop: fork the child.  Every failure is transient
 * (RAFT_BUSY) for raft, which tries again after later entries. */
static int
snap_take(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *nbufs)
{
	struct repl	*r = fsm->data;
	struct worker	*w = r->w;
	pid_t		 parent = getpid(), pid;
	int		 fd;

	*bufs = NULL;
	*nbufs = 0;
	if (r->stopping || r->closing)
		return RAFT_BUSY;
	if (r->recs_inflight > 0 || w->store->pend.len > 0) {
		/* Our own changes are on their way.  Raft asks again after
		 * its next entries; once it has asked for a whole threshold
		 * in vain, drain at the end of this pass (repl_flush). */
		if (now_mono() >= r->snap_retry && (r->drain_first ||
		    raft_last_applied(&r->raft) - r->raft.log.snapshot.last_index
		    >= 2 * (raft_index)r->raft.snapshot.threshold)) {
			r->snap_wanted = true;
			store_schedule_flush(w);
		}
		return RAFT_BUSY;
	}
	if (now_mono() < r->snap_retry)
		return RAFT_BUSY;
	if ((fd = snap_file(r)) == -1) {
		r->snap_failed++;
		r->snap_retry = now_mono() + SNAP_RETRY;
		return RAFT_BUSY;
	}
	r->snap_t0 = now_mono();
	if ((pid = fork()) == -1) {
		log_warn("shard %d: snapshot: fork", w->id);
		close(fd);
		r->snap_failed++;
		r->snap_retry = now_mono() + SNAP_RETRY;
		return RAFT_BUSY;
	}
	if (pid == 0)
		snap_child(r, parent, fd, r->fail_left > 0);
	if (r->fail_left > 0)
		r->fail_left--;
	r->snap_child = pid;
	r->snap_fd = fd;
	r->snap_waited = false;
	r->snap_status = 0;
	r->snap_fork_ms = (now_mono() - r->snap_t0) * 1000;
	return 0;
}

/* snapshot_async, on a thread of libuv's pool: wait for the child, read
 * its file back.  It touches only what snap_take set for it. */
static int
snap_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *nbufs)
{
	struct repl	*r = fsm->data;
	struct raft_buffer *b;
	struct stat	 sb;
	size_t		 got = 0;
	ssize_t		 n;
	int		 ws = 0;

	while (waitpid(r->snap_child, &ws, 0) == -1)
		if (errno != EINTR)
			return RAFT_IOERR;
	r->snap_status = ws;
	r->snap_waited = true;
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0 ||
	    fstat(r->snap_fd, &sb) == -1 || sb.st_size == 0)
		return RAFT_IOERR;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return RAFT_NOMEM;
	/* Whole 8-byte words, as entries (replay reads zeros as the end). */
	b->len = ((size_t)sb.st_size + 7) / 8 * 8;
	if ((b->base = calloc(1, b->len)) == NULL) {
		free(b);
		return RAFT_NOMEM;
	}
	*bufs = b;
	*nbufs = 1;
	while (got < (size_t)sb.st_size) {
		n = pread(r->snap_fd, (char *)b->base + got,
		    (size_t)sb.st_size - got, (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return RAFT_IOERR;	/* finalize frees */
		got += (size_t)n;
	}
	/* Its blocks freed here, not by the close on the loop. */
	(void)ftruncate(r->snap_fd, 0);
	return 0;
}

/* A buffer freed on libuv's pool: unmapping a big one takes the loop tens
 * of milliseconds (29-42 ms for 213 MB, docs/HA-MEASURED.md). */
struct snap_free {
	uv_work_t	 req;
	void		*p;
};

static void
snap_free_work(uv_work_t *req)
{
	struct snap_free *f = req->data;

	free(f->p);
}

static void
snap_free_done(uv_work_t *req, int status)
{
	(void)status;
	free(req->data);
}

static void
snap_free_later(struct repl *r, void *p)
{
	struct snap_free *f;

	if (p == NULL)
		return;
	if (r->closing || (f = malloc(sizeof(*f))) == NULL) {
		free(p);
		return;
	}
	f->p = p;
	f->req.data = f;
	if (uv_queue_work(&r->loop, &f->req, snap_free_work,
	    snap_free_done) != 0) {
		free(p);
		free(f);
	}
}

/* snapshot_finalize, on the loop: after the snapshot was written, or
 * failed at any step after snap_take. */
static int
snap_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
    unsigned *nbufs)
{
	struct repl	*r = fsm->data;
	size_t		 len = 0;
	unsigned	 i;
	int		 ws;
	double		 t0 = now_mono();

	if (r->snap_child != 0 && !r->snap_waited) {
		/* snapshot_async never ran (raft could not queue it). */
		kill(r->snap_child, SIGKILL);
		while (waitpid(r->snap_child, &ws, 0) == -1 && errno == EINTR)
			;
		r->snap_status = -1;
	}
	if (r->snap_fd != -1)
		close(r->snap_fd);
	r->snap_fd = -1;
	for (i = 0; *bufs != NULL && i < *nbufs; i++) {
		len += (*bufs)[i].len;
		snap_free_later(r, (*bufs)[i].base);
	}
	free(*bufs);
	*bufs = NULL;
	*nbufs = 0;
	if (r->snap_child != 0 && r->snap_waited && r->snap_status == 0 &&
	    len > 0 && r->raft.log.snapshot.last_index ==
	    r->raft.snapshot.pending.index) {
		r->snap_taken++;
		log_debug("shard %d: snapshot of %zu bytes: fork %.1f ms, "
		    "written off the loop in %.3f s (process %ld), freed in "
		    "%.1f ms", r->w->id, len, r->snap_fork_ms,
		    now_mono() - r->snap_t0, (long)r->snap_child,
		    (now_mono() - t0) * 1000);
	} else if (r->snap_child != 0) {
		r->snap_failed++;
		r->snap_retry = now_mono() + SNAP_RETRY;
		if (r->snap_waited && WIFSIGNALED(r->snap_status))
			log_warnx("shard %d: snapshot process killed by "
			    "signal %d", r->w->id, WTERMSIG(r->snap_status));
		else if (!r->closing)
			log_warnx("shard %d: snapshot failed; raft tries "
			    "again later", r->w->id);
	}
	r->snap_child = 0;
	return 0;
}

/* Start over from a snapshot (at start, or sent by the leader). */
static int
snap_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct repl	*r = fsm->data;
	struct worker	*w = r->w;
	struct mp_reader rd;
	struct repl_entry e;
	const uint8_t	*head;
	size_t		 end, bad, hlen;

	if (r->serving)
		fatalx("shard %d: a snapshot sent to the leader", w->id);
	replay_discard(&r->rp);
	registry_free(&w->reg);
	registry_init(&w->reg);
	replay_init(&r->rp, &w->reg);
	/* The last epoch (see snap_child), then a log image. */
	mp_reader_init(&rd, buf->base, buf->len);
	if (mp_skip(&rd, &head, &hlen) == -1 ||
	    repl_entry_read(head, hlen, &e) == -1 || e.kind != REPL_EPOCH ||
	    !replay_header_ok(head + hlen, buf->len - hlen) ||
	    replay_scan(head + hlen, buf->len - hlen, &r->rp, &end, &bad,
	    "raft snapshot") != SCAN_CLEAN)
		fatalx("shard %d: a raft snapshot that does not apply", w->id);
	if (e.node != 0)
		repl_epoch_known(r, &e);
	raft_free(buf->base);
	log_info("shard %d: snapshot restored, %zu objects", w->id,
	    w->reg.byname.count);
	return 0;
}

void
repl_snap_init(struct repl *r)
{
	const char	*env;

	/* Tests: drain at the first refusal; the first N children fail. */
	r->drain_first = (env = getenv("QLOCKD_TEST_SNAPSHOT_DRAIN")) != NULL &&
	    *env == '1';
	if ((env = getenv("QLOCKD_TEST_SNAPSHOT_FAIL")) != NULL)
		r->fail_left = (unsigned)atoi(env);
	r->snap_fd = -1;
	r->fsm.version = 3;
	r->fsm.snapshot = snap_take;
	r->fsm.snapshot_async = snap_async;
	r->fsm.snapshot_finalize = snap_finalize;
	r->fsm.restore = snap_restore;
}

static void
snap_timer_cb(uv_timer_t *t)
{
	(void)t;	/* only wakes uv_run up */
}

void
repl_snap_drain(struct repl *r)
{
	double	t0 = now_mono(), end = t0 + SNAP_DRAIN_MAX;

	r->snap_wanted = false;
	if (!r->serving || r->stopping || r->closing || r->recs_inflight == 0)
		return;
	if (!r->snap_timer_on) {
		uv_timer_init(&r->loop, &r->snap_timer);
		r->snap_timer_on = true;
	}
	r->drains++;
	uv_timer_start(&r->snap_timer, snap_timer_cb,
	    (uint64_t)(SNAP_DRAIN_MAX * 1000) + 1, 0);
	/* No request runs meanwhile: nothing adds to our state. */
	while (r->recs_inflight > 0 && r->w->store->pend.len == 0 &&
	    r->serving && !r->stopping && now_mono() < end)
		(void)uv_run(&r->loop, UV_RUN_ONCE);
	uv_timer_stop(&r->snap_timer);
	log_debug("shard %d: drained in %.1f ms, %u entries in flight",
	    r->w->id, (now_mono() - t0) * 1000, r->recs_inflight);
	if (r->recs_inflight > 0) {
		/* Not committed in time: no drain for a while. */
		r->snap_retry = now_mono() + SNAP_RETRY;
		log_debug("shard %d: entries still in flight after %.0f ms; "
		    "snapshot later", r->w->id, SNAP_DRAIN_MAX * 1000);
	}
	uvev_poke(r->uvev);	/* raft's next timeout, for libevent */
}

void
repl_snap_close(struct repl *r)
{
	if (r->snap_timer_on)
		uv_close((uv_handle_t *)&r->snap_timer, NULL);
	r->snap_timer_on = false;
}
