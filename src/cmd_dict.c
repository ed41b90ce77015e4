/* cmd_dict.c: dict.* requests: Python's dict, each method atomic. */
#include "cmd.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "store.h"
#include "worker.h"

/* Read a key from rd as its msgpack bytes; -1 if it is not a key. */
static int
read_key(struct mp_reader *rd, const char **key, uint32_t *len)
{
	const uint8_t	*raw;
	size_t		 n;

	if (mp_skip(rd, &raw, &n) == -1 || !dict_key_ok(raw, n))
		return -1;
	*key = (const char *)raw;
	*len = (uint32_t)n;
	return 0;
}

/* Read the key parameter; replies and returns -1 if it is not a key. */
static int
arg_key(struct worker *w, struct request *r, const char **key, uint32_t *len)
{
	if (read_key(&r->params, key, len) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO, "%s: a key is a str, bin "
		    "or integer, in its shortest msgpack form", r->cmd->name);
		return -1;
	}
	return 0;
}

/* Read any value parameter as raw msgpack bytes. */
static int
arg_value(struct worker *w, struct request *r, const uint8_t **val, size_t *len)
{
	if (mp_skip(&r->params, val, len) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO, "%s: bad value", r->cmd->name);
		return -1;
	}
	return 0;
}

/* Reply NoKey for key. */
static void
reply_nokey(struct worker *w, struct request *r, const char *key, uint32_t klen)
{
	struct mp_reader rd;
	const char	*s;
	uint32_t	 n;

	mp_reader_init(&rd, key, klen);
	if (mp_read_str(&rd, &s, &n) == 0)
		reply_error(w, &r->ctx, QLOCK_ENOKEY, "no key '%.*s' in '%.*s'",
		    (int)(n > 200 ? 200 : n), s, (int)r->namelen, r->name);
	else
		reply_error(w, &r->ctx, QLOCK_ENOKEY, "no such key in '%.*s'",
		    (int)r->namelen, r->name);
}

/* Log the current value of key. */
static void
log_entry(struct worker *w, struct object *o, const char *key, uint32_t klen)
{
	struct dentry	*e = dict_get(&o->u.dict, key, klen);

	if (e != NULL)
		store_d_set(w, o, key, klen, e->val, e->vallen);
}

