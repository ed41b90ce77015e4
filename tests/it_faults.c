/* it_faults.c: qlockd --data-dir against the real daemon: a full or
 * failing disk (the faultfs.so LD_PRELOAD shim) and crashes during
 * compaction. */
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

/* --- 7. a full disk, a failing disk (faultfs) ---------------------------- */

#define BIG	(1u << 20)

START_TEST(test_durability_disk_full)
{
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	char		*big = malloc(BIG), want[32], *dlog;
	char		 ctl[192];
	void		*val;
	size_t		 len, k;
	long		 size = -1;
	int		 i, st = QLOCK_OK, nbig = 0;

	if (faultfs_path() == NULL) {
		fprintf(stderr, "SKIP test_durability_disk_full: "
		    "no $FAULTFS\n");
		free(big);
		return;
	}
	ck_assert_ptr_nonnull(big);
	scratch_new(&s);
	snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
	write_str(ctl, "");
	faultfs_on(ctl);
	d = dstart(&s, 1, "always", NULL);
	faultfs_off();
	c = qd_connect(d);
	ck_assert_int_eq(qlock_dict_set(c, "fx-d", "k", "v", 1), QLOCK_OK);
	for (i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "small-%d", i);
		put_str(c, "fx-q", want);
	}

	/* The disk fills: 1 MiB puts use up what is reserved (up to 8 MiB;
	 * with --fsync always small records are reserved a megabyte ahead,
	 * so none may fit), then the next reservation fails. */
	write_str(ctl, "enospc");
	for (i = 0; i < 24; i++) {
		snprintf(big, BIG, "big-%d:", i);
		memset(big + strlen(big), 'b', BIG - strlen(big));
		st = qlock_queue_put(c, "fx-q", big, BIG, 0);
		if (st != QLOCK_OK)
			break;
		nbig++;
	}
	ck_assert_msg(st == QLOCK_ELIMIT, "a put with the disk full: %s (%s), "
	    "expected %s", qlock_strerror(st), qlock_last_error(c),
	    qlock_strerror(QLOCK_ELIMIT));
	ck_assert_msg(strstr(qlock_last_error(c), "disk full") != NULL,
	    "the error does not say 'disk full': %s", qlock_last_error(c));
	ck_assert_msg(nbig < 8, "%d 1 MiB puts fitted in the at most 8 MiB "
	    "reserved", nbig);
	/* Reads still work. */
	ck_assert_int_eq(qlock_queue_size(c, "fx-q", &size), QLOCK_OK);
	ck_assert_int_eq(size, 5 + nbig);
	ck_assert_int_eq(qlock_dict_get(c, "fx-d", "k", &val, &len), QLOCK_OK);
	ck_assert(len == 1 && memcmp(val, "v", 1) == 0);
	free(val);
	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);
	dlog = qd_log(d);
	ck_assert_msg(strstr(dlog, "disk full") != NULL, "the daemon's log "
	    "does not say the disk is full");
	free(dlog);

	/* Room again: puts succeed. */
	write_str(ctl, "");
	snprintf(big, BIG, "big-after:");
	memset(big + strlen(big), 'c', BIG - strlen(big));
	st = qlock_queue_put(c, "fx-q", big, BIG, 0);
	ck_assert_msg(st == QLOCK_OK, "a put once there is room again: %s "
	    "(%s)", qlock_strerror(st), qlock_last_error(c));
	qlock_close(c);
	dcrash(d, NULL);

	/* After a crash: exactly what was acknowledged. */
	d = dstart(&s, 1, "always", NULL);
	c = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(c, "fx-q", &it);
	ck_assert_msg(it.n == (size_t)(5 + nbig + 1), "%zu items after the "
	    "restart, expected %d acknowledged", it.n, 5 + nbig + 1);
	for (k = 0; k < it.n; k++) {
		if (k < 5)
			snprintf(want, sizeof(want), "small-%zu", k);
		else if (k < (size_t)(5 + nbig))
			snprintf(want, sizeof(want), "big-%zu:", k - 5);
		else
			snprintf(want, sizeof(want), "big-after:");
		ck_assert_msg(strncmp(it.v[k], want, strlen(want)) == 0 &&
		    (k < 5 || it.len[k] == BIG), "item %zu is '%.12s' (%zu "
		    "bytes), expected '%s'", k, it.v[k], it.len[k], want);
	}
	items_free(&it);
	qlock_close(c);
	qd_stop(d);
	free(big);
	scratch_free(&s);
}
END_TEST

