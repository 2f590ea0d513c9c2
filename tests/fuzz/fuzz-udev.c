/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: what vfio-claim-udev takes from outside before it claims anything at boot:
 *   - the event's environment, ACTION, SUBSYSTEM and PCI_SLOT_NAME (vc_boot_event_parse(),
 *     lib/boot.c);
 *   - the kernel command line, ROOT/proc/cmdline (vc_boot_cmdline_disabled(), lib/boot.c);
 *   - a device's modalias, the key the release of a boot claim looks modules up with
 *     (vc_module_load_for_modalias(), lib/modules.c), here against a root whose modprobe.d
 *     has aliases to modules that do not exist, so nothing can ever be loaded.
 * The input is the five values separated by NUL bytes: ACTION, SUBSYSTEM, PCI_SLOT_NAME, MODALIAS,
 * CMDLINE; a missing value is unset (NULL). Properties: an "add" event of "pci" gives an address
 * that formats back to one that parses equal, any other event is ignored; the command line answer
 * is 0 or 1 and names its switch; a modalias never loads anything. */

#include <stdio.h>

#include "boot.h"
#include "fuzz.h"
#include "modules.h"
#include "root.h"

static struct vc_ctx *ctx;
static char *cmdline_path;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *root = fuzz_make_tmpdir();
        char *p;
        static const char aliases[] =
                "alias pci:v00008086d000010D3sv*sd*bc*sc*i* vcfuzz_absent_e1000e\n"
                "alias pci:v000010DEd*sv*sd*bc03sc*i* vcfuzz_absent_nouveau\n"
                "alias pci:v*d*sv*sd*bc0Csc03i30* vcfuzz_absent_xhci\n"
                "blacklist vcfuzz_absent_xhci\n";

        if (asprintf(&p, "%s/etc", root) < 0 || mkdir(p, 0755) < 0)
                abort();
        free(p);
        if (asprintf(&p, "%s/etc/modprobe.d", root) < 0 || mkdir(p, 0755) < 0)
                abort();
        free(p);
        if (asprintf(&p, "%s/etc/modprobe.d/fuzz.conf", root) < 0)
                abort();
        fuzz_write_file(p, aliases, strlen(aliases));
        free(p);
        if (asprintf(&p, "%s/proc", root) < 0 || mkdir(p, 0755) < 0)
                abort();
        free(p);
        if (asprintf(&cmdline_path, "%s/proc/cmdline", root) < 0)
                abort();
        if (vc_ctx_new(root, &ctx) < 0)
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *v[5] = {};
        const char *p = (const char *) data, *end = p + size;
        _cleanup_free_ char *copy = NULL;
        struct vc_pci_addr addr = {}, back;
        const char *sw = NULL;
        int r;

        if (size > 8192)
                return 0;
        /* NUL-separated values; the last one runs to the end of the input. */
        copy = malloc(size + 1);
        if (!copy)
                abort();
        memcpy(copy, data, size);
        copy[size] = '\0';
        p = copy, end = copy + size;
        for (size_t i = 0; i < ELEMENTSOF(v) && p <= end; i++) {
                v[i] = p;
                p += strlen(p) + 1;
        }

        r = vc_boot_event_parse(v[0], v[1], v[2], &addr);
        if (!streq_ptr(v[0], "add") || !streq_ptr(v[1], "pci"))
                fuzz_assert(r == 0);
        else if (r != 1)
                fuzz_assert(r == -EINVAL);
        else {
                char buf[VC_PCI_ADDR_STRLEN];
                fuzz_assert(vc_pci_addr_parse(vc_pci_addr_format(&addr, buf), &back) == 0);
                fuzz_assert(vc_pci_addr_equal(&addr, &back));
        }

        if (v[3]) {
                r = vc_module_load_for_modalias(ctx, v[3]);
                if (r > 0)
                        fuzz_fail("modalias \"%s\" loaded %d module(s) from nothing", v[3], r);
        }

        if (v[4]) {
                fuzz_write_file(cmdline_path, v[4], strlen(v[4]));
                r = vc_boot_cmdline_disabled(ctx, &sw);
                fuzz_assert(r == 0 || r == 1);
                if (r == 1)
                        fuzz_assert(streq(sw, "rd.vfio_claim=0") || streq(sw, "vfio_claim=0"));
        }
        return 0;
}
