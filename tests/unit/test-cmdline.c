/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/cmdline.c: kernel command lines and module option strings, read as the kernel's parameter
 * parser reads them (white space, quotes, '=' in values, "--", '-' for '_', the last word wins),
 * and the boot switches read from ROOT/proc/cmdline (lib/boot.c). */

#include "boot.h"
#include "cmdline.h"
#include "tests.h"
#include "tree.h"

/* The words of @text joined by '|', for one comparison per case. */
static char *joined(const char *text, bool params) {
        _cleanup_strv_free_ char **w = NULL;
        if ((params ? vc_cmdline_parse(text, &w) : vc_cmdline_split(text, &w)) < 0)
                return NULL;
        size_t len = 1;
        for (char **i = w; *i; i++)
                len += strlen(*i) + 1;
        char *s = calloc(1, len);
        for (char **i = w; s && *i; i++) {
                if (i != w)
                        strcat(s, "|");
                strcat(s, *i);
        }
        return s;
}

#define ASSERT_WORDS(text, want)                                                       \
        do {                                                                           \
                _cleanup_free_ char *_j = joined(text, false);                         \
                ASSERT_STREQ(_j, want);                                                \
        } while (0)

TEST(split_white_space) {
        ASSERT_WORDS("  BOOT_IMAGE=/vmlinuz  root=/dev/sda1\tro quiet\n", "BOOT_IMAGE=/vmlinuz|root=/dev/sda1|ro|quiet");
        ASSERT_WORDS("a\vb\fc\rd", "a|b|c|d");
        ASSERT_WORDS("", "");
        ASSERT_WORDS(" \n", "");
        ASSERT_WORDS(NULL, "");
}

TEST(split_quoted_values) {
        /* The value's quotes go, the white space inside them stays. */
        ASSERT_WORDS("dyndbg=\"file a.c +p\" quiet", "dyndbg=file a.c +p|quiet");
        ASSERT_WORDS("acpi_osi=\"!Windows 2012\"", "acpi_osi=!Windows 2012");
        ASSERT_WORDS("a=\"\" b", "a=|b");
        /* A quote that opens the whole word, and its partner at the end. */
        ASSERT_WORDS("\"a=b c\" d", "a=b c|d");
        ASSERT_WORDS("\"bare word\"", "bare word");
        /* Quotes elsewhere stay, as the kernel keeps them: only the opening and the closing go. */
        ASSERT_WORDS("a=\"b c\"d e", "a=b c\"d|e");
        ASSERT_WORDS("a=b\"c d\"", "a=b\"c d\"");
        ASSERT_WORDS("a\"b c\"=d", "a\"b c\"=d");
        /* An unclosed quote runs to the end of the line. */
        ASSERT_WORDS("a=\"b c d", "a=b c d");
        ASSERT_WORDS("a=\"", "a=");
}

TEST(split_equals_in_values) {
        _cleanup_strv_free_ char **w = NULL;
        ASSERT_WORDS("root=PARTUUID=1234-5678 init=/bin/sh", "root=PARTUUID=1234-5678|init=/bin/sh");
        ASSERT_OK(vc_cmdline_split("root=PARTUUID=1234-5678 opt==x a= =lead", &w));
        ASSERT_STREQ(vc_cmdline_get(w, "root"), "PARTUUID=1234-5678");
        ASSERT_STREQ(vc_cmdline_get(w, "opt"), "=x");
        ASSERT_STREQ(vc_cmdline_get(w, "a"), "");
        /* A leading '=' is part of the name, as in the kernel: no parameter "" or "lead". */
        ASSERT_NULL(vc_cmdline_get(w, "lead"));
        ASSERT_NULL(vc_cmdline_get(w, ""));
        ASSERT_NULL(vc_cmdline_get(w, "PARTUUID"));
}

TEST(get_last_wins_and_dash_is_underscore) {
        _cleanup_strv_free_ char **w = NULL;
        ASSERT_OK(vc_cmdline_split("intel_iommu=off quiet intel-iommu=on,igfx_off iommu=pt vfio_pci.ids=10de:2204 pcie_acs_override", &w));
        ASSERT_STREQ(vc_cmdline_get(w, "intel_iommu"), "on,igfx_off");
        ASSERT_STREQ(vc_cmdline_get(w, "iommu"), "pt");
        ASSERT_STREQ(vc_cmdline_get(w, "vfio-pci.ids"), "10de:2204");
        ASSERT_STREQ(vc_cmdline_get(w, "pcie_acs_override"), "");
        ASSERT_STREQ(vc_cmdline_get(w, "quiet"), "");
        ASSERT_NULL(vc_cmdline_get(w, "amd_iommu"));
        ASSERT_NULL(vc_cmdline_get(w, "iommu.strict"));
        ASSERT_NULL(vc_cmdline_get(w, "intel"));
        ASSERT_NULL(vc_cmdline_get(NULL, "quiet"));
}

