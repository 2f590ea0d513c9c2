/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "critical.h"
#include "fileio.h"
#include "pci.h"
#include "root.h"
#include "tests.h"
#include "tree.h"

static struct vc_pci_addr addr(const char *s) {
        struct vc_pci_addr a = { 0 };
        if (vc_pci_addr_parse(s, &a) < 0)
                abort();
        return a;
}

static const char *reason(struct vc_critical_set *s, const char *a) {
        struct vc_pci_addr x = addr(a);
        return vc_critical_reason(s, &x);
}

/* A PCI device: its directory under sys/devices and its link in sys/bus/pci/devices. */
static void pci_dev(const char *root, const char *devpath, const char *cls, int boot_vga) {
        char rel[512], link[512];
        const char *name = strrchr(devpath, '/') + 1;
        snprintf(rel, sizeof rel, "sys/devices/%s/vendor", devpath);
        tree_file(root, rel, "0x1af4\n");
        snprintf(rel, sizeof rel, "sys/devices/%s/device", devpath);
        tree_file(root, rel, "0x1000\n");
        snprintf(rel, sizeof rel, "sys/devices/%s/class", devpath);
        tree_file(root, rel, cls);
        if (boot_vga >= 0) {
                snprintf(rel, sizeof rel, "sys/devices/%s/boot_vga", devpath);
                tree_file(root, rel, boot_vga ? "1\n" : "0\n");
        }
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s", name);
        snprintf(link, sizeof link, "../../../devices/%s", devpath);
        tree_link(root, rel, link);
}

/* As sysfs has it: the class entry is a link to the device's directory under sys/devices, and
 * that directory's "device" link is relative to the real directory. */
static void class_entry(const char *root, const char *cls, const char *name, const char *devdir,
                        const char *device_link) {
        char rel[512], target[512];
        snprintf(rel, sizeof rel, "sys/devices/%s", devdir);
        tree_dir(root, rel);
        if (device_link) {
                snprintf(rel, sizeof rel, "sys/devices/%s/device", devdir);
                tree_link(root, rel, device_link);
        }
        snprintf(rel, sizeof rel, "sys/class/%s/%s", cls, name);
        snprintf(target, sizeof target, "../../devices/%s", devdir);
        tree_link(root, rel, target);
}

/* Root on LVM over a virtio-blk partition, /boot on NVMe, swap on dm over MD RAID1 on AHCI. */
static char *storage_tree(void) {
        char *root = tree_new();
        pci_dev(root, "pci0000:00/0000:00:04.0", "0x010000\n", -1);          /* virtio-blk */
        pci_dev(root, "pci0000:00/0000:00:01.0", "0x060400\n", -1);          /* root port */
        pci_dev(root, "pci0000:00/0000:00:01.0/0000:01:00.0", "0x010802\n", -1); /* NVMe */
        pci_dev(root, "pci0000:00/0000:00:1f.2", "0x010601\n", -1);          /* AHCI */
        pci_dev(root, "pci0000:00/0000:00:05.0", "0x020000\n", -1);          /* bystander */

        tree_file(root, "sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda2/partition", "2\n");
        tree_link(root, "sys/dev/block/252:2", "../../devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda2");
        tree_link(root, "sys/devices/virtual/block/dm-0/slaves/vda2",
                  "../../../../pci0000:00/0000:00:04.0/virtio1/block/vda/vda2");
        tree_file(root, "sys/devices/virtual/block/dm-0/dm/name", "vg-root\n");
        tree_link(root, "sys/dev/block/253:0", "../../devices/virtual/block/dm-0");
        tree_link(root, "sys/class/block/dm-0", "../../devices/virtual/block/dm-0");

        tree_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1/partition", "1\n");
        tree_link(root, "sys/dev/block/259:1",
                  "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1");

        const char *sda = "sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda";
        char rel[512];
        snprintf(rel, sizeof rel, "%s/sda1/partition", sda);
        tree_file(root, rel, "1\n");
        tree_link(root, "sys/devices/virtual/block/md0/slaves/sda1",
                  "../../../../pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1");
        tree_link(root, "sys/devices/virtual/block/dm-1/slaves/md0", "../../md0");
        tree_link(root, "sys/class/block/dm-1", "../../devices/virtual/block/dm-1");

        tree_file(root, "proc/self/mountinfo",
                  "21 1 0:20 / /proc rw,nosuid shared:12 - proc proc rw\n"
                  "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
                  "23 22 259:1 / /boot rw,relatime shared:2 - ext4 /dev/nvme0n1p1 rw\n"
                  "24 22 0:5 / /dev rw shared:3 - devtmpfs udev rw\n");
        tree_file(root, "proc/swaps",
                  "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                  "/dev/dm-1                               partition\t1048572\t\t0\t\t-2\n");
        return root;
}

TEST(storage_root_boot_swap) {
        _cleanup_tree_ char *root = storage_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:04.0"), "controller of the root filesystem /dev/mapper/vg-root");
        ASSERT_STREQ(reason(s, "0000:01:00.0"), "controller of the /boot filesystem /dev/nvme0n1p1");
        ASSERT_STREQ(reason(s, "0000:00:1f.2"), "controller of swap /dev/dm-1");
        ASSERT_NULL(reason(s, "0000:00:05.0"));
        ASSERT_NULL(reason(s, "0000:00:01.0")); /* the root port above the NVMe is not the controller */
        ASSERT_EQ(vc_critical_count(s), 3);
}

TEST(storage_anonymous_device_number) {
        /* btrfs: 0:NN in mountinfo; the source names a device-mapper device. */
        _cleanup_tree_ char *root = storage_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        tree_file(root, "proc/self/mountinfo", "22 1 0:31 /@ / rw shared:1 - btrfs /dev/mapper/vg-root rw\n");
        tree_file(root, "proc/swaps", "Filename Type Size Used Priority\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:04.0"), "controller of the root filesystem /dev/mapper/vg-root");
        ASSERT_EQ(vc_critical_count(s), 1);
}

/* A swap file on btrfs: stat() gives the subvolume's anonymous device number (0:N), which names no
 * block device and need not be the one mountinfo shows; the mount that holds the file names the
 * disk, and swap is what the host runs on (in the image's list). The tree lives on a tmpfs
 * (/dev/shm), whose files have such a number too. */
