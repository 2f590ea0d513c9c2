/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Stand-ins for C library functions that configure did not find (configure.ac: AC_CHECK_FUNCS;
 * glibc has close_range and strerrorname_np since 2.34, getdents64 since 2.30). Include this instead of calling them through another header. */

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !HAVE_CLOSE_RANGE
/* The system call itself when the kernel headers know it (Linux 5.9); -1 with ENOSYS otherwise,
 * which callers handle as they handle an older kernel. */
static inline int vc_close_range(unsigned first, unsigned last, int flags) {
#  ifdef __NR_close_range
        return (int) syscall(__NR_close_range, first, last, flags);
#  else
        (void) first;
        (void) last;
        (void) flags;
        errno = ENOSYS;
        return -1;
#  endif
}
#  define close_range vc_close_range
#endif

#if !HAVE_GETDENTS64
/* The system call itself, which every Linux has. */
static inline ssize_t vc_getdents64(int fd, void *buf, size_t n) {
        return (ssize_t) syscall(SYS_getdents64, fd, buf, n);
}
#  define getdents64 vc_getdents64
#endif

#if !HAVE_STRERRORNAME_NP
/* The symbolic name of an errno ("EIO"), NULL for one not in this table. */
static inline const char *vc_strerrorname_np(int e) {
#  define VC_ERRNO_NAME(x) [x] = #x
        static const char *const names[] = {
                VC_ERRNO_NAME(EPERM),     VC_ERRNO_NAME(ENOENT),    VC_ERRNO_NAME(ESRCH),
                VC_ERRNO_NAME(EINTR),     VC_ERRNO_NAME(EIO),       VC_ERRNO_NAME(ENXIO),
                VC_ERRNO_NAME(E2BIG),     VC_ERRNO_NAME(ENOEXEC),   VC_ERRNO_NAME(EBADF),
                VC_ERRNO_NAME(ECHILD),    VC_ERRNO_NAME(EAGAIN),    VC_ERRNO_NAME(ENOMEM),
                VC_ERRNO_NAME(EACCES),    VC_ERRNO_NAME(EFAULT),    VC_ERRNO_NAME(EBUSY),
                VC_ERRNO_NAME(EEXIST),    VC_ERRNO_NAME(EXDEV),     VC_ERRNO_NAME(ENODEV),
                VC_ERRNO_NAME(ENOTDIR),   VC_ERRNO_NAME(EISDIR),    VC_ERRNO_NAME(EINVAL),
                VC_ERRNO_NAME(ENFILE),    VC_ERRNO_NAME(EMFILE),    VC_ERRNO_NAME(ENOSPC),
                VC_ERRNO_NAME(ESPIPE),    VC_ERRNO_NAME(EROFS),     VC_ERRNO_NAME(EPIPE),
                VC_ERRNO_NAME(ERANGE),    VC_ERRNO_NAME(EDEADLK),   VC_ERRNO_NAME(ENAMETOOLONG),
                VC_ERRNO_NAME(ENOSYS),    VC_ERRNO_NAME(ENOTEMPTY), VC_ERRNO_NAME(ELOOP),
                VC_ERRNO_NAME(ENODATA),   VC_ERRNO_NAME(EPROTO),    VC_ERRNO_NAME(EBADMSG),
                VC_ERRNO_NAME(EOVERFLOW), VC_ERRNO_NAME(EOPNOTSUPP), VC_ERRNO_NAME(ETIMEDOUT),
                VC_ERRNO_NAME(EALREADY),  VC_ERRNO_NAME(EINPROGRESS), VC_ERRNO_NAME(ESTALE),
                VC_ERRNO_NAME(ECANCELED), VC_ERRNO_NAME(ENOKEY),    VC_ERRNO_NAME(EOWNERDEAD),
        };
#  undef VC_ERRNO_NAME
        return e > 0 && (size_t) e < sizeof names / sizeof names[0] ? names[e] : NULL;
}
#  define strerrorname_np vc_strerrorname_np
#endif
