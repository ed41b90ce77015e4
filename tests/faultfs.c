/* faultfs.c: an LD_PRELOAD shim for it_durability: makes the daemon's
 * shard logs fail on command, as a full or broken disk would.
 *
 * FAULTFS_CTL names a control file, read at each intercepted call:
 *   (absent or empty)  no fault
 *   "enospc"           fallocate on a shard log fails with ENOSPC
 *   "eio"              write/pwrite and fsync/fdatasync on a shard log
 *                      fail with EIO (nothing reaches the file)
 *   "eio-sync"         only fsync/fdatasync on a shard log fail with EIO
 *                      (the bytes reach the page cache, not the disk)
 *   "kill-tmp-fsync"   the process SIGKILLs itself at the fsync of a
 *                      compaction's shard-I.log.tmp (the compaction
 *                      process, once it has written the snapshot)
 *   "kill-tmp-fdatasync" ... at the fdatasync of shard-I.log.tmp (the
 *                      worker, once it has added the tail; before the
 *                      rename)
 *   "kill-rename"      ... right after renaming shard-I.log.tmp over the
 *                      log (before the directory is fsync'ed)
 *   "kill-current-fsync" ... at the fsync of CURRENT.tmp (a new data dir
 *                      or a re-partition, before CURRENT is switched)
 *   "kill-current"     ... right after renaming CURRENT.tmp over CURRENT
 *                      (before the old generation is removed)
 * The kill-* modes are one-shot: the control file is emptied first.
 * A shard log is a file whose path holds "/shard-" and ".log" and is not
 * the ".synced" mark of the power-loss tests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the control file asks for. */
enum fault {
	F_NONE,
	F_ENOSPC,
	F_EIO,
	F_EIO_SYNC,
	F_KILL_TMP_FSYNC,
	F_KILL_TMP_FDATASYNC,
	F_KILL_RENAME,
	F_KILL_CURRENT_FSYNC,
	F_KILL_CURRENT,
};

/* The next definition of sym after ours (libc's). */
static void *
real(const char *sym)
{
	void	*p = dlsym(RTLD_NEXT, sym);

	if (p == NULL)
		abort();
	return p;
}

/* Read the control file without going through our own wrappers. */
static enum fault
fault_now(void)
{
	static const struct {
		const char	*word;
		enum fault	 f;
	} words[] = {
		{ "enospc", F_ENOSPC },
		{ "eio-sync", F_EIO_SYNC },
		{ "eio", F_EIO },
		{ "kill-tmp-fsync", F_KILL_TMP_FSYNC },
		{ "kill-tmp-fdatasync", F_KILL_TMP_FDATASYNC },
		{ "kill-rename", F_KILL_RENAME },
		{ "kill-current-fsync", F_KILL_CURRENT_FSYNC },
		{ "kill-current", F_KILL_CURRENT },
	};
	const char	*ctl = getenv("FAULTFS_CTL");
	char		 buf[64];
	ssize_t		 n;
	size_t		 i;
	int		 fd, saved = errno;

	if (ctl == NULL || (fd = open(ctl, O_RDONLY | O_CLOEXEC)) == -1) {
		errno = saved;
		return F_NONE;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	errno = saved;
	if (n <= 0)
		return F_NONE;
	buf[n] = '\0';
	buf[strcspn(buf, " \r\n")] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(buf, words[i].word) == 0)
			return words[i].f;
	return F_NONE;
}

/* Empty the control file (one-shot faults). */
static void
fault_clear(void)
{
	const char	*ctl = getenv("FAULTFS_CTL");
	int		 fd;

	if (ctl != NULL &&
	    (fd = open(ctl, O_WRONLY | O_TRUNC | O_CLOEXEC)) != -1)
		close(fd);
}

/* True if path names a shard log (or its compaction temp file). */
static bool
is_log_path(const char *path)
{
	return strstr(path, "/shard-") != NULL &&
	    strstr(path, ".log") != NULL && strstr(path, ".synced") == NULL;
}

