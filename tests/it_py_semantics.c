/* it_py_semantics.c: integration tests of what the Python package needs
 * from the daemon (issue 10): hash tags, object state reads, cancelling a
 * parked request, against the real qlockd with one and three workers. */
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
#include "qlock.h"
#include "suiterun.h"

static struct qd *D;		/* the daemon of the running test */

static void
setup_w1(void)
{
	D = qd_start(1, NULL);
	qd_setenv(D);
}

static void
setup_w3(void)
{
	D = qd_start(3, NULL);
	qd_setenv(D);
}

static void
teardown(void)
{
	qd_stop(D);
	D = NULL;
}

/* Send [0, msgid, method, [name]] on fd. */
static void
call_name(int fd, uint64_t msgid, const char *method, const char *name)
{
	struct raw_call	 rc;
	msgpack_packer	*pk = raw_call_begin(&rc, msgid, method, 1);

	msgpack_pack_str_with_body(pk, name, strlen(name));
	raw_call_send(fd, &rc);
}

/* The response to msgid, which must come within QD_WAIT and not be an
 * error; free it with raw_resp_free. */
static void
resp_ok(int fd, uint64_t msgid, struct raw_resp *r, const char *what)
{
	int	rc = raw_recv_resp(fd, r, QD_WAIT);

	ck_assert_msg(rc == 0, "%s: no response (%d)", what, rc);
	ck_assert_msg(r->msgid == msgid, "%s: answer to %llu, not %llu", what,
	    (unsigned long long)r->msgid, (unsigned long long)msgid);
	ck_assert_msg(!r->is_error, "%s: %s (%s)", what, r->code, r->msg);
}

/* The value of key in map m: an integer (a bool as 0/1); fails the test if
 * absent. */
static int64_t
map_int(const msgpack_object *m, const char *key)
{
	const msgpack_object	*k, *v;
	uint32_t		 i;

	ck_assert(m->type == MSGPACK_OBJECT_MAP);
	for (i = 0; i < m->via.map.size; i++) {
		k = &m->via.map.ptr[i].key;
		v = &m->via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR ||
		    k->via.str.size != strlen(key) ||
		    memcmp(k->via.str.ptr, key, k->via.str.size) != 0)
			continue;
		if (v->type == MSGPACK_OBJECT_BOOLEAN)
			return v->via.boolean;
		ck_assert_msg(v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER,
		    "%s is not an integer", key);
		return v->via.i64;
	}
	ck_abort_msg("no key %s in the map", key);
	return 0;
}

/* queue.state of name: the four fields must be as given. */
static void
queue_state_is(int fd, const char *name, int64_t size, int64_t maxsize,
    int64_t joinable, int64_t unfinished)
{
	static uint64_t	 msgid = 1000;
	struct raw_resp	 r;

	call_name(fd, ++msgid, "queue.state", name);
	resp_ok(fd, msgid, &r, "queue.state");
	ck_assert_int_eq(map_int(&r.result, "size"), size);
	ck_assert_int_eq(map_int(&r.result, "maxsize"), maxsize);
	ck_assert_int_eq(map_int(&r.result, "joinable"), joinable);
	ck_assert_int_eq(map_int(&r.result, "unfinished"), unfinished);
	raw_resp_free(&r);
}

/* barrier.state of name: the three fields must be as given. */
static void
barrier_state_is(int fd, const char *name, int64_t parties,
    int64_t n_waiting, int64_t broken)
{
	static uint64_t	 msgid = 2000;
	struct raw_resp	 r;

	call_name(fd, ++msgid, "barrier.state", name);
	resp_ok(fd, msgid, &r, "barrier.state");
	ck_assert_int_eq(map_int(&r.result, "parties"), parties);
	ck_assert_int_eq(map_int(&r.result, "n_waiting"), n_waiting);
	ck_assert_int_eq(map_int(&r.result, "broken"), broken);
	raw_resp_free(&r);
}

