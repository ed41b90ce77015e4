/* fuzz_auth.c: libFuzzer target for one end of the authkey handshake
 * (built twice: FUZZ_AUTH_SERVER fuzzes the server, else the client),
 * played against an honest other end whose messages the input keeps,
 * replaces or corrupts.  With different keys it must never succeed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#ifdef FUZZ_AUTH_SERVER
#define TARGET	0	/* sides[0] is the server */
#else
#define TARGET	1
#endif

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input, read a byte or a run at a time (zeros past its end). */
struct input {
	const uint8_t	*p;
	size_t		 left;
};

static uint8_t
in_byte(struct input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t	 key[] = "fuzz key 0123456789abcdef";
	static const uint8_t	 other[] = "fuzz key 0123456789abcdeF";
	struct input		 in = { data, size };
	struct auth		 sides[2];
	uint8_t			 nonce[2][AUTH_NONCE_LEN], *msg, *out;
	size_t			 msglen, outlen, i, n;
	enum auth_result	 res;
	uint8_t			 flags = in_byte(&in);
	bool			 same_key = (flags & 1) == 0, ok = false;
	int			 turn, step;

	for (i = 0; i < AUTH_NONCE_LEN; i++) {
		nonce[0][i] = in_byte(&in);
		nonce[1][i] = (uint8_t)(nonce[0][i] ^ 0x5a);
	}
	/* Exactly AUTH_MSG_MAX bytes each: ASan sees any write past. */
	msg = malloc(AUTH_MSG_MAX);
	out = malloc(AUTH_MSG_MAX);
	msglen = auth_server_start(&sides[0], key, sizeof(key) - 1,
	    (flags & 2) != 0, nonce[0], msg);
	auth_client_start(&sides[1], same_key ? key : other, sizeof(key) - 1,
	    nonce[1]);
	sides[1].allow_md5 = (flags & 4) != 0;
	if (msglen > AUTH_MSG_MAX)
		abort();
	for (turn = 1, step = 0; step < 8; step++, turn = !turn) {
		if (turn == TARGET) {
			switch (in_byte(&in) % 3) {
			case 0:		/* the honest message */
				break;
			case 1:		/* bytes of the input instead */
				n = in_byte(&in);
				n = (n << 1 | (n >> 7)) & 0x1ff;	/* to 511 */
				msglen = n < AUTH_MSG_MAX ? n : AUTH_MSG_MAX;
				for (i = 0; i < msglen; i++)
					msg[i] = in_byte(&in);
				break;
			case 2:		/* the honest one, some bytes flipped */
				if (msglen > 0)
					for (n = in_byte(&in) % 4 + 1; n > 0; n--)
						msg[in_byte(&in) % msglen] ^=
						    in_byte(&in) | 1;
				break;
			}
		}
		res = auth_input(&sides[turn], msg, msglen, out, &outlen);
		if (outlen > AUTH_MSG_MAX)
			abort();
		if (res == AUTH_OK && turn == TARGET) {
			ok = true;
			if (sides[turn].state != AUTH_DONE)
				abort();
		}
		if (res == AUTH_FAIL && sides[turn].state != AUTH_FAILED)
			abort();
		if (outlen == 0)
			break;
		memcpy(msg, out, outlen);
		msglen = outlen;
	}
	/* Nobody without the key gets in. */
	if (ok && !same_key)
		abort();
	free(msg);
	free(out);
	return 0;
}
