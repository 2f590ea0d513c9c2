/* USB devices of the fake kernel, as Linux 6.1 shows them: the attributes of a device and of an
 * interface and their formats are those of drivers/usb/core/sysfs.c (usb_device_groups,
 * usb_interface_groups); names are "B-P.P" for a device, "B-P.P:C.I" for an interface, "usbB"
 * for the root hub of bus B (drivers/usb/core/usb.c, message.c).  Binding state lives in the
 * tree (the interfaces' `driver` links); ROOT/.fakekernel/usb lists, per interface, the one
 * interface driver that matches it.  Format and rules: tests/fakekernel/README.md. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fkusb.h"

#define MAX_USB_DRIVERS 32
#define MAX_BUSES 16
#define MAX_USB_DEVS 64
#define MAX_USB_IFS 128

struct usbbus {
        int num;
        char pci[16];
        unsigned product; /* 0002 (USB 2.0 root hub) or 0003 (USB 3) */
        char path[PATH_MAX / 4];
};

struct usbdev {
        char name[32];
        int bus;
        unsigned vid, pid, bcd, cls, version;
        int devnum;
        char serial[128], product[128], manufacturer[128], speed[16];
        char path[PATH_MAX / 4];
};

struct usbif {
        char name[40];
        int dev;
        unsigned cls, sub, proto;
        char driver[64], string[128];
        bool bound;
};

static char drivers[MAX_USB_DRIVERS][64];
static int n_drivers;
static struct usbbus buses[MAX_BUSES];
static int n_buses;
static struct usbdev devs[MAX_USB_DEVS];
static int n_devs;
static struct usbif ifs[MAX_USB_IFS];
static int n_ifs;

