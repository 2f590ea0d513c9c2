/* libfakekernel.so: an LD_PRELOAD shim that plays the kernel's part for a
 * fake sysfs tree made by fakesys-mktree (FAKEKERNEL_ROOT=ROOT).
 *
 * Writes to files under ROOT/sys are serialized with flock on
 * ROOT/.fakekernel/lock, counted, logged to ROOT/.fakekernel/writes.log,
 * checked against ROOT/.fakekernel/faults and then modelled: driver_override,
 * reset_method, bind, unbind, drivers_probe, new_id, remove_id,
 * drivers_autoprobe, remove and rescan, and bind/unbind of the platform bus (firmware
 * framebuffers).  Other
 * attributes keep the bytes written, as a show() returning the last store()
 * would.  The device lock of Linux (device_lock()) is modelled for the attributes that take it: a
 * write that is STUCK holds it, and reads of driver_override or sriov_numvfs of that device
 * (and writes that take the lock) wait until the stuck write ends.
 *
 * With FAKEKERNEL_HOST=1 the tree is the programs' running system: they run without --sysroot
 * and every open() of a path in one of the places lib/root.c knows (/sys, /proc, /dev/vfio, the
 * state and configuration directories, modprobe.d, /lib/modules) opens the same path under ROOT;
 * kmod_new() is given ROOT's module directory and modprobe.d, and libkmod's module insertion is
 * modelled: loading a module that backs declared drivers registers them and probes matching
 * devices.  Without it (programs run with --sysroot ROOT, which never load modules) libkmod is
 * left alone.  In both, init_module(2) and finit_module(2) never reach the kernel: they fail
 * with EPERM and are logged, so a test sees any attempt to load a module file.
 * Rules and deliberate differences from Linux: tests/fakekernel/README.md. */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libkmod.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "fkmodel.h"
#include "fkusb.h"

#define EXPORT __attribute__((visibility("default")))
#define HANG (-1000)
#define STUCK (-1001)
/* How long a stuck write waits for ROOT/.fakekernel/unstick at most (a test that never
 * releases it: the tree's removal ends it as well). */
#define STUCK_MAX_S 900
#define KILL (-1002) /* the writer's process group gets SIGKILL before the write */

static char root[PATH_MAX];      /* realpath of FAKEKERNEL_ROOT */
static char root_raw[PATH_MAX];  /* as given */
static bool active;
static bool host_mode;           /* FAKEKERNEL_HOST=1: ROOT is the programs' "/" */
/* This task is inside the shim (its own calls are the real ones). Thread-local; the writer of
 * lib/stuck.c, a process that shares its parent's memory, shares its parent's copy: it is in the
 * shim only while its parent waits for it, and is not counted in while it may be killed there
 * (waiting for a device lock, a STUCK write). */
static __thread int in_shim;
static struct fk_model model;    /* guarded by the flock of lock() */

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fflush)(FILE *);
static int (*real_open)(const char *, int, ...);

static void *next(const char *name) {
        return dlsym(RTLD_NEXT, name);
}

__attribute__((constructor)) static void init(void) {
        const char *r = getenv("FAKEKERNEL_ROOT");
        real_write = next("write");
        real_fflush = next("fflush");
        real_open = next("open");
        if (!r || !*r)
                return;
        snprintf(root_raw, sizeof root_raw, "%s", r);
        if (!realpath(r, root))
                snprintf(root, sizeof root, "%s", r);
        active = true;
        const char *h = getenv("FAKEKERNEL_HOST");
        host_mode = h && strcmp(h, "1") == 0;
}

/* ---------------------------------------------------------------- paths */

static bool has_sys_prefix(const char *abs, const char *base) {
        size_t n = strlen(base);
        return n && strncmp(abs, base, n) == 0 && strncmp(abs + n, "/sys/", 5) == 0;
}

/* Is PATH (relative to DIRFD) under ROOT/sys?  Lexical check only; good
 * enough for the paths a program builds from its --sysroot. */
static bool path_under_sys(int dirfd, const char *path) {
        char abs[PATH_MAX];
        if (!active || !path)
                return false;
        if (path[0] == '/')
                snprintf(abs, sizeof abs, "%s", path);
        else {
                char base[PATH_MAX];
                if (dirfd == AT_FDCWD) {
                        if (!getcwd(base, sizeof base))
                                return false;
                } else {
                        char l[64];
                        snprintf(l, sizeof l, "/proc/self/fd/%d", dirfd);
                        ssize_t k = readlink(l, base, sizeof base - 1);
                        if (k <= 0)
                                return false;
                        base[k] = 0;
                }
                snprintf(abs, sizeof abs, "%s/%s", base, path);
        }
        return has_sys_prefix(abs, root) || has_sys_prefix(abs, root_raw);
}

/* RELPATH of an fd's file when it lies under ROOT/sys. */
static bool fd_relpath(int fd, char *ret, size_t n) {
        char l[64], t[PATH_MAX];
        if (!active || fd < 0)
                return false;
        snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(l, t, sizeof t - 1);
        if (k <= 0)
                return false;
        t[k] = 0;
        if (!has_sys_prefix(t, root))
                return false;
        snprintf(ret, n, "%s", t + strlen(root) + 1);
        return true;
}

/* ---------------------------------------------------------------- open */

/* The places of lib/root.c (and the directories libkmod reads by default), and the files the
 * library reads from the root itself (lib/host.c, lib/boot.c, lib/doctor.c, lib/critical.c's
 * etc/fstab and the dev/disk links its sources lead to): in host mode, an
 * absolute path in one of them, or a directory above one ("/", "/run", "/usr/lib"), is opened
 * under ROOT. */
static const char *const places[] = {
        "/sys", "/proc", "/dev/vfio", SYSCONFDIR "/vfio-claim", RUNSTATEDIR "/vfio-claim",
        "/etc/modprobe.d", "/run/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d",
        "/usr/local/lib/modprobe.d", "/lib/modules", "/usr/lib/modules",
        "/etc/hostname", "/etc/machine-id", "/etc/initrd-release", "/conf/initramfs.conf", "/boot",
        "/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system",
        "/run/udev/rules.d", "/run/udev/data", "/etc/initramfs-tools", "/etc/dracut.conf", "/etc/dracut.conf.d", "/usr/lib/dracut",
        "/etc/libvirt/qemu.conf", "/etc/fstab", "/dev/disk", "/dev/kmsg",
};

static const char *redirect(const char *path, char *buf, size_t n) {
        if (!active || !host_mode || !path || path[0] != '/' || has_sys_prefix(path, root) ||
            strncmp(path, root, strlen(root)) == 0 || strncmp(path, root_raw, strlen(root_raw)) == 0)
                return path;
        size_t pl = strlen(path);
        for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
                size_t l = strlen(places[i]);
                bool below = strncmp(path, places[i], l) == 0 && (path[l] == '/' || path[l] == 0);
                bool above = strcmp(path, "/") == 0 ||
                             (strncmp(places[i], path, pl) == 0 && places[i][pl] == '/');
                if (below || above) {
                        snprintf(buf, n, "%s%s", root, strcmp(path, "/") == 0 ? "" : path);
                        return buf;
                }
        }
        return path;
}

static bool read_device(int dirfd, const char *path, int flags, char *addr, size_t n);

/* "open:GLOB WAIT" in the faults file: an open of a path of the tree that GLOB matches (relative
 * to the root, fnmatch, '*' crosses '/') waits until ROOT/.fakekernel/go appears, with
 * ROOT/.fakekernel/waiting there meanwhile: a test stops a program at that open, looks at what
 * it holds, and lets it go (at most 120 s). One wait a fault: the fault goes with the wait. */
