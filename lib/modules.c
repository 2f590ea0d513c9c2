/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <dlfcn.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cmdline.h"
#include "log.h"
#include "modules.h"
#include "name.h"
#include "sysfs.h"

/* libkmod is opened on first use, not linked: a program that never loads a module (the udev
 * helper for an event whose group is claimed already, the hook's fast path) does not pay for
 * mapping it and the compression and crypto libraries it pulls in. The symbols are resolved the
 * way the linker would resolve them (RTLD_DEFAULT after an RTLD_GLOBAL open), so an
 * LD_PRELOADed interposer, such as the fake kernel's shim (tests/fakekernel/shim.c), still
 * takes the calls. */
#define KMOD_SYMBOLS(X)                                                                            \
        X(kmod_new) \
        X(kmod_unref) \
        X(kmod_set_log_fn) \
        X(kmod_load_resources) \
        X(kmod_module_new_from_name) \
        X(kmod_module_new_from_lookup) \
        X(kmod_module_unref) \
        X(kmod_module_unref_list) \
        X(kmod_module_get_module) \
        X(kmod_module_get_name) \
        X(kmod_module_probe_insert_module) \
        X(kmod_module_apply_filter) \
        X(kmod_list_next) \
        X(kmod_module_get_path) \
        X(kmod_config_get_blacklists) \
        X(kmod_config_get_options) \
        X(kmod_config_get_softdeps) \
        X(kmod_config_get_install_commands) \
        X(kmod_config_iter_next) \
        X(kmod_config_iter_get_key) \
        X(kmod_config_iter_get_value) \
        X(kmod_config_iter_free_iter)

#define X(name) static __typeof__(name) *sym_##name;
KMOD_SYMBOLS(X)
#undef X

static int kmod_dl_state; /* 0 not tried yet, 1 usable, a negative errno */

