/* priv.h: the user the daemon runs as, and giving root up. */
#ifndef PRIV_H
#define PRIV_H

struct config;

/* Resolve --user into c->run_uid / run_gid / drop_root.  Root without
 * --user runs as the user qlockd, else nobody (refused if neither
 * exists; --user root keeps root); --user for another user when not root
 * is refused.  -1 with a message printed. */
int	priv_resolve(struct config *c);
/* Become c->run_uid (supplementary groups, gid, uid) if c->drop_root,
 * and check that root cannot be had back.  -1 with a message printed. */
int	priv_drop(const struct config *c);
/* Give a just-bound unix socket --socket-mode, and the run user as its
 * owner when root is given up.  -1 with a message printed. */
int	priv_socket(const struct config *c, const char *path);

#endif
