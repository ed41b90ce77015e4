#!/bin/sh
# it_ha_snap.sh: a member that was down while its group compacted its log
# (snapshots every 64 entries, QLOCKD_TEST_SNAPSHOT_EVERY) catches up from
# the leader's snapshot, which carries the last epoch: it then knows every
# shard's leader and address (topology through it).  Skipped without
# libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_snap
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"
QLOCKD_TEST_SNAPSHOT_EVERY=64
export QLOCKD_TEST_SNAPSHOT_EVERY

cluster_up
kill9 3
# With node 3 gone the leaders may move once more (a leader that had just
# been handed its shard loses its quorum while the handing worker
# restarts): take the address from leaders that serve without node 3.
set -- $(ha leaders 30 3 $lport1 $lport2) ||
    { logs; die "shards not led by nodes 1 or 2 within 30 s of node 3's death"; }
addr0=$3
n=0
for i in $(seq 1 300); do
	qput "$addr0" "q$((i % 10))" "item-$i" && { n=$((n + 1)); continue; }
	# Refused: ask again who leads, once, and try there.
	set -- $(ha leaders 30 3 $lport1 $lport2) && addr0=$3
	qput "$addr0" "q$((i % 10))" "item-$i" && n=$((n + 1))
done
[ $n -eq 300 ] || fail "300 puts with node 3 down: $n acknowledged;" \
    "last refusals: $(tail -3 "$tmp/put.err")"
ls "$tmp"/raft1/shard-*/snapshot-* > /dev/null 2>&1 ||
    fail "node 1 wrote no snapshot"
start 3
if wait_for 20 grep -q "snapshot restored" "$tmp/node3.log"; then
	ok "node 3 restored a snapshot sent by a leader"
else
	fail "node 3 restored no snapshot: $(tail -5 "$tmp/node3.log")"
fi
if WANT="1 2" ha leaders 20 0 $lport3 > /dev/null; then
	ok "topology through node 3 names every shard's leader and address"
else
	fail "topology through node 3 lacks a leader or its address"
fi
[ $fails -eq 0 ] || logs
finish
