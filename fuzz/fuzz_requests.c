/* fuzz_requests.c: libFuzzer target for the request path: two workers in
 * one process with a real mesh (socketpairs) and a log each, clients on
 * socketpairs that authenticate and then send the input's frames through
 * the connections, dispatch and the mesh.  When every client has gone,
 * each worker's live state must equal what its log replays to.
 *
 * The input is a list of steps, each an op byte then its operands:
 *   op % 4 == 0  frame: client (op / 4) % NCLIENTS, u16 length, body
 *   op % 4 == 1  run the workers' loops a while
 *   op % 4 == 2  client (op / 4) % NCLIENTS disconnects
 *   op % 4 == 3  raw bytes: client, u16 length, bytes (no frame header)
 * Client i is served by worker i % 2 (a request for the other worker's
 * object goes through the mesh). */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth.h"
#include "config.h"
#include "conn.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "fuzzutil.h"

#define NWORKERS	2
#define NCLIENTS	4
#define PUMP_ROUNDS	6	/* loop passes of each worker per "run" */
#define DRAIN_ROUNDS	24	/* ... once every client has gone */

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A client: our end of a socketpair whose other end a worker serves. */
struct client {
	int	 fd;		/* -1: not connected */
	uint8_t	*in;		/* bytes received, not yet a whole frame */
	size_t	 inlen;
};

static const uint8_t	 key[] = "fuzz-requests-key-0123456789";
static struct config	 conf;
static struct worker	*workers[NWORKERS];
static struct client	 clients[NCLIENTS];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(true, LOG_LVL_ERR);
	signal(SIGPIPE, SIG_IGN);	/* as the daemon: closed clients */
	config_defaults(&conf);
	conf.workers = NWORKERS;
	conf.fsync = FSYNC_NO;
	conf.authkey = (unsigned char *)key;
	conf.authkey_len = sizeof(key) - 1;
	return 0;
}

/* Start both workers on conf's data directory, with a fresh mesh. */
static void
workers_start(void)
{
	int	sp[2], mesh[NWORKERS][NWORKERS] = { { -1, -1 }, { -1, -1 } };
	int	i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		abort();
	mesh[0][1] = sp[0];
	mesh[1][0] = sp[1];
	for (i = 0; i < NWORKERS; i++)
		workers[i] = worker_new(&conf, i, 1, -1, mesh[i], NULL, 0);
}

static void
workers_stop(void)
{
	int	i;

	for (i = 0; i < NWORKERS; i++) {
		worker_free(workers[i]);
		workers[i] = NULL;
	}
}

/* Read what client c was sent; 0 or -1 if the worker closed it. */
static int
client_read(struct client *c)
{
	uint8_t	buf[65536];
	ssize_t	n;

	while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		c->in = xrealloc(c->in, c->inlen + (size_t)n);
		memcpy(c->in + c->inlen, buf, (size_t)n);
		c->inlen += (size_t)n;
	}
	return n == 0 || (n == -1 && errno != EAGAIN) ? -1 : 0;
}

/* Take one whole frame off what c received: its body, or NULL. */
static uint8_t *
client_frame(struct client *c, size_t *len)
{
	uint8_t	*body;

	if (frame_header(c->in, c->inlen, FRAME_MAX_DEFAULT, len) != FRAME_OK ||
	    c->inlen - FRAME_HDR < *len)
		return NULL;
	body = xmalloc(*len + 1);
	memcpy(body, c->in + FRAME_HDR, *len);
	c->inlen -= FRAME_HDR + *len;
	memmove(c->in, c->in + FRAME_HDR + *len, c->inlen);
	return body;
}

static void
client_close(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	c->in = NULL;
	c->inlen = 0;
}

/* Run each worker's loop a few passes, and read what clients got. */
static void
pump(int rounds)
{
	uint8_t	*body;
	size_t	 len;
	int	 r, i;
	bool	 closed;

	for (r = 0; r < rounds; r++)
		for (i = 0; i < NWORKERS; i++)
			event_base_loop(workers[i]->base, EVLOOP_NONBLOCK);
	for (i = 0; i < NCLIENTS; i++) {
		if (clients[i].fd == -1)
			continue;
		closed = client_read(&clients[i]) == -1;
		/* Every reply is one well-formed msgpack message. */
		while ((body = client_frame(&clients[i], &len)) != NULL) {
			if (mp_check(body, len) != 0) {
				fprintf(stderr, "a reply to client %d is not "
				    "msgpack\n", i);
				abort();
			}
			free(body);
		}
		if (closed)
			client_close(&clients[i]);
	}
}

