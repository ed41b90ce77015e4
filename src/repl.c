/*
 * repl.c: with --peer, worker g of every node is a member of raft group g
 * (libraft, docs/HA.md).  Effects are replicated, not requests: the leader
 * executes requests as a single node does, and the records its store
 * writes for one loop pass (store_int.h) become one entry,
 *	[1, "recs", node, term, record...]
 * whose replies are held until raft commits it (src/repl_read.c; there
 * too the barriers that do the same for reads).  Followers replay the
 * records into their registry (store_replay.c: deterministic, no clock, no
 * random, no disk).  A node that becomes leader proposes
 *	[1, "epoch", node, term, [client address...]]
 * whose apply, on every member, does what the end of a restart's replay
 * does (taken items back to their queues: no session survives a failover
 * yet) and records who leads; the leader serves once it applied its own.
 * The leader skips its own entries of its term in apply (their effects
 * are in its state already); a worker that loses leadership exits and the
 * master restarts it: it rebuilds from raft's snapshot and log.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "cluster.h"
#include "config.h"
#include "log.h"
#include "mp.h"
#include "raft_tcp.h"
#include "repl_entry.h"
#include "repl_int.h"
#include "reply.h"
#include "session.h"
#include "util.h"
#include "uvev.h"
#include "worker.h"

#define REPL_SNAP_THRESHOLD	4096	/* entries between snapshots */
#define REPL_SNAP_TRAILING	1024	/* entries kept behind a snapshot */
#define REPL_BALANCE_AFTER	5.0	/* seconds a leader serves before it
					   hands over to the preferred node */

/* One of our entries in flight. */
struct repl_req {
	struct raft_apply	 req;
	struct repl		*r;
	uint64_t		 seq;	/* own "recs" count, 0 for an epoch */
};

static void repl_apply_cb(struct raft_apply *, int, void *);

bool
repl_appended(struct repl *r, int rv, const char *what)
{
	if (rv == 0) {
		r->inflight++;
		uvev_poke(r->uvev);
		return true;
	}
	/* A worker handing over ends anyway; otherwise this node may not
	 * lead any more and what it did is in its state only: it starts
	 * again from the replicated state. */
	if (r->stopping)
		return false;
	log_warnx("shard %d: cannot %s (%s): restarting this worker",
	    r->w->id, what, raft_strerror(rv));
	exit(1);
}

void
repl_propose(struct repl *r, msgpack_sbuffer *sb, uint64_t seq)
{
	struct repl_req		*q = xcalloc(1, sizeof(*q));
	struct raft_buffer	 buf;
	int			 rv;

	/* raft's segments want whole 8-byte words (apply skips the zeros). */
	buf.len = (sb->size + 7) / 8 * 8;
	if ((buf.base = raft_calloc(1, buf.len)) == NULL)
		fatalx("out of memory for a raft entry");
	memcpy(buf.base, sb->data, sb->size);
	q->r = r;
	q->seq = seq;
	q->req.data = q;
	rv = raft_apply(&r->raft, &q->req, &buf, 1, repl_apply_cb);
	if (!repl_appended(r, rv, "propose")) {
		raft_free(buf.base);
		free(q);
	} else if (seq != 0)
		r->recs_inflight++;	/* our state is ahead of raft's */
}

void
repl_entry_done(struct repl *r, uint64_t seq, int status, const char *what)
{
	r->inflight--;
	if (status != 0 && !r->closing && !r->stopping) {
		log_warnx("shard %d: %s was not committed (%s): restarting "
		    "this worker", r->w->id, what, raft_strerror(status));
		exit(1);
	}
	if (status == 0 && seq != 0)
		repl_entry_committed(r, seq);
}

static void
repl_apply_cb(struct raft_apply *req, int status, void *result)
{
	struct repl_req	*q = req->data;

	if (q->seq != 0)
		q->r->recs_inflight--;
	repl_entry_done(q->r, q->seq, status, "an entry");
	free(q);
}

