/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bind.h"
#include "critical.h"
#include "iommu.h"
#include "modules.h"
#include "pci.h"
#include "root.h"
#include "state.h"
#include "stuck.h"
#include "sysfs.h"
#include "tests.h"
#include "fake.h"

/* Each case runs in a child of this program on a fresh fake-kernel tree: the parent makes the
 * tree and spawns "--cell NAME ROOT" with the shim preloaded; the cell asserts in the child. */

typedef void (*cell_fn)(const char *root);
struct cell {
        const char *name, *fixture;
        cell_fn fn;
};
static struct cell cells[64];
static size_t n_cells;

static void run_cell(const char *name, const char *fixture) {
        _cleanup_tree_ char *root = fake_tree(fixture);
        char *args[] = { (char *) "test-bind", (char *) "--cell", (char *) name, root, NULL };
        if (!root)
                FAIL_AT("cannot make the tree");
        int r = fake_spawn(root, args);
        if (r != 0) {
                fprintf(stderr, "  cell %s failed (exit %d); tree kept in %s\n", name, r, root);
                free(TAKE_PTR(root));
                FAIL_AT("cell failed");
        }
}

#define CELL(name, fixture)                                                            \
        static void cell_##name(const char *root);                                     \
        TEST(name) { run_cell(#name, fixture); }                                       \
        __attribute__((constructor)) static void register_cell_##name(void) {          \
                cells[n_cells++] = (struct cell){ #name, fixture, cell_##name };       \
        }                                                                              \
        static void cell_##name(const char *root)

static struct vc_pci_addr A(const char *s) {
        struct vc_pci_addr a = { 0 };
        if (vc_pci_addr_parse(s, &a) < 0)
                abort();
        return a;
}

/* The same as a pointer, for calls that take one (static storage: one at a time). */
static const struct vc_pci_addr *AP(const char *s) {
        static struct vc_pci_addr a;
        a = A(s);
        return &a;
}

static char *dev_driver(const char *root, const char *addr) {
        char p[PATH_MAX];
        char *name = NULL;
        snprintf(p, sizeof p, "%s/sys/bus/pci/devices/%s/driver", root, addr);
        if (vc_sysfs_read_link_name(p, &name) < 0)
                return strdup("none");
        return name;
}

static char *dev_override(const char *root, const char *addr) {
        char p[PATH_MAX];
        char *s = NULL;
        snprintf(p, sizeof p, "%s/sys/bus/pci/devices/%s/driver_override", root, addr);
        if (vc_sysfs_read(p, &s) < 0)
                return strdup("?");
        return s;
}

#define ASSERT_DRIVER(root, addr, want)                                                \
        do {                                                                           \
                _cleanup_free_ char *_d = dev_driver(root, addr);                      \
                ASSERT_STREQ(_d, want);                                                \
        } while (0)
#define ASSERT_OVERRIDE(root, addr, want)                                              \
        do {                                                                           \
                _cleanup_free_ char *_o = dev_override(root, addr);                    \
                ASSERT_STREQ(_o, want);                                                \
        } while (0)

/* The timeout of an operation with a write that will hang: the writes before it must finish
 * within it, which a fork and one write do many times over even on a loaded builder. */
#define STUCK_TIMEOUT_MS 5000

static struct vc_ctx *new_ctx(const char *root) {
        (void) root; /* the shim opens the tree for "/" (tests/unit/fake.h) */
        struct vc_ctx *ctx = fake_ctx();
        /* Generous: a write killed because a loaded builder was slow would fail the cell (and could
         * tear the fake kernel's files); the cells that make a write hang set their own. */
        vc_ctx_set_unbind_timeout_ms(ctx, 120000);
        return ctx;
}

static bool vfio_node(const char *root, unsigned group) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/dev/vfio/%u", root, group);
        return access(p, F_OK) == 0;
}

/* The number of distinct processes that made the fake kernel's writes in ROOT. */
static size_t writer_processes(const char *root) {
        _cleanup_free_ char *s = tree_read(root, ".fakekernel/writers.log");
        long seen[64];
        size_t n = 0;
        for (char *save = NULL, *l = s ? strtok_r(s, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
                long pid = strtol(l, NULL, 10);
                bool known = false;
                for (size_t i = 0; i < n && !known; i++)
                        known = seen[i] == pid;
                if (!known && n < ELEMENTSOF(seen))
                        seen[n++] = pid;
        }
        return n;
}

/* The writes of one operation are made by one writer process, not a fork each (issue 15: the
 * forks and their page faults were most of a claim's own CPU); each still has its deadline. */
CELL(one_writer_process_per_operation, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        ASSERT_DRIVER(root, "0000:01:00.0", "vfio-pci");
        ASSERT_DRIVER(root, "0000:01:00.1", "vfio-pci");
        ASSERT_EQ(fake_counter(root), 6);
        ASSERT_EQ(writer_processes(root), 1);
        vc_op_result_done(&res);
}

/* GPU + audio behind a root port, group 1; vfio-pci not loaded yet. */
CELL(round_trip_gpu_audio, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;

        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .owner = "win11" }, &res));
        ASSERT_TRUE(res.changed);
        ASSERT_DRIVER(root, "0000:01:00.0", "vfio-pci");
        ASSERT_DRIVER(root, "0000:01:00.1", "vfio-pci");
        ASSERT_OVERRIDE(root, "0000:01:00.0", "vfio-pci");
        ASSERT_OVERRIDE(root, "0000:01:00.1", "vfio-pci");
        ASSERT_DRIVER(root, "0000:00:01.0", "pcieport"); /* the bridge is left alone */
        ASSERT_OVERRIDE(root, "0000:00:01.0", "(null)");
        ASSERT_TRUE(vfio_node(root, 1));
        ASSERT_EQ(fake_counter(root), 6);

        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_CLAIMED);
        ASSERT_STREQ(rec->owner, "win11");
        ASSERT_EQ(rec->n_devices, 2);
        ASSERT_STREQ(rec->devices[0].driver, "nouveau");
        ASSERT_STREQ(rec->devices[1].driver, "snd_hda_intel");

        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        ASSERT_TRUE(res.changed);
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        ASSERT_OVERRIDE(root, "0000:01:00.0", "(null)");
        ASSERT_OVERRIDE(root, "0000:01:00.1", "(null)");
        ASSERT_FALSE(vfio_node(root, 1));
        ASSERT_EQ(fake_counter(root), 6 + 8);
        vc_record_free(TAKE_PTR(rec));
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);

        /* Nothing left to release. */
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        ASSERT_FALSE(res.changed);
        ASSERT_EQ(fake_counter(root), 14);
        vc_op_result_done(&res);
}

