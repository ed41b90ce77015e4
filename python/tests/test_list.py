"""qlock.List and Manager().list(): a list shared through the daemon."""
import multiprocessing

import pytest

import qlock
from threads import in_thread


def test_list_methods(name):
    a = qlock.List(name, range(5))
    assert a[:] == [0, 1, 2, 3, 4] and len(a) == 5 and a[-1] == 4
    a.append(5)
    a.extend([6, 7])
    a.insert(0, -1)
    assert a.pop() == 7 and a.pop(0) == -1
    a[0] = 10
    del a[1]
    a.remove(2)
    assert a[:] == [10, 3, 4, 5, 6]
    a *= 2
    a += [1]
    assert a + [9] == [10, 3, 4, 5, 6, 10, 3, 4, 5, 6, 1, 9]
    assert a.index(4) == 2 and a.count(10) == 2 and 6 in a
    a.sort(reverse=True)
    assert a[:3] == [10, 10, 6]
    a.reverse()
    assert a[0] == 1 and a == a.copy()
    a.clear()
    assert a[:] == [] and len(a) == 0
    with pytest.raises(IndexError):
        a.pop()


def test_list_shared_by_name_and_nested(name):
    a = qlock.List(name, [1])
    b = qlock.List(name, [2])           # opens the same list
    assert b[:] == [1]
    outer = qlock.List(name + ".outer", [a])
    outer[0].append("x")                # pickles to its name
    assert a[:] == [1, "x"]


def _append_many(lst, n):
    for i in range(n):
        lst.append(i)


def test_list_appends_from_processes_and_threads(name):
    with qlock.Manager() as m:
        lst = m.list()
        ctx = multiprocessing.get_context("fork")
        ps = [ctx.Process(target=_append_many, args=(lst, 20))
              for _ in range(2)]
        for p in ps:
            p.start()
        t = in_thread(_append_many, lst, 20)
        for p in ps:
            p.join(30)
            assert p.exitcode == 0
        t(30)
        assert len(lst) == 60           # no append lost
        assert sorted(lst) == sorted(list(range(20)) * 3)
