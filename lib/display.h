/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Display devices (PCI class 0x03) and the processes that hold them open. A driver unbind of a
 * GPU whose device nodes a process keeps open can wait until that process lets go (nvidia
 * always does; a DRM driver may), so the engine (lib/bind.c) asks before it writes anything and
 * refuses with the holders' names (docs/DESIGN.md, "The transaction and its invariants").
 *
 * The nodes of a device: /dev/dri/NAME for every cardN and renderDN under
 * sys/bus/pci/devices/ADDR/drm/, and for the nvidia driver /dev/nvidiaN, N the "Device Minor"
 * of proc/driver/nvidia/gpus/ADDR/information. The nodes every nvidia GPU shares
 * (/dev/nvidiactl, /dev/nvidia-modeset, /dev/nvidia-uvm) are not looked at.
 *
 * The holders: every process whose proc/PID/fd/N link reads as one of the nodes. Links are only
 * read (readlinkat(2)), never followed or stat()ed: a target may be on a file system that
 * blocks. Everything is read under the context's root. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "pci.h"
#include "root.h"

struct vc_display_holder {
        const char *node; /* one of the nodes asked about (borrowed from the caller's list) */
        pid_t pid;
        char *comm;       /* proc/PID/comm, control bytes as '?'; "?" when it could not be read */
};

void vc_display_holders_free(struct vc_display_holder *v, size_t n);

/* Is @class_code (0xCCSSPP) a display controller (VGA, XGA, 3D, other)? */
bool vc_display_class(uint32_t class_code);

/* The device nodes of the device @addr bound to @driver (NULL: unbound), as above, in the
 * order: cardN and renderDN by name, then /dev/nvidiaN; NULL-terminated, never NULL on
 * success (empty when it has none, also when it has no drm/ directory). -ENOMEM. */
int vc_display_nodes(struct vc_ctx *ctx, const struct vc_pci_addr *addr, const char *driver, char ***ret);

/* The processes that hold any of @nodes open: ordered by node, then by pid (a process once per
 * node). *ret (vc_display_holders_free()) is NULL when *ret_n is 0. A missing proc/ holds no
 * process; a process that went away or whose fds cannot be read is skipped. -ENOMEM, or the
 * -errno of a proc/ that cannot be listed. */
int vc_display_holders(struct vc_ctx *ctx, char *const *nodes, struct vc_display_holder **ret, size_t *ret_n);

/* "/dev/dri/card0 is open by Xorg (pid 812), gnome-shell (pid 990); /dev/dri/renderD128 is open
 * by ..." for @n > 0 holders as vc_display_holders() orders them. -ENOMEM. */
int vc_display_holders_format(const struct vc_display_holder *v, size_t n, char **ret);

/* All three for one device: 0 when no process holds a node of it (or it is no display device),
 * -EBUSY with *ret_message (vc_display_holders_format()) when some do, other -errno. */
int vc_display_check(struct vc_ctx *ctx, const struct vc_pci_addr *addr, uint32_t class_code, const char *driver,
                     char **ret_message);

/* Firmware framebuffers: the platform devices the kernel makes for the framebuffer the firmware
 * set up on the boot VGA (efi-framebuffer.N, simple-framebuffer.N, vesa-framebuffer.N under
 * sys/bus/platform/devices), driven by efifb, simplefb, simpledrm, vesafb and the like. While one
 * is bound it holds the VGA's memory, and vfio-pci's user cannot map it. */
struct vc_firmware_fb {
        char *device; /* "efi-framebuffer.0" */
        char *driver; /* the name of the driver it is bound to ("efi-framebuffer", "simple-framebuffer") */
};

void vc_firmware_fbs_free(struct vc_firmware_fb *v, size_t n);

/* Is @name a firmware framebuffer's platform device name, as above (the number at most 4 digits)? */
bool vc_firmware_fb_name_is_valid(const char *name);

/* The firmware framebuffers that are bound to a driver, by name. *ret (vc_firmware_fbs_free())
 * is NULL when *ret_n is 0, also when there is no sys/bus/platform. A device whose driver link
 * does not name a driver in letters, digits, '_', '.' and '-' is skipped. -ENOMEM. */
int vc_display_firmware_fbs(struct vc_ctx *ctx, struct vc_firmware_fb **ret, size_t *ret_n);

/* The VT consoles (sys/class/vtconsole/vtconN): the console drivers the virtual terminals can be
 * bound to (the dummy console, fbcon, the VGA text console). */
struct vc_vtconsole {
        char *name;   /* "vtcon1" */
        char *driver; /* its name file: "(S) dummy device", "(M) frame buffer device", "(S) VGA+" */
        bool bound;   /* its bind file reads 1 */
};

void vc_vtconsoles_free(struct vc_vtconsole *v, size_t n);

/* Is @c the dummy console (what the VTs fall back to when nothing else is bound)? */
bool vc_vtconsole_is_dummy(const struct vc_vtconsole *c);

/* Every vtconN (vc_vtconsole_name_is_valid(), lib/state.h) whose name and bind files read, in
 * the order of the directory. *ret (vc_vtconsoles_free()) is NULL when *ret_n is 0, also when
 * there is no vtconsole class. -ENOMEM. */
int vc_display_vtconsoles(struct vc_ctx *ctx, struct vc_vtconsole **ret, size_t *ret_n);
