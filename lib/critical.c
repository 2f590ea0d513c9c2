/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config.h"
#include "critical.h"
#include "display.h"
#include "fileio.h"
#include "input.h"
#include "log.h"
#include "session.h"
#include "stuck.h"
#include "sysfs.h"

#define WALK_DEPTH_MAX 16
#define RTF_UP_FLAG 0x0001
#define RTF_GATEWAY_FLAG 0x0002
#define RTF_REJECT_FLAG 0x0200

struct critical {
        struct vc_pci_addr addr;
        char *reason;
        bool in_use; /* only in use (a file system mounted, a device stacked on it): not in the image's list */
};

/* The device (a disk, a network interface's device) a reason was found through, by its real
 * sysfs directory: what a USB device is asked against (vc_critical_usb_reason()). */
struct via {
        char *syspath;
        char *reason;
        bool in_use;
};

/* A keyboard of the console the command runs on, when the keyboards sit below more than one IOMMU
 * group (scan_keyboards()): the PCI device above it, and whether a claim of this command took it. */
struct keyboard_spot {
        struct vc_pci_addr addr;
        char *reason;
        bool taken;
};

struct vc_critical_set {
        struct critical *items;
        size_t n;
        struct keyboard_spot *keyboards;
        size_t n_keyboards;
        struct via *vias;
        size_t n_vias;
        bool scanning_use; /* what the walks add now is a use (scan_mounts(), scan_holders()) */
        bool session_on_vt; /* the command runs on a virtual terminal (scan_session()) */
        unsigned loop_depth; /* loop devices followed to their files' disks, nested (block_walk()) */
        char **zfs_pools;  /* the ZFS pools whose members were walked */
        size_t n_zfs_pools;
};

struct vc_critical_set *vc_critical_set_free(struct vc_critical_set *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                free(s->items[i].reason);
        free(s->items);
        for (size_t i = 0; i < s->n_vias; i++) {
                free(s->vias[i].syspath);
                free(s->vias[i].reason);
        }
        free(s->vias);
        strv_free(s->zfs_pools);
        for (size_t i = 0; i < s->n_keyboards; i++)
                free(s->keyboards[i].reason);
        free(s->keyboards);
        free(s);
        return NULL;
}

const char *vc_critical_reason(const struct vc_critical_set *s, const struct vc_pci_addr *addr) {
        for (size_t i = 0; s && i < s->n; i++)
                if (vc_pci_addr_equal(&s->items[i].addr, addr))
                        return s->items[i].reason;
        return NULL;
}

#define CONSOLE_REASON "boot VGA driving the active console"

/* The console is scanned last and the first reason is kept: a device whose reason is the
 * console's has no other. */
bool vc_critical_is_console(const struct vc_critical_set *s, const struct vc_pci_addr *addr) {
        return streq_ptr(vc_critical_reason(s, addr), CONSOLE_REASON);
}

/* Every reason scan_session() gives, and no other (an interface's name holds no blank; mountinfo
 * escapes one as \040). */
#define SESSION_MARK " this command runs "

bool vc_critical_reason_is_session(const char *reason) {
        return reason && strstr(reason, SESSION_MARK);
}

#define USE_MOUNTED ", mounted at "
#define USE_HELD ", in use by "

/* What the boot mounts (scan_fstab()): the host's own, not a use. */
#define FSTAB_MARK " at boot (/etc/fstab)"

bool vc_critical_reason_is_use(const char *reason) {
        /* neither occurs in what the other reasons name: mountinfo and fstab escape a blank as \040 */
        return reason && startswith(reason, "controller of ") && (strstr(reason, USE_MOUNTED) || strstr(reason, USE_HELD)) &&
               !strstr(reason, FSTAB_MARK) &&
               !vc_critical_reason_is_session(reason); /* a keyboard names itself: ", in use by " too */
}

size_t vc_critical_count(const struct vc_critical_set *s) { return s ? s->n : 0; }

/* Is @name a component of the path @path ("…/usb3/3-1/3-1.2/3-1.2:1.0/host0/…")? */
static bool path_has_component(const char *path, const char *name) {
        size_t l = strlen(name);
        for (const char *p = path; l > 0 && (p = strstr(p, name)); p += l)
                if (p > path && p[-1] == '/' && (p[l] == '/' || p[l] == '\0'))
                        return true;
        return false;
}

const char *vc_critical_usb_reason(const struct vc_critical_set *s, const char *port) {
        const char *use = NULL;
        for (size_t i = 0; s && port && i < s->n_vias; i++) {
                if (!path_has_component(s->vias[i].syspath, port))
                        continue;
                if (!s->vias[i].in_use)
                        return s->vias[i].reason;
                use = use ?: s->vias[i].reason;
        }
        return use;
}

const char *vc_critical_get(const struct vc_critical_set *s, size_t i, struct vc_pci_addr *ret_addr) {
        if (!s || i >= s->n)
                return NULL;
        if (ret_addr)
                *ret_addr = s->items[i].addr;
        return s->items[i].reason;
}

/* A reason as it is kept: a mount point comes from a file system's label (udisks mounts a stick at
 * /media/USER/LABEL) and reaches terminals, the journal and the image's list, so a control byte
 * becomes '?'. NULL: out of memory. */
static char *reason_dup(const char *reason) {
        char *r = strdup(reason);
        for (char *p = r; p && *p; p++)
                if (iscntrl((unsigned char) *p))
                        *p = '?';
        return r;
}

/* @path (canonical, as vc_path_canonical() spells it under the context's root) as the kernel would
 * show it: the root's part cut off; NULL for a path that left the root. */
static const char *root_relative(struct vc_ctx *ctx, const char *path) {
        if (vc_ctx_is_host(ctx))
                return path;
        const char *root = vc_ctx_root(ctx);
        size_t l = strlen(root);
        return strncmp(path, root, l) == 0 && path[l] == '/' ? path + l : NULL;
}

static int set_add(struct vc_critical_set *s, const struct vc_pci_addr *a, const char *reason);

