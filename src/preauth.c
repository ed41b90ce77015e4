/* preauth.c: the limits on connections that have not authenticated yet:
 * how many per worker and per address, and the back-off of addresses
 * whose handshakes fail. */
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "preauth.h"
#include "util.h"
#include "worker.h"

void
preauth_init(struct preauth *p)
{
	memset(p, 0, sizeof(*p));
	hmap_init(&p->counts);
	TAILQ_INIT(&p->conns);
}

void
preauth_free(struct preauth *p)
{
	struct hnode	*n;

	while ((n = hmap_first(&p->counts)) != NULL) {
		hmap_remove(&p->counts, n);
		free(hmap_entry(n, struct preauth_count, node));
	}
	hmap_free(&p->counts);
}

void
preauth_key(const struct sockaddr *sa, struct preauth_key *k)
{
	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		k->family = AF_INET;
		memcpy(k->addr, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			/* IPv4 on a dual-stack socket: the IPv4 address,
			 * not the /64 that all of IPv4 shares. */
			k->family = AF_INET;
			memcpy(k->addr, &sin6->sin6_addr.s6_addr[12], 4);
			return;
		}
		k->family = AF_INET6;
		memcpy(k->addr, &sin6->sin6_addr, 8);	/* the /64 */
	}
}

void
preauth_refused(struct worker *w, const char *why)
{
	w->stats.unauth_refused++;
	if (now_mono() - w->preauth.warned >= 10) {	/* once in a while */
		log_warnx("%s (%llu connections refused or dropped before "
		    "authenticating so far)", why,
		    (unsigned long long)w->stats.unauth_refused);
		w->preauth.warned = now_mono();
	}
}

static struct preauth_count *
count_find(struct preauth *p, const struct preauth_key *k)
{
	struct hnode	*n = hmap_find(&p->counts, k, sizeof(*k));

	return n == NULL ? NULL : hmap_entry(n, struct preauth_count, node);
}

bool
preauth_admit(struct worker *w, const struct preauth_key *k)
{
	struct preauth_count *pc;

	if (k->family == 0)
		return true;
	pc = count_find(&w->preauth, k);
	return pc == NULL || pc->n < (unsigned)w->conf->max_unauth_per_addr;
}

void
preauth_add(struct worker *w, struct conn *c)
{
	struct preauth		*p = &w->preauth;
	struct preauth_count	*pc;

	TAILQ_INSERT_TAIL(&p->conns, c, preauth_link);
	c->preauth = true;
	p->n++;
	if (c->akey.family == 0)
		return;
	if ((pc = count_find(p, &c->akey)) == NULL) {
		pc = xcalloc(1, sizeof(*pc));
		pc->key = c->akey;
		hmap_insert(&p->counts, &pc->node, &pc->key, sizeof(pc->key));
	}
	pc->n++;
}

void
preauth_remove(struct worker *w, struct conn *c)
{
	struct preauth		*p = &w->preauth;
	struct preauth_count	*pc;

	if (!c->preauth)
		return;
	TAILQ_REMOVE(&p->conns, c, preauth_link);
	c->preauth = false;
	p->n--;
	if (c->akey.family == 0 || (pc = count_find(p, &c->akey)) == NULL)
		return;
	if (--pc->n == 0) {
		hmap_remove(&p->counts, &pc->node);
		free(pc);
	}
}

/* The penalty slot of k, or NULL. */
static struct preauth_penalty *
penalty_find(struct preauth *p, const struct preauth_key *k)
{
	size_t	i;

	for (i = 0; i < PREAUTH_PENALTIES; i++) {
		if (p->pen[i].fails > 0 &&
		    memcmp(&p->pen[i].key, k, sizeof(*k)) == 0)
			return &p->pen[i];
	}
	return NULL;
}

double
preauth_delay(struct worker *w, const struct preauth_key *k)
{
	struct preauth_penalty	*pen;
	double			 now;

	if (k->family == 0 || (pen = penalty_find(&w->preauth, k)) == NULL)
		return 0;
	now = now_mono();
	return pen->until > now ? pen->until - now : 0;
}

void
preauth_failed(struct worker *w, const struct preauth_key *k)
{
	struct preauth		*p = &w->preauth;
	struct preauth_penalty	*pen;
	double			 now = now_mono(), delay;
	size_t			 i;
	unsigned		 doublings;

	if (k->family == 0)
		return;
	if ((pen = penalty_find(p, k)) == NULL) {
		/* A free slot, or the one whose last failure is oldest. */
		pen = &p->pen[0];
		for (i = 0; i < PREAUTH_PENALTIES && pen->fails > 0; i++) {
			if (p->pen[i].fails == 0 || p->pen[i].last < pen->last)
				pen = &p->pen[i];
		}
		memset(pen, 0, sizeof(*pen));
		pen->key = *k;
	}
	if (pen->fails > 0 && now - pen->last > PREAUTH_FORGIVE)
		pen->fails = 0;
	pen->fails++;
	pen->last = now;
	doublings = pen->fails - 1 < 16 ? pen->fails - 1 : 16;
	delay = PREAUTH_DELAY_MIN * (double)(1u << doublings);
	if (delay > PREAUTH_DELAY_MAX)
		delay = PREAUTH_DELAY_MAX;
	pen->until = now + delay;
}
