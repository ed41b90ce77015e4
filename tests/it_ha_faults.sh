#!/bin/sh
# it_ha_faults.sh: faults under load in a three-node cluster on loopback
# (issue 13).  Producers, consumers and lock contenders (it_ha_load.py: two
# of each kind, three contenders on two locks with a fenced register, and
# a producer and two consumers of a joinable queue per shard) run
# through: SIGSTOP of shard 0's leader node (master and workers) for three
# election timeouts, then SIGCONT; kill -9 of a follower node and its
# restart; kill -9 of all three and their restart; a restart of one node
# whose raft logs lost a few bytes at their tail (one segment truncated, one
# zeroed in place); a restart while its Raft port is taken.  Then:
# no acknowledged item lost (but for gets whose reply was lost) or
# delivered twice, every acknowledged joinable item finished exactly once
# (at most once where its last task_done's outcome is unknown: jcheck in
# it_ha_load.py) and never delivered after that, each joinable queue's
# join returns at the end, fencing tokens strictly increasing per lock,
# holders whose release was acknowledged never overlap, every client
# served again within SERVED_WITHIN seconds of each fault, the torn node
# catches up.
# Skipped without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_faults
. "$here/it_lib.sh"
election=500
. "$here/it_ha_lib.sh"

# signal_node ID SIG: SIGSTOP or SIGCONT node ID's master and workers.
signal_node() {
	eval "m=\$pid$1"
	kill -"$2" $(pgrep -P "$m") "$m"
}

start 1; start 2; start 3
set -- $(WANT="1 2" ha leaders 30 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 30 s"; }
ok "every shard has a serving leader (nodes $1 $2)"
lead0=$1

load_start
sleep 3

# 1. SIGSTOP of shard 0's leader node for 3 election timeouts.
mark stop start
signal_node "$lead0" STOP
sleep 1.5
signal_node "$lead0" CONT
mark stop end
leaders_again "SIGSTOP of node $lead0"
ok "SIGSTOP of node $lead0 (shard 0's leader) for 1.5 s, then SIGCONT"
sleep 3

# 2. kill -9 of a follower node (one leading nothing, if any).
set -- $(ha leaders 30 0 $ports)
f=3
for n in 1 2 3; do
	[ "$n" != "$1" ] && [ "$n" != "$2" ] && f=$n
done
mark kill-follower start
kill9 "$f"
mark kill-follower end
sleep 2
start "$f"
leaders_again "kill -9 of node $f"
ok "kill -9 of follower node $f, its restart"
sleep 3

# 3. kill -9 of all three, and their restart.
mark kill-all start
kill9 1; kill9 2; kill9 3
start 1; start 2; start 3
mark kill-all end
leaders_again "kill -9 of all three"
ok "kill -9 of all three nodes, their restart"
sleep 3

# 4. A torn tail: node 3 dies, its raft logs lose their last bytes.
mark torn start
kill9 3
# Each shard's last segment with data (open segments are preallocated
# and zero past their data) loses its last 5 bytes written: shard 0's is
# cut short (truncated), shard 1's zeroed in place (a write torn by a
# crash, the file keeping its size).
"$PY" - "$tmp"/raft3/shard-* >> "$tmp/torn.log" <<'PYEOF'
import os, re, sys
for k, d in enumerate(sys.argv[1:]):
    segs = [f for f in os.listdir(d) if re.fullmatch(r"open-\d+|\d+-\d+", f)]
    # Newest data last: closed segments by their first index, then open
    # ones by their counter.
    segs.sort(key=lambda f: (1, int(f[5:])) if f.startswith("open-")
              else (0, int(f.split("-")[0])))
    for f in reversed(segs):
        data = open(os.path.join(d, f), "rb").read()
        end = len(data.rstrip(b"\0"))
        if end > 8:
            path = os.path.join(d, f)
            if k == 0:
                os.truncate(path, end - 5)
            else:
                with open(path, "r+b") as fh:
                    fh.seek(end - 5)
                    fh.write(bytes(5))
            print("torn: %s/%s: %d bytes of data, %s %d" %
                  (os.path.basename(d), f, end,
                   "cut to" if k == 0 else "zeroed from", end - 5))
            break
PYEOF
start 3
mark torn end
leaders_again "the torn restart of node 3"
sed 's/^/note: /' "$tmp/torn.log"
# Node 3 catches up: each shard's applied index there reaches the commit
# index its leader had a moment before.
caught_up() {
	for p in $ports; do
		timeout 10 "$QLOCK_CLI" -a 127.0.0.1:$p stats --json || return 1
	done > "$tmp/st" 2>/dev/null
	"$PY" - "$tmp/st" <<'PYEOF'
import json, sys
rows = [r for l in open(sys.argv[1]) for r in json.loads(l).get("raft", [])]
lead = {r["shard"]: r["commit"] for r in rows if r["role"] == "leader"}
mine = {r["shard"]: r["applied"] for r in rows if r["node"] == 3}
sys.exit(0 if len(lead) == 2 and all(mine.get(g, -1) >= c
                                     for g, c in lead.items()) else 1)
PYEOF
}
j= end=$(($(date +%s) + 30))
while [ "$(date +%s)" -lt $end ]; do
	caught_up && { j=1; break; }
	sleep 0.2
done
if [ -n "$j" ]; then
	ok "node 3 restarted on a torn log tail and caught up"
else
	fail "node 3 did not catch up after its torn restart:" \
	    "$(grep -v '^{' "$tmp/st"; tail -5 "$tmp/node3.log")"
fi
sleep 2

load_finish

# A Raft port another process listens on while node 3 is down: its
# worker says so (raft_start said nothing), and joins once it is free.
kill9 3
reaped 3
"$PY" - "$raft3" <<'PYEOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(3)
s.close()
PYEOF
holder=$!
pids="$pids $holder"
sleep 0.5
start 3
if wait_for 10 grep -q "cannot listen on 127.0.0.1:$raft3 for Raft: Address already in use" "$tmp/node3.log"; then
	ok "a worker whose Raft port is taken says so"
else
	fail "node 3 with its Raft port taken: $(grep raft_start "$tmp/node3.log" | tail -2)"
fi
wait "$holder"
joined() {
	timeout 10 "$QLOCK_CLI" -a 127.0.0.1:$lport3 stats --json 2>/dev/null |
	    grep -q '"shard":0,"node":3,"role":"follower"'
}
j= end=$(($(date +%s) + 40))
while [ "$(date +%s)" -lt $end ]; do
	joined && { j=1; break; }
	sleep 0.5
done
[ -n "$j" ] && ok "it joins once the port is free" ||
    fail "node 3 did not join after its Raft port was freed"
[ $fails -eq 0 ] || logs
finish
