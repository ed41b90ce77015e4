/* metrics.c: Prometheus metrics.  The master serves GET /metrics with
 * libevent's HTTP server; each scrape sends QMSG_STATS_REQ to every
 * serving worker, gathers their QMSG_STATS_REPLY snapshots (waiting at
 * most METRICS_TIMEOUT), sums them and renders the text exposition
 * format 0.0.4.  Scrapes that arrive during a gather share its answer.
 *
 * A snapshot is a msgpack map (see metrics_worker_reply); readers skip
 * keys they do not know, so keys may be added but never change meaning.
 * The worker's half, which packs the snapshot, is metrics_worker.c. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <msgpack.h>

#include "cmd.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "object.h"
#include "qmsg.h"
#include "reply.h"
#include "status.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define METRICS_TIMEOUT	1	/* seconds to wait for the snapshots */
#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* ---------------------------------------------------------------- master */

/* A worker's snapshot for the gather in progress. */
struct snapshot {
	uint8_t		*data;		/* msgpack map; NULL: none */
	size_t		 len;
};

/* An HTTP connection seen, so that a forked child can close its copy. */
struct seen_conn {
	struct evhttp_connection *evcon;	/* libevent's, never freed here */
	int			 fd;		/* its socket */
};

struct metrics {
	struct evhttp		*http;		/* the server, on the master's loop */
	int			 fd;		/* listening socket (http's) */
	int			 nworkers;	/* worker slots */
	const uint64_t		*restarts;	/* the master's counter */
	metrics_ask_fn		 ask;		/* sends the requests */
	void			*ask_arg;	/* its argument: the master */
	uint64_t		 tag;		/* gather in progress; 0: none */
	uint64_t		 next_tag;
	uint8_t			*owed;		/* [nworkers]: snapshot awaited */
	int			 nowed;
	struct snapshot		*snaps;		/* [nworkers] */
	struct event		*timeout_ev;	/* gives up on the rest */
	struct evhttp_request	**reqs;		/* scrapes awaiting the gather */
	size_t			 nreqs;
	struct seen_conn	*conns;		/* open HTTP connections seen */
	size_t			 nconns;
};

/* Counters summed over workers, in snapshot keys and metric names. */
enum scalar {
	SC_CONNS, SC_CONNS_TOTAL, SC_SESSIONS, SC_AUTH_FAILURES, SC_FORWARDED,
	SC_WAITERS, SC_QUEUES_UNLISTED, SC_LOG_BYTES, SC_LOG_FSYNCS,
	SC_FORWARDS_PENDING, SC_UNAUTH_REFUSED, SC_RELAYED, SC_DETACHED,
	SC_RETRIES, NSCALARS
};
static const struct {
	const char	*key;		/* in a snapshot */
	const char	*name;		/* metric */
	const char	*type;
	const char	*help;
} scalars[NSCALARS] = {
	{ "connections", "qlockd_connections", "gauge",
	  "Open client connections, authenticated or not." },
	{ "connections_total", "qlockd_connections_total", "counter",
	  "Client connections accepted." },
	{ "sessions", "qlockd_sessions", "gauge",
	  "Authenticated client sessions." },
	{ "auth_failures", "qlockd_auth_failures_total", "counter",
	  "Handshakes refused or timed out." },
	{ "forwarded", "qlockd_forwarded_total", "counter",
	  "Client requests passed on to the worker owning their object." },
	{ "waiters", "qlockd_waiters", "gauge",
	  "Requests parked on any object." },
	{ "queues_unlisted", "qlockd_queues_unlisted", "gauge",
	  "Queues left out of qlockd_queue_depth (beyond the deepest 1000 of "
	  "a worker, or its message size)." },
	{ "log_bytes", "qlockd_log_bytes", "gauge",
	  "Bytes in the append-only logs." },
	{ "log_fsyncs", "qlockd_log_fsyncs_total", "counter",
	  "fdatasync calls on the logs." },
	{ "forwards_pending", "qlockd_forwards_pending", "gauge",
	  "Forwarded requests awaiting their answer from the owning worker." },
	{ "unauth_refused", "qlockd_unauth_refused_total", "counter",
	  "Connections refused or dropped before authenticating, by "
	  "--max-unauth-per-addr or --max-unauth." },
	{ "relayed", "qlockd_relayed_total", "counter",
	  "Cluster: requests relayed to their shard's leader on another node." },
	{ "sessions_detached", "qlockd_sessions_detached", "gauge",
	  "Cluster: sessions a failover detached, kept for a resume within "
	  "--session-grace." },
	{ "retries_answered", "qlockd_retries_answered_total", "counter",
	  "Cluster: retries of a resumed session's last request, answered "
	  "with its kept reply." },
};

