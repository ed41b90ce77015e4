/* peer.c: the sockets between workers and the messages on them. */
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "cmd.h"
#include "conn.h"
#include "log.h"
#include "peer.h"
#include "qmsg.h"
#include "session.h"
#include "util.h"
#include "worker.h"

static void peer_read_cb(struct bufferevent *, void *);
static void peer_event_cb(struct bufferevent *, short, void *);

/* What a callback needs: the worker and which peer. */
struct peer_cbarg {
	struct worker	*w;
	int		 id;
};

void
peer_up(struct worker *w, int id, int fd)
{
	struct peer_cbarg *arg;
	struct peer	  *p = &w->peers[id];

	if (fd_nonblock_cloexec(fd) == -1)
		fatal("mesh socket");
	peer_close(w, id);
	p->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (p->bev == NULL)
		fatalx("bufferevent_socket_new failed");
	/* libevent reads 4 KiB and writes 16 KiB per pass by default: a
	 * forwarded 1 MiB item would take hundreds of passes. */
	bufferevent_set_max_single_read(p->bev, 1 << 20);
	bufferevent_set_max_single_write(p->bev, 1 << 20);
	arg = xmalloc(sizeof(*arg));
	arg->w = w;
	arg->id = id;
	p->cbarg = arg;
	bufferevent_setcb(p->bev, peer_read_cb, NULL, peer_event_cb, arg);
	bufferevent_enable(p->bev, EV_READ);
}

void
peer_close(struct worker *w, int id)
{
	struct peer	*p = &w->peers[id];

	if (p->bev == NULL)
		return;
	bufferevent_free(p->bev);
	p->bev = NULL;
	free(p->cbarg);
	p->cbarg = NULL;
}

int
peer_send(struct worker *w, int id, uint32_t type, uint64_t tag, uint64_t sess,
    const void *payload, size_t len)
{
	struct peer	*p;
	struct qmsg_hdr	 hdr;

	if (id < 0 || id >= w->nworkers || id == w->id)
		fatalx("peer_send to %d", id);
	p = &w->peers[id];
	if (p->bev == NULL)
		return -1;
	hdr.type = type;
	hdr.len = (uint32_t)len;
	hdr.tag = tag;
	hdr.sess = sess;
	/* Buffered: everything one loop pass produces goes out in one write. */
	bufferevent_write(p->bev, &hdr, sizeof(hdr));
	if (len > 0)
		bufferevent_write(p->bev, payload, len);
	return 0;
}

/* A reply to a request we forwarded: pass it to the client. */
static void
peer_reply(struct worker *w, const struct qmsg_hdr *hdr, const uint8_t *payload)
{
	struct hnode	*n = hmap_find(&w->fwds, &hdr->tag, sizeof(hdr->tag));
	struct conn	*c;

	if (n != NULL) {
		hmap_remove(&w->fwds, n);
		free(hmap_entry(n, struct fwd, node));
	}
	if ((c = conn_find(w, hdr->sess)) != NULL)
		conn_write(c, payload, hdr->len);
}

/* Handle one message from peer id. */
static void
peer_message(struct worker *w, int id, const struct qmsg_hdr *hdr,
    const uint8_t *payload)
{
	struct reqctx	ctx;
	msgpack_sbuffer	sb;
	msgpack_packer	pk;

	switch (hdr->type) {
	case QMSG_REQ_FORWARD:
		if (SESS_WORKER(hdr->sess) != id)
			fatalx("worker %d forwarded for another's session", id);
		ctx = (struct reqctx){ hdr->sess, 0, hdr->tag, id };
		cmd_exec_forwarded(w, payload, hdr->len, &ctx);
		break;
	case QMSG_REQ_REPLY:
		peer_reply(w, hdr, payload);
		break;
	case QMSG_SESS_END:
		session_end(w, hdr->sess);
		break;
	case QMSG_PART_REQ:
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		cmd_partial(w, payload, hdr->len, &pk);
		(void)peer_send(w, id, QMSG_PART_REPLY, hdr->tag, 0, sb.data,
		    sb.size);
		msgpack_sbuffer_destroy(&sb);
		break;
	case QMSG_PART_REPLY:
		fanout_partial(w, hdr->tag, id, payload, hdr->len);
		break;
	default:
		fatalx("worker %d sent unknown message %u", id, hdr->type);
	}
}

static void
peer_read_cb(struct bufferevent *bev, void *argp)
{
	struct peer_cbarg *arg = argp;
	struct worker	  *w = arg->w;
	int		   id = arg->id;
	struct evbuffer	  *in = bufferevent_get_input(bev);
	struct qmsg_hdr	   hdr;
	uint8_t		  *buf;

	/* Stop if the peer was replaced while handling a message. */
	while (w->peers[id].bev == bev) {
		if (evbuffer_copyout(in, &hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		if (hdr.len > QMSG_MAX_PAYLOAD)
			fatalx("worker %d sent a %u-byte message", id, hdr.len);
		if (evbuffer_get_length(in) < sizeof(hdr) + hdr.len)
			return;
		buf = evbuffer_pullup(in, (ev_ssize_t)(sizeof(hdr) + hdr.len));
		peer_message(w, id, &hdr, buf + sizeof(hdr));
		if (w->peers[id].bev != bev)
			return;		/* freed with its input */
		evbuffer_drain(in, sizeof(hdr) + hdr.len);
	}
}

static void
peer_event_cb(struct bufferevent *bev, short what, void *argp)
{
	struct peer_cbarg *arg = argp;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		worker_peer_down(arg->w, arg->id);
}
