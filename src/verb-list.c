/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "doctor.h"
#include "log.h"
#include "output.h"
#include "table.h"
#include "verb-usb.h"
#include "virt.h"

static size_t terminal_width(void) {
        struct winsize ws;
        if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
                return 0;
        return ws.ws_col;
}

static const char *const list_columns[] = {
        "GROUP", "ADDRESS", "CLASS", "ID", "DRIVER", "OVERRIDE", "CONFIG", "CLAIMED", "NOTE", "DESCRIPTION",
};

/* Columns left out first when `list` does not fit the terminal (0: always shown). The
 * description is cut before any column goes, down to a few characters. */
static const unsigned list_drop_rank[] = {
        [2] = 6, /* CLASS */
        [3] = 5, /* ID */
        [5] = 7, /* OVERRIDE */
        [6] = 3, /* CONFIG */
        [9] = 4, /* DESCRIPTION */
};

static int table_device(struct vc_cli *cli, struct table *t, const struct vc_pci_dev *d,
                        const char *group, const char *claimed, FILE *notes) {
        struct device_facts facts;
        _cleanup_free_ char *desc = device_description(cli, d);
        device_facts_for(cli, d, &facts);

        const char *note = vc_pci_dev_is_bridge(d) ? "bridge" : NULL;
        if (facts.critical) {
                note = "critical";
                if (notes)
                        fprintf(notes, "%s is critical: %s\n", vc_pci_dev_name(d), facts.critical);
        }
        else if (facts.vm)
                note = facts.vm;
        if (table_add(t, group) < 0 || table_add(t, vc_pci_dev_name(d)) < 0 ||
            table_add(t, vc_pci_class_to_string(vc_pci_dev_class(d))) < 0 ||
            table_addf(t, "%04x:%04x", vc_pci_dev_vendor(d), vc_pci_dev_device(d)) < 0 ||
            table_add(t, vc_pci_dev_driver(d)) < 0 || table_add(t, vc_pci_dev_driver_override(d)) < 0 ||
            table_add(t, facts.config_name) < 0 ||
            table_add(t, vc_pci_dev_is_bridge(d) ? NULL : claimed) < 0 || table_add(t, note) < 0 ||
            table_add(t, isempty(desc) ? NULL : desc) < 0)
                return -ENOMEM;
        return 0;
}

static const char no_iommu_message[] =
        "no IOMMU groups: the IOMMU is off or absent on this host, so no device can be passed "
        "through. Enable VT-d (Intel) or AMD-Vi/IOMMU in the firmware setup and boot with "
        "intel_iommu=on (Intel; AMD enables it by default); 'vfio-claim doctor' explains more.";

int verb_list(struct vc_cli *cli, int argc, char **argv) {
        const struct vc_topology *t = cli->topology;
        int r;

        bool iommu = vc_iommu_present(cli->ctx);
        if (cli->json) {
                struct vc_json *j = vc_json_new(stdout);
                if (!j)
                        return log_error("out of memory"), EXIT_FAILED;
                vc_json_object_begin(j);
                json_host_identity(cli, j);
                vc_json_kv_bool(j, "iommu", iommu && t->n_groups > 0);
                vc_json_key(j, "groups");
                vc_json_array_begin(j);
                for (size_t i = 0; i < t->n_groups; i++)
                        json_group(cli, j, t->groups[i], false, false, NULL);
                vc_json_array_end(j);
                vc_json_key(j, "ungrouped");
                vc_json_array_begin(j);
                for (size_t i = 0; i < t->n_ungrouped; i++)
                        json_device(cli, j, t->ungrouped[i], false);
                vc_json_array_end(j);
                if (usb_list_json(cli, j) < 0) {
                        vc_json_free(j);
                        return EXIT_FAILED;
                }
                vc_json_object_end(j);
                r = vc_json_finish(j);
                vc_json_free(j);
                if (r < 0)
                        return log_error_errno(r, "cannot write the JSON document: %m"), EXIT_FAILED;
                if (t->n_groups == 0)
                        log_warning("%s", no_iommu_message);
                return EXIT_DONE;
        }

        struct table *tab = table_new(ELEMENTSOF(list_columns), list_columns);
        if (!tab)
                return log_error("out of memory"), EXIT_FAILED;
        for (size_t c = 0; c < ELEMENTSOF(list_drop_rank); c++)
                table_set_drop_rank(tab, c, list_drop_rank[c]);
        /* Why each "critical" device is critical, printed under the table. */
        _cleanup_free_ char *notes_text = NULL;
        size_t notes_size = 0;
        FILE *notes = open_memstream(&notes_text, &notes_size);
        r = 0;
        for (size_t i = 0; i < t->n_groups && r >= 0; i++) {
                char group[16];
                const struct vc_group *g = t->groups[i];
                bool claimed = vc_group_is_claimed(cli->ctx, g);
                snprintf(group, sizeof group, "%u", vc_group_number(g));
                for (size_t k = 0; k < vc_group_n_devices(g) && r >= 0; k++)
                        r = table_device(cli, tab, vc_group_device(g, k), group, claimed ? "yes" : "no", notes);
        }
        for (size_t i = 0; i < t->n_ungrouped && r >= 0; i++)
                r = table_device(cli, tab, t->ungrouped[i], NULL, NULL, notes);
        if (!notes || fclose(notes) < 0)
                r = -ENOMEM;
        if (r < 0) {
                table_free(tab);
                return log_error("out of memory"), EXIT_FAILED;
        }
        if (t->n_groups == 0)
                log_warning("%s", no_iommu_message);
        if (t->n_groups + t->n_ungrouped > 0) {
                table_print(tab, stdout, terminal_width());
                if (!isempty(notes_text))
                        printf("\n%s", notes_text);
        } else
                log_warning("no PCI devices under %s", vc_ctx_root(cli->ctx));
        table_free(tab);
        if (usb_list_text(cli, t->n_groups + t->n_ungrouped > 0) < 0)
                return EXIT_FAILED;
        return EXIT_DONE;
}

