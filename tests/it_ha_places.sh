#!/bin/sh
# it_ha_places.sh: a failover's place that its session will never claim
# is dropped (issue 13, docs/HA-SESSIONS.md "Waiters' places across a
# failover").  H (bound) holds Locks L and L2 on shard 0 (led by node 1);
# bound P parks lock.acquire(L) as msgid 20, bound Q lock.acquire(L2) as
# msgid 30; kill -9 of node 1.  On the new leader P resumes and, instead
# of the resend, sends another request with a higher msgid (21, an
# acquire of another lock); Q resumes and sends msgid 30 again but about
# another lock (a mismatched resend).  Then H resumes and releases L and
# L2: an unbound rival's acquires of both succeed.  Before, the places
# stayed: P's and Q's live sessions were handed L and L2 that nobody
# waited for, and the rival timed out.  Bound R and T park acquires of
# L3 and of Semaphore S's one permit (H's); on the new leader H releases
# both while R and T are away; R and T resume and are granted them at
# once, then send other requests instead of the resends: the lock and
# the permit are given back, a rival gets both.  Skipped (77) without
# libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_places
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

cluster_up

cat > "$tmp/places.py" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.environ["HA_RAW"])
from ha_raw import Connection, key, say, leader0, reply, attempt, bound
import ha_raw
from qlock._route import shard_of
tmp, ports = sys.argv[1], sys.argv[2:]
L, L2, L3, S, M, M2, M3, Q = (
    next("%s%d" % (p, i) for i in range(1000)
         if shard_of("%s%d" % (p, i), 2) == 0)
    for p in ("pl", "pm", "pk", "ps", "pn", "po", "pp", "pq"))

th, tp, tq, tr, tt = (os.urandom(32) for _ in range(5))
addr = leader0(ports[:1], Q)
h = bound(addr, th, "H")
h.call("sem.open", S, 1, False)
say(isinstance(h.call("lock.acquire", L, 5.0), int) and
    isinstance(h.call("lock.acquire", L2, 5.0), int) and
    isinstance(h.call("lock.acquire", L3, 5.0), int) and
    h.call("sem.acquire", S, 5.0) is None, "H holds L, L2, L3, S")
p = bound(addr, tp, "P")
p._request("lock.acquire", [L, 60.0], 20)
q = bound(addr, tq, "Q")
q._request("lock.acquire", [L2, 60.0], 30)
rr = bound(addr, tr, "R")
rr._request("lock.acquire", [L3, 60.0], 40)
t = bound(addr, tt, "T")
t._request("sem.acquire", [S, 60.0], 50)
time.sleep(0.3)
addr2 = ha_raw.failover(tmp, ports, Q)
p2 = Connection(addr2, key)
r = p2.call("session.resume", tp)
say(r["resumed"] is True, "P resumes: %r" % r)
p2.msgid = 20               # the next call is 21: not the resend of 20
r = attempt(p2, "lock.acquire", M, 5.0)
say(isinstance(r, int), "P's next request (21, another lock) runs: %r" % (r,))
q2 = Connection(addr2, key)
r = q2.call("session.resume", tq)
say(r["resumed"] is True, "Q resumes: %r" % r)
q2._request("lock.acquire", [M2, 5.0], 30)
r = reply(q2, 10)
say(r[:2] == (30, None) and isinstance(r[2], int),
    "Q's msgid 30 about another lock runs anew: %r" % (r,))
h2 = Connection(addr2, key)
say(h2.call("session.resume", th)["resumed"] is True, "H resumes")
h2.msgid = 100
say(h2.call("lock.release", L) is None and
    h2.call("lock.release", L2) is None, "H releases L and L2")
x = Connection(addr2, key)
r = attempt(x, "lock.acquire", L, 5.0)
say(isinstance(r, int), "a rival gets L, P's place dropped: %r" % (r,))
r = attempt(x, "lock.acquire", L2, 5.0)
say(isinstance(r, int), "a rival gets L2, Q's place dropped: %r" % (r,))
p2.msgid = 21
say(attempt(p2, "lock.release", M) is None, "P's next call is its own")
# R and T away while H releases L3 and S: both stay free; R and T resume
# first in line and are granted them (replies under 40 and 50 sent and
# kept), but send other requests instead of the resends: given back.
say(h2.call("lock.release", L3) is None and
    h2.call("sem.release", S) is None, "H releases L3 and S")
keep = []
for who, c_tok, mid, call in (("R", tr, 40, ("lock.acquire", M3, 5.0)),
                              ("T", tt, 50, ("queue.size", Q))):
    c2 = Connection(addr2, key)
    keep.append(c2)         # open: its session lives on
    r = c2.call("session.resume", c_tok)
    say(r["resumed"] is True, "%s resumes: %r" % (who, r))
    r = reply(c2, 10)
    say(r[:2] == (mid, None), "%s granted its place at once: %r" % (who, r))
    c2.msgid = mid
    r = attempt(c2, *call)
    say(not isinstance(r, str), "%s's next request (%d) runs instead of "
        "the resend: %r" % (who, mid + 1, r))
r = attempt(x, "lock.acquire", L3, 5.0)
say(isinstance(r, int), "a rival gets L3, R's grant given back: %r" % (r,))
r = attempt(x, "sem.acquire", S, 5.0)
say(r is None, "a rival gets S's permit, T's given back: %r" % (r,))
sys.exit(1 if ha_raw.fails else 0)
PYEOF

raw_failover "$tmp/places.py"
finish
