/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The work of the libvirt qemu hook, started by vfio-claim-hook (hooks/vfio-claim-hook.c) for
 * the two operations that may change something; same arguments, the domain XML on stdin.
 *
 *   vfio-claim-hook-worker DOMAIN OPERATION SUB-OPERATION EXTRA
 *
 * prepare begin: claim the IOMMU group of every configured PCI device the domain names, all
 *                groups or none, for this domain. A device not in the configuration is left
 *                to libvirt, except a managed='yes' one whose group has other endpoints on
 *                host drivers: refused, or with [global] hook-claim-unconfigured = yes,
 *                claimed (unconfigured_managed()).
 *                The records name the libvirtd that runs the start (our parent) as the
 *                "starter": libvirt may report a starting domain as shut off, and the CLI must
 *                not take a starting VM's group for a stale hold (lib/state.h).
 * started begin: the VM runs: drop the starter from the records this domain owns; from now on
 *                libvirt's word decides whether the hold is live. Never fails the VM.
 * release end:   give back the groups this domain owns, per "release" (host or keep).
 * anything else: exit 0.
 *
 * libvirt shows our stderr to the user when we exit non-zero, so a failure is one line that
 * says what to do; everything else goes to syslog. stdout stays empty. This program never
 * talks to libvirt. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "boot.h"
#include "config.h"
#include "critical.h"
#include "domain-xml.h"
#include "fileio.h"
#include "iommu.h"
#include "log.h"
#include "name.h"
#include "pci.h"
#include "root.h"
#include "reset.h"
#include "state.h"
#include "sysfs.h"
#include "usb.h"

#define LOCK_TIMEOUT_MS 60000

enum {
        HOOK_OK = 0,
        HOOK_FAILED = 1, /* libvirt aborts the start and shows our stderr */
};

/* The one line libvirt shows: logged to syslog as well. Call once, then exit. One line whatever
 * it quotes (a domain's name libvirt passed with a carriage return, a device's string): control
 * characters and bytes that are not UTF-8 are shown as '?'. */
_printf_(1, 2) static int fail(const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        _cleanup_free_ char *line = vc_text_printable(buf);
        log_error("%s", line ? line : buf);
        fprintf(stderr, "vfio-claim: %s\n", line ? line : buf);
        return HOOK_FAILED;
}

static int config_dir(struct vc_ctx *ctx, char **ret) {
        const char *e = secure_getenv("VFIO_CLAIM_CONFIG");
        if (!isempty(e)) {
                *ret = strdup(e);
                return *ret ? 0 : -ENOMEM;
        }
        return vc_ctx_path(ctx, VC_PLACE_SYSCONF, ret, NULL);
}

/* One group the domain needs, with the engine's result of its claim (what undo takes back). */
struct wanted {
        unsigned group;
        struct vc_pci_addr first; /* the first device of the XML in it, for messages */
        struct vc_record *before; /* the record as it was, NULL: none */
        struct vc_op_result res;  /* of the claim; ->undo: what it changed */
};

/* What prepare begin claims for one domain: its groups, and the devices of the domain in each.
 * Not the engine's per-group vc_plan (lib/bind.h): this one spans the domain's groups. */
struct hook_plan {
        struct wanted *groups;
        size_t n_groups;
        struct hook_member {          /* each of the domain's devices to claim, and the group */
                struct vc_pci_addr addr; /* its iommu_group link named the group */
                unsigned group;
        } *members;
        size_t n_members;
};

static void hook_plan_done(struct hook_plan *p) {
        for (size_t i = 0; i < p->n_groups; i++) {
                vc_record_free(p->groups[i].before);
                vc_op_result_done(&p->groups[i].res);
        }
        free(p->groups);
        free(p->members);
        *p = (struct hook_plan){};
}

