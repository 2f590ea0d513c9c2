/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* vfio-claim export --format nova|kubevirt|proxmox [--json]: this host's passthrough inventory
 * in the form a cluster scheduler reads. Only devices the configuration names and that are
 * present here are exported (never every device that could be passed through); the names come
 * from the configuration's [device NAME] sections, so one configuration rolled out to many hosts
 * gives the same resource names everywhere. See vfio-claim(8), EXPORT.
 *
 * The target formats, field by field, and where each fact comes from (tests/bats/export.bats
 * checks the output against them):
 *
 * OpenStack Nova, nova.conf [pci] (openstack/nova, nova/conf/pci.py and nova/pci/request.py):
 *   device_spec   multi-valued option, one JSON object per line: "vendor_id" and "product_id"
 *                 (hexadecimal strings), "address" (a PCI address string), tags such as
 *                 "physical_network" (left to the admin: only Neutron SR-IOV NICs need it).
 *   alias         multi-valued option, one JSON object per line, validated against
 *                 _ALIAS_SCHEMA (additionalProperties false): "name" (string, 1..256),
 *                 "vendor_id", "product_id" (4 hex digits), "device_type" (one of "type-PCI",
 *                 "type-PF", "type-VF"; "type-PF" is required to pass a device that has SR-IOV
 *                 in its entirety). Aliases sharing a name are ORed, but must share device_type
 *                 (else PciInvalidAlias), so a name whose devices differ in type gets a suffix.
 * KubeVirt, KubeVirt CR spec.configuration.permittedHostDevices.pciHostDevices[] (V1PciHostDevice,
 * kubevirt/client-python docs/V1PciHostDevice.md; KubeVirt lower-cases the selector before it
 * compares it with the host's devices, virt-handler's device manager):
 *   pciVendorSelector         string, required: "vendor_id:product_id"
 *   resourceName              string, required: "typically of the form vendor.com/product_name";
 *                             a Kubernetes extended resource name, PREFIX/NAME where NAME is a
 *                             qualified name: 1..63 of [A-Za-z0-9_.-], alphanumeric at both ends
 *   externalResourceProvider  bool, optional: false lets KubeVirt's own device plugin allocate
 *                             the devices this host put on vfio-pci
 * Proxmox VE, /etc/pve/mapping/pci.cfg (proxmox/pve-guest-common, src/PVE/Mapping/PCI.pm): a
 * section config whose section header is the mapping id (pve-configid: a letter, then letters,
 * digits, '_' or '-', two characters at least) and whose "map" property is an array of property
 * strings, one per node and device:
 *   id            string, required, "^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$" (vendor:device)
 *   iommugroup    integer, optional (checked against the host when a guest starts)
 *   node          pve-node, required: the node name (the short host name)
 *   path          string, required: the PCI address
 *   subsystem-id  string, optional, "^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$"; a node compares it with
 *                 the device and refuses the mapping when the device has one and it is missing
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "host.h"
#include "log.h"
#include "output.h"

#define KUBEVIRT_RESOURCE_PREFIX "vfio-claim"

enum format {
        FORMAT_NOVA,
        FORMAT_KUBEVIRT,
        FORMAT_PROXMOX,
        _FORMAT_MAX,
};

static const char *const format_table[_FORMAT_MAX] = {
        [FORMAT_NOVA] = "nova",
        [FORMAT_KUBEVIRT] = "kubevirt",
        [FORMAT_PROXMOX] = "proxmox",
};

/* One configured device present on this host. */
struct entry {
        size_t config_index;
        const struct vc_config_device *cd;
        const struct vc_pci_dev *d;
        unsigned group;
        bool claimed;
        const char *nova_type;
        char alias[300]; /* Nova alias name */
};

struct inventory {
        struct entry *entries;
        size_t n;
        struct vc_host_identity host;
        char node[65]; /* short host name */
};

static int entry_compare(const void *a, const void *b) {
        const struct entry *x = a, *y = b;
        if (x->config_index != y->config_index)
                return x->config_index < y->config_index ? -1 : 1;
        return vc_pci_addr_compare(vc_pci_dev_addr(x->d), vc_pci_dev_addr(y->d));
}

static const char *nova_device_type(const struct vc_pci_dev *d) {
        struct vc_pci_addr pf;
        if (vc_pci_dev_physfn(d, &pf))
                return "type-VF";
        if (vc_pci_dev_total_vfs(d) > 0)
                return "type-PF";
        return "type-PCI";
}

