#!/bin/sh
# it_priv.sh: privileges, against the real daemon started as root: root
# without --user runs as qlockd or nobody; with --user nobody the master
# and its workers run as nobody (a root-only key and the listeners are had
# first), the data dir is the user's, and the unix socket has --socket-mode.
here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}
[ -x "$QLOCKD" ] && [ -x "$QLOCK_CLI" ] || { echo "SKIP: binaries not built"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
user=nobody
uid=$(id -u "$user" 2>/dev/null) || { echo "SKIP: no user $user"; exit 77; }
gid=$(id -g "$user")
tmp=$(mktemp -d /tmp/qlockd-priv.XXXXXX)
pid=
fails=0
passes=0
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAIL: $1"; }

# The key: root's, mode 0600, in a root-only dir; the user cannot read it.
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$tmp/key")
# The user's own dir for the socket and the data (reached through tmp).
chmod 0711 "$tmp"
mkdir -m 0755 "$tmp/run" && chown "$uid:$gid" "$tmp/run"
sock=$tmp/run/qlockd.sock

# Every id of a process: real, effective, saved and fs uids and gids.
ids_are() {	# PID UID GID
	awk -v u="$2" -v g="$3" '
	    /^Uid:/ { for (i = 2; i <= 5; i++) if ($i != u) bad = 1; seen++ }
	    /^Gid:/ { for (i = 2; i <= 5; i++) if ($i != g) bad = 1; seen++ }
	    /^Groups:/ { for (i = 2; i <= NF; i++) if ($i == 0) bad = 1 }
	    END { exit (bad || seen != 2) }' "/proc/$1/status"
}
# Root without --user: runs as qlockd's own user, else nobody, and says so.
def=nobody; id qlockd >/dev/null 2>&1 && def=qlockd
"$QLOCKD" -f --listen "unix:$sock" --authkey-file "$tmp/key" --workers 1 \
    > "$tmp/default.log" 2>&1 &
pid=$!
i=0
while ! grep -q "ready: 1 worker" "$tmp/default.log" 2>/dev/null && [ $i -lt 100 ]; do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
grep -q "started as root without --user: running as $def" "$tmp/default.log" &&
    ok "root without --user says it runs as $def" ||
    bad "root without --user: $(cat "$tmp/default.log")"
ids_are "$pid" "$(id -u "$def")" "$(id -g "$def")" &&
    ok "root without --user runs as $def" ||
    bad "default ids: $(grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status" 2>&1)"
kill "$pid"; wait "$pid" 2>/dev/null; pid=
rm -f "$sock"
out=$("$QLOCKD" --check-config --authkey-file "$tmp/key" 2>&1)
[ $? -eq 0 ] && printf '%s' "$out" | grep -q "running as $def" &&
    ok "--check-config says so too" || bad "--check-config as root: $out"
out=$("$QLOCKD" --check-config --authkey-file "$tmp/key" --user no-such-user-q 2>&1)
[ $? -eq 2 ] && printf '%s' "$out" | grep -q "no-such-user-q" &&
    ok "unknown --user refused" || bad "unknown user: $out"
out=$("$QLOCKD" --check-config --authkey-file "$tmp/key" --socket-mode 0999 2>&1)
[ $? -eq 2 ] && printf '%s' "$out" | grep -q "octal" &&
    ok "bad --socket-mode refused" || bad "--socket-mode 0999: $out"

# --user nobody: started as root, runs as nobody; a port below 1024 (only
# root may bind one) is served too, when one is free.
low=$(python3 -c '
import socket
for p in range(990, 900, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()' 2>/dev/null)
lowarg=; [ -z "$low" ] || lowarg="--listen=127.0.0.1:$low"
"$QLOCKD" -f --listen "unix:$sock" $lowarg --authkey-file "$tmp/key" --workers 2 \
    --user "$user" --socket-mode 0640 --data-dir "$tmp/run/data" \
    > "$tmp/qlockd.log" 2>&1 &
pid=$!
i=0
while ! grep -q "ready: 2 workers" "$tmp/qlockd.log" && [ $i -lt 100 ]; do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if grep -q "ready: 2 workers" "$tmp/qlockd.log"; then
	ok "started as root with --user $user"
else
	bad "not ready: $(cat "$tmp/qlockd.log")"
	exit 1
fi

ids_are "$pid" "$uid" "$gid" && ok "the master runs as $user" ||
    bad "master ids: $(grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status")"
# cat, not awk on the files: mawk stops at a process that just exited.
workers=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$pid" '$4 == p { print $1 }')
n=0
for w in $workers; do
	n=$((n + 1))
	ids_are "$w" "$uid" "$gid" || bad "worker $w ids: $(grep -E '^(Uid|Gid):' "/proc/$w/status")"
done
[ $n -eq 2 ] && ok "both workers checked" || bad "found $n workers of $pid"

# The socket: the mode asked for, the user's.
[ "$(stat -c '%a %u %g' "$sock")" = "640 $uid $gid" ] &&
    ok "socket mode 0640, owned by $user" ||
    bad "socket: $(stat -c '%a %u %g' "$sock")"

# It serves, and what it writes is the user's.
export QLOCK_ADDRESS="unix:$sock" QLOCK_AUTHKEY_FILE=$tmp/key
"$QLOCK_CLI" put privq hello >/dev/null && [ "$("$QLOCK_CLI" get privq)" = hello ] &&
    ok "put and get over the socket" || bad "put/get failed"
if [ -n "$low" ]; then
	[ "$(QLOCK_ADDRESS=127.0.0.1:$low "$QLOCK_CLI" ping)" = pong ] &&
	    ok "serves port $low, bound before root was given up" ||
	    bad "port $low: no pong"
else
	echo "skipped: no free port below 1024"
fi
other=$(find "$tmp/run/data" ! -user "$uid" | head -3)
[ -d "$tmp/run/data" ] && [ -z "$other" ] &&
    ok "the data dir and its files are $user's" || bad "not $user's: $other"

kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || bad "exit status $rc: $(tail -5 "$tmp/qlockd.log")"

# A socket mode for every start: the default is 0660, not the umask's.
rm -rf "$tmp/run/data" "$sock"
(umask 0; exec "$QLOCKD" -f --listen "unix:$sock" --authkey-file "$tmp/key" \
    --workers 1 --user "$user") > "$tmp/qlockd2.log" 2>&1 &
pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(stat -c %a "$sock" 2>/dev/null)" = 660 ] && ok "default socket mode 0660" ||
    bad "default mode: $(stat -c %a "$sock" 2>&1)"
kill -TERM "$pid"; wait "$pid"; pid=

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