static const char *const eio_modes[] = { "eio", "eio-sync" };

START_TEST(test_durability_disk_error)
{
	const char	*mode = eio_modes[_i];
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	char		 item[32], *dlog;
	char		 ctl[192];
	size_t		 k, j;
	int		 i, st;
	double		 end;

	if (faultfs_path() == NULL) {
		fprintf(stderr, "SKIP test_durability_disk_error: "
		    "no $FAULTFS\n");
		return;
	}
	scratch_new(&s);
	snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
	write_str(ctl, "");
	faultfs_on(ctl);
	d = dstart(&s, 2, "always", NULL);
	faultfs_off();
	c = qd_connect(d);
	for (i = 0; i < 10; i++) {
		snprintf(item, sizeof(item), "e%d", i);
		put_str(c, "fx-e", item);
	}

	/* The log cannot be written (or synced): no acknowledgement, the
	 * worker exits and is restarted. */
	write_str(ctl, mode);
	st = qlock_queue_put(c, "fx-e", "e-fail", 6, 0);
	ck_assert_msg(st == QLOCK_EUNAVAIL || st == QLOCK_ECONN, "a put whose "
	    "log %s failed: %s, expected %s or %s", strcmp(mode, "eio") == 0 ?
	    "write" : "fdatasync", qlock_strerror(st),
	    qlock_strerror(QLOCK_EUNAVAIL), qlock_strerror(QLOCK_ECONN));
	ck_assert_msg(qd_log_wait(d, "restarting worker", QD_WAIT), "the log "
	    "does not say the worker was restarted");
	dlog = qd_log(d);
	ck_assert_msg(strstr(dlog, strcmp(mode, "eio") == 0 ? "write " :
	    "fdatasync ") != NULL && strstr(dlog, "exited with status") != NULL,
	    "the log does not say why the worker exited:\n%s", dlog);
	free(dlog);

	/* Healthy again: a put goes through once the worker is back. */
	write_str(ctl, "");
	for (end = qd_now() + QD_WAIT;;) {
		if (st == QLOCK_ECONN) {
			qlock_close(c);
			c = connect_retry(d);
		}
		st = qlock_queue_put(c, "fx-e", "e-after", 7, 0);
		if (st == QLOCK_OK || qd_now() >= end)
			break;
		ck_assert_msg(st == QLOCK_EUNAVAIL || st == QLOCK_ECONN,
		    "put after the restart: %s", qlock_strerror(st));
		qd_nap();
	}
	ck_assert_msg(st == QLOCK_OK, "no put succeeded within %.0f s of the "
	    "disk recovering: %s", QD_WAIT, qlock_strerror(st));
	qlock_close(c);
	dcrash(d, NULL);

	d = dstart(&s, 2, "always", NULL);
	c = qd_connect(d);
	memset(&it, 0, sizeof(it));
	drain(c, "fx-e", &it);
	for (k = 0, j = 0; k < it.n; k++) {
		if (j == 10 && strcmp(it.v[k], "e-fail") == 0)
			continue;	/* unacknowledged: may be kept */
		if (j < 10)
			snprintf(item, sizeof(item), "e%zu", j);
		else
			snprintf(item, sizeof(item), "e-after");
		ck_assert_msg(strcmp(it.v[k], item) == 0, "item %zu is '%s', "
		    "expected '%s'", k, it.v[k], item);
		j++;
	}
	ck_assert_msg(j == 11, "%zu of the 11 acknowledged items are back",
	    j);
	items_free(&it);
	qlock_close(c);
	qd_stop(d);
	scratch_free(&s);
}
END_TEST

/* --- 8. crashes during compaction ---------------------------------------- */

#define CYC_LIVE	40	/* items kept in the queue while cycling */