TEST(storage_swap_file_anonymous_device_number) {
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *saved = tmp ? strdup(tmp) : NULL;
        setenv("TMPDIR", "/dev/shm", 1);
        _cleanup_tree_ char *root = storage_tree();
        if (saved)
                setenv("TMPDIR", saved, 1);
        else
                unsetenv("TMPDIR");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_free_ char *text = NULL;
        char p[PATH_MAX];
        struct stat st;

        ASSERT_NOT_NULL(root);
        tree_file(root, "sys/devices/pci0000:00/0000:00:05.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb/sdb1/partition", "1\n");
        tree_link(root, "sys/class/block/sdb1",
                  "../../devices/pci0000:00/0000:00:05.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb/sdb1");
        tree_file(root, "data/swap/swapfile", "");
        snprintf(p, sizeof p, "%s/data/swap/swapfile", root);
        ASSERT_OK(stat(p, &st) < 0 ? -errno : 0);
        if (major(st.st_dev) != 0) {
                printf("# skipped: /dev/shm is no tmpfs here\n");
                return;
        }
        tree_file(root, "proc/self/mountinfo",
                  "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
                  "30 22 0:45 /@data /data rw,relatime shared:9 - btrfs /dev/sdb1 rw,subvol=/@data\n"
                  "31 22 0:46 /@tmp /data/tmp rw,relatime shared:10 - btrfs /dev/sdb1 rw,subvol=/@tmp\n");
        tree_file(root, "proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                                      "/data/swap/swapfile                     file\t\t1048572\t\t0\t\t-2\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:05.0"), "controller of swap /data/swap/swapfile");
        ASSERT_OK(vc_critical_list_format(ctx, s, &text));
        ASSERT_NOT_NULL(strstr(text, "controller of swap /data/swap/swapfile"));
}

TEST(storage_nvme_native_multipath) {
        /* The namespace head lives under nvme-subsystem, beside links to its controllers. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        pci_dev(root, "pci0000:00/0000:00:1d.0", "0x060400\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1d.0/0000:3d:00.0", "0x010802\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1d.0/0000:3e:00.0", "0x010802\n", -1); /* another disk */
        tree_dir(root, "sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0c0n1");
        tree_dir(root, "sys/devices/pci0000:00/0000:00:1d.0/0000:3e:00.0/nvme/nvme1");
        tree_file(root, "sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/nvme0n1p2/partition", "2\n");
        tree_link(root, "sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0",
                  "../../../pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0");
        tree_link(root, "sys/devices/virtual/nvme-subsystem/nvme-subsys0/subsystem",
                  "../../../../class/nvme-subsystem");
        tree_dir(root, "sys/class/nvme-subsystem");
        tree_link(root, "sys/dev/block/259:2",
                  "../../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/nvme0n1p2");
        tree_file(root, "proc/self/mountinfo", "22 1 259:2 / / rw - xfs /dev/nvme0n1p2 rw\n");

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:3d:00.0"), "controller of the root filesystem /dev/nvme0n1p2");
        ASSERT_NULL(reason(s, "0000:3e:00.0"));
        ASSERT_EQ(vc_critical_count(s), 1);
}

/* The device nodes a claim asks holders of (vc_block_nodes_below()): the disks and partitions under
 * the device's directory, a multipath namespace under each of its controllers, the kernel's '!'
 * as '/', nothing of another device. */
/* Two NVMe controllers behind one bridge, the first's namespace a multipath one, a RAID with a
 * cciss disk, a loop device. */
static char *nodes_tree(void) {
        char *root = tree_new();
        pci_dev(root, "pci0000:00/0000:00:1d.0", "0x060400\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1d.0/0000:3d:00.0", "0x010802\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1d.0/0000:3e:00.0", "0x010802\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1f.2", "0x010400\n", -1); /* RAID */
        tree_dir(root, "sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0c0n1");
        tree_file(root, "sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/nvme0n1p2/partition", "2\n");
        tree_link(root, "sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0",
                  "../../../pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0");
        tree_link(root, "sys/class/block/nvme0n1", "../../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1");
        tree_link(root, "sys/class/block/nvme0n1p2",
                  "../../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/nvme0n1p2");
        tree_dir(root, "sys/devices/pci0000:00/0000:00:1d.0/0000:3e:00.0/nvme/nvme1/nvme1n1");
        tree_link(root, "sys/class/block/nvme1n1", "../../devices/pci0000:00/0000:00:1d.0/0000:3e:00.0/nvme/nvme1/nvme1n1");
        tree_dir(root, "sys/devices/pci0000:00/0000:00:1f.2/host0/target0:0:0/0:0:0:0/block/cciss!c0d0");
        tree_link(root, "sys/class/block/cciss!c0d0",
                  "../../devices/pci0000:00/0000:00:1f.2/host0/target0:0:0/0:0:0:0/block/cciss!c0d0");
        tree_dir(root, "sys/devices/virtual/block/loop0");
        tree_link(root, "sys/class/block/loop0", "../../devices/virtual/block/loop0");

        return root;
}

TEST(block_nodes_below) {
        _cleanup_tree_ char *root = nodes_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_strv_free_ char **a = NULL, **b = NULL, **c = NULL, **usb = NULL;

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_block_nodes_below(ctx, "0000:3d:00.0", &a));
        ASSERT_STREQ(a[0], "/dev/nvme0n1");
        ASSERT_STREQ(a[1], "/dev/nvme0n1p2");
        ASSERT_NULL(a[2]);
        ASSERT_OK(vc_block_nodes_below(ctx, "0000:3e:00.0", &b));
        ASSERT_STREQ(b[0], "/dev/nvme1n1");
        ASSERT_NULL(b[1]);
        ASSERT_OK(vc_block_nodes_below(ctx, "0000:1f.2", &c)); /* not a whole component: nothing */
        ASSERT_NULL(c[0]);
        strv_free(c);
        c = NULL;
        ASSERT_OK(vc_block_nodes_below(ctx, "0000:00:1f.2", &c));
        ASSERT_STREQ(c[0], "/dev/cciss/c0d0");
        ASSERT_NULL(c[1]);
        ASSERT_OK(vc_block_nodes_below(ctx, "0000:00:1d.0", &usb)); /* the bridge above both */
        ASSERT_STREQ(usb[0], "/dev/nvme0n1");
        ASSERT_STREQ(usb[1], "/dev/nvme0n1p2");
        ASSERT_STREQ(usb[2], "/dev/nvme1n1");
        ASSERT_NULL(usb[3]);
}

/* The NIC an admin's SSH session goes through (lib/session.h): an sshd among the CLI's ancestors
 * (sudo between them), its established sockets' peers, each peer's route. The listening socket
 * and a context that does not ask (the hook, the udev helper) add nothing; the image's list never
 * has it. */
TEST(ssh_session_nic) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL, *off = NULL;
        _cleanup_free_ char *text = NULL;

        pci_dev(root, "pci0000:00/0000:00:04.0", "0x020000\n", -1); /* eth0: the default route */
        pci_dev(root, "pci0000:00/0000:00:05.0", "0x020000\n", -1); /* eth1: the admin's subnet */
        pci_dev(root, "pci0000:00/0000:00:06.0", "0x020000\n", -1); /* eth2: an IPv6 network */
        pci_dev(root, "pci0000:00/0000:00:07.0", "0x020000\n", -1); /* eth3: nobody's */
        class_entry(root, "net", "eth0", "pci0000:00/0000:00:04.0/net/eth0", "../../../0000:00:04.0");
        class_entry(root, "net", "eth1", "pci0000:00/0000:00:05.0/net/eth1", "../../../0000:00:05.0");
        class_entry(root, "net", "eth2", "pci0000:00/0000:00:06.0/net/eth2", "../../../0000:00:06.0");
        class_entry(root, "net", "eth3", "pci0000:00/0000:00:07.0/net/eth3", "../../../0000:00:07.0");
        tree_file(root, "proc/self/stat", "900 (vfio-claim) R 890 900 800 34816 900 4194560 0 0 0 0\n");
        tree_file(root, "proc/890/stat", "890 (sudo) S 810 890 800 34816 900 4194560 0 0 0 0\n");
        tree_file(root, "proc/890/comm", "sudo\n");
        tree_file(root, "proc/810/stat", "810 (bash) S 805 810 810 34816 900 4194560 0 0 0 0\n");
        tree_file(root, "proc/810/comm", "bash\n");
        tree_file(root, "proc/805/stat", "805 (sshd) S 700 700 700 0 -1 4194560 0 0 0 0\n");
        tree_file(root, "proc/805/comm", "sshd\n");
        tree_link(root, "proc/805/fd/3", "socket:[555]");
        tree_link(root, "proc/805/fd/4", "socket:[556]");
        tree_link(root, "proc/805/fd/5", "/dev/ptmx");
        tree_file(root, "proc/700/stat", "700 (sshd) S 1 700 700 0 -1 4194560 0 0 0 0\n");
        tree_file(root, "proc/700/comm", "sshd\n");
        tree_link(root, "proc/700/fd/3", "socket:[100]"); /* listening on 22 */
        tree_file(root, "proc/net/tcp",
                  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                  "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1\n"
                  "   1: 0105A8C0:0016 0A05A8C0:D2F4 01 00000000:00000000 02:0000A1B2 00000000     0        0 555 4\n"
                  "   2: 0105A8C0:0016 0C05A8C0:D2F5 01 00000000:00000000 02:0000A1B2 00000000     0        0 777 4\n");
        tree_file(root, "proc/net/tcp6",
                  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                  "   0: 000000FD000000000000000001000000:0016 000000FD000000000000000010000000:D2F6 01 00000000:00000000 02:0000A1B2 00000000     0        0 556 4\n");
        tree_file(root, "proc/net/route",
                  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                  "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                  "eth3\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
                  "eth1\t0005A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        tree_file(root, "proc/net/ipv6_route",
                  "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
                  "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth2\n");

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &off)); /* the hook's and the udev helper's contexts */
        ASSERT_NULL(reason(off, "0000:00:05.0"));
        ASSERT_NULL(reason(off, "0000:00:06.0"));

        vc_ctx_set_session_critical(ctx, true);
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:04.0"), "NIC of the default route (eth0)");
        ASSERT_STREQ(reason(s, "0000:00:05.0"), "NIC of the SSH session this command runs in (eth1, from 192.168.5.10)");
        ASSERT_STREQ(reason(s, "0000:00:06.0"), "NIC of the SSH session this command runs in (eth2, from fd00::10)");
        ASSERT_NULL(reason(s, "0000:00:07.0")); /* 192.168.0.0/16 holds the peer, but /24 is longer */
        ASSERT_EQ(vc_critical_count(s), 3);
        ASSERT_OK(vc_critical_list_format(ctx, s, &text));
        ASSERT_STREQ(text, "0000:00:04.0 1af4:1000 NIC of the default route (eth0)\n");
}

/* In tmux (or screen) the server's parent is init, not the sshd: the shell inside keeps the
 * SSH_CONNECTION of the client that started it, which sudo drops from the command's own
 * environment; an IPv4-mapped client address counts as IPv4. */