/* We lead in a term without an epoch yet: propose it. */
static void
repl_propose_epoch(struct repl *r)
{
	msgpack_sbuffer	sb;

	r->epoch_term = r->raft.current_term;
	msgpack_sbuffer_init(&sb);
	repl_entry_epoch(&sb, r->w->conf->node_id, r->raft.current_term,
	    r->my_addrs, r->my_len, r->w->nworkers);
	log_info("shard %d: leader in term %llu; proposing its epoch",
	    r->w->id, (unsigned long long)r->raft.current_term);
	repl_propose(r, &sb, 0);
	msgpack_sbuffer_destroy(&sb);
}

static void
repl_transfer_cb(struct raft_transfer *req)
{
	struct repl	*r = req->data;
	raft_id		 id;
	const char	*addr;

	raft_leader(&r->raft, &id, &addr);
	log_info("shard %d: leadership handed over to node %llu", r->w->id,
	    (unsigned long long)id);
	r->handed = true;
}

/* The follower in touch that has the most entries, or 0. */
static int
repl_best_follower(struct repl *r)
{
	struct raft_configuration *c = &r->raft.configuration;
	struct raft_progress	*p = r->raft.leader_state.progress;
	raft_index		 best = 0;
	unsigned		 i;
	int			 id = 0;

	for (i = 0; p != NULL && i < c->n; i++) {
		if ((int)c->servers[i].id == r->w->conf->node_id ||
		    c->servers[i].role != RAFT_VOTER || !p[i].recent_recv ||
		    p[i].match_index <= best)
			continue;
		best = p[i].match_index;
		id = (int)c->servers[i].id;
	}
	return id;
}

/* Stopping: hand the leadership over once nothing of ours is in flight. */
static void
repl_handover(struct repl *r)
{
	if (r->handed || r->xfer_started)
		return;
	if (raft_state(&r->raft) != RAFT_LEADER) {
		r->handed = true;
		return;
	}
	if (r->inflight > 0 || r->w->store->pend.len > 0 || r->read_wanted ||
	    r->bar_inflight)
		return;
	if (r->xfer_to == 0 && (r->xfer_to = repl_best_follower(r)) == 0) {
		r->handed = true;	/* none in touch: an election */
		return;
	}
	r->xfer_started = true;
	r->xfer.data = r;
	if (raft_transfer(&r->raft, &r->xfer, (raft_id)r->xfer_to,
	    repl_transfer_cb) != 0)
		r->handed = true;	/* no follower to take it: an election */
}

void
repl_stop(struct worker *w)
{
	struct repl	*r = w->repl;

	if (r == NULL || r->stopping)
		return;
	r->stopping = true;
	repl_handover(r);
	uvev_poke(r->uvev);
}

bool
repl_stopped(const struct worker *w)
{
	return w->repl == NULL || w->repl->handed;
}

/*
 * Leaders spread over the nodes: group g's preferred leader is the node at
 * position g % nodes among the peer ids in order.  A leader that is not
 * it, once it has served a while, every member is in touch and the
 * preferred node has every entry, stops as for SIGTERM, handing over to
 * that node; its
 * worker exits and comes back as a follower (the master restarts it): its
 * clients reconnect, as after any failover.
 */
static void
repl_balance(struct repl *r)
{
	struct raft_configuration *c = &r->raft.configuration;
	struct raft_progress	*p;
	unsigned		 i;

	if (r->preferred == r->w->conf->node_id || r->w->ctlfd == -1 ||
	    now_mono() - r->serve_t0 < REPL_BALANCE_AFTER)
		return;
	if ((p = r->raft.leader_state.progress) == NULL)
		return;
	/* Every member in touch: this worker's restart must leave a
	 * majority to the new leader. */
	for (i = 0; i < c->n; i++)
		if ((int)c->servers[i].id != r->w->conf->node_id &&
		    !p[i].recent_recv)
			return;
	for (i = 0; i < c->n; i++)
		if ((int)c->servers[i].id == r->preferred)
			break;
	if (i == c->n || p[i].match_index != raft_last_index(&r->raft))
		return;
	log_info("shard %d: handing the leadership to node %d, its preferred "
	    "leader", r->w->id, r->preferred);
	r->xfer_to = r->preferred;
	r->serve_t0 = now_mono() + 3600;	/* once */
	raise(SIGTERM);		/* worker_stop, then repl_stop */
}

