#!/bin/sh
# it_python.sh: Python's own multiprocessing.connection.Client against the
# real qlockd: a Python >= 3.12 client authenticates unchanged and speaks
# msgpack-RPC; the system Python <= 3.11 (HMAC-MD5) is refused unless the
# daemon runs with --auth-legacy-md5.  Exit 77 (skip) without Python 3.12+.
set -u

here=$(cd "$(dirname "$0")" && pwd)
script=$here/it_python.py
QLOCKD=${QLOCKD:-./qlockd}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
LEGACY_PY=/usr/bin/python3

# Whether $1 runs and is Python >= 3.12.
is_py312() {
	"$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
	    >/dev/null 2>&1
}

# A Python >= 3.12 on PATH or under ~/.pyenv.  pyenv's shims are slow
# (and refuse versions not selected), so real binaries are tried first.
find_python() {
	shims=
	for p in python3.13 python3.12 python3; do
		path=$(command -v "$p") || continue
		case $path in
		*/.pyenv/shims/*) shims="$shims $path"; continue ;;
		esac
		is_py312 "$path" && { echo "$path"; return 0; }
	done
	for p in "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 $shims; do
		is_py312 "$p" && { echo "$p"; return 0; }
	done
	return 1
}

if ! PY=$(find_python); then
	echo "SKIP: no Python >= 3.12 (python3.13, python3.12, python3," \
	    "~/.pyenv/versions/3.1[2-9]*)"
	exit 77
fi
echo "using $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

tmp=$(mktemp -d /tmp/qlockd-itpy.XXXXXX) || exit 1
pid=
failed=0

cleanup() {
	if [ -n "$pid" ]; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if [ "$failed" -eq 0 ]; then
		rm -rf "$tmp"
	else
		echo "daemon logs kept in $tmp"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	failed=1
}

# start_daemon ARGS...: a daemon on a free port with a fresh key; sets
# pid and port.  Retries if the port is taken before the daemon binds it.
start_daemon() {
	(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/key")
	for try in 1 2 3 4 5; do
		port=$("$PY" -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		echo "--- qlockd --listen 127.0.0.1:$port $*" >>"$tmp/log"
		"$QLOCKD" $asroot -f --listen "127.0.0.1:$port" --authkey-file "$tmp/key" \
		    --workers 2 --worker-ports 0 "$@" >>"$tmp/log" 2>&1 &
		pid=$!
		if "$PY" "$script" wait "$port" "$tmp/key"; then
			return 0
		fi
		if kill -0 "$pid" 2>/dev/null; then
			fail "qlockd not ready on port $port"
			cat "$tmp/log"
			return 1
		fi
		wait "$pid"
		pid=
	done
	fail "qlockd would not start"
	cat "$tmp/log"
	return 1
}

# stop_daemon: SIGTERM, at most 10 s, and exit status 0.
stop_daemon() {
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
		# Polling the process state, bounded: 100 x 0.1 s.
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "qlockd still running 10 s after SIGTERM; killed"
		kill -9 "$pid"
		wait "$pid"
	else
		wait "$pid"
		status=$?
		[ "$status" -eq 0 ] || fail "qlockd exited $status after SIGTERM"
	fi
	pid=
}

# A daemon without --auth-legacy-md5: modern clients only.
if start_daemon; then
	"$PY" "$script" modern "$port" "$tmp/key" ||
	    fail "Python >= 3.12 client"
	if "$LEGACY_PY" -c 'import sys; sys.exit(sys.version_info >= (3, 12))' \
	    >/dev/null 2>&1; then
		"$LEGACY_PY" "$script" legacy-refused "$port" "$tmp/key" ||
		    fail "legacy client not refused"
	else
		echo "note: no Python <= 3.11 at $LEGACY_PY; legacy checks skipped"
		LEGACY_PY=
	fi
	stop_daemon
fi

# With --auth-legacy-md5, Python <= 3.11 gets in too.
if [ -n "$LEGACY_PY" ] && start_daemon --auth-legacy-md5; then
	"$LEGACY_PY" "$script" legacy-ok "$port" "$tmp/key" ||
	    fail "legacy client with --auth-legacy-md5"
	"$PY" "$script" modern "$port" "$tmp/key" ||
	    fail "Python >= 3.12 client with --auth-legacy-md5"
	stop_daemon
fi

if [ "$failed" -ne 0 ]; then
	echo "--- daemon log ---"
	cat "$tmp/log"
	exit 1
fi
exit 0