TEST(duplicates_bare_after_value) {
        _cleanup_strv_free_ char **w = NULL;
        ASSERT_OK(vc_cmdline_split("iommu=pt iommu", &w));
        ASSERT_STREQ(vc_cmdline_get(w, "iommu"), "");
        ASSERT_TRUE(vc_cmdline_name_equal("vfio-pci.ids=x", 12, "vfio_pci.ids"));
        ASSERT_FALSE(vc_cmdline_name_equal("vfio-pci", 8, "vfio_pci.ids"));
}

TEST(parse_stops_at_dashes) {
        _cleanup_free_ char *params = joined("ro iommu=pt -- vfio_claim=0 single", true);
        _cleanup_free_ char *words = joined("ro iommu=pt -- vfio_claim=0 single", false);
        _cleanup_free_ char *quoted = joined("ro \"--\" x", true);
        _cleanup_free_ char *not_dashes = joined("ro --x=1 --= y", true);
        ASSERT_STREQ(params, "ro|iommu=pt");
        ASSERT_STREQ(words, "ro|iommu=pt|--|vfio_claim=0|single");
        ASSERT_STREQ(quoted, "ro");
        ASSERT_STREQ(not_dashes, "ro|--x=1|--=|y");
}

TEST(get_bool_as_getargbool) {
        _cleanup_strv_free_ char **w = NULL;
        ASSERT_OK(vc_cmdline_split("a=0 b=No c=OFF d=false e f=1 g=yes h= i=0 i=1 j=1 j=off", &w));
        ASSERT_FALSE(vc_cmdline_get_bool(w, "a", true));
        ASSERT_FALSE(vc_cmdline_get_bool(w, "b", true));
        ASSERT_FALSE(vc_cmdline_get_bool(w, "c", true));
        ASSERT_FALSE(vc_cmdline_get_bool(w, "d", true));
        ASSERT_TRUE(vc_cmdline_get_bool(w, "e", false));
        ASSERT_TRUE(vc_cmdline_get_bool(w, "f", false));
        ASSERT_TRUE(vc_cmdline_get_bool(w, "g", false));
        ASSERT_TRUE(vc_cmdline_get_bool(w, "h", false));
        ASSERT_TRUE(vc_cmdline_get_bool(w, "i", false));
        ASSERT_FALSE(vc_cmdline_get_bool(w, "j", true));
        ASSERT_TRUE(vc_cmdline_get_bool(w, "absent", true));
        ASSERT_FALSE(vc_cmdline_get_bool(w, "absent", false));
}

/* ROOT/proc/cmdline through the context, and the boot switches that read it. */
static int disabled(const char *cmdline, const char **ret_switch) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        if (!root)
                return -ENOMEM;
        tree_dir(root, "proc");
        if (cmdline)
                tree_file(root, "proc/cmdline", cmdline);
        int r = vc_ctx_new(root, &ctx);
        if (r < 0)
                return r;
        *ret_switch = NULL;
        return vc_boot_cmdline_disabled(ctx, ret_switch);
}

TEST(read_from_root) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_strv_free_ char **p = NULL, **none = (char **) 1;
        ASSERT_NOT_NULL(root);
        tree_file(root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz-6.1 ro intel_iommu=on -- rd.vfio_claim=0\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_cmdline_read(ctx, &p));
        ASSERT_STREQ(vc_cmdline_get(p, "intel_iommu"), "on");
        ASSERT_NULL(vc_cmdline_get(p, "rd.vfio_claim"));
        tree_remove(tree_path(root, "proc/cmdline"));
        ASSERT_ERRNO(vc_cmdline_read(ctx, &none), ENOENT);
        ASSERT_NULL(none);
}

TEST(boot_switches) {
        const char *sw = NULL;
        ASSERT_EQ(disabled("ro quiet\n", &sw), 0);
        ASSERT_EQ(disabled(NULL, &sw), 0);
        ASSERT_EQ(disabled("ro vfio_claim=0\n", &sw), 1);
        ASSERT_STREQ(sw, "vfio_claim=0");
        ASSERT_EQ(disabled("ro rd.vfio-claim=off vfio_claim=0\n", &sw), 1);
        ASSERT_STREQ(sw, "rd.vfio_claim=0");
        ASSERT_EQ(disabled("vfio_claim=0 vfio_claim=1\n", &sw), 0);
        ASSERT_EQ(disabled("vfio_claim=\"no\"\n", &sw), 1);
        ASSERT_EQ(disabled("rd.vfio_claim\n", &sw), 0);
        /* After "--" the words are init's, not the kernel's. */
        ASSERT_EQ(disabled("ro -- vfio_claim=0\n", &sw), 0);
}

int main(int argc, char **argv) { return tests_run(); }
