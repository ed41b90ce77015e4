/* conn.c: client connections: the handshake, reading size-checked frames,
 * handing requests to the router, writing responses, and ending the
 * session when the connection goes. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/rand.h>

#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "peer.h"
#include "qlock.h"
#include "qmsg.h"
#include "reply.h"
#include "session.h"
#include "status.h"
#include "util.h"
#include "worker.h"

static void conn_read_cb(struct bufferevent *, void *);
static void conn_event_cb(struct bufferevent *, short, void *);

struct conn *
conn_find(struct worker *w, uint64_t sess)
{
	struct hnode	*n = hmap_find(&w->conns, &sess, sizeof(sess));

	return n == NULL ? NULL : hmap_entry(n, struct conn, node);
}

/* Write one frame: header and body. */
static void
conn_send_frame(struct conn *c, const void *body, size_t len)
{
	uint8_t	hdr[FRAME_HDR];

	frame_put_header(hdr, len);
	conn_write(c, hdr, sizeof(hdr));
	conn_write(c, body, len);
}

void
conn_write(struct conn *c, const void *buf, size_t len)
{
	if (c->state == CONN_CLOSING)
		return;
	evbuffer_add(c->out, buf, len);
	if (!c->dirty) {
		c->dirty = true;
		TAILQ_INSERT_TAIL(&c->w->dirty, c, dirty_link);
		worker_schedule_output(c->w);
	}
	/* A client that does not read its replies stops being read. */
	if (!c->paused && evbuffer_get_length(c->out) > c->w->conf->max_output) {
		c->paused = true;
		bufferevent_disable(c->bev, EV_READ);
	}
}

/* Write what c has queued; -1 if the connection broke (c is freed). */
static int
conn_flush(struct conn *c)
{
	int	n;

	if (evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, bufferevent_getfd(c->bev));
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			log_debug("%s: write: %s", c->addr, strerror(errno));
			conn_free(c);
			return -1;
		}
	}
	if (evbuffer_get_length(c->out) > 0) {
		event_add(c->wev, NULL);	/* the rest when it fits */
		return 0;
	}
	if (c->state == CONN_CLOSING) {
		conn_free(c);
		return -1;
	}
	if (c->paused) {
		c->paused = false;
		bufferevent_enable(c->bev, EV_READ);
		conn_read_cb(c->bev, c);	/* frames may be waiting already */
	}
	return 0;
}

void
conn_flush_dirty(struct worker *w)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&w->dirty)) != NULL) {
		TAILQ_REMOVE(&w->dirty, c, dirty_link);
		c->dirty = false;
		(void)conn_flush(c);
	}
}

/* The socket has room again for what did not fit. */
static void
conn_writable_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)conn_flush(arg);
}

void
conn_touch(struct conn *c, int peer)
{
	c->touched[peer] = 1;
}

void
conn_free(struct conn *c)
{
	struct worker	*w = c->w;
	int		 i;

	hmap_remove(&w->conns, &c->node);
	w->nconns--;
	if (c->dirty)
		TAILQ_REMOVE(&w->dirty, c, dirty_link);
	if (c->hs_timer != NULL)
		event_free(c->hs_timer);
	event_free(c->wev);
	evbuffer_free(c->out);
	bufferevent_free(c->bev);
	/* The session is over here and wherever it left something. */
	for (i = 0; i < w->nworkers; i++) {
		if (c->touched[i])
			(void)peer_send(w, i, QMSG_SESS_END, 0, c->sess, NULL, 0);
	}
	session_end(w, c->sess);
	log_debug("%s: closed", c->addr);
	free(c->touched);
	free(c);
}

/* Close once what is queued for the client has been written: the read
 * callback frees it if nothing is queued, the write callback otherwise. */
static void
conn_close_after_flush(struct conn *c)
{
	c->state = CONN_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
}

/* Refuse the connection with an error response, then close. */
static void
conn_refuse(struct conn *c, int status, const char *why)
{
	log_info("%s: %s", c->addr, why);
	if (c->state == CONN_READY)
		reply_error(c->w, &(struct reqctx){ c->sess, 0, 0, c->w->id },
		    status, "%s", why);
	conn_close_after_flush(c);
}

size_t
conn_pending_output(struct worker *w)
{
	struct hnode	*n;
	size_t		 total = 0;

	for (n = hmap_first(&w->conns); n != NULL; n = hmap_next(&w->conns, n))
		total += evbuffer_get_length(hmap_entry(n, struct conn,
		    node)->out);
	return total;
}

/* The client took too long to authenticate. */
static void
conn_hs_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	log_info("%s: handshake timed out", c->addr);
	c->w->stats.auth_failures++;
	conn_free(c);
}

