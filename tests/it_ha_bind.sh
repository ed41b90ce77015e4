#!/bin/sh
# it_ha_bind.sh: a bound session is known to a new leader even if it never
# changed anything (issue 13, docs/HA-SESSIONS.md "The bind is
# replicated").  A C client (tests/ha_holder with NAME "-") whose FIRST
# call is a get on an empty queue of shard 0 (led by node 1) is parked
# there when node 1 is killed (-9); its session, bound when its
# connection opened, resumes on the new leader (resumed, last 0), the get
# is sent again there and gets the item put there, without an error.  A
# Python client that bound a session on node 1 and closed it before the
# kill is not detached on the new leader (its end was replicated).  Both
# reach the new leader through snapshots: before the kill, node 3 is down
# while 60 puts compact shard 0's log and comes back from the snapshot
# node 1 sends it (written from node 1's live sessions), then node 2
# restarts from its own (written from its replay state).
# Before the bind was replicated the get failed (ECONN: its session did
# not resume).  Skipped (77) without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_bind
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"
HOLDER=${HA_HOLDER:-$here/ha_holder}
[ -x "$HOLDER" ] || { echo "SKIP: no $HOLDER"; exit 77; }

# Snapshots every 16 entries (4 kept behind).
QLOCKD_TEST_SNAPSHOT_EVERY=16
export QLOCKD_TEST_SNAPSHOT_EVERY
cluster_up
# Two queue names on shard 0 (of 2).
set -- $(PYTHONPATH=$PYPKG "$PY" -c '
from qlock._route import shard_of
for p in ("bq", "cq"):
    print(next(p + str(i) for i in range(1000) if shard_of(p + str(i), 2) == 0))')
rq=$1 cq=$2
all=127.0.0.1:$lport3,127.0.0.1:$lport2,127.0.0.1:$lport1

# A session bound on node 1 and ended (its client closes) before the kill.
cat > "$tmp/closer.py" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["PYPKG"])
import qlock
c = qlock.Client(sys.argv[1])
print(c.call("queue.size", sys.argv[2]))
c.close()
PYEOF
n=$(timeout 30 "$PY" "$tmp/closer.py" "$all" "$cq" 2> "$tmp/c.err") &&
    [ "$n" = 0 ] || fail "a client binding and closing: '$n' $(cat "$tmp/c.err")"

QLOCK_ADDRESS=$all timeout 120 "$HOLDER" - "$rq" > "$tmp/h.out" \
    2> "$tmp/h.err" &
hpid=$!
pids="$pids $hpid"
# Its get parked on node 1: a waiter there.
cat > "$tmp/stat.py" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
k = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
print(Connection(sys.argv[1], k).call("stats")[sys.argv[2]])
PYEOF
parked() { [ "$("$PY" "$tmp/stat.py" 127.0.0.1:$lport1 waiters)" -gt 0 ]; }
wait_for 20 parked ||
    { logs; cat "$tmp/h.out" "$tmp/h.err"; die "the get did not park on node 1"; }

kill9 3
cat > "$tmp/fill.py" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
k = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
c = Connection(sys.argv[1], k)
a = c.call("topology")["addrs"][0][0]
c = Connection(a, k)
for i in range(60):
    c.call("queue.put", sys.argv[2], i, 5)
PYEOF
timeout 60 "$PY" "$tmp/fill.py" 127.0.0.1:$lport1 "$cq" ||
    fail "60 puts on shard 0 with node 3 down"
restored 3 sent
kill9 2
restored 2 own
grep -q "^got\|failed" "$tmp/h.out" &&
    fail "the get was answered before the kill: $(cat "$tmp/h.out")"

t0=$(date +%s.%N)
kill9 1
set -- $(ha leaders 30 1 127.0.0.1:$lport2 127.0.0.1:$lport3) ||
    { logs; die "no new leaders within 30 s of kill -9 of node 1"; }
lead0=$3 newnode=$1
echo "new leader of shard 0: node $newnode at $lead0, $(since "$t0") s after the kill"
QLOCK_ADDRESS=$all timeout 30 "$QLOCK_CLI" put "$rq" after 2> "$tmp/p.err" ||
    fail "a put through the new leader: $(cat "$tmp/p.err")"
wait_for 30 grep -q "^got\|failed" "$tmp/h.out"
if grep -q "^got after" "$tmp/h.out"; then
	ok "the first call, a get parked at the kill, was sent again and" \
	    "served on the new leader ($(since "$t0") s after the kill)"
else
	fail "the get parked at the kill: $(cat "$tmp/h.out" "$tmp/h.err")"
fi
wait $hpid || fail "the holder exited $?: $(cat "$tmp/h.err")"
d=$("$PY" "$tmp/stat.py" "$lead0" sessions_detached)
if [ "$d" = 0 ]; then
	ok "the session ended before the kill is not detached on the new leader"
else
	fail "the new leader's sessions_detached: '$d' (want 0)"
fi
[ $fails -eq 0 ] || logs
finish
