/* metrics_raft.c: the cluster's metric families, from the raft map of
 * each worker's snapshot (term, leader, indexes, role, the transport's
 * handshakes and bad records, what a leader knows of its peers). */
#include <inttypes.h>
#include <stddef.h>

#include "metrics_int.h"

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
void
metrics_raft_out(struct evbuffer *b, const msgpack_object *snaps,
    int nsnaps)
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
	family(b, "qlockd_raft_bad_records_total", "counter", "Raft "
	    "connections of the shard closed after the handshake for a record "
	    "not authentic (tampered, injected, replayed, cut) or too long.");
	for (s = 0; s < nsnaps; s++) {
		if ((tr = map_get(map_get(&snaps[s], "raft"),
		    "transport")) == NULL)
			continue;
		evbuffer_add_printf(b, "qlockd_raft_bad_records_total{shard=\"%"
		    PRIu64 "\"} %" PRIu64 "\n",
		    map_uint(map_get(&snaps[s], "raft"), "shard"),
		    map_uint(tr, "bad_record"));
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
