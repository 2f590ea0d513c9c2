/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dlfcn.h>
#include <fcntl.h>
#include <libudev.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#if HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "root.h"

struct vc_ctx {
        unsigned n_ref;
        char *root; /* no trailing slash; "" means the real "/" */
        unsigned unbind_timeout_ms;
        bool device_reads_bounded; /* vc_ctx_get_device_reads_bounded() */
        bool state_locked;         /* vc_ctx_get_state_locked() */
        bool dry_run;              /* vc_ctx_get_dry_run() */
        bool boot_critical; /* vc_critical_scan() reads the list of the initramfs's build */
        bool session_critical; /* vc_critical_scan() protects the NIC of the program's SSH session */
        char **modules_not_loaded;
        size_t n_modules_not_loaded;
        struct udev *udev;
        struct udev_hwdb *hwdb;
        bool hwdb_tried;
        struct hwdb_names *names; /* open addressing, n_names_max a power of two */
        size_t n_names, n_names_max;
};

/* The hwdb's answer for one PCI vendor:device id (vc_ctx_hwdb_pci_names()). */
struct hwdb_names {
        uint64_t key; /* (vendor << 16 | device) + 1; 0 marks a free slot */
        char *vendor, *model;
};

static const char *const place_paths[_VC_PLACE_MAX] = {
        [VC_PLACE_ROOT] = "",
        [VC_PLACE_PCI_BUS] = "/sys/bus/pci",
        [VC_PLACE_PCI_DEVICES] = "/sys/bus/pci/devices",
        [VC_PLACE_PCI_DRIVERS] = "/sys/bus/pci/drivers",
        [VC_PLACE_IOMMU_GROUPS] = "/sys/kernel/iommu_groups",
        [VC_PLACE_CLASS] = "/sys/class",
        [VC_PLACE_SYS_DEV_BLOCK] = "/sys/dev/block",
        [VC_PLACE_SYS_DEV_CHAR] = "/sys/dev/char",
        [VC_PLACE_SYS_MODULE] = "/sys/module",
        [VC_PLACE_SYS_DEVICES] = "/sys/devices",
        [VC_PLACE_DEV_VFIO] = "/dev/vfio",
        [VC_PLACE_PROC] = "/proc",
        [VC_PLACE_RUN_STATE] = RUNSTATEDIR "/vfio-claim",
        [VC_PLACE_SYSCONF] = SYSCONFDIR "/vfio-claim",
        [VC_PLACE_MODPROBE_D] = "/etc/modprobe.d",
        [VC_PLACE_MODPROBE_D_RUN] = "/run/modprobe.d",
        [VC_PLACE_MODPROBE_D_LIB] = "/lib/modprobe.d",
        [VC_PLACE_MODPROBE_D_USR] = "/usr/lib/modprobe.d",
        [VC_PLACE_LIB_MODULES] = "/lib/modules",
        [VC_PLACE_UDEV_RULES_RUN] = "/run/udev/rules.d",
        [VC_PLACE_USB_BUS] = "/sys/bus/usb",
        [VC_PLACE_USB_DEVICES] = "/sys/bus/usb/devices",
        [VC_PLACE_USB_DRIVERS] = "/sys/bus/usb/drivers",
        [VC_PLACE_PLATFORM_DEVICES] = "/sys/bus/platform/devices",
        [VC_PLACE_PLATFORM_DRIVERS] = "/sys/bus/platform/drivers",
        [VC_PLACE_SYS_FS_BTRFS] = "/sys/fs/btrfs",
};

/* ---- the roots of live contexts other than "/": the paths under them are confined ---- */

struct confined_root {
        char *prefix; /* as the context spells it: absolute, no trailing slash */
        size_t len;
        int fd;       /* opened at first use; -1 until then, and in a child after fork() */
        unsigned n_ref;
};

static pthread_mutex_t confined_lock = PTHREAD_MUTEX_INITIALIZER;
static struct confined_root *confined;
static size_t n_confined;

