/* fuzzutil.h: what the log and request fuzz targets share: a shard's
 * state in a canonical form, to compare live state with replayed state. */
#ifndef FUZZUTIL_H
#define FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

struct registry;

/* The snapshot records of reg, fencing tokens left out, sorted: equal for
 * equal states whatever the order objects were made in.  Malloc'ed into
 * *out, *outlen bytes. */
void	fuzz_state(struct registry *reg, uint8_t **out, size_t *outlen);
/* The log a snapshot of reg writes (header and records, in its order),
 * malloc'ed, its length in *len. */
uint8_t	*fuzz_snapshot(struct registry *reg, size_t *len);
/* Wrap payload as one log record (header, CRC) at the end of buf. */
void	fuzz_record(uint8_t **buf, size_t *len, const uint8_t *payload,
	    size_t plen);
/* Remove a scratch directory and everything below it. */
void	fuzz_rmtree(const char *path);

#endif
