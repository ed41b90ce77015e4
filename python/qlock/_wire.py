"""The wire: addresses, authkeys, frames, the handshake and msgpack-RPC.

One :class:`Connection` is one authenticated socket to qlockd
(docs/PROTOCOL.md).  Frames are those of ``multiprocessing.connection``
(a 4-byte big-endian length, then the body); the handshake is the
HMAC-SHA256 challenge of Python 3.12, spoken here so that every Python
from 3.9 on authenticates against a daemon started with defaults.
"""
import hmac
import math
import os
import select
import socket
import struct
import time

import msgpack

from . import errors

DEFAULT_ADDRESS = "127.0.0.1:7450"
AUTHKEY_MAX = 1024          # as libqlock's AUTH_KEY_MAX
HANDSHAKE_MAX = 256         # largest handshake frame the daemon reads
CHALLENGE = b"#CHALLENGE#"
WELCOME = b"#WELCOME#"
FAILURE = b"#FAILURE#"
DIGEST = b"{sha256}"
NONCE_LEN = 40
TIMEOUT_MAX = 1e9           # the daemon refuses larger finite timeouts
CONNECT_TIMEOUT = 10.0      # as libqlock's QLOCK_CONNECT_TIMEOUT_DEFAULT
KEEPALIVE = 30              # as libqlock's QLOCK_KEEPALIVE_DEFAULT


def find_address(address=None):
    """The address given, else $QLOCK_ADDRESS, else 127.0.0.1:7450."""
    if not address:
        address = os.environ.get("QLOCK_ADDRESS") or DEFAULT_ADDRESS
    return address


def split_addresses(address):
    """The members an address lists, comma-separated, in order: each
    piece after the first looks like an address (``unix:`` or a colon);
    else (a unix socket path with a comma) it is one address."""
    if "," not in address:
        return [address]
    pieces = [a.strip() for a in address.split(",")]
    if any(not a.startswith("unix:") and ":" not in a for a in pieces[1:]):
        return [address]
    return [a for a in pieces if a]


def connect_any(address, authkey):
    """A Connection to the first of address's members that completes the
    handshake (each within the connect timeout); the last error if none
    does."""
    members = split_addresses(address)
    if len(members) == 1:
        return Connection(members[0], authkey)
    err = None
    for a in members:
        try:
            return Connection(a, authkey)
        except (errors.ConnError, errors.AuthError, ValueError) as e:
            err = e
    if err is None:
        raise ValueError("%s: no address" % address)
    raise err


def find_authkey(authkey=None):
    """The key given, else $QLOCK_AUTHKEY, else the bytes of the file
    $QLOCK_AUTHKEY_FILE names with one trailing newline dropped (as
    libqlock finds it).  An empty key is refused."""
    if authkey is None:
        env = os.environ.get("QLOCK_AUTHKEY")
        if env:
            authkey = os.fsencode(env)
    if authkey is None:
        path = os.environ.get("QLOCK_AUTHKEY_FILE")
        if not path:
            raise errors.AuthError(
                "Auth", "no authkey: set QLOCK_AUTHKEY or QLOCK_AUTHKEY_FILE")
        try:
            with open(path, "rb") as f:
                authkey = f.read(AUTHKEY_MAX + 2)
        except OSError as e:
            raise errors.AuthError("Auth", "%s: %s" % (path, e)) from None
        if authkey.endswith(b"\n"):
            authkey = authkey[:-1]
    if isinstance(authkey, str):
        authkey = authkey.encode()
    authkey = bytes(authkey)
    if not authkey:
        raise errors.AuthError("Auth", "empty authkey refused")
    if len(authkey) > AUTHKEY_MAX:
        raise errors.AuthError(
            "Auth", "authkey longer than %d bytes" % AUTHKEY_MAX)
    return authkey


