#!/bin/sh
# it_ha_relay_sess.sh: a client that does not route keeps its session
# across a failover of the leader its node relays to (issue 13, docs/HA.md
# "Forwarding to leaders").  Three nodes; node 3 leads nothing.  Through
# node 3 only (QLOCK_ROUTE=0):
#  1. a C client (tests/ha_holder) takes a lock on shard 0 (led by node 1),
#     then waits in a get on an empty queue of shard 0;
#  2. a stock multiprocessing client (Python, msgpack) takes a lock on
#     shard 0 and waits in a get too.
# kill -9 of node 1; node 2 or node 3 leads shard 0 next (when node 3
# does, its upstreams resume over loopback to its own worker).  A rival
# through node 2 cannot take either lock (it times out); an item put
# through node 2 serves each parked get (node 3 resumed the sessions on
# the new leader and sent the gets again); each client releases its lock
# as its owner, and the C client's next fencing token is larger.  Without
# node 3 binding and following the sessions the locks are free once the
# grace runs out and the gets fail (Unavail).  Skipped (77) without
# libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_relay_sess
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"
HOLDER=${HA_HOLDER:-$here/ha_holder}
[ -x "$HOLDER" ] || { echo "SKIP: no $HOLDER"; exit 77; }
"$PY" -c "import msgpack" 2>/dev/null ||
    { echo "SKIP: no python3-msgpack"; exit 77; }
# The stock client of Python <= 3.11 speaks HMAC-MD5.
HA_OPTS="--auth-legacy-md5"

cluster_up
WANT="1 2" ha leaders 20 0 $lport3 > /dev/null ||
    { logs; die "topology through node 3 lacks the leaders"; }
# Names on shard 0 (of 2): two locks, two queues.
set -- $("$PY" -c "import sys; sys.path.insert(0, '$PYPKG')
from qlock._route import shard_of
for p in ('rl', 'sl', 'rq', 'sq'):
    print(next(p + str(i) for i in range(1000) if shard_of(p + str(i), 2) == 0))")
lk=$1 slk=$2 rq=$3 sq=$4

# The stock client: hold LOCK QUEUE: acquire (printing "held TOKEN"),
# wait in a get of QUEUE (printing "got ITEM" or "get ERROR"), then, once
# a line comes, release ("released" or "release ERROR").
cat > "$tmp/stock.py" <<'PYEOF'
import os, sys
import msgpack
from multiprocessing.connection import Client
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
c = Client(("127.0.0.1", int(sys.argv[1])), authkey=key)
mid = 0

def call(method, *params):
    global mid
    mid += 1
    c.send_bytes(msgpack.packb([0, mid, method, list(params)]))
    m = msgpack.unpackb(c.recv_bytes(), raw=False)
    assert m[0] == 1 and m[1] == mid, m
    return m[2], m[3]

def out(*a):
    print(*a)
    sys.stdout.flush()

lk, q = sys.argv[2], sys.argv[3]
call("lock.open", lk, False)
err, tok = call("lock.acquire", lk, 10)
if err is not None:
    out("acquire", err)
    sys.exit(1)
out("held", tok)
err, item = call("queue.get", q, 60)
out("got", item.decode()) if err is None else out("get", err)
sys.stdin.readline()
err, _ = call("lock.release", lk)
out("released") if err is None else out("release", err)
PYEOF

mkfifo "$tmp/in" "$tmp/sin"
trap '' PIPE	# a client that failed early has closed its end
QLOCK_ROUTE=0 QLOCK_ADDRESS=127.0.0.1:$lport3 timeout 120 "$HOLDER" "$lk" \
    "$rq" < "$tmp/in" > "$tmp/h.out" 2> "$tmp/h.err" &
hpid=$!
timeout 120 "$PY" "$tmp/stock.py" $lport3 "$slk" "$sq" < "$tmp/sin" \
    > "$tmp/s.out" 2> "$tmp/s.err" &
spid=$!
pids="$pids $hpid $spid"
exec 3> "$tmp/in" 4> "$tmp/sin"
wait_for 20 grep -q "^held" "$tmp/h.out" ||
    { logs; cat "$tmp/h.err"; die "the C client did not get $lk"; }
wait_for 20 grep -q "^held" "$tmp/s.out" ||
    { logs; cat "$tmp/s.err"; die "the stock client did not get $slk"; }
tok1=$(awk '/^held/ { print $2 }' "$tmp/h.out")
sleep 0.5	# their gets parked on node 1

t0=$(date -u +%H:%M:%S.%N)
kill9 1
set -- $(ha leaders 30 1 $lport2 $lport3) ||
    { logs; die "no new leaders within 30 s of the kill"; }
new=$1
ok "shard 0's new leader: node $new"
# Rivals through the new leader: the locks are still held.
cat > "$tmp/rival.py" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["PYPKG"])
import qlock
lk = qlock.Lock(sys.argv[1], client=qlock.Client(sys.argv[2]))
print("got" if lk.acquire(timeout=float(sys.argv[3])) else "timeout")
PYEOF
for l in $lk $slk; do
	got=$(timeout 60 "$PY" "$tmp/rival.py" "$l" 127.0.0.1:$lport2 1 \
	    2> "$tmp/r.err")
	if [ "$got" = timeout ]; then
		ok "after kill -9 of its leader, $l (taken through node 3) is still held (a rival through node 2 times out)"
	else
		fail "after kill -9 of its leader, a rival for $l: '$got' $(cat "$tmp/r.err")"
	fi