/* One scrape's sums. */
struct totals {
	int		 up;			/* workers that answered */
	uint64_t	 v[NSCALARS];		/* by enum scalar */
	double		 fsync_secs;		/* log_fsync_seconds */
	uint64_t	 methods[STATS_METHODS]; /* by cmd_index() */
	uint64_t	 codes[STATS_CODES];	/* by metrics_code_name slot */
	uint64_t	 kinds[OBJ_NKINDS];	/* objects by enum obj_kind */
};

static bool
key_is(const msgpack_object *k, const char *s)
{
	size_t	len = strlen(s);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
	    memcmp(k->via.str.ptr, s, len) == 0;
}

/* Add a snapshot's name -> count map into v, whose names are name(i) for
 * i < n (NULL: unused); unknown names are skipped. */
static void
add_counts(const msgpack_object *map, uint64_t *v, int n,
    const char *(*name)(int))
{
	uint32_t	j;
	int		i;

	if (map->type != MSGPACK_OBJECT_MAP)
		return;
	for (j = 0; j < map->via.map.size; j++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[j];

		if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			continue;
		for (i = 0; i < n; i++) {
			if (name(i) != NULL && key_is(&kv->key, name(i))) {
				v[i] += kv->val.via.u64;
				break;
			}
		}
	}
}

static const char *
kind_name_at(int i)
{
	return obj_kind_name((enum obj_kind)i);
}

/* Add one snapshot to the totals. */
static void
totals_add(struct totals *t, const msgpack_object *snap)
{
	uint32_t	j;
	int		s;

	t->up++;
	for (j = 0; j < snap->via.map.size; j++) {
		const msgpack_object_kv *kv = &snap->via.map.ptr[j];

		if (key_is(&kv->key, "methods"))
			add_counts(&kv->val, t->methods, cmd_count(), cmd_name_at);
		else if (key_is(&kv->key, "codes"))
			add_counts(&kv->val, t->codes, STATS_CODES,
			    metrics_code_name);
		else if (key_is(&kv->key, "objects"))
			add_counts(&kv->val, t->kinds, OBJ_NKINDS, kind_name_at);
		else if (key_is(&kv->key, "log_fsync_seconds") &&
		    (kv->val.type == MSGPACK_OBJECT_FLOAT64 ||
		    kv->val.type == MSGPACK_OBJECT_FLOAT32))
			t->fsync_secs += kv->val.via.f64;
		else if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			for (s = 0; s < NSCALARS; s++)
				if (key_is(&kv->key, scalars[s].key))
					t->v[s] += kv->val.via.u64;
		}
	}
}

/* HELP and TYPE lines of a metric family. */
static void
family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
scalar_out(struct evbuffer *b, const struct totals *t, enum scalar s)
{
	family(b, scalars[s].name, scalars[s].type, scalars[s].help);
	evbuffer_add_printf(b, "%s %" PRIu64 "\n", scalars[s].name, t->v[s]);
}

/* Length of the UTF-8 sequence at p (at most len bytes), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t len)
{
	size_t	n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > len)
		return 0;
	/* No overlong forms, surrogates, or code points past U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A label value: backslash, double quote and newline escaped as the
 * format says; NUL and bytes that are not UTF-8 become U+FFFD. */
