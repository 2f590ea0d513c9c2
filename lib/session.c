/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SSH session a program runs in (lib/session.h). Formats: proc(5) for /proc/PID/stat and
 * /proc/net/tcp (addresses as the kernel prints a __be32 or each __be32 of an IPv6 address,
 * "%08X" in host order), /proc/net/route (the same for Destination and Mask), /proc/net/ipv6_route
 * (destination in network order, byte by byte) and /proc/net/if_inet6 (the address the same). */

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "session.h"
#include "sysfs.h"

#define ANCESTORS_MAX 64
/* An environment's variables: read ENVIRON_CHUNK bytes at a time, ENVIRON_MAX in all, the first
 * ENVIRON_ENTRY_MAX bytes of each (environment_scan()). */
#define ENVIRON_CHUNK (64u << 10)
#define ENVIRON_MAX (64u << 20)
#define ENVIRON_ENTRY_MAX 4096u
#define RTF_UP_FLAG 0x0001
#define RTF_REJECT_FLAG 0x0200

static void links_free(struct vc_session_link *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].iface);
                free(v[i].peer);
        }
        free(v);
}

/* The parent and the controlling terminal of @pid ("self" when 0) from its stat: "PID (COMM) STATE
 * PPID PGRP SESSION TTY_NR ...", COMM may hold blanks and parentheses, so the last ')' ends it.
 * false when it cannot be read. */
static bool stat_of(struct vc_ctx *ctx, unsigned pid, unsigned *ret_ppid, unsigned *ret_tty) {
        _cleanup_free_ char *p = NULL, *stat = NULL;
        int ppid, tty;
        char state;
        if ((pid ? vc_ctx_path(ctx, VC_PLACE_PROC, &p, "%u/stat", pid) : vc_ctx_path(ctx, VC_PLACE_PROC, &p, "self/stat")) < 0 ||
            vc_read_file(p, &stat) < 0)
                return false;
        const char *close = strrchr(stat, ')');
        if (!close || sscanf(close + 1, " %c %d %*d %*d %d", &state, &ppid, &tty) != 3)
                return false;
        *ret_ppid = ppid > 0 ? (unsigned) ppid : 0;
        *ret_tty = tty > 0 ? (unsigned) tty : 0;
        return true;
}

/* A terminal an admin sits at: none (0), a pseudo-terminal (the BSD ones' majors 2 and 3, Unix98's
 * masters 128 to 135 and slaves 136 to 143: SSH, a terminal emulator, sudo's own) or /dev/tty are
 * not. tty_nr holds the device number as the kernel encodes it: minor bits 0-7 and 20-31, major
 * bits 8-19. */
static bool device_terminal(unsigned tty, unsigned *ret_major, unsigned *ret_minor) {
        unsigned major = (tty >> 8) & 0xfff, minor = (tty & 0xff) | ((tty >> 12) & 0xfff00);
        if (tty == 0 || major == 2 || major == 3 || (major >= 128 && major <= 143) || (major == 5 && minor == 0))
                return false;
        *ret_major = major;
        *ret_minor = minor;
        return true;
}

static bool is_sshd(struct vc_ctx *ctx, unsigned pid) {
        _cleanup_free_ char *p = NULL, *comm = NULL;
        if (vc_ctx_path(ctx, VC_PLACE_PROC, &p, "%u/comm", pid) < 0 || vc_read_file(p, &comm) < 0)
                return false;
        return streq(comm, "sshd") || streq(comm, "sshd-session");
}

static int inodes_add(unsigned long **v, size_t *n, unsigned long inode) {
        for (size_t i = 0; i < *n; i++)
                if ((*v)[i] == inode)
                        return 0;
        unsigned long *w = realloc(*v, (*n + 1) * sizeof *w);
        if (!w)
                return -ENOMEM;
        *v = w;
        w[(*n)++] = inode;
        return 0;
}

