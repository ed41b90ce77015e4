/* listen.c: listening addresses: parsing, opening, the clash and in-use
 * checks of --check-config, and naming a bound socket for the log. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "listen.h"
#include "priv.h"

/* Split HOST:PORT or [V6]:PORT into host (empty or "*": any) and port;
 * -1 with a message naming the option. */
static int
listen_split(const char *opt, const char *addr, char *host, size_t hostlen,
    const char **port)
{
	const char	*end;

	if (addr[0] == '[') {
		end = strchr(addr, ']');
		if (end == NULL || end[1] != ':' ||
		    (size_t)(end - addr - 1) >= hostlen) {
			fprintf(stderr, "qlockd: --%s %s: expected [V6]:PORT\n",
			    opt, addr);
			return -1;
		}
		memcpy(host, addr + 1, (size_t)(end - addr - 1));
		host[end - addr - 1] = '\0';
		*port = end + 2;
		return 0;
	}
	if ((end = strrchr(addr, ':')) == NULL || (size_t)(end - addr) >= hostlen) {
		fprintf(stderr, "qlockd: --%s %s: expected HOST:PORT, [V6]:PORT "
		    "or unix:/PATH\n", opt, addr);
		return -1;
	}
	memcpy(host, addr, (size_t)(end - addr));
	host[end - addr] = '\0';
	*port = end + 1;
	return 0;
}

/* Resolve a TCP address for listening; NULL with a message. */
static struct addrinfo *
listen_resolve(const char *opt, const char *addr)
{
	struct addrinfo	 hints, *res;
	char		 host[256];
	const char	*port;
	int		 err;

	if (listen_split(opt, addr, host, sizeof(host), &port) == -1)
		return NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((err = getaddrinfo(host[0] == '\0' || strcmp(host, "*") == 0 ?
	    NULL : host, port, &hints, &res)) != 0) {
		fprintf(stderr, "qlockd: --%s %s: %s\n", opt, addr,
		    gai_strerror(err));
		return NULL;
	}
	return res;
}

/* A unix socket's address; -1 with a message if the path does not fit. */
static int
listen_unix_addr(const char *opt, const char *addr, struct sockaddr_un *sun)
{
	const char	*path = addr + 5;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (*path != '/' || strlen(path) >= sizeof(sun->sun_path)) {
		fprintf(stderr, "qlockd: --%s %s: need unix:/ABSOLUTE/PATH "
		    "shorter than %zu bytes\n", opt, addr, sizeof(sun->sun_path));
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

static int
listen_unix(const struct config *c, const char *opt, const char *addr)
{
	struct sockaddr_un	sun;
	struct stat		st;
	mode_t			mask;
	int			fd;

	if (listen_unix_addr(opt, addr, &sun) == -1)
		return -1;
	/* A stale socket from an earlier run is replaced, nothing else. */
	if (lstat(sun.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(sun.sun_path);
	/* Born owner-only, then given --socket-mode: never wider. */
	mask = umask(0177);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 1024) == -1) {
		fprintf(stderr, "qlockd: --%s %s: %s\n", opt, addr,
		    strerror(errno));
		umask(mask);
		if (fd != -1)
			close(fd);
		return -1;
	}
	umask(mask);
	if (priv_socket(c, sun.sun_path) == -1) {
		close(fd);
		unlink(sun.sun_path);
		return -1;
	}
	return fd;
}

/* Listen on the first of res that binds; -1 with *err and *failed (the
 * last address tried) when none does. */
static int
listen_tcp(const struct addrinfo *res, int backlog, int *err,
    const struct addrinfo **failed)
{
	const struct addrinfo	*ai;
	int			 fd, one = 1;

	*err = EADDRNOTAVAIL;
	*failed = res;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		*failed = ai;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			*err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			return fd;
		*err = errno;
		close(fd);
	}
	return -1;
}

int
listen_open(const struct config *c, const char *opt, const char *addr)
{
	struct addrinfo	*res;
	const struct addrinfo *ai;
	int		 fd, err;

	if (strncmp(addr, "unix:", 5) == 0)
		return listen_unix(c, opt, addr);
	if ((res = listen_resolve(opt, addr)) == NULL)
		return -1;
	if ((fd = listen_tcp(res, 1024, &err, &ai)) == -1)
		fprintf(stderr, "qlockd: --%s %s: cannot listen: %s\n", opt, addr,
		    strerror(err));
	freeaddrinfo(res);
	return fd;
}

/* Whether two resolved addresses are one listening address: the same
 * family and port, and the same host or either a wildcard. */
static bool
listen_same(const struct addrinfo *a, const struct addrinfo *b)
{
	if (a->ai_family != b->ai_family)
		return false;
	if (a->ai_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a->ai_addr;
		const struct sockaddr_in *y = (const void *)b->ai_addr;

		return x->sin_port == y->sin_port &&
		    (x->sin_addr.s_addr == y->sin_addr.s_addr ||
		    x->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    y->sin_addr.s_addr == htonl(INADDR_ANY));
	}
	if (a->ai_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a->ai_addr;
		const struct sockaddr_in6 *y = (const void *)b->ai_addr;

		return x->sin6_port == y->sin6_port &&
		    (memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 ||
		    IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr) ||
		    IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr));
	}
	return false;
}

/* Whether two configured addresses clash (resolved, or unix paths). */
static bool
listen_clash(const char *a, struct addrinfo *ra, const char *b,
    struct addrinfo *rb)
{
	struct addrinfo	*x, *y;

