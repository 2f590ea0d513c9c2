/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the configuration loader (vc_config_load(), lib/config.c, inih underneath). The
 * input is one or more files separated by a line "%%": the first is DIR/vfio-claim.conf (absent
 * when empty), the others DIR/conf.d/NN.conf, read in that order. Properties (lib/config.h,
 * vfio-claim.conf(5)): -EINVAL exactly when errors were found; every error is one line without
 * control characters and starts with the file it is about; every device has a valid, unique name
 * and at least one match; the lookups agree with the list. */

#include <stdio.h>

#include "config.h"
#include "fuzz.h"

#define MAX_FILES 8
#define SEPARATOR "\n%%\n"

static char *dir, *dropins;
static unsigned n_dropins_written;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        dir = strdup(fuzz_make_tmpdir());
        if (!dir || asprintf(&dropins, "%s/conf.d", dir) < 0 || mkdir(dropins, 0755) < 0)
                abort();
        return 0;
}

static void file_path(unsigned i, char *buf, size_t size) {
        if (i == 0)
                snprintf(buf, size, "%s/vfio-claim.conf", dir);
        else
                snprintf(buf, size, "%s/%02u.conf", dropins, i);
}

static bool name_ok(const char *s) {
        return !isempty(s) && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
                                      strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        const char *p = (const char *) data, *end = p + size;
        char path[4096];
        unsigned n = 0;
        int r;

        if (size > 64 * 1024)
                return 0;
        /* Split into files. */
        for (; n < MAX_FILES; n++) {
                const char *sep = memmem(p, (size_t) (end - p), SEPARATOR, strlen(SEPARATOR));
                const char *stop = sep && n + 1 < MAX_FILES ? sep + 1 : end; /* keep the "\n" */
                file_path(n, path, sizeof path);
                if (n == 0 && stop == p)
                        (void) unlink(path);
                else
                        fuzz_write_file(path, p, (size_t) (stop - p));
                if (stop == end) {
                        n++;
                        break;
                }
                p = sep + strlen(SEPARATOR);
        }
        for (unsigned i = n; i < n_dropins_written; i++) {
                file_path(i, path, sizeof path);
                (void) unlink(path);
        }
        n_dropins_written = n;

        r = vc_config_load(dir, &c);
        if (r == -ENOMEM)
                return 0;
        fuzz_assert(r == 0 || r == -EINVAL);
        fuzz_assert(c);
        fuzz_assert((r == -EINVAL) == (c->n_errors > 0));
        for (size_t i = 0; i < c->n_errors; i++) {
                const char *e = c->errors[i];
                if (fuzz_has_control(e))
                        fuzz_fail("error with a control character: \"%s\"", e);
                if (!startswith(e, "vfio-claim.conf") && !startswith(e, "conf.d/"))
                        fuzz_fail("error names no file: \"%s\"", e);
        }
        fuzz_assert(vc_release_to_string(c->release));
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct vc_config_device *d = &c->devices[i];
                if (!name_ok(d->name))
                        fuzz_fail("device name \"%s\"", d->name);
                fuzz_assert(d->file && (streq(d->file, "vfio-claim.conf") || startswith(d->file, "conf.d/")));
                fuzz_assert(d->line > 0);
                if (r == 0)
                        fuzz_assert(d->n_matches > 0);
                for (size_t j = 0; j < d->n_matches; j++)
                        fuzz_assert(d->matches[j].kind != VC_MATCH_ADDRESS ||
                                    (d->matches[j].addr.slot <= 0x1f && d->matches[j].addr.func <= 7));
                fuzz_assert(vc_reset_to_string(d->reset));
                fuzz_assert(vc_release_to_string(vc_config_device_release(c, d)));
                if (d->vm)
                        fuzz_assert(*d->vm && !strchr(d->vm, '/') && !fuzz_has_control(d->vm));
                if (r == 0)
                        fuzz_assert(vc_config_find_device(c, d->name) == d);
                if (d->boot)
                        fuzz_assert(vc_config_has_boot_devices(c));
        }
        return 0;
}
