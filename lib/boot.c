/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boot.h"
#include "cmdline.h"
#include "critical.h"
#include "fileio.h"
#include "iommu.h"
#include "log.h"
#include "modules.h"
#include "reset.h"
#include "state.h"
#include "stuck.h"
#include "sysfs.h"
#include "usb.h"

/* ------------------------------------------------------------ kernel command line */

int vc_boot_cmdline_disabled(struct vc_ctx *ctx, const char **ret_switch) {
        _cleanup_strv_free_ char **params = NULL;
        int r;

        r = vc_cmdline_read(ctx, &params);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (!vc_cmdline_get_bool(params, "rd.vfio_claim", true)) {
                if (ret_switch)
                        *ret_switch = "rd.vfio_claim=0";
                return 1;
        }
        if (!vc_cmdline_get_bool(params, "vfio_claim", true)) {
                if (ret_switch)
                        *ret_switch = "vfio_claim=0";
                return 1;
        }
        return 0;
}

bool vc_boot_in_initrd(struct vc_ctx *ctx) {
        static const char *const markers[] = { "etc/initrd-release", "conf/initramfs.conf" };
        for (size_t i = 0; i < ELEMENTSOF(markers); i++) {
                _cleanup_free_ char *p = NULL;
                if (vc_ctx_path(ctx, VC_PLACE_ROOT, &p, "%s", markers[i]) == 0 && vc_path_exists(p))
                        return true;
        }
        return false;
}

/* ------------------------------------------------------------ finding the targets */

/* What we know about a device without reading all of it. */
struct lite {
        struct vc_pci_addr addr;
        char name[VC_PCI_ADDR_STRLEN];
        int ids_state; /* 0 not read, 1 read, negative errno */
        uint16_t vendor, device;
        int sub_state;
        uint16_t subsystem_vendor, subsystem_device;
};

static int read_u16(struct vc_ctx *ctx, const char *dev, const char *attr, uint16_t *ret) {
        _cleanup_free_ char *p = NULL;
        uint64_t v;
        int r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s/%s", dev, attr);
        if (r < 0)
                return r;
        r = vc_sysfs_read_u64(p, &v);
        if (r < 0)
                return r;
        if (v > UINT16_MAX)
                return -EBADMSG;
        *ret = (uint16_t) v;
        return 0;
}

static int lite_ids(struct vc_ctx *ctx, struct lite *l, bool subsystem) {
        if (l->ids_state == 0) {
                int r = read_u16(ctx, l->name, "vendor", &l->vendor);
                if (r >= 0)
                        r = read_u16(ctx, l->name, "device", &l->device);
                l->ids_state = r < 0 ? r : 1;
        }
        if (l->ids_state < 0)
                return l->ids_state;
        if (subsystem && l->sub_state == 0) {
                int r = read_u16(ctx, l->name, "subsystem_vendor", &l->subsystem_vendor);
                if (r >= 0)
                        r = read_u16(ctx, l->name, "subsystem_device", &l->subsystem_device);
                l->sub_state = r < 0 ? r : 1;
        }
        return subsystem && l->sub_state < 0 ? l->sub_state : 0;
}

static bool lite_has_id(struct vc_ctx *ctx, struct lite *l, const struct vc_pci_id *id) {
        if (lite_ids(ctx, l, id->has_subsystem) < 0)
                return false;
        return vc_pci_id_matches(id, &(const struct vc_pci_id){ .vendor = l->vendor, .device = l->device,
                                                                .has_subsystem = true,
                                                                .subsystem_vendor = l->subsystem_vendor,
                                                                .subsystem_device = l->subsystem_device });
}

/* The first entry in file order that selects the device: the rule of vc_config_match_device(). */
static const struct vc_config_device *lite_match(struct vc_ctx *ctx, const struct vc_config *cfg,
                                                 struct lite *l) {
        for (size_t i = 0; i < cfg->n_devices; i++)
                for (size_t j = 0; j < cfg->devices[i].n_matches; j++) {
                        const struct vc_match *m = &cfg->devices[i].matches[j];
                        if (m->kind == VC_MATCH_ADDRESS ? vc_pci_addr_equal(&m->addr, &l->addr)
                                                        : lite_has_id(ctx, l, &m->id))
                                return &cfg->devices[i];
                }
        return NULL;
}

static int read_group(struct vc_ctx *ctx, const char *dev) {
        _cleanup_free_ char *p = NULL, *name = NULL;
        char *end;
        if (vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s/iommu_group", dev) < 0 ||
            vc_sysfs_read_link_name(p, &name) < 0)
                return -1;
        errno = 0;
        unsigned long n = strtoul(name, &end, 10);
        if (errno || end == name || *end || n > INT32_MAX)
                return -1;
        return (int) n;
}

static int addr_cmp(const void *a, const void *b) {
        return vc_pci_addr_compare(a, b);
}

/* Candidate addresses: every device when an entry that could make a boot target matches by id,
 * otherwise only the configured addresses of boot entries (which may not exist). */
