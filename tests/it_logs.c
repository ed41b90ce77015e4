/* it_logs.c: qlockd --data-dir against the real daemon: what a start
 * makes of a log: torn tails cut, damage in the middle refused (or cut
 * with --repair-log), names freed and reused as another kind, logs that
 * do not replay. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "durable.h"
#include "harness.h"
#include "qlock.h"
#include "suiterun.h"

/* --- 4. torn tails ------------------------------------------------------- */

START_TEST(test_durability_torn_tail)
{
	struct scratch	 s, cp;
	struct logmap	*m = calloc(1, sizeof(*m));
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	size_t		 cuts[400], ncuts = 0, cut, loglen, k, want, len;
	char		*log, *dlog, item[2048];
	bool		 boundary;
	int		 i, whole;
	off_t		 size;

	ck_assert_ptr_nonnull(m);
	scratch_new(&s);
	torn_make_log(&s, m);
	log = read_all(spath(&s, "data/gen-0/shard-0.log"), &loglen);
	ck_assert_uint_eq(loglen, m->end[m->n - 1]);
	/* Every byte of the last two records, and a sample before them. */
	for (cut = m->start[m->n - 2]; cut <= loglen; cut++)
		cuts[ncuts++] = cut;
	for (i = 0; i < 24; i++)
		cuts[ncuts++] = LOG_HDR + (m->start[m->n - 2] - LOG_HDR) *
		    (size_t)i / 24 + (size_t)i % 5;
	for (i = 1; i < 6; i++)
		cuts[ncuts++] = m->start[i * 4] + (size_t)i * 2;   /* headers */
	for (k = 0; k < ncuts; k++) {
		cut = cuts[k];
		for (whole = 0; whole < m->n && m->end[whole] <= cut; whole++)
			;
		want = whole == 0 ? LOG_HDR : m->end[whole - 1];
		boundary = want == cut;
		torn_copy(&s, log, cut, &cp);
		d = dstart(&cp, 1, "always", NULL);
		size = file_size(spath(&s, "cut/gen-0/shard-0.log"));
		ck_assert_msg(size == (off_t)want, "cut at %zu: the log is "
		    "%lld bytes after the start, expected %zu (cut back to the "
		    "last whole record)", cut, (long long)size, want);
		c = qd_connect(d);
		memset(&it, 0, sizeof(it));
		drain(c, "tq", &it);
		ck_assert_msg(it.n == (size_t)whole, "cut at %zu (of %zu): %zu "
		    "items back, expected the %d whole records before it", cut,
		    loglen, it.n, whole);
		for (i = 0; i < whole; i++) {
			len = torn_item(i, item, sizeof(item));
			ck_assert_msg(it.len[i] == len &&
			    memcmp(it.v[i], item, len) == 0, "cut at %zu: item "
			    "%d is '%.8s...' (%zu bytes), expected '%.8s...' "
			    "(%zu)", cut, i, it.v[i], it.len[i], item, len);
		}
		items_free(&it);
		qlock_close(c);
		dlog = qd_log(d);
		ck_assert_msg(boundary || strstr(dlog, "torn tail") != NULL,
		    "cut at %zu, inside a record: the log does not mention a "
		    "torn tail:\n%s", cut, dlog);
		ck_assert_msg(!boundary || strstr(dlog, "torn tail") == NULL,
		    "cut at %zu, a record boundary: the log claims a torn "
		    "tail:\n%s", cut, dlog);
		free(dlog);
		qd_stop(d);
	}
	fprintf(stderr, "torn tail: %zu cuts of a %zu-byte log\n", ncuts,
	    loglen);
	free(log);
	free(m);
	scratch_free(&s);
}
END_TEST

/*
 * An item whose bytes happen to hold a whole log record (a client may
 * store anything, a copy of a log for one): if the daemon dies while
 * appending it, what is left is still a torn tail, not damage in the
 * middle that keeps the daemon from starting.
 */
