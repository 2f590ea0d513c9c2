/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* USB devices read from sysfs. Attribute names and formats: Linux drivers/usb/core/sysfs.c, as
 * tests/fakekernel/README.md ("USB") lists them. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "critical.h"
#include "fileio.h"
#include "root.h"
#include "stuck.h"
#include "sysfs.h"
#include "usb.h"

static int read_hex(struct vc_ctx *ctx, const char *name, const char *attr, unsigned max, unsigned *ret) {
        _cleanup_free_ char *p = NULL, *v = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s/%s", name, attr);
        if (r < 0)
                return r;
        if ((r = vc_sysfs_read(p, &v)) < 0)
                return r;
        char *end;
        errno = 0;
        unsigned long x = strtoul(v, &end, 16);
        if (errno || end == v || *end || x > max)
                return -EINVAL;
        *ret = (unsigned) x;
        return 0;
}

static int read_dec(struct vc_ctx *ctx, const char *name, const char *attr, unsigned *ret) {
        _cleanup_free_ char *p = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s/%s", name, attr), v;
        if (r < 0)
                return r;
        if ((r = vc_sysfs_read_int(p, &v)) < 0)
                return r;
        if (v < 0)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* A string attribute, NULL when the device has none (Linux hides it). */
static int read_string(struct vc_ctx *ctx, const char *name, const char *attr, char **ret) {
        _cleanup_free_ char *p = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s/%s", name, attr);
        if (r < 0)
                return r;
        r = vc_sysfs_read(p, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* The host controller: the last PCI address among the components of the device's real path
 * (…/0000:00:14.0/usb3/3-1/3-1.2). */
static void read_controller(struct vc_ctx *ctx, struct vc_usb_dev *d) {
        _cleanup_free_ char *p = NULL, *target = NULL, *gl = NULL, *group = NULL;
        d->has_controller = false;
        d->group = -1;
        if (vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s", d->port) < 0 ||
            vc_sysfs_read_link_target(p, &target) < 0)
                return;
        for (char *save, *s = strtok_r(target, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
                struct vc_pci_addr a;
                if (strlen(s) == 12 && vc_pci_addr_parse(s, &a) >= 0) {
                        d->controller = a;
                        d->has_controller = true;
                }
        }
        if (!d->has_controller ||
            vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &gl, "%s/iommu_group", VC_PCI_ADDR_TO_STRING(&d->controller)) < 0 ||
            vc_sysfs_read_link_name(gl, &group) < 0)
                return;
        char *end;
        long g = strtol(group, &end, 10);
        if (!*end && g >= 0 && g < 1 << 30)
                d->group = (int) g;
}

static int read_ifaces(struct vc_ctx *ctx, struct vc_usb_dev *d, char **names) {
        size_t l = strlen(d->port);
        for (char **n = names; *n; n++) {
                unsigned c, i;
                char end;
                if (strncmp(*n, d->port, l) != 0 || sscanf(*n + l, ":%u.%u%c", &c, &i, &end) != 2)
                        continue;
                struct vc_usb_iface *v = reallocarray(d->ifaces, d->n_ifaces + 1, sizeof *v);
                if (!v)
                        return -ENOMEM;
                d->ifaces = v;
                struct vc_usb_iface *f = &v[d->n_ifaces];
                *f = (struct vc_usb_iface){ .name = strdup(*n) };
                if (!f->name)
                        return -ENOMEM;
                d->n_ifaces++;
                (void) read_hex(ctx, *n, "bInterfaceClass", 0xff, &f->cls);
                (void) read_hex(ctx, *n, "bInterfaceSubClass", 0xff, &f->subclass);
                (void) read_hex(ctx, *n, "bInterfaceProtocol", 0xff, &f->protocol);
                _cleanup_free_ char *p = NULL;
                int r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s/driver", *n);
                if (r < 0)
                        return r;
                r = vc_sysfs_read_link_name(p, &f->driver);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        return 0;
}

/* The device's fields that Linux shows without the device's lock (descriptor fields, the bus
 * address, the interfaces' classes and driver links), and with @flags VC_USB_READ_STRINGS its
 * string descriptors, which take it (lib/usb.h). */
static int dev_read(struct vc_ctx *ctx, const char *port, char **names, unsigned flags, struct vc_usb_dev *ret) {
        struct vc_usb_dev d = { .group = -1 };
        int r;
        if (!vc_usb_port_is_valid(port))
                return -EINVAL;
        if (!(d.port = strdup(port)))
                return -ENOMEM;
        if ((r = read_hex(ctx, port, "idVendor", 0xffff, &d.vendor)) < 0 ||
            (r = read_hex(ctx, port, "idProduct", 0xffff, &d.product)) < 0 ||
            (r = read_hex(ctx, port, "bDeviceClass", 0xff, &d.cls)) < 0 ||
            (r = read_dec(ctx, port, "busnum", &d.busnum)) < 0 || (r = read_dec(ctx, port, "devnum", &d.devnum)) < 0 ||
            ((flags & VC_USB_READ_STRINGS) &&
             ((r = read_string(ctx, port, "serial", &d.serial)) < 0 ||
              (r = read_string(ctx, port, "manufacturer", &d.manufacturer)) < 0 ||
              (r = read_string(ctx, port, "product", &d.product_name)) < 0)) ||
            (r = read_ifaces(ctx, &d, names)) < 0) {
                vc_usb_dev_done(&d);
                return r;
        }
        d.serial_read = d.strings_read = flags & VC_USB_READ_STRINGS;
        if (d.cls == 0x09) { /* a hub */
                vc_usb_dev_done(&d);
                return -EINVAL;
        }
        read_controller(ctx, &d);
        *ret = d;
        return 0;
}

static int list_names(struct vc_ctx *ctx, char ***ret) {
        _cleanup_free_ char *dir = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &dir, NULL);
        if (r < 0)
                return r;
        r = vc_dir_list(dir, ret);
        if (r == -ENOENT) {
                *ret = calloc(1, sizeof(char *));
                return *ret ? 0 : -ENOMEM;
        }
        return r;
}

int vc_usb_dev_read(struct vc_ctx *ctx, const char *port, unsigned flags, struct vc_usb_dev *ret) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *p = NULL;
        int r;
        if (!ctx || !port || !ret)
                return -EINVAL;
        if (!vc_usb_port_is_valid(port))
                return -EINVAL;
        if ((r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s", port)) < 0)
                return r;
        if (!vc_path_exists(p))
                return -ENOENT;
        if ((r = list_names(ctx, &names)) < 0)
                return r;
        return dev_read(ctx, port, names, flags, ret);
}

void vc_usb_dev_done(struct vc_usb_dev *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n_ifaces; i++) {
                free(d->ifaces[i].name);
                free(d->ifaces[i].driver);
        }
        free(d->ifaces);
        free(d->port);
        free(d->serial);
        free(d->manufacturer);
        free(d->product_name);
        *d = (struct vc_usb_dev){ .group = -1 };
}

void vc_usb_devs_free(struct vc_usb_dev *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                vc_usb_dev_done(&v[i]);
        free(v);
}

/* Port paths in bus order, then port by port numerically ("3-2" before "3-10"). */
static int compare_ports(const void *a, const void *b) {
        const char *x = ((const struct vc_usb_dev *) a)->port, *y = ((const struct vc_usb_dev *) b)->port;
        while (*x && *y) {
                char *ex, *ey;
                unsigned long nx = strtoul(x, &ex, 10), ny = strtoul(y, &ey, 10);
                if (nx != ny)
                        return nx < ny ? -1 : 1;
                x = *ex ? ex + 1 : ex;
                y = *ey ? ey + 1 : ey;
        }
        return *x ? 1 : *y ? -1 : 0;
}

int vc_usb_enumerate(struct vc_ctx *ctx, unsigned flags, struct vc_usb_dev **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **names = NULL;
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        int r;
        if (!ctx || !ret || !ret_n)
                return -EINVAL;
        if ((r = list_names(ctx, &names)) < 0)
                return r;
        for (char **s = names; *s; s++) {
                if (!vc_usb_port_is_valid(*s))
                        continue; /* root hubs (usbN) and interfaces (B-P:C.I) */
                struct vc_usb_dev d;
                r = dev_read(ctx, *s, names, flags, &d);
                if (r < 0 && r != -ENOMEM)
                        continue; /* a hub, or unplugged while we read (ENOENT, ENODEV), or unreadable */
                if (r < 0) {
                        vc_usb_devs_free(v, n);
                        return r;
                }
                struct vc_usb_dev *nv = reallocarray(v, n + 1, sizeof *nv);
                if (!nv) {
                        vc_usb_dev_done(&d);
                        vc_usb_devs_free(v, n);
                        return -ENOMEM;
                }
                v = nv;
                v[n++] = d;
        }
        if (n > 1)
                qsort(v, n, sizeof *v, compare_ports);
        *ret = v;
        *ret_n = n;
        return 0;
}

int vc_usb_dev_read_serial(struct vc_ctx *ctx, struct vc_usb_dev *d) {
        _cleanup_free_ char *p = NULL;
        char buf[VC_TIMED_READ_MAX];
        int r;
        if (!ctx || !d)
                return -EINVAL;
        if (d->serial_read)
                return 0;
        if ((r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &p, "%s/serial", d->port)) < 0)
                return r;
        r = vc_timed_read(p, buf, sizeof buf - 1, vc_ctx_get_unbind_timeout_ms(ctx));
        if (r == -ENOENT) { /* none: Linux hides the attribute */
                d->serial_read = true;
                return 0;
        }
        if (r < 0)
                return r;
        buf[r] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (strlen(buf) != (size_t) r && strlen(buf) + 1 != (size_t) r)
                return -EBADMSG; /* a NUL, or more than one line */
        free(d->serial);
        if (!(d->serial = strdup(buf)))
                return -ENOMEM;
        d->serial_read = true;
        return 0;
}

int vc_usb_config_match(struct vc_ctx *ctx, const struct vc_config *c, struct vc_usb_dev *d,
                        const struct vc_config_usb **ret) {
        int r = 0;
        if (!d || !ret)
                return -EINVAL;
        for (size_t i = 0; c && i < c->n_usbs && !d->serial_read && r == 0; i++)
                if (c->usbs[i].serial && c->usbs[i].vendor == d->vendor && c->usbs[i].product == d->product)
                        r = vc_usb_dev_read_serial(ctx, d);
        *ret = vc_config_match_usb(c, d);
        return r;
}

bool vc_config_usb_selects(const struct vc_config_usb *u, const struct vc_usb_dev *d) {
        if (!u || !d || u->vendor != d->vendor || u->product != d->product)
                return false;
        if (u->serial && (!d->serial_read || !d->serial || !streq(u->serial, d->serial)))
                return false;
        if (u->port && !streq(u->port, d->port))
                return false;
        return true;
}

const struct vc_config_usb *vc_config_match_usb(const struct vc_config *c, const struct vc_usb_dev *d) {
        for (size_t i = 0; c && i < c->n_usbs; i++)
                if (vc_config_usb_selects(&c->usbs[i], d))
                        return &c->usbs[i];
        return NULL;
}

/* ------------------------------------------------------------------ protection */

int vc_usb_dev_needed(const struct vc_critical_set *critical, const struct vc_usb_dev *d, char **ret_reason) {
        if (!d || !ret_reason)
                return -EINVAL;
        *ret_reason = NULL;
        const char *why = vc_critical_usb_reason(critical, d->port);
        if (!why)
                return 0;
        /* "controller of the root filesystem /dev/sda1" -> "it holds the root filesystem /dev/sda1";
         * "NIC of the default route (enx…)" -> "it is the NIC of the default route (enx…)" */
        const char *held = startswith(why, "controller of ");
        int r = held ? asprintf(ret_reason, "it holds %s", held) : asprintf(ret_reason, "it is the %s", why);
        if (r < 0) {
                *ret_reason = NULL;
                return -ENOMEM;
        }
        return 0;
}

int vc_usb_dev_protected(struct vc_ctx *ctx, const struct vc_critical_set *critical, const struct vc_usb_dev *d,
                         char **ret_reason) {
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *scanned = NULL;
        int r;

        if (!ctx || !d || !ret_reason)
                return -EINVAL;
        *ret_reason = NULL;
        for (size_t i = 0; i < d->n_ifaces; i++)
                if (d->ifaces[i].cls == 0x03 && d->ifaces[i].subclass == 0x01 && d->ifaces[i].protocol == 0x01)
                        return asprintf(ret_reason, "it is a keyboard (interface %s)", d->ifaces[i].name) < 0 ? -ENOMEM
                                                                                                               : 0;
        if (!critical) {
                if ((r = vc_critical_scan(ctx, &scanned)) < 0)
                        return r;
                critical = scanned;
        }
        return vc_usb_dev_needed(critical, d, ret_reason);
}

/* ------------------------------------------------------------------ enable, disable */

static int record_path(struct vc_ctx *ctx, const char *port, char **ret) {
        if (!vc_usb_port_is_valid(port))
                return -EINVAL;
        return vc_ctx_path(ctx, VC_PLACE_RUN_STATE, ret, "usb-%s", port);
}

bool vc_usb_is_enabled(struct vc_ctx *ctx, const char *port) {
        _cleanup_free_ char *p = NULL;
        return record_path(ctx, port, &p) >= 0 && vc_path_exists(p);
}

static int record_value(struct vc_ctx *ctx, const char *port, const char *key, char **ret);

int vc_usb_record_is_of(struct vc_ctx *ctx, struct vc_usb_dev *d) {
        _cleanup_free_ char *serial = NULL;
        unsigned v, p;
        int r;
        if (!ctx || !d)
                return -EINVAL;
        if ((r = vc_usb_record_id(ctx, d->port, &v, &p)) < 0)
                return r;
        if (v != d->vendor || p != d->product)
                return 0;
        if ((r = record_value(ctx, d->port, "serial", &serial)) < 0)
                return r;
        if (!serial)
                return 1;
        if ((r = vc_usb_dev_read_serial(ctx, d)) < 0)
                return r;
        return streq_ptr(d->serial, serial);
}

/* "usbfs" is the driver a program using /dev/bus/usb (QEMU, for a VM) claims an interface with:
 * not a host driver, never taken away. */
static bool is_host_driver(const char *driver) {
        return driver && !streq(driver, "usbfs");
}

/* A driver name as a link gives it, safe to put in a path. */
static bool driver_name_ok(const char *s) {
        return !isempty(s) && !strchr(s, '/') && !streq(s, ".") && !streq(s, "..") && strlen(s) < 256;
}

/* An interface's unbind runs its driver's disconnect, which may wait (for I/O in flight, for the
 * device's lock while something probes it): bounded like the engine's PCI writes, through the
 * writer process (lib/stuck.h). An interface whose write did not finish is not marked: the next
 * write to it meets the same lock and the same bound. */
static int iface_write(struct vc_ctx *ctx, const char *driver, const char *file, const char *iface) {
        _cleanup_free_ char *p = NULL;
        if (!driver_name_ok(driver))
                return -EINVAL;
        int r = vc_ctx_path(ctx, VC_PLACE_USB_DRIVERS, &p, "%s/%s", driver, file);
        if (r < 0)
                return r;
        return vc_stuck_timed_write(ctx, NULL, p, iface, vc_ctx_get_unbind_timeout_ms(ctx));
}

/* vc_usb_enable(), the record naming who took the device (@by, a "by BY" line) when not NULL. */
static int enable_by(struct vc_ctx *ctx, struct vc_usb_dev *d, const char *by, const char **ret_failed) {
        _cleanup_free_ char *path = NULL, *text = NULL, *dir = NULL, *stale = NULL;
        size_t len = 0;
        int r;
        if (!ctx || !d || (by && (strchr(by, '\n') || isempty(by))))
                return -EINVAL;
        if ((r = record_path(ctx, d->port, &path)) < 0)
                return r;
        r = vc_usb_record_is_of(ctx, d);
        if (r > 0)
                return -EEXIST;
        if (r == 0 && (r = vc_sysfs_read(path, &stale)) < 0) /* put back when the unbind fails */
                return r;
        if (r < 0 && r != -ENOENT)
                return r;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        fprintf(f, "id %04x:%04x\n", d->vendor, d->product);
        if (d->serial && vc_usb_serial_is_valid(d->serial))
                fprintf(f, "serial %s\n", d->serial);
        if (by)
                fprintf(f, "by %s\n", by);
        for (size_t i = 0; i < d->n_ifaces; i++)
                if (is_host_driver(d->ifaces[i].driver)) {
                        if (!driver_name_ok(d->ifaces[i].driver))
                                return fclose(f), -EINVAL;
                        fprintf(f, "interface %s %s\n", d->ifaces[i].name, d->ifaces[i].driver);
                }
        if (fclose(f) != 0)
                return -ENOMEM;
        if ((r = vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL)) < 0 || (r = vc_mkdir_p(dir, 0755)) < 0 ||
            (r = vc_write_runtime_file(path, text, 0644)) < 0)
                return r;
        for (size_t i = 0; i < d->n_ifaces; i++) {
                if (!is_host_driver(d->ifaces[i].driver))
                        continue;
                r = iface_write(ctx, d->ifaces[i].driver, "unbind", d->ifaces[i].name);
                if (r < 0) {
                        if (ret_failed)
                                *ret_failed = d->ifaces[i].name;
                        for (size_t k = 0; k < i; k++)
                                if (is_host_driver(d->ifaces[k].driver))
                                        (void) iface_write(ctx, d->ifaces[k].driver, "bind", d->ifaces[k].name);
                        _cleanup_free_ char *back = NULL;
                        if (stale && asprintf(&back, "%s\n", stale) >= 0) /* the read took the last newline */
                                (void) vc_write_runtime_file(path, back, 0644);
                        else
                                (void) vc_unlink_runtime_file(path);
                        return r;
                }
        }
        return stale ? 1 : 0;
}

int vc_usb_enable(struct vc_ctx *ctx, struct vc_usb_dev *d, const char **ret_failed) {
        return enable_by(ctx, d, NULL, ret_failed);
}

int vc_usb_disable(struct vc_ctx *ctx, const char *port) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;
        if (!ctx || !port)
                return -EINVAL;
        if ((r = record_path(ctx, port, &path)) < 0)
                return r;
        if ((r = vc_sysfs_read(path, &text)) < 0)
                return r;
        /* the device plugged in there now: the record's, or another one (lib/usb.h) */
        struct vc_usb_dev now = { .group = -1 };
        r = vc_usb_dev_read(ctx, port, 0, &now);
        if (r >= 0) {
                r = vc_usb_record_is_of(ctx, &now);
                vc_usb_dev_done(&now);
                if (r == -EBADMSG)
                        r = 1; /* a damaged record, without its id line: whose it is cannot be told;
                                * its interface lines are given back as they stand, as before */
                if (r < 0)
                        return r;
                if (r == 0)
                        return (r = vc_unlink_runtime_file(path)) < 0 ? r : 1;
        } else if (r == -EINVAL) /* a hub plugged in there since: never the record's device */
                return (r = vc_unlink_runtime_file(path)) < 0 ? r : 1;
        else if (r != -ENOENT)
                return r;
        int first = 0;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char iface[64], driver[256];
                if (sscanf(l, "interface %63s %255s", iface, driver) != 2)
                        continue;
                size_t pl = strlen(port);
                unsigned c, n;
                char end;
                if (strncmp(iface, port, pl) != 0 || sscanf(iface + pl, ":%u.%u%c", &c, &n, &end) != 2)
                        continue; /* not an interface of this device: a damaged record */
                _cleanup_free_ char *link = NULL, *cur = NULL;
                if ((r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &link, "%s", iface)) < 0)
                        return r;
                if (!vc_path_exists(link))
                        continue; /* unplugged */
                free(link);
                link = NULL;
                if ((r = vc_ctx_path(ctx, VC_PLACE_USB_DEVICES, &link, "%s/driver", iface)) < 0)
                        return r;
                if (vc_sysfs_read_link_name(link, &cur) >= 0)
                        continue; /* bound already (a replug probed it) */
                r = iface_write(ctx, driver, "bind", iface);
                if (r < 0 && first == 0)
                        first = r;
        }
        if (first < 0)
                return first;
        return vc_unlink_runtime_file(path);
}