static int candidates(struct vc_ctx *ctx, const struct vc_config *cfg, struct vc_pci_addr **ret,
                      size_t *ret_n) {
        _cleanup_free_ struct vc_pci_addr *v = NULL;
        size_t n = 0, alloc = 0;
        bool by_id = false;
        int r;

        for (size_t i = 0; i < cfg->n_devices && !by_id; i++)
                for (size_t j = 0; cfg->devices[i].boot && j < cfg->devices[i].n_matches; j++)
                        if (cfg->devices[i].matches[j].kind == VC_MATCH_ID)
                                by_id = true;

        if (by_id) {
                _cleanup_free_ char *dir = NULL;
                _cleanup_strv_free_ char **names = NULL;
                r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &dir, NULL);
                if (r < 0)
                        return r;
                r = vc_dir_list(dir, &names);
                if (r == -ENOENT) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                if (r < 0)
                        return r;
                for (char **s = names; *s; s++) {
                        struct vc_pci_addr a;
                        if (vc_pci_addr_parse(*s, &a) < 0)
                                continue;
                        if (n == alloc) {
                                alloc = alloc ? alloc * 2 : 32;
                                struct vc_pci_addr *nv = reallocarray(v, alloc, sizeof *v);
                                if (!nv)
                                        return -ENOMEM;
                                v = nv;
                        }
                        v[n++] = a;
                }
        } else {
                for (size_t i = 0; i < cfg->n_devices; i++)
                        for (size_t j = 0; cfg->devices[i].boot && j < cfg->devices[i].n_matches; j++) {
                                const struct vc_pci_addr *a = &cfg->devices[i].matches[j].addr;
                                bool dup = false;
                                for (size_t k = 0; k < n && !dup; k++)
                                        dup = vc_pci_addr_equal(&v[k], a);
                                if (dup)
                                        continue;
                                if (n == alloc) {
                                        alloc = alloc ? alloc * 2 : 8;
                                        struct vc_pci_addr *nv = reallocarray(v, alloc, sizeof *v);
                                        if (!nv)
                                                return -ENOMEM;
                                        v = nv;
                                }
                                v[n++] = *a;
                        }
        }
        if (n > 1)
                qsort(v, n, sizeof *v, addr_cmp);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int vc_boot_targets_find(struct vc_ctx *ctx, const struct vc_config *cfg,
                         struct vc_boot_target **ret, size_t *ret_n) {
        _cleanup_free_ struct vc_pci_addr *cand = NULL;
        _cleanup_free_ struct vc_boot_target *t = NULL;
        size_t n_cand = 0, n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (!vc_config_has_boot_devices(cfg))
                return 0;
        r = candidates(ctx, cfg, &cand, &n_cand);
        if (r < 0)
                return r;
        if (n_cand == 0)
                return 0;
        t = calloc(n_cand, sizeof *t);
        if (!t)
                return -ENOMEM;

        for (size_t i = 0; i < n_cand; i++) {
                struct lite l = { .addr = cand[i] };
                vc_pci_addr_format(&l.addr, l.name);

                _cleanup_free_ char *dir = NULL;
                r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &dir, "%s", l.name);
                if (r < 0)
                        return r;
                if (!vc_dir_exists(dir))
                        continue; /* configured, not present */

                const struct vc_config_device *cd = lite_match(ctx, cfg, &l);
                if (!cd || !cd->boot)
                        continue;

                struct vc_boot_target *bt = &t[n++];
                bt->addr = l.addr;
                bt->cd = cd;
                bt->state = VC_BOOT_TARGET_OK;
                bt->group = -1;
                if (cd->has_id && !lite_has_id(ctx, &l, &cd->id))
                        bt->state = VC_BOOT_TARGET_ID_MISMATCH;
                if (l.ids_state > 0)
                        bt->found = (struct vc_pci_id){ .vendor = l.vendor, .device = l.device };
                else
                        bt->found_error = l.ids_state;
                if (cd->has_id && cd->id.has_subsystem && l.sub_state > 0) {
                        bt->found.has_subsystem = true;
                        bt->found.subsystem_vendor = l.subsystem_vendor;
                        bt->found.subsystem_device = l.subsystem_device;
                } else if (cd->has_id && cd->id.has_subsystem && l.sub_state < 0)
                        bt->found_error = l.sub_state;
                if (bt->state == VC_BOOT_TARGET_OK) {
                        bt->group = read_group(ctx, l.name);
                        if (bt->group < 0)
                                bt->state = VC_BOOT_TARGET_NO_GROUP;
                }
        }
        if (n > 0) {
                *ret = TAKE_PTR(t);
                *ret_n = n;
        }
        return 0;
}

const struct vc_boot_target *vc_boot_target_of_group(struct vc_ctx *ctx, const struct vc_boot_target *t,
                                                     size_t n, const struct vc_pci_addr *addr) {
        int group;
        if (vc_pci_addr_iommu_group(ctx, addr, &group) < 0 || group < 0)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (t[i].state == VC_BOOT_TARGET_OK && t[i].group == group)
                        return &t[i];
        return NULL;
}

bool vc_boot_group_claimed(struct vc_ctx *ctx, unsigned group) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        return vc_record_read(ctx, group, &rec) >= 0 && rec->state == VC_RECORD_CLAIMED;
}

const struct vc_boot_target *vc_boot_target_find(const struct vc_boot_target *t, size_t n,
                                                 const struct vc_pci_addr *addr) {
        for (size_t i = 0; i < n; i++)
                if (vc_pci_addr_equal(&t[i].addr, addr))
                        return &t[i];
        return NULL;
}

/* ------------------------------------------------------------ the engine's options */

/* The options of a boot claim of @g: the same checks and resets as enable and apply
 * (src/verb-claim.c): the "id =" guard of every member a configuration entry with "id =" selects,
 * [global] protect, and the "reset =" of every configured endpoint. */
static int claim_opts(const struct vc_config *cfg, const struct vc_group *g, const char *by,
                      struct vc_claim_config *ret_cc, struct vc_claim_opts *ret) {
        int r = vc_claim_config_for_group(cfg, g, ret_cc);
        if (r < 0)
                return r;
        *ret = (struct vc_claim_opts){
                .lock_held = true,
                .protect = cfg->protect,
                .ignore_block_holders = true, /* no VM runs yet; coldplug's probes open disks */
                .by = by,
                .guards = ret_cc->guards,
                .n_guards = ret_cc->n_guards,
                .resets = ret_cc->resets,
                .n_resets = ret_cc->n_resets,
        };
        return 0;
}

/* A group that holds an endpoint of another slot than every configured endpoint of it (a GPU in a
 * chipset slot that shares its group with the onboard USB controller and NIC) moves at boot only
 * with "consent = yes" on an entry of the group, as enable and apply ask for it (README, "Using
 * it"): nobody is there to ask (lib/boot.h). */
