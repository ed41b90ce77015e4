/* frame.c: decode and encode the 4-byte frame header, with the size limit. */
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

void
frame_put_header(uint8_t out[FRAME_HDR], size_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}
