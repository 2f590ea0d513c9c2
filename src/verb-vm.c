/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* add VM DEVICE / remove VM DEVICE: put every endpoint of the device's IOMMU group into a stopped
 * domain's persistent definition, or take the whole group out, through the libvirt API.
 *
 * The definition is edited as a whole (virDomainGetXMLDesc(INACTIVE|SECURE), edit, one
 * virDomainDefineXML) rather than with one virDomainAttachDeviceFlags(AFFECT_CONFIG) per
 * function: the group appears in (or leaves) the definition in one step, so a failure never
 * leaves a GPU without its audio function; "already there" is decided on the full document (a
 * managed='yes' hostdev or an <interface type='hostdev'> counts); and removal works by address
 * without reproducing the exact device XML that virDomainDetachDeviceFlags would need. SECURE
 * keeps passwords (VNC, SPICE) that a plain dump would drop on the way back in. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "doctor.h"
#include "domain-xml.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "rom.h"
#include "sysfs.h"
#include "verb-usb.h"
#include "virt.h"


/* --json: one document whatever the outcome ("changed" empty: nothing to do). */
static int report_json(const char *vm, unsigned group, bool add, bool dry_run, const struct vc_domain *before,
                       const struct vc_pci_addr *addrs, size_t n_addrs, char **elements, bool configured,
                       const char *definition) {
        struct vc_json *j = vc_json_new(stdout);
        if (!j)
                return log_error("out of memory"), EXIT_FAILED;
        vc_json_object_begin(j);
        vc_json_kv_string(j, "vm", vm);
        vc_json_kv_uint(j, "group", group);
        vc_json_kv_string(j, "action", add ? "add" : "remove");
        vc_json_kv_bool(j, "dry_run", dry_run);
        vc_json_key(j, "changed");
        vc_json_array_begin(j);
        for (size_t i = 0; i < n_addrs; i++)
                if (vc_domain_has_hostdev(before, &addrs[i]) != add)
                        vc_json_string(j, VC_PCI_ADDR_TO_STRING(&addrs[i]));
        vc_json_array_end(j);
        vc_json_key(j, "unchanged");
        vc_json_array_begin(j);
        for (size_t i = 0; add && i < n_addrs; i++)
                if (vc_domain_has_hostdev(before, &addrs[i]))
                        vc_json_string(j, VC_PCI_ADDR_TO_STRING(&addrs[i]));
        vc_json_array_end(j);
        vc_json_key(j, "elements");
        vc_json_array_begin(j);
        for (char **e = elements; *e; e++)
                vc_json_string(j, *e);
        vc_json_array_end(j);
        vc_json_kv_bool(j, "configured", configured);
        vc_json_kv_string(j, "definition", definition);
        vc_json_object_end(j);
        int r = vc_json_finish(j);
        vc_json_free(j);
        return r < 0 ? (log_error_errno(r, "cannot write the JSON output: %m"), EXIT_FAILED) : EXIT_DONE;
}

static const struct vc_group *find_group(const struct vc_topology *t, unsigned number) {
        for (size_t i = 0; i < t->n_groups; i++)
                if (vc_group_number(t->groups[i]) == number)
                        return t->groups[i];
        return NULL;
}

