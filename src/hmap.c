/* hmap.c: chained hash table that doubles when its load passes one. */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "util.h"

void
hmap_init(struct hmap *h)
{
	memset(h, 0, sizeof(*h));
}

void
hmap_free(struct hmap *h)
{
	free(h->buckets);
	hmap_init(h);
}

/* Mix FNV-1a's output so that the low bits used for buckets spread well. */
static uint64_t
hmap_hash(const void *key, size_t keylen)
{
	uint64_t	x = hash_fnv1a(key, keylen);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

struct hnode *
hmap_find(const struct hmap *h, const void *key, size_t keylen)
{
	struct hnode	*n;
	uint64_t	 hash;

	if (h->count == 0)
		return NULL;
	hash = hmap_hash(key, keylen);
	for (n = h->buckets[hash & (h->nbuckets - 1)]; n != NULL; n = n->next) {
		if (n->hash == hash && n->keylen == keylen &&
		    memcmp(n->key, key, keylen) == 0)
			return n;
	}
	return NULL;
}

/* Double the bucket array and rehash. */
static void
hmap_grow(struct hmap *h)
{
	size_t		 nb = h->nbuckets == 0 ? 16 : h->nbuckets * 2, i;
	struct hnode	**b = xcalloc(nb, sizeof(*b)), *n, *next;

	for (i = 0; i < h->nbuckets; i++) {
		for (n = h->buckets[i]; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = nb;
}

void
hmap_insert(struct hmap *h, struct hnode *n, const void *key, size_t keylen)
{
	struct hnode	**b;

	if (h->count >= h->nbuckets)
		hmap_grow(h);
	n->key = key;
	n->keylen = keylen;
	n->hash = hmap_hash(key, keylen);
	b = &h->buckets[n->hash & (h->nbuckets - 1)];
	n->next = *b;
	*b = n;
	h->count++;
}

void
hmap_remove(struct hmap *h, struct hnode *n)
{
	struct hnode	**pp;

	for (pp = &h->buckets[n->hash & (h->nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			h->count--;
			return;
		}
	}
}

/* First node at or after bucket i. */
static struct hnode *
hmap_scan(const struct hmap *h, size_t i)
{
	for (; i < h->nbuckets; i++) {
		if (h->buckets[i] != NULL)
			return h->buckets[i];
	}
	return NULL;
}

struct hnode *
hmap_first(const struct hmap *h)
{
	return h->count == 0 ? NULL : hmap_scan(h, 0);
}

struct hnode *
hmap_next(const struct hmap *h, const struct hnode *n)
{
	if (n->next != NULL)
		return n->next;
	return hmap_scan(h, (n->hash & (h->nbuckets - 1)) + 1);
}
