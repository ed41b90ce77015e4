/* it_protocol_frame.c: it_protocol's tests of the frame limit after
 * authentication (an oversized frame answered Limit and skipped, the
 * connection going on) and of libqlock's connect timeout. */
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

/* --- after authentication ------------------------------------------------- */

/* Send a frame of bodylen bytes that starts as a request with msgid: its
 * header, the request's first bytes, then zeros. */
static void
send_big_frame(int fd, size_t bodylen, uint8_t msgid)
{
	uint8_t		 hdr[FRAME_HDR], head[3] = { 0x94, 0x00, msgid };
	static uint8_t	 zeros[256 * 1024];
	size_t		 left = bodylen - sizeof(head), n;

	frame_put_header(hdr, bodylen);
	ck_assert_int_eq(raw_send(fd, hdr, sizeof(hdr)), 0);
	ck_assert_int_eq(raw_send(fd, head, sizeof(head)), 0);
	for (; left > 0; left -= n) {
		n = left < sizeof(zeros) ? left : sizeof(zeros);
		ck_assert_int_eq(raw_send(fd, zeros, n), 0);
	}
}

/*
 * A frame declaring more than --max-frame: Limit for its msgid, with both
 * sizes in the message, as soon as the msgid is in; its body is skipped
 * unread and the connection goes on.  Regression (issue 11, item 2): the
 * daemon answered msgid 0 and closed, so a client still writing its
 * request saw a reset, never the answer.
 */
START_TEST(test_protocol_frame_over_max)
{
	int		 fd = raw_connect_auth(D);
	static const uint8_t hdr1m[4] = { 0, 0x10, 0, 0 };	/* 1 MiB */
	static const uint8_t head[3] = { 0x94, 0x00, 0x2a };	/* msgid 42 */
	struct raw_call	 r;
	struct raw_resp	 resp;
	msgpack_packer	*pk;
	char		*item;

	/* Under the limit is fine. */
	ck_assert_ptr_nonnull(item = calloc(1, 60000));
	pk = raw_call_begin(&r, 1, "queue.put", 3);
	pk_str(pk, "near-limit");
	msgpack_pack_bin_with_body(pk, item, 60000);
	msgpack_pack_int(pk, 0);
	raw_call_send(fd, &r);
	free(item);
	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	ck_assert_msg(!resp.is_error, "a 60 kB put: %s %s", resp.code,
	    resp.msg);
	raw_resp_free(&resp);

	/* Answered before the body is sent: the header and msgid suffice. */
	ck_assert_int_eq(raw_send(fd, hdr1m, 4), 0);
	ck_assert_int_eq(raw_send(fd, head, 3), 0);
	ck_assert_int_eq(raw_recv_resp(fd, &resp, QD_WAIT), 0);
	ck_assert_uint_eq(resp.msgid, 42);
	ck_assert_msg(resp.is_error && strcmp(resp.code, "Limit") == 0,
	    "1 MiB frame: %s", resp.is_error ? resp.code : "a result");
	ck_assert_msg(strstr(resp.msg, "1048576") != NULL &&
	    strstr(resp.msg, "65536") != NULL, "message without the sizes: %s",
	    resp.msg);
	raw_resp_free(&resp);
	/* The rest of its body, then a request on the same connection. */
	item = calloc(1, (1 << 20) - 3);
	ck_assert_ptr_nonnull(item);
	ck_assert_int_eq(raw_send(fd, item, (1 << 20) - 3), 0);
	free(item);
	ck_assert_msg(raw_ping(fd, 43), "no pong after a skipped frame");

	/* Two more back to back, the second with a one-byte msgid form. */
	send_big_frame(fd, 200000, 44);
	send_big_frame(fd, MAX_FRAME + 1, 45);
	raw_expect(fd, 44, "Limit", "second big frame");
	raw_expect(fd, 45, "Limit", "third big frame");
	ck_assert_msg(raw_ping(fd, 46), "no pong after skipped frames");
	close(fd);
	expect_serving();
}
END_TEST

/* A frame skipped is never held: 64 MiB over a 64 KiB limit leaves the
 * worker's memory as it was. */
START_TEST(test_protocol_frame_over_max_unbuffered)
{
	int	fd = raw_connect_auth(D);
	pid_t	worker = raw_conn_worker(D, fd);
	long	before, after;

	ck_assert_int_gt(worker, 0);
	ck_assert_msg(raw_ping(fd, 1), "no pong");
	ck_assert_int_gt(before = qd_rss_kb(worker), 0);
	send_big_frame(fd, 64u << 20, 2);
	raw_expect(fd, 2, "Limit", "64 MiB frame");
	ck_assert_msg(raw_ping(fd, 3), "no pong after a 64 MiB frame");
	after = qd_rss_kb(worker);
	ck_assert_msg(after > 0 && after < before + 8 * 1024, "worker RSS went "
	    "from %ld to %ld kB over a skipped 64 MiB frame", before, after);
	close(fd);
}
END_TEST

