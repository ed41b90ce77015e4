# it_ha_netns.sh: sourced by the cluster tests that cut the network
# (it_ha_partition.sh, it_ha_refresh.sh) after it_ha_lib.sh: each node in
# a network namespace of its own, on a veth pair to a bridge made here
# (root needed: skipped otherwise), torn down at exit; the clients run
# outside and reach every node at $net.N.  Replaces start (nodes of
# $workers workers, default 2, at $net.N:$lport1, the workers' own ports
# from $wports, default 0: any, Raft at $net.N:$raft1), and adds cut and
# heal.

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
command -v ip > /dev/null || { echo "SKIP: no ip(8)"; exit 77; }

br=qhb$$
# A /24 no other interface has (another of these tests may run at once).
_x=$(( $$ % 250 + 1 ))
for _i in $(seq 250); do
	ip -4 addr show | grep -q "inet 10\.232\.$_x\." || break
	_x=$(( _x % 250 + 1 ))
done
net=10.232.$_x
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
	reaped "$1"
	ip netns exec "qhn$1$$" "$QLOCKD" $asroot -f --workers "${workers:-2}" \
	    --listen "$net.$1:$lport1" --worker-ports "${wports:-0}" \
	    --authkey-file "$tmp/key" --node-id "$1" $peers \
	    --raft-dir "$tmp/raft$1" --raft-election-ms "${election:-300}" \
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
