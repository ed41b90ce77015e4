/* sockopt.h: TCP keepalive, so that a peer that vanished without a word
 * (power lost, cable cut, a partition) is noticed on an idle connection:
 * the daemon then gives back what the dead client held, and a client
 * blocked on a dead daemon gets an error instead of waiting for ever. */
#ifndef SOCKOPT_H
#define SOCKOPT_H

/* Probe after idle seconds of silence, every idle/3 (at least 1) s, and
 * drop the connection after 3 unanswered probes; unacknowledged data
 * times out after the same total (TCP_USER_TIMEOUT).  idle <= 0: leave
 * keepalive off.  0, or -1 with errno. */
int	sock_keepalive(int fd, int idle);

#endif
