#!/bin/sh
# it_pidfile.sh: qlockd without -f: it says where its logs go before it
# leaves the terminal, writes --pid-file with the daemon's pid, refuses a
# second daemon of the same pid file (naming the pid), takes over a stale
# one, refuses a symlink, and removes the file at exit.
here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}
qopts=; [ "$(id -u)" -ne 0 ] || qopts=--user=root
# Workers' own ports: any free ones (a derived one may be taken meanwhile).
qopts="$qopts --worker-ports=0"
[ -x "$QLOCKD" ] && [ -x "$QLOCK_CLI" ] || { echo "SKIP: binaries not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
tmp=$(mktemp -d /tmp/qlockd-pidfile.XXXXXX)
fails=0
passes=0
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAIL: $1"; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_gone PID: the process ends within 20 s.
wait_gone() {
	i=0
	while [ $i -lt 200 ]; do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
(umask 077; echo "pidfile-test-key-long-enough" > "$tmp/key")
export QLOCK_AUTHKEY_FILE=$tmp/key
pf=$tmp/qlockd.pid

# Detached: the message, the pid, the service.
port=$(free_port)
"$QLOCKD" $qopts --workers 1 --listen 127.0.0.1:$port --authkey-file "$tmp/key" \
    --pid-file "$pf" > "$tmp/out" 2> "$tmp/err"
rc=$?
[ $rc -eq 0 ] && ok "starts detached" || bad "start: rc $rc: $(cat "$tmp/err")"
grep -q "going to the background; logs go to syslog (facility daemon)" "$tmp/err" &&
    ok "says where the logs go: $(cat "$tmp/err")" || bad "no log destination: $(cat "$tmp/err")"
if [ -e /dev/log ]; then
	! grep -q "/dev/log does not exist" "$tmp/err" && ok "syslog is there" ||
	    bad "warned of a /dev/log that exists"
else
	grep -q "/dev/log does not exist" "$tmp/err" &&
	    ok "warns that no syslog runs here" || bad "no warning without /dev/log"
fi
dpid=$(cat "$pf" 2>/dev/null)
case "$dpid" in
''|*[!0-9]*) bad "pid file holds '$dpid'"; dpid= ;;
*) [ "$(cat /proc/$dpid/comm 2>/dev/null)" = qlockd ] &&
    ok "pid file names the running daemon ($dpid)" || bad "pid $dpid is not qlockd" ;;
esac
QLOCK_ADDRESS=127.0.0.1:$port "$QLOCK_CLI" ping > /dev/null &&
    ok "serves" || bad "does not serve"

# A second daemon of the same pid file is refused, naming the first.
port2=$(free_port)
out=$("$QLOCKD" $qopts -f --workers 1 --listen 127.0.0.1:$port2 --authkey-file "$tmp/key" \
    --pid-file "$pf" 2>&1)
rc=$?
[ $rc -eq 1 ] && printf '%s' "$out" | grep -q -- "--pid-file $pf: held by a running qlockd (pid $dpid)" &&
    ok "a second daemon is refused" || bad "second daemon: rc $rc: $out"
[ "$(cat "$pf")" = "$dpid" ] && ok "the pid file is left alone" || bad "pid file changed: $(cat "$pf")"

# SIGTERM: the daemon ends and removes its pid file.
kill -TERM "$dpid"
wait_gone "$dpid" && ok "stops on SIGTERM" || bad "still running"
dpid=
[ ! -e "$pf" ] && ok "pid file removed at exit" || bad "pid file left: $(cat "$pf")"

# A stale file (its daemon gone, the pid maybe reused) is taken over.
echo $$ > "$pf"		# a live pid, but not a qlockd holding the file
"$QLOCKD" $qopts -f --workers 1 --listen 127.0.0.1:$port --authkey-file "$tmp/key" \
    --pid-file "$pf" > "$tmp/err" 2>&1 &
dpid=$!
i=0
while [ $i -lt 200 ] && ! grep -q "ready: 1 worker" "$tmp/err"; do sleep 0.1; i=$((i + 1)); done
[ "$(cat "$pf")" = "$dpid" ] && ok "a stale pid file is taken over (-f: our pid)" ||
    bad "stale file: $(cat "$pf"): $(cat "$tmp/err")"
kill -TERM "$dpid"
wait "$dpid"
rc=$?
dpid=
[ $rc -eq 0 ] && [ ! -e "$pf" ] && ok "exit 0, file removed" || bad "rc $rc, file: $(ls "$pf" 2>&1)"

# A symlink is not followed.
ln -s "$tmp/elsewhere" "$pf"
out=$("$QLOCKD" $qopts -f --workers 1 --listen 127.0.0.1:$port --authkey-file "$tmp/key" \
    --pid-file "$pf" 2>&1)
rc=$?
[ $rc -eq 1 ] && printf '%s' "$out" | grep -q "symbolic link" && [ ! -e "$tmp/elsewhere" ] &&
    ok "a symlink is refused" || bad "symlink: rc $rc: $out"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
