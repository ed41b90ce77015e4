"""it_ha_reads_load.py SECS PORT...: reads stay linearizable under many
concurrent readers and writers (it_ha_reads_load.sh), for SECS seconds.

WRITERS processes each own a counter (key wI of a dict of shard 0) and
loop over one connection to the shard's leader, three requests pipelined:
dict.get wI, dict.incr wI 1, dict.get wI.  The replies must come in the
order sent, the incr must answer the first get's value plus one and the
second get the incr's value; each acknowledged value is published.
READERS processes loop: take the published values, then send dict.get
for every counter (pipelined, one connection); each value read must be at
least what was published before it was sent (a write acknowledged before
a read is seen by it) and at least what this reader read before (no going
back, across leaders too).  STREAMERS processes each send dict.get w0
every 2 ms on one connection without waiting for the replies (a thread
reads them), with the same checks: when the leader is stopped their reads
wait in its socket, sent after writes that the writers (a short timeout:
they move on to the new leader) had acknowledged there; the resumed old
leader must not answer them from its stale state.  A connection that
fails (a leader deposed or handing over) is opened again to the leader
that topology names (a request it carried has an unknown outcome: it is
not checked); every loop is bounded by SECS and the calls by a socket
timeout.

Prints one line "reads N writes N reconnects N violations N" and the
first violations; exits 1 if there were any, or if fewer than MIN_OPS
reads or writes were checked.
"""
import multiprocessing, os, sys, threading, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
from qlock._route import shard_of

KEY = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
WRITERS = int(os.environ.get("READS_WRITERS", "3"))
READERS = int(os.environ.get("READS_READERS", "12"))
STREAMERS = 2
MIN_OPS = 50
TIMEOUT = 0.5           # writers and readers: a stopped leader is left
STREAM_TIMEOUT = 5.0    # streamers: they wait for it
secs, ports = float(sys.argv[1]), sys.argv[2:]
DICT = next("rd%d" % i for i in range(1000) if shard_of("rd%d" % i, 2) == 0)


def connect(end, timeout=TIMEOUT):
    """A connection to shard 0's serving leader, or None by end."""
    while time.time() < end:
        for p in ports:
            try:
                t = Connection("127.0.0.1:%s" % p, KEY).call("topology")
                if t["addrs"] and t["addrs"][0]:
                    c = Connection(t["addrs"][0][0], KEY)
                    c.sock.settimeout(timeout)
                    c.call("dict.len", DICT)     # served, not NotLeader
                    return c
            except Exception:
                pass
        time.sleep(0.05)
    return None


def pipeline(c, reqs):
    """Send reqs ([method, params]...) at once; their results in order.
    Raises on an error answer, a reply out of order or a broken
    connection."""
    ids = [c._request(m, p) for m, p in reqs]
    out = []
    for want in ids:
        rid, error, result = c._reply()
        if rid != want:
            raise AssertionError("reply %d where %d was due" % (rid, want))
        if error is not None:
            raise RuntimeError("error %r" % (error,))
        out.append(result)
    return out


def rounds(kind, who, start, body, res):
    """body(c) on a connection to the leader until SECS pass: n rounds;
    body returns a violation or None.  A broken connection is opened
    again (what it carried is not checked)."""
    end = start + secs
    bad, n, reconn, c = [], 0, 0, None
    while time.time() < start:
        time.sleep(0.001)
    while time.time() < end and len(bad) < 5:
        if c is None:
            if (c := connect(end)) is None:
                break
            reconn += 1
        try:
            b = body(c)
        except AssertionError as e:
            bad.append("%s: %s" % (who, e))
            break
        except Exception:
            c.close()
            c = None
            continue
        if b is not None:
            bad.append("%s: %s" % (who, b))
        n += 1
    res.put((kind, n, reconn, bad))


def writer(i, acked, res, start):
    key = "w%d" % i

    def body(c):
        g1, v, g2 = pipeline(c, [["dict.get", [DICT, key]],
                                 ["dict.incr", [DICT, key, 1]],
                                 ["dict.get", [DICT, key]]])
        low, acked[i] = acked[i], v
        if g1 < low or v != g1 + 1 or g2 != v:
            return "acked %d, then get %d, incr %d, get %d" % (low, g1, v, g2)
        return None
    rounds("w", "writer %d" % i, start, body, res)


def reader(j, acked, res, start):
    seen = [0] * WRITERS
    reqs = [["dict.get", [DICT, "w%d" % i]] for i in range(WRITERS)]

    def body(c):
        low = list(acked)       # acknowledged before the reads are sent
        got, why = pipeline(c, reqs), None
        for i, v in enumerate(got):
            if v < low[i] or v < seen[i]:
                why = "w%d read %d, acknowledged before %d, read before " \
                    "%d" % (i, v, low[i], seen[i])
            seen[i] = max(seen[i], v)
        return why
    rounds("r", "reader %d" % j, start, body, res)


def streamer(j, acked, res, start):
    end = start + secs
    bad, n, reconn, seen = [], 0, 0, 0
    while time.time() < start:
        time.sleep(0.001)
    while time.time() < end and len(bad) < 5:
        if (c := connect(end, STREAM_TIMEOUT)) is None:
            break
        reconn += 1
        lows, done = {}, threading.Event()

        def send():
            try:
                while not done.is_set() and time.time() < end and \
                        len(lows) < 2000:
                    lows[(c.msgid + 1) & 0xFFFFFFFF or 1] = acked[0]
                    c._request("dict.get", [DICT, "w0"])
                    time.sleep(0.002)
            except Exception:
                pass
            done.set()
        t = threading.Thread(target=send)
        t.start()
        try:
            while not (done.is_set() and not lows):
                rid, error, v = c._reply()
                low = lows.pop(rid)
                if error is not None:
                    raise RuntimeError(error)
                if v < low or v < seen:
                    bad.append("streamer %d: w0 read %d, acknowledged "
                               "before %d, read before %d" % (j, v, low, seen))
                seen = max(seen, v)
                n += 1
        except Exception:
            pass
        done.set()
        c.close()
        t.join(10)
    res.put(("s", n, reconn, bad))


def main():
    c = connect(time.time() + 30)
    if c is None:
        print("no leader served shard 0 within 30 s")
        return 1
    for i in range(WRITERS):
        c.call("dict.incr", DICT, "w%d" % i, 0)     # the counters, at 0
    c.close()
    acked = multiprocessing.Array("q", WRITERS, lock=False)
    res = multiprocessing.Queue()
    start = time.time() + 1
    ps = [multiprocessing.Process(target=writer, args=(i, acked, res, start))
          for i in range(WRITERS)]
    ps += [multiprocessing.Process(target=reader, args=(j, acked, res, start))
           for j in range(READERS)]
    ps += [multiprocessing.Process(target=streamer, args=(j, acked, res, start))
           for j in range(STREAMERS)]
    for p in ps:
        p.start()
    tot = {"r": 0, "w": 0, "s": 0}
    reconn, bad = 0, []
    for _ in ps:
        kind, n, rc, b = res.get(timeout=secs + 60)
        tot[kind] += n
        reconn += rc - 1
        bad += b
    for p in ps:
        p.join(10)
    print("reads %d writes %d reconnects %d violations %d" %
          (tot["r"] * WRITERS + tot["s"], tot["w"], reconn, len(bad)))
    for b in bad[:10]:
        print(b)
    return 1 if bad or min(tot.values()) < MIN_OPS else 0


if __name__ == "__main__":
    sys.exit(main())
