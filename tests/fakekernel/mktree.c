/* fakesys-mktree FIXTURE ROOT: expand a declarative .topo fixture into a
 * fake sysfs tree under ROOT, plus ROOT/.fakekernel/model for the shim.
 * Format: tests/fakekernel/README.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fkmodel.h"
#include "fkusb.h"

struct bar {
        bool set;
        unsigned long long start, size;
};

struct devx {
        struct fk_dev *dev;
        int line;
        unsigned subvendor, subdevice, rev;
        int numa;
        char parent[16], driver[64], override[64], physfn[16];
        int boot_vga;               /* -1 unset */
        bool has_link;
        char cur_speed[16], max_speed[16];
        unsigned cur_width, max_width;
        struct bar bars[7];         /* 0..5, 6 = rom */
        uint8_t *romdata;           /* the expansion ROM's image (romdata=HEX), NULL: none */
        size_t romdata_len;
        int totalvfs, numvfs;       /* -1 unset */
        int n_virtfn;
        char drm[128];              /* drm=card1,renderD128: the DRM minors under drm/ */
};

static const char *fixture;
static struct fk_model model;
static struct devx *devx; /* parallel to model.devs */
static char iommu[8] = "intel";
static char cmdline[4096];
static bool have_cmdline;

static void fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(int line, const char *fmt, ...) {
        va_list ap;
        if (line > 0)
                fprintf(stderr, "%s:%d: ", fixture, line);
        else
                fprintf(stderr, "%s: ", fixture);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(EXIT_FAILURE);
}

static void check(int r, const char *what) {
        if (r < 0) {
                fprintf(stderr, "fakesys-mktree: %s: %s\n", what, strerror(-r));
                exit(EXIT_FAILURE);
        }
}

static bool addr_valid(const char *s) {
        unsigned d, b, sl, f;
        char end;
        return strlen(s) == 12 && sscanf(s, "%4x:%2x:%2x.%1x%c", &d, &b, &sl, &f, &end) == 4 &&
               sl < 32 && f < 8 && s[4] == ':' && s[7] == ':' && s[10] == '.';
}

static unsigned long parse_num(int line, const char *key, const char *v, unsigned long max) {
        char *end;
        errno = 0;
        unsigned long x = strtoul(v, &end, 0);
        if (errno || end == v || *end || x > max)
                fail(line, "%s: \"%s\" is not a number in range (max %lu)", key, v, max);
        return x;
}

static void parse_id_pair(int line, const char *key, const char *v, unsigned *a, unsigned *b) {
        struct fk_id id;
        if (fk_id_parse(v, &id) < 0 || id.device == FK_ANY)
                fail(line, "%s: \"%s\" is not VVVV:DDDD", key, v);
        *a = id.vendor;
        *b = id.device;
}

static void parse_speed(int line, const char *v, char *speed, unsigned *width) {
        /* GT:W, e.g. 8.0:16 */
        char buf[32];
        snprintf(buf, sizeof buf, "%s", v);
        char *c = strchr(buf, ':');
        if (!c || c == buf)
                fail(line, "link: \"%s\" is not CUR_GT:CUR_W/MAX_GT:MAX_W", v);
        *c = 0;
        for (char *p = buf; *p; p++)
                if ((*p < '0' || *p > '9') && *p != '.')
                        fail(line, "link: \"%s\" is not CUR_GT:CUR_W/MAX_GT:MAX_W", v);
        snprintf(speed, 16, "%s", buf);
        *width = (unsigned) parse_num(line, "link width", c + 1, 32);
}

