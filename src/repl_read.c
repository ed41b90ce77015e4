/*
 * repl_read.c: the end of a leader's loop pass (repl_flush) and the
 * barriers that make its reads linearizable (docs/HA.md, "Reads are
 * linearizable").  A reply is held (worker_deliver) with the seq of our
 * next entry, repl_hold_seq, and goes once an entry of ours with that seq
 * or a later one has committed in our term.  A pass that recorded
 * something proposes its records as that entry; a pass that only read
 * needs an entry appended after its reads were executed: a barrier.  At
 * most one barrier is in flight: the reads of passes that end while one is
 * keep the seq of our next entry, which is either a pass's records or the
 * barrier proposed when the one in flight is done, both appended after
 * they were executed.  The barrier in flight does not do: it was appended
 * before them, and followers may have acknowledged it before they ran.
 *
 * By default (QLOCKD_READS=index) a read round (repl_readidx.c) takes
 * the barrier's place: it has a seq of our own entries' count too, but no
 * entry, and is done once a majority confirmed it; replies go once every
 * seq up to theirs is done (entries commit in seq order, rounds are done
 * in seq order, the two interleave: repl_advance).
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "config.h"
#include "repl_entry.h"
#include "repl_int.h"
#include "util.h"
#include "worker.h"

/* A read barrier in flight. */
struct repl_bar {
	struct raft_barrier	 req;
	struct repl		*r;
	uint64_t		 seq;
};

static void repl_confirm(struct repl *, uint64_t);

/* Every seq up to committed is done: send what waits for them.  A seq
 * is an entry's (done when ent_hi reaches it: raft commits in order) or a
 * round's (r->rounds). */
static void
repl_advance(struct repl *r)
{
	uint64_t	c = r->committed, v;
	size_t		i;

	for (i = 0; i < r->nrounds; i++) {
		v = r->rounds[i].seq;
		if (v - 1 > c) {	/* entries between c and v */
			if (r->ent_hi < v - 1)
				break;
			c = v - 1;
		}
		if (!r->rounds[i].done)
			goto out;
		c = v;
	}
	/* Entries up to ent_hi, and no round pending below it. */
	if (r->ent_hi > c)
		c = r->ent_hi;
out:
	if (i > 0) {
		memmove(r->rounds, r->rounds + i,
		    (r->nrounds - i) * sizeof(*r->rounds));
		r->nrounds -= i;
	}
	if (c > r->committed) {
		r->committed = c;
		worker_release_held_upto(r->w, c);
	}
}

void
repl_entry_committed(struct repl *r, uint64_t seq)
{
	r->ent_hi = seq;
	repl_advance(r);
}

/* Reads that ended a pass while a barrier or round was in flight: the
 * next, now that it is done. */
static void
repl_confirm_deferred(struct repl *r)
{
	r->bar_inflight = false;
	if (r->read_deferred && !r->closing) {
		r->read_deferred = false;
		repl_confirm(r, ++r->proposed);
	}
}

void
repl_round_done(struct repl *r, uint64_t seq)
{
	size_t	i;

	for (i = 0; i < r->nrounds; i++)
		if (r->rounds[i].seq == seq)
			r->rounds[i].done = true;
	repl_advance(r);
	repl_confirm_deferred(r);
}

static void
repl_barrier_cb(struct raft_barrier *req, int status)
{
	struct repl_bar	*q = req->data;
	struct repl	*r = q->r;

	r->bar_inflight = false;
	repl_entry_done(r, q->seq, status, "a read barrier");
	free(q);
	if (status == 0)
		repl_confirm_deferred(r);
}

static void
repl_round_barrier_cb(struct raft_barrier *req, int status)
{
	struct repl_bar	*q = req->data;
	struct repl	*r = q->r;
	uint64_t	 seq = q->seq;

	free(q);
	repl_entry_done(r, 0, status, "a read round's barrier");
	if (status == 0)
		repl_rix_barrier_done(r, seq);
}

/* Round seq, not confirmed in time: a barrier, appended now (after the
 * reads), confirms it instead. */
