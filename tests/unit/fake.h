/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Running unit tests on the fake kernel (tests/fakekernel): a tree from a fixture made by
 * fakesys-mktree, and a child of this very program that runs with libfakekernel.so preloaded
 * and FAKEKERNEL_ROOT set (the shim reads them when it loads, so every tree needs its own
 * process). Found through $abs_top_builddir/$abs_top_srcdir (set by "make check"); when the fake
 * kernel is not built, the program exits 77 (skipped). */

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include "macro.h"
#include "root.h"
#include "sysfs.h"
#include "tree.h"

/* Where libtool puts the shim (libfakekernel.la is built in the top directory); a merge that
 * moves it only needs to change this. */
#define FAKE_SHIM ".libs/libfakekernel.so"

static inline const char *fake_dir(const char *var) {
        const char *d = getenv(var);
        return d && *d ? d : ".";
}

static inline char *fake_path(const char *var, const char *rel) {
        char *p;
        if (asprintf(&p, "%s/%s", fake_dir(var), rel) < 0)
                abort();
        return p;
}

static inline bool fake_available(void) {
        _cleanup_free_ char *shim = fake_path("abs_top_builddir", FAKE_SHIM);
        _cleanup_free_ char *mktree = fake_path("abs_top_builddir", "tests/fakekernel/fakesys-mktree");
        return access(shim, R_OK) == 0 && access(mktree, X_OK) == 0;
}

static inline int fake_wait(pid_t pid) {
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

/* A fresh tree for tests/fixtures/FIXTURE.topo. NULL on failure (reported). */
static inline char *fake_tree(const char *fixture) {
        _cleanup_free_ char *mktree = fake_path("abs_top_builddir", "tests/fakekernel/fakesys-mktree");
        _cleanup_free_ char *topo = NULL, *rel = NULL;
        char *root = tree_new();

        if (!root || asprintf(&rel, "tests/fixtures/%s.topo", fixture) < 0)
                abort();
        topo = fake_path("abs_top_srcdir", rel);
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                execl(mktree, "fakesys-mktree", topo, root, (char *) NULL);
                _exit(127);
        }
        if (fake_wait(pid) != 0) {
                fprintf(stderr, "  fakesys-mktree %s %s failed\n", topo, root);
                tree_remove(root);
                return NULL;
        }
        return root;
}

/* Run this program again (ARGS...) with the shim preloaded on ROOT; its exit status. The path
 * comes from readlink(), not an exec of /proc/self/exe: under valgrind that would start the
 * valgrind tool, which emulates readlink() but not the exec. */
static inline int fake_spawn(const char *root, char *const args[]) {
        _cleanup_free_ char *shim = fake_path("abs_top_builddir", FAKE_SHIM);
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
                abort();
        self[n] = '\0';
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                setenv("LD_PRELOAD", shim, 1);
                setenv("FAKEKERNEL_ROOT", root, 1);
                setenv("FAKEKERNEL_HOST", "1", 1); /* the tree is the child's "/": fake_ctx() */
                execv(self, args);
                _exit(127);
        }
        return fake_wait(pid);
}

/* The context of a child fake_spawn() started: the running system, which the shim opens in
 * ROOT (only there are modules loaded: lib/modules.h). */
static inline struct vc_ctx *fake_ctx(void) {
        struct vc_ctx *ctx = NULL;
        if (vc_ctx_new(NULL, &ctx) < 0)
                abort();
        return ctx;
}

/* The number of sysfs writes the shim has seen in ROOT (its cross-process counter). */
static inline long fake_counter(const char *root) {
        _cleanup_free_ char *s = tree_read(root, ".fakekernel/counter");
        return s ? strtol(s, NULL, 10) : 0;
}

static inline void fake_inject(const char *root, const char *line) {
        tree_file(root, ".fakekernel/faults", line);
}

/* Let every STUCK write take effect (ROOT/.fakekernel/unstick) and wait until each has ended
 * (its mark in ROOT/.fakekernel/stuck/ goes): an event, with a bound only a bug reaches. 0, or -1
 * when they did not end within 600 s. */
static inline int fake_unstick(const char *root) {
        tree_file(root, ".fakekernel/unstick", "");
        char *dir = tree_path(root, ".fakekernel/stuck");
        int r = -1;
        for (int i = 0; i < 60000 && r < 0; i++) {
                char **names = NULL;
                if (vc_dir_list(dir, &names) < 0 || !names[0])
                        r = 0;
                else
                        usleep(10000);
                strv_free(names);
        }
        free(dir);
        return r;
}

/* Driver link and driver_override of every PCI device, and the /dev/vfio/N nodes: what a
 * transaction must leave as it found it. */
static inline char *fake_snapshot(const char *root) {
        char *buf = NULL, rel[PATH_MAX];
        size_t size = 0;
        FILE *out = open_memstream(&buf, &size);
        char **names = NULL;
        char *dir = tree_path(root, "sys/bus/pci/devices");
        if (!out || vc_dir_list(dir, &names) < 0)
                abort();
        free(dir);
        for (char **i = names; *i; i++) {
                char link[PATH_MAX] = "none";
                snprintf(rel, sizeof rel, "%s/sys/bus/pci/devices/%s/driver", root, *i);
                ssize_t n = readlink(rel, link, sizeof link - 1);
                if (n > 0) {
                        link[n] = '\0';
                        memmove(link, strrchr(link, '/') ? strrchr(link, '/') + 1 : link,
                                strlen(strrchr(link, '/') ? strrchr(link, '/') + 1 : link) + 1);
                }
                snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/driver_override", *i);
                char *ovr = tree_read(root, rel);
                if (ovr && *ovr && ovr[strlen(ovr) - 1] == '\n')
                        ovr[strlen(ovr) - 1] = '\0';
                fprintf(out, "%s driver=%s override=%s\n", *i, link, ovr ? ovr : "?");
                free(ovr);
        }
        strv_free(names);
        dir = tree_path(root, "dev/vfio");
        if (vc_dir_list(dir, &names) >= 0) {
                for (char **i = names; *i; i++) /* group nodes; not the container "vfio" that a
                                                   * module load creates and nothing removes */
                        if (strspn(*i, "0123456789") == strlen(*i))
                                fprintf(out, "/dev/vfio/%s\n", *i);
                strv_free(names);
        }
        free(dir);
        fclose(out);
        return buf;
}
