#!/bin/sh
# it_config.sh: the config file and its errors, --check-config, the command
# line overriding the file, and SIGHUP reloading what it can (and saying
# what it cannot), against the real daemon.
here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
# Workers' own ports: any free ones unless a check names some (a port
# derived from a free --listen port may be taken by another test).
wp0="--worker-ports 0"
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}
[ -x "$QLOCKD" ] && [ -x "$QLOCK_CLI" ] || { echo "SKIP: binaries not built"; exit 77; }
tmp=$(mktemp -d /tmp/qlockd-config.XXXXXX)
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
# expect_fail NAME PATTERN FILE-CONTENTS: --check-config exits 2 naming it.
expect_fail() {
	printf '%s\n' "$3" > "$tmp/bad.conf"
	out=$("$QLOCKD" $asroot $wp0 --config "$tmp/bad.conf" --authkey-file "$tmp/key" \
	    --check-config 2>&1)
	rc=$?
	if [ $rc -eq 2 ] && printf '%s' "$out" | grep -q -- "$2"; then
		ok "$1"
	else
		bad "$1: rc $rc, output: $out"
	fi
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	    echo $((20000 + $$ % 20000))
}
# wait_log PATTERN: the daemon log shows it within 10 s.
wait_log() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q -- "$1" "$tmp/qlockd.log" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

(umask 077; echo "config-test-key-long-enough" > "$tmp/key")

# A good file, and the example shipped in etc/.
port=$(free_port)
cat > "$tmp/good.conf" <<CONF
# a comment
listen = 127.0.0.1:$port
workers = 3
   max-frame = 1m
handshake-timeout = 2.5
log-level = info
CONF
out=$("$QLOCKD" $asroot $wp0 --config "$tmp/good.conf" --authkey-file "$tmp/key" --check-config 2>&1)
[ $? -eq 0 ] && printf '%s' "$out" | grep -q "configuration OK" &&
    ok "a good file checks" || bad "good file: $out"
# (on a free port: the check tries to bind it, and 7450 may be taken)
out=$("$QLOCKD" $asroot $wp0 --config "${QLOCKD_CONF:-$here/../etc/qlockd.conf}" --authkey-file "$tmp/key" \
    --listen 127.0.0.1:$(free_port) --check-config 2>&1)
[ $? -eq 0 ] && ok "etc/qlockd.conf checks" || bad "etc/qlockd.conf: $out"

# Bad files: the file, the line and the reason.
expect_fail "unknown key" "bad.conf:2: unknown setting 'colour'" "workers = 1
colour = blue"
expect_fail "out of range" "bad.conf:1: workers: 0 is out of range" "workers = 0"
expect_fail "not a number" "bad.conf:1: max-frame: 'lots' is not a number" "max-frame = lots"
expect_fail "no equals sign" "bad.conf:3: expected 'key = value'" "

workers 2"
expect_fail "bad policy" "bad.conf:1: fsync: 'sometimes'" "fsync = sometimes"
expect_fail "command-line only key" "unknown setting 'config'" "config = /x"
out=$("$QLOCKD" $asroot $wp0 --config "$tmp/missing.conf" --check-config 2>&1)
[ $? -eq 2 ] && printf '%s' "$out" | grep -q "missing.conf" &&
    ok "missing file refused" || bad "missing file: $out"
out=$("$QLOCKD" $asroot $wp0 --workers 0 --authkey-file "$tmp/key" --check-config 2>&1)
[ $? -eq 2 ] && printf '%s' "$out" | grep -q -- "--workers: 0 is out of range" &&
    ok "bad option refused" || bad "bad option: $out"

# Clashes (issue 11 item 7): two options on one address, or an address
# another program holds, fail the check naming the option; a start that
# meets one names it too.
cport=$(free_port)
out=$("$QLOCKD" $asroot $wp0 --authkey-file "$tmp/key" --listen 127.0.0.1:$cport \
    --metrics-listen 127.0.0.1:$cport --check-config 2>&1)
rc=$?
[ $rc -eq 2 ] && printf '%s' "$out" | grep -q -- "--listen 127.0.0.1:$cport and --metrics-listen 127.0.0.1:$cport are the same address" &&
    ok "listen and metrics on one port refused" || bad "listen = metrics: rc $rc: $out"
out=$("$QLOCKD" $asroot $wp0 --authkey-file "$tmp/key" --listen 127.0.0.1:$cport \
    --listen "*:$cport" --check-config 2>&1)
rc=$?
[ $rc -eq 2 ] && printf '%s' "$out" | grep -q -- "are the same address" &&
    ok "a wildcard and an address on one port refused" || bad "wildcard clash: rc $rc: $out"
out=$("$QLOCKD" $asroot $wp0 --authkey-file "$tmp/key" --listen 127.0.0.1:$cport \
    --listen "[::1]:$cport" --check-config 2>&1)
