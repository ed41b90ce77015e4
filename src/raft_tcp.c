/* raft_tcp.c: qlockd's transport for libraft (src/raft_tcp.h).
 *
 * Each raft connection carries one direction of traffic (the connecting
 * side writes, the accepting side reads), and raft is handed the stream
 * only after this exchange, all fields big-endian:
 *
 *   C -> A  hello: "QLR1", group u32, from id u64, to id u64, address
 *           length u16, nonce_c[32], the connector's raft address
 *   A -> C  nonce_a[32], HMAC(key, "A" | hello | nonce_a)
 *   C -> A  HMAC(key, "C" | hello | nonce_a)
 *   A -> C  "QLOK"
 *
 * Both nonces are fresh (RAND_bytes), so neither MAC can be replayed; the
 * label keeps one side's MAC from serving as the other's; the hello binds
 * the group, both ids and the connector's address.  A refuses a hello for
 * another group or another id, from an id not among the members
 * (raft_tcp_member: --peer) or its own, and a wrong MAC; C refuses a
 * wrong MAC.  A refused stream is closed; nothing of it reaches raft.
 * Every read is of exactly the bytes the next message needs (no buffering
 * past it), so the stream holds nothing of raft's when it is handed over;
 * a handshake not done within RT_HANDSHAKE_MS is closed, and at most
 * RT_MAX_PENDING inbound handshakes wait at once (one more closes the
 * oldest).  After the handshake raft gets one end of a socketpair, and a
 * relay (raft_tcp_rec.c) carries its bytes over the TCP stream in
 * authenticated, encrypted records; a side stream (hello magic "QLS2")
 * too, both ways. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>
#include <sys/socket.h>

#include "log.h"
#include "raft_tcp_int.h"

/* Log a connection refused or closed through its peer or its key, unless
 * another of its class was logged within RT_LOG_EVERY_MS (a scanner must
 * not flood the log). */
void
rtcp_warn(struct rt *rt, int cls, bool inbound, bool claimed,
    const char *where, raft_id peer_id, const char *verb, const char *why)
{
	uint64_t	 now = uv_now(rt->loop);
	char		 more[64] = "", node[48] = "";

	if (now < rt->log_next[cls]) {
		rt->suppressed[cls]++;
		return;
	}
	if (rt->suppressed[cls] > 0)
		snprintf(more, sizeof(more), " (and %llu more before)",
		    (unsigned long long)rt->suppressed[cls]);
	if (peer_id != 0)
		snprintf(node, sizeof(node), " (node %llu%s)",
		    (unsigned long long)peer_id, claimed ? ", claimed" : "");
	log_warnx("raft shard %d: %s the connection %s %s%s: %s%s",
	    rt->group, verb, inbound ? "from" : "to", where, node, why, more);
	rt->suppressed[cls] = 0;
	rt->log_next[cls] = now + RT_LOG_EVERY_MS;
}

/* A handshake failed through the peer or its key: count it and log it. */
static void
rt_refuse(struct hs *h, const char *why)
{
	h->rt->stats.refused++;
	rtcp_warn(h->rt, RT_LOG_HS, h->inbound, h->inbound, h->where,
	    h->peer_id, "refused", why);
}

static void
hs_link(struct hs *h)
{
	struct rt	*rt = h->rt;

	h->prev = rt->tail;
	if (rt->tail != NULL)
		rt->tail->next = h;
	else
		rt->head = h;
	rt->tail = h;
	if (h->inbound)
		rt->npending_in++;
}

void
rtcp_maybe_closed(struct rt *rt)
{
	raft_uv_transport_close_cb cb;

	if (!rt->closing || rt->head != NULL || rt->relays != NULL ||
	    rt->listener_open || rt->close_cb == NULL)
		return;
	cb = rt->close_cb;
	rt->close_cb = NULL;
	cb(rt->t);
}

/* Free h once nothing of libuv refers to it any more; a connect request
 * still unanswered gets its answer here. */
static void
hs_release(struct hs *h)
{
	struct rt	*rt = h->rt;

	if (h->tcp_open || h->timer_open || h->resolving)
		return;
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		rt->head = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	else
		rt->tail = h->prev;
	if (h->inbound && h->state != HS_DONE)
		rt->npending_in--;
	if (!h->inbound && !h->cb_done) {
		h->cb_done = true;
		if (h->side)
			h->side_cb(h->side_arg, h->peer_id, NULL, -1);
		else
			h->cb(h->req, NULL, rt->closing ? RAFT_CANCELED :
			    RAFT_NOCONNECTION);
	}
	free(h);
	rtcp_maybe_closed(rt);
}