/* Open libkmod: 0, or -ELIBACC when libkmod.so.2 or one of its symbols is missing. */
static int kmod_dl(void) {
        if (kmod_dl_state == 0) {
                if (!dlopen("libkmod.so.2", RTLD_NOW | RTLD_GLOBAL)) {
                        log_debug("Cannot load libkmod.so.2: %s", dlerror());
                        return kmod_dl_state = -ELIBACC;
                }
#define X(name)                                                                                    \
                if (!(sym_##name = (__typeof__(name) *) dlsym(RTLD_DEFAULT, #name))) {             \
                        log_debug("libkmod.so.2 has no %s", #name);                               \
                        return kmod_dl_state = -ELIBACC;                                           \
                }
                KMOD_SYMBOLS(X)
#undef X
                kmod_dl_state = 1;
        }
        return kmod_dl_state < 0 ? kmod_dl_state : 0;
}

#define kmod_list_each(entry, first)                                                               \
        for ((entry) = (first); (entry); (entry) = sym_kmod_list_next((first), (entry)))

#define DEFINE_KMOD_CLEANUP(type, name)                                                            \
        static void name##p(type *p) {                                                             \
                if (*p)                                                                            \
                        sym_##name(*p);                                                            \
        }
DEFINE_KMOD_CLEANUP(struct kmod_ctx *, kmod_unref)
DEFINE_KMOD_CLEANUP(struct kmod_module *, kmod_module_unref)
DEFINE_KMOD_CLEANUP(struct kmod_list *, kmod_module_unref_list)
DEFINE_KMOD_CLEANUP(struct kmod_config_iter *, kmod_config_iter_free_iter)

char *vc_module_name_normalize(const char *name) {
        char *n = strdup(name);
        if (n)
                for (char *p = n; *p; p++)
                        if (*p == '-')
                                *p = '_';
        return n;
}

/* A kernel release usable as one path component. */
static bool release_is_valid(const char *k) {
        return k && k[0] && !strchr(k, '/') && !streq(k, ".") && !streq(k, "..");
}

int vc_module_kernel_release(struct vc_ctx *ctx, char **ret) {
        _cleanup_free_ char *p = NULL, *rel = NULL;
        int r;

        if ((r = vc_ctx_path(ctx, VC_PLACE_PROC, &p, "sys/kernel/osrelease")) < 0)
                return r;
        if (vc_sysfs_read(p, &rel) < 0) {
                _cleanup_strv_free_ char **names = NULL;
                _cleanup_free_ char *dir = NULL;
                struct utsname u;

                if (!vc_ctx_is_host(ctx) && vc_ctx_path(ctx, VC_PLACE_LIB_MODULES, &dir, NULL) >= 0 &&
                    vc_dir_list(dir, &names) >= 0 && names[0] && !names[1])
                        rel = strdup(names[0]);
                else if (uname(&u) >= 0)
                        rel = strdup(u.release);
                else
                        return -errno;
                if (!rel)
                        return -ENOMEM;
        }
        if (!release_is_valid(rel))
                return -EINVAL;
        *ret = TAKE_PTR(rel);
        return 0;
}

bool vc_module_name_equal(const char *a, const char *b) {
        if (!a || !b)
                return false;
        for (; *a && *b; a++, b++)
                if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
                        return false;
        return *a == *b;
}

bool vc_module_driver_present(struct vc_ctx *ctx, const char *driver) {
        _cleanup_free_ char *path = NULL;
        if (!vc_kernel_name_is_valid(driver) || vc_ctx_path(ctx, VC_PLACE_PCI_DRIVERS, &path, "%s", driver) < 0)
                return false;
        return vc_dir_exists(path);
}

/* libkmod logs errors to stderr by default; the library prints nothing above debug. */
static void kmod_log(void *data, int priority, const char *file, int line, const char *fn,
                     const char *format, va_list args) _printf_(6, 0);
static void kmod_log(void *data, int priority, const char *file, int line, const char *fn,
                     const char *format, va_list args) {
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, format, args) < 0)
                return;
        size_t l = strlen(msg);
        if (l > 0 && msg[l - 1] == '\n')
                msg[l - 1] = '\0';
        log_debug("libkmod: %s", msg);
}

/* A libkmod context reading the module directory @dir and either libkmod's default modprobe.d
 * directories or, with @root_config, the root's (ROOT/etc/modprobe.d, ROOT/run/modprobe.d,
 * ROOT/usr/lib/modprobe.d, ROOT/lib/modprobe.d). */
static int kmod_open(struct vc_ctx *ctx, const char *dir, bool root_config, struct kmod_ctx **ret) {
        static const enum vc_place places[] = {
                VC_PLACE_MODPROBE_D, VC_PLACE_MODPROBE_D_RUN, VC_PLACE_MODPROBE_D_USR, VC_PLACE_MODPROBE_D_LIB,
        };
        char *paths[ELEMENTSOF(places) + 1] = {};
        struct kmod_ctx *k = NULL;
        int r = 0;

        if ((r = kmod_dl()) < 0)
                return r;
        for (size_t i = 0; root_config && i < ELEMENTSOF(places) && r >= 0; i++)
                r = vc_ctx_path(ctx, places[i], &paths[i], NULL);
        if (r >= 0)
                k = sym_kmod_new(dir, root_config ? (const char *const *) paths : NULL);
        for (size_t i = 0; i < ELEMENTSOF(places); i++)
                free(paths[i]);
        if (r < 0)
                return r;
        if (!k)
                return -ENOMEM;
        sym_kmod_set_log_fn(k, kmod_log, NULL);
        *ret = k;
        return 0;
}

/* The module directory of vc_module_kernel_release() and modprobe.d: the host's own modprobe.d
 * on the host, the root's otherwise (a root without them: lookups find nothing), for lookups
 * only: nothing is inserted from another root, so none of its "install" commands runs. */
