/* auth.c: both sides of the multiprocessing.connection HMAC handshake. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define CHALLENGE	"#CHALLENGE#"
#define WELCOME		"#WELCOME#"
#define FAILURE		"#FAILURE#"
#define SHA256_PREFIX	"{sha256}"
#define LIT_LEN(s)	(sizeof(s) - 1)
#define MD5_LEN		16	/* a bare legacy MAC */
#define MD5_MSG_LEN	20	/* a bare legacy challenge (Python <= 3.11) */

/* True if the message is the legacy form Python recognises by its length. */
static bool
is_legacy(size_t len)
{
	return len == MD5_LEN || len == MD5_MSG_LEN;
}

/* HMAC of msg with md; returns the MAC length, 0 on failure. */
static size_t
mac(const struct auth *a, const EVP_MD *md, const uint8_t *msg, size_t len,
    uint8_t *out)
{
	unsigned int	n = 0;

	if (HMAC(md, a->key, (int)a->keylen, msg, len, out, &n) == NULL)
		return 0;
	return n;
}

/* Check a peer's response to our challenge a->msg. */
static bool
verify(struct auth *a, const uint8_t *resp, size_t len)
{
	uint8_t		expect[EVP_MAX_MD_SIZE];
	size_t		n;

	if (is_legacy(len)) {
		if (!a->allow_md5) {
			a->why = AUTH_WHY_LEGACY;
			return false;
		}
		n = mac(a, EVP_md5(), a->msg, a->msglen, expect);
	} else if (len > LIT_LEN(SHA256_PREFIX) &&
	    memcmp(resp, SHA256_PREFIX, LIT_LEN(SHA256_PREFIX)) == 0) {
		resp += LIT_LEN(SHA256_PREFIX);
		len -= LIT_LEN(SHA256_PREFIX);
		n = mac(a, EVP_sha256(), a->msg, a->msglen, expect);
	} else {
		a->why = AUTH_WHY_PROTO;
		return false;
	}
	if (n == 0 || n != len || CRYPTO_memcmp(expect, resp, n) != 0) {
		a->why = AUTH_WHY_BADMAC;
		return false;
	}
	return true;
}

/* Answer a peer's challenge frame; returns the answer's length, 0 if refused. */
static size_t
answer(struct auth *a, const uint8_t *in, size_t inlen, uint8_t *out)
{
	const uint8_t	*msg;
	size_t		 len, n;

	if (inlen < LIT_LEN(CHALLENGE) ||
	    memcmp(in, CHALLENGE, LIT_LEN(CHALLENGE)) != 0) {
		a->why = AUTH_WHY_PROTO;
		return 0;
	}
	msg = in + LIT_LEN(CHALLENGE);
	len = inlen - LIT_LEN(CHALLENGE);
	if (len < MD5_MSG_LEN) {
		a->why = AUTH_WHY_PROTO;
		return 0;
	}
	if (is_legacy(len)) {
		if (!a->allow_md5) {
			a->why = AUTH_WHY_LEGACY;
			return 0;
		}
		return mac(a, EVP_md5(), msg, len, out);
	}
	if (len <= LIT_LEN(SHA256_PREFIX) ||
	    memcmp(msg, SHA256_PREFIX, LIT_LEN(SHA256_PREFIX)) != 0) {
		a->why = AUTH_WHY_PROTO;	/* a digest we do not offer */
		return 0;
	}
	memcpy(out, SHA256_PREFIX, LIT_LEN(SHA256_PREFIX));
	n = mac(a, EVP_sha256(), msg, len, out + LIT_LEN(SHA256_PREFIX));
	return n == 0 ? 0 : n + LIT_LEN(SHA256_PREFIX);
}

/* Build our challenge into a->msg and the frame body into out. */
static size_t
challenge(struct auth *a, const uint8_t nonce[AUTH_NONCE_LEN], uint8_t *out)
{
	memcpy(a->msg, SHA256_PREFIX, LIT_LEN(SHA256_PREFIX));
	memcpy(a->msg + LIT_LEN(SHA256_PREFIX), nonce, AUTH_NONCE_LEN);
	a->msglen = LIT_LEN(SHA256_PREFIX) + AUTH_NONCE_LEN;
	memcpy(out, CHALLENGE, LIT_LEN(CHALLENGE));
	memcpy(out + LIT_LEN(CHALLENGE), a->msg, a->msglen);
	return LIT_LEN(CHALLENGE) + a->msglen;
}

