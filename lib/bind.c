/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"
#include "boot.h"
#include "clock.h"
#include "config.h"
#include "critical.h"
#include "display.h"
#include "iommu.h"
#include "log.h"
#include "modules.h"
#include "state.h"
#include "stuck.h"
#include "sysfs.h"
#include "units.h"

#define VFIO_DRIVER "vfio-pci"
#define LOCK_TIMEOUT_DEFAULT_MS 60000
/* How long a verification waits for a binding, or /dev/vfio/N, to show. */
#define VERIFY_WAIT_MS 1000
/* A unit's stop or start job: a display manager may take its TimeoutStopSec (90 s by default). */
#define UNIT_TIMEOUT_MS 120000

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
        [VC_STEP_WAIT_DEVICE] = "wait for the device's lock, held by a write or a driver's probe that has not finished",
        [VC_STEP_HOLDERS] = "check for processes holding the device",
        [VC_STEP_VTCONSOLE] = "set the binding of",
        [VC_STEP_FIRMWARE_FB] = "release the firmware framebuffer",
        [VC_STEP_STOP_UNIT] = "stop",
        [VC_STEP_START_UNIT] = "start",
};

DEFINE_STRING_TABLE_TO_STRING(vc_step, enum vc_step, step_table, _VC_STEP_MAX)

/* ------------------------------------------------------------------ plan and result */

struct snapshot {
        struct vc_pci_addr addr;
        char *driver, *module, *override;
};

/* A write the rollback reverses: @before goes to @path, or to @undo_path when the reverse is a
 * write elsewhere (a platform driver's "bind" after its "unbind"); with @needs, only while that
 * path exists (the device may have gone). */
struct attr_undo {
        char *path, *before;
        char *undo_path, *needs;
        enum vc_step step; /* what a failed reverse reports, with @arg (NULL: @before) */
        char *arg;
        char *unit;        /* a systemd unit instead: started (@start) or stopped again */
        bool start;
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
        bool release;                  /* the operation was a give-back */
        bool released_mark;            /* a give-back that wrote the boot-released mark (lib/boot.h) */
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
                free(v[i].undo_path);
                free(v[i].needs);
                free(v[i].arg);
                free(v[i].unit);
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

void vc_op_result_done(struct vc_op_result *r) {
        if (!r)
                return;
        free(r->failed_arg);
        free(r->reason);
        strv_free(r->not_restored);
        vc_plan_free(r->plan);
        op_undo_free(r->undo);
        *r = (struct vc_op_result){ .group = r->group };
}

bool vc_op_result_write_timed_out(const struct vc_op_result *r) {
        if (!r || r->error != -ETIMEDOUT)
                return false;
        switch (r->failed_step) {
        case VC_STEP_SET_OVERRIDE:
        case VC_STEP_UNBIND:
        case VC_STEP_PROBE:
        case VC_STEP_CLEAR_OVERRIDE:
        case VC_STEP_RESET_METHOD:
        case VC_STEP_RESET:
        case VC_STEP_VTCONSOLE:
        case VC_STEP_FIRMWARE_FB:
                return true; /* the steps whose writes go through txn_write() */
        default:
                return false;
        }
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
        case VC_STEP_HOLDERS:
                k = asprintf(&m, "%s: %s; stop them first", who, strna(r->reason));
                break;
        case VC_STEP_IDENTITY:
                k = asprintf(&m, "%s: hardware changed (expected %s)", who, strna(r->failed_arg));
                break;
        case VC_STEP_OWNER:
                k = asprintf(&m, "%s: held by %s", who, strna(r->failed_arg));
                break;
        case VC_STEP_STOP_UNIT:
        case VC_STEP_START_UNIT:
                if (r->reason) /* the job ended otherwise than "done" */
                        k = asprintf(&m, "%s: failed to %s %s: systemd's job ended \"%s\"", who,
                                     vc_step_to_string(r->failed_step), strna(r->failed_arg), r->reason);
                else
                        k = asprintf(&m, "%s: failed to %s %s: %s", who, vc_step_to_string(r->failed_step),
                                     strna(r->failed_arg),
                                     r->error == -ELIBACC ? "libsystemd.so.0 cannot be loaded" : strerror(-r->error));
                break;
        default:
                k = asprintf(&m, "%s: failed to %s%s%s: %s", who, strna(vc_step_to_string(r->failed_step)),
                             r->failed_arg ? " " : "", strempty(r->failed_arg), strerror(-r->error));
                break;
        }
        return k < 0 ? NULL : m;
}

int vc_device_check_identity(const struct vc_pci_dev *d, const struct vc_pci_id *expected) {
        return vc_pci_dev_has_id(d, expected) ? 0 : -ESTALE;
}

static bool is_handoff(const struct vc_claim_opts *o, const struct vc_pci_addr *a) {
        for (size_t i = 0; i < o->n_handoffs; i++)
                if (vc_pci_addr_equal(&o->handoffs[i], a))
                        return true;
        return false;
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

void vc_claim_config_done(struct vc_claim_config *cc) {
        free(cc->guards);
        free(cc->resets);
        free(cc->handoffs);
        strv_free(cc->stop_units);
        *cc = (struct vc_claim_config){};
}

int vc_claim_config_for_group(const struct vc_config *c, const struct vc_group *g, struct vc_claim_config *ret) {
        size_t n = vc_group_n_devices(g);
        struct vc_claim_config cc = {
                .guards = calloc(n + 1, sizeof *cc.guards),
                .resets = calloc(n + 1, sizeof *cc.resets),
                .handoffs = calloc(n + 1, sizeof *cc.handoffs),
                .stop_units = calloc(1, sizeof *cc.stop_units),
        };
        int r = cc.guards && cc.resets && cc.handoffs && cc.stop_units ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && c && i < n; i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                const struct vc_pci_addr *a = vc_pci_dev_addr(d);
                const struct vc_config_device *cd = vc_config_match_device(c, d);
                if (!cd)
                        continue;
                if (cd->has_id)
                        cc.guards[cc.n_guards++] = (struct vc_claim_guard){ .addr = *a, .id = cd->id };
                if (!vc_pci_dev_is_bridge(d))
                        cc.resets[cc.n_resets++] = (struct vc_reset_choice){ .addr = *a, .reset = cd->reset };
                if (cd->console_handoff)
                        cc.handoffs[cc.n_handoffs++] = *a;
                for (size_t k = 0; r >= 0 && k < cd->n_stop_units; k++)
                        r = strv_push_unique(&cc.stop_units, &cc.n_stop_units, cd->stop_units[k]);
        }
        if (r < 0) {
                vc_claim_config_done(&cc);
                return r;
        }
        *ret = cc;
        return 0;
}

void vc_claim_opts_use_config(struct vc_claim_opts *o, const struct vc_claim_config *cc) {
        o->guards = cc->guards;
        o->n_guards = cc->n_guards;
        o->resets = cc->resets;
        o->n_resets = cc->n_resets;
        o->handoffs = cc->handoffs;
        o->n_handoffs = cc->n_handoffs;
        o->stop_units = cc->stop_units;
        o->n_stop_units = cc->n_stop_units;
}

static int dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
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
        /* This operation has changed the host since the group was read (a sysfs write, a module
         * loaded, a unit stopped or started), which may have moved a driver. Until then the group
         * as read under the lock is what the kernel has; from then on a device is read again
         * before it moves (op_device_now()). */
        bool drivers_may_have_moved;
        char driver_present[NAME_MAX + 1]; /* a driver ensure_driver() found or loaded ("": none) */
        struct vc_pci_addr stuck[STUCK_MAX];
        size_t n_stuck;
        bool stuck_overflow; /* more than STUCK_MAX: every device counts as stuck */
        bool released_mark;  /* this give-back wrote the group's boot-released mark */
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
        u->release = t->plan && t->plan->release;
        u->released_mark = t->released_mark;
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

