/* store_compact.c: compaction of a worker's log in a forked child, and
 * freeing the log it replaced a step at a time. */
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

#include <event2/event.h>

#include "log.h"
#include "store_int.h"
#include "util.h"
#include "worker.h"

/*
 * Compaction rewrites the log as a snapshot of the live state, without
 * stopping the worker: a child process, forked between two loop passes
 * (when every change made is in the log), writes the snapshot of its
 * copy-on-write image to path.tmp and fsyncs it, while the worker goes on
 * serving and logging, keeping a copy of every record it appends (tail).
 * When the child is done, the worker appends the tail to path.tmp,
 * fdatasyncs it, renames it over the log and fsyncs the directory, in one
 * step between two passes.  A crash at any moment leaves either the old
 * log, whole, or the new one, whole; a leftover path.tmp is removed at
 * start.  A failed compaction keeps the log and is tried again when the
 * log has doubled.
 */

static void
compact_path(const struct store *st, char *buf, size_t len)
{
	snprintf(buf, len, "%s.tmp", st->path);
}

/* The child: write the snapshot, report on the pipe, exit. */
static void __attribute__((noreturn))
compact_child(struct worker *w, pid_t parent, int statusfd)
{
	struct store	*st = w->store;
	char		 tmp[8200], status = 1;
	int		 fd;

	store_helper_setup(parent);
	if ((statusfd = store_keep_only_fd(statusfd)) == -1)
		_exit(1);
	/* Yield the CPU to the worker, which goes on serving. */
	(void)setpriority(PRIO_PROCESS, 0, COMPACT_NICE);
	compact_path(st, tmp, sizeof(tmp));
	fd = store_create(tmp);
	if (fd != -1 && snapshot_fd(fd, &w->reg, st->token_reserved) != -1 &&
	    close(fd) == 0)
		status = 0;
	else
		log_warn("compaction: writing %s", tmp);
	while (write(statusfd, &status, 1) == -1 && errno == EINTR)
		;
	_exit(status);
}

static void
compact_reset(struct store *st)
{
	if (st->compact_ev != NULL)
		event_free(st->compact_ev);
	st->compact_ev = NULL;
	if (st->compact_fd != -1)
		close(st->compact_fd);
	st->compact_fd = -1;
	st->compact_pid = 0;
	st->compact_ready = false;
	free(st->tail.p);
	memset(&st->tail, 0, sizeof(st->tail));
}

/* Give up this compaction: keep the log, try again once it has doubled. */
void
compact_abandon(struct store *st)
{
	char	tmp[8200];

	compact_path(st, tmp, sizeof(tmp));
	unlink(tmp);
	compact_reset(st);
	st->live = st->end;
}

/* Reap a compaction process that said it is done (waiting, if block). */
void
compact_reap(struct store *st, bool block)
{
	pid_t	pid;

	if (st->done_pid == 0)
		return;
	do
		pid = waitpid(st->done_pid, NULL, block ? 0 : WNOHANG);
	while (pid == -1 && errno == EINTR);
	if (pid != 0)
		st->done_pid = 0;
}

/* The child reported (or died).  Finish at the end of the pass; a child
 * that succeeded is reaped later, not waited for while it unmaps its
 * copy of the shard. */
static void
compact_child_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct store	*st = w->store;
	char		 status = 1;
	int		 ws = 0;

	if (read(fd, &status, 1) != 1)
		status = 1;
	if (status == 0) {
		st->done_pid = st->compact_pid;
		st->compact_pid = 0;
		compact_reap(st, false);
		st->compact_ready = true;
		store_schedule_flush(w);
		return;
	}
	while (waitpid(st->compact_pid, &ws, 0) == -1 && errno == EINTR)
		;
	st->compact_pid = 0;
	if (WIFSIGNALED(ws))
		log_warnx("%s: compaction process killed by signal %d; keeping "
		    "the log", st->path, WTERMSIG(ws));
	else
		log_warnx("%s: compaction failed; keeping the log", st->path);
	compact_abandon(st);
}