START_TEST(test_durability_torn_tail_record_like_item)
{
	/* [2, "tq", 99, "x"]: a put record's payload. */
	static const uint8_t payload[] = { 0x94, 0x02, 0xa2, 't', 'q', 0x63,
	    0xa1, 'x' };
	struct scratch	 s, cp;
	struct logmap	*m = calloc(1, sizeof(*m));
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	uint8_t		 item[128];
	size_t		 len = 0, loglen, cut;
	char		*log;

	ck_assert_ptr_nonnull(m);
	memcpy(item, "before|", 7);
	len = 7;
	put_le32(item + len, REC_MAGIC);
	put_le32(item + len + 4, sizeof(payload));
	put_le32(item + len + 8, crc32_of(payload, sizeof(payload)));
	memcpy(item + len + REC_HDR, payload, sizeof(payload));
	len += REC_HDR + sizeof(payload);
	memset(item + len, '.', 40);
	len += 40;

	scratch_new(&s);
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	put_str(c, "tq", "r0");
	put_str(c, "tq", "r1");
	put_ok(c, "tq", item, len);
	qlock_close(c);
	qd_stop(d);
	log_parse(spath(&s, "data/gen-0/shard-0.log"), m);
	ck_assert_int_eq(m->n, 3);
	log = read_all(spath(&s, "data/gen-0/shard-0.log"), &loglen);
	/* Cut in the trailing dots: the embedded record is whole. */
	cut = m->end[2] - 20;

	torn_copy(&s, log, cut, &cp);
	d = dstart(&cp, 1, "always", NULL);
	ck_assert(qd_log_wait(d, "torn tail", 0));
	c = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(c, "tq", &it);
	ck_assert_msg(it.n == 2 && strcmp(it.v[0], "r0") == 0 &&
	    strcmp(it.v[1], "r1") == 0, "%zu items back after the torn "
	    "append, expected r0 r1", it.n);
	items_free(&it);
	qlock_close(c);
	qd_stop(d);
	free(log);
	free(m);
	scratch_free(&s);
}
END_TEST

/* --- 5. damage in the middle --------------------------------------------- */

START_TEST(test_durability_damaged_middle)
{
	/* Where in record 3 a byte is flipped: payload, CRC, length. */
	static const size_t	 where[] = { REC_HDR + 3, 9, 5 };
	struct scratch		 s;
	struct logmap		*m = calloc(1, sizeof(*m));
	struct qd		*d;
	qlock			*c;
	struct items		 it;
	char			*log, *out, needle[64], item[2048];
	char			 path[192];
	size_t			 loglen, off, len;
	int			 status, i;

	ck_assert_ptr_nonnull(m);
	scratch_new(&s);
	torn_make_log(&s, m);
	snprintf(path, sizeof(path), "%s",
	    spath(&s, "data/gen-0/shard-0.log"));
	log = read_all(path, &loglen);
	off = m->start[3] + where[_i];
	log[off] ^= 0x5a;
	write_all_file(path, log, loglen);
	free(log);

	status = drun(&s, 1, QD_WAIT, &out, NULL);
	ck_assert_msg(status != -1, "qlockd started on a log damaged in the "
	    "middle (offset %zu); output:\n%s", m->start[3], out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "status 0x%x on a damaged log; output:\n%s", status, out);
	ck_assert_msg(strstr(out, "gen-0/shard-0.log") != NULL, "the refusal "
	    "does not name the file:\n%s", out);
	snprintf(needle, sizeof(needle), "offset %zu", m->start[3]);
	ck_assert_msg(strstr(out, needle) != NULL, "the refusal does not say "
	    "'%s':\n%s", needle, out);
	ck_assert_msg(strstr(out, "--repair-log") != NULL, "the refusal does "
	    "not point to --repair-log:\n%s", out);
	free(out);
	ck_assert_msg(file_size(path) == (off_t)loglen, "refusing to start "
	    "changed the damaged log");

	/* --repair-log keeps the three records before the damage. */
	d = dstart(&s, 1, "always", "--repair-log", NULL);
	ck_assert(qd_log_wait(d, needle, 0));
	ck_assert_int_eq(file_size(path), (off_t)m->start[3]);
	c = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(c, "tq", &it);
	ck_assert_msg(it.n == 3, "%zu items after --repair-log, expected the "
	    "3 before the damage", it.n);
	for (i = 0; i < 3; i++) {
		len = torn_item(i, item, sizeof(item));
		ck_assert(it.len[i] == len && memcmp(it.v[i], item, len) == 0);
	}
	items_free(&it);
	put_str(c, "tq", "after-repair");
	qlock_close(c);
	qd_stop(d);

	/* And it starts again without the option. */
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	get_expect(c, "tq", "after-repair");
	qlock_close(c);
	qd_stop(d);
	free(m);
	scratch_free(&s);
}
END_TEST

