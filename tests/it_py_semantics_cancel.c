/* it_py_semantics_cancel.c: it_py_semantics' tests of cancel: of a parked
 * request, too late, of a cond.wait and a barrier party; and conditions
 * over a lock. */
#include <sys/types.h>

#include <glob.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <msgpack.h>

#include "durable.h"
#include "harness.h"
#include "it_py_semantics.h"
#include "qlock.h"
#include "suiterun.h"
/* Send [0, msgid, method, [name, timeout]] on fd. */
static void
call_wait(int fd, uint64_t msgid, const char *method, const char *name,
    double timeout)
{
	struct raw_call	 rc;
	msgpack_packer	*pk = raw_call_begin(&rc, msgid, method, 2);

	msgpack_pack_str_with_body(pk, name, strlen(name));
	msgpack_pack_double(pk, timeout);
	raw_call_send(fd, &rc);
}

/* cancel [name, msgid] as request id; the answer must be want. */
static void
cancel_expect(int fd, uint64_t id, const char *name, uint64_t msgid,
    bool want)
{
	struct raw_call	 rc;
	struct raw_resp	 r;
	msgpack_packer	*pk = raw_call_begin(&rc, id, "cancel", 2);

	msgpack_pack_str_with_body(pk, name, strlen(name));
	msgpack_pack_uint64(pk, msgid);
	raw_call_send(fd, &rc);
	resp_ok(fd, id, &r, "cancel");
	ck_assert_msg(r.result.type == MSGPACK_OBJECT_BOOLEAN &&
	    r.result.via.boolean == want, "cancel %s/%llu: expected %s", name,
	    (unsigned long long)msgid, want ? "true" : "false");
	raw_resp_free(&r);
}

/* cancel [name, msgid] as request id, for a parked request: msgid is
 * answered Cancelled, then the cancel true. */
static void
cancel_parked(int fd, uint64_t id, const char *name, uint64_t msgid)
{
	struct raw_call	 rc;
	struct raw_resp	 r;
	msgpack_packer	*pk = raw_call_begin(&rc, id, "cancel", 2);

	msgpack_pack_str_with_body(pk, name, strlen(name));
	msgpack_pack_uint64(pk, msgid);
	raw_call_send(fd, &rc);
	raw_expect(fd, msgid, "Cancelled", "the cancelled request");
	resp_ok(fd, id, &r, "cancel");
	ck_assert_msg(r.result.type == MSGPACK_OBJECT_BOOLEAN &&
	    r.result.via.boolean, "cancel %s/%llu: not true", name,
	    (unsigned long long)msgid);
	raw_resp_free(&r);
}

/* Items in queue name. */
static long
qsize(qlock *c, const char *name)
{
	long	n = -1;

	ck_assert_int_eq(qlock_queue_size(c, name, &n), QLOCK_OK);
	return n;
}

/* A parked get, put, acquire and wait, on queues on every worker, are
 * cancelled by msgid: each is answered Cancelled before the cancel, the
 * connection stays, and nothing is taken: an item put afterwards goes to
 * the next getter, the lock to the next acquirer. */
