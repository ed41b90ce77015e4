/* pidfile.c: the --pid-file: created exclusively or taken over when
 * stale, locked with flock(2) by the daemon (its workers share the lock),
 * so "held" means a qlockd of this file is alive, whatever pid reuse
 * did to the number written in it. */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pidfile.h"

int
pidfile_open(const char *path)
{
	struct stat	st;
	char		buf[32];
	ssize_t		n;
	int		fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1 && errno == EEXIST)
		fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		fprintf(stderr, "qlockd: --pid-file %s: %s\n", path,
		    errno == ELOOP ? "a symbolic link, which is not followed" :
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid())) {
		fprintf(stderr, "qlockd: --pid-file %s: not a regular file of "
		    "ours or root's\n", path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fprintf(stderr, "qlockd: --pid-file %s: held by a running qlockd "
		    "(pid %s): stop it first, or choose another file\n", path,
		    buf[0] != '\0' ? buf : "unknown");
		close(fd);
		return -1;
	}
	/* Ours now; whatever it held is stale. */
	if (ftruncate(fd, 0) == -1) {
		fprintf(stderr, "qlockd: --pid-file %s: %s\n", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
pidfile_write(int fd, const char *path)
{
	char	buf[32];
	int	len;

	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != len) {
		log_warn("--pid-file %s", path);
		return -1;
	}
	return 0;
}

void
pidfile_remove(int fd, const char *path)
{
	if (fd == -1)
		return;
	if (unlink(path) == -1 && ftruncate(fd, 0) == -1)
		log_warn("--pid-file %s: cannot remove or empty it", path);
	close(fd);
}
