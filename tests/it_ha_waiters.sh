#!/bin/sh
# it_ha_waiters.sh: waiters' places survive a failover (issue 13,
# docs/HA-SESSIONS.md "Waiters' places across a failover").  Two bound
# sessions, A then B, park a queue.get on an empty queue of shard 0 (led
# by node 1); kill -9 of node 1; on the new leader B resumes and sends its
# get again first, then A; one put goes to A (its place was first), a
# second to B.  Before, the resends queued anew in the order they came: B
# got the first item.  A third bound session C parked a get on another
# queue: on the new leader, while C is away, hand-offs pass over its place
# (an item handed there would be lost if C never came back): an unbound
# get D parked there gets the first item put; an unbound get E parks; C
# resumes and resends: the next item is C's, the third E's.  A fourth, F,
# parked on a third queue: an item put there while F is away stays
# queued, and is F's when F resumes.  Skipped (77) without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_waiters
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

start 1; start 2; start 3
WANT="1 2" ha leaders 30 0 $ports > /dev/null ||
    { logs; die "shards not led by nodes 1 and 2 within 30 s"; }

cat > "$tmp/wait.py" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
from qlock._route import shard_of
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
tmp, ports = sys.argv[1], sys.argv[2:]
Q, Q2, Q3 = (next("%s%d" % (p, i) for i in range(1000)
                  if shard_of("%s%d" % (p, i), 2) == 0)
              for p in ("wq", "vq", "uq"))
fails = 0

def say(ok, what):
    global fails
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    fails += not ok

def leader0(ports, limit=30):
    end = time.time() + limit
    while time.time() < end:
        for p in ports:
            try:
                t = Connection("127.0.0.1:%s" % p, key).call("topology")
                a = t["addrs"][0][0]
                Connection(a, key).call("queue.size", Q)
                return a
            except Exception:
                pass
        time.sleep(0.1)
    return None

def reply(c, limit):
    c.sock.settimeout(limit)
    try:
        return c._reply()
    except Exception as e:
        return repr(e)

ta, tb, tc, tf = (os.urandom(32) for _ in range(4))
addr = leader0(ports[:1])
c = Connection(addr, key)
say(c.call("session.resume", tc)["resumed"] is False, "C bound")
c._request("queue.get", [Q2, 60.0], 5)
f = Connection(addr, key)
say(f.call("session.resume", tf)["resumed"] is False, "F bound")
f._request("queue.get", [Q3, 60.0], 6)
a = Connection(addr, key)
say(a.call("session.resume", ta)["resumed"] is False, "A bound")
a._request("queue.get", [Q, 60.0], 7)
time.sleep(0.3)
b = Connection(addr, key)
say(b.call("session.resume", tb)["resumed"] is False, "B bound")
b._request("queue.get", [Q, 60.0], 9)
time.sleep(0.3)
# A read answered after both parked: their records are committed.
say(Connection(addr, key).call("queue.size", Q) == 0, "both parked")
open(os.path.join(tmp, "ready"), "w").close()
end = time.time() + 60
while not os.path.exists(os.path.join(tmp, "killed")) and time.time() < end:
    time.sleep(0.05)
addr2 = leader0(ports[1:])
if addr2 is None:
    say(False, "no new leader of shard 0 within 30 s")
    sys.exit(1)
# C's place, passed over while C is away, kept for its return.
d2 = Connection(addr2, key)
d2._request("queue.get", [Q2, 30.0], 3)
time.sleep(0.3)
p = Connection(addr2, key)
p.call("queue.put", Q2, "y1", 5)
r = reply(d2, 10)
say(r == (3, None, "y1"), "C away: D, parked after the failover, gets the "
    "first item: %r" % (r,))
e2 = Connection(addr2, key)
e2._request("queue.get", [Q2, 30.0], 4)
time.sleep(0.3)
c2 = Connection(addr2, key)
r = c2.call("session.resume", tc)
say(r["resumed"] is True and r["last"] == 0, "C resumes: %r" % r)
c2._request("queue.get", [Q2, 30.0], 5)
time.sleep(0.3)
p.call("queue.put", Q2, "y2", 5)
r = reply(c2, 10)
say(r == (5, None, "y2"), "C's resend kept its place before E: %r" % (r,))
p.call("queue.put", Q2, "y3", 5)
r = reply(e2, 10)
say(r == (4, None, "y3"), "E the third item: %r" % (r,))
# F away: the item waits in its queue for F's return.
p.call("queue.put", Q3, "z1", 5)
say(p.call("queue.size", Q3) == 1, "F away: the item stays queued")
f2 = Connection(addr2, key)
r = f2.call("session.resume", tf)
say(r["resumed"] is True, "F resumes: %r" % r)
f2._request("queue.get", [Q3, 30.0], 6)
r = reply(f2, 10)
say(r == (6, None, "z1") and p.call("queue.size", Q3) == 0,
    "F's get has the item: %r" % (r,))
b2 = Connection(addr2, key)
r = b2.call("session.resume", tb)
say(r["resumed"] is True, "B resumes first: %r" % r)
b2._request("queue.get", [Q, 30.0], 9)
time.sleep(0.3)
a2 = Connection(addr2, key)
r = a2.call("session.resume", ta)
say(r["resumed"] is True, "A resumes second: %r" % r)
a2._request("queue.get", [Q, 30.0], 7)
time.sleep(0.3)
p.call("queue.put", Q, "x1", 5)
r = reply(a2, 10)
say(r == (7, None, "x1"), "the first put goes to A, parked first: %r" % (r,))
p.call("queue.put", Q, "x2", 5)
r = reply(b2, 10)
say(r == (9, None, "x2"), "the second to B: %r" % (r,))
sys.exit(1 if fails else 0)
PYEOF

timeout 120 "$PY" "$tmp/wait.py" "$tmp" $ports > "$tmp/w.out" 2>&1 &
wpid=$!
pids="$pids $wpid"
wait_for 30 test -f "$tmp/ready" ||
    { cat "$tmp/w.out"; logs; die "the waiters did not park"; }
kill9 1
touch "$tmp/killed"
wait $wpid
rc=$?
cat "$tmp/w.out"
grep -q "^FAIL" "$tmp/w.out" && fails=$((fails + 1))
[ $rc -eq 0 ] || fail "the waiters' script exited $rc"
[ $fails -eq 0 ] || logs
finish
