#!/bin/bash
# bench/queue_mem.sh: memory per queued item, qlockd against redis-server,
# with the same client (qlock-bench --test put, one connection, one request
# in flight, so bounded): COUNT items of SIZE bytes of payload put into one
# queue (qlockd: a msgpack bin, as libqlock sends it, so SIZE + 2 bytes for
# SIZE < 256; Redis: an LPUSH of SIZE bytes), then (RSS of all the server's
# processes after - before) / COUNT, "before" taken once a warm-up has
# grown the buffers a first connection needs.  Each server runs on a free loopback
# port, Redis with nothing saved.  See docs/PERFORMANCE.md.
#
# usage: bench/queue_mem.sh [BUILD_DIR]    (default: the directory above)
# environment: COUNT (1000000), SIZE (100), WORKERS (qlockd's --workers:
#   default the daemon's own), REDIS (1: also Redis; 0: not),
#   MAX_SECONDS (300), OUT (a new temp dir)
set -eu

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)}
QLOCKD=$BUILD/qlockd
QLOCK=$BUILD/qlock
QBENCH=$BUILD/qlock-bench
COUNT=${COUNT:-1000000}
SIZE=${SIZE:-100}
WORKERS=${WORKERS:-}
REDIS=${REDIS:-1}
MAX_SECONDS=${MAX_SECONDS:-300}
OUT=${OUT:-$(mktemp -d /tmp/qlock-mem.XXXXXX)}
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
QPID=
RPID=

for f in "$QLOCKD" "$QLOCK" "$QBENCH"; do
	[ -x "$f" ] || { echo "queue_mem.sh: $f missing: run make first" >&2; exit 2; }
done
if [ "$REDIS" = 1 ] && ! command -v redis-server >/dev/null; then
	echo "queue_mem.sh: redis-server missing: apt-get install -y" \
	    "redis-server, or REDIS=0" >&2
	exit 2
fi
mkdir -p "$OUT"

. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

# Put COUNT items: qlock-bench with the address and any extra arguments.
fill() {
	"$QBENCH" "$@" -t put -c 1 -p 1 -q 1 -n "$COUNT" -d "$SIZE" \
	    -s "$MAX_SECONDS" --prefix qmem --csv >>"$OUT/bench.csv"
}

# Warm the server up first: 2000 put+get pairs on another queue, leaving
# nothing queued, so that buffers a first connection grows (some MB on
# each qlockd worker) are in "before" and only the queued items count.
warm() {
	"$QBENCH" "$@" -t roundtrip -c 1 -p 1 -q 1 -n 2000 -d "$SIZE" \
	    -s "$MAX_SECONDS" --prefix qwarm --csv >>"$OUT/bench.csv"
	sleep 1
}

# Print one result line: system before_kb after_kb.
report() {
	awk -v s="$1" -v b="$2" -v a="$3" -v n="$COUNT" -v d="$SIZE" 'BEGIN {
		printf "%-8s %d items of %d bytes: RSS %.1f MB -> %.1f MB, " \
		    "%.1f bytes per item\n", s, n, d, b / 1024, a / 1024,
		    (a - b) * 1024 / n }'
}

(umask 077; head -c 32 /dev/urandom | base64 >"$OUT/authkey")

qlockd_start "$WORKERS"
warm -a 127.0.0.1:$QPORT -k "$OUT/authkey"
before=$(rss_tree $QPID)
fill -a 127.0.0.1:$QPORT -k "$OUT/authkey"
sleep 1
after=$(rss_tree $QPID)
report qlockd "$before" "$after"
cleanup

if [ "$REDIS" = 1 ]; then
	redis_start
	warm -a 127.0.0.1:$RPORT --redis
	before=$(rss_tree $RPID)
	fill -a 127.0.0.1:$RPORT --redis
	sleep 1
	after=$(rss_tree $RPID)
	report redis "$before" "$after"
	echo "redis: $(redis-server --version | awk '{ print $3 }')," \
	    "LLEN $(redis-cli -p $RPORT --raw keys 'qmem*' | head -1 |
	    xargs redis-cli -p $RPORT llen)"
fi
echo "qlock-bench rows: $OUT/bench.csv"
