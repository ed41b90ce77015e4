#!/bin/sh
# it_ha_snap_load.sh: a leader compacts its raft log under constant
# pipelined writes (issue 13, docs/HA.md "Snapshots"): with snapshots every
# 64 entries (QLOCKD_TEST_SNAPSHOT_EVERY), one client (it_ha_snap_load.py)
# sends puts to shard 0 without waiting for replies for 12 s, while node
# 3 is stopped and node 2's worker of shard 0 paused 20 ms of every 30, so
# that the leader's entries are on their way when raft asks for a
# snapshot.  The leader still writes snapshots: the index of its newest
# snapshot file advances with the load, its log (last index minus its
# snapshot's, stats' "snapshot", or without it the file's) stays short,
# stats' "snapshots" counts them and the drains (QLOCKD_TEST_SNAPSHOT_DRAIN:
# one at each refusal), and nothing failed.
# Then every node restarted at once rebuilds from its snapshot and log,
# and the queue holds each put once.  Skipped without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_snap_load
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"
QLOCKD_TEST_SNAPSHOT_EVERY=64
QLOCKD_TEST_SNAPSHOT_DRAIN=1
export QLOCKD_TEST_SNAPSHOT_EVERY QLOCKD_TEST_SNAPSHOT_DRAIN

# sample: shard 0 as its leader sees it (nodes 1 and 2: node 3 is stopped
# meanwhile), "node last snapshot taken failed drains file" (-1 for what
# stats lack; file: the index
# of the node's newest snapshot file, listed before its stats), or nothing.
sample() {
	for p in $lport1 $lport2; do
		eval "_f$p=\$(snapfile \$(node_of $p))"
	done
	for p in $lport1 $lport2; do
		timeout 10 "$QLOCK_CLI" -a 127.0.0.1:$p stats --json 2>/dev/null |
		    "$PY" -c '
import json, sys
for r in json.load(sys.stdin).get("raft", []):
    if r["shard"] == 0 and r["role"] == "leader":
        s = r.get("snapshots", {})
        print(r["node"], r["last"], r.get("snapshot", -1),
              s.get("taken", -1), s.get("failed", -1), s.get("drains", -1),
              end=" ")' 2>/dev/null &&
		    eval "echo \$_f$p"
	done | grep . | head -1
}
node_of() {
	case $1 in $lport1) echo 1 ;; $lport2) echo 2 ;; *) echo 3 ;; esac
}
# snapfile NODE: the index of the newest snapshot file of NODE's shard 0
# (raft_uv: snapshot-TERM-INDEX-TIME), or 0.
snapfile() {
	ls "$tmp/raft$1/shard-0" 2>/dev/null |
	    sed -n 's/^snapshot-[0-9]*-\([0-9]*\)-[0-9]*$/\1/p' |
	    sort -n | tail -1 | grep . || echo 0
}