START_TEST(test_cancel_parked)
{
	qlock		*c = qd_connect(D);
	int		 fd = raw_connect_auth(D), i;
	char		 name[32];
	void		*item;
	size_t		 len;
	uint64_t	 token;

	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "cq%d", i);
		call_wait(fd, 100 + i, "queue.get", name, -1);
		ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
		cancel_expect(fd, 200 + i, name, 999, false);	/* no such id */
		/* The Cancelled answer comes first, then the cancel's. */
		cancel_parked(fd, 300 + i, name, 100 + i);
		ck_assert(qd_wait_stat(c, "waiters", 0, QD_WAIT));
		/* The item goes to the next get, not the cancelled one. */
		ck_assert_int_eq(qlock_queue_put(c, name, "it", 2, 0), QLOCK_OK);
		ck_assert_int_eq(qlock_queue_get(c, name, &item, &len, 0),
		    QLOCK_OK);
		free(item);
		ck_assert(raw_ping(fd, 400 + i));
	}
	/* A lock acquire parked behind c's hold. */
	ck_assert_int_eq(qlock_lock_acquire(c, "clk", 0), QLOCK_OK);
	call_wait(fd, 500, "lock.acquire", "clk", -1);
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	cancel_expect(fd, 501, "clk", 499, false);	/* no such msgid */
	cancel_parked(fd, 502, "clk", 500);
	ck_assert_int_eq(qlock_lock_release(c, "clk"), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_acquire_token(c, "clk", 0, &token),
	    QLOCK_OK);
	ck_assert_int_eq(qlock_lock_release(c, "clk"), QLOCK_OK);
	/* A put parked on a full queue puts nothing once cancelled. */
	ck_assert_int_eq(qlock_queue_open(c, "cfull", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "cfull", "a", 1, 0), QLOCK_OK);
	{
		struct raw_call	 rc;
		msgpack_packer	*pk = raw_call_begin(&rc, 600, "queue.put", 3);

		msgpack_pack_str_with_body(pk, "cfull", 5);
		msgpack_pack_bin_with_body(pk, "b", 1);
		msgpack_pack_double(pk, -1);
		raw_call_send(fd, &rc);
	}
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	cancel_parked(fd, 601, "cfull", 600);
	ck_assert_int_eq(qsize(c, "cfull"), 1);
	close(fd);
	qlock_close(c);
}
END_TEST

/* A request already answered cannot be cancelled: the cancel says false
 * and the original answer (the item) stands. */
START_TEST(test_cancel_too_late)
{
	qlock		*c = qd_connect(D);
	int		 fd = raw_connect_auth(D);

	ck_assert_int_eq(qlock_queue_put(c, "late", "x", 1, 0), QLOCK_OK);
	call_wait(fd, 10, "queue.get", "late", -1);
	raw_expect(fd, 10, NULL, "the get");
	cancel_expect(fd, 11, "late", 10, false);
	ck_assert_int_eq(qsize(c, "late"), 0);
	/* A get and its cancel pipelined behind an item that is there. */
	ck_assert_int_eq(qlock_queue_put(c, "late", "y", 1, 0), QLOCK_OK);
	call_wait(fd, 12, "queue.get", "late", -1);
	{
		struct raw_call	 rc;
		msgpack_packer	*pk = raw_call_begin(&rc, 13, "cancel", 2);

		msgpack_pack_str_with_body(pk, "late", 4);
		msgpack_pack_uint64(pk, 12);
		raw_call_send(fd, &rc);
	}
	raw_expect(fd, 12, NULL, "the get before its cancel");
	raw_expect(fd, 13, NULL, "the late cancel");
	ck_assert_int_eq(qsize(c, "late"), 0);
	close(fd);
	qlock_close(c);
}
END_TEST

/* Send [0, msgid, method, [name, x, lock]]: x a number (timeout or n). */
static void
call_cond(int fd, uint64_t msgid, const char *method, const char *name,
    double x, const char *lock)
{
	struct raw_call	 rc;
	msgpack_packer	*pk = raw_call_begin(&rc, msgid, method, 3);

	msgpack_pack_str_with_body(pk, name, strlen(name));
	if (strcmp(method, "cond.notify") == 0)
		msgpack_pack_int64(pk, (int64_t)x);
	else
		msgpack_pack_double(pk, x);
	msgpack_pack_str_with_body(pk, lock, strlen(lock));
	raw_call_send(fd, &rc);
}

/* Send [0, msgid, method, [name, timeout]] and expect code (NULL: ok). */
static void
wait_expect(int fd, uint64_t msgid, const char *method, const char *name,
    double timeout, const char *code)
{
	call_wait(fd, msgid, method, name, timeout);
	raw_expect(fd, msgid, code, method);
}

