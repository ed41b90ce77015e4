/* it_objects.c: integration tests of locks, semaphores, events, conditions,
 * barriers and dicts against the real qlockd with three workers: the
 * classic multiprocessing tutorial programs in C, lock details, clients
 * killed while holding or waiting, and the qlock tool.  Every client
 * process forks and makes its own connection. */
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

#define WORKERS		3	/* objects spread over shards, forwarded */
#define CHILD_WAIT	QD_WAIT	/* bound on any blocking call in a child */
#define KILL_BOUND	1.0	/* seconds from SIGKILL to the hold given back */

/* Child exit codes other than results. */
#define CX_CONNECT	90	/* could not connect */
#define CX_CALL		91	/* a call failed unexpectedly */
#define CX_OTHER	92	/* anything else */

static struct qd *D;		/* the daemon of the running test */
static pid_t	 Workers[WORKERS];	/* its workers when it was ready */

static int
pid_cmp(const void *a, const void *b)
{
	return *(const pid_t *)a < *(const pid_t *)b ? -1 :
	    *(const pid_t *)a > *(const pid_t *)b;
}

static void
setup(void)
{
	D = qd_start(WORKERS, NULL);
	qd_setenv(D);
	ck_assert_int_eq(qd_worker_pids(D, Workers, WORKERS), WORKERS);
	qsort(Workers, WORKERS, sizeof(Workers[0]), pid_cmp);
}

/* Every test: no worker died (crashed and was restarted) on the way. */
static void
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

/* expr must return want; say what it returned and the server's words. */
#define IS(c, expr, want) do {						\
	int st_ = (expr);						\
	ck_assert_msg(st_ == (want), "%s: %s, expected %s (%s)", #expr,	\
	    qlock_strerror(st_), qlock_strerror(want),			\
	    qlock_last_error(c));					\
} while (0)
#define OK(c, expr)	IS(c, expr, QLOCK_OK)

/* --- children -------------------------------------------------------------- */

static void cdie(int, qlock *, const char *, int) __attribute__((noreturn));

/* End a child with code after saying why on stderr. */
static void
cdie(int code, qlock *c, const char *what, int st)
{
	fprintf(stderr, "child %d: %s: %s (%s)\n", (int)getpid(), what,
	    qlock_strerror(st), c != NULL ? qlock_last_error(c) : "");
	_exit(code);
}

/* In a child: expr must return QLOCK_OK, else exit CX_CALL. */
#define CTRY(c, expr) do {						\
	int st_ = (expr);						\
	if (st_ != QLOCK_OK)						\
		cdie(CX_CALL, c, #expr, st_);				\
} while (0)

/* A child's own connection, from the environment qd_setenv set. */
static qlock *
cconnect(void)
{
	int	 st = 0;
	qlock	*c = qlock_connect(NULL, NULL, &st);

	if (c == NULL)
		cdie(CX_CONNECT, NULL, "connect", st);
	return c;
}

/* Write all of buf to a pipe (child side). */
static void
cwrite(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		cdie(CX_OTHER, NULL, "write to pipe", 0);
}

/* A child that holds something and waits to be killed. */
static void
hang(void)
{
	for (;;)
		pause();
}

/* The exit code of a child that must exit within secs (not be killed). */
static int
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
static void
child_is(pid_t pid, int want, const char *what)
{
	int	code = child_code(pid, QD_WAIT, what);

	ck_assert_msg(code == want, "%s: exit code %d, expected %d", what,
	    code, want);
}

/* Kill a child of ours and reap it. */
static void
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
static bool
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

static void
xpipe(int fds[2])
{
	ck_assert_msg(pipe(fds) == 0, "pipe: %s", strerror(errno));
}

/* --- the daemon's object listing --------------------------------------------- */

/* One object as `list' shows it. */
struct objinfo {
	bool		found;
	char		kind[16];
	uint64_t	size;		/* items, depth, permits, parties... */
	uint64_t	waiters;
	uint64_t	holders;
};

