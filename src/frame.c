/* frame.c: decode and encode the 4-byte frame header, with the size limit,
 * and find the msgid of a request too large to be read. */
#include <sys/socket.h>

#include <errno.h>

#include "frame.h"

enum frame_result
frame_header(const uint8_t *buf, size_t avail, size_t max, size_t *bodylen)
{
	uint32_t	n;

	if (avail < FRAME_HDR)
		return FRAME_MORE;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3];
	/* Python sends -1 and then a 64-bit length for bodies over 2 GiB;
	 * any negative value is over every limit we allow. */
	if (n > 0x7fffffffu || n > max)
		return FRAME_TOOBIG;
	*bodylen = n;
	return FRAME_OK;
}

enum frame_result
frame_peek_msgid(const uint8_t *body, size_t avail, size_t bodylen,
    uint64_t *msgid)
{
	size_t		need, i;
	uint64_t	v = 0;

	if (avail > bodylen)
		avail = bodylen;
	*msgid = 0;
	if (avail < 3)
		return avail < bodylen ? FRAME_MORE : FRAME_OK;
	if (body[0] != 0x94 || body[1] != 0x00)
		return FRAME_OK;		/* not [0, msgid, method, params] */
	if (body[2] <= 0x7f) {			/* positive fixint */
		*msgid = body[2];
		return FRAME_OK;
	}
	switch (body[2]) {
	case 0xcc: need = 1; break;		/* uint 8 .. uint 64 */
	case 0xcd: need = 2; break;
	case 0xce: need = 4; break;
	case 0xcf: need = 8; break;
	default:
		return FRAME_OK;
	}
	if (avail < 3 + need)
		return avail < bodylen ? FRAME_MORE : FRAME_OK;
	for (i = 0; i < need; i++)
		v = v << 8 | body[3 + i];
	*msgid = v;
	return FRAME_OK;
}

void
frame_put_header(uint8_t out[FRAME_HDR], size_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}

int
frame_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
