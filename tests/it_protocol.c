/* it_protocol.c: the wire protocol against the real qlockd over raw
 * sockets: the handshake and its limits, frame size limits, hostile
 * msgpack, error codes, notifications and out-of-order responses. */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <fcntl.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "auth.h"
#include "frame.h"
#include "harness.h"
#include "it_protocol.h"
#include "qlock.h"
#include "suiterun.h"

static void
setup_w1(void)
{
	D = qd_start(1, "--max-frame", "65536", "--handshake-timeout", "3", NULL);
}

static void
setup_w3(void)
{
	D = qd_start(3, "--max-frame", "65536", "--handshake-timeout", "3", NULL);
}

void
pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* The next response must be an error with code (and msgid). */
void
expect_error(int fd, uint64_t msgid, const char *code, const char *what)
{
	struct raw_resp	r;
	int		rc = raw_recv_resp(fd, &r, QD_WAIT);

	ck_assert_msg(rc == 0, "%s: no response (%s)", what,
	    rc == -1 ? "connection closed" : rc == -2 ? "timed out" :
	    "not a response");
	ck_assert_msg(r.is_error, "%s: expected error %s, got a result", what,
	    code);
	ck_assert_msg(strcmp(r.code, code) == 0, "%s: error code '%s' (%s), "
	    "expected '%s'", what, r.code, r.msg, code);
	if (msgid != ANY_MSGID)
		ck_assert_msg(r.msgid == msgid, "%s: response msgid %llu, "
		    "expected %llu", what, (unsigned long long)r.msgid,
		    (unsigned long long)msgid);
	raw_resp_free(&r);
}

/* The connection stays usable: a ping gets its pong. */
static void
expect_usable(int fd, uint64_t msgid, const char *what)
{
	ck_assert_msg(raw_ping(fd, msgid), "%s: the connection is not usable "
	    "afterwards (ping failed)", what);
}

/* The daemon still serves new clients. */
void
expect_serving(void)
{
	qlock	*c = qd_connect(D);

	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);
	qlock_close(c);
}

/* Read the server's challenge frame. */
static void
read_challenge(int fd, uint8_t **body, size_t *len)
{
	ck_assert_int_eq(raw_recv_frame(fd, body, len, QD_WAIT), 0);
	ck_assert_msg(*len > 11 && memcmp(*body, "#CHALLENGE#", 11) == 0,
	    "first frame is not a challenge");
}

/* Either an error response or nothing, then the daemon closes. */
static void
expect_refused_and_closed(int fd, const char *what)
{
	struct raw_resp	r;
	int		rc = raw_recv_resp(fd, &r, QD_WAIT);

	ck_assert_msg(rc == 0 || rc == -1, "%s: neither an answer nor a close "
	    "within %.0f s (%d)", what, QD_WAIT, rc);
	if (rc == 0)
		ck_assert_msg(r.is_error, "%s: got a result, not an error", what);
	raw_resp_free(&r);
	if (rc == 0)
		ck_assert_msg(raw_wait_closed(fd, QD_WAIT), "%s: the connection "
		    "stays open", what);
	close(fd);
}

/* --- handshake ---------------------------------------------------------- */

START_TEST(test_protocol_wrong_key_refused)
{
	int			 fd = raw_connect(D), st;
	struct auth		 a;
	uint8_t			 nonce[AUTH_NONCE_LEN] = { 1 }, out[AUTH_MSG_MAX];
	uint8_t			*in;
	size_t			 inlen, outlen;
	enum auth_result	 res;
	uint64_t		 fails = 0;
	qlock			*c;

	auth_client_start(&a, "wrong key", 9, nonce);
	read_challenge(fd, &in, &inlen);
	res = auth_input(&a, in, inlen, out, &outlen);
	free(in);
	ck_assert_int_eq(res, AUTH_CONTINUE);
	ck_assert_int_eq(raw_send_frame(fd, out, outlen), 0);
	ck_assert_int_eq(raw_recv_frame(fd, &in, &inlen, QD_WAIT), 0);
	ck_assert_msg(inlen == 9 && memcmp(in, "#FAILURE#", 9) == 0,
	    "verdict '%.*s', expected #FAILURE#", (int)inlen, (char *)in);
	free(in);
	ck_assert_msg(raw_wait_closed(fd, QD_WAIT), "not closed after #FAILURE#");
	close(fd);

	c = qlock_connect(D->address, "not the key", &st);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(st, QLOCK_EAUTH);

	c = qd_connect(D);
	ck_assert_int_eq(qd_stat(c, "auth_failures", &fails), 0);
	ck_assert_uint_ge(fails, 2);
	qlock_close(c);
}
END_TEST

