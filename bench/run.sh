#!/bin/bash
# bench/run.sh: issue 12's table in one run, the same qlock-bench client
# code for every server: qlockd with its default workers routed
# (w2-route) and not (w2-noroute: --no-route / QLOCK_ROUTE=0), qlockd
# --workers 1 (w1), and redis-server (qlock-bench --redis); rows: 1, 8 and
# 32 connections with one put or get in flight each, pipelined x16 and x64,
# 4 producers + 4 blocking consumers on shared queues (Redis: BRPOP),
# lock hand-off between 8 contenders (Redis: SETNX + DEL), and memory per
# idle connection (IDLE of them, RSS of all the server's processes).  Each
# server on free loopback ports (qlockd --worker-ports 0), rows REPS times
# interleaved over the servers; medians.  See docs/PERFORMANCE.md.
#
# usage: bench/run.sh [BUILD_DIR]     (BUILD_DIR holds qlockd, qlock, qlock-bench;
#                                      default: the directory above this script)
# environment: REPS (3), N (20000 units for 8 or 32 clients), N1 (5000 for 1
#   client), NPIPE (400000 pipelined requests), IDLE (10000 connections),
#   SIZE (64), MAX_SECONDS (60, per test), QUIET_WAIT (30), FWD_REPS (7),
#   SIZES (none: item sizes for a local/remote sweep), SWEEP_REPS (5),
#   OUT (a new temp dir), MEM_COUNT (1000000: items bench/queue_mem.sh
#   queues for memory per item at the end; 0: not run),
#   QLOCKD_REV (the commit built, for the header; default: git in BUILD_DIR)
set -eu

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)}
QLOCKD=$BUILD/qlockd
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
QLOCK=$BUILD/qlock
QBENCH=$BUILD/qlock-bench
REPS=${REPS:-3}
NPIPE=${NPIPE:-400000}
IDLE=${IDLE:-10000}
N=${N:-20000}
N1=${N1:-5000}
SIZE=${SIZE:-64}
MAX_SECONDS=${MAX_SECONDS:-60}
QUIET_WAIT=${QUIET_WAIT:-30}
FWD_REPS=${FWD_REPS:-7}
SIZES=${SIZES:-}
SWEEP_REPS=${SWEEP_REPS:-5}
OUT=${OUT:-$(mktemp -d /tmp/qlock-bench.XXXXXX)}
RAW=$OUT/raw.csv		# every run: system,rep,test,c,q,where,P,rate,p50,p99,fwd,req,load
QPID=
RPID=

for f in "$QLOCKD" "$QLOCK" "$QBENCH"; do
	[ -x "$f" ] || { echo "run.sh: $f missing: run make first" >&2; exit 2; }
done
for f in redis-server redis-benchmark redis-cli; do
	command -v $f >/dev/null || { echo "run.sh: $f missing:" \
	    "apt-get install -y redis-server" >&2; exit 2; }
