/* check_repl_entry.c: the entries of a shard's raft group (repl_entry.c):
 * two state machines fed the same entries hold the same state, and one
 * restored from a snapshot taken after any entry, fed the rest, holds it
 * too (taken items included, what sessions bound to a key hold, and
 * their kept replies: kept through an epoch; a leader's, written from its
 * live sessions, too); entries that are not ours are refused. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "fsm.h"
#include "qpack.h"
#include "repl_entry.h"
#include "session.h"
#include "store_int.h"
#include "suiterun.h"
#include "worker.h"

#define NENTRIES 7

static void
fsm_apply(struct fsm *f, const msgpack_sbuffer *sb)
{
	struct repl_entry e;

	ck_assert_int_eq(repl_entry_read(sb->data, sb->size, &e), 0);
	ck_assert_int_eq(repl_entry_apply(&f->rp, &e), 0);
}

/* f's i-th parked request, in record order; also checks that its key
 * finds it. */
static struct rwait *
fsm_wait(struct fsm *f, size_t i)
{
	struct rwait	*x = TAILQ_FIRST(&f->rp.waits);

	while (i-- > 0 && x != NULL)
		x = TAILQ_NEXT(x, link);
	ck_assert_ptr_nonnull(x);
	fsm_assert_keyed(f, x);
	return x;
}

/* f's state as a snapshot (a log image). */
static void
fsm_snapshot(struct fsm *f, struct store_buf *b)
{
	memset(b, 0, sizeof(*b));
	snapshot_records(b, &f->reg, f->rp.tokens, &f->rp);
}

/* One record of a snapshot: the object it names ("" for tokens). */
struct rec {
	const char	*name;
	uint32_t	 namelen;
	const uint8_t	*p;
	size_t		 len;
	size_t		 at;	/* position: order within an object */
};

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	size_t		  n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int		  c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	if (x->namelen != y->namelen)
		return x->namelen < y->namelen ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* The snapshot in a form independent of the registry's hash order: its
 * records grouped by object (in name order), each object's in order. */
static void
canonical(const struct store_buf *b, msgpack_sbuffer *out)
{
	struct rec	*v = calloc(b->len / REC_HDR + 1, sizeof(*v));
	struct mp_reader r;
	size_t		 off = HDR_LEN, n = 0, i;
	uint32_t	 len, na;
	uint64_t	 type;

	ck_assert_ptr_nonnull(v);
	while (off < b->len) {
		len = get_le32(b->p + off + 4);
		v[n].p = b->p + off + REC_HDR;
		v[n].len = len;
		v[n].at = n;
		v[n].name = "";
		mp_reader_init(&r, v[n].p, len);
		ck_assert_int_eq(mp_read_array(&r, &na), 0);
		ck_assert_int_eq(mp_read_uint(&r, &type), 0);
		if (type != R_TOKENS && type != R_H_REPLY &&
		    type != R_H_BIND)
			ck_assert_int_eq(mp_read_str(&r, &v[n].name,
			    &v[n].namelen), 0);
		off += REC_HDR + len;
		n++;
	}
	qsort(v, n, sizeof(*v), rec_cmp);
	msgpack_sbuffer_init(out);
	for (i = 0; i < n; i++)
		msgpack_sbuffer_write(out, (const char *)v[i].p, v[i].len);
	free(v);
}

static void
assert_same_state(struct fsm *a, struct fsm *b)
{
	struct store_buf sa, sb;
	msgpack_sbuffer	 ca, cb;

	fsm_snapshot(a, &sa);
	fsm_snapshot(b, &sb);
	canonical(&sa, &ca);
	canonical(&sb, &cb);
	ck_assert_uint_gt(ca.size, 0);
	ck_assert_uint_eq(ca.size, cb.size);
	ck_assert_int_eq(memcmp(ca.data, cb.data, ca.size), 0);
	free(sa.p);
	free(sb.p);
	msgpack_sbuffer_destroy(&ca);
	msgpack_sbuffer_destroy(&cb);
}

/* A leader's loop passes, as records into entries. */
static msgpack_sbuffer entries[NENTRIES];

