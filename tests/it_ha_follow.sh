#!/bin/sh
# it_ha_follow.sh: libqlock, the qlock tool and the Python package follow
# a three-node cluster's leaders (issue 13): (a) the tool given only node
# 3's address, node 3 leading nothing, puts and gets on every shard; (b)
# an address list whose first member is dead works; (c) one long-lived C
# client (tests/ha_putter) and one Python client keep putting through kill
# -9 of a shard's leader, are served again within a few seconds without
# reopening (one idle at the kill without a single failure), and every
# acknowledged item is there exactly once; no quorum fails a call after
# the bounded wait; a blocking call sent again keeps its deadline.  Skipped
# (77) when qlockd was built without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_follow
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"
PUTTER=${HA_PUTTER:-$here/ha_putter}
[ -x "$PUTTER" ] || { echo "SKIP: no $PUTTER"; exit 77; }

cluster_up
WANT="1 2" ha leaders 20 0 $lport3 > /dev/null ||
    { logs; die "topology through node 3 lacks the leaders"; }

# (a) Only node 3's address; its workers lead nothing.  Names on both
# shards (q0..q9 hash to both).
n=0
for i in 0 1 2 3 4 5 6 7 8 9; do
	timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport3 put "a$i" "x$i" \
	    2>> "$tmp/a.err" || continue
	got=$(timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport3 get "a$i" \
	    --timeout 0 2>> "$tmp/a.err")
	[ "$got" = "x$i" ] && n=$((n + 1))
done
if [ $n -eq 10 ]; then
	ok "through node 3 (leading nothing): 10 puts and gets on both shards"
else
	fail "through node 3: $n of 10 puts and gets: $(tail -2 "$tmp/a.err")"
fi

# (b) A dead member first, then the live ones.
set -- $(ha ports 1 1)
dead=127.0.0.1:$1
if QLOCK_ADDRESS="$dead,127.0.0.1:$lport3,127.0.0.1:$lport1" timeout 20 \
    "$QLOCK_CLI" put b0 y > /dev/null 2> "$tmp/b.err" &&
    [ "$(QLOCK_ADDRESS="$dead, 127.0.0.1:$lport2" timeout 20 \
    "$QLOCK_CLI" get b0 --timeout 0 2>> "$tmp/b.err")" = y ]; then
	ok "QLOCK_ADDRESS listing a dead member first"
else
	fail "QLOCK_ADDRESS listing a dead member first: $(cat "$tmp/b.err")"
fi
# Every address dead: the tool fails as for one.
timeout 20 "$QLOCK_CLI" -a "$dead,$dead" ping > /dev/null 2> "$tmp/b2.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "refused" "$tmp/b2.err"; then
	ok "every member listed dead: connection refused"
else
	fail "every member listed dead: exit $rc: $(cat "$tmp/b2.err")"
fi

# (c) Long-lived clients connected through node 3 (then 1) through kill
# -9 of shard 0's leader (node 1).
cat > "$tmp/pyput.py" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.environ["PYPKG"])
import qlock
from qlock import errors
prefix, stop, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
c = qlock.Client()
start = last = time.monotonic()
gap, served, failed, i = 0.0, 0, 0, 0
while not os.path.exists(stop) and time.monotonic() - start < limit:
    i += 1
    try:
        c.call("queue.put", "q%d" % (i % 10), "%s-%d" % (prefix, i), -1)
    except errors.Error as e:
        failed += 1
        print("%.3f %s-%d: %s" % (time.monotonic() - start, prefix, i, e),
              file=sys.stderr)
        time.sleep(0.02)
        continue
    print("%s-%d" % (prefix, i), flush=True)
    t = time.monotonic()
    gap, last, served = max(gap, t - last), t, served + 1
gap = max(gap, time.monotonic() - last)
print("served %d failed %d longest-gap %.3f" % (served, failed, gap),
      file=sys.stderr)
PYEOF
QLOCK_ADDRESS=127.0.0.1:$lport3,127.0.0.1:$lport1 "$PUTTER" c "$tmp/stop" 60 \
    > "$tmp/c.acked" 2> "$tmp/c.err" &
cpid=$!
QLOCK_ADDRESS=127.0.0.1:$lport3,127.0.0.1:$lport1 "$PY" "$tmp/pyput.py" p \
    "$tmp/stop" 60 > "$tmp/p.acked" 2> "$tmp/p.err" &
ppid=$!
# A third, idle (its connections open, nothing in flight) at the kill.
QLOCK_ADDRESS=127.0.0.1:$lport1,127.0.0.1:$lport3 "$PUTTER" i "$tmp/stop" 60 \
    "$tmp/idle" > "$tmp/i.acked" 2> "$tmp/i.err" &