static void wait_at_open(const char *path) {
        char p[PATH_MAX], line[1024], go[PATH_MAX], waiting[PATH_MAX];
        struct stat st;
        size_t l = strlen(root);
        if (!active || strncmp(path, root, l) != 0 || path[l] != '/')
                return;
        snprintf(p, sizeof p, "%s/.fakekernel/faults", root);
        if (stat(p, &st) < 0 || st.st_size == 0)
                return;
        int fd = real_open(p, O_RDONLY | O_CLOEXEC, 0);
        FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
        bool wait = false;
        while (f && !wait && fgets(line, sizeof line, f)) {
                char what[900], how[64];
                wait = sscanf(line, "%899s %63s", what, how) == 2 && strncmp(what, "open:", 5) == 0 &&
                       strcmp(how, "WAIT") == 0 && fnmatch(what + 5, path + l + 1, 0) == 0;
        }
        if (f)
                fclose(f);
        else if (fd >= 0)
                close(fd);
        if (!wait)
                return;
        snprintf(go, sizeof go, "%s/.fakekernel/go", root);
        snprintf(waiting, sizeof waiting, "%s/.fakekernel/waiting", root);
        (void) truncate(p, 0);
        close(real_open(waiting, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        for (int i = 0; i < 12000 && access(go, F_OK) < 0; i++)
                usleep(10000);
        (void) unlink(go);
        (void) unlink(waiting);
}

static void wait_for_device_lock(const char *addr);

static int fix_flags(int dirfd, const char *path, int flags) {
        if (dirfd == AT_FDCWD && path && path[0] == '/')
                wait_at_open(path);
        /* sysfs ignores O_TRUNC and cannot create files.  Where the path lies is looked up (a
         * readlink(2) of the directory's fd for a relative path) only when it matters: for a
         * flag to drop or a read that waits for the device lock, not for every open. The
         * device a read waits for is found once. */
        char addr[32];
        bool locks = read_device(dirfd, path, flags, addr, sizeof addr);
        if (!(flags & (O_TRUNC | O_CREAT)) && !locks)
                return flags;
        if (path_under_sys(dirfd, path)) {
                flags &= ~(O_TRUNC | O_CREAT);
                if (locks)
                        wait_for_device_lock(addr);
        }
        return flags;
}

/* The fds open on a device's "rom" attribute: read() checks them (rom_read_check()). A closed and
 * reused fd is noticed there by its path. */
#define ROM_FDS 1024
static bool rom_fds[ROM_FDS];

static bool is_rom_path(const char *path) {
        const char *slash = path ? strrchr(path, '/') : NULL;
        return strcmp(slash ? slash + 1 : path ? path : "", "rom") == 0;
}

/* /dev/kmsg in host mode: ROOT/dev/kmsg, a file a test made (without it the open fails, as where
 * there is no /dev/kmsg). Writes to it are rate-limited as the kernel does by default
 * (printk.devkmsg=ratelimit; kernel/printk/printk.c, devkmsg_open() and devkmsg_write()): per open
 * file, at most 10 messages in 5 s; the others are dropped, and the write reports success all
 * the same. */
#define KMSG_BURST 10
#define KMSG_INTERVAL_S 5
struct kmsg_file {
        bool open;
        int printed;
        time_t begin;
};
static struct kmsg_file kmsg_fds[ROM_FDS];

static bool is_kmsg_path(const char *path) {
        char p[PATH_MAX];
        if (!host_mode || !path)
                return false;
        snprintf(p, sizeof p, "%s/dev/kmsg", root);
        return strcmp(path, p) == 0;
}

/* Is @fd (one open() saw open ROOT/dev/kmsg) still that file? */
static bool kmsg_fd(int fd) {
        char l[64], t[PATH_MAX];
        if (!active || fd < 0 || fd >= ROM_FDS || !kmsg_fds[fd].open)
                return false;
        snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(l, t, sizeof t - 1);
        if (k <= 0)
                return false;
        t[k] = 0;
        return is_kmsg_path(t);
}

/* The kernel's ___ratelimit() for this open file: may this message go through? */
static bool kmsg_ratelimit(int fd) {
        struct kmsg_file *k = &kmsg_fds[fd];
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (k->begin == 0 || now.tv_sec >= k->begin + KMSG_INTERVAL_S) {
                k->begin = now.tv_sec ? now.tv_sec : 1;
                k->printed = 0;
        }
        return k->printed++ < KMSG_BURST;
}

static int opened(int fd, int dirfd, const char *path) {
        if (fd >= 0 && fd < ROM_FDS && active) {
                rom_fds[fd] = is_rom_path(path) && path_under_sys(dirfd, path);
                kmsg_fds[fd] = (struct kmsg_file){ .open = is_kmsg_path(path) };
        }
        return fd;
}

#define OPEN_MODE(flags, mode)                                   \
        do {                                                     \
                if ((flags) & (O_CREAT | O_TMPFILE)) {           \
                        va_list ap;                              \
                        va_start(ap, flags);                     \
                        mode = va_arg(ap, mode_t);               \
                        va_end(ap);                              \
                }                                                \
        } while (0)

EXPORT int open(const char *path, int flags, ...) {
        static int (*real)(const char *, int, ...);
        mode_t mode = 0;
        OPEN_MODE(flags, mode);
        char buf[PATH_MAX];
        if (!real)
                real = next("open");
        path = redirect(path, buf, sizeof buf);
        return opened(real(path, fix_flags(AT_FDCWD, path, flags), mode), AT_FDCWD, path);
}

EXPORT int open64(const char *path, int flags, ...) {
        static int (*real)(const char *, int, ...);
        mode_t mode = 0;
        OPEN_MODE(flags, mode);
        char buf[PATH_MAX];
        if (!real)
                real = next("open64");
        path = redirect(path, buf, sizeof buf);
        return opened(real(path, fix_flags(AT_FDCWD, path, flags), mode), AT_FDCWD, path);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...) {
        static int (*real)(int, const char *, int, ...);
        mode_t mode = 0;
        OPEN_MODE(flags, mode);
        char buf[PATH_MAX];
        if (!real)
                real = next("openat");
        path = redirect(path, buf, sizeof buf);
        return opened(real(dirfd, path, fix_flags(dirfd, path, flags), mode), dirfd, path);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
        static int (*real)(int, const char *, int, ...);
        mode_t mode = 0;
        OPEN_MODE(flags, mode);
        char buf[PATH_MAX];
        if (!real)
                real = next("openat64");
        path = redirect(path, buf, sizeof buf);
        return opened(real(dirfd, path, fix_flags(dirfd, path, flags), mode), dirfd, path);
}

/* Lookups by path go to the tree as opens do: libudev (lib/root.c, vc_ctx_block_property()) asks
 * access() whether a /sys path exists. (Not readlink(): /proc/self/fd/N must stay the process's.) */
EXPORT int access(const char *path, int mode) {
        static int (*real)(const char *, int);
        char buf[PATH_MAX];
        if (!real)
                real = next("access");
        return real(redirect(path, buf, sizeof buf), mode);
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags) {
        static int (*real)(int, const char *, int, int);
        char buf[PATH_MAX];
        if (!real)
                real = next("faccessat");
        return real(dirfd, redirect(path, buf, sizeof buf), mode, flags);
}

/* ... reads a device's links ("subsystem") by their absolute /sys paths (only those: the links of
 * /proc/self/fd stay the process's) ... */
EXPORT ssize_t readlinkat(int dirfd, const char *path, char *out, size_t n) {
        static ssize_t (*real)(int, const char *, char *, size_t);
        char buf[PATH_MAX];
        if (!real)
                real = next("readlinkat");
        if (strncmp(path, "/sys/", 5) == 0)
                path = redirect(path, buf, sizeof buf);
        return real(dirfd, path, out, n);
}

/* ... reads its database (/run/udev/data) with fopen(), whose open inside the C library no
 * interposed open() sees ... */
EXPORT FILE *fopen64(const char *path, const char *mode) {
        static FILE *(*real)(const char *, const char *);
        char buf[PATH_MAX];
        if (!real)
                real = next("fopen64");
        return real(redirect(path, buf, sizeof buf), mode);
}

/* ... and checks that a device's directory is on sysfs: the tree's directories under sys/ are. */
EXPORT int fstatfs(int fd, struct statfs *buf) {
        static int (*real)(int, struct statfs *);
        char rel[PATH_MAX];
        if (!real)
                real = next("fstatfs");
        int r = real(fd, buf);
        if (r == 0 && fd_relpath(fd, rel, sizeof rel))
                buf->f_type = SYSFS_MAGIC;
        return r;
}

EXPORT int fstatfs64(int fd, struct statfs64 *buf) {
        static int (*real)(int, struct statfs64 *);
        char rel[PATH_MAX];
        if (!real)
                real = next("fstatfs64");
        int r = real(fd, buf);
        if (r == 0 && fd_relpath(fd, rel, sizeof rel))
                buf->f_type = SYSFS_MAGIC;
        return r;
}

/* _FORTIFY_SOURCE variants */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);

EXPORT int __open_2(const char *path, int flags) {
        static int (*real)(const char *, int);
        char buf[PATH_MAX];
        if (!real)
                real = next("__open_2");
        path = redirect(path, buf, sizeof buf);
        return opened(real(path, fix_flags(AT_FDCWD, path, flags)), AT_FDCWD, path);
}

EXPORT int __open64_2(const char *path, int flags) {
        static int (*real)(const char *, int);
        char buf[PATH_MAX];
        if (!real)
                real = next("__open64_2");
        path = redirect(path, buf, sizeof buf);
        return opened(real(path, fix_flags(AT_FDCWD, path, flags)), AT_FDCWD, path);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags) {
        static int (*real)(int, const char *, int);
        char buf[PATH_MAX];
        if (!real)
                real = next("__openat_2");
        path = redirect(path, buf, sizeof buf);
        return opened(real(dirfd, path, fix_flags(dirfd, path, flags)), dirfd, path);
}

/* ---------------------------------------------------------------- lock, counter, faults, log */

/* One file of ROOT/.fakekernel, opened past the shim's own open(). */
static int fk_open(const char *name, int flags) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/.fakekernel/%s", root, name);
        return real_open(p, flags | O_CLOEXEC, 0644);
}

