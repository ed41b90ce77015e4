/* raft_tcp_hs.c: the handshake of qlockd's raft transport on one stream
 * (the protocol: raft_tcp.c); each read is of exactly the bytes the next
 * message lacks. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "raft_tcp_int.h"

static void	hs_read_next(struct hs *, enum rt_state, size_t);

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t
get(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/* HMAC(key, label | transcript) into out (RT_MAC bytes); false on error. */
static bool
rt_mac(const struct rt *rt, char label, const uint8_t *tr, size_t len,
    uint8_t *out)
{
	uint8_t		msg[1 + RT_HELLO_FIXED + RT_ADDR_MAX + RT_NONCE];
	unsigned int	n = 0;

	if (len > sizeof(msg) - 1)
		return false;
	msg[0] = (uint8_t)label;
	memcpy(msg + 1, tr, len);
	return HMAC(EVP_sha256(), rt->key, (int)rt->keylen, msg, len + 1, out,
	    &n) != NULL && n == RT_MAC;
}

static void
hs_write_cb(uv_write_t *req, int status)
{
	struct hs	*h = req->data;

	h->writing--;
	if (h->state == HS_FAILED)
		return;
	if (status < 0) {
		rtcp_fail(h, status);
		return;
	}
	if (h->ready && h->writing == 0)
		rtcp_done(h);
}

/* Write len bytes of our first (0: wbuf0) or second (1: wbuf1) message. */
static bool
hs_write(struct hs *h, int which, size_t len)
{
	uv_buf_t	b = uv_buf_init((char *)(which == 0 ? h->wbuf0 :
			    h->wbuf1), (unsigned int)len);

	h->wreq[which].data = h;
	if (uv_write(&h->wreq[which], (uv_stream_t *)h->tcp, &b, 1,
	    hs_write_cb) != 0) {
		rtcp_fail(h, UV_EIO);
		return false;
	}
	h->writing++;
	return true;
}

/* The handshake is done: hand the stream over now, or once our writes
 * are called back (their requests are ours). */
static void
hs_ready(struct hs *h)
{
	(void)uv_read_stop((uv_stream_t *)h->tcp);
	if (h->writing == 0)
		rtcp_done(h);
	else
		h->ready = true;
}

/* C: nonce_a and A's MAC are in. */
static void
hs_c_reply(struct hs *h)
{
	uint8_t	expect[RT_MAC];

	memcpy(h->tr + h->trlen, h->rbuf, RT_NONCE);
	h->trlen += RT_NONCE;
	if (!rt_mac(h->rt, 'A', h->tr, h->trlen, expect)) {
		rtcp_fail(h, UV_EIO);
		return;
	}
	if (CRYPTO_memcmp(expect, h->rbuf + RT_NONCE, RT_MAC) != 0) {
		rtcp_refuse(h, "the peer did not prove the cluster key "
		    "(a different authkey)");
		return;
	}
	if (!rt_mac(h->rt, 'C', h->tr, h->trlen, h->wbuf1)) {
		rtcp_fail(h, UV_EIO);
		return;
	}
	if (hs_write(h, 1, RT_MAC))
		hs_read_next(h, HS_C_OK, 4);
}

/* A: is id one of the members, not this node? */
static bool
hs_member(const struct rt *rt, raft_id id)
{
	unsigned	i;

	if (id == rt->id)
		return false;
	for (i = 0; i < rt->nmembers; i++)
		if (rt->members[i] == id)
			return true;
	return false;
}

/* A: a hello whose magic is not ours.  Another format of ours (QLRn,
 * QLSn: the magic is the format's version) is a member running another
 * qlockd version, which would misread our records: say so, so that the
 * operator upgrades every member; anything else is a stranger. */
static void
hs_refuse_magic(struct hs *h, const uint8_t *p)
{
	char	why[160];

	if ((memcmp(p, "QLR", 3) == 0 || memcmp(p, "QLS", 3) == 0) &&
	    p[3] >= '0' && p[3] <= '9' && memcmp(p, RT_MAGIC_SIDE, 4) != 0) {
		snprintf(why, sizeof(why), "the peer runs another qlockd version "
		    "(raft format %.4s, ours %s): every member must run the "
		    "same version", (const char *)p,
		    p[2] == 'S' ? RT_MAGIC_SIDE : RT_MAGIC);
		rtcp_refuse(h, why);
	} else
		rtcp_refuse(h, "not a qlockd raft handshake");
}

/* A: the hello's fixed part is in. */
static void
hs_a_hello(struct hs *h)
{
	struct rt	*rt = h->rt;
	const uint8_t	*p = h->rbuf;
	size_t		 alen;

	if (memcmp(p, RT_MAGIC_SIDE, 4) == 0 && rt->side_cb != NULL)
		h->side = true;
	else if (memcmp(p, RT_MAGIC, 4) != 0) {
		hs_refuse_magic(h, p);
		return;
	}
	h->peer_id = get(p + 8, 8);
	alen = get(p + 24, 2);
	if ((int64_t)get(p + 4, 4) != rt->group) {
		rtcp_refuse(h, "the peer's group is another shard");
		return;
	}
	if (get(p + 16, 8) != rt->id) {
		rtcp_refuse(h, "the peer expects another node id");
		return;
	}
	if (h->peer_id == 0 || alen == 0 || alen > RT_ADDR_MAX) {
		rtcp_refuse(h, "malformed handshake");
		return;
	}
	if (!hs_member(rt, h->peer_id)) {
		rtcp_refuse(h, h->peer_id == rt->id ? "the peer claims this "
		    "node's own id" : "the peer's id is not among the "
		    "members (--peer)");
		return;
	}
	memcpy(h->tr, p, RT_HELLO_FIXED);
	h->trlen = RT_HELLO_FIXED;
	hs_read_next(h, HS_A_ADDR, alen);
}