static int err_set(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int err_set(char *err, size_t n, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
        return -1;
}

/* The next "key=value" or "word" of @s; a value may be "double quoted" (spaces kept). */
static bool next_token(char **s, char **ret_key, char **ret_value) {
        char *p = *s + strspn(*s, " \t");
        if (!*p)
                return false;
        *ret_key = p;
        *ret_value = NULL;
        while (*p && *p != ' ' && *p != '\t' && *p != '=')
                p++;
        if (*p == '=') {
                *p++ = 0;
                if (*p == '"') {
                        *ret_value = ++p;
                        while (*p && *p != '"')
                                p++;
                        if (*p)
                                *p++ = 0;
                } else {
                        *ret_value = p;
                        p += strcspn(p, " \t");
                }
        }
        if (*p)
                *p++ = 0;
        *s = p;
        return true;
}

static bool hex(const char *v, unsigned max, unsigned *ret) {
        char *end;
        unsigned long x = strtoul(v, &end, 16);
        if (!*v || *end || x > max)
                return false;
        *ret = (unsigned) x;
        return true;
}

static int find_driver(const char *name) {
        for (int i = 0; i < n_drivers; i++)
                if (strcmp(drivers[i], name) == 0)
                        return i;
        return -1;
}

static int find_dev(const char *name) {
        for (int i = 0; i < n_devs; i++)
                if (strcmp(devs[i].name, name) == 0)
                        return i;
        return -1;
}

static int find_bus(int num) {
        for (int i = 0; i < n_buses; i++)
                if (buses[i].num == num)
                        return i;
        return -1;
}

/* "B-P[.P]*": the bus number, or -1. */
static int port_bus(const char *s) {
        char *end;
        long b = strtol(s, &end, 10);
        if (end == s || *end != '-' || b < 1 || b > 255)
                return -1;
        for (const char *p = end + 1;; p++) {
                const char *q = p;
                while (*p >= '0' && *p <= '9')
                        p++;
                if (p == q || p - q > 2)
                        return -1;
                if (!*p)
                        return (int) b;
                if (*p != '.')
                        return -1;
        }
}

static int parse_bus(const struct fk_model *m, char *s, char *err, size_t n) {
        char *k, *v, *end;
        struct usbbus *b = &buses[n_buses];
        if (n_buses >= MAX_BUSES)
                return err_set(err, n, "too many USB buses");
        if (!next_token(&s, &k, &v) || v)
                return err_set(err, n, "usbbus: missing bus NUMBER");
        long num = strtol(k, &end, 10);
        if (*end || num < 1 || num > 255 || find_bus((int) num) >= 0)
                return err_set(err, n, "usbbus: \"%s\" is not a new bus number 1-255", k);
        *b = (struct usbbus){ .num = (int) num, .product = 2 };
        while (next_token(&s, &k, &v)) {
                if (v && strcmp(k, "pci") == 0) {
                        const struct fk_dev *d = fk_dev_find((struct fk_model *) m, v);
                        if (!d)
                                return err_set(err, n, "usbbus %ld: controller %s is not declared before it", num, v);
                        snprintf(b->pci, sizeof b->pci, "%s", v);
                        snprintf(b->path, sizeof b->path, "%s/usb%ld", d->path, num);
                } else if (v && strcmp(k, "usb") == 0 && (strcmp(v, "2") == 0 || strcmp(v, "3") == 0))
                        b->product = v[0] == '3' ? 3 : 2;
                else
                        return err_set(err, n, "usbbus %ld: unknown option \"%s\"", num, k);
        }
        if (!b->pci[0])
                return err_set(err, n, "usbbus %ld: pci=ADDR (the host controller) is required", num);
        n_buses++;
        return 1;
}

static int parse_dev(char *s, char *err, size_t n) {
        char *k, *v;
        struct usbdev *d = &devs[n_devs];
        bool have_id = false;
        if (n_devs >= MAX_USB_DEVS)
                return err_set(err, n, "too many USB devices");
        if (!next_token(&s, &k, &v) || v)
                return err_set(err, n, "usbdev: missing NAME");
        *d = (struct usbdev){ .bcd = 0x0100, .version = 0x0200, .devnum = -1 };
        snprintf(d->speed, sizeof d->speed, "12");
        int bus = port_bus(k);
        if (bus < 0 || strlen(k) >= sizeof d->name)
                return err_set(err, n, "usbdev: \"%s\" is not a port path B-P[.P]...", k);
        int bi = find_bus(bus);
        if (bi < 0)
                return err_set(err, n, "usbdev %s: bus %d is not declared before it", k, bus);
        if (find_dev(k) >= 0)
                return err_set(err, n, "usbdev %s declared twice", k);
        snprintf(d->name, sizeof d->name, "%s", k);
        d->bus = bus;
        char parent[32];
        snprintf(parent, sizeof parent, "%s", k);
        char *dot = strrchr(parent, '.');
        if (dot) {
                *dot = 0;
                int pi = find_dev(parent);
                if (pi < 0)
                        return err_set(err, n, "usbdev %s: the hub %s is not declared before it", k, parent);
                char pp[sizeof d->path];
                memcpy(pp, devs[pi].path, sizeof pp);
                snprintf(d->path, sizeof d->path, "%s/%s", pp, k);
        } else
                snprintf(d->path, sizeof d->path, "%s/%s", buses[bi].path, k);
        while (next_token(&s, &k, &v)) {
                if (!v)
                        return err_set(err, n, "usbdev %s: \"%s\" is not key=value", d->name, k);
                if (strcmp(k, "id") == 0) {
                        if (strlen(v) != 9 || v[4] != ':')
                                return err_set(err, n, "usbdev %s: id: \"%s\" is not VVVV:PPPP", d->name, v);
                        v[4] = 0;
                        if (!hex(v, 0xffff, &d->vid) || !hex(v + 5, 0xffff, &d->pid))
                                return err_set(err, n, "usbdev %s: id: not VVVV:PPPP", d->name);
                        have_id = true;
                } else if (strcmp(k, "class") == 0) {
                        if (!hex(v, 0xff, &d->cls))
                                return err_set(err, n, "usbdev %s: class: \"%s\" is not a hex byte", d->name, v);
                } else if (strcmp(k, "bcd") == 0) {
                        if (!hex(v, 0xffff, &d->bcd))
                                return err_set(err, n, "usbdev %s: bcd: \"%s\" is not 4 hex digits", d->name, v);
                } else if (strcmp(k, "devnum") == 0) {
                        char *end;
                        long x = strtol(v, &end, 10);
                        if (*end || x < 2 || x > 127)
                                return err_set(err, n, "usbdev %s: devnum: \"%s\" is not 2-127", d->name, v);
                        d->devnum = (int) x;
                } else if (strcmp(k, "speed") == 0 && strlen(v) < sizeof d->speed)
                        snprintf(d->speed, sizeof d->speed, "%s", v);
                else if (strcmp(k, "serial") == 0 && strlen(v) < sizeof d->serial)
                        snprintf(d->serial, sizeof d->serial, "%s", v);
                else if (strcmp(k, "product") == 0 && strlen(v) < sizeof d->product)
                        snprintf(d->product, sizeof d->product, "%s", v);
                else if (strcmp(k, "manufacturer") == 0 && strlen(v) < sizeof d->manufacturer)
                        snprintf(d->manufacturer, sizeof d->manufacturer, "%s", v);
                else
                        return err_set(err, n, "usbdev %s: unknown or too long option \"%s\"", d->name, k);
        }
        if (!have_id)
                return err_set(err, n, "usbdev %s: id= is required", d->name);
        if (d->devnum < 0) {
                /* hub_port_connect() -> choose_devnum(): the lowest free number, 1 is the root hub */
                d->devnum = 2;
                for (bool again = true; again;) {
                        again = false;
                        for (int i = 0; i < n_devs; i++)
                                if (devs[i].bus == d->bus && devs[i].devnum == d->devnum)
                                        d->devnum++, again = true;
                }
        }
        for (int i = 0; i < n_devs; i++)
                if (devs[i].bus == d->bus && devs[i].devnum == d->devnum)
                        return err_set(err, n, "usbdev %s: devnum %d is taken by %s", d->name, d->devnum, devs[i].name);
        n_devs++;
        return 1;
}

static int parse_if(char *s, char *err, size_t n) {
        char *k, *v;
        struct usbif *f = &ifs[n_ifs];
        if (n_ifs >= MAX_USB_IFS)
                return err_set(err, n, "too many USB interfaces");
        if (!next_token(&s, &k, &v) || v)
                return err_set(err, n, "usbif: missing NAME");
        *f = (struct usbif){ 0 };
        char dev[40];
        unsigned c, i;
        char *colon = strchr(k, ':');
        if (!colon || strlen(k) >= sizeof f->name || sscanf(colon, ":%u.%u", &c, &i) != 2)
                return err_set(err, n, "usbif: \"%s\" is not DEVICE:CONFIG.INTERFACE", k);
        snprintf(dev, sizeof dev, "%.*s", (int) (colon - k), k);
        if ((f->dev = find_dev(dev)) < 0)
                return err_set(err, n, "usbif %s: device %s is not declared before it", k, dev);
        for (int j = 0; j < n_ifs; j++)
                if (strcmp(ifs[j].name, k) == 0)
                        return err_set(err, n, "usbif %s declared twice", k);
        snprintf(f->name, sizeof f->name, "%s", k);
        bool have_class = false;
        while (next_token(&s, &k, &v)) {
                if (!v && strcmp(k, "unbound") == 0) {
                        f->bound = false;
                        continue;
                }
                if (!v)
                        return err_set(err, n, "usbif %s: \"%s\" is not key=value", f->name, k);
                if (strcmp(k, "class") == 0) {
                        if (!hex(v, 0xff, &f->cls))
                                return err_set(err, n, "usbif %s: class: \"%s\" is not a hex byte", f->name, v);
                        have_class = true;
                } else if (strcmp(k, "subclass") == 0) {
                        if (!hex(v, 0xff, &f->sub))
                                return err_set(err, n, "usbif %s: subclass: \"%s\" is not a hex byte", f->name, v);
                } else if (strcmp(k, "protocol") == 0) {
                        if (!hex(v, 0xff, &f->proto))
                                return err_set(err, n, "usbif %s: protocol: \"%s\" is not a hex byte", f->name, v);
                } else if (strcmp(k, "driver") == 0) {
                        if (find_driver(v) < 0 && strcmp(v, "hub") != 0)
                                return err_set(err, n, "usbif %s: driver %s is not declared (usbdriver NAME)", f->name, v);
                        snprintf(f->driver, sizeof f->driver, "%s", v);
                        f->bound = true;
                } else if (strcmp(k, "interface") == 0 && strlen(v) < sizeof f->string)
                        snprintf(f->string, sizeof f->string, "%s", v);
                else
                        return err_set(err, n, "usbif %s: unknown option \"%s\"", f->name, k);
        }
        if (!have_class)
                return err_set(err, n, "usbif %s: class= is required", f->name);
        n_ifs++;
        return 1;
}

int fk_usb_parse(const struct fk_model *m, const char *kw, char *rest, char *err, size_t errn) {
        if (strcmp(kw, "usbdriver") == 0) {
                char *k, *v;
                if (!next_token(&rest, &k, &v) || v || strlen(k) >= sizeof drivers[0] || strchr(k, '/'))
                        return err_set(err, errn, "usbdriver: missing or bad NAME");
                if (find_driver(k) >= 0 || strcmp(k, "usb") == 0 || strcmp(k, "hub") == 0)
                        return err_set(err, errn, "usbdriver %s declared twice (usb and hub always exist)", k);
                if (n_drivers >= MAX_USB_DRIVERS)
                        return err_set(err, errn, "too many USB drivers");
                if (next_token(&rest, &k, &v))
                        return err_set(err, errn, "usbdriver: unexpected \"%s\"", k);
                snprintf(drivers[n_drivers++], sizeof drivers[0], "%s", k);
                return 1;
        }
        if (strcmp(kw, "usbbus") == 0)
                return parse_bus(m, rest, err, errn);
        if (strcmp(kw, "usbdev") == 0)
                return parse_dev(rest, err, errn);
        if (strcmp(kw, "usbif") == 0)
                return parse_if(rest, err, errn);
        return 0;
}

int fk_usb_check(char *err, size_t errn) {
        for (int i = 0; i < n_ifs; i++)
                if (!ifs[i].driver[0])
                        return err_set(err, errn, "usbif %s: driver=NAME is required (the driver that matches it)",
                                       ifs[i].name);
        return 0;
}

/* ---------------------------------------------------------------- the tree */

static int W(const struct fk_model *m, const char *content, const char *dir, const char *file) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s/%s", m->root, dir, file);
        return fk_write_file(p, content, strlen(content));
}

