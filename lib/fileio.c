/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "root.h"

/* A hidden name in the same directory: readers of the directory (conf.d, the state records)
 * skip names that start with a dot. */
static int create_temporary(int dfd, const char *name, char **ret) {
        static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        for (unsigned tries = 0; tries < 100; tries++) {
                unsigned char rnd[6];
                if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t) sizeof rnd)
                        for (size_t i = 0; i < sizeof rnd; i++)
                                rnd[i] = (unsigned char) random();
                char suffix[sizeof rnd + 1];
                for (size_t i = 0; i < sizeof rnd; i++)
                        suffix[i] = letters[rnd[i] % (sizeof letters - 1)];
                suffix[sizeof rnd] = '\0';
                _cleanup_free_ char *tmp = NULL;
                if (asprintf(&tmp, ".%s.%s", name, suffix) < 0)
                        return -ENOMEM;
                int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        *ret = TAKE_PTR(tmp);
                        return fd;
                }
                if (errno != EEXIST)
                        return negative_errno();
        }
        return -EEXIST;
}

/* Every path goes through vc_path_open_parent(): under a root other than "/" the directory is
 * found inside it (lib/root.h), and only its last component is touched, with *at() calls. */
int vc_write_file_atomic(const char *path, const char *content, mode_t mode) {
        return vc_write_bytes_atomic(path, content, strlen(content), mode, true);
}

int vc_write_bytes_atomic(const char *path, const void *data, size_t len, mode_t mode, bool replace) {
        _cleanup_free_ char *tmp = NULL;
        const char *name;
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        if (dfd < 0)
                return dfd;

        _cleanup_close_ int fd = create_temporary(dfd, name, &tmp);
        if (fd < 0)
                return fd;
        size_t done = 0;
        while (done < len) {
                ssize_t k = write(fd, (const char *) data + done, len - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        int r = k < 0 ? negative_errno() : -EIO;
                        unlinkat(dfd, tmp, 0);
                        return r;
                }
                done += (size_t) k;
        }
        /* Without @replace the name is taken with link(2), which fails when it exists: no window in
         * which a file made meanwhile is overwritten. */
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0 ||
            (replace ? renameat(dfd, tmp, dfd, name) : linkat(dfd, tmp, dfd, name, 0)) < 0) {
                int r = negative_errno();
                unlinkat(dfd, tmp, 0);
                return r;
        }
        if (!replace)
                (void) unlinkat(dfd, tmp, 0);
        return fsync(dfd) < 0 ? negative_errno() : 0;
}

int vc_unlink_durable(const char *path) {
        const char *name;
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        if (dfd < 0)
                return dfd == -ENOENT ? 0 : dfd;
        if (unlinkat(dfd, name, 0) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return fsync(dfd) < 0 ? negative_errno() : 0;
}

int vc_mkdir(const char *path, mode_t mode) {
        const char *name;
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        if (dfd < 0)
                return dfd;
        return mkdirat(dfd, name, mode) < 0 ? negative_errno() : 0;
}

int vc_mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        /* Under a root other than "/", only what lies below the root is created. */
        size_t skip = vc_path_root_length(p);
        for (char *s = p + skip + 1; s < p + strlen(path); s++) {
                if (*s != '/' || s[-1] == '/')
                        continue;
                *s = '\0';
                int r = vc_mkdir(p, mode);
                if (r < 0 && r != -EEXIST)
                        return r;
                *s = '/';
        }
        int r = vc_mkdir(p, mode);
        if (r < 0 && r != -EEXIST)
                return r;
        return 0;
}

int vc_read_fd(int fd, size_t max, char **ret, size_t *ret_len) {
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap > max)
                                return -EFBIG; /* max + 1 bytes read: more than max */
                        cap = cap * 2 > max ? max + 1 : cap * 2;
                        char *n = realloc(buf, cap + 1);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                }
                ssize_t k = read(fd, buf + len, cap - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        if (len > max)
                return -EFBIG; /* @max below the first buffer */
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}
