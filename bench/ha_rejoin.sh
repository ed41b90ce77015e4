#!/bin/bash
# bench/ha_rejoin.sh: how soon a leader is back in touch with a member
# whose worker restarted (issue 13: raft_uv waited 1 s before connecting
# again; src/repl.c now waits a quarter of the election timeout).  For each
# BUILD (directories with qlockd), a cluster on loopback; ROUNDS times,
# kill -9 of node 3's worker of shard 0 (led by node 1; the master starts
# it again); from the new worker's first log line until node 1 reports it
# in touch with every entry (puts to shard 0 meanwhile), in ms.
#
# usage: bench/ha_rejoin.sh BUILD_DIR...   environment: ROUNDS (6),
#   ELECTION (1000 ms), DIR (a new dir under /var/tmp).
set -eu

ROUNDS=${ROUNDS:-6}
ELECTION=${ELECTION:-1000}
PY=${PY:-/usr/bin/python3}
DIR=${DIR:-$(mktemp -d /var/tmp/qlock-rejoin.XXXXXX)}
PYPKG=$(cd "$(dirname "$0")/.." && pwd)/python
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
. "$(dirname "$0")/lib.sh"
cluster_init rejoin
export PYPKG

read -r r1 r2 r3 l1 l2 l3 <<< "$(free_ports_low 6)"
peers="--peer 1=127.0.0.1:$r1 --peer 2=127.0.0.1:$r2 --peer 3=127.0.0.1:$r3"

cat > "$DIR/rejoin.py" <<'EOF'
# rejoin.py ROUNDS LOG3 PORT1 PORT3: prints one line of ms per round.
import os, re, signal, sys, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
from qlock._route import shard_of
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
rounds, log3, p1 = int(sys.argv[1]), sys.argv[2], sys.argv[3]
q = next("jq%d" % i for i in range(1000) if shard_of("jq%d" % i, 2) == 0)
BORN = "shard 0: raft group member 3"

def shard0():
    st = Connection("127.0.0.1:" + p1, key).call("stats")["raft"]
    return next(r for r in st if r["shard"] == 0)

def caught_up():
    s = shard0()
    p = [x for x in s["peers"] if x["node"] == 3]
    return bool(p) and p[0]["in_touch"] and p[0]["match"] >= s["last"]

def log():
    with open(log3) as f:
        return f.read()

end = time.time() + 60
while time.time() < end and not (shard0()["role"] == "leader" and
                                 caught_up()):
    time.sleep(0.2)
c = Connection("127.0.0.1:" + p1, key)
out = []
for _ in range(rounds):
    for _ in range(100):        # the last worker 0 to log may be gone
        text = log()
        pid = int(re.findall(r"qlockd\[(\d+)\] worker 0 ", text)[-1])
        born = text.count(BORN)
        try:
            os.kill(pid, signal.SIGKILL)
            break
        except ProcessLookupError:
            time.sleep(0.1)
    end = time.time() + 60
    while log().count(BORN) == born and time.time() < end:
        time.sleep(0.002)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10:
        try:
            c.call("queue.put", q, b"x", 5)
            if caught_up():
                break
        except Exception:           # node 1 lost the lead meanwhile
            c = Connection("127.0.0.1:" + p1, key)
        time.sleep(0.005)
    out.append("%.0f" % ((time.monotonic() - t0) * 1000))
    time.sleep(1)
print(" ".join(out))
EOF

node_start() {
	"$1/qlockd" $asroot -f --workers 2 --listen 127.0.0.1:$3 \
	    --worker-ports 0 --authkey-file "$DIR/key" --node-id "$2" $peers \
	    --raft-dir "$DIR/raft$2" --raft-election-ms "$ELECTION" \
	    2>>"$DIR/node$2.log" &
	PIDS="$PIDS $!"
}

echo "# $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%F %H:%M UTC')"
echo "# ms from a restarted worker's first log line to its leader in touch with it, caught up; election ${ELECTION} ms"
for b in "$@"; do
	rm -rf "$DIR"/raft[123] "$DIR"/node[123].log
	node_start "$b" 1 "$l1"; node_start "$b" 2 "$l2"; node_start "$b" 3 "$l3"
	printf "%-40s %s\n" "$b" "$("$PY" "$DIR/rejoin.py" "$ROUNDS" "$DIR/node3.log" "$l1")"
	# shellcheck disable=SC2086
	kill_trees $PIDS
	PIDS=""
done
