/* check_auth.c: unit tests of the multiprocessing.connection handshake,
 * against MACs computed independently by Python. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "auth.h"
#include "suiterun.h"

/*
 * Test vectors, computed with CPython 3.12.1's hmac module:
 *
 *   import hmac
 *   key    = b"qlockd-test-key";  wrong = b"not-the-key"
 *   nonce1 = bytes(range(0x10, 0x10 + 40))
 *   nonce2 = bytes(range(0x80, 0x80 + 40))
 *   leg20  = bytes(range(0xd0, 0xd0 + 20))
 *   long_  = b"{sha256}" + bytes((i * 3) & 0xff for i in range(237))
 *   def M(k, m, d): return hmac.new(k, m, d).digest()
 *   mac_sha256_nonce1   = M(key,   b"{sha256}" + nonce1, "sha256")
 *   mac_sha256_nonce2   = M(key,   b"{sha256}" + nonce2, "sha256")
 *   mac_md5_nonce1      = M(key,   b"{sha256}" + nonce1, "md5")
 *   mac_md5_legacy20    = M(key,   leg20, "md5")
 *   wrong_sha256_nonce1 = M(wrong, b"{sha256}" + nonce1, "sha256")
 *   wrong_sha256_nonce2 = M(wrong, b"{sha256}" + nonce2, "sha256")
 *   wrong_md5_nonce1    = M(wrong, b"{sha256}" + nonce1, "md5")
 *   mac_sha256_long     = M(key,   long_, "sha256")
 *
 * Cross-checked with multiprocessing.connection.answer_challenge() over a
 * fake connection: 3.12.1 answers "#CHALLENGE#{sha256}"+nonce1 with
 * b"{sha256}" + mac_sha256_nonce1, 3.11.7 with mac_md5_nonce1, and both
 * answer "#CHALLENGE#"+leg20 with mac_md5_legacy20.
 */
static const uint8_t mac_sha256_nonce1[32] = {
	0x22, 0x08, 0x7a, 0x90, 0x9d, 0xc9, 0x44, 0x2f, 0x23, 0x82, 0x19, 0x0d,
	0x18, 0x52, 0x3b, 0xc3, 0x79, 0xab, 0x52, 0x91, 0xbb, 0x80, 0xae, 0x3b,
	0xf5, 0x93, 0xd2, 0x4b, 0xb7, 0x7f, 0x4e, 0xe6,
};
static const uint8_t mac_sha256_nonce2[32] = {
	0xae, 0x93, 0xd2, 0x55, 0x0e, 0x42, 0x7b, 0x27, 0xd6, 0xbc, 0xd1, 0xf2,
	0xf2, 0xb4, 0x2c, 0xa5, 0x09, 0xb0, 0x07, 0xa2, 0x18, 0x71, 0x60, 0xad,
	0x4b, 0x84, 0x1d, 0xb6, 0x7c, 0x88, 0x9a, 0xe1,
};
static const uint8_t mac_md5_nonce1[16] = {
	0x3b, 0xde, 0x7c, 0xa4, 0x4e, 0x01, 0xa8, 0x9e, 0xef, 0x6e, 0xf3, 0x01,
	0xf8, 0x9d, 0xf0, 0x1c,
};
static const uint8_t mac_md5_legacy20[16] = {
	0xc8, 0x81, 0x13, 0xe6, 0x62, 0xb2, 0x79, 0x80, 0xc9, 0x76, 0xce, 0xc0,
	0x5f, 0x4d, 0x18, 0x31,
};
static const uint8_t wrong_sha256_nonce1[32] = {
	0xcf, 0xf4, 0xfa, 0x46, 0x17, 0x14, 0xa9, 0x23, 0x9e, 0xc9, 0x08, 0x20,
	0xd7, 0xf7, 0x0a, 0x3b, 0xe8, 0x21, 0xe8, 0xbd, 0x80, 0x41, 0xee, 0xef,
	0x75, 0x23, 0xb6, 0xff, 0xc8, 0xc7, 0xcd, 0x88,
};
static const uint8_t wrong_sha256_nonce2[32] = {
	0x1e, 0x3e, 0x62, 0xd4, 0x0b, 0xb4, 0xcc, 0x7a, 0x7c, 0x79, 0x31, 0x9a,
	0x67, 0x60, 0x25, 0x8a, 0xe5, 0x40, 0x32, 0x10, 0x60, 0x30, 0x19, 0x0d,
	0x8b, 0x42, 0xe3, 0x83, 0xe0, 0xdf, 0x4d, 0x6f,
};
static const uint8_t wrong_md5_nonce1[16] = {
	0x8a, 0x9b, 0x0e, 0x30, 0x44, 0x78, 0x37, 0xa1, 0x71, 0xa6, 0xa5, 0x9c,
	0x30, 0xf8, 0x93, 0x2a,
};
static const uint8_t mac_sha256_long[32] = {
	0xd6, 0x18, 0xeb, 0x0e, 0xf2, 0xab, 0xed, 0x0c, 0x0e, 0x5a, 0x0a, 0x6e,
	0x07, 0xdf, 0x1a, 0xea, 0x4b, 0x3a, 0x30, 0x7d, 0x67, 0x56, 0x07, 0x65,
	0x32, 0x51, 0x51, 0xd7, 0xff, 0x80, 0x70, 0xf8,
};

#define KEY		"qlockd-test-key"
#define WRONG		"not-the-key"
#define CHALLENGE	"#CHALLENGE#"
#define WELCOME		"#WELCOME#"
#define FAILURE		"#FAILURE#"
#define SHA256		"{sha256}"
#define LIT(s)		(const uint8_t *)(s), (sizeof(s) - 1)
#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define LONG_LEN	237	/* "#CHALLENGE#{sha256}" + 237 = 256 bytes */

static uint8_t		nonce1[AUTH_NONCE_LEN];	/* the server's */
static uint8_t		nonce2[AUTH_NONCE_LEN];	/* the client's */
static uint8_t		leg20[20];		/* a Python <= 3.11 challenge */
static struct auth	srv, cli;
static uint8_t		out[AUTH_MSG_MAX];	/* what a side is to send */
static size_t		outlen;
static uint8_t		msg[2 * AUTH_MSG_MAX];	/* a frame built by a test */
static size_t		msglen;

static void
setup(void)
{
	size_t	i;

	for (i = 0; i < AUTH_NONCE_LEN; i++) {
		nonce1[i] = (uint8_t)(0x10 + i);
		nonce2[i] = (uint8_t)(0x80 + i);
	}
	for (i = 0; i < sizeof(leg20); i++)
		leg20[i] = (uint8_t)(0xd0 + i);
	memset(&srv, 0xa5, sizeof(srv));	/* start must set everything */
	memset(&cli, 0xa5, sizeof(cli));
	memset(out, 0, sizeof(out));
	outlen = 0;
	msglen = 0;
}

/* msg = literal prefix + bytes. */
static void
build(const char *prefix, const uint8_t *b, size_t n)
{
	size_t	plen = strlen(prefix);

	ck_assert_uint_le(plen + n, sizeof(msg));
	memcpy(msg, prefix, plen);
	if (n > 0)
		memcpy(msg + plen, b, n);
	msglen = plen + n;
}

/* out holds exactly the literal s. */
static void
assert_out_lit(const char *s)
{
	ck_assert_uint_eq(outlen, strlen(s));
	ck_assert_mem_eq(out, s, outlen);
}

/* out holds exactly prefix + b[0..n). */
static void
assert_out(const char *prefix, const uint8_t *b, size_t n)
{
	size_t	plen = strlen(prefix);

	ck_assert_uint_eq(outlen, plen + n);
	ck_assert_mem_eq(out, prefix, plen);
	ck_assert_mem_eq(out + plen, b, n);
}

/* Feed msg to a, expecting result r. */
static void
feed(struct auth *a, enum auth_result r)
{
	ck_assert_int_eq(auth_input(a, msg, msglen, out, &outlen), r);
}

/* Start the server with key and bring it to AUTH_S_WAIT_CHALLENGE. */
static void
server_to_challenge(bool allow_md5)
{
	outlen = auth_server_start(&srv, KEY, strlen(KEY), allow_md5, nonce1,
	    out);
	build(SHA256, mac_sha256_nonce1, sizeof(mac_sha256_nonce1));
	feed(&srv, AUTH_CONTINUE);
	assert_out_lit(WELCOME);
	ck_assert_int_eq(srv.state, AUTH_S_WAIT_CHALLENGE);
}

