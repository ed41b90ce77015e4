"""A Client follows a three-node cluster's leaders (docs/HA.md): through a
node that leads nothing, with a dead member listed first, and across
kill -9 of a shard's leader.  Skipped when qlockd has no libraft."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import qlock
from qlock import _route, errors
from qlock._wire import Connection

import conftest
from conftest import QLOCKD, free_port


def _no_libraft():
    r = subprocess.run([QLOCKD, "--check-config", "--node-id", "1", "--peer",
                        "1=127.0.0.1:7460", "--raft-dir", "/nonexistent",
                        "--listen", "unix:/nonexistent/s"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return b"without libraft" in r.stdout


def _alive(pid):
    """Whether pid runs (neither gone nor a zombie: dead as a crash leaves
    it; a thread of it may still end, holding its fds, but the fixture
    never starts a node again on the same ports)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Cluster:
    """Three nodes on loopback, two workers each."""

    def __init__(self, keyfile):
        self.tmp = tempfile.mkdtemp(prefix="qlock-pytest-cluster.")
        self.keyfile = keyfile
        with open(keyfile, "rb") as f:
            self.key = f.read().rstrip(b"\n")
        self.procs = []
        for _ in range(3):
            # All below the ephemeral range, where no connection's source
            # port can take one between the pick and the node's bind.
            ports = conftest.free_port_runs(6, 2)
            raft, self.ports = ports[:3], ports[3:]   # group g: raft + g
            self.peers = []
            for i, p in enumerate(raft):
                self.peers += ["--peer", "%d=127.0.0.1:%d" % (i + 1, p)]
            for f in os.listdir(self.tmp):     # a failed try's
                f = os.path.join(self.tmp, f)
                if os.path.isdir(f):
                    shutil.rmtree(f)
                else:
                    os.unlink(f)
            self.procs = [self._start(i + 1) for i in range(3)]
            if self._started():
                return
            self._kill_all()
        raise RuntimeError("a node would not start, 3 times; the nodes' "
                           "logs end:\n%s" % self.log_tails())

    def _started(self, limit=10):
        """Whether every node said ready (False once one has exited)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if any(p.poll() is not None for p in self.procs):
                return False
            if all(b"master info: ready" in self._log(n)
                   for n in (1, 2, 3)):
                return True
            time.sleep(0.05)
        return False

    def _log(self, node):
        try:
            with open(os.path.join(self.tmp, "node%d.log" % node),
                      "rb") as f:
                return f.read()
        except OSError:
            return b""

    def _start(self, node):
        args = [QLOCKD, "-f", "--workers", "2", "--listen",
                self.address(node), "--worker-ports", "0", "--authkey-file",
                self.keyfile, "--node-id", str(node)] + self.peers + [
                "--raft-dir", os.path.join(self.tmp, "raft%d" % node),
                "--raft-election-ms", "300"]
        if os.getuid() == 0:
            args.append("--user=root")
        log = open(os.path.join(self.tmp, "node%d.log" % node), "ab")
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def address(self, node):
        return "127.0.0.1:%d" % self.ports[node - 1]

    def topology(self, node):
        try:
            return Connection(self.address(node), self.key).call("topology")
        except (errors.Error, OSError):
            return None

    def wait_leaders(self, nodes, want, limit=30):
        """Until a topology through nodes names leaders want (None: any
        but dead ones) and each serves a named request; bounded."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            for node in nodes:
                t = self.topology(node)
                if (t is None or not all(t["leaders"]) or
                        not all(t["addrs"]) or
                        (want is not None and t["leaders"] != want)):
                    continue
                try:
                    for g, a in enumerate(t["addrs"]):
                        name = next("probe%d" % i for i in range(1000)
                                    if _route.shard_of("probe%d" % i,
                                                       len(t["addrs"])) == g)
                        Connection(a[0], self.key).call("queue.size", name)
                    return t
                except (errors.Error, OSError):
                    pass
            time.sleep(0.1)
        raise RuntimeError("no serving leaders %r within %d s; the nodes' "
                           "logs end:\n%s" % (want, limit, self.log_tails()))

    def log_tails(self, n=15):
        """The last n lines of each node's log (stop() removes them)."""
        out = []
        for node in (1, 2, 3):
            lines = self._log(node).decode(errors="replace").splitlines()
            out += ["node%d: %s" % (node, x) for x in lines[-n:]]
        return "\n".join(out)

    def kill9(self, node):
        p = self.procs[node - 1]
        kids = subprocess.run(["pgrep", "-P", str(p.pid)],
                              stdout=subprocess.PIPE).stdout.split()
        for pid in [p.pid] + [int(k) for k in kids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(10)
        # Gone, sockets closed (a zombie has closed them): bounded.
        end = time.monotonic() + 10
        while time.monotonic() < end and any(_alive(int(k)) for k in kids):
            time.sleep(0.02)

    def signal(self, node, sig):
        """Send sig to node's master and workers (SIGSTOP, SIGCONT)."""
        p = self.procs[node - 1]
        kids = subprocess.run(["pgrep", "-P", str(p.pid)],
                              stdout=subprocess.PIPE).stdout.split()
        for pid in [p.pid] + [int(k) for k in kids]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _kill_all(self):
        for node, p in enumerate(self.procs, 1):
            if p.poll() is None:
                self.kill9(node)

    def stop(self):
        self._kill_all()
        shutil.rmtree(self.tmp, ignore_errors=True)


def running_cluster(keyfile):
    """Three nodes, shard 0 led by node 1 and shard 1 by node 2, as the
    generator of a fixture: skipped without libraft, stopped after."""
    if _no_libraft():
        pytest.skip("qlockd built without libraft")
    c = Cluster(keyfile)
    try:
        # Generous: the leaders move to their preferred nodes, which takes
        # a few elections on a loaded machine.
        c.wait_leaders([1, 2, 3], [1, 2], limit=60)
        c.wait_leaders([3], [1, 2], limit=30)
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def cluster(keyfile):
    yield from running_cluster(keyfile)


def names_per_shard():
    """A queue name for each of the two shards."""
    return [next("cq%d" % i for i in range(1000)
                 if _route.shard_of("cq%d" % i, 2) == g) for g in (0, 1)]


def test_through_a_node_leading_nothing(cluster):
    c = qlock.Client(cluster.address(3), cluster.key)
    for name in names_per_shard():
        c.call("queue.put", name, "x-" + name, -1)
        assert c.call("queue.get", name, 0) == "x-" + name
    c.close()


def test_dead_member_listed_first(cluster):
    dead = "127.0.0.1:%d" % free_port()
    c = qlock.Client(",".join([dead, cluster.address(3),
                               cluster.address(2)]), cluster.key)
    for name in names_per_shard():
        c.call("queue.put", name, "y", -1)
        assert c.call("queue.get", name, 0) == "y"
    c.close()
    with pytest.raises(ConnectionError):
        qlock.Client(dead + "," + dead, cluster.key).ping()


def test_leader_killed_under_an_idle_client(cluster):
    # Connected through node 1 (shard 0's leader) and node 3: after kill
    # -9 of node 1 the next calls are served without reopening the Client
    # (nothing was in flight: no ConnectionError), each item once.
    c = qlock.Client(cluster.address(1) + "," + cluster.address(3),
                     cluster.key)
    names = names_per_shard()
    for i in range(20):
        c.call("queue.put", names[i % 2], "before-%d" % i, -1)
    cluster.kill9(1)
    start = time.monotonic()
    for i in range(20):
        c.call("queue.put", names[i % 2], "after-%d" % i, -1)
    served = time.monotonic() - start
    assert served < 10
    got = []
    for name in names:
        while True:
            try:
                got.append(c.call("queue.get", name, 0))
            except errors.EmptyError:
                break
    want = ["before-%d" % i for i in range(20)] + [
        "after-%d" % i for i in range(20)]
    assert sorted(got) == sorted(want)
    c.close()


def test_fixture_starts_again_when_a_port_is_taken(keyfile, monkeypatch):
    """A client port taken between its pick and the node's bind (as in CI:
    "Address already in use") makes the cluster start again on others."""
    if _no_libraft():
        pytest.skip("qlockd built without libraft")
    picks = []
    pick = conftest.free_port_runs
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()

        def first_taken(n, width):
            ports = pick(n, width)
            if not picks:
                ports[4] = held.getsockname()[1]    # node 2's client port
            picks.append(ports)
            return ports
        monkeypatch.setattr(conftest, "free_port_runs", first_taken)
        c = Cluster(keyfile)
        try:
            assert len(picks) == 2
            assert all(p.poll() is None for p in c.procs)
            assert b"Address already in use" not in c._log(2)
        finally:
            c.stop()
