/*
 * ha_touch.c: a libqlock client driven by lines on stdin
 * (it_ha_refresh.sh).  It opens one handle (QLOCK_ADDRESS,
 * QLOCK_AUTHKEY_FILE), takes lock LOCK and prints "held TOKEN"; then, a
 * line at a time: "touch" asks the size of queue NAME, printing "touched"
 * or "touch failed: STATUS MESSAGE"; "release" releases LOCK, printing
 * "released" or "release failed: STATUS MESSAGE", and exits, 0 if it was
 * released.  ha_touch.py is the same with the Python package.
 * usage: ha_touch LOCK NAME
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "qlock.h"

int
main(int argc, char **argv)
{
	qlock		*c;
	uint64_t	 token;
	char		 line[64];
	long		 size;
	int		 st;

	if (argc != 3) {
		fprintf(stderr, "usage: ha_touch LOCK NAME\n");
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
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strcmp(line, "touch\n") == 0) {
			if ((st = qlock_queue_size(c, argv[2], &size)) ==
			    QLOCK_OK)
				printf("touched\n");
			else
				printf("touch failed: %s %s\n",
				    qlock_strerror(st), qlock_last_error(c));
		} else if (strcmp(line, "release\n") == 0) {
			if ((st = qlock_lock_release(c, argv[1])) !=
			    QLOCK_OK) {
				printf("release failed: %s %s\n",
				    qlock_strerror(st), qlock_last_error(c));
				return 1;
			}
			printf("released\n");
			qlock_close(c);
			return 0;
		}
	}
	return 1;
}
