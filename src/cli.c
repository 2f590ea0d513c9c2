/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "device-arg.h"
#include "host.h"
#include "log.h"
#include "state.h"

/* Read the configuration at most once. An invalid one is never kept: its errors are (printed
 * once and) kept in cli->config_errors, cli->config stays NULL and cli->config_invalid says why,
 * so a second call, strict or not, answers the same as the first. */
static int load_config(struct vc_cli *cli) {
        if (cli->config || cli->config_invalid)
                return 0;
        int r = vc_config_load(cli->config_dir, &cli->config);
        if (r == -EINVAL && cli->config) {
                for (size_t i = 0; i < cli->config->n_errors; i++)
                        fprintf(stderr, "%s\n", cli->config->errors[i]);
                cli->config_errors = TAKE_PTR(cli->config->errors);
                cli->n_config_errors = cli->config->n_errors;
                cli->config->n_errors = 0;
                cli->config = vc_config_free(cli->config);
                cli->config_invalid = true;
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the configuration: %m", cli->config_dir);
        if (cli->config->timeout_ms && !cli->timeout_given) /* --timeout wins over [global] timeout */
                vc_ctx_set_unbind_timeout_ms(cli->ctx, cli->config->timeout_ms);
        return 0;
}

int cli_load_config(struct vc_cli *cli) {
        if (load_config(cli) < 0)
                return EXIT_CONFIG;
        if (cli->config_invalid) {
                log_error("%s: configuration invalid (%zu error%s); nothing was changed", cli->config_dir,
                          cli->n_config_errors, cli->n_config_errors == 1 ? "" : "s");
                return EXIT_CONFIG;
        }
        return EXIT_DONE;
}

int cli_take_lock(struct vc_cli *cli, int *ret_fd) {
        int r = vc_state_lock(cli->ctx, CLI_LOCK_TIMEOUT_MS, ret_fd);
        if (r < 0)
                return log_error_errno(r, "cannot take the lock in %s/vfio-claim: %m", RUNSTATEDIR), EXIT_FAILED;
        return EXIT_DONE;
}

int cli_reload_config(struct vc_cli *cli) {
        cli->config = vc_config_free(cli->config);
        for (size_t i = 0; i < cli->n_config_errors; i++)
                free(cli->config_errors[i]);
        free(cli->config_errors);
        cli->config_errors = NULL;
        cli->n_config_errors = 0;
        cli->config_invalid = false;
        return cli_load_config(cli);
}

int cli_load_config_to_read(struct vc_cli *cli) {
        bool first = !cli->config && !cli->config_invalid;
        if (load_config(cli) < 0)
                return EXIT_CONFIG;
        if (first && cli->config_invalid)
                log_warning("%s: configuration invalid (%zu error%s): shown without it; "
                            "'vfio-claim check-config' lists the errors",
                            cli->config_dir, cli->n_config_errors, cli->n_config_errors == 1 ? "" : "s");
        return EXIT_DONE;
}

void device_arg_done(struct device_arg *a) {
        free(a->text);
        free(a->groups);
        *a = (struct device_arg){};
}

static int add_group(struct device_arg *a, unsigned g) {
        for (size_t i = 0; i < a->n_groups; i++)
                if (a->groups[i] == g)
                        return 0;
        unsigned *n = realloc(a->groups, (a->n_groups + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        a->groups = n;
        a->groups[a->n_groups++] = g;
        return 0;
}

/* The PCI devices as they are now (the configuration main() loaded: src/main.c, verbs[]). A
 * device that cannot be read is named. */
int cli_load_devices(struct vc_cli *cli, struct vc_topology **ret) {
        return cli_load_devices_full(cli, 0, ret);
}

int cli_load_devices_full(struct vc_cli *cli, unsigned flags, struct vc_topology **ret) {
        struct vc_read_failure f;
        char dev[VC_READ_FAILURE_PREFIX_MAX];
        int r = vc_topology_read_full(cli->ctx, flags, ret, &f);
        if (r < 0)
                return log_error_errno(r, "cannot read the PCI devices under %s: %s%m", vc_ctx_root(cli->ctx),
                                       vc_read_failure_prefix(&f, dev)),
                       EXIT_FAILED;
        return EXIT_DONE;
}

/* The PCI devices a command about one DEVICE argument needs. An address or group:N names one
 * group, and only that group is read (its members: what enable, release, show and rom look at;
 * enable and release read them again under the lock, in the engine): on a host with many
 * functions, reading them all was most of enable's and release's system calls
 * (docs/PERFORMANCE.md, "The claim on the real kernel"). A name (its entry may match ids
 * anywhere), an address of no device or of one with no group, and a group that does not exist
 * read all of them, so that cli_resolve_device() finds what it finds with every device and says
 * so. */
int cli_load_devices_for(struct vc_cli *cli, const char *text, struct vc_topology **ret) {
        struct vc_device_spec spec;
        int group = -1;

        if (vc_device_arg_parse(text, &spec) >= 0) {
                if (spec.kind == VC_DEVICE_ARG_GROUP && spec.group <= INT32_MAX)
                        group = (int) spec.group;
                else if (spec.kind == VC_DEVICE_ARG_ADDRESS && vc_pci_addr_iommu_group(cli->ctx, &spec.addr, &group) < 0)
                        group = -1;
        }
        if (group >= 0) {
                struct vc_read_failure f;
                char dev[VC_READ_FAILURE_PREFIX_MAX];
                int r = vc_topology_read_group(cli->ctx, (unsigned) group, ret, &f);
                if (r >= 0)
                        return EXIT_DONE;
                if (r != -ENOENT)
                        return log_error_errno(r, "cannot read IOMMU group %d under %s: %s%m", group,
                                               vc_ctx_root(cli->ctx), vc_read_failure_prefix(&f, dev)),
                               EXIT_FAILED;
        }
        return cli_load_devices(cli, ret);
}

int cli_resolve_device(struct vc_cli *cli, const struct vc_topology *t, const char *text,
                       struct device_arg *ret) {
        struct device_arg a = {};
        struct vc_device_spec spec;
        int r;

        a.text = strdup(text);
        if (!a.text)
                return log_error("out of memory"), EXIT_FAILED;

        r = vc_device_arg_parse(text, &spec);
        if (r == -EDOM) {
                log_error("%s: not a group number", text);
                device_arg_done(&a);
                return EXIT_USAGE;
        }
        if (r >= 0 && spec.kind == VC_DEVICE_ARG_GROUP) {
                unsigned g = spec.group;
                bool found = false;
                for (size_t i = 0; i < t->n_groups; i++)
                        found |= vc_group_number(t->groups[i]) == g;
                if (!found) {
                        log_error("%s: no IOMMU group %u on this host", text, g);
                        device_arg_done(&a);
                        return EXIT_FAILED;
                }
                r = add_group(&a, g);
        } else if (r >= 0 && spec.kind == VC_DEVICE_ARG_ADDRESS) {
                a.addr = spec.addr;
                a.has_addr = true;
                const struct vc_group *g = vc_topology_find_group(t, &a.addr);
                if (!g) {
                        bool exists = false;
                        for (size_t i = 0; i < t->n_ungrouped; i++)
                                exists |= vc_pci_addr_equal(vc_pci_dev_addr(t->ungrouped[i]), &a.addr);
                        if (exists)
                                log_error("%s: the device has no IOMMU group (is the IOMMU enabled? see 'vfio-claim doctor')",
                                          VC_PCI_ADDR_TO_STRING(&a.addr));
                        else
                                log_error("%s: no such PCI device", VC_PCI_ADDR_TO_STRING(&a.addr));
                        device_arg_done(&a);
                        return EXIT_FAILED;
                }
                r = add_group(&a, vc_group_number(g));
                for (size_t i = 0; cli->config && i < vc_group_n_devices(g); i++)
                        if (vc_pci_addr_equal(vc_pci_dev_addr(vc_group_device(g, i)), &a.addr))
                                a.config_device = vc_config_match_device(cli->config, vc_group_device(g, i));
        } else if (r >= 0 && spec.kind == VC_DEVICE_ARG_NAME) {
                if (cli->config_invalid && !cli->config) {
                        /* a reading verb (or release) that went on without the configuration */
                        log_error("%s: a device name, but the configuration in %s is invalid (errors above); "
                                  "name the device by its address or group:N ('vfio-claim status' lists the "
                                  "claimed groups)", text, cli->config_dir);
                        device_arg_done(&a);
                        return EXIT_CONFIG;
                }
                r = cli_load_config(cli);
                if (r != EXIT_DONE) {
                        device_arg_done(&a);
                        return r;
                }
                a.config_device = vc_config_find_device(cli->config, text);
                if (!a.config_device) {
                        _cleanup_free_ char *names = NULL;
                        size_t size = 0;
                        FILE *f = open_memstream(&names, &size);
                        for (size_t i = 0; f && i < cli->config->n_devices; i++)
                                fprintf(f, "%s%s", i ? ", " : "", cli->config->devices[i].name);
                        if (!f || fclose(f) != 0) {
                                device_arg_done(&a);
                                return log_error("out of memory"), EXIT_FAILED;
                        }
                        if (cli->config->n_devices > 0)
                                log_error("%s: not a PCI address, group:N, or a device name in %s; configured names: %s",
                                          text, cli->config_dir, names);
                        else
                                log_error("%s: not a PCI address, group:N, or a device name: %s configures no device",
                                          text, cli->config_dir);
                        device_arg_done(&a);
                        return EXIT_USAGE;
                }
                r = 0;
                for (size_t i = 0; i < t->n_groups && r >= 0; i++)
                        for (size_t k = 0; k < vc_group_n_devices(t->groups[i]) && r >= 0; k++)
                                if (vc_config_match_device(cli->config, vc_group_device(t->groups[i], k)) ==
                                    a.config_device)
                                        r = add_group(&a, vc_group_number(t->groups[i]));
                if (r >= 0 && a.n_groups == 0) {
                        log_error("%s: configured in %s:%u, but no device present matches it", text,
                                  a.config_device->file, a.config_device->line);
                        device_arg_done(&a);
                        return EXIT_FAILED;
                }
        } else {
                log_error("\"%s\" is not a PCI address (DDDD:BB:DD.F), group:N, or a device name", text);
                device_arg_done(&a);
                return EXIT_USAGE;
        }
        if (r < 0) {
                log_error("out of memory");
                device_arg_done(&a);
                return EXIT_FAILED;
        }
        *ret = a;
        return EXIT_DONE;
}

const struct vc_critical_set *cli_critical_set(struct vc_cli *cli) {
        if (!cli->critical_scanned) {
                cli->critical_scanned = true;
                int r = vc_critical_scan(cli->ctx, &cli->critical);
                if (r < 0)
                        log_warning_errno(r, "cannot tell which devices the host needs: %m");
        }
        return cli->critical;
}

const char *cli_critical_reason(struct vc_cli *cli, const struct vc_pci_addr *addr) {
        const struct vc_critical_set *s = cli_critical_set(cli);
        return s ? vc_critical_reason(s, addr) : NULL;
}

const char *cli_group_owner(struct vc_cli *cli, unsigned group) {
        if (!cli->records_read) {
                _cleanup_free_ unsigned *groups = NULL;
                size_t n = 0;
                cli->records_read = true;
                if (vc_record_list(cli->ctx, &groups, &n) < 0 || n == 0)
                        return NULL;
                cli->records = calloc(n, sizeof *cli->records);
                if (!cli->records)
                        return NULL;
                for (size_t i = 0; i < n; i++)
                        if (vc_record_read(cli->ctx, groups[i], &cli->records[cli->n_records]) >= 0)
                                cli->n_records++;
        }
        for (size_t i = 0; i < cli->n_records; i++)
                if (cli->records[i]->group == group)
                        return cli->records[i]->owner;
        return NULL;
}

struct vc_json *cli_json_operations(struct vc_cli *cli) {
        if (!cli->json_ops) {
                cli->json_ops = vc_json_new(stdout);
                if (!cli->json_ops)
                        return NULL;
                vc_json_object_begin(cli->json_ops);
                vc_json_kv_bool(cli->json_ops, "dry_run", cli->dry_run);
                vc_json_key(cli->json_ops, "operations");
                vc_json_array_begin(cli->json_ops);
        }
        return cli->json_ops;
}

int cli_done(struct vc_cli *cli, int code) {
        /* lib/modules.h: nothing is loaded for another root; say what the host would load. */
        char *const *wanted = cli->ctx ? vc_ctx_get_modules_not_loaded(cli->ctx) : NULL;
        if (wanted && wanted[0]) {
                _cleanup_free_ char *list = NULL;
                for (char *const *w = wanted; *w; w++) {
                        char *n = NULL;
                        if (asprintf(&n, "%s%s%s", strempty(list), list ? ", " : "", *w) < 0)
                                break;
                        free(list);
                        list = n;
                }
                log_error("--sysroot %s: vfio-claim never loads kernel modules for a root other than \"/\"; "
                          "this needed: %s", vc_ctx_root(cli->ctx), strna(list));
        }
        if (cli->json_ops) {
                vc_json_array_end(cli->json_ops);
                vc_json_object_end(cli->json_ops);
                int r = vc_json_finish(cli->json_ops);
                vc_json_free(cli->json_ops);
                cli->json_ops = NULL;
                if (r < 0) {
                        log_error_errno(r, "cannot write the JSON document: %m");
                        code = code ?: EXIT_FAILED;
                }
        }
        return code;
}

void cli_clear(struct vc_cli *cli) {
        for (size_t i = 0; i < cli->n_records; i++)
                vc_record_free(cli->records[i]);
        free(cli->records);
        vc_critical_set_free(cli->critical);
        vc_config_free(cli->config);
        for (size_t i = 0; i < cli->n_config_errors; i++)
                free(cli->config_errors[i]);
        free(cli->config_errors);
        free(cli->config_dir);
        vc_topology_free(cli->topology);
        vc_ctx_unref(cli->ctx);
        *cli = (struct vc_cli){};
}

int cli_exit_status(int r) {
        if (r == -ENOMEM)
                log_error("out of memory");
        if (r < 0)
                return EXIT_FAILED;
        return r <= EXIT_REFUSED ? r : EXIT_FAILED;
}

bool cli_host_1g_pages(struct vc_cli *cli) {
        if (cli->host_1g_pages == 0) /* read once per command: doctor asks for every VM */
                cli->host_1g_pages = vc_host_cpu_has_flag(cli->ctx, "pdpe1gb") > 0 ? 2 : 1;
        return cli->host_1g_pages == 2;
}
