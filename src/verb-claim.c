/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs that change the system: enable, disable, apply, release, and status, which reports
 * what they did. All moves go through the engine (lib/bind.c) under the one lock. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"
#include "boot.h"
#include "cli.h"
#include "critical.h"
#include "device-arg.h"
#include "verb-usb.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "output.h"
#include "reset.h"
#include "root.h"
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
        case VC_STEP_HOLDERS:  /* a display device or a disk open by a process; only -EBUSY is a refusal */
                return res->error == -EBUSY ? EXIT_REFUSED : EXIT_FAILED;
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

/* The file a planned write goes to, as it is opened: the plan names it inside the root
 * (lib/bind.h), which under --sysroot DIR is DIR/sys/..., like the configuration files the
 * dry run names. NULL: out of memory. */
static char *plan_write_file(struct vc_cli *cli, const char *path) {
        const char *root = vc_ctx_is_host(cli->ctx) ? "" : vc_ctx_root(cli->ctx);
        size_t l = strlen(root);
        char *s;
        while (l > 0 && root[l - 1] == '/')
                l--;
        return asprintf(&s, "%.*s%s", (int) l, root, path) < 0 ? NULL : s;
}

static void json_strings(struct vc_json *j, const char *key, char *const *v, size_t n) {
        vc_json_key(j, key);
        vc_json_array_begin(j);
        for (size_t i = 0; i < n; i++)
                vc_json_string(j, v[i]);
        vc_json_array_end(j);
}

static void json_operation(struct vc_cli *cli, const struct vc_plan *p, const char *what, bool changed,
                           const char *error, char *const *not_restored, size_t n_not_restored) {
        struct vc_json *j = cli_json_operations(cli);
        if (!j)
                return;
        vc_json_object_begin(j);
        vc_json_kv_uint(j, "group", p->group);
        vc_json_kv_string(j, "operation", what);
        vc_json_kv_bool(j, "changed", changed);
        vc_json_kv_string(j, "error", error);
        json_strings(j, "not_restored", not_restored, n_not_restored); /* lib/bind.h */
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
                _cleanup_free_ char *file = plan_write_file(cli, p->writes[i].path);
                vc_json_object_begin(j);
                vc_json_kv_string(j, "path", file ?: p->writes[i].path);
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
        /* lib/modules.h: a real run never loads a module for another root; it stops there */
        bool host = vc_ctx_is_host(cli->ctx);
        for (size_t i = 0; i < p->n_modules; i++)
                printf("  load module %s%s\n", p->modules[i],
                       host ? "" : " (not for --sysroot: a real run stops here; load it on that system)");
        if (p->n_writes == 0)
                printf("  (no writes)\n");
        for (size_t i = 0; i < p->n_writes; i++) {
                const char *v = p->writes[i].value;
                _cleanup_free_ char *file = plan_write_file(cli, p->writes[i].path);
                printf("  write %s <- \"%s\"\n", file ?: p->writes[i].path, streq(v, "\n") ? "\\n" : v);
        }
}

/* A group's state record that cannot be read (lib/state.h): the file, and what to do. A damaged
 * one (-EBADMSG) no longer says which drivers the group's devices go back to, and every verb
 * leaves the group alone until it is mended or gone. */
static void log_record_unreadable(struct vc_cli *cli, unsigned group, int r) {
        _cleanup_free_ char *path = NULL;
        if (vc_ctx_path(cli->ctx, VC_PLACE_RUN_STATE, &path, "group-%u", group) < 0)
                path = NULL;
        if (r == -EBADMSG)
                log_error("IOMMU group %u: its state record %s is damaged; it lists the drivers the group's devices "
                          "go back to: mend it by hand (FILES in vfio-claim(8)), or move it away and bind the "
                          "devices yourself, then run the command again", group, strna(path));
        else
                log_error_errno(r, "IOMMU group %u: cannot read its state record %s: %m", group, strna(path));
}

