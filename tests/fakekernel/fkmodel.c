/* Shared by fakesys-mktree and the LD_PRELOAD shim.  Files here are written
 * with stdio, whose internal writes do not go through the shim's write(). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fkmodel.h"

static void pathf(char *ret, size_t n, const struct fk_model *m, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void pathf(char *ret, size_t n, const struct fk_model *m, const char *fmt, ...) {
        va_list ap;
        int k = snprintf(ret, n, "%s/", m->root);
        va_start(ap, fmt);
        vsnprintf(ret + k, n - (size_t) k, fmt, ap);
        va_end(ap);
}

int fk_write_file(const char *path, const void *data, size_t n) {
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        setvbuf(f, NULL, _IONBF, 0); /* one write(2), no buffer to size with fstat */
        size_t w = fwrite(data, 1, n, f);
        int r = fclose(f);
        if (w != n || r != 0)
                return -EIO;
        return 0;
}

int fk_writef(const char *path, const char *fmt, ...) {
        char buf[4096];
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (k < 0 || (size_t) k >= sizeof buf)
                return -ENAMETOOLONG;
        return fk_write_file(path, buf, (size_t) k);
}

int fk_mkdir_p(const char *path) {
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof buf, "%s", path) >= (int) sizeof buf)
                return -ENAMETOOLONG;
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int fk_id_parse(const char *s, struct fk_id *ret) {
        char *end;
        unsigned long v = strtoul(s, &end, 16);
        if (end != s + 4 || *end != ':' || v > 0xffff)
                return -EINVAL;
        s = end + 1;
        if (strcmp(s, "*") == 0) {
                ret->vendor = (unsigned) v;
                ret->device = FK_ANY;
                return 0;
        }
        unsigned long d = strtoul(s, &end, 16);
        if (end != s + 4 || *end || d > 0xffff)
                return -EINVAL;
        ret->vendor = (unsigned) v;
        ret->device = (unsigned) d;
        return 0;
}

const char *const fk_reset_names[FK_RESET_METHODS] = {
        "device_specific", "acpi", "flr", "af_flr", "pm", "bus",
};

int fk_reset_lookup(const char *name) {
        for (int i = 0; i < FK_RESET_METHODS; i++)
                if (strcmp(fk_reset_names[i], name) == 0)
                        return i;
        return -1;
}

int fk_reset_parse(char *s, unsigned char *ret, int *ret_n, const char **ret_bad) {
        int n = 0;
        for (char *save, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int m = fk_reset_lookup(t);
                if (ret_bad)
                        *ret_bad = t;
                if (m < 0)
                        return -EINVAL;
                for (int i = 0; i < n; i++)
                        if (ret[i] == m)
                                return -EEXIST;
                ret[n++] = (unsigned char) m; /* distinct known names: n stays <= FK_RESET_LIST_MAX */
        }
        *ret_n = n;
        return 0;
}

/* The model file's RESETS field: "-" without the attribute, "none" for an empty list. */
static void resets_format(const struct fk_dev *v, char *ret, size_t n) {
        size_t k = 0;
        if (v->n_resets <= 0) {
                snprintf(ret, n, "%s", v->n_resets < 0 ? "-" : "none");
                return;
        }
        for (int i = 0; i < v->n_resets && k < n; i++)
                k += (size_t) snprintf(ret + k, n - k, "%s%s", i ? "," : "", fk_reset_names[v->resets[i]]);
}

static void ids_format(const struct fk_driver *d, char *ret, size_t n) {
        size_t k = 0;
        ret[0] = 0;
        for (int i = 0; i < d->n_ids && k + 12 < n; i++) {
                if (d->ids[i].device == FK_ANY)
                        k += (size_t) snprintf(ret + k, n - k, "%s%04x:*", i ? "," : "", d->ids[i].vendor);
                else
                        k += (size_t) snprintf(ret + k, n - k, "%s%04x:%04x", i ? "," : "",
                                               d->ids[i].vendor, d->ids[i].device);
        }
        if (k == 0)
                snprintf(ret, n, "-");
}

void fk_model_forget(struct fk_model *m) {
        m->cache_len = 0;
}

