/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs that change the system: enable, disable, apply, release, and status, which reports
 * what they did. All moves go through the engine (lib/bind.c) under the one lock. */

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bind.h"
#include "cli.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "reset.h"
#include "state.h"
#include "sysfs.h"
#include "virt.h"

/* Refusals for safety are decided by the step that said no, not by the errno: a sysfs write can
 * fail with EBUSY or EPERM too, and that is a failure, not a refusal. */
static int exit_code_for(const struct vc_op_result *res) {
        switch (res->failed_step) {
        case VC_STEP_PROTECT:  /* host-critical */
        case VC_STEP_IDENTITY: /* hardware changed */
        case VC_STEP_OWNER:    /* held by another VM */
                return EXIT_REFUSED;
        default:
                return EXIT_FAILED;
        }
}

static const struct vc_group *find_group(const struct vc_topology *t, unsigned number) {
        for (size_t i = 0; i < t->n_groups; i++)
                if (vc_group_number(t->groups[i]) == number)
                        return t->groups[i];
        return NULL;
}

static void json_operation(struct vc_cli *cli, const struct vc_plan *p, const char *what, bool changed,
                           const char *error) {
        struct vc_json *j = cli_json_operations(cli);
        if (!j)
                return;
        vc_json_object_begin(j);
        vc_json_kv_uint(j, "group", p->group);
        vc_json_kv_string(j, "operation", what);
        vc_json_kv_bool(j, "changed", changed);
        vc_json_kv_string(j, "error", error);
        vc_json_key(j, "devices");
        vc_json_array_begin(j);
        for (size_t i = 0; i < p->n_devices; i++) {
                vc_json_object_begin(j);
                vc_json_kv_string(j, "address", VC_PCI_ADDR_TO_STRING(&p->devices[i].addr));
                vc_json_kv_string(j, "driver", p->devices[i].driver);
                vc_json_kv_string(j, "target", p->devices[i].target);
                vc_json_kv_string(j, "plan", p->devices[i].description);
                vc_json_object_end(j);
        }
        vc_json_array_end(j);
        vc_json_key(j, "writes");
        vc_json_array_begin(j);
        for (size_t i = 0; i < p->n_writes; i++) {
                vc_json_object_begin(j);
                vc_json_kv_string(j, "path", p->writes[i].path);
                vc_json_kv_string(j, "value", p->writes[i].value);
                vc_json_object_end(j);
        }
        vc_json_array_end(j);
        vc_json_object_end(j);
}

static void print_plan(struct vc_cli *cli, const struct vc_plan *p, const char *what) {
        if (cli->json)
                return;
        printf("%s IOMMU group %u:\n", what, p->group);
        for (size_t i = 0; i < p->n_devices; i++)
                printf("  %s  %s\n", VC_PCI_ADDR_TO_STRING(&p->devices[i].addr), p->devices[i].description);
        if (!cli->dry_run)
                return;
        for (size_t i = 0; i < p->n_modules; i++)
                printf("  load module %s\n", p->modules[i]);
        if (p->n_writes == 0)
                printf("  (no writes)\n");
        for (size_t i = 0; i < p->n_writes; i++) {
                const char *v = p->writes[i].value;
                printf("  write %s <- \"%s\"\n", p->writes[i].path, streq(v, "\n") ? "\\n" : v);
        }
}