static void report_failure(struct vc_cli *cli, const struct vc_op_result *res, int r) {
        if (res->failed_step == VC_STEP_READ_RECORD) {
                log_record_unreadable(cli, res->group, r); /* before any write */
                return;
        }
        _cleanup_free_ char *msg = vc_op_result_message(res);
        if (msg)
                log_error("%s", msg);
        else
                log_error_errno(r, "failed: %m");
        /* A write the engine gave up on (lib/bind.h): say what timed out and what to do. */
        if (vc_op_result_write_timed_out(res)) {
                char who[32];
                if (res->has_failed_device)
                        vc_pci_addr_format(&res->failed_device, who);
                else
                        snprintf(who, sizeof who, "group %u", res->group);
                /* An unbind waits for the device's users; any other write for a slow driver or device. */
                log_error("%s: %s%s%s did not finish within %u s (%s); IOMMU group %u rolled back, except that "
                          "write, which may still take effect: 'vfio-claim status' shows the group",
                          who, strna(vc_step_to_string(res->failed_step)), res->failed_arg ? " " : "",
                          strempty(res->failed_arg), vc_ctx_get_unbind_timeout_ms(cli->ctx) / 1000,
                          res->failed_step == VC_STEP_UNBIND
                                  ? "device in use? stop what uses it, then run the command again"
                                  : "a slow driver or device: --timeout or [global] timeout gives it longer",
                          res->group);
        }
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
 * for a device claimed at boot. Only the driver link is needed: nothing that takes the device's
 * lock is read (a probe of a host driver may still hold it). */
static void print_drivers_now(struct vc_cli *cli, const struct vc_plan *plan) {
        _cleanup_(vc_pci_reader_freep) struct vc_pci_reader *rd = NULL;
        if (vc_pci_reader_new(cli->ctx, VC_PCI_READ_NO_DEVICE_LOCK, &rd) < 0)
                return;
        for (size_t k = 0; k < plan->n_devices; k++) {
                const struct vc_plan_device *pd = &plan->devices[k];
                _cleanup_(vc_pci_dev_freep) struct vc_pci_dev *d = NULL;
                if (pd->action == VC_PLAN_LEAVE || pd->action == VC_PLAN_LEAVE_BRIDGE ||
                    vc_pci_dev_read_with(cli->ctx, rd, &pd->addr, &d) < 0)
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

/* Who holds the group per its record, as compared before and under the lock: the owner VM and,
 * while it starts, the libvirtd starting it (a VM started again in between is another hold).
 * *ret NULL: no holder. */
static int holder_describe(const struct vc_record *rec, char **ret) {
        *ret = NULL;
        if (!rec || !rec->owner)
                return 0;
        if (!rec->starter.pid)
                return (*ret = strdup(rec->owner)) ? 0 : -ENOMEM;
        return asprintf(ret, "%s\n%" PRIu32 " %" PRIu64, rec->owner, rec->starter.pid, rec->starter.start_time) < 0
                       ? -ENOMEM : 0;
}

/* A release that gave the group back but not all the claim took from the host (lib/bind.h,
 * not_restored): the group stays given back, and the admin learns what is still missing. */
static void warn_not_restored(unsigned group, const struct vc_op_result *res) {
        for (size_t k = 0; k < res->n_not_restored; k++)
                log_warning("IOMMU group %u was given back, but %s", group, res->not_restored[k]);
}

/* The failure of a group's claim or give-back, and what the admin can do about it. */
static void report_failure_hint(struct vc_cli *cli, const struct vc_op_result *res, int r, bool release) {
        report_failure(cli, res, r);
        if (res->failed_step == VC_STEP_PROTECT && res->console)
                log_error("set \"console = handoff\" in its entry to hand the console over "
                          "with it (vfio-claim.conf(5)), or use --force");
        else if (res->failed_step == VC_STEP_PROTECT)
                log_error("use --force to override the protection of host-critical devices");
        else if (release && res->failed_step == VC_STEP_LOAD_MODULE && !cli->force)
                log_error("use --force to give the group back all the same: a device whose "
                          "driver cannot be loaded leaves vfio-pci for whichever loaded driver "
                          "the kernel picks");
}

/* Claim (or, with @release, give back) group @group with the command's options, as a dry run
 * with @dry_run, under the lock the caller holds (none for a dry run of the command). -ENOMEM
 * without a plan: its options could not be made. */
static int move_group(struct vc_cli *cli, const struct vc_topology *t, unsigned group, bool release, bool dry_run,
                      struct vc_critical_set **critical, struct vc_op_result *res) {
        const struct vc_group *g = find_group(t, group);
        _cleanup_(vc_claim_config_done) struct vc_claim_config cc = {};
        if (g && vc_claim_config_for_group(cli->config, g, &cc) < 0)
                return -ENOMEM;
        char by[64];
        snprintf(by, sizeof by, "vfio-claim %s", cli->verb);
        struct vc_claim_opts opts = {
                .by = by,
                .dry_run = dry_run,
                .lock_held = !cli->dry_run,
                .protect = (!cli->config || cli->config->protect) && !cli->force,
                .critical = critical,
                .ignore_holders = cli->force,
                .any_host_driver = release && cli->force,
        };
        vc_claim_opts_use_config(&opts, &cc);
        return release ? vc_group_release(cli->ctx, group, &opts, res) : vc_group_claim(cli->ctx, group, &opts, res);
}

/* Before a command moves several groups: each is checked as a dry run, under the lock the
 * command holds, so that a later group's refusal (host-critical, held by a VM, in use, hardware
 * changed: exit 4) is found before an earlier group is moved, and nothing is written. Any other
 * failure is left to the real run, which puts back what it did. */
static int vet_groups(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups, size_t n_groups,
                      bool release, const char *what, struct vc_critical_set **critical) {
        for (size_t i = 0; i < n_groups; i++) {
                _cleanup_(vc_op_result_done) struct vc_op_result res = {};
                int r = move_group(cli, t, groups[i], release, true, critical, &res);
                if (r == -ENOMEM && !res.plan)
                        return log_error("out of memory"), EXIT_FAILED;
                if (r >= 0 || exit_code_for(&res) != EXIT_REFUSED)
                        continue;
                if (res.plan && cli->json) {
                        _cleanup_free_ char *msg = vc_op_result_message(&res);
                        json_operation(cli, res.plan, what, false, msg, NULL, 0);
                }
                report_failure_hint(cli, &res, r, release);
                return EXIT_REFUSED;
        }
        return EXIT_DONE;
}

/* Claim (or, with @release, give back) each group; a failure undoes what this call changed in
 * the groups before it. Holds the lock across all groups. @expected_owners (release, may be
 * NULL): for each group, the owner its record named when libvirt was asked (NULL: none); the
 * record read under the lock must still name it, or nothing is done and EXIT_RETRY tells the
 * caller to ask libvirt again. On success, *ret_results (when not NULL) gets the results, for
 * an undo by the caller, and *io_lock (when not NULL) the lock, still held: a caller that edits
 * the configuration after the move does it under the same hold, so that a udev event, which
 * reads the configuration under the lock (udev/vfio-claim-udev.c), sees it before the move or
 * after the edit, never a group given back with its entry still there. A caller that read the
 * configuration under the lock (cli_take_lock()) passes it in *io_lock: it is not taken again, and
 * stays the caller's whatever the outcome. */
#define EXIT_RETRY (-1)
#define OWNER_CHECK_ATTEMPTS 3
static int move_groups(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups,
                       size_t n_groups, bool release, const char *what, char *const *expected_owners,
                       struct vc_op_result **ret_results, int *io_lock) {
        _cleanup_close_ int lock = -1;
        struct vc_op_result *results = calloc(n_groups + 1, sizeof *results);
        int r;

        if (!results)
                return log_error("out of memory"), EXIT_FAILED;
        if (!cli->dry_run && !(io_lock && *io_lock >= 0)) {
                r = cli_take_lock(cli, &lock);
                if (r != EXIT_DONE) {
                        free(results);
                        return r;
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
                        log_record_unreadable(cli, groups[i], r);
                        return EXIT_FAILED;
                }
                _cleanup_free_ char *now = NULL;
                if (holder_describe(rec, &now) < 0) {
                        free(results);
                        return log_error("out of memory"), EXIT_FAILED;
                }
                if (!streq_ptr(now, expected_owners[i])) {
                        const char *was = expected_owners[i];
                        int was_len = was ? (int) strcspn(was, "\n") : 4;
                        log_notice("IOMMU group %u: its holder changed from %s%.*s%s%s to %s%s%s%s while this command "
                                   "waited for the lock; asking libvirt again", groups[i],
                                   was ? "VM \"" : "", was_len, was ?: "none", was ? "\"" : "",
                                   was && strchr(was, '\n') ? " (starting)" : "", rec && rec->owner ? "VM \"" : "",
                                   rec && rec->owner ? rec->owner : "none", rec && rec->owner ? "\"" : "",
                                   rec && rec->owner && rec->starter.pid ? " (starting)" : "");
                        free(results);
                        return EXIT_RETRY;
                }
        }

        /* One host-critical scan for all the groups (lib/bind.h, "critical"), under the lock. */
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *critical = NULL;
        if (!cli->dry_run && n_groups > 1 &&
            (r = vet_groups(cli, t, groups, n_groups, release, what, &critical)) != EXIT_DONE) {
                free(results);
                return r;
        }
        for (size_t i = 0; i < n_groups; i++) {
                struct vc_op_result *res = &results[i];
                r = move_group(cli, t, groups[i], release, cli->dry_run, &critical, res);
                if (r == -ENOMEM && !res->plan) {
                        log_error("out of memory");
                        undo_results(cli, results, i, !cli->dry_run);
                        results_free(results, n_groups);
                        return EXIT_FAILED;
                }
                /* A group a check refused (exit 4: host-critical, hardware changed, held, in use)
                 * is not moved, in a dry run as in a real run: its plan, which says how it would
                 * be, is not shown as if it were what happens (--json keeps it, with the error). */
                if (res->plan && !(r < 0 && exit_code_for(res) == EXIT_REFUSED))
                        print_plan(cli, res->plan, what);
                if (res->plan && cli->json) {
                        _cleanup_free_ char *msg = r < 0 ? vc_op_result_message(res) : NULL;
                        json_operation(cli, res->plan, what, r >= 0 && res->changed, msg, res->not_restored,
                                       res->n_not_restored);
                }
                if (r < 0) {
                        int code = exit_code_for(res);
                        report_failure_hint(cli, res, r, release);
                        /* Undo what this command changed before the failure, and only that. */
                        undo_results(cli, results, i, true);
                        results_free(results, n_groups);
                        return code;
                }
                if (!cli->dry_run && !cli->json) {
                        printf("IOMMU group %u: %s\n", groups[i],
                               release ? (res->changed ? "given back to the host drivers" : "nothing to give back")
                               : !res->changed ? "already claimed"
                               : plan_moves_nothing(res->plan) && vc_plan_fixes_overrides(res->plan)
                                       ? "already on vfio; driver_override set back, and a record kept"
                               : plan_moves_nothing(res->plan) ? "already claimed; reset_method set as configured"
                                                               : "claimed for vfio");
                        if (release && res->changed && res->plan)
                                print_drivers_now(cli, res->plan);
                }
        }
        /* Only now: a later group that failed would have taken the earlier ones back. */
        for (size_t i = 0; i < n_groups; i++)
                warn_not_restored(groups[i], &results[i]);
        if (ret_results)
                *ret_results = results;
        else
                results_free(results, n_groups);
        if (io_lock && lock >= 0)
                *io_lock = TAKE_FD(lock);
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
                if (r < 0) {
                        log_record_unreadable(cli, groups[i], r);
                        return EXIT_FAILED;
                }
                if (!rec->owner)
                        continue;
                /* A VM being started: libvirt may call it shut off until its start is over, so
                 * the libvirtd starting it decides. Alive: the hold is live. Gone (or another
                 * process under its PID): libvirt's word decides, as for a running VM's hold
                 * (a libvirtd that came back may have found the VM running). */
                if (rec->starter.pid) {
                        r = vc_process_id_alive(cli->ctx, &rec->starter);
                        if (r > 0) {
                                log_error("IOMMU group %u is held by VM \"%s\", which libvirtd (pid %" PRIu32 ") is "
                                          "starting; stop the VM first", groups[i], rec->owner, rec->starter.pid);
                                return EXIT_REFUSED;
                        }
                        if (r < 0 && !cli->force) {
                                log_error_errno(r, "IOMMU group %u is held by VM \"%s\", which process %" PRIu32 " was "
                                                "starting, and whether that process still runs is unknown (%m); stop "
                                                "the VM first, or if it is gone, run again with --force",
                                                groups[i], rec->owner, rec->starter.pid);
                                return EXIT_REFUSED;
                        }
                        log_notice("IOMMU group %u: VM \"%s\" was being started by libvirtd (pid %" PRIu32 "), "
                                   "which is gone%s; asking libvirt", groups[i], rec->owner, rec->starter.pid,
                                   r < 0 ? " or unknown (--force)" : "");
                }
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
                if (holder_describe(rec, &ret_owners[i]) < 0)
                        return log_error("out of memory"), EXIT_FAILED;
        }
        return EXIT_DONE;
}

/* disable: a group stays enabled while a VM's definition, running or not, lists it in a way that
 * would fail at the VM's next start once the group is the host's and no entry names it
 * (vc_virt_definitions_users_split()); --force goes on. A definition whose managed='yes' devices
 * libvirt detaches itself is only named. Without libvirt there are no definitions to ask. */
static int refuse_if_defined(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups, size_t n) {
        _cleanup_(vc_virt_definitions_done) struct vc_virt_definitions defs = {};
        _cleanup_free_ char *err = NULL;
        int r = vc_virt_definitions_read_uri(cli->connect_uri, &defs, &err);
        if (r == -ENOMEM)
                return log_error("out of memory"), EXIT_FAILED;
        if (r < 0) {
                log_debug("cannot list the VMs at %s (%s): no definition checked", cli->connect_uri, strna(err));
                return EXIT_DONE;
        }
        for (size_t i = 0; i < n; i++) {
                const struct vc_group *g = find_group(t, groups[i]);
                _cleanup_strv_free_ char **users = NULL, **managed = NULL;
                _cleanup_free_ char *names = NULL, *managed_names = NULL;
                if (!g)
                        continue;
                if (vc_virt_definitions_users_split(&defs, g, cli->config && cli->config->hook_claim_unconfigured,
                                                    &users, &managed) < 0 ||
                    (users[0] && !(names = vc_virt_names_join(users))) ||
                    (managed[0] && !(managed_names = vc_virt_names_join(managed))))
                        return log_error("out of memory"), EXIT_FAILED;
                if (managed[0])
                        log_notice("IOMMU group %u is also in the definition of %s (managed='yes'): libvirt takes it "
                                   "from the host at %s next start", groups[i], managed_names,
                                   managed[1] ? "their" : "its");
                if (!users[0])
                        continue;
                if (!cli->force) {
                        log_error("IOMMU group %u is in the definition of %s; take it out first (vfio-claim remove "
                                  "%s group:%u), or run again with --force",
                                  groups[i], names, users[0], groups[i]);
                        return EXIT_REFUSED;
                }
                log_warning("IOMMU group %u is in the definition of %s; going on (--force): that VM fails at its "
                            "next start until it is taken out", groups[i], names);
        }
        return EXIT_DONE;
}

/* ------------------------------------------------------------------ after the boot set changed */

/* Does @rel exist under the root (a link counts, dangling or not: an enabled unit is a link)? */
static bool root_has(struct vc_cli *cli, const char *rel) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        return vc_ctx_path(cli->ctx, VC_PLACE_ROOT, &p, "%s", rel) >= 0 &&
               (fd = vc_path_open(p, O_PATH | O_NOFOLLOW, 0)) >= 0;
}

/* The initramfs carries a copy of the configuration (the BOOT section of vfio-claim(8)): after
 * the "boot = yes" entries changed, say how to rebuild it on this system, and, when entries were
 * added, that the early unit must be enabled where systemd runs (the doctor checks both). */
static void hint_boot_set_changed(struct vc_cli *cli, bool added) {
        if (cli->json || cli->dry_run)
                return;
        const char *cmd = "dracut -f, or update-initramfs -u on Debian and Ubuntu";
        if (root_has(cli, "etc/initramfs-tools"))
                cmd = "update-initramfs -u";
        else if (root_has(cli, "etc/dracut.conf") || root_has(cli, "etc/dracut.conf.d") || root_has(cli, "usr/lib/dracut"))
                cmd = "dracut -f";
        printf("the boot = yes entries changed: rebuild the initramfs, which carries a copy of the configuration: %s\n",
               cmd);
        if (added && root_has(cli, "etc/systemd/system") &&
            !root_has(cli, "etc/systemd/system/sysinit.target.wants/vfio-claim-early.service"))
                printf("vfio-claim-early.service is not enabled: systemctl enable vfio-claim-early.service\n");
}

/* ------------------------------------------------------------------ consent for shared groups */

static bool same_slot(const struct vc_pci_addr *x, const struct vc_pci_addr *y) {
        return x->domain == y->domain && x->bus == y->bus && x->slot == y->slot;
}

/* What uses @d on the host, as sysfs shows it: its network interfaces, the USB devices on a
 * controller's root hubs ("usbN/N-P/product"). NULL when nothing is known. */
static char *describe_use(const struct vc_pci_dev *d) {
        _cleanup_free_ char *out = NULL, *net = NULL;
        _cleanup_strv_free_ char **ifaces = NULL, **entries = NULL;
        const char *sys = vc_pci_dev_syspath(d);
        if (!sys || asprintf(&net, "%s/net", sys) < 0)
                return NULL;
        if (vc_dir_list(net, &ifaces) >= 0)
                for (size_t i = 0; ifaces[i]; i++) {
                        char *n = NULL;
                        if (asprintf(&n, "%s%s%s", out ? out : "interface ", out ? ", " : "", ifaces[i]) < 0)
                                return NULL;
                        free(out);
                        out = n;
                }
        if (vc_dir_list(sys, &entries) < 0)
                return TAKE_PTR(out);
        for (size_t i = 0; entries[i]; i++) {
                _cleanup_free_ char *hub = NULL;
                _cleanup_strv_free_ char **ports = NULL;
                if (!startswith(entries[i], "usb") || asprintf(&hub, "%s/%s", sys, entries[i]) < 0 ||
                    vc_dir_list(hub, &ports) < 0)
                        continue;
                for (size_t k = 0; ports[k]; k++) {
                        _cleanup_free_ char *product_path = NULL, *product = NULL;
                        if (!strchr(ports[k], '-') || strchr(ports[k], ':') ||
                            asprintf(&product_path, "%s/%s/product", hub, ports[k]) < 0 ||
                            vc_sysfs_read(product_path, &product) < 0 || isempty(product))
                                continue;
                        char *n = NULL;
                        if (asprintf(&n, "%s%s%s", out ? out : "USB: ", out ? ", " : "", product) < 0)
                                return NULL;
                        free(out);
                        out = n;
                }
        }
        return TAKE_PTR(out);
}

/* Has the admin agreed, in the configuration, that this group moves whole? */
static bool group_has_consent(struct vc_cli *cli, const struct vc_group *g) {
        for (size_t k = 0; cli->config && k < vc_group_n_devices(g); k++) {
                const struct vc_config_device *cd = vc_config_match_device(cli->config, vc_group_device(g, k));
                if (cd && cd->consent)
                        return true;
        }
        return false;
}

/* The groups about to be claimed may hold devices that are not functions of the device the
 * admin named (@named; for apply, or a group argument, the first endpoint of each group): another
 * slot, often another kind of device the host uses (a USB controller, a NIC). They move only
 * with the admin's consent: "consent = yes" on an entry of the group, --yes, or "y" on a
 * terminal. Without a terminal the command is refused (exit 4). *ret_asked: some group needed
 * consent and got it now (enable writes it into the entries). */
static int consent_for_groups(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups, size_t n,
                              const struct vc_pci_addr *named, bool locked, bool *ret_asked) {
        size_t n_groups_needing = 0;
        *ret_asked = false;
        for (size_t i = 0; i < n; i++) {
                const struct vc_group *g = find_group(t, groups[i]);
                const struct vc_pci_dev *anchor = NULL;
                if (!g || group_has_consent(cli, g))
                        continue;
                for (size_t k = 0; k < vc_group_n_devices(g) && !anchor; k++)
                        if (named && vc_pci_addr_equal(vc_pci_dev_addr(vc_group_device(g, k)), named))
                                anchor = vc_group_device(g, k);
                for (size_t k = 0; k < vc_group_n_devices(g) && !anchor; k++)
                        if (!vc_pci_dev_is_bridge(vc_group_device(g, k)))
                                anchor = vc_group_device(g, k);
                if (!anchor)
                        continue;
                bool header = false;
                for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        if (vc_pci_dev_is_bridge(d) || same_slot(vc_pci_dev_addr(d), vc_pci_dev_addr(anchor)))
                                continue;
                        if (!header) {
                                fprintf(stderr, "IOMMU group %u holds devices that are not functions of %s; they move with it, away from the host:\n",
                                        groups[i], vc_pci_dev_name(anchor));
                                header = true;
                                n_groups_needing++;
                        }
                        _cleanup_free_ char *use = describe_use(d);
                        const char *drv = vc_pci_dev_driver(d), *why = cli_critical_reason(cli, vc_pci_dev_addr(d));
                        fprintf(stderr, "  %s  %s, %s%s%s%s%s\n", vc_pci_dev_name(d),
                                vc_pci_class_to_string(vc_pci_dev_class(d)), drv ? drv : "no driver",
                                use ? "; " : "", strempty(use), why ? "; host-critical: " : "", strempty(why));
                }
        }
        if (n_groups_needing == 0)
                return EXIT_DONE;
        if (locked && !cli->yes) {
                /* asked again under the lock (see apply()): the configuration as read there gives
                 * no consent (taken out, or a group that became wanted meanwhile), and nobody is
                 * asked while the lock is held */
                log_error("refused: the configuration read under the lock gives no consent = yes for it (it changed "
                          "while this command waited for the lock); nothing was changed, run it again");
                return EXIT_REFUSED;
        }
        if (cli->yes) {
                fprintf(stderr, "moving them too (--yes)\n");
                *ret_asked = true;
                return EXIT_DONE;
        }
        if (cli->dry_run) {
                fprintf(stderr, "(--dry-run: not asked; the command needs --yes, or an answer on a terminal)\n");
                return EXIT_DONE;
        }
        if (isatty(STDIN_FILENO) && !cli->json) {
                char answer[16] = "";
                fprintf(stderr, "Move them to vfio-pci too? [y/N] ");
                fflush(stderr);
                if (fgets(answer, sizeof answer, stdin) && (answer[0] == 'y' || answer[0] == 'Y')) {
                        *ret_asked = true;
                        return EXIT_DONE;
                }
                log_error("refused: not agreed; nothing was changed");
                return EXIT_REFUSED;
        }
        log_error("refused: no terminal to ask on; nothing was changed. Run again with --yes to move them too%s",
                  streq_ptr(cli->verb, "enable") ? " (enable records it as consent = yes)"
                                                  : ", or put consent = yes in the entry");
        return EXIT_REFUSED;
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

/* What enable writes, byte for byte: disable removes a file whole only when it still says
 * exactly this (enable_wrote()), so that an edit by the admin makes the file the admin's. */
#define ENABLE_HEADER                                                                                 \
        "# Written by \"vfio-claim enable\"; \"vfio-claim disable\" removes this file.\n"                \
        "# The whole IOMMU group moves, so every endpoint of it is listed.\n"

static void enable_section(FILE *f, const char *name, const struct vc_pci_addr *a, const struct vc_pci_id *id,
                           bool boot, bool consent) {
        fprintf(f, "\n[device %s]\nmatch = %s\nid = %04x:%04x\nboot = %s\n%s", name, VC_PCI_ADDR_TO_STRING(a),
                id->vendor, id->device, boot ? "yes" : "no", consent ? "consent = yes\n" : "");
}

/* conf.d/NAME.conf with one [device] section per endpoint of the groups, each guarded by its id. */
/* The entry name of endpoint @d: its address with '-' for ':', or with --name, that name for the
 * device the command named (@named) and NAME-ADDRESS for the other endpoints of its group. */
static int entry_name_for(struct vc_cli *cli, const struct vc_pci_dev *d, const struct vc_pci_addr *named, char **ret) {
        char addr[VC_PCI_ADDR_STRLEN];
        name_from_addr(vc_pci_dev_addr(d), addr);
        if (!cli->name)
                *ret = strdup(addr);
        else if (vc_pci_addr_equal(vc_pci_dev_addr(d), named))
                *ret = strdup(cli->name);
        else if (asprintf(ret, "%s-%s", cli->name, addr) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

static int config_text_for_groups(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups,
                                  size_t n_groups, const struct vc_pci_addr *named, bool consent, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs(ENABLE_HEADER, f);
        for (size_t i = 0; i < n_groups; i++) {
                const struct vc_group *g = find_group(t, groups[i]);
                for (size_t k = 0; g && k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        _cleanup_free_ char *name = NULL;
                        if (vc_pci_dev_is_bridge(d) || vc_config_match_device(cli->config, d))
                                continue;
                        if (entry_name_for(cli, d, named, &name) < 0) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        /* a name the configuration has already (a [usb] entry's, or an entry
                         * that selects other devices): refused before anything moves */
                        const struct vc_config_device *cd = vc_config_find_device(cli->config, name);
                        const struct vc_config_usb *cu = cd ? NULL : vc_config_find_usb(cli->config, name);
                        if (cd || cu) {
                                log_error("%s: its entry would be named %s, which %s:%u names already; %s", vc_pci_dev_name(d),
                                          name, cd ? cd->file : cu->file, cd ? cd->line : cu->line,
                                          cli->name ? "choose another --name" : "give it a --name");
                                fclose(f);
                                return -EEXIST;
                        }
                        enable_section(f, name, vc_pci_dev_addr(d),
                                       &(struct vc_pci_id){ .vendor = vc_pci_dev_vendor(d), .device = vc_pci_dev_device(d) },
                                       cli->boot, consent);
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

static bool text_has_sections(const char *text) { return strstr(text, "\n[device ") != NULL; }

static int read_config_file(const char *path, char **ret, size_t *ret_len, mode_t *ret_mode);
static bool enable_wrote(const struct vc_config *c, const char *file, const char *text, size_t len);

/* enable --boot of a device whose entry says boot = no: a file enable wrote, unchanged since,
 * gets boot = yes in every section (its other bytes are enable's own); a file the admin wrote
 * or edited is left alone, and the line to change is named. The claim is made either way. */
static void boot_update_entry(struct vc_cli *cli, const struct vc_config_device *cd) {
        const struct vc_config *c = cli->config;
        _cleanup_free_ char *path = NULL, *text = NULL, *want = NULL;
        size_t len = 0, size = 0;
        mode_t mode = 0644;
        int r;

        if (asprintf(&path, "%s/%s", c->dir, cd->file) < 0) {
                log_error("out of memory");
                return;
        }
        if (read_config_file(path, &text, &len, &mode) < 0 || !enable_wrote(c, cd->file, text, len)) {
                log_warning("%s:%u: [device %s] says boot = no, and vfio-claim enable did not write this file as "
                            "it is: set boot = yes in that section yourself, then rebuild the initramfs",
                            path, cd->line, cd->name);
                return;
        }
        FILE *f = open_memstream(&want, &size);
        if (!f) {
                log_error("out of memory");
                return;
        }
        fputs(ENABLE_HEADER, f);
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct vc_config_device *x = &c->devices[i];
                if (streq(x->file, cd->file))
                        enable_section(f, x->name, &x->matches[0].addr, &x->id, true, x->consent);
        }
        if (fclose(f) != 0) {
                log_error("out of memory");
                return;
        }
        if (cli->dry_run) {
                if (!cli->json)
                        printf("edit %s: boot = yes in every section\n", path);
                return;
        }
        cli->config_changed = true;
        if ((r = vc_write_file_atomic(path, want, mode)) < 0) {
                log_error_errno(r, "%s: cannot write it: %m; the group is claimed, boot = no is unchanged", path);
                return;
        }
        if (!cli->json)
                printf("configuration: %s: boot = yes\n", path);
        hint_boot_set_changed(cli, true);
}

/* What enable writes into the configuration, decided from cli->config: the entry the DEVICE
 * argument names or matches, whether its boot = no becomes yes, and the new file with the
 * endpoints not configured yet (conf.d/NAME.conf: the name --name gives, or the named device's
 * address). */
struct enable_plan {
        const struct vc_config_device *config_device; /* in cli->config, NULL: none */
        bool boot_update;
        bool write_config;
        char *text;
        char *path;
};

static void enable_plan_done(struct enable_plan *p) {
        free(p->text);
        free(p->path);
        *p = (struct enable_plan){};
}

static int enable_plan(struct vc_cli *cli, const struct vc_topology *t, const struct device_arg *arg,
                       const struct vc_pci_dev *named, bool consent, struct enable_plan *ret) {
        struct enable_plan p = {};

        if (arg->has_addr)
                p.config_device = vc_config_match_device(cli->config, named);
        else if (arg->config_device) {
                /* named by its entry's name: it must still be there */
                p.config_device = vc_config_find_device(cli->config, arg->text);
                if (!p.config_device)
                        return log_error("%s: no longer configured in %s; nothing was changed", arg->text,
                                         cli->config_dir), EXIT_FAILED;
        }
        p.boot_update = p.config_device && cli->boot && !p.config_device->boot;
        if (cli->name && vc_pci_dev_is_bridge(named))
                return log_error("--name %s: %s is a PCI bridge, which stays on its driver and gets no entry; name "
                                 "the device behind it", cli->name, vc_pci_dev_name(named)), EXIT_USAGE;
        if (cli->name) {
                const struct vc_config_device *other = vc_config_find_device(cli->config, cli->name);
                if (other)
                        return log_error("--name %s: already configured in %s:%u", cli->name, other->file, other->line),
                               EXIT_USAGE;
                if (vc_config_match_device(cli->config, named))
                        return log_error("%s is configured already (as %s); --name does not rename an entry",
                                         vc_pci_dev_name(named), vc_config_match_device(cli->config, named)->name),
                               EXIT_USAGE;
        }
        char name[VC_PCI_ADDR_STRLEN];
        name_from_addr(vc_pci_dev_addr(named), name);
        int r = config_text_for_groups(cli, t, arg->groups, arg->n_groups, vc_pci_dev_addr(named), consent, &p.text);
        if (r == -EEXIST) {
                enable_plan_done(&p);
                return EXIT_USAGE;
        }
        if (r < 0 || config_file_for(cli, cli->name ?: name, &p.path) < 0) {
                enable_plan_done(&p);
                return log_error("out of memory"), EXIT_FAILED;
        }
        p.write_config = text_has_sections(p.text);
        if (p.write_config && vc_path_exists(p.path)) {
                log_error("%s exists but does not configure this group; remove it or run 'vfio-claim disable' first",
                          p.path);
                enable_plan_done(&p);
                return EXIT_FAILED;
        }
        *ret = p;
        return EXIT_DONE;
}

/* A group without an endpoint (a root port alone in its group; bridges are never moved) has
 * nothing to claim. Such groups are taken out of @arg, each said in a warning (with @warn: the
 * second resolution of enable NAME, under the lock, does not say it again), as the boot pass
 * says it (udev/vfio-claim-udev.c); none left is an error, with nothing changed. */
static int drop_bridge_groups(const struct vc_topology *t, struct device_arg *arg, bool warn) {
        size_t n = 0;
        for (size_t i = 0; i < arg->n_groups; i++) {
                const struct vc_group *g = find_group(t, arg->groups[i]);
                if (!g || vc_group_n_endpoints(g) > 0 || vc_group_n_devices(g) == 0) {
                        arg->groups[n++] = arg->groups[i];
                        continue;
                }
                if (warn)
                        log_warning("%s: %s%s, a PCI bridge alone in IOMMU group %u: nothing to claim (bridges stay on "
                                    "their drivers; %s the device behind it instead)",
                                    arg->text, vc_pci_dev_name(vc_group_device(g, 0)),
                                    vc_group_n_devices(g) > 1 ? " and other bridges" : "", arg->groups[i],
                                    arg->has_addr || !arg->config_device ? "name" : "match");
        }
        arg->n_groups = n;
        if (n == 0)
                return log_error("%s: nothing to claim; nothing was changed", arg->text), EXIT_FAILED;
        return EXIT_DONE;
}

/* The device the DEVICE argument names in @t: its address, or the first endpoint of its first
 * group (a name, group:N). NULL: the group has no endpoint. */
static const struct vc_pci_dev *named_device(const struct vc_topology *t, const struct device_arg *arg) {
        const struct vc_group *g0 = find_group(t, arg->groups[0]);
        for (size_t k = 0; g0 && k < vc_group_n_devices(g0); k++) {
                const struct vc_pci_dev *d = vc_group_device(g0, k);
                if (arg->has_addr ? vc_pci_addr_equal(vc_pci_dev_addr(d), &arg->addr) : !vc_pci_dev_is_bridge(d))
                        return d;
        }
        return NULL;
}

static bool same_group_set(const struct device_arg *a, const struct device_arg *b) {
        if (a->n_groups != b->n_groups)
                return false;
        for (size_t i = 0; i < a->n_groups; i++) {
                bool found = false;
                for (size_t k = 0; k < b->n_groups && !found; k++)
                        found = a->groups[i] == b->groups[k];
                if (!found)
                        return false;
        }
        return true;
}

/* The groups DEVICE @text selects in @t, without those that have nothing to claim
 * (drop_bridge_groups(), which says them with @warn), into *ret_arg, and the device it names
 * (named_device()) into *ret_named. EXIT_DONE, or another exit code with the error logged and
 * nothing kept. */
static int resolve_claim_target(struct vc_cli *cli, const struct vc_topology *t, const char *text, bool warn,
                                struct device_arg *ret_arg, const struct vc_pci_dev **ret_named) {
        struct device_arg a = {};
        int r = cli_resolve_device(cli, t, text, &a);
        if (r != EXIT_DONE)
                return r;
        if ((r = drop_bridge_groups(t, &a, warn)) != EXIT_DONE) {
                device_arg_done(&a);
                return r;
        }
        const struct vc_pci_dev *named = named_device(t, &a);
        if (!named) {
                log_error("%s: IOMMU group %u has no endpoint", text, a.groups[0]);
                device_arg_done(&a);
                return EXIT_FAILED;
        }
        *ret_arg = a;
        *ret_named = named;
        return EXIT_DONE;
}

/* enable NAME, under the lock, with the configuration read there: the groups the entry selects
 * were found from the configuration and the devices read before the lock, and another run or
 * the admin may have changed its match = meanwhile. They are found again, from the devices read
 * under the lock (with nothing that takes a device lock, as disable reads them: give_back()),
 * into *io_t, *io_arg and *io_named; *ret_moved says they are other groups than before. An entry
 * gone, or one that selects no device present now, is an error that changes nothing. An address
 * or group:N is left as it is: no entry decides which group it names. */
static int enable_resolve_again(struct vc_cli *cli, struct vc_topology **io_t, struct device_arg *io_arg,
                                const struct vc_pci_dev **io_named, bool *ret_moved) {
        _cleanup_(vc_topology_freep) struct vc_topology *now = NULL;
        struct device_arg a = {};
        const struct vc_pci_dev *named;
        const char *text = io_arg->text;
        int r;

        *ret_moved = false;
        if (io_arg->has_addr || !io_arg->config_device)
                return EXIT_DONE;
        if (!vc_config_find_device(cli->config, text))
                return log_error("%s: no longer configured in %s; nothing was changed", text, cli->config_dir),
                       EXIT_FAILED;
        if ((r = cli_load_devices_full(cli, VC_PCI_READ_NO_DEVICE_LOCK, &now)) != EXIT_DONE ||
            (r = resolve_claim_target(cli, now, text, false, &a, &named)) != EXIT_DONE)
                return r;
        *ret_moved = !same_group_set(io_arg, &a);
        device_arg_done(io_arg);
        *io_arg = a;
        vc_topology_free(*io_t);
        *io_t = TAKE_PTR(now);
        *io_named = named;
        return EXIT_DONE;
}

/* enable --boot of a USB device: a [usb NAME] entry's boot = yes holds it at boot, which enable
 * does not write (an entry is the admin's text); it says which line to add. */
static void usb_boot_hint(struct vc_cli *cli, const char *text) {
        const struct vc_config_usb *u = vc_config_find_usb(cli->config, text);
        if (u && u->boot)
                return;
        if (u)
                log_warning("--boot: %s/%s:%u: [usb %s] says boot = no: add boot = yes to that section to hold the "
                            "device at every boot and plug-in, then rebuild the initramfs",
                            cli->config_dir, u->file, u->line, u->name);
        else
                log_warning("--boot: %s is held now, not at boot: a [usb NAME] entry with boot = yes holds a USB "
                            "device at every boot and plug-in (vfio-claim.conf(5)); add one to %s",
                            text, cli->config_dir);
}

static int enable(struct vc_cli *cli, char **argv) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        _cleanup_(vc_config_freep) struct vc_config *check = NULL;
        _cleanup_free_ char *confd = NULL;
        _cleanup_(enable_plan_done) struct enable_plan p = {};
        struct device_arg arg = {};
        int r;

        if (usb_arg_is_usb(cli, argv[0])) {
                /* a USB device's entry is written by hand ([usb NAME], vfio-claim.conf(5)) */
                if (cli->name)
                        return log_error("--name: %s is a USB device; enable writes no entry for one: add a "
                                         "[usb NAME] entry to the configuration instead", argv[0]), EXIT_USAGE;
                r = usb_enable(cli, argv[0]);
                if (r == EXIT_DONE && cli->boot)
                        usb_boot_hint(cli, argv[0]);
                return r;
        }
        r = cli_load_devices_for(cli, argv[0], &t);
        if (r != EXIT_DONE)
                return r;
        const struct vc_pci_dev *named;
        r = resolve_claim_target(cli, t, argv[0], true, &arg, &named);
        if (r != EXIT_DONE)
                return r;
        r = enable_plan(cli, t, &arg, named, false, &p);
        if (r != EXIT_DONE) {
                device_arg_done(&arg);
                return r;
        }

        bool consented = false;
        r = consent_for_groups(cli, t, arg.groups, arg.n_groups, arg.has_addr ? &arg.addr : vc_pci_dev_addr(named),
                               false, &consented);
        if (r != EXIT_DONE) {
                device_arg_done(&arg);
                return r;
        }

        _cleanup_close_ int lock = -1; /* held until the configuration is written */
        if (!cli->dry_run) {
                /* The plan above was made from the configuration read before the lock, and the
                 * consent asked without it: the configuration is read again under the lock, and
                 * the plan made again from it, so that an entry or a file another run wrote while
                 * this one waited (enable, disable) is seen, never written over. The groups a
                 * NAME's entry selects are found again from it, too (enable_resolve_again()). */
                bool still, moved = false;
                if ((r = cli_take_lock(cli, &lock)) == EXIT_DONE && (r = cli_reload_config(cli)) == EXIT_DONE &&
                    (r = enable_resolve_again(cli, &t, &arg, &named, &moved)) == EXIT_DONE) {
                        /* other groups than the ones asked about: their consent is asked again */
                        if (moved)
                                consented = false;
                        enable_plan_done(&p);
                        r = enable_plan(cli, t, &arg, named, consented, &p);
                        /* the old configuration is gone: the entry the argument named is the new one's */
                        if (arg.config_device)
                                arg.config_device = p.config_device;
                }
                /* as in apply(): a consent = yes gone meanwhile is not taken as given; given now
                 * (--yes), it goes into the entries as a consent asked for does */
                if (r == EXIT_DONE && !consented) {
                        r = consent_for_groups(cli, t, arg.groups, arg.n_groups,
                                               arg.has_addr ? &arg.addr : vc_pci_dev_addr(named), true, &still);
                        if (r == EXIT_DONE && still) {
                                enable_plan_done(&p);
                                r = enable_plan(cli, t, &arg, named, true, &p);
                        }
                }
                if (r != EXIT_DONE) {
                        device_arg_done(&arg);
                        return r;
                }
        } else if (consented) {
                /* The entries enable writes record the consent, for apply, boot and the next enable. */
                enable_plan_done(&p);
                if ((r = enable_plan(cli, t, &arg, named, true, &p)) != EXIT_DONE) {
                        device_arg_done(&arg);
                        return r;
                }
        }

        struct vc_op_result *results = NULL;
        r = move_groups(cli, t, arg.groups, arg.n_groups, false, "claim", NULL, &results, &lock);
        if (r != EXIT_DONE || !p.write_config) {
                if (r == EXIT_DONE && p.boot_update)
                        boot_update_entry(cli, p.config_device);
                results_free(results, arg.n_groups);
                device_arg_done(&arg);
                return r;
        }
        if (cli->dry_run) {
                if (!cli->json)
                        printf("write %s:\n%s", p.path, p.text);
                results_free(results, arg.n_groups);
                device_arg_done(&arg);
                return EXIT_DONE;
        }

        cli->config_changed = true;
        if (asprintf(&confd, "%s/conf.d", cli->config_dir) < 0)
                r = -ENOMEM;
        else if ((r = vc_mkdir_p(confd, 0755)) >= 0)
                r = vc_write_file_atomic(p.path, p.text, 0644);
        if (r >= 0) {
                /* The new file must leave the configuration valid; otherwise take it back. */
                if (vc_config_load(cli->config_dir, &check) < 0) {
                        for (size_t i = 0; check && i < check->n_errors; i++)
                                log_error("%s", check->errors[i]);
                        (void) vc_unlink_durable(p.path);
                        r = -EINVAL;
                }
        }
        if (r < 0) {
                log_error_errno(r, "%s: cannot write the configuration: %m", p.path);
                undo_results(cli, results, arg.n_groups, lock >= 0);
                results_free(results, arg.n_groups);
                device_arg_done(&arg);
                return EXIT_FAILED;
        }
        results_free(results, arg.n_groups);
        if (!cli->json)
                printf("configuration: %s (boot = %s)\n", p.path, cli->boot ? "yes" : "no");
        if (p.boot_update)
                boot_update_entry(cli, p.config_device);
        else if (cli->boot)
                hint_boot_set_changed(cli, true);
        device_arg_done(&arg);
        return EXIT_DONE;
}

/* ------------------------------------------------------------------ disable: the configuration */

/* Does entry @cd select device @d (any of its match lines)? vc_config_match_device() gives only
 * the first entry; disable must find every one. */
static bool entry_selects(const struct vc_config_device *cd, const struct vc_pci_dev *d) {
        for (size_t m = 0; m < cd->n_matches; m++) {
                const struct vc_match *x = &cd->matches[m];
                if (x->kind == VC_MATCH_ADDRESS ? vc_pci_addr_equal(&x->addr, vc_pci_dev_addr(d))
                                                : vc_pci_dev_has_id(d, &x->id))
                        return true;
        }
        return false;
}

static bool in_groups(const unsigned *groups, size_t n, int group) {
        for (size_t i = 0; i < n; i++)
                if ((int) groups[i] == group)
                        return true;
        return false;
}

/* One file disable changes: removed whole, or rewritten without some [device] sections. */
struct config_edit {
        const char *file; /* as in the configuration: "conf.d/gpu.conf" */
        char *path;
        bool remove;
        char *text;          /* the new content (!remove) */
        char *old;           /* the content read, put back when a later edit fails */
        size_t old_len;
        mode_t mode;
        char **what;         /* "[device gpu] (lines 4-7)" for each section dropped */
        size_t n_what;
};

static int what_push(struct config_edit *e, char *w) {
        char **v = realloc(e->what, (e->n_what + 2) * sizeof *v);
        if (!v)
                return -ENOMEM;
        e->what = v;
        v[e->n_what++] = w;
        v[e->n_what] = NULL;
        return 0;
}

static void config_edits_free(struct config_edit *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].path);
                free(v[i].text);
                free(v[i].old);
                strv_free(v[i].what);
        }
        free(v);
}

static int read_config_file(const char *path, char **ret, size_t *ret_len, mode_t *ret_mode) {
        struct stat st;
        const char *name;
        /* the directory inside a --sysroot (lib/root.h), the file itself never through a link */
        _cleanup_close_ int dfd = vc_path_open_parent(path, &name);
        if (dfd < 0)
                return dfd;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EMEDIUMTYPE; /* a link or anything else: rewriting it would change more */
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        *ret_mode = st.st_mode & 07777;
        return vc_read_fd(fd, 1024 * 1024, ret, ret_len);
}

/* Did enable write this file, and nobody changed it since? Its text is exactly what enable
 * would write for the entries the configuration read from it (one address match, an id, boot). */
static bool enable_wrote(const struct vc_config *c, const char *file, const char *text, size_t len) {
        _cleanup_free_ char *want = NULL;
        size_t size = 0;
        if (!startswith(file, "conf.d/"))
                return false;
        FILE *f = open_memstream(&want, &size);
        if (!f)
                return false;
        fputs(ENABLE_HEADER, f);
        bool shape = true;
        for (size_t i = 0; i < c->n_devices && shape; i++) {
                const struct vc_config_device *cd = &c->devices[i];
                if (!streq(cd->file, file))
                        continue;
                shape = cd->n_matches == 1 && cd->matches[0].kind == VC_MATCH_ADDRESS && cd->has_id &&
                        !cd->id.has_subsystem && !cd->has_release && !cd->vm && cd->reset == VC_RESET_AUTO;
                if (shape)
                        enable_section(f, cd->name, &cd->matches[0].addr, &cd->id, cd->boot, cd->consent);
        }
        if (fclose(f) != 0)
                return false;
        return shape && size == len && memcmp(want, text, len) == 0;
}

/* Where line @n (1-based) of @text starts; @len when there is no such line. */
static size_t line_start(const char *text, size_t len, unsigned n) {
        size_t o = 0;
        for (unsigned k = 1; k < n && o < len; k++) {
                const char *nl = memchr(text + o, '\n', len - o);
                o = nl ? (size_t) (nl - text) + 1 : len;
        }
        return o;
}

/* What kind of line starts at @o: a section header, a comment or blank line, or content. */
enum line_kind { LINE_HEADER, LINE_QUIET, LINE_CONTENT };
static enum line_kind line_kind(const char *text, size_t len, size_t o) {
        if (o == 0 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                o = 3;
        while (o < len && (text[o] == ' ' || text[o] == '\t' || text[o] == '\v' || text[o] == '\f'))
                o++;
        if (o >= len || text[o] == '\n' || text[o] == '\r' || text[o] == ';' || text[o] == '#')
                return LINE_QUIET;
        return text[o] == '[' ? LINE_HEADER : LINE_CONTENT;
}

/* The lines of the section whose header is line @header: up to its last key line before the next
 * header (comments and blank lines after it stay: they may well be about what follows). */
static unsigned section_last_line(const char *text, size_t len, unsigned header) {
        unsigned last = header;
        for (unsigned n = header + 1;; n++) {
                size_t o = line_start(text, len, n);
                if (o >= len)
                        break;
                enum line_kind k = line_kind(text, len, o);
                if (k == LINE_HEADER)
                        break;
                if (k == LINE_CONTENT)
                        last = n;
        }
        return last;
}

/* Every [device] entry that selects an endpoint of the groups goes. A file enable wrote, that
 * holds nothing else, is removed whole; from any other file only those sections go, and every
 * other byte stays. An entry that also selects a device outside the groups, or a file that is not
 * a plain file, cannot be edited safely: the admin is told what to edit, and nothing changes.
 * Returns EXIT_DONE with the edits to make, or EXIT_FAILED. */
static int plan_entry_drops(struct vc_cli *cli, const bool *drop, const char *by_hand, struct config_edit **ret,
                            size_t *ret_n, bool *ret_boot);

static int plan_config_edits(struct vc_cli *cli, const struct vc_topology *t, const unsigned *groups,
                             size_t n_groups, struct config_edit **ret, size_t *ret_n, bool *ret_boot) {
        const struct vc_config *c = cli->config;
        _cleanup_free_ bool *drop = calloc(c->n_devices + 1, sizeof *drop);
        _cleanup_free_ char *by_hand = NULL;
        int ret_code = EXIT_DONE;

        if (!drop || asprintf(&by_hand, " and every other section for IOMMU group %u", n_groups ? groups[0] : 0) < 0)
                return log_error("out of memory"), EXIT_FAILED;
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct vc_config_device *cd = &c->devices[i];
                const struct vc_pci_dev *outside = NULL;
                for (size_t g = 0; g < t->n_groups; g++)
                        for (size_t k = 0; k < vc_group_n_devices(t->groups[g]); k++) {
                                const struct vc_pci_dev *d = vc_group_device(t->groups[g], k);
                                if (!entry_selects(cd, d))
                                        continue;
                                if (in_groups(groups, n_groups, (int) vc_group_number(t->groups[g])))
                                        drop[i] = true;
                                else if (!outside)
                                        outside = d;
                        }
                if (drop[i] && outside) {
                        log_error("%s/%s:%u: [device %s] also selects %s, which is in IOMMU group %d; "
                                  "change its match lines by hand so that they select only what to keep "
                                  "configured, then run this again; nothing was changed",
                                  c->dir, cd->file, cd->line, cd->name, VC_PCI_ADDR_TO_STRING(vc_pci_dev_addr(outside)),
                                  vc_pci_dev_iommu_group(outside));
                        ret_code = EXIT_FAILED;
                }
        }
        if (ret_code != EXIT_DONE)
                return ret_code;
        return plan_entry_drops(cli, drop, by_hand, ret, ret_n, ret_boot);
}

/* The edits that take out of the configuration the entries @drop marks (by their index in
 * cli->config's devices), as plan_config_edits() says. @by_hand: what else to remove by hand,
 * after "remove [device NAME] (line N)", when a file cannot be edited safely. */
static int plan_entry_drops(struct vc_cli *cli, const bool *drop, const char *by_hand, struct config_edit **ret,
                            size_t *ret_n, bool *ret_boot) {
        const struct vc_config *c = cli->config;
        struct config_edit *edits = NULL;
        size_t n_edits = 0;
        int ret_code = EXIT_DONE;

        *ret_boot = false;
        for (size_t i = 0; i < c->n_devices; i++)
                *ret_boot |= drop[i] && c->devices[i].boot;

        for (size_t i = 0; i < c->n_devices; i++) {
                const struct vc_config_device *cd = &c->devices[i];
                bool seen = false;
                if (!drop[i])
                        continue;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = drop[k] && streq(c->devices[k].file, cd->file);
                if (seen)
                        continue;

                struct config_edit *v = realloc(edits, (n_edits + 1) * sizeof *v);
                if (!v) {
                        config_edits_free(edits, n_edits);
                        return log_error("out of memory"), EXIT_FAILED;
                }
                edits = v;
                struct config_edit *e = &edits[n_edits++];
                *e = (struct config_edit){ .file = cd->file };
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int r = asprintf(&e->path, "%s/%s", c->dir, cd->file) < 0 ? -ENOMEM : 0;
                if (r >= 0)
                        r = read_config_file(e->path, &text, &len, &e->mode);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot edit it safely (%m); remove [device %s] (line %u)%s by hand; "
                                           "nothing was changed",
                                        e->path ?: cd->file, cd->name, cd->line, by_hand);
                        ret_code = EXIT_FAILED;
                        continue;
                }

                /* Which sections of this file go, and does anything else live in it? */
                bool all_ours = true;
                for (size_t k = 0; k < c->n_devices; k++)
                        if (streq(c->devices[k].file, cd->file) && !drop[k])
                                all_ours = false;
                if (all_ours && enable_wrote(c, cd->file, text, len)) {
                        e->remove = true;
                        e->old = TAKE_PTR(text);
                        e->old_len = len;
                        continue;
                }

                /* Drop the sections, last first, so that earlier offsets stay right. */
                _cleanup_free_ char *out = malloc(len + 1);
                if (!out) {
                        config_edits_free(edits, n_edits);
                        return log_error("out of memory"), EXIT_FAILED;
                }
                memcpy(out, text, len);
                size_t out_len = len;
                for (size_t k = c->n_devices; k-- > 0;) {
                        const struct vc_config_device *x = &c->devices[k];
                        if (!drop[k] || !streq(x->file, cd->file))
                                continue;
                        size_t from = line_start(text, len, x->line);
                        if (from >= len || line_kind(text, len, from) != LINE_HEADER) {
                                log_error("%s:%u: [device %s] is not where the configuration was read from; remove it "
                                          "by hand; nothing was changed", e->path, x->line, x->name);
                                ret_code = EXIT_FAILED;
                                break;
                        }
                        if (from == 0 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                                from = 3; /* the byte order mark stays */
                        unsigned last = section_last_line(text, len, x->line);
                        size_t to = line_start(text, len, last + 1);
                        memmove(out + from, out + to, out_len - to);
                        out_len -= to - from;
                        char *w = NULL;
                        if (asprintf(&w, "[device %s] (line%s %u%s%.0u)", x->name, last > x->line ? "s" : "", x->line,
                                     last > x->line ? "-" : "", last > x->line ? last : 0) < 0 ||
                            what_push(e, w) < 0) {
                                free(w);
                                config_edits_free(edits, n_edits);
                                return log_error("out of memory"), EXIT_FAILED;
                        }
                }
                out[out_len] = '\0';
                e->text = TAKE_PTR(out);
                e->old = TAKE_PTR(text);
                e->old_len = len;
        }
        if (ret_code != EXIT_DONE) {
                config_edits_free(edits, n_edits);
                return ret_code;
        }
        *ret = edits;
        *ret_n = n_edits;
        return EXIT_DONE;
}