/* Keep BUF (N bytes, taken over) as the bytes the tables hold. */
static void cache_set(struct fk_model *m, char *buf, size_t n) {
        free(m->cache);
        m->cache = buf;
        m->cache_len = buf ? n : 0;
}

/* @path replaced whole by @n bytes of @data, through ROOT/.fakekernel/NAME.PID renamed over it:
 * a reader sees the old bytes or the new, never a torn file. */
static int replace_file(const struct fk_model *m, const char *path, const char *name, const void *data,
                        size_t n) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s/.fakekernel/%s.%d", m->root, name, (int) getpid());
        int r = fk_write_file(tmp, data, n);
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

int fk_model_save(struct fk_model *m) {
        char path[PATH_MAX];
        char *buf = NULL;
        size_t len = 0;
        fk_model_forget(m);
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -errno;
        fprintf(f, "# fake kernel model: driver NAME MODULE|- loaded|unloaded IDS|-\n"
                   "#                    dev ADDR PATH VENDOR DEVICE CLASS HDR GROUP VFIODEV REMOVED RESETS\n"
                   "# RESETS: the supported reset methods (a,b), none, or - without reset_method\n");
        for (int i = 0; i < m->n_drivers; i++) {
                const struct fk_driver *d = &m->drivers[i];
                char ids[FK_MAX_IDS * 12];
                ids_format(d, ids, sizeof ids);
                fprintf(f, "driver %s %s %s %s\n", d->name, d->module[0] ? d->module : "-",
                        d->loaded ? "loaded" : "unloaded", ids);
        }
        for (int i = 0; i < m->n_devs; i++) {
                const struct fk_dev *v = &m->devs[i];
                char resets[128];
                resets_format(v, resets, sizeof resets);
                fprintf(f, "dev %s %s %04x %04x %06x %d %d %d %d %s\n", v->addr, v->path, v->vendor,
                        v->device, v->class, v->hdr, v->group, v->vfio_dev, v->removed, resets);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        snprintf(path, sizeof path, "%s/.fakekernel/model", m->root);
        if (replace_file(m, path, "model", buf, len) < 0) {
                free(buf);
                return -EIO;
        }
        cache_set(m, buf, len);
        return 0;
}

/* The whole file PATH into a new NUL-terminated buffer. */
static int read_all(const char *path, char **ret, size_t *ret_n) {
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        struct stat st;
        setvbuf(f, NULL, _IONBF, 0); /* read(2) straight into buf */
        size_t cap = fstat(fileno(f), &st) == 0 && st.st_size > 0 ? (size_t) st.st_size + 1 : 4096, n = 0;
        char *buf = malloc(cap + 1);
        for (size_t k; buf; n += k) {
                if (n == cap) {
                        char *b = realloc(buf, 2 * cap + 1);
                        if (!b)
                                break;
                        buf = b;
                        cap *= 2;
                }
                if ((k = fread(buf + n, 1, cap - n, f)) == 0)
                        break;
        }
        bool err = ferror(f);
        fclose(f);
        if (!buf || err) {
                free(buf);
                return buf ? -EIO : -ENOMEM;
        }
        buf[n] = 0;
        *ret = buf;
        *ret_n = n;
        return 0;
}

int fk_model_load(const char *root, struct fk_model *m) {
        char path[PATH_MAX];
        char *buf = NULL;
        size_t len = 0;
        /* Every write of every process under the shim loads the model (tests/stress runs millions
         * of writes): the tables stay as they are while the file holds the bytes they were read
         * from or saved as, and only what is filled in is cleared. */
        snprintf(path, sizeof path, "%s/.fakekernel/model", root);
        int r = read_all(path, &buf, &len);
        if (r < 0) {
                fk_model_forget(m);
                return r;
        }
        if (m->cache_len && len == m->cache_len && strcmp(m->root, root) == 0 &&
            memcmp(buf, m->cache, len) == 0) {
                free(buf);
                return 0;
        }
        fk_model_forget(m);
        m->n_drivers = m->n_devs = 0;
        snprintf(m->root, sizeof m->root, "%s", root);
        /* parse a copy: the original is kept as the cache */
        char *text = strdup(buf);
        if (!text) {
                free(buf);
                return -ENOMEM;
        }
        r = 0;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char a[PATH_MAX], b[PATH_MAX], c[64], ids[FK_MAX_IDS * 12];
                int vd, rm;
                if (line[0] == '#')
                        continue;
                if (strncmp(line, "driver ", 7) == 0 && m->n_drivers < FK_MAX_DRIVERS) {
                        struct fk_driver *d = &m->drivers[m->n_drivers];
                        memset(d, 0, sizeof *d);
                        if (sscanf(line, "driver %63s %63s %63s %767s", a, b, c, ids) != 4) {
                                r = -EBADMSG;
                                break;
                        }
                        snprintf(d->name, sizeof d->name, "%s", a);
                        snprintf(d->module, sizeof d->module, "%s", strcmp(b, "-") ? b : "");
                        d->loaded = strcmp(c, "loaded") == 0;
                        if (strcmp(ids, "-") != 0)
                                for (char *s, *t = strtok_r(ids, ",", &s); t && d->n_ids < FK_MAX_IDS;
                                     t = strtok_r(NULL, ",", &s))
                                        if (fk_id_parse(t, &d->ids[d->n_ids]) == 0)
                                                d->n_ids++;
                        m->n_drivers++;
                } else if (strncmp(line, "dev ", 4) == 0) {
                        struct fk_dev *v = fk_model_dev_slot(m);
                        if (!v) {
                                r = -ENOMEM;
                                break;
                        }
                        if (sscanf(line, "dev %15s %1023s %x %x %x %d %d %d %d %63s", v->addr, v->path,
                                   &v->vendor, &v->device, &v->class, &v->hdr, &v->group, &vd, &rm, c) != 10) {
                                r = -EBADMSG;
                                break;
                        }
                        v->vfio_dev = vd;
                        v->removed = rm;
                        if (strcmp(c, "-") == 0)
                                v->n_resets = -1;
                        else if (strcmp(c, "none") != 0 && fk_reset_parse(c, v->resets, &v->n_resets, NULL) < 0) {
                                r = -EBADMSG;
                                break;
                        }
                        m->n_devs++;
                }
        }
        free(text);
        if (r < 0) {
                free(buf);
                return r;
        }
        cache_set(m, buf, len);
        return 0;
}

