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
# queued, and is F's when F resumes.
# Locks and semaphores alike: H holds a Lock L, a Semaphore S's one
# permit and a Condition CV's own lock; A then B park acquires of all
# three.  On the new leader B resumes and resends first, then A, then H
# resumes and releases: A gets each, then B (before, B did).  G's acquires
# of L2 and S2 (held by H) are never sent again: H's releases pass over
# G's places, so both are free for an unbound caller.  K's acquire of L3:
# H releases L3 while K is away (it stays free); K resumes first in line
# and gets it; its resend is answered with the grant, once for the
# client.  C's resend parks no second get (before, a queue.get's resend
# ran anew: a get nobody waited for took the fourth item).  Skipped (77)
# without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_waiters
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

cluster_up

cat > "$tmp/wait.py" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.environ["HA_RAW"])
from ha_raw import Connection, key, say, leader0, reply, attempt
import ha_raw
from qlock._route import shard_of
tmp, ports = sys.argv[1], sys.argv[2:]
Q, Q2, Q3, L, S, CV, L2, S2, L3 = (
    next("%s%d" % (p, i) for i in range(1000)
         if shard_of("%s%d" % (p, i), 2) == 0)
    for p in ("wq", "vq", "uq", "lk", "sm", "cv", "lj", "sn", "ll"))

ta, tb, tc, tf, th, tg, tk, tla, tlb = (os.urandom(32) for _ in range(9))
addr = leader0(ports[:1], Q)
h = Connection(addr, key)
say(h.call("session.resume", th)["resumed"] is False, "H bound")
h.call("sem.open", S, 1, False)
h.call("sem.open", S2, 1, False)
say(isinstance(h.call("lock.acquire", L, 5.0), int) and
    h.call("sem.acquire", S, 5.0) is None and
    h.call("cond.acquire", CV, 5.0) is None and
    isinstance(h.call("lock.acquire", L2, 5.0), int) and
    h.call("sem.acquire", S2, 5.0) is None and
    isinstance(h.call("lock.acquire", L3, 5.0), int),
    "H holds L, S, CV, L2, S2, L3")
acq = {}                # session -> its parked acquires' msgids
for who, tok, base in (("A", tla, 20), ("B", tlb, 30)):
    x = Connection(addr, key)
    say(x.call("session.resume", tok)["resumed"] is False,
        who + " bound (acquires)")
    x._request("lock.acquire", [L, 60.0], base)
    x._request("sem.acquire", [S, 60.0], base + 1)
    x._request("cond.acquire", [CV, 60.0], base + 2)
    acq[who] = x
    time.sleep(0.3)
g = Connection(addr, key)
say(g.call("session.resume", tg)["resumed"] is False, "G bound")
g._request("lock.acquire", [L2, 60.0], 40)
g._request("sem.acquire", [S2, 60.0], 41)
k = Connection(addr, key)
say(k.call("session.resume", tk)["resumed"] is False, "K bound")
k._request("lock.acquire", [L3, 60.0], 50)
time.sleep(0.3)
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
addr2 = ha_raw.failover(tmp, ports, Q)
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
p.call("queue.put", Q2, "y4", 5)
say(p.call("queue.size", Q2) == 1, "C's resend took its place, no second "
    "get of C's parked (it would have taken y4)")
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
# The acquires: B resends first, then A; H's releases go to A, then B.
b3 = Connection(addr2, key)
say(b3.call("session.resume", tlb)["resumed"] is True, "B resumes")
for m, n in (("lock.acquire", L), ("sem.acquire", S), ("cond.acquire", CV)):
    b3._request(m, [n, 30.0], {L: 30, S: 31, CV: 32}[n])
time.sleep(0.3)
a3 = Connection(addr2, key)
say(a3.call("session.resume", tla)["resumed"] is True, "A resumes")
for m, n in (("lock.acquire", L), ("sem.acquire", S), ("cond.acquire", CV)):
    a3._request(m, [n, 30.0], {L: 20, S: 21, CV: 22}[n])
time.sleep(0.3)
h2 = Connection(addr2, key)
r = h2.call("session.resume", th)
say(r["resumed"] is True and r["holds"] == 6, "H resumes: %r" % r)
h2.msgid = 100
toks = {}
for m, n, i in (("lock.release", L, 20), ("sem.release", S, 21),
                ("cond.release", CV, 22)):
    h2.call(m, n)
    r = reply(a3, 10)
    say(r[:2] == (i, None), "H's %s: A's acquire %d answered: %r" %
        (m, i, r))
    toks["A"] = r[2] if i == 20 else toks.get("A")
a3.msgid = 100
for m, n, i in (("lock.release", L, 30), ("sem.release", S, 31),
                ("cond.release", CV, 32)):
    a3.call(m, n)
    r = reply(b3, 10)
    say(r[:2] == (i, None), "A's %s: then B's acquire %d: %r" % (m, i, r))
    toks["B"] = r[2] if i == 30 else toks.get("B")
say(toks["B"] > toks["A"], "B's token is the larger: %r" % toks)
# G never comes back: H's releases pass over its places.
h2.call("lock.release", L2)
h2.call("sem.release", S2)
x = Connection(addr2, key)
r = attempt(x, "lock.acquire", L2, 0)
say(isinstance(r, int), "G away: L2 free for another: %r" % (r,))
r = attempt(x, "sem.acquire", S2, 0)
say(r is None, "G away: S2's permit free: %r" % (r,))
# K away while L3 is released: free; K back first in line: K's.
h2.call("lock.release", L3)
k2 = Connection(addr2, key)
r = k2.call("session.resume", tk)
say(r["resumed"] is True, "K resumes: %r" % r)
k2._request("lock.acquire", [L3, 30.0], 50)
r = reply(k2, 10)
say(r[:2] == (50, None) and isinstance(r[2], int),
    "K gets L3, free at its return: %r" % (r,))
k2.msgid = 100
say(k2.call("lock.release", L3) is None,
    "K's next call is answered as its own (the grant's second copy "
    "dropped)")
say(x.call("lock.acquire", L3, 0) is not None, "L3 free again")
sys.exit(1 if ha_raw.fails else 0)
PYEOF

raw_failover "$tmp/wait.py"
finish
