/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/usb.c: reading USB devices from a fake tree (tests/fixtures/usb-desk.topo; reads need no
 * shim), their order, the controller and group, matching [usb NAME] entries, and protection. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "root.h"
#include "tests.h"
#include "tree.h"
#include "fake.h"
#include "usb.h"

TEST(enumerate_usb_desk) {
        if (!fake_available())
                return;
        _cleanup_tree_ char *root = fake_tree("usb-desk");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_usb_enumerate(ctx, VC_USB_READ_STRINGS, &v, &n));
        /* hubs (3-1, usb3, usb4) are left out; ports sort numerically */
        ASSERT_EQ(n, 4);
        ASSERT_STREQ(v[0].port, "3-1.2");
        ASSERT_STREQ(v[1].port, "3-1.3");
        ASSERT_STREQ(v[2].port, "3-2");
        ASSERT_STREQ(v[3].port, "3-3");
        ASSERT_EQ(v[0].vendor, 0x0403);
        ASSERT_EQ(v[0].product, 0x6001);
        ASSERT_EQ(v[0].busnum, 3);
        ASSERT_EQ(v[0].devnum, 5);
        ASSERT_STREQ(v[0].serial, "A10K1234");
        ASSERT_STREQ(v[0].product_name, "FT232R USB UART");
        ASSERT_TRUE(v[0].has_controller);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&v[0].controller), "0000:00:14.0");
        ASSERT_EQ(v[0].group, 5);
        ASSERT_EQ(v[0].n_ifaces, 1);
        ASSERT_STREQ(v[0].ifaces[0].driver, "ftdi_sio");
        ASSERT_NULL(v[2].serial);
        ASSERT_EQ(v[2].n_ifaces, 2);
        ASSERT_EQ(v[2].ifaces[0].cls, 0x03);
        ASSERT_EQ(v[2].ifaces[0].subclass, 0x01);
        ASSERT_EQ(v[2].ifaces[0].protocol, 0x01);

        struct vc_config_usb by_serial = { .name = "a", .vendor = 0x0403, .product = 0x6001, .serial = "A10K5678" };
        struct vc_config_usb by_port = { .name = "b", .vendor = 0x0403, .product = 0x6001, .port = "3-1.2" };
        struct vc_config_usb any = { .name = "c", .vendor = 0x0403, .product = 0x6001 };
        ASSERT_FALSE(vc_config_usb_selects(&by_serial, &v[0]));
        ASSERT_TRUE(vc_config_usb_selects(&by_serial, &v[1]));
        ASSERT_TRUE(vc_config_usb_selects(&by_port, &v[0]));
        ASSERT_FALSE(vc_config_usb_selects(&by_port, &v[1]));
        ASSERT_TRUE(vc_config_usb_selects(&any, &v[1]));
        ASSERT_FALSE(vc_config_usb_selects(&any, &v[2]));
        struct vc_config_usb list[] = { by_serial, any };
        struct vc_config c = { .usbs = list, .n_usbs = 2 };
        ASSERT_TRUE(vc_config_match_usb(&c, &v[1]) == &list[0]);
        ASSERT_TRUE(vc_config_match_usb(&c, &v[0]) == &list[1]);
        ASSERT_NULL(vc_config_match_usb(&c, &v[3]));

        _cleanup_free_ char *reason = NULL;
        ASSERT_OK(vc_usb_dev_protected(ctx, NULL, &v[2], &reason));
        ASSERT_STREQ(reason, "it is a keyboard (interface 3-2:1.0)");
        free(reason);
        reason = NULL;
        ASSERT_OK(vc_usb_dev_protected(ctx, NULL, &v[3], &reason));
        ASSERT_NULL(reason);
        vc_usb_devs_free(v, n);
}

