/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The SSH session a program runs in, and the network interface its traffic takes: what an admin
 * logged in over SSH would lose with that interface's NIC (lib/critical.h protects it).
 *
 * The session's peers come from the process tree, read under the context's root:
 *  - the ancestors of proc/self (proc/PID/stat's parent) up to pid 1, and among them an sshd
 *    ("sshd", or "sshd-session" since OpenSSH 9.8, by proc/PID/comm): the peers of its
 *    established TCP sockets (proc/PID/fd links "socket:[INODE]", looked up in proc/net/tcp and
 *    proc/net/tcp6);
 *  - the SSH_CONNECTION ("CLIENT CPORT SERVER SPORT") of the program's and its ancestors'
 *    environments (proc/PID/environ): sudo drops it from the program's own but not from the
 *    shell above it, and a shell in tmux or screen keeps it from the client that started it while
 *    the server's parent is init, not the sshd.
 * Each peer's route in proc/net/route or proc/net/ipv6_route (the main table: the longest prefix
 * that holds it, then the lowest metric) names the interface. A peer on the host itself (a route
 * through "lo") names none. */

#include <stddef.h>

#include "root.h"

struct vc_session_link {
        char *iface; /* "eth1" */
        char *peer;  /* "192.168.5.10", "fd00::10" */
};

void vc_session_links_free(struct vc_session_link *v, size_t n);

/* The interfaces the SSH sessions among the program's ancestors go through, one entry per session
 * socket whose peer has a route (none when the program runs in no SSH session). -ENOMEM; what
 * cannot be read (a process gone, a table missing) is passed over. */
int vc_session_links(struct vc_ctx *ctx, struct vc_session_link **ret, size_t *ret_n);
