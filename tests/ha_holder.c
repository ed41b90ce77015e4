/*
 * ha_holder.c: a libqlock client that holds a lock through a failover
 * (it_ha_resume.sh).  It opens one handle (QLOCK_ADDRESS,
 * QLOCK_AUTHKEY_FILE), opens lock NAME, takes it and prints "held TOKEN";
 * then waits for a line on stdin (the test kills the leader meanwhile and
 * checks that nobody else gets the lock), releases the lock, printing
 * "released" or "release failed: STATUS MESSAGE", and takes it again,
 * printing "again TOKEN".  Exit 0 if all of it worked, 1 otherwise.
 * usage: ha_holder NAME
 */
#include <inttypes.h>
#include <stdio.h>

#include "qlock.h"

int
main(int argc, char **argv)
{
	qlock		*c;
	uint64_t	 token = 0;
	char		 line[64];
	int		 st;

	if (argc != 2) {
		fprintf(stderr, "usage: ha_holder NAME\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((c = qlock_connect(NULL, NULL, &st)) == NULL) {
		fprintf(stderr, "connect: %s\n", qlock_strerror(st));
		return 1;
	}
	if ((st = qlock_lock_open(c, argv[1], 0)) != QLOCK_OK ||
	    (st = qlock_lock_acquire_token(c, argv[1], 10, &token)) !=
	    QLOCK_OK) {
		fprintf(stderr, "acquire: %s: %s\n", qlock_strerror(st),
		    qlock_last_error(c));
		return 1;
	}
	printf("held %" PRIu64 "\n", token);
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
