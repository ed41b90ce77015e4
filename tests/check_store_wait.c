/*
 * check_store_wait: the parked requests of keyed sessions in a follower's
 * replay state (src/store_wait.c): kept in record order whatever leaves,
 * and found by key, so that an R_H_UNWAIT or a key's end takes out exactly
 * its own, wherever it stands.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "fsm.h"
#include "store_int.h"
#include "suiterun.h"
#include "worker.h"

#define K1	0x1111
#define K2	0x2222
#define K3	0x3333

/* Apply b's records to f, then empty b. */
static void
fsm_apply(struct fsm *f, struct store_buf *b)
{
	size_t		off = 0;
	uint32_t	len;

	while (off < b->len) {
		len = get_le32(b->p + off + 4);
		ck_assert_int_eq(replay_record(&f->rp, b->p + off + REC_HDR,
		    len), 0);
		off += REC_HDR + len;
	}
	b->len = 0;
}

static void
park(struct store_buf *b, int type, const char *name, uint64_t skey,
    uint64_t msgid)
{
	rec_h_wait(b, type, name, (uint32_t)strlen(name), skey, msgid,
	    WAIT_GET, 0, NULL, 0);
}

/* f's parked requests, as "name:msgid ..." in record order; each also
 * reached through its key's list, in the same relative order. */
static const char *
fsm_waits(struct fsm *f)
{
	static char	 s[256];
	struct rwait	*x, *prev = NULL;
	size_t		 len = 0, count = 0;

	s[0] = '\0';
	TAILQ_FOREACH(x, &f->rp.waits, link) {
		ck_assert_ptr_eq(TAILQ_PREV(x, rwaitq, link), prev);
		fsm_assert_keyed(f, x);
		len += (size_t)snprintf(s + len, sizeof(s) - len, "%s%.*s:%llu",
		    len == 0 ? "" : " ", (int)x->namelen, x->name,
		    (unsigned long long)x->msgid);
		count++;
		prev = x;
	}
	ck_assert_ptr_eq(TAILQ_LAST(&f->rp.waits, rwaitq), prev);
	ck_assert_uint_eq(f->rp.nwaits, count);
	return s;
}

START_TEST(test_unwait_anywhere)
{
	struct store_buf b;
	struct fsm	 f;

	memset(&b, 0, sizeof(b));
	fsm_init(&f);
	park(&b, R_H_WAIT, "a", K1, 1);
	park(&b, R_H_WAIT, "a", K2, 2);
	park(&b, R_H_WAIT, "b", K1, 3);
	park(&b, R_H_WAIT, "a", K3, 4);
	park(&b, R_H_WAIT, "a", K1, 5);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "a:1 a:2 b:3 a:4 a:5");
	/* One in the middle of K1's. */
	park(&b, R_H_UNWAIT, "b", K1, 3);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "a:1 a:2 a:4 a:5");
	/* Not K1's 5 on another name, no key's of another, an unknown key:
	 * nothing leaves. */
	park(&b, R_H_UNWAIT, "b", K1, 5);
	park(&b, R_H_UNWAIT, "a", K2, 5);
	park(&b, R_H_UNWAIT, "a", 0x9999, 1);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "a:1 a:2 a:4 a:5");
	/* The last one, then the first. */
	park(&b, R_H_UNWAIT, "a", K1, 5);
	park(&b, R_H_UNWAIT, "a", K1, 1);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "a:2 a:4");
	ck_assert_uint_eq(f.rp.waitkeys.count, 2);	/* K1's gone */
	park(&b, R_H_WAIT, "c", K1, 6);
	park(&b, R_H_UNWAIT, "a", K2, 2);
	park(&b, R_H_UNWAIT, "a", K3, 4);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "c:6");
	ck_assert_uint_eq(f.rp.waitkeys.count, 1);
	free(b.p);
	fsm_free(&f);
}
END_TEST

START_TEST(test_drop_by_key_and_name)
{
	struct store_buf b;
	struct fsm	 f;
	struct registry	 scratch;	/* names the records' objects */
	struct object	*o;

	memset(&b, 0, sizeof(b));
	fsm_init(&f);
	park(&b, R_H_WAIT, "a", K1, 1);
	park(&b, R_H_WAIT, "b", K2, 2);
	park(&b, R_H_WAIT, "a", K2, 3);
	park(&b, R_H_WAIT, "b", K1, 4);
	park(&b, R_H_WAIT, "b", K3, 5);
	park(&b, R_H_WAIT, "a", K3, 6);
	rec_h_bind(&b, K2, true);
	rec_h_bind(&b, K1, true);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "a:1 b:2 a:3 b:4 b:5 a:6");
	/* K2's session ends: both of its go, wherever they stand. */
	rec_h_bind(&b, K2, false);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "a:1 b:4 b:5 a:6");
	/* b is deleted: every key's waits on it go. */
	registry_init(&scratch);
	o = registry_add(&scratch, "b", 1, OBJ_QUEUE);
	ck_assert_ptr_nonnull(o);
	rec_delete(&b, o);
	registry_free(&scratch);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "a:1 a:6");
	rec_h_bind(&b, K1, false);
	rec_h_bind(&b, K3, false);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "");
	ck_assert_uint_eq(f.rp.waitkeys.count, 0);
	/* And again from empty. */
	park(&b, R_H_WAIT, "a", K3, 7);
	fsm_apply(&f, &b);
	ck_assert_str_eq(fsm_waits(&f), "a:7");
	free(b.p);
	fsm_free(&f);
}
END_TEST

static Suite *
store_wait_suite(void)
{
	Suite	*s = suite_create("check_store_wait");
	TCase	*tc = tcase_create("waits");

	tcase_add_test(tc, test_unwait_anywhere);
	tcase_add_test(tc, test_drop_by_key_and_name);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return suite_run(store_wait_suite(), CK_FORK_GETENV);
}