static int via_add(struct vc_critical_set *s, const char *syspath, const char *reason) {
        struct via *v = realloc(s->vias, (s->n_vias + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        s->vias = v;
        char *p = strdup(syspath), *r = reason_dup(reason);
        if (!p || !r) {
                free(p);
                free(r);
                return -ENOMEM;
        }
        v[s->n_vias++] = (struct via){ .syspath = p, .reason = r, .in_use = s->scanning_use };
        return 0;
}

/* As set_add(), found through the device at @syspath, which is remembered (inside the root, as
 * the kernel would show it). */
static int set_add_via(struct vc_ctx *ctx, struct vc_critical_set *s, const struct vc_pci_addr *a, const char *reason,
                       const char *syspath) {
        int r = via_add(s, root_relative(ctx, syspath) ?: syspath, reason);
        return r < 0 ? r : set_add(s, a, reason);
}

/* The first reason found for a device is kept, except that the host's own need (the root file
 * system, a route, the console) takes the place of a mere use, whichever the scan met first. */
static int set_add(struct vc_critical_set *s, const struct vc_pci_addr *a, const char *reason) {
        bool in_use = s->scanning_use;
        for (size_t i = 0; i < s->n; i++) {
                if (!vc_pci_addr_equal(&s->items[i].addr, a))
                        continue;
                if (!s->items[i].in_use || in_use)
                        return 0;
                char *r = reason_dup(reason);
                if (!r)
                        return -ENOMEM;
                free(s->items[i].reason);
                s->items[i].reason = r;
                s->items[i].in_use = false;
                log_debug("%s is critical: %s", VC_PCI_ADDR_TO_STRING(a), r);
                return 0;
        }
        struct critical *v = realloc(s->items, (s->n + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        s->items = v;
        char *r = reason_dup(reason);
        if (!r)
                return -ENOMEM;
        v[s->n++] = (struct critical){ .addr = *a, .reason = r, .in_use = in_use };
        log_debug("%s is critical: %s", VC_PCI_ADDR_TO_STRING(a), r);
        return 0;
}

/* A sysfs name taken from a file: one path component, never "." or "..". */
static bool name_is_safe(const char *s) {
        if (isempty(s) || strlen(s) > 255 || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || isspace((unsigned char) *p) || iscntrl((unsigned char) *p))
                        return false;
        return true;
}

/* The canonical path: every link followed, as the kernel's path walk does. Class entries are
 * links themselves (class/net/eth0 -> ../../devices/.../net/eth0), so their relative links
 * ("device" -> ../../../virtio1) only make sense from the real directory. */
static int resolve(const char *path, char **ret) {
        return vc_path_canonical(path, ret); /* inside the root: lib/root.h */
}

/* The deepest component of @syspath that is a PCI address: the device the path hangs under.
 * A path that left the root (a link pointing outside) counts for nothing. */
static bool pci_ancestor(struct vc_ctx *ctx, const char *syspath, struct vc_pci_addr *ret) {
        const char *p = root_relative(ctx, syspath);
        bool found = false;

        if (!p)
                return false;
        while (*p) {
                p += strspn(p, "/");
                size_t n = strcspn(p, "/");
                char comp[16];
                struct vc_pci_addr a;
                if (n == 12) {
                        memcpy(comp, p, n);
                        comp[n] = '\0';
                        if (vc_pci_addr_parse(comp, &a) >= 0) {
                                *ret = a;
                                found = true;
                        }
                }
                p += n;
        }
        return found;
}

static int path_join(const char *a, const char *b, char **ret) {
        return asprintf(ret, "%s/%s", a, b) < 0 ? -ENOMEM : 0;
}

/* NVMe with native multipath: the namespace's block device sits under
 * devices/virtual/nvme-subsystem/nvme-subsysN/, next to links to its controllers
 * (nvme0 -> ../../../pci0000:00/.../nvme/nvme0). The real directory of each controller of @disk
 * (NULL-terminated; empty for a disk elsewhere). -ENOMEM. */
static int nvme_subsystem_controllers(const char *disk, char ***ret) {
        _cleanup_free_ char *dir = strdup(disk);
        _cleanup_strv_free_ char **names = NULL, **targets = calloc(1, sizeof(char *));
        size_t n = 0;
        int r;

        if (!dir || !targets)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash) {
                *slash = '\0';
                slash = strrchr(dir, '/');
        }
        if (slash && startswith(slash + 1, "nvme-subsys") && vc_dir_list(dir, &names) >= 0)
                for (char **i = names; *i; i++) {
                        _cleanup_free_ char *link = NULL;
                        char *target = NULL;
                        const char *num = startswith(*i, "nvme");
                        if (!num || !*num || strspn(num, "0123456789") != strlen(num))
                                continue; /* controllers only: nvme0, not nvme0n1 or nvme-subsys0 */
                        if ((r = path_join(dir, *i, &link)) < 0)
                                return r;
                        if ((r = resolve(link, &target)) == -ENOMEM)
                                return r;
                        if (r >= 0 && (r = strv_push(&targets, &n, target)) < 0)
                                return r;
                }
        *ret = TAKE_PTR(targets);
        return 0;
}

/* Every controller of a multipath namespace is critical. */
static int nvme_multipath_walk(struct vc_ctx *ctx, struct vc_critical_set *s, const char *disk,
                               const char *reason) {
        _cleanup_strv_free_ char **controllers = NULL;
        int r = nvme_subsystem_controllers(disk, &controllers);
        if (r < 0)
                return r;
        for (char **c = controllers; *c; c++) {
                struct vc_pci_addr a;
                if (pci_ancestor(ctx, *c, &a) && (r = set_add(s, &a, reason)) < 0)
                        return r;
        }
        return 0;
}

/* A block device's sysfs directory: partitions lead to their disk, stacked devices (dm, md,
 * LVM) to their slaves, and a disk to the PCI device above it. */
static int file_device(struct vc_ctx *ctx, struct vc_critical_set *s, const char *file, const char *reason);

static int block_walk(struct vc_ctx *ctx, struct vc_critical_set *s, const char *syspath,
                      const char *reason, unsigned depth) {
        _cleanup_free_ char *disk = NULL, *part = NULL, *slaves = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct vc_pci_addr a;
        int r;

        if (depth > WALK_DEPTH_MAX)
                return 0;
        disk = strdup(syspath);
        if (!disk)
                return -ENOMEM;
        if ((r = path_join(disk, "partition", &part)) < 0)
                return r;
        if (vc_path_exists(part)) {
                char *slash = strrchr(disk, '/');
                if (slash && slash != disk)
                        *slash = '\0';
        }

        if ((r = path_join(disk, "slaves", &slaves)) < 0)
                return r;
        if (vc_dir_list(slaves, &names) >= 0)
                for (char **i = names; *i; i++) {
                        _cleanup_free_ char *link = NULL, *target = NULL;
                        if (!name_is_safe(*i))
                                continue;
                        if ((r = path_join(slaves, *i, &link)) < 0)
                                return r;
                        if (resolve(link, &target) < 0)
                                continue;
                        r = block_walk(ctx, s, target, reason, depth + 1);
                        if (r < 0)
                                return r;
                }

        /* a loop device: the disk that holds its file (a root file system in an image file) */
        _cleanup_free_ char *backing = NULL, *file = NULL;
        if ((r = path_join(disk, "loop/backing_file", &backing)) < 0)
                return r;
        if (s->loop_depth < WALK_DEPTH_MAX && vc_sysfs_read(backing, &file) >= 0 && file[0] == '/') {
                s->loop_depth++; /* a tree whose loops hold each other ends here */
                r = file_device(ctx, s, file, reason);
                s->loop_depth--;
                if (r < 0)
                        return r;
        }

        if (pci_ancestor(ctx, disk, &a))
                return set_add_via(ctx, s, &a, reason, disk);
        return nvme_multipath_walk(ctx, s, disk, reason);
}

static int block_by_devnum(struct vc_ctx *ctx, struct vc_critical_set *s, unsigned maj, unsigned min,
                           const char *reason) {
        _cleanup_free_ char *link = NULL, *target = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_SYS_DEV_BLOCK, &link, "%u:%u", maj, min);
        if (r < 0)
                return r;
        r = resolve(link, &target);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        return block_walk(ctx, s, target, reason, 0);
}

/* In *@ret, the kernel's name of the block device node @real (canonical, inside the root), NULL
 * when it is none: where devtmpfs made it, /dev/NAME, or /dev/DIR/NAME for a kernel name
 * "DIR!NAME". -ENOMEM. */
static int node_kernel_name(struct vc_ctx *ctx, const char *real, char **ret) {
        const char *dev = NULL, *rel = root_relative(ctx, real);
        for (const char *p = rel; p && (p = strstr(p, "/dev/")); p++)
                dev = p + 5;
        if (!dev || isempty(dev))
                return 0;
        char *name = strdup(dev);
        if (!name)
                return -ENOMEM;
        for (char *p = name; *p; p++)
                if (*p == '/')
                        *p = '!';
        if (!name_is_safe(name)) {
                free(name);
                return 0;
        }
        *ret = name;
        return 0;
}

/* The kernel's name of the block device @dev names: "/dev/vda1" and "/dev/md0" their own,
 * "/dev/mapper/vg-root" that of the dm device whose dm/name it is ("dm-0"). NULL in *ret when
 * none; -ENOMEM. */
static int devname_kernel(struct vc_ctx *ctx, const char *dev, char **ret) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        const char *name = startswith(dev, "/dev/"), *mapper = name ? startswith(name, "mapper/") : NULL;
        int r;

        *ret = NULL;
        if (!name)
                return 0;
        if (!mapper && !strchr(name, '/'))
                return name_is_safe(name) && !(*ret = strdup(name)) ? -ENOMEM : 0;
        if (!mapper) {
                /* a link udev made (/dev/disk/by-uuid/..., /dev/VG/LV), which btrfs shows when it
                 * was mounted by it: the node it leads to, inside the root */
                _cleanup_free_ char *path = NULL, *real = NULL;
                if ((r = vc_ctx_path(ctx, VC_PLACE_ROOT, &path, "%s", dev + 1)) < 0)
                        return r == -ENOMEM ? r : 0;
                if ((r = resolve(path, &real)) < 0) { /* no node (yet): the name the link ends in */
                        _cleanup_free_ char *last = NULL;
                        if ((r = vc_sysfs_read_link_name(path, &last)) < 0)
                                return r == -ENOMEM ? r : 0;
                        return name_is_safe(last) ? (*ret = TAKE_PTR(last), 0) : 0;
                }
                return node_kernel_name(ctx, real, ret);
        }
        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &dir, "block")) < 0)
                return r;
        if (vc_dir_list(dir, &names) < 0)
                return 0;
        for (char **i = names; *i; i++) {
                _cleanup_free_ char *p = NULL, *dmname = NULL;
                if (!startswith(*i, "dm-") || !name_is_safe(*i))
                        continue;
                if (asprintf(&p, "%s/%s/dm/name", dir, *i) < 0)
                        return -ENOMEM;
                if (vc_sysfs_read(p, &dmname) >= 0 && streq(dmname, mapper))
                        return (*ret = strdup(*i)) ? 0 : -ENOMEM;
        }
        return 0;
}

/* "/dev/vda1", "/dev/mapper/vg-root", "/dev/md0": find the block device by name. */
static int block_by_devname(struct vc_ctx *ctx, struct vc_critical_set *s, const char *dev,
                            const char *reason) {
        _cleanup_free_ char *name = NULL, *link = NULL, *target = NULL;
        int r;

        if ((r = devname_kernel(ctx, dev, &name)) < 0 || !name)
                return r;
        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &link, "block/%s", name)) < 0)
                return r;
        r = resolve(link, &target);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        return block_walk(ctx, s, target, reason, 0);
}

/* Each block device of sys/class/block that can lead to a controller, by its name and the real
 * directory: one under a PCI device or an NVMe namespace of several controllers, and with
 * @stacked also a device stacked on others (dm, md: its slaves lead on). The host's zvols, loop
 * and ram devices (hundreds on a Proxmox host) are passed over. @visit's negative errno ends the
 * walk. */
typedef int (*block_visit_t)(struct vc_ctx *ctx, struct vc_critical_set *s, const char *name, const char *syspath,
                             const void *userdata);

static int block_each(struct vc_ctx *ctx, struct vc_critical_set *s, bool stacked, block_visit_t visit,
                      const void *userdata) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &dir, "block")) < 0)
                return r;
        if (vc_dir_list(dir, &names) < 0)
                return 0;
        for (char **i = names; *i; i++) {
                _cleanup_free_ char *link = NULL, *target = NULL, *slaves = NULL;
                _cleanup_strv_free_ char **below = NULL;
                struct vc_pci_addr a;
                if (!name_is_safe(*i))
                        continue;
                if ((r = path_join(dir, *i, &link)) < 0)
                        return r;
                if ((r = resolve(link, &target)) == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                if (!pci_ancestor(ctx, target, &a) && !strstr(target, "/nvme-subsystem/")) {
                        if (!stacked)
                                continue;
                        if ((r = path_join(target, "slaves", &slaves)) < 0)
                                return r;
                        if (vc_dir_list(slaves, &below) < 0 || !below[0])
                                continue;
                }
                if ((r = visit(ctx, s, *i, target, userdata)) < 0)
                        return r;
        }
        return 0;
}

struct zfs_pool {
        const char *name;
        const char *reason; /* NULL: each member's own, "controller of /dev/NAME, in use by ZFS pool P" */
};

/* block_each()'s visit for a ZFS pool (@userdata): each of its members' controllers. */
static int zfs_member_visit(struct vc_ctx *ctx, struct vc_critical_set *s, const char *name, const char *syspath,
                            const void *userdata) {
        _cleanup_free_ char *type = NULL, *label = NULL;
        const struct zfs_pool *pool = userdata;
        int r = vc_ctx_block_property(ctx, name, "ID_FS_TYPE", &type);
        if (r == -ENOMEM || r == -EOPNOTSUPP)
                return r;
        if (r < 0 || !streq(type, "zfs_member"))
                return 0;
        if ((r = vc_ctx_block_property(ctx, name, "ID_FS_LABEL", &label)) == -ENOMEM)
                return r;
        if (r < 0 || !streq(label, pool->name))
                return 0;
        if (pool->reason)
                return block_walk(ctx, s, syspath, pool->reason, 0);
        char reason[512];
        snprintf(reason, sizeof reason, "controller of /dev/%s" USE_HELD "ZFS pool %s", name, pool->name);
        return block_walk(ctx, s, syspath, reason, 0);
}

/* A ZFS file system: its source is a dataset ("rpool/ROOT/pve-1"), with no device number that
 * leads to a disk and no holders in sysfs. The pool's members are the block devices udev's blkid
 * builtin tags ID_FS_TYPE=zfs_member with the pool's name as ID_FS_LABEL (every one of a mirror
 * or a raidz): each of their controllers. Only on the running system, whose udev database
 * libudev reads (vc_ctx_block_property(); -EOPNOTSUPP elsewhere ends the walk, not the scan). */
static int block_by_zfs_pool(struct vc_ctx *ctx, struct vc_critical_set *s, const char *dataset,
                             const char *reason) {
        _cleanup_free_ char *pool = strndup(dataset, strcspn(dataset, "/"));
        int r;

        if (!pool)
                return -ENOMEM;
        if (isempty(pool))
                return 0;
        if ((r = strv_push(&s->zfs_pools, &s->n_zfs_pools, strdup(pool))) < 0)
                return r;
        r = block_each(ctx, s, true, zfs_member_visit, &(struct zfs_pool){ .name = pool, .reason = reason });
        return r == -EOPNOTSUPP ? 0 : r;
}

/* A btrfs file system may span several devices (RAID1 over two NVMe drives): the source names one
 * of them. sys/fs/btrfs/FSID/devices/ links each member of a file system; the one that holds the
 * source's device is this file system, and every member's controller is critical. */