static int kmod_for_root(struct vc_ctx *ctx, struct kmod_ctx **ret) {
        _cleanup_free_ char *dir = NULL, *release = NULL;
        int r;

        if ((r = vc_module_kernel_release(ctx, &release)) < 0)
                return r;
        if ((r = vc_ctx_path(ctx, VC_PLACE_LIB_MODULES, &dir, "%s", release)) < 0)
                return r;
        return kmod_open(ctx, dir, !vc_ctx_is_host(ctx), ret);
}

static int insert(struct kmod_module *mod) {
        /* No KMOD_PROBE_APPLY_BLACKLIST: like "modprobe NAME", an explicit request. */
        int r = sym_kmod_module_probe_insert_module(mod, 0, NULL, NULL, NULL, NULL);
        if (r > 0) /* a blacklist or a "fail on loaded" flag: none of ours, but be strict */
                r = -EPERM;
        if (r < 0)
                return log_debug_errno(r, "Inserting module %s failed: %m", sym_kmod_module_get_name(mod));
        log_debug("Inserted module %s", sym_kmod_module_get_name(mod));
        return 0;
}

int vc_module_ensure_driver(struct vc_ctx *ctx, const char *driver, const char *module_hint) {
        _cleanup_(kmod_unrefp) struct kmod_ctx *kctx = NULL;
        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
        _cleanup_free_ char *name = NULL;
        int r;

        if (!vc_kernel_name_is_valid(driver) || (module_hint && !vc_kernel_name_is_valid(module_hint)))
                return -EINVAL;
        if (vc_module_driver_present(ctx, driver))
                return 0;

        if ((r = kmod_dl()) < 0)
                return r;
        name = vc_module_name_normalize(module_hint ?: driver);
        if (!name)
                return -ENOMEM;

        /* Never for another root: its modules would go into the running kernel. */
        if (!vc_ctx_is_host(ctx)) {
                r = vc_ctx_note_module_not_loaded(ctx, name);
                return r < 0 ? r : -EOPNOTSUPP;
        }

        if ((r = kmod_for_root(ctx, &kctx)) < 0)
                return r;
        (void) sym_kmod_load_resources(kctx); /* speeds up lookups; failures show up below */

        r = sym_kmod_module_new_from_name(kctx, name, &mod);
        if (r < 0)
                return log_debug_errno(r, "Cannot create a module object for %s: %m", name);
        r = insert(mod);
        if (r == -ENOENT) {
                /* Not a module name libkmod knows: try it as an alias ("vfio-pci" is one). */
                _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
                struct kmod_list *l;

                r = sym_kmod_module_new_from_lookup(kctx, module_hint ?: driver, &list);
                if (r < 0)
                        return log_debug_errno(r, "Looking up %s failed: %m", module_hint ?: driver);
                if (!list)
                        return log_debug_errno(-ENOENT, "No module provides %s", driver);
                r = -ENOENT;
                kmod_list_each(l, list) {
                        _cleanup_(kmod_module_unrefp) struct kmod_module *m = sym_kmod_module_get_module(l);
                        r = insert(m);
                        if (r >= 0)
                                break;
                }
        }
        if (r < 0)
                return r;

        if (!vc_module_driver_present(ctx, driver))
                return log_debug_errno(-ENXIO, "Module %s loaded, but no PCI driver %s appeared", name,
                                       driver);
        return 0;
}

/* A PCI modalias as the kernel writes it: "pci:v00008086d000010D3sv...". Nothing else goes to
 * libkmod. */
static bool modalias_is_valid(const char *s) {
        if (!s || !startswith(s, "pci:") || strlen(s) > 128)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != ':' && *p != '*')
                        return false;
        return true;
}

/* The modules @modalias names in the root's module index, the blacklist applied (like udev's
 * autoload: a blacklist applies to a lookup by alias). *ret_kctx owns what *ret_allowed refers
 * to: release the list first. -EINVAL for a malformed modalias. */