int vc_usb_record_id(struct vc_ctx *ctx, const char *port, unsigned *ret_vendor, unsigned *ret_product) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        unsigned v, p;
        int r;
        if (!ctx || !port)
                return -EINVAL;
        if ((r = record_path(ctx, port, &path)) < 0 || (r = vc_sysfs_read(path, &text)) < 0)
                return r;
        if (sscanf(text, "id %4x:%4x", &v, &p) != 2)
                return -EBADMSG;
        if (ret_vendor)
                *ret_vendor = v;
        if (ret_product)
                *ret_product = p;
        return 0;
}

/* vc_usb_hold() of a device with its own record at @path: the record gains the interfaces a driver
 * bound since (a replug, a module loaded later) before they are unbound, so that disable gives
 * them back to that driver. */
static int record_gain_bound(const char *path, const struct vc_usb_dev *d) {
        _cleanup_free_ char *text = NULL, *more = NULL;
        size_t len = 0;
        int r;
        if ((r = vc_sysfs_read(path, &text)) < 0)
                return r;
        FILE *f = open_memstream(&more, &len);
        if (!f)
                return -ENOMEM;
        fprintf(f, "%s\n", text);
        bool changed = false;
        for (size_t i = 0; i < d->n_ifaces; i++) {
                const struct vc_usb_iface *it = &d->ifaces[i];
                _cleanup_free_ char *line = NULL;
                if (!is_host_driver(it->driver))
                        continue;
                if (!driver_name_ok(it->driver))
                        return fclose(f), -EINVAL;
                if (asprintf(&line, "interface %s ", it->name) < 0)
                        return fclose(f), -ENOMEM;
                bool listed = false;
                for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                        listed = listed || startswith(l, line);
                if (!listed) {
                        fprintf(f, "interface %s %s\n", it->name, it->driver);
                        changed = true;
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        return changed ? vc_write_runtime_file(path, more, 0644) : 0;
}

int vc_usb_hold(struct vc_ctx *ctx, struct vc_usb_dev *d, const char *by, unsigned *ret_taken,
                const char **ret_failed) {
        _cleanup_free_ char *path = NULL;
        unsigned taken = 0;
        int r;
        if (!ctx || !d)
                return -EINVAL;
        if (ret_taken)
                *ret_taken = 0;
        if ((r = record_path(ctx, d->port, &path)) < 0)
                return r;
        r = vc_usb_record_is_of(ctx, d);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r <= 0) { /* none, or another device's (stale): replaced */
                int e = enable_by(ctx, d, by, ret_failed);
                if (e < 0)
                        return e;
                for (size_t i = 0; i < d->n_ifaces; i++)
                        taken += is_host_driver(d->ifaces[i].driver);
                if (ret_taken)
                        *ret_taken = taken;
                return e;
        }
        if ((r = record_gain_bound(path, d)) < 0)
                return r;
        _cleanup_free_ bool *took = calloc(d->n_ifaces + 1, sizeof *took);
        if (!took)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_ifaces; i++) {
                if (!is_host_driver(d->ifaces[i].driver))
                        continue;
                r = iface_write(ctx, d->ifaces[i].driver, "unbind", d->ifaces[i].name);
                if (r == -ENODEV)
                        continue; /* unbound meanwhile */
                if (r < 0) {
                        if (ret_failed)
                                *ret_failed = d->ifaces[i].name;
                        /* the interfaces this call took go back, newest first: nothing changed
                         * but the record's lines, which list interfaces bound again */
                        for (size_t k = i; k-- > 0;)
                                if (took[k])
                                        (void) iface_write(ctx, d->ifaces[k].driver, "bind", d->ifaces[k].name);
                        return r;
                }
                took[i] = true;
                taken++;
        }
        if (ret_taken)
                *ret_taken = taken;
        return 0;
}

