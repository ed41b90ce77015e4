#!/bin/sh
# it_systemd.sh: the installed unit is hardened: systemd-analyze's offline
# security review rates it 2.0 or lower (skipped where systemd-analyze or
# its --offline mode is missing).
unit="${QLOCKD_UNIT:-$(dirname "$0")/../systemd/qlockd.service}"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not installed"
	exit 77
fi
if [ ! -f "$unit" ]; then
	echo "FAIL: $unit not built"
	exit 1
fi
out=$(systemd-analyze security --offline=true "$unit" 2>&1)
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
	printf '%s\n' "$out" | tail -5
	echo "SKIP: this systemd-analyze cannot review units offline"
	exit 77
fi
echo "exposure level: $level"
if awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
	echo "PASS: exposure $level <= 2.0"
	exit 0
fi
printf '%s\n' "$out" | grep '✗'
echo "FAIL: exposure $level > 2.0"
exit 1
