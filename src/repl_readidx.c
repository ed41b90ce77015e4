/*
 * repl_readidx.c: reads confirmed by a round of questions instead of a log
 * entry (Raft thesis 6.4, "ReadIndex"; docs/HA.md, "Reads are
 * linearizable").  A leader that served reads in a pass that recorded
 * nothing asks every other member of its group "your term?" under a new
 * round number, over a side stream of our own (raft_tcp_side_connect: the
 * transport's handshake with the cluster key, on raft's port); each member
 * answers the round with its current term.  Once a majority, this node
 * included, answered that round with the leader's own term, no member of
 * that majority had voted in a later term when it answered, hence no later
 * leader had been elected when the round was sent: the reads, executed
 * before, saw every committed entry (the leader serves once its epoch, an
 * entry of its term, committed, and every later entry is its own).  An
 * answer with a later term means this node was deposed: the worker
 * restarts (as when an entry fails).
 *
 * Messages, big-endian: leader -> member "QRQ1", round u64, term u64;
 * member -> leader round u64, term u64.  At most one round is in flight;
 * its question goes again, every RIX_RETRY_MS, to members that have not
 * answered it (a stream that broke is connected again) or answered with
 * an earlier term (a member that has not heard from this leader yet, as
 * right after an election it took no part in).
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "raft_tcp.h"
#include "repl_int.h"
#include "util.h"
#include "uvev.h"
#include "worker.h"

#define RIX_Q_LEN	20
#define RIX_A_LEN	16
#define RIX_RETRY_MS	50
#define RIX_MAGIC	"QRQ1"

/* One message written, with its own request and bytes. */
struct rix_w {
	uv_write_t	req;
	uint8_t		buf[RIX_Q_LEN];
};

/* A stream: to a member (ours, outbound) or from a leader (inbound). */
struct rix_s {
	struct rix	*x;
	struct rix_s	*next;		/* inbound: the list */
	uv_stream_t	*tcp;		/* NULL: none (the relay's pipe:
					   raft_tcp_rec.c) */
	raft_id		 id;
	bool		 inbound;
	bool		 connecting;
	uint64_t	 acked;		/* outbound: last round answered in
					   our term */
	uint64_t	 asked;		/* outbound: last round sent */
	uint8_t		 rbuf[RIX_Q_LEN];
	size_t		 have;
};

struct rix {
	struct repl	*r;
	struct rix_s	*out;		/* [n]: the other members */
	unsigned	 n;
	unsigned	 voters;	/* every voter, this node too */
	struct rix_s	*in;		/* inbound streams */
	uv_timer_t	 timer;
	uint64_t	 round;		/* last round sent */
	uint64_t	 seq;		/* its seq (repl_read.c) */
	uint64_t	 t0;		/* when it was sent (uv_now) */
	bool		 inflight;
	bool		 barrier;	/* it waits for a barrier instead */
	bool		 closing;
};

static void	rix_connect(struct rix *, struct rix_s *);

