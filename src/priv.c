/* priv.c: who the daemon runs as: --user resolved at start, root given up
 * after the listeners are bound and the key is read, and the unix
 * socket's mode and owner. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "priv.h"

int
priv_resolve(struct config *c)
{
	struct passwd	*pw;

	c->run_uid = geteuid();
	c->run_gid = getegid();
	c->drop_root = false;
	if (c->user == NULL) {
		if (geteuid() != 0)
			return 0;
		fprintf(stderr, "qlockd: refusing to run as root: pass --user "
		    "NAME to give root up after binding and reading the key "
		    "(--user root keeps root, for containers and tests)\n");
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(c->user)) == NULL) {
		fprintf(stderr, "qlockd: --user %s: %s\n", c->user,
		    errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == geteuid())
		return 0;		/* already that user: nothing to drop */
	if (geteuid() != 0) {
		fprintf(stderr, "qlockd: --user %s: only root can change to "
		    "another user (running as uid %u)\n", c->user,
		    (unsigned)geteuid());
		return -1;
	}
	c->run_uid = pw->pw_uid;
	c->run_gid = pw->pw_gid;
	c->drop_root = true;
	return 0;
}

int
priv_drop(const struct config *c)
{
	if (!c->drop_root)
		return 0;
	if (initgroups(c->user, c->run_gid) == -1 ||
	    setgid(c->run_gid) == -1 || setuid(c->run_uid) == -1) {
		fprintf(stderr, "qlockd: cannot change to user %s: %s\n",
		    c->user, strerror(errno));
		return -1;
	}
	/* Verify: every id is the user's, and root cannot be had back. */
	if (getuid() != c->run_uid || geteuid() != c->run_uid ||
	    getgid() != c->run_gid || getegid() != c->run_gid ||
	    setuid(0) != -1) {
		fprintf(stderr, "qlockd: changing to user %s did not take "
		    "effect\n", c->user);
		return -1;
	}
	return 0;
}

int
priv_socket(const struct config *c, const char *path)
{
	if (chmod(path, c->socket_mode) == -1 ||
	    (c->drop_root && lchown(path, c->run_uid, c->run_gid) == -1)) {
		fprintf(stderr, "qlockd: unix:%s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}
