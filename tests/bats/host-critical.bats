#!/usr/bin/env bats
# Hosts whose critical devices the host-critical scan (lib/critical.c) must find through less
# common paths: a default route over PPPoE or a VPN tunnel, / on NFS through a storage NIC or on a
# loop device's file, a btrfs root mounted by a /dev/disk/by-* link, an admin on a VT with
# console=ttyS0, the PF of a VF that carries the default route, and proc files that cannot be
# read (the scan fails rather than see nothing). Each was found by a review and claimed without
# --force before its fix.

bats_require_minimum_version 1.5.0
load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"

# review_root: a host with two NICs (eth0 0000:01:00.0 group 3, eth1 0000:02:00.0 group 5), an NVMe
# disk 0000:03:00.0 (group 7) and the Intel iGPU 0000:00:02.0 as boot VGA (group 0).
review_root() {
        ROOT="$BATS_TEST_TMPDIR/root"
        rm -rf "$ROOT"
        cat > "$BATS_TEST_TMPDIR/review.topo" <<'EOF'
iommu intel
driver pcieport builtin
driver i915 ids=8086:4680
driver e1000e ids=8086:10d3
driver nvme ids=144d:a80a
driver vfio-pci unloaded
dev 0000:00:02.0 class=0x030000 id=8086:4680 subsys=1458:d000 group=0 driver=i915 boot_vga=1 reset_method=flr bar0=0x6000000000:0x1000000
dev 0000:00:1c.0 class=0x060400 id=8086:a114 group=2 driver=pcieport
dev 0000:01:00.0 class=0x020000 id=8086:10d3 group=3 parent=0000:00:1c.0 driver=e1000e reset_method=flr,bus bar0=0xf7c00000:0x20000
dev 0000:00:1c.1 class=0x060400 id=8086:a115 group=4 driver=pcieport
dev 0000:02:00.0 class=0x020000 id=8086:10d3 group=5 parent=0000:00:1c.1 driver=e1000e reset_method=flr,bus bar0=0xf7a00000:0x20000
dev 0000:00:1d.0 class=0x060400 id=8086:a118 group=6 driver=pcieport
dev 0000:03:00.0 class=0x010802 id=144d:a80a group=7 parent=0000:00:1d.0 driver=nvme reset_method=flr,bus bar0=0xa4200000:0x4000
EOF
        "$FK_MKTREE" "$BATS_TEST_TMPDIR/review.topo" "$ROOT" > /dev/null || return 1
        FAKEKERNEL_ROOT=$ROOT CONF="$ROOT${VC_SYSCONFDIR:-/etc}/vfio-claim" STATE="$ROOT${VC_RUNSTATEDIR:-/run}/vfio-claim"
        export ROOT FAKEKERNEL_ROOT CONF STATE
        mkdir -p "$ROOT/proc/self" "$ROOT/proc/net" "$ROOT/sys/class/net" "$ROOT/sys/dev/block" "$ROOT/sys/class/block"
        : > "$ROOT/proc/self/mountinfo"
}

# nic NAME ADDR: the interface NAME of the PCI device ADDR, as sysfs shows it
nic() {
        local dir
        dir=$(readlink -f "$ROOT/sys/bus/pci/devices/$2")/net/$1
        mkdir -p "$dir"
        ln -sr "$(readlink -f "$ROOT/sys/bus/pci/devices/$2")" "$dir/device"
        ln -sr "$dir" "$ROOT/sys/class/net/$1"
}

# virt NAME: a virtual interface (no device, no lower_ link: ppp, tun, wireguard, vxlan, gre...)
virt() {
        mkdir -p "$ROOT/sys/devices/virtual/net/$1"
        ln -sr "$ROOT/sys/devices/virtual/net/$1" "$ROOT/sys/class/net/$1"
}

ROUTE_HDR=$'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT'

# disk NAME MAJ:MIN [PART]: the NVMe namespace nvme0n1 (or its partition PART) of 0000:03:00.0
nvme_block() {
        local blk
        blk=$(readlink -f "$ROOT/sys/bus/pci/devices/0000:03:00.0")/nvme/nvme0/nvme0n1
        mkdir -p "$blk/$1"
        echo "${1##*p}" > "$blk/$1/partition"
        echo "$2" > "$blk/$1/dev"
        ln -sr "$blk/$1" "$ROOT/sys/dev/block/$2"
        ln -sr "$blk/$1" "$ROOT/sys/class/block/$1"
}

# ---------------------------------------------------------------------------------------------
# the default route's interface has neither a device nor lower_ links (PPPoE's ppp0 on eth1,
# an OpenVPN/WireGuard full tunnel whose server is reached through eth1): the NIC that carries
# every packet of the default route is not protected.
@test "default route over PPPoE (ppp0 on eth1): eth1's NIC is refused" {
        review_root
        nic eth1 0000:02:00.0
        virt ppp0
        printf '%s\nppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n' "$ROUTE_HDR" > "$ROOT/proc/net/route"
        # /proc/net/pppoe as Linux prints it (drivers/net/ppp/pppoe.c, pppoe_seq_show)
        printf 'Id       Address              Device\n00000A00 00:11:22:33:44:55     eth1\n' > "$ROOT/proc/net/pppoe"
        run vc enable 0000:02:00.0
        assert_failure 4
        assert_output --partial "refused: NIC of the default route's PPPoE link (ppp0 over eth1)"
}