/* The model's lock: flock on a descriptor of its own (an open file description per taker, so
 * threads wait for each other as processes do), which the kernel lets go with the task that
 * holds it, killed or not. Returns the descriptor for unlock(), or -1. */
static int lock(void) {
        int fd = fk_open("lock", O_RDWR | O_CREAT);
        if (fd >= 0)
                while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
                        ;
        return fd;
}

static void unlock(int fd) {
        if (fd >= 0)
                close(fd);
}

/* The write counter, "N\n" in ROOT/.fakekernel/counter: read and rewritten through one open. */
static long next_write_number(void) {
        char buf[32];
        long n = 0;
        int fd = fk_open("counter", O_RDWR | O_CREAT);
        if (fd < 0)
                return 1;
        ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
        if (k > 0) {
                buf[k] = 0;
                if (sscanf(buf, "%ld", &n) != 1)
                        n = 0;
        }
        n++;
        int l = snprintf(buf, sizeof buf, "%ld\n", n);
        if (pwrite(fd, buf, (size_t) l, 0) == l && k > l)
                (void) ftruncate(fd, l); /* a test wrote a longer number */
        close(fd);
        return n;
}

static int errno_from_name(const char *s) {
        if (strcmp(s, "HANG") == 0)
                return HANG;
        if (strcmp(s, "STUCK") == 0)
                return STUCK;
        if (strcmp(s, "KILL") == 0)
                return KILL;
        for (int e = 1; e < 200; e++) {
                const char *n = strerrorname_np(e);
                if (n && strcmp(n, s) == 0)
                        return e;
        }
        return EIO;
}

static const char *errno_name(int e) {
        const char *n = e == HANG ? "HANG" : e == STUCK ? "STUCK" : e == KILL ? "KILL" : strerrorname_np(e);
        return n ? n : "EUNKNOWN";
}

/* The fault for this operation: 0, an errno, or HANG.  KEY is "modprobe:MOD"
 * for module loads (NUMBER 0), else the RELPATH of a write. */
static int fault_for(long number, const char *key, bool is_modprobe) {
        char p[PATH_MAX], line[1024];
        int found = 0;
        struct stat st;
        snprintf(p, sizeof p, "%s/.fakekernel/faults", root);
        if (stat(p, &st) < 0 || st.st_size == 0)
                return 0; /* no faults armed: one system call */
        FILE *f = fopen(p, "re");
        if (!f)
                return 0;
        while (!found && fgets(line, sizeof line, f)) {
                char what[900], err[64];
                if (line[0] == '#' || sscanf(line, "%899s %63s", what, err) != 2)
                        continue;
                if (is_modprobe) {
                        if (strncmp(what, "modprobe:", 9) == 0 && strcmp(what, key) == 0)
                                found = errno_from_name(err);
                } else if (strncmp(what, "glob:", 5) == 0) {
                        if (fnmatch(what + 5, key, 0) == 0)
                                found = errno_from_name(err);
                } else if (strncmp(what, "modprobe:", 9) != 0) {
                        char *end;
                        long n = strtol(what, &end, 10);
                        if (!*end && n == number)
                                found = errno_from_name(err);
                }
        }
        fclose(f);
        return found;
}

/* One line appended with one write(2) (O_APPEND: whole lines, whoever else appends). */
static void append(const char *name, const char *line, size_t n) {
        int fd = fk_open(name, O_WRONLY | O_CREAT | O_APPEND);
        if (fd < 0)
                return;
        (void) real_write(fd, line, n);
        close(fd);
}

static void log_op(const char *key, const void *data, size_t n, int result) {
        /* KEY, a tab, VALUE with every byte at most 4 bytes escaped, a tab, the result */
        size_t cap = strlen(key) + 4 * n + 64, k = 0;
        char *line = malloc(cap);
        if (!line)
                return;
        k += (size_t) snprintf(line, cap, "%s\t", key);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = ((const unsigned char *) data)[i];
                if (c == '\n' || c == '\t' || c == '\\') {
                        line[k++] = '\\';
                        line[k++] = c == '\n' ? 'n' : c == '\t' ? 't' : '\\';
                } else if (c < 0x20 || c == 0x7f)
                        k += (size_t) snprintf(line + k, cap - k, "\\x%02x", c);
                else
                        line[k++] = (char) c;
        }
        k += (size_t) snprintf(line + k, cap - k, "\t%s\n", result == 0 ? "ok" : errno_name(result));
        append("writes.log", line, k);
        free(line);
        /* which process wrote under ROOT/sys: a test counts the engine's writer processes */
        if (strncmp(key, "sys/", 4) == 0) {
                char pid[32];
                int l = snprintf(pid, sizeof pid, "%ld\n", (long) getpid());
                append("writers.log", pid, (size_t) l);
        }
}

