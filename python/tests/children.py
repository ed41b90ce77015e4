"""What the child processes of test_procs.py run (a module of its own so
that children under spawn import only this)."""
import os
import time


def worker(jobs, results, go, counter, done, barrier):
    """Wait for go, double each job into results, count it in counter
    under its lock, then meet the others at barrier."""
    if not go.wait(20):
        os._exit(3)
    while True:
        n = jobs.get(timeout=20)
        if n is None:
            jobs.task_done()
            break
        results.put(n * 2)
        with counter.get_lock():
            counter.value += 1
        done[n] = os.getpid()
        jobs.task_done()
    barrier.wait(20)


def square(args):
    """A Pool task: put i*i in q under the lock, return the lock's token."""
    q, lock, i = args
    with lock:
        q.put(i * i)
        return lock.token


def hold_everything(lock, sem, jobs, ready):
    """Take the lock, a permit and an item, say so, then wait to be
    killed."""
    assert lock.acquire(timeout=20)
    assert sem.acquire(timeout=20)
    item = jobs.get(timeout=20)
    ready.put(item)
    time.sleep(60)
    os._exit(0)
