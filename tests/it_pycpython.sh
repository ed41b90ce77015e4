#!/bin/sh
# it_pycpython.sh: CPython's own manager tests of multiprocessing's
# primitives (test/_test_multiprocessing.py) with qlock.Manager in their
# place, against the real qlockd with 1 and 3 workers
# (python/tests/cpython/run_mp_tests.py).  Debian's /usr/bin/python3
# (override with $PYTHON); exit 77 (skip) without the test file
# (libpython3.11-testsuite, installed by ./bootstrap) or msgpack.
set -u

PY=${PYTHON:-/usr/bin/python3}
srcdir=${srcdir:-.}
QLOCKD=${QLOCKD:-$(pwd)/qlockd}
export QLOCKD
PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE
# Bounded: a run takes about 10 s per daemon.
exec timeout 600 "$PY" "$srcdir/python/tests/cpython/run_mp_tests.py" \
    --workers 1 3