static void
hs_tcp_closed(uv_handle_t *handle)
{
	struct hs	*h = handle->data;

	raft_free(handle);
	h->tcp = NULL;
	h->tcp_open = false;
	hs_release(h);
}

static void
hs_timer_closed(uv_handle_t *handle)
{
	struct hs	*h = handle->data;

	h->timer_open = false;
	hs_release(h);
}

/* Close what h holds (the stream too, unless raft has it). */
static void
hs_close(struct hs *h)
{
	if (h->timer_open && !uv_is_closing((uv_handle_t *)&h->timer))
		uv_close((uv_handle_t *)&h->timer, hs_timer_closed);
	if (h->tcp_open && h->state != HS_DONE &&
	    !uv_is_closing((uv_handle_t *)h->tcp))
		uv_close((uv_handle_t *)h->tcp, hs_tcp_closed);
	if (h->resolving)
		(void)uv_cancel((uv_req_t *)&h->gai);
	hs_release(h);
}

/* Give up on h; why (non-NULL) is a refusal to count and log. */
void
rtcp_refuse(struct hs *h, const char *why)
{
	if (h->state == HS_FAILED || h->state == HS_DONE)
		return;
	if (why != NULL)
		rt_refuse(h, why);
	h->state = HS_FAILED;
	hs_close(h);
}

void
rtcp_fail(struct hs *h, int uverr)
{
	if (h->state != HS_FAILED && h->state != HS_DONE)
		log_debug("raft shard %d: connection %s %s: %s", h->rt->group,
		    h->inbound ? "from" : "to", h->where, uv_strerror(uverr));
	rtcp_refuse(h, NULL);
}

static void
hs_timeout(uv_timer_t *timer)
{
	struct hs	*h = timer->data;

	if (h->state == HS_RESOLVE || h->state == HS_CONNECT)
		rtcp_fail(h, UV_ETIMEDOUT);	/* no peer: no refusal */
	else
		rtcp_refuse(h, "handshake timed out");
}

/* The handshake is done and nothing of ours is pending on the stream:
 * hand raft (or the side handler) its end of the relay (raft_tcp_rec.c). */
void
rtcp_done(struct hs *h)
{
	struct rt	*rt = h->rt;
	uv_stream_t	*s = (uv_stream_t *)h->tcp;
	int		 rv;

	(void)uv_read_stop(s);
	h->state = HS_DONE;
	rv = rtcp_rec_start(h, &s);
	h->tcp = NULL;
	h->tcp_open = false;		/* the relay's now */
	if (rv != 0) {
		log_warnx("raft shard %d: %sconnection %s %s: no relay: %s",
		    rt->group, h->side ? "side " : "", h->inbound ? "from" :
		    "to", h->where, uv_strerror(rv));
		if (h->inbound)
			rt->npending_in--;
	} else if (h->side) {
		/* A read round's side stream (repl_readidx.c). */
		if (h->inbound)
			rt->npending_in--;
		h->cb_done = true;
		(h->inbound ? rt->side_cb : h->side_cb)(h->inbound ?
		    rt->side_arg : h->side_arg, h->peer_id, s, 0);
	} else if (h->inbound) {
		rt->npending_in--;
		rt->stats.accepted++;
		rt->accept_cb(rt->t, h->peer_id, h->addr, s);
	} else {
		rt->stats.connected++;
		h->cb_done = true;
		h->cb(h->req, s, 0);
	}
	hs_close(h);
}

