/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "root.h"

/* A hidden name next to @name: readers of the directory (conf.d, the state records) skip names
 * that start with a dot. */
static int temporary_name(const char *name, char **ret) {
        static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t) sizeof rnd)
                for (size_t i = 0; i < sizeof rnd; i++)
                        rnd[i] = (unsigned char) random();
        char suffix[sizeof rnd + 1];
        for (size_t i = 0; i < sizeof rnd; i++)
                suffix[i] = letters[rnd[i] % (sizeof letters - 1)];
        suffix[sizeof rnd] = '\0';
        return asprintf(ret, ".%s.%s", name, suffix) < 0 ? -ENOMEM : 0;
}

/* A new, named temporary file in @dfd's directory. */
static int create_temporary(int dfd, const char *name, char **ret) {
        for (unsigned tries = 0; tries < 100; tries++) {
                _cleanup_free_ char *tmp = NULL;
                int r = temporary_name(name, &tmp);
                if (r < 0)
                        return r;
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

/* A file with no name in @dfd's directory (O_TMPFILE): if the writer dies before it is linked,
 * the kernel frees it and nothing is left in the directory. -EOPNOTSUPP (and the other errors
 * of a file system or kernel without O_TMPFILE) makes the caller take a named temporary. */
static int open_anonymous(int dfd, mode_t mode) {
        int fd = openat(dfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, mode);
        return fd < 0 ? negative_errno() : fd;
}

/* Every path goes through vc_path_open_parent(): under a root other than "/" the directory is
 * found inside it (lib/root.h), and only its last component is touched, with *at() calls.
 * The content is written and made durable in a file that has no name yet; it gets a hidden
 * temporary name only for the rename, so a writer killed on the way (the CLI's SIGKILL, a
 * power cut) leaves no `.NAME.XXXXXX` behind, except in the instant between link and rename.
 * Where O_TMPFILE is not available the temporary is named from the start. */
int vc_write_file_atomic(const char *path, const char *content, mode_t mode) {
        return vc_write_bytes_atomic(path, content, strlen(content), mode, VC_WRITE_REPLACE);
}

int vc_write_runtime_file(const char *path, const char *content, mode_t mode) {
        return vc_write_bytes_atomic(path, content, strlen(content), mode, VC_WRITE_REPLACE | VC_WRITE_RUNTIME);
}

static int write_all(int fd, const void *data, size_t len) {
        size_t done = 0;
        while (done < len) {
                ssize_t k = write(fd, (const char *) data + done, len - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? negative_errno() : -EIO;
                done += (size_t) k;
        }
        return 0;
}

/* fsync() of @fd unless @flags say the file lives in RUNSTATEDIR. */
static int sync_unless_runtime(int fd, unsigned flags) {
        return !(flags & VC_WRITE_RUNTIME) && fsync(fd) < 0 ? negative_errno() : 0;
}

int vc_write_bytes_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags) {
        bool replace = flags & VC_WRITE_REPLACE;
        _cleanup_free_ char *tmp = NULL;
        const char *name;
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        if (dfd < 0)
                return dfd;

        int r;
        _cleanup_close_ int fd = open_anonymous(dfd, mode);
        bool anonymous = fd >= 0;
        if (!anonymous && (fd = create_temporary(dfd, name, &tmp)) < 0)
                return fd;
        r = write_all(fd, data, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r == 0)
                r = sync_unless_runtime(fd, flags);
        if (r < 0)
                goto fail;
        if (anonymous && !replace) {
                /* linkat() fails when the name exists: no window in which a file made meanwhile
                 * is overwritten. */
                r = vc_link_anonymous(fd, dfd, name);
                if (r < 0)
                        return r;
                return sync_unless_runtime(dfd, flags);
        }
        if (anonymous) {
                r = -EEXIST;
                for (unsigned tries = 0; r == -EEXIST && tries < 100; tries++) {
                        free(tmp);
                        tmp = NULL;
                        if ((r = temporary_name(name, &tmp)) == 0)
                                r = vc_link_anonymous(fd, dfd, tmp);
                }
                if (r < 0) {
                        free(tmp);
                        tmp = NULL; /* nothing of ours carries that name */
                        goto fail;
                }
        }
        if ((replace ? renameat(dfd, tmp, dfd, name) : linkat(dfd, tmp, dfd, name, 0)) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (!replace)
                (void) unlinkat(dfd, tmp, 0);
        return sync_unless_runtime(dfd, flags);
fail:
        if (tmp)
                (void) unlinkat(dfd, tmp, 0);
        return r;
}

static int unlink_file(const char *path, unsigned flags) {
        const char *name;
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        if (dfd < 0)
                return dfd == -ENOENT ? 0 : dfd;
        if (unlinkat(dfd, name, 0) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return sync_unless_runtime(dfd, flags);
}

int vc_unlink_durable(const char *path) {
        return unlink_file(path, 0);
}

int vc_unlink_runtime_file(const char *path) {
        return unlink_file(path, VC_WRITE_RUNTIME);
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
        /* Most often the directory is there: one try at the whole path, not one per component. */
        int r = vc_mkdir(p, mode);
        if (r == 0 || r == -EEXIST)
                return 0;
        if (r != -ENOENT)
                return r;
        /* Under a root other than "/", only what lies below the root is created. */
        size_t skip = vc_path_root_length(p);
        for (char *s = p + skip + 1; s < p + strlen(path); s++) {
                if (*s != '/' || s[-1] == '/')
                        continue;
                *s = '\0';
                r = vc_mkdir(p, mode);
                if (r < 0 && r != -EEXIST)
                        return r;
                *s = '/';
        }
        r = vc_mkdir(p, mode);
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

#define READ_FILE_MAX (1024 * 1024)

int vc_read_file(const char *path, char **ret) {
        /* not blocking in open(): a FIFO planted where a record or a configuration file is
         * expected (a --sysroot tree is input) would wait there for a writer for ever */
        _cleanup_close_ int fd = vc_path_open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size;
        int r;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG; /* a FIFO, a socket, a device: no file's text */
        r = vc_read_fd(fd, READ_FILE_MAX, &buf, &size);
        if (r < 0)
                return r;
        if (memchr(buf, '\0', size))
                return -EBADMSG; /* a text file holds no NUL byte */
        if (size > 0 && buf[size - 1] == '\n')
                buf[size - 1] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}
