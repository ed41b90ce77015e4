/* reply.c: response encoding into the worker's scratch buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "qlock.h"
#include "reply.h"
#include "session.h"
#include "status.h"
#include "worker.h"

/* Reset the scratch buffer with room for the frame header, then pack
 * [1, msgid, and leave the error and result to the caller. */
static msgpack_packer *
reply_start(struct worker *w, const struct reqctx *ctx, msgpack_packer *pk)
{
	static const char zero[FRAME_HDR];

	msgpack_sbuffer_clear(&w->sbuf);
	msgpack_sbuffer_write(&w->sbuf, zero, sizeof(zero));
	msgpack_packer_init(pk, &w->sbuf, msgpack_sbuffer_write);
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, 1);
	msgpack_pack_uint64(pk, ctx->msgid);
	return pk;
}

/* Fill in the frame header and deliver the response. */
static void
reply_send(struct worker *w, const struct reqctx *ctx)
{
	frame_put_header((uint8_t *)w->sbuf.data, w->sbuf.size - FRAME_HDR);
	if (ctx->keep)		/* before it is held: with its record */
		session_keep_reply(w, ctx, w->sbuf.data, w->sbuf.size);
	worker_deliver(w, ctx, w->sbuf.data, w->sbuf.size);
}

msgpack_packer *
reply_begin(struct worker *w, const struct reqctx *ctx)
{
	reply_start(w, ctx, &w->pk);
	msgpack_pack_nil(&w->pk);
	return &w->pk;
}

void
reply_end(struct worker *w, const struct reqctx *ctx)
{
	reply_send(w, ctx);
}

void
reply_nil(struct worker *w, const struct reqctx *ctx)
{
	msgpack_pack_nil(reply_begin(w, ctx));
	reply_end(w, ctx);
}

/* Pack [code, message] as the error and nil as the result, and send;
 * slot: the code's counter in w->stats.by_code. */
static void
reply_error_code(struct worker *w, const struct reqctx *ctx, int slot,
    const char *code, const char *msg)
{
	msgpack_packer	pk;

	reply_start(w, ctx, &pk);
	msgpack_pack_array(&pk, 2);
	pack_cstr(&pk, code);
	pack_cstr(&pk, msg);
	msgpack_pack_nil(&pk);
	/* Empty, Full and Timeout end a wait that did not succeed in time:
	 * an outcome the client asked for, not an error (by_code has them). */
	if (slot != -QLOCK_EMPTY && slot != -QLOCK_FULL &&
	    slot != -QLOCK_TIMEOUT)
		w->stats.errors++;
	w->stats.by_code[slot]++;
	reply_send(w, ctx);
}

void
reply_error(struct worker *w, const struct reqctx *ctx, int status,
    const char *fmt, ...)
{
	char		msg[512];
	va_list		ap;
	const char	*code = status_name(status);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (code == NULL || -status >= STATS_NOMETHOD)	/* sent as Proto */
		reply_error_code(w, ctx, -QLOCK_EPROTO, "Proto", msg);
	else
		reply_error_code(w, ctx, -status, code, msg);
}

void
reply_relay(struct worker *w, const struct reqctx *ctx, const void *raw,
    size_t len)
{
	msgpack_packer	pk;

	reply_start(w, ctx, &pk);
	pack_raw(&pk, raw, len);
	reply_send(w, ctx);
}

void
reply_nomethod(struct worker *w, const struct reqctx *ctx, const char *method,
    size_t len)
{
	char	msg[160];

	snprintf(msg, sizeof(msg), "unknown method '%.*s'",
	    (int)(len > 100 ? 100 : len), method);
	reply_error_code(w, ctx, STATS_NOMETHOD, "NoMethod", msg);
}

void
pack_str(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void
pack_cstr(msgpack_packer *pk, const char *s)
{
	pack_str(pk, s, strlen(s));
}

void
pack_raw(msgpack_packer *pk, const void *raw, size_t len)
{
	/* Already msgpack: append the bytes as they are. */
	pk->callback(pk->data, raw, len);
}

void
pack_qref(msgpack_packer *pk, const struct qref *r)
{
	if (r->hdrlen > 0)
		pack_raw(pk, r->hdr, r->hdrlen);
	pack_raw(pk, r->body, r->bodylen);
}