/* The inodes of the sockets @pid holds ("socket:[INODE]" links in proc/PID/fd). */
static int socket_inodes(struct vc_ctx *ctx, unsigned pid, unsigned long **v, size_t *n) {
        _cleanup_free_ char *p = NULL;
        _cleanup_strv_free_ char **fds = NULL;
        int r;

        if ((r = vc_ctx_path(ctx, VC_PLACE_PROC, &p, "%u/fd", pid)) < 0)
                return r;
        _cleanup_close_ int dfd = vc_path_open(p, O_RDONLY | O_DIRECTORY, 0);
        if (dfd < 0)
                return dfd == -ENOMEM ? dfd : 0;
        /* listed through a second descriptor of the same open directory: its links are read at dfd */
        int list_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (list_fd < 0 || (r = vc_dir_list_fd(list_fd, &fds)) < 0)
                return list_fd >= 0 && r == -ENOMEM ? r : 0;
        for (char **f = fds; *f; f++) {
                char target[64];
                unsigned long inode;
                ssize_t k = readlinkat(dfd, *f, target, sizeof target - 1);
                if (k <= 0)
                        continue;
                target[k] = '\0';
                if (sscanf(target, "socket:[%lu]", &inode) == 1 && (r = inodes_add(v, n, inode)) < 0)
                        return r;
        }
        return 0;
}

/* An address: IPv4 as the kernel prints a __be32 ("%08X" of it in host order), or IPv6 bytes. */
struct addr {
        bool v6;
        uint32_t v4;
        struct in6_addr a6;
};

/* An SSH connection: its client's address (the peer), and when known its server's: the host's own
 * address the session came in on. Each with the interface its scope zone names, "" when none
 * (SSH_CONNECTION's "fe80::10%eth1"). */
struct conn {
        struct addr client, server;
        bool has_server;
        char client_zone[IFNAMSIZ], server_zone[IFNAMSIZ];
};

static bool parse_hex_u32(const char *s, uint32_t *ret) {
        char buf[9], *end;
        if (strspn(s, "0123456789abcdefABCDEF") < 8)
                return false;
        memcpy(buf, s, 8);
        buf[8] = '\0';
        *ret = (uint32_t) strtoul(buf, &end, 16);
        return *end == '\0';
}

/* 32 hex digits, the bytes of an IPv6 address in network order (ipv6_route, if_inet6). */
static bool parse_hex_in6(const char *s, struct in6_addr *ret) {
        if (strspn(s, "0123456789abcdefABCDEF") < 32)
                return false;
        for (int i = 0; i < 16; i++) {
                unsigned b;
                if (sscanf(s + 2 * i, "%2x", &b) != 1)
                        return false;
                ret->s6_addr[i] = (uint8_t) b;
        }
        return true;
}

/* An IPv4-mapped IPv6 address is taken as IPv4. */
static void addr_unmap(struct addr *a) {
        if (a->v6 && IN6_IS_ADDR_V4MAPPED(&a->a6)) {
                memcpy(&a->v4, a->a6.s6_addr + 12, 4);
                memset(&a->a6, 0, sizeof a->a6);
                a->v6 = false;
        }
}

/* "0A05A8C0:D2F4" (tcp) or 32 hex digits and a port (tcp6): the address part. */
static bool parse_socket_addr(const char *s, bool v6, struct addr *ret) {
        const char *colon = strchr(s, ':');
        *ret = (struct addr){ 0 };
        if (!v6)
                return colon && colon - s == 8 && parse_hex_u32(s, &ret->v4);
        if (!colon || colon - s != 32)
                return false;
        for (int i = 0; i < 4; i++) {
                uint32_t w;
                if (!parse_hex_u32(s + 8 * i, &w))
                        return false;
                memcpy(ret->a6.s6_addr + 4 * i, &w, 4); /* each word as the kernel holds it */
        }
        ret->v6 = true;
        addr_unmap(ret);
        return true;
}

/* A name the kernel would give an interface: one path component, not "." or "..", shorter than
 * IFNAMSIZ, no ':', white space or control character. */
static bool iface_name_valid(const char *s) {
        if (isempty(s) || strlen(s) >= IFNAMSIZ || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || *p == ':' || isspace((unsigned char) *p) || iscntrl((unsigned char) *p))
                        return false;
        return true;
}

/* "192.168.5.10", "fd00::10", "fe80::10%eth1" (SSH_CONNECTION's): the zone into @ret_zone, ""
 * when there is none or it is no interface's name (the address counts without it). */
static bool parse_text_addr(const char *s, struct addr *ret, char ret_zone[static IFNAMSIZ]) {
        char buf[INET6_ADDRSTRLEN];
        const char *zone = strchr(s, '%');
        size_t len = zone ? (size_t) (zone - s) : strlen(s);

        *ret = (struct addr){ 0 };
        ret_zone[0] = '\0';
        if (len >= sizeof buf)
                return false;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (inet_pton(AF_INET, buf, &ret->v4) != 1) {
                if (inet_pton(AF_INET6, buf, &ret->a6) != 1)
                        return false;
                ret->v6 = true;
                addr_unmap(ret);
        }
        if (zone && iface_name_valid(zone + 1))
                strcpy(ret_zone, zone + 1);
        return true;
}