/* The first device of @g whose entry's id guard does not match it, NULL if none: such a group is
 * refused whole when it is claimed (vfio-claim(8), "hardware changed"), so none of its devices
 * can be passed through. */
static const struct vc_pci_dev *group_guard_failure(const struct vc_config *c, const struct vc_group *g,
                                                    const struct vc_config_device **ret_cd) {
        for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                const struct vc_pci_dev *d = vc_group_device(g, k);
                const struct vc_config_device *cd = vc_config_match_device(c, d);
                if (cd && !vc_config_device_id_ok(cd, d)) {
                        *ret_cd = cd;
                        return d;
                }
        }
        return NULL;
}

static int inventory_collect(struct vc_cli *cli, const struct vc_topology *t, struct inventory *inv) {
        const struct vc_config *c = cli->config;

        for (size_t ci = 0; ci < c->n_devices; ci++) {
                const struct vc_config_device *cd = &c->devices[ci];
                size_t found = 0;

                for (size_t gi = 0; gi < t->n_groups; gi++) {
                        const struct vc_group *g = t->groups[gi];
                        const struct vc_config_device *bad_cd = NULL;
                        const struct vc_pci_dev *bad = group_guard_failure(c, g, &bad_cd);
                        for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                                const struct vc_pci_dev *d = vc_group_device(g, k);
                                if (vc_pci_dev_is_bridge(d) || vc_config_match_device(c, d) != cd)
                                        continue;
                                found++;
                                if (!vc_config_device_id_ok(cd, d)) {
                                        log_warning("%s (%s): its id guard does not match the device; left out (see 'vfio-claim doctor')",
                                                    vc_pci_dev_name(d), cd->name);
                                        continue;
                                }
                                if (bad) {
                                        log_warning("%s (%s): left out: IOMMU group %u cannot be claimed, the id guard of %s (%s) "
                                                    "does not match that device (see 'vfio-claim doctor')",
                                                    vc_pci_dev_name(d), cd->name, vc_group_number(g), vc_pci_dev_name(bad),
                                                    bad_cd->name);
                                        continue;
                                }
                                struct entry *n = realloc(inv->entries, (inv->n + 1) * sizeof *n);
                                if (!n)
                                        return -ENOMEM;
                                inv->entries = n;
                                inv->entries[inv->n++] = (struct entry){
                                        .config_index = ci,
                                        .cd = cd,
                                        .d = d,
                                        .group = vc_group_number(g),
                                        .claimed = vc_pci_dev_is_on_vfio(d),
                                        .nova_type = nova_device_type(d),
                                };
                        }
                }
                for (size_t k = 0; k < t->n_ungrouped; k++)
                        if (vc_config_match_device(c, t->ungrouped[k]) == cd) {
                                found++;
                                log_warning("%s (%s): in no IOMMU group, cannot be passed through; left out",
                                            vc_pci_dev_name(t->ungrouped[k]), cd->name);
                        }
                if (found == 0)
                        log_info("%s: no device on this host matches it", cd->name);
        }
        if (inv->n > 1)
                qsort(inv->entries, inv->n, sizeof *inv->entries, entry_compare);

        for (size_t i = 0; i < inv->n; i++) {
                struct entry *e = &inv->entries[i];
                /* Nova: one alias name per configured name, unless its devices differ in type. */
                bool mixed = false;
                for (size_t k = 0; k < inv->n; k++)
                        if (inv->entries[k].cd == e->cd && !streq(inv->entries[k].nova_type, e->nova_type))
                                mixed = true;
                snprintf(e->alias, sizeof e->alias, "%s%s%s", e->cd->name, mixed ? "-" : "",
                         mixed ? e->nova_type + strlen("type-") : "");
                if (mixed)
                        for (char *p = e->alias + strlen(e->cd->name); *p; p++)
                                *p = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        }
        return 0;
}

static void hex4(char buf[static 5], uint16_t v) {
        snprintf(buf, 5, "%04x", v);
}

