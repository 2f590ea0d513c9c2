/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "fileio.h"
#include "macro.h"
#include "root.h"
#include "sysfs.h"


int vc_sysfs_read(const char *path, char **ret) {
        return vc_read_file(path, ret);
}

int vc_sysfs_text_finish(char *buf, size_t n, size_t size) {
        if (size == 0 || n >= size - 1)
                return -E2BIG;
        if (memchr(buf, '\0', n))
                return -EBADMSG; /* text attributes hold no NUL bytes */
        if (n > 0 && buf[n - 1] == '\n')
                n--;
        buf[n] = '\0';
        return (int) n;
}

ssize_t vc_sysfs_read_bytes(const char *path, void *buf, size_t max) {
        _cleanup_close_ int fd = vc_path_open(path, O_RDONLY | O_NOCTTY, 0);
        if (fd < 0)
                return fd;
        size_t size = 0;
        while (size < max) {
                ssize_t k = read(fd, (char *) buf + size, max - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        return (ssize_t) size;
}

int vc_sysfs_read_u64(const char *path, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r = vc_sysfs_read(path, &s);
        if (r < 0)
                return r;
        if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int vc_sysfs_read_int(const char *path, int *ret) {
        _cleanup_free_ char *s = NULL;
        int r = vc_sysfs_read(path, &s);
        if (r < 0)
                return r;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int vc_sysfs_write(const char *path, const char *value) {
        _cleanup_close_ int fd = vc_path_open(path, O_WRONLY | O_NOCTTY, 0);
        if (fd < 0)
                return fd;
        size_t len = strlen(value);
        ssize_t k;
        do
                k = write(fd, value, len);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        if ((size_t) k != len)
                return -EIO;
        return 0;
}

static ssize_t read_link(const char *path, char *buf, size_t size) {
        const char *name;
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        if (dfd < 0)
                return dfd;
        ssize_t n = readlinkat(dfd, name, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return n;
}

int vc_sysfs_read_link_target(const char *path, char **ret) {
        char target[4096];
        ssize_t n = read_link(path, target, sizeof target);
        if (n < 0)
                return (int) n;
        return vc_link_target_join(path, target, ret);
}

int vc_link_target_join(const char *path, const char *target, char **ret) {
        /* Under a root other than "/", the target is a path in that root: an absolute one starts
         * at the root, and ".." never climbs above it. */
        size_t floor = vc_path_root_length(path);

        char *out;
        if (target[0] == '/' && floor == 0)
                out = strdup(target);
        else {
                _cleanup_free_ char *dir = strdup(path);
                if (!dir)
                        return -ENOMEM;
                char *slash = strrchr(dir, '/');
                if (slash)
                        *slash = '\0';
                /* Collapse "dir/../../x" lexically: sysfs links are relative and well formed. */
                _cleanup_free_ char *joined = NULL;
                if (target[0] == '/' ? asprintf(&joined, "%.*s%s", (int) floor, path, target) < 0
                                     : asprintf(&joined, "%s/%s", slash ? dir : ".", target) < 0)
                        return -ENOMEM;
                /* The root's own bytes are kept as they are; only what follows is collapsed. */
                out = malloc(strlen(joined) + 2);
                if (!out)
                        return -ENOMEM;
                memcpy(out, joined, floor);
                size_t len = floor;
                bool absolute = joined[0] == '/';
                for (char *save = NULL, *c = strtok_r(joined + floor, "/", &save); c;
                     c = strtok_r(NULL, "/", &save)) {
                        if (streq(c, "."))
                                continue;
                        if (streq(c, "..")) {
                                while (len > floor && out[len - 1] != '/')
                                        len--;
                                if (len > floor)
                                        len--;
                                continue;
                        }
                        if (len > 0 || absolute)
                                out[len++] = '/';
                        size_t cl = strlen(c);
                        memcpy(out + len, c, cl);
                        len += cl;
                }
                out[len] = '\0';
        }
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

int vc_sysfs_read_link_name_at(int dfd, const char *name, char **ret) {
        char target[4096];
        ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
        if (n < 0)
                return negative_errno();
        target[n] = '\0';
        while (n > 1 && target[n - 1] == '/')
                target[--n] = '\0';
        const char *slash = strrchr(target, '/');
        char *s = strdup(slash ? slash + 1 : target);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int vc_sysfs_read_link_name(const char *path, char **ret) {
        const char *name;
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        if (dfd < 0)
                return dfd;
        return vc_sysfs_read_link_name_at(dfd, name, ret);
}

bool vc_path_exists(const char *path) {
        _cleanup_close_ int fd = vc_path_open(path, O_PATH, 0);
        return fd >= 0;
}

bool vc_dir_exists(const char *path) {
        _cleanup_close_ int fd = vc_path_open(path, O_PATH | O_DIRECTORY, 0);
        return fd >= 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int vc_dir_list(const char *path, char ***ret) {
        int fd = vc_path_open(path, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        return vc_dir_list_fd(fd, ret);
}

/* getdents64(2) on the descriptor itself: fdopendir()'s checks (fstat, two fcntl) would add
 * three system calls to every listing, and a topology read lists every IOMMU group. */
int vc_dir_list_fd(int fd, char ***ret) {
        _cleanup_close_ int dfd = fd;
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0, alloc = 0;
        _Alignas(struct dirent64) char buf[8192];

        for (;;) {
                ssize_t k = getdents64(dfd, buf, sizeof buf);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                for (ssize_t off = 0; off < k;) {
                        const struct dirent64 *de = (const struct dirent64 *) (buf + off);
                        off += de->d_reclen;
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        if (n == alloc) {
                                size_t na = alloc ? alloc * 2 : 16;
                                char **nv = reallocarray(v, na + 1, sizeof *v);
                                if (!nv)
                                        return -ENOMEM;
                                v = nv;
                                alloc = na;
                        }
                        if (!(v[n] = strdup(de->d_name)))
                                return -ENOMEM;
                        v[++n] = NULL;
                }
        }
        if (!v && !(v = calloc(1, sizeof *v)))
                return -ENOMEM;
        qsort(v, n, sizeof *v, cmp_str);
        *ret = TAKE_PTR(v);
        return 0;
}

static int cmp_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return x < y ? -1 : x > y;
}

int vc_dir_list_numbers(const char *path, const char *prefix, unsigned **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **names = NULL;
        int r = vc_dir_list(path, &names);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;

        size_t count = 0, n = 0;
        for (char **i = names; *i; i++)
                count++;
        _cleanup_free_ unsigned *v = calloc(count + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (char **i = names; *i; i++) {
                const char *num = startswith(*i, prefix);
                if (!num || !*num || strspn(num, "0123456789") != strlen(num) || strlen(num) > 10)
                        continue;
                unsigned long long x = strtoull(num, NULL, 10);
                if (x > INT32_MAX)
                        continue;
                v[n++] = (unsigned) x;
        }
        qsort(v, n, sizeof *v, cmp_unsigned);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}