/* ---- server side against Python's vectors ---------------------------- */

START_TEST(test_auth_server_challenge)
{
	outlen = auth_server_start(&srv, KEY, strlen(KEY), false, nonce1, out);
	assert_out(CHALLENGE SHA256, nonce1, AUTH_NONCE_LEN);
	ck_assert_int_eq(srv.state, AUTH_S_WAIT_RESPONSE);
	ck_assert_int_eq(srv.why, AUTH_WHY_NONE);
}
END_TEST

/* The whole server side with a Python 3.12 client. */
START_TEST(test_auth_server_handshake)
{
	server_to_challenge(false);
	build(CHALLENGE SHA256, nonce2, AUTH_NONCE_LEN);
	feed(&srv, AUTH_CONTINUE);
	assert_out(SHA256, mac_sha256_nonce2, sizeof(mac_sha256_nonce2));
	ck_assert_int_eq(srv.state, AUTH_S_WAIT_WELCOME);
	build(WELCOME, NULL, 0);
	feed(&srv, AUTH_OK);
	ck_assert_uint_eq(outlen, 0);
	ck_assert_int_eq(srv.state, AUTH_DONE);
	ck_assert_int_eq(srv.why, AUTH_WHY_NONE);
}
END_TEST

/* A client challenge filling the whole 256-byte frame is answered. */
START_TEST(test_auth_server_challenge_256)
{
	uint8_t	body[LONG_LEN];
	size_t	i;

	for (i = 0; i < LONG_LEN; i++)
		body[i] = (uint8_t)(i * 3);
	server_to_challenge(false);
	build(CHALLENGE SHA256, body, LONG_LEN);
	ck_assert_uint_eq(msglen, AUTH_MSG_MAX);
	feed(&srv, AUTH_CONTINUE);
	assert_out(SHA256, mac_sha256_long, sizeof(mac_sha256_long));
}
END_TEST

/* A client with another key gets #FAILURE#. */
START_TEST(test_auth_server_wrong_key)
{
	outlen = auth_server_start(&srv, KEY, strlen(KEY), false, nonce1, out);
	build(SHA256, wrong_sha256_nonce1, sizeof(wrong_sha256_nonce1));
	feed(&srv, AUTH_FAIL);
	assert_out_lit(FAILURE);
	ck_assert_int_eq(srv.why, AUTH_WHY_BADMAC);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
}
END_TEST

/* Near misses of the right MAC: one bit off, one byte short or long, the
 * MAC of the other nonce, the right MAC without its prefix. */
START_TEST(test_auth_server_near_miss)
{
	uint8_t	mac[33];

	memcpy(mac, mac_sha256_nonce1, 32);
	mac[32] = 0;
	switch (_i) {
	case 0:
		mac[31] ^= 0x01;
		build(SHA256, mac, 32);
		break;
	case 1:
		build(SHA256, mac, 31);
		break;
	case 2:
		build(SHA256, mac, 33);
		break;
	case 3:
		build(SHA256, mac_sha256_nonce2, 32);
		break;
	case 4:
		build("", mac, 32);		/* 32 bytes, no prefix */
		break;
	case 5:
		build("{sha256", mac, 32);
		break;
	default:
		ck_abort_msg("no case %d", _i);
	}
	outlen = auth_server_start(&srv, KEY, strlen(KEY), true, nonce1, out);
	feed(&srv, AUTH_FAIL);
	assert_out_lit(FAILURE);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	ck_assert(srv.why == AUTH_WHY_BADMAC || srv.why == AUTH_WHY_PROTO);
}
END_TEST

/* A Python <= 3.11 client's bare HMAC-MD5 is refused unless allowed. */
START_TEST(test_auth_server_legacy_refused)
{
	outlen = auth_server_start(&srv, KEY, strlen(KEY), false, nonce1, out);
	build("", mac_md5_nonce1, sizeof(mac_md5_nonce1));
	feed(&srv, AUTH_FAIL);
	assert_out_lit(FAILURE);
	ck_assert_int_eq(srv.why, AUTH_WHY_LEGACY);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	ck_assert_ptr_nonnull(auth_why_text(srv.why));
}
END_TEST

/* With allow_md5, the whole legacy handshake: the MD5 response is welcomed
 * and a 20-byte legacy challenge gets a bare 16-byte HMAC-MD5. */