/* Make the edits planned: each file removed or replaced atomically, with its mode. All or none:
 * when one fails, the files edited before it are put back as they were read, so that the
 * configuration is never left half edited (the caller takes the give-back back too). */
static int apply_config_edits(struct vc_cli *cli, const struct config_edit *edits, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const struct config_edit *e = &edits[i];
                if (cli->dry_run) {
                        if (cli->json)
                                continue;
                        if (e->remove)
                                printf("remove %s\n", e->path);
                        for (size_t k = e->n_what; k-- > 0;)
                                printf("edit %s: remove %s\n", e->path, e->what[k]);
                        continue;
                }
                cli->config_changed = true;
                int r = e->remove ? vc_unlink_durable(e->path) : vc_write_file_atomic(e->path, e->text, e->mode);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot %s: %m", e->path, e->remove ? "remove it" : "write it");
                        /* from the one that failed: a rename or unlink can have happened before
                         * the error (the directory's fsync); writing a file back as it was read
                         * is harmless when it did not */
                        for (size_t k = i + 1; k-- > 0;) {
                                const struct config_edit *b = &edits[k];
                                _cleanup_free_ char *old = strndup(b->old, b->old_len);
                                int q = old ? vc_write_file_atomic(b->path, old, b->mode) : -ENOMEM;
                                if (q < 0)
                                        log_error_errno(q, "%s: cannot put it back as it was: %m", b->path);
                                else
                                        log_notice("%s: put back as it was", b->path);
                        }
                        return EXIT_FAILED;
                }
        }
        for (size_t i = 0; i < n && !cli->dry_run && !cli->json; i++) {
                const struct config_edit *e = &edits[i];
                if (e->remove)
                        printf("configuration: removed %s\n", e->path);
                for (size_t k = e->n_what; k-- > 0;)
                        printf("configuration: %s: removed %s\n", e->path, e->what[k]);
        }
        return EXIT_DONE;
}

