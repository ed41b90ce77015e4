/* config.h: the daemon's settings: one struct, one table of options that
 * both the command line and the config file read. */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_PEERS 16	/* --peer: members of a cluster */
#define AUTHKEY_MIN	16	/* bytes a key needs, without its newline */

struct topo;

enum fsync_policy { FSYNC_ALWAYS, FSYNC_EVERYSEC, FSYNC_NO };

struct config {
	bool		 foreground;		/* stay attached, log to stderr */
	char		*listen[CONFIG_MAX_LISTEN];	/* addresses to serve */
	int		 nlisten;
	int		 workers;		/* shard worker processes */
	char		*authkey_file;		/* path of the shared secret */
	bool		 auth_legacy_md5;	/* allow Python <= 3.11 clients */
	char		*data_dir;		/* append-only log directory */
	enum fsync_policy fsync;
	bool		 fsync_given;	/* --fsync was set (refused with --peer) */
	bool		 repair_log;		/* cut damaged logs at the damage */
	size_t		 compact_min;		/* log size before compaction */
	size_t		 max_frame;		/* largest frame accepted */
	double		 handshake_timeout;	/* seconds to authenticate */
	int		 tcp_keepalive;		/* idle seconds before probing a
						   TCP client; 0: off */
	size_t		 max_output;		/* per-connection output buffer
						   before reading pauses */
	int		 max_unauth;		/* connections not authenticated
						   yet, per worker */
	int		 max_unauth_per_addr;	/* the same per client address
						   (IPv6: per /64) */
	enum log_level	 log_level;
	char		*metrics_listen;	/* HTTP address for /metrics;
						   NULL: not served */
	char		*config_file;		/* where the file settings came from */
	char		*pid_file;		/* --pid-file: the master's pid */
	bool		 check_only;		/* --check-config: validate, exit */
	char		*user;			/* --user: give root up to it */
	unsigned	 socket_mode;		/* unix sockets' permissions */
	char		*worker_ports;		/* each worker's own port: auto,
						   off, 0 or the first one */
	int		 node_id;		/* --node-id; 0: not given */
	char		*peer[CONFIG_MAX_PEERS];	/* --peer ID=HOST:PORT,
						   as given (src/cluster.c) */
	int		 npeer;			/* 0: a single node */
	char		*raft_dir;		/* --raft-dir */
	int		 raft_election_ms;	/* --raft-election-ms */
	int		 session_grace;		/* --session-grace, ms */
	int		 argc;			/* the command line, for reloads */
	char		**argv;
	/* Loaded at start, not an option: */
	unsigned char	*authkey;
	size_t		 authkey_len;
	/* Set by priv_resolve (defaults: the effective ids): */
	uid_t		 run_uid;		/* the user qlockd runs as */
	gid_t		 run_gid;
	bool		 drop_root;		/* root is given up after start */
	/* Set by the master, inherited by the workers: */
	struct topo	*topo;			/* workers' own addresses */
};

/* Fill in every default. */
void	config_defaults(struct config *c);
/* Parse argv (and the --config file it names); on a bad option or value,
 * prints the reason and returns -1; 1 means --help/--version was shown. */
int	config_parse(struct config *c, int argc, char *argv[]);
/* Read the authkey file, creating it with a random key when missing;
 * refuses a symlink, anything but a regular file, a file owned by someone
 * other than root or c->run_uid, one others can read, and a key
 * shorter than AUTHKEY_MIN.  -1 with a message printed. */
int	config_load_authkey(struct config *c);
void	config_free(struct config *c);
/* SIGHUP: read the command line and config file again into a fresh
 * config, copy what can change at run time (limits, log level) into c,
 * and (unless quiet) log what could not be applied without a restart.
 * -1 if the new configuration is invalid (c unchanged). */
int	config_reload(struct config *c, bool quiet);

#endif