static bool
mp_streq(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	    memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Find name (not a session) in the daemon's listing. */
static void
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
static void
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
static void
gate_open(qlock *c, const char *gate, int n)
{
	wait_waiters(c, gate, (uint64_t)n);
	OK(c, qlock_event_set(c, gate));
}

static int64_t
dict_int(qlock *c, const char *dict, const char *key)
{
	int64_t	v = 0;

	OK(c, qlock_dict_get_int(c, dict, key, &v));
	return v;
}

/* =========================================================================
 * The multiprocessing tutorial programs
 * ========================================================================= */

/* --- producers and consumers ended by sentinels ---------------------------- */

#define PC_Q		"tut-pc"
#define PC_NPROD	2
#define PC_NCONS	3
#define PC_PER		500
#define PC_SENTINEL	"STOP"

struct pc_item {
	uint32_t	prod;
	uint32_t	seq;
};

static void
pc_producer(uint32_t p)
{
	qlock		*c = cconnect();
	struct pc_item	 it;

	for (it.seq = 0; it.seq < PC_PER; it.seq++) {
		it.prod = p;
		CTRY(c, qlock_queue_put(c, PC_Q, &it, sizeof(it), CHILD_WAIT));
	}
	qlock_close(c);
	_exit(0);
}

/* Get until the sentinel, writing each item to path. */
static void
pc_consumer(const char *path)
{
	qlock	*c = cconnect();
	FILE	*f = fopen(path, "w");
	void	*item;
	size_t	 len;

	if (f == NULL)
		cdie(CX_OTHER, c, path, 0);
	for (;;) {
		CTRY(c, qlock_queue_get(c, PC_Q, &item, &len, CHILD_WAIT));
		if (len == strlen(PC_SENTINEL) &&
		    memcmp(item, PC_SENTINEL, len) == 0)
			break;
		if (len != sizeof(struct pc_item) || fwrite(item, len, 1, f) != 1)
			cdie(CX_OTHER, c, "bad item", 0);
		free(item);
	}
	free(item);
	if (fclose(f) != 0)
		cdie(CX_OTHER, c, "fclose", 0);
	qlock_close(c);
	_exit(0);
}

START_TEST(test_tut_producer_consumer_sentinels)
{
	qlock		*c = qd_connect(D);
	pid_t		 prod[PC_NPROD], cons[PC_NCONS];
	char		 path[PC_NCONS][256];
	uint8_t		 seen[PC_NPROD][PC_PER];
	struct pc_item	 it;
	FILE		*f;
	long		 size;
	int		 i, total = 0;

	memset(seen, 0, sizeof(seen));
	OK(c, qlock_queue_open(c, PC_Q, 50, 0));
	for (i = 0; i < PC_NCONS; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/pc%d", D->dir, i);
		if ((cons[i] = qd_fork()) == 0)
			pc_consumer(path[i]);
	}
	for (i = 0; i < PC_NPROD; i++)
		if ((prod[i] = qd_fork()) == 0)
			pc_producer((uint32_t)i);
	for (i = 0; i < PC_NPROD; i++)
		child_is(prod[i], 0, "producer");
	/* One sentinel per consumer, after every item. */
	for (i = 0; i < PC_NCONS; i++)
		OK(c, qlock_queue_put(c, PC_Q, PC_SENTINEL,
		    strlen(PC_SENTINEL), QD_WAIT));
	for (i = 0; i < PC_NCONS; i++)
		child_is(cons[i], 0, "consumer");
	for (i = 0; i < PC_NCONS; i++) {
		ck_assert_ptr_nonnull(f = fopen(path[i], "r"));
		while (fread(&it, sizeof(it), 1, f) == 1) {
			ck_assert_uint_lt(it.prod, PC_NPROD);
			ck_assert_uint_lt(it.seq, PC_PER);
			ck_assert_msg(!seen[it.prod][it.seq], "item %u/%u twice",
			    it.prod, it.seq);
			seen[it.prod][it.seq] = 1;
			total++;
		}
		fclose(f);
	}
	ck_assert_int_eq(total, PC_NPROD * PC_PER);
	OK(c, qlock_queue_size(c, PC_Q, &size));
	ck_assert_int_eq(size, 0);
	qlock_close(c);
}
END_TEST

/* --- JoinableQueue: consumers task_done, the producer joins ---------------- */

#define JQ_Q		"tut-jq"
#define JQ_D		"tut-jq-d"
#define JQ_TASKS	100
#define JQ_NCONS	4

/* get + (count it) + task_done, for ever. */
static void
jq_consumer(void)
{
	qlock	*c = cconnect();
	void	*item;
	size_t	 len;
	int64_t	 n;

	for (;;) {
		CTRY(c, qlock_queue_get(c, JQ_Q, &item, &len, QLOCK_FOREVER));
		free(item);
		CTRY(c, qlock_dict_incr(c, JQ_D, "done", 1, &n));
		CTRY(c, qlock_queue_task_done(c, JQ_Q));
	}
}

START_TEST(test_tut_joinable_queue)
{
	qlock	*c = qd_connect(D);
	pid_t	 cons[JQ_NCONS];
	char	 buf[32];
	double	 t0;
	int	 i;

	OK(c, qlock_queue_open(c, JQ_Q, 0, QLOCK_JOINABLE));
	for (i = 0; i < JQ_TASKS; i++) {
		snprintf(buf, sizeof(buf), "task %d", i);
		OK(c, qlock_queue_put(c, JQ_Q, buf, strlen(buf), QD_WAIT));
	}
	/* Nobody works yet: join times out. */
	t0 = qd_now();
	IS(c, qlock_queue_join(c, JQ_Q, 0.2), QLOCK_TIMEOUT);
	ck_assert_double_ge(qd_now() - t0, 0.19);
	for (i = 0; i < JQ_NCONS; i++)
		if ((cons[i] = qd_fork()) == 0)
			jq_consumer();
	OK(c, qlock_queue_join(c, JQ_Q, QD_WAIT));
	/* join returned only after every task_done (each counted before). */
	ck_assert_int_eq(dict_int(c, JQ_D, "done"), JQ_TASKS);
	OK(c, qlock_queue_join(c, JQ_Q, 0));
	/* One task_done too many. */
	IS(c, qlock_queue_task_done(c, JQ_Q), QLOCK_EVALUE);
	for (i = 0; i < JQ_NCONS; i++)
		child_kill(cons[i]);
	ck_assert_int_eq(dict_int(c, JQ_D, "done"), JQ_TASKS);
	qlock_close(c);
}
END_TEST

/* --- one ticket, ten buyers, a lock ---------------------------------------- */

#define TIX_LOCK	"tut-tix-lock"
#define TIX_D		"tut-tix"
#define TIX_GO		"tut-tix-go"
#define TIX_BUYERS	10
#define TIX_TICKET	"seat 42A"
#define TIX_WON		10
#define TIX_LOST	11

static void
tix_buyer(void)
{
	qlock	*c = cconnect();
	void	*val;
	size_t	 len;
	int	 st, code;

	CTRY(c, qlock_event_wait(c, TIX_GO, CHILD_WAIT));
	CTRY(c, qlock_lock_acquire(c, TIX_LOCK, CHILD_WAIT));
	st = qlock_dict_get(c, TIX_D, "ticket", &val, &len);
	if (st == QLOCK_OK) {
		if (len != strlen(TIX_TICKET) || memcmp(val, TIX_TICKET, len))
			cdie(CX_OTHER, c, "wrong ticket", 0);
		free(val);
		CTRY(c, qlock_dict_del(c, TIX_D, "ticket"));
		code = TIX_WON;
	} else if (st == QLOCK_ENOKEY)
		code = TIX_LOST;
	else
		cdie(CX_CALL, c, "dict_get", st);
	CTRY(c, qlock_lock_release(c, TIX_LOCK));
	_exit(code);
}

START_TEST(test_tut_ticket_lock)
{
	qlock	*c = qd_connect(D);
	pid_t	 pids[TIX_BUYERS];
	long	 n;
	int	 i, code, won = 0, lost = 0;

	OK(c, qlock_dict_set(c, TIX_D, "ticket", TIX_TICKET,
	    strlen(TIX_TICKET)));
	for (i = 0; i < TIX_BUYERS; i++)
		if ((pids[i] = qd_fork()) == 0)
			tix_buyer();
	gate_open(c, TIX_GO, TIX_BUYERS);
	for (i = 0; i < TIX_BUYERS; i++) {
		code = child_code(pids[i], QD_WAIT, "buyer");
		ck_assert_msg(code == TIX_WON || code == TIX_LOST,
		    "buyer exit code %d", code);
		won += code == TIX_WON;
		lost += code == TIX_LOST;
	}
	ck_assert_int_eq(won, 1);
	ck_assert_int_eq(lost, TIX_BUYERS - 1);
	OK(c, qlock_dict_len(c, TIX_D, &n));
	ck_assert_int_eq(n, 0);
	/* Nobody holds the lock any more. */
	OK(c, qlock_lock_acquire(c, TIX_LOCK, 0));
	OK(c, qlock_lock_release(c, TIX_LOCK));
	qlock_close(c);
}
END_TEST

/* --- Manager().dict() counter: 100 -> 90 ----------------------------------- */

#define MGR_D		"tut-mgr"
#define MGR_LOCK	"tut-mgr-lock"
#define MGR_GO		"tut-mgr-go"
#define MGR_GO2		"tut-mgr-go2"
#define MGR_N		10

/* Read, decrement, write back, under the lock. */
static void
mgr_locked(void)
{
	qlock	*c = cconnect();
	int64_t	 v;

	CTRY(c, qlock_event_wait(c, MGR_GO, CHILD_WAIT));
	CTRY(c, qlock_lock_acquire(c, MGR_LOCK, CHILD_WAIT));
	CTRY(c, qlock_dict_get_int(c, MGR_D, "locked", &v));
	CTRY(c, qlock_dict_set_int(c, MGR_D, "locked", v - 1));
	CTRY(c, qlock_lock_release(c, MGR_LOCK));
	_exit(0);
}

/* incr(-1), no lock: exit with the value it saw. */
static void
mgr_incr(void)
{
	qlock	*c = cconnect();
	int64_t	 v;

	CTRY(c, qlock_event_wait(c, MGR_GO2, CHILD_WAIT));
	CTRY(c, qlock_dict_incr(c, MGR_D, "incr", -1, &v));
	_exit((int)v);
}

START_TEST(test_tut_manager_counter)
{
	qlock	*c = qd_connect(D);
	pid_t	 pids[MGR_N];
	bool	 seen[100];
	int	 i, code;

	OK(c, qlock_dict_set_int(c, MGR_D, "locked", 100));
	OK(c, qlock_dict_set_int(c, MGR_D, "incr", 100));
	for (i = 0; i < MGR_N; i++)
		if ((pids[i] = qd_fork()) == 0)
			mgr_locked();
	gate_open(c, MGR_GO, MGR_N);
	for (i = 0; i < MGR_N; i++)
		child_is(pids[i], 0, "locked decrementer");
	ck_assert_int_eq(dict_int(c, MGR_D, "locked"), 90);

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < MGR_N; i++)
		if ((pids[i] = qd_fork()) == 0)
			mgr_incr();
	gate_open(c, MGR_GO2, MGR_N);
	for (i = 0; i < MGR_N; i++) {
		code = child_code(pids[i], QD_WAIT, "incr decrementer");
		ck_assert_msg(code >= 90 && code <= 99, "incr saw %d", code);
		ck_assert_msg(!seen[code], "two incr(-1) both returned %d", code);
		seen[code] = true;
	}
	ck_assert_int_eq(dict_int(c, MGR_D, "incr"), 90);
	qlock_close(c);
}
END_TEST

