/* it_protocol.h: what it_protocol.c and it_protocol_frame.c share. */
#ifndef IT_PROTOCOL_H
#define IT_PROTOCOL_H

#include <stdint.h>

#include <check.h>
#include <msgpack.h>

#define MAX_FRAME	65536		/* --max-frame of the daemon under test */
#define ANY_MSGID	UINT64_MAX	/* expect_error: do not check the msgid */


void	pk_str(msgpack_packer *pk, const char *s);
/* The next response must be an error with code (and msgid). */
void	expect_error(int fd, uint64_t msgid, const char *code, const char *what);
/* The daemon still serves new clients. */
void	expect_serving(void);

/* it_protocol_frame.c */
void	add_frame_tests(TCase *tc);

#endif
