#!/bin/bash
# make bench: every figure of docs/PERFORMANCE.md that runs on the fake kernel, each beside its
# anchor, measured in the same run, in one table. Not a test: it prints numbers.
#
#   make bench [BENCH_TABLE_RUNS=N]  (N runs of each small figure, default 200; the 16-device
#                                     hook N/10, the scale rows N/20, at least 3)
#   BENCH_TMPDIR=DIR make bench      (where the fake roots go; default /dev/shm when it is a
#                                     tmpfs, else $TMPDIR or /tmp)
#
# The fake roots stand for sysfs and /run, which live in memory on a real host: on a disk
# filesystem each fsync() of a state record and each rename is a journal commit that no host
# pays for /run, and the shim's model of a write (files under ROOT/.fakekernel) costs more
# too. So a tmpfs by default; the footer says which filesystem the run used.
#
# CPU is the median of user + system time of each run, children included (wait4's rusage, see
# tests/bench/cpu-bench.c): it is what the program costs whatever else the machine does, where
# wall time on a busy machine is mostly waiting. Commands that are compared take turns run by
# run. Rows under "shim" run under the fake kernel's LD_PRELOAD shim, whose model of every sysfs
# write costs CPU in the writing process: the anchor (bare-claim, the same writes and nothing
# else) pays it too, so the difference is vfio-claim's own work.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${abs_top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${VC_SYSCONFDIR:=/etc}"
runs=${1:-200}
scale_runs=$((runs / 20 < 3 ? 3 : runs / 20))
hook_runs=$((runs / 10 < 3 ? 3 : runs / 10))
B=$abs_top_builddir
CPU="$B/tests/bench/cpu-bench" BARE="$B/tests/bench/bare-claim" MKTREE="$B/tests/fakekernel/fakesys-mktree"
SHIM="$B/.libs/libfakekernel.so" VC="$B/vfio-claim" UDEV="$B/vfio-claim-udev"
HOOK="$B/vfio-claim-hook"
for f in "$CPU" "$BARE" "$MKTREE" "$SHIM" "$VC" "$UDEV" "$HOOK" "$B/vfio-claim-hook-worker" "$B/tests/bench/machine-cost"; do
        [ -x "$f" ] || [ -f "$f" ] || { echo "bench: $f is not built (make all check first)" >&2; exit 1; }
done
if [ -z "${BENCH_TMPDIR:-}" ]; then
        BENCH_TMPDIR=${TMPDIR:-/tmp}
        [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ] && BENCH_TMPDIR=/dev/shm