TEST(read_one) {
        if (!fake_available())
                return;
        _cleanup_tree_ char *root = fake_tree("usb-desk");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_usb_dev d;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_usb_dev_read(ctx, "3-3", VC_USB_READ_STRINGS, &d));
        ASSERT_STREQ(d.serial, "4C530001230526115313");
        ASSERT_STREQ(d.ifaces[0].driver, "usb-storage");
        vc_usb_dev_done(&d);
        ASSERT_ERRNO(vc_usb_dev_read(ctx, "3-1", 0, &d), EINVAL);     /* a hub */
        ASSERT_ERRNO(vc_usb_dev_read(ctx, "3-4", 0, &d), ENOENT);     /* nothing plugged in */
        ASSERT_ERRNO(vc_usb_dev_read(ctx, "../../x", 0, &d), EINVAL); /* never a path */
        ASSERT_ERRNO(vc_usb_dev_read(ctx, "3-1.2:1.0", 0, &d), EINVAL);
}

/* Without VC_USB_READ_STRINGS nothing that takes the device's lock in Linux is read; an entry's
 * serial is read when an entry of the device's ids names one, and only then. */
TEST(strings_only_when_asked) {
        if (!fake_available())
                return;
        _cleanup_tree_ char *root = fake_tree("usb-desk");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_usb_enumerate(ctx, 0, &v, &n));
        ASSERT_EQ(n, 4);
        ASSERT_STREQ(v[0].port, "3-1.2");
        for (size_t i = 0; i < n; i++) {
                ASSERT_FALSE(v[i].serial_read);
                ASSERT_NULL(v[i].serial);
                ASSERT_NULL(v[i].manufacturer);
                ASSERT_NULL(v[i].product_name);
        }
        struct vc_config_usb by_serial = { .name = "a", .vendor = 0x0403, .product = 0x6001, .serial = "A10K1234" };
        struct vc_config_usb any = { .name = "c", .vendor = 0x0403, .product = 0x6001 };
        /* a serial not read selects nothing */
        ASSERT_FALSE(vc_config_usb_selects(&by_serial, &v[0]));
        const struct vc_config_usb *u = NULL;
        struct vc_config only_ids = { .usbs = &any, .n_usbs = 1 };
        ASSERT_OK(vc_usb_config_match(ctx, &only_ids, &v[0], &u));
        ASSERT_TRUE(u == &any);
        ASSERT_FALSE(v[0].serial_read);
        struct vc_config_usb list[] = { by_serial, any };
        struct vc_config c = { .usbs = list, .n_usbs = 2 };
        ASSERT_OK(vc_usb_config_match(ctx, &c, &v[3], &u)); /* other ids: not read */
        ASSERT_NULL(u);
        ASSERT_FALSE(v[3].serial_read);
        ASSERT_OK(vc_usb_config_match(ctx, &c, &v[0], &u));
        ASSERT_TRUE(u == &list[0]);
        ASSERT_TRUE(v[0].serial_read);
        ASSERT_STREQ(v[0].serial, "A10K1234");
        ASSERT_NULL(v[0].manufacturer);
        vc_usb_devs_free(v, n);
}

/* A serial whose read does not finish (here a FIFO nobody writes: the open waits, as a read of the
 * attribute waits in Linux for the device's lock while a driver probes or resets the device) is
 * given up on after the unbind timeout; the entry that names it selects nothing, one of the same
 * ids without a serial still does. */
TEST(serial_read_is_bounded) {
        if (!fake_available())
                return;
        _cleanup_tree_ char *root = fake_tree("usb-desk");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        char p[PATH_MAX];
        struct vc_usb_dev d;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        vc_ctx_set_unbind_timeout_ms(ctx, 200);
        snprintf(p, sizeof p, "%s/sys/bus/usb/devices/3-1.2/serial", root);
        char real[PATH_MAX];
        ASSERT_NOT_NULL(realpath(p, real));
        ASSERT_OK(unlink(real) < 0 ? -errno : 0);
        ASSERT_OK(mkfifo(real, 0644) < 0 ? -errno : 0);
        ASSERT_OK(vc_usb_dev_read(ctx, "3-1.2", 0, &d));
        ASSERT_ERRNO(vc_usb_dev_read_serial(ctx, &d), ETIMEDOUT);
        ASSERT_FALSE(d.serial_read);
        struct vc_config_usb list[] = {
                { .name = "a", .vendor = 0x0403, .product = 0x6001, .serial = "A10K1234" },
                { .name = "c", .vendor = 0x0403, .product = 0x6001 },
        };
        struct vc_config c = { .usbs = list, .n_usbs = 2 };
        const struct vc_config_usb *u = NULL;
        ASSERT_ERRNO(vc_usb_config_match(ctx, &c, &d, &u), ETIMEDOUT);
        ASSERT_TRUE(u == &list[1]);
        vc_usb_dev_done(&d);
}

