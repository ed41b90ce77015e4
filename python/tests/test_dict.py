"""Dict (a MutableMapping), Value, Namespace and Manager."""
import pickle
import queue
import threading

import pytest

import qlock


def test_dict_mapping(name):
    d = qlock.Dict(name)
    assert len(d) == 0 and dict(d) == {} and "a" not in d
    d["a"] = 1
    d["b"] = [1, (2, 3)]
    d[7] = "seven"
    d[(1, "x")] = None
    d["\0odd"] = b"raw"
    assert len(d) == 5
    assert d["a"] == 1 and d[7] == "seven" and d[(1, "x")] is None
    assert d["\0odd"] == b"raw"
    assert d["b"] == [1, (2, 3)]
    assert sorted(map(repr, d.keys())) == sorted(
        map(repr, ["a", "b", 7, (1, "x"), "\0odd"]))
    assert d.copy() == {"a": 1, "b": [1, (2, 3)], 7: "seven",
                        (1, "x"): None, "\0odd": b"raw"}
    assert d == d.copy()
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(KeyError):
        del d["missing"]
    assert d.get("missing") is None and d.get("missing", 5) == 5
    assert d.pop("a") == 1 and d.pop("a", "gone") == "gone"
    with pytest.raises(KeyError):
        d.pop("a")
    assert d.setdefault("s", 10) == 10 and d.setdefault("s", 11) == 10
    d.update({"u": 1}, v=2)
    d.update([("w", 3)])
    assert (d["u"], d["v"], d["w"]) == (1, 2, 3)
    k, v = d.popitem()
    assert k not in d
    assert len(d.values()) == len(d.items()) == len(d)
    d.clear()
    assert len(d) == 0
    with pytest.raises(KeyError):
        d.popitem()


def test_dict_atomic_helpers(name):
    d = qlock.Dict(name, {"n": 0}, seed=True)
    assert d["seed"] is True
    assert d.incr("n") == 1 and d.incr("n", 41) == 42 and d.incr("new") == 1
    assert d.cas("n", 42, 0) is True and d.cas("n", 42, 1) is False
    assert d.cas("fresh", None, "x") is True and d["fresh"] == "x"

    def bump():
        for _ in range(50):
            d.incr("count")
    ts = [threading.Thread(target=bump) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert d["count"] == 200


def test_dict_shared_and_pickled(name):
    a = qlock.Dict(name)
    a["x"] = 1
    b = pickle.loads(pickle.dumps(a))
    assert b.name == name and b["x"] == 1
    c = qlock.Dict(name)                # opening does not clear
    assert c["x"] == 1


def test_value(name):
    v = qlock.Value(name, "i", 5)
    assert v.value == 5
    assert qlock.Value(name, "i", 99).value == 5     # first opener sets it
    v.value = 7
    with v.get_lock():
        v.value += 1
    assert v.value == 8
    with v:
        assert v.get_lock().acquire(timeout=1)       # an RLock
        v.get_lock().release()
    w = pickle.loads(pickle.dumps(v))
    assert w.value == 8
    assert qlock.Value(name + "d", "d").value == 0.0
    flag = qlock.Value(name + "c", "c", b"n", lock=False)
    assert flag.value == b"n"
    with pytest.raises(AttributeError):
        flag.get_lock()


def test_namespace(name):
    ns = qlock.Namespace(name, x=1)
    ns.y = "two"
    assert (ns.x, ns.y) == (1, "two")
    other = pickle.loads(pickle.dumps(ns))
    other.x = 10
    assert ns.x == 10
    del ns.y
    with pytest.raises(AttributeError):
        ns.y
    assert repr(ns) == "Namespace(x=10)"


def test_manager(daemon):
    with qlock.Manager() as m:
        q = m.Queue()
        jq = m.JoinableQueue(3)
        objs = [q, jq, m.Lock(), m.RLock(), m.Semaphore(2),
                m.BoundedSemaphore(), m.Event(), m.Condition(),
                m.Barrier(2), m.dict(a=1), m.Value("i", 3)]
        names = [o.name for o in objs]
        assert len(set(names)) == len(names)
        assert objs[-2]["a"] == 1 and objs[-1].value == 3
        ns = m.Namespace()
        ns.hello = "world"
        assert ns.hello == "world"
        q.put(1)
        jq.put(2)
        assert isinstance(objs[2], qlock.Lock)
        assert objs[4].get_value() == 2
    # shutdown deleted what the manager made
    assert q.qsize() == 0
    with pytest.raises(queue.Empty):
        q.get_nowait()


def test_manager_explicit_address(daemon):
    m = qlock.Manager(daemon.address, daemon.key)
    assert m.address == daemon.address
    m.start()
    lk = m.Lock()
    assert lk.acquire() and lk.token
    lk.release()
    m.shutdown()


def test_dict_insertion_order_and_raw_keys(name):
    d = qlock.Dict(name)
    for k in ("b", 3, b"raw", "a", (1, 2)):
        d[k] = str(k)
    d["b"] = "again"                    # keeps its place
    del d[3]
    d[3] = "back"                       # goes last
    assert d.keys() == ["b", b"raw", "a", (1, 2), 3]
    assert d.values() == ["again", "b'raw'", "a", "(1, 2)", "back"]
    d[True] = "one"                     # True is 1, as in Python
    assert d[1] == "one"
    assert d.popitem() == (1, "one")    # the last inserted
    assert d.popitem() == (3, "back")
    d.update([("z", 1), ("b", 2)], y=3)
    assert d.items()[-2:] == [("z", 1), ("y", 3)] and d["b"] == 2
    assert qlock.Client().call("dict.get", name, b"raw") == "b'raw'"


def test_iter_raises_when_size_changes(name):
    # As a Python dict's iterator (and a Manager dict's).
    d = qlock.Dict(name)
    d.update((i, chr(i)) for i in range(65, 70))
    it = iter(d)
    assert list(it) == list(range(65, 70))
    assert list(it) == []               # exhausted
    it = iter(d)
    assert next(it) == 65
    d[99] = "c"
    with pytest.raises(RuntimeError):
        next(it)
    with pytest.raises(RuntimeError):
        next(it)                        # stays broken
    it = iter(d)
    d.clear()
    with pytest.raises(RuntimeError):
        next(it)
