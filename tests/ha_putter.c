/*
 * ha_putter.c: one long-lived libqlock client for the cluster tests
 * (it_ha_follow.sh): opens one handle (QLOCK_ADDRESS, QLOCK_AUTHKEY_FILE)
 * and puts PREFIX-1, PREFIX-2, ... to q(i % 10) until the file STOP
 * exists or SECONDS pass, never reopening.  Each acknowledged item is
 * printed on stdout as it is acknowledged; each failure on stderr with its
 * time.  At the end, on stderr: "served N failed F longest-gap S" where S
 * is the longest time between two acknowledged puts.  While the file IDLE
 * exists it sends nothing (an idle client, its connections open).
 * usage: ha_putter PREFIX STOP SECONDS [IDLE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qlock.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	qlock	*c;
	char	 item[64], queue[16];
	double	 start, last, gap = 0, t;
	long	 i, served = 0, failed = 0;
	int	 st;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: ha_putter PREFIX STOP SECONDS [IDLE]\n");
		return 2;
	}
	if ((c = qlock_connect(NULL, NULL, &st)) == NULL) {
		fprintf(stderr, "connect: %s\n", qlock_last_error(NULL));
		return 2;
	}
	start = last = now();
	for (i = 1; access(argv[2], F_OK) == -1 &&
	    now() - start < atof(argv[3]) && i < 1000000; i++) {
		if (argc == 5 && access(argv[4], F_OK) == 0) {
			usleep(10000);
			last = now();	/* idle: not a gap in service */
			i--;
			continue;
		}
		snprintf(item, sizeof(item), "%s-%ld", argv[1], i);
		snprintf(queue, sizeof(queue), "q%ld", i % 10);
		st = qlock_queue_put(c, queue, item, strlen(item),
		    QLOCK_FOREVER);
		t = now();
		if (st == QLOCK_OK) {
			printf("%s\n", item);
			fflush(stdout);
			if (t - last > gap)
				gap = t - last;
			last = t;
			served++;
		} else {
			fprintf(stderr, "%.3f %s: %s: %s\n", t - start, item,
			    qlock_strerror(st), qlock_last_error(c));
			failed++;
			usleep(20000);
		}
	}
	if (now() - last > gap)
		gap = now() - last;
	fprintf(stderr, "served %ld failed %ld longest-gap %.3f\n", served,
	    failed, gap);
	qlock_close(c);
	return 0;
}