static void
label_value(struct evbuffer *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	while (i < len) {
		n = utf8_len(p + i, len - i);
		if (n == 0 || p[i] == '\0') {
			evbuffer_add(b, "\xef\xbf\xbd", 3);
			i++;
		} else if (p[i] == '\\') {
			evbuffer_add(b, "\\\\", 2);
			i++;
		} else if (p[i] == '"') {
			evbuffer_add(b, "\\\"", 2);
			i++;
		} else if (p[i] == '\n') {
			evbuffer_add(b, "\\n", 2);
			i++;
		} else {
			evbuffer_add(b, p + i, n);
			i += n;
		}
	}
}

/* One labelled sample per name(i), i < n (unused names skipped). */
static void
labelled_out(struct evbuffer *b, const char *metric, const char *label,
    const uint64_t *v, int n, const char *(*name)(int))
{
	int	i;

	for (i = 0; i < n; i++) {
		if (name(i) == NULL)
			continue;
		evbuffer_add_printf(b, "%s{%s=\"", metric, label);
		label_value(b, name(i), strlen(name(i)));
		evbuffer_add_printf(b, "\"} %" PRIu64 "\n", v[i]);
	}
}

/* The queue samples of every snapshot: field 1 (depth) or 2 (waiters). */
static void
queues_out(struct evbuffer *b, const char *metric, const msgpack_object *snaps,
    int nsnaps, int field)
{
	const msgpack_object	*q, *e;
	uint32_t		 j, k;
	int			 s;

	for (s = 0; s < nsnaps; s++) {
		for (q = NULL, j = 0; j < snaps[s].via.map.size; j++)
			if (key_is(&snaps[s].via.map.ptr[j].key, "queues"))
				q = &snaps[s].via.map.ptr[j].val;
		if (q == NULL || q->type != MSGPACK_OBJECT_ARRAY)
			continue;
		for (k = 0; k < q->via.array.size; k++) {
			e = &q->via.array.ptr[k];
			if (e->type != MSGPACK_OBJECT_ARRAY ||
			    e->via.array.size != 3 ||
			    e->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
			    e->via.array.ptr[field].type !=
			    MSGPACK_OBJECT_POSITIVE_INTEGER)
				continue;
			evbuffer_add_printf(b, "%s{queue=\"", metric);
			label_value(b, e->via.array.ptr[0].via.str.ptr,
			    e->via.array.ptr[0].via.str.size);
			evbuffer_add_printf(b, "\"} %" PRIu64 "\n",
			    e->via.array.ptr[field].via.u64);
		}
	}
}

/* Each answering worker's open connections, labelled by worker: how the
 * shared listeners' connections are spread (balance.c). */
static void
worker_conns_out(struct evbuffer *b, const msgpack_unpacked *up, int n)
{
	const msgpack_object	*m;
	uint32_t		 j;
	int			 i;

	family(b, "qlockd_worker_connections", "gauge",
	    "Open client connections of each worker.");
	for (i = 0; i < n; i++) {
		m = &up[i].data;
		if (m->type != MSGPACK_OBJECT_MAP)
			continue;
		for (j = 0; j < m->via.map.size; j++)
			if (key_is(&m->via.map.ptr[j].key, "connections") &&
			    m->via.map.ptr[j].val.type ==
			    MSGPACK_OBJECT_POSITIVE_INTEGER)
				evbuffer_add_printf(b, "qlockd_worker_connections"
				    "{worker=\"%d\"} %" PRIu64 "\n", i,
				    m->via.map.ptr[j].val.via.u64);
	}
}

/* The value under key k of map m, or NULL. */
static const msgpack_object *
map_get(const msgpack_object *m, const char *k)
{
	uint32_t	j;

	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (j = 0; j < m->via.map.size; j++)
		if (key_is(&m->via.map.ptr[j].key, k))
			return &m->via.map.ptr[j].val;
	return NULL;
}

static uint64_t
map_uint(const msgpack_object *m, const char *k)
{
	const msgpack_object	*v = map_get(m, k);

	if (v != NULL && v->type == MSGPACK_OBJECT_BOOLEAN)
		return v->via.boolean;
	return v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
	    v->via.u64 : 0;
}