CELL(already_claimed_is_a_noop, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        long writes = fake_counter(root);
        _cleanup_free_ char *before = fake_snapshot(root);

        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        ASSERT_FALSE(res.changed);
        ASSERT_EQ(res.plan->n_writes, 0);
        ASSERT_EQ(fake_counter(root), writes);
        _cleanup_free_ char *after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        ASSERT_EQ(res.plan->n_devices, 3);
        ASSERT_STREQ(res.plan->devices[0].description, "bridge: left alone");
        ASSERT_STREQ(res.plan->devices[1].description, "already on vfio-pci");
        vc_op_result_done(&res);
}

CELL(dry_run_makes_no_write, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        _cleanup_free_ char *before = fake_snapshot(root);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;

        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .dry_run = true }, &res));
        ASSERT_FALSE(res.changed);
        _cleanup_free_ char *after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        ASSERT_EQ(fake_counter(root), 0);
        _cleanup_free_ char *log = tree_read(root, ".fakekernel/writes.log");
        ASSERT_TRUE(!log || !*log); /* not even a module load */
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);

        struct vc_plan *p = res.plan;
        ASSERT_EQ(p->n_devices, 3);
        ASSERT_STREQ(p->devices[0].description, "bridge: left alone");
        ASSERT_STREQ(p->devices[1].description, "unbind from nouveau, bind to vfio-pci");
        ASSERT_STREQ(p->devices[2].description, "unbind from snd_hda_intel, bind to vfio-pci");
        ASSERT_EQ(p->n_modules, 1);
        ASSERT_STREQ(p->modules[0], "vfio_pci");
        static const char *const want[][2] = {
                { "/sys/bus/pci/devices/0000:01:00.0/driver_override", "vfio-pci" },
                { "/sys/bus/pci/drivers/nouveau/unbind", "0000:01:00.0" },
                { "/sys/bus/pci/drivers_probe", "0000:01:00.0" },
                { "/sys/bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci" },
                { "/sys/bus/pci/drivers/snd_hda_intel/unbind", "0000:01:00.1" },
                { "/sys/bus/pci/drivers_probe", "0000:01:00.1" },
        };
        ASSERT_EQ(p->n_writes, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                ASSERT_STREQ(p->writes[i].path, want[i][0]);
                ASSERT_STREQ(p->writes[i].value, want[i][1]);
        }

        /* The real claim makes exactly the writes the plan listed. */
        struct vc_op_result real = { 0 };
        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &real));
        ASSERT_EQ(real.plan->n_writes, ELEMENTSOF(want));
        ASSERT_EQ(fake_counter(root), (long) ELEMENTSOF(want));

        /* Dry-run release lists the way back. */
        ASSERT_OK(vc_group_release(ctx, 1, &(struct vc_claim_opts){ .dry_run = true }, &res));
        ASSERT_EQ(fake_counter(root), (long) ELEMENTSOF(want));
        ASSERT_STREQ(res.plan->devices[1].description, "unbind from vfio-pci, bind to nouveau");
        ASSERT_EQ(res.plan->n_writes, 8);
        ASSERT_STREQ(res.plan->writes[0].value, "nouveau");
        ASSERT_STREQ(res.plan->writes[3].path, "/sys/bus/pci/devices/0000:01:00.0/driver_override");
        ASSERT_STREQ(res.plan->writes[3].value, "\n");
        vc_op_result_done(&res);
        vc_op_result_done(&real);
}

CELL(failure_names_device_step_errno, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        _cleanup_free_ char *before = fake_snapshot(root);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;

        fake_inject(root, "glob:sys/bus/pci/drivers/snd_hda_intel/unbind EBUSY\n");
        ASSERT_ERRNO(vc_group_claim(ctx, 1, NULL, &res), EBUSY);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        ASSERT_STREQ(msg, "0000:01:00.1: failed to unbind from snd_hda_intel: Device or resource busy");
        /* The plan lists the writes made and the one that failed: not the probe after it. */
        ASSERT_TRUE(res.plan->n_writes > 0);
        ASSERT_TRUE(strstr(res.plan->writes[res.plan->n_writes - 1].path, "drivers/snd_hda_intel/unbind") != NULL);
        ASSERT_EQ(res.rollback_error, 0);
        ASSERT_FALSE(res.changed);
        _cleanup_free_ char *after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);
        vc_op_result_done(&res);
}

CELL(module_load_failure_writes_nothing, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };

        fake_inject(root, "modprobe:vfio_pci ENOENT\n");
        ASSERT_ERRNO(vc_group_claim(ctx, 1, NULL, &res), ENOENT);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        ASSERT_STREQ(msg, "group 1: failed to load module vfio-pci: No such file or directory");
        ASSERT_EQ(fake_counter(root), 0);
        vc_op_result_done(&res);
}

CELL(identity_guard, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        struct vc_claim_guard g = { .addr = A("0000:01:00.0") };

        ASSERT_OK(vc_pci_id_parse("10de:2206", &g.id));
        ASSERT_ERRNO(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .guards = &g, .n_guards = 1 }, &res),
                     ESTALE);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        ASSERT_STREQ(msg, "0000:01:00.0: hardware changed (expected 10de:2206)");
        ASSERT_EQ(fake_counter(root), 0);

        ASSERT_OK(vc_pci_id_parse("10de:2204:1458:403b", &g.id));
        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .guards = &g, .n_guards = 1 }, &res));
        vc_op_result_done(&res);
}