static void print_device_detail(struct vc_cli *cli, const struct vc_pci_dev *d) {
        struct device_facts facts;
        _cleanup_free_ char *desc = device_description(cli, d);
        struct vc_pci_addr pf;

        device_facts_for(cli, d, &facts);
        printf("  %s  %s %04x:%04x (subsystem %04x:%04x)%s%s\n", vc_pci_dev_name(d),
               vc_pci_class_to_string(vc_pci_dev_class(d)), vc_pci_dev_vendor(d), vc_pci_dev_device(d),
               vc_pci_dev_subsystem_vendor(d), vc_pci_dev_subsystem_device(d), isempty(desc) ? "" : "  ",
               strempty(desc));
        printf("      kind:          %s\n", vc_pci_dev_is_bridge(d) ? "bridge (never claimed; stays on its driver)" : "endpoint");
        printf("      driver:        %s%s%s%s\n", vc_pci_dev_driver(d) ? vc_pci_dev_driver(d) : "(none)",
               vc_pci_dev_driver_module(d) ? " (module " : "", strempty(vc_pci_dev_driver_module(d)),
               vc_pci_dev_driver_module(d) ? ")" : "");
        printf("      override:      %s\n", vc_pci_dev_driver_override(d) ? vc_pci_dev_driver_override(d) : "(none)");
        if (facts.config_name)
                printf("      configured as: %s\n", facts.config_name);
        const struct vc_config_device *cd = cli->config ? vc_config_match_device(cli->config, d) : NULL;
        if (cd && cd->consent)
                printf("      consent:       consent = yes (the devices of other slots in its group move with it)\n");
        if (facts.critical)
                printf("      host-critical: %s\n", facts.critical);
        if (facts.vm)
                printf("      used by VM:    %s\n", facts.vm);
        const char *rm = vc_pci_dev_reset_method(d);
        printf("      reset methods: %s\n", !rm ? "(unknown: kernel has no reset_method)" : isempty(rm) ? "none" : rm);
        const char *family = vc_vendor_reset_family(vc_pci_dev_vendor(d), vc_pci_dev_device(d));
        if (family)
                printf("      reset quirk:   AMD %s: needs the vendor-reset module (reset = device_specific)\n", family);
        if (vc_pci_dev_boot_vga(d) > 0)
                printf("      boot VGA:      yes\n");
        if (vc_pci_dev_numa_node(d) >= 0)
                printf("      NUMA node:     %d\n", vc_pci_dev_numa_node(d));
        struct vc_pci_link link;
        if (vc_pci_dev_read_link(d, &link) >= 0)
                printf("      link:          %s x%u (max %s x%u)%s\n", strna(link.current_speed), link.current_width,
                       strna(link.max_speed), link.max_width,
                       vc_pci_link_degraded(&link) ? "  below its capability" : "");
        vc_pci_link_done(&link);
        _cleanup_free_ struct vc_pci_bar *bars = NULL;
        size_t n_bars = 0;
        if (vc_pci_dev_read_bars(d, &bars, &n_bars) >= 0)
                for (size_t i = 0; i < n_bars; i++) {
                        uint64_t s = bars[i].size;
                        const char *unit = "B";
                        if (s >= (1ULL << 30) && !(s & ((1ULL << 30) - 1))) { s >>= 30; unit = "GiB"; }
                        else if (s >= (1ULL << 20) && !(s & ((1ULL << 20) - 1))) { s >>= 20; unit = "MiB"; }
                        else if (s >= 1024 && !(s & 1023)) { s >>= 10; unit = "KiB"; }
                        if (bars[i].index == 6)
                                printf("      ROM:           %llu %s\n", (unsigned long long) s, unit);
                        else
                                printf("      BAR%u:          %llu %s %s%s\n", bars[i].index, (unsigned long long) s, unit,
                                       bars[i].io ? "I/O" : bars[i].mem64 ? "64-bit" : "32-bit",
                                       bars[i].prefetchable ? ", prefetchable" : "");
                }
        if (vc_pci_dev_physfn(d, &pf))
                printf("      SR-IOV VF of:  %s\n", VC_PCI_ADDR_TO_STRING(&pf));
        if (vc_pci_dev_total_vfs(d) > 0)
                printf("      SR-IOV:        %u of %u VFs enabled\n", vc_pci_dev_num_vfs(d), vc_pci_dev_total_vfs(d));
}

