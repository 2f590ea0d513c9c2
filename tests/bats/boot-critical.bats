#!/usr/bin/env bats
# At boot the host-critical scan sees nothing yet: in the initramfs the real root is not mounted,
# and in the real root, before udev's coldplug, neither /boot nor swap nor the default route is
# there. A boot = yes entry that selects the root disk's controller (an id match over twin NVMe
# drives) would take it in the initramfs, and the boot would stop there. So the initramfs
# generators put into the image the host-critical devices of the system they run on
# (vfio-claim-udev --host-critical), the boot pass in the initramfs carries that list to /run,
# and every boot claim of that boot refuses what it names, as protect refuses a live one. What a
# real kernel does with it: tests/vm (boot).

bats_require_minimum_version 1.5.0
load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"
DISK=0000:02:00.0 # Samsung NVMe 144d:a80a, group 4
GPU=0000:01:00.0

# boot_root: gpu-audio as the initramfs finds it: the NVMe disk bound to no driver yet
boot_root() {
        ROOT="$BATS_TEST_TMPDIR/root"
        rm -rf "$ROOT"
        sed '/^dev 0000:02:00.0 /s/ driver=nvme//' "$abs_top_srcdir/tests/fixtures/gpu-audio.topo" > "$BATS_TEST_TMPDIR/boot.topo"
        "$FK_MKTREE" "$BATS_TEST_TMPDIR/boot.topo" "$ROOT" > /dev/null
        FAKEKERNEL_ROOT=$ROOT CONF="$ROOT${VC_SYSCONFDIR:-/etc}/vfio-claim" STATE="$ROOT${VC_RUNSTATEDIR:-/run}/vfio-claim"
        export ROOT FAKEKERNEL_ROOT CONF STATE
        mkdir -p "$CONF" "$ROOT/etc"
}

# root_on_disk: / is mounted from the NVMe disk's second partition, as /proc and sysfs show it
root_on_disk() {
        local blk
        blk=$(readlink -f "$ROOT/sys/bus/pci/devices/$DISK")/nvme/nvme0/nvme0n1
        mkdir -p "$blk/nvme0n1p2" "$ROOT/sys/dev/block" "$ROOT/proc/self"
        echo 2 > "$blk/nvme0n1p2/partition"
        ln -sr "$blk/nvme0n1p2" "$ROOT/sys/dev/block/259:2"
        echo "26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw" > "$ROOT/proc/self/mountinfo"
}

pass() {
        # shellcheck disable=SC2086
        fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER" --all
}

event() {
        # shellcheck disable=SC2086
        fk env ACTION=add SUBSYSTEM=pci DEVPATH="/devices/pci0000:00/$1" PCI_SLOT_NAME="$1" PCI_ID="$2" \
                FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER"
}

LIST_LINE="$DISK 144d:a80a controller of the root filesystem /dev/nvme0n1p2"

@test "--host-critical prints what this system needs, one line each, without the console's VGA" {
        fake_root gpu-audio
        run fk env FAKEKERNEL_HOST=1 "$UDEV_HELPER" --host-critical
        assert_success
        assert_output ""
        root_on_disk
        default_route_nic 0000:00:17.0 # not a NIC, but what the route table names is what counts
        run --separate-stderr fk env FAKEKERNEL_HOST=1 "$UDEV_HELPER" --host-critical
        assert_success
        assert_output "$LIST_LINE
0000:00:17.0 8086:7ae2 NIC of the default route (eth0)"
        assert_equal "$stderr" ""
}

@test "the initramfs refuses the root disk's controller its image's list names; without the list it would take it" {
        boot_root
        printf '[device disks]\nmatch = 144d:a80a\nboot = yes\n' > "$CONF/vfio-claim.conf"
        : > "$ROOT/etc/initrd-release"
        # without the list, what the initramfs sees: nothing is mounted, the disk is free to take
        run pass
        assert_success
        assert_equal "$(fk_driver $DISK) $(fk_override $DISK)" "vfio-pci vfio-pci"
        # the image as the initramfs generators build it now: the list of the system it was built on
        boot_root
        printf '[device disks]\nmatch = 144d:a80a\nboot = yes\n' > "$CONF/vfio-claim.conf"
        : > "$ROOT/etc/initrd-release"
        echo "$LIST_LINE" > "$CONF/host-critical"
        run pass
        assert_success
        assert_output --partial "$DISK"
        assert_output --partial "controller of the root filesystem /dev/nvme0n1p2 when the initramfs was built"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver $DISK)$(fk_override $DISK)" ""
        [ ! -e "$STATE/group-4" ]
        assert_equal "$(cat "$STATE/host-critical")" "$LIST_LINE"
        # the switch to the real root: the list stays in /run, the image's copy does not come along;
        # its add event, before anything is mounted there either, is refused too, and the
        # refusal, logged once this boot already, is not logged again
        rm "$ROOT/etc/initrd-release" "$CONF/host-critical"
        run event $DISK 144D:A80A
        assert_success
        assert_output ""
        assert_equal "$(fk_writes)" 0
        grep -q "when the initramfs was built" "$STATE/boot-failed-4"
        # with the mark gone (another boot's first run), it is said again
        rm "$STATE/boot-failed-4"
        run event $DISK 144D:A80A
        assert_success
        assert_output --partial "controller of the root filesystem /dev/nvme0n1p2 when the initramfs was built"
        assert_equal "$(fk_writes)" 0
        run pass
        assert_success
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_override $DISK)" ""
}

