/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-claim-udev: claim boot = yes devices before host drivers bind them.
 *
 *   vfio-claim-udev                     from the udev rule, for one PCI "add" event (environment:
 *                                       ACTION, SUBSYSTEM, DEVPATH, PCI_SLOT_NAME)
 *   vfio-claim-udev --all [--kmsg]      the boot pass: the early systemd unit, dracut's hook and
 *                                       initramfs-tools' init-top script
 *   vfio-claim-udev --has-boot-devices  exit 0 when the configuration has boot = yes entries
 *                                       (dracut's check(), the initramfs-tools hook)
 *   vfio-claim-udev --host-critical     the host-critical devices of this system, one
 *                                       "ADDRESS ID REASON" line each, for the initramfs
 *                                       generators to put into the image (lib/critical.h)
 *
 * One program for all of them, because the initramfs generators then install one file, and the
 * claiming modes share the configuration, the targets and the override pass (lib/boot.c).
 *
 * The event and --all modes never fail the boot: a bad configuration, a bad event or a failed
 * claim is logged and the exit status is 0. Options are few on purpose; the root comes from
 * VFIO_CLAIM_SYSROOT and, for tests, VFIO_CLAIM_LOG=stderr sends messages to stderr. */

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>

#include "bind.h"
#include "boot.h"
#include "clock.h"
#include "config.h"
#include "critical.h"
#include "log.h"
#include "pci.h"
#include "root.h"
#include "state.h"
#include "usb.h"

#define LOCK_TIMEOUT_MS 30000 /* udev kills a RUN program after 180 s (event_timeout) */

enum mode {
        MODE_EVENT,
        MODE_ALL,
        MODE_HAS_BOOT,
        MODE_HOST_CRITICAL,
};

static enum mode arg_mode = MODE_EVENT;
static bool arg_kmsg;
static uint64_t start_us; /* when the boot pass (--all) began, for the time it reports */
static const char *arg_config_dir;
static bool in_initrd; /* vc_boot_in_initrd(), read once in main() */

static void help(void) {
        printf("Usage: vfio-claim-udev [--config DIR]            (from udev: one PCI add event)\n"
               "       vfio-claim-udev --all [--kmsg] [--config DIR]\n"
               "       vfio-claim-udev --has-boot-devices [--config DIR]\n"
               "       vfio-claim-udev --host-critical\n"
               "\n"
               "Claims the devices vfio-claim.conf(5) marks \"boot = yes\" for vfio-pci before host\n"
               "drivers bind them. See vfio-claim(8), section BOOT.\n"
               "\n"
               "      --all               set driver_override of every boot device present, load\n"
               "                          vfio-pci and claim their groups\n"
               "      --kmsg              log to the kernel log (in the initramfs)\n"
               "      --has-boot-devices  exit 0 when the configuration has boot = yes entries,\n"
               "                          1 when it has none, 3 when it is invalid\n"
               "      --host-critical     print the devices this system needs (root, /boot, swap,\n"
               "                          what /etc/fstab mounts, default route), for the\n"
               "                          initramfs generators\n"
               "      --config DIR        configuration directory (default %s/vfio-claim)\n"
               "  -h, --help              this text\n"
               "      --version           version\n",
               SYSCONFDIR);
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_ALL = 0x100, ARG_KMSG, ARG_HAS_BOOT, ARG_HOST_CRITICAL, ARG_CONFIG, ARG_VERSION };
        static const struct option options[] = {
                { "all", no_argument, NULL, ARG_ALL },
                { "kmsg", no_argument, NULL, ARG_KMSG },
                { "has-boot-devices", no_argument, NULL, ARG_HAS_BOOT },
                { "host-critical", no_argument, NULL, ARG_HOST_CRITICAL },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case ARG_ALL: arg_mode = MODE_ALL; break;
                case ARG_KMSG: arg_kmsg = true; break;
                case ARG_HAS_BOOT: arg_mode = MODE_HAS_BOOT; break;
                case ARG_HOST_CRITICAL: arg_mode = MODE_HOST_CRITICAL; break;
                case ARG_CONFIG: arg_config_dir = optarg; break;
                case 'h': help(); return 1;
                case ARG_VERSION: puts(PACKAGE_STRING); return 1;
                case ':':
                        return log_error_errno(EINVAL, "option %s needs an argument", argv[optind - 1]);
                default:
                        return log_error_errno(EINVAL, "unknown option %s (see --help)", argv[optind - 1]);
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "unexpected argument \"%s\" (see --help)", argv[optind]);
        return 0;
}

