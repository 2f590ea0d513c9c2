#!/bin/bash
# Cost of vfio-claim-udev per PCI "add" event, against driverctl's boot path for the same
# device, on the fake kernel (tests/fakekernel). Not a test: it prints numbers.
#
#   make bench-udev            (N=500 runs per case by default: make bench-udev N=2000)
#
# Every case starts the program the way udev's RUN does (fork + exec from a shell), N times,
# and reports the median and the 90th percentile wall time of one run. The first line is the
# floor: exec of /bin/true. See docs/PERFORMANCE.md for what each case includes and excludes.
set -eu

: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
N=${N:-500}
HELPER="$abs_top_builddir/vfio-claim-udev"
MKTREE="$abs_top_builddir/tests/fakekernel/fakesys-mktree"
SHIM="$abs_top_builddir/.libs/libfakekernel.so"
FIXTURES="$abs_top_srcdir/tests/fixtures"
for f in "$HELPER" "$MKTREE" "$SHIM"; do
        [ -e "$f" ] || { echo "udev-bench: $f missing: run make and make check first" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/udev-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# tree NAME FIXTURE CONFIG: a fake root with a configuration
tree() {
        rm -rf "$WORK/$1"
        "$MKTREE" "$FIXTURES/$2.topo" "$WORK/$1" > /dev/null
        mkdir -p "$WORK/$1/etc/vfio-claim"
        printf '%s\n' "$3" > "$WORK/$1/etc/vfio-claim/vfio-claim.conf"
}

# stats LABEL: read one duration in microseconds per line, print median and p90
stats() {
        sort -n | awk -v label="$1" '{ v[NR] = $1 } END {
                m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9)]
                printf "%-62s %8.0f µs %8.0f µs\n", label, m, p }'
}

# timeit CMD...: run CMD N times, print one duration (µs) per run; CMD's output is discarded
timeit() {
        local i t0 t1
        for ((i = 0; i < N; i++)); do
                t0=$EPOCHREALTIME
                "$@" > /dev/null 2>&1 || true
                t1=$EPOCHREALTIME
                echo $(((${t1/./} - ${t0/./})))
        done
}

# timeit_fresh FIXTURE CONFIG CMD...: as timeit, but on a fresh copy of the tree for every run
# (the copy is not timed)
timeit_fresh() {
        local fixture=$1 config=$2 i t0 t1
        shift 2
        tree pristine "$fixture" "$config"
        for ((i = 0; i < N; i++)); do
                rm -rf "$WORK/run"
                cp -a "$WORK/pristine" "$WORK/run"
                t0=$EPOCHREALTIME
                "$@" > /dev/null 2>&1 || true
                t1=$EPOCHREALTIME
                echo $(((${t1/./} - ${t0/./})))
        done
}

event() { # ROOT ADDR [shim]
        local pre=()
        [ "${3:-}" = shim ] && pre=(env LD_PRELOAD="$SHIM" FAKEKERNEL_ROOT="$1")
        "${pre[@]}" env ACTION=add SUBSYSTEM=pci PCI_SLOT_NAME="$2" DEVPATH="/devices/pci0000:00/$2" \
                PCI_ID=8086:10D3 VFIO_CLAIM_SYSROOT="$1" VFIO_CLAIM_LOG=stderr "$HELPER"
}

GUEST_NIC='[device guest-nic]
match = 0000:02:00.0
boot = yes'
NIC='[device nic]
match = 0000:03:00.0
boot = yes'

echo "vfio-claim-udev and driverctl, one PCI add event each; N=$N runs per case"
echo "$(uname -r), $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-62s %11s %11s\n' "case" "median" "p90"

timeit /bin/true | stats "floor: fork+exec of /bin/true"

timeit "$HELPER" --version | stats "helper --version: process start, libraries, no work"

tree none twin-nics '[device guest-nic]
match = 0000:02:00.0
boot = no'
timeit event "$WORK/none" 0000:01:00.0 | stats "helper, unmatched, config without boot devices"

tree steady twin-nics "$GUEST_NIC"
event "$WORK/steady" 0000:02:00.0 shim > /dev/null 2>&1 # claim it once: the steady state
timeit event "$WORK/steady" 0000:01:00.0 | stats "helper, unmatched, boot device present and claimed"
timeit event "$WORK/steady" 0000:02:00.0 | stats "helper, matched, already claimed (nothing to do)"

tree byid twin-nics '[device display]
match = 1234:1111
boot = yes'
event "$WORK/byid" 0000:00:05.0 shim > /dev/null 2>&1
timeit event "$WORK/byid" 0000:01:00.0 | stats "helper, unmatched, boot device matched by id (scans all)"

timeit_fresh twin-nics "$GUEST_NIC" event "$WORK/run" 0000:02:00.0 shim |
        stats "helper, matched, unbound: override+vfio-pci load+claim (shim)"
timeit_fresh lone-nic "$NIC" event "$WORK/run" 0000:03:00.0 shim |
        stats "helper, matched, bound to e1000e: engine unbind+probe (shim)"

# driverctl: its udev rule (05-driverctl.rules) costs an unmatched device one stat inside
# udevd (TEST=="/etc/driverctl.d/pci-$kernel"), no process. A matched device gets
# driverctl@pci-ADDR.service from systemd, which runs "driverctl load-override pci/ADDR":
# that bash script is timed here, on the same fake tree bind-mounted over /sys in a private
# mount namespace (driverctl hard-codes /sys). Its writes land in plain files (the shim cannot
# follow /sys), /sys/module/vfio-pci is created so that it skips modprobe, and systemd's
# service start (the larger part of that path) is not included.
if command -v driverctl > /dev/null && command -v unshare > /dev/null; then
        tree dc lone-nic "$NIC"
        mkdir -p "$WORK/dc/sys/module/vfio-pci" "$WORK/driverctl.d"
        echo vfio-pci > "$WORK/driverctl.d/pci-0000:03:00.0"
        export -f timeit
        export N
        if unshare -m bash -c '
                mount --bind "$1/sys" /sys && mkdir -p /etc/driverctl.d &&
                mount --bind "$2" /etc/driverctl.d || exit 1
                # systemd runs "driverctl load-override %I": %I unescapes "-" to "/". The files
                # stay as they are (no kernel model), so every run takes the full path again.
                driverctl load-override pci/0000:03:00.0 > /dev/null 2>&1 || {
                        echo "driverctl load-override failed" >&2; exit 1; }
                timeit driverctl load-override pci/0000:03:00.0
        ' _ "$WORK/dc" "$WORK/driverctl.d" > "$WORK/dc.times" 2> "$WORK/dc.err"; then
                stats "driverctl load-override (bash; no systemd start, plain files)" < "$WORK/dc.times"
        else
                echo "driverctl: could not run in a private mount namespace: $(head -n1 "$WORK/dc.err")"
        fi
        echo "driverctl, unmatched: no process (one stat in udevd)"
else
        echo "driverctl or unshare not installed: driverctl not measured"
fi
