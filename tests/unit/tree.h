/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Hand-made file trees for unit tests: a temporary root ($TMPDIR/vc-unit-XXXXXX), files,
 * directories and links in it, removed when the _cleanup_tree_ variable goes out of scope.
 * (The fake-kernel tests keep a failed cell's tree and print its path: tests/unit/fake.h.) */

#define _GNU_SOURCE 1
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int tree_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
        (void) st; (void) flag; (void) f;
        return remove(p);
}

static inline void tree_remove(char *root) {
        if (!root)
                return;
        nftw(root, tree_rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(root);
}

static inline void tree_freep(char **root) { tree_remove(*root); }
#define _cleanup_tree_ __attribute__((cleanup(tree_freep)))

static inline char *tree_new(void) {
        const char *tmp = getenv("TMPDIR");
        char *p;
        if (asprintf(&p, "%s/vc-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
                return NULL;
        if (!mkdtemp(p)) {
                free(p);
                return NULL;
        }
        return p;
}

static inline void tree_mkdir_p(const char *path) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        mkdir(buf, 0755);
                        *p = '/';
                }
        mkdir(buf, 0755);
}

static inline void tree_parent_dirs(const char *path) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", path);
        char *s = strrchr(buf, '/');
        if (s) {
                *s = '\0';
                tree_mkdir_p(buf);
        }
}

/* ROOT/REL, REL may contain a printf format. */
static inline char *tree_path(const char *root, const char *rel) {
        char *p;
        if (asprintf(&p, "%s/%s", root, rel) < 0)
                abort();
        return p;
}

static inline void tree_dir(const char *root, const char *rel) {
        char *p = tree_path(root, rel);
        tree_mkdir_p(p);
        free(p);
}

static inline void tree_file(const char *root, const char *rel, const char *content) {
        char *p = tree_path(root, rel);
        tree_parent_dirs(p);
        FILE *f = fopen(p, "we");
        if (!f)
                abort();
        fputs(content, f);
        fclose(f);
        free(p);
}

static inline void tree_link(const char *root, const char *rel, const char *target) {
        char *p = tree_path(root, rel);
        tree_parent_dirs(p);
        unlink(p);
        if (symlink(target, p) < 0)
                abort();
        free(p);
}

static inline char *tree_read(const char *root, const char *rel) {
        char *p = tree_path(root, rel), *buf = NULL;
        size_t n = 0;
        FILE *f = fopen(p, "re");
        free(p);
        if (!f)
                return NULL;
        if (getdelim(&buf, &n, '\0', f) < 0) {
                free(buf);
                buf = strdup("");
        }
        fclose(f);
        return buf;
}