static int modules_for_modalias(struct vc_ctx *ctx, const char *modalias, struct kmod_ctx **ret_kctx,
                                struct kmod_list **ret_allowed) {
        _cleanup_(kmod_unrefp) struct kmod_ctx *kctx = NULL;
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
        int r;

        if (!modalias_is_valid(modalias))
                return -EINVAL;
        if ((r = kmod_for_root(ctx, &kctx)) < 0)
                return r;
        r = sym_kmod_module_new_from_lookup(kctx, modalias, &list);
        if (r < 0)
                return log_debug_errno(r, "Looking up %s failed: %m", modalias);
        r = sym_kmod_module_apply_filter(kctx, KMOD_FILTER_BLACKLIST, list, ret_allowed);
        if (r < 0)
                return log_debug_errno(r, "Applying the blacklist to the modules of %s failed: %m", modalias);
        *ret_kctx = TAKE_PTR(kctx);
        return 0;
}

int vc_module_load_for_modalias(struct vc_ctx *ctx, const char *modalias) {
        _cleanup_(kmod_unrefp) struct kmod_ctx *kctx = NULL;
        _cleanup_(kmod_module_unref_listp) struct kmod_list *allowed = NULL;
        struct kmod_list *l;
        int r, first_error = 0, n = 0;

        if ((r = modules_for_modalias(ctx, modalias, &kctx, &allowed)) < 0)
                return r;

        kmod_list_each(l, allowed) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *m = sym_kmod_module_get_module(l);
                if (vc_module_name_equal(sym_kmod_module_get_name(m), "vfio_pci"))
                        continue; /* never the host's driver */
                if (!vc_ctx_is_host(ctx)) {
                        /* Another root: say what it would take, load nothing. */
                        if ((r = vc_ctx_note_module_not_loaded(ctx, sym_kmod_module_get_name(m))) < 0)
                                return r;
                        first_error = -EOPNOTSUPP;
                        continue;
                }
                r = insert(m);
                if (r < 0) {
                        if (first_error == 0)
                                first_error = r;
                        continue;
                }
                n++;
        }
        return n > 0 ? n : first_error;
}

/* Is @name a vfio driver's module (vfio_pci, or a variant such as mlx5_vfio_pci)? */
static bool module_is_vfio(const char *name) {
        return vc_module_name_equal(name, "vfio_pci") || strstr(name, "vfio");
}

int vc_module_drivers_for_modalias(struct vc_ctx *ctx, const char *modalias, char ***ret) {
        _cleanup_(kmod_unrefp) struct kmod_ctx *kctx = NULL;
        _cleanup_(kmod_module_unref_listp) struct kmod_list *allowed = NULL;
        _cleanup_strv_free_ char **drivers = NULL, **found = NULL;
        _cleanup_free_ char *dir = NULL;
        struct kmod_list *l;
        size_t n = 0;
        int r;

        if ((r = modules_for_modalias(ctx, modalias, &kctx, &allowed)) < 0)
                return r;
        if ((r = vc_ctx_path(ctx, VC_PLACE_PCI_DRIVERS, &dir, NULL)) < 0)
                return r;
        r = vc_dir_list(dir, &drivers);
        if (r == -ENOENT)
                r = 0, drivers = NULL;
        if (r < 0)
                return r;

        found = calloc(1, sizeof *found);
        if (!found)
                return -ENOMEM;
        kmod_list_each(l, allowed) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *m = sym_kmod_module_get_module(l);
                const char *name = sym_kmod_module_get_name(m);
                if (!name || module_is_vfio(name))
                        continue;
                for (char **d = drivers; d && *d; d++) {
                        _cleanup_free_ char *link = NULL, *mod = NULL;
                        if (!vc_kernel_name_is_valid(*d) || asprintf(&link, "%s/%s/module", dir, *d) < 0)
                                continue;
                        if (vc_sysfs_read_link_name(link, &mod) < 0 || !vc_module_name_equal(mod, name))
                                continue;
                        char **v = realloc(found, (n + 2) * sizeof *v);
                        if (!v)
                                return -ENOMEM;
                        found = v;
                        if (!(found[n] = strdup(*d)))
                                return -ENOMEM;
                        found[++n] = NULL;
                }
        }
        *ret = TAKE_PTR(found);
        return (int) n;
}

