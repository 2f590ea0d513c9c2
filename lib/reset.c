/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>

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

int vc_reset_step(struct vc_ctx *ctx, const struct vc_pci_addr *addr, enum vc_reset r, bool release,
                  char **ret_path, const char **ret_value) {
        _cleanup_free_ char *p = NULL;
        const char *value = release ? "1" : vc_reset_method_value(r);
        int k;

        *ret_path = NULL;
        *ret_value = NULL;
        if (!vc_reset_method_value(r))
                return -EINVAL;
        if (release && !vc_reset_before_release(r))
                return 0;
        /* auto leaves reset_method as it is. Writing "default" makes Linux probe the methods
         * again, and a bus reset it listed at boot can vanish for good once another device shares
         * the bus (seen on 6.1 in the lab: "bus" became empty and could not be written back). */
        if (!release && r == VC_RESET_AUTO)
                return 0;
        k = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s/%s", VC_PCI_ADDR_TO_STRING(addr),
                        release ? "reset" : "reset_method");
        if (k < 0)
                return k;
        if (!vc_path_exists(p)) {
                if (!release && (r == VC_RESET_AUTO || r == VC_RESET_NONE))
                        return 0; /* nothing to restore or to disable */
                return -EOPNOTSUPP;
        }
        *ret_path = TAKE_PTR(p);
        *ret_value = value;
        return 0;
}

bool vc_reset_method_is(struct vc_ctx *ctx, const struct vc_pci_addr *addr, enum vc_reset r) {
        _cleanup_free_ char *p = NULL, *now = NULL;
        if (r == VC_RESET_AUTO)
                return true;
        if (vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s/reset_method", VC_PCI_ADDR_TO_STRING(addr)) < 0 ||
            vc_sysfs_read(p, &now) < 0)
                return true; /* nothing to compare with: the claim reports what it cannot write */
        return streq(now, r == VC_RESET_NONE ? "" : vc_reset_method_value(r));
}
