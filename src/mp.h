/* mp.h: a bounds-checked msgpack reader: validation before any unpacking,
 * and zero-copy access to the fields of a request. */
#ifndef MP_H
#define MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cursor over bytes that may come from anyone. */
struct mp_reader {
	const uint8_t	*p;	/* next byte to read */
	const uint8_t	*end;	/* one past the last byte */
};

enum mp_type {
	MP_NONE,	/* truncated or a reserved byte (0xc1) */
	MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_FLOAT, MP_STR, MP_BIN,
	MP_ARRAY, MP_MAP, MP_EXT,
};

/*
 * Check that buf holds exactly one well-formed msgpack object and nothing
 * after it.  Every declared length must fit in the bytes present and every
 * declared element count must be coverable by them (each element takes at
 * least one byte), so a frame that declares a billion-entry map is refused
 * at the cost of reading its header.  Returns 0 or -1.
 */
int	mp_check(const void *buf, size_t len);

/* How deep a request may nest arrays and maps, counting its own two (the
 * message and its params): an item or value may nest MP_MAX_DEPTH - 2. */
#define MP_MAX_DEPTH	32
#define MP_DEEP		(-2)	/* mp_check_depth: nested too deep */
/* mp_check, and no array or map more than maxdepth containers deep (the
 * top-level one is depth 1): then MP_DEEP, without reading further.  A
 * negative maxdepth is no limit; more than MP_MAX_DEPTH is MP_MAX_DEPTH. */
int	mp_check_depth(const void *buf, size_t len, int maxdepth);

void	mp_reader_init(struct mp_reader *r, const void *buf, size_t len);
/* The type of the next object, without consuming it. */
enum mp_type mp_peek(const struct mp_reader *r);

/* Each reader consumes one object of its type and returns 0, or returns -1
 * leaving the cursor where it was. */
int	mp_read_nil(struct mp_reader *r);
int	mp_read_bool(struct mp_reader *r, bool *v);
int	mp_read_int(struct mp_reader *r, int64_t *v);	/* int or uint <= INT64_MAX */
int	mp_read_uint(struct mp_reader *r, uint64_t *v);	/* non-negative int */
int	mp_read_number(struct mp_reader *r, double *v);	/* int or float */
int	mp_read_str(struct mp_reader *r, const char **s, uint32_t *len);
int	mp_read_bytes(struct mp_reader *r, const void **s, uint32_t *len); /* str or bin */
int	mp_read_array(struct mp_reader *r, uint32_t *n);
int	mp_read_map(struct mp_reader *r, uint32_t *n);
/* Skip one whole object (nested ones too); its raw bytes in *start, *len. */
int	mp_skip(struct mp_reader *r, const uint8_t **start, size_t *len);

/* Encode an integer in its shortest msgpack form; returns the length (<= 9). */
size_t	mp_write_int(uint8_t out[9], int64_t v);
/* True if raw is exactly one msgpack integer (stored in *v). */
bool	mp_is_int(const void *raw, size_t len, int64_t *v);

#endif
