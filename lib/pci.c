/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "name.h"
#include "pci.h"
#include "stuck.h"
#include "sysfs.h"

struct vc_pci_dev {
        struct vc_pci_addr addr;
        char name[VC_PCI_ADDR_STRLEN];
        char *link;     /* the bus's link to the device (ROOT/sys/bus/pci/devices/NAME) */
        char *syspath;  /* where it leads: NULL until resolved (pci_dev_resolved()) */
        uint16_t vendor, device, subsystem_vendor, subsystem_device;
        uint32_t class_code;
        bool is_bridge;
        char *driver;
        char *driver_module;
        char *driver_override;
        bool override_late; /* driver_override not read yet: on first use (pci_dev_read_override_late()) */
        int iommu_group;
        int boot_vga;
        bool late_read; /* numa_node and reset_method read (on first use: pci_dev_read_late()) */
        char *reset_method;
        int numa_node;
        char *modalias;
        bool has_physfn;
        struct vc_pci_addr physfn;
        unsigned num_vfs, total_vfs;
        bool vfio_dev_dir;
        bool has_parent;
        struct vc_pci_addr parent;
        bool write_pending;
        bool lock_free; /* nothing that takes the device lock read in-process: a write pending, the
                         * bounded reads (driver_override in the writer, if at all:
                         * pci_dev_read_override_bounded()), or VC_PCI_READ_NO_DEVICE_LOCK */
};

/* Parse exactly @n hex digits. */
static int parse_hex(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;
        for (size_t i = 0; i < n; i++) {
                if (!isxdigit((unsigned char) s[i]))
                        return -EINVAL;
                v = v * 16 + (unsigned) (isdigit((unsigned char) s[i]) ? s[i] - '0'
                                                                     : (tolower((unsigned char) s[i]) - 'a' + 10));
        }
        *ret = v;
        return 0;
}

int vc_pci_addr_parse(const char *s, struct vc_pci_addr *ret) {
        unsigned domain = 0, bus, slot, func;

        if (!s)
                return -EINVAL;
        size_t len = strlen(s);
        if (len == 12) { /* dddd:bb:ss.f */
                if (parse_hex(s, 4, &domain) < 0 || s[4] != ':')
                        return -EINVAL;
                s += 5;
        } else if (len != 7) /* bb:ss.f */
                return -EINVAL;
        if (parse_hex(s, 2, &bus) < 0 || s[2] != ':' || parse_hex(s + 3, 2, &slot) < 0 ||
            s[5] != '.' || parse_hex(s + 6, 1, &func) < 0)
                return -EINVAL;
        if (slot > 0x1f || func > 7)
                return -EINVAL;
        *ret = (struct vc_pci_addr){ .domain = (uint16_t) domain, .bus = (uint8_t) bus,
                                     .slot = (uint8_t) slot, .func = (uint8_t) func };
        return 0;
}

/* By hand, not snprintf: list --json formats an address per device and per VF's PF, and
 * snprintf's format parsing was a tenth of its instructions (docs/PERFORMANCE.md). */
const char *vc_pci_addr_format(const struct vc_pci_addr *a, char buf[static VC_PCI_ADDR_STRLEN]) {
        static const char hex[] = "0123456789abcdef";
        unsigned slot = a->slot & 0x1f, func = a->func & 7;
        buf[0] = hex[(a->domain >> 12) & 0xf];
        buf[1] = hex[(a->domain >> 8) & 0xf];
        buf[2] = hex[(a->domain >> 4) & 0xf];
        buf[3] = hex[a->domain & 0xf];
        buf[4] = ':';
        buf[5] = hex[a->bus >> 4];
        buf[6] = hex[a->bus & 0xf];
        buf[7] = ':';
        buf[8] = hex[slot >> 4];
        buf[9] = hex[slot & 0xf];
        buf[10] = '.';
        buf[11] = hex[func];
        buf[12] = '\0';
        return buf;
}

int vc_pci_addr_compare(const struct vc_pci_addr *a, const struct vc_pci_addr *b) {
#define CMP(f) if (a->f != b->f) return a->f < b->f ? -1 : 1
        CMP(domain);
        CMP(bus);
        CMP(slot);
        CMP(func);
#undef CMP
        return 0;
}

bool vc_pci_addr_equal(const struct vc_pci_addr *a, const struct vc_pci_addr *b) {
        return vc_pci_addr_compare(a, b) == 0;
}

int vc_pci_id_parse(const char *s, struct vc_pci_id *ret) {
        unsigned v[4];
        size_t len = s ? strlen(s) : 0;

        if (len != 9 && len != 19)
                return -EINVAL;
        for (size_t i = 0; i < len / 5 + 1; i++) {
                if (parse_hex(s + i * 5, 4, &v[i]) < 0)
                        return -EINVAL;
                if (i * 5 + 4 < len && s[i * 5 + 4] != ':')
                        return -EINVAL;
        }
        *ret = (struct vc_pci_id){ .vendor = (uint16_t) v[0], .device = (uint16_t) v[1] };
        if (len == 19) {
                ret->has_subsystem = true;
                ret->subsystem_vendor = (uint16_t) v[2];
                ret->subsystem_device = (uint16_t) v[3];
        }
        return 0;
}

const char *vc_pci_id_format(const struct vc_pci_id *id, char buf[static VC_PCI_ID_STRLEN]) {
        if (id->has_subsystem)
                snprintf(buf, VC_PCI_ID_STRLEN, "%04x:%04x:%04x:%04x", id->vendor, id->device,
                         id->subsystem_vendor, id->subsystem_device);
        else
                snprintf(buf, VC_PCI_ID_STRLEN, "%04x:%04x", id->vendor, id->device);
        return buf;
}

struct vc_pci_dev *vc_pci_dev_free(struct vc_pci_dev *d) {
        if (!d)
                return NULL;
        free(d->link);
        free(d->syspath);
        free(d->driver);
        free(d->driver_module);
        free(d->driver_override);
        free(d->reset_method);
        free(d->modalias);
        free(d);
        return NULL;
}

/* The attributes of one device are read relative to its directory (openat()/readlinkat() on one
 * O_PATH descriptor): `list` and `doctor` read some twenty attributes of every device, and
 * walking the full path for each was most of their system time on a host with thousands of
 * devices (docs/PERFORMANCE.md, "Scale"). The descriptors of the attributes read are closed with
 * the directory's (dev_dir_close()), those that follow each other in one close_range(2): one
 * system call a device instead of one an attribute. Through a reader (vc_pci_reader_new()) the
 * closes of many devices wait in its batch and go together: one system call for some thirty
 * devices. */
