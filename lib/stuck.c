/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "clock.h"
#include "compat.h"
#include "fileio.h"
#include "log.h"
#include "root.h"
#include "stuck.h"
#include "sysfs.h"

/* After SIGKILL, how long to wait for the child to go away before abandoning it. */
#define REAP_GRACE_MS 1000

/* One writer process serves every timed access of this process, each over a socketpair: the
 * parent opens the attribute (an open takes no device lock) and hands the descriptor over with
 * the value; the writer makes the one write(2) and answers with its result. For a read, the
 * parent opens the attribute's directory and the writer the attribute (in Linux the read takes
 * the lock; tests/fakekernel/shim.c models it at the open). A fork and its copy-on-write faults
 * per write were most of the engine's own CPU in a claim (docs/PERFORMANCE.md); the deadline is
 * the same: the parent polls for the answer at most @timeout_ms, then kills the writer, which is
 * replaced at the next access. The writer holds nothing of ours: not the state lock, not
 * stdin/stdout/stderr (for the libvirt hook, pipes libvirt reads until every writer has closed
 * them), only its end of the socket.
 *
 * The writer is a process of its own that shares our memory (clone(CLONE_VM), as vfork() does
 * without stopping us): a separate process because a task blocked in the kernel would keep a
 * thread group, and so our exit, from ending; sharing memory because copying it was most of
 * what the writer cost (its page tables at the fork, a fault for every page either side wrote
 * afterwards, their teardown at its exit; docs/PERFORMANCE.md). It runs on a stack of its own,
 * with every signal blocked (only SIGKILL ends it), and touches nothing of ours but that stack:
 * no heap, no globals, only system calls on its own descriptors. errno is the one exception: the
 * writer's is that of the thread that started it (the one thread that uses it), and is written
 * only while that thread waits in poll() for the answer; a writer that outlives the wait is
 * killed and reaped, or killed inside the kernel, from which a killed task never returns to run
 * our code. Under valgrind, which does not run such a child, it is a fork() as before. */
#define MAX_VALUE 4096
#define WRITER_STACK_SIZE (256 * 1024)

static struct {
        pid_t pid;   /* the writer; 0: none */
        pid_t owner; /* the process that started it (a forked child does not inherit it) */
        int fd;      /* our end of the socket */
        void *stack; /* the mapping it runs on (a guard page first); NULL for a fork()ed one */
        bool atexit_done;
        bool forked; /* set in a child fork() made (pthread_atfork()): the writer is its parent's */
} writer = { .fd = -1 };

static void writer_main(int sock) {
        char buf[MAX_VALUE + 2];
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int))];
        } cm;
        for (;;) {
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
                struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.space,
                                    .msg_controllen = sizeof cm.space };
                ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(0); /* the parent is gone, or done */
                int fd = -1;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                                memcpy(&fd, CMSG_DATA(c), sizeof fd);
                int r = 0;
                if (fd < 0)
                        r = -EBADF; /* every request comes with a descriptor */
                else if (buf[0] == 'w') {
                        size_t len = (size_t) n - 1;
                        ssize_t k;
                        do
                                k = write(fd, buf + 1, len);
                        while (k < 0 && errno == EINTR);
                        r = k < 0 ? -errno : (size_t) k != len ? -EIO : 0;
                } else {
                        /* @fd: the attribute's directory, resolved by the parent (inside its
                         * root); the name is one component. */
                        char rb[256];
                        buf[n] = '\0';
                        int afd = openat(fd, buf + 1, O_RDONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
                        if (afd < 0 || read(afd, rb, sizeof rb) < 0)
                                r = -errno;
                        if (afd >= 0)
                                close(afd);
                }
                if (fd >= 0)
                        close(fd);
                while (send(sock, &r, sizeof r, MSG_NOSIGNAL) < 0 && errno == EINTR)
                        ;
        }
}

/* lib/clock.h, under the short name the wait loops below use. */
static uint64_t now_ms(void) { return vc_now_ms(); }

static void writer_stack_free(void *stack) {
        if (!stack)
                return;
#ifdef __SANITIZE_ADDRESS__
        /* the frames it never returned from stay poisoned for whatever is mapped here next */
        ASAN_UNPOISON_MEMORY_REGION(stack, WRITER_STACK_SIZE);
#endif
        (void) munmap(stack, WRITER_STACK_SIZE);
}

static bool under_valgrind(void) {
#if HAVE_VALGRIND_VALGRIND_H
        return RUNNING_ON_VALGRIND;
#else
        return false;
#endif
}

