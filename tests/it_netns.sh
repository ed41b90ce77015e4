# it_netns.sh: sourced first (before it_lib.sh) by the tests that refuse
# local traffic by port.  Runs the test again in a network namespace of
# its own (root, unshare(1), ip(8)): loopback up, and rules before the
# local table (moved from 0 to 100), so that `ip rule add pref 10 ipproto
# tcp dport PORT prohibit` refuses local traffic to PORT (netns_cut).
# Without that the test is skipped (77), or, if $NETNS_OPTIONAL is set,
# goes on where it is with $netns empty.
netns=
if [ -z "$QLOCK_NETNS" ]; then
	_why=
	if [ "$(id -u)" -ne 0 ]; then
		_why="needs root for a network namespace"
	elif ! command -v unshare > /dev/null || ! command -v ip > /dev/null; then
		_why="no unshare(1) or ip(8)"
	else
		QLOCK_NETNS=1 exec unshare -n sh "$0" "$@"
		_why="unshare -n failed"
	fi
	[ -n "$NETNS_OPTIONAL" ] || { echo "SKIP: $_why"; exit 77; }
	echo "# no network namespace ($_why): no cut"
elif ip link set lo up && ip rule add pref 100 table local &&
    ip rule del pref 0 && ip rule add pref 10 ipproto tcp dport 9 prohibit &&
    ip rule del pref 10; then
	netns=1
else
	echo "SKIP: cannot set ip rules by port here"
	exit 77
fi
# netns_cut add|del PORT...: refuse (or again let through) TCP to PORT...
netns_cut() {
	_op=$1
	shift
	for _p in "$@"; do
		ip rule "$_op" pref 10 ipproto tcp dport "$_p" prohibit
	done
}