struct fd_batch {
        unsigned n;
        int fds[96]; /* ours to close; three or four a device */
};

struct dev_dir {
        int fd;         /* the device's directory, O_PATH */
        unsigned n_kept;
        int kept[6];    /* attributes read, not closed yet */
        struct fd_batch *batch; /* where the closes wait; NULL: closed at dev_dir_close() */
};

#define DEV_DIR_NULL ((struct dev_dir){ .fd = -EBADF })

/* Done with the attribute @fd read in @dir: kept, to be closed with it. */
static void dev_dir_done_with(struct dev_dir *dir, int fd) {
        if (dir->n_kept < ELEMENTSOF(dir->kept))
                dir->kept[dir->n_kept++] = fd;
        else
                close(fd);
}

/* Close the descriptors @fds[0..@n): sorted first (they come mostly in order), a run of
 * consecutive numbers, every one ours, in one call; one alone, or on a kernel without
 * close_range() (before 5.9), a close() each. A descriptor not in @fds is never closed. */
static void close_many(int *fds, size_t n) {
        for (size_t i = 1; i < n; i++) {
                int v = fds[i];
                size_t k = i;
                for (; k > 0 && fds[k - 1] > v; k--)
                        fds[k] = fds[k - 1];
                fds[k] = v;
        }
        for (size_t i = 0, j; i < n; i = j) {
                for (j = i + 1; j < n && fds[j] == fds[j - 1] + 1; j++)
                        ;
                if (j - i == 1 || close_range((unsigned) fds[i], (unsigned) fds[j - 1], 0) < 0)
                        for (size_t k = i; k < j; k++)
                                close(fds[k]);
        }
}

static void fd_batch_flush(struct fd_batch *b) {
        close_many(b->fds, b->n);
        b->n = 0;
}

static void dev_dir_close(struct dev_dir *dir) {
        int fds[1 + ELEMENTSOF(dir->kept)];
        size_t n = 0;
        if (dir->fd >= 0)
                fds[n++] = dir->fd;
        for (unsigned i = 0; i < dir->n_kept; i++)
                fds[n++] = dir->kept[i];
        struct fd_batch *b = dir->batch;
        if (!b)
                close_many(fds, n);
        else {
                if (b->n + n > ELEMENTSOF(b->fds))
                        fd_batch_flush(b);
                memcpy(b->fds + b->n, fds, n * sizeof *fds);
                b->n += (unsigned) n;
        }
        *dir = DEV_DIR_NULL;
}

/* One attribute into @buf (NUL-terminated, the trailing newline dropped); its length, or -errno.
 * A text attribute is one page at most and sysfs returns it whole in one read(2), as a regular
 * file does: a read that does not fill the buffer is the end, so no second read for EOF. */
