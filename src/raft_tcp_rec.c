/* raft_tcp_rec.c: after the handshake, every byte of a raft connection
 * or a side stream (raft_tcp_side_*) travels in AES-256-GCM records (the
 * record layer of src/raft_tcp.c).
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
 * up: data there closes the connection.)  A side stream's relay does both
 * on each end (its handler, repl_readidx.c, asks and is answered on it),
 * each direction with its own key and sequence numbers.  A record is
 *
 *   length u32 (big-endian, of the plaintext: 1..RT_REC_MAX)
 *   ciphertext[length]  tag[16]
 *
 * sealed with a key of this connection and direction:
 * HMAC-SHA256(cluster key, label | hello | nonce_a), label "QLR1 record
 * C>A" on raft's streams, "QLS2 side C>A" or "QLS2 side A>C" on side
 * streams (whose hello's magic differs too), the
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
#include <stdio.h>
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
#define RT_SIDE_LABEL_C2A	"QLS2 side C>A"
#define RT_SIDE_LABEL_A2C	"QLS2 side A>C"
#define RT_REC_LABEL_MAX	16

struct rl {
	struct rt		*rt;
	struct rl		*prev, *next;
	bool			 inbound;	/* the acceptor's */
	bool			 side;		/* a side stream: both ways */
	uv_tcp_t		*tcp;		/* raft_malloc'd (the handshake's) */
	uv_pipe_t		 pipe;		/* our end of the socketpair */
	unsigned		 nopen;		/* of tcp and pipe, not closed */
	bool			 closing;
	bool			 spaused;	/* pipe reads stopped: TCP's
						   queue full */
	bool			 opaused;	/* TCP reads stopped: the
						   pipe's queue full */
	EVP_CIPHER_CTX		*sctx;		/* seals pipe -> TCP, or NULL */
	EVP_CIPHER_CTX		*octx;		/* opens TCP -> pipe, or NULL */
	uint64_t		 sseq, oseq;	/* the next record's numbers */
	raft_id			 peer_id;
	char			 where[80];	/* the peer's ip:port */
	uint8_t			 spare[64];	/* reads only to see EOF */
	uint8_t			*sbuf;		/* seal's reads: buf, or its
						   own if both ways */
	size_t			 have;		/* bytes in buf (open's) */
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
rl_nonce(uint64_t *seq, uint8_t iv[12])
{
	uint64_t	s = (*seq)++;
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
	EVP_CIPHER_CTX_free(rl->sctx);
	EVP_CIPHER_CTX_free(rl->octx);
	if (rl->sbuf != NULL && rl->sbuf != rl->buf) {
		OPENSSL_cleanse(rl->sbuf, RT_REC_MAX);
		free(rl->sbuf);
	}
	OPENSSL_cleanse(rl, sizeof(*rl));
	free(rl);
	rtcp_maybe_closed(rt);
}

/* Close both ends (raft's end then reads EOF or fails its next write);
 * why, if not NULL, is a bad record: counted and logged. */
static void
rl_close(struct rl *rl, const char *why)
{
	char	w[128];

	if (rl->closing)
		return;
	if (why != NULL) {
		rl->rt->stats.bad_record++;
		snprintf(w, sizeof(w), "%s%s", why, rl->side ?
		    " (a read round's side stream)" : "");
		rtcp_warn(rl->rt, RT_LOG_REC, rl->inbound, false, rl->where,
		    rl->peer_id, "closed", w);
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
		    rl->inbound ? "from" : "to", rl->where,
		    uv_strerror(status));
		rl_close(rl, NULL);
		return;
	}
	rl_resume(rl);
}

/* Write w (len bytes of data) to s (the TCP stream or the pipe); stop
 * reading from the other end while s's queue is over RT_REC_QUEUE. */
static void
rl_write(struct rl *rl, uv_stream_t *s, struct rl_wr *w, size_t len)
{
	uv_buf_t	b = uv_buf_init((char *)w->data, (unsigned int)len);
	uv_stream_t	*from;
	bool		*paused;
	int		 rv;

	w->rl = rl;
	if ((rv = uv_write(&w->req, s, &b, 1, rl_write_cb)) != 0) {
		free(w);
		log_debug("raft shard %d: write: %s", rl->rt->group,
		    uv_strerror(rv));
		rl_close(rl, NULL);
		return;
	}
	paused = s == (uv_stream_t *)rl->tcp ? &rl->spaused : &rl->opaused;
	if (uv_stream_get_write_queue_size(s) > RT_REC_QUEUE && !*paused) {
		from = s == (uv_stream_t *)rl->tcp ? (uv_stream_t *)&rl->pipe :
		    (uv_stream_t *)rl->tcp;
		(void)uv_read_stop(from);
		*paused = true;
	}
}

/* Seal: raft's (or the side handler's) bytes, up to RT_REC_MAX, into one
 * record to the peer. */