int vc_usb_held_ids(struct vc_ctx *ctx, const struct vc_config *cfg, struct vc_usb_held_id **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **ports = NULL;
        struct vc_usb_held_id *v = NULL;
        size_t n = 0;
        int r;
        if (!ctx || !ret || !ret_n)
                return -EINVAL;
        if ((r = vc_usb_records(ctx, &ports)) < 0)
                return r;
        size_t n_usbs = cfg ? cfg->n_usbs : 0, n_names = 0;
        for (char **s = ports; *s; s++)
                n_names++;
        if (!(v = calloc(n_usbs + n_names + 1, sizeof *v)))
                return -ENOMEM;
        for (size_t i = 0; i < n_usbs; i++)
                if (cfg->usbs[i].boot) {
                        v[n++] = (struct vc_usb_held_id){ .vendor = cfg->usbs[i].vendor, .product = cfg->usbs[i].product };
                        snprintf(v[n - 1].why, sizeof v[n - 1].why, "[usb %s] says boot = yes", cfg->usbs[i].name);
                }
        for (char **s = ports; *s; s++) {
                unsigned vendor, product;
                if (vc_usb_record_id(ctx, *s, &vendor, &product) < 0)
                        continue;
                v[n++] = (struct vc_usb_held_id){ .vendor = vendor, .product = product };
                snprintf(v[n - 1].why, sizeof v[n - 1].why, "USB device %s is enabled", *s);
        }
        /* each id once, the first reason stays */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                bool seen = false;
                for (size_t j = 0; j < k && !seen; j++)
                        seen = v[j].vendor == v[i].vendor && v[j].product == v[i].product;
                if (!seen)
                        v[k++] = v[i];
        }
        *ret = v;
        *ret_n = k;
        return 0;
}

