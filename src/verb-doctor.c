/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* vfio-claim doctor [DEVICE|VM]: the library's host and device checks, plus, for a libvirt domain,
 * the checks of its definition (machine type, firmware, complete groups, NVIDIA's hidden state). */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "doctor.h"
#include "log.h"
#include "output.h"
#include "rom.h"
#include "sysfs.h"
#include "virt.h"
#include "xml-load.h"

static void xmlFreeDocp(xmlDocPtr *d) {
        if (*d)
                xmlFreeDoc(*d);
}
static void xmlXPathFreeContextp(xmlXPathContextPtr *c) {
        if (*c)
                xmlXPathFreeContext(*c);
}
static void xmlXPathFreeObjectp(xmlXPathObjectPtr *o) {
        if (*o)
                xmlXPathFreeObject(*o);
}
static void xmlFreep(xmlChar **p) {
        vc_xml_free(*p);
}

static int add_finding(struct vc_doctor_report *r, const char *check, enum vc_doctor_level level,
                       const char *device, char *finding, char *fix) {
        _cleanup_free_ char *f = finding, *x = fix;
        if (!f)
                return -ENOMEM;
        return vc_doctor_report_add(r, check, level, device, f, x);
}

static char *fmt(const char *f, ...) _printf_(1, 2);
static char *fmt(const char *f, ...) {
        va_list ap;
        char *s;
        va_start(ap, f);
        int r = vasprintf(&s, f, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

static char *xpath_string(xmlXPathContextPtr x, const char *expr) {
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *) expr, x);
        if (!o || o->type != XPATH_STRING || !o->stringval || !o->stringval[0])
                return NULL;
        return strdup((const char *) o->stringval);
}

static unsigned long attr_number(xmlNodePtr n, const char *name, bool *ok) {
        _cleanup_(xmlFreep) xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
        if (!v) {
                *ok = false;
                return 0;
        }
        char *end;
        errno = 0;
        unsigned long x = strtoul((const char *) v, &end, 0);
        if (errno || *end || end == (char *) v)
                *ok = false;
        return x;
}

struct vm {
        char *name;
        char *machine;
        bool efi;
        bool kvm_hidden;
        struct vc_pci_addr *hostdevs;
        size_t n_hostdevs;
        struct vc_domain *dom; /* the same definition through domain-xml.c: the MMIO window */
        char **rom_files;      /* every <hostdev type='pci'><rom file=...>, document order */
        size_t n_rom_files;
};

static void vm_done(struct vm *v) {
        free(v->name);
        free(v->machine);
        free(v->hostdevs);
        vc_domain_free(v->dom);
        for (size_t i = 0; i < v->n_rom_files; i++)
                free(v->rom_files[i]);
        free(v->rom_files);
}

/* Read the domain's definition through libvirt: 0, -ENOENT when there is no such domain (or no
 * connection: then *ret_error says why). */
static int vm_read(const char *uri, const char *name, struct vm *ret, char **ret_error) {
        vc_virt_quiet();
        _cleanup_(vc_virt_connect_closep) virConnectPtr conn = virConnectOpenReadOnly(uri);
        if (!conn) {
                *ret_error = fmt("cannot connect to %s: %s", uri, virGetLastErrorMessage());
                return -ECONNREFUSED;
        }
        _cleanup_(vc_virt_domain_freep) virDomainPtr dom = virDomainLookupByName(conn, name);
        if (!dom)
                return -ENOENT;
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, 0);
        if (!xml) {
                *ret_error = fmt("cannot read the definition of %s: %s", name, virGetLastErrorMessage());
                return -EIO;
        }
        if (vc_xml_load() < 0) {
                *ret_error = fmt("cannot read the definition of %s: %s", name, vc_xml_load_error());
                return -ELIBACC;
        }
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL,
                                                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return -EBADMSG;
        _cleanup_(xmlXPathFreeContextp) xmlXPathContextPtr x = xmlXPathNewContext(doc);
        if (!x)
                return -ENOMEM;

        struct vm v = { .name = strdup(name) };
        v.machine = xpath_string(x, "string(/domain/os/type/@machine)");
        _cleanup_free_ char *fw = xpath_string(x, "string(/domain/os/@firmware)");
        _cleanup_free_ char *loader_type = xpath_string(x, "string(/domain/os/loader/@type)");
        _cleanup_free_ char *loader = xpath_string(x, "string(/domain/os/loader)");
        v.efi = streq_ptr(fw, "efi") || streq_ptr(loader_type, "pflash") ||
                (loader && (strstr(loader, "OVMF") || strstr(loader, "edk2") || strstr(loader, "ovmf")));
        _cleanup_free_ char *hidden = xpath_string(x, "string(/domain/features/kvm/hidden/@state)");
        v.kvm_hidden = streq_ptr(hidden, "on");

        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr hd = xmlXPathEvalExpression(
                (const xmlChar *) "/domain/devices/hostdev[@mode='subsystem' and @type='pci']/source/address", x);
        size_t n = hd && hd->nodesetval ? (size_t) hd->nodesetval->nodeNr : 0;
        v.hostdevs = calloc(n + 1, sizeof *v.hostdevs);
        if (!v.name || !v.hostdevs) {
                vm_done(&v);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                xmlNodePtr a = hd->nodesetval->nodeTab[i];
                bool ok = true;
                unsigned long dom_ = attr_number(a, "domain", &ok), bus = attr_number(a, "bus", &ok),
                              slot = attr_number(a, "slot", &ok), fn = attr_number(a, "function", &ok);
                if (!ok || dom_ > 0xffff || bus > 0xff || slot > 0x1f || fn > 7)
                        continue;
                v.hostdevs[v.n_hostdevs++] = (struct vc_pci_addr){ (uint16_t) dom_, (uint8_t) bus, (uint8_t) slot, (uint8_t) fn };
        }
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr roms = xmlXPathEvalExpression(
                (const xmlChar *) "/domain/devices/hostdev[@mode='subsystem' and @type='pci']/rom/@file", x);
        size_t nr = roms && roms->nodesetval ? (size_t) roms->nodesetval->nodeNr : 0;
        v.rom_files = calloc(nr + 1, sizeof *v.rom_files);
        if (!v.rom_files) {
                vm_done(&v);
                return -ENOMEM;
        }
        for (size_t i = 0; i < nr; i++) {
                _cleanup_(xmlFreep) xmlChar *f = xmlNodeGetContent(roms->nodesetval->nodeTab[i]);
                if (!f || !f[0])
                        continue;
                if (!(v.rom_files[v.n_rom_files] = strdup((const char *) f))) {
                        vm_done(&v);
                        return -ENOMEM;
                }
                v.n_rom_files++;
        }
        if (vc_domain_parse(xml, strlen(xml), &v.dom, NULL) < 0)
                v.dom = NULL;
        *ret = v;
        return 0;
}