void
repl_round_barrier(struct repl *r, uint64_t seq)
{
	struct repl_bar	*q = xcalloc(1, sizeof(*q));

	q->r = r;
	q->seq = seq;
	q->req.data = q;
	if (!repl_appended(r, raft_barrier(&r->raft, &q->req,
	    repl_round_barrier_cb), "append a read round's barrier"))
		free(q);
}

/* Append a barrier as our entry seq. */
static void
repl_barrier(struct repl *r, uint64_t seq)
{
	struct repl_bar	*q = xcalloc(1, sizeof(*q));
	int		 rv;

	q->r = r;
	q->seq = seq;
	q->req.data = q;
	r->bar_inflight = true;
	rv = raft_barrier(&r->raft, &q->req, repl_barrier_cb);
	if (!repl_appended(r, rv, "append a read barrier")) {
		r->bar_inflight = false;
		free(q);
	}
}

/* Confirm the reads executed so far as our seq: a round or a barrier. */
static void
repl_confirm(struct repl *r, uint64_t seq)
{
	if (r->read_mode == REPL_READ_BARRIER) {
		repl_barrier(r, seq);
		return;
	}
	if (r->nrounds == r->roundcap) {
		r->roundcap = r->roundcap == 0 ? 8 : 2 * r->roundcap;
		r->rounds = xrealloc(r->rounds,
		    r->roundcap * sizeof(*r->rounds));
	}
	r->rounds[r->nrounds].seq = seq;
	r->rounds[r->nrounds++].done = false;
	r->bar_inflight = true;
	if (r->read_mode == REPL_READ_LOCAL)
		repl_round_done(r, seq);	/* no majority: unsafe */
	else
		repl_rix_round(r, seq);
}

void
repl_read_init(struct repl *r)
{
	const char	*m = getenv("QLOCKD_READS");

	if (m == NULL || strcmp(m, "index") == 0)
		r->read_mode = REPL_READ_INDEX;
	else if (strcmp(m, "barrier") == 0)
		r->read_mode = REPL_READ_BARRIER;
	else if (strcmp(m, "local") == 0)
		r->read_mode = REPL_READ_LOCAL;
	else
		fatalx("QLOCKD_READS=%s: index, barrier or local", m);
	repl_rix_init(r);
}

static void
repl_flush_pass(struct worker *w, struct store_buf *b)
{
	struct repl	*r = w->repl;
	msgpack_sbuffer	 sb;
	struct held	*h;

	if (b->len == 0 && r->read_wanted) {
		/* Reads, and nothing recorded: their replies wait for a
		 * barrier appended after them, this one or, while one is in
		 * flight, the next. */
		r->read_wanted = false;
		if (r->bar_inflight)
			r->read_deferred = true;
		else
			repl_confirm(r, ++r->proposed);
		return;
	}
	/* An entry of this pass, appended after its reads, is their
	 * barrier (and that of the reads deferred before it). */
	r->read_wanted = false;
	if (b->len == 0) {
		/* Nothing recorded after all: replies wait only for what is
		 * in flight, unless reads wait for our next entry (which
		 * comes: they are before this pass's replies anyway). */
		if (!r->read_deferred)
			TAILQ_FOREACH(h, &w->held, link)
				if (h->seq > r->proposed)
					h->seq = r->proposed;
		worker_release_held_upto(w, r->committed);
		return;
	}
	msgpack_sbuffer_init(&sb);
	repl_entry_recs(&sb, w->conf->node_id, r->raft.current_term, b);
	b->len = 0;
	r->read_deferred = false;
	repl_propose(r, &sb, ++r->proposed);
	msgpack_sbuffer_destroy(&sb);
}

void
repl_flush(struct worker *w, struct store_buf *b)
{
	repl_flush_pass(w, b);
	/* A snapshot refused for our entries in flight: their commit. */
	if (w->repl->snap_wanted)
		repl_snap_drain(w->repl);
}

void
repl_read(struct worker *w)
{
	struct repl	*r = w->repl;

	if (r == NULL || !r->serving)
		return;
	r->read_wanted = true;
	store_schedule_flush(w);
}

uint64_t
repl_hold_seq(const struct worker *w)
{
	const struct repl *r = w->repl;

	if (r == NULL)
		return 0;
	return r->proposed + (w->store_flush_pending ||
	    r->read_deferred ? 1 : 0);
}
