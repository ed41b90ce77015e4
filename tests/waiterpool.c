/* waiterpool.c: the unit tests' pool of waiters. */
#include <stdlib.h>

#include "obj_queue.h"
#include "util.h"
#include "waiterpool.h"

static struct waiter	**pool;		/* every waiter made, until pool_free */
static size_t		  npool, poolcap;

struct waiter *
pool_waiter(uint64_t sess)
{
	struct waiter	*w = xcalloc(1, sizeof(*w));

	w->ctx.sess = sess;
	w->heap_idx = NO_SLOT;
	w->deadline = -1;
	w->status = 12345;	/* no status yet */
	if (npool == poolcap) {
		poolcap = poolcap == 0 ? 16 : poolcap * 2;
		pool = xrealloc(pool, poolcap * sizeof(*pool));
	}
	pool[npool++] = w;
	return w;
}

void
pool_free(void)
{
	size_t	i;

	for (i = 0; i < npool; i++) {
		waitq_remove(pool[i]);
		if (pool[i]->item != NULL)
			qitem_free(pool[i]->item);
		free(pool[i]);
	}
	free(pool);
	pool = NULL;
	npool = poolcap = 0;
}

size_t
waitlist_len(const struct waitlist *l)
{
	const struct waiter	*w;
	size_t			 n = 0;

	TAILQ_FOREACH(w, l, link)
		n++;
	return n;
}