/* --- Semaphore(4): never a fifth inside ------------------------------------ */

#define SEM4		"tut-sem4"
#define SEM4_D		"tut-sem4-d"
#define SEM4_GO		"tut-sem4-go"
#define SEM4_VALUE	4
#define SEM4_N		10

/* Enter, count, stay until four are in (or everyone has been in), leave;
 * exit with the most seen inside at once. */
static void
sem4_worker(void)
{
	qlock	*c = cconnect();
	int64_t	 inside, entered, most;
	double	 end;

	CTRY(c, qlock_event_wait(c, SEM4_GO, CHILD_WAIT));
	CTRY(c, qlock_sem_acquire(c, SEM4, CHILD_WAIT));
	CTRY(c, qlock_dict_incr(c, SEM4_D, "entered", 1, &entered));
	CTRY(c, qlock_dict_incr(c, SEM4_D, "inside", 1, &inside));
	most = inside;
	for (end = qd_now() + CHILD_WAIT; qd_now() < end; qd_nap()) {
		CTRY(c, qlock_dict_get_int(c, SEM4_D, "inside", &inside));
		CTRY(c, qlock_dict_get_int(c, SEM4_D, "entered", &entered));
		if (inside > most)
			most = inside;
		if (inside >= SEM4_VALUE || entered >= SEM4_N)
			break;
	}
	CTRY(c, qlock_dict_incr(c, SEM4_D, "inside", -1, &inside));
	CTRY(c, qlock_sem_release(c, SEM4));
	_exit(most > 0 && most < 80 ? (int)most : 80);
}

START_TEST(test_tut_semaphore_four)
{
	qlock	*c = qd_connect(D);
	pid_t	 pids[SEM4_N];
	long	 value;
	int	 i, code, most = 0;

	OK(c, qlock_sem_open(c, SEM4, SEM4_VALUE, 0));
	OK(c, qlock_dict_set_int(c, SEM4_D, "inside", 0));
	for (i = 0; i < SEM4_N; i++)
		if ((pids[i] = qd_fork()) == 0)
			sem4_worker();
	gate_open(c, SEM4_GO, SEM4_N);
	for (i = 0; i < SEM4_N; i++) {
		code = child_code(pids[i], QD_WAIT, "semaphore worker");
		ck_assert_msg(code >= 1 && code <= SEM4_VALUE,
		    "a worker saw %d inside a Semaphore(%d) (exit %d)", code,
		    SEM4_VALUE, code);
		if (code > most)
			most = code;
	}
	ck_assert_int_eq(most, SEM4_VALUE);
	ck_assert_int_eq(dict_int(c, SEM4_D, "inside"), 0);
	ck_assert_int_eq(dict_int(c, SEM4_D, "entered"), SEM4_N);
	OK(c, qlock_sem_value(c, SEM4, &value));
	ck_assert_int_eq(value, SEM4_VALUE);
	qlock_close(c);
}
END_TEST

/* --- Event as a traffic light ---------------------------------------------- */

#define LIGHT		"tut-light"
#define LIGHT_D		"tut-light-d"
#define CARS		4

/* Wait for green up to timeout: exit 0 and count the pass, 1 if red. */
static void
car(double timeout)
{
	qlock	*c = cconnect();
	int64_t	 n;
	int	 st = qlock_event_wait(c, LIGHT, timeout);

	if (st == QLOCK_TIMEOUT)
		_exit(1);
	if (st != QLOCK_OK)
		cdie(CX_CALL, c, "event_wait", st);
	CTRY(c, qlock_dict_incr(c, LIGHT_D, "passed", 1, &n));
	_exit(0);
}

/* The light: set (green) or clear (red), from its own process. */
static void
light(bool green)
{
	qlock	*c = cconnect();

	CTRY(c, green ? qlock_event_set(c, LIGHT) : qlock_event_clear(c, LIGHT));
	_exit(0);
}

START_TEST(test_tut_event_traffic_light)
{
	qlock	*c = qd_connect(D);
	pid_t	 cars[CARS], pid;
	void	*val;
	size_t	 len;
	double	 t0;
	int	 i, is_set = -1;

	OK(c, qlock_event_clear(c, LIGHT));
	for (i = 0; i < CARS; i++)
		if ((cars[i] = qd_fork()) == 0)
			car(CHILD_WAIT);
	/* All parked at red; nobody passed. */
	wait_waiters(c, LIGHT, CARS);
	IS(c, qlock_dict_get(c, LIGHT_D, "passed", &val, &len), QLOCK_ENOKEY);
	t0 = qd_now();
	IS(c, qlock_event_wait(c, LIGHT, 0.2), QLOCK_TIMEOUT);
	ck_assert_double_ge(qd_now() - t0, 0.19);
	OK(c, qlock_event_is_set(c, LIGHT, &is_set));
	ck_assert_int_eq(is_set, 0);

	/* Green: every car passes. */
	if ((pid = qd_fork()) == 0)
		light(true);
	child_is(pid, 0, "light (green)");
	for (i = 0; i < CARS; i++)
		child_is(cars[i], 0, "car at green");
	ck_assert_int_eq(dict_int(c, LIGHT_D, "passed"), CARS);
	OK(c, qlock_event_is_set(c, LIGHT, &is_set));
	ck_assert_int_eq(is_set, 1);
	OK(c, qlock_event_wait(c, LIGHT, 0));

	/* Red again: a car with a timeout stays put. */
	if ((pid = qd_fork()) == 0)
		light(false);
	child_is(pid, 0, "light (red)");
	OK(c, qlock_event_is_set(c, LIGHT, &is_set));
	ck_assert_int_eq(is_set, 0);
	if ((pid = qd_fork()) == 0)
		car(0.3);
	child_is(pid, 1, "car at red with a timeout");
	ck_assert_int_eq(dict_int(c, LIGHT_D, "passed"), CARS);
	qlock_close(c);
}
END_TEST

