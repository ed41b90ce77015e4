/* it_queue.c: integration tests of queues against the real qlockd, with
 * one worker and with three (names sharded, requests forwarded), from
 * several processes each with its own connection. */
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
#include "suiterun.h"

/* Put a string item, which must succeed. */
static void
put_str(qlock *c, const char *q, const char *s)
{
	int	st = qlock_queue_put(c, q, s, strlen(s), QLOCK_FOREVER);

	ck_assert_msg(st == QLOCK_OK, "put %s: %s (%s)", q, qlock_strerror(st),
	    qlock_last_error(c));
}

/* Get an item that must be there (or come within QD_WAIT) and equal s. */
static void
get_expect(qlock *c, const char *q, const char *s, double timeout)
{
	void	*item;
	size_t	 len;
	int	 st = qlock_queue_get(c, q, &item, &len, timeout);

	ck_assert_msg(st == QLOCK_OK, "get %s: %s (%s)", q, qlock_strerror(st),
	    qlock_last_error(c));
	ck_assert_msg(len == strlen(s) && memcmp(item, s, len) == 0,
	    "get %s: got '%.*s', expected '%s'", q, (int)len, (char *)item, s);
	free(item);
}

static long
qsize(qlock *c, const char *q)
{
	long	n = -1;
	int	st = qlock_queue_size(c, q, &n);

	ck_assert_msg(st == QLOCK_OK, "size %s: %s", q, qlock_strerror(st));
	return n;
}