done
mkdir -p "$OUT"
# 10,000 idle connections (and the servers' own descriptors): as root the
# hard limit can be raised.
ulimit -n $((IDLE + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait (at most QUIET_WAIT s) for other load to calm down: CPU pressure
# avg10 under 20%; print the 1-minute load average and that pressure.
wait_quiet() {
	local _ psi=0
	for _ in $(seq 1 $((QUIET_WAIT / 2))); do
		[ -r /proc/pressure/cpu ] || break
		psi=$(awk '/^some/ { sub("avg10=", "", $2); print int($2) }' /proc/pressure/cpu)
		[ "$psi" -lt 20 ] && break
		sleep 2
	done
	echo "load=$(cut -d' ' -f1 /proc/loadavg)/psi=$psi"
}

# One qlock-bench run: system rep test clients queues where [extra args];
# appends a line to RAW and echoes the command.
qrun() {
	local sys=$1 rep=$2 t=$3 c=$4 q=$5 where=$6 n=$N load line place=()
	shift 6
	[ "$c" = 1 ] && n=$N1
	if [ "$where" != any ]; then place=(--placement "$where"); fi
	load=$(wait_quiet)
	echo "+ qlock-bench -a 127.0.0.1:$QPORT -t $t -c $c -n $n -d $SIZE -q $q" \
	    "--placement $where $* ($load)" >>"$OUT/commands.log"
	line=$("$QBENCH" -a 127.0.0.1:$QPORT -k "$OUT/authkey" -t "$t" -c "$c" \
	    -n "$n" -d "$SIZE" -q "$q" -s "$MAX_SECONDS" --csv \
	    "${place[@]}" "$@" | tail -1) ||
	    echo "run.sh: qlock-bench $t failed: $line" >&2
	echo "$line" >>"$OUT/qlock-bench.csv"
	echo "$line" | awk -F, '$16 > 0 || $17 > 0 || $18 > 0 || $19 != "ok" {
		print "run.sh: " $1 " c=" $2 " q=" $4 ": errors=" $16 " lost=" $17 \
		    " dup_or_bad=" $18 " end=" $19 > "/dev/stderr" }'
	# test,clients,size,queues,placement,depth,units,seconds,rate,p50,p99,mean,max,requests,forwarded,...
	echo "$line" | awk -F, -v sys="$sys" -v rep="$rep" -v load="$load" '{
		rate = $9; if ($1 == "roundtrip") rate = 2 * $9	# requests/s
		print sys "," rep "," $1 "," $2 "," $4 "," $5 "," $6 "," rate "," \
		    $10 "," $11 "," $15 "," $14 "," load }' >>"$RAW"
}

umask 077
head -c 32 /dev/urandom | base64 >"$OUT/authkey"
: >"$RAW"
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "nproc: $(nproc)"
	echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "kernel: $(uname -srm)"
	echo "qlockd: ${QLOCKD_REV:-$(cd "$BUILD" && git rev-parse --short HEAD 2>/dev/null || echo unknown)}" \
	    "redis: $(redis-server --version | awk '{ print $3 }')"
	echo "N=$N N1=$N1 SIZE=$SIZE REPS=$REPS MAX_SECONDS=$MAX_SECONDS"
} | tee "$OUT/machine.txt"

# The issue-12 table, one qlock-bench client code for every server: the
# polling raw clients (--procs; --redis for Redis), one request in flight
# per connection or a pipelined batch; prodcons is a process per
# connection (libqlock; for Redis LPUSH and BRPOP on a raw connection).
# row name, test, clients, queues, procs, extra arguments.
ROWS="c1:roundtrip:1:1:1:
c8:roundtrip:8:1:2:
c32:roundtrip:32:1:2:
pipe16:pipeline:8:8:2:-P16
pipe64:pipeline:8:8:2:-P64
prodcons:prodcons:8:4:0:
lock8:lock:8:1:2:"

# One row for a system: sys rep row [qlock-bench arguments].
row_run() {
	local sys=$1 rep=$2 spec=$3 name t c q p x n=$N
	shift 3
	IFS=: read -r name t c q p x <<<"$spec"
	[ "$c" = 1 ] && n=$N1
	[ "$t" = pipeline ] && n=$NPIPE
	qrun "$sys" "$rep" "$t" "$c" "$q" any -n "$n" \
	    ${x:+$x} $( [ "$p" != 0 ] && echo "-p $p") "$@" || true
	# the row's name in place of the test's
	sed -i "\$s/^$sys,$rep,$t,/$sys,$rep,$name,/" "$RAW"
}

