# it_lib.sh: sourced by the qlock tool's shell tests (it_cli.sh,
# it_readme.sh, it_cli_lock.sh): the binaries, a temporary directory, the
# real qlockd on a free loopback port, and cleanup of what the test
# started, by pid.  The caller sets $here (its own directory) and $name.

QLOCKD=${QLOCKD:-$here/../qlockd}
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
if [ ! -x "$QLOCKD" ] || [ ! -x "$QLOCK_CLI" ] || [ -z "$PY" ]; then
	echo "SKIP: no $QLOCKD, $QLOCK_CLI or python3"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
daemon=		# qlockd's pid
pids=		# other processes to kill at the end
fails=0

cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# A failure that ends the test, with the daemon's log.
die() {
	echo "FAIL: $*"
	[ -f "$tmp/daemon.log" ] && sed 's/^/qlockd: /' "$tmp/daemon.log"
	exit 1
}
# A failure counted; the test goes on.
fail() {
	echo "FAIL: $*"
	fails=1
}
ok() {
	echo "ok: $*"
}
# The end: PASS, or the daemon's log.
finish() {
	if [ $fails -eq 0 ]; then
		echo PASS
	else
		[ -f "$tmp/daemon.log" ] && sed 's/^/qlockd: /' "$tmp/daemon.log"
	fi
	exit $fails
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
# Run the condition "$@" every 0.1 s until it holds; 1 after $1 s.
wait_for() {
	_limit=$1
	shift
	_n=0
	until "$@"; do
		_n=$((_n + 1))
		[ $_n -ge $((_limit * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# A free loopback TCP port, below the kernel's ephemeral range: a port in
# it can become some connection's source port before the daemon binds it.
free_port() {
	"$PY" - <<'PYEOF'
import random, socket
try:
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    lo = 32768
for _ in range(1000):
    p = random.randrange(max(1024, lo - 12000), lo)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
    print(p)
    break
else:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
PYEOF
}

# Start qlockd with a fresh key and the options "$@", and point the
# environment at it; $port is its port.
start_daemon() {
	(umask 077; echo "$name-test-key-long-enough" > "$tmp/key")
	QLOCK_AUTHKEY_FILE=$tmp/key
	export QLOCK_AUTHKEY_FILE
	unset QLOCK_AUTHKEY QLOCK_CONNECT_TIMEOUT
	# The port is free when picked but may be taken before the bind (a
	# source port of some other connection): then again, with another.
	for _try in 1 2 3; do
		port=$(free_port)
		# --worker-ports 0: a port derived from $port may be taken too.
		"$QLOCKD" $asroot -f --listen 127.0.0.1:$port --worker-ports 0 \
		    --authkey-file "$tmp/key" "$@" > "$tmp/daemon.log" 2>&1 &
		daemon=$!
		QLOCK_ADDRESS=127.0.0.1:$port
		export QLOCK_ADDRESS
		_n=0
		while [ $_n -lt 100 ] && kill -0 $daemon 2> /dev/null; do
			"$QLOCK_CLI" ping > /dev/null 2>&1 && return 0
			_n=$((_n + 1))
			sleep 0.1
		done
		kill -0 $daemon 2> /dev/null && die "daemon not up"
		grep -q "Address already in use" "$tmp/daemon.log" ||
		    die "daemon exited: $(cat "$tmp/daemon.log")"
	done
	die "daemon not up: no free port in 3 tries"
}
