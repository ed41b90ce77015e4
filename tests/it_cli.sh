#!/bin/sh
# it_cli.sh: the qlock tool against the real qlockd, as a user runs it:
# its messages, exit statuses and input (issue 11).
#
# Uses $QLOCKD and $QLOCK_CLI (set by make check), else ../qlockd and
# ../qlock next to this script.  Exit 0 pass, 1 fail, 77 skip.

here=$(cd "$(dirname "$0")" && pwd)
name=it_cli
. "$here/it_lib.sh"

start_daemon --workers 2 --max-frame 4096

# Item 2: an item over --max-frame says so, and the limit.  It was
# "connection closed by the daemon".
big=$(head -c 10000 /dev/zero | tr '\0' x)
q put cli.big "$big"
expect 2 "put over the frame limit" "over the limit of 4096 bytes"

# Item 5: a listener that never answers, then one that never accepts (its
# backlog full): ping gives up within the connect timeout, saying so.  It
# hung (connect(2) had no limit; the handshake waited 30 s a frame).
"$PY" - > "$tmp/silent.port" <<'PY' &
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
time.sleep(60)      # bounded; killed when done
PY
silent=$!
pids="$pids $silent"
wait_for 10 test -s "$tmp/silent.port" || die "no listener"
saddr=127.0.0.1:$(cat "$tmp/silent.port")
t0=$(date +%s.%N)
q -a "$saddr" -T 1 ping
dt=$(since "$t0")
expect 2 "ping, -T 1, silent listener" "no handshake from the daemon within the connect timeout of 1 s"
took 0.9 4 "ping -T 1"
# Its backlog now holds that connection: the next SYNs are dropped.
t0=$(date +%s.%N)
QLOCK_CONNECT_TIMEOUT=1.5 q -a "$saddr" ping
dt=$(since "$t0")
expect 2 "ping, QLOCK_CONNECT_TIMEOUT=1.5, backlog full" "not connected within the connect timeout of 1.5 s"
took 1.4 4.5 "QLOCK_CONNECT_TIMEOUT=1.5"
QLOCK_CONNECT_TIMEOUT=soon q -a "$saddr" ping
expect 2 "a bad QLOCK_CONNECT_TIMEOUT" "QLOCK_CONNECT_TIMEOUT: not a number"
q -T x ping
expect 2 "a bad -T" "bad --connect-timeout"
kill "$silent" 2>/dev/null
wait "$silent" 2>/dev/null

# Item 8: the item from standard input (no ITEM, or -), from -f FILE,
# byte for byte; a lone dash as the item goes through standard input.
printf 'a\000b\n' > "$tmp/item"
raw_get() {
	"$QLOCK_CLI" get "$1" --timeout 5 --raw | od -An -c | tr -s ' '
}
want=$(od -An -c < "$tmp/item" | tr -s ' ')
"$QLOCK_CLI" put cli.in < "$tmp/item" || fail "put from stdin"
[ "$(raw_get cli.in)" = "$want" ] && ok "put QUEUE < file: byte for byte" ||
    fail "put from stdin stored '$(raw_get cli.in)'"
"$QLOCK_CLI" put cli.in - < "$tmp/item" || fail "put -"
[ "$(raw_get cli.in)" = "$want" ] && ok "put QUEUE -: standard input" ||
    fail "put - stored something else"
"$QLOCK_CLI" put cli.in -f "$tmp/item" < /dev/null || fail "put -f"
[ "$(raw_get cli.in)" = "$want" ] && ok "put QUEUE -f FILE" ||
    fail "put -f stored something else"
printf %s - | "$QLOCK_CLI" put cli.in
[ "$("$QLOCK_CLI" get cli.in --timeout 5)" = - ] && ok "a lone dash, piped" ||
    fail "a piped dash"
q put cli.in x -f "$tmp/item"
expect 2 "put ITEM -f FILE refused" "not both"
q put cli.in -f "$tmp/nonexistent"
expect 2 "put -f of a missing file" "No such file"
[ "$("$QLOCK_CLI" size cli.in)" = 0 ] && ok "nothing left in cli.in" ||
    fail "cli.in holds $("$QLOCK_CLI" size cli.in) items"

# Item 8: exit 1 is silent, and says why with -v.
q get cli.none --timeout 0.2
[ "$rc" -eq 1 ] && [ ! -s "$tmp/err" ] && ok "exit 1, silent" ||
    fail "get timing out: exit $rc, stderr '$(cat "$tmp/err")'"
q -v get cli.none --timeout 0.2
expect 1 "-v: exit 1 says why" "get cli.none: queue empty (--timeout 0.2 s)"
q --verbose get cli.none --timeout 0
expect 1 "--verbose, --timeout 0" "not waiting"

# Item 8: stats' errors does not count Empty / Timeout answers.
stat() {
	"$QLOCK_CLI" stats | awk -v k="$1:" '$1 == k { print $2 }'
}
e0=$(stat errors)
for i in 1 2 3; do
	"$QLOCK_CLI" get cli.none --timeout 0
	"$QLOCK_CLI" event wait cli.never --timeout 0.05
done
e1=$(stat errors)
[ -n "$e0" ] && [ "$e0" = "$e1" ] && ok "errors stays $e0 after 6 timeouts" ||
    fail "errors went from $e0 to $e1 over Empty / Timeout answers"
q put cli.big "$big"
e2=$(stat errors)
[ "$e2" = $((e1 + 1)) ] && ok "errors counts a Limit" ||
    fail "errors went from $e1 to $e2 over a Limit answer"

# Item 8: a port out of range says so.
q -a 127.0.0.1:99999 ping
expect 2 "-a 127.0.0.1:99999" "invalid port 99999"
q -a 127.0.0.1:0 ping
expect 2 "-a 127.0.0.1:0" "invalid port 0"

# Item 8: the key the README's first command makes is git-ignored.
src=${srcdir:-$here/..}
if command -v git > /dev/null && git -C "$src" rev-parse 2> /dev/null; then
	git -C "$src" check-ignore -q qlockd.key && ok "qlockd.key git-ignored" ||
	    fail "qlockd.key is not git-ignored"
fi

finish
