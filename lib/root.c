/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "root.h"

struct vc_ctx {
        unsigned n_ref;
        char *root; /* no trailing slash; "" means the real "/" */
        unsigned unbind_timeout_ms;
        struct udev *udev;
        struct udev_hwdb *hwdb;
        bool hwdb_tried;
};

static const char *const place_paths[_VC_PLACE_MAX] = {
        [VC_PLACE_ROOT] = "",
        [VC_PLACE_PCI_BUS] = "/sys/bus/pci",
        [VC_PLACE_PCI_DEVICES] = "/sys/bus/pci/devices",
        [VC_PLACE_PCI_DRIVERS] = "/sys/bus/pci/drivers",
        [VC_PLACE_IOMMU_GROUPS] = "/sys/kernel/iommu_groups",
        [VC_PLACE_CLASS] = "/sys/class",
        [VC_PLACE_SYS_DEV_BLOCK] = "/sys/dev/block",
        [VC_PLACE_SYS_MODULE] = "/sys/module",
        [VC_PLACE_SYS_DEVICES] = "/sys/devices",
        [VC_PLACE_DEV_VFIO] = "/dev/vfio",
        [VC_PLACE_PROC] = "/proc",
        [VC_PLACE_RUN_STATE] = RUNSTATEDIR "/vfio-claim",
        [VC_PLACE_SYSCONF] = SYSCONFDIR "/vfio-claim",
        [VC_PLACE_MODPROBE_D] = "/etc/modprobe.d",
        [VC_PLACE_MODPROBE_D_RUN] = "/run/modprobe.d",
        [VC_PLACE_MODPROBE_D_LIB] = "/lib/modprobe.d",
        [VC_PLACE_MODPROBE_D_USR] = "/usr/lib/modprobe.d",
        [VC_PLACE_LIB_MODULES] = "/lib/modules",
        [VC_PLACE_UDEV_RULES_RUN] = "/run/udev/rules.d",
        [VC_PLACE_USB_BUS] = "/sys/bus/usb",
        [VC_PLACE_USB_DEVICES] = "/sys/bus/usb/devices",
        [VC_PLACE_USB_DRIVERS] = "/sys/bus/usb/drivers",
};

int vc_ctx_new(const char *root, struct vc_ctx **ret) {
        _cleanup_free_ char *r = NULL;

        if (!root || streq(root, "/"))
                root = "";
        else if (root[0] != '/')
                return -EINVAL; /* a relative root would change meaning with the working directory */
        r = strdup(root);
        if (!r)
                return -ENOMEM;
        for (size_t l = strlen(r); l > 0 && r[l - 1] == '/'; l--)
                r[l - 1] = '\0';

        struct vc_ctx *ctx = calloc(1, sizeof *ctx);
        if (!ctx)
                return -ENOMEM;
        ctx->n_ref = 1;
        ctx->root = TAKE_PTR(r);
        ctx->unbind_timeout_ms = 10000;
        *ret = ctx;
        return 0;
}

struct vc_ctx *vc_ctx_ref(struct vc_ctx *ctx) {
        if (ctx)
                ctx->n_ref++;
        return ctx;
}

struct vc_ctx *vc_ctx_unref(struct vc_ctx *ctx) {
        if (!ctx || --ctx->n_ref > 0)
                return NULL;
        udev_hwdb_unref(ctx->hwdb);
        udev_unref(ctx->udev);
        free(ctx->root);
        free(ctx);
        return NULL;
}

const char *vc_ctx_root(const struct vc_ctx *ctx) { return ctx->root[0] ? ctx->root : "/"; }
bool vc_ctx_is_host(const struct vc_ctx *ctx) { return ctx->root[0] == '\0'; }

unsigned vc_ctx_get_unbind_timeout_ms(const struct vc_ctx *ctx) { return ctx->unbind_timeout_ms; }
void vc_ctx_set_unbind_timeout_ms(struct vc_ctx *ctx, unsigned ms) { ctx->unbind_timeout_ms = ms; }

static bool relative_part_is_safe(const char *rel) {
        if (rel[0] == '/')
                return false;
        for (const char *p = rel; *p;) {
                size_t n = strcspn(p, "/");
                if ((n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
                        return false;
                p += n;
                p += strspn(p, "/");
        }
        return true;
}

int vc_ctx_pathv(const struct vc_ctx *ctx, enum vc_place place, char **ret, const char *fmt,
                 va_list ap) {
        _cleanup_free_ char *rel = NULL;
        char *p;

        if ((unsigned) place >= _VC_PLACE_MAX)
                return -EINVAL;
        if (fmt) {
                if (vasprintf(&rel, fmt, ap) < 0)
                        return -ENOMEM;
                if (!relative_part_is_safe(rel))
                        return -EINVAL;
        }
        if (asprintf(&p, "%s%s%s%s", ctx->root, place_paths[place], rel ? "/" : "",
                     rel ? rel : "") < 0)
                return -ENOMEM;
        if (!p[0]) { /* the real root itself */
                free(p);
                p = strdup("/");
                if (!p)
                        return -ENOMEM;
        }
        *ret = p;
        return 0;
}

int vc_ctx_path(const struct vc_ctx *ctx, enum vc_place place, char **ret, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = vc_ctx_pathv(ctx, place, ret, fmt, ap);
        va_end(ap);
        return r;
}

const char *vc_sysroot_from_environment(void) {
        const char *e = secure_getenv("VFIO_CLAIM_SYSROOT");
        return isempty(e) ? NULL : e;
}

struct udev *vc_ctx_get_udev(struct vc_ctx *ctx) {
        if (!ctx->udev)
                ctx->udev = udev_new();
        return ctx->udev;
}

struct udev_hwdb *vc_ctx_get_hwdb(struct vc_ctx *ctx) {
        if (!ctx->hwdb_tried) {
                ctx->hwdb_tried = true;
                struct udev *u = vc_ctx_get_udev(ctx);
                if (u)
                        ctx->hwdb = udev_hwdb_new(u);
        }
        return ctx->hwdb;
}
