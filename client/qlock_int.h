/* qlock_int.h: qlock(1)'s declarations, shared by its files. */
#ifndef QLOCK_INT_H
#define QLOCK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "qlock.h"

#define EXIT_DONE	0	/* success */
#define EXIT_NOTYET	1	/* a get, wait or acquire not done in time */
#define EXIT_ERROR	2	/* any error, usage included */

/* What a command accepts besides its operands. */
#define OPT_TIMEOUT	0x1	/* --timeout S */
#define OPT_RAW		0x2	/* --raw */
#define OPT_INT		0x4	/* --int */
#define OPT_COMMAND	0x8	/* -- COMMAND... (required) */
#define OPT_WORK	0x10	/* -j N, --on-failure P, --max-attempts N */
#define OPT_JSON	0x20	/* --json */
#define OPT_FILE	0x40	/* -f FILE: the item from a file */
#define OPT_WAIT	0x80	/* -w S (as --timeout), -n (--timeout 0) */

/* A command line after parsing. */
struct args {
	const char	*what;		/* "get", "dict set"...: for messages */
	double		 timeout;	/* --timeout, QLOCK_FOREVER if absent */
	bool		 raw;		/* --raw: print the bytes exactly */
	bool		 as_int;	/* --int: dict set stores an integer */
	bool		 json;		/* --json: print the result as JSON */
	int		 npos;		/* number of operands */
	char		**pos;		/* operands (points into argv) */
	char		**cmd;		/* after "--": the command to run */
	long		 jobs;		/* work -j: commands at once */
	long		 max_attempts;	/* work --max-attempts */
	const char	*on_failure;	/* work --on-failure, NULL: requeue */
	const char	*address;	/* -a: work opens more connections */
	const char	*keyfile;	/* -k: likewise */
	double		 connect_timeout; /* -T, s; NAN: the environment's */
	bool		 verbose;	/* -v: say why the exit is 1 */
	const char	*file;		/* put -f: the item's file */
};

/* One command: its words, operand counts, options and implementation. */
struct cmd {
	const char	*group;		/* first word */
	const char	*sub;		/* second word, NULL if none */
	int		 minpos;	/* fewest operands */
	int		 maxpos;	/* most operands */
	int		 opts;		/* OPT_* accepted */
	int		(*exec)(qlock *, struct args *);
	const char	*usage;		/* operands, for the usage message */
};

#define WORK_JOBS_MAX	1024	/* most commands -j allows at once */

/* qlock.c */
qlock	*connect_with(const struct args *a, int *st);

/* qlock_print.c: results, failures and operands. */
int	outcome(qlock *c, const struct args *a, const char *name, int st);
int	read_item(const char *path, void **buf, size_t *len);
int	print_bytes(const void *p, size_t len, bool raw);
void	print_text(FILE *f, const char *p, size_t len);
int	print_result(const char *what, const void *buf, size_t len, bool list);
void	print_json(const msgpack_object *o, int depth);
int	parse_timeout(const char *s, double *t);
int	parse_int(const char *s, int64_t *v);

/* qlock_cmd.c: the commands on queues, events, dicts; stats, list. */
int	cmd_delete(qlock *c, struct args *a);
int	cmd_dict_del(qlock *c, struct args *a);
int	cmd_dict_get(qlock *c, struct args *a);
int	cmd_dict_incr(qlock *c, struct args *a);
int	cmd_dict_set(qlock *c, struct args *a);
int	cmd_event_clear(qlock *c, struct args *a);
int	cmd_event_is_set(qlock *c, struct args *a);
int	cmd_event_set(qlock *c, struct args *a);
int	cmd_event_wait(qlock *c, struct args *a);
int	cmd_get(qlock *c, struct args *a);
int	cmd_list(qlock *c, struct args *a);
int	cmd_ping(qlock *c, struct args *a);
int	cmd_put(qlock *c, struct args *a);
int	cmd_size(qlock *c, struct args *a);
int	cmd_stats(qlock *c, struct args *a);
int	cmd_state(qlock *c, struct args *a);

/* qlock_run.c: lock and sem. */
int	cmd_lock(qlock *c, struct args *a);
int	cmd_sem(qlock *c, struct args *a);

/* qlock_work.c */
int	cmd_work(qlock *c, struct args *a);

#endif /* QLOCK_INT_H */
