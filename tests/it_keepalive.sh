#!/bin/sh
# it_keepalive.sh: a client that vanishes without a word (its network
# gone, not its process) loses its lock once TCP keepalive gives up on it,
# and a client whose daemon vanished so stops waiting.  Without keepalive
# an idle connection to a dead host lives for ever: the lock stayed taken.
# The client runs in a network namespace of its own behind a veth pair
# made here (root needed; skipped otherwise); the silence is that link
# taken down.  Exit 0 pass, 1 fail, 77 skip.

here=$(cd "$(dirname "$0")" && pwd)
name=it_keepalive
. "$here/it_lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for a network namespace"; exit 77; }
ns=qlk$$
va=qka$$
vb=qkb$$
net=10.231.$(( $$ % 250 + 1 ))
if ! ip netns add "$ns" 2>/dev/null; then
	echo "SKIP: cannot make a network namespace"
	exit 77
fi
nscleanup() {
	ip link del "$va" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	cleanup
}
trap nscleanup EXIT
ip link add "$va" type veth peer name "$vb" &&
    ip link set "$vb" netns "$ns" &&
    ip addr add "$net.1/30" dev "$va" && ip link set "$va" up &&
    ip netns exec "$ns" ip addr add "$net.2/30" dev "$vb" &&
    ip netns exec "$ns" ip link set "$vb" up &&
    ip netns exec "$ns" ip link set lo up || die "veth setup"

(umask 077; echo "$name-test-key-long-enough" > "$tmp/key")
port=$(free_port)
"$QLOCKD" $asroot -f --listen "$net.1:$port" --worker-ports 0 --workers 2 \
    --tcp-keepalive 1 --authkey-file "$tmp/key" > "$tmp/daemon.log" 2>&1 &
daemon=$!
QLOCK_ADDRESS=$net.1:$port
QLOCK_AUTHKEY_FILE=$tmp/key
export QLOCK_ADDRESS QLOCK_AUTHKEY_FILE
unset QLOCK_AUTHKEY QLOCK_CONNECT_TIMEOUT QLOCK_KEEPALIVE
wait_for 10 "$QLOCK_CLI" ping > /dev/null 2>&1 || die "daemon not up"

# The holder, in the namespace: probes its daemon after 1 idle second.
QLOCK_KEEPALIVE=1 ip netns exec "$ns" "$QLOCK_CLI" lock ka.lock -- \
    sh -c "touch '$tmp/held'; exec sleep 60" 2> "$tmp/err.holder" &
holder=$!
pids="$pids $holder"
wait_for 10 test -f "$tmp/held" || die "the holder never got the lock"
# A Python consumer there too, blocked in get() with no timeout.
pyok=
if "$PY" -c 'import msgpack' 2>/dev/null; then
	pyok=1
	QLOCK_KEEPALIVE=1 PYTHONPATH="$here/../python" PYTHONDONTWRITEBYTECODE=1 \
	    ip netns exec "$ns" "$PY" -c "
import sys, qlock
q = qlock.Queue('ka.q')
q.qsize()
open('$tmp/getting', 'w').close()
try:
    q.get()
except qlock.errors.ConnError as e:
    print('ConnError:', e)
    sys.exit(0)
sys.exit(3)" > "$tmp/out.py" 2>&1 &
	pyget=$!
	pids="$pids $pyget"
	wait_for 10 test -f "$tmp/getting" || die "the Python consumer never ran"
fi
q lock -n ka.lock -- true
expect 1 "the lock is taken while its holder is reachable"

ip netns exec "$ns" ip link set "$vb" down || die "link down"
t0=$(date +%s.%N)
q lock -w 15 ka.lock -- true
dt=$(since "$t0")
expect 0 "the lock of a client cut off is given back"
took 0 15 "the daemon's keepalive (1 s idle, 3 probes)"

# The holder's side: its connection is dead too; it stops its command.
if wait_for 20 sh -c "! kill -0 $holder 2>/dev/null"; then
	wait "$holder"
	rc=$?
	[ $rc -eq 2 ] && ok "the cut-off holder exits 2" ||
	    fail "the cut-off holder exit $rc"
	grep -q "connection to the daemon lost" "$tmp/err.holder" &&
	    ok "the cut-off holder says so" ||
	    fail "holder stderr: $(cat "$tmp/err.holder")"
else
	fail "the cut-off holder still runs 20 s after its link went down"
fi
if [ -n "$pyok" ]; then
	if wait_for 20 sh -c "! kill -0 $pyget 2>/dev/null"; then
		wait "$pyget"
		rc=$?
		[ $rc -eq 0 ] && ok "the cut-off Python get() raises ConnError" ||
		    fail "the cut-off Python get(): exit $rc: $(cat "$tmp/out.py")"
	else
		fail "the cut-off Python get() still waits 20 s on"
	fi
else
	echo "(no msgpack for $PY: the Python client not tried)"
fi
finish
