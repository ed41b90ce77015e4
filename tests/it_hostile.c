/* it_hostile.c: clients that try to make the real qlockd hold memory or
 * time it should not: forwarded calls abandoned by their client, replies
 * never read, handshakes never finished, wrong keys in a loop.  Raw
 * sockets do the attacking; a well-behaved libqlock client checks that
 * the daemon still serves it. */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
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

/* Pack [0, msgid, method, [name, timeout]] and send it on fd. */
static void
send_name_timeout(int fd, uint64_t msgid, const char *method,
    const char *name, double timeout)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint64(&pk, msgid);
	msgpack_pack_str_with_body(&pk, method, strlen(method));
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, name, strlen(name));
	msgpack_pack_double(&pk, timeout);
	ck_assert_int_eq(raw_send_sbuf(fd, &sb), 0);
	msgpack_sbuffer_destroy(&sb);
}

/* One stat that must be readable. */
static uint64_t
stat_of(qlock *c, const char *key)
{
	uint64_t	v = 0;

	ck_assert_int_eq(qd_stat(c, key, &v), QLOCK_OK);
	return v;
}

/* --- defect 5: forwarded calls whose client left ---------------------------- */

#define ABANDON_CONNS	4
#define ABANDON_CALLS	400	/* parked calls per connection */

START_TEST(test_hostile_abandoned_forwards)
{
	struct qd	*d = qd_start(2, NULL);
	qlock		*c = qd_connect(d);
	int		 fds[ABANDON_CONNS], i, k, st;
	char		 name[64];
	double		 t0, took;

	/* Calls that park forever on names spread over both workers: about
	 * half of them are forwarded to the worker that does not hold the
	 * connection. */
	for (k = 0; k < ABANDON_CONNS; k++) {
		fds[k] = raw_connect_auth(d);
		for (i = 0; i < ABANDON_CALLS; i++) {
			snprintf(name, sizeof(name), "abandon-%d-%d", k, i);
			send_name_timeout(fds[k], (uint64_t)i + 1, "event.wait",
			    name, -1);
		}
	}
	ck_assert_msg(qd_wait_stat(c, "waiters", ABANDON_CONNS * ABANDON_CALLS,
	    QD_WAIT), "the calls did not all park");
	ck_assert_msg(stat_of(c, "forwards_pending") > 0, "nothing forwarded");
	for (k = 0; k < ABANDON_CONNS; k++)
		close(fds[k]);
	/* Their records go with their connections... */
	ck_assert_msg(qd_wait_stat(c, "waiters", 0, QD_WAIT),
	    "parked calls of closed connections remain");
	ck_assert_msg(qd_wait_stat(c, "forwards_pending", 0, QD_WAIT),
	    "%llu forwarded calls of closed connections are still recorded",
	    (unsigned long long)stat_of(c, "forwards_pending"));
	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);
	qlock_close(c);
	/* ...and a stop does not wait for answers nobody wants. */
	t0 = qd_now();
	st = qd_terminate(d, QD_WAIT);
	took = qd_now() - t0;
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "stop: status 0x%x", st);
	ck_assert_msg(took < 2.0, "SIGTERM took %.2f s", took);
	qd_assert_log_clean(d);
	qd_free(d);
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite	*s = suite_create("it_hostile");
	TCase	*tc;

	tc = tcase_create("forwards");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hostile_abandoned_forwards);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(hostile_suite(), CK_FORK);
}
