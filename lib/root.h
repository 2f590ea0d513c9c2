/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The context: which root directory the system lives under ("/" on a real host, a fake tree in
 * tests, a mounted image with --sysroot) and the handles every operation shares. Every path the
 * project touches is built by vc_ctx_path(); no other file spells out a sysfs, devfs or procfs path. */

#include <stdarg.h>
#include <stdbool.h>

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

/* Read the root directory override for programs that cannot take options (the libvirt hook, the
 * udev helper): VFIO_CLAIM_SYSROOT through secure_getenv(). NULL when unset. */
const char *vc_sysroot_from_environment(void);

/* Lazily created shared handles (NULL when unavailable). */
struct udev *vc_ctx_get_udev(struct vc_ctx *ctx);
struct udev_hwdb *vc_ctx_get_hwdb(struct vc_ctx *ctx);
