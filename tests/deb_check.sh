#!/bin/sh
# deb_check.sh: build the Debian packages from a copy of this tree (the
# tree itself is left as it was), check what they hold (files, units, man
# pages, libqlock0's symbols against qlock.h) and lintian, then install
# them on this machine, run debian/tests/smoke against them, remove them
# (key and data stay) and purge them (both go).  As root, on Debian 12;
# installs the build dependencies that are missing.  .ci/run runs it.
#   tests/deb_check.sh [--with-tests]   (--with-tests: make check in the build)
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
# Debian's own tools: not a python3 or pip found earlier on the PATH.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH DEBIAN_FRONTEND=noninteractive
nocheck=nocheck
[ "${1:-}" = "--with-tests" ] && nocheck=""
pkgs="qlockd qlock libqlock0 libqlock-dev python3-qlock"

if [ "$(id -u)" -ne 0 ]; then
	echo "deb_check: run as root (it installs and purges the packages)" >&2
	exit 2
fi
if dpkg-query -W -f='${Status}\n' $pkgs 2>/dev/null | grep -q "ok installed"; then
	echo "deb_check: qlockd's packages are installed here already;" \
	    "purge them first (apt-get purge $pkgs)" >&2
	exit 2
fi

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

work=$(mktemp -d /tmp/qlockd-deb.XXXXXX)
tree() { git -C "$srcdir" status --porcelain --ignored 2>/dev/null || true; }
tree >"$work/tree.before"
installed=no
cleanup() {
	[ "$installed" = yes ] && dpkg --purge $pkgs >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The tree as git sees it (tracked and new files, no build products).
mkdir "$work/qlockd"
git -C "$srcdir" ls-files -co --exclude-standard -z |
    (cd "$srcdir" && tar --null -T - -cf -) | tar -xf - -C "$work/qlockd"
cd "$work/qlockd"

if ! dpkg-checkbuilddeps >/dev/null 2>&1 || ! command -v lintian >/dev/null; then
	echo "deb_check: installing the build dependencies"
	apt-get update -qq
	apt-get build-dep -y -qq . >/dev/null
	apt-get install -y -qq --no-install-recommends lintian >/dev/null
fi

# The source package too, from the clean copy, for lintian.
check "dpkg-source -b" sh -c "cd '$work' && dpkg-source -b qlockd >'$work/source.log' 2>&1"
echo "deb_check: dpkg-buildpackage -us -uc -b (log: $work/build.log)"
if ! DEB_BUILD_OPTIONS="$nocheck ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1; then
	tail -n 60 "$work/build.log"
	echo "deb_check: the build failed"
	exit 1
fi
ok "dpkg-buildpackage -us -uc -b"
# With --with-tests, the suite's summary from the build's make check.
[ -z "$nocheck" ] && grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$work/build.log" || true
tree >"$work/tree.after"
check "the source tree is left as it was" cmp -s "$work/tree.before" "$work/tree.after"

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ver=$(dpkg-parsechangelog -S Version)
deb() { echo "$work/${1}_${ver}_${2:-$arch}.deb"; }

# holds PACKAGE PATH...: each path is in the package.
holds() {
	p=$1
	shift
	dpkg-deb -c "$(deb "$p" "$( [ "$p" = python3-qlock ] && echo all || echo "$arch")")" |
	    awk '{ print $6 }' >"$work/list"
	for f in "$@"; do
		check "$p holds $f" grep -qx "./$f" "$work/list"
	done
}
holds qlockd usr/sbin/qlockd etc/qlockd/qlockd.conf \
    lib/systemd/system/qlockd.service lib/systemd/system/qlockd.socket \
    usr/share/man/man8/qlockd.8.gz usr/share/man/man7/qlockd-cluster.7.gz \
    usr/share/man/man7/qlockd-storage.7.gz
holds qlock usr/bin/qlock usr/share/man/man1/qlock.1.gz
holds libqlock0 "usr/lib/$ma/libqlock.so.0"
holds libqlock-dev usr/include/qlock.h "usr/lib/$ma/libqlock.so" \
    "usr/lib/$ma/pkgconfig/qlock.pc" usr/share/man/man3/libqlock.3.gz \
    usr/share/man/man3/libqlock-sync.3.gz
holds python3-qlock usr/lib/python3/dist-packages/qlock/__init__.py

# The unit as installed: the paths filled in.
dpkg-deb --fsys-tarfile "$(deb qlockd)" |
    tar -xOf - ./lib/systemd/system/qlockd.service >"$work/qlockd.service"
check "qlockd.service runs /usr/sbin/qlockd with /etc/qlockd/qlockd.conf" \
    grep -q '^ExecStart=/usr/sbin/qlockd .*--config /etc/qlockd/qlockd.conf' \
    "$work/qlockd.service"

# libqlock0's symbols: the build checked them against the library
# (dpkg-gensymbols level 4); here, against the functions qlock.h declares.
dpkg-deb -I "$(deb libqlock0)" symbols | sed -n 's/^ \(qlock_[a-z0-9_]*\)@Base .*/\1/p' |
    sort >"$work/symbols"
grep -o '\bqlock_[a-z0-9_]*(' "$srcdir/client/qlock.h" | tr -d '(' | sort -u \
    >"$work/declared"
check "libqlock0's symbols are the functions qlock.h declares" \
    diff -u "$work/declared" "$work/symbols"
check "libqlock0 depends on what its library needs" \
    sh -c "dpkg-deb -f '$(deb libqlock0)' Depends | grep -q libssl3"

echo "deb_check: lintian"
check "lintian: no error and no warning" lintian --fail-on error,warning \
    "$work/qlockd_${ver}_${arch}.changes" "$work/qlockd_${ver}.dsc"

# Install, as apt does (dependencies from the archive).
set -- "$(deb qlockd)" "$(deb qlock)" "$(deb libqlock0)" "$(deb libqlock-dev)" \
    "$(deb python3-qlock all)"
installed=yes
if apt-get install -y -qq --no-install-recommends "$@" gcc libc6-dev pkg-config \
    >"$work/install.log" 2>&1; then
	ok "apt-get install the packages"
else
	cat "$work/install.log"
	bad "apt-get install the packages"
	echo "deb_check: $pass passed, $fail failed"
	exit 1
fi
check "the service is enabled" test -L /etc/systemd/system/multi-user.target.wants/qlockd.service
check "the socket unit is not enabled" test ! -e /etc/systemd/system/sockets.target.wants/qlockd.socket
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify: the units as installed" \
	    systemd-analyze verify --man=no /lib/systemd/system/qlockd.service \
	    /lib/systemd/system/qlockd.socket
fi
if sh "$srcdir/debian/tests/smoke"; then
	ok "debian/tests/smoke"
else
	bad "debian/tests/smoke"
fi

dpkg --remove $pkgs >/dev/null 2>&1
check "remove: the daemon is gone" test ! -e /usr/sbin/qlockd
check "remove: the key stays" test -f /etc/qlockd/authkey
check "remove: the data stays" test -d /var/lib/qlockd
check "remove: the config stays" test -f /etc/qlockd/qlockd.conf
dpkg --purge $pkgs >/dev/null 2>&1
installed=no
check "purge: /etc/qlockd is gone" test ! -e /etc/qlockd
check "purge: the data is gone" test ! -e /var/lib/qlockd -a ! -e /var/lib/private/qlockd
check "purge: the unit's enablement is gone" \
    test ! -e /etc/systemd/system/multi-user.target.wants/qlockd.service

echo "deb_check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
