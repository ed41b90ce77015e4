/* repl_lead.c: who leads each shard.  Worker g follows its own group and
 * tells its siblings (QMSG_LEADER, [node, [address...]], or with the
 * leader's listeners [node, [], [listener...]]) whenever the leader or
 * its addresses change, so that any worker answers `topology` with every
 * shard's leader and a named request for a shard this node does not
 * serve by relaying it (src/xfwd.c) or with NotLeader naming the
 * leader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "cluster.h"
#include "config.h"
#include "log.h"
#include "mp.h"
#include "peer.h"
#include "qlock.h"
#include "qmsg.h"
#include "reply.h"
#include "repl_entry.h"
#include "repl_int.h"
#include "topo.h"
#include "util.h"
#include "worker.h"

static const uint8_t no_addrs[1] = { 0x90 };	/* an empty msgpack array */

static void
lead_set(struct repl_lead *l, int node, const uint8_t *addrs, size_t len)
{
	l->node = node;
	free(l->addrs);
	l->addrs = xmalloc(len);
	memcpy(l->addrs, addrs, len);
	l->len = len;
}

void
repl_lead_init(struct repl *r)
{
	int	i;

	r->leads = xcalloc((size_t)r->w->nworkers, sizeof(*r->leads));
	for (i = 0; i < r->w->nworkers; i++)
		lead_set(&r->leads[i], 0, no_addrs, sizeof(no_addrs));
}

void
repl_lead_free(struct repl *r)
{
	int	i;

	for (i = 0; i < r->w->nworkers; i++)
		free(r->leads[i].addrs);
	free(r->leads);
}