fi
WORK=$(mktemp -d "$BENCH_TMPDIR/vc-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# tree NAME TOPOLOGY-FILE CONFIG: a fake root with vfio-pci already loaded and a configuration
tree() {
        sed 's/^driver vfio-pci unloaded/driver vfio-pci/' "$2" > "$WORK/$1.topo"
        "$MKTREE" "$WORK/$1.topo" "$WORK/$1" > /dev/null
        mkdir -p "$WORK/$1$VC_SYSCONFDIR/vfio-claim"
        printf '%s\n' "$3" > "$WORK/$1$VC_SYSCONFDIR/vfio-claim/vfio-claim.conf"
}

rows=()
# row LABEL ANCHOR-LABEL "FIG_CPU FIG_MIN FIG_WALL" "ANC_CPU ANC_MIN ANC_WALL"
row() {
        local -a f=($3) a=($4)
        rows+=("$(awk -v l="$1" -v al="$2" -v fc="${f[0]}" -v fw="${f[2]}" -v ac="${a[0]}" 'BEGIN {
                printf "| %s | %.2f ms | %s | %.2f ms | %.1f× | %.2f ms |", l, fc / 1000, al, ac / 1000,
                        (ac > 0 ? fc / ac : 0), fw / 1000 }')")
}

# 1. udev helper, an add event for a device the configuration does not name
tree udev "$abs_top_srcdir/tests/fixtures/twin-nics.topo" $'[device guest-nic]\nmatch = 0000:02:00.0\nboot = no'
mapfile -t r < <(ACTION=add SUBSYSTEM=pci PCI_SLOT_NAME=0000:01:00.0 DEVPATH=/devices/pci0000:00/0000:01:00.0 \
        PCI_ID=8086:10D3 VFIO_CLAIM_SYSROOT="$WORK/udev" "$CPU" "$runs" "$UDEV" -- /bin/true)
row "udev helper, unmatched add event" "fork+exec /bin/true" "${r[0]}" "${r[1]}"

# 2. hook prepare, a domain without host devices, against a minimal bash dispatcher
mkdir -p "$WORK/hookconf" "$WORK/hooks.d"
printf '[device gpu]\nmatch = 10de:2204\nvm = win11\n' > "$WORK/hookconf/vfio-claim.conf"
printf '#!/bin/bash\nxml=$(cat)\ndir="%s/hooks.d/$1/$2/$3"\n[ -d "$dir" ] && for f in "$dir"/*; do [ -x "$f" ] && printf %%s "$xml" | "$f" "$@"; done\nexit 0\n' \
        "$WORK" > "$WORK/dispatch"
chmod +x "$WORK/dispatch"
mapfile -t r < <(VFIO_CLAIM_CONFIG="$WORK/hookconf" "$CPU" "$runs" -i "$abs_top_srcdir/tests/fixtures/domains/no-hostdev.xml" \
        "$HOOK" win11 prepare begin - -- "$WORK/dispatch" win11 prepare begin -)
row "hook prepare, no host device" "bash dispatcher \`\$(cat)\`" "${r[0]}" "${r[1]}"

# 3. claim + release round trip of the GPU+audio group (shim), against the bare writes: on one
# tree, the four commands taking turns (each round trip leaves the host's state as it found it),
# so that a figure and its anchor are measured in the same seconds
tree rt "$abs_top_srcdir/tests/fixtures/gpu-audio.topo" $'[device gpu]\nmatch = 0000:01:00.0\nboot = yes'
mapfile -t r < <(LD_PRELOAD="$SHIM" FAKEKERNEL_ROOT="$WORK/rt" "$CPU" "$runs" \
        "$VC" --sysroot "$WORK/rt" apply -- "$VC" --sysroot "$WORK/rt" release --all \
        -- "$BARE" claim "$WORK/rt" 0000:01:00.0 0000:01:00.1 -- "$BARE" release "$WORK/rt" 0000:01:00.0 0000:01:00.1)
row "\`apply\` (claim GPU+audio), shim" "bare writes, claim" "${r[0]}" "${r[2]}"
row "\`release --all\` (GPU+audio), shim" "bare writes, release" "${r[1]}" "${r[3]}"

# 4. hook prepare and release of a domain with 16 host devices (16 SR-IOV VFs, 16 groups), shim
"$abs_top_srcdir/tests/bench/gen-topo.sh" 256 > "$WORK/g256.topo"
vfs=() conf='' xml="<domain type='kvm'><name>bench</name><devices>"
for s in 2 3; do
        for f in 0 1 2 3 4 5 6 7; do
                vfs+=("0000:01:0$s.$f")
                conf+=$'\n'"[device vf$s$f]"$'\n'"match = 0000:01:0$s.$f"$'\n'"vm = bench"
                xml+="<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x0$s' function='0x$f'/></source></hostdev>"
        done
done
printf '%s</devices></domain>\n' "$xml" > "$WORK/vm16.xml"
tree h16 "$WORK/g256.topo" "$conf"
mapfile -t r < <(LD_PRELOAD="$SHIM" FAKEKERNEL_ROOT="$WORK/h16" VFIO_CLAIM_SYSROOT="$WORK/h16" \
        VFIO_CLAIM_CONFIG="$WORK/h16$VC_SYSCONFDIR/vfio-claim" "$CPU" "$hook_runs" -i "$WORK/vm16.xml" \
        "$HOOK" bench prepare begin - -- "$HOOK" bench release end - \
        -- "$BARE" claim "$WORK/h16" "${vfs[@]}" -- "$BARE" release "$WORK/h16" "${vfs[@]}")
a=("${r[2]}" "${r[3]}")
row "hook prepare, 16 host devices, shim" "bare writes, claim" "${r[0]}" "${a[0]}"
row "hook release, 16 host devices, shim" "bare writes, release" "${r[1]}" "${a[1]}"
# The engine's own CPU: the figure minus its anchor's (the shim's model of the same writes, in
# the same tree shape, and bare-claim's process start), against issue 15's 10 ms target.
own() { local -a f=($1) a=($2); echo "$((${f[0]%.*} - ${a[0]%.*})) 0 ${f[2]}"; }
row "hook prepare, 16 host devices: engine's own (figure − bare writes)" "target" "$(own "${r[0]}" "${a[0]}")" "10000 10000 10000"
row "hook release, 16 host devices: engine's own (figure − bare writes)" "target" "$(own "${r[1]}" "${a[1]}")" "10000 10000 10000"

# 5. list --json, status, doctor on trees of 256, 1024 and 4096 devices, against the target
for n in 256 1024 4096; do
        "$abs_top_srcdir/tests/bench/gen-topo.sh" "$n" > "$WORK/s$n.topo"
        "$MKTREE" "$WORK/s$n.topo" "$WORK/s$n" > /dev/null
        mapfile -t r < <("$CPU" "$scale_runs" -k "$VC" --sysroot "$WORK/s$n" list --json -- \
                "$VC" --sysroot "$WORK/s$n" status -- "$VC" --sysroot "$WORK/s$n" doctor)
        row "\`list --json\`, $n devices" "target" "${r[0]}" "100000 100000 100000"
        row "\`status\`, $n devices" "target" "${r[1]}" "100000 100000 100000"
        row "\`doctor\`, $n devices" "target" "${r[2]}" "100000 100000 100000"
        rm -rf "$WORK/s$n"
done
mapfile -t r < <("$CPU" "$runs" "$VC" --version -- /bin/true)
row "\`vfio-claim --version\` (start of the CLI)" "fork+exec /bin/true" "${r[0]}" "${r[1]}"
# What the shim adds to every program started under it (rows 3 to 6, figure and anchor alike):
# test infrastructure, not vfio-claim's work; shown so that the ratios above can be read.
mapfile -t r < <("$CPU" "$runs" LD_PRELOAD="$SHIM" FAKEKERNEL_ROOT="$WORK/rt" /bin/true -- /bin/true)
row "fork+exec /bin/true under the fake kernel's shim (in rows 3 to 6, figure and anchor alike)" "fork+exec /bin/true" "${r[0]}" "${r[1]}"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr)"
echo "# $runs runs per figure ($hook_runs for the 16-device hook, $scale_runs for the scale rows); CPU = median user+system"
echo "# fake roots in $BENCH_TMPDIR ($(stat -f -c %T "$WORK"))"
# What the figures are made of, on this machine (tests/bench/machine-cost.c): a figure's own
# work is mostly page faults (a start, its libraries, its heap) and system calls (its reads).
echo "# this machine: $("$B/tests/bench/machine-cost")"
echo "| figure | CPU | anchor | anchor CPU | ratio | wall (median) |"
echo "|---|---:|---|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