struct fk_dev *fk_model_dev_slot(struct fk_model *m) {
        if (m->n_devs == m->cap_devs) {
                int cap = m->cap_devs ? 2 * m->cap_devs : 64;
                struct fk_dev *d = realloc(m->devs, (size_t) cap * sizeof *d);
                if (!d)
                        return NULL;
                m->devs = d;
                m->cap_devs = cap;
        }
        struct fk_dev *v = &m->devs[m->n_devs];
        memset(v, 0, sizeof *v);
        return v;
}

struct fk_driver *fk_driver_find(struct fk_model *m, const char *name) {
        for (int i = 0; i < m->n_drivers; i++)
                if (strcmp(m->drivers[i].name, name) == 0)
                        return &m->drivers[i];
        return NULL;
}

struct fk_dev *fk_dev_find(struct fk_model *m, const char *addr) {
        for (int i = 0; i < m->n_devs; i++)
                if (strcmp(m->devs[i].addr, addr) == 0)
                        return &m->devs[i];
        return NULL;
}

struct fk_dev *fk_dev_find_path(struct fk_model *m, const char *relpath) {
        for (int i = 0; i < m->n_devs; i++)
                if (strcmp(m->devs[i].path, relpath) == 0)
                        return &m->devs[i];
        return NULL;
}

bool fk_driver_matches(const struct fk_driver *d, const struct fk_dev *dev) {
        for (int i = 0; i < d->n_ids; i++)
                if (d->ids[i].vendor == dev->vendor &&
                    (d->ids[i].device == FK_ANY || d->ids[i].device == dev->device))
                        return true;
        return false;
}

