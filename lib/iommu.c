/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "iommu.h"
#include "sysfs.h"

struct vc_group {
        unsigned number;
        int vfio_node; /* /dev/vfio/N when the topology was read: 1, 0; -1: not looked at */
        struct vc_pci_dev **devices;
        size_t n_devices;
};

static int cmp_dev(const void *a, const void *b) {
        return vc_pci_addr_compare(vc_pci_dev_addr(*(struct vc_pci_dev *const *) a),
                                   vc_pci_dev_addr(*(struct vc_pci_dev *const *) b));
}

static int cmp_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return x < y ? -1 : x > y;
}

/* struct vc_topology_entry starts with its address: one comparison serves key and element. */
static int cmp_entry(const void *a, const void *b) {
        return vc_pci_addr_compare(&((const struct vc_topology_entry *) a)->addr,
                                   &((const struct vc_topology_entry *) b)->addr);
}

/* A device's read failed: say which (@failure may be NULL). */
static int device_failed(struct vc_read_failure *failure, const struct vc_pci_addr *a, int r) {
        if (failure)
                *failure = (struct vc_read_failure){ .device_known = true, .device = *a };
        return r;
}

const char *vc_read_failure_prefix(const struct vc_read_failure *f, char buf[static VC_READ_FAILURE_PREFIX_MAX]) {
        buf[0] = '\0';
        if (f->device_known)
                snprintf(buf, VC_READ_FAILURE_PREFIX_MAX, "%s: ", VC_PCI_ADDR_TO_STRING(&f->device));
        return buf;
}

/* The group's members, each read by path (vc_topology_read() reads every group at once); with
 * @flags (VC_PCI_READ_*), through a reader made with them. */
static int group_read(struct vc_ctx *ctx, unsigned number, unsigned flags, struct vc_group **ret,
                      struct vc_read_failure *failure) {
        _cleanup_(vc_pci_reader_freep) struct vc_pci_reader *rd = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        r = vc_ctx_path(ctx, VC_PLACE_IOMMU_GROUPS, &dir, "%u/devices", number);
        if (r < 0)
                return r;
        r = vc_dir_list(dir, &names);
        if (r < 0)
                return r;
        if (flags != 0 && (r = vc_pci_reader_new(ctx, flags, &rd)) < 0)
                return r;

        _cleanup_(vc_group_freep) struct vc_group *g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->number = number;
        g->vfio_node = -1;
        size_t count = 0;
        for (char **i = names; *i; i++)
                count++;
        g->devices = calloc(count + 1, sizeof *g->devices);
        if (!g->devices)
                return -ENOMEM;
        for (char **i = names; *i; i++) {
                struct vc_pci_addr a;
                if (vc_pci_addr_parse(*i, &a) < 0)
                        continue; /* not a PCI device: other buses can share groups; never ours */
                r = vc_pci_dev_read_with(ctx, rd, &a, &g->devices[g->n_devices]);
                if (r == -ENODEV)
                        continue;
                if (r < 0)
                        return device_failed(failure, &a, r);
                /* Listed here, and a member of another group by its own link: the device was
                 * removed and added again between the listing and its read (or the tree is no
                 * sysfs). Which group it belongs to is not known, and a group is never moved
                 * without all of its members. */
                if (vc_pci_dev_iommu_group(g->devices[g->n_devices++]) != (int) number)
                        return device_failed(failure, &a, -EBADMSG);
        }
        qsort(g->devices, g->n_devices, sizeof *g->devices, cmp_dev);
        *ret = TAKE_PTR(g);
        return 0;
}

int vc_group_read(struct vc_ctx *ctx, unsigned number, struct vc_group **ret, struct vc_read_failure *failure) {
        return vc_group_read_full(ctx, number, 0, ret, failure);
}

int vc_group_read_full(struct vc_ctx *ctx, unsigned number, unsigned flags, struct vc_group **ret,
                       struct vc_read_failure *failure) {
        if (failure)
                *failure = (struct vc_read_failure){};
        return group_read(ctx, number, flags, ret, failure);
}

struct vc_group *vc_group_free(struct vc_group *g) {
        if (!g)
                return NULL;
        vc_pci_dev_array_free(g->devices, g->n_devices);
        free(g);
        return NULL;
}

int vc_group_enumerate(struct vc_ctx *ctx, unsigned **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_IOMMU_GROUPS, &dir, NULL);
        if (r < 0)
                return r;
        return vc_dir_list_numbers(dir, "", ret, ret_n);
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
        if (vc_ctx_path(ctx, VC_PLACE_DEV_VFIO, &p, "%u", number) < 0)
                return false;
        return vc_path_exists(p);
}

