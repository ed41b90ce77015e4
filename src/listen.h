/* listen.h: the daemon's listening addresses: open one, check a
 * configuration's (--check-config), and describe a socket for the log. */
#ifndef LISTEN_H
#define LISTEN_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* Open a listening socket for addr (HOST:PORT, [V6]:PORT or unix:/PATH),
 * the value of option opt ("listen", "metrics-listen"); -1 with a message
 * on stderr naming the option.  A unix socket gets c's socket mode and
 * owner. */
int	listen_open(const struct config *c, const char *opt, const char *addr);

/* --check-config: every address parses, no two of --listen and
 * --metrics-listen are one address and port (or one unix path), and each
 * can be bound now (tried, then closed; a unix path is only tried for a
 * daemon answering on it).  -1 after printing every problem, naming the
 * options. */
int	listen_check_config(const struct config *c);

/* Try one address now: bind and close it (a unix path is only probed).
 * 0 free, 1 in use by a running qlockd (fine for a reload; for the
 * metrics address, which speaks HTTP, assumed when ours is true), -1 in
 * use otherwise or unusable, with a message naming the option. */
int	listen_probe(const char *opt, const char *addr, bool ours);

/* The address a listening socket is bound to, as HOST:PORT, [V6]:PORT or
 * unix:/PATH (getsockname: what it really is, not what was asked for). */
void	listen_describe(int fd, char *buf, size_t len);

#endif