static bool addr_equal(const struct addr *a, const struct addr *b) {
        return a->v6 == b->v6 && (a->v6 ? memcmp(&a->a6, &b->a6, sizeof a->a6) == 0 : a->v4 == b->v4);
}

static int conns_add(struct conn **v, size_t *n, const struct conn *c) {
        for (size_t i = 0; i < *n; i++) {
                const struct conn *q = &(*v)[i];
                if (addr_equal(&q->client, &c->client) && streq(q->client_zone, c->client_zone) &&
                    q->has_server == c->has_server &&
                    (!c->has_server || (addr_equal(&q->server, &c->server) && streq(q->server_zone, c->server_zone))))
                        return 0;
        }
        struct conn *w = realloc(*v, (*n + 1) * sizeof *w);
        if (!w)
                return -ENOMEM;
        *v = w;
        w[(*n)++] = *c;
        return 0;
}

/* The connections of the sockets @inodes among proc/net/tcp and tcp6, added to *@v. */
static int conns_of(struct vc_ctx *ctx, const unsigned long *inodes, size_t n_inodes, struct conn **v, size_t *n) {
        static const char *const tables[] = { "net/tcp", "net/tcp6" };

        for (size_t t = 0; t < ELEMENTSOF(tables); t++) {
                _cleanup_free_ char *p = NULL, *line = NULL;
                _cleanup_fclose_ FILE *f = NULL;
                size_t size = 0;
                int r = vc_ctx_path(ctx, VC_PLACE_PROC, &p, "%s", tables[t]);
                if (r < 0)
                        return r;
                /* line by line: a busy host's table is megabytes */
                int fd = vc_path_open(p, O_RDONLY, 0);
                if (fd < 0)
                        continue;
                if (!(f = fdopen(fd, "re"))) {
                        close(fd);
                        return -ENOMEM;
                }
                /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode; st 01 is
                 * ESTABLISHED (the sshd listening on the port is an ancestor too) */
                while (getline(&line, &size, f) > 0) {
                        char loc[64], rem[64];
                        unsigned long inode;
                        unsigned st;
                        struct conn c = { .has_server = true };
                        if (sscanf(line, " %*s %63s %63s %x %*s %*s %*s %*s %*s %lu", loc, rem, &st, &inode) != 4 || st != 0x01)
                                continue;
                        bool ours = false;
                        for (size_t i = 0; i < n_inodes && !ours; i++)
                                ours = inodes[i] == inode;
                        if (ours && parse_socket_addr(rem, t == 1, &c.client) && parse_socket_addr(loc, t == 1, &c.server) &&
                            (r = conns_add(v, n, &c)) < 0)
                                return r;
                }
        }
        return 0;
}

static int open_proc_net(struct vc_ctx *ctx, const char *table, FILE **ret) {
        _cleanup_free_ char *p = NULL;
        int r;

        *ret = NULL;
        if ((r = vc_ctx_path(ctx, VC_PLACE_PROC, &p, "net/%s", table)) < 0)
                return r;
        int fd = vc_path_open(p, O_RDONLY, 0);
        if (fd < 0)
                return 0;
        if (!(*ret = fdopen(fd, "re"))) {
                close(fd);
                return -ENOMEM;
        }
        return 0;
}

/* Does the route of @line (proc/net/route or ipv6_route) hold @a? Its interface into @iface, its
 * prefix's length and its metric. */
static bool route_holds(const char *line, const struct addr *a, char iface[static 64], int *ret_len, unsigned long *ret_metric) {
        char dest[64], mask[64];
        unsigned flags;

        if (!a->v6) {
                /* Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT */
                uint32_t d, m;
                if (sscanf(line, "%63s %63s %*s %x %*s %*s %lu %63s", iface, dest, &flags, ret_metric, mask) != 5 ||
                    strlen(dest) != 8 || strlen(mask) != 8 || !parse_hex_u32(dest, &d) || !parse_hex_u32(mask, &m) ||
                    (a->v4 & m) != d)
                        return false;
                *ret_len = __builtin_popcount(m);
        } else {
                /* DEST PLEN SRC SPLEN NEXTHOP METRIC REFCNT USE FLAGS IFACE */
                unsigned plen;
                struct in6_addr d;
                if (sscanf(line, "%63s %x %*s %*s %*s %lx %*s %*s %x %63s", dest, &plen, ret_metric, &flags, iface) != 5 ||
                    strlen(dest) != 32 || plen > 128 || !parse_hex_in6(dest, &d))
                        return false;
                for (unsigned bit = 0; bit < plen; bit++) {
                        uint8_t m = (uint8_t) (0x80 >> (bit % 8));
                        if ((a->a6.s6_addr[bit / 8] & m) != (d.s6_addr[bit / 8] & m))
                                return false;
                }
                *ret_len = (int) plen;
        }
        return (flags & RTF_UP_FLAG) && !(flags & RTF_REJECT_FLAG);
}

