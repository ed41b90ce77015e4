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

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
command -v ip > /dev/null || { echo "SKIP: no ip(8)"; exit 77; }
election=500
. "$here/it_ha_lib.sh"

br=qhb$$
net=10.232.$(( $$ % 250 + 1 ))
if ! ip link add "$br" type bridge 2>/dev/null; then
	echo "SKIP: cannot make a bridge"
	exit 77
fi
nscleanup() {
	for n in 1 2 3; do
		ip link del "qh$n$$" 2>/dev/null
		ip netns del "qhn$n$$" 2>/dev/null
	done
	ip link del "$br" 2>/dev/null
	cleanup
}
trap nscleanup EXIT
ip addr add "$net.254/24" dev "$br" && ip link set "$br" up ||
    die "bridge setup"
for n in 1 2 3; do
	ip netns add "qhn$n$$" &&
	    ip link add "qh$n$$" type veth peer name "qhp$n$$" &&
	    ip link set "qhp$n$$" netns "qhn$n$$" &&
	    ip link set "qh$n$$" master "$br" && ip link set "qh$n$$" up &&
	    ip netns exec "qhn$n$$" ip addr add "$net.$n/24" dev "qhp$n$$" &&
	    ip netns exec "qhn$n$$" ip link set "qhp$n$$" up &&
	    ip netns exec "qhn$n$$" ip link set lo up ||
	    die "namespace $n setup"
done
# The nodes' addresses: raft and clients on $net.N, same ports everywhere.
peers="--peer 1=$net.1:$raft1 --peer 2=$net.2:$raft1 --peer 3=$net.3:$raft1"
ports="$net.1:$lport1 $net.2:$lport1 $net.3:$lport1"
start() {
	ip netns exec "qhn$1$$" "$QLOCKD" $asroot -f --workers 2 \
	    --listen "$net.$1:$lport1" --worker-ports 0 \
	    --authkey-file "$tmp/key" --node-id "$1" $peers \
	    --raft-dir "$tmp/raft$1" --raft-election-ms "$election" \
	    >> "$tmp/node$1.log" 2>&1 &
	eval "pid$1=$!"
	pids="$pids $!"
}
# cut HOW A B...: in node A's namespace, HOW (blackhole: a route; prohibit:
# a rule) for traffic to each node B; heal undoes them all.
cut() {
	how=$1 a=$2
	shift 2
	for b in "$@"; do
		if [ "$how" = blackhole ]; then
			ip netns exec "qhn$a$$" ip route add blackhole "$net.$b/32"
		else
			ip netns exec "qhn$a$$" ip rule add to "$net.$b/32" prohibit
		fi || die "cut $how $a -> $b"
	done
}
heal() {
	for a in 1 2 3; do
		for b in 1 2 3; do
			ip netns exec "qhn$a$$" ip route del blackhole \
			    "$net.$b/32" 2>/dev/null
			ip netns exec "qhn$a$$" ip rule del to "$net.$b/32" \
			    prohibit 2>/dev/null
		done
	done
}

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