START_TEST(test_auth_server_legacy_allowed)
{
	outlen = auth_server_start(&srv, KEY, strlen(KEY), true, nonce1, out);
	/* the challenge is the modern one even then: Python <= 3.11 takes
	 * it whole as its message */
	assert_out(CHALLENGE SHA256, nonce1, AUTH_NONCE_LEN);
	build("", mac_md5_nonce1, sizeof(mac_md5_nonce1));
	feed(&srv, AUTH_CONTINUE);
	assert_out_lit(WELCOME);
	build(CHALLENGE, leg20, sizeof(leg20));
	feed(&srv, AUTH_CONTINUE);
	assert_out("", mac_md5_legacy20, sizeof(mac_md5_legacy20));
	build(WELCOME, NULL, 0);
	feed(&srv, AUTH_OK);
	ck_assert_int_eq(srv.state, AUTH_DONE);
}
END_TEST

/* allow_md5 does not let a wrong MD5 through. */
START_TEST(test_auth_server_legacy_wrong_key)
{
	outlen = auth_server_start(&srv, KEY, strlen(KEY), true, nonce1, out);
	build("", wrong_md5_nonce1, sizeof(wrong_md5_nonce1));
	feed(&srv, AUTH_FAIL);
	assert_out_lit(FAILURE);
	ck_assert_int_eq(srv.why, AUTH_WHY_BADMAC);
}
END_TEST

/* A legacy 20-byte challenge is not answered unless allowed. */
START_TEST(test_auth_server_legacy_challenge_refused)
{
	server_to_challenge(false);
	build(CHALLENGE, leg20, sizeof(leg20));
	feed(&srv, AUTH_FAIL);
	ck_assert_int_eq(srv.why, AUTH_WHY_LEGACY);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	/* and certainly not with the MAC */
	ck_assert(outlen < sizeof(mac_md5_legacy20) ||
	    memcmp(out, mac_md5_legacy20, sizeof(mac_md5_legacy20)) != 0);
}
END_TEST

/* Anything but a challenge where one is due fails the handshake. */
static const char *const bad_challenges[] = {
	"hello",
	"",
	WELCOME,
	"#CHALLENGE",				/* cut short */
	"#CHALLENGE#",				/* nothing after */
	"#CHALLENGE#0123456789",		/* 10 bytes: too short */
	"#CHALLENGE#0123456789abcdef",		/* 16: a MAC's length, not 20 */
	"#CHALLENGE#{md5}0123456789abcdefghijklmn",	/* not offered */
	"#challenge#{sha256}0123456789abcdefghijklmnopqrstuvwxyz0123",
};

START_TEST(test_auth_server_bad_challenge)
{
	server_to_challenge(true);
	build(bad_challenges[_i], NULL, 0);
	feed(&srv, AUTH_FAIL);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	ck_assert_int_eq(srv.why, AUTH_WHY_PROTO);
}
END_TEST

/* Frames over 256 bytes fail in every state, whatever they hold. */
START_TEST(test_auth_server_oversize)
{
	uint8_t	body[AUTH_MSG_MAX];

	memset(body, 'x', sizeof(body));
	/* a response: "{sha256}" + 249 bytes */
	outlen = auth_server_start(&srv, KEY, strlen(KEY), false, nonce1, out);
	build(SHA256, body, AUTH_MSG_MAX + 1 - 8);
	feed(&srv, AUTH_FAIL);
	ck_assert_int_eq(srv.state, AUTH_FAILED);

	/* a challenge: "#CHALLENGE#{sha256}" + 238 bytes */
	server_to_challenge(false);
	build(CHALLENGE SHA256, body, LONG_LEN + 1);
	ck_assert_uint_eq(msglen, AUTH_MSG_MAX + 1);
	feed(&srv, AUTH_FAIL);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	ck_assert(outlen == 0 || memcmp(out, SHA256, 8) != 0);
}
END_TEST

/* The client's #FAILURE# (it rejected our answer), or anything but
 * #WELCOME#, ends the handshake. */
static const char *const bad_verdicts[] = {
	FAILURE, "#WELCOME", "#WELCOME##", "", "#welcome#",
};