@test "default route through a full tunnel (tun0), the VPN server's host route via eth1: eth1's NIC is refused" {
        review_root
        nic eth1 0000:02:00.0
        virt tun0
        # default dev tun0; 198.51.100.7/32 via 192.168.1.1 dev eth1 (openvpn redirect-gateway, wg-quick Table=off)
        printf '%s\ntun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\neth1\t076433C6\t0101A8C0\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0\neth1\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' \
                "$ROUTE_HDR" > "$ROOT/proc/net/route"
        run vc enable 0000:02:00.0
        assert_failure 4
        assert_output --partial "refused: NIC of a route with a gateway (eth1), which the default route through tun0 may ride"
}

# root on NFS (or iSCSI / NVMe-over-TCP) through a storage NIC that is not the default
# route's: the root file system's transport is not protected.
@test "root on NFS through eth1 (storage subnet), default route on eth0: eth1's NIC is refused" {
        review_root
        nic eth0 0000:01:00.0
        nic eth1 0000:02:00.0
        printf '%s\neth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\neth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\neth1\t0000010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' \
                "$ROUTE_HDR" > "$ROOT/proc/net/route"
        echo "20 1 0:22 / / rw,relatime shared:1 - nfs4 10.1.0.5:/srv/roots/host1 rw,vers=4.2,addr=10.1.0.5,clientaddr=10.1.0.20" \
                > "$ROOT/proc/self/mountinfo"
        run vc enable 0000:01:00.0
        assert_failure 4 # the default route: found
        run vc enable 0000:02:00.0
        assert_failure 4 # the NIC the root file system lives behind
        assert_output --partial "refused: NIC of the root filesystem's server (10.1.0.5, through eth1)"
}

# console=ttyS0 on the kernel command line (tty/console/active lists ttyS0 only), yet fbcon
# is bound and getty@tty1 shows on the boot VGA: an admin logged in on tty1 runs the CLI there, and
# the GPU that shows the very terminal the command runs on is not protected.
@test "admin on tty1 with console=ttyS0: the boot VGA showing tty1 (fbcon bound) is refused" {
        review_root
        mkdir -p "$ROOT/sys/class/vtconsole/vtcon1" "$ROOT/sys/class/tty/console"
        echo 1 > "$ROOT/sys/class/vtconsole/vtcon1/bind"
        echo '(M) frame buffer device' > "$ROOT/sys/class/vtconsole/vtcon1/name"
        echo ttyS0 > "$ROOT/sys/class/tty/console/active"
        session_on_tty 1025 # tty1
        # control: with tty0 among the kernel's consoles, the boot VGA is refused
        echo "tty0 ttyS0" > "$ROOT/sys/class/tty/console/active"
        run vc enable 0000:00:02.0
        assert_failure 4
        assert_output --partial "refused: boot VGA driving the active console"
        # console=ttyS0 alone: tty1 still shows on the boot VGA through fbcon
        echo ttyS0 > "$ROOT/sys/class/tty/console/active"
        run vc enable 0000:00:02.0
        assert_failure 4
}

# root on a loop device backed by a file (Ubuntu's lupin/wubi "root=loop", live-boot
# persistence): the disk that holds the image file is what / lives on. The CLI refuses it only as
# a mount "use"; the boot list (vfio-claim-udev --host-critical, which leaves uses out) does not
# name it, so a boot = yes id-match claim in the initramfs takes the root's disk.
@test "root on loop0 backed by a file on nvme0n1p1: --host-critical lists the NVMe" {
        review_root
        nvme_block nvme0n1p1 259:1
        mkdir -p "$ROOT/sys/devices/virtual/block/loop0/loop"
        echo /host/ubuntu/disks/root.disk > "$ROOT/sys/devices/virtual/block/loop0/loop/backing_file"
        echo 7:0 > "$ROOT/sys/devices/virtual/block/loop0/dev"
        ln -sr "$ROOT/sys/devices/virtual/block/loop0" "$ROOT/sys/dev/block/7:0"
        ln -sr "$ROOT/sys/devices/virtual/block/loop0" "$ROOT/sys/class/block/loop0"
        printf '%s\n' "20 1 7:0 / / rw,relatime shared:1 - ext4 /dev/loop0 rw" \
                "21 20 259:1 / /host rw,relatime shared:2 - ntfs3 /dev/nvme0n1p1 rw" > "$ROOT/proc/self/mountinfo"
        run --separate-stderr fk env FAKEKERNEL_HOST=1 "$UDEV_HELPER" --host-critical
        assert_success
        assert_output --partial "0000:03:00.0 144d:a80a"
}

