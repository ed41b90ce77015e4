/* cmd_dict.c: dict.* requests on the manager-style dict. */
#include "cmd.h"
#include "object.h"
#include "qlock.h"
#include "reply.h"
#include "store.h"
#include "worker.h"

/* Read the key parameter; replies and returns -1 if it is not a string. */
static int
arg_key(struct worker *w, struct request *r, const char **key, uint32_t *len)
{
	if (mp_read_str(&r->params, key, len) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO, "%s: the key must be a string",
		    r->cmd->name);
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
	reply_error(w, &r->ctx, QLOCK_ENOKEY, "no key '%.*s' in '%.*s'",
	    (int)(klen > 200 ? 200 : klen), key, (int)r->namelen, r->name);
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

/* dict.keys [dict] -> [key, ...] */
void
cmd_dict_keys(struct worker *w, struct request *r)
{
	struct object	*o = cmd_object(w, r, OBJ_DICT, LOOKUP_CREATE);
	msgpack_packer	*pk;
	struct hnode	*n;
	struct dentry	*e;

	if (o == NULL)
		return;
	pk = reply_begin(w, &r->ctx);
	msgpack_pack_array(pk, (uint32_t)dict_len(&o->u.dict));
	for (n = hmap_first(&o->u.dict.entries); n != NULL;
	    n = hmap_next(&o->u.dict.entries, n)) {
		e = hmap_entry(n, struct dentry, node);
		pack_str(pk, e->key, e->keylen);
	}
	reply_end(w, &r->ctx);
	registry_gc(&w->reg, o);
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