TEST(ssh_session_nic_in_tmux) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        static const char env[] = "TERM=tmux-256color\0SSH_CONNECTION=::ffff:10.1.2.3 50022 10.1.2.1 22\0HOME=/root";

        pci_dev(root, "pci0000:00/0000:00:05.0", "0x020000\n", -1);
        pci_dev(root, "pci0000:00/0000:00:06.0", "0x020000\n", -1);
        class_entry(root, "net", "eno1", "pci0000:00/0000:00:05.0/net/eno1", "../../../0000:00:05.0");
        class_entry(root, "net", "eno2", "pci0000:00/0000:00:06.0/net/eno2", "../../../0000:00:06.0");
        tree_file(root, "proc/self/stat", "900 (vfio-claim) R 890 900 800 34816 900 4194560 0 0 0 0\n");
        tree_file(root, "proc/self/environ", "SUDO_USER=admin");
        tree_file(root, "proc/890/stat", "890 (sudo) S 810 890 800 34816 900 4194560 0 0 0 0\n");
        tree_file(root, "proc/890/comm", "sudo\n");
        tree_file(root, "proc/810/stat", "810 (bash) S 700 810 810 34816 900 4194560 0 0 0 0\n");
        tree_file(root, "proc/810/comm", "bash\n");
        {
                char p[4096];
                snprintf(p, sizeof p, "%s/proc/810/environ", root);
                FILE *f = fopen(p, "we");
                ASSERT_NOT_NULL(f);
                fwrite(env, 1, sizeof env, f);
                fclose(f);
        }
        tree_file(root, "proc/700/stat", "700 (tmux: server) S 1 700 700 0 -1 4194560 0 0 0 0\n");
        tree_file(root, "proc/700/comm", "tmux: server\n");
        tree_file(root, "proc/net/route",
                  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                  "eno2\t0000010A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
                  "eno1\t0002010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        vc_ctx_set_session_critical(ctx, true);
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:05.0"), "NIC of the SSH session this command runs in (eno1, from 10.1.2.3)");
        ASSERT_NULL(reason(s, "0000:00:06.0"));
        ASSERT_EQ(vc_critical_count(s), 1);
}

/* An input device at @devdir (under sys/devices) with its class entry inputN and the bitmaps the
 * kernel prints (drivers/input/input.c): a USB keyboard's and a PS/2 keyboard's ("120013" and all
 * the letters), a mouse's buttons, a power button's one key: the key bitmaps of the lab guest's
 * usb-kbd, i8042 keyboard and mouse and ACPI power button under Linux 6.1, printed by
 * tests/vm/scenarios/refuse-console-keyboard.sh. */
#define KEYS_KEYBOARD "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe"
#define KEYS_AT "402000002 3803078f800d001 feffffdfffefffff fffffffffffffffe"
#define KEYS_MOUSE "1f0000 0 0 0 0"
#define KEYS_POWER "10000000000000 0"
static void input_dev(const char *root, const char *devdir, const char *ev, const char *keys, const char *name) {
        char rel[512], target[512];
        const char *input = strrchr(devdir, '/') + 1;
        snprintf(rel, sizeof rel, "sys/devices/%s/capabilities/ev", devdir);
        tree_file(root, rel, ev);
        snprintf(rel, sizeof rel, "sys/devices/%s/capabilities/key", devdir);
        tree_file(root, rel, keys);
        snprintf(rel, sizeof rel, "sys/devices/%s/name", devdir);
        tree_file(root, rel, name);
        snprintf(rel, sizeof rel, "sys/class/input/%s", input);
        snprintf(target, sizeof target, "../../devices/%s", devdir);
        tree_link(root, rel, target);
}

static void environ_file(const char *root, const char *rel, const char *env, size_t len) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", root, rel);
        FILE *f = fopen(p, "we");
        if (!f || fwrite(env, 1, len, f) != len || fclose(f) != 0)
                abort();
}

/* A desktop: the chipset's xHCI (group 5) holds the USB keyboard, a mouse and a USB serial
 * adapter, a second xHCI (group 6) nothing; ACPI's power button and a uinput keyboard are no
 * keyboards an admin types on. The admin runs the command through sudo from a shell on tty2. */
static char *desk_tree(void) {
        char *root = tree_new();
        pci_dev(root, "pci0000:00/0000:00:14.0", "0x0c0330\n", -1);
        pci_dev(root, "pci0000:00/0000:00:0d.0", "0x0c0330\n", -1);
        tree_link(root, "sys/devices/pci0000:00/0000:00:14.0/iommu_group", "../../../kernel/iommu_groups/5");
        tree_link(root, "sys/devices/pci0000:00/0000:00:0d.0/iommu_group", "../../../kernel/iommu_groups/6");
        input_dev(root, "pci0000:00/0000:00:14.0/usb3/3-2/3-2:1.0/0003:046D:C31C.0001/input/input5", "120013\n",
                  KEYS_KEYBOARD "\n", "Logitech USB Keyboard\n");
        input_dev(root, "pci0000:00/0000:00:14.0/usb3/3-3/3-3:1.0/0003:046D:C077.0002/input/input7", "17\n",
                  KEYS_MOUSE "\n", "Logitech USB Optical Mouse\n");
        input_dev(root, "LNXSYSTM:00/LNXPWRBN:00/input/input0", "3\n", KEYS_POWER "\n", "Power Button\n");
        input_dev(root, "virtual/input/input9", "3\n", KEYS_KEYBOARD "\n", "ydotoold virtual device\n");
        tree_dir(root, "sys/class/input/event3"); /* a handler, not a device */
        tree_file(root, "proc/self/stat", "900 (vfio-claim) R 890 900 800 34816 900 4194560 0 0 0 0\n");
        tree_file(root, "proc/890/stat", "890 (sudo) S 810 890 810 1026 890 4194560 0 0 0 0\n");
        tree_file(root, "proc/890/comm", "sudo\n");
        tree_file(root, "proc/810/stat", "810 (bash) S 700 810 810 1026 890 4194560 0 0 0 0\n");
        tree_file(root, "proc/810/comm", "bash\n");
        tree_file(root, "proc/700/stat", "700 (login) S 1 700 700 1026 810 4194560 0 0 0 0\n");
        return root;
}

#define KEYBOARD_ON_TTY2 "controller of the keyboard of the console this command runs on (tty2: Logitech USB Keyboard)"

/* The admin at a virtual terminal would lose the last keyboard with the xHCI above it; only the
 * CLI asks, and it is a use, never in the image's list. */
TEST(local_console_last_keyboard) {
        _cleanup_tree_ char *root = desk_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_free_ char *text = NULL;
        struct vc_critical_set *s = NULL;

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s)); /* the hook's and the udev helper's contexts */
        ASSERT_EQ(vc_critical_count(s), 0);
        vc_critical_set_free(s);

        vc_ctx_set_session_critical(ctx, true);
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:14.0"), KEYBOARD_ON_TTY2);
        ASSERT_NULL(reason(s, "0000:00:0d.0"));
        ASSERT_EQ(vc_critical_count(s), 1);
        ASSERT_NULL(vc_critical_usb_reason(s, "3-3")); /* the USB level refuses a keyboard itself (lib/usb.c) */
        ASSERT_OK(vc_critical_list_format(ctx, s, &text));
        ASSERT_STREQ(text, "");
        vc_critical_set_free(s);

        /* a second keyboard on the other controller: either one may go, not both (one command
         * claims one group after the other through the same set) */
        input_dev(root, "pci0000:00/0000:00:0d.0/usb1/1-1/1-1:1.0/0003:04D9:1702.0003/input/input11", "120013\n",
                  KEYS_KEYBOARD "\n", "USB Keyboard\n");
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_EQ(vc_critical_count(s), 0);
        {
                struct vc_pci_addr a14, a0d;
                const struct vc_pci_addr *kb = NULL;
                ASSERT_OK(vc_pci_addr_parse("0000:00:14.0", &a14));
                ASSERT_OK(vc_pci_addr_parse("0000:00:0d.0", &a0d));
                ASSERT_NULL(vc_critical_keyboards_take(s, &a14, 1, &kb));
                ASSERT_NULL(vc_critical_keyboards_take(s, &a14, 1, &kb)); /* taken already */
                ASSERT_STREQ(vc_critical_keyboards_take(s, &a0d, 1, &kb),
                             "controller of the keyboard of the console this command runs on (tty2: USB Keyboard)");
                ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(kb), "0000:00:0d.0");
                /* refused: nothing remembered, and both in one claim are refused too */
                struct vc_pci_addr both[] = { a14, a0d };
                vc_critical_set_free(s);
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_NOT_NULL(vc_critical_keyboards_take(s, both, 2, &kb));
                ASSERT_NULL(vc_critical_keyboards_take(s, &a0d, 1, &kb));
        }
        vc_critical_set_free(s);

        /* both controllers in one group: a claim takes both keyboards */
        tree_link(root, "sys/devices/pci0000:00/0000:00:0d.0/iommu_group", "../../../kernel/iommu_groups/5");
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:14.0"), KEYBOARD_ON_TTY2);
        ASSERT_STREQ(reason(s, "0000:00:0d.0"),
                     "controller of the keyboard of the console this command runs on (tty2: USB Keyboard)");
        vc_critical_set_free(s);

        /* a keyboard on the i8042 stays whatever is claimed */
        input_dev(root, "platform/i8042/serio0/input/input1", "120013\n", KEYS_AT "\n", "AT Translated Set 2 keyboard\n");
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_EQ(vc_critical_count(s), 0);
        vc_critical_set_free(s);
}