/* ------------------------------------------------------------------ inspection */

struct vc_modinfo {
        struct vc_ctx *ctx;
        char *release;       /* NULL when unknown */
        char *dir;           /* ROOT/lib/modules/RELEASE, NULL when it is not there */
        struct kmod_ctx *kmod; /* NULL without libkmod */
        struct vc_modconf conf;
};

static int entry_add(struct vc_modconf_entry **v, size_t *n, const char *module, const char *value, bool cmdline) {
        struct vc_modconf_entry *nv = realloc(*v, (*n + 1) * sizeof **v);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        struct vc_modconf_entry e = {
                .module = vc_module_name_normalize(module),
                .value = strdup(value ?: ""),
                .cmdline = cmdline,
        };
        if (!e.module || !e.value) {
                free(e.module);
                free(e.value);
                return -ENOMEM;
        }
        (*v)[(*n)++] = e;
        return 0;
}

static void entries_free(struct vc_modconf_entry *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].module);
                free(v[i].value);
        }
        free(v);
}

struct vc_modinfo *vc_modinfo_free(struct vc_modinfo *m) {
        if (!m)
                return NULL;
        entries_free(m->conf.blacklist, m->conf.n_blacklist);
        entries_free(m->conf.options, m->conf.n_options);
        entries_free(m->conf.softdeps, m->conf.n_softdeps);
        entries_free(m->conf.installs, m->conf.n_installs);
        if (m->kmod)
                sym_kmod_unref(m->kmod);
        free(m->release);
        free(m->dir);
        vc_ctx_unref(m->ctx);
        free(m);
        return NULL;
}

const char *vc_modinfo_kernel_release(const struct vc_modinfo *m) { return m->release; }
const struct vc_modconf *vc_modinfo_config(const struct vc_modinfo *m) { return &m->conf; }

/* Entries the running system's kernel command line puts into libkmod's view: libkmod always
 * reads the running kernel's command line. File entries come from libkmod and command line
 * entries from the root's own command line (add_cmdline()), so these are taken out of libkmod's. */
static bool from_running_cmdline(char *const *running, const char *kind, const char *module, const char *value) {
        for (char *const *w = running; w && *w; w++) {
                const char *eq = strchr(*w, '=');
                if (!eq)
                        continue;
                const char *dot = memchr(*w, '.', (size_t) (eq - *w));
                if (!dot)
                        continue;
                size_t ml = (size_t) (dot - *w);
                if (streq(kind, "blacklist")) {
                        if (vc_cmdline_name_equal(*w, ml, "modprobe") &&
                            vc_cmdline_name_equal(dot + 1, (size_t) (eq - dot - 1), "blacklist") &&
                            vc_option_list_has(eq + 1, module))
                                return true;
                } else if (streq(kind, "options") && vc_cmdline_name_equal(*w, ml, module) && streq(dot + 1, value))
                        return true;
        }
        return false;
}

