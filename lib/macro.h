/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers used everywhere: scope-bound cleanup, ownership hand-off, string equality. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _sentinel_ __attribute__((sentinel))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline bool isempty(const char *s) { return !s || !*s; }
static inline const char *strempty(const char *s) { return s ? s : ""; }
static inline const char *strna(const char *s) { return s ? s : "n/a"; }
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* Take ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                          \
        ({                                   \
                __typeof__(p) _ptr_ = (p);   \
                (p) = NULL;                  \
                _ptr_;                       \
        })
#define TAKE_FD(fd)                          \
        ({                                   \
                int _fd_ = (fd);             \
                (fd) = -1;                   \
                _fd_;                        \
        })

static inline void freep(void *p) { free(*(void **) p); }
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void strv_free(char **v) {
        if (!v)
                return;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
}
static inline void strv_freep(char ***v) { strv_free(*v); }
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Append @s (taken: freed on failure; NULL counts as an allocation that failed) to the
 * NULL-terminated vector *@v of *@n strings. 0 or -ENOMEM. */
static inline int strv_push(char ***v, size_t *n, char *s) {
        if (!s)
                return -ENOMEM;
        char **a = realloc(*v, (*n + 2) * sizeof *a);
        if (!a) {
                free(s);
                return -ENOMEM;
        }
        a[(*n)++] = s;
        a[*n] = NULL;
        *v = a;
        return 0;
}

/* Declare foo_freep() for a type whose destructor is foo_free(foo *) and accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p) {   \
                if (*p)                         \
                        func(*p);               \
        }

/* Enums map to strings through one table: static const char *const foo_table[_FOO_MAX] = { [FOO_A]
 * = "a", ... }, then DEFINE_STRING_TABLE_LOOKUP(vc_foo, enum vc_foo, foo_table, _FOO_MAX) defines
 * vc_foo_to_string() (NULL out of range) and vc_foo_from_string() (the index, -EINVAL when
 * unknown or NULL). A NULL entry of the table is never matched. */
static inline int string_table_lookup(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && strcmp(table[i], s) == 0)
                        return (int) i;
        return -EINVAL;
}
#define DEFINE_STRING_TABLE_TO_STRING(name, type, table, max)                              const char *name##_to_string(type i) {                                                     return (size_t) i < (size_t) (max) ? (table)[(size_t) i] : NULL;           }
#define DEFINE_STRING_TABLE_FROM_STRING(name, table, max)         int name##_from_string(const char *s) { return string_table_lookup(table, max, s); }
#define DEFINE_STRING_TABLE_LOOKUP(name, type, table, max)             DEFINE_STRING_TABLE_TO_STRING(name, type, table, max)          DEFINE_STRING_TABLE_FROM_STRING(name, table, max)

/* Make errno values from a failed libc call negative, never zero. */
static inline int negative_errno(void) { return errno > 0 ? -errno : -EIO; }
