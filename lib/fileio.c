/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

static int fsync_parent(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = '\0';
        else if (slash)
                *slash = '\0';
        else
                strcpy(dir, ".");
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return negative_errno();
        return 0;
}

int vc_write_file_atomic(const char *path, const char *content, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        const char *slash = strrchr(path, '/');
        /* A hidden name in the same directory: readers of the directory (conf.d, the state
         * records) skip names that start with a dot. */
        if (asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? (int) (slash - path + 1) : 0, path,
                     slash ? slash + 1 : path) < 0)
                return -ENOMEM;

        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(content), done = 0;
        while (done < len) {
                ssize_t k = write(fd, content + done, len - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        int r = k < 0 ? negative_errno() : -EIO;
                        unlink(tmp);
                        return r;
                }
                done += (size_t) k;
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
                int r = negative_errno();
                unlink(tmp);
                return r;
        }
        return fsync_parent(path);
}

int vc_unlink_durable(const char *path) {
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return fsync_parent(path);
}

int vc_mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}