bool vc_group_has_vfio_node(struct vc_ctx *ctx, const struct vc_group *g) {
        return g->vfio_node >= 0 ? g->vfio_node > 0 : vc_group_vfio_node_exists(ctx, g->number);
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
        return endpoints > 0 && vc_group_has_vfio_node(ctx, g);
}

bool vc_iommu_present(struct vc_ctx *ctx) {
        _cleanup_free_ char *p = NULL;
        _cleanup_strv_free_ char **names = NULL;
        if (vc_ctx_path(ctx, VC_PLACE_CLASS, &p, "iommu") >= 0 && vc_dir_list(p, &names) >= 0 &&
            names[0])
                return true;
        free(p);
        p = NULL;
        strv_free(names);
        names = NULL;
        if (vc_ctx_path(ctx, VC_PLACE_IOMMU_GROUPS, &p, NULL) >= 0 && vc_dir_list(p, &names) >= 0 &&
            names[0])
                return true;
        return false;
}

struct vc_topology *vc_topology_free(struct vc_topology *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_groups; i++)
                vc_group_free(t->groups[i]);
        free(t->groups);
        vc_pci_dev_array_free(t->ungrouped, t->n_ungrouped);
        free(t->index);
        free(t);
        return NULL;
}

/* The group @d names by its iommu_group link, NULL when none (or one the groups directory does not
 * list: then it is read as ungrouped, as the kernel shows it in no group). */
static struct vc_group *group_of(struct vc_topology *t, const unsigned *numbers, size_t n_numbers,
                                 const struct vc_pci_dev *d) {
        int g = vc_pci_dev_iommu_group(d);
        if (g < 0 || n_numbers == 0)
                return NULL;
        const unsigned key = (unsigned) g, *p = bsearch(&key, numbers, n_numbers, sizeof *numbers, cmp_unsigned);
        return p ? t->groups[p - numbers] : NULL;
}

/* Every device on the bus, in name order, read through one reader; none when there is no bus. */
static int read_bus_devices(struct vc_ctx *ctx, unsigned flags, struct vc_pci_dev ***ret, size_t *ret_n,
                            struct vc_read_failure *failure) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        *ret = NULL;
        *ret_n = 0;
        r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &dir, NULL);
        if (r < 0)
                return r;
        r = vc_dir_list(dir, &names);
        if (r == -ENOENT) /* no PCI bus */
                return 0;
        if (r < 0)
                return r;
        _cleanup_(vc_pci_reader_freep) struct vc_pci_reader *rd = NULL;
        r = vc_pci_reader_new(ctx, flags, &rd);
        if (r < 0 && r != -ENOENT)
                return r;
        size_t count = 0, n = 0;
        for (char **i = names; *i; i++)
                count++;
        struct vc_pci_dev **devs = calloc(count + 1, sizeof *devs);
        if (!devs)
                return -ENOMEM;
        for (char **i = names; *i; i++) {
                struct vc_pci_addr a;
                if (vc_pci_addr_parse(*i, &a) < 0)
                        continue; /* not a PCI device name: never build a path from it */
                r = vc_pci_dev_read_with(ctx, rd, &a, &devs[n]);
                if (r == -ENODEV)
                        continue; /* removed while we looked */
                if (r < 0) {
                        vc_pci_dev_array_free(devs, n);
                        return device_failed(failure, &a, r);
                }
                n++;
        }
        *ret = devs;
        *ret_n = n;
        return 0;
}

/* Each of @devs (taken over, in every case) into its group of @t or among the ungrouped; the
 * groups' members and the index sorted by address. */
static int topology_place(struct vc_topology *t, const unsigned *numbers, size_t n_numbers,
                          struct vc_pci_dev **devs, size_t n_devs) {
        size_t n_grouped = 0;
        int r = 0;

        for (size_t i = 0; i < n_devs; i++) {
                struct vc_group *g = group_of(t, numbers, n_numbers, devs[i]);
                if (g) {
                        g->n_devices++;
                        n_grouped++;
                }
        }
        for (size_t i = 0; i < t->n_groups; i++) {
                t->groups[i]->devices = calloc(t->groups[i]->n_devices + 1, sizeof(struct vc_pci_dev *));
                if (!t->groups[i]->devices)
                        r = -ENOMEM;
                t->groups[i]->n_devices = 0;
        }
        t->ungrouped = calloc(n_devs - n_grouped + 1, sizeof *t->ungrouped);
        t->index = calloc(n_grouped + 1, sizeof *t->index);
        if (r < 0 || !t->ungrouped || !t->index) {
                vc_pci_dev_array_free(devs, n_devs);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_devs; i++) {
                struct vc_group *g = group_of(t, numbers, n_numbers, devs[i]);
                if (g) {
                        g->devices[g->n_devices++] = devs[i];
                        t->index[t->n_index++] = (struct vc_topology_entry){ .addr = *vc_pci_dev_addr(devs[i]),
                                                                             .group = g };
                } else
                        t->ungrouped[t->n_ungrouped++] = devs[i];
        }
        free(devs);
        for (size_t i = 0; i < t->n_groups; i++)
                qsort(t->groups[i]->devices, t->groups[i]->n_devices, sizeof(struct vc_pci_dev *), cmp_dev);
        qsort(t->index, t->n_index, sizeof *t->index, cmp_entry);
        return 0;
}

