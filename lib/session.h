/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The session a program runs in: the SSH session and the network interface its traffic takes (what
 * an admin logged in over SSH would lose with that interface's NIC), the terminal it runs on and
 * a local graphical session (what an admin at the machine would lose with their keyboard or their
 * serial line). lib/critical.h protects them.
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
 * that holds it, then the lowest metric) names an interface. So does the host's own address the
 * session came in on (the socket's local address, SSH_CONNECTION's SERVER): a multi-homed host's
 * policy routing may send the replies there and not by the main table. An IPv6 address names the
 * interfaces that hold it (proc/net/if_inet6); an IPv4 one the main table's route to it, the
 * subnet it was given with (one only a default route reaches adds nothing). An address with a
 * zone ("fe80::10%eth1", as SSH_CONNECTION has a link-local one) names that interface, and no
 * other lookup is made for it; a link-local peer's route names none (every interface has one to
 * fe80::/64: the local address says which). A peer on the host itself (a route through "lo", an
 * address of "lo") names none. */

#include <stddef.h>

#include "root.h"

struct vc_session_link {
        char *iface; /* "eth1" */
        char *peer;  /* "192.168.5.10", "fd00::10" */
};

/* Where the program's admin sits, read from the program and its ancestors (see above). */
struct vc_session {
        struct vc_session_link *links; /* the interfaces of its SSH sessions, each with the peer it serves */
        size_t n_links;
        /* The terminal it runs on: the first controlling terminal (proc/PID/stat's tty_nr) among the
         * program and its ancestors that is no pseudo-terminal: a virtual terminal (4:0 to 4:63), a
         * serial line (ttyS0 4:64, ttyUSB0 188:0), the console (5:1). 0:0 when none: over SSH, in a
         * graphical terminal, from a service. sudo gives the program a pseudo-terminal; the shell
         * above it keeps the admin's. When none is found, the virtual terminal of a login an
         * environment describes (XDG_SESSION_TYPE=tty and XDG_VTNR=N, 1 to 63, both in one
         * environment, as pam_systemd sets them): tmux or screen runs a shell on a
         * pseudo-terminal, the server's parent is init, and the shell keeps the environment of
         * the login on tty2 it was started from. A graphical session's XDG_VTNR (XDG_SESSION_TYPE
         * x11 or wayland) is not one: its display is. */
        unsigned tty_major, tty_minor;
        /* A local graphical session the same environments name: DISPLAY of a local X server
         * (":0", "unix:0"), or WAYLAND_DISPLAY; NULL when none. A forwarded DISPLAY
         * ("localhost:10.0") is not local. */
        char *display;
};

void vc_session_done(struct vc_session *s);

/* Read the session of the program. -ENOMEM; what cannot be read (a process gone, a table missing)
 * is passed over. */
int vc_session_read(struct vc_ctx *ctx, struct vc_session *ret);

/* The interface of the main table's route to @address (an IPv4 or IPv6 address as text), as
 * the kernel would choose it: the longest prefix, then the lowest metric. NULL in *ret when no
 * route holds it (or only "lo"); -EINVAL for text that is no address. */
int vc_route_iface(struct vc_ctx *ctx, const char *address, char **ret);
