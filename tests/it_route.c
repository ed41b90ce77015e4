/* it_route.c: direct routing against the real qlockd: the topology
 * request, each worker's own address (TCP and unix, kept across a
 * worker's restart, --worker-ports auto/N/off), and libqlock sending each
 * named request to its owner so that nothing is forwarded, with what a
 * dead client held given back as before. */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "qlock.h"
#include "shard.h"
#include "suiterun.h"

#define NAMES	60		/* names used: every shard gets several */

struct topo {
	int	shards, self;
	char	addr[8][2][128];	/* [shard][k] */
	int	naddr[8];
};

/* topology on fd, decoded. */
static void
topo_read(int fd, struct topo *t)
{
	struct raw_call		 rc;
	struct raw_resp		 r;
	msgpack_object_kv	*kv;
	uint32_t		 i, j, k;

	memset(t, 0, sizeof(*t));
	raw_call_begin(&rc, 7, "topology", 0);
	raw_call_send(fd, &rc);
	ck_assert_int_eq(raw_recv_resp(fd, &r, QD_WAIT), 0);
	ck_assert_msg(!r.is_error, "topology: %s %s", r.code, r.msg);
	ck_assert_int_eq(r.result.type, MSGPACK_OBJECT_MAP);
	for (i = 0; i < r.result.via.map.size; i++) {
		kv = &r.result.via.map.ptr[i];
		if (strncmp(kv->key.via.str.ptr, "shards", 6) == 0 &&
		    kv->key.via.str.size == 6)
			t->shards = (int)kv->val.via.u64;
		else if (kv->key.via.str.size == 5 &&
		    strncmp(kv->key.via.str.ptr, "shard", 5) == 0)
			t->self = (int)kv->val.via.u64;
		else if (kv->key.via.str.size == 4 &&
		    strncmp(kv->key.via.str.ptr, "hash", 4) == 0)
			ck_assert(kv->val.via.str.size == 8 &&
			    memcmp(kv->val.via.str.ptr, "fnv1a-64", 8) == 0);
		else if (kv->key.via.str.size == 5 &&
		    strncmp(kv->key.via.str.ptr, "addrs", 5) == 0) {
			ck_assert_int_le(kv->val.via.array.size, 8);
			for (j = 0; j < kv->val.via.array.size; j++) {
				msgpack_object_array *a =
				    &kv->val.via.array.ptr[j].via.array;

				t->naddr[j] = (int)a->size;
				for (k = 0; k < a->size && k < 2; k++)
					snprintf(t->addr[j][k], 128, "%.*s",
					    (int)a->ptr[k].via.str.size,
					    a->ptr[k].via.str.ptr);
			}
		}
	}
	raw_resp_free(&r);
}

/* d as seen at another of its addresses (a worker's own). */
static struct qd
qd_at(const struct qd *d, const char *address)
{
	struct qd	alt = *d;

	snprintf(alt.address, sizeof(alt.address), "%s", address);
	if (strncmp(address, "unix:", 5) == 0) {
		alt.opts.listen = QD_UNIX;
		snprintf(alt.sockpath, sizeof(alt.sockpath), "%s", address + 5);
	} else {
		alt.opts.listen = QD_TCP4;
		alt.port = atoi(strrchr(address, ':') + 1);
	}
	return alt;
}

/* Authenticated raw connection to address (not the daemon's first). */
static int
raw_to(const struct qd *d, const char *address)
{
	struct qd	alt = qd_at(d, address);

	return raw_connect_auth(&alt);
}

static uint64_t
stat_of(qlock *c, const char *key)
{
	uint64_t	v = 0;

	ck_assert_int_eq(qd_stat(c, key, &v), 0);
	return v;
}

/* Each shard's own address reaches that shard's worker; TCP and unix. */
START_TEST(test_route_topology)
{
	struct qd	*d = qd_start(3, "--listen", "unix:/tmp/qlockd-route-t.sock",
	    NULL);
	struct topo	 t, o;
	int		 fd, i;

	fd = raw_connect_auth(d);
	topo_read(fd, &t);
	close(fd);
	ck_assert_int_eq(t.shards, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(t.naddr[i], 2);
		ck_assert_msg(strncmp(t.addr[i][0], "127.0.0.1:", 10) == 0,
		    "shard %d: %s", i, t.addr[i][0]);
		ck_assert_msg(strcmp(t.addr[i][0], d->address) != 0,
		    "shard %d's own address is the shared one", i);
		ck_assert_str_eq(t.addr[i][1], i == 0 ?
		    "unix:/tmp/qlockd-route-t.sock.0" : i == 1 ?
		    "unix:/tmp/qlockd-route-t.sock.1" :
		    "unix:/tmp/qlockd-route-t.sock.2");
		/* Over either address, the answering worker is shard i. */
		fd = raw_to(d, t.addr[i][0]);
		ck_assert_int_ge(fd, 0);
		topo_read(fd, &o);
		ck_assert_int_eq(o.self, i);
		close(fd);
		fd = raw_to(d, t.addr[i][1]);
		ck_assert_int_ge(fd, 0);
		topo_read(fd, &o);
		ck_assert_int_eq(o.self, i);
		close(fd);
	}
	qd_stop(d);
}
END_TEST

