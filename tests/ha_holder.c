/*
 * ha_holder.c: a libqlock client that holds a lock through a failover
 * (it_ha_resume.sh).  It opens one handle (QLOCK_ADDRESS,
 * QLOCK_AUTHKEY_FILE), opens lock NAME, takes it and prints "held TOKEN";
 * with QUEUE, then waits up to 60 s for an item of QUEUE (the test kills
 * the leader while it waits, then puts one), printing "got ITEM" or "get
 * failed: STATUS MESSAGE"; then waits for a line on stdin (meanwhile the
 * test checks that nobody else gets the lock), releases the lock, printing
 * "released" or "release failed: STATUS MESSAGE", and takes it again,
 * printing "again TOKEN".  Exit 0 if all of it worked, 1 otherwise.
 * NAME "-": no lock, the get is its first call, and it exits after it
 * (it_ha_bind.sh).  HA_HOLDER_WAIT: the first acquire's timeout in
 * seconds (default 10; it_ha_waiters_c.sh parks it through a failover).
 * usage: ha_holder NAME [QUEUE]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlock.h"

int
main(int argc, char **argv)
{
	qlock		*c;
	uint64_t	 token = 0;
	char		 line[64];
	void		*item;
	size_t		 len;
	double		 wait = 10;
	int		 st;

	if (getenv("HA_HOLDER_WAIT") != NULL)
		wait = atof(getenv("HA_HOLDER_WAIT"));
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: ha_holder NAME [QUEUE]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((c = qlock_connect(NULL, NULL, &st)) == NULL) {
		fprintf(stderr, "connect: %s\n", qlock_strerror(st));
		return 1;
	}
	if (strcmp(argv[1], "-") == 0)
		goto get;
	if ((st = qlock_lock_open(c, argv[1], 0)) != QLOCK_OK ||
	    (st = qlock_lock_acquire_token(c, argv[1], wait, &token)) !=
	    QLOCK_OK) {
		fprintf(stderr, "acquire: %s: %s\n", qlock_strerror(st),
		    qlock_last_error(c));
		return 1;
	}
	printf("held %" PRIu64 "\n", token);
get:
	if (argc == 3) {
		if ((st = qlock_queue_get(c, argv[2], &item, &len, 60)) !=
		    QLOCK_OK) {
			printf("get failed: %s %s\n", qlock_strerror(st),
			    qlock_last_error(c));
			return 1;
		}
		printf("got %.*s\n", (int)len, (const char *)item);
		free(item);
	}
	if (strcmp(argv[1], "-") == 0) {
		qlock_close(c);
		return 0;
	}
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 1;
	if ((st = qlock_lock_release(c, argv[1])) != QLOCK_OK) {
		printf("release failed: %s %s\n", qlock_strerror(st),
		    qlock_last_error(c));
		return 1;
	}
	printf("released\n");
	if ((st = qlock_lock_acquire_token(c, argv[1], 10, &token)) !=
	    QLOCK_OK) {
		printf("again failed: %s %s\n", qlock_strerror(st),
		    qlock_last_error(c));
		return 1;
	}
	printf("again %" PRIu64 "\n", token);
	qlock_close(c);
	return 0;
}
