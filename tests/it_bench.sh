#!/bin/sh
# it_bench.sh: qlock-bench's raw clients route (issue 12): against the real
# qlockd with two workers, pipelined batches and the polling clients send
# each request to its name's owner (the daemon forwards none), --no-route
# and QLOCK_ROUTE=0 send all on the first connection (the daemon forwards
# some), and every run completes with no error; the lock test hands one
# lock over between contenders.  Not a benchmark: small counts.
set -u
here=$(cd "$(dirname "$0")" && pwd)
name=it_bench
QBENCH=${QBENCH:-$here/../qlock-bench}
. "$here/it_lib.sh"
[ -x "$QBENCH" ] || { echo "SKIP: no $QBENCH"; exit 77; }

start_daemon --workers 2 --log-level warn

# One qlock-bench run: its CSV line in $line, and fields by name.
bench() {
	line=$(timeout 60 "$QBENCH" --csv -s 30 "$@" 2>"$tmp/bench.err" |
	    tail -1)
	units=$(echo "$line" | cut -d, -f7)
	fwd=$(echo "$line" | cut -d, -f15)
	errors=$(echo "$line" | cut -d, -f16)
	end=$(echo "$line" | cut -d, -f19)
}
# check what n units errors forwarded(0 or some)
check() {
	what=$1 n=$2 want=$3
	if [ "$units" != "$n" ] || [ "$errors" != 0 ] || [ "$end" != ok ]; then
		fail "$what: units=$units errors=$errors end=$end: $line $(cat "$tmp/bench.err")"
	elif [ "$want" = 0 ] && [ "$fwd" != 0 ]; then
		fail "$what: routed, yet $fwd requests forwarded"
	elif [ "$want" = some ] && [ "$fwd" = 0 ]; then
		fail "$what: not routed, yet nothing forwarded"
	else
		ok "$what: $units units, $fwd forwarded"
	fi
}

bench -t pipeline -c 2 -q 8 -P 16 -n 2000
check "pipeline routed" 2000 0
bench -t pipeline -c 2 -q 8 -P 16 -n 2000 --no-route
check "pipeline --no-route" 2000 some
bench -t roundtrip -c 4 -q 4 -p 2 -n 400
check "polling roundtrip routed" 400 0
QLOCK_ROUTE=0 bench -t roundtrip -c 4 -q 4 -p 2 -n 400
check "polling roundtrip QLOCK_ROUTE=0" 400 some
bench -t lock -c 4 -p 2 -n 400
check "polling lock routed" 400 0
bench -t lock -c 4 -n 400
check "libqlock lock routed" 400 0
bench -t prodcons -c 4 -q 4 -n 400
check "libqlock prodcons routed" 400 0
finish
