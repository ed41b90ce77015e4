/* mp.c: msgpack validation and field reading, pure and bounds-checked. */
#include <string.h>

#include "mp.h"

/* Big-endian loads from a pointer known to have enough bytes. */
static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/*
 * Describe the object starting at p: its header size, its payload size (raw
 * bytes that follow the header) and how many child objects follow it.
 * Returns -1 when the header itself is truncated or reserved.
 */
static int
mp_head(const uint8_t *p, const uint8_t *end, size_t *hdr, uint64_t *payload,
    uint64_t *children)
{
	size_t		avail = (size_t)(end - p);
	uint8_t		b;

	if (avail < 1)
		return -1;
	b = p[0];
	*hdr = 1;
	*payload = 0;
	*children = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;
	if (b >= 0x80 && b <= 0x8f) {
		*children = 2u * (b & 0x0f);
		return 0;
	}
	if (b >= 0x90 && b <= 0x9f) {
		*children = b & 0x0f;
		return 0;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		*payload = b & 0x1f;
		return 0;
	}
	switch (b) {
	case 0xcc: case 0xd0: *payload = 1; return 0;
	case 0xcd: case 0xd1: *payload = 2; return 0;
	case 0xca: case 0xce: case 0xd2: *payload = 4; return 0;
	case 0xcb: case 0xcf: case 0xd3: *payload = 8; return 0;
	case 0xd4: *payload = 2; return 0;		/* fixext 1: type + 1 */
	case 0xd5: *payload = 3; return 0;
	case 0xd6: *payload = 5; return 0;
	case 0xd7: *payload = 9; return 0;
	case 0xd8: *payload = 17; return 0;
	case 0xc4: case 0xd9:				/* bin8, str8 */
		if (avail < 2)
			return -1;
		*hdr = 2;
		*payload = p[1];
		return 0;
	case 0xc5: case 0xda:
		if (avail < 3)
			return -1;
		*hdr = 3;
		*payload = be16(p + 1);
		return 0;
	case 0xc6: case 0xdb:
		if (avail < 5)
			return -1;
		*hdr = 5;
		*payload = be32(p + 1);
		return 0;
	case 0xc7:					/* ext8: len, type */
		if (avail < 2)
			return -1;
		*hdr = 2;
		*payload = (uint64_t)p[1] + 1;
		return 0;
	case 0xc8:
		if (avail < 3)
			return -1;
		*hdr = 3;
		*payload = (uint64_t)be16(p + 1) + 1;
		return 0;
	case 0xc9:
		if (avail < 5)
			return -1;
		*hdr = 5;
		*payload = (uint64_t)be32(p + 1) + 1;
		return 0;
	case 0xdc:
		if (avail < 3)
			return -1;
		*hdr = 3;
		*children = be16(p + 1);
		return 0;
	case 0xdd:
		if (avail < 5)
			return -1;
		*hdr = 5;
		*children = be32(p + 1);
		return 0;
	case 0xde:
		if (avail < 3)
			return -1;
		*hdr = 3;
		*children = 2u * be16(p + 1);
		return 0;
	case 0xdf:
		if (avail < 5)
			return -1;
		*hdr = 5;
		*children = 2u * (uint64_t)be32(p + 1);
		return 0;
	}
	return -1;	/* 0xc1: never used */
}

/*
 * Walk one object from *pp without recursion: "pending" is the number of
 * objects still owed, and it may never exceed the bytes left, since every
 * object takes at least one byte.  With maxdepth >= 0, left[d] counts the
 * objects still owed inside the container open at depth d, and opening a
 * container deeper than maxdepth stops the walk with MP_DEEP.
 */
static int
mp_walk(const uint8_t **pp, const uint8_t *end, int maxdepth)
{
	const uint8_t	*p = *pp;
	size_t		 hdr;
	uint64_t	 payload, children, pending = 1;
	uint64_t	 left[MP_MAX_DEPTH + 1];
	int		 depth = 0;
	bool		 container;

	if (maxdepth > MP_MAX_DEPTH)
		maxdepth = MP_MAX_DEPTH;
	left[0] = 1;
	while (pending > 0) {
		if (pending > (uint64_t)(end - p))
			return -1;
		if (mp_head(p, end, &hdr, &payload, &children) == -1)
			return -1;
		if (hdr + payload > (uint64_t)(end - p))
			return -1;
		container = (*p >= 0x80 && *p <= 0x9f) ||
		    (*p >= 0xdc && *p <= 0xdf);
		p += hdr + payload;
		pending = pending - 1 + children;
		if (maxdepth < 0)
			continue;
		left[depth]--;
		if (container && depth == maxdepth)
			return MP_DEEP;		/* an empty one counts too */
		if (children > 0)
			left[++depth] = children;
		while (depth > 0 && left[depth] == 0)
			depth--;		/* containers just closed */
	}
	*pp = p;
	return 0;
}

