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

start_daemon --workers 2

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

# The connection lost (the workers killed): SIGTERM to the command, exit 2.
"$QLOCK_CLI" lock cli.l3 -- sh -c "trap 'echo TERM > \"$tmp/term\"; exit 0' TERM
    touch '$tmp/held3'; while :; do sleep 0.1; done" 2> "$tmp/lost.err" &
holder=$!
pids="$pids $holder"
wait_for 10 test -f "$tmp/held3" || die "the second holder never ran"
for w in $(pgrep -P "$daemon"); do
	kill -KILL "$w"
done
wait_for 8 test -f "$tmp/term" &&
    ok "connection lost: the command got SIGTERM" ||
    fail "connection lost: no SIGTERM to the command"
wait_for 10 gone "$holder" || fail "qlock still runs after its command ended"
wait "$holder"
rc=$?
[ $rc -eq 2 ] && ok "connection lost: exit 2" || fail "connection lost: exit $rc"
grep -q "connection to the daemon lost" "$tmp/lost.err" &&
    ok "connection lost: said so" ||
    fail "connection lost: stderr '$(cat "$tmp/lost.err")'"

finish
