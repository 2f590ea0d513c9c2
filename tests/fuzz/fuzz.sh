#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# make fuzz: build every fuzz target with libFuzzer, ASan and UBSan, then run each for
# FUZZ_SECONDS (one after another, one process each), starting from the seeds and the regression
# inputs in the repository. Exits 1 when a target crashed (the input is under
# FUZZ_BUILDDIR/artifacts/TARGET/), 77 when there is no clang with libFuzzer.
#
#   tests/fuzz/fuzz.sh [--build-only] [TARGET...]
#
# Environment (the Makefile sets it): FUZZ_CC FUZZ_CPPFLAGS FUZZ_LIBS FUZZ_LIB_SOURCES
# FUZZ_TARGETS FUZZ_SECONDS FUZZ_BUILDDIR abs_top_srcdir; FUZZ_FLAGS: more libFuzzer options.
set -eu

if [ -z "${FUZZ_CC:-}" ]; then
        echo "make fuzz: no C compiler with libFuzzer (Debian: clang libclang-rt-14-dev; then run configure again): skipped"
        exit 77
fi

build_only=false
if [ "${1:-}" = "--build-only" ]; then
        build_only=true
        shift
fi
targets=${*:-$FUZZ_TARGETS}
# config and udev write a file or two per execution: keep them off the disk when we can.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
        export TMPDIR=/dev/shm
fi
src=$abs_top_srcdir
out=$FUZZ_BUILDDIR
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-std=gnu11 -g -O1 -fno-omit-frame-pointer -fno-strict-aliasing $sanitize"

mkdir -p "$out/obj"
objs=
for f in $FUZZ_LIB_SOURCES; do
        o=$out/obj/$(basename "$f" .c).o
        # shellcheck disable=SC2086 # word splitting of the flag lists is wanted
        $FUZZ_CC $FUZZ_CPPFLAGS $cflags -fsanitize=fuzzer-no-link -c "$src/$f" -o "$o"
        objs="$objs $o"
done
for t in $targets; do
        # shellcheck disable=SC2086
        $FUZZ_CC $FUZZ_CPPFLAGS $cflags -fsanitize=fuzzer "$src/tests/fuzz/fuzz-$t.c" $objs $FUZZ_LIBS \
                -o "$out/fuzz-$t"
done
echo "fuzz: built $(for t in $targets; do printf '%s ' "$out/fuzz-$t"; done)"
$build_only && exit 0

failed=
for t in $targets; do
        corpus=$out/corpus/$t
        mkdir -p "$corpus" "$out/artifacts/$t"
        for d in "$src/tests/fuzz/corpus/$t" "$src/tests/fuzz/regress/$t"; do
                [ -d "$d" ] && cp -n "$d"/* "$corpus"/ 2>/dev/null || true
        done
        dict=
        [ -f "$src/tests/fuzz/dict/$t.dict" ] && dict=-dict=$src/tests/fuzz/dict/$t.dict
        echo "fuzz: $t for ${FUZZ_SECONDS}s (corpus $corpus)"
        # shellcheck disable=SC2086
        if ! nice -n 10 "$out/fuzz-$t" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
                -artifact_prefix="$out/artifacts/$t/" $dict ${FUZZ_FLAGS:-} "$corpus" \
                >"$out/$t.log" 2>&1; then
                tail -n 60 "$out/$t.log"
                echo "fuzz: $t FAILED: log $out/$t.log; the input is in $out/artifacts/$t/;" \
                        "fix it and add the input to tests/fuzz/regress/$t/"
                failed="$failed $t"
        else
                grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|#[0-9]+ +DONE)' \
                        "$out/$t.log" | sed "s/^/fuzz: $t: /"
        fi
done
if [ -n "$failed" ]; then
        echo "fuzz: crashes in:$failed"
        exit 1
fi
echo "fuzz: no crash in $targets"
