/* xfwd.c: relaying requests to the leader of their shard (issue 13,
 * docs/HA.md "Forwarding to leaders").  Worker g of a node that does not
 * lead group g passes a named request on to the leader's worker g, over
 * an upstream connection that belongs to the requesting session: the
 * client side of the multiprocessing handshake with the daemon's key,
 * then the XFWD_MARK notification, then requests under msgids of the
 * upstream's own.  Everything runs on the worker's loop (a bufferevent:
 * nothing blocks; a leader's address by host name is resolved by the
 * worker's evdns base, afresh for each upstream).  An answer goes back to the client as it came, under
 * the client's msgid.  The upstream closes when its session ends, so the
 * leader gives back what the session held there; when it breaks, what was
 * sent has an unknown outcome (QLOCK_EUNAVAIL) and is never sent again. */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <msgpack.h>
#include <openssl/rand.h>

#include "auth.h"
#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "frame.h"
#include "frame_ev.h"
#include "log.h"
#include "mp.h"
#include "qlock.h"
#include "qmsg.h"
#include "repl.h"
#include "reply.h"
#include "session.h"
#include "sockopt.h"
#include "util.h"
#include "worker.h"
#include "xfwd.h"

/* A relayed request not answered yet. */
struct relay {
	struct hnode	 node;		/* in upstream->reqs by id */
	uint64_t	 id;		/* its msgid on the upstream */
	struct reqctx	 ctx;		/* where the answer goes */
	bool		 blocking;	/* CMD_BLOCKS */
	bool		 counted;	/* against its connection here */
	bool		 sent;		/* handed to the socket (after the
					   handshake): its outcome is the
					   leader's */
};

/* One session's connection to the leader of this worker's shard. */
struct upstream {
	struct hnode	 node;		/* in xfwd->ups by sess */
	uint64_t	 sess;
	struct worker	*w;
	struct bufferevent *bev;
	int		 leader;	/* node id */
	char		 addr[256];	/* its address for the shard */
	bool		 ready;		/* handshake done */
	struct auth	 auth;
	struct evbuffer	*queued;	/* requests framed while connecting */
	struct hmap	 reqs;		/* id -> struct relay */
	uint64_t	 next_id;
};

struct xfwd {
	struct hmap	 ups;		/* session id -> struct upstream */
	struct evdns_base *dns;		/* once a leader has a host name */
};

/* Largest answer taken from a leader (its own limits are lower). */
#define UP_FRAME_MAX	((size_t)QMSG_MAX_PAYLOAD)

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
static void
relay_free(struct upstream *up, struct relay *rl)
{
	hmap_remove(&up->reqs, &rl->node);
	if (rl->counted)
		conn_unanswered_done(conn_find(up->w, rl->ctx.sess),
		    rl->blocking);
	free(rl);
}

/* Close up; its unanswered requests are dropped. */
static void
up_free(struct upstream *up)
{
	struct hnode	*n;

	while ((n = hmap_first(&up->reqs)) != NULL)
		relay_free(up, hmap_entry(n, struct relay, node));
	hmap_free(&up->reqs);
	hmap_remove(&up->w->xfwd->ups, &up->node);
	bufferevent_free(up->bev);
	evbuffer_free(up->queued);
	free(up);
}

/* The upstream broke (or never came up; why says how): answer each
 * request on it, then close. */
static void
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

/* The handshake is done: mark the connection, send what waited. */
static void
up_ready(struct upstream *up)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct hnode	*n;

	up->ready = true;
	bufferevent_set_timeouts(up->bev, NULL, NULL);	/* calls may park */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 2);
	pack_cstr(&pk, XFWD_MARK);
	msgpack_pack_array(&pk, 0);
	frame_ev_add(bufferevent_get_output(up->bev), sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	evbuffer_add_buffer(bufferevent_get_output(up->bev), up->queued);
	for (n = hmap_first(&up->reqs); n != NULL; n = hmap_next(&up->reqs, n))
		hmap_entry(n, struct relay, node)->sent = true;
}