static const struct vc_pci_dev *topo_find(const struct vc_topology *t, const struct vc_pci_addr *a) {
        const struct vc_group *g = vc_topology_find_group(t, a);
        for (size_t i = 0; g && i < vc_group_n_devices(g); i++)
                if (vc_pci_addr_equal(vc_pci_dev_addr(vc_group_device(g, i)), a))
                        return vc_group_device(g, i);
        for (size_t i = 0; i < t->n_ungrouped; i++)
                if (vc_pci_addr_equal(vc_pci_dev_addr(t->ungrouped[i]), a))
                        return t->ungrouped[i];
        return NULL;
}

static bool vm_has(const struct vm *v, const struct vc_pci_addr *a) {
        for (size_t i = 0; i < v->n_hostdevs; i++)
                if (vc_pci_addr_equal(&v->hostdevs[i], a))
                        return true;
        return false;
}

/* Each <rom file=...>: QEMU opens it as the user libvirt runs it as, so the file must exist, be
 * readable by that user (judged from the mode bits of the file and of every directory above it:
 * this runs as root, for whom access(2) says yes to everything) and hold a ROM image. */
static int rom_checks(struct vc_cli *cli, const struct vm *v, struct vc_doctor_report *rep) {
        _cleanup_free_ char *user = NULL, *group = NULL, *who = NULL;
        struct vc_identity id = {};
        bool from_config = false;
        int r, known;

        if (v->n_rom_files == 0)
                return 0;
        r = vc_qemu_user(cli->ctx, &user, &group, &from_config);
        if (r < 0)
                return r;
        known = vc_identity_resolve(user, group, &id);
        if (asprintf(&who, "%s%s%s (%s)", user, group ? ":" : "", group ? group : "",
                     from_config ? "user = in /etc/libvirt/qemu.conf" : "libvirt's default on Debian; /etc/libvirt/qemu.conf sets no user") < 0) {
                vc_identity_done(&id);
                return -ENOMEM;
        }
        for (size_t i = 0; i < v->n_rom_files && r >= 0; i++) {
                const char *file = v->rom_files[i];
                _cleanup_free_ char *path = NULL, *blocker = NULL;
                uint8_t head[2];
                if (file[0] != '/') {
                        r = add_finding(rep, "vm-rom", VC_DOCTOR_FAIL, NULL,
                                        fmt("VM %s: ROM file '%s' is not an absolute path", v->name, file),
                                        strdup("give <rom file=...> an absolute path"));
                        continue;
                }
                r = vc_ctx_path(cli->ctx, VC_PLACE_ROOT, &path, "%s", file + 1);
                if (r < 0)
                        break;
                ssize_t k = vc_sysfs_read_bytes(path, head, sizeof head);
                if (k == -ENOENT) {
                        r = add_finding(rep, "vm-rom", VC_DOCTOR_FAIL, NULL,
                                        fmt("VM %s: ROM file %s does not exist: QEMU fails to start the VM", v->name, file),
                                        strdup("save the device's ROM there with 'vfio-claim rom DEVICE FILE', or correct <rom file=...>"));
                        continue;
                }
                if (k < 0) {
                        r = add_finding(rep, "vm-rom", VC_DOCTOR_FAIL, NULL,
                                        fmt("VM %s: ROM file %s cannot be read: %s", v->name, file, strerror((int) -k)),
                                        strdup("make it a readable regular file"));
                        continue;
                }
                if (!vc_rom_has_signature(head, (size_t) k)) {
                        r = add_finding(rep, "vm-rom", VC_DOCTOR_FAIL, NULL,
                                        fmt("VM %s: ROM file %s does not start with the PCI expansion ROM signature 0x55AA: it is not a ROM image, and the guest's firmware ignores it",
                                            v->name, file),
                                        strdup("use an image saved with 'vfio-claim rom DEVICE FILE' (a dump with a header before 0x55AA must be cut to start there)"));
                        continue;
                }
                if (known < 0) {
                        r = add_finding(rep, "vm-rom", VC_DOCTOR_WARN, NULL,
                                        fmt("VM %s: ROM file %s: cannot tell whether QEMU's user %s can read it: %s", v->name, file, who,
                                            known == -ESRCH ? "no such user or group on this host" : strerror(-known)),
                                        NULL);
                        continue;
                }
                int ok = vc_path_readable_by(path, &id, &blocker);
                if (ok < 0)
                        r = add_finding(rep, "vm-rom", VC_DOCTOR_WARN, NULL,
                                        fmt("VM %s: ROM file %s: cannot check its permissions: %s", v->name, file, strerror(-ok)), NULL);
                else if (ok == 0)
                        r = add_finding(rep, "vm-rom", VC_DOCTOR_FAIL, NULL,
                                        fmt("VM %s: ROM file %s is not readable by %s, the user QEMU runs as: %s%s", v->name, file, who,
                                            streq(blocker, file) ? "the file's mode does not let it read" : "it cannot enter ",
                                            streq(blocker, file) ? "" : blocker),
                                        fmt("chmod o+r %s (and o+x on every directory above it), or keep ROM files in a directory QEMU can read such as /usr/share/vgabios", file));
                else
                        r = add_finding(rep, "vm-rom", VC_DOCTOR_OK, NULL,
                                        fmt("VM %s: ROM file %s starts with 0x55AA and is readable by %s", v->name, file, user), NULL);
        }
        vc_identity_done(&id);
        return r < 0 ? r : 0;
}