/* Over SSH, or from a forwarded X display, nobody sits at the keyboard; in a local graphical
 * session somebody does. */
TEST(local_console_graphical_or_remote) {
        _cleanup_tree_ char *root = desk_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_critical_set *s = NULL;
        static const char forwarded[] = "TERM=xterm\0DISPLAY=localhost:10.0";
        static const char wayland[] = "TERM=xterm-256color\0WAYLAND_DISPLAY=wayland-0\0XDG_SESSION_TYPE=wayland";

        /* the shell on a pseudo-terminal (a terminal emulator, SSH), its parent no terminal */
        tree_file(root, "proc/890/stat", "890 (sudo) S 810 890 810 34817 890 4194560 0 0 0 0\n");
        tree_file(root, "proc/810/stat", "810 (bash) S 700 810 810 34817 890 4194560 0 0 0 0\n");
        tree_file(root, "proc/700/stat", "700 (gnome-terminal-) S 1 700 700 0 -1 4194560 0 0 0 0\n");
        environ_file(root, "proc/810/environ", forwarded, sizeof forwarded);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        vc_ctx_set_session_critical(ctx, true);
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_EQ(vc_critical_count(s), 0);
        vc_critical_set_free(s);

        environ_file(root, "proc/810/environ", wayland, sizeof wayland);
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:14.0"),
                     "controller of the keyboard of the console this command runs on (the graphical session wayland-0: "
                     "Logitech USB Keyboard)");
        vc_critical_set_free(s);
}

/* An admin on a serial line through a USB adapter (ttyUSB0, 188:0) loses it with the adapter, or
 * with the controller above it. */
TEST(terminal_on_usb_serial) {
        _cleanup_tree_ char *root = desk_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        tree_dir(root, "sys/devices/pci0000:00/0000:00:14.0/usb3/3-4/3-4:1.0/ttyUSB0/tty/ttyUSB0");
        tree_link(root, "sys/dev/char/188:0", "../../devices/pci0000:00/0000:00:14.0/usb3/3-4/3-4:1.0/ttyUSB0/tty/ttyUSB0");
        tree_file(root, "proc/890/stat", "890 (sudo) S 810 890 810 48128 890 4194560 0 0 0 0\n");
        tree_file(root, "proc/810/stat", "810 (bash) S 700 810 810 48128 890 4194560 0 0 0 0\n");
        tree_file(root, "proc/700/stat", "700 (agetty) S 1 700 700 48128 810 4194560 0 0 0 0\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        vc_ctx_set_session_critical(ctx, true);
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:14.0"), "controller of the terminal this command runs on (ttyUSB0)");
        ASSERT_STREQ(vc_critical_usb_reason(s, "3-4"), "controller of the terminal this command runs on (ttyUSB0)");
        ASSERT_NULL(vc_critical_usb_reason(s, "3-2"));
        ASSERT_EQ(vc_critical_count(s), 1);
}

/* A shell on /dev/console (5:1: a rescue or emergency shell) is on the last console the kernel
 * lists (sys/class/tty/console/active): a virtual terminal there means the console's keyboards, a
 * serial line its device. */
TEST(terminal_dev_console) {
        _cleanup_tree_ char *root = desk_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_critical_set *s = NULL;

        pci_dev(root, "pci0000:00/0000:00:1c.0", "0x060400\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1c.0/0000:03:00.0", "0x070002\n", -1); /* a PCI serial card */
        tree_dir(root, "sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0/tty/ttyS4");
        tree_file(root, "sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0/tty/ttyS4/dev", "4:68\n");
        tree_link(root, "sys/class/tty/ttyS4", "../../devices/pci0000:00/0000:00:1c.0/0000:03:00.0/tty/ttyS4");
        tree_link(root, "sys/dev/char/4:68", "../../devices/pci0000:00/0000:00:1c.0/0000:03:00.0/tty/ttyS4");
        tree_dir(root, "sys/devices/pci0000:00/0000:00:14.0/usb3/3-4/3-4:1.0/ttyUSB0/tty/ttyUSB0");
        tree_file(root, "sys/devices/pci0000:00/0000:00:14.0/usb3/3-4/3-4:1.0/ttyUSB0/tty/ttyUSB0/dev", "188:0\n");
        tree_link(root, "sys/class/tty/ttyUSB0", "../../devices/pci0000:00/0000:00:14.0/usb3/3-4/3-4:1.0/ttyUSB0/tty/ttyUSB0");
        tree_link(root, "sys/dev/char/188:0", "../../devices/pci0000:00/0000:00:14.0/usb3/3-4/3-4:1.0/ttyUSB0/tty/ttyUSB0");
        tree_file(root, "proc/890/stat", "890 (sudo) S 810 890 810 1281 890 4194560 0 0 0 0\n");
        tree_file(root, "proc/810/stat", "810 (bash) S 1 810 810 1281 890 4194560 0 0 0 0\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        vc_ctx_set_session_critical(ctx, true);

        /* no console/active: a virtual terminal, as before */
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:14.0"),
                     "controller of the keyboard of the console this command runs on (console: Logitech USB Keyboard)");
        vc_critical_set_free(s);

        /* console=ttyUSB0: the admin is on the adapter's line */
        tree_file(root, "sys/class/tty/console/active", "ttyUSB0\n");
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:14.0"), "controller of the terminal this command runs on (ttyUSB0)");
        ASSERT_EQ(vc_critical_count(s), 1);
        vc_critical_set_free(s);

        /* console=tty0 console=ttyS4: /dev/console is the serial card's line, not the keyboard */
        tree_file(root, "sys/class/tty/console/active", "tty0 ttyS4\n");
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:03:00.0"), "controller of the terminal this command runs on (ttyS4)");
        ASSERT_NULL(reason(s, "0000:00:14.0"));
        vc_critical_set_free(s);

        /* console=ttyS4 console=tty0: the virtual terminal */
        tree_file(root, "sys/class/tty/console/active", "ttyS4 tty0\n");
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:14.0"),
                     "controller of the keyboard of the console this command runs on (console: Logitech USB Keyboard)");
        ASSERT_NULL(reason(s, "0000:03:00.0"));
        vc_critical_set_free(s);
}

/* The open-disk check for a group: one walk for all its moving devices, the holders of the first
 * device whose disk is held (the second here), udev's worker not counted. */
TEST(block_holders_of_a_group) {
        _cleanup_tree_ char *root = nodes_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_free_ char *who = NULL;
        const char *const group[] = { "0000:3d:00.0", "0000:3e:00.0" };
        size_t k = 99;

        tree_file(root, "proc/377/comm", "(udev-worker)\n");
        tree_link(root, "proc/377/fd/5", "/dev/nvme0n1p2");
        tree_file(root, "proc/4242/comm", "qemu-system-x86\n");
        tree_link(root, "proc/4242/fd/17", "/dev/nvme1n1");
        tree_file(root, "proc/4300/comm", "dd\n");
        tree_link(root, "proc/4300/fd/0", "/dev/cciss/c0d0"); /* not the group's */
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_EQ(vc_block_holders_check(ctx, group, 2, &k, &who), -EBUSY);
        ASSERT_EQ(k, 1);
        ASSERT_STREQ(who, "/dev/nvme1n1 is open by qemu-system-x86 (pid 4242)");
        free(who);
        who = NULL;
        ASSERT_OK(vc_block_holders_check(ctx, group, 1, &k, &who)); /* the first alone: only udev */
        ASSERT_NULL(who);
}

TEST(nothing_to_find) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        pci_dev(root, "pci0000:00/0000:00:05.0", "0x020000\n", -1);
        tree_file(root, "proc/self/mountinfo", "22 1 0:2 / / rw - overlay overlay rw\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_EQ(vc_critical_count(s), 0);
        ASSERT_NULL(reason(s, "0000:00:05.0"));
}