static int hook_plan_add_group(struct hook_plan *p, unsigned group, const struct vc_pci_addr *addr) {
        struct hook_member *m = reallocarray(p->members, p->n_members + 1, sizeof *m);
        if (!m)
                return -ENOMEM;
        p->members = m;
        p->members[p->n_members++] = (struct hook_member){ .addr = *addr, .group = group };
        for (size_t i = 0; i < p->n_groups; i++)
                if (p->groups[i].group == group)
                        return 0;
        struct wanted *n = realloc(p->groups, (p->n_groups + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->groups = n;
        p->groups[p->n_groups++] = (struct wanted){ .group = group, .first = *addr };
        return 0;
}

static const struct vc_pci_dev *group_find_device(const struct vc_group *g, const struct vc_pci_addr *a) {
        for (size_t i = 0; i < vc_group_n_devices(g); i++)
                if (vc_pci_addr_equal(vc_pci_dev_addr(vc_group_device(g, i)), a))
                        return vc_group_device(g, i);
        return NULL;
}

static const char *where(const struct vc_config_device *cd) {
        static char buf[512];
        snprintf(buf, sizeof buf, "%s:%u", cd->file, cd->line);
        return buf;
}

/* Every endpoint of the group that the configuration reserves for another VM refuses the whole
 * group: the GPU's audio function is handed over with it. */
static int check_group_reservations(const struct vc_config *config, const char *vm, unsigned group,
                                    const struct vc_group *g) {
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                const struct vc_config_device *cd = vc_config_match_device(config, d);
                if (vc_pci_dev_is_bridge(d) || !cd || !cd->vm || streq(cd->vm, vm))
                        continue;
                return fail("%s (device %s, IOMMU group %u) is reserved for VM \"%s\" by %s; "
                            "remove the group from VM \"%s\" or change vm = in the configuration",
                            vc_pci_dev_name(d), cd->name, group, cd->vm, where(cd), vm);
        }
        return HOOK_OK;
}

/* Undo this transaction's claims, newest first; the lock is held. The engine takes back exactly
 * what each claim changed (vc_op_result_undo()): devices it moved, reset_method it wrote, the
 * owner it recorded; a group that was on vfio-pci before stays there. Best effort: a group that
 * cannot be put back keeps its record, and "vfio-claim release" can finish the job. */
static void rollback(struct vc_ctx *ctx, struct hook_plan *p) {
        for (size_t i = p->n_groups; i-- > 0;) {
                struct wanted *w = &p->groups[i];
                if (!w->res.undo)
                        continue;
                int r = vc_op_result_undo(ctx, &w->res, true);
                if (r < 0)
                        log_error_errno(r, "rollback: cannot put group %u back as it was: %m", w->group);
                else
                        log_info("rollback: put group %u back as it was", w->group);
        }
}

/* What of [global] applies to this run: the log level, and the bound of one sysfs write. */
static void use_config(struct vc_ctx *ctx, const struct vc_config *config) {
        vc_log_set_max_level(config->log_level);
        if (config->timeout_ms)
                vc_ctx_set_unbind_timeout_ms(ctx, config->timeout_ms);
}

/* The engine's one line for a failed operation (lib/bind.h), and for a write that did not finish
 * in time what that means: the kernel may still carry it out, and the bound can be raised. */
static char *op_failure_text(struct vc_ctx *ctx, const struct vc_op_result *res, int r) {
        _cleanup_free_ char *m = vc_op_result_message(res);
        char *t = NULL;
        if (vc_op_result_write_timed_out(res)) {
                if (asprintf(&t, "%s (the write did not finish within %u s, [global] timeout; the kernel may "
                                 "still complete it)",
                             m ?: strerror(-r), vc_ctx_get_unbind_timeout_ms(ctx) / 1000) < 0)
                        t = NULL;
                return t;
        }
        return m ? TAKE_PTR(m) : strdup(strerror(-r));
}

/* A configured group that holds devices of other slots (a USB controller, a NIC beside the GPU)
 * moves only with "consent = yes" on its entry, as at boot (lib/boot.h): nobody is there to ask.
 * A group that is claimed already moves nothing; a group no entry configures is claimed only under
 * [global] hook-claim-unconfigured = yes, which is that consent. */
static int check_consent(struct vc_ctx *ctx, const struct vc_config *config, const char *vm, unsigned group,
                         const struct vc_group *g) {
        bool configured = false;
        if (vc_group_is_claimed(ctx, g))
                return HOOK_OK; /* the claim reads it again and says what is wrong */
        for (size_t k = 0; k < vc_group_n_devices(g) && !configured; k++)
                configured = vc_config_match_device(config, vc_group_device(g, k)) != NULL;
        struct vc_op_result res = {};
        if (!configured || vc_boot_consent_check(config, g, &res) == 0)
                return HOOK_OK;
        _cleanup_free_ char *m = vc_op_result_message(&res);
        vc_op_result_done(&res);
        return fail("IOMMU group %u: %s; VM \"%s\" was not started (check what else the group holds with "
                    "'vfio-claim show group:%u', then add consent = yes to its entry)",
                    group, m ? m : "holds devices of other slots", vm, group);
}

/* The USB devices this prepare took from their host drivers (port paths): a device that was
 * enabled before is not among them. A failed prepare gives back exactly these. */
struct usb_taken {
        char **ports;
        size_t n;
};

static void usb_taken_done(struct usb_taken *t) {
        for (size_t i = 0; i < t->n; i++)
                free(t->ports[i]);
        free(t->ports);
        *t = (struct usb_taken){};
}

static int usb_taken_add(struct usb_taken *t, const char *port) {
        char **n = realloc(t->ports, (t->n + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        t->ports = n;
        if (!(t->ports[t->n] = strdup(port)))
                return -ENOMEM;
        t->n++;
        return 0;
}

/* This run made or removed a USB device's record: the generated udev rule, which names the ids
 * of every recorded device, is written again (usb_update_rule()). */
static bool usb_records_changed;

/* The generated udev rule (lib/boot.h) from the configuration read under the lock, after this run
 * took or gave back a USB device, still under the lock, as the CLI writes it after enable and
 * disable (src/verb-claim.c, update_udev_rule()): a device the hook took stays off its host
 * drivers when it is plugged in again while its VM runs, and one given back runs the helper no
 * more. An unusable configuration (NULL) leaves the rule as it is, as it leaves the CLI's; a rule
 * that cannot be written is a warning: the boot pass writes it again. */
static void usb_update_rule(struct vc_ctx *ctx, const struct vc_config *config) {
        if (!usb_records_changed || !config)
                return;
        int r = vc_boot_rules_write(ctx, config);
        if (r < 0)
                log_warning_errno(r, "cannot update the udev rule %s: %m; udev follows the USB devices taken again "
                                  "from the next boot", VC_BOOT_RULES_NAME);
}

/* A prepare that fails gives the USB devices it took back to their host drivers, newest first;
 * the lock is held. Best effort: a device that cannot be given back keeps its record, and
 * "vfio-claim disable PORT" finishes the job. */
static void usb_rollback(struct vc_ctx *ctx, const char *vm, struct usb_taken *t) {
        for (size_t i = t->n; i-- > 0;) {
                int r = vc_usb_disable(ctx, t->ports[i]);
                usb_records_changed = true;
                if (r < 0)
                        log_error_errno(r, "rollback: VM %s: USB device %s: cannot give its interfaces back: %m; "
                                           "run 'vfio-claim disable %s'", vm, t->ports[i], t->ports[i]);
                else
                        log_info("rollback: VM %s: USB device %s is back on its host drivers", vm, t->ports[i]);
        }
        usb_taken_done(t);
}

/* Group @w of the domain, read under the lock, checked (its members still in it, reservations,
 * consent, a holder) and claimed for @vm; with @dry_run, everything but the writes, its result
 * not kept. */
static int claim_one(struct vc_ctx *ctx, const struct vc_config *config, const struct hook_plan *p, struct wanted *w,
                     const char *vm, const struct vc_process_id *starter, struct vc_critical_set **critical,
                     bool dry_run) {
        int r;

        const char *dev = VC_PCI_ADDR_TO_STRING(&w->first);

        /* One read of the group, under the lock, serves the checks below, the reset
         * choices and vc_group_claim() (opts.group). */
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        struct vc_read_failure f;
        char bad[VC_READ_FAILURE_PREFIX_MAX];
        r = vc_group_read(ctx, w->group, &g, &f);
        if (r < 0)
                return fail("cannot read IOMMU group %u: %s%s; the VM was not started", w->group,
                            vc_read_failure_prefix(&f, bad), strerror(-r));
        /* The group was found from the devices' links, under the lock but before this
         * read: a device the kernel removed and added in between (hotplug takes no lock
         * of ours) can come back in a group of another number. */
        for (size_t k = 0; k < p->n_members; k++) {
                const struct hook_member *m = &p->members[k];
                if (m->group == w->group && !group_find_device(g, &m->addr))
                        return fail("%s is no longer in IOMMU group %u (the host's devices changed while the "
                                    "hook read them); the VM was not started",
                                    VC_PCI_ADDR_TO_STRING(&m->addr), w->group);
        }
        if ((r = check_group_reservations(config, vm, w->group, g)) != HOOK_OK)
                return r;
        if ((r = check_consent(ctx, config, vm, w->group, g)) != HOOK_OK)
                return r;

        w->before = vc_record_free(w->before); /* read again after the dry run */
        r = vc_record_read(ctx, w->group, &w->before);
        if (r < 0 && r != -ENOENT)
                return fail("%s: the state record of IOMMU group %u is unreadable (%s); "
                            "check it with 'vfio-claim status'", dev, w->group, strerror(-r));
        if (w->before && w->before->owner && !streq(w->before->owner, vm))
                return fail("%s (IOMMU group %u) is in use by VM \"%s\"; stop that VM first "
                            "(if it is not running: vfio-claim release group:%u)",
                            dev, w->group, w->before->owner, w->group);

        _cleanup_(vc_claim_config_done) struct vc_claim_config cc = {};
        r = vc_claim_config_for_group(config, g, &cc);
        if (r < 0)
                return fail("%s: cannot read IOMMU group %u (%s)", dev, w->group, strerror(-r));
        _cleanup_(vc_op_result_done) struct vc_op_result dry = {};
        struct vc_op_result *res = dry_run ? &dry : &w->res;
        struct vc_claim_opts opts = {
                .by = "libvirt hook",
                .dry_run = dry_run,
                .owner = vm,
                .starter = starter && starter->pid ? starter : NULL,
                .lock_held = true,
                .group = g,
                .protect = config->protect,
                .critical = critical,
        };
        /* Every configured member's "id =" guard, the domain's devices' and the others'
         * (an audio function whose entry expects another card): the group moves whole,
         * as at boot and for apply (vfio-claim.conf(5), id). */
        vc_claim_opts_use_config(&opts, &cc);
        r = vc_group_claim(ctx, w->group, &opts, res);
        if (r < 0) {
                _cleanup_free_ char *m = op_failure_text(ctx, res, r);
                char hint[96];
                if (r == -EPERM && res->console)
                        snprintf(hint, sizeof hint, "set console = handoff in its entry to hand the console over");
                else if (r == -EPERM)
                        snprintf(hint, sizeof hint, "the host needs this device; see 'vfio-claim doctor'");
                else if (r == -ESTALE)
                        snprintf(hint, sizeof hint, "check the id = line in the configuration");
                else if (r == -EBUSY && res->failed_step == VC_STEP_HOLDERS)
                        hint[0] = '\0'; /* the message names them and says "stop them first" */
                else if (r == -EBUSY)
                        snprintf(hint, sizeof hint, "stop the VM that holds it first");
                else if (vc_op_result_write_timed_out(res))
                        snprintf(hint, sizeof hint, "'vfio-claim status' shows the group");
                else
                        snprintf(hint, sizeof hint, "see 'vfio-claim show group:%u' and the system log",
                                 w->group);
                char own[32];
                snprintf(own, sizeof own, "group %u: ", w->group);
                if (m) /* "group N: ..." when no device failed: named once */
                        r = fail("IOMMU group %u: %s; VM \"%s\" was not started%s%s%s", w->group,
                                 startswith(m, own) ? m + strlen(own) : m, vm, hint[0] ? " (" : "", hint,
                                 hint[0] ? ")" : "");
                else
                        r = fail("%s (IOMMU group %u): %s; VM \"%s\" was not started (%s)", dev, w->group,
                                 strerror(-r), vm, hint);
                return r;
        }
        if (!dry_run)
                log_info("VM %s: IOMMU group %u (%s) %s", vm, w->group, dev,
                         res->changed ? "claimed for vfio-pci" : "already on vfio-pci; now owned by this VM");
        return HOOK_OK;
}

/* The lock is held (do_prepare()); @usb is what usb_prepare() took, given back with the groups
 * when a claim fails. *@critical: the domain's one host-critical scan, made under the lock by the
 * first check that needs it (mount table, routes, consoles: read once, not once a group). */
static int claim_all(struct vc_ctx *ctx, const struct vc_config *config, struct hook_plan *p,
                     const char *vm, struct usb_taken *usb, struct vc_critical_set **critical) {
        int r;

        /* Who starts the VM: libvirtd, our parent (the front execs us). Without /proc (never on
         * a host) no starter is recorded, and the hold is decided by libvirt's word alone. */
        struct vc_process_id starter = {};
        r = vc_process_id_read(ctx, (uint32_t) getppid(), &starter);
        if (r < 0) {
                log_warning_errno(r, "VM %s: cannot identify the libvirtd starting it (pid %d): %m; "
                                  "its groups are recorded as held by a running VM", vm, (int) getppid());
                starter = (struct vc_process_id){};
        }

        /* Several groups: each is checked first, as a dry run, so that a later group's refusal
         * (host-critical, in use, a guard, another VM's) comes before any group moves; the claims
         * after it fail only on a write, which the rollback puts back. */
        for (size_t i = 0; p->n_groups > 1 && i < p->n_groups; i++)
                if ((r = claim_one(ctx, config, p, &p->groups[i], vm, &starter, critical, true)) != HOOK_OK)
                        goto fail;
        for (size_t i = 0; i < p->n_groups; i++)
                if ((r = claim_one(ctx, config, p, &p->groups[i], vm, &starter, critical, false)) != HOOK_OK)
                        goto fail;
        return HOOK_OK;

fail:
        rollback(ctx, p);
        usb_rollback(ctx, vm, usb);
        return r;
}

/* Does the kernel let a VM use the group with @d on its driver? vfio-pci and pci-stub hold no
 * DMA of their own, and an unbound device none at all. */
static bool driver_keeps_group_viable(const struct vc_pci_dev *d) {
        const char *drv = vc_pci_dev_driver(d);
        return !drv || streq(drv, "vfio-pci") || streq(drv, "pci-stub");
}

static bool domain_lists(const struct vc_domain *dom, const struct vc_pci_addr *a) {
        for (size_t i = 0; i < dom->n_hostdevs; i++)
                if (vc_pci_addr_equal(&dom->hostdevs[i].addr, a))
                        return true;
        return false;
}

/* A managed='yes' PCI host device that no entry configures (what virt-manager's "Add PCI Host
 * Device" writes). libvirt detaches only the devices the domain lists; any other endpoint of the
 * group left on a host driver makes the group not viable, and the start fails later and less
 * readably. By default: such a group fails here, naming those endpoints and the command that
 * configures the group; a group with nothing else on a host driver is left to libvirt. With
 * [global] hook-claim-unconfigured = yes the whole group is claimed like a configured one (every
 * safety refusal of the engine applies) and given back at release. */
static int unconfigured_managed(struct vc_ctx *ctx, const struct vc_config *config, const struct vc_domain *dom,
                                const struct vc_pci_dev *d, const char *vm, struct hook_plan *p) {
        const char *addr = vc_pci_dev_name(d);
        int group = vc_pci_dev_iommu_group(d);
        if (group < 0) {
                log_debug("VM %s: %s is not configured and has no IOMMU group; left to libvirt", vm, addr);
                return HOOK_OK;
        }
        if (config->hook_claim_unconfigured) {
                log_info("VM %s: %s is not configured; its IOMMU group %d is claimed "
                         "(hook-claim-unconfigured = yes)", vm, addr, group);
                return hook_plan_add_group(p, (unsigned) group, vc_pci_dev_addr(d)) < 0 ? fail("out of memory") : HOOK_OK;
        }

        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        struct vc_read_failure f;
        char dev[VC_READ_FAILURE_PREFIX_MAX];
        int r = vc_group_read(ctx, (unsigned) group, &g, &f);
        if (r < 0)
                return fail("%s: cannot read IOMMU group %d: %s%s; VM \"%s\" was not started", addr, group,
                            vc_read_failure_prefix(&f, dev), strerror(-r), vm);
        char missing[512] = "";
        size_t n_missing = 0, used = 0;
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *m = vc_group_device(g, i);
                if (vc_pci_dev_is_bridge(m) || driver_keeps_group_viable(m) || domain_lists(dom, vc_pci_dev_addr(m)))
                        continue;
                int k = snprintf(missing + used, sizeof missing - used, "%s%s (%s)", n_missing ? ", " : "",
                                 vc_pci_dev_name(m), vc_pci_dev_driver(m));
                if (k > 0 && (size_t) k < sizeof missing - used)
                        used += (size_t) k;
                n_missing++;
        }
        if (n_missing == 0) {
                log_debug("VM %s: %s is not configured; left to libvirt (nothing else of group %d is on a host driver)",
                          vm, addr, group);
                return HOOK_OK;
        }
        return fail("%s is not configured for vfio-claim, and its IOMMU group %d also holds %s, which libvirt "
                    "does not detach; run 'vfio-claim enable %s' to claim the whole group for VMs; VM \"%s\" "
                    "was not started",
                    addr, group, missing, addr, vm);
}

/* A VM whose name a record cannot keep as the owner of what the hook takes for it (lib/name.h). */
#define VM_NAME_UNRECORDABLE                                                                                    \
        "VM \"%s\": vfio-claim cannot record this name as the owner of its devices (at most %u bytes, no "        \
        "control character, no '/', no white space first or last); rename the VM (virsh domrename). It was not " \
        "started"

/* The USB devices of the domain that a [usb NAME] entry configures: each taken from its host
 * drivers (lib/usb.h), recorded with the VM as owner when the hook took it (listed in @taken).
 * A device that is not plugged in is left to libvirt (its startupPolicy decides). The lock is
 * held (do_prepare()). On failure the devices taken are given back. *@critical: as claim_all()'s. */
/* A <hostdev type='usb'> by ids alone selects every device plugged in with them; libvirt then
 * fails the start ("Multiple USB devices for ..., use <address> to specify one"). Said here,
 * before any of them is taken from its host driver. */
static int usb_ambiguous(const struct vc_domain *dom, const struct vc_usb_dev *v, size_t n, const char *vm) {
        for (size_t j = 0; j < dom->n_usbs; j++) {
                const struct vc_domain_usb *e = &dom->usbs[j];
                const char *first = NULL, *second = NULL;
                if (!e->has_ids || e->has_addr)
                        continue;
                for (size_t i = 0; i < n && !second; i++)
                        if (v[i].vendor == e->vendor && v[i].product == e->product)
                                *(first ? &second : &first) = v[i].port;
                if (second)
                        return fail("VM \"%s\" lists USB device %04x:%04x without an <address>, and more than one is "
                                    "plugged in (%s, %s): libvirt cannot tell which to give it; add <address bus= device=/> "
                                    "to that <hostdev> (virsh edit %s); VM \"%s\" was not started",
                                    vm, e->vendor, e->product, first, second, vm, vm);
        }
        return HOOK_OK;
}

static int usb_prepare(struct vc_ctx *ctx, const struct vc_config *config, const struct vc_domain *dom,
                       const char *vm, struct usb_taken *taken, struct vc_critical_set **critical) {
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        int r = vc_usb_enumerate(ctx, 0, &v, &n), ret = HOOK_OK;
        if (r < 0)
                return fail("cannot read the USB devices: %s; VM \"%s\" was not started", strerror(-r), vm);
        if ((ret = usb_ambiguous(dom, v, n, vm)) != HOOK_OK) {
                vc_usb_devs_free(v, n);
                return ret;
        }
        for (size_t i = 0; i < n && ret == HOOK_OK; i++) {
                struct vc_usb_dev *d = &v[i];
                struct vc_domain_usb sel = { .has_ids = true, .vendor = d->vendor, .product = d->product,
                                             .has_addr = true, .bus = d->busnum, .device = d->devnum };
                const struct vc_config_usb *u = NULL;
                if (!vc_domain_has_usb(dom, &sel))
                        continue;
                /* its serial, when an entry of its ids names one: with a bound, under the lock */
                if ((r = vc_usb_config_match(ctx, config, d, &u)) < 0) {
                        ret = r == -ETIMEDOUT
                                      ? fail("USB device %s (%04x:%04x): cannot read its serial number within %u s, "
                                             "which an entry of its ids names: a driver holds the device (probing or "
                                             "resetting it); VM \"%s\" was not started",
                                             d->port, d->vendor, d->product, vc_ctx_get_unbind_timeout_ms(ctx) / 1000, vm)
                                      : fail("USB device %s (%04x:%04x): cannot read its serial number, which an entry "
                                             "of its ids names: %s; VM \"%s\" was not started",
                                             d->port, d->vendor, d->product, strerror(-r), vm);
                        break;
                }
                if (!u)
                        continue;
                if (u->vm && !streq(u->vm, vm)) {
                        ret = fail("USB device %s ([usb %s]) is reserved for VM \"%s\" by %s:%u; remove it from VM "
                                   "\"%s\" or change vm = in the configuration",
                                   d->port, u->name, u->vm, u->file, u->line, vm);
                        break;
                }
                /* enabled before: its own record (a record another device left at the port, unplugged
                 * since, is no hold of this one: replaced below, after the checks) */
                r = vc_usb_record_is_of(ctx, d);
                if (r < 0 && r != -ENOENT) {
                        ret = r == -ETIMEDOUT
                                      ? fail("USB device %s ([usb %s]): cannot read its serial number within %u s, "
                                             "which the record of its port names: a driver holds the device (probing "
                                             "or resetting it); VM \"%s\" was not started",
                                             d->port, u->name, vc_ctx_get_unbind_timeout_ms(ctx) / 1000, vm)
                                      : fail("USB device %s ([usb %s]): cannot tell whether the record of its port is "
                                             "its own: %s; VM \"%s\" was not started",
                                             d->port, u->name, strerror(-r), vm);
                        break;
                }
                bool had = r > 0;
                /* held for a running VM (its record names it): not this VM's to take */
                _cleanup_free_ char *holder = NULL;
                if (had && vc_usb_record_owner(ctx, d->port, &holder) >= 0 && holder && !streq(holder, vm)) {
                        ret = fail("USB device %s ([usb %s]) is in use by VM \"%s\"; stop that VM first (if it is not "
                                   "running: vfio-claim disable %s); VM \"%s\" was not started",
                                   d->port, u->name, holder, d->port, vm);
                        break;
                }
                if (!had && !vc_vm_name_is_valid(vm)) {
                        ret = fail(VM_NAME_UNRECORDABLE, vm, VC_VM_NAME_MAX);
                        break;
                }
                unsigned sv = 0, sp = 0; /* a stale record's ids */
                (void) vc_usb_record_id(ctx, d->port, &sv, &sp);
                if (!had && config->protect) {
                        /* The storage or NIC the host runs on, as `vfio-claim enable` refuses it (one
                         * scan for all the domain's devices); a keyboard an entry gives a VM is
                         * the VM's, as the admin asked. */
                        _cleanup_free_ char *why = NULL;
                        if ((r = *critical ? 0 : vc_critical_scan(ctx, critical)) < 0 ||
                            (r = vc_usb_dev_needed(*critical, d, &why)) < 0) {
                                ret = fail("USB device %s ([usb %s]): cannot tell whether the host needs it: %s; VM "
                                           "\"%s\" was not started",
                                           d->port, u->name, strerror(-r), vm);
                                break;
                        }
                        if (why) {
                                ret = fail("USB device %s ([usb %s]): refused: the host needs it: %s; VM \"%s\" was "
                                           "not started (protect = no in the configuration allows it)",
                                           d->port, u->name, why, vm);
                                break;
                        }
                }
                if (!had) {
                        _cleanup_free_ char *who = NULL;
                        r = vc_block_holders_check(ctx, (const char *const[]){ d->port }, 1, NULL, &who);
                        if (r < 0) {
                                ret = r == -EBUSY ? fail("USB device %s ([usb %s]): %s; stop them first; VM \"%s\" was not "
                                                         "started",
                                                         d->port, u->name, who, vm)
                                                  : fail("USB device %s ([usb %s]): cannot tell whether a process holds "
                                                         "its disks: %s; VM \"%s\" was not started",
                                                         d->port, u->name, strerror(-r), vm);
                                break;
                        }
                }
                const char *failed = NULL;
                r = vc_usb_hold(ctx, d, NULL, NULL, &failed);
                if (r > 0)
                        log_notice("VM %s: USB device %s: the record of USB device %04x:%04x, unplugged from this port "
                                   "since, is replaced by that of %04x:%04x", vm, d->port, sv, sp, d->vendor, d->product);
                if (r >= 0 && !had) {
                        usb_records_changed = true;
                        /* Listed first: a record without its owner goes back too. */
                        if ((r = usb_taken_add(taken, d->port)) < 0) {
                                (void) vc_usb_disable(ctx, d->port);
                                failed = NULL;
                        } else
                                r = vc_usb_record_set_owner(ctx, d->port, vm);
                }
                if (r < 0) {
                        ret = fail("USB device %s ([usb %s]): cannot take %s from its host driver: %s; VM \"%s\" was "
                                   "not started",
                                   d->port, u->name, strna(failed), strerror(-r), vm);
                        break;
                }
                log_info("VM %s: USB device %s ([usb %s]) has no host driver now", vm, d->port, u->name);
        }
        vc_usb_devs_free(v, n);
        if (ret != HOOK_OK)
                usb_rollback(ctx, vm, taken);
        return ret;
}

/* The USB devices the hook took for @vm go back to their host drivers, unless their entry says
 * boot = yes or [global] release = keep; a device enabled before the VM started stays enabled. */
static void usb_release(struct vc_ctx *ctx, const struct vc_config *config, const char *vm) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        if (vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL) < 0 || vc_dir_list(dir, &names) < 0)
                return;
        for (char **s = names; *s; s++) {
                const char *port = startswith(*s, "usb-");
                _cleanup_free_ char *owner = NULL;
                if (!port || !vc_usb_port_is_valid(port) || vc_usb_record_owner(ctx, port, &owner) < 0 ||
                    !streq_ptr(owner, vm))
                        continue;
                struct vc_usb_dev d;
                const struct vc_config_usb *u = NULL;
                int r = 0;
                if (vc_usb_dev_read(ctx, port, 0, &d) >= 0) {
                        r = vc_usb_config_match(ctx, config, &d, &u);
                        vc_usb_dev_done(&d);
                }
                if (r < 0) {
                        log_warning_errno(r, "VM %s stopped: USB device %s stays without host drivers: cannot read its "
                                             "serial number, which an entry of its ids names, to see whether it says "
                                             "boot = yes (%m); 'vfio-claim disable %s' gives it back",
                                          vm, port, port);
                        continue;
                }
                if (!config || (u && u->boot) || config->release == VC_RELEASE_KEEP) {
                        /* kept, and no longer this VM's (as a kept PCI group): the next VM that
                         * uses it finds it enabled, and this VM's next stop does not take it */
                        r = vc_usb_record_set_owner(ctx, port, NULL);
                        if (r < 0)
                                log_warning_errno(r, "VM %s stopped: USB device %s: cannot clear its owner: %m", vm, port);
                        log_info("VM %s stopped: USB device %s stays without host drivers (boot = yes, or release = keep)",
                                 vm, port);
                        continue;
                }
                r = vc_usb_disable(ctx, port);
                usb_records_changed = true;
                if (r < 0)
                        log_error_errno(r, "VM %s stopped: USB device %s: cannot give its interfaces back: %m; run "
                                           "'vfio-claim disable %s'", vm, port, port);
                else if (r > 0)
                        log_info("VM %s stopped: the USB device at %s is not the one it held (that one was unplugged); "
                                 "its record is removed, the device there left as it is", vm, port);
                else
                        log_info("VM %s stopped: USB device %s is back on its host drivers", vm, port);
        }
}

