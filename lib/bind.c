/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"
#include "critical.h"
#include "iommu.h"
#include "log.h"
#include "modules.h"
#include "state.h"
#include "stuck.h"
#include "sysfs.h"

#define VFIO_DRIVER "vfio-pci"
#define LOCK_TIMEOUT_DEFAULT_MS 60000
/* How long a verification waits for a binding, or /dev/vfio/N, to show. */
#define VERIFY_WAIT_MS 1000

static const char *const step_table[_VC_STEP_MAX] = {
        [VC_STEP_NONE] = "do nothing",
        [VC_STEP_LOCK] = "take the lock",
        [VC_STEP_READ] = "read the group",
        [VC_STEP_READ_RECORD] = "read the state record",
        [VC_STEP_PROTECT] = "pass the host-critical check",
        [VC_STEP_IDENTITY] = "check the device identity",
        [VC_STEP_OWNER] = "check the owner",
        [VC_STEP_LOAD_MODULE] = "load module",
        [VC_STEP_WRITE_RECORD] = "write the state record",
        [VC_STEP_SET_OVERRIDE] = "set driver_override",
        [VC_STEP_UNBIND] = "unbind from",
        [VC_STEP_PROBE] = "probe",
        [VC_STEP_VERIFY] = "verify the binding to",
        [VC_STEP_CLEAR_OVERRIDE] = "clear driver_override",
        [VC_STEP_VFIO_NODE] = "find the vfio group node",
        [VC_STEP_RESET_METHOD] = "set reset_method to",
        [VC_STEP_RESET] = "reset the device before giving it back",
        [VC_STEP_WAIT_DEVICE] = "wait for an unfinished write to the device",
};

const char *vc_step_to_string(enum vc_step s) {
        return (unsigned) s < _VC_STEP_MAX ? step_table[s] : NULL;
}

/* ------------------------------------------------------------------ plan and result */

struct snapshot {
        struct vc_pci_addr addr;
        char *driver, *module, *override;
};

struct attr_undo {
        char *path, *before;
};

/* What a successful operation changed, for vc_op_result_undo(): the devices it moved, as it found
 * them, the attributes it wrote, with what they said before, and the record as it was. */
struct vc_op_undo {
        struct snapshot *touched;
        size_t n_touched;
        struct attr_undo *attrs;
        size_t n_attrs;
        bool record_changed;           /* the operation wrote or removed the record */
        struct vc_record *record_before; /* ... which was this, NULL: there was none */
};

static void snapshots_free(struct snapshot *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].driver);
                free(v[i].module);
                free(v[i].override);
        }
        free(v);
}

static void attr_undos_free(struct attr_undo *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].path);
                free(v[i].before);
        }
        free(v);
}

static struct vc_op_undo *op_undo_free(struct vc_op_undo *u) {
        if (!u)
                return NULL;
        snapshots_free(u->touched, u->n_touched);
        attr_undos_free(u->attrs, u->n_attrs);
        vc_record_free(u->record_before);
        free(u);
        return NULL;
}

struct vc_plan *vc_plan_free(struct vc_plan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_devices; i++) {
                free(p->devices[i].driver);
                free(p->devices[i].target);
                free(p->devices[i].description);
        }
        free(p->devices);
        strv_free(p->modules);
        for (size_t i = 0; i < p->n_writes; i++) {
                free(p->writes[i].path);
                free(p->writes[i].value);
        }
        free(p->writes);
        free(p);
        return NULL;
}

void vc_op_result_done(struct vc_op_result *r) {
        if (!r)
                return;
        free(r->failed_arg);
        free(r->reason);
        vc_plan_free(r->plan);
        op_undo_free(r->undo);
        *r = (struct vc_op_result){ .group = r->group };
}

char *vc_op_result_message(const struct vc_op_result *r) {
        char who[32], *m = NULL;
        int k;

        if (!r || r->error >= 0)
                return NULL;
        if (r->has_failed_device)
                vc_pci_addr_format(&r->failed_device, who);
        else
                snprintf(who, sizeof who, "group %u", r->group);

        switch (r->failed_step) {
        case VC_STEP_PROTECT:
                k = asprintf(&m, "%s: refused: %s", who, strna(r->reason));
                break;
        case VC_STEP_IDENTITY:
                k = asprintf(&m, "%s: hardware changed (expected %s)", who, strna(r->failed_arg));
                break;
        case VC_STEP_OWNER:
                k = asprintf(&m, "%s: held by %s", who, strna(r->failed_arg));
                break;
        default:
                k = asprintf(&m, "%s: failed to %s%s%s: %s", who, strna(vc_step_to_string(r->failed_step)),
                             r->failed_arg ? " " : "", strempty(r->failed_arg), strerror(-r->error));
                break;
        }
        return k < 0 ? NULL : m;
}

int vc_device_check_identity(const struct vc_pci_dev *d, const struct vc_pci_id *expected) {
        if (vc_pci_dev_vendor(d) != expected->vendor || vc_pci_dev_device(d) != expected->device)
                return -ESTALE;
        if (expected->has_subsystem &&
            (vc_pci_dev_subsystem_vendor(d) != expected->subsystem_vendor ||
             vc_pci_dev_subsystem_device(d) != expected->subsystem_device))
                return -ESTALE;
        return 0;
}

