/* store_dir.c: the data directory (master): CURRENT, generations, the
 * start-up check of every log and re-partitioning; file helpers. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "store_int.h"
#include "util.h"

/* Write all of buf at off; -1 on error (errno set). */
int
store_write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* fsync a directory (after renames in it). */
int
store_fsync_dir(const char *path)
{
	int	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Create a temporary file afresh: a stale one is removed (unlink does not
 * follow a link planted in its place) and the new one must not exist, nor
 * be a link.  Its descriptor, or -1 (errno set). */
int
store_create(const char *path)
{
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
}

/*
 * A directory the daemon writes in must be its own: owned by the user it
 * runs as (now: a --user change may come before or after) and writable by
 * no one else, or another user could swap a file in it for a link to
 * anything.  -1 with a message on stderr.
 */
static int
dir_check(const char *what, const char *path)
{
	struct stat	sb;

	if (stat(path, &sb) == -1) {
		fprintf(stderr, "qlockd: %s %s: %s\n", what, path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "qlockd: %s %s is not a directory\n", what,
		    path);
		return -1;
	}
	if (sb.st_uid != geteuid()) {
		fprintf(stderr, "qlockd: %s %s is owned by uid %u, not by uid "
		    "%u that qlockd runs as; refusing to use it (chown it)\n",
		    what, path, (unsigned)sb.st_uid, (unsigned)geteuid());
		return -1;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		fprintf(stderr, "qlockd: %s %s is writable by its group or "
		    "others (mode %04o); refusing to use it (chmod go-w)\n",
		    what, path, (unsigned)(sb.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Create a directory (mode 0700) if missing, and check it. */
static int
dir_make(const char *what, const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "qlockd: %s %s: %s\n", what, path,
		    strerror(errno));
		return -1;
	}
	return dir_check(what, path);
}

/* Read CURRENT: generation and worker count; 0 if absent, -1 if bad. */
int
current_read(const char *dir, unsigned *gen, int *workers)
{
	char	path[4096], line[128];
	FILE	*f;
	int	rc = -1, fd;

	snprintf(path, sizeof(path), "%s/CURRENT", dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	if (fgets(line, sizeof(line), f) != NULL &&
	    sscanf(line, "gen %u workers %d", gen, workers) == 2 && *workers > 0)
		rc = 1;
	fclose(f);
	return rc;
}

/* Point CURRENT at a generation, atomically. */
static int
current_write(const char *dir, unsigned gen, int workers)
{
	char	path[4096], tmp[4096], line[64];
	int	fd, n;

	snprintf(path, sizeof(path), "%s/CURRENT", dir);
	snprintf(tmp, sizeof(tmp), "%s/CURRENT.tmp", dir);
	n = snprintf(line, sizeof(line), "gen %u workers %d\n", gen, workers);
	fd = store_create(tmp);
	if (fd == -1 || store_write_all(fd, line, (size_t)n, 0) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1 ||
	    store_fsync_dir(dir) == -1)
		return -1;
	return 0;
}

/* Remove a generation directory and its files. */
static void
gen_remove(const char *dir, const char *name)
{
	char		 path[4096], file[8192];
	DIR		*d;
	struct dirent	*de;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		unlink(file);
	}
	closedir(d);
	rmdir(path);
}

/* Remove every gen-* directory but the live one, and stray temp files. */
static void
gen_cleanup(const char *dir, unsigned live)
{
	char		 keep[32];
	DIR		*d;
	struct dirent	*de;

	snprintf(keep, sizeof(keep), "gen-%u", live);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "gen-", 4) == 0 &&
		    strcmp(de->d_name, keep) != 0) {
			log_info("removing %s/%s, left by an interrupted "
			    "re-partition", dir, de->d_name);
			gen_remove(dir, de->d_name);
		}
	}
	closedir(d);
}

/*
 * Check one log (and replay it into rp if set): refuse damage in the
 * middle unless repair, cut a torn tail.  -1 with a message on stderr.
 */
