/* qlock_print.c: qlock(1)'s output: results as text or JSON, failures. */

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

#define PRINT_DEPTH	32	/* deepest nesting the printer descends into */

/* Report a failed call, as "qlock: what: reason"; returns the exit code.
 * A wait that did not succeed in time is exit 1, said only with -v. */
int
outcome(qlock *c, const struct args *a, const char *name, int st)
{
	if (st == QLOCK_OK)
		return EXIT_DONE;
	if (st == QLOCK_EMPTY || st == QLOCK_FULL || st == QLOCK_TIMEOUT) {
		if (!a->verbose)
			return EXIT_NOTYET;
		fprintf(stderr, "qlock: %s%s%s: %s ", a->what, name != NULL ?
		    " " : "", name != NULL ? name : "", qlock_strerror(st));
		if (a->timeout == 0)
			fprintf(stderr, "(--timeout 0: not waiting)\n");
		else
			fprintf(stderr, "(--timeout %g s)\n", a->timeout);
		return EXIT_NOTYET;
	}
	if (name != NULL)
		fprintf(stderr, "qlock: %s %s: %s\n", a->what, name,
		    qlock_last_error(c));
	else
		fprintf(stderr, "qlock: %s: %s\n", a->what, qlock_last_error(c));
	return EXIT_ERROR;
}

/* Read all of a file (NULL: standard input) into *buf, malloc'd; -1
 * after a message. */
int
read_item(const char *path, void **buf, size_t *len)
{
	uint8_t	*p = NULL, *np;
	size_t	 n = 0, cap = 0;
	ssize_t	 r = -1;
	int	 fd = STDIN_FILENO;

	if (path != NULL && (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "qlock: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((np = realloc(p, cap)) == NULL) {
				errno = ENOMEM;
				break;
			}
			p = np;
		}
		if ((r = read(fd, p + n, cap - n)) == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (path != NULL)
		close(fd);
	if (n < cap && r == 0) {
		*buf = p;
		*len = n;
		return 0;
	}
	fprintf(stderr, "qlock: %s: %s\n", path != NULL ? path :
	    "standard input", strerror(errno));
	free(p);
	return -1;
}

/* Write bytes to stdout, with a newline unless raw. */
int
print_bytes(const void *p, size_t len, bool raw)
{
	if ((len > 0 && fwrite(p, 1, len, stdout) != len) ||
	    (!raw && putchar('\n') == EOF)) {
		fprintf(stderr, "qlock: write: %s\n", strerror(errno));
		return EXIT_ERROR;
	}
	return EXIT_DONE;
}

/* Print a string or byte string readably: control bytes as \xNN. */
void
print_text(FILE *f, const char *p, size_t len)
{
	size_t		i;
	unsigned char	ch;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			fprintf(f, "\\x%02x", ch);
		else
			putc(ch, f);
	}
}