/* One pass over the bus's devices: each device read once through one reader, its group taken
 * from its own iommu_group link (which the device read has anyway) instead of listing every
 * group's devices directory, four system calls a group on hosts with thousands of groups; the
 * groups directory and /dev/vfio are listed once (docs/PERFORMANCE.md, "Scale"). A group whose
 * members are no PCI devices (other buses can share groups) is kept, with no member. */
int vc_topology_read(struct vc_ctx *ctx, struct vc_topology **ret, struct vc_read_failure *failure) {
        return vc_topology_read_full(ctx, 0, ret, failure);
}

int vc_topology_read_full(struct vc_ctx *ctx, unsigned flags, struct vc_topology **ret,
                          struct vc_read_failure *failure) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = calloc(1, sizeof *t);
        _cleanup_free_ unsigned *numbers = NULL, *nodes = NULL;
        _cleanup_free_ char *vfio_dir = NULL;
        size_t n_numbers, n_nodes = 0, n_devs;
        struct vc_pci_dev **devs;
        int r;

        if (vc_ctx_get_device_reads_bounded(ctx)) /* lib/iommu.h */
                flags |= VC_PCI_READ_NO_DEVICE_LOCK;

        if (failure)
                *failure = (struct vc_read_failure){};
        if (!t)
                return -ENOMEM;
        r = vc_group_enumerate(ctx, &numbers, &n_numbers);
        if (r < 0)
                return r;
        t->groups = calloc(n_numbers + 1, sizeof *t->groups);
        if (!t->groups)
                return -ENOMEM;
        if ((r = vc_ctx_path(ctx, VC_PLACE_DEV_VFIO, &vfio_dir, NULL)) < 0)
                return r;
        bool nodes_known = vc_dir_list_numbers(vfio_dir, "", &nodes, &n_nodes) >= 0;
        for (size_t i = 0; i < n_numbers; i++) {
                struct vc_group *g = calloc(1, sizeof *g);
                if (!g)
                        return -ENOMEM;
                g->number = numbers[i];
                g->vfio_node = -1;
                if (nodes_known) /* bsearch() must not be given NULL, even for no element */
                        g->vfio_node = n_nodes > 0 &&
                                       bsearch(&numbers[i], nodes, n_nodes, sizeof *nodes, cmp_unsigned) != NULL;
                t->groups[t->n_groups++] = g;
        }
        if ((r = read_bus_devices(ctx, flags, &devs, &n_devs, failure)) < 0 ||
            (r = topology_place(t, numbers, n_numbers, devs, n_devs)) < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

int vc_topology_read_group(struct vc_ctx *ctx, unsigned number, struct vc_topology **ret,
                           struct vc_read_failure *failure) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = calloc(1, sizeof *t);
        int r;

        if (failure)
                *failure = (struct vc_read_failure){};
        if (!t || !(t->groups = calloc(2, sizeof *t->groups)))
                return -ENOMEM;
        r = group_read(ctx, number, vc_ctx_get_device_reads_bounded(ctx) ? VC_PCI_READ_NO_DEVICE_LOCK : 0,
                       &t->groups[0], failure);
        if (r < 0)
                return r;
        t->n_groups = 1;
        const struct vc_group *g = t->groups[0];
        t->index = calloc(g->n_devices + 1, sizeof *t->index);
        if (!t->index)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_devices; i++) /* the members are sorted: so is the index */
                t->index[t->n_index++] = (struct vc_topology_entry){ .addr = *vc_pci_dev_addr(g->devices[i]),
                                                                     .group = g };
        *ret = TAKE_PTR(t);
        return 0;
}

const struct vc_group *vc_topology_find_group(const struct vc_topology *t,
                                              const struct vc_pci_addr *addr) {
        if (t->index) {
                const struct vc_topology_entry key = { .addr = *addr },
                        *e = bsearch(&key, t->index, t->n_index, sizeof *t->index, cmp_entry);
                return e ? e->group : NULL;
        }
        for (size_t i = 0; i < t->n_groups; i++)
                for (size_t k = 0; k < t->groups[i]->n_devices; k++)
                        if (vc_pci_addr_equal(vc_pci_dev_addr(t->groups[i]->devices[k]), addr))
                                return t->groups[i];
        return NULL;
}