static ssize_t at_read(struct dev_dir *dir, const char *attr, char *buf, size_t size) {
        int fd = openat(dir->fd, attr, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        ssize_t k;
        do
                k = read(fd, buf, size - 1);
        while (k < 0 && errno == EINTR);
        int saved_errno = errno;
        dev_dir_done_with(dir, fd);
        if (k < 0)
                return -saved_errno;
        return vc_sysfs_text_finish(buf, (size_t) k, size);
}

static int at_read_string(struct dev_dir *dir, const char *attr, char **ret) {
        char buf[4097];
        ssize_t n = at_read(dir, attr, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        char *s = strdup(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* As vc_sysfs_read_u64(): decimal, or hex with 0x; no sign, no space. */
static int at_read_u64(struct dev_dir *dir, const char *attr, uint64_t *ret) {
        char buf[64];
        ssize_t n = at_read(dir, attr, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        if (!buf[0] || buf[0] == '-' || buf[0] == '+' || buf[0] == ' ')
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 0);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

/* As vc_sysfs_read_int(). */
static int at_read_int(struct dev_dir *dir, const char *attr, int *ret) {
        char buf[64];
        ssize_t n = at_read(dir, attr, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        char *end;
        errno = 0;
        long v = strtol(buf, &end, 10);
        if (errno != 0 || end == buf || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static int read_attr_u16(struct dev_dir *dir, const char *attr, uint16_t *ret) {
        uint64_t v;
        int r = at_read_u64(dir, attr, &v);
        if (r < 0)
                return r;
        if (v > 0xffff)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

/* The last component of a link's target, as vc_sysfs_read_link_name(), in @buf: a pointer into
 * it, or NULL with errno set. */
static const char *read_attr_link_last(struct dev_dir *dir, const char *attr, char *buf, size_t size) {
        ssize_t n = readlinkat(dir->fd, attr, buf, size - 1);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        while (n > 1 && buf[n - 1] == '/')
                buf[--n] = '\0';
        const char *slash = strrchr(buf, '/');
        return slash ? slash + 1 : buf;
}

static int read_attr_link_name(struct dev_dir *dir, const char *attr, char **ret) {
        char target[4096];
        const char *last = read_attr_link_last(dir, attr, target, sizeof target);
        if (!last)
                return negative_errno();
        char *name = strdup(last);
        if (!name)
                return -ENOMEM;
        *ret = name;
        return 0;
}

/* Attributes read after vc_pci_dev_read(), by path. */
static int read_path_string(const char *dir, const char *attr, char **ret) {
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, attr) < 0)
                return -ENOMEM;
        return vc_sysfs_read(p, ret);
}

static bool attr_exists(struct dev_dir *dir, const char *attr) {
        return faccessat(dir->fd, attr, F_OK, 0) == 0;
}

/* Optional attributes: absent is fine, anything else malformed is not silently ignored by
 * callers that care; here "absent" and "unreadable" both leave the default. */
static void read_optional_string(struct dev_dir *dir, const char *attr, char **ret) {
        char *s = NULL;
        if (at_read_string(dir, attr, &s) >= 0)
                *ret = s;
}

/* PCI_ID=VVVV:DDDD, PCI_SUBSYS_ID=VVVV:DDDD, PCI_CLASS=CCCCCC and MODALIAS= from uevent, as
 * pci_uevent() writes them: -ENODATA unless the first three are all there (a tree that is not
 * sysfs, or a uevent overwritten in a test tree). And the bound driver from DRIVER=, which the
 * kernel shows there while the device is bound (the same driver its driver link names): one
 * readlinkat() a bound device less (docs/PERFORMANCE.md, "Scale"); without it, or with a name
 * that is not one, the driver is read from the link (pci_dev_read_driver()). */
static int read_uevent(struct dev_dir *dir, struct vc_pci_dev *d) {
        char buf[4097];
        unsigned v = 0, dv = 0, sv = 0, sd = 0, cls = 0;
        bool id = false, subsys = false, class = false;
        _cleanup_free_ char *modalias = NULL, *driver = NULL;
        if (at_read(dir, "uevent", buf, sizeof buf) < 0)
                return -ENODATA;
        for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                const char *x;
                if ((x = startswith(l, "PCI_ID=")))
                        id = strlen(x) == 9 && x[4] == ':' && parse_hex(x, 4, &v) >= 0 && parse_hex(x + 5, 4, &dv) >= 0;
                else if ((x = startswith(l, "PCI_SUBSYS_ID=")))
                        subsys = strlen(x) == 9 && x[4] == ':' && parse_hex(x, 4, &sv) >= 0 &&
                                 parse_hex(x + 5, 4, &sd) >= 0;
                else if ((x = startswith(l, "PCI_CLASS=")))
                        class = strlen(x) >= 1 && strlen(x) <= 6 && parse_hex(x, strlen(x), &cls) >= 0;
                else if ((x = startswith(l, "MODALIAS="))) {
                        free(modalias);
                        if (!(modalias = strdup(x)))
                                return -ENOMEM;
                } else if ((x = startswith(l, "DRIVER=")) && vc_kernel_name_is_valid(x)) {
                        free(driver);
                        if (!(driver = strdup(x)))
                                return -ENOMEM;
                }
        }
        if (!id || !subsys || !class)
                return -ENODATA;
        d->vendor = (uint16_t) v;
        d->device = (uint16_t) dv;
        d->subsystem_vendor = (uint16_t) sv;
        d->subsystem_device = (uint16_t) sd;
        d->class_code = cls;
        d->modalias = TAKE_PTR(modalias);
        d->driver = TAKE_PTR(driver);
        return 0;
}

struct vc_pci_reader {
        struct vc_ctx *ctx;
        char *devices;   /* the path of the bus's devices directory */
        int devices_fd;  /* that directory, opened inside the root (absent: no reader, -ENOENT) */
        int root_fd;     /* the root that path lies under, -1: "/" (vc_path_root_fd()) */
        size_t root_len;
        bool no_marks;   /* no device was marked stuck when the reader was made (lib/stuck.h) */
        bool override_on_demand; /* VC_PCI_READ_OVERRIDE_ON_DEMAND */
        bool no_device_lock;     /* VC_PCI_READ_NO_DEVICE_LOCK */
        struct fd_batch closes; /* descriptors of devices read, to be closed (dev_dir_close()) */
        int bus_fd;      /* the directory holding the devices of bus @bus_key, O_PATH; -1: none yet */
        uint32_t bus_key; /* domain << 8 | bus */
        /* The module of each driver met so far (module NULL: built in): a property of the
         * driver, read once per reader instead of once per bound device. So is whether it is a
         * vfio driver (driver_is_vfio()). */
        struct driver_module {
                char *driver, *module;
                int vfio_dev; /* its first device had vfio-dev/: 1, had not: 0, not looked yet: -1 */
        } *modules;
        size_t n_modules;
};

/* @driver's entry in @rd's table; NULL without a reader or when not there (yet). */
static struct driver_module *reader_driver(struct vc_pci_reader *rd, const char *driver) {
        for (size_t i = 0; rd && i < rd->n_modules; i++)
                if (streq(rd->modules[i].driver, driver))
                        return &rd->modules[i];
        return NULL;
}

/* The module name of @driver, bound to the device @dir: from @rd's table, or read and kept. */
static int driver_module_get(struct vc_pci_reader *rd, struct dev_dir *dir, const char *driver, char **ret) {
        _cleanup_free_ char *mod = NULL;
        const struct driver_module *known = reader_driver(rd, driver);

        *ret = NULL;
        if (known)
                return known->module && !(*ret = strdup(known->module)) ? -ENOMEM : 0;
        (void) read_attr_link_name(dir, "driver/module", &mod);
        if (rd && rd->n_modules < 64) { /* a bound on the table; more drivers are read each time */
                struct driver_module *nv = reallocarray(rd->modules, rd->n_modules + 1, sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                rd->modules = nv;
                _cleanup_free_ char *dcopy = strdup(driver), *mcopy = mod ? strdup(mod) : NULL;
                if (!dcopy || (mod && !mcopy))
                        return -ENOMEM;
                nv[rd->n_modules++] = (struct driver_module){ .driver = TAKE_PTR(dcopy), .module = TAKE_PTR(mcopy),
                                                              .vfio_dev = -1 };
        }
        *ret = TAKE_PTR(mod);
        return 0;
}

/* Is the device @dir, bound to @driver (not vfio-pci), on a vfio variant driver: has it a
 * vfio-dev/ directory, which the kernel's vfio core adds below every device a vfio driver
 * registers, during its probe, and below no other? Without a
 * reader, and for drivers named like the kernel's vfio drivers (vfio-pci, mlx5_vfio_pci,
 * virtio-vfio-pci, ...), looked for on the device. Through a reader the first device of any
 * other driver answers for the driver's other devices: one system call a driver instead of one
 * a device for `list` and `doctor` (docs/PERFORMANCE.md, "Scale"). A vfio driver's device
 * loses vfio-dev/ in its remove callback, before its driver link goes: a vfio-named driver is
 * asked per device so that one device being unbound does not hide the others. */
static bool driver_is_vfio(struct vc_pci_reader *rd, struct dev_dir *dir, const char *driver) {
        struct driver_module *known = strstr(driver, "vfio") ? NULL : reader_driver(rd, driver);
        if (!known) /* no reader, a vfio-named driver, or beyond the table's bound */
                return attr_exists(dir, "vfio-dev");
        if (known->vfio_dev < 0)
                known->vfio_dev = attr_exists(dir, "vfio-dev");
        return known->vfio_dev;
}

struct vc_pci_reader *vc_pci_reader_free(struct vc_pci_reader *rd) {
        if (!rd)
                return NULL;
        fd_batch_flush(&rd->closes);
        if (rd->bus_fd >= 0)
                close(rd->bus_fd);
        if (rd->devices_fd >= 0)
                close(rd->devices_fd);
        if (rd->root_fd >= 0)
                close(rd->root_fd);
        for (size_t i = 0; i < rd->n_modules; i++) {
                free(rd->modules[i].driver);
                free(rd->modules[i].module);
        }
        free(rd->modules);
        free(rd->devices);
        free(rd);
        return NULL;
}

int vc_pci_reader_new(struct vc_ctx *ctx, unsigned flags, struct vc_pci_reader **ret) {
        _cleanup_(vc_pci_reader_freep) struct vc_pci_reader *rd = calloc(1, sizeof *rd);
        _cleanup_free_ char *run = NULL;
        _cleanup_strv_free_ char **names = NULL;
        if (!rd)
                return -ENOMEM;
        rd->ctx = ctx;
        rd->override_on_demand = flags & VC_PCI_READ_OVERRIDE_ON_DEMAND;
        rd->no_device_lock = flags & VC_PCI_READ_NO_DEVICE_LOCK;
        rd->devices_fd = rd->root_fd = rd->bus_fd = -1;
        int r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &rd->devices, NULL);
        if (r < 0)
                return r;
        r = vc_path_root_fd(rd->devices, &rd->root_len);
        if (r < 0 && r != -ENOENT)
                return r;
        rd->root_fd = r;
        /* Under the root just found: no second look for it, and no descriptor opened and closed
         * below the reader's, which would leave a hole between a device's directory and its
         * attributes' descriptors (dev_dir_close()). */
        rd->devices_fd = vc_path_open_under(rd->root_fd, rd->root_len, rd->devices, O_RDONLY | O_DIRECTORY);
        if (rd->devices_fd < 0)
                return rd->devices_fd;
        /* One look at the state directory instead of one per device. */
        if ((r = vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &run, NULL)) < 0)
                return r;
        r = vc_dir_list(run, &names);
        rd->no_marks = r == -ENOENT;
        if (r >= 0) {
                rd->no_marks = true;
                for (char **i = names; *i; i++)
                        if (startswith(*i, "stuck-"))
                                rd->no_marks = false;
        }
        *ret = TAKE_PTR(rd);
        return 0;
}

/* Learn, from the bus's link of the device @name, the directory that holds the devices of its bus
 * (@key): the link's target without its last component, opened inside the root. A failure only
 * leaves the reader without it. */
static void reader_learn_bus_dir(struct vc_pci_reader *rd, const char *name, uint32_t key) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(rd->devices_fd, name, target, sizeof target - 1);
        if (n <= 0)
                return;
        target[n] = '\0';
        char *slash = strrchr(target, '/');
        if (target[0] == '/' || !slash || !streq(slash + 1, name))
                return; /* sysfs's links are relative and end in the device's name */
        *slash = '\0';
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", rd->devices, target) < 0)
                return;
        int fd = vc_path_open_under(rd->root_fd, rd->root_len, path, O_PATH | O_DIRECTORY);
        if (fd < 0)
                return;
        if (rd->bus_fd >= 0)
                close(rd->bus_fd);
        rd->bus_fd = fd;
        rd->bus_key = key;
}

/* The directory of the device @addr, named @name, with bus link @link, O_PATH. The devices of one
 * bus are the children of one directory in sysfs (its bridge's, the host bridge's; a virtual
 * bus's VFs their PF's siblings): the reader opens them there, one path component each, instead
 * of walking the link's dozen components for every device (docs/PERFORMANCE.md, "Scale"). The
 * name must be a directory there, not a link (O_NOFOLLOW); any miss takes the link, inside the
 * root, and learns the bus's directory from it. */
static int reader_open_device(struct vc_pci_reader *rd, const struct vc_pci_addr *addr, const char *name,
                              const char *link) {
        uint32_t key = (uint32_t) addr->domain << 8 | addr->bus;
        if (rd->bus_fd >= 0 && rd->bus_key == key) {
                int fd = openat(rd->bus_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0)
                        return fd;
        }
        int fd = vc_path_open_under(rd->root_fd, rd->root_len, link, O_PATH | O_DIRECTORY);
        if (fd >= 0)
                reader_learn_bus_dir(rd, name, key);
        return fd;
}

int vc_pci_dev_read(struct vc_ctx *ctx, const struct vc_pci_addr *addr, struct vc_pci_dev **ret) {
        return vc_pci_dev_read_with(ctx, NULL, addr, ret);
}

/* The steps of vc_pci_dev_read_with(), in its order; each fills its part of @d from the device's
 * directory @dir. */

/* @d->syspath: the device's canonical directory, from the bus's link @d->link; the link itself
 * when it is a plain directory (some test trees, copies of sysfs) or gone. -ENODEV when the
 * device is gone. */
static int pci_dev_resolve(struct vc_pci_dev *d) {
        int r = vc_sysfs_read_link_target(d->link, &d->syspath);
        if (r == -ENOENT)
                return -ENODEV;
        if (r == -EINVAL)
                d->syspath = strdup(d->link);
        else if (r < 0)
                return r;
        return d->syspath ? 0 : -ENOMEM;
}

static void pci_dev_find_parent(struct vc_pci_dev *d);

/* The syspath and the parent, resolved on first use: a device's directory is opened through the
 * bus's link without reading the link, three system calls a device less (docs/PERFORMANCE.md,
 * "Scale"; the engine reads a group's devices several times per claim and needs neither). A
 * device gone since then keeps its link as its syspath, and no parent. */
static const char *pci_dev_resolved(const struct vc_pci_dev *cd) {
        struct vc_pci_dev *d = (struct vc_pci_dev *) cd; /* a cache filled once; never a const object */
        if (!d->syspath) {
                if (pci_dev_resolve(d) < 0 && !d->syspath)
                        d->syspath = strdup(d->link);
                if (d->syspath)
                        pci_dev_find_parent(d);
        }
        return d->syspath;
}

/* The ids and the class from a PCI modalias, "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X"
 * (Linux's pci_uevent() and modalias_show() print it from the same fields as the vendor,
 * device, subsystem_vendor, subsystem_device and class attributes). False when @m is not one. */
static bool ids_from_modalias(const char *m, struct vc_pci_dev *d) {
        static const struct {
                const char *tag;
                size_t digits;
        } fields[] = { { "pci:v", 8 }, { "d", 8 }, { "sv", 8 }, { "sd", 8 }, { "bc", 2 }, { "sc", 2 }, { "i", 2 } };
        unsigned v[ELEMENTSOF(fields)];

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                m = startswith(m, fields[i].tag);
                if (!m || parse_hex(m, fields[i].digits, &v[i]) < 0 || (i < 4 && v[i] > 0xffff))
                        return false;
                m += fields[i].digits;
        }
        if (*m)
                return false;
        d->vendor = (uint16_t) v[0];
        d->device = (uint16_t) v[1];
        d->subsystem_vendor = (uint16_t) v[2];
        d->subsystem_device = (uint16_t) v[3];
        d->class_code = v[4] << 16 | v[5] << 8 | v[6];
        return true;
}

/* The ids, the class and the modalias in one read of uevent where it has them (uevent may take
 * the device lock: not read with a write pending, nor when nothing that takes it may be read),
 * else in one read of modalias, else one attribute each. */
static int pci_dev_read_ids(struct dev_dir *dir, struct vc_pci_dev *d) {
        if (!d->lock_free && read_uevent(dir, d) >= 0)
                return 0;
        read_optional_string(dir, "modalias", &d->modalias);
        if (d->modalias && ids_from_modalias(d->modalias, d))
                return 0;
        if (read_attr_u16(dir, "vendor", &d->vendor) < 0 || read_attr_u16(dir, "device", &d->device) < 0)
                return -EBADMSG;
        /* Subsystem ids are absent on some bridges. */
        (void) read_attr_u16(dir, "subsystem_vendor", &d->subsystem_vendor);
        (void) read_attr_u16(dir, "subsystem_device", &d->subsystem_device);
        uint64_t v;
        if (at_read_u64(dir, "class", &v) < 0 || v > 0xffffff)
                return -EBADMSG;
        d->class_code = (uint32_t) v;
        return 0;
}

/* Header type from config space (byte 0x0e, low 7 bits: 1 = PCI-PCI bridge, 2 = CardBus);
 * without a readable config space, the class says it. */
static void pci_dev_read_header_type(struct dev_dir *dir, struct vc_pci_dev *d) {
        unsigned char cfg[64];
        ssize_t n = -1;
        /* The kernel keeps class and header type in agreement (a class that does not fit the
         * header type is shown as 0x000000): only a bridge's class (base class 06) or an undefined
         * one (00) can go with a bridge header. The others, most devices (every VF), are
         * endpoints without a look at their config space (docs/PERFORMANCE.md, "Scale"). */
        uint32_t base = d->class_code >> 16;
        if (base != 0x06 && base != 0x00) {
                d->is_bridge = false;
                return;
        }
        int fd = openat(dir->fd, "config", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd >= 0) {
                do
                        n = pread(fd, cfg, sizeof cfg, 0);
                while (n < 0 && errno == EINTR);
                dev_dir_done_with(dir, fd);
        }
        if (n > 0x0e)
                d->is_bridge = (cfg[0x0e] & 0x7f) == 1 || (cfg[0x0e] & 0x7f) == 2;
        else
                d->is_bridge = (d->class_code >> 8) == 0x0604 || (d->class_code >> 8) == 0x0607;
}

/* The bound driver and its module, and driver_override (not read with a write pending, nor
 * with VC_PCI_READ_NO_DEVICE_LOCK: it takes the device lock). */
static int pci_dev_read_driver(struct vc_pci_reader *rd, struct dev_dir *dir, struct vc_pci_dev *d) {
        char buf[4097];
        int r = d->driver ? 0 : read_attr_link_name(dir, "driver", &d->driver); /* or from uevent */
        if (r < 0 && r != -ENOENT)
                return r;
        /* the name goes into paths (the driver's unbind): a link whose target ends in no kernel
         * name (sysfs never shows one) is refused, as a uevent's DRIVER= is skipped */
        if (d->driver && !vc_kernel_name_is_valid(d->driver))
                return -EBADMSG;
        if (d->driver) {
                r = driver_module_get(rd, dir, d->driver, &d->driver_module);
                if (r < 0)
                        return r;
        }
        if (d->lock_free)
                return 0;
        if (rd && rd->override_on_demand) {
                d->override_late = true;
                return 0;
        }
        if (at_read(dir, "driver_override", buf, sizeof buf) > 0 && !streq(buf, "(null)") &&
            !(d->driver_override = strdup(buf)))
                return -ENOMEM;
        return 0;
}

/* Under the state lock (vc_ctx_get_device_reads_bounded()): driver_override read in the writer
 * within the unbind timeout (vc_stuck_read()), so that a driver's probe or remove that does not
 * return, holding the device lock, cannot keep this program, and every run waiting for our
 * lock, in the kernel for as long. A read that does not finish makes the device one with a
 * write pending (the engine refuses to move it, lib/bind.c) and marks it for the commands after.
 * The device's other attributes that take the lock are then not read (->lock_free): its ids come
 * from modalias, and sriov_numvfs, which only `list` and `show` print, reads as 0. One round trip
 * to the writer an endpoint (a bridge's override is not read); the engine reads only the groups
 * it moves. */
static int pci_dev_read_override_bounded(struct vc_ctx *ctx, struct vc_pci_reader *rd, struct vc_pci_dev *d) {
        char buf[VC_TIMED_READ_MAX];
        int n = vc_stuck_read(ctx, &d->addr, "driver_override", buf, sizeof buf, vc_ctx_get_unbind_timeout_ms(ctx),
                              !(rd && rd->no_marks));
        if (n == -ETIMEDOUT) {
                d->write_pending = true;
                return 0;
        }
        if (n == -ENOENT)
                return 0; /* none (or the device gone since: its next read says so) */
        /* Any other failure (the writer could not be started, the content is not an override)
         * fails the read: a device read as having no override could be taken for one on its
         * host driver already. */
        if (n < 0)
                return n;
        if (n == 0 || streq(buf, "(null)"))
                return 0;
        return (d->driver_override = strdup(buf)) ? 0 : -ENOMEM;
}

/* driver_override of a device read through a reader with VC_PCI_READ_OVERRIDE_ON_DEMAND, read
 * when first asked for (a write pending when the device was read: not read, as then). A device
 * gone since reads as one without; so does one whose copy cannot be allocated. */
static void pci_dev_read_override_late(const struct vc_pci_dev *cd) {
        struct vc_pci_dev *d = (struct vc_pci_dev *) cd; /* a cache filled once; never a const object */
        char buf[4097];

        if (!d->override_late)
                return;
        d->override_late = false;
        _cleanup_(dev_dir_close) struct dev_dir dir = DEV_DIR_NULL;
        dir.fd = vc_path_open(d->link, O_PATH | O_DIRECTORY, 0); /* through the bus's link, inside the root */
        if (dir.fd >= 0 && at_read(&dir, "driver_override", buf, sizeof buf) > 0 && !streq(buf, "(null)"))
                d->driver_override = strdup(buf);
}

/* The IOMMU group from the iommu_group link (none: -1); -EBADMSG for a name that is not one. */
static int dir_read_group(struct dev_dir *dir, int *ret) {
        char buf[4096];
        const char *g = read_attr_link_last(dir, "iommu_group", buf, sizeof buf);
        if (!g) {
                *ret = -1;
                return 0;
        }
        char *end;
        errno = 0;
        long v = strtol(g, &end, 10);
        if (!isdigit((unsigned char) g[0]) || errno != 0 || *end || v > INT32_MAX)
                return -EBADMSG;
        *ret = (int) v;
        return 0;
}

static int pci_dev_read_group(struct dev_dir *dir, struct vc_pci_dev *d) {
        return dir_read_group(dir, &d->iommu_group);
}

int vc_pci_addr_iommu_group(struct vc_ctx *ctx, const struct vc_pci_addr *addr, int *ret) {
        _cleanup_free_ char *path = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &path, "%s", VC_PCI_ADDR_TO_STRING(addr));
        if (r < 0)
                return r;
        _cleanup_(dev_dir_close) struct dev_dir dir = DEV_DIR_NULL;
        dir.fd = vc_path_open(path, O_PATH | O_DIRECTORY, 0);
        if (dir.fd < 0)
                return dir.fd == -ENOENT ? -ENODEV : dir.fd;
        return dir_read_group(&dir, ret);
}

/* boot_vga: absent leaves the default. */
static void pci_dev_read_boot_vga(struct dev_dir *dir, struct vc_pci_dev *d) {
        int v;
        /* The kernel shows boot_vga only on VGA-class devices (base class 03, subclass 00, or the
         * pre-2.0 "VGA compatible" 00/01): not looked for on the others. */
        uint32_t sub = d->class_code >> 8;
        if ((sub == 0x0300 || sub == 0x0001) && at_read_int(dir, "boot_vga", &v) >= 0)
                d->boot_vga = v != 0;
}

/* reset_method as Linux shows it: method names ([a-z_]) separated by spaces (commas before 6.0),
 * or nothing; anything else is read as unreadable. */
static bool reset_method_text_is_valid(const char *s) {
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || *s == '_' || *s == ' ' || *s == ','))
                        return false;
        return true;
}

