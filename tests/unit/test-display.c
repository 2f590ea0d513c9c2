/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "display.h"
#include "pci.h"
#include "root.h"
#include "tests.h"
#include "tree.h"

static struct vc_pci_addr addr(const char *s) {
        struct vc_pci_addr a = { 0 };
        if (vc_pci_addr_parse(s, &a) < 0)
                abort();
        return a;
}

/* A GPU at sys/bus/pci/devices/ADDR with the DRM minors @names (NULL-terminated) under drm/. */
static void gpu(const char *root, const char *a, const char *const *names) {
        char rel[512], link[512];
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/class", a);
        tree_file(root, rel, "0x030000\n");
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s", a);
        snprintf(link, sizeof link, "../../../devices/pci0000:00/%s", a);
        tree_link(root, rel, link);
        for (; names && *names; names++) {
                snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/drm/%s/dev", a, *names);
                tree_file(root, rel, "226:0\n");
        }
}

/* A process: proc/PID/comm and fd links 0.. to @targets (NULL-terminated). */
static void process(const char *root, unsigned pid, const char *comm, const char *const *targets) {
        char rel[512];
        snprintf(rel, sizeof rel, "proc/%u/comm", pid);
        tree_file(root, rel, comm);
        snprintf(rel, sizeof rel, "proc/%u/fd", pid);
        tree_dir(root, rel);
        for (unsigned i = 0; targets && targets[i]; i++) {
                snprintf(rel, sizeof rel, "proc/%u/fd/%u", pid, i);
                tree_link(root, rel, targets[i]);
        }
}

TEST(class) {
        ASSERT_TRUE(vc_display_class(0x030000));
        ASSERT_TRUE(vc_display_class(0x030200));
        ASSERT_TRUE(vc_display_class(0x038000));
        ASSERT_FALSE(vc_display_class(0x040300));
        ASSERT_FALSE(vc_display_class(0x020000));
}

TEST(nodes) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        gpu(root, "0000:01:00.0", (const char *const[]){ "renderD128", "card0", "card0-HDMI-A-1", "..x", "cardX", NULL });
        gpu(root, "0000:02:00.0", NULL);
        ASSERT_OK(vc_ctx_new(root, &ctx));

        struct vc_pci_addr a = addr("0000:01:00.0"), b = addr("0000:02:00.0"), c = addr("0000:03:00.0");
        {
                _cleanup_strv_free_ char **n = NULL;
                ASSERT_OK(vc_display_nodes(ctx, &a, "amdgpu", &n));
                ASSERT_STREQ(n[0], "/dev/dri/card0");
                ASSERT_STREQ(n[1], "/dev/dri/renderD128");
                ASSERT_NULL(n[2]);
        }
        {       /* no drm/ directory, no device at all: no node */
                _cleanup_strv_free_ char **n = NULL, **m = NULL;
                ASSERT_OK(vc_display_nodes(ctx, &b, "nouveau", &n));
                ASSERT_NULL(n[0]);
                ASSERT_OK(vc_display_nodes(ctx, &c, NULL, &m));
                ASSERT_NULL(m[0]);
        }
        {       /* nvidia: its procfs names the minor of /dev/nvidiaN; without it, none */
                _cleanup_strv_free_ char **n = NULL, **m = NULL;
                ASSERT_OK(vc_display_nodes(ctx, &b, "nvidia", &n));
                ASSERT_NULL(n[0]);
                tree_file(root, "proc/driver/nvidia/gpus/0000:02:00.0/information",
                          "Model: \t\t NVIDIA GeForce RTX 3090\nIRQ:   \t\t 150\nDevice Minor: \t 1\nBus Location: \t 0000:02:00.0\n");
                ASSERT_OK(vc_display_nodes(ctx, &b, "nvidia", &m));
                ASSERT_STREQ(m[0], "/dev/nvidia1");
                ASSERT_NULL(m[1]);
        }
        {       /* another driver's GPU is not asked about nvidia's minor */
                _cleanup_strv_free_ char **n = NULL;
                tree_file(root, "proc/driver/nvidia/gpus/0000:01:00.0/information", "Device Minor: \t 0\n");
                ASSERT_OK(vc_display_nodes(ctx, &a, "amdgpu", &n));
                ASSERT_NULL(n[2]);
        }
        {       /* a malformed minor is no node */
                _cleanup_strv_free_ char **n = NULL;
                tree_file(root, "proc/driver/nvidia/gpus/0000:02:00.0/information", "Device Minor: \t 1/../x\n");
                ASSERT_OK(vc_display_nodes(ctx, &b, "nvidia", &n));
                ASSERT_NULL(n[0]);
        }
}

