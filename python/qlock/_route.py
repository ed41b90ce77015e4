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
"""
import os

from . import _wire, errors

UNNAMED = frozenset(("ping", "stats", "list", "topology"))
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


class Route:
    """The daemon's layout as one thread's first connection learnt it,
    and that thread's connections to the owners it used."""

    def __init__(self, nshards, shard, addrs):
        self.nshards = nshards
        self.shard = shard              # the shard the first one reaches
        self.addrs = addrs              # [shard] -> address or None
        self.owners = {}                # shard -> Connection
        self.shards = {}                # name -> shard, names seen lately

    @classmethod
    def ask(cls, conn, address):
        """The Route for conn, or None (no routing)."""
        if os.environ.get("QLOCK_ROUTE") in ("0", "off"):
            return None
        try:
            t = conn.call("topology")
        except errors.ProtoError:       # an older daemon: NoMethod
            return None
        try:
            n, shard = t["shards"], t["shard"]
            if n < 2 or t["hash"] != "fnv1a-64" or len(t["addrs"]) != n:
                return None
            addrs = [None if i == shard else _direct(address, a)
                     for i, a in enumerate(t["addrs"])]
        except (KeyError, TypeError):
            return None
        return cls(n, shard, addrs)

    def connection(self, first, name, authkey):
        """The connection for requests about name."""
        shard = self.shards.get(name)
        if shard is None:
            # The hash is a Python loop over the name's bytes: remember it
            # (a bounded number of names).
            if len(self.shards) >= SHARD_CACHE:
                self.shards.clear()
            shard = self.shards[name] = shard_of(name, self.nshards)
        conn = self.owners.get(shard)
        if conn is not None and conn.sock is not None:
            return conn
        addr = self.addrs[shard]
        if addr is None:
            return first
        try:
            conn = _wire.Connection(addr, authkey)
        except errors.ConnError:
            # Not reachable directly: through the first connection for
            # good, so that all of this shard's requests share a session.
            self.addrs[shard] = None
            return first
        self.owners[shard] = conn
        return conn
