#!/bin/sh
# it_ha_records_side.sh: the side streams of read rounds (hello magic
# QLS2, src/repl_readidx.c) travel in records too, both ways, each
# direction with its own key (src/raft_tcp_rec.c, issue 13).  Nodes 2 and
# 3 reach node 1's Raft ports through the proxy of it_ha_records.sh; node
# 2 leads shard 1, so its read rounds ask node 1 through the proxy.  While
# reads of shard 1 go to node 2, the proxy flips a bit in a question on a
# new side stream (side-q: node 1 must close it and count a bad record),
# then in an answer (side-a: node 2, the leader, must close it and count
# one, instead of taking a forged answer); reads are still answered
# afterwards, each fresh.  Skipped without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_records_side
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

election=3000
set -- $(ha ports 1 2)
pbase=$1
proxied "$pbase"
WANT="1 2" ha leaders 60 0 $ports > /dev/null ||
    { logs; die "shards not led by nodes 1 and 2 within 60 s"; }
ok "shards 0 and 1 led by nodes 1 and 2"

# st.py bad PORT: the node's bad_record, summed over its shards;
# st.py grew LIMIT PORT B: until that is above B (printed);
# st.py reads SECS PORT...: reads of a shard 1 queue at its leader for SECS
# seconds (or until DIR/px/stop-reads), each must see the item put first;
# prints "ok N" or "bad WHAT".
cat > "$tmp/st.py" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
from qlock._route import shard_of
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")

def bad(port):
    try:
        st = Connection("127.0.0.1:%s" % port, key).call("stats")
    except Exception:
        return -1
    return sum(r["transport"].get("bad_record", 0)
               for r in st.get("raft", []))

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "bad":
    print(bad(args[0])); sys.exit(0)
end = time.time() + float(args[0])
if cmd == "grew":
    while True:
        n = bad(args[1])
        if n > int(args[2]) or time.time() > end:
            print(n); sys.exit(0)
        time.sleep(0.2)
while True:            # shard 1's leader's address, once known
    t = Connection("127.0.0.1:%s" % args[1], key).call("topology")
    if t["leaders"][1] == 2 and t["addrs"][1]:
        break
    if time.time() > end:
        print("bad topology: %r" % t); sys.exit(0)
    time.sleep(0.2)
q = next("s%d" % k for k in range(1000) if shard_of("s%d" % k, 2) == 1)
c = Connection(t["addrs"][1][0], key)
c.sock.settimeout(10)
c.call("queue.put", q, b"x", 5)
n = 0
while time.time() < end and not os.path.exists(sys.argv[-1]):
    c.call("queue.put", q, b"x", 5)
    for i in range(3):
        got = c.call("queue.size", q)
        if got != n + 2:
            print("bad read %d: size %r, not %r" % (n, got, n + 2))
            sys.exit(0)
    n += 1
    time.sleep(0.01)
print("ok %d" % n)
PYEOF
"$PY" "$tmp/st.py" reads 120 "$lport1" "$tmp/px/stop-reads" \
    > "$tmp/reads.out" 2>&1 &
rpid=$!
pids="$pids $rpid"

for spec in "side-q $lport1 1" "side-a $lport2 2"; do
	set -- $spec
	mode=$1 sp=$2 node=$3
	b=$("$PY" "$tmp/st.py" bad "$sp")
	echo "$mode" > "$tmp/px/mode.new"
	mv "$tmp/px/mode.new" "$tmp/px/mode"
	if ! wait_for 20 grep -q "^$mode applied" "$tmp/px/log"; then
		fail "$mode: the proxy saw no new side stream to tamper with"
		continue
	fi
	n=$("$PY" "$tmp/st.py" grew 20 "$sp" "$b")
	[ "$n" -gt "$b" ] &&
	    ok "$mode: node $node closed the side stream, counted ($b -> $n)" ||
	    fail "$mode: node $node's bad_record stays $n"
done
grep -q "closed the connection from .*: a record failed authentication (a read round.s side stream)" \
    "$tmp/node1.log" && ok "node 1 logs the bad question" ||
    fail "node 1 logs no bad side record: $(grep closed "$tmp/node1.log")"
grep -q "closed the connection to .*: a record failed authentication (a read round.s side stream)" \
    "$tmp/node2.log" && ok "node 2 logs the bad answer" ||
    fail "node 2 logs no bad side record: $(grep closed "$tmp/node2.log")"

# Reads go on, each fresh, after both.
sleep 2
touch "$tmp/px/stop-reads"
wait "$rpid"
out=$(cat "$tmp/reads.out")
case $out in
ok*)	[ "${out#ok }" -ge 20 ] &&
	    ok "reads of shard 1 answered throughout, each fresh (${out#ok })" ||
	    fail "reads of shard 1: only ${out#ok } answered" ;;
*)	fail "reads of shard 1: $out" ;;
esac
grep -q "killed by signal" "$tmp"/node*.log &&
    fail "a worker died: $(grep -h "killed by signal" "$tmp"/node*.log)" ||
    ok "no worker died"
touch "$tmp/px/stop"

[ $fails -eq 0 ] || { logs; cat "$tmp/px/log"; }
finish