static int D(const struct fk_model *m, const char *rel) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", m->root, rel);
        return fk_mkdir_p(p);
}

/* A relative symlink at @rel_link to @rel_target, both relative to @root. */
static int L(const char *root, const char *rel_link, const char *rel_target) {
        char dir[PATH_MAX], t[PATH_MAX], p[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", rel_link);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        fk_relpath(dir, rel_target, t, sizeof t);
        snprintf(p, sizeof p, "%s/%s", root, rel_link);
        if (unlink(p) < 0 && errno != ENOENT)
                return -errno;
        return symlink(t, p) < 0 ? -errno : 0;
}

#define TRY(x)                          \
        do {                            \
                int r_ = (x);           \
                if (r_ < 0)             \
                        return r_;      \
        } while (0)

static int driver_dir(const struct fk_model *m, const char *name) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof rel, "sys/bus/usb/drivers/%s", name);
        TRY(D(m, rel));
        static const char *const files[] = { "bind", "unbind", "new_id", "remove_id", "uevent" };
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
                TRY(W(m, "", rel, files[i]));
        return 0;
}

/* Bind @name (a device or interface directory at @path) to @driver: the two links. */
static int link_driver(const char *root, const char *path, const char *name, const char *driver) {
        char l[PATH_MAX], t[PATH_MAX];
        snprintf(l, sizeof l, "%s/driver", path);
        snprintf(t, sizeof t, "sys/bus/usb/drivers/%s", driver);
        TRY(L(root, l, t));
        snprintf(l, sizeof l, "sys/bus/usb/drivers/%s/%s", driver, name);
        return L(root, l, path);
}

