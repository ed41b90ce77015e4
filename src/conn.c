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
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "balance.h"
#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "frame.h"
#include "frame_ev.h"
#include "log.h"
#include "mp.h"
#include "peer.h"
#include "qlock.h"
#include "qmsg.h"
#include "reply.h"
#include "session.h"
#include "sockopt.h"
#include "status.h"
#include "util.h"
#include "worker.h"
#include "xfwd.h"

/*
 * Input: one read() per wake-up into a buffer every connection of the
 * worker shares, and frames handled straight from it (libevent 2.1's
 * bufferevent asks FIONREAD before each read and reads 4 KiB at a time).
 * Only a frame not yet whole, or frames left while the connection is
 * paused, are kept in the connection's own buffer, which is freed once
 * empty: an idle connection holds no input memory.
 */
static void conn_readable_cb(evutil_socket_t, short, void *);
static void conn_pending(struct conn *);

struct conn *
conn_find(struct worker *w, uint64_t sess)
{
	struct hnode	*n = hmap_find(&w->conns, &sess, sizeof(sess));

	return n == NULL ? NULL : hmap_entry(n, struct conn, node);
}

static void
conn_read_on(struct conn *c)
{
	if (!c->reading) {
		event_add(c->rev, NULL);
		c->reading = true;
	}
}

static void
conn_read_off(struct conn *c)
{
	if (c->reading) {
		event_del(c->rev);
		c->reading = false;
	}
}

/* Stop reading c until its replies are written and less is unanswered. */
static void
conn_pause(struct conn *c)
{
	if (!c->paused) {
		c->paused = true;
		conn_read_off(c);
	}
}

/* Whether c may be read again, its output written. */
static bool
conn_may_read(const struct conn *c)
{
	return c->inflight < CONN_INFLIGHT_MAX && c->parked < CONN_PARKED_MAX;
}

/* Queue len bytes of buf on c, as one frame if framed, to be written
 * after this pass; a client that does not read its replies stops being
 * read. */
static void
conn_queue(struct conn *c, const void *buf, size_t len, bool framed)
{
	if (c->state == CONN_CLOSING)
		return;
	if (framed)
		frame_ev_add(c->out, buf, len);
	else
		evbuffer_add(c->out, buf, len);
	if (!c->dirty) {
		c->dirty = true;
		TAILQ_INSERT_TAIL(&c->w->dirty, c, dirty_link);
		worker_schedule_output(c->w);
	}
	if (evbuffer_get_length(c->out) > c->w->conf->max_output)
		conn_pause(c);
}

void
conn_write(struct conn *c, const void *buf, size_t len)
{
	conn_queue(c, buf, len, false);
}

/* Write one frame: header and body. */
static void
conn_send_frame(struct conn *c, const void *body, size_t len)
{
	conn_queue(c, body, len, true);
}