static void
put(struct store_buf *b, struct object *q, uint64_t id, const char *item)
{
	struct qref	r;
	uint8_t		raw[32];

	raw[0] = (uint8_t)(0xa0 | strlen(item));	/* a msgpack fixstr */
	memcpy(raw + 1, item, strlen(item));
	qref_of_bytes(id, raw, 1 + strlen(item), &r);
	rec_q_put(b, q, &r);
}

static void
recs_entry(int i, struct store_buf *b, uint64_t term)
{
	msgpack_sbuffer_init(&entries[i]);
	repl_entry_recs(&entries[i], 1, term, b);
	b->len = 0;
}

static void
epoch_entry(int i, int node, uint64_t term)
{
	static const uint8_t addrs[] = { 0x91, 0xa3, 'a', ':', '1' };

	msgpack_sbuffer_init(&entries[i]);
	repl_entry_epoch(&entries[i], node, term, addrs, sizeof(addrs), 2);
}

static void
make_entries(void)
{
	struct registry	 scratch;
	struct store_buf b = { 0 };
	struct object	*q, *d, *s, *ev, *lk;
	static const uint8_t k1[] = { 0xa2, 'k', '1' }, k2[] = { 0xa2, 'k', '2' };
	static const uint8_t one[] = { 0x01 };

	registry_init(&scratch);
	q = registry_add(&scratch, "jq", 2, OBJ_QUEUE);
	q->u.queue.joinable = true;
	d = registry_add(&scratch, "d", 1, OBJ_DICT);
	s = registry_add(&scratch, "s", 1, OBJ_SEM);
	qsem_init(&s->u.sem, 3, true);
	ev = registry_add(&scratch, "ev", 2, OBJ_EVENT);
	ev->u.event.set = true;
	lk = registry_add(&scratch, "lk", 2, OBJ_LOCK);

	epoch_entry(0, 1, 2);
	rec_q_open(&b, q);
	put(&b, q, 1, "a");
	put(&b, q, 2, "b");
	put(&b, q, 3, "c");
	put(&b, q, 4, "d");
	put(&b, q, 5, "e");
	rec_d_set(&b, d, (const char *)k1, sizeof(k1), one, sizeof(one));
	rec_s_set(&b, s, 3);
	rec_tokens(&b, 1000);
	recs_entry(1, &b, 2);
	rec_item(&b, q, R_Q_TAKE, 1);
	rec_item(&b, q, R_Q_TAKE, 2);
	rec_item(&b, q, R_Q_DONE, 1);
	rec_flag(&b, ev, R_E_SET, true);
	rec_flag(&b, lk, R_L_OPEN, false);
	recs_entry(2, &b, 2);
	put(&b, q, 6, "f");
	rec_item(&b, q, R_Q_TAKE, 3);
	rec_item(&b, q, R_Q_BACK, 3);
	rec_item(&b, q, R_Q_TAKE, 4);
	rec_d_del(&b, d, (const char *)k1, sizeof(k1));
	rec_d_set(&b, d, (const char *)k2, sizeof(k2), one, sizeof(one));
	recs_entry(3, &b, 2);
	/* A new leader: items 2 and 4, taken, go back to the head. */
	epoch_entry(4, 2, 3);
	rec_item(&b, q, R_Q_TAKE, 2);
	put(&b, q, 7, "g");
	rec_delete(&b, ev);
	rec_tokens(&b, 2000);
	recs_entry(5, &b, 3);
	rec_item(&b, q, R_Q_TAKE, 4);
	recs_entry(6, &b, 3);
	free(b.p);
	registry_free(&scratch);
}

#define K1	0x1111111111111111ull	/* two session keys */
#define K2	0x2222222222222222ull
#define K3	0x3333333333333333ull	/* bound, nothing kept */
#define K4	0x4444444444444444ull

/* Entries with the holds of keyed sessions (store_hold.c): they stay
 * through epochs until the new leader's records end them. */
