/* frame_ev.h: framing onto a libevent buffer, for the daemon's client
 * connections and its relaying connections alike (frame.c stays free of
 * libevent: libqlock links it). */
#ifndef FRAME_EV_H
#define FRAME_EV_H

#include <stddef.h>

struct evbuffer;

/* Append one frame to out: the 4-byte header for len, then the body. */
void	frame_ev_add(struct evbuffer *out, const void *body, size_t len);

#endif