TEST(default_route_ipv4_through_bridge_and_ipv6) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        pci_dev(root, "pci0000:00/0000:00:03.0", "0x020000\n", -1); /* virtio-net behind br0 */
        pci_dev(root, "pci0000:00/0000:00:1c.0", "0x060400\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1c.0/0000:02:00.0", "0x020000\n", -1); /* IPv6 default */
        pci_dev(root, "pci0000:00/0000:00:1c.0/0000:02:00.1", "0x020000\n", -1); /* other route */
        class_entry(root, "net", "eth0", "pci0000:00/0000:00:03.0/virtio0/net/eth0", "../../../virtio0");
        class_entry(root, "net", "br0", "virtual/net/br0", NULL);
        tree_link(root, "sys/devices/virtual/net/br0/lower_eth0", "../../../pci0000:00/0000:00:03.0/virtio0/net/eth0");
        class_entry(root, "net", "eth1", "pci0000:00/0000:00:1c.0/0000:02:00.0/net/eth1", "../../../0000:02:00.0");
        class_entry(root, "net", "eth2", "pci0000:00/0000:00:1c.0/0000:02:00.1/net/eth2", "../../../0000:02:00.1");
        tree_file(root, "proc/net/route",
                  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                  "br0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                  "eth2\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n");
        tree_file(root, "proc/net/ipv6_route",
                  "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
                  "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth2\n"
                  "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                  "fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth1\n"
                  "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                  "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:03.0"), "NIC of the default route (br0)");
        ASSERT_STREQ(reason(s, "0000:02:00.0"), "NIC of the default route (eth1)");
        ASSERT_NULL(reason(s, "0000:02:00.1"));
        ASSERT_NULL(reason(s, "0000:00:1c.0"));
        ASSERT_EQ(vc_critical_count(s), 2);
}

/* The ESP on its own controller (a USB-attached or second NVMe disk): /boot/efi counts like /boot. */
TEST(storage_boot_efi) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        pci_dev(root, "pci0000:00/0000:00:06.0", "0x010802\n", -1); /* NVMe with the ESP */
        pci_dev(root, "pci0000:00/0000:00:05.0", "0x010802\n", -1); /* NVMe, data only */
        tree_file(root, "sys/devices/pci0000:00/0000:00:06.0/nvme/nvme1/nvme1n1/nvme1n1p1/partition", "1\n");
        tree_link(root, "sys/dev/block/259:5",
                  "../../devices/pci0000:00/0000:00:06.0/nvme/nvme1/nvme1n1/nvme1n1p1");
        tree_file(root, "proc/self/mountinfo",
                  "30 1 259:5 / /boot/efi rw,relatime shared:4 - vfat /dev/nvme1n1p1 rw\n"
                  "31 1 259:9 / /srv rw,relatime shared:5 - ext4 /dev/nvme0n1p1 rw\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:06.0"), "controller of the /boot/efi filesystem /dev/nvme1n1p1");
        ASSERT_NULL(reason(s, "0000:00:05.0"));
        ASSERT_EQ(vc_critical_count(s), 1);
}

/* The default route over a VLAN of a bond of two ports: both ports are critical (sysfs links a
 * VLAN and a bond to their lower interfaces with lower_NAME). */
TEST(default_route_vlan_over_bond) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        pci_dev(root, "pci0000:00/0000:00:1c.0", "0x060400\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1c.0/0000:03:00.0", "0x020000\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1c.0/0000:03:00.1", "0x020000\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1f.6", "0x020000\n", -1); /* not in the bond */
        class_entry(root, "net", "enp3s0f0", "pci0000:00/0000:00:1c.0/0000:03:00.0/net/enp3s0f0", "../../../0000:03:00.0");
        class_entry(root, "net", "enp3s0f1", "pci0000:00/0000:00:1c.0/0000:03:00.1/net/enp3s0f1", "../../../0000:03:00.1");
        class_entry(root, "net", "eno1", "pci0000:00/0000:00:1f.6/net/eno1", "../../../0000:00:1f.6");
        class_entry(root, "net", "bond0", "virtual/net/bond0", NULL);
        tree_link(root, "sys/devices/virtual/net/bond0/lower_enp3s0f0",
                  "../../../pci0000:00/0000:00:1c.0/0000:03:00.0/net/enp3s0f0");
        tree_link(root, "sys/devices/virtual/net/bond0/lower_enp3s0f1",
                  "../../../pci0000:00/0000:00:1c.0/0000:03:00.1/net/enp3s0f1");
        class_entry(root, "net", "bond0.100", "virtual/net/bond0.100", NULL);
        tree_link(root, "sys/devices/virtual/net/bond0.100/lower_bond0", "../bond0");
        tree_file(root, "proc/net/route",
                  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                  "bond0.100\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:03:00.0"), "NIC of the default route (bond0.100)");
        ASSERT_STREQ(reason(s, "0000:03:00.1"), "NIC of the default route (bond0.100)");
        ASSERT_NULL(reason(s, "0000:00:1f.6"));
        ASSERT_NULL(reason(s, "0000:00:1c.0"));
        ASSERT_EQ(vc_critical_count(s), 2);
}

TEST(boot_vga_with_console) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;

        pci_dev(root, "pci0000:00/0000:00:02.0", "0x030000\n", 1);
        pci_dev(root, "pci0000:00/0000:00:01.0", "0x060400\n", -1);
        pci_dev(root, "pci0000:00/0000:00:01.0/0000:01:00.0", "0x030000\n", 0);
        ASSERT_OK(vc_ctx_new(root, &ctx));

        /* No console on a framebuffer: a VGA device is just a device. */
        class_entry(root, "vtconsole", "vtcon0", "virtual/vtconsole/vtcon0", NULL);
        class_entry(root, "vtconsole", "vtcon1", "virtual/vtconsole/vtcon1", NULL);
        tree_file(root, "sys/devices/virtual/vtconsole/vtcon0/bind", "1\n");
        tree_file(root, "sys/devices/virtual/vtconsole/vtcon0/name", "(S) dummy device\n");
        tree_file(root, "sys/devices/virtual/vtconsole/vtcon1/bind", "0\n");
        tree_file(root, "sys/devices/virtual/vtconsole/vtcon1/name", "(M) frame buffer device\n");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_EQ(vc_critical_count(s), 0);
        }

        /* A framebuffer on the boot VGA device. */
        class_entry(root, "graphics", "fb0", "pci0000:00/0000:00:02.0/graphics/fb0", "../../../0000:00:02.0");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_STREQ(reason(s, "0000:00:02.0"), "boot VGA driving the active console");
                ASSERT_NULL(reason(s, "0000:01:00.0"));
        }

        /* fbcon bound (efifb, simpledrm: the framebuffer is no PCI device). */
        class_entry(root, "graphics", "fb0", "platform/simple-framebuffer.0/graphics/fb0",
                    "../../../simple-framebuffer.0");
        tree_file(root, "sys/devices/virtual/vtconsole/vtcon1/bind", "1\n");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                struct vc_pci_addr a;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_EQ(vc_critical_count(s), 1);
                ASSERT_STREQ(vc_critical_get(s, 0, &a), "boot VGA driving the active console");
                ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&a), "0000:00:02.0");
        }

        /* The same, but the kernel's consoles are a serial line only (console=ttyS0): nobody
         * uses the virtual terminal the framebuffer shows. */
        tree_file(root, "sys/class/tty/console/active", "ttyS0\n");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_EQ(vc_critical_count(s), 0);
        }

        /* A virtual terminal among them again (the default when no console= is given). */
        tree_file(root, "sys/class/tty/console/active", "tty0 ttyS0\n");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_STREQ(reason(s, "0000:00:02.0"), "boot VGA driving the active console");
        }

        /* The VGA text console (vgacon) counts like fbcon. */
        class_entry(root, "graphics", "fb0", "platform/simple-framebuffer.0/graphics/fb0",
                    "../../../simple-framebuffer.0");
        tree_file(root, "sys/devices/virtual/vtconsole/vtcon1/bind", "0\n");
        tree_file(root, "sys/devices/virtual/vtconsole/vtcon0/name", "(S) VGA+\n");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_STREQ(reason(s, "0000:00:02.0"), "boot VGA driving the active console");
        }
}

/* Three NVMe drives, 0000:0N:00.0 behind root port 00:0N.0, their disks nvme(N-1)n1. */
static char *three_nvme_tree(void) {
        char *root = tree_new();
        for (int n = 1; n <= 3; n++) {
                char dev[128], disk[256];
                snprintf(dev, sizeof dev, "pci0000:00/0000:00:0%d.0/0000:0%d:00.0", n, n);
                pci_dev(root, dev, "0x010802\n", -1);
                snprintf(disk, sizeof disk, "sys/devices/%s/nvme/nvme%d/nvme%dn1", dev, n - 1, n - 1);
                tree_dir(root, disk);
        }
        return root;
}

/* btrfs RAID1 over two NVMe drives: the source names one member; sys/fs/btrfs/FSID/devices/ links
 * both, and both controllers are critical. Another btrfs file system's members are not. */