/* Before authentication no frame may be over 256 bytes. */
START_TEST(test_protocol_preauth_frame_limit)
{
	int	 fd = raw_connect(D);
	uint8_t	*in, big[256];
	size_t	 inlen;
	double	 t0;
	static const uint8_t hdr257[4] = { 0, 0, 1, 1 };

	read_challenge(fd, &in, &inlen);
	free(in);
	ck_assert_int_eq(raw_send(fd, hdr257, 4), 0);
	t0 = qd_now();
	ck_assert_msg(raw_wait_closed(fd, QD_WAIT), "a 257-byte header before "
	    "the handshake did not close the connection");
	/* Closed for the size, not by the handshake deadline. */
	ck_assert_double_lt(qd_now() - t0, 0.8);
	close(fd);

	/* 256 bytes are read: a wrong answer of that size is just refused. */
	fd = raw_connect(D);
	read_challenge(fd, &in, &inlen);
	free(in);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(raw_send_frame(fd, big, sizeof(big)), 0);
	ck_assert_int_eq(raw_recv_frame(fd, &in, &inlen, QD_WAIT), 0);
	ck_assert_msg(inlen == 9 && memcmp(in, "#FAILURE#", 9) == 0,
	    "a 256-byte wrong answer got '%.*s'", (int)inlen, (char *)in);
	free(in);
	ck_assert(raw_wait_closed(fd, QD_WAIT));
	close(fd);
	expect_serving();
}
END_TEST

/* Nothing but the handshake is possible before #WELCOME#. */
START_TEST(test_protocol_request_before_auth)
{
	int		 fd = raw_connect(D), rc;
	struct raw_call	 r;
	uint8_t		*in;
	size_t		 inlen;

	read_challenge(fd, &in, &inlen);
	free(in);
	raw_call_begin(&r, 1, "ping", 0);
	raw_call_send(fd, &r);
	rc = raw_recv_frame(fd, &in, &inlen, QD_WAIT);
	ck_assert_msg(rc == 0 || rc == -1, "no verdict, no close (%d)", rc);
	if (rc == 0) {
		ck_assert_msg(inlen == 9 && memcmp(in, "#FAILURE#", 9) == 0,
		    "a request instead of the answer got %zu bytes '%.*s', "
		    "expected #FAILURE#", inlen, (int)inlen, (char *)in);
		free(in);
		ck_assert(raw_wait_closed(fd, QD_WAIT));
	}
	close(fd);

	/* Nor before the challenge was even read. */
	fd = raw_connect(D);
	raw_call_begin(&r, 1, "ping", 0);
	raw_call_send(fd, &r);
	read_challenge(fd, &in, &inlen);
	free(in);
	rc = raw_recv_frame(fd, &in, &inlen, QD_WAIT);
	ck_assert_msg(rc == -1 || (rc == 0 && inlen == 9 &&
	    memcmp(in, "#FAILURE#", 9) == 0), "an early request was not refused");
	free(in);
	ck_assert(raw_wait_closed(fd, QD_WAIT));
	close(fd);
	expect_serving();
}
END_TEST

/* --handshake-timeout 3 (long enough for the other tests' handshakes on a
 * loaded machine): a silent client is dropped. */
START_TEST(test_protocol_handshake_deadline)
{
	int	 fd = raw_connect(D);
	uint8_t	*in;
	size_t	 inlen;
	double	 t0 = qd_now(), dt;

	read_challenge(fd, &in, &inlen);
	free(in);
	ck_assert_msg(raw_wait_closed(fd, 10.0), "a silent connection is still "
	    "open 10 s after connecting (--handshake-timeout 3)");
	dt = qd_now() - t0;
	ck_assert_msg(dt >= 2.8, "closed after %.2f s, before the deadline", dt);
	close(fd);
	expect_serving();
}
END_TEST

/* --- after authentication (the frame limit: it_protocol_frame.c) ------- */