/* A condition over an existing Lock (Python's Condition(lock)): "cond{L}"
 * lives with "L"; cond.wait over L releases L itself (another connection
 * takes it), notify wakes the waiter, which answers holding L again (a
 * plain lock.release then works); a timeout relocks too. */
START_TEST(test_cond_over_lock)
{
	qlock	*c = qd_connect(D);
	int	 a = raw_connect_auth(D), b = raw_connect_auth(D);

	ck_assert_int_eq(qlock_lock_open(c, "L", 0), QLOCK_OK);
	/* Not holding L: NotOwner. */
	call_cond(a, 1, "cond.wait", "cond{L}", -1, "L");
	raw_expect(a, 1, "NotOwner", "cond.wait without L");
	wait_expect(a, 2, "lock.acquire", "L", -1, NULL);
	call_cond(a, 3, "cond.wait", "cond{L}", -1, "L");
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	/* The wait released L: b takes it, notifies, releases. */
	wait_expect(b, 10, "lock.acquire", "L", 0, NULL);
	call_cond(b, 11, "cond.notify", "cond{L}", 1, "L");
	raw_expect(b, 11, NULL, "cond.notify over L");
	call_name(b, 12, "lock.release", "L");
	raw_expect(b, 12, NULL, "b releases L");
	raw_expect(a, 3, NULL, "the notified cond.wait");
	/* a holds L again: b cannot take it; a releases it as a Lock. */
	wait_expect(b, 13, "lock.acquire", "L", 0, "Timeout");
	/* A timed-out wait over L also answers holding L. */
	call_cond(a, 4, "cond.wait", "cond{L}", 0.1, "L");
	raw_expect(a, 4, "Timeout", "cond.wait over L timing out");
	wait_expect(b, 14, "lock.acquire", "L", 0, "Timeout");
	call_name(a, 5, "lock.release", "L");
	raw_expect(a, 5, NULL, "a releases L");
	wait_expect(b, 15, "lock.acquire", "L", 0, NULL);
	call_name(b, 16, "lock.release", "L");
	raw_expect(b, 16, NULL, "b releases L");
	/* cond.acquire over L is L's acquire. */
	call_cond(a, 6, "cond.acquire", "cond{L}", 0, "L");
	raw_expect(a, 6, NULL, "cond.acquire over L");
	wait_expect(b, 17, "lock.acquire", "L", 0, "Timeout");
	/* A waiter that disconnects gives L back. */
	call_cond(a, 7, "cond.wait", "cond{L}", -1, "L");
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	close(a);
	ck_assert(qd_wait_stat(c, "waiters", 0, QD_WAIT));
	wait_expect(b, 18, "lock.acquire", "L", 0, NULL);
	close(b);
	qlock_close(c);
}
END_TEST

/* Over an RLock held twice: the wait releases every level and restores
 * them; a lock on another worker is refused with Inval. */
START_TEST(test_cond_over_rlock)
{
	qlock	*c = qd_connect(D);
	int	 a = raw_connect_auth(D), b = raw_connect_auth(D), i;
	char	 name[32];
	int	 wr;

	ck_assert_int_eq(qlock_lock_open(c, "R", QLOCK_RECURSIVE), QLOCK_OK);
	wait_expect(a, 1, "lock.acquire", "R", -1, NULL);
	wait_expect(a, 2, "lock.acquire", "R", -1, NULL);
	call_cond(a, 3, "cond.wait", "c{R}", -1, "R");
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	wait_expect(b, 10, "lock.acquire", "R", 0, NULL);
	call_cond(b, 11, "cond.notify", "c{R}", 1, "R");
	raw_expect(b, 11, NULL, "notify over R");
	call_name(b, 12, "lock.release", "R");
	raw_expect(b, 12, NULL, "b releases R");
	raw_expect(a, 3, NULL, "the notified wait over R");
	call_name(a, 4, "lock.release", "R");
	raw_expect(a, 4, NULL, "first release");
	wait_expect(b, 13, "lock.acquire", "R", 0, "Timeout");
	call_name(a, 5, "lock.release", "R");
	raw_expect(a, 5, NULL, "second release");
	call_name(a, 6, "lock.release", "R");
	raw_expect(a, 6, "NotOwner", "a third release");
	/* A condition named without R's tag, on another worker: Inval. */
	if (D->workers > 1) {
		wr = object_worker(c, "R");
		for (i = 0; i < 40; i++) {
			snprintf(name, sizeof(name), "other%d", i);
			ck_assert_int_eq(qlock_queue_open(c, name, 0, 0),
			    QLOCK_OK);
			if (object_worker(c, name) != wr)
				break;
			ck_assert_int_eq(qlock_delete(c, name), QLOCK_OK);
		}
		ck_assert_msg(i < 40, "every name is on R's worker");
		ck_assert_int_eq(qlock_delete(c, name), QLOCK_OK);
		wait_expect(a, 7, "lock.acquire", "R", 0, NULL);
		call_cond(a, 8, "cond.wait", name, 1, "R");
		raw_expect(a, 8, "Inval", "a cond on another worker than R");
	}
	close(a);
	close(b);
	qlock_close(c);
}
END_TEST