/* In a child after fork(): the roots' descriptors are the parent's, which the child may close
 * (the writer of lib/stuck.c closes every descriptor), and their numbers may then name something
 * else. Let go of them: the child opens its own at its first use. Only the forking thread runs in
 * the child, so no lock. */
static void confined_forget_in_child(void) {
        for (size_t i = 0; i < n_confined; i++)
                if (confined[i].fd >= 0) {
                        close(confined[i].fd);
                        confined[i].fd = -1;
                }
}

static int confine(const char *prefix) {
        static bool atfork_done;
        int r = 0;
        pthread_mutex_lock(&confined_lock);
        if (!atfork_done) {
                if ((r = -pthread_atfork(NULL, NULL, confined_forget_in_child)) < 0)
                        goto out;
                atfork_done = true;
        }
        for (size_t i = 0; i < n_confined; i++)
                if (streq(confined[i].prefix, prefix)) {
                        confined[i].n_ref++;
                        goto out;
                }
        struct confined_root *n = realloc(confined, (n_confined + 1) * sizeof *n);
        if (!n) {
                r = -ENOMEM;
                goto out;
        }
        confined = n;
        n[n_confined] = (struct confined_root){ .prefix = strdup(prefix), .len = strlen(prefix), .fd = -1, .n_ref = 1 };
        if (!n[n_confined].prefix) {
                r = -ENOMEM;
                goto out;
        }
        n_confined++;
out:
        pthread_mutex_unlock(&confined_lock);
        return r;
}

static void unconfine(const char *prefix) {
        pthread_mutex_lock(&confined_lock);
        for (size_t i = 0; i < n_confined; i++) {
                if (!streq(confined[i].prefix, prefix) || --confined[i].n_ref > 0)
                        continue;
                free(confined[i].prefix);
                if (confined[i].fd >= 0)
                        close(confined[i].fd);
                confined[i] = confined[--n_confined];
                break;
        }
        pthread_mutex_unlock(&confined_lock);
}

/* The longest live root that @path lies under: its length, and its descriptor in *ret_fd,
 * borrowed: the root's own, valid while the context that confines it lives, never closed by the
 * caller. 0 when @path lies under none. Every open under a root goes through here: no dup() and
 * close() of the root's descriptor, nor an fstat() to check it, an open (docs/PERFORMANCE.md). */
