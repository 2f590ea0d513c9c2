/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel modules, through libkmod: loading them (vc_module_ensure_driver() and the modalias
 * functions) and inspecting them without loading anything (vc_modinfo: what modprobe.d and the
 * kernel command line say, which modules a kernel has). Both live in this one file because both
 * go through the one dlopen'd libkmod (lib/modules.c) and read the modules of the one kernel
 * vc_module_kernel_release() chooses.
 *
 * Modules are loaded only for the running system's root ("/"), with the host's own module
 * directory and modprobe.d (whose "install" commands run, as with modprobe). For any other root
 * (--sysroot) nothing is ever loaded and no command runs: the functions below note the modules
 * that would have been needed in the context (vc_ctx_get_modules_not_loaded()) and return
 * -EOPNOTSUPP; the root's index and modprobe.d serve lookups only. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
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

/* Module names with '-' turned into '_', the way the kernel names modules. NULL on ENOMEM. */
char *vc_module_name_normalize(const char *name);

/* The release of the kernel whose modules count for @ctx's root: ROOT/proc/sys/kernel/osrelease
 * when the root has it (on "/" that is the running kernel), else, for a root other than "/",
 * the only release installed under ROOT/lib/modules, else the running kernel's (uname(2)).
 * Module loading and doctor both use this choice. Returns 0 and a string usable as one path
 * component, -EINVAL when the release found is not one ("", ".", "..", a '/'), -ENOMEM. */
int vc_module_kernel_release(struct vc_ctx *ctx, char **ret);

/* ---- inspection: nothing is loaded, no "install" command runs */

/* One entry of modprobe.d or of the root's kernel command line. */
struct vc_modconf_entry {
        char *module; /* normalized with '_' */
        char *value;  /* "" for a blacklist */
        bool cmdline; /* from the root's kernel command line, not from modprobe.d */
};

/* What the root's modprobe.d directories and its kernel command line (modprobe.blacklist=a,b and
 * MODULE.param=value) say about modules, in the order libkmod reads them, the command line last. */
struct vc_modconf {
        struct vc_modconf_entry *blacklist, *options, *softdeps, *installs;
        size_t n_blacklist, n_options, n_softdeps, n_installs;
};

enum vc_module_state {
        VC_MODULE_UNKNOWN,   /* no module index for the kernel under the root */
        VC_MODULE_MISSING,   /* the index does not have it */
        VC_MODULE_AVAILABLE, /* a module file the index names */
        VC_MODULE_LOADED,
        VC_MODULE_BUILTIN,
};

/* The modules of the root's kernel (vc_module_kernel_release()): its module directory, its
 * modprobe.d, read once. */
struct vc_modinfo;

/* Read the root's modprobe.d and module directory. @cmdline: the root's kernel parameters
 * (vc_cmdline_parse(); NULL for none). Without libkmod, or without a module directory for the
 * kernel, the inspector still answers from what it has (the command line, ROOT/sys/module, the
 * text indexes). Returns 0 or -ENOMEM. */
int vc_modinfo_new(struct vc_ctx *ctx, char *const *cmdline, struct vc_modinfo **ret);
struct vc_modinfo *vc_modinfo_free(struct vc_modinfo *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_modinfo *, vc_modinfo_free);

/* The kernel release the inspector reads (NULL when vc_module_kernel_release() found none). */
const char *vc_modinfo_kernel_release(const struct vc_modinfo *m);
const struct vc_modconf *vc_modinfo_config(const struct vc_modinfo *m);

/* Is module @name ('-' or '_') loaded (ROOT/sys/module/NAME/initstate), built in
 * (ROOT/sys/module/NAME without initstate, or modules.builtin), available (modules.dep.bin
 * through libkmod, else the text modules.dep), missing from the index, or unknown (no index, or
 * a name that is not a plain word)? */
enum vc_module_state vc_modinfo_module_state(const struct vc_modinfo *m, const char *name);

/* The modules (normalized names, in libkmod's order) the root's index resolves @alias to; empty
 * when there is no module directory or no libkmod. NULL-terminated; returns how many, or -ENOMEM. */
int vc_modinfo_lookup(const struct vc_modinfo *m, const char *alias, char ***ret);
