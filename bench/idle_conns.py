#!/usr/bin/env python3
"""bench/idle_conns.py: open N idle connections to a server and hold them.

usage: idle_conns.py HOST PORT N [AUTHKEY_FILE]
With an authkey file each connection first completes qlockd's handshake
(the HMAC-SHA256 challenge of Python 3.12's multiprocessing, both ways:
qlockd drops connections that stay unauthenticated); without, plain TCP
connections (Redis).  Prints "ready N" once all are open, then holds them
until its standard input closes.
"""
import hmac
import os
import socket
import struct
import sys


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed during the handshake")
        buf += chunk
    return buf


def frame_recv(s):
    (n,) = struct.unpack("!i", recv_exact(s, 4))
    return recv_exact(s, n)


def frame_send(s, body):
    s.sendall(struct.pack("!i", len(body)) + body)


def handshake(s, key):
    msg = frame_recv(s)
    if not msg.startswith(b"#CHALLENGE#{sha256}"):
        raise ConnectionError("unexpected challenge %r" % msg[:20])
    msg = msg[len(b"#CHALLENGE#"):]
    frame_send(s, b"{sha256}" + hmac.new(key, msg, "sha256").digest())
    if frame_recv(s) != b"#WELCOME#":
        raise ConnectionError("authkey refused")
    mine = b"{sha256}" + os.urandom(40)
    frame_send(s, b"#CHALLENGE#" + mine)
    frame_recv(s)                   # the server's answer; trusted here
    frame_send(s, b"#WELCOME#")


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    key = None
    if len(sys.argv) > 4:
        with open(sys.argv[4], "rb") as f:
            key = f.read()
        if key.endswith(b"\n"):
            key = key[:-1]
    held = []
    for _ in range(n):
        s = socket.create_connection((host, port))
        if key is not None:
            handshake(s, key)
        held.append(s)
    print("ready", len(held), flush=True)
    sys.stdin.read()


main()