/* One handshake frame; -1 if up failed (and is freed). */
static int
up_auth(struct upstream *up, const uint8_t *body, size_t len)
{
	uint8_t	out[AUTH_MSG_MAX];
	size_t	outlen;
	char	why[160];

	switch (auth_input(&up->auth, body, len, out, &outlen)) {
	case AUTH_CONTINUE:
		if (outlen > 0)
			frame_ev_add(bufferevent_get_output(up->bev), out,
			    outlen);
		return 0;
	case AUTH_OK:
		if (outlen > 0)
			frame_ev_add(bufferevent_get_output(up->bev), out,
			    outlen);
		up_ready(up);
		return 0;
	case AUTH_FAIL:
		break;
	}
	snprintf(why, sizeof(why), "failed the handshake: %s",
	    auth_why_text(up->auth.why));
	up_fail(up, why);
	return -1;
}

/* One answer [1, id, error, result]: to its client as it is, under the
 * client's msgid; -1 if up failed (and is freed). */
static int
up_answer(struct upstream *up, const uint8_t *body, size_t len)
{
	struct mp_reader rd;
	struct hnode	*n;
	struct relay	*rl;
	uint32_t	 count;
	uint64_t	 type, id;

	mp_reader_init(&rd, body, len);
	if (mp_check(body, len) == -1 || mp_read_array(&rd, &count) == -1 ||
	    count != 4 || mp_read_uint(&rd, &type) == -1 || type != 1 ||
	    mp_read_uint(&rd, &id) == -1) {
		up_fail(up, "sent a malformed answer");
		return -1;
	}
	if ((n = hmap_find(&up->reqs, &id, sizeof(id))) == NULL)
		return 0;	/* not ours (a leader's bug): nobody waits */
	rl = hmap_entry(n, struct relay, node);
	reply_relay(up->w, &rl->ctx, rd.p, (size_t)(rd.end - rd.p));
	relay_free(up, rl);
	return 0;
}

static void
up_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream	*up = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 hdr[FRAME_HDR], *p;
	size_t		 bodylen;
	int		 rc;

	while (evbuffer_get_length(in) >= FRAME_HDR) {
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if (frame_header(hdr, sizeof(hdr), up->ready ? UP_FRAME_MAX :
		    FRAME_MAX_PREAUTH, &bodylen) != FRAME_OK) {
			up_fail(up, "sent a frame over the limit");
			return;
		}
		if (evbuffer_get_length(in) < FRAME_HDR + bodylen)
			return;
		p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HDR + bodylen));
		rc = up->ready ? up_answer(up, p + FRAME_HDR, bodylen) :
		    up_auth(up, p + FRAME_HDR, bodylen);
		if (rc == -1)
			return;
		evbuffer_drain(in, FRAME_HDR + bodylen);
	}
}

static void
up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream	*up = arg;
	evutil_socket_t	 fd = bufferevent_getfd(bev);
	int		 one = 1;
	char		 why[200];

	if (what & BEV_EVENT_CONNECTED) {
		if (strncmp(up->addr, "unix:", 5) != 0) {
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
			if (sock_keepalive(fd, up->w->conf->tcp_keepalive) ==
			    -1)
				log_warn("tcp keepalive on an upstream");
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timed out (%s)", up->ready ?
		    "idle" : "connecting or authenticating");
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "was closed by the leader");
	else if (bufferevent_socket_get_dns_error(bev) != 0)
		snprintf(why, sizeof(why), "could not be resolved: %s",
		    evutil_gai_strerror(bufferevent_socket_get_dns_error(bev)));
	else
		snprintf(why, sizeof(why), "broke: %s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	up_fail(up, why);
}

/* addr (HOST:PORT with a numeric host, [V6]:PORT, unix:PATH) into ss. */
static int
up_sockaddr(const char *addr, struct sockaddr_storage *ss, int *sslen)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strncmp(addr, "unix:", 5) == 0) {
		if (strlen(addr + 5) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, addr + 5);
		*sslen = (int)sizeof(*sun);
		return 0;
	}
	*sslen = (int)sizeof(*ss);
	return evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, sslen);
}