START_TEST(test_auth_server_verdict)
{
	server_to_challenge(false);
	build(CHALLENGE SHA256, nonce2, AUTH_NONCE_LEN);
	feed(&srv, AUTH_CONTINUE);
	build(bad_verdicts[_i], NULL, 0);
	feed(&srv, AUTH_FAIL);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	if (_i == 0)
		ck_assert_int_eq(srv.why, AUTH_WHY_REJECTED);
	else
		ck_assert_int_ne(srv.why, AUTH_WHY_NONE);
}
END_TEST

/* Once done or failed, every further frame fails. */
START_TEST(test_auth_input_after_end)
{
	/* done */
	server_to_challenge(false);
	build(CHALLENGE SHA256, nonce2, AUTH_NONCE_LEN);
	feed(&srv, AUTH_CONTINUE);
	build(WELCOME, NULL, 0);
	feed(&srv, AUTH_OK);
	feed(&srv, AUTH_FAIL);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	build(SHA256, mac_sha256_nonce1, sizeof(mac_sha256_nonce1));
	feed(&srv, AUTH_FAIL);

	/* failed: even the right MAC is too late */
	outlen = auth_server_start(&srv, KEY, strlen(KEY), false, nonce1, out);
	build(SHA256, wrong_sha256_nonce1, sizeof(wrong_sha256_nonce1));
	feed(&srv, AUTH_FAIL);
	build(SHA256, mac_sha256_nonce1, sizeof(mac_sha256_nonce1));
	feed(&srv, AUTH_FAIL);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	build(WELCOME, NULL, 0);
	feed(&srv, AUTH_FAIL);

	/* a client, done */
	auth_client_start(&cli, KEY, strlen(KEY), nonce2);
	build(CHALLENGE SHA256, nonce1, AUTH_NONCE_LEN);
	feed(&cli, AUTH_CONTINUE);
	build(WELCOME, NULL, 0);
	feed(&cli, AUTH_CONTINUE);
	build(SHA256, mac_sha256_nonce2, sizeof(mac_sha256_nonce2));
	feed(&cli, AUTH_OK);
	feed(&cli, AUTH_FAIL);
	build(WELCOME, NULL, 0);
	feed(&cli, AUTH_FAIL);
	ck_assert_int_eq(cli.state, AUTH_FAILED);
}
END_TEST

/* ---- client side against Python's vectors ---------------------------- */

/* The whole client side with a Python 3.12 server. */
START_TEST(test_auth_client_handshake)
{
	auth_client_start(&cli, KEY, strlen(KEY), nonce2);
	ck_assert_int_eq(cli.state, AUTH_C_WAIT_CHALLENGE);
	build(CHALLENGE SHA256, nonce1, AUTH_NONCE_LEN);
	feed(&cli, AUTH_CONTINUE);
	assert_out(SHA256, mac_sha256_nonce1, sizeof(mac_sha256_nonce1));
	build(WELCOME, NULL, 0);
	feed(&cli, AUTH_CONTINUE);
	assert_out(CHALLENGE SHA256, nonce2, AUTH_NONCE_LEN);
	build(SHA256, mac_sha256_nonce2, sizeof(mac_sha256_nonce2));
	feed(&cli, AUTH_OK);
	assert_out_lit(WELCOME);
	ck_assert_int_eq(cli.state, AUTH_DONE);
	ck_assert_int_eq(cli.why, AUTH_WHY_NONE);
}
END_TEST

/* A server that answers our challenge wrongly gets #FAILURE#. */
START_TEST(test_auth_client_bad_answer)
{
	auth_client_start(&cli, KEY, strlen(KEY), nonce2);
	build(CHALLENGE SHA256, nonce1, AUTH_NONCE_LEN);
	feed(&cli, AUTH_CONTINUE);
	build(WELCOME, NULL, 0);
	feed(&cli, AUTH_CONTINUE);
	switch (_i) {
	case 0:	/* another key */
		build(SHA256, wrong_sha256_nonce2, sizeof(wrong_sha256_nonce2));
		break;
	case 1:	/* a replay of our own answer to the other nonce */
		build(SHA256, mac_sha256_nonce1, sizeof(mac_sha256_nonce1));
		break;
	case 2:	/* a legacy MD5 */
		build("", mac_md5_nonce1, sizeof(mac_md5_nonce1));
		break;
	case 3:	/* not a MAC at all */
		build(WELCOME, NULL, 0);
		break;
	default:
		ck_abort_msg("no case %d", _i);
	}
	feed(&cli, AUTH_FAIL);
	assert_out_lit(FAILURE);
	ck_assert_int_eq(cli.state, AUTH_FAILED);
	ck_assert_int_ne(cli.why, AUTH_WHY_NONE);
	if (_i == 0 || _i == 1)
		ck_assert_int_eq(cli.why, AUTH_WHY_BADMAC);
}
END_TEST