int vc_usb_should_hold(struct vc_ctx *ctx, const struct vc_config *cfg, struct vc_usb_dev *d, bool boot,
                       bool *ret_by_entry) {
        const struct vc_config_usb *u = NULL;
        if (ret_by_entry)
                *ret_by_entry = false;
        if (!ctx || !d)
                return -EINVAL;
        int r = vc_usb_record_is_of(ctx, d);
        if (r > 0)
                return 1;
        if (r < 0 && r != -ENOENT)
                return r;
        /* no record, or another device's (stale): as without one */
        if (boot && (r = vc_usb_config_match(ctx, cfg, d, &u)) < 0)
                return r;
        if (ret_by_entry)
                *ret_by_entry = u && u->boot;
        return u && u->boot;
}

int vc_usb_event_parse(const char *action, const char *subsystem, const char *devtype, const char *devpath,
                       char **ret_port) {
        if (!streq_ptr(subsystem, "usb") || !devpath)
                return 0;
        bool dev = streq_ptr(action, "add") && streq_ptr(devtype, "usb_device"),
             iface = streq_ptr(action, "bind") && streq_ptr(devtype, "usb_interface");
        if (!dev && !iface)
                return 0;
        const char *name = strrchr(devpath, '/');
        name = name ? name + 1 : devpath;
        size_t l = iface ? strcspn(name, ":") : strlen(name);
        _cleanup_free_ char *port = strndup(name, l);
        if (!port)
                return -ENOMEM;
        if (!vc_usb_port_is_valid(port) || (iface && !name[l]))
                return -EINVAL;
        *ret_port = TAKE_PTR(port);
        return dev ? 1 : 2;
}

