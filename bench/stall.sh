#!/bin/bash
# bench/stall.sh: the worst request a client sees while its worker
# compacts a large shard.  Starts qlockd (one worker, --data-dir,
# --fsync everysec, --compact-min 1m), fills one queue with ITEMS items of
# SIZE bytes, then runs PAIRS put+get pairs of SIZE bytes on another queue
# (the log grows past twice the live data: compactions happen during the
# run) and prints the worst pair and how many took over 10 ms, REPS times.
# See docs/PERFORMANCE.md.
#
# usage: bench/stall.sh [BUILD_DIR]   environment: REPS (5), ITEMS (15000),
#   SIZE (4096), PAIRS (12000), DIR (a new dir under /var/tmp)
set -eu

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
REPS=${REPS:-5}
ITEMS=${ITEMS:-15000}
SIZE=${SIZE:-4096}
PAIRS=${PAIRS:-12000}
DIR=${DIR:-$(mktemp -d /var/tmp/qlock-stall.XXXXXX)}
QPID=

cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

mkdir -p "$DIR"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/key")
for rep in $(seq "$REPS"); do
	port=$(free_port)
	rm -rf "$DIR/q"
	"$BUILD/qlockd" $asroot -f --listen 127.0.0.1:$port --worker-ports 0 \
	    --workers 1 \
	    --authkey-file "$DIR/key" --data-dir "$DIR/q" --fsync everysec \
	    --compact-min 1m --log-level info 2>"$DIR/qlockd.log" &
	QPID=$!
	for _ in $(seq 100); do
		QLOCK_ADDRESS=127.0.0.1:$port QLOCK_AUTHKEY_FILE="$DIR/key" \
		    "$BUILD/qlock" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	"$BUILD/qlock-bench" -a 127.0.0.1:$port -k "$DIR/key" -t put -c 1 \
	    -n "$ITEMS" -d "$SIZE" -q 1 --prefix big --max-seconds 120 >/dev/null
	"$BUILD/qlock-bench" -a 127.0.0.1:$port -k "$DIR/key" -t roundtrip \
	    -c 1 -n "$PAIRS" -d "$SIZE" -q 1 --prefix churn --max-seconds 120 \
	    --dump "$DIR/lat" >/dev/null
	kill "$QPID"; wait "$QPID" 2>/dev/null || true; QPID=
	printf 'rep %d: worst pair %.1f ms, %d pairs over 10 ms, %d compactions\n' \
	    "$rep" "$(tail -1 "$DIR/lat.roundtrip" | awk '{ print $1 / 1000 }')" \
	    "$(awk '$1 > 10000' "$DIR/lat.roundtrip" | wc -l)" \
	    "$(grep -c compacted "$DIR/qlockd.log" || true)"
done