CELL(protect_refuses_critical, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };

        /* Pretend the default route goes through the GPU's function 0. */
        tree_file(root, "proc/net/route",
                  "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
                  "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        tree_link(root, "sys/class/net/eth0/device", "../../../bus/pci/devices/0000:01:00.1");
        ASSERT_ERRNO(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .protect = true }, &res), EPERM);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        ASSERT_STREQ(msg, "0000:01:00.1: refused: NIC of the default route (eth0)");
        ASSERT_EQ(fake_counter(root), 0);
        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res)); /* --force */
        /* Claimed, the group is no host device any more: asking again with protect is a no-op. */
        long writes = fake_counter(root);
        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .protect = true }, &res));
        ASSERT_FALSE(res.changed);
        ASSERT_EQ(fake_counter(root), writes);
        vc_op_result_done(&res);
}

CELL(group_read_by_the_caller_under_its_lock, "gpu-audio") {
        /* A caller that holds the lock and read the group after taking it (the hook's prepare)
         * hands that read to the claim (opts.group) instead of a second one; a read of another
         * group is not used for this one. */
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        _cleanup_close_ int fd = -1;
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_state_lock(ctx, 0, &fd));
        ASSERT_OK(vc_group_read(ctx, 1, &g, NULL));
        ASSERT_OK(vc_group_claim(ctx, 4, &(struct vc_claim_opts){ .lock_held = true, .group = g }, &res));
        ASSERT_TRUE(res.changed);
        ASSERT_EQ(res.plan->n_devices, 1);
        ASSERT_DRIVER(root, "0000:02:00.0", "vfio-pci");
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_EQ(fake_counter(root), 3);
        vc_op_result_done(&res);
        res = (struct vc_op_result){ 0 };
        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .lock_held = true, .group = g }, &res));
        ASSERT_EQ(res.plan->n_devices, 3);
        ASSERT_DRIVER(root, "0000:01:00.0", "vfio-pci");
        ASSERT_DRIVER(root, "0000:01:00.1", "vfio-pci");
        ASSERT_DRIVER(root, "0000:00:01.0", "pcieport");
        ASSERT_TRUE(vfio_node(root, 1));
        ASSERT_EQ(fake_counter(root), 3 + 6);
        vc_op_result_done(&res);
}

CELL(group_read_by_the_caller_for_release, "gpu-audio") {
        /* The hook's release reads each group under the lock for its policy and hands that read
         * to the release (opts.group): a read of another group is not used for this one, and the
         * group's own read gives it back as a read of its own would. */
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_group_freep) struct vc_group *other = NULL;
        _cleanup_close_ int fd = -1;
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 4, NULL, &res));
        vc_op_result_done(&res);
        res = (struct vc_op_result){ 0 };
        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        vc_op_result_done(&res);
        res = (struct vc_op_result){ 0 };
        ASSERT_OK(vc_state_lock(ctx, 0, &fd));
        ASSERT_OK(vc_group_read(ctx, 4, &other, NULL));
        ASSERT_OK(vc_group_release(ctx, 1, &(struct vc_claim_opts){ .lock_held = true, .group = other }, &res));
        ASSERT_TRUE(res.changed);
        ASSERT_EQ(res.plan->n_devices, 3);
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        ASSERT_DRIVER(root, "0000:02:00.0", "vfio-pci");
        ASSERT_FALSE(vfio_node(root, 1));
        vc_op_result_done(&res);
        res = (struct vc_op_result){ 0 };
        ASSERT_OK(vc_group_release(ctx, 4, &(struct vc_claim_opts){ .lock_held = true, .group = other }, &res));
        ASSERT_TRUE(res.changed);
        ASSERT_EQ(res.plan->n_devices, 1);
        ASSERT_DRIVER(root, "0000:02:00.0", "nvme");
        ASSERT_FALSE(vfio_node(root, 4));
        vc_op_result_done(&res);
}

CELL(protect_scan_kept_for_the_operation, "gpu-audio") {
        /* An operation of several claims under one hold of the lock (the hook's groups of a
         * domain, enable of several groups) scans the host-critical devices once: the first
         * claim that needs the scan keeps it where opts.critical points, the next ones use it. */
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *crit = NULL;
        struct vc_op_result res = { 0 };

        tree_file(root, "proc/net/route",
                  "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
                  "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        tree_link(root, "sys/class/net/eth0/device", "../../../bus/pci/devices/0000:01:00.1");
        ASSERT_ERRNO(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .protect = true, .critical = &crit }, &res),
                     EPERM);
        ASSERT_NOT_NULL(crit);
        struct vc_pci_addr nic = A("0000:01:00.1");
        ASSERT_NOT_NULL(vc_critical_reason(crit, &nic));
        vc_op_result_done(&res);
        res = (struct vc_op_result){ 0 };
        /* The route is gone now: the operation's scan still says what it found, a new one not. */
        char *route = tree_path(root, "proc/net/route");
        ASSERT_OK(unlink(route) < 0 ? -errno : 0);
        free(route);
        ASSERT_ERRNO(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .protect = true, .critical = &crit }, &res),
                     EPERM);
        ASSERT_EQ(fake_counter(root), 0);
        vc_op_result_done(&res);
        res = (struct vc_op_result){ 0 };
        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .protect = true }, &res));
        ASSERT_TRUE(res.changed);
        vc_op_result_done(&res);
}

CELL(owner_conflict, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .owner = "vm-a" }, &res));
        long writes = fake_counter(root);
        ASSERT_ERRNO(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .owner = "vm-b" }, &res), EBUSY);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        ASSERT_STREQ(msg, "group 1: held by vm-a");
        ASSERT_ERRNO(vc_group_release(ctx, 1, &(struct vc_claim_opts){ .owner = "vm-b" }, &res), EBUSY);
        ASSERT_EQ(fake_counter(root), writes);
        ASSERT_OK(vc_group_release(ctx, 1, &(struct vc_claim_opts){ .owner = "vm-a" }, &res));
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        vc_op_result_done(&res);
}

/* A crash after the first endpoint was claimed: the record says "claiming"; release puts
 * everything back from it. */
