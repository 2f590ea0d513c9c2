#!/bin/bash
# run.sh [OPTIONS] [SCENARIO...]
# Boot the busybox-route guest once, run the scenarios in it, print TAP.
#
# SCENARIO is a name from tests/vm/scenarios/ (without .sh) or the path of a
# scenario script anywhere (it is copied into the guest). Default: the
# scenarios listed in scenarios/DEFAULT.
#
# Options:
#   --src DIR          project source tree to build and install (default: this repo)
#   --logdir DIR       where to keep serial.log, dmesg.txt, TAP (default: under the cache)
#   --timeout SECS     whole-guest timeout (default 900, plus what scenarios
#                      declaring a longer timeout need beyond the default)
#   --scenario-timeout SECS   per scenario (default 300; a scenario may declare
#                      a longer one in its first lines: "# vc-timeout: SECS")
#   --step-timeout SECS       per sysfs write in vc_write/vc_check (default 10)
#   --capture SCRIPT   run SCRIPT in the guest after the scenarios; its stdout
#                      is stored as capture.out in the log dir
#   --claim-with sysfs|cli    how vc_claim/vc_release work (default sysfs)
#   --env NAME=VALUE   set NAME (VC_[A-Z0-9_]*) for the scenarios in the guest,
#                      e.g. --env VC_SEED=1234 --env VC_CYCLES=10 (repeatable)
#   --no-project       do not build/install the project (guest + scenarios only)
#   --shell            interactive: after the scenarios, a root shell on this
#                      terminal (leave it with poweroff -f, or Ctrl-A X)
# Environment: VC_LAB_CACHE (cache dir), VC_LAB_ACCEL (default tcg,thread=multi),
#   VC_LAB_QEMU (default qemu-system-x86_64), VC_LAB_REQUIRE=1 (fail instead
#   of skipping: for CI),
#   VC_LAB_KERNEL_PKG (kernel package, default: behind linux-image-amd64).
# Exit: 0 all passed, 1 a failure (the log dir is printed), 77 cannot run here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(cd "$VC_LAB_DIR/../.." && pwd)
logdir=
timeout_s=
scen_timeout=300
step_timeout=10
capture=${VC_LAB_CAPTURE:-}
claim_with=sysfs
project=1
shell=0
scenarios=()
envs=()
while (($#)); do
        case $1 in
        --src) src=$(cd "$2" && pwd); shift 2 ;;
        --logdir) logdir=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --scenario-timeout) scen_timeout=$2; shift 2 ;;
        --step-timeout) step_timeout=$2; shift 2 ;;
        --capture) capture=$2; shift 2 ;;
        --claim-with) claim_with=$2; [[ $2 == sysfs || $2 == cli ]] || die "--claim-with sysfs|cli"; shift 2 ;;
        --env)
                [[ ${2:-} =~ ^VC_[A-Z0-9_]+=[A-Za-z0-9_.,:/+-]*$ ]] || die "--env VC_NAME=VALUE (a plain value), not '${2:-}'"
                envs+=("$2"); shift 2 ;;
        --no-project) project=0; shift ;;
        --shell) shell=1; shift ;;
        -h | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) scenarios+=("$1"); shift ;;
        esac
