#!/bin/bash
# tests/bench/instr-count.sh: how many machine instructions one claim and one give-back execute
# on the fake kernel, counted by valgrind's callgrind (deterministic, not a timing): the bare
# writes (tests/bench/bare-claim), `vfio-claim enable` / `release` / `disable` of the GPU+audio
# group of tests/fixtures/gpu-audio.topo, and the part of `disable` spent in its question to
# libvirt (src/virt.c, vc_virt_definitions_read_uri: loading libvirt.so.0 and the libraries it
# needs, connecting, listing the definitions). libvirt is asked at test:///default, its
# in-process test driver: no libvirtd is needed, and the load is the same as for
# qemu:///system; the conversation differs (here libvirt parses its test domain, there it
# talks to the daemon). The counts include the fake kernel's shim; only the program's own
# process is counted (vfio-claim's writer shares its memory and runs few instructions).
# Usage: bash tests/bench/instr-count.sh (from the build tree after `make all check TESTS=`).
set -euo pipefail
B=${abs_top_builddir:-$PWD} S=${abs_top_srcdir:-$PWD}
command -v valgrind >/dev/null || { echo "$0: valgrind is not installed" >&2; exit 77; }
command -v callgrind_annotate >/dev/null || { echo "$0: callgrind_annotate is not installed" >&2; exit 77; }
VC=$B/vfio-claim BARE=$B/tests/bench/bare-claim SHIM=$B/.libs/libfakekernel.so MKTREE=$B/tests/fakekernel/fakesys-mktree
for f in "$VC" "$BARE" "$SHIM" "$MKTREE"; do
        [ -e "$f" ] || { echo "$0: $f is not built (make all check TESTS= first)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed 's/^driver vfio-pci unloaded/driver vfio-pci/' "$S/tests/fixtures/gpu-audio.topo" > "$work/topo"
"$MKTREE" "$work/topo" "$work/root" > /dev/null

# count LABEL COMMAND...: the instructions of COMMAND's own process (callgrind's summary line);
# the profile stays in $work/last for a look at one function.
count() {
        local label=$1
        shift
        rm -f "$work/last"
        LD_PRELOAD=$SHIM FAKEKERNEL_ROOT=$work/root valgrind --tool=callgrind --callgrind-out-file="$work/last" \
                "$@" > "$work/out" 2> "$work/err" || { cat "$work/out" "$work/err" >&2; echo "$0: $label failed" >&2; exit 1; }
        printf '%-64s %12s\n' "$label" "$(awk '/^summary:/ { print $2 }' "$work/last")"
}
a=(0000:01:00.0 0000:01:00.1)
vc=("$VC" --sysroot "$work/root")
printf '%-64s %12s\n' "command (GPU+audio group, fake kernel)" "instructions"
count "bare writes, claim (bare-claim)" "$BARE" claim "$work/root" "${a[@]}"
count "bare writes, release (bare-claim)" "$BARE" release "$work/root" "${a[@]}"
count "vfio-claim enable --yes" "${vc[@]}" enable --yes "${a[0]}"
count "vfio-claim release" "${vc[@]}" release "${a[0]}"
LD_PRELOAD=$SHIM FAKEKERNEL_ROOT=$work/root "${vc[@]}" enable --yes "${a[0]}" > /dev/null
count "vfio-claim --connect test:///default disable" "${vc[@]}" --connect test:///default disable "${a[0]}"
asked=$(callgrind_annotate --inclusive=yes "$work/last" 2>/dev/null |
        awk '/vc_virt_definitions_read_uri \[/ && !n++ { gsub(",", "", $1); print $1 }')
printf '%-64s %12s\n' "  of which the question to libvirt (vc_virt_definitions_read_uri)" "${asked:-?}"
