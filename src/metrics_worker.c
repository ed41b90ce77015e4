/* metrics_worker.c: the worker's half of the Prometheus metrics: the
 * snapshot of its counters, a msgpack map, sent to the master for each
 * scrape (see metrics.c). */
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
#include "repl.h"
#include "reply.h"
#include "session.h"
#include "status.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define METRICS_QUEUES	1000	/* most queues a worker lists */
#define QUEUE_ENTRY_MAX	32	/* packed size of a queue entry but its name */
#define SNAPSHOT_TAIL	64	/* room kept for the keys after the queues */

/* Deepest first. */
static int
queue_deeper(const void *a, const void *b)
{
	const struct object	*x = *(const struct object *const *)a;
	const struct object	*y = *(const struct object *const *)b;

	if (x->u.queue.count == y->u.queue.count)
		return 0;
	return x->u.queue.count > y->u.queue.count ? -1 : 1;
}

/* Keep the METRICS_QUEUES deepest queues seen: heap[0..*n) is a min-heap
 * on depth, so the shallowest kept is the one a deeper queue replaces. */
static void
deepest_add(struct object **heap, size_t *n, struct object *o)
{
	size_t	depth = o->u.queue.count, i, child;

	if (*n < METRICS_QUEUES) {
		for (i = (*n)++; i > 0 &&
		    heap[(i - 1) / 2]->u.queue.count > depth; i = (i - 1) / 2)
			heap[i] = heap[(i - 1) / 2];
		heap[i] = o;
		return;
	}
	if (depth <= heap[0]->u.queue.count)
		return;
	for (i = 0; (child = 2 * i + 1) < *n; i = child) {
		if (child + 1 < *n && heap[child + 1]->u.queue.count <
		    heap[child]->u.queue.count)
			child++;
		if (heap[child]->u.queue.count >= depth)
			break;
		heap[i] = heap[child];
	}
	heap[i] = o;
}

/* The wire name of error counter slot i, or NULL for an unused slot. */
const char *
metrics_code_name(int slot)
{
	return slot == STATS_NOMETHOD ? "NoMethod" : status_name(-slot);
}

/* Pack the per-method, per-code and per-kind counters, each a map of the
 * non-zero ones. */
static void
pack_labelled(struct worker *w, msgpack_packer *pk)
{
	uint32_t	n;
	int		i;

	for (n = 0, i = 0; i < cmd_count(); i++)
		n += w->stats.by_method[i] != 0;
	pack_cstr(pk, "methods");
	msgpack_pack_map(pk, n);
	for (i = 0; i < cmd_count(); i++) {
		if (w->stats.by_method[i] == 0)
			continue;
		pack_cstr(pk, cmd_name_at(i));
		msgpack_pack_uint64(pk, w->stats.by_method[i]);
	}
	for (n = 0, i = 0; i < STATS_CODES; i++)
		n += w->stats.by_code[i] != 0 && metrics_code_name(i) != NULL;
	pack_cstr(pk, "codes");
	msgpack_pack_map(pk, n);
	for (i = 0; i < STATS_CODES; i++) {
		if (w->stats.by_code[i] == 0 || metrics_code_name(i) == NULL)
			continue;
		pack_cstr(pk, metrics_code_name(i));
		msgpack_pack_uint64(pk, w->stats.by_code[i]);
	}
	pack_cstr(pk, "objects");
	msgpack_pack_map(pk, OBJ_NKINDS);
	for (i = 0; i < OBJ_NKINDS; i++) {
		pack_cstr(pk, obj_kind_name((enum obj_kind)i));
		msgpack_pack_uint64(pk, w->reg.count[i]);
	}
}

/*
 * The snapshot: a map of counters (connections, connections_total,
 * sessions, auth_failures, requests, forwarded, errors, waiters,
 * log_bytes, log_fsyncs, forwards_pending, unauth_refused;
 * log_fsync_seconds a float),
 * maps methods / codes / objects of name -> count, queues: [[name, depth,
 * waiters]...] deepest first, queues_unlisted: the queues left out (beyond
 * METRICS_QUEUES or the record size), and in a cluster raft: the group's
 * state (repl_pack_info).
 */
