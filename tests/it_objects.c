/* it_objects.c: integration tests of locks, semaphores, events, conditions,
 * barriers and dicts against the real qlockd with three workers: the
 * classic multiprocessing tutorial programs in C, lock details, clients
 * killed while holding or waiting, and the qlock tool.  Every client
 * process forks and makes its own connection.  This file holds what the
 * tests share; it_objects_*.c the tests, by area. */
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
#include "it_objects.h"
#include "qlock.h"
#include "suiterun.h"
pid_t	 Workers[WORKERS];	/* its workers when it was ready */

static int
pid_cmp(const void *a, const void *b)
{
	return *(const pid_t *)a < *(const pid_t *)b ? -1 :
	    *(const pid_t *)a > *(const pid_t *)b;
}

void
setup(void)
{
	D = qd_start(WORKERS, NULL);
	qd_setenv(D);
	ck_assert_int_eq(qd_worker_pids(D, Workers, WORKERS), WORKERS);
	qsort(Workers, WORKERS, sizeof(Workers[0]), pid_cmp);
}

/* Every test: no worker died (crashed and was restarted) on the way. */
void
teardown(void)
{
	pid_t	 now[WORKERS + 1];
	char	*log = qd_log(D), *crash = strstr(log, "killed by signal");
	int	 n = qd_worker_pids(D, now, WORKERS + 1);

	qsort(now, (size_t)n, sizeof(now[0]), pid_cmp);
	ck_assert_msg(crash == NULL, "a qlockd worker crashed during the "
	    "test: %.200s", crash == NULL ? "" : crash - 60 > log ?
	    crash - 60 : log);
	ck_assert_msg(n == WORKERS && memcmp(now, Workers, sizeof(Workers))
	    == 0, "the qlockd workers changed during the test (one died)");
	free(log);
	qd_stop(D);
	D = NULL;
}

/* --- assertions (test process) --------------------------------------------- */

/* --- children -------------------------------------------------------------- */

/* End a child with code after saying why on stderr. */
void
cdie(int code, qlock *c, const char *what, int st)
{
	fprintf(stderr, "child %d: %s: %s (%s)\n", (int)getpid(), what,
	    qlock_strerror(st), c != NULL ? qlock_last_error(c) : "");
	_exit(code);
}

/* A child's own connection, from the environment qd_setenv set. */
qlock *
cconnect(void)
{
	int	 st = 0;
	qlock	*c = qlock_connect(NULL, NULL, &st);

	if (c == NULL)
		cdie(CX_CONNECT, NULL, "connect", st);
	return c;
}

/* Write all of buf to a pipe (child side). */
void
cwrite(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		cdie(CX_OTHER, NULL, "write to pipe", 0);
}

/* A child that holds something and waits to be killed. */
void
hang(void)
{
	for (;;)
		pause();
}

