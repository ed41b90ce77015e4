#!/bin/sh
# it_ha_basic.sh: a three-node cluster on loopback (issue 13): every shard
# gets a serving leader; items put through libqlock's routing (the qlock
# tool, each put acknowledged by exit status 0) survive kill -9 of a
# leader node, its restart, and kill -9 of all three nodes: at the end
# every acknowledged item is there exactly once.  Skipped (77) when qlockd
# was built without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_basic
. "$here/it_lib.sh"

"$QLOCKD" --check-config --node-id 1 --peer 1=127.0.0.1:7460 \
    --raft-dir /nonexistent --listen unix:/nonexistent/s 2>&1 |
    grep -q "without libraft" && { echo "SKIP: no libraft"; exit 77; }

(umask 077; echo "$name-test-key-long-enough" > "$tmp/key")
QLOCK_AUTHKEY_FILE=$tmp/key
export QLOCK_AUTHKEY_FILE
unset QLOCK_AUTHKEY QLOCK_ADDRESS QLOCK_ROUTE

# The helper: free ports, topology, queue contents (raw msgpack-RPC with
# the Python package in the tree).
cat > "$tmp/ha.py" <<'EOF'
import os, socket, sys, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
from qlock import errors
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")

def free_ports(n, width):
    """n bases, each with width consecutive free ports."""
    out, socks = [], []
    while len(out) < n:
        s = socket.socket(); s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]; socks.append(s)
        try:
            for k in range(1, width):
                t = socket.socket(); t.bind(("127.0.0.1", base + k)); socks.append(t)
        except OSError:
            continue
        out.append(base)
    print(" ".join(map(str, out)))

def topology(ports):
    """A topology where every shard has a leader with an address."""
    for p in ports:
        try:
            t = Connection("127.0.0.1:%s" % p, key).call("topology")
        except Exception:
            continue
        if all(t["leaders"]) and all(t["addrs"]):
            return t
    return None

def leaders(ports, avoid, limit):
    end = time.time() + limit
    while time.time() < end:
        t = topology(ports)
        if t and str(avoid) not in map(str, t["leaders"]):
            # Served: a request to each leader is answered.
            try:
                for a in t["addrs"]:
                    Connection(a[0], key).call("ping")
                print(" ".join(map(str, t["leaders"])), t["addrs"][0][0])
                return 0
            except Exception:
                pass
        time.sleep(0.1)
    return 1

def drain(ports, nq):
    """Every item of q0..q(nq-1), one a line; through each queue's leader."""
    t = topology(ports)
    cs = [Connection(a[0], key) for a in t["addrs"]]
    for i in range(nq):
        for c in cs:
            try:
                while True:
                    item = c.call("queue.get", "q%d" % i, 0)
                    if isinstance(item, bytes):
                        item = item.decode()
                    print(item)
            except errors.EmptyError:
                break
            except Exception:
                continue
        else:
            print("queue q%d: no leader answered" % i)
            return 1
    return 0

def tokens(ports):
    """Grant and release locks t0..t9 through their leaders: name token."""
    t = topology(ports)
    cs = [Connection(a[0], key) for a in t["addrs"]]
    for i in range(10):
        for c in cs:
            try:
                c.call("lock.open", "t%d" % i, False)
                tok = c.call("lock.acquire", "t%d" % i, 5)
                c.call("lock.release", "t%d" % i)
                print("t%d %d" % (i, tok))
                break
            except errors.Error as e:
                if "NotLeader" not in str(e):
                    raise
        else:
            return 1
    return 0

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "ports":
    free_ports(int(args[0]), int(args[1]))
elif cmd == "leaders":
    sys.exit(leaders(args[2:], args[1], float(args[0])))
elif cmd == "tokens":
    sys.exit(tokens(args))
elif cmd == "drain":
    sys.exit(drain(args[1:], int(args[0])))
EOF
PYPKG=$here/../python
export PYPKG
ha() { "$PY" "$tmp/ha.py" "$@"; }

set -- $(ha ports 6 2)
raft1=$1 raft2=$2 raft3=$3 lport1=$4 lport2=$5 lport3=$6
peers="--peer 1=127.0.0.1:$raft1 --peer 2=127.0.0.1:$raft2 --peer 3=127.0.0.1:$raft3"
ports="$lport1 $lport2 $lport3"
pid1= pid2= pid3=

