/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: what sysfs shows of a PCI device (lib/pci.h, lib/iommu.h, lib/doctor.h). The root
 * holds a root port (0000:00:01.0, group 0) and below it a GPU (0000:01:00.0) and its audio
 * function (0000:01:00.1, on snd_hda_intel), both in group 1 (/dev/vfio/1 present). The input
 * is the GPU's: NUL-separated texts, in order, for its uevent, vendor, device, class,
 * subsystem_vendor, subsystem_device, modalias, driver_override, reset_method, boot_vga,
 * sriov_totalvfs, sriov_numvfs, numa_node, resource, current_link_speed, max_link_speed,
 * current_link_width, max_link_width, the last component of its iommu_group link's target, that
 * of its driver link's target (a driver directory of that name is made when it is a kernel name),
 * that of its physfn link's, and, the rest of the input, its config space. A text of the one byte
 * 0xff leaves that file (or link) out.
 *
 * Properties: every read ends with 0 or a negative errno; a device read names a driver only by a
 * kernel name, and a group number of -1 or more; a group read and a topology read give only
 * members whose iommu_group link names their group, in address order; a claimed group is one of
 * endpoints on vfio; the BARs are at most seven, in index order, none empty; the same device read
 * by a program that moves devices (driver_override read in the writer with a bound, lib/root.h)
 * fails or shows the same driver_override; doctor, given the topology read (as the CLI gives it),
 * ends with 0, and its findings about the GPU are single lines free of control bytes, whatever
 * the device's attributes hold. */

#include <stdio.h>

#include "doctor.h"
#include "fileio.h"
#include "iommu.h"
#include "name.h"
#include "pci.h"
#include "fuzz.h"
#include "root.h"

static struct vc_ctx *ctx, *ctx_bounded;
static char *root_dir, *gpu_dir;

#define PORT "pci0000:00/0000:00:01.0"
#define GPU PORT "/0000:01:00.0"
#define AUDIO PORT "/0000:01:00.1"
#define GPU_ADDR "0000:01:00.0"