static int vm_checks(struct vc_cli *cli, const struct vc_topology *t, const struct vm *v, struct vc_doctor_report *rep) {
        bool gpu = false, nvidia_geforce = false;
        struct vc_pci_addr gpu_addr = {};
        int r;

        for (size_t i = 0; i < v->n_hostdevs; i++) {
                const struct vc_pci_dev *d = topo_find(t, &v->hostdevs[i]);
                if (!d)
                        continue;
                if ((vc_pci_dev_class(d) >> 16) == 0x03) {
                        if (!gpu)
                                gpu_addr = *vc_pci_dev_addr(d);
                        gpu = true;
                        if (vc_pci_dev_vendor(d) == 0x10de && (vc_pci_dev_class(d) >> 8) == 0x0300) {
                                _cleanup_free_ char *desc = device_description(cli, d);
                                /* Data-centre cards (Tesla, A100, ...) never had the check; without a
                                 * name, assume a consumer card. */
                                if (isempty(desc) || strstr(desc, "GeForce") || strstr(desc, "TITAN") || strstr(desc, "Quadro"))
                                        nvidia_geforce = true;
                        }
                }
        }

        if (v->machine && strstr(v->machine, "q35"))
                r = add_finding(rep, "vm-machine", VC_DOCTOR_OK, NULL, fmt("VM %s: machine type %s (PCIe)", v->name, v->machine), NULL);
        else
                r = add_finding(rep, "vm-machine", VC_DOCTOR_WARN, NULL,
                                fmt("VM %s: machine type %s is not q35: passed-through PCIe devices sit on a conventional PCI bus, and GPU drivers expect PCIe",
                                    v->name, v->machine ? v->machine : "(unknown)"),
                                strdup("define the VM with the q35 machine type (virt-install --machine q35, or <type machine='q35'> in <os>)"));
        if (r < 0)
                return r;

        if (gpu)
                r = add_finding(rep, "vm-firmware", v->efi ? VC_DOCTOR_OK : VC_DOCTOR_WARN, NULL,
                                v->efi ? fmt("VM %s: UEFI firmware (OVMF), as a passed-through GPU needs", v->name)
                                       : fmt("VM %s: legacy BIOS firmware with a passed-through GPU: current GPUs initialise through their UEFI (GOP) ROM, and their legacy ROM often fails in a VM", v->name),
                                v->efi ? NULL : strdup("use UEFI firmware: <os firmware='efi'> in the domain XML (a new VM: virt-install --boot uefi)"));
        if (r < 0)
                return r;

        /* Every endpoint of every group the VM uses must be in the VM, or vfio-claim must claim the
         * group (a configured device in it): otherwise the group is not viable and QEMU fails. */
        bool complete = true;
        for (size_t i = 0; i < v->n_hostdevs; i++) {
                const struct vc_group *g = vc_topology_find_group(t, &v->hostdevs[i]);
                if (!g) {
                        complete = false;
                        r = add_finding(rep, "vm-groups", VC_DOCTOR_FAIL, VC_PCI_ADDR_TO_STRING(&v->hostdevs[i]),
                                        fmt("VM %s uses %s, which %s", v->name, VC_PCI_ADDR_TO_STRING(&v->hostdevs[i]),
                                            topo_find(t, &v->hostdevs[i]) ? "is in no IOMMU group" : "is not present on this host"),
                                        strdup("remove the <hostdev> or fix its address (vfio-claim list shows what is present)"));
                        if (r < 0)
                                return r;
                        continue;
                }
                bool configured = false;
                for (size_t k = 0; cli->config && k < vc_group_n_devices(g); k++)
                        configured |= vc_config_match_device(cli->config, vc_group_device(g, k)) != NULL;
                _cleanup_free_ char *missing = NULL;
                for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *d = vc_group_device(g, k);
                        if (vc_pci_dev_is_bridge(d) || vm_has(v, vc_pci_dev_addr(d)))
                                continue;
                        char *m = fmt("%s%s%s", missing ? missing : "", missing ? ", " : "", vc_pci_dev_name(d));
                        if (!m)
                                return -ENOMEM;
                        free(missing);
                        missing = m;
                }
                /* one finding per group */
                bool first = true;
                for (size_t k = 0; k < i; k++)
                        first &= vc_topology_find_group(t, &v->hostdevs[k]) != g;
                if (!missing || configured || !first)
                        continue;
                complete = false;
                r = add_finding(rep, "vm-groups", VC_DOCTOR_FAIL, VC_PCI_ADDR_TO_STRING(&v->hostdevs[i]),
                                fmt("VM %s uses IOMMU group %u only in part: %s %s not in the VM and no configured device claims the group, so QEMU finds the group not viable",
                                    v->name, vc_group_number(g), missing, strchr(missing, ',') ? "are" : "is"),
                                fmt("vfio-claim add %s %s (adds every endpoint of the group), or configure the device in vfio-claim.conf", v->name,
                                    VC_PCI_ADDR_TO_STRING(&v->hostdevs[i])));
                if (r < 0)
                        return r;
        }
        if (complete) {
                r = add_finding(rep, "vm-groups", VC_DOCTOR_OK, NULL,
                                fmt("VM %s: %zu PCI host device%s, every IOMMU group complete or claimed by vfio-claim", v->name,
                                    v->n_hostdevs, v->n_hostdevs == 1 ? "" : "s"),
                                NULL);
                if (r < 0)
                        return r;
        }

        /* A passed-through GPU next to an emulated display: the guest's firmware and OS show
         * their output on the emulated one, and the GPU's monitor stays dark. */
        if (gpu && v->dom && v->dom->emulated_display) {
                r = add_finding(rep, "vm-display", VC_DOCTOR_WARN, NULL,
                                fmt("VM %s: a passed-through GPU next to an emulated display: the firmware and the guest show their output on the emulated one",
                                    v->name),
                                fmt("vfio-claim add --primary %s %s (sets every <video> model to 'none'), unless the emulated display is wanted",
                                    v->name, VC_PCI_ADDR_TO_STRING(&gpu_addr)));
                if (r < 0)
                        return r;
        } else if (gpu && v->dom)
                r = add_finding(rep, "vm-display", VC_DOCTOR_OK, NULL,
                                fmt("VM %s: no emulated display next to the passed-through GPU", v->name), NULL);
        if (r < 0)
                return r;

        /* The 64-bit prefetchable BARs of all host devices together against the window. */
        if (v->dom && v->n_hostdevs > 0) {
                uint64_t need = vc_virt_mmio64_need(t, v->dom), window = vc_domain_mmio64_window(v->dom, cli_host_1g_pages(cli));
                if (window == 0)
                        r = add_finding(rep, "vm-mmio", VC_DOCTOR_OK, NULL,
                                        fmt("VM %s: %" PRIu64 " MiB of 64-bit prefetchable BARs; SeaBIOS places them above the guest's RAM, with no fixed window",
                                            v->name, need >> 20),
                                        NULL);
                else if (need <= window)
                        r = add_finding(rep, "vm-mmio", VC_DOCTOR_OK, NULL,
                                        fmt("VM %s: %" PRIu64 " MiB of 64-bit prefetchable BARs fit OVMF's 64-bit MMIO window of %" PRIu64 " MiB",
                                            v->name, need >> 20, window >> 20),
                                        NULL);
                else {
                        uint64_t mib = vc_mmio64_window_mib(need);
                        /* lib/domain-xml.h: without 1 GiB pages OVMF counts 40 address bits */
                        bool no_1g = !v->dom->fw_cfg_mmio64_mib && v->dom->maxphysaddr_bits > 40 &&
                                     !vc_domain_has_1g_pages(v->dom, cli_host_1g_pages(cli));
                        r = add_finding(rep, "vm-mmio", VC_DOCTOR_FAIL, NULL,
                                        fmt("VM %s: its PCI host devices have %" PRIu64 " MiB of 64-bit prefetchable BARs, more than OVMF's 64-bit MMIO window of %" PRIu64 " MiB%s: the guest sees them but their drivers fail to initialise them",
                                            v->name, need >> 20, window >> 20,
                                            no_1g ? " (its CPU has no 1 GiB pages, pdpe1gb, so OVMF uses 40 of its address bits)" : ""),
                                        fmt("a window of %" PRIu64 " MiB: in the domain XML add <qemu:commandline><qemu:arg value='-fw_cfg'/><qemu:arg value='opt/ovmf/X-PciMmio64Mb,string=%" PRIu64 "'/></qemu:commandline> (xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' on <domain>); 'vfio-claim add' writes it",
                                            mib, mib));
                }
                if (r < 0)
                        return r;
        }

        r = rom_checks(cli, v, rep);
        if (r < 0)
                return r;

        if (nvidia_geforce && !v->kvm_hidden)
                r = add_finding(rep, "vm-nvidia", VC_DOCTOR_WARN, NULL,
                                fmt("VM %s: an NVIDIA consumer GPU without hidden KVM state: GeForce drivers older than 465 stop with error 43 when they see a hypervisor", v->name),
                                strdup("with an older guest driver add <kvm><hidden state='on'/></kvm> to <features> in the domain XML; drivers 465 and newer need nothing"));
        return r < 0 ? r : 0;
}