/* A record outlives its device's unplug: only the one whose id (and serial, when it names one)
 * is the plugged-in device's is that device's own. */
static void put_record(struct vc_ctx *ctx, const char *port, const char *text) {
        _cleanup_free_ char *dir = NULL, *p = NULL;
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL));
        ASSERT_OK(vc_mkdir_p(dir, 0755));
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &p, "usb-%s", port));
        FILE *f = fopen(p, "we");
        ASSERT_NOT_NULL(f);
        fputs(text, f);
        ASSERT_EQ(fclose(f), 0);
}

TEST(record_is_of) {
        if (!fake_available())
                return;
        _cleanup_tree_ char *root = fake_tree("usb-desk");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_usb_dev d;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_usb_dev_read(ctx, "3-1.2", 0, &d));
        ASSERT_ERRNO(vc_usb_record_is_of(ctx, &d), ENOENT);
        put_record(ctx, "3-1.2", "id 0403:6001\ninterface 3-1.2:1.0 ftdi_sio\n");
        ASSERT_EQ(vc_usb_record_is_of(ctx, &d), 1);
        ASSERT_FALSE(d.serial_read); /* no serial named: none read */
        put_record(ctx, "3-1.2", "id 1234:abcd\ninterface 3-1.2:1.0 ftdi_sio\n");
        ASSERT_EQ(vc_usb_record_is_of(ctx, &d), 0);
        put_record(ctx, "3-1.2", "id 0403:6001\nserial A10K5678\n");
        ASSERT_EQ(vc_usb_record_is_of(ctx, &d), 0);
        ASSERT_TRUE(d.serial_read);
        put_record(ctx, "3-1.2", "id 0403:6001\nserial A10K1234\n");
        ASSERT_EQ(vc_usb_record_is_of(ctx, &d), 1);
        put_record(ctx, "3-1.2", "interface 3-1.2:1.0 ftdi_sio\n");
        ASSERT_ERRNO(vc_usb_record_is_of(ctx, &d), EBADMSG);
        vc_usb_dev_done(&d);
}

TEST(record_selected) {
        if (!fake_available())
                return;
        _cleanup_tree_ char *root = fake_tree("usb-desk");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        struct vc_config_usb any = { .name = "any", .vendor = 0x0403, .product = 0x6001 },
                             a = { .name = "a", .vendor = 0x0403, .product = 0x6001, .serial = "A10K1234" },
                             at = { .name = "at", .vendor = 0x0403, .product = 0x6001, .port = "3-1.3" };
        /* no device needed: the port may be empty */
        ASSERT_ERRNO(vc_usb_record_selected(ctx, &any, "3-9"), ENOENT);
        put_record(ctx, "3-9", "id 0403:6001\nserial A10K1234\n");
        ASSERT_EQ(vc_usb_record_selected(ctx, &any, "3-9"), 1);
        ASSERT_EQ(vc_usb_record_selected(ctx, &a, "3-9"), 1);
        ASSERT_EQ(vc_usb_record_selected(ctx, &at, "3-9"), 0);
        put_record(ctx, "3-9", "id 0403:6001\nserial A10K5678\n");
        ASSERT_EQ(vc_usb_record_selected(ctx, &a, "3-9"), 0);
        put_record(ctx, "3-9", "id 0403:6001\n");
        ASSERT_ERRNO(vc_usb_record_selected(ctx, &a, "3-9"), ENODATA);
        put_record(ctx, "3-9", "id 1234:abcd\n");
        ASSERT_EQ(vc_usb_record_selected(ctx, &any, "3-9"), 0);
}

TEST(no_usb_is_empty) {
        if (!fake_available())
                return;
        _cleanup_tree_ char *root = fake_tree("gpu-audio");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_usb_dev *v = NULL;
        size_t n = 1;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_usb_enumerate(ctx, 0, &v, &n));
        ASSERT_EQ(n, 0);
        vc_usb_devs_free(v, n);
}

int main(int argc, char **argv) {
        return tests_run();
}