/* Identity guards from the configuration: an entry with "id =" must still describe the device. */
static int collect_guards(struct vc_cli *cli, const struct vc_group *g, struct vc_claim_guard **ret,
                          size_t *ret_n) {
        struct vc_claim_guard *v = calloc(vc_group_n_devices(g) + 1, sizeof *v);
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; cli->config && i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                const struct vc_config_device *cd = vc_config_match_device(cli->config, d);
                if (cd && cd->has_id)
                        v[n++] = (struct vc_claim_guard){ .addr = *vc_pci_dev_addr(d), .id = cd->id };
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static void report_failure(const struct vc_op_result *res, int r) {
        _cleanup_free_ char *msg = vc_op_result_message(res);
        if (msg)
                log_error("%s", msg);
        else
                log_error_errno(r, "failed: %m");
        if (res->rollback_error)
                log_error_errno(res->rollback_error,
                                "rolling back did not fully succeed (%m); run 'vfio-claim status' and 'vfio-claim release' for the group");
}

/* Every member stays where it is: what changed was a reset_method or the record. */
static bool plan_moves_nothing(const struct vc_plan *plan) {
        for (size_t k = 0; plan && k < plan->n_devices; k++)
                if (plan->devices[k].action != VC_PLAN_LEAVE && plan->devices[k].action != VC_PLAN_LEAVE_BRIDGE)
                        return false;
        return true;
}

/* After a give-back, where each endpoint it moved is now: the host driver is the kernel's pick
 * for a device claimed at boot. */
static void print_drivers_now(struct vc_cli *cli, const struct vc_plan *plan) {
        for (size_t k = 0; k < plan->n_devices; k++) {
                const struct vc_plan_device *pd = &plan->devices[k];
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;
                if (pd->action == VC_PLAN_LEAVE || pd->action == VC_PLAN_LEAVE_BRIDGE ||
                    vc_pci_dev_read(cli->ctx, &pd->addr, &d) < 0)
                        continue;
                printf("  %s  now %s\n", VC_PCI_ADDR_TO_STRING(&pd->addr),
                       vc_pci_dev_driver(d) ? vc_pci_dev_driver(d) : "unbound");
        }
}

static void results_free(struct vc_op_result *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                vc_op_result_done(&v[i]);
        free(v);
}

/* Take back what the successful operations in @v changed, newest first: the engine knows what
 * each one moved and wrote (vc_op_result_undo()); a group that was claimed before stays so. */
static void undo_results(struct vc_cli *cli, struct vc_op_result *v, size_t n, bool lock_held) {
        for (size_t k = n; k-- > 0;) {
                if (!v[k].undo)
                        continue;
                int q = vc_op_result_undo(cli->ctx, &v[k], lock_held);
                if (q < 0)
                        log_error_errno(q, "IOMMU group %u: could not be put back as it was (%m); run "
                                        "'vfio-claim status' and 'vfio-claim release group:%u'", v[k].group, v[k].group);
                else
                        log_notice("IOMMU group %u: put back as it was", v[k].group);
        }
}

/* Claim (or, with @release, give back) each group; a failure undoes what this call changed in
 * the groups before it. Holds the lock across all groups. @expected_owners (release, may be
 * NULL): for each group, the owner its record named when libvirt was asked (NULL: none); the
 * record read under the lock must still name it, or nothing is done and EXIT_RETRY tells the
 * caller to ask libvirt again. On success, *ret_results (when not NULL) gets the results, for
 * an undo by the caller. */
#define EXIT_RETRY (-1)
#define OWNER_CHECK_ATTEMPTS 3
static int move_groups(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups,
                       size_t n_groups, bool release, const char *what, char *const *expected_owners,
                       struct vc_op_result **ret_results) {
        _cleanup_close_ int lock = -1;
        struct vc_op_result *results = calloc(n_groups + 1, sizeof *results);
        int r;

        if (!results)
                return log_error("out of memory"), EXIT_FAILED;
        if (!cli->dry_run) {
                r = vc_state_lock(cli->ctx, 60000, &lock);
                if (r < 0) {
                        free(results);
                        return log_error_errno(r, "cannot take the lock in %s/vfio-claim: %m", RUNSTATEDIR),
                               EXIT_FAILED;
                }
        }

        /* Whose group it is was asked of libvirt before the lock (libvirtd may be waiting for
         * this lock in the hook of a VM it starts): the records read now, under the lock, must
         * still name the same owners; a hook that took a group meanwhile wins. */
        for (size_t i = 0; expected_owners && i < n_groups; i++) {
                _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                r = vc_record_read(cli->ctx, groups[i], &rec);
                if (r < 0 && r != -ENOENT) {
                        free(results);
                        return log_error_errno(r, "IOMMU group %u: cannot read its state record: %m", groups[i]),
                               EXIT_FAILED;
                }
                if (!streq_ptr(rec ? rec->owner : NULL, expected_owners[i])) {
                        log_notice("IOMMU group %u: its holder changed from %s%s%s to %s%s%s while this command waited for "
                                   "the lock; asking libvirt again", groups[i],
                                   expected_owners[i] ? "VM \"" : "", expected_owners[i] ?: "none",
                                   expected_owners[i] ? "\"" : "", rec && rec->owner ? "VM \"" : "",
                                   rec && rec->owner ? rec->owner : "none", rec && rec->owner ? "\"" : "");
                        free(results);
                        return EXIT_RETRY;
                }
        }

        for (size_t i = 0; i < n_groups; i++) {
                const struct vc_group *g = find_group(t, groups[i]);
                _cleanup_free_ struct vc_claim_guard *guards = NULL;
                _cleanup_free_ struct vc_reset_choice *resets = NULL;
                size_t n_guards = 0, n_resets = 0;
                if (g && (collect_guards(cli, g, &guards, &n_guards) < 0 ||
                          vc_reset_choices_for_group(cli->config, g, &resets, &n_resets) < 0)) {
                        log_error("out of memory");
                        undo_results(cli, results, i, !cli->dry_run);
                        results_free(results, n_groups);
                        return EXIT_FAILED;
                }

                char by[64];
                snprintf(by, sizeof by, "vfio-claim %s", cli->verb);
                struct vc_claim_opts opts = {
                        .by = by,
                        .dry_run = cli->dry_run,
                        .lock_held = !cli->dry_run,
                        .protect = (!cli->config || cli->config->protect) && !cli->force,
                        .guards = guards,
                        .n_guards = n_guards,
                        .resets = resets,
                        .n_resets = n_resets,
                };
                struct vc_op_result *res = &results[i];
                r = release ? vc_group_release(cli->ctx, groups[i], &opts, res)
                            : vc_group_claim(cli->ctx, groups[i], &opts, res);
                if (res->plan)
                        print_plan(cli, res->plan, what);
                if (res->plan && cli->json) {
                        _cleanup_free_ char *msg = r < 0 ? vc_op_result_message(res) : NULL;
                        json_operation(cli, res->plan, what, r >= 0 && res->changed, msg);
                }
                if (r < 0) {
                        int code = exit_code_for(res);
                        report_failure(res, r);
                        if (res->failed_step == VC_STEP_PROTECT)
                                log_error("use --force to override the protection of host-critical devices");
                        /* Undo what this command changed before the failure, and only that. */
                        undo_results(cli, results, i, true);
                        results_free(results, n_groups);
                        return code;
                }
                if (!cli->dry_run && !cli->json) {
                        printf("IOMMU group %u: %s\n", groups[i],
                               release ? (res->changed ? "given back to the host drivers" : "nothing to give back")
                               : !res->changed ? "already claimed"
                               : plan_moves_nothing(res->plan) ? "already claimed; reset_method set as configured"
                                                               : "claimed for vfio");
                        if (release && res->changed && res->plan)
                                print_drivers_now(cli, res->plan);
                }
        }
        if (ret_results)
                *ret_results = results;
        else
                results_free(results, n_groups);
        return EXIT_DONE;
}

/* Held by a VM: the record names an owner (the hook clears it when the VM stops) and libvirt says
 * that VM runs. An owner libvirt knows as stopped or not at all is stale (libvirtd died before
 * it ran the release hook): the group is taken back. Without an answer from libvirt: refused,
 * unless --force. libvirt is asked without our lock (libvirtd may be starting a VM whose hook
 * waits for it); each owner found is kept in @ret_owners[i] (NULL: none), and move_groups()
 * checks under the lock that the records still name exactly these owners. */
static int refuse_if_held(struct vc_cli *cli, const unsigned *groups, size_t n, char **ret_owners) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                int r = vc_record_read(cli->ctx, groups[i], &rec);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return log_error_errno(r, "IOMMU group %u: cannot read its state record: %m", groups[i]),
                               EXIT_FAILED;
                if (!rec->owner)
                        continue;
                /* The record says who took it; libvirt says whether that VM still runs. */
                _cleanup_free_ char *err = NULL;
                r = vc_virt_domain_is_running(cli->connect_uri, rec->owner, &err);
                if (r > 0) {
                        log_error("IOMMU group %u is held by the running VM \"%s\"; stop the VM first", groups[i],
                                  rec->owner);
                        return EXIT_REFUSED;
                }
                if (r == 0)
                        log_notice("IOMMU group %u: its record names VM \"%s\" as the holder, but libvirt (%s) says "
                                   "it is not running: a stale hold, taken back", groups[i], rec->owner,
                                   cli->connect_uri);
                else if (r == -ENOENT)
                        log_warning("IOMMU group %u: its record names VM \"%s\" as the holder, but libvirt at %s knows "
                                    "no VM of that name: a stale hold, taken back (if the VM is defined under another "
                                    "libvirt connection, that was the wrong --connect URI)",
                                    groups[i], rec->owner, cli->connect_uri);
                else if (cli->force)
                        log_warning("IOMMU group %u: held by VM \"%s\" per its record; libvirt (%s) cannot tell "
                                    "whether it runs (%s); going on (--force)", groups[i], rec->owner,
                                    cli->connect_uri, strna(err));
                else {
                        log_error("IOMMU group %u is held by VM \"%s\" per its record, and libvirt (%s) cannot tell "
                                  "whether it runs (%s); stop the VM first, or if it is gone, run again with --force",
                                  groups[i], rec->owner, cli->connect_uri, strna(err));
                        return EXIT_REFUSED;
                }
                if (!(ret_owners[i] = strdup(rec->owner)))
                        return log_error("out of memory"), EXIT_FAILED;
        }
        return EXIT_DONE;
}