void fk_relpath(const char *from_dir, const char *to, char *ret, size_t n) {
        /* strip the common leading components, then climb out of the rest */
        size_t common = 0;
        for (size_t i = 0;; i++) {
                if (from_dir[i] == 0 && (to[i] == '/' || to[i] == 0)) {
                        common = i;
                        break;
                }
                if (from_dir[i] != to[i])
                        break;
                if (from_dir[i] == '/')
                        common = i;
        }
        size_t k = 0;
        ret[0] = 0;
        const char *rest = from_dir + common;
        for (const char *p = rest; *p; p++)
                if (*p == '/' && k + 4 < n) {
                        memcpy(ret + k, "../", 3);
                        k += 3;
                        ret[k] = 0;
                }
        const char *tail = to + common;
        if (*tail == '/')
                tail++;
        snprintf(ret + k, n - k, "%s", tail);
}

static int symlink_replace(const char *target, const char *link) {
        if (unlink(link) < 0 && errno != ENOENT)
                return -errno;
        if (symlink(target, link) < 0)
                return -errno;
        return 0;
}

int fk_driver_materialize(struct fk_model *m, struct fk_driver *d) {
        char p[PATH_MAX];
        int r;
        pathf(p, sizeof p, m, "sys/bus/pci/drivers/%s", d->name);
        if ((r = fk_mkdir_p(p)) < 0)
                return r;
        static const char *const files[] = { "bind", "unbind", "new_id", "remove_id", "uevent" };
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
                pathf(p, sizeof p, m, "sys/bus/pci/drivers/%s/%s", d->name, files[i]);
                if ((r = fk_write_file(p, "", 0)) < 0)
                        return r;
        }
        if (d->module[0]) {
                pathf(p, sizeof p, m, "sys/module/%s", d->module);
                if ((r = fk_mkdir_p(p)) < 0)
                        return r;
                pathf(p, sizeof p, m, "sys/module/%s/initstate", d->module);
                if ((r = fk_writef(p, "live\n")) < 0)
                        return r;
                char target[PATH_MAX];
                snprintf(target, sizeof target, "../../../../module/%s", d->module);
                pathf(p, sizeof p, m, "sys/bus/pci/drivers/%s/module", d->name);
                if ((r = symlink_replace(target, p)) < 0)
                        return r;
                if (strcmp(d->module, "vfio_pci") == 0) {
                        pathf(p, sizeof p, m, "dev/vfio");
                        if ((r = fk_mkdir_p(p)) < 0)
                                return r;
                        pathf(p, sizeof p, m, "dev/vfio/vfio");
                        if ((r = fk_write_file(p, "", 0)) < 0)
                                return r;
                }
        }
        d->loaded = true;
        return 0;
}

void fk_dev_driver(const struct fk_model *m, const struct fk_dev *dev, char *ret, size_t n) {
        char p[PATH_MAX], t[PATH_MAX];
        pathf(p, sizeof p, m, "%s/driver", dev->path);
        ssize_t k = readlink(p, t, sizeof t - 1);
        ret[0] = 0;
        if (k <= 0)
                return;
        t[k] = 0;
        const char *s = strrchr(t, '/');
        snprintf(ret, n, "%s", s ? s + 1 : t);
}

void fk_dev_override(const struct fk_model *m, const struct fk_dev *dev, char *ret, size_t n) {
        char p[PATH_MAX];
        pathf(p, sizeof p, m, "%s/driver_override", dev->path);
        ret[0] = 0;
        FILE *f = fopen(p, "re");
        if (!f)
                return;
        if (!fgets(ret, (int) n, f))
                ret[0] = 0;
        fclose(f);
        ret[strcspn(ret, "\n")] = 0;
        if (strcmp(ret, "(null)") == 0)
                ret[0] = 0;
}

int fk_dev_set_override(const struct fk_model *m, const struct fk_dev *dev, const char *name) {
        char p[PATH_MAX];
        pathf(p, sizeof p, m, "%s/driver_override", dev->path);
        return fk_writef(p, "%s\n", name && name[0] ? name : "(null)");
}

int fk_dev_set_reset_method(const struct fk_model *m, const struct fk_dev *dev, const unsigned char *list, int n) {
        char p[PATH_MAX], buf[128]; /* 6 x "device_specific " and a newline fit */
        size_t k = 0;
        buf[0] = 0;
        for (int i = 0; i < n && k < sizeof buf; i++)
                k += (size_t) snprintf(buf + k, sizeof buf - k, "%s%s", i ? " " : "", fk_reset_names[list[i]]);
        if (n > 0 && k + 1 < sizeof buf)
                buf[k++] = '\n';
        pathf(p, sizeof p, m, "%s/reset_method", dev->path);
        return fk_write_file(p, buf, k);
}

