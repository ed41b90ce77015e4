/* xfwd.c: relaying requests to the leader of their shard (issue 13,
 * docs/HA.md "Forwarding to leaders").  Worker g of a node that does not
 * lead group g passes a named request on to the leader's worker g, over
 * an upstream connection that belongs to the requesting session
 * (xfwd_up.c: the client side of the multiprocessing handshake with the
 * daemon's key, the XFWD_MARK notification, session.resume with a token of
 * the upstream's own), then requests under msgids of the upstream's own.
 * Everything runs on the worker's loop.  An answer goes back to the
 * client as it came, under the client's msgid.  The upstream closes when
 * its session ends, so the leader gives back what the session held there.
 * When it breaks, a bound upstream follows its session to the next leader
 * (xfwd_up.c); an unbound one answers what was sent with an unknown
 * outcome (QLOCK_EUNAVAIL), never sending it again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <msgpack.h>
#include <openssl/rand.h>

#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "mp.h"
#include "qlock.h"
#include "repl.h"
#include "reply.h"
#include "session.h"
#include "util.h"
#include "worker.h"
#include "xfwd.h"
#include "xfwd_int.h"

static struct upstream *
up_find(struct worker *w, uint64_t sess)
{
	struct hnode	*n;

	if (w->xfwd == NULL ||
	    (n = hmap_find(&w->xfwd->ups, &sess, sizeof(sess))) == NULL)
		return NULL;
	return hmap_entry(n, struct upstream, node);
}

/* Forget rl (answered, failed or dropped). */
void
relay_free(struct upstream *up, struct relay *rl)
{
	hmap_remove(&up->reqs, &rl->node);
	if (!rl->sent)
		up->unsent -= rl->framelen;
	if (rl->counted)
		conn_unanswered_done(conn_find(up->w, rl->ctx.sess),
		    rl->blocking);
	free(rl->frame);
	free(rl);
}

/* Close up; its unanswered requests are dropped. */
void
up_free(struct upstream *up)
{
	struct hnode	*n;

	while ((n = hmap_first(&up->reqs)) != NULL)
		relay_free(up, hmap_entry(n, struct relay, node));
	hmap_free(&up->reqs);
	hmap_remove(&up->w->xfwd->ups, &up->node);
	if (up->bev != NULL)
		bufferevent_free(up->bev);
	if (up->retry != NULL)
		event_free(up->retry);
	free(up);
}

/* The upstream broke (or never came up; why says how) and its session
 * is not followed: answer each request on it, then close. */
void
up_fail(struct upstream *up, const char *why)
{
	struct worker	*w = up->w;
	struct hnode	*n;
	struct relay	*rl;

	log_info("shard %d: upstream to node %d at %s %s", w->id, up->leader,
	    up->addr, why);
	while ((n = hmap_first(&up->reqs)) != NULL) {
		rl = hmap_entry(n, struct relay, node);
		if (rl->sent)
			reply_error(w, &rl->ctx, QLOCK_EUNAVAIL,
			    "shard %d: the connection to its leader (node %d "
			    "at %s) %s with this request in flight: its "
			    "outcome is unknown", w->id, up->leader, up->addr,
			    why);
		else
			reply_error(w, &rl->ctx, QLOCK_ENOTLEADER, "shard %d: "
			    "cannot reach its leader (node %d at %s): %s; "
			    "nothing was done", w->id, up->leader, up->addr,
			    why);
		relay_free(up, rl);
	}
	up_free(up);
}

/* A new upstream for sess to node leader at addr, with a token of its
 * own; NULL if addr is not one we can connect to without blocking. */
static struct upstream *
up_open(struct worker *w, uint64_t sess, int leader, const char *addr)
{
	struct upstream	*up;

	if (w->xfwd == NULL) {
		w->xfwd = xcalloc(1, sizeof(*w->xfwd));
		hmap_init(&w->xfwd->ups);
	}
	up = xcalloc(1, sizeof(*up));
	up->w = w;
	up->sess = sess;
	up->leader = leader;
	snprintf(up->addr, sizeof(up->addr), "%s", addr);
	hmap_init(&up->reqs);
	if (RAND_bytes(up->token, sizeof(up->token)) != 1 ||
	    up_connect(up) == -1) {
		log_info("shard %d: cannot connect to node %d at %s", w->id,
		    leader, addr);
		hmap_free(&up->reqs);
		free(up);
		return NULL;
	}
	hmap_insert(&w->xfwd->ups, &up->node, &up->sess, sizeof(up->sess));
	log_debug("shard %d: upstream for session %llx to node %d at %s",
	    w->id, (unsigned long long)sess, leader, addr);
	return up;
}

/* The upstream id of the client's request msgid, 0 if none is in flight
 * (ids start at 1: a cancel of 0 finds nothing). */
static uint64_t
up_id_of(struct upstream *up, uint64_t msgid)
{
	struct hnode	*n;
	struct relay	*rl;

	for (n = hmap_first(&up->reqs); n != NULL;
	    n = hmap_next(&up->reqs, n)) {
		rl = hmap_entry(n, struct relay, node);
		if (rl->ctx.msgid == msgid)
			return rl->id;
	}
	return 0;
}

/* r as [0, id, method, params] into sb: the client's bytes after its
 * msgid, but a cancel's msgid parameter becomes the upstream's id. */
