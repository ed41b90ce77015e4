/* cmd.h: the method table and the request a command executes. */
#ifndef CMD_H
#define CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "mp.h"
#include "object.h"
#include "waitq.h"

struct worker;

/* A decoded request, pointing into its frame body. */
struct request {
	struct reqctx	 ctx;		/* where the answer goes */
	const struct cmd *cmd;
	const uint8_t	*body;		/* the whole request, for forwarding */
	size_t		 bodylen;
	uint32_t	 nparams;
	struct mp_reader params;	/* positioned at the first parameter */
	const char	*name;		/* params[0] when the command is named */
	uint32_t	 namelen;
};

#define CMD_NAMED	0x1	/* params[0] names the object: run on its owner */
#define CMD_FANOUT	0x2	/* run on every worker, merge the partials */
#define CMD_BLOCKS	0x4	/* may park: counted apart while unanswered */
#define CMD_READ	0x8	/* changes nothing: its reply is not kept for
				   a retry (session_reply.c) */

/* One protocol method. */
struct cmd {
	const char	*name;
	int		 min_args, max_args;	/* params array length */
	int		 flags;			/* CMD_* */
	/* Run on the owner.  params is positioned after the name for named
	 * commands.  Must answer (reply_*) or park exactly once. */
	void		(*exec)(struct worker *, struct request *);
	/* CMD_FANOUT: pack this worker's partial result. */
	void		(*partial)(struct worker *, msgpack_packer *);
};

enum cmd_parse {
	CMD_PARSE_OK,
	CMD_PARSE_NOTIFY,	/* a notification: no answer is possible */
	CMD_PARSE_BAD,		/* malformed: answered with an error (msgid kept
				   when it could be read) */
};

/* Decode a request body (already mp_check'ed) into r; on CMD_PARSE_BAD the
 * error response has been sent with r->ctx. */
enum cmd_parse cmd_parse(struct worker *w, const uint8_t *body, size_t len,
	    struct request *r);
/* A request body nested deeper than MP_MAX_DEPTH (mp_check_depth said
 * MP_DEEP): answer Limit with its msgid, or nothing to a notification. */
void	cmd_refuse_deep(struct worker *w, const uint8_t *body, size_t len,
	    struct request *r);
/* The method table, for per-method counters: a method's index, the name
 * at an index, and how many there are. */
int	cmd_index(const struct cmd *c);
const char *cmd_name_at(int i);
int	cmd_count(void);
/* Route a parsed request from a client: run here, forward, or fan out. */
void	cmd_dispatch(struct worker *w, struct request *r);
/* Run a request forwarded to us as the owner. */
void	cmd_exec_forwarded(struct worker *w, const uint8_t *body, size_t len,
	    const struct reqctx *ctx);
/* Pack this worker's partial for a fan-out request body. */
void	cmd_partial(struct worker *w, const uint8_t *body, size_t len,
	    msgpack_packer *pk);

/* A peer's fan-out partial arrived (payload NULL: the peer went down). */
void	fanout_partial(struct worker *w, uint64_t tag, int peer,
	    const void *payload, size_t len);
/* Stop waiting for a dead peer's partials. */
void	fanout_peer_down(struct worker *w, int peer);

/* Parameter helpers for exec functions; each replies Proto/Inval and
 * returns -1 on a bad value. */
int	arg_timeout(struct worker *w, struct request *r, double *deadline);
int	arg_int(struct worker *w, struct request *r, int64_t *v);
int	arg_bool(struct worker *w, struct request *r, bool *v);
/* The optional giveback flag at param pos (counting the name as 0;
 * absent: true): *keep is its negation (struct object's keep). */
int	arg_giveback(struct worker *, struct request *, uint32_t pos, bool *keep);

/* How cmd_object treats a name that is not there yet. */
enum obj_lookup {
	LOOKUP_CREATE,		/* create it in its initial state */
	LOOKUP_EXISTING,	/* reply NoEnt ("open it first") */
};

