#!/bin/bash
# bench/fsync.sh: acknowledged puts per second with a log, qlockd's
# --fsync always / everysec next to redis-server's appendfsync always /
# everysec, on the same disk in the same run, REPS times interleaved; prints
# the median of each.  Redis is measured twice: by qlock-bench --redis, the
# same client that measures qlockd (LPUSH for a put), and by its own
# redis-benchmark.  See docs/PERFORMANCE.md.
#
# usage: bench/fsync.sh [BUILD_DIR]   environment: REPS (3), N (20000),
#   CLIENTS ("1 8"), SIZE (64), WORKERS (1), DIR (a new dir under /var/tmp),
#   PROCS (1: qlock-bench drives the clients from one polling process, as
#   redis-benchmark does; 0: a polling process per client).  Both servers
#   are driven by the same polling client code (qlock-bench --procs).
set -eu

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
REPS=${REPS:-3}
N=${N:-20000}
CLIENTS=${CLIENTS:-"1 8"}
SIZE=${SIZE:-64}
WORKERS=${WORKERS:-1}
PROCS=${PROCS:-1}
DIR=${DIR:-$(mktemp -d /var/tmp/qlock-fsync.XXXXXX)}
QPID= RPID=

cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	[ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Wait (bounded) until a command succeeds.
wait_for() {
	local i
	for i in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "fsync.sh: gave up waiting for: $*" >&2
	return 1
}

qlockd_run() {	# policy clients -> puts/s
	local port rate
	port=$(free_port)
	rm -rf "$DIR/q"; mkdir -p "$DIR/q"
	"$BUILD/qlockd" $asroot -f --listen 127.0.0.1:$port --worker-ports 0 \
	    --workers "$WORKERS" \
	    --authkey-file "$DIR/key" --data-dir "$DIR/q" --fsync "$1" \
	    --log-level warn 2>>"$DIR/qlockd.log" &
	QPID=$!
	wait_for env QLOCK_ADDRESS=127.0.0.1:$port QLOCK_AUTHKEY_FILE="$DIR/key" \
	    "$BUILD/qlock" ping
	rate=$("$BUILD/qlock-bench" -a 127.0.0.1:$port -k "$DIR/key" -t put \
	    -c "$2" -p "$(procs "$2")" -n "$N" -d "$SIZE" -q 8 \
	    --max-seconds 120 |
	    sed -n 's/^put: \([0-9.]*\) requests per second.*/\1/p')
	kill "$QPID"; wait "$QPID" 2>/dev/null || true; QPID=
	echo "${rate:-0}"
}

procs() {	# clients -> qlock-bench processes
	if [ "$PROCS" = 0 ] || [ "$PROCS" -gt "$1" ]; then echo "$1"; else echo "$PROCS"; fi
}

redis_run() {	# policy clients qb|rb -> LPUSH/s by qlock-bench or redis-benchmark
	local port rate
	port=$(free_port)
	rm -rf "$DIR/r"; mkdir -p "$DIR/r"
	redis-server --port "$port" --bind 127.0.0.1 --dir "$DIR/r" --save '' \
	    --appendonly yes --appendfsync "$1" --daemonize no \
	    --loglevel warning >>"$DIR/redis.log" 2>&1 &
	RPID=$!
	wait_for redis-cli -p "$port" ping
	if [ "$3" = qb ]; then
		rate=$("$BUILD/qlock-bench" --redis -a 127.0.0.1:$port -t put \
		    -c "$2" -p "$(procs "$2")" -n "$N" -d "$SIZE" -q 8 \
		    --max-seconds 120 |
		    sed -n 's/^put: \([0-9.]*\) requests per second.*/\1/p')
	else
		rate=$(redis-benchmark -p "$port" -t lpush -c "$2" -n "$N" \
		    -d "$SIZE" -q 2>/dev/null | tr '\r' '\n' |
		    sed -n 's/^LPUSH: \([0-9.]*\) requests per second.*/\1/p' |
		    tail -1)
	fi
	kill "$RPID"; wait "$RPID" 2>/dev/null || true; RPID=
	echo "${rate:-0}"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

mkdir -p "$DIR"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/key")
echo "qlock-bench processes: $([ "$PROCS" = 0 ] && echo "one per client" || echo "$PROCS")"
printf '%-9s %-8s %5s %14s %14s %14s\n' policy clients reps qlockd_puts/s \
    redis_lpush/s "(redis-bench)"
for policy in always everysec; do
	for c in $CLIENTS; do
		q= r= b=
		for _ in $(seq "$REPS"); do
			q="$q $(qlockd_run "$policy" "$c")"
			r="$r $(redis_run "$policy" "$c" qb)"
			b="$b $(redis_run "$policy" "$c" rb)"
		done
		printf '%-9s %-8s %5s %14s %14s %14s\n' "$policy" "$c" "$REPS" \
		    "$(echo $q | tr ' ' '\n' | median)" \
		    "$(echo $r | tr ' ' '\n' | median)" \
		    "$(echo $b | tr ' ' '\n' | median)"
	done
done
