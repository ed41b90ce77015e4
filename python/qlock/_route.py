"""Direct routing: each named request goes to the worker that owns it.

qlockd's ``topology`` request gives the shard count, the hash rule and
each shard's own address (docs/PROTOCOL.md, "Routing").  A thread's first
connection asks for it once; a request for a name owned elsewhere then
goes over a connection to that owner's address, opened at first use with
the same key.  Each connection is a session of the daemon's, and a name
always takes the same one, so holds are given back when the process dies
exactly as without routing.  A daemon without ``topology``, one worker,
``QLOCK_ROUTE=0``, or an owner that cannot be reached directly: the
request goes over the first connection and the daemon forwards it.

In a cluster (the topology names ``leaders``) the owners are the shards'
leaders, and a Client follows them (:func:`follow`): NotLeader (nothing
was done) sends the request again to the leader the error names, or to
the one the topology names once there is one; a connection that cannot be
opened is tried elsewhere (nothing was sent); a connection lost once the
request was sent raises ConnError (its outcome is unknown: never sent
twice) and the next call finds the leaders again.
"""
import os
import time

from . import _wire, errors

UNNAMED = frozenset(("ping", "stats", "list", "topology", "session.resume"))
SHARD_CACHE = 4096              # names whose shard a Route remembers


def fnv1a64(data):
    """64-bit FNV-1a, the daemon's shard hash."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def shard_of(name, nshards):
    """The shard owning name: the hash of its hash tag (the text inside
    the first ``{...}``, when not empty) or of the whole name."""
    b = name.encode() if isinstance(name, str) else bytes(name)
    i = b.find(b"{")
    if i != -1:
        j = b.find(b"}", i + 1)
        if j > i + 1:
            b = b[i + 1:j]
    return fnv1a64(b) % nshards


def _direct(address, addrs):
    # A shard's own address for a client that reached the daemon at
    # address: the first of the same kind, with the client's host.
    for a in addrs:
        if address.startswith("unix:"):
            if a.startswith("unix:"):
                return a
        elif not a.startswith("unix:"):
            return address.rpartition(":")[0] + ":" + a.rpartition(":")[2]
    return None


def _leader(address, addrs):
    # A leader's address in a cluster: the first of the kind of address,
    # as advertised (each leader's host is its own).
    for a in addrs:
        if a.startswith("unix:") == address.startswith("unix:"):
            return a
    return None


class Route:
    """The daemon's layout as one thread's first connection learnt it,
    and that thread's connections to the owners it used."""

    def __init__(self, nshards, shard, addrs):
        self.nshards = nshards
        self.shard = shard              # the shard the first one reaches
        self.addrs = addrs              # [shard] -> address or None
        self.owners = {}                # shard -> Connection
        self.next = {}                  # shard -> leader named since
        self.shards = {}                # name -> shard, names seen lately
        self.cluster = False            # a cluster's: follow the leaders
        self.stale = False              # ask topology before the next call
        self.token = None               # a cluster's: the session token
        self.ids = None                 # and the thread's msgid counter
        self.pid = os.getpid()
        self.address = None             # where the first one reached it

    @classmethod
    def ask(cls, conn, address):
        """The Route for conn, or None (no routing)."""
        if os.environ.get("QLOCK_ROUTE") in ("0", "off"):
            return None
        try:
            t = conn.call("topology")
        except errors.ProtoError:       # an older daemon: NoMethod
            return None
        return cls.parse(t, address)

    @classmethod
    def parse(cls, t, address):
        """The Route a topology answer t describes, or None."""
        try:
            n, shard = t["shards"], t["shard"]
            leaders = t.get("leaders")
            if (n < (1 if leaders is not None else 2) or
                    t["hash"] != "fnv1a-64" or len(t["addrs"]) != n or
                    (leaders is not None and len(leaders) != n)):
                return None
            if leaders is not None:
                # Every shard, the first connection's own included, gets
                # a connection to its leader, bound to the session token.
                addrs = [_leader(address, a) for a in t["addrs"]]
            else:
                addrs = [None if i == shard else _direct(address, a)
                         for i, a in enumerate(t["addrs"])]
        except (KeyError, TypeError):
            return None
        route = cls(n, shard, addrs)
        route.cluster = leaders is not None
        route.address = address
        return route

    def shard_for(self, name):
        """The shard owning name."""
        shard = self.shards.get(name)
        if shard is None:
            # The hash is a Python loop over the name's bytes: remember it
            # (a bounded number of names).
            if len(self.shards) >= SHARD_CACHE:
                self.shards.clear()
            shard = self.shards[name] = shard_of(name, self.nshards)
        return shard

    def close(self):
        """Close the connections to the owners."""
        for conn in self.owners.values():
            conn.close()
        self.owners.clear()

    def adopt(self, old):
        """Take over the connections of old (the same thread's Route
        before its first connection broke) that are still open (see
        carry)."""
        if old.nshards == self.nshards:
            self.carry(old.owners, old.addrs)
        else:
            old.close()
        old.owners.clear()

    def refresh(self, first, address):
        """Ask first for the topology again and take its leaders, keeping
        the connections open (see carry); False if it failed."""
        try:
            new = Route.parse(first.call("topology"), address)
        except errors.Error:
            new = None
        if new is None or not new.cluster or new.nshards != self.nshards:
            self.stale = True
            return False
        self.shard = new.shard
        owners, addrs = self.owners, self.addrs
        self.owners, self.addrs, self.next = {}, new.addrs, {}
        self.carry(owners, addrs)
        self.stale = False
        return True

    def carry(self, owners, addrs):
        """Keep owners (shard -> connection to the leader at addrs[shard])
        that are open, whatever this route's topology says: closing one
        would end its session on a leader that may well be alive, and
        with it what the session holds.  A member in an election, just
        started, or cut off from a shard's leader names none for it, or
        one that was; so a shard named without a leader keeps its own,
        and one named with another is moved there by the next request
        (leader)."""
        for shard, conn in owners.items():
            if conn.sock is None or not conn.alive():
                conn.close()
                continue
            named = self.addrs[shard]
            if named is not None and named != conn.address:
                self.next[shard] = named
            self.addrs[shard] = conn.address
            self.owners[shard] = conn

    def point(self, shard, addr):
        """Send shard's requests to addr from now on."""
        self.next.pop(shard, None)
        if self.addrs[shard] != addr:
            conn = self.owners.pop(shard, None)
            if conn is not None:
                conn.close()
            self.addrs[shard] = addr

    def leader(self, first, name, authkey):
        """The connection to the leader of name's shard (first if it has
        no address): opened now if needed; ConnError if it cannot be,
        NotLeaderError if it is not the leader's (nothing was sent)."""
        shard = self.shard_for(name)
        conn = self.owners.get(shard)
        to = self.next.pop(shard, None)
        if conn is not None and conn.sock is not None:
            if to is None:
                return conn
            # The topology named another leader: the session moves there
            # once bound, and only then is the old connection closed; one
            # that cannot be had (it broke, or does not lead: the member
            # asked lagged) leaves the old one the shard's while open.
            try:
                new = self._open(to, authkey)
            except (errors.ConnError, errors.NotLeaderError):
                if conn.alive():
                    return conn
                conn.close()
                self.addrs[shard] = to
                raise
            conn.close()
            self.addrs[shard] = to
            self.owners[shard] = new
            return new
        addr = self.addrs[shard]
        if addr is None:
            return first
        conn = self.owners[shard] = self._open(addr, authkey)
        return conn

    def _open(self, addr, authkey):
        # A connection to the owner at addr; in a cluster, bound to the
        # session token.
        conn = _wire.Connection(addr, authkey)
        conn.ids = self.ids
        if self.cluster and self.token is not None:
            self._bind(conn, self.token)
        return conn

    @staticmethod
    def _bind(conn, token):
        # The session of a new connection to a leader takes the token
        # (session.resume; docs/PROTOCOL.md, "Sessions", "Across a
        # failover"): what this thread held on a leader that died is its
        # again on the new one within the grace period.  An older daemon
        # (NoMethod) or a refused token: served as before, without resume
        # (None is returned; else the answer).  conn.resumed_last: the
        # msgid of the request whose reply the daemon kept for the resumed
        # session, else None.
        conn.resumed_last = None
        try:
            r = conn.call("session.resume", token)
        except (errors.NotLeaderError, errors.ConnError):
            conn.close()
            raise
        except errors.Error:
            return None
        if isinstance(r, dict) and r.get("resumed") and isinstance(
                r.get("last"), int):
            conn.resumed_last = r["last"]
        return r

    def connection(self, first, name, authkey):
        """The connection for requests about name."""
        if self.cluster:
            try:
                return self.leader(first, name, authkey)
            except errors.ConnError:
                self.stale = True       # the next call looks again
                return first
        try:
            return self.leader(first, name, authkey)
        except errors.ConnError:
            # Not reachable directly: through the first connection for
            # good, so that all of this shard's requests share a session.
            self.addrs[self.shard_for(name)] = None
            return first