/* Small frames declaring huge containers cost nothing. */
static const struct {
	const char	*what;
	uint8_t		 bytes[18];
} hostile[] = {
	{ "bare map32 of 1e9 entries",
	  { 0xdf, 0x3b, 0x9a, 0xca, 0x00 } },
	{ "request whose params hold a map32 of 1e9 entries",
	  { 0x94, 0x00, 0x01, 0xa4, 'p', 'i', 'n', 'g', 0x91,
	    0xdf, 0x3b, 0x9a, 0xca, 0x00 } },
	{ "array32 of 1e9 entries",
	  { 0xdd, 0x3b, 0x9a, 0xca, 0x00 } },
	{ "request with a 1e9-byte str32 method",
	  { 0x94, 0x00, 0x01, 0xdb, 0x3b, 0x9a, 0xca, 0x00 } },
};

START_TEST(test_protocol_huge_declared_sizes)
{
	pid_t	 pids[16];
	long	 before[16], after;
	int	 n = qd_worker_pids(D, pids, 16), i, fd;

	ck_assert_int_eq(n, D->workers);
	for (i = 0; i < n; i++)
		ck_assert_int_gt(before[i] = qd_rss_kb(pids[i]), 0);
	for (i = 0; i < (int)(sizeof(hostile) / sizeof(hostile[0])); i++) {
		fd = raw_connect_auth(D);
		ck_assert_int_eq(raw_send_frame(fd, hostile[i].bytes, 18), 0);
		expect_refused_and_closed(fd, hostile[i].what);
	}
	expect_serving();
	for (i = 0; i < n; i++) {
		after = qd_rss_kb(pids[i]);
		ck_assert_msg(after > 0 && after < before[i] + 50 * 1024,
		    "worker %d RSS went from %ld to %ld kB", (int)pids[i],
		    before[i], after);
	}
}
END_TEST

/* A frame that is not msgpack closes the connection. */
START_TEST(test_protocol_not_msgpack)
{
	int			fd = raw_connect_auth(D);
	static const uint8_t	c1 = 0xc1;

	ck_assert_int_eq(raw_send_frame(fd, &c1, 1), 0);
	expect_refused_and_closed(fd, "0xc1 frame");

	/* Trailing bytes after one value are not one msgpack value either. */
	fd = raw_connect_auth(D);
	ck_assert_int_eq(raw_send_frame(fd, "\xc0\xc0", 2), 0);
	expect_refused_and_closed(fd, "two values in one frame");
	expect_serving();
}
END_TEST

START_TEST(test_protocol_unknown_method)
{
	int		fd = raw_connect_auth(D);
	struct raw_call	r;

	raw_call_begin(&r, 5, "no.such.method", 0);
	raw_call_send(fd, &r);
	expect_error(fd, 5, "NoMethod", "unknown method");
	expect_usable(fd, 6, "after NoMethod");
	close(fd);
}
END_TEST