/* numa_node and reset_method, read when first asked for (vc_pci_dev_numa_node(),
 * vc_pci_dev_reset_method()): only `show` and a few of `doctor`'s checks of single devices use
 * them, and reading them for every device was six of the some twenty system calls a device cost
 * `list` (docs/PERFORMANCE.md, "Scale"). Absent leaves the default; a device gone since it was
 * read reads as one without them. */
static void pci_dev_read_late(const struct vc_pci_dev *cd) {
        struct vc_pci_dev *d = (struct vc_pci_dev *) cd; /* a cache filled once; never a const object */
        int v;

        if (d->late_read)
                return;
        d->late_read = true;
        _cleanup_(dev_dir_close) struct dev_dir dir = DEV_DIR_NULL;
        dir.fd = vc_path_open(d->link, O_PATH | O_DIRECTORY, 0); /* through the bus's link, inside the root */
        if (dir.fd < 0)
                return;
        if (at_read_int(&dir, "numa_node", &v) >= 0)
                d->numa_node = v;
        read_optional_string(&dir, "reset_method", &d->reset_method);
        if (d->reset_method && !reset_method_text_is_valid(d->reset_method))
                free(TAKE_PTR(d->reset_method));
        if (!d->reset_method && attr_exists(&dir, "reset_method"))
                d->reset_method = strdup(""); /* present but unreadable: no method (NULL when out of memory) */
}

