#!/bin/sh
# it_cli.sh: the qlock tool against the real qlockd, as a user runs it:
# its messages, exit statuses and input (issue 11).
#
# Uses $QLOCKD and $QLOCK_CLI (set by make check), else ../qlockd and
# ../qlock next to this script.  Exit 0 pass, 1 fail, 77 skip.

here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

if [ ! -x "$QLOCKD" ] || [ ! -x "$QLOCK_CLI" ] || [ -z "$PY" ]; then
	echo "SKIP: no $QLOCKD, $QLOCK_CLI or python3"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/it_cli.XXXXXX") || exit 1
daemon=		# qlockd's pid
silent=		# a listener that never answers
fails=0

cleanup() {
	[ -n "$silent" ] && kill "$silent" 2>/dev/null
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "FAIL: $*"
	fails=1
}
ok() {
	echo "ok: $*"
}

# Run qlock with a bound on its time; its stdout, stderr and status in
# $tmp/out, $tmp/err and $rc.
q() {
	timeout 20 "$QLOCK_CLI" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
}
# Expect status $1 and $3 in stderr for the last run, described by $2.
expect() {
	if [ "$rc" -ne "$1" ]; then
		fail "$2: exit $rc, not $1 ($(cat "$tmp/err"))"
	elif [ -n "$3" ] && ! grep -q -- "$3" "$tmp/err"; then
		fail "$2: stderr lacks '$3': $(cat "$tmp/err")"
	else
		ok "$2"
	fi
}

(umask 077; echo "it-cli-test-key-long-enough" > "$tmp/key")
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$QLOCKD" $asroot -f --listen 127.0.0.1:$port --workers 2 \
    --authkey-file "$tmp/key" --max-frame 4096 > "$tmp/daemon.log" 2>&1 &
daemon=$!
export QLOCK_ADDRESS=127.0.0.1:$port QLOCK_AUTHKEY_FILE=$tmp/key
unset QLOCK_AUTHKEY
n=0
until "$QLOCK_CLI" ping > /dev/null 2>&1; do
	n=$((n + 1))
	[ $n -gt 100 ] && { echo "FAIL: daemon not up"; cat "$tmp/daemon.log"; exit 1; }
	sleep 0.1
done

# Item 2: an item over --max-frame says so, and the limit.  It was
# "connection closed by the daemon".
big=$(head -c 10000 /dev/zero | tr '\0' x)
q put cli.big "$big"
expect 2 "put over the frame limit" "over the limit of 4096 bytes"

# Item 5: a listener that never answers, then one that never accepts (its
# backlog full): ping gives up within the connect timeout, saying so.  It
# hung (connect(2) had no limit; the handshake waited 30 s a frame).
"$PY" - > "$tmp/silent.port" <<'PY' &
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
time.sleep(60)      # bounded; killed when done
PY
silent=$!
n=0
until [ -s "$tmp/silent.port" ]; do
	n=$((n + 1)); [ $n -gt 100 ] && { echo "FAIL: no listener"; exit 1; }
	sleep 0.1
done
saddr=127.0.0.1:$(cat "$tmp/silent.port")
# Seconds since $1 (a date +%s.%N).
since() {
	echo "$1 $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }'
}
# Expect the last run to have taken from $1 to $2 seconds ($3 describes).
took() {
	if awk -v t="$dt" -v lo="$1" -v hi="$2" 'BEGIN { exit !(t >= lo && t < hi) }'; then
		ok "$3 gave up after $dt s"
	else
		fail "$3 gave up after $dt s, not within [$1, $2)"
	fi
}
t0=$(date +%s.%N)
q -a "$saddr" -T 1 ping
dt=$(since "$t0")
expect 2 "ping, -T 1, silent listener" "no handshake from the daemon within the connect timeout of 1 s"
took 0.9 4 "ping -T 1"
# Its backlog now holds that connection: the next SYNs are dropped.
t0=$(date +%s.%N)
QLOCK_CONNECT_TIMEOUT=1.5 q -a "$saddr" ping
dt=$(since "$t0")
expect 2 "ping, QLOCK_CONNECT_TIMEOUT=1.5, backlog full" "not connected within the connect timeout of 1.5 s"
took 1.4 4.5 "QLOCK_CONNECT_TIMEOUT=1.5"
QLOCK_CONNECT_TIMEOUT=soon q -a "$saddr" ping
expect 2 "a bad QLOCK_CONNECT_TIMEOUT" "QLOCK_CONNECT_TIMEOUT: not a number"
q -T x ping
expect 2 "a bad -T" "bad --connect-timeout"
kill "$silent" 2>/dev/null
wait "$silent" 2>/dev/null
silent=

[ $fails -eq 0 ] && echo "PASS" || sed 's/^/qlockd: /' "$tmp/daemon.log"
exit $fails