done
if ((${#scenarios[@]} == 0 && !shell)); then
        mapfile -t scenarios < <(grep -v '^\s*\(#\|$\)' "$VC_LAB_DIR/scenarios/DEFAULT")
fi

qemu_bin=${VC_LAB_QEMU:-qemu-system-x86_64}
command -v "$qemu_bin" >/dev/null 2>&1 ||
        skip "$qemu_bin not found: install qemu-system-x86 to run the lab (or set VC_LAB_QEMU)"
need_tools mke2fs timeout
logdir=${logdir:-$VC_LAB_CACHE/logs/$(date -u +%Y%m%dT%H%M%SZ)-$$}
mkdir -p "$logdir"
logdir=$(cd "$logdir" && pwd)
ln -sfn "$logdir" "$VC_LAB_CACHE/logs/latest" 2>/dev/null || true
t0=$(date +%s.%N)

img=$("$VC_LAB_DIR/build-image.sh") || {
        rc=$?
        ((rc == 77)) && exit 77
        die "building the guest image failed (exit $rc)"
}
t_img=$(date +%s.%N)

run=$(mktemp -d "${TMPDIR:-/tmp}/vc-lab.XXXXXX")
trap 'rm -rf "$run"' EXIT
root=$run/root
cp -a "$img/base" "$root"
if ((project)); then
        "$VC_LAB_DIR/install-project.sh" "$src" "$run/dest" || {
                rc=$?
                ((rc == 77)) && exit 77
                die "building or installing the project from $src failed (exit $rc)"
        }
        # Never write through a symlink of the tree: the image has only
        # relative links (build-image.sh), and --remove-destination replaces a
        # link instead of following it.
        if find "$root" -type l -lname '/*' | grep -q .; then
                die "guest tree $root has absolute symlinks; refusing to copy into it"
        fi
        cp -a --remove-destination "$run/dest/." "$root/"
fi
install -D -m 0755 "$VC_LAB_DIR/guest/vc-guest" "$root/sbin/vc-guest"
install -D -m 0644 "$VC_LAB_DIR/guest/lib.sh" "$root/usr/lib/vc-lab/lib.sh"
mkdir -p "$root/usr/lib/vc-lab/scenarios"
names=()
for s in "${scenarios[@]}"; do
        if [[ $s == */* || $s == *.sh ]]; then
                [[ -f $s ]] || die "no scenario file $s"
                n=$(basename "$s" .sh)
                cp "$s" "$root/usr/lib/vc-lab/scenarios/$n.sh"
        else
                n=$s
                [[ -f $VC_LAB_DIR/scenarios/$n.sh ]] || die "no scenario $n in $VC_LAB_DIR/scenarios"
                cp "$VC_LAB_DIR/scenarios/$n.sh" "$root/usr/lib/vc-lab/scenarios/"
        fi
        names+=("$n")
        # The whole guest gets what a longer declared scenario timeout adds.
        to=$(sed -n '1,5s/^# vc-timeout: *\([0-9][0-9]*\).*/\1/p' "$root/usr/lib/vc-lab/scenarios/$n.sh")
        if [[ -n $to ]] && ((to > scen_timeout)); then extra_timeout=$((${extra_timeout:-0} + to - scen_timeout)); fi
done
timeout_s=${timeout_s:-$((900 + ${extra_timeout:-0}))}
# A static VFIO API probe for the guest (scenarios skip its checks without it).
if command -v cc >/dev/null 2>&1; then
        cc -static -O2 -o "$root/usr/lib/vc-lab/vfio-group-status" \
                "$VC_LAB_DIR/guest/vfio-group-status.c" 2>"$logdir/cc.log" ||
                msg "cannot build guest/vfio-group-status.c statically (see $logdir/cc.log); VFIO API checks will skip"
fi
guest_capture=
if [[ -n $capture ]]; then
        [[ -f $capture ]] || die "no capture script $capture"
        cp "$capture" "$root/usr/lib/vc-lab/capture.sh"
        guest_capture=/usr/lib/vc-lab/capture.sh
fi
# A throw-away ext4 root disk, made without loop devices or root privileges.
mke2fs -q -F -t ext4 -L vcroot -E root_owner=0:0 -d "$root" "$run/root.img" 512M >/dev/null
{
        printf 'VC_SCENARIOS=%q\n' "${names[*]}"
        printf 'VC_SCENARIO_TIMEOUT=%q\nVC_STEP_TIMEOUT=%q\n' "$scen_timeout" "$step_timeout"
        printf 'VC_CAPTURE=%q\nVC_CLAIM_WITH=%q\n' "$guest_capture" "$claim_with"
        printf 'VC_SHELL=%q\n' "$shell"
        for e in "${envs[@]}"; do printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
} >"$run/run.conf"
cp "$run/run.conf" "$logdir/run.conf"
t_disk=$(date +%s.%N)

# intel-iommu needs kernel-irqchip=split for intremap; the devices are
# VC_TOPOLOGY (lib.sh), the root disk is virtio-blk at 09.0. no_timer_check:
# on a busy host TCG can miss the kernel's early timer check, which then
# panics ("timer doesn't work through Interrupt-remapped IO-APIC").
qemu=("$qemu_bin"
        -accel "${VC_LAB_ACCEL:-tcg,thread=multi}" -cpu max -smp 2 -m 1024
        -machine q35,kernel-irqchip=split
        -device intel-iommu,intremap=on
        -nodefaults -display none -monitor none -no-reboot
        -serial "file:$logdir/serial.log"
        -kernel "$img/vmlinuz" -initrd "$img/initrd.img"
        -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 loglevel=4 no_timer_check"
        -fw_cfg "name=opt/vc/run.conf,file=$run/run.conf"
        "${VC_TOPOLOGY[@]}"
        -drive "file=$run/root.img,if=none,id=d0,format=raw"
        -device virtio-blk-pci,bus=pcie.0,addr=09.0,drive=d0
)
printf '%q ' "${qemu[@]}" >"$logdir/qemu.cmdline"
echo >>"$logdir/qemu.cmdline"
msg "booting guest (log dir $logdir)"
# The CPU time QEMU uses tells a busy machine from a slow guest: on an idle
# host the guest's wall time is about its CPU time (mostly one busy vCPU).
times >"$run/cpu.before"
qrc=0
if ((shell)); then
        # The console on this terminal, and a copy in the log.
        for i in "${!qemu[@]}"; do
                [[ ${qemu[i]} == file:$logdir/serial.log ]] && qemu[i]="chardev:con"
        done
        qemu+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$logdir/serial.log" -mon chardev=con,mode=readline)
        "${qemu[@]}" 2>"$logdir/qemu.stderr" || qrc=$?
else
        # A kernel that stalls before the guest's init prints its first line is booted again,
        # once (lab_qemu_boot in lib.sh).
        lab_qemu_boot "$logdir/serial.log" "$timeout_s" "$logdir/qemu.stderr" "${qemu[@]}" || qrc=$?
fi
t_end=$(date +%s.%N)
times >"$run/cpu.after"

rc=0
lab_collect "$logdir" "$qrc" || rc=$?

# `times` prints the shell's and then its children's user and system time ("1m2.345s").
cpu_children() { awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, m, "m"); t += m[1] * 60 + m[2] } print t }' "$1"; }
awk -v a="$t0" -v b="$t_img" -v c="$t_disk" -v d="$t_end" \
        -v q="$(cpu_children "$run/cpu.before")" -v r="$(cpu_children "$run/cpu.after")" 'BEGIN {
        printf "image %.1fs, project+disk %.1fs, guest %.1fs (QEMU used %.1fs of CPU), total %.1fs\n",
                b - a, c - b, d - c, r - q, d - a }' >"$logdir/times"
msg "times: $(cat "$logdir/times")"
if ! grep -q '^@@VC begin' "$logdir/serial.txt"; then
        msg "the guest did not come up (qemu exit $qrc); serial log: $logdir/serial.log"
        [[ -s $logdir/qemu.stderr ]] && msg "qemu said: $(tail -n 3 "$logdir/qemu.stderr")"
        # CI, where the lab must run, sets VC_LAB_REQUIRE=1: no silent skip.
        [[ ${VC_LAB_REQUIRE:-0} == 1 ]] && exit 1
        exit 77
fi
if ((rc != 0)); then
        msg "FAILED; serial log, dmesg and scenario output in $logdir"
        exit 1
fi
msg "all passed; logs in $logdir"
