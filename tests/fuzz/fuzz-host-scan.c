/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the host-critical scan (lib/critical.h) over what the kernel shows of mounts, swaps,
 * routes, TCP sockets and the program's process. The input is eight texts separated by NUL bytes:
 * proc/self/mountinfo, proc/swaps, proc/net/route, proc/net/ipv6_route, proc/net/tcp,
 * proc/net/tcp6, proc/self/stat (its parent, its terminal; empty: under the sshd below, no
 * terminal) and proc/self/environ, the rest of the input (its variables NUL-separated:
 * SSH_CONNECTION with or without a zone, DISPLAY, WAYLAND_DISPLAY, XDG_SESSION_TYPE, XDG_VTNR)
 * of a root
 * where the program runs in an SSH session (an sshd ancestor holding socket 555 and 556,
 * lib/session.h) and whose sysfs holds an NVMe disk with a
 * partition an LVM volume is built on, a SATA disk, a USB stick under an xHCI, a virtio NIC,
 * a USB network adapter (their IPv6 addresses in proc/net/if_inet6), a USB keyboard and a USB
 * serial adapter's terminal (188:0), and an etc/fstab (fixed: UUID=, LABEL=, /dev sources, noauto,
 * swap, a control byte) for the list. Mount points come from file system labels (a stick's owner chooses
 * them) and sources from whoever mounted. Properties: the scan ends (0) and gives the same set
 * twice; every device it names is one of the root's PCI devices, every reason is free of control
 * bytes, and so is the reason of a USB device; the list it writes for an initramfs is carried
 * whole (every line valid) and unchanged. */

#include <stdio.h>

#include "critical.h"
#include "fileio.h"
#include "fuzz.h"
#include "root.h"

static struct vc_ctx *ctx;
static char *root_dir, *mountinfo, *swaps, *route, *route6, *tcp, *tcp6, *self_stat, *self_environ, *image, *run;

static void pci_dev(const char *devpath, const char *vendor, const char *device) {
        char rel[256], link[256];
        snprintf(rel, sizeof rel, "sys/devices/%s/vendor", devpath);
        fuzz_tree_file(root_dir, rel, vendor);
        snprintf(rel, sizeof rel, "sys/devices/%s/device", devpath);
        fuzz_tree_file(root_dir, rel, device);
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s", strrchr(devpath, '/') + 1);
        snprintf(link, sizeof link, "../../../devices/%s", devpath);
        fuzz_tree_link(root_dir, rel, link);
}

#define NVME "pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1"
#define SATA "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
#define STICK "pci0000:00/0000:00:14.0/usb3/3-3/3-3:1.0/host1/target1:0:0/1:0:0:0/block/sdb"
#define ADAPTER "pci0000:00/0000:00:14.0/usb3/3-1/3-1.4/3-1.4:1.0"
#define KEYBOARD "pci0000:00/0000:00:14.0/usb3/3-2/3-2:1.0/0003:0627:0001.0001/input/input2"
#define SERIAL "pci0000:00/0000:00:14.0/usb3/3-1/3-1.2/3-1.2:1.0/ttyUSB0/tty/ttyUSB0"
/* proc/self/stat when the input has none: under the sshd, no terminal */
#define SELF_STAT "900 (vfio-claim) R 890 900 800 0 -1 0\n"