/* The value of the first "@key VALUE" line of @port's record, NULL in *ret when it has none;
 * -ENOENT without a record. */
static int record_value(struct vc_ctx *ctx, const char *port, const char *key, char **ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t k = strlen(key);
        int r;
        if (!ctx || !port || !ret)
                return -EINVAL;
        if ((r = record_path(ctx, port, &path)) < 0 || (r = vc_sysfs_read(path, &text)) < 0)
                return r;
        *ret = NULL;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (strncmp(l, key, k) == 0 && l[k] == ' ')
                        return (*ret = strdup(l + k + 1)) ? 0 : -ENOMEM;
        return 0;
}

int vc_usb_record_by(struct vc_ctx *ctx, const char *port, char **ret_by) {
        return record_value(ctx, port, "by", ret_by);
}

int vc_usb_record_selected(struct vc_ctx *ctx, const struct vc_config_usb *u, const char *port) {
        _cleanup_free_ char *serial = NULL;
        unsigned v, p;
        int r;
        if (!ctx || !u || !port)
                return -EINVAL;
        if ((r = vc_usb_record_id(ctx, port, &v, &p)) < 0)
                return r;
        if (v != u->vendor || p != u->product || (u->port && !streq(u->port, port)))
                return 0;
        if (!u->serial)
                return 1;
        if ((r = record_value(ctx, port, "serial", &serial)) < 0)
                return r;
        if (!serial)
                return -ENODATA;
        return streq(serial, u->serial);
}

