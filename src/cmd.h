/* cmd.h: the method table and the request a command executes. */
#ifndef CMD_H
#define CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "mp.h"
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

/* Exec functions, by object type (cmd_<type>.c). */
void	cmd_queue_open(struct worker *, struct request *);
void	cmd_queue_put(struct worker *, struct request *);
void	cmd_queue_get(struct worker *, struct request *);
void	cmd_queue_size(struct worker *, struct request *);
void	cmd_queue_task_done(struct worker *, struct request *);
void	cmd_queue_join(struct worker *, struct request *);
/* Answer a woken or timed-out queue waiter. */
void	cmd_queue_answer(struct worker *, struct waiter *);

#endif
