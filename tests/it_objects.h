/* it_objects.h: what it_objects' files share: the daemon of the running
 * test, assertions, child helpers and the object listing. */
#ifndef IT_OBJECTS_H
#define IT_OBJECTS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <msgpack.h>

#include "harness.h"
#include "qlock.h"

#define WORKERS		3	/* objects spread over shards, forwarded */
#define CHILD_WAIT	QD_WAIT	/* bound on any blocking call in a child */
#define KILL_BOUND	1.0	/* seconds from SIGKILL to the hold given back */

/* Child exit codes other than results. */
#define CX_CONNECT	90	/* could not connect */
#define CX_CALL		91	/* a call failed unexpectedly */
#define CX_OTHER	92	/* anything else */

/* expr must return want; say what it returned and the server's words. */
#define IS(c, expr, want) do {						\
	int st_ = (expr);						\
	ck_assert_msg(st_ == (want), "%s: %s, expected %s (%s)", #expr,	\
	    qlock_strerror(st_), qlock_strerror(want),			\
	    qlock_last_error(c));					\
} while (0)
#define OK(c, expr)	IS(c, expr, QLOCK_OK)

/* In a child: expr must return QLOCK_OK, else exit CX_CALL. */
#define CTRY(c, expr) do {						\
	int st_ = (expr);						\
	if (st_ != QLOCK_OK)						\
		cdie(CX_CALL, c, #expr, st_);				\
} while (0)

/* One object as `list' shows it. */
struct objinfo {
	bool		found;
	char		kind[16];
	uint64_t	size;		/* items, depth, permits, parties... */
	uint64_t	waiters;
	uint64_t	holders;
};

extern pid_t	 Workers[WORKERS];	/* its workers when it was ready */

/* it_objects.c */
void	setup(void);
void	teardown(void);
void	cdie(int, qlock *, const char *, int) __attribute__((noreturn));
qlock	*cconnect(void);
void	cwrite(int fd, const void *buf, size_t len);
void	hang(void);
int	child_code(pid_t pid, double secs, const char *what);
void	child_is(pid_t pid, int want, const char *what);
void	child_kill(pid_t pid);
bool	pipe_read(int fd, void *buf, size_t len, double secs);
void	xpipe(int fds[2]);
bool	mp_streq(const msgpack_object *o, const char *s);
void	obj_info(qlock *c, const char *name, struct objinfo *oi);
void	wait_waiters(qlock *c, const char *name, uint64_t want);
void	gate_open(qlock *c, const char *gate, int n);
int64_t	dict_int(qlock *c, const char *dict, const char *key);

/* it_objects_tut.c: a barrier party (also killed in it_objects_kill.c). */
#define BAR_IDX		10	/* exit code of a party: BAR_IDX + index */
#define BAR_BROKEN	1	/* exit code: QLOCK_EBROKEN */
void	party(const char *, double, int);

/* The tests of it_objects_*.c, added to a TCase. */
void	objects_tut_tests(TCase *);
void	objects_lock_tests(TCase *);
void	objects_kill_tests(TCase *);
void	objects_cli_tests(TCase *);

#endif /* IT_OBJECTS_H */