/* The worker that lists object name; fails the test if not listed. */
static int
object_worker(qlock *c, const char *name)
{
	msgpack_unpacked up;
	msgpack_object	*e, *k, *v;
	void		*buf;
	size_t		 len, nlen = strlen(name);
	uint32_t	 i, j;
	int		 st, worker = -1, found;

	st = qlock_list_raw(c, &buf, &len);
	ck_assert_msg(st == QLOCK_OK, "list: %s", qlock_strerror(st));
	msgpack_unpacked_init(&up);
	ck_assert(msgpack_unpack_next(&up, buf, len, NULL) ==
	    MSGPACK_UNPACK_SUCCESS);
	ck_assert(up.data.type == MSGPACK_OBJECT_ARRAY);
	for (i = 0; i < up.data.via.array.size && worker == -1; i++) {
		e = &up.data.via.array.ptr[i];
		found = 0;
		for (j = 0; j < e->via.map.size; j++) {
			k = &e->via.map.ptr[j].key;
			v = &e->via.map.ptr[j].val;
			if (k->via.str.size == 4 &&
			    memcmp(k->via.str.ptr, "name", 4) == 0 &&
			    v->via.str.size == nlen &&
			    memcmp(v->via.str.ptr, name, nlen) == 0)
				found = 1;
		}
		for (j = 0; found && j < e->via.map.size; j++) {
			k = &e->via.map.ptr[j].key;
			v = &e->via.map.ptr[j].val;
			if (k->via.str.size == 6 &&
			    memcmp(k->via.str.ptr, "worker", 6) == 0)
				worker = (int)v->via.i64;
		}
	}
	msgpack_unpacked_destroy(&up);
	free(buf);
	ck_assert_msg(worker != -1, "'%s' is not listed", name);
	return worker;
}

/* Names with the hash tag "{L}" all live with the lock "{L}"; ten of
 * them on one of three workers by chance is 1 in 3^10. */
START_TEST(test_hashtag_colocates)
{
	static const char *const names[] = {
		"cond{L}", "a{L}", "queue{L}x", "{L}{M}", "zz{L}}",
		"sem{L}", "{L}tail", "x{L", "dict{L}", "e{L}",
	};
	qlock	*c = qd_connect(D);
	int	 w, i, st, other = 0;

	ck_assert_int_eq(qlock_lock_open(c, "{L}", 0), QLOCK_OK);
	w = object_worker(c, "{L}");
	for (i = 0; i < 10; i++) {
		st = qlock_queue_open(c, names[i], 0, 0);
		ck_assert_msg(st == QLOCK_OK, "open %s: %s", names[i],
		    qlock_strerror(st));
		if (strcmp(names[i], "x{L") == 0)
			continue;	/* no '}': the whole name */
		ck_assert_msg(object_worker(c, names[i]) == w,
		    "'%s' is on worker %d, '{L}' on %d", names[i],
		    object_worker(c, names[i]), w);
	}
	/* Without a tag (or with "{}") the whole name picks: not all on w. */
	for (i = 0; i < 20; i++) {
		char	name[32];

		snprintf(name, sizeof(name), "{}L%d", i);
		ck_assert_int_eq(qlock_queue_open(c, name, 0, 0), QLOCK_OK);
		if (object_worker(c, name) != w)
			other++;
	}
	ck_assert_msg(other > 0, "every '{}L<n>' is on worker %d", w);
	qlock_close(c);
}
END_TEST

/* queue.state reads size, maxsize, joinable and unfinished in one request,
 * changing nothing, for queues on any worker. */