static void
up_encode(struct upstream *up, struct request *r, uint64_t id,
    msgpack_sbuffer *sb)
{
	struct mp_reader rd = r->params;
	msgpack_packer	 pk;
	uint32_t	 n;
	uint64_t	 v;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint64(&pk, id);
	if (strcmp(r->cmd->name, "cancel") == 0 &&
	    mp_read_uint(&rd, &v) == 0) {
		pack_cstr(&pk, r->cmd->name);
		msgpack_pack_array(&pk, 2);
		pack_str(&pk, r->name, r->namelen);
		msgpack_pack_uint64(&pk, up_id_of(up, v));
		return;
	}
	mp_reader_init(&rd, r->body, r->bodylen);
	(void)mp_read_array(&rd, &n);		/* parsed before */
	(void)mp_read_uint(&rd, &v);
	(void)mp_read_uint(&rd, &v);
	pack_raw(&pk, rd.p, (size_t)(rd.end - rd.p));
}

void
xfwd_relay(struct worker *w, struct request *r, bool norelay)
{
	struct upstream	*up;
	struct relay	*rl;
	msgpack_sbuffer	 sb;
	char		 addr[256];
	size_t		 unsent;
	int		 leader;

	if (norelay || w->stopping ||
	    (leader = up_leader(w, addr, sizeof(addr))) == 0) {
		repl_refuse(w, &r->ctx);
		return;
	}
	up = up_find(w, r->ctx.sess);
	if (up != NULL && (up->leader != leader || up->refused ||
	    strcmp(up->addr, addr) != 0)) {
		/* Another leader now (or the one asked did not serve).  A
		 * bound session follows it (what is in flight goes again if
		 * the resume allows); an unbound one gets a new upstream
		 * once the old one has nothing in flight (what is answers
		 * NotLeader from there, as it is). */
		if (up->lost)
			;	/* following already */
		else if (up->bound && up->state == UP_READY &&
		    w->conf->session_grace > 0)
			up_move(up);
		else if (up->reqs.count == 0) {
			up_free(up);
			up = NULL;
		}
	}
	if (up == NULL &&
	    (up = up_open(w, r->ctx.sess, leader, addr)) == NULL) {
		repl_refuse(w, &r->ctx);
		return;
	}
	unsent = up->unsent + (up->bev == NULL ? 0 :
	    evbuffer_get_length(bufferevent_get_output(up->bev)));
	if (unsent > w->conf->max_output) {
		reply_error(w, &r->ctx, QLOCK_ELIMIT, "shard %d: %zu bytes "
		    "wait to be sent to its leader (max-output); nothing was "
		    "done, retry", w->id, unsent);
		return;
	}
	rl = xcalloc(1, sizeof(*rl));
	rl->id = ++up->next_id;
	rl->ctx = r->ctx;
	rl->blocking = (r->cmd->flags & CMD_BLOCKS) != 0;
	msgpack_sbuffer_init(&sb);
	up_encode(up, r, rl->id, &sb);
	rl->frame = (uint8_t *)sb.data;		/* ours now */
	rl->framelen = sb.size;
	hmap_insert(&up->reqs, &rl->node, &rl->id, sizeof(rl->id));
	/* A sibling's client is counted there, in its forward record. */
	if (r->ctx.origin == w->id) {
		rl->counted = true;
		conn_unanswered_add(conn_find(w, r->ctx.sess), rl->blocking);
	}
	/* On the socket once the session is bound; kept until then. */
	up->unsent += rl->framelen;
	up_send(up, rl);
	w->stats.relayed++;
}

bool
xfwd_follows(struct worker *w, uint64_t sess)
{
	struct upstream	*up = up_find(w, sess);

	return up != NULL && up->bound;
}

bool
xfwd_is_mark(const uint8_t *body, size_t len)
{
	struct mp_reader rd;
	uint32_t	 n, mlen;
	uint64_t	 type;
	const char	*m;

	mp_reader_init(&rd, body, len);
	return mp_read_array(&rd, &n) == 0 && n == 3 &&
	    mp_read_uint(&rd, &type) == 0 && type == 2 &&
	    mp_read_str(&rd, &m, &mlen) == 0 && mlen == strlen(XFWD_MARK) &&
	    memcmp(m, XFWD_MARK, mlen) == 0;
}

void
xfwd_session_end(struct worker *w, uint64_t sess)
{
	struct upstream	*up = up_find(w, sess);

	if (up != NULL)
		up_free(up);
}

void
xfwd_worker_down(struct worker *w, int id)
{
	struct hnode	*n, *next;

	if (w->xfwd == NULL)
		return;
	for (n = hmap_first(&w->xfwd->ups); n != NULL; n = next) {
		next = hmap_next(&w->xfwd->ups, n);
		if (SESS_WORKER(hmap_entry(n, struct upstream, node)->sess) ==
		    id) {
			up_free(hmap_entry(n, struct upstream, node));
			next = hmap_first(&w->xfwd->ups);
		}
	}
}

void
xfwd_free(struct worker *w)
{
	struct hnode	*n;

	if (w->xfwd == NULL)
		return;
	while ((n = hmap_first(&w->xfwd->ups)) != NULL)
		up_free(hmap_entry(n, struct upstream, node));
	hmap_free(&w->xfwd->ups);
	if (w->xfwd->dns != NULL)
		evdns_base_free(w->xfwd->dns, 0);
	free(w->xfwd);
	w->xfwd = NULL;
}