static int
check_log(const char *path, struct replay *rp, bool repair)
{
	const uint8_t	*p;
	size_t		 size = 0, end, bad;
	enum scan_end	 how;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "qlockd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	p = replay_map(fd, &size);
	if (size == 0) {
		close(fd);
		return 0;
	}
	if (p == NULL || !replay_header_ok(p, size)) {
		fprintf(stderr, "qlockd: %s: not a qlockd log of version %d\n",
		    path, STORE_VERSION);
		if (p != NULL)
			munmap((void *)p, size);
		close(fd);
		return -1;
	}
	how = replay_scan(p, size, rp, &end, &bad, path);
	munmap((void *)p, size);
	if ((how == SCAN_DAMAGED || how == SCAN_BADREC) && !repair) {
		fprintf(stderr, "qlockd: %s: %s at offset %zu; refusing to "
		    "start. To keep the records before it and drop the rest, "
		    "start once with --repair-log\n", path,
		    how == SCAN_DAMAGED ? "damaged record, not a torn last "
		    "one (written data follows it)," : "a record that does not "
		    "apply to the state before it", bad);
		close(fd);
		return -1;
	}
	if (how != SCAN_CLEAN) {
		log_warnx("%s: %s at offset %zu: cut back to the last whole "
		    "record (%zu bytes dropped)", path, how == SCAN_TORN ?
		    "torn tail" : "damage repaired", bad, size - end);
		if (ftruncate(fd, (off_t)end) == -1 || fdatasync(fd) == -1) {
			fprintf(stderr, "qlockd: %s: cannot truncate: %s\n", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/* How many objects of shard j's registry another shard owns now. */
static int
misplaced_count(struct registry *reg, int j, int workers)
{
	struct hnode	*n;
	struct object	*o;
	int		 count = 0;

	for (n = hmap_first(&reg->byname); n != NULL;
	    n = hmap_next(&reg->byname, n)) {
		o = hmap_entry(n, struct object, node);
		if (shard_of(o->name, o->namelen, (unsigned)workers) !=
		    (unsigned)j)
			count++;
	}
	return count;
}

int
store_prepare(const struct config *conf, bool repair)
{
	const char	*dir = conf->data_dir;
	char		 gendir[4096], path[8192];
	struct registry	*regs, old;
	struct replay	 rp;
	struct hnode	*n, *next;
	struct object	*o;
	unsigned	 gen = 0;
	int		 workers = 0, i, j, rc, misplaced = 0;
	uint64_t	 tokens = 0;

	if (dir_make("--data-dir", dir) == -1)
		return -1;
	if ((rc = current_read(dir, &gen, &workers)) == -1) {
		fprintf(stderr, "qlockd: %s/CURRENT is unreadable or damaged\n", dir);
		return -1;
	}
	if (rc == 0) {
		/* A new directory. */
		snprintf(gendir, sizeof(gendir), "%s/gen-0", dir);
		gen_cleanup(dir, 0);
		if (dir_make("the log directory", gendir) == -1)
			return -1;
		if (current_write(dir, 0, conf->workers) == -1) {
			fprintf(stderr, "qlockd: cannot set up %s: %s\n", dir,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	gen_cleanup(dir, gen);
	snprintf(gendir, sizeof(gendir), "%s/gen-%u", dir, gen);
	if (dir_make("the log directory", gendir) == -1)
		return -1;
	if (workers == conf->workers) {
		/* Replay each log, as its worker will: a record that does not
		 * apply is refused here, with the file and offset, or cut
		 * with --repair-log, not met by a worker that then stops. */
		for (j = 0; j < workers; j++) {
			snprintf(path, sizeof(path), "%s/shard-%d.log", gendir, j);
			registry_init(&old);
			replay_init(&rp, &old);
			rc = check_log(path, &rp, repair);
			replay_finish(&rp);
			misplaced += misplaced_count(&old, j, workers);
			registry_free(&old);
			if (rc == -1)
				return -1;
		}
		if (misplaced == 0) {
			malloc_trim(0);		/* before the workers fork */
			return 0;
		}
		/* Written before hash tags: a name with "{tag}" moves. */
		log_info("%d objects of %s are on another shard now",
		    misplaced, dir);
	}
	/* Re-partition: replay every old log, move each object to its new
	 * shard, write the new generation, then switch CURRENT to it. */
	log_info("re-partitioning %s from %d to %d workers", dir, workers,
	    conf->workers);
	regs = xcalloc((size_t)conf->workers, sizeof(*regs));
	for (i = 0; i < conf->workers; i++)
		registry_init(&regs[i]);
	for (j = 0; j < workers; j++) {
		registry_init(&old);
		replay_init(&rp, &old);
		snprintf(path, sizeof(path), "%s/shard-%d.log", gendir, j);
		rc = check_log(path, &rp, repair);
		replay_finish(&rp);
		if (rp.tokens > tokens)
			tokens = rp.tokens;
		for (n = hmap_first(&old.byname); n != NULL; n = next) {
			next = hmap_next(&old.byname, n);
			o = hmap_entry(n, struct object, node);
			hmap_remove(&old.byname, n);
			i = (int)shard_of(o->name, o->namelen,
			    (unsigned)conf->workers);
			hmap_insert(&regs[i].byname, &o->node, o->name, o->namelen);
			regs[i].count[o->kind]++;
		}
		registry_free(&old);
		if (rc == -1)
			goto fail;
	}
	snprintf(gendir, sizeof(gendir), "%s/gen-%u", dir, gen + 1);
	gen_remove(dir, gendir + strlen(dir) + 1);
	if (mkdir(gendir, 0700) == -1) {
		fprintf(stderr, "qlockd: %s: %s\n", gendir, strerror(errno));
		goto fail;
	}
	for (i = 0; i < conf->workers; i++) {
		snprintf(path, sizeof(path), "%s/shard-%d.log", gendir, i);
		if (snapshot_write(path, gendir, &regs[i], tokens) == -1) {
			fprintf(stderr, "qlockd: cannot write %s\n", path);
			goto fail;
		}
	}
	if (store_fsync_dir(dir) == -1 || current_write(dir, gen + 1, conf->workers) == -1) {
		fprintf(stderr, "qlockd: cannot switch %s/CURRENT: %s\n", dir,
		    strerror(errno));
		goto fail;
	}
	snprintf(gendir, sizeof(gendir), "gen-%u", gen);
	gen_remove(dir, gendir);
	for (i = 0; i < conf->workers; i++)
		registry_free(&regs[i]);
	free(regs);
	return 0;
fail:
	for (i = 0; i < conf->workers; i++)
		registry_free(&regs[i]);
	free(regs);
	return -1;
}