void
metrics_worker_reply(struct worker *w, uint64_t tag)
{
	struct qmsg_hdr	 hdr = { QMSG_STATS_REPLY, 0, tag, 0 };
	struct iovec	 iov[2];
	struct msghdr	 msg;
	msgpack_sbuffer	 sb, qsb;
	msgpack_packer	 pk, qpk;
	struct object	**deep, *o;
	struct hnode	*n;
	uint64_t	 waiters = 0, sessions = 0, nqueues = 0, listed = 0;
	size_t		 ndeep = 0, limit = QMSG_STATS_MAX, i;
	int		 sndbuf;
	socklen_t	 slen = sizeof(sndbuf);

	/* The record must fit the control socket's send buffer. */
	if (getsockopt(w->ctlfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &slen) == 0 &&
	    sndbuf > 4096 && (size_t)sndbuf - 4096 < limit)
		limit = (size_t)sndbuf - 4096;

	deep = xcalloc(METRICS_QUEUES, sizeof(*deep));
	for (n = hmap_first(&w->reg.byname); n != NULL;
	    n = hmap_next(&w->reg.byname, n)) {
		o = hmap_entry(n, struct object, node);
		waiters += object_waiters(o);
		if (o->kind == OBJ_QUEUE) {
			nqueues++;
			deepest_add(deep, &ndeep, o);
		}
	}
	for (n = hmap_first(&w->conns); n != NULL; n = hmap_next(&w->conns, n))
		sessions += hmap_entry(n, struct conn, node)->state == CONN_READY;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 21 + (repl_on(w) ? 1 : 0));
	pack_cstr(&pk, "connections");	msgpack_pack_uint64(&pk, w->nconns);
	pack_cstr(&pk, "connections_total");
	msgpack_pack_uint64(&pk, w->stats.conns_total);
	pack_cstr(&pk, "sessions");	msgpack_pack_uint64(&pk, sessions);
	pack_cstr(&pk, "auth_failures"); msgpack_pack_uint64(&pk, w->stats.auth_failures);
	pack_cstr(&pk, "unauth_refused");
	msgpack_pack_uint64(&pk, w->stats.unauth_refused);
	pack_cstr(&pk, "requests");	msgpack_pack_uint64(&pk, w->stats.requests);
	pack_cstr(&pk, "forwarded");	msgpack_pack_uint64(&pk, w->stats.forwarded);
	pack_cstr(&pk, "relayed");	msgpack_pack_uint64(&pk, w->stats.relayed);
	pack_cstr(&pk, "sessions_detached");
	msgpack_pack_uint64(&pk, session_detached_count(w));
	pack_cstr(&pk, "retries_answered");
	msgpack_pack_uint64(&pk, w->stats.retries_answered);
	pack_cstr(&pk, "forwards_pending"); msgpack_pack_uint64(&pk, w->fwds.count);
	pack_cstr(&pk, "errors");	msgpack_pack_uint64(&pk, w->stats.errors);
	pack_cstr(&pk, "waiters");	msgpack_pack_uint64(&pk, waiters);
	pack_cstr(&pk, "log_bytes");
	msgpack_pack_uint64(&pk, w->store != NULL ? w->store->end : 0);
	pack_cstr(&pk, "log_fsyncs");
	msgpack_pack_uint64(&pk, w->store != NULL ? w->store->fsyncs : 0);
	pack_cstr(&pk, "log_fsync_seconds");
	msgpack_pack_double(&pk, w->store != NULL ? w->store->fsync_secs : 0);
	pack_labelled(w, &pk);
	if (repl_on(w)) {
		pack_cstr(&pk, "raft");
		repl_pack_info(w, &pk);
	}

	/* The deepest queues, as many as fit; the rest are only counted. */
	qsort(deep, ndeep, sizeof(*deep), queue_deeper);
	msgpack_sbuffer_init(&qsb);
	msgpack_packer_init(&qpk, &qsb, msgpack_sbuffer_write);
	for (i = 0; i < ndeep; i++) {
		o = deep[i];
		if (sb.size + qsb.size + o->namelen + QUEUE_ENTRY_MAX +
		    SNAPSHOT_TAIL > limit)
			continue;
		msgpack_pack_array(&qpk, 3);
		pack_str(&qpk, o->name, o->namelen);
		msgpack_pack_uint64(&qpk, o->u.queue.count);
		msgpack_pack_uint64(&qpk, object_waiters(o));
		listed++;
	}
	pack_cstr(&pk, "queues");
	msgpack_pack_array(&pk, (uint32_t)listed);
	pack_raw(&pk, qsb.data, qsb.size);
	pack_cstr(&pk, "queues_unlisted");
	msgpack_pack_uint64(&pk, nqueues - listed);
	msgpack_sbuffer_destroy(&qsb);
	free(deep);

	hdr.len = (uint32_t)sb.size;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = sb.data;
	iov[1].iov_len = sb.size;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (sendmsg(w->ctlfd, &msg, MSG_NOSIGNAL) == -1)
		log_warn("cannot send metrics to the master");
	msgpack_sbuffer_destroy(&sb);
}
