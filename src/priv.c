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

/* The user a root start without --user runs as: qlockd's own (the Debian
 * package makes one), else nobody; NULL if neither exists. */
static const char *
priv_default_user(void)
{
	static const char	*names[] = { "qlockd", "nobody" };
	size_t			 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (getpwnam(names[i]) != NULL)
			return names[i];
	return NULL;
}

int
priv_resolve(struct config *c)
{
	struct passwd	*pw;
	const char	*name = c->user;

	c->run_uid = geteuid();
	c->run_gid = getegid();
	c->drop_root = false;
	if (name == NULL) {
		if (geteuid() != 0)
			return 0;
		if ((name = priv_default_user()) == NULL) {
			fprintf(stderr, "qlockd: refusing to run as root: no "
			    "user qlockd or nobody to give root up to; pass "
			    "--user NAME (--user root keeps root)\n");
			return -1;
		}
		fprintf(stderr, "qlockd: started as root without --user: "
		    "running as %s (--user NAME to choose, --user root to "
		    "keep root)\n", name);
	}
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		fprintf(stderr, "qlockd: --user %s: %s\n", name,
		    errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == geteuid())
		return 0;		/* already that user: nothing to drop */
	if (geteuid() != 0) {
		fprintf(stderr, "qlockd: --user %s: only root can change to "
		    "another user (running as uid %u)\n", name,
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
	struct passwd	*pw;

	if (!c->drop_root)
		return 0;
	if ((pw = getpwuid(c->run_uid)) == NULL) {
		fprintf(stderr, "qlockd: uid %u has gone from the user "
		    "database\n", (unsigned)c->run_uid);
		return -1;
	}
	if (initgroups(pw->pw_name, c->run_gid) == -1 ||
	    setgid(c->run_gid) == -1 || setuid(c->run_uid) == -1) {
		fprintf(stderr, "qlockd: cannot change to user %s: %s\n",
		    pw->pw_name, strerror(errno));
		return -1;
	}
	/* Verify: every id is the user's, and root cannot be had back. */
	if (getuid() != c->run_uid || geteuid() != c->run_uid ||
	    getgid() != c->run_gid || getegid() != c->run_gid ||
	    setuid(0) != -1) {
		fprintf(stderr, "qlockd: changing to user %s did not take "
		    "effect\n", pw->pw_name);
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