/* Assert a child ended with exit status 0 within QD_WAIT seconds. */
static void
child_ok(pid_t pid, const char *what)
{
	int	status = qd_wait_child(pid, QD_WAIT);

	ck_assert_msg(status != -1, "%s: still running after %.0f s (killed)",
	    what, QD_WAIT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: ended with status 0x%x", what, status);
}

/* Child: connect (from the environment), get one item from q for ever;
 * exit 0 if it is want, 1 if another, 2 on error. */
static void
child_get_expect(const char *q, const char *want)
{
	qlock	*c = qlock_connect(NULL, NULL, NULL);
	void	*item;
	size_t	 len;

	if (c == NULL)
		_exit(2);
	if (qlock_queue_get(c, q, &item, &len, QLOCK_FOREVER) != QLOCK_OK)
		_exit(2);
	_exit(len == strlen(want) && memcmp(item, want, len) == 0 ? 0 : 1);
}

/* Start a getter child parked on q and wait until the daemon counts
 * `waiters' parked requests. */
static pid_t
park_getter(qlock *c, const char *q, const char *want, uint64_t waiters)
{
	pid_t	pid = qd_fork();

	if (pid == 0)
		child_get_expect(q, want);
	ck_assert_msg(qd_wait_stat(c, "waiters", waiters, QD_WAIT),
	    "the getter did not park (waiters != %llu)",
	    (unsigned long long)waiters);
	return pid;
}

/* --- many producers and consumers ------------------------------------------ */

#define NPROD		4
#define NCONS		4
#define NITEMS		20000
#define PER_PROD	(NITEMS / NPROD)
#define MPMC_Q		"mpmc"
#define SENTINEL	"S"

/* An item: which producer, and its sequence number there. */
struct item {
	uint32_t	prod;
	uint32_t	seq;
};

static void
producer(int p)
{
	qlock		*c = qlock_connect(NULL, NULL, NULL);
	struct item	 it;
	uint32_t	 i;

	if (c == NULL)
		_exit(2);
	for (i = 0; i < PER_PROD; i++) {
		it.prod = (uint32_t)p;
		it.seq = i;
		if (qlock_queue_put(c, MPMC_Q, &it, sizeof(it), QLOCK_FOREVER) !=
		    QLOCK_OK) {
			fprintf(stderr, "producer %d: put: %s\n", p,
			    qlock_last_error(c));
			_exit(3);
		}
	}
	qlock_close(c);
	_exit(0);
}

/* Get until the sentinel, writing each item to path. */
static void
consumer(const char *path)
{
	qlock	*c = qlock_connect(NULL, NULL, NULL);
	FILE	*f = fopen(path, "w");
	void	*item;
	size_t	 len;

	if (c == NULL || f == NULL)
		_exit(2);
	for (;;) {
		if (qlock_queue_get(c, MPMC_Q, &item, &len, QLOCK_FOREVER) !=
		    QLOCK_OK) {
			fprintf(stderr, "consumer: get: %s\n", qlock_last_error(c));
			_exit(3);
		}
		if (len == 1 && memcmp(item, SENTINEL, 1) == 0)
			break;
		if (len != sizeof(struct item) || fwrite(item, len, 1, f) != 1)
			_exit(4);
		free(item);
	}
	free(item);
	if (fclose(f) != 0)
		_exit(5);
	qlock_close(c);
	_exit(0);
}

START_TEST(test_queue_many_producers_consumers)
{
	qlock		*c = qd_connect(D);
	pid_t		 prod[NPROD], cons[NCONS];
	char		 path[NCONS][256];
	uint8_t		*seen = calloc(NITEMS, 1);
	int64_t		 last[NPROD];
	struct item	 it;
	FILE		*f;
	int		 i, p, total = 0;

	ck_assert_int_eq(qlock_queue_open(c, MPMC_Q, 10, 0), QLOCK_OK);
	for (i = 0; i < NCONS; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/consumer%d", D->dir, i);
		if ((cons[i] = qd_fork()) == 0)
			consumer(path[i]);
	}
	for (p = 0; p < NPROD; p++)
		if ((prod[p] = qd_fork()) == 0)
			producer(p);
	for (p = 0; p < NPROD; p++) {
		int status = qd_wait_child(prod[p], 90);

		ck_assert_msg(status != -1 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0, "producer %d: status 0x%x", p,
		    status);
	}
	for (i = 0; i < NCONS; i++)
		put_str(c, MPMC_Q, SENTINEL);
	for (i = 0; i < NCONS; i++) {
		int status = qd_wait_child(cons[i], 30);

		ck_assert_msg(status != -1 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0, "consumer %d: status 0x%x", i,
		    status);
	}
	/* Every item exactly once; one producer's items in order per consumer. */
	for (i = 0; i < NCONS; i++) {
		ck_assert_ptr_nonnull(f = fopen(path[i], "r"));
		for (p = 0; p < NPROD; p++)
			last[p] = -1;
		while (fread(&it, sizeof(it), 1, f) == 1) {
			ck_assert_uint_lt(it.prod, NPROD);
			ck_assert_uint_lt(it.seq, PER_PROD);
			ck_assert_msg(!seen[it.prod * PER_PROD + it.seq],
			    "item %u/%u delivered twice", it.prod, it.seq);
			seen[it.prod * PER_PROD + it.seq] = 1;
			ck_assert_msg((int64_t)it.seq > last[it.prod],
			    "consumer %d got %u/%u after %u/%lld", i, it.prod,
			    it.seq, it.prod, (long long)last[it.prod]);
			last[it.prod] = it.seq;
			total++;
		}
		fclose(f);
	}
	ck_assert_int_eq(total, NITEMS);
	ck_assert_int_eq(qsize(c, MPMC_Q), 0);
	free(seen);
	qlock_close(c);
}
END_TEST

/* One producer, one consumer, a small bounded queue: order kept. */
START_TEST(test_queue_fifo_single_producer)
{
	qlock	*c = qd_connect(D);
	char	 buf[32];
	pid_t	 pid;
	int	 i;

	ck_assert_int_eq(qlock_queue_open(c, "fifo", 10, 0), QLOCK_OK);
	if ((pid = qd_fork()) == 0) {
		qlock *pc = qlock_connect(NULL, NULL, NULL);

		if (pc == NULL)
			_exit(2);
		for (i = 0; i < 2000; i++) {
			snprintf(buf, sizeof(buf), "item %d", i);
			if (qlock_queue_put(pc, "fifo", buf, strlen(buf),
			    QLOCK_FOREVER) != QLOCK_OK)
				_exit(3);
		}
		_exit(0);
	}
	for (i = 0; i < 2000; i++) {
		snprintf(buf, sizeof(buf), "item %d", i);
		get_expect(c, "fifo", buf, QD_WAIT);
	}
	child_ok(pid, "producer");
	qlock_close(c);
}
END_TEST

/* timeout 0: Empty / Full at once, never waiting. */
START_TEST(test_queue_nowait)
{
	qlock	*c = qd_connect(D);
	void	*item = NULL;
	size_t	 len;
	double	 t0;

	ck_assert_int_eq(qlock_queue_open(c, "nw", 2, 0), QLOCK_OK);
	t0 = qd_now();
	ck_assert_int_eq(qlock_queue_get(c, "nw", &item, &len, 0), QLOCK_EMPTY);
	ck_assert_ptr_null(item);
	ck_assert_double_lt(qd_now() - t0, 1.0);
	ck_assert_int_eq(qlock_queue_put(c, "nw", "a", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "nw", "b", 1, 0), QLOCK_OK);
	t0 = qd_now();
	ck_assert_int_eq(qlock_queue_put(c, "nw", "c", 1, 0), QLOCK_FULL);
	ck_assert_double_lt(qd_now() - t0, 1.0);
	ck_assert_int_eq(qsize(c, "nw"), 2);
	get_expect(c, "nw", "a", 0);
	get_expect(c, "nw", "b", 0);
	ck_assert_int_eq(qlock_queue_get(c, "nw", &item, &len, 0), QLOCK_EMPTY);
	/* A queue never opened is unbounded: nowait puts always fit. */
	ck_assert_int_eq(qlock_queue_get(c, "never-opened", &item, &len, 0),
	    QLOCK_EMPTY);
	ck_assert_int_eq(qlock_queue_put(c, "never-opened", "x", 1, 0), QLOCK_OK);
	get_expect(c, "never-opened", "x", 0);
	qlock_close(c);
}
END_TEST

/* A positive timeout waits about that long, then Empty / Full. */
START_TEST(test_queue_timed)
{
	qlock	*c = qd_connect(D);
	void	*item = NULL;
	size_t	 len;
	double	 t0, dt;

	t0 = qd_now();
	ck_assert_int_eq(qlock_queue_get(c, "timed", &item, &len, 0.3),
	    QLOCK_EMPTY);
	dt = qd_now() - t0;
	ck_assert_msg(dt >= 0.29 && dt < 5.0, "get 0.3 s returned after %.3f s",
	    dt);

	ck_assert_int_eq(qlock_queue_open(c, "timed-full", 1, 0), QLOCK_OK);
	put_str(c, "timed-full", "x");
	t0 = qd_now();
	ck_assert_int_eq(qlock_queue_put(c, "timed-full", "y", 1, 0.3),
	    QLOCK_FULL);
	dt = qd_now() - t0;
	ck_assert_msg(dt >= 0.29 && dt < 5.0, "put 0.3 s returned after %.3f s",
	    dt);
	ck_assert_int_eq(qsize(c, "timed-full"), 1);
	/* Nothing is left parked once they timed out. */
	ck_assert(qd_wait_stat(c, "waiters", 0, QD_WAIT));
	qlock_close(c);
}
END_TEST

/* A get for ever receives an item put later by someone else. */
START_TEST(test_queue_get_forever)
{
	qlock	*c = qd_connect(D);
	pid_t	 pid = park_getter(c, "forever", "late item", 1);

	put_str(c, "forever", "late item");
	child_ok(pid, "getter");
	ck_assert(qd_wait_stat(c, "waiters", 0, QD_WAIT));
	ck_assert_int_eq(qsize(c, "forever"), 0);
	qlock_close(c);
}
END_TEST

/* Parked getters are served in the order they arrived. */
START_TEST(test_queue_getters_fifo)
{
	qlock	*c = qd_connect(D);
	pid_t	 a = park_getter(c, "order", "first", 1);
	pid_t	 b = park_getter(c, "order", "second", 2);

	put_str(c, "order", "first");
	put_str(c, "order", "second");
	child_ok(a, "getter A (parked first, must get 'first')");
	child_ok(b, "getter B (parked second, must get 'second')");
	qlock_close(c);
}
END_TEST

/* A put goes straight to the waiting getter: nobody else can take it. */
START_TEST(test_queue_put_hands_off)
{
	qlock	*c = qd_connect(D), *other = qd_connect(D);
	pid_t	 pid = park_getter(c, "handoff", "gift", 1);
	void	*item = NULL;
	size_t	 len;
	int	 st;

	put_str(c, "handoff", "gift");
	st = qlock_queue_get(other, "handoff", &item, &len, 0);
	ck_assert_msg(st == QLOCK_EMPTY, "a second getter took the item meant "
	    "for the parked one: %s '%.*s'", qlock_strerror(st), (int)len,
	    item == NULL ? "" : (char *)item);
	ck_assert_int_eq(qsize(c, "handoff"), 0);
	child_ok(pid, "parked getter");
	qlock_close(other);
	qlock_close(c);
}
END_TEST

/* A putter parked on a full queue completes when a get frees room. */
START_TEST(test_queue_parked_putter)
{
	qlock	*c = qd_connect(D);
	pid_t	 pid;

	ck_assert_int_eq(qlock_queue_open(c, "pp", 1, 0), QLOCK_OK);
	put_str(c, "pp", "one");
	if ((pid = qd_fork()) == 0) {
		qlock *pc = qlock_connect(NULL, NULL, NULL);

		_exit(pc != NULL && qlock_queue_put(pc, "pp", "two", 3,
		    QLOCK_FOREVER) == QLOCK_OK ? 0 : 1);
	}
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	ck_assert_int_eq(qsize(c, "pp"), 1);
	get_expect(c, "pp", "one", 0);
	child_ok(pid, "parked putter");
	get_expect(c, "pp", "two", 0);
	ck_assert_int_eq(qsize(c, "pp"), 0);
	qlock_close(c);
}
END_TEST

START_TEST(test_queue_size)
{
	qlock	*c = qd_connect(D);

	ck_assert_int_eq(qsize(c, "never-used"), 0);
	put_str(c, "sz", "1");
	put_str(c, "sz", "2");
	put_str(c, "sz", "3");
	ck_assert_int_eq(qsize(c, "sz"), 3);
	get_expect(c, "sz", "1", 0);
	ck_assert_int_eq(qsize(c, "sz"), 2);
	qlock_close(c);
}
END_TEST

START_TEST(test_queue_einval)
{
	qlock	*c = qd_connect(D);
	void	*item;
	size_t	 len;

	ck_assert_int_eq(qlock_queue_open(c, "", 0, 0), QLOCK_EINVAL);
	ck_assert_int_eq(qlock_queue_open(c, "neg", -1, 0), QLOCK_EINVAL);
	ck_assert_int_eq(qlock_queue_put(c, "", "x", 1, 0), QLOCK_EINVAL);
	ck_assert_int_eq(qlock_queue_get(c, "", &item, &len, 0), QLOCK_EINVAL);
	/* The connection is still good afterwards. */
	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);
	qlock_close(c);
}
END_TEST