static bool usb_records_exist(struct vc_ctx *ctx) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        if (vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL) < 0 || vc_dir_list(dir, &names) < 0)
                return false;
        for (char **s = names; *s; s++)
                if (startswith(*s, "usb-"))
                        return true;
        return false;
}

/* Could vfio-claim have anything to do for this domain: a PCI host device an entry configures, a
 * managed='yes' one no entry configures (its group is looked at, and claimed under [global]
 * hook-claim-unconfigured = yes), a USB device a [usb NAME] entry configures? Read without the
 * lock, and only to decide whether to wait for it: true whenever in doubt (a configuration or a
 * device that cannot be read). */
static bool domain_may_be_ours(struct vc_ctx *ctx, const struct vc_domain *dom) {
        _cleanup_(vc_config_freep) struct vc_config *config = NULL;
        _cleanup_free_ char *dir = NULL;
        if (config_dir(ctx, &dir) < 0 || vc_config_load(dir, &config) < 0)
                return true;
        for (size_t i = 0; i < dom->n_hostdevs; i++) {
                const struct vc_domain_hostdev *h = &dom->hostdevs[i];
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;
                int r = vc_pci_dev_read_identity(ctx, &h->addr, &d);
                if (r == -ENODEV)
                        continue;
                if (r < 0 || h->managed || vc_config_match_device(config, d))
                        return true;
        }
        if (dom->n_usbs == 0 || config->n_usbs == 0)
                return false;
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        bool ours = vc_usb_enumerate(ctx, 0, &v, &n) < 0;
        for (size_t i = 0; i < n && !ours; i++) {
                const struct vc_usb_dev *d = &v[i];
                struct vc_domain_usb sel = { .has_ids = true, .vendor = d->vendor, .product = d->product,
                                             .has_addr = true, .bus = d->busnum, .device = d->devnum };
                /* an entry of its ids: its serial (not read here) may select it */
                bool ids = false;
                for (size_t k = 0; k < config->n_usbs && !ids; k++)
                        ids = config->usbs[k].vendor == d->vendor && config->usbs[k].product == d->product;
                ours = ids && vc_domain_has_usb(dom, &sel);
        }
        vc_usb_devs_free(v, n);
        return ours;
}

