/* repl_entry.c: the entries of a shard's raft group (repl_entry.h). */
#include <string.h>

#include "repl_entry.h"
#include "reply.h"

/* [1, kind, node, term, + extra more elements] */
static void
entry_head(msgpack_packer *pk, const char *kind, int node, uint64_t term,
    uint32_t extra)
{
	msgpack_pack_array(pk, 4 + extra);
	msgpack_pack_uint8(pk, REPL_VERSION);
	pack_cstr(pk, kind);
	msgpack_pack_uint32(pk, (uint32_t)node);
	msgpack_pack_uint64(pk, term);
}

void
repl_entry_recs(msgpack_sbuffer *sb, int node, uint64_t term,
    const struct store_buf *b)
{
	msgpack_packer	pk;
	size_t		off, len;
	uint32_t	n = 0;

	for (off = 0; off < b->len; off += REC_HDR + len, n++)
		len = get_le32(b->p + off + 4);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	entry_head(&pk, "recs", node, term, n);
	for (off = 0; off < b->len; off += REC_HDR + len) {
		len = get_le32(b->p + off + 4);
		msgpack_sbuffer_write(sb, (const char *)b->p + off + REC_HDR,
		    len);
	}
}

uint32_t
repl_entry_lists(const uint8_t *addrs, size_t len)
{
	struct mp_reader rd;
	const uint8_t	*raw;
	size_t		 rawlen;
	uint32_t	 n = 0;

	mp_reader_init(&rd, addrs, len);
	while (rd.p < rd.end && mp_skip(&rd, &raw, &rawlen) == 0)
		n++;
	return n;
}

void
repl_entry_epoch(msgpack_sbuffer *sb, int node, uint64_t term,
    const uint8_t *addrs, size_t len, int shards)
{
	msgpack_packer	pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	entry_head(&pk, "epoch", node, term, 1 + repl_entry_lists(addrs, len));
	msgpack_sbuffer_write(sb, (const char *)addrs, len);
	msgpack_pack_uint32(&pk, (uint32_t)shards);
}

int
repl_entry_read(const void *buf, size_t len, struct repl_entry *e)
{
	struct mp_reader rd;
	const uint8_t	*raw;
	const char	*kind;
	size_t		 rawlen, i;
	uint32_t	 n, klen;
	uint64_t	 version;

	memset(e, 0, sizeof(*e));
	mp_reader_init(&rd, buf, len);
	if (mp_skip(&rd, &raw, &rawlen) == -1 || mp_check(raw, rawlen) == -1 ||
	    len - rawlen >= 8)
		return -1;
	for (i = rawlen; i < len; i++)
		if (((const uint8_t *)buf)[i] != 0)
			return -1;
	mp_reader_init(&rd, raw, rawlen);
	if (mp_read_array(&rd, &n) == -1 || n < 4 ||
	    mp_read_uint(&rd, &version) == -1 || version != REPL_VERSION ||
	    mp_read_str(&rd, &kind, &klen) == -1 ||
	    mp_read_uint(&rd, &e->node) == -1 || mp_read_uint(&rd, &e->term) == -1)
		return -1;
	if (klen == 4 && memcmp(kind, "recs", 4) == 0) {
		e->kind = REPL_RECS;
		e->nrecs = n - 4;
		e->recs = rd;
		return 0;
	}
	if (klen != 5 || memcmp(kind, "epoch", 5) != 0 || (n != 6 && n != 7))
		return -1;
	/* The worker's addresses, and with 7 elements the node's: one span,
	 * as repl_entry_epoch takes them. */
	e->addrs = rd.p;
	for (i = 6; i <= n; i++)
		if (mp_peek(&rd) != MP_ARRAY || mp_skip(&rd, &raw, &rawlen) == -1)
			return -1;
	e->addrs_len = (size_t)(rd.p - e->addrs);
	if (mp_read_uint(&rd, &e->shards) == -1)
		return -1;
	e->kind = REPL_EPOCH;
	return 0;
}

int
repl_entry_apply(struct replay *rp, struct repl_entry *e)
{
	const uint8_t	*raw;
	size_t		 len;
	uint32_t	 i;

	if (e->kind == REPL_EPOCH) {
		replay_putback(rp, false);	/* keyed sessions' stay */
		return 0;
	}
	for (i = 0; i < e->nrecs; i++)
		if (mp_skip(&e->recs, &raw, &len) == -1 ||
		    replay_record(rp, raw, len) == -1)
			return -1;
	return 0;
}