@test "the image's list: a line that is not an address and a reason is left out and named; protect = no goes on" {
        boot_root
        printf '[device disks]\nmatch = 144d:a80a\nboot = yes\n' > "$CONF/vfio-claim.conf"
        : > "$ROOT/etc/initrd-release"
        printf '%s\n0000:02:00 144d:a80a no function\n../../x escape\n0000:00:17.0 8086:7AE2 upper case\n' "$LIST_LINE" \
                > "$CONF/host-critical"
        run pass
        assert_success
        assert_output --partial "${VC_SYSCONFDIR:-/etc}/vfio-claim/host-critical:2: not a PCI address, an id and a reason: line ignored"
        assert_equal "$(cat "$STATE/host-critical")" "$LIST_LINE"
        assert_equal "$(fk_driver $DISK)" ""
        # [global] protect = no: the admin's word, at boot as on the command line
        printf '[global]\nprotect = no\n\n[device disks]\nmatch = 144d:a80a\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run pass
        assert_success
        assert_equal "$(fk_driver $DISK)" vfio-pci
}

# An image built in another machine's chroot (an image builder) lists that machine's devices: a
# line counts only where its address holds a device of its id.
@test "the image's list: a line whose address holds a device of another id does not count" {
        boot_root
        printf '[device disks]\nmatch = 144d:a80a\nboot = yes\n' > "$CONF/vfio-claim.conf"
        : > "$ROOT/etc/initrd-release"
        echo "$DISK 1af4:1001 controller of the root filesystem /dev/vda1" > "$CONF/host-critical"
        run pass
        assert_success
        refute_output --partial "when the initramfs was built"
        assert_equal "$(fk_driver $DISK)" vfio-pci
}

@test "a CLI command does not read the boot's list: the running system's scan decides" {
        boot_root
        printf '[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        mkdir -p "$STATE"
        echo "$GPU 10de:2204 controller of the root filesystem /dev/sda1" > "$STATE/host-critical"
        run vc enable gpu
        assert_success
        assert_equal "$(fk_driver $GPU)" vfio-pci
}

# A disk a process holds open refuses the CLI (claim.bats), but not a boot claim: no VM runs yet,
# and at coldplug pvscan, blkid or udisks open every disk for a moment.
@test "a boot claim in the real root does not stop at a disk a process holds open for a moment" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device disks]\nmatch = 144d:a80a\nboot = yes\n' > "$CONF/vfio-claim.conf"
        blk=$(readlink -f "$ROOT/sys/bus/pci/devices/$DISK")/nvme/nvme0/nvme0n1
        mkdir -p "$blk" "$ROOT/sys/class/block"
        ln -sr "$blk" "$ROOT/sys/class/block/nvme0n1"
        holder 4300 pvscan /dev/nvme0n1
        run --separate-stderr vc --dry-run enable $DISK
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: $DISK: /dev/nvme0n1 is open by pvscan (pid 4300); stop them first"
        run --separate-stderr event "$DISK" 144D:A80A
        assert_success
        assert_equal "$(fk_driver $DISK) $(fk_override $DISK)" "vfio-pci vfio-pci"
}

