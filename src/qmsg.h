/* qmsg.h: messages between the processes of one daemon: master <-> worker
 * on a SOCK_SEQPACKET control socket (one message per record, file
 * descriptors passed with SCM_RIGHTS), worker <-> worker on the mesh of
 * SOCK_STREAM socketpairs.  Both ends are the same binary, so the header
 * is native-endian; the size is checked before every read.  To change a
 * message: add a new type rather than changing the meaning of an old one. */
#ifndef QMSG_H
#define QMSG_H

#include <stdint.h>

enum qmsg_type {
	/* worker -> worker (mesh) */
	QMSG_REQ_FORWARD = 1,	/* a client request for an object the peer owns;
				   tag, sess; payload: the request body */
	QMSG_REQ_REPLY,		/* the owner's answer; tag, sess; payload: the
				   framed response, written to the client as is */
	QMSG_SESS_END,		/* the client of sess went away */
	QMSG_PART_REQ,		/* fan-out (stats, list): tag; payload: request body */
	QMSG_PART_REPLY,	/* a partial result; tag; payload: msgpack */
	QMSG_LEADER,		/* cluster: the sender's raft group has this
				   leader; payload: [node id or 0, [its
				   client address for the shard...]] */
	/* master -> worker (control) */
	QMSG_PEER_UP = 32,	/* tag: peer id; fd: a new mesh socket to it */
	QMSG_PEER_DOWN,		/* tag: peer id, which died */
	QMSG_STATS_REQ,		/* tag: the master's gather; no payload */
	/* worker -> master (control) */
	QMSG_READY = 64,	/* the worker is serving */
	QMSG_STATS_REPLY,	/* tag: as in the request; payload: a msgpack
				   map of the worker's counters (metrics.c);
				   keys may be added, readers skip unknown ones */
};

struct qmsg_hdr {
	uint32_t	type;	/* enum qmsg_type */
	uint32_t	len;	/* payload bytes after this header */
	uint64_t	tag;	/* request tag at the origin, or a peer id */
	uint64_t	sess;	/* session id the message concerns */
};

#define QMSG_MAX_PAYLOAD (1u << 30)	/* sanity bound for sibling messages */
/* A control message is one SEQPACKET record, which must fit the socket's
 * send buffer (about 208 KiB by default): a stats reply stays below this. */
#define QMSG_STATS_MAX	(160u * 1024)

#endif