CELL(release_after_crash_mid_claim, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        struct vc_pci_addr gpu = A("0000:01:00.0"), audio = A("0000:01:00.1");
        char p[PATH_MAX];

        ASSERT_OK(vc_module_ensure_driver(ctx, "vfio-pci", NULL));
        ASSERT_OK(vc_record_new(1, &rec));
        ASSERT_OK(vc_record_add_device(rec, &gpu, "nouveau", NULL, NULL));
        ASSERT_OK(vc_record_add_device(rec, &audio, "snd_hda_intel", NULL, NULL));
        ASSERT_OK(vc_record_write(ctx, rec));
        snprintf(p, sizeof p, "%s/sys/bus/pci/devices/0000:01:00.0/driver_override", root);
        ASSERT_OK(vc_sysfs_write(p, "vfio-pci"));
        snprintf(p, sizeof p, "%s/sys/bus/pci/drivers/nouveau/unbind", root);
        ASSERT_OK(vc_sysfs_write(p, "0000:01:00.0"));
        /* ... and the process died before the probe: unbound, override set. */
        ASSERT_DRIVER(root, "0000:01:00.0", "none");

        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_OVERRIDE(root, "0000:01:00.0", "(null)");
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        ASSERT_OVERRIDE(root, "0000:01:00.1", "(null)");
        vc_record_free(TAKE_PTR(rec));
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);
        vc_op_result_done(&res);
}

/* A device that had no driver stays unbound after release, its override cleared. */
CELL(unbound_device_stays_unbound, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        char p[PATH_MAX];

        snprintf(p, sizeof p, "%s/sys/bus/pci/drivers/snd_hda_intel/unbind", root);
        ASSERT_OK(vc_sysfs_write(p, "0000:01:00.1"));
        long base = fake_counter(root);
        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        ASSERT_STREQ(res.plan->devices[2].description, "bind to vfio-pci");
        ASSERT_EQ(fake_counter(root), base + 3 + 2);
        ASSERT_DRIVER(root, "0000:01:00.1", "vfio-pci");
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        ASSERT_DRIVER(root, "0000:01:00.1", "none");
        ASSERT_OVERRIDE(root, "0000:01:00.1", "(null)");
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_EQ(fake_counter(root), base + 5 + 4 + 2);
        vc_op_result_done(&res);
}

/* The hang of an unbind: killed after the timeout, -ETIMEDOUT. The write may still take effect
 * (a writer stuck in the kernel does), so the device is left as it is and the record stays
 * "claiming"; the next release finds everything as it was and finishes. */
CELL(hanging_unbind_times_out, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        struct vc_op_result res = { 0 };
        _cleanup_free_ char *before = fake_snapshot(root);

        fake_inject(root, "glob:sys/bus/pci/drivers/nouveau/unbind HANG\n");
        ASSERT_ERRNO(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .timeout_ms = STUCK_TIMEOUT_MS }, &res),
                     ETIMEDOUT);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        ASSERT_STREQ(msg, "0000:01:00.0: failed to unbind from nouveau: Connection timed out");
        ASSERT_EQ(res.rollback_error, -ETIMEDOUT);
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_OVERRIDE(root, "0000:01:00.0", "vfio-pci");
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_CLAIMING);

        fake_inject(root, "");
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        _cleanup_free_ char *after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        vc_record_free(TAKE_PTR(rec));
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);
        ASSERT_FALSE(vc_stuck_is_marked(ctx, AP("0000:01:00.0")));
        vc_op_result_done(&res);
}

/* Run @fn(@root) in a child and wait for it, at most @seconds: its exit status, or -1 when it
 * did not end (killed then). The bound is for a hang, which no machine load explains. */
static int run_bounded(int (*fn)(const char *), const char *root, int seconds) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0)
                _exit(fn(root));
        for (int i = 0; i < seconds * 100; i++) {
                int status;
                pid_t k = waitpid(pid, &status, WNOHANG);
                if (k == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                usleep(10000);
        }
        kill(pid, SIGKILL);
        (void) fake_wait(pid);
        return -1;
}

#define GPU "0000:01:00.0"
#ifndef HANG_BOUND_S
#define HANG_BOUND_S 300
#endif

static int claim_stuck(const char *root) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        vc_ctx_set_unbind_timeout_ms(ctx, STUCK_TIMEOUT_MS);
        int r = vc_group_claim(ctx, 1, NULL, &res);
        bool ok = r == -ETIMEDOUT && res.failed_step == VC_STEP_UNBIND && res.rollback_error == -ETIMEDOUT &&
                  vc_pci_addr_equal(&res.failed_device, AP(GPU));
        if (!ok)
                fprintf(stderr, "  claim: %d (%s), step %d, rollback %d\n", r, strerror(-r), res.failed_step,
                        res.rollback_error);
        vc_op_result_done(&res);
        return ok ? 0 : 1;
}

static int release_stuck(const char *root) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        vc_ctx_set_unbind_timeout_ms(ctx, STUCK_TIMEOUT_MS);
        int r = vc_group_release(ctx, 1, NULL, &res);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        fprintf(stderr, "  release: %s\n", strna(msg));
        vc_op_result_done(&res);
        return r == -ETIMEDOUT ? 0 : 1;
}

/* Defect 5 of issue 11: an unbind stuck in the kernel holds the device lock past the SIGKILL of
 * its writer, and reading driver_override waits for that lock. The claim must still end, give
 * the state lock back, and keep its "claiming" record; a release while the write is pending
 * fails fast without writing; once the write is over, a release finishes the group. */