/* The path fd is open on, in buf; false if unknown. */
static bool
fd_path(int fd, char *buf, size_t size)
{
	char	link[64];
	ssize_t	n;
	int	saved = errno;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	errno = saved;
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

static bool
is_log_fd(int fd, char *buf, size_t size)
{
	return fd_path(fd, buf, size) && is_log_path(buf);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t	ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* A failed write-side call: EIO on a shard log when asked. */
static bool
write_fails(int fd)
{
	char	path[4096];

	return is_log_fd(fd, path, sizeof(path)) && fault_now() == F_EIO;
}

/* Kill this process now, once: the control file is emptied first. */
static void
die_once(void)
{
	fault_clear();
	kill(getpid(), SIGKILL);
}

/* The fsync family (data: fdatasync): EIO, or a one-shot kill before a
 * rename. */
static bool
sync_fails(int fd, bool data)
{
	char		path[4096];
	enum fault	f;

	if (!data && fd_path(fd, path, sizeof(path)) &&
	    ends_with(path, "/CURRENT.tmp") &&
	    fault_now() == F_KILL_CURRENT_FSYNC)
		die_once();
	if (!is_log_fd(fd, path, sizeof(path)))
		return false;
	f = fault_now();
	if (f == (data ? F_KILL_TMP_FDATASYNC : F_KILL_TMP_FSYNC) &&
	    ends_with(path, ".log.tmp"))
		die_once();
	return f == F_EIO || f == F_EIO_SYNC;
}

static bool
alloc_fails(int fd)
{
	char	path[4096];

	return is_log_fd(fd, path, sizeof(path)) && fault_now() == F_ENOSPC;
}

int
fallocate(int fd, int mode, off_t off, off_t len)
{
	static int (*fn)(int, int, off_t, off_t);

	if (alloc_fails(fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (fn == NULL)
		fn = real("fallocate");
	return fn(fd, mode, off, len);
}

int
fallocate64(int fd, int mode, off_t off, off_t len)
{
	static int (*fn)(int, int, off_t, off_t);

	if (alloc_fails(fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (fn == NULL)
		fn = real("fallocate64");
	return fn(fd, mode, off, len);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	static ssize_t (*fn)(int, const void *, size_t);

	if (write_fails(fd)) {
		errno = EIO;
		return -1;
	}
	if (fn == NULL)
		fn = real("write");
	return fn(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*fn)(int, const void *, size_t, off_t);

	if (write_fails(fd)) {
		errno = EIO;
		return -1;
	}
	if (fn == NULL)
		fn = real("pwrite");
	return fn(fd, buf, len, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*fn)(int, const void *, size_t, off_t);

	if (write_fails(fd)) {
		errno = EIO;
		return -1;
	}
	if (fn == NULL)
		fn = real("pwrite64");
	return fn(fd, buf, len, off);
}

int
fdatasync(int fd)
{
	static int (*fn)(int);

	if (sync_fails(fd, true)) {
		errno = EIO;
		return -1;
	}
	if (fn == NULL)
		fn = real("fdatasync");
	return fn(fd);
}

int
fsync(int fd)
{
	static int (*fn)(int);

	if (sync_fails(fd, false)) {
		errno = EIO;
		return -1;
	}
	if (fn == NULL)
		fn = real("fsync");
	return fn(fd);
}

int
rename(const char *from, const char *to)
{
	static int (*fn)(const char *, const char *);
	int	rc;

	if (fn == NULL)
		fn = real("rename");
	rc = fn(from, to);
	if (rc == 0 && is_log_path(from) && ends_with(from, ".log.tmp") &&
	    fault_now() == F_KILL_RENAME)
		die_once();
	if (rc == 0 && ends_with(to, "/CURRENT") &&
	    fault_now() == F_KILL_CURRENT)
		die_once();
	return rc;
}
