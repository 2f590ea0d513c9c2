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
#   --timeout SECS     whole-guest timeout (default 900)
#   --scenario-timeout SECS   per scenario (default 300)
#   --step-timeout SECS       per sysfs write in vc_write/vc_check (default 10)
#   --capture SCRIPT   run SCRIPT in the guest after the scenarios; its stdout
#                      is stored as capture.out in the log dir
#   --claim-with sysfs|cli    how vc_claim/vc_release work (default sysfs)
#   --no-project       do not build/install the project (guest + scenarios only)
# Environment: VC_LAB_CACHE (cache dir), VC_LAB_ACCEL (default tcg,thread=multi),
#   VC_LAB_QEMU (default qemu-system-x86_64),
#   VC_LAB_KERNEL_PKG (kernel package, default: behind linux-image-amd64).
# Exit: 0 all passed, 1 a failure (the log dir is printed), 77 cannot run here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(cd "$VC_LAB_DIR/../.." && pwd)
logdir=
timeout_s=900
scen_timeout=300
step_timeout=10
capture=${VC_LAB_CAPTURE:-}
claim_with=sysfs
project=1
scenarios=()
while (($#)); do
        case $1 in
        --src) src=$(cd "$2" && pwd); shift 2 ;;
        --logdir) logdir=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --scenario-timeout) scen_timeout=$2; shift 2 ;;
        --step-timeout) step_timeout=$2; shift 2 ;;
        --capture) capture=$2; shift 2 ;;
        --claim-with) claim_with=$2; shift 2 ;;
        --no-project) project=0; shift ;;
        -h | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) scenarios+=("$1"); shift ;;
        esac
