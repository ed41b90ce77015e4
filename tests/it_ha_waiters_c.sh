#!/bin/sh
# it_ha_waiters_c.sh: libqlock through a parked acquire's kept place
# (issue 13, docs/HA-SESSIONS.md "Waiters' places across a failover").
# An unbound connection holds lock L on shard 0 (led by node 1); a C
# client (tests/ha_holder, bound) parks lock.acquire L there; kill -9 of
# node 1.  On the new leader L is free (the unbound hold is given back)
# and the C client's place is first in line: its resume is granted L at
# once (a reply under the lost request's msgid, kept) and its resend is
# answered with the kept reply (stats retries_answered 1): two replies
# under one msgid.  The client takes the grant once and drops the other:
# a rival cannot take L, the client's next call (its release) is answered
# as its own, and its next grant's fencing token is larger.  Skipped (77)
# without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_waiters_c
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"
HOLDER=${HA_HOLDER:-$here/ha_holder}
[ -x "$HOLDER" ] || { echo "SKIP: no $HOLDER"; exit 77; }

cluster_up
all=127.0.0.1:$lport3,127.0.0.1:$lport2,127.0.0.1:$lport1

cat > "$tmp/u.py" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.environ["HA_TESTS"])
from it_ha_sess import *
cmd, ports = sys.argv[1], sys.argv[2:]
L, Q = named("cl"), named("cq")

def leader():
    a = leader0(ports, None)[1]
    if a is None:
        sys.exit("no leader of shard 0 within 30 s")
    return a

if cmd == "name":
    print(L)
elif cmd == "hold":             # unbound: its hold is not replicated
    c = Connection(leader(), key)
    c.call("lock.open", L, False)
    print("held %d" % c.call("lock.acquire", L, 5.0), flush=True)
    time.sleep(60)
elif cmd == "parked":           # then a read: its record committed
    c = Connection(leader(), key)

    def waiters():
        return sum(o.get("waiters", 0) for o in c.call("list")
                   if o.get("name") == L)
    end = time.time() + 10
    while waiters() < 1 and time.time() < end:
        time.sleep(0.1)
    c.call("queue.size", Q)    # a read of shard 0: after a barrier
    print("waiters %d" % waiters())
elif cmd == "rival":
    c = Connection(leader(), key)
    try:
        print("got %d" % c.call("lock.acquire", L, 0))
    except Exception as e:
        print("refused %r" % (e,))
elif cmd == "stats":
    print("retries_answered %d" %
          Connection(leader(), key).call("stats")["retries_answered"])
PYEOF
u() { timeout 60 "$PY" "$tmp/u.py" "$@"; }
lk=$(u name)

u hold $lport1 > "$tmp/u.out" 2> "$tmp/u.err" &
upid=$!
pids="$pids $upid"
wait_for 20 grep -q "^held" "$tmp/u.out" ||
    { logs; cat "$tmp/u.err"; die "the unbound client did not get $lk"; }
mkfifo "$tmp/in"
QLOCK_ADDRESS=$all HA_HOLDER_WAIT=60 timeout 120 "$HOLDER" "$lk" \
    < "$tmp/in" > "$tmp/h.out" 2> "$tmp/h.err" &
hpid=$!
pids="$pids $hpid"
exec 3> "$tmp/in"
w=$(u parked $lport1)
[ "$w" = "waiters 1" ] || { logs; die "the C client did not park: $w"; }

kill9 1
wait_for 30 grep -q "^held" "$tmp/h.out"
if grep -q "^held" "$tmp/h.out"; then
	ok "the C client's acquire, parked at the kill, has $lk on the new leader"
else
	fail "the C client's acquire: $(cat "$tmp/h.out" "$tmp/h.err")"
fi
tok1=$(awk '/^held/ { print $2 }' "$tmp/h.out")
n=$(u stats $lport2 $lport3)
if [ "$n" = "retries_answered 1" ]; then
	ok "its resend was answered from the kept grant (two replies, one msgid)"
else
	fail "stats on the new leader: $n (the grant was not given at the resume)"
fi
r=$(u rival $lport2 $lport3)
case $r in
refused*) ok "a rival cannot take $lk: $r" ;;
*) fail "a rival: $r" ;;
esac
echo go >&3
exec 3>&-
wait_for 30 grep -q "^again\|failed" "$tmp/h.out"
if grep -q "^released" "$tmp/h.out"; then
	ok "the C client's next call, its release, was answered as its own"
else
	fail "the C client's release: $(cat "$tmp/h.out" "$tmp/h.err")"
fi
tok2=$(awk '/^again/ { print $2 }' "$tmp/h.out")
if [ -n "$tok2" ] && [ -n "$tok1" ] && [ "$tok2" -gt "$tok1" ]; then
	ok "fencing tokens increase: $tok1 then $tok2"
else
	fail "fencing tokens: '$tok1' then '$tok2'"
fi
wait $hpid || fail "ha_holder exited $?: $(cat "$tmp/h.err")"
[ $fails -eq 0 ] || logs
finish
