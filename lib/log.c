/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static enum vc_log_target log_target = VC_LOG_STDERR;
static int log_max_level = LOG_INFO;
static const char *log_ident = PACKAGE_NAME;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

/* The kernel rate-limits what is written to /dev/kmsg per open file, unless printk.devkmsg=on is
 * on its command line: by default at most 10 messages in 5 s, and the others are dropped while
 * write() reports them written. A boot pass in the initramfs says more than that in a moment, and
 * what it says last (its errors, its closing line) is what matters. So each message is written
 * through a file of its own, opened for it (O_APPEND: the device ignores it; a test's stand-in
 * file needs it, tests/fakekernel/README.md). */
static int kmsg_open(void) {
        return open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC | O_APPEND);
}

void vc_log_open(enum vc_log_target target, const char *ident) {
        log_target = target;
        if (ident)
                log_ident = ident;
        if (target == VC_LOG_SYSLOG)
                openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        else if (target == VC_LOG_KMSG) {
                int fd = kmsg_open();
                if (fd < 0) /* no /dev/kmsg: nothing better than stderr */
                        log_target = VC_LOG_STDERR;
                else
                        close(fd);
        }
}

void vc_log_close(void) {
        if (log_target == VC_LOG_SYSLOG)
                closelog();
        log_target = VC_LOG_STDERR;
}

void vc_log_set_max_level(int level) { log_max_level = level; }
int vc_log_get_max_level(void) { return log_max_level; }

int vc_log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        if (streq(s, "error"))
                return LOG_ERR;
        for (size_t i = LOG_ERR; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int) i;
        return -EINVAL;
}

const char *vc_log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

int vc_log_internal(int level, int error, const char *fmt, ...) {
        int saved_errno = errno;
        if (error < 0)
                error = -error;
        if (level > log_max_level)
                goto out;

        char buf[2048];
        va_list ap;
        va_start(ap, fmt);
        errno = error; /* for %m */
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);

        switch (log_target) {
        case VC_LOG_SYSLOG:
                syslog(level, "%s", buf);
                break;
        case VC_LOG_KMSG: {
                char line[2200];
                int n = snprintf(line, sizeof line, "<%d>%s[%d]: %s\n", LOG_DAEMON | level,
                                 log_ident, (int) getpid(), buf);
                int fd = kmsg_open();
                if (fd < 0) { /* gone since (or out of descriptors): stderr rather than nothing */
                        fprintf(stderr, "%s: %s\n", log_ident, buf);
                        break;
                }
                if (n > 0 && write(fd, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1) < 0) {
                        /* the kernel log refused it; the message has nowhere else to go */
                }
                close(fd);
                break;
        }
        case VC_LOG_STDERR:
        default:
                fprintf(stderr, "%s: %s\n", log_ident, buf);
                break;
        }
out:
        errno = saved_errno;
        return -error;
}
