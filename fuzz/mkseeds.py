#!/usr/bin/env python3
"""mkseeds.py: write the seed corpora in fuzz/corpus/<target>/ (docs/FUZZING.md).

Each seed is a small, valid (or nearly valid) input in the format its target
reads; the fuzzer mutates from there.  Run it again after changing a
target's input format:  python3 fuzz/mkseeds.py   (needs python3-msgpack).
"""
import hashlib
import os
import struct
import sys
import zlib

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):       # others: inputs that found bugs
            os.remove(os.path.join(d, f))
    for s in seeds:
        name = "seed-" + hashlib.sha1(s).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(s)


def frame(body):
    return struct.pack(">i", len(body)) + body


def req(msgid, method, params):
    return msgpack.packb([0, msgid, method, params], use_bin_type=True)


# --- frame: headers and bodies as a connection reads them -------------------
write("frame", [
    frame(b"hello"),
    frame(b"") + frame(b"x" * 10),
    struct.pack(">i", -1) + struct.pack(">q", 5) + b"12345",  # Python's escape
    struct.pack(">i", 257) + b"a" * 257,
    struct.pack(">i", 1 << 30),
    frame(req(1, "ping", [])),
])

# --- mp: requests and values -------------------------------------------------
values = [
    None, True, False, 0, -1, 127, 128, -33, 255, 65535, 2**32, 2**63 - 1,
    -2**63, 2**64 - 1, 1.5, float("inf"), float("nan"), "", "name", "é" * 40,
    b"", b"\x00" * 300, [], [1, [2, [3, [4, [5]]]]], {"a": 1, "b": [None]},
    {1: {2: {3: {}}}}, msgpack.ExtType(5, b"ext"), "x" * 70000,
]
mp = [msgpack.packb(v, use_bin_type=True) for v in values]
mp += [req(7, "queue.put", ["q", {"k": [1, 2.5, b"b"]}, None]),
       msgpack.packb([[[[[[[[[[0]]]]]]]]]]),
       b"\xc1", b"\xdd\xff\xff\xff\xff", b"\x92\x01"]
write("mp", mp)

# --- auth_server, auth_client: flags, nonce, then per message of the other
# end: 0 keep, 1 replace (length byte, bytes), 2 flip (count, pos, xor) ---
nonce = bytes(range(40))
auth = [
    b"\x00" + nonce + b"\x00" * 8,               # honest, same key: success
    b"\x01" + nonce + b"\x00" * 8,               # different keys
    b"\x06" + nonce + b"\x00" * 8,               # legacy MD5 allowed both ends
    b"\x00" + nonce + b"\x02\x01\x05\x01" + b"\x00" * 6,   # one bit flipped
    b"\x00" + nonce + b"\x01\x09#WELCOME#" + b"\x00" * 6,
    b"\x00" + nonce + b"\x01\x14#CHALLENGE#{sha256}\x01" + b"\x00" * 6,
    b"\x00" + nonce + b"\x01\x09#FAILURE#",
    b"\x00" + nonce + b"\x00\x01\x00",
]
write("auth_server", auth)
write("auth_client", auth)

# --- config: byte 0 = number of arguments (| 0x80: the rest is a file) ---
def conf(args, text=None):
    b = bytes([len(args) | (0x80 if text is not None else 0)])
    b += b"".join(a.encode() + b"\0" for a in args)
    if text is not None:
        b += text.encode()
    return b


write("config", [
    conf(["--workers", "4", "--fsync=everysec", "-l", "127.0.0.1:7000"]),
    conf(["--max-frame=1M", "--handshake-timeout", "2.5", "--log-level=debug"]),
    conf(["-f", "--auth-legacy-md5", "--repair-log", "--compact-min", "64K"]),
    conf(["--max-output", "1G", "--workers=8.9e59"]),
    conf(["--handshake-timeout", "nan"]),
    conf(["--help"]),
    conf([], "# qlockd.conf\nworkers = 3\nfsync = always\nlisten = [::1]:7000\n"
             "max-frame = 2M\nhandshake-timeout = 10\nmax-output = 64M\n"
             "log-level = info\nauth-legacy-md5 = yes\ncompact-min = 4M\n"
             "metrics-listen = 127.0.0.1:9100\n"),
    conf(["--workers", "2"], "workers = 5\nbogus = 1\nno equals sign\n"),
    conf(["-w", "2", "--check-config"], "max-frame = 1e400\n"),
])