def find_connect_timeout():
    """Seconds connecting and the handshake may take: $QLOCK_CONNECT_TIMEOUT,
    else 10; None for no limit (0, negative or infinite), as libqlock."""
    env = os.environ.get("QLOCK_CONNECT_TIMEOUT")
    if not env:
        return CONNECT_TIMEOUT
    try:
        t = float(env)
    except ValueError:
        t = math.nan
    if math.isnan(t):
        raise errors.InvalError("Inval", "QLOCK_CONNECT_TIMEOUT: not a "
                                "number of seconds: %s" % env)
    return t if 0 < t < math.inf else None


def keepalive_seconds():
    """Idle seconds before probing the daemon: $QLOCK_KEEPALIVE (0: never),
    else KEEPALIVE; as libqlock, a bad value means the default."""
    try:
        v = int(os.environ.get("QLOCK_KEEPALIVE", ""))
    except ValueError:
        return KEEPALIVE
    return v if 0 <= v <= 7200 else KEEPALIVE


def set_keepalive(s, idle):
    """Probe a silent daemon after idle seconds, every idle/3, and give up
    after 3 probes (as libqlock and the daemon do): a call blocked on a
    host that vanished fails instead of waiting for ever."""
    if idle <= 0:
        return
    intvl = max(1, idle // 3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT,
                     (idle + 3 * intvl) * 1000)


def open_socket(address, timeout=None):
    """A connected stream socket to HOST:PORT, [V6]:PORT or unix:/PATH,
    within timeout seconds (None: no limit); left blocking."""
    try:
        if address.startswith("unix:"):
            path = address[5:]
            if not path:
                raise ValueError("%s: no socket path" % address)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(timeout)
                s.connect(path)
                s.settimeout(None)
            except BaseException:
                s.close()
                raise
            return s
        if address.startswith("["):
            host, sep, port = address[1:].partition("]:")
            if not sep:
                raise ValueError("%s: expected [V6]:PORT" % address)
        else:
            host, sep, port = address.rpartition(":")
            if not sep:
                raise ValueError("%s: expected HOST:PORT, [V6]:PORT or "
                                 "unix:/PATH" % address)
            if ":" in host:
                raise ValueError("%s: an IPv6 address goes in brackets: "
                                 "[V6]:PORT" % address)
        if not host or not port:
            raise ValueError("%s: expected HOST:PORT" % address)
        s = socket.create_connection((host, int(port)), timeout)
        s.settimeout(None)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        set_keepalive(s, keepalive_seconds())
        return s
    except socket.timeout:
        raise errors.ConnError("Conn", "%s: not connected within the connect "
                               "timeout of %g s" % (address, timeout)) from None
    except OSError as e:
        raise errors.ConnError("Conn", "%s: %s" % (address, e)) from None


def _pack_default(obj):
    raise TypeError("cannot encode %r" % type(obj).__name__)