/* A length no frame may have (negative: Python's escape for bodies over
 * 2 GiB) cannot be skipped soundly: Limit, then close. */
START_TEST(test_protocol_frame_negative_length)
{
	int			fd = raw_connect_auth(D);
	static const uint8_t	m1[4] = { 0xff, 0xff, 0xff, 0xff };

	ck_assert_int_eq(raw_send(fd, m1, 4), 0);
	expect_error(fd, ANY_MSGID, "Limit", "negative frame length");
	ck_assert_msg(raw_wait_closed(fd, QD_WAIT), "still open after Limit");
	close(fd);
	expect_serving();
}
END_TEST

/* libqlock reports a request over the daemon's limit as QLOCK_ELIMIT
 * with the daemon's words, and the connection stays usable.  Regression
 * (issue 11, item 2): it was QLOCK_ECONN, "connection closed". */
START_TEST(test_protocol_frame_over_max_libqlock)
{
	qlock	*c = qd_connect(D);
	char	*item;
	void	*got;
	size_t	 len;

	ck_assert_ptr_nonnull(item = calloc(1, 100000));
	ck_assert_int_eq(qlock_queue_put(c, "big", item, 100000, 0),
	    QLOCK_ELIMIT);
	ck_assert_msg(strstr(qlock_last_error(c), "over the limit of 65536")
	    != NULL, "last error: %s", qlock_last_error(c));
	ck_assert_int_eq(qlock_queue_put(c, "big", item, 1000, 0), QLOCK_OK);
	ck_assert_int_eq(qlock_queue_get(c, "big", &got, &len, 0), QLOCK_OK);
	ck_assert_uint_eq(len, 1000);
	free(got);
	free(item);
	qlock_close(c);
}
END_TEST

/* A loopback listener that never accepts; its address in addr and sin. */
static int
silent_listener(char *addr, size_t len, struct sockaddr_in *out)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 0), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(addr, len, "127.0.0.1:%u", ntohs(sin.sin_port));
	*out = sin;
	return fd;
}

/* qlock_connect gave up on a silent listener after about secs. */
static void
expect_connect_timeout(qlock *c, int st, double t0, double secs,
    const char *why)
{
	double	dt = qd_now() - t0;

	ck_assert_ptr_null(c);
	ck_assert_int_eq(st, QLOCK_ECONN);
	ck_assert_msg(dt >= secs * 0.9 && dt < secs + 2.5, "gave up after "
	    "%.2f s, timeout %.2f s", dt, secs);
	ck_assert_msg(strstr(qlock_last_error(NULL), why) != NULL &&
	    strstr(qlock_last_error(NULL), "connect timeout") != NULL,
	    "message: %s", qlock_last_error(NULL));
}

/*
 * A listener that takes connections into its backlog and never speaks,
 * then one whose backlog is full: connecting gives up within the connect
 * timeout, QLOCK_ECONN saying which.  Regression (issue 11, item 5):
 * connect(2) had no limit, and the handshake waited 30 s a frame.
 */
START_TEST(test_protocol_connect_timeout)
{
	struct sockaddr_in sin;
	char	 addr[64];
	int	 lfd = silent_listener(addr, sizeof(addr), &sin), fill[3], st, i;
	double	 t0;
	qlock	*c;

	t0 = qd_now();
	c = qlock_connect_timeout(addr, "connect-timeout-key", 0.5, &st);
	expect_connect_timeout(c, st, t0, 0.5, "no handshake");

	/* The backlog full: the next connections are not even accepted. */
	for (i = 0; i < 3; i++) {
		ck_assert_int_ne(fill[i] = socket(AF_INET, SOCK_STREAM |
		    SOCK_NONBLOCK, 0), -1);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	setenv("QLOCK_CONNECT_TIMEOUT", "0.7", 1);
	t0 = qd_now();
	c = qlock_connect(addr, "connect-timeout-key", &st);
	expect_connect_timeout(c, st, t0, 0.7, "not connected");

	setenv("QLOCK_CONNECT_TIMEOUT", "soon", 1);
	ck_assert_ptr_null(qlock_connect(addr, "connect-timeout-key", &st));
	ck_assert_int_eq(st, QLOCK_EINVAL);
	for (i = 0; i < 3; i++)
		close(fill[i]);
	close(lfd);
}
END_TEST

void
add_frame_tests(TCase *tc)
{
	tcase_add_test(tc, test_protocol_frame_over_max);
	tcase_add_test(tc, test_protocol_frame_over_max_unbuffered);
	tcase_add_test(tc, test_protocol_frame_negative_length);
	tcase_add_test(tc, test_protocol_frame_over_max_libqlock);
	tcase_add_test(tc, test_protocol_connect_timeout);
}