CELL(stuck_unbind_does_not_hang_later_commands, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        struct vc_op_result res = { 0 };
        _cleanup_free_ char *before = fake_snapshot(root);

        fake_inject(root, "glob:sys/bus/pci/drivers/nouveau/unbind STUCK\n");
        int r = run_bounded(claim_stuck, root, HANG_BOUND_S);
        if (r != 0)
                (void) fake_unstick(root);
        ASSERT_EQ(r, 0);

        /* The lock is free: the next command is not held up. */
        {
                _cleanup_close_ int fd = -1;
                ASSERT_OK(vc_state_lock(ctx, 0, &fd));
        }
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_CLAIMING);
        ASSERT_STREQ(rec->devices[0].driver, "nouveau");
        ASSERT_DRIVER(root, GPU, "nouveau"); /* the driver link takes no device lock */
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        ASSERT_TRUE(vc_stuck_is_marked(ctx, AP(GPU)));

        /* Still stuck: a release waits for the device lock with a deadline, writes nothing. */
        long writes = fake_counter(root);
        r = run_bounded(release_stuck, root, HANG_BOUND_S);
        if (r != 0)
                (void) fake_unstick(root);
        ASSERT_EQ(r, 0);
        ASSERT_EQ(fake_counter(root), writes);
        vc_record_free(TAKE_PTR(rec));
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_CLAIMING);

        /* The kernel lets go: the unbind took effect after all. */
        ASSERT_EQ(fake_unstick(root), 0);
        ASSERT_DRIVER(root, GPU, "none");
        ASSERT_OVERRIDE(root, GPU, "vfio-pci");

        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        _cleanup_free_ char *after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        vc_record_free(TAKE_PTR(rec));
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);
        ASSERT_FALSE(vc_stuck_is_marked(ctx, AP(GPU)));
        vc_op_result_done(&res);
}

static int release_stuck_vfio(const char *root) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        vc_ctx_set_unbind_timeout_ms(ctx, STUCK_TIMEOUT_MS);
        int r = vc_group_release(ctx, 1, NULL, &res);
        bool ok = r == -ETIMEDOUT && res.failed_step == VC_STEP_UNBIND && res.rollback_error == -ETIMEDOUT;
        vc_op_result_done(&res);
        return ok ? 0 : 1;
}

/* The same for a release: the record stays "releasing", and the next release finishes. */
CELL(stuck_release_keeps_releasing_record, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        struct vc_op_result res = { 0 };
        _cleanup_free_ char *before = fake_snapshot(root);

        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        fake_inject(root, "glob:sys/bus/pci/drivers/vfio-pci/unbind STUCK\n");
        int r = run_bounded(release_stuck_vfio, root, HANG_BOUND_S);
        if (r != 0)
                (void) fake_unstick(root);
        ASSERT_EQ(r, 0);
        {
                _cleanup_close_ int fd = -1;
                ASSERT_OK(vc_state_lock(ctx, 0, &fd));
        }
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_RELEASING);
        ASSERT_DRIVER(root, GPU, "vfio-pci");

        ASSERT_EQ(fake_unstick(root), 0);
        ASSERT_DRIVER(root, GPU, "none");
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        _cleanup_free_ char *after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        vc_record_free(TAKE_PTR(rec));
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);
        vc_op_result_done(&res);
}

/* The mappings of this process (lines of /proc/self/maps). */
static size_t mappings(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/maps", "re");
        size_t n = 0;
        int c;
        if (!f)
                return 0;
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        return n;
}

/* lib/stuck.c's writer shares this process's memory. Killed where the kernel holds it (a write
 * stuck in a store(); a write waiting for the device lock that write holds), it must leave this
 * process whole: its stack unmapped once reaped, and the fake kernel still modelling our writes
 * (the shim's state is in the memory it shared). */
CELL(killed_writer_leaves_the_process_whole, "gpu-audio") {
        const char *unbind_audio = "/sys/bus/pci/drivers/snd_hda_intel/unbind";
        const char *audio_override = "/sys/bus/pci/devices/0000:01:00.1/driver_override";

        fake_inject(root, "glob:sys/bus/pci/drivers/snd_hda_intel/unbind STUCK\n");
        ASSERT_ERRNO(vc_timed_access(unbind_audio, "0000:01:00.1", 300), ETIMEDOUT);
        size_t after_one = mappings();
        ASSERT_TRUE(after_one > 0);
        /* the device lock is held: this one waits for it, and is killed waiting */
        ASSERT_ERRNO(vc_timed_access(audio_override, "vfio-pci", 300), ETIMEDOUT);
        ASSERT_EQ(mappings(), after_one);

        /* A write to the other device goes through the fake kernel's model: the driver lets go. */
        ASSERT_OK(vc_timed_access("/sys/bus/pci/drivers/nouveau/unbind", GPU, 120000));
        ASSERT_DRIVER(root, GPU, "none");
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        ASSERT_EQ(fake_unstick(root), 0);
        ASSERT_DRIVER(root, "0000:01:00.1", "none");
}

/* A child fork()ed after the writer started gets a writer of its own: a write that sticks
 * there leaves the parent's writer free (the fork handler tells, lib/stuck.c). Were the
 * parent's shared, it would be stuck in the child's write, and this process's next write would
 * time out. */
static int write_sticks_in_child(const char *root) {
        (void) root;
        return vc_timed_access("/sys/bus/pci/drivers/snd_hda_intel/unbind", "0000:01:00.1", 300) == -ETIMEDOUT ? 0 : 1;
}

CELL(forked_child_has_its_own_writer, "gpu-audio") {
        ASSERT_OK(vc_timed_access("/sys/bus/pci/devices/" GPU "/driver_override", NULL, 120000)); /* started */
        fake_inject(root, "glob:sys/bus/pci/drivers/snd_hda_intel/unbind STUCK\n");
        ASSERT_EQ(run_bounded(write_sticks_in_child, root, HANG_BOUND_S), 0);
        ASSERT_OK(vc_timed_access("/sys/bus/pci/drivers/nouveau/unbind", GPU, 120000));
        ASSERT_DRIVER(root, GPU, "none");
        ASSERT_EQ(fake_unstick(root), 0);
        ASSERT_DRIVER(root, "0000:01:00.1", "none");
}

/* A process that kills the writer in the middle of a request, as the OOM killer or a stray
 * `kill -9` would: once the fake kernel logged a HANG write (an event; the bound is for a bug),
 * the pid that made it (writers.log's last line, written after writes.log's; writers.log has
 * the writes under sys/ only) gets SIGKILL.
 * Its exit status: 0 when it killed. */