/* The groups of the domain's PCI host devices: those the configuration selects, then those of
 * unconfigured managed='yes' devices (unconfigured_managed()). Only the devices the XML names
 * are read, and only what matches them against the configuration and finds their groups: never
 * a scan of the whole bus. The groups are read whole in claim_all(). An unconfigured device in a
 * group a configured one brings (the GPU's audio function beside a configured GPU of four
 * functions) is claimed with that group: the check that the rest of its group is detached is
 * for groups nothing else claims. */
static int plan_hostdevs(struct vc_ctx *ctx, const struct vc_config *config, const struct vc_domain *dom,
                         const char *vm, struct hook_plan *p) {
        _cleanup_free_ struct vc_pci_dev **unconfigured = calloc(dom->n_hostdevs + 1, sizeof *unconfigured);
        size_t n_unconfigured = 0;
        int r = HOOK_OK;

        if (!unconfigured)
                return fail("out of memory");
        for (size_t i = 0; i < dom->n_hostdevs && r == HOOK_OK; i++) {
                const struct vc_domain_hostdev *h = &dom->hostdevs[i];
                const char *addr = VC_PCI_ADDR_TO_STRING(&h->addr);
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;

                int k = vc_pci_dev_read_identity(ctx, &h->addr, &d);
                if (k == -ENODEV) {
                        log_debug("VM %s: %s is not present; left to libvirt", vm, addr);
                        continue;
                }
                if (k < 0) {
                        r = fail("%s: cannot read the device: %s; VM \"%s\" was not started", addr, strerror(-k), vm);
                        break;
                }
                const struct vc_config_device *cd = vc_config_match_device(config, d);
                if (!cd) {
                        if (h->managed)
                                unconfigured[n_unconfigured++] = TAKE_PTR(d);
                        else
                                log_debug("VM %s: %s is not configured; left to libvirt (managed='no')", vm, addr);
                        continue;
                }
                int group = vc_pci_dev_iommu_group(d);
                if (cd->vm && !streq(cd->vm, vm))
                        r = fail("%s (device %s) is reserved for VM \"%s\" by %s; remove it from VM \"%s\" "
                                 "or change vm = in the configuration",
                                 addr, cd->name, cd->vm, where(cd), vm);
                else if (group < 0)
                        r = fail("%s (device %s) has no IOMMU group; enable the IOMMU "
                                 "(see 'vfio-claim doctor'). VM \"%s\" was not started", addr, cd->name, vm);
                else if (hook_plan_add_group(p, (unsigned) group, &h->addr) < 0)
                        r = fail("out of memory");
        }
        for (size_t i = 0; i < n_unconfigured && r == HOOK_OK; i++) {
                const struct vc_pci_dev *d = unconfigured[i];
                int group = vc_pci_dev_iommu_group(d);
                bool planned = false;
                for (size_t k = 0; group >= 0 && k < p->n_groups; k++)
                        planned |= p->groups[k].group == (unsigned) group;
                if (planned) {
                        log_debug("VM %s: %s is not configured; its IOMMU group %d is claimed whole for a configured "
                                  "device", vm, vc_pci_dev_name(d), group);
                        if (hook_plan_add_group(p, (unsigned) group, vc_pci_dev_addr(d)) < 0)
                                r = fail("out of memory");
                        continue;
                }
                r = unconfigured_managed(ctx, config, dom, d, vm, p);
        }
        for (size_t i = 0; i < n_unconfigured; i++)
                vc_pci_dev_free(unconfigured[i]);
        return r;
}