START_TEST(test_protocol_malformed_requests)
{
	int		 fd = raw_connect_auth(D);
	struct raw_call	 r;
	msgpack_packer	*pk;

	/* Method not a string. */
	msgpack_sbuffer_init(&r.sb);
	msgpack_packer_init(&r.pk, &r.sb, msgpack_sbuffer_write);
	msgpack_pack_array(&r.pk, 4);
	msgpack_pack_uint8(&r.pk, 0);
	msgpack_pack_uint8(&r.pk, 1);
	msgpack_pack_int(&r.pk, 5);
	msgpack_pack_array(&r.pk, 0);
	raw_call_send(fd, &r);
	expect_error(fd, 1, "Proto", "[0, 1, 5, []]");
	expect_usable(fd, 100, "after a numeric method");

	/* Params not an array. */
	msgpack_sbuffer_init(&r.sb);
	msgpack_packer_init(&r.pk, &r.sb, msgpack_sbuffer_write);
	msgpack_pack_array(&r.pk, 4);
	msgpack_pack_uint8(&r.pk, 0);
	msgpack_pack_uint8(&r.pk, 2);
	pk_str(&r.pk, "ping");
	msgpack_pack_int(&r.pk, 5);
	raw_call_send(fd, &r);
	expect_error(fd, 2, "Proto", "[0, 2, \"ping\", 5]");
	expect_usable(fd, 101, "after params that are not an array");

	/* Wrong arity, both ways. */
	raw_call_begin(&r, 3, "queue.size", 0);
	raw_call_send(fd, &r);
	expect_error(fd, 3, "Proto", "queue.size with no params");
	pk = raw_call_begin(&r, 4, "ping", 1);
	msgpack_pack_int(pk, 1);
	raw_call_send(fd, &r);
	expect_error(fd, 4, "Proto", "ping with one param");
	pk = raw_call_begin(&r, 5, "queue.get", 3);
	pk_str(pk, "q");
	msgpack_pack_int(pk, 0);
	msgpack_pack_int(pk, 0);
	raw_call_send(fd, &r);
	expect_error(fd, 5, "Proto", "queue.get with three params");
	expect_usable(fd, 102, "after wrong arities");

	/* A parameter of the wrong type. */
	pk = raw_call_begin(&r, 6, "queue.get", 2);
	pk_str(pk, "q");
	pk_str(pk, "soon");
	raw_call_send(fd, &r);
	expect_error(fd, 6, "Proto", "queue.get with a string timeout");
	pk = raw_call_begin(&r, 7, "queue.size", 1);
	msgpack_pack_int(pk, 42);
	raw_call_send(fd, &r);
	expect_error(fd, 7, "Proto", "queue.size with a numeric name");
	expect_usable(fd, 103, "after ill-typed params");

	/* Too short a message; not an array at all. */
	msgpack_sbuffer_init(&r.sb);
	msgpack_packer_init(&r.pk, &r.sb, msgpack_sbuffer_write);
	msgpack_pack_array(&r.pk, 2);
	msgpack_pack_uint8(&r.pk, 0);
	msgpack_pack_uint8(&r.pk, 8);
	raw_call_send(fd, &r);
	expect_error(fd, ANY_MSGID, "Proto", "[0, 8]");
	msgpack_sbuffer_init(&r.sb);
	msgpack_packer_init(&r.pk, &r.sb, msgpack_sbuffer_write);
	pk_str(&r.pk, "hello");
	raw_call_send(fd, &r);
	expect_error(fd, ANY_MSGID, "Proto", "\"hello\"");
	expect_usable(fd, 104, "after messages that are not requests");

	/* Bad values the daemon checks: Inval. */
	pk = raw_call_begin(&r, 9, "queue.open", 3);
	pk_str(pk, "");
	msgpack_pack_int(pk, 0);
	msgpack_pack_false(pk);
	raw_call_send(fd, &r);
	expect_error(fd, 9, "Inval", "queue.open with an empty name");
	pk = raw_call_begin(&r, 10, "queue.open", 3);
	pk_str(pk, "negative");
	msgpack_pack_int(pk, -1);
	msgpack_pack_false(pk);
	raw_call_send(fd, &r);
	expect_error(fd, 10, "Inval", "queue.open with maxsize -1");
	expect_usable(fd, 105, "after Inval");
	close(fd);
}
END_TEST

/* Notifications get no answer and change nothing. */
START_TEST(test_protocol_notifications_ignored)
{
	int		fd = raw_connect_auth(D);
	struct raw_call	r;
	msgpack_packer	*pk;
	struct raw_resp	resp;
	qlock		*c;
	long		size = -1;

	msgpack_sbuffer_init(&r.sb);
	msgpack_packer_init(&r.pk, &r.sb, msgpack_sbuffer_write);
	msgpack_pack_array(&r.pk, 3);
	msgpack_pack_uint8(&r.pk, 2);
	pk_str(&r.pk, "ping");
	msgpack_pack_array(&r.pk, 0);
	raw_call_send(fd, &r);
	msgpack_sbuffer_init(&r.sb);
	msgpack_packer_init(&r.pk, &r.sb, msgpack_sbuffer_write);
	pk = &r.pk;
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint8(pk, 2);
	pk_str(pk, "queue.put");
	msgpack_pack_array(pk, 3);
	pk_str(pk, "notified");
	pk_str(pk, "item");
	msgpack_pack_int(pk, 0);
	raw_call_send(fd, &r);
	msgpack_sbuffer_init(&r.sb);
	msgpack_packer_init(&r.pk, &r.sb, msgpack_sbuffer_write);
	msgpack_pack_array(&r.pk, 3);
	msgpack_pack_uint8(&r.pk, 2);
	pk_str(&r.pk, "no.such.method");
	msgpack_pack_array(&r.pk, 0);
	raw_call_send(fd, &r);

	raw_call_begin(&r, 7, "ping", 0);
	raw_call_send(fd, &r);
	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	ck_assert_msg(resp.msgid == 7 && !resp.is_error, "the first response "
	    "after three notifications is msgid %llu %s %s",
	    (unsigned long long)resp.msgid, resp.code, resp.msg);
	raw_resp_free(&resp);
	c = qd_connect(D);
	ck_assert_int_eq(qlock_queue_size(c, "notified", &size), QLOCK_OK);
	ck_assert_int_eq(size, 0);
	qlock_close(c);
	close(fd);
}
END_TEST

