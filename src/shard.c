/* shard.c: the name -> shard rule (shard.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"
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

char *
shard_direct_addr(const char *address, const char *bound, size_t blen)
{
	const char	*port, *host_end;
	bool		 isunix = strncmp(address, "unix:", 5) == 0;
	char		*out;
	size_t		 hlen;

	if ((blen >= 5 && memcmp(bound, "unix:", 5) == 0) != isunix)
		return NULL;
	if (isunix)
		hlen = 0, port = bound;
	else {
		if ((port = memrchr(bound, ':', blen)) == NULL ||
		    (host_end = strrchr(address, ':')) == NULL)
			return NULL;
		hlen = (size_t)(host_end - address);
	}
	blen -= (size_t)(port - bound);
	if ((out = malloc(hlen + blen + 1)) == NULL)
		return NULL;
	memcpy(out, address, hlen);
	memcpy(out + hlen, port, blen);
	out[hlen + blen] = '\0';
	return out;
}

char *
shard_direct_read(const char *address, struct mp_reader *r, uint32_t n)
{
	const char	*a;
	uint32_t	 alen, i;
	char		*out = NULL;

	for (i = 0; i < n; i++) {
		if (mp_read_str(r, &a, &alen) == -1) {
			free(out);
			return NULL;
		}
		if (out == NULL)
			out = shard_direct_addr(address, a, alen);
	}
	return out;
}
