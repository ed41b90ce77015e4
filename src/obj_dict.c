/* obj_dict.c: dict entries in a hash table. */
#include <string.h>

#include "qlock.h"
#include "mp.h"
#include "obj_dict.h"
#include "util.h"

void
dict_init(struct dict *d)
{
	hmap_init(&d->entries);
	TAILQ_INIT(&d->order);
	d->bytes = 0;
}

bool
dict_key_ok(const void *raw, size_t len)
{
	struct mp_reader r;
	const void	*s;
	const uint8_t	*b = raw;
	uint8_t		 buf[9];
	uint32_t	 n;
	int64_t		 v;
	size_t		 hl;
	bool		 str;

	mp_reader_init(&r, raw, len);
	switch (mp_peek(&r)) {
	case MP_STR:
	case MP_BIN:
		str = mp_peek(&r) == MP_STR;
		if (mp_read_bytes(&r, &s, &n) == -1 || r.p != r.end)
			return false;
		/* For a type and a length, one header size is the shortest. */
		hl = str && n < 32 ? 1 : n <= UINT8_MAX ? 2 :
		    n <= UINT16_MAX ? 3 : 5;
		return len == hl + n;
	case MP_UINT:
	case MP_INT:
		if (mp_is_int(raw, len, &v))
			return mp_write_int(buf, v) == len &&
			    memcmp(buf, raw, len) == 0;
		return len == 9 && b[0] == 0xcf;	/* above INT64_MAX */
	default:
		return false;
	}
}

struct dentry *
dict_last(struct dict *d)
{
	return TAILQ_LAST(&d->order, dentrylist);
}

static void
dentry_free(struct dentry *e)
{
	free(e->key);
	free(e->val);
	free(e);
}

void
dict_clear(struct dict *d)
{
	struct hnode	*n, *next;

	for (n = hmap_first(&d->entries); n != NULL; n = next) {
		next = hmap_next(&d->entries, n);
		dentry_free(hmap_entry(n, struct dentry, node));
	}
	hmap_free(&d->entries);
	TAILQ_INIT(&d->order);
	d->bytes = 0;
}

struct dentry *
dict_get(struct dict *d, const char *key, size_t klen)
{
	struct hnode	*n = hmap_find(&d->entries, key, klen);

	return n == NULL ? NULL : hmap_entry(n, struct dentry, node);
}

void
dict_set(struct dict *d, const char *key, size_t klen, const void *val,
    size_t vlen)
{
	struct dentry	*e = dict_get(d, key, klen);

	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->key = xmemdup(key, klen);
		e->keylen = klen;
		hmap_insert(&d->entries, &e->node, e->key, klen);
		TAILQ_INSERT_TAIL(&d->order, e, order);
		d->bytes += klen;
	} else {
		d->bytes -= e->vallen;
		free(e->val);
	}
	e->val = xmemdup(val, vlen);
	e->vallen = vlen;
	d->bytes += vlen;
}

int
dict_del(struct dict *d, const char *key, size_t klen)
{
	struct dentry	*e = dict_get(d, key, klen);

	if (e == NULL)
		return QLOCK_ENOKEY;
	hmap_remove(&d->entries, &e->node);
	TAILQ_REMOVE(&d->order, e, order);
	d->bytes -= e->keylen + e->vallen;
	dentry_free(e);
	return 0;
}

size_t
dict_len(const struct dict *d)
{
	return d->entries.count;
}

int
dict_incr(struct dict *d, const char *key, size_t klen, int64_t delta,
    int64_t *result)
{
	struct dentry	*e = dict_get(d, key, klen);
	struct mp_reader r;
	uint8_t		 buf[9];
	uint64_t	 u;
	int64_t		 v = 0;

	if (e != NULL && !mp_is_int(e->val, e->vallen, &v)) {
		/* An unsigned value above INT64_MAX is still an integer:
		 * only a result back in range can be stored. */
		mp_reader_init(&r, e->val, e->vallen);
		if (mp_read_uint(&r, &u) == -1 || r.p != r.end)
			return QLOCK_ETYPE;
		if (delta >= 0 || u - (uint64_t)-(delta + 1) - 1 > INT64_MAX)
			return QLOCK_EVALUE;
		v = (int64_t)(u - (uint64_t)-(delta + 1) - 1);
		delta = 0;
	}
	if (__builtin_add_overflow(v, delta, &v))
		return QLOCK_EVALUE;
	dict_set(d, key, klen, buf, mp_write_int(buf, v));
	*result = v;
	return 0;
}

/* Equal as values: integers by value, anything else byte for byte. */
static bool
dict_value_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	int64_t	x, y;

	if (mp_is_int(a, alen, &x) && mp_is_int(b, blen, &y))
		return x == y;
	return alen == blen && memcmp(a, b, alen) == 0;
}

bool
dict_cas(struct dict *d, const char *key, size_t klen, const void *expected,
    size_t elen, const void *val, size_t vlen)
{
	struct dentry	*e = dict_get(d, key, klen);

	if (expected == NULL ? e != NULL :
	    e == NULL || !dict_value_eq(e->val, e->vallen, expected, elen))
		return false;
	dict_set(d, key, klen, val, vlen);
	return true;
}
