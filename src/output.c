/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>
#include <string.h>

#include "doctor.h"
#include "host.h"
#include "log.h"
#include "output.h"

void device_facts_for(struct vc_cli *cli, const struct vc_pci_dev *d, struct device_facts *ret) {
        const struct vc_config_device *cd = cli->config ? vc_config_match_device(cli->config, d) : NULL;
        *ret = (struct device_facts){
                .config_name = cd ? cd->name : NULL,
                .critical = cli_critical_reason(cli, vc_pci_dev_addr(d)),
                .vm = vc_pci_dev_iommu_group(d) >= 0 ? cli_group_owner(cli, (unsigned) vc_pci_dev_iommu_group(d)) : NULL,
        };
}

char *device_description(struct vc_cli *cli, const struct vc_pci_dev *d) {
        _cleanup_free_ char *vendor = NULL, *model = NULL;
        char *s;
        (void) vc_pci_dev_hwdb_names(cli->ctx, d, &vendor, &model);
        if (asprintf(&s, "%s%s%s", vendor ? vendor : "", vendor && model ? " " : "", model ? model : "") < 0)
                return NULL;
        return s;
}

/* "%0*x" by hand: a device's ids and class are formatted once per device in list --json. */
static const char *hex_digits(char *buf, unsigned width, uint32_t v) {
        static const char hex[] = "0123456789abcdef";
        for (unsigned i = width; i > 0; i--, v >>= 4)
                buf[i - 1] = hex[v & 0xf];
        buf[width] = '\0';
        return buf;
}

static void json_hex4(struct vc_json *j, const char *key, uint16_t v) {
        char buf[5];
        vc_json_kv_string(j, key, hex_digits(buf, 4, v));
}

void json_device(struct vc_cli *cli, struct vc_json *j, const struct vc_pci_dev *d, bool detail) {
        struct device_facts facts;
        _cleanup_free_ char *vendor = NULL, *model = NULL;
        char buf[32];
        struct vc_pci_addr pf;

        device_facts_for(cli, d, &facts);
        (void) vc_pci_dev_hwdb_names(cli->ctx, d, &vendor, &model);

        vc_json_object_begin(j);
        vc_json_kv_string(j, "address", vc_pci_dev_name(d));
        json_hex4(j, "vendor_id", vc_pci_dev_vendor(d));
        json_hex4(j, "device_id", vc_pci_dev_device(d));
        json_hex4(j, "subsystem_vendor_id", vc_pci_dev_subsystem_vendor(d));
        json_hex4(j, "subsystem_device_id", vc_pci_dev_subsystem_device(d));
        vc_json_kv_string(j, "vendor_name", vendor);
        vc_json_kv_string(j, "device_name", model);
        buf[0] = '0';
        buf[1] = 'x';
        hex_digits(buf + 2, 6, vc_pci_dev_class(d) & 0xffffff);
        vc_json_kv_string(j, "class", buf);
        vc_json_kv_string(j, "class_name", vc_pci_class_to_string(vc_pci_dev_class(d)));
        vc_json_kv_bool(j, "bridge", vc_pci_dev_is_bridge(d));
        vc_json_key(j, "iommu_group");
        if (vc_pci_dev_iommu_group(d) >= 0)
                vc_json_int(j, vc_pci_dev_iommu_group(d));
        else
                vc_json_null(j);
        vc_json_kv_string(j, "driver", vc_pci_dev_driver(d));
        vc_json_kv_string(j, "driver_module", vc_pci_dev_driver_module(d));
        vc_json_kv_string(j, "driver_override", vc_pci_dev_driver_override(d));
        vc_json_kv_bool(j, "on_vfio", vc_pci_dev_is_on_vfio(d));
        vc_json_key(j, "boot_vga");
        if (vc_pci_dev_boot_vga(d) >= 0)
                vc_json_bool(j, vc_pci_dev_boot_vga(d) > 0);
        else
                vc_json_null(j);
        vc_json_kv_string(j, "configured_name", facts.config_name);
        vc_json_kv_bool(j, "critical", facts.critical != NULL);
        vc_json_kv_string(j, "critical_reason", facts.critical);
        vc_json_kv_string(j, "vm", facts.vm);
        vc_json_key(j, "physfn");
        if (vc_pci_dev_physfn(d, &pf))
                vc_json_string(j, VC_PCI_ADDR_TO_STRING(&pf));
        else
                vc_json_null(j);
        if (vc_pci_dev_total_vfs(d) > 0) {
                vc_json_kv_uint(j, "sriov_total_vfs", vc_pci_dev_total_vfs(d));
                vc_json_kv_uint(j, "sriov_num_vfs", vc_pci_dev_num_vfs(d));
        }

        if (detail) {
                const char *rm = vc_pci_dev_reset_method(d);
                vc_json_key(j, "reset_methods");
                if (rm) {
                        _cleanup_free_ char *copy = strdup(rm);
                        vc_json_array_begin(j);
                        for (char *save = NULL, *m = copy ? strtok_r(copy, " ", &save) : NULL; m;
                             m = strtok_r(NULL, " ", &save))
                                vc_json_string(j, m);
                        vc_json_array_end(j);
                } else
                        vc_json_null(j);
                vc_json_kv_string(j, "vendor_reset_family",
                                  vc_vendor_reset_family(vc_pci_dev_vendor(d), vc_pci_dev_device(d)));
                vc_json_kv_int(j, "numa_node", vc_pci_dev_numa_node(d));

                struct vc_pci_link link;
                vc_json_key(j, "link");
                if (vc_pci_dev_read_link(d, &link) >= 0) {
                        vc_json_object_begin(j);
                        vc_json_kv_string(j, "current_speed", link.current_speed);
                        vc_json_kv_uint(j, "current_width", link.current_width);
                        vc_json_kv_string(j, "max_speed", link.max_speed);
                        vc_json_kv_uint(j, "max_width", link.max_width);
                        vc_json_kv_bool(j, "degraded", vc_pci_link_degraded(&link));
                        vc_json_object_end(j);
                } else
                        vc_json_null(j);
                vc_pci_link_done(&link);

                _cleanup_free_ struct vc_pci_bar *bars = NULL;
                size_t n_bars = 0;
                vc_json_key(j, "bars");
                vc_json_array_begin(j);
                if (vc_pci_dev_read_bars(d, &bars, &n_bars) >= 0)
                        for (size_t i = 0; i < n_bars; i++) {
                                vc_json_object_begin(j);
                                if (bars[i].index == 6)
                                        vc_json_kv_string(j, "bar", "rom");
                                else
                                        vc_json_kv_uint(j, "bar", bars[i].index);
                                snprintf(buf, sizeof buf, "0x%llx", (unsigned long long) bars[i].start);
                                vc_json_kv_string(j, "start", buf);
                                vc_json_kv_uint(j, "size", bars[i].size);
                                vc_json_kv_string(j, "type", bars[i].io ? "io" : bars[i].mem64 ? "mem64" : "mem32");
                                vc_json_kv_bool(j, "prefetchable", bars[i].prefetchable);
                                vc_json_object_end(j);
                        }
                vc_json_array_end(j);
        }
        vc_json_object_end(j);
}