static void hang(void) {
        for (;;)
                pause();
}

/* ---------------------------------------------------------------- the device lock */

static void value(const void *data, size_t n, char *ret, size_t size);

/* Linux 6.1 takes the device lock (device_lock(), a mutex a task waits for in D state) in
 * driver_override_show()/_store() (driver_set_override(), drivers/base/driver.c),
 * sriov_numvfs_show()/_store() (drivers/pci/iov.c), reset_store() (pci_reset_function()),
 * remove_store(), and for bind, unbind and drivers_probe of a device (drivers/base/bus.c,
 * dd.c); reset_method, config and the other attributes do not take it, nor does reading the
 * driver link.  Here the lock of device ADDR is flock on ROOT/.fakekernel/devlock/ADDR: a
 * STUCK write holds it until it ends; everything else that takes the lock waits for it. */

static bool addr_ok(const char *a) {
        size_t n = strlen(a);
        if (n == 0 || n >= 16)
                return false;
        for (; *a; a++)
                if (!isxdigit((unsigned char) *a) && *a != ':' && *a != '.')
                        return false;
        return true;
}

/* A USB device's directory name, its port path ("3-1.2"): digits, one '-', then digits and dots. */
static bool usb_port_ok(const char *a) {
        const char *dash = strchr(a, '-');
        if (!dash || dash == a || strlen(a) >= 32 || strchr(dash + 1, '-') || !dash[1])
                return false;
        for (; *a; a++)
                if (!isdigit((unsigned char) *a) && *a != '-' && *a != '.')
                        return false;
        return true;
}

/* A USB device's string descriptors: Linux 6.1 shows them under usb_lock_device_interruptible()
 * (drivers/usb/core/sysfs.c, usb_string_attr()), the lock a driver holds while it probes or
 * resets the device. */
static bool usb_string_attr(const char *file) {
        return strcmp(file, "serial") == 0 || strcmp(file, "manufacturer") == 0 || strcmp(file, "product") == 0;
}

/* Does the attribute named by its last two components (DIR/FILE, DIR the device) take the
 * device lock? */
static bool attr_locks_device(const char *file, bool write) {
        if (strcmp(file, "driver_override") == 0 || strcmp(file, "sriov_numvfs") == 0)
                return true;
        if (!write && usb_string_attr(file))
                return true;
        return write && (strcmp(file, "reset") == 0 || strcmp(file, "remove") == 0);
}

/* The device whose lock the attribute at PATH (absolute or relative, ending DIR/FILE) takes. */
static bool attr_device(const char *path, bool write, char *ret, size_t n) {
        const char *file = strrchr(path, '/');
        if (!file || !attr_locks_device(file + 1, write))
                return false;
        const char *dir = file;
        while (dir > path && dir[-1] != '/')
                dir--;
        size_t l = (size_t) (file - dir);
        if (l >= n)
                return false;
        memcpy(ret, dir, l);
        ret[l] = 0;
        return usb_string_attr(file + 1) ? usb_port_ok(ret) : addr_ok(ret);
}

/* The device a write of DATA to REL locks, if any. */
static bool write_device(const char *rel, const void *data, size_t n, char *ret, size_t size) {
        char drv[128], file[32], v[64];
        bool by_value = strcmp(rel, "sys/bus/pci/drivers_probe") == 0 ||
                        (sscanf(rel, "sys/bus/pci/drivers/%127[^/]/%31s", drv, file) == 2 &&
                         (strcmp(file, "bind") == 0 || strcmp(file, "unbind") == 0));
        if (!by_value)
                return attr_device(rel, true, ret, size);
        value(data, n, v, sizeof v);
        snprintf(ret, size, "%s", v);
        return addr_ok(ret);
}

/* Open (creating) the lock file of device ADDR and take it: LOCK_EX or LOCK_SH. -1 on error. */
static int devlock_take(const char *addr, int how) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "devlock/%s", addr);
        int fd = fk_open(p, O_RDWR | O_CREAT);
        if (fd < 0 && errno == ENOENT) { /* the first device lock of the tree */
                snprintf(p, sizeof p, "%s/.fakekernel/devlock", root);
                (void) mkdir(p, 0755);
                snprintf(p, sizeof p, "devlock/%s", addr);
                fd = fk_open(p, O_RDWR | O_CREAT);
        }
        if (fd < 0)
                return -1;
        while (flock(fd, how) < 0)
                if (errno != EINTR) {
                        close(fd);
                        return -1;
                }
        return fd;
}

/* A read of driver_override or sriov_numvfs waits for the device lock (here at open(), in
 * Linux at the first read(); the difference does not matter to a program that opens to read).
 * The device is named by PATH's last two components, or for a PATH of one component (lib/stuck.c's
 * writer opens the attribute in a directory its parent opened), by DIRFD's path. */
static bool read_device(int dirfd, const char *path, int flags, char *addr, size_t n) {
        if (in_shim || !path || (flags & O_ACCMODE) != O_RDONLY || (flags & O_PATH))
                return false;
        if (strchr(path, '/') || dirfd == AT_FDCWD)
                return attr_device(path, false, addr, n);
        if (!attr_locks_device(path, false))
                return false;
        char l[64], dir[PATH_MAX], full[PATH_MAX + NAME_MAX + 2];
        snprintf(l, sizeof l, "/proc/self/fd/%d", dirfd);
        ssize_t k = readlink(l, dir, sizeof dir - 1);
        if (k <= 0)
                return false;
        dir[k] = '\0';
        snprintf(full, sizeof full, "%s/%s", dir, path);
        return attr_device(full, false, addr, n);
}

static void wait_for_device_lock(const char *addr) {
        int saved = errno;
        int fd = devlock_take(addr, LOCK_SH);
        if (fd >= 0)
                close(fd);
        errno = saved;
}

/* A KILL fault: logged, then the whole process group of the writer dies (SIGKILL), as when an
 * admin or the OOM killer ends a program in the middle of a transaction. */
static void die(const char *key, const void *data, size_t n, int lk) {
        log_op(key, data, n, KILL);
        unlock(lk);
        (void) kill(0, SIGKILL);
        hang();
}

/* ---------------------------------------------------------------- the model */

/* The value of a store(), with one trailing newline dropped (sysfs_streq). */
static void value(const void *data, size_t n, char *ret, size_t size) {
        if (n >= size)
                n = size - 1;
        memcpy(ret, data, n);
        ret[n] = 0;
        if (n && ret[n - 1] == '\n')
                ret[n - 1] = 0;
}

static bool autoprobe(void) {
        char p[PATH_MAX], buf[16] = "";
        snprintf(p, sizeof p, "%s/sys/bus/pci/drivers_autoprobe", root);
        FILE *f = fopen(p, "re");
        if (f) {
                if (!fgets(buf, sizeof buf, f))
                        buf[0] = 0;
                fclose(f);
        }
        return buf[0] != '0';
}

/* pci_match_device(): an override names the only driver that may bind;
 * without one, the driver's (static + dynamic) id table decides. */
static bool matches(const struct fk_driver *d, const struct fk_dev *dev) {
        char ov[64];
        fk_dev_override(&model, dev, ov, sizeof ov);
        if (ov[0])
                return strcmp(ov, d->name) == 0;
        return fk_driver_matches(d, dev);
}

/* really_probe(): the driver's probe; vfio_pci_probe() refuses bridges. */
static int probe(struct fk_dev *dev, struct fk_driver *d) {
        if (strcmp(d->name, "vfio-pci") == 0 && dev->hdr != 0)
                return -EINVAL;
        return fk_bind(&model, dev, d);
}

