/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <dlfcn.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "log.h"
#include "modules.h"
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
        X(kmod_list_next)

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

static bool word_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 255 || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || isspace((unsigned char) *p) || iscntrl((unsigned char) *p))
                        return false;
        return true;
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
        if (!word_is_valid(driver) || vc_ctx_path(ctx, VC_PLACE_PCI_DRIVERS, &path, "%s", driver) < 0)
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

        if (!word_is_valid(driver) || (module_hint && !word_is_valid(module_hint)))
                return -EINVAL;
        if (vc_module_driver_present(ctx, driver))
                return 0;

        if ((r = kmod_dl()) < 0)
                return r;
        name = strdup(module_hint ?: driver);
        if (!name)
                return -ENOMEM;
        for (char *p = name; *p; p++)
                if (*p == '-')
                        *p = '_';

        /* Never for another root: its modules would go into the running kernel. */
        if (!vc_ctx_is_host(ctx)) {
                r = vc_ctx_note_module_not_loaded(ctx, name);
                return r < 0 ? r : -EOPNOTSUPP;
        }

        kctx = sym_kmod_new(NULL, NULL);
        if (!kctx)
                return -ENOMEM;
        sym_kmod_set_log_fn(kctx, kmod_log, NULL);
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

/* The running kernel's module directory and modprobe.d on the host; the root's otherwise (a
 * root without them: lookups find nothing), for lookups only: nothing is inserted from it, so
 * none of its "install" commands runs. */
static int kmod_for_root(struct vc_ctx *ctx, struct kmod_ctx **ret) {
        static const enum vc_place places[] = {
                VC_PLACE_MODPROBE_D, VC_PLACE_MODPROBE_D_RUN, VC_PLACE_MODPROBE_D_USR, VC_PLACE_MODPROBE_D_LIB,
        };
        _cleanup_free_ char *dir = NULL;
        char *paths[ELEMENTSOF(places) + 1] = {};
        struct kmod_ctx *k = NULL;
        struct utsname u;
        int r = 0;

        if ((r = kmod_dl()) < 0)
                return r;

        if (vc_ctx_is_host(ctx))
                k = sym_kmod_new(NULL, NULL);
        else {
                if (uname(&u) < 0)
                        return -errno;
                if ((r = vc_ctx_path(ctx, VC_PLACE_LIB_MODULES, &dir, "%s", u.release)) < 0)
                        return r;
                for (size_t i = 0; i < ELEMENTSOF(places) && r >= 0; i++)
                        r = vc_ctx_path(ctx, places[i], &paths[i], NULL);
                if (r >= 0)
                        k = sym_kmod_new(dir, (const char *const *) paths);
                for (size_t i = 0; i < ELEMENTSOF(places); i++)
                        free(paths[i]);
                if (r < 0)
                        return r;
        }
        if (!k)
                return -ENOMEM;
        sym_kmod_set_log_fn(k, kmod_log, NULL);
        *ret = k;
        return 0;
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
                        if (!word_is_valid(*d) || asprintf(&link, "%s/%s/module", dir, *d) < 0)
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