static int block_by_btrfs_members(struct vc_ctx *ctx, struct vc_critical_set *s, const char *source,
                                  const char *reason) {
        _cleanup_free_ char *top = NULL, *name = NULL;
        _cleanup_strv_free_ char **fsids = NULL;
        int r;

        /* a member is linked by its kernel name: dm-0 for a btrfs on /dev/mapper/luks-root */
        if ((r = devname_kernel(ctx, source, &name)) < 0)
                return r;
        if (!name || (r = vc_ctx_path(ctx, VC_PLACE_SYS_FS_BTRFS, &top, NULL)) < 0 || vc_dir_list(top, &fsids) < 0)
                return 0;
        for (char **f = fsids; *f; f++) {
                _cleanup_free_ char *devices = NULL, *mine = NULL;
                _cleanup_strv_free_ char **members = NULL;
                if (!name_is_safe(*f))
                        continue;
                if (asprintf(&devices, "%s/%s/devices", top, *f) < 0) {
                        devices = NULL;
                        return -ENOMEM;
                }
                if ((r = path_join(devices, name, &mine)) < 0)
                        return r;
                if (!vc_path_exists(mine) || vc_dir_list(devices, &members) < 0)
                        continue;
                for (char **m = members; *m; m++) {
                        _cleanup_free_ char *link = NULL, *target = NULL;
                        if (!name_is_safe(*m))
                                continue;
                        if ((r = path_join(devices, *m, &link)) < 0)
                                return r;
                        if ((r = resolve(link, &target)) == -ENOMEM)
                                return r;
                        if (r >= 0 && (r = block_walk(ctx, s, target, reason, 0)) < 0)
                                return r;
                }
                return 0;
        }
        return 0;
}

/* Split a line into at most @max blank-separated fields (in place). */
static size_t split(char *line, char **fields, size_t max) {
        size_t n = 0;
        char *save = NULL;
        for (char *w = strtok_r(line, " \t\n", &save); w && n < max; w = strtok_r(NULL, " \t\n", &save))
                fields[n++] = w;
        return n;
}

static int open_proc(struct vc_ctx *ctx, const char *rel, FILE **ret) {
        _cleanup_free_ char *path = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_PROC, &path, "%s", rel);
        if (r < 0)
                return r;
        int fd = vc_path_open(path, O_RDONLY, 0);
        if (fd < 0) {
                *ret = NULL;
                /* absent (a root without /proc, a kernel without IPv6): nothing to learn from
                 * it; present but unreadable is no answer, and the scan fails rather than take
                 * it for "nothing mounted" or "no route" */
                return fd == -ENOENT ? 0 : fd;
        }
        *ret = fdopen(fd, "re");
        if (!*ret) {
                close(fd);
                return -ENOMEM;
        }
        return 0;
}

/* Has @key been seen? Added to *@seen (*@n of them) when not: 0. 1, or -ENOMEM. */
static int seen_before(char ***seen, size_t *n, const char *key) {
        for (size_t i = 0; i < *n; i++)
                if (streq((*seen)[i], key))
                        return 1;
        return strv_push(seen, n, strdup(key));
}

/* One line of proc/self/mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE
 * SOURCE SUPEROPTS. The strings point into @line, which split() cuts up. */
struct mount_line {
        unsigned maj, min;
        const char *mnt, *fstype, *source, *options; /* options: the super block's, "" if none */
};

static bool mount_line_parse(char *line, struct mount_line *ret) {
        char *fields[64];
        size_t n = split(line, fields, ELEMENTSOF(fields)), sep;
        if (n < 7 || sscanf(fields[2], "%u:%u", &ret->maj, &ret->min) != 2)
                return false;
        for (sep = 6; sep < n && !streq(fields[sep], "-"); sep++)
                ;
        if (sep + 2 >= n)
                return false;
        ret->mnt = fields[4];
        ret->fstype = fields[sep + 1];
        ret->source = fields[sep + 2];
        ret->options = sep + 3 < n ? fields[sep + 3] : "";
        return true;
}

static int netdev_walk(struct vc_ctx *ctx, struct vc_critical_set *s, const char *iface, const char *reason,
                       unsigned depth);

/* A file system the host needs on a server (NFS, SMB: / on NFS, a diskless host): the NIC of the
 * route to the server, which the super block's addr= names. */
static int network_fs_nic(struct vc_ctx *ctx, struct vc_critical_set *s, const struct mount_line *m, const char *what) {
        static const char *const fstypes[] = { "nfs", "nfs4", "cifs", "smb3" };
        bool network = false;
        for (size_t i = 0; i < ELEMENTSOF(fstypes); i++)
                network = network || streq(m->fstype, fstypes[i]);
        if (!network)
                return 0;
        for (const char *o = m->options; o && *o; o += strcspn(o, ",") + (o[strcspn(o, ",")] ? 1 : 0)) {
                const char *v = startswith(o, "addr=");
                if (!v)
                        continue;
                char addr[64], reason[256];
                _cleanup_free_ char *iface = NULL;
                snprintf(addr, sizeof addr, "%.*s", (int) strcspn(v, ","), v);
                if (vc_route_iface(ctx, addr, &iface) == -ENOMEM)
                        return -ENOMEM;
                if (!iface)
                        return 0;
                snprintf(reason, sizeof reason, "NIC of %s's server (%.64s, through %s)", what, addr, iface);
                int r = netdev_walk(ctx, s, iface, reason, 0);
                return r < 0 ? r : 0;
        }
        return 0;
}

/* Every file system mounted from a block device: those the host cannot lose (/, /boot, /usr, /var)
 * and, as a use that protects the same way, any other (a /home, a /srv/data, a USB stick under
 * /media): taking its controller away under a mounted file system loses its unwritten data. Bind
 * mounts and the datasets of one ZFS pool are walked once. */
static int scan_mounts(struct vc_ctx *ctx, struct vc_critical_set *s) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_strv_free_ char **seen = NULL;
        size_t size = 0, n_seen = 0;
        int r;

        if ((r = open_proc(ctx, "self/mountinfo", &f)) < 0 || !f)
                return r;
        while (getline(&line, &size, f) > 0) {
                struct mount_line m;
                char reason[512], key[600];
                const char *what = NULL;

                if (!mount_line_parse(line, &m))
                        continue;
                unsigned maj = m.maj, min = m.min;
                const char *mnt = m.mnt, *fstype = m.fstype, *source = m.source;
                bool zfs = streq(fstype, "zfs");
                if (streq(mnt, "/"))
                        what = "the root filesystem";
                else if (streq(mnt, "/boot"))
                        what = "the /boot filesystem";
                else if (streq(mnt, "/boot/efi"))
                        what = "the /boot/efi filesystem";
                else if (streq(mnt, "/usr")) /* a separate /usr is the system's (systemd mounts it in the initramfs) */
                        what = "the /usr filesystem";
                else if (streq(mnt, "/var")) /* the journal, the package database, libvirt's own state */
                        what = "the /var filesystem";
                if (what && (r = network_fs_nic(ctx, s, &m, what)) < 0)
                        return r;
                if (!what && maj == 0 && !zfs && !startswith(source, "/dev/"))
                        continue; /* proc, tmpfs, overlay, nfs: no block device */
                /* One walk for each device (bind mounts) and each ZFS pool (its datasets) as a use;
                 * a file system the host needs is walked for its own reason all the same. */
                if (zfs)
                        snprintf(key, sizeof key, "zfs %.*s", (int) strcspn(source, "/"), source);
                else if (maj != 0)
                        snprintf(key, sizeof key, "%u:%u", maj, min);
                else
                        snprintf(key, sizeof key, "%s", source);
                if ((r = seen_before(&seen, &n_seen, key)) < 0)
                        return r;
                if (what)
                        snprintf(reason, sizeof reason, "controller of %s %s", what, source);
                else if (r > 0)
                        continue;
                else
                        snprintf(reason, sizeof reason, "controller of %s" USE_MOUNTED "%s", source, mnt);
                s->scanning_use = !what;
                if (zfs)
                        r = block_by_zfs_pool(ctx, s, source, reason);
                else if (maj != 0)
                        r = block_by_devnum(ctx, s, maj, min, reason);
                else /* btrfs and friends: an anonymous device number; the source names the disk */
                        r = block_by_devname(ctx, s, source, reason);
                if (r >= 0 && streq(fstype, "btrfs"))
                        r = block_by_btrfs_members(ctx, s, source, reason);
                s->scanning_use = false;
                if (r < 0)
                        return r;
        }
        return ferror(f) ? -EIO : 0; /* a read that failed is no end of the file */
}

/* block_each()'s visit for a device with holders: its controller, the first holder named. */
static int holders_visit(struct vc_ctx *ctx, struct vc_critical_set *s, const char *name, const char *syspath,
                         const void *userdata) {
        _cleanup_free_ char *holders = NULL, *dmname = NULL, *p = NULL;
        _cleanup_strv_free_ char **above = NULL;
        char reason[512];
        int r;

        (void) userdata;
        if ((r = path_join(syspath, "holders", &holders)) < 0)
                return r;
        if (vc_dir_list(holders, &above) < 0 || !above[0] || !name_is_safe(above[0]))
                return 0;
        /* "dm-0 (vg0-data)": the mapping's name where it has one */
        if (asprintf(&p, "%s/%s/dm/name", holders, above[0]) < 0) {
                p = NULL;
                return -ENOMEM;
        }
        if (vc_sysfs_read(p, &dmname) >= 0 && name_is_safe(dmname))
                snprintf(reason, sizeof reason, "controller of /dev/%s" USE_HELD "%s (%s)", name, above[0], dmname);
        else
                snprintf(reason, sizeof reason, "controller of /dev/%s" USE_HELD "%s", name, above[0]);
        return block_walk(ctx, s, syspath, reason, 0);
}

/* ZFS keeps no holders in sysfs: a pool imported with no data set mounted (only the zvols of VMs,
 * or mountpoint=none) shows only in proc/spl/kstat/zfs/POOL/ (its "state"). Its members are in use
 * by the pool, each named: "controller of /dev/sdb1, in use by ZFS pool tank". A pool a mount
 * walked already is not walked again. Only on the running system, as block_by_zfs_pool(). */