FOLLOW_WAIT = 10.0      # s: how long one call follows leaders
FOLLOW_TRIES = 100      # and at most that many sends or connects
BACKOFF_MIN, BACKOFF_MAX = 0.05, 0.2

# Where a blocking method's timeout is among its parameters: a request
# sent again waits only what is left of it.
TIMEOUT_AT = {"queue.put": 2, "queue.get": 1, "queue.join": 1,
              "lock.acquire": 1, "sem.acquire": 1, "event.wait": 1,
              "cond.acquire": 1, "cond.wait": 1, "barrier.wait": 1}


def _named_leader(message, address):
    # "shard G: leader is node N at ADDR": ADDR, if of address's kind.
    head, sep, addr = message.partition(": leader is node ")
    if not sep or " at " not in addr:
        return None
    addr = addr.partition(" at ")[2].strip()
    if not addr or addr.startswith("unix:") != address.startswith("unix:"):
        return None
    return addr


def _follow_named(route, first, name, e):
    # NotLeader (nothing done): look for the leaders again before the next
    # try, and send name's requests to the leader the error names, if any.
    route.stale = True
    addr = _named_leader(e.message or "", first.address)
    if name is not None and addr is not None:
        route.point(route.shard_for(name), addr)


def _pick(client, name, resend, tries):
    """The connection for one try of follow: (conn, route, first).
    Raises the error that stops this try (NotLeader, ConnError: nothing
    was sent); conn None: this try cannot send the lost request resend
    (no leader known yet, when route is a cluster's; else give up)."""
    first = client.connection()         # again to a member if it broke
    route = first.route
    if route is None or not route.cluster:
        if resend is not None:
            return None, route, first
        return (first if name is None else client.connection(name),
                route, first)
    if route.stale or tries:
        route.refresh(first, first.address)
    try:
        conn = first if name is None else route.leader(first, name,
                                                       client._authkey)
    except errors.NotLeaderError as e:
        # Its session could not be bound: nothing was sent.
        _follow_named(route, first, name, e)
        raise
    except errors.ConnError:
        route.stale = True              # not sent: look again
        raise
    if resend is not None:
        if conn is first:
            route.stale = True          # no leader known yet
            return None, route, first
        last = getattr(conn, "resumed_last", None)
        if last is None or last > resend:
            return None, None, first
    if not conn.alive():
        # Closed while idle (its node died): not sent, go elsewhere.
        conn.close()
        route.stale = True
        raise errors.ConnError("Conn", "connection closed by qlockd")
    return conn, route, first