static const char *const gpu_files[] = {
        "uevent", "vendor", "device", "class", "subsystem_vendor", "subsystem_device", "modalias",
        "driver_override", "reset_method", "boot_vga", "sriov_totalvfs", "sriov_numvfs", "numa_node",
        "resource", "current_link_speed", "max_link_speed", "current_link_width", "max_link_width",
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        char *state = NULL;

        root_dir = (char *) fuzz_make_tmpdir();
        fuzz_tree_file(root_dir, "sys/devices/" PORT "/vendor", "0x8086\n");
        fuzz_tree_file(root_dir, "sys/devices/" PORT "/device", "0x7ab8\n");
        fuzz_tree_file(root_dir, "sys/devices/" PORT "/class", "0x060400\n");
        fuzz_tree_file(root_dir, "sys/devices/" PORT "/subsystem_vendor", "0x8086\n");
        fuzz_tree_file(root_dir, "sys/devices/" PORT "/subsystem_device", "0x7ab8\n");
        fuzz_tree_file(root_dir, "sys/devices/" PORT "/driver_override", "(null)\n");
        fuzz_tree_link(root_dir, "sys/devices/" PORT "/iommu_group", "../../../kernel/iommu_groups/0");
        fuzz_tree_link(root_dir, "sys/devices/" PORT "/driver", "../../../bus/pci/drivers/pcieport");
        fuzz_tree_file(root_dir, "sys/devices/" AUDIO "/uevent", "DRIVER=snd_hda_intel\nPCI_CLASS=40300\nPCI_ID=10DE:10FA\n"
                                                  "PCI_SUBSYS_ID=10DE:1234\nPCI_SLOT_NAME=0000:01:00.1\n"
                                                  "MODALIAS=pci:v000010DEd000010FAsv000010DEsd00001234bc04sc03i00\n");
        fuzz_tree_file(root_dir, "sys/devices/" AUDIO "/vendor", "0x10de\n");
        fuzz_tree_file(root_dir, "sys/devices/" AUDIO "/device", "0x10fa\n");
        fuzz_tree_file(root_dir, "sys/devices/" AUDIO "/class", "0x040300\n");
        fuzz_tree_file(root_dir, "sys/devices/" AUDIO "/subsystem_vendor", "0x10de\n");
        fuzz_tree_file(root_dir, "sys/devices/" AUDIO "/subsystem_device", "0x1234\n");
        fuzz_tree_file(root_dir, "sys/devices/" AUDIO "/driver_override", "(null)\n");
        fuzz_tree_file(root_dir, "sys/devices/" AUDIO "/reset_method", "flr bus\n");
        fuzz_tree_link(root_dir, "sys/devices/" AUDIO "/iommu_group", "../../../../kernel/iommu_groups/1");
        fuzz_tree_link(root_dir, "sys/devices/" AUDIO "/driver", "../../../../bus/pci/drivers/snd_hda_intel");
        fuzz_tree_link(root_dir, "sys/bus/pci/devices/0000:00:01.0", "../../../devices/" PORT);
        fuzz_tree_link(root_dir, "sys/bus/pci/devices/0000:01:00.0", "../../../devices/" GPU);
        fuzz_tree_link(root_dir, "sys/bus/pci/devices/0000:01:00.1", "../../../devices/" AUDIO);
        fuzz_tree_link(root_dir, "sys/kernel/iommu_groups/0/devices/0000:00:01.0", "../../../../devices/" PORT);
        fuzz_tree_link(root_dir, "sys/kernel/iommu_groups/1/devices/0000:01:00.0", "../../../../devices/" GPU);
        fuzz_tree_link(root_dir, "sys/kernel/iommu_groups/1/devices/0000:01:00.1", "../../../../devices/" AUDIO);
        fuzz_tree_file(root_dir, "sys/class/iommu/dmar0/uevent", "");
        fuzz_tree_file(root_dir, "sys/bus/pci/drivers/vfio-pci/new_id", "");
        fuzz_tree_link(root_dir, "sys/bus/pci/drivers/vfio-pci/module", "../../../../module/vfio_pci");
        fuzz_tree_file(root_dir, "sys/bus/pci/drivers/snd_hda_intel/new_id", "");
        fuzz_tree_link(root_dir, "sys/bus/pci/drivers/snd_hda_intel/module", "../../../../module/snd_hda_intel");
        fuzz_tree_file(root_dir, "sys/bus/pci/drivers/pcieport/new_id", "");
        fuzz_tree_file(root_dir, "sys/module/vfio_pci/refcnt", "0\n");
        fuzz_tree_file(root_dir, "dev/vfio/1", "");
        fuzz_tree_file(root_dir, "dev/vfio/vfio", "");
        fuzz_tree_file(root_dir, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda intel_iommu=on iommu=pt\n");
        fuzz_tree_file(root_dir, "sys/devices/" GPU "/uevent", "");
        if (asprintf(&gpu_dir, "%s/sys/devices/" GPU, root_dir) < 0)
                abort();
        if (vc_ctx_new(root_dir, &ctx) < 0 || vc_ctx_new(root_dir, &ctx_bounded) < 0 ||
            vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &state, NULL) < 0 || vc_mkdir_p(state, 0755) < 0)
                abort();
        free(state);
        vc_ctx_set_unbind_timeout_ms(ctx_bounded, 60000);
        vc_ctx_set_device_reads_bounded(ctx_bounded, true);
        return 0;
}

/* The next of the input's NUL-separated texts, or NULL for the absent marker (the one byte
 * 0xff) and at the end of the input. */