static int print_report(struct vc_cli *cli, const struct vc_doctor_report *rep) {
        if (cli->json) {
                struct vc_json *j = vc_json_new(stdout);
                if (!j)
                        return log_error("out of memory"), -ENOMEM;
                vc_json_object_begin(j);
                vc_json_key(j, "findings");
                vc_json_array_begin(j);
                for (size_t i = 0; i < rep->n_findings; i++) {
                        const struct vc_finding *f = &rep->findings[i];
                        vc_json_object_begin(j);
                        vc_json_kv_string(j, "check", f->check);
                        vc_json_kv_string(j, "level", vc_doctor_level_to_string(f->level));
                        vc_json_kv_string(j, "device", f->device);
                        vc_json_kv_string(j, "finding", f->finding);
                        vc_json_kv_string(j, "fix", f->fix);
                        vc_json_object_end(j);
                }
                vc_json_array_end(j);
                vc_json_key(j, "summary");
                vc_json_object_begin(j);
                vc_json_kv_uint(j, "ok", rep->count[VC_DOCTOR_OK]);
                vc_json_kv_uint(j, "warn", rep->count[VC_DOCTOR_WARN]);
                vc_json_kv_uint(j, "fail", rep->count[VC_DOCTOR_FAIL]);
                vc_json_kv_uint(j, "skip", rep->count[VC_DOCTOR_SKIP]);
                vc_json_object_end(j);
                vc_json_object_end(j);
                int r = vc_json_finish(j);
                vc_json_free(j);
                if (r < 0)
                        return log_error_errno(r, "cannot write the JSON document: %m");
                return 0;
        }
        for (size_t i = 0; i < rep->n_findings; i++) {
                const struct vc_finding *f = &rep->findings[i];
                printf("%-4s  %s\n", vc_doctor_level_to_string(f->level), f->finding);
                if (f->fix)
                        printf("      fix: %s\n", f->fix);
        }
        printf("\n%u ok, %u warn, %u fail", rep->count[VC_DOCTOR_OK], rep->count[VC_DOCTOR_WARN], rep->count[VC_DOCTOR_FAIL]);
        if (rep->count[VC_DOCTOR_SKIP])
                printf(", %u skipped", rep->count[VC_DOCTOR_SKIP]);
        printf("\n");
        return 0;
}