/* lib/clock.h, under the short names the wait loops below use. */
static uint64_t now_ms(void) { return vc_now_ms(); }
static void sleep_us(long us) { vc_sleep_us(us); }

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

/* The last @n writes listed in the plan go (made in no order: a request ended before them). */
static void plan_drop_writes(struct txn *t, size_t n) {
        struct vc_plan *p = t->plan;
        for (; n > 0 && p->n_writes > 0; n--) {
                p->n_writes--;
                free(p->writes[p->n_writes].path);
                free(p->writes[p->n_writes].value);
        }
}

/* The sysfs writes @values[i] to @paths[i] of the operation (at most VC_TIMED_WRITES_MAX), in
 * order, in one request to the writer (lib/stuck.h): listed in the plan (rollback writes are
 * not), made unless this is a dry run; the first that fails ends them, and only the writes made
 * and that one stay listed. *ret_done: the writes made. @a: the device whose lock the writes take
 * (NULL: reset_method and the like, which take none). A write that times out leaves @a stuck;
 * later writes to it are not made. */
static int txn_writes(struct txn *t, const struct vc_pci_addr *a, const char *const *paths,
                      const char *const *values, size_t n, size_t *ret_done) {
        size_t listed = 0;
        int r = 0;

        *ret_done = 0;
        for (; !t->rolling_back && listed < n && r >= 0; listed++)
                r = plan_add_write(t, paths[listed], values[listed]);
        if (r < 0) {
                plan_drop_writes(t, listed - 1);
                return r;
        }
        t->drivers_may_have_moved = true;
        if (t->dry_run) {
                *ret_done = n;
                return 0;
        }
        if (a && txn_is_stuck(t, a))
                r = -ETIMEDOUT; /* it would wait for the stuck write, the whole timeout long */
        else {
                /* A sysfs write can block in the kernel for as long as a driver pleases (an unbind
                 * waits until the GPU is idle): in the writer process, with a deadline. */
                r = vc_stuck_timed_writes(t->ctx, a, paths, values, n, t->timeout_ms, ret_done);
                for (size_t i = 0; i < n && i <= *ret_done; i++)
                        log_debug_errno(i < *ret_done ? 0 : r, "write %s <- \"%s\": %s", paths[i],
                                        values[i][0] == '\n' ? "\\n" : values[i],
                                        i < *ret_done ? "ok" : strerror(-r));
                if (r == -ETIMEDOUT && a)
                        txn_mark_stuck(t, a);
        }
        if (r < 0 && listed > *ret_done + 1)
                plan_drop_writes(t, listed - *ret_done - 1); /* never made */
        return r;
}

/* One sysfs write of the operation: txn_writes() of one. */
static int txn_write(struct txn *t, const struct vc_pci_addr *a, const char *path, const char *value) {
        size_t done;
        return txn_writes(t, a, &path, &value, 1, &done);
}

/* Write @value to the attribute at @path; a rollback puts back what it said before the first
 * such write (also after a write that timed out: its effect is unknown). */
static int txn_write_undoable_step(struct txn *t, const struct vc_pci_addr *a, const char *path, const char *value,
                                   enum vc_step step, const char *arg) {
        _cleanup_free_ char *before = NULL;
        bool known = t->dry_run;
        int r;

        for (size_t i = 0; i < t->n_undo && !known; i++)
                known = streq_ptr(t->undo[i].path, path);
        if (known)
                return txn_write(t, a, path, value);

        /* Everything the undo needs is in hand before the write. */
        _cleanup_free_ char *p = strdup(path), *what = arg ? strdup(arg) : NULL;
        struct attr_undo *v = realloc(t->undo, (t->n_undo + 1) * sizeof *v);
        if (v)
                t->undo = v;
        if (!p || !v || (arg && !what))
                return -ENOMEM;
        if ((r = vc_sysfs_read(path, &before)) < 0)
                return r;
        r = txn_write(t, a, path, value);
        if (r >= 0 || r == -ETIMEDOUT)
                t->undo[t->n_undo++] = (struct attr_undo){ .path = TAKE_PTR(p), .before = TAKE_PTR(before),
                                                           .step = step, .arg = TAKE_PTR(what) };
        return r;
}

static int txn_write_undoable(struct txn *t, const struct vc_pci_addr *a, const char *path, const char *value) {
        return txn_write_undoable_step(t, a, path, value, VC_STEP_RESET_METHOD, NULL);
}

/* Stop (@start false) or start the systemd unit @unit; a rollback does the reverse. A job that
 * ended otherwise than "done" leaves its result in *@ret_result. Fails nothing itself: the caller
 * decides (a stop at claim fails it, a start at release does not). */