int vc_boot_consent_check(const struct vc_config *cfg, const struct vc_group *g, struct vc_op_result *result) {
        for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                const struct vc_config_device *cd = vc_config_match_device(cfg, vc_group_device(g, k));
                if (cd && cd->consent)
                        return 0;
        }
        for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                const struct vc_pci_dev *d = vc_group_device(g, k);
                const struct vc_pci_addr *a = vc_pci_dev_addr(d);
                bool near = vc_pci_dev_is_bridge(d);
                for (size_t i = 0; i < vc_group_n_devices(g) && !near; i++) {
                        const struct vc_pci_dev *c = vc_group_device(g, i);
                        const struct vc_pci_addr *b = vc_pci_dev_addr(c);
                        near = vc_config_match_device(cfg, c) && a->domain == b->domain && a->bus == b->bus &&
                               a->slot == b->slot;
                }
                if (near)
                        continue;
                *result = (struct vc_op_result){
                        .error = -EPERM,
                        .group = vc_group_number(g),
                        .has_failed_device = true,
                        .failed_device = *a,
                        .failed_step = VC_STEP_PROTECT,
                };
                if (asprintf(&result->reason, "not a function of a configured device (another slot of IOMMU group %u); "
                             "moved only with consent = yes in the entry (vfio-claim enable --yes writes it)",
                             vc_group_number(g)) < 0)
                        result->reason = NULL;
                return -EPERM;
        }
        return 0;
}

/* The engine's checks, without a write: would it claim the group (vc_group_claim(), dry run)?
 * This is what keeps the boot pass from changing a group the claim would then refuse: consent,
 * protect, an "id =" guard, a missing reset_method, a group without endpoints. */
static int preflight(struct vc_ctx *ctx, const struct vc_config *cfg, unsigned group,
                     const struct vc_group *g, const char *by, struct vc_op_result *result) {
        _cleanup_(vc_claim_config_done) struct vc_claim_config cc = {};
        struct vc_claim_opts opts;
        int r = vc_boot_consent_check(cfg, g, result);
        if (r < 0)
                return r;
        r = claim_opts(cfg, g, by, &cc, &opts);
        if (r < 0)
                return r;
        opts.dry_run = true;
        return vc_group_claim(ctx, group, &opts, result);
}

/* ------------------------------------------------------------ the boot marks */

/* RUNSTATEDIR/vfio-claim/boot-KIND-N, for this boot only (/run is empty at the next one): the
 * override pass leaves group N to the host from then on, until a boot claim of it succeeds.
 *   failed:   a boot claim of the group failed and the group was given back. Otherwise the next
 *             PCI event would set its overrides again, and with its own event past, nothing
 *             would claim it nor let the host have it.
 *   released: the group, claimed at boot, was given back (vfio-claim release, a VM's release =
 *             host). A device that no host driver took (its module blacklisted) would otherwise
 *             get its override again at the next event of a twin, with nothing to claim it. */
static const char *const mark_kinds[] = { "failed", "released" };

static int mark_path(struct vc_ctx *ctx, const char *kind, unsigned group, char **ret) {
        return vc_ctx_path(ctx, VC_PLACE_RUN_STATE, ret, "boot-%s-%u", kind, group);
}

static bool mark_exists(struct vc_ctx *ctx, const char *kind, unsigned group) {
        _cleanup_free_ char *p = NULL;
        return mark_path(ctx, kind, group, &p) >= 0 && vc_path_exists(p);
}

static int mark_set(struct vc_ctx *ctx, const char *kind, unsigned group) {
        _cleanup_free_ char *p = NULL;
        int r = mark_path(ctx, kind, group, &p);
        return r < 0 ? r : vc_write_runtime_file(p, "", 0644);
}

static void marks_clear(struct vc_ctx *ctx, unsigned group) {
        for (size_t i = 0; i < ELEMENTSOF(mark_kinds); i++) {
                _cleanup_free_ char *p = NULL;
                if (mark_path(ctx, mark_kinds[i], group, &p) >= 0)
                        (void) vc_unlink_runtime_file(p);
        }
}

bool vc_boot_group_failed(struct vc_ctx *ctx, unsigned group) {
        return mark_exists(ctx, "failed", group);
}

int vc_boot_group_failure_logged(struct vc_ctx *ctx, unsigned group, const char *message) {
        _cleanup_free_ char *p = NULL, *old = NULL;
        int r = mark_path(ctx, "failed", group, &p);
        if (r < 0)
                return r;
        if (vc_read_file(p, &old) >= 0 && streq(old, message))
                return 1;
        r = vc_write_runtime_file(p, message, 0644);
        return r < 0 ? r : 0;
}

int vc_boot_group_mark_released(struct vc_ctx *ctx, unsigned group) {
        if (mark_exists(ctx, "released", group))
                return 0;
        int r = mark_set(ctx, "released", group);
        return r < 0 ? r : 1;
}

int vc_boot_group_unmark_released(struct vc_ctx *ctx, unsigned group) {
        _cleanup_free_ char *p = NULL;
        int r = mark_path(ctx, "released", group, &p);
        return r < 0 ? r : vc_unlink_runtime_file(p);
}

/* ------------------------------------------------------------ the override pass */

/* Is the boot target @a's driver_override set? Its read takes the device's lock, which a driver's
 * probe may hold for as long as the probe does: read in the writer with the write's deadline
 * (vc_stuck_read(); -ETIMEDOUT: the group is left as it is), before the pass holds the state
 * lock as after. */
static int override_is_set(struct vc_ctx *ctx, const struct vc_pci_addr *a, bool *ret) {
        char buf[VC_TIMED_READ_MAX];
        int r = vc_stuck_read(ctx, a, "driver_override", buf, sizeof buf, vc_ctx_get_unbind_timeout_ms(ctx), true);
        if (r < 0)
                return r;
        *ret = r > 0 && !streq(buf, "(null)");
        return 0;
}

static int report_add(struct vc_boot_write **v, size_t *n, const struct vc_pci_addr *a,
                      unsigned group, const struct vc_config_device *cd, int error, bool not_written) {
        struct vc_boot_write *nv = reallocarray(*v, *n + 1, sizeof **v);
        if (!nv)
                return -ENOMEM;
        nv[*n] = (struct vc_boot_write){ .addr = *a, .group = group, .cd = cd, .error = error,
                                         .not_written = not_written };
        *v = nv;
        (*n)++;
        return 0;
}

