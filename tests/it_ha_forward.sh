#!/bin/sh
# it_ha_forward.sh: any node serves every shard (issue 13): through node 3,
# which leads no shard, clients that do not route (the qlock tool with
# QLOCK_ROUTE=0, and a stock multiprocessing.connection.Client with
# msgpack) are served on every shard: node 3 relays each named request to
# the shard's leader over an upstream of the client's session.  What the
# session holds there is given back when the client dies (kill -9); a
# blocking get through node 3 is woken by a put through node 1; a request
# in flight when its leader dies is answered Unavail (outcome unknown),
# and the next one goes to the new leader.  Skipped (77) without libraft.
here=$(cd "$(dirname "$0")" && pwd)
name=it_ha_forward
. "$here/it_lib.sh"

. "$here/it_ha_lib.sh"

"$PY" -c "import msgpack" 2>/dev/null ||
    { echo "SKIP: no python3-msgpack"; exit 77; }
# The stock client of Python <= 3.11 speaks HMAC-MD5.
HA_OPTS="--auth-legacy-md5 --handshake-timeout 3"

# The stock client: raw.py PORT COMMAND ARG...; answers are printed as
# "ok RESULT" or "err CODE MESSAGE".
cat > "$tmp/raw.py" <<'PYEOF'
import os, sys, time
import msgpack
from multiprocessing.connection import Client
sys.path.insert(0, os.environ["PYPKG"])
from qlock._route import shard_of
key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
c = Client(("127.0.0.1", int(sys.argv[1])), authkey=key)
mid = 0

def call(method, *params):
    global mid
    mid += 1
    c.send_bytes(msgpack.packb([0, mid, method, list(params)]))
    m = msgpack.unpackb(c.recv_bytes(), raw=False)
    assert m[0] == 1 and m[1] == mid, m
    return m[2], m[3]

def say(err, res):
    if err is None:
        print("ok", res.decode() if isinstance(res, bytes) else res)
    else:
        print("err", err[0], err[1])
    sys.stdout.flush()

cmd, args = sys.argv[2], sys.argv[3:]
if cmd == "puts":           # puts N: raw-I to q(I % 10); the acked items
    assert len({shard_of("q%d" % i, 2) for i in range(10)}) == 2
    for i in range(int(args[0])):
        err, _ = call("queue.put", "q%d" % (i % 10), b"raw-%d" % i, 5)
        if err is None:
            print("raw-%d" % i)
        else:
            print("put raw-%d: %s" % (i, err), file=sys.stderr)
elif cmd == "putget":       # a put then a get on g0..g9 (both shards)
    n = 0
    for i in range(10):
        e1, _ = call("queue.put", "g%d" % i, b"pg-%d" % i, 5)
        e2, r = call("queue.get", "g%d" % i, 5)
        if e1 is None and e2 is None and r == b"pg-%d" % i:
            n += 1
        else:
            print("g%d: %s %s %s" % (i, e1, e2, r), file=sys.stderr)
    print(n)
elif cmd == "hold":         # hold NAME...: acquire each, say so, then wait
    for a in args:
        call("lock.open", a, False)
        say(*call("lock.acquire", a, 10))
    time.sleep(600)
elif cmd == "cancel":       # cancel NAME: a size, a get (msgid 7), its cancel
    call("queue.size", args[0])
    c.send_bytes(msgpack.packb([0, 7, "queue.get", [args[0], 30]]))
    time.sleep(0.5)
    c.send_bytes(msgpack.packb([0, 8, "cancel", [args[0], 7]]))
    for _ in range(2):
        m = msgpack.unpackb(c.recv_bytes(), raw=False)
        say(m[2], m[3])
elif cmd == "marked":       # marked NAME...: puts after the relaying mark
    c.send_bytes(msgpack.packb([2, "relayed", []]))
    for a in args:
        say(*call("queue.put", a, b"x", 5))
elif cmd == "pipeline":     # pipeline N: N puts sent at once, then read
    n = int(args[0])
    names = ["pl%d" % i for i in range(10)]
    for i in range(n):
        c.send_bytes(msgpack.packb([0, i + 1, "queue.put",
                                    [names[i % 10], b"pl-%d" % i, 5]]))
    ids = set()
    for i in range(n):
        m = msgpack.unpackb(c.recv_bytes(), raw=False)
        if m[2] is None:
            ids.add(m[1])
        else:
            print("put %s: %s" % (m[1], m[2]), file=sys.stderr)
    print(len(ids & set(range(1, n + 1))))
elif cmd == "onword":       # onword NAME: connected, put once a line comes
    call("ping")
    print("ready")
    sys.stdout.flush()
    sys.stdin.readline()
    t0 = time.time()
    say(*call("queue.put", args[0], b"x", 5))
    print("secs %.1f" % (time.time() - t0))
elif cmd == "call":         # call METHOD NAME [NUMBER...]
    t0 = time.time()
    say(*call(args[0], args[1], *[float(a) for a in args[2:]]))
    print("secs %.1f" % (time.time() - t0))