TEST(storage_btrfs_members) {
        _cleanup_tree_ char *root = three_nvme_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        tree_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2/partition", "2\n");
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1/nvme1n1p2/partition", "2\n");
        tree_link(root, "sys/class/block/nvme0n1p2",
                  "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2");
        tree_link(root, "sys/fs/btrfs/4b1f0a6e-5d2c-4c55-9a3e-0d6f5a1c2b3d/devices/nvme0n1p2",
                  "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2");
        tree_link(root, "sys/fs/btrfs/4b1f0a6e-5d2c-4c55-9a3e-0d6f5a1c2b3d/devices/nvme1n1p2",
                  "../../../../devices/pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1/nvme1n1p2");
        tree_link(root, "sys/fs/btrfs/9c0ffee0-0000-4000-8000-000000000000/devices/nvme2n1",
                  "../../../../devices/pci0000:00/0000:00:03.0/0000:03:00.0/nvme/nvme2/nvme2n1");
        tree_dir(root, "sys/fs/btrfs/features");
        tree_file(root, "proc/self/mountinfo", "22 1 0:31 /@ / rw shared:1 - btrfs /dev/nvme0n1p2 rw\n"
                                               "30 22 0:40 / /srv rw shared:2 - btrfs /dev/nvme2n1 rw\n");
        /* (a separate /var or /usr would count: storage_var_usr) */
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:01:00.0"), "controller of the root filesystem /dev/nvme0n1p2");
        ASSERT_STREQ(reason(s, "0000:02:00.0"), "controller of the root filesystem /dev/nvme0n1p2");
        /* /srv's: not one the host cannot lose, but mounted (storage_in_use) */
        ASSERT_STREQ(reason(s, "0000:03:00.0"), "controller of /dev/nvme2n1, mounted at /srv");
        ASSERT_EQ(vc_critical_count(s), 3);
}

/* The same RAID1 over two dm-crypt mappings (each drive encrypted, as an installer makes it): the
 * source names one mapping, sys/fs/btrfs links both by their kernel names (dm-0, dm-1), and each
 * leads through its slave to its drive's controller. */
TEST(storage_btrfs_members_on_dm_crypt) {
        _cleanup_tree_ char *root = three_nvme_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        tree_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2/partition", "2\n");
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1/nvme1n1p2/partition", "2\n");
        tree_link(root, "sys/devices/virtual/block/dm-0/slaves/nvme0n1p2",
                  "../../../../pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2");
        tree_link(root, "sys/devices/virtual/block/dm-1/slaves/nvme1n1p2",
                  "../../../../pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1/nvme1n1p2");
        tree_file(root, "sys/devices/virtual/block/dm-0/dm/name", "luks-a\n");
        tree_file(root, "sys/devices/virtual/block/dm-1/dm/name", "luks-b\n");
        tree_link(root, "sys/class/block/dm-0", "../../devices/virtual/block/dm-0");
        tree_link(root, "sys/class/block/dm-1", "../../devices/virtual/block/dm-1");
        tree_link(root, "sys/fs/btrfs/4b1f0a6e-5d2c-4c55-9a3e-0d6f5a1c2b3d/devices/dm-0", "../../../../devices/virtual/block/dm-0");
        tree_link(root, "sys/fs/btrfs/4b1f0a6e-5d2c-4c55-9a3e-0d6f5a1c2b3d/devices/dm-1", "../../../../devices/virtual/block/dm-1");
        tree_file(root, "proc/self/mountinfo", "22 1 0:31 /@ / rw shared:1 - btrfs /dev/mapper/luks-a rw\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:01:00.0"), "controller of the root filesystem /dev/mapper/luks-a");
        ASSERT_STREQ(reason(s, "0000:02:00.0"), "controller of the root filesystem /dev/mapper/luks-a");
        ASSERT_NULL(reason(s, "0000:03:00.0"));
}

/* A separate /var (the journal, the package database, libvirt's state) and /usr are the
 * system's as / is; /home is only in use (storage_in_use). */
TEST(storage_var_usr) {
        _cleanup_tree_ char *root = three_nvme_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        tree_link(root, "sys/dev/block/259:0", "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1");
        tree_link(root, "sys/dev/block/259:1", "../../devices/pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1");
        tree_link(root, "sys/dev/block/259:2", "../../devices/pci0000:00/0000:00:03.0/0000:03:00.0/nvme/nvme2/nvme2n1");
        tree_file(root, "proc/self/mountinfo", "22 1 259:0 / /var rw shared:1 - ext4 /dev/nvme0n1 rw\n"
                                               "23 1 259:1 / /usr ro shared:2 - ext4 /dev/nvme1n1 ro\n"
                                               "24 1 259:2 / /home rw shared:3 - ext4 /dev/nvme2n1 rw\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:01:00.0"), "controller of the /var filesystem /dev/nvme0n1");
        ASSERT_STREQ(reason(s, "0000:02:00.0"), "controller of the /usr filesystem /dev/nvme1n1");
        ASSERT_STREQ(reason(s, "0000:03:00.0"), "controller of /dev/nvme2n1, mounted at /home");
        ASSERT_EQ(vc_critical_count(s), 3);
}

/* A file system mounted anywhere else (a /srv/data, a USB stick under /media) is in use: its
 * controller is refused as the root's is, with the mount point named, but it is not written into
 * the image's list (at boot nothing is mounted, and the mount may be gone by the next boot). The
 * host's own need wins over a use met first; a bind mount is walked once. */
TEST(storage_in_use) {
        _cleanup_tree_ char *root = three_nvme_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_free_ char *text = NULL;

        tree_link(root, "sys/dev/block/259:0", "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1");
        tree_link(root, "sys/dev/block/259:1", "../../devices/pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1");
        tree_file(root, "proc/self/mountinfo",
                  "22 1 0:20 / /proc rw shared:1 - proc proc rw\n"
                  "23 1 0:21 / /run rw shared:2 - tmpfs tmpfs rw\n"
                  "24 1 259:0 / /srv/data rw shared:3 - ext4 /dev/nvme0n1 rw\n"
                  "25 1 259:0 / /srv/data2 rw shared:3 - ext4 /dev/nvme0n1 rw\n"  /* a bind mount of it */
                  "26 1 259:1 / /home rw shared:4 - xfs /dev/nvme1n1 rw\n"
                  "27 1 259:1 /var /var rw shared:4 - xfs /dev/nvme1n1 rw\n"   /* the same disk's /var */
                  "28 1 0:50 / /mnt/nfs rw shared:5 - nfs4 server:/export rw\n"
                  "29 1 0:51 / /var/lib/docker/overlay2/x/merged rw shared:6 - overlay overlay rw\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:01:00.0"), "controller of /dev/nvme0n1, mounted at /srv/data");
        ASSERT_STREQ(reason(s, "0000:02:00.0"), "controller of the /var filesystem /dev/nvme1n1");
        ASSERT_NULL(reason(s, "0000:03:00.0")); /* nothing of it mounted */
        ASSERT_EQ(vc_critical_count(s), 2);
        ASSERT_OK(vc_critical_list_format(ctx, s, &text));
        ASSERT_STREQ(text, "0000:02:00.0 1af4:1000 controller of the /var filesystem /dev/nvme1n1\n");
        ASSERT_TRUE(vc_critical_reason_is_use(reason(s, "0000:01:00.0")));
        ASSERT_FALSE(vc_critical_reason_is_use(reason(s, "0000:02:00.0")));
        ASSERT_TRUE(vc_critical_reason_is_use("controller of tank/data, mounted at /tank/data"));
        ASSERT_FALSE(vc_critical_reason_is_use("NIC of the default route (eth0)"));
        ASSERT_FALSE(vc_critical_reason_is_use(NULL));
}

/* What the boot mounts (etc/fstab, without noauto) is in the image's list even when it is not mounted
 * now, or only "in use" now: a /home on the second of twin NVMe drives that an id match of a
 * boot = yes entry selects would otherwise be taken in the initramfs. Sources by UUID=, LABEL=
 * (fstab's \040, udev's \x20), PARTUUID= through the /dev/disk/by-* links, /dev paths through their
 * links or by name; nofail counts, noauto, network and pseudo file systems do not. */
