/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plain driver of a fuzz target (make check): runs LLVMFuzzerTestOneInput() on every file of
 * the directories and files named on the command line, or, without arguments, of
 * $abs_top_srcdir/tests/fuzz/corpus/TARGET and tests/fuzz/regress/TARGET. A property violation
 * or a crash aborts with the file name printed first; so every input that ever crashed a target
 * stays a regression test. */

#include <dirent.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the target"
#endif

static int compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int run_file(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                abort();
        size_t n = 0;
        while (n < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + n, (size_t) st.st_size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        fprintf(stderr, "%s: short read\n", path);
                        return -1;
                }
                n += (size_t) k;
        }
        fprintf(stderr, "%s\n", path);
        /* A copy of exactly n bytes, so that ASan sees a read past the end. */
        _cleanup_free_ uint8_t *exact = malloc(n ? n : 1);
        if (!exact)
                abort();
        memcpy(exact, buf, n);
        (void) LLVMFuzzerTestOneInput(exact, n);
        return 0;
}

/* Every regular file of @dir, in name order; a missing directory has none. */
static int run_dir(const char *dir, size_t *n_run) {
        struct dirent **list = NULL;
        int n = scandir(dir, &list, NULL, NULL), failed = 0;
        if (n < 0)
                return errno == ENOENT ? 0 : (fprintf(stderr, "%s: %s\n", dir, strerror(errno)), -1);
        char **names = calloc((size_t) n + 1, sizeof *names);
        if (!names)
                abort();
        size_t k = 0;
        for (int i = 0; i < n; i++) {
                if (list[i]->d_name[0] != '.' && asprintf(&names[k], "%s/%s", dir, list[i]->d_name) >= 0)
                        k++;
                free(list[i]);
        }
        free(list);
        qsort(names, k, sizeof *names, compare);
        for (size_t i = 0; i < k; i++) {
                struct stat st;
                if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
                        if (run_file(names[i]) < 0)
                                failed = -1;
                        (*n_run)++;
                }
                free(names[i]);
        }
        free(names);
        return failed;
}

static int run_path(const char *path, size_t *n_run) {
        struct stat st;
        if (stat(path, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        if (S_ISDIR(st.st_mode))
                return run_dir(path, n_run);
        (*n_run)++;
        return run_file(path);
}

int main(int argc, char **argv) {
        size_t n_run = 0;
        int failed = 0;

        LLVMFuzzerInitialize(&argc, &argv);
        if (argc > 1) {
                for (int i = 1; i < argc; i++)
                        if (run_path(argv[i], &n_run) < 0)
                                failed = 1;
        } else {
                const char *top = getenv("abs_top_srcdir");
                static const char *const kinds[] = { "corpus", "regress" };
                for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                        _cleanup_free_ char *dir = NULL;
                        if (asprintf(&dir, "%s/tests/fuzz/%s/%s", top && *top ? top : ".", kinds[i],
                                     FUZZ_TARGET) < 0)
                                abort();
                        if (run_dir(dir, &n_run) < 0)
                                failed = 1;
                }
                if (n_run == 0) {
                        fprintf(stderr, "no inputs for %s (is abs_top_srcdir set?)\n", FUZZ_TARGET);
                        failed = 1;
                }
        }
        printf("%s: %zu inputs replayed%s\n", FUZZ_TARGET, n_run, failed ? ", some unreadable" : "");
        return failed;
}