/* Reap the writer @pid within @grace_ms: true once it is. Its exit is waited for with a pidfd
 * (Linux 5.3) where there is one, so that the wait ends when it does; else in steps of 200 µs.
 * Not under valgrind: 3.19 does not know pidfd_open() and warns on stderr, which the programs'
 * callers read. */
static bool writer_reap(pid_t pid, unsigned grace_ms) {
        _cleanup_close_ int pidfd = under_valgrind() ? -1 : (int) syscall(SYS_pidfd_open, pid, 0);
        uint64_t deadline = now_ms() + grace_ms;
        for (;;) {
                pid_t w = waitpid(pid, NULL, WNOHANG);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w != 0)
                        return w == pid;
                uint64_t now = now_ms();
                if (now >= deadline)
                        return false;
                if (pidfd >= 0)
                        (void) poll(&(struct pollfd){ .fd = pidfd, .events = POLLIN }, 1,
                                    deadline - now > INT_MAX ? INT_MAX : (int) (deadline - now));
                else
                        nanosleep(&(struct timespec){ .tv_nsec = 200 * 1000 }, NULL);
        }
}

/* Kill the writer (@kill) or let it end on EOF, and reap it within REAP_GRACE_MS: a writer
 * blocked in the kernel (D state) dies only when the kernel lets go; then it is left, and
 * reparented to init when we exit. */
static void writer_stop_within(bool kill_it, unsigned grace_ms) {
        if (writer.pid <= 0 || writer.owner != getpid()) {
                writer.pid = 0;
                writer.fd = -1; /* a forked copy's: not ours to close or to kill */
                writer.stack = NULL;
                return;
        }
        if (kill_it)
                (void) kill(writer.pid, SIGKILL);
        close(writer.fd);
        writer.fd = -1;
        /* Its stack is unmapped once it is gone; a writer left in the kernel keeps it. */
        if (writer_reap(writer.pid, grace_ms))
                writer_stack_free(writer.stack);
        writer.stack = NULL;
        writer.pid = 0;
}

static void writer_stop(bool kill_it) {
        writer_stop_within(kill_it, REAP_GRACE_MS);
}

/* At exit the writer gets EOF and ends; reaped here, so its CPU time is counted as ours. It is
 * idle (every access got its answer, or killed it), so it ends at once; the longer bound is for
 * an exit that takes its time (valgrind's leak check in the writer, make check-valgrind). */
#define EXIT_GRACE_MS 30000
static void writer_atexit(void) {
        writer_stop_within(false, EXIT_GRACE_MS);
}

static void writer_note_fork(void) {
        writer.forked = true;
}

/* The writer's start: its end of the socket on fd 0, every other fd closed (its own table: the
 * state lock's descriptor and the caller's pipes go with it). @arg: that socket. */
static int writer_child(void *arg) {
        if (dup2((int) (intptr_t) arg, 0) < 0)
                _exit(EXIT_FAILURE);
        if (close_range(1, ~0U, 0) < 0)
                for (int fd = 1; fd < 1024; fd++)
                        (void) close(fd);
        writer_main(0);
        return 0;
}

/* Start the writer on socket @sock: clone(CLONE_VM) onto a new stack (*ret_stack), or fork()
 * under valgrind (*ret_stack NULL). Every signal is blocked while it starts, and stays blocked
 * in it. */
static pid_t writer_spawn(int sock, void **ret_stack) {
        sigset_t all, old;
        void *stack = NULL;
        pid_t pid;

        if (!under_valgrind()) {
                stack = mmap(NULL, WRITER_STACK_SIZE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
                if (stack == MAP_FAILED)
                        return negative_errno();
                /* a guard page: an overflow faults instead of writing below the stack */
                if (mprotect(stack, (size_t) sysconf(_SC_PAGESIZE), PROT_NONE) < 0) {
                        int r = negative_errno();
                        writer_stack_free(stack);
                        return r;
                }
        }
        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        if (stack)
                pid = clone(writer_child, (char *) stack + WRITER_STACK_SIZE, CLONE_VM | SIGCHLD,
                            (void *) (intptr_t) sock);
        else if ((pid = fork()) == 0)
                (void) writer_child((void *) (intptr_t) sock);
        int r = pid < 0 ? negative_errno() : pid;
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                writer_stack_free(stack);
        *ret_stack = r < 0 ? NULL : stack;
        return r;
}

static int writer_start(void) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        void *stack;
        pid_t pid = writer_spawn(sv[1], &stack);
        close(sv[1]);
        if (pid < 0) {
                close(sv[0]);
                return pid;
        }
        writer.pid = pid;
        writer.owner = getpid();
        writer.fd = sv[0];
        writer.stack = stack;
        writer.forked = false;
        if (!writer.atexit_done)
                writer.atexit_done = atexit(writer_atexit) == 0 &&
                                     pthread_atfork(NULL, NULL, writer_note_fork) == 0;
        return 0;
}

