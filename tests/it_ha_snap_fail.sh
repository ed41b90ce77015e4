#!/bin/sh
# it_ha_snap_fail.sh: a raft snapshot whose child process fails is a
# failed snapshot, tried again later (docs/HA.md "Snapshots"): a
# one-member cluster, snapshots every 16 entries, whose first two snapshot
# children exit 1 (QLOCKD_TEST_SNAPSHOT_FAIL=2), answers every one of 4 s
# of pipelined puts, warns twice, counts 2 failed and then snapshots taken
# in stats, leaves no file of its children in --raft-dir, and restarted
# restores its snapshot and holds every put.  Skipped without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_snap_fail
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"
QLOCKD_TEST_SNAPSHOT_EVERY=16
QLOCKD_TEST_SNAPSHOT_FAIL=2
export QLOCKD_TEST_SNAPSHOT_EVERY QLOCKD_TEST_SNAPSHOT_FAIL
peers="--peer 1=127.0.0.1:$raft1"

# snaps: shard 0's "snapshot taken failed" from node 1's stats.
snaps() {
	timeout 10 "$QLOCK_CLI" -a 127.0.0.1:$lport1 stats --json 2>/dev/null |
	    "$PY" -c '
import json, sys
for r in json.load(sys.stdin).get("raft", []):
    if r["shard"] == 0:
        s = r.get("snapshots", {})
        print(r.get("snapshot", -1), s.get("taken", -1), s.get("failed", -1))'
}

start 1
set -- $(ha leaders 30 0 $lport1) || { logs; die "node 1 does not serve"; }
addr=$3
timeout 90 "$PY" "$here/it_ha_snap_load.py" "$addr" 4 > "$tmp/load.out" 2>&1
set -- $(cat "$tmp/load.out")
queue=$1 sent=$3 acked=$5
[ "$acked" = "$sent" ] && [ "$7" = 0 ] && ok "$sent pipelined puts answered" ||
    fail "pipelined puts: $(cat "$tmp/load.out")"
n=0
until set -- $(snaps) && [ "$3" = 2 ] && [ "$2" -gt 0 ] 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 50 ] || break
	sleep 0.2
done
if [ "$3" = 2 ] && [ "$2" -gt 0 ] 2>/dev/null; then
	ok "stats: 2 snapshots failed, then $2 taken (index $1)"
else
	fail "stats: snapshot $1 taken $2 failed $3, not 2 failed then some"
fi
w=$(grep -c "shard 0: snapshot failed; raft tries again later" \
    "$tmp/node1.log")
[ "$w" = 2 ] && ok "two warnings" || fail "$w warnings, not 2"
ls "$tmp"/raft1/*.snap.tmp > /dev/null 2>&1 &&
    fail "a child's file is left: $(ls "$tmp/raft1")"
ls "$tmp"/raft1/shard-0/snapshot-* > /dev/null 2>&1 ||
    fail "no snapshot file in $tmp/raft1/shard-0"

kill9 1
_from=$(($(wc -l < "$tmp/node1.log") + 1))
start 1
set -- $(ha leaders 30 0 $lport1) ||
    { logs; die "node 1 does not serve after its restart"; }
tail -n "+$_from" "$tmp/node1.log" | grep -q "shard 0: snapshot restored" ||
    fail "node 1 did not restore its snapshot of shard 0"
size=$(timeout 20 "$PY" "$here/it_ha_snap_load.py" size "$3" "$queue")
[ "$size" = "$acked" ] && ok "after the restart $queue holds the $size puts" ||
    fail "after the restart $queue holds $size items, not $acked"
[ $fails -eq 0 ] || logs
finish