static bool bound(const struct fk_dev *dev) {
        char drv[64];
        fk_dev_driver(&model, dev, drv, sizeof drv);
        return drv[0] != 0;
}

/* driver_attach(): what a registering driver (or new_id) does. */
static void attach_all(struct fk_driver *d) {
        if (!d->loaded)
                return;
        for (int i = 0; i < model.n_devs; i++) {
                struct fk_dev *dev = &model.devs[i];
                if (!dev->removed && !bound(dev) && matches(d, dev))
                        (void) probe(dev, d);
        }
}

static int do_override(struct fk_dev *dev, const void *data, size_t n) {
        char v[4096];
        if (n == 0)
                return 0;
        value(data, n, v, sizeof v);
        if (strlen(v) >= 64)
                return -EINVAL;
        return fk_dev_set_override(&model, dev, v);
}

/* reset_method_store() of Linux 6.1: an empty value (sysfs_streq) disables every method,
 * "default" brings back what the device supports (pci_init_reset_methods(); here the fixture's
 * list), anything else is a list of names separated by spaces, in the order they are to be
 * tried.  Each name must be a known method the device supports, and at most FK_RESET_LIST_MAX
 * fit (a name may repeat: Linux does not check); else EINVAL and the methods stay as they were.
 * A 0-byte write never reaches store() (sysfs_kf_write()). */
static int do_reset_method(struct fk_dev *dev, const void *data, size_t n) {
        char v[4096], raw[4096];
        unsigned char list[FK_RESET_LIST_MAX];
        int k = 0;
        if (n == 0)
                return 0;
        value(data, n, v, sizeof v);
        if (strcmp(v, "default") == 0)
                return fk_dev_set_reset_method(&model, dev, dev->resets, dev->n_resets);
        if (!v[0])
                return fk_dev_set_reset_method(&model, dev, list, 0);
        /* the names come from the bytes as written: split at each space, skip empty pieces and
         * lone newlines, strip white space around the rest */
        if (n >= sizeof raw)
                n = sizeof raw - 1;
        memcpy(raw, data, n);
        raw[n] = 0;
        for (char *save = raw, *t; (t = strsep(&save, " "));) {
                if (!t[0] || strcmp(t, "\n") == 0)
                        continue;
                while (isspace((unsigned char) *t))
                        t++;
                for (size_t l = strlen(t); l && isspace((unsigned char) t[l - 1]); l--)
                        t[l - 1] = 0;
                int m = fk_reset_lookup(t);
                bool supported = false;
                for (int i = 0; m >= 0 && i < dev->n_resets; i++)
                        supported = supported || dev->resets[i] == m;
                if (!supported || k == FK_RESET_LIST_MAX)
                        return -EINVAL;
                list[k++] = (unsigned char) m;
        }
        return fk_dev_set_reset_method(&model, dev, list, k);
}

static int do_bind(struct fk_driver *d, const char *addr) {
        struct fk_dev *dev = fk_dev_find(&model, addr);
        if (!dev || dev->removed)
                return -ENODEV;
        if (!matches(d, dev))
                return -ENODEV;
        if (bound(dev))
                return -EBUSY;
        return probe(dev, d);
}

static int do_unbind(struct fk_driver *d, const char *addr) {
        char drv[64];
        struct fk_dev *dev = fk_dev_find(&model, addr);
        if (!dev || dev->removed)
                return -ENODEV;
        fk_dev_driver(&model, dev, drv, sizeof drv);
        if (strcmp(drv, d->name) != 0)
                return -ENODEV;
        return fk_unbind(&model, dev);
}

static int do_probe(const char *addr) {
        char ov[64];
        struct fk_dev *dev = fk_dev_find(&model, addr);
        if (!dev || dev->removed)
                return -ENODEV;
        if (bound(dev))
                return 0;
        fk_dev_override(&model, dev, ov, sizeof ov);
        if (ov[0]) {
                struct fk_driver *d = fk_driver_find(&model, ov);
                if (d && d->loaded)
                        (void) probe(dev, d); /* a failing probe still reports success */
                return 0;
        }
        for (int i = 0; i < model.n_drivers; i++) {
                struct fk_driver *d = &model.drivers[i];
                if (d->loaded && fk_driver_matches(d, dev) && probe(dev, d) == 0)
                        break;
        }
        return 0;
}

/* new_id / remove_id: "VVVV DDDD [SVVV SDDD CLASS MASK DATA]"; only vendor and
 * device are modelled. */
static int do_id(struct fk_driver *d, const char *v, bool add) {
        unsigned vendor, device;
        if (sscanf(v, "%x %x", &vendor, &device) != 2 || vendor > 0xffff || device > 0xffff)
                return -EINVAL;
        for (int i = 0; i < d->n_ids; i++)
                if (d->ids[i].vendor == vendor && d->ids[i].device == device) {
                        if (add)
                                return -EEXIST;
                        memmove(&d->ids[i], &d->ids[i + 1], sizeof d->ids[0] * (size_t) (d->n_ids - i - 1));
                        d->n_ids--;
                        return fk_model_save(&model);
                }
        if (!add)
                return -ENODEV;
        if (d->n_ids >= FK_MAX_IDS)
                return -ENOSPC;
        d->ids[d->n_ids++] = (struct fk_id) { vendor, device };
        int r = fk_model_save(&model);
        if (r < 0)
                return r;
        attach_all(d);
        return 0;
}

/* kstrtoul() of remove/rescan: -EINVAL, 0 (nothing to do) or 1 */
static int flag(const char *v) {
        char *end;
        errno = 0;
        unsigned long x = strtoul(v, &end, 0);
        if (errno || end == v || *end)
                return -EINVAL;
        return x != 0;
}

static void root_path(char *ret, size_t n, const char *rel) {
        snprintf(ret, n, "%s/%s", root, rel);
}