/*
 * The cycler: put/get on "cq" keeping about CYC_LIVE items of ~300
 * bytes, so that a 4 KiB --compact-min compacts often.  Writes "p id"
 * before and "P id" after an acknowledged put, "g" before and "G id"
 * after a get; stops at ECONN (the daemon is gone) or the stop file.
 */
static void
cycler(const struct qd *d, const char *file, const char *stopfile, int round)
{
	char	 item[512];
	qlock	*c;
	void	*got;
	size_t	 len;
	int	 fd, st, id = round * 100000, count = 0, n, r;
	double	 end = qd_now() + 20;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0600);
	if (fd == -1 || (c = qlock_connect(d->address, d->key, &st)) == NULL)
		_exit(10);
	srand((unsigned)getpid());
	while (qd_now() < end && access(stopfile, F_OK) != 0) {
		r = rand() % 100;
		if (count < CYC_LIVE / 2 || (count < 2 * CYC_LIVE && r < 50)) {
			n = snprintf(item, sizeof(item), "c%d|", id);
			memset(item + n, 'x', 300);
			dprintf(fd, "p %d\n", id);
			st = qlock_queue_put(c, "cq", item, (size_t)n + 300, 0);
			if (st == QLOCK_OK) {
				dprintf(fd, "P %d\n", id);
				count++;
			}
			id++;
		} else {
			dprintf(fd, "g\n");
			st = qlock_queue_get(c, "cq", &got, &len, 0);
			if (st == QLOCK_OK) {
				dprintf(fd, "G %d\n", atoi((char *)got + 1));
				free(got);
				count--;
			}
		}
		if (st == QLOCK_ECONN || st == QLOCK_EUNAVAIL)
			_exit(0);
		if (st != QLOCK_OK) {
			dprintf(fd, "X %s\n", qlock_strerror(st));
			_exit(2);
		}
	}
	_exit(0);
}

/*
 * What the cycler's file says must be in "cq": the acknowledged puts not
 * got, in order (want), and the item of an unanswered put (*maybe_put,
 * may be at the tail) or whether a get was unanswered (*maybe_got: the
 * head may be gone).  Also checks each get returned the head.
 */
static int
cycler_expect(const char *file, int *want, int max, int *maybe_put,
    bool *maybe_got)
{
	char	*buf = read_all(file, NULL), *line, *save = NULL;
	int	 n = 0, head = 0, id;

	ck_assert_ptr_nonnull(buf);
	*maybe_put = -1;
	*maybe_got = false;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		*maybe_put = -1;
		*maybe_got = false;
		if (sscanf(line, "p %d", &id) == 1)
			*maybe_put = id;
		else if (sscanf(line, "P %d", &id) == 1) {
			ck_assert_int_lt(n, max);
			want[n++] = id;
		} else if (line[0] == 'g')
			*maybe_got = true;
		else if (sscanf(line, "G %d", &id) == 1) {
			ck_assert_msg(head < n && want[head] == id, "the "
			    "cycler got c%d, expected c%d", id, head < n ?
			    want[head] : -1);
			head++;
		} else
			ck_abort_msg("cycler: %s", line);
	}
	free(buf);
	memmove(want, want + head, (size_t)(n - head) * sizeof(*want));
	return n - head;
}

/* Drain "cq" and compare with the cycler's account. */
static void
cycler_check(qlock *c, const char *file, const char *how)
{
	static int	 want[200000];
	struct items	 it;
	int		 n, maybe_put, skip = 0, id;
	bool		 maybe_got;
	size_t		 k;

	n = cycler_expect(file, want, 200000, &maybe_put, &maybe_got);
	memset(&it, 0, sizeof(it));
	drain(c, "cq", &it);
	/* An unanswered get may have taken the head. */
	if (maybe_got && n > 0 && (it.n == 0 || atoi(it.v[0] + 1) != want[0]))
		skip = 1;
	for (k = 0; k < it.n; k++) {
		id = atoi(it.v[k] + 1);
		if ((int)k + skip == n && id == maybe_put)
			continue;	/* an unanswered put that was kept */
		ck_assert_msg((int)k + skip < n, "%s: item c%d is back, but "
		    "was got or never acknowledged (%d expected)", how, id, n);
		ck_assert_msg(id == want[k + (size_t)skip], "%s: item %zu is "
		    "c%d, expected c%d (%d expected, %zu back)", how, k, id,
		    want[k + (size_t)skip], n, it.n);
	}
	ck_assert_msg(it.n + (size_t)skip >= (size_t)n, "%s: %zu items back, "
	    "%d acknowledged and not got", how, it.n, n);
	items_free(&it);
}

