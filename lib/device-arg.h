/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a DEVICE argument of the CLI names, read from its text alone (no sysfs, no configuration;
 * src/cli.c resolves it to IOMMU groups):
 *
 *   group:N            an IOMMU group, N decimal without a sign, at most 2^31-1
 *   DDDD:BB:SS.F       a PCI address as vc_pci_addr_parse() reads it (also BB:SS.F)
 *   [A-Za-z0-9_.-]+    the name of a [device NAME] section of the configuration
 *
 * The forms are tried in this order, so "group:..." is never a name and an address never is one
 * either (names have no ':'). */

#include "pci.h"

enum vc_device_arg_kind {
        VC_DEVICE_ARG_GROUP,
        VC_DEVICE_ARG_ADDRESS,
        VC_DEVICE_ARG_NAME,
        _VC_DEVICE_ARG_KIND_MAX,
};

struct vc_device_spec {
        enum vc_device_arg_kind kind;
        unsigned group;          /* VC_DEVICE_ARG_GROUP */
        struct vc_pci_addr addr; /* VC_DEVICE_ARG_ADDRESS */
};

/* Returns 0 and fills *ret; -EDOM for "group:" followed by anything but a group number; -EINVAL
 * for text of no form (NULL and "" included). *ret is untouched on failure. */
int vc_device_arg_parse(const char *text, struct vc_device_spec *ret);