/* Raft gauges per shard, from the snapshots' raft maps. */
static const struct {
	const char	*key;		/* in a snapshot's raft map */
	const char	*name;
	const char	*help;
} raft_gauges[] = {
	{ "term", "qlockd_raft_term", "The shard's raft group's current term "
	  "as this node sees it." },
	{ "leader", "qlockd_raft_leader", "Node id of the shard's leader as "
	  "this node knows it (0: unknown)." },
	{ "commit", "qlockd_raft_commit_index", "Highest log index known "
	  "committed." },
	{ "applied", "qlockd_raft_applied_index", "Highest log index applied "
	  "by this node." },
	{ "last", "qlockd_raft_last_index", "Last index in this node's log." },
	{ "snapshot", "qlockd_raft_snapshot_index", "Last index in this "
	  "node's latest raft snapshot (0: none)." },
	{ "serving", "qlockd_raft_serving", "1 if this node leads the shard "
	  "and serves it." },
};

/* The cluster families; nothing when no snapshot has a raft map (a
 * single node). */
static void
raft_out(struct evbuffer *b, const msgpack_object *snaps, int nsnaps)
{
	static const char *const roles[] = { "follower", "candidate", "leader",
	    "unavailable" };
	const msgpack_object	*rm, *role, *peers, *pe, *tr;
	size_t			 g, k;
	uint32_t		 e;
	int			 s, any = 0;

	for (s = 0; s < nsnaps; s++)
		any |= map_get(&snaps[s], "raft") != NULL &&
		    map_get(&snaps[s], "raft")->type == MSGPACK_OBJECT_MAP;
	if (!any)
		return;
	for (s = 0; s < nsnaps; s++)
		if ((rm = map_get(&snaps[s], "raft")) != NULL &&
		    rm->type == MSGPACK_OBJECT_MAP)
			break;
	family(b, "qlockd_raft_node", "gauge", "This node's --node-id.");
	evbuffer_add_printf(b, "qlockd_raft_node %" PRIu64 "\n",
	    map_uint(rm, "node"));
	for (g = 0; g < sizeof(raft_gauges) / sizeof(raft_gauges[0]); g++) {
		family(b, raft_gauges[g].name, "gauge", raft_gauges[g].help);
		for (s = 0; s < nsnaps; s++) {
			if ((rm = map_get(&snaps[s], "raft")) == NULL)
				continue;
			evbuffer_add_printf(b, "%s{shard=\"%" PRIu64 "\"} %"
			    PRIu64 "\n", raft_gauges[g].name,
			    map_uint(rm, "shard"),
			    map_uint(rm, raft_gauges[g].key));
		}
	}
	family(b, "qlockd_raft_role", "gauge", "1 for this node's role in the "
	    "shard's group, 0 for the others.");
	for (s = 0; s < nsnaps; s++) {
		if ((rm = map_get(&snaps[s], "raft")) == NULL ||
		    (role = map_get(rm, "role")) == NULL ||
		    role->type != MSGPACK_OBJECT_STR)
			continue;
		for (k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
			evbuffer_add_printf(b, "qlockd_raft_role{shard=\"%"
			    PRIu64 "\",role=\"%s\"} %d\n",
			    map_uint(rm, "shard"), roles[k],
			    key_is(role, roles[k]));
	}
	family(b, "qlockd_raft_handshakes_total", "counter", "Handshakes of "
	    "the shard's raft transport: accepted and connected (handed to "
	    "raft), refused (wrong key, group or id, garbage, timeout).");
	for (s = 0; s < nsnaps; s++) {
		static const char *const hk[] = { "accepted", "connected",
		    "refused" };

		if ((tr = map_get(map_get(&snaps[s], "raft"),
		    "transport")) == NULL)
			continue;
		for (k = 0; k < 3; k++)
			evbuffer_add_printf(b, "qlockd_raft_handshakes_total{"
			    "shard=\"%" PRIu64 "\",result=\"%s\"} %" PRIu64
			    "\n", map_uint(map_get(&snaps[s], "raft"), "shard"),
			    hk[k], map_uint(tr, hk[k]));
	}
	for (k = 0; k < 3; k++) {
		static const char *const pk[] = { "match", "next", "in_touch" };
		static const char *const pn[] = {
		    "qlockd_raft_peer_match_index",
		    "qlockd_raft_peer_next_index",
		    "qlockd_raft_peer_in_touch" };
		static const char *const ph[] = {
		    "On a leader: highest index known replicated on the peer.",
		    "On a leader: next index to send to the peer.",
		    "On a leader: 1 if the peer answered within the election "
		    "timeout." };

		family(b, pn[k], "gauge", ph[k]);
		for (s = 0; s < nsnaps; s++) {
			rm = map_get(&snaps[s], "raft");
			peers = map_get(rm, "peers");
			if (peers == NULL || peers->type != MSGPACK_OBJECT_ARRAY)
				continue;
			for (e = 0; e < peers->via.array.size; e++) {
				pe = &peers->via.array.ptr[e];
				evbuffer_add_printf(b, "%s{shard=\"%" PRIu64
				    "\",peer=\"%" PRIu64 "\"} %" PRIu64 "\n",
				    pn[k], map_uint(rm, "shard"),
				    map_uint(pe, "node"), map_uint(pe, pk[k]));
			}
		}
	}
}

/* Render the snapshots received into the exposition format. */
static void
metrics_render(struct metrics *mt, struct evbuffer *b)
{
	msgpack_unpacked	*up = xcalloc((size_t)mt->nworkers, sizeof(*up));
	msgpack_object		*snaps = xcalloc((size_t)mt->nworkers,
				    sizeof(*snaps));
	struct totals		*t = xcalloc(1, sizeof(*t));
	size_t			 off;
	int			 i, n = 0;

	for (i = 0; i < mt->nworkers; i++) {
		msgpack_unpacked_init(&up[i]);
		if (mt->snaps[i].data == NULL)
			continue;
		off = 0;
		if (msgpack_unpack_next(&up[i], (const char *)mt->snaps[i].data,
		    mt->snaps[i].len, &off) != MSGPACK_UNPACK_SUCCESS ||
		    up[i].data.type != MSGPACK_OBJECT_MAP) {
			log_warnx("worker %d sent an unreadable snapshot", i);
			continue;
		}
		snaps[n++] = up[i].data;
		totals_add(t, &up[i].data);
	}

	family(b, "qlockd_workers_up", "gauge",
	    "Workers that answered this scrape within 1 s.");
	evbuffer_add_printf(b, "qlockd_workers_up %d\n", t->up);
	family(b, "qlockd_worker_restarts_total", "counter",
	    "Workers restarted after dying.");
	evbuffer_add_printf(b, "qlockd_worker_restarts_total %" PRIu64 "\n",
	    *mt->restarts);
	scalar_out(b, t, SC_CONNS);
	worker_conns_out(b, up, mt->nworkers);
	scalar_out(b, t, SC_CONNS_TOTAL);
	scalar_out(b, t, SC_SESSIONS);
	scalar_out(b, t, SC_AUTH_FAILURES);
	scalar_out(b, t, SC_UNAUTH_REFUSED);
	family(b, "qlockd_requests_total", "counter",
	    "Client requests by method, counted where the client is connected.");
	labelled_out(b, "qlockd_requests_total", "method", t->methods,
	    cmd_count(), cmd_name_at);
	scalar_out(b, t, SC_FORWARDED);
	scalar_out(b, t, SC_FORWARDS_PENDING);
	scalar_out(b, t, SC_RELAYED);
	scalar_out(b, t, SC_RETRIES);
	family(b, "qlockd_errors_total", "counter", "Error responses by code.");
	labelled_out(b, "qlockd_errors_total", "code", t->codes, STATS_CODES,
	    metrics_code_name);
	family(b, "qlockd_objects", "gauge", "Named objects by kind.");
	labelled_out(b, "qlockd_objects", "kind", t->kinds, OBJ_NKINDS,
	    kind_name_at);
	family(b, "qlockd_queue_depth", "gauge",
	    "Items in a queue (the deepest 1000 of each worker).");
	queues_out(b, "qlockd_queue_depth", snaps, n, 1);
	family(b, "qlockd_queue_waiters", "gauge",
	    "Requests parked on a queue (get, put or join).");
	queues_out(b, "qlockd_queue_waiters", snaps, n, 2);
	scalar_out(b, t, SC_QUEUES_UNLISTED);
	scalar_out(b, t, SC_WAITERS);
	scalar_out(b, t, SC_LOG_BYTES);
	scalar_out(b, t, SC_LOG_FSYNCS);
	family(b, "qlockd_log_fsync_seconds_total", "counter",
	    "Seconds spent in fdatasync on the logs.");
	evbuffer_add_printf(b, "qlockd_log_fsync_seconds_total %.6f\n",
	    t->fsync_secs);
	raft_out(b, snaps, n);

	for (i = 0; i < mt->nworkers; i++)
		msgpack_unpacked_destroy(&up[i]);
	free(up);
	free(snaps);
	free(t);
}

static void
snapshots_drop(struct metrics *mt)
{
	int	i;

	for (i = 0; i < mt->nworkers; i++) {
		free(mt->snaps[i].data);
		mt->snaps[i].data = NULL;
		mt->snaps[i].len = 0;
	}
}

/* The gather is over (all answered, or the time is up): answer every
 * scrape waiting for it. */
static void
metrics_finish(struct metrics *mt)
{
	struct evbuffer		*body = evbuffer_new();
	struct evhttp_request	*req;
	const unsigned char	*data;
	size_t			 len, i;

	if (body == NULL)
		fatalx("evbuffer_new failed");
	evtimer_del(mt->timeout_ev);
	metrics_render(mt, body);
	len = evbuffer_get_length(body);
	data = evbuffer_pullup(body, -1);
	for (i = 0; i < mt->nreqs; i++) {
		req = mt->reqs[i];
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", CONTENT_TYPE);
		evbuffer_add(evhttp_request_get_output_buffer(req), data, len);
		evhttp_send_reply(req, HTTP_OK, "OK", NULL);
	}
	mt->nreqs = 0;
	mt->tag = 0;
	snapshots_drop(mt);
	evbuffer_free(body);
}

static void
metrics_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct metrics	*mt = arg;
	int		 i;

	for (i = 0; i < mt->nworkers; i++)
		if (mt->owed[i])
			log_warnx("worker %d sent no metrics within %d s", i,
			    METRICS_TIMEOUT);
	metrics_finish(mt);
}

