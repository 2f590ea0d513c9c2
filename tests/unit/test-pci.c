/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI address and id parsing: what an admin may write in the config and on the command line. */

#include <dirent.h>
#include "iommu.h"
#include "name.h"
#include "pci.h"
#include "root.h"
#include "tests.h"
#include "tree.h"

static void check_addr(const char *s, unsigned domain, unsigned bus, unsigned slot, unsigned func,
                       const char *formatted) {
        struct vc_pci_addr a = { 0x1234, 0x56, 0x07, 0x3 };
        char buf[VC_PCI_ADDR_STRLEN];

        ASSERT_OK(vc_pci_addr_parse(s, &a));
        ASSERT_EQ(a.domain, domain);
        ASSERT_EQ(a.bus, bus);
        ASSERT_EQ(a.slot, slot);
        ASSERT_EQ(a.func, func);
        ASSERT_STREQ(vc_pci_addr_format(&a, buf), formatted);
}

TEST(addr_full) { check_addr("0000:01:00.0", 0, 1, 0, 0, "0000:01:00.0"); }
TEST(addr_short_means_domain_0) { check_addr("01:00.1", 0, 1, 0, 1, "0000:01:00.1"); }
TEST(addr_domain) { check_addr("abcd:ef:1f.7", 0xabcd, 0xef, 0x1f, 7, "abcd:ef:1f.7"); }
TEST(addr_upper_case_formats_lower) { check_addr("ABCD:EF:1F.7", 0xabcd, 0xef, 0x1f, 7, "abcd:ef:1f.7"); }
TEST(addr_mixed_case) { check_addr("0000:0a:1E.3", 0, 0x0a, 0x1e, 3, "0000:0a:1e.3"); }
TEST(addr_max_bus) { check_addr("ffff:ff:1f.7", 0xffff, 0xff, 0x1f, 7, "ffff:ff:1f.7"); }

TEST(addr_macro_formats) {
        struct vc_pci_addr a = { .domain = 1, .bus = 2, .slot = 3, .func = 4 };
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&a), "0001:02:03.4");
}

/* Every rejection leaves the output untouched. */
static void check_bad_addr(const char *s) {
        struct vc_pci_addr a = { 0x1234, 0x56, 0x07, 0x3 };
        int r = vc_pci_addr_parse(s, &a);
        if (r != -EINVAL)
                FAIL_AT("vc_pci_addr_parse(\"%s\") returned %d, expected -EINVAL", s ? s : "(null)", r);
        ASSERT_EQ(a.domain, 0x1234);
        ASSERT_EQ(a.bus, 0x56);
        ASSERT_EQ(a.slot, 0x07);
        ASSERT_EQ(a.func, 0x3);
}

TEST(addr_reject_slot_0x20) { check_bad_addr("0000:01:20.0"); }
TEST(addr_reject_slot_ff) { check_bad_addr("01:ff.0"); }
TEST(addr_reject_func_8) { check_bad_addr("0000:01:00.8"); }
TEST(addr_reject_func_hex_a) { check_bad_addr("01:00.a"); }
TEST(addr_reject_no_func) { check_bad_addr("0000:01:00"); }
TEST(addr_reject_short_bus) { check_bad_addr("1:00.0"); }
TEST(addr_reject_long_bus) { check_bad_addr("0000:001:00.0"); }
TEST(addr_reject_short_slot) { check_bad_addr("0000:01:0.0"); }
TEST(addr_reject_long_func) { check_bad_addr("0000:01:00.00"); }
TEST(addr_reject_5_digit_domain) { check_bad_addr("00000:01:00.0"); }
TEST(addr_reject_3_digit_domain) { check_bad_addr("000:01:00.0"); }
TEST(addr_reject_leading_space) { check_bad_addr(" 01:00.0"); }
TEST(addr_reject_trailing_space) { check_bad_addr("01:00.0 "); }
TEST(addr_reject_trailing_newline) { check_bad_addr("0000:01:00.0\n"); }
TEST(addr_reject_inner_space) { check_bad_addr("0000: 1:00.0"); }
TEST(addr_reject_0x_prefix) { check_bad_addr("0x01:00.0"); }
TEST(addr_reject_0x_domain) { check_bad_addr("0x00:01:00.0"); }
TEST(addr_reject_plus) { check_bad_addr("+1:00.0"); }
TEST(addr_reject_minus) { check_bad_addr("-1:00.0"); }
TEST(addr_reject_trailing_junk) { check_bad_addr("0000:01:00.0x"); }
TEST(addr_reject_trailing_junk_short) { check_bad_addr("01:00.0/"); }
TEST(addr_reject_dot_dot) { check_bad_addr("../00.0"); }
TEST(addr_reject_path) { check_bad_addr("0000:01:00.0/../../x"); }
TEST(addr_reject_empty) { check_bad_addr(""); }
TEST(addr_reject_null) { check_bad_addr(NULL); }
TEST(addr_reject_wrong_separators) { check_bad_addr("0000.01:00:0"); }
TEST(addr_reject_dot_for_colon) { check_bad_addr("0000:01.00.0"); }
TEST(addr_reject_non_hex) { check_bad_addr("0000:0g:00.0"); }
TEST(addr_reject_vendor_device) { check_bad_addr("10de:2204"); }
TEST(addr_reject_only_colons) { check_bad_addr("::."); }
TEST(addr_reject_trailing_dot) { check_bad_addr("01:00.0."); }
TEST(addr_reject_unicode_digit) { check_bad_addr("0000:01:00.\xd9\xa1"); }