/* The data dir's only log. */
static const char *
shard0(const struct scratch *s)
{
	return spath(s, "data/gen-0/shard-0.log");
}

/* --- 5b. damage in the middle and a torn tail, at scale ---------------- */

#define BIG_RECS	40000

/*
 * Write a fresh data dir whose log holds n copies of one put record to
 * queue "big" (taken from a log the daemon wrote); with damage, a byte of record damage's payload
 * flipped; with torn, half a record more at the end.  The damaged
 * record's offset.
 */
static size_t
big_log(const struct scratch *s, int n, int damage, bool torn)
{
	struct logmap	*m = calloc(1, sizeof(*m));
	struct qd	*d;
	qlock		*c;
	char		*one, *log;
	size_t		 len, rl, off;
	int		 i;

	ck_assert_ptr_nonnull(m);
	rm_tree(s->data);
	d = dstart(s, 1, "no", NULL);
	c = qd_connect(d);
	put_str(c, "big", "an item of the big log");
	qlock_close(c);
	qd_stop(d);
	log_parse(shard0(s), m);
	ck_assert_int_eq(m->n, 1);
	one = read_all(shard0(s), &len);
	rl = m->end[0] - m->start[0];
	ck_assert_ptr_nonnull(log = malloc(LOG_HDR + rl * ((size_t)n + 1)));
	memcpy(log, one, LOG_HDR);
	for (i = 0, off = LOG_HDR; i < n; i++, off += rl)
		memcpy(log + off, one + m->start[0], rl);
	if (torn) {
		memcpy(log + off, one + m->start[0], rl / 2);
		off += rl / 2;
	}
	if (damage >= 0)
		log[LOG_HDR + rl * (size_t)damage + REC_HDR + 4] ^= 0x5a;
	write_all_file(shard0(s), log, off);
	free(log);
	free(one);
	free(m);
	return LOG_HDR + rl * (size_t)(damage >= 0 ? damage : 0);
}

/* The length of queue "big" after a start on s (with more options). */
static long
big_size(const struct scratch *s, const char *opt)
{
	struct qd	*d = dstart(s, 1, "no", opt, NULL);
	qlock		*c = qd_connect(d);
	long		 n = -1;

	ck_assert_int_eq(qlock_queue_size(c, "big", &n), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);
	return n;
}

/*
 * Defect 2 of issue 9: damage in the middle of a 40,000-record log that
 * also ends in a torn record is refused (it was cut at the damage as if
 * torn: 20,000 items silently gone), quickly (the search for what follows
 * the damage was quadratic: 36 s), and nothing is changed; --repair-log
 * keeps the records before the damage.  A whole log of that size starts
 * well within the harness's 10 s.
 */
START_TEST(test_logs_damage_and_torn_tail)
{
	struct scratch	 s;
	char		*out, needle[64];
	size_t		 bad;
	off_t		 size;
	int		 status;
	double		 t0;

	scratch_new(&s);
	bad = big_log(&s, BIG_RECS, BIG_RECS / 2, true);
	size = file_size(shard0(&s));
	t0 = qd_now();
	status = drun(&s, 1, QD_WAIT, &out, NULL);
	ck_assert_msg(status != -1, "qlockd still ran after %.0f s on a log "
	    "damaged in the middle, ending torn; output:\n%.2000s", QD_WAIT,
	    out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "status 0x%x on a log damaged in the middle, ending torn; "
	    "output:\n%.2000s", status, out);
	fprintf(stderr, "damage + torn tail, %d records: refused in %.2f s\n",
	    BIG_RECS, qd_now() - t0);
	snprintf(needle, sizeof(needle), "offset %zu", bad);
	ck_assert_msg(strstr(out, "shard-0.log") != NULL &&
	    strstr(out, needle) != NULL && strstr(out, "--repair-log") != NULL,
	    "the refusal does not name the file, '%s' and --repair-log:\n%s",
	    needle, out);
	free(out);
	ck_assert_int_eq(file_size(shard0(&s)), size);

	ck_assert_int_eq(big_size(&s, "--repair-log"), BIG_RECS / 2);
	ck_assert_int_eq(file_size(shard0(&s)), (off_t)bad);

	big_log(&s, BIG_RECS, -1, false);
	t0 = qd_now();
	ck_assert_int_eq(big_size(&s, NULL), BIG_RECS);
	fprintf(stderr, "whole log, %d records: started, counted and stopped "
	    "in %.2f s\n", BIG_RECS, qd_now() - t0);
	scratch_free(&s);
}
END_TEST