static void log_setup(void) {
        const char *e = secure_getenv("VFIO_CLAIM_LOG");
        if (arg_mode == MODE_HAS_BOOT || arg_mode == MODE_HOST_CRITICAL || streq_ptr(e, "stderr"))
                vc_log_open(VC_LOG_STDERR, "vfio-claim-udev");
        else if (arg_kmsg || streq_ptr(e, "kmsg") || in_initrd)
                vc_log_open(VC_LOG_KMSG, "vfio-claim"); /* no syslog daemon in an initramfs */
        else
                vc_log_open(VC_LOG_SYSLOG, "vfio-claim-udev");
}

/* Load the configuration; an invalid one is reported and claims nothing. */
static int load_config(struct vc_ctx *ctx, struct vc_config **ret) {
        _cleanup_(vc_config_freep) struct vc_config *cfg = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        if (arg_config_dir) {
                dir = strdup(arg_config_dir);
                if (!dir)
                        return log_error_errno(ENOMEM, "out of memory");
        } else if ((r = vc_ctx_path(ctx, VC_PLACE_SYSCONF, &dir, NULL)) < 0)
                return log_error_errno(r, "cannot build the configuration path: %m");

        r = vc_config_load(dir, &cfg);
        if (r == -EINVAL && cfg) {
                for (size_t i = 0; i < cfg->n_errors; i++)
                        log_error("%s/%s", dir, cfg->errors[i]);
                return log_error_errno(EINVAL, "%s: configuration invalid (%zu error%s): claiming nothing",
                                       dir, cfg->n_errors, cfg->n_errors == 1 ? "" : "s");
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the configuration, claiming nothing: %m", dir);
        if (cfg->log_level >= 0)
                vc_log_set_max_level(cfg->log_level);
        if (cfg->timeout_ms)
                vc_ctx_set_unbind_timeout_ms(ctx, cfg->timeout_ms);
        *ret = TAKE_PTR(cfg);
        return 0;
}

static void log_target_problem(const struct vc_boot_target *t, int level) {
        const char *addr = VC_PCI_ADDR_TO_STRING(&t->addr);
        switch (t->state) {
        case VC_BOOT_TARGET_ID_MISMATCH:
                if (t->found_error < 0)
                        log_full_errno(level, t->found_error,
                                       "%s: [device %s] cannot read its ids to check id = %s (%m): not claiming it",
                                       addr, t->cd->name, VC_PCI_ID_TO_STRING(&t->cd->id));
                else
                        log_full_errno(level, 0,
                                       "%s: [device %s] hardware changed (expected %s, found %s): not claiming it",
                                       addr, t->cd->name, VC_PCI_ID_TO_STRING(&t->cd->id),
                                       VC_PCI_ID_TO_STRING(&t->found));
                break;
        case VC_BOOT_TARGET_NO_GROUP:
                log_full_errno(level, 0,
                               "%s: [device %s] has no IOMMU group (is the IOMMU enabled?): leaving it to the host",
                               addr, t->cd->name);
                break;
        default:
                break;
        }
}

/* The writes of the override pass, each said: in the initramfs the kernel log shows that the
 * overrides were set before any host driver could load (lib/log.c gives every message its own
 * /dev/kmsg file, whose rate limit would keep only the first ten). */
static void log_writes(const struct vc_boot_write *w, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const char *addr = VC_PCI_ADDR_TO_STRING(&w[i].addr);
                if (w[i].not_written)
                        log_error("%s: driver_override not set (group %u, [device %s]): its lock stayed held "
                                  "through the bounded read of it",
                                  addr, w[i].group, w[i].cd->name);
                else if (w[i].error < 0)
                        log_error_errno(w[i].error, "%s: failed to set driver_override (group %u, [device %s]): %m",
                                        addr, w[i].group, w[i].cd->name);
                else
                        log_info("%s: driver_override set to vfio-pci (group %u, [device %s])", addr, w[i].group,
                                 w[i].cd->name);
        }
}

/* The override pass, under the lock it takes when there is anything to look at. Its writes go
 * to *ret (the caller frees them). */
static int overrides(struct vc_ctx *ctx, const struct vc_config *cfg, const struct vc_boot_target *t,
                     size_t n, const char *by, int *lock_fd, struct vc_boot_write **ret, size_t *ret_n) {
        int r = vc_boot_set_overrides(ctx, cfg, t, n, by, LOCK_TIMEOUT_MS, lock_fd, ret, ret_n);
        log_writes(*ret, *ret_n);
        if (r < 0)
                return log_error_errno(r, "cannot set the boot overrides: %s",
                                       r == -ETIMEDOUT ? "another vfio-claim holds the lock" : strerror(-r));
        return r;
}

/* The report of the device of @group whose override write did not finish in its bound (or was
 * not made: its lock stayed held), NULL: none. */
static const struct vc_boot_write *write_timed_out(const struct vc_boot_write *w, size_t n, int group) {
        for (size_t i = 0; i < n; i++)
                if ((int) w[i].group == group && w[i].error == -ETIMEDOUT)
                        return &w[i];
        return NULL;
}

