#!/bin/sh
# it_ha_reads_load.sh: reads stay linearizable and in order under many
# concurrent readers and writers (issue 13: a leader's reads wait for a Raft
# entry appended after them, at most one barrier in flight, src/repl_read.c).
# A three-node cluster; it_ha_reads_load.py runs $READS_SECS seconds
# (default 12) of writers (each bumps its own dict counter, a read, the
# increment and a read pipelined), readers (every counter, pipelined) and
# streamers (a read every 2 ms, replies read by another thread) against
# shard 0's leader: replies in the order sent, the increment after the
# read before it, no read older than a write acknowledged before it was
# sent nor than an earlier read.  Meanwhile shard 0's leader node is
# stopped (SIGSTOP) for five election timeouts and, as root, cut off (in a
# network namespace, it_netns.sh: nothing reaches its Raft ports) until
# two seconds after it is resumed: the writers move on to the new leader
# while the streamers' reads wait in the old one's socket, and the old
# leader, resumed, must not answer them from its stale state (without the
# read barrier, src/repl_read.c, it did).  The clients follow the new
# leader (and the hand-back to the preferred one that follows).  Skipped
# without libraft; without root it runs without the cut.
here=$(cd "$(dirname "$0")" && pwd)
NETNS_OPTIONAL=1
. "$here/it_netns.sh"
name=it_ha_reads_load
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

start 1; start 2; start 3
set -- $(WANT="1 2" ha leaders 40 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 40 s"; }
ok "every shard has a serving leader (nodes $1 $2)"
lead0=$1
secs=${READS_SECS:-12}
QLOCK_CONNECT_TIMEOUT=1 "$PY" "$here/it_ha_reads_load.py" "$secs" $ports \
    > "$tmp/load.out" 2>&1 &
loadpid=$!
pids="$pids $loadpid"
sleep 4
eval "m=\$pid$lead0 rp=\$raft$lead0"
w=$(pgrep -P "$m")
kill -STOP $w "$m"
[ -z "$netns" ] || netns_cut add "$rp" $((rp + 1))
sleep 1.5
kill -CONT $w "$m"
sleep 2
[ -z "$netns" ] || netns_cut del "$rp" $((rp + 1))
ok "node $lead0 (shard 0's leader) stopped for 1.5 s${netns:+ and cut off}, then resumed"
wait_for $((secs + 90)) sh -c "! kill -0 $loadpid 2>/dev/null" ||
    die "the clients did not end"
wait "$loadpid"
rc=$?
cat "$tmp/load.out"
if [ "$rc" -eq 0 ]; then
	ok "$(head -1 "$tmp/load.out"): every read fresh, replies in order"
else
	logs
	fail "the readers and writers: $(head -1 "$tmp/load.out")"
fi
kill9 1; kill9 2; kill9 3
finish