PYEOF
raw() { timeout 60 "$PY" "$tmp/raw.py" "$@"; }
# A name on shard G of two: name G PREFIX.
name_on() {
	"$PY" -c "import sys; sys.path.insert(0, '$PYPKG')
from qlock._route import shard_of
print(next('$2%d' % i for i in range(1000) if shard_of('$2%d' % i, 2) == $1))"
}

# get_during NAME OUT COMMAND...: a get of NAME (for at most 50 s) through
# node 3, answered into OUT; COMMAND runs a second after it was sent.
get_during() {
	_q=$1 _out=$2
	shift 2
	raw $lport3 call queue.get "$_q" 50 > "$_out" 2>&1 &
	_pid=$!
	sleep 1
	"$@"
	wait $_pid
}

# Node 3 alone has no quorum: no leader, nothing to relay to: NotLeader
# (nothing done) "no leader yet".
start 3
nl() {
	QLOCK_ROUTE=0 timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport3 put q0 x \
	    2> "$tmp/nl.err"
	grep -q "shard 0: no leader yet" "$tmp/nl.err"
}
if wait_for 10 nl; then
	ok "without a leader: NotLeader, no leader yet"
else
	fail "without a leader: $(cat "$tmp/nl.err")"
fi
start 1; start 2
set -- $(WANT="1 2" ha leaders 30 0 $ports) ||
    { logs; die "shards not led by nodes 1 and 2 within 30 s"; }
ok "every shard has a serving leader (nodes $1 $2)"
WANT="1 2" ha leaders 20 0 $lport3 > /dev/null ||
    { logs; die "topology through node 3 lacks the leaders"; }

# Puts through node 3, on both shards: the qlock tool without routing,
# then the stock client; each acknowledged item is there once (drained
# through the leaders).
: > "$tmp/acked"
i=0
while [ $i -lt 20 ]; do
	if QLOCK_ROUTE=0 timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport3 \
	    put "q$((i % 10))" "cli-$i" 2>> "$tmp/cli.err"; then
		echo "cli-$i" >> "$tmp/acked"
	fi
	i=$((i + 1))
done
[ "$(wc -l < "$tmp/acked")" -eq 20 ] ||
    fail "qlock put through node 3 (no routing): $(sort -u "$tmp/cli.err" | head -3)"
raw $lport3 puts 20 >> "$tmp/acked" 2> "$tmp/raw.err"
[ "$(wc -l < "$tmp/acked")" -eq 40 ] ||
    fail "stock client puts through node 3: $(head -3 "$tmp/raw.err")"
ha drain 10 $ports > "$tmp/got" || fail "drain: $(tail -1 "$tmp/got")"
sort "$tmp/acked" > "$tmp/a.sorted"
sort "$tmp/got" > "$tmp/g.sorted"
if [ "$(wc -l < "$tmp/acked")" -eq 40 ] &&
    cmp -s "$tmp/a.sorted" "$tmp/g.sorted"; then
	ok "40 items put through node 3 without routing are there once each"
else
	fail "through node 3: acked $(wc -l < "$tmp/acked"), got $(wc -l < "$tmp/got"): $(diff "$tmp/a.sorted" "$tmp/g.sorted" | head -5)"
fi
relayed=$(QLOCK_ROUTE=0 timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport3 stats \
    --json | "$PY" -c "import json, sys; print(json.load(sys.stdin)['relayed'])")
[ "${relayed:-0}" -ge 40 ] && ok "node 3's stats: relayed $relayed" ||
    fail "node 3's stats: relayed '$relayed', 40 at least expected"

# A connection that says it relays (as node 3's upstreams do) is never
# relayed further, by the worker it reached nor by a sibling: no loops.
raw $lport3 marked "$(name_on 0 m)" "$(name_on 1 m)" > "$tmp/marked" 2>&1
if [ "$(grep -c "^err NotLeader shard [01]: leader is node [12] at" \
    "$tmp/marked")" -eq 2 ]; then
	ok "a relaying connection's requests are not relayed again (both shards)"
else
	fail "a relaying connection's requests through node 3: $(cat "$tmp/marked")"
fi
n=$(raw $lport3 putget 2> "$tmp/pg.err")
[ "$n" = 10 ] && ok "put and get through node 3 on both shards (stock client)" ||
    fail "put and get through node 3: $n of 10: $(head -3 "$tmp/pg.err")"
# Pipelined: more requests at once than a connection may have in flight
# (32): reading pauses and resumes as the leaders' answers come back.
n=$(raw $lport3 pipeline 1000 2> "$tmp/pl.err")
[ "$n" = 1000 ] && ok "1000 pipelined puts through node 3 answered" ||
    fail "pipelined puts through node 3: $n of 1000: $(head -3 "$tmp/pl.err")"
QLOCK_ROUTE=0 timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport3 get g0 --timeout 0 \
    > /dev/null 2>&1
[ $? -eq 1 ] && ok "a get through node 3 of an empty queue: nothing (exit 1)" ||
    fail "a get of an empty queue through node 3"