/* The line of @t's entry that selects it: its address line, else an id line with its ids, else
 * the section's header. */
static unsigned selecting_line(const struct vc_boot_target *t) {
        for (size_t j = 0; j < t->cd->n_matches; j++) {
                const struct vc_match *m = &t->cd->matches[j];
                if (m->kind == VC_MATCH_ADDRESS ? vc_pci_addr_equal(&m->addr, &t->addr)
                                                : t->found_error == 0 && m->id.vendor == t->found.vendor &&
                                                          m->id.device == t->found.device)
                        return m->line;
        }
        return t->cd->line;
}

/* Claim one target's group: 0 claimed (now or before), -1 not, 1 nothing to claim (a bridge
 * alone in its group: said once, with the line that names it; not a boot device). A group where
 * the override pass ran out of time is not claimed now: the kernel holds that device (a driver
 * probing it), and the claim would wait for it again at each read and write, then the give-back,
 * one bound each, past udev's event timeout with a long [global] timeout. Its record stays "claiming", for
 * `vfio-claim apply` or `vfio-claim release` once the kernel lets go. The lock is held (the
 * callers take it before they read the configuration). */
static int claim(struct vc_ctx *ctx, const struct vc_config *cfg, const struct vc_boot_target *t,
                 const char *by, const struct vc_boot_write *w, size_t n_w) {
        struct vc_op_result res = {};
        const char *addr = VC_PCI_ADDR_TO_STRING(&t->addr);
        int r, given_back = 0;

        const struct vc_boot_write *held = write_timed_out(w, n_w, t->group);
        if (held && held->not_written) {
                log_error("%s: [device %s] group %d not claimed now: the kernel held %s for more than %u s (a driver "
                          "probing it?), and nothing was written; once it is free, run 'vfio-claim apply' to claim it",
                          addr, t->cd->name, t->group, VC_PCI_ADDR_TO_STRING(&held->addr),
                          (vc_ctx_get_unbind_timeout_ms(ctx) + 999) / 1000);
                return -1;
        }
        if (held) {
                log_error("%s: [device %s] group %d not claimed now: setting driver_override of %s did not finish "
                          "within %u s (the kernel holds the device, a driver probing it?); once it is free, "
                          "run 'vfio-claim apply' to claim it or 'vfio-claim release group:%d' to give it back",
                          addr, t->cd->name, t->group, VC_PCI_ADDR_TO_STRING(&held->addr),
                          (vc_ctx_get_unbind_timeout_ms(ctx) + 999) / 1000, t->group);
                return -1;
        }

        r = vc_boot_claim(ctx, cfg, t, by, &res, &given_back);
        if (r > 0) {
                log_warning("%s/%s:%u: [device %s] selects %s, a PCI bridge alone in IOMMU group %d: nothing to "
                            "claim (bridges stay on their drivers; match the device behind it instead)",
                            cfg->dir, t->cd->file, selecting_line(t), t->cd->name, addr, t->group);
                vc_op_result_done(&res);
                return 1;
        }
        if (r < 0) {
                _cleanup_free_ char *m = vc_op_result_message(&res), *line = NULL;
                if (m ? asprintf(&line, "%s ([device %s], group %d)", m, t->cd->name, t->group) < 0
                      : asprintf(&line, "%s: [device %s] claiming group %d failed: %s", addr, t->cd->name,
                                 t->group, strerror(-r)) < 0)
                        line = NULL;
                /* once a boot: every run of the boot meets a refusal again (lib/boot.h) */
                if (line && vc_boot_group_failure_logged(ctx, (unsigned) t->group, line) > 0)
                        log_debug("%s (logged before in this boot)", line);
                else
                        log_error("%s", line ?: "out of memory");
                if (given_back > 0)
                        log_notice("group %d left to the host: driver_override cleared, nothing on vfio-pci, no record",
                                   t->group);
                else if (given_back < 0)
                        log_error_errno(given_back,
                                        "group %d: giving back what the boot pass set up failed (%m); run 'vfio-claim release group:%d'",
                                        t->group, t->group);
        } else if (res.changed)
                log_notice("%s: [device %s] group %d claimed for vfio-pci", addr, t->cd->name, t->group);
        else
                log_debug("%s: [device %s] group %d already on vfio-pci", addr, t->cd->name, t->group);
        vc_op_result_done(&res);
        return r < 0 ? -1 : 0;
}

/* Keep a USB device off host drivers (lib/usb.h), under the lock; @by: who, in the initramfs (its
 * record says so, for usb_give_back_stale()). */