static void
make_hold_entries(void)
{
	struct registry	 scratch;
	struct store_buf b = { 0 };
	struct object	*q, *s, *lk, *cv;

	registry_init(&scratch);
	q = registry_add(&scratch, "jq", 2, OBJ_QUEUE);
	q->u.queue.joinable = true;
	s = registry_add(&scratch, "s", 1, OBJ_SEM);
	qsem_init(&s->u.sem, 3, true);
	lk = registry_add(&scratch, "lk", 2, OBJ_LOCK);
	cv = registry_add(&scratch, "cv", 2, OBJ_COND);

	epoch_entry(0, 1, 2);
	rec_q_open(&b, q);
	put(&b, q, 1, "a");
	put(&b, q, 2, "b");
	put(&b, q, 3, "c");
	put(&b, q, 4, "d");
	rec_s_set(&b, s, 3);
	rec_flag(&b, lk, R_L_OPEN, false);
	rec_tokens(&b, 1000);
	recs_entry(1, &b, 2);
	rec_item(&b, q, R_Q_TAKE, 1);
	rec_pair(&b, q, R_H_ITEM, 1, K1);
	rec_item(&b, q, R_Q_TAKE, 2);		/* an unkeyed session's */
	rec_item(&b, q, R_Q_TAKE, 3);
	rec_pair(&b, q, R_H_ITEM, 3, K2);
	rec_h_lock(&b, lk, K1, 1, 5);
	rec_pair(&b, s, R_H_SEM, K1, 2);
	rec_h_lock(&b, cv, K2, 2, 6);		/* a Condition's own lock */
	rec_h_bind(&b, K1, true);		/* then its reply */
	rec_h_bind(&b, K3, true);
	rec_h_bind(&b, K4, true);
	/* Parked gets of K1, K2 and K3 on wq, in that order. */
	rec_h_wait(&b, R_H_WAIT, "wq", 2, K1, 11, WAIT_GET, 0, NULL, 0);
	rec_h_wait(&b, R_H_WAIT, "wq", 2, K2, 12, WAIT_GET, 0, NULL, 0);
	rec_h_wait(&b, R_H_WAIT, "wq", 2, K3, 13, WAIT_GET, 0, NULL, 0);
	/* K3's acquires parked on lk and s: their kinds are kept. */
	rec_h_wait(&b, R_H_WAIT, "lk", 2, K3, 14, WAIT_LOCK, 0, NULL, 0);
	rec_h_wait(&b, R_H_WAIT, "s", 1, K3, 15, WAIT_SEM, 0, NULL, 0);
	/* K3's cond.wait on cv, to hold it again at depth 2. */
	rec_h_wait(&b, R_H_WAIT, "cv", 2, K3, 16, WAIT_COND, 2, NULL, 0);
	/* K3's put of "p" on a full queue, with its item. */
	rec_h_wait(&b, R_H_WAIT, "wq", 2, K3, 17, WAIT_PUT, 0, "\xa1p", 2);
	rec_h_reply(&b, K1, 5, "\xc0\xa1x", 3);	/* nil, "x" */
	rec_h_reply(&b, K2, 7, NULL, 2000000);	/* too large: no bytes */
	recs_entry(2, &b, 2);
	/* A new leader: item 2 goes back; 1, 3 and the holds stay. */
	epoch_entry(3, 2, 3);
	rec_item(&b, q, R_Q_DONE, 3);
	rec_item(&b, cv, R_H_FREE, K2);
	rec_pair(&b, s, R_H_SEM, K1, 1);
	rec_h_lock(&b, lk, K2, 1, 7);		/* K1's hold of lk ends */
	rec_h_reply(&b, K1, 6, "\xc0\xa1y", 3);	/* replaces 5's */
	rec_h_reply(&b, K4, 0, NULL, 0);	/* ended (the older form) */
	rec_h_wait(&b, R_H_UNWAIT, "wq", 2, K1, 11, WAIT_GET, 0, NULL, 0);	/* answered */
	recs_entry(4, &b, 3);
	epoch_entry(5, 3, 4);
	rec_item(&b, q, R_Q_BACK, 1);
	rec_pair(&b, s, R_H_SEM, K1, 0);
	rec_h_bind(&b, K2, false);		/* K2's session ended */
	rec_h_bind(&b, K3, true);		/* no change */
	recs_entry(6, &b, 4);
	free(b.p);
	registry_free(&scratch);
}

