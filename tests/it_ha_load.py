"""it_ha_load.py: the clients of it_ha_faults.sh, and the checks after.

  it_ha_load.py run DIR PORTS...   producers, consumers and lock
      contenders, and a producer and two consumers of two joinable queues
      (one per shard: get, then task_done on the same session), against
      a cluster (client ports PORTS) until DIR/stop exists or 600 s pass;
      each thread writes what it saw to DIR.
  it_ha_load.py jdrain DIR PORTS...  after run: finish what the joinable
      queues still hold, then queue.join each (bounded) and read its state.
  it_ha_load.py check DIR DRAINED  the checks, DRAINED the items drained
      at the end (one a line); DIR/faults has "NAME start|end TIME" lines.
      For the joinable queues see jcheck.

Each call goes to its shard's leader as topology names it.  A NotLeader
answer (nothing done) is tried again after asking topology anew; a call
whose connection fails or times out has an unknown outcome: it is counted
and never retried (a put is not sent again: a duplicate would then be the
daemon's).  Raw msgpack-RPC with the Python package of the tree.
"""
import json, os, random, socket, sys, threading, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
from qlock import errors
from qlock._route import shard_of

KEY = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
CALL_TIMEOUT = 3.0          # a call not answered by then: unknown outcome
NQUEUES = 4
PRODUCERS, CONSUMERS, CONTENDERS = 2, 2, 3
LOCKS = 2
JPRODUCERS, JCONSUMERS = 1, 2
JOIN_TIMEOUT = 10.0         # queue.join at the end, once all are finished
GRACE = 10.0                # the nodes' --session-grace (the default)


class Router:
    """Connections to each shard's leader, found through topology."""

    def __init__(self, ports):
        self.ports = ports
        self.addrs = None
        self.conns = {}
        self.last = None        # the connection of the last call answered
        self.timeout = CALL_TIMEOUT

    def refresh(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}
        self.addrs = None
        for p in random.sample(self.ports, len(self.ports)):
            try:
                c = Connection(p if ":" in p else "127.0.0.1:%s" % p, KEY)
                c.sock.settimeout(CALL_TIMEOUT)
                t = c.call("topology")
                c.close()
            except Exception:
                continue
            if t.get("addrs") and all(t["addrs"]):
                self.addrs = [a[0] for a in t["addrs"]]
                return True
        return False

    def conn(self, name):
        if self.addrs is None and not self.refresh():
            return None
        g = shard_of(name, len(self.addrs))
        if g not in self.conns:
            c = Connection(self.addrs[g], KEY)
            c.sock.settimeout(self.timeout)
            self.conns[g] = c
        return self.conns[g]

    def call(self, name, method, *params):
        """The result; raises Unknown (outcome unknown) or the error
        (a definite answer).  NotLeader and no leader: wait and retry,
        for at most 30 s."""
        end = time.time() + 30
        while True:
            try:
                c = self.conn(name)
            except Exception:
                c = None
            if c is None:
                self.addrs = None
                if time.time() > end:
                    raise Unknown("no leader")
                time.sleep(0.1)
                continue
            try:
                res = self.send(c, name, method, *params)
                self.last = c
                return res
            except Gone:
                self.refresh()
                if time.time() > end:
                    raise Unknown("NotLeader for 30 s")
                time.sleep(0.05)

    def send(self, c, name, method, *params):
        """One call on c: the result; raises Gone (NotLeader: nothing
        done), Unknown (its outcome: the connections are dropped) or the
        error."""
        try:
            return c.call(method, name, *params)
        except errors.Error as e:
            if e.code == "NotLeader":
                raise Gone(str(e))
            if isinstance(e, (errors.ConnError, errors.UnavailError,
                              errors.ProtoError)):
                self.drop()
                raise Unknown(str(e))
            raise
        except (OSError, socket.timeout) as e:
            self.drop()
            raise Unknown(str(e))

    def once(self, c, name, method, *params):
        """method on connection c alone (its session), never retried: the
        result; raises Gone (NotLeader, or c closed meanwhile: nothing
        done), Unknown (outcome unknown) or the error."""
        if not any(x is c for x in self.conns.values()):
            raise Gone("its connection was closed")
        try:
            return self.send(c, name, method, *params)
        except Gone:
            self.drop()
            raise

    def drop(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}
        self.addrs = None


