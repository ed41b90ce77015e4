#!/bin/sh
# it_ha_refresh.sh: a client that asks a member for the leaders again
# keeps its connections to the leaders it has, unless another leader took
# their session (issue 13; docs/HA-SESSIONS.md).  Three nodes in network
# namespaces (it_ha_netns.sh), three shards, led by nodes 1, 2 and 3.  A
# client whose only member is node 3 holds a lock on shard 1 (node 2's)
# and has used shard 2 (node 3's).  Node 3 is cut off from node 2 both
# ways, so that it knows no leader for shard 1; then shard 2's leader
# fails: node 3 killed (-9) and started again, or only its shard 2 worker
# killed (the client's first connection, to node 3's shard 0 worker, stays
# up).  The client's next call on shard 2 finds its connection closed and
# asks node 3 for the leaders.  Its connection to node 2 must stay:
# closing it would end its session there and give the lock to a rival.
# With libqlock and with the Python package.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_refresh
. "$here/it_lib.sh"

election=500
workers=3
. "$here/it_ha_lib.sh"
TOUCH=${HA_TOUCH:-$here/ha_touch}
[ -x "$TOUCH" ] || { echo "SKIP: no $TOUCH"; exit 77; }
wports=$((lport1 + 1))		# worker N's own port: wports + N
. "$here/it_ha_netns.sh"

start 1; start 2; start 3
WANT="1 2 3" ha leaders 30 0 $ports > /dev/null ||
    { logs; die "shards not led by nodes 1, 2 and 3 within 30 s"; }
ok "shards 0, 1 and 2 led by nodes 1, 2 and 3, in namespaces"

# worker2: the pid of node 3's shard 2 worker (its own port's listener,
# the master aside).
worker2() {
	ip netns exec "qhn3$$" ss -ltnpH "sport = :$((wports + 2))" |
	    grep -o 'pid=[0-9]*' | sed 's/pid=//' | grep -vx "$pid3" | head -1
}

# round WHO FAULT CLIENT...: the scenario above with CLIENT (ha_touch's
# usage), shard 2's leader failing as FAULT says: node or worker.
round() {
	who=$1 fault=$2
	shift 2
	lk=$(ha name "rl$who" 1 3) tq=$(ha name "rq$who" 2 3)
	if [ "$fault" = node ]; then
		first=$net.3:$lport1
	else
		first=$net.3:$wports
	fi
	mkfifo "$tmp/in.$who"
	QLOCK_ADDRESS=$first timeout 180 "$@" "$lk" "$tq" < "$tmp/in.$who" \
	    > "$tmp/$who.out" 2> "$tmp/$who.err" &
	pids="$pids $!"
	exec 3> "$tmp/in.$who"
	wait_for 20 grep -q "^held" "$tmp/$who.out" ||
	    { logs; cat "$tmp/$who.err"; die "$who: $lk not taken"; }
	echo touch >&3
	wait_for 20 grep -q "^touch" "$tmp/$who.out" ||
	    die "$who: no answer on shard 2"

	cut blackhole 2 3
	cut blackhole 3 2
	if [ "$fault" = node ]; then
		kill9 3
		start 3
	else
		wait_for 30 sh -c "QLOCK_AUTHKEY_FILE='$tmp/key' \
		    PYPKG='$PYPKG' '$PY' '$tmp/ha.py' known '$first' \
		    2>/dev/null | grep -q '^1 - 3'" ||
		    { logs; die "$who: node 3 still names node 2 (cut off)"; }
		rw=$(worker2)
		[ -n "$rw" ] || die "$who: node 3's shard 2 worker not found"
		kill -KILL "$rw"
	fi
	# Node 3 knows shard 0's leader, and none for shard 1.
	wait_for 30 sh -c "QLOCK_AUTHKEY_FILE='$tmp/key' PYPKG='$PYPKG' \
	    '$PY' '$tmp/ha.py' known '$first' 2>/dev/null | grep -q '^1 - '" ||
	    { logs; die "$who: node 3 does not know node 1 but not node 2"; }
	ok "$who: node 3 cut off from node 2, then its $fault killed: it names no leader for shard 1"

	echo touch >&3
	wait_for 30 sh -c "[ \$(grep -c '^touch' '$tmp/$who.out') -ge 2 ]" ||
	    fail "$who: no answer on shard 2 after the kill"
	QLOCK_ADDRESS=$net.1:$lport1 timeout 30 "$QLOCK_CLI" lock -n "$lk" \
	    -- true 2> "$tmp/$who.rival"
	case $? in
	1) ok "$who: after asking node 3 for the leaders, $lk is still held (a rival cannot take it)" ;;
	0) fail "$who: a rival took $lk: the client dropped node 2's connection" ;;
	*) fail "$who: the rival: $(cat "$tmp/$who.rival")" ;;
	esac
	echo release >&3
	wait_for 30 grep -q "^release" "$tmp/$who.out"
	grep -q "^released" "$tmp/$who.out" &&
	    ok "$who: the client released $lk: it was the owner all along" ||
	    fail "$who: $(cat "$tmp/$who.out" "$tmp/$who.err")"
	exec 3>&-
	heal
	WANT="1 2 3" ha leaders 60 0 $ports > /dev/null ||
	    { logs; die "$who: shards not led by nodes 1, 2 and 3 again"; }
}
round c node "$TOUCH"
round py node "$PY" "$here/ha_touch.py"
round cw worker "$TOUCH"
round pyw worker "$PY" "$here/ha_touch.py"

[ $fails -eq 0 ] || logs
finish
