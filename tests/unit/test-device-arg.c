/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DEVICE argument of the CLI, from its text alone (lib/device-arg.h). */

#include "device-arg.h"
#include "tests.h"

TEST(group) {
        struct vc_device_spec s;
        ASSERT_OK(vc_device_arg_parse("group:12", &s));
        ASSERT_EQ(s.kind, VC_DEVICE_ARG_GROUP);
        ASSERT_EQ(s.group, 12);
        ASSERT_OK(vc_device_arg_parse("group:0", &s));
        ASSERT_EQ(s.group, 0);
        ASSERT_OK(vc_device_arg_parse("group:007", &s));
        ASSERT_EQ(s.group, 7);
        ASSERT_OK(vc_device_arg_parse("group:2147483647", &s));
        ASSERT_EQ(s.group, 2147483647u);
}

TEST(group_malformed_is_edom) {
        static const char *const bad[] = {
                "group:", "group:-1", "group:+1", "group: 1", "group:\t1", "group:1 ", "group:0x10",
                "group:1a", "group:2147483648", "group:99999999999999999999999", "group:group:1",
        };
        struct vc_device_spec s = { .kind = VC_DEVICE_ARG_NAME, .group = 99 };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = vc_device_arg_parse(bad[i], &s);
                if (r != -EDOM)
                        FAIL_AT("vc_device_arg_parse(\"%s\") returned %d, expected -EDOM", bad[i], r);
        }
        ASSERT_EQ(s.kind, VC_DEVICE_ARG_NAME); /* untouched */
        ASSERT_EQ(s.group, 99);
}

TEST(address) {
        struct vc_device_spec s;
        ASSERT_OK(vc_device_arg_parse("0000:01:00.1", &s));
        ASSERT_EQ(s.kind, VC_DEVICE_ARG_ADDRESS);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&s.addr), "0000:01:00.1");
        ASSERT_OK(vc_device_arg_parse("0a:1f.7", &s));
        ASSERT_EQ(s.kind, VC_DEVICE_ARG_ADDRESS);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&s.addr), "0000:0a:1f.7");
}

TEST(name) {
        struct vc_device_spec s;
        ASSERT_OK(vc_device_arg_parse("gpu", &s));
        ASSERT_EQ(s.kind, VC_DEVICE_ARG_NAME);
        ASSERT_OK(vc_device_arg_parse("nic-2_a.b", &s));
        ASSERT_EQ(s.kind, VC_DEVICE_ARG_NAME);
        ASSERT_OK(vc_device_arg_parse("group", &s)); /* no colon: a name */
        ASSERT_EQ(s.kind, VC_DEVICE_ARG_NAME);
        ASSERT_OK(vc_device_arg_parse("0000", &s)); /* digits only: a name, not an address */
        ASSERT_EQ(s.kind, VC_DEVICE_ARG_NAME);
}

TEST(neither) {
        static const char *const bad[] = {
                "", "01:20.0", "0000:01:00.8", "gpu 1", "gpu/1", "Group:1", "01:00.0 ", "é", "a:b",
        };
        struct vc_device_spec s;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = vc_device_arg_parse(bad[i], &s);
                if (r != -EINVAL)
                        FAIL_AT("vc_device_arg_parse(\"%s\") returned %d, expected -EINVAL", bad[i], r);
        }
        ASSERT_ERRNO(vc_device_arg_parse(NULL, &s), EINVAL);
}

int main(int argc, char **argv) { return tests_run_argv(argc, argv); }
