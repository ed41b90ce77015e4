#!/bin/bash
# bench/snap_stall.sh: the longest a trivial request (ping) waits on a
# replicated worker while raft snapshots its large shard (issue 13,
# docs/HA.md "Snapshots"; figures in docs/HA-MEASURED.md).  Starts a
# one-member cluster (--peer: the same snapshot path as three members,
# without replication's noise), one worker, a snapshot every SNAP entries
# (QLOCKD_TEST_SNAPSHOT_EVERY), fills one queue with ITEMS items of SIZE
# bytes, then for SECS seconds pings on one connection while one client
# puts on another queue (its entries make raft snapshot the shard again
# and again); prints the longest pings, how many took over 10 and 100 ms,
# the entries (a snapshot every SNAP) and snapshots taken in the window.
# REPS times.
#
# usage: bench/snap_stall.sh [BUILD_DIR]   environment: REPS (3), ITEMS
#   (200000), SIZE (64), SNAP (2048), SECS (10), DIR (a new dir under
#   /var/tmp: the raft directory), LOGLEVEL (info; debug: each snapshot's
#   fork and write times, the last two printed)
set -eu

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)}
QLOCKD=$BUILD/qlockd QLOCK=$BUILD/qlock QBENCH=$BUILD/qlock-bench
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
REPS=${REPS:-3}
ITEMS=${ITEMS:-200000}
SIZE=${SIZE:-64}
SNAP=${SNAP:-2048}
SECS=${SECS:-10}
PY=${PY:-/usr/bin/python3}
DIR=${DIR:-$(mktemp -d /var/tmp/qlock-snapstall.XXXXXX)}
QPID=
PYPKG=$(cd "$(dirname "$0")/.." && pwd)/python

stop() {
	if [ -n "$QPID" ]; then
		kill "$QPID" 2>/dev/null || true
		wait "$QPID" 2>/dev/null || true
	fi
	QPID=
}
cleanup() { stop; rm -rf "$DIR"; }
trap cleanup EXIT
free_port() {
	"$PY" -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
(umask 077; echo "snap-stall-bench-key-long-enough" > "$DIR/key")
export QLOCK_AUTHKEY_FILE=$DIR/key
unset QLOCK_ADDRESS QLOCK_AUTHKEY QLOCK_ROUTE

# stats PORT: shard 0's "last snapshot-index taken" (-1: not in stats).
stats() {
	"$QLOCK" -a 127.0.0.1:$1 stats --json | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["raft"][0]
print(r["last"], r.get("snapshot", -1),
      r.get("snapshots", {}).get("taken", -1))'
}

for rep in $(seq "$REPS"); do
	port=$(free_port) rport=$(free_port)
	rm -rf "$DIR/raft"
	QLOCKD_TEST_SNAPSHOT_EVERY=$SNAP "$QLOCKD" $asroot -f \
	    --listen 127.0.0.1:$port --worker-ports 0 --workers 1 \
	    --authkey-file "$DIR/key" --node-id 1 \
	    --peer 1=127.0.0.1:$rport --raft-dir "$DIR/raft" \
	    --log-level "${LOGLEVEL:-info}" 2>"$DIR/qlockd.log" &
	QPID=$!
	for _ in $(seq 100); do
		"$QLOCK" -a 127.0.0.1:$port put warm x >/dev/null 2>&1 && break
		sleep 0.1
	done
	"$QBENCH" -a 127.0.0.1:$port -k "$DIR/key" -t put -p 1 -c 64 -n "$ITEMS" \
	    -d "$SIZE" -q 1 --prefix big --max-seconds 300 >/dev/null
	read -r last0 snap0 taken0 <<< "$(stats $port)"
	"$QBENCH" -a 127.0.0.1:$port -k "$DIR/key" -t put -c 1 \
	    -n 20000000 -d "$SIZE" -q 1 --prefix churn \
	    --max-seconds "$SECS" >/dev/null &
	bpid=$!
	PYTHONPATH=$PYPKG "$PY" - "$port" "$SECS" > "$DIR/ping" <<'EOF'
import os, sys, time
from qlock._wire import Connection
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
c = Connection("127.0.0.1:%s" % sys.argv[1], key)
end = time.monotonic() + float(sys.argv[2])
lat = []
while time.monotonic() < end:
    t = time.monotonic()
    c.call("ping")
    lat.append(time.monotonic() - t)
    time.sleep(0.001)
lat.sort()
print("%.1f %d %d %d %s" % (lat[-1] * 1000, sum(x > 0.010 for x in lat),
                            sum(x > 0.100 for x in lat), len(lat),
                            "/".join("%.0f" % (x * 1000) for x in lat[-6:-1])))
EOF
	wait "$bpid" || true
	read -r last1 snap1 taken1 <<< "$(stats $port)"
	read -r worst over over100 n next < "$DIR/ping"
	printf 'rep %d: %d items of %d bytes; longest ping %s ms ' \
	    "$rep" "$ITEMS" "$SIZE" "$worst"
	printf '(the next %s), of %d pings %d over 10 ms, %d over 100 ms; ' \
	    "$next" "$n" "$over" "$over100"
	printf '%d entries (snapshot index %s -> %s, taken %s -> %s)\n' \
	    $((last1 - last0)) "$snap0" "$snap1" "$taken0" "$taken1"
	grep "snapshot of" "$DIR/qlockd.log" | tail -2 || true
	stop
done