/* Does the pass write this member's override? Endpoints only, and only those nothing holds. */
static bool wants_override(const struct vc_pci_dev *d) {
        return !vc_pci_dev_is_bridge(d) && !vc_pci_dev_driver(d) && !vc_pci_dev_driver_override(d);
}

/* Before the first override of the group is written, and before a boot claim: a record in state
 * "claiming" that lists the endpoints nothing holds (the ones the pass gives an override) as
 * claimed at boot (host=probe, original override none). At boot such an endpoint has no driver
 * only because its host driver has not loaded yet: given back, it goes to the driver the kernel
 * picks. A claim that fails, or a crash before it, leaves a record that says what to give back,
 * and `vfio-claim release` (or the failed boot claim itself, vc_boot_claim()) gives it back. An
 * existing record keeps its state and its originals; endpoints it does not list are added.
 * Nothing is written when there is no such endpoint. */
static int record_before_claim(struct vc_ctx *ctx, const struct vc_group *g, const char *by) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        unsigned group = vc_group_number(g);
        bool changed = false;
        int r;

        r = vc_record_read(ctx, group, &rec);
        if (r < 0 && r != -ENOENT)
                return r;
        for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                const struct vc_pci_dev *d = vc_group_device(g, k);
                if (!wants_override(d) || (rec && vc_record_find_device(rec, vc_pci_dev_addr(d))))
                        continue;
                if (!rec) {
                        r = vc_record_new(group, &rec);
                        if (r >= 0 && by)
                                r = vc_record_set_by(rec, by);
                        if (r < 0)
                                return r;
                        rec->state = VC_RECORD_CLAIMING;
                }
                r = vc_record_add_device(rec, vc_pci_dev_addr(d), NULL, NULL, NULL);
                if (r >= 0)
                        r = vc_record_set_host_probe(rec, vc_pci_dev_addr(d));
                if (r < 0)
                        return r;
                changed = true;
        }
        return changed ? vc_record_write(ctx, rec) : 0;
}

/* What the override pass carries from group to group: its inputs, the groups it has been through
 * and the report of its writes. */
struct override_pass {
        struct vc_ctx *ctx;
        const struct vc_config *cfg;
        const struct vc_boot_target *targets;
        size_t n_targets;
        const char *by;
        unsigned *done; /* the groups examined, each once */
        size_t n_done;
        struct vc_boot_write *rep;
        size_t n_rep;
        int written;
};

static void override_pass_done(struct override_pass *pass) {
        free(pass->done);
        free(pass->rep);
}

static bool pass_group_seen(const struct override_pass *pass, unsigned group) {
        for (size_t k = 0; k < pass->n_done; k++)
                if (pass->done[k] == group)
                        return true;
        return false;
}

static int pass_group_mark_seen(struct override_pass *pass, unsigned group) {
        unsigned *nd = reallocarray(pass->done, pass->n_done + 1, sizeof *pass->done);
        if (!nd)
                return -ENOMEM;
        pass->done = nd;
        pass->done[pass->n_done++] = group;
        return 0;
}

static int pass_report(struct override_pass *pass, const struct vc_pci_addr *a, const struct vc_boot_target *t,
                       int error) {
        return report_add(&pass->rep, &pass->n_rep, a, (unsigned) t->group, t->cd, error, false);
}

/* A device whose lock stayed held through the bounded read of its override: reported as an
 * override write that did not finish (no claim waits for it again), and said as not written. */
static int pass_report_held(struct override_pass *pass, const struct vc_pci_addr *a, const struct vc_boot_target *t) {
        return report_add(&pass->rep, &pass->n_rep, a, (unsigned) t->group, t->cd, -ETIMEDOUT, true);
}

static bool group_wants_overrides(const struct vc_group *g) {
        for (size_t k = 0; k < vc_group_n_devices(g); k++)
                if (wants_override(vc_group_device(g, k)))
                        return true;
        return false;
}

/* Writing driver_override takes the device's lock, which the kernel holds while a driver probes
 * the device: the write goes through the writer process with the engine's deadline (lib/stuck.h),
 * so that udev's worker and our lock are not held for as long as a probe takes. A device whose
 * write did not finish is marked, as the engine marks it, for the claim and the commands after. */
static int write_override_bounded(struct vc_ctx *ctx, const struct vc_pci_addr *a, const char *path) {
        unsigned timeout_ms = vc_ctx_get_unbind_timeout_ms(ctx);
        int r = vc_stuck_wait(ctx, a, timeout_ms);
        if (r < 0)
                return r;
        return vc_stuck_timed_write(ctx, a, path, "vfio-pci", timeout_ms);
}

/* Two rounds: the other endpoints first, then the boot targets themselves. Each write is
 * reported; only running out of memory for the report ends the pass. */
static int write_group_overrides(struct override_pass *pass, const struct vc_boot_target *t,
                                 const struct vc_group *g) {
        for (int round = 0; round < 2; round++)
                for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        const struct vc_pci_addr *a = vc_pci_dev_addr(d);
                        bool is_target = vc_boot_target_find(pass->targets, pass->n_targets, a) != NULL;
                        if ((round == 0) == is_target || !wants_override(d))
                                continue;
                        _cleanup_free_ char *p = NULL;
                        int r = vc_ctx_path(pass->ctx, VC_PLACE_PCI_DEVICES, &p, "%s/driver_override",
                                            vc_pci_dev_name(d));
                        if (r >= 0)
                                r = write_override_bounded(pass->ctx, a, p);
                        if (r >= 0)
                                pass->written++;
                        if (pass_report(pass, a, t, r < 0 ? r : 0) < 0)
                                return -ENOMEM;
                }
        return 0;
}