static int do_prepare(struct vc_ctx *ctx, const char *vm) {
        _cleanup_free_ char *xml = NULL, *err = NULL, *dir = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *dom = NULL;
        _cleanup_(vc_config_freep) struct vc_config *config = NULL;
        _cleanup_(hook_plan_done) struct hook_plan p = {};
        _cleanup_(usb_taken_done) struct usb_taken usb = {};
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *critical = NULL;
        _cleanup_close_ int lock_fd = -1;
        size_t len = 0;
        int r;

        r = vc_read_fd(STDIN_FILENO, VC_DOMAIN_XML_MAX, &xml, &len);
        if (r == -EFBIG)
                return fail(VC_DOMAIN_XML_TOO_LARGE, vm, VC_DOMAIN_XML_MAX, vm);
        if (r < 0)
                return fail("cannot read the domain XML of VM \"%s\" on stdin: %s", vm, strerror(-r));
        r = vc_domain_parse(xml, len, &dom, &err);
        if (r < 0)
                return fail("the domain XML of VM \"%s\" is unusable: %s", vm, err ? err : strerror(-r));
        if (dom->n_hostdevs == 0 && dom->n_usbs == 0)
                return HOOK_OK; /* nothing of ours: the common case, kept cheap */

        /* The lock first: the configuration, the devices' groups and what else of each group is
         * on a host driver are read under it, so a claim, a give-back or an edit of the
         * configuration (enable, disable) by another vfio-claim run is seen whole or not at all,
         * never read before it and acted on after it. While another run holds it, a domain
         * whose devices are none of vfio-claim's (managed='no' ones no entry names, USB
         * devices no [usb] entry names) starts without waiting: its start must not hang on a
         * vfio-claim command, nor fail when one is stuck. */
        r = vc_state_lock(ctx, 0, &lock_fd);
        if (r == -EWOULDBLOCK) {
                if (!domain_may_be_ours(ctx, dom)) {
                        log_debug("VM %s: none of its host devices is vfio-claim's; not waiting for the lock", vm);
                        return HOOK_OK;
                }
                r = vc_state_lock(ctx, LOCK_TIMEOUT_MS, &lock_fd);
        }
        if (r < 0)
                return fail("cannot take the vfio-claim lock (%s); is another vfio-claim command stuck? "
                            "VM \"%s\" was not started", strerror(-r), vm);

        if ((r = config_dir(ctx, &dir)) < 0)
                return fail("out of memory");
        r = vc_config_load(dir, &config);
        if (r < 0) {
                if (config && config->n_errors > 0)
                        return fail("%s: %s; run 'vfio-claim check-config'. VM \"%s\" was not started",
                                    dir, config->errors[0], vm);
                return fail("%s: cannot read the configuration: %s", dir, strerror(-r));
        }
        use_config(ctx, config);

        if ((r = plan_hostdevs(ctx, config, dom, vm, &p)) != HOOK_OK)
                return r;
        /* The groups' records name the VM as their owner (lib/name.h: what a record keeps). libvirt
         * takes names these cannot hold, a leading or trailing blank, a tab: said before any
         * change, not as a record that failed to be written. */
        if (p.n_groups > 0 && !vc_vm_name_is_valid(vm))
                return fail(VM_NAME_UNRECORDABLE, vm, VC_VM_NAME_MAX);
        /* USB devices first, the groups next, under one lock: a failed group claim gives back
         * the USB devices this prepare took, as it gives back the groups. */
        r = HOOK_OK;
        if (dom->n_usbs > 0)
                r = usb_prepare(ctx, config, dom, vm, &usb, &critical);
        if (r == HOOK_OK && p.n_groups > 0)
                r = claim_all(ctx, config, &p, vm, &usb, &critical);
        usb_update_rule(ctx, config);
        return r;
}

