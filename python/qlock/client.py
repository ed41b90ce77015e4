"""qlock.Client: where the daemon is, and a connection per thread.

A Client is cheap and pickles to its address and the authkey it was given
(None: found again from the environment where it is unpickled).  Each
thread of each process gets its own connection, opened at its first
call, and one to each worker whose objects it uses (direct routing,
_route.py); a forked child never uses its parent's sockets.
"""
import itertools
import os
import threading

from . import _keeper, _route, _wire


class Client:
    """A handle on one qlockd: ``Client(address=None, authkey=None)``.

    ``address`` is ``HOST:PORT``, ``[V6]:PORT`` or ``unix:/PATH``
    (default ``$QLOCK_ADDRESS``, else ``127.0.0.1:7450``); ``authkey`` is
    bytes or str (default ``$QLOCK_AUTHKEY``, else the file
    ``$QLOCK_AUTHKEY_FILE``), as the C library finds them.
    """

    def __init__(self, address=None, authkey=None):
        self._given_authkey = authkey
        self.address = _wire.find_address(address)
        self._authkey = _wire.find_authkey(authkey)
        self._local = threading.local()

    def __repr__(self):
        return "qlock.Client(%r)" % (self.address,)

    def __reduce__(self):
        return (_rebuild_client, (self.address, self._given_authkey))

    def connection(self, name=None):
        """This thread's connection, opened now if it has none (or if it
        was its parent's, before a fork); with a name, the connection
        that reaches the worker owning it (see _route)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.pid != os.getpid() or conn.sock is None:
            self._local.conn = None
            old = getattr(self._local, "route", None)
            if old is not None and old.pid != os.getpid():
                old = self._local.route = None      # a parent's
            members = self.address
            if old is not None:             # a cluster's, whose first broke
                # The members given, then the leaders' workers known
                # (any worker answers topology).
                members = ",".join([members] + [a for a in old.addrs if a])
            conn = _wire.connect_any(members, self._authkey)
            conn.route = _route.Route.ask(conn, conn.address)
            self._local.conn = conn
            self._local.route = None
            if conn.route is not None and conn.route.cluster:
                self._local.route = conn.route
                conn.route.token, conn.route.ids = self._token()
                if old is not None:
                    # Its connections to leaders still up stay: closing
                    # one would end its session there, and give back what
                    # the thread holds on that leader.
                    conn.route.adopt(old)
                _keeper.keeper().add(conn.route, self, self._thread_lock())
            elif old is not None:
                old.close()
        if name is None or conn.route is None:
            return conn
        return conn.route.connection(conn, name, self._authkey)

    def _thread_lock(self):
        # This thread's lock against the session keeper (_keeper.py).
        # A forked child gets a new one: the keeper may have held its
        # parent's at the fork.
        lock = getattr(self._local, "lock", None)
        if lock is None or lock[0] != os.getpid():
            lock = self._local.lock = (os.getpid(), threading.Lock())
        return lock[1]

    def _token(self):
        # This thread's session token in a cluster, random, and its msgid
        # counter: kept across reconnections (so sessions resume, and a
        # request sent again keeps its msgid), new in a forked child.
        tok = getattr(self._local, "token", None)
        if tok is None or tok[0] != os.getpid():
            tok = self._local.token = (os.getpid(), os.urandom(16),
                                       itertools.count(1))
        return tok[1], tok[2]

    def call(self, method, *params, undo=None):
        """One request on this thread's connection to the owner of the
        object it names: its result, or the qlock.errors exception for its
        error code."""
        name = params[0] if params and method not in _route.UNNAMED else None
        conn = getattr(self._local, "conn", None)
        if (conn is not None and conn.route is not None and
                conn.route.cluster and conn.pid == os.getpid()):
            return _route.follow(self, method, params, name, undo)
        # The thread's first call: a cluster's is followed too (the
        # connection for name is a leader's, whose route is None).
        first = self.connection()
        if first.route is not None and first.route.cluster:
            return _route.follow(self, method, params, name, undo)
        return self.connection(name).call(method, *params, undo=undo)

    def close(self):
        """Close this thread's connections: the daemon gives back what
        they held.  The next call opens a new one."""
        with self._thread_lock():
            conn = getattr(self._local, "conn", None)
            self._local.conn = None
            if conn is not None and conn.pid == os.getpid():
                if conn.route is not None:
                    conn.route.close()
                conn.close()

    def ping(self):
        """True if the daemon answers."""
        return self.call("ping") == "pong"

    def stats(self):
        """The daemon's counters, summed over its workers."""
        return self.call("stats")

    def delete(self, name):
        """Delete the object called ``name``."""
        self.call("delete", name)


_clients = {}
_clients_lock = threading.Lock()


def _rebuild_client(address, authkey):
    return get_client(address, authkey)


def get_client(address=None, authkey=None):
    """A shared Client for this address and key (the environment's for
    None), so that objects rebuilt from pickles share connections."""
    key = (_wire.find_address(address), authkey)
    with _clients_lock:
        c = _clients.get(key)
        if c is None:
            c = _clients[key] = Client(address, authkey)
        return c
