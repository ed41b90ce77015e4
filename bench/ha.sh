#!/bin/bash
# bench/ha.sh: what replication costs and how long a failover takes.  In one
# run, REPS times interleaved: acknowledged puts per second and p50/p99 for
# CLIENTS connections (libqlock, a process each: qlock-bench -t put) against
# a three-node cluster on loopback (each shard's Raft group on three nodes,
# a put acknowledged once a majority has it on disk) and against one node
# with --data-dir and --fsync always (each put on disk before its reply).
# Then KILLS times: kill -9 of the node leading shard 0, and the time from
# the kill to the first put on shard 0 acknowledged by the survivors.  See
# docs/PERFORMANCE-HA.md.
#
# usage: bench/ha.sh [BUILD_DIR]   environment: REPS (3), N (20000),
#   CLIENTS ("1 8 32"), SIZE (64), WORKERS (2), KILLS (5), ELECTION (1000,
#   ms), DIR (a new dir under /var/tmp: the nodes' data, on disk).
set -eu

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)}
QLOCKD=$BUILD/qlockd QLOCK=$BUILD/qlock
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
REPS=${REPS:-3}
N=${N:-20000}
CLIENTS=${CLIENTS:-"1 8 32"}
SIZE=${SIZE:-64}
WORKERS=${WORKERS:-2}
KILLS=${KILLS:-5}
# Debian's python3, which has python3-msgpack (the tree's package needs it).
PY=${PY:-/usr/bin/python3}
ELECTION=${ELECTION:-1000}
DIR=${DIR:-$(mktemp -d /var/tmp/qlock-ha.XXXXXX)}
. "$(dirname "$0")/lib.sh"
cluster_init ha

now_ms() { date +%s%3N; }

# put ADDR QUEUE: one acknowledged put through the CLI, bounded.
put() { timeout 5 "$QLOCK" -a "$1" put "$2" x >/dev/null 2>&1; }

# Until one put on QUEUE is acknowledged through one of ADDRS (bounded:
# 60 s); prints the milliseconds it took, or "-".
first_put() {
	local q=$1 t0 a; shift
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt 60000 ]; do
		for a in "$@"; do
			put "$a" "$q" && { echo $(($(now_ms) - t0)); return; }
		done
		sleep 0.02
	done
	echo -
}

# The cluster: node ids 1-3, Raft ports and client ports.
rport=() lport=() npid=()
read -r rport[1] rport[2] rport[3] lport[1] lport[2] lport[3] \
    <<< "$(free_ports_low 6)"
