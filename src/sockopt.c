/* sockopt.c: TCP keepalive for client connections, both ends. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "sockopt.h"

#define KEEPALIVE_PROBES	3

int
sock_keepalive(int fd, int idle)
{
	int	on = 1, intvl, cnt = KEEPALIVE_PROBES;
	unsigned int total;

	if (idle <= 0)
		return 0;
	intvl = idle / 3 > 0 ? idle / 3 : 1;
	total = (unsigned int)(idle + cnt * intvl) * 1000u;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &total,
	    sizeof(total)) == -1)
		return -1;
	return 0;
}
