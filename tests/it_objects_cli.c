/* it_objects_cli.c: it_objects' tests: the qlock tool. */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <msgpack.h>

#include "harness.h"
#include "qlock.h"
#include "suiterun.h"
#include "it_objects.h"

/* =========================================================================
 * The qlock tool
 * ========================================================================= */

/* Start $QLOCK_CLI with args (NULL-ended), output to the file out. */
static pid_t
cli_spawn(const char *out, const char *const *args)
{
	const char	*argv[32];
	pid_t		 pid;
	int		 i, fd;

	argv[0] = qd_cli_path();
	for (i = 0; args[i] != NULL && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if ((pid = qd_fork()) != 0)
		return pid;
	if ((fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600)) == -1)
		_exit(CX_OTHER);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	execv(argv[0], (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Read a whole file (malloc'd, NUL-terminated; "" if absent). */
static char *
slurp(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	size_t	 len = 0, cap = 4096, n;

	ck_assert_ptr_nonnull(buf = malloc(cap));
	if (f != NULL) {
		while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
			len += n;
			if (cap - len < 2)
				ck_assert_ptr_nonnull(buf = realloc(buf,
				    cap *= 2));
		}
		fclose(f);
	}
	buf[len] = '\0';
	return buf;
}

/* Occurrences of needle in the file. */
static int
count_in(const char *path, const char *needle)
{
	char		*s = slurp(path);
	const char	*p;
	int		 n = 0;

	for (p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(s);
	return n;
}

/* Wait until needle occurs want times in the file. */
static void
wait_count(const char *path, const char *needle, int want)
{
	double	end = qd_now() + QD_WAIT;
	int	n;

	while ((n = count_in(path, needle)) != want) {
		ck_assert_msg(qd_now() < end, "%s: %d '%s', expected %d", path,
		    n, needle, want);
		qd_nap();
	}
}

/* Run the tool to completion: its exit code and output (malloc'd). */
static int
cli_run(const char *const *args, char **out)
{
	char	path[256];
	pid_t	pid;
	int	code;

	snprintf(path, sizeof(path), "%s/cli-out.%d", D->dir, rand());
	pid = cli_spawn(path, args);
	code = child_code(pid, QD_WAIT, "qlock");
	if (out != NULL)
		*out = slurp(path);
	unlink(path);
	return code;
}

START_TEST(test_cli_lock_exit_status)
{
	qlock		*c = qd_connect(D);
	const char	*args[] = { "lock", "cli-exit", "--", "sh", "-c",
			    "exit 7", NULL };
	char		*out;

	ck_assert_int_eq(cli_run(args, &out), 7);
	free(out);
	/* Released after the command. */
	OK(c, qlock_lock_acquire(c, "cli-exit", 0));
	OK(c, qlock_lock_release(c, "cli-exit"));
	qlock_close(c);
}
END_TEST

/* A command run under the lock or semaphore: mark begin, wait for the
 * test's go event (with the tool itself), mark end. */
#define CLI_SCRIPT \
	"echo begin >> \"$1\"; \"$2\" event wait \"$3\" --timeout 10 " \
	">/dev/null || exit 3; echo end >> \"$1\""

START_TEST(test_cli_lock_serialises)
{
	qlock		*c = qd_connect(D);
	char		 marks[256], out[256];
	const char	*args[] = { "lock", "cli-ser", "--", "sh", "-c",
			    CLI_SCRIPT, "sh", marks, qd_cli_path(),
			    "cli-ser-go", NULL };
	pid_t		 a, b;
	char		*s;

	snprintf(marks, sizeof(marks), "%s/marks", D->dir);
	snprintf(out, sizeof(out), "%s/cli-ser.out", D->dir);
	a = cli_spawn(out, args);
	wait_count(marks, "begin", 1);
	wait_waiters(c, "cli-ser-go", 1);	/* a's command is inside */
	b = cli_spawn(out, args);
	wait_waiters(c, "cli-ser", 1);		/* b is parked on the lock */
	ck_assert_int_eq(count_in(marks, "begin"), 1);
	OK(c, qlock_event_set(c, "cli-ser-go"));
	child_is(a, 0, "first qlock lock");
	child_is(b, 0, "second qlock lock");
	s = slurp(marks);
	ck_assert_msg(strcmp(s, "begin\nend\nbegin\nend\n") == 0,
	    "overlapping runs under one lock:\n%s", s);
	free(s);
	qlock_close(c);
}
END_TEST

#define CLI_SEM_N	4

START_TEST(test_cli_sem_two_at_once)
{
	qlock		*c = qd_connect(D);
	char		 marks[256], out[256];
	const char	*args[] = { "sem", "cli-sem", "2", "--", "sh", "-c",
			    CLI_SCRIPT, "sh", marks, qd_cli_path(),
			    "cli-sem-go", NULL };
	pid_t		 pids[CLI_SEM_N];
	char		*s, *line, *save;
	int		 i, running = 0, most = 0;
	long		 v;

	snprintf(marks, sizeof(marks), "%s/marks", D->dir);
	snprintf(out, sizeof(out), "%s/cli-sem.out", D->dir);
	for (i = 0; i < CLI_SEM_N; i++)
		pids[i] = cli_spawn(out, args);
	/* Two inside (waiting for go), the others parked on the semaphore. */
	wait_waiters(c, "cli-sem-go", 2);
	wait_waiters(c, "cli-sem", CLI_SEM_N - 2);
	ck_assert_int_eq(count_in(marks, "begin"), 2);
	OK(c, qlock_event_set(c, "cli-sem-go"));
	for (i = 0; i < CLI_SEM_N; i++)
		child_is(pids[i], 0, "qlock sem");
	s = slurp(marks);
	for (line = strtok_r(s, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		running += strcmp(line, "begin") == 0 ? 1 : -1;
		if (running > most)
			most = running;
	}
	free(s);
	ck_assert_int_eq(running, 0);
	ck_assert_msg(most == 2, "at most %d ran at once under 'qlock sem "
	    "NAME 2'", most);
	ck_assert_int_eq(count_in(marks, "end"), CLI_SEM_N);
	OK(c, qlock_sem_value(c, "cli-sem", &v));
	ck_assert_int_eq(v, 2);
	qlock_close(c);
}
END_TEST

START_TEST(test_cli_stats_list)
{
	qlock		*c = qd_connect(D);
	const char	*list[] = { "list", NULL }, *stats[] = { "stats", NULL };
	char		*out;

	OK(c, qlock_queue_put(c, "cli-listed-queue", "x", 1, QD_WAIT));
	OK(c, qlock_lock_acquire(c, "cli-listed-lock", QD_WAIT));
	OK(c, qlock_sem_open(c, "cli-listed-sem", 3, 0));
	OK(c, qlock_dict_set(c, "cli-listed-dict", "k", "v", 1));

	ck_assert_int_eq(cli_run(list, &out), 0);
	ck_assert_msg(strstr(out, "cli-listed-queue") != NULL &&
	    strstr(out, "cli-listed-lock") != NULL &&
	    strstr(out, "cli-listed-sem") != NULL &&
	    strstr(out, "cli-listed-dict") != NULL,
	    "qlock list does not show every object:\n%s", out);
	free(out);
	/* stats is counters, not names: one per kind, and the totals. */
	ck_assert_int_eq(cli_run(stats, &out), 0);
	ck_assert_msg(strstr(out, "queues") != NULL &&
	    strstr(out, "locks") != NULL && strstr(out, "semaphores") != NULL &&
	    strstr(out, "dicts") != NULL && strstr(out, "objects") != NULL,
	    "qlock stats lacks the object counters:\n%s", out);
	free(out);
	OK(c, qlock_lock_release(c, "cli-listed-lock"));
	qlock_close(c);
}
END_TEST

/* qlock state QUEUE prints the queue's state, a "field value" line each. */
START_TEST(test_cli_state)
{
	qlock		*c = qd_connect(D);
	const char	*state[] = { "state", "cli-state-q", NULL };
	char		*out;

	OK(c, qlock_queue_open(c, "cli-state-q", 4, QLOCK_JOINABLE));
	OK(c, qlock_queue_put(c, "cli-state-q", "x", 1, QD_WAIT));
	ck_assert_int_eq(cli_run(state, &out), 0);
	ck_assert_str_eq(out, "size 1\nmaxsize 4\njoinable 1\nunfinished 1\n");
	free(out);
	qlock_close(c);
}
END_TEST

/* The tests of this file, in the order they run. */
void
objects_cli_tests(TCase *tc)
{
	tcase_add_test(tc, test_cli_lock_exit_status);
	tcase_add_test(tc, test_cli_lock_serialises);
	tcase_add_test(tc, test_cli_sem_two_at_once);
	tcase_add_test(tc, test_cli_stats_list);
	tcase_add_test(tc, test_cli_state);
}
