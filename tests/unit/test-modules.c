/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/modules.c without loading anything: the kernel release whose modules count for a root (one
 * choice for module loading and doctor), and the module inspector doctor reads modprobe.d, the
 * root's command line and the module indexes through. */

#include <sys/utsname.h>

#include "modules.h"
#include "tests.h"
#include "tree.h"

static int release_of(const char *root, char **ret) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        int r = vc_ctx_new(root, &ctx);
        return r < 0 ? r : vc_module_kernel_release(ctx, ret);
}

TEST(kernel_release_from_the_root) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        struct utsname u;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(uname(&u));

        /* Nothing under the root says: the running kernel. */
        ASSERT_OK(release_of(root, &a));
        ASSERT_STREQ(a, u.release);

        /* The only kernel installed under the root. */
        tree_dir(root, "lib/modules/9.9.9-only");
        ASSERT_OK(release_of(root, &b));
        ASSERT_STREQ(b, "9.9.9-only");

        /* Two installed, no word from the root: the running kernel again. */
        tree_dir(root, "lib/modules/9.9.8-other");
        ASSERT_OK(release_of(root, &c));
        ASSERT_STREQ(c, u.release);

        /* The root's own kernel when it tells, over everything else. */
        tree_file(root, "proc/sys/kernel/osrelease", "6.1.0-13-amd64\n");
        ASSERT_OK(release_of(root, &d));
        ASSERT_STREQ(d, "6.1.0-13-amd64");
}

TEST(kernel_release_must_be_one_path_component) {
        static const char *const bad[] = { "..\n", ".\n", "\n", "../../etc\n", "6.1/x\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_tree_ char *root = tree_new();
                char *rel = (char *) 1;
                ASSERT_NOT_NULL(root);
                tree_file(root, "proc/sys/kernel/osrelease", bad[i]);
                ASSERT_ERRNO(release_of(root, &rel), EINVAL);
                ASSERT_TRUE(rel == (char *) 1);
        }
}

TEST(kernel_release_of_the_host) {
        _cleanup_free_ char *rel = NULL;
        struct utsname u;
        ASSERT_OK(uname(&u));
        ASSERT_OK(release_of(NULL, &rel));
        ASSERT_STREQ(rel, u.release);
}

static struct vc_modinfo *inspect(const char *root, char *const *cmdline) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_modinfo *m = NULL;
        if (vc_ctx_new(root, &ctx) < 0 || vc_modinfo_new(ctx, cmdline, &m) < 0)
                return NULL;
        return m;
}

TEST(config_from_modprobe_d_and_the_command_line) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_modinfo_freep) struct vc_modinfo *m = NULL;
        char *cmdline[] = { "ro", "modprobe.blacklist=radeon,snd-hda-intel", "vfio-pci.disable_vga=1", NULL };
        ASSERT_NOT_NULL(root);
        tree_file(root, "proc/sys/kernel/osrelease", "6.1.0-vc\n");
        tree_file(root, "etc/modprobe.d/vfio.conf",
                  "blacklist nouveau\n"
                  "options vfio-pci ids=10de:2204\n"
                  "softdep nouveau pre: vfio-pci\n"
                  "install amdgpu /bin/false\n");
        m = inspect(root, cmdline);
        ASSERT_NOT_NULL(m);
        ASSERT_STREQ(vc_modinfo_kernel_release(m), "6.1.0-vc");

        const struct vc_modconf *c = vc_modinfo_config(m);
        ASSERT_EQ(c->n_blacklist, 3u);
        ASSERT_STREQ(c->blacklist[0].module, "nouveau");
        ASSERT_FALSE(c->blacklist[0].cmdline);
        ASSERT_STREQ(c->blacklist[1].module, "radeon");
        ASSERT_STREQ(c->blacklist[2].module, "snd_hda_intel");
        ASSERT_TRUE(c->blacklist[2].cmdline);
        ASSERT_EQ(c->n_options, 2u);
        ASSERT_STREQ(c->options[0].module, "vfio_pci");
        ASSERT_STREQ(c->options[0].value, "ids=10de:2204");
        ASSERT_STREQ(c->options[1].module, "vfio_pci");
        ASSERT_STREQ(c->options[1].value, "disable_vga=1");
        ASSERT_TRUE(c->options[1].cmdline);
        ASSERT_EQ(c->n_softdeps, 1u);
        ASSERT_STREQ(c->softdeps[0].module, "nouveau");
        ASSERT_EQ(c->n_installs, 1u);
        ASSERT_STREQ(c->installs[0].module, "amdgpu");
        ASSERT_STREQ(c->installs[0].value, "/bin/false");
}

TEST(module_state) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_modinfo_freep) struct vc_modinfo *none = NULL, *m = NULL;
        _cleanup_strv_free_ char **found = NULL;
        ASSERT_NOT_NULL(root);
        tree_file(root, "proc/sys/kernel/osrelease", "6.1.0-vc\n");
        tree_file(root, "sys/module/vfio_pci/initstate", "live\n");
        tree_dir(root, "sys/module/vfio/parameters");

        /* No module directory for the kernel: only ROOT/sys/module answers. */
        none = inspect(root, NULL);
        ASSERT_NOT_NULL(none);
        ASSERT_EQ(vc_modinfo_module_state(none, "vfio-pci"), VC_MODULE_LOADED);
        ASSERT_EQ(vc_modinfo_module_state(none, "vfio"), VC_MODULE_BUILTIN);
        ASSERT_EQ(vc_modinfo_module_state(none, "igb"), VC_MODULE_UNKNOWN);
        ASSERT_EQ(vc_modinfo_lookup(none, "pci:v00008086d000010D3sv*sd*bc*sc*i*", &found), 0);
        ASSERT_NULL(found[0]);

        /* The text indexes of a copied tree (no modules.dep.bin). */
        tree_file(root, "lib/modules/6.1.0-vc/modules.builtin", "kernel/drivers/vfio/vfio_iommu_type1.ko\n");
        tree_file(root, "lib/modules/6.1.0-vc/modules.dep",
                  "kernel/drivers/net/ethernet/intel/igb/igb.ko.xz: kernel/drivers/dca/dca.ko.xz\n");
        m = inspect(root, NULL);
        ASSERT_NOT_NULL(m);
        ASSERT_EQ(vc_modinfo_module_state(m, "vfio_iommu_type1"), VC_MODULE_BUILTIN);
        ASSERT_EQ(vc_modinfo_module_state(m, "igb"), VC_MODULE_AVAILABLE);
        ASSERT_EQ(vc_modinfo_module_state(m, "dca"), VC_MODULE_MISSING); /* only as a dependency */
        ASSERT_EQ(vc_modinfo_module_state(m, "e1000e"), VC_MODULE_MISSING);
}

TEST(name_normalize) {
        _cleanup_free_ char *a = vc_module_name_normalize("snd-hda-intel"), *b = vc_module_name_normalize("vfio_pci");
        ASSERT_STREQ(a, "snd_hda_intel");
        ASSERT_STREQ(b, "vfio_pci");
}

int main(int argc, char **argv) { return tests_run(); }