/* The interface of the main table's route to @a: the longest prefix that holds it, then the
 * lowest metric; the prefix's length in *@ret_len. NULL in *ret when none (or "lo"). */
static int route_of(struct vc_ctx *ctx, const struct addr *a, char **ret, int *ret_len) {
        _cleanup_free_ char *line = NULL, *best = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int best_len = -1;
        unsigned long best_metric = 0;
        int r;

        *ret = NULL;
        *ret_len = -1;
        if ((r = open_proc_net(ctx, a->v6 ? "ipv6_route" : "route", &f)) < 0 || !f)
                return r;
        while (getline(&line, &size, f) > 0) {
                char iface[64];
                unsigned long metric;
                int len;
                if (!route_holds(line, a, iface, &len, &metric))
                        continue;
                if (len > best_len || (len == best_len && metric < best_metric)) {
                        free(best);
                        if (!(best = strdup(iface)))
                                return -ENOMEM;
                        best_len = len;
                        best_metric = metric;
                }
        }
        if (best && !streq(best, "lo")) {
                *ret = TAKE_PTR(best);
                *ret_len = best_len;
        }
        return 0;
}

static int link_add(struct vc_session_link **v, size_t *n, const char *iface, const char *peer) {
        for (size_t i = 0; i < *n; i++)
                if (streq((*v)[i].iface, iface) && streq((*v)[i].peer, peer))
                        return 0;
        struct vc_session_link *w = realloc(*v, (*n + 1) * sizeof *w);
        if (!w)
                return -ENOMEM;
        *v = w;
        w[*n] = (struct vc_session_link){ .iface = strdup(iface), .peer = strdup(peer) };
        if (!w[*n].iface || !w[*n].peer) {
                free(w[*n].iface);
                free(w[*n].peer);
                return -ENOMEM;
        }
        (*n)++;
        return 0;
}

/* The interfaces that hold the IPv6 address @a (proc/net/if_inet6: ADDRESS IFINDEX PLEN SCOPE FLAGS
 * IFACE, the address's bytes in network order), but "lo", as links from @peer. */
static int owners_of(struct vc_ctx *ctx, const struct in6_addr *a, const char *peer, struct vc_session_link **v, size_t *n) {
        _cleanup_free_ char *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int r;

        if ((r = open_proc_net(ctx, "if_inet6", &f)) < 0 || !f)
                return r;
        while (getline(&line, &size, f) > 0) {
                char hex[64], iface[64];
                struct in6_addr x;
                if (sscanf(line, "%63s %*s %*s %*s %*s %63s", hex, iface) != 2 || strlen(hex) != 32 || !parse_hex_in6(hex, &x) ||
                    memcmp(&x, a, sizeof x) != 0 || streq(iface, "lo"))
                        continue;
                if ((r = link_add(v, n, iface, peer)) < 0)
                        return r;
        }
        return 0;
}

/* The interfaces an SSH connection's traffic takes: the route to its client and, when the
 * connection says which of the host's addresses it came in on, the interface that holds that:
 * with policy routing the replies of a multi-homed host need not take the main table's route.
 * An address's zone names its interface. A link-local peer's route names none: every interface
 * with IPv6 has a route to fe80::/64, of one metric, and which comes first says nothing (the
 * local address, link-local too, says which). */
