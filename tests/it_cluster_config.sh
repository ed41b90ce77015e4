#!/bin/sh
# it_cluster_config.sh: the cluster settings (--node-id, --peer, --raft-dir
# and the config keys node-id, peer, raft-dir) through the real daemon's
# --check-config, and what a cluster refuses (--data-dir, --fsync) at start
# too (issue 13, docs/HA.md; tests/it_ha_basic.sh runs a cluster).
here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
# As root the daemon wants --user; these runs keep root (see qlockd(8)).
asroot=; [ "$(id -u)" -ne 0 ] || asroot=--user=root
[ -x "$QLOCKD" ] || { echo "SKIP: qlockd not built"; exit 77; }
tmp=$(mktemp -d /tmp/qlockd-cluster.XXXXXX)
fails=0
passes=0
trap 'rm -rf "$tmp"' EXIT
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAIL: $1"; }
(umask 077; echo "cluster-test-key-long-enough" > "$tmp/key")
# run NAME RC PATTERN CONFIG-FILE-CONTENTS [OPTIONS...]: qlockd with that
# file and options exits RC saying PATTERN.
run() {
	name=$1 want=$2 pat=$3
	printf '%s\n' "$4" > "$tmp/c.conf"
	shift 4
	out=$(timeout 20 "$QLOCKD" $asroot --config "$tmp/c.conf" \
	    --authkey-file "$tmp/key" --listen "unix:$tmp/s" "$@" 2>&1)
	rc=$?
	if [ $rc -eq "$want" ] && printf '%s' "$out" | grep -q -- "$pat"; then
		ok "$name"
	else
		bad "$name: rc $rc (want $want), output: $out"
	fi
}
three="node-id = 2
raft-dir = $tmp/raft
workers = 2
peer = 1=127.0.0.1:7460
peer = 2=127.0.0.1:7470
peer = 3=[::1]:7460"

run "three peers from the file" 0 "configuration OK" "$three" --check-config
run "one peer, this node alone" 0 "configuration OK" "" --check-config \
    --node-id 9 --peer 9=localhost:7460 --raft-dir "$tmp/raft"
run "no peer: a single node" 0 "configuration OK" "workers = 2" --check-config
run "--node-id alone" 2 "node-id without --peer" "" --check-config \
    --node-id 1
run "raft-dir alone" 2 "raft-dir without --peer" "raft-dir = $tmp/r" \
    --check-config
run "peer without node-id" 2 "needs --node-id" \
    "peer = 1=127.0.0.1:7460" --check-config --raft-dir "$tmp/raft"
run "peer without raft-dir" 2 "needs --raft-dir" \
    "peer = 1=127.0.0.1:7460" --check-config --node-id 1
run "this node not a peer" 2 "not among the --peer ids" "$three" \
    --check-config --node-id 4
run "an id twice" 2 "id 3 is given twice" "$three
peer = 3=127.0.0.9:7460" --check-config
run "an address that does not parse" 2 "not an IPv4 address" "$three
peer = 4=127.0.0.256:7460" --check-config
run "IPv6 without brackets" 2 "not an address or a host name" "$three
peer = 4=::1:7460" --check-config
run "ports of two peers overlap" 2 "raft ports overlap" "$three
peer = 4=127.0.0.1:7461" --check-config
run "node-id out of range" 2 "out of range" "node-id = 65536" --check-config
run "data-dir with peers" 2 "keeps its log in --raft-dir" "$three" \
    --check-config --data-dir "$tmp/data"
# The command line's --peer replaces the file's list: the file's lacks
# node 5, the command line's has it.
run "command-line peers override the file's" 0 "configuration OK" "$three" \
    --check-config --node-id 5 --peer 5=127.0.0.1:7460 \
    --peer 6=127.0.0.1:7470
run "fsync with peers" 2 "raft writes its log" "$three" --check-config \
    --fsync always
run "raft-election-ms out of range" 2 "raft-election-ms" "$three" \
    --check-config --raft-election-ms 5
run "raft-election-ms from the file" 0 "configuration OK" "$three
raft-election-ms = 300" --check-config
run "session-grace out of range" 2 "session-grace" "$three" \
    --check-config --session-grace -1
run "session-grace from the file" 0 "configuration OK" "$three
session-grace = 0" --check-config
# Refused at start as by the check, before anything is bound.
run "a daemon with --peer and --fsync refuses to start" 2 \
    "raft writes its log" "$three" -f --fsync no
[ -e "$tmp/s" ] && bad "the refused daemon bound its socket" ||
    ok "the refused daemon bound nothing"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
