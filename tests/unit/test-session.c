/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The session the CLI runs in (lib/session.h) and what lib/critical.c protects for it, each test
 * on a root of its own: the process tree under proc (stat, comm, environ, fd links), the
 * network tables under proc/net, the NICs under sys. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "critical.h"
#include "macro.h"
#include "pci.h"
#include "root.h"
#include "session.h"
#include "tests.h"
#include "tree.h"

static const char *reason(struct vc_critical_set *s, const char *a) {
        struct vc_pci_addr x = { 0 };
        if (vc_pci_addr_parse(a, &x) < 0)
                abort();
        return vc_critical_reason(s, &x);
}

/* A NIC @iface on the PCI device 0000:00:@slot.0 of the root bus, as sysfs has it: the device's
 * directory and its bus link, the class entry a link to the net directory below it, whose
 * "device" link is relative to that directory. */
static void nic(const char *root, unsigned slot, const char *iface) {
        char rel[512], target[512];
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/0000:00:%02x.0/class", slot);
        tree_file(root, rel, "0x020000\n");
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/0000:00:%02x.0/vendor", slot);
        tree_file(root, rel, "0x8086\n");
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/0000:00:%02x.0/device", slot);
        tree_file(root, rel, "0x10d3\n");
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/0000:00:%02x.0", slot);
        snprintf(target, sizeof target, "../../../devices/pci0000:00/0000:00:%02x.0", slot);
        tree_link(root, rel, target);
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/0000:00:%02x.0/net/%s/device", slot, iface);
        snprintf(target, sizeof target, "../../../0000:00:%02x.0", slot);
        tree_link(root, rel, target);
        snprintf(rel, sizeof rel, "sys/class/net/%s", iface);
        snprintf(target, sizeof target, "../../devices/pci0000:00/0000:00:%02x.0/net/%s", slot, iface);
        tree_link(root, rel, target);
}

static void environ_file(const char *root, const char *rel, const char *env, size_t len) {
        char *p = tree_path(root, rel);
        tree_parent_dirs(p);
        FILE *f = fopen(p, "we");
        if (!f || fwrite(env, 1, len, f) != len || fclose(f) != 0)
                abort();
        free(p);
}

/* The CLI (900) under sudo (890) under a shell (810) on the pseudo-terminal 136:0 (34816), a
 * child of @parent. */
static void cli_chain(const char *root, unsigned parent) {
        char b[128];
        tree_file(root, "proc/self/stat", "900 (vfio-claim) R 890 900 810 34816 900 4194560 0 0 0 0\n");
        tree_file(root, "proc/890/stat", "890 (sudo) S 810 890 810 34816 900 4194560 0 0 0 0\n");
        snprintf(b, sizeof b, "810 (bash) S %u 810 810 34816 900 4194560 0 0 0 0\n", parent);
        tree_file(root, "proc/810/stat", b);
}

/* ... whose parent is a tmux server, a child of init. */
static void cli_in_tmux(const char *root) {
        cli_chain(root, 700);
        tree_file(root, "proc/700/stat", "700 (tmux: server) S 1 700 700 0 -1 4194560 0 0 0 0\n");
        tree_file(root, "proc/700/comm", "tmux: server\n");
}

/* ... whose parent is the sshd of the session, holding the socket @inode. */
static void cli_under_sshd(const char *root, const char *inode) {
        cli_chain(root, 805);
        tree_file(root, "proc/805/stat", "805 (sshd) S 1 805 805 0 -1 4194560 0 0 0 0\n");
        tree_file(root, "proc/805/comm", "sshd\n");
        tree_link(root, "proc/805/fd/3", inode);
}

#define SSH_REASON(iface, peer) "NIC of the SSH session this command runs in (" iface ", from " peer ")"

static void scan(const char *root, struct vc_critical_set **ret) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        *ret = NULL;
        if (vc_ctx_new(root, &ctx) < 0)
                abort();
        vc_ctx_set_session_critical(ctx, true);
        if (vc_critical_scan(ctx, ret) < 0)
                abort();
}

static void session_read(const char *root, struct vc_session *ret) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        if (vc_ctx_new(root, &ctx) < 0 || vc_session_read(ctx, ret) < 0)
                abort();
}

#define ROUTE_HEADER "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

/* A shell whose environment holds more than a mebibyte (a big exported variable before the
 * SSH_CONNECTION tmux kept, and one after it): the variable still counts, wherever it sits, a
 * chunk's end in its middle too; of a variable longer than any of the session's, its beginning
 * counts. */
