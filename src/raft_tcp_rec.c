/* raft_tcp_rec.c: after the handshake, every byte of a raft connection
 * travels in AES-256-GCM records (the record layer of src/raft_tcp.c).
 *
 * raft wants a uv_stream_t, and libuv has no custom streams, so raft gets
 * one end of an AF_UNIX socketpair (a uv_pipe_t) and a relay here holds
 * the other end and the TCP stream, on the same loop:
 *
 *   connector:  raft -> pipe -> seal  -> TCP
 *   acceptor:   TCP  -> open -> pipe  -> raft
 *
 * (raft writes only on the streams it connected and reads only on those it
 * accepted; the relay reads the other way too, only to see the peer hang
 * up: data there closes the connection.)  A record is
 *
 *   length u32 (big-endian, of the plaintext: 1..RT_REC_MAX)
 *   ciphertext[length]  tag[16]
 *
 * sealed with a key of this connection and direction:
 * HMAC-SHA256(cluster key, "QLR1 record C>A" | hello | nonce_a), the
 * handshake's transcript, so both fresh nonces make it unique; the nonce
 * is 4 zero bytes and the record's sequence number (u64, from 0), never
 * sent, and the length is the tag's associated data.  A flipped, injected,
 * dropped, replayed or reordered byte fails the tag (or the length check)
 * and the relay closes both ends: counted (bad_record), logged
 * (rate-limited), and raft reconnects.  To change the format, change
 * RT_MAGIC (the hello's), so that old and new nodes refuse each other.
 *
 * Memory is bounded: a record is at most RT_REC_MAX bytes of plaintext, a
 * longer length closes the connection before anything is read of it, the
 * read buffer is two records, and a relay stops reading while the stream
 * it writes to has more than RT_REC_QUEUE bytes queued. */
#include <sys/socket.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "raft_tcp_int.h"

#define RT_REC_HDR		4
#define RT_REC_TAG		16
#define RT_REC_MAX		(64 * 1024)
#define RT_REC_QUEUE		(1024 * 1024)
#define RT_REC_BUF		(2 * (RT_REC_HDR + RT_REC_MAX + RT_REC_TAG))
#define RT_REC_LABEL		"QLR1 record C>A"

struct rl {
	struct rt		*rt;
	struct rl		*prev, *next;
	bool			 sealer;	/* connector: raft's bytes out */
	uv_tcp_t		*tcp;		/* raft_malloc'd (the handshake's) */
	uv_pipe_t		 pipe;		/* our end of the socketpair */
	unsigned		 nopen;		/* of tcp and pipe, not closed */
	bool			 closing;
	bool			 paused;	/* reads stopped: queue full */
	EVP_CIPHER_CTX		*ctx;
	uint64_t		 seq;		/* the next record's number */
	raft_id			 peer_id;
	char			 where[80];	/* the peer's ip:port */
	uint8_t			 spare[64];	/* reads only to see EOF */
	size_t			 have;		/* bytes in buf */
	uint8_t			 buf[RT_REC_BUF];
};

/* A write of ours and its bytes. */
struct rl_wr {
	uv_write_t		 req;
	struct rl		*rl;
	uint8_t			 data[];
};

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
rl_nonce(struct rl *rl, uint8_t iv[12])
{
	uint64_t	s = rl->seq++;
	int		i;

	memset(iv, 0, 4);
	for (i = 11; i >= 4; i--, s >>= 8)
		iv[i] = (uint8_t)s;
}

static void
rl_closed(uv_handle_t *handle)
{
	struct rl	*rl = handle->data;
	struct rt	*rt = rl->rt;

	if (handle == (uv_handle_t *)rl->tcp)
		raft_free(handle);
	if (--rl->nopen > 0)
		return;
	if (rl->prev != NULL)
		rl->prev->next = rl->next;
	else
		rt->relays = rl->next;
	if (rl->next != NULL)
		rl->next->prev = rl->prev;
	EVP_CIPHER_CTX_free(rl->ctx);
	OPENSSL_cleanse(rl, sizeof(*rl));
	free(rl);
	rtcp_maybe_closed(rt);
}

/* Close both ends (raft's end then reads EOF or fails its next write);
 * why, if not NULL, is a bad record: counted and logged. */
