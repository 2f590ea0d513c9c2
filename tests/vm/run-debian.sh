#!/bin/bash
# run-debian.sh [OPTIONS] [SCENARIO...]
# Boot the Debian-route guest (systemd, udev, libvirtd, dracut; built by
# build-debian.sh) through a throw-away qcow2 overlay, install the project,
# run the scenarios, print TAP. Same scenario helpers, framing and log layout
# as run.sh; boot it as rarely as possible (slow).
#
# Options:
#   --src DIR          project source tree (default: this repo)
#   --logdir DIR       log directory (default: under the cache)
#   --timeout SECS     whole-guest timeout (default 1200)
#   --scenario-timeout SECS   per scenario (default 600)
#   --prepare SCRIPT   run SCRIPT in the guest after installing the project
#                      (first boot); if it creates /run/vc-lab/reboot the
#                      guest goes down once before the scenarios (e.g. after
#                      writing a boot = yes config and running dracut -f) and
#                      boots again through the initramfs it rebuilt
#                      (/boot/initrd.img-KVER, taken out of the disk)
#   --append ARGS      extra kernel command line (e.g. rd.vfio_claim=0)
#   --claim-with sysfs|cli
#   --install deb|make  how the project gets into the guest (default deb,
#                      or make for a tree without debian/, as a tarball is):
#                      deb: the packages of tests/deb/build.sh, installed by
#                      the first scenario, package-install, with
#                      `apt-get install ./vfio-claim_*.deb` while libvirtd
#                      runs (then libvirtd restarted, as the package says);
#                      make: `make install` into the image at boot, before
#                      udev starts (tests/vm/install-project.sh; the default
#                      with --prepare, and `make bench-vm` asks for it: it
#                      needs the bench programs)
#   --env NAME=VALUE   set NAME (VC_[A-Z0-9_]*) for the scenarios in the guest,
#                      e.g. --env VC_BENCH_RUNS=10 (repeatable)
#
# A scenario whose first lines say "# vc-host: usb-stick" gets a USB stick
# (QEMU's usb-storage, 46f4:0001 "QEMU USB HARDDRIVE", on port 1 of the xHCI,
# QOM id vcusb0) and may ask the host to pull it out and plug it back while the
# guest runs: it prints "@@VC host usb-unplug vcusb0" or "@@VC host usb-plug
# vcusb0" (vc_host_usb in guest/lib.sh) and waits for sysfs; a watcher here
# follows the serial log and sends device_del / device_add to a QMP
# monitor on a pipe (what it sent: usb-hotplug.log, QMP's replies and
# events: monitor.log). "# vc-host: usb-kbd" plugs a USB keyboard (QEMU's usb-kbd,
# 0627:0001) into port 2 of the same xHCI. Without such a scenario the machine is
# as before.
# Exit: 0 all passed, 1 a failure (the log dir is printed), 77 cannot run here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(cd "$VC_LAB_DIR/../.." && pwd)
logdir=
timeout_s=1200
scen_timeout=600
prepare=
append=
claim_with=sysfs
install=
scenarios=()
envs=()
while (($#)); do
        case $1 in
        --src) src=$(cd "$2" && pwd); shift 2 ;;
        --logdir) logdir=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --scenario-timeout) scen_timeout=$2; shift 2 ;;
        --prepare) prepare=$2; shift 2 ;;
        --append) append=$2; shift 2 ;;
        --env)
                [[ ${2:-} =~ ^VC_[A-Z0-9_]+=[A-Za-z0-9_.,:/+-]*$ ]] || die "--env VC_NAME=VALUE (a plain value), not '${2:-}'"
                envs+=("$2"); shift 2 ;;
        --install) install=$2; [[ $2 == deb || $2 == make ]] || die "--install deb|make"; shift 2 ;;
        --claim-with) claim_with=$2; [[ $2 == sysfs || $2 == cli ]] || die "--claim-with sysfs|cli"; shift 2 ;;
        -h | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) scenarios+=("$1"); shift ;;
        esac
