/* balance.c: accepting from the shared listeners in turn (balance.h). */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "balance.h"
#include "conn.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* One worker's slot on the board, written by that worker (and by the
 * master once it is gone), read by its siblings.  A line of its own. */
struct board_slot {
	uint32_t	conns;		/* open client connections */
	uint32_t	moves;		/* bumped whenever conns is written */
	uint32_t	up;		/* accepting from the shared listeners */
	uint32_t	parked;		/* left a connection to a sibling */
	char		pad[64 - 4 * sizeof(uint32_t)];
};

/* Set in the master before the workers fork; inherited. */
static struct board_slot *board;
static int	 board_n;
static int	*pokefds;		/* [board_n] eventfds */

/* A worker's side. */
struct balance {
	struct worker	*w;
	int		 n;
	int		*fds;		/* the shared listeners */
	struct event	**evs;		/* readable, one per listener */
	struct event	*poke_ev;	/* a sibling woke us */
	struct event	*grace_ev;	/* parked too long: take it anyway */
	bool		 on;		/* accepting (not stopping, not paused) */
	bool		 parked;
	bool		*skip;		/* [board_n]: sibling passed over... */
	uint32_t	*skip_moves;	/* ...while its moves stays this */
};

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define BUMP(x)		__atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)

int
balance_init(int nworkers)
{
	int	i;

	board = mmap(NULL, (size_t)nworkers * sizeof(*board),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (board == MAP_FAILED) {
		board = NULL;
		return -1;
	}
	pokefds = xcalloc((size_t)nworkers, sizeof(int));
	for (i = 0; i < nworkers; i++)
		if ((pokefds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
			return -1;
	board_n = nworkers;
	return 0;
}

void
balance_worker_gone(int id)
{
	if (board == NULL || id < 0 || id >= board_n)
		return;
	STORE(board[id].up, 0);
	STORE(board[id].parked, 0);
	STORE(board[id].conns, 0);
	BUMP(board[id].moves);
}

void
balance_count(const struct worker *w)
{
	if (board == NULL || w->id >= board_n || w->bal == NULL)
		return;
	STORE(board[w->id].conns, (uint32_t)w->nconns);
	BUMP(board[w->id].moves);
}

/* Whether sibling s counts: accepting, and not passed over since its
 * count last stayed put. */
static bool
balance_counts(struct balance *b, int s)
{
	if (s == b->w->id || !LOAD(board[s].up))
		return false;
	if (b->skip[s]) {
		if (LOAD(board[s].moves) == b->skip_moves[s])
			return false;
		b->skip[s] = false;
	}
	return true;
}

/* Our turn: no sibling that counts holds fewer connections. */
static bool
balance_turn(struct balance *b)
{
	uint32_t	mine = (uint32_t)b->w->nconns;
	int		s;

	if (board == NULL)
		return true;
	for (s = 0; s < board_n; s++)
		if (balance_counts(b, s) && LOAD(board[s].conns) < mine)
			return false;
	return true;
}

/* Sibling s's turn, as we see it: it counts, and neither we nor another
 * that counts holds fewer. */
static bool
balance_turn_of(struct balance *b, int s)
{
	uint32_t	theirs;
	int		t;

	if (!balance_counts(b, s))
		return false;
	theirs = LOAD(board[s].conns);
	if ((uint32_t)b->w->nconns < theirs)
		return false;
	for (t = 0; t < board_n; t++)
		if (t != s && balance_counts(b, t) &&
		    LOAD(board[t].conns) < theirs)
			return false;
	return true;
}

static void
balance_watch(struct balance *b, bool on)
{
	int	i;

	for (i = 0; i < b->n; i++) {
		if (on)
			event_add(b->evs[i], NULL);
		else
			event_del(b->evs[i]);
	}
}

static void
balance_unpark(struct balance *b)
{
	if (!b->parked)
		return;
	b->parked = false;
	STORE(board[b->w->id].parked, 0);
	evtimer_del(b->grace_ev);
	if (b->on)
		balance_watch(b, true);
}

/* Leave what waits to the sibling whose turn it is: stop watching (the
 * listeners stay readable), wake it if it is parked (only it: two whose
 * turn it is not would wake each other in a loop), and come back after
 * the grace at the latest. */
static void
balance_park(struct balance *b)
{
	struct timeval	tv = { 0, BALANCE_GRACE_MS * 1000 };
	uint64_t	one = 1;
	int		s;

	if (b->parked)
		return;
	b->parked = true;
	STORE(board[b->w->id].parked, 1);
	balance_watch(b, false);
	for (s = 0; s < board_n; s++)
		if (LOAD(board[s].parked) && balance_turn_of(b, s))
			(void)write(pokefds[s], &one, sizeof(one));
	evtimer_add(b->grace_ev, &tv);
}

/* Accept one connection from lfd: 1 taken, 0 none waiting, -1 failed
 * (out of file descriptors: accepting pauses). */
static int
balance_accept(struct balance *b, int lfd)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);
	int			fd;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNABORTED || errno == EPROTO)
			return 0;
		worker_accept_pause(b->w);
		return -1;
	}
	conn_accept_cb(NULL, fd, (struct sockaddr *)&ss, (int)sl, b->w);
	return 1;
}