# RSS of every process of a server (KB) before and after IDLE idle
# connections: sys pid port [authkey].
idle_mem() {
	local sys=$1 pid=$2 port=$3 key=${4:-} before after fifo
	[ "$IDLE" -gt 0 ] || return 0
	before=$(rss_tree "$pid")
	fifo=$OUT/idle.fifo
	rm -f "$fifo"; mkfifo "$fifo"
	python3 "$(dirname "$0")/idle_conns.py" 127.0.0.1 "$port" "$IDLE" \
	    $key <"$fifo" >"$OUT/idle.out" 2>&1 &
	local ipid=$!
	exec 9>"$fifo"
	for _ in $(seq 1 600); do
		grep -q ready "$OUT/idle.out" 2>/dev/null && break
		kill -0 $ipid 2>/dev/null || break
		sleep 0.2
	done
	sleep 1
	after=$(rss_tree "$pid")
	grep -q ready "$OUT/idle.out" || { echo "run.sh: idle connections to" \
	    "$sys failed: $(cat "$OUT/idle.out")" >&2; after=0; }
	exec 9>&-
	wait $ipid 2>/dev/null || true
	echo "$sys,$before,$after,$IDLE" >>"$OUT/idle.csv"
	echo "$sys,1,idle,$IDLE,0,any,1,$(( (after - before) * 1024 / IDLE )),0,0,0,0,-" >>"$RAW"
}

# Rows in turn, each against every server (interleaved: background load
# falls on all alike); the servers stay up for the whole run.
# Idle connections first, on servers that have served nothing yet.
qlockd_start; P2=$QPORT; Q2=$QPID
redis_start; PR=$RPORT
idle_mem qlockd-w2 "$Q2" "$P2" "$OUT/authkey"
idle_mem redis "$RPID" "$PR"
qlockd_start 1; P1=$QPORT; Q1=$QPID
QPID="$Q2 $Q1"
for rep in $(seq 1 "$REPS"); do
	echo "rep $rep/$REPS ..." >&2
	while read -r spec; do
		QPORT=$P2 row_run w2-route "$rep" "$spec"
		QPORT=$P2 row_run w2-noroute "$rep" "$spec" --no-route
		QPORT=$P1 row_run w1 "$rep" "$spec"
		QPORT=$PR row_run redis "$rep" "$spec" --redis
	done <<<"$ROWS"
done

# What forwarding costs: one client, 2 workers, its queue owned by its own
# worker (local) or the other (remote), alternated FWD_REPS times; then the
# same for each item size in SIZES (n = 50 MB / size, 40 to 5000 pairs).
cleanup
[ "$FWD_REPS" -gt 0 ] || [ -n "$SIZES" ] && qlockd_start 2
for rep in $(seq 1 "$FWD_REPS"); do
	echo "forwarding $rep/$FWD_REPS ..." >&2
	qrun fwd-w2 "$rep" roundtrip 1 1 local
	qrun fwd-w2 "$rep" roundtrip 1 1 remote
done
for rep in $(seq 1 "$SWEEP_REPS"); do
	for d in $SIZES; do
		echo "size $d $rep/$SWEEP_REPS ..." >&2
		n=$((50000000 / d))
		n=$((n > 5000 ? 5000 : n < 40 ? 40 : n))
		qrun "size-$d" "$rep" roundtrip 1 1 local -n $n -d "$d"
		qrun "size-$d" "$rep" roundtrip 1 1 remote -n $n -d "$d"
	done
done
cleanup

# Medians over the reps, per system and configuration (each column alone).
echo
echo "medians over the runs; rate in requests/s (roundtrip: 2 x put+get pairs/s;"
echo "prodcons: items/s); latency in ms per request (roundtrip: per put+get pair;"
echo "pipeline: per batch of P; prodcons: put to get); fwd: forwarded/requests;"
echo "(min-max): the range of the rate over the runs"
printf '%-10s %-10s %2s %2s %-6s %2s %8s %-17s %7s %8s %s\n' system test c q \
    where P rate "(min-max)" p50 p99 fwd