/* --- 6. names freed when idle, reused for another kind ------------------ */

/* The values the reused names hold: dict x[k] = 1, semaphore e at 1. */
static void
reused_check(const struct scratch *s, const char *when)
{
	struct qd	*d = dstart(s, 1, "always", NULL);
	qlock		*c = qd_connect(d);
	int64_t		 iv = 0;
	long		 v = -1;
	int		 st;

	st = qlock_dict_get_int(c, "x", "k", &iv);
	ck_assert_msg(st == QLOCK_OK && iv == 1, "%s: dict x[k]: %s, %lld",
	    when, qlock_strerror(st), (long long)iv);
	st = qlock_sem_value(c, "e", &v);
	ck_assert_msg(st == QLOCK_OK && v == 1, "%s: semaphore e: %s, %ld",
	    when, qlock_strerror(st), v);
	qlock_close(c);
	qd_stop(d);
}

/*
 * Defect 1 of issue 9: a queue emptied by a get and an event cleared are
 * freed implicitly; their names come back as a dict and a semaphore.
 * The frees are logged as deletes, and the shard restarts with both
 * values; a log written before frees were logged (the deletes cut out)
 * replays too.
 */
START_TEST(test_logs_reused_name)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;

	scratch_new(&s);
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	put_str(c, "x", "item");
	get_expect(c, "x", "item");
	ck_assert_int_eq(qlock_dict_set_int(c, "x", "k", 1), QLOCK_OK);
	ck_assert_int_eq(qlock_event_set(c, "e"), QLOCK_OK);
	ck_assert_int_eq(qlock_event_clear(c, "e"), QLOCK_OK);
	ck_assert_int_eq(qlock_sem_open(c, "e", 1, 0), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);

	reused_check(&s, "after a restart");
	ck_assert_int_eq(log_drop_type(shard0(&s), R_DELETE), 2);
	reused_check(&s, "on a log without the deletes");
	scratch_free(&s);
}
END_TEST

/*
 * A log that does not replay (an opened queue met as a dict: its delete
 * cut out) is refused at start with the file and offset, not left to a
 * worker that restarts forever; --repair-log cuts it there.
 */
START_TEST(test_logs_unreplayable_refused)
{
	struct scratch	 s;
	struct logmap	*m = calloc(1, sizeof(*m));
	struct qd	*d;
	qlock		*c;
	char		*out, needle[64];
	int		 status, i;
	off_t		 size;

	ck_assert_ptr_nonnull(m);
	scratch_new(&s);
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_queue_open(c, "x", 5, 0), QLOCK_OK);
	put_str(c, "x", "one");
	ck_assert_int_eq(qlock_delete(c, "x"), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set_int(c, "x", "k", 7), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);
	ck_assert_int_eq(log_drop_type(shard0(&s), R_DELETE), 1);
	log_parse(shard0(&s), m);
	for (i = 0; i < m->n && m->type[i] != R_D_SET; i++)
		;
	ck_assert_int_lt(i, m->n);
	size = file_size(shard0(&s));

	status = drun(&s, 1, QD_WAIT, &out, NULL);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) != 0, "status 0x%x on a log that does not "
	    "replay; output:\n%s", status, out);
	snprintf(needle, sizeof(needle), "offset %zu", m->start[i]);
	ck_assert_msg(strstr(out, "gen-0/shard-0.log") != NULL &&
	    strstr(out, needle) != NULL && strstr(out, "--repair-log") != NULL,
	    "the refusal does not name the file, '%s' and --repair-log:\n%s",
	    needle, out);
	free(out);
	ck_assert_int_eq(file_size(shard0(&s)), size);

	d = dstart(&s, 1, "always", "--repair-log", NULL);
	ck_assert_int_eq(file_size(shard0(&s)), (off_t)m->start[i]);
	c = qd_connect(d);
	get_expect(c, "x", "one");
	qlock_close(c);
	qd_stop(d);
	free(m);
	scratch_free(&s);
}
END_TEST

