#!/bin/bash
# The boot scenarios of issue 5 on a Debian guest (systemd, udev, dracut, initramfs-tools):
#
#   tests/vm/boot/run.sh [--src DIR] [--only dracut|rescue|initramfs-tools] [--measure]
#
# --measure (make bench-boot; not in CI): also what vfio-claim adds to the boot, written to
# $LOG/measure.txt and printed as TAP comments: the bytes it adds to each initramfs (an image
# built without it beside the real one: dracut --omit vfio-claim; initramfs-tools with the
# package's hook and init-top script set aside), with the vfio modules counted apart; the time
# of its runs in the boots (the early unit's Starting/Finished in the kernel log, the boot pass's
# own summary line, and, with udev's debug log switched on for those boots, every run of
# vfio-claim-udev from udevd's start and end lines).
#
# Two identical e1000e NICs on their own root ports; the configuration claims the first by
# address and the display + audio group by the VGA's address only. The initramfs of dracut
# without systemd is built with an entry for the twin NIC too, dropped from the real root before
# the boot: an initramfs older than the configuration, whose claim the early unit gives back. The
# dracut (systemd) and initramfs-tools images also claim by id the guest's root disk's controller
# (virtio-blk 1af4:1001), which the host-critical list in the image keeps on the host; a lab
# module or hook adds the guest's line, since the images are built in a chroot of the build
# machine (critical_boot). The initramfs carries
# e1000e and bochs (dracut --force-drivers; initramfs-tools: /etc/initramfs-tools/modules),
# so host drivers load before the root is mounted. After each boot the guest reports driver
# links, overrides, /dev/vfio, state records and the kernel log (with the driver core's probe
# messages switched on by dyndbg, so "no probe" can be checked, not only "not bound").
# The project comes in as its Debian packages (tests/deb/build.sh), installed with apt-get in
# each guest root before it is configured.
# Prints TAP; exit 0 all passed, 1 a failure, 77 cannot run here.
#
# First cut of the lab's Debian route for the boot scenarios: the root (debootstrap minbase +
# systemd, udev, dracut) and the kernel are cached under $VC_LAB_CACHE/debian-boot; the project
# is built from --src and installed with its own make install DESTDIR=.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh" # copy_sources, mirror_of_host
SRC=$(cd "$HERE/../../.." && pwd)
ONLY=
MEASURE=0
while [ $# -gt 0 ]; do
        case $1 in
        --src) SRC=$(cd "$2" && pwd); shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --measure) MEASURE=1; shift ;;
        *) echo "usage: $0 [--src DIR] [--only dracut|rescue|initramfs-tools] [--measure]" >&2; exit 2 ;;
        esac
done
if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP needs root (debootstrap, chroot)"; exit 77
fi
for t in debootstrap qemu-system-x86_64 mke2fs apt-get; do
        command -v "$t" > /dev/null || { echo "1..0 # SKIP $t not installed"; exit 77; }
done

CACHE=${VC_LAB_CACHE:-/var/cache/vfio-claim-lab}/debian-boot
MIRROR=${VC_LAB_MIRROR:-$(mirror_of_host bookworm | head -n1)}
[ -n "$MIRROR" ] || { echo "1..0 # SKIP no bookworm deb source in /etc/apt/sources.list* (or set VC_LAB_MIRROR)"; exit 77; }
LOG=$CACHE/logs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$CACHE" "$LOG"
exec 3>&1
say() { echo "# $*" >&3; }

