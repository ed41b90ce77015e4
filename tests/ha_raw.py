"""ha_raw.py: what the raw-protocol HA tests' scripts share
(it_ha_waiters.sh, it_ha_places.sh): counted checks, the leader of shard
0 found through a list of nodes, a raw reply read with a time limit."""
import os
import sys
import time

sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection  # noqa: E402

key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
fails = 0


def say(ok, what):
    global fails
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    fails += not ok


def leader0(ports, probe, limit=30):
    """The address of shard 0's leader once it answers queue.size(probe)
    (a queue of shard 0), or None after limit seconds."""
    end = time.time() + limit
    while time.time() < end:
        for p in ports:
            try:
                t = Connection("127.0.0.1:%s" % p, key).call("topology")
                a = t["addrs"][0][0]
                Connection(a, key).call("queue.size", probe)
                return a
            except Exception:
                pass
        time.sleep(0.1)
    return None


def reply(c, limit):
    if c.sock is None:
        return "closed (an earlier reply timed out)"
    c.sock.settimeout(limit)
    try:
        return c._reply()
    except Exception as e:
        return repr(e)


def attempt(c, *call):
    try:
        return c.call(*call)
    except Exception as e:
        return repr(e)


def failover(tmp, ports, probe):
    """Once the parked requests' records are committed (a read answered
    after them), tell the shell script (tmp/ready), wait for its kill -9
    of node 1 (tmp/killed) and return shard 0's new leader among the
    other nodes; exit if there is none within 30 s."""
    say(Connection(leader0(ports[:1], probe), key).call(
        "queue.size", probe) == 0, "parked")
    open(os.path.join(tmp, "ready"), "w").close()
    end = time.time() + 60
    while (not os.path.exists(os.path.join(tmp, "killed")) and
           time.time() < end):
        time.sleep(0.05)
    addr = leader0(ports[1:], probe)
    if addr is None:
        say(False, "no new leader of shard 0 within 30 s")
        sys.exit(1)
    return addr


def bound(addr, token, who):
    """A new connection to addr whose session is bound to token."""
    c = Connection(addr, key)
    say(c.call("session.resume", token)["resumed"] is False, who + " bound")
    return c