/* started begin: the VM runs. Its records lose the starter: the hold is a running VM's now,
 * which libvirt reports as such. A failure is logged, never returned: the VM runs, and a hold
 * left "starting" stays live as long as its libvirtd lives (the conservative side). */
static int do_started(struct vc_ctx *ctx, const char *vm) {
        _cleanup_free_ unsigned *groups = NULL;
        _cleanup_close_ int lock_fd = -1;
        size_t n_groups = 0;
        int r = vc_record_list(ctx, &groups, &n_groups);
        if (r < 0) {
                log_error_errno(r, "VM %s started: cannot list the state records: %m", vm);
                return HOOK_OK;
        }
        if (n_groups == 0)
                return HOOK_OK;
        r = vc_state_lock(ctx, LOCK_TIMEOUT_MS, &lock_fd);
        if (r < 0) {
                log_error_errno(r, "VM %s started: cannot take the lock: %m; its groups stay recorded as starting", vm);
                return HOOK_OK;
        }
        for (size_t i = 0; i < n_groups; i++) {
                _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                if (vc_record_read(ctx, groups[i], &rec) < 0 || !streq_ptr(rec->owner, vm) || rec->starter.pid == 0)
                        continue;
                r = vc_record_set_starter(rec, NULL);
                if (r >= 0)
                        r = vc_record_write(ctx, rec);
                if (r < 0)
                        log_error_errno(r, "VM %s started: group %u: cannot record it as running: %m", vm, groups[i]);
                else
                        log_debug("VM %s started: group %u held by a running VM", vm, groups[i]);
        }
        return HOOK_OK;
}