done
if ((${#scenarios[@]} == 0)); then
        mapfile -t scenarios < <(grep -v '^\s*\(#\|$\)' "$VC_LAB_DIR/scenarios/DEFAULT")
fi

qemu_bin=${VC_LAB_QEMU:-qemu-system-x86_64}
command -v "$qemu_bin" >/dev/null 2>&1 ||
        skip "$qemu_bin not found: install qemu-system-x86 to run the lab (or set VC_LAB_QEMU)"
need_tools mke2fs timeout
logdir=${logdir:-$VC_LAB_CACHE/logs/$(date -u +%Y%m%dT%H%M%SZ)-$$}
mkdir -p "$logdir"
logdir=$(cd "$logdir" && pwd)
t0=$(date +%s.%N)

img=$("$VC_LAB_DIR/build-image.sh")
t_img=$(date +%s.%N)

run=$(mktemp -d "${TMPDIR:-/tmp}/vc-lab.XXXXXX")
trap 'rm -rf "$run"' EXIT
root=$run/root
cp -a "$img/base" "$root"
if ((project)); then
        "$VC_LAB_DIR/install-project.sh" "$src" "$run/dest"
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
done
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
} >"$run/run.conf"
cp "$run/run.conf" "$logdir/run.conf"
t_disk=$(date +%s.%N)

# The topology (issue 4). Bus numbers shift with it: scenarios find devices
# by vendor:device. intel-iommu needs kernel-irqchip=split for intremap.
qemu=("$qemu_bin"
        -accel "${VC_LAB_ACCEL:-tcg,thread=multi}" -cpu max -smp 2 -m 1024
        -machine q35,kernel-irqchip=split
        -device intel-iommu,intremap=on
        -nodefaults -display none -monitor none -no-reboot
        -serial "file:$logdir/serial.log"
        -kernel "$img/vmlinuz" -initrd "$img/initrd.img"
        -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 loglevel=4"
        -fw_cfg "name=opt/vc/run.conf,file=$run/run.conf"
        # display + audio: one multifunction slot, one IOMMU group
        -device VGA,bus=pcie.0,addr=05.0,multifunction=on
        -device ich9-intel-hda,id=hda,bus=pcie.0,addr=05.1
        -audiodev none,id=snd0 -device hda-output,bus=hda.0,audiodev=snd0
        # e1000e alone behind a root port
        -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=06.0
        -netdev user,id=n1,net=10.0.11.0/24 -device e1000e,bus=rp1,netdev=n1
        # a PCIe-to-PCI bridge with two conventional NICs: one group with the bridge
        -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=07.0
        -device pcie-pci-bridge,id=br1,bus=rp2
        -netdev user,id=n2,net=10.0.12.0/24 -device e1000,bus=br1,addr=01.0,netdev=n2
        -netdev user,id=n3,net=10.0.13.0/24 -device rtl8139,bus=br1,addr=02.0,netdev=n3
        # virtio-net: the default route
        -device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,addr=08.0
        -netdev user,id=n0,net=10.0.2.0/24 -device virtio-net-pci,bus=rp3,netdev=n0
        # virtio-blk on the root bus: the root disk
        -drive "file=$run/root.img,if=none,id=d0,format=raw"
        -device virtio-blk-pci,bus=pcie.0,addr=09.0,drive=d0
        -device qemu-xhci,bus=pcie.0,addr=0a.0
)
printf '%q ' "${qemu[@]}" >"$logdir/qemu.cmdline"
echo >>"$logdir/qemu.cmdline"
msg "booting guest (log dir $logdir)"
qrc=0
timeout -k 10 "$timeout_s" "${qemu[@]}" 2>"$logdir/qemu.stderr" || qrc=$?
t_end=$(date +%s.%N)

# Files the guest sent back (@@VC data NAME base64...).
tr -d '\r' <"$logdir/serial.log" >"$run/serial"
for f in $(sed -n 's/^@@VC data \([^ ]*\) .*/\1/p' "$run/serial" | sort -u); do
        sed -n "s/^@@VC data $f //p" "$run/serial" | base64 -d | gunzip >"$logdir/$f" ||
                msg "could not decode $f from the serial log"
done

# TAP from the result frames.
rc=0
awk -v qrc="$qrc" -v logdir="$logdir" '
        /^@@VC (ok|not-ok|skip) / {
                n++; type = $2; name = $3
                desc = $0; sub(/^@@VC [a-z-]+ [^ ]+ ?/, "", desc)
                if (type == "ok")        printf "ok %d - %s: %s\n", n, name, desc
                else if (type == "skip") printf "ok %d - %s # SKIP %s\n", n, name, desc
                else { printf "not ok %d - %s: %s\n", n, name, desc; fail++ }
                next
        }
        /^@@VC bail / { bail = $0; sub(/^@@VC bail /, "", bail) }
        /^@@VC begin/ { begun = 1 }
        /^@@VC end/ { ended = 1 }
        /^@@VC / { next }
        END {
                if (bail != "") { n++; printf "not ok %d - guest: %s\n", n, bail; fail++ }
                if (!ended) {
                        n++
                        if (qrc == 124 || qrc == 137) printf "not ok %d - guest: timed out before @@VC end\n", n
                        else printf "not ok %d - guest: no @@VC end (qemu exit %s)\n", n, qrc
                        fail++
                }
                printf "1..%d\n", n
                exit (fail ? 1 : (begun ? 0 : 2))
        }' "$run/serial" >"$logdir/tap" || rc=$?
cat "$logdir/tap"
# TAP comments: what the scenarios printed (lines the scenario runner prefixed).
grep '^# ' "$run/serial" >"$logdir/scenario-output.txt" || true

awk -v a="$t0" -v b="$t_img" -v c="$t_disk" -v d="$t_end" 'BEGIN {
        printf "image %.1fs, project+disk %.1fs, guest %.1fs, total %.1fs\n", b - a, c - b, d - c, d - a }' >"$logdir/times"
msg "times: $(cat "$logdir/times")"
if ! grep -q '^@@VC begin' "$run/serial"; then
        msg "the guest did not come up (qemu exit $qrc); serial log: $logdir/serial.log"
        exit 77
fi
if ((rc != 0)); then
        msg "FAILED; serial log, dmesg and scenario output in $logdir"
        exit 1
fi
msg "all passed; logs in $logdir"
