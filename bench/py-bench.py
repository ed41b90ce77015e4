#!/usr/bin/env python3
"""bench/py-bench.py: the qlock Python package against
multiprocessing.Manager() doing the same work, in the same run.

    QLOCK_ADDRESS=... QLOCK_AUTHKEY_FILE=... bench/py-bench.py [-n N] [-p P]

roundtrip: one client, put then get of a 64-byte bytes item, N pairs;
           also the client process's own CPU time per pair.
prodcons:  P producer and P consumer processes over one queue, N items.
Prints one line per system and test (items or pairs per second); the
daemon must be running (bench/run.sh style), Manager()'s server is
started here.  See docs/PERFORMANCE.md.
"""
import argparse
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "python"))
import qlock  # noqa: E402

ITEM = b"x" * 64


def roundtrip(q, n):
    """Pairs per second, and the client's own CPU time per pair (us)."""
    c = time.process_time()
    t = time.perf_counter()
    for _ in range(n):
        q.put(ITEM)
        q.get()
    t = time.perf_counter() - t
    return n / t, (time.process_time() - c) / n * 1e6


def produce(q, n):
    for _ in range(n):
        q.put(ITEM)


def consume(q, n):
    for _ in range(n):
        q.get(timeout=60)


def prodcons(q, n, procs):
    per = n // procs
    ps = [multiprocessing.Process(target=produce, args=(q, per))
          for _ in range(procs)]
    ps += [multiprocessing.Process(target=consume, args=(q, per))
           for _ in range(procs)]
    t = time.perf_counter()
    for p in ps:
        p.start()
    for p in ps:
        p.join(300)
        if p.exitcode != 0:
            raise SystemExit("a benchmark process failed")
    return per * procs / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("-n", type=int, default=20000, help="units per test")
    ap.add_argument("-p", type=int, default=4, help="producers (consumers)")
    a = ap.parse_args()
    qm = qlock.Manager()
    with multiprocessing.Manager() as mm:
        for system, m in (("qlock", qm), ("Manager", mm)):
            r, cpu = roundtrip(m.Queue(), a.n)
            print("%-8s roundtrip: %8.0f put+get pairs/s (1 client; its "
                  "CPU %.1f us a pair)" % (system, r, cpu))
            r = prodcons(m.Queue(), a.n, a.p)
            print("%-8s prodcons:  %8.0f items/s (%d producers, %d "
                  "consumers)" % (system, r, a.p, a.p))
    qm.shutdown()


if __name__ == "__main__":
    main()