/* host or keep for a group: keep when any configured device in it says keep (a "boot = yes"
 * device without its own "release =" does); [global] release when none is configured. The
 * recorded devices are looked up in @g, the group as read under the lock, or read one by one
 * when it could not be read (NULL): a device gone (or, in @g, one now in another group) is
 * left out. */
static enum vc_release group_release_policy(struct vc_ctx *ctx, const struct vc_config *config,
                                            const struct vc_record *rec, const struct vc_group *g) {
        bool any = false, keep = false;
        if (!config)
                return VC_RELEASE_KEEP; /* unreadable configuration: move nothing */
        for (size_t i = 0; i < rec->n_devices; i++) {
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *read = NULL;
                const struct vc_pci_dev *d = g ? group_find_device(g, &rec->devices[i].addr) : NULL;
                if (!g && vc_pci_dev_read(ctx, &rec->devices[i].addr, &read) >= 0)
                        d = read;
                if (!d)
                        continue;
                const struct vc_config_device *cd = vc_config_match_device(config, d);
                if (!cd)
                        continue;
                any = true;
                keep |= vc_config_device_release(config, cd) == VC_RELEASE_KEEP;
        }
        if (!any)
                return config->release;
        return keep ? VC_RELEASE_KEEP : VC_RELEASE_HOST;
}

