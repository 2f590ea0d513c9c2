/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The "reset =" key (vfio-claim.conf(5)) applied to a device: which reset methods the kernel may
 * use (the reset_method attribute, Linux 5.15+), and a reset of the function now (the reset
 * attribute). The kernel lists and accepts method names separated by spaces; "default" restores
 * the kernel's own order, and an empty write disables every method. A name the device does not
 * support is refused with EINVAL. */

#include "config.h"
#include "pci.h"
#include "root.h"

/* What to write to reset_method for @r: "default" for auto, "flr", "bus", "device_specific", and
 * "\n" for none (the kernel compares with sysfs_streq(), so a lone newline is the empty string). */
const char *vc_reset_method_value(enum vc_reset r);

/* Write the configured reset to the device's reset_method. 0 when written, -EOPNOTSUPP when the
 * kernel has no reset_method attribute for the device (before 5.15, or a device without any reset
 * method: the kernel hides the attribute then), otherwise the write's error (-EINVAL: the device
 * does not support that method). */
int vc_reset_method_apply(struct vc_ctx *ctx, const struct vc_pci_addr *addr, enum vc_reset r);

/* Does @r ask for a reset before the device goes back to its host driver? Only an explicitly
 * chosen method does (flr, bus, device_specific): with auto, vfio-pci has already reset the device
 * when the VM closed it; none means never. */
bool vc_reset_before_release(enum vc_reset r);

/* Reset the function now: one write of "1" to its reset attribute. -EOPNOTSUPP when the device has
 * no reset attribute (no reset method at all), otherwise the write's error. */
int vc_device_reset(struct vc_ctx *ctx, const struct vc_pci_addr *addr);