static int conn_links(struct vc_ctx *ctx, const struct conn *c, struct vc_session_link **v, size_t *n) {
        _cleanup_free_ char *iface = NULL, *local = NULL;
        char peer[INET6_ADDRSTRLEN];
        int len, r;

        if (c->client.v6)
                inet_ntop(AF_INET6, &c->client.a6, peer, sizeof peer);
        else
                inet_ntop(AF_INET, &c->client.v4, peer, sizeof peer);
        if (*c->client_zone) {
                if ((r = link_add(v, n, c->client_zone, peer)) < 0)
                        return r;
        } else if (!(c->client.v6 && IN6_IS_ADDR_LINKLOCAL(&c->client.a6))) {
                if ((r = route_of(ctx, &c->client, &iface, &len)) < 0 || (iface && (r = link_add(v, n, iface, peer)) < 0))
                        return r;
        }
        if (!c->has_server)
                return 0;
        /* IPv6: the address's owner; IPv4: the main table's route to the address itself, the subnet
         * it was given with (one reached only through a default route says nothing of its own) */
        if (*c->server_zone)
                return link_add(v, n, c->server_zone, peer);
        if (c->server.v6)
                return owners_of(ctx, &c->server.a6, peer, v, n);
        if ((r = route_of(ctx, &c->server, &local, &len)) < 0 || !local || len == 0)
                return r;
        return link_add(v, n, local, peer);
}

/* DISPLAY of a local X server (":0", ":1.0", "unix:0"; not a forwarded "localhost:10.0") or any
 * WAYLAND_DISPLAY. */
static bool local_display(const char *var) {
        const char *v;
        if ((v = startswith(var, "DISPLAY=")))
                return v[0] == ':' || startswith(v, "unix:");
        return (v = startswith(var, "WAYLAND_DISPLAY=")) && *v;
}

/* A login on a virtual terminal as pam_systemd describes it in the session's environment:
 * XDG_SESSION_TYPE "tty" (a graphical session's is "x11" or "wayland", an SSH login's "tty" without
 * XDG_VTNR) and XDG_VTNR, the VT's number. The first of each counts, as for getenv(3). */
struct vt_login {
        bool type_seen, tty, vtnr_seen;
        unsigned vtnr; /* 1 to 63, 0 when none */
};

static void vt_login_entry(const char *e, struct vt_login *vt) {
        const char *v;
        if (!vt->type_seen && (v = startswith(e, "XDG_SESSION_TYPE="))) {
                vt->type_seen = true;
                vt->tty = streq(v, "tty");
        } else if (!vt->vtnr_seen && (v = startswith(e, "XDG_VTNR="))) {
                char *end;
                unsigned long nr = strtoul(v, &end, 10);
                vt->vtnr_seen = true;
                if (v[0] >= '1' && v[0] <= '9' && *end == '\0' && nr <= 63) /* tty1 to tty63 */
                        vt->vtnr = (unsigned) nr;
        }
}

/* What one variable of an ancestor's environment names: the connection of
 * "SSH_CONNECTION=CLIENT CPORT SERVER SPORT", which a login shell started by sshd has, and a shell
 * in a tmux or screen session keeps from the client that started it (that server's parent is
 * init, not the sshd); a local graphical session's display, into *@display unless one was found
 * already; a login on a virtual terminal, into *@vt. */
static int environment_entry(const char *e, struct conn **v, size_t *n, char **display, struct vt_login *vt) {
        const char *value = startswith(e, "SSH_CONNECTION=");
        char client[64], server[64];
        struct conn c = { 0 };
        int k;

        vt_login_entry(e, vt);
        if (!*display && local_display(e))
                return (*display = strdup(strchr(e, '=') + 1)) ? 0 : -ENOMEM;
        if (!value || (k = sscanf(value, "%63s %*s %63s", client, server)) < 1 ||
            !parse_text_addr(client, &c.client, c.client_zone))
                return 0;
        c.has_server = k == 2 && parse_text_addr(server, &c.server, c.server_zone);
        return conns_add(v, n, &c);
}

/* The variables of @pid's environment (proc/PID/environ, "NAME=VALUE" each ended by a NUL; @pid
 * 0: the program itself), read a chunk at a time: execve(2) lets a program start with up to 3/4
 * of 8 MiB of arguments and environment, and a variable after the first MiB counts as much as
 * one before it. What is read there is short (an address pair, a display's name): of a longer
 * variable its first ENVIRON_ENTRY_MAX bytes count, and memory stays at two buffers whatever the
 * environment's size. Reading stops after ENVIRON_MAX bytes (only a process that moved its
 * environment with prctl(2) has more) or at an error (a process gone: what was read counts). The
 * virtual terminal of a login the environment describes into *@ret_vt, unless one was found
 * already. */
