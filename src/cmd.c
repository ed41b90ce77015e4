/* cmd.c: the method table, request decoding and validation, routing to
 * the owning worker, and the commands that are not about one object. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "cmd.h"
#include "config.h"
#include "object.h"
#include "peer.h"
#include "qlock.h"
#include "qmsg.h"
#include "repl.h"
#include "reply.h"
#include "session.h"
#include "store.h"
#include "topo.h"
#include "util.h"
#include "worker.h"
#include "xfwd.h"

static void cmd_ping(struct worker *, struct request *);
static void cmd_delete(struct worker *, struct request *);
static void cmd_stats_partial(struct worker *, msgpack_packer *);
static void cmd_list_partial(struct worker *, msgpack_packer *);

/* Sorted by name for bsearch (a test checks the order). */
static const struct cmd cmds[] = {
	{ "barrier.abort",	1, 1, CMD_NAMED,  cmd_barrier_abort, NULL },
	{ "barrier.open",	2, 2, CMD_NAMED,  cmd_barrier_open, NULL },
	{ "barrier.reset",	1, 1, CMD_NAMED,  cmd_barrier_reset, NULL },
	{ "barrier.state",	1, 1, CMD_NAMED | CMD_READ, cmd_barrier_state, NULL },
	{ "barrier.wait",	2, 2, CMD_NAMED | CMD_BLOCKS, cmd_barrier_wait, NULL },
	{ "cancel",		2, 2, CMD_NAMED,  cmd_cancel, NULL },
	{ "cond.acquire",	2, 3, CMD_NAMED | CMD_BLOCKS, cmd_cond_acquire, NULL },
	{ "cond.notify",	2, 3, CMD_NAMED,  cmd_cond_notify, NULL },
	{ "cond.notify_all",	1, 2, CMD_NAMED,  cmd_cond_notify_all, NULL },
	{ "cond.release",	1, 2, CMD_NAMED,  cmd_cond_release, NULL },
	{ "cond.wait",		2, 3, CMD_NAMED | CMD_BLOCKS, cmd_cond_wait, NULL },
	{ "delete",		1, 1, CMD_NAMED,  cmd_delete, NULL },
	{ "dict.cas",		4, 4, CMD_NAMED,  cmd_dict_cas, NULL },
	{ "dict.clear",		1, 1, CMD_NAMED,  cmd_dict_clear, NULL },
	{ "dict.del",		2, 2, CMD_NAMED,  cmd_dict_del, NULL },
	{ "dict.get",		2, 2, CMD_NAMED | CMD_READ, cmd_dict_get, NULL },
	{ "dict.incr",		3, 3, CMD_NAMED,  cmd_dict_incr, NULL },
	{ "dict.items",		1, 1, CMD_NAMED | CMD_READ, cmd_dict_items, NULL },
	{ "dict.keys",		1, 1, CMD_NAMED | CMD_READ, cmd_dict_keys, NULL },
	{ "dict.len",		1, 1, CMD_NAMED | CMD_READ, cmd_dict_len, NULL },
	{ "dict.pop",		2, 3, CMD_NAMED,  cmd_dict_pop, NULL },
	{ "dict.popitem",	1, 1, CMD_NAMED,  cmd_dict_popitem, NULL },
	{ "dict.set",		3, 3, CMD_NAMED,  cmd_dict_set, NULL },
	{ "dict.setdefault",	3, 3, CMD_NAMED,  cmd_dict_setdefault, NULL },
	{ "dict.update",	2, 2, CMD_NAMED,  cmd_dict_update, NULL },
	{ "dict.values",	1, 1, CMD_NAMED | CMD_READ, cmd_dict_values, NULL },
	{ "event.clear",	1, 1, CMD_NAMED,  cmd_event_clear, NULL },
	{ "event.is_set",	1, 1, CMD_NAMED | CMD_READ, cmd_event_is_set, NULL },
	{ "event.set",		1, 1, CMD_NAMED,  cmd_event_set, NULL },
	{ "event.wait",		2, 2, CMD_NAMED | CMD_BLOCKS | CMD_READ, cmd_event_wait, NULL },
	{ "list",		0, 0, CMD_FANOUT, NULL, cmd_list_partial },
	{ "lock.acquire",	2, 2, CMD_NAMED | CMD_BLOCKS, cmd_lock_acquire, NULL },
	{ "lock.open",		2, 3, CMD_NAMED,  cmd_lock_open, NULL },
	{ "lock.release",	1, 1, CMD_NAMED,  cmd_lock_release, NULL },
	{ "ping",		0, 0, 0,	  cmd_ping, NULL },
	{ "queue.get",		2, 2, CMD_NAMED | CMD_BLOCKS, cmd_queue_get, NULL },
	{ "queue.join",		2, 2, CMD_NAMED | CMD_BLOCKS | CMD_READ, cmd_queue_join, NULL },
	{ "queue.open",		3, 4, CMD_NAMED,  cmd_queue_open, NULL },
	{ "queue.put",		3, 3, CMD_NAMED | CMD_BLOCKS, cmd_queue_put, NULL },
	{ "queue.size",		1, 1, CMD_NAMED | CMD_READ, cmd_queue_size, NULL },
	{ "queue.state",	1, 1, CMD_NAMED | CMD_READ, cmd_queue_state, NULL },
	{ "queue.task_done",	1, 1, CMD_NAMED,  cmd_queue_task_done, NULL },
	{ "sem.acquire",	2, 2, CMD_NAMED | CMD_BLOCKS, cmd_sem_acquire, NULL },
	{ "sem.open",		3, 4, CMD_NAMED,  cmd_sem_open, NULL },
	{ "sem.release",	1, 1, CMD_NAMED,  cmd_sem_release, NULL },
	{ "sem.value",		1, 1, CMD_NAMED | CMD_READ, cmd_sem_value, NULL },
	{ "session.resume",	1, 1, 0,	  cmd_session_resume, NULL },
	{ "stats",		0, 0, CMD_FANOUT, NULL, cmd_stats_partial },
	{ "topology",		0, 0, 0,	  cmd_topology, NULL },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* Key for bsearch: a method name that is not NUL-terminated. */
struct cmd_key {
	const char	*name;
	size_t		 len;
};

static int
cmd_cmp(const void *k, const void *elem)
{
	const struct cmd_key	*key = k;
	const struct cmd	*c = elem;
	size_t			 clen = strlen(c->name);
	int			 r;

	r = memcmp(key->name, c->name, key->len < clen ? key->len : clen);
	if (r != 0)
		return r;
	return key->len < clen ? -1 : key->len > clen;
}

static const struct cmd *
cmd_lookup(const char *name, size_t len)
{
	struct cmd_key	key = { name, len };

	return bsearch(&key, cmds, NCMDS, sizeof(cmds[0]), cmd_cmp);
}

/* Each method has a counter in struct worker_stats. */
_Static_assert(NCMDS <= STATS_METHODS, "STATS_METHODS is too small");

int
cmd_index(const struct cmd *c)
{
	return (int)(c - cmds);
}

const char *
cmd_name_at(int i)
{
	return cmds[i].name;
}

int
cmd_count(void)
{
	return (int)NCMDS;
}

enum cmd_parse
cmd_parse(struct worker *w, const uint8_t *body, size_t len, struct request *r)
{
	struct mp_reader rd;
	uint32_t	 n;
	uint64_t	 type;
	const char	*method;
	uint32_t	 mlen;

	r->body = body;
	r->bodylen = len;
	r->name = NULL;
	r->namelen = 0;
	r->ctx.msgid = 0;
	mp_reader_init(&rd, body, len);
	if (mp_read_array(&rd, &n) == -1 || n < 1 || mp_read_uint(&rd, &type) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO,
		    "a message must be [0, msgid, method, params]");
		return CMD_PARSE_BAD;
	}
	if (type == 2 && n == 3)
		return CMD_PARSE_NOTIFY;	/* nothing defined; ignored */
	if (type != 0 || n != 4 || mp_read_uint(&rd, &r->ctx.msgid) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO,
		    "a request must be [0, msgid, method, params]");
		return CMD_PARSE_BAD;
	}
	if (mp_read_str(&rd, &method, &mlen) == -1 ||
	    mp_read_array(&rd, &r->nparams) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO,
		    "method must be a string and params an array");
		return CMD_PARSE_BAD;
	}
	if ((r->cmd = cmd_lookup(method, mlen)) == NULL) {
		reply_nomethod(w, &r->ctx, method, mlen);
		return CMD_PARSE_BAD;
	}
	if ((int)r->nparams < r->cmd->min_args ||
	    (int)r->nparams > r->cmd->max_args) {
		reply_error(w, &r->ctx, QLOCK_EPROTO,
		    "%s takes %d parameter%s, not %u", r->cmd->name,
		    r->cmd->max_args, r->cmd->max_args == 1 ? "" : "s",
		    r->nparams);
		return CMD_PARSE_BAD;
	}
	r->params = rd;
	if (r->cmd->flags & CMD_NAMED) {
		if (mp_read_str(&r->params, &r->name, &r->namelen) == -1) {
			reply_error(w, &r->ctx, QLOCK_EPROTO,
			    "%s: the name must be a string", r->cmd->name);
			return CMD_PARSE_BAD;
		}
		if (r->namelen == 0 || r->namelen > NAME_MAX_LEN) {
			reply_error(w, &r->ctx, QLOCK_EINVAL,
			    "%s: a name is 1 to %d bytes", r->cmd->name,
			    NAME_MAX_LEN);
			return CMD_PARSE_BAD;
		}
	}
	return CMD_PARSE_OK;
}