/* A name that is another kind of object is not a queue. */
START_TEST(test_queue_etype)
{
	qlock	*c = qd_connect(D);
	void	*item;
	size_t	 len;
	long	 n;

	ck_assert_int_eq(qlock_event_set(c, "not-a-queue"), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "not-a-queue", "x", 1, 0),
	    QLOCK_ETYPE);
	ck_assert_int_eq(qlock_queue_get(c, "not-a-queue", &item, &len, 0),
	    QLOCK_ETYPE);
	ck_assert_int_eq(qlock_queue_size(c, "not-a-queue", &n), QLOCK_ETYPE);
	ck_assert_int_eq(qlock_queue_open(c, "not-a-queue", 0, 0), QLOCK_ETYPE);
	qlock_close(c);
}
END_TEST

/* A getter killed while parked leaves the wait list and gets nothing. */
START_TEST(test_queue_getter_killed)
{
	qlock	*c = qd_connect(D);
	pid_t	 pid = park_getter(c, "gone", "never", 1);
	int	 status;

	kill(pid, SIGKILL);
	status = qd_wait_child(pid, QD_WAIT);
	ck_assert(status != -1 && WIFSIGNALED(status));
	ck_assert_msg(qd_wait_stat(c, "waiters", 0, QD_WAIT),
	    "the dead getter is still parked");
	put_str(c, "gone", "kept");
	ck_assert_int_eq(qsize(c, "gone"), 1);
	get_expect(c, "gone", "kept", 0);
	qlock_close(c);
}
END_TEST

