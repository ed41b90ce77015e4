# it_ha_lib.sh: sourced by the cluster tests (it_ha_*.sh) after it_lib.sh:
# skip (77) without libraft; a key; the helper ha.py (free ports, topology,
# leaders, queue contents, fencing tokens, over raw msgpack-RPC with the
# Python package in the tree); three nodes' ports; start ID, cluster_up,
# kill9 ID, qput, check (every acknowledged item there once), logs.
# $election (ms, default 300) is the nodes' election timeout.

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
from qlock._route import shard_of
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")

def free_ports(n, width):
    """n bases, each with width consecutive free ports, below the
    ephemeral range: a port picked there can be taken, while its node is
    down, as the source port of some connection (a node's worker then
    cannot listen for Raft)."""
    import random
    try:
        lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    out, socks = [], []
    for _ in range(10000):
        if len(out) == n:
            break
        base = random.randrange(max(1024, lo - 12000), lo - width)
        try:
            for k in range(width):
                t = socket.socket(); t.bind(("127.0.0.1", base + k)); socks.append(t)
        except OSError:
            continue
        out.append(base)
    while len(out) < n:
        s = socket.socket(); s.bind(("127.0.0.1", 0))
        out.append(s.getsockname()[1]); socks.append(s)
    print(" ".join(map(str, out)))

def addr(p):
    """A client port on loopback, or HOST:PORT."""
    return p if ":" in str(p) else "127.0.0.1:%s" % p

def topology(ports):
    """A topology where every shard has a leader with an address."""
    for p in ports:
        try:
            t = Connection(addr(p), key).call("topology")
        except Exception:
            continue
        if all(t["leaders"]) and all(t["addrs"]):
            return t
    return None

def leaders(ports, avoid, limit):
    """Leaders (none on node avoid; with $WANT, exactly those), served."""
    want = os.environ.get("WANT")
    end = time.time() + limit
    while time.time() < end:
        t = topology(ports)
        if t and str(avoid) not in map(str, t["leaders"]) and (not want or
                " ".join(map(str, t["leaders"])) == want):
            # Served: a named request for each shard, sent to the address
            # given for its leader, is answered (not NotLeader).
            try:
                for g, a in enumerate(t["addrs"]):
                    name = next("probe%d" % i for i in range(1000)
                                if shard_of("probe%d" % i, len(t["addrs"])) == g)
                    Connection(a[0], key).call("queue.size", name)
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
elif cmd == "known":
    # The leaders the node at PORT (on loopback) or HOST:PORT knows of
    # ("-" for none).
    t = Connection(addr(args[0]), key).call("topology")
    print(" ".join("-" if l is None else str(l) for l in t["leaders"]))
elif cmd == "name":
    # A name starting with PREFIX on shard G of N.
    print(next("%s%d" % (args[0], i) for i in range(100000)
               if shard_of("%s%d" % (args[0], i), int(args[2])) == int(args[1])))
elif cmd == "tokens":
    sys.exit(tokens(args))
elif cmd == "drain":
    sys.exit(drain(args[1:], int(args[0])))
EOF
PYPKG=$here/../python
export PYPKG
ha() { "$PY" "$tmp/ha.py" "$@"; }
HA_TESTS=$here
export HA_TESTS

# restored NODE HOW: node NODE is back and caught up, having restored
# shard 0 from a snapshot: at its start (HOW "own": its own), or one the
# leader sent once it ran (HOW "sent").
restored() {
	_from=$(($(wc -l < "$tmp/node$1.log") + 1))
	start "$1"
	timeout 120 "$PY" "$here/it_ha_sess.py" caught "$1" $ports ||
	    fail "node $1 catching up"
	tail -n "+$_from" "$tmp/node$1.log" | awk -v how="$2" '
	    /shard 0: raft group member/ { up = 1 }
	    /shard 0: snapshot restored/ { if (up == (how == "sent")) n++ }
	    END { exit n == 0 }' &&
	    ok "node $1 restored shard 0 from a snapshot ($2)" ||
	    fail "node $1 restored no snapshot of shard 0 ($2)"
}

set -- $(ha ports 6 2)
raft1=$1 raft2=$2 raft3=$3 lport1=$4 lport2=$5 lport3=$6
peers="--peer 1=127.0.0.1:$raft1 --peer 2=127.0.0.1:$raft2 --peer 3=127.0.0.1:$raft3"
ports="$lport1 $lport2 $lport3"
pid1= pid2= pid3=