int vc_usb_records(struct vc_ctx *ctx, char ***ret_ports) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL, **ports = calloc(1, sizeof(char *));
        size_t n = 0;
        int r;
        if (!ctx || !ret_ports)
                return -EINVAL;
        if (!ports)
                return -ENOMEM;
        if ((r = vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL)) < 0)
                return r;
        r = vc_dir_list(dir, &names);
        if (r < 0 && r != -ENOENT)
                return r;
        for (char **s = names; s && *s; s++) {
                const char *port = startswith(*s, "usb-");
                if (port && vc_usb_port_is_valid(port) && (r = strv_push(&ports, &n, strdup(port))) < 0)
                        return r;
        }
        *ret_ports = TAKE_PTR(ports);
        return 0;
}

int vc_usb_record_owner(struct vc_ctx *ctx, const char *port, char **ret_owner) {
        return record_value(ctx, port, "owner", ret_owner);
}

int vc_usb_record_set_owner(struct vc_ctx *ctx, const char *port, const char *owner) {
        _cleanup_free_ char *path = NULL, *text = NULL, *out = NULL;
        size_t len = 0;
        int r;
        if (!ctx || !port || (owner && (isempty(owner) || strchr(owner, '\n'))))
                return -EINVAL;
        if ((r = record_path(ctx, port, &path)) < 0 || (r = vc_sysfs_read(path, &text)) < 0)
                return r;
        FILE *f = open_memstream(&out, &len);
        if (!f)
                return -ENOMEM;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (!startswith(l, "owner "))
                        fprintf(f, "%s\n", l);
        if (owner)
                fprintf(f, "owner %s\n", owner);
        if (fclose(f) != 0)
                return -ENOMEM;
        return vc_write_runtime_file(path, out, 0644);
}
