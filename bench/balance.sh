#!/bin/bash
# bench/balance.sh: clients that do not route against two builds of qlockd
# (docs/PERFORMANCE.md, "Issue 12: connection balance across workers"):
# run.sh's not-routed rows (qlock-bench -t roundtrip --no-route -p 2, 8 and
# 32 connections), a fresh daemon with 2 workers per run so that each run
# makes its own split, the builds interleaved REPS times.  Per run: the
# rate (requests/s), the sessions per worker (qlock list, its own
# included) and each worker's CPU ticks (/proc/PID/stat, utime + stime).
#
# usage: bench/balance.sh BEFORE_DIR AFTER_DIR   (each holds a built qlockd;
#                                                 qlock and qlock-bench from AFTER_DIR)
# environment: REPS (5), N (20000 pairs), Q (8 queue names per client; 1
#   lets the forwarded share vary with where each client's queue lives),
#   OUT (a new temp dir; raw.csv there)
set -eu

[ $# -eq 2 ] || { echo "usage: $0 BEFORE_DIR AFTER_DIR" >&2; exit 2; }
BEFORE=$1
AFTER=$2
QLOCK=$AFTER/qlock
QBENCH=$AFTER/qlock-bench
REPS=${REPS:-5}
N=${N:-20000}
Q=${Q:-8}
OUT=${OUT:-$(mktemp -d /tmp/qlock-balance.XXXXXX)}
MAX_SECONDS=60
QPID=
RPID=
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
for f in "$BEFORE/qlockd" "$AFTER/qlockd" "$QLOCK" "$QBENCH"; do
	[ -x "$f" ] || { echo "balance.sh: $f missing" >&2; exit 2; }
done
mkdir -p "$OUT"
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
umask 077
head -c 32 /dev/urandom | base64 >"$OUT/authkey"
echo "build,rep,clients,rate,forwarded,requests,load,sessions,cpu_ticks" |
    tee "$OUT/raw.csv"

for rep in $(seq 1 "$REPS"); do
	for build in before after; do
		[ $build = before ] && QLOCKD=$BEFORE/qlockd || QLOCKD=$AFTER/qlockd
		for c in 8 32; do
			qlockd_start 2
			load=$(cut -d' ' -f1 /proc/loadavg)
			# The split once the clients are connected (polled, 3 s at
			# most): sessions per worker, qlock list's own included.
			(for _ in $(seq 1 30); do
				sleep 0.1
				"$QLOCK" -a 127.0.0.1:$QPORT -k "$OUT/authkey" list \
				    2>/dev/null | grep kind=session >"$OUT/list" || true
				[ "$(wc -l <"$OUT/list")" -gt $c ] && break
			done
			grep -o 'worker=[0-9]*' "$OUT/list" | sort | uniq -c |
			    awk '{ printf "%s:%s ", $2, $1 }' >"$OUT/split") &
			sampler=$!
			line=$("$QBENCH" -a 127.0.0.1:$QPORT -k "$OUT/authkey" \
			    -t roundtrip -c $c -n "$N" -d 64 -q "$Q" -s $MAX_SECONDS \
			    --csv -p 2 --no-route | tail -1) || true
			wait $sampler || true
			cpu=$(for k in $(ps -o pid= --ppid $QPID); do
				awk '{ printf "%d ", $14 + $15 }' /proc/$k/stat
			done)
			# test,clients,...,rate($9),...,requests($14),forwarded($15)
			echo "$build,$rep,$c,$(echo "$line" | awk -F, \
			    '{ print 2 * $9 "," $15 "," $14 }'),$load,$(cat "$OUT/split"),$cpu" |
			    tee -a "$OUT/raw.csv"
			cleanup
		done
	done
done
echo "medians (requests/s):"
awk -F, 'NR > 1 { v[$1 " c" $3] = v[$1 " c" $3] " " $4 }
    END { for (k in v) print k ":" v[k] }' "$OUT/raw.csv" | sort |
    while IFS=: read -r k vals; do
	echo "$k $(echo $vals | tr ' ' '\n' | sort -n | awk '{ a[NR] = $1 }
	    END { print a[int((NR + 1) / 2)] }')"
    done
