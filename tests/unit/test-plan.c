/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner of lib/plan.h, without a kernel: a group as the engine would read it and a record
 * go in, one entry per member comes out. Each case is one row. */

#include "plan.h"
#include "state.h"
#include "tests.h"

struct member_row {
        const char *addr;
        bool bridge, on_vfio;
        const char *driver, *override, *reset_method;
};

struct want_row {
        enum vc_plan_action action;
        bool changes;
        const char *target;
        const char *description;
};

struct plan_case {
        const char *name;
        bool release;
        const char *record; /* NULL: none */
        bool owner;         /* claim: a VM takes ownership (the claim writes a record) */
        struct member_row members[4];
        size_t n;
        int ret; /* moves, or a negative errno */
        struct want_row want[4];
};

static const struct plan_case cases[] = {
        { .name = "claim: unclaimed group, a bridge, a GPU and its audio function",
          .members = { { "0000:00:01.0", .bridge = true, .driver = "pcieport" },
                       { "0000:01:00.0", .driver = "nouveau" },
                       { "0000:01:00.1" } },
          .n = 3, .ret = 2,
          .want = { { VC_PLAN_LEAVE_BRIDGE, false, "pcieport", "bridge: left alone" },
                    { VC_PLAN_REBIND, true, "vfio-pci", "unbind from nouveau, bind to vfio-pci" },
                    { VC_PLAN_BIND, true, "vfio-pci", "bind to vfio-pci" } } },
        { .name = "claim: already claimed, one override stray from a killed give-back",
          .record = "group 1\nsince 1\nstate claimed\ndevice 0000:01:00.0 driver=nouveau module=nouveau override=none\n",
          .members = { { "0000:01:00.0", .on_vfio = true, .driver = "vfio-pci", .override = "vfio-pci" },
                       { "0000:01:00.1", .on_vfio = true, .driver = "vfio-pci", .override = "snd_hda_intel" } },
          .n = 2, .ret = 0,
          .want = { { VC_PLAN_LEAVE, false, "vfio-pci", "already on vfio-pci" },
                    { VC_PLAN_LEAVE, false, "vfio-pci",
                      "on vfio-pci, its driver_override snd_hda_intel set back to vfio-pci" } } },
        { .name = "claim: a record, an endpoint on vfio-pci with no driver_override (a killed give-back of a boot claim)",
          .record = "group 1\nsince 1\nstate releasing\ndevice 0000:01:00.0 driver=none module=none override=none host=probe\n"
                    "device 0000:01:00.1 driver=none module=none override=none host=probe\n",
          .members = { { "0000:01:00.0", .on_vfio = true, .driver = "vfio-pci" },
                       { "0000:01:00.1", .on_vfio = true, .driver = "vfio-pci", .override = "vfio-pci" } },
          .n = 2, .ret = 0,
          .want = { { VC_PLAN_LEAVE, false, "vfio-pci", "on vfio-pci, its empty driver_override set to vfio-pci" },
                    { VC_PLAN_LEAVE, false, "vfio-pci", "already on vfio-pci" } } },
        { .name = "claim: another tool's group on vfio-pci, no record, no VM: nothing written",
          .members = { { "0000:01:00.0", .on_vfio = true, .driver = "vfio-pci" } },
          .n = 1, .ret = 0,
          .want = { { VC_PLAN_LEAVE, false, "vfio-pci", "already on vfio-pci" } } },
        { .name = "claim: another tool's group on vfio-pci, a VM takes it: the override set",
          .owner = true,
          .members = { { "0000:01:00.0", .on_vfio = true, .driver = "vfio-pci" } },
          .n = 1, .ret = 0,
          .want = { { VC_PLAN_LEAVE, false, "vfio-pci", "on vfio-pci, its empty driver_override set to vfio-pci" } } },
        { .name = "claim: one endpoint moves, the other on vfio-pci without an override gets one",
          .members = { { "0000:01:00.0", .driver = "nouveau" },
                       { "0000:01:00.1", .on_vfio = true, .driver = "vfio-pci" } },
          .n = 2, .ret = 1,
          .want = { { VC_PLAN_REBIND, true, "vfio-pci", "unbind from nouveau, bind to vfio-pci" },
                    { VC_PLAN_LEAVE, false, "vfio-pci", "on vfio-pci, its empty driver_override set to vfio-pci" } } },
        { .name = "claim: partially claimed after a kill (record says claiming)",
          .record = "group 1\nsince 1\nstate claiming\ndevice 0000:01:00.0 driver=nouveau module=nouveau override=none\n"
                    "device 0000:01:00.1 driver=snd_hda_intel module=snd_hda_intel override=none\n",
          .members = { { "0000:01:00.0", .on_vfio = true, .driver = "vfio-pci", .override = "vfio-pci" },
                       { "0000:01:00.1", .override = "vfio-pci" } },
          .n = 2, .ret = 1,
          .want = { { VC_PLAN_LEAVE, false, "vfio-pci", "already on vfio-pci" },
                    { VC_PLAN_BIND, true, "vfio-pci", "bind to vfio-pci" } } },
        { .name = "claim: bridges only",
          .members = { { "0000:00:01.0", .bridge = true, .driver = "pcieport" } },
          .n = 1, .ret = -ENODEV },
        { .name = "release: no record, nothing moves",
          .release = true,
          .members = { { "0000:01:00.0", .on_vfio = true, .driver = "vfio-pci" } },
          .n = 1, .ret = 0,
          .want = { { VC_PLAN_LEAVE, false, "vfio-pci", "not claimed: left alone" } } },
        { .name = "release: claimed group back to its drivers",
          .release = true,
          .record = "group 1\nsince 1\nstate claimed\ndevice 0000:01:00.0 driver=nouveau module=nouveau override=none\n"
                    "device 0000:01:00.1 driver=none module=none override=none\n",
          .members = { { "0000:00:01.0", .bridge = true, .driver = "pcieport" },
                       { "0000:01:00.0", .on_vfio = true, .driver = "vfio-pci", .override = "vfio-pci" },
                       { "0000:01:00.1", .on_vfio = true, .driver = "vfio-pci", .override = "vfio-pci" } },
          .n = 3, .ret = 2,
          .want = { { VC_PLAN_LEAVE_BRIDGE, false, "pcieport", "bridge: left alone" },
                    { VC_PLAN_REBIND, true, "nouveau", "unbind from vfio-pci, bind to nouveau" },
                    { VC_PLAN_UNBIND, true, NULL, "unbind from vfio-pci, leave unbound" } } },
        { .name = "release: only the reset_method differs",
          .release = true,
          .record = "group 1\nsince 1\nstate claimed\n"
                    "device 0000:03:00.0 driver=e1000e module=e1000e override=none reset_method=flr,bus\n",
          .members = { { "0000:03:00.0", .driver = "e1000e", .reset_method = "bus" } },
          .n = 1, .ret = 1,
          .want = { { VC_PLAN_LEAVE, true, "e1000e", "already on e1000e" } } },
        { .name = "release: reset_method as recorded, driver home: nothing moves",
          .release = true,
          .record = "group 1\nsince 1\nstate claimed\n"
                    "device 0000:03:00.0 driver=e1000e module=e1000e override=none reset_method=flr,bus\n",
          .members = { { "0000:03:00.0", .driver = "e1000e", .reset_method = "flr bus" } },
          .n = 1, .ret = 0,
          .want = { { VC_PLAN_LEAVE, false, "e1000e", "already on e1000e" } } },
        { .name = "release: host=probe, one on vfio-pci, one on its host driver already",
          .release = true,
          .record = "group 1\nsince 1\nstate claimed\ndevice 0000:02:00.0 driver=none module=none override=none host=probe\n"
                    "device 0000:02:00.1 driver=none module=none override=none host=probe\n",
          .members = { { "0000:02:00.0", .on_vfio = true, .driver = "vfio-pci", .override = "vfio-pci" },
                       { "0000:02:00.1", .driver = "xhci_hcd" } },
          .n = 2, .ret = 1,
          .want = { { VC_PLAN_UNBIND, true, NULL, "claimed at boot: unbind, let the kernel pick its host driver" },
                    { VC_PLAN_LEAVE, false, NULL, "claimed at boot, already on a host driver" } } },
        { .name = "release: override left by a killed claim",
          .release = true,
          .record = "group 1\nsince 1\nstate claiming\ndevice 0000:01:00.0 driver=nouveau module=nouveau override=none\n",
          .members = { { "0000:01:00.0", .driver = "nouveau", .override = "vfio-pci" } },
          .n = 1, .ret = 1,
          .want = { { VC_PLAN_LEAVE, true, "nouveau", "stays on nouveau, clear driver_override" } } },
};

