/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The libvirt qemu hook, installed as SYSCONFDIR/libvirt/hooks/qemu.d/vfio-claim:
 *
 *   vfio-claim-hook DOMAIN OPERATION SUB-OPERATION EXTRA   (the domain XML on stdin)
 *
 * libvirtd runs it for every operation of every domain, so this front does the least it can
 * and links nothing but the C library (statically where the build allows): loading libxml2,
 * libkmod and libudev alone costs several times what a whole run of this program does.
 *
 *   prepare begin: read the XML (larger than VC_DOMAIN_XML_MAX: refused, exit 1, whatever it
 *                  holds); a domain whose XML does not contain "hostdev" cannot name a
 *                  PCI host device (<hostdev> and <interface type='hostdev'> are the only
 *                  ways, and libvirt writes the XML it hands us itself): exit 0. Otherwise the
 *                  XML goes on, in a sealed memfd on stdin, to vfio-claim-hook-worker.
 *   release end:   vfio-claim-hook-worker (it needs the state records, not the XML).
 *   started begin: vfio-claim-hook-worker only when a state record names the domain as its owner
 *                  with a "starter" (a VM our prepare took a group for): for every other domain
 *                  this costs one directory listing. The records are found in
 *                  RUNSTATEDIR/vfio-claim, under $VFIO_CLAIM_SYSROOT when it is set.
 *   anything else: exit 0 at once. "reconnect" must never fail: a failing reconnect hook kills
 *                  a running VM. Not reading stdin is fine: libvirt ignores EPIPE on it.
 *
 * The worker is found next to this program (the link in qemu.d resolved), else in
 * LIBEXECDIR/vfio-claim. stdout is never written. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "domain-xml.h" /* VC_DOMAIN_XML_MAX(_TOO_LARGE) only: nothing of the library is linked */
#include "macro.h"

#define WORKER "vfio-claim-hook-worker"

static int fail(const char *what, int error) {
        fprintf(stderr, "vfio-claim: %s: %s; the hook could not run (reinstall vfio-claim, then restart libvirtd)\n",
                what, strerror(error));
        return 1;
}

/* Read @fd to its end, at most @max bytes: -EFBIG when there is more. Reading stops there; the
 * rest stays unread, which libvirt tolerates (it ignores EPIPE on our stdin). */
static int read_all(int fd, size_t max, char **ret, size_t *ret_len) {
        size_t cap = 16 * 1024, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap > max)
                                return -EFBIG; /* max + 1 bytes read: the input is too large */
                        size_t ncap = cap * 2 > max ? max + 1 : cap * 2;
                        char *n = realloc(buf, ncap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        cap = ncap;
                }
                ssize_t k = read(fd, buf + len, cap - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Put @buf on stdin as a sealed memfd: the worker reads it like a pipe, and what it reads is
 * exactly what was checked here (no write, no resize, no further seal once sealed). */
static int buffer_to_stdin(const char *buf, size_t len) {
        _cleanup_close_ int fd = memfd_create("domain-xml", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        for (size_t done = 0; done < len;) {
                ssize_t k = write(fd, buf + done, len - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) k;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        if (lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, STDIN_FILENO) < 0) /* dup2: no CLOEXEC */
                return -errno;
        return 0;
}

/* Does a record in the state directory name @vm as an owner that is still starting? Records are
 * small (lib/state.c: at most 64 KiB) and the "starter" line follows the "owner" line. Anything
 * unreadable counts as yes: the worker then decides, reading the records properly. */
static bool starting_record_names(const char *vm) {
        const char *sysroot = secure_getenv("VFIO_CLAIM_SYSROOT");
        char dir[PATH_MAX], needle[512];
        if (!sysroot || !*sysroot)
                sysroot = "";
        if ((size_t) snprintf(dir, sizeof dir, "%s%s/vfio-claim", sysroot, RUNSTATEDIR) >= sizeof dir ||
            (size_t) snprintf(needle, sizeof needle, "\nowner %s\nstarter ", vm) >= sizeof needle)
                return true;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno != ENOENT;
        DIR *d = fdopendir(dfd);
        if (!d)
                return true;
        dfd = -1; /* the DIR owns it */
        bool found = false;
        for (struct dirent *e; !found && (e = readdir(d));) {
                if (strncmp(e->d_name, "group-", 6) != 0)
                        continue;
                _cleanup_close_ int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                if (fd < 0)
                        continue; /* removed meanwhile */
                if (read_all(fd, 64 * 1024, &text, &len) < 0)
                        found = true;
                else
                        found = memmem(text, len, needle, strlen(needle)) != NULL;
        }
        closedir(d);
        return found;
}

static void worker_path(const char *argv0, char *ret, size_t size) {
        char self[PATH_MAX];
        if (strchr(argv0, '/') && realpath(argv0, self)) {
                char *slash = strrchr(self, '/');
                *slash = 0;
                if ((size_t) snprintf(ret, size, "%s/" WORKER, self) < size && access(ret, X_OK) == 0)
                        return;
        }
        snprintf(ret, size, "%s/vfio-claim/" WORKER, LIBEXECDIR);
}

int main(int argc, char **argv) {
        char worker[PATH_MAX];

        if (argc < 3) {
                fprintf(stderr, "vfio-claim: usage: vfio-claim-hook DOMAIN OPERATION SUB-OPERATION EXTRA "
                                "(run by libvirtd from qemu.d; see vfio-claim-hook(8))\n");
                return 1;
        }
        const char *op = argv[2], *sub = argc > 3 ? argv[3] : "-";
        bool prepare = streq(op, "prepare") && streq(sub, "begin");
        bool release = streq(op, "release") && streq(sub, "end");
        bool started = streq(op, "started") && streq(sub, "begin");
        if (!prepare && !release && !started)
                return 0;
        if (started && !starting_record_names(argv[1]))
                return 0;

        if (prepare) {
                _cleanup_free_ char *xml = NULL;
                size_t len = 0;
                int r = read_all(STDIN_FILENO, VC_DOMAIN_XML_MAX, &xml, &len);
                if (r == -EFBIG) {
                        /* Whatever it holds: a <hostdev> past the limit would go unseen. */
                        fprintf(stderr, "vfio-claim: " VC_DOMAIN_XML_TOO_LARGE "\n", argv[1], VC_DOMAIN_XML_MAX,
                                argv[1]);
                        return 1;
                }
                if (r < 0)
                        return fail("cannot read the domain XML on stdin", -r);
                if (len > 0 && !memmem(xml, len, "hostdev", strlen("hostdev")))
                        return 0; /* no PCI host device: nothing of ours */
                r = buffer_to_stdin(xml, len);
                if (r < 0)
                        return fail("cannot hand the domain XML on", -r);
        }

        /* stdout belongs to libvirt (for migrate and restore it is the new domain XML): whatever
         * a library in the worker might print there goes nowhere. */
        int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDOUT_FILENO) < 0)
                return fail("cannot open /dev/null", errno);
        close(null_fd);

        worker_path(argv[0], worker, sizeof worker);
        argv[0] = (char *) WORKER;
        execv(worker, argv);
        return fail(worker, errno);
}
