/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCI expansion ROMs: read a function's ROM through its sysfs "rom" attribute, check an image's
 * signature, save it, and tell whether the user QEMU runs as can read a ROM file.
 *
 * The "rom" attribute (Linux drivers/pci/pci-sysfs.c, pci_write_rom() and pci_read_rom(); mode
 * 0600, present only when the function has a ROM BAR): reading fails with EINVAL until a write
 * enables it; any write but exactly "0\n" enables it, "0\n" disables it again. A read of an
 * enabled ROM whose image the kernel cannot find (no 0x55 0xAA signature at its start) fails
 * with EIO. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pci.h"
#include "root.h"

/* The most vfio-claim reads or checks of one ROM (a ROM BAR is at most 16 MiB: bits 31..11 of
 * the register, in practice 64 KiB to 2 MiB). */
#define VC_ROM_MAX (16u * 1024 * 1024)

/* Read the ROM of @addr: enable reading, read the image, disable reading again (also after a
 * failed read). -ENOENT when the function has no "rom" attribute (no ROM BAR), -EIO when the
 * kernel finds no ROM image, -EFBIG beyond VC_ROM_MAX, -ENODATA for an empty read. */
int vc_rom_read(struct vc_ctx *ctx, const struct vc_pci_addr *addr, uint8_t **ret, size_t *ret_len);

/* Does the image start with the PCI expansion ROM signature 0x55 0xAA? */
bool vc_rom_has_signature(const uint8_t *buf, size_t len);

/* The user and group QEMU runs as under libvirt: `user =` and `group =` of
 * ROOT/etc/libvirt/qemu.conf when it is readable and sets them, else Debian's libvirt default
 * (libvirt-qemu, and that user's group). *ret_from_config tells which. Values are as written
 * ("+64055" names a number, as libvirt reads it); *ret_group may be NULL (the user's own). */
int vc_qemu_user(struct vc_ctx *ctx, char **ret_user, char **ret_group, bool *ret_from_config);

/* Resolve a user (name or "+UID") and an optional group (name or "+GID"; NULL: the user's
 * primary group) to ids and the user's supplementary groups (none for a "+UID" without a passwd
 * entry). -ESRCH when the name is unknown on this system. */
struct vc_identity {
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
};
int vc_identity_resolve(const char *user, const char *group, struct vc_identity *ret);
void vc_identity_done(struct vc_identity *id);

/* Can @id read @path, judged from the mode bits (owner, group, other; ACLs and security modules
 * are not consulted) of the file and of every directory above it (search permission)? Links are
 * resolved first. 1: yes; 0: no, *ret_blocker (when non-NULL) names the file or directory that
 * stops it; -errno when a component cannot be examined (-ENOENT: missing). */
int vc_path_readable_by(const char *path, const struct vc_identity *id, char **ret_blocker);