/* The kept reply of key in f's replay state (NULL: none). */
static struct rreply *
fsm_reply(struct fsm *f, uint64_t skey)
{
	struct hnode	*n;

	for (n = hmap_first(&f->rp.replies); n != NULL;
	    n = hmap_next(&f->rp.replies, n))
		if (hmap_entry(n, struct rreply, node)->skey == skey)
			return hmap_entry(n, struct rreply, node);
	return NULL;
}

/* The hold of key on o in f's replay state (NULL: none). */
static struct rhold *
fsm_hold(struct fsm *f, const char *name, uint64_t skey)
{
	struct object	*o = registry_find(&f->reg, name, strlen(name));
	struct hnode	*n;
	struct rhold	*h;

	for (n = hmap_first(&f->rp.holds); o != NULL && n != NULL;
	    n = hmap_next(&f->rp.holds, n)) {
		h = hmap_entry(n, struct rhold, node);
		if (h->key.obj == o && h->key.skey == skey)
			return h;
	}
	return NULL;
}

static void
free_entries(void)
{
	int	i;

	for (i = 0; i < NENTRIES; i++)
		msgpack_sbuffer_destroy(&entries[i]);
}

START_TEST(test_same_entries_same_state)
{
	struct fsm	 a, b;
	struct object	*q;
	int		 i;

	make_entries();
	fsm_init(&a);
	fsm_init(&b);
	for (i = 0; i < NENTRIES; i++) {
		fsm_apply(&a, &entries[i]);
		fsm_apply(&b, &entries[i]);
		assert_same_state(&a, &b);
	}
	/* 7 put, 1 done, 2 and 4 taken again after the epoch. */
	q = registry_find(&a.reg, "jq", 2);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(q->u.queue.count, 4);
	ck_assert_uint_eq(q->u.queue.unfinished, 6);
	ck_assert_ptr_null(registry_find(&a.reg, "ev", 2));
	ck_assert_uint_eq(a.rp.tokens, 2000);
	fsm_free(&a);
	fsm_free(&b);
	free_entries();
}
END_TEST

