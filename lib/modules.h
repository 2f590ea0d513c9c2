/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel modules, through libkmod, behind one narrow function.
 *
 * Modules are loaded only for the running system's root ("/"), with the host's own module
 * directory and modprobe.d (whose "install" commands run, as with modprobe). For any other root
 * (--sysroot) nothing is ever loaded and no command runs: the functions below note the modules
 * that would have been needed in the context (vc_ctx_get_modules_not_loaded()) and return
 * -EOPNOTSUPP; the root's index and modprobe.d serve lookups only. */

#include "root.h"

/* Make sure the PCI driver @driver is registered: 0 at once when ROOT/sys/bus/pci/drivers/DRIVER
 * exists. Otherwise load @module_hint, or the driver's name with '-' turned into '_' (the way
 * the kernel names modules), with its dependencies; when libkmod knows no module of that name,
 * the name is looked up as an alias. Blacklists do not apply (like "modprobe NAME").
 * Returns -ENOENT when no such module exists, -ENXIO when the module loaded but the driver did
 * not appear, -EINVAL for a name that is not a plain word, -EOPNOTSUPP for a root other than
 * "/" when the driver is not there, another -errno from libkmod. */
int vc_module_ensure_driver(struct vc_ctx *ctx, const char *driver, const char *module_hint);

/* Is the PCI driver registered now? */
bool vc_module_driver_present(struct vc_ctx *ctx, const char *driver);

/* Module names compare with '-' and '_' alike, as the kernel and kmod do. */
bool vc_module_name_equal(const char *a, const char *b);

/* Load what the host would load for a device with this modalias ("pci:v...": what udev's
 * 80-drivers.rules does at boot): every module libkmod's lookup names, except vfio_pci, with
 * blacklists applied. Returns how many of them are loaded now (already or by this call), 0 when
 * none is known or all are blacklisted, the first loading error when none could load, -EINVAL
 * for a string that is not a PCI modalias, -EOPNOTSUPP for a root other than "/" when the
 * lookup names a module (looked up in that root's index, noted, not loaded). */
int vc_module_load_for_modalias(struct vc_ctx *ctx, const char *modalias);

/* The registered PCI drivers (sys/bus/pci/drivers/D with a module link) of the modules libkmod's
 * lookup names for @modalias, blacklists applied, vfio modules left out: the drivers the host
 * means for such a device. NULL-terminated, possibly empty; returns how many. */
int vc_module_drivers_for_modalias(struct vc_ctx *ctx, const char *modalias, char ***ret);
