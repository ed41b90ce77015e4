/* it_input.c: hostile values in well-formed requests against the real
 * qlockd over raw sockets: timeouts that do not fit a timer, and values
 * nested too deep. */
#include <sys/types.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "mp.h"
#include "suiterun.h"

#define IDLE_SECS	1.0	/* how long the worker's CPU is watched */
#define IDLE_MAX_CPU	0.25	/* CPU seconds it may use in that time */

static void
setup(void)
{
	D = qd_start(1, NULL);
}

/* Send method [name, timeout] with the timeout as a double. */
static void
send_wait(int fd, uint64_t msgid, const char *method, double timeout)
{
	struct raw_call	 c;
	msgpack_packer	*pk = raw_call_begin(&c, msgid, method, 2);

	msgpack_pack_str_with_body(pk, "e", 1);
	msgpack_pack_double(pk, timeout);
	raw_call_send(fd, &c);
}

/* The only worker's CPU time. */
static double
worker_cpu(void)
{
	pid_t	pid;

	ck_assert_int_eq(qd_worker_pids(D, &pid, 1), 1);
	return qd_cpu_secs(pid);
}

/* Defect 4: a timeout too large for a timer is refused with Value, and so
 * is NaN; negative and infinite ones wait for ever, the largest allowed
 * one waits; the worker then sits idle, and a set wakes them all. */
START_TEST(test_input_timeout_bounds)
{
	static const char *const methods[] = { "event.wait", "queue.get",
	    "sem.acquire", "lock.acquire", "cond.wait", "barrier.wait",
	    "queue.join" };
	static const double bad[] = { 1e19, 1e9 + 1, 9.3e18, 1e300, NAN,
	    -NAN };
	static const double forever[] = { -1, INFINITY, -INFINITY, -1e19, 1e9 };
	struct raw_call	 c;
	msgpack_packer	*pk;
	uint64_t	 id = 1;
	size_t		 i, j;
	double		 cpu;
	int		 fd = raw_connect_auth(D), setter;
	char		 what[128];

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			snprintf(what, sizeof(what), "%s timeout %g",
			    methods[i], bad[j]);
			send_wait(fd, id, methods[i], bad[j]);
			raw_expect(fd, id++, "Value", what);
		}
	}
	/* The same as a float32 (0xca) */
	pk = raw_call_begin(&c, id, "event.wait", 2);
	msgpack_pack_str_with_body(pk, "e", 1);
	msgpack_pack_float(pk, 1e19f);
	raw_call_send(fd, &c);
	raw_expect(fd, id++, "Value", "event.wait float32 timeout 1e19");
	ck_assert(raw_ping(fd, id++));

	/* These wait: for ever, or SECS_MAX. */
	for (j = 0; j < sizeof(forever) / sizeof(forever[0]); j++)
		send_wait(fd, 1000 + j, "event.wait", forever[j]);
	ck_assert(raw_ping(fd, id++));		/* all parked by now */
	cpu = worker_cpu();
	usleep((useconds_t)(IDLE_SECS * 1e6));
	cpu = worker_cpu() - cpu;
	ck_assert_msg(cpu < IDLE_MAX_CPU, "the worker used %.2f s of CPU in "
	    "%.1f s with only parked waiters", cpu, IDLE_SECS);

	setter = raw_connect_auth(D);
	pk = raw_call_begin(&c, 1, "event.set", 1);
	msgpack_pack_str_with_body(pk, "e", 1);
	raw_call_send(setter, &c);
	raw_expect(setter, 1, NULL, "event.set");
	close(setter);
	for (j = 0; j < sizeof(forever) / sizeof(forever[0]); j++) {
		snprintf(what, sizeof(what), "event.wait timeout %g woken",
		    forever[j]);
		raw_expect(fd, 1000 + j, NULL, what);
	}
	close(fd);
}
END_TEST

/* Send queue.put [q, item, 0] (or dict.set [d, k, item]) with an item of
 * depth arrays nested in each other around a nil. */
static void
send_nested(int fd, uint64_t msgid, bool dict, int depth)
{
	struct raw_call	 c;
	msgpack_packer	*pk = raw_call_begin(&c, msgid, dict ? "dict.set" :
			    "queue.put", 3);
	int		 i;

	msgpack_pack_str_with_body(pk, dict ? "d" : "q", 1);
	if (dict)
		msgpack_pack_str_with_body(pk, "k", 1);
	for (i = 0; i < depth; i++)
		msgpack_pack_array(pk, 1);
	msgpack_pack_nil(pk);
	if (!dict)
		msgpack_pack_int(pk, 0);
	raw_call_send(fd, &c);
}

/* Defect 10: values nested 10,000 deep were stored, and then no msgpack
 * library could read them back.  Past MP_MAX_DEPTH levels in a message
 * (an item may nest MP_MAX_DEPTH - 2) the call is answered Limit, nothing
 * is stored, and the connection goes on. */
START_TEST(test_input_nesting_limit)
{
	static const int deep[] = { MP_MAX_DEPTH - 1, MP_MAX_DEPTH, 1000,
	    10000, 100000 };
	qlock		*c = qd_connect(D);
	uint64_t	 id = 1;
	size_t		 i;
	long		 n = 0;
	void		*item;
	size_t		 len;
	int		 fd = raw_connect_auth(D), dict;
	char		 what[64];

	for (dict = 0; dict < 2; dict++) {
		for (i = 0; i < sizeof(deep) / sizeof(deep[0]); i++) {
			snprintf(what, sizeof(what), "%s of an item %d deep",
			    dict ? "dict.set" : "queue.put", deep[i]);
			send_nested(fd, id, dict, deep[i]);
			raw_expect(fd, id++, "Limit", what);
		}
		ck_assert(raw_ping(fd, id++));
		send_nested(fd, id, dict, MP_MAX_DEPTH - 2);
		raw_expect(fd, id++, NULL, "an item as deep as allowed");
	}
	ck_assert_int_eq(qlock_queue_size(c, "q", &n), QLOCK_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(qlock_queue_get(c, "q", &item, &len, 0), QLOCK_OK);
	ck_assert_uint_eq(len, MP_MAX_DEPTH - 2 + 1);	/* 0x91 each, nil */
	free(item);
	ck_assert_int_eq(qlock_dict_len(c, "d", &n), QLOCK_OK);
	ck_assert_int_eq(n, 1);
	qlock_close(c);
	close(fd);
}
END_TEST

static Suite *
input_suite(void)
{
	Suite	*s = suite_create("it_input");
	TCase	*tc = qd_tcase(s, "workers1", setup, qd_fixture_stop, 60);

	tcase_add_test(tc, test_input_timeout_bounds);
	tcase_add_test(tc, test_input_nesting_limit);
	return s;
}

int
main(void)
{
	return suite_run(input_suite(), CK_FORK);
}
