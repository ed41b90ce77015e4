"""it_ha_sess.py: helpers of the session tests (it_ha_session.sh,
it_ha_retry.sh) over raw msgpack-RPC with the Python package in the tree:
checks printed as ok/FAIL, names on a shard, shard 0's leader, files the
shell writes, raft progress.  Run as a script: caught N PORT... (node N
applied what shard 0's leader had committed)."""
import os, sys, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
from qlock._route import shard_of
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
tmp = os.environ.get("TMPD", "")

def say(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    return ok

def named(prefix, g=0):
    """A name with prefix on shard g (of 2)."""
    return next("%s%d" % (prefix, i) for i in range(1000)
                if shard_of("%s%d" % (prefix, i), 2) == g)

def leader0(ports, avoid, limit=30):
    """Shard 0's leader's address, once served (not on node avoid)."""
    end = time.time() + limit
    while time.time() < end:
        for p in ports:
            try:
                t = Connection("127.0.0.1:%s" % p, key).call("topology")
                if t["leaders"][0] not in (None, avoid) and t["addrs"][0]:
                    a = t["addrs"][0][0]
                    Connection(a, key).call("queue.size", named("probe"))
                    return t["leaders"][0], a
            except Exception:
                pass
        time.sleep(0.1)
    return None, None

def wait_file(path, limit=60):
    """When the shell began the kill (written once it is done)."""
    end = time.time() + limit
    while time.time() < end:
        try:
            return float(open(path).read())
        except (OSError, ValueError):
            time.sleep(0.05)
    return time.time()

def fails(f, exc):
    try:
        f()
    except exc:
        return True
    except Exception as e:
        print("  (got %r)" % e)
        return False
    return False

def raft0(port):
    for g in Connection("127.0.0.1:%s" % port, key).call("stats")["raft"]:
        if g["shard"] == 0:
            return g
    return None

def caught(args):
    """Node args[0] has applied what shard 0's leader had committed."""
    n, ports = int(args[0]), args[1:]
    node, addr = leader0([p for i, p in enumerate(ports) if i + 1 != n], n)
    want = raft0(ports[node - 1])["commit"]
    # raft tries a failed snapshot install again after 30 s (it may have
    # begun one while the node was down).
    end = time.time() + 75
    while time.time() < end:
        try:
            if raft0(ports[n - 1])["applied"] >= want:
                return say(True, "node %d applied shard 0 up to %d" % (n, want))
        except Exception:
            pass
        time.sleep(0.1)
    return say(False, "node %d did not catch up to %d" % (n, want))

if __name__ == "__main__" and sys.argv[1] == "caught":
    sys.exit(0 if caught(sys.argv[2:]) else 1)