TEST(addr_round_trip_all_slots_and_functions) {
        for (unsigned slot = 0; slot <= 0x1f; slot++)
                for (unsigned func = 0; func <= 7; func++) {
                        struct vc_pci_addr a = { .domain = 0x10, .bus = 0xa0, .slot = (uint8_t) slot,
                                                 .func = (uint8_t) func }, b;
                        char buf[VC_PCI_ADDR_STRLEN];
                        ASSERT_OK(vc_pci_addr_parse(vc_pci_addr_format(&a, buf), &b));
                        ASSERT_TRUE(vc_pci_addr_equal(&a, &b));
                        ASSERT_EQ(strlen(buf), VC_PCI_ADDR_STRLEN - 1);
                }
}

TEST(addr_compare_order) {
        /* Sorted: domain first, then bus, slot, function. */
        static const char *const sorted[] = {
                "0000:00:00.0", "0000:00:00.1", "0000:00:01.0", "0000:00:1f.7",
                "0000:01:00.0", "0000:ff:00.0", "0001:00:00.0", "ffff:00:00.0",
        };
        for (size_t i = 0; i < ELEMENTSOF(sorted); i++)
                for (size_t j = 0; j < ELEMENTSOF(sorted); j++) {
                        struct vc_pci_addr a, b;
                        ASSERT_OK(vc_pci_addr_parse(sorted[i], &a));
                        ASSERT_OK(vc_pci_addr_parse(sorted[j], &b));
                        int c = vc_pci_addr_compare(&a, &b);
                        int expected = i < j ? -1 : i > j ? 1 : 0;
                        if ((c > 0) - (c < 0) != expected)
                                FAIL_AT("compare(%s, %s) = %d, expected sign %d", sorted[i], sorted[j], c, expected);
                        ASSERT_EQ(vc_pci_addr_equal(&a, &b), i == j);
                }
}

TEST(addr_short_equals_long) {
        struct vc_pci_addr a, b;
        ASSERT_OK(vc_pci_addr_parse("01:00.0", &a));
        ASSERT_OK(vc_pci_addr_parse("0000:01:00.0", &b));
        ASSERT_TRUE(vc_pci_addr_equal(&a, &b));
        ASSERT_OK(vc_pci_addr_parse("0001:01:00.0", &b));
        ASSERT_FALSE(vc_pci_addr_equal(&a, &b));
}

TEST(id_vendor_device) {
        struct vc_pci_id id;
        ASSERT_OK(vc_pci_id_parse("10de:2204", &id));
        ASSERT_EQ(id.vendor, 0x10de);
        ASSERT_EQ(id.device, 0x2204);
        ASSERT_FALSE(id.has_subsystem);
}

TEST(id_with_subsystem) {
        struct vc_pci_id id;
        ASSERT_OK(vc_pci_id_parse("8086:1533:15D9:1533", &id));
        ASSERT_EQ(id.vendor, 0x8086);
        ASSERT_EQ(id.device, 0x1533);
        ASSERT_TRUE(id.has_subsystem);
        ASSERT_EQ(id.subsystem_vendor, 0x15d9);
        ASSERT_EQ(id.subsystem_device, 0x1533);
}

TEST(id_upper_case) {
        struct vc_pci_id id;
        ASSERT_OK(vc_pci_id_parse("ABCD:EF01", &id));
        ASSERT_EQ(id.vendor, 0xabcd);
        ASSERT_EQ(id.device, 0xef01);
}

static void check_bad_id(const char *s) {
        struct vc_pci_id id = { .vendor = 0x1111 };
        int r = vc_pci_id_parse(s, &id);
        if (r != -EINVAL)
                FAIL_AT("vc_pci_id_parse(\"%s\") returned %d, expected -EINVAL", s ? s : "(null)", r);
        ASSERT_EQ(id.vendor, 0x1111);
}

TEST(id_reject_null) { check_bad_id(NULL); }
TEST(id_reject_empty) { check_bad_id(""); }
TEST(id_reject_vendor_only) { check_bad_id("10de"); }
TEST(id_reject_short_device) { check_bad_id("10de:220"); }
TEST(id_reject_long_device) { check_bad_id("10de:22044"); }
TEST(id_reject_trailing_colon) { check_bad_id("10de:2204:"); }
TEST(id_reject_three_parts) { check_bad_id("10de:2204:1458"); }
TEST(id_reject_five_parts) { check_bad_id("10de:2204:1458:403b:0000"); }
TEST(id_reject_0x) { check_bad_id("0x10de:2204"); }
TEST(id_reject_space) { check_bad_id("10de: 204"); }
TEST(id_reject_wrong_separator) { check_bad_id("10de-2204"); }
TEST(id_reject_subsystem_separator) { check_bad_id("10de:2204-1458:403b"); }
TEST(id_reject_non_hex) { check_bad_id("10dg:2204"); }
TEST(id_reject_pci_address) { check_bad_id("01:00.0"); }

TEST(id_matches) {
        struct vc_pci_id want, have = { .vendor = 0x10de, .device = 0x2204, .has_subsystem = true,
                                        .subsystem_vendor = 0x1043, .subsystem_device = 0x87b3 };
        ASSERT_OK(vc_pci_id_parse("10de:2204", &want));
        ASSERT_TRUE(vc_pci_id_matches(&want, &have));
        ASSERT_OK(vc_pci_id_parse("10de:2204:1043:87b3", &want));
        ASSERT_TRUE(vc_pci_id_matches(&want, &have));
        ASSERT_OK(vc_pci_id_parse("10de:2204:1043:0000", &want));
        ASSERT_FALSE(vc_pci_id_matches(&want, &have));
        ASSERT_OK(vc_pci_id_parse("10de:2206", &want));
        ASSERT_FALSE(vc_pci_id_matches(&want, &have));
        ASSERT_OK(vc_pci_id_parse("8086:2204", &want));
        ASSERT_FALSE(vc_pci_id_matches(&want, &have));
}

