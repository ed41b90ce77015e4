#!/bin/sh
# it_ha_retry.sh: at most once across a failover (issue 13): a session
# bound to a token keeps the reply of its last request that changed state,
# replicated with its effects.  On shard 0's leader a client binds a token
# and parks a queue.get with msgid 100 on an empty queue; another client
# puts x1 and x2 (x1 is handed to the parked get: its reply is kept in
# that later pass).  kill -9
# of that leader's node; on the new leader the client resumes (resumed
# true, last 100) and sends queue.get again with msgid 100: x1 again, not
# executed (x2 still in the queue, stats retries_answered 1); msgid 50 is
# Inval "already answered" (nothing taken); msgid 101 executes (x2).  A
# read-only request (queue.size) is not kept.  A second session's reply
# over 1 MiB is not kept: resumed, its `last` is that msgid, its retry is
# Inval "too large to keep".  The kept reply reaches
# the new leader through snapshots: the leader's, installed on a member
# that was down, and a member's own at its restart.  Skipped (77) without
# libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_retry
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

HA_OPTS="--session-grace 20000"
# Snapshots every 16 entries (4 kept behind).
QLOCKD_TEST_SNAPSHOT_EVERY=16
export QLOCKD_TEST_SNAPSHOT_EVERY

cat > "$tmp/retry.py" <<'EOF'
import os, sys, time
sys.path.insert(0, os.environ["HA_TESTS"])
from it_ha_sess import *

def send(c, msgid, method, *params):
    """Send a request with msgid; its reply (msgid, error, result)."""
    c.msgid = msgid - 1
    assert c._request(method, list(params)) == msgid
    return c._reply()

def retry(ports):
    ok = True
    Q, F = named("rq"), named("fill")
    node, addr = leader0(ports, None)
    tok = os.urandom(32)
    a = Connection(addr, key)
    r = a.call("session.resume", tok)
    ok &= say(r == {"resumed": False, "holds": 0, "last": 0},
              "bound on node %s: %r" % (node, r))
    # Parked, then handed x1 in a later pass (the put's).
    a.msgid = 99
    assert a._request("queue.get", [Q, 10]) == 100
    b = Connection(addr, key)
    time.sleep(0.3)
    b.call("queue.put", Q, "x1", 5)
    b.call("queue.put", Q, "x2", 5)
    rep = a._reply()
    ok &= say(rep == (100, None, "x1"), "the parked get (msgid 100) is "
              "handed x1: %r; its reply is now 'lost'" % (rep,))
    # A second session's last reply is over 1 MiB: not kept.
    B, tokb = named("big"), os.urandom(32)
    big = "b" * (1536 * 1024)
    d = Connection(addr, key)
    d.call("session.resume", tokb)
    b.call("queue.put", B, big, 5)
    rep = send(d, 200, "queue.get", B, 5)
    ok &= say(rep[0] == 200 and rep[2] == big, "a 1.5 MiB item taken "
              "(msgid 200)")
    # Entries past the snapshot threshold: the reply goes into snapshots.
    for i in range(60):
        b.call("queue.put", F, i, 5)
    open(os.path.join(tmp, "ready"), "w").close()
    t0 = wait_file(os.path.join(tmp, "killed"), 300)
    node2, addr2 = leader0([p for p in ports if p != ports[node - 1]], node)
    if not say(addr2 is not None, "a new leader for shard 0: node %s" % node2):
        return False
    a2 = Connection(addr2, key)
    a2.msgid = 110
    r = a2.call("session.resume", tok)
    ok &= say(r == {"resumed": True, "holds": 0, "last": 100},
              "resumed on node %s: %r (%.2f s)" % (node2, r, time.time() - t0))
    rep = send(a2, 100, "queue.get", Q, 0)
    ok &= say(rep == (100, None, "x1"), "queue.get again with msgid 100: "
              "%r (the kept reply)" % (rep,))
    c = Connection(addr2, key)
    st = c.call("queue.state", Q)
    ok &= say(st["size"] == 1, "the queue lost nothing more: %r" % st)
    n = c.call("stats")["retries_answered"]
    ok &= say(n == 1, "stats: retries_answered %r" % n)
    rep = send(a2, 50, "queue.get", Q, 0)
    ok &= say(rep[1] is not None and rep[1][0] == "Inval" and
              "already answered" in rep[1][1],
              "msgid 50: %r" % (rep,))
    ok &= say(c.call("queue.size", Q) == 1, "nothing taken by msgid 50")
    rep = send(a2, 120, "queue.get", Q, 0)
    ok &= say(rep == (120, None, "x2"), "msgid 120 executes: %r" % (rep,))
    rep = send(a2, 121, "queue.size", Q)
    ok &= say(rep == (121, None, 0), "msgid 121 queue.size: %r" % (rep,))
    # The kept reply is still 120's (a read is not kept).
    rep = send(a2, 120, "queue.get", Q, 0)
    ok &= say(rep == (120, None, "x2"), "msgid 120 again: %r (kept, "
              "not executed)" % (rep,))
    rep = send(a2, 121, "queue.size", Q)
    ok &= say(rep[1] is not None and rep[1][0] == "Inval",
              "msgid 121 again: Inval: %r" % (rep,))
    d2 = Connection(addr2, key)
    d2.msgid = 210
    r = d2.call("session.resume", tokb)
    ok &= say(r == {"resumed": True, "holds": 0, "last": 200},
              "the second session resumes: %r" % r)
    rep = send(d2, 200, "queue.get", B, 0)
    ok &= say(rep[1] is not None and rep[1][0] == "Inval" and
              "too large to keep" in rep[1][1],
              "its retry of msgid 200: %r" % (rep[:2],))
    ok &= say(c.call("queue.size", B) == 0, "and nothing taken again")
    return ok

sys.exit(0 if retry(sys.argv[1:]) else 1)
EOF
TMPD=$tmp
export TMPD

cluster_up

# Node 3 down while the reply is kept and 60 entries go by (its group
# compacts past it); back, it installs the leader's snapshot (written from
# its live session); node 2 restarted restores its own (written from its
# replay state).  The next leader, either, has the kept reply from a
# snapshot.
kill9 3
timeout 400 "$PY" "$tmp/retry.py" $ports > "$tmp/retry.out" 2>&1 &
rpid=$!
pids="$pids $rpid"
wait_for 60 test -f "$tmp/ready" || { cat "$tmp/retry.out"; die "not ready"; }
restored 3 sent
kill9 2
restored 2 own
_t=$(date +%s.%N)
kill9 1
echo "$_t" > "$tmp/k.tmp" && mv "$tmp/k.tmp" "$tmp/killed"
wait $rpid
rc=$?
cat "$tmp/retry.out"
[ $rc -eq 0 ] || fail "at most once across a failover"

[ $fails -eq 0 ] || logs
finish
