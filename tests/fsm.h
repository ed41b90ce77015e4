/* fsm.h: a follower's state machine as the unit tests build it: a
 * registry and the replay state that feeds it (check_repl_entry,
 * check_store_wait). */
#ifndef TESTS_FSM_H
#define TESTS_FSM_H

#include <check.h>

#include "store_int.h"

struct fsm {
	struct registry	reg;
	struct replay	rp;
};

static inline void
fsm_init(struct fsm *f)
{
	registry_init(&f->reg);
	replay_init(&f->rp, &f->reg);
}

static inline void
fsm_free(struct fsm *f)
{
	replay_discard(&f->rp);
	registry_free(&f->reg);
}

/* x, one of f's parked requests, is found through its key too. */
static inline void
fsm_assert_keyed(struct fsm *f, const struct rwait *x)
{
	struct hnode	*n;
	struct rwait	*y;

	n = hmap_find(&f->rp.waitkeys, &x->skey, sizeof(x->skey));
	ck_assert_ptr_nonnull(n);
	ck_assert_ptr_eq(hmap_entry(n, struct rwkey, node), x->key);
	TAILQ_FOREACH(y, &x->key->waits, klink)
		if (y == x)
			return;
	ck_abort_msg("a parked request not in its key's list");
}

#endif