/* Reading the topology (docs/PERFORMANCE.md, "Scale"): a device under ROOT/sys/devices/pci0000:00/
 * @path, with @cls and @config_header (the header type byte, -1: no config file), in IOMMU group
 * @group (-1: none). */
static void tree_pci_dev(const char *root, const char *path, const char *cls, int config_header, int group) {
        char rel[512], link[512];
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/vendor", path);
        tree_file(root, rel, "0x8086\n");
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/device", path);
        tree_file(root, rel, "0x1572\n");
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/class", path);
        tree_file(root, rel, cls);
        if (config_header >= 0) {
                char cfg[64] = { 0 };
                cfg[0x0e] = (char) config_header;
                snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/config", path);
                char *p = tree_path(root, rel);
                FILE *f = fopen(p, "we");
                if (!f || fwrite(cfg, 1, sizeof cfg, f) != sizeof cfg || fclose(f) != 0)
                        abort();
                free(p);
        }
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/reset_method", path);
        tree_file(root, rel, "bus\n");
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/numa_node", path);
        tree_file(root, rel, "0\n");
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s", name);
        snprintf(link, sizeof link, "../../../devices/pci0000:00/%s", path);
        tree_link(root, rel, link);
        if (group >= 0) {
                snprintf(rel, sizeof rel, "sys/kernel/iommu_groups/%d/devices", group);
                tree_dir(root, rel);
                int depth = 1;
                for (const char *c = path; *c; c++)
                        depth += *c == '/';
                char up[256] = "";
                for (int i = 0; i < depth + 2; i++)
                        strcat(up, "../");
                snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/iommu_group", path);
                snprintf(link, sizeof link, "%skernel/iommu_groups/%d", up, group);
                tree_link(root, rel, link);
        }
}

static const struct vc_pci_dev *topology_dev(const struct vc_topology *t, const char *name) {
        for (size_t i = 0; i < t->n_groups; i++)
                for (size_t k = 0; k < vc_group_n_devices(t->groups[i]); k++)
                        if (streq(vc_pci_dev_name(vc_group_device(t->groups[i], k)), name))
                                return vc_group_device(t->groups[i], k);
        for (size_t i = 0; i < t->n_ungrouped; i++)
                if (streq(vc_pci_dev_name(t->ungrouped[i]), name))
                        return t->ungrouped[i];
        return NULL;
}

TEST(topology_group_from_device_link) {
        /* Each device's group is what its iommu_group link names: the group's own devices
         * directory is not listed (here it is even empty). A group no PCI device names stays,
         * with no member; a link to a group the groups directory lacks reads as no group. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;

        tree_pci_dev(root, "0000:00:01.0", "0x060400\n", 1, 3);
        tree_pci_dev(root, "0000:00:01.0/0000:01:00.1", "0x040300\n", 0, 7);
        tree_pci_dev(root, "0000:00:01.0/0000:01:00.0", "0x030000\n", 0, 7);
        tree_pci_dev(root, "0000:00:02.0", "0x020000\n", 0, -1);
        tree_link(root, "sys/devices/pci0000:00/0000:00:02.0/iommu_group", "../../../kernel/iommu_groups/9");
        tree_dir(root, "sys/kernel/iommu_groups/4/devices");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_topology_read(ctx, &t, NULL));
        ASSERT_EQ(t->n_groups, 3);
        ASSERT_EQ(vc_group_number(t->groups[0]), 3);
        ASSERT_EQ(vc_group_n_devices(t->groups[0]), 1);
        ASSERT_TRUE(vc_pci_dev_is_bridge(vc_group_device(t->groups[0], 0)));
        ASSERT_EQ(vc_group_number(t->groups[1]), 4);
        ASSERT_EQ(vc_group_n_devices(t->groups[1]), 0);
        ASSERT_EQ(vc_group_number(t->groups[2]), 7);
        ASSERT_EQ(vc_group_n_devices(t->groups[2]), 2); /* in address order */
        ASSERT_STREQ(vc_pci_dev_name(vc_group_device(t->groups[2], 0)), "0000:01:00.0");
        ASSERT_STREQ(vc_pci_dev_name(vc_group_device(t->groups[2], 1)), "0000:01:00.1");
        ASSERT_EQ(t->n_ungrouped, 1);
        ASSERT_STREQ(vc_pci_dev_name(t->ungrouped[0]), "0000:00:02.0");
        struct vc_pci_addr a;
        ASSERT_OK(vc_pci_addr_parse("01:00.1", &a));
        ASSERT_TRUE(vc_topology_find_group(t, &a) == t->groups[2]);
        ASSERT_OK(vc_pci_addr_parse("00:02.0", &a));
        ASSERT_NULL(vc_topology_find_group(t, &a));
        /* the syspath and the parent, resolved from the bus's link when first asked for */
        const struct vc_pci_dev *d = vc_group_device(t->groups[2], 1);
        ASSERT_TRUE(vc_pci_dev_parent(d, &a));
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&a), "0000:00:01.0");
        char *want = tree_path(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1");
        ASSERT_STREQ(vc_pci_dev_syspath(d), want);
        free(want);
        ASSERT_FALSE(vc_pci_dev_parent(vc_group_device(t->groups[0], 0), NULL));
}