static int usb_device_dir(const struct fk_model *m, const char *path, const char *name, int busnum, int devnum,
                          const char *devpath, unsigned vid, unsigned pid, unsigned bcd, unsigned cls,
                          unsigned version, const char *speed, const char *manufacturer, const char *product,
                          const char *serial, int n_interfaces, int maxchild) {
        char buf[256], rel[PATH_MAX];
        TRY(D(m, path));
#define F(file, ...) (snprintf(buf, sizeof buf, __VA_ARGS__), W(m, buf, path, file))
        TRY(F("idVendor", "%04x\n", vid));
        TRY(F("idProduct", "%04x\n", pid));
        TRY(F("bcdDevice", "%04x\n", bcd));
        TRY(F("bDeviceClass", "%02x\n", cls));
        TRY(F("bDeviceSubClass", "%02x\n", 0u));
        TRY(F("bDeviceProtocol", "%02x\n", cls == 9 ? 1u : 0u));
        TRY(F("bNumConfigurations", "%d\n", 1));
        TRY(F("bNumInterfaces", "%2d\n", n_interfaces));
        TRY(F("bConfigurationValue", "%u\n", 1u));
        TRY(F("busnum", "%d\n", busnum));
        TRY(F("devnum", "%d\n", devnum));
        TRY(F("devpath", "%s\n", devpath));
        TRY(F("version", "%2x.%02x\n", version >> 8, version & 0xff));
        TRY(F("speed", "%s\n", speed));
        TRY(F("maxchild", "%d\n", maxchild));
        TRY(F("authorized", "%u\n", 1u));
        TRY(F("avoid_reset_quirk", "%d\n", 0));
        TRY(F("quirks", "0x%x\n", 0u));
        TRY(W(m, "", path, "remove"));
        TRY(W(m, "", path, "uevent"));
        if (manufacturer[0])
                TRY(F("manufacturer", "%s\n", manufacturer));
        if (product[0])
                TRY(F("product", "%s\n", product));
        if (serial[0])
                TRY(F("serial", "%s\n", serial));
#undef F
        snprintf(rel, sizeof rel, "%s/subsystem", path);
        TRY(L(m->root, rel, "sys/bus/usb"));
        snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s", name);
        TRY(L(m->root, rel, path));
        return link_driver(m->root, path, name, "usb");
}