/* modprobe.d through libkmod, what the running command line adds left out. */
static int add_modprobe_d(struct vc_modinfo *m) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *host = NULL;
        _cleanup_free_ char *p = NULL, *text = NULL;
        _cleanup_strv_free_ char **running = NULL;
        int r;

        if (vc_ctx_new(NULL, &host) >= 0 && vc_ctx_path(host, VC_PLACE_PROC, &p, "cmdline") >= 0)
                (void) vc_sysfs_read(p, &text);
        if ((r = vc_cmdline_split(text, &running)) < 0)
                return r;

        struct {
                struct kmod_config_iter *(*get)(const struct kmod_ctx *);
                const char *kind;
                struct vc_modconf_entry **v;
                size_t *n;
        } lists[] = {
                { sym_kmod_config_get_blacklists, "blacklist", &m->conf.blacklist, &m->conf.n_blacklist },
                { sym_kmod_config_get_options, "options", &m->conf.options, &m->conf.n_options },
                { sym_kmod_config_get_softdeps, "softdep", &m->conf.softdeps, &m->conf.n_softdeps },
                { sym_kmod_config_get_install_commands, "install", &m->conf.installs, &m->conf.n_installs },
        };
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                _cleanup_(kmod_config_iter_free_iterp) struct kmod_config_iter *it = lists[i].get(m->kmod);
                while (it && sym_kmod_config_iter_next(it)) {
                        const char *k = sym_kmod_config_iter_get_key(it), *v = sym_kmod_config_iter_get_value(it);
                        if (!k || from_running_cmdline(running, lists[i].kind, k, v))
                                continue;
                        if ((r = entry_add(lists[i].v, lists[i].n, k, v, false)) < 0)
                                return r;
                }
        }
        return 0;
}

/* The root's own command line: modprobe.blacklist=a,b and MODULE.param=value. */
static int add_cmdline(struct vc_modinfo *m, char *const *cmdline) {
        int r;
        for (char *const *w = cmdline; w && *w; w++) {
                const char *eq = strchr(*w, '=');
                if (!eq)
                        continue;
                const char *dot = memchr(*w, '.', (size_t) (eq - *w));
                if (!dot || dot == *w)
                        continue;
                _cleanup_free_ char *mod = strndup(*w, (size_t) (dot - *w));
                if (!mod)
                        return -ENOMEM;
                if (!vc_module_name_equal(mod, "modprobe")) {
                        if ((r = entry_add(&m->conf.options, &m->conf.n_options, mod, dot + 1, true)) < 0)
                                return r;
                        continue;
                }
                if (!vc_cmdline_name_equal(dot + 1, (size_t) (eq - dot - 1), "blacklist"))
                        continue;
                for (const char *p = eq + 1; *p;) {
                        size_t l = strcspn(p, ",");
                        _cleanup_free_ char *name = strndup(p, l);
                        if (!name || entry_add(&m->conf.blacklist, &m->conf.n_blacklist, name, NULL, true) < 0)
                                return -ENOMEM;
                        p += l;
                        p += *p == ',';
                }
        }
        return 0;
}

