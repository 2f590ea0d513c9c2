/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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
 * parent opens the attributes (an open takes no device lock) and hands the descriptors over with
 * the values; the writer makes the writes in order, up to the first that fails, and answers
 * once with how many it made and the result (a device's override, unbind and probe go in one
 * request: each round trip is two context switches). For a read, the parent opens the
 * attribute's directory and the writer the attribute (in Linux the read takes the lock;
 * tests/fakekernel/shim.c models it at the open). A fork and its copy-on-write faults per write
 * were most of the engine's own CPU in a claim (docs/PERFORMANCE.md). Each write has its own
 * deadline: the parent polls for the answer until @timeout_ms after the write under way began
 * (the writer says which one and since when in a page we share), then kills the writer, which
 * is replaced at the next access. The writer holds nothing of ours: not the state lock, not
 * stdin/stdout/stderr (for the libvirt hook, pipes libvirt reads until every writer has closed
 * them), only its end of the socket.
 *
 * The writer is a process of its own that shares our memory (clone(CLONE_VM), as vfork() does
 * without stopping us): a separate process because a task blocked in the kernel would keep a
 * thread group, and so our exit, from ending; sharing memory because copying it was most of
 * what the writer cost (its page tables at the fork, a fault for every page either side wrote
 * afterwards, their teardown at its exit; docs/PERFORMANCE.md). It runs on a stack of its own,
 * with every signal blocked (only SIGKILL ends it), and touches nothing of ours but that stack
 * and the progress page: no heap, no globals, only system calls on its own descriptors and the
 * coarse clock (answered in user space, lib/clock.h). errno is the one exception: the
 * writer's is that of the thread that started it (the one thread that uses it), and is written
 * only while that thread waits in poll() for the answer; a writer that outlives the wait is
 * killed and reaped, or killed inside the kernel, from which a killed task never returns to run
 * our code. Under valgrind, which does not run such a child, it is a fork() as before. */
#define MAX_VALUE 4096
#define WRITER_STACK_SIZE (256 * 1024)
/* A request: 'w', then each value as two bytes of length (host order) and the bytes, one
 * descriptor each; or 'r' and the attribute's name. */
#define MAX_REQUEST (1 + VC_TIMED_WRITES_MAX * (2 + MAX_VALUE))

/* The answer, one datagram: the writes made, the result, and for a read what it read (at most
 * VC_TIMED_READ_MAX bytes; the rest of a longer attribute is not read). */
struct writer_answer {
        int done;
        int result;
        char data[VC_TIMED_READ_MAX];
};
#define ANSWER_HEAD offsetof(struct writer_answer, data)

/* Which write of the request under way the writer is making (0 first), and since when
 * (vc_now_ms()): the parent's deadline for it. Shared (MAP_SHARED, so also with a writer that is
 * a fork() under valgrind); the writer sets @since, then @index. */
struct writer_progress {
        uint64_t since;
        uint32_t index;
        pid_t parent; /* the process that started the writer (writer_child()) */
};
static struct writer_progress *progress;

static struct {
        pid_t pid;   /* the writer; 0: none */
        pid_t owner; /* the process that started it (a forked child does not inherit it) */
        int fd;      /* our end of the socket */
        void *stack; /* the mapping it runs on (a guard page first); NULL for a fork()ed one */
        bool atexit_done;
        bool forked; /* set in a child fork() made (pthread_atfork()): the writer and the progress
                      * page are its parent's; cleared when the child starts its own */
} writer = { .fd = -1 };

/* The writer's side of a 'w' request of @n writes in @buf (@len bytes, the type byte first):
 * the values to @fds in order, up to the first that fails; *ret_done: the writes made. */
static int writer_write_all(const char *buf, size_t len, const int *fds, size_t n, int *ret_done) {
        size_t at = 1;
        for (size_t i = 0; i < n; i++) {
                uint16_t l;
                if (len - at < sizeof l)
                        return -EBADMSG;
                memcpy(&l, buf + at, sizeof l);
                at += sizeof l;
                if (len - at < l)
                        return -EBADMSG;
                if (i > 0) {
                        __atomic_store_n(&progress->since, vc_now_ms(), __ATOMIC_RELAXED);
                        __atomic_store_n(&progress->index, (uint32_t) i, __ATOMIC_RELEASE);
                }
                ssize_t k;
                do
                        k = write(fds[i], buf + at, l);
                while (k < 0 && errno == EINTR);
                if (k < 0)
                        return -errno;
                if ((size_t) k != l)
                        return -EIO;
                at += l;
                *ret_done = (int) i + 1;
        }
        return 0;
}

