#!/bin/sh
# valgrind-qlockd.sh: run the daemon under valgrind (memcheck), for
# `make check-valgrind`: every process it forks is checked too, and any
# error makes that process exit 99, which the tests' harness reports.
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --trace-children=yes \
	--child-silent-after-fork=no "${QLOCKD_REAL:?}" "$@"
