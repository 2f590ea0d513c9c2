#!/bin/sh
# make check replays every shrunk reproducer of tests/stress/seqs (tests/stress/README.md), each
# three times (a race may need more: `make stress-replay` repeats each ten times); it fails while
# any of them shows its violation again.
src=${abs_top_srcdir:-.} build=${abs_top_builddir:-.} fail=0
for s in "$src"/tests/stress/seqs/*.seq; do
        "$build/tests/stress/vc-stress" --replay "$s" --repeat 3 || fail=1
done
exit $fail