/* A shared listener is readable: take one connection if it is our turn
 * (level-triggered: another waiting one wakes us again), else park. */
static void
balance_readable_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct balance	*b = arg;

	if (!b->on)
		return;
	if (!balance_turn(b)) {
		balance_park(b);
		return;
	}
	(void)balance_accept(b, fd);
}

static void
balance_poke_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct balance	*b = arg;
	uint64_t	 v;

	(void)read(fd, &v, sizeof(v));
	balance_unpark(b);
}

/* Parked for the whole grace: a connection still waiting was not taken
 * by the sibling whose turn it was.  Take it, and pass over those
 * siblings until their counts move. */
static void
balance_grace_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct balance	*b = arg;
	uint32_t	 mine = (uint32_t)b->w->nconns;
	int		 i, s, got = 0;

	balance_unpark(b);
	if (!b->on)
		return;
	for (i = 0; i < b->n && got == 0; i++)
		got = balance_accept(b, b->fds[i]);
	if (got != 1)
		return;
	for (s = 0; s < board_n; s++) {
		if (!balance_counts(b, s) || LOAD(board[s].conns) >= mine)
			continue;
		log_debug("worker %d left a connection waiting %d ms; passing "
		    "it over", s, BALANCE_GRACE_MS);
		b->skip[s] = true;
		b->skip_moves[s] = LOAD(board[s].moves);
	}
}

void
balance_listen(struct worker *w, const int *lfds, int nlfds)
{
	struct balance	*b = xcalloc(1, sizeof(*b));
	int		 i;

	b->w = w;
	w->bal = b;
	b->n = nlfds;
	b->fds = xcalloc((size_t)(nlfds > 0 ? nlfds : 1), sizeof(int));
	b->evs = xcalloc((size_t)(nlfds > 0 ? nlfds : 1), sizeof(*b->evs));
	for (i = 0; i < nlfds; i++) {
		b->fds[i] = lfds[i];
		if (fd_nonblock_cloexec(lfds[i]) == -1)
			fatal("listening socket %d", lfds[i]);
		b->evs[i] = event_new(w->base, lfds[i], EV_READ | EV_PERSIST,
		    balance_readable_cb, b);
		if (b->evs[i] == NULL)
			fatalx("cannot watch listening socket %d", lfds[i]);
	}
	b->grace_ev = evtimer_new(w->base, balance_grace_cb, b);
	if (board != NULL && w->id < board_n) {
		b->skip = xcalloc((size_t)board_n, sizeof(*b->skip));
		b->skip_moves = xcalloc((size_t)board_n, sizeof(uint32_t));
		b->poke_ev = event_new(w->base, pokefds[w->id],
		    EV_READ | EV_PERSIST, balance_poke_cb, b);
		event_add(b->poke_ev, NULL);
	} else
		board = NULL;	/* not forked by a master: no siblings */
	balance_count(w);
	balance_enable(w, true);
}

void
balance_enable(struct worker *w, bool on)
{
	struct balance	*b = w->bal;

	if (b == NULL || b->on == on)
		return;
	b->on = on;
	if (board != NULL)
		STORE(board[w->id].up, on ? 1 : 0);
	if (!b->parked)
		balance_watch(b, on);
}

void
balance_free(struct worker *w)
{
	struct balance	*b = w->bal;
	int		 i;

	if (b == NULL)
		return;
	balance_enable(w, false);
	for (i = 0; i < b->n; i++) {
		event_free(b->evs[i]);
		close(b->fds[i]);
	}
	if (b->poke_ev != NULL)
		event_free(b->poke_ev);
	event_free(b->grace_ev);
	free(b->fds);
	free(b->evs);
	free(b->skip);
	free(b->skip_moves);
	free(b);
	w->bal = NULL;
}