void
cmd_refuse_deep(struct worker *w, const uint8_t *body, size_t len,
    struct request *r)
{
	struct mp_reader rd;
	uint32_t	 n;
	uint64_t	 type;

	/* The start is well-formed: only the nesting further on is not. */
	r->ctx.msgid = 0;
	mp_reader_init(&rd, body, len);
	if (mp_read_array(&rd, &n) == 0 && mp_read_uint(&rd, &type) == 0) {
		if (type == 2)
			return;		/* a notification: no answer */
		if (type == 0 && n == 4)
			(void)mp_read_uint(&rd, &r->ctx.msgid);
	}
	reply_error(w, &r->ctx, QLOCK_ELIMIT, "arrays and maps nested more "
	    "than %d deep in a message (%d in an item or value)",
	    MP_MAX_DEPTH, MP_MAX_DEPTH - 2);
}

/* Fan-out in progress at the origin: partials still owed. */
struct fanout {
	struct hnode	 node;		/* in worker->fanouts by tag */
	uint64_t	 tag;
	struct reqctx	 ctx;		/* the client to answer */
	const struct cmd *cmd;
	uint8_t		*waiting;	/* [nworkers]: partial still owed */
	int		 nwaiting;
	msgpack_sbuffer	 parts;		/* the partials, one after another */
	int		 nparts;
};