START_TEST(test_queue_state)
{
	qlock	*c = qd_connect(D);
	int	 fd = raw_connect_auth(D);
	void	*item;
	size_t	 len;

	queue_state_is(fd, "never-used", 0, 0, 0, 0);
	ck_assert_int_eq(qlock_queue_open(c, "jq", 5, QLOCK_JOINABLE), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "jq", "a", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "jq", "b", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "jq", "c", 1, 0), QLOCK_OK);
	queue_state_is(fd, "jq", 3, 5, 1, 3);
	ck_assert_int_eq(qlock_queue_get(c, "jq", &item, &len, 0), QLOCK_OK);
	free(item);
	queue_state_is(fd, "jq", 2, 5, 1, 3);
	ck_assert_int_eq(qlock_queue_task_done(c, "jq"), QLOCK_OK);
	queue_state_is(fd, "jq", 2, 5, 1, 2);
	queue_state_is(fd, "jq", 2, 5, 1, 2);	/* reading changed nothing */
	ck_assert_int_eq(qlock_queue_put(c, "plain", "x", 1, 0), QLOCK_OK);
	queue_state_is(fd, "plain", 1, 0, 0, 0);
	ck_assert_int_eq(qlock_lock_open(c, "lk", 0), QLOCK_OK);
	call_name(fd, 7, "queue.state", "lk");
	raw_expect(fd, 7, "Type", "queue.state of a lock");
	close(fd);
	qlock_close(c);
}
END_TEST

/* Child: one party of barrier name; exit 0 when it passes. */
static void
child_barrier_wait(const char *name)
{
	qlock	*c = qlock_connect(NULL, NULL, NULL);
	int	 index;

	if (c == NULL)
		_exit(2);
	_exit(qlock_barrier_wait(c, name, QD_WAIT * 2, &index) == QLOCK_OK ?
	    0 : 1);
}

/* barrier.state reads parties, n_waiting and broken without changing
 * them: two of three parties parked, then broken by abort, then reset. */
START_TEST(test_barrier_state)
{
	qlock	*c = qd_connect(D);
	int	 fd = raw_connect_auth(D), index, i;
	pid_t	 kids[2];

	call_name(fd, 1, "barrier.state", "nob");
	raw_expect(fd, 1, "NoEnt", "barrier.state before open");
	ck_assert_int_eq(qlock_barrier_open(c, "b3", 3), QLOCK_OK);
	barrier_state_is(fd, "b3", 3, 0, 0);
	for (i = 0; i < 2; i++)
		if ((kids[i] = qd_fork()) == 0)
			child_barrier_wait("b3");
	ck_assert(qd_wait_stat(c, "waiters", 2, QD_WAIT));
	barrier_state_is(fd, "b3", 3, 2, 0);
	barrier_state_is(fd, "b3", 3, 2, 0);
	ck_assert_int_eq(qlock_barrier_wait(c, "b3", QD_WAIT, &index), QLOCK_OK);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(qd_wait_child(kids[i], QD_WAIT), 0);
	barrier_state_is(fd, "b3", 3, 0, 0);
	ck_assert_int_eq(qlock_barrier_abort(c, "b3"), QLOCK_OK);
	barrier_state_is(fd, "b3", 3, 0, 1);
	ck_assert_int_eq(qlock_barrier_reset(c, "b3"), QLOCK_OK);
	barrier_state_is(fd, "b3", 3, 0, 0);
	close(fd);
	qlock_close(c);
}
END_TEST

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