/* Does entry @cd select any device of @t, in an IOMMU group or not? */
static bool entry_selects_present(const struct vc_config_device *cd, const struct vc_topology *t) {
        for (size_t g = 0; g < t->n_groups; g++)
                for (size_t k = 0; k < vc_group_n_devices(t->groups[g]); k++)
                        if (entry_selects(cd, vc_group_device(t->groups[g], k)))
                                return true;
        for (size_t i = 0; i < t->n_ungrouped; i++)
                if (entry_selects(cd, t->ungrouped[i]))
                        return true;
        return false;
}

/* The configured entry named @name that selects no device of @t (its card was taken out), or
 * NULL: no such name, or it selects one. */
static const struct vc_config_device *absent_entry(struct vc_cli *cli, const struct vc_topology *t, const char *name) {
        struct vc_device_spec spec;
        if (!cli->config || vc_device_arg_parse(name, &spec) < 0 || spec.kind != VC_DEVICE_ARG_NAME)
                return NULL;
        const struct vc_config_device *cd = vc_config_find_device(cli->config, name);
        return cd && !entry_selects_present(cd, t) ? cd : NULL;
}

/* disable NAME of an entry that selects no device present: there is nothing to give back, and the
 * entry goes from the configuration (with the udev rule that names it, update_udev_rule()), so
 * that the device is not claimed when it comes back, nor at the next boot: what disable of a
 * present device leaves. Under the lock, from the configuration and the devices read under it,
 * as give_back() edits. @gone_is_done: an entry no longer configured is done, not an error
 * (disable --all: an earlier one took it out with its file). Returns an exit code. */
