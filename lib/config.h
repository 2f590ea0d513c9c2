/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The declarative configuration: DIR/vfio-claim.conf, then DIR/conf.d/ *.conf in name order,
 * INI as parsed by inih. See vfio-claim.conf(5). */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "name.h"
#include "pci.h"

enum vc_release {
        VC_RELEASE_HOST, /* give the group back to the original host drivers */
        VC_RELEASE_KEEP, /* leave it on vfio-pci */
        _VC_RELEASE_MAX,
};

enum vc_reset {
        VC_RESET_AUTO,
        VC_RESET_FLR,
        VC_RESET_BUS,
        VC_RESET_NONE,
        VC_RESET_DEVICE_SPECIFIC,
        _VC_RESET_MAX,
};

const char *vc_release_to_string(enum vc_release r);
int vc_release_from_string(const char *s); /* -EINVAL when unknown */
const char *vc_reset_to_string(enum vc_reset r);
int vc_reset_from_string(const char *s);

enum vc_match_kind {
        VC_MATCH_ADDRESS,
        VC_MATCH_ID,
};

struct vc_match {
        enum vc_match_kind kind;
        struct vc_pci_addr addr; /* VC_MATCH_ADDRESS */
        struct vc_pci_id id;     /* VC_MATCH_ID */
        unsigned line;
};

struct vc_config_device {
        char *name;   /* the admin's handle: [A-Za-z0-9_.-]+ */
        char *file;   /* path relative to the config directory: "conf.d/gpu.conf" */
        unsigned line; /* line of the [device NAME] header */
        struct vc_match *matches;
        size_t n_matches;
        bool has_id; /* "id =" guard */
        struct vc_pci_id id;
        bool boot;
        bool consent; /* "consent = yes": the admin agreed that the other devices of its IOMMU
                       * group (other slots) move with it; enable, apply and boot then ask nobody */
        bool has_release; /* per-device override of [global] release */
        enum vc_release release;
        char *vm; /* NULL: any domain may use it */
        enum vc_reset reset;
        bool console_handoff; /* "console = handoff": the boot VGA driving the console may be
                               * claimed; the claim unbinds the VT consoles, release binds them */
        char **stop_units;    /* "stop = UNIT...": systemd units stopped before the claim moves
                               * the device, started again after its release (lib/units.h) */
        size_t n_stop_units;
};

/* A [usb NAME] section: one USB device, selected by its ids and, where identical devices need
 * telling apart, its serial number or the port it is plugged into. */
struct vc_config_usb {
        char *name;    /* shares the namespace of [device NAME] */
        char *file;
        unsigned line;
        unsigned vendor, product; /* match = VVVV:PPPP */
        char *serial;  /* NULL: any */
        char *port;    /* "3-1.2"; NULL: any */
        char *vm;
        bool boot;
};

/* [global] timeout and --timeout: at most an hour. */
#define VC_CONFIG_TIMEOUT_MAX_S 3600u

struct vc_config {
        char *dir;
        enum vc_release release; /* [global] release, default host */
        bool protect;            /* [global] protect, default yes */
        int log_level;           /* [global] log-level as a syslog level, default LOG_INFO */
        bool hook_claim_unconfigured; /* [global] hook-claim-unconfigured, default no: the hook
                                       * claims the group of any managed='yes' PCI host device */
        unsigned timeout_ms;     /* [global] timeout in ms, 0 when not set: how long one sysfs write
                                  * (an unbind, a probe) or a bounded read of driver_override may
                                  * take (vc_ctx_set_unbind_timeout_ms()) */
        struct vc_config_device *devices;
        size_t n_devices;
        struct vc_config_usb *usbs;
        size_t n_usbs;
        /* Every problem found, each "FILE:LINE: message" (FILE relative to dir), in reading
         * order; "FILE: message" for a file or directory that cannot be read at all. */
        char **errors;
        size_t n_errors;
};

/* Load and validate. A missing directory or file is an empty configuration, not an error.
 * On invalid input returns -EINVAL and still stores the config (with ->errors) in *ret so the
 * caller can print every error; on success ->n_errors is 0. Nothing is written anywhere. */
int vc_config_load(const char *dir, struct vc_config **ret);
struct vc_config *vc_config_free(struct vc_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_config *, vc_config_free);

const struct vc_config_device *vc_config_find_device(const struct vc_config *c, const char *name);
/* The configured entry whose match lines select @d (address or ids), NULL when none does. When
 * several entries select it, the first in reading order (files, then sections) wins. */
const struct vc_config_device *vc_config_match_device(const struct vc_config *c,
                                                      const struct vc_pci_dev *d);
/* The line of @cd's first match line that selects @d; the line of its [device NAME] header
 * when none does. */
unsigned vc_config_device_match_line(const struct vc_config_device *cd, const struct vc_pci_dev *d);
/* Does @d carry the ids the entry's "id =" guard demands? true when there is no guard. */
bool vc_config_device_id_ok(const struct vc_config_device *cd, const struct vc_pci_dev *d);
/* What happens to the device when its VM stops: its own "release =" when it has one; else keep
 * for a "boot = yes" device (claimed at boot and kept); else [global] release. */
enum vc_release vc_config_device_release(const struct vc_config *c,
                                         const struct vc_config_device *cd);
/* A [device NAME] entry says boot = yes. */
bool vc_config_has_boot_devices(const struct vc_config *c);
/* A [device NAME] or a [usb NAME] entry says boot = yes: the boot path (the initramfs's helper, the
 * early unit, the generated udev rule) has work. */
bool vc_config_has_boot_entries(const struct vc_config *c);
const struct vc_config_usb *vc_config_find_usb(const struct vc_config *c, const char *name);
/* A USB port path as Linux names a device: BUS-PORT[.PORT]... (bus 1-255, ports 1-31, at most 6
 * tiers below the root hub, USB 2.0 section 4.1.1). */
bool vc_usb_port_is_valid(const char *s);
/* A serial number as the config and the kernel's "serial" attribute carry it: 1-126 printable
 * ASCII characters (a USB string descriptor holds at most 126 UTF-16 units). */
bool vc_usb_serial_is_valid(const char *s);
