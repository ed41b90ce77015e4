/* fuzz_mp.c: libFuzzer target for msgpack validation (mp_check) and the
 * readers: what mp_check accepts, msgpack-c decodes whole, mp_skip spans
 * exactly, and every typed reader walks without reading past the end. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "mp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read the next object with whichever typed reader fits its type. */
static int
read_one(struct mp_reader *r)
{
	const uint8_t	*raw;
	const char	*s;
	const void	*b;
	size_t		 rawlen;
	uint32_t	 n, len;
	uint64_t	 u;
	int64_t		 i;
	double		 d;
	bool		 v;

	switch (mp_peek(r)) {
	case MP_NIL:
		return mp_read_nil(r);
	case MP_BOOL:
		return mp_read_bool(r, &v);
	case MP_UINT:
		(void)mp_read_number(&(struct mp_reader){ r->p, r->end }, &d);
		(void)mp_read_int(&(struct mp_reader){ r->p, r->end }, &i);
		return mp_read_uint(r, &u);
	case MP_INT:
		(void)mp_read_number(&(struct mp_reader){ r->p, r->end }, &d);
		return mp_read_int(r, &i);
	case MP_FLOAT:
		return mp_read_number(r, &d);
	case MP_STR:
		(void)mp_read_bytes(&(struct mp_reader){ r->p, r->end }, &b,
		    &len);
		return mp_read_str(r, &s, &len);
	case MP_BIN:
		return mp_read_bytes(r, &b, &len);
	case MP_ARRAY:
		/* Elements are walked by the caller's loop as they come. */
		return mp_read_array(r, &n);
	case MP_MAP:
		return mp_read_map(r, &n);
	default:
		return mp_skip(r, &raw, &rawlen);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_reader	 r;
	msgpack_unpacked	 u;
	const uint8_t		*raw;
	uint8_t			*buf, out[9];
	size_t			 rawlen, off = 0;
	int64_t			 v;
	int			 ok, steps = 0;

	/* A copy of exactly size bytes, so ASan sees any read past it. */
	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
#ifdef MP_MAX_DEPTH
	/* What requests and items must be: no deeper than the limit. */
	ok = mp_check_depth(buf, size, MP_MAX_DEPTH) == 0;
	if (ok && mp_check(buf, size) != 0)
		abort();
#else
	ok = mp_check(buf, size) == 0;
#endif

	/* Any bytes: every reader stops at the end. */
	mp_reader_init(&r, buf, size);
	while (r.p < r.end && steps++ < 4096)
		if (read_one(&r) == -1)
			break;
	if (r.p > r.end)
		abort();

	if (ok) {
		/* One object, exactly: mp_skip spans all of it... */
		mp_reader_init(&r, buf, size);
		if (mp_skip(&r, &raw, &rawlen) == -1 || rawlen != size ||
		    raw != buf || r.p != r.end)
			abort();
		/* ...and msgpack-c (the qlock tool, libqlock) decodes it. */
		msgpack_unpacked_init(&u);
		if (msgpack_unpack_next(&u, (const char *)buf, size, &off) !=
		    MSGPACK_UNPACK_SUCCESS || off != size)
			abort();
		msgpack_unpacked_destroy(&u);
	}
	if (mp_is_int(buf, size, &v)) {
		/* An integer re-encodes to a form that reads back the same. */
		int64_t	v2;

		if (!mp_is_int(out, mp_write_int(out, v), &v2) || v2 != v)
			abort();
	}
	free(buf);
	return 0;
}
