/* it_py_semantics.c: integration tests of what the Python package needs
 * from the daemon (issue 10): hash tags, object state reads, cancelling a
 * parked request, against the real qlockd with one and three workers.
 * This file holds the shared helpers, the hash tag and state tests and
 * the suite; it_py_semantics_cancel.c and it_py_semantics_dict.c the rest. */
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
/* Send [0, msgid, method, [name]] on fd. */
void
call_name(int fd, uint64_t msgid, const char *method, const char *name)
{
	struct raw_call	 rc;
	msgpack_packer	*pk = raw_call_begin(&rc, msgid, method, 1);

	msgpack_pack_str_with_body(pk, name, strlen(name));
	raw_call_send(fd, &rc);
}

/* The response to msgid, which must come within QD_WAIT and not be an
 * error; free it with raw_resp_free. */
void
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
void
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
void
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
int
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

/* Get one item of queue name at once; it must be s. */
void
get_str(qlock *c, const char *name, const char *s)
{
	void	*item;
	size_t	 len;

	ck_assert_int_eq(qlock_queue_get(c, name, &item, &len, 0), QLOCK_OK);
	ck_assert_msg(len == strlen(s) && memcmp(item, s, len) == 0,
	    "got '%.*s', not '%s'", (int)len, (char *)item, s);
	free(item);
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

	tc = qd_tcase(s, "w3", qd_fixture_w3, qd_fixture_stop, 30);
	tcase_add_test(tc, test_hashtag_colocates);
	tcase_add_test(tc, test_queue_state);
	tcase_add_test(tc, test_barrier_state);
	pysem_cancel_tests(tc);
	pysem_dict_tests(tc);
	tc = qd_tcase(s, "w1", qd_fixture_w1, qd_fixture_stop, 30);
	tcase_add_test(tc, test_queue_state);
	tcase_add_test(tc, test_barrier_state);
	pysem_cancel_tests(tc);
	pysem_dict_tests(tc);
	tc = qd_tcase(s, "durable", NULL, NULL, 60);
	pysem_durable_tests(tc);
	tcase_add_test(tc, test_misplaced_repartitioned);
	return s;
}

int
main(void)
{
	return suite_run(py_semantics_suite(), CK_FORK);
}