static const char *const pci_devices[] = { "0000:00:01.0", "0000:01:00.0", "0000:00:1f.2",
                                            "0000:00:14.0", "0000:00:03.0" };

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char *dir = NULL;

        root_dir = (char *) fuzz_make_tmpdir();
        pci_dev("pci0000:00/0000:00:01.0", "0x8086\n", "0x7ab8\n"); /* root port */
        pci_dev("pci0000:00/0000:00:01.0/0000:01:00.0", "0x144d\n", "0xa80a\n");
        pci_dev("pci0000:00/0000:00:1f.2", "0x8086\n", "0x2922\n");
        pci_dev("pci0000:00/0000:00:14.0", "0x1b36\n", "0x000d\n");
        pci_dev("pci0000:00/0000:00:03.0", "0x1af4\n", "0x1041\n");

        fuzz_tree_file(root_dir, "sys/devices/" NVME "/nvme0n1p1/partition", "1\n");
        fuzz_tree_file(root_dir, "sys/devices/" NVME "/nvme0n1p2/partition", "2\n");
        fuzz_tree_link(root_dir, "sys/devices/" NVME "/nvme0n1p2/holders/dm-0", "../../../../../../../../virtual/block/dm-0");
        fuzz_tree_link(root_dir, "sys/devices/virtual/block/dm-0/slaves/nvme0n1p2", "../../../../pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2");
        fuzz_tree_file(root_dir, "sys/devices/virtual/block/dm-0/dm/name", "vg-root\n");
        fuzz_tree_file(root_dir, "sys/devices/" SATA "/sda1/partition", "1\n");
        fuzz_tree_file(root_dir, "sys/devices/" STICK "/sdb1/partition", "1\n");
        fuzz_tree_link(root_dir, "sys/class/block/nvme0n1", "../../devices/" NVME);
        fuzz_tree_link(root_dir, "sys/class/block/nvme0n1p1", "../../devices/" NVME "/nvme0n1p1");
        fuzz_tree_link(root_dir, "sys/class/block/nvme0n1p2", "../../devices/" NVME "/nvme0n1p2");
        fuzz_tree_link(root_dir, "sys/class/block/dm-0", "../../devices/virtual/block/dm-0");
        fuzz_tree_link(root_dir, "sys/class/block/sda", "../../devices/" SATA);
        fuzz_tree_link(root_dir, "sys/class/block/sda1", "../../devices/" SATA "/sda1");
        fuzz_tree_link(root_dir, "sys/class/block/sdb1", "../../devices/" STICK "/sdb1");
        fuzz_tree_link(root_dir, "sys/dev/block/259:0", "../../devices/" NVME);
        fuzz_tree_link(root_dir, "sys/dev/block/259:1", "../../devices/" NVME "/nvme0n1p1");
        fuzz_tree_link(root_dir, "sys/dev/block/259:2", "../../devices/" NVME "/nvme0n1p2");
        fuzz_tree_link(root_dir, "sys/dev/block/253:0", "../../devices/virtual/block/dm-0");
        fuzz_tree_link(root_dir, "sys/dev/block/8:0", "../../devices/" SATA);
        fuzz_tree_link(root_dir, "sys/dev/block/8:1", "../../devices/" SATA "/sda1");
        fuzz_tree_link(root_dir, "sys/dev/block/8:17", "../../devices/" STICK "/sdb1");
        fuzz_tree_link(root_dir, "sys/devices/pci0000:00/0000:00:03.0/virtio0/net/eth0/device", "../../../virtio0");
        fuzz_tree_link(root_dir, "sys/class/net/eth0", "../../devices/pci0000:00/0000:00:03.0/virtio0/net/eth0");
        fuzz_tree_link(root_dir, "sys/devices/" ADAPTER "/net/enx0011/device", "../../../3-1.4:1.0");
        fuzz_tree_link(root_dir, "sys/class/net/enx0011", "../../devices/" ADAPTER "/net/enx0011");
        fuzz_tree_link(root_dir, "sys/devices/virtual/net/br0/lower_eth0", "../../../pci0000:00/0000:00:03.0/virtio0/net/eth0");
        fuzz_tree_link(root_dir, "sys/class/net/br0", "../../devices/virtual/net/br0");
        /* the NICs' IPv6 addresses: eth0 fe80::1 and fd00::1, enx0011 fe80::2, lo ::1 */
        fuzz_tree_file(root_dir, "proc/net/if_inet6", "fe800000000000000000000000000001 02 40 20 80     eth0\n"
                                       "fd000000000000000000000000000001 02 40 00 80     eth0\n"
                                       "fe800000000000000000000000000002 03 40 20 80  enx0011\n"
                                       "00000000000000000000000000000001 01 80 10 80       lo\n");
        fuzz_tree_file(root_dir, "sys/fs/btrfs/features/x", "");
        /* what the boot mounts, for the image's list: by UUID and LABEL through dev/disk links, by
         * /dev path (a node there, or none), noauto, swap, a network share, a mount point with a
         * control byte and one with fstab's escapes, a link that climbs */
        fuzz_tree_file(root_dir, "dev/sda1", "");
        fuzz_tree_link(root_dir, "dev/disk/by-uuid/1234-ABCD", "../../sda1");
        fuzz_tree_link(root_dir, "dev/disk/by-label/my\\x20data", "../../nvme0n1p1");
        fuzz_tree_link(root_dir, "dev/disk/by-id/up", "../../../../etc");
        fuzz_tree_file(root_dir, "etc/fstab", "# <file system> <mount point> <type> <options> <dump> <pass>\n"
                               "UUID=1234-ABCD /boot/efi vfat umask=0077 0 1\n"
                               "LABEL=my\\040data /srv/my\\040data ext4 defaults,nofail 0 2\n"
                               "LABEL=\"my data\" /srv/quoted ext4 defaults 0 2\n"
                               "/dev/sdb1 /media/\x1b]0;x\x07 vfat defaults 0 0\n"
                               "/dev/mapper/vg-root none swap sw 0 0\n"
                               "/dev/sda1 /mnt ext4 noauto\n"
                               "ID=up /up ext4 defaults\n"
                               "PARTUUID=\\001 /p ext4 defaults\n"
                               "server:/export /mnt/nfs nfs4 defaults 0 0\n");
        /* the session's other things: a USB keyboard on the xHCI (its group 5), a USB serial
         * adapter's terminal (ttyUSB0, 188:0) */
        fuzz_tree_link(root_dir, "sys/devices/pci0000:00/0000:00:14.0/iommu_group", "../../../kernel/iommu_groups/5");
        fuzz_tree_file(root_dir, "sys/devices/" KEYBOARD "/capabilities/ev", "120013\n");
        fuzz_tree_file(root_dir, "sys/devices/" KEYBOARD "/capabilities/key", "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe\n");
        fuzz_tree_file(root_dir, "sys/devices/" KEYBOARD "/name", "QEMU QEMU USB Keyboard\n");
        fuzz_tree_link(root_dir, "sys/class/input/input2", "../../devices/" KEYBOARD);
        fuzz_tree_file(root_dir, "sys/devices/" SERIAL "/dev", "188:0\n");
        fuzz_tree_link(root_dir, "sys/dev/char/188:0", "../../devices/" SERIAL);
        self_stat = fuzz_tree_path(root_dir, "proc/self/stat");
        self_environ = fuzz_tree_path(root_dir, "proc/self/environ");
        fuzz_tree_file(root_dir, "proc/890/stat", "890 (sshd) S 1 890 890 0 -1 0\n");
        fuzz_tree_file(root_dir, "proc/890/comm", "sshd\n");
        fuzz_tree_link(root_dir, "proc/890/fd/3", "socket:[555]");
        fuzz_tree_link(root_dir, "proc/890/fd/4", "socket:[556]");
        tcp = fuzz_tree_path(root_dir, "proc/net/tcp");
        tcp6 = fuzz_tree_path(root_dir, "proc/net/tcp6");
        mountinfo = fuzz_tree_path(root_dir, "proc/self/mountinfo");
        swaps = fuzz_tree_path(root_dir, "proc/swaps");
        route = fuzz_tree_path(root_dir, "proc/net/route");
        route6 = fuzz_tree_path(root_dir, "proc/net/ipv6_route");
        if (vc_ctx_new(root_dir, &ctx) < 0 ||
            vc_ctx_path(ctx, VC_PLACE_SYSCONF, &image, "%s", VC_CRITICAL_LIST_NAME) < 0 ||
            vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &run, "%s", VC_CRITICAL_LIST_NAME) < 0 ||
            vc_ctx_path(ctx, VC_PLACE_SYSCONF, &dir, NULL) < 0 || vc_mkdir_p(dir, 0755) < 0)
                abort();
        free(dir);
        vc_ctx_set_session_critical(ctx, true);
        return 0;
}