static int disable_absent_entry(struct vc_cli *cli, const char *name, bool gone_is_done) {
        _cleanup_close_ int lock = -1;
        _cleanup_(vc_topology_freep) struct vc_topology *now = NULL;
        _cleanup_free_ bool *drop = NULL;
        struct config_edit *edits = NULL;
        size_t n_edits = 0;
        bool boot_dropped = false;
        int r;

        if (!cli->dry_run && ((r = cli_take_lock(cli, &lock)) != EXIT_DONE || (r = cli_reload_config(cli)) != EXIT_DONE))
                return r;
        if ((r = cli_load_devices_full(cli, VC_PCI_READ_NO_DEVICE_LOCK, &now)) != EXIT_DONE)
                return r;
        const struct vc_config_device *cd = vc_config_find_device(cli->config, name);
        if (!cd && gone_is_done)
                return EXIT_DONE;
        if (!cd) {
                log_error("%s: no longer configured in %s; nothing was changed", name, cli->config_dir);
                return EXIT_FAILED;
        }
        if (entry_selects_present(cd, now)) {
                log_error("%s: a device it selects showed up while this command waited for the lock; nothing "
                          "was changed, run it again", name);
                return EXIT_FAILED;
        }
        const struct vc_config *c = cli->config;
        if (!(drop = calloc(c->n_devices + 1, sizeof *drop)))
                return log_error("out of memory"), EXIT_FAILED;
        drop[cd - c->devices] = true;
        if (!cli->json)
                printf("%s: no device present matches it (%s/%s:%u); nothing to give back\n", name, c->dir, cd->file,
                       cd->line);
        else
                (void) cli_json_operations(cli);
        /* enable writes the entries of a group's endpoints in one file: those that select no
         * device present either go with it, and a file enable wrote holds nothing else then */
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len = 0;
        mode_t mode;
        if (asprintf(&path, "%s/%s", c->dir, cd->file) < 0)
                return log_error("out of memory"), EXIT_FAILED;
        if (read_config_file(path, &text, &len, &mode) >= 0 && enable_wrote(c, cd->file, text, len))
                for (size_t i = 0; i < c->n_devices; i++)
                        if (!drop[i] && streq(c->devices[i].file, cd->file) && !entry_selects_present(&c->devices[i], now)) {
                                drop[i] = true;
                                if (!cli->json)
                                        printf("%s: no device present matches it either, and enable wrote it with "
                                               "%s (%s/%s:%u)\n", c->devices[i].name, name, c->dir,
                                               c->devices[i].file, c->devices[i].line);
                        }
        r = plan_entry_drops(cli, drop, "", &edits, &n_edits, &boot_dropped);
        if (r == EXIT_DONE)
                r = apply_config_edits(cli, edits, n_edits);
        if (r == EXIT_DONE && boot_dropped)
                hint_boot_set_changed(cli, false);
        config_edits_free(edits, n_edits);
        return r;
}