# Locks taken through node 3 by a process killed -9 come back: one on
# each shard over one connection, so that one goes through the worker that
# accepted it and the other through its sibling (whose upstream closes on
# the session's end message).
lk0=$(name_on 0 lk) lk1=$(name_on 1 lk)
"$PY" "$tmp/raw.py" $lport3 hold "$lk0" "$lk1" > "$tmp/hold" 2>&1 &
hpid=$!
pids="$pids $hpid"
wait_for 20 sh -c "[ \$(grep -c '^ok [0-9]' '$tmp/hold') -eq 2 ]" ||
    fail "locks through node 3: $(cat "$tmp/hold")"
# Held at the leaders: another client may not take them (exit 1).
for lk in $lk0 $lk1; do
	timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport1 lock "$lk" -n -- true \
	    2> "$tmp/lk.err"
	rc=$?
	[ $rc -eq 1 ] || fail "$lk held through node 3, tried at its leader: exit $rc $(cat "$tmp/lk.err")"
done
kill -KILL $hpid
wait $hpid 2> /dev/null
t0=$(date +%s)
for g in 0 1; do
	eval "lk=\$lk$g"
	if timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport1 lock "$lk" -w 10 \
	    -- true 2> "$tmp/lk.err"; then
		ok "shard $g: a lock held through node 3 by a process killed -9 is given back ($(( $(date +%s) - t0 )) s)"
	else
		fail "the lock $lk of a killed client: $(cat "$tmp/lk.err")"
	fi
done

# A parked get through node 3 cancelled by its client (the cancel's msgid
# is mapped to the upstream's, which differs): Cancelled, then true.
raw $lport3 cancel "$(name_on 1 cq)" > "$tmp/cancel" 2>&1
if [ "$(cut -d' ' -f1-2 "$tmp/cancel" | tr '\n' ' ')" = "err Cancelled ok True " ]
then
	ok "a get parked through node 3 is cancelled"
else
	fail "cancel through node 3: $(cat "$tmp/cancel")"
fi

# A blocking get through node 3, woken by a put through node 1.
bq=$(name_on 1 bq)
get_during "$bq" "$tmp/bget" \
    timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport1 put "$bq" woken
if grep -q "^ok woken" "$tmp/bget"; then
	ok "a blocking get through node 3 woken by a put through node 1 ($(sed -n 's/secs //p' "$tmp/bget") s)"
else
	fail "blocking get through node 3: $(cat "$tmp/bget")"
fi

# A leader that cannot be reached (stopped: its kernel accepts, it never
# answers) before node 3 learns of a new one: the relay gives up after
# --handshake-timeout, nothing having been sent: NotLeader, nothing done.
mkfifo "$tmp/word"
raw $lport3 onword "$(name_on 0 st)" < "$tmp/word" > "$tmp/stopped" 2>&1 &
spid=$!
exec 9> "$tmp/word"
wait_for 10 grep -q ready "$tmp/stopped"
stopped=$(pgrep -P "$pid1")
kill -STOP $stopped "$pid1"
echo go >&9
exec 9>&-
wait $spid
kill -CONT $stopped "$pid1"
if grep -q "^err NotLeader shard 0: cannot reach its leader (node 1 at .*timed out.*nothing was done" "$tmp/stopped"; then
	ok "a leader that does not answer: NotLeader, nothing done, after $(sed -n 's/secs //p' "$tmp/stopped") s"
else
	fail "a put through node 3 to a stopped leader: $(cat "$tmp/stopped")"
fi

# The leader of a request in flight dies: node 3's upstream had bound the
# client's session, follows it to the new leader and sends the get again
# (docs/HA-SESSIONS.md); a put through node 3 after the failover serves it.
# (Once node 3 knows the leaders again and relays to shard 0's.)
uq=$(name_on 0 uq)
set -- $(WANT="1 2" ha leaders 30 0 $lport3) ||
    { logs; die "leaders through node 3 before the kill"; }
relays() { raw $lport3 call queue.size "$uq" | grep -q "^ok 0"; }
wait_for 20 relays || fail "node 3 does not relay to shard 0's leader"
kill_then_put() {
	kill9 "$1"
	ha leaders 20 "$1" $ports > /dev/null || { logs; die "no new leader"; }
	# A refusal (NotLeader: a table lagging the election) is asked again.
	for _try in 1 2 3 4 5; do
		QLOCK_ROUTE=0 timeout 20 "$QLOCK_CLI" -a 127.0.0.1:$lport3 \
		    put "$uq" after 2>> "$tmp/after.err" && break
		sleep 0.5
	done
	if [ $_try -lt 5 ]; then
		ok "a put through node 3 after the failover is served (try $_try)"
	else
		fail "a put through node 3 after the failover: $(cat "$tmp/after.err")"
	fi
}
get_during "$uq" "$tmp/uget" kill_then_put "$1"
if grep -q "^ok after" "$tmp/uget"; then
	ok "a get in flight when its leader died is served by the new one"
else
	fail "a get in flight when its leader died: $(cat "$tmp/uget")"
fi

[ $fails -eq 0 ] || logs
finish