/* The policies compaction crashes are tried under. */
static const char *const comp_policies[] = { "everysec", "no" };

START_TEST(test_durability_compaction_crash)
{
	const char	*policy = comp_policies[_i];
	/* Rounds 0-3: SIGKILL the daemon at a random moment after some
	 * compactions.  4: the compaction process dies once it has written
	 * the snapshot (faultfs: at the fsync of the .tmp); the worker goes
	 * on, compacts again later, and then the daemon is killed.  5, 6:
	 * the worker dies finishing a compaction (at the fdatasync of the
	 * .tmp after adding what was logged meanwhile; right after the
	 * rename). */
	static const char *const kills[] = { "kill-tmp-fsync",
	    "kill-tmp-fdatasync", "kill-rename" };
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	pid_t		 pid;
	char		*log, how[64];
	char		 ctl[192];
	int		 round, status, before, ncomp;
	bool		 shim = faultfs_path() != NULL;
	double		 end;

	scratch_new(&s);
	snprintf(ctl, sizeof(ctl), "%s", spath(&s, "ctl"));
	write_str(ctl, "");
	for (round = 0; round < 7; round++) {
		if (round >= 4 && !shim) {
			fprintf(stderr, "SKIP compaction crash round %d: no "
			    "$FAULTFS\n", round);
			continue;
		}
		if (shim)
			faultfs_on(ctl);
		d = dstart(&s, 1, policy, "--compact-min", "4096", NULL);
		faultfs_off();
		log = qd_log(d);
		before = count_str(log, "compacted");
		free(log);
		unlink(spath(&s, "stop"));
		if (round >= 4)
			write_str(ctl, kills[round - 4]);
		if ((pid = qd_fork()) == 0)
			cycler(d, spath(&s, "cyc"), spath(&s, "stop"), round);
		if (round == 4) {
			ck_assert_msg(qd_log_wait(d, "compaction process killed",
			    QD_WAIT), "the compaction process did not die");
			log = qd_log(d);
			before = count_str(log, "compacted");
			ck_assert_msg(strstr(log, "restarting worker") == NULL,
			    "the worker died with its compaction process");
			free(log);
		}
		if (round <= 4) {
			/* Wait for 2 + round compactions (round 4: one more),
			 * then a little more for a moment that varies. */
			end = qd_now() + QD_WAIT;
			do {
				log = qd_log(d);
				ncomp = count_str(log, "compacted") - before;
				free(log);
				if (ncomp >= (round < 4 ? 2 + round : 1))
					break;
				qd_nap();
			} while (qd_now() < end);
			ck_assert_msg(ncomp >= (round < 4 ? 2 + round : 1),
			    "only %d compactions in %.0f s", ncomp, QD_WAIT);
			/* Not a synchronisation: a crash moment that varies
			 * (up to 20 ms into the cycles after the last one). */
			usleep((useconds_t)(rand() % 20000));
			dcrash(d, NULL);
			snprintf(how, sizeof(how), "daemon killed after %d "
			    "compactions%s", ncomp, round == 4 ? " and a failed "
			    "one" : "");
		} else {
			if (!qd_log_wait(d, "restarting worker", QD_WAIT)) {
				log = qd_log(d);
				fprintf(stderr, "--- daemon log ---\n%s--- end "
				    "---\n", log);
				ck_abort_msg("the worker did not die in "
				    "compaction (%s)", kills[round - 4]);
			}
			snprintf(how, sizeof(how), "worker killed at %s",
			    kills[round - 4]);
		}
		status = qd_wait_child(pid, QD_WAIT);
		write_str(spath(&s, "stop"), "");
		ck_assert_msg(status != -1 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0, "cycler: status 0x%x", status);
		if (round <= 4)
			d = dstart(&s, 1, policy, "--compact-min", "4096",
			    NULL);
		c = connect_retry(d);	/* a restarted worker may be coming up */
		cycler_check(c, spath(&s, "cyc"), how);
		qlock_close(c);
		qd_stop(d);
	}
	scratch_free(&s);
}
END_TEST

