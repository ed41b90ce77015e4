#!/bin/sh
# it_ha_puts.sh: puts parked on a full queue keep their places through a
# failover (issue 13, docs/HA-SESSIONS.md "Waiters' places across a
# failover").  Queue W (maxsize 1, holding w0) on shard 0, led by node 1:
# bound sessions A then B park puts of a1 and b1; kill -9 of node 1; on
# the new leader B resumes and sends its put again first, then A; gets
# then take w0, a1, b1 (A's place was first).  Before, the resends queued
# anew in the order they came: b1 before a1.  Queue V (maxsize 1, holding
# v0): C parks a put of c1 and stays away after the failover; a get takes
# v0 and the room passes over C's place: an unbound put of d1 goes in at
# once; once C is back and room frees, c1 goes in.  Queue U: E parks a
# put of e1, resumes, then sends another request instead of the resend:
# its place is dropped and e1 never goes in.  Skipped (77) without
# libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_puts
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

cluster_up

cat > "$tmp/puts.py" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.environ["HA_RAW"])
from ha_raw import Connection, key, say, reply, attempt, bound
import ha_raw
from qlock._route import shard_of
tmp, ports = sys.argv[1], sys.argv[2:]
W, V, U, P = (next("%s%d" % (p, i) for i in range(1000)
                   if shard_of("%s%d" % (p, i), 2) == 0)
              for p in ("pw", "pv", "pu", "pp"))     # P: an empty probe
ta, tb, tc, te = (os.urandom(32) for _ in range(4))

addr = ha_raw.leader0(ports[:1], W)
p = Connection(addr, key)
for q in (W, V, U):
    p.call("queue.open", q, 1, False)
    p.call("queue.put", q, q + "-0", 5)
parked = {}
for who, tok, q, item, msgid in (("A", ta, W, "a1", 7), ("B", tb, W, "b1", 9),
                                 ("C", tc, V, "c1", 5), ("E", te, U, "e1", 3)):
    x = bound(addr, tok, who)
    x._request("queue.put", [q, item, 60.0], msgid)
    parked[who] = x
    time.sleep(0.3)
addr2 = ha_raw.failover(tmp, ports, P)
g = Connection(addr2, key)

# B, then A, resume and resend.
b2 = Connection(addr2, key)
say(b2.call("session.resume", tb)["resumed"] is True, "B resumes first")
b2._request("queue.put", [W, "b1", 30.0], 9)
time.sleep(0.3)
a2 = Connection(addr2, key)
say(a2.call("session.resume", ta)["resumed"] is True, "A resumes second")
a2._request("queue.put", [W, "a1", 30.0], 7)
time.sleep(0.3)
got = [g.call("queue.get", W, 5) for _ in range(3)]
say(got == [W + "-0", "a1", "b1"], "gets take w0, then A's a1, then B's b1: "
    "%r" % (got,))
say(reply(a2, 10) == (7, None, None), "A's put answered")
say(reply(b2, 10) == (9, None, None), "B's put answered")
say(g.call("queue.size", W) == 0, "nothing more in W (no put ran twice)")

# C away: the room passes over its place.
say(g.call("queue.get", V, 5) == V + "-0", "v0 taken while C is away")
r = attempt(g, "queue.put", V, "d1", 0)
say(r is None, "an unbound put goes in at once, past C's place: %r" % (r,))
c2 = Connection(addr2, key)
say(c2.call("session.resume", tc)["resumed"] is True, "C resumes")
c2._request("queue.put", [V, "c1", 30.0], 5)
time.sleep(0.3)
say(g.call("queue.get", V, 5) == "d1", "d1 first")
say(reply(c2, 10) == (5, None, None), "then C's put is answered")
say(g.call("queue.get", V, 5) == "c1", "and c1 is in")

# E resumes and sends something else: its place is dropped.
e2 = Connection(addr2, key)
say(e2.call("session.resume", te)["resumed"] is True, "E resumes")
e2.msgid = 100
e2.call("queue.size", U)
say(g.call("queue.get", U, 5) == U + "-0", "u0 taken")
time.sleep(0.3)
say(g.call("queue.size", U) == 0, "E's dropped place put nothing in")
sys.exit(1 if ha_raw.fails else 0)
PYEOF

raw_failover "$tmp/puts.py"
finish