static int scan_zfs_pools(struct vc_ctx *ctx, struct vc_critical_set *s) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        if ((r = vc_ctx_path(ctx, VC_PLACE_PROC, &dir, "spl/kstat/zfs")) < 0)
                return r;
        if (vc_dir_list(dir, &names) < 0)
                return 0; /* no ZFS */
        for (char **i = names; *i; i++) {
                _cleanup_free_ char *state = NULL;
                bool walked = false;
                if (!name_is_safe(*i))
                        continue;
                for (size_t k = 0; k < s->n_zfs_pools && !walked; k++)
                        walked = streq(s->zfs_pools[k], *i);
                if (asprintf(&state, "%s/%s/state", dir, *i) < 0) {
                        state = NULL;
                        return -ENOMEM;
                }
                if (walked || !vc_path_exists(state))
                        continue; /* not a pool: arcstats, dbufstats, fm, ... are files */
                if ((r = strv_push(&s->zfs_pools, &s->n_zfs_pools, strdup(*i))) < 0)
                        return r;
                s->scanning_use = true;
                r = block_each(ctx, s, true, zfs_member_visit, &(struct zfs_pool){ .name = *i });
                s->scanning_use = false;
                if (r == -EOPNOTSUPP)
                        return 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Block devices others are built on: a physical volume of an active LVM volume group (whose
 * logical volumes may be other VMs' disks), a member of an MD array, the device under a dm-crypt
 * mapping, unmounted or not. sysfs links each one's holders under holders/. */
static int scan_holders(struct vc_ctx *ctx, struct vc_critical_set *s) {
        s->scanning_use = true;
        int r = block_each(ctx, s, false, holders_visit, NULL);
        s->scanning_use = false;
        return r;
}

/* Is @mnt (a mount point as mountinfo spells it) @path or a directory above it? */
static bool mount_point_holds(const char *mnt, const char *path) {
        if (streq(mnt, "/"))
                return true;
        size_t l = strlen(mnt);
        return strncmp(mnt, path, l) == 0 && (path[l] == '/' || path[l] == '\0');
}

/* The mount that holds @path (absolute, escaped as the kernel escapes it in proc/swaps and in
 * mountinfo): of the mount points above it the longest, and of those the last mounted. 1 with its
 * device numbers, type and source, 0 when none. */
static int mount_of_path(struct vc_ctx *ctx, const char *path, unsigned *ret_maj, unsigned *ret_min,
                         char **ret_fstype, char **ret_source) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL, *fstype = NULL, *source = NULL;
        size_t size = 0, best = 0;
        int r;
        if ((r = open_proc(ctx, "self/mountinfo", &f)) < 0 || !f)
                return r;
        while (getline(&line, &size, f) > 0) {
                struct mount_line m;
                if (!mount_line_parse(line, &m) || !mount_point_holds(m.mnt, path) || strlen(m.mnt) < best)
                        continue;
                free(fstype);
                free(source);
                fstype = strdup(m.fstype);
                source = strdup(m.source);
                if (!fstype || !source)
                        return -ENOMEM;
                best = strlen(m.mnt);
                *ret_maj = m.maj;
                *ret_min = m.min;
        }
        if (ferror(f))
                return -EIO;
        if (!fstype)
                return 0;
        *ret_fstype = TAKE_PTR(fstype);
        *ret_source = TAKE_PTR(source);
        return 1;
}

/* A swap file: the device of the file system holding it. A file system with an anonymous device
 * number (btrfs: each subvolume has its own, which mountinfo need not show) is found by the mount
 * that holds the file, and its source names the disk, as in scan_mounts(). */
static int file_device(struct vc_ctx *ctx, struct vc_critical_set *s, const char *file, const char *reason) {
        _cleanup_free_ char *path = NULL, *fstype = NULL, *source = NULL;
        struct stat st;
        unsigned maj = 0, min = 0;
        int r;
        if ((r = vc_ctx_path(ctx, VC_PLACE_ROOT, &path, "%s", file + 1)) < 0)
                return r == -EINVAL ? 0 : r;
        /* the file's own device; else (not to be seen from here, or on a file system of no
         * device number) the mount it lies in */
        if (vc_path_stat(path, &st) >= 0 && major(st.st_dev) != 0)
                return block_by_devnum(ctx, s, major(st.st_dev), minor(st.st_dev), reason);
        if ((r = mount_of_path(ctx, file, &maj, &min, &fstype, &source)) <= 0)
                return r;
        if (maj != 0)
                r = block_by_devnum(ctx, s, maj, min, reason);
        else if (startswith(source, "/dev/"))
                r = block_by_devname(ctx, s, source, reason);
        if (r >= 0 && streq(fstype, "btrfs"))
                r = block_by_btrfs_members(ctx, s, source, reason);
        return r;
}

static int scan_swaps(struct vc_ctx *ctx, struct vc_critical_set *s) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        bool header = true;
        int r;

        if ((r = open_proc(ctx, "swaps", &f)) < 0 || !f)
                return r;
        while (getline(&line, &size, f) > 0) {
                char *fields[5];
                char reason[512];
                if (header) { /* Filename Type Size Used Priority */
                        header = false;
                        continue;
                }
                if (split(line, fields, ELEMENTSOF(fields)) < 2 || fields[0][0] != '/')
                        continue;
                snprintf(reason, sizeof reason, "controller of swap %s", fields[0]);
                if (streq(fields[1], "partition"))
                        r = block_by_devname(ctx, s, fields[0], reason);
                else
                        r = file_device(ctx, s, fields[0], reason);
                if (r < 0)
                        return r;
        }
        return ferror(f) ? -EIO : 0;
}

/* An interface: its device's PCI ancestor, or, for bridges, bonds and VLANs, its lower
 * interfaces'. */
static int netdev_walk(struct vc_ctx *ctx, struct vc_critical_set *s, const char *iface,
                       const char *reason, unsigned depth) {
        _cleanup_free_ char *dev = NULL, *target = NULL, *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct vc_pci_addr a;
        int r;

        if (depth > WALK_DEPTH_MAX || !name_is_safe(iface))
                return 0;
        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &dev, "net/%s/device", iface)) < 0)
                return r;
        if (resolve(dev, &target) >= 0 && pci_ancestor(ctx, target, &a))
                return (r = set_add_via(ctx, s, &a, reason, target)) < 0 ? r : 1;

        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &dir, "net/%s", iface)) < 0)
                return r;
        if (vc_dir_list(dir, &names) < 0)
                return 0;
        bool found = false;
        for (char **i = names; *i; i++) {
                const char *lower = startswith(*i, "lower_");
                if (lower && (r = netdev_walk(ctx, s, lower, reason, depth + 1)) < 0)
                        return r;
                found = found || (lower && r > 0);
        }
        return found;
}

/* 1: the default route's interface leads to no PCI device (a PPPoE link, a VPN's tun or
 * WireGuard interface, a GRE tunnel: none has a device or a lower link). */
static int default_route_nic(struct vc_ctx *ctx, struct vc_critical_set *s, const char *iface) {
        char reason[128];
        if (!name_is_safe(iface) || streq(iface, "lo"))
                return 0;
        snprintf(reason, sizeof reason, "NIC of the default route (%s)", iface);
        int r = netdev_walk(ctx, s, iface, reason, 0);
        return r < 0 ? r : r == 0;
}

/* A default route through an interface of no device: what carries it is a NIC the interface
 * names nowhere. PPPoE says which in proc/net/pppoe; a tunnel reaches its far end through a
 * route with a gateway (a VPN's host route to its server). Those NICs are protected, every one
 * of them, rather than none. */
static int virtual_default_route_nics(struct vc_ctx *ctx, struct vc_critical_set *s, const char *virt,
                                      char *const *gateway_ifaces) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        char reason[192];
        int r;

        if ((r = open_proc(ctx, "net/pppoe", &f)) < 0)
                return r;
        while (f && getline(&line, &size, f) > 0) { /* Id Address Device */
                char *fields[3];
                if (split(line, fields, ELEMENTSOF(fields)) < 3 || streq(fields[2], "Device"))
                        continue;
                snprintf(reason, sizeof reason, "NIC of the default route's PPPoE link (%s over %s)", virt, fields[2]);
                if ((r = netdev_walk(ctx, s, fields[2], reason, 0)) < 0)
                        return r;
        }
        if (f && ferror(f))
                return -EIO;
        for (char *const *i = gateway_ifaces; i && *i; i++) {
                snprintf(reason, sizeof reason, "NIC of a route with a gateway (%s), which the default route "
                         "through %s may ride", *i, virt);
                if ((r = netdev_walk(ctx, s, *i, reason, 0)) < 0)
                        return r;
        }
        return 0;
}

static int scan_routes(struct vc_ctx *ctx, struct vc_critical_set *s) {
        _cleanup_fclose_ FILE *f4 = NULL, *f6 = NULL;
        _cleanup_free_ char *line = NULL, *virt = NULL;
        _cleanup_strv_free_ char **gateways = NULL;
        size_t size = 0, n_gateways = 0;
        bool header = true;
        int r;

        /* Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT */
        if ((r = open_proc(ctx, "net/route", &f4)) < 0)
                return r;
        while (f4 && getline(&line, &size, f4) > 0) {
                char *fields[11];
                unsigned flags;
                if (header) {
                        header = false;
                        continue;
                }
                if (split(line, fields, ELEMENTSOF(fields)) < 8 || sscanf(fields[3], "%x", &flags) != 1)
                        continue;
                if (!(flags & RTF_UP_FLAG) || (flags & RTF_REJECT_FLAG))
                        continue;
                if ((flags & RTF_GATEWAY_FLAG) && !streq(fields[1], "00000000") && name_is_safe(fields[0]) &&
                    (r = strv_push(&gateways, &n_gateways, strdup(fields[0]))) < 0)
                        return r;
                if (!streq(fields[1], "00000000") || !streq(fields[7], "00000000"))
                        continue;
                if ((r = default_route_nic(ctx, s, fields[0])) < 0)
                        return r;
                if (r > 0 && !virt && !(virt = strdup(fields[0])))
                        return -ENOMEM;
        }
        if (f4 && ferror(f4))
                return -EIO;

        /* DEST PLEN SRC SPLEN NEXTHOP METRIC REFCNT USE FLAGS IFACE */
        if ((r = open_proc(ctx, "net/ipv6_route", &f6)) < 0)
                return r;
        while (f6 && getline(&line, &size, f6) > 0) {
                char *fields[10];
                unsigned flags;
                if (split(line, fields, ELEMENTSOF(fields)) < 10 || sscanf(fields[8], "%x", &flags) != 1)
                        continue;
                if (strspn(fields[0], "0") != 32 || fields[0][32] || !streq(fields[1], "00") ||
                    !(flags & RTF_UP_FLAG) || (flags & RTF_REJECT_FLAG))
                        continue;
                if ((r = default_route_nic(ctx, s, fields[9])) < 0)
                        return r;
                if (r > 0 && !virt && !(virt = strdup(fields[9])))
                        return -ENOMEM;
        }
        if (f6 && ferror(f6))
                return -EIO;
        return virt ? virtual_default_route_nics(ctx, s, virt, gateways) : 0;
}

/* The device of the terminal the command runs on (a serial line on a PCI card or a USB adapter:
 * "ttyUSB0"), through sys/dev/char. A virtual terminal's is virtual: no device. */
static int scan_terminal(struct vc_ctx *ctx, struct vc_critical_set *s, unsigned major, unsigned minor) {
        _cleanup_free_ char *p = NULL, *target = NULL;
        struct vc_pci_addr a;
        char reason[256];
        int r;

        if ((r = vc_ctx_path(ctx, VC_PLACE_SYS_DEV_CHAR, &p, "%u:%u", major, minor)) < 0)
                return r;
        if ((r = resolve(p, &target)) < 0)
                return r == -ENOMEM ? r : 0;
        const char *name = strrchr(target, '/');
        if (!name || !name_is_safe(++name) || !pci_ancestor(ctx, target, &a))
                return 0;
        snprintf(reason, sizeof reason, "controller of the terminal this command runs on (%s)", name);
        return set_add_via(ctx, s, &a, reason, target);
}