static pid_t kill_writer_at_hang(const char *root) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        for (int i = 0; i < 30000; i++) {
                _cleanup_free_ char *log = tree_read(root, ".fakekernel/writes.log");
                _cleanup_free_ char *pids = tree_read(root, ".fakekernel/writers.log");
                size_t writes = 0, writers = 0;
                for (const char *c = log; c && *c; c = strchrnul(c, '\n'), c += !!*c)
                        writes += startswith(c, "sys/") != NULL; /* writers.log has these only */
                for (const char *c = pids; c && *c; c++)
                        writers += *c == '\n';
                if (log && strstr(log, "\tHANG\n") && writers == writes && writers > 0) {
                        const char *last = pids + strlen(pids) - 1;
                        while (last > pids && last[-1] != '\n')
                                last--;
                        long writer = strtol(last, NULL, 10);
                        _exit(writer > 0 && kill((pid_t) writer, SIGKILL) == 0 ? 0 : 1);
                }
                usleep(10000);
        }
        _exit(1);
}

/* A writer that dies in the middle of a request (its socket at EOF) has made the writes before
 * the one under way: the request says how many (lib/stuck.h), from the writer's progress page. */
CELL(dead_writer_counts_the_writes_it_made, "gpu-audio") {
        ASSERT_OK(vc_timed_access("/sys/bus/pci/devices/" GPU "/driver_override", NULL, 120000)); /* started */
        fake_inject(root, "glob:sys/bus/pci/drivers/nouveau/unbind HANG\n");
        pid_t killer = kill_writer_at_hang(root);
        const char *paths[] = { "/sys/bus/pci/devices/" GPU "/driver_override", "/sys/bus/pci/drivers/nouveau/unbind",
                                "/sys/bus/pci/drivers_probe" };
        const char *values[] = { "vfio-pci", GPU, GPU };
        size_t done = 9;
        ASSERT_ERRNO(vc_timed_writes(paths, values, 3, 120000, &done), EIO);
        ASSERT_EQ(fake_wait(killer), 0);
        ASSERT_OVERRIDE(root, GPU, "vfio-pci"); /* the first write was made */
        ASSERT_EQ(done, 1);
}

/* The same in a claim: the failure names the unbind, which was under way, not the override
 * before it; the plan lists both; the rollback puts the device back. */
CELL(dead_writer_names_the_step_under_way, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        ASSERT_OK(vc_timed_access("/sys/bus/pci/devices/" GPU "/driver_override", NULL, 120000)); /* started */
        fake_inject(root, "glob:sys/bus/pci/drivers/nouveau/unbind HANG\n");
        pid_t killer = kill_writer_at_hang(root);
        ASSERT_ERRNO(vc_group_claim(ctx, 1, NULL, &res), EIO);
        ASSERT_EQ(fake_wait(killer), 0);
        ASSERT_EQ((int) res.failed_step, (int) VC_STEP_UNBIND);
        ASSERT_EQ(res.rollback_error, 0);
        ASSERT_DRIVER(root, GPU, "nouveau");
        ASSERT_OVERRIDE(root, GPU, "(null)");
        vc_op_result_done(&res);
}

/* The child's side below: once the parent's write is stuck (its mark in .fakekernel/stuck, an
 * event; the bound is for a bug), a request of two writes whose second sticks too. */
static int child_request_while_parent_waits(const char *root) {
        _cleanup_free_ char *dir = tree_path(root, ".fakekernel/stuck");
        bool stuck = false;
        for (int i = 0; i < 30000 && !stuck; i++) {
                _cleanup_strv_free_ char **names = NULL;
                stuck = vc_dir_list(dir, &names) >= 0 && names[0];
                if (!stuck)
                        usleep(10000);
        }
        const char *paths[] = { "/sys/bus/pci/devices/" GPU "/driver_override", "/sys/bus/pci/drivers/nouveau/unbind" };
        const char *values[] = { "vfio-pci", GPU };
        size_t done = 9;
        return stuck && vc_timed_writes(paths, values, 2, 300, &done) == -ETIMEDOUT && done == 1 ? 0 : 1;
}

/* The page in which the writer says which write of a request it is making is the process's own
 * in a forked child: the child's writer, at its second write while the parent waits for its
 * first, must not make the parent count a second write of its own (it would name a write its
 * request does not have). The check bites when the child gets there within the parent's 2 s. */
CELL(forked_child_has_its_own_progress_page, "gpu-audio") {
        ASSERT_OK(vc_timed_access("/sys/bus/pci/devices/" GPU "/driver_override", NULL, 120000)); /* started */
        fake_inject(root, "glob:sys/bus/pci/drivers/*/unbind STUCK\n");
        fflush(NULL);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                _exit(child_request_while_parent_waits(root));
        const char *path = "/sys/bus/pci/drivers/snd_hda_intel/unbind", *value = "0000:01:00.1";
        size_t done = 9;
        ASSERT_ERRNO(vc_timed_writes(&path, &value, 1, 2000, &done), ETIMEDOUT);
        ASSERT_EQ(done, 0);
        ASSERT_EQ(fake_wait(pid), 0);
        ASSERT_EQ(fake_unstick(root), 0);
        ASSERT_DRIVER(root, GPU, "none");
        ASSERT_DRIVER(root, "0000:01:00.1", "none");
}

/* Several writes in one request (lib/stuck.h): made in order, the first that fails ends it,
 * and the result says how many were made; one that cannot be opened ends it there too. */