static void
put64(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
rix_tcp_closed(uv_handle_t *h)
{
	raft_free(h);
}

/* Close s's stream (an inbound one is unlinked and freed). */
static void
rix_drop(struct rix_s *s)
{
	struct rix_s	**pp;

	if (s->tcp != NULL && !uv_is_closing((uv_handle_t *)s->tcp))
		uv_close((uv_handle_t *)s->tcp, rix_tcp_closed);
	s->tcp = NULL;
	s->have = 0;
	s->asked = 0;
	if (s->inbound) {
		for (pp = &s->x->in; *pp != NULL; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		free(s);
	}
}

static void
rix_write_cb(uv_write_t *req, int status)
{
	(void)status;	/* a broken stream is seen by its read */
	free(req->data);
}

static void
rix_write(struct rix_s *s, const uint8_t *p, size_t len)
{
	struct rix_w	*m = xmalloc(sizeof(*m));
	uv_buf_t	 b;

	memcpy(m->buf, p, len);
	m->req.data = m;
	b = uv_buf_init((char *)m->buf, (unsigned int)len);
	if (uv_write(&m->req, s->tcp, &b, 1,
	    rix_write_cb) != 0) {
		free(m);
		rix_drop(s);
	}
}

/* Ask s the round in flight, unless it was asked or answered it. */
static void
rix_ask(struct rix *x, struct rix_s *s)
{
	uint8_t	q[RIX_Q_LEN];

	if (!x->inflight || s->acked >= x->round)
		return;
	if (s->tcp == NULL) {
		rix_connect(x, s);
		return;
	}
	if (s->asked >= x->round)
		return;
	memcpy(q, RIX_MAGIC, 4);
	put64(q + 4, x->round);
	put64(q + 12, x->r->serving_term);
	s->asked = x->round;
	rix_write(s, q, sizeof(q));
}

/* The round in flight is confirmed by a majority: its reads go. */
static void
rix_check(struct rix *x)
{
	unsigned	i, yes = 1;

	if (!x->inflight)
		return;
	for (i = 0; i < x->n; i++)
		yes += x->out[i].acked >= x->round;
	if (2 * yes <= x->voters)
		return;
	x->inflight = false;
	uv_timer_stop(&x->timer);
	repl_round_done(x->r, x->seq);
}

/* A barrier appended for round seq committed in our term: it proves the
 * same (repl_round_barrier), unless a majority answered first. */
void
repl_rix_barrier_done(struct repl *r, uint64_t seq)
{
	struct rix	*x = r->rix;

	if (!x->inflight || x->seq != seq)
		return;
	x->inflight = false;
	uv_timer_stop(&x->timer);
	repl_round_done(r, seq);
}

static void
rix_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct rix_s	*s = h->data;
	size_t		 need = s->inbound ? RIX_Q_LEN : RIX_A_LEN;

	(void)suggested;
	*buf = uv_buf_init((char *)s->rbuf + s->have,
	    (unsigned int)(need - s->have));
}

/* An answer from a member to our question. */
static void
rix_answer(struct rix_s *s)
{
	struct rix	*x = s->x;
	struct repl	*r = x->r;
	uint64_t	 round = get64(s->rbuf), term = get64(s->rbuf + 8);

	s->have = 0;
	if (term > r->serving_term && r->serving && !r->stopping) {
		log_warnx("shard %d: node %llu is in term %llu, later than "
		    "ours (%llu): no longer the leader, restarting this "
		    "worker", r->w->id, (unsigned long long)s->id,
		    (unsigned long long)term,
		    (unsigned long long)r->serving_term);
		exit(1);
	}
	if (term == r->serving_term && round > s->acked && round <= x->round)
		s->acked = round;
	else if (term < r->serving_term && round == x->round)
		s->asked = 0;	/* not in our term yet: asked again */
	rix_check(x);
}

/* A question from a leader: our term. */
static void
rix_question(struct rix_s *s)
{
	uint8_t	a[RIX_A_LEN];

	s->have = 0;
	if (memcmp(s->rbuf, RIX_MAGIC, 4) != 0) {
		log_warnx("shard %d: a read round from node %llu that is not "
		    "one: closed", s->x->r->w->id, (unsigned long long)s->id);
		rix_drop(s);
		return;
	}
	memcpy(a, s->rbuf + 4, 8);
	put64(a + 8, s->x->r->raft.current_term);
	rix_write(s, a, sizeof(a));
}

static void
rix_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct rix_s	*s = st->data;
	struct rix	*x = s->x;
	bool		 out = !s->inbound;

	(void)buf;
	if (n == 0)
		return;
	if (n < 0) {
		rix_drop(s);		/* s is freed if inbound */
		if (out)
			rix_ask(x, s);		/* again, if it has to */
		return;
	}
	s->have += (size_t)n;
	if (s->have < (out ? RIX_A_LEN : RIX_Q_LEN))
		return;
	if (out)
		rix_answer(s);
	else
		rix_question(s);
}

static bool
rix_reading(struct rix_s *s, uv_stream_t *st)
{
	s->tcp = st;
	st->data = s;
	if (uv_read_start(st, rix_alloc_cb, rix_read_cb) != 0) {
		rix_drop(s);
		return false;
	}
	return true;
}

/* Our side stream to a member: up, or not. */
static void
rix_connected_cb(void *arg, raft_id id, uv_stream_t *st, int status)
{
	struct rix_s	*s = arg;

	(void)id;
	s->connecting = false;
	if (s->x->closing) {
		if (st != NULL)
			uv_close((uv_handle_t *)st, rix_tcp_closed);
		return;
	}
	if (status != 0 || st == NULL)
		return;		/* the retry timer tries again */
	if (rix_reading(s, st))
		rix_ask(s->x, s);
}

