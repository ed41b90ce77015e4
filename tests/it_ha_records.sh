#!/bin/sh
# it_ha_records.sh: after the handshake, raft traffic travels in
# authenticated records (src/raft_tcp_rec.c, issue 13).  Nodes 2 and 3
# reach node 1's Raft ports through a proxy (it_ha_records.py) that, on
# request, tampers with one new connection after its handshake: a flipped
# bit, an injected record, an oversized length, a replayed record, a cut
# record.  Each time node 1 closes the connection (the proxy sees it close,
# except for the cut, which the proxy closes itself), counts it in its
# stats (the raft transport's bad_record) and metrics
# (qlockd_raft_bad_records_total), logs why, and raft reconnects: after
# all five, puts through the leaders commit and reach node 1, whose only
# way to the others' traffic is the proxy.  Skipped without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_records
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

# Tampering breaks a connection for a moment; a long election timeout
# keeps that from starting elections (which restart workers, and with
# them the counters).
election=3000
set -- $(ha ports 2 2)
pbase=$1 mport1=$2
opts1="--metrics-listen 127.0.0.1:$mport1"
# Node 1 listens where it is; nodes 2 and 3 know it by the proxy.
proxied "$pbase"
# The preferred leaders (a hand-over restarts a worker, and its counters).
set -- $(WANT="1 2" ha leaders 60 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 60 s"; }
ok "shards 0 and 1 led by nodes $1 and $2"
put_at=$3

# The nodes' raft stats, polled with a deadline (raw msgpack-RPC):
#   bad PORT: the node's bad_record, summed over its shards;
#   grew LIMIT PORT B: until that is above B (printed);
#   caught LIMIT P1 P2 P3: until the node at P1 applied, for each shard,
#   what the nodes at P2 and P3 know committed.
cat > "$tmp/st.py" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")

def raft(port):
    try:
        st = Connection("127.0.0.1:%s" % port, key).call("stats")
    except Exception as e:
        return None
    return {r["shard"]: r for r in st.get("raft", [])}

def bad(port):
    r = raft(port)
    return -1 if r is None else sum(x["transport"].get("bad_record", 0)
                                    for x in r.values())

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "bad":
    print(bad(args[0])); sys.exit(0)
end = time.time() + float(args[0])
while True:
    if cmd == "grew":
        n = bad(args[1])
        if n > int(args[2]):
            print(n); sys.exit(0)
        what = n
    else:
        rs = [raft(p) for p in args[1:]]
        if None not in rs and all(
                rs[0][g]["applied"] >= max(r[g]["commit"] for r in rs[1:])
                for g in rs[0]):
            sys.exit(0)
        what = [{g: (x["commit"], x["applied"]) for g, x in r.items()}
                if r else None for r in rs]
    if time.time() > end:
        print(what); sys.exit(1)
    time.sleep(0.2)
PYEOF
bad() { "$PY" "$tmp/st.py" bad "$lport1"; }
b=$(bad)
[ "$b" = 0 ] && ok "node 1 counts no bad record at first" ||
    fail "node 1's bad_record at first: $b"

# A refused handshake on each of node 1's Raft ports first: the warnings
# of refusals are limited to one per shard every 10 s, and must not hide
# those of bad records (once, a hand-over's refused reconnection did).
# Shard 0 gets garbage for a hello; shard 1 a hello of another raft
# format (QLR0), as from a member running another qlockd version: its
# refusal says so.
for g in 0 1; do
	"$PY" -c "import socket, struct
s = socket.create_connection(('127.0.0.1', $((raft1 + g))), 5)
s.settimeout(5)
if $g == 0:
    s.sendall(b'not a hello, ' * 16)
else:
    s.sendall(b'QLR0' + struct.pack('>IQQH', 1, 2, 1, 14) + bytes(32) +
              b'127.0.0.1:9999')
try:
    s.recv(1)
except OSError:
    pass" 2> /dev/null
done
refused() { [ "$(grep -c "raft shard [01]: refused the connection from" \
    "$tmp/node1.log")" -ge 2 ]; }
wait_for 10 refused && ok "node 1 logged the garbage refused on both shards" ||
    fail "node 1 did not log the garbage refused: $(grep refused "$tmp/node1.log")"
grep -q "raft shard 1: refused .*another qlockd version (raft format QLR0, ours QLR1): every member must run the same version" \
    "$tmp/node1.log" &&
    ok "a hello of another raft format: refused as another qlockd version" ||
    fail "a hello of another raft format: $(grep "raft shard 1: refused" "$tmp/node1.log")"

# Each tampering: node 1's count grows by one.
for mode in flip inject length replay cut; do
	echo "$mode" > "$tmp/px/mode"
	if ! wait_for 20 grep -q "^$mode applied" "$tmp/px/log"; then
		fail "$mode: the proxy saw no new connection to tamper with"
		continue
	fi
	n=$("$PY" "$tmp/st.py" grew 20 "$lport1" "$b")
	if [ "$n" -gt "$b" ]; then
		ok "$mode: node 1 counts a bad record ($b -> $n)"
	else
		fail "$mode: node 1's bad_record stays $n"
	fi
	b=$n
	if [ "$mode" != cut ]; then
		wait_for 10 grep -q "^$mode: the node closed" "$tmp/px/log" &&
		    ok "$mode: node 1 closed the connection" ||
		    fail "$mode: node 1 did not close the connection"
	fi
done
grep -q "closed the connection from .*: a record failed authentication" \
    "$tmp/node1.log" && ok "node 1 logs why it closed the connection" ||
    fail "node 1 logs no bad record: $(grep closed "$tmp/node1.log")"

# The cluster commits, and node 1 (behind the proxy) has the entries.
for i in 1 2 3 4 5 6; do
	qput "$put_at" "q$i" "after-$i" ||
	    fail "put $i after the tampering: $(cat "$tmp/put.err")"
done
ok "puts through the leaders acknowledged after the tampering"
if out=$("$PY" "$tmp/st.py" caught 30 $ports); then
	ok "node 1 applied every committed entry"
else
	fail "node 1 behind: (commit, applied) on nodes 1 2 3: $out"
fi

"$PY" - "$mport1" > "$tmp/metrics" <<'PYEOF' || fail "metrics: cannot scrape"
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                             timeout=10).read().decode())
PYEOF
m=$(sed -n 's/^qlockd_raft_bad_records_total{shard="[01]"} //p' \
    "$tmp/metrics" | awk '{ s += $1 } END { print s + 0 }')
[ "$m" -ge 5 ] && [ "$m" -eq "$(bad)" ] &&
    ok "metrics: qlockd_raft_bad_records_total sums to $m on node 1" ||
    fail "metrics: $(grep bad_records "$tmp/metrics")"
if grep -q "killed by signal" "$tmp/node1.log" "$tmp/node2.log" \
    "$tmp/node3.log"; then
	fail "a worker died: $(grep -h "killed by signal" "$tmp"/node*.log)"
else
	ok "no worker died"
fi
touch "$tmp/px/stop"

[ $fails -eq 0 ] || { logs; cat "$tmp/px/log"; }
finish