/* Long: one request to the writer and its answer under one deadline (open, send, poll, kill and
 * replace on timeout); split, the deadline would be spread over several functions. */
int vc_timed_access(const char *path, const char *value, unsigned timeout_ms) {
        size_t len = value ? strlen(value) : 0;
        int r;

        if (len > MAX_VALUE)
                return -E2BIG; /* sysfs takes one page at most */
        /* Inside a --sysroot, as vc_sysfs_write() opens (lib/root.h). Opening an attribute for
         * writing takes no device lock, so we do it and hand the descriptor over; for a read, its
         * directory, and the writer opens the attribute in it. */
        const char *data = value;
        _cleanup_close_ int fd = -1;
        if (value) {
                if ((fd = vc_path_open(path, O_WRONLY | O_NOCTTY, 0)) < 0)
                        return fd;
        } else {
                if ((fd = vc_path_open_parent(path, &data)) < 0)
                        return fd;
                if ((len = strlen(data)) > NAME_MAX)
                        return -ENAMETOOLONG;
        }
        /* Inherited over a fork: the writer is our parent's. Told by the fork handler, without
         * a getpid() per access; a process whose handlers could not be set up asks getpid(). */
        if (writer.pid > 0 && (writer.forked || (!writer.atexit_done && writer.owner != getpid())))
                writer_stop(false);
        if (writer.pid <= 0 && (r = writer_start()) < 0)
                return r;

        char buf[MAX_VALUE + 1];
        buf[0] = value ? 'w' : 'r';
        memcpy(buf + 1, data, len);
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int))];
        } cm = {};
        struct iovec iov = { .iov_base = buf, .iov_len = len + 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.space,
                            .msg_controllen = sizeof cm.space };
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        ssize_t k;
        do
                k = sendmsg(writer.fd, &m, MSG_NOSIGNAL);
        while (k < 0 && errno == EINTR);
        if (k < 0) {
                r = negative_errno(); /* the writer died (EPIPE): replaced at the next access */
                writer_stop(true);
                return r == -EPIPE || r == -ECONNRESET ? -EIO : r;
        }

        uint64_t deadline = now_ms() + timeout_ms;
        for (;;) {
                uint64_t now = now_ms();
                if (now >= deadline)
                        break;
                struct pollfd p = { .fd = writer.fd, .events = POLLIN };
                int n = poll(&p, 1, deadline - now > INT_MAX ? INT_MAX : (int) (deadline - now));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = negative_errno();
                        writer_stop(true);
                        return r;
                }
                if (n == 0)
                        continue; /* the deadline is checked above */
                int result;
                k = recv(writer.fd, &result, sizeof result, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k != (ssize_t) sizeof result) {
                        writer_stop(true); /* EOF: killed by something else */
                        return -EIO;
                }
                return result;
        }
        writer_stop(true);
        return -ETIMEDOUT;
}

static int mark_path(struct vc_ctx *ctx, const struct vc_pci_addr *a, char **ret) {
        return vc_ctx_path(ctx, VC_PLACE_RUN_STATE, ret, "stuck-%s", VC_PCI_ADDR_TO_STRING(a));
}

/* The mark itself, not what a link in its place leads to (O_PATH | O_NOFOLLOW opens a link as
 * itself); inside a --sysroot (lib/root.h). One system call when there is no mark, as for almost
 * every device read: the engine reads a group's devices several times per claim. */
static bool mark_exists(const char *path) {
        _cleanup_close_ int fd = vc_path_open(path, O_PATH | O_NOFOLLOW, 0);
        return fd >= 0;
}

int vc_stuck_timed_write(struct vc_ctx *ctx, const struct vc_pci_addr *a, const char *path, const char *value,
                         unsigned timeout_ms) {
        int r = vc_timed_access(path, value, timeout_ms);
        if (r != -ETIMEDOUT)
                return r;
        log_debug("Writing \"%s\" to %s did not finish in %u ms; the writer is killed or left behind", value, path,
                  timeout_ms);
        if (a) {
                int k = vc_stuck_mark(ctx, a);
                if (k < 0)
                        log_debug_errno(k, "Cannot mark %s as stuck: %m", VC_PCI_ADDR_TO_STRING(a));
        }
        return r;
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
        (void) vc_unlink_runtime_file(mark);
        return 0;
}