static int environment_scan(struct vc_ctx *ctx, unsigned pid, struct conn **v, size_t *n, char **display, unsigned *ret_vt) {
        _cleanup_free_ char *p = NULL, *chunk = NULL, *entry = NULL;
        struct vt_login vt = { 0 };
        size_t len = 0, total = 0;
        int r = pid ? vc_ctx_path(ctx, VC_PLACE_PROC, &p, "%u/environ", pid) : vc_ctx_path(ctx, VC_PLACE_PROC, &p, "self/environ");
        if (r < 0)
                return r;
        _cleanup_close_ int fd = vc_path_open(p, O_RDONLY, 0);
        if (fd < 0)
                return fd == -ENOMEM ? fd : 0;
        if (!(chunk = malloc(ENVIRON_CHUNK)) || !(entry = malloc(ENVIRON_ENTRY_MAX + 1)))
                return -ENOMEM;
        for (;;) {
                ssize_t k = total < ENVIRON_MAX ? read(fd, chunk, ENVIRON_CHUNK) : 0;
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                total += (size_t) k;
                for (size_t i = 0; i < (size_t) k; i++) {
                        if (chunk[i] != '\0') {
                                if (len < ENVIRON_ENTRY_MAX)
                                        entry[len++] = chunk[i];
                                continue;
                        }
                        entry[len] = '\0';
                        if (len > 0 && (r = environment_entry(entry, v, n, display, &vt)) < 0)
                                return r;
                        len = 0;
                }
        }
        entry[len] = '\0'; /* a last variable without its NUL */
        if (len > 0 && (r = environment_entry(entry, v, n, display, &vt)) < 0)
                return r;
        if (!*ret_vt && vt.tty)
                *ret_vt = vt.vtnr;
        return 0;
}

void vc_session_done(struct vc_session *s) {
        links_free(s->links, s->n_links);
        free(s->display);
        *s = (struct vc_session){ 0 };
}

int vc_session_read(struct vc_ctx *ctx, struct vc_session *ret) {
        _cleanup_free_ unsigned long *inodes = NULL;
        _cleanup_free_ struct conn *conns = NULL;
        _cleanup_(vc_session_done) struct vc_session s = { 0 };
        size_t n_inodes = 0, n_conns = 0;
        bool have_tty = false;
        unsigned login_vt = 0;
        int r;

        *ret = (struct vc_session){ 0 };
        /* the program itself (0), then its ancestors up to init */
        for (unsigned depth = 0, pid = 0; depth < ANCESTORS_MAX; depth++) {
                unsigned ppid, tty;
                if (!stat_of(ctx, pid, &ppid, &tty))
                        break;
                if (!have_tty)
                        have_tty = device_terminal(tty, &s.tty_major, &s.tty_minor);
                if ((pid > 0 && is_sshd(ctx, pid) && (r = socket_inodes(ctx, pid, &inodes, &n_inodes)) < 0) ||
                    (r = environment_scan(ctx, pid, &conns, &n_conns, &s.display, &login_vt)) < 0)
                        return r;
                if (ppid <= 1)
                        break;
                pid = ppid;
        }
        /* a shell in tmux or screen runs on a pseudo-terminal, and the server's parent is init: the
         * environment it keeps from the login it was started in names the virtual terminal */
        if (!have_tty && login_vt > 0) {
                s.tty_major = 4;
                s.tty_minor = login_vt;
                have_tty = true;
        }
        if (n_inodes > 0 && (r = conns_of(ctx, inodes, n_inodes, &conns, &n_conns)) < 0)
                return r;
        for (size_t i = 0; i < n_conns; i++)
                if ((r = conn_links(ctx, &conns[i], &s.links, &s.n_links)) < 0)
                        return r;
        for (size_t i = 0; i < s.n_links; i++)
                log_debug("SSH session from %s through %s", s.links[i].peer, s.links[i].iface);
        if (have_tty)
                log_debug("runs on the terminal %u:%u", s.tty_major, s.tty_minor);
        if (s.display)
                log_debug("runs in the local graphical session %s", s.display);
        *ret = s;
        s = (struct vc_session){ 0 };
        return 0;
}

int vc_route_iface(struct vc_ctx *ctx, const char *address, char **ret) {
        struct addr a = {};
        int len;
        *ret = NULL;
        if (inet_pton(AF_INET, address, &a.v4) == 1)
                ; /* network order, as proc/net/route prints it (read as the host's words) */
        else if (inet_pton(AF_INET6, address, &a.a6) == 1)
                a.v6 = true;
        else
                return -EINVAL;
        return route_of(ctx, &a, ret, &len);
}