START_TEST(test_holds_same_state)
{
	struct fsm	 a, b;
	struct object	*q;
	struct rhold	*h;
	struct rreply	*x;
	int		 i;

	make_hold_entries();
	fsm_init(&a);
	fsm_init(&b);
	for (i = 0; i < NENTRIES; i++) {
		fsm_apply(&a, &entries[i]);
		fsm_apply(&b, &entries[i]);
		assert_same_state(&a, &b);
		if (i != 3)
			continue;
		/* After the epoch: the keyed items and holds are kept. */
		ck_assert_uint_eq(a.rp.taken.count, 2);
		ck_assert_uint_eq(a.rp.holds.count, 3);
		ck_assert_ptr_nonnull(h = fsm_hold(&a, "lk", K1));
		ck_assert_uint_eq(h->depth, 1);
		ck_assert_uint_eq(h->token, 5);
		ck_assert_ptr_nonnull(h = fsm_hold(&a, "s", K1));
		ck_assert_uint_eq(h->permits, 2);
		ck_assert_ptr_nonnull(h = fsm_hold(&a, "cv", K2));
		ck_assert_uint_eq(h->depth, 2);
		q = registry_find(&a.reg, "jq", 2);
		ck_assert_uint_eq(q->u.queue.count, 2);	/* 2 back, and 4 */
		/* The parked gets, in order. */
		ck_assert_uint_eq(a.rp.nwaits, 7);
		ck_assert_uint_eq(fsm_wait(&a, 0)->skey, K1);
		ck_assert_uint_eq(fsm_wait(&a, 1)->skey, K2);
		ck_assert_uint_eq(fsm_wait(&a, 2)->skey, K3);
		ck_assert_uint_eq(fsm_wait(&a, 2)->msgid, 13);
		ck_assert_int_eq(fsm_wait(&a, 2)->kind, WAIT_GET);
		ck_assert_int_eq(fsm_wait(&a, 3)->kind, WAIT_LOCK);
		ck_assert_int_eq(fsm_wait(&a, 4)->kind, WAIT_SEM);
		ck_assert_int_eq(fsm_wait(&a, 5)->kind, WAIT_COND);
		ck_assert_uint_eq(fsm_wait(&a, 5)->depth, 2);
		ck_assert_int_eq(fsm_wait(&a, 6)->kind, WAIT_PUT);
		ck_assert_uint_eq(fsm_wait(&a, 6)->itemlen, 2);
		ck_assert_int_eq(memcmp(fsm_wait(&a, 6)->item, "\xa1p", 2), 0);
		/* The kept replies and bound keys too. */
		ck_assert_uint_eq(a.rp.replies.count, 4);
		ck_assert_ptr_nonnull(x = fsm_reply(&a, K3));
		ck_assert_uint_eq(x->msgid, 0);
		ck_assert_ptr_nonnull(x = fsm_reply(&a, K4));
		ck_assert_uint_eq(x->msgid, 0);
		ck_assert_ptr_nonnull(x = fsm_reply(&a, K1));
		ck_assert_uint_eq(x->msgid, 5);
		ck_assert_uint_eq(x->len, 3);
		ck_assert_int_eq(memcmp(x->raw, "\xc0\xa1x", 3), 0);
		ck_assert_ptr_nonnull(x = fsm_reply(&a, K2));
		ck_assert_uint_eq(x->msgid, 7);
		ck_assert_ptr_null(x->raw);
	}
	/* K1's get answered, K2's dropped with its session: K3's left. */
	ck_assert_uint_eq(a.rp.nwaits, 5);
	ck_assert_uint_eq(fsm_wait(&a, 0)->skey, K3);
	ck_assert_int_eq(memcmp(fsm_wait(&a, 0)->name, "wq", 2), 0);
	ck_assert_int_eq(fsm_wait(&a, 1)->kind, WAIT_LOCK);
	ck_assert_uint_eq(fsm_wait(&a, 2)->msgid, 15);
	ck_assert_uint_eq(fsm_wait(&a, 3)->depth, 2);
	ck_assert_int_eq(memcmp(fsm_wait(&a, 4)->item, "\xa1p", 2), 0);
	/* K1's reply replaced, K2 and K4 forgotten, K3 still bound. */
	ck_assert_uint_eq(a.rp.replies.count, 2);
	ck_assert_ptr_nonnull(x = fsm_reply(&a, K3));
	ck_assert_uint_eq(x->msgid, 0);
	ck_assert_ptr_null(x->raw);
	ck_assert_ptr_nonnull(x = fsm_reply(&a, K1));
	ck_assert_uint_eq(x->msgid, 6);
	ck_assert_int_eq(memcmp(x->raw, "\xc0\xa1y", 3), 0);
	/* The last records gave back item 1 and ended the holds but K2's
	 * of lk. */
	ck_assert_uint_eq(a.rp.taken.count, 0);
	ck_assert_uint_eq(a.rp.holds.count, 1);
	ck_assert_ptr_nonnull(h = fsm_hold(&a, "lk", K2));
	ck_assert_uint_eq(h->token, 7);
	q = registry_find(&a.reg, "jq", 2);
	ck_assert_uint_eq(q->u.queue.count, 3);
	ck_assert_uint_eq(q->u.queue.unfinished, 3);
	fsm_free(&a);
	fsm_free(&b);
	free_entries();
}
END_TEST

/* A snapshot after entry i, restored into a fresh state machine and fed
 * the rest, ends where the machine fed every entry does. */
static void
snapshot_then_rest(int _i, void (*make)(void))
{
	struct fsm	 a, c, d;
	struct store_buf snap;
	size_t		 end, bad;
	int		 i;

	make();
	fsm_init(&a);
	fsm_init(&c);
	fsm_init(&d);
	for (i = 0; i < NENTRIES; i++)
		fsm_apply(&a, &entries[i]);
	for (i = 0; i <= _i; i++)
		fsm_apply(&c, &entries[i]);
	fsm_snapshot(&c, &snap);
	ck_assert_int_eq(replay_scan(snap.p, snap.len, &d.rp, &end, &bad,
	    "snapshot"), SCAN_CLEAN);
	assert_same_state(&c, &d);
	ck_assert_uint_eq(c.rp.replies.count, d.rp.replies.count);
	for (i = _i + 1; i < NENTRIES; i++)
		fsm_apply(&d, &entries[i]);
	assert_same_state(&a, &d);
	free(snap.p);
	fsm_free(&a);
	fsm_free(&c);
	fsm_free(&d);
	free_entries();
}

