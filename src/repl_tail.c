/* repl_tail.c: what a worker checks before raft_start: its raft
 * directory's open segments, and that its Raft address can be bound.
 *
 * raft_uv preallocates its open segments (open-N) to the segment size and
 * writes entries from the front, so the tail of a write cut short by a
 * crash is zeros or garbage inside a file of full size; at load it keeps
 * the batches whose checksums hold and drops the rest.  An open segment
 * that is shorter than that (truncated: a copy or a file system that lost
 * its end) instead makes libraft 0.15 fail with a short read, and on that
 * path it frees the file's buffer twice (uvSegmentLoadOpen's error path
 * frees it, then the caller frees the entries already loaded, which point
 * into it): the worker aborts at every start and the node never recovers.
 * Extending such a segment with zeros to the segment size gives it the
 * shape of one a crash left, which raft loads, dropping the cut batch;
 * the member then catches up from its leader.  Nothing else is changed. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netdb.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "repl_int.h"

void
repl_tail_repair(const char *dir, size_t segment_size)
{
	char		 path[4096];
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd;

	if ((d = opendir(dir)) == NULL)
		return;		/* raft_start will say why */
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "open-", 5) != 0 ||
		    strspn(de->d_name + 5, "0123456789") !=
		    strlen(de->d_name + 5) || de->d_name[5] == '\0')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path))
			continue;
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
			log_warn("%s", path);
			continue;
		}
		/* Empty ones raft removes itself. */
		if (fstat(fd, &st) == 0 && st.st_size > 0 &&
		    (size_t)st.st_size < segment_size) {
			log_warnx("%s: %jd bytes, short of the segment size %zu "
			    "(its end was lost): extended with zeros, so that "
			    "raft drops its last entries and the member catches "
			    "up", path, (intmax_t)st.st_size, segment_size);
			if (ftruncate(fd, (off_t)segment_size) == -1 ||
			    fsync(fd) == -1)
				log_warn("%s: extend", path);
		}
		close(fd);
	}
	closedir(d);
}

/* raft_start fails with an empty message (RAFT_IOERR) when its address
 * cannot be bound, for instance while another socket holds the port:
 * try it here (as libuv binds, with SO_REUSEADDR) to say so. */
void
repl_bind_check(int shard, const char *self)
{
	struct addrinfo	 hints, *res = NULL;
	char		 host[300];
	const char	*colon = strrchr(self, ':');
	size_t		 len;
	int		 fd, on = 1, rv, err = 0;

	if (colon == NULL || (len = (size_t)(colon - self)) >= sizeof(host))
		return;
	memcpy(host, self, len);
	host[len] = '\0';
	if (host[0] == '[' && len >= 2 && host[len - 1] == ']') {
		memmove(host, host + 1, len - 2);
		host[len - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		return;		/* raft resolves it and says why */
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
			err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (err != 0)
		fatalx("shard %d: cannot listen on %s for Raft: %s", shard, self,
		    strerror(err));
}