/* --- Barrier ---------------------------------------------------------------- */

#define BAR_IDX		10	/* exit code of a party: BAR_IDX + index */
#define BAR_BROKEN	1	/* exit code: QLOCK_EBROKEN */

/* Wait on barrier name up to timeout: exit BAR_IDX + index, or
 * BAR_BROKEN; write the time it returned to fd if fd >= 0. */
static void
party(const char *name, double timeout, int fd)
{
	qlock	*c = cconnect();
	double	 t;
	int	 index = -1, st = qlock_barrier_wait(c, name, timeout, &index);

	t = qd_now();
	if (fd >= 0)
		cwrite(fd, &t, sizeof(t));
	if (st == QLOCK_EBROKEN)
		_exit(BAR_BROKEN);
	if (st != QLOCK_OK)
		cdie(CX_CALL, c, "barrier_wait", st);
	if (index < 0 || index > 60)
		cdie(CX_OTHER, c, "bad index", index);
	_exit(BAR_IDX + index);
}

START_TEST(test_tut_barrier_five)
{
	qlock	*c = qd_connect(D);
	pid_t	 pids[5];
	bool	 seen[5];
	int	 i, round, code;

	OK(c, qlock_barrier_open(c, "tut-b5", 5));
	/* Two rounds: the barrier serves the next one after tripping. */
	for (round = 0; round < 2; round++) {
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < 5; i++)
			if ((pids[i] = qd_fork()) == 0)
				party("tut-b5", CHILD_WAIT, -1);
		for (i = 0; i < 5; i++) {
			code = child_code(pids[i], QD_WAIT, "party of five");
			ck_assert_msg(code >= BAR_IDX && code < BAR_IDX + 5,
			    "round %d: party exit code %d", round, code);
			ck_assert_msg(!seen[code - BAR_IDX], "round %d: index "
			    "%d twice", round, code - BAR_IDX);
			seen[code - BAR_IDX] = true;
		}
	}
	qlock_close(c);
}
END_TEST

/* A timed-out wait breaks the barrier for everyone until reset. */
START_TEST(test_tut_barrier_broken_reset)
{
	qlock	*c = qd_connect(D);
	pid_t	 a, b;
	double	 t0;
	int	 index, code1, code2;

	/* The sixth process, alone on a 2-party barrier with a short
	 * timeout: the barrier breaks (the timed-out waiter gets Broken, as
	 * PROTOCOL.md says), and so does the other party arriving later. */
	OK(c, qlock_barrier_open(c, "tut-b2", 2));
	t0 = qd_now();
	if ((a = qd_fork()) == 0)
		party("tut-b2", 0.3, -1);
	child_is(a, BAR_BROKEN, "party timing out on a 2-party barrier");
	ck_assert_double_ge(qd_now() - t0, 0.29);
	t0 = qd_now();
	if ((b = qd_fork()) == 0)
		party("tut-b2", 3.0, -1);
	child_is(b, BAR_BROKEN, "the other party, after the break");
	ck_assert_msg(qd_now() - t0 < 2.0, "a wait on a broken barrier waited");

	/* reset: usable again. */
	OK(c, qlock_barrier_reset(c, "tut-b2"));
	if ((a = qd_fork()) == 0)
		party("tut-b2", CHILD_WAIT, -1);
	if ((b = qd_fork()) == 0)
		party("tut-b2", CHILD_WAIT, -1);
	code1 = child_code(a, QD_WAIT, "party after reset");
	code2 = child_code(b, QD_WAIT, "party after reset");
	ck_assert_msg((code1 == BAR_IDX && code2 == BAR_IDX + 1) ||
	    (code1 == BAR_IDX + 1 && code2 == BAR_IDX), "after reset: exit "
	    "codes %d and %d, expected indexes 0 and 1", code1, code2);

	/* Waiting together: one times out, the one still waiting is broken. */
	OK(c, qlock_barrier_open(c, "tut-b3", 3));
	if ((a = qd_fork()) == 0)
		party("tut-b3", CHILD_WAIT, -1);
	wait_waiters(c, "tut-b3", 1);
	if ((b = qd_fork()) == 0)
		party("tut-b3", 0.3, -1);
	child_is(b, BAR_BROKEN, "party timing out on a 3-party barrier");
	child_is(a, BAR_BROKEN, "the other waiter when the barrier broke");

	/* abort breaks it too; reset again. */
	OK(c, qlock_barrier_reset(c, "tut-b3"));
	if ((a = qd_fork()) == 0)
		party("tut-b3", CHILD_WAIT, -1);
	wait_waiters(c, "tut-b3", 1);
	OK(c, qlock_barrier_abort(c, "tut-b3"));
	child_is(a, BAR_BROKEN, "waiter on an aborted barrier");

	/* Before open: NoEnt, for wait, abort and reset. */
	IS(c, qlock_barrier_wait(c, "tut-b-never", 0.1, &index), QLOCK_ENOENT);
	IS(c, qlock_barrier_reset(c, "tut-b-never"), QLOCK_ENOENT);
	IS(c, qlock_barrier_abort(c, "tut-b-never"), QLOCK_ENOENT);
	qlock_close(c);
}
END_TEST

/* --- Condition -------------------------------------------------------------- */

#define CV		"tut-cv"
#define CV_D		"tut-cv-d"

/* Wait on the condition until the dict has "ready"; check its value. */
static void
cv_consumer(void)
{
	qlock	*c = cconnect();
	void	*val;
	size_t	 len;
	int	 st;

	CTRY(c, qlock_cond_acquire(c, CV, CHILD_WAIT));
	while ((st = qlock_dict_get(c, CV_D, "ready", &val, &len)) ==
	    QLOCK_ENOKEY)
		CTRY(c, qlock_cond_wait(c, CV, CHILD_WAIT));
	if (st != QLOCK_OK)
		cdie(CX_CALL, c, "dict_get", st);
	if (len != 3 || memcmp(val, "yes", 3) != 0)
		cdie(CX_OTHER, c, "wrong flag", 0);
	free(val);
	CTRY(c, qlock_cond_release(c, CV));
	_exit(0);
}

