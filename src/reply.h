/* reply.h: encoding msgpack-RPC responses [1, msgid, error, result] and
 * sending them to the client of a request, wherever its connection is. */
#ifndef REPLY_H
#define REPLY_H

#include <msgpack.h>

#include "waitq.h"

struct worker;

/* Start a success response; pack exactly one result object, then end. */
msgpack_packer *reply_begin(struct worker *w, const struct reqctx *ctx);
void	reply_end(struct worker *w, const struct reqctx *ctx);
/* A success response with a nil result. */
void	reply_nil(struct worker *w, const struct reqctx *ctx);
/* An error response [code, message]; status is a QLOCK_E* value. */
void	reply_error(struct worker *w, const struct reqctx *ctx, int status,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A response whose error and result are raw (the msgpack after the msgid
 * of another's response: a leader's answer relayed as it is). */
void	reply_relay(struct worker *w, const struct reqctx *ctx,
	    const void *raw, size_t len);
/* An error response whose code is "NoMethod". */
void	reply_nomethod(struct worker *w, const struct reqctx *ctx,
	    const char *method, size_t len);
/* Pack a string / raw msgpack bytes. */
void	pack_str(msgpack_packer *pk, const char *s, size_t len);
void	pack_cstr(msgpack_packer *pk, const char *s);
void	pack_raw(msgpack_packer *pk, const void *raw, size_t len);
struct qref;
/* Pack a queue item's msgpack bytes (its folded header, then its body). */
void	pack_qref(msgpack_packer *pk, const struct qref *r);

#endif