static void run_case(const struct plan_case *c) {
        _cleanup_(vc_plan_freep) struct vc_plan *p = NULL;
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        struct vc_plan_member m[4];

        fprintf(stderr, "  case: %s\n", c->name);
        for (size_t i = 0; i < c->n; i++) {
                const struct member_row *row = &c->members[i];
                m[i] = (struct vc_plan_member){ .bridge = row->bridge, .on_vfio = row->on_vfio, .driver = row->driver,
                                                .override = row->override, .reset_method = row->reset_method };
                ASSERT_OK(vc_pci_addr_parse(row->addr, &m[i].addr));
        }
        if (c->record)
                ASSERT_OK(vc_record_parse(c->record, 1, &rec));
        ASSERT_OK(vc_plan_new(1, c->release, &p));
        int r = c->release ? vc_plan_release(p, m, c->n, rec) : vc_plan_claim(p, m, c->n, c->record || c->owner);
        ASSERT_EQ(r, c->ret);
        if (r < 0)
                return;
        ASSERT_EQ(p->n_devices, c->n);
        for (size_t i = 0; i < c->n; i++) {
                const struct vc_plan_device *d = &p->devices[i];
                ASSERT_TRUE(vc_pci_addr_equal(&d->addr, &m[i].addr));
                ASSERT_EQ(d->action, c->want[i].action);
                ASSERT_EQ(d->changes, c->want[i].changes);
                ASSERT_TRUE(streq_ptr(d->target, c->want[i].target));
                ASSERT_STREQ(d->description, c->want[i].description);
        }
        ASSERT_EQ(p->n_writes, 0u); /* planning writes nothing */
}

TEST(plan_table) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                run_case(&cases[i]);
                if (test_failed)
                        return;
        }
}

int main(int argc, char **argv) { return tests_run(); }
