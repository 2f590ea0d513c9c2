/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the host-critical list an initramfs carries (lib/critical.h). The input is the
 * image's list, SYSCONF/vfio-claim/host-critical; vc_critical_list_carry() copies its valid lines
 * to RUN_STATE/vfio-claim/host-critical, and a boot context's vc_critical_scan() reads that copy
 * against a root with two PCI devices. Properties: a list that is text is carried (one with a NUL
 * byte is not text: nothing is); the copy is a fixed point (carried again, it
 * comes out the same); a boot scan counts only devices of the root whose id the line names, each
 * with a reason free of control bytes that ends in " when the initramfs was built", and a USB
 * device only through a line of its ids, with such a reason; and what came from a list is never
 * listed again. */

#include <stdio.h>

#include "critical.h"
#include "fileio.h"
#include "fuzz.h"
#include "root.h"

static struct vc_ctx *ctx;
static char *image, *run;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *root = fuzz_make_tmpdir();
        char *dir = NULL;

        fuzz_tree_file(root, "sys/bus/pci/devices/0000:00:04.0/vendor", "0x1af4\n");
        fuzz_tree_file(root, "sys/bus/pci/devices/0000:00:04.0/device", "0x1001\n");
        fuzz_tree_file(root, "sys/bus/pci/devices/0000:02:00.0/vendor", "0x144d\n");
        fuzz_tree_file(root, "sys/bus/pci/devices/0000:02:00.0/device", "0xa80a\n");
        /* two USB devices: a stick with a serial, an adapter without one */
        fuzz_tree_file(root, "sys/bus/usb/devices/3-3/idVendor", "0781\n");
        fuzz_tree_file(root, "sys/bus/usb/devices/3-3/idProduct", "5583\n");
        fuzz_tree_file(root, "sys/bus/usb/devices/3-3/serial", "4C530001230526115313\n");
        fuzz_tree_file(root, "sys/bus/usb/devices/3-1.4/idVendor", "0b95\n");
        fuzz_tree_file(root, "sys/bus/usb/devices/3-1.4/idProduct", "1790\n");
        if (vc_ctx_new(root, &ctx) < 0 ||
            vc_ctx_path(ctx, VC_PLACE_SYSCONF, &image, "%s", VC_CRITICAL_LIST_NAME) < 0 ||
            vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &run, "%s", VC_CRITICAL_LIST_NAME) < 0 ||
            vc_ctx_path(ctx, VC_PLACE_SYSCONF, &dir, NULL) < 0 || vc_mkdir_p(dir, 0755) < 0)
                abort();
        free(dir);
        vc_ctx_set_boot_critical(ctx, true);
        return 0;
}

/* Carry @size bytes of @data as the image's list; returns the copy's text, or NULL when none. */
static char *carry(const void *data, size_t size) {
        char *text = NULL;
        fuzz_write_file(image, data, size);
        (void) unlink(run);
        unsigned bad;
        int r = vc_critical_list_carry(ctx, &bad);
        if (r == -ENOMEM || r == -EBADMSG) /* a NUL byte: the file is no text, nothing carried */
                return NULL;
        fuzz_assert(r == 1);
        if (vc_read_file(run, &text) < 0)
                fuzz_fail("the carried list cannot be read back");
        return text;
}

static bool in_root(const struct vc_pci_addr *a) {
        return streq(VC_PCI_ADDR_TO_STRING(a), "0000:00:04.0") || streq(VC_PCI_ADDR_TO_STRING(a), "0000:02:00.0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *once = NULL, *twice = NULL, *listed = NULL;
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *s = NULL;
        static const char suffix[] = " when the initramfs was built";

        if (size > 65536)
                return 0;
        once = carry(data, size);
        if (!once)
                return 0;
        twice = carry(once, strlen(once));
        if (twice && !streq(once, twice))
                fuzz_fail("carrying is not a fixed point:\n%s\n---\n%s", once, twice);

        if (vc_critical_scan(ctx, &s) < 0)
                return 0; /* out of memory */
        for (size_t i = 0; i < vc_critical_count(s); i++) {
                struct vc_pci_addr a;
                const char *reason = vc_critical_get(s, i, &a);
                size_t n = strlen(reason);
                fuzz_assert(in_root(&a));
                fuzz_assert(!fuzz_has_control(reason));
                fuzz_assert(n >= sizeof suffix - 1 && streq(reason + n - (sizeof suffix - 1), suffix));
        }
        /* a USB device counts only through a line of its ids, with the list's suffix */
        static const struct {
                const char *port, *id;
        } usb[] = { { "3-3", " 0781:5583 " }, { "3-1.4", " 0b95:1790 " }, { "3-1", " 0b95:1790 " } };
        for (size_t i = 0; i < ELEMENTSOF(usb); i++) {
                const char *reason = vc_critical_usb_reason(s, usb[i].port);
                if (!reason)
                        continue;
                size_t n = strlen(reason);
                fuzz_assert(strstr(once, usb[i].id));
                fuzz_assert(!fuzz_has_control(reason));
                fuzz_assert(n >= sizeof suffix - 1 && streq(reason + n - (sizeof suffix - 1), suffix));
        }
        fuzz_assert(!vc_critical_usb_reason(s, "3-4"));
        if (vc_critical_list_format(ctx, s, &listed) >= 0)
                fuzz_assert(streq(listed, ""));
        return 0;
}
