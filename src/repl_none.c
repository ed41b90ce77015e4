/* repl_none.c: a daemon built without libraft is a single node: no raft
 * group, every worker serves its shard (cluster_check refuses --peer). */
#include <string.h>

#include "repl.h"
#include "worker.h"

bool
repl_on(const struct worker *w)
{
	return false;
}

void
repl_get_info(const struct worker *w, struct repl_info *ri)
{
	memset(ri, 0, sizeof(*ri));
}

void
repl_pack_info(const struct worker *w, msgpack_packer *pk)
{
	msgpack_pack_nil(pk);
}

void
repl_start(struct worker *w)
{
}

void
repl_close(struct worker *w)
{
}

void
repl_stop(struct worker *w)
{
}

bool
repl_stopped(const struct worker *w)
{
	return true;
}

bool
repl_serving(const struct worker *w)
{
	return true;
}

void
repl_refuse(struct worker *w, const struct reqctx *ctx)
{
}

int
repl_leader(struct worker *w, char *buf, size_t len)
{
	return 0;
}

void
repl_flush(struct worker *w, struct store_buf *b)
{
}

void
repl_read(struct worker *w)
{
}

uint64_t
repl_hold_seq(const struct worker *w)
{
	return 0;
}

void
repl_peer_up(struct worker *w, int id)
{
}

void
repl_peer_leader(struct worker *w, int id, const uint8_t *p, size_t len)
{
}

void
repl_pack_addrs(struct worker *w, msgpack_packer *pk, int g)
{
}

void
repl_pack_topology(struct worker *w, msgpack_packer *pk)
{
}