ipid=$!
pids="$pids $cpid $ppid $ipid"
# All are served before the kill.
wait_for 20 sh -c "[ \$(wc -l < '$tmp/c.acked') -ge 50 ] &&
    [ \$(wc -l < '$tmp/p.acked') -ge 50 ] &&
    [ \$(wc -l < '$tmp/i.acked') -ge 50 ]" ||
    { touch "$tmp/stop"; logs; cat "$tmp/c.err" "$tmp/p.err" "$tmp/i.err";
      die "the clients were not served before the kill"; }
touch "$tmp/idle"
sleep 0.3
kill9 1
killed=$(date +%s.%N)
rm -f "$tmp/idle"
ca=$(wc -l < "$tmp/c.acked") pa=$(wc -l < "$tmp/p.acked")
ia=$(wc -l < "$tmp/i.acked")
# Served again: 50 more acknowledged puts each.
if wait_for 20 sh -c "[ \$(wc -l < '$tmp/c.acked') -ge $((ca + 50)) ] &&
    [ \$(wc -l < '$tmp/p.acked') -ge $((pa + 50)) ] &&
    [ \$(wc -l < '$tmp/i.acked') -ge $((ia + 50)) ]"; then
	ok "the clients served again $(since "$killed") s after kill -9 of node 1"
else
	fail "clients not served again within 20 s of kill -9 of node 1"
fi
touch "$tmp/stop"
wait $cpid; wait $ppid; wait $ipid
# The idle one had nothing in flight: its connection to node 1, closed
# while idle, is seen before sending, and not one put fails.
nf=$(tail -1 "$tmp/i.err" | awk '{ print $4 }')
if [ "$nf" = 0 ]; then
	ok "the client idle at the kill: no put failed"
else
	fail "the client idle at the kill: $(head -3 "$tmp/i.err")"
fi
for k in c p; do
	tail -1 "$tmp/$k.err" | grep -q "^served" ||
	    fail "client $k: $(tail -3 "$tmp/$k.err")"
	gap=$(tail -1 "$tmp/$k.err" | awk '{ print $6 }')
	echo "client $k: $(tail -1 "$tmp/$k.err"); failures:"
	grep -v "^served" "$tmp/$k.err" | head -5
	# Served again within a few seconds of the leader's death.
	awk -v g="$gap" 'BEGIN { exit !(g != "" && g < 8) }' ||
	    fail "client $k: longest gap between acknowledged puts $gap s"
	# Only what was in flight at the kill fails (a lost reply is never
	# sent again): one request per connection to node 1.
	nf=$(tail -1 "$tmp/$k.err" | awk '{ print $4 }')
	[ "${nf:-9}" -le 2 ] || fail "client $k: $nf puts failed"
done
cat "$tmp/c.acked" "$tmp/p.acked" "$tmp/i.acked" > "$tmp/acked"
check "after kill -9 of node 1 under both clients" $lport2 $lport3

# No quorum (node 3 alone): a request is refused "no leader yet" after
# the bounded wait (10 s in libqlock, then NotLeader), a blocking one too.
kill9 2
t0=$(date +%s.%N)
timeout 60 "$QLOCK_CLI" -a 127.0.0.1:$lport3 get q0 --timeout 1 \
    > /dev/null 2> "$tmp/nq.err"
rc=$? took=$(since "$t0")
if [ $rc -eq 2 ] && grep -q "no leader yet" "$tmp/nq.err" &&
    awk -v t="$took" 'BEGIN { exit !(t >= 9 && t < 20) }'; then
	ok "no leader: NotLeader after $took s"
else
	fail "no leader: exit $rc after $took s: $(cat "$tmp/nq.err")"
fi
# A blocking request keeps its deadline: sent again once node 2 is back
# (a leader again after 2 s or more), the get of an empty queue waits only
# what is left of its 6 s: about 6 s in all, not 2 + 6.
(sleep 2; start 2; echo "$pid2" > "$tmp/pid2") &
bg=$!
t0=$(date +%s.%N)
timeout 60 "$QLOCK_CLI" -a 127.0.0.1:$lport3 get q0 --timeout 6 \
    > /dev/null 2> "$tmp/dl.err"
rc=$? took=$(since "$t0")
wait $bg
pids="$pids $(cat "$tmp/pid2")"
if [ $rc -eq 1 ] && awk -v t="$took" 'BEGIN { exit !(t >= 5.9 && t < 7.5) }'
then
	ok "a blocking get sent again keeps its deadline: $took s of 6"
else
	fail "a blocking get across no leader: exit $rc after $took s:" \
	    "$(cat "$tmp/dl.err")"
fi
[ $fails -eq 0 ] || logs
finish
