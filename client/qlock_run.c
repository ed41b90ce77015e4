/* qlock_run.c: qlock(1)'s lock and sem: run a command holding a lock or
 * a semaphore's permit, as flock(1) does. */

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "qlock.h"
#include "qlock_int.h"

#define RUN_GRACE	5	/* seconds from SIGTERM to SIGKILL */
#define RUN_TICK_MS	100	/* without pidfds: how often to look */
#define KEEP_EVERY	1.0	/* s between qlock_keep calls while held */
#define KEEP_RETRY	0.25	/* s between them while not confirmed */
#define KEEP_LIMIT	10.0	/* s unconfirmed before the hold counts as
				   lost (a cluster's default grace) */

/* Child of lock/sem, for the signal forwarder; 0 when none. */
static volatile sig_atomic_t child_pid;

static const int forwarded[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2
};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

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

/* The connection's end can be polled for; a pidfd for the child when the
 * kernel has them (-1: tick instead). */
static int
child_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* A failover: whether what the holder holds is still its (qlock_keep),
 * at keep_at or when its socket ended.  Unconfirmed for KEEP_LIMIT s, or
 * given back: lost (false). */
static bool
still_held(qlock *c, const struct args *a, double *keep_at, double *since,
    int *sock)
{
	double	now = now_mono();
	int	st = qlock_keep(c, a->pos[0]);

	if (st == QLOCK_OK) {
		*since = 0;
		*keep_at = now + KEEP_EVERY;
		*sock = qlock_fileno(c, a->pos[0]);
		return true;
	}
	if (st == QLOCK_ECONN) {
		if (*since == 0)
			*since = now;
		*keep_at = now + KEEP_RETRY;
		*sock = -1;	/* polled no more: its end was seen */
		if (now - *since < KEEP_LIMIT)
			return true;
		fprintf(stderr, "qlock: %s %s: no leader took the session "
		    "again within %g s (%s): the %s counts as lost\n",
		    a->what, a->pos[0], KEEP_LIMIT, qlock_last_error(c),
		    strcmp(a->what, "lock") == 0 ? "lock" : "permit");
		return false;
	}
	fprintf(stderr, "qlock: %s %s: %s\n", a->what, a->pos[0],
	    qlock_last_error(c));
	return false;
}

/*
 * Wait for the child while keeping what the session holds: every
 * KEEP_EVERY seconds, and when the connection ends, qlock_keep follows a
 * cluster's failover (resuming the session on the new leader).  If what
 * it held is gone (one node: the connection ended; a cluster: not resumed,
 * or no leader reached for KEEP_LIMIT s), say so, send the child SIGTERM,
 * and SIGKILL RUN_GRACE seconds later if it is still there.  The child's
 * wait status in *status; *lost if the hold was lost first.
 */
static int
child_wait(qlock *c, const struct args *a, pid_t pid, int *status,
    bool *lost)
{
	struct pollfd	pfd[2];
	double		kill_at = 0, keep_at = now_mono() + KEEP_EVERY;
	double		since = 0, left;
	int		pidfd = child_pidfd(pid);
	int		sock = qlock_fileno(c, a->pos[0]);	/* the holder's */
	int		n, tmo;
	pid_t		r;

	*lost = false;
	for (;;) {
		if ((r = waitpid(pid, status, WNOHANG)) == pid)
			break;
		if (r == -1 && errno != EINTR) {
			fprintf(stderr, "qlock: %s: waitpid: %s\n", a->what,
			    strerror(errno));
			if (pidfd != -1)
				close(pidfd);
			return -1;
		}
		if (!*lost && now_mono() >= keep_at &&
		    !still_held(c, a, &keep_at, &since, &sock)) {
			*lost = true;
			fprintf(stderr, "qlock: %s %s: stopping %s (SIGTERM, "
			    "SIGKILL after %d s)\n", a->what, a->pos[0],
			    a->cmd[0], RUN_GRACE);
			kill(pid, SIGTERM);
			kill_at = now_mono() + RUN_GRACE;
		}
		n = 0;
		if (!*lost && sock != -1) {
			pfd[n].fd = sock;
			pfd[n++].events = POLLRDHUP;
		}
		if (pidfd != -1) {
			pfd[n].fd = pidfd;
			pfd[n++].events = POLLIN;
		}
		tmo = pidfd == -1 ? RUN_TICK_MS : -1;
		if (!*lost) {
			left = keep_at - now_mono();
			if (tmo == -1 || left * 1000 < tmo)
				tmo = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		if (kill_at > 0) {
			left = kill_at - now_mono();
			if (left <= 0) {
				kill(pid, SIGKILL);
				kill_at = 0;
				continue;
			}
			if (tmo == -1 || left * 1000 < tmo)
				tmo = (int)(left * 1000) + 1;
		}
		for (r = 0; r < n; r++)
			pfd[r].revents = 0;
		if (poll(pfd, (nfds_t)n, tmo) == -1 && errno != EINTR)
			continue;	/* the waitpid above decides */
		if (!*lost && sock != -1 && (pfd[0].revents & (POLLRDHUP |
		    POLLHUP | POLLERR | POLLNVAL)))
			keep_at = 0;	/* ended: look now */
	}
	if (pidfd != -1)
		close(pidfd);
	return 0;
}

/*
 * Run a command as flock(1) does, holding what c holds: its exit status,
 * 128+N if killed by signal N; EXIT_ERROR if it could not run, or if the
 * connection was lost meanwhile (*lost: the command was stopped).  The
 * child dies
 * with qlock (PR_SET_PDEATHSIG): killed, qlock's session ends and what it
 * held is given to others.
 */
static int
run(qlock *c, const struct args *a, bool *lost)
{
	struct sigaction	 sa, old[NFORWARDED];
	sigset_t		 block, mask;
	pid_t			 pid, parent = getpid();
	size_t			 i;
	int			 status, rv;

	*lost = false;
	/* Blocked across fork: none is lost before the forwarder is set. */
	sigemptyset(&block);
	for (i = 0; i < NFORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	sigprocmask(SIG_BLOCK, &block, &mask);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "qlock: %s: fork: %s\n", a->what,
		    strerror(errno));
		sigprocmask(SIG_SETMASK, &mask, NULL);
		return EXIT_ERROR;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &mask, NULL);
		/* Die with qlock, no grace: nobody is left to wait it out.
		 * If qlock died before this, the signal will never come. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(EXIT_ERROR);
		execvp(a->cmd[0], a->cmd);
		fprintf(stderr, "qlock: %s: %s\n", a->cmd[0], strerror(errno));
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

	if (child_wait(c, a, pid, &status, lost) == -1)
		status = -1;
	for (i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &old[i], NULL);
	child_pid = 0;

	if (status == -1 || *lost)
		rv = EXIT_ERROR;
	else if (WIFEXITED(status))
		rv = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rv = 128 + WTERMSIG(status);
	else
		rv = EXIT_ERROR;
	return rv;
}

int
cmd_lock(qlock *c, struct args *a)
{
	char		buf[32];
	uint64_t	token;
	int		st, rv;
	bool		lost;

	st = qlock_lock_acquire_token(c, a->pos[0], a->timeout, &token);
	if (st != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	/* The grant's fencing token, for what the command writes to. */
	snprintf(buf, sizeof(buf), "%" PRIu64, token);
	if (setenv("QLOCK_LOCK_TOKEN", buf, 1) == -1) {
		fprintf(stderr, "qlock: lock: %s\n", strerror(errno));
		return EXIT_ERROR;
	}
	if ((rv = run(c, a, &lost)) == EXIT_ERROR && lost)
		return rv;
	/* A lost release still leaves the command's status to report. */
	if ((st = qlock_lock_release(c, a->pos[0])) != QLOCK_OK)
		fprintf(stderr, "qlock: lock %s: release: %s\n", a->pos[0],
		    qlock_last_error(c));
	return rv;
}

int
cmd_sem(qlock *c, struct args *a)
{
	int64_t	value;
	int	st, rv;
	bool	lost;

	if (parse_int(a->pos[1], &value) == -1 || value < LONG_MIN ||
	    value > LONG_MAX) {
		fprintf(stderr, "qlock: sem: bad VALUE: %s\n", a->pos[1]);
		return EXIT_ERROR;
	}
	if ((st = qlock_sem_open(c, a->pos[0], (long)value, 0)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	if ((st = qlock_sem_acquire(c, a->pos[0], a->timeout)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	if ((rv = run(c, a, &lost)) == EXIT_ERROR && lost)
		return rv;
	if ((st = qlock_sem_release(c, a->pos[0])) != QLOCK_OK)
		fprintf(stderr, "qlock: sem %s: release: %s\n", a->pos[0],
		    qlock_last_error(c));
	return rv;
}
