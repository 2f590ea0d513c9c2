/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the domain XML reader and the add/remove edit (lib/domain-xml.c). The hook reads
 * whatever XML libvirt hands it; "vfio-claim add/remove" rewrites a domain's XML. Properties:
 * failures are -EBADMSG/-EFBIG with a one-line message; every host device read is found by
 * vc_domain_has_hostdev(); after an "add" the document passes every added address through, after a
 * "remove" none of the removed ones. */

#include "domain-xml.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        vc_xml_quiet();
        return 0;
}

static void check_error(int r, const char *error) {
        fuzz_assert(r == -EBADMSG || r == -EFBIG || r == -ENOMEM);
        if (r != -ENOMEM) {
                fuzz_assert(error);
                if (fuzz_has_control(error))
                        fuzz_fail("error message with a control character: \"%s\"", error);
        }
}

static void check_edit(const uint8_t *data, size_t size, const struct vc_pci_addr *addrs, size_t n,
                       bool add) {
        _cleanup_(vc_domain_freep) struct vc_domain *after = NULL;
        _cleanup_free_ char *xml = NULL, *error = NULL, *error2 = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        int r;

        r = vc_domain_edit_hostdevs((const char *) data, size, addrs, n, add, &xml, &changed, &error);
        if (r < 0) {
                check_error(r, error);
                return;
        }
        fuzz_assert(xml && changed);
        r = vc_domain_parse(xml, strlen(xml), &after, &error2);
        if (r == -EFBIG || r == -ENOMEM)
                return;
        if (r < 0)
                fuzz_fail("the edited document does not parse (%s):\n%s", error2 ? error2 : "?", xml);
        for (size_t i = 0; i < n; i++)
                if (vc_domain_has_hostdev(after, &addrs[i]) != add)
                        fuzz_fail("%s %s, but the edited document %s it:\n%s", add ? "added" : "removed",
                                  VC_PCI_ADDR_TO_STRING(&addrs[i]), add ? "lacks" : "still has", xml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        _cleanup_free_ char *error = NULL;
        struct vc_pci_addr addrs[3];
        size_t n = 0;
        int r;

        r = vc_domain_parse((const char *) data, size, &d, &error);
        if (r < 0) {
                check_error(r, error);
                fuzz_assert(!d);
                return 0;
        }
        fuzz_assert(d);
        for (size_t i = 0; i < d->n_hostdevs; i++) {
                const struct vc_domain_hostdev *h = &d->hostdevs[i];
                fuzz_assert(h->kind < _VC_HOSTDEV_KIND_MAX && vc_hostdev_kind_to_string(h->kind));
                fuzz_assert(h->addr.slot <= 0x1f && h->addr.func <= 7);
                fuzz_assert(vc_domain_has_hostdev(d, &h->addr));
                if (n < 2)
                        addrs[n++] = h->addr;
        }
        addrs[n++] = (struct vc_pci_addr){ .domain = 0, .bus = 0x0a, .slot = 0x1f, .func = 7 };

        check_edit(data, size, addrs, n, true);
        check_edit(data, size, addrs, n, false);
        return 0;
}
