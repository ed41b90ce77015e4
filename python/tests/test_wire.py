"""The wire: addresses, authkeys from arguments and the environment, the
handshake, and a connection per thread and per process."""
import os
import socket
import struct
import threading
import time

import pytest

import qlock
from qlock import errors


def test_explicit_address_and_key(daemon):
    c = qlock.Client(daemon.address, daemon.key)
    assert c.ping()
    assert c.stats()["workers"] == daemon.workers
    c.close()


def test_str_key_and_key_env(daemon, monkeypatch):
    assert qlock.Client(daemon.address, daemon.key.decode()).ping()
    monkeypatch.setenv("QLOCK_AUTHKEY", daemon.key.decode())
    monkeypatch.setenv("QLOCK_AUTHKEY_FILE", "/nonexistent")
    assert qlock.Client().ping()


def test_key_file_env(daemon, monkeypatch):
    monkeypatch.delenv("QLOCK_AUTHKEY", raising=False)
    monkeypatch.setenv("QLOCK_AUTHKEY_FILE", daemon.keyfile)
    c = qlock.Client()
    assert c.address == daemon.address
    assert c.ping()


def test_wrong_key_refused(daemon):
    c = qlock.Client(daemon.address, b"not the key at all")
    with pytest.raises(errors.AuthError):
        c.ping()


def test_no_key_refused(daemon, monkeypatch):
    monkeypatch.delenv("QLOCK_AUTHKEY", raising=False)
    monkeypatch.delenv("QLOCK_AUTHKEY_FILE", raising=False)
    with pytest.raises(errors.AuthError):
        qlock.Client()
    with pytest.raises(errors.AuthError):
        qlock.Client(daemon.address, b"")


def test_unix_socket(daemon):
    c = qlock.Client("unix:" + daemon.sock, daemon.key)
    assert c.ping()


def test_bad_addresses(daemon):
    for bad in ("nocolon", "::1:7450", "[::1]7450", "unix:"):
        with pytest.raises((ValueError, errors.ConnError)):
            qlock.Client(bad, daemon.key).ping()


def test_connection_refused(daemon):
    with pytest.raises(ConnectionError):
        qlock.Client("127.0.0.1:1", daemon.key).ping()


def test_one_connection_per_thread(client):
    mine = client.connection()
    assert client.connection() is mine
    other = []
    t = threading.Thread(target=lambda: other.append(client.connection()))
    t.start()
    t.join(10)
    assert other and other[0] is not mine


def test_forked_child_opens_its_own(client):
    parent = client.connection()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        ok = client.ping() and client.connection() is not parent
        os.write(w, b"1" if ok else b"0")
        os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(r)
    assert parent.sock is not None and client.ping()


def test_error_codes_map(client, name):
    qlock.Queue(name)
    with pytest.raises(TypeError):
        qlock.Lock(name).acquire(timeout=1)
    with pytest.raises(ValueError):
        qlock.Queue(name, maxsize=3)       # re-open with other settings


def test_v6_address(daemon):
    """[V6]:PORT reaches an IPv6 listener (a stand-in that fails the
    handshake: reaching it is what is checked)."""
    try:
        srv = socket.socket(socket.AF_INET6)
        srv.bind(("::1", 0))
        srv.listen(1)
    except OSError:
        pytest.skip("no IPv6 loopback")
    srv.settimeout(10)
    port = srv.getsockname()[1]

    def answer():
        conn, _ = srv.accept()
        conn.sendall(struct.pack("!i", 5) + b"hello")
        conn.close()
    t = threading.Thread(target=answer, daemon=True)
    t.start()
    with pytest.raises(errors.AuthError, match="unexpected challenge"):
        qlock.Client("[::1]:%d" % port, b"some key").ping()
    t.join(10)
    srv.close()


def _silent_listener():
    # Takes connections into its backlog and never answers.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    return s, "127.0.0.1:%d" % s.getsockname()[1]


def test_connect_timeout(daemon, monkeypatch):
    # Issue 11, item 5: against a listener that never answers, then one
    # whose backlog is full, connecting gives up within
    # QLOCK_CONNECT_TIMEOUT, saying which, as libqlock does.
    lst, addr = _silent_listener()
    fill = []
    try:
        monkeypatch.setenv("QLOCK_CONNECT_TIMEOUT", "0.5")
        t0 = time.monotonic()
        with pytest.raises(errors.ConnError, match="no handshake"):
            qlock.Client(addr, daemon.key).ping()
        assert 0.45 <= time.monotonic() - t0 < 3
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(lst.getsockname())
            fill.append(c)
        t0 = time.monotonic()
        with pytest.raises(errors.ConnError, match="not connected within"):
            qlock.Client(addr, daemon.key).ping()
        assert 0.45 <= time.monotonic() - t0 < 3
        monkeypatch.setenv("QLOCK_CONNECT_TIMEOUT", "soon")
        with pytest.raises(errors.InvalError):
            qlock.Client(addr, daemon.key).ping()
    finally:
        for c in fill:
            c.close()
        lst.close()
    # The daemon itself is reached as before, within the limit.
    monkeypatch.setenv("QLOCK_CONNECT_TIMEOUT", "5")
    assert qlock.Client(daemon.address, daemon.key).ping()
