/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every verb of the CLI shares: parsed global options, the context, the configuration. */

#include <stdbool.h>

#include "config.h"
#include "json.h"
#include "critical.h"
#include "iommu.h"
#include "root.h"
#include "state.h"

/* Exit codes, fixed by the interface contract. */
enum {
        EXIT_DONE = 0,
        EXIT_FAILED = 1,   /* system unchanged or rolled back */
        EXIT_USAGE = 2,
        EXIT_CONFIG = 3,   /* configuration invalid */
        EXIT_REFUSED = 4,  /* refused for safety: protected, in use, hardware changed */
};

struct vc_cli {
        struct vc_ctx *ctx;
        char *config_dir;
        struct vc_config *config; /* loaded by cli_load_config() */
        bool config_invalid;      /* cli_load_config_to_read() found errors: config stays NULL */
        char **config_errors;     /* ... these ("FILE:LINE: message") */
        size_t n_config_errors;
        int host_1g_pages;        /* cli_host_1g_pages(): 0 not read yet, 1 without, 2 with */
        bool json;
        bool dry_run;
        bool force;
        bool boot;
        bool all;         /* release --all, disable --all */
        bool yes;         /* enable --yes, apply --yes: other slots' devices may move too */
        const char *name; /* enable --name */
        int verbose;
        bool timeout_given; /* --timeout, which [global] timeout does not override */
        const char *connect_uri;
        const char *format; /* export --format */
        bool no_mmio_fix;   /* add --no-mmio-fix */
        bool primary;       /* add --primary */
        const char *rom;    /* add --rom FILE (absolute) */
        const char *rombar; /* add --rombar on|off */
        const char *startup_policy; /* add --startup-policy, for a USB device (NULL: optional) */
        const char *verb; /* the verb being run, for the state records ("vfio-claim enable") */
        bool config_changed; /* the verb wrote a configuration file, or began to (update_udev_rule()) */
        struct vc_topology *topology; /* read by main() for the verbs that need it (src/main.c) */
        /* Read on first use, once per run. */
        struct vc_critical_set *critical;
        bool critical_scanned;
        struct vc_record **records;
        size_t n_records;
        bool records_read;
        /* --json with a writing verb: {"operations": [...]}, finished by cli_done(). */
        struct vc_json *json_ops;
};

/* Why the host cannot lose @addr (NULL when it can), from one scan per run. */
/* The host-critical scan, made on first use (lib/critical.h); NULL when it failed (said). */
const struct vc_critical_set *cli_critical_set(struct vc_cli *cli);
const char *cli_critical_reason(struct vc_cli *cli, const struct vc_pci_addr *addr);
/* The VM a group is claimed for, from the state records (NULL: none). */
const char *cli_group_owner(struct vc_cli *cli, unsigned group);
/* Finish the output (the --json document, what --sysroot did not load); returns @code, or
 * EXIT_FAILED when the JSON document could not be written. */
int cli_done(struct vc_cli *cli, int code);
/* Release everything @cli owns; for _cleanup_(cli_clear) in main(). */
void cli_clear(struct vc_cli *cli);
/* The one map from what a verb returns to the exit status of vfio-claim(8), EXIT STATUS: a verb
 * returns EXIT_DONE or a typed outcome (EXIT_USAGE, EXIT_CONFIG, EXIT_REFUSED: the refusals for
 * safety, EXIT_FAILED), or a negative errno for a failure it has already logged (-ENOMEM is
 * logged here). */
int cli_exit_status(int r);

/* Does the host's CPU have 1 GiB pages (the "pdpe1gb" flag)? A guest CPU that is the host's has
 * them then (vc_domain_mmio64_window()). An unreadable /proc/cpuinfo counts as no. */
bool cli_host_1g_pages(struct vc_cli *cli);
/* Begin the "operations" document (--json, writing verbs) if it is not begun. NULL on OOM. */
struct vc_json *cli_json_operations(struct vc_cli *cli);

/* Load the configuration once; a second call (of either) answers as the first, an invalid
 * configuration is never kept (cli->config NULL, its errors in cli->config_errors, printed once).
 * cli_load_config(): EXIT_CONFIG when it is invalid or cannot be read. */
int cli_load_config(struct vc_cli *cli);
/* Forget the configuration and cli_load_config() again: after the verb changed it. */
int cli_reload_config(struct vc_cli *cli);

/* Wait for vfio-claim's lock (lib/state.h), at most CLI_LOCK_TIMEOUT_MS: EXIT_DONE with its fd in
 * *ret_fd, or EXIT_FAILED with the reason said. */
#define CLI_LOCK_TIMEOUT_MS 60000
int cli_take_lock(struct vc_cli *cli, int *ret_fd);
/* For verbs that only read (list, show, status, doctor): an invalid configuration is reported
 * (every error on stderr, kept in cli->config_errors) and the verb goes on without it
 * (cli->config NULL). EXIT_CONFIG only when the directory cannot be read at all. */
int cli_load_config_to_read(struct vc_cli *cli);

/* DEVICE arguments: a PCI address, a configured device name, or "group:N". Resolves to the IOMMU
 * groups it names (a configured name matching identical cards names several). Prints the reason
 * and returns an exit code on failure (EXIT_USAGE for malformed input). */
struct device_arg {
        char *text;
        unsigned *groups;
        size_t n_groups;
        const struct vc_config_device *config_device; /* when named by, or matching, the config */
        bool has_addr;
        struct vc_pci_addr addr; /* when given as an address */
};
int cli_resolve_device(struct vc_cli *cli, const struct vc_topology *t, const char *text,
                       struct device_arg *ret);
/* Every PCI device of the host into *ret: EXIT_DONE, or EXIT_FAILED with the error logged. */
int cli_load_devices(struct vc_cli *cli, struct vc_topology **ret);
/* The same, @flags VC_PCI_READ_* (lib/pci.h) for the devices' reads. */
int cli_load_devices_full(struct vc_cli *cli, unsigned flags, struct vc_topology **ret);
/* The PCI devices cli_resolve_device() needs for the DEVICE argument @text: of an address or
 * group:N only that group, else every device (src/cli.c). EXIT_DONE or EXIT_FAILED, logged. */
int cli_load_devices_for(struct vc_cli *cli, const char *text, struct vc_topology **ret);
void device_arg_done(struct device_arg *a);

/* One verb: its function gets the arguments after the verb name and returns what
 * cli_exit_status() maps. What it needs (configuration, topology) main() has loaded. */
typedef int (*verb_fn)(struct vc_cli *cli, int argc, char **argv);

int verb_list(struct vc_cli *cli, int argc, char **argv);
int verb_show(struct vc_cli *cli, int argc, char **argv);
int verb_doctor(struct vc_cli *cli, int argc, char **argv);
int verb_check_config(struct vc_cli *cli, int argc, char **argv);
int verb_enable(struct vc_cli *cli, int argc, char **argv);
int verb_disable(struct vc_cli *cli, int argc, char **argv);
int verb_apply(struct vc_cli *cli, int argc, char **argv);
int verb_release(struct vc_cli *cli, int argc, char **argv);
int verb_status(struct vc_cli *cli, int argc, char **argv);
int verb_usb_reattach(struct vc_cli *cli, int argc, char **argv);
int verb_add(struct vc_cli *cli, int argc, char **argv);
int verb_remove(struct vc_cli *cli, int argc, char **argv);
int verb_rom(struct vc_cli *cli, int argc, char **argv);
int verb_export(struct vc_cli *cli, int argc, char **argv);