/* The IOMMU group number of @a ("8"), or its address when it has none; -ENOMEM. */
static int group_key(struct vc_ctx *ctx, const struct vc_pci_addr *a, char **ret) {
        _cleanup_free_ char *p = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s/iommu_group", VC_PCI_ADDR_TO_STRING(a));
        if (r < 0)
                return r;
        r = vc_sysfs_read_link_name(p, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0 && !(*ret = strdup(VC_PCI_ADDR_TO_STRING(a))))
                return -ENOMEM;
        return 0;
}

/* An admin at the machine (@where: "tty2", "the graphical session :0") types on its keyboards:
 * when every keyboard the admin could use sits below PCI devices of one IOMMU group (the xHCI
 * controller of a desktop), a claim of that group leaves the console without one, and those
 * devices are critical. A keyboard no claim can take (a PS/2 or a laptop's, on the i8042) leaves
 * nothing to protect (lib/input.h leaves out the virtual ones); keyboards in several groups are
 * kept for vc_critical_keyboards_take(): one command may not claim them all. */
static int scan_keyboards(struct vc_ctx *ctx, struct vc_critical_set *s, const char *where) {
        struct vc_keyboard *kb = NULL;
        _cleanup_free_ struct vc_pci_addr *addrs = NULL;
        _cleanup_free_ char *group = NULL;
        size_t n = 0;
        bool all_below_pci = true, all_in_group = true;
        int r;

        if ((r = vc_input_keyboards(ctx, &kb, &n)) < 0)
                return r;
        if (n > 0 && !(addrs = calloc(n, sizeof *addrs)))
                r = -ENOMEM;
        for (size_t i = 0; i < n && r >= 0 && all_below_pci; i++) {
                _cleanup_free_ char *key = NULL;
                /* a keyboard no claim can take (i8042's) stays whatever is claimed */
                all_below_pci = pci_ancestor(ctx, kb[i].syspath, &addrs[i]);
                if (!all_below_pci)
                        break;
                if ((r = group_key(ctx, &addrs[i], &key)) < 0)
                        break;
                all_in_group = all_in_group && (!group || streq(group, key));
                if (!group)
                        group = TAKE_PTR(key);
        }
        for (size_t i = 0; i < n && r >= 0 && all_below_pci; i++) {
                char reason[512];
                snprintf(reason, sizeof reason, "controller of the keyboard of the console this command runs on (%s: %s)",
                         where, isempty(kb[i].name) ? "unnamed" : kb[i].name);
                if (all_in_group) {
                        r = set_add(s, &addrs[i], reason);
                        continue;
                }
                /* below several groups: no one claim takes them all, several may
                 * (vc_critical_keyboards_take()) */
                struct keyboard_spot *v = realloc(s->keyboards, (s->n_keyboards + 1) * sizeof *v);
                if (!v) {
                        r = -ENOMEM;
                        break;
                }
                s->keyboards = v;
                v[s->n_keyboards] = (struct keyboard_spot){ .addr = addrs[i], .reason = reason_dup(reason) };
                if (!v[s->n_keyboards].reason) {
                        r = -ENOMEM;
                        break;
                }
                s->n_keyboards++;
        }
        vc_keyboards_free(kb, n);
        return r < 0 ? r : 0;
}

const char *vc_critical_keyboards_take(struct vc_critical_set *s, const struct vc_pci_addr *addrs, size_t n,
                                       const struct vc_pci_addr **ret_addr) {
        size_t left = 0;
        const struct keyboard_spot *hit = NULL;
        if (!s || s->n_keyboards == 0)
                return NULL;
        for (size_t i = 0; i < s->n_keyboards; i++) {
                bool below = false;
                for (size_t j = 0; j < n && !below; j++)
                        below = vc_pci_addr_equal(&s->keyboards[i].addr, &addrs[j]);
                if (below && !s->keyboards[i].taken && !hit)
                        hit = &s->keyboards[i];
                left += !s->keyboards[i].taken && !below;
        }
        if (!hit)
                return NULL; /* none of the keyboards left */
        if (left == 0) {
                if (ret_addr)
                        *ret_addr = &hit->addr;
                return hit->reason;
        }
        for (size_t i = 0; i < s->n_keyboards; i++)
                for (size_t j = 0; j < n; j++)
                        if (vc_pci_addr_equal(&s->keyboards[i].addr, &addrs[j]))
                                s->keyboards[i].taken = true;
        return NULL;
}

static bool virtual_terminal_active(struct vc_ctx *ctx);

/* The terminal behind /dev/console (5:1), where a rescue or emergency shell runs: the last console
 * that sys/class/tty/console/active lists (Linux's sysfs-tty ABI: "the last entry in the file is
 * the active device connected to /dev/console"). A virtual terminal ("tty0", "tty1") sets
 * *ret_vt; a serial line ("ttyS0", "ttyUSB0") its device numbers, from sys/class/tty/NAME/dev.
 * Without the file, a virtual terminal; one that names nothing readable: neither. */
static void dev_console_terminal(struct vc_ctx *ctx, bool *ret_vt, unsigned *ret_major, unsigned *ret_minor) {
        _cleanup_free_ char *p = NULL, *active = NULL, *dev = NULL;
        const char *last = NULL;
        *ret_vt = false;
        *ret_major = *ret_minor = 0;
        if (vc_ctx_path(ctx, VC_PLACE_CLASS, &p, "tty/console/active") < 0 || vc_sysfs_read(p, &active) < 0) {
                *ret_vt = true;
                return;
        }
        for (char *save = NULL, *t = strtok_r(active, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
                last = t;
        if (!last || !name_is_safe(last))
                return;
        const char *n = startswith(last, "tty");
        if (n && *n && strspn(n, "0123456789") == strlen(n)) {
                *ret_vt = true;
                return;
        }
        free(p);
        p = NULL;
        unsigned maj, min;
        char end;
        if (vc_ctx_path(ctx, VC_PLACE_CLASS, &p, "tty/%s/dev", last) < 0 || vc_sysfs_read(p, &dev) < 0 ||
            sscanf(dev, "%u:%u%c", &maj, &min, &end) != 2)
                return;
        *ret_major = maj;
        *ret_minor = min;
}

/* Where an admin running the command sits (lib/session.h), when the context asks for it (the
 * CLI): the NIC of an SSH session (taking it cuts the session the command runs in), the device of
 * the terminal it runs on, and when that is a virtual terminal (tty0 to tty63; the console, 5:1,
 * when the last console is one, dev_console_terminal()) or a local graphical session, the
 * controllers of the last keyboards. A session is no part of the host an initramfs lists: a use. */
static int scan_session(struct vc_ctx *ctx, struct vc_critical_set *s) {
        _cleanup_(vc_session_done) struct vc_session sess = { 0 };
        char where[64] = "";
        int r;

        if (!vc_ctx_get_session_critical(ctx))
                return 0;
        if ((r = vc_session_read(ctx, &sess)) < 0)
                return r;
        s->scanning_use = true;
        for (size_t i = 0; i < sess.n_links && r >= 0; i++) {
                char reason[256];
                snprintf(reason, sizeof reason, "NIC of the SSH session this command runs in (%s, from %s)",
                         sess.links[i].iface, sess.links[i].peer);
                if (name_is_safe(sess.links[i].iface))
                        r = netdev_walk(ctx, s, sess.links[i].iface, reason, 0);
        }
        unsigned major = sess.tty_major, minor = sess.tty_minor;
        if (major == 5 && minor == 1) {
                bool vt;
                dev_console_terminal(ctx, &vt, &major, &minor);
                if (vt)
                        snprintf(where, sizeof where, "console");
                s->session_on_vt = vt;
        }
        if (r >= 0 && major == 4 && minor <= 63) { /* tty0: the foreground one */
                snprintf(where, sizeof where, "tty%u", minor);
                s->session_on_vt = true;
        }
        else if (r >= 0 && major != 0 && !*where)
                r = scan_terminal(ctx, s, major, minor);
        if (r >= 0 && !*where && sess.display) {
                _cleanup_free_ char *shown = reason_dup(sess.display);
                if (!shown)
                        r = -ENOMEM;
                else
                        snprintf(where, sizeof where, "the graphical session %s", shown);
        }
        if (r >= 0 && *where)
                r = scan_keyboards(ctx, s, where);
        s->scanning_use = false;
        return r < 0 ? r : 0;
}

/* Is a framebuffer console bound (fbcon), and which PCI devices do framebuffers sit on? */
static int console_state(struct vc_ctx *ctx, bool *ret_fbcon, struct vc_pci_addr **ret_fbs, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ struct vc_pci_addr *fbs = NULL;
        struct vc_vtconsole *vts = NULL;
        size_t n = 0, n_vts = 0;
        int r;

        *ret_fbcon = false;
        if ((r = vc_display_vtconsoles(ctx, &vts, &n_vts)) < 0)
                return r;
        /* fbcon ("frame buffer device") or the VGA text console ("VGA+") */
        for (size_t i = 0; i < n_vts; i++)
                *ret_fbcon = *ret_fbcon || (vts[i].bound && (strstr(vts[i].driver, "frame buffer") ||
                                                             strstr(vts[i].driver, "VGA+")));
        vc_vtconsoles_free(vts, n_vts);

        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &dir, "graphics")) < 0)
                return r;
        if (vc_dir_list(dir, &names) >= 0)
                for (char **i = names; *i; i++) {
                        _cleanup_free_ char *p = NULL, *target = NULL;
                        struct vc_pci_addr a;
                        if (!startswith(*i, "fb") || !name_is_safe(*i))
                                continue;
                        if (asprintf(&p, "%s/%s/device", dir, *i) < 0)
                                return -ENOMEM;
                        if (resolve(p, &target) < 0 || !pci_ancestor(ctx, target, &a))
                                continue;
                        struct vc_pci_addr *v = realloc(fbs, (n + 1) * sizeof *v);
                        if (!v)
                                return -ENOMEM;
                        fbs = v;
                        fbs[n++] = a;
                }
        *ret_fbs = TAKE_PTR(fbs);
        *ret_n = n;
        return 0;
}

/* Is a virtual terminal among the consoles the kernel writes to? /sys/class/tty/console/active
 * lists them ("tty0 ttyS0"); with console=ttyS0 alone the admin is on the serial line and the
 * VGA drives no console anyone uses. Without the file, assume it does. */
