/* qlock_cmd.c: qlock(1)'s commands on queues, events, dicts; stats and
 * list. */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "qlock.h"
#include "qlock_int.h"

int
cmd_ping(qlock *c, struct args *a)
{
	int	st;

	if ((st = qlock_ping(c)) != QLOCK_OK)
		return outcome(c, a, NULL, st);
	puts("pong");
	return EXIT_DONE;
}

int
cmd_put(qlock *c, struct args *a)
{
	void	*item;
	size_t	 len;
	int	 rv;

	/* The item: the operand, else -f's file, else (also for "-")
	 * standard input, byte for byte. */
	if (a->npos == 2 && a->file != NULL) {
		fprintf(stderr, "qlock: put: give ITEM or -f FILE, not both\n");
		return EXIT_ERROR;
	}
	if (a->npos == 2 && strcmp(a->pos[1], "-") != 0)
		return outcome(c, a, a->pos[0], qlock_queue_put(c, a->pos[0],
		    a->pos[1], strlen(a->pos[1]), a->timeout));
	if (read_item(a->file, &item, &len) == -1)
		return EXIT_ERROR;
	rv = outcome(c, a, a->pos[0], qlock_queue_put(c, a->pos[0], item, len,
	    a->timeout));
	free(item);
	return rv;
}

int
cmd_get(qlock *c, struct args *a)
{
	void	*item;
	size_t	 len;
	int	 st, rv;

	st = qlock_queue_get(c, a->pos[0], &item, &len, a->timeout);
	if (st != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	rv = print_bytes(item, len, a->raw);
	free(item);
	/* Printed is handed over: on a joinable queue the task is done
	 * (otherwise the item would go back when this connection ends).
	 * A plain queue answers Inval (or NoEnt once it is empty and gone),
	 * which is fine. */
	if (rv == EXIT_DONE &&
	    (st = qlock_queue_task_done(c, a->pos[0])) != QLOCK_OK &&
	    st != QLOCK_EINVAL && st != QLOCK_ENOENT)
		return outcome(c, a, a->pos[0], st);
	return rv;
}

int
cmd_size(qlock *c, struct args *a)
{
	long	size;
	int	st;

	if ((st = qlock_queue_size(c, a->pos[0], &size)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	printf("%ld\n", size);
	return EXIT_DONE;
}

/* qlock state QUEUE: the queue's state, one "field value" line each. */
int
cmd_state(qlock *c, struct args *a)
{
	struct qlock_queue_state	qs;
	int				st;

	if ((st = qlock_queue_state(c, a->pos[0], &qs)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	printf("size %ld\nmaxsize %ld\njoinable %d\nunfinished %ld\n",
	    qs.size, qs.maxsize, qs.joinable, qs.unfinished);
	return EXIT_DONE;
}

int
cmd_delete(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_delete(c, a->pos[0]));
}

int
cmd_event_set(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_event_set(c, a->pos[0]));
}

int
cmd_event_clear(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_event_clear(c, a->pos[0]));
}

int
cmd_event_wait(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_event_wait(c, a->pos[0],
	    a->timeout));
}

int
cmd_event_is_set(qlock *c, struct args *a)
{
	int	is_set, st;

	if ((st = qlock_event_is_set(c, a->pos[0], &is_set)) != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	printf("%d\n", is_set ? 1 : 0);
	return EXIT_DONE;
}

/* dict get: an integer value prints in decimal, any other as its bytes. */
int
cmd_dict_get(qlock *c, struct args *a)
{
	void	*val;
	size_t	 len;
	int64_t	 n;
	int	 st, rv;

	st = qlock_dict_get_int(c, a->pos[0], a->pos[1], &n);
	if (st == QLOCK_OK) {
		printf("%" PRId64 "%s", n, a->raw ? "" : "\n");
		return EXIT_DONE;
	}
	if (st == QLOCK_ETYPE)
		st = qlock_dict_get(c, a->pos[0], a->pos[1], &val, &len);
	if (st != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	rv = print_bytes(val, len, a->raw);
	free(val);
	return rv;
}

int
cmd_dict_set(qlock *c, struct args *a)
{
	int64_t	n;

	if (a->as_int) {
		if (parse_int(a->pos[2], &n) == -1) {
			fprintf(stderr, "qlock: dict set: not an integer: %s\n",
			    a->pos[2]);
			return EXIT_ERROR;
		}
		return outcome(c, a, a->pos[0],
		    qlock_dict_set_int(c, a->pos[0], a->pos[1], n));
	}
	return outcome(c, a, a->pos[0], qlock_dict_set(c, a->pos[0],
	    a->pos[1], a->pos[2], strlen(a->pos[2])));
}

int
cmd_dict_del(qlock *c, struct args *a)
{
	return outcome(c, a, a->pos[0], qlock_dict_del(c, a->pos[0],
	    a->pos[1]));
}

int
cmd_dict_incr(qlock *c, struct args *a)
{
	int64_t	delta = 1, n;
	int	st;

	if (a->npos > 2 && parse_int(a->pos[2], &delta) == -1) {
		fprintf(stderr, "qlock: dict incr: not an integer: %s\n",
		    a->pos[2]);
		return EXIT_ERROR;
	}
	st = qlock_dict_incr(c, a->pos[0], a->pos[1], delta, &n);
	if (st != QLOCK_OK)
		return outcome(c, a, a->pos[0], st);
	printf("%" PRId64 "\n", n);
	return EXIT_DONE;
}

int
cmd_stats(qlock *c, struct args *a)
{
	msgpack_unpacked up;
	void		*buf;
	size_t		 len, off = 0;
	int		 st, rv = EXIT_DONE;

	if ((st = qlock_stats_raw(c, &buf, &len)) != QLOCK_OK)
		return outcome(c, a, NULL, st);
	if (!a->json) {
		rv = print_result(a->what, buf, len, false);
		free(buf);
		return rv;
	}
	/* --json: the whole map as one JSON object on one line. */
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		print_json(&up.data, 0);
		putchar('\n');
	} else {
		fprintf(stderr, "qlock: %s: cannot decode the result\n", a->what);
		rv = EXIT_ERROR;
	}
	msgpack_unpacked_destroy(&up);
	free(buf);
	return rv;
}

int
cmd_list(qlock *c, struct args *a)
{
	void	*buf;
	size_t	 len;
	int	 st, rv;

	if ((st = qlock_list_raw(c, &buf, &len)) != QLOCK_OK)
		return outcome(c, a, NULL, st);
	rv = print_result(a->what, buf, len, true);
	free(buf);
	return rv;
}
