/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCI addresses (a value type) and PCI devices as sysfs describes them (an entity). */

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "root.h"

struct vc_pci_addr {
        uint16_t domain;
        uint8_t bus;
        uint8_t slot; /* 0..31 */
        uint8_t func; /* 0..7 */
};

#define VC_PCI_ADDR_STRLEN sizeof("dddd:bb:ss.f")

/* Strict: "DDDD:BB:SS.F" or "BB:SS.F", hexadecimal digits only, exact widths, slot <= 0x1f,
 * function <= 7. Anything else is -EINVAL. */
int vc_pci_addr_parse(const char *s, struct vc_pci_addr *ret);
/* Always "dddd:bb:ss.f", lower case, as the kernel names devices. */
const char *vc_pci_addr_format(const struct vc_pci_addr *a, char buf[static VC_PCI_ADDR_STRLEN]);
int vc_pci_addr_compare(const struct vc_pci_addr *a, const struct vc_pci_addr *b);
bool vc_pci_addr_equal(const struct vc_pci_addr *a, const struct vc_pci_addr *b);
#define VC_PCI_ADDR_TO_STRING(a) vc_pci_addr_format((a), (char[VC_PCI_ADDR_STRLEN]){})

/* "vvvv:dddd" or "vvvv:dddd:ssvv:ssdd", four hex digits each: -EINVAL otherwise. */
struct vc_pci_id {
        uint16_t vendor, device;
        bool has_subsystem;
        uint16_t subsystem_vendor, subsystem_device;
};
int vc_pci_id_parse(const char *s, struct vc_pci_id *ret);
/* The form vc_pci_id_parse() reads: "vvvv:dddd", with ":ssvv:ssdd" when @id has the subsystem. */
#define VC_PCI_ID_STRLEN sizeof("vvvv:dddd:ssvv:ssdd")
const char *vc_pci_id_format(const struct vc_pci_id *id, char buf[static VC_PCI_ID_STRLEN]);
#define VC_PCI_ID_TO_STRING(id) vc_pci_id_format((id), (char[VC_PCI_ID_STRLEN]){})
/* The one PCI id matcher: does a device whose ids are @have (has_subsystem set) carry @want?
 * Vendor and device always count, the subsystem ids only when @want has them. */
bool vc_pci_id_matches(const struct vc_pci_id *want, const struct vc_pci_id *have);

struct vc_pci_dev;

/* Read what sysfs says about the device at @addr. -ENODEV when there is none. Malformed
 * mandatory attributes (vendor, device, class) are -EBADMSG. */
int vc_pci_dev_read(struct vc_ctx *ctx, const struct vc_pci_addr *addr, struct vc_pci_dev **ret);
/* What identifies the device at @addr, for matching it against the configuration: its ids,
 * class and modalias (and the driver, when uevent names it) and its IOMMU group. Nothing else
 * is read: driver_override, the module, SR-IOV, bridge and boot_vga read as absent, so such a
 * device is never one to decide a move on. About half of vc_pci_dev_read()'s system calls. */
int vc_pci_dev_read_identity(struct vc_ctx *ctx, const struct vc_pci_addr *addr, struct vc_pci_dev **ret);
/* The device @before read again, as vc_pci_dev_read() reads it, but for driver_override, which is
 * @before's: only user space writes it (a probe, a module's load, a unit's stop do not), so for
 * a caller that holds the state lock and wrote nothing to it since @before, it is the same, and
 * nothing that takes the device's lock is read. For the engine's reads of a member again between
 * the moves of its group (a probe may have moved its driver): without this, each of them was a
 * round trip to the writer under the bounded reads (lib/root.h). -ENODEV when it is gone. */
int vc_pci_dev_read_again(struct vc_ctx *ctx, const struct vc_pci_dev *before, struct vc_pci_dev **ret);
/* For reading many devices (vc_topology_read()): the bus's devices directory opened once, and
 * the state directory looked at once for devices marked stuck. @flags: VC_PCI_READ_*. */
enum {
        /* A device's driver_override is read when first asked for (vc_pci_dev_driver_override()),
         * not with the device: two system calls a device fewer for a caller that looks at few
         * of them (doctor), two more for each one it does look at. Not for a caller that must
         * see it as it was with the driver (the engine), nor one that may ask after a write of
         * its own got stuck (the read would wait for the device lock; a write already pending
         * at the device's read is not read, as then). */
        VC_PCI_READ_OVERRIDE_ON_DEMAND = 1 << 0,
        /* Nothing that takes the device lock is read: driver_override reads as absent (NULL, not
         * read on demand either), sriov_numvfs as 0, and the ids come from modalias (without
         * one, from their own attributes), not uevent; nor is a write an earlier operation gave
         * up on waited for (lib/stuck.h), and vc_pci_dev_write_pending() is false. Linux holds a
         * device's lock for the whole of a driver's probe, so such a read can block for as long
         * as a probe stuck in a driver: for a caller under our lock that needs only addresses,
         * ids, bridges, groups and drivers (the generated udev rule, lib/boot.h; the devices
         * enable NAME and disable read again under the lock; docs/DESIGN.md, "The lock"). */
        VC_PCI_READ_NO_DEVICE_LOCK = 1 << 1,
};
struct vc_pci_reader;
int vc_pci_reader_new(struct vc_ctx *ctx, unsigned flags, struct vc_pci_reader **ret);
struct vc_pci_reader *vc_pci_reader_free(struct vc_pci_reader *rd);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_pci_reader *, vc_pci_reader_free);
/* vc_pci_dev_read() through @rd (NULL: as vc_pci_dev_read()). */
int vc_pci_dev_read_with(struct vc_ctx *ctx, struct vc_pci_reader *rd, const struct vc_pci_addr *addr,
                         struct vc_pci_dev **ret);
