"""it_ha_records.py: a TCP proxy in front of a node's Raft ports that
tampers with established connections after the handshake (for
it_ha_records.sh).

usage: it_ha_records.py DIR LISTEN_BASE TARGET_BASE NPORTS

Listens on 127.0.0.1:LISTEN_BASE+i and forwards to 127.0.0.1:TARGET_BASE+i
(i < NPORTS), both ways.  The connector's handshake bytes (the hello, 58 +
its address length, then a 32-byte MAC) are passed as they are.  When
DIR/mode holds a mode, the proxy closes every connection it has (raft
reconnects) and applies the mode, once, to the first new connection that
sends enough bytes after its handshake:
  flip    flip one bit of the 7th byte (inside the first record)
  inject  insert a record of its own: length 16, 32 random bytes
  length  overwrite the first record's length with 0xffffffff
  replay  send the first record twice
  cut     pass 10 bytes, then close both sides (truncation)
  side-q  on a side stream (hello magic QLS1 or QLS2) only: flip one
          bit of the 7th byte after the handshake, connector to node (a
          question)
  side-a  the same, node to connector (an answer: after nonce_a, the MAC
          and "QLOK", 68 bytes)
then appends "MODE applied" to DIR/log and removes DIR/mode.  Ends when
DIR/stop exists (checked every 0.1 s), or after 600 s.
"""
import os
import selectors
import socket
import struct
import sys
import time

HELLO_FIXED = 58
MAC = 32
A_HS = 32 + MAC + 4
SIDE = ("side-q", "side-a")
REC_MAX = 64 * 1024

d, lbase, tbase, nports = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4])
sel = selectors.DefaultSelector()
conns = []


def log(msg):
    with open(os.path.join(d, "log"), "a") as f:
        f.write(msg + "\n")


class Conn:
    def __init__(self, c, s):
        self.c, self.s = c, s      # connector side, the node's side
        self.head = b""            # the connector's first bytes (hello)
        self.buf = b""             # connector bytes held back
        self.pos = 0               # connector bytes forwarded
        self.hs = None             # handshake length, once known
        self.mode = None           # armed on this connection
        self.done = False
        self.side = None           # hello magic QLS1 or QLS2, once known
        self.apos = 0              # node handshake bytes forwarded
        self.abuf = b""            # node bytes held back (side-a)
        for x in (c, s):
            x.setblocking(False)
            sel.register(x, selectors.EVENT_READ, self)

    def close(self):
        for x in (self.c, self.s):
            try:
                sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()
        if self in conns:
            conns.remove(self)

    def to_node(self, data):
        """Connector bytes on their way to the node: the handshake's as
        they come, then the mode's tampering, once."""
        if self.mode is None or self.done or (self.mode == "side-a" and
                                              self.hs is not None):
            return data
        self.buf += data
        if self.hs is None:
            self.head += data
            if len(self.head) < 26:
                out, self.buf = self.buf, b""
                self.pos += len(out)
                return out
            alen = struct.unpack(">H", self.head[24:26])[0]
            self.hs = HELLO_FIXED + alen + MAC
            self.side = self.head[:3] == b"QLS"
            if self.mode in SIDE and not self.side:
                self.mode = None   # another may still get it
            if self.mode != "side-q":
                out, self.buf = self.buf, b""
                self.pos += len(out)
                return out
        k = max(0, min(len(self.buf), self.hs - self.pos))
        out, rest = self.buf[:k], self.buf[k:]
        self.pos += k
        self.buf = rest
        if self.pos < self.hs:
            return out
        m = self.mode
        need = {"flip": 7, "side-q": 7, "inject": 0, "length": 4, "cut": 10}.get(m, 4)
        if m == "replay" and len(rest) >= 4:
            n = struct.unpack(">I", rest[:4])[0]
            need = 4 + n + 16 if n <= REC_MAX else 4
        if len(rest) < need:
            return out
        self.done = True
        self.buf = b""
        disarm(self)
        if m in ("flip", "side-q"):
            rest = rest[:6] + bytes([rest[6] ^ 0x20]) + rest[7:]
        elif m == "inject":
            rest = struct.pack(">I", 16) + os.urandom(32) + rest
        elif m == "length":
            rest = b"\xff\xff\xff\xff" + rest[4:]
        elif m == "replay":
            rest = rest[:need] + rest[:need] + rest[need:]
        elif m == "cut":
            rest = rest[:10]
        log("%s applied" % m)
        return out + rest


    def to_connector(self, data):
        """Node bytes on their way to the connector: with side-a on a
        side stream, the first record's 7th byte flipped, once (the
        handshake's bytes pass as they come)."""
        if self.mode != "side-a" or self.done or not self.side:
            return data
        k = max(0, min(len(data), A_HS - self.apos))
        out = data[:k]
        self.apos += k
        self.abuf += data[k:]
        if len(self.abuf) < 7:
            return out
        out += self.abuf[:6] + bytes([self.abuf[6] ^ 0x20]) + self.abuf[7:]
        self.abuf = b""
        self.done = True
        disarm(self)
        log("%s applied" % self.mode)
        return out


def disarm(applied):
    """The mode is applied on one connection: no other gets it."""
    global armed
    armed = None
    for cn in conns:
        if cn is not applied and not cn.done:
            cn.mode = None


def accept(lsock, i):
    c, _ = lsock.accept()
    try:
        s = socket.create_connection(("127.0.0.1", tbase + i), timeout=5)
    except OSError:
        c.close()
        return
    cn = Conn(c, s)
    cn.mode = armed
    conns.append(cn)


armed = None
listeners = {}
for i in range(nports):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", lbase + i))
    ls.listen(64)
    ls.setblocking(False)
    listeners[ls] = i
    sel.register(ls, selectors.EVENT_READ, None)
log("ready")
end = time.time() + 600
modef = os.path.join(d, "mode")
while time.time() < end and not os.path.exists(os.path.join(d, "stop")):
    if armed is None and os.path.exists(modef):
        with open(modef) as f:
            armed = f.read().strip() or None   # None: not written yet
        if armed is not None:
            os.unlink(modef)
            for cn in list(conns):
                cn.close()
    for key, _ in sel.select(0.1):
        if key.data is None:
            accept(key.fileobj, listeners[key.fileobj])
            continue
        cn = key.data
        if cn not in conns:
            continue
        try:
            data = key.fileobj.recv(65536)
        except OSError:
            data = b""
        if not data:
            if key.fileobj is cn.s and cn.done:
                log("%s: the node closed the connection" % cn.mode)
            cn.close()
            continue
        try:
            if key.fileobj is cn.c:
                out = cn.to_node(data)
                cn.s.settimeout(5)
                cn.s.sendall(out)
                cn.s.setblocking(False)
                if cn.done and cn.mode == "cut":
                    cn.close()
            else:
                data = cn.to_connector(data)
                cn.c.settimeout(5)
                cn.c.sendall(data)
                cn.c.setblocking(False)
        except OSError:
            cn.close()
