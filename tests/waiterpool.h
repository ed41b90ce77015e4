/* waiterpool.h: waiters for the unit tests of the pure objects, each
 * remembered so that a test's teardown frees every one it made. */
#ifndef WAITERPOOL_H
#define WAITERPOOL_H

#include <stdint.h>

#include "waitq.h"

/* A fresh, unparked waiter for session sess, status 12345 ("none yet"). */
struct waiter	*pool_waiter(uint64_t sess);
/* Take every waiter made since the last call off its queue and free it,
 * with the queue item it holds, if any. */
void		 pool_free(void);
/* How many waiters are on l (what an operation woke, say). */
size_t		 waitlist_len(const struct waitlist *l);

#endif
