#!/bin/bash
# bench/run.sh: run qlock-bench against qlockd (1 and 2 workers), and both
# redis-benchmark and qlock-bench --redis against redis-server, each on a
# free loopback port, REPS times interleaved, and print a table of medians.
# Systems: qlockd-wN and redis-qb are qlock-bench with a process per client;
# qlockd-w1-poll and redis-qb-poll one process polling all 8 clients, as
# redis-benchmark (system redis) does.  See docs/PERFORMANCE.md.
#
# usage: bench/run.sh [BUILD_DIR]     (BUILD_DIR holds qlockd, qlock, qlock-bench;
#                                      default: the directory above this script)
# environment: REPS (3), N (50000 units for 8 clients), N1 (20000 for 1 client),
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
N=${N:-50000}
N1=${N1:-20000}
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

# The 8-client tests from one polling qlock-bench process: system rep [args].
poll_runs() {
	local sys=$1 rep=$2
	shift 2
	qrun "$sys" "$rep" ping 8 1 any -p 1 "$@"
	qrun "$sys" "$rep" roundtrip 8 8 any -p 1 "$@"
	qrun "$sys" "$rep" pipeline 8 8 any -P 16 -p 1 "$@"
}

# One redis-benchmark run: rep clients pipeline tests.
rrun() {
	local rep=$1 c=$2 p=$3 t=$4 n=$N load
	[ "$c" = 1 ] && n=$N1
	load=$(wait_quiet)
	echo "+ redis-benchmark -p $RPORT -t $t -c $c -n $n -d $SIZE -P $p -q --csv" \
	    "($load)" >>"$OUT/commands.log"
	redis-benchmark -p $RPORT -t "$t" -c "$c" -n "$n" -d "$SIZE" -P "$p" -q \
	    --csv | tee -a "$OUT/redis-benchmark.csv" |
	    awk -F, -v rep="$rep" -v c="$c" -v p="$p" -v load="$load" '
		NR > 1 { gsub("\"", ""); print "redis," rep "," tolower($1) "," c \
		    ",1,any," p "," $2 "," $5 "," $7 ",0,0," load }' >>"$RAW"
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

for rep in $(seq 1 "$REPS"); do
	echo "rep $rep/$REPS ..." >&2
	for w in 1 2; do
		qlockd_start $w
		s=qlockd-w$w
		qrun $s "$rep" ping 1 1 any
		qrun $s "$rep" ping 8 1 any
		qrun $s "$rep" roundtrip 1 1 local
		if [ $w = 2 ]; then qrun $s "$rep" roundtrip 1 1 remote; fi
		qrun $s "$rep" roundtrip 8 1 any
		qrun $s "$rep" roundtrip 8 8 any
		qrun $s "$rep" pipeline 8 8 any -P 16
		qrun $s "$rep" prodcons 8 1 any
		qrun $s "$rep" prodcons 8 8 any
		if [ $w = 1 ]; then
			poll_runs qlockd-w1-poll "$rep"
		fi
		cleanup
	done
	redis_start
	rrun "$rep" 1 1 ping_mbulk,lpush,rpop
	rrun "$rep" 8 1 ping_mbulk,lpush,rpop
	rrun "$rep" 8 16 lpush,rpop
	# The same client as qlockd's: PING, and LPUSH + RPOP for put + get.
	QPORT=$RPORT
	qrun redis-qb "$rep" ping 1 1 any --redis
	qrun redis-qb "$rep" ping 8 1 any --redis
	qrun redis-qb "$rep" roundtrip 1 1 any --redis
	qrun redis-qb "$rep" roundtrip 8 1 any --redis
	qrun redis-qb "$rep" roundtrip 8 8 any --redis
	qrun redis-qb "$rep" pipeline 8 8 any -P 16 --redis
	poll_runs redis-qb-poll "$rep" --redis
	cleanup
done

# What forwarding costs: one client, 2 workers, its queue owned by its own
# worker (local) or the other (remote), alternated FWD_REPS times; then the
# same for each item size in SIZES (n = 50 MB / size, 40 to 5000 pairs).
qlockd_start 2
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
	print o, $0 }' "$RAW" | sort -t, -k2,2V -k1,1n -k5,5n -k6,6n -k7,7 -k8,8n -k3,3n |
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
if [ "${MEM_COUNT:-1000000}" -gt 0 ]; then
	echo
	echo "memory per queued item (bench/queue_mem.sh):"
	COUNT=${MEM_COUNT:-1000000} SIZE=100 OUT=$OUT/mem \
	    "$(dirname "$0")/queue_mem.sh" "$BUILD" | tee -a "$OUT/table.txt"
fi
echo
echo "raw results and commands: $OUT"