static int strv_push_unique(char ***v, size_t *n, const char *s) {
        for (size_t i = 0; i < *n; i++)
                if (streq((*v)[i], s))
                        return 0;
        char **nv = realloc(*v, (*n + 2) * sizeof *nv);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        if (!(nv[*n] = strdup(s)))
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

static int dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

static int plan_add_device(struct vc_plan *p, const struct vc_pci_addr *a, const char *driver,
                           const char *target, enum vc_plan_action action, const char *description) {
        struct vc_plan_device *v = realloc(p->devices, (p->n_devices + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        p->devices = v;
        struct vc_plan_device *d = &v[p->n_devices];
        *d = (struct vc_plan_device){ .addr = *a, .action = action };
        if (dup_or_null(driver, &d->driver) < 0 || dup_or_null(target, &d->target) < 0 ||
            !(d->description = strdup(description))) {
                free(d->driver);
                free(d->target);
                return -ENOMEM;
        }
        p->n_devices++;
        return 0;
}

/* Describe what moving a device from (driver, override) to (target, target override) does. */
static int plan_describe(struct vc_plan *p, const struct vc_pci_addr *a, const char *driver,
                         const char *override, const char *target, const char *target_override) {
        _cleanup_free_ char *desc = NULL;
        enum vc_plan_action action;
        int k;

        if (streq_ptr(driver, target)) {
                action = VC_PLAN_LEAVE;
                if (!streq_ptr(override, target_override))
                        k = target_override ? asprintf(&desc, "stays on %s, set driver_override to %s",
                                                       target ?: "no driver", target_override)
                                            : asprintf(&desc, "stays on %s, clear driver_override",
                                                       target ?: "no driver");
                else if (target)
                        k = asprintf(&desc, "already on %s", target);
                else
                        k = asprintf(&desc, "already unbound");
        } else if (target && driver) {
                action = VC_PLAN_REBIND;
                k = asprintf(&desc, "unbind from %s, bind to %s", driver, target);
        } else if (target) {
                action = VC_PLAN_BIND;
                k = asprintf(&desc, "bind to %s", target);
        } else {
                action = VC_PLAN_UNBIND;
                k = asprintf(&desc, "unbind from %s, leave unbound", driver);
        }
        if (k < 0)
                return -ENOMEM;
        return plan_add_device(p, a, driver, target, action, desc);
}

/* ------------------------------------------------------------------ the transaction */

/* Devices with a write that did not finish in time: the writer may be stuck in the kernel
 * holding the device lock, which reading driver_override (and every write but reset_method)
 * would wait for with no deadline. The operation leaves them alone from then on. */
#define STUCK_MAX 16

struct txn {
        struct vc_ctx *ctx;
        bool dry_run;
        unsigned timeout_ms;
        struct vc_op_result *result;
        struct vc_plan *plan;
        struct snapshot *touched;
        size_t n_touched;
        struct attr_undo *undo; /* reset_method values before the operation wrote them */
        size_t n_undo;
        bool rolling_back;
        struct vc_pci_addr stuck[STUCK_MAX];
        size_t n_stuck;
        bool stuck_overflow; /* more than STUCK_MAX: every device counts as stuck */
};

static bool txn_is_stuck(const struct txn *t, const struct vc_pci_addr *a) {
        if (t->stuck_overflow)
                return true;
        for (size_t i = 0; i < t->n_stuck; i++)
                if (vc_pci_addr_equal(&t->stuck[i], a))
                        return true;
        return false;
}

static void txn_mark_stuck(struct txn *t, const struct vc_pci_addr *a) {
        if (txn_is_stuck(t, a))
                return;
        if (t->n_stuck == STUCK_MAX)
                t->stuck_overflow = true;
        else
                t->stuck[t->n_stuck++] = *a;
}

static void txn_done(struct txn *t) {
        snapshots_free(t->touched, t->n_touched);
        t->touched = NULL;
        t->n_touched = 0;
        attr_undos_free(t->undo, t->n_undo);
        t->undo = NULL;
        t->n_undo = 0;
}

/* The operation succeeded: hand what it changed to the result, for vc_op_result_undo().
 * @record_changed: the record was written or removed; @before: what it was (NULL: none). */
static int txn_keep(struct txn *t, bool record_changed, const struct vc_record *before) {
        if (t->dry_run || (t->n_touched == 0 && t->n_undo == 0 && !record_changed))
                return 0;
        struct vc_op_undo *u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        if (record_changed && before) {
                _cleanup_free_ char *text = NULL;
                int r = vc_record_format(before, &text);
                if (r >= 0)
                        r = vc_record_parse(text, (int) before->group, &u->record_before);
                if (r < 0) {
                        free(u);
                        return r;
                }
        }
        u->record_changed = record_changed;
        u->touched = TAKE_PTR(t->touched);
        u->n_touched = t->n_touched;
        t->n_touched = 0;
        u->attrs = TAKE_PTR(t->undo);
        u->n_attrs = t->n_undo;
        t->n_undo = 0;
        op_undo_free(t->result->undo);
        t->result->undo = u;
        return 0;
}

/* Remember the state the operation found a device in, before its first write. */
static int txn_touch(struct txn *t, const struct vc_pci_dev *d) {
        struct snapshot s = { .addr = *vc_pci_dev_addr(d) };
        struct snapshot *v = realloc(t->touched, (t->n_touched + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        t->touched = v;
        if (dup_or_null(vc_pci_dev_driver(d), &s.driver) < 0 ||
            dup_or_null(vc_pci_dev_driver_module(d), &s.module) < 0 ||
            dup_or_null(vc_pci_dev_driver_override(d), &s.override) < 0) {
                free(s.driver);
                free(s.module);
                free(s.override);
                return -ENOMEM;
        }
        t->touched[t->n_touched++] = s;
        return 0;
}

/* Note the first failure in the result; failures during a rollback only count as rollback
 * errors. Returns @error. */
static int txn_fail(struct txn *t, const struct vc_pci_addr *a, enum vc_step step, const char *arg,
                    int error) {
        struct vc_op_result *res = t->result;

        if (a)
                log_debug_errno(error, "%s: failed to %s%s%s%s: %m", VC_PCI_ADDR_TO_STRING(a),
                                vc_step_to_string(step), arg ? " " : "", strempty(arg),
                                t->rolling_back ? " (rollback)" : "");
        if (t->rolling_back) {
                if (res->rollback_error == 0)
                        res->rollback_error = error;
                return error;
        }
        if (res->error < 0)
                return error;
        res->error = error;
        res->failed_step = step;
        res->has_failed_device = a != NULL;
        if (a)
                res->failed_device = *a;
        free(res->failed_arg);
        res->failed_arg = arg ? strdup(arg) : NULL;
        return error;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void sleep_us(long us) {
        nanosleep(&(struct timespec){ .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 }, NULL);
}

/* Write @value to @path in a child, and wait at most @timeout_ms for it (lib/stuck.h). A sysfs
 * write can block in the kernel for as long as a driver pleases (an unbind waits until the GPU
 * is idle); the parent must stay in control. */
static int timed_write(const char *path, const char *value, unsigned timeout_ms) {
        int r = vc_timed_access(path, value, timeout_ms);
        if (r == -ETIMEDOUT)
                log_debug("Writing \"%s\" to %s did not finish in %u ms; the writer is killed or left behind",
                          value, path, timeout_ms);
        return r;
}

static const char *path_in_root(struct vc_ctx *ctx, const char *path) {
        if (vc_ctx_is_host(ctx))
                return path;
        size_t l = strlen(vc_ctx_root(ctx));
        return strncmp(path, vc_ctx_root(ctx), l) == 0 ? path + l : path;
}

static int plan_add_write(struct txn *t, const char *path, const char *value) {
        struct vc_plan *p = t->plan;
        struct vc_plan_write *v = realloc(p->writes, (p->n_writes + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        p->writes = v;
        v[p->n_writes] = (struct vc_plan_write){ .path = strdup(path_in_root(t->ctx, path)),
                                                 .value = strdup(value) };
        if (!v[p->n_writes].path || !v[p->n_writes].value) {
                free(v[p->n_writes].path);
                free(v[p->n_writes].value);
                return -ENOMEM;
        }
        p->n_writes++;
        return 0;
}

/* One sysfs write of the operation: listed in the plan (rollback writes are not), made unless
 * this is a dry run. @a: the device whose lock the write takes (NULL: reset_method, which takes
 * none). A write that times out leaves @a stuck; later writes to it are not made. */
static int txn_write(struct txn *t, const struct vc_pci_addr *a, const char *path, const char *value) {
        int r;

        if (!t->rolling_back && (r = plan_add_write(t, path, value)) < 0)
                return r;
        if (t->dry_run)
                return 0;
        if (a && txn_is_stuck(t, a))
                return -ETIMEDOUT; /* it would wait for the stuck write, the whole timeout long */
        r = timed_write(path, value, t->timeout_ms);
        log_debug_errno(r, "write %s <- \"%s\": %s", path, value[0] == '\n' ? "\\n" : value,
                        r < 0 ? strerror(-r) : "ok");
        if (r == -ETIMEDOUT && a) {
                txn_mark_stuck(t, a);
                int k = vc_stuck_mark(t->ctx, a); /* for the commands after this one */
                if (k < 0)
                        log_debug_errno(k, "Cannot mark %s as stuck: %m", VC_PCI_ADDR_TO_STRING(a));
        }
        return r;
}

/* Write @value to the attribute at @path; a rollback puts back what it said before the first
 * such write (also after a write that timed out: its effect is unknown). */
static int txn_write_undoable(struct txn *t, const struct vc_pci_addr *a, const char *path, const char *value) {
        _cleanup_free_ char *before = NULL;
        bool known = t->dry_run;
        int r;

        for (size_t i = 0; i < t->n_undo && !known; i++)
                known = streq(t->undo[i].path, path);
        if (known)
                return txn_write(t, a, path, value);

        /* Everything the undo needs is in hand before the write. */
        _cleanup_free_ char *p = strdup(path);
        struct attr_undo *v = realloc(t->undo, (t->n_undo + 1) * sizeof *v);
        if (v)
                t->undo = v;
        if (!p || !v)
                return -ENOMEM;
        if ((r = vc_sysfs_read(path, &before)) < 0)
                return r;
        r = txn_write(t, a, path, value);
        if (r >= 0 || r == -ETIMEDOUT)
                t->undo[t->n_undo++] = (struct attr_undo){ .path = TAKE_PTR(p), .before = TAKE_PTR(before) };
        return r;
}

static int write_override(struct txn *t, const struct vc_pci_addr *a, const char *value) {
        _cleanup_free_ char *path = NULL;
        int r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DEVICES, &path, "%s/driver_override",
                            VC_PCI_ADDR_TO_STRING(a));
        return r < 0 ? r : txn_write(t, a, path, value);
}

static int write_unbind(struct txn *t, const struct vc_pci_addr *a, const char *driver) {
        _cleanup_free_ char *path = NULL;
        int r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DRIVERS, &path, "%s/unbind", driver);
        return r < 0 ? r : txn_write(t, a, path, VC_PCI_ADDR_TO_STRING(a));
}

static int write_probe(struct txn *t, const struct vc_pci_addr *a) {
        _cleanup_free_ char *path = NULL;
        int r = vc_ctx_path(t->ctx, VC_PLACE_PCI_BUS, &path, "drivers_probe");
        return r < 0 ? r : txn_write(t, a, path, VC_PCI_ADDR_TO_STRING(a));
}

static int ensure_driver(struct txn *t, const char *driver, const char *module) {
        if (vc_module_driver_present(t->ctx, driver))
                return 0;
        if (t->dry_run) {
                _cleanup_free_ char *name = strdup(module ?: driver);
                if (!name)
                        return -ENOMEM;
                for (char *c = name; *c; c++)
                        if (*c == '-')
                                *c = '_';
                return strv_push_unique(&t->plan->modules, &t->plan->n_modules, name);
        }
        return vc_module_ensure_driver(t->ctx, driver, module);
}

/* The driver the device at @a is bound to (NULL: none), from its driver link alone: reading a
 * link takes no device lock, where vc_pci_dev_read() reads driver_override, which does. */
static int read_driver(struct txn *t, const struct vc_pci_addr *a, char **ret) {
        _cleanup_free_ char *dir = NULL, *link = NULL;
        int r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DEVICES, &dir, "%s", VC_PCI_ADDR_TO_STRING(a));
        if (r < 0)
                return r;
        if (!vc_dir_exists(dir))
                return -ENODEV;
        if (asprintf(&link, "%s/driver", dir) < 0)
                return -ENOMEM;
        r = vc_sysfs_read_link_name(link, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* Unbind the device at @a from @driver (none: skip), then ask the kernel to probe it. */
static int unbind_and_probe(struct txn *t, const struct vc_pci_addr *a, const char *driver) {
        int r;
        if (driver && (r = write_unbind(t, a, driver)) < 0)
                return txn_fail(t, a, VC_STEP_UNBIND, driver, r);
        if ((r = write_probe(t, a)) < 0)
                return txn_fail(t, a, VC_STEP_PROBE, NULL, r);
        return 0;
}

/* drivers_probe succeeds even when nothing bound: look, for up to VERIFY_WAIT_MS (a probe that
 * deferred itself may still complete). @want: the driver expected, NULL: any driver. */
static int verify_bound(struct txn *t, const struct vc_pci_addr *a, const char *want) {
        const char *what = want ?: "a host driver";
        for (uint64_t deadline = now_ms() + VERIFY_WAIT_MS;;) {
                _cleanup_free_ char *now = NULL;
                int r = read_driver(t, a, &now);
                if (r < 0)
                        return txn_fail(t, a, VC_STEP_VERIFY, what, r);
                if (now && (!want || streq(now, want)))
                        return 0;
                if (now || now_ms() >= deadline) /* another driver took it, or none */
                        return txn_fail(t, a, VC_STEP_VERIFY, what, -ENXIO);
                sleep_us(20000);
        }
}

/* The one primitive: move the device at @a from (driver, override) to (target, target_override).
 * @target NULL: no driver (unbind, nothing probes). @module: the module behind @target. */
static int move_device(struct txn *t, const struct vc_pci_addr *a, const char *driver,
                       const char *override, const char *target, const char *module,
                       const char *target_override) {
        int r;

        if (target && !streq_ptr(driver, target)) {
                if (!streq_ptr(override, target)) {
                        r = write_override(t, a, target);
                        if (r < 0)
                                return txn_fail(t, a, VC_STEP_SET_OVERRIDE, NULL, r);
                        override = target;
                }
                r = ensure_driver(t, target, module);
                if (r < 0)
                        return txn_fail(t, a, VC_STEP_LOAD_MODULE, module ?: target, r);
                if ((r = unbind_and_probe(t, a, driver)) < 0)
                        return r;
                if (!t->dry_run && (r = verify_bound(t, a, target)) < 0)
                        return r;
        } else if (!target && driver) {
                r = write_unbind(t, a, driver);
                if (r < 0)
                        return txn_fail(t, a, VC_STEP_UNBIND, driver, r);
        }

        if (!streq_ptr(override, target_override)) {
                r = write_override(t, a, target_override ?: "\n");
                if (r < 0)
                        return txn_fail(t, a, target_override ? VC_STEP_SET_OVERRIDE : VC_STEP_CLEAR_OVERRIDE,
                                        NULL, r);
        }
        return 0;
}

/* Has a device claimed at boot got its host driver now: bound, not to vfio, no override left? */
static bool host_driver_has_it(const struct vc_pci_dev *d) {
        return vc_pci_dev_driver(d) && !vc_pci_dev_is_on_vfio(d) && !vc_pci_dev_driver_override(d);
}

/* Is @driver, bound to the device at @a, vfio-pci or a vfio variant driver (vfio-dev/)? Neither
 * test takes the device lock. */
static bool driver_is_vfio(struct txn *t, const struct vc_pci_addr *a, const char *driver) {
        _cleanup_free_ char *p = NULL;
        if (streq_ptr(driver, VFIO_DRIVER))
                return true;
        return driver && vc_ctx_path(t->ctx, VC_PLACE_PCI_DEVICES, &p, "%s/vfio-dev", VC_PCI_ADDR_TO_STRING(a)) >= 0 &&
               vc_dir_exists(p);
}

/* Say in the plan what became of a device given back: the CLI prints it, JSON carries it. */
static void plan_note(struct txn *t, const struct vc_pci_addr *a, const char *description) {
        for (size_t i = 0; i < t->plan->n_devices; i++) {
                struct vc_plan_device *d = &t->plan->devices[i];
                char *s;
                if (!vc_pci_addr_equal(&d->addr, a) || !(s = strdup(description)))
                        continue;
                free(d->description);
                d->description = s;
                free(d->target);
                d->target = NULL;
        }
}

/* The kernel's probe gave a device claimed at boot to a vfio driver again: vfio-pci matches it
 * by an id (vfio-pci.ids= on the command line, "options vfio-pci ids=" in modprobe.d), and
 * comes first. That is no give-back: take it from @vfio_driver and bind the first host driver
 * its modalias names (loaded as at boot), through driver_override, since a plain probe would
 * pick vfio-pci again. No such driver: it stays unbound, and the plan says why. */
static int take_from_vfio(struct txn *t, const struct vc_pci_addr *a, const char *vfio_driver,
                          const char *modalias) {
        _cleanup_strv_free_ char **drivers = NULL;
        int r;

        log_debug("%s: the kernel gave it to %s again (a vfio-pci id matches it)", VC_PCI_ADDR_TO_STRING(a),
                  vfio_driver);
        if ((r = write_unbind(t, a, vfio_driver)) < 0)
                return txn_fail(t, a, VC_STEP_UNBIND, vfio_driver, r);
        if (modalias) {
                r = vc_module_load_for_modalias(t->ctx, modalias);
                if (r < 0)
                        return txn_fail(t, a, VC_STEP_LOAD_MODULE, modalias, r);
                r = r > 0 ? vc_module_drivers_for_modalias(t->ctx, modalias, &drivers) : 0;
                if (r < 0)
                        return txn_fail(t, a, VC_STEP_LOAD_MODULE, modalias, r);
        }
        for (char **d = drivers; d && *d; d++) {
                _cleanup_free_ char *bound = NULL;
                if ((r = write_override(t, a, *d)) < 0)
                        return txn_fail(t, a, VC_STEP_SET_OVERRIDE, NULL, r);
                if ((r = write_probe(t, a)) < 0)
                        return txn_fail(t, a, VC_STEP_PROBE, NULL, r);
                if ((r = read_driver(t, a, &bound)) < 0)
                        return txn_fail(t, a, VC_STEP_VERIFY, *d, r);
                if (streq_ptr(bound, *d)) {
                        if ((r = write_override(t, a, "\n")) < 0)
                                return txn_fail(t, a, VC_STEP_CLEAR_OVERRIDE, NULL, r);
                        return 0;
                }
                if (bound && (r = write_unbind(t, a, bound)) < 0)
                        return txn_fail(t, a, VC_STEP_UNBIND, bound, r);
        }
        if (drivers && drivers[0] && (r = write_override(t, a, "\n")) < 0)
                return txn_fail(t, a, VC_STEP_CLEAR_OVERRIDE, NULL, r);
        plan_note(t, a, drivers && drivers[0]
                  ? "claimed at boot: left unbound: vfio-pci takes it by its id (vfio-pci ids=), and no host driver bound it"
                  : "claimed at boot: left unbound: vfio-pci takes it by its id (vfio-pci ids=), and no host driver is known for it");
        return 0;
}

/* Give a device claimed at boot to the driver the host would have given it without vfio-claim:
 * clear driver_override, unbind, probe; when no loaded driver takes it, load what its modalias
 * names (blacklists apply, as for udev's autoload) and look again. No module for it: it stays
 * unbound, as it would have at boot. A module that loads but does not take it fails the step.
 * It never ends on a vfio driver: when an id of vfio-pci's makes the kernel pick vfio-pci,
 * take_from_vfio() binds the host driver by name, or leaves it unbound and says why. */
static int give_to_kernel_choice(struct txn *t, const struct vc_pci_dev *now) {
        const struct vc_pci_addr *a = vc_pci_dev_addr(now);
        const char *driver = vc_pci_dev_driver(now), *modalias = vc_pci_dev_modalias(now);
        int r;

        if (vc_pci_dev_driver_override(now)) {
                r = write_override(t, a, "\n");
                if (r < 0)
                        return txn_fail(t, a, VC_STEP_CLEAR_OVERRIDE, NULL, r);
        }
        if ((r = unbind_and_probe(t, a, driver)) < 0)
                return r;
        if (t->dry_run)
                return 0; /* which module the modalias names is known only by looking it up */

        _cleanup_free_ char *bound = NULL;
        if ((r = read_driver(t, a, &bound)) < 0)
                return txn_fail(t, a, VC_STEP_VERIFY, "a host driver", r);
        if (!bound) {
                if (!modalias)
                        return 0; /* the kernel gave it no modalias: nothing to load */
                r = vc_module_load_for_modalias(t->ctx, modalias);
                if (r < 0)
                        return txn_fail(t, a, VC_STEP_LOAD_MODULE, modalias, r);
                if (r == 0)
                        return 0; /* no module for it, or blacklisted: unbound, as at boot */
                /* A module that just loaded probed its devices; one that was loaded already needs this. */
                if ((r = unbind_and_probe(t, a, NULL)) < 0)
                        return r;
                if ((r = verify_bound(t, a, NULL)) < 0)
                        return r;
                if ((r = read_driver(t, a, &bound)) < 0)
                        return txn_fail(t, a, VC_STEP_VERIFY, "a host driver", r);
        }
        if (!driver_is_vfio(t, a, bound))
                return 0;
        return take_from_vfio(t, a, bound, modalias);
}

/* Put every device the operation touched back where the operation found it, newest first. */
static void txn_rollback(struct txn *t) {
        if (t->dry_run)
                return;
        t->rolling_back = true;
        for (size_t i = t->n_touched; i > 0; i--) {
                const struct snapshot *s = &t->touched[i - 1];
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;
                if (txn_is_stuck(t, &s->addr)) {
                        /* Reading it would wait for the stuck writer, and the write may still
                         * take effect: left as it is, and the record says the operation did not
                         * finish (a rollback error keeps it), for release to finish later. */
                        log_debug("%s: a write did not finish; left as it is", VC_PCI_ADDR_TO_STRING(&s->addr));
                        txn_fail(t, &s->addr, VC_STEP_WAIT_DEVICE, NULL, -ETIMEDOUT);
                        continue;
                }
                int r = vc_pci_dev_read(t->ctx, &s->addr, &d);
                if (r < 0) {
                        txn_fail(t, &s->addr, VC_STEP_READ, NULL, r);
                        continue;
                }
                log_debug("%s: rolling back to %s", VC_PCI_ADDR_TO_STRING(&s->addr), s->driver ?: "no driver");
                (void) move_device(t, &s->addr, vc_pci_dev_driver(d), vc_pci_dev_driver_override(d),
                                   s->driver, s->module, s->override);
        }
        /* The reset methods were written before any driver moved: they go back last. An empty
         * list ("all methods disabled") is restored by writing a newline. */
        for (size_t i = t->n_undo; i > 0; i--) {
                const struct attr_undo *u = &t->undo[i - 1];
                int r = txn_write(t, NULL, u->path, isempty(u->before) ? "\n" : u->before);
                if (r < 0)
                        txn_fail(t, NULL, VC_STEP_RESET_METHOD, u->before, r);
        }
        t->rolling_back = false;
}

/* "reset =": the configured reset_method of every listed endpoint of the group (at claim), or a
 * reset of one endpoint before it goes back to its host driver (at release). @only_changes: write
 * an explicit method or none only when reset_method says something else, and never "default"
 * (a group that is already claimed, where nothing else is written). */
static int apply_reset(struct txn *t, const struct vc_claim_opts *o, const struct vc_pci_addr *a, bool release,
                       bool only_changes) {
        for (size_t i = 0; i < o->n_resets; i++) {
                const struct vc_reset_choice *c = &o->resets[i];
                _cleanup_free_ char *path = NULL;
                const char *value;
                if (!vc_pci_addr_equal(&c->addr, a))
                        continue;
                enum vc_step step = release ? VC_STEP_RESET : VC_STEP_RESET_METHOD;
                const char *arg = release ? NULL : vc_reset_to_string(c->reset);
                int r = vc_reset_step(t->ctx, a, c->reset, release, &path, &value);
                if (r < 0)
                        return txn_fail(t, a, step, arg, r);
                if (!path)
                        return 0;
                if (only_changes && vc_reset_method_is(t->ctx, a, c->reset))
                        return 0;
                /* "reset" takes the device lock (pci_reset_function()); reset_method does not */
                r = release ? txn_write(t, a, path, value) : txn_write_undoable(t, NULL, path, value);
                return r < 0 ? txn_fail(t, a, step, arg, r) : 0;
        }
        return 0;
}

static int apply_reset_methods(struct txn *t, const struct vc_claim_opts *o, const struct vc_group *g,
                               bool only_changes) {
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                int r = vc_pci_dev_is_bridge(d) ? 0 : apply_reset(t, o, vc_pci_dev_addr(d), false, only_changes);
                if (r < 0)
                        return r; /* the caller's rollback puts back the ones already written */
        }
        return 0;
}

/* Before a claim writes reset_method ("reset ="): note in @rec what each endpoint's reset_method
 * says now, for release to put back, unless @rec has it from an earlier claim (that is the
 * host's). @only_changes as for apply_reset(). Sets *ret_added when @rec gained an entry. */
static int record_reset_originals(struct txn *t, const struct vc_claim_opts *o, struct vc_record *rec,
                                  bool only_changes, bool *ret_added) {
        for (size_t i = 0; i < o->n_resets; i++) {
                const struct vc_reset_choice *c = &o->resets[i];
                const struct vc_record_device *rd = vc_record_find_device(rec, &c->addr);
                _cleanup_free_ char *path = NULL, *now = NULL;
                const char *value;
                if (!rd || rd->reset_method)
                        continue;
                if (vc_reset_step(t->ctx, &c->addr, c->reset, false, &path, &value) < 0 || !path)
                        continue; /* apply_reset() reports it */
                if (only_changes && vc_reset_method_is(t->ctx, &c->addr, c->reset))
                        continue;
                int r = vc_sysfs_read(path, &now);
                if (r < 0)
                        return txn_fail(t, &c->addr, VC_STEP_READ, NULL, r);
                r = vc_record_set_reset_method(rec, &c->addr, now);
                if (r == -EINVAL) {
                        log_debug("%s: reset_method \"%s\" cannot be recorded; it will not be restored",
                                  VC_PCI_ADDR_TO_STRING(&c->addr), now);
                        continue;
                }
                if (r < 0)
                        return txn_fail(t, &c->addr, VC_STEP_WRITE_RECORD, NULL, r);
                *ret_added = true;
        }
        return 0;
}

/* Release: put back the reset_method the record lists for @rd, when it says something else now. */
static int restore_reset_method(struct txn *t, const struct vc_record_device *rd) {
        _cleanup_free_ char *path = NULL, *now = NULL;
        int r;

        if (!rd->reset_method)
                return 0;
        r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DEVICES, &path, "%s/reset_method", VC_PCI_ADDR_TO_STRING(&rd->addr));
        if (r < 0)
                return txn_fail(t, &rd->addr, VC_STEP_RESET_METHOD, rd->reset_method, r);
        r = vc_sysfs_read(path, &now);
        if (r == -ENOENT)
                return 0; /* the kernel no longer shows it: nothing to restore */
        if (r < 0)
                return txn_fail(t, &rd->addr, VC_STEP_RESET_METHOD, rd->reset_method, r);
        if (streq(now, rd->reset_method))
                return 0;
        r = txn_write_undoable(t, NULL, path, isempty(rd->reset_method) ? "\n" : rd->reset_method);
        return r < 0 ? txn_fail(t, &rd->addr, VC_STEP_RESET_METHOD, isempty(rd->reset_method) ? "none" : rd->reset_method, r)
                     : 0;
}

static bool reset_method_differs(struct vc_ctx *ctx, const struct vc_record_device *rd) {
        _cleanup_free_ char *path = NULL, *now = NULL;
        if (!rd->reset_method ||
            vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &path, "%s/reset_method", VC_PCI_ADDR_TO_STRING(&rd->addr)) < 0 ||
            vc_sysfs_read(path, &now) < 0)
                return false;
        return !streq(now, rd->reset_method);
}

static int txn_begin(struct txn *t, struct vc_ctx *ctx, unsigned group, bool release,
                     const struct vc_claim_opts *o, struct vc_op_result *result) {
        vc_op_result_done(result);
        *result = (struct vc_op_result){ .group = group };
        *t = (struct txn){
                .ctx = ctx,
                .dry_run = o->dry_run,
                .timeout_ms = o->timeout_ms ?: vc_ctx_get_unbind_timeout_ms(ctx),
                .result = result,
        };
        t->plan = calloc(1, sizeof *t->plan);
        if (!t->plan)
                return -ENOMEM;
        t->plan->group = group;
        t->plan->release = release;
        result->plan = t->plan;
        return 0;
}

static int take_lock(struct txn *t, const struct vc_claim_opts *o, int *ret_fd) {
        if (o->lock_held || o->dry_run)
                return 0; /* a dry run reads only, and need not be root */
        int r = vc_state_lock(t->ctx, o->lock_timeout_ms ?: LOCK_TIMEOUT_DEFAULT_MS, ret_fd);
        return r < 0 ? txn_fail(t, NULL, VC_STEP_LOCK, NULL, r) : 0;
}

static int check_owner(struct txn *t, const struct vc_record *rec, const char *owner) {
        if (owner && rec && rec->owner && !streq(owner, rec->owner))
                return txn_fail(t, NULL, VC_STEP_OWNER, rec->owner, -EBUSY);
        return 0;
}

/* A member with a write an earlier operation gave up on, still holding its device lock: nothing
 * is written (each write would wait for it), the operation fails and can be run again. */
static int check_pending(struct txn *t, const struct vc_group *g) {
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                if (vc_pci_dev_write_pending(d)) {
                        txn_mark_stuck(t, vc_pci_dev_addr(d));
                        return txn_fail(t, vc_pci_dev_addr(d), VC_STEP_WAIT_DEVICE, NULL, -ETIMEDOUT);
                }
        }
        return 0;
}

static int record_copy(const struct vc_record *src, struct vc_record **ret) {
        _cleanup_free_ char *text = NULL;
        int r = vc_record_format(src, &text);
        return r < 0 ? r : vc_record_parse(text, (int) src->group, ret);
}

static int check_safety(struct txn *t, const struct vc_group *g, const struct vc_claim_opts *o) {
        int r;

        for (size_t i = 0; i < o->n_guards; i++)
                for (size_t j = 0; j < vc_group_n_devices(g); j++) {
                        const struct vc_pci_dev *d = vc_group_device(g, j);
                        if (!vc_pci_addr_equal(vc_pci_dev_addr(d), &o->guards[i].addr))
                                continue;
                        if (vc_device_check_identity(d, &o->guards[i].id) < 0) {
                                char id[32];
                                const struct vc_pci_id *e = &o->guards[i].id;
                                if (e->has_subsystem)
                                        snprintf(id, sizeof id, "%04x:%04x:%04x:%04x", e->vendor, e->device,
                                                 e->subsystem_vendor, e->subsystem_device);
                                else
                                        snprintf(id, sizeof id, "%04x:%04x", e->vendor, e->device);
                                return txn_fail(t, vc_pci_dev_addr(d), VC_STEP_IDENTITY, id, -ESTALE);
                        }
                }

        if (!o->protect)
                return 0;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *crit = NULL;
        r = vc_critical_scan(t->ctx, &crit);
        if (r < 0)
                return txn_fail(t, NULL, VC_STEP_PROTECT, NULL, r);
        for (size_t j = 0; j < vc_group_n_devices(g); j++) {
                const struct vc_pci_dev *d = vc_group_device(g, j);
                const char *why;
                /* A device already on vfio serves the host no more; only moves are refused. */
                if (vc_pci_dev_is_bridge(d) || vc_pci_dev_is_on_vfio(d) ||
                    !(why = vc_critical_reason(crit, vc_pci_dev_addr(d))))
                        continue;
                txn_fail(t, vc_pci_dev_addr(d), VC_STEP_PROTECT, NULL, -EPERM);
                free(t->result->reason);
                t->result->reason = strdup(why);
                return -EPERM;
        }
        return 0;
}

/* A device on a vfio driver whose driver_override names another driver would go to that driver
 * at its next probe: a give-back that died between its override write and its unbind leaves
 * that (tests/stress/seqs/claim-after-killed-release-keeps-host-override.seq). Set the override
 * back to the driver the device is on; the transaction's undo restores it on failure. */
static bool override_strays(const struct vc_pci_dev *d) {
        const char *ov = vc_pci_dev_driver_override(d);
        return !vc_pci_dev_is_bridge(d) && vc_pci_dev_is_on_vfio(d) && ov && !streq(ov, vc_pci_dev_driver(d));
}

static int keep_vfio_overrides(struct txn *t, const struct vc_group *g) {
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                if (!override_strays(d))
                        continue;
                _cleanup_free_ char *path = NULL;
                int r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DEVICES, &path, "%s/driver_override",
                                    VC_PCI_ADDR_TO_STRING(vc_pci_dev_addr(d)));
                if (r >= 0)
                        r = txn_write_undoable(t, vc_pci_dev_addr(d), path, vc_pci_dev_driver(d));
                if (r < 0)
                        return txn_fail(t, vc_pci_dev_addr(d), VC_STEP_SET_OVERRIDE, NULL, r);
        }
        return 0;
}

int vc_group_claim(struct vc_ctx *ctx, unsigned group, const struct vc_claim_opts *opts,
                   struct vc_op_result *result) {
        const struct vc_claim_opts o = opts ? *opts : (struct vc_claim_opts){ 0 };
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        _cleanup_(vc_record_freep) struct vc_record *old = NULL, *rec = NULL;
        _cleanup_close_ int lock_fd = -1;
        _cleanup_(txn_done) struct txn t = { 0 };
        size_t n_endpoints = 0, n_todo = 0;
        int r;

        r = txn_begin(&t, ctx, group, false, &o, result);
        if (r < 0)
                return result->error = r;
        if ((r = take_lock(&t, &o, &lock_fd)) < 0)
                return r;

        r = vc_group_read(ctx, group, &g);
        if (r < 0)
                return txn_fail(&t, NULL, VC_STEP_READ, NULL, r);
        r = vc_record_read(ctx, group, &old);
        if (r < 0 && r != -ENOENT)
                return txn_fail(&t, NULL, VC_STEP_READ_RECORD, NULL, r);
        if ((r = check_owner(&t, old, o.owner)) < 0)
                return r;
        if ((r = check_pending(&t, g)) < 0)
                return r;

        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                const char *drv = vc_pci_dev_driver(d);
                if (vc_pci_dev_is_bridge(d))
                        r = plan_add_device(t.plan, vc_pci_dev_addr(d), drv, drv, VC_PLAN_LEAVE_BRIDGE,
                                            "bridge: left alone");
                else if (vc_pci_dev_is_on_vfio(d)) {
                        _cleanup_free_ char *desc = NULL;
                        n_endpoints++;
                        r = (override_strays(d) ? asprintf(&desc, "on %s, its driver_override %s set back to %s", drv,
                                                           vc_pci_dev_driver_override(d), drv)
                                                  : asprintf(&desc, "already on %s", drv)) < 0
                                ? -ENOMEM
                                : plan_add_device(t.plan, vc_pci_dev_addr(d), drv, drv, VC_PLAN_LEAVE, desc);
                } else {
                        n_endpoints++;
                        n_todo++;
                        r = plan_describe(t.plan, vc_pci_dev_addr(d), drv, vc_pci_dev_driver_override(d),
                                          VFIO_DRIVER, VFIO_DRIVER);
                }
                if (r < 0)
                        return txn_fail(&t, NULL, VC_STEP_READ, NULL, r);
        }
        if (n_endpoints == 0)
                return txn_fail(&t, NULL, VC_STEP_READ, NULL, -ENODEV);

        if ((r = check_safety(&t, g, &o)) < 0)
                return r;

        /* The record: the originals of a pre-existing record win (they describe the host before
         * the first claim); endpoints it does not list are added as they are now. */
        if (old)
                r = record_copy(old, &rec);
        else
                r = vc_record_new(group, &rec);
        if (r < 0)
                return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                if (vc_pci_dev_is_bridge(d) || vc_record_find_device(rec, vc_pci_dev_addr(d)))
                        continue;
                r = vc_record_add_device(rec, vc_pci_dev_addr(d), vc_pci_dev_driver(d),
                                         vc_pci_dev_driver_module(d), vc_pci_dev_driver_override(d));
                if (r < 0)
                        return txn_fail(&t, vc_pci_dev_addr(d), VC_STEP_WRITE_RECORD, NULL, r);
        }
        if (o.owner && ((r = vc_record_set_owner(rec, o.owner)) < 0 || (r = vc_record_set_starter(rec, o.starter)) < 0))
                return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        if (!old && o.by && (r = vc_record_set_by(rec, o.by)) < 0)
                return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);

        if (n_todo == 0) {
                /* Already claimed: no sysfs write, but for a reset_method that differs from the
                 * configuration (a group claimed at boot). Keep an existing record current; a
                 * group claimed by someone else gets a record only when a VM takes ownership.
                 * The record is written before the reset_method, so that it holds the original. */
                bool keep_record = !t.dry_run && (old || o.owner), added = false;
                if (keep_record && (r = record_reset_originals(&t, &o, rec, true, &added)) < 0)
                        return r;
                rec->state = VC_RECORD_CLAIMED;
                bool write_record = keep_record &&
                        (added || !old || old->state != VC_RECORD_CLAIMED || !streq_ptr(old->owner, rec->owner) ||
                         old->starter.pid != rec->starter.pid || old->starter.start_time != rec->starter.start_time ||
                         old->n_devices != rec->n_devices);
                if (write_record && (r = vc_record_write(ctx, rec)) < 0)
                        return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
                if ((r = keep_vfio_overrides(&t, g)) < 0 || (r = apply_reset_methods(&t, &o, g, true)) < 0) {
                        txn_rollback(&t);
                        if (write_record) {
                                int k = old ? vc_record_write(ctx, old) : vc_record_remove(ctx, group);
                                if (k < 0)
                                        log_debug_errno(k, "Cannot restore the record of group %u: %m", group);
                        }
                        return r;
                }
                result->changed = !t.dry_run && t.n_undo > 0; /* a reset_method written */
                if ((r = txn_keep(&t, write_record, old)) < 0)
                        log_debug_errno(r, "Group %u: cannot keep what undo needs: %m", group);
                return 0;
        }

        /* vfio-pci first: a module that cannot load leaves everything untouched. */
        r = ensure_driver(&t, VFIO_DRIVER, NULL);
        if (r < 0)
                return txn_fail(&t, NULL, VC_STEP_LOAD_MODULE, VFIO_DRIVER, r);

        bool added = false;
        if (!t.dry_run && (r = record_reset_originals(&t, &o, rec, false, &added)) < 0)
                return r;
        rec->state = VC_RECORD_CLAIMING;
        if (!t.dry_run && (r = vc_record_write(ctx, rec)) < 0)
                return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);

        /* Before any driver moves: vfio-pci sees the configured methods from its probe on, and a
         * method the device lacks fails the claim with nothing moved. */
        if ((r = apply_reset_methods(&t, &o, g, false)) < 0)
                goto fail;

        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                if (vc_pci_dev_is_bridge(d) || vc_pci_dev_is_on_vfio(d))
                        continue;
                /* Read again: the previous endpoint's probe may have changed this one (a driver
                 * that binds several functions). */
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *now = NULL;
                r = vc_pci_dev_read(ctx, vc_pci_dev_addr(d), &now);
                if (r < 0) {
                        txn_fail(&t, vc_pci_dev_addr(d), VC_STEP_READ, NULL, r);
                        goto fail;
                }
                if ((r = txn_touch(&t, now)) < 0) {
                        txn_fail(&t, vc_pci_dev_addr(d), VC_STEP_READ, NULL, r);
                        goto fail;
                }
                r = move_device(&t, vc_pci_dev_addr(now), vc_pci_dev_driver(now),
                                vc_pci_dev_driver_override(now), VFIO_DRIVER, NULL, VFIO_DRIVER);
                if (r < 0)
                        goto fail;
        }
        if ((r = keep_vfio_overrides(&t, g)) < 0)
                goto fail;
        if (t.dry_run)
                return 0;

        for (uint64_t deadline = now_ms() + VERIFY_WAIT_MS;
             !vc_group_vfio_node_exists(ctx, group) && now_ms() < deadline;)
                sleep_us(20000); /* devtmpfs makes it at once; a udev-managed /dev a bit later */
        if (!vc_group_vfio_node_exists(ctx, group)) {
                r = txn_fail(&t, NULL, VC_STEP_VFIO_NODE, NULL, -ENODEV);
                goto fail;
        }
        rec->state = VC_RECORD_CLAIMED;
        if ((r = vc_record_write(ctx, rec)) < 0) {
                txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
                goto fail;
        }
        result->changed = true;
        if ((r = txn_keep(&t, true, old)) < 0)
                log_debug_errno(r, "Group %u: cannot keep what undo needs: %m", group);
        return 0;