/* A blocked request does not hold up the ones after it. */
START_TEST(test_protocol_out_of_order)
{
	int		 fd = raw_connect_auth(D);
	struct raw_call	 r;
	msgpack_packer	*pk;
	struct raw_resp	 resp;
	double		 t0 = qd_now(), dt;

	pk = raw_call_begin(&r, 1, "queue.get", 2);
	pk_str(pk, "out-of-order");
	msgpack_pack_int(pk, 2);
	raw_call_send(fd, &r);
	raw_call_begin(&r, 2, "ping", 0);
	raw_call_send(fd, &r);

	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	dt = qd_now() - t0;
	ck_assert_msg(resp.msgid == 2 && !resp.is_error, "first response: "
	    "msgid %llu %s", (unsigned long long)resp.msgid, resp.code);
	ck_assert_msg(dt < 1.5, "the ping waited %.2f s behind the get", dt);
	raw_resp_free(&resp);

	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	dt = qd_now() - t0;
	ck_assert_uint_eq(resp.msgid, 1);
	ck_assert_msg(resp.is_error && strcmp(resp.code, "Empty") == 0,
	    "the get ended with '%s'", resp.code);
	ck_assert_msg(dt >= 1.9, "the get timed out after %.2f s, not 2", dt);
	raw_resp_free(&resp);
	close(fd);
}
END_TEST


/* --- how requests arrive ------------------------------------------------- */

/* Append r's request to all as one frame. */
static void
req_append(msgpack_sbuffer *all, struct raw_call *r)
{
	uint8_t	hdr[FRAME_HDR];

	frame_put_header(hdr, r->sb.size);
	msgpack_sbuffer_write(all, (const char *)hdr, sizeof(hdr));
	msgpack_sbuffer_write(all, r->sb.data, r->sb.size);
	msgpack_sbuffer_destroy(&r->sb);
}

/* Fill buf with a pattern that shows misplaced bytes. */
static void
pattern(uint8_t *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + i / 251);
}

/* The next response must be msgid's result, bytes equal to want. */
static void
expect_bytes(int fd, uint64_t msgid, const uint8_t *want, size_t len,
    const char *what)
{
	struct raw_resp	r;

	ck_assert_msg(raw_recv_resp(fd, &r, QD_WAIT) == 0, "%s: no response",
	    what);
	ck_assert_msg(r.msgid == msgid && !r.is_error, "%s: msgid %llu (want "
	    "%llu) %s %s", what, (unsigned long long)r.msgid,
	    (unsigned long long)msgid, r.code, r.msg);
	ck_assert_msg(r.result.type == MSGPACK_OBJECT_BIN &&
	    r.result.via.bin.size == len &&
	    memcmp(r.result.via.bin.ptr, want, len) == 0,
	    "%s: not the bytes stored", what);
	raw_resp_free(&r);
}

/* Requests that arrive in pieces (a few bytes at a time, and a large one
 * over many reads) are answered as if each had come whole. */
START_TEST(test_protocol_split_frames)
{
	enum { ITEM = 40000 };
	int		 fd = raw_connect_auth(D), one = 1;
	uint8_t		*item = malloc(ITEM);
	struct raw_call	 r;
	msgpack_packer	*pk;
	msgpack_sbuffer	 all;
	struct raw_resp	 resp;
	size_t		 off, n;

	ck_assert_ptr_nonnull(item);
	pattern(item, ITEM);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	msgpack_sbuffer_init(&all);
	raw_call_begin(&r, 1, "ping", 0);
	req_append(&all, &r);
	pk = raw_call_begin(&r, 2, "queue.put", 3);
	pk_str(pk, "split");
	msgpack_pack_bin_with_body(pk, item, ITEM);
	msgpack_pack_int(pk, 5);
	req_append(&all, &r);
	pk = raw_call_begin(&r, 3, "queue.size", 1);
	pk_str(pk, "split");
	req_append(&all, &r);
	pk = raw_call_begin(&r, 4, "queue.get", 2);
	pk_str(pk, "split");
	msgpack_pack_int(pk, 5);
	req_append(&all, &r);
	/* The first frames 1 to 5 bytes at a time, then 4 KiB pieces. */
	for (off = 0; off < all.size; off += n) {
		n = off < 300 ? 1 + off % 5 : 4096;
		if (n > all.size - off)
			n = all.size - off;
		ck_assert_int_eq(raw_send(fd, all.data + off, n), 0);
		usleep(off < 300 ? 500 : 100);
	}
	msgpack_sbuffer_destroy(&all);

	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	ck_assert_msg(resp.msgid == 1 && !resp.is_error, "ping: msgid %llu %s",
	    (unsigned long long)resp.msgid, resp.code);
	raw_resp_free(&resp);
	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	ck_assert_msg(resp.msgid == 2 && !resp.is_error, "put: msgid %llu %s",
	    (unsigned long long)resp.msgid, resp.code);
	raw_resp_free(&resp);
	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	ck_assert_msg(resp.msgid == 3 && !resp.is_error &&
	    resp.result.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    resp.result.via.u64 == 1, "size: msgid %llu %s, not 1",
	    (unsigned long long)resp.msgid, resp.code);
	raw_resp_free(&resp);
	expect_bytes(fd, 4, item, ITEM, "get");
	expect_usable(fd, 5, "after split frames");
	free(item);
	close(fd);
}
END_TEST