/* One group, examined for the first time under the lock: read it, leave it alone when nothing in
 * it needs an override, when its boot claim failed or when the claim would refuse it (nothing is
 * written then: the host keeps it whole); else record it, then write. Failures of the group are
 * reported and the pass goes on; only -ENOMEM is returned. */
static int override_group(struct override_pass *pass, const struct vc_boot_target *t) {
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        int r = vc_group_read(pass->ctx, (unsigned) t->group, &g, NULL);
        if (r < 0)
                return pass_report(pass, &t->addr, t, r) < 0 ? -ENOMEM : 0;
        if (!group_wants_overrides(g))
                return 0; /* bound, or set by someone else: the claim's business */
        /* A member whose driver_override could not be read within the bound (a driver's probe
         * holds its lock, lib/stuck.h): its write would wait as long again. Reported as a write
         * that did not finish; the group is not claimed now. */
        for (size_t k = 0; k < vc_group_n_devices(g); k++)
                if (vc_pci_dev_write_pending(vc_group_device(g, k)))
                        return pass_report_held(pass, vc_pci_dev_addr(vc_group_device(g, k)), t) < 0 ? -ENOMEM : 0;
        for (size_t i = 0; i < ELEMENTSOF(mark_kinds); i++)
                if (mark_exists(pass->ctx, mark_kinds[i], (unsigned) t->group)) {
                        log_debug("Group %d: boot-%s mark of this boot, no overrides", t->group, mark_kinds[i]);
                        return 0;
                }

        struct vc_op_result res = {};
        r = preflight(pass->ctx, pass->cfg, (unsigned) t->group, g, pass->by, &res);
        vc_op_result_done(&res);
        if (r < 0) {
                log_debug_errno(r, "Group %d would not be claimed, no overrides: %m", t->group);
                return 0;
        }
        r = record_before_claim(pass->ctx, g, pass->by);
        if (r < 0)
                return pass_report(pass, &t->addr, t, r) < 0 ? -ENOMEM : 0;
        return write_group_overrides(pass, t, g);
}

int vc_boot_set_overrides(struct vc_ctx *ctx, const struct vc_config *cfg,
                          const struct vc_boot_target *targets, size_t n, const char *by,
                          int lock_timeout_ms, int *lock_fd, struct vc_boot_write **ret,
                          size_t *ret_n) {
        _cleanup_(override_pass_done) struct override_pass pass = {
                .ctx = ctx, .cfg = cfg, .targets = targets, .n_targets = n, .by = by,
        };
        int r;

        for (size_t i = 0; i < n; i++) {
                const struct vc_boot_target *t = &targets[i];
                bool set;

                if (t->state != VC_BOOT_TARGET_OK || pass_group_seen(&pass, (unsigned) t->group))
                        continue;
                /* The cheap check, and the steady state: the target's own override is written last
                 * of its group, so once it is set the whole group has been through here. A group
                 * whose target's lock stays held through that read (a driver probing it, or a
                 * write an earlier run gave up on, lib/stuck.h) is left as it is, and reported as
                 * an override not written: no claim waits for the device again. */
                r = override_is_set(ctx, &t->addr, &set);
                if (r == -ETIMEDOUT) {
                        if (pass_group_mark_seen(&pass, (unsigned) t->group) < 0 ||
                            pass_report_held(&pass, &t->addr, t) < 0)
                                return -ENOMEM;
                        continue;
                }
                if (r < 0 || set)
                        continue;

                if (*lock_fd < 0) {
                        r = vc_state_lock(ctx, lock_timeout_ms, lock_fd);
                        if (r < 0)
                                return r;
                }
                r = pass_group_mark_seen(&pass, (unsigned) t->group);
                if (r >= 0)
                        r = override_group(&pass, t);
                if (r < 0)
                        return r;
        }
        if (ret) {
                *ret = TAKE_PTR(pass.rep);
                *ret_n = pass.n_rep;
        }
        return pass.written;
}

/* ------------------------------------------------------------ claiming */

/* A claimed boot group has a record; "vfio-pci" is never recorded as an original override.
 * Devices claimed before any host driver bound them are marked host=probe (state.h). */
static int record_boot_group(struct vc_ctx *ctx, unsigned group, const char *by) {
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        bool changed = false;
        int r;

        r = vc_group_read(ctx, group, &g, NULL);
        if (r < 0)
                return r;
        if (!vc_group_is_claimed(ctx, g))
                return 0;
        r = vc_record_read(ctx, group, &rec);
        if (r == -ENOENT) {
                r = vc_record_new(group, &rec);
                if (r >= 0)
                        r = vc_record_set_by(rec, by);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        if (vc_pci_dev_is_bridge(d))
                                continue;
                        /* vfio-pci took it when it loaded: no host driver ever had it, but the
                         * host would have given it one. Release lets the kernel pick it. */
                        r = vc_record_add_device(rec, vc_pci_dev_addr(d), NULL, NULL, NULL);
                        if (r >= 0)
                                r = vc_record_set_host_probe(rec, vc_pci_dev_addr(d));
                        if (r < 0)
                                return r;
                }
                rec->state = VC_RECORD_CLAIMED;
                changed = true;
        } else if (r < 0)
                return r;
        /* The boot pass wrote "vfio-pci" to the overrides of unbound endpoints before the claim:
         * those had no driver because no host driver had loaded yet. */
        for (size_t k = 0; k < rec->n_devices; k++)
                if (vc_record_drop_boot_override(rec, &rec->devices[k].addr) > 0)
                        changed = true;
        return changed ? vc_record_write(ctx, rec) : 0;
}

/* After a failed boot claim: give back what a "claiming" record lists (what the override pass
 * wrote, and what a claim that could not roll back left), and mark the group so that the pass
 * leaves it alone for the rest of this boot. 0: nothing to give back; 1: given back; or the
 * negative errno of the give-back (the record stays for `vfio-claim release`). */