static int usb_interface_dir(const struct fk_model *m, const char *devpath_dir, const char *name,
                             unsigned vid, unsigned pid, unsigned bcd, unsigned dcls, unsigned num,
                             unsigned cls, unsigned sub, unsigned proto, const char *string) {
        char buf[256], rel[PATH_MAX], path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", devpath_dir, name);
        TRY(D(m, path));
#define F(file, ...) (snprintf(buf, sizeof buf, __VA_ARGS__), W(m, buf, path, file))
        TRY(F("bInterfaceNumber", "%02x\n", num));
        TRY(F("bAlternateSetting", "%2d\n", 0));
        TRY(F("bNumEndpoints", "%02x\n", 1u));
        TRY(F("bInterfaceClass", "%02x\n", cls));
        TRY(F("bInterfaceSubClass", "%02x\n", sub));
        TRY(F("bInterfaceProtocol", "%02x\n", proto));
        TRY(F("modalias", "usb:v%04Xp%04Xd%04Xdc%02Xdsc%02Xdp%02Xic%02Xisc%02Xip%02Xin%02X\n", vid, pid, bcd,
              dcls, 0u, 0u, cls, sub, proto, num));
        TRY(F("supports_autosuspend", "%u\n", 1u));
        TRY(F("authorized", "%u\n", 1u));
        TRY(W(m, "", path, "uevent"));
        if (string[0])
                TRY(F("interface", "%s\n", string));
#undef F
        snprintf(rel, sizeof rel, "%s/subsystem", path);
        TRY(L(m->root, rel, "sys/bus/usb"));
        snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s", name);
        return L(m->root, rel, path);
}