/* The exit code of a child that must exit within secs (not be killed). */
int
child_code(pid_t pid, double secs, const char *what)
{
	int	status = qd_wait_child(pid, secs);

	ck_assert_msg(status != -1, "%s: still running after %.1f s (killed)",
	    what, secs);
	ck_assert_msg(WIFEXITED(status), "%s: killed by signal %d", what,
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

/* Assert a child exits with code want within QD_WAIT seconds. */
void
child_is(pid_t pid, int want, const char *what)
{
	int	code = child_code(pid, QD_WAIT, what);

	ck_assert_msg(code == want, "%s: exit code %d, expected %d", what,
	    code, want);
}

/* Kill a child of ours and reap it. */
void
child_kill(pid_t pid)
{
	int	status;

	kill(pid, SIGKILL);
	status = qd_wait_child(pid, QD_WAIT);
	ck_assert_msg(status != -1 && WIFSIGNALED(status), "child %d ended "
	    "before it was killed, with exit code %d", (int)pid,
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Read exactly len bytes from a pipe within secs; false on timeout / EOF. */
bool
pipe_read(int fd, void *buf, size_t len, double secs)
{
	double		 end = qd_now() + secs;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	uint8_t		*p = buf;
	ssize_t		 n;
	int		 ms;

	while (len > 0) {
		ms = (int)((end - qd_now()) * 1000);
		if (ms < 0)
			return false;
		n = poll(&pfd, 1, ms);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

void
xpipe(int fds[2])
{
	ck_assert_msg(pipe(fds) == 0, "pipe: %s", strerror(errno));
}

/* --- the daemon's object listing --------------------------------------------- */

bool
mp_streq(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	    memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Find name (not a session) in the daemon's listing. */
void
obj_info(qlock *c, const char *name, struct objinfo *oi)
{
	msgpack_unpacked up;
	void		*buf;
	size_t		 len, off = 0;
	uint32_t	 i, j;
	int		 st;

	memset(oi, 0, sizeof(*oi));
	st = qlock_list_raw(c, &buf, &len);
	ck_assert_msg(st == QLOCK_OK, "list: %s", qlock_strerror(st));
	msgpack_unpacked_init(&up);
	ck_assert(msgpack_unpack_next(&up, buf, len, &off) ==
	    MSGPACK_UNPACK_SUCCESS && up.data.type == MSGPACK_OBJECT_ARRAY);
	for (i = 0; i < up.data.via.array.size && !oi->found; i++) {
		msgpack_object		*e = &up.data.via.array.ptr[i];
		msgpack_object_kv	*kv;
		bool			 match = false, session = false;

		if (e->type != MSGPACK_OBJECT_MAP)
			continue;
		kv = e->via.map.ptr;
		for (j = 0; j < e->via.map.size; j++) {
			if (mp_streq(&kv[j].key, "name"))
				match = mp_streq(&kv[j].val, name);
			if (mp_streq(&kv[j].key, "kind"))
				session = mp_streq(&kv[j].val, "session");
		}
		if (!match || session)
			continue;
		oi->found = true;
		for (j = 0; j < e->via.map.size; j++) {
			msgpack_object *k = &kv[j].key, *v = &kv[j].val;

			if (mp_streq(k, "kind") && v->type == MSGPACK_OBJECT_STR)
				snprintf(oi->kind, sizeof(oi->kind), "%.*s",
				    (int)v->via.str.size, v->via.str.ptr);
			else if (mp_streq(k, "size") &&
			    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				oi->size = v->via.u64;
			else if (mp_streq(k, "waiters") &&
			    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				oi->waiters = v->via.u64;
			else if (mp_streq(k, "holders") &&
			    v->type == MSGPACK_OBJECT_ARRAY)
				oi->holders = v->via.array.size;
		}
	}
	msgpack_unpacked_destroy(&up);
	free(buf);
}

/* Poll the listing until name has want parked requests; fail if not in
 * QD_WAIT seconds. */
void
wait_waiters(qlock *c, const char *name, uint64_t want)
{
	double		end = qd_now() + QD_WAIT;
	struct objinfo	oi;

	for (;;) {
		obj_info(c, name, &oi);
		/* An object nobody uses may be gone: none wait there. */
		if (oi.found ? oi.waiters == want : want == 0)
			return;
		ck_assert_msg(qd_now() < end, "'%s': %llu waiters after %.0f s, "
		    "expected %llu", name, (unsigned long long)oi.waiters,
		    QD_WAIT, (unsigned long long)want);
		qd_nap();
	}
}

/* Children wait on event gate; once n of them are parked there, open it so
 * they race. */
void
gate_open(qlock *c, const char *gate, int n)
{
	wait_waiters(c, gate, (uint64_t)n);
	OK(c, qlock_event_set(c, gate));
}

int64_t
dict_int(qlock *c, const char *dict, const char *key)
{
	int64_t	v = 0;

	OK(c, qlock_dict_get_int(c, dict, key, &v));
	return v;
}

/* ------------------------------------------------------------------------- */

static Suite *
objects_suite(void)
{
	Suite	*s = suite_create("it_objects");
	TCase	*tc;

	tc = qd_tcase(s, "tutorials", setup, teardown, 60);
	objects_tut_tests(tc);

	tc = qd_tcase(s, "locks", setup, teardown, 60);
	objects_lock_tests(tc);

	tc = qd_tcase(s, "killed", setup, teardown, 60);
	objects_kill_tests(tc);

	tc = qd_tcase(s, "cli", setup, teardown, 60);
	objects_cli_tests(tc);
	return s;
}

int
main(void)
{
	return suite_run(objects_suite(), CK_FORK);
}
