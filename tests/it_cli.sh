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

finish