int vc_modinfo_new(struct vc_ctx *ctx, char *const *cmdline, struct vc_modinfo **ret) {
        _cleanup_(vc_modinfo_freep) struct vc_modinfo *m = NULL;
        _cleanup_free_ char *nodir = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->ctx = vc_ctx_ref(ctx);
        r = vc_module_kernel_release(ctx, &m->release);
        if (r == -ENOMEM)
                return r;
        if (m->release) {
                if ((r = vc_ctx_path(ctx, VC_PLACE_LIB_MODULES, &m->dir, "%s", m->release)) < 0)
                        return r;
                if (!vc_dir_exists(m->dir))
                        m->dir = (free(m->dir), NULL);
        }

        /* Without a module directory under the root, point libkmod at one that does not exist
         * rather than at the host's: lookups then find nothing, as they should. */
        if (!m->dir && (r = vc_ctx_path(ctx, VC_PLACE_LIB_MODULES, &nodir, "%s", m->release ?: "none")) < 0)
                return r;
        r = kmod_open(ctx, m->dir ?: nodir, true, &m->kmod);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_debug_errno(r, "No libkmod: modprobe.d and the binary module index are not read: %m");
        if (m->kmod && (r = add_modprobe_d(m)) < 0)
                return r;
        if ((r = add_cmdline(m, cmdline)) < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

/* Is @path (its first @len bytes, ".../vfio-pci.ko", ".ko.xz", ".ko.zst", ".ko.gz") module @name? */
static bool module_basename_is(const char *path, size_t len, const char *name) {
        const char *end = path + len, *slash = path;
        for (const char *p = path; p < end; p++)
                if (*p == '/')
                        slash = p + 1;
        const char *ko = NULL;
        for (const char *p = slash; p + 3 <= end; p++)
                if (strncmp(p, ".ko", 3) == 0)
                        ko = p;
        if (!ko)
                return false;
        return vc_cmdline_name_equal(slash, (size_t) (ko - slash), name);
}

/* Does a text index (modules.dep, modules.builtin: "PATH[: ...]" lines) name module @name? */
static bool text_index_has(const char *text, const char *name) {
        for (const char *l = text; l && *l;) {
                size_t n = strcspn(l, "\n");
                size_t path = strcspn(l, ":\n");
                if (module_basename_is(l, path < n ? path : n, name))
                        return true;
                l += n;
                l += *l == '\n';
        }
        return false;
}

/* DIR/FILE, NULL on ENOMEM (asprintf() leaves its pointer undefined then). */
static char *dir_file(const char *dir, const char *file) {
        char *p;
        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

static bool index_has(const struct vc_modinfo *m, const char *file, const char *name, bool *ret_read) {
        _cleanup_free_ char *p = dir_file(m->dir, file), *text = NULL;
        *ret_read = p && vc_sysfs_read(p, &text) >= 0;
        return *ret_read && text_index_has(text, name);
}

enum vc_module_state vc_modinfo_module_state(const struct vc_modinfo *m, const char *name) {
        _cleanup_free_ char *n = vc_module_name_normalize(name), *p = NULL, *bin = NULL;
        bool read;

        if (!n || !vc_kernel_name_is_valid(n) || vc_ctx_path(m->ctx, VC_PLACE_SYS_MODULE, &p, "%s/initstate", n) < 0)
                return VC_MODULE_UNKNOWN;
        if (vc_path_exists(p))
                return VC_MODULE_LOADED;
        p = (free(p), NULL);
        if (vc_ctx_path(m->ctx, VC_PLACE_SYS_MODULE, &p, "%s", n) >= 0 && vc_path_exists(p))
                return VC_MODULE_BUILTIN; /* built-in modules with parameters appear without initstate */
        if (!m->dir)
                return VC_MODULE_UNKNOWN;
        if (index_has(m, "modules.builtin", n, &read))
                return VC_MODULE_BUILTIN;
        if ((bin = dir_file(m->dir, "modules.dep.bin")) && vc_path_exists(bin) && m->kmod) {
                _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
                struct kmod_list *l;
                bool found = false;
                if (sym_kmod_module_new_from_lookup(m->kmod, n, &list) >= 0)
                        kmod_list_each(l, list) {
                                _cleanup_(kmod_module_unrefp) struct kmod_module *mod = sym_kmod_module_get_module(l);
                                found |= sym_kmod_module_get_path(mod) != NULL;
                        }
                return found ? VC_MODULE_AVAILABLE : VC_MODULE_MISSING;
        }
        /* No binary index (a copied tree): read the text one. */
        if (index_has(m, "modules.dep", n, &read))
                return VC_MODULE_AVAILABLE;
        return read ? VC_MODULE_MISSING : VC_MODULE_UNKNOWN;
}

int vc_modinfo_lookup(const struct vc_modinfo *m, const char *alias, char ***ret) {
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
        _cleanup_strv_free_ char **v = NULL;
        struct kmod_list *l;
        size_t n = 0;

        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        if (m->kmod && m->dir && alias && sym_kmod_module_new_from_lookup(m->kmod, alias, &list) >= 0)
                kmod_list_each(l, list) {
                        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = sym_kmod_module_get_module(l);
                        const char *name = sym_kmod_module_get_name(mod);
                        if (!name)
                                continue;
                        char **nv = realloc(v, (n + 2) * sizeof *v);
                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                        if (!(v[n] = vc_module_name_normalize(name)))
                                return -ENOMEM;
                        v[++n] = NULL;
                }
        *ret = TAKE_PTR(v);
        return (int) n;
}
