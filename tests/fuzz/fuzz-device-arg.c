/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the DEVICE argument of the CLI (vc_device_arg_parse(), lib/device-arg.c) and the
 * two value parsers it and the configuration rely on (vc_pci_addr_parse(), vc_pci_id_parse()).
 * Properties: what parses formats back to text that parses to the same value; a name is only
 * ever made of [A-Za-z0-9_.-]; "group:" text is a group or -EDOM, never anything else. */

#include <stdio.h>

#include "device-arg.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        return 0;
}

static void check_addr(const struct vc_pci_addr *a) {
        char buf[VC_PCI_ADDR_STRLEN];
        struct vc_pci_addr b;
        fuzz_assert(a->slot <= 0x1f && a->func <= 7);
        fuzz_assert(vc_pci_addr_parse(vc_pci_addr_format(a, buf), &b) == 0);
        fuzz_assert(vc_pci_addr_equal(a, &b) && vc_pci_addr_compare(a, &b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        struct vc_device_spec spec = { .kind = _VC_DEVICE_ARG_KIND_MAX }, again;
        struct vc_pci_addr addr;
        struct vc_pci_id id;
        char buf[64];
        int r;

        r = vc_device_arg_parse(text, &spec);
        if (startswith(text, "group:"))
                fuzz_assert(r == -EDOM || (r == 0 && spec.kind == VC_DEVICE_ARG_GROUP));
        if (r < 0) {
                fuzz_assert(r == -EDOM || r == -EINVAL);
                fuzz_assert(spec.kind == _VC_DEVICE_ARG_KIND_MAX); /* untouched */
        } else
                switch (spec.kind) {
                case VC_DEVICE_ARG_GROUP:
                        fuzz_assert(spec.group <= 0x7fffffff);
                        snprintf(buf, sizeof buf, "group:%u", spec.group);
                        fuzz_assert(vc_device_arg_parse(buf, &again) == 0 &&
                                    again.kind == VC_DEVICE_ARG_GROUP && again.group == spec.group);
                        break;
                case VC_DEVICE_ARG_ADDRESS:
                        check_addr(&spec.addr);
                        fuzz_assert(strlen(text) == 7 || strlen(text) == 12);
                        break;
                case VC_DEVICE_ARG_NAME:
                        fuzz_assert(*text && strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                          "0123456789_.-") == strlen(text));
                        fuzz_assert(vc_pci_addr_parse(text, &addr) < 0);
                        break;
                default:
                        fuzz_fail("kind %d", (int) spec.kind);
                }

        if (vc_pci_addr_parse(text, &addr) == 0)
                check_addr(&addr);

        if (vc_pci_id_parse(text, &id) == 0) {
                struct vc_pci_id back;
                if (id.has_subsystem)
                        snprintf(buf, sizeof buf, "%04x:%04x:%04x:%04x", id.vendor, id.device,
                                 id.subsystem_vendor, id.subsystem_device);
                else
                        snprintf(buf, sizeof buf, "%04x:%04x", id.vendor, id.device);
                fuzz_assert(vc_pci_id_parse(buf, &back) == 0);
                fuzz_assert(back.vendor == id.vendor && back.device == id.device &&
                            back.has_subsystem == id.has_subsystem);
                fuzz_assert(!id.has_subsystem || (back.subsystem_vendor == id.subsystem_vendor &&
                                                  back.subsystem_device == id.subsystem_device));
        }
        return 0;
}
