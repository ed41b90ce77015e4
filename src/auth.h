/* auth.h: the authkey handshake of Python's multiprocessing.connection
 * (3.12+: HMAC-SHA256 with a "{sha256}" prefix; legacy HMAC-MD5 on request)
 * as a pure state machine over frame bodies, for both ends. */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_NONCE_LEN	40	/* random bytes in a challenge, as Python */
#define AUTH_MSG_MAX	256	/* no handshake frame is longer */
#define AUTH_KEY_MAX	4096	/* longest authkey accepted */

enum auth_state {
	AUTH_S_WAIT_RESPONSE,	/* server: sent challenge, awaiting the MAC */
	AUTH_S_WAIT_CHALLENGE,	/* server: welcomed client, awaiting its challenge */
	AUTH_S_WAIT_WELCOME,	/* server: answered, awaiting the client's verdict */
	AUTH_C_WAIT_CHALLENGE,	/* client: awaiting the server's challenge */
	AUTH_C_WAIT_VERDICT,	/* client: answered, awaiting #WELCOME# */
	AUTH_C_WAIT_ANSWER,	/* client: sent challenge, awaiting the MAC */
	AUTH_DONE,		/* both sides proved the key */
	AUTH_FAILED,		/* refused; close after sending any output */
};

enum auth_result {
	AUTH_CONTINUE,		/* send the output (if any), read the next frame */
	AUTH_OK,		/* send the output (if any); authenticated */
	AUTH_FAIL,		/* send the output (if any), then close */
};

/* Why a handshake failed, for the log and the client's error text. */
enum auth_why {
	AUTH_WHY_NONE,
	AUTH_WHY_BADMAC,	/* the peer's MAC is wrong: a different key */
	AUTH_WHY_LEGACY,	/* HMAC-MD5 (Python <= 3.11) and it is not allowed */
	AUTH_WHY_PROTO,		/* something other than the expected message */
	AUTH_WHY_REJECTED,	/* the peer refused our MAC */
};

struct auth {
	enum auth_state	 state;
	enum auth_why	 why;
	bool		 allow_md5;	/* accept/answer legacy HMAC-MD5 */
	const uint8_t	*key;		/* borrowed; outlives the handshake */
	size_t		 keylen;
	uint8_t		 msg[AUTH_MSG_MAX];	/* our challenge, after "#CHALLENGE#" */
	size_t		 msglen;
};

/* Server: start, writing the challenge frame body to out (>= AUTH_MSG_MAX). */
size_t	auth_server_start(struct auth *a, const void *key, size_t keylen,
	    bool allow_md5, const uint8_t nonce[AUTH_NONCE_LEN], uint8_t *out);
/* Client: start; nonce is used for the client's own challenge later. */
void	auth_client_start(struct auth *a, const void *key, size_t keylen,
	    const uint8_t nonce[AUTH_NONCE_LEN]);
/* Feed one received frame body; *outlen bytes of out are to be sent. */
enum auth_result auth_input(struct auth *a, const uint8_t *in, size_t inlen,
	    uint8_t *out, size_t *outlen);
const char *auth_why_text(enum auth_why why);

#endif
