#!/bin/sh
# it_pyqlock.sh: the qlock Python package's pytest suite (python/tests)
# against the real qlockd, with Debian's /usr/bin/python3 (override with
# $PYTHON).  Exit 77 (skip) when msgpack or pytest is missing:
# ./bootstrap installs python3-msgpack and python3-pytest.
set -u

PY=${PYTHON:-/usr/bin/python3}
srcdir=${srcdir:-.}
QLOCKD=${QLOCKD:-$(pwd)/qlockd}
export QLOCKD

if ! "$PY" -c 'import msgpack, pytest' >/dev/null 2>&1; then
	echo "SKIP: $PY lacks msgpack or pytest (./bootstrap installs them)"
	exit 77
fi
PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE
cd "$srcdir/python" || exit 1
# Bounded: the whole suite takes well under a minute.
exec timeout 900 "$PY" -m pytest -q -p no:cacheprovider tests