static bool looks_like_device(struct vc_cli *cli, const char *arg) {
        struct vc_pci_addr a;
        return vc_pci_addr_parse(arg, &a) >= 0 || startswith(arg, "group:") ||
               (cli->config && vc_config_find_device(cli->config, arg));
}

static const char *critical_reason(void *userdata, const struct vc_pci_addr *addr) {
        return cli_critical_reason(userdata, addr);
}

static const struct vc_critical_set *critical_set(void *userdata) {
        return cli_critical_set(userdata);
}

int verb_doctor(struct vc_cli *cli, int argc, char **argv) {
        const struct vc_topology *t = cli->topology;
        _cleanup_(vc_doctor_report_freep) struct vc_doctor_report *rep = vc_doctor_report_new();
        _cleanup_free_ struct vc_pci_addr *targets = NULL;
        size_t n_targets = 0;
        struct vm vm = {};
        bool is_vm = false;
        int r;

        if (!rep)
                return log_error("out of memory"), EXIT_FAILED;
        /* An invalid configuration is a finding: doctor goes on without it. */
        for (size_t i = 0; i < cli->n_config_errors; i++)
                if (vc_doctor_report_add(rep, "config", VC_DOCTOR_FAIL, NULL, cli->config_errors[i],
                                         "correct the configuration ('vfio-claim check-config' lists every error); "
                                         "until then nothing is claimed at boot or by the hook") < 0)
                        return log_error("out of memory"), EXIT_FAILED;

        size_t n_all = t->n_ungrouped;
        for (size_t i = 0; i < t->n_groups; i++)
                n_all += vc_group_n_devices(t->groups[i]);
        targets = calloc(n_all + 1, sizeof *targets);
        if (!targets)
                return log_error("out of memory"), EXIT_FAILED;

        if (argc > 0 && looks_like_device(cli, argv[0])) {
                struct vc_pci_addr a;
                if (vc_pci_addr_parse(argv[0], &a) >= 0) {
                        /* Not through cli_resolve_device(): without an IOMMU the device has no group,
                         * and that is exactly what doctor should explain. */
                        if (!topo_find(t, &a))
                                return log_error("%s: no such PCI device", VC_PCI_ADDR_TO_STRING(&a)), EXIT_FAILED;
                        targets[n_targets++] = a;
                } else {
                        struct device_arg arg;
                        r = cli_resolve_device(cli, t, argv[0], &arg);
                        if (r != EXIT_DONE)
                                return r;
                        for (size_t i = 0; i < t->n_groups; i++) {
                                const struct vc_group *g = t->groups[i];
                                bool wanted = false;
                                for (size_t k = 0; k < arg.n_groups; k++)
                                        wanted |= arg.groups[k] == vc_group_number(g);
                                for (size_t k = 0; wanted && k < vc_group_n_devices(g); k++) {
                                        const struct vc_pci_dev *d = vc_group_device(g, k);
                                        if (vc_pci_dev_is_bridge(d))
                                                continue;
                                        if (arg.config_device && vc_config_match_device(cli->config, d) != arg.config_device)
                                                continue;
                                        targets[n_targets++] = *vc_pci_dev_addr(d);
                                }
                        }
                        device_arg_done(&arg);
                }
        } else if (argc > 0) {
                _cleanup_free_ char *err = NULL;
                r = vm_read(cli->connect_uri, argv[0], &vm, &err);
                if (r < 0 && cli->config_invalid)
                        /* it may be a device name of the configuration doctor went on without */
                        return log_error("%s: not a libvirt domain at %s, and the configuration in %s that could name a "
                                         "device is invalid (errors above); name the device by its address or group:N",
                                         argv[0], cli->connect_uri, cli->config_dir), EXIT_CONFIG;
                if (r == -ENOENT)
                        return log_error("%s: not a PCI address, group:N, configured device or libvirt domain (%s)", argv[0],
                                         cli->connect_uri), EXIT_USAGE;
                if (r < 0)
                        return log_error("%s: %s", argv[0], err ? err : strerror(-r)), EXIT_FAILED;
                is_vm = true;
                for (size_t i = 0; i < vm.n_hostdevs && n_targets < n_all; i++)
                        if (topo_find(t, &vm.hostdevs[i]))
                                targets[n_targets++] = vm.hostdevs[i];
        }

        struct vc_doctor_opts opts = {
                .config = cli->config,
                .targets = targets,
                .n_targets = n_targets,
                .explicit_targets = argc > 0,
                .critical = critical_reason,
                .critical_set = critical_set,
                .critical_userdata = cli,
                .topology = t,
        };
        r = vc_doctor_run(cli->ctx, &opts, rep);
        if (r >= 0 && is_vm)
                r = vm_checks(cli, t, &vm, rep);
        vm_done(&vm);
        if (r < 0)
                return log_error_errno(r, "doctor: %m"), EXIT_FAILED;
        if (print_report(cli, rep) < 0)
                return EXIT_FAILED;
        return rep->count[VC_DOCTOR_FAIL] > 0 ? EXIT_FAILED : EXIT_DONE;
}
