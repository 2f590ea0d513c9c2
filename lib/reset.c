/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>

#include "log.h"
#include "reset.h"
#include "sysfs.h"

const char *vc_reset_method_value(enum vc_reset r) {
        switch (r) {
        case VC_RESET_AUTO: return "default";
        case VC_RESET_FLR: return "flr";
        case VC_RESET_BUS: return "bus";
        case VC_RESET_DEVICE_SPECIFIC: return "device_specific";
        case VC_RESET_NONE: return "\n";
        default: return NULL;
        }
}

bool vc_reset_before_release(enum vc_reset r) {
        return r == VC_RESET_FLR || r == VC_RESET_BUS || r == VC_RESET_DEVICE_SPECIFIC;
}

static int device_attr(struct vc_ctx *ctx, const struct vc_pci_addr *addr, const char *attr, char **ret) {
        return vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, ret, "%s/%s", VC_PCI_ADDR_TO_STRING(addr), attr);
}

int vc_reset_method_apply(struct vc_ctx *ctx, const struct vc_pci_addr *addr, enum vc_reset r) {
        _cleanup_free_ char *p = NULL;
        const char *v = vc_reset_method_value(r);
        int k;

        if (!v)
                return -EINVAL;
        if ((k = device_attr(ctx, addr, "reset_method", &p)) < 0)
                return k;
        if (!vc_path_exists(p))
                return -EOPNOTSUPP;
        k = vc_sysfs_write(p, v);
        log_debug("%s: reset_method <- \"%s\": %s", VC_PCI_ADDR_TO_STRING(addr), r == VC_RESET_NONE ? "" : v,
                  k < 0 ? strerror(-k) : "ok");
        return k;
}

int vc_device_reset(struct vc_ctx *ctx, const struct vc_pci_addr *addr) {
        _cleanup_free_ char *p = NULL;
        int k;

        if ((k = device_attr(ctx, addr, "reset", &p)) < 0)
                return k;
        if (!vc_path_exists(p))
                return -EOPNOTSUPP;
        k = vc_sysfs_write(p, "1");
        log_debug("%s: reset <- 1: %s", VC_PCI_ADDR_TO_STRING(addr), k < 0 ? strerror(-k) : "ok");
        return k;
}
