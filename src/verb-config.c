/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "json.h"
#include "log.h"
#include "root.h"

/* Can both entries select one device: the same ids, and neither's serial nor port rules out the
 * other's. The first in reading order decides for such a device (vc_config_match_usb()). */
static bool usb_entries_overlap(const struct vc_config_usb *a, const struct vc_config_usb *b) {
        return a->vendor == b->vendor && a->product == b->product &&
               (!a->serial || !b->serial || streq(a->serial, b->serial)) &&
               (!a->port || !b->port || streq(a->port, b->port));
}

/* A warning for each [usb] entry that can select a device an earlier one selects: the later one's
 * vm = and boot = do not apply to it, while the generated udev rule still names a boot = yes
 * entry's ids. The configuration stays valid. */
static void warn_usb_overlaps(const struct vc_config *c) {
        for (size_t i = 0; i < c->n_usbs; i++)
                for (size_t k = 0; k < i; k++)
                        if (usb_entries_overlap(&c->usbs[k], &c->usbs[i])) {
                                const struct vc_config_usb *a = &c->usbs[k], *b = &c->usbs[i];
                                log_warning("%s:%u: [usb %s] can select the same USB device as [usb %s] (%s:%u), "
                                            "which comes first and decides for it: [usb %s]'s vm = and boot = do not "
                                            "apply to it; tell them apart with serial = or port =",
                                            b->file, b->line, b->name, a->name, a->file, a->line, b->name);
                                break;
                        }
}

int verb_check_config(struct vc_cli *cli, int argc, char **argv) {
        struct stat st;
        int k = vc_path_stat(cli->config_dir, &st); /* inside a --sysroot (lib/root.h) */
        if (k < 0) {
                if (k == -ENOENT)
                        return log_error("%s: no such directory: nothing is configured there (is --config right?)",
                                         cli->config_dir), EXIT_CONFIG;
                return log_error_errno(k, "%s: %m", cli->config_dir), EXIT_CONFIG;
        }
        if (!S_ISDIR(st.st_mode))
                return log_error("%s: not a directory", cli->config_dir), EXIT_CONFIG;
        int r = vc_config_load(cli->config_dir, &cli->config);
        if (r < 0 && r != -EINVAL)
                return log_error_errno(r, "%s: cannot read the configuration: %m", cli->config_dir), EXIT_CONFIG;

        const struct vc_config *c = cli->config;
        if (cli->json) {
                struct vc_json *j = vc_json_new(stdout);
                if (!j)
                        return log_error("out of memory"), EXIT_FAILED;
                vc_json_object_begin(j);
                vc_json_kv_string(j, "directory", cli->config_dir);
                vc_json_kv_bool(j, "valid", c->n_errors == 0);
                vc_json_key(j, "errors");
                vc_json_array_begin(j);
                for (size_t i = 0; i < c->n_errors; i++)
                        vc_json_string(j, c->errors[i]);
                vc_json_array_end(j);
                vc_json_key(j, "devices");
                vc_json_array_begin(j);
                for (size_t i = 0; c->n_errors == 0 && i < c->n_devices; i++) {
                        const struct vc_config_device *d = &c->devices[i];
                        vc_json_object_begin(j);
                        vc_json_kv_string(j, "name", d->name);
                        vc_json_kv_string(j, "file", d->file);
                        vc_json_kv_uint(j, "line", d->line);
                        vc_json_kv_bool(j, "boot", d->boot);
                        vc_json_kv_string(j, "release", vc_release_to_string(vc_config_device_release(c, d)));
                        vc_json_kv_string(j, "vm", d->vm);
                        vc_json_kv_string(j, "reset", vc_reset_to_string(d->reset));
                        vc_json_object_end(j);
                }
                vc_json_array_end(j);
                vc_json_key(j, "usb");
                vc_json_array_begin(j);
                for (size_t i = 0; c->n_errors == 0 && i < c->n_usbs; i++) {
                        const struct vc_config_usb *u = &c->usbs[i];
                        char id[16];
                        snprintf(id, sizeof id, "%04x:%04x", u->vendor, u->product);
                        vc_json_object_begin(j);
                        vc_json_kv_string(j, "name", u->name);
                        vc_json_kv_string(j, "file", u->file);
                        vc_json_kv_uint(j, "line", u->line);
                        vc_json_kv_string(j, "match", id);
                        vc_json_kv_string(j, "serial", u->serial);
                        vc_json_kv_string(j, "port", u->port);
                        vc_json_kv_bool(j, "boot", u->boot);
                        vc_json_kv_string(j, "vm", u->vm);
                        vc_json_object_end(j);
                }
                vc_json_array_end(j);
                vc_json_object_end(j);
                r = vc_json_finish(j);
                vc_json_free(j);
                if (r < 0)
                        return log_error_errno(r, "cannot write the JSON document: %m"), EXIT_FAILED;
                return c->n_errors ? EXIT_CONFIG : EXIT_DONE;
        }

        for (size_t i = 0; i < c->n_errors; i++)
                fprintf(stderr, "%s\n", c->errors[i]);
        if (c->n_errors) {
                log_error("%s: %zu error%s", cli->config_dir, c->n_errors, c->n_errors == 1 ? "" : "s");
                return EXIT_CONFIG;
        }
        warn_usb_overlaps(c);
        printf("%s: valid, %zu device%s configured (%zu claimed at boot)", cli->config_dir, c->n_devices,
               c->n_devices == 1 ? "" : "s",
               (size_t) ({ size_t b = 0; for (size_t i = 0; i < c->n_devices; i++) b += c->devices[i].boot; b; }));
        if (c->n_usbs > 0)
                printf(", %zu USB device%s", c->n_usbs, c->n_usbs == 1 ? "" : "s");
        printf("\n");
        return EXIT_DONE;
}
