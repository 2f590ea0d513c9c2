/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vfio-claim doctor: what stands between this host and working passthrough (vfio-claim(8),
 * DIAGNOSIS).
 *
 * A run goes through a fixed list of checks; each check adds one or more findings: a check id,
 * a level (ok, warn, fail, skip: the check could not run), the device it concerns (NULL for the host), one line saying what was
 * found (naming the device), and one line saying what to do about it (NULL when nothing). The
 * library reads everything under the context's root and prints nothing. The CLI adds the checks
 * that need libvirt (doctor VM) through vc_doctor_report_add(). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmdline.h"
#include "config.h"
#include "macro.h"
#include "pci.h"
#include "root.h"

enum vc_doctor_level {
        VC_DOCTOR_OK,
        VC_DOCTOR_WARN,
        VC_DOCTOR_FAIL,
        VC_DOCTOR_SKIP, /* the check could not run (what it needs is not readable or not there) */
        _VC_DOCTOR_LEVEL_MAX,
};
const char *vc_doctor_level_to_string(enum vc_doctor_level l);

struct vc_finding {
        char *check;   /* "iommu", "interrupt-remapping", "reset", ... */
        enum vc_doctor_level level;
        char *device;  /* "0000:01:00.0", NULL for host-wide findings */
        char *finding; /* one line */
        char *fix;     /* one line, NULL when there is nothing to do */
};

struct vc_doctor_report {
        struct vc_finding *findings;
        size_t n_findings;
        unsigned count[_VC_DOCTOR_LEVEL_MAX];
};
struct vc_doctor_report *vc_doctor_report_new(void);
struct vc_doctor_report *vc_doctor_report_free(struct vc_doctor_report *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_doctor_report *, vc_doctor_report_free);
/* Copies the strings. @device and @fix may be NULL. */
int vc_doctor_report_add(struct vc_doctor_report *r, const char *check, enum vc_doctor_level level,
                         const char *device, const char *finding, const char *fix);

/* Why a device is host-critical (NULL when it is not): the engine's critical set, passed in so
 * that the checks can run without it. */
typedef const char *(*vc_critical_fn)(void *userdata, const struct vc_pci_addr *addr);

struct vc_doctor_opts {
        const struct vc_config *config; /* may be NULL */
        /* The devices to examine. When none are given: every present device the configuration
         * selects, or, without configured devices, every display controller and accelerator. */
        const struct vc_pci_addr *targets;
        size_t n_targets;
        bool explicit_targets; /* examine exactly @targets, even when there are none */
        vc_critical_fn critical;
        /* The host-critical scan itself (lib/critical.h), for the USB devices [usb] entries select
         * (vc_usb_dev_needed()); NULL, or NULL returned: not asked. */
        const struct vc_critical_set *(*critical_set)(void *userdata);
        void *critical_userdata;
        /* The devices as the caller read them with vc_topology_read() (borrowed), so that a host
         * with thousands of functions is not read twice; NULL: doctor reads them. */
        const struct vc_topology *topology;
};

/* Run every check, adding findings to @report. Only allocation failures are errors. */
int vc_doctor_run(struct vc_ctx *ctx, const struct vc_doctor_opts *opts, struct vc_doctor_report *report);

/* ---- pieces exposed for the unit tests and the CLI */

/* vfio-pci "ids=" value: "vvvv:dddd[:svvv[:sddd[:class[:mask]]]],..." — does it select the device? */
bool vc_vfio_ids_match(const char *ids, uint16_t vendor, uint16_t device);
/* The "ids=" value inside a module options string ("ids=10de:2204 disable_vga=1"), or NULL. */
char *vc_options_get(const char *options, const char *key);
/* A softdep value ("pre: vfio-pci post: foo"): does it load @module before the key module? */
bool vc_softdep_preloads(const char *softdep, const char *module);
/* An "install MODULE COMMAND" that never loads the module ("/bin/false", "/bin/true", "true"...) */
bool vc_install_disables(const char *command);

/* AMD GPU families known to need the out-of-tree vendor-reset module ("Navi 10", "Vega 10"...),
 * NULL for other devices. */
const char *vc_vendor_reset_family(uint16_t vendor, uint16_t device);

/* The 64-bit MMIO window (MiB) to give the VM firmware for devices whose 64-bit BARs need
 * @bytes: a power of two with room for alignment, at least 64 GiB. */
uint64_t vc_mmio64_window_mib(uint64_t bytes);
/* OVMF's default 64-bit PCI MMIO window: 32 GiB. */
#define VC_OVMF_DEFAULT_MMIO64 (UINT64_C(32) << 30)

/* Intel VT-d extended capability register: interrupt remapping supported (bit 3). */
static inline bool vc_intel_ecap_has_ir(uint64_t ecap) { return (ecap >> 3) & 1; }
