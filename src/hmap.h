/* hmap.h: an intrusive chained hash table keyed by bytes. */
#ifndef HMAP_H
#define HMAP_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in each element; key points into the element itself. */
struct hnode {
	struct hnode	*next;		/* chain in the bucket */
	uint64_t	 hash;		/* hash of the key, kept for resizing */
	const void	*key;		/* the element's key bytes */
	size_t		 keylen;
};

struct hmap {
	struct hnode	**buckets;	/* nbuckets chains */
	size_t		  nbuckets;	/* power of two, or 0 before first insert */
	size_t		  count;	/* elements in the table */
};

/* The element containing a node. */
#define hmap_entry(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

void	 hmap_init(struct hmap *h);
/* Free the bucket array; the elements are the caller's. */
void	 hmap_free(struct hmap *h);
struct hnode *hmap_find(const struct hmap *h, const void *key, size_t keylen);
/* Insert a node whose key is set and not present yet. */
void	 hmap_insert(struct hmap *h, struct hnode *n, const void *key, size_t keylen);
void	 hmap_remove(struct hmap *h, struct hnode *n);
/* Iterate: first, then next(n) until NULL; removing the current node is
 * allowed if next was taken before. */
struct hnode *hmap_first(const struct hmap *h);
struct hnode *hmap_next(const struct hmap *h, const struct hnode *n);

#endif