int verb_show(struct vc_cli *cli, int argc, char **argv) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        struct device_arg arg;
        int r;

        if (usb_arg_is_usb(cli, argv[0]))
                return usb_show(cli, argv[0]);
        r = cli_load_devices_for(cli, argv[0], &t);
        if (r != EXIT_DONE)
                return r;
        r = cli_resolve_device(cli, t, argv[0], &arg);
        if (r != EXIT_DONE)
                return r;

        /* The VMs whose definitions list each group (none asked when libvirt cannot be reached). */
        _cleanup_(vc_virt_definitions_done) struct vc_virt_definitions defs = {};
        _cleanup_free_ char *virt_err = NULL;
        bool have_defs = vc_virt_definitions_read_uri(cli->connect_uri, &defs, &virt_err) >= 0;
        if (!have_defs)
                log_debug("cannot list the VMs at %s: %s", cli->connect_uri, strna(virt_err));

        struct vc_json *j = NULL;
        if (cli->json) {
                j = vc_json_new(stdout);
                if (!j) {
                        device_arg_done(&arg);
                        return log_error("out of memory"), EXIT_FAILED;
                }
                vc_json_object_begin(j);
                vc_json_key(j, "groups");
                vc_json_array_begin(j);
        }
        for (size_t i = 0; i < arg.n_groups; i++) {
                const struct vc_group *g = NULL;
                for (size_t k = 0; k < t->n_groups; k++)
                        if (vc_group_number(t->groups[k]) == arg.groups[i])
                                g = t->groups[k];
                if (!g)
                        continue;
                _cleanup_strv_free_ char **vms = NULL;
                _cleanup_free_ char *names = NULL;
                if (have_defs && (vc_virt_definitions_users(&defs, g, NULL, &vms) < 0 ||
                                  (vms[0] && !(names = vc_virt_names_join(vms))))) {
                        device_arg_done(&arg);
                        vc_json_free(j);
                        return log_error("out of memory"), EXIT_FAILED;
                }
                if (j) {
                        json_group(cli, j, g, true, true, vms);
                        continue;
                }
                printf("IOMMU group %u: %zu device%s, %zu endpoint%s; %s\n", vc_group_number(g),
                       vc_group_n_devices(g), vc_group_n_devices(g) == 1 ? "" : "s", vc_group_n_endpoints(g),
                       vc_group_n_endpoints(g) == 1 ? "" : "s",
                       vc_group_is_claimed(cli->ctx, g) ? "claimed (all endpoints on vfio, /dev/vfio node present)"
                                                        : "not claimed");
                if (names)
                        printf("  in the definition of %s\n", names);
                for (size_t k = 0; k < vc_group_n_devices(g); k++)
                        print_device_detail(cli, vc_group_device(g, k));
        }
        device_arg_done(&arg);
        if (j) {
                vc_json_array_end(j);
                vc_json_object_end(j);
                r = vc_json_finish(j);
                vc_json_free(j);
                if (r < 0)
                        return log_error_errno(r, "cannot write the JSON document: %m"), EXIT_FAILED;
        }
        return EXIT_DONE;
}
