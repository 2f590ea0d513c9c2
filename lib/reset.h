/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The "reset =" key (vfio-claim.conf(5)) applied to a device: which reset methods the kernel may
 * use (the reset_method attribute, Linux 5.15+), and a reset of the function now (the reset
 * attribute). The kernel lists and accepts method names separated by spaces; "default" restores
 * the kernel's own order, and an empty write disables every method. A name the device does not
 * support is refused with EINVAL. */

#include <stddef.h>

#include "config.h"
#include "pci.h"
#include "root.h"

/* The "reset =" of one endpoint, as the claim engine takes it (struct vc_claim_opts). */
struct vc_reset_choice {
        struct vc_pci_addr addr;
        enum vc_reset reset;
};

/* What to write to reset_method for @r: "default" for auto, "flr", "bus", "device_specific", and
 * "\n" for none (the kernel compares with sysfs_streq(), so a lone newline is the empty string). */
const char *vc_reset_method_value(enum vc_reset r);

/* Does @r ask for a reset before the device goes back to its host driver? Only an explicitly
 * chosen method does (flr, bus, device_specific): with auto, vfio-pci has already reset the device
 * when the VM closed it; none means never. */
bool vc_reset_before_release(enum vc_reset r);

/* What the "reset =" of the device at @addr asks for now, for the claim engine to write in its
 * transaction: at claim (@release false) the configured method for reset_method; before a release
 * (@release true) "1" for the reset attribute. auto writes nothing: the methods stay as the
 * kernel (or the admin) set them. On 0, *ret_path is the attribute (NULL: nothing to do) and
 * *ret_value the value. -EOPNOTSUPP when the reset asked for needs an attribute the kernel
 * does not offer for the device: reset_method (Linux 5.15+; the kernel also hides it for a device
 * without any method) for flr, bus and device_specific, reset for a reset before release. auto and
 * none need nothing where there is no attribute. */
int vc_reset_step(struct vc_ctx *ctx, const struct vc_pci_addr *addr, enum vc_reset r, bool release,
                  char **ret_path, const char **ret_value);

/* Does reset_method of the device at @addr already say what @r asks for? Always for auto (an
 * already claimed group keeps whatever the kernel or the admin set) and where the device has no
 * reset_method; none matches an empty list. */
bool vc_reset_method_is(struct vc_ctx *ctx, const struct vc_pci_addr *addr, enum vc_reset r);