int fk_usb_build(const struct fk_model *m) {
        char rel[PATH_MAX], name[48], buf[PATH_MAX + 128];
        if (n_buses == 0 && n_drivers == 0)
                return 0;
        TRY(D(m, "sys/bus/usb/devices"));
        TRY(D(m, "sys/bus/usb/drivers"));
        TRY(W(m, "", "sys/bus/usb", "drivers_probe"));
        TRY(W(m, "1\n", "sys/bus/usb", "drivers_autoprobe"));
        TRY(driver_dir(m, "usb"));
        TRY(driver_dir(m, "hub"));
        for (int i = 0; i < n_drivers; i++)
                TRY(driver_dir(m, drivers[i]));
        snprintf(rel, sizeof rel, "%s/.fakekernel/usb", m->root);
        FILE *f = fopen(rel, "we");
        if (!f)
                return -errno;
        fprintf(f, "# fake kernel USB model: INTERFACE DRIVER (the interface driver that matches it)\n");
        for (int i = 0; i < n_buses; i++) {
                struct usbbus *b = &buses[i];
                int children = 0;
                for (int k = 0; k < n_devs; k++)
                        children += devs[k].bus == b->num && !strchr(devs[k].name, '.');
                snprintf(name, sizeof name, "usb%d", b->num);
                TRY(usb_device_dir(m, b->path, name, b->num, 1, "0", 0x1d6b, b->product, 0x0601, 9,
                                   b->product == 3 ? 0x0300 : 0x0200, b->product == 3 ? "5000" : "480",
                                   "Linux 6.1.0 xhci-hcd", "xHCI Host Controller", b->pci, 1,
                                   children > 4 ? children : 4));
                TRY(W(m, "1\n", b->path, "authorized_default"));
                TRY(W(m, "1\n", b->path, "interface_authorized_default"));
                snprintf(name, sizeof name, "%d-0:1.0", b->num);
                TRY(usb_interface_dir(m, b->path, name, 0x1d6b, b->product, 0x0601, 9, 0, 9, 0, 0, ""));
                snprintf(rel, sizeof rel, "%s/%s", b->path, name);
                TRY(link_driver(m->root, rel, name, "hub"));
                fprintf(f, "%s hub\n", name);
        }
        for (int i = 0; i < n_devs; i++) {
                struct usbdev *d = &devs[i];
                int n_if = 0, children = 0;
                for (int k = 0; k < n_ifs; k++)
                        n_if += ifs[k].dev == i;
                size_t l = strlen(d->name);
                for (int k = 0; k < n_devs; k++)
                        children += strncmp(devs[k].name, d->name, l) == 0 && devs[k].name[l] == '.' &&
                                    !strchr(devs[k].name + l + 1, '.');
                const char *devpath = strchr(d->name, '-') + 1;
                TRY(usb_device_dir(m, d->path, d->name, d->bus, d->devnum, devpath, d->vid, d->pid, d->bcd,
                                   d->cls, d->version, d->speed, d->manufacturer, d->product, d->serial, n_if,
                                   d->cls == 9 ? (children > 4 ? children : 4) : 0));
        }
        for (int i = 0; i < n_ifs; i++) {
                struct usbif *x = &ifs[i];
                struct usbdev *d = &devs[x->dev];
                unsigned num = 0;
                (void) sscanf(strchr(x->name, ':'), ":%*u.%u", &num);
                TRY(usb_interface_dir(m, d->path, x->name, d->vid, d->pid, d->bcd, d->cls, num, x->cls, x->sub,
                                      x->proto, x->string));
                if (x->bound) {
                        snprintf(buf, sizeof buf, "%s/%s", d->path, x->name);
                        TRY(link_driver(m->root, buf, x->name, x->driver));
                }
                fprintf(f, "%s %s\n", x->name, x->driver);
        }
        if (fclose(f) != 0)
                return -EIO;
        return 0;
}

/* ---------------------------------------------------------------- the stores */

