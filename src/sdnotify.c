/* sdnotify.c: socket activation (LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES) and
 * readiness notification (datagrams to $NOTIFY_SOCKET), as sd-daemon(3)
 * documents them, without linking libsystemd. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdnotify.h"

/* A decimal environment variable as an unsigned number; -1 if unset or
 * not a number. */
static int
env_number(const char *name, unsigned long long *out)
{
	const char		*s = getenv(name);
	char			*end;
	unsigned long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
sdnotify_listen_fds(void)
{
	unsigned long long	 pid, n;
	const char		*s;
	int			 fd, type, listening, rc = 0;
	socklen_t		 len;
	struct stat		 st;

	if (env_number("LISTEN_PID", &pid) == -1 || pid != (unsigned long long)getpid())
		goto out;	/* not for us (e.g. inherited by a child) */
	if ((s = getenv("LISTEN_FDS")) == NULL)
		goto out;
	if (env_number("LISTEN_FDS", &n) == -1 ||
	    n > (unsigned long long)(INT_MAX - SDNOTIFY_FDS_START)) {
		fprintf(stderr, "qlockd: LISTEN_FDS=%s: not a number of "
		    "descriptors\n", s);
		rc = -1;
		goto out;
	}
	for (fd = SDNOTIFY_FDS_START; fd < SDNOTIFY_FDS_START + (int)n; fd++) {
		len = sizeof(type);
		if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
		    type != SOCK_STREAM) {
			fprintf(stderr, "qlockd: LISTEN_FDS: descriptor %d is "
			    "not a stream socket\n", fd);
			rc = -1;
			goto out;
		}
		len = sizeof(listening);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
		    &len) == -1 || !listening) {
			fprintf(stderr, "qlockd: LISTEN_FDS: socket %d is not "
			    "listening\n", fd);
			rc = -1;
			goto out;
		}
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
			fprintf(stderr, "qlockd: LISTEN_FDS: socket %d: %s\n",
			    fd, strerror(errno));
			rc = -1;
			goto out;
		}
	}
	rc = (int)n;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}

int
sdnotify_send(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	size_t			 plen;
	socklen_t		 salen;
	ssize_t			 n;
	int			 fd, saved;

	if (path == NULL || *path == '\0')
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@') {
		/* An abstract name: a leading NUL, and no trailing one counted. */
		sun.sun_path[0] = '\0';
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	} else
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, salen);
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(state) ? 1 : -1;
}

int
sdnotify_watchdog(uint64_t *usec)
{
	unsigned long long	v, pid;

	if (env_number("WATCHDOG_USEC", &v) == -1 || v == 0)
		return 0;
	if (getenv("WATCHDOG_PID") != NULL &&
	    (env_number("WATCHDOG_PID", &pid) == -1 ||
	    pid != (unsigned long long)getpid()))
		return 0;
	*usec = v;
	return 1;
}
