/* peer.h: the mesh between workers: forwarded requests, their replies,
 * session ends and fan-out partials. */
#ifndef PEER_H
#define PEER_H

#include <stddef.h>
#include <stdint.h>

struct worker;

/* Start using fd as the socket to peer id (replacing any old one). */
void	peer_up(struct worker *w, int id, int fd);
/* Send one message; -1 if the peer is down. */
int	peer_send(struct worker *w, int id, uint32_t type, uint64_t tag,
	    uint64_t sess, const void *payload, size_t len);
/* Close the socket to peer id. */
void	peer_close(struct worker *w, int id);
/* End of a loop pass: write what every peer was sent. */
void	peer_flush_dirty(struct worker *w);

#endif