/* disable and release: refuse a group a VM holds, give it back, and for disable drop it from the
 * configuration. @topology: the PCI devices as the caller read them, or NULL to read them here
 * (the engine reads the group's devices again under the lock). */
static int give_back(struct vc_cli *cli, const char *device, bool drop_config, const struct vc_topology *topology) {
        _cleanup_close_ int lock = -1; /* held from the give-back until the configuration is edited */
        _cleanup_(vc_topology_freep) struct vc_topology *own = NULL, *now = NULL; /* now: under the lock */
        struct vc_op_result *results = NULL; /* disable: the give-back, taken back when the edit fails */
        const struct vc_topology *t = topology;
        struct device_arg arg = {};
        int r;

        if (!t) {
                /* disable: an entry to drop may also select devices of other groups
                 * (plan_config_edits()), which only a read of all of them shows */
                r = drop_config ? cli_load_devices(cli, &own) : cli_load_devices_for(cli, device, &own);
                if (r != EXIT_DONE)
                        return r;
                t = own;
        }
        if (drop_config && !topology && absent_entry(cli, t, device))
                return disable_absent_entry(cli, device, false);
        r = cli_resolve_device(cli, t, device, &arg);
        if (r != EXIT_DONE)
                return r;
        /* disable: what goes from the configuration is known first; when it cannot be done
         * safely, nothing is given back either. */
        struct config_edit *edits = NULL;
        size_t n_edits = 0;
        bool boot_dropped = false;
        /* An invalid configuration: the group still goes back (from its record); its entries stay. */
        bool keep_entries = drop_config && !cli->config;
        if (keep_entries) {
                /* Without a record there is nothing to give back, only entries to drop: that needs
                 * the configuration. */
                bool recorded = false;
                for (size_t i = 0; i < arg.n_groups && !recorded; i++) {
                        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                        recorded = vc_record_read(cli->ctx, arg.groups[i], &rec) >= 0;
                }
                if (!recorded) {
                        log_error("%s: configuration invalid (%zu error%s); %s is not claimed, so disable would "
                                  "only edit the configuration: nothing was changed",
                                  cli->config_dir, cli->n_config_errors, cli->n_config_errors == 1 ? "" : "s", device);
                        device_arg_done(&arg);
                        return EXIT_CONFIG;
                }
        }
        if (drop_config && !keep_entries &&
            (r = plan_config_edits(cli, t, arg.groups, arg.n_groups, &edits, &n_edits, &boot_dropped)) != EXIT_DONE) {
                device_arg_done(&arg);
                return r;
        }
        if (drop_config && (r = refuse_if_defined(cli, t, arg.groups, arg.n_groups)) != EXIT_DONE) {
                config_edits_free(edits, n_edits);
                device_arg_done(&arg);
                return r;
        }
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
                /* disable: the edits planned above were planned from the files as they were
                 * before the lock; another run (disable, enable) or the admin may have changed
                 * them since. They are planned again from the configuration read under the
                 * lock, the hold the give-back and the edit are made under, so that no change
                 * made meanwhile is written over. Which devices an entry selects (for "also
                 * selects a device of another group") comes from the devices read under it too:
                 * a device's address, ids and group do not change while it exists, but a device
                 * can come or go meanwhile (a rescan, a hot-plug). Nothing that takes a device
                 * lock is read (VC_PCI_READ_NO_DEVICE_LOCK: no override, no SR-IOV PF's
                 * sriov_numvfs; the check uses neither): such a read waits for as long as a task
                 * stuck in the kernel holds that lock (docs/DESIGN.md, "The lock"). */
                if (r == EXIT_DONE && drop_config && !keep_entries && !cli->dry_run) {
                        config_edits_free(edits, n_edits);
                        edits = NULL;
                        n_edits = 0;
                        now = vc_topology_free(now);
                        if ((r = cli_take_lock(cli, &lock)) == EXIT_DONE && (r = cli_reload_config(cli)) == EXIT_DONE &&
                            (r = cli_load_devices_full(cli, VC_PCI_READ_NO_DEVICE_LOCK, &now)) == EXIT_DONE)
                                r = plan_config_edits(cli, now, arg.groups, arg.n_groups, &edits, &n_edits,
                                                      &boot_dropped);
                }
                if (r == EXIT_DONE)
                        r = move_groups(cli, now ?: t, arg.groups, arg.n_groups, true, "give back",
                                        cli->dry_run ? NULL : owners, drop_config ? &results : NULL, &lock);
                for (size_t i = 0; i < arg.n_groups; i++)
                        free(owners[i]);
                free(owners);
                if (r != EXIT_RETRY)
                        break;
                closep(&lock); /* libvirt is asked again without it */
                lock = -1;
                if (attempt == OWNER_CHECK_ATTEMPTS) {
                        log_error("the holder of the group changed %u times while this command waited for the lock; "
                                  "nothing was given back, run it again", attempt);
                        r = EXIT_REFUSED;
                        break;
                }
        }
        if (r == EXIT_DONE && keep_entries)
                log_warning("%s: the configuration is invalid, so it was not changed: fix it ('vfio-claim "
                            "check-config' lists the errors) and remove the entries of %s, or a later 'apply' "
                            "or boot claims the group again",
                            cli->config_dir, device);
        else if (r == EXIT_DONE && drop_config) {
                r = apply_config_edits(cli, edits, n_edits);
                if (r == EXIT_DONE && boot_dropped)
                        hint_boot_set_changed(cli, false);
                /* The entries stay, and so does the claim: a group given back with its entries
                 * still there would be claimed again at the next boot or add event. */
                if (r != EXIT_DONE)
                        undo_results(cli, results, arg.n_groups, lock >= 0);
        }
        results_free(results, arg.n_groups);
        config_edits_free(edits, n_edits);
        device_arg_done(&arg);
        return r;
}