static void fanout_finish(struct worker *, struct fanout *);

/* Run a CMD_FANOUT command: our partial now, the peers' when they come. */
static void
fanout_start(struct worker *w, struct request *r)
{
	struct fanout	*f = xcalloc(1, sizeof(*f));
	msgpack_packer	 pk;
	int		 i;

	f->tag = ++w->next_tag;
	f->ctx = r->ctx;
	f->cmd = r->cmd;
	f->waiting = xcalloc((size_t)w->nworkers, 1);
	msgpack_sbuffer_init(&f->parts);
	msgpack_packer_init(&pk, &f->parts, msgpack_sbuffer_write);
	r->cmd->partial(w, &pk);
	f->nparts = 1;
	for (i = 0; i < w->nworkers; i++) {
		if (i == w->id || peer_send(w, i, QMSG_PART_REQ, f->tag,
		    r->ctx.sess, r->body, r->bodylen) == -1)
			continue;
		f->waiting[i] = 1;
		f->nwaiting++;
	}
	hmap_insert(&w->fanouts, &f->node, &f->tag, sizeof(f->tag));
	conn_unanswered_add(conn_find(w, f->ctx.sess), false);
	if (f->nwaiting == 0)
		fanout_finish(w, f);
}

void
cmd_partial(struct worker *w, const uint8_t *body, size_t len,
    msgpack_packer *pk)
{
	struct request	r;

	r.ctx = (struct reqctx){ 0, 0, 0, w->id, false };
	/* The origin validated it; a sibling sending garbage is a bug. */
	if (cmd_parse(w, body, len, &r) != CMD_PARSE_OK ||
	    !(r.cmd->flags & CMD_FANOUT))
		fatalx("peer sent a bad fan-out request");
	r.cmd->partial(w, pk);
}