TEST(holders) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        gpu(root, "0000:01:00.0", (const char *const[]){ "card1", "renderD129", NULL });
        tree_file(root, "proc/cmdline", "quiet\n");
        tree_dir(root, "proc/self");
        process(root, 990, "gnome-shell\n", (const char *const[]){ "/dev/dri/card1", "/dev/dri/renderD129", "/dev/dri/card1", NULL });
        process(root, 1000, "fire\x1b" "fox\n", (const char *const[]){ "/dev/dri/renderD129", NULL });
        process(root, 812, "Xorg\n", (const char *const[]){ "/dev/null", "socket:[1]", "/dev/dri/card1", NULL });
        process(root, 77, "other\n", (const char *const[]){ "/dev/dri/card0", "/dev/dri/card10", "/dev/dri/card1 (deleted)", NULL });
        process(root, 5, "kworker\n", NULL);
        tree_dir(root, "proc/6"); /* a process whose fd/ is gone */
        ASSERT_OK(vc_ctx_new(root, &ctx));
        struct vc_pci_addr a = addr("0000:01:00.0");

        _cleanup_strv_free_ char **nodes = NULL;
        ASSERT_OK(vc_display_nodes(ctx, &a, "nouveau", &nodes));
        struct vc_display_holder *v = NULL;
        size_t n = 0;
        ASSERT_OK(vc_display_holders(ctx, nodes, &v, &n));
        ASSERT_EQ(n, 4);
        ASSERT_STREQ(v[0].node, "/dev/dri/card1");
        ASSERT_EQ(v[0].pid, 812);
        ASSERT_STREQ(v[0].comm, "Xorg");
        ASSERT_EQ(v[1].pid, 990);
        ASSERT_STREQ(v[2].node, "/dev/dri/renderD129");
        ASSERT_EQ(v[2].pid, 990);
        ASSERT_EQ(v[3].pid, 1000);
        ASSERT_STREQ(v[3].comm, "fire?fox");
        _cleanup_free_ char *m = NULL;
        ASSERT_OK(vc_display_holders_format(v, n, &m));
        ASSERT_STREQ(m, "/dev/dri/card1 is open by Xorg (pid 812), gnome-shell (pid 990); "
                        "/dev/dri/renderD129 is open by gnome-shell (pid 990), fire?fox (pid 1000)");
        vc_display_holders_free(v, n);

        /* The whole check: -EBUSY and the message; not a display device: not looked at. */
        _cleanup_free_ char *msg = NULL, *none = NULL;
        ASSERT_ERRNO(vc_display_check(ctx, &a, 0x030000, "nouveau", &msg), EBUSY);
        ASSERT_STREQ(msg, m);
        ASSERT_OK(vc_display_check(ctx, &a, 0x040300, "snd_hda_intel", &none));
        ASSERT_NULL(none);

        /* Nobody holds it any more: 0, no message. */
        tree_remove(tree_path(root, "proc/812"));
        tree_remove(tree_path(root, "proc/990"));
        tree_remove(tree_path(root, "proc/1000"));
        _cleanup_free_ char *gone = NULL;
        ASSERT_OK(vc_display_check(ctx, &a, 0x030000, "nouveau", &gone));
        ASSERT_NULL(gone);

        /* No proc/ at all (an image under --sysroot): nobody. */
        tree_remove(tree_path(root, "proc"));
        ASSERT_OK(vc_display_holders(ctx, nodes, &v, &n));
        ASSERT_EQ(n, 0);
        ASSERT_NULL(v);
}

TEST(vtconsoles) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_vtconsole *v = NULL;
        size_t n = 9;
        ASSERT_OK(vc_ctx_new(root, &ctx));

        /* No vtconsole class: none. */
        ASSERT_OK(vc_display_vtconsoles(ctx, &v, &n));
        ASSERT_EQ(n, 0);
        ASSERT_NULL(v);

        /* As Linux 6.1 shows them with fbcon on a DRM framebuffer; names that are not vtconN and
         * an entry without its bind file are skipped. */
        tree_file(root, "sys/class/vtconsole/vtcon0/name", "(S) dummy device\n");
        tree_file(root, "sys/class/vtconsole/vtcon0/bind", "0\n");
        tree_file(root, "sys/class/vtconsole/vtcon1/name", "(M) frame buffer device\n");
        tree_file(root, "sys/class/vtconsole/vtcon1/bind", "1\n");
        tree_file(root, "sys/class/vtconsole/vtconX/name", "(M) frame buffer device\n");
        tree_file(root, "sys/class/vtconsole/vtconX/bind", "1\n");
        tree_file(root, "sys/class/vtconsole/vtcon2/name", "(S) VGA+\n");
        ASSERT_OK(vc_display_vtconsoles(ctx, &v, &n));
        ASSERT_EQ(n, 2);
        for (size_t i = 0; i < n; i++) {
                bool first = streq(v[i].name, "vtcon0");
                ASSERT_TRUE(first || streq(v[i].name, "vtcon1"));
                ASSERT_EQ(vc_vtconsole_is_dummy(&v[i]), first);
                ASSERT_EQ(v[i].bound, !first);
                ASSERT_STREQ(v[i].driver, first ? "(S) dummy device" : "(M) frame buffer device");
        }
        vc_vtconsoles_free(v, n);
}

int main(int argc, char **argv) { return tests_run(); }