TEST(storage_fstab) {
        _cleanup_tree_ char *root = three_nvme_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_free_ char *text = NULL;
        const char *d[] = { "pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1",
                            "pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1",
                            "pci0000:00/0000:00:03.0/0000:03:00.0/nvme/nvme2/nvme2n1" };
        char rel[512], target[512];

        for (int n = 0; n < 3; n++) {
                snprintf(rel, sizeof rel, "sys/devices/%s/nvme%dn1p1/partition", d[n], n);
                tree_file(root, rel, "1\n");
                snprintf(rel, sizeof rel, "sys/class/block/nvme%dn1p1", n);
                snprintf(target, sizeof target, "../../devices/%s/nvme%dn1p1", d[n], n);
                tree_link(root, rel, target);
                snprintf(rel, sizeof rel, "dev/nvme%dn1p1", n);
                tree_file(root, rel, "");
        }
        tree_link(root, "sys/dev/block/259:0", "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1");
        tree_link(root, "sys/dev/block/259:1", "../../devices/pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1/nvme1n1p1");
        tree_link(root, "dev/disk/by-uuid/0f3c9c1e-1111-4a4a-8b8b-222222222222", "../../nvme1n1p1");
        tree_link(root, "dev/disk/by-label/vm\\x20images", "../../nvme2n1p1");
        tree_file(root, "proc/self/mountinfo",
                  "22 1 259:0 / / rw shared:1 - ext4 /dev/nvme0n1p1 rw\n"
                  "23 22 259:1 / /home rw shared:2 - ext4 /dev/nvme1n1p1 rw\n");
        tree_file(root, "etc/fstab",
                  "# <file system> <mount point> <type> <options> <dump> <pass>\n"
                  "/dev/nvme0n1p1 / ext4 errors=remount-ro 0 1\n"
                  "UUID=0f3c9c1e-1111-4a4a-8b8b-222222222222 /home ext4 defaults 0 2\n"
                  "LABEL=vm\\040images /var/lib/vm\\040images xfs defaults,nofail 0 2\n"
                  "PARTUUID=aaaa-bbbb /mnt/gone ext4 defaults,nofail 0 2\n"
                  "/dev/nvme2n1p1 /mnt/backup ext4 noauto,user 0 0\n"
                  "server:/export /mnt/nfs nfs4 defaults 0 0\n"
                  "tmpfs /tmp tmpfs defaults 0 0\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:02:00.0"), "controller of /dev/nvme1n1p1, mounted at /home");
        ASSERT_OK(vc_critical_list_format(ctx, s, &text));
        ASSERT_STREQ(text, "0000:01:00.0 1af4:1000 controller of the root filesystem /dev/nvme0n1p1\n"
                           "0000:02:00.0 1af4:1000 controller of /dev/nvme1n1p1, mounted at /home at boot (/etc/fstab)\n"
                           "0000:03:00.0 1af4:1000 controller of /dev/nvme2n1p1, mounted at /var/lib/vm\\040images at boot (/etc/fstab)\n");
        /* the live scan does not read fstab: the running system's use decides there */
        ASSERT_NULL(reason(s, "0000:03:00.0"));
        ASSERT_FALSE(vc_critical_reason_is_use("controller of /dev/nvme1n1p1, mounted at /home at boot (/etc/fstab)"));

        /* a /dev path by name where no node is there (as sysfs names it); swap; noauto anywhere in the options */
        free(text);
        text = NULL;
        tree_file(root, "etc/fstab",
                  "/dev/nvme1n1p1 none swap sw 0 0\n"
                  "/dev/nvme2n1p1\t/srv\text4\tuser,noauto\n");
        _cleanup_free_ char *node = tree_path(root, "dev/nvme1n1p1");
        ASSERT_OK(unlink(node));
        ASSERT_OK(vc_critical_list_format(ctx, s, &text));
        ASSERT_STREQ(text, "0000:01:00.0 1af4:1000 controller of the root filesystem /dev/nvme0n1p1\n"
                           "0000:02:00.0 1af4:1000 controller of /dev/nvme1n1p1, swap at boot (/etc/fstab)\n");
}

/* A mount point holds a file system's label (udisks mounts a stick at /media/USER/LABEL), which
 * the stick's owner chose: its control bytes never reach a terminal, the journal or the list. */
TEST(storage_in_use_label) {
        _cleanup_tree_ char *root = three_nvme_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;

        tree_link(root, "sys/dev/block/259:0", "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1");
        tree_file(root, "proc/self/mountinfo", "24 1 259:0 / /media/u/\x1b]0;owned\x07 rw shared:3 - vfat /dev/nvme0n1 rw\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:01:00.0"), "controller of /dev/nvme0n1, mounted at /media/u/?]0;owned?");
}

/* A device others are built on, mounted or not: a physical volume of an active volume group
 * (whose logical volumes may be other VMs' disks), an MD member. Only the controllers of
 * devices with holders; not in the image's list either. */
