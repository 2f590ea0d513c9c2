/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Devices the host cannot lose (docs/DESIGN.md, "The transaction", step 2): the storage
 * controllers behind "/", "/boot", "/boot/efi", a separate "/usr" or "/var" (the journal, the
 * package database, libvirt's state) and active swap, through device-mapper, MD and
 * LVM (all controllers of a multipath NVMe namespace), every device of a btrfs file system
 * that spans several (sys/fs/btrfs/FSID/devices), and of every member of a ZFS pool that
 * holds one of those file systems (the partitions udev's blkid builtin tags zfs_member with the
 * pool's name, read through libudev on the running system only); storage in use, found the same
 * way (the controller of any other file system mounted from a block device, of a block device
 * with holders: an LVM physical volume, an MD member, mounted or not, and of every member of an
 * imported ZFS pool, proc/spl/kstat/zfs/POOL/state); the NIC of every default route
 * (IPv4 and IPv6, through bridges, bonds and VLANs); the boot VGA device while a framebuffer
 * console is active; when the context asks (vc_ctx_set_session_critical(), the CLI), what the
 * session the program runs in stands on (lib/session.h): the NIC of its SSH session, the device of
 * the terminal it runs on (sys/dev/char), and, run from a virtual terminal or a local graphical
 * session, the controllers of the console's last keyboards, when every keyboard that stays out of
 * sys/devices/virtual sits below devices of one IOMMU group (lib/input.h). Everything else is
 * read under the context's root:
 *   proc/self/mountinfo, proc/swaps, proc/net/route, proc/net/ipv6_route,
 *   sys/dev/block, sys/class/block, sys/class/net, sys/class/graphics, sys/class/vtconsole,
 *   sys/fs/btrfs; for the session, proc/PID/stat and environ, sys/dev/char, sys/class/input. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "pci.h"
#include "root.h"

struct vc_critical_set;

/* Scan once. Missing sources (no /proc/swaps, no route table) are not errors; the set simply
 * holds what could be found. Only allocation failures are fatal. */
int vc_critical_scan(struct vc_ctx *ctx, struct vc_critical_set **ret);
struct vc_critical_set *vc_critical_set_free(struct vc_critical_set *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_critical_set *, vc_critical_set_free);

/* NULL when @addr is not critical; otherwise why, e.g. "controller of the root filesystem
 * /dev/vda1", "NIC of the default route (eth0)", "boot VGA driving the active console".
 * Valid as long as the set. */
const char *vc_critical_reason(const struct vc_critical_set *s, const struct vc_pci_addr *addr);

/* Is @reason (one of the reasons above) storage in use rather than what the host runs on: "controller
 * of /dev/sdb1, mounted at /srv/data", "controller of /dev/sdb, in use by dm-0 (vg-vms)"? Those go
 * once unmounted or closed. */
bool vc_critical_reason_is_use(const char *reason);

/* Is @reason what the session the program runs in needs (the CLI's, vc_ctx_set_session_critical()):
 * "NIC of the SSH session this command runs in (eno2, from 10.0.0.9)", "controller of the terminal
 * this command runs on (ttyUSB0)", "controller of the keyboard of the console this command runs on
 * (tty2: ...)"? Another session may take it. */
bool vc_critical_reason_is_session(const char *reason);

/* The keyboards of the console the command runs on (vc_ctx_set_session_critical()) below more than
 * one IOMMU group: none of their controllers is critical on its own, but one command must not take
 * them all. A command claims the devices @addrs of one group (those it moves off their drivers)
 * after the other: NULL when a keyboard stays with the host after that claim as after the ones this
 * set was told of before (they are remembered as taken), else the reason of the last keyboard
 * @addrs would take, *@ret_addr its controller, and nothing is remembered. Valid as long as the
 * set. */
const char *vc_critical_keyboards_take(struct vc_critical_set *s, const struct vc_pci_addr *addrs, size_t n,
                                       const struct vc_pci_addr **ret_addr);

/* Is @addr critical only because it is the boot VGA driving the active console? */
bool vc_critical_is_console(const struct vc_critical_set *s, const struct vc_pci_addr *addr);

/* The host-critical devices of the system an initramfs was built on. At boot the live scan above
 * cannot see them: in the initramfs the real root is not mounted yet, and in the real root, before
 * udev's coldplug, /boot, swap and the default route are not there yet either. So the initramfs
 * generators (dracut's module, initramfs-tools' hook) write the list of the system they run on
 * into the image at SYSCONF/vfio-claim/host-critical ("vfio-claim-udev --host-critical": one
 * "DDDD:BB:DD.F VVVV:DDDD REASON" line each, and for a USB device the host needs (a stick holding
 * the root file system, the USB NIC of the default route) one "usb PORT VVVV:PPPP SERIAL REASON"
 * line, SERIAL "-" when it has none that is one word, vc_critical_list_format()), the boot pass in the initramfs
 * carries it to RUN_STATE/host-critical (vc_critical_list_carry()), and every boot claim of that
 * boot (the helper's contexts, vc_ctx_set_boot_critical()) reads it there too, with the reason
 * "... when the initramfs was built": each line whose address holds a device of its id, since an
 * image built on another machine (an image builder's chroot) names that machine's devices; a USB
 * line where a device of its ids has its serial (any port: the initramfs may number the buses
 * otherwise), or without a serial, at its port (vc_critical_usb_reason()). */
#define VC_CRITICAL_LIST_NAME "host-critical"

/* @s as such a list, each device's id read under @ctx's root, without the console's VGA (a
 * single-GPU host hands it over at boot, console = handoff), without storage only in use (a mount,
 * a volume group: the next boot may not have it), without what came from a list and
 * without a device that has no id (gone); and, read here, the controllers of what the boot mounts:
 * each entry of @ctx's etc/fstab without "noauto" ("nofail" ones too: the host mounts them at every
 * boot when they are there), its source (UUID=, LABEL=, PARTUUID=, PARTLABEL=, ID= through the
 * /dev/disk/by-* links, a /dev path through its links or by the kernel's name) walked as a mount's
 * is, "controller of /dev/nvme1n1p1, mounted at /home at boot (/etc/fstab)" (swap: "..., swap at
 * boot (/etc/fstab)"); a device listed already keeps its line. -ENOMEM. */
int vc_critical_list_format(struct vc_ctx *ctx, const struct vc_critical_set *s, char **ret);

/* Copy the image's list to RUN_STATE, its valid lines only, unless an earlier run of this boot
 * did. *ret_bad_line: the number of the first line that is not one (0: none), for the caller to
 * name. 1 copied, 0 nothing to do, or a negative errno (-EBADMSG: the list holds a NUL byte). */
int vc_critical_list_carry(struct vc_ctx *ctx, unsigned *ret_bad_line);

/* Why the host cannot lose the USB device at the port path @port ("3-1.2"): the reason of a disk
 * or a network interface found above whose real sysfs path the device's own directory lies
 * ("controller of the root filesystem /dev/sda1", "NIC of the default route (enx…)"), the host's
 * own need before a mere use; NULL when none. Valid as long as the set. */
const char *vc_critical_usb_reason(const struct vc_critical_set *s, const char *port);

/* The device nodes of the block devices below the device whose sysfs directory is named @device
 * (a PCI address "0000:02:00.0", a USB port path "3-1.2"): its disks and their partitions
 * (sys/class/block entries whose real directory lies under the device's; for a USB controller the
 * disks of its sticks), as "/dev/NAME" with the kernel's '!' as '/'. A claim asks which processes
 * hold them open (lib/display.h, vc_display_holders()): a VM's QEMU using a disk raw keeps no
 * holder in sysfs. NULL-terminated, empty when there is none. -ENOMEM. */
int vc_block_nodes_below(struct vc_ctx *ctx, const char *device, char ***ret);

/* Do processes hold open a block device below one of @devices (as above; one walk of
 * sys/class/block and one of proc/ for them all)? Its unbind would not wait, but they would lose
 * the disk: 0 when none does; -EBUSY when some do, with the index in @devices of the first whose
 * node is held in *ret_device (when not NULL) and its holders in *ret_message ("/dev/sdb is open
 * by qemu-system-x86 (pid 4242)", vc_display_holders_format()); other -errno. udev's workers
 * ("(udev-worker)", "systemd-udevd"), which open every disk for a moment at its events, do not
 * count. */
int vc_block_holders_check(struct vc_ctx *ctx, const char *const *devices, size_t n_devices, size_t *ret_device,
                           char **ret_message);

size_t vc_critical_count(const struct vc_critical_set *s);
/* The i-th critical device (address order of discovery) and its reason. */
const char *vc_critical_get(const struct vc_critical_set *s, size_t i, struct vc_pci_addr *ret_addr);
