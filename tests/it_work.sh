#!/bin/sh
# it_work.sh: qlock work against the real qlockd: every item done exactly
# once, the failure policies, and no item lost to SIGTERM or SIGKILL.
#
# Uses $QLOCKD and $QLOCK_CLI (set by make check), else ../qlockd and
# ../qlock next to this script.  Exit 0 pass, 1 fail, 77 skip.

here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}

if [ ! -x "$QLOCKD" ] || [ ! -x "$QLOCK_CLI" ]; then
	echo "SKIP: no $QLOCKD or $QLOCK_CLI"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/it_work.XXXXXX") || exit 1
daemon=		# qlockd's pid
worker=		# the pid of a qlock work left running, if any

# Stop what the test started (by pid) and remove its files.
cleanup() {
	if [ -n "$worker" ]; then
		kill -KILL "$worker" 2>/dev/null
		wait "$worker" 2>/dev/null
	fi
	# Commands orphaned by the SIGKILL case: each leads its process group.
	for f in "$tmp"/kill/pid.slow "$tmp"/kill/pid.marker; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		[ -n "$pid" ] && kill -TERM "-$pid" 2>/dev/null
	done
	for f in "$tmp"/term2/run.*; do
		[ -f "$f" ] && kill -TERM "-${f##*.}" 2>/dev/null
	done
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "FAIL: $*"
	[ -f "$tmp/daemon.log" ] && sed 's/^/qlockd: /' "$tmp/daemon.log"
	exit 1
}