static bool in_root(const struct vc_pci_addr *a) {
        for (size_t i = 0; i < ELEMENTSOF(pci_devices); i++)
                if (streq(VC_PCI_ADDR_TO_STRING(a), pci_devices[i]))
                        return true;
        return false;
}

/* The rest of the input, written to @path. */
static void rest_text(const uint8_t **data, size_t *size, const char *path) {
        fuzz_write_file(path, *data, *size);
        *data += *size;
        *size = 0;
}

/* The next of the input's NUL-separated texts, written to @path. */
static void next_text(const uint8_t **data, size_t *size, const char *path) {
        const uint8_t *end = memchr(*data, '\0', *size);
        size_t n = end ? (size_t) (end - *data) : *size;
        fuzz_write_file(path, *data, n);
        *data += end ? n + 1 : n;
        *size -= end ? n + 1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL, *again = NULL;
        _cleanup_free_ char *listed = NULL, *carried = NULL;

        if (size > 65536)
                return 0;
        next_text(&data, &size, mountinfo);
        next_text(&data, &size, swaps);
        next_text(&data, &size, route);
        next_text(&data, &size, route6);
        next_text(&data, &size, tcp);
        next_text(&data, &size, tcp6);
        next_text(&data, &size, self_stat);
        rest_text(&data, &size, self_environ);
        char first;
        FILE *f = fopen(self_stat, "re");
        bool empty = f && fread(&first, 1, 1, f) == 0;
        if (f)
                fclose(f);
        if (empty) /* the seeds of six texts keep the process tree they were written for */
                fuzz_write_file(self_stat, SELF_STAT, strlen(SELF_STAT));

        int r = vc_critical_scan(ctx, &s);
        if (r == -ENOMEM)
                return 0;
        fuzz_assert(r == 0);
        for (size_t i = 0; i < vc_critical_count(s); i++) {
                struct vc_pci_addr a;
                const char *reason = vc_critical_get(s, i, &a);
                if (!in_root(&a))
                        fuzz_fail("%s is no PCI device of the root", VC_PCI_ADDR_TO_STRING(&a));
                if (fuzz_has_control(reason))
                        fuzz_fail("a reason with a control byte: %s", reason);
        }
        static const char *const ports[] = { "3-3", "3-1.4", "3-1", "3-2" };
        for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
                const char *why = vc_critical_usb_reason(s, ports[i]);
                fuzz_assert(!why || !fuzz_has_control(why));
        }

        /* the same kernel, the same answer */
        if (vc_critical_scan(ctx, &again) < 0)
                return 0;
        fuzz_assert(vc_critical_count(again) == vc_critical_count(s));
        for (size_t i = 0; i < vc_critical_count(s); i++) {
                struct vc_pci_addr a, b;
                const char *ra = vc_critical_get(s, i, &a), *rb = vc_critical_get(again, i, &b);
                fuzz_assert(vc_pci_addr_equal(&a, &b) && streq(ra, rb));
        }

        /* the image's list: every line it writes is carried as written */
        if (vc_critical_list_format(ctx, s, &listed) < 0)
                return 0;
        fuzz_write_file(image, listed, strlen(listed));
        (void) unlink(run);
        unsigned bad;
        r = vc_critical_list_carry(ctx, &bad);
        if (r == -ENOMEM)
                return 0;
        if (isempty(listed))
                fuzz_assert(r == 1 || r == 0);
        else {
                fuzz_assert(r == 1);
                if (bad != 0)
                        fuzz_fail("line %u of the list the scan wrote is not carried:\n%s", bad, listed);
                if (vc_read_file(run, &carried) < 0)
                        fuzz_fail("the carried list cannot be read back");
                size_t n = strlen(listed); /* vc_read_file() strips the last newline */
                if (strlen(carried) + 1 != n || strncmp(carried, listed, n - 1) != 0)
                        fuzz_fail("the list changed on its way:\n%s\n---\n%s", listed, carried);
        }
        return 0;
}