TEST(environment_of_any_size) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_(vc_session_done) struct vc_session sess = { 0 };
        static const char ssh[] = "SSH_CONNECTION=10.1.2.3 50022 10.1.2.1 22";
        size_t big = (1u << 20) + 100, at = 17 * 65536 - 10, len = 0;
        char *env = malloc(at + big + 8192);

        ASSERT_NOT_NULL(env);
        nic(root, 5, "eno1");
        nic(root, 6, "eno2");
        cli_in_tmux(root);
        tree_file(root, "proc/net/route", ROUTE_HEADER
                  "eno1\t0002010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                  "eno2\t0003010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        /* BIG=xxx… up to where SSH_CONNECTION straddles the end of the 17th 64 KiB read */
        len += (size_t) sprintf(env + len, "BIG=");
        memset(env + len, 'x', at - 1 - len);
        len = at - 1;
        env[len++] = '\0';
        memcpy(env + len, ssh, sizeof ssh);
        len += sizeof ssh;
        /* a variable longer than any the session reads */
        len += (size_t) sprintf(env + len, "SSH_CONNECTION=10.1.3.3 50022 10.1.3.1 22 ");
        memset(env + len, 'y', 5000);
        len += 5000;
        env[len++] = '\0';
        len += (size_t) sprintf(env + len, "MORE=");
        memset(env + len, 'z', big);
        len += big; /* the last variable without its NUL */
        environ_file(root, "proc/810/environ", env, len);
        free(env);

        session_read(root, &sess);
        ASSERT_EQ(sess.n_links, 2);
        ASSERT_STREQ(sess.links[0].iface, "eno1");
        ASSERT_STREQ(sess.links[0].peer, "10.1.2.3");
        ASSERT_STREQ(sess.links[1].iface, "eno2");
        ASSERT_STREQ(sess.links[1].peer, "10.1.3.3");
        scan(root, &s);
        ASSERT_STREQ(reason(s, "0000:00:05.0"), SSH_REASON("eno1", "10.1.2.3"));
        ASSERT_STREQ(reason(s, "0000:00:06.0"), SSH_REASON("eno2", "10.1.3.3"));
        ASSERT_EQ(vc_critical_count(s), 2);
}

/* A multi-homed host: eth0 holds the main table's default route, eth1 the address 10.9.0.5 an
 * admin at 203.0.113.5 logged in to, whose replies policy routing sends out of eth1 (a table of
 * its own, not in proc/net/route). The socket's local address names eth1 by its subnet. */
TEST(local_address_policy_routing) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_(vc_session_done) struct vc_session sess = { 0 };

        nic(root, 4, "eth0");
        nic(root, 5, "eth1");
        nic(root, 6, "eth2");
        cli_under_sshd(root, "socket:[555]");
        tree_file(root, "proc/net/tcp",
                  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                  "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1\n"
                  "   1: 0500090A:0016 057100CB:D2F4 01 00000000:00000000 02:0000A1B2 00000000     0        0 555 4\n"
                  "   2: 0500080A:0016 067100CB:D2F5 01 00000000:00000000 02:0000A1B2 00000000     0        0 777 4\n");
        tree_file(root, "proc/net/route", ROUTE_HEADER
                  "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                  "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                  "eth1\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                  "eth2\t0000080A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");

        session_read(root, &sess);
        ASSERT_EQ(sess.n_links, 2);
        ASSERT_STREQ(sess.links[0].iface, "eth0"); /* the peer's route */
        ASSERT_STREQ(sess.links[0].peer, "203.0.113.5");
        ASSERT_STREQ(sess.links[1].iface, "eth1"); /* the local address's */
        ASSERT_STREQ(sess.links[1].peer, "203.0.113.5");
        scan(root, &s);
        ASSERT_STREQ(reason(s, "0000:00:04.0"), "NIC of the default route (eth0)");
        ASSERT_STREQ(reason(s, "0000:00:05.0"), SSH_REASON("eth1", "203.0.113.5"));
        ASSERT_NULL(reason(s, "0000:00:06.0")); /* another session's socket, not the sshd's */
        ASSERT_EQ(vc_critical_count(s), 2);
}

/* The same from tmux: SSH_CONNECTION's SERVER is the local address; one that only the default
 * route reaches (an address given as a /32) adds nothing of its own. */
