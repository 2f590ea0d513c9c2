/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The plan of a claim or a release: what the engine (lib/bind.h) does to each member of a
 * group. Planning is pure: it reads nothing and writes nothing, it maps a snapshot of the
 * group's members (as lib/bind.c read them) and the group's record (lib/state.h) to one entry
 * per member. The engine then executes the entries that change something; docs/DESIGN.md
 * ("The transaction and its invariants") places it between the checks and the first write. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "pci.h"

struct vc_record;

/* What the operation does to one member of the group. */
enum vc_plan_action {
        VC_PLAN_LEAVE_BRIDGE, /* "bridge: left alone" */
        VC_PLAN_LEAVE,        /* "already on X" / "already unbound" / "not claimed: left alone" */
        VC_PLAN_BIND,         /* "bind to X" (currently unbound) */
        VC_PLAN_REBIND,       /* "unbind from Y, bind to X" */
        VC_PLAN_UNBIND,       /* "unbind from Y, leave unbound" */
        _VC_PLAN_ACTION_MAX,
};

struct vc_plan_device {
        struct vc_pci_addr addr;
        char *driver; /* current driver, NULL: unbound */
        char *target; /* driver it will have, NULL: none */
        enum vc_plan_action action;
        bool changes; /* the move writes to it: its driver, its driver_override, or (release) its
                       * reset_method differs from what it should end with. A claim's fix-up of a
                       * stray driver_override on a vfio driver is not a move (lib/bind.c) */
        bool fix_override; /* claim: on a vfio driver, its driver_override set to that driver
                            * (it named another driver, or none where the claim keeps a record) */
        char *description; /* "unbind from nouveau, bind to vfio-pci" */
};

struct vc_plan_write {
        char *path;  /* as seen inside the root, with a leading slash: sys/bus/pci/devices/ADDR/driver_override */
        char *value; /* written as is: "vfio-pci", "0000:01:00.0", "\n" */
};

struct vc_plan {
        unsigned group;
        bool release;
        struct vc_plan_device *devices; /* every member of the group, address order */
        size_t n_devices;
        char **modules; /* modules that would be loaded, NULL-terminated (may be NULL) */
        size_t n_modules;
        struct vc_plan_write *writes; /* in order: the writes the operation made (or, in a dry run,
                                       * would make), up to and including a failed one; writes of
                                       * a rollback are not listed */
        size_t n_writes;
};
/* An empty plan for @group. -ENOMEM. */
int vc_plan_new(unsigned group, bool release, struct vc_plan **ret);
struct vc_plan *vc_plan_free(struct vc_plan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_plan *, vc_plan_free);

/* One member of a group as the engine found it. The strings are borrowed. */
struct vc_plan_member {
        struct vc_pci_addr addr;
        bool bridge;
        bool on_vfio;             /* bound to vfio-pci or a vfio variant driver */
        const char *driver;       /* NULL: unbound */
        const char *override;     /* driver_override, NULL: none */
        const char *reset_method; /* release: reset_method now, read only for a device whose record
                                   * lists one; NULL: not read */
};

/* Append to @p (empty, p->release false) one entry per member of @m: a bridge is left alone, an
 * endpoint on a vfio driver stays, every other endpoint moves to vfio-pci. A stayer's
 * driver_override is set to its vfio driver (->fix_override) when it names another driver, and
 * also when it names none and the claim leaves a record: @recorded (the group has a record, or a
 * VM takes ownership) or some endpoint moves. A claimed group whose endpoint has no override
 * would leave vfio at the device's next probe. Returns the number of moves (entries with
 * ->changes), -ENODEV when the group has no endpoint, -ENOMEM. */
int vc_plan_claim(struct vc_plan *p, const struct vc_plan_member *m, size_t n, bool recorded);

/* Does the plan set a vfio endpoint's driver_override back (->fix_override of a member)? */
bool vc_plan_fixes_overrides(const struct vc_plan *p);

/* Append to @p (empty, p->release true) one entry per member of @m, as the record @rec (NULL:
 * none, then nothing moves) says: a device it lists goes back to its original driver and
 * driver_override, one claimed at boot (host=probe) to the kernel's pick unless a host driver
 * has it already; bridges and devices it does not list are left alone. A listed endpoint whose
 * reset_method differs from the recorded one counts as a move. Returns the number of moves,
 * -ENOMEM. */
int vc_plan_release(struct vc_plan *p, const struct vc_plan_member *m, size_t n, const struct vc_record *rec);