static bool entry_selects_group(const struct vc_config_device *cd, const struct vc_group *g) {
        for (size_t k = 0; g && k < vc_group_n_devices(g); k++)
                if (entry_selects(cd, vc_group_device(g, k)))
                        return true;
        return false;
}

/* The first entry that selects a device of group @group and one of another group present, or NULL. */
static const struct vc_config_device *entry_spanning(struct vc_cli *cli, const struct vc_topology *t, unsigned group) {
        const struct vc_group *g = find_group(t, group);
        for (size_t i = 0; cli->config && g && i < cli->config->n_devices; i++) {
                const struct vc_config_device *cd = &cli->config->devices[i];
                if (!entry_selects_group(cd, g))
                        continue;
                for (size_t k = 0; k < t->n_groups; k++)
                        if (t->groups[k] != g && entry_selects_group(cd, t->groups[k]))
                                return cd;
        }
        return NULL;
}

/* release --all, disable --all: every group with a record (disable: also every group a
 * configured entry selects), each as a transaction of its own, then one summary line. */
static int give_back_all(struct vc_cli *cli, bool drop_config) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        _cleanup_free_ unsigned *recorded = NULL, *groups = NULL;
        size_t n_recorded = 0, n = 0, n_failed = 0;
        int r, ret = EXIT_DONE;

        r = cli_load_devices(cli, &t);
        if (r != EXIT_DONE)
                return r;
        r = vc_record_list(cli->ctx, &recorded, &n_recorded);
        if (r < 0)
                return log_error_errno(r, "cannot list the state records: %m"), EXIT_FAILED;
        groups = calloc(n_recorded + t->n_groups + 1, sizeof *groups);
        if (!groups)
                return log_error("out of memory"), EXIT_FAILED;
        for (size_t i = 0; i < n_recorded; i++)
                groups[n++] = recorded[i];
        for (size_t i = 0; drop_config && i < t->n_groups; i++) {
                const struct vc_group *g = t->groups[i];
                bool configured = false, listed = false;
                for (size_t k = 0; k < vc_group_n_devices(g); k++)
                        configured |= vc_config_match_device(cli->config, vc_group_device(g, k)) != NULL;
                for (size_t k = 0; k < n; k++)
                        listed |= groups[k] == vc_group_number(g);
                if (configured && !listed)
                        groups[n++] = vc_group_number(g);
        }
        /* disable --all: the entries that select no device present go too (disable_absent_entry()) */
        _cleanup_strv_free_ char **absent = NULL;
        size_t n_absent = 0;
        for (size_t i = 0; drop_config && cli->config && i < cli->config->n_devices; i++) {
                const struct vc_config_device *cd = &cli->config->devices[i];
                if (entry_selects_present(cd, t))
                        continue;
                char **v = realloc(absent, (n_absent + 2) * sizeof *v);
                if (!v)
                        return log_error("out of memory"), EXIT_FAILED;
                absent = v;
                if (!(absent[n_absent] = strdup(cd->name)))
                        return log_error("out of memory"), EXIT_FAILED;
                absent[++n_absent] = NULL;
        }
        if (n == 0 && n_absent == 0) {
                if (cli->json)
                        (void) cli_json_operations(cli);
                else
                        printf("nothing to do: no group is claimed%s\n", drop_config ? " or configured" : "");
                return EXIT_DONE;
        }
        _cleanup_free_ bool *done = calloc(n + 1, sizeof *done);
        if (!done)
                return log_error("out of memory"), EXIT_FAILED;
        for (size_t i = 0; i < n; i++) {
                if (done[i])
                        continue;
                char arg[32];
                snprintf(arg, sizeof arg, "group:%u", groups[i]);
                /* disable: each group reads the configuration as the previous one left it. */
                r = drop_config && i > 0 ? cli_reload_config(cli) : EXIT_DONE;
                /* An entry that selects devices of other groups too (ids that two cards share)
                 * goes with all of them at once, as disable NAME does: given back one group at
                 * a time, its removal would be refused for the groups it still selects. */
                _cleanup_free_ char *entry = NULL;
                const struct vc_config_device *span = r == EXIT_DONE && drop_config ? entry_spanning(cli, t, groups[i]) : NULL;
                if (span && !(entry = strdup(span->name)))
                        return log_error("out of memory"), EXIT_FAILED;
                size_t covered = 1;
                for (size_t j = i + 1; span && j < n; j++)
                        if (!done[j] && entry_selects_group(span, find_group(t, groups[j])))
                                done[j] = true, covered++;
                /* One read of the devices for all: each group is one of its own, which
                 * the groups before it did not touch. */
                if (r == EXIT_DONE)
                        r = give_back(cli, entry ?: arg, drop_config, t);
                if (r != EXIT_DONE) {
                        n_failed += covered;
                        if (ret == EXIT_DONE)
                                ret = r;
                }
        }
        for (size_t i = 0; i < n_absent; i++)
                if ((r = disable_absent_entry(cli, absent[i], true)) != EXIT_DONE && ret == EXIT_DONE)
                        ret = r;
        if (!cli->json && n > 0)
                printf("%s --all: %zu group%s, %zu done, %zu failed\n", drop_config ? "disable" : "release", n,
                       n == 1 ? "" : "s", n - n_failed, n_failed);
        return ret;
}

/* ------------------------------------------------------------------ the udev rule */

/* enable, disable and apply leave the generated udev rule (lib/boot.h) saying what the
 * configuration says now, so that udev runs the helper for the devices it names from the next
 * PCI add event on. Only for the configuration the helper reads (not for --config DIR); a rule
 * that cannot be written is a warning: the boot pass writes it again at the next boot. The
 * configuration is read, and the rule written, under the lock (taken again: the verb has let
 * it go), as the udev helper's boot pass does: every change of the configuration is made under
 * the lock and followed by such a write, so the last rule written is the last configuration's,
 * never one read before another run's change and written after its rule. A verb that failed
 * writes it too when it changed the configuration (disable --all: a group done before one that
 * failed), waiting for the lock as long; one that changed nothing has nothing to write. */
static int update_udev_rule(struct vc_cli *cli, int ret) {
        _cleanup_(vc_config_freep) struct vc_config *cfg = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int lock = -1;
        int r;

        if (cli->dry_run || vc_ctx_path(cli->ctx, VC_PLACE_SYSCONF, &dir, NULL) < 0 ||
            !streq(dir, cli->config_dir))
                return ret;
        if (ret != EXIT_DONE && !cli->config_changed)
                return ret;
        r = vc_state_lock(cli->ctx, CLI_LOCK_TIMEOUT_MS, &lock);
        if (r < 0) {
                log_warning("cannot update the udev rule %s: cannot take the lock (%s); udev follows the "
                            "configuration again from the next boot", VC_BOOT_RULES_NAME, strerror(-r));
                return ret;
        }
        if (vc_config_load(cli->config_dir, &cfg) < 0)
                return ret; /* the helper claims nothing from an invalid configuration */
        r = vc_boot_rules_write(cli->ctx, cfg);
        if (r < 0)
                log_warning("cannot update the udev rule %s: %s; udev follows the configuration "
                            "again from the next boot", VC_BOOT_RULES_NAME, strerror(-r));
        return ret;
}

int verb_enable(struct vc_cli *cli, int argc, char **argv) {
        return update_udev_rule(cli, enable(cli, argv));
}

int verb_disable(struct vc_cli *cli, int argc, char **argv) {
        if (cli->all && cli->config_invalid) {
                /* --all takes every group a configured entry selects: that needs the configuration */
                log_error("%s: configuration invalid (%zu error%s); disable --all needs it, nothing was changed",
                          cli->config_dir, cli->n_config_errors, cli->n_config_errors == 1 ? "" : "s");
                log_notice("'vfio-claim release' gives a group back without reading the configuration");
                return EXIT_CONFIG;
        }
        if (!cli->all) {
                if (usb_arg_is_usb(cli, argv[0]))
                        return update_udev_rule(cli, usb_disable(cli, argv[0]));
        }
        return update_udev_rule(cli, cli->all ? give_back_all(cli, true) : give_back(cli, argv[0], true, NULL));
}
int verb_release(struct vc_cli *cli, int argc, char **argv) {
        return cli->all ? give_back_all(cli, false) : give_back(cli, argv[0], false, NULL);
}