TEST(topology_of_one_group) {
        /* What a command about one device reads (enable, release): the device's iommu_group
         * link, its group's devices directory and those devices; no other group's, nor a device
         * with no group. Here reading every device fails, on one in another group. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL, *all = NULL;
        struct vc_pci_addr a;
        int group = 0;

        tree_pci_dev(root, "0000:00:01.0", "0x060400\n", 1, 3);
        tree_pci_dev(root, "0000:00:01.0/0000:01:00.1", "0x040300\n", 0, 7);
        tree_pci_dev(root, "0000:00:01.0/0000:01:00.0", "0x030000\n", 0, 7);
        tree_link(root, "sys/kernel/iommu_groups/7/devices/0000:01:00.1",
                  "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.1");
        tree_link(root, "sys/kernel/iommu_groups/7/devices/0000:01:00.0",
                  "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
        tree_pci_dev(root, "0000:00:02.0", "0x020000\n", 0, -1);
        tree_pci_dev(root, "0000:00:03.0", "0x02zz00\n", 0, 8); /* a class that is not one */
        tree_link(root, "sys/kernel/iommu_groups/8/devices/0000:00:03.0", "../../../../devices/pci0000:00/0000:00:03.0");
        ASSERT_OK(vc_ctx_new(root, &ctx));

        ASSERT_OK(vc_pci_addr_parse("01:00.1", &a));
        ASSERT_OK(vc_pci_addr_iommu_group(ctx, &a, &group));
        ASSERT_EQ(group, 7);
        ASSERT_OK(vc_pci_addr_parse("00:02.0", &a));
        ASSERT_OK(vc_pci_addr_iommu_group(ctx, &a, &group));
        ASSERT_EQ(group, -1);
        ASSERT_OK(vc_pci_addr_parse("00:09.0", &a));
        ASSERT_EQ(vc_pci_addr_iommu_group(ctx, &a, &group), -ENODEV);
        tree_link(root, "sys/devices/pci0000:00/0000:00:02.0/iommu_group", "../../../kernel/iommu_groups/x1");
        ASSERT_OK(vc_pci_addr_parse("00:02.0", &a));
        ASSERT_EQ(vc_pci_addr_iommu_group(ctx, &a, &group), -EBADMSG);

        /* The whole read fails on 0000:00:02.0, and says so; the read of group 7 does not. */
        struct vc_read_failure failure = {};
        ASSERT_EQ(vc_topology_read(ctx, &all, &failure), -EBADMSG);
        ASSERT_TRUE(failure.device_known);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&failure.device), "0000:00:02.0");
        char prefix[VC_READ_FAILURE_PREFIX_MAX];
        ASSERT_STREQ(vc_read_failure_prefix(&failure, prefix), "0000:00:02.0: ");
        ASSERT_OK(vc_topology_read_group(ctx, 7, &t, &failure));
        ASSERT_FALSE(failure.device_known);
        ASSERT_STREQ(vc_read_failure_prefix(&failure, prefix), "");
        ASSERT_EQ(t->n_groups, 1);
        ASSERT_EQ(vc_group_number(t->groups[0]), 7);
        ASSERT_EQ(vc_group_n_devices(t->groups[0]), 2); /* in address order */
        ASSERT_STREQ(vc_pci_dev_name(vc_group_device(t->groups[0], 0)), "0000:01:00.0");
        ASSERT_STREQ(vc_pci_dev_name(vc_group_device(t->groups[0], 1)), "0000:01:00.1");
        ASSERT_EQ(t->n_ungrouped, 0);
        ASSERT_OK(vc_pci_addr_parse("01:00.1", &a));
        ASSERT_TRUE(vc_topology_find_group(t, &a) == t->groups[0]);
        ASSERT_OK(vc_pci_addr_parse("00:01.0", &a));
        ASSERT_NULL(vc_topology_find_group(t, &a));
        t = vc_topology_free(t);
        ASSERT_EQ(vc_topology_read_group(ctx, 5, &t, &failure), -ENOENT);
        ASSERT_FALSE(failure.device_known); /* no such group: no device to name */
        /* A member that cannot be read is named. */
        tree_link(root, "sys/kernel/iommu_groups/8/devices/0000:00:02.0", "../../../../devices/pci0000:00/0000:00:02.0");
        ASSERT_EQ(vc_topology_read_group(ctx, 8, &t, &failure), -EBADMSG);
        ASSERT_TRUE(failure.device_known);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&failure.device), "0000:00:02.0");
        ASSERT_NULL(t);
}

TEST(topology_read_failure_names_no_device_when_no_device_failed) {
        /* The groups directory cannot be listed: the read fails before any device, and whatever
         * the caller's failure held before, it names none. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        struct vc_read_failure failure = { .device_known = true };

        tree_file(root, "sys/kernel/iommu_groups", "not a directory\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_TRUE(vc_topology_read(ctx, &t, &failure) < 0);
        ASSERT_NULL(t);
        ASSERT_FALSE(failure.device_known);
}

TEST(bridge_from_class_and_header) {
        /* The config space's header type is looked at only where the class is a bridge's or
         * undefined: the kernel shows any other class only with an endpoint's header. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;

        tree_pci_dev(root, "0000:00:01.0", "0x060400\n", 1, -1);    /* a bridge */
        tree_pci_dev(root, "0000:00:02.0", "0x060400\n", 0, -1);    /* config says endpoint */
        tree_pci_dev(root, "0000:00:03.0", "0x000000\n", 1, -1);    /* undefined class, bridge header */
        tree_pci_dev(root, "0000:00:04.0", "0x060700\n", -1, -1);   /* no config: the class says CardBus */
        tree_pci_dev(root, "0000:00:05.0", "0x020000\n", 1, -1);    /* NIC: the header is not looked at */
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_topology_read(ctx, &t, NULL));
        ASSERT_EQ(t->n_ungrouped, 5);
        ASSERT_TRUE(vc_pci_dev_is_bridge(topology_dev(t, "0000:00:01.0")));
        ASSERT_FALSE(vc_pci_dev_is_bridge(topology_dev(t, "0000:00:02.0")));
        ASSERT_TRUE(vc_pci_dev_is_bridge(topology_dev(t, "0000:00:03.0")));
        ASSERT_TRUE(vc_pci_dev_is_bridge(topology_dev(t, "0000:00:04.0")));
        ASSERT_FALSE(vc_pci_dev_is_bridge(topology_dev(t, "0000:00:05.0")));
}