/* SR-IOV: the PF of a VF (physfn); a PF's VF counts. sriov_numvfs and sriov_totalvfs come
 * together (the SR-IOV capability's attribute group): without the one, the other is not looked
 * for; a VF has no SR-IOV capability of its own (PCIe: VFs do not implement it). */
static void pci_dev_read_sriov(struct dev_dir *dir, struct vc_pci_dev *d) {
        char buf[4096];
        const char *pf = read_attr_link_last(dir, "physfn", buf, sizeof buf);
        if (pf && vc_pci_addr_parse(pf, &d->physfn) >= 0)
                d->has_physfn = true;
        uint64_t v;
        if (!d->has_physfn && at_read_u64(dir, "sriov_totalvfs", &v) >= 0) {
                if (v < 65536)
                        d->total_vfs = (unsigned) v;
                if (!d->lock_free && at_read_u64(dir, "sriov_numvfs", &v) >= 0 && v < 65536)
                        d->num_vfs = (unsigned) v;
        }
}

/* The parent directory of the canonical path is the upstream bridge when it is named like a PCI
 * device. */
static void pci_dev_find_parent(struct vc_pci_dev *d) {
        const char *slash = strrchr(d->syspath, '/');
        if (!slash || slash == d->syspath)
                return;
        const char *prev = slash - 1;
        while (prev > d->syspath && *prev != '/')
                prev--;
        char comp[32];
        size_t l = (size_t) (slash - prev - 1);
        if (l >= sizeof comp)
                return;
        memcpy(comp, prev + 1, l);
        comp[l] = '\0';
        if (vc_pci_addr_parse(comp, &d->parent) >= 0 && l == 12)
                d->has_parent = true;
}