static void
rl_close(struct rl *rl, const char *why)
{
	if (rl->closing)
		return;
	if (why != NULL) {
		rl->rt->stats.bad_record++;
		rtcp_warn(rl->rt, !rl->sealer, false, rl->where, rl->peer_id,
		    "closed", why);
	}
	rl->closing = true;
	uv_close((uv_handle_t *)rl->tcp, rl_closed);
	uv_close((uv_handle_t *)&rl->pipe, rl_closed);
}

static void
rl_spare_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct rl	*rl = handle->data;

	(void)suggested;
	*buf = uv_buf_init((char *)rl->spare, sizeof(rl->spare));
}

/* The direction nothing should come from: EOF or anything closes. */
static void
rl_idle_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rl	*rl = s->data;

	(void)buf;
	if (n == 0 || rl->closing)
		return;
	if (n > 0 && s == (uv_stream_t *)rl->tcp)
		rl_close(rl, "the peer wrote on a one-way stream");
	else
		rl_close(rl, NULL);
}

static void	rl_resume(struct rl *);

static void
rl_write_cb(uv_write_t *req, int status)
{
	struct rl_wr	*w = (struct rl_wr *)req;
	struct rl	*rl = w->rl;

	free(w);
	if (rl->closing)
		return;
	if (status < 0) {
		log_debug("raft shard %d: connection %s %s: %s", rl->rt->group,
		    rl->sealer ? "to" : "from", rl->where,
		    uv_strerror(status));
		rl_close(rl, NULL);
		return;
	}
	rl_resume(rl);
}

/* Write w (len bytes of data) to s; stop reading from the other end while
 * s's queue is over RT_REC_QUEUE. */
static void
rl_write(struct rl *rl, uv_stream_t *s, struct rl_wr *w, size_t len)
{
	uv_buf_t	b = uv_buf_init((char *)w->data, (unsigned int)len);
	uv_stream_t	*from;
	int		 rv;

	w->rl = rl;
	if ((rv = uv_write(&w->req, s, &b, 1, rl_write_cb)) != 0) {
		free(w);
		log_debug("raft shard %d: write: %s", rl->rt->group,
		    uv_strerror(rv));
		rl_close(rl, NULL);
		return;
	}
	if (uv_stream_get_write_queue_size(s) > RT_REC_QUEUE && !rl->paused) {
		from = rl->sealer ? (uv_stream_t *)&rl->pipe :
		    (uv_stream_t *)rl->tcp;
		(void)uv_read_stop(from);
		rl->paused = true;
	}
}

/* Seal: raft's bytes (up to RT_REC_MAX) into one record to the peer. */
static void
rl_seal_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct rl	*rl = handle->data;

	(void)suggested;
	*buf = uv_buf_init((char *)rl->buf, RT_REC_MAX);
}

static void
rl_seal_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rl	*rl = s->data;
	struct rl_wr	*w;
	uint8_t		 iv[12], *out;
	int		 m, f;

	(void)buf;
	if (n == 0 || rl->closing)
		return;
	if (n < 0) {			/* raft closed its end */
		rl_close(rl, NULL);
		return;
	}
	if ((w = malloc(sizeof(*w) + RT_REC_HDR + (size_t)n +
	    RT_REC_TAG)) == NULL) {
		rl_close(rl, NULL);
		return;
	}
	out = w->data;
	put32(out, (uint32_t)n);
	rl_nonce(rl, iv);
	if (EVP_EncryptInit_ex(rl->ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(rl->ctx, NULL, &m, out, RT_REC_HDR) != 1 ||
	    EVP_EncryptUpdate(rl->ctx, out + RT_REC_HDR, &m, rl->buf,
	    (int)n) != 1 || m != (int)n ||
	    EVP_EncryptFinal_ex(rl->ctx, out + RT_REC_HDR + m, &f) != 1 ||
	    EVP_CIPHER_CTX_ctrl(rl->ctx, EVP_CTRL_GCM_GET_TAG, RT_REC_TAG,
	    out + RT_REC_HDR + n) != 1) {
		free(w);
		log_warnx("raft shard %d: AES-GCM failed", rl->rt->group);
		rl_close(rl, NULL);
		return;
	}
	rl_write(rl, (uv_stream_t *)rl->tcp, w,
	    RT_REC_HDR + (size_t)n + RT_REC_TAG);
}

