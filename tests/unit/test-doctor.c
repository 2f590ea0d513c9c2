/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parsing behind vfio-claim doctor: module option values (the kernel command line:
 * test-cmdline.c), the vendor-reset id table, the 64-bit MMIO window size and the VT-d IR bit. */

#include <fcntl.h>
#include <sys/stat.h>

#include "doctor.h"
#include "modules.h"
#include "reset.h"
#include "sysfs.h"
#include "tests.h"

TEST(option_lists) {
        ASSERT_TRUE(vc_option_list_has("on,igfx_off", "on"));
        ASSERT_TRUE(vc_option_list_has("on,igfx_off", "igfx_off"));
        ASSERT_FALSE(vc_option_list_has("on,igfx_off", "off"));
        ASSERT_FALSE(vc_option_list_has("", "off"));
        ASSERT_TRUE(vc_option_list_has("off", "off"));
}

TEST(module_names) {
        ASSERT_TRUE(vc_module_name_equal("vfio-pci", "vfio_pci"));
        ASSERT_TRUE(vc_module_name_equal("vendor-reset", "vendor_reset"));
        ASSERT_FALSE(vc_module_name_equal("vfio", "vfio_pci"));
        ASSERT_FALSE(vc_module_name_equal(NULL, "vfio"));
}

TEST(vfio_ids) {
        ASSERT_TRUE(vc_vfio_ids_match("10de:2204,10de:1aef", 0x10de, 0x1aef));
        ASSERT_TRUE(vc_vfio_ids_match("10DE:2204", 0x10de, 0x2204));
        ASSERT_TRUE(vc_vfio_ids_match("10de:2204:1458:403b", 0x10de, 0x2204));
        ASSERT_TRUE(vc_vfio_ids_match("ffffffff:ffffffff:ffffffff:ffffffff:00030000:00ff0000", 0x1002, 0x731f));
        ASSERT_FALSE(vc_vfio_ids_match("10de:2204", 0x10de, 0x2205));
        ASSERT_FALSE(vc_vfio_ids_match("10de", 0x10de, 0x2204));
        ASSERT_FALSE(vc_vfio_ids_match("", 0x10de, 0x2204));
        ASSERT_FALSE(vc_vfio_ids_match("10de:2204x", 0x10de, 0x2204));
}

TEST(options_get) {
        _cleanup_free_ char *a = vc_options_get("disable_vga=1 ids=10de:2204,10de:1aef", "ids");
        _cleanup_free_ char *b = vc_options_get("disable_vga=1", "ids");
        _cleanup_free_ char *c = vc_options_get("allow_unsafe_interrupts=1", "allow-unsafe-interrupts");
        ASSERT_STREQ(a, "10de:2204,10de:1aef");
        ASSERT_NULL(b);
        ASSERT_STREQ(c, "1");
}

TEST(softdeps) {
        ASSERT_TRUE(vc_softdep_preloads("pre: vfio-pci", "vfio_pci"));
        ASSERT_TRUE(vc_softdep_preloads("pre: drm vfio_pci post: snd", "vfio-pci"));
        ASSERT_FALSE(vc_softdep_preloads("post: vfio-pci", "vfio_pci"));
        ASSERT_FALSE(vc_softdep_preloads("pre: vfio", "vfio_pci"));
        ASSERT_FALSE(vc_softdep_preloads("", "vfio_pci"));
}

TEST(install_commands) {
        ASSERT_TRUE(vc_install_disables("/bin/false"));
        ASSERT_TRUE(vc_install_disables("/usr/bin/true"));
        ASSERT_TRUE(vc_install_disables("true"));
        ASSERT_TRUE(vc_install_disables("/bin/echo blacklisted"));
        ASSERT_FALSE(vc_install_disables("/sbin/modprobe vfio-pci; /sbin/modprobe --ignore-install nouveau"));
        ASSERT_FALSE(vc_install_disables(""));
        ASSERT_FALSE(vc_install_disables(NULL));
}

TEST(vendor_reset_table) {
        ASSERT_STREQ(vc_vendor_reset_family(0x1002, 0x731f), "Navi 10");  /* RX 5700 XT */
        ASSERT_STREQ(vc_vendor_reset_family(0x1002, 0x7340), "Navi 14");  /* RX 5500 XT */
        ASSERT_STREQ(vc_vendor_reset_family(0x1002, 0x7362), "Navi 12");
        ASSERT_STREQ(vc_vendor_reset_family(0x1002, 0x687f), "Vega 10");  /* RX Vega 56/64 */
        ASSERT_STREQ(vc_vendor_reset_family(0x1002, 0x66af), "Vega 20");  /* Radeon VII */
        ASSERT_STREQ(vc_vendor_reset_family(0x1002, 0x67df), "Polaris 10"); /* RX 480/580 */
        ASSERT_STREQ(vc_vendor_reset_family(0x1002, 0x699f), "Polaris 12");
        ASSERT_NULL(vc_vendor_reset_family(0x1002, 0x73bf)); /* Navi 21 resets properly */
        ASSERT_NULL(vc_vendor_reset_family(0x10de, 0x731f)); /* not AMD */
}

TEST(mmio_window) {
        /* at least 64 GiB; twice the need, rounded up to a power of two */
        ASSERT_EQ(vc_mmio64_window_mib(UINT64_C(1) << 30), 65536);
        ASSERT_EQ(vc_mmio64_window_mib(UINT64_C(32) << 30), 65536);
        ASSERT_EQ(vc_mmio64_window_mib((UINT64_C(32) << 30) + (UINT64_C(32) << 20)), 131072);
        ASSERT_EQ(vc_mmio64_window_mib(UINT64_C(48) << 30), 131072);
        ASSERT_EQ(vc_mmio64_window_mib(UINT64_C(128) << 30), 262144);
}

