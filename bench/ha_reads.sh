#!/bin/bash
# bench/ha_reads.sh: what a read costs in a three-node cluster (issue 13:
# reads wait for a Raft barrier, src/repl_read.c).  For each BUILD
# (directories with qlockd), REPS times interleaved: a cluster on loopback,
# then CLIENTS processes each sending queue.size in a loop (the tree's
# Python package, one connection each, straight to shard 0's leader) for
# SECS seconds; reads per second over all of them, the 99th percentile of
# a read's latency (over all of them) and the Raft entries shard 0
# committed per second meanwhile (barriers, mostly, with
# QLOCKD_READS=barrier), medians of REPS.  BUILD_DIR:MODE runs that build
# with QLOCKD_READS=MODE (index, the default, or barrier: docs/HA.md).
#
# usage: bench/ha_reads.sh BUILD_DIR[:MODE]...   environment: REPS (3), SECS (5),
#   CLIENTS ("1 8 32"), ELECTION (1000 ms), DIR (a new dir under /var/tmp).
set -eu

REPS=${REPS:-3}
SECS=${SECS:-5}
CLIENTS=${CLIENTS:-"1 8 32"}
ELECTION=${ELECTION:-1000}
PY=${PY:-/usr/bin/python3}
DIR=${DIR:-$(mktemp -d /var/tmp/qlock-reads.XXXXXX)}
PYPKG=$(cd "$(dirname "$0")/.." && pwd)/python
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
. "$(dirname "$0")/lib.sh"
cluster_init reads
export PYPKG

read -r r1 r2 r3 l1 l2 l3 <<< "$(free_ports_low 6)"
peers="--peer 1=127.0.0.1:$r1 --peer 2=127.0.0.1:$r2 --peer 3=127.0.0.1:$r3"

cat > "$DIR/reads.py" <<'EOF'
# reads.py CLIENTS SECS PORT...: once shard 0 is led by node 1 and served,
# CLIENTS processes read queue.size on one of its queues for SECS seconds;
# prints the reads per second over all of them, the entries shard 0
# committed per second (node 1's stats, before and after) and the 99th
# percentile of a read's latency in ms.
import multiprocessing, os, sys, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
from qlock._route import shard_of
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
n, secs, ports = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
q = next("rq%d" % i for i in range(1000) if shard_of("rq%d" % i, 2) == 0)

def leader():
    end = time.time() + 60
    while time.time() < end:
        for p in ports:
            try:
                t = Connection("127.0.0.1:" + p, key).call("topology")
                if t["leaders"][0] == 1 and t["addrs"][0]:
                    c = Connection(t["addrs"][0][0], key)
                    c.call("queue.put", q, b"x", 5)
                    return t["addrs"][0][0]
            except Exception:
                pass
        time.sleep(0.2)
    sys.exit("no leader for shard 0 on node 1 within 60 s")

def loop(addr, start, out):
    c = Connection(addr, key)
    while time.time() < start:
        time.sleep(0.001)
    lat, end = [], start + secs
    t = time.time()
    while t < end:
        c.call("queue.size", q)
        u = time.time()
        lat.append(u - t)
        t = u
    out.put(lat)

def commit():
    st = Connection("127.0.0.1:" + ports[0], key).call("stats")
    return next(r["commit"] for r in st["raft"] if r["shard"] == 0)

addr = leader()
out = multiprocessing.Queue()
start = time.time() + 1
ps = [multiprocessing.Process(target=loop, args=(addr, start, out))
      for _ in range(n)]
for p in ps:
    p.start()
while time.time() < start:
    time.sleep(0.001)
c0 = commit()
lat = sorted(x for _ in ps for x in out.get(timeout=secs + 30))
c1 = commit()
for p in ps:
    p.join()
print("%.0f %.0f %.2f" % (len(lat) / secs, (c1 - c0) / secs,
                          1000 * lat[int(0.99 * (len(lat) - 1))]))
EOF

node_start() {
	QLOCKD_READS=${1#*:} "${1%%:*}/qlockd" $asroot -f --workers 2 --listen 127.0.0.1:$3 \
	    --worker-ports 0 --authkey-file "$DIR/key" --node-id "$2" $peers \
	    --raft-dir "$DIR/raft$2" --raft-election-ms "$ELECTION" \
	    --log-level warn 2>>"$DIR/node$2.log" &
	PIDS="$PIDS $!"
}
cluster_down() {
	# shellcheck disable=SC2086
	kill_trees $PIDS
	PIDS=""
}

echo "# $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%F %H:%M UTC')"
echo "# queue.size through the Python package, ${SECS} s a run, median (min-max) of $REPS"
: > "$DIR/rows"
for r in $(seq "$REPS"); do
	for b in "$@"; do
		case $b in *:*) ;; *) b=$b:index ;; esac
		rm -rf "$DIR"/raft[123]
		node_start "$b" 1 "$l1"; node_start "$b" 2 "$l2"; node_start "$b" 3 "$l3"
		for c in $CLIENTS; do
			echo "$b $c $("$PY" "$DIR/reads.py" "$c" "$SECS" $l1 $l2 $l3)" >> "$DIR/rows"
		done
		cluster_down
	done
done
printf "%-40s %8s %-22s %-10s %s\n" build clients "reads/s" "p99 ms" \
    "entries/s"
for b in "$@"; do
	case $b in *:*) ;; *) b=$b:index ;; esac
	for c in $CLIENTS; do
		v=$(awk -v b="$b" -v c=$c '$1 == b && $2 == c { print $3 }' "$DIR/rows")
		e=$(awk -v b="$b" -v c=$c '$1 == b && $2 == c { print $4 }' "$DIR/rows")
		p=$(awk -v b="$b" -v c=$c '$1 == b && $2 == c { print $5 }' "$DIR/rows")
		printf "%-40s %8s %-22s %-10s %s\n" "$b" "$c" \
		    "$(echo "$v" | median) ($(echo "$v" | sort -n | head -1)-$(echo "$v" | sort -n | tail -1))" \
		    "$(echo "$p" | median)" "$(echo "$e" | median)"
	done
done