class Connection:
    """One authenticated connection: a session of the daemon.

    Calls are made one at a time (a Connection belongs to one thread of
    one process).  A call interrupted by KeyboardInterrupt is withdrawn
    as well as the wire allows: see :meth:`call`.
    """

    def __init__(self, address, authkey):
        self.address = address
        self.pid = os.getpid()
        timeout = find_connect_timeout()
        start = time.monotonic()
        self.sock = open_socket(address, timeout)
        self.rbuf = bytearray()
        self.msgid = 0
        self.ids = None             # a thread's shared msgid counter (in
                                    # a cluster: ids never reused)
        self.holds = 0              # what this session holds, as we count
        self.busy = False           # in a call (the keeper keeps off)
        self.abandoned = {}         # msgid -> undo(result, error) or None
        self.route = None           # _route.Route of a thread's first one
        self.packer = msgpack.Packer(use_bin_type=True,
                                     default=_pack_default)
        try:
            if timeout is not None:
                # What is left of it bounds each read of the handshake.
                self.sock.settimeout(
                    max(timeout - (time.monotonic() - start), 0.001))
            try:
                self._handshake(authkey)
            except socket.timeout:
                raise errors.ConnError(
                    "Conn", "no handshake from qlockd within the connect "
                    "timeout of %g s" % timeout) from None
            self.sock.settimeout(None)
        except BaseException:
            self.close()
            raise

    def __del__(self):
        # A thread that ends drops its connection: close it (in a forked
        # child this closes only the child's copy of the parent's socket).
        if getattr(self, "sock", None) is not None:
            self.sock.close()

    # Frames.

    def close(self):
        """Close the socket; the daemon gives back what the session held."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def alive(self):
        """False if qlockd closed the connection (seen without waiting):
        a request not sent yet can go elsewhere."""
        if self.sock is None:
            return False
        try:
            r, _, _ = select.select([self.sock], [], [], 0)
            if not r:
                return True
            return bool(self.sock.recv(1, socket.MSG_PEEK |
                                       socket.MSG_DONTWAIT))
        except BlockingIOError:
            return True
        except OSError:
            return False

    def _send(self, body):
        if self.sock is None:
            raise errors.ConnError("Conn", "connection closed")
        try:
            self.sock.sendall(struct.pack("!i", len(body)) + body)
        except BaseException as e:
            # A frame cut short leaves the stream unusable.
            self.close()
            if isinstance(e, OSError):
                raise errors.ConnError("Conn", str(e)) from None
            raise

    def _fill(self, n):
        # Buffered: a read interrupted by a signal loses nothing.
        while len(self.rbuf) < n:
            if self.sock is None:
                raise errors.ConnError("Conn", "connection closed")
            try:
                chunk = self.sock.recv(max(65536, n - len(self.rbuf)))
            except socket.timeout as e:
                self.close()
                if e.errno is None:
                    raise           # only the handshake has a timeout
                # ETIMEDOUT from the kernel (keepalive gave up, also a
                # TimeoutError): the connection is dead.
                raise errors.ConnError("Conn", str(e)) from None
            except OSError as e:
                self.close()
                raise errors.ConnError("Conn", str(e)) from None
            if not chunk:
                self.close()
                raise errors.ConnError("Conn", "connection closed by qlockd")
            self.rbuf += chunk

    def _recv(self, limit=None):
        self._fill(4)
        (n,) = struct.unpack("!i", self.rbuf[:4])
        if n < 0 or (limit is not None and n > limit):
            self.close()
            raise errors.ProtoError("Proto", "bad frame length %d" % n)
        self._fill(4 + n)
        body = bytes(self.rbuf[4:4 + n])
        del self.rbuf[:4 + n]
        return body

    # The handshake, client side, as Python 3.12's answer_challenge then
    # deliver_challenge.

    def _handshake(self, key):
        msg = self._recv(HANDSHAKE_MAX)
        if not msg.startswith(CHALLENGE + DIGEST):
            raise errors.AuthError("Auth", "unexpected challenge from qlockd")
        msg = msg[len(CHALLENGE):]
        self._send(DIGEST + hmac.new(key, msg, "sha256").digest())
        if self._recv(HANDSHAKE_MAX) != WELCOME:
            raise errors.AuthError("Auth", "authkey refused by qlockd")
        mine = DIGEST + os.urandom(NONCE_LEN)
        self._send(CHALLENGE + mine)
        want = DIGEST + hmac.new(key, mine, "sha256").digest()
        if not hmac.compare_digest(self._recv(HANDSHAKE_MAX), want):
            self._send(FAILURE)
            raise errors.AuthError("Auth", "qlockd does not know the authkey")
        self._send(WELCOME)

    # msgpack-RPC.

    def _request(self, method, params, msgid=None):
        if msgid is not None:
            self.msgid = msgid      # sent again (_route.follow)
        elif self.ids is not None:
            self.msgid = next(self.ids)
        else:
            self.msgid = (self.msgid + 1) & 0xFFFFFFFF or 1
        self._send(self.packer.pack([0, self.msgid, method, params]))
        return self.msgid

    def _reply(self):
        body = self._recv()
        try:
            msg = msgpack.unpackb(body, raw=False, strict_map_key=False,
                                  ext_hook=_ext_hook)
            kind, msgid, error, result = msg
        except (ValueError, TypeError, msgpack.UnpackException):
            self.close()
            raise errors.ProtoError("Proto", "malformed reply") from None
        if kind != 1:
            self.close()
            raise errors.ProtoError("Proto", "not a reply: %r" % (kind,))
        return msgid, error, result

    def call(self, method, *params, undo=None, msgid=None):
        """Send one request and return its result, or raise its error.

        Ctrl-C while the reply is awaited withdraws the request: if the
        session holds nothing the connection is closed (the daemon drops
        the parked request); else the request stays parked and ``undo``
        (if any) is called with its late reply, to give back what it took.
        """
        msgid = self._request(method, list(params), msgid)
        try:
            while True:
                rid, error, result = self._reply()
                if rid == msgid:
                    break
                self._late(rid, error, result)
        except KeyboardInterrupt:
            if method in CANCELLABLE and self.sock is not None:
                self._cancel(params[0], msgid, undo)
            elif self.holds <= 0 or self.sock is None:
                self.close()
            else:
                self.abandoned[msgid] = undo
            raise
        if error is not None:
            raise errors.from_wire(error)
        return result

    def _cancel(self, name, msgid, undo):
        # Withdraw the parked request msgid with a cancel request and read
        # both answers; if the daemon answered it first, undo what it did.
        # A daemon without cancel (NoMethod), or a second Ctrl-C, falls
        # back to closing (holding nothing) or to undoing late.
        answer = None
        try:
            cid = self._request("cancel", [name, msgid])
            while True:
                rid, error, result = self._reply()
                if rid == msgid:
                    answer = (error, result)
                elif rid == cid:
                    break
                else:
                    self._late(rid, error, result)
        except (KeyboardInterrupt, errors.Error):
            error = ("Interrupted", "")
        if error is None and result:            # cancelled
            if answer is None:                  # its answer is yet to come
                self.abandoned[msgid] = None
            return
        if answer is not None:                  # answered before the cancel
            if undo is not None and answer[0] is None:
                undo(self, None, answer[1])
            return
        if self.holds <= 0 or self.sock is None:
            self.close()
        else:
            self.abandoned[msgid] = undo

    def _late(self, rid, error, result):
        # The reply to a request given up earlier: undo what it did.
        if rid not in self.abandoned:
            if rid == 0 and error is not None:
                raise errors.from_wire(error)
            return
        undo = self.abandoned.pop(rid)
        if undo is not None:
            undo(self, error, result)

    def forget(self, method, *params):
        """Send a request whose reply is read and dropped later."""
        self.abandoned[self._request(method, list(params))] = None


# Parked requests the daemon's cancel withdraws exactly.  A cond.wait's
# cancel is answered once the lock is held again: Ctrl-C in a wait then
# raises with the lock held, as threading's Condition.wait does.
CANCELLABLE = frozenset(("queue.get", "queue.put", "queue.join",
                         "lock.acquire", "sem.acquire", "event.wait",
                         "cond.acquire", "cond.wait", "barrier.wait"))


# Items and values.  Scalars travel as msgpack's own (so that libqlock and
# qlock(1) share them); anything else is pickled into ext type 1.
EXT_PICKLE = 1


def _ext_hook(code, data):
    if code == EXT_PICKLE:
        import pickle
        return pickle.loads(data)
    return msgpack.ExtType(code, data)


def encode(obj):
    """An item as it goes on the wire."""
    t = type(obj)
    if obj is None or t in (bool, float, str, bytes):
        return obj
    if t is int and -2**63 <= obj < 2**64:
        return obj
    import pickle
    return msgpack.ExtType(EXT_PICKLE,
                           pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))


def timeout(block=True, timeout=None):
    """multiprocessing's (block, timeout) as the wire's seconds: None
    waits forever (-1), block=False or a negative timeout does not wait."""
    if not block:
        return 0
    if timeout is None:
        return -1
    timeout = float(timeout)
    if timeout != timeout:
        raise ValueError("timeout is NaN")
    if timeout <= 0:
        return 0
    if timeout > TIMEOUT_MAX:
        return -1
    return timeout