/* Named requests go to their owner: nothing is forwarded; with
 * QLOCK_ROUTE=0 the same work is (so the check can fail). */
START_TEST(test_route_nothing_forwarded)
{
	struct qd	*d = qd_start(3, NULL);
	qlock		*c, *s;
	char		 name[32], item[32];
	void		*got;
	size_t		 len;
	uint64_t	 before;
	int		 i, pass;

	s = qd_connect(d);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			setenv("QLOCK_ROUTE", "0", 1);
		c = qd_connect(d);
		unsetenv("QLOCK_ROUTE");
		before = stat_of(s, "forwarded");
		for (i = 0; i < NAMES; i++) {
			snprintf(name, sizeof(name), "rq%d.%d", pass, i);
			snprintf(item, sizeof(item), "item %d", i);
			ck_assert_int_eq(qlock_queue_open(c, name, 0, 0), 0);
			ck_assert_int_eq(qlock_queue_put(c, name, item,
			    strlen(item), 0), 0);
			ck_assert_int_eq(qlock_queue_get(c, name, &got,
			    &len, 0), 0);
			ck_assert(len == strlen(item) &&
			    memcmp(got, item, len) == 0);
			free(got);
		}
		if (pass == 0)
			ck_assert_msg(stat_of(s, "forwarded") == before,
			    "routing client: %llu requests forwarded",
			    (unsigned long long)(stat_of(s, "forwarded") -
			    before));
		else
			ck_assert_uint_ge(stat_of(s, "forwarded") - before,
			    NAMES);
		qlock_close(c);
	}
	qlock_close(s);
	qd_stop(d);
}
END_TEST

/* A name on another shard than the first connection's: find one. */
static void
name_off_shard(qlock *c, const struct qd *d, char *name, size_t len)
{
	struct topo	t;
	int		fd = raw_connect_auth(d), i;

	(void)c;
	topo_read(fd, &t);
	close(fd);
	for (i = 0; i < 1000; i++) {
		snprintf(name, len, "held%d", i);
		if (shard_of(name, strlen(name), 3) != (unsigned)t.self)
			return;
	}
	ck_abort_msg("no name off shard %d", t.self);
}

/* A child that holds a lock through its connection to the owner and is
 * killed gives it back at once, as without routing. */
START_TEST(test_route_giveback)
{
	struct qd	*d = qd_start(3, NULL);
	qlock		*c = qd_connect(d), *k;
	char		 name[32];
	int		 p[2], status;
	double		 t0;
	pid_t		 pid;
	char		 b;

	name_off_shard(c, d, name, sizeof(name));
	ck_assert_int_eq(qlock_lock_open(c, name, 0), 0);
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = qd_fork()) == 0) {
		k = qd_connect(d);
		if (qlock_lock_acquire(k, name, 5) != 0)
			_exit(1);
		(void)write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &b, 1), 1);
	ck_assert_int_eq(qlock_lock_acquire(c, name, 0), QLOCK_TIMEOUT);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	t0 = qd_now();
	ck_assert_int_eq(qlock_lock_acquire(c, name, 10), 0);
	ck_assert_msg(qd_now() - t0 < 5, "lock back after %.1f s",
	    qd_now() - t0);
	close(p[0]);
	qlock_close(c);
	qd_stop(d);
}
END_TEST

/* A worker killed and restarted serves on the same own address; a
 * client whose connection to it broke is told (QLOCK_ECONN), a new one
 * routes to it again. */