/* After each uv pass: follow raft's state. */
static void
repl_check_cb(uv_check_t *h)
{
	struct repl	*r = h->data;
	int		 state = raft_state(&r->raft);

	if (r->closing)
		return;
	if (r->stopping) {	/* it applies nothing: nothing more to tell */
		repl_handover(r);
		return;
	}
	if (r->serving && (state != RAFT_LEADER ||
	    r->raft.current_term != r->serving_term)) {
		/* Our state may hold effects that will never commit. */
		log_warnx("shard %d: no longer the leader (term %llu): "
		    "restarting this worker", r->w->id,
		    (unsigned long long)r->raft.current_term);
		exit(1);
	}
	if (state == RAFT_LEADER && r->epoch_term != r->raft.current_term)
		repl_propose_epoch(r);
	if (r->serving)
		repl_balance(r);
	repl_lead_check(r);
}

/* An epoch is known (applied, or in a snapshot): who leads, and where.
 * Its shard count must be ours. */
void
repl_epoch_known(struct repl *r, const struct repl_entry *e)
{
	struct worker	*w = r->w;

	if (e->shards != (uint64_t)w->nworkers) {
		/* Names would map to other shards on that node: a restart
		 * would not help, the daemon stops (the master sees why). */
		log_warnx("shard %d: node %llu runs %llu workers, this node "
		    "%d: every member must run the same --workers; stopping",
		    w->id, (unsigned long long)e->node,
		    (unsigned long long)e->shards, w->nworkers);
		exit(STORE_EXIT_BADLOG);
	}
	r->epoch_node = (int)e->node;
	r->epoch_applied = e->term;
	free(r->epoch_addrs);
	r->epoch_addrs = xmalloc(e->addrs_len);
	memcpy(r->epoch_addrs, e->addrs, e->addrs_len);
	r->epoch_len = e->addrs_len;
}

/* An epoch is applied: who leads, and whether we serve now. */
static void
repl_epoch_applied(struct repl *r, struct repl_entry *e)
{
	struct worker	*w = r->w;

	repl_epoch_known(r, e);
	if ((int)e->node == w->conf->node_id && !r->serving &&
	    e->term == r->raft.current_term &&
	    raft_state(&r->raft) == RAFT_LEADER) {
		r->serving = true;
		r->serving_term = e->term;
		r->serve_t0 = now_mono();
		store_raft_serve(w, r->rp.max_item, r->rp.tokens);
		session_repl_serve(w, &r->rp);	/* keyed holds: detached */
		log_info("shard %d: serving as the leader of term %llu", w->id,
		    (unsigned long long)e->term);
	}
}

static int
repl_fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
    void **result)
{
	struct repl	*r = fsm->data;
	struct repl_entry e;

	*result = NULL;
	/* Stopping, after the hand-over: our state holds what our sessions
	 * hold, which the new leader's entries give back; this worker ends
	 * without applying them (nor writing a snapshot of that state). */
	if (r->stopping && r->serving && raft_state(&r->raft) != RAFT_LEADER)
		return 0;
	if (repl_entry_read(buf->base, buf->len, &e) == -1)
		fatalx("shard %d: a raft entry this version cannot read "
		    "(index %llu): every member must run the same qlockd "
		    "version", r->w->id,
		    (unsigned long long)raft_last_applied(&r->raft) + 1);
	/* Ours, of the term we serve: already in our state. */
	if (e.kind == REPL_RECS && r->serving &&
	    (int)e.node == r->w->conf->node_id && e.term == r->serving_term)
		return 0;
	if (repl_entry_apply(&r->rp, &e) == -1)
		fatalx("shard %d: a replicated record does not apply (index "
		    "%llu): a member running another qlockd version wrote "
		    "it, or the log is damaged", r->w->id,
		    (unsigned long long)raft_last_applied(&r->raft) + 1);
	if (e.kind == REPL_EPOCH)
		repl_epoch_applied(r, &e);
	return 0;
}

