/* check_mp.h: what check_mp's files share. */
#ifndef CHECK_MP_H
#define CHECK_MP_H

#include <stdint.h>

#include <check.h>
#include <msgpack.h>

#define BIG	70000	/* over 65535: forces the 32-bit forms */

extern msgpack_sbuffer	 sb;	/* what the packer wrote */
extern msgpack_packer	 pk;	/* packs into sb */
extern uint8_t		*blob;	/* BIG bytes of filler for str/bin/ext */

/* check_mp.c */
const uint8_t	*sbdata(void);
void		 pack_nested(void);

/* check_mp_read.c */
void		 mp_read_tests(TCase *);

#endif /* CHECK_MP_H */