/* Describe a peer address for the log. */
static void
conn_describe(struct conn *c, const struct sockaddr *sa)
{
	char	host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(c->addr, sizeof(c->addr), "%s:%u", host,
		    ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(c->addr, sizeof(c->addr), "[%s]:%u", host,
		    ntohs(sin6->sin6_port));
	} else
		snprintf(c->addr, sizeof(c->addr), "unix#%llu",
		    (unsigned long long)(c->sess & 0xffffffff));
}

void
conn_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct worker	*w = arg;
	struct conn	*c;
	uint8_t		 nonce[AUTH_NONCE_LEN], out[AUTH_MSG_MAX];
	size_t		 n;
	struct timeval	 tv;
	int		 one = 1;

	if (w->stopping) {
		evutil_closesocket(fd);
		return;
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		log_warnx("no random bytes for a challenge; dropping client");
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->w = w;
	c->sess = SESS_MAKE(w->id, w->gen, ++w->next_sess);
	c->touched = xcalloc((size_t)w->nworkers, 1);
	conn_describe(c, sa);
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatalx("bufferevent_socket_new failed");
	/* The bufferevent reads; replies are written by conn_flush. */
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_enable(c->bev, EV_READ);
	c->out = evbuffer_new();
	c->wev = event_new(w->base, fd, EV_WRITE, conn_writable_cb, c);
	if (c->out == NULL || c->wev == NULL)
		fatalx("cannot set up a connection");
	hmap_insert(&w->conns, &c->node, &c->sess, sizeof(c->sess));
	w->nconns++;
	w->stats.conns_total++;

	n = auth_server_start(&c->auth, w->conf->authkey, w->conf->authkey_len,
	    w->conf->auth_legacy_md5, nonce, out);
	conn_send_frame(c, out, n);
	c->hs_timer = evtimer_new(w->base, conn_hs_timeout_cb, c);
	tv.tv_sec = (time_t)w->conf->handshake_timeout;
	tv.tv_usec = (suseconds_t)((w->conf->handshake_timeout -
	    (double)tv.tv_sec) * 1e6);
	evtimer_add(c->hs_timer, &tv);
	log_debug("%s: connected", c->addr);
}

/* One handshake frame. */
static void
conn_auth_frame(struct conn *c, const uint8_t *body, size_t len)
{
	uint8_t			out[AUTH_MSG_MAX];
	size_t			outlen;
	enum auth_result	res;

	res = auth_input(&c->auth, body, len, out, &outlen);
	if (outlen > 0)
		conn_send_frame(c, out, outlen);
	switch (res) {
	case AUTH_CONTINUE:
		break;
	case AUTH_OK:
		c->state = CONN_READY;
		event_free(c->hs_timer);
		c->hs_timer = NULL;
		log_debug("%s: authenticated", c->addr);
		break;
	case AUTH_FAIL:
		c->w->stats.auth_failures++;
		log_warnx("%s: authentication failed: %s", c->addr,
		    auth_why_text(c->auth.why));
		conn_close_after_flush(c);
		break;
	}
}

/* One request frame. */
static void
conn_request_frame(struct conn *c, const uint8_t *body, size_t len)
{
	struct worker	*w = c->w;
	struct request	 r;

	w->stats.requests++;
	r.ctx = (struct reqctx){ c->sess, 0, 0, w->id };
	if (mp_check(body, len) == -1) {
		conn_refuse(c, QLOCK_EPROTO, "frame is not one msgpack value; closing");
		return;
	}
	r.cmd = NULL;		/* cmd_parse sets it once the method is known */
	switch (cmd_parse(w, body, len, &r)) {
	case CMD_PARSE_OK:
		cmd_dispatch(w, &r);
		break;
	case CMD_PARSE_NOTIFY:
	case CMD_PARSE_BAD:
		break;
	}
	if (r.cmd != NULL)
		w->stats.by_method[cmd_index(r.cmd)]++;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 hdr[FRAME_HDR], *frame;
	size_t		 bodylen, max;
	char		 why[128];

	while (c->state != CONN_CLOSING && !c->paused) {
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		max = c->state == CONN_AUTH ? FRAME_MAX_PREAUTH :
		    c->w->conf->max_frame;
		if (frame_header(hdr, sizeof(hdr), max, &bodylen) == FRAME_TOOBIG) {
			snprintf(why, sizeof(why), "frame over the %zu-byte limit;"
			    " closing", max);
			conn_refuse(c, QLOCK_ELIMIT, why);
			break;
		}
		if (evbuffer_get_length(in) < FRAME_HDR + bodylen)
			return;
		frame = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HDR + bodylen));
		if (c->state == CONN_AUTH)
			conn_auth_frame(c, frame + FRAME_HDR, bodylen);
		else
			conn_request_frame(c, frame + FRAME_HDR, bodylen);
		evbuffer_drain(in, FRAME_HDR + bodylen);
	}
	/* Closing with nothing left to write: no flush will free it. */
	if (c->state == CONN_CLOSING && evbuffer_get_length(c->out) == 0 &&
	    !c->dirty)
		conn_free(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(c);
}
