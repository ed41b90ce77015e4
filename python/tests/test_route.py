"""Direct routing: each named request goes to the worker owning the name,
so that the daemon forwards nothing; QLOCK_ROUTE=0 turns it off."""
import uuid

import qlock
from qlock import _route


def _work(c, tag):
    for i in range(40):
        name = "route.%s.%d.%s" % (tag, i, uuid.uuid4().hex[:6])
        q = qlock.Queue(name, client=c)
        q.put(name)
        assert q.get() == name


def test_nothing_forwarded(daemon):
    c = qlock.Client(daemon.address)
    before = c.stats()["forwarded"]
    _work(c, "on")
    assert c.stats()["forwarded"] == before
    c.close()


def test_route_off_forwards(daemon, monkeypatch):
    monkeypatch.setenv("QLOCK_ROUTE", "0")
    c = qlock.Client(daemon.address)
    before = c.stats()["forwarded"]
    _work(c, "off")
    forwarded = c.stats()["forwarded"] - before
    if daemon.workers == 1:
        assert forwarded == 0
    else:
        assert forwarded > 0        # the check above could fail
    c.close()


def test_shard_of_is_the_daemons(daemon):
    c = qlock.Client(daemon.address)
    for i in range(30):
        name = "owner.%d" % i
        conn = c.connection(name)
        expect = _route.shard_of(name, daemon.workers)
        assert conn.call("topology")["shard"] == expect
    c.close()


def test_hash_tags():
    for n in (3, 7, 64):
        s = _route.shard_of("user42", n)
        assert _route.shard_of("{user42}.lock", n) == s
        assert _route.shard_of("cond.{user42}", n) == s
        assert _route.shard_of("{}x", n) == _route.shard_of("{}x", n)
    assert _route.fnv1a64(b"") == 0xcbf29ce484222325
    assert _route.fnv1a64(b"a") == 0xaf63dc4c8601ec8c