/* vc_pci_dev_read_with(), or with @identity_only its first steps: vc_pci_dev_read_identity(). */
static int pci_dev_read(struct vc_ctx *ctx, struct vc_pci_reader *rd, const struct vc_pci_addr *addr,
                        bool identity_only, const struct vc_pci_dev *before, struct vc_pci_dev **ret) {
        _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;
        int r;

        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->addr = *addr;
        vc_pci_addr_format(addr, d->name);
        d->iommu_group = -1;
        d->boot_vga = -1;
        d->numa_node = -1;
        if (rd) { /* the reader's path of the bus's devices directory, and the name */
                size_t n = strlen(rd->devices);
                if (!(d->link = malloc(n + 1 + sizeof d->name)))
                        return -ENOMEM;
                memcpy(d->link, rd->devices, n);
                d->link[n] = '/';
                memcpy(d->link + n + 1, d->name, sizeof d->name);
        } else if ((r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &d->link, "%s", d->name)) < 0)
                return r;
        /* The directory opened through the link, inside the root, with one system call; the link
         * itself read only when asked for (pci_dev_resolved()). */
        _cleanup_(dev_dir_close) struct dev_dir dir = DEV_DIR_NULL;
        dir.batch = rd ? &rd->closes : NULL;
        dir.fd = rd ? reader_open_device(rd, addr, d->name, d->link) : vc_path_open(d->link, O_PATH | O_DIRECTORY, 0);
        if (dir.fd < 0)
                return -ENODEV;

        /* driver_override and sriov_numvfs take the device lock, and so may uevent: not read
         * while a write an earlier operation gave up on may still hold it (lib/stuck.h), nor at
         * all through a reader with VC_PCI_READ_NO_DEVICE_LOCK (then nothing is waited for).
         * Under the state lock, driver_override is read in the writer with a deadline and the
         * others not at all (pci_dev_read_override_bounded(), below); an identity, which needs
         * none of them, reads none. */
        bool bounded = vc_ctx_get_device_reads_bounded(ctx) && !(rd && rd->no_device_lock) && !before;
        if (before)
                d->write_pending = before->write_pending;
        else if (!bounded)
                d->write_pending = !(rd && (rd->no_marks || rd->no_device_lock)) &&
                                   vc_stuck_wait(ctx, addr, vc_ctx_get_unbind_timeout_ms(ctx)) == -ETIMEDOUT;
        d->lock_free = bounded || before || d->write_pending || (rd && rd->no_device_lock);

        if ((r = pci_dev_read_ids(&dir, d)) < 0)
                return r;
        if (identity_only) {
                if ((r = pci_dev_read_group(&dir, d)) < 0)
                        return r;
                *ret = TAKE_PTR(d);
                return 0;
        }
        pci_dev_read_header_type(&dir, d);
        /* a bridge's override matters to no caller: bridges stay on their drivers */
        if (bounded && !d->is_bridge && (r = pci_dev_read_override_bounded(ctx, rd, d)) < 0)
                return r;
        if (before && before->driver_override && !(d->driver_override = strdup(before->driver_override)))
                return -ENOMEM;
        if ((r = pci_dev_read_driver(rd, &dir, d)) < 0 || (r = pci_dev_read_group(&dir, d)) < 0)
                return r;
        pci_dev_read_boot_vga(&dir, d);
        pci_dev_read_sriov(&dir, d);
        /* Only asked of a device bound to a driver other than vfio-pci (vc_pci_dev_is_on_vfio()). */
        d->vfio_dev_dir = d->driver && !streq(d->driver, "vfio-pci") && driver_is_vfio(rd, &dir, d->driver);

        *ret = TAKE_PTR(d);
        return 0;
}

