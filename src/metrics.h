/* metrics.h: Prometheus metrics: the master's HTTP endpoint, which asks
 * every worker for a snapshot of its counters and renders their sum, and
 * the worker's half that packs the snapshot. */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>

struct event_base;
struct metrics;
struct worker;

/* The master's way to reach its workers: send QMSG_STATS_REQ with tag to
 * each running one, set asked[id] for each, and return how many. */
typedef int (*metrics_ask_fn)(void *arg, uint64_t tag, uint8_t *asked);

/* Master: serve GET /metrics on the listening socket fd (closed by
 * metrics_free).  restarts is the master's restart counter, read at each
 * scrape. */
struct metrics *metrics_new(struct event_base *base, int fd, int nworkers,
	    const uint64_t *restarts, metrics_ask_fn ask, void *arg);
/* Master: a QMSG_STATS_REPLY is waiting on worker id's control socket
 * (mt may be NULL: it is read and dropped). */
void	metrics_reply(struct metrics *mt, int id, int fd);
/* Master: worker id died; do not wait for its snapshot. */
void	metrics_worker_gone(struct metrics *mt, int id);
/* A child just forked from the master: close its copies of the HTTP
 * sockets and touch nothing else (the master still serves them). */
void	metrics_forget(struct metrics *mt);
/* Master, at exit: answer what is waiting (503) and free everything. */
void	metrics_free(struct metrics *mt);

/* Worker: answer the master's QMSG_STATS_REQ tag with a snapshot. */
void	metrics_worker_reply(struct worker *w, uint64_t tag);
/* The wire name of error counter slot i, or NULL for an unused slot. */
const char *metrics_code_name(int slot);

#endif