# Run the condition "$@" every 0.1 s until it holds; fail after $limit s.
wait_for() {
	limit=$1
	shift
	n=0
	until "$@"; do
		n=$((n + 1))
		[ "$n" -ge $((limit * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# qlock in the foreground.  In the background, call "$QLOCK_CLI" itself:
# $! must be its pid, not that of a subshell running this function.
q() {
	"$QLOCK_CLI" "$@"
}

# A port nobody listens on now: from the kernel if python3 is there.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null ||
	    awk 'BEGIN { srand(); print 20000 + int(rand() * 40000) }'
}

daemon_up() {
	kill -0 "$daemon" 2>/dev/null && q ping >/dev/null 2>&1
}

# Wait for the qlock work in the background to exit, SIGKILLing it after
# $1 s; its exit status.
wait_worker() {
	(
		n=0
		while [ $n -lt $(($1 * 10)) ] && [ ! -e "$tmp/wd.stop" ]; do
			sleep 0.1
			n=$((n + 1))
		done
		[ -e "$tmp/wd.stop" ] || kill -KILL "$worker" 2>/dev/null
	) &
	wd=$!
	# (The shell's "Killed" notice for the SIGKILL case is noise.)
	{ wait "$worker"; } 2>/dev/null
	wrc=$?
	worker=
	touch "$tmp/wd.stop"
	wait "$wd"
	rm -f "$tmp/wd.stop"
	return $wrc
}

# Start qlockd; a port taken meanwhile makes it exit: try another.
export QLOCK_AUTHKEY_FILE="$tmp/key"
for _ in 1 2 3 4 5; do
	port=$(free_port)
	export QLOCK_ADDRESS="127.0.0.1:$port"
	"$QLOCKD" $asroot -f --listen "$QLOCK_ADDRESS" --workers 2 \
	    --worker-ports 0 --authkey-file "$tmp/key" >"$tmp/daemon.log" 2>&1 &
	daemon=$!
	if wait_for 10 daemon_up; then
		break
	fi
	kill -TERM "$daemon" 2>/dev/null
	wait "$daemon" 2>/dev/null
	daemon=
done
[ -n "$daemon" ] || fail "qlockd did not start"

# The items of plain queue $1, one a line, taking them (at most 100).
drain() {
	n=0
	while [ $n -lt 100 ] && q get "$1" --timeout 0; do
		n=$((n + 1))
	done
}

# The same for joinable queue $1: there a get's item goes back when its
# connection closes unless marked done, which qlock work does.
drain_joinable() {
	q work "$1" --timeout 0.5 -- sh -c 'cat; echo' 2>/dev/null
}

# How many regular files match directory $1's pattern $2.
count() {
	set -- "$1"/$2
	[ -e "$1" ] || { echo 0; return; }
	echo $#
}

count_is() {
	[ "$(count "$1" "$2")" -eq "$3" ]
}

# 1. 20 items, -j 4: each processed exactly once, the queue joined.
mkdir "$tmp/one"
i=1
while [ $i -le 20 ]; do
	q put jobs "item-$i" || fail "put item-$i"
	echo "item-$i" >>"$tmp/one.want"
	i=$((i + 1))
done
q work jobs -j 4 --timeout 1 -- \
    sh -c 'f=$(mktemp "$1/r.XXXXXX") && cat >"$f"' sh "$tmp/one" \
    2>"$tmp/one.err"
rc=$?
[ $rc -eq 0 ] || fail "work -j 4 exited $rc: $(cat "$tmp/one.err")"
for f in "$tmp"/one/r.*; do
	cat "$f"
	echo
done | sort >"$tmp/one.got"
sort "$tmp/one.want" >"$tmp/one.want.sorted"
cmp -s "$tmp/one.got" "$tmp/one.want.sorted" ||
    fail "items not processed exactly once: $(diff "$tmp/one.want.sorted" \
    "$tmp/one.got" | tr '\n' ' ')"
[ "$(q size jobs)" = 0 ] || fail "jobs not empty after work"
grep -q "done 20, failed 0, requeued 0" "$tmp/one.err" ||
    fail "summary: $(cat "$tmp/one.err")"

# 2. A command that always fails: requeued, then in jobs.failed after 3.
q put jobs poison || fail "put poison"
q work jobs --timeout 1 -- \
    sh -c 'cat >/dev/null; echo try >>"$1"; exit 3' sh "$tmp/tries" \
    2>"$tmp/two.err"
rc=$?
[ $rc -eq 0 ] || fail "work with a failing command exited $rc"
[ "$(wc -l <"$tmp/tries")" -eq 3 ] ||
    fail "poison ran $(wc -l <"$tmp/tries") times, not 3"
[ "$(q size jobs)" = 0 ] || fail "poison still on jobs"
[ "$(drain jobs.failed)" = poison ] || fail "poison not in jobs.failed"
grep -q "done 0, failed 3, requeued 2" "$tmp/two.err" ||
    fail "summary: $(cat "$tmp/two.err")"

# 3. --on-failure move:other: failed items go to other, none stays.
q put mv m1 && q put mv m2 || fail "put mv"
q work mv -j 2 --on-failure move:other --timeout 1 -- false \
    2>"$tmp/three.err" || fail "work move exited $?"
[ "$(q size mv)" = 0 ] || fail "items left on mv"
[ "$(drain other | sort | tr '\n' ' ')" = "m1 m2 " ] ||
    fail "other does not hold m1 and m2"

# 4. SIGTERM mid-run: running commands finish, the rest stay queued.
mkdir "$tmp/term"
i=1
while [ $i -le 12 ]; do
	q put term "t-$i" || fail "put t-$i"
	i=$((i + 1))
done
"$QLOCK_CLI" work term -j 3 -- sh -c 'f=$(mktemp "$1/run.XXXXXX") && cat >"$f" &&
    sleep 1 && mv "$f" "$1/done.${f##*.}"' sh "$tmp/term" \
    2>"$tmp/four.err" &
worker=$!
wait_for 10 count_is "$tmp/term" 'run.*' 3 || fail "3 commands never ran"
kill -TERM "$worker"
wait_worker 20
rc=$?
[ $rc -eq 0 ] || fail "work exited $rc after SIGTERM"
[ "$(count "$tmp/term" 'run.*')" -eq 0 ] ||
    fail "commands cut short by the first SIGTERM"
done_n=$(count "$tmp/term" 'done.*')
[ "$done_n" -ge 3 ] || fail "only $done_n commands finished"
{
	for f in "$tmp"/term/done.*; do
		cat "$f"
		echo
	done
	drain_joinable term
} | sort >"$tmp/term.got"
[ "$(wc -l <"$tmp/term.got")" -eq 12 ] &&
    [ -z "$(uniq -d "$tmp/term.got")" ] ||
    fail "after SIGTERM, processed + queued is not the 12 items once each"

# 5. A second SIGTERM terminates the commands and puts their items back.
q put term2 a && q put term2 b || fail "put term2"
mkdir "$tmp/term2"
"$QLOCK_CLI" work term2 -j 2 -- sh -c 'cat >"$1/run.$$"; exec sleep 30' sh \
    "$tmp/term2" 2>"$tmp/five.err" &
worker=$!
wait_for 10 count_is "$tmp/term2" 'run.*' 2 || fail "term2 never ran"
kill -TERM "$worker"
# Two signals sent at once may arrive as one: wait for the first's effect.
stopping() {
	grep -q stopping "$tmp/five.err"
}
wait_for 10 stopping || fail "no stopping after SIGTERM"
kill -TERM "$worker"
wait_worker 20
rc=$?
[ $rc -eq 0 ] || fail "work exited $rc after two SIGTERMs"
[ "$(drain_joinable term2 | sort | tr '\n' ' ')" = "a b " ] ||
    fail "terminated items not put back: $(cat "$tmp/five.err")"

# 6. SIGKILL: the daemon gives back exactly the unfinished items, even
# when a later item finished first (each slot has its own session).
mkdir "$tmp/kill"
q put kq slow && q put kq fast && q put kq marker || fail "put kq"
"$QLOCK_CLI" work kq -j 2 -- sh -c 'x=$(cat); echo $$ >"$1/pid.$x"
    [ "$x" = fast ] || exec sleep 30' sh "$tmp/kill" 2>/dev/null &
worker=$!
# marker is taken only after fast's task_done.
wait_for 10 count_is "$tmp/kill" 'pid.marker' 1 || fail "marker never ran"
kill -KILL "$worker"
wait_worker 20
kq_back() {
	[ "$(q size kq)" = 2 ]
}
wait_for 10 kq_back || fail "the daemon gave back $(q size kq) items, not 2"
# Two sessions die at once: the order they are given back in is not
# defined, which of them comes back is.
[ "$(drain_joinable kq | sort | tr '\n' ' ')" = "marker slow " ] ||
    fail "the daemon gave back the wrong items"

echo "PASS"
exit 0
