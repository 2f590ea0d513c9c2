#!/bin/bash
# demo.sh [--src DIR] [--busybox]: build or reuse the lab guest and show a newcomer, step by
# step, what vfio-claim does, without touching this host.
#
# Debian route (needs root, QEMU and apt; 3 to 6 minutes warm): a device claimed at boot,
# handed to a nested VM with stock `virsh start` and given back when the VM stops
# (demo/boot-vm-release.sh). Otherwise, or with --busybox, the busybox route (about 30 s):
# one group claimed, checked with the VFIO API and given back (demo/claim-show-release.sh).
# Exit: 0 the demo ran and every step checked out, 1 a step failed (logs printed),
# 77 no guest can run here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(cd "$VC_LAB_DIR/../.." && pwd)
route=debian
why=
while (($#)); do
        case $1 in
        --src) src=$(cd "$2" && pwd); shift 2 ;;
        --busybox) route=busybox; why="--busybox asked for it"; shift ;;
        -h | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
        esac
done
if [[ $route == debian ]]; then
        if [[ $(id -u) -ne 0 ]]; then
                route=busybox why="not root: the Debian guest is built with debootstrap, which needs root"
        elif ! command -v "${VC_LAB_QEMU:-qemu-system-x86_64}" >/dev/null 2>&1; then
                route=busybox why="no qemu-system-x86_64"
        fi
fi

# follow LOGDIR PID: show the guest's console while PID runs: what the demo prints and each
# check's result, not the plumbing.
follow() {
        tail -n +1 -F --pid="$2" "$1/serial.log" 2>/dev/null | tr -d '\r' | sed -un \
                -e 's/^# //p' \
                -e 's/^@@VC boot install .*/(the guest has booted; installing vfio-claim into it)/p' \
                -e 's/^@@VC ok [^ ]* /    [ok] /p' \
                -e 's/^@@VC skip [^ ]* /    [skipped] /p' \
                -e 's/^@@VC not-ok [^ ]* /    FAILED: /p' \
                -e 's/^@@VC bail /    FAILED: /p'
}
stamp=$(date -u +%Y%m%dT%H%M%SZ)-$$
t0=$(date +%s)
rc=0

if [[ $route == debian ]]; then
        logdir=$VC_LAB_CACHE/logs/demo-debian-$stamp
        mkdir -p "$logdir"
        : >"$logdir/serial.log"
        echo "vfio-claim demo: a throw-away Debian guest under QEMU (software emulation)."
        echo "It boots twice and starts a VM inside itself: 3 to 6 minutes (more on a cold"
        echo "cache, which first builds the guest image, about 3 minutes more)."
        echo "(building vfio-claim and booting the guest: the first lines come after a minute or two)"
        "$VC_LAB_DIR/run-debian.sh" --src "$src" --logdir "$logdir" \
                --timeout 2400 --scenario-timeout 1200 \
                --append 'dyndbg="file drivers/base/dd.c +p"' \
                "$VC_LAB_DIR/demo/boot-vm-release.sh" >"$logdir/run.out" 2>&1 &
        runner=$!
        follow "$logdir" "$runner"
        wait "$runner" || rc=$?
        if ((rc == 77)); then
                why="the Debian guest cannot run here: $(grep -h 'vm-lab: SKIP\|did not reach' "$logdir/run.out" | tail -n1)"
                route=busybox
                rc=0
        fi
fi

if [[ $route == busybox ]]; then
        echo "vfio-claim demo, short version (busybox guest): $why."
        echo "It shows a group claimed and given back; the boot-time claim and the VM need the"
        echo "Debian route (root, qemu-system-x86_64, apt). Software emulation: about 30 s..."
        logdir=$VC_LAB_CACHE/logs/demo-$stamp
        mkdir -p "$logdir"
        : >"$logdir/serial.log"
        "$VC_LAB_DIR/run.sh" --src "$src" --logdir "$logdir" \
                "$VC_LAB_DIR/demo/claim-show-release.sh" >"$logdir/run.out" 2>&1 &
        runner=$!
        follow "$logdir" "$runner"
        wait "$runner" || rc=$?
fi

echo
t=$(($(date +%s) - t0))
case $rc in
0) n_ok=$(grep -c '^ok ' "$logdir/tap" || true)
   n_skip=$(grep -c '# SKIP' "$logdir/tap" || true)
   summary="$((n_ok - n_skip)) checks passed"
   ((n_skip == 0)) || summary+=", $n_skip skipped (see [skipped] above)"
   echo "Done in $((t / 60)) min $((t % 60)) s: $summary."
   echo "The guest's whole console: $logdir/serial.txt (all its logs: $logdir)" ;;
77) echo "No guest can run on this machine:"; grep -h 'vm-lab' "$logdir/run.out" | tail -n 3 ;;
*) echo "The demo FAILED (see FAILED above). Logs (console, dmesg, journal, libvirt): $logdir"
   grep -h '^not ok\|vm-lab: ' "$logdir/run.out" | tail -n 8 ;;
esac
exit "$rc"