START_TEST(test_snapshot_then_rest)
{
	snapshot_then_rest(_i, make_entries);
}
END_TEST

START_TEST(test_holds_snapshot_then_rest)
{
	snapshot_then_rest(_i, make_hold_entries);
}
END_TEST

/* A leader's snapshot is written from its live sessions (o->holds): one
 * bound to K1 holds an RLock twice, a permit, a Condition's lock and two
 * taken items; an unbound one a third item.  Restored on a follower and
 * past an epoch, the replay state holds K1's, and only the unbound
 * session's item is back in its queue. */
START_TEST(test_leader_snapshot_holds)
{
	struct worker	*w = calloc(1, sizeof(*w));
	struct registry	 reg;
	struct store_buf snap = { 0 };
	struct session	*s;
	struct hold	*h;
	struct object	*q, *sem, *lk, *cv, *o;
	struct taken	*t;
	struct qitem	*it;
	struct fsm	 d;
	struct rhold	*rh;
	size_t		 end, bad;
	uint64_t	 id;

	hmap_init(&w->sessions);
	registry_init(&reg);
	q = registry_add(&reg, "jq", 2, OBJ_QUEUE);
	q->u.queue.joinable = true;
	q->opened = true;
	for (id = 1; id <= 4; id++)
		queue_push(&q->u.queue, id, "\xa1x", 2);
	q->u.queue.unfinished = 4;
	sem = registry_add(&reg, "s", 1, OBJ_SEM);
	qsem_init(&sem->u.sem, 2, false);
	sem->opened = true;
	lk = registry_add(&reg, "lk", 2, OBJ_LOCK);
	lk->u.lock.recursive = true;
	lk->opened = true;
	cv = registry_add(&reg, "cv", 2, OBJ_COND);

	s = session_get(w, 7);
	s->key = K1;
	for (id = 1; id <= 3; id++) {
		h = hold_get(w, id == 3 ? 8 : 7, q);	/* 8: unbound */
		it = queue_remove(&q->u.queue, id);
		TAILQ_INSERT_TAIL(&h->items, it, link);
		h->nitems++;
	}
	hold_get(w, 7, sem)->permits = 1;
	sem->u.sem.value = 1;
	hold_get(w, 7, lk);
	lk->u.lock.owner = 7;
	lk->u.lock.depth = 2;
	lk->u.lock.token = 77;
	hold_get(w, 7, cv);
	cv->u.cond.lock.owner = 7;
	cv->u.cond.lock.depth = 1;
	cv->u.cond.lock.token = 78;

	snapshot_records(&snap, &reg, 100, NULL);
	fsm_init(&d);
	ck_assert_int_eq(replay_scan(snap.p, snap.len, &d.rp, &end, &bad,
	    "snapshot"), SCAN_CLEAN);
	epoch_entry(0, 2, 3);
	fsm_apply(&d, &entries[0]);
	msgpack_sbuffer_destroy(&entries[0]);

	ck_assert_ptr_nonnull(rh = fsm_hold(&d, "lk", K1));
	ck_assert_uint_eq(rh->depth, 2);
	ck_assert_uint_eq(rh->token, 77);
	ck_assert_ptr_nonnull(rh = fsm_hold(&d, "cv", K1));
	ck_assert_uint_eq(rh->depth, 1);
	ck_assert_uint_eq(rh->token, 78);
	ck_assert_ptr_nonnull(rh = fsm_hold(&d, "s", K1));
	ck_assert_uint_eq(rh->permits, 1);
	ck_assert_int_eq(registry_find(&d.reg, "s", 1)->u.sem.value, 2);
	o = registry_find(&d.reg, "jq", 2);
	ck_assert_uint_eq(d.rp.taken.count, 2);
	for (id = 1; id <= 2; id++) {
		ck_assert_ptr_nonnull(t = replay_taken_find(&d.rp, o, id));
		ck_assert_uint_eq(t->skey, K1);
	}
	/* Item 3 back at the head, then 4; all 4 unfinished. */
	ck_assert_uint_eq(o->u.queue.count, 2);
	ck_assert_uint_eq(o->u.queue.unfinished, 4);

	free(snap.p);
	fsm_free(&d);
	session_find(w, 7)->key = 0;
	for (id = 7; id <= 8; id++) {
		/* The last hold's free frees its session. */
		while ((s = session_find(w, id)) != NULL) {
			h = TAILQ_FIRST(&s->holds);
			while ((it = TAILQ_FIRST(&h->items)) != NULL) {
				TAILQ_REMOVE(&h->items, it, link);
				qitem_free(it);
			}
			hold_free(w, h);
		}
	}
	hmap_free(&w->sessions);
	registry_free(&reg);
	free(w);
}
END_TEST

