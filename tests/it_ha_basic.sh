#!/bin/sh
# it_ha_basic.sh: a three-node cluster on loopback (issue 13): every shard
# gets a serving leader; items put through libqlock's routing (the qlock
# tool, each put acknowledged by exit status 0) survive kill -9 of a
# leader node, its restart, and kill -9 of all three nodes: at the end
# every acknowledged item is there exactly once.  Skipped (77) when qlockd
# was built without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_basic
. "$here/it_lib.sh"

. "$here/it_ha_lib.sh"

# put FIRST LAST ADDR: items FIRST..LAST to q(i % 10), connecting to ADDR
# (shard 0's leader's own address: libqlock routes the other shard's
# names to its leader); the acknowledged ones appended to $tmp/acked.
put() {
	i=$1
	while [ "$i" -le "$2" ]; do
		qput "$3" "q$((i % 10))" "item-$i" &&
		    echo "item-$i" >> "$tmp/acked"
		i=$((i + 1))
	done
}
start 1; start 2; start 3
# Leaders spread: shard g is led by the (g % 3)-th node once it serves.
set -- $(WANT="1 2" ha leaders 30 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 30 s"; }
ok "every shard has a serving leader (nodes $1 $2)"
first=$1

# Node 3 leads nothing: once it knows the leaders, a named request through
# it without routing is served (relayed to the leader: it_ha_forward.sh).
WANT="1 2" ha leaders 20 0 $lport3 > /dev/null ||
    fail "topology through node 3 lacks the leaders"
: > "$tmp/acked"
if QLOCK_ROUTE=0 timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport3 put q0 item-0 \
    > /dev/null 2> "$tmp/nl.err"; then
	echo item-0 >> "$tmp/acked"
	ok "a follower serves a request for a shard it does not lead"
else
	fail "a follower's answer: $(cat "$tmp/nl.err")"
fi
put 1 100 "$3"
ha tokens $ports > "$tmp/tok1" || fail "fencing tokens before the failover"
[ "$(wc -l < "$tmp/acked")" -eq 101 ] || fail "puts before the failover: $(tail -3 "$tmp/put.err")"

kill9 "$first"
set -- $(ha leaders 20 "$first" $ports) ||
    { logs; die "no new leaders within 20 s after node $first died"; }
ok "new leaders after kill -9 of node $first: nodes $1 $2"
put 101 200 "$3"
# Fencing tokens: every lock's next grant is above its last, whichever
# node leads now.
if ! ha tokens $ports > "$tmp/tok2"; then
	fail "fencing tokens after the failover"
elif join "$tmp/tok1" "$tmp/tok2" | awk '$3 <= $2 { bad = 1 } END { exit bad }' &&
    [ "$(join "$tmp/tok1" "$tmp/tok2" | wc -l)" -eq 10 ]; then
	ok "fencing tokens of 10 locks increase across the failover"
else
	fail "fencing tokens: $(join "$tmp/tok1" "$tmp/tok2")"
fi
[ "$(wc -l < "$tmp/acked")" -eq 201 ] || fail "puts after the failover: $(tail -3 "$tmp/put.err")"

start "$first"
# The restarted node catches up and gets its shard back; then every node
# dies at once.
if WANT="1 2" ha leaders 30 0 $ports > /dev/null; then
	ok "node $first leads shard 0 again after its restart"
else
	fail "node $first did not get shard 0 back after its restart"
fi
kill9 1; kill9 2; kill9 3
start 1; start 2; start 3
ha leaders 20 0 $ports > /dev/null || { logs; die "no leaders after the restart of all three"; }
ok "leaders again after kill -9 of all three"
check "after kill -9 of a leader, its restart, and kill -9 of all"

# Two members whose worker counts differ: whichever leads group 0, the
# other learns it from the epoch and stops (names would map to other
# shards there), saying why.
kill9 1; kill9 2; kill9 3
set -- $(ha ports 4 2)
for n in 1 2; do
	eval "lp=\$$((n + 2))"
	"$QLOCKD" $asroot -f --workers $n --listen 127.0.0.1:$lp \
	    --worker-ports 0 --authkey-file "$tmp/key" --node-id $n \
	    --peer 1=127.0.0.1:$1 --peer 2=127.0.0.1:$2 \
	    --raft-dir "$tmp/mix$n" --raft-election-ms 300 \
	    > "$tmp/mix$n.log" 2>&1 &
	eval "mix$n=$!"
	pids="$pids $!"
done
stopped() { ! kill -0 "$mix1" 2>/dev/null || ! kill -0 "$mix2" 2>/dev/null; }
if ! wait_for 20 stopped; then
	fail "members with 1 and 2 workers: neither stopped"
elif grep -q "must run the same --workers" "$tmp/mix1.log" "$tmp/mix2.log"; then
	ok "members with 1 and 2 workers: one stops, saying why"
else
	fail "members with 1 and 2 workers: $(cat "$tmp/mix1.log" "$tmp/mix2.log")"
fi

[ $fails -eq 0 ] || logs
finish