# Twin NVMe drives, / on the first, /home on the second (in /etc/fstab, by UUID), a third for a VM:
# an id match with boot = yes is meant for the third. /home is only "in use" for the live scan,
# which a mount that may be gone by the next boot is; but the boot mounts it from /etc/fstab, so
# the image's list names its controller, and the initramfs leaves it to the host.
@test "the image's list names the controllers of what /etc/fstab mounts at boot: the /home drive stays the host's" {
        ROOT="$BATS_TEST_TMPDIR/root"
        rm -rf "$ROOT"
        cat > "$BATS_TEST_TMPDIR/twins.topo" <<'T'
iommu intel
driver pcieport builtin
driver nvme ids=144d:a80a
driver vfio-pci unloaded
dev 0000:00:1c.0 class=0x060400 id=8086:7ab8 subsys=1458:5001 rev=0x11 group=3 driver=pcieport
dev 0000:02:00.0 class=0x010802 id=144d:a80a subsys=144d:a801 group=4 parent=0000:00:1c.0 driver=nvme reset_method=flr,bus
dev 0000:00:1c.4 class=0x060400 id=8086:7abc subsys=1458:5001 rev=0x11 group=5 driver=pcieport
dev 0000:03:00.0 class=0x010802 id=144d:a80a subsys=144d:a801 group=6 parent=0000:00:1c.4 driver=nvme reset_method=flr,bus
dev 0000:00:1c.5 class=0x060400 id=8086:7abd subsys=1458:5001 rev=0x11 group=7 driver=pcieport
dev 0000:04:00.0 class=0x010802 id=144d:a80a subsys=144d:a801 group=8 parent=0000:00:1c.5 driver=nvme reset_method=flr,bus
T
        "$FK_MKTREE" "$BATS_TEST_TMPDIR/twins.topo" "$ROOT" > /dev/null
        FAKEKERNEL_ROOT=$ROOT CONF="$ROOT${VC_SYSCONFDIR:-/etc}/vfio-claim" STATE="$ROOT${VC_RUNSTATEDIR:-/run}/vfio-claim"
        export ROOT FAKEKERNEL_ROOT CONF STATE
        mkdir -p "$CONF" "$ROOT/sys/dev/block" "$ROOT/sys/class/block" "$ROOT/proc/self" "$ROOT/dev/disk/by-uuid"
        local n=0 a blk
        for a in 0000:02:00.0 0000:03:00.0; do
                blk=$(readlink -f "$ROOT/sys/bus/pci/devices/$a")/nvme/nvme$n/nvme${n}n1
                mkdir -p "$blk/nvme${n}n1p1"
                echo 1 > "$blk/nvme${n}n1p1/partition"
                ln -sr "$blk/nvme${n}n1p1" "$ROOT/sys/dev/block/259:$n"
                ln -sr "$blk/nvme${n}n1p1" "$ROOT/sys/class/block/nvme${n}n1p1"
                : > "$ROOT/dev/nvme${n}n1p1"
                n=$((n + 1))
        done
        ln -s ../../nvme1n1p1 "$ROOT/dev/disk/by-uuid/0f3c9c1e-1111-4a4a-8b8b-222222222222"
        printf '%s\n' "26 1 259:0 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw" \
                "27 26 259:1 / /home rw,relatime shared:2 - ext4 /dev/nvme1n1p1 rw" > "$ROOT/proc/self/mountinfo"
        mkdir -p "$ROOT/etc" # /etc/fstab, whatever the build's sysconfdir
        printf '%s\n' "/dev/nvme0n1p1 / ext4 errors=remount-ro 0 1" \
                "UUID=0f3c9c1e-1111-4a4a-8b8b-222222222222 /home ext4 defaults 0 2" > "$ROOT/etc/fstab"
        run --separate-stderr fk env FAKEKERNEL_HOST=1 "$UDEV_HELPER" --host-critical
        assert_success
        assert_output "0000:02:00.0 144d:a80a controller of the root filesystem /dev/nvme0n1p1
0000:03:00.0 144d:a80a controller of /dev/nvme1n1p1, mounted at /home at boot (/etc/fstab)"
        assert_equal "$stderr" ""
        # the image with that list; at boot nothing is mounted and nvme is not loaded yet
        fk env FAKEKERNEL_HOST=1 "$UDEV_HELPER" --host-critical > "$CONF/host-critical"
        printf '[device vmdisk]\nmatch = 144d:a80a\nboot = yes\n' > "$CONF/vfio-claim.conf"
        : > "$ROOT/etc/initrd-release"
        : > "$ROOT/proc/self/mountinfo"
        for a in 0000:02:00.0 0000:03:00.0 0000:04:00.0; do
                fk_sh "printf $a > $ROOT/sys/bus/pci/drivers/nvme/unbind"
        done
        run pass
        assert_success
        assert_output --partial "0000:03:00.0: refused: controller of /dev/nvme1n1p1, mounted at /home at boot (/etc/fstab) when the initramfs was built"
        assert_equal "$(fk_driver 0000:02:00.0)$(fk_override 0000:02:00.0)" ""
        assert_equal "$(fk_driver 0000:03:00.0)$(fk_override 0000:03:00.0)" ""
        assert_equal "$(fk_driver 0000:04:00.0)" vfio-pci
}