static void writer_main(int sock) {
        char buf[MAX_REQUEST + 1];
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(VC_TIMED_WRITES_MAX * sizeof(int))];
        } cm;
        for (;;) {
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
                struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.space,
                                    .msg_controllen = sizeof cm.space };
                ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(0); /* the parent is gone, or done */
                int fds[VC_TIMED_WRITES_MAX];
                size_t n_fds = 0;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                                n_fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                if (n_fds > VC_TIMED_WRITES_MAX)
                                        n_fds = VC_TIMED_WRITES_MAX;
                                memcpy(fds, CMSG_DATA(c), n_fds * sizeof(int));
                        }
                struct writer_answer a; /* on this stack: 4 KiB of its 256; data only as read */
                a.done = 0;
                a.result = 0;
                size_t len = ANSWER_HEAD;
                if (n_fds == 0)
                        a.result = -EBADF; /* every request comes with descriptors */
                else if (buf[0] == 'w')
                        a.result = writer_write_all(buf, (size_t) n, fds, n_fds, &a.done);
                else {
                        /* fds[0]: the attribute's directory, resolved by the parent (inside its
                         * root); the name is one component. */
                        buf[n] = '\0';
                        int afd = openat(fds[0], buf + 1, O_RDONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
                        ssize_t k = -1;
                        if (afd >= 0)
                                do
                                        k = read(afd, a.data, sizeof a.data);
                                while (k < 0 && errno == EINTR);
                        if (k < 0)
                                a.result = -errno;
                        else {
                                a.done = 1;
                                len += (size_t) k;
                        }
                        if (afd >= 0)
                                close(afd);
                }
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                while (send(sock, &a, len, MSG_NOSIGNAL) < 0 && errno == EINTR)
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
 * state lock's descriptor and the caller's pipes go with it). @arg: that socket.
 *
 * It dies with the process that started it (PR_SET_PDEATHSIG): a command killed in the middle
 * of a request (Ctrl-C, SIGKILL, the OOM killer) gives up vfio-claim's lock as it dies, and the
 * next command may read and move the same group at once; a writer left to finish the request
 * (a device's probe after its unbind) would write beside it. A write under way in the kernel
 * still ends first (SIGKILL takes effect when it returns), and leaves the device marked
 * (lib/stuck.h); no write after it is made. */
static int writer_child(void *arg) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != progress->parent)
                _exit(EXIT_FAILURE); /* the parent is gone already: nobody to answer */
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
        if (!progress || writer.forked || !writer.atexit_done) {
                /* Our own page: one inherited over a fork is shared with the parent's writer (a
                 * process without the fork handler cannot tell: it maps one per writer). */
                void *p = mmap(NULL, sizeof *progress, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        return negative_errno();
                if (progress)
                        (void) munmap(progress, sizeof *progress); /* the parent's mapping stays */
                progress = p; /* kept for the process's life: a writer left in the kernel may hold it */
        }
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        progress->parent = getpid();
        void *stack;
        pid_t pid = writer_spawn(sv[1], &stack);
        close(sv[1]);
        if (pid < 0) {
                close(sv[0]);
                return pid;
        }
        writer.pid = pid;
        writer.owner = progress->parent;
        writer.fd = sv[0];
        writer.stack = stack;
        writer.forked = false;
        if (!writer.atexit_done)
                writer.atexit_done = atexit(writer_atexit) == 0 &&
                                     pthread_atfork(NULL, NULL, writer_note_fork) == 0;
        return 0;
}

/* After the writer was stopped (writer_stop(true)): how many of the request's @n_fds writes it
 * had begun before the one under way, from the progress page. It runs no code of its own any
 * more (dead, or in the kernel with SIGKILL pending), so the page says its last word. */
