#!/bin/sh
# it_raft_bench.sh: bench/raft-bench, issue 13's measurement of raft driven
# from the worker's libevent loop (-L) against raft on a thread of its own
# (-T), still runs: both commit and elect a new leader after kill -9 of the
# old one.  And a leader deposed in the middle of a bench (-L, the libevent
# loop blocked 400 ms a second, election timeout 100 ms) ends its bench with
# the entries counted failed, where raft-bench used to call raft_apply from
# the failing apply callback and crash libraft 0.15 (SIGSEGV).  Small
# counts, not a benchmark; skipped when built without libraft.
set -u
here=$(cd "$(dirname "$0")" && pwd)
name=it_raft_bench
RAFT_BENCH=${RAFT_BENCH:-$here/../raft-bench}
if [ ! -x "$RAFT_BENCH" ]; then
	echo "SKIP: no $RAFT_BENCH (built without libraft)"
	exit 77
fi
. "$here/it_lib.sh"

# A base port below the ephemeral range with base+1..base+3 free (the
# nodes' raft addresses); 50 tries.
free_base() {
	"$PY" -c '
import random, socket
for _ in range(50):
    b = random.randint(20000, 32000)
    try:
        for p in range(b + 1, b + 4):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            s.close()
    except OSError:
        continue
    print(b)
    break
'
}

# Run raft-bench with "$@"; its output in $tmp/out, its status in $rc.
run() {
	base=$(free_base)
	[ -n "$base" ] || die "no free ports"
	timeout 120 "$RAFT_BENCH" -D "$tmp" -p "$base" -d 1 "$@" \
	    >"$tmp/out" 2>&1
	rc=$?
}

for mode in -L -T; do
	run $mode -n 300 -w 1,16 -k 1 -e 200
	benches=$(grep -c ' commits=300 failed=0 ' "$tmp/out")
	kills=$(grep -c 'kill -9 of leader .* new leader' "$tmp/out")
	if [ $rc -eq 0 ] && [ "$benches" = 2 ] && [ "$kills" = 1 ]; then
		ok "raft-bench $mode: 2 benches committed, a new leader after kill -9"
	else
		fail "raft-bench $mode: exit $rc, $benches benches, $kills kills: $(cat "$tmp/out")"
	fi
done

# Deposed mid-bench: up to 3 runs until one is (it was in 3 of 3 here).
deposed=0
for i in 1 2 3; do
	run -L -n 2000 -w 1 -k 0 -e 100 -b 400000/1000
	if [ $rc -ne 0 ] || ! grep -q '^loop=libevent ' "$tmp/out"; then
		fail "raft-bench -L, loop blocked 400 ms: exit $rc: $(cat "$tmp/out")"
		break
	fi
	if ! grep -q ' failed=0 ' "$tmp/out"; then
		deposed=1
		ok "raft-bench -L, loop blocked 400 ms: leader deposed, bench ended: $(grep -o 'commits=[0-9]* failed=[0-9]*' "$tmp/out")"
		break
	fi
done
[ $deposed -eq 1 ] || [ $fails -ne 0 ] ||
    ok "raft-bench -L, loop blocked 400 ms: no leader deposed in 3 runs (not exercised)"
finish