/* How many of pid's descriptors are logs that were deleted (replaced). */
static int
deleted_logs_open(pid_t pid)
{
	char		 dir[64], path[320], target[512];
	struct dirent	*de;
	DIR		*d;
	ssize_t		 n;
	int		 count = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "/shard-") != NULL &&
		    strstr(target, "(deleted)") != NULL)
			count++;
	}
	closedir(d);
	return count;
}

/*
 * A compaction does not stop the worker: while the compaction process
 * writes a large shard out, puts go on being acknowledged, and those
 * (logged meanwhile, then added to the new log) are all there, in order,
 * after the daemon is killed and restarted.
 */
START_TEST(test_durability_compaction_background)
{
	enum { ITEM = 8192, MAXN = 8000 };
	static const unsigned long long big = 8u << 20;
	struct scratch	 s;
	struct qd	*d;
	qlock		*c;
	struct items	 it;
	char		*item = malloc(ITEM), *log, *p;
	unsigned long long from, to, meanwhile = 0;
	double		 secs, end;
	pid_t		 worker;
	int		 n = 0, k;
	size_t		 i;
	bool		 seen = false;

	ck_assert_ptr_nonnull(item);
	scratch_new(&s);
	d = dstart(&s, 1, "no", "--compact-min", "1048576", NULL);
	c = qd_connect(d);
	/* 8 KiB items until a compaction of 8 MB or more reports puts
	 * acknowledged while it ran. */
	while (!seen && n < MAXN) {
		k = snprintf(item, ITEM, "b%d|", n);
		memset(item + k, 'y', ITEM - (size_t)k);
		ck_assert_int_eq(qlock_queue_put(c, "bg", item, ITEM, 0),
		    QLOCK_OK);
		if (++n % 50 != 0)
			continue;
		log = qd_log(d);
		for (p = log; (p = strstr(p, "compacted ")) != NULL; p++) {
			if (sscanf(p, "compacted %llu bytes to %llu in %lf s "
			    "(%llu of them logged meanwhile)", &from, &to, &secs,
			    &meanwhile) == 4 && to >= big && meanwhile > 0)
				seen = true;
		}
		free(log);
	}
	ck_assert_msg(seen, "no compaction of 8 MB or more with puts logged "
	    "while it ran, in %d puts", n);
	/* The log it replaced is freed (a step at a time), not kept open. */
	ck_assert_int_eq(qd_worker_pids(d, &worker, 1), 1);
	for (end = qd_now() + QD_WAIT; deleted_logs_open(worker) > 0 &&
	    qd_now() < end; )
		qd_nap();
	ck_assert_msg(deleted_logs_open(worker) == 0, "the worker still holds "
	    "a replaced log open after %.0f s", QD_WAIT);
	qlock_close(c);
	dcrash(d, NULL);

	d = dstart(&s, 1, "no", "--compact-min", "1048576", NULL);
	c = connect_retry(d);
	memset(&it, 0, sizeof(it));
	drain(c, "bg", &it);
	ck_assert_msg(it.n == (size_t)n, "%zu items back of %d acknowledged",
	    it.n, n);
	for (i = 0; i < it.n; i++)
		ck_assert_msg(it.len[i] == ITEM && atoi(it.v[i] + 1) == (int)i,
		    "item %zu is %.12s (%zu bytes)", i, it.v[i], it.len[i]);
	items_free(&it);
	qlock_close(c);
	qd_stop(d);
	free(item);
	scratch_free(&s);
}
END_TEST

static Suite *
faults_suite(void)
{
	Suite	*s = suite_create("it_faults");
	TCase	*tc;

	tc = tcase_create("faults");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_durability_disk_full);
	tcase_add_loop_test(tc, test_durability_disk_error, 0, 2);
	tcase_add_loop_test(tc, test_durability_compaction_crash, 0, 2);
	tcase_add_test(tc, test_durability_compaction_background);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(faults_suite(), CK_FORK);
}