static int find_root_borrowed(const char *path, size_t *ret_len, int *ret_fd) {
        size_t best = SIZE_MAX;
        int r = 0;
        pthread_mutex_lock(&confined_lock);
        for (size_t i = 0; i < n_confined; i++) {
                const struct confined_root *c = &confined[i];
                if (strncmp(path, c->prefix, c->len) == 0 && (path[c->len] == '/' || path[c->len] == '\0') &&
                    (best == SIZE_MAX || c->len > confined[best].len))
                        best = i;
        }
        if (best == SIZE_MAX)
                goto out;
        struct confined_root *c = &confined[best];
        if (c->fd < 0) {
                /* The root path itself is trusted: resolved as given. */
                c->fd = open(c->prefix, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (c->fd < 0) {
                        r = negative_errno();
                        goto out;
                }
        }
        *ret_fd = c->fd;
        *ret_len = c->len;
        r = 1;
out:
        pthread_mutex_unlock(&confined_lock);
        return r;
}

/* As find_root_borrowed(), with a new descriptor of the root in *ret_fd, the caller's to close. */
static int find_root(const char *path, size_t *ret_len, int *ret_fd) {
        int fd, r = find_root_borrowed(path, ret_len, &fd);
        if (r <= 0)
                return r;
        *ret_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        return *ret_fd < 0 ? negative_errno() : 1;
}

size_t vc_path_root_length(const char *path) {
        size_t best = 0;
        pthread_mutex_lock(&confined_lock);
        for (size_t i = 0; i < n_confined; i++) {
                const struct confined_root *c = &confined[i];
                if (c->len > best && strncmp(path, c->prefix, c->len) == 0 &&
                    (path[c->len] == '/' || path[c->len] == '\0'))
                        best = c->len;
        }
        pthread_mutex_unlock(&confined_lock);
        return best;
}

/* Component by component, as openat2(RESOLVE_IN_ROOT) does: every intermediate component is
 * opened O_PATH|O_NOFOLLOW; a link is read and its target put in front of what is left (an
 * absolute one restarts at the root), ".." never goes above the root, and the last component is
 * opened with O_NOFOLLOW, so a link swapped in behind our back fails (ELOOP) instead of being
 * followed out. */
#define MAX_LINKS 40

/* Where the walk stands: the directories opened below the root (innermost last; none means the
 * root itself), the path still to resolve, and the links followed so far. */
struct walk {
        int rootfd;
        int flags;
        mode_t mode;
        char *todo;
        int *stack;
        size_t depth, alloc;
        unsigned links;
};

static void walk_done(struct walk *w) {
        while (w->depth > 0)
                close(w->stack[--w->depth]);
        free(w->stack);
        free(w->todo);
}

/* The directory the next component is looked up in. */
static int walk_cur(const struct walk *w) {
        return w->depth > 0 ? w->stack[w->depth - 1] : w->rootfd;
}

/* The next component of *p, slashes skipped, into @name; *p moves past it. 0 when nothing is
 * left, 1 with a name. @ret_last: no component follows; @ret_trailing_slash: a slash does. */
static int walk_next_name(const char **p, char name[static NAME_MAX + 1], bool *ret_last,
                          bool *ret_trailing_slash) {
        *p += strspn(*p, "/");
        if (!**p)
                return 0;
        size_t n = strcspn(*p, "/");
        if (n > NAME_MAX)
                return -ENAMETOOLONG;
        memcpy(name, *p, n);
        name[n] = '\0';
        *p += n;
        *ret_last = (*p)[strspn(*p, "/")] == '\0';
        *ret_trailing_slash = **p == '/';
        return 1;
}

/* The final open: @name in the current directory, never following a link. */
static int walk_open_last(const struct walk *w, const char *name) {
        int r = openat(walk_cur(w), name, w->flags | O_NOFOLLOW, w->mode);
        return r < 0 ? negative_errno() : r;
}

/* The link opened as @fd (closed here) is read and its target put in front of what is left
 * after *p; an absolute target restarts at the root. More than MAX_LINKS links: -ELOOP. *p
 * points to the start of the new path. */
static int walk_follow_link(struct walk *w, int fd, const char **p) {
        char target[PATH_MAX];
        ssize_t k = readlinkat(fd, "", target, sizeof target - 1);
        int r = k < 0 ? negative_errno() : 0;
        close(fd);
        if (r < 0)
                return r;
        if (++w->links > MAX_LINKS)
                return -ELOOP;
        target[k] = '\0';
        if (target[0] == '/')
                while (w->depth > 0)
                        close(w->stack[--w->depth]);
        char *next;
        if (asprintf(&next, "%s%s%s", target, **p ? "/" : "", *p) < 0)
                return -ENOMEM;
        free(w->todo);
        w->todo = next;
        *p = w->todo;
        return 0;
}

/* The directory opened as @fd becomes the current one (on failure @fd is closed). */
static int walk_descend(struct walk *w, int fd) {
        if (w->depth == w->alloc) {
                int *ns = realloc(w->stack, (w->alloc * 2 + 8) * sizeof *ns);
                if (!ns) {
                        close(fd);
                        return -ENOMEM;
                }
                w->stack = ns;
                w->alloc = w->alloc * 2 + 8;
        }
        w->stack[w->depth++] = fd;
        return 0;
}

int vc_open_in_root_walk(int rootfd, const char *rel, int flags, mode_t mode) {
        _cleanup_(walk_done) struct walk w = {
                .rootfd = rootfd,
                .flags = flags | O_CLOEXEC,
                .mode = flags & (O_CREAT | O_TMPFILE) ? mode : 0,
                .todo = strdup(rel),
        };
        int r;

        if (!w.todo)
                return -ENOMEM;
        for (const char *p = w.todo;;) {
                char name[NAME_MAX + 1];
                bool last, trailing_slash;

                r = walk_next_name(&p, name, &last, &trailing_slash);
                if (r == 0) {
                        r = openat(walk_cur(&w), ".", w.flags, w.mode);
                        return r < 0 ? negative_errno() : r;
                }
                if (r < 0)
                        return r;
                if (streq(name, "."))
                        continue;
                if (streq(name, "..")) {
                        if (w.depth > 0) /* never above the root */
                                close(w.stack[--w.depth]);
                        continue;
                }
                int fd = openat(walk_cur(&w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        r = negative_errno();
                        if (r == -ENOENT && last && !trailing_slash && (w.flags & O_CREAT))
                                r = walk_open_last(&w, name);
                        return r;
                }
                struct stat st;
                if (fstat(fd, &st) < 0) {
                        r = negative_errno();
                        close(fd);
                        return r;
                }
                bool follow = !last || trailing_slash || !(w.flags & (O_NOFOLLOW | O_EXCL));
                if (S_ISLNK(st.st_mode) && follow) {
                        r = walk_follow_link(&w, fd, &p);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (last && !trailing_slash) {
                        close(fd);
                        return walk_open_last(&w, name);
                }
                if (!S_ISDIR(st.st_mode)) {
                        close(fd);
                        return -ENOTDIR;
                }
                r = walk_descend(&w, fd);
                if (r < 0)
                        return r;
        }
}

int vc_open_in_root(int rootfd, const char *rel, int flags, mode_t mode) {
        /* 1: the kernel has openat2(), 0: it has not (ENOSYS), -1: not known yet. */
        static int have_openat2 = -1;

        if (!*rel)
                rel = ".";
#if HAVE_VALGRIND_VALGRIND_H
        /* valgrind 3.19 does not know openat2(): it fails it with ENOSYS and warns on stderr,
         * which the programs' callers read. Under valgrind, the walk (the same resolution). */
        if (have_openat2 < 0 && RUNNING_ON_VALGRIND)
                __atomic_store_n(&have_openat2, 0, __ATOMIC_RELAXED);
#endif
        if (__atomic_load_n(&have_openat2, __ATOMIC_RELAXED) != 0) {
                struct open_how how = {
                        .flags = (unsigned) (flags | O_CLOEXEC),
                        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                };
                for (unsigned tries = 0;; tries++) {
                        long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
                        if (fd >= 0) {
                                __atomic_store_n(&have_openat2, 1, __ATOMIC_RELAXED);
                                return (int) fd;
                        }
                        /* EAGAIN: a rename raced with a ".." walk; the kernel asks to retry. */
                        if (errno == EAGAIN && tries < 16)
                                continue;
                        break;
                }
                if (errno == ENOSYS)
                        __atomic_store_n(&have_openat2, 0, __ATOMIC_RELAXED);
                /* EPERM before openat2() ever worked: a seccomp filter that does not know it. */
                else if (!(errno == EPERM && __atomic_load_n(&have_openat2, __ATOMIC_RELAXED) < 0))
                        return negative_errno();
        }
        return vc_open_in_root_walk(rootfd, rel, flags, mode);
}

int vc_path_open(const char *path, int flags, mode_t mode) {
        size_t len;
        int rootfd, r;

        if (isempty(path))
                return -EINVAL;
        r = find_root_borrowed(path, &len, &rootfd);
        if (r < 0)
                return r;
        if (r == 0) {
                int fd = open(path, flags | O_CLOEXEC, mode);
                return fd < 0 ? negative_errno() : fd;
        }
        return vc_open_in_root(rootfd, path + len + strspn(path + len, "/"), flags, mode);
}

int vc_path_root_fd(const char *path, size_t *ret_len) {
        int fd = -1;
        int r = find_root(path, ret_len, &fd);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : fd;
}

int vc_path_open_under(int rootfd, size_t root_len, const char *path, int flags) {
        if (rootfd < 0) {
                int fd = open(path, flags | O_CLOEXEC);
                return fd < 0 ? negative_errno() : fd;
        }
        return vc_open_in_root(rootfd, path + root_len + strspn(path + root_len, "/"), flags, 0);
}

int vc_path_open_parent(const char *path, const char **ret_name) {
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        _cleanup_free_ char *dir = NULL;

        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        if (!slash)
                dir = strdup(".");
        else if (slash == path)
                dir = strdup("/");
        else
                dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        int fd = vc_path_open(dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd >= 0)
                *ret_name = name;
        return fd;
}

int vc_path_stat(const char *path, struct stat *ret) {
        _cleanup_close_ int fd = vc_path_open(path, O_PATH, 0);
        if (fd < 0)
                return fd;
        return fstat(fd, ret) < 0 ? negative_errno() : 0;
}

/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; without it, the /proc/self/fd link of the
 * process's own descriptor does the same (this is the process's /proc, not one under a root). */
int vc_link_anonymous(int fd, int dfd, const char *name) {
        if (linkat(fd, "", dfd, name, AT_EMPTY_PATH) == 0)
                return 0;
        if (errno == EEXIST)
                return -EEXIST;
        char l[64];
        snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
        return linkat(AT_FDCWD, l, dfd, name, AT_SYMLINK_FOLLOW) < 0 ? negative_errno() : 0;
}

static int fd_path(int fd, char **ret) {
        char l[64], t[PATH_MAX];
        snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(l, t, sizeof t - 1);
        if (k < 0)
                return negative_errno();
        t[k] = '\0';
        if (t[0] != '/')
                return -EREMOTE; /* "(deleted)" objects, anonymous inodes: not a path */
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

int vc_path_canonical(const char *path, char **ret) {
        _cleanup_free_ char *real = NULL, *root_real = NULL;
        size_t len;
        int rootfd, r;

        r = find_root(path, &len, &rootfd);
        if (r < 0)
                return r;
        if (r == 0) {
                /* Not realpath(3): every lookup goes through open(), the one call a test's fake
                 * kernel redirects (tests/fakekernel/README.md). */
                _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                return fd_path(fd, ret);
        }
        _cleanup_close_ int rfd = rootfd;
        _cleanup_close_ int fd = vc_open_in_root(rfd, path + len + strspn(path + len, "/"), O_PATH, 0);
        if (fd < 0)
                return fd;
        if ((r = fd_path(fd, &real)) < 0 || (r = fd_path(rfd, &root_real)) < 0)
                return r;
        /* The object was reached inside the root, so its path starts with the root's own. */
        size_t rl = streq(root_real, "/") ? 0 : strlen(root_real);
        if (strncmp(real, root_real, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
                return -EXDEV; /* a bind mount inside the tree showing something else */
        if (asprintf(ret, "%.*s%s", (int) len, path, real + rl) < 0)
                return -ENOMEM;
        return 0;
}

int vc_ctx_new(const char *root, struct vc_ctx **ret) {
        _cleanup_free_ char *r = NULL;

        if (!root || streq(root, "/"))
                root = "";
        else if (root[0] != '/')
                return -EINVAL; /* a relative root would change meaning with the working directory */
        r = strdup(root);
        if (!r)
                return -ENOMEM;
        for (size_t l = strlen(r); l > 0 && r[l - 1] == '/'; l--)
                r[l - 1] = '\0';

        struct vc_ctx *ctx = calloc(1, sizeof *ctx);
        if (!ctx)
                return -ENOMEM;
        ctx->n_ref = 1;
        ctx->root = TAKE_PTR(r);
        ctx->unbind_timeout_ms = 10000;
        if (ctx->root[0]) {
                int k = confine(ctx->root);
                if (k < 0) {
                        free(ctx->root);
                        free(ctx);
                        return k;
                }
        }
        *ret = ctx;
        return 0;
}

struct vc_ctx *vc_ctx_ref(struct vc_ctx *ctx) {
        if (ctx)
                ctx->n_ref++;
        return ctx;
}

/* libudev serves the hwdb's names of PCI ids only (list, show, doctor, the consent prompt): it
 * is opened on first use, not linked, so that a program that never names a device (the udev
 * helper, the hook's worker, status, apply) does not map and relocate it at its start
 * (docs/PERFORMANCE.md, "Start of the CLI"). Without it there are no names, as without a hwdb. */
#define UDEV_SYMBOLS(X)                                                                            \
        X(udev_new)                                                                                \
        X(udev_unref)                                                                              \
        X(udev_hwdb_new)                                                                           \
        X(udev_hwdb_unref)                                                                         \
        X(udev_hwdb_get_properties_list_entry)                                                     \
        X(udev_list_entry_get_next)                                                                \
        X(udev_list_entry_get_name)                                                                \
        X(udev_list_entry_get_value)                                                               \
        X(udev_device_new_from_subsystem_sysname)                                                  \
        X(udev_device_get_property_value)                                                          \
        X(udev_device_unref)

#define X(name) static __typeof__(name) *sym_##name;
UDEV_SYMBOLS(X)
#undef X

static pthread_once_t udev_dl_once = PTHREAD_ONCE_INIT;
static bool udev_dl_ok;

static void udev_dl_open(void) {
        void *h = dlopen("libudev.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return;
#define X(name)                                                                                    \
        if (!(sym_##name = (__typeof__(name) *) dlsym(h, #name)))                                  \
                return;
        UDEV_SYMBOLS(X)
#undef X
        udev_dl_ok = true;
}

static bool udev_dl(void) {
        (void) pthread_once(&udev_dl_once, udev_dl_open);
        return udev_dl_ok;
}

struct vc_ctx *vc_ctx_unref(struct vc_ctx *ctx) {
        if (!ctx || --ctx->n_ref > 0)
                return NULL;
        for (size_t i = 0; i < ctx->n_names_max; i++) {
                free(ctx->names[i].vendor);
                free(ctx->names[i].model);
        }
        free(ctx->names);
        if (ctx->hwdb)
                sym_udev_hwdb_unref(ctx->hwdb);
        if (ctx->udev)
                sym_udev_unref(ctx->udev);
        if (ctx->root[0])
                unconfine(ctx->root);
        strv_free(ctx->modules_not_loaded);
        free(ctx->root);
        free(ctx);
        return NULL;
}

const char *vc_ctx_root(const struct vc_ctx *ctx) { return ctx->root[0] ? ctx->root : "/"; }
bool vc_ctx_is_host(const struct vc_ctx *ctx) { return ctx->root[0] == '\0'; }

unsigned vc_ctx_get_unbind_timeout_ms(const struct vc_ctx *ctx) { return ctx->unbind_timeout_ms; }
void vc_ctx_set_unbind_timeout_ms(struct vc_ctx *ctx, unsigned ms) { ctx->unbind_timeout_ms = ms; }
bool vc_ctx_get_device_reads_bounded(const struct vc_ctx *ctx) { return ctx->device_reads_bounded; }
void vc_ctx_set_device_reads_bounded(struct vc_ctx *ctx, bool b) { ctx->device_reads_bounded = b; }
bool vc_ctx_get_state_locked(const struct vc_ctx *ctx) { return ctx->state_locked; }
void vc_ctx_set_state_locked(struct vc_ctx *ctx, bool b) { ctx->state_locked = b; }
bool vc_ctx_get_dry_run(const struct vc_ctx *ctx) { return ctx->dry_run; }
void vc_ctx_set_dry_run(struct vc_ctx *ctx, bool b) { ctx->dry_run = b; }
bool vc_ctx_get_boot_critical(const struct vc_ctx *ctx) { return ctx->boot_critical; }
void vc_ctx_set_boot_critical(struct vc_ctx *ctx, bool b) { ctx->boot_critical = b; }
bool vc_ctx_get_session_critical(const struct vc_ctx *ctx) { return ctx->session_critical; }
void vc_ctx_set_session_critical(struct vc_ctx *ctx, bool b) { ctx->session_critical = b; }

static bool relative_part_is_safe(const char *rel) {
        if (rel[0] == '/')
                return false;
        for (const char *p = rel; *p;) {
                size_t n = strcspn(p, "/");
                if ((n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
                        return false;
                p += n;
                p += strspn(p, "/");
        }
        return true;
}

int vc_ctx_pathv(const struct vc_ctx *ctx, enum vc_place place, char **ret, const char *fmt,
                 va_list ap) {
        _cleanup_free_ char *rel = NULL;
        char *p;

        if ((unsigned) place >= _VC_PLACE_MAX)
                return -EINVAL;
        if (fmt) {
                if (vasprintf(&rel, fmt, ap) < 0)
                        return -ENOMEM;
                if (!relative_part_is_safe(rel))
                        return -EINVAL;
        }
        if (asprintf(&p, "%s%s%s%s", ctx->root, place_paths[place], rel ? "/" : "",
                     rel ? rel : "") < 0)
                return -ENOMEM;
        if (!p[0]) { /* the real root itself */
                free(p);
                p = strdup("/");
                if (!p)
                        return -ENOMEM;
        }
        *ret = p;
        return 0;
}

int vc_ctx_path(const struct vc_ctx *ctx, enum vc_place place, char **ret, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = vc_ctx_pathv(ctx, place, ret, fmt, ap);
        va_end(ap);
        return r;
}

int vc_ctx_note_module_not_loaded(struct vc_ctx *ctx, const char *module) {
        for (size_t i = 0; i < ctx->n_modules_not_loaded; i++)
                if (streq(ctx->modules_not_loaded[i], module))
                        return 0;
        char **v = realloc(ctx->modules_not_loaded, (ctx->n_modules_not_loaded + 2) * sizeof *v);
        if (!v)
                return -ENOMEM;
        ctx->modules_not_loaded = v;
        if (!(v[ctx->n_modules_not_loaded] = strdup(module)))
                return -ENOMEM;
        v[++ctx->n_modules_not_loaded] = NULL;
        return 0;
}

char *const *vc_ctx_get_modules_not_loaded(const struct vc_ctx *ctx) {
        static char *const none[] = { NULL };
        return ctx->modules_not_loaded ? ctx->modules_not_loaded : none;
}

const char *vc_sysroot_from_environment(void) {
        const char *e = secure_getenv("VFIO_CLAIM_SYSROOT");
        return isempty(e) ? NULL : e;
}

struct udev *vc_ctx_get_udev(struct vc_ctx *ctx) {
        if (!ctx->udev && udev_dl())
                ctx->udev = sym_udev_new();
        return ctx->udev;
}

int vc_ctx_block_property(struct vc_ctx *ctx, const char *sysname, const char *key, char **ret) {
        if (ctx->root[0])
                return -EOPNOTSUPP; /* udev's database is the running system's */
        struct udev *u = vc_ctx_get_udev(ctx);
        if (!u)
                return -EOPNOTSUPP;
        struct udev_device *d = sym_udev_device_new_from_subsystem_sysname(u, "block", sysname);
        if (!d)
                return -ENOENT;
        const char *v = sym_udev_device_get_property_value(d, key);
        char *copy = v ? strdup(v) : NULL;
        sym_udev_device_unref(d);
        if (!v)
                return -ENOENT;
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

struct udev_hwdb *vc_ctx_get_hwdb(struct vc_ctx *ctx) {
        if (!ctx->hwdb_tried) {
                ctx->hwdb_tried = true;
                struct udev *u = vc_ctx_get_udev(ctx);
                if (u)
                        ctx->hwdb = sym_udev_hwdb_new(u);
        }
        return ctx->hwdb;
}

static struct hwdb_names *names_slot(struct hwdb_names *t, size_t max, uint64_t key) {
        size_t i = (size_t) ((key * 2654435761u) >> 8) & (max - 1);
        while (t[i].key && t[i].key != key)
                i = (i + 1) & (max - 1);
        return &t[i];
}

static int names_grow(struct vc_ctx *ctx) {
        size_t max = ctx->n_names_max ? ctx->n_names_max * 2 : 64;
        struct hwdb_names *t = calloc(max, sizeof *t);
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < ctx->n_names_max; i++)
                if (ctx->names[i].key)
                        *names_slot(t, max, ctx->names[i].key) = ctx->names[i];
        free(ctx->names);
        ctx->names = t;
        ctx->n_names_max = max;
        return 0;
}

/* The names of @vendor:@device in the hwdb: NULL each that it has not; -ENOENT without a hwdb. */
static int hwdb_query(struct vc_ctx *ctx, uint16_t vendor, uint16_t device, char **ret_vendor, char **ret_model) {
        struct udev_hwdb *hwdb = vc_ctx_get_hwdb(ctx);
        _cleanup_free_ char *v = NULL, *m = NULL;
        char modalias[64];

        if (!hwdb)
                return -ENOENT;
        /* The database is keyed by modalias prefixes: vendor alone, then vendor and device. */
        snprintf(modalias, sizeof modalias, "pci:v%08Xd%08X", vendor, device);
        for (struct udev_list_entry *e = sym_udev_hwdb_get_properties_list_entry(hwdb, modalias, 0); e;
             e = sym_udev_list_entry_get_next(e)) {
                const char *name = sym_udev_list_entry_get_name(e);
                const char *value = sym_udev_list_entry_get_value(e);
                char **target = streq(name, "ID_VENDOR_FROM_DATABASE") ? &v
                              : streq(name, "ID_MODEL_FROM_DATABASE")  ? &m
                                                                       : NULL;
                if (target && !*target && value && !(*target = strdup(value)))
                        return -ENOMEM;
        }
        *ret_vendor = TAKE_PTR(v);
        *ret_model = TAKE_PTR(m);
        return 0;
}

/* One hwdb query is a match of the modalias against the database's patterns (tens of thousands
 * of instructions); a host has few distinct ids and many devices of each (SR-IOV VFs), so each
 * id is asked once per context and its answer (names or none) kept. */
int vc_ctx_hwdb_pci_names(struct vc_ctx *ctx, uint16_t vendor, uint16_t device, const char **ret_vendor,
                          const char **ret_model) {
        uint64_t key = ((uint64_t) vendor << 16 | device) + 1;
        struct hwdb_names *n = ctx->n_names_max ? names_slot(ctx->names, ctx->n_names_max, key) : NULL;
        int r;

        *ret_vendor = *ret_model = NULL;
        if (!n || n->key != key) {
                char *v = NULL, *m = NULL;
                r = hwdb_query(ctx, vendor, device, &v, &m);
                if (r < 0)
                        return r;
                if ((ctx->n_names + 1) * 2 > ctx->n_names_max && names_grow(ctx) < 0) {
                        free(v);
                        free(m);
                        return -ENOMEM;
                }
                n = names_slot(ctx->names, ctx->n_names_max, key);
                *n = (struct hwdb_names){ .key = key, .vendor = v, .model = m };
                ctx->n_names++;
        }
        *ret_vendor = n->vendor;
        *ret_model = n->model;
        return n->vendor || n->model ? 0 : -ENOENT;
}