static void usb_hold(struct vc_ctx *ctx, struct vc_usb_dev *d, const char *by, int *lock_fd) {
        const char *failed = NULL;
        unsigned taken = 0, sv = 0, sp = 0;
        int r;
        if (*lock_fd < 0 && (r = vc_state_lock(ctx, LOCK_TIMEOUT_MS, lock_fd)) < 0) {
                log_error_errno(r, "%s: cannot take the lock, leaving the USB device to the host: %m", d->port);
                return;
        }
        (void) vc_usb_record_id(ctx, d->port, &sv, &sp); /* a stale record's ids, for the message */
        r = vc_usb_hold(ctx, d, in_initrd ? by : NULL, &taken, &failed);
        if (r > 0)
                log_notice("%s: the record of USB device %04x:%04x, unplugged from this port since, is replaced by "
                           "that of %04x:%04x", d->port, sv, sp, d->vendor, d->product);
        if (r < 0)
                log_error_errno(r, "%s: failed to take %s from its host driver: %m", d->port, strna(failed));
        else if (taken > 0)
                log_notice("%s: USB device %04x:%04x kept off the host: %u interface%s unbound", d->port, d->vendor,
                           d->product, taken, taken == 1 ? "" : "s");
        else
                log_debug("%s: USB device held, no host driver to take", d->port);
}

/* Is @d to be held, and may it be? A boot = yes entry's hold (not a device with a record: the admin
 * enabled it and was asked then) leaves the host a device it needs: a stick holding the root file
 * system, the USB NIC of the default route (lib/critical.h: the live scan, and the list of the
 * system the initramfs was built on, where nothing is mounted yet), since an entry's ids may
 * select the host's own stick of the same model too. The scan is made once for a run, into
 * *@critical. */
static bool usb_to_hold(struct vc_ctx *ctx, const struct vc_config *cfg, struct vc_usb_dev *d, bool boot,
                        struct vc_critical_set **critical) {
        _cleanup_free_ char *why = NULL;
        bool by_entry;
        /* the record of its port first: a serial it names, or one it cannot tell */
        int r = vc_usb_record_is_of(ctx, d);
        if (r == -ETIMEDOUT)
                log_warning("%s: cannot read the serial number of USB device %04x:%04x within %u s, which the "
                            "record of its port names: a driver holds the device (probing or resetting it); left "
                            "as it is", d->port, d->vendor, d->product, vc_ctx_get_unbind_timeout_ms(ctx) / 1000);
        else if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "%s: cannot tell whether the record of its port is USB device %04x:%04x's "
                                  "(%m): left as it is", d->port, d->vendor, d->product);
        if (r < 0 && r != -ENOENT)
                return false;
        r = vc_usb_should_hold(ctx, cfg, d, boot, &by_entry);
        if (r == -ETIMEDOUT)
                log_warning("%s: cannot read the serial number of USB device %04x:%04x within %u s, which an entry "
                            "of its ids names: a driver holds the device (probing or resetting it); left as it is",
                            d->port, d->vendor, d->product, vc_ctx_get_unbind_timeout_ms(ctx) / 1000);
        else if (r < 0)
                log_warning_errno(r, "%s: cannot read the serial number of USB device %04x:%04x, which an entry of "
                                  "its ids names (%m): left as it is", d->port, d->vendor, d->product);
        if (r <= 0)
                return false;
        if (!by_entry || !cfg->protect)
                return true;
        if (!*critical && (r = vc_critical_scan(ctx, critical)) < 0) {
                log_error_errno(r, "%s: cannot tell what the host needs, leaving the USB device to the host: %m", d->port);
                return false;
        }
        if ((r = vc_usb_dev_needed(*critical, d, &why)) < 0 || !why)
                return r >= 0;
        log_warning("%s: USB device %04x:%04x left to the host, which needs it: %s "
                    "(protect = no in [global] takes it anyway)", d->port, d->vendor, d->product, why);
        return false;
}

/* A USB device's add event or an interface's bind event (the generated rule runs the helper only
 * for the ids it holds). The lock first, then the configuration, the device and its record, as
 * run_event() does for PCI: a `vfio-claim disable`, the hook's release or the boot pass's
 * give-back binds the interfaces one by one under the lock and removes the record last, and each
 * bind raises an event whose run waits for the lock; decided before it, that run would take the
 * device again once the give-back let go. A bind event only keeps a recorded device off (its
 * record is read under the lock: none after a give-back), never makes a record. */
static int run_usb_event(struct vc_ctx *ctx, int kind, const char *port) {
        _cleanup_(vc_config_freep) struct vc_config *cfg = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *critical = NULL;
        _cleanup_close_ int lock_fd = -1;
        struct vc_usb_dev d;
        const char *sw = NULL;
        int r;

        if (vc_boot_cmdline_disabled(ctx, &sw) > 0) {
                log_debug("%s on the kernel command line: holding no USB device", sw);
                return 0;
        }
        r = vc_state_lock(ctx, LOCK_TIMEOUT_MS, &lock_fd);
        if (r < 0) {
                log_error_errno(r, "%s: cannot take the lock (%s): leaving the USB device to the host", port,
                                r == -ETIMEDOUT ? "another vfio-claim holds it" : strerror(-r));
                return 0;
        }
        if (load_config(ctx, &cfg) < 0)
                return 0;
        r = vc_usb_dev_read(ctx, port, 0, &d);
        if (r < 0) {
                log_debug("%s: cannot read the USB device (%s): ignoring the event", port, strerror(-r));
                return 0;
        }
        if (usb_to_hold(ctx, cfg, &d, kind == 1, &critical))
                usb_hold(ctx, &d, VC_BOOT_BY_USB_EVENT_INITRD, &lock_fd);
        vc_usb_dev_done(&d);
        return 0;
}

