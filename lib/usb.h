/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* USB devices as sysfs shows them (/sys/bus/usb/devices): a device "B-P.P" (its port path),
 * its interfaces "B-P.P:C.I" and their host drivers, and the PCI host controller it sits
 * behind. Hubs and root hubs are not listed: they are not passed through on their own. */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "critical.h"
#include "macro.h"
#include "pci.h"
#include "root.h"

struct vc_usb_iface {
        char *name;   /* "3-1.2:1.0" */
        unsigned cls, subclass, protocol; /* bInterfaceClass, bInterfaceSubClass, bInterfaceProtocol */
        char *driver; /* NULL: no driver */
};

struct vc_usb_dev {
        char *port; /* "3-1.2" */
        unsigned vendor, product, busnum, devnum, cls;
        /* NULL when the device has none, or when not read: serial_read, strings_read (all three) */
        char *serial, *manufacturer, *product_name;
        bool serial_read, strings_read;
        struct vc_usb_iface *ifaces;
        size_t n_ifaces;
        bool has_controller; /* the PCI function of the host controller */
        struct vc_pci_addr controller;
        int group; /* the controller's IOMMU group, -1 when none */
};

/* What is read of a device besides its ids, class, bus address, interfaces and controller.
 * VC_USB_READ_STRINGS: the string descriptors (serial, manufacturer, product). Linux takes the
 * device's lock to show them (drivers/usb/core/sysfs.c), which a driver holds while it probes or
 * resets the device, for seconds or longer when the device misbehaves: a program that holds the
 * state lock (lib/state.h) asks without it, and reads a serial it needs with a bound
 * (vc_usb_dev_read_serial(), vc_usb_config_match()). */
enum { VC_USB_READ_STRINGS = 1 << 0 };

/* One device by its port path: -ENOENT when nothing is plugged there, -EINVAL for a path that is
 * not a port path or names a hub. */
int vc_usb_dev_read(struct vc_ctx *ctx, const char *port, unsigned flags, struct vc_usb_dev *ret);
void vc_usb_dev_done(struct vc_usb_dev *d);
/* Every device that is not a hub, in port path order (bus, then ports numerically). A host
 * without USB is an empty list. A device that cannot be read (unplugged while it is read: ENOENT
 * or ENODEV, or any other error but ENOMEM) is left out: one device does not fail the list. */
int vc_usb_enumerate(struct vc_ctx *ctx, unsigned flags, struct vc_usb_dev **ret, size_t *ret_n);
/* @d's serial, when not read yet, read in the writer process within the unbind timeout
 * (lib/stuck.h): 0, or -ETIMEDOUT when a driver held the device that long (the serial stays
 * unread). */
int vc_usb_dev_read_serial(struct vc_ctx *ctx, struct vc_usb_dev *d);
void vc_usb_devs_free(struct vc_usb_dev *v, size_t n);

/* What the host-critical scan @critical (lib/critical.h) found through a disk or a network interface
 * below @d, NULL in *ret_reason when nothing: "it holds the root filesystem /dev/sda1", "it holds
 * /dev/sdb1, mounted at /media/stick", "it holds /dev/sdb, in use by dm-0 (luks-…)" (device-mapper,
 * MD, LVM followed), "it is the NIC of the default route (enx…)". 0 or -ENOMEM. */
int vc_usb_dev_needed(const struct vc_critical_set *critical, const struct vc_usb_dev *d, char **ret_reason);

/* Why the host cannot lose @d, NULL in *ret_reason when it can: a keyboard (an interface of the
 * HID boot keyboard class 03/01/01: "it is a keyboard (interface 3-2:1.0)"), or what
 * vc_usb_dev_needed() finds in @critical (NULL: scanned here). 0 or a negative errno. */
int vc_usb_dev_protected(struct vc_ctx *ctx, const struct vc_critical_set *critical, const struct vc_usb_dev *d,
                         char **ret_reason);

/* The record of an enabled device: RUNSTATEDIR/vfio-claim/usb-PORT, lines "id VVVV:PPPP",
 * "serial S" (when it has one), "by BY" (a hold the initramfs made, vc_usb_hold()), "interface
 * NAME DRIVER" for each interface it took from a driver and "owner VM" (the hook's). Written
 * before the first unbind. A record outlives the device's unplug: vc_usb_is_enabled() says only
 * that the port has one, vc_usb_record_is_of() whether it is the device's plugged in there. */
bool vc_usb_is_enabled(struct vc_ctx *ctx, const char *port);
/* Is the record of @d's port @d's own: its "id" line is @d's ids and, when it has a "serial"
 * line, @d's serial is that one (read with vc_usb_dev_read_serial() when not read yet: bounded).
 * 1 yes; 0 no, it is another device's, unplugged since (a stale record: a device without a
 * record, for what takes it, which replaces the record); -ENOENT without a record; -EBADMSG for
 * a record without an "id" line; or the serial read's error (-ETIMEDOUT: cannot tell). */
int vc_usb_record_is_of(struct vc_ctx *ctx, struct vc_usb_dev *d);
/* Take every interface of @d from its host driver (bus/usb/drivers/D/unbind), recorded. On a
 * failed unbind the interfaces already taken are bound again and the record removed (a stale
 * one put back); the error is returned, the failing interface in *ret_failed (static storage of
 * @d). 0, or 1 when a stale record (vc_usb_record_is_of()) was replaced; -EEXIST when the device
 * is enabled already (its own record); vc_usb_record_is_of()'s error when it cannot tell. */