/* Send all of buf to client c's worker; -1 if it closed the client. */
static int
client_send(struct client *c, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;
	int		 tries = 0;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno == EAGAIN && tries++ < 100) {
			pump(1);
			if (c->fd == -1)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
client_send_frame(struct client *c, const void *body, size_t len)
{
	uint8_t	hdr[FRAME_HDR];

	frame_put_header(hdr, len);
	if (client_send(c, hdr, sizeof(hdr)) == -1 ||
	    client_send(c, body, len) == -1)
		return -1;
	return 0;
}

/* Connect client i to worker i % 2 and do the handshake. */
static void
client_connect(int i)
{
	struct client		*c = &clients[i];
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct auth		 a;
	uint8_t			 nonce[AUTH_NONCE_LEN] = { (uint8_t)i }, *body;
	uint8_t			 out[AUTH_MSG_MAX];
	size_t			 len, outlen;
	enum auth_result	 res = AUTH_CONTINUE;
	int			 sp[2], tries;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1 ||
	    fd_nonblock_cloexec(sp[1]) == -1)
		abort();
	c->fd = sp[0];
	conn_accept_cb(NULL, sp[1], (struct sockaddr *)&sun, sizeof(sun),
	    workers[i % NWORKERS]);
	auth_client_start(&a, key, sizeof(key) - 1, nonce);
	for (tries = 0; res == AUTH_CONTINUE && tries < 16; tries++) {
		for (i = 0; i < NWORKERS; i++)
			event_base_loop(workers[i]->base, EVLOOP_NONBLOCK);
		if (client_read(c) == -1)
			abort();
		while (res == AUTH_CONTINUE &&
		    (body = client_frame(c, &len)) != NULL) {
			res = auth_input(&a, body, len, out, &outlen);
			free(body);
			if (outlen > 0 && client_send_frame(c, out, outlen) == -1)
				abort();
		}
	}
	if (res != AUTH_OK)
		abort();	/* the right key is let in */
}

/* The input, a byte or a run at a time. */
struct input {
	const uint8_t	*p;
	size_t		 left;
};

static int
in_u16(struct input *in, size_t *v)
{
	if (in->left < 2)
		return -1;
	*v = in->p[0] | (size_t)in->p[1] << 8;
	in->p += 2;
	in->left -= 2;
	if (*v > in->left)
		*v = in->left;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input	 in = { data, size };
	struct client	*c;
	char		 dir[] = "/dev/shm/qlockd-fuzz.XXXXXX";
	uint8_t		*live[NWORKERS], *replayed;
	size_t		 livelen[NWORKERS], replen, len;
	uint8_t		 op;
	int		 i;

	/* In memory if it can be: logs are made and synced per input. */
	if (mkdtemp(dir) == NULL) {
		memcpy(dir, "/tmp/qlockd-fuzz.XXXXXX", sizeof(dir) - 4);
		if (mkdtemp(dir) == NULL)
			abort();
	}
	conf.data_dir = dir;
	if (store_prepare(&conf, false) == -1)
		abort();
	workers_start();
	for (i = 0; i < NCLIENTS; i++)
		clients[i].fd = -1;

	while (in.left > 0) {
		op = *in.p++;
		in.left--;
		c = &clients[(op >> 2) % NCLIENTS];
		switch (op & 3) {
		case 0:
		case 3:
			if (in_u16(&in, &len) == -1)
				break;
			if (c->fd == -1)
				client_connect((op >> 2) % NCLIENTS);
			if ((op & 3) == 0)
				(void)client_send_frame(c, in.p, len);
			else
				(void)client_send(c, in.p, len);
			in.p += len;
			in.left -= len;
			break;
		case 1:
			pump(PUMP_ROUNDS);
			break;
		case 2:
			client_close(c);
			break;
		}
	}
	pump(PUMP_ROUNDS);
	for (i = 0; i < NCLIENTS; i++)
		client_close(&clients[i]);
	pump(DRAIN_ROUNDS);

	/* Every session is over: what is live is what a restart must see. */
	for (i = 0; i < NWORKERS; i++)
		fuzz_state(&workers[i]->reg, &live[i], &livelen[i]);
	workers_stop();
	workers_start();
	for (i = 0; i < NWORKERS; i++) {
		fuzz_state(&workers[i]->reg, &replayed, &replen);
		if (replen != livelen[i] || memcmp(replayed, live[i], replen)) {
			fprintf(stderr, "worker %d: live state (%zu bytes) and "
			    "its replayed log (%zu bytes) differ\n", i,
			    livelen[i], replen);
			abort();
		}
		free(replayed);
		free(live[i]);
	}
	workers_stop();
	fuzz_rmtree(dir);
	conf.data_dir = NULL;
	return 0;
}
