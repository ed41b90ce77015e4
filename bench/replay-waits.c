/*
 * replay-waits.c: what a follower pays to keep keyed sessions' parked
 * requests (src/store_wait.c): N R_H_WAIT records, on Q names, then N
 * R_H_UNWAIT records in the order they parked (fifo: a queue's getters
 * answered in turn) or the reverse (lifo), applied through replay_record
 * as raft's apply does; prints ns per record of each.
 *
 * usage: replay-waits N Q [fifo|lifo]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Apply b's records from off on, n of them; the offset after. */
static size_t
apply(struct replay *rp, const struct store_buf *b, size_t off, int n)
{
	uint32_t	len;

	while (n-- > 0) {
		len = get_le32(b->p + off + 4);
		if (replay_record(rp, b->p + off + REC_HDR, len) != 0) {
			fprintf(stderr, "replay-waits: a record refused\n");
			exit(1);
		}
		off += REC_HDR + len;
	}
	return off;
}

int
main(int argc, char **argv)
{
	struct registry	 reg;
	struct replay	 rp;
	struct store_buf b;
	char		 name[32];
	double		 t0, t1, t2;
	size_t		 off;
	int		 n, nq, lifo, i, j;

	if (argc < 3 || (n = atoi(argv[1])) < 1 || (nq = atoi(argv[2])) < 1 ||
	    (argc > 3 && strcmp(argv[3], "fifo") != 0 &&
	    strcmp(argv[3], "lifo") != 0)) {
		fprintf(stderr, "usage: replay-waits N Q [fifo|lifo]\n");
		return 2;
	}
	lifo = argc > 3 && strcmp(argv[3], "lifo") == 0;
	memset(&b, 0, sizeof(b));
	registry_init(&reg);
	replay_init(&rp, &reg);
	for (j = 0; j < 2 * n; j++) {
		i = j < n ? j : lifo ? 2 * n - 1 - j : j - n;
		snprintf(name, sizeof(name), "q%d", i % nq);
		rec_h_wait(&b, j < n ? R_H_WAIT : R_H_UNWAIT, name,
		    (uint32_t)strlen(name), 1000 + (uint64_t)i, 7, WAIT_GET, 0,
		    NULL, 0);
	}
	t0 = now();
	off = apply(&rp, &b, 0, n);
	t1 = now();
	apply(&rp, &b, off, n);
	t2 = now();
	printf("%d waits on %d names, unwaits %s: wait %.0f ns, unwait "
	    "%.0f ns, %zu left\n", n, nq, lifo ? "lifo" : "fifo",
	    (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9, rp.nwaits);
	replay_discard(&rp);
	registry_free(&reg);
	free(b.p);
	return 0;
}