# the scan fails open: /proc/self/mountinfo that cannot be opened or read counts as "nothing
# mounted" (open_proc(): any open error but ENOMEM is "absent", and getline()'s error is taken
# for the end of the file). Here the root is on the NVMe disk and mountinfo cannot be read.
@test "/proc/self/mountinfo unreadable: the claim of the root disk fails, not goes on" {
        review_root
        nvme_block nvme0n1p2 259:2
        echo "26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw" > "$ROOT/proc/self/mountinfo"
        run vc enable 0000:03:00.0
        assert_failure 4 # as it should be
        # the same host, mountinfo unreadable (EISDIR on read here; EACCES, EMFILE, ENFILE,
        # ENOENT on open take the same path)
        rm "$ROOT/proc/self/mountinfo"
        mkdir "$ROOT/proc/self/mountinfo"
        run vc enable 0000:03:00.0
        assert_failure
        assert_equal "$(fk_driver 0000:03:00.0)" nvme
}

@test "/proc/net/route unreadable: the claim of the default route's NIC fails, not goes on" {
        review_root
        nic eth0 0000:01:00.0
        printf '%s\neth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' "$ROUTE_HDR" > "$ROOT/proc/net/route"
        run vc enable 0000:01:00.0
        assert_failure 4 # as it should be
        rm "$ROOT/proc/net/route"
        mkdir "$ROOT/proc/net/route"
        run vc enable 0000:01:00.0
        assert_failure
        assert_equal "$(fk_driver 0000:01:00.0)" e1000e
}

# a btrfs root whose mountinfo source is a /dev/disk/by-* link. Before Linux 6.8 ("btrfs:
# canonicalize the device path before adding it") btrfs shows the path of the last scan, and a
# mount by /dev/disk/by-uuid/... (dracut's root=UUID=, a systemd mount unit) leaves that path there.
# devname_kernel() takes "disk/by-uuid/..." for a kernel name, finds it unsafe, and the walk (and
# block_by_btrfs_members()) find nothing: not even a "use". The root's NVMe is claimed.
@test "btrfs root shown as /dev/disk/by-uuid/...: its NVMe is refused" {
        review_root
        nvme_block nvme0n1p2 259:2
        mkdir -p "$ROOT/dev/disk/by-uuid" "$ROOT/sys/fs/btrfs/4b1f0a6e-5d2c-4c55-9a3e-0d6f5a1c2b3d/devices"
        ln -s ../../nvme0n1p2 "$ROOT/dev/disk/by-uuid/4b1f0a6e-5d2c-4c55-9a3e-0d6f5a1c2b3d"
        ln -sr "$(readlink -f "$ROOT/sys/class/block/nvme0n1p2")" \
                "$ROOT/sys/fs/btrfs/4b1f0a6e-5d2c-4c55-9a3e-0d6f5a1c2b3d/devices/nvme0n1p2"
        # control: the same root shown by its kernel name is refused
        echo "26 1 0:31 /@ / rw,relatime shared:1 - btrfs /dev/nvme0n1p2 rw,subvol=/@" > "$ROOT/proc/self/mountinfo"
        run vc enable 0000:03:00.0
        assert_failure 4
        assert_output --partial "refused: controller of the root filesystem /dev/nvme0n1p2"
        echo "26 1 0:31 /@ / rw,relatime shared:1 - btrfs /dev/disk/by-uuid/4b1f0a6e-5d2c-4c55-9a3e-0d6f5a1c2b3d rw,subvol=/@" \
                > "$ROOT/proc/self/mountinfo"
        run vc enable 0000:03:00.0
        assert_failure 4
}

# the host's default route runs over an SR-IOV VF (iavf 0000:02:02.0). The VF is protected,
# but its PF (i40e 0000:02:00.0, its own IOMMU group) is not: unbinding the PF from i40e disables
# SR-IOV (i40e_remove() frees the VFs) and the host's NIC disappears with it. The same holds for
# any critical device that is a VF (an NVMe or HBA VF holding /).
@test "the default route on a VF: claiming its PF (which destroys the VF) is refused" {
        fake_root sriov-64vf
        mkdir -p "$ROOT/proc/net" "$ROOT/sys/class/net"
        local d
        d=$(readlink -f "$ROOT/sys/bus/pci/devices/0000:02:02.0")
        mkdir -p "$d/net/eth0"
        ln -sr "$d" "$d/net/eth0/device"
        ln -sr "$d/net/eth0" "$ROOT/sys/class/net/eth0"
        printf 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' \
                > "$ROOT/proc/net/route"
        run vc enable 0000:02:02.0
        assert_failure 4 # the VF itself: found
        assert_output --partial "refused: NIC of the default route (eth0)"
        run vc --yes enable 0000:02:00.0
        assert_failure 4 # its PF
        assert_output --partial "refused: PF of 0000:02:02.0, whose VFs go with its driver: NIC of the default route (eth0)"
        assert_equal "$(fk_driver 0000:02:00.0)" i40e
}
