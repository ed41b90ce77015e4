#!/bin/sh
# it_limits.sh: out of file descriptors, a worker neither spins nor dies:
# it pauses accepting, and serves again once connections close.
here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
[ -x "$QLOCKD" ] && [ -x "$QLOCK_CLI" ] && [ -n "$PY" ] ||
    { echo "SKIP: binaries or python3 missing"; exit 77; }
tmp=$(mktemp -d /tmp/qlockd-limits.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
(umask 077; echo "limits-test-key-long-enough" > "$tmp/key")
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# 40 descriptors: a few for the daemon itself, room for about 30 clients.
(ulimit -n 40; exec "$QLOCKD" $asroot -f --listen 127.0.0.1:$port --workers 1 \
    --worker-ports 0 --authkey-file "$tmp/key") > "$tmp/qlockd.log" 2>&1 &
pid=$!
export QLOCK_ADDRESS=127.0.0.1:$port QLOCK_AUTHKEY_FILE=$tmp/key
i=0
until "$QLOCK_CLI" ping > /dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "FAIL: daemon not up"; cat "$tmp/qlockd.log"; exit 1; }
	sleep 0.1
done
worker=$(pgrep -P $pid | head -1)
# Hold 60 connections for 2 s; measure the worker's CPU time meanwhile.
"$PY" - "$port" "$worker" > "$tmp/out" <<'PY'
import os, socket, sys, time
port, worker = int(sys.argv[1]), sys.argv[2]
def cpu():
    f = open("/proc/%s/stat" % worker).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
time.sleep(0.3)
c0 = cpu(); time.sleep(2.0); c1 = cpu()
print("%.2f" % (c1 - c0))
for s in socks:
    s.close()
PY
used=$(cat "$tmp/out")
fails=0
if awk -v u="$used" 'BEGIN { exit !(u < 0.5) }'; then
	echo "ok: worker used ${used} s of CPU in 2 s while out of descriptors"
else
	echo "FAIL: worker used ${used} s of CPU in 2 s: spinning on accept"
	fails=1
fi
grep -q "pausing accepts" "$tmp/qlockd.log" && echo "ok: logged" ||
    { echo "FAIL: no log line"; fails=1; }
i=0
until "$QLOCK_CLI" ping > /dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 50 ] && break
	sleep 0.1
done
if "$QLOCK_CLI" ping > /dev/null 2>&1 && kill -0 $worker 2>/dev/null; then
	echo "ok: the same worker serves again"
else
	echo "FAIL: not serving after the connections closed"; fails=1
fi
kill -TERM $pid; wait $pid; rc=$?; pid=
[ $rc -eq 0 ] || { echo "FAIL: exit $rc"; fails=1; }
[ $fails -eq 0 ] && echo "PASS" || cat "$tmp/qlockd.log"
exit $fails