# --- log: byte 0 & 1: records (u16 length + payload), 0xffff ends them and
# the rest is raw; else the whole rest is the raw log after the header ---
R = dict(Q_OPEN=1, Q_PUT=2, Q_TAKE=3, Q_DONE=4, Q_BACK=5, D_SET=6, D_DEL=7,
         S_SET=8, E_SET=9, L_OPEN=10, B_OPEN=11, DELETE=12, TOKENS=13)


def recs(*records, tail=b""):
    b = b"\x01"
    for r in records:
        p = msgpack.packb(r, use_bin_type=True)
        b += struct.pack("<H", len(p)) + p
    if tail:
        b += b"\xff\xff" + tail
    return b


def raw_record(r):
    p = msgpack.packb(r, use_bin_type=True)
    return struct.pack("<III", 0x43455251, len(p), zlib.crc32(p)) + p


item = msgpack.packb({"job": 1})
write("log", [
    recs([R["TOKENS"], 1000], [R["Q_OPEN"], "q", 0, False],
         [R["Q_PUT"], "q", 1, item], [R["Q_PUT"], "q", 2, item],
         [R["Q_TAKE"], "q", 1]),
    recs([R["Q_OPEN"], "j", 10, True], [R["Q_PUT"], "j", 1, item],
         [R["Q_TAKE"], "j", 1], [R["Q_BACK"], "j", 1], [R["Q_TAKE"], "j", 1],
         [R["Q_DONE"], "j", 1]),
    recs([R["D_SET"], "d", "k", b"v"], [R["D_SET"], "d", "n", b"\x05"],
         [R["D_DEL"], "d", "k"]),
    recs([R["S_SET"], "s", 2, True, 2], [R["S_SET"], "u", 1, False, 5],
         [R["E_SET"], "e", True], [R["L_OPEN"], "l", True],
         [R["B_OPEN"], "b", 3]),
    recs([R["Q_PUT"], "x", 1, item], [R["DELETE"], "x"],
         [R["D_SET"], "x", "k", b"1"]),
    recs([R["Q_OPEN"], "q", 0, False], tail=raw_record([R["Q_PUT"], "q", 1, item])[:9]),
    b"\x00" + raw_record([R["E_SET"], "e", True]) + b"\x00" * 16,
    b"\x00" + raw_record([R["E_SET"], "e", True]) + b"garbage" +
    raw_record([R["L_OPEN"], "l", False]),
])

# --- requests: steps (op, operands) as fuzz_requests.c reads them ---------
def send(client, body):
    return bytes([client << 2]) + struct.pack("<H", len(body)) + body


RUN = b"\x01"


def bye(client):
    return bytes([2 | client << 2])


def script(*steps):
    out = b""
    msgid = 1
    for s in steps:
        if isinstance(s, bytes):
            out += s
            continue
        client, method, params = s
        out += send(client, req(msgid, method, params))
        msgid += 1
    return out