static int load_all(struct vc_cli *cli, struct vc_topology **ret) {
        int r = cli_load_config(cli);
        if (r != EXIT_DONE)
                return r;
        r = vc_topology_read(cli->ctx, ret);
        if (r < 0)
                return log_error_errno(r, "cannot read the PCI devices under %s: %m", vc_ctx_root(cli->ctx)),
                       EXIT_FAILED;
        return EXIT_DONE;
}

/* "0000:01:00.0" -> "0000-01-00.0": a device name the configuration accepts. */
static void name_from_addr(const struct vc_pci_addr *a, char buf[static VC_PCI_ADDR_STRLEN]) {
        vc_pci_addr_format(a, buf);
        for (char *p = buf; *p; p++)
                if (*p == ':')
                        *p = '-';
}

static int config_file_for(struct vc_cli *cli, const char *name, char **ret) {
        if (asprintf(ret, "%s/conf.d/%s.conf", cli->config_dir, name) < 0)
                return -ENOMEM;
        return 0;
}

/* conf.d/NAME.conf with one [device] section per endpoint of the groups, each guarded by its id. */
static int config_text_for_groups(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups,
                                  size_t n_groups, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# Written by \"vfio-claim enable\"; \"vfio-claim disable\" removes this file.\n"
                   "# The whole IOMMU group moves, so every endpoint of it is listed.\n");
        for (size_t i = 0; i < n_groups; i++) {
                const struct vc_group *g = find_group(t, groups[i]);
                for (size_t k = 0; g && k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        char name[VC_PCI_ADDR_STRLEN];
                        if (vc_pci_dev_is_bridge(d) || vc_config_match_device(cli->config, d))
                                continue;
                        name_from_addr(vc_pci_dev_addr(d), name);
                        fprintf(f, "\n[device %s]\nmatch = %s\nid = %04x:%04x\nboot = %s\n", name,
                                vc_pci_dev_name(d), vc_pci_dev_vendor(d), vc_pci_dev_device(d),
                                cli->boot ? "yes" : "no");
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

static bool text_has_sections(const char *text) { return strstr(text, "\n[device ") != NULL; }

int verb_enable(struct vc_cli *cli, int argc, char **argv) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        _cleanup_free_ char *text = NULL, *path = NULL, *confd = NULL;
        struct device_arg arg = {};
        int r;

        r = load_all(cli, &t);
        if (r != EXIT_DONE)
                return r;
        r = cli_resolve_device(cli, t, argv[0], &arg);
        if (r != EXIT_DONE)
                return r;

        if (arg.config_device && cli->boot && !arg.config_device->boot)
                log_warning("%s is configured in %s:%u with boot = no; --boot does not change that entry",
                            argv[0], arg.config_device->file, arg.config_device->line);

        /* The configuration for the endpoints not configured yet. */
        const struct vc_group *g0 = find_group(t, arg.groups[0]);
        char name[VC_PCI_ADDR_STRLEN];
        name_from_addr(arg.has_addr ? &arg.addr : vc_pci_dev_addr(vc_group_device(g0, 0)), name);
        r = config_text_for_groups(cli, t, arg.groups, arg.n_groups, &text);
        if (r >= 0)
                r = config_file_for(cli, name, &path);
        if (r < 0) {
                device_arg_done(&arg);
                return log_error("out of memory"), EXIT_FAILED;
        }
        bool write_config = text_has_sections(text);
        if (write_config && vc_path_exists(path)) {
                log_error("%s exists but does not configure this group; remove it or run 'vfio-claim disable' first", path);
                device_arg_done(&arg);
                return EXIT_FAILED;
        }

        struct vc_op_result *results = NULL;
        r = move_groups(cli, t, arg.groups, arg.n_groups, false, "claim", NULL, &results);
        if (r != EXIT_DONE || !write_config) {
                results_free(results, arg.n_groups);
                device_arg_done(&arg);
                return r;
        }
        if (cli->dry_run) {
                if (!cli->json)
                        printf("write %s:\n%s", path, text);
                results_free(results, arg.n_groups);
                device_arg_done(&arg);
                return EXIT_DONE;
        }

        if (asprintf(&confd, "%s/conf.d", cli->config_dir) < 0)
                r = -ENOMEM;
        else if ((r = vc_mkdir_p(confd, 0755)) >= 0)
                r = vc_write_file_atomic(path, text, 0644);
        if (r >= 0) {
                /* The new file must leave the configuration valid; otherwise take it back. */
                _cleanup_(vc_config_freep) struct vc_config *check = NULL;
                if (vc_config_load(cli->config_dir, &check) < 0) {
                        for (size_t i = 0; check && i < check->n_errors; i++)
                                log_error("%s", check->errors[i]);
                        (void) vc_unlink_durable(path);
                        r = -EINVAL;
                }
        }
        if (r < 0) {
                log_error_errno(r, "%s: cannot write the configuration: %m", path);
                undo_results(cli, results, arg.n_groups, false);
                results_free(results, arg.n_groups);
                device_arg_done(&arg);
                return EXIT_FAILED;
        }
        results_free(results, arg.n_groups);
        if (!cli->json)
                printf("configuration: %s (boot = %s)\n", path, cli->boot ? "yes" : "no");
        device_arg_done(&arg);
        return EXIT_DONE;
}

/* Configuration files written by enable for these groups: every section in them configures an
 * endpoint of the groups. Entries elsewhere are the admin's to edit. */
static int drop_from_config(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups,
                            size_t n_groups) {
        int ret = EXIT_DONE;
        const struct vc_config *c = cli->config;

        for (size_t i = 0; i < c->n_devices; i++) {
                const struct vc_config_device *cd = &c->devices[i];
                bool ours = false, done_before = false;
                for (size_t g = 0; g < n_groups && !ours; g++) {
                        const struct vc_group *grp = find_group(t, groups[g]);
                        for (size_t k = 0; grp && k < vc_group_n_devices(grp); k++)
                                ours |= vc_config_match_device(c, vc_group_device(grp, k)) == cd;
                }
                if (!ours)
                        continue;
                for (size_t k = 0; k < i; k++)
                        done_before |= streq(c->devices[k].file, cd->file);
                if (done_before)
                        continue;
                /* Every section of the file must belong to the groups. */
                bool whole_file = startswith(cd->file, "conf.d/") != NULL;
                for (size_t k = 0; k < c->n_devices && whole_file; k++) {
                        if (!streq(c->devices[k].file, cd->file))
                                continue;
                        bool in = false;
                        for (size_t g = 0; g < n_groups && !in; g++) {
                                const struct vc_group *grp = find_group(t, groups[g]);
                                for (size_t m = 0; grp && m < vc_group_n_devices(grp); m++)
                                        in |= vc_config_match_device(c, vc_group_device(grp, m)) == &c->devices[k];
                        }
                        whole_file = in;
                }
                if (!whole_file) {
                        log_warning("[device %s] in %s:%u also configures devices outside this group; edit it by hand",
                                    cd->name, cd->file, cd->line);
                        ret = EXIT_FAILED;
                        continue;
                }
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", cli->config_dir, cd->file) < 0)
                        return log_error("out of memory"), EXIT_FAILED;
                if (cli->dry_run) {
                        if (!cli->json)
                                printf("remove %s\n", path);
                        continue;
                }
                int r = vc_unlink_durable(path);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot remove: %m", path);
                        ret = EXIT_FAILED;
                } else if (!cli->json)
                        printf("configuration: removed %s\n", path);
        }
        return ret;
}

