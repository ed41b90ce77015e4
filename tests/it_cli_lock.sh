#!/bin/sh
# it_cli_lock.sh: qlock lock NAME -- COMMAND as ops people use flock(1)
# (issue 11, item 10): the fencing token in $QLOCK_LOCK_TOKEN, the
# command's exit status passed through, -n and -w, the command killed
# when qlock is, and stopped when the connection (and the lock) is lost.
#
# Uses $QLOCKD and $QLOCK_CLI (set by make check), else ../qlockd and
# ../qlock next to this script.  Exit 0 pass, 1 fail, 77 skip.

here=$(cd "$(dirname "$0")" && pwd)
name=it_cli_lock
. "$here/it_lib.sh"

# True once process $1 is gone (or a zombie nobody reaps).
gone() {
	[ ! -e "/proc/$1" ] ||
	    [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

start_daemon --workers 3

# Start qlock lock $1 in the background ($holder), its command noting a
# SIGTERM in $tmp/term.$2 and exiting 0; return once it runs.
hold_trapping() {
	rm -f "$tmp/held.$2" "$tmp/term.$2"
	"$QLOCK_CLI" lock "$1" -- sh -c "trap 'echo TERM > \"$tmp/term.$2\"; exit 0' TERM
	    touch '$tmp/held.$2'; while :; do sleep 0.1; done" 2> "$tmp/err.$2" &
	holder=$!
	pids="$pids $holder"
	wait_for 10 test -f "$tmp/held.$2" || die "the holder of $1 never ran"
}
# Expect the command under $holder to get SIGTERM ($2), and qlock to exit 2
# saying why, once the connection holding the lock is gone ($1 says how).
expect_stopped() {
	wait_for 8 test -f "$tmp/term.$2" &&
	    ok "$1: the command got SIGTERM" ||
	    fail "$1: no SIGTERM to the command"
	stop_holder
	rc=$?
	[ $rc -eq 2 ] && ok "$1: exit 2" || fail "$1: exit $rc"
	grep -q "connection to the daemon lost" "$tmp/err.$2" &&
	    ok "$1: said so" || fail "$1: stderr '$(cat "$tmp/err.$2")'"
}
# Reap qlock $holder, killing it if it is still there 10 s on: its status.
stop_holder() {
	if ! wait_for 10 gone "$holder"; then
		fail "qlock still runs 10 s after the connection was lost"
		pkill -KILL -P "$holder"
		kill -KILL "$holder"
	fi
	wait "$holder"
}

# The token, strictly increasing per grant; the status passed through.
q lock cli.l1 -- sh -c 'echo "$QLOCK_LOCK_TOKEN"; exit 3'
t1=$(cat "$tmp/out")
expect 3 "the command's exit status 3 passed through"
q lock cli.l1 -- sh -c 'echo "$QLOCK_LOCK_TOKEN"'
t2=$(cat "$tmp/out")
expect 0 "exit status 0"
case "$t1$t2" in
*[!0-9]*|"") fail "tokens '$t1', '$t2' are not numbers" ;;
*) [ "$t2" -gt "$t1" ] && ok "QLOCK_LOCK_TOKEN exported, $t1 then $t2" ||
    fail "tokens $t1 then $t2: not increasing" ;;
esac

# -n and -w against a holder.
"$QLOCK_CLI" lock cli.l2 -- sh -c "touch '$tmp/held'; exec sleep 30" &
holder=$!
pids="$pids $holder"
wait_for 10 test -f "$tmp/held" || die "the holder never ran"
t0=$(date +%s.%N)
q lock -n cli.l2 -- echo ran
dt=$(since "$t0")
expect 1 "-n: exit 1 while held"
[ -s "$tmp/out" ] && fail "-n ran the command while held"
took 0 3 "-n"
t0=$(date +%s.%N)
q -v lock cli.l2 -w 1 -- echo ran
dt=$(since "$t0")
expect 1 "-w 1: exit 1 while held, saying so with -v" "timed out"
[ -s "$tmp/out" ] && fail "-w ran the command while held"
took 0.9 4 "-w 1"

# qlock SIGKILLed: its command dies with it, and the lock is free again.
holder_child=$(pgrep -P "$holder")
[ -n "$holder_child" ] || die "no command under the holder"
kill -KILL "$holder"
wait "$holder" 2>/dev/null
wait_for 5 gone "$holder_child" &&
    ok "qlock SIGKILLed: its command died too" ||
    fail "qlock SIGKILLed: its command $holder_child still runs"
q lock cli.l2 -w 5 -- echo ran
expect 0 "the lock is free once qlock is killed"

# With direct routing the lock is held by qlock's connection to its owner,
# not by its first one.  The owner worker alone killed: that connection
# ends, the lock is gone, and the command must be stopped even though the
# first connection lives on.  The holder's pid, the pid of the worker
# owning the lock, and whether qlock's first connection is on another
# worker, from qlock list and /proc.
owner_of() {
	"$PY" - "$1" "$2" "$daemon" "$QLOCK_CLI" <<'PY'
import os, re, subprocess, sys
holder, lock, daemon, cli = sys.argv[1:]
def inodes(pid):
    out = set()
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink("/proc/%s/fd/%s" % (pid, fd)))
        except OSError:
            continue
        if m:
            out.add(m.group(1))
    return out
conns = {}      # inode -> (local port, remote port)
for line in open("/proc/net/tcp").readlines()[1:]:
    f = line.split()
    conns[f[9]] = (int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16))
mine = {conns[i][0] for i in inodes(holder) if i in conns}
objs = [dict(kv.split("=", 1) for kv in l.split())
        for l in subprocess.run([cli, "list"], capture_output=True,
                                text=True).stdout.splitlines()]
lk = [o for o in objs if o.get("kind") == "lock" and o.get("name") == lock]
hid = lk[0]["holders"].strip("[]")
sess = [o for o in objs if o.get("kind") == "session"
        and int(o["name"].rsplit(":", 1)[1]) in mine]
owner = [o["worker"] for o in sess if o["id"] == hid]
other = [o["worker"] for o in sess if o["id"] != hid]
if not owner or not other:
    sys.exit(1)
for w in open("/proc/%s/task/%s/children" % (daemon, daemon)).read().split():
    if any(conns.get(i, (0, 0))[1] in mine for i in inodes(w)):
        if any(o["id"] == hid and conns.get(i, (0, 0))[1] ==
               int(o["name"].rsplit(":", 1)[1]) for i in inodes(w)
               for o in sess):
            print(w, "split" if owner[0] not in other else "same")
            sys.exit(0)
sys.exit(1)
PY
}
found=
for n in 1 2 3 4 5 6; do
	hold_trapping cli.r$n r
	set -- $(owner_of "$holder" cli.r$n)
	if [ "$2" = split ]; then
		found=$1
		break
	fi
	kill -KILL "$holder"
	wait "$holder" 2>/dev/null
done
if [ -z "$found" ]; then
	echo "skip: no lock owned away from qlock's first connection (no routing?)"
else
	kill -KILL "$found"
	expect_stopped "the lock's owner worker killed" r
	# Its replacement serves before the rest goes on.
	wait_for 10 "$QLOCK_CLI" lock -n cli.r$n -- true ||
	    die "the lock's worker not back"
fi

# The connection lost (the workers killed): SIGTERM to the command, exit 2.
hold_trapping cli.l3 all
for w in $(pgrep -P "$daemon"); do
	kill -KILL "$w"
done
expect_stopped "every worker killed" all

finish