static bool is_vfio_bound(const struct fk_model *m, const struct fk_dev *dev) {
        char drv[64];
        if (dev->removed)
                return false;
        fk_dev_driver(m, dev, drv, sizeof drv);
        return drv[0] && (strcmp(drv, "vfio-pci") == 0 || dev->vfio_dev);
}

/* Linux: the first device of an IOMMU group to register with vfio (vfio-pci
 * probe -> vfio_register_group_dev) creates the group and its cdev, so
 * /dev/vfio/N appears; vfio_device_remove_group() deletes the cdev when the
 * last vfio-bound device of the group goes (drivers/vfio/group.c).  */
int fk_vfio_group_update(struct fk_model *m, int group) {
        char p[PATH_MAX];
        bool any = false;
        if (group < 0)
                return 0;
        for (int i = 0; i < m->n_devs; i++)
                if (m->devs[i].group == group && is_vfio_bound(m, &m->devs[i]))
                        any = true;
        pathf(p, sizeof p, m, "dev/vfio/%d", group);
        if (any) {
                char d[PATH_MAX];
                pathf(d, sizeof d, m, "dev/vfio");
                int r = fk_mkdir_p(d);
                if (r < 0)
                        return r;
                if (access(p, F_OK) < 0)
                        return fk_write_file(p, "", 0);
                return 0;
        }
        if (unlink(p) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* The device's uevent shows DRIVER= while it is bound, first, as the kernel's dev_uevent() does
 * (before the bus's PCI_* lines): rewritten whole at every bind and unbind (replace_file()). A
 * device without uevent (a hand-made tree) is left so. */
static int uevent_set_driver(const struct fk_model *m, const struct fk_dev *dev, const char *driver) {
        char p[PATH_MAX], buf[8192];
        char *old = NULL;
        size_t n;
        pathf(p, sizeof p, m, "%s/uevent", dev->path);
        int r = read_all(p, &old, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        const char *rest = old;
        if (strncmp(rest, "DRIVER=", 7) == 0) {
                rest = strchr(rest, '\n');
                rest = rest ? rest + 1 : "";
        }
        int k = snprintf(buf, sizeof buf, "%s%s%s%s", driver ? "DRIVER=" : "", driver ? driver : "",
                         driver ? "\n" : "", rest);
        free(old);
        if (k < 0 || (size_t) k >= sizeof buf)
                return -E2BIG;
        return replace_file(m, p, "uevent", buf, (size_t) k);
}

int fk_bind(struct fk_model *m, struct fk_dev *dev, struct fk_driver *d) {
        char p[PATH_MAX], drvdir[PATH_MAX], target[PATH_MAX];
        int r;
        snprintf(drvdir, sizeof drvdir, "sys/bus/pci/drivers/%s", d->name);
        fk_relpath(dev->path, drvdir, target, sizeof target);
        pathf(p, sizeof p, m, "%s/driver", dev->path);
        if ((r = symlink_replace(target, p)) < 0)
                return r;
        fk_relpath(drvdir, dev->path, target, sizeof target);
        pathf(p, sizeof p, m, "%s/%s", drvdir, dev->addr);
        if ((r = symlink_replace(target, p)) < 0 || (r = uevent_set_driver(m, dev, d->name)) < 0)
                return r;
        return fk_vfio_group_update(m, dev->group);
}

int fk_unbind(struct fk_model *m, struct fk_dev *dev) {
        char p[PATH_MAX], drv[64];
        fk_dev_driver(m, dev, drv, sizeof drv);
        if (!drv[0])
                return -ENODEV;
        pathf(p, sizeof p, m, "%s/driver", dev->path);
        unlink(p);
        pathf(p, sizeof p, m, "sys/bus/pci/drivers/%s/%s", drv, dev->addr);
        unlink(p);
        int r = uevent_set_driver(m, dev, NULL);
        if (r < 0)
                return r;
        return fk_vfio_group_update(m, dev->group);
}