void
fanout_partial(struct worker *w, uint64_t tag, int peer, const void *payload,
    size_t len)
{
	struct hnode	*n = hmap_find(&w->fanouts, &tag, sizeof(tag));
	struct fanout	*f;

	if (n == NULL)
		return;
	f = hmap_entry(n, struct fanout, node);
	if (!f->waiting[peer])
		return;
	f->waiting[peer] = 0;
	f->nwaiting--;
	if (payload != NULL && mp_check(payload, len) == 0) {
		msgpack_sbuffer_write(&f->parts, payload, len);
		f->nparts++;
	}
	if (f->nwaiting == 0)
		fanout_finish(w, f);
}

void
fanout_peer_down(struct worker *w, int peer)
{
	struct hnode	*n, *next;

	for (n = hmap_first(&w->fanouts); n != NULL; n = next) {
		next = hmap_next(&w->fanouts, n);
		fanout_partial(w, hmap_entry(n, struct fanout, node)->tag,
		    peer, NULL, 0);
	}
}

/* The arrays under key k in the partial maps, concatenated. */
static void
merge_key_lists(msgpack_packer *pk, const msgpack_object *k,
    msgpack_object *parts, int nparts)
{
	const msgpack_object	*v;
	uint32_t		 total = 0, j, e;
	int			 p, pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			msgpack_pack_array(pk, total);
		for (p = 0; p < nparts; p++) {
			if (parts[p].type != MSGPACK_OBJECT_MAP)
				continue;
			for (j = 0; j < parts[p].via.map.size; j++) {
				v = &parts[p].via.map.ptr[j].val;
				if (!msgpack_object_equal(
				    parts[p].via.map.ptr[j].key, *k) ||
				    v->type != MSGPACK_OBJECT_ARRAY)
					continue;
				if (pass == 0)
					total += v->via.array.size;
				else
					for (e = 0; e < v->via.array.size; e++)
						msgpack_pack_object(pk,
						    v->via.array.ptr[e]);
			}
		}
	}
}

/* Merge partial maps by adding their integers, key by key; arrays (the
 * raft groups' states) are concatenated. */
static void
merge_stats(msgpack_packer *pk, msgpack_object *parts, int nparts)
{
	msgpack_object_map	*m0 = &parts[0].via.map;
	uint32_t		 i, j;
	int			 p;

	msgpack_pack_map(pk, m0->size);
	for (i = 0; i < m0->size; i++) {
		msgpack_object	*k = &m0->ptr[i].key;
		uint64_t	 sum = 0;

		msgpack_pack_object(pk, *k);
		if (m0->ptr[i].val.type == MSGPACK_OBJECT_ARRAY) {
			merge_key_lists(pk, k, parts, nparts);
			continue;
		}
		for (p = 0; p < nparts; p++) {
			msgpack_object_map *m = &parts[p].via.map;

			if (parts[p].type != MSGPACK_OBJECT_MAP)
				continue;
			for (j = 0; j < m->size; j++) {
				if (msgpack_object_equal(m->ptr[j].key, *k) &&
				    m->ptr[j].val.type ==
				    MSGPACK_OBJECT_POSITIVE_INTEGER)
					sum += m->ptr[j].val.via.u64;
			}
		}
		msgpack_pack_uint64(pk, sum);
	}
}

