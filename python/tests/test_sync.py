"""Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier in
one process (threads have connections of their own, so two threads are two
sessions)."""
import threading
import time

import pytest

import qlock
from threads import in_thread


def test_lock(name):
    lk = qlock.Lock(name)
    assert lk.token is None
    assert lk.acquire() is True
    t1 = lk.token
    assert isinstance(t1, int) and t1 > 0
    assert lk.acquire(timeout=0.05) is False       # not re-entrant
    assert lk.acquire(False) is False
    assert in_thread(lk.acquire, True, 0.1)() is False
    lk.release()
    with pytest.raises(ValueError):
        lk.release()
    with lk as got:
        assert got is True
        assert lk.token > t1
    assert lk.acquire(timeout=-1) is True           # negative: try once
    lk.release()


def test_lock_release_by_other_thread(name):
    lk = qlock.Lock(name)
    lk.acquire()
    with pytest.raises(ValueError):
        in_thread(lk.release)()
    lk.release()


def test_lock_handover_between_threads(name):
    lk = qlock.Lock(name)
    lk.acquire()
    waiter = in_thread(lk.acquire, True, 10)
    time.sleep(0.1)
    lk.release()
    assert waiter() is True


def test_rlock(name):
    rl = qlock.RLock(name)
    assert rl.acquire() and rl.acquire()
    assert in_thread(rl.acquire, True, 0.05)() is False
    rl.release()
    assert in_thread(rl.acquire, False)() is False
    rl.release()
    with pytest.raises(AssertionError):
        rl.release()
    with rl, rl:
        pass
    with pytest.raises(ValueError):
        qlock.Lock(name)                # the name is an RLock


def test_semaphore(name):
    s = qlock.Semaphore(name, 2)
    assert s.get_value() == 2
    assert s.acquire() and s.acquire(timeout=1)
    assert s.acquire(False) is False
    assert s.acquire(timeout=0.05) is False
    assert s.get_value() == 0
    s.release()
    s.release()
    s.release()                         # unbounded: over its start
    assert s.get_value() == 3
    with s:
        assert s.get_value() == 2
    with pytest.raises(ValueError):
        qlock.Semaphore(name + "neg", -1)


def test_bounded_semaphore(name):
    b = qlock.BoundedSemaphore(name)    # value=1 by default
    with pytest.raises(ValueError):
        b.release()
    assert b.acquire()
    b.release()
    assert b.get_value() == 1


def test_event(name):
    e = qlock.Event(name)
    assert e.is_set() is False
    assert e.wait(0.05) is False
    assert e.wait(-1) is False
    waiter = in_thread(e.wait)
    time.sleep(0.05)
    e.set()
    assert waiter() is True
    assert e.is_set() is True and e.wait() is True and e.wait(0) is True
    e.clear()
    assert e.is_set() is False


def test_condition(name):
    c = qlock.Condition(name)
    with pytest.raises(AssertionError):
        c.wait(0.01)
    with pytest.raises(AssertionError):
        c.notify()
    with pytest.raises(AssertionError):
        c.release()
    with pytest.raises(TypeError):
        qlock.Condition(name, threading.Lock())
    box = qlock.Dict(name + ".box")

    def consumer():
        with c:
            return c.wait_for(lambda: box.get("ready"), timeout=10)
    got = in_thread(consumer)
    time.sleep(0.1)
    with c:
        box["ready"] = "yes"
        c.notify()
    assert got() == "yes"
    with c:
        assert c.wait(0.05) is False        # times out, lock held again
        assert c.wait_for(lambda: False, 0.05) is False
        c.notify_all()
        c.notify(0)
    assert c.acquire(False) is True
    c.release()


def test_barrier(name):
    b = qlock.Barrier(name, 3, timeout=10)
    assert b.parties == 3 and b.n_waiting == 0 and not b.broken
    waits = [in_thread(b.wait) for _ in range(2)]
    deadline = time.monotonic() + 10
    while b.n_waiting < 2 and time.monotonic() < deadline:
        time.sleep(0.01)                # polls the daemon's state, bounded
    assert b.n_waiting == 2
    idx = b.wait()
    assert sorted([idx] + [w() for w in waits]) == [0, 1, 2]


def test_barrier_timeout_abort_reset(name):
    b = qlock.Barrier(name, 2)
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(0.05)
    assert b.broken
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(5)
    b.reset()
    assert not b.broken
    w = in_thread(b.wait, 10)
    time.sleep(0.05)
    b.abort()
    with pytest.raises(threading.BrokenBarrierError):
        w()
    assert b.broken
    b.reset()


def test_barrier_action(name):
    ran = []
    b = qlock.Barrier(name, 2, action=lambda: ran.append(1))
    w = in_thread(b.wait, 10)
    idx = b.wait(10)
    assert sorted([idx, w()]) == [0, 1]
    assert ran == [1]


def test_barrier_action_before_release(name):
    # As threading's: no party returns before the action has run.
    b = qlock.Barrier(name, 3, action=qlock.Dict(name + ".d").clear)
    box = qlock.Dict(name + ".d")

    def party():
        box[threading.get_ident()] = 1
        b.wait(10)
        return len(box)
    for _ in range(3):                  # the barrier is reused
        waits = [in_thread(party) for _ in range(2)]
        assert party() == 0
        assert [w() for w in waits] == [0, 0]


def test_barrier_action_failure_breaks(name):
    def boom():
        raise RuntimeError("boom")
    b = qlock.Barrier(name, 2, action=boom)
    w = in_thread(b.wait, 10)
    with pytest.raises((RuntimeError, threading.BrokenBarrierError)):
        b.wait(10)
    with pytest.raises((RuntimeError, threading.BrokenBarrierError)):
        w()
    assert b.broken
    b.reset()
    assert not b.broken


def test_ended_thread_gives_back(name):
    lk = qlock.Lock(name)
    assert in_thread(lk.acquire)() is True      # the thread then ends
    assert lk.acquire(timeout=10) is True       # its connection closed
    lk.release()


def test_barrier_broken_seen_by_every_object(name):
    a = qlock.Barrier(name, 2)
    b = qlock.Barrier(name, 2)
    a.abort()
    assert b.broken is True             # read from the daemon
    b.reset()
    assert a.broken is False


@pytest.mark.parametrize("kind", [qlock.Lock, qlock.RLock])
def test_condition_over_a_lock(name, kind):
    lk = kind(name + ".lock")
    c = qlock.Condition(name, lk)
    box = qlock.Dict(name + ".box")

    def consumer():
        with lk:                        # the lock itself, as in Python
            return c.wait_for(lambda: box.get("ready"), timeout=10)
    got = in_thread(consumer)
    time.sleep(0.1)
    with c:                             # the condition takes the lock
        assert lk.acquire(False) is (kind is qlock.RLock)
        if kind is qlock.RLock:
            lk.release()
        box["ready"] = "yes"
        c.notify()
    assert got() == "yes"
    assert lk.acquire(False) is True    # the waiter let the lock go
    with pytest.raises(AssertionError):
        in_thread(c.notify)()
    lk.release()
    with pytest.raises(ValueError):
        qlock.Condition("x{a}", qlock.Lock("{b}"))
