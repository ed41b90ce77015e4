/* it_py_semantics_dict.c: it_py_semantics' tests of Python's dict
 * semantics and of giveback=False. */
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

/* The tests run with one and three workers. */
void
pysem_dict_tests(TCase *tc)
{
	tcase_add_test(tc, test_dict_python);
	tcase_add_test(tc, test_no_giveback);
}

/* The tests that restart the daemon on a data dir. */
void
pysem_durable_tests(TCase *tc)
{
	tcase_add_test(tc, test_dict_durable);
	tcase_add_test(tc, test_no_giveback_durable);
}
