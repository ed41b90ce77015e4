/* check_queue.h: what check_queue's files share. */
#ifndef CHECK_QUEUE_H
#define CHECK_QUEUE_H

#include <check.h>

#include "qlock.h"
#include "obj_queue.h"
#include "waitq.h"

extern struct queue	q;	/* the queue under test */
extern struct waitlist	woken;	/* what the operations woke */

/* check_queue_model.c */
void	queue_model_tests(TCase *);
/* check_queue_pack.c */
void	queue_pack_tests(TCase *);

#endif /* CHECK_QUEUE_H */