/* Peer's ip:port into h->where. */
static void
hs_where(struct hs *h)
{
	struct sockaddr_storage	ss;
	int			len = sizeof(ss);
	char			host[INET6_ADDRSTRLEN] = "?";
	int			port = 0;

	if (uv_tcp_getpeername(h->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *in = (void *)&ss;

			uv_ip4_name(in, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (void *)&ss;

			uv_ip6_name(in6, host, sizeof(host));
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(h->where, sizeof(h->where), "%s:%d", host, port);
}

static struct hs *
hs_new(struct rt *rt, bool inbound)
{
	struct hs	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->rt = rt;
	h->inbound = inbound;
	if ((h->tcp = raft_malloc(sizeof(*h->tcp))) == NULL) {
		free(h);
		return NULL;
	}
	uv_tcp_init(rt->loop, h->tcp);
	h->tcp->data = h;
	h->tcp_open = true;
	uv_timer_init(rt->loop, &h->timer);
	h->timer.data = h;
	h->timer_open = true;
	uv_timer_start(&h->timer, hs_timeout, RT_HANDSHAKE_MS, 0);
	hs_link(h);
	return h;
}

static void
rt_accept_cb(uv_stream_t *server, int status)
{
	struct rt	*rt = server->data;
	struct hs	*h, *old;

	if (rt->closing || status < 0)
		return;
	if ((h = hs_new(rt, true)) == NULL)
		return;		/* the connection waits in the backlog */
	if (uv_accept(server, (uv_stream_t *)h->tcp) != 0) {
		rtcp_fail(h, UV_EIO);
		return;
	}
	(void)uv_tcp_nodelay(h->tcp, 1);
	hs_where(h);
	/* Room for it: the oldest inbound handshake goes. */
	if (rt->npending_in > RT_MAX_PENDING)
		for (old = rt->head; old != NULL; old = old->next)
			if (old->inbound && old->state != HS_FAILED &&
			    old->state != HS_DONE) {
				rtcp_refuse(old, "too many handshakes at once");
				break;
			}
	rtcp_hs_inbound(h);
}

/* "host:port" or "[v6]:port" into host and port (both NUL-terminated). */
static int
rt_split(const char *address, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char	*colon = strrchr(address, ':');
	size_t		 hl;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= portlen)
		return -1;
	hl = (size_t)(colon - address);
	if (hl >= 2 && address[0] == '[' && address[hl - 1] == ']') {
		address++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, address, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int
rt_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct rt	*rt = t->impl;

	if (strlen(address) > RT_ADDR_MAX) {
		snprintf(t->errmsg, sizeof(t->errmsg), "address too long");
		return RAFT_NAMETOOLONG;
	}
	rt->id = id;
	snprintf(rt->address, sizeof(rt->address), "%s", address);
	return 0;
}

static int
rt_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct rt	*rt = t->impl;
	struct addrinfo	 hints, *res;
	char		 host[RT_ADDR_MAX + 1], port[16];
	int		 rv;

	if (rt_split(rt->address, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		snprintf(t->errmsg, sizeof(t->errmsg), "bad address %.100s",
		    rt->address);
		return RAFT_INVALID;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "%.100s: %s",
		    rt->address, gai_strerror(rv));
		log_warnx("raft shard %d: %s", rt->group, t->errmsg);
		return RAFT_IOERR;
	}
	uv_tcp_init(rt->loop, &rt->listener);
	rt->listener.data = rt;
	rt->listener_open = true;
	rv = uv_tcp_bind(&rt->listener, res->ai_addr, 0);
	freeaddrinfo(res);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&rt->listener, RT_BACKLOG,
		    rt_accept_cb);
	if (rv != 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "listen on %.100s: %s",
		    rt->address, uv_strerror(rv));
		/* raft_start's own message does not carry it. */
		log_warnx("raft shard %d: %s", rt->group, t->errmsg);
		return RAFT_IOERR;
	}
	rt->accept_cb = cb;
	return 0;
}

static void
hs_connect_cb(uv_connect_t *req, int status)
{
	struct hs	*h = req->data;

	if (h->state == HS_FAILED)
		return;
	if (status < 0) {
		rtcp_fail(h, status);
		return;
	}
	(void)uv_tcp_nodelay(h->tcp, 1);
	hs_where(h);
	rtcp_hs_outbound(h);
}

static int
hs_connect_to(struct hs *h, const struct sockaddr *sa)
{
	h->state = HS_CONNECT;
	h->conn.data = h;
	return uv_tcp_connect(&h->conn, h->tcp, sa, hs_connect_cb);
}

static void
hs_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct hs	*h = req->data;

	h->resolving = false;
	if (h->state == HS_FAILED || status < 0) {
		if (res != NULL)
			uv_freeaddrinfo(res);
		if (h->state == HS_FAILED)
			hs_release(h);
		else
			rtcp_fail(h, status);
		return;
	}
	status = hs_connect_to(h, res->ai_addr);
	uv_freeaddrinfo(res);
	if (status != 0)
		rtcp_fail(h, status);
}

/* Connect to id at address, for raft (req, cb) or a side stream (side_cb
 * and side_arg). */
