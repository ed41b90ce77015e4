/* cluster.c: parse and validate the cluster settings, --node-id, --peer
 * ID=HOST:PORT (every member, this node included) and --raft-dir.  Without
 * --peer a node is a single node, as it always was (docs/HA.md). */
#include <sys/stat.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "config.h"

/* A decimal number in [min, max] spanning exactly s..e; -1 if not. */
static int
cluster_number(const char *s, const char *e, int min, int max)
{
	long	v = 0;

	if (s == e || e - s > 6)
		return -1;
	for (; s < e; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v < min || v > max ? -1 : (int)v;
}

/* A host name: labels of letters, digits and '-', separated by dots. */
static int
cluster_hostname(const char *h)
{
	const char	*p;

	if (*h == '\0' || *h == '.' || *h == '-')
		return -1;
	for (p = h; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return -1;
		if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
			return -1;
	}
	return 0;
}

int
cluster_peer_parse(const char *s, struct cluster_peer *p, char *why,
    size_t whylen)
{
	const char	*eq, *colon, *h, *he;
	unsigned char	 addr[16];
	size_t		 hl;

	memset(p, 0, sizeof *p);
	if ((eq = strchr(s, '=')) == NULL ||
	    (p->id = cluster_number(s, eq, 1, CLUSTER_MAX_ID)) == -1) {
		snprintf(why, whylen, "'%s': expected ID=HOST:PORT with ID "
		    "1 to %d", s, CLUSTER_MAX_ID);
		return -1;
	}
	h = eq + 1;
	if (*h == '[') {
		if ((he = strchr(h, ']')) == NULL || he[1] != ':') {
			snprintf(why, whylen, "'%s': expected [V6]:PORT", s);
			return -1;
		}
		colon = he + 1;
		h++;
	} else {
		if ((colon = strrchr(h, ':')) == NULL) {
			snprintf(why, whylen, "'%s': no :PORT", s);
			return -1;
		}
		he = colon;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= sizeof p->host) {
		snprintf(why, whylen, "'%s': empty or overlong host", s);
		return -1;
	}
	memcpy(p->host, h, hl);
	p->host[hl] = '\0';
	if ((p->port = cluster_number(colon + 1, colon + strlen(colon), 1,
	    65535)) == -1) {
		snprintf(why, whylen, "'%s': port is not 1 to 65535", s);
		return -1;
	}
	if (h[-1] == '[') {
		if (inet_pton(AF_INET6, p->host, addr) != 1) {
			snprintf(why, whylen, "'%s': not an IPv6 address", s);
			return -1;
		}
	} else if (strspn(p->host, "0123456789.") == hl) {
		if (inet_pton(AF_INET, p->host, addr) != 1) {
			snprintf(why, whylen, "'%s': not an IPv4 address", s);
			return -1;
		}
	} else if (cluster_hostname(p->host) == -1) {
		snprintf(why, whylen, "'%s': not an address or a host name "
		    "(IPv6 goes in brackets)", s);
		return -1;
	}
	return 0;
}

int
cluster_check(const struct config *c)
{
	struct cluster_peer	 p[CONFIG_MAX_PEERS];
	char			 why[512];
	int			 i, j, self = 0;

	if (c->npeer == 0) {
		if (c->node_id != 0 || c->raft_dir != NULL) {
			fprintf(stderr, "qlockd: --%s without --peer: a single "
			    "node has neither (list every member with --peer "
			    "ID=HOST:PORT)\n",
			    c->node_id != 0 ? "node-id" : "raft-dir");
			return -1;
		}
		return 0;
	}
#ifndef HAVE_RAFT
	fprintf(stderr, "qlockd: --peer: this qlockd was built without libraft "
	    "(configure --with-raft)\n");
	return -1;
#endif
	if (c->node_id == 0 || c->raft_dir == NULL) {
		fprintf(stderr, "qlockd: --peer needs --%s\n",
		    c->node_id == 0 ? "node-id" : "raft-dir");
		return -1;
	}
	if (c->data_dir != NULL) {
		fprintf(stderr, "qlockd: --data-dir and --peer: a cluster keeps "
		    "its log in --raft-dir\n");
		return -1;
	}
	if (c->fsync_given) {
		fprintf(stderr, "qlockd: --fsync and --peer: raft writes its log "
		    "to disk before an entry counts as stored\n");
		return -1;
	}
	for (i = 0; i < c->npeer; i++) {
		if (cluster_peer_parse(c->peer[i], &p[i], why,
		    sizeof why) == -1) {
			fprintf(stderr, "qlockd: --peer %s\n", why);
			return -1;
		}
		if (p[i].port + c->workers - 1 > 65535) {
			fprintf(stderr, "qlockd: --peer %s: with %d workers the "
			    "raft ports %d..%d pass 65535\n", c->peer[i],
			    c->workers, p[i].port, p[i].port + c->workers - 1);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (p[j].id == p[i].id) {
				fprintf(stderr, "qlockd: --peer: id %d is given "
				    "twice (%s, %s)\n", p[i].id, c->peer[j],
				    c->peer[i]);
				return -1;
			}
			if (strcmp(p[j].host, p[i].host) == 0 &&
			    abs(p[j].port - p[i].port) < c->workers) {
				fprintf(stderr, "qlockd: --peer %s and %s: their "
				    "raft ports overlap (%d workers use "
				    "PORT..PORT+%d)\n", c->peer[j], c->peer[i],
				    c->workers, c->workers - 1);
				return -1;
			}
		}
		if (p[i].id == c->node_id)
			self = 1;
	}
	if (!self) {
		fprintf(stderr, "qlockd: --node-id %d is not among the --peer "
		    "ids (list every member, this node included)\n",
		    c->node_id);
		return -1;
	}
	return 0;
}

int
cluster_prepare(const struct config *c)
{
	if (c->npeer == 0)
		return 0;
	if (mkdir(c->raft_dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "qlockd: --raft-dir %s: %s\n", c->raft_dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}
