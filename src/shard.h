/* shard.h: which shard owns a name -- the rule the daemon places objects
 * by and routing clients (libqlock, the Python package) send requests by
 * (docs/PROTOCOL.md, "Shards and hash tags"). */
#ifndef SHARD_H
#define SHARD_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a: the stable hash that picks an object's shard. */
uint64_t hash_fnv1a(const void *p, size_t n);
/* The bytes of a name that pick its shard: with a hash tag (the text
 * inside the first "{...}", when not empty, as Redis Cluster) only the tag,
 * else the whole name. */
const char *shard_tag(const char *name, size_t len, size_t *taglen);
/* The shard (worker index) that owns a name (its hash tag's hash). */
unsigned shard_of(const char *name, size_t len, unsigned nshards);

/* Routing (docs/PROTOCOL.md): the address by which a client that reached
 * the daemon at address gets to a shard's own address bound (blen bytes,
 * as topology gives it): for a unix socket bound itself, for TCP the host
 * the client used with bound's port (the daemon may have bound a
 * wildcard).  NULL if bound is not of address's kind, or out of memory;
 * the caller frees it. */
char	*shard_direct_addr(const char *address, const char *bound,
	    size_t blen);
struct mp_reader;
/* The same for the first usable one of the n addresses (msgpack str) that
 * topology gives for a shard, read from r; NULL if none. */
char	*shard_direct_read(const char *address, struct mp_reader *r,
	    uint32_t n);

#endif