/* Ask every worker for a snapshot. */
static void
metrics_gather(struct metrics *mt)
{
	struct timeval	tv = { METRICS_TIMEOUT, 0 };

	mt->tag = ++mt->next_tag;
	memset(mt->owed, 0, (size_t)mt->nworkers);
	mt->nowed = mt->ask(mt->ask_arg, mt->tag, mt->owed);
	if (mt->nowed == 0) {
		metrics_finish(mt);
		return;
	}
	evtimer_add(mt->timeout_ev, &tv);
}

static void
metrics_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct metrics	*mt = arg;
	size_t		 i;

	for (i = 0; i < mt->nconns; i++) {
		if (mt->conns[i].evcon == evcon) {
			mt->conns[i] = mt->conns[--mt->nconns];
			return;
		}
	}
}

/* Remember a connection's socket, for metrics_forget. */
static void
metrics_track(struct metrics *mt, struct evhttp_connection *evcon)
{
	struct bufferevent	*bev;
	size_t			 i;

	if (evcon == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return;
	for (i = 0; i < mt->nconns && mt->conns[i].evcon != evcon; i++)
		;
	if (i == mt->nconns) {
		mt->conns = xrealloc(mt->conns, (mt->nconns + 1) *
		    sizeof(*mt->conns));
		mt->conns[mt->nconns++].evcon = evcon;
	}
	mt->conns[i].fd = bufferevent_getfd(bev);
	evhttp_connection_set_closecb(evcon, metrics_conn_close_cb, mt);
}

/* Every HTTP request: GET /metrics joins the gather, anything else 404. */
static void
metrics_http_cb(struct evhttp_request *req, void *arg)
{
	struct metrics	*mt = arg;
	const char	*path;

	metrics_track(mt, evhttp_request_get_connection(req));
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	mt->reqs = xrealloc(mt->reqs, (mt->nreqs + 1) * sizeof(*mt->reqs));
	mt->reqs[mt->nreqs++] = req;
	if (mt->tag == 0)
		metrics_gather(mt);
}

struct metrics *
metrics_new(struct event_base *base, int fd, int nworkers,
    const uint64_t *restarts, metrics_ask_fn ask, void *arg)
{
	struct metrics	*mt = xcalloc(1, sizeof(*mt));

	mt->fd = fd;
	mt->nworkers = nworkers;
	mt->restarts = restarts;
	mt->ask = ask;
	mt->ask_arg = arg;
	mt->owed = xcalloc((size_t)nworkers, 1);
	mt->snaps = xcalloc((size_t)nworkers, sizeof(*mt->snaps));
	mt->timeout_ev = evtimer_new(base, metrics_timeout_cb, mt);
	if ((mt->http = evhttp_new(base)) == NULL || mt->timeout_ev == NULL)
		fatalx("cannot set up the metrics HTTP server");
	evhttp_set_allowed_methods(mt->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(mt->http, 8192);
	evhttp_set_max_body_size(mt->http, 1024);
	evhttp_set_timeout(mt->http, 30);
	evhttp_set_gencb(mt->http, metrics_http_cb, mt);
	if (evhttp_accept_socket_with_handle(mt->http, fd) == NULL)
		fatalx("cannot serve metrics on socket %d", fd);
	return mt;
}

void
metrics_reply(struct metrics *mt, int id, int fd)
{
	struct qmsg_hdr	 hdr;
	uint8_t		*buf = xmalloc(QMSG_STATS_MAX);
	struct iovec	 iov[2] = { { &hdr, sizeof(hdr) },
			    { buf, QMSG_STATS_MAX } };
	struct msghdr	 msg;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	n = recvmsg(fd, &msg, 0);
	if (n < (ssize_t)sizeof(hdr) || (msg.msg_flags & MSG_TRUNC) ||
	    hdr.len != (size_t)n - sizeof(hdr)) {
		if (n != -1 || (errno != EAGAIN && errno != EINTR))
			log_warnx("worker %d sent a bad metrics message", id);
		free(buf);
		return;
	}
	/* A late answer to a gather already answered is dropped. */
	if (mt == NULL || mt->tag == 0 || hdr.tag != mt->tag || !mt->owed[id]) {
		free(buf);
		return;
	}
	mt->snaps[id].data = xrealloc(buf, hdr.len > 0 ? hdr.len : 1);
	mt->snaps[id].len = hdr.len;
	mt->owed[id] = 0;
	if (--mt->nowed == 0)
		metrics_finish(mt);
}

void
metrics_worker_gone(struct metrics *mt, int id)
{
	if (mt == NULL || mt->tag == 0 || !mt->owed[id])
		return;
	mt->owed[id] = 0;
	if (--mt->nowed == 0)
		metrics_finish(mt);
}

void
metrics_forget(struct metrics *mt)
{
	size_t	i;

	/* evhttp_free would shut the sockets down for the master too. */
	close(mt->fd);
	for (i = 0; i < mt->nconns; i++)
		if (mt->conns[i].fd != -1)
			close(mt->conns[i].fd);
}

void
metrics_free(struct metrics *mt)
{
	size_t	i;

	if (mt == NULL)
		return;
	for (i = 0; i < mt->nreqs; i++)
		evhttp_send_error(mt->reqs[i], HTTP_SERVUNAVAIL, NULL);
	evhttp_free(mt->http);		/* closes mt->fd and the connections */
	event_free(mt->timeout_ev);
	snapshots_drop(mt);
	free(mt->reqs);
	free(mt->conns);
	free(mt->owed);
	free(mt->snaps);
	free(mt);
}
