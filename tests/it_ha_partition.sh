#!/bin/sh
# it_ha_partition.sh: network partitions in a three-node cluster under load
# (issue 13).  Each node runs in a network namespace of its own, on a veth
# pair to a bridge made here (root needed; skipped otherwise, and without
# libraft); the clients (it_ha_load.py) run outside and reach every node.
# Faults: shard 0's leader cut off from both others both ways (`ip route
# add blackhole` on each side), then healed; then the same leader's
# traffic to the others refused one way (`ip rule add prohibit` on its side
# only), then healed.  Checks as it_ha_faults.sh: no acknowledged item lost
# or doubled (a minority leader must acknowledge nothing), every joinable
# item finished once and each joinable queue joined, fencing tokens
# increasing, holders not overlapping, clients served again.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_partition
. "$here/it_lib.sh"

election=500
. "$here/it_ha_lib.sh"

. "$here/it_ha_netns.sh"

start 1; start 2; start 3
set -- $(ha leaders 30 0 $ports) ||
    { logs; die "no serving leaders within 30 s"; }
ok "every shard has a serving leader (nodes $1 $2), nodes in namespaces"

load_start
sleep 3

# partition NAME HOW WHAT: shard 0's leader cut off from the others for
# 3 s, HOW: "both" (blackhole routes on each side) or "one" (a prohibit
# rule on its side only: its packets to them are refused, theirs reach
# it); the others serve meanwhile; then healed.
partition() {
	set -- "$1" "$2" "$3" $(ha leaders 30 0 $ports)
	l=$4 o=
	for n in 1 2 3; do [ "$n" = "$l" ] || o="$o $n"; done
	mark "$1" start
	if [ "$2" = both ]; then
		cut blackhole "$l" $o
		for n in $o; do cut blackhole "$n" "$l"; done
	else
		cut prohibit "$l" $o
	fi
	sleep 3
	ha leaders 20 "$l" $ports > /dev/null ||
	    fail "$1: no serving leaders without node $l while it is cut off"
	heal
	mark "$1" end
	leaders_again "$1 partition of node $l"
	ok "$1: node $l $3 for 3 s, then healed"
	sleep 3
}
partition two-way both "cut off both ways"
partition one-way one "unable to send to the others"

load_finish
[ $fails -eq 0 ] || logs
finish