fail:
        txn_rollback(&t);
        if (!t.dry_run) {
                int k;
                if (result->rollback_error < 0)
                        k = 0; /* keep the "claiming" record: release restores from it later */
                else if (old)
                        k = vc_record_write(ctx, old);
                else
                        k = vc_record_remove(ctx, group);
                if (k < 0)
                        log_debug_errno(k, "Cannot restore the record of group %u: %m", group);
        }
        return result->error;
}

int vc_group_release(struct vc_ctx *ctx, unsigned group, const struct vc_claim_opts *opts,
                     struct vc_op_result *result) {
        const struct vc_claim_opts o = opts ? *opts : (struct vc_claim_opts){ 0 };
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        _cleanup_close_ int lock_fd = -1;
        _cleanup_(txn_done) struct txn t = { 0 };
        enum vc_record_state old_state;
        size_t n_todo = 0;
        int r;

        r = txn_begin(&t, ctx, group, true, &o, result);
        if (r < 0)
                return result->error = r;
        if ((r = take_lock(&t, &o, &lock_fd)) < 0)
                return r;

        r = vc_record_read(ctx, group, &rec);
        if (r < 0 && r != -ENOENT)
                return txn_fail(&t, NULL, VC_STEP_READ_RECORD, NULL, r);
        if ((r = check_owner(&t, rec, o.owner)) < 0)
                return r;

        r = vc_group_read(ctx, group, &g);
        if (r == -ENOENT && rec) {
                /* Every device of the group is gone: nothing to give back. */
                if (!t.dry_run && (r = vc_record_remove(ctx, group)) < 0)
                        return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
                if ((r = txn_keep(&t, true, rec)) < 0)
                        log_debug_errno(r, "Group %u: cannot keep what undo needs: %m", group);
                return 0;
        }
        if (r < 0)
                return txn_fail(&t, NULL, VC_STEP_READ, NULL, r);
        if (rec && (r = check_pending(&t, g)) < 0)
                return r;

        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                const struct vc_record_device *rd = rec ? vc_record_find_device(rec, vc_pci_dev_addr(d)) : NULL;
                const char *drv = vc_pci_dev_driver(d);
                if (vc_pci_dev_is_bridge(d))
                        r = plan_add_device(t.plan, vc_pci_dev_addr(d), drv, drv, VC_PLAN_LEAVE_BRIDGE,
                                            "bridge: left alone");
                else if (!rd)
                        r = plan_add_device(t.plan, vc_pci_dev_addr(d), drv, drv, VC_PLAN_LEAVE,
                                            "not claimed: left alone");
                else if (rd->host_probe) {
                        bool todo = !host_driver_has_it(d);
                        r = plan_add_device(t.plan, vc_pci_dev_addr(d), drv, NULL,
                                            !todo ? VC_PLAN_LEAVE : drv ? VC_PLAN_UNBIND : VC_PLAN_BIND,
                                            !todo ? "claimed at boot, already on a host driver"
                                            : drv ? "claimed at boot: unbind, let the kernel pick its host driver"
                                                  : "claimed at boot: let the kernel pick its host driver");
                        n_todo += todo;
                } else {
                        r = plan_describe(t.plan, vc_pci_dev_addr(d), drv, vc_pci_dev_driver_override(d),
                                          rd->driver, rd->override);
                        if (!streq_ptr(drv, rd->driver) ||
                            !streq_ptr(vc_pci_dev_driver_override(d), rd->override))
                                n_todo++;
                }
                if (rd && !vc_pci_dev_is_bridge(d) && reset_method_differs(ctx, rd))
                        n_todo++;
                if (r < 0)
                        return txn_fail(&t, NULL, VC_STEP_READ, NULL, r);
        }
        if (!rec)
                return 0; /* not ours: nothing to give back */

        if (n_todo == 0) {
                if (!t.dry_run && (r = vc_record_remove(ctx, group)) < 0)
                        return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
                if ((r = txn_keep(&t, true, rec)) < 0)
                        log_debug_errno(r, "Group %u: cannot keep what undo needs: %m", group);
                return 0;
        }

        old_state = rec->state;
        rec->state = VC_RECORD_RELEASING;
        if (!t.dry_run && (r = vc_record_write(ctx, rec)) < 0)
                return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r);

        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                const struct vc_record_device *rd = vc_record_find_device(rec, vc_pci_dev_addr(d));
                if (vc_pci_dev_is_bridge(d) || !rd)
                        continue;
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *now = NULL;
                r = vc_pci_dev_read(ctx, vc_pci_dev_addr(d), &now);
                if (r < 0) {
                        txn_fail(&t, vc_pci_dev_addr(d), VC_STEP_READ, NULL, r);
                        goto fail;
                }
                if (rd->host_probe ? host_driver_has_it(now)
                                   : streq_ptr(vc_pci_dev_driver(now), rd->driver) &&
                                             streq_ptr(vc_pci_dev_driver_override(now), rd->override)) {
                        /* On its host driver already; the reset_method may still be ours. */
                        if ((r = restore_reset_method(&t, rd)) < 0)
                                goto fail;
                        continue;
                }
                if ((r = txn_touch(&t, now)) < 0) {
                        txn_fail(&t, vc_pci_dev_addr(d), VC_STEP_READ, NULL, r);
                        goto fail;
                }
                /* Still on vfio-pci: reset it, when configured, so the host driver gets a clean
                 * device. A failed reset fails the release; the device stays with vfio-pci. */
                if (vc_pci_dev_is_on_vfio(now) && (r = apply_reset(&t, &o, &rd->addr, true, false)) < 0)
                        goto fail;
                if (rd->host_probe)
                        r = give_to_kernel_choice(&t, now);
                else
                        r = move_device(&t, &rd->addr, vc_pci_dev_driver(now), vc_pci_dev_driver_override(now),
                                        rd->driver, rd->module, rd->override);
                if (r < 0)
                        goto fail;
                /* The host's reset_method, once the device is the host's again (the claim wrote
                 * its own before the device moved to vfio-pci). */
                if ((r = restore_reset_method(&t, rd)) < 0)
                        goto fail;
        }
        if (t.dry_run)
                return 0;

        if ((r = vc_record_remove(ctx, group)) < 0)
                return txn_fail(&t, NULL, VC_STEP_WRITE_RECORD, NULL, r); /* released all the same */
        result->changed = true;
        rec->state = old_state;
        if ((r = txn_keep(&t, true, rec)) < 0)
                log_debug_errno(r, "Group %u: cannot keep what undo needs: %m", group);
        return 0;