/* A server that refuses our MAC: REJECTED; anything else: PROTO. */
START_TEST(test_auth_client_rejected)
{
	auth_client_start(&cli, KEY, strlen(KEY), nonce2);
	build(CHALLENGE SHA256, nonce1, AUTH_NONCE_LEN);
	feed(&cli, AUTH_CONTINUE);
	build(FAILURE, NULL, 0);
	feed(&cli, AUTH_FAIL);
	ck_assert_int_eq(cli.why, AUTH_WHY_REJECTED);
	ck_assert_int_eq(cli.state, AUTH_FAILED);

	auth_client_start(&cli, KEY, strlen(KEY), nonce2);
	build(CHALLENGE SHA256, nonce1, AUTH_NONCE_LEN);
	feed(&cli, AUTH_CONTINUE);
	build("garbage", NULL, 0);
	feed(&cli, AUTH_FAIL);
	ck_assert_int_eq(cli.why, AUTH_WHY_PROTO);
}
END_TEST

/* Garbage, an oversize frame, or a legacy server's challenge, where the
 * server's challenge is due. */
START_TEST(test_auth_client_bad_challenge)
{
	uint8_t	body[AUTH_MSG_MAX];

	memset(body, 'x', sizeof(body));
	auth_client_start(&cli, KEY, strlen(KEY), nonce2);
	switch (_i) {
	case 0:
		build(WELCOME, NULL, 0);
		break;
	case 1:
		build(CHALLENGE SHA256, body, LONG_LEN + 1);
		break;
	case 2:
		build(CHALLENGE, leg20, sizeof(leg20));
		break;
	case 3:
		build(CHALLENGE "{md5}", body, 40);
		break;
	default:
		ck_abort_msg("no case %d", _i);
	}
	feed(&cli, AUTH_FAIL);
	ck_assert_int_eq(cli.state, AUTH_FAILED);
	ck_assert_int_ne(cli.why, AUTH_WHY_NONE);
}
END_TEST

/* ---- both sides in memory -------------------------------------------- */

/* Run a handshake between srv and cli, passing each output to the other
 * side, until a side has nothing to send.  Returns the last result of
 * each side in *rs, *rc. */
static void
run(const char *skey, size_t skeylen, const char *ckey, size_t ckeylen,
    enum auth_result *rs, enum auth_result *rc)
{
	uint8_t		 buf[AUTH_MSG_MAX];
	size_t		 len;
	struct auth	*to;
	int		 steps;

	*rs = *rc = AUTH_CONTINUE;
	auth_client_start(&cli, ckey, ckeylen, nonce2);
	len = auth_server_start(&srv, skey, skeylen, false, nonce1, buf);
	to = &cli;
	for (steps = 0; len > 0; steps++) {
		ck_assert_int_lt(steps, 10);
		ck_assert_uint_le(len, AUTH_MSG_MAX);
		if (to == &cli) {
			*rc = auth_input(&cli, buf, len, out, &outlen);
			to = &srv;
		} else {
			*rs = auth_input(&srv, buf, len, out, &outlen);
			to = &cli;
		}
		memcpy(buf, out, outlen);
		len = outlen;
	}
}

START_TEST(test_auth_handshake_same_key)
{
	enum auth_result rs, rc;

	run(KEY, strlen(KEY), KEY, strlen(KEY), &rs, &rc);
	ck_assert_int_eq(rs, AUTH_OK);
	ck_assert_int_eq(rc, AUTH_OK);
	ck_assert_int_eq(srv.state, AUTH_DONE);
	ck_assert_int_eq(cli.state, AUTH_DONE);
}
END_TEST

