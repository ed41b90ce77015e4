/* harness_raw.c: a raw client for protocol tests, and the daemon's stats
 * read through libqlock. */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "auth.h"
#include "frame.h"
#include "harness.h"

/* --- stats ---------------------------------------------------------------- */

int
qd_stat(qlock *c, const char *key, uint64_t *val)
{
	msgpack_unpacked up;
	void		*buf;
	size_t		 len, off = 0;
	uint32_t	 i;
	int		 st, rc = QLOCK_EPROTO;

	if ((st = qlock_stats_raw(c, &buf, &len)) != QLOCK_OK)
		return st;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP) {
		for (i = 0; i < up.data.via.map.size; i++) {
			msgpack_object *k = &up.data.via.map.ptr[i].key;
			msgpack_object *v = &up.data.via.map.ptr[i].val;

			if (k->type == MSGPACK_OBJECT_STR &&
			    k->via.str.size == strlen(key) &&
			    memcmp(k->via.str.ptr, key, k->via.str.size) == 0 &&
			    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
				*val = v->via.u64;
				rc = 0;
			}
		}
	}
	msgpack_unpacked_destroy(&up);
	free(buf);
	return rc;
}

bool
qd_wait_stat(qlock *c, const char *key, uint64_t want, double secs)
{
	double		end = qd_now() + secs;
	uint64_t	v;
	int		st;

	for (;;) {
		if ((st = qd_stat(c, key, &v)) == 0 && v == want)
			return true;
		ck_assert_msg(st != QLOCK_ECONN, "polling stats '%s' for %llu: "
		    "the connection broke (did a worker die?): %s", key,
		    (unsigned long long)want, qlock_last_error(c));
		if (qd_now() >= end)
			return false;
		qd_nap();
	}
}

/* --- raw client ------------------------------------------------------------ */

