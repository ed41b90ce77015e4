/* frame.h: the length-prefixed framing of multiprocessing.connection. */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR	4			/* big-endian signed length */
#define FRAME_MAX_PREAUTH 256			/* as recv_bytes(256) in Python */
#define FRAME_MAX_DEFAULT (16u * 1024 * 1024)

enum frame_result {
	FRAME_OK,	/* *bodylen holds the body length; body starts at FRAME_HDR */
	FRAME_MORE,	/* not enough bytes for the header yet */
	FRAME_TOOBIG,	/* declared length over max (or Python's 64-bit escape) */
};

/* Decode a frame header from the first avail bytes, refusing over max. */
enum frame_result frame_header(const uint8_t *buf, size_t avail, size_t max,
    size_t *bodylen);
/* Bytes of a body enough to find a request's msgid: [0, msgid, ...]
 * as fixarray, 0, and a uint of at most 9 bytes. */
#define FRAME_PEEK	11
/* The msgid of the request whose body starts with the avail bytes of a
 * body of bodylen: FRAME_MORE if more bytes are needed to tell, else
 * FRAME_OK with *msgid (0 when the body is no request with a uint msgid). */
enum frame_result frame_peek_msgid(const uint8_t *body, size_t avail,
    size_t bodylen, uint64_t *msgid);
/* Write the 4-byte header for a body of len bytes (len < 2^31). */
void frame_put_header(uint8_t out[FRAME_HDR], size_t len);
/* Send all len bytes of buf on a blocking stream socket, again after
 * EINTR: 0, or -1 with errno (a closed peer is EPIPE, never SIGPIPE). */
int frame_send_all(int fd, const void *buf, size_t len);

#endif