/*
 * A client that sends many requests and reads none of the replies for a
 * while: the daemon stops reading it once --max-output is queued, and
 * when the client reads again every request is answered, in order, with
 * none lost and nothing else held up.
 */
START_TEST(test_protocol_unread_replies)
{
	enum { VALUE = 50000, GETS = 300 };
	struct qd	*d = qd_start(1, "--max-output", "65536", NULL);
	int		 fd = raw_connect_auth(d), i;
	uint8_t		*value = malloc(VALUE);
	char		 what[32];
	struct raw_call	 r;
	msgpack_packer	*pk;
	msgpack_sbuffer	 all;
	struct raw_resp	 resp;
	qlock		*c;

	ck_assert_ptr_nonnull(value);
	pattern(value, VALUE);
	pk = raw_call_begin(&r, 1, "dict.set", 3);
	pk_str(pk, "unread");
	pk_str(pk, "k");
	msgpack_pack_bin_with_body(pk, value, VALUE);
	raw_call_send(fd, &r);
	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	ck_assert_msg(!resp.is_error, "dict.set: %s", resp.code);
	raw_resp_free(&resp);

	msgpack_sbuffer_init(&all);
	for (i = 0; i < GETS; i++) {
		pk = raw_call_begin(&r, 100 + (uint64_t)i, "dict.get", 2);
		pk_str(pk, "unread");
		pk_str(pk, "k");
		req_append(&all, &r);
	}
	ck_assert_int_eq(raw_send(fd, all.data, all.size), 0);
	msgpack_sbuffer_destroy(&all);
	/* Some 15 MB of replies pile up against a client not reading. */
	usleep(500 * 1000);
	c = qd_connect(d);
	ck_assert_int_eq(qlock_ping(c), QLOCK_OK);	/* others are served */
	qlock_close(c);
	for (i = 0; i < GETS; i++) {
		snprintf(what, sizeof(what), "get %d", i);
		expect_bytes(fd, 100 + (uint64_t)i, value, VALUE, what);
	}
	expect_usable(fd, 1000, "after the backlog");
	close(fd);
	free(value);
	qd_stop(d);
}
END_TEST

static void
add_tests(TCase *tc)
{
	tcase_add_test(tc, test_protocol_wrong_key_refused);
	tcase_add_test(tc, test_protocol_preauth_frame_limit);
	tcase_add_test(tc, test_protocol_request_before_auth);
	tcase_add_test(tc, test_protocol_handshake_deadline);
	add_frame_tests(tc);
	tcase_add_test(tc, test_protocol_huge_declared_sizes);
	tcase_add_test(tc, test_protocol_not_msgpack);
	tcase_add_test(tc, test_protocol_unknown_method);
	tcase_add_test(tc, test_protocol_malformed_requests);
	tcase_add_test(tc, test_protocol_notifications_ignored);
	tcase_add_test(tc, test_protocol_out_of_order);
	tcase_add_test(tc, test_protocol_split_frames);
	tcase_add_test(tc, test_protocol_unread_replies);
}

static Suite *
protocol_suite(void)
{
	Suite	*s = suite_create("it_protocol");

	add_tests(qd_tcase(s, "workers1", setup_w1, qd_fixture_stop, 60));
	add_tests(qd_tcase(s, "workers3", setup_w3, qd_fixture_stop, 60));
	return s;
}

int
main(void)
{
	return suite_run(protocol_suite(), CK_FORK);
}
