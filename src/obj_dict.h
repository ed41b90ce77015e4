/* obj_dict.h: Python's dict as a pure structure: keys in insertion order,
 * each a str, bin or integer kept as its shortest msgpack encoding (so
 * equal keys have equal bytes and keys of other types never meet), values
 * kept as the client's msgpack bytes, atomic integer updates. */
#ifndef OBJ_DICT_H
#define OBJ_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/queue.h>

#include "hmap.h"

struct dentry {
	struct hnode	 node;		/* in the dict, by key */
	TAILQ_ENTRY(dentry) order;	/* in the dict, oldest insertion first */
	char		*key;		/* its msgpack encoding (see above) */
	size_t		 keylen;
	uint8_t		*val;		/* one msgpack value, as received */
	size_t		 vallen;
};

TAILQ_HEAD(dentrylist, dentry);

struct dict {
	struct hmap	entries;
	struct dentrylist order;	/* insertion order (an update keeps
					   its place, as Python's) */
	size_t		bytes;		/* keys and values, for stats */
};

void	dict_init(struct dict *d);
/* Whether raw is a key: one str, bin or integer in its shortest msgpack
 * encoding (what every msgpack library writes). */
bool	dict_key_ok(const void *raw, size_t len);
/* The last inserted entry, or NULL (popitem). */
struct dentry *dict_last(struct dict *d);
void	dict_clear(struct dict *d);
struct dentry *dict_get(struct dict *d, const char *key, size_t klen);
void	dict_set(struct dict *d, const char *key, size_t klen, const void *val,
	    size_t vlen);
/* 0, or QLOCK_ENOKEY. */
int	dict_del(struct dict *d, const char *key, size_t klen);
size_t	dict_len(const struct dict *d);
/* Add delta to an integer value (an absent key counts as 0); QLOCK_ETYPE
 * if the value is not an integer, QLOCK_EVALUE on 64-bit overflow. */
int	dict_incr(struct dict *d, const char *key, size_t klen, int64_t delta,
	    int64_t *result);
/* Compare-and-set: expected NULL means "absent".  Values are equal when
 * both are integers of the same value or their bytes are the same. */
bool	dict_cas(struct dict *d, const char *key, size_t klen,
	    const void *expected, size_t elen, const void *val, size_t vlen);

#endif