def follow(client, method, params, name, undo):
    """One request of client's in a cluster, to the current leader of the
    shard that owns name (None: any member): NotLeader, or a connection
    that cannot be opened, sends it again, for at most FOLLOW_WAIT
    seconds.  A connection to a leader lost once the request was sent: it
    is sent again, once, under the same msgid, on the new connection of a
    session that resumed with no later reply kept (the daemon answers
    from the reply it kept, or does it now: it was never done); else
    ConnError (its outcome is unknown)."""
    start = time.monotonic()
    backoff = BACKOFF_MIN
    at = TIMEOUT_AT.get(method)
    err = None
    resend = None                           # the lost request's msgid
    lock = client._thread_lock()
    for tries in range(FOLLOW_TRIES):
        if tries:
            if time.monotonic() - start >= FOLLOW_WAIT:
                break
            time.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
        # Picking the connection excludes the session keeper (_keeper.py);
        # the call itself marks it busy instead.
        with lock:
            try:
                conn, route, first = _pick(client, name, resend, tries)
            except (errors.ConnError, errors.NotLeaderError) as e:
                err = e
                continue
            if conn is None:
                if resend is not None and route is not None and route.cluster:
                    continue
                break
            if route is None or not route.cluster:
                # A member that does not route: as without a cluster.
                return conn.call(method, *params, undo=undo)
            conn.busy = True
        p = list(params)
        if (at is not None and at < len(p) and type(p[at]) in (int, float)
                and p[at] > 0):
            p[at] = max(p[at] - (time.monotonic() - start), 0.0)
        try:
            return conn.call(method, *p, undo=undo, msgid=resend)
        except errors.NotLeaderError as e:
            # Nothing was done: to the leader it names, else to the one the
            # topology names once there is one.
            err = e
            with lock:
                _follow_named(route, first, name, e)
        except errors.ConnError:
            # Sent: its outcome is unknown.  Sent again once on a resumed
            # session's connection (above); else never sent twice, and
            # the next call finds the leaders (and a member) again.
            route.stale = True
            if conn is first or resend is not None:
                raise
            resend = conn.msgid
        finally:
            conn.busy = False
    if resend is not None:
        raise errors.ConnError(
            "Conn", "the connection to the leader broke with the request "
            "in flight and its session did not resume: its outcome is "
            "unknown")
    raise err