static int give_back_after_failure(struct vc_ctx *ctx, unsigned group, const char *by) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        struct vc_op_result res = {};
        int r, k;

        /* a mark already there keeps what it holds: the failure its caller logged last
         * (vc_boot_group_failure_logged()) */
        k = mark_exists(ctx, "failed", group) ? 0 : mark_set(ctx, "failed", group);
        if (k < 0)
                log_debug_errno(k, "Cannot mark the boot claim of group %u as failed: %m", group);

        r = vc_record_read(ctx, group, &rec);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (rec->state != VC_RECORD_CLAIMING)
                return 0; /* claimed before this pass (or being released): not ours to undo */
        r = vc_group_release(ctx, group, &(struct vc_claim_opts){ .lock_held = true, .by = by }, &res);
        vc_op_result_done(&res);
        return r < 0 ? r : 1;
}

int vc_boot_claim(struct vc_ctx *ctx, const struct vc_config *cfg,
                  const struct vc_boot_target *target, const char *by, struct vc_op_result *result,
                  int *ret_given_back) {
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        _cleanup_(vc_claim_config_done) struct vc_claim_config cc = {};
        struct vc_claim_opts opts;
        unsigned group;
        int r;

        *ret_given_back = 0;
        if (target->state != VC_BOOT_TARGET_OK || target->group < 0)
                return -EINVAL;
        group = (unsigned) target->group;
        result->group = group;

        r = vc_group_read(ctx, group, &g, NULL);
        if (r >= 0 && vc_group_n_endpoints(g) == 0)
                return 1; /* a bridge alone in its group: nothing to claim, nothing to give back */
        if (r >= 0)
                r = claim_opts(cfg, g, by, &cc, &opts);
        if (r < 0) {
                result->error = r;
                result->failed_step = VC_STEP_READ;
                goto fail;
        }

        /* The engine's checks first: nothing, not even vfio-pci's load (it would bind the
         * endpoints the override pass prepared), happens for a group it would refuse. */
        r = preflight(ctx, cfg, group, g, by, result);
        if (r < 0)
                goto fail;
        /* Endpoints the override pass did not prepare (it left the group alone after a failure,
         * or they appeared since) are recorded the same way before anything moves. */
        r = record_before_claim(ctx, g, by);
        if (r < 0) {
                vc_op_result_done(result);
                *result = (struct vc_op_result){ .error = r, .group = group, .failed_step = VC_STEP_WRITE_RECORD };
                goto fail;
        }

        r = vc_module_ensure_driver(ctx, "vfio-pci", NULL);
        if (r < 0) {
                vc_op_result_done(result);
                *result = (struct vc_op_result){
                        .error = r,
                        .group = group,
                        .has_failed_device = true,
                        .failed_device = target->addr,
                        .failed_step = VC_STEP_LOAD_MODULE,
                        .failed_arg = strdup("vfio-pci"),
                };
                goto fail;
        }

        r = vc_group_claim(ctx, group, &opts, result);
        if (r < 0)
                goto fail;
        r = record_boot_group(ctx, group, by);
        if (r < 0)
                log_debug_errno(r, "Cannot write the record of group %u: %m", group);
        marks_clear(ctx, group);
        return 0;

fail:
        *ret_given_back = give_back_after_failure(ctx, group, by);
        return r;
}

/* Does the record say the initramfs claimed the group (its pass or an event there), for no VM?
 * With @unfinished_too, also a claim it did not finish (a driver_override write that did not
 * end within the bound: the pass left the group "claiming", and the override names vfio-pci
 * once the kernel lets go), which a release finishes from the record's originals. */
static bool record_is_initrd_claim(const struct vc_record *rec, bool unfinished_too) {
        return (rec->state == VC_RECORD_CLAIMED || (unfinished_too && rec->state == VC_RECORD_CLAIMING)) &&
               !rec->owner && rec->by &&
               (streq(rec->by, VC_BOOT_BY_PASS_INITRD) || streq(rec->by, VC_BOOT_BY_EVENT_INITRD));
}

int vc_boot_stale_groups(struct vc_ctx *ctx, const struct vc_boot_target *targets, size_t n, unsigned **ret,
                         size_t *ret_n) {
        _cleanup_free_ unsigned *groups = NULL;
        size_t n_groups = 0, n_stale = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        r = vc_record_list(ctx, &groups, &n_groups);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_groups; i++) {
                _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                bool wanted = false;
                for (size_t k = 0; k < n && !wanted; k++)
                        wanted = targets[k].group >= 0 && (unsigned) targets[k].group == groups[i];
                if (wanted || vc_record_read(ctx, groups[i], &rec) < 0)
                        continue; /* an unreadable record is release's to report */
                if (!record_is_initrd_claim(rec, true))
                        continue;
                groups[n_stale++] = groups[i];
        }
        if (n_stale > 0) {
                *ret = TAKE_PTR(groups);
                *ret_n = n_stale;
        }
        return 0;
}

/* [global] protect over the endpoints of @g already on vfio, which the engine does not check (a
 * device on vfio serves the host no more): here they are on it only because the initramfs's
 * copy of the configuration put them there. "console = handoff" lets the console's VGA go, as in
 * the engine (lib/bind.c, check_safety()). */
static int refused_on_vfio(struct vc_ctx *ctx, const struct vc_config *cfg, const struct vc_group *g,
                           struct vc_op_result *result) {
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *crit = NULL;
        _cleanup_(vc_claim_config_done) struct vc_claim_config cc = {};
        int r;

        if (!cfg->protect)
                return 0;
        if ((r = vc_claim_config_for_group(cfg, g, &cc)) < 0 || (r = vc_critical_scan(ctx, &crit)) < 0)
                return r;
        for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                const struct vc_pci_dev *d = vc_group_device(g, k);
                const struct vc_pci_addr *a = vc_pci_dev_addr(d);
                const char *why;
                bool handoff = false;
                if (vc_pci_dev_is_bridge(d) || !vc_pci_dev_is_on_vfio(d) || !(why = vc_critical_reason(crit, a)))
                        continue;
                for (size_t i = 0; i < cc.n_handoffs && !handoff; i++)
                        handoff = vc_pci_addr_equal(&cc.handoffs[i], a);
                if (handoff && vc_critical_is_console(crit, a))
                        continue;
                vc_op_result_done(result);
                *result = (struct vc_op_result){
                        .error = -EPERM,
                        .group = vc_group_number(g),
                        .has_failed_device = true,
                        .failed_device = *a,
                        .failed_step = VC_STEP_PROTECT,
                        .reason = strdup(why),
                };
                return -EPERM;
        }
        return 0;
}