START_TEST(test_tut_condition)
{
	qlock	*c = qd_connect(D), *o = qd_connect(D);
	pid_t	 pid;
	double	 t0, dt;

	if ((pid = qd_fork()) == 0)
		cv_consumer();
	/* Parked in wait, so it gave the lock up: we can take it. */
	wait_waiters(c, CV, 1);
	OK(c, qlock_cond_acquire(c, CV, QD_WAIT));
	OK(c, qlock_dict_set(c, CV_D, "ready", "yes", 3));
	OK(c, qlock_cond_notify(c, CV, 1));
	OK(c, qlock_cond_release(c, CV));
	child_is(pid, 0, "condition consumer");

	/* wait / notify / release without holding the lock. */
	IS(o, qlock_cond_wait(o, CV, 0.1), QLOCK_ENOTOWNER);
	IS(o, qlock_cond_notify(o, CV, 1), QLOCK_ENOTOWNER);
	IS(o, qlock_cond_notify_all(o, CV), QLOCK_ENOTOWNER);
	IS(o, qlock_cond_release(o, CV), QLOCK_ENOTOWNER);

	/* A timed-out wait holds the lock again. */
	OK(c, qlock_cond_acquire(c, CV, QD_WAIT));
	t0 = qd_now();
	IS(c, qlock_cond_wait(c, CV, 0.2), QLOCK_TIMEOUT);
	dt = qd_now() - t0;
	ck_assert_msg(dt >= 0.19 && dt < 5.0, "wait 0.2 s took %.3f s", dt);
	IS(o, qlock_cond_acquire(o, CV, 0), QLOCK_TIMEOUT);
	OK(c, qlock_cond_release(c, CV));
	IS(c, qlock_cond_release(c, CV), QLOCK_ENOTOWNER);
	OK(o, qlock_cond_acquire(o, CV, 0));
	OK(o, qlock_cond_release(o, CV));
	qlock_close(o);
	qlock_close(c);
}
END_TEST

/* =========================================================================
 * Lock details
 * ========================================================================= */

START_TEST(test_lock_release_not_owner)
{
	qlock	*a = qd_connect(D), *b = qd_connect(D);

	OK(a, qlock_lock_acquire(a, "lk-owner", QD_WAIT));
	IS(b, qlock_lock_release(b, "lk-owner"), QLOCK_ENOTOWNER);
	/* Still a's: b cannot take it. */
	IS(b, qlock_lock_acquire(b, "lk-owner", 0), QLOCK_TIMEOUT);
	OK(a, qlock_lock_release(a, "lk-owner"));
	IS(a, qlock_lock_release(a, "lk-owner"), QLOCK_ENOTOWNER);
	IS(b, qlock_lock_release(b, "lk-never-held"), QLOCK_ENOTOWNER);
	OK(b, qlock_lock_acquire(b, "lk-owner", 0));
	OK(b, qlock_lock_release(b, "lk-owner"));
	qlock_close(b);
	qlock_close(a);
}
END_TEST

#define FIFO_LOCK	"lk-fifo"
#define FIFO_Q		"lk-fifo-order"
#define FIFO_N		3

struct grant {
	uint32_t	who;
	uint64_t	token;
};

/* Acquire, record who and the token, release. */
static void
fifo_waiter(uint32_t who)
{
	qlock		*c = cconnect();
	struct grant	 g = { who, 0 };

	CTRY(c, qlock_lock_acquire_token(c, FIFO_LOCK, CHILD_WAIT, &g.token));
	CTRY(c, qlock_queue_put(c, FIFO_Q, &g, sizeof(g), CHILD_WAIT));
	CTRY(c, qlock_lock_release(c, FIFO_LOCK));
	_exit(0);
}

START_TEST(test_lock_fifo_handoff)
{
	qlock		*c = qd_connect(D);
	pid_t		 pids[FIFO_N];
	struct grant	*g;
	uint64_t	 token, last;
	size_t		 len;
	uint32_t	 i;

	OK(c, qlock_lock_acquire_token(c, FIFO_LOCK, QD_WAIT, &token));
	for (i = 0; i < FIFO_N; i++) {
		if ((pids[i] = qd_fork()) == 0)
			fifo_waiter(i);
		wait_waiters(c, FIFO_LOCK, i + 1);	/* parked in order */
	}
	OK(c, qlock_lock_release(c, FIFO_LOCK));
	for (i = 0; i < FIFO_N; i++)
		child_is(pids[i], 0, "lock waiter");
	last = token;
	for (i = 0; i < FIFO_N; i++) {
		OK(c, qlock_queue_get(c, FIFO_Q, (void **)&g, &len, 0));
		ck_assert_uint_eq(len, sizeof(*g));
		ck_assert_msg(g->who == i, "grant %u went to the waiter that "
		    "parked as number %u", i, g->who);
		ck_assert_msg(g->token > last, "token %llu after %llu",
		    (unsigned long long)g->token, (unsigned long long)last);
		last = g->token;
		free(g);
	}
	qlock_close(c);
}
END_TEST

#define FENCE_LOCK	"lk-fence"
#define FENCE_Q		"lk-fence-q"
#define FENCE_PROCS	4
#define FENCE_ROUNDS	25

/* Acquire, log the token while holding, release; many times. */
static void
fence_worker(void)
{
	qlock		*c = cconnect();
	uint64_t	 token;
	int		 i;

	for (i = 0; i < FENCE_ROUNDS; i++) {
		CTRY(c, qlock_lock_acquire_token(c, FENCE_LOCK, CHILD_WAIT,
		    &token));
		CTRY(c, qlock_queue_put(c, FENCE_Q, &token, sizeof(token),
		    CHILD_WAIT));
		CTRY(c, qlock_lock_release(c, FENCE_LOCK));
	}
	_exit(0);
}

START_TEST(test_lock_fencing_tokens)
{
	qlock		*c = qd_connect(D);
	pid_t		 pids[FENCE_PROCS];
	uint64_t	 first, last, *t, end;
	size_t		 len;
	int		 i;

	OK(c, qlock_lock_acquire_token(c, FENCE_LOCK, QD_WAIT, &first));
	OK(c, qlock_lock_release(c, FENCE_LOCK));
	for (i = 0; i < FENCE_PROCS; i++)
		if ((pids[i] = qd_fork()) == 0)
			fence_worker();
	for (i = 0; i < FENCE_PROCS; i++)
		child_is(pids[i], 0, "fencing worker");
	/* Logged in grant order (each while holding): strictly increasing. */
	last = first;
	for (i = 0; i < FENCE_PROCS * FENCE_ROUNDS; i++) {
		OK(c, qlock_queue_get(c, FENCE_Q, (void **)&t, &len, 0));
		ck_assert_uint_eq(len, sizeof(*t));
		ck_assert_msg(*t > last, "grant %d: token %llu after %llu", i,
		    (unsigned long long)*t, (unsigned long long)last);
		last = *t;
		free(t);
	}
	OK(c, qlock_lock_acquire_token(c, FENCE_LOCK, QD_WAIT, &end));
	ck_assert_msg(end > last, "token %llu after %llu",
	    (unsigned long long)end, (unsigned long long)last);
	OK(c, qlock_lock_release(c, FENCE_LOCK));
	qlock_close(c);
}
END_TEST

