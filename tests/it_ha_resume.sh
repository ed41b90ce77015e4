#!/bin/sh
# it_ha_resume.sh: libqlock's sessions outlive their leader (issue 13,
# docs/PROTOCOL.md "Sessions in a cluster").  A long-lived C client
# (tests/ha_holder) takes a lock on shard 0 (led by node 1), then waits in
# a get on an empty queue of shard 0; node 1 is killed (-9).  Through the
# new leader another client cannot take the lock (the holder's session
# keeps it for the grace period); the get, never done, is sent again on
# the new leader (the resumed session kept the lock's reply, an earlier
# one) and gets the item put there, without an error; the holder, calling
# again, is still the owner: its release works, and its next grant's
# fencing token is larger.  Skipped (77) without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_resume
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"
HOLDER=${HA_HOLDER:-$here/ha_holder}
[ -x "$HOLDER" ] || { echo "SKIP: no $HOLDER"; exit 77; }

cluster_up
# A lock name on shard 0 (of 2).
set -- $(PYTHONPATH=$PYPKG "$PY" -c '
from qlock._route import shard_of
for p in ("rl", "rq"):
    print(next(p + str(i) for i in range(1000) if shard_of(p + str(i), 2) == 0))')
lk=$1 rq=$2
all=127.0.0.1:$lport3,127.0.0.1:$lport2,127.0.0.1:$lport1

mkfifo "$tmp/in"
QLOCK_ADDRESS=$all timeout 120 "$HOLDER" "$lk" "$rq" < "$tmp/in" > "$tmp/h.out" \
    2> "$tmp/h.err" &
hpid=$!
pids="$pids $hpid"
exec 3> "$tmp/in"
wait_for 20 grep -q "^held" "$tmp/h.out" ||
    { logs; cat "$tmp/h.err"; die "the holder did not get $lk"; }
tok1=$(awk '/^held/ { print $2 }' "$tmp/h.out")
sleep 0.5	# its get parked on node 1

kill9 1
ha leaders 30 1 127.0.0.1:$lport2 127.0.0.1:$lport3 > /dev/null ||
    { logs; die "no new leaders within 30 s of kill -9 of node 1"; }
# A rival through the new leader: the lock is still held.
cat > "$tmp/rival.py" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["PYPKG"])
import qlock
lk = qlock.Lock(sys.argv[1], client=qlock.Client(sys.argv[2]))
print("got" if lk.acquire(timeout=float(sys.argv[3])) else "timeout")
PYEOF
got=$(timeout 60 "$PY" "$tmp/rival.py" "$lk" "$all" 1 2> "$tmp/r.err")
if [ "$got" = timeout ]; then
	ok "after kill -9 of its leader, $lk is still held (a rival times out)"
else
	fail "after kill -9 of its leader, a rival: '$got' $(cat "$tmp/r.err")"
fi
# The get, parked at the kill, is served by an item put on the new leader.
QLOCK_ADDRESS=$all timeout 30 "$QLOCK_CLI" put "$rq" after 2> "$tmp/p.err" ||
    fail "a put through the new leader: $(cat "$tmp/p.err")"
wait_for 30 grep -q "^got\|failed" "$tmp/h.out"
if grep -q "^got.*after" "$tmp/h.out"; then
	ok "the get parked at the kill was sent again and served on the new leader"
else
	fail "the get parked at the kill: $(cat "$tmp/h.out" "$tmp/h.err")"
fi
echo go >&3
exec 3>&-
wait_for 30 grep -q "^again\|failed" "$tmp/h.out"
if grep -q "^released" "$tmp/h.out"; then
	ok "the holder, calling again, released its lock (it was the owner)"
else
	fail "the holder's release: $(cat "$tmp/h.out" "$tmp/h.err")"
fi
tok2=$(awk '/^again/ { print $2 }' "$tmp/h.out")
if [ -n "$tok2" ] && [ "$tok2" -gt "$tok1" ]; then
	ok "fencing tokens increase across the failover: $tok1 then $tok2"
else
	fail "fencing tokens: $tok1 then '$tok2'"
fi
wait $hpid
[ $fails -eq 0 ] || logs
finish
