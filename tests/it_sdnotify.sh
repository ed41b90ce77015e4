#!/bin/sh
# it_sdnotify.sh: socket activation, readiness notification and journal
# priorities without systemd or libsystemd (tests/it_sdnotify.py; skips
# without python3).
here=$(cd "$(dirname "$0")" && pwd)
QLOCKD=${QLOCKD:-$here/../qlockd}
QLOCK_CLI=${QLOCK_CLI:-$here/../qlock}
[ -x "$QLOCKD" ] && [ -x "$QLOCK_CLI" ] || { echo "SKIP: binaries not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
export QLOCKD QLOCK_CLI
exec python3 "$here/it_sdnotify.py"
