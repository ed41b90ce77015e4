#!/bin/sh
# it_ha_auth.sh: Raft traffic is authenticated with the cluster's key
# (src/raft_tcp.c, issue 13).  Nodes 1 and 2 share the key and serve; node
# 3, named in every --peer list but started with another authkey, never
# joins: it knows no leader, serves nothing, and none of the cluster's
# entries reach its raft directory, while both sides log the refused
# handshakes.  Raw TCP clients on a Raft port -- garbage, a hello for
# another group, a wrong MAC, silence, 40 at once, and with the RIGHT key
# an id not in --peer or node 1's own id -- are closed and the nodes keep
# serving; the same raw client with the right key and a member's id is
# accepted (so the refusals are for the id).  Node 1's stats and metrics
# count the handshakes (the shard's transport: accepted, connected,
# refused).
# Skipped without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_auth
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

(umask 077; echo "$name-ANOTHER-key-long-enough" > "$tmp/key3")
set -- $(ha ports 1 1)
opts1="--metrics-listen 127.0.0.1:$1" mport1=$1
start 1; start 2; start 3 "$tmp/key3"
set -- $(ha leaders 40 3 $lport1 $lport2) ||
    { logs; die "shards not led by nodes 1 and 2 within 40 s"; }
ok "nodes 1 and 2 serve every shard (leaders: nodes $1 $2)"
put_at=$3

# Items with a marker that can be looked for in the raft directories.
mark="authmark$$"
for i in 1 2 3 4 5 6; do
	qput "$put_at" "q$i" "$mark-$i" ||
	    fail "put $i through the leaders: $(cat "$tmp/put.err")"
done
ok "puts through the leaders acknowledged"

# Node 3 had time to join (a few election timeouts, 300 ms each).
sleep 3
known=$(QLOCK_AUTHKEY_FILE=$tmp/key3 ha known "$lport3") ||
    fail "node 3 does not answer its own clients"
[ "$known" = "- -" ] && ok "node 3 knows no leader for any shard" ||
    fail "node 3 knows leaders: $known"
timeout 20 env QLOCK_AUTHKEY_FILE="$tmp/key3" "$QLOCK_CLI" \
    -a "127.0.0.1:$lport3" put q1 intruder > "$tmp/out3" 2>&1 &&
    fail "node 3 took a put: $(cat "$tmp/out3")"
grep -q "no leader" "$tmp/out3" && ok "node 3 serves nothing (no leader)" ||
    fail "node 3's answer to a put: $(cat "$tmp/out3")"
grep -rqa "$mark" "$tmp/raft1" && ok "node 1's raft log holds the items" ||
    fail "the marker is not in node 1's raft directory"
if grep -rqa "$mark" "$tmp/raft3"; then
	fail "node 3's raft directory holds the cluster's items"
else
	ok "none of the cluster's entries reached node 3's raft directory"
fi
grep -q "refused the connection.*node [12]" "$tmp/node3.log" &&
    ok "node 3 logs the members' refused handshakes" ||
    fail "node 3's log shows no refused handshake"
cat "$tmp/node1.log" "$tmp/node2.log" > "$tmp/n12.log"
grep -q "refused the connection.*node 3" "$tmp/n12.log" &&
    ok "nodes 1 and 2 log node 3's refused handshakes" ||
    fail "nodes 1 and 2 log no refused handshake of node 3"
n=$(grep -c "raft shard 0: refused" "$tmp/node1.log")
[ "$n" -le 2 ] && ok "refusals logged at most once per 10 s ($n lines)" ||
    fail "node 1 logged $n refusals for shard 0 within a few seconds"