TEST(vtd_ecap_ir_bit) {
        ASSERT_TRUE(vc_intel_ecap_has_ir(0xf050da));  /* a Skylake client: IR supported */
        ASSERT_FALSE(vc_intel_ecap_has_ir(0xf050d2));
        ASSERT_TRUE(vc_intel_ecap_has_ir(0x8));
        ASSERT_FALSE(vc_intel_ecap_has_ir(0x7));
}

TEST(report_counts_and_copies) {
        _cleanup_(vc_doctor_report_freep) struct vc_doctor_report *r = vc_doctor_report_new();
        char text[] = "finding";
        ASSERT_NOT_NULL(r);
        ASSERT_OK(vc_doctor_report_add(r, "iommu", VC_DOCTOR_OK, NULL, text, NULL));
        ASSERT_OK(vc_doctor_report_add(r, "reset", VC_DOCTOR_WARN, "0000:01:00.0", "x", "y"));
        ASSERT_ERRNO(vc_doctor_report_add(r, "reset", _VC_DOCTOR_LEVEL_MAX, NULL, "x", NULL), EINVAL);
        text[0] = 'F';
        ASSERT_STREQ(r->findings[0].finding, "finding");
        ASSERT_NULL(r->findings[0].fix);
        ASSERT_EQ(r->n_findings, 2);
        ASSERT_EQ(r->count[VC_DOCTOR_OK], 1);
        ASSERT_EQ(r->count[VC_DOCTOR_WARN], 1);
        ASSERT_EQ(r->count[VC_DOCTOR_FAIL], 0);
        ASSERT_STREQ(vc_doctor_level_to_string(VC_DOCTOR_FAIL), "fail");
}

TEST(reset_method_values) {
        ASSERT_STREQ(vc_reset_method_value(VC_RESET_AUTO), "default");
        ASSERT_STREQ(vc_reset_method_value(VC_RESET_FLR), "flr");
        ASSERT_STREQ(vc_reset_method_value(VC_RESET_BUS), "bus");
        ASSERT_STREQ(vc_reset_method_value(VC_RESET_DEVICE_SPECIFIC), "device_specific");
        ASSERT_STREQ(vc_reset_method_value(VC_RESET_NONE), "\n");
        ASSERT_NULL(vc_reset_method_value(_VC_RESET_MAX));
        ASSERT_FALSE(vc_reset_before_release(VC_RESET_AUTO));
        ASSERT_FALSE(vc_reset_before_release(VC_RESET_NONE));
        ASSERT_TRUE(vc_reset_before_release(VC_RESET_FLR));
        ASSERT_TRUE(vc_reset_before_release(VC_RESET_DEVICE_SPECIFIC));
}

static void write_file(const char *path, const char *s) {
        FILE *f = fopen(path, "we");
        if (f) {
                fputs(s, f);
                fclose(f);
        }
}

TEST(reset_steps_under_a_root) {
        char root[] = "/tmp/test-reset.XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(root));
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        ASSERT_OK(vc_ctx_new(root, &ctx));
        _cleanup_free_ char *dir = NULL, *rm = NULL, *rs = NULL;
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &dir, "0000:01:00.0"));
        char buf[512];
        snprintf(buf, sizeof buf, "%s", dir);
        for (char *p = buf + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                mkdir(buf, 0755);
                *p = '/';
        }
        ASSERT_OK(mkdir(dir, 0755));
        struct vc_pci_addr a;
        ASSERT_OK(vc_pci_addr_parse("0000:01:00.0", &a));
        char *path = NULL;
        const char *value = NULL;

        /* no attributes: a kernel before 5.15, or a device without any reset */
        ASSERT_OK(vc_reset_step(ctx, &a, VC_RESET_AUTO, false, &path, &value));
        ASSERT_NULL(path);
        ASSERT_OK(vc_reset_step(ctx, &a, VC_RESET_NONE, false, &path, &value));
        ASSERT_NULL(path);
        ASSERT_ERRNO(vc_reset_step(ctx, &a, VC_RESET_FLR, false, &path, &value), EOPNOTSUPP);
        ASSERT_ERRNO(vc_reset_step(ctx, &a, VC_RESET_FLR, true, &path, &value), EOPNOTSUPP);
        ASSERT_OK(vc_reset_step(ctx, &a, VC_RESET_AUTO, true, &path, &value)); /* auto: no reset */
        ASSERT_NULL(path);
        ASSERT_ERRNO(vc_reset_step(ctx, &a, _VC_RESET_MAX, false, &path, &value), EINVAL);

        ASSERT_TRUE(asprintf(&rm, "%s/reset_method", dir) > 0);
        ASSERT_TRUE(asprintf(&rs, "%s/reset", dir) > 0);
        write_file(rm, "flr bus\n");
        write_file(rs, "");
        ASSERT_OK(vc_reset_step(ctx, &a, VC_RESET_DEVICE_SPECIFIC, false, &path, &value));
        ASSERT_STREQ(path, rm);
        ASSERT_STREQ(value, "device_specific");
        free(path);
        ASSERT_OK(vc_reset_step(ctx, &a, VC_RESET_NONE, false, &path, &value));
        ASSERT_STREQ(value, "\n");
        free(path);
        ASSERT_OK(vc_reset_step(ctx, &a, VC_RESET_BUS, true, &path, &value));
        ASSERT_STREQ(path, rs);
        ASSERT_STREQ(value, "1");
        free(path);
        ASSERT_OK(vc_reset_step(ctx, &a, VC_RESET_NONE, true, &path, &value));
        ASSERT_NULL(path);
        unlink(rm);
        unlink(rs);
        rmdir(dir);
}

int main(int argc, char **argv) { return tests_run(); }