static size_t writer_writes_made(size_t n_fds) {
        uint32_t index = __atomic_load_n(&progress->index, __ATOMIC_ACQUIRE);
        return index < n_fds ? index : n_fds - 1;
}

/* Where the answer to the request under way puts what a read read (NULL: a write). */
static struct {
        char *buf;
        size_t size, len;
} reading;

/* The writer's answer to a request of @n_fds writes, read from its socket (@flags for recv()):
 * 1 with *ret_result and *ret_done (and for a read, its bytes in reading), 0 when there is none
 * yet (MSG_DONTWAIT), -EINTR, or -EIO when the writer is gone (EOF) or the answer is not one. */
static int writer_answer(size_t n_fds, int flags, int *ret_result, size_t *ret_done) {
        struct writer_answer a;
        ssize_t k = recv(writer.fd, &a, sizeof a, flags);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return 0;
        if (k < 0 && errno == EINTR)
                return -EINTR;
        if (k < (ssize_t) ANSWER_HEAD || a.done < 0 || (size_t) a.done > n_fds ||
            (k > (ssize_t) ANSWER_HEAD && !reading.buf))
                return -EIO;
        if (reading.buf) {
                size_t len = (size_t) k - ANSWER_HEAD;
                if (len > reading.size)
                        len = reading.size;
                memcpy(reading.buf, a.data, len);
                reading.len = len;
        }
        *ret_result = a.result;
        *ret_done = (size_t) a.done;
        return 1;
}

/* The request under way gets no answer: the writer is killed or abandoned (writer_stop(true)).
 * *ret_done: the writes it made before the one under way; *ret_unanswered: true, a write of the
 * request may still be under way in the kernel. Returns @r. */
static int writer_abandon(size_t n_fds, int r, size_t *ret_done, bool *ret_unanswered) {
        writer_stop(true);
        *ret_done = writer_writes_made(n_fds);
        *ret_unanswered = true;
        return r;
}

/* Send the request @buf (@len bytes) with @fds to the writer, started if need be, and wait for
 * its answer: each write has @timeout_ms from when it began (the progress page). Returns the
 * request's result, *ret_done the writes it made; -ETIMEDOUT after killing the writer, with
 * *ret_done the writes made before the one that did not finish; a writer that died or whose
 * socket failed (-EIO, or poll()'s error): *ret_done the writes made before the one under way.
 * *ret_unanswered: the request reached the writer and no answer came (writer_abandon()). */
static int writer_request(const char *buf, size_t len, const int *fds, size_t n_fds, unsigned timeout_ms,
                          size_t *ret_done, bool *ret_unanswered) {
        int r;

        *ret_done = 0;
        *ret_unanswered = false;
        /* Inherited over a fork: the writer is our parent's. Told by the fork handler, without
         * a getpid() per access; a process whose handlers could not be set up asks getpid(). */
        if (writer.pid > 0 && (writer.forked || (!writer.atexit_done && writer.owner != getpid())))
                writer_stop(false);
        if (writer.pid <= 0 && (r = writer_start()) < 0)
                return r;

        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(VC_TIMED_WRITES_MAX * sizeof(int))];
        } cm = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.space,
                            .msg_controllen = CMSG_SPACE(n_fds * sizeof(int)) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
        __atomic_store_n(&progress->since, now_ms(), __ATOMIC_RELAXED);
        __atomic_store_n(&progress->index, 0, __ATOMIC_RELEASE);
        ssize_t k;
        do
                k = sendmsg(writer.fd, &m, MSG_NOSIGNAL);
        while (k < 0 && errno == EINTR);
        if (k < 0) {
                r = negative_errno(); /* the writer died (EPIPE): replaced at the next access */
                writer_stop(true);
                return r == -EPIPE || r == -ECONNRESET ? -EIO : r;
        }

        int result;
        for (;;) {
                uint64_t deadline = __atomic_load_n(&progress->since, __ATOMIC_RELAXED) + timeout_ms;
                uint64_t now = now_ms();
                if (now >= deadline) {
                        /* An answer that came in since the last look wins over the deadline. */
                        r = writer_answer(n_fds, MSG_DONTWAIT, &result, ret_done);
                        if (r == -EINTR)
                                continue;
                        if (r > 0)
                                return result;
                        return writer_abandon(n_fds, r < 0 ? r : -ETIMEDOUT, ret_done, ret_unanswered);
                }
                struct pollfd p = { .fd = writer.fd, .events = POLLIN };
                int n = poll(&p, 1, deadline - now > INT_MAX ? INT_MAX : (int) (deadline - now));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return writer_abandon(n_fds, negative_errno(), ret_done, ret_unanswered);
                if (n == 0)
                        continue; /* the deadline is checked above, for the write under way then */
                r = writer_answer(n_fds, 0, &result, ret_done);
                if (r == -EINTR || r == 0)
                        continue;
                if (r < 0) /* EOF: killed by something else */
                        return writer_abandon(n_fds, r, ret_done, ret_unanswered);
                return result;
        }
}