TEST(storage_holders) {
        _cleanup_tree_ char *root = three_nvme_tree();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_free_ char *text = NULL;

        /* nvme0n1p1: a PV of the VG "vms", whose LVs no one mounts */
        tree_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1/partition", "1\n");
        tree_dir(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/holders");
        tree_link(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1/holders/dm-3",
                  "../../../../../../../../virtual/block/dm-3");
        tree_file(root, "sys/devices/virtual/block/dm-3/dm/name", "vms-win11\n");
        tree_link(root, "sys/class/block/nvme0n1",
                  "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1");
        tree_link(root, "sys/class/block/nvme0n1p1",
                  "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1");
        tree_link(root, "sys/class/block/dm-3", "../../devices/virtual/block/dm-3");
        /* nvme1n1: an MD member */
        tree_link(root, "sys/devices/pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1/holders/md0",
                  "../../../../../../../virtual/block/md0");
        tree_link(root, "sys/class/block/nvme1n1",
                  "../../devices/pci0000:00/0000:00:02.0/0000:02:00.0/nvme/nvme1/nvme1n1");
        /* nvme2n1: nothing on it */
        tree_dir(root, "sys/devices/pci0000:00/0000:00:03.0/0000:03:00.0/nvme/nvme2/nvme2n1/holders");
        tree_link(root, "sys/class/block/nvme2n1",
                  "../../devices/pci0000:00/0000:00:03.0/0000:03:00.0/nvme/nvme2/nvme2n1");
        tree_file(root, "proc/self/mountinfo", "");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:01:00.0"), "controller of /dev/nvme0n1p1, in use by dm-3 (vms-win11)");
        ASSERT_STREQ(reason(s, "0000:02:00.0"), "controller of /dev/nvme1n1, in use by md0");
        ASSERT_TRUE(vc_critical_reason_is_use(reason(s, "0000:02:00.0")));
        ASSERT_NULL(reason(s, "0000:03:00.0"));
        ASSERT_EQ(vc_critical_count(s), 2);
        ASSERT_OK(vc_critical_list_format(ctx, s, &text));
        ASSERT_STREQ(text, "");
}

/* What a USB device is asked against (lib/usb.h): the disk or NIC whose sysfs path passes through
 * the device's own directory. The xHCI is critical for both; of its devices, the stick holding /
 * and the adapter of the default route behind a hub are, with the host's own need before a use. */
/* @place's file @name, relative to @root (the build's sysconfdir and runstatedir differ between a
 * plain build and make distcheck). */
static char *place_rel(struct vc_ctx *ctx, const char *root, enum vc_place place, const char *name) {
        char *p = NULL;
        if (vc_ctx_path(ctx, place, &p, "%s", name) < 0)
                abort();
        char *rel = strdup(p + strlen(root) + 1);
        free(p);
        return rel;
}

TEST(usb_devices) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        const char *xhci = "pci0000:00/0000:00:14.0";

        pci_dev(root, xhci, "0x0c0330\n", -1);
        tree_file(root, "sys/devices/pci0000:00/0000:00:14.0/usb3/3-3/3-3:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1/partition",
                  "1\n");
        tree_link(root, "sys/dev/block/8:1",
                  "../../devices/pci0000:00/0000:00:14.0/usb3/3-3/3-3:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1");
        tree_dir(root, "sys/devices/pci0000:00/0000:00:14.0/usb3/3-3/3-3:1.0/host0/target0:0:0/0:0:0:0/block/sdb");
        tree_link(root, "sys/dev/block/8:16",
                  "../../devices/pci0000:00/0000:00:14.0/usb3/3-3/3-3:1.0/host0/target0:0:0/0:0:0:0/block/sdb");
        class_entry(root, "net", "enx001122334455", "pci0000:00/0000:00:14.0/usb3/3-1/3-1.4/3-1.4:1.0/net/enx001122334455",
                    "../../../3-1.4:1.0");
        tree_file(root, "proc/self/mountinfo", "30 1 8:16 / /media/data rw shared:2 - vfat /dev/sdb rw\n"
                                               "31 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n");
        tree_file(root, "proc/net/route",
                  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                  "enx001122334455\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(reason(s, "0000:00:14.0"), "controller of the root filesystem /dev/sda1");
        ASSERT_STREQ(vc_critical_usb_reason(s, "3-3"), "controller of the root filesystem /dev/sda1");
        ASSERT_STREQ(vc_critical_usb_reason(s, "3-1.4"), "NIC of the default route (enx001122334455)");
        ASSERT_STREQ(vc_critical_usb_reason(s, "3-1"), "NIC of the default route (enx001122334455)"); /* the hub */
        ASSERT_NULL(vc_critical_usb_reason(s, "3-1.2"));
        ASSERT_NULL(vc_critical_usb_reason(s, "3-4"));
        ASSERT_NULL(vc_critical_usb_reason(s, "3"));
}

/* A USB device under sys/bus/usb/devices with its ids and serial (NULL: none). */
static void usb_dev(const char *root, const char *devdir, const char *port, const char *ids, const char *serial) {
        char rel[512], target[512];
        snprintf(rel, sizeof rel, "sys/devices/%s/idVendor", devdir);
        tree_file(root, rel, (char[]){ ids[0], ids[1], ids[2], ids[3], '\n', 0 });
        snprintf(rel, sizeof rel, "sys/devices/%s/idProduct", devdir);
        tree_file(root, rel, (char[]){ ids[5], ids[6], ids[7], ids[8], '\n', 0 });
        if (serial) {
                snprintf(rel, sizeof rel, "sys/devices/%s/serial", devdir);
                tree_file(root, rel, serial);
        }
        snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s", port);
        snprintf(target, sizeof target, "../../../devices/%s", devdir);
        tree_link(root, rel, target);
}

/* The image's list names the USB devices the host needs, by port, ids and serial; at boot a
 * listed stick counts where its serial is now (the initramfs may number the buses otherwise), a
 * device without a serial at its port when its ids are there. */
TEST(usb_devices_in_the_list) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_free_ char *text = NULL;
        struct vc_critical_set *s = NULL;
        unsigned bad = 99;

        pci_dev(root, "pci0000:00/0000:00:14.0", "0x0c0330\n", -1);
        usb_dev(root, "pci0000:00/0000:00:14.0/usb3/3-3", "3-3", "0781:5583", "4C530001230526115313\n");
        usb_dev(root, "pci0000:00/0000:00:14.0/usb3/3-1/3-1.4", "3-1.4", "0b95:1790", "bad serial\n");
        tree_file(root, "sys/devices/pci0000:00/0000:00:14.0/usb3/3-3/3-3:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1/partition",
                  "1\n");
        tree_link(root, "sys/dev/block/8:1",
                  "../../devices/pci0000:00/0000:00:14.0/usb3/3-3/3-3:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1");
        class_entry(root, "net", "enx001122334455", "pci0000:00/0000:00:14.0/usb3/3-1/3-1.4/3-1.4:1.0/net/enx001122334455",
                    "../../../3-1.4:1.0");
        tree_file(root, "proc/self/mountinfo", "31 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n");
        tree_file(root, "proc/net/route",
                  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                  "enx001122334455\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_OK(vc_critical_list_format(ctx, s, &text));
        vc_critical_set_free(s);
        ASSERT_STREQ(text, "0000:00:14.0 1af4:1000 controller of the root filesystem /dev/sda1\n"
                           "usb 3-3 0781:5583 4C530001230526115313 controller of the root filesystem /dev/sda1\n"
                           "usb 3-1.4 0b95:1790 - NIC of the default route (enx001122334455)\n");

        /* at boot, in the initramfs: nothing mounted, no route; the stick on bus 1 there */
        _cleanup_free_ char *image = place_rel(ctx, root, VC_PLACE_SYSCONF, VC_CRITICAL_LIST_NAME);
        char list[1024];
        snprintf(list, sizeof list, "%s%s", text,
                 "usb 3-3 0781:5583 -\n"                 /* no reason */
                 "usb 3-0 0781:5583 - port zero\n"       /* no port path */
                 "usb 3-3 0781:558 - short id\n");
        tree_file(root, image, list);
        tree_file(root, "proc/self/mountinfo", "");
        tree_file(root, "proc/net/route", "");
        char gone[4096];
        snprintf(gone, sizeof gone, "%s/sys/bus/usb/devices/3-3", root);
        ASSERT_EQ(unlink(gone), 0);
        usb_dev(root, "pci0000:00/0000:00:14.0/usb1/1-3", "1-3", "0781:5583", "4C530001230526115313\n");
        ASSERT_EQ(vc_critical_list_carry(ctx, &bad), 1);
        ASSERT_EQ(bad, 4);
        vc_ctx_set_boot_critical(ctx, true);
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_STREQ(vc_critical_usb_reason(s, "1-3"), "controller of the root filesystem /dev/sda1 when the initramfs was built");
        ASSERT_STREQ(vc_critical_usb_reason(s, "3-1.4"), "NIC of the default route (enx001122334455) when the initramfs was built");
        ASSERT_STREQ(vc_critical_usb_reason(s, "3-1"), "NIC of the default route (enx001122334455) when the initramfs was built");
        ASSERT_NULL(vc_critical_usb_reason(s, "3-3"));
        vc_critical_set_free(s);

        /* another adapter at the NIC's port, another stick of the model: neither is the host's */
        usb_dev(root, "pci0000:00/0000:00:14.0/usb3/3-1/3-1.4", "3-1.4", "0bda:8153", NULL);
        tree_file(root, "sys/devices/pci0000:00/0000:00:14.0/usb1/1-3/serial", "4C530009999999999999\n");
        ASSERT_OK(vc_critical_scan(ctx, &s));
        ASSERT_NULL(vc_critical_usb_reason(s, "3-1.4"));
        ASSERT_NULL(vc_critical_usb_reason(s, "1-3"));
        vc_critical_set_free(s);
}

/* The list of the image's build (lib/critical.h): written from a scan, carried line by line,
 * read only by a boot context and only where the address holds a device of the line's id. */
TEST(boot_list) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;

        pci_dev(root, "pci0000:00/0000:00:04.0", "0x010000\n", -1); /* virtio-blk, 1af4:1000 here */
        pci_dev(root, "pci0000:00/0000:00:05.0", "0x020000\n", -1);
        pci_dev(root, "pci0000:00/0000:00:1f.2", "0x010601\n", -1);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        _cleanup_free_ char *image = place_rel(ctx, root, VC_PLACE_SYSCONF, VC_CRITICAL_LIST_NAME);
        _cleanup_free_ char *run = place_rel(ctx, root, VC_PLACE_RUN_STATE, VC_CRITICAL_LIST_NAME);

        /* the list of a running system: its root disk, one line, with the device's id */
        tree_file(root, "sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda2/partition", "2\n");
        tree_link(root, "sys/dev/block/252:2", "../../devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda2");
        tree_file(root, "proc/self/mountinfo", "22 1 252:2 / / rw,relatime shared:1 - ext4 /dev/vda2 rw\n");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                _cleanup_free_ char *text = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_OK(vc_critical_list_format(ctx, s, &text));
                ASSERT_STREQ(text, "0000:00:04.0 1af4:1000 controller of the root filesystem /dev/vda2\n");
        }

        /* at boot: nothing mounted; the image's list, good lines and bad */
        tree_file(root, "proc/self/mountinfo", "");
        tree_file(root, image,
                  "0000:00:05.0 1af4:1000 NIC of the default route (eth0)\n"
                  "0000:00:1f.2 8086:2922 controller of swap /dev/sda2\n" /* another machine's */
                  "0000:00:04.0 1AF4:1000 upper case\n"
                  "0000:00:04.0 1af4:1000\n"
                  "0000:00:04.0  1af4:1000 two spaces\n"
                  "0000:00:04.0 1af4:1000 a bell \a\n"
                  "00:04.0 1af4:1000 short address\n"
                  "0000:09:00.0 1af4:1000 a device not there\n");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s)); /* not carried, not asked for: nothing */
                ASSERT_EQ(vc_critical_count(s), 0);
        }
        unsigned bad;
        ASSERT_EQ(vc_critical_list_carry(ctx, &bad), 1);
        ASSERT_EQ(bad, 3); /* "1AF4:1000": not the form the list is written in */
        ASSERT_EQ(vc_critical_list_carry(ctx, &bad), 0); /* once a boot */
        {
                _cleanup_free_ char *p = NULL, *text = NULL;
                ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &p, "%s", VC_CRITICAL_LIST_NAME));
                ASSERT_OK(vc_read_file(p, &text));
                ASSERT_STREQ(text, "0000:00:05.0 1af4:1000 NIC of the default route (eth0)\n"
                                   "0000:00:1f.2 8086:2922 controller of swap /dev/sda2\n"
                                   "0000:09:00.0 1af4:1000 a device not there"); /* read without its last newline */
        }
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s)); /* a context that does not ask: the CLI's */
                ASSERT_EQ(vc_critical_count(s), 0);
        }
        vc_ctx_set_boot_critical(ctx, true);
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                _cleanup_free_ char *text = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_EQ(vc_critical_count(s), 1);
                ASSERT_STREQ(reason(s, "0000:00:05.0"), "NIC of the default route (eth0) when the initramfs was built");
                ASSERT_NULL(reason(s, "0000:00:1f.2"));
                /* what came from the list is never written into a list again */
                ASSERT_OK(vc_critical_list_format(ctx, s, &text));
                ASSERT_STREQ(text, "");
        }
        /* the live scan's reason comes first */
        tree_file(root, "proc/self/mountinfo", "22 1 252:2 / / rw,relatime shared:1 - ext4 /dev/vda2 rw\n");
        tree_file(root, run, "0000:00:04.0 1af4:1000 controller of the root filesystem /dev/vda1\n");
        {
                _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
                ASSERT_OK(vc_critical_scan(ctx, &s));
                ASSERT_STREQ(reason(s, "0000:00:04.0"), "controller of the root filesystem /dev/vda2");
                ASSERT_EQ(vc_critical_count(s), 1);
        }
}

int main(int argc, char **argv) { return tests_run(); }