rc=$?
[ $rc -eq 0 ] && ok "one port on IPv4 and IPv6 is no clash" || bad "v4/v6: rc $rc: $out"
# A listener held by another program while the FIFO stays open.
mkfifo "$tmp/fifo"
python3 -c 'import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); sys.stdin.read()' > "$tmp/held" < "$tmp/fifo" &
holder=$!
exec 9> "$tmp/fifo"
i=0
while [ $i -lt 100 ] && [ ! -s "$tmp/held" ]; do sleep 0.1; i=$((i + 1)); done
hport=$(cat "$tmp/held")
out=$("$QLOCKD" $asroot $wp0 --authkey-file "$tmp/key" --listen 127.0.0.1:$hport --check-config 2>&1)
rc=$?
[ $rc -eq 2 ] && printf '%s' "$out" | grep -q -- "--listen 127.0.0.1:$hport: cannot listen: Address already in use (another program has it)" &&
    ok "an address in use is refused, naming --listen" || bad "in use: rc $rc: $out"
out=$("$QLOCKD" $asroot $wp0 --authkey-file "$tmp/key" --listen 127.0.0.1:$cport \
    --metrics-listen 127.0.0.1:$hport --check-config 2>&1)
rc=$?
[ $rc -eq 2 ] && printf '%s' "$out" | grep -q -- "--metrics-listen 127.0.0.1:$hport: cannot listen" &&
    ok "a metrics address in use is refused, naming --metrics-listen" || bad "metrics in use: rc $rc: $out"
out=$("$QLOCKD" $asroot $wp0 --workers 2 --authkey-file "$tmp/key" --listen 127.0.0.1:$cport \
    --worker-ports $hport --check-config 2>&1)
rc=$?
[ $rc -eq 2 ] && printf '%s' "$out" | grep -q -- "--worker-ports 127.0.0.1:$hport: cannot listen: Address already in use" &&
    ok "a worker port in use is refused, naming --worker-ports" || bad "worker port in use: rc $rc: $out"
out=$("$QLOCKD" $asroot $wp0 -f --workers 1 --authkey-file "$tmp/key" --listen 127.0.0.1:$cport \
    --metrics-listen 127.0.0.1:$hport 2>&1)
rc=$?
[ $rc -eq 1 ] && printf '%s' "$out" | grep -q -- "--metrics-listen 127.0.0.1:$hport: cannot listen: Address already in use" &&
    ok "a start that meets it names the option" || bad "start in use: rc $rc: $out"
exec 9>&-
wait $holder

# The command line wins over the file.
"$QLOCKD" $asroot $wp0 -f --config "$tmp/good.conf" --authkey-file "$tmp/key" --workers 1 \
    --worker-ports 0 > "$tmp/qlockd.log" 2>&1 &
pid=$!
export QLOCK_ADDRESS=127.0.0.1:$port QLOCK_AUTHKEY_FILE=$tmp/key
if wait_log "ready: 1 worker"; then
	ok "--workers overrides the file"
else
	bad "override: $(cat "$tmp/qlockd.log")"
fi

# SIGHUP: the log level changes at once; the worker count needs a restart.
"$QLOCK_CLI" ping > /dev/null && ! grep -q " debug: " "$tmp/qlockd.log" &&
    ok "no debug lines at info" || bad "debug lines before SIGHUP"
port2=$(free_port)
sed -i "s/^log-level = info/log-level = debug/; s/^listen = .*/listen = 127.0.0.1:$port2/" \
    "$tmp/good.conf"
kill -HUP $pid
if wait_log "SIGHUP: reloading"; then ok "SIGHUP reloads"; else bad "no reload line"; fi
wait_log "restart to apply" && ok "SIGHUP says what needs a restart" ||
    bad "no restart-to-apply line: $(cat "$tmp/qlockd.log")"
# Workers apply it too: a new connection is logged at debug.
i=0
while [ $i -lt 50 ]; do
	"$QLOCK_CLI" ping > /dev/null
	grep -q "worker 0 debug: .*authenticated" "$tmp/qlockd.log" && break
	sleep 0.1
	i=$((i + 1))
done
grep -q "worker 0 debug: .*authenticated" "$tmp/qlockd.log" &&
    ok "workers log at debug after SIGHUP" || bad "workers ignored SIGHUP"
# A broken file on SIGHUP keeps the running configuration.
echo "workers = many" >> "$tmp/good.conf"
kill -HUP $pid
wait_log "keeping the running one" && ok "a bad file on SIGHUP is refused" ||
    bad "bad reload not refused: $(cat "$tmp/qlockd.log")"
"$QLOCK_CLI" ping > /dev/null && ok "still serving" || bad "not serving after SIGHUP"
# The running daemon's own address: fine for a reload (named, exit 0).
out=$("$QLOCKD" $asroot $wp0 --authkey-file "$tmp/key" --listen 127.0.0.1:$port --check-config 2>&1)
rc=$?
[ $rc -eq 0 ] && printf '%s' "$out" | grep -q "127.0.0.1:$port: a running qlockd serves it" &&
    ok "--check-config next to the running daemon" || bad "check while running: rc $rc: $out"
kill -TERM $pid
wait $pid
rc=$?
pid=
[ $rc -eq 0 ] && ok "exit 0 on SIGTERM" || bad "exit $rc on SIGTERM"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