/* Get one item of queue name at once; it must be s. */
static void
get_str(qlock *c, const char *name, const char *s)
{
	void	*item;
	size_t	 len;

	ck_assert_int_eq(qlock_queue_get(c, name, &item, &len, 0), QLOCK_OK);
	ck_assert_msg(len == strlen(s) && memcmp(item, s, len) == 0,
	    "got '%.*s', not '%s'", (int)len, (char *)item, s);
	free(item);
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

/* Pack one key: 's' a str, 'b' a bin, 'i' an integer (the text as a
 * number). */
static void
pack_key(msgpack_packer *pk, char type, const char *k)
{
	if (type == 'i')
		msgpack_pack_int64(pk, strtoll(k, NULL, 10));
	else if (type == 'b')
		msgpack_pack_bin_with_body(pk, k, strlen(k));
	else
		msgpack_pack_str_with_body(pk, k, strlen(k));
}

/* A dict request: [dict, then nkv params packed by the caller]. */
static msgpack_packer *
dict_call(struct raw_call *rc, uint64_t msgid, const char *method,
    uint32_t nparams)
{
	msgpack_packer	*pk = raw_call_begin(rc, msgid, method, nparams);

	msgpack_pack_str_with_body(pk, "pd", 2);
	return pk;
}

/* The result of msgid must pack to exactly what want holds. */
static void
result_is(int fd, uint64_t msgid, const msgpack_sbuffer *want,
    const char *what)
{
	struct raw_resp	 r;
	msgpack_sbuffer	 got;
	msgpack_packer	 pk;

	resp_ok(fd, msgid, &r, what);
	msgpack_sbuffer_init(&got);
	msgpack_packer_init(&pk, &got, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, r.result);
	ck_assert_msg(got.size == want->size &&
	    memcmp(got.data, want->data, got.size) == 0,
	    "%s: not the expected result", what);
	msgpack_sbuffer_destroy(&got);
	raw_resp_free(&r);
}

/* dict.keys (keys != NULL) or dict.items of "pd" must be the keys spec,
 * e.g. "sb i2 sa": type letter and text, values "v<text>". */
static void
dict_is(int fd, uint64_t msgid, const char *spec, bool items)
{
	struct raw_call	 rc;
	msgpack_sbuffer	 want;
	msgpack_packer	 pk;
	char		 buf[256], *tok, *save, val[64];
	uint32_t	 n = 0;

	strncpy(buf, spec, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save))
		n++;
	msgpack_sbuffer_init(&want);
	msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, n);
	strncpy(buf, spec, sizeof(buf) - 1);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		if (items)
			msgpack_pack_array(&pk, 2);
		pack_key(&pk, tok[0], tok + 1);
		if (items) {
			snprintf(val, sizeof(val), "v%s", tok + 1);
			msgpack_pack_str_with_body(&pk, val, strlen(val));
		}
	}
	(void)dict_call(&rc, msgid, items ? "dict.items" : "dict.keys", 1);
	raw_call_send(fd, &rc);
	result_is(fd, msgid, &want, spec);
	msgpack_sbuffer_destroy(&want);
}

/* dict.set pd[key] = "v<text>" */
static void
dict_put(int fd, uint64_t msgid, char type, const char *k)
{
	struct raw_call	 rc;
	msgpack_packer	*pk = dict_call(&rc, msgid, "dict.set", 3);
	char		 val[64];

	pack_key(pk, type, k);
	snprintf(val, sizeof(val), "v%s", k);
	msgpack_pack_str_with_body(pk, val, strlen(val));
	raw_call_send(fd, &rc);
	raw_expect(fd, msgid, NULL, "dict.set");
}

/* A single-value result of msgid must be the str s. */
static void
result_str(int fd, uint64_t msgid, const char *s, const char *what)
{
	msgpack_sbuffer	 want;
	msgpack_packer	 pk;

	msgpack_sbuffer_init(&want);
	msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
	msgpack_pack_str_with_body(&pk, s, strlen(s));
	result_is(fd, msgid, &want, what);
	msgpack_sbuffer_destroy(&want);
}

/* Python's dict: insertion order (an update keeps its place, a re-set
 * key moves to the end), str, int and bin keys told apart exactly, pop,
 * popitem, setdefault, update (atomic), items, clear. */
