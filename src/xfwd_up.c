/* xfwd_up.c: an upstream's connection to a shard's leader (docs/HA.md,
 * "Forwarding to leaders").  A bufferevent on the worker's loop (nothing
 * blocks; a leader's address by host name is resolved by the worker's
 * evdns base, afresh for each connection): the client side of the
 * multiprocessing handshake with the daemon's key, the XFWD_MARK
 * notification, then session.resume with the upstream's token, which
 * binds the session the leader keeps for it (docs/HA-SESSIONS.md), and
 * the requests right behind it.  When the connection of a
 * bound session breaks, it follows the session to the next leader, as a
 * routing client does (client/lq_follow.c): every 50-200 ms, for at most
 * --session-grace, it connects to whoever leads now and resumes with the
 * same token; a request that was in flight is sent again under its msgid,
 * once, if the session resumed and the leader's kept reply is of this
 * request or an earlier one (it is then answered from the kept reply, or
 * done now, never twice), else it is answered Unavail (outcome unknown).
 * Requests that came meanwhile follow, in order. */
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
#include "clock.h"
#include "config.h"
#include "frame.h"
#include "frame_ev.h"
#include "log.h"
#include "mp.h"
#include "qlock.h"
#include "qmsg.h"
#include "repl.h"
#include "reply.h"
#include "sockopt.h"
#include "topo.h"
#include "util.h"
#include "worker.h"
#include "xfwd.h"
#include "xfwd_int.h"

/* Largest answer taken from a leader (its own limits are lower). */
#define UP_FRAME_MAX	((size_t)QMSG_MAX_PAYLOAD)
/* Between tries to reach the next leader: doubling from min to max. */
#define FOLLOW_MIN	0.05
#define FOLLOW_MAX	0.2

/* Does this node bind its upstreams' sessions?  Not with --worker-ports
 * off: an upstream then reaches the leader node's listener, whose worker
 * may be another shard's (it passes requests on over the mesh, under its
 * own session), so a token bound there would not be the shard's. */
static bool
up_binds(const struct worker *w)
{
	return w->conf->worker_ports == NULL ||
	    strcmp(w->conf->worker_ports, "off") != 0;
}

int
up_leader(struct worker *w, char *buf, size_t len)
{
	const struct topo *t = w->conf->topo;
	const char	*a;

	if (!repl_serving(w))
		return repl_leader(w, buf, len);
	if (t == NULL || t->nown == 0)
		return 0;
	a = t->addrs[w->id * t->stride];
	if (strncmp(a, "0.0.0.0:", 8) == 0)
		snprintf(buf, len, "127.0.0.1:%s", a + 8);
	else if (strncmp(a, "[::]:", 5) == 0)
		snprintf(buf, len, "[::1]:%s", a + 5);
	else
		snprintf(buf, len, "%s", a);
	return w->conf->node_id;
}

/* Put rl on the socket (it was sent before if rl->sent: again). */
static void
up_put(struct upstream *up, struct relay *rl)
{
	frame_ev_add(bufferevent_get_output(up->bev), rl->frame, rl->framelen);
	if (!rl->sent)
		up->unsent -= rl->framelen;
	rl->sent = true;
}

void
up_send(struct upstream *up, struct relay *rl)
{
	if (up->state == UP_READY)
		up_put(up, rl);
}