TEST(override_on_demand_read_when_asked) {
        /* With VC_PCI_READ_OVERRIDE_ON_DEMAND (doctor's read of every device) a device's
         * driver_override is read when it is first asked for, not with the device: what it
         * says then, once; without the flag (list) it is read with the device. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *late = NULL, *now = NULL;

        tree_pci_dev(root, "0000:00:02.0", "0x020000\n", 0, -1);
        tree_pci_dev(root, "0000:00:03.0", "0x020000\n", 0, -1);
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/driver_override", "(null)\n");
        tree_file(root, "sys/devices/pci0000:00/0000:00:03.0/driver_override", "(null)\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_topology_read_full(ctx, VC_PCI_READ_OVERRIDE_ON_DEMAND, &late, NULL));
        ASSERT_OK(vc_topology_read(ctx, &now, NULL));
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/driver_override", "vfio-pci\n");
        ASSERT_STREQ(vc_pci_dev_driver_override(topology_dev(late, "0000:00:02.0")), "vfio-pci");
        ASSERT_NULL(vc_pci_dev_driver_override(topology_dev(now, "0000:00:02.0")));
        /* Read once: a later change is not seen. */
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/driver_override", "(null)\n");
        ASSERT_STREQ(vc_pci_dev_driver_override(topology_dev(late, "0000:00:02.0")), "vfio-pci");
        /* A device gone before it was asked reads as one without. */
        tree_file(root, "sys/devices/pci0000:00/0000:00:03.0/driver_override", "pci-stub\n");
        char *p = tree_path(root, "sys/bus/pci/devices/0000:00:03.0");
        ASSERT_OK(unlink(p));
        free(p);
        ASSERT_NULL(vc_pci_dev_driver_override(topology_dev(late, "0000:00:03.0")));
        ASSERT_NULL(vc_pci_dev_driver_override(topology_dev(now, "0000:00:03.0")));
}

TEST(group_read_without_device_lock) {
        /* With VC_PCI_READ_NO_DEVICE_LOCK (the generated udev rule, written under the lock: lib/boot.h)
         * nothing that takes the device lock is read: the override reads as absent and
         * sriov_numvfs as 0, on demand too; the addresses, ids, bridges and group are read as
         * always. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_group_freep) struct vc_group *bare = NULL, *full = NULL;

        tree_pci_dev(root, "0000:00:01.0", "0x060400\n", 1, 7);
        tree_pci_dev(root, "0000:00:01.0/0000:01:00.0", "0x020000\n", 0, 7);
        tree_link(root, "sys/kernel/iommu_groups/7/devices/0000:00:01.0", "../../../../devices/pci0000:00/0000:00:01.0");
        tree_link(root, "sys/kernel/iommu_groups/7/devices/0000:01:00.0",
                  "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
        tree_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver_override", "vfio-pci\n");
        tree_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/sriov_totalvfs", "8\n");
        tree_file(root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/sriov_numvfs", "2\n");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_group_read_full(ctx, 7, VC_PCI_READ_NO_DEVICE_LOCK, &bare, NULL));
        ASSERT_OK(vc_group_read(ctx, 7, &full, NULL));
        ASSERT_EQ(vc_group_n_devices(bare), 2);
        const struct vc_pci_dev *bridge = vc_group_device(bare, 0), *nic = vc_group_device(bare, 1);
        ASSERT_STREQ(vc_pci_dev_name(bridge), "0000:00:01.0");
        ASSERT_TRUE(vc_pci_dev_is_bridge(bridge));
        ASSERT_STREQ(vc_pci_dev_name(nic), "0000:01:00.0");
        ASSERT_FALSE(vc_pci_dev_is_bridge(nic));
        ASSERT_EQ(vc_pci_dev_vendor(nic), 0x8086);
        ASSERT_EQ(vc_pci_dev_device(nic), 0x1572);
        ASSERT_EQ(vc_pci_dev_iommu_group(nic), 7);
        ASSERT_NULL(vc_pci_dev_driver_override(nic));
        ASSERT_EQ(vc_pci_dev_num_vfs(nic), 0);
        ASSERT_EQ(vc_pci_dev_total_vfs(nic), 8);
        ASSERT_FALSE(vc_pci_dev_write_pending(nic));
        /* without the flag, both are read */
        ASSERT_STREQ(vc_pci_dev_driver_override(vc_group_device(full, 1)), "vfio-pci");
        ASSERT_EQ(vc_pci_dev_num_vfs(vc_group_device(full, 1)), 2);
}