START_TEST(test_lock_rlock_reentry)
{
	qlock		*a = qd_connect(D), *b = qd_connect(D);
	uint64_t	 t1, t2;

	OK(a, qlock_lock_open(a, "lk-rlock", QLOCK_RECURSIVE));
	OK(a, qlock_lock_acquire_token(a, "lk-rlock", QD_WAIT, &t1));
	OK(a, qlock_lock_acquire(a, "lk-rlock", 0));
	OK(a, qlock_lock_acquire(a, "lk-rlock", 0.2));
	IS(b, qlock_lock_acquire(b, "lk-rlock", 0), QLOCK_TIMEOUT);
	OK(a, qlock_lock_release(a, "lk-rlock"));
	OK(a, qlock_lock_release(a, "lk-rlock"));
	/* Depth 1 left: still a's. */
	IS(b, qlock_lock_acquire(b, "lk-rlock", 0), QLOCK_TIMEOUT);
	IS(b, qlock_lock_release(b, "lk-rlock"), QLOCK_ENOTOWNER);
	OK(a, qlock_lock_release(a, "lk-rlock"));
	IS(a, qlock_lock_release(a, "lk-rlock"), QLOCK_ENOTOWNER);
	OK(b, qlock_lock_acquire_token(b, "lk-rlock", 0, &t2));
	ck_assert_uint_gt(t2, t1);
	OK(b, qlock_lock_release(b, "lk-rlock"));
	/* Re-opened as the other kind: Inval. */
	IS(a, qlock_lock_open(a, "lk-rlock", 0), QLOCK_EINVAL);
	qlock_close(b);
	qlock_close(a);
}
END_TEST

START_TEST(test_lock_self_deadlock_times_out)
{
	qlock	*c = qd_connect(D);
	double	 t0, dt;

	OK(c, qlock_lock_acquire(c, "lk-plain", QD_WAIT));
	t0 = qd_now();
	IS(c, qlock_lock_acquire(c, "lk-plain", 0.2), QLOCK_TIMEOUT);
	dt = qd_now() - t0;
	ck_assert_msg(dt >= 0.19 && dt < 5.0, "acquire 0.2 s took %.3f s", dt);
	/* Still held once, by us. */
	OK(c, qlock_lock_release(c, "lk-plain"));
	IS(c, qlock_lock_release(c, "lk-plain"), QLOCK_ENOTOWNER);
	qlock_close(c);
}
END_TEST

START_TEST(test_lock_etype)
{
	qlock	*c = qd_connect(D);
	void	*item = NULL;
	size_t	 len;
	long	 n;

	OK(c, qlock_lock_open(c, "lk-typed", 0));
	OK(c, qlock_lock_acquire(c, "lk-typed", QD_WAIT));
	IS(c, qlock_queue_put(c, "lk-typed", "x", 1, 0), QLOCK_ETYPE);
	IS(c, qlock_queue_get(c, "lk-typed", &item, &len, 0), QLOCK_ETYPE);
	IS(c, qlock_queue_size(c, "lk-typed", &n), QLOCK_ETYPE);
	IS(c, qlock_queue_open(c, "lk-typed", 0, 0), QLOCK_ETYPE);
	IS(c, qlock_sem_open(c, "lk-typed", 1, 0), QLOCK_ETYPE);
	IS(c, qlock_event_set(c, "lk-typed"), QLOCK_ETYPE);
	IS(c, qlock_dict_set(c, "lk-typed", "k", "v", 1), QLOCK_ETYPE);
	/* And a queue used as a lock. */
	OK(c, qlock_queue_open(c, "q-typed", 0, 0));
	IS(c, qlock_lock_acquire(c, "q-typed", 0), QLOCK_ETYPE);
	IS(c, qlock_lock_release(c, "q-typed"), QLOCK_ETYPE);
	/* The lock is unharmed. */
	OK(c, qlock_lock_release(c, "lk-typed"));
	qlock_close(c);
}
END_TEST

#define DEL_ENOENT	0	/* exit code: the wait ended with NoEnt */
#define DEL_OTHER	1

/* Wait on a lock or a queue for ever; exit DEL_ENOENT if told NoEnt. */
static void
del_waiter(bool queue, const char *name)
{
	qlock	*c = cconnect();
	void	*item;
	size_t	 len;
	int	 st;

	st = queue ? qlock_queue_get(c, name, &item, &len, CHILD_WAIT) :
	    qlock_lock_acquire(c, name, CHILD_WAIT);
	if (st != QLOCK_ENOENT)
		cdie(DEL_OTHER, c, "wait on a deleted object", st);
	/* The connection is still usable. */
	CTRY(c, qlock_ping(c));
	_exit(DEL_ENOENT);
}

START_TEST(test_delete_wakes_waiters)
{
	qlock		*c = qd_connect(D);
	struct objinfo	 oi;
	pid_t		 pid;

	OK(c, qlock_lock_acquire(c, "del-lock", QD_WAIT));
	if ((pid = qd_fork()) == 0)
		del_waiter(false, "del-lock");
	wait_waiters(c, "del-lock", 1);
	OK(c, qlock_delete(c, "del-lock"));
	child_is(pid, DEL_ENOENT, "lock waiter on a deleted lock");
	obj_info(c, "del-lock", &oi);
	ck_assert_msg(!oi.found, "deleted lock still listed");
	/* Our hold went with it: the name is free again. */
	IS(c, qlock_lock_release(c, "del-lock"), QLOCK_ENOTOWNER);
	OK(c, qlock_lock_acquire(c, "del-lock", 0));
	OK(c, qlock_lock_release(c, "del-lock"));

	if ((pid = qd_fork()) == 0)
		del_waiter(true, "del-queue");
	wait_waiters(c, "del-queue", 1);
	OK(c, qlock_delete(c, "del-queue"));
	child_is(pid, DEL_ENOENT, "getter on a deleted queue");

	IS(c, qlock_delete(c, "del-never"), QLOCK_ENOENT);
	qlock_close(c);
}
END_TEST

START_TEST(test_sem_before_open)
{
	qlock	*c = qd_connect(D);
	long	 v;

	IS(c, qlock_sem_acquire(c, "sem-never", 0.1), QLOCK_ENOENT);
	IS(c, qlock_sem_release(c, "sem-never"), QLOCK_ENOENT);
	IS(c, qlock_sem_value(c, "sem-never", &v), QLOCK_ENOENT);
	qlock_close(c);
}
END_TEST

/* =========================================================================
 * Clients killed while holding or waiting
 * ========================================================================= */