class Unknown(Exception):
    pass


class Gone(Exception):
    """Nothing done: the call was refused (NotLeader) or not sent."""


def out(d, name):
    return open(os.path.join(d, name), "a", buffering=1)


def stopping(d, t0):
    return os.path.exists(os.path.join(d, "stop")) or time.time() - t0 > 600


def producer(d, ports, k, t0, joinable=False):
    """Puts to q0..q3 (items pK-N), or to the joinable queues (jK-N)."""
    r, n = Router(ports), 0
    if joinable:
        kind, tag, names, pause = "jput", "j", jqueue_names(), 0.02
        if not jopen(r, d, t0):
            return
    else:
        kind, tag, pause = "put", "p", 0.01
        names = ["q%d" % i for i in range(NQUEUES)]
    f = out(d, "%s.%d" % (kind, k))
    while not stopping(d, t0):
        item = "%s%d-%d" % (tag, k, n)
        q = names[n % len(names)]
        n += 1
        try:
            r.call(q, "queue.put", item, 1)
            f.write("ack %s %.3f\n" % (item, time.time()))
        except Unknown:
            f.write("unknown %s %.3f\n" % (item, time.time()))
            time.sleep(0.05)
        except errors.Error as e:
            f.write("refused %s %.3f %s\n" % (item, time.time(), e))
        time.sleep(pause)


def consumer(d, ports, k, t0):
    r, f, n = Router(ports), out(d, "get.%d" % k), 0
    while not stopping(d, t0):
        q = "q%d" % ((n + k) % NQUEUES)
        n += 1
        try:
            item = r.call(q, "queue.get", 0.2)
            if isinstance(item, bytes):
                item = item.decode()
            f.write("got %s %.3f\n" % (item, time.time()))
        except Unknown:
            f.write("unknown %s %.3f\n" % (q, time.time()))
            time.sleep(0.05)
        except (errors.EmptyError, errors.TimeoutError_):
            f.write("empty %s %.3f\n" % (q, time.time()))


def lock_names():
    """One lock per shard at least (two shards): l-A, l-B..."""
    names, i = [], 0
    while len(names) < LOCKS:
        name = "lock%d" % i
        if shard_of(name, 2) == len(names) % 2:
            names.append(name)
        i += 1
    return names


class Register:
    """A fenced register: writes carry a token; one lower than the highest
    seen is refused (stale)."""

    def __init__(self):
        self.mu = threading.Lock()
        self.top = {}

    def write(self, lock, token):
        with self.mu:
            if token < self.top.get(lock, 0):
                return False
            self.top[lock] = token
            return True


def contender(d, ports, k, t0, reg):
    r, f = Router(ports), out(d, "lock.%d" % k)
    names = lock_names()
    while not stopping(d, t0):
        lock = random.choice(names)
        try:
            r.call(lock, "lock.open", False)
            tok = r.call(lock, "lock.acquire", 1)
        except Unknown:
            f.write("unknown %s %.3f\n" % (lock, time.time()))
            time.sleep(0.05)
            continue
        except errors.Error as e:
            if isinstance(e, errors.TimeoutError_):
                f.write("busy %s %.3f\n" % (lock, time.time()))
            else:
                f.write("refused %s %.3f %s\n" % (lock, time.time(), e))
            continue
        t_acq = time.time()
        fresh = reg.write(lock, tok)
        time.sleep(random.uniform(0.005, 0.03))
        fresh = reg.write(lock, tok) and fresh
        t_rel = time.time()
        try:
            r.call(lock, "lock.release")
            how = "released"
        except Unknown:
            how = "lost"        # the session ended: the hold was void
        except errors.Error as e:
            how = "refused:" + str(e).replace(" ", "_")
        f.write("hold %s %d %.6f %.6f %s %s\n" %
                (lock, tok, t_acq, t_rel, how, "fresh" if fresh else "stale"))


