# bench/lib.sh: what the benchmark scripts share (sourced): free ports, the
# servers started and stopped by process id.  The caller sets QLOCKD, QLOCK,
# OUT (holding authkey), asroot, MAX_SECONDS, and QPID= RPID=.

# Stop what this script started, and only that, by process id.
cleanup() {
	local pid
	for pid in $QPID $RPID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	QPID="" RPID=""
}

# A loopback TCP port nobody listens on (the kernel picks it).
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
		return
	fi
	local _ p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		ss -Htln "sport = :$p" | grep -q . || { echo $p; return; }
	done
	echo "${0##*/}: no free port" >&2
	exit 2
}

# Start qlockd with $1 workers (none: its default) on a free port; sets
# QPORT, QPID.
qlockd_start() {
	local _
	QPORT=$(free_port)
	"$QLOCKD" $asroot --foreground --listen 127.0.0.1:$QPORT \
	    --worker-ports 0 ${1:+--workers "$1"} --authkey-file "$OUT/authkey" --log-level warn 2>>"$OUT/qlockd.log" &
	QPID=$!
	for _ in $(seq 1 100); do
		"$QLOCK" -a 127.0.0.1:$QPORT -k "$OUT/authkey" ping >/dev/null 2>&1 && return
		kill -0 $QPID 2>/dev/null || break
		sleep 0.1
	done
	echo "${0##*/}: qlockd did not start; see $OUT/qlockd.log" >&2
	exit 1
}

# Start redis-server on a free port, nothing saved; sets RPORT, RPID.
redis_start() {
	local _
	RPORT=$(free_port)
	redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no \
	    --maxclients 20000 --daemonize no --logfile "$OUT/redis.log" &
	RPID=$!
	for _ in $(seq 1 100); do
		[ "$(redis-cli -p $RPORT ping 2>/dev/null)" = PONG ] && return
		kill -0 $RPID 2>/dev/null || break
		sleep 0.1
	done
	echo "${0##*/}: redis-server did not start; see $OUT/redis.log" >&2
	exit 1
}

# Resident KB of process $1 and all its descendants.
rss_tree() {
	ps -e -o pid=,ppid=,rss= | awk -v root="$1" '
	    { ppid[$1] = $2; rss[$1] = $3 }
	    END {
		for (p in rss) {
			for (q = p; q != "" && q != 0 && q != 1; q = ppid[q])
				if (q == root) { sum += rss[p]; break }
		}
		print sum + 0
	    }'
}

# N distinct free loopback ports below the kernel's ephemeral range, on one
# line: for cluster nodes that are killed and started again, which must
# find their ports free (one from that range may meanwhile be the local end
# of another node's connection).
free_ports_low() {
	"${PY:-python3}" - "$1" <<'PYEOF'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
out, keep = [], []
while len(out) < int(sys.argv[1]):
    p = random.randrange(10000, low)
    try:
        s = socket.socket(); s.bind(("127.0.0.1", p)); keep.append(s)
    except OSError:
        continue
    out.append(p)
print(*out)
PYEOF
}

# cluster_init NAME: for a script that starts cluster nodes (their pids in
# PIDS) with their files in DIR: at exit all killed and DIR removed; a key
# in DIR/key, and the environment pointed at it.
cluster_init() {
	PIDS=""
	trap cluster_cleanup EXIT
	(umask 077; echo "$1-bench-key-long-enough" > "$DIR/key")
	export QLOCK_AUTHKEY_FILE=$DIR/key
	unset QLOCK_ADDRESS QLOCK_AUTHKEY QLOCK_ROUTE
}
cluster_cleanup() {
	# shellcheck disable=SC2086
	kill_trees $PIDS
	rm -rf "$DIR"
}

# kill_trees PID...: kill -9 each process and its children, and reap them.
kill_trees() {
	local p
	for p in "$@"; do kill -KILL $(pgrep -P "$p") "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# The median of the numbers on standard input, one a line; "-" if none.
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }
