#!/bin/sh
# it_metrics.sh: the Prometheus endpoint of the real qlockd (--workers 2
# --metrics-listen): a real HTTP GET of /metrics after puts, gets and an
# unknown method; per-method requests, queue depths, connections per
# worker, a SIGKILLed worker in
# qlockd_worker_restarts_total, 404 elsewhere; and `qlock stats --json`.
# Python 3 does the HTTP, the free ports and the raw unknown-method
# request (exit 77, skip, without it).
set -u

here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}

# A python3 that runs; pyenv's shims are slow, so real binaries first.
find_python() {
	shim=
	for p in $(command -v python3) /usr/bin/python3 /usr/local/bin/python3; do
		case $p in
		*/.pyenv/shims/*) shim=$p; continue ;;
		esac
		[ -x "$p" ] && "$p" -c 'import sys' >/dev/null 2>&1 &&
		    { echo "$p"; return 0; }
	done
	[ -n "$shim" ] && "$shim" -c 'import sys' >/dev/null 2>&1 &&
	    { echo "$shim"; return 0; }
	return 1
}

if ! PY=$(find_python); then
	echo "SKIP: no python3"
	exit 77
fi

tmp=$(mktemp -d /tmp/qlockd-itmetrics.XXXXXX) || exit 1
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
		echo "daemon log kept in $tmp/log"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	failed=1
}

# The helper: free ports, HTTP GET, and one raw msgpack-RPC request.
cat >"$tmp/h.py" <<'EOF'
import hashlib, hmac, os, socket, struct, sys, urllib.error, urllib.request

def port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])

def get(url, out):
    """Write status, content type, then the body to out."""
    try:
        r = urllib.request.urlopen(url, timeout=5)
        status, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        status, ctype, body = e.code, e.headers.get("Content-Type", ""), b""
    with open(out, "wb") as f:
        f.write(b"%d\n%s\n" % (status, ctype.encode()) + body)

def frame(s, body):
    s.sendall(struct.pack(">i", len(body)) + body)

def unframe(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b
    return exact(struct.unpack(">i", exact(4))[0])

def nomethod(port, keyfile):
    """Authenticate (HMAC-SHA256) and call an unknown method: exit 0 if
    the answer is a NoMethod error."""
    key = open(keyfile, "rb").read().rstrip(b"\n")
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    msg = unframe(s)[len(b"#CHALLENGE#"):]
    frame(s, b"{sha256}" + hmac.new(key, msg, hashlib.sha256).digest())
    if unframe(s) != b"#WELCOME#":
        sys.exit("not welcome")
    mine = b"{sha256}" + os.urandom(32)
    frame(s, b"#CHALLENGE#" + mine)
    if unframe(s) != b"{sha256}" + hmac.new(key, mine, hashlib.sha256).digest():
        sys.exit("bad server proof")
    frame(s, b"#WELCOME#")
    # [0, 7, "no.such.method", []]
    frame(s, b"\x94\x00\x07\xaeno.such.method\x90")
    reply = unframe(s)
    sys.exit(0 if b"NoMethod" in reply else "no NoMethod in %r" % reply)

cmd = sys.argv[1]
if cmd == "port":
    port()
elif cmd == "get":
    get(sys.argv[2], sys.argv[3])
elif cmd == "nomethod":
    nomethod(sys.argv[2], sys.argv[3])
EOF

(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/key")

q() {
	"$QLOCK_CLI" -a "127.0.0.1:$port" -k "$tmp/key" "$@"
}

# scrape PATH: GET it into $tmp/resp; sets status and ctype.
scrape() {
	rm -f "$tmp/resp"
	"$PY" "$tmp/h.py" get "http://127.0.0.1:$mport$1" "$tmp/resp" ||
	    { status=0; ctype=; return 1; }
	status=$(sed -n 1p "$tmp/resp")
	ctype=$(sed -n 2p "$tmp/resp")
	sed -n '3,$p' "$tmp/resp" >"$tmp/body"
}

# sample NAME_WITH_LABELS: the value of one sample in the last scrape.
sample() {
	N=$1 awk 'substr($0, 1, length(ENVIRON["N"]) + 1) == ENVIRON["N"] " " {
		print $NF }' "$tmp/body"
}

# Start the daemon on two free ports; retry if one is taken meanwhile.
started=0
for try in 1 2 3 4 5; do
	port=$("$PY" "$tmp/h.py" port)
	mport=$("$PY" "$tmp/h.py" port)
	[ "$port" = "$mport" ] && continue
	echo "--- try $try: ports $port, $mport" >>"$tmp/log"
	"$QLOCKD" $asroot -f --listen "127.0.0.1:$port" --authkey-file "$tmp/key" \
	    --workers 2 --worker-ports 0 --metrics-listen "127.0.0.1:$mport" \
	    >>"$tmp/log" 2>&1 &
	pid=$!
	i=0
	# Polling readiness, bounded: 100 x 0.1 s.
	while [ "$i" -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
		if q ping >/dev/null 2>&1 && scrape /metrics &&
		    [ "$(sample qlockd_workers_up)" = 2 ]; then
			started=1
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	[ "$started" -eq 1 ] && break
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
done
if [ "$started" -ne 1 ]; then
	fail "qlockd would not start"
	cat "$tmp/log"
	exit 1
fi

# Traffic: 5 puts and 2 gets on one queue, a name that needs escaping,
# and an unknown method.
for i in 1 2 3 4 5; do
	q put mq "item $i" || fail "put $i"
done
q get mq --timeout 0 >/dev/null || fail "get 1"
q get mq --timeout 0 >/dev/null || fail "get 2"
q put 'we"ird\name' x || fail "put on a name with a quote and a backslash"
"$PY" "$tmp/h.py" nomethod "$port" "$tmp/key" || fail "unknown method not NoMethod"
size=$(q size mq) || fail "size"

scrape /metrics || fail "GET /metrics"
[ "$status" = 200 ] || fail "GET /metrics: status $status"
case $ctype in
"text/plain; version=0.0.4"*) ;;
*) fail "GET /metrics: Content-Type '$ctype'" ;;
esac
[ "$(sample qlockd_workers_up)" = 2 ] ||
    fail "qlockd_workers_up $(sample qlockd_workers_up), not 2"
puts=$(sample 'qlockd_requests_total{method="queue.put"}')
[ -n "$puts" ] && [ "$puts" -ge 6 ] ||
    fail "qlockd_requests_total queue.put '$puts', not >= 6"
depth=$(sample 'qlockd_queue_depth{queue="mq"}')
[ "$size" = 3 ] && [ "$depth" = "$size" ] ||
    fail "qlockd_queue_depth mq '$depth', qlock size '$size', not both 3"
[ "$(sample 'qlockd_queue_depth{queue="we\"ird\\name"}')" = 1 ] ||
    fail "escaped queue label missing"
nm=$(sample 'qlockd_errors_total{code="NoMethod"}')
[ -n "$nm" ] && [ "$nm" -ge 1 ] || fail "qlockd_errors_total NoMethod '$nm'"
[ "$(sample qlockd_worker_restarts_total)" = 0 ] ||
    fail "restarts before any worker died"
for m in qlockd_connections qlockd_connections_total qlockd_sessions \
    qlockd_auth_failures_total qlockd_forwarded_total qlockd_relayed_total \
    qlockd_retries_answered_total qlockd_waiters \
    qlockd_log_bytes qlockd_log_fsyncs_total qlockd_log_fsync_seconds_total \
    'qlockd_objects{kind="queue"}' 'qlockd_queue_waiters{queue="mq"}'; do
	[ -n "$(sample "$m")" ] || fail "no $m"
done
# Per worker: with 4 connections open (not authenticating, for 5 s at
# most), both workers, adding up to the total.
"$PY" -c 'import socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(4)]
time.sleep(5)' "$port" &
holder=$!
i=0
while [ "$i" -lt 40 ]; do
	scrape /metrics && [ "$(sample qlockd_connections)" = 4 ] && break
	sleep 0.1
	i=$((i + 1))
done
w0=$(sample 'qlockd_worker_connections{worker="0"}')
w1=$(sample 'qlockd_worker_connections{worker="1"}')
[ -n "$w0" ] && [ -n "$w1" ] && [ $((w0 + w1)) -eq 4 ] &&
    [ "$(sample qlockd_connections)" = 4 ] ||
    fail "qlockd_worker_connections '$w0' + '$w1' not qlockd_connections" \
	"'$(sample qlockd_connections)', 4"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
scrape /metrics || fail "GET /metrics"
for m in workers_up requests_total errors_total queue_depth worker_connections; do
	grep -q "^# TYPE qlockd_$m " "$tmp/body" || fail "no TYPE line for $m"
	grep -q "^# HELP qlockd_$m " "$tmp/body" || fail "no HELP line for $m"
done

scrape /other
[ "$status" = 404 ] || fail "GET /other: status $status, not 404"

# qlock stats --json is one JSON object.
q stats --json >"$tmp/stats.json" || fail "qlock stats --json"
"$PY" -m json.tool "$tmp/stats.json" >/dev/null ||
    fail "qlock stats --json is not JSON: $(cat "$tmp/stats.json")"

# SIGKILL a worker: counted once it is back.
wpid=
for d in /proc/[0-9]*; do
	[ "$(awk '{ print $4 }' "$d/stat" 2>/dev/null)" = "$pid" ] &&
	    { wpid=${d#/proc/}; break; }
done
if [ -z "$wpid" ]; then
	fail "no worker process found"
else
	kill -9 "$wpid"
	i=0
	ok=0
	# Polling the metrics, bounded: 100 x 0.1 s (a restart takes 0.1 s).
	while [ "$i" -lt 100 ]; do
		if scrape /metrics && [ "$(sample qlockd_workers_up)" = 2 ] &&
		    [ "$(sample qlockd_worker_restarts_total)" = 1 ]; then
			ok=1
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	[ "$ok" -eq 1 ] || fail "after SIGKILL: workers_up" \
	    "$(sample qlockd_workers_up), restarts" \
	    "$(sample qlockd_worker_restarts_total)"
fi

# SIGTERM: at most 10 s, exit status 0.
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
	# Polling the process state, bounded: 100 x 0.1 s.
	sleep 0.1
	i=$((i + 1))
done
if kill -0 "$pid" 2>/dev/null; then
	fail "qlockd still running 10 s after SIGTERM; killed"
else
	wait "$pid"
	st=$?
	[ "$st" -eq 0 ] || fail "qlockd exited $st after SIGTERM"
	pid=
fi

if [ "$failed" -ne 0 ]; then
	echo "--- last scrape ---"
	cat "$tmp/body" 2>/dev/null
	echo "--- daemon log ---"
	cat "$tmp/log"
	exit 1
fi
exit 0