/* The interface driver that matches @iface, from ROOT/.fakekernel/usb. */
static bool matching_driver(const char *root, const char *iface, char *ret, size_t n) {
        char p[PATH_MAX], line[256], a[64], b[64];
        snprintf(p, sizeof p, "%s/.fakekernel/usb", root);
        FILE *f = fopen(p, "re");
        if (!f)
                return false;
        bool found = false;
        while (!found && fgets(line, sizeof line, f))
                if (line[0] != '#' && sscanf(line, "%63s %63s", a, b) == 2 && strcmp(a, iface) == 0) {
                        snprintf(ret, n, "%s", b);
                        found = true;
                }
        fclose(f);
        return found;
}

/* The directory of interface @name relative to @root, from its bus link. */
static bool iface_dir(const char *root, const char *name, char *ret, size_t n) {
        char p[PATH_MAX], real[PATH_MAX];
        if (!*name || strchr(name, '/') || !strchr(name, ':'))
                return false;
        snprintf(p, sizeof p, "%s/sys/bus/usb/devices/%s", root, name);
        if (!realpath(p, real))
                return false;
        size_t l = strlen(root);
        if (strncmp(real, root, l) != 0 || real[l] != '/')
                return false;
        snprintf(ret, n, "%s", real + l + 1);
        return true;
}

static void bound_driver(const char *root, const char *dir, char *ret, size_t n) {
        char p[PATH_MAX], t[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s/driver", root, dir);
        ssize_t k = readlink(p, t, sizeof t - 1);
        ret[0] = 0;
        if (k <= 0)
                return;
        t[k] = 0;
        const char *s = strrchr(t, '/');
        snprintf(ret, n, "%s", s ? s + 1 : t);
}

static int do_bind(const char *root, const char *driver, const char *iface) {
        char dir[PATH_MAX], match[64], cur[64];
        /* bind_store(): bus_find_device_by_name() -> ENODEV; driver_match_device() -> ENODEV;
         * device_driver_attach() on a bound device -> EBUSY */
        if (!iface_dir(root, iface, dir, sizeof dir) || !matching_driver(root, iface, match, sizeof match) ||
            strcmp(match, driver) != 0)
                return -ENODEV;
        bound_driver(root, dir, cur, sizeof cur);
        if (cur[0])
                return -EBUSY;
        return link_driver(root, dir, iface, driver);
}

static int do_unbind(const char *root, const char *driver, const char *iface) {
        char dir[PATH_MAX], cur[64], p[PATH_MAX];
        if (!iface_dir(root, iface, dir, sizeof dir))
                return -ENODEV;
        bound_driver(root, dir, cur, sizeof cur);
        if (strcmp(cur, driver) != 0)
                return -ENODEV;
        snprintf(p, sizeof p, "%s/%s/driver", root, dir);
        unlink(p);
        snprintf(p, sizeof p, "%s/sys/bus/usb/drivers/%s/%s", root, driver, iface);
        unlink(p);
        return 0;
}

static int do_probe(const char *root, const char *iface) {
        char dir[PATH_MAX], match[64], cur[64];
        if (!iface_dir(root, iface, dir, sizeof dir))
                return -ENODEV;
        bound_driver(root, dir, cur, sizeof cur);
        if (cur[0] || !matching_driver(root, iface, match, sizeof match))
                return 0;
        snprintf(cur, sizeof cur, "%s", match);
        return link_driver(root, dir, iface, cur);
}

int fk_usb_write(const char *root, const char *rel, const char *v) {
        char drv[128], file[32];
        if (strcmp(rel, "sys/bus/usb/drivers_probe") == 0)
                return do_probe(root, v);
        if (sscanf(rel, "sys/bus/usb/drivers/%127[^/]/%31s", drv, file) == 2) {
                if (strcmp(drv, "usb") == 0)
                        return 1; /* the device driver: not modelled */
                if (strcmp(file, "bind") == 0)
                        return do_bind(root, drv, v);
                if (strcmp(file, "unbind") == 0)
                        return do_unbind(root, drv, v);
        }
        return 1;
}
