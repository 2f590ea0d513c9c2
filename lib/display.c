/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "display.h"
#include "fileio.h"
#include "log.h"
#include "name.h"
#include "state.h"
#include "sysfs.h"

#define NVIDIA_INFO_MAX 4096

void vc_display_holders_free(struct vc_display_holder *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i].comm);
        free(v);
}

bool vc_display_class(uint32_t class_code) { return (class_code >> 16) == 0x03; }

/* "card" or "renderD" followed by decimal digits: the only names the DRM core gives the
 * entries of a PCI device's drm/ directory that have a node in /dev/dri. */
static bool drm_node_name(const char *s) {
        const char *d = startswith(s, "card") ?: startswith(s, "renderD");
        if (isempty(d) || strlen(d) > 9)
                return false;
        for (; *d; d++)
                if (!isdigit((unsigned char) *d))
                        return false;
        return true;
}

/* The node's path as the kernel shows it in a proc/PID/fd link: the path in the holder's own
 * file system, "/dev/dri/card0" under any root. It is compared, never opened. */
static char *node_path(const char *dir, const char *name) {
        char *p;
        return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* The minor number the nvidia driver gave the GPU ("Device Minor:  0"), -ENOENT without one. */
static int nvidia_minor(struct vc_ctx *ctx, const struct vc_pci_addr *addr, unsigned *ret) {
        _cleanup_free_ char *path = NULL, *info = NULL;
        _cleanup_close_ int fd = -1;
        size_t len;
        int r;

        if ((r = vc_ctx_path(ctx, VC_PLACE_PROC, &path, "driver/nvidia/gpus/%s/information",
                             VC_PCI_ADDR_TO_STRING(addr))) < 0)
                return r;
        if ((fd = vc_path_open(path, O_RDONLY | O_NOCTTY, 0)) < 0)
                return fd;
        if ((r = vc_read_fd(fd, NVIDIA_INFO_MAX, &info, &len)) < 0)
                return r;
        for (const char *l = info; l && *l;) {
                const char *v = startswith(l, "Device Minor:");
                if (v) {
                        v += strspn(v, " \t");
                        char *end;
                        errno = 0;
                        unsigned long m = isdigit((unsigned char) *v) ? strtoul(v, &end, 10) : 0;
                        if (!isdigit((unsigned char) *v) || errno || m > 255 || (*end && !isspace((unsigned char) *end)))
                                return -EBADMSG;
                        *ret = (unsigned) m;
                        return 0;
                }
                l = strchr(l, '\n');
                l = l ? l + 1 : NULL;
        }
        return -ENOENT;
}

int vc_display_nodes(struct vc_ctx *ctx, const struct vc_pci_addr *addr, const char *driver, char ***ret) {
        _cleanup_strv_free_ char **nodes = calloc(1, sizeof(char *)), **names = NULL;
        _cleanup_free_ char *dir = NULL;
        size_t n = 0;
        unsigned minor;
        int r;

        if (!nodes)
                return -ENOMEM;
        if ((r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &dir, "%s/drm", VC_PCI_ADDR_TO_STRING(addr))) < 0)
                return r;
        r = vc_dir_list(dir, &names);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                return r;
        for (char **i = names; i && *i; i++)
                if (drm_node_name(*i) && (r = strv_push(&nodes, &n, node_path("/dev/dri", *i))) < 0)
                        return r;
        if (streq_ptr(driver, "nvidia") && nvidia_minor(ctx, addr, &minor) >= 0) {
                char *p;
                if ((r = strv_push(&nodes, &n, asprintf(&p, "/dev/nvidia%u", minor) < 0 ? NULL : p)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(nodes);
        return 0;
}

/* proc/PID/comm, one line, control characters (C1 too) and bytes that are not UTF-8 as '?' (a
 * process names itself); "?" when unreadable (the process is gone). */
static char *read_comm(const char *procdir, unsigned pid) {
        _cleanup_free_ char *path = NULL, *s = NULL;
        if (asprintf(&path, "%s/%u/comm", procdir, pid) < 0) {
                path = NULL; /* undefined after a failure */
                return NULL;
        }
        if (vc_read_file(path, &s) < 0 || isempty(s))
                return strdup("?");
        s[strcspn(s, "\n")] = '\0';
        return vc_text_printable(s);
}

struct found {
        struct vc_display_holder *v;
        size_t n;
};

static int found_add(struct found *f, const char *node, unsigned pid, const char *procdir) {
        for (size_t i = 0; i < f->n; i++)
                if (f->v[i].pid == (pid_t) pid && f->v[i].node == node)
                        return 0;
        struct vc_display_holder *w = realloc(f->v, (f->n + 1) * sizeof *w);
        if (!w)
                return -ENOMEM;
        f->v = w;
        char *comm = read_comm(procdir, pid);
        if (!comm)
                return -ENOMEM;
        f->v[f->n++] = (struct vc_display_holder){ .node = node, .pid = (pid_t) pid, .comm = comm };
        return 0;
}

/* Which of @nodes the process @pid holds: its fd links read one by one, as its fd directory
 * lists them (getdents64() on the one descriptor: no copy of it for a listing, no list; a
 * scan looks at every process, on every claim of a display group). */
static int scan_process(const char *procdir, unsigned pid, char *const *nodes, struct found *f) {
        _cleanup_free_ char *path = NULL;
        _Alignas(struct dirent64) char buf[8192];
        char target[4096];
        int r;

        if (asprintf(&path, "%s/%u/fd", procdir, pid) < 0) {
                path = NULL; /* undefined after a failure */
                return -ENOMEM;
        }
        _cleanup_close_ int dfd = vc_path_open(path, O_RDONLY | O_DIRECTORY, 0);
        if (dfd < 0)
                return 0; /* gone, or a kernel thread's fds we may not read */
        for (;;) {
                ssize_t n = getdents64(dfd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return 0; /* the end, or gone while we looked */
                for (ssize_t off = 0; off < n;) {
                        const struct dirent64 *de = (const struct dirent64 *) (buf + off);
                        off += de->d_reclen;
                        if (de->d_name[0] == '.')
                                continue;
                        ssize_t k = readlinkat(dfd, de->d_name, target, sizeof target - 1);
                        if (k <= 0)
                                continue;
                        target[k] = '\0';
                        for (char *const *nd = nodes; *nd; nd++)
                                if (streq(target, *nd) && (r = found_add(f, *nd, pid, procdir)) < 0)
                                        return r;
                }
        }
}

static int holder_cmp(const void *a, const void *b) {
        const struct vc_display_holder *x = a, *y = b;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int vc_display_holders(struct vc_ctx *ctx, char *const *nodes, struct vc_display_holder **ret, size_t *ret_n) {
        _cleanup_free_ char *procdir = NULL;
        _cleanup_free_ unsigned *pids = NULL;
        struct found f = { 0 };
        size_t n_pids = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (!nodes || !*nodes)
                return 0;
        if ((r = vc_ctx_path(ctx, VC_PLACE_PROC, &procdir, NULL)) < 0 ||
            (r = vc_dir_list_numbers(procdir, "", &pids, &n_pids)) < 0)
                return r;
        for (size_t i = 0; i < n_pids; i++)
                if ((r = scan_process(procdir, pids[i], nodes, &f)) < 0) {
                        vc_display_holders_free(f.v, f.n);
                        return r;
                }

        if (f.n == 0)
                return 0; /* nobody holds them */

        /* By node in the caller's order, then by pid: a stable sort of each node's share. */
        _cleanup_free_ struct vc_display_holder *sorted = calloc(f.n, sizeof *sorted);
        if (!sorted) {
                vc_display_holders_free(f.v, f.n);
                return -ENOMEM;
        }
        size_t k = 0;
        for (char *const *nd = nodes; *nd; nd++) {
                size_t first = k;
                for (size_t i = 0; i < f.n; i++)
                        if (f.v[i].node == *nd)
                                sorted[k++] = f.v[i];
                if (k - first > 1)
                        qsort(sorted + first, k - first, sizeof *sorted, holder_cmp);
        }
        free(f.v);
        *ret = TAKE_PTR(sorted);
        *ret_n = k;
        for (size_t i = 0; i < k; i++)
                log_debug("%s is open by %s (pid %d)", (*ret)[i].node, (*ret)[i].comm, (int) (*ret)[i].pid);
        return 0;
}

int vc_display_holders_format(const struct vc_display_holder *v, size_t n, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                bool first = i == 0 || v[i].node != v[i - 1].node;
                if (first)
                        fprintf(f, "%s%s is open by ", i ? "; " : "", v[i].node);
                fprintf(f, "%s%s (pid %d)", first ? "" : ", ", v[i].comm, (int) v[i].pid);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int vc_display_check(struct vc_ctx *ctx, const struct vc_pci_addr *addr, uint32_t class_code, const char *driver,
                     char **ret_message) {
        _cleanup_strv_free_ char **nodes = NULL;
        struct vc_display_holder *v = NULL;
        size_t n = 0;
        int r;

        *ret_message = NULL;
        if (!vc_display_class(class_code))
                return 0;
        if ((r = vc_display_nodes(ctx, addr, driver, &nodes)) < 0 || (r = vc_display_holders(ctx, nodes, &v, &n)) < 0)
                return r;
        if (n > 0)
                r = vc_display_holders_format(v, n, ret_message);
        vc_display_holders_free(v, n);
        return r < 0 ? r : n > 0 ? -EBUSY : 0;
}

/* ------------------------------------------------------------------ firmware framebuffers */

void vc_firmware_fbs_free(struct vc_firmware_fb *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].device);
                free(v[i].driver);
        }
        free(v);
}

bool vc_firmware_fb_name_is_valid(const char *name) {
        static const char *const kinds[] = { "efi-framebuffer.", "simple-framebuffer.", "vesa-framebuffer." };
        for (size_t i = 0; name && i < ELEMENTSOF(kinds); i++) {
                const char *num = startswith(name, kinds[i]);
                size_t l = num ? strlen(num) : 0;
                if (l > 0 && l <= 4 && strspn(num, "0123456789") == l)
                        return true;
        }
        return false;
}

/* A driver's name as it may go into a path: letters, digits, '_', '.', '-', at most 64. */
static bool driver_name_is_safe(const char *s) {
        size_t l = strlen(s);
        return l > 0 && l <= 64 && !streq(s, ".") && !streq(s, "..") &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == l;
}

int vc_display_firmware_fbs(struct vc_ctx *ctx, struct vc_firmware_fb **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct vc_firmware_fb *v = NULL;
        size_t n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if ((r = vc_ctx_path(ctx, VC_PLACE_PLATFORM_DEVICES, &dir, NULL)) < 0)
                return r;
        if (vc_dir_list(dir, &names) < 0)
                return 0; /* no platform bus: no firmware framebuffer */
        for (char **i = names; *i; i++) {
                _cleanup_free_ char *link = NULL, *driver = NULL;
                if (!vc_firmware_fb_name_is_valid(*i))
                        continue;
                if (asprintf(&link, "%s/%s/driver", dir, *i) < 0) {
                        link = NULL;
                        r = -ENOMEM;
                        break;
                }
                if ((r = vc_sysfs_read_link_name(link, &driver)) == -ENOMEM)
                        break;
                r = 0;
                if (!driver || !driver_name_is_safe(driver)) {
                        log_debug("%s: %s", *i, driver ? "a driver name that is not safe" : "not bound");
                        continue;
                }
                struct vc_firmware_fb *nv = realloc(v, (n + 1) * sizeof *nv);
                if (!nv) {
                        r = -ENOMEM;
                        break;
                }
                v = nv;
                v[n] = (struct vc_firmware_fb){ .device = strdup(*i), .driver = TAKE_PTR(driver) };
                if (!v[n++].device) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r < 0) {
                vc_firmware_fbs_free(v, n);
                return r;
        }
        *ret = n ? v : NULL;
        if (!n)
                free(v);
        *ret_n = n;
        return 0;
}

/* ------------------------------------------------------------------ VT consoles */

void vc_vtconsoles_free(struct vc_vtconsole *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].name);
                free(v[i].driver);
        }
        free(v);
}

