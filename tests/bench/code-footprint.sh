#!/bin/bash
# tests/bench/code-footprint.sh COMMAND [ARGS...]: how much distinct machine code one run of
# COMMAND executes, per shared object: the number of distinct instruction addresses valgrind's
# callgrind saw executed (--dump-instr=yes, positions and names
# uncompressed so that each line carries its object and absolute address). valgrind's own
# preload objects are left out. What it is for: under QEMU's TCG every start of a program at
# randomized addresses translates all the code it runs again, so there a short command's CPU
# follows this count more than its instruction count (docs/PERFORMANCE.md, "Where the CPU goes
# in the TCG guest"). Prints "COUNT<tab>OBJECT" lines, smallest first, then "COUNT<tab>total".
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "$0: valgrind is not installed" >&2; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --dump-instr=yes --compress-pos=no --compress-strings=no --trace-children=yes \
        --callgrind-out-file="$out/cg.%p" "$@" >/dev/null 2>"$out/valgrind.err" ||
        { cat "$out/valgrind.err" >&2; exit 1; }
# One count for all the processes: vfio-claim's writer shares the program's memory (clone with
# CLONE_VM), so the code both run is the same code at the same addresses. (Separate programs are
# not told apart: measure one program at a time.) An object is the whole rest of its ob= line:
# a path may hold a space.
awk 'FNR == 1 { o = "" }
        /^ob=/ { o = substr($0, 4) }
        /^0x/ && o !~ /vgpreload/ && !seen[o "\t" $1]++ { n = split(o, p, "/"); count[p[n]]++ }
        END { for (o in count) { printf "%d\t%s\n", count[o], o; total += count[o] } printf "%d\ttotal\n", total }' \
        "$out"/cg.* | sort -n