static void parse_driver(int line, char *rest) {
        if (model.n_drivers >= FK_MAX_DRIVERS)
                fail(line, "too many drivers");
        struct fk_driver *d = &model.drivers[model.n_drivers];
        char *save, *tok = strtok_r(rest, " \t", &save);
        if (!tok)
                fail(line, "driver: missing NAME");
        if (strlen(tok) >= sizeof d->name || strchr(tok, '/') || strchr(tok, '='))
                fail(line, "driver: bad name \"%s\"", tok);
        if (fk_driver_find(&model, tok))
                fail(line, "driver %s declared twice", tok);
        snprintf(d->name, sizeof d->name, "%s", tok);
        /* default module: the driver name with '-' as '_' (vfio-pci -> vfio_pci) */
        snprintf(d->module, sizeof d->module, "%s", tok);
        for (char *p = d->module; *p; p++)
                if (*p == '-')
                        *p = '_';
        d->loaded = true;
        while ((tok = strtok_r(NULL, " \t", &save))) {
                if (strcmp(tok, "builtin") == 0 || strcmp(tok, "module=builtin") == 0)
                        d->module[0] = 0;
                else if (strncmp(tok, "module=", 7) == 0) {
                        if (!tok[7] || strlen(tok + 7) >= sizeof d->module || strchr(tok + 7, '/'))
                                fail(line, "driver %s: bad module \"%s\"", d->name, tok + 7);
                        snprintf(d->module, sizeof d->module, "%s", tok + 7);
                } else if (strncmp(tok, "ids=", 4) == 0) {
                        char *s2;
                        for (char *t = strtok_r(tok + 4, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
                                if (d->n_ids >= FK_MAX_IDS)
                                        fail(line, "driver %s: too many ids", d->name);
                                if (fk_id_parse(t, &d->ids[d->n_ids]) < 0)
                                        fail(line, "driver %s: id \"%s\" is not VVVV:DDDD or VVVV:*", d->name, t);
                                d->n_ids++;
                        }
                } else if (strcmp(tok, "unloaded") == 0)
                        d->loaded = false;
                else
                        fail(line, "driver %s: unknown option \"%s\"", d->name, tok);
        }
        if (!d->loaded && !d->module[0])
                fail(line, "driver %s: a built-in driver cannot be unloaded", d->name);
        model.n_drivers++;
}

static void parse_bar(int line, const char *key, const char *v, struct bar *b) {
        char buf[64], *c;
        snprintf(buf, sizeof buf, "%s", v);
        if (!(c = strchr(buf, ':')))
                fail(line, "%s: \"%s\" is not 0xSTART:0xSIZE", key, v);
        *c = 0;
        b->start = parse_num(line, key, buf, ULONG_MAX);
        b->size = parse_num(line, key, c + 1, ULONG_MAX);
        if (b->size == 0)
                fail(line, "%s: size 0", key);
        b->set = true;
}

static void parse_dev(int line, char *rest) {
        struct fk_dev *dev = fk_model_dev_slot(&model);
        if (!dev)
                fail(line, "out of memory");
        struct devx *nx = realloc(devx, (size_t) model.cap_devs * sizeof *devx);
        if (!nx)
                fail(line, "out of memory");
        devx = nx;
        struct devx *x = &devx[model.n_devs];
        char *save, *tok = strtok_r(rest, " \t", &save);
        bool have_class = false, have_id = false;
        if (!tok)
                fail(line, "dev: missing ADDR");
        if (!addr_valid(tok))
                fail(line, "dev: \"%s\" is not a PCI address dddd:bb:ss.f", tok);
        if (fk_dev_find(&model, tok))
                fail(line, "dev %s declared twice", tok);
        memset(x, 0, sizeof *x);
        x->dev = dev;
        x->line = line;
        x->numa = -1;
        x->boot_vga = -1;
        x->totalvfs = x->numvfs = -1;
        snprintf(dev->addr, sizeof dev->addr, "%s", tok);
        dev->group = -1;
        dev->n_resets = -1;
        while ((tok = strtok_r(NULL, " \t", &save))) {
                char *v = strchr(tok, '=');
                if (!v) {
                        if (strcmp(tok, "vfio_dev") == 0) {
                                dev->vfio_dev = true;
                                continue;
                        }
                        fail(line, "dev %s: \"%s\" is not key=value", dev->addr, tok);
                }
                *v++ = 0;
                if (strcmp(tok, "class") == 0) {
                        dev->class = (unsigned) parse_num(line, tok, v, 0xffffff);
                        have_class = true;
                } else if (strcmp(tok, "id") == 0) {
                        parse_id_pair(line, tok, v, &dev->vendor, &dev->device);
                        have_id = true;
                } else if (strcmp(tok, "subsys") == 0)
                        parse_id_pair(line, tok, v, &x->subvendor, &x->subdevice);
                else if (strcmp(tok, "rev") == 0)
                        x->rev = (unsigned) parse_num(line, tok, v, 0xff);
                else if (strcmp(tok, "group") == 0)
                        dev->group = (int) parse_num(line, tok, v, 65535);
                else if (strcmp(tok, "parent") == 0) {
                        if (!fk_dev_find(&model, v))
                                fail(line, "dev %s: parent %s is not declared before it", dev->addr, v);
                        snprintf(x->parent, sizeof x->parent, "%s", v);
                } else if (strcmp(tok, "driver") == 0) {
                        struct fk_driver *d = fk_driver_find(&model, v);
                        if (!d)
                                fail(line, "dev %s: driver %s is not declared", dev->addr, v);
                        if (!d->loaded)
                                fail(line, "dev %s: driver %s is unloaded, cannot be bound", dev->addr, v);
                        snprintf(x->driver, sizeof x->driver, "%s", v);
                } else if (strcmp(tok, "override") == 0) {
                        if (!*v || strlen(v) >= sizeof x->override)
                                fail(line, "dev %s: bad override \"%s\"", dev->addr, v);
                        snprintf(x->override, sizeof x->override, "%s", v);
                } else if (strcmp(tok, "boot_vga") == 0)
                        x->boot_vga = (int) parse_num(line, tok, v, 1);
                else if (strcmp(tok, "drm") == 0) {
                        if (!*v || strlen(v) >= sizeof x->drm || strspn(v, "cardrenD0123456789,") != strlen(v))
                                fail(line, "dev %s: drm: \"%s\" is not a list of cardN and renderDN", dev->addr, v);
                        snprintf(x->drm, sizeof x->drm, "%s", v);
                }
                else if (strcmp(tok, "reset_method") == 0) {
                        const char *bad = NULL;
                        int r = fk_reset_parse(v, dev->resets, &dev->n_resets, &bad);
                        if (r == -EEXIST)
                                fail(line, "dev %s: reset_method: %s listed twice", dev->addr, bad);
                        if (r < 0)
                                fail(line, "dev %s: reset_method: \"%s\" is not a reset method of Linux 6.1 "
                                     "(device_specific, acpi, flr, af_flr, pm, bus)", dev->addr, bad);
                } else if (strcmp(tok, "numa") == 0)
                        x->numa = (int) parse_num(line, tok, v, 1024);
                else if (strcmp(tok, "link") == 0) {
                        char *slash = strchr(v, '/');
                        if (!slash)
                                fail(line, "link: \"%s\" is not CUR_GT:CUR_W/MAX_GT:MAX_W", v);
                        *slash = 0;
                        parse_speed(line, v, x->cur_speed, &x->cur_width);
                        parse_speed(line, slash + 1, x->max_speed, &x->max_width);
                        x->has_link = true;
                } else if (strncmp(tok, "bar", 3) == 0 && tok[3] >= '0' && tok[3] <= '5' && !tok[4])
                        parse_bar(line, tok, v, &x->bars[tok[3] - '0']);
                else if (strcmp(tok, "rom") == 0)
                        parse_bar(line, tok, v, &x->bars[6]);
                else if (strcmp(tok, "romdata") == 0) {
                        size_t n = strlen(v);
                        if (n == 0 || n % 2 || strspn(v, "0123456789abcdefABCDEF") != n)
                                fail(line, "dev %s: romdata: \"%s\" is not an even number of hex digits", dev->addr, v);
                        free(x->romdata);
                        x->romdata = malloc(n / 2);
                        if (!x->romdata)
                                fail(line, "out of memory");
                        for (size_t i = 0; i < n / 2; i++) {
                                char b[3] = { v[2 * i], v[2 * i + 1], 0 };
                                x->romdata[i] = (uint8_t) strtoul(b, NULL, 16);
                        }
                        x->romdata_len = n / 2;
                }
                else if (strcmp(tok, "totalvfs") == 0)
                        x->totalvfs = (int) parse_num(line, tok, v, 65535);
                else if (strcmp(tok, "numvfs") == 0)
                        x->numvfs = (int) parse_num(line, tok, v, 65535);
                else if (strcmp(tok, "physfn") == 0) {
                        if (!fk_dev_find(&model, v))
                                fail(line, "dev %s: physfn %s is not declared before it", dev->addr, v);
                        snprintf(x->physfn, sizeof x->physfn, "%s", v);
                } else
                        fail(line, "dev %s: unknown key \"%s\"", dev->addr, tok);
        }
        if (!have_id)
                fail(line, "dev %s: id= is required", dev->addr);
        if (!have_class)
                fail(line, "dev %s: class= is required", dev->addr);
        if (dev->group >= 0 && strcmp(iommu, "none") == 0)
                fail(line, "dev %s: group= with \"iommu none\"", dev->addr);
        if (x->romdata && !x->bars[6].set)
                fail(line, "dev %s: romdata= without rom= (Linux shows the rom attribute only for a ROM BAR)", dev->addr);
        if (x->numvfs > x->totalvfs)
                fail(line, "dev %s: numvfs %d > totalvfs %d", dev->addr, x->numvfs, x->totalvfs);
        dev->hdr = (dev->class >> 8) == 0x0604 || (dev->class >> 8) == 0x0607 ? 1 : 0;
        char a[16], pp[sizeof dev->path];
        snprintf(a, sizeof a, "%s", dev->addr);
        if (x->parent[0]) {
                snprintf(pp, sizeof pp, "%s", fk_dev_find(&model, x->parent)->path);
                snprintf(dev->path, sizeof dev->path, "%s/%s", pp, a);
        } else
                snprintf(dev->path, sizeof dev->path, "sys/devices/pci%.7s/%s", a, a);
        model.n_devs++;
}

static void parse(FILE *f) {
        char buf[8192];
        int line = 0;
        bool saw_iommu = false;
        while (fgets(buf, sizeof buf, f)) {
                line++;
                size_t n = strlen(buf);
                if (n && buf[n - 1] == '\n')
                        buf[--n] = 0;
                else if (!feof(f))
                        fail(line, "line too long");
                char *hash = strchr(buf, '#');
                if (hash && strncmp(buf, "cmdline", 7) != 0)
                        *hash = 0;
                char *s = buf + strspn(buf, " \t");
                if (!*s)
                        continue;
                char *kw = s;
                s += strcspn(s, " \t");
                if (*s)
                        *s++ = 0;
                s += strspn(s, " \t");
                if (strcmp(kw, "iommu") == 0) {
                        if (model.n_devs > 0 || saw_iommu)
                                fail(line, "iommu must come once, before any dev");
                        char *e = s + strcspn(s, " \t");
                        *e = 0;
                        if (strcmp(s, "intel") && strcmp(s, "amd") && strcmp(s, "none"))
                                fail(line, "iommu: \"%s\" is not intel, amd or none", s);
                        snprintf(iommu, sizeof iommu, "%s", s);
                        saw_iommu = true;
                } else if (strcmp(kw, "cmdline") == 0) {
                        snprintf(cmdline, sizeof cmdline, "%s", s);
                        have_cmdline = true;
                } else if (strcmp(kw, "driver") == 0)
                        parse_driver(line, s);
                else if (strcmp(kw, "dev") == 0)
                        parse_dev(line, s);
                else {
                        char err[512];
                        int r = fk_usb_parse(&model, kw, s, err, sizeof err);
                        if (r < 0)
                                fail(line, "%s", err);
                        if (r == 0)
                                fail(line, "unknown directive \"%s\"", kw);
                }
        }
        /* cross-checks that need the whole file */
        char err[512];
        if (fk_usb_check(err, sizeof err) < 0)
                fail(0, "%s", err);
        for (int i = 0; i < model.n_devs; i++) {
                struct devx *x = &devx[i];
                x->dev = &model.devs[i]; /* the table may have moved since parse_dev() */
                /* an override may name a driver the kernel does not know: allowed */
                if (x->driver[0] && strcmp(x->driver, "vfio-pci") == 0 && x->dev->hdr != 0)
                        fail(x->line, "dev %s: vfio-pci cannot be bound to a bridge", x->dev->addr);
        }
}

static char rootpath[PATH_MAX];

static void P(char *ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void P(char *ret, const char *fmt, ...) {
        va_list ap;
        int k = snprintf(ret, PATH_MAX, "%s/", rootpath);
        va_start(ap, fmt);
        vsnprintf(ret + k, PATH_MAX - (size_t) k, fmt, ap);
        va_end(ap);
}

static void W(const char *content, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void W(const char *content, const char *fmt, ...) {
        char rel[PATH_MAX], p[PATH_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rel, sizeof rel, fmt, ap);
        va_end(ap);
        P(p, "%s", rel);
        check(fk_write_file(p, content, strlen(content)), p);
}

static void D(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void D(const char *fmt, ...) {
        char rel[PATH_MAX], p[PATH_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rel, sizeof rel, fmt, ap);
        va_end(ap);
        P(p, "%s", rel);
        check(fk_mkdir_p(p), p);
}

/* symlink at REL_LINK (relative to root) pointing to REL_TARGET (relative to
 * root), written as a relative link like the kernel's */
static void L(const char *rel_link, const char *rel_target) {
        char dir[PATH_MAX], t[PATH_MAX], p[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", rel_link);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        fk_relpath(dir, rel_target, t, sizeof t);
        P(p, "%s", rel_link);
        unlink(p);
        if (symlink(t, p) < 0) {
                fprintf(stderr, "fakesys-mktree: symlink %s: %m\n", p);
                exit(EXIT_FAILURE);
        }
}

/* drm=: one directory per DRM minor under the device's drm/, as the DRM core registers them
 * (drivers/gpu/drm/drm_sysfs.c: "card%d", "renderD%d"), with its "dev" (major 226), and the
 * class/drm entry. The fake kernel does not remove them at unbind. */
static void write_drm(const struct devx *x, const char *dp) {
        char list[sizeof x->drm], *save = NULL, rel[PATH_MAX], buf[32];
        snprintf(list, sizeof list, "%s", x->drm);
        for (char *n = strtok_r(list, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
                const char *num = strncmp(n, "card", 4) == 0 ? n + 4 : strncmp(n, "renderD", 7) == 0 ? n + 7 : NULL;
                if (!num || !*num || strspn(num, "0123456789") != strlen(num))
                        fail(x->line, "dev %s: drm: \"%s\" is not cardN or renderDN", x->dev->addr, n);
                snprintf(buf, sizeof buf, "226:%s\n", num);
                D("%s/drm/%s", dp, n);
                D("sys/class/drm");
                W(buf, "%s/drm/%s/dev", dp, n);
                snprintf(rel, sizeof rel, "sys/class/drm/%s", n);
                char target[PATH_MAX];
                snprintf(target, sizeof target, "%s/drm/%s", dp, n);
                L(rel, target);
        }
}

static void write_resource(const struct devx *x) {
        /* endpoints: 6 BARs, ROM, 6 SR-IOV BARs = 13 lines; bridges add 4 windows */
        char buf[4096];
        size_t k = 0;
        int lines = x->dev->hdr == 0 ? 13 : 17;
        for (int i = 0; i < lines; i++) {
                unsigned long long s = 0, e = 0, fl = 0;
                if (i < 7 && x->bars[i].set) {
                        s = x->bars[i].start;
                        e = s + x->bars[i].size - 1;
                        bool big = s >= (1ULL << 32) || x->bars[i].size >= (1ULL << 32);
                        fl = i == 6 ? 0x00046200 : big ? 0x0014220c : 0x00040200;
                }
                k += (size_t) snprintf(buf + k, sizeof buf - k, "0x%016llx 0x%016llx 0x%016llx\n", s, e, fl);
        }
        W(buf, "%s/resource", x->dev->path);
}

static void write_config(const struct devx *x) {
        uint8_t c[256] = { 0 };
        const struct fk_dev *d = x->dev;
        c[0] = d->vendor & 0xff;
        c[1] = d->vendor >> 8;
        c[2] = d->device & 0xff;
        c[3] = d->device >> 8;
        c[6] = 0x10; /* status: capabilities list */
        c[8] = (uint8_t) x->rev;
        c[9] = d->class & 0xff;
        c[10] = (d->class >> 8) & 0xff;
        c[11] = (d->class >> 16) & 0xff;
        c[14] = (uint8_t) d->hdr;
        if (d->hdr == 0) {
                c[0x2c] = x->subvendor & 0xff;
                c[0x2d] = x->subvendor >> 8;
                c[0x2e] = x->subdevice & 0xff;
                c[0x2f] = x->subdevice >> 8;
        }
        char p[PATH_MAX];
        P(p, "%s/config", d->path);
        check(fk_write_file(p, c, sizeof c), p);
}

static void build_dev(struct devx *x) {
        struct fk_dev *d = x->dev;
        char buf[512], rel[PATH_MAX];
        const char *dp = d->path;
        D("%s", dp);
        snprintf(buf, sizeof buf, "0x%04x\n", d->vendor);
        W(buf, "%s/vendor", dp);
        snprintf(buf, sizeof buf, "0x%04x\n", d->device);
        W(buf, "%s/device", dp);
        snprintf(buf, sizeof buf, "0x%04x\n", x->subvendor);
        W(buf, "%s/subsystem_vendor", dp);
        snprintf(buf, sizeof buf, "0x%04x\n", x->subdevice);
        W(buf, "%s/subsystem_device", dp);
        snprintf(buf, sizeof buf, "0x%06x\n", d->class);
        W(buf, "%s/class", dp);
        snprintf(buf, sizeof buf, "0x%02x\n", x->rev);
        W(buf, "%s/revision", dp);
        snprintf(buf, sizeof buf, "%s\n", x->override[0] ? x->override : "(null)");
        W(buf, "%s/driver_override", dp);
        snprintf(buf, sizeof buf, "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n", d->vendor, d->device,
                 x->subvendor, x->subdevice, d->class >> 16, (d->class >> 8) & 0xff, d->class & 0xff);
        W(buf, "%s/modalias", dp);
        snprintf(buf, sizeof buf, "%d\n", x->numa);
        W(buf, "%s/numa_node", dp);
        W(x->driver[0] ? "1\n" : "0\n", "%s/enable", dp);
        snprintf(buf, sizeof buf, "%d\n", x->driver[0] ? 16 + (int) (x - devx) : 0);
        W(buf, "%s/irq", dp);
        W("", "%s/remove", dp);
        /* pci_uevent() (drivers/pci/pci-driver.c) shows these; fk_bind() adds DRIVER= in front,
         * and fk_unbind() takes it away, as the kernel shows it while the device is bound. */
        snprintf(buf, sizeof buf,
                 "PCI_CLASS=%04X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\n"
                 "MODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n",
                 d->class, d->vendor, d->device, x->subvendor, x->subdevice, d->addr, d->vendor, d->device,
                 x->subvendor, x->subdevice, d->class >> 16, (d->class >> 8) & 0xff, d->class & 0xff);
        W(buf, "%s/uevent", dp);
        write_config(x);
        write_resource(x);
        if (x->bars[6].set) {
                /* the rom attribute (drivers/pci/pci-sysfs.c: mode 0600, visible with a ROM BAR);
                 * the file holds the image the shim hands out once reading is enabled */
                char p[PATH_MAX];
                P(p, "%s/rom", x->dev->path);
                check(fk_write_file(p, x->romdata ? (const char *) x->romdata : "", x->romdata_len), p);
                check(chmod(p, 0600) < 0 ? -errno : 0, p);
        }
        L(strcat(strcpy(rel, dp), "/subsystem"), "sys/bus/pci");
        if (x->boot_vga >= 0)
                W(x->boot_vga ? "1\n" : "0\n", "%s/boot_vga", dp);
        if (d->n_resets >= 0)
                check(fk_dev_set_reset_method(&model, d, d->resets, d->n_resets), "reset_method");
        /* Linux shows the write-only "reset" attribute when the function has a reset method. */
        if (d->n_resets > 0)
                W("", "%s/reset", dp);
        if (x->has_link) {
                snprintf(buf, sizeof buf, "%s GT/s PCIe\n", x->cur_speed);
                W(buf, "%s/current_link_speed", dp);
                snprintf(buf, sizeof buf, "%s GT/s PCIe\n", x->max_speed);
                W(buf, "%s/max_link_speed", dp);
                snprintf(buf, sizeof buf, "%u\n", x->cur_width);
                W(buf, "%s/current_link_width", dp);
                snprintf(buf, sizeof buf, "%u\n", x->max_width);
                W(buf, "%s/max_link_width", dp);
        }
        if (x->totalvfs >= 0) {
                snprintf(buf, sizeof buf, "%d\n", x->totalvfs);
                W(buf, "%s/sriov_totalvfs", dp);
                snprintf(buf, sizeof buf, "%d\n", x->numvfs < 0 ? 0 : x->numvfs);
                W(buf, "%s/sriov_numvfs", dp);
        }
        if (d->vfio_dev)
                D("%s/vfio-dev", dp);
        write_drm(x, dp);
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s", d->addr);
        L(rel, dp);
        if (d->group >= 0) {
                char g[64];
                snprintf(g, sizeof g, "sys/kernel/iommu_groups/%d", d->group);
                D("%s/devices", g);
                W("DMA\n", "%s/type", g);
                W("", "%s/reserved_regions", g);
                snprintf(rel, sizeof rel, "%s/devices/%s", g, d->addr);
                L(rel, dp);
                snprintf(rel, sizeof rel, "%s/iommu_group", dp);
                L(rel, g);
                snprintf(rel, sizeof rel, "%s/iommu", dp);
                L(rel, strcmp(iommu, "amd") == 0 ? "sys/devices/virtual/iommu/ivhd0"
                                                 : "sys/devices/virtual/iommu/dmar0");
        }
        if (x->physfn[0]) {
                struct fk_dev *pf = fk_dev_find(&model, x->physfn);
                struct devx *px = &devx[pf - model.devs];
                snprintf(rel, sizeof rel, "%s/physfn", dp);
                L(rel, pf->path);
                snprintf(rel, sizeof rel, "%s/virtfn%d", pf->path, px->n_virtfn++);
                L(rel, dp);
        }
}

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: fakesys-mktree FIXTURE ROOT\n");
                return 2;
        }
        fixture = argv[1];
        FILE *f = fopen(fixture, "re");
        if (!f) {
                fprintf(stderr, "%s: %m\n", fixture);
                return EXIT_FAILURE;
        }
        parse(f);
        fclose(f);

        check(fk_mkdir_p(argv[2]), argv[2]);
        if (!realpath(argv[2], rootpath)) {
                fprintf(stderr, "fakesys-mktree: %s: %m\n", argv[2]);
                return EXIT_FAILURE;
        }
        snprintf(model.root, sizeof model.root, "%s", rootpath);

        char p[PATH_MAX];
        P(p, "sys");
        if (access(p, F_OK) == 0) {
                fprintf(stderr, "fakesys-mktree: %s already exists; use a fresh ROOT\n", p);
                return EXIT_FAILURE;
        }
        D(".fakekernel");
        D("sys/bus/pci/devices");
        D("sys/bus/pci/drivers");
        D("sys/kernel/iommu_groups");
        D("sys/module");
        D("sys/class");
        D("dev");
        D("proc");
        W("", "sys/bus/pci/drivers_probe");
        W("1\n", "sys/bus/pci/drivers_autoprobe");
        W("", "sys/bus/pci/rescan");
        W("", ".fakekernel/writes.log");
        W("", ".fakekernel/faults");
        W("0\n", ".fakekernel/counter");
        W("", ".fakekernel/lock");
        char buf[4200];
        snprintf(buf, sizeof buf, "%s\n",
                 have_cmdline ? cmdline : "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro quiet");
        W(buf, "proc/cmdline");
        if (strcmp(iommu, "none") != 0) {
                const char *name = strcmp(iommu, "amd") == 0 ? "ivhd0" : "dmar0";
                char rel[128], tgt[128];
                D("sys/devices/virtual/iommu/%s", name);
                snprintf(rel, sizeof rel, "sys/class/iommu/%s", name);
                snprintf(tgt, sizeof tgt, "sys/devices/virtual/iommu/%s", name);
                D("sys/class/iommu");
                L(rel, tgt);
        }
        for (int i = 0; i < model.n_drivers; i++)
                if (model.drivers[i].loaded)
                        check(fk_driver_materialize(&model, &model.drivers[i]), model.drivers[i].name);
        for (int i = 0; i < model.n_devs; i++)
                build_dev(&devx[i]);
        for (int i = 0; i < model.n_devs; i++)
                if (devx[i].driver[0])
                        check(fk_bind(&model, &model.devs[i], fk_driver_find(&model, devx[i].driver)),
                              model.devs[i].addr);
        check(fk_usb_build(&model), "usb");
        check(fk_model_save(&model), "model");
        return 0;
}
