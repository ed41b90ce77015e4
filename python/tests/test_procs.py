"""Objects pickled into real child processes under fork and spawn, Pool
workers, and what a SIGKILLed child held coming back."""
import multiprocessing
import os
import signal

import pytest

import qlock
from children import hold_everything, square, worker

METHODS = ["fork", "spawn", "forkserver"]


@pytest.mark.parametrize("method", METHODS)
def test_children_share_objects(name, method):
    ctx = multiprocessing.get_context(method)
    jobs = qlock.JoinableQueue(name + ".jobs")
    results = qlock.Queue(name + ".results")
    go = qlock.Event(name + ".go")
    counter = qlock.Value(name + ".n", "i", 0)
    done = qlock.Dict(name + ".done")
    barrier = qlock.Barrier(name + ".b", 3)
    procs = [ctx.Process(target=worker, args=(jobs, results, go, counter,
                                              done, barrier))
             for _ in range(2)]
    for p in procs:
        p.start()
    for n in range(10):
        jobs.put(n)
    for _ in procs:
        jobs.put(None)
    go.set()
    # Bounded: a child that fails breaks the barrier by leaving it.
    assert barrier.wait(30) in (0, 1, 2)
    for p in procs:
        p.join(20)
        assert p.exitcode == 0
    jobs.join()                             # every job was marked done
    assert sorted(results.get(timeout=5) for _ in range(10)) == \
        [2 * n for n in range(10)]
    assert results.empty()
    assert counter.value == 10
    assert sorted(done.keys()) == list(range(10))
    assert set(done.values()) <= {p.pid for p in procs}


@pytest.mark.parametrize("method", METHODS)
def test_pool_workers(name, method):
    q = qlock.Queue(name)
    lock = qlock.Lock(name + ".lock")
    with multiprocessing.get_context(method).Pool(2) as pool:
        tokens = pool.map_async(square, [(q, lock, i) for i in range(8)],
                                chunksize=1).get(60)
    assert len(set(tokens)) == 8            # a fresh token per hold
    assert sorted(q.get(timeout=5) for _ in range(8)) == \
        [i * i for i in range(8)]


def test_sigkilled_child_gives_back(name):
    ctx = multiprocessing.get_context("fork")
    lock = qlock.Lock(name + ".lock")
    sem = qlock.Semaphore(name + ".sem", 1)
    jobs = qlock.JoinableQueue(name + ".jobs")
    ready = qlock.Queue(name + ".ready")
    jobs.put("first")
    jobs.put("second")
    p = ctx.Process(target=hold_everything, args=(lock, sem, jobs, ready))
    p.start()
    try:
        assert ready.get(timeout=20) == "first"
        assert lock.acquire(False) is False
        assert sem.get_value() == 0
        assert jobs.qsize() == 1
        os.kill(p.pid, signal.SIGKILL)
        p.join(20)
        assert p.exitcode == -signal.SIGKILL
        assert lock.acquire(timeout=10) is True
        assert sem.acquire(timeout=10) is True
        assert jobs.get(timeout=10) == "first"  # back at the head
        assert jobs.get(timeout=10) == "second"
        jobs.task_done()
        jobs.task_done()
        jobs.join()
    finally:
        if p.is_alive():
            p.kill()
        p.join(5)


def test_sigkilled_child_keeps_with_giveback_false(name):
    """giveback=False is multiprocessing's ownership: what the dead child
    took stays taken, and any process may release the lock."""
    ctx = multiprocessing.get_context("fork")
    lock = qlock.Lock(name + ".lock", giveback=False)
    sem = qlock.Semaphore(name + ".sem", 1, giveback=False)
    jobs = qlock.JoinableQueue(name + ".jobs", giveback=False)
    ready = qlock.Queue(name + ".ready")
    jobs.put("first")
    p = ctx.Process(target=hold_everything, args=(lock, sem, jobs, ready))
    p.start()
    try:
        assert ready.get(timeout=20) == "first"
        os.kill(p.pid, signal.SIGKILL)
        p.join(20)
        assert p.exitcode == -signal.SIGKILL
        assert lock.acquire(timeout=0.3) is False   # still the dead one's
        lock.release()                              # anyone may release
        assert lock.acquire(timeout=10) is True
        lock.release()
        assert sem.get_value() == 0                 # the permit stays taken
        assert jobs.qsize() == 0                    # the item is gone
        jobs.task_done()                            # its task was unfinished
        jobs.join()
    finally:
        if p.is_alive():
            p.kill()
        p.join(5)
    with pytest.raises(TypeError):
        qlock.Queue(name + ".plain", giveback=False)
    with pytest.raises(ValueError):
        qlock.Lock(name + ".lock")                  # other settings