# ---------------------------------------------------------------- the kernel
KPKG=$(apt-cache depends linux-image-amd64 2> /dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
[ -n "$KPKG" ] || { echo "1..0 # SKIP apt cannot resolve linux-image-amd64"; exit 77; }
KVER=${KPKG#linux-image-}
PKGS=systemd,systemd-sysv,udev,kmod,dracut,dracut-core,libinih1,libkmod2,libxml2,libudev1,libvirt0,busybox
KEY=$(printf '%s\n' "$KPKG" "$PKGS" "$(apt-cache policy "$KPKG" | sed -n 's/ *Candidate: //p')" | sha256sum | cut -c1-16)
BASE=$CACHE/root-$KEY
if [ ! -e "$BASE/.done" ]; then
        say "building the Debian root $BASE (debootstrap + $KPKG)"
        rm -rf "$BASE" "$BASE.k"
        debootstrap --variant=minbase --include="$PKGS" bookworm "$BASE" "$MIRROR" > "$LOG/debootstrap.log" 2>&1 ||
                { echo "1..0 # SKIP debootstrap failed: $LOG/debootstrap.log"; exit 77; }
        mkdir -p "$BASE.k"
        (cd "$BASE.k" && apt-get download "$KPKG" > "$LOG/kernel.log" 2>&1) ||
                { echo "1..0 # SKIP cannot download $KPKG"; exit 77; }
        dpkg -x "$BASE.k"/*.deb "$BASE.k/x"
        mkdir -p "$BASE/usr/lib/modules"
        cp -a "$BASE.k/x/lib/modules/$KVER" "$BASE/usr/lib/modules/"
        cp -a "$BASE.k/x/boot/." "$BASE/boot/"
        chroot "$BASE" depmod "$KVER"
        rm -rf "$BASE.k"
        touch "$BASE/.done"
fi

# ---------------------------------------------------------------- the project
# The Debian packages of the tree (tests/deb/build.sh, cached by content: the hook stage of the
# same CI run built them already), installed into each guest root with apt-get as an admin does.
say "building the packages of $SRC"
DEBS=$(bash "$HERE/../../deb/build.sh" --src "$SRC" 2> "$LOG/build.log") ||
        { echo "Bail out! building the packages failed: $LOG/build.log"; exit 1; }

# ---------------------------------------------------------------- a guest root
# work_root DIR: base + project + configuration + report unit
work_root() {
        local w=$1
        rm -rf "$w"
        cp -a "$BASE" "$w"
        # Installed before the configuration below exists: the postinst sees no boot = yes
        # device, so it neither enables the early unit nor triggers an initramfs build (the
        # scenarios build theirs; the package's own boot = yes path is tests/deb/check.sh's).
        mkdir -p "$w/tmp/debs"
        cp "$DEBS"/vfio-claim_*.deb "$DEBS"/vfio-claim-dracut_*.deb "$w/tmp/debs/"
        in_chroot "$w" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y \
                --no-install-recommends /tmp/debs/*.deb' > "$LOG/apt-install.log" 2>&1 ||
                { echo "Bail out! apt-get install of the packages failed: $LOG/apt-install.log"; exit 1; }
        rm -rf "$w/tmp/debs"
        # [global] timeout: one sysfs write's bound. 10 s is for real hardware; in this TCG guest
        # on a loaded CI host bochs-drm's probe at VM stop once stalled a vCPU for 49 s (a soft
        # lockup in the kernel log), and the hook gave up on the write (the run of 2026-12-05).
        cat > "$w/etc/vfio-claim/vfio-claim.conf" <<'CONF'
[global]
timeout = 300

[device guest-nic]
match = 0000:01:00.0
id = 8086:10d3
boot = yes

[device display]
match = 0000:00:05.0
boot = yes
release = host
CONF
        install -D -m 0755 "$HERE/report.sh" "$w/usr/local/sbin/vc-boot-report"
        install -D -m 0644 "$HERE/vc-boot-report.service" "$w/etc/systemd/system/vc-boot-report.service"
        chroot "$w" systemctl enable vc-boot-report.service vfio-claim-early.service > /dev/null 2>&1
        echo vfio-lab > "$w/etc/hostname"
        # no getty on the serial console: the report owns it
        chroot "$w" systemctl mask serial-getty@ttyS0.service getty@tty1.service > /dev/null 2>&1 || true
}

in_chroot() { # DIR CMD...: with /proc, /sys, /dev
        local w=$1
        shift
        mount -t proc proc "$w/proc"
        mount --rbind /sys "$w/sys" && mount --make-rslave "$w/sys"
        mount --rbind /dev "$w/dev" && mount --make-rslave "$w/dev"
        local rc=0
        chroot "$w" "$@" || rc=$?
        umount -R "$w/dev" "$w/sys" "$w/proc" 2> /dev/null || umount -l "$w/dev" "$w/sys" "$w/proc"
        return $rc
}

# qemu_boot NAME IMG INITRD CMDLINE-EXTRA ROOT: one boot; a kernel that stalls before the
# initramfs's first line is booted again, once, on a fresh image (lab_qemu_boot in lib.sh)
qemu_boot() {
        local name=$1 img=$2 initrd=$3 extra=$4 root=$5
        rm -f "$LOG/$name.serial" "$LOG/$name.qemu"
        LAB_BEFORE_RETRY=remake_image lab_qemu_boot "$LOG/$name.serial" "${VC_LAB_TIMEOUT:-900}" "$LOG/$name.qemu" \
                qemu-system-x86_64 \
                -accel "${VC_LAB_ACCEL:-tcg,thread=multi}" -cpu max -smp 2 -m 1536 \
                -machine q35,kernel-irqchip=split -device intel-iommu,intremap=on \
                -nographic -no-reboot -serial "file:$LOG/$name.serial" -monitor none \
                -kernel "$root/boot/vmlinuz-$KVER" -initrd "$initrd" \
                -append "console=ttyS0 root=/dev/vda rw intel_iommu=on iommu=pt panic=-1 loglevel=4 log_buf_len=8M dyndbg=\"file drivers/base/dd.c +p\" systemd.show_status=0 $extra" \
                -device VGA,bus=pcie.0,addr=05.0,multifunction=on \
                -device ich9-intel-hda,id=hda,bus=pcie.0,addr=05.1 \
                -audiodev none,id=snd0 -device hda-output,bus=hda.0,audiodev=snd0 \
                -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=06.0 \
                -netdev user,id=n1,net=10.0.11.0/24 -device e1000e,bus=rp1,netdev=n1 \
                -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=07.0 \
                -device pcie-pci-bridge,id=br1,bus=rp2 \
                -netdev user,id=n2,net=10.0.12.0/24 -device e1000,bus=br1,addr=01.0,netdev=n2 \
                -netdev user,id=n3,net=10.0.13.0/24 -device rtl8139,bus=br1,addr=02.0,netdev=n3 \
                -device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,addr=08.0 \
                -netdev user,id=n0,net=10.0.2.0/24 -device virtio-net-pci,bus=rp3,netdev=n0 \
                -device pcie-root-port,id=rp4,bus=pcie.0,chassis=4,addr=0b.0 \
                -netdev user,id=n4,net=10.0.14.0/24 -device e1000e,bus=rp4,netdev=n4 \
                -drive file="$img",format=raw,if=none,id=d0 \
                -device virtio-blk-pci,bus=pcie.0,addr=09.0,drive=d0 \
                -device qemu-xhci,bus=pcie.0,addr=0a.0 || true
}

# remake_image: the guest's disk from boot()'s root, whose locals it sees (also lab_qemu_boot's
# LAB_BEFORE_RETRY)
remake_image() {
        rm -f "$img"
        mke2fs -q -t ext4 -d "$root" -L root "$img" 4G > /dev/null 2>&1
}

# boot NAME ROOT INITRD CMDLINE-EXTRA: boot the guest, leave the report in $LOG/NAME.report
boot() {
        local name=$1 root=$2 initrd=$3 extra=$4 img=$LOG/$1.img
        remake_image
        say "booting $name (serial: $LOG/$name.serial)"
        qemu_boot "$name" "$img" "$initrd" "$extra" "$root"
        rm -f "$img"
        tr -d '\r' < "$LOG/$name.serial" | sed -n 's/^.*@@BOOT //p' > "$LOG/$name.report"
}

# ---------------------------------------------------------------- assertions (TAP)
N=0 FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=1; echo "not ok $N - $*"; }
check() { # DESC CMD...
        local d=$1
        shift
        if "$@"; then ok "$d"; else not_ok "$d"; fi
}
drv() { sed -n "s/^dev $2 [^ ]* driver=\([^ ]*\) .*/\1/p" "$LOG/$1.report"; }
after() { sed -n "s/^after $2 \(driver=[^ ]* override=[^ ]*\) .*/\1/p" "$LOG/$1.report"; }
after_hook() { sed -n "s/^after-hook $2 \(driver=[^ ]* override=[^ ]*\)$/\1/p" "$LOG/$1.report"; }
ovr() { sed -n "s/^dev $2 [^ ]* driver=[^ ]* override=\([^ ]*\) .*/\1/p" "$LOG/$1.report"; }
grp() { sed -n "s/^dev $2 .* group=\([^ ]*\)$/\1/p" "$LOG/$1.report"; }
is() { [ "$1" = "$2" ] || { echo "#   got '$1', expected '$2'"; return 1; }; }
probed() { grep -q "^dmesg .*probing driver $2 with device $3" "$LOG/$1.report"; }
not_probed() { ! probed "$@" || { grep "^dmesg .*probing driver $2 with device $3" "$LOG/$1.report" | sed 's/^/#   /' | head -3; return 1; }; }
in_initramfs() { # NAME: the first override line of the kernel log comes before the root mount
        local a b
        a=$(grep -n '^dmesg .*vfio-claim.*driver_override set to vfio-pci' "$LOG/$1.report" | head -n1 | cut -d: -f1)
        b=$(grep -n '^dmesg .*EXT4-fs (vda): mounted' "$LOG/$1.report" | head -n1 | cut -d: -f1)
        [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || { echo "#   override line $a, root mount line $b"; return 1; }
}
has_files() { # LIST PATTERN...: every pattern matches a line of LIST
        local l=$1 p
        shift
        for p; do grep -q -- "$p" "$l" || { echo "#   missing: $p"; return 1; }; done
}
vfio_node() { grep -q "^vfio .*\b$2\b" "$LOG/$1.report"; }

claimed_boot() { # NAME: the claim scenario's end state
        local n=$1
        check "$n: the guest reported" grep -q '^end' "$LOG/$n.report" || return 0
        check "$n: udev runs vfio-claim-udev before 80-drivers' kmod load" \
                is "$(sed -n 's/^udevrun //p' "$LOG/$n.report" | grep -E "vfio-claim-udev|kmod load" | tr '\n' ' ')" \
                "'vfio-claim-udev' 'kmod load' "
        check "$n: udev runs nothing of vfio-claim for the e1000 NIC 0000:03:01.0 (another model)" \
                is "$(sed -n 's/^udevrun-other //p' "$LOG/$n.report" | grep -c vfio-claim)" 0
        check "$n: udev ran the e1000 NIC's add event all the same (udevadm test worked)" \
                grep -q "^udevrun-other 'kmod load'" "$LOG/$n.report"
        check "$n: the generated rule names the NIC, the display pair and the NIC model" \
                is "$(grep -c -e '^rule KERNEL=="0000:01:00.0"' -e '^rule KERNEL=="0000:00:05.0"' \
                        -e '^rule KERNEL=="0000:00:05.1"' -e '^rule ENV{PCI_ID}=="8086:10D3"' "$LOG/$n.report")" 4
        check "$n: the overrides were set inside the initramfs (before the root was mounted)" \
                in_initramfs "$n"
        check "$n: vfio-claim-early.service ran (active)" is "$(sed -n 's/^early //p' "$LOG/$n.report")" active
        check "$n: claimed e1000e 0000:01:00.0 is on vfio-pci" is "$(drv "$n" 0000:01:00.0)" vfio-pci
        check "$n: its twin 0000:05:00.0 is on e1000e" is "$(drv "$n" 0000:05:00.0)" e1000e
        check "$n: display 0000:00:05.0 is on vfio-pci" is "$(drv "$n" 0000:00:05.0)" vfio-pci
        check "$n: audio 0000:00:05.1 (same group, not configured) is on vfio-pci" is "$(drv "$n" 0000:00:05.1)" vfio-pci
        check "$n: /dev/vfio/N of the NIC's group exists" vfio_node "$n" "$(grp "$n" 0000:01:00.0)"
        check "$n: /dev/vfio/N of the display group exists" vfio_node "$n" "$(grp "$n" 0000:00:05.0)"
        check "$n: the driver core did probe e1000e with the twin (dyndbg works)" probed "$n" e1000e 0000:05:00.0
        check "$n: e1000e never probed 0000:01:00.0" not_probed "$n" e1000e 0000:01:00.0
        check "$n: bochs-drm never probed 0000:00:05.0" not_probed "$n" bochs-drm 0000:00:05.0
        check "$n: snd_hda_intel never probed 0000:00:05.1" not_probed "$n" snd_hda_intel 0000:00:05.1
        check "$n: e1000 keeps its NIC" is "$(drv "$n" 0000:03:01.0)" e1000
        check "$n: 8139cp keeps its NIC" is "$(drv "$n" 0000:03:02.0)" 8139cp
        check "$n: virtio-net keeps its driver" is "$(drv "$n" 0000:04:00.0)" virtio-pci
        check "$n: xhci keeps its driver" is "$(drv "$n" 0000:00:0a.0)" xhci_hcd
        check "$n: a state record for the NIC's group" grep -q "^record group-$(grp "$n" 0000:01:00.0) state claimed" "$LOG/$n.report"
        check "$n: a state record for the display group" grep -q "^record group-$(grp "$n" 0000:00:05.0) state claimed" "$LOG/$n.report"
        check "$n: vfio-claim status lists the NIC's group as claimed at boot" \
                grep -q "^status IOMMU group $(grp "$n" 0000:01:00.0): claimed, no VM, .* by boot pass" "$LOG/$n.report"
        check "$n: the record marks the boot-claimed NIC host=probe" \
                grep -q "^record group-$(grp "$n" 0000:01:00.0) device 0000:01:00.0 driver=none module=none override=none host=probe" "$LOG/$n.report"
        # The libvirt hook for a VM with both groups, run as libvirtd runs it, then the CLI
        check "$n: hook prepare begin for lab-vm succeeded" grep -q "^hook prepare rc=0" "$LOG/$n.report"
        check "$n: hook prepare recorded lab-vm as the owner of both groups" \
                is "$(grep -c '^hook-owner .*:owner lab-vm$' "$LOG/$n.report")" 2
        check "$n: hook release end for lab-vm succeeded" grep -q "^hook release rc=0" "$LOG/$n.report"
        check "$n: snd_hda_intel was unloaded before (its module must come from the modalias)" \
                grep -q "^before-release snd_hda_intel unloaded" "$LOG/$n.report"
        check "$n: at VM stop the boot = yes NIC stays on vfio-pci (boot keeps)" \
                is "$(after_hook "$n" 0000:01:00.0)" "driver=vfio-pci override=vfio-pci"
        check "$n: at VM stop display 0000:00:05.0 (release = host) went to bochs-drm (module bochs)" \
                is "$(after_hook "$n" 0000:00:05.0)" "driver=bochs-drm override=(null)"
        check "$n: at VM stop audio 0000:00:05.1 went to snd_hda_intel, loaded through libkmod" \
                is "$(after_hook "$n" 0000:00:05.1)" "driver=snd_hda_intel override=(null)"
        check "$n: vfio-claim release then gives the NIC to e1000e (the kernel's pick)" \
                is "$(after "$n" 0000:01:00.0)" "driver=e1000e override=(null)"
        check "$n: the NIC has a network interface again" grep -q "^after 0000:01:00.0 .* net=[a-z]" "$LOG/$n.report"
        check "$n: vfio-claim release listed the driver" grep -q "^release 0000:01:00.0 .*0000:01:00.0  now e1000e" "$LOG/$n.report"
        check "$n: no state record is left" is "$(grep -c '^after-record ' "$LOG/$n.report")" 0
}

stale_boot() { # NAME: the twin NIC, claimed by an initramfs older than the configuration
        local n=$1 g
        grep -q '^end' "$LOG/$n.report" || return 0
        g=$(grp "$n" 0000:05:00.0)
        check "$n: the initramfs (older configuration) set the twin 0000:05:00.0's override" \
                grep -q '^dmesg .*0000:05:00.0: driver_override set to vfio-pci (group [0-9]*, \[device twin\])' "$LOG/$n.report"
        check "$n: the early unit's pass gave the twin's group back and said to rebuild the initramfs" \
                grep -Eq "^(dmesg|journal) .*IOMMU group $g: the initramfs claimed it, but no boot = yes entry of the configuration asks for it now: given back to the host; the initramfs has an older copy of the configuration, rebuild it" "$LOG/$n.report"
        check "$n: the twin has no override and no /dev/vfio/$g" \
                sh -c '[ "$1" = "(null)" ] && ! grep -q "^vfio .*\b$2\b" "$3"' _ "$(ovr "$n" 0000:05:00.0)" "$g" "$LOG/$n.report"
}

# critical_boot NAME: the boot = yes id entry that selects the root disk's controller (virtio-blk,
# 1af4:1001, transitional on the root bus) was refused in the initramfs and after it, from the
# host-critical list of the image, and the guest booted from that disk
critical_boot() {
        local n=$1
        check "$n: the guest booted from its root disk, which a boot = yes entry selects" grep -q '^end' "$LOG/$n.report" ||
                return 0
        check "$n: the root disk's controller 0000:00:09.0 is on virtio-pci, without an override" \
                is "$(drv "$n" 0000:00:09.0) $(ovr "$n" 0000:00:09.0)" "virtio-pci (null)"
        check "$n: the initramfs refused it, from the image's list" \
                grep -q '^dmesg .*0000:00:09.0: refused: controller of the root filesystem /dev/vda when the initramfs was built (\[device disks\], group [0-9]*)' "$LOG/$n.report"
        check "$n: the list was carried to /run" \
                grep -q '^hostcrit 0000:00:09.0 1af4:1001 controller of the root filesystem /dev/vda$' "$LOG/$n.report"
        # (there the root is mounted: the running system's scan names it first)
        check "$n: the early unit's pass in the real root refused it too" \
                grep -q '^journal .*vfio-claim-udev\[[0-9]*\]: 0000:00:09.0: refused: controller of the root filesystem /dev/vda' "$LOG/$n.report"
        # every run of the boot meets the refusal again (the initramfs's pass, early unit and
        # event; the real root's early unit and event): each text is logged once a boot
        check "$n: the initramfs logged the refusal once" \
                is "$(grep -c '^dmesg .*0000:00:09.0: refused' "$LOG/$n.report")" 1
        check "$n: the real root logged its own refusal once" \
                is "$(grep -c '^journal .*vfio-claim-udev\[[0-9]*\]: 0000:00:09.0: refused' "$LOG/$n.report")" 1
}

host_boot() { # NAME: nothing claimed
        local n=$1
        check "$n: the guest reported" grep -q '^end' "$LOG/$n.report" || return 0
        check "$n: e1000e 0000:01:00.0 is on e1000e" is "$(drv "$n" 0000:01:00.0)" e1000e
        check "$n: e1000e 0000:05:00.0 is on e1000e" is "$(drv "$n" 0000:05:00.0)" e1000e
        check "$n: display 0000:00:05.0 is on bochs-drm" is "$(drv "$n" 0000:00:05.0)" bochs-drm
        check "$n: audio 0000:00:05.1 is on snd_hda_intel" is "$(drv "$n" 0000:00:05.1)" snd_hda_intel
        check "$n: no override was set" is "$(grep -c '^dev .* override=vfio-pci' "$LOG/$n.report")" 0
        check "$n: no state record" is "$(grep -c '^record ' "$LOG/$n.report")" 0
        check "$n: the helper said why it claimed nothing" \
                grep -Eq '^(dmesg|journal) .*on the kernel command line: no device is claimed at boot' "$LOG/$n.report"
}

# ---------------------------------------------------------------- --measure
DEBUG_UDEV=
if [ "$MEASURE" = 1 ]; then DEBUG_UDEV="udev.log_level=debug rd.udev.log_level=debug printk.devkmsg=on"; fi
measure() { echo "# measure: $*"; echo "$*" >> "$LOG/measure.txt"; }
# initramfs_bytes NAME WITH.list WITHOUT.list WITH.img WITHOUT.img: the listings are `ls -l`
# style (lsinitrd, lsinitramfs -l): size in field 5, path last. Files only in WITH (or larger
# there) are what vfio-claim added; *.ko* among them are the vfio modules.
initramfs_bytes() {
        local name=$1
        awk '
        FNR == 1 { f++ }
        $1 ~ /^-/ { size = $5; path = $NF; if (f == 1) w[path] = size; else wo[path] = size }
        END {
                for (p in w) {
                        d = w[p] - ((p in wo) ? wo[p] : 0)
                        if (d <= 0) continue
                        if (p ~ /\.ko(\.xz|\.zst|\.gz)?$/ || p ~ /\/modules\.[a-z.]+$/) { mods += d; nm++ } else { other += d; no++; list = list " " p }
                }
                printf "%d %d %d %d%s\n", other, no, mods, nm, list
        }' "$2" "$3" > "$LOG/$name.bytes"
        local other no mods nm files
        read -r other no mods nm files < "$LOG/$name.bytes"
        measure "$name initramfs: +$other bytes in $no files beyond the vfio modules (+$mods bytes in $nm modules and module indexes); image $(stat -c %s "$4") bytes compressed, $(stat -c %s "$5") without vfio-claim"
        measure "$name initramfs: the added files:$files"
}
# boot_times NAME: the time vfio-claim's runs took in the boot NAME, from its report
boot_times() {
        local r=$LOG/$1.report
        awk -v name="$1" '
        { match($0, /[0-9]+\.[0-9]+/); t = substr($0, RSTART, RLENGTH) }
        /^dmesg .*Starting vfio-claim-early.service/ { s = t }
        /^dmesg .*Finished vfio-claim-early.service/ { if (s != "") printf "%s: vfio-claim-early.service %.0f ms (Starting to Finished, kernel log, at %.1f s)\n", name, (t - s) * 1000, s; s = "" }
        /^(dmesg|journal) .*boot pass.*boot device.* ms$/ {
                # the same line can be in both (journald reads the kernel log): once, by pid and text
                m = $0; sub(/^[a-z]+ \[ *[0-9.]+\] /, "", m); if (m !~ /^[^ ]*\[/) sub(/^[^ ]+ /, "", m)
                if (!(m in seen)) { seen[m] = 1; printf "%s: at %.1f s, %s\n", name, t, m } }
        ' "$r" | while IFS= read -r l; do measure "$l"; done
        # udevd (debug log): the start and the end of each vfio-claim-udev run, by device
        sed -n 's/^udevlog //p' "$r" | awk -v name="$1" '
        { match($0, /[0-9]+\.[0-9]+/); t = substr($0, RSTART, RLENGTH)
          dev = $0; sub(/^.*\]: /, "", dev); sub(/: .*/, "", dev) }
        /Starting .*vfio-claim-udev/ { st[dev] = t; next }
        /Process .*vfio-claim-udev.* (succeeded|failed)/ { if (dev in st) { n++; sum += t - st[dev]; if (t - st[dev] > max) max = t - st[dev]; delete st[dev] } }
        END { if (n) printf "%s: vfio-claim-udev ran %d times from udev rules, %.1f ms in all, %.1f ms at most (udevd debug log)\n", name, n, sum * 1000, max * 1000
              else printf "%s: no vfio-claim-udev run found in udevd debug log\n", name }
        ' | while IFS= read -r l; do measure "$l"; done
}

# How the images are made. CI (no --measure) builds them for what they hold, not for their size:
# dracut's gzip took 42 of the 58 s of a build here, and the guest's kernel then spent about 7 s
# of emulated CPU inflating it; initramfs-tools' MODULES=most copies every storage and network
# driver (131 s a build, 12 s with the list below). --measure, which reports the bytes
# vfio-claim adds, keeps each tool's Debian defaults.
DRACUT_PACK=(--no-compress)
ITOOLS_MODULES=list
if [ "$MEASURE" = 1 ]; then DRACUT_PACK=(); ITOOLS_MODULES=most; fi

say "log directory: $LOG"
# ---------------------------------------------------------------- dracut
if [ -z "$ONLY" ] || [ "$ONLY" = dracut ] || [ "$ONLY" = rescue ]; then
        W=$LOG/root-dracut
        work_root "$W"
        # An id entry that selects the guest's root disk's controller, as one over twin NVMe
        # drives does. The module writes the host-critical devices of the system it runs on into
        # the image: in this chroot, the build machine's, which the guest has not (without more,
        # the guest's initramfs takes its root disk and waits for /dev/vda for ever: seen). What
        # the guest's own dracut would add, its root disk, a lab module (99, after the package's
        # 90) appends, and the image carries both.
        printf '[device disks]\nmatch = 1af4:1001\nboot = yes\n' > "$W/etc/vfio-claim/conf.d/disks.conf"
        mkdir -p "$W/usr/lib/dracut/modules.d/99lab-critical"
        printf '#!/bin/bash\ncheck() { return 0; }\ndepends() { echo vfio-claim; }\ninstall() {\n    echo "%s" >> "$initdir/etc/vfio-claim/host-critical"\n}\n' \
                "0000:00:09.0 1af4:1001 controller of the root filesystem /dev/vda" \
                > "$W/usr/lib/dracut/modules.d/99lab-critical/module-setup.sh"
        say "dracut --force-drivers 'e1000e bochs' (no-hostonly), the lab's host-critical line added"
        if in_chroot "$W" dracut --force --no-hostonly --force-drivers "e1000e bochs" "${DRACUT_PACK[@]}" \
                --add lab-critical --kver "$KVER" "/boot/initrd-dracut-$KVER" > "$LOG/dracut.log" 2>&1; then
                rm -r "$W/usr/lib/dracut/modules.d/99lab-critical"
                in_chroot "$W" lsinitrd -f etc/vfio-claim/host-critical "/boot/initrd-dracut-$KVER" > "$LOG/dracut.host-critical" 2>&1 || true
                say "the image's host-critical list: $(tr '\n' ';' < "$LOG/dracut.host-critical")"
                check "dracut: the image's host-critical list has the guest's root disk" \
                        grep -qx '0000:00:09.0 1af4:1001 controller of the root filesystem /dev/vda' "$LOG/dracut.host-critical"
                ok "dracut built the initramfs"
                in_chroot "$W" lsinitrd "/boot/initrd-dracut-$KVER" > "$LOG/dracut.lsinitrd" 2>&1 || true
                check "dracut: the initramfs has vfio-claim-udev, the rule, the config, the hook and vfio-pci" \
                        has_files "$LOG/dracut.lsinitrd" 'udev/vfio-claim-udev$' 'rules.d/70-vfio-claim.rules$' \
                        'etc/vfio-claim/vfio-claim.conf$' 'hooks/cmdline/00-vfio-claim-pass.sh$' 'vfio-pci.ko' \
                        'vfio-claim-early.service$' 'etc/vfio-claim/host-critical$'
                cp "$W/boot/initrd-dracut-$KVER" "$LOG/initrd-dracut"
                if [ "$MEASURE" = 1 ]; then
                        in_chroot "$W" dracut --force --no-hostonly --force-drivers "e1000e bochs" --omit vfio-claim \
                                --kver "$KVER" "/boot/initrd-dracut-omit-$KVER" > "$LOG/dracut-omit.log" 2>&1 &&
                        in_chroot "$W" lsinitrd "/boot/initrd-dracut-omit-$KVER" > "$LOG/dracut-omit.lsinitrd" 2>&1 &&
                        initramfs_bytes dracut "$LOG/dracut.lsinitrd" "$LOG/dracut-omit.lsinitrd" \
                                "$W/boot/initrd-dracut-$KVER" "$W/boot/initrd-dracut-omit-$KVER" ||
                                measure "dracut initramfs: the image without vfio-claim failed ($LOG/dracut-omit.log)"
                fi
                if [ -z "$ONLY" ] || [ "$ONLY" = dracut ]; then
                        boot dracut "$W" "$LOG/initrd-dracut" "$DEBUG_UDEV"
                        claimed_boot dracut
                        critical_boot dracut
                        if [ "$MEASURE" = 1 ]; then boot_times dracut; fi
                fi
                if [ -z "$ONLY" ] || [ "$ONLY" = rescue ]; then
                        boot rescue "$W" "$LOG/initrd-dracut" "rd.vfio_claim=0"
                        host_boot rescue
                fi
                # the images below carry the module's own list, not the guest's: no disks entry
                rm "$W/etc/vfio-claim/conf.d/disks.conf"
                # dracut's own shell init (no systemd in the initramfs): the cmdline hook 00
                # and the udev rule do the work there, not the early unit
                if [ -z "$ONLY" ] || [ "$ONLY" = dracut ]; then
                        say "dracut without systemd in the initramfs"
                        # This initramfs is built with one boot = yes entry more than the real
                        # root keeps (the twin NIC): an initramfs older than the configuration.
                        # The early unit's pass in the real root gives the twin back.
                        mkdir -p "$W/etc/vfio-claim/conf.d"
                        printf '[device twin]\nmatch = 0000:05:00.0\nboot = yes\n' > "$W/etc/vfio-claim/conf.d/stale.conf"
                        if in_chroot "$W" dracut --force --no-hostonly --force-drivers "e1000e bochs" "${DRACUT_PACK[@]}" \
                                --omit "systemd systemd-initrd systemd-networkd dracut-systemd" \
                                --kver "$KVER" "/boot/initrd-dracut-sh-$KVER" > "$LOG/dracut-sh.log" 2>&1; then
                                rm "$W/etc/vfio-claim/conf.d/stale.conf"
                                in_chroot "$W" lsinitrd "/boot/initrd-dracut-sh-$KVER" > "$LOG/dracut-sh.lsinitrd" 2>&1 || true
                                check "dracut-sh: no systemd in the initramfs, the cmdline hook is there" \
                                        has_files "$LOG/dracut-sh.lsinitrd" 'hooks/cmdline/00-vfio-claim-pass.sh$' 'udev/vfio-claim-udev$'
                                check "dracut-sh: really without systemd" sh -c '! grep -q "usr/lib/systemd/systemd$" "$1"' _ "$LOG/dracut-sh.lsinitrd"
                                cp "$W/boot/initrd-dracut-sh-$KVER" "$LOG/initrd-dracut-sh"
                                # the rescue switch given and taken back: the last occurrence
                                # wins for the cmdline hook, the udev rule and the early unit alike
                                boot dracut-sh "$W" "$LOG/initrd-dracut-sh" "rd.vfio_claim=0 rd.vfio_claim=1 $DEBUG_UDEV"
                                claimed_boot dracut-sh
                                stale_boot dracut-sh
                                if [ "$MEASURE" = 1 ]; then boot_times dracut-sh; fi
                        else
                                not_ok "dracut without systemd built the initramfs ($LOG/dracut-sh.log)"
                        fi
                fi
        else
                not_ok "dracut built the initramfs ($LOG/dracut.log)"
        fi
        rm -rf "$W"
fi

# ---------------------------------------------------------------- initramfs-tools
if [ -z "$ONLY" ] || [ "$ONLY" = initramfs-tools ]; then
        W=$LOG/root-itools
        work_root "$W"
        cp /etc/resolv.conf "$W/etc/resolv.conf"
        # dracut's force_drivers, the initramfs-tools way: loaded by /init after init-top
        mkdir -p "$W/etc/initramfs-tools/conf.d"
        printf 'e1000e\nbochs\n' >> "$W/etc/initramfs-tools/modules"
        # The root disk's controller selected by a boot = yes id entry, as in the dracut boot; the
        # guest's own line in the image's host-critical list comes from a local hook that runs
        # after the package's (PREREQ), as the lab module does for dracut
        printf '[device disks]\nmatch = 1af4:1001\nboot = yes\n' > "$W/etc/vfio-claim/conf.d/disks.conf"
        mkdir -p "$W/etc/initramfs-tools/hooks"
        printf '#!/bin/sh\nPREREQ="vfio-claim"\ncase $1 in prereqs) echo "$PREREQ"; exit 0;; esac\n[ -d "$DESTDIR/etc/vfio-claim" ] || exit 0\necho "%s" >> "$DESTDIR/etc/vfio-claim/host-critical"\n' \
                "0000:00:09.0 1af4:1001 controller of the root filesystem /dev/vda" > "$W/etc/initramfs-tools/hooks/lab-critical"
        chmod +x "$W/etc/initramfs-tools/hooks/lab-critical"
        if [ "$ITOOLS_MODULES" = list ]; then
                # with MODULES=list, what the guest needs to mount its root is listed too
                printf 'virtio_pci\nvirtio_blk\next4\n' >> "$W/etc/initramfs-tools/modules"
                echo "MODULES=list" > "$W/etc/initramfs-tools/conf.d/lab-modules"
        fi
        say "initramfs-tools (replaces dracut in the guest root), e1000e and bochs in its modules list, MODULES=$ITOOLS_MODULES"
        # The package's trigger may build the image already (it did in CI, not in a root made by
        # hand); update-initramfs -c then only when it did not, not a second build of the same.
        if in_chroot "$W" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold initramfs-tools &&
                        { [ -e /boot/initrd.img-'"$KVER"' ] || update-initramfs -c -k '"$KVER"'; }' > "$LOG/initramfs-tools.log" 2>&1; then
                ok "update-initramfs built the initramfs"
                in_chroot "$W" lsinitramfs "/boot/initrd.img-$KVER" > "$LOG/itools.lsinitramfs" 2>&1 || true
                check "initramfs-tools: the image has vfio-claim-udev, the rule, the config, init-top and vfio-pci" \
                        has_files "$LOG/itools.lsinitramfs" 'udev/vfio-claim-udev$' 'rules.d/70-vfio-claim.rules$' \
                        'etc/vfio-claim/vfio-claim.conf$' 'scripts/init-top/00-vfio-claim$' 'vfio-pci.ko' \
                        'etc/vfio-claim/host-critical$'
                cp "$W/boot/initrd.img-$KVER" "$LOG/initrd-itools"
                if [ "$MEASURE" = 1 ]; then
                        # initramfs-tools has no --omit: the package's hook and init-top script
                        # are set aside for one mkinitramfs
                        in_chroot "$W" lsinitramfs -l "/boot/initrd.img-$KVER" > "$LOG/itools.lsinitramfs-l" 2>&1 || true
                        mkdir -p "$W/tmp/aside"
                        hookf=
                        for f in $(chroot "$W" dpkg -L vfio-claim | grep -E '^/usr/share/initramfs-tools/(hooks|scripts)/.+'); do
                                [ -f "$W$f" ] && [ ! -L "$W$f" ] && hookf="$hookf $f"
                        done
                        for f in $hookf; do mv "$W$f" "$W/tmp/aside/$(echo "$f" | tr / _)"; done
                        in_chroot "$W" mkinitramfs -o "/boot/initrd-without-$KVER" "$KVER" > "$LOG/itools-without.log" 2>&1 &&
                        in_chroot "$W" lsinitramfs -l "/boot/initrd-without-$KVER" > "$LOG/itools-without.lsinitramfs-l" 2>&1 &&
                        initramfs_bytes initramfs-tools "$LOG/itools.lsinitramfs-l" "$LOG/itools-without.lsinitramfs-l" \
                                "$W/boot/initrd.img-$KVER" "$W/boot/initrd-without-$KVER" ||
                                measure "initramfs-tools initramfs: the image without vfio-claim failed ($LOG/itools-without.log)"
                        for f in $hookf; do mv "$W/tmp/aside/$(echo "$f" | tr / _)" "$W$f"; done
                fi
                # the rescue switch given and taken back (the last occurrence wins)
                boot itools "$W" "$LOG/initrd-itools" "vfio_claim=0 vfio_claim=1 $DEBUG_UDEV"
                claimed_boot itools
                critical_boot itools
                if [ "$MEASURE" = 1 ]; then boot_times itools; fi
                boot itools-rescue "$W" "$LOG/initrd-itools" "vfio_claim=0"
                host_boot itools-rescue
        else
                not_ok "update-initramfs built the initramfs ($LOG/initramfs-tools.log)"
        fi
        rm -rf "$W"
fi

echo "1..$N"
[ $FAILED = 0 ] || { echo "# logs: $LOG"; exit 1; }
rm -rf "$LOG"/initrd-*
