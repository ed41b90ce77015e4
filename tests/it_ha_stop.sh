#!/bin/sh
# it_ha_stop.sh: a cluster node stopped by SIGTERM hands the leadership of
# its shards over (raft_transfer) once its entries are committed, instead
# of leaving the others to wait an election timeout: with a 3 s timeout
# (elections after 3-6 s of silence) new leaders serve within 2.5 s; the
# daemon exits 0 and what it acknowledged is kept.  Skipped without
# libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_stop
. "$here/it_lib.sh"
election=3000
. "$here/it_ha_lib.sh"

start 1; start 2; start 3
WANT="1 2" ha leaders 40 0 $ports > /dev/null ||
    { logs; die "shards not led by nodes 1 and 2 within 40 s"; }
# Settled: a leader that has just been handed its shard has the handing
# node's worker restarting as a follower; stopping it then leaves a
# transfer to a member that may not be in touch yet.  Let the worker come
# back (well under a second) and check the layout again.
sleep 2
set -- $(WANT="1 2" ha leaders 40 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 40 s"; }
ok "every shard has a serving leader (nodes $1 $2)"
first=$1
qput "$3" q1 kept || fail "a put before the stop: $(cat "$tmp/put.err")"

others=
for n in 1 2 3; do
	[ "$n" = "$first" ] || eval "others=\"\$others \$lport$n\""
done
eval "m=\$pid$first"
t0=$(date +%s.%N)
kill -TERM "$m"
set -- $(ha leaders 20 "$first" $others) ||
    { logs; die "no new leaders within 20 s of SIGTERM to node $first"; }
dt=$(since "$t0")
if awk -v t="$dt" 'BEGIN { exit !(t < 2.5) }'; then
	ok "new leaders $dt s after SIGTERM to node $first (nodes $1 $2)"
else
	fail "new leaders only $dt s after SIGTERM to node $first"
fi
wait "$m"
rc=$?
[ $rc -eq 0 ] && ok "the stopped node exited 0" ||
    fail "the stopped node exited $rc"
grep -q "leadership handed over" "$tmp/node$first.log" &&
    ok "its log says it handed over" || fail "no hand-over in its log"
: > "$tmp/acked"
echo kept > "$tmp/acked"
ha drain 10 $others > "$tmp/got"
grep -qx kept "$tmp/got" && ok "the item put before the stop is kept" ||
    fail "the item put before the stop is gone: $(cat "$tmp/got")"

[ $fails -eq 0 ] || logs
finish