/* dict.set [dict, key, value] */
void
cmd_dict_set(struct worker *w, struct request *r)
{
	struct object	*o;
	const char	*key;
	uint32_t	 klen;
	const uint8_t	*val;
	size_t		 vlen;

	if (arg_key(w, r, &key, &klen) == -1 || arg_value(w, r, &val, &vlen) == -1 ||
	    cmd_reserve(w, r, klen + vlen) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	dict_set(&o->u.dict, key, klen, val, vlen);
	store_d_set(w, o, key, klen, val, vlen);
	reply_nil(w, &r->ctx);
}

/* dict.get [dict, key] -> value */
void
cmd_dict_get(struct worker *w, struct request *r)
{
	struct object	*o;
	struct dentry	*e;
	const char	*key;
	uint32_t	 klen;

	if (arg_key(w, r, &key, &klen) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	if ((e = dict_get(&o->u.dict, key, klen)) == NULL) {
		reply_nokey(w, r, key, klen);
		registry_gc(&w->reg, o);
		return;
	}
	pack_raw(reply_begin(w, &r->ctx), e->val, e->vallen);
	reply_end(w, &r->ctx);
}

/* dict.del [dict, key] */
void
cmd_dict_del(struct worker *w, struct request *r)
{
	struct object	*o;
	const char	*key;
	uint32_t	 klen;

	if (arg_key(w, r, &key, &klen) == -1 || cmd_reserve(w, r, klen) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	if (dict_del(&o->u.dict, key, klen) != 0)
		reply_nokey(w, r, key, klen);
	else {
		store_d_del(w, o, key, klen);
		reply_nil(w, &r->ctx);
	}
	registry_gc(&w->reg, o);
}

/* dict.len [dict] -> int */
void
cmd_dict_len(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE);

	if (o == NULL)
		return;
	msgpack_pack_uint64(reply_begin(w, &r->ctx), dict_len(&o->u.dict));
	reply_end(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* What dict_list answers with, per entry. */
enum dict_part { DICT_KEYS, DICT_VALUES, DICT_ITEMS };

/* Every entry's key, value or [key, value], in insertion order. */
static void
dict_list(struct worker *w, struct request *r, enum dict_part part)
{
	struct object	*o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE);
	msgpack_packer	*pk;
	struct dentry	*e;

	if (o == NULL)
		return;
	pk = reply_begin(w, &r->ctx);
	msgpack_pack_array(pk, (uint32_t)dict_len(&o->u.dict));
	TAILQ_FOREACH(e, &o->u.dict.order, order) {
		if (part == DICT_ITEMS)
			msgpack_pack_array(pk, 2);
		if (part != DICT_VALUES)
			pack_raw(pk, e->key, e->keylen);
		if (part != DICT_KEYS)
			pack_raw(pk, e->val, e->vallen);
	}
	reply_end(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* dict.keys [dict] -> [key, ...] */
void
cmd_dict_keys(struct worker *w, struct request *r)
{
	dict_list(w, r, DICT_KEYS);
}

/* dict.values [dict] -> [value, ...] */
void
cmd_dict_values(struct worker *w, struct request *r)
{
	dict_list(w, r, DICT_VALUES);
}

/* dict.items [dict] -> [[key, value], ...] */
void
cmd_dict_items(struct worker *w, struct request *r)
{
	dict_list(w, r, DICT_ITEMS);
}

/* dict.incr [dict, key, delta] -> new value */
void
cmd_dict_incr(struct worker *w, struct request *r)
{
	struct object	*o;
	const char	*key;
	uint32_t	 klen;
	int64_t		 delta, result;
	int		 rc;

	if (arg_key(w, r, &key, &klen) == -1 || arg_int(w, r, &delta) == -1 ||
	    cmd_reserve(w, r, klen + 9) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	if ((rc = dict_incr(&o->u.dict, key, klen, delta, &result)) != 0) {
		reply_error(w, &r->ctx, rc, rc == QLOCK_ETYPE ?
		    "'%.*s' holds a value that is not an integer" :
		    "'%.*s' would overflow a 64-bit integer",
		    (int)(klen > 200 ? 200 : klen), key);
		registry_gc(&w->reg, o);
		return;
	}
	log_entry(w, o, key, klen);
	msgpack_pack_int64(reply_begin(w, &r->ctx), result);
	reply_end(w, &r->ctx);
}

/* dict.cas [dict, key, expected, new] -> swapped; expected nil: absent */
void
cmd_dict_cas(struct worker *w, struct request *r)
{
	struct object	*o;
	const char	*key;
	uint32_t	 klen;
	const uint8_t	*exp, *val;
	size_t		 elen, vlen;
	msgpack_packer	*pk;
	bool		 swapped;

	if (arg_key(w, r, &key, &klen) == -1 ||
	    arg_value(w, r, &exp, &elen) == -1 ||
	    arg_value(w, r, &val, &vlen) == -1 ||
	    cmd_reserve(w, r, klen + vlen) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	if (elen == 1 && exp[0] == 0xc0)
		exp = NULL;
	swapped = dict_cas(&o->u.dict, key, klen, exp, elen, val, vlen);
	if (swapped)
		store_d_set(w, o, key, klen, val, vlen);
	pk = reply_begin(w, &r->ctx);
	if (swapped)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	reply_end(w, &r->ctx);
	registry_gc(&w->reg, o);
}

/* dict.clear [dict]: one delete record, however many keys */
void
cmd_dict_clear(struct worker *w, struct request *r)
{
	struct object	*o;

	if (cmd_reserve(w, r, 0) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	if (dict_len(&o->u.dict) > 0)
		store_delete(w, o);
	dict_clear(&o->u.dict);
	dict_init(&o->u.dict);
	reply_nil(w, &r->ctx);
	registry_gc(&w->reg, o);	/* an empty dict is freed */
}

/* dict.pop [dict, key, default?] -> the value, removed; absent: the
 * default if given, else NoKey */
void
cmd_dict_pop(struct worker *w, struct request *r)
{
	struct object	*o;
	struct dentry	*e;
	const char	*key;
	uint32_t	 klen;
	const uint8_t	*def = NULL;
	size_t		 deflen = 0;

	if (arg_key(w, r, &key, &klen) == -1 ||
	    (r->nparams == 3 && arg_value(w, r, &def, &deflen) == -1) ||
	    cmd_reserve(w, r, klen) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	if ((e = dict_get(&o->u.dict, key, klen)) == NULL) {
		if (def == NULL)
			reply_nokey(w, r, key, klen);
		else {
			pack_raw(reply_begin(w, &r->ctx), def, deflen);
			reply_end(w, &r->ctx);
		}
	} else {
		pack_raw(reply_begin(w, &r->ctx), e->val, e->vallen);
		reply_end(w, &r->ctx);
		store_d_del(w, o, key, klen);
		(void)dict_del(&o->u.dict, key, klen);
	}
	registry_gc(&w->reg, o);
}

/* dict.popitem [dict] -> [key, value] of the last inserted, removed;
 * NoKey if empty (Python's KeyError) */
void
cmd_dict_popitem(struct worker *w, struct request *r)
{
	struct object	*o;
	struct dentry	*e;
	msgpack_packer	*pk;

	if (cmd_reserve(w, r, 0) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	if ((e = dict_last(&o->u.dict)) == NULL) {
		reply_error(w, &r->ctx, QLOCK_ENOKEY, "'%.*s' is empty",
		    (int)r->namelen, r->name);
		registry_gc(&w->reg, o);
		return;
	}
	pk = reply_begin(w, &r->ctx);
	msgpack_pack_array(pk, 2);
	pack_raw(pk, e->key, e->keylen);
	pack_raw(pk, e->val, e->vallen);
	reply_end(w, &r->ctx);
	store_d_del(w, o, e->key, e->keylen);
	(void)dict_del(&o->u.dict, e->key, e->keylen);
	registry_gc(&w->reg, o);
}

/* dict.setdefault [dict, key, default] -> the value, the default set if
 * the key was absent */
void
cmd_dict_setdefault(struct worker *w, struct request *r)
{
	struct object	*o;
	struct dentry	*e;
	const char	*key;
	uint32_t	 klen;
	const uint8_t	*def;
	size_t		 deflen;

	if (arg_key(w, r, &key, &klen) == -1 ||
	    arg_value(w, r, &def, &deflen) == -1 ||
	    cmd_reserve(w, r, klen + deflen) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	if ((e = dict_get(&o->u.dict, key, klen)) == NULL) {
		dict_set(&o->u.dict, key, klen, def, deflen);
		store_d_set(w, o, key, klen, def, deflen);
		e = dict_get(&o->u.dict, key, klen);
	}
	pack_raw(reply_begin(w, &r->ctx), e->val, e->vallen);
	reply_end(w, &r->ctx);
}

/* Check the pairs of dict.update (a map, or an array of [key, value]):
 * how many, and their bytes; -1 after replying if one is not a pair with
 * a key. */
static int
update_check(struct worker *w, struct request *r, bool *ismap,
    uint32_t *npairs, size_t *bytes)
{
	struct mp_reader rd = r->params;
	const char	*key;
	const uint8_t	*val;
	size_t		 vlen;
	uint32_t	 i, klen, two;

	*bytes = 0;
	*ismap = mp_read_map(&rd, npairs) == 0;
	if (!*ismap && mp_read_array(&rd, npairs) == -1)
		goto bad;
	for (i = 0; i < *npairs; i++) {
		if ((!*ismap && (mp_read_array(&rd, &two) == -1 || two != 2)) ||
		    read_key(&rd, &key, &klen) == -1 ||
		    mp_skip(&rd, &val, &vlen) == -1)
			goto bad;
		*bytes += klen + vlen + 32;
	}
	return 0;
bad:
	reply_error(w, &r->ctx, QLOCK_EPROTO, "dict.update: pairs must be a "
	    "map or an array of [key, value], each key a str, bin or integer");
	return -1;
}

/* dict.update [dict, pairs]: every pair set in one step, in order */
void
cmd_dict_update(struct worker *w, struct request *r)
{
	struct object	*o;
	const char	*key = NULL;
	const uint8_t	*val;
	size_t		 vlen, bytes;
	uint32_t	 i, n, klen = 0, two;
	bool		 ismap;

	if (update_check(w, r, &ismap, &n, &bytes) == -1 ||
	    cmd_reserve(w, r, bytes) == -1 ||
	    (o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE)) == NULL)
		return;
	/* Checked above: these reads cannot fail. */
	if (ismap)
		(void)mp_read_map(&r->params, &n);
	else
		(void)mp_read_array(&r->params, &n);
	for (i = 0; i < n; i++) {
		if (!ismap)
			(void)mp_read_array(&r->params, &two);
		(void)read_key(&r->params, &key, &klen);
		(void)mp_skip(&r->params, &val, &vlen);
		dict_set(&o->u.dict, key, klen, val, vlen);
		store_d_set(w, o, key, klen, val, vlen);
	}
	reply_nil(w, &r->ctx);
	registry_gc(&w->reg, o);
}