/* Merge partial arrays by concatenating them. */
static void
merge_list(msgpack_packer *pk, msgpack_object *parts, int nparts)
{
	uint32_t	total = 0, i;
	int		p;

	for (p = 0; p < nparts; p++)
		if (parts[p].type == MSGPACK_OBJECT_ARRAY)
			total += parts[p].via.array.size;
	msgpack_pack_array(pk, total);
	for (p = 0; p < nparts; p++) {
		if (parts[p].type != MSGPACK_OBJECT_ARRAY)
			continue;
		for (i = 0; i < parts[p].via.array.size; i++)
			msgpack_pack_object(pk, parts[p].via.array.ptr[i]);
	}
}

/* All partials are in: merge, answer, forget. */
static void
fanout_finish(struct worker *w, struct fanout *f)
{
	msgpack_unpacked *up = xcalloc((size_t)f->nparts, sizeof(*up));
	msgpack_object	*parts = xcalloc((size_t)f->nparts, sizeof(*parts));
	msgpack_packer	*pk;
	size_t		 off = 0;
	int		 p, n = 0, rc;

	for (p = 0; p < f->nparts; p++) {
		msgpack_unpacked_init(&up[p]);
		rc = msgpack_unpack_next(&up[p], f->parts.data, f->parts.size,
		    &off);
		if (rc == MSGPACK_UNPACK_SUCCESS)
			parts[n++] = up[p].data;
	}
	pk = reply_begin(w, &f->ctx);
	if (f->cmd->partial == cmd_stats_partial)
		merge_stats(pk, parts, n);
	else
		merge_list(pk, parts, n);
	reply_end(w, &f->ctx);
	for (p = 0; p < f->nparts; p++)
		msgpack_unpacked_destroy(&up[p]);
	free(up);
	free(parts);
	hmap_remove(&w->fanouts, &f->node);
	conn_unanswered_done(conn_find(w, f->ctx.sess), false);
	msgpack_sbuffer_destroy(&f->parts);
	free(f->waiting);
	free(f);
}