START_TEST(test_dict_python)
{
	int		 fd = raw_connect_auth(D);
	struct raw_call	 rc;
	msgpack_packer	*pk;
	uint64_t	 id = 1;

	dict_put(fd, id++, 's', "b");
	dict_put(fd, id++, 'i', "2");
	dict_put(fd, id++, 'b', "2");
	dict_put(fd, id++, 's', "2");
	dict_put(fd, id++, 'i', "-300");
	dict_put(fd, id++, 's', "a");
	dict_is(fd, id++, "sb i2 b2 s2 i-300 sa", false);
	dict_put(fd, id++, 's', "b");		/* update: keeps its place */
	pk = dict_call(&rc, id, "dict.del", 2);
	msgpack_pack_int64(pk, 2);
	raw_call_send(fd, &rc);
	raw_expect(fd, id++, NULL, "del 2");
	dict_put(fd, id++, 'i', "2");		/* back, at the end */
	dict_is(fd, id++, "sb b2 s2 i-300 sa i2", true);
	/* A key not in its shortest form is refused (str8 for "a"). */
	(void)dict_call(&rc, id, "dict.get", 2);
	msgpack_sbuffer_write(&rc.sb, "\xd9\x01" "a", 3);
	raw_call_send(fd, &rc);
	raw_expect(fd, id++, "Proto", "a str8 key of one byte");
	/* popitem: the last inserted. */
	(void)dict_call(&rc, id, "dict.popitem", 1);
	raw_call_send(fd, &rc);
	{
		msgpack_sbuffer	 want;
		msgpack_packer	 wp;

		msgpack_sbuffer_init(&want);
		msgpack_packer_init(&wp, &want, msgpack_sbuffer_write);
		msgpack_pack_array(&wp, 2);
		msgpack_pack_int64(&wp, 2);
		msgpack_pack_str_with_body(&wp, "v2", 2);
		result_is(fd, id++, &want, "popitem");
		msgpack_sbuffer_destroy(&want);
	}
	/* pop: the value; absent with a default: the default; else NoKey. */
	pk = dict_call(&rc, id, "dict.pop", 2);
	msgpack_pack_str_with_body(pk, "a", 1);
	raw_call_send(fd, &rc);
	result_str(fd, id++, "va", "pop a");
	pk = dict_call(&rc, id, "dict.pop", 3);
	msgpack_pack_str_with_body(pk, "a", 1);
	msgpack_pack_str_with_body(pk, "dflt", 4);
	raw_call_send(fd, &rc);
	result_str(fd, id++, "dflt", "pop a with a default");
	pk = dict_call(&rc, id, "dict.pop", 2);
	msgpack_pack_str_with_body(pk, "a", 1);
	raw_call_send(fd, &rc);
	raw_expect(fd, id++, "NoKey", "pop a again");
	/* setdefault: the present value; else the default, now set. */
	pk = dict_call(&rc, id, "dict.setdefault", 3);
	msgpack_pack_str_with_body(pk, "b", 1);
	msgpack_pack_str_with_body(pk, "other", 5);
	raw_call_send(fd, &rc);
	result_str(fd, id++, "vb", "setdefault b");
	pk = dict_call(&rc, id, "dict.setdefault", 3);
	msgpack_pack_str_with_body(pk, "c", 1);
	msgpack_pack_str_with_body(pk, "vc", 2);
	raw_call_send(fd, &rc);
	result_str(fd, id++, "vc", "setdefault c");
	dict_is(fd, id++, "sb b2 s2 i-300 sc", true);
	/* update with a map, then with pairs; a bad pair changes nothing. */
	pk = dict_call(&rc, id, "dict.update", 2);
	msgpack_pack_map(pk, 2);
	msgpack_pack_str_with_body(pk, "d", 1);
	msgpack_pack_str_with_body(pk, "vd", 2);
	msgpack_pack_str_with_body(pk, "b", 1);
	msgpack_pack_str_with_body(pk, "vb", 2);
	raw_call_send(fd, &rc);
	raw_expect(fd, id++, NULL, "update with a map");
	pk = dict_call(&rc, id, "dict.update", 2);
	msgpack_pack_array(pk, 2);
	msgpack_pack_array(pk, 2);
	msgpack_pack_int64(pk, 7);
	msgpack_pack_str_with_body(pk, "v7", 2);
	msgpack_pack_array(pk, 2);
	msgpack_pack_double(pk, 1.5);		/* not a key */
	msgpack_pack_nil(pk);
	raw_call_send(fd, &rc);
	raw_expect(fd, id++, "Proto", "update with a float key");
	pk = dict_call(&rc, id, "dict.update", 2);
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 2);
	msgpack_pack_int64(pk, 7);
	msgpack_pack_str_with_body(pk, "v7", 2);
	raw_call_send(fd, &rc);
	raw_expect(fd, id++, NULL, "update with pairs");
	dict_is(fd, id++, "sb b2 s2 i-300 sc sd i7", true);
	(void)dict_call(&rc, id, "dict.clear", 1);
	raw_call_send(fd, &rc);
	raw_expect(fd, id++, NULL, "clear");
	dict_is(fd, id++, "", true);
	(void)dict_call(&rc, id, "dict.popitem", 1);
	raw_call_send(fd, &rc);
	raw_expect(fd, id++, "NoKey", "popitem of an empty dict");
	close(fd);
}
END_TEST