/* Write what c has queued; -1 if the connection broke (c is freed). */
static int
conn_flush(struct conn *c)
{
	int	n;

	if (evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, c->fd);
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
	if (c->paused && conn_may_read(c)) {
		c->paused = false;
		conn_read_on(c);
		conn_pending(c);	/* frames may be waiting already */
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
conn_unanswered_add(struct conn *c, bool parked)
{
	if (c == NULL)
		return;
	if (parked)
		c->parked++;
	else
		c->inflight++;
	if (!conn_may_read(c))
		conn_pause(c);
}

void
conn_unanswered_done(struct conn *c, bool parked)
{
	if (c == NULL)
		return;
	if (parked)
		c->parked--;
	else
		c->inflight--;
	/* The flush at the end of the pass reads it again if it may. */
	if (c->paused && !c->dirty) {
		c->dirty = true;
		TAILQ_INSERT_TAIL(&c->w->dirty, c, dirty_link);
		worker_schedule_output(c->w);
	}
}

void
conn_fwd_add(struct conn *c, struct fwd *f)
{
	f->conn = c;
	TAILQ_INSERT_TAIL(&c->fwds, f, conn_link);
	conn_unanswered_add(c, f->blocking);
}

void
fwd_free(struct worker *w, struct fwd *f)
{
	hmap_remove(&w->fwds, &f->node);
	if (f->conn != NULL) {
		TAILQ_REMOVE(&f->conn->fwds, f, conn_link);
		conn_unanswered_done(f->conn, f->blocking);
	}
	free(f);
}

void
conn_free(struct conn *c)
{
	struct worker	*w = c->w;
	struct fwd	*f;
	int		 i;

	/* Nobody is left to answer: the replies are dropped when they come. */
	while ((f = TAILQ_FIRST(&c->fwds)) != NULL) {
		TAILQ_REMOVE(&c->fwds, f, conn_link);
		f->conn = NULL;
		fwd_free(w, f);
	}
	hmap_remove(&w->conns, &c->node);
	w->nconns--;
	balance_count(w);
	preauth_remove(w, c);
	if (c->backoff_ev != NULL)
		event_free(c->backoff_ev);
	if (c->dirty)
		TAILQ_REMOVE(&w->dirty, c, dirty_link);
	if (c->hs_timer != NULL)
		event_free(c->hs_timer);
	event_free(c->rev);
	event_free(c->wev);
	evbuffer_free(c->out);
	free(c->in);
	close(c->fd);
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

/* Close once what is queued for the client has been written: the input
 * handler frees it if nothing is queued, the flush otherwise. */
static void
conn_close_after_flush(struct conn *c)
{
	c->state = CONN_CLOSING;
	conn_read_off(c);
}

/* Refuse the connection with an error response, then close. */
static void
conn_refuse(struct conn *c, int status, const char *why)
{
	log_info("%s: %s", c->addr, why);
	if (c->state == CONN_READY)
		reply_error(c->w, &(struct reqctx){ c->sess, 0, 0, c->w->id, false },
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
	struct conn	*c, *old;
	struct preauth_key key;
	uint8_t		 nonce[AUTH_NONCE_LEN], out[AUTH_MSG_MAX];
	size_t		 n;
	struct timeval	 tv;
	int		 one = 1;

	if (w->stopping) {
		evutil_closesocket(fd);
		return;
	}
	preauth_key(sa, &key);
	if (!preauth_admit(w, &key)) {
		preauth_refused(w, "an address has --max-unauth-per-addr "
		    "connections authenticating; refusing more");
		evutil_closesocket(fd);
		return;
	}
	/* Room for one more by dropping the oldest not authenticated yet:
	 * a flood is bounded, and a client that authenticates promptly
	 * still gets in. */
	while (w->preauth.n >= (size_t)w->conf->max_unauth &&
	    (old = TAILQ_FIRST(&w->preauth.conns)) != NULL) {
		preauth_refused(w, "--max-unauth connections authenticating; "
		    "dropping the oldest");
		conn_free(old);
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (sock_keepalive(fd, w->conf->tcp_keepalive) == -1)
			log_warn("tcp keepalive on a client connection");
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		log_warnx("no random bytes for a challenge; dropping client");
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->w = w;
	c->fd = fd;
	c->sess = SESS_MAKE(w->id, w->gen, ++w->next_sess);
	c->touched = xcalloc((size_t)w->nworkers, 1);
	TAILQ_INIT(&c->fwds);
	c->akey = key;
	conn_describe(c, sa);
	/* The listener made fd non-blocking and close-on-exec already. */
	c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, conn_readable_cb,
	    c);
	c->out = evbuffer_new();
	c->wev = event_new(w->base, fd, EV_WRITE, conn_writable_cb, c);
	if (c->rev == NULL || c->out == NULL || c->wev == NULL)
		fatalx("cannot set up a connection");
	conn_read_on(c);
	hmap_insert(&w->conns, &c->node, &c->sess, sizeof(c->sess));
	w->nconns++;
	balance_count(w);
	w->stats.conns_total++;
	preauth_add(w, c);

	n = auth_server_start(&c->auth, w->conf->authkey, w->conf->authkey_len,
	    w->conf->auth_legacy_md5, nonce, out);
	conn_send_frame(c, out, n);
	c->hs_timer = evtimer_new(w->base, conn_hs_timeout_cb, c);
	(void)secs_timeval(w->conf->handshake_timeout, &tv);	/* 1..3600 */
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
		preauth_remove(c->w, c);
		event_free(c->hs_timer);
		c->hs_timer = NULL;
		log_debug("%s: authenticated", c->addr);
		break;
	case AUTH_FAIL:
		c->w->stats.auth_failures++;
		preauth_failed(c->w, &c->akey);
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
	r.ctx = (struct reqctx){ c->sess, 0, 0, w->id, false };
	switch (mp_check_depth(body, len, MP_MAX_DEPTH)) {
	case 0:
		break;
	case MP_DEEP:			/* the stream is fine: answer, go on */
		cmd_refuse_deep(w, body, len, &r);
		return;
	default:
		conn_refuse(c, QLOCK_EPROTO, "frame is not one msgpack value; closing");
		return;
	}
	r.cmd = NULL;		/* cmd_parse sets it once the method is known */
	switch (cmd_parse(w, body, len, &r)) {
	case CMD_PARSE_OK:
		cmd_dispatch(w, &r);
		break;
	case CMD_PARSE_NOTIFY:
		if (xfwd_is_mark(body, len))
			c->no_relay = true;
		break;
	case CMD_PARSE_BAD:
		break;
	}
	if (r.cmd != NULL)
		w->stats.by_method[cmd_index(r.cmd)]++;
}

/* The back-off of the connection's address is over: take its answer. */
static void
conn_backoff_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	c->held = false;
	conn_read_on(c);
	conn_pending(c);
}

/* Whether the answer to our challenge must wait for its address's
 * back-off (after failed handshakes); if so, stop reading until then. */
static bool
conn_hold_answer(struct conn *c)
{
	struct timeval	tv;
	double		delay;

	if (c->auth.state != AUTH_S_WAIT_RESPONSE ||
	    (delay = preauth_delay(c->w, &c->akey)) <= 0)
		return false;
	if (c->backoff_ev == NULL &&
	    (c->backoff_ev = evtimer_new(c->w->base, conn_backoff_cb, c)) == NULL)
		fatalx("cannot set up a connection");
	c->held = true;
	conn_read_off(c);
	(void)secs_timeval(delay, &tv);
	evtimer_add(c->backoff_ev, &tv);
	return true;
}

/*
 * A frame of an authenticated client over --max-frame, its header at buf
 * (len bytes there): answer Limit to its request's msgid and skip its body
 * unread, so the client learns why and the connection goes on.  Before
 * authentication, or a length no frame can have, refuse and close.  The
 * bytes used: 0 to wait for those that hold the msgid.
 */
static size_t
conn_oversize(struct conn *c, const uint8_t *buf, size_t len, size_t max)
{
	size_t		bodylen;
	uint64_t	msgid;
	char		why[128];

	if (c->state == CONN_AUTH || frame_header(buf, FRAME_HDR, 0x7fffffffu,
	    &bodylen) != FRAME_OK) {
		snprintf(why, sizeof(why), "frame over the %zu-byte limit;"
		    " closing", max);
		conn_refuse(c, QLOCK_ELIMIT, why);
		return 0;
	}
	if (frame_peek_msgid(buf + FRAME_HDR, len - FRAME_HDR, bodylen,
	    &msgid) == FRAME_MORE)
		return 0;
	log_info("%s: frame of %zu bytes over the %zu-byte limit (max-frame);"
	    " skipped", c->addr, bodylen, max);
	reply_error(c->w, &(struct reqctx){ c->sess, msgid, 0, c->w->id, false },
	    QLOCK_ELIMIT, "frame of %zu bytes over the limit of %zu bytes "
	    "(max-frame)", bodylen, max);
	c->discard = bodylen;
	return FRAME_HDR;
}

/* Handle the whole frames at the start of buf; the bytes used.  Stops at
 * a partial frame, when the connection pauses or is held, or when it is
 * closing. */
static size_t
conn_input(struct conn *c, const uint8_t *buf, size_t len)
{
	size_t	used = 0, bodylen, max, n;

	while (c->state != CONN_CLOSING && !c->paused && !c->held) {
		if (c->discard > 0) {
			if ((n = len - used) == 0)
				break;
			if (n > c->discard)
				n = c->discard;
			c->discard -= n;
			used += n;
			continue;
		}
		if (len - used < FRAME_HDR)
			break;
		max = c->state == CONN_AUTH ? FRAME_MAX_PREAUTH :
		    c->w->conf->max_frame;
		if (frame_header(buf + used, FRAME_HDR, max, &bodylen) !=
		    FRAME_OK) {
			if ((n = conn_oversize(c, buf + used, len - used,
			    max)) == 0)
				break;
			used += n;
			continue;
		}
		if (len - used - FRAME_HDR < bodylen)
			break;
		if (c->state == CONN_AUTH && conn_hold_answer(c))
			break;
		if (c->state == CONN_AUTH)
			conn_auth_frame(c, buf + used + FRAME_HDR, bodylen);
		else
			conn_request_frame(c, buf + used + FRAME_HDR, bodylen);
		used += FRAME_HDR + bodylen;
	}
	return used;
}

/* The most one read may take: before authentication, no more than a
 * whole handshake frame is ever held (so a partial one costs little). */
static size_t
conn_read_max(const struct conn *c)
{
	return c->state == CONN_AUTH ? PREAUTH_IN_MAX : CONN_READ_CHUNK;
}

/* Keep len unhandled bytes (possibly already in c->in) at the start of
 * c->in; nothing kept frees it. */
static void
conn_keep(struct conn *c, const uint8_t *rest, size_t len)
{
	if (len == 0 || c->state == CONN_CLOSING) {
		free(c->in);
		c->in = NULL;
		c->inlen = c->incap = 0;
		return;
	}
	if (c->in == NULL) {
		c->incap = conn_read_max(c);
		if (c->incap < len)
			c->incap = len;
		c->in = xmalloc(c->incap);
	}
	if (rest != c->in)
		memmove(c->in, rest, len);
	c->inlen = len;
}

/* Closing with nothing left to write: no flush will free it. */
static int
conn_closed_idle(struct conn *c)
{
	if (c->state == CONN_CLOSING && evbuffer_get_length(c->out) == 0 &&
	    !c->dirty) {
		conn_free(c);
		return 1;
	}
	return 0;
}

/* Handle the frames kept while the connection was paused. */
static void
conn_pending(struct conn *c)
{
	size_t	used;

	if (c->inlen > 0) {
		used = conn_input(c, c->in, c->inlen);
		conn_keep(c, c->in + used, c->inlen - used);
	}
	(void)conn_closed_idle(c);
}

/* Room to read into c->in: the rest of the partial frame there (if within
 * the limit: one over it is skipped, not held), and a chunk;
 * before authentication, up to one handshake frame.  The bytes to read. */
static size_t
conn_room(struct conn *c)
{
	size_t	bodylen, need = CONN_READ_CHUNK;

	if (c->state == CONN_AUTH) {
		if (c->incap < PREAUTH_IN_MAX) {
			c->incap = PREAUTH_IN_MAX;
			c->in = xrealloc(c->in, c->incap);
		}
		return c->inlen < PREAUTH_IN_MAX ? PREAUTH_IN_MAX - c->inlen : 0;
	}

	if (c->discard == 0 && c->inlen >= FRAME_HDR && frame_header(c->in,
	    FRAME_HDR, c->w->conf->max_frame, &bodylen) == FRAME_OK &&
	    FRAME_HDR + bodylen > c->inlen)
		need += FRAME_HDR + bodylen - c->inlen;
	if (c->incap - c->inlen < need) {
		c->incap = c->inlen + need;
		c->in = xrealloc(c->in, c->incap);
	}
	return c->incap - c->inlen;
}

static void
conn_readable_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;
	size_t		 used, room;
	ssize_t		 n;

	if (c->inlen == 0) {
		/* The usual case: whole frames, handled where they landed. */
		n = read(fd, c->w->rbuf, conn_read_max(c));
		if (n > 0) {
			used = conn_input(c, c->w->rbuf, (size_t)n);
			conn_keep(c, c->w->rbuf + used, (size_t)n - used);
		}
	} else {
		if ((room = conn_room(c)) == 0)
			return;		/* a whole frame held: not reading */
		n = read(fd, c->in + c->inlen, room);
		if (n > 0) {
			c->inlen += (size_t)n;
			used = conn_input(c, c->in, c->inlen);
			conn_keep(c, c->in + used, c->inlen - used);
		}
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		if (n == -1)
			log_debug("%s: read: %s", c->addr, strerror(errno));
		conn_free(c);
		return;
	}
	(void)conn_closed_idle(c);
}