/* Send a named request to its owner and remember it for failure. */
static void
forward(struct worker *w, struct request *r, int owner, struct conn *c)
{
	struct fwd	*f;
	uint64_t	 tag = ++w->next_tag;

	/* An upstream's request: the owner must not relay it again. */
	if (c != NULL && c->no_relay)
		tag |= XFWD_TAG_NORELAY;

	if (peer_send(w, owner, QMSG_REQ_FORWARD, tag, r->ctx.sess, r->body,
	    r->bodylen) == -1) {
		reply_error(w, &r->ctx, QLOCK_EUNAVAIL,
		    "the worker owning '%.*s' is restarting; retry",
		    (int)(r->namelen > 100 ? 100 : r->namelen), r->name);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->tag = tag;
	f->sess = r->ctx.sess;
	f->msgid = r->ctx.msgid;
	f->peer = owner;
	f->blocking = (r->cmd->flags & CMD_BLOCKS) != 0;
	hmap_insert(&w->fwds, &f->node, &f->tag, sizeof(f->tag));
	if (c != NULL) {
		conn_touch(c, owner);
		conn_fwd_add(c, f);
	}
	w->stats.forwarded++;
}

void
cmd_dispatch(struct worker *w, struct request *r)
{
	struct conn	*c = conn_find(w, r->ctx.sess);
	int		 owner;

	if (session_retry(w, r))
		return;		/* answered: a retry */
	if (r->cmd->flags & CMD_FANOUT) {
		fanout_start(w, r);
		return;
	}
	if (r->cmd->flags & CMD_NAMED) {
		owner = (int)shard_of(r->name, r->namelen, (unsigned)w->nworkers);
		if (owner != w->id) {
			forward(w, r, owner, c);
			return;
		}
		if (!repl_serving(w) || xfwd_follows(w, r->ctx.sess)) {
			xfwd_relay(w, r, c != NULL && c->no_relay);
			return;
		}
		repl_read(w);
		r->ctx.keep = session_keeps(w, r);
	}
	r->cmd->exec(w, r);
	worker_flush_woken(w);
}

void
cmd_exec_forwarded(struct worker *w, const uint8_t *body, size_t len,
    const struct reqctx *ctx)
{
	struct request	r;

	r.ctx = *ctx;
	r.ctx.keep = false;
	if (cmd_parse(w, body, len, &r) != CMD_PARSE_OK)
		return;		/* answered already */
	if (!(r.cmd->flags & CMD_NAMED) ||
	    shard_of(r.name, r.namelen, (unsigned)w->nworkers) != (unsigned)w->id)
		fatalx("peer forwarded a request that is not ours");
	if (!repl_serving(w) || xfwd_follows(w, r.ctx.sess)) {
		xfwd_relay(w, &r, (ctx->tag & XFWD_TAG_NORELAY) != 0);
		return;
	}
	repl_read(w);
	r.cmd->exec(w, &r);
	worker_flush_woken(w);
}

struct object *
cmd_object(struct worker *w, struct request *r, enum obj_kind kind,
    enum obj_lookup how)
{
	struct object	*o = registry_find(&w->reg, r->name, r->namelen);

	if (o == NULL) {
		if (how == LOOKUP_CREATE)
			return registry_add(&w->reg, r->name, r->namelen, kind);
		reply_error(w, &r->ctx, QLOCK_ENOENT,
		    "no %s '%.*s': open it first", obj_kind_name(kind),
		    (int)r->namelen, r->name);
		return NULL;
	}
	if (o->kind != kind) {
		reply_error(w, &r->ctx, QLOCK_ETYPE, "'%.*s' is a %s, not a %s",
		    (int)r->namelen, r->name, obj_kind_name(o->kind),
		    obj_kind_name(kind));
		return NULL;
	}
	return o;
}

int
cmd_reserve(struct worker *w, struct request *r, size_t bytes)
{
	if (store_reserve(w, bytes + r->namelen + 32) == 0)
		return 0;
	reply_error(w, &r->ctx, QLOCK_ELIMIT,
	    "disk full: the change was not made (reads still work)");
	return -1;
}

struct waiter *
cmd_waiter(struct worker *w, struct request *r, struct object *o)
{
	struct waiter	*wt = xcalloc(1, sizeof(*wt));

	wt->ctx = r->ctx;
	wt->obj = o;
	wt->heap_idx = NO_SLOT;
	wt->sess = session_get(w, r->ctx.sess);
	TAILQ_INSERT_TAIL(&wt->sess->waiters, wt, sess_link);
	/* Counted against its connection if here; a peer's counts its own. */
	if (r->ctx.origin == w->id)
		conn_unanswered_add(conn_find(w, r->ctx.sess), true);
	return wt;
}

int
arg_timeout(struct worker *w, struct request *r, double *deadline)
{
	double	t;

	if (mp_read_number(&r->params, &t) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO,
		    "%s: timeout must be a number", r->cmd->name);
		return -1;
	}
	if (isnan(t) || (t > SECS_MAX && !isinf(t))) {
		reply_error(w, &r->ctx, QLOCK_EVALUE, "%s: timeout must be "
		    "0 to %.0f seconds, or negative or infinite for ever",
		    r->cmd->name, SECS_MAX);
		return -1;
	}
	if (t < 0 || isinf(t))
		*deadline = -1;		/* forever */
	else if (t == 0)
		*deadline = 0;		/* do not wait */
	else
		*deadline = now_mono() + t;
	return 0;
}

