/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who this host is, for inventories merged from many hosts (list --json, export): its name and
 * its machine id, both read inside the context's root, so that --sysroot describes the system
 * below it and not the one running the program. */

#include "macro.h"
#include "root.h"

struct vc_host_identity {
        char *hostname;   /* the kernel's host name, else /etc/hostname; NULL when neither */
        char *machine_id; /* /etc/machine-id: 32 lowercase hex digits; NULL when absent/invalid */
};

/* Fills what it finds; fields it cannot read stay NULL. Returns 0, or -ENOMEM. */
int vc_host_identity_read(struct vc_ctx *ctx, struct vc_host_identity *ret);
void vc_host_identity_done(struct vc_host_identity *h);

/* A host name as the kernel and hostname(7) allow it: 1..64 characters of letters, digits, '-'
 * and '.', not starting with '-' or '.'. */
bool vc_hostname_is_valid(const char *s);

/* Whether the first "flags" line of /proc/cpuinfo (inside the context's root) lists @flag, a
 * word such as "pdpe1gb": 1 yes, 0 no (also when there is no such line), -errno when the file
 * cannot be read. */
int vc_host_cpu_has_flag(struct vc_ctx *ctx, const char *flag);
