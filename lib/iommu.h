/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* IOMMU groups: the unit that moves between host drivers and vfio-pci. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "pci.h"
#include "root.h"

struct vc_group;

/* Which device a read of several failed on: set when one device's own read failed (its
 * sysfs entry, e.g. an iommu_group link that names no group), left unset when the failure is
 * elsewhere (a directory, memory). */
struct vc_read_failure {
        bool device_known;
        struct vc_pci_addr device;
};
#define VC_READ_FAILURE_PREFIX_MAX (VC_PCI_ADDR_STRLEN + 2)
/* "DDDD:BB:DD.F: " when @f names a device, "" when not: what goes before the error's text. */
const char *vc_read_failure_prefix(const struct vc_read_failure *f, char buf[static VC_READ_FAILURE_PREFIX_MAX]);
/* Read group @number and its members (sorted by address). -ENOENT when there is no such group.
 * @failure (may be NULL): above. */
int vc_group_read(struct vc_ctx *ctx, unsigned number, struct vc_group **ret, struct vc_read_failure *failure);
/* The same, @flags VC_PCI_READ_* (lib/pci.h) for the members' reads. */
int vc_group_read_full(struct vc_ctx *ctx, unsigned number, unsigned flags, struct vc_group **ret,
                       struct vc_read_failure *failure);
struct vc_group *vc_group_free(struct vc_group *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_group *, vc_group_free);

/* Group numbers present, ascending. An empty list when the host has no IOMMU groups. */
int vc_group_enumerate(struct vc_ctx *ctx, unsigned **ret, size_t *ret_n);

unsigned vc_group_number(const struct vc_group *g);
size_t vc_group_n_devices(const struct vc_group *g);
/* Members in address order: endpoints and bridges alike. */
struct vc_pci_dev *vc_group_device(const struct vc_group *g, size_t i);
size_t vc_group_n_endpoints(const struct vc_group *g);
/* True when every endpoint is on vfio-pci (or a vfio variant driver) and /dev/vfio/N exists. */
bool vc_group_is_claimed(struct vc_ctx *ctx, const struct vc_group *g);
bool vc_group_vfio_node_exists(struct vc_ctx *ctx, unsigned number);
/* Whether /dev/vfio/N existed when vc_topology_read() read @g (else looked at now). */
bool vc_group_has_vfio_node(struct vc_ctx *ctx, const struct vc_group *g);

/* Is there an IOMMU at all: /sys/class/iommu has entries, or groups exist. */
bool vc_iommu_present(struct vc_ctx *ctx);

/* Everything at once, read in one pass: every group with its members, and the devices that
 * belong to no group (all of them on a host without an IOMMU). */
struct vc_topology {
        struct vc_group **groups;
        size_t n_groups;
        struct vc_pci_dev **ungrouped;
        size_t n_ungrouped;
        /* Every grouped device's address and group, sorted by address: the group of a device is
         * a binary search, not a walk over all groups (thousands on SR-IOV hosts). */
        struct vc_topology_entry {
                struct vc_pci_addr addr;
                const struct vc_group *group;
        } *index;
        size_t n_index;
};
/* Every IOMMU group and PCI device of the host. @failure (may be NULL): see above. A program
 * with bounded device reads (lib/root.h: one that moves devices) reads a topology as with
 * VC_PCI_READ_NO_DEVICE_LOCK (lib/pci.h), here and in vc_topology_read_group(): such a program
 * decides on the groups it reads again with vc_group_read() (the engine, the hook, the boot
 * pass), whose reads of driver_override are bounded, and reading every device's that way would
 * cost a round trip to the writer each. */
int vc_topology_read(struct vc_ctx *ctx, struct vc_topology **ret, struct vc_read_failure *failure);
/* The same, @flags VC_PCI_READ_* (lib/pci.h) for the devices' reads. */
int vc_topology_read_full(struct vc_ctx *ctx, unsigned flags, struct vc_topology **ret,
                          struct vc_read_failure *failure);
struct vc_topology *vc_topology_free(struct vc_topology *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_topology *, vc_topology_free);
/* Only group @number and its members: what a command about one device or group needs (no other
 * group, no ungrouped device; vc_topology_find_group() finds only its members). -ENOENT when
 * there is no such group. */
int vc_topology_read_group(struct vc_ctx *ctx, unsigned number, struct vc_topology **ret,
                           struct vc_read_failure *failure);
/* The group holding @addr, NULL when none does. */
const struct vc_group *vc_topology_find_group(const struct vc_topology *t,
                                              const struct vc_pci_addr *addr);
