#!/bin/bash
# Two builds of vfio-claim-udev side by side, per PCI "add" event, on the fake kernel's tree
# (read only: no shim, nothing is written). Not a test: it prints numbers.
#
#   bash tests/bench/udev-compare.sh BUILDDIR_BEFORE BUILDDIR_AFTER [N]
#
# Cases: a device whose group is claimed already (a matched event with nothing to do) and a
# device the configuration does not name (the run a twin's event still makes). Each round runs
# the floor (/bin/true), then the "before" and the "after" helper, alternately, so that the
# machine's load falls on both alike; median and 90th percentile of one run's wall time.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 BUILDDIR_BEFORE BUILDDIR_AFTER [N]" >&2; exit 2; }
BEFORE=$1/vfio-claim-udev AFTER=$2/vfio-claim-udev N=${3:-300}
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
MKTREE=$2/tests/fakekernel/fakesys-mktree
SHIM=$2/.libs/libfakekernel.so
for f in "$BEFORE" "$AFTER" "$MKTREE" "$SHIM"; do
        [ -e "$f" ] || { echo "udev-compare: $f missing (make vfio-claim-udev check there first)" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/udev-compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"$MKTREE" "$abs_top_srcdir/tests/fixtures/twin-nics.topo" "$WORK/root" > /dev/null
mkdir -p "$WORK/root/etc/vfio-claim"
printf '[device guest-nic]\nmatch = 0000:02:00.0\nboot = yes\n' > "$WORK/root/etc/vfio-claim/vfio-claim.conf"
# claim the group once, with the shim and the tree as the running system (under VFIO_CLAIM_SYSROOT
# no module is loaded, and vfio-pci is not in the tree yet), as the boot pass would
FAKEKERNEL_ROOT=$WORK/root FAKEKERNEL_HOST=1 LD_PRELOAD=$SHIM VFIO_CLAIM_LOG=stderr \
        "$AFTER" --all > /dev/null 2>&1
case $(readlink "$WORK/root/sys/bus/pci/devices/0000:02:00.0/driver") in
*/vfio-pci) ;;
*) echo "udev-compare: the boot pass did not claim 0000:02:00.0" >&2; exit 1 ;;
esac

# one CMD...: one run's wall time in µs
one() {
        local t0 t1
        t0=$EPOCHREALTIME
        "$@" > /dev/null 2>&1 || true
        t1=$EPOCHREALTIME
        echo $(((${t1/./} - ${t0/./})))
}

stats() {
        sort -n | awk -v label="$1" '{ v[NR] = $1 } END {
                printf "%-58s %8.0f µs %8.0f µs\n", label, v[int((NR + 1) / 2)], v[int(NR * 0.9)] }'
}

event() { # ADDR PCI_ID HELPER
        env ACTION=add SUBSYSTEM=pci DEVPATH="/devices/pci0000:00/$1" PCI_SLOT_NAME="$1" PCI_ID="$2" \
                VFIO_CLAIM_SYSROOT="$WORK/root" VFIO_CLAIM_LOG=stderr "$3"
}

for ((i = 0; i < N; i++)); do
        echo "floor $(one env /bin/true)"
        echo "mb $(one event 0000:02:00.0 8086:10D3 "$BEFORE")"
        echo "ma $(one event 0000:02:00.0 8086:10D3 "$AFTER")"
        echo "ub $(one event 0000:00:05.0 1234:1111 "$BEFORE")"
        echo "ua $(one event 0000:00:05.0 1234:1111 "$AFTER")"
done > "$WORK/t"
printf '%-58s %11s %11s\n' "case (N=$N, alternating): wall time of one run" median p90
sed -n 's/^floor //p' "$WORK/t" | stats "floor: fork+exec of env /bin/true"
sed -n 's/^mb //p' "$WORK/t" | stats "matched, group claimed already: before"
sed -n 's/^ma //p' "$WORK/t" | stats "matched, group claimed already: after"
sed -n 's/^ub //p' "$WORK/t" | stats "not configured (a twin's run): before"
sed -n 's/^ua //p' "$WORK/t" | stats "not configured (a twin's run): after"

# cpu LABEL CMD...: the CPU time (user + system) of N runs of CMD, per run; wall time depends on
# the machine's load, CPU time much less
cpu() {
        local label=$1
        shift
        (
                for ((i = 0; i < N; i++)); do "$@" > /dev/null 2>&1 || true; done
                times
        ) | sed -n 2p | awk -v label="$label" -v n="$N" '{
                split($1, u, /[ms]/); split($2, s, /[ms]/)
                printf "%-58s %8.0f µs\n", label, (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1e6 / n }'
}
printf '%-58s %11s\n' "case (N=$N): CPU time (user + system) per run" mean
cpu "floor: fork+exec of env /bin/true" env /bin/true
cpu "matched, group claimed already: before" event 0000:02:00.0 8086:10D3 "$BEFORE"
cpu "matched, group claimed already: after" event 0000:02:00.0 8086:10D3 "$AFTER"
cpu "not configured (a twin's run): before" event 0000:00:05.0 1234:1111 "$BEFORE"
cpu "not configured (a twin's run): after" event 0000:00:05.0 1234:1111 "$AFTER"
