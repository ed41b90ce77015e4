/* frame_ev.c: one frame appended to a libevent buffer. */
#include <stdint.h>

#include <event2/buffer.h>

#include "frame.h"
#include "frame_ev.h"

void
frame_ev_add(struct evbuffer *out, const void *body, size_t len)
{
	uint8_t	hdr[FRAME_HDR];

	frame_put_header(hdr, len);
	evbuffer_add(out, hdr, sizeof(hdr));
	evbuffer_add(out, body, len);
}
