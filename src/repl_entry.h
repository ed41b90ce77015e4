/* repl_entry.h: a raft entry of a shard's group (src/repl.c): its
 * encoding, decoding and application to a replay state.  Pure: no raft,
 * no clock, no I/O, so that every replica fed the same entries holds the
 * same state (tests/check_repl_entry.c). */
#ifndef REPL_ENTRY_H
#define REPL_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "mp.h"
#include "store_int.h"

#define REPL_VERSION	1	/* first element of every entry */

enum repl_kind {
	REPL_RECS,	/* [1, "recs", node, term, record...]: a leader's
			   changes of one loop pass, as the log's payloads */
	REPL_EPOCH,	/* [1, "epoch", node, term, [address...], shards]:
			   node leads from here on; clients reach it there;
			   it runs that many shards (workers).  A worker
			   without addresses of its own (--worker-ports off)
			   adds its node's listeners: [1, "epoch", node,
			   term, [], [listener...], shards] (docs/HA.md) */
};

struct repl_entry {
	enum repl_kind	 kind;
	uint64_t	 node, term;
	uint32_t	 nrecs;		/* REPL_RECS: how many... */
	struct mp_reader recs;		/* ...and where they start */
	const uint8_t	*addrs;		/* REPL_EPOCH: a msgpack array, or
					   two (the node's listeners) */
	size_t		 addrs_len;
	uint64_t	 shards;	/* REPL_EPOCH: the leader's workers */
};

/* Append to sb the entry of the records in b (framed as in a log). */
void	repl_entry_recs(msgpack_sbuffer *sb, int node, uint64_t term,
	    const struct store_buf *b);
/* Append to sb an epoch entry; addrs is a msgpack array of strings, or
 * two (the worker's, then its node's listeners). */
void	repl_entry_epoch(msgpack_sbuffer *sb, int node, uint64_t term,
	    const uint8_t *addrs, size_t len, int shards);
/* How many msgpack values addrs holds: 1 (a worker's addresses) or 2
 * (and its node's listeners). */
uint32_t repl_entry_lists(const uint8_t *addrs, size_t len);
/* Decode the entry in buf (one value, then at most 7 zero bytes of
 * padding); -1 if it is not an entry of this version. */
int	repl_entry_read(const void *buf, size_t len, struct repl_entry *e);
/* Apply e to rp: its records, or for an epoch what the end of a restart's
 * replay does (taken items back to their queues).  -1 if a record does
 * not apply. */
int	repl_entry_apply(struct replay *rp, struct repl_entry *e);

#endif