/* Cancelling a cond.wait: answered Cancelled once it holds the lock again
 * (at once if free, else after the holder releases); one already notified
 * is too late and answers as usual. A cancelled barrier party breaks it. */
START_TEST(test_cancel_cond_barrier)
{
	qlock	*c = qd_connect(D);
	int	 a = raw_connect_auth(D), b = raw_connect_auth(D);

	wait_expect(a, 1, "cond.acquire", "cv", -1, NULL);
	call_wait(a, 2, "cond.wait", "cv", -1);
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	cancel_parked(a, 3, "cv", 2);		/* the lock was free */
	wait_expect(b, 20, "cond.acquire", "cv", 0, "Timeout");
	/* Lock held by b when a cancels: the answer waits for it. */
	call_wait(a, 4, "cond.wait", "cv", -1);
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	wait_expect(b, 21, "cond.acquire", "cv", 0, NULL);
	cancel_expect(a, 5, "cv", 4, true);
	call_name(b, 22, "cond.release", "cv");
	raw_expect(b, 22, NULL, "b releases cv");
	raw_expect(a, 4, "Cancelled", "the cancelled wait, relocked");
	/* Notified, then cancelled: too late, it answers OK. */
	call_wait(a, 6, "cond.wait", "cv", -1);
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	wait_expect(b, 23, "cond.acquire", "cv", 0, NULL);
	{
		struct raw_call	 rc;
		msgpack_packer	*pk = raw_call_begin(&rc, 24, "cond.notify", 2);

		msgpack_pack_str_with_body(pk, "cv", 2);
		msgpack_pack_int64(pk, 1);
		raw_call_send(b, &rc);
		raw_expect(b, 24, NULL, "notify");
	}
	cancel_expect(a, 7, "cv", 6, false);
	call_name(b, 25, "cond.release", "cv");
	raw_expect(b, 25, NULL, "b releases cv again");
	raw_expect(a, 6, NULL, "the notified wait");
	call_name(a, 8, "cond.release", "cv");
	raw_expect(a, 8, NULL, "a releases cv");
	/* A barrier party that cancels breaks the barrier. */
	ck_assert_int_eq(qlock_barrier_open(c, "cb", 2), QLOCK_OK);
	call_wait(a, 9, "barrier.wait", "cb", -1);
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	cancel_parked(a, 10, "cb", 9);
	barrier_state_is(b, "cb", 2, 0, 1);
	close(a);
	close(b);
	qlock_close(c);
}
END_TEST

/* The cancel and condition tests, in the order they run. */
void
pysem_cancel_tests(TCase *tc)
{
	tcase_add_test(tc, test_cancel_parked);
	tcase_add_test(tc, test_cancel_too_late);
	tcase_add_test(tc, test_cancel_cond_barrier);
	tcase_add_test(tc, test_cond_over_lock);
	tcase_add_test(tc, test_cond_over_rlock);
}
