#!/bin/sh
# it_readme.sh: the README's examples, as a new user runs them one after
# the other on one daemon: the CLI's put and get lines, then the C example
# (extracted, compiled with -Wall -Wextra -Werror against this build's
# libqlock, run), then the Python example.  Each uses its own queue, so
# none sees another's leftovers (issue 11, item 3).
#
# Uses $QLOCKD, $QLOCK_CLI (set by make check) and $srcdir.  Exit 0 pass,
# 1 fail, 77 skip (no C compiler, no shared libqlock, or no python3).

here=$(cd "$(dirname "$0")" && pwd)
name=it_readme
srcdir=${srcdir:-$here/..}
readme=$srcdir/README.md
. "$here/it_lib.sh"
CC=${CC:-cc}
lib=$(dirname "$QLOCK_CLI")/.libs/libqlock.so
if [ ! -f "$lib" ] || ! command -v "$CC" > /dev/null; then
	echo "SKIP: no $lib or $CC"
	exit 77
fi

# The README's blocks: the C one, the qlock put/get lines, the Python one
# that uses the package.
awk '/^```c$/ { on = 1; next } on && /^```$/ { exit } on' "$readme" \
    > "$tmp/demo.c"
grep -E '^    \./qlock (put|get) ' "$readme" | sed 's/#.*//' > "$tmp/cli.sh"
awk '/^```python$/ { on = 1; n = 0; next } on && /^```$/ { if (q) exit; on = 0 }
    on { buf[n++] = $0; if ($0 ~ /^import qlock$/) q = 1 }
    END { for (i = 0; i < n; i++) print buf[i] }' "$readme" > "$tmp/demo.py"
grep -q qlock_connect "$tmp/demo.c" || die "no C example in $readme"
[ "$(wc -l < "$tmp/cli.sh")" -ge 2 ] || die "no qlock put/get lines"
grep -q "^import qlock" "$tmp/demo.py" || die "no Python example"

# Compiled as a user's program: warnings are errors.  A sanitized build's
# libqlock wants its runtime in the program too.
san=
ldd "$lib" 2>/dev/null | grep -q libasan && san=-fsanitize=address,undefined
"$CC" -Wall -Wextra -Werror $san -I"$srcdir/client" -o "$tmp/demo" \
    "$tmp/demo.c" "$lib" -Wl,-rpath,"$(dirname "$lib")" 2> "$tmp/cc.err" ||
    die "the C example does not compile: $(cat "$tmp/cc.err")"

start_daemon --workers 2

# The CLI lines, then one more put left behind, as a user trying things.
first=$(head -1 "$tmp/cli.sh")
sed "s#\./qlock#\"\$QLOCK_CLI\"#" "$tmp/cli.sh" > "$tmp/cli.run"
(. "$tmp/cli.run") > "$tmp/cli.out" 2>&1 || die "the CLI lines: $(cat "$tmp/cli.out")"
eval "$(echo "$first" | sed "s#\./qlock#\"\$QLOCK_CLI\"#")" ||
    die "the README's put line failed"
echo "ok: the CLI lines"

timeout 30 "$tmp/demo" > "$tmp/demo.out" 2> "$tmp/demo.err" ||
    die "the C example failed: $(cat "$tmp/demo.err")"
[ "$(cat "$tmp/demo.out")" = hello ] ||
    die "the C example printed '$(cat "$tmp/demo.out")', not hello"
echo "ok: the C example prints hello"

if "$PY" -c 'import msgpack' 2> /dev/null; then
	PYTHONPATH=$srcdir/python timeout 60 "$PY" "$tmp/demo.py" \
	    > "$tmp/py.out" 2>&1 || die "the Python example: $(cat "$tmp/py.out")"
	grep -q "fencing token" "$tmp/py.out" ||
	    die "the Python example printed: $(cat "$tmp/py.out")"
	echo "ok: the Python example"
else
	echo "skip: the Python example (no msgpack)"
fi
echo PASS