int vc_timed_read(const char *path, char *buf, size_t size, unsigned timeout_ms) {
        if (!path || (!buf && size > 0))
                return -EINVAL;
        /* The attribute's directory, inside a --sysroot (lib/root.h); the writer opens the
         * attribute in it (in Linux the read, here the open, takes the device lock). */
        const char *name;
        _cleanup_close_ int fd = vc_path_open_parent(path, &name);
        if (fd < 0)
                return fd;
        size_t len = strlen(name), done;
        if (len > NAME_MAX)
                return -ENAMETOOLONG;
        char req[1 + NAME_MAX];
        req[0] = 'r';
        memcpy(req + 1, name, len);
        char scratch[1];
        reading.buf = buf ? buf : scratch;
        reading.size = buf ? size : 0;
        reading.len = 0;
        bool unanswered;
        int r = writer_request(req, len + 1, &fd, 1, timeout_ms, &done, &unanswered);
        size_t got = reading.len;
        reading.buf = NULL;
        return r < 0 ? r : (int) got;
}

int vc_timed_access(const char *path, const char *value, unsigned timeout_ms) {
        if (value) {
                size_t done;
                return vc_timed_writes(&path, &value, 1, timeout_ms, &done);
        }
        int r = vc_timed_read(path, NULL, 0, timeout_ms);
        return r < 0 ? r : 0;
}

/* Create the stuck mark @mark (lib/stuck.h) for a request about to be sent: true when this call
 * made it, with *ret_dir its directory (to close) and *ret_name its name there, for
 * mark_remove(). False when it was there already (then it is not ours to remove) or cannot be
 * made (then a write that does not finish is marked after its timeout, vc_stuck_timed_writes()).
 * mknodat() makes the file without opening it: with the directory's open and close and the
 * unlinkat() after the answer, four system calls a request, and no fsync (RUNSTATEDIR). */
static bool mark_create(const char *mark, int *ret_dir, const char **ret_name) {
        int dfd = vc_path_open_parent(mark, ret_name);
        if (dfd < 0)
                return false;
        if (mknodat(dfd, *ret_name, S_IFREG | 0644, 0) < 0) {
                if (errno != EEXIST)
                        log_debug_errno(-errno, "Cannot create %s: %m", mark);
                close(dfd);
                return false;
        }
        *ret_dir = dfd;
        return true;
}

/* The writes of vc_timed_writes(); @mark (NULL: none), the stuck mark of the device whose lock
 * they take: made before the request goes to the writer, and removed once the writer answers. A
 * program killed while a write of it is in the kernel (Ctrl-C, SIGTERM, SIGKILL) leaves the mark
 * behind, as does a write that times out: the commands after it then read the device with a
 * deadline (vc_stuck_wait()), and the first read that finishes removes the mark. */