static int txn_change_unit(struct txn *t, const char *unit, bool start, char **ret_result) {
        _cleanup_free_ char *name = strdup(unit);

        if (!name)
                return -ENOMEM;
        t->drivers_may_have_moved = true;
        t->driver_present[0] = '\0'; /* a unit's stop or start may load or unload a module too */
        if (t->dry_run)
                return 0;
        struct attr_undo *v = realloc(t->undo, (t->n_undo + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        t->undo = v;
        int r = vc_unit_change(unit, start, UNIT_TIMEOUT_MS, ret_result);
        if (r >= 0 || r == -ETIMEDOUT) /* a job past its time may still finish */
                t->undo[t->n_undo++] = (struct attr_undo){ .unit = TAKE_PTR(name), .start = !start };
        return r;
}

/* Unbind the platform device @device from its driver @driver; a rollback binds it again while
 * the device exists. */
static int txn_unbind_platform(struct txn *t, const char *device, const char *driver) {
        _cleanup_free_ char *unbind = NULL, *bind = NULL, *dev = NULL, *name = strdup(device);
        int r;

        if (!name)
                return -ENOMEM;
        if ((r = vc_ctx_path(t->ctx, VC_PLACE_PLATFORM_DRIVERS, &unbind, "%s/unbind", driver)) < 0 ||
            (r = vc_ctx_path(t->ctx, VC_PLACE_PLATFORM_DRIVERS, &bind, "%s/bind", driver)) < 0 ||
            (r = vc_ctx_path(t->ctx, VC_PLACE_PLATFORM_DEVICES, &dev, "%s", device)) < 0)
                return r;
        struct attr_undo *v = realloc(t->undo, (t->n_undo + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        t->undo = v;
        r = txn_write(t, NULL, unbind, device);
        if (!t->dry_run && (r >= 0 || r == -ETIMEDOUT))
                t->undo[t->n_undo++] = (struct attr_undo){
                        .path = TAKE_PTR(unbind), .before = TAKE_PTR(name), .undo_path = TAKE_PTR(bind),
                        .needs = TAKE_PTR(dev), .step = VC_STEP_FIRMWARE_FB, .arg = NULL };
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

static void note_driver_present(struct txn *t, const char *driver) {
        size_t l = strlen(driver);
        if (l < sizeof t->driver_present)
                memcpy(t->driver_present, driver, l + 1);
}

/* @driver present, its module loaded if need be. The last one found is not looked for again in
 * the same operation: a claim asks for vfio-pci before its record and for each device it moves. */
static int ensure_driver(struct txn *t, const char *driver, const char *module) {
        if (streq(t->driver_present, driver))
                return 0;
        if (vc_module_driver_present(t->ctx, driver)) {
                note_driver_present(t, driver);
                return 0;
        }
        t->drivers_may_have_moved = true; /* a module binds what it matches as it loads */
        if (t->dry_run) {
                _cleanup_free_ char *name = strdup(module ?: driver);
                if (!name)
                        return -ENOMEM;
                for (char *c = name; *c; c++)
                        if (*c == '-')
                                *c = '_';
                return strv_push_unique(&t->plan->modules, &t->plan->n_modules, name);
        }
        int r = vc_module_ensure_driver(t->ctx, driver, module);
        if (r >= 0)
                note_driver_present(t, driver);
        return r;
}

/* The driver the device at @a is bound to (NULL: none), from its driver link alone: reading a
 * link takes no device lock, where vc_pci_dev_read() reads driver_override, which does. */
static int read_driver(struct txn *t, const struct vc_pci_addr *a, char **ret) {
        _cleanup_free_ char *dir = NULL;
        int r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DEVICES, &dir, "%s", VC_PCI_ADDR_TO_STRING(a));
        if (r < 0)
                return r;
        _cleanup_close_ int fd = vc_path_open(dir, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
                return -ENODEV;
        r = vc_sysfs_read_link_name_at(fd, "driver", ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* One write of a device's move, and what its failure names. */
struct txn_step {
        char *path;
        const char *value;
        enum vc_step step;
        const char *arg;
};

/* The writes @s[0..@n) to the device at @a in one request (txn_writes()); the first that
 * fails fails the operation with its step. */
static int txn_write_steps(struct txn *t, const struct vc_pci_addr *a, const struct txn_step *s, size_t n) {
        const char *paths[VC_TIMED_WRITES_MAX], *values[VC_TIMED_WRITES_MAX];
        size_t done;

        if (n == 0 || n > VC_TIMED_WRITES_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                paths[i] = s[i].path;
                values[i] = s[i].value;
        }
        int r = txn_writes(t, a, paths, values, n, &done);
        return r < 0 ? txn_fail(t, a, s[done < n ? done : 0].step, s[done < n ? done : 0].arg, r) : 0;
}

/* Write @override to the device at @a's driver_override (NULL: not; @override_step names its
 * failure), unbind it from @driver (NULL: not), and ask the kernel to probe it: one request. */
static int override_unbind_probe(struct txn *t, const struct vc_pci_addr *a, const char *override,
                                 enum vc_step override_step, const char *driver) {
        struct txn_step s[3] = {};
        char name[VC_PCI_ADDR_STRLEN];
        size_t n = 0;
        int r = 0;

        vc_pci_addr_format(a, name);
        if (override) {
                s[n] = (struct txn_step){ .value = override, .step = override_step };
                r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DEVICES, &s[n++].path, "%s/driver_override", name);
        }
        if (r >= 0 && driver) {
                s[n] = (struct txn_step){ .value = name, .step = VC_STEP_UNBIND, .arg = driver };
                r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DRIVERS, &s[n++].path, "%s/unbind", driver);
        }
        if (r >= 0) {
                s[n] = (struct txn_step){ .value = name, .step = VC_STEP_PROBE };
                r = vc_ctx_path(t->ctx, VC_PLACE_PCI_BUS, &s[n++].path, "drivers_probe");
        }
        r = r < 0 ? txn_fail(t, a, s[n - 1].step, s[n - 1].arg, r) : txn_write_steps(t, a, s, n);
        for (size_t i = 0; i < n; i++)
                free(s[i].path);
        return r;
}

/* Unbind the device at @a from @driver (none: skip), then ask the kernel to probe it. */
static int unbind_and_probe(struct txn *t, const struct vc_pci_addr *a, const char *driver) {
        return override_unbind_probe(t, a, NULL, VC_STEP_SET_OVERRIDE, driver);
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
                /* The module first: one that cannot load leaves the device untouched. */
                r = ensure_driver(t, target, module);
                if (r < 0)
                        return txn_fail(t, a, VC_STEP_LOAD_MODULE, module ?: target, r);
                r = override_unbind_probe(t, a, streq_ptr(override, target) ? NULL : target, VC_STEP_SET_OVERRIDE,
                                          driver);
                if (r < 0)
                        return r;
                override = target;
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

        r = override_unbind_probe(t, a, vc_pci_dev_driver_override(now) ? "\n" : NULL, VC_STEP_CLEAR_OVERRIDE,
                                  driver);
        if (r < 0)
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
                if (vc_pci_dev_write_pending(d)) {
                        /* its lock stayed held through the read (something else's probe or
                         * remove): its override was not read, and every write would wait as
                         * long; left as it is, as a stuck one */
                        txn_mark_stuck(t, &s->addr);
                        txn_fail(t, &s->addr, VC_STEP_WAIT_DEVICE, NULL, -ETIMEDOUT);
                        continue;
                }
                log_debug("%s: rolling back to %s", VC_PCI_ADDR_TO_STRING(&s->addr), s->driver ?: "no driver");
                (void) move_device(t, &s->addr, vc_pci_dev_driver(d), vc_pci_dev_driver_override(d),
                                   s->driver, s->module, s->override);
        }
        /* The attributes were written before any driver moved: they go back last, newest first
         * (a firmware framebuffer, then the VT consoles, then the reset methods). An empty
         * reset_method list ("all methods disabled") is restored by writing a newline. */
        for (size_t i = t->n_undo; i > 0; i--) {
                const struct attr_undo *u = &t->undo[i - 1];
                if (u->unit) {
                        int r = vc_unit_change(u->unit, u->start, UNIT_TIMEOUT_MS, NULL);
                        if (r < 0)
                                txn_fail(t, NULL, u->start ? VC_STEP_START_UNIT : VC_STEP_STOP_UNIT, u->unit, r);
                        continue;
                }
                if ((u->needs && !vc_path_exists(u->needs)) ||
                    (u->step == VC_STEP_VTCONSOLE && !vc_path_exists(u->path)))
                        continue; /* the device went away (fbcon's console goes with its last
                                   * framebuffer and comes back bound with the next) */
                int r = txn_write(t, NULL, u->undo_path ?: u->path, isempty(u->before) ? "\n" : u->before);
                if (r < 0)
                        txn_fail(t, NULL, u->step, u->arg ?: u->before, r);
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
        int r = vc_plan_new(group, release, &t->plan);
        if (r < 0)
                return r;
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
                        if (vc_device_check_identity(d, &o->guards[i].id) < 0)
                                return txn_fail(t, vc_pci_dev_addr(d), VC_STEP_IDENTITY,
                                                VC_PCI_ID_TO_STRING(&o->guards[i].id), -ESTALE);
                }

        if (!o->protect)
                return 0;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *own = NULL;
        struct vc_critical_set **kept = o->critical ?: &own;
        if (!*kept && (r = vc_critical_scan(t->ctx, kept)) < 0)
                return txn_fail(t, NULL, VC_STEP_PROTECT, NULL, r);
        const struct vc_critical_set *crit = *kept;
        for (size_t j = 0; j < vc_group_n_devices(g); j++) {
                const struct vc_pci_dev *d = vc_group_device(g, j);
                const char *why;
                /* A device already on vfio serves the host no more; only moves are refused. */
                if (vc_pci_dev_is_bridge(d) || vc_pci_dev_is_on_vfio(d) ||
                    !(why = vc_critical_reason(crit, vc_pci_dev_addr(d))))
                        continue;
                /* "console = handoff": the console goes with it (set_vtconsoles()) */
                if (is_handoff(o, vc_pci_dev_addr(d)) && vc_critical_is_console(crit, vc_pci_dev_addr(d)))
                        continue;
                txn_fail(t, vc_pci_dev_addr(d), VC_STEP_PROTECT, NULL, -EPERM);
                free(t->result->reason);
                t->result->reason = strdup(why);
                t->result->console = vc_critical_is_console(crit, vc_pci_dev_addr(d));
                return -EPERM;
        }
        /* The console's keyboards below several groups: this claim must not take the last of them
         * that the command's claims before it left (one set for the command, opts->critical). */
        _cleanup_free_ struct vc_pci_addr *moved = calloc(vc_group_n_devices(g) + 1, sizeof *moved);
        size_t n_moved = 0;
        if (!moved)
                return txn_fail(t, NULL, VC_STEP_PROTECT, NULL, -ENOMEM);
        for (size_t j = 0; j < vc_group_n_devices(g); j++) {
                const struct vc_pci_dev *d = vc_group_device(g, j);
                if (!vc_pci_dev_is_bridge(d) && !vc_pci_dev_is_on_vfio(d))
                        moved[n_moved++] = *vc_pci_dev_addr(d);
        }
        const struct vc_pci_addr *kb = NULL;
        const char *why = vc_critical_keyboards_take(*kept, moved, n_moved, &kb);
        if (why) {
                txn_fail(t, kb, VC_STEP_PROTECT, NULL, -EPERM);
                free(t->result->reason);
                if (asprintf(&t->result->reason, "%s, the last one: this command takes the others' too", why) < 0)
                        t->result->reason = NULL;
                return -EPERM;
        }
        return 0;
}

/* Before any write: a display device the plan unbinds from its driver must have no device node
 * a process holds open, or the unbind may wait for that process (lib/display.h), and no block
 * device below a device it unbinds may be open either (vc_block_holders_check()): the process
 * would lose it. The plan's snapshot says which devices move off which driver; a device on vfio
 * has no such node. */
static int holders_fail(struct txn *t, const struct vc_pci_addr *a, int r, char **who) {
        if (r != -EBUSY)
                return txn_fail(t, a, VC_STEP_HOLDERS, NULL, r);
        txn_fail(t, a, VC_STEP_HOLDERS, NULL, r);
        free(t->result->reason);
        t->result->reason = TAKE_PTR(*who);
        return r;
}

static int check_holders(struct txn *t, const struct vc_group *g, const struct vc_claim_opts *o) {
        _cleanup_free_ const struct vc_pci_addr **moving = NULL;
        _cleanup_free_ char(*names)[VC_PCI_ADDR_STRLEN] = NULL;
        _cleanup_free_ const char **devices = NULL;
        _cleanup_free_ char *who = NULL;
        size_t n = 0, k = 0;
        int r;

        if (o->ignore_holders)
                return 0;
        moving = calloc(t->plan->n_devices + 1, sizeof *moving);
        if (!moving)
                return -ENOMEM;
        for (size_t i = 0; i < t->plan->n_devices; i++) {
                const struct vc_plan_device *pd = &t->plan->devices[i];
                const struct vc_pci_dev *d = NULL;
                for (size_t j = 0; !d && j < vc_group_n_devices(g); j++)
                        if (vc_pci_addr_equal(vc_pci_dev_addr(vc_group_device(g, j)), &pd->addr))
                                d = vc_group_device(g, j);
                if (!pd->changes || !pd->driver || !d || vc_pci_dev_is_on_vfio(d))
                        continue;
                if ((r = vc_display_check(t->ctx, &pd->addr, vc_pci_dev_class(d), pd->driver, &who)) < 0)
                        return holders_fail(t, &pd->addr, r, &who);
                moving[n++] = &pd->addr;
        }
        if (n == 0 || o->ignore_block_holders)
                return 0;
        /* every moving device's disks in one walk of sys/class/block and one of proc/ */
        names = calloc(n, sizeof *names);
        devices = calloc(n, sizeof *devices);
        if (!names || !devices)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                devices[i] = vc_pci_addr_format(moving[i], names[i]);
        if ((r = vc_block_holders_check(t->ctx, devices, n, &k, &who)) < 0)
                return holders_fail(t, moving[r == -EBUSY ? k : 0], r, &who);
        return 0;
}

/* An endpoint the plan found on a vfio driver with a driver_override that would take it
 * elsewhere at its next probe (lib/plan.h, ->fix_override): a give-back that died between its
 * override write and its unbind leaves one naming the host driver
 * (tests/stress/seqs/claim-after-killed-release-keeps-host-override.seq), one claimed at boot an
 * empty one (tests/stress/seqs/prepare-after-killed-give-back-keeps-empty-override.seq). Set it to
 * the driver the device is on; the transaction's undo restores it on failure. */
static int keep_vfio_overrides(struct txn *t) {
        for (size_t i = 0; i < t->plan->n_devices; i++) {
                const struct vc_plan_device *pd = &t->plan->devices[i];
                if (!pd->fix_override)
                        continue;
                _cleanup_free_ char *path = NULL;
                int r = vc_ctx_path(t->ctx, VC_PLACE_PCI_DEVICES, &path, "%s/driver_override",
                                    VC_PCI_ADDR_TO_STRING(&pd->addr));
                if (r >= 0)
                        r = txn_write_undoable(t, &pd->addr, path, pd->driver);
                if (r < 0)
                        return txn_fail(t, &pd->addr, VC_STEP_SET_OVERRIDE, NULL, r);
        }
        return 0;
}

/* ------------------------------------------------------------------ claim and release, step by step */

/* One claim or release, from its opening to its commit or undo (docs/DESIGN.md, "The transaction
 * and its invariants"). */
struct op {
        struct txn t;
        struct vc_claim_opts o;
        unsigned group;
        int lock_fd;
        const struct vc_group *g; /* NULL: a release whose group has no device left */
        struct vc_group *g_own;   /* @g when the operation read it (not the caller's opts.group) */
        struct vc_record *found;  /* the record as the operation found it, NULL: none */
        struct vc_record *next;   /* the record the operation writes */
        struct vc_plan_member *members; /* the group as read, for the planner */
        char **reset_methods;     /* owns the members' reset_method strings */
        size_t n_members;
        size_t n_moves;           /* entries of the plan that change something */
        bool record_written;      /* the operation wrote @next */
        bool keep_unfinished;     /* on a failed rollback, @next stays for release to finish */
};

static void op_close(struct op *op) {
        txn_done(&op->t);
        if (op->lock_fd >= 0)
                close(op->lock_fd);
        vc_group_free(op->g_own);
        vc_record_free(op->found);
        vc_record_free(op->next);
        free(op->members);
        for (size_t i = 0; op->reset_methods && i < op->n_members; i++)
                free(op->reset_methods[i]);
        free(op->reset_methods);
}

/* An operation under a lock its caller holds may be given the group the caller read after
 * taking it (opts.group): nothing can have changed it since but the kernel, which could as well
 * change it right after a read here. @gone_is_fine: a group with no device left is no failure
 * (op->g stays NULL). */
static int op_read_group(struct op *op, bool gone_is_fine) {
        if (op->o.group && op->o.lock_held && vc_group_number(op->o.group) == op->group) {
                op->g = op->o.group;
                return 0;
        }
        struct vc_read_failure f;
        int r = vc_group_read(op->t.ctx, op->group, &op->g_own, &f);
        op->g = op->g_own;
        if (r == -ENOENT && gone_is_fine)
                return 0;
        return r < 0 ? txn_fail(&op->t, f.device_known ? &f.device : NULL, VC_STEP_READ, NULL, r) : 0;
}

/* The opening both share: begin, lock, read the group and its record, check the owner and the
 * writes an earlier operation gave up on. A claim needs the group before anything else; a
 * release looks at its record first, and a release whose group is gone returns with op->g NULL. */
static int op_open(struct op *op, struct vc_ctx *ctx, unsigned group, bool release,
                   const struct vc_claim_opts *opts, struct vc_op_result *result) {
        int r;

        op->o = opts ? *opts : (struct vc_claim_opts){ 0 };
        op->group = group;
        r = txn_begin(&op->t, ctx, group, release, &op->o, result);
        if (r < 0)
                return result->error = r;
        if ((r = take_lock(&op->t, &op->o, &op->lock_fd)) < 0)
                return r;
        if (!release && (r = op_read_group(op, false)) < 0)
                return r;
        r = vc_record_read(ctx, group, &op->found);
        if (r < 0 && r != -ENOENT)
                return txn_fail(&op->t, NULL, VC_STEP_READ_RECORD, NULL, r);
        if ((r = check_owner(&op->t, op->found, op->o.owner)) < 0)
                return r;
        /* A recorded group whose every device is gone: nothing to give back (op->g NULL). */
        if (release && ((r = op_read_group(op, op->found != NULL)) < 0 || !op->g))
                return r;
        if ((!release || op->found) && (r = check_pending(&op->t, op->g)) < 0)
                return r;
        return 0;
}

/* The members as read, for the pure planner (lib/plan.h); a release also reads the reset_method
 * of each endpoint whose record lists one. */
static int op_snapshot(struct op *op) {
        size_t n = vc_group_n_devices(op->g);

        op->members = calloc(n ?: 1, sizeof *op->members);
        op->reset_methods = calloc(n ?: 1, sizeof *op->reset_methods);
        if (!op->members || !op->reset_methods)
                return -ENOMEM;
        op->n_members = n;
        for (size_t i = 0; i < n; i++) {
                const struct vc_pci_dev *d = vc_group_device(op->g, i);
                const struct vc_record_device *rd = NULL;
                _cleanup_free_ char *path = NULL;

                op->members[i] = (struct vc_plan_member){
                        .addr = *vc_pci_dev_addr(d),
                        .bridge = vc_pci_dev_is_bridge(d),
                        .on_vfio = vc_pci_dev_is_on_vfio(d),
                        .driver = vc_pci_dev_driver(d),
                        .override = vc_pci_dev_driver_override(d),
                };
                if (op->t.plan->release && op->found)
                        rd = vc_record_find_device(op->found, vc_pci_dev_addr(d));
                if (!rd || !rd->reset_method || op->members[i].bridge)
                        continue;
                if (vc_ctx_path(op->t.ctx, VC_PLACE_PCI_DEVICES, &path, "%s/reset_method",
                                VC_PCI_ADDR_TO_STRING(&rd->addr)) >= 0 &&
                    vc_sysfs_read(path, &op->reset_methods[i]) >= 0)
                        op->members[i].reset_method = op->reset_methods[i];
        }
        return 0;
}

/* Plan: what happens to each member, from the group as read and the record alone. */
static int op_plan(struct op *op) {
        int r = op_snapshot(op);
        if (r >= 0)
                r = op->t.plan->release
                        ? vc_plan_release(op->t.plan, op->members, vc_group_n_devices(op->g), op->found)
                        : vc_plan_claim(op->t.plan, op->members, vc_group_n_devices(op->g),
                                        op->found || op->o.owner);
        if (r < 0)
                return txn_fail(&op->t, NULL, VC_STEP_READ, NULL, r);
        op->n_moves = (size_t) r;
        return 0;
}

/* Write @op->next as the operation's record; the failure tail puts the old one back. */
static int op_write_record(struct op *op) {
        int r = vc_record_write(op->t.ctx, op->next);
        if (r < 0)
                return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        op->record_written = true;
        return 0;
}

/* The one failure tail: every device and attribute the operation touched goes back, newest
 * first, then the record as the operation found it (removed when there was none). With
 * @op->keep_unfinished, a record whose devices could not all be put back stays "claiming" or
 * "releasing": release restores from it later. Returns the operation's error. */
static int op_undo(struct op *op) {
        struct vc_op_result *res = op->t.result;

        txn_rollback(&op->t);
        if (op->t.dry_run || !op->record_written || (op->keep_unfinished && res->rollback_error < 0))
                return res->error;
        int k = op->found ? vc_record_write(op->t.ctx, op->found) : vc_record_remove(op->t.ctx, op->group);
        if (k < 0)
                log_debug_errno(k, "Cannot restore the record of group %u: %m", op->group);
        return res->error;
}

/* Success: what changed goes to the result, for vc_op_result_undo(). */
static int op_commit(struct op *op, bool record_changed) {
        int r = txn_keep(&op->t, record_changed, op->found);
        if (r < 0)
                log_debug_errno(r, "Group %u: cannot keep what undo needs: %m", op->group);
        return 0;
}

/* The claim's record: the originals of a pre-existing record win (they describe the host before
 * the first claim); endpoints it does not list are added as they are now. */
static int claim_prepare_record(struct op *op) {
        int r = op->found ? record_copy(op->found, &op->next) : vc_record_new(op->group, &op->next);
        if (r < 0)
                return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        for (size_t i = 0; i < vc_group_n_devices(op->g); i++) {
                const struct vc_pci_dev *d = vc_group_device(op->g, i);
                if (vc_pci_dev_is_bridge(d) || vc_record_find_device(op->next, vc_pci_dev_addr(d)))
                        continue;
                r = vc_record_add_device(op->next, vc_pci_dev_addr(d), vc_pci_dev_driver(d),
                                         vc_pci_dev_driver_module(d), vc_pci_dev_driver_override(d));
                if (r < 0)
                        return txn_fail(&op->t, vc_pci_dev_addr(d), VC_STEP_WRITE_RECORD, NULL, r);
        }
        if (op->o.owner && ((r = vc_record_set_owner(op->next, op->o.owner)) < 0 ||
                            (r = vc_record_set_starter(op->next, op->o.starter)) < 0))
                return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        if (!op->found && op->o.by && (r = vc_record_set_by(op->next, op->o.by)) < 0)
                return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        return 0;
}

/* Commit a claim: the record says "claimed". */
static int claim_commit(struct op *op) {
        if (op->t.dry_run)
                return 0;
        op->next->state = VC_RECORD_CLAIMED;
        int r = vc_record_write(op->t.ctx, op->next);
        if (r < 0) {
                txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
                return op_undo(op);
        }
        op->t.result->changed = true;
        return op_commit(op, true);
}

/* Already claimed: no driver moves, but for a reset_method that differs from the configuration
 * (a group claimed at boot) and a driver_override that would take a device off vfio. An existing
 * record is kept current; a group claimed by someone else gets a record only when a VM takes
 * ownership. The record is written before the reset_method, so that it holds the original. With
 * overrides to set, it says "claiming" until they are written: a kill in between leaves a pending
 * record for release to finish, never a "claimed" group that is not whole. */
static int claim_refresh(struct op *op) {
        const struct vc_record *old = op->found;
        /* An override to set back is a write, and no write goes without a record (docs/DESIGN.md):
         * the claim then keeps one, which gives the override it found back at release. */
        bool fixes = !op->t.dry_run && vc_plan_fixes_overrides(op->t.plan);
        bool keep_record = !op->t.dry_run && (old || op->o.owner || fixes), added = false;
        int r;

        if (keep_record && (r = record_reset_originals(&op->t, &op->o, op->next, true, &added)) < 0)
                return r;
        op->next->state = fixes ? VC_RECORD_CLAIMING : VC_RECORD_CLAIMED;
        op->keep_unfinished = fixes;
        bool write_record = keep_record &&
                (fixes || added || !old || old->state != VC_RECORD_CLAIMED || !streq_ptr(old->owner, op->next->owner) ||
                 old->starter.pid != op->next->starter.pid ||
                 old->starter.start_time != op->next->starter.start_time ||
                 old->n_devices != op->next->n_devices);
        if (write_record && (r = op_write_record(op)) < 0)
                return r;
        if ((r = keep_vfio_overrides(&op->t)) < 0 || (r = apply_reset_methods(&op->t, &op->o, op->g, true)) < 0)
                return op_undo(op);
        if (fixes)
                return claim_commit(op);
        op->t.result->changed = !op->t.dry_run && op->t.n_undo > 0; /* a reset_method written */
        return op_commit(op, write_record);
}

/* "console = handoff" (lib/bind.h): does the plan move one of the configured endpoints? */
static bool plan_moves_handoff(const struct txn *t, const struct vc_claim_opts *o) {
        for (size_t i = 0; i < t->plan->n_devices; i++)
                if (t->plan->devices[i].changes && is_handoff(o, &t->plan->devices[i].addr))
                        return true;
        return false;
}

/* The VT consoles (vtconN) whose driver is not the dummy console and whose binding reads @bound
 * ("1" or "0"), by name. No vtconsole class: none. */
static int list_vtconsoles(struct txn *t, const char *bound, char ***ret, size_t *ret_n) {
        struct vc_vtconsole *v = NULL;
        _cleanup_strv_free_ char **found = NULL;
        size_t n_v = 0, n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if ((r = vc_display_vtconsoles(t->ctx, &v, &n_v)) < 0)
                return r;
        for (size_t i = 0; i < n_v && r >= 0; i++)
                if (!vc_vtconsole_is_dummy(&v[i]) && v[i].bound == streq(bound, "1"))
                        r = strv_push(&found, &n, strdup(v[i].name));
        vc_vtconsoles_free(v, n_v);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(found);
        *ret_n = n;
        return 0;
}

/* At release, after the drivers: something the claim took from the host that could not be
 * given back with the group. It fails nothing: the host has its devices back, and undoing that
 * would leave it without them, and the group impossible to give back while, say, a display
 * manager fails to start. The line ("what (why); the command that does it once fixed") goes
 * into result->not_restored for the caller to report. */
static int not_restored(struct txn *t, const char *fmt, ...) _printf_(2, 3);
static int not_restored(struct txn *t, const char *fmt, ...) {
        char *line = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        return strv_push(&t->result->not_restored, &t->result->n_not_restored, line); /* frees @line on failure */
}

/* Write "0" (@bind false: at claim) or "1" (at release) to sys/class/vtconsole/NAME/bind of the
 * @n consoles @names whose binding says otherwise, each write undone with the transaction. At
 * release, a console that does not bind goes to not_restored() and fails nothing. */
static int set_vtconsoles(struct txn *t, char *const *names, size_t n, bool bind) {
        const char *value = bind ? "1" : "0";
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *now = NULL;
                int r;
                if ((r = vc_ctx_path(t->ctx, VC_PLACE_CLASS, &path, "vtconsole/%s/bind", names[i])) < 0)
                        return txn_fail(t, NULL, VC_STEP_VTCONSOLE, names[i], r);
                if (vc_sysfs_read(path, &now) < 0 || streq(now, value))
                        continue; /* gone, or where it should be */
                r = txn_write_undoable_step(t, NULL, path, value, VC_STEP_VTCONSOLE, names[i]);
                if (bind && r < 0 && r != -ENOMEM)
                        r = not_restored(t, "%s was not bound to the framebuffer again (%s); bind it once fixed: "
                                            "echo 1 > /sys/class/vtconsole/%s/bind", names[i], strerror(-r), names[i]);
                if (r < 0)
                        return txn_fail(t, NULL, VC_STEP_VTCONSOLE, names[i], r);
        }
        return 0;
}

/* "console = handoff", at claim: the record lists the consoles that are bound now (with those a
 * claim that did not finish listed before), written with the record of intent. */
static int record_consoles(struct op *op) {
        _cleanup_strv_free_ char **bound = NULL;
        size_t n = 0;
        int r;

        if (!plan_moves_handoff(&op->t, &op->o))
                return 0;
        if ((r = list_vtconsoles(&op->t, "1", &bound, &n)) < 0)
                return txn_fail(&op->t, NULL, VC_STEP_VTCONSOLE, "vtconsole", r);
        if ((r = vc_record_add_console(op->next, NULL)) < 0)
                return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        for (size_t i = 0; i < n; i++)
                if ((r = vc_record_add_console(op->next, bound[i])) < 0)
                        return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        return 0;
}

/* "stop =", at claim: the record lists the configured units that are active now (with those a
 * claim that did not finish listed before), written with the record of intent. */
static int record_units(struct op *op) {
        for (size_t i = 0; i < op->o.n_stop_units; i++) {
                int r = vc_unit_is_active(op->o.stop_units[i]);
                if (r < 0)
                        return txn_fail(&op->t, NULL, VC_STEP_STOP_UNIT, op->o.stop_units[i], r);
                if (r > 0 && (r = vc_record_add_stopped_unit(op->next, op->o.stop_units[i])) < 0)
                        return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        }
        return 0;
}

/* "stop =", at claim: stop the units of @rec in the order listed; one that does not stop fails
 * the claim, its job's result the reason. */
static int stop_units(struct txn *t, const struct vc_record *rec) {
        for (size_t i = 0; i < rec->n_stopped_units; i++) {
                _cleanup_free_ char *why = NULL;
                int r = txn_change_unit(t, rec->stopped_units[i], false, &why);
                if (r < 0) {
                        txn_fail(t, NULL, VC_STEP_STOP_UNIT, rec->stopped_units[i], r);
                        if (why) {
                                free(t->result->reason);
                                t->result->reason = TAKE_PTR(why);
                        }
                        return r;
                }
        }
        return 0;
}

/* "stop =", at release, after the drivers and the consoles: start the units of @rec again, in
 * the reverse order; one that does not start goes to not_restored(), the others start all the
 * same. */
static int start_units(struct txn *t, const struct vc_record *rec) {
        for (size_t i = rec->n_stopped_units; i-- > 0;) {
                const char *u = rec->stopped_units[i];
                _cleanup_free_ char *why = NULL;
                int r = txn_change_unit(t, u, true, &why);
                if (r >= 0)
                        continue;
                if (why)
                        r = not_restored(t, "%s did not start again (systemd's job ended \"%s\"); start it once "
                                            "fixed: systemctl start %s", u, why, u);
                else if (r != -ENOMEM)
                        r = not_restored(t, "%s did not start again (%s); start it once fixed: systemctl start %s", u,
                                         r == -ELIBACC ? "libsystemd.so.0 cannot be loaded" : strerror(-r), u);
                if (r < 0)
                        return txn_fail(t, NULL, VC_STEP_START_UNIT, u, r);
        }
        return 0;
}

/* "console = handoff", at claim: the consoles of the record let go of the framebuffer, then the
 * firmware framebuffers let go of the VGA's memory. */
static int hand_over_console(struct op *op) {
        struct vc_firmware_fb *fbs = NULL;
        size_t n = 0;
        int r;

        if (!op->next->console_handoff)
                return 0;
        if ((r = set_vtconsoles(&op->t, op->next->consoles, op->next->n_consoles, false)) < 0)
                return r;
        if ((r = vc_display_firmware_fbs(op->t.ctx, &fbs, &n)) < 0)
                return txn_fail(&op->t, NULL, VC_STEP_FIRMWARE_FB, NULL, r);
        for (size_t i = 0; i < n && r >= 0; i++)
                if ((r = txn_unbind_platform(&op->t, fbs[i].device, fbs[i].driver)) < 0)
                        r = txn_fail(&op->t, NULL, VC_STEP_FIRMWARE_FB, fbs[i].device, r);
        vc_firmware_fbs_free(fbs, n);
        return r < 0 ? r : 0;
}

/* At release, after the drivers: the consoles the claim unbound are bound again (a record from
 * before "consoles": every unbound one but the dummy, when the configuration hands over). */
static int take_back_console(struct op *op) {
        _cleanup_strv_free_ char **unbound = NULL;
        size_t n = 0;
        int r;

        if (op->found->console_handoff)
                return set_vtconsoles(&op->t, op->found->consoles, op->found->n_consoles, true);
        if (!plan_moves_handoff(&op->t, &op->o))
                return 0;
        if ((r = list_vtconsoles(&op->t, "0", &unbound, &n)) < 0 && r != -ENOMEM)
                r = not_restored(&op->t, "the VT consoles were not bound again: they cannot be listed (%s)",
                                 strerror(-r));
        if (r < 0)
                return txn_fail(&op->t, NULL, VC_STEP_VTCONSOLE, "vtconsole", r);
        return set_vtconsoles(&op->t, unbound, n, true);
}

/* The device at @a as the kernel has it now, in *ret: the group's reading while this operation
 * has changed nothing on the host (txn.drivers_may_have_moved), else read again: a probe may have
 * changed it (a driver that binds several functions), and so may a module's load, a unit's stop
 * or the console's handover. None of those writes a driver_override, and this operation writes
 * a member's only when it moves it, after this: the group's reading of it stands
 * (vc_pci_dev_read_again(), no round trip to the writer). *ret_read: the device read here, for
 * the caller to free, or NULL. */
static int op_device_now(struct op *op, const struct vc_pci_addr *a, struct vc_pci_dev **ret_read,
                         const struct vc_pci_dev **ret) {
        const struct vc_pci_dev *read = NULL;
        int r;

        *ret_read = NULL;
        for (size_t i = 0; i < vc_group_n_devices(op->g); i++)
                if (vc_pci_addr_equal(vc_pci_dev_addr(vc_group_device(op->g, i)), a))
                        read = vc_group_device(op->g, i);
        if (read && !op->t.drivers_may_have_moved) {
                *ret = read;
                return 0;
        }
        r = read ? vc_pci_dev_read_again(op->t.ctx, read, ret_read) : vc_pci_dev_read(op->t.ctx, a, ret_read);
        *ret = *ret_read;
        return r;
}

/* Record first: the "claiming" record with every original is on disk before the first sysfs
 * write. vfio-pci is loaded before it: a module that cannot load leaves everything untouched. */
static int claim_write_intent(struct op *op) {
        bool added = false;
        int r = ensure_driver(&op->t, VFIO_DRIVER, NULL);
        if (r < 0)
                return txn_fail(&op->t, NULL, VC_STEP_LOAD_MODULE, VFIO_DRIVER, r);
        if ((r = record_consoles(op)) < 0 || op->t.dry_run || (r = record_units(op)) < 0)
                return r;
        if ((r = record_reset_originals(&op->t, &op->o, op->next, false, &added)) < 0)
                return r;
        op->next->state = VC_RECORD_CLAIMING;
        op->keep_unfinished = true;
        return op_write_record(op);
}

/* Execute: the configured reset methods first (vfio-pci sees them from its probe on, and a method
 * the device lacks fails the claim with nothing moved), then every endpoint the plan moves. */
static int claim_execute(struct op *op) {
        struct txn *t = &op->t;
        int r;

        if ((r = apply_reset_methods(t, &op->o, op->g, false)) < 0)
                return r;
        if ((r = hand_over_console(op)) < 0)
                return r;
        for (size_t i = 0; i < t->plan->n_devices; i++) {
                const struct vc_pci_addr *a = &t->plan->devices[i].addr;
                if (!t->plan->devices[i].changes)
                        continue;
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *read = NULL;
                const struct vc_pci_dev *now;
                if ((r = op_device_now(op, a, &read, &now)) < 0 || (r = txn_touch(t, now)) < 0)
                        return txn_fail(t, a, VC_STEP_READ, NULL, r);
                r = move_device(t, a, vc_pci_dev_driver(now), vc_pci_dev_driver_override(now), VFIO_DRIVER,
                                NULL, VFIO_DRIVER);
                if (r < 0)
                        return r;
        }
        return keep_vfio_overrides(t);
}

/* Wait for /dev/vfio/@group, at most VERIFY_WAIT_MS. -ENODEV when it did not show. */
static int wait_vfio_node(struct vc_ctx *ctx, unsigned group) {
        if (vc_group_vfio_node_exists(ctx, group))
                return 0; /* devtmpfs makes it at once; a udev-managed /dev a bit later */
        for (uint64_t deadline = now_ms() + VERIFY_WAIT_MS; now_ms() < deadline;) {
                sleep_us(20000);
                if (vc_group_vfio_node_exists(ctx, group))
                        return 0;
        }
        return -ENODEV;
}

/* Verify: every endpoint was checked on its way (move_device()); the group's node must show. */
static int claim_verify(struct op *op) {
        int r = op->t.dry_run ? 0 : wait_vfio_node(op->t.ctx, op->group);
        return r < 0 ? txn_fail(&op->t, NULL, VC_STEP_VFIO_NODE, NULL, r) : 0;
}

int vc_group_claim(struct vc_ctx *ctx, unsigned group, const struct vc_claim_opts *opts,
                   struct vc_op_result *result) {
        _cleanup_(op_close) struct op op = { .lock_fd = -1 };
        int r;

        /* With units to stop, the holders are looked for once they are stopped (lib/bind.h). */
        bool stops = opts && opts->n_stop_units > 0;
        if ((r = op_open(&op, ctx, group, false, opts, result)) < 0 || (r = op_plan(&op)) < 0 ||
            (r = check_safety(&op.t, op.g, &op.o)) < 0 || (!stops && (r = check_holders(&op.t, op.g, &op.o)) < 0) ||
            (r = claim_prepare_record(&op)) < 0)
                return r;
        if (op.n_moves == 0)
                return claim_refresh(&op);
        if ((r = claim_write_intent(&op)) < 0 || (r = stop_units(&op.t, op.next)) < 0 ||
            (stops && !op.t.dry_run && (r = check_holders(&op.t, op.g, &op.o)) < 0) || (r = claim_execute(&op)) < 0 ||
            (r = claim_verify(&op)) < 0)
                return op_undo(&op);
        return claim_commit(&op);
}

/* Nothing to give back (no device left, or every one is where the record says): the record goes. */
static int release_forget(struct op *op) {
        int r;
        if (!op->t.dry_run && (r = vc_record_remove(op->t.ctx, op->group)) < 0)
                return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        return op_commit(op, true);
}

/* Record first: "releasing", with the originals, before the first write. */
static int release_write_intent(struct op *op) {
        int r = record_copy(op->found, &op->next);
        if (r < 0)
                return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r);
        op->next->state = VC_RECORD_RELEASING;
        op->keep_unfinished = true;
        return op->t.dry_run ? 0 : op_write_record(op);
}

/* Release with any_host_driver (--force), when the module of @rd's driver could not be loaded
 * (@load_error): off vfio-pci without an override, and the loaded drivers probed, as libvirt's
 * reattach does; no module is loaded for it, the one it needs just failed. Never left on vfio-pci
 * (an id given to it took it again): unbound instead. */
static int leave_vfio_for_any_driver(struct txn *t, const struct vc_record_device *rd, const struct vc_pci_dev *now,
                                     int load_error) {
        const char *module = rd->module ?: rd->driver;
        _cleanup_free_ char *bound = NULL;
        int r;

        if (load_error == -ENOMEM)
                return txn_fail(t, &rd->addr, VC_STEP_LOAD_MODULE, module, load_error);
        r = override_unbind_probe(t, &rd->addr, vc_pci_dev_driver_override(now) ? "\n" : NULL,
                                  VC_STEP_CLEAR_OVERRIDE, vc_pci_dev_driver(now));
        if (r < 0)
                return r;
        if (!t->dry_run && read_driver(t, &rd->addr, &bound) >= 0 && streq_ptr(bound, "vfio-pci") &&
            (r = write_unbind(t, &rd->addr, "vfio-pci")) < 0)
                return txn_fail(t, &rd->addr, VC_STEP_UNBIND, "vfio-pci", r);
        r = not_restored(t, "%s is not on its driver %s again: %s cannot be loaded (%s), so it went to whichever "
                            "loaded driver the kernel picks", VC_PCI_ADDR_TO_STRING(&rd->addr), rd->driver, module,
                         strerror(-load_error));
        return r < 0 ? txn_fail(t, &rd->addr, VC_STEP_LOAD_MODULE, module, r) : 0;
}

/* Give one device of the record back: reset it when configured and still on vfio, move it to its
 * original (or the kernel's pick), then put back the host's reset_method (the claim wrote its own
 * before the device moved to vfio-pci). */
static int release_device(struct op *op, const struct vc_record_device *rd) {
        struct txn *t = &op->t;
        _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *read = NULL;
        const struct vc_pci_dev *now;
        int r;

        if ((r = op_device_now(op, &rd->addr, &read, &now)) < 0)
                return txn_fail(t, &rd->addr, VC_STEP_READ, NULL, r);
        if (rd->host_probe ? host_driver_has_it(now)
                           : streq_ptr(vc_pci_dev_driver(now), rd->driver) &&
                                     streq_ptr(vc_pci_dev_driver_override(now), rd->override))
                return restore_reset_method(t, rd); /* on its host driver already */
        if ((r = txn_touch(t, now)) < 0)
                return txn_fail(t, &rd->addr, VC_STEP_READ, NULL, r);
        /* A failed reset fails the release; the device stays with vfio-pci. */
        if (vc_pci_dev_is_on_vfio(now) && (r = apply_reset(t, &op->o, &rd->addr, true, false)) < 0)
                return r;
        if (!rd->host_probe && rd->driver && op->o.any_host_driver &&
            (r = ensure_driver(t, rd->driver, rd->module)) < 0)
                r = leave_vfio_for_any_driver(t, rd, now, r);
        else if (rd->host_probe)
                r = give_to_kernel_choice(t, now);
        else
                r = move_device(t, &rd->addr, vc_pci_dev_driver(now), vc_pci_dev_driver_override(now), rd->driver,
                                rd->module, rd->override);
        return r < 0 ? r : restore_reset_method(t, rd);
}

static int release_execute(struct op *op) {
        for (size_t i = 0; i < vc_group_n_devices(op->g); i++) {
                const struct vc_pci_dev *d = vc_group_device(op->g, i);
                const struct vc_record_device *rd = vc_record_find_device(op->found, vc_pci_dev_addr(d));
                int r = vc_pci_dev_is_bridge(d) || !rd ? 0 : release_device(op, rd);
                if (r < 0)
                        return r;
        }
        /* The drivers are back: the VT consoles bind to the framebuffer again, then the units
         * the claim stopped start again. */
        int r = take_back_console(op);
        return r < 0 ? r : start_units(&op->t, op->found);
}

static int release_commit(struct op *op) {
        int r;
        if (op->t.dry_run)
                return 0;
        if ((r = vc_record_remove(op->t.ctx, op->group)) < 0)
                return txn_fail(&op->t, NULL, VC_STEP_WRITE_RECORD, NULL, r); /* released all the same */
        op->t.result->changed = true;
        /* best effort; a mark that was there before is not this give-back's, and its undo leaves it */
        for (size_t i = 0; op->found && i < op->found->n_devices; i++)
                if (op->found->devices[i].host_probe) {
                        op->t.released_mark = vc_boot_group_mark_released(op->t.ctx, op->group) > 0;
                        break;
                }
        return op_commit(op, true);
}

int vc_group_release(struct vc_ctx *ctx, unsigned group, const struct vc_claim_opts *opts,
                     struct vc_op_result *result) {
        _cleanup_(op_close) struct op op = { .lock_fd = -1 };
        int r;

        if ((r = op_open(&op, ctx, group, true, opts, result)) < 0)
                return r;
        if (!op.g)
                return release_forget(&op);
        if ((r = op_plan(&op)) < 0)
                return r;
        if (!op.found)
                return 0; /* not ours: nothing to give back */
        if (op.n_moves == 0)
                return release_forget(&op);
        if ((r = check_holders(&op.t, op.g, &op.o)) < 0)
                return r;
        if ((r = release_write_intent(&op)) < 0 || (r = release_execute(&op)) < 0)
                return op_undo(&op);
        return release_commit(&op);
}

/* An undo that could not put every device back (lib/bind.h): the record says the operation is
 * unfinished, as a failed rollback of the operation itself leaves it (op_undo()), so that status
 * and release see a group that is not whole. A claim of a group that had no record: the record
 * it wrote, "claiming"; a give-back: the record it removed, "releasing" (and the boot-released
 * mark it wrote stays, lib/boot.h). A claim of a group that had a record gets that record back
 * (vc_op_result_undo()). */
static int undo_keep_unfinished(struct vc_ctx *ctx, unsigned group, const struct vc_op_undo *u) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        int r = u->release ? record_copy(u->record_before, &rec) : vc_record_read(ctx, group, &rec);
        if (r < 0)
                return r;
        rec->state = u->release ? VC_RECORD_RELEASING : VC_RECORD_CLAIMING;
        return vc_record_write(ctx, rec);
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
        /* The record first, as for every move (docs/DESIGN.md): until the devices are back, it
         * says the operation is unfinished, so that a kill in the middle of the undo leaves a
         * group that status shows as not whole and release gives back from the originals, not
         * one a "claimed" record calls whole. The end of the undo writes the record as it was. */
        if (u->record_changed && t.n_touched > 0 && (r = undo_keep_unfinished(ctx, result->group, u)) < 0)
                log_debug_errno(r, "Cannot mark the record of group %u unfinished before its undo: %m", result->group);
        txn_rollback(&t);
        r = result->rollback_error;

        /* The record, as it was; when a device could not be put back, the record of a claim
         * stays, "claiming", so that "release" can finish (it lists the originals), and that of
         * a give-back comes back "releasing". */
        if (u->record_changed && r < 0 && (!u->record_before || u->release)) {
                int k = undo_keep_unfinished(ctx, result->group, u);
                if (k < 0)
                        log_debug_errno(k, "Cannot mark the record of group %u unfinished: %m", result->group);
        }
        if (u->record_changed && (r == 0 || (u->record_before && !u->release))) {
                int k = u->record_before ? vc_record_write(ctx, u->record_before)
                                         : vc_record_remove(ctx, result->group);
                if (k < 0) {
                        log_debug_errno(k, "Cannot restore the record of group %u: %m", result->group);
                        if (r == 0)
                                r = k;
                }
                /* A give-back taken back: the group is claimed again, with its record, and the
                 * boot-released mark the give-back wrote (lib/boot.h) goes with it, or the boot
                 * pass would leave to the host a group whose entries still want it claimed. */
                if (k >= 0 && u->released_mark && (k = vc_boot_group_unmark_released(ctx, result->group)) < 0) {
                        log_debug_errno(k, "Cannot remove the boot-released mark of group %u: %m", result->group);
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