static int vm_edit(struct vc_cli *cli, const char *vm, const char *device, bool add) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        _cleanup_(vc_virt_connect_closep) virConnectPtr conn = NULL;
        _cleanup_(vc_virt_domain_freep) virDomainPtr dom = NULL;
        _cleanup_free_ struct vc_pci_addr *addrs = NULL;
        _cleanup_free_ char *xml = NULL, *new_xml = NULL, *err = NULL, *after = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *before = NULL, *check = NULL;
        struct device_arg arg = {};
        size_t n_addrs = 0;
        bool configured = false;
        int r, ret;

        /* Every device: the MMIO the domain's host devices need counts those of other groups. */
        ret = cli_load_devices(cli, &t);
        if (ret != EXIT_DONE)
                return ret;
        ret = cli_resolve_device(cli, t, device, &arg);
        if (ret != EXIT_DONE)
                return ret;
        if (arg.n_groups != 1) {
                log_error("%s names %zu IOMMU groups; give a PCI address or group:N", device, arg.n_groups);
                device_arg_done(&arg);
                return EXIT_USAGE;
        }
        const struct vc_group *g = find_group(t, arg.groups[0]);
        bool named = arg.has_addr;
        struct vc_pci_addr named_addr = arg.addr;
        device_arg_done(&arg);
        if (!g)
                return log_error("%s: IOMMU group vanished", device), EXIT_FAILED;

        /* add: the endpoints (bridges never); remove: whatever of the group the domain has. */
        addrs = calloc(vc_group_n_devices(g) ?: 1, sizeof *addrs);
        if (!addrs)
                return log_error("out of memory"), EXIT_FAILED;
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *d = vc_group_device(g, i);
                if (add && vc_pci_dev_is_bridge(d))
                        continue;
                addrs[n_addrs++] = *vc_pci_dev_addr(d);
                if (!vc_pci_dev_is_bridge(d) && cli->config && vc_config_match_device(cli->config, d))
                        configured = true;
        }
        if (n_addrs == 0)
                return log_error("IOMMU group %u has no endpoint to pass through", vc_group_number(g)),
                       EXIT_FAILED;

        vc_virt_quiet();
        vc_xml_quiet(); /* libvirt's libxml2 I/O warnings would be a second, raw stderr line */
        conn = virConnectOpen(cli->connect_uri);
        if (!conn)
                return log_error("cannot connect to libvirt at %s: %s", cli->connect_uri, vc_virt_error()), EXIT_FAILED;
        dom = virDomainLookupByName(conn, vm);
        if (!dom)
                return log_error("%s: no such VM at %s: %s", vm, cli->connect_uri, vc_virt_error()), EXIT_FAILED;
        r = virDomainIsPersistent(dom);
        if (r == 0)
                return log_error("VM %s is transient: it has no definition to edit", vm), EXIT_FAILED;
        r = virDomainIsActive(dom);
        if (r < 0)
                return log_error("VM %s: cannot tell whether it runs: %s", vm, vc_virt_error()), EXIT_FAILED;
        if (r > 0)
                return log_error("VM %s is running; shut it down first (virsh shutdown %s), "
                                 "%s edits only a stopped VM", vm, vm, add ? "add" : "remove"),
                       EXIT_REFUSED;

        /* A passed-through device belongs to one VM: another definition listing the group is
         * refused (--force: only one of them can run at a time, the user knows). */
        if (add) {
                _cleanup_(vc_virt_definitions_done) struct vc_virt_definitions defs = {};
                _cleanup_strv_free_ char **users = NULL;
                _cleanup_free_ char *names = NULL;
                r = vc_virt_definitions_read(conn, &defs);
                if (r < 0)
                        return log_error("cannot list the VMs at %s to check that no other VM uses IOMMU group %u: %s",
                                         cli->connect_uri, vc_group_number(g), vc_virt_error()),
                               EXIT_FAILED;
                if (vc_virt_definitions_users(&defs, g, vm, &users) < 0)
                        return log_error("out of memory"), EXIT_FAILED;
                if (users[0] && !(names = vc_virt_names_join(users)))
                        return log_error("out of memory"), EXIT_FAILED;
                if (users[0] && !cli->force)
                        return log_error("IOMMU group %u is already in the definition of %s: a passed-through device "
                                         "belongs to one VM; take it out there first (vfio-claim remove %s %s), or run "
                                         "again with --force",
                                         vc_group_number(g), names, users[0], device),
                               EXIT_REFUSED;
                if (users[0])
                        log_warning("IOMMU group %u is also in the definition of %s; going on (--force): only one of "
                                    "them can run at a time", vc_group_number(g), names);
        }

        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
        if (!xml)
                return log_error("VM %s: cannot read its definition: %s", vm, vc_virt_error()), EXIT_FAILED;
        r = vc_domain_parse(xml, strlen(xml), &before, &err);
        if (r >= 0)
                r = vc_domain_edit_hostdevs(xml, strlen(xml), addrs, n_addrs, add, &new_xml, &changed, &err);
        if (r < 0)
                return log_error("VM %s: cannot edit its definition: %s", vm, err ? err : strerror(-r)),
                       EXIT_FAILED;

        /* The 64-bit prefetchable BARs of all its host devices must fit OVMF's 64-bit MMIO window,
         * or the guest sees a device its driver cannot initialise: add enlarges the window (see
         * vc_domain_mmio64_window() for which window which definition gets). */
        _cleanup_free_ char *mmio_element = NULL, *mmio_note = NULL;
        if (add && changed[0]) {
                _cleanup_(vc_domain_freep) struct vc_domain *next = NULL;
                if (vc_domain_parse(new_xml, strlen(new_xml), &next, NULL) >= 0) {
                        uint64_t need = vc_virt_mmio64_need(t, next), window = vc_domain_mmio64_window(next, cli_host_1g_pages(cli));
                        if (window > 0 && need > window) {
                                uint64_t mib = vc_mmio64_window_mib(need);
                                _cleanup_free_ char *fixed = NULL;
                                if (cli->no_mmio_fix)
                                        r = asprintf(&mmio_note,
                                                     "VM %s: its PCI host devices have %" PRIu64 " MiB of 64-bit prefetchable BARs, more than "
                                                     "OVMF's 64-bit MMIO window of %" PRIu64 " MiB; left as it is (--no-mmio-fix): "
                                                     "'vfio-claim doctor %s' says what to change",
                                                     vm, need >> 20, window >> 20, vm);
                                else {
                                        r = vc_domain_edit_mmio64(new_xml, strlen(new_xml), mib, &fixed, &mmio_element, &err);
                                        if (r < 0)
                                                return log_error("VM %s: cannot set its MMIO window: %s", vm,
                                                                 err ? err : strerror(-r)),
                                                       EXIT_FAILED;
                                        free(new_xml);
                                        new_xml = TAKE_PTR(fixed);
                                        r = asprintf(&mmio_note,
                                                     "VM %s: OVMF's 64-bit MMIO window set to %" PRIu64 " MiB "
                                                     "(<qemu:commandline> -fw_cfg " "opt/ovmf/X-PciMmio64Mb,string=%" PRIu64
                                                     "): its PCI host devices have %" PRIu64 " MiB of 64-bit prefetchable BARs, "
                                                     "more than the %" PRIu64 " MiB window it had",
                                                     vm, mib, mib, need >> 20, window >> 20);
                                }
                                if (r < 0)
                                        return log_error("out of memory"), EXIT_FAILED;
                        }
                }
        }

        /* --primary: the GPU of the group becomes the VM's display. */
        _cleanup_free_ char *primary_note = NULL;
        if (add && cli->primary) {
                const struct vc_pci_dev *gpu = NULL;
                for (size_t i = 0; i < vc_group_n_devices(g) && !gpu; i++)
                        if (!vc_pci_dev_is_bridge(vc_group_device(g, i)) &&
                            (vc_pci_dev_class(vc_group_device(g, i)) >> 16) == 0x03)
                                gpu = vc_group_device(g, i);
                if (!gpu)
                        return log_error("--primary: IOMMU group %u has no display controller", vc_group_number(g)),
                               EXIT_USAGE;
                _cleanup_free_ char *with_primary = NULL;
                _cleanup_strv_free_ char **more = NULL;
                r = vc_domain_edit_primary(new_xml, strlen(new_xml), vc_pci_dev_addr(gpu), &with_primary, &more, &err);
                if (r < 0)
                        return log_error("VM %s: cannot make %s its display: %s", vm, vc_pci_dev_name(gpu),
                                         err ? err : strerror(-r)),
                               EXIT_FAILED;
                size_t n = 0, m = 0;
                while (changed[n])
                        n++;
                while (more[m])
                        m++;
                char **all = realloc(changed, (n + m + 1) * sizeof *all);
                if (!all)
                        return log_error("out of memory"), EXIT_FAILED;
                changed = all;
                for (size_t i = 0; i < m; i++)
                        changed[n + i] = TAKE_PTR(more[i]);
                changed[n + m] = NULL;
                free(new_xml);
                new_xml = TAKE_PTR(with_primary);
                if (m > 0 && asprintf(&primary_note, "VM %s: its display is now %s (every <video> model 'none', its <hostdev> first)",
                                      vm, vc_pci_dev_name(gpu)) < 0)
                        return log_error("out of memory"), EXIT_FAILED;
        }

        /* --rom/--rombar: a <rom> for the device named by address, else the group's display
         * controller, else its first endpoint. The image is checked first: QEMU would fail the
         * start on a missing file, and a file without the signature is no ROM. */
        _cleanup_free_ char *rom_note = NULL;
        if (add && (cli->rom || cli->rombar)) {
                const struct vc_pci_addr *target = &addrs[0];
                bool by_name = false;
                for (size_t i = 0; named && i < n_addrs; i++)
                        if (vc_pci_addr_equal(&addrs[i], &named_addr))
                                target = &addrs[i], by_name = true;
                for (size_t i = 0; !by_name && i < vc_group_n_devices(g); i++) {
                        const struct vc_pci_dev *d = vc_group_device(g, i);
                        if (!vc_pci_dev_is_bridge(d) && (vc_pci_dev_class(d) >> 16) == 0x03) {
                                target = vc_pci_dev_addr(d);
                                break;
                        }
                }
                if (cli->rom) {
                        uint8_t head[2];
                        ssize_t k = vc_sysfs_read_bytes(cli->rom, head, sizeof head);
                        if (k < 0)
                                return log_error_errno((int) k, "--rom %s: cannot read it: %m; nothing was changed", cli->rom),
                                       EXIT_FAILED;
                        if (!vc_rom_has_signature(head, (size_t) k))
                                return log_error("--rom %s: does not start with the PCI expansion ROM signature 0x55AA, "
                                                 "not a ROM image; nothing was changed", cli->rom),
                                       EXIT_FAILED;
                }
                _cleanup_free_ char *with_rom = NULL, *element = NULL;
                r = vc_domain_edit_rom(new_xml, strlen(new_xml), target, cli->rom, cli->rombar, &with_rom, &element, &err);
                if (r < 0)
                        return log_error("VM %s: cannot give %s a <rom>: %s", vm, VC_PCI_ADDR_TO_STRING(target),
                                         err ? err : strerror(-r)),
                               EXIT_FAILED;
                size_t n = 0;
                while (changed[n])
                        n++;
                char **all = realloc(changed, (n + 2) * sizeof *all);
                if (!all)
                        return log_error("out of memory"), EXIT_FAILED;
                changed = all;
                changed[n] = TAKE_PTR(element);
                changed[n + 1] = NULL;
                free(new_xml);
                new_xml = TAKE_PTR(with_rom);
                if (asprintf(&rom_note, "VM %s: %s gets <rom%s%s%s%s%s%s/>", vm, VC_PCI_ADDR_TO_STRING(target),
                             cli->rombar ? " bar='" : "", cli->rombar ?: "", cli->rombar ? "'" : "",
                             cli->rom ? " file='" : "", cli->rom ?: "", cli->rom ? "'" : "") < 0)
                        return log_error("out of memory"), EXIT_FAILED;
        }

        if (cli->json && (!changed[0] || cli->dry_run))
                return report_json(vm, vc_group_number(g), add, cli->dry_run, before, addrs, n_addrs, changed,
                                   configured, changed[0] ? new_xml : xml);
        if (!changed[0]) {
                if (add)
                        printf("VM %s already has every endpoint of IOMMU group %u.\n", vm, vc_group_number(g));
                else
                        printf("VM %s has no device of IOMMU group %u.\n", vm, vc_group_number(g));
                return EXIT_DONE;
        }

        if (cli->dry_run) {
                printf("Would %s VM %s's definition (IOMMU group %u):\n", add ? "add to" : "remove from", vm,
                       vc_group_number(g));
                for (char **c = changed; *c; c++)
                        printf("%s\n", *c);
                if (mmio_element)
                        printf("%s\n", mmio_element);
                if (mmio_note)
                        printf("%s%s\n", cli->no_mmio_fix ? "" : "Would have: ", mmio_note);
                return EXIT_DONE;
        }

        /* The VM may have been started meanwhile: the check is repeated right before the write. */
        if (virDomainIsActive(dom) > 0)
                return log_error("VM %s was started meanwhile; nothing was changed", vm), EXIT_REFUSED;
        virDomainPtr defined = virDomainDefineXML(conn, new_xml);
        if (!defined)
                return log_error("VM %s: libvirt refused the new definition: %s; nothing was changed", vm,
                                 vc_virt_error()),
                       EXIT_FAILED;
        virDomainFree(defined);

        /* What libvirt stored, not what we sent. */
        after = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        if (!after || vc_domain_parse(after, strlen(after), &check, NULL) < 0)
                return log_error("VM %s: cannot read back its definition: %s", vm, vc_virt_error()), EXIT_FAILED;
        for (size_t i = 0; i < n_addrs; i++)
                if (vc_domain_has_hostdev(check, &addrs[i]) != add)
                        return log_error("VM %s: libvirt's stored definition %s %s", vm,
                                         add ? "lacks" : "still has", VC_PCI_ADDR_TO_STRING(&addrs[i])),
                               EXIT_FAILED;
        if (mmio_element && vc_domain_mmio64_window(check, cli_host_1g_pages(cli)) < vc_virt_mmio64_need(t, check)) {
                /* libvirt's test driver, for one, drops the QEMU namespace. */
                log_warning("VM %s: libvirt at %s did not keep the <qemu:commandline> that sets OVMF's 64-bit MMIO "
                            "window; add it by hand ('vfio-claim doctor %s' shows it)", vm, cli->connect_uri, vm);
                free(mmio_note);
                mmio_note = NULL;
        }

        if (cli->json)
                return report_json(vm, vc_group_number(g), add, false, before, addrs, n_addrs, changed, configured,
                                   after);
        size_t n_moved = 0;
        for (size_t i = 0; i < n_addrs; i++)
                n_moved += vc_domain_has_hostdev(before, &addrs[i]) != add;
        if (n_moved == 0) /* only --rom/--rombar changed something */
                printf("VM %s already has every endpoint of IOMMU group %u.", vm, vc_group_number(g));
        else
                printf("VM %s, IOMMU group %u: %s", vm, vc_group_number(g), add ? "added" : "removed");
        for (size_t i = 0; i < n_addrs; i++)
                if (vc_domain_has_hostdev(before, &addrs[i]) != add)
                        printf(" %s", VC_PCI_ADDR_TO_STRING(&addrs[i]));
        if (add && n_moved > 0) {
                bool any = false;
                for (size_t i = 0; i < n_addrs; i++)
                        if (vc_domain_has_hostdev(before, &addrs[i])) {
                                printf("%s %s", any ? "" : "; already there:", VC_PCI_ADDR_TO_STRING(&addrs[i]));
                                any = true;
                        }
        }
        printf("\n");
        for (char **c = changed; cli->verbose && *c; c++)
                printf("%s\n", *c);
        if (mmio_note)
                printf("%s\n", mmio_note);
        if (primary_note)
                printf("%s\n", primary_note);
        if (rom_note)
                printf("%s\n", rom_note);
        if (add && !configured)
                printf("The group is not in the configuration: run 'vfio-claim enable %s' so that it is\n"
                       "claimed when the VM starts (libvirt does not move managed='no' devices itself).\n",
                       device);
        return EXIT_DONE;
}

