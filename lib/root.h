/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The context: which root directory the system lives under ("/" on the running host, or another
 * directory given with --sysroot or VFIO_CLAIM_SYSROOT) and the handles every operation shares.
 * Every path the project touches is built by vc_ctx_path(); no other file spells out a sysfs,
 * devfs or procfs path.
 *
 * A root other than "/" is a boundary, not a trusted system:
 * - Every file the library opens, creates, renames, removes or reads a link of goes through
 *   vc_path_open() and its siblings below. A path under such a root is resolved inside it:
 *   ".." stops at the root and every symbolic link, absolute or relative, is followed as if the
 *   root were "/" (openat2(2) with RESOLVE_IN_ROOT, on kernels before 5.6 a walk one component
 *   at a time that does the same). Nothing outside the root is opened, written or created through
 *   a link in it; a link that leads out ends inside the root, usually at a missing file (ENOENT).
 * - No kernel module is ever loaded for such a root and no modprobe.d "install" command of it is
 *   ever run (lib/modules.h): its module files and configuration are only read, for lookups.
 * - What is trusted: the root directory path itself (resolved as given, like any path the
 *   administrator types), and the content of the files in the tree, which the library parses as
 *   it would the host's (configuration, records, sysfs attributes: validated, never executed).
 * - Not confined: libkmod reads the tree's module index and modprobe.d with ordinary path
 *   lookups (read only; an absolute link there is followed on the host), and the kernel objects
 *   a write reaches are those of the tree's files, not of the running kernel. */

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "macro.h"

struct vc_ctx;

enum vc_place {
        VC_PLACE_ROOT,           /* the root itself */
        VC_PLACE_PCI_BUS,        /* /sys/bus/pci: drivers_probe, rescan */
        VC_PLACE_PCI_DEVICES,    /* /sys/bus/pci/devices */
        VC_PLACE_PCI_DRIVERS,    /* /sys/bus/pci/drivers */
        VC_PLACE_IOMMU_GROUPS,   /* /sys/kernel/iommu_groups */
        VC_PLACE_CLASS,          /* /sys/class: iommu, net, block, graphics, vtconsole, drm */
        VC_PLACE_SYS_DEV_BLOCK,  /* /sys/dev/block: major:minor -> device */
        VC_PLACE_SYS_DEV_CHAR,   /* /sys/dev/char: major:minor -> device (a terminal's) */
        VC_PLACE_SYS_MODULE,     /* /sys/module */
        VC_PLACE_SYS_DEVICES,    /* /sys/devices */
        VC_PLACE_DEV_VFIO,       /* /dev/vfio */
        VC_PLACE_PROC,           /* /proc */
        VC_PLACE_RUN_STATE,      /* /run/vfio-claim: lock and group records */
        VC_PLACE_SYSCONF,        /* /etc/vfio-claim: default configuration directory */
        VC_PLACE_MODPROBE_D,     /* /etc/modprobe.d */
        VC_PLACE_MODPROBE_D_RUN, /* /run/modprobe.d */
        VC_PLACE_MODPROBE_D_LIB, /* /lib/modprobe.d */
        VC_PLACE_MODPROBE_D_USR, /* /usr/lib/modprobe.d */
        VC_PLACE_LIB_MODULES,    /* /lib/modules: KVER/modules.dep, modules.builtin */
        VC_PLACE_UDEV_RULES_RUN, /* /run/udev/rules.d: the generated boot rule */
        VC_PLACE_USB_BUS,        /* /sys/bus/usb: drivers_probe */
        VC_PLACE_USB_DEVICES,    /* /sys/bus/usb/devices */
        VC_PLACE_USB_DRIVERS,    /* /sys/bus/usb/drivers */
        VC_PLACE_PLATFORM_DEVICES, /* /sys/bus/platform/devices: firmware framebuffers */
        VC_PLACE_PLATFORM_DRIVERS, /* /sys/bus/platform/drivers */
        VC_PLACE_SYS_FS_BTRFS,   /* /sys/fs/btrfs: each file system's member devices */
        _VC_PLACE_MAX,
};

/* @root: NULL or "/" for the running host, otherwise a directory. */
int vc_ctx_new(const char *root, struct vc_ctx **ret);
struct vc_ctx *vc_ctx_unref(struct vc_ctx *ctx);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_ctx *, vc_ctx_unref);
struct vc_ctx *vc_ctx_ref(struct vc_ctx *ctx);

const char *vc_ctx_root(const struct vc_ctx *ctx);
bool vc_ctx_is_host(const struct vc_ctx *ctx);

/* Build ROOT + PLACE [+ "/" + formatted relative part]. @fmt may be NULL. The relative part must
 * not climb out (no ".." component, no leading "/"): -EINVAL. */
int vc_ctx_path(const struct vc_ctx *ctx, enum vc_place place, char **ret, const char *fmt, ...)
        _printf_(4, 5);
int vc_ctx_pathv(const struct vc_ctx *ctx, enum vc_place place, char **ret, const char *fmt,
                 va_list ap) _printf_(4, 0);

/* Timeout of one unbind, in milliseconds (default 10000). */
unsigned vc_ctx_get_unbind_timeout_ms(const struct vc_ctx *ctx);
void vc_ctx_set_unbind_timeout_ms(struct vc_ctx *ctx, unsigned ms);
/* Are the device attributes whose read takes the device's lock (driver_override, sriov_numvfs,
 * uevent: lib/pci.h) read in the writer, each within the unbind timeout (lib/stuck.h)? Set by
 * vc_state_lock() once this program holds the state lock, and kept: a read that waits in the
 * kernel for a driver's probe that does not return must not keep every other vfio-claim run
 * (the hook, udev's claims) waiting for our lock. The programs that move devices (the CLI's
 * writing verbs, the hook, the udev helper) set it at their start: such a wait is one no signal
 * ends. Off by default: a command that holds no lock (list, status) may wait, as lspci does. */