/* A: the hello's address is in: answer with nonce_a and our MAC. */
static void
hs_a_addr(struct hs *h)
{
	size_t	i;

	for (i = 0; i < h->need; i++)
		if (h->rbuf[i] < 0x21 || h->rbuf[i] > 0x7e) {
			rtcp_refuse(h, "malformed handshake");
			return;
		}
	memcpy(h->addr, h->rbuf, h->need);
	h->addr[h->need] = '\0';
	memcpy(h->tr + h->trlen, h->rbuf, h->need);
	h->trlen += h->need;
	if (RAND_bytes(h->tr + h->trlen, RT_NONCE) != 1) {
		rtcp_fail(h, UV_EIO);
		return;
	}
	memcpy(h->wbuf0, h->tr + h->trlen, RT_NONCE);
	h->trlen += RT_NONCE;
	if (!rt_mac(h->rt, 'A', h->tr, h->trlen, h->wbuf0 + RT_NONCE)) {
		rtcp_fail(h, UV_EIO);
		return;
	}
	if (hs_write(h, 0, RT_NONCE + RT_MAC))
		hs_read_next(h, HS_A_MAC, RT_MAC);
}

/* A: C's MAC is in. */
static void
hs_a_mac(struct hs *h)
{
	uint8_t	expect[RT_MAC];

	if (!rt_mac(h->rt, 'C', h->tr, h->trlen, expect)) {
		rtcp_fail(h, UV_EIO);
		return;
	}
	if (CRYPTO_memcmp(expect, h->rbuf, RT_MAC) != 0) {
		rtcp_refuse(h, "wrong authkey (HMAC mismatch)");
		return;
	}
	h->state = HS_A_OK;
	memcpy(h->wbuf1, RT_OK, 4);
	/* Handed over once written (hs_write_cb); C sends nothing before
	 * it reads this. */
	if (hs_write(h, 1, 4))
		hs_ready(h);
}

static void
hs_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct hs	*h = handle->data;

	(void)suggested;
	/* Exactly what the message lacks: never a byte of the next. */
	*buf = uv_buf_init((char *)h->rbuf + h->have,
	    (unsigned int)(h->need - h->have));
}

static void
hs_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct hs	*h = s->data;

	(void)buf;
	if (n == 0 || h->state == HS_FAILED)
		return;
	if (n < 0) {
		if (n != UV_EOF)
			rtcp_refuse(h, uv_strerror((int)n));
		else if (h->state == HS_A_MAC || h->state == HS_C_OK)
			rtcp_refuse(h, "the peer hung up on our proof of the "
			    "key (a different authkey?)");
		else
			rtcp_refuse(h, "the peer hung up during the handshake");
		return;
	}
	h->have += (size_t)n;
	if (h->have < h->need)
		return;
	switch (h->state) {
	case HS_C_REPLY:	hs_c_reply(h); break;
	case HS_C_OK:
		if (memcmp(h->rbuf, RT_OK, 4) != 0)
			rtcp_refuse(h, "malformed handshake");
		else
			hs_ready(h);
		break;
	case HS_A_HELLO:	hs_a_hello(h); break;
	case HS_A_ADDR:		hs_a_addr(h); break;
	case HS_A_MAC:		hs_a_mac(h); break;
	default:
		rtcp_fail(h, UV_EIO);
		break;
	}
}

static void
hs_read_next(struct hs *h, enum rt_state st, size_t need)
{
	h->state = st;
	h->need = need;
	h->have = 0;
}

void
rtcp_hs_inbound(struct hs *h)
{
	hs_read_next(h, HS_A_HELLO, RT_HELLO_FIXED);
	if (uv_read_start((uv_stream_t *)h->tcp, hs_alloc_cb,
	    hs_read_cb) != 0)
		rtcp_fail(h, UV_EIO);
}

void
rtcp_hs_outbound(struct hs *h)
{
	struct rt	*rt = h->rt;
	uint8_t		*p = h->wbuf0;
	size_t		 alen = strlen(rt->address);

	memcpy(p, h->side ? RT_MAGIC_SIDE : RT_MAGIC, 4);
	put32(p + 4, (uint32_t)rt->group);
	put64(p + 8, rt->id);
	put64(p + 16, h->peer_id);
	put16(p + 24, (uint16_t)alen);
	if (RAND_bytes(p + 26, RT_NONCE) != 1) {
		rtcp_fail(h, UV_EIO);
		return;
	}
	memcpy(p + RT_HELLO_FIXED, rt->address, alen);
	memcpy(h->tr, p, RT_HELLO_FIXED + alen);
	h->trlen = RT_HELLO_FIXED + alen;
	if (!hs_write(h, 0, RT_HELLO_FIXED + alen))
		return;
	hs_read_next(h, HS_C_REPLY, RT_NONCE + RT_MAC);
	if (uv_read_start((uv_stream_t *)h->tcp, hs_alloc_cb,
	    hs_read_cb) != 0)
		rtcp_fail(h, UV_EIO);
}