TEST(local_address_from_the_environment) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        static const char env[] = "SSH_CONNECTION=203.0.113.5 50022 10.9.0.5 22";
        static const char env32[] = "SSH_CONNECTION=203.0.113.5 50022 198.51.100.7 22";

        nic(root, 4, "eth0");
        nic(root, 5, "eth1");
        cli_in_tmux(root);
        environ_file(root, "proc/810/environ", env, sizeof env);
        tree_file(root, "proc/net/route", ROUTE_HEADER
                  "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                  "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                  "eth1\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        scan(root, &s);
        ASSERT_STREQ(reason(s, "0000:00:04.0"), "NIC of the default route (eth0)");
        ASSERT_STREQ(reason(s, "0000:00:05.0"), SSH_REASON("eth1", "203.0.113.5"));
        ASSERT_EQ(vc_critical_count(s), 2);
        vc_critical_set_free(TAKE_PTR(s));

        _cleanup_(vc_session_done) struct vc_session sess = { 0 };
        environ_file(root, "proc/810/environ", env32, sizeof env32);
        session_read(root, &sess);
        ASSERT_EQ(sess.n_links, 1);
        ASSERT_STREQ(sess.links[0].iface, "eth0");
        scan(root, &s);
        ASSERT_NULL(reason(s, "0000:00:05.0"));
        ASSERT_EQ(vc_critical_count(s), 1);
}

/* IPv6: the interface that holds the socket's local address (proc/net/if_inet6), exactly; a
 * shorter prefix of another interface that holds it too names nothing. The loopback's own
 * address ("ssh ::1") names no NIC. */
TEST(local_address_ipv6_owner) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_(vc_session_done) struct vc_session sess = { 0 };

        nic(root, 4, "eth0");
        nic(root, 5, "eth1");
        cli_under_sshd(root, "socket:[556]");
        tree_link(root, "proc/805/fd/4", "socket:[557]");
        /* 2001:db8:9::5 from 2001:db8:77::1; ::1 from ::1 */
        tree_file(root, "proc/net/tcp6",
                  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                  "   0: B80D0120000009000000000005000000:0016 B80D0120000077000000000001000000:D2F6 01 00000000:00000000 02:0000A1B2 00000000     0        0 556 4\n"
                  "   1: 00000000000000000000000001000000:0016 00000000000000000000000001000000:D2F7 01 00000000:00000000 02:0000A1B2 00000000     0        0 557 4\n");
        tree_file(root, "proc/net/if_inet6",
                  "00000000000000000000000000000001 01 80 10 80       lo\n"
                  "20010db8000900000000000000000005 03 40 00 80     eth1\n"
                  "20010db8000900000000000000000006 02 40 00 80     eth0\n"
                  "fe800000000000000000000000000001 02 40 20 80     eth0\n");
        tree_file(root, "proc/net/ipv6_route",
                  "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
                  "00000000000000000000000000000000 00000000 00000001 00000000 80200001       lo\n"
                  "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                  "fe800000000000000000000000000099 00000400 00000001 00000000 00000003     eth0\n"
                  "20010db8000900000000000000000000 30 00000000000000000000000000000000 00 "
                  "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n");

        session_read(root, &sess);
        ASSERT_EQ(sess.n_links, 2);
        ASSERT_STREQ(sess.links[0].iface, "eth0");
        ASSERT_STREQ(sess.links[0].peer, "2001:db8:77::1");
        ASSERT_STREQ(sess.links[1].iface, "eth1");
        ASSERT_STREQ(sess.links[1].peer, "2001:db8:77::1");
        scan(root, &s);
        ASSERT_STREQ(reason(s, "0000:00:05.0"), SSH_REASON("eth1", "2001:db8:77::1"));
        ASSERT_STREQ(reason(s, "0000:00:04.0"), "NIC of the default route (eth0)");
        ASSERT_EQ(vc_critical_count(s), 2);
}

#define TCP6_HEADER                                                                                                   \
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr " \
        "tm->when retrnsmt   uid  timeout inode\n"
/* fe80::/64 on every interface, eth0's first, one metric */
#define LINK_LOCAL_ROUTES                                                                                     \
        "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "                            \
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"                     \
        "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "                            \
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1\n"

/* SSH over IPv6 link-local, to fe80::1 on eth1 from fe80::10: every interface has a route to
 * fe80::/64, so the route says nothing; the socket's local address names its interface, exactly
 * (eth0's link-local address is another). */