size_t
auth_server_start(struct auth *a, const void *key, size_t keylen,
    bool allow_md5, const uint8_t nonce[AUTH_NONCE_LEN], uint8_t *out)
{
	memset(a, 0, sizeof(*a));
	a->key = key;
	a->keylen = keylen;
	a->allow_md5 = allow_md5;
	a->state = AUTH_S_WAIT_RESPONSE;
	return challenge(a, nonce, out);
}

void
auth_client_start(struct auth *a, const void *key, size_t keylen,
    const uint8_t nonce[AUTH_NONCE_LEN])
{
	uint8_t	scratch[AUTH_MSG_MAX];

	memset(a, 0, sizeof(*a));
	a->key = key;
	a->keylen = keylen;
	a->state = AUTH_C_WAIT_CHALLENGE;
	(void)challenge(a, nonce, scratch);	/* kept in a->msg for later */
}

/* Fail, with #FAILURE# for the peer when send is set. */
static enum auth_result
fail(struct auth *a, bool send, uint8_t *out, size_t *outlen)
{
	a->state = AUTH_FAILED;
	if (send) {
		memcpy(out, FAILURE, LIT_LEN(FAILURE));
		*outlen = LIT_LEN(FAILURE);
	}
	return AUTH_FAIL;
}

/* True if the frame is exactly the literal s. */
#define IS(in, inlen, s) ((inlen) == LIT_LEN(s) && memcmp((in), (s), LIT_LEN(s)) == 0)

enum auth_result
auth_input(struct auth *a, const uint8_t *in, size_t inlen, uint8_t *out,
    size_t *outlen)
{
	size_t	n;

	*outlen = 0;
	if (inlen > AUTH_MSG_MAX) {
		a->why = AUTH_WHY_PROTO;
		return fail(a, false, out, outlen);
	}
	switch (a->state) {
	case AUTH_S_WAIT_RESPONSE:
		if (!verify(a, in, inlen))
			return fail(a, true, out, outlen);
		memcpy(out, WELCOME, LIT_LEN(WELCOME));
		*outlen = LIT_LEN(WELCOME);
		a->state = AUTH_S_WAIT_CHALLENGE;
		return AUTH_CONTINUE;
	case AUTH_S_WAIT_CHALLENGE:
		if ((n = answer(a, in, inlen, out)) == 0)
			return fail(a, false, out, outlen);
		*outlen = n;
		a->state = AUTH_S_WAIT_WELCOME;
		return AUTH_CONTINUE;
	case AUTH_S_WAIT_WELCOME:
		if (!IS(in, inlen, WELCOME)) {
			a->why = AUTH_WHY_REJECTED;
			return fail(a, false, out, outlen);
		}
		a->state = AUTH_DONE;
		return AUTH_OK;
	case AUTH_C_WAIT_CHALLENGE:
		if ((n = answer(a, in, inlen, out)) == 0)
			return fail(a, false, out, outlen);
		*outlen = n;
		a->state = AUTH_C_WAIT_VERDICT;
		return AUTH_CONTINUE;
	case AUTH_C_WAIT_VERDICT:
		if (!IS(in, inlen, WELCOME)) {
			a->why = IS(in, inlen, FAILURE) ?
			    AUTH_WHY_REJECTED : AUTH_WHY_PROTO;
			return fail(a, false, out, outlen);
		}
		memcpy(out, CHALLENGE, LIT_LEN(CHALLENGE));
		memcpy(out + LIT_LEN(CHALLENGE), a->msg, a->msglen);
		*outlen = LIT_LEN(CHALLENGE) + a->msglen;
		a->state = AUTH_C_WAIT_ANSWER;
		return AUTH_CONTINUE;
	case AUTH_C_WAIT_ANSWER:
		if (!verify(a, in, inlen))
			return fail(a, true, out, outlen);
		memcpy(out, WELCOME, LIT_LEN(WELCOME));
		*outlen = LIT_LEN(WELCOME);
		a->state = AUTH_DONE;
		return AUTH_OK;
	case AUTH_DONE:
	case AUTH_FAILED:
		break;
	}
	a->why = AUTH_WHY_PROTO;
	return fail(a, false, out, outlen);
}

const char *
auth_why_text(enum auth_why why)
{
	switch (why) {
	case AUTH_WHY_NONE:	return "no failure";
	case AUTH_WHY_BADMAC:	return "wrong authkey (HMAC mismatch)";
	case AUTH_WHY_LEGACY:	return "legacy HMAC-MD5 handshake (Python <= 3.11) not allowed; see --auth-legacy-md5";
	case AUTH_WHY_PROTO:	return "unexpected handshake message";
	case AUTH_WHY_REJECTED:	return "peer rejected our authkey";
	}
	return "unknown";
}