static bool virtual_terminal_active(struct vc_ctx *ctx) {
        _cleanup_free_ char *p = NULL, *active = NULL;
        if (vc_ctx_path(ctx, VC_PLACE_CLASS, &p, "tty/console/active") < 0 || vc_sysfs_read(p, &active) < 0)
                return true;
        for (char *save = NULL, *t = strtok_r(active, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                const char *n = startswith(t, "tty");
                if (n && *n && strspn(n, "0123456789") == strlen(n))
                        return true;
        }
        return false;
}

/* The devices whose boot_vga reads 1, among @only (NULL: every PCI device). Only that attribute
 * of each device is read (the kernel shows it on VGA controllers alone), not the whole device, at
 * one open(2) each inside the root, so a host with thousands of functions pays one failed open
 * per function here (docs/PERFORMANCE.md, "Scale"). */
static int boot_vga_devices(struct vc_ctx *ctx, const struct vc_pci_addr *only, size_t n_only,
                            struct vc_pci_addr **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL, *p = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ struct vc_pci_addr *v = NULL, *all = NULL;
        size_t n = 0, n_all = 0, root_len = 0;
        int r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &dir, NULL);
        if (r < 0)
                return r;
        if (!only) {
                r = vc_dir_list(dir, &names);
                if (r < 0)
                        return r;
                for (char **i = names; *i; i++)
                        n_all++;
                all = calloc(n_all + 1, sizeof *all);
                if (!all)
                        return -ENOMEM;
                n_all = 0;
                for (char **i = names; *i; i++)
                        if (vc_pci_addr_parse(*i, &all[n_all]) >= 0) /* never build a path from another name */
                                n_all++;
                only = all;
                n_only = n_all;
        }
        _cleanup_close_ int rootfd = vc_path_root_fd(dir, &root_len);
        if (rootfd < 0 && rootfd != -ENOENT)
                return rootfd;
        size_t dl = strlen(dir);
        p = malloc(dl + sizeof "/0000:00:00.0/boot_vga");
        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < n_only; i++) {
                char buf[16];
                sprintf(p, "%s/%s/boot_vga", dir, VC_PCI_ADDR_TO_STRING(&only[i]));
                _cleanup_close_ int fd = vc_path_open_under(rootfd, root_len, p, O_RDONLY | O_NOCTTY);
                if (fd < 0)
                        continue;
                ssize_t k = read(fd, buf, sizeof buf - 1);
                if (k <= 0)
                        continue;
                buf[k] = '\0';
                char *end;
                long on = strtol(buf, &end, 10); /* as vc_sysfs_read_int(): any other number is on */
                if (end == buf || (*end && !streq(end, "\n")) || on == 0)
                        continue;
                struct vc_pci_addr *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv)
                        return -ENOMEM;
                v = nv;
                v[n++] = only[i];
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static int scan_console(struct vc_ctx *ctx, struct vc_critical_set *s) {
        _cleanup_free_ struct vc_pci_addr *fbs = NULL, *vgas = NULL;
        size_t n_fbs = 0, n_vgas = 0;
        bool fbcon;
        int r;

        /* console=ttyS0 alone takes the kernel's messages off the VTs, but a getty (and this
         * command) may still run on one, which fbcon shows on the boot VGA */
        if (!s->session_on_vt && !virtual_terminal_active(ctx))
                return 0;
        if ((r = console_state(ctx, &fbcon, &fbs, &n_fbs)) < 0)
                return r;
        /* Without fbcon, only a boot VGA a framebuffer sits on drives the console: none to look
         * for when there is no such framebuffer. */
        if (!fbcon && n_fbs == 0)
                return 0;
        r = boot_vga_devices(ctx, fbcon ? NULL : fbs, n_fbs, &vgas, &n_vgas);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        for (size_t i = 0; i < n_vgas && r >= 0; i++) {
                bool active = fbcon;
                for (size_t j = 0; j < n_fbs; j++)
                        active = active || vc_pci_addr_equal(&fbs[j], &vgas[i]);
                if (active)
                        r = set_add(s, &vgas[i], CONSOLE_REASON);
        }
        return r < 0 ? r : 0;
}

/* ------------------------------------------------------------------ block devices below a device */

struct nodes_below {
        const char *const *devices;
        size_t n_devices;
        char **nodes; /* NULL-terminated */
        size_t *owner; /* owner[i]: the index in devices of the one nodes[i] lies below */
        size_t n;
};

/* Is the block device at @syspath below the device named @device? A multipath NVMe namespace (or
 * its partition) is below each of its controllers. */
static int block_is_below(struct vc_ctx *ctx, const char *syspath, const char *device) {
        const char *rel = root_relative(ctx, syspath);
        if (!rel)
                return 0;
        if (path_has_component(rel, device))
                return 1;
        if (!strstr(rel, "/nvme-subsystem/"))
                return 0;
        _cleanup_free_ char *disk = strdup(syspath), *part = NULL;
        _cleanup_strv_free_ char **controllers = NULL;
        int r;
        if (!disk)
                return -ENOMEM;
        if ((r = path_join(disk, "partition", &part)) < 0)
                return r;
        if (vc_path_exists(part))
                *strrchr(disk, '/') = '\0';
        if ((r = nvme_subsystem_controllers(disk, &controllers)) < 0)
                return r;
        for (char **c = controllers; *c; c++) {
                const char *crel = root_relative(ctx, *c);
                if (crel && path_has_component(crel, device))
                        return 1;
        }
        return 0;
}

/* block_each()'s visit for block_nodes_below(): the node, for the first device it lies below. */
static int node_below_visit(struct vc_ctx *ctx, struct vc_critical_set *s, const char *name, const char *syspath,
                            const void *userdata) {
        struct nodes_below *nb = (struct nodes_below *) userdata;
        int r;

        (void) s;
        for (size_t k = 0; k < nb->n_devices; k++) {
                if ((r = block_is_below(ctx, syspath, nb->devices[k])) <= 0) {
                        if (r < 0)
                                return r;
                        continue;
                }
                size_t *o = realloc(nb->owner, (nb->n + 1) * sizeof *o);
                if (!o)
                        return -ENOMEM;
                nb->owner = o;
                o[nb->n] = k;
                char *node = NULL;
                if (asprintf(&node, "/dev/%s", name) < 0)
                        return -ENOMEM;
                for (char *c = node; *c; c++) /* the kernel's name for a node in a directory */
                        if (*c == '!')
                                *c = '/';
                return strv_push(&nb->nodes, &nb->n, node);
        }
        return 0;
}

/* One walk of sys/class/block for the nodes below any of @nb's devices. */
static int block_nodes_below(struct vc_ctx *ctx, struct nodes_below *nb) {
        nb->nodes = calloc(1, sizeof(char *));
        if (!nb->nodes)
                return -ENOMEM;
        return block_each(ctx, NULL, false, node_below_visit, nb);
}

static void nodes_below_done(struct nodes_below *nb) {
        strv_free(nb->nodes);
        free(nb->owner);
}

int vc_block_nodes_below(struct vc_ctx *ctx, const char *device, char ***ret) {
        struct nodes_below nb = { .devices = &device, .n_devices = 1 };
        int r = block_nodes_below(ctx, &nb);
        if (r < 0) {
                nodes_below_done(&nb);
                return r;
        }
        *ret = TAKE_PTR(nb.nodes);
        nodes_below_done(&nb);
        return 0;
}

int vc_block_holders_check(struct vc_ctx *ctx, const char *const *devices, size_t n_devices, size_t *ret_device,
                           char **ret_message) {
        struct nodes_below nb = { .devices = devices, .n_devices = n_devices };
        struct vc_display_holder *v = NULL;
        size_t n = 0, k = 0, device = 0;
        int r;

        *ret_message = NULL;
        if ((r = block_nodes_below(ctx, &nb)) < 0 || !nb.nodes[0] || (r = vc_display_holders(ctx, nb.nodes, &v, &n)) < 0) {
                nodes_below_done(&nb);
                return r;
        }
        /* udev's workers open a disk for a moment to read its signatures (blkid) at every event,
         * and let go when it leaves: they are not its users. Of the others, those of the first
         * device whose node is held (vc_display_holders() orders by node, as the walk found them). */
        for (size_t i = 0; i < n; i++) {
                size_t owner = 0;
                for (size_t j = 0; nb.nodes[j]; j++)
                        if (nb.nodes[j] == v[i].node)
                                owner = nb.owner[j];
                bool udev = streq(v[i].comm, "(udev-worker)") || streq(v[i].comm, "systemd-udevd");
                if (udev)
                        log_debug("%s is open by udev (%s, pid %d): not counted", v[i].node, v[i].comm, (int) v[i].pid);
                if (!udev && k == 0)
                        device = owner;
                if (udev || owner != device) {
                        free(v[i].comm);
                        continue;
                }
                v[k++] = v[i];
        }
        if (k > 0)
                r = vc_display_holders_format(v, k, ret_message);
        vc_display_holders_free(v, k);
        nodes_below_done(&nb);
        if (r >= 0 && k > 0 && ret_device)
                *ret_device = device;
        return r < 0 ? r : k > 0 ? -EBUSY : 0;
}

/* ------------------------------------------------------------------ the file systems the boot mounts */

/* An fstab field as libmount reads it: octal escapes ("\040" for a blank) decoded, in place; a
 * "\0" that would end the string early stays as written. */
static void fstab_unescape(char *s) {
        char *w = s;
        for (const char *p = s; *p;)
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
                    p[3] <= '7' && (p[1] != '0' || p[2] != '0' || p[3] != '0')) {
                        *w++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 4;
                } else
                        *w++ = *p++;
        *w = '\0';
}

/* The name udev gives a tag's value in /dev/disk/by-*: a byte other than an ASCII letter or digit,
 * "#+-.:=@_" or one of UTF-8 above ASCII, as "\xNN" (libudev's encode_devnode_name(), which
 * systemd's fstab-generator uses too); surrounding quotes dropped. NULL: out of memory. */
static char *devnode_encode(const char *value) {
        size_t n = strlen(value);
        if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
                value++;
                n -= 2;
        }
        char *out = malloc(n * 4 + 1), *w = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) value[i];
                if (isascii(c) && (isalnum(c) || strchr("#+-.:=@_", c)) && c != '\0')
                        *w++ = (char) c;
                else if (c >= 0x80)
                        *w++ = (char) c;
                else
                        w += sprintf(w, "\\x%02x", c);
        }
        *w = '\0';
        return out;
}

/* The kernel's name of the block device an fstab source names (sys/class/block/NAME, '/' as '!'),
 * NULL in *ret when it names none here: UUID=, LABEL=, PARTUUID=, PARTLABEL=, ID= through the
 * /dev/disk/by-* link udev made for it, a /dev path through its links (/dev/disk/by-id/...,
 * /dev/VG/LV -> ../dm-3), or, where the node is not there, as the mounts' scan names it
 * (devname_kernel(): /dev/NAME, /dev/mapper/NAME). Anything else (a server's share, tmpfs, a
 * directory bound) is no block device. -ENOMEM. */