# start ID: node ID (master pid in pidID), two workers, election 300 ms.
start() {
	eval "lp=\$lport$1"
	"$QLOCKD" $asroot -f --workers 2 --listen 127.0.0.1:$lp \
	    --worker-ports 0 --authkey-file "$tmp/key" --node-id "$1" $peers \
	    --raft-dir "$tmp/raft$1" --raft-election-ms 300 \
	    >> "$tmp/node$1.log" 2>&1 &
	eval "pid$1=$!"
	pids="$pids $!"
}
# kill9 ID: kill -9 node ID's master and workers; return once they are
# gone (their sockets closed).
kill9() {
	eval "m=\$pid$1"
	w=$(pgrep -P "$m")
	kill -KILL $w "$m" 2>/dev/null
	wait "$m" 2>/dev/null
	for p in $w; do
		wait_for 10 sh -c "! kill -0 $p 2>/dev/null" ||
		    die "worker $p of node $1 survived kill -9"
	done
}
logs() {
	for i in 1 2 3; do sed "s/^/node$i: /" "$tmp/node$i.log"; done
}
# put FIRST LAST ADDR: items FIRST..LAST to q(i % 10), connecting to ADDR
# (shard 0's leader's own address: libqlock routes the other shard's
# names to its leader); the acknowledged ones appended to $tmp/acked.
put() {
	i=$1
	while [ "$i" -le "$2" ]; do
		timeout 20 "$QLOCK_CLI" -a "$3" put "q$((i % 10))" \
		    "item-$i" 2>> "$tmp/put.err" && echo "item-$i" >> "$tmp/acked"
		i=$((i + 1))
	done
}
# check WHAT: every acknowledged item is in the queues exactly once (and
# nothing else is); the queues are drained.
check() {
	if ! ha drain 10 $ports > "$tmp/got"; then
		fail "$1: drain: $(tail -1 "$tmp/got")"
		return
	fi
	sort "$tmp/acked" > "$tmp/a.sorted"
	sort "$tmp/got" > "$tmp/g.sorted"
	dups=$(uniq -d "$tmp/g.sorted" | head -3)
	lost=$(comm -23 "$tmp/a.sorted" "$tmp/g.sorted" | head -3)
	if [ -n "$dups" ] || [ -n "$lost" ]; then
		fail "$1: $(wc -l < "$tmp/got") items got, duplicated: [$dups] lost: [$lost]"
	else
		ok "$1: $(wc -l < "$tmp/acked") acknowledged items, each there once"
	fi
}

start 1; start 2; start 3
set -- $(ha leaders 20 0 $ports) || { logs; die "no leaders within 20 s"; }
ok "every shard has a serving leader (nodes $1 $2)"
first=$1

: > "$tmp/acked"
put 1 100 "$3"
ha tokens $ports > "$tmp/tok1" || fail "fencing tokens before the failover"
[ "$(wc -l < "$tmp/acked")" -eq 100 ] || fail "puts before the failover: $(tail -3 "$tmp/put.err")"

kill9 "$first"
set -- $(ha leaders 20 "$first" $ports) ||
    { logs; die "no new leaders within 20 s after node $first died"; }
ok "new leaders after kill -9 of node $first: nodes $1 $2"
put 101 200 "$3"
# Fencing tokens: every lock's next grant is above its last, whichever
# node leads now.
if ! ha tokens $ports > "$tmp/tok2"; then
	fail "fencing tokens after the failover"
elif join "$tmp/tok1" "$tmp/tok2" | awk '$3 <= $2 { bad = 1 } END { exit bad }' &&
    [ "$(join "$tmp/tok1" "$tmp/tok2" | wc -l)" -eq 10 ]; then
	ok "fencing tokens of 10 locks increase across the failover"
else
	fail "fencing tokens: $(join "$tmp/tok1" "$tmp/tok2")"
fi
[ "$(wc -l < "$tmp/acked")" -eq 200 ] || fail "puts after the failover: $(tail -3 "$tmp/put.err")"

start "$first"
# The restarted node catches up; then every node dies at once.
sleep 2
kill9 1; kill9 2; kill9 3
start 1; start 2; start 3
ha leaders 20 0 $ports > /dev/null || { logs; die "no leaders after the restart of all three"; }
ok "leaders again after kill -9 of all three"
check "after kill -9 of a leader, its restart, and kill -9 of all"

# Two members whose worker counts differ: whichever leads group 0, the
# other learns it from the epoch and stops (names would map to other
# shards there), saying why.
kill9 1; kill9 2; kill9 3
set -- $(ha ports 4 2)
for n in 1 2; do
	eval "lp=\$$((n + 2))"
	"$QLOCKD" $asroot -f --workers $n --listen 127.0.0.1:$lp \
	    --worker-ports 0 --authkey-file "$tmp/key" --node-id $n \
	    --peer 1=127.0.0.1:$1 --peer 2=127.0.0.1:$2 \
	    --raft-dir "$tmp/mix$n" --raft-election-ms 300 \
	    > "$tmp/mix$n.log" 2>&1 &
	eval "mix$n=$!"
	pids="$pids $!"
done
stopped() { ! kill -0 "$mix1" 2>/dev/null || ! kill -0 "$mix2" 2>/dev/null; }
if ! wait_for 20 stopped; then
	fail "members with 1 and 2 workers: neither stopped"
elif grep -q "must run the same --workers" "$tmp/mix1.log" "$tmp/mix2.log"; then
	ok "members with 1 and 2 workers: one stops, saying why"
else
	fail "members with 1 and 2 workers: $(cat "$tmp/mix1.log" "$tmp/mix2.log")"
fi

[ $fails -eq 0 ] || logs
finish