/* A Kubernetes qualified name: 1..63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
static bool kubernetes_name_ok(const char *s) {
        size_t n = strlen(s);
#define ALNUM(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9'))
        return n >= 1 && n <= 63 && ALNUM(s[0]) && ALNUM(s[n - 1]);
#undef ALNUM
}

/* pve-configid: a letter, then letters, digits, '_' or '-'; two characters at least. */
static bool proxmox_id_ok(const char *s) {
        size_t n = strlen(s);
        if (n < 2 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* Does an earlier entry already give (@cd's) nova alias / KubeVirt selector of @i? */
static bool alias_seen(const struct inventory *inv, size_t i) {
        const struct entry *e = &inv->entries[i];
        for (size_t k = 0; k < i; k++) {
                const struct entry *o = &inv->entries[k];
                if (streq(o->alias, e->alias) && vc_pci_dev_vendor(o->d) == vc_pci_dev_vendor(e->d) &&
                    vc_pci_dev_device(o->d) == vc_pci_dev_device(e->d))
                        return true;
        }
        return false;
}

/* The first entry with @i's vendor:device; a later name for the same selector is dropped. */
static bool selector_seen(const struct inventory *inv, size_t i, bool warn) {
        const struct entry *e = &inv->entries[i];
        for (size_t k = 0; k < i; k++) {
                const struct entry *o = &inv->entries[k];
                if (vc_pci_dev_vendor(o->d) == vc_pci_dev_vendor(e->d) &&
                    vc_pci_dev_device(o->d) == vc_pci_dev_device(e->d)) {
                        if (warn && o->cd != e->cd)
                                log_warning("%s (%s): KubeVirt tells devices apart by vendor:device only; "
                                            "%04x:%04x is already exported as %s",
                                            vc_pci_dev_name(e->d), e->cd->name, vc_pci_dev_vendor(e->d),
                                            vc_pci_dev_device(e->d), o->cd->name);
                        return true;
                }
        }
        return false;
}

static int check_names(struct vc_cli *cli, const struct inventory *inv, enum format f) {
        for (size_t i = 0; i < inv->n; i++) {
                const char *name = inv->entries[i].cd->name;
                if (f == FORMAT_KUBEVIRT && !kubernetes_name_ok(name))
                        return log_error("device name \"%s\" cannot name a KubeVirt resource: it must be at most 63 "
                                         "characters and start and end with a letter or digit", name), -EINVAL;
                if (f == FORMAT_PROXMOX && !proxmox_id_ok(name))
                        return log_error("device name \"%s\" cannot be a Proxmox mapping id: it must start with a letter "
                                         "and have only letters, digits, '_' and '-' (two characters at least)", name), -EINVAL;
                /* "nic-pf" of [device nic] (a PF and its VFs) beside a [device nic-pf]: Nova refuses
                 * one alias name with two device types, and would merge two of one type */
                for (size_t k = 0; f == FORMAT_NOVA && k < i; k++) {
                        const struct entry *e = &inv->entries[i], *o = &inv->entries[k];
                        if (streq(e->alias, o->alias) && e->cd != o->cd)
                                return log_error("Nova alias \"%s\" would name the devices of both [device %s] and "
                                                 "[device %s]; rename one of them", e->alias, o->cd->name, e->cd->name),
                                       -EINVAL;
                }
        }
        if (f == FORMAT_PROXMOX && inv->n > 0 && !inv->node[0])
                return log_error("cannot tell this host's name (no kernel host name, no /etc/hostname below %s): "
                                 "Proxmox needs it as the node", vc_ctx_root(cli->ctx)), -EINVAL;
        return 0;
}

/* ---- text */

static void text_header(const struct inventory *inv, const char *what) {
        printf("# %s, from vfio-claim on host %s (machine-id %s)\n", what,
               inv->host.hostname ?: "(unknown)", inv->host.machine_id ?: "(unknown)");
}

static void print_nova(const struct inventory *inv) {
        char v[5], p[5];
        text_header(inv, "OpenStack Nova [pci]");
        printf("# device_spec: nova.conf of this compute node; alias: nova.conf of nova-api and of every\n"
               "# compute node. Add \"physical_network\" to a device_spec of a NIC that Neutron uses.\n"
               "[pci]\n");
        for (size_t i = 0; i < inv->n; i++) {
                const struct entry *e = &inv->entries[i];
                hex4(v, vc_pci_dev_vendor(e->d));
                hex4(p, vc_pci_dev_device(e->d));
                printf("device_spec = {\"vendor_id\": \"%s\", \"product_id\": \"%s\", \"address\": \"%s\"}\n", v, p,
                       vc_pci_dev_name(e->d));
        }
        for (size_t i = 0; i < inv->n; i++) {
                const struct entry *e = &inv->entries[i];
                if (alias_seen(inv, i))
                        continue;
                hex4(v, vc_pci_dev_vendor(e->d));
                hex4(p, vc_pci_dev_device(e->d));
                printf("alias = {\"name\": \"%s\", \"vendor_id\": \"%s\", \"product_id\": \"%s\", \"device_type\": \"%s\"}\n",
                       e->alias, v, p, e->nova_type);
        }
}

static void print_kubevirt(const struct inventory *inv) {
        char v[5], p[5];
        bool any = false;
        text_header(inv, "KubeVirt");
        printf("# Merge into spec.configuration of the KubeVirt CR (the same on every node).\n"
               "permittedHostDevices:\n");
        for (size_t i = 0; i < inv->n; i++) {
                const struct entry *e = &inv->entries[i];
                if (selector_seen(inv, i, true))
                        continue;
                if (!any)
                        printf("  pciHostDevices:\n");
                any = true;
                hex4(v, vc_pci_dev_vendor(e->d));
                hex4(p, vc_pci_dev_device(e->d));
                printf("  - pciVendorSelector: \"%s:%s\"\n"
                       "    resourceName: \"%s/%s\"\n"
                       "    externalResourceProvider: false\n",
                       v, p, KUBEVIRT_RESOURCE_PREFIX, e->cd->name);
        }
        if (!any)
                printf("  pciHostDevices: []\n");
}

static void proxmox_map(const struct entry *e, const char *node, char *buf, size_t size) {
        char v[5], p[5], sv[5], sp[5];
        hex4(v, vc_pci_dev_vendor(e->d));
        hex4(p, vc_pci_dev_device(e->d));
        hex4(sv, vc_pci_dev_subsystem_vendor(e->d));
        hex4(sp, vc_pci_dev_subsystem_device(e->d));
        snprintf(buf, size, "id=%s:%s,iommugroup=%u,node=%s,path=%s,subsystem-id=%s:%s", v, p, e->group, node,
                 vc_pci_dev_name(e->d), sv, sp);
}

/* pci.cfg has no comment syntax we can rely on: the stanza alone, one section per name. */
static void print_proxmox(const struct inventory *inv) {
        char buf[256];
        for (size_t i = 0; i < inv->n; i++) {
                const struct entry *e = &inv->entries[i];
                if (i == 0 || inv->entries[i - 1].cd != e->cd)
                        printf("%s%s\n", i == 0 ? "" : "\n", e->cd->name);
                proxmox_map(e, inv->node, buf, sizeof buf);
                printf("\tmap %s\n", buf);
        }
}

/* ---- JSON */

static void json_entry_ids(struct vc_json *j, const struct entry *e) {
        char v[5], p[5];
        hex4(v, vc_pci_dev_vendor(e->d));
        hex4(p, vc_pci_dev_device(e->d));
        vc_json_kv_string(j, "vendor_id", v);
        vc_json_kv_string(j, "product_id", p);
}

static int print_json(struct vc_cli *cli, const struct inventory *inv, enum format f) {
        struct vc_json *j = vc_json_new(stdout);
        char v[5], p[5], sel[10], buf[256];
        int r;

        if (!j)
                return -ENOMEM;
        vc_json_object_begin(j);
        json_host_identity(cli, j);
        vc_json_kv_string(j, "format", format_table[f]);
        vc_json_key(j, "devices");
        vc_json_array_begin(j);
        for (size_t i = 0; i < inv->n; i++) {
                const struct entry *e = &inv->entries[i];
                vc_json_object_begin(j);
                vc_json_kv_string(j, "name", e->cd->name);
                vc_json_kv_string(j, "address", vc_pci_dev_name(e->d));
                vc_json_kv_uint(j, "group", e->group);
                json_entry_ids(j, e);
                vc_json_kv_bool(j, "claimed", e->claimed);
                vc_json_object_end(j);
        }
        vc_json_array_end(j);

        vc_json_key(j, format_table[f]);
        vc_json_object_begin(j);
        switch (f) {
        case FORMAT_NOVA:
                vc_json_key(j, "device_spec");
                vc_json_array_begin(j);
                for (size_t i = 0; i < inv->n; i++) {
                        vc_json_object_begin(j);
                        json_entry_ids(j, &inv->entries[i]);
                        vc_json_kv_string(j, "address", vc_pci_dev_name(inv->entries[i].d));
                        vc_json_object_end(j);
                }
                vc_json_array_end(j);
                vc_json_key(j, "alias");
                vc_json_array_begin(j);
                for (size_t i = 0; i < inv->n; i++) {
                        if (alias_seen(inv, i))
                                continue;
                        vc_json_object_begin(j);
                        vc_json_kv_string(j, "name", inv->entries[i].alias);
                        json_entry_ids(j, &inv->entries[i]);
                        vc_json_kv_string(j, "device_type", inv->entries[i].nova_type);
                        vc_json_object_end(j);
                }
                vc_json_array_end(j);
                break;
        case FORMAT_KUBEVIRT:
                vc_json_key(j, "permittedHostDevices");
                vc_json_object_begin(j);
                vc_json_key(j, "pciHostDevices");
                vc_json_array_begin(j);
                for (size_t i = 0; i < inv->n; i++) {
                        const struct entry *e = &inv->entries[i];
                        if (selector_seen(inv, i, true))
                                continue;
                        hex4(v, vc_pci_dev_vendor(e->d));
                        hex4(p, vc_pci_dev_device(e->d));
                        snprintf(sel, sizeof sel, "%s:%s", v, p);
                        snprintf(buf, sizeof buf, "%s/%s", KUBEVIRT_RESOURCE_PREFIX, e->cd->name);
                        vc_json_object_begin(j);
                        vc_json_kv_string(j, "pciVendorSelector", sel);
                        vc_json_kv_string(j, "resourceName", buf);
                        vc_json_kv_bool(j, "externalResourceProvider", false);
                        vc_json_object_end(j);
                }
                vc_json_array_end(j);
                vc_json_object_end(j);
                break;
        case FORMAT_PROXMOX:
                vc_json_key(j, "mappings");
                vc_json_array_begin(j);
                for (size_t i = 0; i < inv->n; i++) {
                        const struct entry *e = &inv->entries[i];
                        if (i == 0 || inv->entries[i - 1].cd != e->cd) {
                                if (i > 0) {
                                        vc_json_array_end(j);
                                        vc_json_object_end(j);
                                }
                                vc_json_object_begin(j);
                                vc_json_kv_string(j, "id", e->cd->name);
                                vc_json_key(j, "map");
                                vc_json_array_begin(j);
                        }
                        /* The property string pvesh and the API take, and its fields. */
                        proxmox_map(e, inv->node, buf, sizeof buf);
                        vc_json_string(j, buf);
                }
                if (inv->n > 0) {
                        vc_json_array_end(j);
                        vc_json_object_end(j);
                }
                vc_json_array_end(j);
                break;
        case _FORMAT_MAX:
                break;
        }
        vc_json_object_end(j);
        vc_json_object_end(j);
        r = vc_json_finish(j);
        vc_json_free(j);
        return r;
}

int verb_export(struct vc_cli *cli, int argc, char **argv) {
        const struct vc_topology *t = cli->topology;
        struct inventory inv = {};
        enum format f = _FORMAT_MAX;
        int r;

        if (!cli->format)
                return log_error("export: --format nova, kubevirt or proxmox is required"), EXIT_USAGE;
        for (size_t i = 0; i < _FORMAT_MAX; i++)
                if (streq(cli->format, format_table[i]))
                        f = (enum format) i;
        if (f == _FORMAT_MAX)
                return log_error("export: unknown --format \"%s\" (nova, kubevirt or proxmox)", cli->format), EXIT_USAGE;


        r = inventory_collect(cli, t, &inv);
        if (r >= 0)
                r = vc_host_identity_read(cli->ctx, &inv.host);
        if (r < 0) {
                free(inv.entries);
                return log_error("out of memory"), EXIT_FAILED;
        }
        if (inv.host.hostname)
                snprintf(inv.node, sizeof inv.node, "%.*s", (int) strcspn(inv.host.hostname, "."), inv.host.hostname);

        r = check_names(cli, &inv, f);
        if (r >= 0) {
                for (size_t i = 0; i < inv.n; i++)
                        if (!inv.entries[i].claimed)
                                log_warning("%s (%s): not on vfio-pci now; a scheduler sees it once it is claimed "
                                            "('vfio-claim apply' claims boot = yes devices)",
                                            vc_pci_dev_name(inv.entries[i].d), inv.entries[i].cd->name);
                if (cli->json)
                        r = print_json(cli, &inv, f) < 0 ? -EIO : 0;
                else if (f == FORMAT_NOVA)
                        print_nova(&inv);
                else if (f == FORMAT_KUBEVIRT)
                        print_kubevirt(&inv);
                else
                        print_proxmox(&inv);
                if (r < 0)
                        log_error("cannot write the JSON document");
        }
        int code = r < 0 ? EXIT_FAILED : EXIT_DONE;
        free(inv.entries);
        vc_host_identity_done(&inv.host);
        if (code == EXIT_DONE && inv.n == 0)
                log_notice("no configured device is present on this host: nothing to export");
        return code;
}
