/* util.h: small helpers: allocation that dies on failure, clocks, hashing. */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/types.h>

#include "clock.h"
#include "shard.h"

/* Allocation for invariants: out of memory is fatal. */
void	*xmalloc(size_t n);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *p, size_t n);
char	*xstrdup(const char *s);
void	*xmemdup(const void *p, size_t n);

/* The longest wait in seconds anything takes (about 31.7 years): a client's
 * timeout above it is refused, so no deadline overflows a time_t. */
#define SECS_MAX	1e9
/* s seconds as a timeval, rounded up to the microsecond: the one place a
 * time in seconds (a double) becomes integers.  -1 (tv untouched) if s is
 * NaN, negative or over SECS_MAX. */
int	 secs_timeval(double s, struct timeval *tv);

/* Make an fd non-blocking and close-on-exec; -1 on error. */
int	 fd_nonblock_cloexec(int fd);

/* One message of len bytes on a unix socket, with descriptor fd passed
 * along (SCM_RIGHTS) unless it is -1; sendmsg's result. */
ssize_t	 fd_send(int sock, const void *buf, size_t len, int fd);
/* Receive one such message; *fd is the descriptor passed (close-on-exec)
 * or -1; recvmsg's result. */
ssize_t	 fd_recv(int sock, void *buf, size_t len, int *fd);

#endif