CELL(timed_writes_stop_at_the_first_failure, "gpu-audio") {
        const char *paths[] = { "/sys/bus/pci/devices/" GPU "/driver_override", "/sys/bus/pci/drivers/nouveau/unbind",
                                "/sys/bus/pci/drivers_probe" };
        const char *values[] = { "vfio-pci", GPU, GPU };
        size_t done = 9;

        fake_inject(root, "glob:sys/bus/pci/drivers/nouveau/unbind EBUSY\n");
        ASSERT_ERRNO(vc_timed_writes(paths, values, 3, 120000, &done), EBUSY);
        ASSERT_EQ(done, 1);
        ASSERT_EQ(fake_counter(root), 2); /* the override and the unbind; no probe */
        ASSERT_OVERRIDE(root, GPU, "vfio-pci");
        ASSERT_DRIVER(root, GPU, "nouveau");

        fake_inject(root, "");
        const char *gone[] = { paths[0], "/sys/bus/pci/drivers/nosuchdriver/unbind", paths[2] };
        const char *clear[] = { "\n", GPU, GPU };
        ASSERT_ERRNO(vc_timed_writes(gone, clear, 3, 120000, &done), ENOENT);
        ASSERT_EQ(done, 1);
        ASSERT_EQ(fake_counter(root), 3);
        ASSERT_OVERRIDE(root, GPU, "(null)");

        ASSERT_OK(vc_timed_writes(paths, values, 3, 120000, &done));
        ASSERT_EQ(done, 3);
        ASSERT_EQ(fake_counter(root), 6);
        ASSERT_DRIVER(root, GPU, "none"); /* vfio-pci is not loaded in this tree */
}

/* A write of a request that sticks in the kernel: the ones before it are made, the writer is
 * given up on and replaced, and what follows it in the request is never made. */
CELL(timed_writes_stuck_in_the_middle, "gpu-audio") {
        const char *paths[] = { "/sys/bus/pci/devices/0000:01:00.1/driver_override",
                                "/sys/bus/pci/drivers/snd_hda_intel/unbind", "/sys/bus/pci/drivers_probe" };
        const char *values[] = { "vfio-pci", "0000:01:00.1", "0000:01:00.1" };
        size_t done = 9;

        fake_inject(root, "glob:sys/bus/pci/drivers/snd_hda_intel/unbind STUCK\n");
        ASSERT_ERRNO(vc_timed_writes(paths, values, 3, 300, &done), ETIMEDOUT);
        ASSERT_EQ(done, 1);
        /* (the audio device's override is not read here: the stuck write holds its lock) */
        ASSERT_OK(vc_timed_access("/sys/bus/pci/drivers/nouveau/unbind", GPU, 120000));
        ASSERT_DRIVER(root, GPU, "none");
        ASSERT_EQ(fake_unstick(root), 0);
        ASSERT_OVERRIDE(root, "0000:01:00.1", "vfio-pci");
        ASSERT_DRIVER(root, "0000:01:00.1", "none"); /* the unbind took effect, no probe followed */
        ASSERT_EQ(fake_counter(root), 3);
}

CELL(bridge_group_nics, "nics-bridge") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 5, NULL, &res));
        ASSERT_EQ(fake_counter(root), 9);
        for (size_t i = 0; i < res.plan->n_writes; i++)
                ASSERT_TRUE(!strstr(res.plan->writes[i].path, "0000:01:00.0"));
        ASSERT_DRIVER(root, "0000:02:02.0", "vfio-pci");
        ASSERT_OK(vc_group_release(ctx, 5, NULL, &res));
        ASSERT_DRIVER(root, "0000:02:00.0", "e1000");
        ASSERT_DRIVER(root, "0000:02:01.0", "e1000");
        ASSERT_DRIVER(root, "0000:02:02.0", "8139cp");
        ASSERT_DRIVER(root, "0000:01:00.0", "none");
        vc_op_result_done(&res);
}

CELL(module_ensure_driver, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_free_ char *log = NULL;

        ASSERT_OK(vc_module_ensure_driver(ctx, "i915", NULL)); /* registered: nothing to load */
        log = tree_read(root, ".fakekernel/writes.log");
        ASSERT_TRUE(!log || !*log);
        ASSERT_ERRNO(vc_module_ensure_driver(ctx, "../x", NULL), EINVAL);
        ASSERT_ERRNO(vc_module_ensure_driver(ctx, "vfio-pci", "a b"), EINVAL);

        fake_inject(root, "modprobe:vfio_pci EIO\n");
        ASSERT_ERRNO(vc_module_ensure_driver(ctx, "vfio-pci", NULL), EIO);
        ASSERT_FALSE(vc_module_driver_present(ctx, "vfio-pci"));
        fake_inject(root, "");
        ASSERT_OK(vc_module_ensure_driver(ctx, "vfio-pci", NULL));
        ASSERT_TRUE(vc_module_driver_present(ctx, "vfio-pci"));
        free(log);
        log = tree_read(root, ".fakekernel/writes.log");
        ASSERT_TRUE(strstr(log, "modprobe:vfio_pci\t\tok\n") != NULL);

        ASSERT_ERRNO(vc_module_ensure_driver(ctx, "no-such-driver", NULL), ENOENT);
        /* A module that loads but registers no such driver. */
        ASSERT_ERRNO(vc_module_ensure_driver(ctx, "no-such-driver", "nouveau"), ENXIO);
}

/* Only a PCI modalias reaches libkmod; a root without a module index knows no module. (Lookups
 * through a real index: tests/bats/boot-release.bats.) */
CELL(module_load_for_modalias, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_free_ char *log = NULL;

        ASSERT_ERRNO(vc_module_load_for_modalias(ctx, NULL), EINVAL);
        ASSERT_ERRNO(vc_module_load_for_modalias(ctx, ""), EINVAL);
        ASSERT_ERRNO(vc_module_load_for_modalias(ctx, "e1000e"), EINVAL);
        ASSERT_ERRNO(vc_module_load_for_modalias(ctx, "usb:v1D6Bp0002d0601dc09dsc00dp01ic09isc00ip00in00"), EINVAL);
        ASSERT_ERRNO(vc_module_load_for_modalias(ctx, "pci:v000010DEd00002204 nouveau"), EINVAL);
        ASSERT_ERRNO(vc_module_load_for_modalias(ctx, "pci:../../etc"), EINVAL);
        ASSERT_EQ(vc_module_load_for_modalias(ctx, "pci:v000010DEd00002204sv00001458sd00004043bc03sc00i00"), 0);
        log = tree_read(root, ".fakekernel/writes.log");
        ASSERT_TRUE(!log || !*log);
}

/* drivers_probe reports success even when nothing binds: the verify step catches it, and the
 * release is rolled back (the group stays claimed, the record says so). */
