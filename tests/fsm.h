/* fsm.h: a follower's state machine as the unit tests build it: a
 * registry and the replay state that feeds it (check_repl_entry,
 * check_store_wait). */
#ifndef TESTS_FSM_H
#define TESTS_FSM_H

#include <string.h>

#include "store_int.h"

struct fsm {
	struct registry	reg;
	struct replay	rp;
};

static inline void
fsm_init(struct fsm *f)
{
	memset(f, 0, sizeof(*f));
	registry_init(&f->reg);
	f->rp.reg = &f->reg;
	hmap_init(&f->rp.taken);
}

static inline void
fsm_free(struct fsm *f)
{
	replay_discard(&f->rp);
	registry_free(&f->reg);
}

#endif