TEST(ids_from_modalias_without_device_lock) {
        /* With VC_PCI_READ_NO_DEVICE_LOCK uevent is not read (some kernels show it under the
         * device lock): the ids and the class come from modalias, one read, as Linux prints it
         * from the same fields as the attributes. A modalias that is not one of a PCI device's
         * falls back to the attributes. (The attributes differ from the modalias here only to
         * tell which was read.) */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_pci_reader_freep) struct vc_pci_reader *rd = NULL;
        static const char *const bad[] = {
                "pci:v000010DEd00001E84sv00001458sd00003FC9bc03sc00",        /* no prog-if */
                "pci:v000010DEd00001E84sv00001458sd00003FC9bc03sc00i00x",    /* trailing text */
                "pci:v000110DEd00001E84sv00001458sd00003FC9bc03sc00i00",     /* vendor over 16 bits */
                "pci:v000010DEd00001E8Gsv00001458sd00003FC9bc03sc00i00",     /* not hex */
                "usb:v000010DEd00001E84sv00001458sd00003FC9bc03sc00i00",     /* another bus's */
        };
        char rel[256], name[16];

        tree_pci_dev(root, "0000:01:00.0", "0x020000\n", -1, 1);
        tree_file(root, "sys/devices/pci0000:00/0000:01:00.0/modalias",
                  "pci:v000010DEd00001E84sv00001458sd00003FC9bc03sc00i00\n");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(name, sizeof name, "0000:0%zu:00.0", i + 2);
                tree_pci_dev(root, name, "0x020000\n", -1, (int) i + 2);
                snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/modalias", name);
                tree_file(root, rel, bad[i]);
        }
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_pci_reader_new(ctx, VC_PCI_READ_NO_DEVICE_LOCK, &rd));
        for (size_t i = 0; i <= ELEMENTSOF(bad); i++) {
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;
                struct vc_pci_addr a;
                snprintf(name, sizeof name, "0000:0%zu:00.0", i + 1);
                ASSERT_OK(vc_pci_addr_parse(name, &a));
                ASSERT_OK(vc_pci_dev_read_with(ctx, rd, &a, &d));
                if (i == 0) {
                        ASSERT_EQ(vc_pci_dev_vendor(d), 0x10de);
                        ASSERT_EQ(vc_pci_dev_device(d), 0x1e84);
                        ASSERT_EQ(vc_pci_dev_subsystem_vendor(d), 0x1458);
                        ASSERT_EQ(vc_pci_dev_subsystem_device(d), 0x3fc9);
                        ASSERT_EQ(vc_pci_dev_class(d), 0x030000);
                        ASSERT_STREQ(vc_pci_dev_modalias(d), "pci:v000010DEd00001E84sv00001458sd00003FC9bc03sc00i00");
                } else {
                        ASSERT_EQ(vc_pci_dev_vendor(d), 0x8086);
                        ASSERT_EQ(vc_pci_dev_device(d), 0x1572);
                        ASSERT_EQ(vc_pci_dev_class(d), 0x020000);
                }
        }
}

TEST(late_reads_stay_inside_the_root) {
        /* --sysroot is a boundary (lib/root.h): the attributes a device's read leaves for later
         * (numa_node and reset_method, and driver_override with VC_PCI_READ_OVERRIDE_ON_DEMAND)
         * are read inside the root like the rest. Here ROOT/sys/devices/pci0000:00 is an absolute
         * link, /OUT/pci: inside the root it leads to ROOT/OUT/pci, on the host to OUT/pci, a
         * directory outside the root holding a "device" of other values. */
        _cleanup_tree_ char *root = tree_new(), *out = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *late = NULL;
        char rel[PATH_MAX], target[PATH_MAX];
        struct vc_pci_addr a;

        static const char *const attrs[][2] = { /* inside the root, where the link leads there */
                { "vendor", "0x8086\n" },     { "device", "0x1572\n" },   { "class", "0x020000\n" },
                { "reset_method", "flr\n" }, { "numa_node", "0\n" },     { "driver_override", "vfio-pci\n" },
        };
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                snprintf(rel, sizeof rel, "%s/pci/0000:00:02.0/%s", out + 1, attrs[i][0]);
                tree_file(root, rel, attrs[i][1]);
        }
        /* outside the root, where the link leads on the host */
        tree_file(out, "pci/0000:00:02.0/reset_method", "bus\n");
        tree_file(out, "pci/0000:00:02.0/numa_node", "5\n");
        tree_file(out, "pci/0000:00:02.0/driver_override", "outside\n");
        snprintf(target, sizeof target, "%s/pci", out);
        tree_link(root, "sys/devices/pci0000:00", target);
        tree_link(root, "sys/bus/pci/devices/0000:00:02.0", "../../../devices/pci0000:00/0000:00:02.0");

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_pci_addr_parse("0000:00:02.0", &a));
        ASSERT_OK(vc_pci_dev_read(ctx, &a, &d));
        ASSERT_STREQ(vc_pci_dev_driver_override(d), "vfio-pci");
        ASSERT_OK(vc_topology_read_full(ctx, VC_PCI_READ_OVERRIDE_ON_DEMAND, &late, NULL));
        ASSERT_STREQ(vc_pci_dev_driver_override(topology_dev(late, "0000:00:02.0")), "vfio-pci");
        ASSERT_EQ(vc_pci_dev_numa_node(d), 0);
        ASSERT_STREQ(vc_pci_dev_reset_method(d), "flr");
}

/* Bind the tree device at @path to @driver (the link only). */
static void tree_bind(const char *root, const char *path, const char *driver) {
        char rel[512], target[512];
        snprintf(rel, sizeof rel, "sys/bus/pci/drivers/%s", driver);
        tree_dir(root, rel);
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/driver", path);
        snprintf(target, sizeof target, "../../../bus/pci/drivers/%s", driver);
        tree_link(root, rel, target);
}

