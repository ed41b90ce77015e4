#!/bin/sh
# it_systemd.sh: the unit's key and config follow sysconfdir; the
# installed unit is hardened: systemd-analyze's offline
# security review rates it 2.0 or lower (skipped where systemd-analyze or
# its --offline mode is missing).
unit="${QLOCKD_UNIT:-$(dirname "$0")/../systemd/qlockd.service}"
# The unit reads the key from the sysconfdir its config file is in, not
# from a fixed /etc (issue 11 item 9).
if [ -f "$unit" ]; then
	conf=$(sed -n 's|.*--config \([^ ]*\)/qlockd/qlockd.conf.*|\1|p' "$unit")
	cred=$(sed -n 's|^LoadCredential=authkey:\(.*\)/qlockd/authkey$|\1|p' "$unit")
	if [ -z "$conf" ] || [ "$conf" != "$cred" ]; then
		echo "FAIL: the unit's config is under '$conf', its key under '$cred'"
		exit 1
	fi
	echo "ok: config and key both under $conf"
fi
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
