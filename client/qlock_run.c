/* qlock_run.c: qlock(1)'s lock and sem: run a command holding a lock or
 * a semaphore's permit, as flock(1) does. */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qlock.h"
#include "qlock_int.h"

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

/* Run a command as flock(1) does; returns its exit status, 128+N if killed. */
static int
run(const char *what, char **cmd)
{
	struct sigaction	 sa, old[NFORWARDED];
	sigset_t		 block, mask;
	pid_t			 pid;
	size_t			 i;
	int			 status, rv;

	/* Blocked across fork: none is lost before the forwarder is set. */
	sigemptyset(&block);
	for (i = 0; i < NFORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	sigprocmask(SIG_BLOCK, &block, &mask);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "qlock: %s: fork: %s\n", what, strerror(errno));
		sigprocmask(SIG_SETMASK, &mask, NULL);
		return EXIT_ERROR;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &mask, NULL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "qlock: %s: %s\n", cmd[0], strerror(errno));
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

	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "qlock: %s: waitpid: %s\n", what,
			    strerror(errno));
			status = -1;
			break;
		}
	}
	for (i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &old[i], NULL);
	child_pid = 0;

	if (status == -1)
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
	int	st, rv;

	st = qlock_lock_acquire(c, a->pos[0], a->timeout);
	if (st != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	rv = run(a->what, a->cmd);
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

	if (parse_int(a->pos[1], &value) == -1 || value < LONG_MIN ||
	    value > LONG_MAX) {
		fprintf(stderr, "qlock: sem: bad VALUE: %s\n", a->pos[1]);
		return EXIT_ERROR;
	}
	if ((st = qlock_sem_open(c, a->pos[0], (long)value, 0)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	if ((st = qlock_sem_acquire(c, a->pos[0], a->timeout)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	rv = run(a->what, a->cmd);
	if ((st = qlock_sem_release(c, a->pos[0])) != QLOCK_OK)
		fprintf(stderr, "qlock: sem %s: release: %s\n", a->pos[0],
		    qlock_last_error(c));
	return rv;
}