int
arg_int(struct worker *w, struct request *r, int64_t *v)
{
	if (mp_read_int(&r->params, v) == -1) {
		reply_error(w, &r->ctx, QLOCK_EPROTO,
		    "%s: expected an integer", r->cmd->name);
		return -1;
	}
	return 0;
}

int
arg_giveback(struct worker *w, struct request *r, uint32_t pos, bool *keep)
{
	bool	giveback = true;

	if (r->nparams > pos && arg_bool(w, r, &giveback) == -1)
		return -1;
	*keep = !giveback;
	return 0;
}

int
arg_bool(struct worker *w, struct request *r, bool *v)
{
	int64_t	i;

	if (mp_read_bool(&r->params, v) == 0)
		return 0;
	if (mp_read_int(&r->params, &i) == 0) {	/* 0 / 1 flags from C */
		*v = i != 0;
		return 0;
	}
	reply_error(w, &r->ctx, QLOCK_EPROTO, "%s: expected a boolean",
	    r->cmd->name);
	return -1;
}

static void
cmd_ping(struct worker *w, struct request *r)
{
	msgpack_packer	*pk = reply_begin(w, &r->ctx);

	pack_cstr(pk, "pong");
	reply_end(w, &r->ctx);
}

/* delete [name]: remove any object; parked waiters get NoEnt. */
static void
cmd_delete(struct worker *w, struct request *r)
{
	struct object	*o = registry_find(&w->reg, r->name, r->namelen);

	if (o == NULL) {
		reply_error(w, &r->ctx, QLOCK_ENOENT, "no object '%.*s'",
		    (int)r->namelen, r->name);
		return;
	}
	if (cmd_reserve(w, r, 0) == -1)
		return;
	store_delete(w, o);
	worker_delete_object(w, o);
	reply_nil(w, &r->ctx);
}

/* Stats keys for the count of objects of each kind. */
static const char *const kind_counters[OBJ_NKINDS] = {
	"queues", "locks", "semaphores", "events", "conditions", "barriers",
	"dicts",
};

static void
cmd_stats_partial(struct worker *w, msgpack_packer *pk)
{
	struct hnode	*n;
	uint64_t	 items = 0, waiters = 0, holds = 0, keys = 0;
	struct object	*o;
	struct hold	*h;
	int		 k;

	for (n = hmap_first(&w->reg.byname); n != NULL;
	    n = hmap_next(&w->reg.byname, n)) {
		o = hmap_entry(n, struct object, node);
		waiters += object_waiters(o);
		TAILQ_FOREACH(h, &o->holds, obj_link)
			holds++;
		if (o->kind == OBJ_QUEUE)
			items += o->u.queue.count;
		else if (o->kind == OBJ_DICT)
			keys += dict_len(&o->u.dict);
	}
	msgpack_pack_map(pk, 22 + OBJ_NKINDS + (repl_on(w) ? 1 : 0));
	pack_cstr(pk, "log_bytes");
	msgpack_pack_uint64(pk, w->store != NULL ? w->store->end : 0);
	pack_cstr(pk, "log_fsyncs");
	msgpack_pack_uint64(pk, w->store != NULL ? w->store->fsyncs : 0);
	pack_cstr(pk, "log_fsync_us");
	msgpack_pack_uint64(pk, w->store != NULL ?
	    (uint64_t)(w->store->fsync_secs * 1e6) : 0);
	pack_cstr(pk, "workers");	msgpack_pack_uint64(pk, 1);
	pack_cstr(pk, "connections");	msgpack_pack_uint64(pk, w->nconns);
	pack_cstr(pk, "connections_total"); msgpack_pack_uint64(pk, w->stats.conns_total);
	pack_cstr(pk, "auth_failures");	msgpack_pack_uint64(pk, w->stats.auth_failures);
	pack_cstr(pk, "unauth_refused"); msgpack_pack_uint64(pk, w->stats.unauth_refused);
	pack_cstr(pk, "requests");	msgpack_pack_uint64(pk, w->stats.requests);
	pack_cstr(pk, "forwarded");	msgpack_pack_uint64(pk, w->stats.forwarded);
	pack_cstr(pk, "relayed");	msgpack_pack_uint64(pk, w->stats.relayed);
	pack_cstr(pk, "forwards_pending"); msgpack_pack_uint64(pk, w->fwds.count);
	pack_cstr(pk, "errors");	msgpack_pack_uint64(pk, w->stats.errors);
	pack_cstr(pk, "retries_answered");
	msgpack_pack_uint64(pk, w->stats.retries_answered);
	pack_cstr(pk, "sessions");	msgpack_pack_uint64(pk, w->nconns);
	pack_cstr(pk, "session_records"); msgpack_pack_uint64(pk, w->sessions.count);
	pack_cstr(pk, "sessions_detached");
	msgpack_pack_uint64(pk, session_detached_count(w));
	pack_cstr(pk, "objects");	msgpack_pack_uint64(pk, w->reg.byname.count);
	pack_cstr(pk, "items");		msgpack_pack_uint64(pk, items);
	pack_cstr(pk, "keys");		msgpack_pack_uint64(pk, keys);
	pack_cstr(pk, "waiters");	msgpack_pack_uint64(pk, waiters);
	pack_cstr(pk, "holds");		msgpack_pack_uint64(pk, holds);
	for (k = 0; k < OBJ_NKINDS; k++) {
		pack_cstr(pk, kind_counters[k]);
		msgpack_pack_uint64(pk, w->reg.count[k]);
	}
	if (repl_on(w)) {
		/* This worker's raft group: a list, merged by concatenation. */
		pack_cstr(pk, "raft");
		msgpack_pack_array(pk, 1);
		repl_pack_info(w, pk);
	}
}

