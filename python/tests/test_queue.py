"""Queue and JoinableQueue: multiprocessing's methods, defaults,
return values and exceptions, within one process."""
import queue
import time

import pytest

import qlock


def test_fifo_and_item_types(name):
    q = qlock.Queue(name)
    items = [None, True, 0, -5, 2**63 - 1, 2**64 + 1, 1.5, "s", b"\x80b",
             (1, "t"), [1, [2]], {"k": (1,)}, {1, 2}, ValueError("x")]
    for it in items:
        q.put(it)
    assert q.qsize() == len(items)
    got = [q.get() for _ in items]
    assert got[:-1] == items[:-1]
    assert type(got[9]) is tuple
    assert isinstance(got[-1], ValueError) and got[-1].args == ("x",)
    assert q.empty()


def test_nonblocking_and_timeouts(name):
    q = qlock.Queue(name, maxsize=2)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(False)
    with pytest.raises(queue.Empty):
        q.get(timeout=-1)               # negative: no wait
    t0 = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(True, 0.2)
    assert time.monotonic() - t0 >= 0.15
    assert q.put(1) is None
    q.put_nowait(2)
    assert q.full() and not q.empty() and q.qsize() == 2
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.1)
    with pytest.raises(queue.Full):
        q.put(3, block=False, timeout=10)
    assert q.get_nowait() == 1
    assert not q.full()
    q.close()
    q.join_thread()
    q.cancel_join_thread()


def test_unbounded_never_full(name):
    q = qlock.Queue(name, maxsize=-3)
    for i in range(50):
        q.put_nowait(i)
    assert not q.full()


def test_joinable(name):
    q = qlock.JoinableQueue(name)
    q.put("a")
    q.put("b")
    assert q.get() == "a"
    q.task_done()
    assert q.get() == "b"
    q.task_done()
    q.join()                            # nothing unfinished: at once
    with pytest.raises(ValueError, match="too many"):
        q.task_done()


def test_task_done_on_plain_queue(name):
    q = qlock.Queue(name)
    assert not hasattr(q, "task_done") and not hasattr(q, "join")