static int do_release(struct vc_ctx *ctx, const char *vm) {
        _cleanup_free_ unsigned *groups = NULL;
        _cleanup_free_ char *dir = NULL, *first_error = NULL;
        _cleanup_(vc_config_freep) struct vc_config *config = NULL;
        _cleanup_close_ int lock_fd = -1;
        size_t n_groups = 0;
        unsigned first_error_group = 0;
        int r;

        /* The XML is not needed: the records say what this VM owns. */
        r = vc_record_list(ctx, &groups, &n_groups);
        if (r < 0)
                return fail("cannot list the state records: %s; run 'vfio-claim status'", strerror(-r));
        bool usb = usb_records_exist(ctx);
        if (n_groups == 0 && !usb)
                return HOOK_OK;

        /* The lock before the configuration: "release =" is read as it stands when the groups
         * go (see do_prepare()). */
        r = vc_state_lock(ctx, LOCK_TIMEOUT_MS, &lock_fd);
        if (r < 0)
                return fail("VM \"%s\" stopped, but its devices were not given back: cannot take the lock "
                            "(%s); run 'vfio-claim status'", vm, strerror(-r));
        if ((r = config_dir(ctx, &dir)) < 0)
                return fail("out of memory");
        r = vc_config_load(dir, &config);
        if (r < 0) {
                log_warning("%s: configuration unusable (%s); VM %s: its groups stay on vfio-pci",
                            dir, config && config->n_errors ? config->errors[0] : strerror(-r), vm);
                config = vc_config_free(config);
        } else
                use_config(ctx, config);
        if (usb) {
                usb_release(ctx, config, vm);
                usb_update_rule(ctx, config);
        }

        for (size_t i = 0; i < n_groups; i++) {
                _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                r = vc_record_read(ctx, groups[i], &rec);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        log_warning_errno(r, "group %u: state record unreadable, skipped: %m", groups[i]);
                        continue;
                }
                if (!streq_ptr(rec->owner, vm))
                        continue;

                /* One read of the group, under the lock, serves the release policy, the
                 * configuration's choices and vc_group_release() (opts.group). A group that
                 * cannot be read (gone, a device unreadable) is left to the engine, which reads
                 * it again and says what it finds. */
                _cleanup_(vc_group_freep) struct vc_group *g = NULL;
                (void) vc_group_read(ctx, groups[i], &g, NULL); /* sets @g only when it succeeds */

                /* A claim that did not finish (not "claimed": the VM's prepare was killed halfway, or
                 * failed and could not put everything back) never was the VM's: the group goes back as
                 * it was before, whatever release = says, so that a failed start leaves the host as it
                 * found it; vc_group_release() restores from the record. Without a usable
                 * configuration it is left as it is. */
                enum vc_release policy = group_release_policy(ctx, config, rec, g);
                bool unfinished = rec->state != VC_RECORD_CLAIMED;
                if (unfinished && config && policy == VC_RELEASE_KEEP) {
                        log_info("VM %s stopped: IOMMU group %u, whose claim had not finished, goes back to the host "
                                 "(release = keep keeps only a finished claim)", vm, groups[i]);
                        policy = VC_RELEASE_HOST;
                }
                if (policy == VC_RELEASE_KEEP) {
                        r = vc_record_set_owner(rec, NULL);
                        if (r >= 0)
                                r = vc_record_write(ctx, rec);
                        if (r < 0) {
                                log_error_errno(r, "VM %s: group %u: cannot clear the owner: %m", vm, groups[i]);
                                if (!first_error) {
                                        first_error_group = groups[i];
                                        if (asprintf(&first_error, "group %u: cannot clear the owner: %s", groups[i],
                                                     strerror(-r)) < 0)
                                                first_error = NULL;
                                }
                        } else if (unfinished && !config)
                                log_warning("VM %s stopped: IOMMU group %u, whose claim had not finished, is left as it "
                                            "is (configuration unusable); 'vfio-claim status' shows it", vm, groups[i]);
                        else if (!unfinished)
                                log_info("VM %s stopped: IOMMU group %u stays on vfio-pci (release = keep, or boot = yes)",
                                         vm, groups[i]);
                        continue;
                }

                _cleanup_(vc_claim_config_done) struct vc_claim_config cc = {};
                /* A group gone or unreadable leaves @cc empty: release does what it can. */
                if (g)
                        (void) vc_claim_config_for_group(config, g, &cc);
                /* The units to start again come from the record, not the configuration. */
                struct vc_claim_opts opts = { .owner = vm, .lock_held = true, .group = g, .resets = cc.resets,
                                              .n_resets = cc.n_resets, .handoffs = cc.handoffs,
                                              .n_handoffs = cc.n_handoffs };
                struct vc_op_result res = {};
                r = vc_group_release(ctx, groups[i], &opts, &res);
                if (r < 0) {
                        _cleanup_free_ char *m = op_failure_text(ctx, &res, r);
                        log_error("VM %s stopped: IOMMU group %u not given back: %s", vm, groups[i], strna(m));
                        if (!first_error) {
                                first_error_group = groups[i];
                                if (asprintf(&first_error, "IOMMU group %u: %s", groups[i], strna(m)) < 0)
                                        first_error = NULL;
                        }
                } else
                        log_info("VM %s stopped: IOMMU group %u %s", vm, groups[i],
                                 res.changed ? "given back to its host drivers" : "was already back");
                for (size_t k = 0; r >= 0 && k < res.n_not_restored; k++)
                        log_warning("VM %s stopped: IOMMU group %u given back, but %s", vm, groups[i],
                                    res.not_restored[k]);
                vc_op_result_done(&res);
        }
        if (first_error)
                return fail("VM \"%s\" stopped, but %s; retry with 'vfio-claim release group:%u'", vm,
                            first_error, first_error_group);
        return HOOK_OK;
}

int main(int argc, char **argv) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        int r;

        if (argc < 3) {
                fprintf(stderr, "vfio-claim: usage: vfio-claim-hook-worker DOMAIN OPERATION SUB-OPERATION EXTRA "
                                "(run by libvirtd from qemu.d; see vfio-claim-hook(8))\n");
                return HOOK_FAILED;
        }
        const char *vm = argv[1], *op = argv[2], *sub = argc > 3 ? argv[3] : "-";
        bool prepare = streq(op, "prepare") && streq(sub, "begin");
        bool release = streq(op, "release") && streq(sub, "end");
        bool started = streq(op, "started") && streq(sub, "begin");
        if (!prepare && !release && !started)
                return HOOK_OK; /* reconnect, start, stopped, migrate, restore, attach, ... */

        vc_log_open(VC_LOG_SYSLOG, "vfio-claim-hook");
        vc_log_set_max_level(LOG_INFO);

        r = vc_ctx_new(vc_sysroot_from_environment(), &ctx);
        if (r < 0)
                return fail("VFIO_CLAIM_SYSROOT: %s", strerror(-r));
        /* Nothing that takes a device's lock is read without a deadline, from the start (lib/root.h):
         * a driver's probe stuck on a device of the domain must not keep libvirt's start, and
         * the lock we take, waiting in the kernel. Before the lock only identities are read, which
         * then come from modalias, with no lock of the device's. */
        vc_ctx_set_device_reads_bounded(ctx, true);

        return prepare ? do_prepare(ctx, vm) : started ? do_started(ctx, vm) : do_release(ctx, vm);
}