/* One object's listing entry: kind, size, waiters, and who holds it. */
static void
list_object(struct worker *w, msgpack_packer *pk, struct object *o)
{
	struct hold	*h;
	uint32_t	 nholds = 0;

	TAILQ_FOREACH(h, &o->holds, obj_link)
		nholds++;
	msgpack_pack_map(pk, 6);
	pack_cstr(pk, "name");	pack_str(pk, o->name, o->namelen);
	pack_cstr(pk, "kind");	pack_cstr(pk, obj_kind_name(o->kind));
	pack_cstr(pk, "worker"); msgpack_pack_int(pk, w->id);
	pack_cstr(pk, "size");	msgpack_pack_uint64(pk, object_size(o));
	pack_cstr(pk, "waiters"); msgpack_pack_uint64(pk, object_waiters(o));
	pack_cstr(pk, "holders");
	msgpack_pack_array(pk, nholds);
	TAILQ_FOREACH(h, &o->holds, obj_link)
		msgpack_pack_uint64(pk, h->sess->id);
}

/* Every object owned here, then every client connected here. */
static void
cmd_list_partial(struct worker *w, msgpack_packer *pk)
{
	struct hnode	*n;
	struct conn	*c;

	msgpack_pack_array(pk, (uint32_t)(w->reg.byname.count + w->nconns));
	for (n = hmap_first(&w->reg.byname); n != NULL;
	    n = hmap_next(&w->reg.byname, n))
		list_object(w, pk, hmap_entry(n, struct object, node));
	for (n = hmap_first(&w->conns); n != NULL; n = hmap_next(&w->conns, n)) {
		c = hmap_entry(n, struct conn, node);
		msgpack_pack_map(pk, 5);
		pack_cstr(pk, "name");	pack_cstr(pk, c->addr);
		pack_cstr(pk, "kind");	pack_cstr(pk, "session");
		pack_cstr(pk, "worker"); msgpack_pack_int(pk, w->id);
		pack_cstr(pk, "id");	msgpack_pack_uint64(pk, c->sess);
		pack_cstr(pk, "state");
		pack_cstr(pk, c->state == CONN_READY ? "ready" :
		    c->state == CONN_AUTH ? "handshake" : "closing");
	}
}
