/* pidfile.h: --pid-file: the master's pid, for init scripts and
 * monitors, held locked for the daemon's life. */
#ifndef PIDFILE_H
#define PIDFILE_H

/* Create or take over path (no symlink followed, a regular file owned by
 * us or root) and lock it; refused while a running qlockd holds it (a
 * stale file, its daemon gone, is taken over).  The descriptor, or -1 with
 * a message on stderr. */
int	pidfile_open(const char *path);
/* Write this process's pid into it (after daemon(3): the final pid);
 * -1 logged. */
int	pidfile_write(int fd, const char *path);
/* At exit: remove it; where the directory no longer lets us (root given
 * up), empty it, which readers take as no daemon.  Closes fd. */
void	pidfile_remove(int fd, const char *path);

#endif