TEST(link_local_socket) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        _cleanup_(vc_session_done) struct vc_session sess = { 0 };

        nic(root, 4, "eth0");
        nic(root, 5, "eth1");
        cli_under_sshd(root, "socket:[556]");
        tree_file(root, "proc/net/tcp6", TCP6_HEADER
                  "   0: 000080FE000000000000000001000000:0016 000080FE000000000000000010000000:D2F6 01 00000000:00000000 02:0000A1B2 00000000     0        0 556 4\n");
        tree_file(root, "proc/net/ipv6_route", LINK_LOCAL_ROUTES);
        tree_file(root, "proc/net/if_inet6",
                  "fe800000000000000000000000000002 02 40 20 80     eth0\n"
                  "fe800000000000000000000000000001 03 40 20 80     eth1\n");

        session_read(root, &sess);
        ASSERT_EQ(sess.n_links, 1);
        ASSERT_STREQ(sess.links[0].iface, "eth1");
        ASSERT_STREQ(sess.links[0].peer, "fe80::10");
        scan(root, &s);
        ASSERT_STREQ(reason(s, "0000:00:05.0"), SSH_REASON("eth1", "fe80::10"));
        ASSERT_NULL(reason(s, "0000:00:04.0"));
        ASSERT_EQ(vc_critical_count(s), 1);
}

/* From tmux the environment alone says where: SSH_CONNECTION's addresses carry the zone
 * ("fe80::10%eth1"), which names the interface; a zone that is no interface's name names none. */
TEST(link_local_zone) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        static const char env[] = "SSH_CONNECTION=fe80::10%eth1 50022 fe80::1%eth1 22";
        static const char bad[] = "SSH_CONNECTION=fe80::10%../eth0 50022 fe80::1%0123456789abcdef 22\0"
                                  "SSH_CONNECTION=fe80::11%.. 50022 fe80::1% 22\0"
                                  "SSH_CONNECTION=fe80::12%eth0:1 50022 fe80::1%. 22";
        static const char client_only[] = "SSH_CONNECTION=fe80::10%../x 50022 fe80::1%eth1 22";

        nic(root, 4, "eth0");
        nic(root, 5, "eth1");
        cli_in_tmux(root);
        environ_file(root, "proc/810/environ", env, sizeof env);
        tree_file(root, "proc/net/ipv6_route", LINK_LOCAL_ROUTES);
        scan(root, &s);
        ASSERT_STREQ(reason(s, "0000:00:05.0"), SSH_REASON("eth1", "fe80::10"));
        ASSERT_EQ(vc_critical_count(s), 1);
        vc_critical_set_free(TAKE_PTR(s));

        _cleanup_(vc_session_done) struct vc_session sess = { 0 };
        environ_file(root, "proc/810/environ", bad, sizeof bad);
        session_read(root, &sess);
        ASSERT_EQ(sess.n_links, 0);
        vc_session_done(&sess);

        environ_file(root, "proc/810/environ", client_only, sizeof client_only);
        session_read(root, &sess);
        ASSERT_EQ(sess.n_links, 1);
        ASSERT_STREQ(sess.links[0].iface, "eth1");
}

/* A USB keyboard on the xHCI 0000:00:14.0 (IOMMU group 5), with the bitmaps of the lab guest's
 * usb-kbd (as tests/unit/test-critical.c has them). */
static void usb_keyboard(const char *root) {
        const char *dev = "sys/devices/pci0000:00/0000:00:14.0";
        const char *input = "pci0000:00/0000:00:14.0/usb3/3-2/3-2:1.0/0003:046D:C31C.0001/input/input5";
        char rel[512], target[512];
        snprintf(rel, sizeof rel, "%s/class", dev);
        tree_file(root, rel, "0x0c0330\n");
        snprintf(rel, sizeof rel, "%s/vendor", dev);
        tree_file(root, rel, "0x8086\n");
        snprintf(rel, sizeof rel, "%s/device", dev);
        tree_file(root, rel, "0xa36d\n");
        snprintf(rel, sizeof rel, "%s/iommu_group", dev);
        tree_link(root, rel, "../../../kernel/iommu_groups/5");
        tree_link(root, "sys/bus/pci/devices/0000:00:14.0", "../../../devices/pci0000:00/0000:00:14.0");
        snprintf(rel, sizeof rel, "sys/devices/%s/capabilities/ev", input);
        tree_file(root, rel, "120013\n");
        snprintf(rel, sizeof rel, "sys/devices/%s/capabilities/key", input);
        tree_file(root, rel, "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe\n");
        snprintf(rel, sizeof rel, "sys/devices/%s/name", input);
        tree_file(root, rel, "Logitech USB Keyboard\n");
        snprintf(target, sizeof target, "../../devices/%s", input);
        tree_link(root, "sys/class/input/input5", target);
}