/* Print any msgpack object on one line: scalars bare, containers bracketed. */
static void
print_object(const msgpack_object *o, int depth)
{
	uint32_t	i;

	if (depth > PRINT_DEPTH) {
		fputs("...", stdout);
		return;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("nil", stdout);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", stdout);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		printf("%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		printf("%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		printf("%g", o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		print_text(stdout, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		print_text(stdout, o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		putchar('[');
		for (i = 0; i < o->via.array.size; i++) {
			if (i > 0)
				fputs(", ", stdout);
			print_object(&o->via.array.ptr[i], depth + 1);
		}
		putchar(']');
		break;
	case MSGPACK_OBJECT_MAP:
		putchar('{');
		for (i = 0; i < o->via.map.size; i++) {
			if (i > 0)
				fputs(", ", stdout);
			print_object(&o->via.map.ptr[i].key, depth + 1);
			fputs(": ", stdout);
			print_object(&o->via.map.ptr[i].val, depth + 1);
		}
		putchar('}');
		break;
	case MSGPACK_OBJECT_EXT:
		printf("ext(%d, %" PRIu32 " bytes)", o->via.ext.type,
		    o->via.ext.size);
		break;
	default:
		fputs("?", stdout);
		break;
	}
}

/* Print a map on one line as key=value pairs. */
static void
print_fields(const msgpack_object_map *m)
{
	uint32_t	i;

	for (i = 0; i < m->size; i++) {
		if (i > 0)
			putchar(' ');
		print_object(&m->ptr[i].key, 1);
		putchar('=');
		print_object(&m->ptr[i].val, 1);
	}
}

/* A value that is an array of maps (stats' raft: a cluster's shards), one
 * "key: k=v ..." line per map; false for any other value. */
static bool
print_map_list(const msgpack_object_kv *kv)
{
	const msgpack_object	*v = &kv->val;
	uint32_t		 i;

	if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size == 0)
		return false;
	for (i = 0; i < v->via.array.size; i++)
		if (v->via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
			return false;
	for (i = 0; i < v->via.array.size; i++) {
		print_object(&kv->key, 1);
		fputs(": ", stdout);
		print_fields(&v->via.array.ptr[i].via.map);
		putchar('\n');
	}
	return true;
}

/* Print stats (a map: one "key: value" a line) or list (one object a line). */
int
print_result(const char *what, const void *buf, size_t len, bool list)
{
	msgpack_unpacked	 up;
	const msgpack_object	*o;
	uint32_t		 i;
	size_t			 off = 0;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		fprintf(stderr, "qlock: %s: cannot decode the result\n", what);
		msgpack_unpacked_destroy(&up);
		return EXIT_ERROR;
	}
	o = &up.data;
	if (!list && o->type == MSGPACK_OBJECT_MAP) {
		for (i = 0; i < o->via.map.size; i++) {
			if (print_map_list(&o->via.map.ptr[i]))
				continue;
			print_object(&o->via.map.ptr[i].key, 1);
			fputs(": ", stdout);
			print_object(&o->via.map.ptr[i].val, 1);
			putchar('\n');
		}
	} else if (list && o->type == MSGPACK_OBJECT_ARRAY) {
		for (i = 0; i < o->via.array.size; i++) {
			if (o->via.array.ptr[i].type == MSGPACK_OBJECT_MAP)
				print_fields(&o->via.array.ptr[i].via.map);
			else
				print_object(&o->via.array.ptr[i], 1);
			putchar('\n');
		}
	} else {
		print_object(o, 0);
		putchar('\n');
	}
	msgpack_unpacked_destroy(&up);
	return EXIT_DONE;
}

/* Parse a timeout in seconds; negative means for ever. */
int
parse_timeout(const char *s, double *t)
{
	char	*end;

	errno = 0;
	*t = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || isnan(*t))
		return -1;
	if (*t < 0)
		*t = QLOCK_FOREVER;
	return 0;
}

/* Parse a decimal 64-bit integer. */
int
parse_int(const char *s, int64_t *v)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE)
		return -1;
	*v = n;
	return 0;
}

/* Print a JSON string: quotes, backslashes and control bytes escaped. */
static void
print_json_string(const char *p, size_t len)
{
	size_t		i;
	unsigned char	ch;

	putchar('"');
	for (i = 0; i < len; i++) {
		ch = (unsigned char)p[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* Print any msgpack object as JSON: bytes as strings, integer map keys
 * quoted, what JSON cannot say (other keys, ext, NaN) as null or "?". */
void
print_json(const msgpack_object *o, int depth)
{
	const msgpack_object	*k;
	uint32_t		 i;

	switch (depth > PRINT_DEPTH ? MSGPACK_OBJECT_NIL : o->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", stdout);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		printf("%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		printf("%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (isfinite(o->via.f64))
			printf("%.17g", o->via.f64);
		else
			fputs("null", stdout);
		break;
	case MSGPACK_OBJECT_STR:
		print_json_string(o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		print_json_string(o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		putchar('[');
		for (i = 0; i < o->via.array.size; i++) {
			if (i > 0)
				putchar(',');
			print_json(&o->via.array.ptr[i], depth + 1);
		}
		putchar(']');
		break;
	case MSGPACK_OBJECT_MAP:
		putchar('{');
		for (i = 0; i < o->via.map.size; i++) {
			k = &o->via.map.ptr[i].key;
			if (i > 0)
				putchar(',');
			if (k->type == MSGPACK_OBJECT_STR ||
			    k->type == MSGPACK_OBJECT_BIN)
				print_json(k, depth + 1);
			else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				printf("\"%" PRIu64 "\"", k->via.u64);
			else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
				printf("\"%" PRId64 "\"", k->via.i64);
			else
				fputs("\"?\"", stdout);
			putchar(':');
			print_json(&o->via.map.ptr[i].val, depth + 1);
		}
		putchar('}');
		break;
	default:
		fputs("null", stdout);
		break;
	}
}
