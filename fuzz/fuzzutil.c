/* fuzzutil.c: canonical shard state and log records for fuzz targets. */
#include <sys/mman.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "mp.h"
#include "store_int.h"
#include "util.h"
#include "fuzzutil.h"

/* One record's payload inside a snapshot. */
struct rec {
	const uint8_t	*p;
	size_t		 len;
};

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec	*x = a, *y = b;
	int			 c;

	c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

uint8_t *
fuzz_snapshot(struct registry *reg, size_t *len)
{
	uint8_t	*snap;
	int64_t	 size;
	int	 fd;

	if ((fd = memfd_create("fuzz-snapshot", 0)) == -1 ||
	    (size = snapshot_fd(fd, reg, 0)) < HDR_LEN)
		abort();
	snap = xmalloc((size_t)size);
	if (pread(fd, snap, (size_t)size, 0) != size)
		abort();
	close(fd);
	*len = (size_t)size;
	return snap;
}

void
fuzz_state(struct registry *reg, uint8_t **out, size_t *outlen)
{
	struct rec		*v = NULL;
	struct mp_reader	 r;
	uint8_t			*snap;
	size_t			 n = 0, cap = 0, off, len, i, total = 0, size;
	uint64_t		 type;
	uint32_t		 nf;

	snap = fuzz_snapshot(reg, &size);
	for (off = HDR_LEN; off < size; off += REC_HDR + len) {
		len = get_le32(snap + off + 4);
		if (get_le32(snap + off) != REC_MAGIC ||
		    len > size - off - REC_HDR)
			abort();	/* a snapshot is whole records */
		mp_reader_init(&r, snap + off + REC_HDR, len);
		if (mp_read_array(&r, &nf) == -1 || mp_read_uint(&r, &type) == -1)
			abort();
		if (type == R_TOKENS)
			continue;
		if (n == cap)
			v = xrealloc(v, (cap = cap * 2 + 16) * sizeof(*v));
		v[n].p = snap + off + REC_HDR;
		v[n++].len = len;
		total += len + 4;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), rec_cmp);
	*out = xmalloc(total + 1);
	*outlen = 0;
	for (i = 0; i < n; i++) {
		put_le32(*out + *outlen, (uint32_t)v[i].len);
		memcpy(*out + *outlen + 4, v[i].p, v[i].len);
		*outlen += 4 + v[i].len;
	}
	free(v);
	free(snap);
}

void
fuzz_record(uint8_t **buf, size_t *len, const uint8_t *payload, size_t plen)
{
	uint8_t	*p;

	*buf = xrealloc(*buf, *len + REC_HDR + plen);
	p = *buf + *len;
	put_le32(p, REC_MAGIC);
	put_le32(p + 4, (uint32_t)plen);
	put_le32(p + 8, (uint32_t)crc32(0, payload, (uInt)plen));
	memcpy(p + REC_HDR, payload, plen);
	*len += REC_HDR + plen;
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void
fuzz_rmtree(const char *path)
{
	(void)nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