int vc_boot_initrd_claim_refused(struct vc_ctx *ctx, const struct vc_config *cfg, unsigned group,
                                 struct vc_op_result *result) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        int r;

        *result = (struct vc_op_result){ .group = group };
        r = vc_record_read(ctx, group, &rec);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (!record_is_initrd_claim(rec, false))
                return 0;
        r = vc_group_read(ctx, group, &g, NULL);
        if (r < 0)
                return r;
        if (vc_group_n_endpoints(g) == 0)
                return 0;
        /* consent, the "id =" guards, protect over what is not on vfio: the real root's claim */
        r = preflight(ctx, cfg, group, g, VC_BOOT_BY_PASS, result);
        if (r == -EPERM || r == -ESTALE)
                return 1;
        vc_op_result_done(result);
        *result = (struct vc_op_result){ .group = group };
        if (r < 0)
                return r;
        r = refused_on_vfio(ctx, cfg, g, result);
        return r == -EPERM ? 1 : r;
}

/* ------------------------------------------------------------ the udev event */

int vc_boot_event_parse(const char *action, const char *subsystem, const char *slot,
                        struct vc_pci_addr *ret) {
        if (!streq_ptr(action, "add") || !streq_ptr(subsystem, "pci"))
                return 0;
        if (!slot || vc_pci_addr_parse(slot, ret) < 0)
                return -EINVAL;
        return 1;
}

/* ------------------------------------------------------------ the generated udev rule */

/* One line of the generated rule: a device address or a vendor:device pair, with the reason. */
struct rule_line {
        bool is_addr;
        struct vc_pci_addr addr;
        uint16_t vendor, device;
        char why[160];
};

struct rule_set {
        struct rule_line *v;
        size_t n, alloc;
};

static int rule_add(struct rule_set *s, const struct rule_line *l) {
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].is_addr == l->is_addr &&
                    (l->is_addr ? vc_pci_addr_equal(&s->v[i].addr, &l->addr)
                                : s->v[i].vendor == l->vendor && s->v[i].device == l->device))
                        return 0; /* the first reason stays */
        if (s->n == s->alloc) {
                size_t a = s->alloc ? s->alloc * 2 : 16;
                struct rule_line *nv = reallocarray(s->v, a, sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                s->v = nv;
                s->alloc = a;
        }
        s->v[s->n++] = *l;
        return 0;
}

static int rule_add_addr(struct rule_set *s, const struct vc_pci_addr *a, const char *fmt, ...)
        _printf_(3, 4);
static int rule_add_addr(struct rule_set *s, const struct vc_pci_addr *a, const char *fmt, ...) {
        struct rule_line l = { .is_addr = true, .addr = *a };
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(l.why, sizeof l.why, fmt, ap);
        va_end(ap);
        return rule_add(s, &l);
}

static int rule_add_id(struct rule_set *s, uint16_t vendor, uint16_t device, const char *fmt, ...)
        _printf_(4, 5);
static int rule_add_id(struct rule_set *s, uint16_t vendor, uint16_t device, const char *fmt, ...) {
        struct rule_line l = { .vendor = vendor, .device = device };
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(l.why, sizeof l.why, fmt, ap);
        va_end(ap);
        return rule_add(s, &l);
}

/* What the rule must match: see vc_boot_rules_format() in boot.h. Called under the lock: the
 * groups' members are read without anything that takes a device's lock (their driver_override,
 * sriov_numvfs, uevent), which a probe stuck in a driver holds; the rule needs none of it. */
