"""What a Client holds survives the death of the leader it was held on
(docs/PROTOCOL.md, "Sessions", "Across a failover"): its session is bound to a
token, and the new leader keeps its holds for the grace period, for the
Client to take back when it reconnects.  Skipped without libraft."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

import qlock
from qlock import _route
from qlock._wire import Connection

from test_cluster import running_cluster


@pytest.fixture
def cluster(keyfile):
    # A cluster of its own for each test: each kills node 1.
    yield from running_cluster(keyfile)


def name_on(shard, prefix):
    return next("%s%d" % (prefix, i) for i in range(1000)
                if _route.shard_of("%s%d" % (prefix, i), 2) == shard)


def parked(body, ready):
    """Run body(out) in a thread (an exception goes to out["error"], for
    the test to report); return the thread and out once out has ready,
    and half a second later: parked by then."""
    out = {}

    def run():
        try:
            body(out)
        except Exception as e:
            out["error"] = e
    t = threading.Thread(target=run)
    t.start()
    end = time.monotonic() + 10
    while ready not in out and "error" not in out and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.5)
    return t, out


def everyone(cluster):
    return ",".join(cluster.address(n) for n in (3, 2, 1))


def test_holds_outlive_their_leader(cluster):
    # Shard 0 is led by node 1.  The holder takes a lock, a permit and two
    # joinable items there; node 1 dies (kill -9).  On the new leader a
    # rival finds all of it still held; the holder, calling again, is the
    # owner: it releases, finishes its items, and join() returns.
    holder = qlock.Client(everyone(cluster), cluster.key)
    rival = qlock.Client(everyone(cluster), cluster.key)
    lk, sm, jq = (name_on(0, p) for p in ("slk", "ssm", "sjq"))
    lock = qlock.Lock(lk, client=holder)
    sem = qlock.BoundedSemaphore(sm, 2, client=holder)
    q = qlock.JoinableQueue(jq, client=holder)
    for i in range(4):
        q.put("job-%d" % i)
    assert lock.acquire(timeout=5)
    token = lock.token
    assert sem.acquire(timeout=5)
    taken = [q.get(timeout=5), q.get(timeout=5)]
    assert taken == ["job-0", "job-1"]

    cluster.kill9(1)
    cluster.wait_leaders([2, 3], None)

    rlock = qlock.Lock(lk, client=rival)
    rsem = qlock.BoundedSemaphore(sm, 2, client=rival)
    rq = qlock.JoinableQueue(jq, client=rival)
    assert not rlock.acquire(timeout=1)             # still the holder's
    assert rsem.acquire(timeout=5)                  # one permit left
    assert not rsem.acquire(timeout=0.5)
    rsem.release()
    assert rq.get(timeout=5) == "job-2"             # taken ones not back
    rq.task_done()

    lock.release()                                  # the holder owns it
    sem.release()
    for _ in taken:
        q.task_done()
    assert rlock.acquire(timeout=5)
    assert rlock.token > token
    rlock.release()
    assert rq.get(timeout=5) == "job-3"
    rq.task_done()
    q.join()
    holder.close()
    rival.close()


HOLDER = """
import os, sys, time
sys.path.insert(0, %r)
import qlock
c = qlock.Client(sys.argv[1], open(sys.argv[2], "rb").read().rstrip(b"\\n"))
lock = qlock.Lock(sys.argv[3], client=c)
q = qlock.JoinableQueue(sys.argv[4], client=c)
assert lock.acquire(timeout=5)
assert q.get(timeout=5) == "only"
print("held", flush=True)
time.sleep(120)
""" % os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_holds_come_back_after_the_grace(cluster):
    # A holder that never comes back (its process frozen when its leader
    # dies, then killed: its session keeper never runs): its lock and
    # items are given back once the grace period (10 s by default) has
    # passed on the new leader, not before.
    rival = qlock.Client(everyone(cluster), cluster.key)
    lk, jq = name_on(0, "glk"), name_on(0, "gjq")
    qlock.JoinableQueue(jq, client=rival).put("only")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, everyone(cluster), cluster.keyfile,
         lk, jq], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"held\n"
        os.kill(holder.pid, signal.SIGSTOP)
        cluster.kill9(1)
        os.kill(holder.pid, signal.SIGKILL)
    finally:
        holder.kill()
        holder.wait()
    cluster.wait_leaders([2, 3], None)
    start = time.monotonic()
    rlock = qlock.Lock(lk, client=rival)
    rq = qlock.JoinableQueue(jq, client=rival)
    assert rlock.acquire(timeout=30)
    waited = time.monotonic() - start
    assert 3 < waited < 30, waited
    assert rq.get(timeout=5) == "only"              # back at the head
    rq.task_done()
    rq.join()
    rlock.release()
    rival.close()


def _idle_holder_keeps(cluster, fault, heal):
    # The holder takes a lock and a joinable item on shard 0 (node 1
    # leads it) and makes no call while fault takes node 1 away for
    # longer than the grace: its process's session keeper resumes the
    # session on the new leader, so a rival still finds both held; the
    # holder releases as the owner and finishes its item.
    holder = qlock.Client(everyone(cluster), cluster.key)
    rival = qlock.Client(everyone(cluster), cluster.key)
    lk, jq = name_on(0, "klk"), name_on(0, "kjq")
    lock = qlock.Lock(lk, client=holder)
    q = qlock.JoinableQueue(jq, client=holder)
    q.put("job")
    assert lock.acquire(timeout=5)
    token = lock.token
    assert q.get(timeout=5) == "job"
    fault()
    try:
        cluster.wait_leaders([2, 3], None)
        time.sleep(13)                              # past the 10 s grace
        rlock = qlock.Lock(lk, client=rival)
        rq = qlock.JoinableQueue(jq, client=rival)
        assert not rlock.acquire(timeout=1)         # still the holder's
        with pytest.raises(queue.Empty):
            rq.get(timeout=0.5)                     # not given back
        lock.release()                              # as its owner
        q.task_done()
        assert rlock.acquire(timeout=5)
        assert rlock.token > token
        rlock.release()
        rq.join()
    finally:
        heal()
    holder.close()
    rival.close()


def test_an_idle_holder_keeps_its_holds_when_its_leader_dies(cluster):
    _idle_holder_keeps(cluster, lambda: cluster.kill9(1), lambda: None)


def test_an_idle_holder_keeps_its_holds_when_its_leader_hangs(cluster):
    # Node 1 frozen (SIGSTOP: its connections stay open, as with a host
    # cut off): the keeper learns from the topology that shard 0 moved.
    _idle_holder_keeps(cluster, lambda: cluster.signal(1, signal.SIGSTOP),
                       lambda: cluster.signal(1, signal.SIGCONT))


def test_blocking_get_through_a_failover(cluster):
    # A get parked on an empty queue when its leader dies was never done:
    # the resumed session says so (the reply it kept is of an earlier
    # request), the Client sends it again under the same msgid, and it is
    # served by an item put on the new leader, without an error.  (The
    # session must have had a reply kept: one that never changed anything
    # was unknown to the new leader before its bind was replicated:
    # test_first_call_through_a_failover.)
    getter = qlock.Client(everyone(cluster), cluster.key)
    putter = qlock.Client(everyone(cluster), cluster.key)
    jq = name_on(0, "bq")
    q = qlock.Queue(jq, client=getter)

    def get(out):
        q.put("warm")                               # a reply kept
        out["warm"] = q.get(timeout=5)
        out["item"] = q.get(timeout=60)
    t, out = parked(get, "warm")                    # on node 1
    cluster.kill9(1)
    cluster.wait_leaders([2, 3], None)
    qlock.Queue(jq, client=putter).put("after")
    t.join(60)
    assert not t.is_alive()
    assert out == {"warm": "warm", "item": "after"}, out
    getter.close()
    putter.close()


def test_first_call_through_a_failover(cluster):
    # A thread's FIRST call is a get parked on an empty queue when its
    # leader dies: its session, bound when the connection opened, changed
    # nothing, yet the new leader knows it (the bind is replicated):
    # resumed, last 0, the get is sent again and served by an item put
    # there.  Before, the call failed (ConnectionError, outcome unknown).
    getter = qlock.Client(everyone(cluster), cluster.key)
    putter = qlock.Client(everyone(cluster), cluster.key)
    jq = name_on(0, "fq")
    out = {}

    def get():
        try:
            out["item"] = getter.call("queue.get", jq, 60.0)
        except Exception as e:                      # the test reports it
            out["error"] = e
    t = threading.Thread(target=get)
    t.start()
    end = time.monotonic() + 10
    while time.monotonic() < end:                   # parked on node 1
        if Connection(cluster.address(1), cluster.key).call("stats")[
                "waiters"] > 0:
            break
        time.sleep(0.05)
    cluster.kill9(1)
    cluster.wait_leaders([2, 3], None)
    qlock.Queue(jq, client=putter).put("after")
    t.join(60)
    assert not t.is_alive()
    assert out == {"item": "after"}, out
    getter.close()
    putter.close()


def test_holds_on_a_live_leader_outlive_the_first_member(cluster):
    # The holder's first connection is to node 1; its lock is on shard 1,
    # led by node 2.  Node 1 dies: the holder's next call (on shard 0)
    # opens a first connection elsewhere, and its connection to node 2
    # stays, with the lock (closing it would end the session there, and a
    # rival would get the lock while the holder thinks it holds it).
    holder = qlock.Client(",".join(cluster.address(n) for n in (1, 3, 2)),
                          cluster.key)
    rival = qlock.Client(everyone(cluster), cluster.key)
    lk = name_on(1, "flk")
    lock = qlock.Lock(lk, client=holder)
    assert lock.acquire(timeout=5)
    token = lock.token
    assert holder.connection().address == cluster.address(1)
    cluster.kill9(1)
    cluster.wait_leaders([2, 3], None)
    rlock = qlock.Lock(lk, client=rival)
    assert not rlock.acquire(timeout=1)
    qlock.Queue(name_on(0, "fq"), client=holder).put("x")
    assert holder.connection().address != cluster.address(1)
    assert not rlock.acquire(timeout=1)             # still the holder's
    lock.release()                                  # as its owner
    assert rlock.acquire(timeout=5)
    assert rlock.token > token
    rlock.release()
    holder.close()
    rival.close()


def test_a_holder_parked_on_another_shard_keeps_its_lock(cluster):
    # One thread holds a lock on shard 0 (node 1) and is parked in a get
    # on shard 1 (node 2) when node 1 dies: its connection to node 2 is
    # busy, but the keeper resumes its session on shard 0's new leader.
    holder = qlock.Client(everyone(cluster), cluster.key)
    rival = qlock.Client(everyone(cluster), cluster.key)
    lk, pq = name_on(0, "plk"), name_on(1, "pq")

    def hold(out):
        lock = qlock.Lock(lk, client=holder)
        assert lock.acquire(timeout=5)
        out["token"] = lock.token
        out["item"] = qlock.Queue(pq, client=holder).get(timeout=60)
        lock.release()
        out["released"] = True
    t, out = parked(hold, "token")                  # on node 2
    cluster.kill9(1)
    cluster.wait_leaders([2, 3], None)
    time.sleep(13)                                  # past the 10 s grace
    rlock = qlock.Lock(lk, client=rival)
    assert not rlock.acquire(timeout=1)             # still the holder's
    qlock.Queue(pq, client=rival).put("go")
    t.join(30)
    assert not t.is_alive()
    assert out.get("item") == "go" and out.get("released"), out
    assert rlock.acquire(timeout=5)
    assert rlock.token > out["token"]
    rlock.release()
    holder.close()
    rival.close()


def test_a_condition_wait_through_a_failover(cluster):
    # A thread waits on a Condition of shard 0, holding its lock twice
    # (depth 2) before the wait, when node 1 dies.  The new leader wakes
    # the wait (as a notify may: the waiter checks what it waits for) and
    # gives the lock back to it at depth 2: wait() returns True, both
    # releases succeed, and a rival gets the lock after.  Before, the
    # wait sent again found its session not holding the lock and raised
    # AssertionError ("must acquire() condition before using wait()").
    waiter = qlock.Client(everyone(cluster), cluster.key)
    rival = qlock.Client(everyone(cluster), cluster.key)
    cvname = name_on(0, "cv")

    def wait(out):
        cv = qlock.Condition(cvname, client=waiter)
        with cv:
            with cv:
                out["waiting"] = True
                out["woke"] = cv.wait(timeout=60)
            out["depth1"] = True
        out["released"] = True
    t, out = parked(wait, "waiting")
    cluster.kill9(1)
    cluster.wait_leaders([2, 3], None)
    t.join(30)
    assert not t.is_alive()
    assert out == {"waiting": True, "woke": True, "depth1": True,
                   "released": True}, out
    rcv = qlock.Condition(cvname, client=rival)
    assert rcv.acquire(timeout=5)
    rcv.release()
    waiter.close()
    rival.close()


def test_a_barrier_wait_through_a_failover(cluster):
    # Party A waits at a Barrier of 2 on shard 0 when node 1 dies; its
    # wait, sent again on the new leader (before or after B's), counts
    # there, and party B's wait after the failover releases both, with
    # indexes 0 and 1.  (A barrier's count is not replicated: the waits
    # parked on the dead leader arrive again.)
    a = qlock.Client(everyone(cluster), cluster.key)
    b = qlock.Client(everyone(cluster), cluster.key)
    bname = name_on(0, "bar")

    def wait(out):
        bar = qlock.Barrier(bname, 2, client=a)
        out["waiting"] = True
        out["index"] = bar.wait(timeout=60)
    t, out = parked(wait, "waiting")
    cluster.kill9(1)
    cluster.wait_leaders([2, 3], None)
    ib = qlock.Barrier(bname, 2, client=b).wait(timeout=30)
    t.join(30)
    assert not t.is_alive()
    assert "error" not in out, out
    assert sorted([out["index"], ib]) == [0, 1], (out, ib)
    a.close()
    b.close()