# start ID [KEYFILE]: node ID (master pid in pidID), two workers, with
# the cluster's key or KEYFILE; $optsID: more options for node ID,
# $HA_OPTS: for every node.
start() {
	reaped "$1"
	eval "lp=\$lport$1 xo=\$opts$1"
	"$QLOCKD" $asroot -f --workers 2 --listen 127.0.0.1:$lp $xo \
	    --worker-ports 0 --authkey-file "${2:-$tmp/key}" --node-id "$1" \
	    $peers --raft-dir "$tmp/raft$1" --raft-election-ms "${election:-300}" \
	    $HA_OPTS \
	    >> "$tmp/node$1.log" 2>&1 &
	eval "pid$1=$!"
	pids="$pids $!"
}
# cluster_up: the three nodes, until nodes 1 and 2 lead and serve shards 0
# and 1 (their preferred leaders), within 30 s.
cluster_up() {
	start 1; start 2; start 3
	WANT="1 2" ha leaders 30 0 $ports > /dev/null ||
	    { logs; die "shards not led by nodes 1 and 2 within 30 s"; }
}
# proxied PBASE: the proxy it_ha_records.py (state in $tmp/px) listening
# on PBASE and PBASE+1 in front of node 1's Raft ports, then the three
# nodes, nodes 2 and 3 knowing node 1 by the proxy.
proxied() {
	mkdir "$tmp/px"
	"$PY" "$here/it_ha_records.py" "$tmp/px" "$1" "$raft1" 2 \
	    > "$tmp/px.out" 2>&1 &
	pids="$pids $!"
	wait_for 10 grep -q ready "$tmp/px/log" 2>/dev/null ||
	    die "the proxy did not start: $(cat "$tmp/px.out")"
	realpeers=$peers
	start 1
	peers="--peer 1=127.0.0.1:$1 --peer 2=127.0.0.1:$raft2"
	peers="$peers --peer 3=127.0.0.1:$raft3"
	start 2; start 3
	peers=$realpeers
}
# kill9 ID: kill -9 node ID's master and workers; return once they are
# dead (each a zombie at least: reaping, by whoever pid 1 is, may take a
# while), as a crash would leave them, at once: the tests time what
# follows.
kill9() {
	eval "m=\$pid$1"
	w=$(pgrep -P "$m")
	kill -KILL $w "$m" 2>/dev/null
	wait "$m" 2>/dev/null
	for p in $w; do
		wait_for 10 dead "$p" ||
		    die "worker $p of node $1 survived kill -9"
	done
	eval "killed$1=\"$w\""
}
# reaped ID: wait (10 s at most) until every thread of node ID's workers
# killed last has exited, so that their ports are free again: a worker is
# dead once its first thread is, but its fds, listening sockets among
# them, close with its last (a libuv pool thread may be in an fdatasync of
# the raft log for seconds).  start does it first.
reaped() {
	eval "_rw=\$killed$1"
	for _rp in $_rw; do
		wait_for 10 gone "$_rp" ||
		    fail "a thread of node $1's worker $_rp outlived it by 10 s"
	done
	eval "killed$1="
}
# dead PID: PID's first thread has exited (a zombie, or reaped).
dead() {
	! [ -e /proc/$1/stat ] ||
	    [ "$(sed 's/.*) \(.\).*/\1/' /proc/$1/stat 2>/dev/null)" = Z ]
}
# gone PID: every thread of PID has exited.  (The helpers' variables have
# names of their own: sh has no locals, and callers use _t, p, w.)
gone() {
	for _gt in /proc/$1/task/*; do
		case $(sed 's/.*) \(.\).*/\1/' "$_gt/stat" 2>/dev/null) in
		""|Z|X) ;;
		*) return 1 ;;
		esac
	done
}
logs() {
	for i in 1 2 3; do sed "s/^/node$i: /" "$tmp/node$i.log"; done
}
# qput ADDR QUEUE ITEM: put through libqlock connecting to ADDR; refused
# with NotLeader (nothing done: a worker's leaders table may lag a hand-over
# by a moment) it is tried again, up to 5 times.
qput() {
	for _try in 1 2 3 4 5; do
		timeout 20 "$QLOCK_CLI" -a "$1" put "$2" "$3" 2> "$tmp/qput.err" &&
		    return 0
		cat "$tmp/qput.err" >> "$tmp/put.err"
		grep -q "leader" "$tmp/qput.err" || return 1
		sleep 0.2
	done
	return 1
}
# check WHAT [PORT...]: every acknowledged item ($tmp/acked) is in the
# queues q0..q9 exactly once; the queues are drained through the nodes at
# PORT... (default: all three).
check() {
	_what=$1
	shift
	if ! ha drain 10 ${*:-$ports} > "$tmp/got"; then
		fail "$_what: drain: $(tail -1 "$tmp/got")"
		return
	fi
	sort "$tmp/acked" > "$tmp/a.sorted"
	sort "$tmp/got" > "$tmp/g.sorted"
	dups=$(uniq -d "$tmp/g.sorted" | head -3)
	lost=$(comm -23 "$tmp/a.sorted" "$tmp/g.sorted" | head -3)
	if [ -n "$dups" ] || [ -n "$lost" ]; then
		fail "$_what: $(wc -l < "$tmp/got") items got, duplicated: [$dups] lost: [$lost]"
	else
		ok "$_what: $(wc -l < "$tmp/acked") acknowledged items, each there once"
	fi
}