# Joinable queues: one per shard.  A consumer gets an item, then calls
# task_done on the same connection (its session: the daemon finishes the
# oldest item the calling session took), never on another one: a session
# that ended gave its taken, unfinished item back to the head of its queue
# (the connection broke, or the shard failed over: the new leader's epoch
# gives back every taken item), and a task_done sent elsewhere would finish
# some other session's item.
def jqueue_names():
    """One joinable queue per shard (two shards): jq-names."""
    names, i = [], 0
    while len(names) < 2:
        name = "jq%d" % i
        if shard_of(name, 2) == len(names):
            names.append(name)
        i += 1
    return names


def jopen(r, d, t0):
    """Open the joinable queues (idempotent); False if stopped first."""
    for q in jqueue_names():
        while True:
            if stopping(d, t0):
                return False
            try:
                r.call(q, "queue.open", 0, True)
                break
            except Unknown:
                time.sleep(0.1)
    return True


def finish_one(r, q, f, timeout):
    """Get an item of q and finish it on the same session: "got", "empty"
    or "unknown" (the get's outcome).  Lines: got ITEM T, then its task's
    outcome: done (acknowledged), undone (outcome unknown), abandoned
    (nothing done: NotLeader, or the connection had changed; the item goes
    back when the session ends) or refused."""
    try:
        item = r.call(q, "queue.get", timeout)
        c = r.last
    except Unknown:
        f.write("unknown %s %.3f\n" % (q, time.time()))
        time.sleep(0.05)
        return "unknown"
    except (errors.EmptyError, errors.TimeoutError_):
        f.write("empty %s %.3f\n" % (q, time.time()))
        return "empty"
    except errors.Error as e:
        f.write("refused-get %s %.3f %s\n" % (q, time.time(),
                                              str(e).replace(" ", "_")))
        return "unknown"
    if isinstance(item, bytes):
        item = item.decode()
    f.write("got %s %.3f\n" % (item, time.time()))
    # The work: a fault may come meanwhile (the item then goes back).
    time.sleep(random.uniform(0.01, 0.05))
    try:
        r.once(c, q, "queue.task_done")
        f.write("done %s %.3f\n" % (item, time.time()))
    except Gone:
        f.write("abandoned %s %.3f\n" % (item, time.time()))
    except Unknown:
        f.write("undone %s %.3f\n" % (item, time.time()))
    except errors.Error as e:
        f.write("refused %s %.3f %s\n" % (item, time.time(),
                                          str(e).replace(" ", "_")))
    return "got"


def jconsumer(d, ports, k, t0):
    r, f, n = Router(ports), out(d, "jget.%d" % k), 0
    names = jqueue_names()
    if not jopen(r, d, t0):
        return
    while not stopping(d, t0):
        finish_one(r, names[(n + k) % len(names)], f, 0.2)
        n += 1