/* The same when the getter's connection is closed (raw socket). */
START_TEST(test_queue_getter_closed)
{
	qlock		*c = qd_connect(D);
	int		 fd = raw_connect_auth(D);
	struct raw_call	 rc;
	msgpack_packer	*pk = raw_call_begin(&rc, 1, "queue.get", 2);

	msgpack_pack_str_with_body(pk, "closed", 6);
	msgpack_pack_int(pk, -1);
	raw_call_send(fd, &rc);
	ck_assert(qd_wait_stat(c, "waiters", 1, QD_WAIT));
	close(fd);
	ck_assert_msg(qd_wait_stat(c, "waiters", 0, QD_WAIT),
	    "the closed getter is still parked");
	put_str(c, "closed", "kept");
	ck_assert_int_eq(qsize(c, "closed"), 1);
	get_expect(c, "closed", "kept", 0);
	qlock_close(c);
}
END_TEST

/* Items come back byte for byte: NULs, every byte value, empty, 1 MiB. */
START_TEST(test_queue_binary_items)
{
	qlock		*c = qd_connect(D);
	static const uint8_t nuls[] = { 'a', 0, 'b', 0, 0, 'c', 0 };
	uint8_t		 all[256], *big;
	size_t		 bigsz = 1024 * 1024, i, len;
	void		*item;
	struct {
		const void	*p;
		size_t		 len;
	} cases[4];

	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	ck_assert_ptr_nonnull(big = malloc(bigsz));
	for (i = 0; i < bigsz; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	big[0] = big[bigsz / 2] = big[bigsz - 1] = 0;
	cases[0].p = nuls;	cases[0].len = sizeof(nuls);
	cases[1].p = all;	cases[1].len = sizeof(all);
	cases[2].p = "";	cases[2].len = 0;
	cases[3].p = big;	cases[3].len = bigsz;
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(qlock_queue_put(c, "bin", cases[i].p,
		    cases[i].len, QLOCK_FOREVER), QLOCK_OK);
	ck_assert_int_eq(qsize(c, "bin"), 4);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(qlock_queue_get(c, "bin", &item, &len, 0),
		    QLOCK_OK);
		ck_assert_msg(len == cases[i].len, "item %zu: %zu bytes back, "
		    "%zu put", i, len, cases[i].len);
		ck_assert_msg(len == 0 || memcmp(item, cases[i].p, len) == 0,
		    "item %zu changed on the way", i);
		free(item);
	}
	free(big);
	qlock_close(c);
}
END_TEST

static void
add_tests(TCase *tc)
{
	tcase_add_test(tc, test_queue_many_producers_consumers);
	tcase_add_test(tc, test_queue_fifo_single_producer);
	tcase_add_test(tc, test_queue_nowait);
	tcase_add_test(tc, test_queue_timed);
	tcase_add_test(tc, test_queue_get_forever);
	tcase_add_test(tc, test_queue_getters_fifo);
	tcase_add_test(tc, test_queue_put_hands_off);
	tcase_add_test(tc, test_queue_parked_putter);
	tcase_add_test(tc, test_queue_size);
	tcase_add_test(tc, test_queue_einval);
	tcase_add_test(tc, test_queue_etype);
	tcase_add_test(tc, test_queue_getter_killed);
	tcase_add_test(tc, test_queue_getter_closed);
	tcase_add_test(tc, test_queue_binary_items);
}

static Suite *
queue_suite(void)
{
	Suite	*s = suite_create("it_queue");

	add_tests(qd_tcase(s, "workers1", qd_fixture_w1, qd_fixture_stop, 120));
	add_tests(qd_tcase(s, "workers3", qd_fixture_w3, qd_fixture_stop, 120));
	return s;
}

int
main(void)
{
	return suite_run(queue_suite(), CK_FORK);
}