/* The order, key types, pops and a clear come back from the log after a
 * restart, and from a snapshot after re-partitioning to two workers. */
START_TEST(test_dict_durable)
{
	struct scratch	 s;
	struct qd	*d;
	struct raw_call	 rc;
	msgpack_packer	*pk;
	int		 fd;

	scratch_new(&s);
	d = dstart(&s, 3, "always", NULL);
	fd = raw_connect_auth(d);
	dict_put(fd, 1, 's', "x");		/* cleared below */
	(void)dict_call(&rc, 2, "dict.clear", 1);
	raw_call_send(fd, &rc);
	raw_expect(fd, 2, NULL, "clear");
	dict_put(fd, 3, 'i', "9");
	dict_put(fd, 4, 'b', "9");
	dict_put(fd, 5, 's', "9");
	dict_put(fd, 6, 's', "a");
	dict_put(fd, 7, 'i', "9");		/* update: keeps its place */
	pk = dict_call(&rc, 8, "dict.pop", 2);
	msgpack_pack_bin_with_body(pk, "9", 1);
	raw_call_send(fd, &rc);
	raw_expect(fd, 8, NULL, "pop bin 9");
	dict_put(fd, 9, 'b', "9");		/* back, at the end */
	dict_is(fd, 10, "i9 s9 sa b9", true);
	close(fd);
	qd_stop(d);
	d = dstart(&s, 3, "always", NULL);
	fd = raw_connect_auth(d);
	dict_is(fd, 11, "i9 s9 sa b9", true);
	close(fd);
	qd_stop(d);
	d = dstart(&s, 2, "always", NULL);
	fd = raw_connect_auth(d);
	dict_is(fd, 12, "i9 s9 sa b9", true);
	close(fd);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* Connection a holds the plain (given back) lock "sync{k}" and closes;
 * wait until c can take it: a's session has ended on the worker that
 * owns every "{k}" name. */
static void
end_session(qlock *c, qlock *a)
{
	double	end = qd_now() + QD_WAIT;
	int	st;

	ck_assert_int_eq(qlock_lock_acquire(a, "sync{k}", 0), QLOCK_OK);
	qlock_close(a);
	while ((st = qlock_lock_acquire(c, "sync{k}", 0)) == QLOCK_TIMEOUT &&
	    qd_now() < end)
		qd_nap();
	ck_assert_int_eq(st, QLOCK_OK);
	ck_assert_int_eq(qlock_lock_release(c, "sync{k}"), QLOCK_OK);
}

/* giveback=False, as multiprocessing: a Lock, a permit and a taken item's
 * task that a connection had outlive it; any connection releases the Lock;
 * the settings are kept across a re-open and refused if they differ. */
START_TEST(test_no_giveback)
{
	qlock	*c = qd_connect(D), *a = qd_connect(D);
	int	 fl = QLOCK_NO_GIVEBACK, fd;
	long	 v;
	void	*item;
	size_t	 len;

	ck_assert_int_eq(qlock_lock_open(c, "l{k}", fl), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_open(c, "l{k}", fl), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_open(c, "l{k}", 0), QLOCK_EINVAL);
	ck_assert_int_eq(qlock_lock_open(c, "r{k}", fl | QLOCK_RECURSIVE),
	    QLOCK_EINVAL);
	ck_assert_int_eq(qlock_sem_open(c, "s{k}", 2, fl | QLOCK_BOUNDED),
	    QLOCK_OK);
	ck_assert_int_eq(qlock_sem_open(c, "s{k}", 2, QLOCK_BOUNDED),
	    QLOCK_EINVAL);
	ck_assert_int_eq(qlock_queue_open(c, "q{k}", 0, fl | QLOCK_JOINABLE),
	    QLOCK_OK);
	ck_assert_int_eq(qlock_queue_open(c, "q{k}", 0, QLOCK_JOINABLE),
	    QLOCK_EINVAL);
	ck_assert_int_eq(qlock_queue_put(c, "q{k}", "1", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "q{k}", "2", 1, 0), QLOCK_OK);
	/* a takes the lock, a permit and an item, and goes away. */
	ck_assert_int_eq(qlock_lock_acquire(a, "l{k}", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_acquire(a, "s{k}", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_get(a, "q{k}", &item, &len, 0), QLOCK_OK);
	free(item);
	end_session(c, a);
	ck_assert_int_eq(qlock_lock_acquire(c, "l{k}", 0), QLOCK_TIMEOUT);
	ck_assert_int_eq(qlock_sem_value(c, "s{k}", &v), QLOCK_OK);
	ck_assert_int_eq(v, 1);
	fd = raw_connect_auth(D);
	queue_state_is(fd, "q{k}", 1, 0, 1, 2);		/* "1" is gone */
	/* Anyone releases the Lock and the permit, and finishes the task. */
	ck_assert_int_eq(qlock_lock_release(c, "l{k}"), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_acquire(c, "l{k}", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_release(c, "l{k}"), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_release(c, "l{k}"), QLOCK_ENOTOWNER);
	ck_assert_int_eq(qlock_sem_release(c, "s{k}"), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_release(c, "s{k}"), QLOCK_EVALUE);
	ck_assert_int_eq(qlock_queue_task_done(c, "q{k}"), QLOCK_OK);
	queue_state_is(fd, "q{k}", 1, 0, 1, 1);
	get_str(c, "q{k}", "2");
	/* A lock another connection holds, released by c while it lives. */
	a = qd_connect(D);
	ck_assert_int_eq(qlock_lock_acquire(a, "l{k}", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_release(c, "l{k}"), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_acquire(c, "l{k}", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_lock_release(a, "l{k}"), QLOCK_OK);
	qlock_close(a);
	close(fd);
	qlock_close(c);
}
END_TEST

/* The giveback=False setting and what a gone session took stay across a
 * restart: the taken item does not come back, its task stays unfinished,
 * the permit stays taken. */
START_TEST(test_no_giveback_durable)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c, *a;
	int		 fl = QLOCK_NO_GIVEBACK, fd;
	long		 v;
	void		*item;
	size_t		 len;

	scratch_new(&s);
	d = dstart(&s, 3, "always", NULL);
	c = qd_connect(d);
	a = qd_connect(d);
	ck_assert_int_eq(qlock_sem_open(c, "s{k}", 2, fl), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_open(c, "q{k}", 0, fl | QLOCK_JOINABLE),
	    QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "q{k}", "1", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "q{k}", "2", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_acquire(a, "s{k}", 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_get(a, "q{k}", &item, &len, 0), QLOCK_OK);
	free(item);
	qlock_close(c);
	qd_stop(d);		/* a is still connected: nothing handed back */
	qlock_close(a);
	d = dstart(&s, 3, "always", NULL);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_sem_open(c, "s{k}", 2, fl), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_open(c, "s{k}", 2, 0), QLOCK_EINVAL);
	ck_assert_int_eq(qlock_queue_open(c, "q{k}", 0, QLOCK_JOINABLE),
	    QLOCK_EINVAL);
	ck_assert_int_eq(qlock_sem_value(c, "s{k}", &v), QLOCK_OK);
	ck_assert_int_eq(v, 1);
	fd = raw_connect_auth(d);
	queue_state_is(fd, "q{k}", 1, 0, 1, 2);
	close(fd);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
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

/* Objects found in another shard's log than their name's (as a data dir
 * written before hash tags holds for tagged names) are moved to their
 * shard at start: here every shard's log is rotated to the next worker. */
START_TEST(test_misplaced_repartitioned)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	glob_t		 g;
	char		 name[32], tmp[512];
	long		 n;
	int		 i;

	scratch_new(&s);
	d = dstart(&s, 3, "always", NULL);
	c = qd_connect(d);
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "mv{t%d}", i);
		ck_assert_int_eq(qlock_queue_put(c, name, "x", 1, 0), QLOCK_OK);
	}
	qlock_close(c);
	qd_stop(d);
	ck_assert_int_eq(glob(spath(&s, "data/gen-*/shard-*.log"), 0, NULL,
	    &g), 0);
	ck_assert_uint_eq(g.gl_pathc, 3);
	snprintf(tmp, sizeof(tmp), "%s.tmp", g.gl_pathv[0]);
	ck_assert_int_eq(rename(g.gl_pathv[0], tmp), 0);
	ck_assert_int_eq(rename(g.gl_pathv[2], g.gl_pathv[0]), 0);
	ck_assert_int_eq(rename(g.gl_pathv[1], g.gl_pathv[2]), 0);
	ck_assert_int_eq(rename(tmp, g.gl_pathv[1]), 0);
	globfree(&g);
	d = dstart(&s, 3, "always", NULL);
	c = qd_connect(d);
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "mv{t%d}", i);
		ck_assert_int_eq(qlock_queue_size(c, name, &n), QLOCK_OK);
		ck_assert_msg(n == 1, "%s: %ld items after the restart", name,
		    n);
	}
	qlock_close(c);
	ck_assert(qd_log_wait(d, "on another shard now", QD_WAIT));
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

static Suite *
py_semantics_suite(void)
{
	Suite	*s = suite_create("py_semantics");
	TCase	*tc;

	tc = qd_tcase(s, "w3", setup_w3, teardown, 30);
	tcase_add_test(tc, test_hashtag_colocates);
	tcase_add_test(tc, test_queue_state);
	tcase_add_test(tc, test_barrier_state);
	tcase_add_test(tc, test_cancel_parked);
	tcase_add_test(tc, test_cancel_too_late);
	tcase_add_test(tc, test_cancel_cond_barrier);
	tcase_add_test(tc, test_cond_over_lock);
	tcase_add_test(tc, test_cond_over_rlock);
	tcase_add_test(tc, test_dict_python);
	tcase_add_test(tc, test_no_giveback);
	tc = qd_tcase(s, "w1", setup_w1, teardown, 30);
	tcase_add_test(tc, test_queue_state);
	tcase_add_test(tc, test_barrier_state);
	tcase_add_test(tc, test_cancel_parked);
	tcase_add_test(tc, test_cancel_too_late);
	tcase_add_test(tc, test_cancel_cond_barrier);
	tcase_add_test(tc, test_cond_over_lock);
	tcase_add_test(tc, test_cond_over_rlock);
	tcase_add_test(tc, test_dict_python);
	tcase_add_test(tc, test_no_giveback);
	tc = qd_tcase(s, "durable", NULL, NULL, 60);
	tcase_add_test(tc, test_dict_durable);
	tcase_add_test(tc, test_no_giveback_durable);
	tcase_add_test(tc, test_misplaced_repartitioned);
	return s;
}

int
main(void)
{
	return suite_run(py_semantics_suite(), CK_FORK);
}