static void link_rel(const char *rel_link, const char *rel_target) {
        char dir[PATH_MAX], t[PATH_MAX], p[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", rel_link);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        fk_relpath(dir, rel_target, t, sizeof t);
        root_path(p, sizeof p, rel_link);
        unlink(p);
        (void) symlink(t, p);
}

static void dev_links(const struct fk_dev *dev, bool create) {
        char rel[PATH_MAX], p[PATH_MAX];
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s", dev->addr);
        if (create)
                link_rel(rel, dev->path);
        else {
                root_path(p, sizeof p, rel);
                unlink(p);
        }
        if (dev->group < 0)
                return;
        snprintf(rel, sizeof rel, "sys/kernel/iommu_groups/%d/devices/%s", dev->group, dev->addr);
        if (create)
                link_rel(rel, dev->path);
        else {
                root_path(p, sizeof p, rel);
                unlink(p);
        }
}

/* devices/X/remove: pci_stop_and_remove_bus_device() - the device and every
 * device below it are unbound and disappear; the directory is parked in
 * ROOT/.fakekernel/removed/ until a rescan. */
static int do_remove(struct fk_dev *top) {
        char from[PATH_MAX], to[PATH_MAX], pre[PATH_MAX];
        if (top->removed)
                return -ENODEV;
        snprintf(pre, sizeof pre, "%s/", top->path);
        for (int i = 0; i < model.n_devs; i++) {
                struct fk_dev *dev = &model.devs[i];
                if (dev != top && (dev->removed || strncmp(dev->path, pre, strlen(pre)) != 0))
                        continue;
                if (bound(dev))
                        (void) fk_unbind(&model, dev);
                dev_links(dev, false);
                dev->removed = true;
                (void) fk_vfio_group_update(&model, dev->group);
        }
        snprintf(to, sizeof to, "%s/.fakekernel/removed", root);
        int r = fk_mkdir_p(to);
        if (r < 0)
                return r;
        root_path(from, sizeof from, top->path);
        snprintf(to, sizeof to, "%s/.fakekernel/removed/%s", root, top->addr);
        if (rename(from, to) < 0)
                return -errno;
        return fk_model_save(&model);
}

/* bus/pci/rescan: removed devices come back with their override reset and,
 * with drivers_autoprobe on, are probed. */
static int rescan(bool *back) {
        char from[PATH_MAX], to[PATH_MAX];
        for (int i = 0; i < model.n_devs; i++) {
                struct fk_dev *dev = &model.devs[i];
                if (!dev->removed)
                        continue;
                snprintf(from, sizeof from, "%s/.fakekernel/removed/%s", root, dev->addr);
                root_path(to, sizeof to, dev->path);
                if (access(from, F_OK) == 0 && rename(from, to) < 0)
                        return -errno;
        }
        for (int i = 0; i < model.n_devs; i++) {
                struct fk_dev *dev = &model.devs[i];
                if (!dev->removed)
                        continue;
                dev->removed = false;
                dev_links(dev, true);
                (void) fk_dev_set_override(&model, dev, NULL);
                /* a new pci_dev: pci_init_reset_methods() finds the supported methods again */
                if (dev->n_resets >= 0)
                        (void) fk_dev_set_reset_method(&model, dev, dev->resets, dev->n_resets);
                back[i] = true;
        }
        int r = fk_model_save(&model);
        if (r < 0 || !autoprobe())
                return r;
        for (int i = 0; i < model.n_devs; i++)
                if (back[i])
                        (void) do_probe(model.devs[i].addr);
        return 0;
}

static int do_rescan(void) {
        bool *back = calloc((size_t) model.n_devs + 1, sizeof *back); /* which came back */
        if (!back)
                return -ENOMEM;
        int r = rescan(back);
        free(back);
        return r;
}

/* The rom attribute (Linux drivers/pci/pci-sysfs.c, pci_write_rom()): exactly "0\n" at offset 0
 * disables reading, any other write enables it; the bytes written go nowhere (the file keeps the
 * ROM image from the fixture). The enabled state: .fakekernel/romon/ADDR. */
static int do_rom(const struct fk_dev *dev, const void *data, size_t n) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/.fakekernel/romon", root);
        int r = fk_mkdir_p(p);
        if (r < 0)
                return r;
        snprintf(p, sizeof p, "%s/.fakekernel/romon/%s", root, dev->addr);
        if (n == 2 && memcmp(data, "0\n", 2) == 0)
                return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
        return fk_write_file(p, "", 0);
}

/* pci_read_rom(): -EINVAL until reading is enabled; -EIO when the image does not start with the
 * 0x55 0xAA signature (pci_map_rom() then finds no image: pci_get_rom_size() is 0). */
static int rom_read_check(int fd, const char *rel) {
        char addr[64], p[PATH_MAX];
        const char *end = strrchr(rel, '/'), *start = end;
        while (start > rel && start[-1] != '/')
                start--;
        snprintf(addr, sizeof addr, "%.*s", (int) (end - start), start);
        snprintf(p, sizeof p, "%s/.fakekernel/romon/%s", root, addr);
        if (access(p, F_OK) < 0)
                return -EINVAL;
        unsigned char sig[2];
        if (pread(fd, sig, 2, 0) != 2 || sig[0] != 0x55 || sig[1] != 0xaa)
                return -EIO;
        return 0;
}

static ssize_t rom_read(int fd, void *buf, size_t n, ssize_t (*real)(int, void *, size_t)) {
        char rel[PATH_MAX];
        if (!fd_relpath(fd, rel, sizeof rel) || !is_rom_path(rel)) {
                rom_fds[fd] = false; /* closed and reused for another file */
                return real(fd, buf, n);
        }
        int r = rom_read_check(fd, rel);
        if (r < 0) {
                errno = -r;
                return -1;
        }
        return real(fd, buf, n);
}

EXPORT ssize_t read(int fd, void *buf, size_t n) {
        static ssize_t (*real)(int, void *, size_t);
        if (!real)
                real = next("read");
        if (!active || in_shim || fd < 0 || fd >= ROM_FDS || !rom_fds[fd])
                return real(fd, buf, n);
        return rom_read(fd, buf, n, real);
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
        static ssize_t (*real)(int, void *, size_t);
        if (!real)
                real = next("read");
        if (n > buflen)
                abort();
        if (!active || in_shim || fd < 0 || fd >= ROM_FDS || !rom_fds[fd])
                return real(fd, buf, n);
        return rom_read(fd, buf, n, real);
}

static int generic_store(int fd, const void *data, size_t n) {
        if (ftruncate(fd, 0) < 0 || pwrite(fd, data, n, 0) < 0)
                return -errno;
        return 0;
}

/* The platform bus, for the firmware framebuffers (efi-framebuffer.0, ...): drivers/DRV/unbind
 * removes the driver link of the device named by the value (-ENODEV when it is not bound to
 * DRV), drivers/DRV/bind makes it (-ENODEV without such a device, -EBUSY when it is bound), as
 * unbind_store() and bind_store() of drivers/base/bus.c do. Returns 1 for another path. */
static int platform_write(const char *rel, const char *v) {
        char drv[128], file[32], dev[PATH_MAX], link[PATH_MAX], target[PATH_MAX], real[PATH_MAX], rroot[PATH_MAX];
        if (sscanf(rel, "sys/bus/platform/drivers/%127[^/]/%31s", drv, file) != 2 ||
            (strcmp(file, "bind") != 0 && strcmp(file, "unbind") != 0))
                return 1;
        if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
                return -ENODEV;
        snprintf(dev, sizeof dev, "%s/sys/bus/platform/devices/%s", root, v);
        snprintf(link, sizeof link, "%s/driver", dev);
        ssize_t l = readlink(link, target, sizeof target - 1);
        if (strcmp(file, "unbind") == 0) {
                if (l < 0)
                        return -ENODEV;
                target[l] = 0;
                const char *base = strrchr(target, '/');
                if (strcmp(base ? base + 1 : target, drv) != 0)
                        return -ENODEV;
                return unlink(link) < 0 ? -errno : 0;
        }
        if (l >= 0)
                return -EBUSY;
        if (!realpath(dev, real) || !realpath(root, rroot))
                return -ENODEV;
        /* relative, as the kernel's links: up from the device's directory to ROOT, then down */
        char rel_target[PATH_MAX] = "";
        for (const char *c = real + strlen(rroot); *c; c++)
                if (*c == '/')
                        strncat(rel_target, "../", sizeof rel_target - strlen(rel_target) - 1);
        strncat(rel_target, "sys/bus/platform/drivers/", sizeof rel_target - strlen(rel_target) - 1);
        strncat(rel_target, drv, sizeof rel_target - strlen(rel_target) - 1);
        return symlink(rel_target, link) < 0 ? -errno : 0;
}