	if (strncmp(a, "unix:", 5) == 0 || strncmp(b, "unix:", 5) == 0)
		return strcmp(a, b) == 0;
	for (x = ra; x != NULL; x = x->ai_next)
		for (y = rb; y != NULL; y = y->ai_next)
			if (listen_same(x, y))
				return true;
	return false;
}

/* Whether what listens at sa (a wildcard is reached on loopback) is a
 * qlockd: it sends a challenge frame first ("#CHALLENGE#" after the
 * 4-byte length, as Python's multiprocessing.connection), within 1 s. */
static bool
listen_is_qlockd(const struct sockaddr *sa, socklen_t salen)
{
	struct sockaddr_storage	 ss;
	struct pollfd		 pfd;
	char			 buf[4 + sizeof("#CHALLENGE#") - 1];
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd;

	memcpy(&ss, sa, salen);
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			sin6->sin6_addr = in6addr_loopback;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	if (connect(fd, (struct sockaddr *)&ss, salen) == -1) {
		close(fd);
		return false;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < sizeof(buf) && poll(&pfd, 1, 1000) == 1) {
		if ((n = recv(fd, buf + got, sizeof(buf) - got, 0)) <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return got == sizeof(buf) && memcmp(buf + 4, "#CHALLENGE#", 11) == 0;
}

int
listen_probe(const char *opt, const char *addr, bool ours)
{
	struct sockaddr_un	 sun;
	struct addrinfo		*res;
	const struct addrinfo	*ai;
	int			 fd, rc = -1, err;

	if (strncmp(addr, "unix:", 5) == 0) {
		if (listen_unix_addr(opt, addr, &sun) == -1)
			return -1;
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			if (fd != -1)
				close(fd);
			return 0;	/* nobody answers: it will be replaced */
		}
		close(fd);
		if (listen_is_qlockd((struct sockaddr *)&sun, sizeof(sun)))
			return 1;
		fprintf(stderr, "qlockd: --%s %s: another program answers on "
		    "this socket\n", opt, addr);
		return -1;
	}
	if ((res = listen_resolve(opt, addr)) == NULL)
		return -1;
	if ((fd = listen_tcp(res, 1, &err, &ai)) != -1) {
		close(fd);
		rc = 0;
	} else if (err == EADDRINUSE && (ours ||
	    listen_is_qlockd(ai->ai_addr, ai->ai_addrlen)))
		rc = 1;
	freeaddrinfo(res);
	if (rc != -1)
		return rc;
	if (err == EACCES) {
		/* Binding may need the privileges the real start has. */
		printf("qlockd: --%s %s: not tried: %s (the daemon binds it as "
		    "the user it starts as)\n", opt, addr, strerror(err));
		return 0;
	}
	fprintf(stderr, "qlockd: --%s %s: cannot listen: %s%s\n", opt, addr,
	    strerror(err), err == EADDRINUSE ? " (another program has it)" : "");
	return -1;
}

int
listen_check_config(const struct config *c)
{
	const char	*addr[CONFIG_MAX_LISTEN + 1], *opt[CONFIG_MAX_LISTEN + 1];
	struct addrinfo	*res[CONFIG_MAX_LISTEN + 1];
	struct sockaddr_un sun;
	int		 i, j, n = 0, rc = 0;
	bool		 live = false;

	for (i = 0; i < c->nlisten; i++) {
		addr[n] = c->listen[i];
		opt[n++] = "listen";
	}
	if (c->metrics_listen != NULL) {
		if (strncmp(c->metrics_listen, "unix:", 5) == 0) {
			fprintf(stderr, "qlockd: --metrics-listen %s: expected "
			    "HOST:PORT or [V6]:PORT\n", c->metrics_listen);
			return -1;
		}
		addr[n] = c->metrics_listen;
		opt[n++] = "metrics-listen";
	}
	for (i = 0; i < n; i++) {
		res[i] = NULL;
		if (strncmp(addr[i], "unix:", 5) == 0) {
			if (listen_unix_addr(opt[i], addr[i], &sun) == -1)
				rc = -1;
		} else if ((res[i] = listen_resolve(opt[i], addr[i])) == NULL)
			rc = -1;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (!listen_clash(addr[i], res[i], addr[j], res[j]))
				continue;
			fprintf(stderr, "qlockd: --%s %s and --%s %s are the same "
			    "address: each needs its own\n", opt[i], addr[i],
			    opt[j], addr[j]);
			rc = -1;
		}
	}
	for (i = 0; i < n; i++)
		if (res[i] != NULL)
			freeaddrinfo(res[i]);
	for (i = 0; rc == 0 && i < n; i++) {
		switch (listen_probe(opt[i], addr[i], live &&
		    strcmp(opt[i], "metrics-listen") == 0)) {
		case -1:
			rc = -1;
			break;
		case 1:
			printf("qlockd: --%s %s: a running qlockd serves it (fine "
			    "for a reload; a second daemon could not start)\n",
			    opt[i], addr[i]);
			live = true;
			break;
		}
	}
	return rc;
}

void
listen_describe(int fd, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 host[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(buf, len, "fd %d (%s)", fd, strerror(errno));
		return;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const void *)&ss;

		if (sslen > offsetof(struct sockaddr_un, sun_path) &&
		    sun->sun_path[0] == '\0')
			snprintf(buf, len, "unix:@%.*s", (int)(sslen -
			    offsetof(struct sockaddr_un, sun_path) - 1),
			    sun->sun_path + 1);
		else
			snprintf(buf, len, "unix:%.*s", (int)sizeof(sun->sun_path),
			    sun->sun_path);
	} else
		snprintf(buf, len, "fd %d (family %d)", fd, (int)ss.ss_family);
}
