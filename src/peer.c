/* peer.c: the sockets between workers and the messages on them. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "cmd.h"
#include "conn.h"
#include "log.h"
#include "peer.h"
#include "qmsg.h"
#include "repl.h"
#include "session.h"
#include "util.h"
#include "worker.h"

static void peer_readable_cb(evutil_socket_t, short, void *);
static void peer_writable_cb(evutil_socket_t, short, void *);

#define PEER_READ_CHUNK	(256 * 1024)	/* bytes asked of one readv */
#define PEER_READS	16		/* readv calls per wake-up at most */

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
	int		   bufsize = 4 << 20;

	if (fd_nonblock_cloexec(fd) == -1)
		fatal("mesh socket");
	/* Room for a large forwarded item in one write. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	peer_close(w, id);
	arg = xmalloc(sizeof(*arg));
	arg->w = w;
	arg->id = id;
	p->cbarg = arg;
	p->fd = fd;
	/* Our own reads and writes: libevent 2.1's bufferevent reads 4 KiB
	 * at a time and arms EPOLLOUT around every write. */
	p->in = evbuffer_new();
	p->out = evbuffer_new();
	p->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, peer_readable_cb,
	    arg);
	p->wev = event_new(w->base, fd, EV_WRITE, peer_writable_cb, arg);
	if (p->in == NULL || p->out == NULL || p->rev == NULL || p->wev == NULL)
		fatalx("cannot set up the mesh socket to worker %d", id);
	event_add(p->rev, NULL);
	p->up = true;
}

void
peer_close(struct worker *w, int id)
{
	struct peer	*p = &w->peers[id];

	if (!p->up)
		return;
	if (p->dirty) {
		TAILQ_REMOVE(&w->dirty_peers, p, dirty_link);
		p->dirty = false;
	}
	event_free(p->rev);
	event_free(p->wev);
	p->rev = p->wev = NULL;
	evbuffer_free(p->in);
	evbuffer_free(p->out);
	p->in = p->out = NULL;
	close(p->fd);
	p->fd = -1;
	p->up = false;
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
	if (!p->up)
		return -1;
	hdr.type = type;
	hdr.len = (uint32_t)len;
	hdr.tag = tag;
	hdr.sess = sess;
	/* Buffered: everything one loop pass produces goes out in one write,
	 * at the end of the pass. */
	evbuffer_add(p->out, &hdr, sizeof(hdr));
	if (len > 0)
		evbuffer_add(p->out, payload, len);
	if (!p->dirty) {
		p->dirty = true;
		TAILQ_INSERT_TAIL(&w->dirty_peers, p, dirty_link);
		worker_schedule_output(w);
	}
	return 0;
}

/* Write what peer id has queued; a broken socket means it died. */
static void
peer_flush(struct worker *w, int id)
{
	struct peer	*p = &w->peers[id];
	int		 n;

	if (!p->up || evbuffer_get_length(p->out) == 0)
		return;
	n = evbuffer_write(p->out, p->fd);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		worker_peer_down(w, id);
		return;
	}
	if (evbuffer_get_length(p->out) > 0)
		event_add(p->wev, NULL);	/* the rest when it fits */
}

void
peer_flush_dirty(struct worker *w)
{
	struct peer	*p;

	while ((p = TAILQ_FIRST(&w->dirty_peers)) != NULL) {
		TAILQ_REMOVE(&w->dirty_peers, p, dirty_link);
		p->dirty = false;
		peer_flush(w, p->id);
	}
}

/* The mesh socket has room again. */
static void
peer_writable_cb(evutil_socket_t fd, short ev, void *argp)
{
	struct peer_cbarg *arg = argp;

	peer_flush(arg->w, arg->id);
}

/* A reply to a request we forwarded: pass it to the client. */
static void
peer_reply(struct worker *w, const struct qmsg_hdr *hdr, const uint8_t *payload)
{
	struct hnode	*n = hmap_find(&w->fwds, &hdr->tag, sizeof(hdr->tag));
	struct conn	*c;

	/* No record: its client left, and nobody wants the answer. */
	if (n == NULL)
		return;
	c = hmap_entry(n, struct fwd, node)->conn;
	fwd_free(w, hmap_entry(n, struct fwd, node));
	if (c != NULL)
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
		ctx = (struct reqctx){ hdr->sess, 0, hdr->tag, id, false };
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
	case QMSG_LEADER:
		repl_peer_leader(w, id, payload, hdr->len);
		break;
	default:
		fatalx("worker %d sent unknown message %u", id, hdr->type);
	}
}

/* Handle every whole message in peer id's input. */
static void
peer_drain(struct worker *w, int id)
{
	struct evbuffer	*in = w->peers[id].in;
	struct qmsg_hdr	 hdr;
	uint8_t		*buf;

	/* Stop if the peer was replaced while handling a message. */
	while (w->peers[id].in == in) {
		if (evbuffer_copyout(in, &hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		if (hdr.len > QMSG_MAX_PAYLOAD)
			fatalx("worker %d sent a %u-byte message", id, hdr.len);
		if (evbuffer_get_length(in) < sizeof(hdr) + hdr.len)
			return;
		buf = evbuffer_pullup(in, (ev_ssize_t)(sizeof(hdr) + hdr.len));
		peer_message(w, id, &hdr, buf + sizeof(hdr));
		if (w->peers[id].in != in)
			return;		/* freed with the peer */
		evbuffer_drain(in, sizeof(hdr) + hdr.len);
	}
}

/* The mesh socket is readable: read in large chunks, then handle. */
static void
peer_readable_cb(evutil_socket_t fd, short ev, void *argp)
{
	struct peer_cbarg *arg = argp;
	struct worker	  *w = arg->w;
	int		   id = arg->id, i, nvec;
	struct evbuffer	  *in = w->peers[id].in;
	struct evbuffer_iovec vec[2];
	ssize_t		   n = 0;

	for (i = 0; i < PEER_READS; i++) {
		nvec = evbuffer_reserve_space(in, PEER_READ_CHUNK, vec, 2);
		if (nvec < 1)
			fatalx("evbuffer_reserve_space failed");
		n = readv(fd, (struct iovec *)vec, nvec);
		if (n <= 0) {
			evbuffer_commit_space(in, vec, 0);
			break;
		}
		if ((size_t)n <= vec[0].iov_len) {
			vec[0].iov_len = (size_t)n;
			nvec = 1;
		} else
			vec[1].iov_len = (size_t)n - vec[0].iov_len;
		evbuffer_commit_space(in, vec, nvec);
		if ((size_t)n < PEER_READ_CHUNK)
			break;		/* drained for now */
	}
	peer_drain(w, id);
	if (w->peers[id].in != in)
		return;
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		worker_peer_down(w, id);	/* EOF or error: it died */
}