/* Connect up->bev to addr, HOST:PORT with a host name: resolved on the
 * worker's loop (evdns: /etc/hosts, then the servers of
 * /etc/resolv.conf, as read when the first such upstream opened), the
 * first address it gives is connected to.  -1 if addr is not of that
 * form. */
static int
up_connect_name(struct upstream *up, const char *addr)
{
	struct xfwd	*x = up->w->xfwd;
	const char	*colon = strrchr(addr, ':');
	char		 host[256];
	char		*end;
	long		 port;

	if (colon == NULL || colon == addr || strncmp(addr, "unix:", 5) == 0 ||
	    (size_t)(colon - addr) >= sizeof(host) || addr[0] == '[')
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535)
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (x->dns == NULL && (x->dns = evdns_base_new(up->w->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		log_warnx("shard %d: no resolver for %s", up->w->id, addr);
		return -1;
	}
	return bufferevent_socket_connect_hostname(up->bev, x->dns, AF_UNSPEC,
	    host, (int)port);
}

/* A new upstream for sess to node leader at addr; NULL if addr is not
 * one we can connect to without blocking. */
static struct upstream *
up_open(struct worker *w, uint64_t sess, int leader, const char *addr)
{
	struct sockaddr_storage	 ss;
	struct upstream		*up;
	struct timeval		 tv;
	uint8_t			 nonce[AUTH_NONCE_LEN];
	int			 sslen, rc;
	bool			 named;

	named = up_sockaddr(addr, &ss, &sslen) == -1;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return NULL;
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
	up->queued = evbuffer_new();
	/* Deferred callbacks: none runs inside a call made here. */
	up->bev = bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (up->queued == NULL || up->bev == NULL)
		fatalx("cannot set up an upstream connection");
	auth_client_start(&up->auth, w->conf->authkey, w->conf->authkey_len,
	    nonce);
	bufferevent_setcb(up->bev, up_read_cb, NULL, up_event_cb, up);
	(void)secs_timeval(w->conf->handshake_timeout, &tv);
	bufferevent_set_timeouts(up->bev, &tv, &tv);
	if ((rc = bufferevent_enable(up->bev, EV_READ)) == 0)
		rc = named ? up_connect_name(up, addr) :
		    bufferevent_socket_connect(up->bev,
		    (struct sockaddr *)&ss, sslen);
	if (rc == -1) {
		log_info("shard %d: cannot connect to node %d at %s", w->id,
		    leader, addr);
		bufferevent_free(up->bev);
		evbuffer_free(up->queued);
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
	    (leader = repl_leader(w, addr, sizeof(addr))) == 0) {
		repl_refuse(w, &r->ctx);
		return;
	}
	up = up_find(w, r->ctx.sess);
	/* Another leader now: a new upstream, once the old one has nothing
	 * in flight (what is answers NotLeader from there, as it is). */
	if (up != NULL && (up->leader != leader ||
	    strcmp(up->addr, addr) != 0) && up->reqs.count == 0) {
		up_free(up);
		up = NULL;
	}
	if (up == NULL &&
	    (up = up_open(w, r->ctx.sess, leader, addr)) == NULL) {
		repl_refuse(w, &r->ctx);
		return;
	}
	unsent = evbuffer_get_length(up->queued) +
	    evbuffer_get_length(bufferevent_get_output(up->bev));
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
	rl->sent = up->ready;
	msgpack_sbuffer_init(&sb);
	up_encode(up, r, rl->id, &sb);
	/* On the socket once authenticated; queued until then. */
	frame_ev_add(up->ready ? bufferevent_get_output(up->bev) : up->queued,
	    sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	hmap_insert(&up->reqs, &rl->node, &rl->id, sizeof(rl->id));
	/* A sibling's client is counted there, in its forward record. */
	if (r->ctx.origin == w->id) {
		rl->counted = true;
		conn_unanswered_add(conn_find(w, r->ctx.sess), rl->blocking);
	}
	w->stats.relayed++;
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