struct vc_pci_dev *vc_pci_dev_free(struct vc_pci_dev *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_pci_dev *, vc_pci_dev_free);

/* Every PCI device present, in address order. */
int vc_pci_dev_enumerate(struct vc_ctx *ctx, struct vc_pci_dev ***ret, size_t *ret_n);
void vc_pci_dev_array_free(struct vc_pci_dev **v, size_t n);

const struct vc_pci_addr *vc_pci_dev_addr(const struct vc_pci_dev *d);
const char *vc_pci_dev_name(const struct vc_pci_dev *d); /* "0000:01:00.0" */
uint16_t vc_pci_dev_vendor(const struct vc_pci_dev *d);
uint16_t vc_pci_dev_device(const struct vc_pci_dev *d);
uint16_t vc_pci_dev_subsystem_vendor(const struct vc_pci_dev *d);
uint16_t vc_pci_dev_subsystem_device(const struct vc_pci_dev *d);
uint32_t vc_pci_dev_class(const struct vc_pci_dev *d); /* 0xCCSSPP */
bool vc_pci_dev_is_bridge(const struct vc_pci_dev *d);
/* Current driver, NULL when unbound. */
const char *vc_pci_dev_driver(const struct vc_pci_dev *d);
/* Kernel module behind the driver (from drivers/X/module), NULL when built in or unbound. */
const char *vc_pci_dev_driver_module(const struct vc_pci_dev *d);
/* driver_override, NULL when not set ("(null)" in sysfs). */
const char *vc_pci_dev_driver_override(const struct vc_pci_dev *d);
/* IOMMU group number, -1 when the device has none. */
int vc_pci_dev_iommu_group(const struct vc_pci_dev *d);
/* The same for the device at @addr from its iommu_group link alone, without reading the device:
 * -ENODEV when there is no such device, -EBADMSG for a link whose name is no group number. */
int vc_pci_addr_iommu_group(struct vc_ctx *ctx, const struct vc_pci_addr *addr, int *ret);
/* 1 or 0, -1 when the attribute is absent (not a VGA device). */
int vc_pci_dev_boot_vga(const struct vc_pci_dev *d);
/* Space-separated reset methods, "" when the kernel offers none, NULL when it has no attribute.
 * This and the NUMA node (-1: none) are read from sysfs on the first call for @d, not with the
 * rest of the device (few callers ask; docs/PERFORMANCE.md, "Scale"). */
const char *vc_pci_dev_reset_method(const struct vc_pci_dev *d);
int vc_pci_dev_numa_node(const struct vc_pci_dev *d);
const char *vc_pci_dev_modalias(const struct vc_pci_dev *d);
/* SR-IOV: the physical function of a VF (false when this is no VF), number of VFs enabled. */
bool vc_pci_dev_physfn(const struct vc_pci_dev *d, struct vc_pci_addr *ret);
unsigned vc_pci_dev_num_vfs(const struct vc_pci_dev *d);
unsigned vc_pci_dev_total_vfs(const struct vc_pci_dev *d);
/* A write an earlier operation gave up on may still hold the device lock (lib/stuck.h):
 * driver_override and the number of VFs were not read (they read as unset and 0). */
bool vc_pci_dev_write_pending(const struct vc_pci_dev *d);
/* Bound to vfio-pci, or to a vfio variant driver (a vfio-dev/ directory exists). */
bool vc_pci_dev_is_on_vfio(const struct vc_pci_dev *d);
/* vc_pci_id_matches() with the ids of @d. */
bool vc_pci_dev_has_id(const struct vc_pci_dev *d, const struct vc_pci_id *want);
/* The canonical sysfs directory of the device (resolved, under the root). */
const char *vc_pci_dev_syspath(const struct vc_pci_dev *d);
/* The upstream device (bridge or root port), false for devices on a root bus. */
bool vc_pci_dev_parent(const struct vc_pci_dev *d, struct vc_pci_addr *ret);

/* Device class as a short word: "vga", "display", "audio", "ethernet", "nvme", "usb", ... */
const char *vc_pci_class_to_string(uint32_t class_code);

/* PCIe link as sysfs reports it; speeds in GT/s as text ("8.0 GT/s PCIe"), 0/NULL when absent. */
struct vc_pci_link {
        char *current_speed, *max_speed;
        unsigned current_width, max_width;
        double current_gts, max_gts; /* parsed speed in GT/s, 0 when unknown */
};
int vc_pci_dev_read_link(const struct vc_pci_dev *d, struct vc_pci_link *ret);
void vc_pci_link_done(struct vc_pci_link *l);
/* The link runs below what both ends can do (speed or width). */
bool vc_pci_link_degraded(const struct vc_pci_link *l);

/* Memory and I/O regions from the "resource" file: BAR0..5 and the expansion ROM. */
struct vc_pci_bar {
        unsigned index; /* 0..5, 6 = ROM */
        uint64_t start, size;
        bool io, mem64, prefetchable;
};
/* The used BARs (size > 0), in index order; *ret_n may be 0. */
int vc_pci_dev_read_bars(const struct vc_pci_dev *d, struct vc_pci_bar **ret, size_t *ret_n);

/* Vendor and model names from the udev hardware database; NULL when unknown. */
int vc_pci_dev_hwdb_names(struct vc_ctx *ctx, const struct vc_pci_dev *d, char **ret_vendor,
                          char **ret_model);