/* Every member's raft address for our group (HOST:PORT+g), this node's
 * into self; the transport accepts connections from these ids only. */
static void
repl_members(struct repl *r, struct raft_configuration *conf, char *self,
    size_t selflen)
{
	const struct config	*c = r->w->conf;
	struct cluster_peer	 p;
	char			 addr[300], why[256];
	int			 i, j, rank, ids[CONFIG_MAX_PEERS];

	raft_configuration_init(conf);
	for (i = 0; i < c->npeer; i++) {
		if (cluster_peer_parse(c->peer[i], &p, why, sizeof(why)) == -1)
			fatalx("--peer %s", why);
		snprintf(addr, sizeof(addr), strchr(p.host, ':') != NULL ?
		    "[%s]:%d" : "%s:%d", p.host, p.port + r->w->id);
		if (p.id == c->node_id)
			snprintf(self, selflen, "%s", addr);
		if (raft_configuration_add(conf, (raft_id)p.id, addr,
		    RAFT_VOTER) != 0 || raft_tcp_member(&r->trans,
		    (raft_id)p.id) != 0)
			fatalx("raft configuration");
		ids[i] = p.id;
	}
	/* The preferred leader: the (g % n)-th id in order. */
	for (i = 0; i < c->npeer; i++) {
		for (rank = j = 0; j < c->npeer; j++)
			rank += ids[j] < ids[i];
		if (rank == r->w->id % c->npeer)
			r->preferred = ids[i];
	}
}