/* The terminal vc_session_read() finds with @vars (NULL-ended) the shell's environment. */
static void tty_of(const char *root, const char *const *vars, unsigned *ret_major, unsigned *ret_minor) {
        _cleanup_(vc_session_done) struct vc_session sess = { 0 };
        char env[1024];
        size_t len = 0;
        for (const char *const *v = vars; *v; v++)
                len += (size_t) snprintf(env + len, sizeof env - len, "%s", *v) + 1; /* and its NUL */
        environ_file(root, "proc/810/environ", env, len);
        session_read(root, &sess);
        *ret_major = sess.tty_major;
        *ret_minor = sess.tty_minor;
}

#define VARS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* tmux started from a login on tty2: the shell inside runs on a pseudo-terminal, the server's
 * parent is init, but the shell keeps the login's XDG_SESSION_TYPE=tty and XDG_VTNR=2: the admin
 * types on tty2, whose last keyboard stays. */
TEST(vt_login_in_tmux) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        unsigned major, minor;

        usb_keyboard(root);
        cli_in_tmux(root);
        tty_of(root, VARS("TERM=tmux-256color", "XDG_VTNR=2", "XDG_SESSION_TYPE=tty", "TMUX=/tmp/tmux-0/default,700,0"),
               &major, &minor);
        ASSERT_EQ(major, 4);
        ASSERT_EQ(minor, 2);
        scan(root, &s);
        ASSERT_STREQ(reason(s, "0000:00:14.0"),
                     "controller of the keyboard of the console this command runs on (tty2: Logitech USB Keyboard)");
        ASSERT_EQ(vc_critical_count(s), 1);
}

/* What is no login on a virtual terminal: a graphical session's XDG_VTNR (its display is what
 * counts), an SSH login's XDG_SESSION_TYPE=tty without one, a number no VT has, the two in
 * different environments. A terminal of the process tree that is no pseudo-terminal (a serial
 * line) comes first. */
TEST(vt_login_not) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        static const char *const numbers[] = { "64", "0", "02", "2x", "", "-2", "+2", " 2", "4294967298" };
        unsigned major, minor;

        usb_keyboard(root);
        cli_in_tmux(root);
        tty_of(root, VARS("XDG_SESSION_TYPE=x11", "XDG_VTNR=2"), &major, &minor);
        ASSERT_EQ(major, 0);
        tty_of(root, VARS("XDG_VTNR=1", "XDG_SESSION_TYPE=wayland"), &major, &minor);
        ASSERT_EQ(major, 0);
        tty_of(root, VARS("XDG_SESSION_TYPE=tty", "XDG_SESSION_CLASS=user"), &major, &minor);
        ASSERT_EQ(major, 0);
        tty_of(root, VARS("XDG_SESSION_TYPE=ttyx", "XDG_VTNR=2"), &major, &minor);
        ASSERT_EQ(major, 0);
        tty_of(root, VARS("XDG_SESSION_TYPE=x11", "XDG_SESSION_TYPE=tty", "XDG_VTNR=2"), &major, &minor);
        ASSERT_EQ(major, 0); /* the first counts, as getenv() has it */
        for (size_t i = 0; i < ELEMENTSOF(numbers); i++) {
                char vtnr[64];
                snprintf(vtnr, sizeof vtnr, "XDG_VTNR=%s", numbers[i]);
                tty_of(root, VARS("XDG_SESSION_TYPE=tty", vtnr), &major, &minor);
                ASSERT_EQ(major, 0);
        }
        scan(root, &s);
        ASSERT_EQ(vc_critical_count(s), 0);

        /* XDG_VTNR in the program's own environment, XDG_SESSION_TYPE in the shell's */
        environ_file(root, "proc/self/environ", "XDG_VTNR=3", sizeof "XDG_VTNR=3");
        tty_of(root, VARS("XDG_SESSION_TYPE=tty"), &major, &minor);
        ASSERT_EQ(major, 0);

        /* the shell on ttyS0 (4:64) */
        tree_file(root, "proc/810/stat", "810 (bash) S 700 810 810 1088 900 4194560 0 0 0 0\n");
        tty_of(root, VARS("XDG_SESSION_TYPE=tty", "XDG_VTNR=2"), &major, &minor);
        ASSERT_EQ(major, 4);
        ASSERT_EQ(minor, 64);
}

int main(int argc, char **argv) { return tests_run(); }