int
mp_check(const void *buf, size_t len)
{
	return mp_check_depth(buf, len, -1);
}

int
mp_check_depth(const void *buf, size_t len, int maxdepth)
{
	const uint8_t	*p = buf, *end = p + len;
	int		 rc;

	if ((rc = mp_walk(&p, end, maxdepth)) != 0)
		return rc;
	return p == end ? 0 : -1;
}

void
mp_reader_init(struct mp_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
}

enum mp_type
mp_peek(const struct mp_reader *r)
{
	uint8_t	b;

	if (r->p >= r->end)
		return MP_NONE;
	b = r->p[0];
	if (b <= 0x7f || (b >= 0xcc && b <= 0xcf))
		return MP_UINT;
	if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
		return MP_INT;
	if (b <= 0x8f || b == 0xde || b == 0xdf)
		return MP_MAP;
	if (b <= 0x9f || b == 0xdc || b == 0xdd)
		return MP_ARRAY;
	if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
		return MP_STR;
	switch (b) {
	case 0xc0: return MP_NIL;
	case 0xc2: case 0xc3: return MP_BOOL;
	case 0xc4: case 0xc5: case 0xc6: return MP_BIN;
	case 0xca: case 0xcb: return MP_FLOAT;
	case 0xc7: case 0xc8: case 0xc9:
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return MP_EXT;
	}
	return MP_NONE;
}

int
mp_read_nil(struct mp_reader *r)
{
	if (mp_peek(r) != MP_NIL)
		return -1;
	r->p++;
	return 0;
}

int
mp_read_bool(struct mp_reader *r, bool *v)
{
	if (mp_peek(r) != MP_BOOL)
		return -1;
	*v = r->p[0] == 0xc3;
	r->p++;
	return 0;
}

/* Read any integer as a sign flag and a 64-bit magnitude pattern. */
static int
mp_read_anyint(struct mp_reader *r, bool *neg, uint64_t *u)
{
	size_t		avail = (size_t)(r->end - r->p);
	uint8_t		b;
	size_t		need;

	if (avail < 1)
		return -1;
	b = r->p[0];
	if (b <= 0x7f) {
		*neg = false;
		*u = b;
		r->p++;
		return 0;
	}
	if (b >= 0xe0) {
		*neg = true;
		*u = (uint64_t)(int64_t)(int8_t)b;
		r->p++;
		return 0;
	}
	switch (b) {
	case 0xcc: case 0xd0: need = 1; break;
	case 0xcd: case 0xd1: need = 2; break;
	case 0xce: case 0xd2: need = 4; break;
	case 0xcf: case 0xd3: need = 8; break;
	default: return -1;
	}
	if (avail < 1 + need)
		return -1;
	switch (b) {
	case 0xcc: *u = r->p[1]; break;
	case 0xcd: *u = be16(r->p + 1); break;
	case 0xce: *u = be32(r->p + 1); break;
	case 0xcf: *u = be64(r->p + 1); break;
	case 0xd0: *u = (uint64_t)(int64_t)(int8_t)r->p[1]; break;
	case 0xd1: *u = (uint64_t)(int64_t)(int16_t)be16(r->p + 1); break;
	case 0xd2: *u = (uint64_t)(int64_t)(int32_t)be32(r->p + 1); break;
	case 0xd3: *u = be64(r->p + 1); break;
	}
	*neg = b >= 0xd0 && (int64_t)*u < 0;
	r->p += 1 + need;
	return 0;
}

int
mp_read_int(struct mp_reader *r, int64_t *v)
{
	const uint8_t	*save = r->p;
	bool		 neg;
	uint64_t	 u;

	if (mp_read_anyint(r, &neg, &u) == -1)
		return -1;
	if (!neg && u > INT64_MAX) {
		r->p = save;
		return -1;
	}
	*v = (int64_t)u;
	return 0;
}

int
mp_read_uint(struct mp_reader *r, uint64_t *v)
{
	const uint8_t	*save = r->p;
	bool		 neg;

	if (mp_read_anyint(r, &neg, v) == -1)
		return -1;
	if (neg) {
		r->p = save;
		return -1;
	}
	return 0;
}