peers="--peer 1=127.0.0.1:${rport[1]} --peer 2=127.0.0.1:${rport[2]} --peer 3=127.0.0.1:${rport[3]}"
node_start() {
	"$QLOCKD" $asroot -f --workers "$WORKERS" --listen 127.0.0.1:${lport[$1]} \
	    --worker-ports 0 --authkey-file "$DIR/key" --node-id "$1" $peers \
	    --raft-dir "$DIR/raft$1" --raft-election-ms "$ELECTION" \
	    --log-level warn 2>>"$DIR/node$1.log" &
	npid[$1]=$!
	PIDS="$PIDS $!"
}
node_kill() { kill_trees "${npid[$1]}"; }
# The node leading shard SHARD (from the topology of any member), or "".
PYPKG=$(cd "$(dirname "$0")/.." && pwd)/python
leader_of() {
	PYTHONPATH=$PYPKG "$PY" - "$1" ${lport[1]} ${lport[2]} ${lport[3]} <<'EOF2' 2>/dev/null
import os, sys
from qlock._wire import Connection
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
g = int(sys.argv[1])
for p in sys.argv[2:]:
    try:
        t = Connection("127.0.0.1:" + p, key).call("topology")
    except Exception:
        continue
    if t.get("leaders") and t["leaders"][g]:
        print(t["leaders"][g])
        break
EOF2
}
# A queue name on shard 0 (of WORKERS shards), from the tree's Python package.
Q0=$(PYTHONPATH=$PYPKG "$PY" -c '
import sys
from qlock._route import shard_of
print(next("hq%d" % i for i in range(1000) if shard_of("hq%d" % i, int(sys.argv[1])) == 0))' "$WORKERS")

# qlock-bench's put row: "rate p50 p99".
bench_put() {
	"$BUILD/qlock-bench" -a "$1" -t put -c "$2" -n "$N" -d "$SIZE" -q 8 \
	    --max-seconds 120 --csv |
	    awk -F, '$1 == "put" { printf "%d %.2f %.2f\n", $9, $10, $11 }'
}


settled() {
	local g
	for g in $(seq 0 $((WORKERS - 1))); do
		[ "$(leader_of $g)" = $((g % 3 + 1)) ] || return 1
	done
}
cluster_up() {
	local i
	rm -rf "$DIR"/raft[123]
	for i in 1 2 3; do node_start $i; done
	# Settled: every shard g led by its preferred node, g % 3 + 1 (leaders
	# move there 5 s after an election elsewhere; docs/HA.md).
	for i in $(seq 300); do
		settled || { sleep 0.2; continue; }
		put 127.0.0.1:${lport[1]} "$Q0" && settled && return
		sleep 0.2
	done
	echo "ha.sh: the cluster elected no leaders; see $DIR/node*.log" >&2
	exit 1
}
cluster_down() { local i; for i in 1 2 3; do node_kill $i; done; PIDS=""; }

one_up() {
	local port
	port=$(free_port)
	rm -rf "$DIR/one"; mkdir -p "$DIR/one"
	"$QLOCKD" $asroot -f --workers "$WORKERS" --listen 127.0.0.1:$port \
	    --worker-ports 0 --authkey-file "$DIR/key" --data-dir "$DIR/one" \
	    --fsync always --log-level warn 2>>"$DIR/one.log" &
	npid[0]=$!
	PIDS="$PIDS $!"
	for _ in $(seq 100); do put 127.0.0.1:$port "$Q0" && { ONE=127.0.0.1:$port; return; }; sleep 0.1; done
	echo "ha.sh: qlockd --fsync always did not start" >&2
	exit 1
}

echo "# qlockd $("$QLOCKD" --version 2>&1 | head -1); $(nproc) cores;" \
    "load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%F %H:%M UTC')"
echo "# $WORKERS workers a node, $SIZE-byte items, $N puts a run, medians of $REPS"
: > "$DIR/rows"
for r in $(seq "$REPS"); do
	cluster_up
	for c in $CLIENTS; do
		echo "three $c $(bench_put 127.0.0.1:${lport[1]} $c)" >> "$DIR/rows"
	done
	cluster_down
	one_up
	for c in $CLIENTS; do
		echo "one $c $(bench_put "$ONE" $c)" >> "$DIR/rows"
	done
	node_kill 0
done
printf "%-30s %8s %12s %9s %9s\n" setup clients "puts/s" "p50 ms" "p99 ms"
for s in three one; do
	for c in $CLIENTS; do
		rate=$(awk -v s=$s -v c=$c '$1 == s && $2 == c { print $3 }' "$DIR/rows" | median)
		p50=$(awk -v s=$s -v c=$c '$1 == s && $2 == c { print $4 }' "$DIR/rows" | median)
		p99=$(awk -v s=$s -v c=$c '$1 == s && $2 == c { print $5 }' "$DIR/rows" | median)
		lbl="three nodes (Raft)"; [ $s = one ] && lbl="one node, --fsync always"
		printf "%-30s %8s %12s %9s %9s\n" "$lbl" "$c" "$rate" "$p50" "$p99"
	done
done

# Failover: kill -9 the leader of shard 0, time the first acknowledged put
# on shard 0 through the survivors; bring it back and let it catch up.
cluster_up
times=""
for k in $(seq "$KILLS"); do
	l=$(leader_of 0)
	[ -n "$l" ] || { sleep 1; l=$(leader_of 0); }
	[ -n "$l" ] || { echo "ha.sh: no leader for shard 0" >&2; exit 1; }
	others=""
	for i in 1 2 3; do [ $i = "$l" ] || others="$others 127.0.0.1:${lport[$i]}"; done
	node_kill "$l"
	# shellcheck disable=SC2086
	times="$times $(first_put "$Q0" $others)"
	node_start "$l"
	# Back to the settled layout (the restarted node leads its shard again
	# once it has caught up), so each kill starts from the same place.
	for _ in $(seq 300); do settled && break; sleep 0.2; done
done
echo "failover (kill -9 of shard 0's leader, election ${ELECTION} ms):" \
    "first acknowledged put after$(printf ' %s' $times) ms;" \
    "median $(printf '%s\n' $times | median) ms"