/* The groups apply claims, into @groups (room for every group of @t): every group holding a
 * present device of a boot = yes entry, not claimed yet or with a reset_method that differs from
 * its "reset =". A group without an endpoint (a root port alone in it) has nothing to claim:
 * with @warn each such boot device is said once, as the boot pass says it
 * (udev/vfio-claim-udev.c). */
static size_t apply_groups(struct vc_cli *cli, const struct vc_topology *t, unsigned *groups, bool warn) {
        size_t n = 0;
        for (size_t i = 0; i < t->n_groups; i++) {
                const struct vc_group *g = t->groups[i];
                bool wanted = false, resets_differ = false, bridges_only = vc_group_n_endpoints(g) == 0;
                for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        const struct vc_config_device *cd = vc_config_match_device(cli->config, d);
                        wanted |= cd && cd->boot;
                        resets_differ |= cd && !vc_pci_dev_is_bridge(d) &&
                                         !vc_reset_method_is(cli->ctx, vc_pci_dev_addr(d), cd->reset);
                        if (cd && cd->boot && bridges_only && warn)
                                log_warning("%s/%s:%u: [device %s] selects %s, a PCI bridge alone in IOMMU group %u: "
                                            "nothing to claim (bridges stay on their drivers; match the device behind "
                                            "it instead)",
                                            cli->config_dir, cd->file, vc_config_device_match_line(cd, d), cd->name,
                                            vc_pci_dev_name(d), vc_group_number(g));
                }
                if (wanted && !bridges_only && (!vc_group_is_claimed(cli->ctx, g) || resets_differ))
                        groups[n++] = vc_group_number(g);
        }
        return n;
}

/* Is a device of @t selected by a boot = yes entry? *ret_claimable: one of them is in a group
 * with an endpoint (not only a bridge alone in its group). */
static bool boot_device_present(struct vc_cli *cli, const struct vc_topology *t, bool *ret_claimable) {
        bool present = false;
        *ret_claimable = false;
        for (size_t i = 0; i < t->n_groups; i++)
                for (size_t k = 0; k < vc_group_n_devices(t->groups[i]); k++) {
                        const struct vc_config_device *cd =
                                vc_config_match_device(cli->config, vc_group_device(t->groups[i], k));
                        if (cd && cd->boot) {
                                present = true;
                                *ret_claimable |= vc_group_n_endpoints(t->groups[i]) > 0;
                        }
                }
        return present;
}

static int apply_nothing_to_do(struct vc_cli *cli, const struct vc_topology *t) {
        bool claimable;
        if (cli->json)
                (void) cli_json_operations(cli);
        else if (!vc_config_has_boot_devices(cli->config))
                printf("nothing to do: no entry of %s says boot = yes\n", cli->config_dir);
        else if (!boot_device_present(cli, t, &claimable))
                printf("nothing to do: no device present is one a boot = yes entry of %s selects\n", cli->config_dir);
        else if (!claimable)
                printf("nothing to do: the boot = yes devices present are PCI bridges alone in their groups, "
                       "which stay on their drivers\n");
        else
                printf("nothing to do: every group with a boot = yes device is claimed\n");
        return EXIT_DONE;
}

static int apply(struct vc_cli *cli) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        _cleanup_free_ unsigned *groups = NULL, *groups_now = NULL;
        _cleanup_close_ int lock = -1;
        size_t n, n_now;
        int r;

        r = cli_load_devices(cli, &t);
        if (r != EXIT_DONE)
                return r;
        groups = calloc(t->n_groups + 1, sizeof *groups);
        groups_now = calloc(t->n_groups + 1, sizeof *groups_now);
        if (!groups || !groups_now)
                return log_error("out of memory"), EXIT_FAILED;
        n = apply_groups(cli, t, groups, true);
        if (n == 0)
                return apply_nothing_to_do(cli, t);
        bool consented;
        r = consent_for_groups(cli, t, groups, n, NULL, false, &consented);
        if (r != EXIT_DONE || cli->dry_run)
                return r == EXIT_DONE ? move_groups(cli, t, groups, n, false, "claim", NULL, NULL, NULL) : r;

        /* What was asked (consent, maybe on a terminal) was asked without the lock; what is
         * claimed is decided again under it, from the configuration and the records as they are
         * now: an entry another vfio-claim run dropped meanwhile (disable, under the lock) is not
         * claimed. A group that became wanted meanwhile was not asked about: run again. The
         * devices are not read again: the engine reads each group it moves under the lock, and
         * a read of every device's driver_override could wait there for a device lock that a
         * task stuck in the kernel holds (docs/DESIGN.md, "The lock"). */
        if ((r = cli_take_lock(cli, &lock)) != EXIT_DONE || (r = cli_reload_config(cli)) != EXIT_DONE)
                return r;
        n_now = apply_groups(cli, t, groups_now, false);
        if (n_now == 0)
                return apply_nothing_to_do(cli, t);
        /* Consent is checked again under the lock, without asking: for every group when the
         * configuration gave it (consent = yes), else for the groups not shown on the terminal
         * (wanted since); one given on the terminal or with --yes stands for the groups it was
         * given for. A group wanted since that needs no consent is claimed as any other. */
        _cleanup_free_ unsigned *unasked = calloc(n_now + 1, sizeof *unasked);
        size_t n_unasked = 0;
        if (!unasked)
                return log_error("out of memory"), EXIT_FAILED;
        for (size_t i = 0; i < n_now; i++) {
                bool asked = false;
                for (size_t k = 0; consented && k < n && !asked; k++)
                        asked = groups[k] == groups_now[i];
                if (!asked)
                        unasked[n_unasked++] = groups_now[i];
        }
        bool still;
        if (n_unasked > 0 && (r = consent_for_groups(cli, t, unasked, n_unasked, NULL, true, &still)) != EXIT_DONE)
                return r;
        return move_groups(cli, t, groups_now, n_now, false, "claim", NULL, NULL, &lock);
}

int verb_apply(struct vc_cli *cli, int argc, char **argv) {
        return update_udev_rule(cli, apply(cli));
}

static void format_time(uint64_t since, char buf[static 32]) {
        time_t tt = (time_t) since;
        struct tm tm;
        if (!localtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, 32, "%llu", (unsigned long long) since);
}

/* What the claim took from the host besides the drivers, and gives back with the group: the
 * VT consoles of "console = handoff" and the units of "stop =" (lib/state.h). */
static void print_record_host_side(const struct vc_record *rec) {
        if (rec->console_handoff && rec->n_consoles == 0)
                printf("  console handed over (no VT console was bound to the framebuffer)\n");
        else if (rec->console_handoff) {
                printf("  console handed over:");
                for (size_t i = 0; i < rec->n_consoles; i++)
                        printf(" %s%s", rec->consoles[i], i + 1 < rec->n_consoles ? "," : "");
                printf(" unbound from the framebuffer; bound again when the group is given back\n");
        }
        for (size_t i = 0; i < rec->n_stopped_units; i++)
                printf("  stopped %s; started again when the group is given back\n", rec->stopped_units[i]);
}

static void json_record_host_side(struct vc_json *j, const struct vc_record *rec) {
        vc_json_kv_bool(j, "console_handoff", rec->console_handoff);
        json_strings(j, "consoles", rec->consoles, rec->n_consoles);
        json_strings(j, "stopped_units", rec->stopped_units, rec->n_stopped_units);
}

int verb_status(struct vc_cli *cli, int argc, char **argv) {
        _cleanup_free_ unsigned *groups = NULL;
        size_t n = 0;
        int r = vc_record_list(cli->ctx, &groups, &n);
        if (r < 0)
                return log_error_errno(r, "cannot read the state records: %m"), EXIT_FAILED;
        /* For the consent of each group: an invalid configuration is reported, and status goes on
         * without it. */
        if (n > 0 && (r = cli_load_config_to_read(cli)) != EXIT_DONE)
                return r;

        /* The VMs whose definitions list each group (none asked when libvirt cannot be reached). */
        _cleanup_(vc_virt_definitions_done) struct vc_virt_definitions defs = {};
        _cleanup_free_ char *virt_err = NULL;
        bool have_defs = n > 0 && vc_virt_definitions_read_uri(cli->connect_uri, &defs, &virt_err) >= 0;
        if (n > 0 && !have_defs)
                log_debug("cannot list the VMs at %s: %s", cli->connect_uri, strna(virt_err));

        struct vc_json *j = NULL;
        if (cli->json) {
                j = vc_json_new(stdout);
                if (!j)
                        return log_error("out of memory"), EXIT_FAILED;
                vc_json_object_begin(j);
                json_host_identity(cli, j); /* schema_version, host: inventories from many hosts merge */
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
                if (r == -ENOENT)
                        continue; /* given back since the listing: status reads without the lock */
                if (r < 0) {
                        log_record_unreadable(cli, groups[i], r);
                        ret = EXIT_FAILED;
                        continue;
                }
                (void) vc_group_read(cli->ctx, groups[i], &g, NULL);
                format_time(rec->since, when);
                bool claimed = g && vc_group_is_claimed(cli->ctx, g);
                _cleanup_strv_free_ char **vms = NULL;
                _cleanup_free_ char *names = NULL;
                if (have_defs && g && (vc_virt_definitions_users(&defs, g, NULL, &vms) < 0 ||
                                       (vms[0] && !(names = vc_virt_names_join(vms))))) {
                        vc_json_free(j);
                        return log_error("out of memory"), EXIT_FAILED;
                }
                if (j) {
                        vc_json_object_begin(j);
                        vc_json_kv_uint(j, "group", rec->group);
                        vc_json_kv_string(j, "state", vc_record_state_to_string(rec->state));
                        vc_json_kv_bool(j, "claimed", claimed);
                        vc_json_kv_string(j, "owner", rec->owner);
                        vc_json_kv_uint(j, "since", rec->since);
                        vc_json_kv_string(j, "by", rec->by);
                        vc_json_kv_bool(j, "consent", g && group_has_consent(cli, g));
                        json_record_host_side(j, rec);
                        vc_json_key(j, "vms");
                        if (vms) {
                                vc_json_array_begin(j);
                                for (char **v = vms; *v; v++)
                                        vc_json_string(j, *v);
                                vc_json_array_end(j);
                        } else
                                vc_json_null(j);
                        vc_json_key(j, "devices");
                        vc_json_array_begin(j);
                } else
                        printf("IOMMU group %u: %s%s, %s%s, since %s%s%s\n", rec->group,
                               vc_record_state_to_string(rec->state),
                               claimed ? "" : " (not all endpoints on vfio now)",
                               rec->owner ? "used by VM " : "no VM", strempty(rec->owner), when,
                               rec->by ? ", by " : "", strempty(rec->by));
                if (!j && names)
                        printf("  in the definition of %s\n", names);
                if (!j && g && group_has_consent(cli, g))
                        printf("  consent = yes: the devices of other slots in the group move with it\n");
                if (!j)
                        print_record_host_side(rec);
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