/* Our group's leader, as [node, addrs], to sibling id. */
static void
lead_send(struct repl *r, int id)
{
	struct repl_lead *l = &r->leads[r->w->id];
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 1 + repl_entry_lists(l->addrs, l->len));
	msgpack_pack_int(&pk, l->node);
	pack_raw(&pk, l->addrs, l->len);
	(void)peer_send(r->w, id, QMSG_LEADER, 0, 0, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

void
repl_lead_check(struct repl *r)
{
	struct repl_lead *l = &r->leads[r->w->id];
	const uint8_t	*addrs = no_addrs;
	size_t		 len = sizeof(no_addrs);
	raft_id		 id;
	const char	*addr;
	int		 i;

	raft_leader(&r->raft, &id, &addr);
	/* Its addresses are known once its epoch is applied here. */
	if (id != 0 && (int)id == r->epoch_node) {
		addrs = r->epoch_addrs;
		len = r->epoch_len;
	}
	/* Always once: a restarted worker's siblings may hold what its
	 * previous incarnation told them. */
	if (r->lead_sent && l->node == (int)id && l->len == len &&
	    memcmp(l->addrs, addrs, len) == 0)
		return;
	r->lead_sent = true;
	lead_set(l, (int)id, addrs, len);
	for (i = 0; i < r->w->nworkers; i++)
		if (i != r->w->id)
			lead_send(r, i);
}

void
repl_peer_up(struct worker *w, int id)
{
	if (w->repl != NULL)
		lead_send(w->repl, id);
}

void
repl_peer_leader(struct worker *w, int id, const uint8_t *p, size_t len)
{
	struct mp_reader rd;
	uint32_t	 n;
	int64_t		 node;
	const uint8_t	*raw, *start;
	size_t		 rawlen;

	mp_reader_init(&rd, p, len);
	if (w->repl == NULL || mp_check(p, len) == -1 ||
	    mp_read_array(&rd, &n) == -1 || (n != 2 && n != 3) ||
	    mp_read_int(&rd, &node) == -1)
		fatalx("worker %d sent a bad leader message", id);
	start = rd.p;
	while (--n > 0)
		if (mp_skip(&rd, &raw, &rawlen) == -1)
			fatalx("worker %d sent a bad leader message", id);
	lead_set(&w->repl->leads[id], (int)node, start,
	    (size_t)(rd.p - start));
}

/* The leader's first address for the shard: its worker's own, or
 * without one (--worker-ports off) its node's first listener, whose
 * worker passes the request on to the shard's; NULL if none. */
static const char *
first_addr(const struct repl_lead *l, uint32_t *len)
{
	struct mp_reader rd;
	uint32_t	 n;
	const char	*s;

	mp_reader_init(&rd, l->addrs, l->len);
	if (mp_read_array(&rd, &n) == -1)
		return NULL;
	if (n == 0 && (rd.p == rd.end || mp_read_array(&rd, &n) == -1))
		return NULL;
	if (n == 0 || mp_read_str(&rd, &s, len) == -1)
		return NULL;
	return s;
}

void
repl_refuse(struct worker *w, const struct reqctx *ctx)
{
	struct repl_lead *l = &w->repl->leads[w->id];
	const char	*addr;
	uint32_t	 alen;

	if (l->node != 0 && l->node != w->conf->node_id &&
	    (addr = first_addr(l, &alen)) != NULL)
		reply_error(w, ctx, QLOCK_ENOTLEADER, "shard %d: leader is "
		    "node %d at %.*s", w->id, l->node, (int)alen, addr);
	else
		reply_error(w, ctx, QLOCK_ENOTLEADER, "shard %d: no leader yet",
		    w->id);
}

int
repl_leader(struct worker *w, char *buf, size_t len)
{
	struct repl_lead *l;
	const char	*addr;
	uint32_t	 alen;

	if (w->repl == NULL)
		return 0;
	l = &w->repl->leads[w->id];
	if (l->node == 0 || l->node == w->conf->node_id ||
	    (addr = first_addr(l, &alen)) == NULL || alen >= len)
		return 0;
	memcpy(buf, addr, alen);
	buf[alen] = '\0';
	return l->node;
}

/* The worker's own addresses only (PROTOCOL.md, topology). */
void
repl_pack_addrs(struct worker *w, msgpack_packer *pk, int g)
{
	struct mp_reader rd;
	const uint8_t	*raw;
	size_t		 rawlen;

	mp_reader_init(&rd, w->repl->leads[g].addrs, w->repl->leads[g].len);
	if (mp_skip(&rd, &raw, &rawlen) == -1)
		pack_raw(pk, no_addrs, sizeof(no_addrs));
	else
		pack_raw(pk, raw, rawlen);
}

void
repl_pack_topology(struct worker *w, msgpack_packer *pk)
{
	int	i;

	pack_cstr(pk, "node");
	msgpack_pack_int(pk, w->conf->node_id);
	pack_cstr(pk, "leaders");
	msgpack_pack_array(pk, (size_t)w->nworkers);
	for (i = 0; i < w->nworkers; i++) {
		if (w->repl->leads[i].node == 0)
			msgpack_pack_nil(pk);
		else
			msgpack_pack_int(pk, w->repl->leads[i].node);
	}
}

/* addr (HOST:PORT, [V6]:PORT or unix:PATH) with a wildcard host replaced
 * by host, into buf. */
static void
advertised(const char *addr, const char *host, char *buf, size_t len)
{
	const char	*port = strrchr(addr, ':');

	if (port != NULL && (strncmp(addr, "0.0.0.0:", 8) == 0 ||
	    strncmp(addr, "[::]:", 5) == 0))
		snprintf(buf, len, strchr(host, ':') != NULL ? "[%s]%s" :
		    "%s%s", host, port);
	else
		snprintf(buf, len, "%s", addr);
}

void
repl_my_addrs(struct repl *r)
{
	const struct config	*c = r->w->conf;
	const struct topo	*t = c->topo;
	struct cluster_peer	 p, self;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	char			 buf[8300], why[256];
	int			 i, k, nown = t == NULL ? 0 : t->nown;

	memset(&self, 0, sizeof(self));
	for (i = 0; i < c->npeer; i++)
		if (cluster_peer_parse(c->peer[i], &p, why, sizeof(why)) == 0 &&
		    p.id == c->node_id)
			self = p;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, (size_t)nown);
	for (k = 0; k < nown; k++) {
		advertised(t->addrs[r->w->id * t->stride + k], self.host, buf,
		    sizeof(buf));
		pack_cstr(&pk, buf);
	}
	/* No own sockets (--worker-ports off): the node's listeners, TCP
	 * first, where a relaying member reaches this worker through a
	 * sibling (the epoch then has 7 elements, src/repl_entry.h). */
	if (nown == 0 && t != NULL && t->nlisten > 0) {
		msgpack_pack_array(&pk, (size_t)t->nlisten);
		for (i = 0; i < 2; i++)
			for (k = 0; k < t->nlisten; k++) {
				if ((strncmp(t->laddrs[k], "unix:", 5) == 0) !=
				    (i == 1))
					continue;
				advertised(t->laddrs[k], self.host, buf,
				    sizeof(buf));
				pack_cstr(&pk, buf);
			}
	}
	r->my_addrs = xmalloc(sb.size);
	memcpy(r->my_addrs, sb.data, sb.size);
	r->my_len = sb.size;
	msgpack_sbuffer_destroy(&sb);
}
