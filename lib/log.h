/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where a program's messages go. The library itself logs at debug level only; programs choose
 * the target: the CLI writes to stderr, the hook and the udev helper to syslog (the journal),
 * the initramfs helper to /dev/kmsg. */

#include <syslog.h>

#include "macro.h"

enum vc_log_target {
        VC_LOG_STDERR,
        VC_LOG_SYSLOG,
        VC_LOG_KMSG,
};

void vc_log_open(enum vc_log_target target, const char *ident);
void vc_log_close(void);
void vc_log_set_max_level(int level);
int vc_log_get_max_level(void);
/* Parse "debug", "info", "notice", "warning", "err" (and "error"); -EINVAL otherwise. */
int vc_log_level_from_string(const char *s);
const char *vc_log_level_to_string(int level);

/* Logs at @level and returns -abs(error) (or 0 when error is 0). %m expands to strerror(error). */
int vc_log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) vc_log_internal((level), (error), __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