# The clients of the fault tests (it_ha_load.py) over $ports: load_start;
# mark NAME start|end around each fault; leaders_again WHAT after it;
# load_finish: stop them, drain q0..q3, finish what the joinable queues
# hold and join them, and check.
load_start() {
	mkdir "$tmp/load"
	: > "$tmp/load/faults"
	"$PY" "$here/it_ha_load.py" run "$tmp/load" $ports > "$tmp/load.log" 2>&1 &
	loadpid=$!
	pids="$pids $loadpid"
}
mark() { echo "$1 $2 $(date +%s.%N)" >> "$tmp/load/faults"; }
leaders_again() {
	ha leaders 30 0 $ports > /dev/null ||
	    { logs; die "$1: no serving leaders within 30 s"; }
}
load_finish() {
	touch "$tmp/load/stop"
	wait_for 20 sh -c "! kill -0 $loadpid 2>/dev/null" ||
	    die "the clients did not stop"
	cat "$tmp/load.log"
	# A leader may be handing its shard over (a member came back): the
	# drain is tried again, keeping what it took.
	: > "$tmp/drain.out"
	_d=
	for _try in 1 2 3 4 5; do
		ha leaders 30 0 $ports > /dev/null
		ha drain 4 $ports >> "$tmp/drain.out" && { _d=1; break; }
		sleep 1
	done
	[ -n "$_d" ] || fail "drain: $(tail -1 "$tmp/drain.out")"
	grep -v "^queue q[0-9]*: no leader answered" "$tmp/drain.out" \
	    > "$tmp/drained"
	# The joinable queues: what is left is got and finished, then each
	# queue is joined (bounded).
	ha leaders 30 0 $ports > /dev/null
	timeout 120 "$PY" "$here/it_ha_load.py" jdrain "$tmp/load" $ports ||
	    fail "the joinable queues' drain"
	if "$PY" "$here/it_ha_load.py" check "$tmp/load" "$tmp/drained" \
	    > "$tmp/check"; then
		ok "no acknowledged item lost or doubled, every joinable item" \
		    "finished once and joined, tokens increase, no overlap"
	else
		fail "the checks"
	fi
	cat "$tmp/check"
}

# raw_failover script: run a raw-protocol script (tests/ha_raw.py's
# failover: it parks requests, then waits for tmp/killed) with the
# cluster's ports, kill -9 node 1 once it is ready, and count a FAIL of
# its output or its exit status.
raw_failover() {
	HA_RAW="$here" timeout 120 "$PY" "$1" "$tmp" $ports > "$tmp/raw.out" \
	    2>&1 &
	rawpid=$!
	pids="$pids $rawpid"
	wait_for 30 test -f "$tmp/ready" ||
	    { cat "$tmp/raw.out"; logs; die "the requests did not park"; }
	kill9 1
	touch "$tmp/killed"
	wait $rawpid
	rawrc=$?
	cat "$tmp/raw.out"
	grep -q "^FAIL" "$tmp/raw.out" && fails=$((fails + 1))
	[ $rawrc -eq 0 ] || fail "$1 exited $rawrc"
	[ $fails -eq 0 ] || logs
}
