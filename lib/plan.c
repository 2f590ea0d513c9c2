/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "state.h"

#define VFIO_DRIVER "vfio-pci"

int vc_plan_new(unsigned group, bool release, struct vc_plan **ret) {
        struct vc_plan *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->group = group;
        p->release = release;
        *ret = p;
        return 0;
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

static int dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

static int plan_add(struct vc_plan *p, const struct vc_pci_addr *a, const char *driver, const char *target,
                    enum vc_plan_action action, bool changes, const char *description) {
        struct vc_plan_device *v = realloc(p->devices, (p->n_devices + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        p->devices = v;
        struct vc_plan_device *d = &v[p->n_devices];
        *d = (struct vc_plan_device){ .addr = *a, .action = action, .changes = changes };
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
                         const char *override, const char *target, const char *target_override,
                         bool changes) {
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
        return plan_add(p, a, driver, target, action, changes, desc);
}

/* An endpoint on a vfio driver whose driver_override names another driver goes to that driver at
 * its next probe; one whose driver_override is empty, to whatever driver the kernel picks then.
 * The claim sets it to the vfio driver: always in the first case (and then keeps a record, which
 * gives the override back at release), in the second where it keeps a record anyway (@sticky;
 * lib/bind.c, claim_refresh()). */
static bool override_needs_fix(const struct vc_plan_member *m, bool sticky) {
        return !m->bridge && m->on_vfio && !streq_ptr(m->override, m->driver) && (m->override || sticky);
}

bool vc_plan_fixes_overrides(const struct vc_plan *p) {
        for (size_t i = 0; p && i < p->n_devices; i++)
                if (p->devices[i].fix_override)
                        return true;
        return false;
}

int vc_plan_claim(struct vc_plan *p, const struct vc_plan_member *m, size_t n, bool recorded) {
        size_t n_endpoints = 0, n_moves = 0;
        bool sticky = recorded;
        int r;

        for (size_t i = 0; i < n; i++)
                sticky = sticky || (!m[i].bridge && !m[i].on_vfio);
        for (size_t i = 0; i < n; i++) {
                const char *drv = m[i].driver;
                if (m[i].bridge)
                        r = plan_add(p, &m[i].addr, drv, drv, VC_PLAN_LEAVE_BRIDGE, false, "bridge: left alone");
                else if (m[i].on_vfio) {
                        _cleanup_free_ char *desc = NULL;
                        bool fix = override_needs_fix(&m[i], sticky);
                        n_endpoints++;
                        r = (!fix            ? asprintf(&desc, "already on %s", drv)
                             : m[i].override ? asprintf(&desc, "on %s, its driver_override %s set back to %s", drv,
                                                        m[i].override, drv)
                                             : asprintf(&desc, "on %s, its empty driver_override set to %s", drv,
                                                        drv)) < 0
                                ? -ENOMEM
                                : plan_add(p, &m[i].addr, drv, drv, VC_PLAN_LEAVE, false, desc);
                        if (r >= 0)
                                p->devices[p->n_devices - 1].fix_override = fix;
                } else {
                        n_endpoints++;
                        n_moves++;
                        r = plan_describe(p, &m[i].addr, drv, m[i].override, VFIO_DRIVER, VFIO_DRIVER, true);
                }
                if (r < 0)
                        return r;
        }
        return n_endpoints == 0 ? -ENODEV : (int) n_moves;
}

/* Claimed at boot and bound now to a host driver: bound, not to vfio, no override left. */
static bool host_driver_has_it(const struct vc_plan_member *m) {
        return m->driver && !m->on_vfio && !m->override;
}

static int plan_release_one(struct vc_plan *p, const struct vc_plan_member *m, const struct vc_record_device *rd) {
        bool reset_differs = rd->reset_method && m->reset_method && !streq(m->reset_method, rd->reset_method);

        if (rd->host_probe) {
                bool todo = !host_driver_has_it(m);
                return plan_add(p, &m->addr, m->driver, NULL,
                                !todo ? VC_PLAN_LEAVE : m->driver ? VC_PLAN_UNBIND : VC_PLAN_BIND,
                                todo || reset_differs,
                                !todo ? "claimed at boot, already on a host driver"
                                : m->driver ? "claimed at boot: unbind, let the kernel pick its host driver"
                                            : "claimed at boot: let the kernel pick its host driver");
        }
        bool todo = !streq_ptr(m->driver, rd->driver) || !streq_ptr(m->override, rd->override);
        return plan_describe(p, &m->addr, m->driver, m->override, rd->driver, rd->override, todo || reset_differs);
}

int vc_plan_release(struct vc_plan *p, const struct vc_plan_member *m, size_t n, const struct vc_record *rec) {
        size_t n_moves = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                const struct vc_record_device *rd = rec ? vc_record_find_device(rec, &m[i].addr) : NULL;
                if (m[i].bridge)
                        r = plan_add(p, &m[i].addr, m[i].driver, m[i].driver, VC_PLAN_LEAVE_BRIDGE, false,
                                     "bridge: left alone");
                else if (!rd)
                        r = plan_add(p, &m[i].addr, m[i].driver, m[i].driver, VC_PLAN_LEAVE, false,
                                     "not claimed: left alone");
                else
                        r = plan_release_one(p, &m[i], rd);
                if (r < 0)
                        return r;
                n_moves += p->devices[p->n_devices - 1].changes;
        }
        return (int) n_moves;
}