/* Apply one write of DATA to the attribute REL (relative to ROOT). */
static int model_write(const char *rel, int fd, const void *data, size_t n) {
        char v[4096], drv[128], file[32], dir[PATH_MAX];
        int r = fk_model_load(root, &model);
        if (r < 0)
                return r;
        value(data, n, v, sizeof v);

        if (strncmp(rel, "sys/bus/usb/", 12) == 0 && (r = fk_usb_write(root, rel, v)) <= 0)
                return r;
        if (strncmp(rel, "sys/bus/platform/", 17) == 0 && (r = platform_write(rel, v)) <= 0)
                return r;
        if (sscanf(rel, "sys/bus/pci/drivers/%127[^/]/%31s", drv, file) == 2) {
                struct fk_driver *d = fk_driver_find(&model, drv);
                if (d && d->loaded) {
                        if (strcmp(file, "bind") == 0)
                                return do_bind(d, v);
                        if (strcmp(file, "unbind") == 0)
                                return do_unbind(d, v);
                        if (strcmp(file, "new_id") == 0)
                                return do_id(d, v, true);
                        if (strcmp(file, "remove_id") == 0)
                                return do_id(d, v, false);
                }
        }
        if (strcmp(rel, "sys/bus/pci/drivers_probe") == 0)
                return do_probe(v);
        if (strcmp(rel, "sys/bus/pci/rescan") == 0) {
                int k = flag(v);
                return k <= 0 ? k : do_rescan();
        }

        snprintf(dir, sizeof dir, "%s", rel);
        char *slash = strrchr(dir, '/');
        if (slash) {
                *slash = 0;
                struct fk_dev *dev = fk_dev_find_path(&model, dir);
                if (dev && strcmp(slash + 1, "driver_override") == 0)
                        return do_override(dev, data, n);
                /* a device without the attribute has no file to write; one a test made by hand
                 * keeps what is written */
                if (dev && dev->n_resets >= 0 && strcmp(slash + 1, "reset_method") == 0)
                        return do_reset_method(dev, data, n);
                if (dev && strcmp(slash + 1, "rom") == 0)
                        return do_rom(dev, data, n);
                if (dev && strcmp(slash + 1, "remove") == 0)
                {
                        int k = flag(v);
                        return k <= 0 ? k : do_remove(dev);
                }
        }
        return generic_store(fd, data, n);
}

static bool fk_exists(const char *rel) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", root, rel);
        return access(p, F_OK) == 0;
}

/* A STUCK write: a task in D state inside a store().  It goes on in a process of its own that
 * holds the device lock (DEVLOCK) and outlives the writer, as a killed task stuck in the kernel
 * outlives the signal; when ROOT/.fakekernel/unstick appears it takes effect, is logged with its
 * result, and lets go of the lock.  While it is pending, ROOT/.fakekernel/stuck/PID exists.  The
 * writer waits for it and returns its result. */
static int stuck_write(const char *rel, int fd, const void *data, size_t n, int devlock) {
        char mark[PATH_MAX];
        snprintf(mark, sizeof mark, "%s/.fakekernel/stuck", root);
        (void) mkdir(mark, 0755);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                in_shim++; /* its own copy: the write goes on in the shim */
                (void) setsid(); /* out of the writer's process group: kill(0) does not end it */
                /* keep only the attribute and the lock: not the caller's pipes */
                for (int k = 0; k < 1024; k++)
                        if (k != fd && k != devlock)
                                close(k);
                snprintf(mark, sizeof mark, "%s/.fakekernel/stuck/%d", root, (int) getpid());
                (void) fk_write_file(mark, "", 0);
                int r = -EIO;
                for (time_t end = time(NULL) + STUCK_MAX_S; time(NULL) < end;) {
                        if (!fk_exists(".fakekernel"))
                                _exit(EIO); /* the tree is gone */
                        if (fk_exists(".fakekernel/unstick")) {
                                int lk = lock();
                                r = model_write(rel, fd, data, n);
                                log_op(rel, data, n, -r);
                                unlock(lk);
                                break;
                        }
                        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
                }
                unlink(mark);
                _exit(-r);
        }
        if (devlock >= 0)
                close(devlock); /* the helper's copy keeps the lock */
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? -WEXITSTATUS(status) : -EIO;
}

/* One write(2) of N bytes to the ROOT/sys file REL open on FD. */
static ssize_t sys_write(const char *rel, int fd, const void *data, size_t n) {
        char addr[64];
        int fault, r, devlock = -1;
        /* the device lock first, as a store() takes it inside the kernel: a write waits for a
         * stuck one on the same device without holding up writes to other devices (a wait that
         * a kill may end: not counted in, see in_shim) */
        if (write_device(rel, data, n, addr, sizeof addr))
                devlock = devlock_take(addr, LOCK_EX);
        in_shim++;
        int lk = lock();
        long number = next_write_number();
        fault = fault_for(number, rel, false);
        if (fault == STUCK && fk_exists(".fakekernel/unstick"))
                fault = 0; /* released: STUCK faults are over */
        if (fault == KILL)
                die(rel, data, n, lk);
        if (fault == HANG) {
                log_op(rel, data, n, HANG);
                unlock(lk);
                if (devlock >= 0)
                        close(devlock);
                in_shim--;
                hang();
        }
        if (fault == STUCK) {
                log_op(rel, data, n, STUCK);
                unlock(lk);
                /* out before a wait that a kill may end: see in_shim */
                in_shim--;
                r = stuck_write(rel, fd, data, n, devlock);
                if (r < 0) {
                        errno = -r;
                        return -1;
                }
                return (ssize_t) n;
        }
        r = fault ? -fault : model_write(rel, fd, data, n);
        if (!fault && r < 0)
                fk_model_forget(&model); /* a failed store may have changed the tables unsaved */
        log_op(rel, data, n, -r);
        unlock(lk);
        if (devlock >= 0)
                close(devlock);
        in_shim--;
        if (r < 0) {
                errno = -r;
                return -1;
        }
        return (ssize_t) n;
}

static bool writable(int fd) {
        int fl = fcntl(fd, F_GETFL);
        return fl >= 0 && (fl & O_ACCMODE) != O_RDONLY;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n) {
        char rel[PATH_MAX];
        if (!real_write)
                real_write = next("write");
        if (!in_shim && kmsg_fd(fd) && !kmsg_ratelimit(fd))
                return (ssize_t) n; /* dropped */
        if (!active || in_shim || !fd_relpath(fd, rel, sizeof rel) || !writable(fd))
                return real_write(fd, buf, n);
        return sys_write(rel, fd, buf, n);
}

/* Shells write builtins' output through stdio, whose internal write is not
 * interposable.  Keep stdout fully buffered (bash asks for line buffering)
 * and model the pending bytes when the builtin flushes. */
EXPORT int setvbuf(FILE *f, char *buf, int mode, size_t size) {
        static int (*real)(FILE *, char *, int, size_t);
        if (!real)
                real = next("setvbuf");
        if (active && f == stdout && mode == _IOLBF)
                return 0;
        return real(f, buf, mode, size);
}

EXPORT void setlinebuf(FILE *f) {
        static void (*real)(FILE *);
        if (!real)
                real = next("setlinebuf");
        if (active && f == stdout)
                return;
        real(f);
}

#ifndef _IO_ERR_SEEN
#define _IO_ERR_SEEN 0x20
#endif

EXPORT int fflush(FILE *f) {
        char rel[PATH_MAX];
        if (!real_fflush)
                real_fflush = next("fflush");
        if (!active || in_shim || !f)
                return real_fflush(f);
        size_t pending = (size_t) (f->_IO_write_ptr - f->_IO_write_base);
        if (pending == 0 || !fd_relpath(fileno(f), rel, sizeof rel) || !writable(fileno(f)))
                return real_fflush(f);
        char *data = malloc(pending);
        if (!data)
                return real_fflush(f);
        memcpy(data, f->_IO_write_base, pending);
        f->_IO_write_ptr = f->_IO_write_base;
        ssize_t r = sys_write(rel, fileno(f), data, pending);
        free(data);
        if (r < 0) {
                f->_flags |= _IO_ERR_SEEN;
                return EOF;
        }
        return real_fflush(f);
}