TEST(vfio_variant_driver_from_vfio_dev) {
        /* A device on a driver other than vfio-pci is on vfio when it has vfio-dev/. Through
         * the topology reader the first device of a driver answers for its others; a driver
         * named like a vfio driver is asked device by device (one being unbound has lost
         * vfio-dev/ before its driver link). A single device read always looks. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;

        static const char *const devs[] = { "0000:00:02.0", "0000:00:02.1", "0000:00:03.0", "0000:00:03.1",
                                            "0000:00:04.0", "0000:00:04.1" };
        for (size_t i = 0; i < ELEMENTSOF(devs); i++)
                tree_pci_dev(root, devs[i], "0x020000\n", 0, -1);
        tree_bind(root, "0000:00:02.0", "mlx5_vfio_pci");
        tree_dir(root, "sys/devices/pci0000:00/0000:00:02.0/vfio-dev/vfio0");
        tree_bind(root, "0000:00:02.1", "mlx5_vfio_pci"); /* being unbound: vfio-dev/ gone */
        tree_bind(root, "0000:00:03.0", "e1000e");
        tree_bind(root, "0000:00:03.1", "e1000e");
        tree_bind(root, "0000:00:04.0", "ourvariant");   /* a variant driver named otherwise */
        tree_dir(root, "sys/devices/pci0000:00/0000:00:04.0/vfio-dev/vfio1");
        tree_bind(root, "0000:00:04.1", "ourvariant");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_topology_read(ctx, &t, NULL));
        ASSERT_EQ(t->n_ungrouped, ELEMENTSOF(devs));
        ASSERT_TRUE(vc_pci_dev_is_on_vfio(topology_dev(t, "0000:00:02.0")));
        ASSERT_FALSE(vc_pci_dev_is_on_vfio(topology_dev(t, "0000:00:02.1")));
        ASSERT_FALSE(vc_pci_dev_is_on_vfio(topology_dev(t, "0000:00:03.0")));
        ASSERT_FALSE(vc_pci_dev_is_on_vfio(topology_dev(t, "0000:00:03.1")));
        ASSERT_TRUE(vc_pci_dev_is_on_vfio(topology_dev(t, "0000:00:04.0")));
        ASSERT_TRUE(vc_pci_dev_is_on_vfio(topology_dev(t, "0000:00:04.1"))); /* the driver's answer */
        _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;
        struct vc_pci_addr a;
        ASSERT_OK(vc_pci_addr_parse("0000:00:04.1", &a));
        ASSERT_OK(vc_pci_dev_read(ctx, &a, &d));
        ASSERT_FALSE(vc_pci_dev_is_on_vfio(d)); /* one device: looked at */
}

TEST(driver_from_uevent_or_link) {
        /* DRIVER= in uevent names the bound driver (the kernel's first line while bound); a name
         * that could not be one path component is not used, and the link is read instead. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        static const char ids[] = "PCI_CLASS=20000\nPCI_ID=8086:1572\nPCI_SUBSYS_ID=8086:0000\n"
                                  "PCI_SLOT_NAME=X\nMODALIAS=pci:v00008086d00001572sv00008086sd00000000bc02sc00i00\n";
        char buf[512];

        tree_pci_dev(root, "0000:00:02.0", "0x020000\n", 0, -1);
        tree_pci_dev(root, "0000:00:03.0", "0x020000\n", 0, -1);
        tree_pci_dev(root, "0000:00:04.0", "0x020000\n", 0, -1);
        snprintf(buf, sizeof buf, "DRIVER=i40e\n%s", ids);  /* and no driver link: uevent says it */
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/uevent", buf);
        snprintf(buf, sizeof buf, "DRIVER=../../x\n%s", ids);
        tree_file(root, "sys/devices/pci0000:00/0000:00:03.0/uevent", buf);
        tree_bind(root, "0000:00:03.0", "e1000e");
        tree_file(root, "sys/devices/pci0000:00/0000:00:04.0/uevent", ids); /* unbound */
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_topology_read(ctx, &t, NULL));
        ASSERT_STREQ(vc_pci_dev_driver(topology_dev(t, "0000:00:02.0")), "i40e");
        ASSERT_STREQ(vc_pci_dev_driver(topology_dev(t, "0000:00:03.0")), "e1000e");
        ASSERT_NULL(vc_pci_dev_driver(topology_dev(t, "0000:00:04.0")));
        ASSERT_TRUE(vc_kernel_name_is_valid("vfio-pci"));
        ASSERT_FALSE(vc_kernel_name_is_valid(".."));
        ASSERT_FALSE(vc_kernel_name_is_valid("a/b"));
        ASSERT_FALSE(vc_kernel_name_is_valid("a b"));
        ASSERT_FALSE(vc_kernel_name_is_valid(""));
}