static int timed_writes(const char *const *paths, const char *const *values, size_t n, unsigned timeout_ms,
                        const char *mark, size_t *ret_done) {
        char buf[MAX_REQUEST];
        int fds[VC_TIMED_WRITES_MAX];
        size_t len = 1, opened = 0;
        int r = 0;

        *ret_done = 0;
        if (n == 0 || n > VC_TIMED_WRITES_MAX)
                return -EINVAL;
        buf[0] = 'w';
        /* Opened here, inside a --sysroot as vc_sysfs_write() opens (lib/root.h): an open takes
         * no device lock. One that fails ends the request there: the writes before it are made,
         * as they would have been one by one, and its error is the result. */
        for (; opened < n; opened++) {
                size_t l = strlen(values[opened]);
                if (l > MAX_VALUE) {
                        r = -E2BIG; /* sysfs takes one page at most */
                        break;
                }
                if ((fds[opened] = vc_path_open(paths[opened], O_WRONLY | O_NOCTTY, 0)) < 0) {
                        r = fds[opened];
                        break;
                }
                uint16_t l16 = (uint16_t) l;
                memcpy(buf + len, &l16, sizeof l16);
                memcpy(buf + len + sizeof l16, values[opened], l);
                len += sizeof l16 + l;
        }
        if (opened > 0) {
                _cleanup_close_ int mark_dir = -1;
                const char *mark_name = NULL;
                bool marked = mark && mark_create(mark, &mark_dir, &mark_name);
                bool unanswered;
                int k = writer_request(buf, len, fds, opened, timeout_ms, ret_done, &unanswered);
                if (marked && !unanswered && unlinkat(mark_dir, mark_name, 0) < 0)
                        log_debug_errno(-errno, "Cannot remove %s: %m", mark);
                for (size_t i = 0; i < opened; i++)
                        close(fds[i]);
                if (k < 0 || *ret_done < opened)
                        return k < 0 ? k : -EIO;
        }
        return r;
}

int vc_timed_writes(const char *const *paths, const char *const *values, size_t n, unsigned timeout_ms,
                    size_t *ret_done) {
        return timed_writes(paths, values, n, timeout_ms, NULL, ret_done);
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
        size_t done;
        return vc_stuck_timed_writes(ctx, a, &path, &value, 1, timeout_ms, &done);
}

int vc_stuck_timed_writes(struct vc_ctx *ctx, const struct vc_pci_addr *a, const char *const *paths,
                          const char *const *values, size_t n, unsigned timeout_ms, size_t *ret_done) {
        _cleanup_free_ char *mark = NULL;
        /* no path (out of memory): marked only after a timeout, as below */
        if (a && mark_path(ctx, a, &mark) < 0)
                mark = NULL;
        int r = timed_writes(paths, values, n, timeout_ms, mark, ret_done);
        if (r != -ETIMEDOUT)
                return r;
        log_debug("Writing \"%s\" to %s did not finish in %u ms; the writer is killed or left behind",
                  values[*ret_done], paths[*ret_done], timeout_ms);
        if (a) {
                /* there since before the request, unless it could not be made then */
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

int vc_stuck_read(struct vc_ctx *ctx, const struct vc_pci_addr *a, const char *attr, char *buf, size_t size,
                  unsigned timeout_ms, bool may_be_marked) {
        _cleanup_free_ char *path = NULL;
        if (size < 2)
                return -EINVAL;
        int r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &path, "%s/%s", VC_PCI_ADDR_TO_STRING(a), attr);
        if (r < 0)
                return r;
        int n = vc_timed_read(path, buf, size - 1, timeout_ms);
        if (n == -ETIMEDOUT) {
                log_debug("Reading %s did not finish in %u ms: the device's lock is held", path, timeout_ms);
                int k = vc_ctx_get_dry_run(ctx) ? 0 : vc_stuck_mark(ctx, a);
                if (k < 0)
                        log_debug_errno(k, "Cannot mark %s as stuck: %m", VC_PCI_ADDR_TO_STRING(a));
                return n;
        }
        if (n < 0)
                return n;
        if (may_be_marked && !vc_ctx_get_dry_run(ctx) && vc_ctx_get_state_locked(ctx)) {
                _cleanup_free_ char *mark = NULL;
                if (mark_path(ctx, a, &mark) >= 0)
                        (void) vc_unlink_runtime_file(mark);
        }
        return vc_sysfs_text_finish(buf, (size_t) n, size);
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
        /* the write is over; the mark goes only with the lock held: a reader without it (list,
         * status) could come between two writes of a request under way, whose next write may
         * stick in its turn with the request's mark gone */
        if (vc_ctx_get_state_locked(ctx) && !vc_ctx_get_dry_run(ctx))
                (void) vc_unlink_runtime_file(mark);
        return 0;
}
