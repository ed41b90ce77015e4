"""it_python.py: a stock multiprocessing.connection.Client against qlockd.

Run by it_python.sh, which starts the daemon:

    it_python.py wait|modern|legacy-refused|legacy-ok PORT KEYFILE

Exit 0 when every check holds, 1 (with the reason on stderr) otherwise.
msgpack is encoded by hand: no third-party module is needed.
"""
import multiprocessing
import signal
import struct
import sys
import time
from multiprocessing.connection import Client

DEADLINE = 20  # seconds for the whole run: nothing here may hang


def pack(o):
    """Encode o (None, bool, int, float, str, bytes, list, dict) as msgpack."""
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 0x80:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack("b", o)
        if 0 <= o < 2**64:
            return b"\xcf" + struct.pack(">Q", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, float):
        return b"\xcb" + struct.pack(">d", o)
    if isinstance(o, str):
        b = o.encode()
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n < 2**8:
            return b"\xd9" + struct.pack(">B", n) + b
        if n < 2**16:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n < 2**8:
            return b"\xc4" + struct.pack(">B", n) + bytes(o)
        if n < 2**16:
            return b"\xc5" + struct.pack(">H", n) + bytes(o)
        return b"\xc6" + struct.pack(">I", n) + bytes(o)
    if isinstance(o, (list, tuple)):
        n = len(o)
        head = (bytes([0x90 | n]) if n < 16 else
                b"\xdc" + struct.pack(">H", n) if n < 2**16 else
                b"\xdd" + struct.pack(">I", n))
        return head + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        n = len(o)
        head = (bytes([0x80 | n]) if n < 16 else
                b"\xde" + struct.pack(">H", n) if n < 2**16 else
                b"\xdf" + struct.pack(">I", n))
        return head + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(type(o))


def unpack(b):
    """Decode exactly one msgpack value from b."""
    o, i = _unpack(b, 0)
    if i != len(b):
        raise ValueError("%d bytes after the value" % (len(b) - i))
    return o


def _unpack(b, i):
    t = b[i]
    i += 1
    if t < 0x80:
        return t, i
    if t >= 0xE0:
        return t - 0x100, i
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return b[i:i + n].decode(), i + n
    if 0x90 <= t <= 0x9F:
        return _seq(b, i, t & 0x0F)
    if 0x80 <= t <= 0x8F:
        return _map(b, i, t & 0x0F)
    fixed = {0xC0: None, 0xC2: False, 0xC3: True}
    if t in fixed:
        return fixed[t], i
    ints = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
            0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
            0xCA: ">f", 0xCB: ">d"}
    if t in ints:
        n = struct.calcsize(ints[t])
        return struct.unpack(ints[t], b[i:i + n])[0], i + n
    lens = {0xD9: (">B", "str"), 0xDA: (">H", "str"), 0xDB: (">I", "str"),
            0xC4: (">B", "bin"), 0xC5: (">H", "bin"), 0xC6: (">I", "bin"),
            0xDC: (">H", "arr"), 0xDD: (">I", "arr"),
            0xDE: (">H", "map"), 0xDF: (">I", "map")}
    if t in lens:
        fmt, kind = lens[t]
        w = struct.calcsize(fmt)
        n = struct.unpack(fmt, b[i:i + w])[0]
        i += w
        if kind == "str":
            return b[i:i + n].decode(), i + n
        if kind == "bin":
            return bytes(b[i:i + n]), i + n
        if kind == "arr":
            return _seq(b, i, n)
        return _map(b, i, n)
    raise ValueError("unsupported msgpack type 0x%02x" % t)


def _seq(b, i, n):
    out = []
    for _ in range(n):
        o, i = _unpack(b, i)
        out.append(o)
    return out, i


def _map(b, i, n):
    out = {}
    for _ in range(n):
        k, i = _unpack(b, i)
        v, i = _unpack(b, i)
        out[k] = v
    return out, i


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def call(conn, msgid, method, params):
    conn.send_bytes(pack([0, msgid, method, params]))
    return unpack(conn.recv_bytes())


def connect(port, key):
    return Client(("127.0.0.1", port), authkey=key)


def wait_ready(port, key):
    """Retry connect + ping until the daemon answers (bounded)."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with connect(port, key) as c:
                if call(c, 1, "ping", []) == [1, 1, None, "pong"]:
                    return 0
        except (OSError, EOFError):
            pass
        time.sleep(0.05)
    print("qlockd not ready on port %d" % port, file=sys.stderr)
    return 1


def modern(port, key):
    check(sys.version_info >= (3, 12), "modern mode needs Python >= 3.12")
    with connect(port, key) as c:
        r = call(c, 1, "ping", [])
        check(r == [1, 1, None, "pong"], "ping answered %r" % (r,))
        r = call(c, 2, "no.such.method", [])
        check(r[:2] == [1, 2] and isinstance(r[2], list) and
              r[2][0] == "NoMethod" and r[3] is None,
              "unknown method answered %r" % (r,))
        # The connection is still usable after the error.
        check(call(c, 3, "ping", []) == [1, 3, None, "pong"],
              "ping after NoMethod failed")
        # Items are any msgpack value, returned byte for byte.
        for n, item in enumerate([b"\x00\x01bin\x00", "text", [1, "two", None],
                                  {"k": 1.5}, -7, 2**40]):
            r = call(c, 10 + n, "queue.put", ["py-q", item, 0])
            check(r == [1, 10 + n, None, None], "put %r: %r" % (item, r))
            r = call(c, 20 + n, "queue.get", ["py-q", 0])
            check(r == [1, 20 + n, None, item], "get %r back: %r" % (item, r))
        r = call(c, 30, "queue.get", ["py-q", 0.2])
        check(r[2] is not None and r[2][0] == "Empty",
              "timed get on empty: %r" % (r,))
        r = call(c, 31, "stats", [])
        check(isinstance(r[3], dict) and r[3].get("workers") == 2,
              "stats: %r" % (r,))
    try:
        connect(port, b"not the key").close()
        check(False, "a wrong key was accepted")
    except multiprocessing.AuthenticationError:
        pass


def legacy(port, key, allowed):
    check(sys.version_info < (3, 12), "legacy mode needs Python <= 3.11")
    try:
        c = connect(port, key)
    except multiprocessing.AuthenticationError as e:
        check(not allowed, "legacy HMAC-MD5 refused despite "
              "--auth-legacy-md5: %s" % e)
        return
    with c:
        check(allowed, "legacy HMAC-MD5 client accepted without "
              "--auth-legacy-md5")
        r = call(c, 1, "ping", [])
        check(r == [1, 1, None, "pong"], "legacy ping answered %r" % (r,))


def main():
    signal.alarm(DEADLINE)  # SIGALRM's default action ends a hung run
    mode, port = sys.argv[1], int(sys.argv[2])
    with open(sys.argv[3], "rb") as f:
        key = f.read()
    if key.endswith(b"\n"):
        key = key[:-1]
    if mode == "wait":
        return wait_ready(port, key)
    if mode == "modern":
        modern(port, key)
    elif mode == "legacy-refused":
        legacy(port, key, False)
    elif mode == "legacy-ok":
        legacy(port, key, True)
    else:
        print("unknown mode " + mode, file=sys.stderr)
        return 2
    print("%s (Python %s): %s" % (mode, sys.version.split()[0],
                                  "FAIL" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