CELL(verify_catches_silent_probe, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;

        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        free(rec->devices[1].driver);
        rec->devices[1].driver = strdup("ghost"); /* a driver directory that binds nothing */
        ASSERT_OK(vc_record_write(ctx, rec));
        tree_dir(root, "sys/bus/pci/drivers/ghost");
        _cleanup_free_ char *before = fake_snapshot(root);

        ASSERT_ERRNO(vc_group_release(ctx, 1, NULL, &res), ENXIO);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        ASSERT_STREQ(msg, "0000:01:00.1: failed to verify the binding to ghost: No such device or address");
        ASSERT_EQ(res.rollback_error, 0);
        _cleanup_free_ char *after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        vc_record_free(TAKE_PTR(rec));
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_CLAIMED);
        vc_op_result_done(&res);
}

/* A claim interrupted by a crash and run again keeps the originals the record holds (the GPU
 * is unbound by then; its original driver is still nouveau). */
CELL(claim_after_crash_keeps_originals, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        struct vc_pci_addr gpu = A("0000:01:00.0"), audio = A("0000:01:00.1");
        char p[PATH_MAX];

        ASSERT_OK(vc_record_new(1, &rec));
        ASSERT_OK(vc_record_add_device(rec, &gpu, "nouveau", "nouveau", NULL));
        ASSERT_OK(vc_record_add_device(rec, &audio, "snd_hda_intel", "snd_hda_intel", NULL));
        ASSERT_OK(vc_record_write(ctx, rec));
        snprintf(p, sizeof p, "%s/sys/bus/pci/drivers/nouveau/unbind", root);
        ASSERT_OK(vc_sysfs_write(p, "0000:01:00.0"));

        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        ASSERT_STREQ(res.plan->devices[1].description, "bind to vfio-pci");
        vc_record_free(TAKE_PTR(rec));
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_CLAIMED);
        ASSERT_STREQ(rec->devices[0].driver, "nouveau");
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        vc_op_result_done(&res);
}

/* When the rollback itself fails, the record stays ("claiming", with the originals), and a
 * later release finishes the job. */
CELL(failed_rollback_keeps_record, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;

        fake_inject(root, "glob:sys/bus/pci/drivers_probe EIO\n");
        ASSERT_ERRNO(vc_group_claim(ctx, 1, NULL, &res), EIO);
        _cleanup_free_ char *msg = vc_op_result_message(&res);
        ASSERT_STREQ(msg, "0000:01:00.0: failed to probe: Input/output error");
        ASSERT_EQ(res.rollback_error, -EIO);
        ASSERT_DRIVER(root, "0000:01:00.0", "none"); /* stranded: unbound */
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_CLAIMING);
        ASSERT_STREQ(rec->devices[0].driver, "nouveau");

        fake_inject(root, "");
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_OVERRIDE(root, "0000:01:00.0", "(null)");
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        vc_record_free(TAKE_PTR(rec));
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);
        vc_op_result_done(&res);
}

/* Writers serialize on the lock: 8 processes claiming and releasing the same group leave it
 * consistent (record and tree agree), and a last release restores the host drivers. */
#define WRITERS 8
#define CYCLES 25
/* One writer's life in its own process; returns its exit status with everything freed, so
 * the valgrind run sees no leak from a child that leaves with _exit(). */
static int concurrent_writer(const char *root, int w) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        struct vc_op_result res = { 0 };
        /* Waiting for the lock behind 7 others takes what the machine's load makes it:
         * a bound only a deadlock reaches. */
        const struct vc_claim_opts o = { .lock_timeout_ms = 1800000 };
        for (int i = 0; i < CYCLES; i++) {
                int r = (i + w) % 2 == 0 ? vc_group_claim(ctx, 1, &o, &res)
                                         : vc_group_release(ctx, 1, &o, &res);
                if (r < 0) {
                        _cleanup_free_ char *msg = vc_op_result_message(&res);
                        fprintf(stderr, "  writer %d cycle %d: %s\n", w, i, strna(msg));
                        vc_op_result_done(&res);
                        return 1;
                }
        }
        vc_op_result_done(&res);
        return 0;
}

CELL(concurrent_writers, "gpu-audio") {
        pid_t pids[WRITERS];

        for (int w = 0; w < WRITERS; w++) {
                pids[w] = fork();
                ASSERT_TRUE(pids[w] >= 0);
                if (pids[w] == 0)
                        _exit(concurrent_writer(root, w));
        }
        for (int w = 0; w < WRITERS; w++)
                ASSERT_EQ(fake_wait(pids[w]), 0);

        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        struct vc_op_result res = { 0 };
        int r = vc_record_read(ctx, 1, &rec);
        if (r >= 0) {
                ASSERT_EQ(rec->state, VC_RECORD_CLAIMED);
                ASSERT_STREQ(rec->devices[0].driver, "nouveau");
                ASSERT_STREQ(rec->devices[1].driver, "snd_hda_intel");
                ASSERT_DRIVER(root, "0000:01:00.0", "vfio-pci");
                ASSERT_DRIVER(root, "0000:01:00.1", "vfio-pci");
        } else {
                ASSERT_ERRNO(r, ENOENT);
                ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
                ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        }
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        ASSERT_DRIVER(root, "0000:01:00.0", "nouveau");
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        ASSERT_OVERRIDE(root, "0000:01:00.0", "(null)");
        ASSERT_OVERRIDE(root, "0000:01:00.1", "(null)");
        ASSERT_FALSE(vfio_node(root, 1));
        vc_op_result_done(&res);
}

int main(int argc, char **argv) {
        if (argc == 4 && streq(argv[1], "--cell")) {
                for (size_t i = 0; i < n_cells; i++)
                        if (streq(cells[i].name, argv[2])) {
                                cells[i].fn(argv[3]);
                                return test_failed ? EXIT_FAILURE : EXIT_SUCCESS;
                        }
                return 127;
        }
        if (!fake_available()) {
                printf("SKIP: the fake kernel (tests/fakekernel) is not built\n");
                return 77;
        }
        return tests_run();
}