TEST(identity_read_has_ids_and_group_only) {
        /* What the hook matches a domain's devices with before it takes the lock: the ids, the
         * class and the group; the driver uevent names. Nothing that the engine's decisions read
         * (the override, SR-IOV) is there: the full read says what those are. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL, *full = NULL;
        struct vc_pci_addr a, pf;

        tree_pci_dev(root, "0000:00:02.0", "0x020000\n", 0, 5);
        tree_pci_dev(root, "0000:00:02.1", "0x020000\n", 0, 6);
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.1/uevent",
                  "DRIVER=iavf\nPCI_CLASS=20000\nPCI_ID=8086:154C\nPCI_SUBSYS_ID=8086:0001\n"
                  "PCI_SLOT_NAME=0000:00:02.1\nMODALIAS=pci:v00008086d0000154Csv00008086sd00000001bc02sc00i00\n");
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.1/driver_override", "vfio-pci\n");
        tree_link(root, "sys/devices/pci0000:00/0000:00:02.1/physfn", "../0000:00:02.0");
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_pci_addr_parse("0000:00:02.1", &a));
        ASSERT_OK(vc_pci_dev_read_identity(ctx, &a, &d));
        ASSERT_EQ(vc_pci_dev_vendor(d), 0x8086);
        ASSERT_EQ(vc_pci_dev_device(d), 0x154c);
        ASSERT_EQ(vc_pci_dev_subsystem_device(d), 1);
        ASSERT_EQ(vc_pci_dev_iommu_group(d), 6);
        ASSERT_STREQ(vc_pci_dev_driver(d), "iavf");
        ASSERT_NULL(vc_pci_dev_driver_override(d));
        ASSERT_FALSE(vc_pci_dev_physfn(d, &pf));

        ASSERT_OK(vc_pci_dev_read(ctx, &a, &full));
        ASSERT_STREQ(vc_pci_dev_driver_override(full), "vfio-pci");
        ASSERT_TRUE(vc_pci_dev_physfn(full, &pf));
        ASSERT_EQ(vc_pci_dev_iommu_group(full), 6);

        vc_pci_dev_free(TAKE_PTR(d));
        ASSERT_OK(vc_pci_addr_parse("0000:00:09.0", &a));
        ASSERT_ERRNO(vc_pci_dev_read_identity(ctx, &a, &d), ENODEV);
}

TEST(reset_method_and_numa_node_read_when_asked) {
        /* Only `show` and some of doctor's checks use them: read on first use, once. */
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;

        tree_pci_dev(root, "0000:00:02.0", "0x020000\n", 0, 1);
        tree_pci_dev(root, "0000:00:03.0", "0x020000\n", 0, 2);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_topology_read(ctx, &t, NULL));
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/reset_method", "flr bus\n");
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/numa_node", "1\n");
        const struct vc_pci_dev *d = topology_dev(t, "0000:00:02.0");
        ASSERT_STREQ(vc_pci_dev_reset_method(d), "flr bus");
        ASSERT_EQ(vc_pci_dev_numa_node(d), 1);
        tree_file(root, "sys/devices/pci0000:00/0000:00:02.0/numa_node", "0\n");
        ASSERT_EQ(vc_pci_dev_numa_node(d), 1); /* read once */
        /* absent: unknown; present but empty: no method */
        char *p = tree_path(root, "sys/devices/pci0000:00/0000:00:03.0/reset_method");
        ASSERT_OK(unlink(p) < 0 ? -errno : 0);
        free(p);
        tree_file(root, "sys/devices/pci0000:00/0000:00:03.0/numa_node", "-1\n");
        d = topology_dev(t, "0000:00:03.0");
        ASSERT_NULL(vc_pci_dev_reset_method(d));
        ASSERT_EQ(vc_pci_dev_numa_node(d), -1);
}

static unsigned open_fds(void) {
        unsigned n = 0;
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                abort();
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n - 1; /* the directory's own */
}

TEST(topology_reader_opens_devices_in_their_bus_directory) {
        /* The reader opens a device in its bus's directory, learnt from the first device's link;
         * a name there that is a link, not a directory, is not followed (it leads outside the
         * root here): the bus's link, inside the root, is taken instead. More devices than the
         * batch of closes holds: every one read, no descriptor left open. */
        _cleanup_tree_ char *root = tree_new(), *outside = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        char path[64], rel[128], target[PATH_MAX];

        tree_pci_dev(root, "0000:00:01.0", "0x060400\n", 1, -1);
        for (int i = 0; i < 64; i++) {
                snprintf(path, sizeof path, "0000:00:01.0/0000:01:%02x.%d", i / 8, i % 8);
                tree_pci_dev(root, path, "0x020000\n", -1, 100 + i);
        }
        /* 0000:01:08.0: its link leads to its real directory; in the bus's directory a link of
         * that name leads out of the root, to a "device" of another class */
        tree_pci_dev(root, "0000:00:01.0/real/0000:01:08.0", "0x020000\n", -1, 7);
        tree_file(outside, "0000:01:08.0/class", "0x030000\n");
        tree_file(outside, "0000:01:08.0/vendor", "0x10de\n");
        tree_file(outside, "0000:01:08.0/device", "0x2204\n");
        snprintf(target, sizeof target, "%s/0000:01:08.0", outside);
        snprintf(rel, sizeof rel, "sys/devices/pci0000:00/0000:00:01.0/0000:01:08.0");
        tree_link(root, rel, target);

        unsigned before = open_fds();
        ASSERT_OK(vc_ctx_new(root, &ctx));
        {
                _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
                ASSERT_OK(vc_topology_read(ctx, &t, NULL));
                ASSERT_EQ(t->n_groups, 65u);
                ASSERT_EQ(t->n_ungrouped, 1u);
                for (int i = 0; i < 64; i++) {
                        snprintf(path, sizeof path, "0000:01:%02x.%d", i / 8, i % 8);
                        const struct vc_pci_dev *d = topology_dev(t, path);
                        ASSERT_NOT_NULL(d);
                        ASSERT_EQ(vc_pci_dev_iommu_group(d), 100 + i);
                }
                const struct vc_pci_dev *d = topology_dev(t, "0000:01:08.0");
                ASSERT_NOT_NULL(d);
                ASSERT_EQ(vc_pci_dev_class(d), 0x020000u);
                ASSERT_EQ(vc_pci_dev_iommu_group(d), 7);
        }
        ctx = vc_ctx_unref(ctx);
        ASSERT_EQ(open_fds(), before);
}

int main(int argc, char **argv) {
        return tests_run();
}