static int fstab_source_name(struct vc_ctx *ctx, const char *source, char **ret) {
        static const struct {
                const char *tag, *dir;
        } tags[] = {
                { "UUID=", "by-uuid" },           { "LABEL=", "by-label" }, { "PARTUUID=", "by-partuuid" },
                { "PARTLABEL=", "by-partlabel" }, { "ID=", "by-id" },
        };
        _cleanup_free_ char *path = NULL, *real = NULL;
        int r;

        *ret = NULL;
        for (size_t i = 0; i < ELEMENTSOF(tags) && !path; i++) {
                const char *value = startswith(source, tags[i].tag);
                _cleanup_free_ char *enc = NULL;
                if (!value)
                        continue;
                if (!(enc = devnode_encode(value)))
                        return -ENOMEM;
                if (!name_is_safe(enc))
                        return 0;
                if ((r = vc_ctx_path(ctx, VC_PLACE_ROOT, &path, "dev/disk/%s/%s", tags[i].dir, enc)) < 0)
                        return r == -ENOMEM ? r : 0;
        }
        if (!path) {
                if (!startswith(source, "/dev/"))
                        return 0;
                if ((r = vc_ctx_path(ctx, VC_PLACE_ROOT, &path, "%s", source + 1)) < 0)
                        return r == -ENOMEM ? r : 0;
        }
        r = resolve(path, &real);
        if (r == -ENOMEM)
                return r;
        if (r < 0) /* no such node (now): the name may still be the kernel's */
                return startswith(source, "/dev/") ? devname_kernel(ctx, source, ret) : 0;
        return node_kernel_name(ctx, real, ret);
}

/* One fstab entry: the controllers of its block device, found as the mounts' scan finds them
 * (partition to disk, stacked devices to their slaves, a btrfs file system's every member), with
 * the reason "controller of /dev/NAME, mounted at MOUNTPOINT at boot (/etc/fstab)". */
static int fstab_entry(struct vc_ctx *ctx, struct vc_critical_set *s, char *source, const char *mnt,
                       const char *fstype) {
        _cleanup_free_ char *name = NULL, *link = NULL, *target = NULL, *node = NULL;
        char reason[512];
        int r;

        fstab_unescape(source);
        if ((r = fstab_source_name(ctx, source, &name)) < 0 || !name)
                return r;
        /* named as the entry names it (/dev/mapper/vg-home), or by the kernel's name for a tag or a
         * /dev/disk link */
        bool as_written = startswith(source, "/dev/") && !startswith(source, "/dev/disk/");
        if (as_written)
                node = strdup(source);
        else if (asprintf(&node, "/dev/%s", name) < 0)
                node = NULL;
        if (!node)
                return -ENOMEM;
        for (char *p = node + 5; *p && !as_written; p++)
                if (*p == '!')
                        *p = '/';
        if (streq(fstype, "swap"))
                snprintf(reason, sizeof reason, "controller of %s, swap" FSTAB_MARK, node);
        else
                snprintf(reason, sizeof reason, "controller of %s" USE_MOUNTED "%s" FSTAB_MARK, node, mnt);
        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &link, "block/%s", name)) < 0)
                return r;
        r = resolve(link, &target);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        r = block_walk(ctx, s, target, reason, 0);
        if (r >= 0 && streq(fstype, "btrfs"))
                r = block_by_btrfs_members(ctx, s, node, reason);
        return r;
}

/* The file systems (and swap) the boot mounts: every entry of the root's etc/fstab without
 * "noauto". With "nofail" too: the boot goes on without such a file system, but the host mounts
 * it at every boot when it is there, and a boot claim would take it away (a /home, the host's
 * VM images) without a word. What the running system has mounted now (scan_mounts()) can be gone
 * at the next boot, and what it mounts at every boot unmounted now: the initramfs needs this. */
static int scan_fstab(struct vc_ctx *ctx, struct vc_critical_set *s) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if ((r = vc_ctx_path(ctx, VC_PLACE_ROOT, &path, "etc/fstab")) < 0)
                return r;
        r = vc_read_file(path, &text);
        if (r == -ENOMEM)
                return r;
        if (r < 0) /* none (or unreadable, or no text): nothing to learn from it */
                return 0;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *fields[6];
                size_t n = split(line, fields, ELEMENTSOF(fields));
                if (n < 3 || fields[0][0] == '#')
                        continue;
                bool noauto = false;
                if (n >= 4) {
                        char *opts = fields[3];
                        for (char *osave = NULL, *o = strtok_r(opts, ",", &osave); o && !noauto;
                             o = strtok_r(NULL, ",", &osave))
                                noauto = streq(o, "noauto");
                }
                if (noauto)
                        continue;
                if ((r = fstab_entry(ctx, s, fields[0], fields[1], fields[2])) < 0)
                        return r;
        }
        return 0;
}

/* ------------------------------------------------------------------ the list of the image's build */

#define LIST_SUFFIX " when the initramfs was built"
#define LIST_REASON_MAX 512

static bool from_list(const char *reason) {
        size_t n = strlen(reason), k = strlen(LIST_SUFFIX);
        return n >= k && streq(reason + n - k, LIST_SUFFIX);
}

/* The vendor:device id of the device at @a now, from its vendor and device attributes (which, unlike
 * uevent, take no device lock: the boot claims read this under our lock); -errno when it has none. */
static int device_id(struct vc_ctx *ctx, const struct vc_pci_addr *a, struct vc_pci_id *ret) {
        _cleanup_free_ char *pv = NULL, *pd = NULL;
        uint64_t v, d;
        int r;
        if ((r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &pv, "%s/vendor", VC_PCI_ADDR_TO_STRING(a))) < 0 ||
            (r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &pd, "%s/device", VC_PCI_ADDR_TO_STRING(a))) < 0 ||
            (r = vc_sysfs_read_u64(pv, &v)) < 0 || (r = vc_sysfs_read_u64(pd, &d)) < 0)
                return r;
        if (v > 0xffff || d > 0xffff)
                return -EBADMSG;
        *ret = (struct vc_pci_id){ .vendor = (uint16_t) v, .device = (uint16_t) d };
        return 0;
}

struct list_line {
        struct vc_pci_addr addr;
        struct vc_pci_id id;
        const char *reason;
};

/* One line of a list: "DDDD:BB:DD.F VVVV:DDDD REASON", the id as vc_pci_id_format() writes it
 * (lower-case hex, no subsystem), the reason printable. */
static bool list_line_parse(char *line, struct list_line *ret) {
        if (strlen(line) < 24 || line[12] != ' ' || line[22] != ' ')
                return false;
        line[12] = line[22] = '\0';
        const char *id = line + 13, *reason = line + 23;
        if (vc_pci_addr_parse(line, &ret->addr) < 0 || vc_pci_id_parse(id, &ret->id) < 0 || ret->id.has_subsystem ||
            !streq(VC_PCI_ID_TO_STRING(&ret->id), id) || strlen(reason) > LIST_REASON_MAX)
                return false;
        for (const char *p = reason; *p; p++)
                if (iscntrl((unsigned char) *p))
                        return false;
        ret->reason = reason;
        return true;
}

static void list_line_print(FILE *f, const struct vc_pci_addr *a, const struct vc_pci_id *id, const char *reason) {
        fprintf(f, "%s %s %s\n", VC_PCI_ADDR_TO_STRING(a), VC_PCI_ID_TO_STRING(id), reason);
}

/* A USB device the host needs (a stick holding the root file system, the USB NIC of the default
 * route): "usb PORT VVVV:PPPP SERIAL REASON", SERIAL "-" when the device has none that is one word
 * of printable ASCII. At boot it counts where a device of those ids has that serial (any port: a
 * bus may be numbered otherwise in the initramfs), or without one, at PORT. */
#define USB_SERIAL_MAX 126

struct usb_line {
        char port[32];
        unsigned vendor, product;
        char serial[USB_SERIAL_MAX + 1]; /* "" for "-" */
        const char *reason;
};

/* A serial number as the records keep it (vc_usb_serial_is_valid()) that is one word of the line. */
static bool serial_is_word(const char *s) {
        return vc_usb_serial_is_valid(s) && !strchr(s, ' ') && !streq(s, "-");
}

static bool usb_line_parse(char *line, struct usb_line *ret) {
        char *save = NULL, *port, *id, *serial, *reason;
        int k = 0;
        if (!startswith(line, "usb ") || !(port = strtok_r(line + 4, " ", &save)) || !(id = strtok_r(NULL, " ", &save)) ||
            !(serial = strtok_r(NULL, " ", &save)) || !(reason = strtok_r(NULL, "", &save)))
                return false;
        if (!vc_usb_port_is_valid(port) || strlen(port) >= sizeof ret->port || strlen(id) != 9 ||
            sscanf(id, "%4x:%4x%n", &ret->vendor, &ret->product, &k) != 2 || k != 9 ||
            strspn(id, "0123456789abcdef:") != 9 || (!streq(serial, "-") && !serial_is_word(serial)) ||
            strlen(reason) > LIST_REASON_MAX)
                return false;
        for (const char *p = reason; *p; p++)
                if (iscntrl((unsigned char) *p))
                        return false;
        strcpy(ret->port, port);
        strcpy(ret->serial, streq(serial, "-") ? "" : serial);
        ret->reason = reason;
        return true;
}

static void usb_line_print(FILE *f, const struct usb_line *l) {
        fprintf(f, "usb %s %04x:%04x %s %s\n", l->port, l->vendor, l->product, *l->serial ? l->serial : "-", l->reason);
}

/* The ids of the USB device at @port now (idVendor, idProduct: descriptor fields, read without
 * the device's lock). */
static int usb_device_ids(struct vc_ctx *ctx, const char *port, unsigned *ret_vendor, unsigned *ret_product) {
        static const char *const attrs[] = { "idVendor", "idProduct" };
        unsigned *ids[] = { ret_vendor, ret_product };
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                _cleanup_free_ char *p = NULL, *text = NULL;
                int r;
                if ((r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s/%s", port, attrs[i])) < 0 ||
                    (r = vc_sysfs_read(p, &text)) < 0)
                        return r;
                if (strlen(text) != 4 || strspn(text, "0123456789abcdefABCDEF") != 4)
                        return -EBADMSG;
                *ids[i] = (unsigned) strtoul(text, NULL, 16);
        }
        return 0;
}

/* The serial of the USB device at @port into @buf ("" when none, or not one word). Linux takes the
 * device's lock to show it (drivers/usb/core/sysfs.c), which a driver probing or resetting the
 * device holds, for long when the device misbehaves, and the boot pass scans holding the state
 * lock: read only for a device whose ids were asked for, in the writer within the unbind timeout
 * (lib/stuck.h). -ETIMEDOUT when it did not finish. */
static int usb_device_serial(struct vc_ctx *ctx, const char *port, char buf[static USB_SERIAL_MAX + 1]) {
        _cleanup_free_ char *p = NULL;
        char text[USB_SERIAL_MAX + 3];
        int r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s/serial", port);
        if (r < 0)
                return r;
        buf[0] = '\0';
        r = vc_timed_read(p, text, sizeof text - 1, vc_ctx_get_unbind_timeout_ms(ctx));
        if (r == -ENOMEM || r == -ETIMEDOUT)
                return r;
        if (r < 0)
                return 0;
        text[r] = '\0';
        if (r > 0 && text[r - 1] == '\n')
                text[r - 1] = '\0';
        if (strlen(text) <= USB_SERIAL_MAX && serial_is_word(text))
                strcpy(buf, text);
        return 0;
}