/* ---------------------------------------------------------------- libkmod */

static void normalize(char *s) {
        for (; *s; s++)
                if (*s == '-')
                        *s = '_';
}

/* A module load: register every declared driver the module backs, then let
 * each attach to the unbound devices it matches, like module_init ->
 * pci_register_driver -> driver_attach. */
static int module_load(const char *name, bool fail_on_loaded) {
        char mod[64], key[128], m2[64];
        int r = 0;
        snprintf(mod, sizeof mod, "%s", name);
        normalize(mod);
        snprintf(key, sizeof key, "modprobe:%s", mod);
        in_shim++;
        int lk = lock();
        int fault = fault_for(0, key, true);
        if (fault == KILL)
                die(key, "", 0, lk);
        if (fault == HANG) {
                log_op(key, "", 0, HANG);
                unlock(lk);
                in_shim--;
                hang();
        }
        if (fault) {
                r = -fault;
                goto out;
        }
        if ((r = fk_model_load(root, &model)) < 0)
                goto out;
        int backed = 0, fresh = 0;
        for (int i = 0; i < model.n_drivers; i++) {
                struct fk_driver *d = &model.drivers[i];
                snprintf(m2, sizeof m2, "%s", d->module);
                normalize(m2);
                if (!d->module[0] || strcmp(m2, mod) != 0)
                        continue;
                backed++;
                if (d->loaded)
                        continue;
                if ((r = fk_driver_materialize(&model, d)) < 0)
                        goto out;
                fresh++;
        }
        if (!backed) {
                r = -ENOENT;
                goto out;
        }
        if (!fresh) {
                r = fail_on_loaded ? -EEXIST : 0;
                goto out;
        }
        if ((r = fk_model_save(&model)) < 0)
                goto out;
        if (autoprobe())
                for (int i = 0; i < model.n_drivers; i++) {
                        snprintf(m2, sizeof m2, "%s", model.drivers[i].module);
                        normalize(m2);
                        if (strcmp(m2, mod) == 0)
                                attach_all(&model.drivers[i]);
                }
out:
        if (!fault && r < 0)
                fk_model_forget(&model); /* a failed load may have changed the tables unsaved */
        log_op(key, "", 0, -r);
        unlock(lk);
        in_shim--;
        return r;
}

/* The shim is not linked with libkmod (every program under it would pay for loading libkmod and
 * libcrypto, tests/bench/bench.sh's anchors included): a program that reaches the functions
 * below has libkmod loaded, by its link or lib/modules.c's dlopen(), and its names are found
 * after the shim's. */
static const char *module_name(struct kmod_module *mod) {
        static const char *(*get_name)(const struct kmod_module *);
        if (!get_name)
                get_name = next("kmod_module_get_name");
        return get_name ? get_name(mod) : NULL;
}

EXPORT int kmod_module_probe_insert_module(struct kmod_module *mod, unsigned int flags,
                                           const char *extra_options,
                                           int (*run_install)(struct kmod_module *m, const char *cmdline,
                                                              void *data),
                                           const void *data,
                                           void (*print_action)(struct kmod_module *m, bool install,
                                                                const char *options)) {
        if (!active || !host_mode) {
                int (*real)(struct kmod_module *, unsigned, const char *,
                            int (*)(struct kmod_module *, const char *, void *), const void *,
                            void (*)(struct kmod_module *, bool, const char *)) =
                        next("kmod_module_probe_insert_module");
                return real ? real(mod, flags, extra_options, run_install, data, print_action) : -ENOSYS;
        }
        const char *name = module_name(mod);
        if (!name)
                return -EINVAL;
        return module_load(name, flags & KMOD_PROBE_FAIL_ON_LOADED);
}

EXPORT int kmod_module_insert_module(struct kmod_module *mod, unsigned int flags, const char *options) {
        if (!active || !host_mode) {
                int (*real)(struct kmod_module *, unsigned, const char *) = next("kmod_module_insert_module");
                return real ? real(mod, flags, options) : -ENOSYS;
        }
        const char *name = module_name(mod);
        if (!name)
                return -EINVAL;
        /* init_module(2) on a loaded module: EEXIST */
        return module_load(name, true);
}

/* In host mode libkmod reads ROOT's module directory and modprobe.d: NULL means the running
 * kernel's (ROOT/lib/modules/RELEASE) and libkmod's default configuration directories, an
 * absolute path is taken inside ROOT. */
EXPORT struct kmod_ctx *kmod_new(const char *dirname, const char *const *config_paths) {
        static struct kmod_ctx *(*real)(const char *, const char *const *);
        static const char *const defaults[] = {
                "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                "/usr/lib/modprobe.d", "/lib/modprobe.d", NULL,
        };
        char dir[PATH_MAX], paths[8][PATH_MAX];
        const char *v[9];
        struct utsname u;
        if (!real)
                real = next("kmod_new");
        if (!active || !host_mode)
                return real(dirname, config_paths);
        if (!dirname) {
                if (uname(&u) < 0)
                        return NULL;
                snprintf(dir, sizeof dir, "%s/lib/modules/%s", root, u.release);
        } else
                snprintf(dir, sizeof dir, "%s%s", dirname[0] == '/' ? root : "", dirname);
        const char *const *c = config_paths ? config_paths : defaults;
        int n = 0;
        for (; c[n] && n < 8; n++) {
                snprintf(paths[n], sizeof paths[n], "%s%s", c[n][0] == '/' ? root : "", c[n]);
                v[n] = paths[n];
        }
        v[n] = NULL;
        return real(dir, v);
}

/* A module file must never reach the running kernel from a test: EPERM, logged as
 * "init_module:NAME" (NAME: the file's name, or "(image)" for init_module's memory image). */
static long refuse_module(const char *what) {
        char key[PATH_MAX + 16];
        snprintf(key, sizeof key, "init_module:%s", what);
        in_shim++;
        int lk = lock();
        log_op(key, "", 0, EPERM);
        unlock(lk);
        in_shim--;
        errno = EPERM;
        return -1;
}

static long refuse_finit(int fd) {
        char l[64], t[PATH_MAX] = "(unknown)";
        snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(l, t, sizeof t - 1);
        if (k > 0)
                t[k] = 0;
        const char *slash = strrchr(t, '/');
        return refuse_module(slash ? slash + 1 : t);
}

int init_module(void *image, unsigned long size, const char *params);
int finit_module(int fd, const char *params, int flags);

EXPORT int init_module(void *image, unsigned long size, const char *params) {
        if (!active) {
                int (*real)(void *, unsigned long, const char *) = next("init_module");
                return real ? real(image, size, params) : (errno = ENOSYS, -1);
        }
        return (int) refuse_module("(image)");
}

EXPORT int finit_module(int fd, const char *params, int flags) {
        if (!active) {
                int (*real)(int, const char *, int) = next("finit_module");
                return real ? real(fd, params, flags) : (int) syscall(SYS_finit_module, fd, params, flags);
        }
        return (int) refuse_finit(fd);
}

/* libkmod calls finit_module through syscall(2) where libc has no wrapper. */
EXPORT long syscall(long number, ...) {
        static long (*real)(long, ...);
        va_list ap;
        long a[6];
        va_start(ap, number);
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        if (!real)
                real = next("syscall");
        if (active && number == SYS_finit_module)
                return refuse_finit((int) a[0]);
        if (active && number == SYS_init_module)
                return refuse_module("(image)");
        return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
