/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Minimal implementation for the engine branch's tests; the full one lives on main. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "iommu.h"
#include "sysfs.h"

struct vc_group {
        unsigned number;
        struct vc_pci_dev **devices;
        size_t n_devices;
};

struct vc_group *vc_group_free(struct vc_group *g) {
        if (!g)
                return NULL;
        vc_pci_dev_array_free(g->devices, g->n_devices);
        free(g);
        return NULL;
}

static int cmp_dev(const void *a, const void *b) {
        return vc_pci_addr_compare(vc_pci_dev_addr(*(struct vc_pci_dev *const *) a),
                                   vc_pci_dev_addr(*(struct vc_pci_dev *const *) b));
}

int vc_group_read(struct vc_ctx *ctx, unsigned number, struct vc_group **ret) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_(vc_group_freep) struct vc_group *g = NULL;
        size_t count = 0;
        int r;

        r = vc_ctx_path(ctx, VC_PLACE_IOMMU_GROUPS, &dir, "%u/devices", number);
        if (r < 0)
                return r;
        r = vc_dir_list(dir, &names);
        if (r < 0)
                return r == -ENOTDIR ? -ENOENT : r;
        for (char **i = names; *i; i++)
                count++;
        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->number = number;
        g->devices = calloc(count + 1, sizeof *g->devices);
        if (!g->devices)
                return -ENOMEM;
        for (char **i = names; *i; i++) {
                struct vc_pci_addr a;
                if (strlen(*i) != 12 || vc_pci_addr_parse(*i, &a) < 0)
                        continue;
                r = vc_pci_dev_read(ctx, &a, &g->devices[g->n_devices]);
                if (r == -ENODEV)
                        continue;
                if (r < 0)
                        return r;
                g->n_devices++;
        }
        qsort(g->devices, g->n_devices, sizeof *g->devices, cmp_dev);
        *ret = TAKE_PTR(g);
        return 0;
}

unsigned vc_group_number(const struct vc_group *g) { return g->number; }
size_t vc_group_n_devices(const struct vc_group *g) { return g->n_devices; }
struct vc_pci_dev *vc_group_device(const struct vc_group *g, size_t i) {
        return i < g->n_devices ? g->devices[i] : NULL;
}

size_t vc_group_n_endpoints(const struct vc_group *g) {
        size_t n = 0;
        for (size_t i = 0; i < g->n_devices; i++)
                n += !vc_pci_dev_is_bridge(g->devices[i]);
        return n;
}

bool vc_group_vfio_node_exists(struct vc_ctx *ctx, unsigned number) {
        _cleanup_free_ char *p = NULL;
        return vc_ctx_path(ctx, VC_PLACE_DEV_VFIO, &p, "%u", number) >= 0 && vc_path_exists(p);
}

bool vc_group_is_claimed(struct vc_ctx *ctx, const struct vc_group *g) {
        size_t endpoints = 0;
        for (size_t i = 0; i < g->n_devices; i++) {
                if (vc_pci_dev_is_bridge(g->devices[i]))
                        continue;
                endpoints++;
                if (!vc_pci_dev_is_on_vfio(g->devices[i]))
                        return false;
        }
        return endpoints > 0 && vc_group_vfio_node_exists(ctx, g->number);
}

int vc_group_enumerate(struct vc_ctx *ctx, unsigned **ret, size_t *ret_n) {
        (void) ctx;
        *ret = NULL;
        *ret_n = 0;
        return -EOPNOTSUPP; /* not needed by the engine; main has the real one */
}

bool vc_iommu_present(struct vc_ctx *ctx) {
        (void) ctx;
        return true;
}