/* The boot pass: every USB device present that a boot = yes entry selects or that has a record. */
static void usb_all(struct vc_ctx *ctx, const struct vc_config *cfg, int *lock_fd) {
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *critical = NULL;
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        int r = vc_usb_enumerate(ctx, 0, &v, &n);
        if (r < 0) {
                log_error_errno(r, "cannot read the USB devices: %m");
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (usb_to_hold(ctx, cfg, &v[i], true, &critical))
                        usb_hold(ctx, &v[i], VC_BOOT_BY_PASS_INITRD, lock_fd);
        vc_usb_devs_free(v, n);
}

/* In the initramfs, under the lock: the image's host-critical list to /run for the boot's claims
 * (lib/critical.h), a line that is not one named with its file and number. */
static void carry_critical_list(struct vc_ctx *ctx) {
        _cleanup_free_ char *p = NULL;
        unsigned bad;
        int r = vc_critical_list_carry(ctx, &bad);
        if ((r < 0 || bad) && vc_ctx_path(ctx, VC_PLACE_SYSCONF, &p, "%s", VC_CRITICAL_LIST_NAME) < 0)
                p = NULL;
        if (r < 0)
                log_warning_errno(r, "%s: cannot carry the host-critical devices of the initramfs's build: %m; "
                                  "boot claims refuse only what the running system shows", strna(p));
        else if (bad)
                log_warning("%s:%u: not a PCI address, an id and a reason: line ignored", strna(p), bad);
}

static int run_event(struct vc_ctx *ctx) {
        _cleanup_(vc_config_freep) struct vc_config *cfg = NULL;
        _cleanup_free_ struct vc_boot_target *t = NULL;
        _cleanup_close_ int lock_fd = -1;
        const char *action = getenv("ACTION"), *subsystem = getenv("SUBSYSTEM"),
                   *slot = getenv("PCI_SLOT_NAME"), *sw = NULL;
        struct vc_pci_addr addr;
        size_t n = 0;
        int r;

        _cleanup_free_ char *port = NULL;
        r = vc_usb_event_parse(action, subsystem, getenv("DEVTYPE"), getenv("DEVPATH"), &port);
        if (r > 0)
                return run_usb_event(ctx, r, port);
        if (r < 0) {
                log_warning("DEVPATH=%s is not a USB device or interface: ignoring the event", strna(getenv("DEVPATH")));
                return 0;
        }

        r = vc_boot_event_parse(action, subsystem, slot, &addr);
        if (r == 0) {
                log_debug("ignoring event ACTION=%s SUBSYSTEM=%s", strna(action), strna(subsystem));
                return 0;
        }
        if (r < 0) {
                log_warning("PCI_SLOT_NAME=\"%s\" (DEVPATH=%s) is not a PCI address: ignoring the event",
                            strna(slot), strna(getenv("DEVPATH")));
                return 0;
        }
        r = vc_boot_cmdline_disabled(ctx, &sw);
        if (r > 0) {
                log_debug("%s on the kernel command line: claiming nothing", sw);
                return 0;
        }
        /* The configuration is read under the lock: a `vfio-claim disable` that holds it gives a
         * group back and then drops its entry, and an event that read the entry before would
         * claim the group again once disable lets go (src/verb-claim.c, move_groups()). */
        r = vc_state_lock(ctx, LOCK_TIMEOUT_MS, &lock_fd);
        if (r < 0) {
                log_error_errno(r, "%s: cannot take the lock (%s): not claiming it", VC_PCI_ADDR_TO_STRING(&addr),
                                r == -ETIMEDOUT ? "another vfio-claim holds it" : strerror(-r));
                return 0;
        }
        if (in_initrd)
                carry_critical_list(ctx);
        if (load_config(ctx, &cfg) < 0)
                return 0;
        if (!vc_config_has_boot_devices(cfg))
                return 0;

        r = vc_boot_targets_find(ctx, cfg, &t, &n);
        if (r < 0)
                return log_error_errno(r, "cannot look for the boot devices: %m"), 0;

        const struct vc_boot_target *me = vc_boot_target_find(t, n, &addr);
        if (me)
                log_target_problem(me, LOG_WARNING);
        const char *by = in_initrd ? VC_BOOT_BY_EVENT_INITRD : VC_BOOT_BY_EVENT;

        /* Every run: a sibling's override before this event's own module load (lib/boot.h). */
        _cleanup_free_ struct vc_boot_write *w = NULL;
        size_t n_w = 0;
        (void) overrides(ctx, cfg, t, n, by, &lock_fd, &w, &n_w);

        /* Another endpoint of a boot group claimed already, that appears again (a rescan, a
         * hotplug): its host driver bound it before this event, and the whole group belongs on
         * vfio-pci (vfio-claim(8), BOOT). A group not claimed (refused, given back, or waiting for
         * its configured device's event) is not this event's to claim. The record is read under
         * the lock, taken above. */
        if (!me) {
                const struct vc_boot_target *g = vc_boot_target_of_group(ctx, t, n, &addr);
                if (g && vc_boot_group_claimed(ctx, (unsigned) g->group))
                        me = g;
        }

        if (me && me->state == VC_BOOT_TARGET_OK)
                claim(ctx, cfg, me, by, w, n_w);
        return 0;
}

/* The boot pass writes the udev rule before udev's coldplug (lib/boot.h): in the initramfs
 * before udevd starts, which then reads it, and after the switch to the real root, from the
 * configuration there. */
static void update_rules(struct vc_ctx *ctx, const struct vc_config *cfg) {
        int r = vc_boot_rules_write(ctx, cfg);
        if (r < 0)
                log_error_errno(r, "cannot write the udev rule %s: %m", VC_BOOT_RULES_NAME);
        else if (r > 0)
                log_debug("udev rule %s written", VC_BOOT_RULES_NAME);
}

/* After the switch to the real root: give back what the initramfs claimed with its older copy
 * of the configuration and the real root's no longer claims at boot (lib/boot.h,
 * vc_boot_stale_groups()), as `vfio-claim release` would. */
static void give_back_stale(struct vc_ctx *ctx, const struct vc_boot_target *t, size_t n, const char *by) {
        _cleanup_free_ unsigned *groups = NULL;
        size_t n_groups = 0;
        int r = vc_boot_stale_groups(ctx, t, n, &groups, &n_groups);
        if (r < 0) {
                log_error_errno(r, "cannot read the state records to find groups the initramfs claimed: %m");
                return;
        }
        for (size_t i = 0; i < n_groups; i++) {
                struct vc_op_result res = {};
                r = vc_group_release(ctx, groups[i], &(struct vc_claim_opts){ .lock_held = true, .by = by }, &res);
                if (r < 0)
                        log_error_errno(r, "IOMMU group %u: the initramfs claimed it, but no boot = yes entry of the "
                                        "configuration asks for it now; giving it back failed (%m): run 'vfio-claim "
                                        "release group:%u'", groups[i], groups[i]);
                else
                        log_warning("IOMMU group %u: the initramfs claimed it, but no boot = yes entry of the "
                                    "configuration asks for it now: given back to the host; the initramfs has an older "
                                    "copy of the configuration, rebuild it (dracut -f, or update-initramfs -u)",
                                    groups[i]);
                vc_op_result_done(&res);
        }
}

/* After the switch to the real root, before the claims: a group the initramfs claimed with its
 * older copy of the configuration (consent = yes there, or protect = no) that a boot = yes entry
 * still selects but that the real root's configuration refuses (lib/boot.h,
 * vc_boot_initrd_claim_refused()) is given back, as give_back_stale() does; the claim after it
 * then says the refusal, and the group stays with the host. */
static void give_back_refused(struct vc_ctx *ctx, const struct vc_config *cfg, const struct vc_boot_target *t,
                              size_t n, const char *by) {
        for (size_t i = 0; i < n; i++) {
                bool seen = false;
                if (t[i].state != VC_BOOT_TARGET_OK)
                        continue;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = t[k].state == VC_BOOT_TARGET_OK && t[k].group == t[i].group;
                if (seen)
                        continue;

                struct vc_op_result why = {}, res = {};
                unsigned group = (unsigned) t[i].group;
                int r = vc_boot_initrd_claim_refused(ctx, cfg, group, &why);
                if (r < 0)
                        log_error_errno(r, "IOMMU group %u: cannot tell whether the configuration still agrees with "
                                        "the initramfs's claim of it: %m; left as it is", group);
                if (r <= 0) {
                        vc_op_result_done(&why);
                        continue;
                }
                _cleanup_free_ char *m = vc_op_result_message(&why);
                r = vc_group_release(ctx, group, &(struct vc_claim_opts){ .lock_held = true, .by = by }, &res);
                if (r < 0)
                        log_error_errno(r, "IOMMU group %u: the initramfs claimed it for [device %s] with an older copy "
                                        "of the configuration, which the configuration refuses now (%s); giving it "
                                        "back failed (%m): run 'vfio-claim release group:%u'",
                                        group, t[i].cd->name, strna(m), group);
                else {
                        log_warning("IOMMU group %u: the initramfs claimed it for [device %s] with an older copy of "
                                    "the configuration, which the configuration refuses now (%s): given back to the "
                                    "host; rebuild the initramfs (dracut -f, or update-initramfs -u)",
                                    group, t[i].cd->name, strna(m));
                        /* the claim below meets the same refusal: said here, once (as claim() words it) */
                        _cleanup_free_ char *line = NULL;
                        if (m && asprintf(&line, "%s ([device %s], group %d)", m, t[i].cd->name, t[i].group) >= 0)
                                (void) vc_boot_group_failure_logged(ctx, group, line);
                }
                vc_op_result_done(&res);
                vc_op_result_done(&why);
        }
}

/* After the switch to the real root: a USB device the initramfs held (its record says so) that no
 * boot = yes entry of the real root's configuration selects now, and that no VM has, goes back to
 * its host drivers; the initramfs's copy of the configuration is older (as give_back_stale()). */
static void usb_give_back_stale(struct vc_ctx *ctx, const struct vc_config *cfg) {
        _cleanup_strv_free_ char **ports = NULL;
        int r = vc_usb_records(ctx, &ports);
        if (r < 0) {
                log_error_errno(r, "cannot read the state records to find USB devices the initramfs held: %m");
                return;
        }
        for (char **p = ports; *p; p++) {
                _cleanup_free_ char *by = NULL, *owner = NULL;
                struct vc_usb_dev d;
                if (vc_usb_record_by(ctx, *p, &by) < 0 || !by ||
                    (!streq(by, VC_BOOT_BY_PASS_INITRD) && !streq(by, VC_BOOT_BY_USB_EVENT_INITRD)) ||
                    vc_usb_record_owner(ctx, *p, &owner) < 0 || owner || vc_usb_dev_read(ctx, *p, 0, &d) < 0)
                        continue;
                const struct vc_config_usb *u = NULL;
                r = vc_usb_config_match(ctx, cfg, &d, &u);
                if (r < 0)
                        log_warning_errno(r, "%s: the initramfs held USB device %04x:%04x; cannot read its serial "
                                          "number, which an entry of its ids names (%m): kept from the host",
                                          *p, d.vendor, d.product);
                else if (!u || !u->boot) {
                        r = vc_usb_disable(ctx, *p);
                        if (r < 0)
                                log_error_errno(r, "%s: the initramfs held USB device %04x:%04x, but no boot = yes entry "
                                                "of the configuration asks for it now; giving it back failed (%m): "
                                                "run 'vfio-claim disable %s'", *p, d.vendor, d.product, *p);
                        else if (r > 0)
                                log_notice("%s: the record there names another USB device than %04x:%04x, plugged in "
                                           "now: removed, the device left to the host", *p, d.vendor, d.product);
                        else
                                log_warning("%s: the initramfs held USB device %04x:%04x, but no boot = yes entry of "
                                            "the configuration asks for it now: given back to the host; the initramfs "
                                            "has an older copy of the configuration, rebuild it (dracut -f, or "
                                            "update-initramfs -u)", *p, d.vendor, d.product);
                }
                vc_usb_dev_done(&d);
        }
}

static int run_all(struct vc_ctx *ctx) {
        _cleanup_(vc_config_freep) struct vc_config *cfg = NULL;
        _cleanup_free_ struct vc_boot_target *t = NULL;
        _cleanup_close_ int lock_fd = -1;
        const char *sw = NULL;
        size_t n = 0;
        int r;

        r = vc_boot_cmdline_disabled(ctx, &sw);
        if (r > 0) {
                log_notice("%s on the kernel command line: no device is claimed at boot", sw);
                return 0;
        }
        /* The configuration is read, and the rule written from it, under the lock, as in an
         * event's run (run_event()): an enable or disable meanwhile is seen whole or not at all. */
        r = vc_state_lock(ctx, LOCK_TIMEOUT_MS, &lock_fd);
        if (r < 0)
                return log_error_errno(r, "cannot take the lock (%s): this pass claims no device and writes no udev rule",
                                       r == -ETIMEDOUT ? "another vfio-claim holds it" : strerror(-r)), 0;
        if (in_initrd)
                carry_critical_list(ctx);
        if (load_config(ctx, &cfg) < 0) {
                update_rules(ctx, NULL);
                return 0;
        }
        update_rules(ctx, cfg);
        r = vc_boot_targets_find(ctx, cfg, &t, &n);
        if (r < 0)
                return log_error_errno(r, "cannot look for the boot devices: %m"), 0;
        for (size_t i = 0; i < n; i++)
                log_target_problem(&t[i], LOG_WARNING);

        /* First every override, then the claims: nothing may load a host module in between. */
        const char *by = in_initrd ? VC_BOOT_BY_PASS_INITRD : VC_BOOT_BY_PASS;
        _cleanup_free_ struct vc_boot_write *w = NULL;
        size_t n_w = 0;
        (void) overrides(ctx, cfg, t, n, by, &lock_fd, &w, &n_w);
        if (!in_initrd)
                give_back_refused(ctx, cfg, t, n, by);
        /* A bridge alone in its group is no boot device: claim() says so, and the summary does
         * not count it (as claimed or as failed). */
        size_t n_dev = 0, n_group = 0, n_failed = 0;
        for (size_t i = 0; i < n; i++) {
                bool seen = false;
                size_t in_group = 0;
                if (t[i].state != VC_BOOT_TARGET_OK)
                        continue;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = t[k].state == VC_BOOT_TARGET_OK && t[k].group == t[i].group;
                if (seen)
                        continue;
                for (size_t k = i; k < n; k++)
                        in_group += t[k].state == VC_BOOT_TARGET_OK && t[k].group == t[i].group;
                int c = claim(ctx, cfg, &t[i], by, w, n_w);
                if (c > 0)
                        continue;
                n_dev += in_group;
                n_group++;
                n_failed += c < 0;
        }
        if (!in_initrd) {
                give_back_stale(ctx, t, n, by);
                usb_give_back_stale(ctx, cfg);
        }
        usb_all(ctx, cfg, &lock_fd);
        /* One line that says what the pass cost, from its start: in the initramfs it
         * lands in the kernel log, which is where an admin looks for the time a boot took. */
        uint64_t el_us = vc_now_us() - start_us;
        if (n_dev > 0)
                log_info("%s: %zu boot device%s in %zu group%s, %zu claimed, %zu failed, in %" PRIu64 ".%03" PRIu64 " ms",
                         by, n_dev, n_dev == 1 ? "" : "s", n_group, n_group == 1 ? "" : "s",
                         n_group - n_failed, n_failed, el_us / 1000, el_us % 1000);
        return 0;
}

/* The live scan, as the list the initramfs generators put into the image (lib/critical.h). */
static int run_host_critical(struct vc_ctx *ctx) {
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_free_ char *text = NULL;
        int r = vc_critical_scan(ctx, &s);
        if (r >= 0)
                r = vc_critical_list_format(ctx, s, &text);
        if (r < 0)
                return log_error_errno(r, "cannot tell which devices this system needs: %m"), 1;
        fputs(text, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
}

static int run_has_boot(struct vc_ctx *ctx) {
        _cleanup_(vc_config_freep) struct vc_config *cfg = NULL;
        if (load_config(ctx, &cfg) < 0)
                return 3;
        return vc_config_has_boot_entries(cfg) ? 0 : 1;
}

int main(int argc, char **argv) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        const char *root = vc_sysroot_from_environment();
        int r;

        /* The engine waits for its children: SIGCHLD must not be ignored. */
        (void) signal(SIGCHLD, SIG_DFL);
        vc_log_open(VC_LOG_STDERR, "vfio-claim-udev");
        vc_log_set_max_level(LOG_INFO);
        r = parse_argv(argc, argv);
        if (r != 0)
                return r > 0 ? 0 : 2;
        /* Only the boot pass reports its time: an event's run does not read the clock (a system
         * call where the clock source is the HPET, lib/clock.h). */
        if (arg_mode == MODE_ALL)
                start_us = vc_now_us();

        r = vc_ctx_new(root, &ctx);
        if (r < 0) {
                log_error_errno(r, "VFIO_CLAIM_SYSROOT=%s: %m", strna(root));
                return arg_mode == MODE_HAS_BOOT ? 2 : 0;
        }
        in_initrd = vc_boot_in_initrd(ctx);
        log_setup();

        /* Boot claims also refuse what the system the initramfs was built on needed: at boot the
         * live scan cannot see it yet (lib/critical.h). */
        if (arg_mode == MODE_ALL || arg_mode == MODE_EVENT) {
                vc_ctx_set_boot_critical(ctx, true);
                /* A driver's probe that does not return holds the device's lock, which reading its
                 * driver_override takes: read with the write's deadline, from the first look at a
                 * target on (lib/root.h), so that neither udev's worker nor the boot pass waits in
                 * the kernel for it, with our lock or without. */
                vc_ctx_set_device_reads_bounded(ctx, true);
        }
        switch (arg_mode) {
        case MODE_HAS_BOOT:
                r = run_has_boot(ctx);
                break;
        case MODE_HOST_CRITICAL:
                r = run_host_critical(ctx);
                break;
        case MODE_ALL:
                r = run_all(ctx);
                break;
        case MODE_EVENT:
        default:
                r = run_event(ctx);
                break;
        }
        vc_log_close();
        return r;
}