int vc_pci_dev_read_with(struct vc_ctx *ctx, struct vc_pci_reader *rd, const struct vc_pci_addr *addr,
                         struct vc_pci_dev **ret) {
        return pci_dev_read(ctx, rd, addr, false, NULL, ret);
}

int vc_pci_dev_read_identity(struct vc_ctx *ctx, const struct vc_pci_addr *addr, struct vc_pci_dev **ret) {
        return pci_dev_read(ctx, NULL, addr, true, NULL, ret);
}

int vc_pci_dev_read_again(struct vc_ctx *ctx, const struct vc_pci_dev *before, struct vc_pci_dev **ret) {
        /* before's on-demand override read now, while it is the one before */
        (void) vc_pci_dev_driver_override(before);
        return pci_dev_read(ctx, NULL, &before->addr, false, before, ret);
}

void vc_pci_dev_array_free(struct vc_pci_dev **v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                vc_pci_dev_free(v[i]);
        free(v);
}

int vc_pci_dev_enumerate(struct vc_ctx *ctx, struct vc_pci_dev ***ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &dir, NULL);
        if (r < 0)
                return r;
        r = vc_dir_list(dir, &names);
        if (r == -ENOENT) { /* no PCI bus at all */
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;

        size_t n = 0, count = 0;
        for (char **i = names; *i; i++)
                count++;
        struct vc_pci_dev **v = calloc(count + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (char **i = names; *i; i++) {
                struct vc_pci_addr a;
                if (vc_pci_addr_parse(*i, &a) < 0)
                        continue; /* not a PCI device name: ignore, never build a path from it */
                r = vc_pci_dev_read(ctx, &a, &v[n]);
                if (r == -ENODEV)
                        continue; /* removed while we looked */
                if (r < 0) {
                        vc_pci_dev_array_free(v, n);
                        return r;
                }
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

const struct vc_pci_addr *vc_pci_dev_addr(const struct vc_pci_dev *d) { return &d->addr; }
const char *vc_pci_dev_name(const struct vc_pci_dev *d) { return d->name; }
uint16_t vc_pci_dev_vendor(const struct vc_pci_dev *d) { return d->vendor; }
uint16_t vc_pci_dev_device(const struct vc_pci_dev *d) { return d->device; }
uint16_t vc_pci_dev_subsystem_vendor(const struct vc_pci_dev *d) { return d->subsystem_vendor; }
uint16_t vc_pci_dev_subsystem_device(const struct vc_pci_dev *d) { return d->subsystem_device; }
uint32_t vc_pci_dev_class(const struct vc_pci_dev *d) { return d->class_code; }
bool vc_pci_dev_is_bridge(const struct vc_pci_dev *d) { return d->is_bridge; }
const char *vc_pci_dev_driver(const struct vc_pci_dev *d) { return d->driver; }
const char *vc_pci_dev_driver_module(const struct vc_pci_dev *d) { return d->driver_module; }
const char *vc_pci_dev_driver_override(const struct vc_pci_dev *d) {
        pci_dev_read_override_late(d);
        return d->driver_override;
}
int vc_pci_dev_iommu_group(const struct vc_pci_dev *d) { return d->iommu_group; }
bool vc_pci_dev_write_pending(const struct vc_pci_dev *d) { return d->write_pending; }
int vc_pci_dev_boot_vga(const struct vc_pci_dev *d) { return d->boot_vga; }
const char *vc_pci_dev_reset_method(const struct vc_pci_dev *d) {
        pci_dev_read_late(d);
        return d->reset_method;
}
int vc_pci_dev_numa_node(const struct vc_pci_dev *d) {
        pci_dev_read_late(d);
        return d->numa_node;
}
const char *vc_pci_dev_modalias(const struct vc_pci_dev *d) { return d->modalias; }
unsigned vc_pci_dev_num_vfs(const struct vc_pci_dev *d) { return d->num_vfs; }
unsigned vc_pci_dev_total_vfs(const struct vc_pci_dev *d) { return d->total_vfs; }
const char *vc_pci_dev_syspath(const struct vc_pci_dev *d) { return pci_dev_resolved(d); }

bool vc_pci_dev_physfn(const struct vc_pci_dev *d, struct vc_pci_addr *ret) {
        if (d->has_physfn && ret)
                *ret = d->physfn;
        return d->has_physfn;
}

bool vc_pci_dev_parent(const struct vc_pci_dev *d, struct vc_pci_addr *ret) {
        (void) pci_dev_resolved(d);
        if (d->has_parent && ret)
                *ret = d->parent;
        return d->has_parent;
}

bool vc_pci_id_matches(const struct vc_pci_id *want, const struct vc_pci_id *have) {
        if (want->vendor != have->vendor || want->device != have->device)
                return false;
        return !want->has_subsystem || (want->subsystem_vendor == have->subsystem_vendor &&
                                        want->subsystem_device == have->subsystem_device);
}

bool vc_pci_dev_has_id(const struct vc_pci_dev *d, const struct vc_pci_id *want) {
        const struct vc_pci_id have = { .vendor = d->vendor, .device = d->device, .has_subsystem = true,
                                        .subsystem_vendor = d->subsystem_vendor,
                                        .subsystem_device = d->subsystem_device };
        return vc_pci_id_matches(want, &have);
}

bool vc_pci_dev_is_on_vfio(const struct vc_pci_dev *d) {
        return d->driver && (streq(d->driver, "vfio-pci") || d->vfio_dev_dir);
}

static const struct {
        uint32_t class_prefix; /* class >> 8 */
        const char *name;
} class_names[] = {
        { 0x0100, "scsi" },     { 0x0101, "ide" },         { 0x0104, "raid" },
        { 0x0106, "sata" },     { 0x0107, "sas" },         { 0x0108, "nvme" },
        { 0x0180, "storage" },  { 0x0200, "ethernet" },    { 0x0207, "infiniband" },
        { 0x0280, "network" },  { 0x0300, "vga" },         { 0x0302, "3d" },
        { 0x0380, "display" },  { 0x0401, "audio" },       { 0x0403, "audio" },
        { 0x0480, "multimedia" },{ 0x0500, "memory" },     { 0x0600, "host-bridge" },
        { 0x0601, "isa-bridge" },{ 0x0604, "pci-bridge" }, { 0x0680, "bridge" },
        { 0x0700, "serial" },   { 0x0780, "communication" },{ 0x0805, "sd-host" },
        { 0x0880, "system" },   { 0x0c03, "usb" },         { 0x0c05, "smbus" },
        { 0x1200, "accelerator" },
};

const char *vc_pci_class_to_string(uint32_t class_code) {
        uint32_t sub = class_code >> 8;
        for (size_t i = 0; i < ELEMENTSOF(class_names); i++)
                if (class_names[i].class_prefix == sub)
                        return class_names[i].name;
        switch (class_code >> 16) {
        case 0x01: return "storage";
        case 0x02: return "network";
        case 0x03: return "display";
        case 0x04: return "multimedia";
        case 0x06: return "bridge";
        case 0x0c: return "serial-bus";
        default: return "other";
        }
}

static double parse_gts(const char *s) {
        /* "8.0 GT/s PCIe", "2.5 GT/s", "Unknown" */
        char *end;
        double v = strtod(s, &end);
        if (end == s || v <= 0)
                return 0;
        return v;
}

/* A link speed as Linux shows it ("8.0 GT/s PCIe", "Unknown"): printable ASCII, or NULL. */
static char *read_link_speed(const struct vc_pci_dev *d, const char *attr) {
        char *s = NULL;
        if (read_path_string(vc_pci_dev_syspath(d), attr, &s) < 0)
                return NULL;
        for (const char *p = s; *p; p++)
                if (*p < 0x20 || *p > 0x7e) {
                        free(s);
                        return NULL;
                }
        return s;
}

int vc_pci_dev_read_link(const struct vc_pci_dev *d, struct vc_pci_link *ret) {
        struct vc_pci_link l = {};
        char *s = NULL;

        l.current_speed = read_link_speed(d, "current_link_speed");
        l.max_speed = read_link_speed(d, "max_link_speed");
        if (read_path_string(vc_pci_dev_syspath(d), "current_link_width", &s) >= 0) {
                l.current_width = (unsigned) strtoul(s, NULL, 10);
                free(s);
        }
        if (read_path_string(vc_pci_dev_syspath(d), "max_link_width", &s) >= 0) {
                l.max_width = (unsigned) strtoul(s, NULL, 10);
                free(s);
        }
        l.current_gts = l.current_speed ? parse_gts(l.current_speed) : 0;
        l.max_gts = l.max_speed ? parse_gts(l.max_speed) : 0;
        *ret = l;
        return l.current_speed || l.max_speed ? 0 : -ENOENT;
}

void vc_pci_link_done(struct vc_pci_link *l) {
        free(l->current_speed);
        free(l->max_speed);
        *l = (struct vc_pci_link){};
}

bool vc_pci_link_degraded(const struct vc_pci_link *l) {
        if (l->current_gts > 0 && l->max_gts > 0 && l->current_gts + 0.01 < l->max_gts)
                return true;
        return l->current_width > 0 && l->max_width > 0 && l->current_width < l->max_width;
}

#define IORESOURCE_IO 0x00000100
#define IORESOURCE_MEM 0x00000200
#define IORESOURCE_PREFETCH 0x00002000
#define IORESOURCE_MEM_64 0x00100000

int vc_pci_dev_read_bars(const struct vc_pci_dev *d, struct vc_pci_bar **ret, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        int r = read_path_string(vc_pci_dev_syspath(d), "resource", &text);
        if (r < 0)
                return r;

        _cleanup_free_ struct vc_pci_bar *bars = calloc(7, sizeof *bars);
        if (!bars)
                return -ENOMEM;
        size_t n = 0;
        unsigned index = 0;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && index <= 6;
             line = strtok_r(NULL, "\n", &save), index++) {
                unsigned long long start, end, flags;
                if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3)
                        return -EBADMSG;
                /* unassigned (all zero), or no range a BAR can have (its size would not fit) */
                if (end <= start || (!start && end == ULLONG_MAX))
                        continue;
                bars[n++] = (struct vc_pci_bar){
                        .index = index,
                        .start = start,
                        .size = end - start + 1,
                        .io = flags & IORESOURCE_IO,
                        .mem64 = flags & IORESOURCE_MEM_64,
                        .prefetchable = flags & IORESOURCE_PREFETCH,
                };
        }
        *ret = TAKE_PTR(bars);
        *ret_n = n;
        return 0;
}

int vc_pci_dev_hwdb_names(struct vc_ctx *ctx, const struct vc_pci_dev *d, char **ret_vendor,
                          char **ret_model) {
        const char *vendor, *model;
        int r;

        *ret_vendor = *ret_model = NULL;
        r = vc_ctx_hwdb_pci_names(ctx, d->vendor, d->device, &vendor, &model);
        if (r < 0)
                return r;
        _cleanup_free_ char *v = vendor ? strdup(vendor) : NULL;
        _cleanup_free_ char *m = model ? strdup(model) : NULL;
        if ((vendor && !v) || (model && !m))
                return -ENOMEM;
        *ret_vendor = TAKE_PTR(v);
        *ret_model = TAKE_PTR(m);
        return 0;
}