int
mp_read_number(struct mp_reader *r, double *v)
{
	size_t	avail = (size_t)(r->end - r->p);
	int64_t	i;
	uint64_t u;

	if (avail >= 5 && r->p[0] == 0xca) {
		uint32_t bits = be32(r->p + 1);
		float	 f;

		memcpy(&f, &bits, sizeof(f));
		*v = f;
		r->p += 5;
		return 0;
	}
	if (avail >= 9 && r->p[0] == 0xcb) {
		uint64_t bits = be64(r->p + 1);

		memcpy(v, &bits, sizeof(*v));
		r->p += 9;
		return 0;
	}
	if (mp_read_int(r, &i) == 0) {
		*v = (double)i;
		return 0;
	}
	if (mp_read_uint(r, &u) == 0) {
		*v = (double)u;
		return 0;
	}
	return -1;
}

/* Read a str or bin header whose type is already known to match. */
static int
mp_read_blob(struct mp_reader *r, const void **s, uint32_t *len)
{
	size_t		hdr;
	uint64_t	payload, children;

	if (mp_head(r->p, r->end, &hdr, &payload, &children) == -1)
		return -1;
	if (hdr + payload > (uint64_t)(r->end - r->p))
		return -1;
	*s = r->p + hdr;
	*len = (uint32_t)payload;
	r->p += hdr + payload;
	return 0;
}

int
mp_read_str(struct mp_reader *r, const char **s, uint32_t *len)
{
	const void	*v;

	if (mp_peek(r) != MP_STR || mp_read_blob(r, &v, len) == -1)
		return -1;
	*s = v;
	return 0;
}

int
mp_read_bytes(struct mp_reader *r, const void **s, uint32_t *len)
{
	enum mp_type	t = mp_peek(r);

	if (t != MP_STR && t != MP_BIN)
		return -1;
	return mp_read_blob(r, s, len);
}

/* Read an array or map header, returning its child count. */
static int
mp_read_container(struct mp_reader *r, enum mp_type want, uint32_t *n)
{
	size_t		hdr;
	uint64_t	payload, children;

	if (mp_peek(r) != want ||
	    mp_head(r->p, r->end, &hdr, &payload, &children) == -1)
		return -1;
	*n = (uint32_t)(want == MP_MAP ? children / 2 : children);
	r->p += hdr;
	return 0;
}

int
mp_read_array(struct mp_reader *r, uint32_t *n)
{
	return mp_read_container(r, MP_ARRAY, n);
}

int
mp_read_map(struct mp_reader *r, uint32_t *n)
{
	return mp_read_container(r, MP_MAP, n);
}

int
mp_skip(struct mp_reader *r, const uint8_t **start, size_t *len)
{
	const uint8_t	*p = r->p;

	if (mp_walk(&p, r->end, -1) != 0)
		return -1;
	if (start != NULL)
		*start = r->p;
	if (len != NULL)
		*len = (size_t)(p - r->p);
	r->p = p;
	return 0;
}

/* Store v big-endian in n bytes after a type byte. */
static size_t
mp_put_be(uint8_t *out, uint8_t type, uint64_t v, size_t n)
{
	size_t	i;

	out[0] = type;
	for (i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return n + 1;
}

size_t
mp_write_int(uint8_t out[9], int64_t v)
{
	if (v >= 0) {
		if (v <= 0x7f) {
			out[0] = (uint8_t)v;
			return 1;
		}
		if (v <= UINT8_MAX)
			return mp_put_be(out, 0xcc, (uint64_t)v, 1);
		if (v <= UINT16_MAX)
			return mp_put_be(out, 0xcd, (uint64_t)v, 2);
		if (v <= UINT32_MAX)
			return mp_put_be(out, 0xce, (uint64_t)v, 4);
		return mp_put_be(out, 0xcf, (uint64_t)v, 8);
	}
	if (v >= -32) {
		out[0] = (uint8_t)(int8_t)v;
		return 1;
	}
	if (v >= INT8_MIN)
		return mp_put_be(out, 0xd0, (uint64_t)v, 1);
	if (v >= INT16_MIN)
		return mp_put_be(out, 0xd1, (uint64_t)v, 2);
	if (v >= INT32_MIN)
		return mp_put_be(out, 0xd2, (uint64_t)v, 4);
	return mp_put_be(out, 0xd3, (uint64_t)v, 8);
}

bool
mp_is_int(const void *raw, size_t len, int64_t *v)
{
	struct mp_reader	r;

	mp_reader_init(&r, raw, len);
	return mp_read_int(&r, v) == 0 && r.p == r.end;
}
