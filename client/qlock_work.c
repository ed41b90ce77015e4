/* qlock_work.c: qlock work, a process pool fed by a joinable queue. */

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
int
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
		return outcome(c, a, w.queue, st);
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
		w.slots[i].c = i == 0 ? c : connect_with(a, &st);
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