/* Open: the peer's records, as they come, to raft. */
static void
rl_open_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct rl	*rl = handle->data;

	(void)suggested;
	*buf = uv_buf_init((char *)rl->buf + rl->have,
	    (unsigned int)(RT_REC_BUF - rl->have));
}

/* Open the record of len bytes of plaintext at p into out; false if it
 * is not authentic. */
static bool
rl_open1(struct rl *rl, const uint8_t *p, size_t len, uint8_t *out)
{
	uint8_t	iv[12];
	int	m, f;

	rl_nonce(rl, iv);
	return EVP_DecryptInit_ex(rl->ctx, NULL, NULL, NULL, iv) == 1 &&
	    EVP_DecryptUpdate(rl->ctx, NULL, &m, p, RT_REC_HDR) == 1 &&
	    EVP_DecryptUpdate(rl->ctx, out, &m, p + RT_REC_HDR,
	    (int)len) == 1 && m == (int)len &&
	    EVP_CIPHER_CTX_ctrl(rl->ctx, EVP_CTRL_GCM_SET_TAG, RT_REC_TAG,
	    (void *)(p + RT_REC_HDR + len)) == 1 &&
	    EVP_DecryptFinal_ex(rl->ctx, out + m, &f) == 1;
}

static void
rl_open_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rl	*rl = s->data;
	struct rl_wr	*w;
	size_t		 off = 0, outlen = 0, len;
	const uint8_t	*p;

	(void)buf;
	if (n == 0 || rl->closing)
		return;
	if (n < 0) {
		if (n == UV_EOF && rl->have > 0)
			rl_close(rl, "the peer hung up within a record");
		else
			rl_close(rl, NULL);
		return;
	}
	rl->have += (size_t)n;
	w = NULL;
	while (rl->have - off >= RT_REC_HDR) {
		p = rl->buf + off;
		len = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
		    (size_t)p[2] << 8 | p[3];
		if (len == 0 || len > RT_REC_MAX) {
			free(w);
			rl_close(rl, "a record's length is out of bounds");
			return;
		}
		if (rl->have - off < RT_REC_HDR + len + RT_REC_TAG)
			break;
		/* The plaintext is shorter than the bytes it comes in. */
		if (w == NULL && (w = malloc(sizeof(*w) + rl->have -
		    off)) == NULL) {
			rl_close(rl, NULL);
			return;
		}
		if (!rl_open1(rl, p, len, w->data + outlen)) {
			free(w);
			rl_close(rl, "a record failed authentication");
			return;
		}
		outlen += len;
		off += RT_REC_HDR + len + RT_REC_TAG;
	}
	memmove(rl->buf, rl->buf + off, rl->have - off);
	rl->have -= off;
	if (w != NULL)
		rl_write(rl, (uv_stream_t *)&rl->pipe, w, outlen);
}

/* A write finished: read again once the queue is below half the bound. */
static void
rl_resume(struct rl *rl)
{
	uv_stream_t	*to, *from;
	int		 rv;

	if (!rl->paused)
		return;
	to = rl->sealer ? (uv_stream_t *)rl->tcp : (uv_stream_t *)&rl->pipe;
	if (uv_stream_get_write_queue_size(to) > RT_REC_QUEUE / 2)
		return;
	rl->paused = false;
	if (rl->sealer) {
		from = (uv_stream_t *)&rl->pipe;
		rv = uv_read_start(from, rl_seal_alloc_cb, rl_seal_read_cb);
	} else {
		from = (uv_stream_t *)rl->tcp;
		rv = uv_read_start(from, rl_open_alloc_cb, rl_open_read_cb);
	}
	if (rv != 0)
		rl_close(rl, NULL);
}

/* The key of the records from C to A into out (32 bytes). */
static bool
rl_key(const struct rt *rt, const uint8_t *tr, size_t trlen, uint8_t *out)
{
	uint8_t		msg[sizeof(RT_REC_LABEL) - 1 + sizeof(((struct hs *)0)->tr)];
	unsigned int	n = 0;
	bool		ok;

	if (trlen > sizeof(msg) - (sizeof(RT_REC_LABEL) - 1))
		return false;
	memcpy(msg, RT_REC_LABEL, sizeof(RT_REC_LABEL) - 1);
	memcpy(msg + sizeof(RT_REC_LABEL) - 1, tr, trlen);
	ok = HMAC(EVP_sha256(), rt->key, (int)rt->keylen, msg,
	    sizeof(RT_REC_LABEL) - 1 + trlen, out, &n) != NULL && n == 32;
	OPENSSL_cleanse(msg, sizeof(msg));
	return ok;
}