/* Is the device at @port of @l's ids, with its serial when @l names one? One whose serial could
 * not be read in time counts: in doubt, the host keeps it. */
static bool usb_line_matches(struct vc_ctx *ctx, const struct usb_line *l, const char *port) {
        unsigned vendor, product;
        char serial[USB_SERIAL_MAX + 1];
        if (usb_device_ids(ctx, port, &vendor, &product) < 0 || vendor != l->vendor || product != l->product)
                return false;
        if (!*l->serial)
                return true;
        int r = usb_device_serial(ctx, port, serial);
        return r == -ETIMEDOUT || (r >= 0 && streq(serial, l->serial));
}

/* The deepest USB device among the components of @syspath (inside the root): its port path. */
static bool usb_device_of(const char *syspath, char port[static 32]) {
        bool found = false;
        for (const char *p = syspath; *p;) {
                p += strspn(p, "/");
                size_t n = strcspn(p, "/");
                char comp[32];
                if (n > 0 && n < sizeof comp) {
                        memcpy(comp, p, n);
                        comp[n] = '\0';
                        if (vc_usb_port_is_valid(comp)) {
                                strcpy(port, comp);
                                found = true;
                        }
                }
                p += n;
        }
        return found;
}

/* Where a listed USB device is now: the port of a device of its ids with its serial, or without a
 * serial, its own port when that holds a device of its ids. false when none. */
static bool usb_line_find(struct vc_ctx *ctx, const struct usb_line *l, char port[static 32]) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        if (!*l->serial) {
                strcpy(port, l->port);
                return usb_line_matches(ctx, l, port);
        }
        if (vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &dir, NULL) < 0 || vc_dir_list(dir, &names) < 0)
                return false;
        for (char **i = names; *i; i++)
                if (vc_usb_port_is_valid(*i) && strlen(*i) < 32 && usb_line_matches(ctx, l, *i)) {
                        strcpy(port, *i);
                        return true;
                }
        return false;
}

/* A listed USB device found now: remembered as the reasons found through a disk below it are
 * (vc_critical_usb_reason()), by its real directory. */
static int usb_line_add(struct vc_ctx *ctx, struct vc_critical_set *s, const struct usb_line *l, const char *list) {
        _cleanup_free_ char *p = NULL, *target = NULL, *reason = NULL;
        char port[32];
        int r;
        if (!usb_line_find(ctx, l, port)) {
                log_debug("%s: USB device %04x:%04x (%s) of the initramfs's list is not here: not counted", list,
                          l->vendor, l->product, *l->serial ? l->serial : l->port);
                return 0;
        }
        if ((r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s", port)) < 0)
                return r;
        if ((r = resolve(p, &target)) < 0)
                return r == -ENOMEM ? r : 0;
        if (asprintf(&reason, "%s%s", l->reason, LIST_SUFFIX) < 0) {
                reason = NULL;
                return -ENOMEM;
        }
        return via_add(s, root_relative(ctx, target) ?: target, reason);
}

/* RUN_STATE/host-critical, when the context asks for it: each line whose address holds a device
 * of its id now (an image built on another machine names that machine's devices), with the
 * reason "... when the initramfs was built". A missing list adds nothing. */
static int scan_boot_list(struct vc_ctx *ctx, struct vc_critical_set *s) {
        _cleanup_free_ char *p = NULL, *text = NULL;
        int r;

        if (!vc_ctx_get_boot_critical(ctx))
                return 0;
        if ((r = vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &p, "%s", VC_CRITICAL_LIST_NAME)) < 0)
                return r;
        r = vc_read_file(p, &text);
        if (r == -ENOMEM)
                return r;
        if (r < 0) /* none carried (or unreadable): nothing to learn from it, as a missing source */
                return r == -ENOENT ? 0 : (log_debug_errno(r, "Cannot read %s: %m", p), 0);
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                struct list_line l;
                struct usb_line u;
                struct vc_pci_id now;
                _cleanup_free_ char *reason = NULL;
                if (usb_line_parse(line, &u)) {
                        if ((r = usb_line_add(ctx, s, &u, p)) < 0)
                                return r;
                        continue;
                }
                if (!list_line_parse(line, &l))
                        continue; /* the carry let only valid lines through: someone else's edit */
                if (device_id(ctx, &l.addr, &now) < 0 || !vc_pci_id_matches(&l.id, &now)) {
                        log_debug("%s: %s is not the device the initramfs's list names (%s): not counted", p,
                                  VC_PCI_ADDR_TO_STRING(&l.addr), VC_PCI_ID_TO_STRING(&l.id));
                        continue;
                }
                if (asprintf(&reason, "%s%s", l.reason, LIST_SUFFIX) < 0) {
                        reason = NULL;
                        return -ENOMEM;
                }
                if ((r = set_add(s, &l.addr, reason)) < 0)
                        return r;
        }
        return 0;
}

/* The PF of every critical VF: unbinding a PF from its driver (i40e, ice, mlx5_core) turns
 * SR-IOV off, and its VFs are removed with the host's NIC or disk among them. A PF has its own
 * IOMMU group and is no ancestor of its VFs in sysfs (they are its siblings), so nothing above
 * finds it. */
static int scan_physfns(struct vc_ctx *ctx, struct vc_critical_set *s) {
        size_t n = s->n; /* a PF is no VF: the devices added here need no look of their own */
        bool was = s->scanning_use;
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *link = NULL, *pf_name = NULL, *reason = NULL;
                struct vc_pci_addr pf;
                if (vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &link, "%s/physfn", VC_PCI_ADDR_TO_STRING(&s->items[i].addr)) < 0)
                        return -ENOMEM;
                if (vc_sysfs_read_link_name(link, &pf_name) < 0 || vc_pci_addr_parse(pf_name, &pf) < 0)
                        continue; /* not a VF */
                if (asprintf(&reason, "PF of %s, whose VFs go with its driver: %s", VC_PCI_ADDR_TO_STRING(&s->items[i].addr),
                             s->items[i].reason) < 0) {
                        reason = NULL;
                        return -ENOMEM;
                }
                s->scanning_use = s->items[i].in_use;
                r = set_add(s, &pf, reason);
        }
        s->scanning_use = was;
        return r;
}

int vc_critical_scan(struct vc_ctx *ctx, struct vc_critical_set **ret) {
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        if ((r = scan_mounts(ctx, s)) < 0 || (r = scan_swaps(ctx, s)) < 0 ||
            (r = scan_routes(ctx, s)) < 0 || (r = scan_session(ctx, s)) < 0 || (r = scan_console(ctx, s)) < 0 ||
            (r = scan_boot_list(ctx, s)) < 0 ||
            (r = scan_holders(ctx, s)) < 0 || (r = scan_zfs_pools(ctx, s)) < 0 || (r = scan_physfns(ctx, s)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

/* The PCI lines of @s for the list: each address once (the first set's reason first). */
static void list_print_pci(struct vc_ctx *ctx, FILE *f, const struct vc_critical_set *s,
                           const struct vc_critical_set *before) {
        for (size_t i = 0; s && i < s->n; i++) {
                struct vc_pci_id id;
                if (s->items[i].in_use || streq(s->items[i].reason, CONSOLE_REASON) || from_list(s->items[i].reason))
                        continue;
                bool seen = false;
                for (size_t j = 0; before && j < before->n && !seen; j++)
                        seen = !before->items[j].in_use && vc_pci_addr_equal(&before->items[j].addr, &s->items[i].addr) &&
                               !streq(before->items[j].reason, CONSOLE_REASON) && !from_list(before->items[j].reason);
                if (!seen && device_id(ctx, &s->items[i].addr, &id) >= 0)
                        list_line_print(f, &s->items[i].addr, &id, s->items[i].reason);
        }
}

/* The USB lines of @s for the list: the USB devices the host needs, each once (@done, the ports
 * printed), with the first reason found through it. -ENOMEM. */
static int list_print_usb(struct vc_ctx *ctx, FILE *f, const struct vc_critical_set *s, char ***done, size_t *n_done) {
        int r;
        for (size_t i = 0; s && i < s->n_vias; i++) {
                struct usb_line u = { .reason = s->vias[i].reason };
                bool seen = false;
                if (s->vias[i].in_use || from_list(u.reason) || !usb_device_of(s->vias[i].syspath, u.port))
                        continue;
                for (size_t j = 0; j < *n_done && !seen; j++)
                        seen = streq((*done)[j], u.port);
                if (seen || usb_device_ids(ctx, u.port, &u.vendor, &u.product) < 0 ||
                    usb_device_serial(ctx, u.port, u.serial) < 0)
                        continue;
                if ((r = strv_push(done, n_done, strdup(u.port))) < 0)
                        return r;
                usb_line_print(f, &u);
        }
        return 0;
}

int vc_critical_list_format(struct vc_ctx *ctx, const struct vc_critical_set *s, char **ret) {
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *boot = calloc(1, sizeof *boot);
        _cleanup_strv_free_ char **done = calloc(1, sizeof(char *));
        _cleanup_free_ char *text = NULL;
        size_t size = 0, n_done = 0;
        int r;

        if (!boot || !done)
                return -ENOMEM;
        if ((r = scan_fstab(ctx, boot)) < 0)
                return r;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        list_print_pci(ctx, f, s, NULL);
        list_print_pci(ctx, f, boot, s);
        r = list_print_usb(ctx, f, s, &done, &n_done);
        if (r >= 0)
                r = list_print_usb(ctx, f, boot, &done, &n_done);
        if (fclose(f) != 0 || r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

int vc_critical_list_carry(struct vc_ctx *ctx, unsigned *ret_bad_line) {
        _cleanup_free_ char *from = NULL, *to = NULL, *dir = NULL, *text = NULL, *out = NULL;
        size_t size = 0;
        unsigned n = 0;
        int r;

        *ret_bad_line = 0;
        if ((r = vc_ctx_path(ctx, VC_PLACE_SYSCONF, &from, "%s", VC_CRITICAL_LIST_NAME)) < 0 ||
            (r = vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &to, "%s", VC_CRITICAL_LIST_NAME)) < 0 ||
            (r = vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL)) < 0)
                return r;
        if (vc_path_exists(to))
                return 0; /* carried by an earlier run of this boot */
        r = vc_read_file(from, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        /* what is carried is what was read, line by line: only valid lines reach /run */
        FILE *f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                struct list_line l;
                struct usb_line u;
                n++;
                if (usb_line_parse(line, &u))
                        usb_line_print(f, &u);
                else if (list_line_parse(line, &l))
                        list_line_print(f, &l.addr, &l.id, l.reason);
                else if (!*ret_bad_line)
                        *ret_bad_line = n;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        if ((r = vc_mkdir_p(dir, 0755)) < 0) /* the initramfs's /run/vfio-claim may not exist yet */
                return r;
        r = vc_write_runtime_file(to, out, 0644);
        return r < 0 ? r : 1;
}
