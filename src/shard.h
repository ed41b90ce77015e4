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

#endif
