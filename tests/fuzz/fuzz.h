/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the fuzz targets share. Each target is one file defining LLVMFuzzerInitialize() and
 * LLVMFuzzerTestOneInput(); it is linked either with libFuzzer (make fuzz) or with replay.c, the
 * plain driver that make check runs over tests/fuzz/corpus/TARGET and tests/fuzz/regress/TARGET.
 *
 * A target checks properties as well as memory safety: when one does not hold it calls
 * fuzz_fail(), which aborts, so libFuzzer keeps the input as a crash. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_fail(...)                                                               \
        do {                                                                         \
                fprintf(stderr, "%s:%d: property violated: ", __FILE__, __LINE__);   \
                fprintf(stderr, __VA_ARGS__);                                        \
                fputc('\n', stderr);                                                 \
                abort();                                                             \
        } while (0)

#define fuzz_assert(e)                                                               \
        do {                                                                         \
                if (!(e))                                                            \
                        fuzz_fail("%s", #e);                                         \
        } while (0)

/* @data as a NUL-terminated string (up to its first NUL byte). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = strndup((const char *) data, size);
        if (!s)
                abort();
        return s;
}

/* Does @s contain a byte that could end a line or drive a terminal? */
static inline bool fuzz_has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static char *fuzz_tmpdir;

static int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        (void) remove(path);
        return 0;
}

static void fuzz_rm_tmpdir(void) {
        if (fuzz_tmpdir)
                (void) nftw(fuzz_tmpdir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A private directory for the target, removed at exit. */
static inline const char *fuzz_make_tmpdir(void) {
        const char *base = getenv("TMPDIR");
        if (asprintf(&fuzz_tmpdir, "%s/vc-fuzz-XXXXXX", base && *base ? base : "/tmp") < 0 ||
            !mkdtemp(fuzz_tmpdir)) {
                perror("mkdtemp");
                abort();
        }
        atexit(fuzz_rm_tmpdir);
        return fuzz_tmpdir;
}

/* Replace @path with @size bytes of @data. */
static inline void fuzz_write_file(const char *path, const void *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                perror(path);
                abort();
        }
        for (size_t done = 0; done < size;) {
                ssize_t k = write(fd, (const char *) data + done, size - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        perror(path);
                        abort();
                }
                done += (size_t) k;
        }
        close(fd);
}

/* @root/@rel, its directories made on the way: a new string. */
static inline char *fuzz_tree_path(const char *root, const char *rel) {
        char *p;
        if (asprintf(&p, "%s/%s", root, rel) < 0)
                abort();
        for (char *slash = p + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
                *slash = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        abort();
                *slash = '/';
        }
        return p;
}

/* @root/@rel with @text. */
static inline void fuzz_tree_file(const char *root, const char *rel, const char *text) {
        char *p = fuzz_tree_path(root, rel);
        fuzz_write_file(p, text, strlen(text));
        free(p);
}

/* @root/@rel, a symbolic link to @target (one there before is replaced). */
static inline void fuzz_tree_link(const char *root, const char *rel, const char *target) {
        char *p = fuzz_tree_path(root, rel);
        (void) unlink(p);
        if (symlink(target, p) < 0)
                abort();
        free(p);
}