int
raw_connect(const struct qd *d)
{
	int	fd, one = 1;

	if (d->opts.listen == QD_UNIX) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		ck_assert_int_lt(snprintf(sun.sun_path, sizeof(sun.sun_path),
		    "%s", d->sockpath), (int)sizeof(sun.sun_path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ne(fd, -1);
		ck_assert_msg(connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0, "connect %s: %s", d->sockpath,
		    strerror(errno));
		return fd;
	}
	if (d->opts.listen == QD_TCP6) {
		struct sockaddr_in6 s6;

		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_addr = in6addr_loopback;
		s6.sin6_port = htons((uint16_t)d->port);
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ne(fd, -1);
		ck_assert_msg(connect(fd, (struct sockaddr *)&s6,
		    sizeof(s6)) == 0, "connect: %s", strerror(errno));
	} else {
		struct sockaddr_in s4;

		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4.sin_port = htons((uint16_t)d->port);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ne(fd, -1);
		ck_assert_msg(connect(fd, (struct sockaddr *)&s4,
		    sizeof(s4)) == 0, "connect: %s", strerror(errno));
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int
raw_connect_auth(const struct qd *d)
{
	int	fd = raw_connect(d), st;

	st = raw_auth(fd, d->key, strlen(d->key));
	ck_assert_msg(st == 0, "raw handshake failed: %s", qlock_strerror(st));
	return fd;
}

int
raw_send(int fd, const void *buf, size_t len)
{
	return frame_send_all(fd, buf, len);
}

int
raw_send_frame(int fd, const void *body, size_t len)
{
	uint8_t	hdr[FRAME_HDR];

	frame_put_header(hdr, len);
	if (raw_send(fd, hdr, sizeof(hdr)) == -1)
		return -1;
	return raw_send(fd, body, len);
}

int
raw_send_sbuf(int fd, const msgpack_sbuffer *sb)
{
	return raw_send_frame(fd, sb->data, sb->size);
}

int
raw_send_call0(int fd, uint64_t msgid, const char *method)
{
	struct raw_call	c;
	int		rc;

	(void)raw_call_begin(&c, msgid, method, 0);
	rc = raw_send_sbuf(fd, &c.sb);
	msgpack_sbuffer_destroy(&c.sb);
	return rc;
}

/* Read exactly len bytes by end: 0, -1 closed or error, -2 timeout. */
static int
read_full(int fd, void *buf, size_t len, double end)
{
	uint8_t		*p = buf;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;
	int		 ms;

	while (len > 0) {
		ms = (int)((end - qd_now()) * 1000);
		if (ms < 0)
			return -2;
		n = poll(&pfd, 1, ms);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			return -2;
		n = recv(fd, p, len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
raw_recv_frame(int fd, uint8_t **body, size_t *len, double secs)
{
	double	 end = qd_now() + secs;
	uint8_t	 hdr[FRAME_HDR];
	size_t	 n;
	int	 rc;

	*body = NULL;
	*len = 0;
	if ((rc = read_full(fd, hdr, sizeof(hdr), end)) != 0)
		return rc;
	n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 |
	    hdr[3];
	if (n > 64u * 1024 * 1024)
		return -1;
	if ((*body = malloc(n + 1)) == NULL)
		abort();
	if ((rc = read_full(fd, *body, n, end)) != 0) {
		free(*body);
		*body = NULL;
		return rc;
	}
	*len = n;
	return 0;
}

bool
raw_wait_closed(int fd, double secs)
{
	double		end = qd_now() + secs;
	struct pollfd	pfd = { fd, POLLIN, 0 };
	uint8_t		buf[4096];
	ssize_t		n;
	int		ms;

	for (;;) {
		ms = (int)((end - qd_now()) * 1000);
		if (ms < 0)
			return false;
		n = poll(&pfd, 1, ms);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			return false;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return true;
	}
}

int
raw_auth(int fd, const void *key, size_t keylen)
{
	struct auth		a;
	enum auth_result	r;
	uint8_t			nonce[AUTH_NONCE_LEN], out[AUTH_MSG_MAX], *in;
	size_t			inlen, outlen, i;
	int			rc;

	for (i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)rand();
	auth_client_start(&a, key, keylen, nonce);
	do {
		if ((rc = raw_recv_frame(fd, &in, &inlen, QD_WAIT)) != 0)
			return QLOCK_ECONN;
		if (inlen > AUTH_MSG_MAX) {
			free(in);
			return QLOCK_ECONN;
		}
		r = auth_input(&a, in, inlen, out, &outlen);
		free(in);
		if (outlen > 0 && raw_send_frame(fd, out, outlen) == -1)
			return QLOCK_ECONN;
	} while (r == AUTH_CONTINUE);
	return r == AUTH_OK ? 0 : QLOCK_EAUTH;
}

void
raw_resp_free(struct raw_resp *r)
{
	msgpack_unpacked_destroy(&r->up);
	free(r->body);
	r->body = NULL;
}

/* Copy a msgpack string into a C buffer. */
static void
obj_str(const msgpack_object *o, char *buf, size_t size)
{
	if (o->type == MSGPACK_OBJECT_STR)
		snprintf(buf, size, "%.*s", (int)o->via.str.size, o->via.str.ptr);
	else
		snprintf(buf, size, "<not a string>");
}

int
raw_recv_resp(int fd, struct raw_resp *r, double secs)
{
	size_t		 len, off = 0;
	msgpack_object	*a;
	int		 rc;

	memset(r, 0, sizeof(*r));
	msgpack_unpacked_init(&r->up);
	if ((rc = raw_recv_frame(fd, &r->body, &len, secs)) != 0)
		return rc;
	if (msgpack_unpack_next(&r->up, (const char *)r->body, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len ||
	    r->up.data.type != MSGPACK_OBJECT_ARRAY ||
	    r->up.data.via.array.size != 4)
		return -3;
	a = r->up.data.via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 != 1 ||
	    a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -3;
	r->msgid = a[1].via.u64;
	if (a[2].type != MSGPACK_OBJECT_NIL) {
		if (a[2].type != MSGPACK_OBJECT_ARRAY ||
		    a[2].via.array.size < 1)
			return -3;
		r->is_error = true;
		obj_str(&a[2].via.array.ptr[0], r->code, sizeof(r->code));
		if (a[2].via.array.size >= 2)
			obj_str(&a[2].via.array.ptr[1], r->msg, sizeof(r->msg));
	}
	r->result = a[3];
	return 0;
}

bool
raw_ping(int fd, uint64_t msgid)
{
	struct raw_resp	r;
	bool		ok;

	if (raw_send_call0(fd, msgid, "ping") == -1)
		return false;
	if (raw_recv_resp(fd, &r, QD_WAIT) != 0) {
		raw_resp_free(&r);
		return false;
	}
	ok = r.msgid == msgid && !r.is_error &&
	    r.result.type == MSGPACK_OBJECT_STR && r.result.via.str.size == 4 &&
	    memcmp(r.result.via.str.ptr, "pong", 4) == 0;
	raw_resp_free(&r);
	return ok;
}

/* The inode of the daemon's socket whose peer is local port lport. */
static unsigned long
tcp_server_inode(const struct qd *d, int lport)
{
	const char	*path = d->opts.listen == QD_TCP6 ? "/proc/net/tcp6" :
			    "/proc/net/tcp";
	char		 line[512];
	FILE		*f = fopen(path, "r");
	unsigned	 local, remote;
	unsigned long	 inode, found = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x "
		    "%*x %*s %*s %*s %*d %*d %lu", &local, &remote, &inode) == 3 &&
		    (int)local == d->port && (int)remote == lport)
			found = inode;
	}
	fclose(f);
	return found;
}

pid_t
raw_conn_worker(const struct qd *d, int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	pid_t			 pids[256];
	unsigned long		 inode;
	char			 path[96], want[64], link[64];
	DIR			*dir;
	struct dirent		*de;
	ssize_t			 n;
	int			 i, np, lport;

	if (d->opts.listen == QD_UNIX ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	lport = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if ((inode = tcp_server_inode(d, lport)) == 0)
		return -1;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	np = qd_worker_pids(d, pids, 256);
	for (i = 0; i < np; i++) {
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pids[i]);
		if ((dir = opendir(path)) == NULL)
			continue;
		while ((de = readdir(dir)) != NULL) {
			if (snprintf(path, sizeof(path), "/proc/%d/fd/%s",
			    (int)pids[i], de->d_name) >= (int)sizeof(path))
				continue;
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				closedir(dir);
				return pids[i];
			}
		}
		closedir(dir);
	}
	return -1;
}

msgpack_packer *
raw_call_begin(struct raw_call *c, uint64_t msgid, const char *method,
    uint32_t nparams)
{
	msgpack_sbuffer_init(&c->sb);
	msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&c->pk, 4);
	msgpack_pack_uint8(&c->pk, 0);
	msgpack_pack_uint64(&c->pk, msgid);
	msgpack_pack_str_with_body(&c->pk, method, strlen(method));
	msgpack_pack_array(&c->pk, nparams);
	return &c->pk;
}

void
raw_call_send(int fd, struct raw_call *c)
{
	ck_assert_msg(raw_send_sbuf(fd, &c->sb) == 0, "cannot send a request");
	msgpack_sbuffer_destroy(&c->sb);
}

void
raw_expect(int fd, uint64_t msgid, const char *code, const char *what)
{
	struct raw_resp	r;
	int		rc = raw_recv_resp(fd, &r, QD_WAIT);

	ck_assert_msg(rc == 0, "%s: no response (%s)", what, rc == -1 ?
	    "connection closed" : rc == -2 ? "timed out" : "not a response");
	ck_assert_msg(r.msgid == msgid, "%s: response to %llu, expected %llu",
	    what, (unsigned long long)r.msgid, (unsigned long long)msgid);
	if (code == NULL)
		ck_assert_msg(!r.is_error, "%s: error %s (%s)", what, r.code,
		    r.msg);
	else
		ck_assert_msg(r.is_error && strcmp(r.code, code) == 0,
		    "%s: expected error %s, got %s (%s)", what, code,
		    r.is_error ? r.code : "a result", r.msg);
	raw_resp_free(&r);
}