/* disable and release: refuse a group a VM holds, give it back, and for disable drop it from the
 * configuration. */
static int give_back(struct vc_cli *cli, const char *device, bool drop_config) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        struct device_arg arg = {};
        int r;

        r = load_all(cli, &t);
        if (r != EXIT_DONE)
                return r;
        r = cli_resolve_device(cli, t, device, &arg);
        if (r != EXIT_DONE)
                return r;
        /* Ask libvirt about the owners the records name, then act under the lock only when the
         * records still name them: a hook "prepare" may have taken a group meanwhile. Then
         * libvirt is asked again, a few times at most. */
        for (unsigned attempt = 1;; attempt++) {
                char **owners = calloc(arg.n_groups + 1, sizeof *owners);
                if (!owners) {
                        r = EXIT_FAILED;
                        log_error("out of memory");
                        break;
                }
                r = refuse_if_held(cli, arg.groups, arg.n_groups, owners);
                if (r == EXIT_DONE)
                        r = move_groups(cli, t, arg.groups, arg.n_groups, true, "give back",
                                        cli->dry_run ? NULL : owners, NULL);
                for (size_t i = 0; i < arg.n_groups; i++)
                        free(owners[i]);
                free(owners);
                if (r != EXIT_RETRY)
                        break;
                if (attempt == OWNER_CHECK_ATTEMPTS) {
                        log_error("the holder of the group changed %u times while this command waited for the lock; "
                                  "nothing was given back, run it again", attempt);
                        r = EXIT_REFUSED;
                        break;
                }
        }
        if (r == EXIT_DONE && drop_config)
                r = drop_from_config(cli, t, arg.groups, arg.n_groups);
        device_arg_done(&arg);
        return r;
}