static int
hs_connect(struct rt *rt, raft_id id, const char *address,
    struct raft_uv_connect *req, raft_uv_connect_cb cb,
    raft_tcp_side_cb side_cb, void *side_arg)
{
	struct hs	*h;
	struct addrinfo	 hints;
	struct sockaddr_storage sa;
	char		 host[RT_ADDR_MAX + 1], port[16];
	int		 pn, rv;

	if (rt->closing)
		return RAFT_CANCELED;
	if (strlen(rt->address) > RT_ADDR_MAX ||
	    rt_split(address, host, sizeof(host), port, sizeof(port)) == -1)
		return RAFT_INVALID;
	if ((h = hs_new(rt, false)) == NULL)
		return RAFT_NOMEM;
	h->req = req;
	h->cb = cb;
	h->side = side_cb != NULL;
	h->side_cb = side_cb;
	h->side_arg = side_arg;
	h->peer_id = id;
	snprintf(h->addr, sizeof(h->addr), "%s", address);
	snprintf(h->where, sizeof(h->where), "%s", address);
	/* A numeric address connects at once; a name is resolved in uv's
	 * thread pool (which raft's disk work shares). */
	pn = (int)strtol(port, NULL, 10);
	if (uv_ip4_addr(host, pn, (struct sockaddr_in *)&sa) == 0 ||
	    uv_ip6_addr(host, pn, (struct sockaddr_in6 *)&sa) == 0) {
		if ((rv = hs_connect_to(h, (struct sockaddr *)&sa)) == 0)
			return 0;
	} else {
		h->state = HS_RESOLVE;
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		h->gai.data = h;
		if ((rv = uv_getaddrinfo(rt->loop, &h->gai, hs_resolved_cb,
		    host, port, &hints)) == 0) {
			h->resolving = true;
			return 0;
		}
	}
	/* Nothing reaches raft's callback for a refused request. */
	h->cb_done = true;
	rtcp_fail(h, rv);
	return RAFT_NOCONNECTION;
}

static int
rt_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
    raft_id id, const char *address, raft_uv_connect_cb cb)
{
	return hs_connect(t->impl, id, address, req, cb, NULL, NULL);
}

void
raft_tcp_side_accept(struct raft_uv_transport *t, raft_tcp_side_cb cb,
    void *arg)
{
	struct rt	*rt = t->impl;

	rt->side_cb = cb;
	rt->side_arg = arg;
}

int
raft_tcp_side_connect(struct raft_uv_transport *t, raft_id id,
    const char *address, raft_tcp_side_cb cb, void *arg)
{
	return hs_connect(t->impl, id, address, NULL, NULL, cb, arg);
}

static void
rt_listener_closed(uv_handle_t *handle)
{
	struct rt	*rt = handle->data;

	rt->listener_open = false;
	rtcp_maybe_closed(rt);
}

static void
rt_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct rt	*rt = t->impl;
	struct hs	*h, *next;

	rt->closing = true;
	rt->close_cb = cb;
	for (h = rt->head; h != NULL; h = next) {
		next = h->next;
		if (h->state == HS_FAILED || h->state == HS_DONE)
			continue;
		h->state = HS_FAILED;
		hs_close(h);
	}
	rtcp_rec_close_all(rt);
	if (rt->listener_open &&
	    !uv_is_closing((uv_handle_t *)&rt->listener))
		uv_close((uv_handle_t *)&rt->listener, rt_listener_closed);
	else if (!rt->listener_open)
		rtcp_maybe_closed(rt);
}

int
raft_tcp_init(struct raft_uv_transport *t, uv_loop_t *loop, const void *key,
    size_t keylen, int group)
{
	struct rt	*rt;

	memset(t, 0, sizeof(*t));
	if (key == NULL || keylen == 0 || keylen > INT32_MAX || group < 0)
		return RAFT_INVALID;
	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return RAFT_NOMEM;
	rt->t = t;
	rt->loop = loop;
	rt->key = key;
	rt->keylen = keylen;
	rt->group = group;
	t->impl = rt;
	t->init = rt_init;
	t->listen = rt_listen;
	t->connect = rt_connect;
	t->close = rt_close;
	return 0;
}

int
raft_tcp_member(struct raft_uv_transport *t, raft_id id)
{
	struct rt	*rt = t->impl;

	if (id == 0 || rt->nmembers >= RAFT_TCP_MAX_MEMBERS)
		return RAFT_INVALID;
	rt->members[rt->nmembers++] = id;
	return 0;
}

void
raft_tcp_close(struct raft_uv_transport *t)
{
	free(t->impl);
	t->impl = NULL;
}

const struct raft_tcp_stats *
raft_tcp_stats(const struct raft_uv_transport *t)
{
	const struct rt	*rt = t->impl;

	return &rt->stats;
}
