/* util.c: allocation, time, hashing and fd helpers. */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		fatal("malloc %zu", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		fatal("calloc %zu", n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	*q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL)
		fatal("realloc %zu", n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

void *
xmemdup(const void *p, size_t n)
{
	void	*q = xmalloc(n);

	memcpy(q, p, n);
	return q;
}

int
secs_timeval(double s, struct timeval *tv)
{
	double	whole, us;

	if (!(s >= 0 && s <= SECS_MAX))		/* NaN fails both */
		return -1;
	whole = (double)(long long)s;		/* in range: no overflow */
	us = (s - whole) * 1e6;
	tv->tv_sec = (time_t)whole;
	tv->tv_usec = (suseconds_t)us;
	if ((double)tv->tv_usec < us)		/* round up: never early */
		tv->tv_usec++;
	if (tv->tv_usec >= 1000000) {
		tv->tv_sec++;
		tv->tv_usec -= 1000000;
	}
	return 0;
}

int
fd_nonblock_cloexec(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return 0;
}

/* Room for one passed descriptor, aligned for a cmsghdr. */
union fd_cbuf {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(sizeof(int))];
};

ssize_t
fd_send(int sock, const void *buf, size_t len, int fd)
{
	struct iovec	 iov = { (void *)(uintptr_t)buf, len };
	struct msghdr	 msg;
	union fd_cbuf	 cbuf;
	struct cmsghdr	*cm;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

ssize_t
fd_recv(int sock, void *buf, size_t len, int *fd)
{
	struct iovec	 iov = { buf, len };
	struct msghdr	 msg;
	union fd_cbuf	 cbuf;
	struct cmsghdr	*cm;
	ssize_t		 n;

	*fd = -1;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	if ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) <= 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	}
	return n;
}
