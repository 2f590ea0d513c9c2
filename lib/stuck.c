/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "compat.h"
#include "fileio.h"
#include "root.h"
#include "state.h"
#include "stuck.h"
#include "sysfs.h"

/* After SIGKILL, how long to wait for the child to go away before abandoning it. */
#define REAP_GRACE_MS 1000

/* lib/clock.h, under the short names the wait loops below use. */
static uint64_t now_ms(void) { return vc_now_ms(); }
static void sleep_us(long us) { vc_sleep_us(us); }

int vc_timed_access(const char *path, const char *value, unsigned timeout_ms) {
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                /* Only async-signal-safe calls from here on: close, open, read, write, _exit.
                 * A child stuck in the kernel outlives us: it must hold nothing of ours, not
                 * the lock and above all not stdout/stderr, which for the libvirt hook are
                 * pipes libvirt reads until every writer has closed them. */
                vc_state_lock_drop_in_child();
                if (close_range(0, ~0U, 0) < 0)
                        for (int fd = 0; fd < 1024; fd++)
                                (void) close(fd);
                int r = 0;
                if (value)
                        r = vc_sysfs_write(path, value);
                else {
                        char buf[256];
                        /* inside a --sysroot, as vc_sysfs_write() opens (lib/root.h) */
                        int fd = vc_path_open(path, O_RDONLY | O_NOCTTY, 0);
                        if (fd < 0)
                                r = fd;
                        else if (read(fd, buf, sizeof buf) < 0)
                                r = -errno;
                }
                _exit(r < 0 ? (-r < 256 ? -r : EIO) : 0);
        }

        uint64_t deadline = now_ms() + timeout_ms;
        long delay = 50;
        for (;;) {
                int status;
                pid_t k = waitpid(pid, &status, WNOHANG);
                if (k == pid) {
                        if (WIFEXITED(status))
                                return -WEXITSTATUS(status);
                        return -EIO; /* killed by something else */
                }
                if (k < 0 && errno != EINTR)
                        return negative_errno(); /* ECHILD: the caller ignores SIGCHLD */
                if (now_ms() >= deadline)
                        break;
                sleep_us(delay);
                if (delay < 10000)
                        delay *= 2;
        }

        (void) kill(pid, SIGKILL);
        /* A child blocked in the kernel (D state) dies only when the kernel lets go; give it a
         * moment, then leave it: it is reparented to init when we exit. */
        uint64_t grace = now_ms() + REAP_GRACE_MS;
        while (waitpid(pid, NULL, WNOHANG) == 0 && now_ms() < grace)
                sleep_us(1000);
        return -ETIMEDOUT;
}

static int mark_path(struct vc_ctx *ctx, const struct vc_pci_addr *a, char **ret) {
        return vc_ctx_path(ctx, VC_PLACE_RUN_STATE, ret, "stuck-%s", VC_PCI_ADDR_TO_STRING(a));
}

/* The mark itself, not what a link in its place leads to; inside a --sysroot (lib/root.h). */
static bool mark_exists(const char *path) {
        const char *name;
        struct stat st;
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        return dfd >= 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int vc_stuck_mark(struct vc_ctx *ctx, const struct vc_pci_addr *a) {
        _cleanup_free_ char *p = NULL;
        int r = mark_path(ctx, a, &p);
        if (r < 0)
                return r;
        int fd = vc_path_open(p, O_WRONLY | O_CREAT | O_NOFOLLOW, 0644);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

bool vc_stuck_is_marked(struct vc_ctx *ctx, const struct vc_pci_addr *a) {
        _cleanup_free_ char *p = NULL;
        return mark_path(ctx, a, &p) >= 0 && mark_exists(p);
}

int vc_stuck_wait(struct vc_ctx *ctx, const struct vc_pci_addr *a, unsigned timeout_ms) {
        _cleanup_free_ char *mark = NULL, *attr = NULL;
        int r = mark_path(ctx, a, &mark);
        if (r < 0)
                return r;
        if (!mark_exists(mark))
                return 0;
        r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &attr, "%s/driver_override", VC_PCI_ADDR_TO_STRING(a));
        if (r < 0)
                return r;
        /* Only a read that did not finish means the lock is held; a device gone, or without the
         * attribute, has no lock to wait for. */
        if (vc_timed_access(attr, NULL, timeout_ms) == -ETIMEDOUT)
                return -ETIMEDOUT;
        (void) vc_unlink_durable(mark);
        return 0;
}