def jdrain(d, ports):
    """After the load: finish what is left of each joinable queue, then
    queue.join (bounded) and queue.state; DIR/jget.drain, DIR/jjoin.drain.
    An item may come back during the join: one a relayed session took
    whose relaying node died is the detached session's until the session
    grace ends (at each failover: twice the grace at most here).  A join
    that timed out with items queued finishes them and joins again."""
    r, f, res = Router(ports), out(d, "jget.drain"), out(d, "jjoin.drain")
    r.timeout = JOIN_TIMEOUT + CALL_TIMEOUT     # join answers within
    end = time.time() + 4 * GRACE + 2 * JOIN_TIMEOUT
    for q in jqueue_names():
        joined = False
        while not joined and time.time() < end:
            while time.time() < end and finish_one(r, q, f, 0) != "empty":
                pass
            t = time.time()
            try:
                r.call(q, "queue.join", JOIN_TIMEOUT)
                res.write("joined %s %.3f\n" % (q, time.time() - t))
                joined = True
            except Unknown:
                time.sleep(0.2)
            except errors.TimeoutError_ as e:
                res.write("notjoined %s %.3f %s\n" %
                          (q, time.time() - t, str(e).replace(" ", "_")))
            except errors.Error as e:
                res.write("notjoined %s %.3f %s\n" %
                          (q, time.time() - t, str(e).replace(" ", "_")))
                break
        while time.time() < end:
            try:
                st = r.call(q, "queue.state")
                res.write("state %s %d %d\n" % (q, st["size"],
                                                st["unfinished"]))
                break
            except Unknown:
                time.sleep(0.2)


def jcheck(d, err, info):
    """Every acknowledged put of a joinable queue is finished exactly
    once.  Its deliveries (gets answered), in time order: each but the
    last must end without an acknowledged task_done (abandoned: NotLeader,
    nothing done; or undone: the task_done's outcome unknown, its session
    gone), as only a session that ended unfinished gives an item back;
    the last must end done (acknowledged) or undone: an undone task_done
    not applied would have given the item back, to be delivered again
    (by the consumers or the final drain), so undone last means finished
    once, at most once in any case.  A get whose reply was lost loses
    nothing here (the taken item goes back when its session ends), so
    there is no allowance for lost items.  Never: two acknowledged
    task_dones of one item, a delivery after one, a task_done refused
    (more than were put).  At the end each queue joins within
    JOIN_TIMEOUT and is empty with no unfinished task."""
    acked, unknown_puts = set(), set()
    for _, w in lines(d, "jput"):
        if w[0] == "ack":
            acked.add(w[1])
        elif w[0] == "unknown":
            unknown_puts.add(w[1])
    deliveries, ngets_unknown, nrefused = {}, 0, 0
    for who, w in lines(d, "jget"):
        if w[0] == "got":
            deliveries.setdefault(w[1], []).append([float(w[2]), None, who])
        elif w[0] in ("done", "undone", "abandoned", "refused"):
            deliveries[w[1]][-1][1] = w[0]
            if w[0] == "refused":
                nrefused += 1
                err.append("joinable: task_done for %s refused: %s" %
                           (w[1], " ".join(w[3:])))
        elif w[0] in ("unknown", "refused-get"):
            ngets_unknown += 1
    if not acked or not deliveries:
        err.append("joinable: %d puts acknowledged, %d items delivered: "
                   "the clients did not run" % (len(acked), len(deliveries)))
    strange = set(deliveries) - acked - unknown_puts
    if strange:
        err.append("joinable: items never put: %s" % sorted(strange)[:5])
    twice, after, unfinished, undone = [], [], [], 0
    for x in sorted(acked | set(deliveries)):
        ds = sorted(deliveries.get(x, []))
        outs = [o for _, o, _ in ds]
        if outs.count("done") > 1:
            twice.append(x)
        for (t, o, who), nxt in zip(ds, ds[1:]):
            if o == "done":
                after.append("%s (done by %s at %.3f, got by %s at %.3f)" %
                             (x, who, t, nxt[2], nxt[0]))
        if x in acked and (not outs or outs[-1] not in ("done", "undone")):
            unfinished.append("%s (%s)" % (x, " ".join(map(str, outs)) or
                                           "never delivered"))
        if outs and outs[-1] == "undone":
            undone += 1
    if twice:
        err.append("joinable: %d items finished twice: %s" %
                   (len(twice), twice[:5]))
    if after:
        err.append("joinable: %d items delivered again after an "
                   "acknowledged task_done: %s" % (len(after), after[:3]))
    if unfinished:
        err.append("joinable: %d acknowledged items never finished: %s" %
                   (len(unfinished), unfinished[:5]))
    redelivered = sum(1 for ds in deliveries.values() if len(ds) > 1)
    joins = {}
    for _, w in lines(d, "jjoin"):
        joins.setdefault(w[1], []).append(w)
    for q in jqueue_names():
        ws = joins.get(q, [])
        j = [w for w in ws if w[0] == "joined"]
        st = [w for w in ws if w[0] == "state"]
        if not j:
            err.append("joinable: %s: join did not return: %s" %
                       (q, [" ".join(w) for w in ws]))
        if not st or st[-1][2:] != ["0", "0"]:
            err.append("joinable: %s: at the end size, unfinished = %s" %
                       (q, st[-1][2:] if st else "unknown"))
        info.append("joinable %s: join returned in %s s (%d timed out "
                    "before)" % (q, j[0][2] if j else "-",
                                 sum(1 for w in ws if w[0] == "notjoined")))
    info.append("joinable: puts %d acknowledged, %d unknown; %d deliveries "
                "of %d items (%d delivered more than once); finished: %d "
                "acknowledged, %d of unknown outcome; gets of unknown "
                "outcome %d" %
                (len(acked), len(unknown_puts),
                 sum(len(v) for v in deliveries.values()), len(deliveries),
                 redelivered,
                 sum(1 for v in deliveries.values() for e in v
                     if e[1] == "done"), undone, ngets_unknown))