int verb_disable(struct vc_cli *cli, int argc, char **argv) { return give_back(cli, argv[0], true); }
int verb_release(struct vc_cli *cli, int argc, char **argv) { return give_back(cli, argv[0], false); }

int verb_apply(struct vc_cli *cli, int argc, char **argv) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        _cleanup_free_ unsigned *groups = NULL;
        size_t n = 0;
        int r;

        r = load_all(cli, &t);
        if (r != EXIT_DONE)
                return r;
        groups = calloc(t->n_groups + 1, sizeof *groups);
        if (!groups)
                return log_error("out of memory"), EXIT_FAILED;
        /* Every group holding a present device of a boot = yes entry, not claimed yet or with a
         * reset_method that differs from its "reset =". */
        for (size_t i = 0; i < t->n_groups; i++) {
                const struct vc_group *g = t->groups[i];
                bool wanted = false, resets_differ = false;
                for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        const struct vc_config_device *cd = vc_config_match_device(cli->config, d);
                        wanted |= cd && cd->boot;
                        resets_differ |= cd && !vc_pci_dev_is_bridge(d) &&
                                         !vc_reset_method_is(cli->ctx, vc_pci_dev_addr(d), cd->reset);
                }
                if (wanted && (!vc_group_is_claimed(cli->ctx, g) || resets_differ))
                        groups[n++] = vc_group_number(g);
        }
        if (n == 0) {
                if (cli->json)
                        (void) cli_json_operations(cli);
                else
                        printf("nothing to do: every group with a boot = yes device is claimed\n");
                return EXIT_DONE;
        }
        return move_groups(cli, t, groups, n, false, "claim", NULL, NULL);
}

