/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI address and id parsing: what an admin may write in the config and on the command line. */

#include "pci.h"
#include "tests.h"

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

int main(int argc, char **argv) {
        return tests_run();
}