/*
 * A restarted worker that meets a log it cannot replay stops the daemon
 * with a message, instead of being restarted forever.
 */
START_TEST(test_logs_unreplayable_worker_stops)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	pid_t		 w;
	siginfo_t	 si;
	char		*log;
	double		 end;

	scratch_new(&s);
	d = dstart(&s, 1, "no", NULL);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_queue_open(c, "x", 5, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_delete(c, "x"), QLOCK_OK);
	ck_assert_int_eq(qlock_dict_set_int(c, "x", "k", 7), QLOCK_OK);
	qlock_close(c);
	/* The worker is idle: change its log under it, then kill it. */
	ck_assert_int_eq(log_drop_type(shard0(&s), R_DELETE), 1);
	ck_assert_int_eq(qd_worker_pids(d, &w, 1), 1);
	ck_assert_int_eq(kill(w, SIGKILL), 0);
	end = qd_now() + QD_WAIT;
	while (!proc_dead(d->pid) && qd_now() < end)
		qd_nap();
	log = qd_log(d);
	ck_assert_msg(proc_dead(d->pid), "the daemon still runs %.0f s after "
	    "its worker met a log it cannot replay:\n%s", QD_WAIT, log);
	memset(&si, 0, sizeof(si));
	ck_assert_int_eq(waitid(P_PID, (id_t)d->pid, &si, WEXITED | WNOWAIT),
	    0);
	ck_assert_msg(si.si_code == CLD_EXITED && si.si_status != 0, "the "
	    "daemon exited with code %d status %d", si.si_code, si.si_status);
	ck_assert_msg(strstr(log, "cannot replay its log") != NULL &&
	    strstr(log, "shard-0.log") != NULL, "no message about the log:\n%s",
	    log);
	ck_assert_msg(count_str(log, "restarts in") == 1, "the worker was "
	    "restarted more than once:\n%s", log);
	free(log);
	qd_free(d);
	scratch_free(&s);
}
END_TEST

/* --- 7. task_done with nothing taken ----------------------------------- */

/* join(0) on joinable queue "jq" of a start on s with --workers n, and
 * the item still queued. */
static void
unfin_check(const struct scratch *s, int n, const char *when)
{
	struct qd	*d = dstart(s, n, "always", NULL);
	qlock		*c = qd_connect(d);
	int		 st;

	st = qlock_queue_join(c, "jq", 0);
	ck_assert_msg(st == QLOCK_OK, "%s: join(0): %s (%s)", when,
	    qlock_strerror(st), qlock_last_error(c));
	get_expect(c, "jq", "a");
	ck_assert_int_eq(qlock_queue_put(c, "jq", "a", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_task_done(c, "jq"), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);
}

/*
 * Defect 6 of issue 9: task_done for an item still in the queue (Python
 * allows it: the count is of tasks, not of items taken) was not logged,
 * so after a restart join(0) reported a task unfinished.  Also through a
 * snapshot (re-partitioning to two workers writes one).
 */
START_TEST(test_logs_task_done_untaken)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;

	scratch_new(&s);
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_queue_open(c, "jq", 0, QLOCK_JOINABLE),
	    QLOCK_OK);
	ck_assert_int_eq(qlock_queue_put(c, "jq", "a", 1, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_task_done(c, "jq"), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_join(c, "jq", 0), QLOCK_OK);
	qlock_close(c);
	qd_stop(d);
	unfin_check(&s, 1, "after a restart");
	unfin_check(&s, 2, "after re-partitioning");
	scratch_free(&s);
}
END_TEST

static Suite *
logs_suite(void)
{
	Suite	*s = suite_create("it_logs");
	TCase	*tc;

	tc = tcase_create("logs");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_durability_torn_tail);
	tcase_add_test(tc, test_durability_torn_tail_record_like_item);
	tcase_add_loop_test(tc, test_durability_damaged_middle, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_logs_damage_and_torn_tail);
	tcase_add_test(tc, test_logs_reused_name);
	tcase_add_test(tc, test_logs_task_done_untaken);
	tcase_add_test(tc, test_logs_unreplayable_refused);
	tcase_add_test(tc, test_logs_unreplayable_worker_stops);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(logs_suite(), CK_FORK);
}
