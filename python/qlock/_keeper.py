"""The session keeper: what an idle thread holds in a cluster survives a
failover.

A thread's connection to a shard's leader is a session bound to the
thread's token (docs/PROTOCOL.md, "Across a failover").  When that leader
dies, the new one keeps what the session held for the daemon's
``--session-grace`` (10 s by default), for the thread to take back by
calling again.  A thread that holds a lock while it works, without a call,
would lose it.  So each process that holds something in a cluster runs one
keeper thread: every ``$QLOCK_SESSION_KEEPER`` seconds (default 1; 0:
never) it asks a member for the leaders, and for each connection that holds
something, is not in a call, and whose leader died (the connection closed)
or moved (the topology names another), it opens a connection to the new
leader and resumes the session there, as the thread's next call would.

The keeper and a thread's calls exclude each other with the thread's lock
(Client._thread_lock): a call holds it while it picks or opens its
connection, then marks the connection busy for the call itself, so that a
thread parked in a call on one shard does not keep the keeper from its
other shards.
"""
import os
import socket
import threading
import time
import weakref

from . import _wire, errors

KEEP_EVERY = 1.0        # s between checks, unless $QLOCK_SESSION_KEEPER
KEEP_TIMEOUT = 5.0      # s a topology or a resume may take


def keep_every():
    """Seconds between checks: $QLOCK_SESSION_KEEPER (0: no keeper), else
    KEEP_EVERY; a bad value means the default."""
    try:
        v = float(os.environ.get("QLOCK_SESSION_KEEPER", ""))
    except ValueError:
        return KEEP_EVERY
    return v if 0 <= v <= 3600 else KEEP_EVERY


class Keeper:
    """One per process: the routes of its threads, and the thread that
    keeps their sessions."""

    def __init__(self):
        self.pid = os.getpid()
        self.routes = weakref.WeakKeyDictionary()   # Route -> (client, lock)
        self.topo = {}          # client address -> Connection, for topology
        self.mutex = threading.Lock()
        self.thread = None

    def add(self, route, client, lock):
        every = keep_every()
        if every <= 0:
            return
        with self.mutex:
            self.routes[route] = (weakref.ref(client), lock)
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, args=(every,),
                                               name="qlock-keeper",
                                               daemon=True)
                self.thread.start()

    def run(self, every):
        while True:
            time.sleep(every)
            try:
                self.check()
            except Exception:   # never let the keeper die; next time
                pass

    def check(self):
        with self.mutex:
            routes = list(self.routes.items())
        for route, (cref, lock) in routes:
            client = cref()
            if client is None or not held(route):
                continue
            if not lock.acquire(blocking=False):
                continue        # the thread is picking its connection
            try:
                self.keep(route, client)
            finally:
                lock.release()

    def keep(self, route, client):
        from ._route import Route
        t = self.topology(client, route)
        new = Route.parse(t, route.address) if t is not None else None
        if new is None or not new.cluster or new.nshards != route.nshards:
            return
        for shard, conn in list(route.owners.items()):
            addr = new.addrs[shard]
            if conn.busy or conn.holds <= 0 or addr is None:
                continue
            if conn.address == addr and conn.alive():
                continue
            # Its leader died or moved: resume at the new one.
            c = resume(addr, client._authkey, route, conn.holds)
            if c is None:
                continue        # not yet: next time
            route.addrs[shard] = addr
            route.owners[shard] = c
            route.next.pop(shard, None)     # moved already
            conn.close()

    def topology(self, client, route):
        """The topology from any member (the client's addresses, then the
        leaders known), over the keeper's own connection; None if none
        answers."""
        c = self.topo.get(client.address)
        for _ in range(2):
            if c is None or c.sock is None:
                members = ",".join([client.address] +
                                   [a for a in route.addrs if a])
                try:
                    c = _wire.connect_any(members, client._authkey)
                    c.sock.settimeout(KEEP_TIMEOUT)
                except errors.Error:
                    return None
                self.topo[client.address] = c
            try:
                return c.call("topology")
            except (errors.Error, OSError, socket.timeout):
                c.close()
                c = None
        return None


def held(route):
    """Whether a connection of route's holds something, not in a call."""
    return any(c.holds > 0 and not c.busy for c in list(route.owners.values()))


def resume(addr, authkey, route, holds):
    """A connection to addr whose session took route's token, with what
    it held (holds, as the thread counts them) if it resumed, or None if
    it cannot be had now."""
    from ._route import Route
    try:
        c = _wire.Connection(addr, authkey)
    except errors.Error:
        return None
    c.ids = route.ids
    c.sock.settimeout(KEEP_TIMEOUT)
    try:
        r = Route._bind(c, route.token)
    except (errors.Error, OSError, socket.timeout):
        c.close()
        return None
    if c.sock is None or not isinstance(r, dict):
        c.close()               # the token refused: not the session
        return None
    c.sock.settimeout(None)
    c.holds = holds if r.get("resumed") else 0      # else given back
    return c


_keeper = None
_keeper_lock = threading.Lock()


def _after_fork():
    # The keeper thread is not the child's; the lock may have been held.
    global _keeper, _keeper_lock
    _keeper = None
    _keeper_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def keeper():
    """This process's Keeper (a forked child gets its own)."""
    global _keeper
    with _keeper_lock:
        if _keeper is None or _keeper.pid != os.getpid():
            _keeper = Keeper()
        return _keeper