static int
relay_cmp(const void *a, const void *b)
{
	const struct relay *x = *(struct relay *const *)a;
	const struct relay *y = *(struct relay *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The session is bound (resumed: it was the one of the key, whose kept
 * reply is of request last), or will not be: the requests go out in the
 * order of their ids, those lost with a broken connection again if the
 * resume allows, and the upstream is ready. */
static void
up_ready(struct upstream *up, bool resumed, uint64_t last)
{
	struct worker	*w = up->w;
	struct relay	**v;
	struct hnode	*n;
	size_t		 i, nv = 0;

	v = xcalloc(up->reqs.count + 1, sizeof(*v));
	for (n = hmap_first(&up->reqs); n != NULL; n = hmap_next(&up->reqs, n))
		v[nv++] = hmap_entry(n, struct relay, node);
	qsort(v, nv, sizeof(*v), relay_cmp);
	for (i = 0; i < nv; i++) {
		if (!v[i]->sent)
			up_put(up, v[i]);
		else if (resumed && last <= v[i]->id && !v[i]->resent) {
			v[i]->resent = true;
			up_put(up, v[i]);
		} else {
			reply_error(w, &v[i]->ctx, QLOCK_EUNAVAIL, "shard %d: "
			    "the connection to its leader broke with this "
			    "request in flight and its session %s: its "
			    "outcome is unknown", w->id, v[i]->resent ?
			    "broke again after it was sent again" : resumed ?
			    "resumed past it" : "did not resume");
			relay_free(up, v[i]);
		}
	}
	free(v);
	if (up->lost)
		log_info("shard %d: session %llx follows the leader, node %d "
		    "at %s (%s, %zu requests in flight)", w->id,
		    (unsigned long long)up->sess, up->leader, up->addr,
		    resumed ? "resumed" : "not resumed", up->reqs.count);
	up->state = UP_READY;
	up->lost = false;
	bufferevent_set_timeouts(up->bev, NULL, NULL);	/* calls may park */
}

/* The handshake is done: mark the connection, bind the session. */
static void
up_authed(struct upstream *up)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 2);
	pack_cstr(&pk, XFWD_MARK);
	msgpack_pack_array(&pk, 0);
	frame_ev_add(bufferevent_get_output(up->bev), sb.data, sb.size);
	if (!up_binds(up->w)) {
		msgpack_sbuffer_destroy(&sb);
		up_ready(up, false, 0);
		return;
	}
	msgpack_sbuffer_clear(&sb);
	up->resume_id = ++up->next_id;
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint64(&pk, up->resume_id);
	pack_cstr(&pk, "session.resume");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_bin(&pk, sizeof(up->token));
	msgpack_pack_bin_body(&pk, up->token, sizeof(up->token));
	frame_ev_add(bufferevent_get_output(up->bev), sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	/* A new session: its requests follow the resume at once (the leader
	 * binds it first); one that follows its session to a new leader
	 * waits for the answer, which says what to send again. */
	if (up->lost)
		up->state = UP_RESUMING;
	else
		up_ready(up, false, 0);
}

/* One handshake frame; -1 if up broke. */
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
		up_authed(up);
		return 0;
	case AUTH_FAIL:
		break;
	}
	snprintf(why, sizeof(why), "failed the handshake: %s",
	    auth_why_text(up->auth.why));
	up_broken(up, why);
	return -1;
}

/* The answer to session.resume, rd at its error; -1 if up broke. */
static int
up_resumed(struct upstream *up, struct mp_reader *rd)
{
	const char	*s;
	uint32_t	 n, slen;
	uint64_t	 last = 0;
	bool		 resumed = false, b;

	up->resume_id = 0;
	if (mp_read_nil(rd) == 0) {
		if (mp_read_map(rd, &n) == -1)
			n = 0;
		while (n-- > 0 && mp_read_str(rd, &s, &slen) == 0) {
			if (slen == 7 && memcmp(s, "resumed", 7) == 0 &&
			    mp_read_bool(rd, &b) == 0)
				resumed = b;
			else if (slen == 4 && memcmp(s, "last", 4) == 0 &&
			    mp_read_uint(rd, &last) == 0)
				;
			else if (mp_skip(rd, NULL, NULL) == -1)
				break;
		}
		up->bound = true;
		if (up->state != UP_READY)
			up_ready(up, resumed, last);
		return 0;
	}
	if (mp_read_array(rd, &n) == 0 && n == 2 &&
	    mp_read_str(rd, &s, &slen) == 0 && slen == 9 &&
	    memcmp(s, "NotLeader", 9) == 0) {
		/* Not serving the shard (yet): nothing was done.  A new
		 * session's requests, sent behind, get the same answer; its
		 * upstream is replaced once idle (xfwd_relay). */
		if (up->state != UP_READY) {
			up_broken(up, "does not serve the shard yet");
			return -1;
		}
		up->refused = true;
		return 0;
	}
	/* An earlier version, or a refused token: served unbound. */
	log_info("shard %d: node %d at %s did not bind an upstream's session",
	    up->w->id, up->leader, up->addr);
	up->bound = false;
	if (up->state != UP_READY)
		up_ready(up, false, 0);
	return 0;
}