/* What a child reports: when its call returned, and a value. */
struct report {
	double		t;
	uint64_t	value;
};

static void
kl_holder(int fd)
{
	qlock	*c = cconnect();
	uint64_t token;

	CTRY(c, qlock_lock_acquire_token(c, "kill-lock", CHILD_WAIT, &token));
	cwrite(fd, &token, sizeof(token));
	hang();
}

static void
kl_waiter(int fd)
{
	qlock		*c = cconnect();
	struct report	 r;

	CTRY(c, qlock_lock_acquire_token(c, "kill-lock", CHILD_WAIT,
	    &r.value));
	r.t = qd_now();
	cwrite(fd, &r, sizeof(r));
	_exit(0);
}

START_TEST(test_kill_lock_holder)
{
	qlock		*c = qd_connect(D);
	int		 p[2];
	pid_t		 holder, waiter;
	uint64_t	 htoken;
	struct report	 r;
	double		 t0;

	xpipe(p);
	if ((holder = qd_fork()) == 0)
		kl_holder(p[1]);
	ck_assert_msg(pipe_read(p[0], &htoken, sizeof(htoken), QD_WAIT),
	    "the holder did not get the lock");
	if ((waiter = qd_fork()) == 0)
		kl_waiter(p[1]);
	wait_waiters(c, "kill-lock", 1);
	t0 = qd_now();
	kill(holder, SIGKILL);
	ck_assert_msg(pipe_read(p[0], &r, sizeof(r), QD_WAIT),
	    "the waiter never got the lock of a killed holder");
	ck_assert_msg(r.t - t0 < KILL_BOUND, "lock given back %.3f s after "
	    "the holder was killed", r.t - t0);
	ck_assert_uint_gt(r.value, htoken);
	child_is(waiter, 0, "waiter");
	child_kill(holder);
	/* The waiter exited: free for us. */
	OK(c, qlock_lock_acquire(c, "kill-lock", QD_WAIT));
	OK(c, qlock_lock_release(c, "kill-lock"));
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

static void
ks_holder(int fd)
{
	qlock	*c = cconnect();

	CTRY(c, qlock_sem_acquire(c, "kill-sem", CHILD_WAIT));
	CTRY(c, qlock_sem_acquire(c, "kill-sem", CHILD_WAIT));
	cwrite(fd, "h", 1);
	hang();
}

/* Get a permit, report when, keep it until killed. */
static void
ks_waiter(int fd)
{
	qlock		*c = cconnect();
	struct report	 r = { 0, 0 };

	CTRY(c, qlock_sem_acquire(c, "kill-sem", CHILD_WAIT));
	r.t = qd_now();
	cwrite(fd, &r, sizeof(r));
	hang();
}

/* Poll sem_value until want; fail unless within secs. */
static void
wait_sem_value(qlock *c, const char *name, long want, double secs,
    double since, const char *what)
{
	double	end = since + secs;
	long	v = -1;

	for (;;) {
		OK(c, qlock_sem_value(c, name, &v));
		if (v == want)
			return;
		ck_assert_msg(qd_now() < end, "%s: semaphore value %ld after "
		    "%.3f s, expected %ld", what, v, qd_now() - since, want);
		qd_nap();
	}
}

START_TEST(test_kill_sem_holder)
{
	qlock		*c = qd_connect(D);
	int		 p[2];
	char		 ch;
	pid_t		 holder, waiter;
	struct report	 r;
	long		 v;
	double		 t0;

	xpipe(p);
	OK(c, qlock_sem_open(c, "kill-sem", 2, 0));
	if ((holder = qd_fork()) == 0)
		ks_holder(p[1]);
	ck_assert(pipe_read(p[0], &ch, 1, QD_WAIT));
	OK(c, qlock_sem_value(c, "kill-sem", &v));
	ck_assert_int_eq(v, 0);
	if ((waiter = qd_fork()) == 0)
		ks_waiter(p[1]);
	wait_waiters(c, "kill-sem", 1);
	t0 = qd_now();
	kill(holder, SIGKILL);
	ck_assert_msg(pipe_read(p[0], &r, sizeof(r), QD_WAIT),
	    "the waiter never got a permit of a killed holder");
	ck_assert_msg(r.t - t0 < KILL_BOUND, "permit given back %.3f s after "
	    "the holder was killed", r.t - t0);
	/* The holder's other permit is free; the waiter keeps one. */
	wait_sem_value(c, "kill-sem", 1, KILL_BOUND, t0, "holder killed");
	child_kill(holder);
	t0 = qd_now();
	child_kill(waiter);
	wait_sem_value(c, "kill-sem", 2, KILL_BOUND, t0, "waiter killed");
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

#define KJ_Q	"kill-jq"

/* Take an item, never finish it. */
static void
kj_taker(int fd)
{
	qlock	*c = cconnect();
	void	*item;
	size_t	 len;

	CTRY(c, qlock_queue_get(c, KJ_Q, &item, &len, CHILD_WAIT));
	if (len != 3 || memcmp(item, "job", 3) != 0)
		cdie(CX_OTHER, c, "wrong item", 0);
	cwrite(fd, "g", 1);
	hang();
}

/* Get (parked before the taker dies), report when, finish it. */
static void
kj_finisher(int fd)
{
	qlock		*c = cconnect();
	struct report	 r = { 0, 0 };
	void		*item;
	size_t		 len;

	CTRY(c, qlock_queue_get(c, KJ_Q, &item, &len, CHILD_WAIT));
	r.t = qd_now();
	if (len != 3 || memcmp(item, "job", 3) != 0)
		cdie(CX_OTHER, c, "wrong item", 0);
	cwrite(fd, &r, sizeof(r));
	CTRY(c, qlock_queue_task_done(c, KJ_Q));
	_exit(0);
}

START_TEST(test_kill_joinable_consumer)
{
	qlock		*c = qd_connect(D);
	int		 p[2];
	char		 ch;
	pid_t		 taker, finisher;
	struct report	 r;
	double		 t0;
	long		 size;
	void		*item;
	size_t		 len;

	xpipe(p);
	OK(c, qlock_queue_open(c, KJ_Q, 0, QLOCK_JOINABLE));
	OK(c, qlock_queue_put(c, KJ_Q, "job", 3, QD_WAIT));

	/* First: killed with the item taken; it comes back to a fresh get. */
	if ((taker = qd_fork()) == 0)
		kj_taker(p[1]);
	ck_assert(pipe_read(p[0], &ch, 1, QD_WAIT));
	OK(c, qlock_queue_size(c, KJ_Q, &size));
	ck_assert_int_eq(size, 0);
	IS(c, qlock_queue_join(c, KJ_Q, 0.2), QLOCK_TIMEOUT);
	t0 = qd_now();
	child_kill(taker);
	OK(c, qlock_queue_get(c, KJ_Q, &item, &len, KILL_BOUND));
	ck_assert_msg(qd_now() - t0 < KILL_BOUND, "item back %.3f s after "
	    "the consumer was killed", qd_now() - t0);
	ck_assert(len == 3 && memcmp(item, "job", 3) == 0);
	free(item);
	OK(c, qlock_queue_put(c, KJ_Q, "job", 3, QD_WAIT));
	OK(c, qlock_queue_task_done(c, KJ_Q));	/* ours, the one we got */

	/* Second: a consumer parked when the taker dies gets the item. */
	if ((taker = qd_fork()) == 0)
		kj_taker(p[1]);
	ck_assert(pipe_read(p[0], &ch, 1, QD_WAIT));
	if ((finisher = qd_fork()) == 0)
		kj_finisher(p[1]);
	wait_waiters(c, KJ_Q, 1);
	t0 = qd_now();
	kill(taker, SIGKILL);
	ck_assert_msg(pipe_read(p[0], &r, sizeof(r), QD_WAIT),
	    "the item of a killed consumer never came back");
	ck_assert_msg(r.t - t0 < KILL_BOUND, "item back %.3f s after the "
	    "consumer was killed", r.t - t0);
	child_is(finisher, 0, "new consumer");
	child_kill(taker);
	OK(c, qlock_queue_join(c, KJ_Q, QD_WAIT));
	OK(c, qlock_queue_size(c, KJ_Q, &size));
	ck_assert_int_eq(size, 0);
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

START_TEST(test_kill_barrier_party)
{
	qlock		*c = qd_connect(D);
	int		 p[2];
	pid_t		 a, b;
	struct report	 r;
	double		 t0;

	xpipe(p);
	OK(c, qlock_barrier_open(c, "kill-bar", 3));
	if ((a = qd_fork()) == 0)
		party("kill-bar", CHILD_WAIT, p[1]);
	if ((b = qd_fork()) == 0)
		party("kill-bar", CHILD_WAIT, -1);
	wait_waiters(c, "kill-bar", 2);
	t0 = qd_now();
	kill(b, SIGKILL);
	ck_assert_msg(pipe_read(p[0], &r.t, sizeof(r.t), QD_WAIT),
	    "the other party still waits after one was killed");
	ck_assert_msg(r.t - t0 < KILL_BOUND, "barrier broken %.3f s after the "
	    "party was killed", r.t - t0);
	child_is(a, BAR_BROKEN, "party when another was killed");
	child_kill(b);
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

#define KC	"kill-cond"

/* Hold the condition and wait on it; exit 0 once woken. */
static void
kc_waiter(void)
{
	qlock	*c = cconnect();

	CTRY(c, qlock_cond_acquire(c, KC, CHILD_WAIT));
	CTRY(c, qlock_cond_wait(c, KC, CHILD_WAIT));
	CTRY(c, qlock_cond_release(c, KC));
	_exit(0);
}

static void
kc_holder(int fd)
{
	qlock	*c = cconnect();

	CTRY(c, qlock_cond_acquire(c, KC, CHILD_WAIT));
	cwrite(fd, "h", 1);
	hang();
}

START_TEST(test_kill_cond_waiter)
{
	qlock	*c = qd_connect(D);
	int	 p[2];
	char	 ch;
	pid_t	 dead, live, holder;
	double	 t0;

	/* Two waiters; the first is killed; notify(1) reaches the other. */
	if ((dead = qd_fork()) == 0)
		kc_waiter();
	wait_waiters(c, KC, 1);
	if ((live = qd_fork()) == 0)
		kc_waiter();
	wait_waiters(c, KC, 2);
	child_kill(dead);
	wait_waiters(c, KC, 1);
	OK(c, qlock_cond_acquire(c, KC, QD_WAIT));
	OK(c, qlock_cond_notify(c, KC, 1));
	OK(c, qlock_cond_release(c, KC));
	child_is(live, 0, "live condition waiter after notify(1)");
	wait_waiters(c, KC, 0);

	/* A killed holder of the condition's lock gives it back. */
	xpipe(p);
	if ((holder = qd_fork()) == 0)
		kc_holder(p[1]);
	ck_assert(pipe_read(p[0], &ch, 1, QD_WAIT));
	IS(c, qlock_cond_acquire(c, KC, 0), QLOCK_TIMEOUT);
	t0 = qd_now();
	kill(holder, SIGKILL);
	OK(c, qlock_cond_acquire(c, KC, QD_WAIT));
	ck_assert_msg(qd_now() - t0 < KILL_BOUND, "condition lock given back "
	    "%.3f s after the holder was killed", qd_now() - t0);
	OK(c, qlock_cond_notify_all(c, KC));
	OK(c, qlock_cond_release(c, KC));
	child_kill(holder);
	close(p[0]);
	close(p[1]);
	qlock_close(c);
}
END_TEST

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

/* ------------------------------------------------------------------------- */

static Suite *
objects_suite(void)
{
	Suite	*s = suite_create("it_objects");
	TCase	*tc;

	tc = qd_tcase(s, "tutorials", setup, teardown, 60);
	tcase_add_test(tc, test_tut_producer_consumer_sentinels);
	tcase_add_test(tc, test_tut_joinable_queue);
	tcase_add_test(tc, test_tut_ticket_lock);
	tcase_add_test(tc, test_tut_manager_counter);
	tcase_add_test(tc, test_tut_semaphore_four);
	tcase_add_test(tc, test_tut_event_traffic_light);
	tcase_add_test(tc, test_tut_barrier_five);
	tcase_add_test(tc, test_tut_barrier_broken_reset);
	tcase_add_test(tc, test_tut_condition);

	tc = qd_tcase(s, "locks", setup, teardown, 60);
	tcase_add_test(tc, test_lock_release_not_owner);
	tcase_add_test(tc, test_lock_fifo_handoff);
	tcase_add_test(tc, test_lock_fencing_tokens);
	tcase_add_test(tc, test_lock_rlock_reentry);
	tcase_add_test(tc, test_lock_self_deadlock_times_out);
	tcase_add_test(tc, test_lock_etype);
	tcase_add_test(tc, test_delete_wakes_waiters);
	tcase_add_test(tc, test_sem_before_open);

	tc = qd_tcase(s, "killed", setup, teardown, 60);
	tcase_add_test(tc, test_kill_lock_holder);
	tcase_add_test(tc, test_kill_sem_holder);
	tcase_add_test(tc, test_kill_joinable_consumer);
	tcase_add_test(tc, test_kill_barrier_party);
	tcase_add_test(tc, test_kill_cond_waiter);

	tc = qd_tcase(s, "cli", setup, teardown, 60);
	tcase_add_test(tc, test_cli_lock_exit_status);
	tcase_add_test(tc, test_cli_lock_serialises);
	tcase_add_test(tc, test_cli_sem_two_at_once);
	tcase_add_test(tc, test_cli_stats_list);
	return s;
}

int
main(void)
{
	return suite_run(objects_suite(), CK_FORK);
}
