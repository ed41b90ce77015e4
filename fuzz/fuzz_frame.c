/* fuzz_frame.c: libFuzzer target for the frame header decoder: any bytes,
 * against each limit the daemon uses; a frame it accepts fits the limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 max[] = { FRAME_MAX_PREAUTH, AUTH_MSG_MAX,
				    FRAME_MAX_DEFAULT, SIZE_MAX };
	uint8_t			 hdr[FRAME_HDR];
	size_t			 i, len, len2, off;

	for (i = 0; i < sizeof(max) / sizeof(max[0]); i++) {
		/* A copy of exactly size bytes: ASan sees any read past. */
		uint8_t	*buf = malloc(size ? size : 1);

		memcpy(buf, data, size);
		switch (frame_header(buf, size, max[i], &len)) {
		case FRAME_OK:
			if (size < FRAME_HDR || len > max[i] || len > INT32_MAX)
				abort();
			/* The header written back decodes the same. */
			frame_put_header(hdr, len);
			if (frame_header(hdr, FRAME_HDR, max[i], &len2) !=
			    FRAME_OK || len2 != len)
				abort();
			break;
		case FRAME_MORE:
			if (size >= FRAME_HDR)
				abort();
			break;
		case FRAME_TOOBIG:
			break;
		default:
			abort();
		}
		free(buf);
	}
	/* A stream of frames, as a connection reads them. */
	for (off = 0; off < size; off += FRAME_HDR + len)
		if (frame_header(data + off, size - off, FRAME_MAX_DEFAULT,
		    &len) != FRAME_OK || len > size - off - FRAME_HDR)
			break;
	return 0;
}
