/* qb_util.c: qlock-bench's helpers: clock, failures, samples, names, items,
 * the key, the daemon's counters. */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "auth.h"
#include "frame.h"
#include "mp.h"
#include "qlock.h"
#include "qb.h"

void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "qlock-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Record a client's failure: counted, and the first one's text kept. */
void __attribute__((format(printf, 2, 3)))
client_fail(struct bench *b, const char *fmt, ...)
{
	va_list	ap;

	b->sh->errors[b->id]++;
	if (b->sh->err[b->id][0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(b->sh->err[b->id], ERR_LEN, fmt, ap);
	va_end(ap);
}

/* Keep one latency sample, if there is room. */
void
sample_add(struct bench *b, double seconds)
{
	long	i = __atomic_fetch_add(&b->sh->nsamples, 1, __ATOMIC_RELAXED);

	if (i >= 0 && (size_t)i < b->ncap)
		b->samples[i] = (float)(seconds * 1e6);
}

/* Queue name number k of client id (id -1: shared by all clients). */
void
name_make(const struct bench *b, int id, long k, char *buf)
{
	if (id < 0)
		snprintf(buf, NAME_LEN, "%s.%s.%ld", b->o.prefix,
		    test_names[b->test], k);
	else
		snprintf(buf, NAME_LEN, "%s.%s.%d.%ld", b->o.prefix,
		    test_names[b->test], id, k);
}

/* Fill an item: bytes 0-7 its number, 8-15 when it was put (ns), then 'x'. */
void
item_fill(uint8_t *item, size_t size, uint64_t n)
{
	struct timespec	ts;
	uint64_t	ns;

	if (size >= 8)
		memcpy(item, &n, 8);
	if (size >= 16) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		memcpy(item + 8, &ns, 8);
	}
}

/* Read the authkey file: its bytes, one trailing newline dropped. */
char *
key_read(const char *path)
{
	char	buf[AUTH_KEY_MAX + 2];
	size_t	len = 0;
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("%s: %s", path, strerror(errno));
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("%s: %s", path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len > AUTH_KEY_MAX || memchr(buf, '\0', len) != NULL)
		die("%s: the authkey must be 1 to %d bytes, without NUL",
		    path, AUTH_KEY_MAX);
	buf[len] = '\0';
	return strdup(buf);
}

/* ---- the raw connection (pipeline test) -------------------------------- */

int
stats_read(qlock *c, uint64_t *requests, uint64_t *forwarded)
{
	struct mp_reader	 rd;
	const char		*k;
	uint32_t		 n, klen, i;
	uint64_t		 v;
	void			*buf;
	size_t			 len;
	int			 st;

	if ((st = qlock_stats_raw(c, &buf, &len)) != QLOCK_OK)
		return st;
	*requests = *forwarded = 0;
	mp_reader_init(&rd, buf, len);
	if (mp_read_map(&rd, &n) == -1)
		n = 0;
	for (i = 0; i < n; i++) {
		if (mp_read_str(&rd, &k, &klen) == -1)
			break;
		if (mp_read_uint(&rd, &v) == -1) {
			if (mp_skip(&rd, NULL, NULL) == -1)
				break;
			continue;
		}
		if (klen == 8 && memcmp(k, "requests", 8) == 0)
			*requests = v;
		else if (klen == 9 && memcmp(k, "forwarded", 9) == 0)
			*forwarded = v;
	}
	free(buf);
	return QLOCK_OK;
}

/*
 * Choose a client's queue names.  With a placement, ask the size of one
 * candidate name after another and watch the daemon's forwarded counter:
 * it moves when the name's owner is another worker.  The caller holds the
 * probe token, so no other client's traffic moves the counter meanwhile.
 */
int
names_choose(struct bench *b, qlock *c, char (*names)[NAME_LEN], int nwant)
{
	uint64_t	req, fwd0, fwd1;
	long		k, size;
	int		found = 0, st;
	bool		remote;

	if (b->o.placement == PLACE_ANY) {
		for (k = 0; k < nwant; k++)
			name_make(b, b->id, k, names[k]);
		return 0;
	}
	if ((st = stats_read(c, &req, &fwd0)) != QLOCK_OK) {
		client_fail(b, "stats: %s", qlock_last_error(c));
		return -1;
	}
	for (k = 0; found < nwant && k < (long)nwant * PROBE_TRIES; k++) {
		name_make(b, b->id, k, names[found]);
		if ((st = qlock_queue_size(c, names[found], &size)) != QLOCK_OK ||
		    (st = stats_read(c, &req, &fwd1)) != QLOCK_OK) {
			client_fail(b, "probe: %s", qlock_last_error(c));
			return -1;
		}
		remote = fwd1 != fwd0;
		fwd0 = fwd1;
		if (remote == (b->o.placement == PLACE_REMOTE))
			found++;
	}
	if (found < nwant) {
		client_fail(b, "found %d of %d %s queue names in %ld tries%s",
		    found, nwant, b->o.placement == PLACE_REMOTE ? "remote" :
		    "local", k, b->o.placement == PLACE_REMOTE ?
		    " (does the daemon run one worker?)" : "");
		return -1;
	}
	return 0;
}

/* ---- the tests, in a client process ------------------------------------ */

/* Units (pings, pairs, requests or items) this client does of total. */
long
quota(long total, int nclients, int id)
{
	return total / nclients + (id < total % nclients ? 1 : 0);
}

/* Stop at the time limit: true (and noted) once it is reached. */
bool
out_of_time(struct bench *b, double deadline)
{
	if (now_mono() < deadline)
		return false;
	b->sh->timed_out[b->id] = 1;
	return true;
}
