"""Fixtures: the real qlockd (built in the tree) on a free loopback port,
with 1 and with 3 workers; the environment points qlock at it, so that
children under fork and spawn find it too."""
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import qlock  # noqa: E402
from qlock import client as qclient  # noqa: E402

QLOCKD = os.environ.get("QLOCKD") or os.path.join(
    os.path.dirname(os.path.dirname(HERE)), "qlockd")
START_TIMEOUT = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_runs(n, width):
    """n bases of width consecutive ports free now, below the kernel's
    ephemeral range (a cluster node's Raft group g listens on base + g: a
    port picked in that range, or next to one, can be any connection's
    source port meanwhile, and the node's worker then cannot listen)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    bases, held = [], []
    try:
        for _ in range(10000):
            if len(bases) == n:
                break
            base = random.randrange(max(1024, lo - 12000), lo - width)
            if any(abs(base - b) < width for b in bases):
                continue
            socks = []
            try:
                for k in range(width):
                    t = socket.socket()
                    socks.append(t)
                    t.bind(("127.0.0.1", base + k))
            except OSError:
                for t in socks:
                    t.close()
                continue
            held += socks
            bases.append(base)
    finally:
        for t in held:
            t.close()
    if len(bases) < n:
        raise RuntimeError("no %d runs of %d free ports" % (n, width))
    return bases


class Daemon:
    """One qlockd process and how to reach it."""

    def __init__(self, workers, tmp, keyfile):
        self.workers = workers
        self.tmp = tmp
        self.keyfile = keyfile
        self.sock = os.path.join(tmp, "sock")
        with open(keyfile, "rb") as f:
            self.key = f.read().rstrip(b"\n")
        self.log = open(os.path.join(tmp, "log"), "ab")
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            self.address = "127.0.0.1:%d" % self.port
            if self._start():
                return
        raise RuntimeError("qlockd would not start: see %s" % tmp)

    def _start(self):
        args = [QLOCKD, "-f", "--listen", self.address,
                "--listen", "unix:" + self.sock, "--workers",
                str(self.workers), "--authkey-file", self.keyfile,
                "--worker-ports", "0"]
        if os.getuid() == 0:
            args.append("--user=root")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False        # port taken meanwhile: try another
            try:
                c = qlock.Client(self.address, self.key)
                if c.ping():
                    c.close()
                    return True
            except (qlock.Error, OSError):
                time.sleep(0.05)    # bounded: until START_TIMEOUT
        self.stop()
        raise RuntimeError("qlockd not ready on %s" % self.address)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def keyfile():
    """One key file for every daemon of the run: a forkserver started
    under the first daemon keeps its environment (QLOCK_AUTHKEY_FILE)."""
    tmp = tempfile.mkdtemp(prefix="qlock-pytest-key.")
    path = os.path.join(tmp, "key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, secrets.token_hex(32).encode() + b"\n")
    os.close(fd)
    yield path
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session", params=[1, 3], ids=["1worker", "3workers"])
def daemon(request, keyfile):
    tmp = tempfile.mkdtemp(prefix="qlock-pytest.")
    d = Daemon(request.param, tmp, keyfile)
    old = {k: os.environ.get(k) for k in
           ("QLOCK_ADDRESS", "QLOCK_AUTHKEY", "QLOCK_AUTHKEY_FILE")}
    os.environ["QLOCK_ADDRESS"] = d.address
    os.environ["QLOCK_AUTHKEY_FILE"] = d.keyfile
    os.environ.pop("QLOCK_AUTHKEY", None)
    yield d
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    d.stop()


@pytest.fixture
def client(daemon):
    """The environment's shared client, on this daemon."""
    c = qclient.get_client()
    assert c.address == daemon.address
    yield c
    c.close()


@pytest.fixture
def name(daemon):
    """A fresh object name for one test."""
    return "t." + uuid.uuid4().hex