static void
rl_seal_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct rl	*rl = handle->data;

	(void)suggested;
	*buf = uv_buf_init((char *)rl->sbuf, RT_REC_MAX);
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
	if (n < 0) {			/* raft (the handler) closed its end */
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
	rl_nonce(&rl->sseq, iv);
	if (EVP_EncryptInit_ex(rl->sctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(rl->sctx, NULL, &m, out, RT_REC_HDR) != 1 ||
	    EVP_EncryptUpdate(rl->sctx, out + RT_REC_HDR, &m, rl->sbuf,
	    (int)n) != 1 || m != (int)n ||
	    EVP_EncryptFinal_ex(rl->sctx, out + RT_REC_HDR + m, &f) != 1 ||
	    EVP_CIPHER_CTX_ctrl(rl->sctx, EVP_CTRL_GCM_GET_TAG, RT_REC_TAG,
	    out + RT_REC_HDR + n) != 1) {
		free(w);
		log_warnx("raft shard %d: AES-GCM failed", rl->rt->group);
		rl_close(rl, NULL);
		return;
	}
	rl_write(rl, (uv_stream_t *)rl->tcp, w,
	    RT_REC_HDR + (size_t)n + RT_REC_TAG);
}

/* Open: the peer's records, as they come, to raft (or the side handler). */
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

	rl_nonce(&rl->oseq, iv);
	return EVP_DecryptInit_ex(rl->octx, NULL, NULL, NULL, iv) == 1 &&
	    EVP_DecryptUpdate(rl->octx, NULL, &m, p, RT_REC_HDR) == 1 &&
	    EVP_DecryptUpdate(rl->octx, out, &m, p + RT_REC_HDR,
	    (int)len) == 1 && m == (int)len &&
	    EVP_CIPHER_CTX_ctrl(rl->octx, EVP_CTRL_GCM_SET_TAG, RT_REC_TAG,
	    (void *)(p + RT_REC_HDR + len)) == 1 &&
	    EVP_DecryptFinal_ex(rl->octx, out + m, &f) == 1;
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

/* A write finished: read again from a side paused while the stream it
 * writes to has its queue below half the bound. */
static void
rl_resume(struct rl *rl)
{
	int	rv = 0;

	if (rl->spaused && uv_stream_get_write_queue_size(
	    (uv_stream_t *)rl->tcp) <= RT_REC_QUEUE / 2) {
		rl->spaused = false;
		rv = uv_read_start((uv_stream_t *)&rl->pipe, rl_seal_alloc_cb,
		    rl_seal_read_cb);
	}
	if (rv == 0 && rl->opaused && uv_stream_get_write_queue_size(
	    (uv_stream_t *)&rl->pipe) <= RT_REC_QUEUE / 2) {
		rl->opaused = false;
		rv = uv_read_start((uv_stream_t *)rl->tcp, rl_open_alloc_cb,
		    rl_open_read_cb);
	}
	if (rv != 0)
		rl_close(rl, NULL);
}

/* The key of label's records into out (32 bytes). */
static bool
rl_key(const struct rt *rt, const char *label, const uint8_t *tr,
    size_t trlen, uint8_t *out)
{
	uint8_t		msg[RT_REC_LABEL_MAX + sizeof(((struct hs *)0)->tr)];
	size_t		llen = strlen(label);
	unsigned int	n = 0;
	bool		ok;

	if (llen > RT_REC_LABEL_MAX || trlen > sizeof(((struct hs *)0)->tr))
		return false;
	memcpy(msg, label, llen);
	memcpy(msg + llen, tr, trlen);
	ok = HMAC(EVP_sha256(), rt->key, (int)rt->keylen, msg, llen + trlen,
	    out, &n) != NULL && n == 32;
	OPENSSL_cleanse(msg, sizeof(msg));
	return ok;
}

/* A cipher context for label's records, to seal or to open; NULL on
 * failure. */
static EVP_CIPHER_CTX *
rl_ctx(const struct rl *rl, const struct hs *h, const char *label, bool seal)
{
	EVP_CIPHER_CTX	*ctx;
	uint8_t		 key[32];
	int		 ok;

	if (!rl_key(rl->rt, label, h->tr, h->trlen, key))
		return NULL;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		OPENSSL_cleanse(key, sizeof(key));
		return NULL;
	}
	ok = seal ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key,
	    NULL) : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, NULL);
	OPENSSL_cleanse(key, sizeof(key));
	if (ok != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Set up rl's ciphers and both of its streams' reads: raft's streams
 * one way (C>A), a side stream both ways, each with its own key. */
static int
rl_setup(struct rl *rl, const struct hs *h)
{
	const char	*c2a = rl->side ? RT_SIDE_LABEL_C2A : RT_REC_LABEL;
	int		 rv;

	if (!rl->inbound || rl->side) {
		rl->sctx = rl_ctx(rl, h, rl->inbound ? RT_SIDE_LABEL_A2C : c2a,
		    true);
		if (rl->sctx == NULL)
			return UV_EIO;
		rl->sbuf = !rl->side ? rl->buf : malloc(RT_REC_MAX);
		if (rl->sbuf == NULL)
			return UV_ENOMEM;
	}
	if (rl->inbound || rl->side) {
		rl->octx = rl_ctx(rl, h, rl->inbound ? c2a : RT_SIDE_LABEL_A2C,
		    false);
		if (rl->octx == NULL)
			return UV_EIO;
	}
	if (rl->sctx != NULL)
		rv = uv_read_start((uv_stream_t *)&rl->pipe, rl_seal_alloc_cb,
		    rl_seal_read_cb);
	else
		rv = uv_read_start((uv_stream_t *)&rl->pipe, rl_spare_alloc_cb,
		    rl_idle_read_cb);
	if (rv != 0)
		return rv;
	if (rl->octx != NULL)
		return uv_read_start((uv_stream_t *)rl->tcp, rl_open_alloc_cb,
		    rl_open_read_cb);
	return uv_read_start((uv_stream_t *)rl->tcp, rl_spare_alloc_cb,
	    rl_idle_read_cb);
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
	rl->inbound = h->inbound;
	rl->side = h->side;
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
