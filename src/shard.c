/* shard.c: the name -> shard rule (shard.h). */
#include <string.h>

#include "shard.h"

uint64_t
hash_fnv1a(const void *p, size_t n)
{
	const uint8_t	*b = p;
	uint64_t	 h = 0xcbf29ce484222325ULL;

	while (n-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

const char *
shard_tag(const char *name, size_t len, size_t *taglen)
{
	const char	*open, *close;

	*taglen = len;
	if ((open = memchr(name, '{', len)) == NULL)
		return name;
	open++;
	close = memchr(open, '}', len - (size_t)(open - name));
	if (close == NULL || close == open)
		return name;		/* no '}', or "{}": the whole name */
	*taglen = (size_t)(close - open);
	return open;
}

unsigned
shard_of(const char *name, size_t len, unsigned nshards)
{
	const char	*tag;
	size_t		 taglen;

	if (nshards <= 1)
		return 0;
	tag = shard_tag(name, len, &taglen);
	return (unsigned)(hash_fnv1a(tag, taglen) % nshards);
}