/* One answer [1, id, error, result]: to its client as it is, under the
 * client's msgid; -1 if up broke. */
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
		up_broken(up, "sent a malformed answer");
		return -1;
	}
	if (up->resume_id != 0 && id == up->resume_id)
		return up_resumed(up, &rd);
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
	bool		 authed;

	while (evbuffer_get_length(in) >= FRAME_HDR) {
		authed = up->state != UP_CONNECTING;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if (frame_header(hdr, sizeof(hdr), authed ? UP_FRAME_MAX :
		    FRAME_MAX_PREAUTH, &bodylen) != FRAME_OK) {
			up_broken(up, "sent a frame over the limit");
			return;
		}
		if (evbuffer_get_length(in) < FRAME_HDR + bodylen)
			return;
		p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HDR + bodylen));
		rc = authed ? up_answer(up, p + FRAME_HDR, bodylen) :
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
		snprintf(why, sizeof(why), "timed out (%s)",
		    up->state == UP_READY ? "idle" :
		    "connecting, authenticating or binding its session");
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "was closed by the leader");
	else if (bufferevent_socket_get_dns_error(bev) != 0)
		snprintf(why, sizeof(why), "could not be resolved: %s",
		    evutil_gai_strerror(bufferevent_socket_get_dns_error(bev)));
	else
		snprintf(why, sizeof(why), "broke: %s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	up_broken(up, why);
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

int
up_connect(struct upstream *up)
{
	struct worker		*w = up->w;
	struct sockaddr_storage	 ss;
	struct timeval		 tv;
	uint8_t			 nonce[AUTH_NONCE_LEN];
	int			 sslen, rc;
	bool			 named;

	named = up_sockaddr(up->addr, &ss, &sslen) == -1;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -1;
	/* Deferred callbacks: none runs inside a call made here. */
	up->bev = bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (up->bev == NULL)
		fatalx("cannot set up an upstream connection");
	auth_client_start(&up->auth, w->conf->authkey, w->conf->authkey_len,
	    nonce);
	bufferevent_setcb(up->bev, up_read_cb, NULL, up_event_cb, up);
	(void)secs_timeval(w->conf->handshake_timeout, &tv);
	bufferevent_set_timeouts(up->bev, &tv, &tv);
	if ((rc = bufferevent_enable(up->bev, EV_READ)) == 0)
		rc = named ? up_connect_name(up, up->addr) :
		    bufferevent_socket_connect(up->bev,
		    (struct sockaddr *)&ss, sslen);
	if (rc == -1) {
		bufferevent_free(up->bev);
		up->bev = NULL;
		return -1;
	}
	up->state = UP_CONNECTING;
	return 0;
}

/* The next try to reach the shard's leader and resume there. */
static void
up_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*up = arg;
	struct worker	*w = up->w;
	struct timeval	 tv;
	char		 addr[256], why[160];
	int		 leader;

	(void)fd;
	(void)what;
	if (w->stopping) {
		up_fail(up, "broke and the worker stops");
		return;
	}
	if (now_mono() >= up->give_up) {
		snprintf(why, sizeof(why), "broke and no leader took its "
		    "session again within --session-grace (%d ms)",
		    w->conf->session_grace);
		up_fail(up, why);
		return;
	}
	if ((leader = up_leader(w, addr, sizeof(addr))) != 0) {
		up->leader = leader;
		snprintf(up->addr, sizeof(up->addr), "%s", addr);
		if (up_connect(up) == 0)
			return;
	}
	(void)secs_timeval(up->backoff, &tv);
	up->backoff = up->backoff * 2 > FOLLOW_MAX ? FOLLOW_MAX :
	    up->backoff * 2;
	evtimer_add(up->retry, &tv);
}

void
up_broken(struct upstream *up, const char *why)
{
	struct worker	*w = up->w;
	struct timeval	 tv;

	if (!up->bound || w->stopping || w->conf->session_grace <= 0) {
		up_fail(up, why);
		return;
	}
	if (!up->lost) {
		log_info("shard %d: upstream of session %llx to node %d at %s "
		    "%s: following its session to the next leader", w->id,
		    (unsigned long long)up->sess, up->leader, up->addr, why);
		up->lost = true;
		up->give_up = now_mono() + w->conf->session_grace / 1000.0;
		up->backoff = FOLLOW_MIN;
	} else
		log_debug("shard %d: upstream to node %d at %s %s", w->id,
		    up->leader, up->addr, why);
	if (up->bev != NULL) {
		bufferevent_free(up->bev);
		up->bev = NULL;
	}
	up->resume_id = 0;
	up->state = UP_WAITING;
	if (up->retry == NULL &&
	    (up->retry = evtimer_new(w->base, up_retry_cb, up)) == NULL)
		fatalx("cannot set up an upstream's timer");
	(void)secs_timeval(up->backoff, &tv);
	evtimer_add(up->retry, &tv);
}

void
up_move(struct upstream *up)
{
	up_broken(up, "is to an earlier leader");
}