def run(d, ports):
    t0 = time.time()
    reg = Register()
    ts = [threading.Thread(target=producer, args=(d, ports, k, t0))
          for k in range(PRODUCERS)]
    ts += [threading.Thread(target=consumer, args=(d, ports, k, t0))
           for k in range(CONSUMERS)]
    ts += [threading.Thread(target=contender, args=(d, ports, k, t0, reg))
           for k in range(CONTENDERS)]
    ts += [threading.Thread(target=producer, args=(d, ports, k, t0, True))
           for k in range(JPRODUCERS)]
    ts += [threading.Thread(target=jconsumer, args=(d, ports, k, t0))
           for k in range(JCONSUMERS)]
    for t in ts:
        t.daemon = True
        t.start()
    for t in ts:
        t.join()


def lines(d, prefix):
    for fn in sorted(os.listdir(d)):
        if fn.startswith(prefix + "."):
            who = fn
            for line in open(os.path.join(d, fn)):
                yield who, line.split()


def check(d, drained):
    err, info = [], []
    acked, unknown_puts, unknown_gets = set(), set(), {}
    for _, w in lines(d, "put"):
        if w[0] == "ack":
            acked.add(w[1])
        elif w[0] == "unknown":
            unknown_puts.add(w[1])
    got = []
    for _, w in lines(d, "get"):
        if w[0] == "got":
            got.append(w[1])
        elif w[0] == "unknown":
            unknown_gets[w[1]] = unknown_gets.get(w[1], 0) + 1
    left = [l.strip() for l in open(drained) if l.strip()]
    seen = got + left
    dups = sorted(x for x in set(seen) if seen.count(x) > 1) \
        if len(seen) < 200000 else []
    if dups:
        err.append("%d items delivered twice: %s" % (len(dups), dups[:5]))
    strange = set(seen) - acked - unknown_puts
    if strange:
        err.append("items never put: %s" % sorted(strange)[:5])
    lost = acked - set(seen)
    # A get whose reply was lost (the leader died after the commit) took
    # its item with no one to receive it: at most one per such get.
    by_q = {}
    for x in lost:
        q = "q%d" % (int(x.split("-")[1]) % NQUEUES)
        by_q[q] = by_q.get(q, 0) + 1
    for q, n in sorted(by_q.items()):
        if n > unknown_gets.get(q, 0):
            err.append("%s: %d acknowledged items lost, %d gets of unknown "
                       "outcome: %s" % (q, n, unknown_gets.get(q, 0),
                                        sorted(x for x in lost if
                                               x.endswith(q[1:]))[:5]))
    info.append("puts: %d acknowledged, %d unknown; consumed %d, drained %d; "
                "acknowledged not found %d (gets of unknown outcome %d)" %
                (len(acked), len(unknown_puts), len(got), len(left),
                 len(lost), sum(unknown_gets.values())))

    # Locks: tokens strictly increasing in grant order; the holds whose
    # release was acknowledged never overlap; no stale write by them.
    holds = {}
    for who, w in lines(d, "lock"):
        if w[0] == "hold":
            holds.setdefault(w[1], []).append(
                (float(w[3]), float(w[4]), int(w[2]), w[5], w[6], who))
    nholds = 0
    for lock, hs in sorted(holds.items()):
        hs.sort()
        nholds += len(hs)
        for a, b in zip(hs, hs[1:]):
            if b[2] <= a[2]:
                err.append("%s: token %d granted at %.3f after token %d at "
                           "%.3f" % (lock, b[2], b[0], a[2], a[0]))
        valid = [h for h in hs if h[3] == "released"]
        for a, b in zip(valid, valid[1:]):
            if b[0] < a[1]:
                err.append("%s: holders overlap: %s %d [%.3f, %.3f] and %s %d "
                           "[%.3f, %.3f]" % (lock, a[5], a[2], a[0], a[1],
                                             b[5], b[2], b[0], b[1]))
        for h in valid:
            if h[4] != "fresh":
                err.append("%s: token %d, released in order, was stale at "
                           "the register" % (lock, h[2]))
    info.append("locks: %d holds, %d released, tokens up to %s" %
                (nholds, sum(1 for hs in holds.values() for h in hs
                             if h[3] == "released"),
                 {l: hs[-1][2] for l, hs in holds.items()}))

    # Served again: after each fault's end, each thread's first success.
    ok_times = {}
    for kind, word in (("put", "ack"), ("get", "got"), ("get", "empty"),
                       ("lock", "hold"), ("lock", "busy"), ("jput", "ack"),
                       ("jget", "got"), ("jget", "empty")):
        for who, w in lines(d, kind):
            if w[0] == word and not who.endswith(".drain"):
                t = float(w[3] if word == "hold" else w[2])
                ok_times.setdefault(who, []).append(t)
    for v in ok_times.values():
        v.sort()
    faults = {}
    for line in open(os.path.join(d, "faults")):
        name, what, t = line.split()
        faults.setdefault(name, {})[what] = float(t)
    for name, f in faults.items():
        if "end" not in f:
            continue
        worst, whom = 0.0, None
        for who, v in sorted(ok_times.items()):
            after = [t for t in v if t >= f["end"]]
            gap = (after[0] - f["end"]) if after else float("inf")
            if gap > worst:
                worst, whom = gap, who
        # The longest pause of any client from the fault's start until
        # 5 s after its end: its successes' largest gap.
        pause, pwho = 0.0, None
        lo, hi = f.get("start", f["end"]), f["end"] + 5
        for who, v in sorted(ok_times.items()):
            ts = [lo] + [t for t in v if lo <= t <= hi] + \
                [min(hi, max(v[-1], lo))]
            gap = max(b - a for a, b in zip(ts, ts[1:]))
            if gap > pause:
                pause, pwho = gap, who
        info.append("%s: every client served within %.2f s of its end "
                    "(slowest %s); longest pause %.2f s (%s)" %
                    (name, worst, whom, pause, pwho))
        if worst > float(os.environ.get("SERVED_WITHIN", "10")):
            err.append("%s: %s not served within %s s of the fault's end" %
                       (name, whom, os.environ.get("SERVED_WITHIN", "10")))
    jcheck(d, err, info)
    for line in info:
        print("info: " + line)
    for line in err:
        print("error: " + line)
    return 1 if err else 0


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "jdrain":
        jdrain(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))