election=1000	# not about failover: no election for a slow pass
start 1; start 2; start 3
set -- $(WANT="1 2" ha leaders 30 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 30 s"; }
addr=$3

# Commits that take a while, as over a network: node 3's workers stopped,
# node 2's worker of shard 0 (the one listening on its Raft port) paused
# 20 ms of every 30 while it is still node 2's (bounded: 600 cycles, 18 s).
# (Bounded wait: a hand-over may be restarting that worker just now.)
w2_listens() {
	w2=$(ss -Hltnp "sport = :$raft2" |
	    sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -1)
	pgrep -P "$pid2" | grep -qx "${w2:-none}"
}
wait_for 10 w2_listens ||
    { logs; die "no worker of node 2 listening on $raft2"; }
w3=$(pgrep -P "$pid3")
kill -STOP $w3
(
	i=0
	while [ ! -f "$tmp/unpause" ] && [ $i -lt 600 ] &&
	    pgrep -P "$pid2" | grep -qx "$w2"; do
		kill -STOP "$w2"; sleep 0.02; kill -CONT "$w2"; sleep 0.01
		i=$((i + 1))
	done
	kill -CONT "$w2" 2>/dev/null
) &
pauser=$!
pids="$pids $pauser"
timeout 90 "$PY" "$here/it_ha_snap_load.py" "$addr" 12 > "$tmp/bench.out" \
    2>&1 &
benchpid=$!
pids="$pids $benchpid"
sleep 3
set -- $(sample)
[ $# -eq 7 ] || { logs; die "no leader of shard 0 in stats under load"; }
node0=$1 last0=$2 file0=$7
# Under load to its end (the bench stops after 12 s): the last sample.
n=0
while kill -0 $benchpid 2>/dev/null && [ $n -lt 40 ]; do
	s=$(sample)
	[ -n "$s" ] && set -- $s && node1=$1 last1=$2 stat1=$3 taken1=$4 \
	    failed1=$5 drains1=$6 file1=$7
	n=$((n + 1))
	sleep 0.5
done
wait $benchpid
touch "$tmp/unpause"
wait $pauser
kill -CONT $w3
tail -3 "$tmp/bench.out"
echo "shard 0 under load: node $node0 last $last0 snapshot file $file0;" \
    "then node $node1 last $last1 snapshot file $file1 (stats $stat1," \
    "taken $taken1, failed $failed1, drains $drains1)"
if [ "$node1" != "$node0" ]; then
	fail "shard 0's leader changed under load ($node0, then $node1)"
elif [ $((last1 - last0)) -lt 300 ]; then
	fail "the load added $((last1 - last0)) entries to shard 0, not 300"
# Behind by less than half what the load added (a snapshot takes a fork,
# a write and a read back: on a loaded machine hundreds of entries come
# meanwhile; with none taken it would be behind by all of it).
elif [ $((file1 - file0)) -lt 150 ] ||
    [ $((last1 - (stat1 >= 0 ? stat1 : file1))) -gt $(((last1 - last0) / 2)) ]; then
	fail "the leader's log grew under load: snapshot $file0 -> $file1" \
	    "while its last index went $last0 -> $last1"
else
	ok "the leader took snapshots under load: $file0 -> $file1," \
	    "last index $last0 -> $last1"
fi
if [ "$stat1" -ge "$file1" ] 2>/dev/null && [ "$taken1" -gt 0 ] &&
    [ "$failed1" -eq 0 ] && [ "$drains1" -gt 0 ]; then
	ok "stats: snapshot $stat1 (file $file1), $taken1 taken, none" \
	    "failed, $drains1 drains"
else
	fail "stats: snapshot $stat1 taken $taken1 failed $failed1" \
	    "drains $drains1 (newest file $file1)"
fi
set -- $(cat "$tmp/bench.out")
queue=$1 sent=$3 acked=$5
[ "$acked" = "$sent" ] && [ "$7" = 0 ] ||
    fail "pipelined puts: $sent sent, $acked acknowledged, $7 errors"
grep -q "snapshot.*failed\|snapshot process" "$tmp"/node*.log &&
    fail "a snapshot failed: $(grep "snapshot" "$tmp"/node*.log | tail -3)"

# Every node down and up: each rebuilds from its snapshot and the log.
kill9 1; kill9 2; kill9 3
start 1; start 2; start 3
set -- $(WANT="1 2" ha leaders 60 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 60 s of the restart"; }
grep -q "shard 0: snapshot restored" "$tmp/node$node0.log" ||
    fail "node $node0 did not restore its snapshot"
# Node 1 leads shard 0 again, from its snapshot and log: each put once.
size=$(timeout 20 "$PY" "$here/it_ha_snap_load.py" size "$3" "$queue")
if [ "$size" = "$acked" ]; then
	ok "after the restart $queue holds the $size items acknowledged"
else
	fail "after the restart $queue holds $size items, not $acked"
fi
[ $fails -eq 0 ] && [ -z "$KEEPLOGS" ] || logs
finish