/* Set up rl's cipher and both of its streams' reads. */
static int
rl_setup(struct rl *rl, const struct hs *h)
{
	uint8_t	key[32];
	int	rv, ok;

	if (!rl_key(rl->rt, h->tr, h->trlen, key))
		return UV_EIO;
	if ((rl->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		OPENSSL_cleanse(key, sizeof(key));
		return UV_ENOMEM;
	}
	ok = rl->sealer ? EVP_EncryptInit_ex(rl->ctx, EVP_aes_256_gcm(), NULL,
	    key, NULL) : EVP_DecryptInit_ex(rl->ctx, EVP_aes_256_gcm(), NULL,
	    key, NULL);
	OPENSSL_cleanse(key, sizeof(key));
	if (ok != 1)
		return UV_EIO;
	if (rl->sealer) {
		if ((rv = uv_read_start((uv_stream_t *)&rl->pipe,
		    rl_seal_alloc_cb, rl_seal_read_cb)) == 0)
			rv = uv_read_start((uv_stream_t *)rl->tcp,
			    rl_spare_alloc_cb, rl_idle_read_cb);
	} else {
		if ((rv = uv_read_start((uv_stream_t *)rl->tcp,
		    rl_open_alloc_cb, rl_open_read_cb)) == 0)
			rv = uv_read_start((uv_stream_t *)&rl->pipe,
			    rl_spare_alloc_cb, rl_idle_read_cb);
	}
	return rv;
}

/* h's handshake is done: put a relay between its TCP stream (the relay's
 * from now on, also on failure) and a socketpair; *out: raft's end
 * (raft_malloc'd: raft frees it). 0, or a uv error. */
int
rtcp_rec_start(struct hs *h, uv_stream_t **out)
{
	struct rt	*rt = h->rt;
	struct rl	*rl;
	uv_pipe_t	*rp = NULL;
	int		 sv[2] = { -1, -1 }, rv;

	*out = NULL;
	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		h->tcp->data = NULL;
		uv_close((uv_handle_t *)h->tcp, (uv_close_cb)raft_free);
		return UV_ENOMEM;
	}
	rl->rt = rt;
	rl->sealer = !h->inbound;
	rl->peer_id = h->peer_id;
	memcpy(rl->where, h->where, sizeof(rl->where));
	rl->tcp = h->tcp;
	rl->tcp->data = rl;
	uv_pipe_init(rt->loop, &rl->pipe, 0);
	rl->pipe.data = rl;
	rl->nopen = 2;
	if ((rl->next = rt->relays) != NULL)
		rt->relays->prev = rl;
	rt->relays = rl;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		rv = uv_translate_sys_error(errno);
		rl_close(rl, NULL);
		return rv;
	}
	if ((rv = uv_pipe_open(&rl->pipe, sv[0])) != 0)
		close(sv[0]);
	else if ((rp = raft_malloc(sizeof(*rp))) == NULL)
		rv = UV_ENOMEM;
	else {
		uv_pipe_init(rt->loop, rp, 0);
		if ((rv = uv_pipe_open(rp, sv[1])) == 0) {
			sv[1] = -1;	/* rp's: closed with it */
			if ((rv = rl_setup(rl, h)) == 0) {
				*out = (uv_stream_t *)rp;
				return 0;
			}
		}
		uv_close((uv_handle_t *)rp, (uv_close_cb)raft_free);
	}
	if (sv[1] != -1)
		close(sv[1]);
	rl_close(rl, NULL);
	return rv;
}

/* The transport closes: close every relay (rtcp_maybe_closed runs once the
 * last is freed). */
void
rtcp_rec_close_all(struct rt *rt)
{
	struct rl	*rl;

	for (rl = rt->relays; rl != NULL; rl = rl->next)
		rl_close(rl, NULL);
}
