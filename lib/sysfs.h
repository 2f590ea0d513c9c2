/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One attribute at a time: read it whole, write it with exactly one write(2), read a link. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Read a sysfs attribute: vc_read_file() (lib/fileio.h), which reads any text file. */
int vc_sysfs_read(const char *path, char **ret);
/* The @n bytes one read(2) put in @buf (@size bytes, the read asked for at most @size - 1) as a
 * text attribute: NUL-terminated, its trailing newline dropped, and its length; -E2BIG when the
 * read filled what it asked for (the attribute may be longer), -EBADMSG when it holds a NUL byte. */
int vc_sysfs_text_finish(char *buf, size_t n, size_t size);
/* Read raw bytes (binary attributes such as "config"): up to @max bytes. */
ssize_t vc_sysfs_read_bytes(const char *path, void *buf, size_t max);
/* Parse an unsigned integer attribute ("0x10de", "16", "-1" rejected): -EINVAL when malformed. */
int vc_sysfs_read_u64(const char *path, uint64_t *ret);
int vc_sysfs_read_int(const char *path, int *ret);
/* One open(O_WRONLY) and one write(2) of @value; a short write is -EIO. */
int vc_sysfs_write(const char *path, const char *value);
/* The last path component of the link's target: -ENOENT when there is no link. */
int vc_sysfs_read_link_name(const char *path, char **ret);
/* The same for the link @name in the directory @dfd. */
int vc_sysfs_read_link_name_at(int dfd, const char *name, char **ret);
/* The link target resolved against the link's directory (without touching the file system). */
int vc_sysfs_read_link_target(const char *path, char **ret);
/* The path a link at @path with contents @target leads to, as vc_sysfs_read_link_target() makes
 * it (lexically, never above the root @path lies under). */
int vc_link_target_join(const char *path, const char *target, char **ret);
bool vc_path_exists(const char *path);
bool vc_dir_exists(const char *path);
/* Sorted names of the entries of a directory (no "." or ".."); NULL-terminated. */
int vc_dir_list(const char *path, char ***ret);
/* As vc_dir_list(), of the directory open on @fd, which it takes (closed in every case). */
int vc_dir_list_fd(int fd, char ***ret);
/* The numbers N of the entries named PREFIX + N (decimal digits only, at most INT32_MAX),
 * ascending; other names are ignored. A missing directory is an empty list. */
int vc_dir_list_numbers(const char *path, const char *prefix, unsigned **ret, size_t *ret_n);
