/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel modules, through libkmod, behind one narrow function. */

#include "root.h"

/* Make sure the PCI driver @driver is registered: 0 at once when ROOT/sys/bus/pci/drivers/DRIVER
 * exists. Otherwise load @module_hint, or the driver's name with '-' turned into '_' (the way
 * the kernel names modules), with its dependencies; when libkmod knows no module of that name,
 * the name is looked up as an alias. Blacklists do not apply (like "modprobe NAME").
 * Returns -ENOENT when no such module exists, -ENXIO when the module loaded but the driver did
 * not appear, -EINVAL for a name that is not a plain word, another -errno from libkmod. */
int vc_module_ensure_driver(struct vc_ctx *ctx, const char *driver, const char *module_hint);

/* Is the PCI driver registered now? */
bool vc_module_driver_present(struct vc_ctx *ctx, const char *driver);
