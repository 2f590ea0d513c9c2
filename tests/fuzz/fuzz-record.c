/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the state record parser (vc_record_parse(), lib/state.c). Records live in
 * /run/vfio-claim and are read by every command; lib/state.h promises that anything unexpected is
 * -EBADMSG. Properties: a record that parses formats to text that parses again to the same text
 * (format is a fixed point), and the group check of the reader holds. */

#include "fuzz.h"
#include "state.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL, *again = NULL, *other = NULL;
        _cleanup_free_ char *text = fuzz_strndup(data, size), *f1 = NULL, *f2 = NULL;
        int r;

        r = vc_record_parse(text, -1, &rec);
        if (r < 0) {
                fuzz_assert(r == -EBADMSG || r == -ENOMEM);
                fuzz_assert(!rec);
                return 0;
        }
        fuzz_assert(rec);
        fuzz_assert(vc_record_state_to_string(rec->state));
        for (size_t i = 0; i < rec->n_devices; i++) {
                const struct vc_record_device *d = vc_record_find_device(rec, &rec->devices[i].addr);
                fuzz_assert(d && vc_pci_addr_equal(&d->addr, &rec->devices[i].addr));
        }

        r = vc_record_format(rec, &f1);
        if (r == -ENOMEM)
                return 0;
        if (r < 0)
                fuzz_fail("a parsed record does not format: %s", strerror(-r));
        r = vc_record_parse(f1, (int) rec->group, &again);
        if (r < 0)
                fuzz_fail("the formatted record does not parse (%s):\n%s", strerror(-r), f1);
        fuzz_assert(vc_record_format(again, &f2) >= 0);
        if (!streq(f1, f2))
                fuzz_fail("format is not a fixed point:\n%s---\n%s", f1, f2);
        fuzz_assert(again->group == rec->group && again->n_devices == rec->n_devices &&
                    again->state == rec->state && again->since == rec->since);

        /* The reader refuses a record of another group. */
        if (rec->group < INT32_MAX)
                fuzz_assert(vc_record_parse(text, (int) rec->group + 1, &other) == -EBADMSG);
        return 0;
}
