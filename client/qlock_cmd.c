/* qlock_cmd.c: qlock(1)'s commands on queues, locks, semaphores, events,
 * dicts; stats and list. */

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

/* Child of lock/sem, for the signal forwarder; 0 when none. */
static volatile sig_atomic_t child_pid;

static const int forwarded[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2
};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

int
cmd_ping(qlock *c, struct args *a)
{
	int	st;

	if ((st = qlock_ping(c)) != QLOCK_OK)
		return outcome(c, a, NULL, st);
	puts("pong");
	return EXIT_DONE;
}

int
cmd_put(qlock *c, struct args *a)
{
	void	*item;
	size_t	 len;
	int	 rv;

	/* The item: the operand, else -f's file, else (also for "-")
	 * standard input, byte for byte. */
	if (a->npos == 2 && a->file != NULL) {
		fprintf(stderr, "qlock: put: give ITEM or -f FILE, not both\n");
		return EXIT_ERROR;
	}
	if (a->npos == 2 && strcmp(a->pos[1], "-") != 0)
		return outcome(c, a, a->pos[0], qlock_queue_put(c, a->pos[0],
		    a->pos[1], strlen(a->pos[1]), a->timeout));
	if (read_item(a->file, &item, &len) == -1)
		return EXIT_ERROR;
	rv = outcome(c, a, a->pos[0], qlock_queue_put(c, a->pos[0], item, len,
	    a->timeout));
	free(item);
	return rv;
}

int
cmd_get(qlock *c, struct args *a)
{
	void	*item;
	size_t	 len;
	int	 st, rv;

	st = qlock_queue_get(c, a->pos[0], &item, &len, a->timeout);
	if (st != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	rv = print_bytes(item, len, a->raw);
	free(item);
	/* Printed is handed over: on a joinable queue the task is done
	 * (otherwise the item would go back when this connection ends).
	 * A plain queue answers Inval (or NoEnt once it is empty and gone),
	 * which is fine. */
	if (rv == EXIT_DONE &&
	    (st = qlock_queue_task_done(c, a->pos[0])) != QLOCK_OK &&
	    st != QLOCK_EINVAL && st != QLOCK_ENOENT)
		return outcome(c, a, a->pos[0], st);
	return rv;
}

int
cmd_size(qlock *c, struct args *a)
{
	long	size;
	int	st;

	if ((st = qlock_queue_size(c, a->pos[0], &size)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	printf("%ld\n", size);
	return EXIT_DONE;
}

/* qlock state QUEUE: the queue's state, one "field value" line each. */
int
cmd_state(qlock *c, struct args *a)
{
	struct qlock_queue_state	qs;
	int				st;

	if ((st = qlock_queue_state(c, a->pos[0], &qs)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	printf("size %ld\nmaxsize %ld\njoinable %d\nunfinished %ld\n",
	    qs.size, qs.maxsize, qs.joinable, qs.unfinished);
	return EXIT_DONE;
}

int
cmd_delete(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_delete(c, a->pos[0]));
}

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

int
cmd_event_set(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_event_set(c, a->pos[0]));
}

int
cmd_event_clear(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_event_clear(c, a->pos[0]));
}

int
cmd_event_wait(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_event_wait(c, a->pos[0],
	    a->timeout));
}

int
cmd_event_is_set(qlock *c, struct args *a)
{
	int	is_set, st;

	if ((st = qlock_event_is_set(c, a->pos[0], &is_set)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	printf("%d\n", is_set ? 1 : 0);
	return EXIT_DONE;
}

/* dict get: an integer value prints in decimal, any other as its bytes. */
int
cmd_dict_get(qlock *c, struct args *a)
{
	void	*val;
	size_t	 len;
	int64_t	 n;
	int	 st, rv;

	st = qlock_dict_get_int(c, a->pos[0], a->pos[1], &n);
	if (st == QLOCK_OK) {
		printf("%" PRId64 "%s", n, a->raw ? "" : "\n");
		return EXIT_DONE;
	}
	if (st == QLOCK_ETYPE)
		st = qlock_dict_get(c, a->pos[0], a->pos[1], &val, &len);
	if (st != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	rv = print_bytes(val, len, a->raw);
	free(val);
	return rv;
}

int
cmd_dict_set(qlock *c, struct args *a)
{
	int64_t	n;

	if (a->as_int) {
		if (parse_int(a->pos[2], &n) == -1) {
			fprintf(stderr, "qlock: dict set: not an integer: %s\n",
			    a->pos[2]);
			return EXIT_ERROR;
		}
		return outcome(c, a, a->pos[0],
		    qlock_dict_set_int(c, a->pos[0], a->pos[1], n));
	}
	return outcome(c, a, a->pos[0], qlock_dict_set(c, a->pos[0],
	    a->pos[1], a->pos[2], strlen(a->pos[2])));
}

int
cmd_dict_del(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_dict_del(c, a->pos[0],
	    a->pos[1]));
}

int
cmd_dict_incr(qlock *c, struct args *a)
{
	int64_t	delta = 1, n;
	int	st;

	if (a->npos > 2 && parse_int(a->pos[2], &delta) == -1) {
		fprintf(stderr, "qlock: dict incr: not an integer: %s\n",
		    a->pos[2]);
		return EXIT_ERROR;
	}
	st = qlock_dict_incr(c, a->pos[0], a->pos[1], delta, &n);
	if (st != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	printf("%" PRId64 "\n", n);
	return EXIT_DONE;
}

int
cmd_stats(qlock *c, struct args *a)
{
	msgpack_unpacked up;
	void		*buf;
	size_t		 len, off = 0;
	int		 st, rv = EXIT_DONE;

	if ((st = qlock_stats_raw(c, &buf, &len)) != QLOCK_OK)
		return outcome(c, a, NULL, st);
	if (!a->json) {
		rv = print_result(a->what, buf, len, false);
		free(buf);
		return rv;
	}
	/* --json: the whole map as one JSON object on one line. */
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		print_json(&up.data, 0);
		putchar('\n');
	} else {
		fprintf(stderr, "qlock: %s: cannot decode the result\n", a->what);
		rv = EXIT_ERROR;
	}
	msgpack_unpacked_destroy(&up);
	free(buf);
	return rv;
}

int
cmd_list(qlock *c, struct args *a)
{
	void	*buf;
	size_t	 len;
	int	 st, rv;

	if ((st = qlock_list_raw(c, &buf, &len)) != QLOCK_OK)
		return outcome(c, a, NULL, st);
	rv = print_result(a->what, buf, len, true);
	free(buf);
	return rv;
}