void json_group(struct vc_cli *cli, struct vc_json *j, const struct vc_group *g, bool detail, bool vms_key,
                char *const *vms) {
        vc_json_object_begin(j);
        vc_json_kv_uint(j, "group", vc_group_number(g));
        vc_json_kv_bool(j, "claimed", vc_group_is_claimed(cli->ctx, g));
        vc_json_kv_bool(j, "vfio_node", vc_group_has_vfio_node(cli->ctx, g));
        vc_json_kv_uint(j, "endpoints", vc_group_n_endpoints(g));
        vc_json_key(j, "devices");
        vc_json_array_begin(j);
        for (size_t i = 0; i < vc_group_n_devices(g); i++)
                json_device(cli, j, vc_group_device(g, i), detail);
        vc_json_array_end(j);
        if (vms_key) {
                vc_json_key(j, "vms");
                if (vms) {
                        vc_json_array_begin(j);
                        for (char *const *v = vms; *v; v++)
                                vc_json_string(j, *v);
                        vc_json_array_end(j);
                } else
                        vc_json_null(j);
        }
        vc_json_object_end(j);
}

void json_host_identity(struct vc_cli *cli, struct vc_json *j) {
        struct vc_host_identity h = {};
        if (vc_host_identity_read(cli->ctx, &h) < 0)
                log_warning("out of memory reading the host identity");
        vc_json_kv_uint(j, "schema_version", VC_JSON_SCHEMA_VERSION);
        vc_json_key(j, "host");
        vc_json_object_begin(j);
        vc_json_kv_string(j, "hostname", h.hostname);
        vc_json_kv_string(j, "machine_id", h.machine_id);
        vc_json_object_end(j);
        vc_host_identity_done(&h);
}