done
# The gets parked at the kill are served by items put on the new leader.
for q in $rq $sq; do
	timeout 30 "$QLOCK_CLI" -a 127.0.0.1:$lport2 put "$q" "after-$q" \
	    2> "$tmp/p.err" || fail "a put through node 2: $(cat "$tmp/p.err")"
done
# seen WHO OUT PATTERN WHAT: client WHO's output OUT has a line PATTERN.
seen() {
	if grep -q "$3" "$tmp/$2.out"; then
		ok "the $1 client: $4"
	else
		fail "the $1 client, $4: $(cat "$tmp/$2.out" "$tmp/$2.err")"
	fi
}
wait_for 30 grep -q "^got\|failed" "$tmp/h.out"
wait_for 30 grep -q "^got\|^get" "$tmp/s.out"
seen C h "^got after-$rq" "its get parked at the kill was sent again by node 3 and served on the new leader"
seen stock s "^got after-$sq" "its get parked at the kill was sent again by node 3 and served on the new leader"
echo go >&3 2> /dev/null
echo go >&4 2> /dev/null
exec 3>&- 4>&-
wait_for 30 grep -q "^again\|failed" "$tmp/h.out"
wait_for 30 grep -q "^release" "$tmp/s.out"
seen C h "^released" "released its lock (it was the owner)"
seen stock s "^released" "released its lock (it was the owner)"
tok2=$(awk '/^again/ { print $2 }' "$tmp/h.out")
if [ -n "$tok2" ] && [ "$tok2" -gt "$tok1" ]; then
	ok "fencing tokens increase across the failover: $tok1 then $tok2"
else
	fail "fencing tokens: $tok1 then '$tok2'"
fi
# Node 3's log says it followed both sessions to the new leader (how long
# after the kill: the last resume's time of day, against t0).
n=$(grep -c "follows the leader, node $new .*(resumed" "$tmp/node3.log")
secs=$(grep "follows the leader, node $new .*(resumed" "$tmp/node3.log" |
    tail -1 | awk -v t0="$t0" 'function s(t, a) { split(t, a, ":");
	return a[1] * 3600 + a[2] * 60 + a[3] }
	{ d = s($1) - s(t0); if (d < 0) d += 86400; printf "%.2f", d }')
[ "$n" -ge 2 ] && ok "node 3 resumed $n sessions on node $new, the last $secs s after the kill" ||
    fail "node 3 resumed $n sessions: $(grep upstream "$tmp/node3.log" | tail -5)"
wait $hpid
wait $spid
[ $fails -eq 0 ] || logs
finish
