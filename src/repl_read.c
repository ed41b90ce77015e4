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
 */
#include <stdlib.h>

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

static void repl_barrier(struct repl *, uint64_t);

static void
repl_barrier_cb(struct raft_barrier *req, int status)
{
	struct repl_bar	*q = req->data;
	struct repl	*r = q->r;

	r->bar_inflight = false;
	repl_entry_done(r, q->seq, status, "a read barrier");
	free(q);
	/* Reads that ended a pass while it was in flight: the next. */
	if (status == 0 && r->read_deferred && !r->closing) {
		r->read_deferred = false;
		repl_barrier(r, ++r->proposed);
	}
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
			repl_barrier(r, ++r->proposed);
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