static bool next_text(const uint8_t **data, size_t *size, const uint8_t **ret, size_t *ret_n) {
        const uint8_t *end = memchr(*data, '\0', *size);
        size_t n = end ? (size_t) (end - *data) : *size;
        *ret = *data;
        *ret_n = n;
        bool present = *size > 0 && !(n == 1 && (*data)[0] == 0xff);
        *data += end ? n + 1 : n;
        *size -= end ? n + 1 : n;
        return present;
}

static void gpu_file(const char *name, const uint8_t *text, size_t n, bool present) {
        char *p;
        if (asprintf(&p, "%s/%s", gpu_dir, name) < 0)
                abort();
        (void) unlink(p);
        if (present)
                fuzz_write_file(p, text, n);
        free(p);
}

/* The GPU's link @name to @prefix + the text, or none. A driver named by a kernel name gets its
 * directory (with a module link), as the kernel's drivers have. */
static void gpu_link(const char *name, const char *prefix, const uint8_t *text, size_t n, bool present) {
        char *p, *target;
        if (asprintf(&p, "%s/%s", gpu_dir, name) < 0 || asprintf(&target, "%s%.*s", prefix, (int) n, text) < 0)
                abort();
        (void) unlink(p);
        if (present && symlink(target, p) < 0)
                abort();
        if (present && streq(name, "driver")) {
                char *rel;
                if (asprintf(&rel, "sys/bus/pci/drivers/%.*s/module", (int) n, text) < 0)
                        abort();
                if (strlen(target) == strlen(prefix) + n && vc_kernel_name_is_valid(target + strlen(prefix)) &&
                    !streq(target + strlen(prefix), "vfio-pci") && !streq(target + strlen(prefix), "snd_hda_intel") &&
                    !streq(target + strlen(prefix), "pcieport"))
                        fuzz_tree_link(root_dir, rel, "../../../../module/nouveau");
                free(rel);
        }
        free(target);
        free(p);
}

static bool is_errno(int r) {
        return r == 0 || (r < 0 && r > -4096);
}

static void check_dev(const struct vc_pci_dev *d) {
        const char *drv = vc_pci_dev_driver(d);
        if (drv && !vc_kernel_name_is_valid(drv))
                fuzz_fail("a driver that is no kernel name: %s", drv);
        fuzz_assert(vc_pci_dev_iommu_group(d) >= -1);
        fuzz_assert(vc_pci_class_to_string(vc_pci_dev_class(d)));
        (void) vc_pci_dev_reset_method(d);
        (void) vc_pci_dev_numa_node(d);
        (void) vc_pci_dev_syspath(d);
        (void) vc_pci_dev_parent(d, NULL);
}

static void check_group(struct vc_ctx *c, const struct vc_group *g) {
        const struct vc_pci_addr *prev = NULL;
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                check_dev(d);
                if (vc_pci_dev_iommu_group(d) != (int) vc_group_number(g))
                        fuzz_fail("%s read as a member of group %u, its link names group %d", vc_pci_dev_name(d),
                                  vc_group_number(g), vc_pci_dev_iommu_group(d));
                if (prev && vc_pci_addr_compare(prev, vc_pci_dev_addr(d)) >= 0)
                        fuzz_fail("members out of order: %s after %s", vc_pci_dev_name(d),
                                  VC_PCI_ADDR_TO_STRING(prev));
                prev = vc_pci_dev_addr(d);
        }
        if (vc_group_is_claimed(c, g))
                for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                        const struct vc_pci_dev *d = vc_group_device(g, i);
                        if (!vc_pci_dev_is_bridge(d) && !vc_pci_dev_is_on_vfio(d))
                                fuzz_fail("group %u claimed with %s on %s", vc_group_number(g), vc_pci_dev_name(d),
                                          strna(vc_pci_dev_driver(d)));
                }
}