static void format_time(uint64_t since, char buf[static 32]) {
        time_t tt = (time_t) since;
        struct tm tm;
        if (!localtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, 32, "%llu", (unsigned long long) since);
}

int verb_status(struct vc_cli *cli, int argc, char **argv) {
        _cleanup_free_ unsigned *groups = NULL;
        size_t n = 0;
        int r = vc_record_list(cli->ctx, &groups, &n);
        if (r < 0)
                return log_error_errno(r, "cannot read the state records: %m"), EXIT_FAILED;

        struct vc_json *j = NULL;
        if (cli->json) {
                j = vc_json_new(stdout);
                if (!j)
                        return log_error("out of memory"), EXIT_FAILED;
                vc_json_object_begin(j);
                vc_json_key(j, "groups");
                vc_json_array_begin(j);
        } else if (n == 0)
                printf("no group is claimed by vfio-claim\n");

        int ret = EXIT_DONE;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                _cleanup_(vc_group_freep) struct vc_group *g = NULL;
                char when[32];
                r = vc_record_read(cli->ctx, groups[i], &rec);
                if (r < 0) {
                        log_error_errno(r, "IOMMU group %u: unreadable state record: %m", groups[i]);
                        ret = EXIT_FAILED;
                        continue;
                }
                (void) vc_group_read(cli->ctx, groups[i], &g);
                format_time(rec->since, when);
                bool claimed = g && vc_group_is_claimed(cli->ctx, g);
                if (j) {
                        vc_json_object_begin(j);
                        vc_json_kv_uint(j, "group", rec->group);
                        vc_json_kv_string(j, "state", vc_record_state_to_string(rec->state));
                        vc_json_kv_bool(j, "claimed", claimed);
                        vc_json_kv_string(j, "owner", rec->owner);
                        vc_json_kv_uint(j, "since", rec->since);
                        vc_json_kv_string(j, "by", rec->by);
                        vc_json_key(j, "devices");
                        vc_json_array_begin(j);
                } else
                        printf("IOMMU group %u: %s%s, %s%s, since %s%s%s\n", rec->group,
                               vc_record_state_to_string(rec->state),
                               claimed ? "" : " (not all endpoints on vfio now)",
                               rec->owner ? "used by VM " : "no VM", strempty(rec->owner), when,
                               rec->by ? ", by " : "", strempty(rec->by));
                for (size_t k = 0; k < rec->n_devices; k++) {
                        const struct vc_record_device *d = &rec->devices[k];
                        const char *now = NULL;
                        for (size_t m = 0; g && m < vc_group_n_devices(g); m++)
                                if (vc_pci_addr_equal(vc_pci_dev_addr(vc_group_device(g, m)), &d->addr))
                                        now = vc_pci_dev_driver(vc_group_device(g, m));
                        if (j) {
                                vc_json_object_begin(j);
                                vc_json_kv_string(j, "address", VC_PCI_ADDR_TO_STRING(&d->addr));
                                vc_json_kv_string(j, "original_driver", d->driver);
                                vc_json_kv_string(j, "original_module", d->module);
                                vc_json_kv_string(j, "original_override", d->override);
                                vc_json_kv_bool(j, "claimed_at_boot", d->host_probe);
                                vc_json_kv_string(j, "driver", now);
                                vc_json_object_end(j);
                        } else
                                printf("  %s  now %s, originally %s\n", VC_PCI_ADDR_TO_STRING(&d->addr),
                                       now ? now : "unbound",
                                       d->driver ? d->driver
                                       : d->host_probe ? "claimed at boot (given back: the kernel picks its driver)"
                                                       : "unbound");
                }
                if (j) {
                        vc_json_array_end(j);
                        vc_json_object_end(j);
                }
        }
        if (j) {
                vc_json_array_end(j);
                vc_json_object_end(j);
                r = vc_json_finish(j);
                vc_json_free(j);
                if (r < 0)
                        return log_error_errno(r, "cannot write the JSON document: %m"), EXIT_FAILED;
        }
        return ret;
}