bool vc_vtconsole_is_dummy(const struct vc_vtconsole *c) {
        return strstr(c->driver, "dummy device");
}

int vc_display_vtconsoles(struct vc_ctx *ctx, struct vc_vtconsole **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct vc_vtconsole *v = NULL;
        size_t n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &dir, "vtconsole")) < 0)
                return r;
        if (vc_dir_list(dir, &names) < 0)
                return 0; /* no VT consoles */
        for (char **i = names; *i && r >= 0; i++) {
                _cleanup_free_ char *name_path = NULL, *bind_path = NULL, *driver = NULL, *bind = NULL;
                if (!vc_vtconsole_name_is_valid(*i))
                        continue;
                if (asprintf(&name_path, "%s/%s/name", dir, *i) < 0 || asprintf(&bind_path, "%s/%s/bind", dir, *i) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (vc_sysfs_read(name_path, &driver) < 0 || vc_sysfs_read(bind_path, &bind) < 0)
                        continue;
                struct vc_vtconsole *nv = realloc(v, (n + 1) * sizeof *nv);
                if (!nv) {
                        r = -ENOMEM;
                        break;
                }
                v = nv;
                v[n] = (struct vc_vtconsole){ .name = strdup(*i), .driver = TAKE_PTR(driver), .bound = streq(bind, "1") };
                if (!v[n++].name)
                        r = -ENOMEM;
        }
        if (r < 0) {
                vc_vtconsoles_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
