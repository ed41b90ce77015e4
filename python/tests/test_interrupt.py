"""Ctrl-C in a blocking call withdraws that wait and raises
KeyboardInterrupt; what the session holds stays held."""
import queue
import signal
import threading
import time

import pytest

import qlock
from qlock import client as qclient
from threads import in_thread


def ctrl_c_when_parked(waiters=1, limit=10):
    """In a thread: once the daemon counts `waiters` parked requests,
    send SIGINT to the main thread (where the test runs).  Bounded."""
    main = threading.main_thread().ident

    def run():
        c = qlock.Client()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if c.stats()["waiters"] >= waiters:
                break
            time.sleep(0.01)
        signal.pthread_kill(main, signal.SIGINT)
        c.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def other_thread(fn, *args):
    """fn(*args) in another thread (another session), joined."""
    return in_thread(fn, *args)(15)


@pytest.fixture(autouse=True)
def main_thread_only():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("needs the main thread")


def test_get_withdrawn_when_holding_nothing(client, name):
    q = qlock.Queue(name)
    waiters = client.stats()["waiters"]
    t = ctrl_c_when_parked(waiters + 1)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    t.join(15)
    other_thread(q.put, "item")
    # The withdrawn get does not take it: this get does.
    assert q.get(timeout=10) == "item"
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)


def test_acquire_withdrawn_holds_kept(client, name):
    a = qlock.Lock(name + ".a")
    b = qlock.Lock(name + ".b")
    assert a.acquire()
    release_b = threading.Event()
    b_taken = threading.Event()

    def holder():
        b.acquire()
        b_taken.set()
        release_b.wait(15)
        b.release()
    t = threading.Thread(target=holder, daemon=True)
    t.start()
    assert b_taken.wait(15)
    waiters = client.stats()["waiters"]
    c = ctrl_c_when_parked(waiters + 1)
    with pytest.raises(KeyboardInterrupt):
        b.acquire()
    c.join(15)
    # The connection and its hold stay: a is still ours.
    assert other_thread(a.acquire, False) is False
    release_b.set()
    t.join(15)
    # The late grant of b is given back on this thread's next calls.
    deadline = time.monotonic() + 10
    free = False
    while not free and time.monotonic() < deadline:
        qclient.get_client().ping()
        free = other_thread(lambda: b.acquire(False) and b.release() is None)
    assert free
    a.release()
    assert other_thread(lambda: a.acquire(False) and a.release() is None)


def test_barrier_wait_interrupted_breaks_it(name):
    bar = qlock.Barrier(name, 2)
    t = ctrl_c_when_parked(1 + qlock.Client().stats()["waiters"])
    with pytest.raises(KeyboardInterrupt):
        bar.wait(20)
    t.join(15)
    # Broken at once, not after the other party's 5 s.
    t0 = time.monotonic()
    with pytest.raises(threading.BrokenBarrierError):
        other_thread(lambda: bar.wait(5))
    assert time.monotonic() - t0 < 4


def test_condition_wait_interrupted_then_released(name):
    cond = qlock.Condition(name)
    with pytest.raises(KeyboardInterrupt):
        with cond:                      # leaving it must not raise
            t = ctrl_c_when_parked(1 + qlock.Client().stats()["waiters"])
            cond.wait()
    t.join(15)

    def notify():
        with cond:
            cond.notify()
    other_thread(notify)
    # The wait's late answer gives the lock back to this session, which
    # releases it at once, on this thread's next calls.
    deadline = time.monotonic() + 10
    free = False
    while not free and time.monotonic() < deadline:
        qclient.get_client().ping()
        free = other_thread(lambda: cond.acquire(False) and
                            cond.release() is None)
    assert free


@pytest.mark.parametrize("over", [None, qlock.Lock, qlock.RLock])
def test_condition_wait_interrupted_withdrawn(client, name, over):
    # As threading's: Ctrl-C in wait() withdraws the wait and raises
    # with the lock held again; nothing stays parked.
    cond = qlock.Condition(name, over and over(name + ".lock"))
    waiters = client.stats()["waiters"]
    cond.acquire()
    t = ctrl_c_when_parked(waiters + 1)
    with pytest.raises(KeyboardInterrupt):
        cond.wait(30)
    t.join(15)
    assert client.stats()["waiters"] == waiters
    assert other_thread(lambda: cond.acquire(False)) is False
    cond.notify()
    cond.release()
    assert other_thread(lambda: cond.acquire(timeout=10) and
                        cond.release() is None) is True


def test_get_cancelled_while_holding(client, name):
    """A session holding a lock: Ctrl-C in get cancels that get on the
    wire; the lock stays held and the items keep their order."""
    lk = qlock.Lock(name + ".lock")
    q = qlock.Queue(name)
    assert lk.acquire()
    t = ctrl_c_when_parked(1 + client.stats()["waiters"])
    with pytest.raises(KeyboardInterrupt):
        q.get()
    t.join(15)
    other_thread(q.put, 1)
    other_thread(q.put, 2)
    # Were the get parked still, 1 would be taken late and put back after 2.
    assert [q.get(timeout=10), q.get(timeout=10)] == [1, 2]
    assert other_thread(lk.acquire, False) is False
    lk.release()