# tr: node 1's handshake counters for shard 0 (stats' raft transport):
# accepted connected refused.
tr() {
	timeout 20 "$QLOCK_CLI" -a "127.0.0.1:$lport1" stats --json |
	    "$PY" -c 'import json, sys
t = [r for r in json.load(sys.stdin)["raft"] if r["shard"] == 0][0]["transport"]
print(t["accepted"], t["connected"], t["refused"])'
}
set -- $(tr)
[ $# -eq 3 ] || fail "node 1's stats have no raft transport counters"
acc0=${1:-0} ref0=${3:-0}

# Raw clients on node 1's Raft port for shard 0: each must be closed.
cat > "$tmp/raw.py" <<'PYEOF'
import hashlib, hmac, os, socket, struct, sys, time
port, what = int(sys.argv[1]), sys.argv[2]
ids = {"stranger": 9, "self": 1, "member": 3}
if what in ids:
    # The RIGHT key: the hello names node ids[what]; the answer is
    # "refused" (closed before the challenge), or "accepted" (the whole
    # handshake, "QLOK" at the end).
    key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    addr = b"127.0.0.1:9999"
    hello = (b"QLR1" + struct.pack(">IQQH", 0, ids[what], 1, len(addr)) +
             os.urandom(32) + addr)
    s.sendall(hello)
    got = b""
    try:
        while len(got) < 64:
            b = s.recv(64 - len(got))
            if not b:
                break
            got += b
    except ConnectionResetError:
        pass
    if len(got) < 64:
        print("refused"); sys.exit(0)
    mac = lambda l: hmac.new(key, l + hello + got[:32],
                             hashlib.sha256).digest()
    if not hmac.compare_digest(got[32:], mac(b"A")):
        print("node 1 did not prove the key"); sys.exit(1)
    s.sendall(mac(b"C"))
    ok = s.recv(4)
    print("accepted" if ok == b"QLOK" else "no QLOK: %r" % ok)
    sys.exit(0)
if what == "flood":
    # 40 silent connections: at most 32 handshakes wait, one more closes
    # the oldest, so 8 are closed at once; the rest at the 3 s timeout.
    ss = [socket.create_connection(("127.0.0.1", port), timeout=10)
          for i in range(40)]
    time.sleep(1)
    closed = 0
    for c in ss:
        c.setblocking(False)
        try:
            if c.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
    print(closed)
    sys.exit(0)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
t0 = time.time()
if what == "garbage":
    s.sendall(b"GET / HTTP/1.0\r\n" * 8)
elif what == "group":
    # A well-formed hello for group 7: refused before any MAC.
    s.sendall(b"QLR1" + struct.pack(">IQQH", 7, 3, 1, 14) + b"\0" * 32 +
              b"127.0.0.1:9999")
elif what == "longaddr":
    s.sendall(b"QLR1" + struct.pack(">IQQH", 0, 3, 1, 65535) + b"\0" * 32)
elif what == "badmac":
    s.sendall(b"QLR1" + struct.pack(">IQQH", 0, 3, 1, 14) + b"\0" * 32 +
              b"127.0.0.1:9999")
    if len(s.recv(64)) == 0:
        print("no challenge"); sys.exit(1)
    s.sendall(b"\1" * 32)
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
except ConnectionResetError:
    pass
except socket.timeout:
    print("still open after 10 s"); sys.exit(1)
print("%.1f" % (time.time() - t0))
PYEOF
for what in garbage group longaddr badmac silence; do
	if dt=$(timeout 30 "$PY" "$tmp/raw.py" "$raft1" $what); then
		ok "a raw client sending $what is closed after $dt s"
	else
		fail "a raw client sending $what: $dt"
	fi
done
case $dt in
2.*|3.*|4.*) ok "a silent client waits the handshake timeout (3 s)" ;;
*) fail "a silent client was closed after $dt s, not about 3 s" ;;
esac
n=$(timeout 30 "$PY" "$tmp/raw.py" "$raft1" flood)
[ "$n" -ge 8 ] && [ "$n" -lt 40 ] &&
    ok "40 silent clients at once: $n closed within 1 s (32 may wait)" ||
    fail "40 silent clients at once: $n closed within 1 s, not 8 to 39"
# The right key with an id not among the members, or node 1's own id:
# refused before the challenge; a member's id: the whole handshake.
for what in stranger self member; do
	r=$(timeout 30 "$PY" "$tmp/raw.py" "$raft1" $what) || r="error: $r"
	case $what/$r in
	stranger/refused) ok "the right key from node 9 (not in --peer): refused" ;;
	self/refused) ok "the right key claiming node 1's own id: refused" ;;
	member/accepted) ok "the right key from node 3 (a member): accepted" ;;
	*) fail "the right key as $what: $r" ;;
	esac
done
# The counters: refused grew by the 7 single probes at least (garbage,
# group, longaddr, badmac, silence, stranger, self), accepted by the
# member's.
set -- $(tr)
if [ "${3:-0}" -ge $((ref0 + 7)) ] && [ "${1:-0}" -gt "$acc0" ]; then
	ok "node 1's stats: refused $ref0 -> $3, accepted $acc0 -> $1"
else
	fail "node 1's stats: refused $ref0 -> ${3:-?}, accepted $acc0 -> ${1:-?}"
fi
"$PY" - "$mport1" > "$tmp/metrics" <<'PYEOF' || fail "metrics: cannot scrape"
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                             timeout=10).read().decode())
PYEOF
m=$(sed -n 's/^qlockd_raft_handshakes_total{shard="0",result="refused"} //p' \
    "$tmp/metrics")
[ "${m:-0}" -ge $((ref0 + 7)) ] &&
    ok "metrics: qlockd_raft_handshakes_total refused for shard 0 is $m" ||
    fail "metrics: $(grep handshakes "$tmp/metrics")"
qput "$put_at" q9 "$mark-after" &&
    ok "the cluster serves after the raw clients" ||
    fail "a put after the raw clients: $(cat "$tmp/put.err")"
if grep -q "killed by signal" "$tmp/node1.log" "$tmp/node2.log" \
    "$tmp/node3.log"; then
	fail "a worker died: $(grep -h "killed by signal" "$tmp"/node*.log)"
else
	ok "no worker died"
fi

[ $fails -eq 0 ] || logs
finish