names = ["q", "r", "alpha", "beta"]   # spread over both workers
requests = [
    script((0, "ping", []), (1, "stats", []), (2, "list", []), RUN),
    script(*[(i % 4, "queue.put", [n, b"item", None]) for i, n in
             enumerate(names)], RUN,
           *[(3 - i % 4, "queue.get", [n, 0]) for i, n in enumerate(names)],
           RUN),
    script((0, "queue.open", ["jq", 0, True]), (0, "queue.put", ["jq", 1, None]),
           (1, "queue.get", ["jq", 1.0]), RUN, (1, "queue.task_done", ["jq"]),
           (2, "queue.task_done", ["jq"]), (3, "queue.join", ["jq", 0]), RUN,
           bye(1), RUN),
    # The bounded semaphore a session holding nothing releases.
    script((0, "sem.open", ["bs", 2, True]), (0, "sem.acquire", ["bs", 0]),
           (1, "sem.release", ["bs"]), RUN, bye(0), bye(1), RUN,
           (2, "sem.value", ["bs"]), RUN),
    script((0, "lock.open", ["l", True]), (0, "lock.acquire", ["l", -1]),
           (1, "lock.acquire", ["l", 0.01]), RUN, (0, "lock.release", ["l"]),
           RUN, (2, "cond.acquire", ["c", -1]), (2, "cond.wait", ["c", 0.01]),
           (3, "cond.notify", ["c", 1]), RUN),
    script((0, "event.set", ["e"]), (1, "event.clear", ["e"]),
           (2, "event.wait", ["e", 0]), (3, "event.is_set", ["e"]),
           (0, "sem.open", ["e", 1, False]), RUN),
    script((0, "queue.put", ["x", 1, None]), (1, "queue.get", ["x", 0]), RUN,
           (2, "dict.set", ["x", "k", 1]), RUN),
    script((0, "barrier.open", ["b", 2]), (1, "barrier.wait", ["b", 1]),
           (2, "barrier.wait", ["b", 1]), RUN, (3, "barrier.reset", ["b"]),
           (3, "barrier.abort", ["b"]), RUN),
    script((0, "dict.set", ["d", "k", b"v"]), (1, "dict.incr", ["d", "n", 5]),
           (2, "dict.cas", ["d", "k", b"v", b"w"]), (3, "dict.get", ["d", "k"]),
           (0, "dict.keys", ["d"]), (1, "dict.len", ["d"]),
           (2, "dict.del", ["d", "k"]), (3, "delete", ["d"]), RUN),
    script((0, "event.wait", ["e", 1e19]), (1, "queue.get", ["q", float("nan")]),
           (2, "nosuch", []), (3, "ping", [1, 2]), RUN),
    bytes([3]) + struct.pack("<H", 8) + b"\x00\x00\x00\x09\x94\x00\x01\xa4",
    # Issue 10's requests: cancel (msgid 1 is the parked get), state reads,
    # hash tags, a condition over a lock, Python's dict, giveback false.
    script((0, "queue.get", ["cq", -1]), RUN, (0, "cancel", ["cq", 1]),
           (1, "queue.open", ["jq{t}", 2, True, False]),
           (1, "queue.put", ["jq{t}", 1, None]), (2, "queue.get", ["jq{t}", 0]),
           (2, "queue.state", ["jq{t}"]), RUN, bye(2), RUN,
           (3, "barrier.open", ["b{t}", 3]), (3, "barrier.wait", ["b{t}", -1]),
           (0, "barrier.state", ["b{t}"]), RUN, (3, "cancel", ["b{t}", 8]),
           RUN),
    script((0, "lock.open", ["{L}", False, False]),
           (0, "cond.acquire", ["c{L}", -1, "{L}"]),
           (1, "cond.acquire", ["c{L}", 1, "{L}"]), RUN,
           (0, "cond.wait", ["c{L}", 0.01, "{L}"]), RUN,
           (0, "cond.notify_all", ["c{L}", "{L}"]),
           (0, "cond.release", ["c{L}", "{L}"]), bye(0), RUN,
           (2, "sem.open", ["s", 2, True, False]), (2, "sem.acquire", ["s", 0]),
           bye(2), RUN, (3, "sem.release", ["s"]), RUN),
    script((0, "dict.update", ["pd", [["a", 1], [2, b"x"], [b"k", None]]]),
           (1, "dict.setdefault", ["pd", "z", 3]), (2, "dict.popitem", ["pd"]),
           (3, "dict.pop", ["pd", 2, 0]), (0, "dict.items", ["pd"]),
           (1, "dict.values", ["pd"]), (2, "dict.clear", ["pd"]),
           (3, "dict.set", ["pd", -7, 1]), RUN),
]
write("requests", requests)
print("seeds written under", os.path.join(HERE, "corpus"), file=sys.stderr)
