/* sdnotify.h: systemd's socket activation and notify protocols, spoken
 * without libsystemd (both are a few environment variables and a datagram),
 * so every build behaves the same under systemd. */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

#include <stdint.h>

/* The first descriptor systemd passes (SD_LISTEN_FDS_START). */
#define SDNOTIFY_FDS_START	3

/* Socket activation: the number of listening sockets passed to this
 * process (LISTEN_PID is ours, LISTEN_FDS of them from fd 3 on), 0 if none,
 * -1 with a message on stderr if what was passed is unusable.  The
 * sockets are made close-on-exec; LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES are removed from the environment, as they describe this
 * process only. */
int	sdnotify_listen_fds(void);

/* Send state (e.g. "READY=1", "STOPPING=1", "STATUS=...") to the service
 * manager's $NOTIFY_SOCKET (a path, or '@' for an abstract name): 1 sent,
 * 0 when not asked for (no NOTIFY_SOCKET), -1 on error (errno set). */
int	sdnotify_send(const char *state);

/* The watchdog period systemd asked for (WATCHDOG_USEC, and WATCHDOG_PID
 * if set is ours): 1 with *usec set, 0 if none. */
int	sdnotify_watchdog(uint64_t *usec);

#endif
