/* balance.h: spreading the connections that arrive on the shared
 * listeners (clients that do not route) evenly over the workers.
 *
 * Every worker watches every shared listener, but takes a connection only
 * while it holds no more connections than any sibling that accepts; the
 * counts are on a board in memory shared by the master and the workers.
 * A worker that leaves a connection to a sibling stops watching ("parks")
 * and wakes that sibling through its eventfd if it is parked; if after
 * BALANCE_GRACE_MS the connection still waits (the sibling is busy,
 * stopped or dead), it takes it anyway and passes over that sibling until
 * the sibling's count moves.  docs/BALANCE.md says why this and not
 * SO_REUSEPORT. */
#ifndef BALANCE_H
#define BALANCE_H

#include <stdbool.h>

struct worker;

#define BALANCE_GRACE_MS	50	/* a connection waits this long at most
					   for the sibling whose turn it is */

/* In the master, before the first worker starts: the shared board and a
 * wake-up eventfd per worker, inherited by every worker (also restarted
 * ones).  -1 with errno. */
int	balance_init(int nworkers);
/* In the master: worker id is gone; its slot reads as not accepting and
 * holding nothing until its next incarnation starts. */
void	balance_worker_gone(int id);

/* In worker w: accept from the shared listeners lfds (nlfds of them).
 * Without a board (a worker run in-process by a test), it takes every
 * connection. */
void	balance_listen(struct worker *w, const int *lfds, int nlfds);
/* Stop (stopping, or out of file descriptors) or resume accepting from
 * the shared listeners; a worker that does not accept is passed over. */
void	balance_enable(struct worker *w, bool on);
/* w's connection count changed: publish it. */
void	balance_count(const struct worker *w);
/* Close the shared listeners' events (not the sockets' other copies). */
void	balance_free(struct worker *w);

#endif