/* Fork the child that writes the snapshot. */
void
compact_start(struct worker *w)
{
	struct store	*st = w->store;
	pid_t		 parent = getpid(), pid;
	int		 p[2];

	compact_reap(st, true);		/* the last one, long done */
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("compaction: pipe");
		st->live = st->end;
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("compaction: fork");
		close(p[0]);
		close(p[1]);
		st->live = st->end;
		return;
	}
	if (pid == 0) {
		close(p[0]);
		compact_child(w, parent, p[1]);
	}
	close(p[1]);
	st->compact_pid = pid;
	st->compact_fd = p[0];
	st->compact_from = st->end;
	st->compact_t0 = now_mono();
	st->compact_ev = event_new(w->base, p[0], EV_READ, compact_child_cb, w);
	if (st->compact_ev == NULL)
		fatalx("cannot watch the compaction process");
	event_add(st->compact_ev, NULL);
	log_debug("%s: compacting %llu bytes (process %ld)", st->path,
	    (unsigned long long)st->end, (long)pid);
}

/*
 * The log a compaction replaced is unlinked; closing the last descriptor
 * of a big file frees all its blocks at once, 33 ms for about 100 MB
 * here, and every client of the worker would wait.  So it is cut from the
 * end a few megabytes per loop pass, and closed once empty.
 */
void
retire_done(struct store *st)
{
	if (st->retire_fd == -1)
		return;
	close(st->retire_fd);
	st->retire_fd = -1;
	event_free(st->retire_ev);
	st->retire_ev = NULL;
}

static void
retire_step_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct store	*st = arg;
	struct timeval	 now = { 0, 0 };

	st->retire_size = st->retire_size > RETIRE_STEP ?
	    st->retire_size - RETIRE_STEP : 0;
	if (st->retire_size == 0 ||
	    ftruncate(st->retire_fd, (off_t)st->retire_size) == -1) {
		retire_done(st);
		return;
	}
	evtimer_add(st->retire_ev, &now);
}

static void
retire_start(struct worker *w, int fd, uint64_t size)
{
	struct store	*st = w->store;
	struct timeval	 now = { 0, 0 };

	retire_done(st);		/* the one before, if still there */
	st->retire_fd = fd;
	st->retire_size = size;
	st->retire_ev = evtimer_new(w->base, retire_step_cb, st);
	if (st->retire_ev == NULL)
		fatalx("cannot schedule freeing the old log");
	evtimer_add(st->retire_ev, &now);
}

/* path.tmp holds the snapshot: add the tail and put it in the log's place. */
void
compact_finish(struct worker *w)
{
	struct store	*st = w->store;
	char		 tmp[8200];
	struct stat	 sb;
	uint64_t	 size;
	int		 fd;

	compact_path(st, tmp, sizeof(tmp));
	if ((fd = open(tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1 ||
	    store_write_all(fd, st->tail.p, st->tail.len, (uint64_t)sb.st_size) == -1 ||
	    fdatasync(fd) == -1 || rename(tmp, st->path) == -1) {
		log_warn("%s: finishing compaction; keeping the log", tmp);
		if (fd != -1)
			close(fd);
		compact_abandon(st);
		return;
	}
	/* The new log is whole and on disk under either name. */
	if (store_fsync_dir(st->dirpath) == -1)
		log_warn("fsync %s", st->dirpath);
	retire_start(w, st->fd, st->allocated > st->end ? st->allocated :
	    st->end);
	st->fd = fd;
	st->file_gen++;			/* an fsync answer for the old file */
	size = (uint64_t)sb.st_size + st->tail.len;
	log_info("%s: compacted %llu bytes to %llu in %.3f s (%zu of them "
	    "logged meanwhile)", st->path,
	    (unsigned long long)(st->compact_from + st->tail.len),
	    (unsigned long long)size, now_mono() - st->compact_t0, st->tail.len);
	st->end = st->allocated = st->live = size;
	store_mark_synced(st);
	compact_reset(st);
}
