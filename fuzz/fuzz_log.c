/* fuzz_log.c: libFuzzer target for log and snapshot replay.  The input is
 * either a raw log body (after a valid header), or record payloads that
 * the target frames with valid CRCs (so that the fuzzer reaches the
 * records' contents), maybe followed by raw bytes (a torn or damaged
 * tail).  A log that replays must snapshot to a log that replays to the
 * same state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "object.h"
#include "store_int.h"
#include "util.h"
#include "fuzzutil.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replay a log held in memory into reg; the scan's verdict. */
static enum scan_end
replay_mem(const uint8_t *p, size_t size, struct registry *reg)
{
	struct replay	rp;
	size_t		end, bad;
	enum scan_end	how;

	replay_init(&rp, reg);
	how = replay_scan(p, size, &rp, &end, &bad, "fuzz");
	replay_finish(&rp);
	return how;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(true, LOG_LVL_ERR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry	 reg, reg2;
	uint8_t		*log = NULL, *s1, *s2, *snap;
	size_t		 len = 0, off, n, l1, l2, slen;
	enum scan_end	 how;

	if (size == 0)
		return 0;
	log = xmalloc(HDR_LEN);
	memset(log, 0, HDR_LEN);
	memcpy(log, HDR_MAGIC, 8);
	put_le32(log + 8, STORE_VERSION);
	len = HDR_LEN;
	off = 1;
	if (data[0] & 1) {
		/* Records: a 16-bit length, then the payload; a length of
		 * 0xffff ends them, and the rest is raw. */
		while (off + 2 <= size) {
			n = data[off] | (size_t)data[off + 1] << 8;
			off += 2;
			if (n == 0xffff)
				break;
			if (n > size - off)
				n = size - off;
			fuzz_record(&log, &len, data + off, n);
			off += n;
		}
	}
	if (off < size) {
		log = xrealloc(log, len + size - off);
		memcpy(log + len, data + off, size - off);
		len += size - off;
	}

	registry_init(&reg);
	how = replay_mem(log, len, &reg);
	if (how != SCAN_DAMAGED) {
		/* Round trip: the snapshot of what replayed, in the order it
		 * is written (records of one object depend on their order: a
		 * queue is made joinable before its count of unfinished tasks
		 * is set), replays to the same state. */
		fuzz_state(&reg, &s1, &l1);
		snap = fuzz_snapshot(&reg, &slen);
		registry_init(&reg2);
		if (replay_mem(snap, slen, &reg2) != SCAN_CLEAN)
			abort();
		fuzz_state(&reg2, &s2, &l2);
		if (l1 != l2 || memcmp(s1, s2, l1) != 0)
			abort();
		registry_free(&reg2);
		free(snap);
		free(s1);
		free(s2);
	}
	registry_free(&reg);
	free(log);
	return 0;
}