void
repl_start(struct worker *w)
{
	struct repl	*r;
	struct raft_configuration conf;
	const char	*env;
	char		 dir[8192], self[300] = "";
	int		 rv;

	if (w->conf->npeer == 0)
		return;
	r = xcalloc(1, sizeof(*r));
	r->w = w;
	w->repl = r;
	replay_init(&r->rp, &w->reg);
	repl_lead_init(r);
	repl_my_addrs(r);
	snprintf(dir, sizeof(dir), "%s/shard-%d", w->conf->raft_dir, w->id);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	if (uv_loop_init(&r->loop) != 0)
		fatalx("uv_loop_init failed");
	r->fsm.data = r;
	r->fsm.apply = repl_fsm_apply;
	repl_snap_init(r);	/* version 3: snapshot, its async part, restore */
	if ((rv = raft_tcp_init(&r->trans, &r->loop, w->conf->authkey,
	    w->conf->authkey_len, w->id)) != 0)
		fatalx("raft transport: %s", raft_strerror(rv));
	if ((rv = raft_uv_init(&r->io, &r->loop, dir, &r->trans)) != 0)
		fatalx("raft_uv_init %s: %s", dir, raft_strerror(rv));
	raft_uv_set_segment_size(&r->io, REPL_SEGMENT_SIZE);
	/*
	 * A member whose worker restarts is connected to again after a
	 * quarter of the election timeout (at least 50 ms), not raft_uv's
	 * 1 s, which left a leader out of touch with it for up to a second:
	 * one more loss meanwhile cost the majority.
	 */
	raft_uv_set_connect_retry_delay(&r->io,
	    (unsigned)(w->conf->raft_election_ms / 4 > 50 ?
	    w->conf->raft_election_ms / 4 : 50));
	/* raft_uv 0.15 has async_work, the one field of raft_io version 2,
	 * but says version 1, which raft_init refuses with async snapshots. */
	if (r->io.version < 2 && r->io.async_work != NULL)
		r->io.version = 2;
	else if (r->io.async_work == NULL)
		fatalx("raft_uv without async_work: no snapshots off the loop");
	repl_tail_repair(dir, REPL_SEGMENT_SIZE);
	repl_members(r, &conf, self, sizeof(self));
	if ((rv = raft_init(&r->raft, &r->io, &r->fsm,
	    (raft_id)w->conf->node_id, self)) != 0)
		fatalx("raft_init: %s", raft_errmsg(&r->raft));
	/* A new directory: every member starts from the same configuration. */
	if ((rv = raft_bootstrap(&r->raft, &conf)) != 0 &&
	    rv != RAFT_CANTBOOTSTRAP)
		fatalx("shard %d: raft_bootstrap: %s", w->id, raft_strerror(rv));
	raft_configuration_close(&conf);
	raft_set_election_timeout(&r->raft, (unsigned)w->conf->raft_election_ms);
	raft_set_heartbeat_timeout(&r->raft,
	    (unsigned)(w->conf->raft_election_ms / 10 > 0 ?
	    w->conf->raft_election_ms / 10 : 1));
	raft_set_pre_vote(&r->raft, true);
	/* Tests: snapshots every N entries (N/4 kept behind). */
	if ((env = getenv("QLOCKD_TEST_SNAPSHOT_EVERY")) != NULL &&
	    atoi(env) >= 4) {
		raft_set_snapshot_threshold(&r->raft, (unsigned)atoi(env));
		raft_set_snapshot_trailing(&r->raft, (unsigned)atoi(env) / 4);
	} else {
		raft_set_snapshot_threshold(&r->raft, REPL_SNAP_THRESHOLD);
		raft_set_snapshot_trailing(&r->raft, REPL_SNAP_TRAILING);
	}
	repl_bind_check(w->id, self);
	if ((rv = raft_start(&r->raft)) != 0)
		fatalx("shard %d: raft_start: %s%s%s", w->id,
		    raft_strerror(rv),
		    *raft_errmsg(&r->raft) != '\0' ? ": " : "",
		    raft_errmsg(&r->raft));
	repl_read_init(r);	/* raft's configuration is loaded now */
	uv_check_init(&r->loop, &r->check);
	r->check.data = r;
	uv_check_start(&r->check, repl_check_cb);
	if ((r->uvev = uvev_new(w->base, &r->loop)) == NULL)
		fatalx("cannot drive raft's loop");
	log_info("shard %d: raft group member %d at %s", w->id,
	    w->conf->node_id, self);
}

static void
repl_closed_cb(struct raft *raft)
{
	struct repl	*r = raft->data;

	raft_uv_close(&r->io);
	raft_tcp_close(&r->trans);
	uv_close((uv_handle_t *)&r->check, NULL);
	repl_snap_close(r);
}

void
repl_close(struct worker *w)
{
	struct repl	*r = w->repl;

	if (r == NULL)
		return;
	r->closing = true;
	uvev_free(r->uvev);
	repl_rix_close(r);
	r->raft.data = r;
	raft_close(&r->raft, repl_closed_cb);
	/* raft's handles close within a few loop passes. */
	(void)uv_run(&r->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&r->loop) != 0)
		log_warnx("shard %d: raft's loop did not close", w->id);
	replay_discard(&r->rp);
	repl_rix_free(r);
	free(r->rounds);
	repl_lead_free(r);
	free(r->epoch_addrs);
	free(r->my_addrs);
	free(r);
	w->repl = NULL;
}

bool
repl_on(const struct worker *w)
{
	return w->repl != NULL;
}

bool
repl_serving(const struct worker *w)
{
	return w->repl == NULL || (w->repl->serving && !w->repl->stopping);
}