START_TEST(test_foreign_entries_refused)
{
	struct repl_entry e;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	static const uint8_t zeros[8];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* Another version. */
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 2);
	msgpack_pack_str(&pk, 4);
	msgpack_pack_str_body(&pk, "recs", 4);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint8(&pk, 1);
	ck_assert_int_eq(repl_entry_read(sb.data, sb.size, &e), -1);
	/* Padding: up to 7 zeros, not 8, and nothing else. */
	epoch_entry(0, 1, 1);
	msgpack_sbuffer_write(&entries[0], (const char *)zeros, 7);
	ck_assert_int_eq(repl_entry_read(entries[0].data, entries[0].size, &e),
	    0);
	ck_assert_int_eq(e.kind, REPL_EPOCH);
	msgpack_sbuffer_write(&entries[0], (const char *)zeros, 1);
	ck_assert_int_eq(repl_entry_read(entries[0].data, entries[0].size, &e),
	    -1);
	entries[0].data[entries[0].size - 2] = 1;
	entries[0].size -= 1;
	ck_assert_int_eq(repl_entry_read(entries[0].data, entries[0].size, &e),
	    -1);
	msgpack_sbuffer_destroy(&entries[0]);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* An epoch with the node's listeners (--worker-ports off): 7 elements,
 * both lists as one span, written back the same; 6 without them. */
START_TEST(test_epoch_listeners)
{
	static const uint8_t two[] = { 0x90, 0x91, 0xa3, 'b', ':', '2' };
	static const uint8_t one[] = { 0x91, 0xa3, 'a', ':', '1' };
	msgpack_sbuffer	 sb, again;
	struct repl_entry e;

	msgpack_sbuffer_init(&sb);
	repl_entry_epoch(&sb, 3, 9, two, sizeof(two), 2);
	ck_assert_uint_eq((uint8_t)sb.data[0], 0x97);
	ck_assert_int_eq(repl_entry_read(sb.data, sb.size, &e), 0);
	ck_assert_int_eq(e.kind, REPL_EPOCH);
	ck_assert_uint_eq(e.node, 3);
	ck_assert_uint_eq(e.shards, 2);
	ck_assert_uint_eq(e.addrs_len, sizeof(two));
	ck_assert(memcmp(e.addrs, two, sizeof(two)) == 0);
	msgpack_sbuffer_init(&again);
	repl_entry_epoch(&again, 3, 9, e.addrs, e.addrs_len, 2);
	ck_assert_uint_eq(again.size, sb.size);
	ck_assert(memcmp(again.data, sb.data, sb.size) == 0);
	msgpack_sbuffer_destroy(&again);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_init(&sb);
	repl_entry_epoch(&sb, 3, 9, one, sizeof(one), 2);
	ck_assert_uint_eq((uint8_t)sb.data[0], 0x96);
	ck_assert_int_eq(repl_entry_read(sb.data, sb.size, &e), 0);
	ck_assert_uint_eq(e.addrs_len, sizeof(one));
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

static Suite *
repl_entry_suite(void)
{
	Suite	*s = suite_create("check_repl_entry");
	TCase	*tc = tcase_create("entries");

	tcase_add_test(tc, test_same_entries_same_state);
	tcase_add_loop_test(tc, test_snapshot_then_rest, 0, NENTRIES - 1);
	tcase_add_test(tc, test_holds_same_state);
	tcase_add_loop_test(tc, test_holds_snapshot_then_rest, 0, NENTRIES - 1);
	tcase_add_test(tc, test_leader_snapshot_holds);
	tcase_add_test(tc, test_foreign_entries_refused);
	tcase_add_test(tc, test_epoch_listeners);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(repl_entry_suite(), CK_FORK_GETENV);
}