START_TEST(test_route_worker_restart)
{
	struct qd	*d = qd_start(3, NULL);
	qlock		*c = qd_connect(d), *n, *s;
	struct topo	 t, o;
	char		 name[32];
	unsigned	 sh;
	int		 fd, i, st = 0;
	pid_t		 w;

	name_off_shard(c, d, name, sizeof(name));
	sh = shard_of(name, strlen(name), 3);
	ck_assert_int_eq(qlock_queue_open(c, name, 0, 0), 0);
	fd = raw_connect_auth(d);
	topo_read(fd, &t);
	close(fd);
	{
		struct qd alt = qd_at(d, t.addr[sh][0]);

		fd = raw_connect_auth(&alt);
		w = raw_conn_worker(&alt, fd);
	}
	close(fd);
	ck_assert_int_gt(w, 0);
	kill(w, SIGKILL);
	/* The broken owner connection breaks the qlock * (bounded wait). */
	for (i = 0; i < 100; i++) {
		st = qlock_queue_put(c, name, "x", 1, 0);
		if (st == QLOCK_ECONN)
			break;
		qd_nap();
	}
	ck_assert_int_eq(st, QLOCK_ECONN);
	ck_assert_int_eq(qlock_ping(c), QLOCK_ECONN);
	qlock_close(c);
	/* Back on the same address. */
	for (i = 0; i < 200; i++) {
		if ((fd = raw_to(d, t.addr[sh][0])) >= 0)
			break;
		qd_nap();
	}
	ck_assert_int_ge(fd, 0);
	topo_read(fd, &o);
	ck_assert_int_eq(o.self, (int)sh);
	ck_assert_str_eq(o.addr[sh][0], t.addr[sh][0]);
	close(fd);
	n = qd_connect(d);
	s = qd_connect(d);
	{
		uint64_t before = stat_of(s, "forwarded");

		ck_assert_int_eq(qlock_queue_open(n, name, 0, 0), 0);
		ck_assert_int_eq(qlock_queue_put(n, name, "y", 1, 0), 0);
		ck_assert(stat_of(s, "forwarded") == before);
	}
	qlock_close(n);
	qlock_close(s);
	qd_stop(d);
}
END_TEST

/* --worker-ports auto: the listener's port + 1 + worker; a fixed BASE;
 * off: no own addresses, and libqlock works through forwarding. */
START_TEST(test_route_ports_option)
{
	struct qd_opts	 o = { .workers = 2, .listen = QD_TCP4,
	    .args = { "--worker-ports", "auto", NULL } };
	struct qd	*d = qd_start_opts(&o);
	struct topo	 t;
	qlock		*c;
	char		 want[64], *out;
	int		 fd, i;

	fd = raw_connect_auth(d);
	topo_read(fd, &t);
	close(fd);
	for (i = 0; i < 2; i++) {
		snprintf(want, sizeof(want), "127.0.0.1:%d", d->port + 1 + i);
		ck_assert_str_eq(t.addr[i][0], want);
	}
	/* A BASE already taken (by this daemon): refused, naming the option. */
	snprintf(want, sizeof(want), "%d", d->port + 1);
	{
		const char *argv[] = { "-f", "--listen", "127.0.0.1:0",
		    "--workers", "2", "--authkey-file", d->keyfile,
		    "--worker-ports", want, NULL };

		ck_assert_int_ne(qd_run(argv, 10, &out), 0);
		ck_assert_msg(strstr(out, "--worker-ports") != NULL, "%s", out);
		free(out);
	}
	/* --check-config names the clash with --metrics-listen. */
	{
		const char *argv[] = { "--listen", "127.0.0.1:7450",
		    "--metrics-listen", "127.0.0.1:7452", "--workers", "2",
		    "--authkey-file", d->keyfile, "--worker-ports", "auto",
		    "--check-config", NULL };

		ck_assert_int_ne(qd_run(argv, 10, &out), 0);
		ck_assert_msg(strstr(out, "--worker-ports auto: worker 1 would "
		    "take port 7452") != NULL, "%s", out);
		free(out);
	}
	qd_stop(d);

	o.args[1] = "off";
	d = qd_start_opts(&o);
	fd = raw_connect_auth(d);
	topo_read(fd, &t);
	close(fd);
	ck_assert_int_eq(t.shards, 2);
	ck_assert_int_eq(t.naddr[0] + t.naddr[1], 0);
	c = qd_connect(d);
	for (i = 0; i < 10; i++) {
		snprintf(want, sizeof(want), "off%d", i);
		ck_assert_int_eq(qlock_queue_open(c, want, 0, 0), 0);
		ck_assert_int_eq(qlock_queue_put(c, want, "z", 1, 0), 0);
	}
	ck_assert_uint_gt(stat_of(c, "forwarded"), 0);
	qlock_close(c);
	qd_stop(d);
}
END_TEST

static Suite *
route_suite(void)
{
	Suite	*s = suite_create("it_route");
	TCase	*tc = tcase_create("route");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_route_topology);
	tcase_add_test(tc, test_route_nothing_forwarded);
	tcase_add_test(tc, test_route_giveback);
	tcase_add_test(tc, test_route_worker_restart);
	tcase_add_test(tc, test_route_ports_option);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(route_suite(), CK_FORK);
}