fail:
        txn_rollback(&t);
        if (!t.dry_run) {
                /* Whatever happened, the record keeps the originals; it says "releasing" only
                 * when the rollback could not restore the claimed state. */
                if (result->rollback_error == 0)
                        rec->state = old_state;
                int k = vc_record_write(ctx, rec);
                if (k < 0)
                        log_debug_errno(k, "Cannot restore the record of group %u: %m", group);
        }
        return result->error;
}

int vc_op_result_undo(struct vc_ctx *ctx, struct vc_op_result *result, bool lock_held) {
        _cleanup_close_ int lock_fd = -1;
        struct vc_op_undo *u;
        int r;

        if (!result || result->error < 0 || !result->undo)
                return 0; /* a failed operation has rolled back already; nothing else to undo */
        if (!lock_held && (r = vc_state_lock(ctx, LOCK_TIMEOUT_DEFAULT_MS, &lock_fd)) < 0)
                return r;

        /* The operation's own rollback, replayed: the devices it moved go back where it found
         * them, newest first, then the attributes it wrote get their old values. */
        u = TAKE_PTR(result->undo);
        _cleanup_(txn_done) struct txn t = {
                .ctx = ctx,
                .timeout_ms = vc_ctx_get_unbind_timeout_ms(ctx),
                .result = result,
                .plan = result->plan,
                .touched = TAKE_PTR(u->touched),
                .n_touched = u->n_touched,
                .undo = TAKE_PTR(u->attrs),
                .n_undo = u->n_attrs,
        };
        u->n_touched = u->n_attrs = 0;
        result->rollback_error = 0;
        txn_rollback(&t);
        r = result->rollback_error;

        /* The record, as it was; when a device could not be put back, the record of a claim
         * stays, so that "release" can finish (it lists the originals). */
        if (u->record_changed && (r == 0 || u->record_before)) {
                int k = u->record_before ? vc_record_write(ctx, u->record_before)
                                         : vc_record_remove(ctx, result->group);
                if (k < 0) {
                        log_debug_errno(k, "Cannot restore the record of group %u: %m", result->group);
                        if (r == 0)
                                r = k;
                }
        }
        op_undo_free(u);
        if (r < 0 && result->rollback_error == 0)
                result->rollback_error = r;
        if (r == 0)
                result->changed = false;
        return r;
}

int vc_claim_plan_new(struct vc_ctx *ctx, unsigned group, struct vc_plan **ret) {
        struct vc_op_result res = { 0 };
        int r = vc_group_claim(ctx, group, &(struct vc_claim_opts){ .dry_run = true }, &res);
        if (r >= 0)
                *ret = TAKE_PTR(res.plan);
        vc_op_result_done(&res);
        return r;
}