static void check_bars(const struct vc_pci_dev *d) {
        _cleanup_free_ struct vc_pci_bar *bars = NULL;
        size_t n = 0;
        int r = vc_pci_dev_read_bars(d, &bars, &n);
        fuzz_assert(is_errno(r));
        if (r < 0)
                return;
        fuzz_assert(n <= 7);
        for (size_t i = 0; i < n; i++) {
                if (bars[i].size == 0)
                        fuzz_fail("BAR %u read as empty", bars[i].index);
                fuzz_assert(bars[i].index <= 6 && (i == 0 || bars[i].index > bars[i - 1].index));
        }
}

/* doctor as the CLI runs it: over the topology the CLI read (a topology that cannot be read is
 * the CLI's one message, naming the device) */
static void check_doctor(const struct vc_topology *topo, const struct vc_pci_addr *gpu) {
        _cleanup_(vc_doctor_report_freep) struct vc_doctor_report *report = vc_doctor_report_new();
        if (!report)
                return;
        const struct vc_doctor_opts opts = { .targets = gpu, .n_targets = 1, .explicit_targets = true,
                                             .topology = topo };
        int r = vc_doctor_run(ctx, &opts, report);
        if (r == -ENOMEM)
                return;
        if (r != 0)
                fuzz_fail("doctor failed: %s", strerror(-r));
        for (size_t i = 0; i < report->n_findings; i++) {
                const struct vc_finding *f = &report->findings[i];
                if (fuzz_has_control(f->finding) || (f->fix && fuzz_has_control(f->fix)))
                        fuzz_fail("doctor's %s finding with a control byte: %s / %s", f->check, f->finding,
                                  strna(f->fix));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *t;
        size_t n;
        bool present;
        struct vc_pci_addr gpu;

        if (size > 65536)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(gpu_files); i++) {
                present = next_text(&data, &size, &t, &n);
                gpu_file(gpu_files[i], t, n, present);
        }
        present = next_text(&data, &size, &t, &n);
        gpu_link("iommu_group", "../../../../kernel/iommu_groups/", t, n, present);
        present = next_text(&data, &size, &t, &n);
        gpu_link("driver", "../../../../bus/pci/drivers/", t, n, present);
        present = next_text(&data, &size, &t, &n);
        gpu_link("physfn", "../", t, n, present);
        gpu_file("config", data, size, size > 0);

        fuzz_assert(vc_pci_addr_parse(GPU_ADDR, &gpu) == 0);
        _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL, *db = NULL;
        int r = vc_pci_dev_read(ctx, &gpu, &d);
        if (r == -ENOMEM)
                return 0;
        if (!is_errno(r))
                fuzz_fail("vc_pci_dev_read() returned %d", r);
        if (r == 0) {
                check_dev(d);
                check_bars(d);
                struct vc_pci_link l;
                if (vc_pci_dev_read_link(d, &l) == 0)
                        vc_pci_link_done(&l);
                /* the same device read as a program that moves devices reads it: the same
                 * driver_override, or a failure (content that is no override) */
                r = vc_pci_dev_read(ctx_bounded, &gpu, &db);
                fuzz_assert(is_errno(r));
                if (r == 0 && !vc_pci_dev_write_pending(db) && !vc_pci_dev_is_bridge(db) &&
                    !streq_ptr(vc_pci_dev_driver_override(d), vc_pci_dev_driver_override(db)))
                        fuzz_fail("driver_override read as \"%s\", and as \"%s\" with the bound",
                                  strna(vc_pci_dev_driver_override(d)), strna(vc_pci_dev_driver_override(db)));
        }

        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        r = vc_group_read(ctx, 1, &g, NULL);
        fuzz_assert(is_errno(r));
        if (r == 0)
                check_group(ctx, g);

        _cleanup_(vc_topology_freep) struct vc_topology *topo = NULL;
        r = vc_topology_read(ctx, &topo, NULL);
        fuzz_assert(is_errno(r));
        if (r == 0) {
                for (size_t i = 0; i < topo->n_groups; i++)
                        check_group(ctx, topo->groups[i]);
                check_doctor(topo, &gpu);
        }
        return 0;
}