done
((${#scenarios[@]})) || scenarios=(debian-smoke iommu-groups)
if [[ -z $install ]]; then
        if [[ -n $prepare ]]; then install=make
        elif [[ -f $src/debian/control ]]; then install=deb
        else install=make; msg "$src has no debian/ (a release tarball): installing with make install"
        fi
fi
[[ $install == make || -z $prepare ]] || die "--prepare needs --install make (it runs before the scenarios)"

qemu_bin=${VC_LAB_QEMU:-qemu-system-x86_64}
command -v "$qemu_bin" >/dev/null 2>&1 || skip "$qemu_bin not found: install qemu-system-x86 to run the lab"
need_tools qemu-img tar timeout
logdir=${logdir:-$VC_LAB_CACHE/logs/$(date -u +%Y%m%dT%H%M%SZ)-debian-$$}
mkdir -p "$logdir"
logdir=$(cd "$logdir" && pwd)
t0=$(date +%s.%N)
img=$(debian_image) || {
        rc=$?
        ((rc == 77)) && exit 77
        die "building the guest image failed (exit $rc)"
}
t_img=$(date +%s.%N)

run=$(mktemp -d "${TMPDIR:-/tmp}/vc-lab.XXXXXX")
bg_pids=()
cleanup() {
        local p
        for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
        for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
        rm -rf "$run"
}
trap cleanup EXIT
# Scenarios, helpers, the prepare script and the packages, unpacked to /usr/lib/vc-lab.
mkdir -p "$run/lib/scenarios"
cp "$VC_LAB_DIR/guest/lib.sh" "$run/lib/"
names=()
project=()
if [[ $install == make ]]; then
        "$VC_LAB_DIR/install-project.sh" --no-libs "$src" "$run/dest"
        tar -C "$run/dest" -cf "$run/project.tar" .
        project=(-fw_cfg "name=opt/vc/project.tar,file=$run/project.tar")
else
        debs=$(bash "$VC_LAB_DIR/../deb/build.sh" --src "$src") || {
                rc=$?
                ((rc == 77)) && exit 77
                die "building the packages failed (exit $rc)"
        }
        mkdir -p "$run/lib/debs"
        cp "$debs"/vfio-claim_*.deb "$debs"/vfio-claim-dracut_*.deb "$run/lib/debs/"
        cp "$VC_LAB_DIR/scenarios/package-install.sh" "$run/lib/scenarios/"
        names+=(package-install)
fi
for s in "${scenarios[@]}"; do
        if [[ $s == */* || $s == *.sh ]]; then
                [[ -f $s ]] || die "no scenario file $s"
                n=$(basename "$s" .sh); cp "$s" "$run/lib/scenarios/$n.sh"
        else
                n=$s
                [[ -f $VC_LAB_DIR/scenarios/$n.sh ]] || die "no scenario $n in $VC_LAB_DIR/scenarios"
                cp "$VC_LAB_DIR/scenarios/$n.sh" "$run/lib/scenarios/"
        fi
        names+=("$n")
done
if [[ -n $prepare ]]; then install -m 0755 "$prepare" "$run/lib/prepare.sh"; fi
usb_stick=0 usb_kbd=0
for n in "${names[@]}"; do
        sed -n '1,10p' "$run/lib/scenarios/$n.sh" | grep -q '^# vc-host: .*usb-stick' && usb_stick=1
        sed -n '1,10p' "$run/lib/scenarios/$n.sh" | grep -q '^# vc-host: .*usb-kbd' && usb_kbd=1
done
if command -v cc >/dev/null 2>&1; then
        cc -static -O2 -o "$run/lib/vfio-group-status" "$VC_LAB_DIR/guest/vfio-group-status.c" 2>"$logdir/cc.log" || true
fi
tar -C "$run/lib" -cf "$run/scenarios.tar" .
{
        printf 'VC_SCENARIOS=%q\n' "${names[*]}"
        printf 'VC_SCENARIO_TIMEOUT=%q\nVC_STEP_TIMEOUT=10\n' "$scen_timeout"
        printf 'VC_CLAIM_WITH=%q\n' "$claim_with"
        echo VC_REBOOT_VIA=host
        for e in "${envs[@]}"; do printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
} >"$run/run.conf"
cp "$run/run.conf" "$logdir/run.conf"
qemu-img create -q -f qcow2 -F raw -b "$img/root.img" "$run/overlay.qcow2"
t_disk=$(date +%s.%N)

# The USB stick and its monitor (see the header): 16 MiB of zeros, a -blockdev node, which
# outlives the device at device_del (a -drive would be deleted with it), so device_add finds it.
usb=()
usb_stick_dev="usb-storage,bus=xhci.0,port=1,drive=vcusbdisk,id=vcusb0,serial=vclab0001,removable=off"
usb_stick_qmp='"driver":"usb-storage","bus":"xhci.0","port":"1","drive":"vcusbdisk","id":"vcusb0","serial":"vclab0001","removable":false'
if ((usb_stick)); then
        truncate -s 16M "$run/usb.img"
        mkfifo "$run/mon.in" "$run/mon.out" "$run/serial.fifo"
        usb=(-blockdev "driver=file,node-name=vcusbfile,filename=$run/usb.img"
                -blockdev "driver=raw,node-name=vcusbdisk,file=vcusbfile"
                -device "$usb_stick_dev"
                -chardev "pipe,id=mon0,path=$run/mon" -mon chardev=mon0,mode=control)
fi
# A USB keyboard (QEMU's usb-kbd, 0627:0001) on port 2 of the same xHCI, for the scenarios whose
# header says "# vc-host: usb-kbd".
if ((usb_kbd)); then
        usb+=(-device usb-kbd,bus=xhci.0,port=2,id=vckbd0)
fi
# usb_watch: follow the serial log for the guest's requests; each one becomes one QMP command,
# sent after qmp_capabilities (QMP takes no command before it; from the second request on, QMP
# answers it with an error, "negotiation is already complete", which does no harm). The guest
# checks the result in its sysfs; here only what was asked and sent is logged.
usb_watch() {
        local line id cmd
        while IFS= read -r line; do
                line=${line%$'\r'}
                [[ $line =~ ^@@VC\ host\ (usb-unplug|usb-plug)\ ([a-z0-9]+)$ ]] || continue
                id=${BASH_REMATCH[2]}
                [[ $id == vcusb0 ]] || { echo "$(date -u +%T) unknown device '$id'"; continue; }
                case ${BASH_REMATCH[1]} in
                usb-unplug) cmd="{\"execute\":\"device_del\",\"arguments\":{\"id\":\"$id\"}}" ;;
                usb-plug) cmd="{\"execute\":\"device_add\",\"arguments\":{$usb_stick_qmp}}" ;;
                esac
                echo "$(date -u +%T) $cmd"
                printf '{"execute":"qmp_capabilities"}\n%s\n' "$cmd" >"$run/mon.in"
        done
}

# boot_args INITRD: the machine; both boots of a --prepare run append to one serial log.
: >"$logdir/serial.log"
boot_args() {
        qemu=("$qemu_bin"
        -accel "${VC_LAB_ACCEL:-tcg,thread=multi}" -cpu max -smp 2 -m 3072
        -machine q35,kernel-irqchip=split
        -device intel-iommu,intremap=on
        -nodefaults -display none -monitor none
        -chardev "file,id=ser0,path=$logdir/serial.log,append=on" -serial chardev:ser0
        -kernel "$img/vmlinuz" -initrd "$1"
        -append "root=/dev/vda rw console=ttyS0 intel_iommu=on iommu=pt panic=-1 loglevel=4 systemd.show_status=0 $append"
        -fw_cfg "name=opt/vc/run.conf,file=$run/run.conf"
        "${project[@]}"
        -fw_cfg "name=opt/vc/scenarios.tar,file=$run/scenarios.tar"
        "${VC_TOPOLOGY[@]}"
        -drive "file=$run/overlay.qcow2,if=none,id=d0,format=qcow2"
        -device virtio-blk-pci,bus=pcie.0,addr=09.0,drive=d0
        "${usb[@]}"
        )
        printf '%q ' "${qemu[@]}" >>"$logdir/qemu.cmdline"
        echo >>"$logdir/qemu.cmdline"
}
boot_args "$img/initrd.img"
msg "booting the Debian guest (log dir $logdir)"
if ((usb_stick)); then
        # QEMU opens both pipes read-write, so neither open below waits for the other side.
        cat "$run/mon.out" >"$logdir/monitor.log" &
        bg_pids+=($!)
        tail -n +1 -F "$logdir/serial.log" 2>/dev/null >"$run/serial.fifo" &
        bg_pids+=($!)
        usb_watch <"$run/serial.fifo" >"$logdir/usb-hotplug.log" 2>&1 &
        bg_pids+=($!)
fi
qrc=0
# A kernel that stalls before the guest's userspace prints its first line is booted again, once
# (lab_qemu_boot in lib.sh), from the same overlay, which nothing has written then; both boots
# stay in the serial log. The monitor's reader ends with the first QEMU: it is started again.
restart_monitor_reader() {
        if ((usb_stick)); then
                cat "$run/mon.out" >>"$logdir/monitor.log" &
                bg_pids+=($!)
        fi
}
# shellcheck disable=SC2034 # both read by lab_qemu_boot
LAB_BEFORE_RETRY=restart_monitor_reader LAB_SERIAL_APPENDS=1
: >"$logdir/qemu.stderr"
lab_qemu_boot "$logdir/serial.log" "$timeout_s" "$logdir/qemu.stderr" "${qemu[@]}" || qrc=$?
# A --prepare script asked for a reboot and the guest powered off: boot it again through the
# initramfs it rebuilt, read from the overlay with debugfs (no loop device, no mount).
if [[ -n $prepare ]] && ((qrc == 0)) && grep -q '^@@VC diag powering off' "$logdir/serial.log" &&
        ! grep -q '^@@VC begin' "$logdir/serial.log"; then
        kver=$(tr -d '\r' <"$logdir/serial.log" | sed -n 's/^@@VC boot install //p' | head -n1)
        need_tools debugfs
        qemu-img convert -O raw "$run/overlay.qcow2" "$run/root.raw"
        debugfs -R "dump /boot/initrd.img-$kver $run/initrd.next" "$run/root.raw" >"$logdir/debugfs.log" 2>&1 || true
        rm -f "$run/root.raw"
        [[ -s $run/initrd.next ]] || die "the guest's rebuilt /boot/initrd.img-$kver is not on its disk ($logdir/debugfs.log)"
        msg "booting the Debian guest again, through the initramfs it rebuilt"
        boot_args "$run/initrd.next"
        left=$(awk -v a="$t_disk" -v t="$timeout_s" -v n="$(date +%s.%N)" 'BEGIN { l = t - (n - a); print (l < 60 ? 60 : int(l)) }')
        lab_qemu_boot "$logdir/serial.log" "$left" "$logdir/qemu.stderr" "${qemu[@]}" || qrc=$?
fi
t_end=$(date +%s.%N)
rc=0
lab_collect "$logdir" "$qrc" || rc=$?
awk -v a="$t0" -v b="$t_img" -v c="$t_disk" -v d="$t_end" 'BEGIN {
        printf "image %.1fs, project+disk %.1fs, guest %.1fs, total %.1fs\n", b - a, c - b, d - c, d - a }' >"$logdir/times"
msg "times: $(cat "$logdir/times")"
if ! grep -q '^@@VC begin' "$logdir/serial.txt"; then
        msg "the Debian guest did not reach its scenarios (qemu exit $qrc); serial log: $logdir/serial.log"
        [[ -s $logdir/qemu.stderr ]] && msg "qemu said: $(tail -n 3 "$logdir/qemu.stderr")"
        # CI, where the lab must run, sets VC_LAB_REQUIRE=1: no silent skip.
        [[ ${VC_LAB_REQUIRE:-0} == 1 ]] && exit 1
        exit 77
fi
if ((rc != 0)); then
        msg "FAILED; serial log, dmesg, journal and scenario output in $logdir"
        exit 1
fi
msg "all passed; logs in $logdir"
