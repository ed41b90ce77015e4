#!/bin/sh
# it_ha_stats.sh: in a three-node cluster, `qlock stats` and the metrics
# endpoint show each shard's raft group as the node sees it (node, role,
# term, leader, commit, applied and last index; a leader's peers with their
# match index and whether they are in touch; the transport's handshakes
# accepted, connected and refused, and bad records, none): the leaders
# match topology, terms are past 0, the commit index grows with puts and
# reaches the followers, the leaders see both peers in touch, every node
# accepted and made raft connections for every shard.  A single node's
# stats have no raft key.  Skipped without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_stats
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

set -- $(ha ports 4 1)
sport=$4
opts1="--metrics-listen 127.0.0.1:$1" mport1=$1
opts2="--metrics-listen 127.0.0.1:$2"
opts3="--metrics-listen 127.0.0.1:$3"
start 1; start 2; start 3
set -- $(WANT="1 2" ha leaders 30 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 30 s"; }
ok "every shard has a serving leader (nodes $1 $2)"
addr=$3

# The raft entries of every node's stats, one JSON object a line, with the
# node's listen port: shard node role term leader serving commit applied
# last peers.
cat > "$tmp/st.py" <<'PYEOF'
import json, sys
lead = sys.argv[1].split()
rows = {}
for line in open(sys.argv[2]):
    port, js = line.split(" ", 1)
    st = json.loads(js)
    for r in st.get("raft", []):
        rows[(r["node"], r["shard"])] = r
err = []
if len(rows) != 6:
    err.append("%d shard entries, not 6: %s" % (len(rows), sorted(rows)))
for (node, g), r in sorted(rows.items()):
    want = "leader" if str(node) == lead[g] else "follower"
    if r["role"] != want:
        err.append("node %d shard %d: role %s, not %s" % (node, g, r["role"], want))
    if str(r["leader"]) != lead[g]:
        err.append("node %d shard %d: leader %s, not %s" % (node, g, r["leader"], lead[g]))
    if r["term"] < 1:
        err.append("node %d shard %d: term %d" % (node, g, r["term"]))
    if not r["applied"] <= r["commit"] <= r["last"]:
        err.append("node %d shard %d: applied %d commit %d last %d" %
                   (node, g, r["applied"], r["commit"], r["last"]))
    t = r.get("transport", {})
    if sorted(t) != ["accepted", "bad_record", "connected", "refused"] or \
            t["accepted"] < 1 or t["connected"] < 1 or t["bad_record"] != 0:
        err.append("node %d shard %d: transport %s" % (node, g, t))
    if r["role"] == "leader":
        if r["serving"] is not True:
            err.append("node %d shard %d leads but does not serve" % (node, g))
        peers = sorted(p["node"] for p in r["peers"] if p["in_touch"])
        if peers != sorted(n for n in (1, 2, 3) if n != node):
            err.append("node %d shard %d: peers in touch %s" % (node, g, r["peers"]))
    elif r["peers"]:
        err.append("node %d shard %d: a follower lists peers" % (node, g))
if err:
    print("; ".join(err)); sys.exit(1)
# The leaders' commit indexes, then each follower's applied, per shard.
print(" ".join("%d:%d" % (g, rows[(int(lead[g]), g)]["commit"]) for g in (0, 1)))
print(" ".join("%d:%d" % (g, min(r["applied"] for (n, h), r in rows.items() if h == g)) for g in (0, 1)))
PYEOF
# snap: every node's stats into $tmp/st, checked; the leaders' commit
# indexes in $c0 $c1, the least applied index per shard in $a0 $a1.
snap() {
	: > "$tmp/st"
	for p in $ports; do
		printf '%s ' "$p" >> "$tmp/st"
		timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$p stats --json >> "$tmp/st" ||
		    return 1
	done
	"$PY" "$tmp/st.py" "$leaders" "$tmp/st" > "$tmp/st.out" || return 1
	set -- $(tr ': ' '  ' < "$tmp/st.out")
	c0=$2 c1=$4 a0=$6 a1=$8
}
leaders="$1 $2"
# Followers may lag the leader's last heartbeat for a moment: try a while.
n=0
until snap; do
	n=$((n + 1))
	[ $n -lt 50 ] || { logs; die "stats: $(cat "$tmp/st.out")"; }
	sleep 0.2
done
ok "stats: roles, leaders, terms and peers in touch as topology says (commit $c0 $c1)"
b0=$c0 b1=$c1

i=0
while [ $i -lt 20 ]; do
	qput "$addr" "q$i" "item-$i" || fail "put $i: $(cat "$tmp/put.err")"
	i=$((i + 1))
done
# The commit index grew on both shards, and every follower applied it.
n=0
until snap && [ "$c0" -gt "$b0" ] && [ "$c1" -gt "$b1" ] &&
    [ "$a0" -ge "$c0" ] && [ "$a1" -ge "$c1" ]; do
	n=$((n + 1))
	[ $n -lt 50 ] || break
	sleep 0.2
done
if [ "$c0" -gt "$b0" ] && [ "$c1" -gt "$b1" ] && [ "$a0" -ge "$c0" ] &&
    [ "$a1" -ge "$c1" ]; then
	ok "20 puts: commit $b0 -> $c0 and $b1 -> $c1, applied on every node"
else
	fail "after 20 puts: commit $b0 -> $c0, $b1 -> $c1; applied $a0 $a1"
fi

# The CLI's text form: one line per shard.
timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport1 stats > "$tmp/text"
re='^raft: shard=[01] node=1 role=[a-z]* term=[1-9]'
re="$re.* transport={accepted: [1-9][0-9]*, connected: [1-9][0-9]*, refused: [0-9]*, bad_record: 0}"
if [ "$(grep -c "$re" "$tmp/text")" = 2 ]; then
	ok "qlock stats prints a raft line per shard, with its transport"
else
	fail "qlock stats: $(grep raft "$tmp/text")"
fi

# Prometheus: node 1's gauges.
"$PY" - "$mport1" > "$tmp/metrics" <<'PYEOF' || fail "metrics: cannot scrape"
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                             timeout=10).read().decode())
PYEOF
want="qlockd_raft_node 1
qlockd_raft_leader{shard=\"0\"} $(echo $leaders | cut -d' ' -f1)
qlockd_raft_leader{shard=\"1\"} $(echo $leaders | cut -d' ' -f2)"
echo "$want" | while read -r line; do
	grep -qxF "$line" "$tmp/metrics" || echo "$line"
done > "$tmp/missing"
grep -q '^qlockd_raft_commit_index{shard="0"} [1-9]' "$tmp/metrics" ||
    echo "commit index" >> "$tmp/missing"
grep -q '^qlockd_raft_term{shard="1"} [1-9]' "$tmp/metrics" ||
    echo "term" >> "$tmp/missing"
grep -q '^qlockd_raft_role{shard="0",role="leader"} 1' "$tmp/metrics" ||
    echo "role" >> "$tmp/missing"
grep -q '^qlockd_raft_peer_in_touch{shard="0",peer="[23]"} 1' "$tmp/metrics" ||
    echo "peer in touch" >> "$tmp/missing"
for res in accepted connected; do
	grep -q "^qlockd_raft_handshakes_total{shard=\"1\",result=\"$res\"} [1-9]" \
	    "$tmp/metrics" || echo "handshakes $res" >> "$tmp/missing"
done
grep -q '^qlockd_raft_handshakes_total{shard="1",result="refused"} [0-9]' \
    "$tmp/metrics" || echo "handshakes refused" >> "$tmp/missing"
if [ -s "$tmp/missing" ]; then
	fail "metrics lack: $(cat "$tmp/missing")"; grep raft "$tmp/metrics"
else
	ok "metrics: node, leaders, commit index, term, role, peers in touch, handshakes"
fi

# A single node: no raft key.
"$QLOCKD" $asroot -f --workers 2 --listen 127.0.0.1:$sport \
    --authkey-file "$tmp/key" --worker-ports 0 >> "$tmp/single.log" 2>&1 &
daemon=$!
wait_for 10 timeout 5 "$QLOCK_CLI" -a 127.0.0.1:$sport ping > /dev/null ||
    fail "a single node did not start"
timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$sport stats --json > "$tmp/single"
if grep -q '"items"' "$tmp/single" && ! grep -q '"raft"' "$tmp/single"; then
	ok "a single node's stats have no raft key"
else
	fail "a single node's stats: $(cat "$tmp/single")"
fi
finish