bool vc_ctx_get_device_reads_bounded(const struct vc_ctx *ctx);
void vc_ctx_set_device_reads_bounded(struct vc_ctx *ctx, bool b);
/* Does the program hold the state lock? Set by vc_state_lock(), and kept (a program holds it
 * until it exits). Only a holder removes a device's stuck mark (lib/stuck.h): a reader without
 * the lock could remove it between two writes of a request still under way. */
bool vc_ctx_get_state_locked(const struct vc_ctx *ctx);
void vc_ctx_set_state_locked(struct vc_ctx *ctx, bool b);
/* Does the program change nothing on the system (the CLI's --dry-run)? Then its bounded reads
 * neither mark a device whose lock stays held nor remove a mark (lib/stuck.h). */
bool vc_ctx_get_dry_run(const struct vc_ctx *ctx);
void vc_ctx_set_dry_run(struct vc_ctx *ctx, bool b);
/* Does vc_critical_scan() also read the host-critical devices of the initramfs's build
 * (lib/critical.h)? Set by the udev helper for its boot claims; off by default. */
bool vc_ctx_get_boot_critical(const struct vc_ctx *ctx);
void vc_ctx_set_boot_critical(struct vc_ctx *ctx, bool b);
/* Does vc_critical_scan() also protect the NIC of the SSH session the program runs in (the sockets
 * of an sshd among its ancestors, lib/critical.h)? Set by the CLI, which an admin runs; off by
 * default (the hook runs under libvirtd, the udev helper under udevd). */
bool vc_ctx_get_session_critical(const struct vc_ctx *ctx);
void vc_ctx_set_session_critical(struct vc_ctx *ctx, bool b);

/* Read the root directory override for programs that cannot take options (the libvirt hook, the
 * udev helper): VFIO_CLAIM_SYSROOT through secure_getenv(). NULL when unset. */
const char *vc_sysroot_from_environment(void);

/* Modules a root other than "/" would have needed loaded (lib/modules.c notes them instead of
 * loading them), in the order first noted; NULL-terminated, never NULL. */
int vc_ctx_note_module_not_loaded(struct vc_ctx *ctx, const char *module);
char *const *vc_ctx_get_modules_not_loaded(const struct vc_ctx *ctx);

/* ---- opening files, confined to the root ----
 * @path is a path vc_ctx_path() built (or any other path). When it lies under the root of a live
 * context other than "/" (that root's string followed by "/" or the end), the rest is resolved
 * inside that root as described at the top of this file; otherwise it is opened as given. All
 * return a new fd (O_CLOEXEC always added) or -errno. */
int vc_path_open(const char *path, int flags, mode_t mode);
/* The directory that holds @path's last component, opened O_RDONLY|O_DIRECTORY inside the root,
 * and that component (pointing into @path): for mkdirat(), unlinkat(), renameat(), readlinkat().
 * -EINVAL for a last component that is empty, "." or "..". */
int vc_path_open_parent(const char *path, const char **ret_name);
/* stat(2) of @path (links followed, inside the root). */
int vc_path_stat(const char *path, struct stat *ret);
/* Give the unnamed file @fd (opened with O_TMPFILE) the name @name in the directory @dfd.
 * -EEXIST when the name is taken; other -errno from linkat(2). */
int vc_link_anonymous(int fd, int dfd, const char *name);
/* The path with every link resolved, as realpath(3) would inside the root: under a root other
 * than "/" it starts with that root's string. */
int vc_path_canonical(const char *path, char **ret);
/* How many leading bytes of @path name a root other than "/" it lies under (0: none). */
size_t vc_path_root_length(const char *path);
/* For many opens under one root at one system call each (the scans of every PCI device): a new
 * fd of the root @path lies under, its length in *ret_len; -ENOENT when it lies under none
 * (vc_path_open_under() then opens paths as given). */
int vc_path_root_fd(const char *path, size_t *ret_len);
/* vc_path_open() of @path with the root vc_path_root_fd() gave (@rootfd < 0: none). */
int vc_path_open_under(int rootfd, size_t root_len, const char *path, int flags);

/* The resolution itself, on an open directory @rootfd taken as "/": openat2(2) with
 * RESOLVE_IN_ROOT when the kernel has it, else vc_open_in_root_walk(). @rel is relative ("" is
 * the root). Exposed for tests. */
int vc_open_in_root(int rootfd, const char *rel, int flags, mode_t mode);
int vc_open_in_root_walk(int rootfd, const char *rel, int flags, mode_t mode);

/* Lazily created shared handles (NULL when unavailable). */
struct udev *vc_ctx_get_udev(struct vc_ctx *ctx);
struct udev_hwdb *vc_ctx_get_hwdb(struct vc_ctx *ctx);
/* The property @key of the block device @sysname in udev's database, which udev's blkid builtin
 * fills (ID_FS_TYPE, ID_FS_LABEL): only for the running system (libudev reads its /sys and /run,
 * -EOPNOTSUPP for another root or without libudev), -ENOENT when the device or the property is
 * not there, -ENOMEM. */
int vc_ctx_block_property(struct vc_ctx *ctx, const char *sysname, const char *key, char **ret);
/* The hwdb's vendor and model names of PCI id @vendor:@device (NULL when it has none), owned by
 * @ctx and asked of the database once per id and context; -ENOENT when it has neither. */
int vc_ctx_hwdb_pci_names(struct vc_ctx *ctx, uint16_t vendor, uint16_t device, const char **ret_vendor,
                          const char **ret_model);