awk -F, -v OFS=, '{ o = index("ping_mbulk ping lpush rpop roundtrip pipeline prodcons", $3)
	print o, $0 }' "$RAW" | sort -t, -k2,2V -k1,1n -k4,4 -k5,5n -k6,6n -k7,7 -k8,8n -k3,3n |
    cut -d, -f2- | awk -F, '
	function med(a, n,   i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function flush() {
		if (n == 0) return
		m = med(rate, n)	# sorts rate
		printf "%-10s %-10s %2s %2s %-6s %2s %8.0f %-17s %7.3f %8.3f %s\n", k1, k3,
		    k4, k5, k6, k7, m, sprintf("(%.0f-%.0f)", rate[1], rate[n]),
		    med(p50, n), med(p99, n),
		    (k1 ~ /^redis/ ? "-" : int(med(fwd, n)) "/" int(med(req, n)))
		n = 0
	}
	{
		key = $1 SUBSEP $3 SUBSEP $4 SUBSEP $5 SUBSEP $6 SUBSEP $7
		if (key != last) { flush(); last = key }
		k1 = $1; k3 = $3; k4 = $4; k5 = $5; k6 = $6; k7 = $7
		n++; rate[n] = $8; p50[n] = $9; p99[n] = $10; fwd[n] = $11; req[n] = $12
	}
	END { flush() }' | tee "$OUT/table.txt"
awk -F, '$1 == "fwd-w2" { n[$6]++; p[$6, n[$6]] = $9 }
	function med(w,   i, j, t, a) {
		for (i = 1; i <= n[w]; i++) a[i] = p[w, i]
		for (i = 2; i <= n[w]; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return n[w] % 2 ? a[(n[w] + 1) / 2] : (a[n[w] / 2] + a[n[w] / 2 + 1]) / 2
	}
	END {
		if (n["local"] == 0 || n["remote"] == 0) exit
		printf "\nforwarding: median p50 per put+get pair %.3f ms local, %.3f ms " \
		    "remote:\n%.0f us more per forwarded request\n", med("local"),
		    med("remote"), (med("remote") - med("local")) / 2 * 1000
	}' "$RAW" | tee -a "$OUT/table.txt"
# The issue's table: per row the median of each system, and the ratios.
echo
echo "issue 12 table (medians of $REPS; requests/s, pipelined: requests/s,"
echo "prodcons: items/s, lock8: acquire+release pairs/s; idle: bytes per"
echo "connection, of $IDLE, RSS of all the server's processes)"
printf '%-9s %10s %10s %10s %10s %9s %9s %9s\n' row w2-route w2-noroute w1 \
    redis route/redis route/w1 noroute/redis
awk -F, -v rows="$(echo "$ROWS" | cut -d: -f1 | tr '\n' ' ') idle" '
	function med(k,   i, j, t, a, m) {
		m = n[k]
		for (i = 1; i <= m; i++) a[i] = v[k, i]
		for (i = 2; i <= m; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return m == 0 ? 0 : m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	function fmt(x) { return x > 0 ? sprintf("%.0f", x) : "-" }
	function ratio(a, b) { return a > 0 && b > 0 ? sprintf("%.2f", a / b) : "-" }
	{ k = $1 SUBSEP $3; n[k]++; v[k, n[k]] = $8 }
	END {
		nr = split(rows, r, " ")
		for (i = 1; i <= nr; i++) {
			w = r[i]
			a = med("w2-route" SUBSEP w); b = med("w2-noroute" SUBSEP w)
			c = med("w1" SUBSEP w); d = med("redis" SUBSEP w)
			if (w == "idle") { a = med("qlockd-w2" SUBSEP w) }
			printf "%-9s %10s %10s %10s %10s %9s %9s %9s\n", w, fmt(a),
			    fmt(b), fmt(c), fmt(d), ratio(a, d), ratio(a, c), ratio(b, d)
		}
	}' "$RAW" | tee -a "$OUT/table.txt"
if [ "${MEM_COUNT:-1000000}" -gt 0 ]; then
	echo
	echo "memory per queued item (bench/queue_mem.sh):"
	COUNT=${MEM_COUNT:-1000000} SIZE=100 OUT=$OUT/mem \
	    "$(dirname "$0")/queue_mem.sh" "$BUILD" | tee -a "$OUT/table.txt"
fi
echo
echo "raw results and commands: $OUT"
