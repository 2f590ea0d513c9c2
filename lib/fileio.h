/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Paths go through lib/root.h: under a root other than "/" they are resolved inside it. */

/* Replace @path with @content so that readers see the old file or the new one, never a mix, even
 * after a crash: a temporary file in the same directory, fsync, rename, fsync of the directory. */
int vc_write_file_atomic(const char *path, const char *content, mode_t mode);

enum {
        /* Over an existing @path; without it -EEXIST when @path exists (nothing written then). */
        VC_WRITE_REPLACE = 1 << 0,
        /* A file of RUNSTATEDIR (a tmpfs, emptied at boot) that describes the kernel's state:
         * replaced atomically for readers, without fsync(). A process killed on the way leaves
         * the old file or the new one in the page cache either way, and a machine that crashes
         * loses that state with the file. */
        VC_WRITE_RUNTIME = 1 << 1,
};
/* The same for @len bytes of @data, as @flags say. */
int vc_write_bytes_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags);
/* vc_write_file_atomic() with VC_WRITE_RUNTIME: every file under /run (the state records, the
 * stuck, boot-failed and boot-released marks, the generated udev rule). */
int vc_write_runtime_file(const char *path, const char *content, mode_t mode);
/* Remove @path and make the removal durable (fsync of the directory). 0 also when absent. */
int vc_unlink_durable(const char *path);
/* Remove a file of RUNSTATEDIR (see VC_WRITE_RUNTIME): no fsync(). 0 also when absent. */
int vc_unlink_runtime_file(const char *path);
/* mkdir(2) of @path alone; -EEXIST when something is there. */
int vc_mkdir(const char *path, mode_t mode);
/* Create @path and its missing parents with @mode. 0 when it exists already. */
int vc_mkdir_p(const char *path, mode_t mode);
/* Read a text file (at most 1 MiB, -EFBIG beyond) whole, and strip one trailing newline: a sysfs
 * attribute, a file of /proc or /run, a configuration file. -ENOENT when absent, -EBADMSG when
 * it holds a NUL byte. */
int vc_read_file(const char *path, char **ret);
/* Read @fd to its end into a NUL-terminated buffer of at most @max bytes (-EFBIG beyond). */
int vc_read_fd(int fd, size_t max, char **ret, size_t *ret_len);