/* Keys longer than a hash block, and with NUL bytes, work the same. */
START_TEST(test_auth_handshake_long_key)
{
	static char	 key[AUTH_KEY_MAX];
	char		 other[AUTH_KEY_MAX];
	enum auth_result rs, rc;
	size_t		 i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (char)(i * 13);
	run(key, sizeof(key), key, sizeof(key), &rs, &rc);
	ck_assert_int_eq(rs, AUTH_OK);
	ck_assert_int_eq(rc, AUTH_OK);

	/* differing only in the last byte, after a NUL */
	memcpy(other, key, sizeof(other));
	other[sizeof(other) - 1] ^= 1;
	run(key, sizeof(key), other, sizeof(other), &rs, &rc);
	ck_assert_int_eq(rs, AUTH_FAIL);
	ck_assert_int_eq(rc, AUTH_FAIL);
	/* a prefix of the key is another key */
	run(key, sizeof(key), key, sizeof(key) - 1, &rs, &rc);
	ck_assert_int_eq(rs, AUTH_FAIL);
	ck_assert_int_eq(rc, AUTH_FAIL);
}
END_TEST

START_TEST(test_auth_handshake_different_keys)
{
	enum auth_result rs, rc;

	run(KEY, strlen(KEY), WRONG, strlen(WRONG), &rs, &rc);
	ck_assert_int_eq(rs, AUTH_FAIL);
	ck_assert_int_eq(rc, AUTH_FAIL);
	ck_assert_int_eq(srv.why, AUTH_WHY_BADMAC);
	ck_assert_int_eq(cli.why, AUTH_WHY_REJECTED);
	ck_assert_int_eq(srv.state, AUTH_FAILED);
	ck_assert_int_eq(cli.state, AUTH_FAILED);

	/* the server's last words were #FAILURE# */
	auth_client_start(&cli, WRONG, strlen(WRONG), nonce2);
	outlen = auth_server_start(&srv, KEY, strlen(KEY), false, nonce1, out);
	memcpy(msg, out, outlen);
	msglen = outlen;
	feed(&cli, AUTH_CONTINUE);
	memcpy(msg, out, outlen);
	msglen = outlen;
	feed(&srv, AUTH_FAIL);
	assert_out_lit(FAILURE);
}
END_TEST

START_TEST(test_auth_why_text)
{
	static const enum auth_why whys[] = {
		AUTH_WHY_NONE, AUTH_WHY_BADMAC, AUTH_WHY_LEGACY,
		AUTH_WHY_PROTO, AUTH_WHY_REJECTED,
	};
	size_t	i, j;

	for (i = 0; i < sizeof(whys) / sizeof(whys[0]); i++) {
		ck_assert_ptr_nonnull(auth_why_text(whys[i]));
		ck_assert_uint_gt(strlen(auth_why_text(whys[i])), 0);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(auth_why_text(whys[i]),
			    auth_why_text(whys[j]));
	}
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc;

	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_auth_server_challenge);
	tcase_add_test(tc, test_auth_server_handshake);
	tcase_add_test(tc, test_auth_server_challenge_256);
	tcase_add_test(tc, test_auth_server_wrong_key);
	tcase_add_loop_test(tc, test_auth_server_near_miss, 0, 6);
	tcase_add_test(tc, test_auth_server_legacy_refused);
	tcase_add_test(tc, test_auth_server_legacy_allowed);
	tcase_add_test(tc, test_auth_server_legacy_wrong_key);
	tcase_add_test(tc, test_auth_server_legacy_challenge_refused);
	tcase_add_loop_test(tc, test_auth_server_bad_challenge, 0,
	    NELEM(bad_challenges));
	tcase_add_test(tc, test_auth_server_oversize);
	tcase_add_loop_test(tc, test_auth_server_verdict, 0, NELEM(bad_verdicts));
	tcase_add_test(tc, test_auth_input_after_end);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_auth_client_handshake);
	tcase_add_loop_test(tc, test_auth_client_bad_answer, 0, 4);
	tcase_add_test(tc, test_auth_client_rejected);
	tcase_add_loop_test(tc, test_auth_client_bad_challenge, 0, 4);
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_auth_handshake_same_key);
	tcase_add_test(tc, test_auth_handshake_long_key);
	tcase_add_test(tc, test_auth_handshake_different_keys);
	tcase_add_test(tc, test_auth_why_text);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(auth_suite(), CK_FORK_GETENV);
}
