/* it_py_semantics.h: what it_py_semantics' files share. */
#ifndef IT_PY_SEMANTICS_H
#define IT_PY_SEMANTICS_H

#include <stdint.h>

#include <check.h>
#include <msgpack.h>

#include "harness.h"
#include "qlock.h"


/* it_py_semantics.c */
void	call_name(int fd, uint64_t msgid, const char *method, const char *name);
void	resp_ok(int fd, uint64_t msgid, struct raw_resp *r, const char *what);
void	queue_state_is(int fd, const char *name, int64_t size,
	    int64_t maxsize, int64_t joinable, int64_t unfinished);
void	barrier_state_is(int fd, const char *name, int64_t parties,
	    int64_t n_waiting, int64_t broken);
int	object_worker(qlock *c, const char *name);
void	get_str(qlock *c, const char *name, const char *s);

/* it_py_semantics_cancel.c */
void	pysem_cancel_tests(TCase *);

/* it_py_semantics_dict.c */
void	pysem_dict_tests(TCase *);
void	pysem_durable_tests(TCase *);

#endif /* IT_PY_SEMANTICS_H */
