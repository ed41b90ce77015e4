/* xfwd.h: cluster forwarding (issue 13): a named request for a shard this
 * node does not lead is relayed to the leader's worker for the shard (or,
 * when it has no address of its own, to the leader node's listener, whose
 * worker passes it on) over an upstream connection of the requesting
 * session, and the leader's answer is relayed back.  One upstream per
 * session and worker, opened when first needed, bound to a token of its
 * own (session.resume) and following that session to the next leader when
 * the leader's connection breaks, closed when the session ends (so the
 * leader gives back what the session held there). */
#ifndef XFWD_H
#define XFWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct request;
struct worker;

/* A forwarding tag (QMSG_REQ_FORWARD) with this bit carries a request of
 * an upstream connection to a sibling: it must not be relayed again. */
#define XFWD_TAG_NORELAY	(1ULL << 63)
/* The notification an upstream sends first: [2, "relayed", []].  The
 * connection's requests are then never relayed further (no loops). */
#define XFWD_MARK		"relayed"

/* Answer r, which this worker does not serve (repl_serving is false):
 * relay it to its shard's leader when one is known and norelay is
 * false, else NotLeader (repl_refuse). */
void	xfwd_relay(struct worker *w, struct request *r, bool norelay);
/* Is sess's session on this shard bound through an upstream?  Its
 * requests then keep going there, also once this worker serves the shard
 * itself (the upstream reconnects to it: the session's holds, kept reply
 * and msgids are the upstream's). */
bool	xfwd_follows(struct worker *w, uint64_t sess);
/* Is body the XFWD_MARK notification? */
bool	xfwd_is_mark(const uint8_t *body, size_t len);
/* Session sess ended: close its upstream here (its in-flight requests
 * have nobody to answer). */
void	xfwd_session_end(struct worker *w, uint64_t sess);
/* Sibling id died: the sessions of its connections ended. */
void	xfwd_worker_down(struct worker *w, int id);
/* Close every upstream (worker_free). */
void	xfwd_free(struct worker *w);

#endif