int vc_usb_enable(struct vc_ctx *ctx, struct vc_usb_dev *d, const char **ret_failed);
/* Bind every recorded interface of the device at @port to its driver again and remove the
 * record: 0. -ENOENT without a record. An interface that is gone (unplugged) or bound already is
 * skipped. A device plugged in at @port that is not the record's (vc_usb_record_is_of(): the
 * recorded one was unplugged, this one plugged in since) was never held: nothing is bound (the
 * record's drivers are another device's), only the record goes: 1. vc_usb_record_is_of()'s error
 * when it cannot tell (a serial the record names not read in time): nothing changed. A damaged
 * record without its id line is given back as its interface lines say. */
int vc_usb_disable(struct vc_ctx *ctx, const char *port);

/* Does the entry select @d: ids, and serial or port when it names one (an entry that names a
 * serial selects no device whose serial was not read). */
bool vc_config_usb_selects(const struct vc_config_usb *u, const struct vc_usb_dev *d);
/* The first entry, in reading order, that selects @d; NULL when none does. */
const struct vc_config_usb *vc_config_match_usb(const struct vc_config *c, const struct vc_usb_dev *d);
/* vc_config_match_usb() after reading @d's serial (vc_usb_dev_read_serial()) when an entry of its
 * ids names one: 0, or that read's error, with *@ret the first entry that selects @d without it
 * (NULL: none). */
int vc_usb_config_match(struct vc_ctx *ctx, const struct vc_config *c, struct vc_usb_dev *d,
                        const struct vc_config_usb **ret);

/* ------------------------------------------------------------------ kept off across replug and boot
 *
 * Linux 6.1 has no driver_override for USB interfaces (drivers/usb/core/driver.c matches id
 * tables and dynamic ids only), and a deauthorized interface cannot be claimed through usbfs
 * either, which is how QEMU takes it. So a host driver that binds a held device's interface is
 * unbound again at its "bind" uevent, which udev runs vfio-claim-udev for (lib/boot.h, the
 * generated rule). "usbfs" (a VM's QEMU) is never taken. */

/* The "id" line of the record of @port: -ENOENT without a record. */
int vc_usb_record_id(struct vc_ctx *ctx, const char *port, unsigned *ret_vendor, unsigned *ret_product);
/* Keep @d off host drivers: without a record of its own (none, or a stale one), vc_usb_enable(),
 * the record naming @by ("by BY": the boot pass in the initramfs, VC_BOOT_BY_PASS_INITRD) when
 * not NULL; with one, every interface bound to a host driver is added to the record (when it is
 * not listed) and unbound; when an unbind fails, the interfaces this call unbound are bound
 * again (the record keeps the lines it gained). *ret_taken: how many interfaces were unbound. 0,
 * 1 when a stale record was replaced, or a negative errno (vc_usb_record_is_of()'s: cannot tell). */
int vc_usb_hold(struct vc_ctx *ctx, struct vc_usb_dev *d, const char *by, unsigned *ret_taken,
                const char **ret_failed);
/* Who took the device at @port, from the "by" line of its record: NULL in *ret_by when none (an
 * enable, the hook); -ENOENT without a record. */
int vc_usb_record_by(struct vc_ctx *ctx, const char *port, char **ret_by);
/* Does entry @u select the device recorded at @port, by the record alone (plugged in or not): its
 * "id" line is the entry's ids, @port its port when it names one, and its "serial" line the
 * serial the entry names. 1 yes, 0 no; -ENODATA when the entry names a serial and the record none
 * (the device's own serial tells: vc_config_usb_selects()); -ENOENT without a record, -EBADMSG
 * for one without an "id" line. */
int vc_usb_record_selected(struct vc_ctx *ctx, const struct vc_config_usb *u, const char *port);
/* The port paths of the devices with a record, NULL-terminated. */
int vc_usb_records(struct vc_ctx *ctx, char ***ret_ports);

/* The ids whose USB events the generated udev rule hands to vfio-claim-udev: those of boot = yes
 * entries and of every enabled device (its record), each once, with the reason. */
struct vc_usb_held_id {
        unsigned vendor, product;
        char why[160];
};
int vc_usb_held_ids(struct vc_ctx *ctx, const struct vc_config *cfg, struct vc_usb_held_id **ret, size_t *ret_n);

/* Is @d to be held: its port has its record (vc_usb_record_is_of(): enabled, then replugged), or,
 * when @boot (its add event, the boot pass), a boot = yes entry selects it (then *@ret_by_entry,
 * when not NULL, is true: a hold nobody asked for by hand, lib/critical.h's checks apply). A
 * device given back with `disable` has no record, and a device plugged in where another one's
 * record stayed has none of its own: their drivers' bind events leave them alone. 1 yes, 0 no,
 * or vc_usb_record_is_of()'s or vc_usb_config_match()'s error (a serial could not be read: the
 * caller cannot tell). */
int vc_usb_should_hold(struct vc_ctx *ctx, const struct vc_config *cfg, struct vc_usb_dev *d, bool boot,
                       bool *ret_by_entry);
/* The USB event udev hands vfio-claim-udev (ACTION, SUBSYSTEM, DEVTYPE, DEVPATH): 1 the "add" of
 * a device, 2 the "bind" of an interface, with the device's port path in *ret_port; 0 any other
 * event; -EINVAL when DEVPATH does not end in a port path. */
int vc_usb_event_parse(const char *action, const char *subsystem, const char *devtype, const char *devpath,
                       char **ret_port);

/* The VM a device was taken for by the libvirt hook (an "owner VM" line of its record): NULL in
 * *ret_owner when none; -ENOENT without a record. */
int vc_usb_record_owner(struct vc_ctx *ctx, const char *port, char **ret_owner);
/* The record's owner becomes @owner; NULL: it has none (a device kept for the next VM). */
int vc_usb_record_set_owner(struct vc_ctx *ctx, const char *port, const char *owner);