static int rule_collect(struct vc_ctx *ctx, const struct vc_config *cfg, struct rule_set *s) {
        _cleanup_free_ struct vc_boot_target *t = NULL;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < cfg->n_devices; i++) {
                const struct vc_config_device *cd = &cfg->devices[i];
                if (!cd->boot)
                        continue;
                for (size_t j = 0; j < cd->n_matches; j++) {
                        const struct vc_match *m = &cd->matches[j];
                        r = m->kind == VC_MATCH_ADDRESS
                                    ? rule_add_addr(s, &m->addr, "[device %s] matches this address", cd->name)
                                    : rule_add_id(s, m->id.vendor, m->id.device, "[device %s] matches this id",
                                                  cd->name);
                        if (r < 0)
                                return r;
                }
                if (cd->has_id &&
                    (r = rule_add_id(s, cd->id.vendor, cd->id.device, "the \"id =\" of [device %s]: a twin card",
                                     cd->name)) < 0)
                        return r;
        }

        r = vc_boot_targets_find(ctx, cfg, &t, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(vc_group_freep) struct vc_group *g = NULL;
                if (t[i].group < 0 ||
                    vc_group_read_full(ctx, (unsigned) t[i].group, VC_PCI_READ_NO_DEVICE_LOCK, &g, NULL) < 0)
                        continue; /* the helper warns at the device's own event */
                for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        if (vc_pci_dev_is_bridge(d))
                                continue;
                        r = rule_add_addr(s, vc_pci_dev_addr(d), "in IOMMU group %d with [device %s]",
                                          t[i].group, t[i].cd->name);
                        if (r >= 0)
                                r = rule_add_id(s, vc_pci_dev_vendor(d), vc_pci_dev_device(d),
                                                "same model as %s (group %d, [device %s]): a twin card",
                                                vc_pci_dev_name(d), t[i].group, t[i].cd->name);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* A device of a [usb NAME] entry with vm = that is plugged in makes systemd start the unit that
 * attaches it to the running VM again (src/verb-usb.c, usb-reattach): its ids, and its port when
 * the entry names one; the serial (any printable character, which a rule would read as a
 * pattern) is checked by the verb. */
static void rules_usb_reattach(FILE *f, const struct vc_config *cfg) {
        for (size_t i = 0; cfg && i < cfg->n_usbs; i++) {
                const struct vc_config_usb *u = &cfg->usbs[i];
                bool seen = false;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = cfg->usbs[k].vm && cfg->usbs[k].vendor == u->vendor &&
                               cfg->usbs[k].product == u->product && streq_ptr(cfg->usbs[k].port, u->port);
                if (!u->vm || seen || (u->port && !vc_usb_port_is_valid(u->port)))
                        continue;
                fprintf(f,
                        "# [usb %s] is for VM %s: when it is plugged in, attach it to the VM again if the VM runs\n"
                        "SUBSYSTEM==\"usb\", ENV{PRODUCT}==\"%x/%x/*\", ACTION==\"add\", ENV{DEVTYPE}==\"usb_device\", "
                        "%s%s%sTAG+=\"systemd\", ENV{SYSTEMD_WANTS}+=\"%s\"\n",
                        u->name, u->vm, u->vendor, u->product, u->port ? "KERNEL==\"" : "", strempty(u->port),
                        u->port ? "\", " : "", VC_USB_REATTACH_UNIT);
        }
}

int vc_boot_rules_format(struct vc_ctx *ctx, const struct vc_config *cfg, char **ret) {
        _cleanup_free_ struct vc_usb_held_id *usb = NULL;
        size_t n_usb = 0;
        _cleanup_free_ char *text = NULL;
        struct rule_set s = {};
        size_t size = 0;
        int r = 0;

        if (cfg && vc_config_has_boot_devices(cfg))
                r = rule_collect(ctx, cfg, &s);
        if (r >= 0 && cfg)
                r = vc_usb_held_ids(ctx, cfg, &usb, &n_usb);
        if (r < 0) {
                free(s.v);
                return r;
        }

        FILE *f = open_memstream(&text, &size);
        if (!f) {
                free(s.v);
                return -ENOMEM;
        }
        fputs("# Generated by vfio-claim from its configuration; do not edit. \"vfio-claim apply\",\n"
              "# \"enable\", \"disable\", the libvirt hook (for USB devices) and the boot pass\n"
              "# (vfio-claim-udev --all) rewrite it. It takes the place of the rule of the same\n"
              "# name in udev's directory, which runs nothing.\n"
              "# udev runs the helper only for the PCI add events below; the helper reads the\n"
              "# configuration again on every run and claims only what it says then.\n",
              f);
        rules_usb_reattach(f, cfg); /* first: these lines end in no GOTO */
        for (size_t i = 0; i < n_usb; i++)
                /* the kernel's uevent of USB devices and interfaces: PRODUCT=%x/%x/%x (vendor,
                 * product, bcdDevice); see lib/usb.h for why the bind event */
                fprintf(f,
                        "# %s: its add event, and every host driver bind of its interfaces\n"
                        "SUBSYSTEM==\"usb\", ENV{PRODUCT}==\"%x/%x/*\", ACTION==\"add\", ENV{DEVTYPE}==\"usb_device\", "
                        "RUN+=\"vfio-claim-udev\", GOTO=\"vfio_claim_end\"\n"
                        "SUBSYSTEM==\"usb\", ENV{PRODUCT}==\"%x/%x/*\", ACTION==\"bind\", ENV{DEVTYPE}==\"usb_interface\", "
                        "ENV{DRIVER}!=\"usbfs\", RUN+=\"vfio-claim-udev\", GOTO=\"vfio_claim_end\"\n",
                        usb[i].why, usb[i].vendor, usb[i].product, usb[i].vendor, usb[i].product);
        if (s.n == 0) {
                fputs(cfg ? "# No \"boot = yes\" entry: no PCI event runs anything.\n"
                          : "# The configuration cannot be used: no PCI event runs anything.\n",
                      f);
                if (n_usb > 0)
                        fputs("LABEL=\"vfio_claim_end\"\n", f);
        } else {
                fputs("ACTION!=\"add\", GOTO=\"vfio_claim_end\"\n"
                      "SUBSYSTEM!=\"pci\", GOTO=\"vfio_claim_end\"\n",
                      f);
                for (int pass = 0; pass < 2; pass++)
                        for (size_t i = 0; i < s.n; i++) {
                                const struct rule_line *l = &s.v[i];
                                if (l->is_addr != (pass == 0))
                                        continue;
                                fprintf(f, "# %s\n", l->why);
                                if (l->is_addr)
                                        fprintf(f, "KERNEL==\"%s\", ", VC_PCI_ADDR_TO_STRING(&l->addr));
                                else /* the kernel's uevent: PCI_ID=%04X:%04X */
                                        fprintf(f, "ENV{PCI_ID}==\"%04X:%04X\", ", l->vendor, l->device);
                                fputs("RUN+=\"vfio-claim-udev\", GOTO=\"vfio_claim_end\"\n", f);
                        }
                fputs("LABEL=\"vfio_claim_end\"\n", f);
        }
        free(s.v);
        if (fclose(f) != 0 || !text)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

int vc_boot_rules_write(struct vc_ctx *ctx, const struct vc_config *cfg) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL, *old = NULL;
        int r;

        r = vc_boot_rules_format(ctx, cfg, &text);
        if (r < 0)
                return r;
        if ((r = vc_ctx_path(ctx, VC_PLACE_UDEV_RULES_RUN, &dir, NULL)) < 0 ||
            (r = vc_ctx_path(ctx, VC_PLACE_UDEV_RULES_RUN, &path, "%s", VC_BOOT_RULES_NAME)) < 0)
                return r;
        /* The same text is not written again: udevd reloads every rule when a file changes. */
        if (vc_read_file(path, &old) >= 0 && strlen(old) + 1 == strlen(text) &&
            strncmp(old, text, strlen(old)) == 0) /* the read strips the last newline */
                return 0;
        r = vc_mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        r = vc_write_runtime_file(path, text, 0644);
        return r < 0 ? r : 1;
}
