#!/bin/sh
# it_ha_cli_keep.sh: `qlock lock NAME -- CMD` keeps its lock through a
# failover while CMD runs (issue 13; qlock_keep, client/lq_keep.c): the
# cron job holding a lock across machines is not stopped, and no rival
# gets the lock, when the leader of the lock's shard dies or hangs.
#  - kill -9 of node 1 (shard 0's leader) while a holder runs a command
#    under lock k0: past the session grace (10 s) a rival still times
#    out; the command ends normally, qlock exits with its status, and the
#    rival then gets the lock with a larger fencing token.
#  - SIGSTOP of node 2 (shard 1's leader; its connections stay open, as a
#    host cut off) while a holder runs under lock k1: the same.
# Before qlock_keep, the first holder's command was stopped (SIGTERM)
# when its connection ended, and the second holder never noticed: the
# rival got k1 after the grace while its command still ran.  Skipped (77)
# without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_cli_keep
. "$here/it_lib.sh"
. "$here/it_ha_lib.sh"

cluster_up
set -- $(PYTHONPATH=$PYPKG "$PY" -c '
from qlock._route import shard_of
for g in (0, 1):
    print(next("k%d" % i for i in range(1000) if shard_of("k%d" % i, 2) == g))')
k0=$1 k1=$2
QLOCK_ADDRESS=127.0.0.1:$lport3,127.0.0.1:$lport2,127.0.0.1:$lport1
export QLOCK_ADDRESS

# hold LOCK TAG: qlock lock LOCK running a command that prints its token,
# then waits for $tmp/go.TAG and prints "done"; its pid in $holder.
hold() {
	"$QLOCK_CLI" lock "$1" -- sh -c "echo \$QLOCK_LOCK_TOKEN; \
	    while [ ! -f '$tmp/go.$2' ]; do sleep 0.1; done; echo done" \
	    > "$tmp/out.$2" 2> "$tmp/err.$2" &
	holder=$!
	pids="$pids $holder"
	wait_for 10 test -s "$tmp/out.$2" ||
	    { cat "$tmp/err.$2"; logs; die "the holder of $1 never ran"; }
}

# kept LOCK TAG WHAT: past the grace the holder of LOCK still runs and a
# rival times out; then the command ends, qlock exits 0, and the rival
# gets LOCK with a larger token.
kept() {
	sleep 12
	if kill -0 "$holder" 2>/dev/null; then
		ok "$3: the holder's command still runs past the grace"
	else
		fail "$3: the holder stopped: $(cat "$tmp/err.$2")"
	fi
	if timeout 20 "$QLOCK_CLI" lock -w 1 "$1" -- true 2> "$tmp/rival.err"
	then
		fail "$3: a rival got $1 while its holder ran"
	else
		ok "$3: a rival times out"
	fi
	touch "$tmp/go.$2"
	# (Its release may hang on a frozen leader: bounded.)
	wait_for 15 sh -c "! kill -0 $holder 2>/dev/null" ||
	    { fail "$3: the holder did not end"; kill -KILL "$holder"; }
	wait "$holder"
	rc=$?
	[ $rc -eq 0 ] && grep -q '^done$' "$tmp/out.$2" &&
	    ok "$3: the command ended normally, qlock exit 0" ||
	    fail "$3: exit $rc, out '$(cat "$tmp/out.$2")'," \
	        "err '$(cat "$tmp/err.$2")'"
	t=$(timeout 20 "$QLOCK_CLI" lock -w 10 "$1" -- \
	    sh -c 'echo $QLOCK_LOCK_TOKEN' 2> "$tmp/rival.err")
	t0=$(head -1 "$tmp/out.$2")
	[ -n "$t" ] && [ "$t" -gt "$t0" ] &&
	    ok "$3: then the rival gets it, token $t > $t0" ||
	    fail "$3: the rival: '$t' (holder's $t0) $(cat "$tmp/rival.err")"
}

# 1. kill -9 of shard 0's leader.
hold "$k0" a
kill9 1
ha leaders 30 1 $ports > /dev/null ||
    { logs; die "no leaders without node 1 within 30 s"; }
kept "$k0" a "kill -9 of node 1"

# 2. SIGSTOP of shard 1's leader (node 1 back first: a majority without
# node 2).
start 1
WANT="1 2" ha leaders 60 0 $ports > /dev/null ||
    { logs; die "shards not led by nodes 1 and 2 again within 60 s"; }
hold "$k1" b
kill -STOP $(pgrep -P "$pid2") "$pid2"
ha leaders 30 2 $ports > /dev/null ||
    { kill -CONT $(pgrep -P "$pid2") "$pid2"; logs
      die "no leaders without node 2 within 30 s"; }
kept "$k1" b "SIGSTOP of node 2"
kill -CONT $(pgrep -P "$pid2") "$pid2"

[ $fails -eq 0 ] || logs
finish