static void
rix_connect(struct rix *x, struct rix_s *s)
{
	const struct raft_configuration *c = &x->r->raft.configuration;
	unsigned	 i;

	if (s->connecting || x->closing)
		return;
	for (i = 0; i < c->n; i++)
		if (c->servers[i].id == s->id)
			break;
	if (i == c->n)
		return;
	s->connecting = true;
	if (raft_tcp_side_connect(&x->r->trans, s->id, c->servers[i].address,
	    rix_connected_cb, s) != 0)
		s->connecting = false;
}

/* A leader's side stream to us. */
static void
rix_accepted_cb(void *arg, raft_id id, uv_stream_t *st, int status)
{
	struct rix	*x = arg;
	struct rix_s	*s;

	if (status != 0 || st == NULL)
		return;
	if (x->closing) {
		uv_close((uv_handle_t *)st, rix_tcp_closed);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->x = x;
	s->id = id;
	s->inbound = true;
	s->next = x->in;
	x->in = s;
	(void)rix_reading(s, st);
}

static void
rix_timer_cb(uv_timer_t *t)
{
	struct rix	*x = t->data;
	unsigned	 i;

	/* Members that did not answer: asked again (a question on a stream
	 * that is up was sent: it is answered or the stream breaks). */
	for (i = 0; i < x->n; i++)
		rix_ask(x, &x->out[i]);
	/* Not confirmed within an election timeout (a member's side stream
	 * cannot be opened, say its name no longer resolves, while raft's
	 * own streams are up): the reads wait for a barrier, the way that
	 * needs no side stream; the round may still be confirmed first. */
	if (x->inflight && !x->barrier && uv_now(t->loop) - x->t0 >=
	    (uint64_t)x->r->w->conf->raft_election_ms) {
		x->barrier = true;
		log_info("shard %d: read round %llu not confirmed in %d ms: "
		    "a barrier confirms it", x->r->w->id,
		    (unsigned long long)x->round, x->r->w->conf->raft_election_ms);
		repl_round_barrier(x->r, x->seq);
	}
}

void
repl_rix_init(struct repl *r)
{
	const struct raft_configuration *c = &r->raft.configuration;
	struct rix	*x = xcalloc(1, sizeof(*x));
	unsigned	 i;

	x->r = r;
	r->rix = x;
	x->out = xcalloc(c->n > 0 ? c->n : 1, sizeof(*x->out));
	for (i = 0; i < c->n; i++) {
		if (c->servers[i].role != RAFT_VOTER)
			continue;
		x->voters++;
		if ((int)c->servers[i].id == r->w->conf->node_id)
			continue;
		x->out[x->n].x = x;
		x->out[x->n].id = c->servers[i].id;
		x->n++;
	}
	if (x->voters == 0)
		fatalx("shard %d: no voter in raft's configuration", r->w->id);
	uv_timer_init(&r->loop, &x->timer);
	x->timer.data = x;
	raft_tcp_side_accept(&r->trans, rix_accepted_cb, x);
}

void
repl_rix_round(struct repl *r, uint64_t seq)
{
	struct rix	*x = r->rix;
	unsigned	 i;

	x->round++;
	x->seq = seq;
	x->t0 = uv_now(&r->loop);
	x->inflight = true;
	x->barrier = false;
	for (i = 0; i < x->n; i++)
		rix_ask(x, &x->out[i]);
	uv_timer_start(&x->timer, rix_timer_cb, RIX_RETRY_MS, RIX_RETRY_MS);
	uvev_poke(r->uvev);
	rix_check(x);
}

void
repl_rix_close(struct repl *r)
{
	struct rix	*x = r->rix;
	unsigned	 i;

	if (x == NULL)
		return;
	x->closing = true;
	x->inflight = false;
	uv_close((uv_handle_t *)&x->timer, NULL);
	for (i = 0; i < x->n; i++)
		rix_drop(&x->out[i]);
	while (x->in != NULL)
		rix_drop(x->in);
}

void
repl_rix_free(struct repl *r)
{
	if (r->rix == NULL)
		return;
	free(r->rix->out);
	free(r->rix);
	r->rix = NULL;
}