struct object;
/* The object r->name of that kind; replies Type (another kind) or NoEnt
 * and returns NULL. */
struct object *cmd_object(struct worker *w, struct request *r,
	    enum obj_kind kind, enum obj_lookup how);
/* A waiter for r on o, recorded in its session (to park). */
struct waiter *cmd_waiter(struct worker *w, struct request *r, struct object *o);

/* Room in the log for a change of about bytes; replies Limit ("disk
 * full") and returns -1 when there is none: the change must not be made. */
int	cmd_reserve(struct worker *w, struct request *r, size_t bytes);

/* Exec functions, by object type (cmd_<type>.c). */
void	cmd_queue_open(struct worker *, struct request *);
void	cmd_queue_put(struct worker *, struct request *);
void	cmd_queue_get(struct worker *, struct request *);
void	cmd_queue_size(struct worker *, struct request *);
void	cmd_queue_state(struct worker *, struct request *);
void	cmd_queue_task_done(struct worker *, struct request *);
void	cmd_queue_join(struct worker *, struct request *);
void	cmd_lock_open(struct worker *, struct request *);
void	cmd_lock_acquire(struct worker *, struct request *);
void	cmd_lock_release(struct worker *, struct request *);
void	cmd_sem_open(struct worker *, struct request *);
void	cmd_sem_acquire(struct worker *, struct request *);
void	cmd_sem_release(struct worker *, struct request *);
void	cmd_sem_value(struct worker *, struct request *);
void	cmd_event_set(struct worker *, struct request *);
void	cmd_event_clear(struct worker *, struct request *);
void	cmd_event_is_set(struct worker *, struct request *);
void	cmd_event_wait(struct worker *, struct request *);
void	cmd_cond_acquire(struct worker *, struct request *);
void	cmd_cond_release(struct worker *, struct request *);
void	cmd_cond_wait(struct worker *, struct request *);
void	cmd_cond_notify(struct worker *, struct request *);
void	cmd_cond_notify_all(struct worker *, struct request *);
void	cmd_barrier_open(struct worker *, struct request *);
void	cmd_barrier_wait(struct worker *, struct request *);
void	cmd_barrier_abort(struct worker *, struct request *);
void	cmd_barrier_reset(struct worker *, struct request *);
void	cmd_barrier_state(struct worker *, struct request *);
void	cmd_cancel(struct worker *, struct request *);
void	cmd_dict_set(struct worker *, struct request *);
void	cmd_dict_get(struct worker *, struct request *);
void	cmd_dict_del(struct worker *, struct request *);
void	cmd_dict_len(struct worker *, struct request *);
void	cmd_dict_keys(struct worker *, struct request *);
void	cmd_dict_incr(struct worker *, struct request *);
void	cmd_dict_cas(struct worker *, struct request *);
void	cmd_dict_items(struct worker *, struct request *);
void	cmd_dict_values(struct worker *, struct request *);
void	cmd_dict_clear(struct worker *, struct request *);
void	cmd_dict_pop(struct worker *, struct request *);
void	cmd_dict_popitem(struct worker *, struct request *);
void	cmd_dict_setdefault(struct worker *, struct request *);
void	cmd_dict_update(struct worker *, struct request *);
void	cmd_session_resume(struct worker *, struct request *);

/* Answer a woken waiter (by its op), recording what it now holds. */
void	cmd_queue_answer(struct worker *, struct waiter *);
void	cmd_lock_answer(struct worker *, struct waiter *);
/* A cond.wait waiter stops waiting for a notify (timeout, cancel) with
 * outcome: it queues for its lock, and answers once it holds it. */
void	cmd_cond_requeue(struct worker *, struct waiter *, int outcome);
void	cmd_sem_answer(struct worker *, struct waiter *);
void	cmd_event_answer(struct worker *, struct waiter *);
void	cmd_barrier_answer(struct worker *, struct waiter *);

#endif
