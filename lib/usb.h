/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* USB devices as sysfs shows them (/sys/bus/usb/devices): a device "B-P.P" (its port path),
 * its interfaces "B-P.P:C.I" and their host drivers, and the PCI host controller it sits
 * behind. Hubs and root hubs are not listed: they are not passed through on their own. */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "macro.h"
#include "pci.h"
#include "root.h"

struct vc_usb_iface {
        char *name;   /* "3-1.2:1.0" */
        unsigned cls; /* bInterfaceClass */
        char *driver; /* NULL: no driver */
};

struct vc_usb_dev {
        char *port; /* "3-1.2" */
        unsigned vendor, product, busnum, devnum, cls;
        char *serial, *manufacturer, *product_name; /* NULL when the device has none */
        struct vc_usb_iface *ifaces;
        size_t n_ifaces;
        bool has_controller; /* the PCI function of the host controller */
        struct vc_pci_addr controller;
        int group; /* the controller's IOMMU group, -1 when none */
};

/* One device by its port path: -ENOENT when nothing is plugged there, -EINVAL for a path that is
 * not a port path or names a hub. */
int vc_usb_dev_read(struct vc_ctx *ctx, const char *port, struct vc_usb_dev *ret);
void vc_usb_dev_done(struct vc_usb_dev *d);
/* Every device that is not a hub, in port path order (bus, then ports numerically). A host
 * without USB is an empty list. */
int vc_usb_enumerate(struct vc_ctx *ctx, struct vc_usb_dev **ret, size_t *ret_n);
void vc_usb_devs_free(struct vc_usb_dev *v, size_t n);

/* Does the entry select @d: ids, and serial or port when it names one. */
bool vc_config_usb_selects(const struct vc_config_usb *u, const struct vc_usb_dev *d);
/* The first entry, in reading order, that selects @d; NULL when none does. */
const struct vc_config_usb *vc_config_match_usb(const struct vc_config *c, const struct vc_usb_dev *d);