void
repl_get_info(const struct worker *w, struct repl_info *ri)
{
	struct repl	*r = w->repl;
	raft_id		 id;
	const char	*addr;

	memset(ri, 0, sizeof(*ri));
	if (r == NULL)
		return;
	ri->state = raft_state(&r->raft);
	ri->term = r->raft.current_term;
	raft_leader(&r->raft, &id, &addr);
	ri->leader = (int)id;
	ri->serving = r->serving;
	ri->commit = r->raft.commit_index;
	ri->applied = raft_last_applied(&r->raft);
	ri->last = raft_last_index(&r->raft);
}

static const char *
role_name(int state)
{
	switch (state) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	default:
		return "unavailable";
	}
}

void
repl_pack_info(const struct worker *w, msgpack_packer *pk)
{
	struct repl_info		 ri;
	struct raft			*rf = &w->repl->raft;
	const struct raft_configuration	*c = &rf->configuration;
	const struct raft_progress	*pr;
	const struct raft_tcp_stats	*ts = raft_tcp_stats(&w->repl->trans);
	unsigned			 i, n = 0;

	repl_get_info(w, &ri);
	msgpack_pack_map(pk, 13);
	pack_cstr(pk, "shard");		msgpack_pack_int(pk, w->id);
	pack_cstr(pk, "node");		msgpack_pack_int(pk, w->conf->node_id);
	pack_cstr(pk, "role");		pack_cstr(pk, role_name(ri.state));
	pack_cstr(pk, "term");		msgpack_pack_uint64(pk, ri.term);
	pack_cstr(pk, "leader");	msgpack_pack_int(pk, ri.leader);
	pack_cstr(pk, "serving");
	if (ri.serving && !w->repl->stopping)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pack_cstr(pk, "commit");	msgpack_pack_uint64(pk, ri.commit);
	pack_cstr(pk, "applied");	msgpack_pack_uint64(pk, ri.applied);
	pack_cstr(pk, "last");		msgpack_pack_uint64(pk, ri.last);
	/* Raft's last snapshot: its index; ours taken, failed, and the
	 * drains they waited for (repl_snap.c). */
	pack_cstr(pk, "snapshot");
	msgpack_pack_uint64(pk, rf->log.snapshot.last_index);
	pack_cstr(pk, "snapshots");
	msgpack_pack_map(pk, 3);
	pack_cstr(pk, "taken");		msgpack_pack_uint64(pk, w->repl->snap_taken);
	pack_cstr(pk, "failed");	msgpack_pack_uint64(pk, w->repl->snap_failed);
	pack_cstr(pk, "drains");	msgpack_pack_uint64(pk, w->repl->drains);
	/* The transport's handshakes and bad records (raft_tcp.h). */
	pack_cstr(pk, "transport");
	msgpack_pack_map(pk, 4);
	pack_cstr(pk, "accepted");	msgpack_pack_uint64(pk, ts->accepted);
	pack_cstr(pk, "connected");	msgpack_pack_uint64(pk, ts->connected);
	pack_cstr(pk, "refused");	msgpack_pack_uint64(pk, ts->refused);
	pack_cstr(pk, "bad_record");	msgpack_pack_uint64(pk, ts->bad_record);
	/* What a leader knows of each other member. */
	pr = ri.state == RAFT_LEADER ? rf->leader_state.progress : NULL;
	if (pr != NULL)
		for (i = 0; i < c->n; i++)
			n += (int)c->servers[i].id != w->conf->node_id;
	pack_cstr(pk, "peers");
	msgpack_pack_array(pk, n);
	for (i = 0; pr != NULL && i < c->n; i++) {
		if ((int)c->servers[i].id == w->conf->node_id)
			continue;
		msgpack_pack_map(pk, 4);
		pack_cstr(pk, "node");
		msgpack_pack_int(pk, (int)c->servers[i].id);
		pack_cstr(pk, "match");
		msgpack_pack_uint64(pk, pr[i].match_index);
		pack_cstr(pk, "next");
		msgpack_pack_uint64(pk, pr[i].next_index);
		pack_cstr(pk, "in_touch");
		if (pr[i].recent_recv)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
}
