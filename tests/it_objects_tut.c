/* it_objects_tut.c: it_objects' tests: the multiprocessing tutorial
 * programs in C. */
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

/* Wait on barrier name up to timeout: exit BAR_IDX + index, or
 * BAR_BROKEN; write the time it returned to fd if fd >= 0. */
void
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

/* The tests of this file, in the order they run. */
void
objects_tut_tests(TCase *tc)
{
	tcase_add_test(tc, test_tut_producer_consumer_sentinels);
	tcase_add_test(tc, test_tut_joinable_queue);
	tcase_add_test(tc, test_tut_ticket_lock);
	tcase_add_test(tc, test_tut_manager_counter);
	tcase_add_test(tc, test_tut_semaphore_four);
	tcase_add_test(tc, test_tut_event_traffic_light);
	tcase_add_test(tc, test_tut_barrier_five);
	tcase_add_test(tc, test_tut_barrier_broken_reset);
	tcase_add_test(tc, test_tut_condition);
}