int verb_add(struct vc_cli *cli, int argc, char **argv) {
        int r = cli_load_config(cli);
        if (r == EXIT_DONE && usb_arg_is_usb(cli, argv[1]))
                return usb_vm_edit(cli, argv[0], argv[1], true);
        if (r == EXIT_DONE && cli->startup_policy)
                return log_error("--startup-policy is for USB devices; %s is not one", argv[1]), EXIT_USAGE;
        return r != EXIT_DONE ? r : vm_edit(cli, argv[0], argv[1], true);
}

int verb_remove(struct vc_cli *cli, int argc, char **argv) {
        int r = cli_load_config(cli);
        if (r == EXIT_DONE && usb_arg_is_usb(cli, argv[1]))
                return usb_vm_edit(cli, argv[0], argv[1], false);
        return r != EXIT_DONE ? r : vm_edit(cli, argv[0], argv[1], false);
}

/* rom DEVICE FILE: the expansion ROM of one PCI function, read through sysfs (lib/rom.h), saved
 * to FILE for <rom file=...> (add --rom). Not while a VM holds the device: the guest's driver owns
 * it then, and enabling the ROM decoding under it is a change it does not expect. */
int verb_rom(struct vc_cli *cli, int argc, char **argv) {
        _cleanup_(vc_topology_freep) struct vc_topology *t = NULL;
        _cleanup_free_ uint8_t *image = NULL;
        struct device_arg arg = {};
        const char *device = argv[0], *file = argv[1];
        size_t len = 0;
        int r, ret;

        if (isempty(file) || strlen(file) >= 4096)
                return log_error("rom: \"%s\" is not a file name", file), EXIT_USAGE;
        ret = cli_load_devices_for(cli, device, &t);
        if (ret != EXIT_DONE)
                return ret;
        ret = cli_resolve_device(cli, t, device, &arg);
        if (ret != EXIT_DONE)
                return ret;
        bool has_addr = arg.has_addr;
        struct vc_pci_addr addr = arg.addr;
        unsigned group = arg.n_groups == 1 ? arg.groups[0] : 0;
        size_t n_groups = arg.n_groups;
        device_arg_done(&arg);
        if (!has_addr)
                return log_error("rom: give the PCI address of one function (such as 0000:01:00.0), not %s", device),
                       EXIT_USAGE;
        const char *name = VC_PCI_ADDR_TO_STRING(&addr);

        const char *owner = n_groups == 1 ? cli_group_owner(cli, group) : NULL;
        if (owner)
                return log_error("%s: IOMMU group %u is held by VM \"%s\"; its ROM is read only while no VM uses "
                                 "the device: shut the VM down first",
                                 name, group, owner),
                       EXIT_REFUSED;
        if (!cli->force && vc_path_exists(file))
                return log_error("%s exists; give --force to replace it", file), EXIT_FAILED;

        r = vc_rom_read(cli->ctx, &addr, &image, &len);
        if (r == -ENOENT)
                return log_error("%s has no expansion ROM (no \"rom\" attribute: the device has no ROM BAR)", name),
                       EXIT_FAILED;
        if (r == -EIO)
                return log_error("%s: the kernel found no valid ROM image: it reads a ROM only when the image starts "
                                 "with the signature 0x55AA ('dmesg' says what it found); nothing written to %s",
                                 name, file),
                       EXIT_FAILED;
        if (r < 0)
                return log_error_errno(r, "%s: cannot read its ROM: %m; nothing written to %s", name, file), EXIT_FAILED;
        if (!vc_rom_has_signature(image, len))
                return log_error("%s: its ROM does not start with the signature 0x55AA (it starts with 0x%02X%02X): "
                                 "not a valid expansion ROM image; nothing written to %s",
                                 name, image[0], len > 1 ? image[1] : 0, file),
                       EXIT_FAILED;

        r = vc_write_bytes_atomic(file, image, len, 0644, cli->force ? VC_WRITE_REPLACE : 0);
        if (r == -EEXIST)
                return log_error("%s exists; give --force to replace it", file), EXIT_FAILED;
        if (r < 0)
                return log_error_errno(r, "cannot write %s: %m", file), EXIT_FAILED;

        if (cli->json) {
                struct vc_json *j = vc_json_new(stdout);
                if (!j)
                        return log_error("out of memory"), EXIT_FAILED;
                vc_json_object_begin(j);
                vc_json_kv_string(j, "device", name);
                vc_json_kv_string(j, "file", file);
                vc_json_kv_uint(j, "size", len);
                vc_json_object_end(j);
                r = vc_json_finish(j);
                vc_json_free(j);
                return r < 0 ? (log_error_errno(r, "cannot write the JSON output: %m"), EXIT_FAILED) : EXIT_DONE;
        }
        printf("%s: ROM of %zu bytes saved to %s\n", name, len, file);
        return EXIT_DONE;
}
