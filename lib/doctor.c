/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmdline.h"
#include "critical.h"
#include "doctor.h"
#include "host.h"
#include "input.h"
#include "iommu.h"
#include "log.h"
#include "modules.h"
#include "root.h"
#include "state.h"
#include "sysfs.h"
#include "usb.h"

/* ------------------------------------------------------------------ report */

static const char *const level_names[_VC_DOCTOR_LEVEL_MAX] = {
        [VC_DOCTOR_OK] = "ok",
        [VC_DOCTOR_WARN] = "warn",
        [VC_DOCTOR_FAIL] = "fail",
        [VC_DOCTOR_SKIP] = "skip",
};

const char *vc_doctor_level_to_string(enum vc_doctor_level l) {
        return (unsigned) l < _VC_DOCTOR_LEVEL_MAX ? level_names[l] : NULL;
}

struct vc_doctor_report *vc_doctor_report_new(void) { return calloc(1, sizeof(struct vc_doctor_report)); }

struct vc_doctor_report *vc_doctor_report_free(struct vc_doctor_report *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_findings; i++) {
                free(r->findings[i].check);
                free(r->findings[i].device);
                free(r->findings[i].finding);
                free(r->findings[i].fix);
        }
        free(r->findings);
        free(r);
        return NULL;
}

static int strdup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

int vc_doctor_report_add(struct vc_doctor_report *r, const char *check, enum vc_doctor_level level,
                         const char *device, const char *finding, const char *fix) {
        if ((unsigned) level >= _VC_DOCTOR_LEVEL_MAX || !check || !finding)
                return -EINVAL;
        struct vc_finding *n = realloc(r->findings, (r->n_findings + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        r->findings = n;
        struct vc_finding f = { .level = level };
        if (strdup_opt(check, &f.check) < 0 || strdup_opt(device, &f.device) < 0 ||
            strdup_opt(finding, &f.finding) < 0 || strdup_opt(fix, &f.fix) < 0) {
                free(f.check);
                free(f.device);
                free(f.finding);
                free(f.fix);
                return -ENOMEM;
        }
        r->findings[r->n_findings++] = f;
        r->count[level]++;
        return 0;
}

/* ------------------------------------------------------------------ parsing helpers */

bool vc_vfio_ids_match(const char *ids, uint16_t vendor, uint16_t device) {
        for (const char *p = ids; p && *p;) {
                size_t l = strcspn(p, ",");
                char buf[64];
                if (l < sizeof buf) {
                        memcpy(buf, p, l);
                        buf[l] = '\0';
                        unsigned v, d;
                        char c;
                        /* "vvvv:dddd" then optional fields; "ffffffff" (PCI_ANY_ID) matches all */
                        int k = sscanf(buf, "%x:%x%c", &v, &d, &c);
                        if (k >= 2 && (k == 2 || c == ':') && (v == 0xffffffffu || v == vendor) &&
                            (d == 0xffffffffu || d == device))
                                return true;
                }
                p += l;
                p += *p == ',';
        }
        return false;
}

char *vc_options_get(const char *options, const char *key) {
        _cleanup_strv_free_ char **words = NULL;
        if (vc_cmdline_split(options, &words) < 0)
                return NULL;
        const char *v = vc_cmdline_get(words, key);
        return v ? strdup(v) : NULL;
}

bool vc_softdep_preloads(const char *softdep, const char *module) {
        _cleanup_strv_free_ char **words = NULL;
        if (vc_cmdline_split(softdep, &words) < 0)
                return false;
        bool pre = false;
        for (char **w = words; *w; w++) {
                if (streq(*w, "pre:")) {
                        pre = true;
                        continue;
                }
                if (streq(*w, "post:")) {
                        pre = false;
                        continue;
                }
                if (pre && vc_module_name_equal(*w, module))
                        return true;
        }
        return false;
}

bool vc_install_disables(const char *command) {
        _cleanup_strv_free_ char **words = NULL;
        if (!command || vc_cmdline_split(command, &words) < 0 || !words[0])
                return false;
        const char *slash = strrchr(words[0], '/');
        const char *prog = slash ? slash + 1 : words[0];
        /* "install nouveau /bin/false" and friends: the module is never inserted. A command that
         * mentions modprobe or insmod loads something and is not judged. */
        if (streq(prog, "false") || streq(prog, "true") || streq(prog, ":"))
                return true;
        return streq(prog, "echo") && !strstr(command, "modprobe") && !strstr(command, "insmod");
}

/* AMD (vendor 0x1002) GPUs whose reset does not bring them back without the vendor-reset module
 * (its device table, by family). */
static const struct {
        uint16_t device;
        const char *family;
} vendor_reset_ids[] = {
        /* Polaris 10/20/30 (RX 470/480/570/580/590) */
        { 0x67c0, "Polaris 10" }, { 0x67c1, "Polaris 10" }, { 0x67c2, "Polaris 10" },
        { 0x67c4, "Polaris 10" }, { 0x67c7, "Polaris 10" }, { 0x67c8, "Polaris 10" },
        { 0x67c9, "Polaris 10" }, { 0x67ca, "Polaris 10" }, { 0x67cc, "Polaris 10" },
        { 0x67cf, "Polaris 10" }, { 0x67d0, "Polaris 10" }, { 0x67df, "Polaris 10" },
        { 0x6fdf, "Polaris 10" },
        /* Polaris 11/21 (RX 460/560) */
        { 0x67e0, "Polaris 11" }, { 0x67e1, "Polaris 11" }, { 0x67e3, "Polaris 11" },
        { 0x67e7, "Polaris 11" }, { 0x67e8, "Polaris 11" }, { 0x67e9, "Polaris 11" },
        { 0x67eb, "Polaris 11" }, { 0x67ef, "Polaris 11" }, { 0x67ff, "Polaris 11" },
        /* Polaris 12 (RX 540/550) */
        { 0x6980, "Polaris 12" }, { 0x6981, "Polaris 12" }, { 0x6985, "Polaris 12" },
        { 0x6986, "Polaris 12" }, { 0x6987, "Polaris 12" }, { 0x6995, "Polaris 12" },
        { 0x6997, "Polaris 12" }, { 0x699f, "Polaris 12" },
        /* Vega 10 (RX Vega 56/64, Frontier) */
        { 0x6860, "Vega 10" }, { 0x6861, "Vega 10" }, { 0x6862, "Vega 10" },
        { 0x6863, "Vega 10" }, { 0x6864, "Vega 10" }, { 0x6867, "Vega 10" },
        { 0x6868, "Vega 10" }, { 0x6869, "Vega 10" }, { 0x686a, "Vega 10" },
        { 0x686b, "Vega 10" }, { 0x686c, "Vega 10" }, { 0x686d, "Vega 10" },
        { 0x686e, "Vega 10" }, { 0x686f, "Vega 10" }, { 0x687f, "Vega 10" },
        /* Vega 20 (Radeon VII, Instinct MI50/MI60) and Arcturus (MI100) */
        { 0x66a0, "Vega 20" }, { 0x66a1, "Vega 20" }, { 0x66a2, "Vega 20" },
        { 0x66a3, "Vega 20" }, { 0x66a4, "Vega 20" }, { 0x66a7, "Vega 20" },
        { 0x66af, "Vega 20" }, { 0x738c, "Arcturus" },
        /* Navi 10 (RX 5600/5700) */
        { 0x1681, "Navi 10" }, { 0x7310, "Navi 10" }, { 0x7312, "Navi 10" },
        { 0x7318, "Navi 10" }, { 0x7319, "Navi 10" }, { 0x731a, "Navi 10" },
        { 0x731b, "Navi 10" }, { 0x731e, "Navi 10" }, { 0x731f, "Navi 10" },
        /* Navi 12 (Pro 5600M, V520) */
        { 0x7360, "Navi 12" }, { 0x7362, "Navi 12" },
        /* Navi 14 (RX 5300/5500) */
        { 0x7340, "Navi 14" }, { 0x7341, "Navi 14" }, { 0x7347, "Navi 14" },
        { 0x734f, "Navi 14" },
};

const char *vc_vendor_reset_family(uint16_t vendor, uint16_t device) {
        if (vendor != 0x1002)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(vendor_reset_ids); i++)
                if (vendor_reset_ids[i].device == device)
                        return vendor_reset_ids[i].family;
        return NULL;
}

uint64_t vc_mmio64_window_mib(uint64_t bytes) {
        uint64_t want = bytes > UINT64_MAX / 2 ? UINT64_MAX : bytes * 2, w = UINT64_C(64) << 30;
        while (w < want && w < (UINT64_C(1) << 52))
                w <<= 1;
        return w >> 20;
}

/* ------------------------------------------------------------------ what a run holds */

struct doctor {
        struct vc_ctx *ctx;
        const struct vc_doctor_opts *opts;
        struct vc_doctor_report *report;
        const struct vc_topology *topo; /* opts->topology, or own_topo */
        struct vc_topology *own_topo;
        struct vc_pci_dev **all; /* every device, borrowed from topo */
        size_t n_all;
        size_t *by_addr;         /* the indices of all[] in address order: a device, and the
                                  * devices of a bus, found by bisection (lower_bound()) */
        char **cmdline;
        struct vc_modinfo *mods; /* the modules of the root's kernel */
        const char *kver;        /* its release (NULL when unknown), owned by mods */
        const struct vc_modconf *conf; /* owned by mods */
        struct vc_pci_dev **targets; /* borrowed */
        size_t n_targets;
};

static void doctor_done(struct doctor *d) {
        vc_topology_free(d->own_topo);
        free(d->all);
        free(d->by_addr);
        strv_free(d->cmdline);
        vc_modinfo_free(d->mods);
        free(d->targets);
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

/* Add a finding whose texts were built with fmt(); takes ownership. */
static int add(struct doctor *d, const char *check, enum vc_doctor_level level, const struct vc_pci_dev *dev,
               char *finding, char *fix) {
        _cleanup_free_ char *f = finding, *x = fix;
        if (!f)
                return -ENOMEM;
        return vc_doctor_report_add(d->report, check, level, dev ? vc_pci_dev_name(dev) : NULL, f, x);
}

static int read_root_file(struct doctor *d, enum vc_place place, const char *rel, char **ret) {
        _cleanup_free_ char *p = NULL;
        int r = vc_ctx_path(d->ctx, place, &p, "%s", rel);
        if (r < 0)
                return r;
        return vc_sysfs_read(p, ret);
}

static bool root_exists(struct doctor *d, enum vc_place place, const char *rel) {
        _cleanup_free_ char *p = NULL;
        return vc_ctx_path(d->ctx, place, &p, "%s", rel) >= 0 && vc_path_exists(p);
}

static const char *cmd(struct doctor *d, const char *key) { return vc_cmdline_get(d->cmdline, key); }

static const char *critical(struct doctor *d, const struct vc_pci_dev *dev) {
        if (!d->opts->critical)
                return NULL;
        return d->opts->critical(d->opts->critical_userdata, vc_pci_dev_addr(dev));
}

/* "0000:00:17.0 (sata, ahci)" */
static char *describe(const struct vc_pci_dev *dev) {
        const char *drv = vc_pci_dev_driver(dev);
        return fmt("%s (%s, %s)", vc_pci_dev_name(dev), vc_pci_class_to_string(vc_pci_dev_class(dev)),
                   drv ? drv : "no driver");
}

/* ------------------------------------------------------------------ setup */

static int load_kernel_facts(struct doctor *d) {
        int r;

        r = vc_cmdline_read(d->ctx, &d->cmdline);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (r != -ENOENT && r != -EACCES)
                        log_debug_errno(r, "cannot read the kernel command line: %m");
                r = vc_cmdline_parse(NULL, &d->cmdline);
                if (r < 0)
                        return r;
        }
        if ((r = vc_modinfo_new(d->ctx, d->cmdline, &d->mods)) < 0)
                return r;
        d->kver = vc_modinfo_kernel_release(d->mods);
        d->conf = vc_modinfo_config(d->mods);
        return 0;
}

static bool is_candidate(const struct vc_pci_dev *dev) {
        uint32_t base = vc_pci_dev_class(dev) >> 16;
        return !vc_pci_dev_is_bridge(dev) && (base == 0x03 || base == 0x12);
}

static int by_addr_compare(const void *a, const void *b, void *all) {
        struct vc_pci_dev **v = all;
        return vc_pci_addr_compare(vc_pci_dev_addr(v[*(const size_t *) a]), vc_pci_dev_addr(v[*(const size_t *) b]));
}

/* The first position in by_addr[] whose device is not below @a. */
static size_t lower_bound(const struct doctor *d, const struct vc_pci_addr *a) {
        size_t lo = 0, hi = d->n_all;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (vc_pci_addr_compare(vc_pci_dev_addr(d->all[d->by_addr[mid]]), a) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int collect(struct doctor *d) {
        const struct vc_topology *t = d->topo;
        size_t n = t->n_ungrouped;
        for (size_t i = 0; i < t->n_groups; i++)
                n += vc_group_n_devices(t->groups[i]);
        d->all = calloc(n + 1, sizeof *d->all);
        d->targets = calloc(n + 1, sizeof *d->targets);
        if (!d->all || !d->targets)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_groups; i++)
                for (size_t k = 0; k < vc_group_n_devices(t->groups[i]); k++)
                        d->all[d->n_all++] = vc_group_device(t->groups[i], k);
        for (size_t i = 0; i < t->n_ungrouped; i++)
                d->all[d->n_all++] = t->ungrouped[i];
        if (!(d->by_addr = calloc(d->n_all + 1, sizeof *d->by_addr)))
                return -ENOMEM;
        for (size_t i = 0; i < d->n_all; i++)
                d->by_addr[i] = i;
        qsort_r(d->by_addr, d->n_all, sizeof *d->by_addr, by_addr_compare, d->all);

        const struct vc_doctor_opts *o = d->opts;
        bool configured = o->config && o->config->n_devices > 0;
        for (size_t i = 0; i < d->n_all; i++) {
                struct vc_pci_dev *dev = d->all[i];
                bool want;
                if (o->n_targets > 0 || o->explicit_targets) {
                        want = false;
                        for (size_t k = 0; k < o->n_targets; k++)
                                want |= vc_pci_addr_equal(&o->targets[k], vc_pci_dev_addr(dev));
                } else if (configured)
                        want = vc_config_match_device(o->config, dev) != NULL;
                else
                        want = is_candidate(dev);
                if (want && !vc_pci_dev_is_bridge(dev))
                        d->targets[d->n_targets++] = dev;
        }
        /* Guessing the candidates: the boot VGA drives the host's console; when there is another
         * display controller, that one is the card meant for a VM. */
        if (o->n_targets == 0 && !o->explicit_targets && !configured) {
                size_t k = 0, boot = 0;
                for (size_t i = 0; i < d->n_targets; i++)
                        boot += vc_pci_dev_boot_vga(d->targets[i]) > 0;
                if (boot > 0 && boot < d->n_targets) {
                        for (size_t i = 0; i < d->n_targets; i++)
                                if (vc_pci_dev_boot_vga(d->targets[i]) <= 0)
                                        d->targets[k++] = d->targets[i];
                        d->n_targets = k;
                }
        }
        return 0;
}

/* ------------------------------------------------------------------ host checks */

static const char *cpu_vendor(struct doctor *d) {
        _cleanup_free_ char *info = NULL;
        if (read_root_file(d, VC_PLACE_PROC, "cpuinfo", &info) < 0)
                return NULL;
        if (strstr(info, "GenuineIntel"))
                return "intel";
        if (strstr(info, "AuthenticAMD") || strstr(info, "HygonGenuine"))
                return "amd";
        return NULL;
}

/* Is this system a virtual machine? The "hypervisor" CPU flag (set by every x86 hypervisor) or
 * the DMI system vendor of a known one. Returns a short description ("QEMU", "a hypervisor"),
 * NULL on bare metal. */
static const char *virtual_machine(struct doctor *d) {
        static const struct {
                const char *dmi;
                const char *name;
        } vendors[] = {
                { "QEMU", "QEMU" },
                { "VMware, Inc.", "VMware" },
                { "innotek GmbH", "VirtualBox" },
                { "Xen", "Xen" },
                { "Microsoft Corporation", NULL }, /* also real Surface machines: needs the flag too */
                { "Amazon EC2", "Amazon EC2" },
                { "Google", "Google Compute Engine" },
        };
        _cleanup_free_ char *vendor = NULL;
        bool flag = vc_host_cpu_has_flag(d->ctx, "hypervisor") > 0;

        if (read_root_file(d, VC_PLACE_CLASS, "dmi/id/sys_vendor", &vendor) >= 0) {
                vendor[strcspn(vendor, "\n")] = '\0';
                for (size_t i = 0; i < ELEMENTSOF(vendors); i++)
                        if (streq(vendor, vendors[i].dmi) && (vendors[i].name || flag))
                                return vendors[i].name ?: "Hyper-V";
        }
        return flag ? "a hypervisor" : NULL;
}

static const char guest_iommu_fix[] =
        "give this VM a virtual IOMMU (firmware settings do not apply inside a VM): with libvirt, a q35 machine with "
        "<iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu> and <ioapic driver='qemu'/> in <features> "
        "(QEMU: -device intel-iommu,intremap=on,caching-mode=on); then boot this guest with intel_iommu=on";

/* IOMMU units the kernel registered (ROOT/sys/class/iommu): names and kind. */
static int iommu_units(struct doctor *d, char ***ret_names, const char **ret_kind) {
        _cleanup_free_ char *p = NULL;
        char **names = NULL;
        int r = vc_ctx_path(d->ctx, VC_PLACE_CLASS, &p, "iommu");
        if (r < 0)
                return r;
        r = vc_dir_list(p, &names);
        if (r == -ENOENT || r == -ENOTDIR) {
                names = calloc(1, sizeof *names);
                if (!names)
                        return -ENOMEM;
        } else if (r < 0)
                return r;
        *ret_kind = NULL;
        for (char **n = names; *n; n++)
                if (startswith(*n, "dmar"))
                        *ret_kind = "intel";
                else if (startswith(*n, "ivhd"))
                        *ret_kind = "amd";
                else if (!*ret_kind)
                        *ret_kind = "other";
        *ret_names = names;
        return 0;
}

static char *join(char **v, const char *sep) {
        size_t len = 1;
        for (char **i = v; i && *i; i++)
                len += strlen(*i) + strlen(sep);
        char *s = malloc(len);
        if (!s)
                return NULL;
        s[0] = '\0';
        for (char **i = v; i && *i; i++) {
                if (i != v)
                        strcat(s, sep);
                strcat(s, *i);
        }
        return s;
}

static const char grub_hint[] = "GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (grub2-mkconfig on Fedora) and reboot";

static int check_iommu(struct doctor *d) {
        _cleanup_strv_free_ char **units = NULL;
        const char *kind = NULL;
        int r = iommu_units(d, &units, &kind);
        if (r < 0)
                return r;
        _cleanup_free_ char *unit_list = join(units, ", ");
        if (!unit_list)
                return -ENOMEM;
        size_t n_groups = d->topo->n_groups;
        const char *intel = cmd(d, "intel_iommu"), *amd = cmd(d, "amd_iommu"), *iommu = cmd(d, "iommu");
        const char *kind_name = streq_ptr(kind, "intel") ? "Intel VT-d" : streq_ptr(kind, "amd") ? "AMD-Vi" : "IOMMU";

        if (n_groups > 0) {
                _cleanup_free_ char *opts = fmt("%s%s%s%s%s%s", intel ? " intel_iommu=" : "", strempty(intel),
                                                amd ? " amd_iommu=" : "", strempty(amd), iommu ? " iommu=" : "",
                                                strempty(iommu));
                if (!opts)
                        return -ENOMEM;
                return add(d, "iommu", VC_DOCTOR_OK, NULL,
                           fmt("IOMMU enabled: %s (%s), %zu IOMMU group%s; kernel command line:%s%s", kind_name,
                               units[0] ? unit_list : "no units listed", n_groups, n_groups == 1 ? "" : "s",
                               opts[0] ? opts : " no IOMMU options (kernel default)",
                               streq_ptr(iommu, "pt") ? " (passthrough mode for host DMA: fine for VFIO)" : ""),
                           NULL);
        }

        /* No groups: explain why, most specific first. */
        if (intel && vc_option_list_has(intel, "off"))
                return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                           fmt("IOMMU disabled on the kernel command line (intel_iommu=%s): no IOMMU groups, no device can be passed through", intel),
                           fmt("replace intel_iommu=%s with intel_iommu=on in %s", intel, grub_hint));
        if (amd && vc_option_list_has(amd, "off"))
                return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                           fmt("IOMMU disabled on the kernel command line (amd_iommu=%s): no IOMMU groups, no device can be passed through", amd),
                           fmt("remove amd_iommu=%s from %s", amd, grub_hint));
        if (iommu && (streq(iommu, "off") || streq(iommu, "soft")))
                return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                           fmt("IOMMU disabled on the kernel command line (iommu=%s): no IOMMU groups, no device can be passed through", iommu),
                           fmt("remove iommu=%s (iommu=pt is fine) from %s", iommu, grub_hint));

        /* Inside a VM the IOMMU is the hypervisor's to give: no firmware setting helps. */
        const char *vm = virtual_machine(d);
        if (vm && !units[0])
                return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                           fmt("no IOMMU: this system is a virtual machine (%s) that was given no virtual IOMMU, so there are no IOMMU groups",
                               vm),
                           strdup(guest_iommu_fix));
        const char *cpu = kind && !streq(kind, "other") ? kind : cpu_vendor(d);
        if (units[0]) {
                if (streq_ptr(cpu, "intel"))
                        return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                                   fmt("Intel VT-d hardware is registered (%s) but DMA remapping is off: no IOMMU groups", unit_list),
                                   fmt("add intel_iommu=on to %s", grub_hint));
                return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                           fmt("IOMMU hardware is registered (%s) but there are no IOMMU groups: DMA remapping is off", unit_list),
                           fmt("boot with %s in %s", streq_ptr(cpu, "amd") ? "amd_iommu=on and without iommu=off" : "intel_iommu=on (Intel) or without amd_iommu=off (AMD)", grub_hint));
        }
        if (streq_ptr(cpu, "intel"))
                return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                           fmt("no IOMMU: the kernel found no DMAR unit (/sys/class/iommu is empty) and there are no IOMMU groups%s",
                               intel ? "" : "; intel_iommu=on is not on the kernel command line"),
                           intel ? strdup("enable VT-d (\"Intel Virtualization Technology for Directed I/O\") in the firmware setup; the DMAR ACPI table is missing")
                                 : fmt("enable VT-d (\"Intel Virtualization Technology for Directed I/O\") in the firmware setup and add intel_iommu=on to %s", grub_hint));
        if (streq_ptr(cpu, "amd"))
                return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                           strdup("no IOMMU: the kernel found no AMD-Vi unit (/sys/class/iommu is empty) and there are no IOMMU groups"),
                           strdup("enable the IOMMU (\"AMD-Vi\" or \"IOMMU\", next to SVM) in the firmware setup; the kernel turns it on by itself"));
        return add(d, "iommu", VC_DOCTOR_FAIL, NULL,
                   strdup("no IOMMU: /sys/class/iommu is empty and there are no IOMMU groups"),
                   fmt("enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup; on Intel add intel_iommu=on to %s", grub_hint));
}

static int check_interrupt_remapping(struct doctor *d) {
        if (d->topo->n_groups == 0)
                return 0; /* nothing to remap for: the IOMMU finding says what to do */

        const char *intremap = cmd(d, "intremap");
        bool cmd_off = intremap && vc_option_list_has(intremap, "off");
        _cleanup_free_ char *interrupts = NULL;
        if (cmd_off)
                return add(d, "interrupt-remapping", VC_DOCTOR_FAIL, NULL,
                           fmt("interrupt remapping is disabled on the kernel command line (intremap=%s): vfio refuses to attach devices unless allow_unsafe_interrupts is set", intremap),
                           fmt("remove intremap=%s from %s", intremap, grub_hint));
        /* The kernel's own view: interrupt chips are called IR-PCI-MSI, IR-IO-APIC... when remapped. */
        if (read_root_file(d, VC_PLACE_PROC, "interrupts", &interrupts) >= 0 && strstr(interrupts, "PCI-MSI")) {
                if (strstr(interrupts, "IR-"))
                        return add(d, "interrupt-remapping", VC_DOCTOR_OK, NULL,
                                   strdup("interrupt remapping is active (IR- interrupt domains in /proc/interrupts)"), NULL);
                return add(d, "interrupt-remapping", VC_DOCTOR_FAIL, NULL,
                           strdup("interrupt remapping is off (no IR- interrupt domain in /proc/interrupts): vfio refuses to attach devices unless allow_unsafe_interrupts is set, which lets a VM inject interrupts into the host"),
                           virtual_machine(d)
                                   ? strdup("this is a virtual machine: give its virtual IOMMU interrupt remapping (libvirt: <iommu model='intel'><driver intremap='on'/></iommu> with <ioapic driver='qemu'/>; QEMU: intel-iommu,intremap=on)")
                                   : strdup("enable interrupt remapping in the firmware setup (on Intel it comes with VT-d and x2APIC); a BIOS update may be needed"));
        }

        /* Without /proc/interrupts (a copied tree): the hardware capability of the Intel units. */
        _cleanup_strv_free_ char **units = NULL;
        const char *kind = NULL;
        int r = iommu_units(d, &units, &kind);
        if (r < 0)
                return r;
        bool seen = false;
        for (char **u = units; *u; u++) {
                _cleanup_free_ char *rel = fmt("iommu/%s/intel-iommu/ecap", *u), *text = NULL;
                if (!rel)
                        return -ENOMEM;
                if (!startswith(*u, "dmar") || read_root_file(d, VC_PLACE_CLASS, rel, &text) < 0)
                        continue;
                uint64_t ecap = strtoull(text, NULL, 16);
                seen = true;
                if (!vc_intel_ecap_has_ir(ecap))
                        return add(d, "interrupt-remapping", VC_DOCTOR_FAIL, NULL,
                                   fmt("%s does not support interrupt remapping (ecap %s, IR bit 3 clear): vfio refuses to attach devices unless allow_unsafe_interrupts is set", *u, text),
                                   virtual_machine(d)
                                           ? strdup("this is a virtual machine: give its virtual IOMMU interrupt remapping (libvirt: <driver intremap='on'/> in <iommu>; QEMU: intel-iommu,intremap=on)")
                                           : strdup("update the firmware (BIOS) and enable VT-d with interrupt remapping; only as a last resort set allow_unsafe_interrupts=1 (a VM can then inject interrupts into the host)"));
        }
        if (seen)
                return add(d, "interrupt-remapping", VC_DOCTOR_OK, NULL,
                           strdup("the IOMMU supports interrupt remapping (ecap IR bit set)"), NULL);
        return add(d, "interrupt-remapping", VC_DOCTOR_SKIP, NULL,
                   strdup("interrupt remapping not checked: neither /proc/interrupts nor the IOMMU's capability registers are readable"),
                   NULL);
}

static int check_unsafe_interrupts(struct doctor *d) {
        _cleanup_free_ char *v = NULL;
        bool on = false;
        const char *where = NULL;
        if (read_root_file(d, VC_PLACE_SYS_MODULE, "vfio_iommu_type1/parameters/allow_unsafe_interrupts", &v) >= 0) {
                on = streq(v, "Y") || streq(v, "1");
                where = "vfio_iommu_type1 is loaded with allow_unsafe_interrupts=Y";
        }
        for (size_t i = 0; !on && i < d->conf->n_options; i++) {
                const struct vc_modconf_entry *e = &d->conf->options[i];
                if (!streq(e->module, "vfio_iommu_type1"))
                        continue;
                _cleanup_free_ char *x = vc_options_get(e->value, "allow_unsafe_interrupts");
                if (x && (streq(x, "1") || streq(x, "Y") || streq(x, "y") || !x[0])) {
                        on = true;
                        where = e->cmdline ? "the kernel command line sets vfio_iommu_type1.allow_unsafe_interrupts"
                                           : "modprobe.d sets \"options vfio_iommu_type1 allow_unsafe_interrupts=1\"";
                }
        }
        if (!on)
                return add(d, "unsafe-interrupts", VC_DOCTOR_OK, NULL,
                           strdup("allow_unsafe_interrupts is not set: vfio keeps interrupt isolation"), NULL);
        return add(d, "unsafe-interrupts", VC_DOCTOR_WARN, NULL,
                   fmt("%s: a VM can inject interrupts into the host (MSI attacks) when interrupt remapping is missing", where),
                   strdup("enable interrupt remapping in the firmware and remove allow_unsafe_interrupts from the kernel command line and modprobe.d"));
}

static int check_acs_override(struct doctor *d) {
        const char *v = cmd(d, "pcie_acs_override");
        if (!v)
                return add(d, "acs-override", VC_DOCTOR_OK, NULL,
                           strdup("no pcie_acs_override on the kernel command line: IOMMU groups show the isolation the hardware really provides"),
                           NULL);
        return add(d, "acs-override", VC_DOCTOR_WARN, NULL,
                   fmt("pcie_acs_override=%s is on the kernel command line: groups are split on the kernel's word, not the hardware's; devices in a \"separate\" group may still reach each other by peer-to-peer DMA, so a VM can read or corrupt host memory of its neighbours", v),
                   fmt("accept the security trade-off knowingly, or move the device to a slot with real isolation and remove pcie_acs_override from %s", grub_hint));
}

/* ------------------------------------------------------------------ modules (read through lib/modules.c) */

static int check_vfio_modules(struct doctor *d) {
        static const char *const mods[] = { "vfio_pci", "vfio_iommu_type1" };
        _cleanup_free_ char *drivers = NULL;
        bool driver_present = vc_ctx_path(d->ctx, VC_PLACE_PCI_DRIVERS, &drivers, "vfio-pci") >= 0 && vc_dir_exists(drivers);
        char *parts[ELEMENTSOF(mods)] = {};
        bool missing = false, unknown = false;
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(mods); i++) {
                enum vc_module_state s = vc_modinfo_module_state(d->mods, mods[i]);
                if (i == 0 && driver_present && s != VC_MODULE_BUILTIN)
                        s = VC_MODULE_LOADED;
                const char *what = s == VC_MODULE_LOADED ? "loaded" : s == VC_MODULE_BUILTIN ? "built into the kernel"
                                 : s == VC_MODULE_AVAILABLE ? "available as a module" : s == VC_MODULE_MISSING ? "MISSING" : "not loaded";
                missing |= s == VC_MODULE_MISSING;
                unknown |= s == VC_MODULE_UNKNOWN;
                if (!(parts[i] = fmt("%s %s", mods[i], what))) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        if (missing)
                r = add(d, "vfio-modules", VC_DOCTOR_FAIL, NULL,
                        fmt("vfio modules of kernel %s: %s, %s", strna(d->kver), parts[0], parts[1]),
                        strdup("install a kernel built with CONFIG_VFIO_PCI and CONFIG_VFIO_IOMMU_TYPE1 (Debian and Fedora kernels have them), then run depmod"));
        else if (unknown)
                r = add(d, "vfio-modules", VC_DOCTOR_SKIP, NULL,
                        fmt("vfio modules: %s, %s; no module index for kernel %s under the root, so availability was not checked (vfio-claim loads them when it claims)",
                            parts[0], parts[1], strna(d->kver)),
                        NULL);
        else
                r = add(d, "vfio-modules", VC_DOCTOR_OK, NULL, fmt("vfio modules: %s, %s", parts[0], parts[1]), NULL);
out:
        for (size_t i = 0; i < ELEMENTSOF(mods); i++)
                free(parts[i]);
        return r;
}

/* vfio-pci.ids= / options vfio-pci ids= / softdep X pre: vfio-pci: vfio-pci takes devices by itself,
 * behind vfio-claim's back. */
static int check_vfio_ids(struct doctor *d) {
        bool any = false;
        int r;
        for (size_t i = 0; i < d->conf->n_options; i++) {
                const struct vc_modconf_entry *e = &d->conf->options[i];
                if (!streq(e->module, "vfio_pci"))
                        continue;
                _cleanup_free_ char *ids = vc_options_get(e->value, "ids");
                if (!ids)
                        continue;
                any = true;
                _cleanup_free_ char *matches = strdup("");
                for (size_t k = 0; matches && k < d->n_all; k++)
                        if (!vc_pci_dev_is_bridge(d->all[k]) &&
                            vc_vfio_ids_match(ids, vc_pci_dev_vendor(d->all[k]), vc_pci_dev_device(d->all[k]))) {
                                char *m = fmt("%s%s%s", matches, matches[0] ? ", " : "", vc_pci_dev_name(d->all[k]));
                                free(matches);
                                matches = m;
                        }
                if (!matches)
                        return -ENOMEM;
                _cleanup_free_ char *which = fmt("%s (%s)", matches[0] ? "matches" : "matches no present device", matches);
                if (!which)
                        return -ENOMEM;
                if (e->cmdline)
                        r = add(d, "vfio-pci-ids", VC_DOCTOR_WARN, NULL,
                                fmt("the kernel command line sets vfio-pci.ids=%s %s: vfio-pci grabs these devices at boot, outside vfio-claim, so there is no record of their host driver to give them back to",
                                    ids, matches[0] ? which : "(matches no present device)"),
                                fmt("remove vfio-pci.ids=%s from %s; use boot = yes in vfio-claim.conf to claim at boot", ids, grub_hint));
                else
                        r = add(d, "vfio-pci-ids", VC_DOCTOR_WARN, NULL,
                                fmt("modprobe.d sets \"options vfio-pci ids=%s\" %s: vfio-pci grabs these devices whenever it loads, outside vfio-claim, and takes them back after a release",
                                    ids, matches[0] ? which : "(matches no present device)"),
                                strdup("delete the \"options vfio-pci ids=\" line from /etc/modprobe.d and run update-initramfs -u (dracut -f on Fedora); use boot = yes in vfio-claim.conf instead"));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < d->conf->n_softdeps; i++) {
                const struct vc_modconf_entry *e = &d->conf->softdeps[i];
                if (!vc_softdep_preloads(e->value, "vfio_pci") || vc_module_name_equal(e->module, "vfio_pci"))
                        continue;
                any = true;
                r = add(d, "vfio-pci-ids", VC_DOCTOR_WARN, NULL,
                        fmt("modprobe.d has \"softdep %s pre: vfio-pci\": vfio-pci is loaded before %s to win the race for the devices, the old way of claiming that fights vfio-claim's claim and release",
                            e->module, e->module),
                        fmt("delete the \"softdep %s pre: vfio-pci\" line from /etc/modprobe.d and run update-initramfs -u (dracut -f on Fedora); vfio-claim's boot = yes claims before the driver loads", e->module));
                if (r < 0)
                        return r;
        }
        if (!any)
                return add(d, "vfio-pci-ids", VC_DOCTOR_OK, NULL,
                           strdup("no vfio-pci.ids=, \"options vfio-pci ids=\" or \"softdep ... pre: vfio-pci\": nothing claims devices behind vfio-claim's back"),
                           NULL);
        return 0;
}

/* ------------------------------------------------------------------ device checks */

static const char *release_of(struct doctor *d, const struct vc_pci_dev *dev, bool *ret_keep) {
        const struct vc_config *c = d->opts->config;
        const struct vc_config_device *cd = c ? vc_config_match_device(c, dev) : NULL;
        *ret_keep = cd && vc_config_device_release(c, cd) == VC_RELEASE_KEEP;
        return cd ? cd->name : NULL;
}

/* The module(s) of the device's host driver: the bound driver's module, or, while the device is on
 * vfio-pci or unbound, what its modalias resolves to. */
static int host_modules(struct doctor *d, const struct vc_pci_dev *dev, char ***ret) {
        _cleanup_strv_free_ char **v = calloc(9, sizeof *v), **found = NULL;
        size_t n = 0;
        int r;

        if (!v)
                return -ENOMEM;
        const char *drv = vc_pci_dev_driver(dev);
        if (drv && !vc_pci_dev_is_on_vfio(dev)) {
                const char *m = vc_pci_dev_driver_module(dev);
                if (!(v[n++] = vc_module_name_normalize(m ? m : drv)))
                        return -ENOMEM;
        } else if (vc_pci_dev_modalias(dev)) {
                if ((r = vc_modinfo_lookup(d->mods, vc_pci_dev_modalias(dev), &found)) < 0)
                        return r;
                for (char **f = found; *f && n < 8; f++)
                        if (!vc_module_name_equal(*f, "vfio_pci") && !(v[n++] = strdup(*f)))
                                return -ENOMEM;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

static int check_host_driver(struct doctor *d, const struct vc_pci_dev *dev) {
        _cleanup_strv_free_ char **mods = NULL;
        bool keep;
        const char *name = release_of(d, dev, &keep);
        int r = host_modules(d, dev, &mods);
        if (r < 0)
                return r;
        if (!mods[0])
                return add(d, "host-driver", VC_DOCTOR_OK, dev,
                           fmt("%s: no host driver module known%s; nothing blocks it", vc_pci_dev_name(dev),
                               vc_pci_dev_is_on_vfio(dev) ? " (it is on vfio-pci)" : ""),
                           NULL);
        bool found = false;
        const char *mb = cmd(d, "module_blacklist");
        for (char **m = mods; *m; m++) {
                if (mb && vc_option_list_has(mb, *m)) {
                        found = true;
                        r = add(d, "host-driver", VC_DOCTOR_FAIL, dev,
                                fmt("%s: its host driver %s is listed in module_blacklist= on the kernel command line: the kernel refuses to load it, so the device can never be given back to the host",
                                    vc_pci_dev_name(dev), *m),
                                fmt("remove %s from module_blacklist= in %s", *m, grub_hint));
                        if (r < 0)
                                return r;
                }
                for (size_t i = 0; i < d->conf->n_installs; i++)
                        if (streq(d->conf->installs[i].module, *m) && vc_install_disables(d->conf->installs[i].value)) {
                                found = true;
                                r = add(d, "host-driver", VC_DOCTOR_FAIL, dev,
                                        fmt("%s: modprobe.d has \"install %s %s\": loading the host driver does nothing, so the device cannot be given back to the host",
                                            vc_pci_dev_name(dev), *m, d->conf->installs[i].value),
                                        fmt("delete the \"install %s\" line from /etc/modprobe.d and run update-initramfs -u (dracut -f on Fedora)", *m));
                                if (r < 0)
                                        return r;
                        }
                for (size_t i = 0; i < d->conf->n_blacklist; i++)
                        if (streq(d->conf->blacklist[i].module, *m)) {
                                found = true;
                                bool cl = d->conf->blacklist[i].cmdline;
                                r = add(d, "host-driver", keep ? VC_DOCTOR_WARN : VC_DOCTOR_FAIL, dev,
                                        fmt("%s: its host driver %s is blacklisted (%s): it never binds by itself, so %s",
                                            vc_pci_dev_name(dev), *m, cl ? "modprobe.blacklist= on the kernel command line" : "\"blacklist\" in modprobe.d",
                                            keep ? "the device stays without a host driver when released (release = keep makes that moot)"
                                                 : "the device cannot be given back to the host when a VM stops"),
                                        cl ? fmt("remove %s from modprobe.blacklist= in %s; let vfio-claim claim the device instead (boot = yes)", *m, grub_hint)
                                           : fmt("delete \"blacklist %s\" from /etc/modprobe.d, run update-initramfs -u (dracut -f on Fedora); let vfio-claim claim the device instead (boot = yes)", *m));
                                if (r < 0)
                                        return r;
                        }
        }
        if (found)
                return 0;
        _cleanup_free_ char *list = join(mods, ", ");
        if (!list)
                return -ENOMEM;
        return add(d, "host-driver", VC_DOCTOR_OK, dev,
                   fmt("%s: host driver %s is not blacklisted or disabled%s%s%s", vc_pci_dev_name(dev), list,
                       name ? " (configured as " : "", strempty(name), name ? ")" : ""),
                   NULL);
}

static bool same_slot(const struct vc_pci_dev *a, const struct vc_pci_dev *b) {
        const struct vc_pci_addr *x = vc_pci_dev_addr(a), *y = vc_pci_dev_addr(b);
        return x->domain == y->domain && x->bus == y->bus && x->slot == y->slot;
}

/* @item at the end of the list *@s (NULL: empty), after @sep unless it is the first. In place,
 * not formatted again whole: a bus with a bridge's worth of VFs lists some sixty devices for
 * each card on it (docs/PERFORMANCE.md, "Scale"). */
static int append(char **s, const char *sep, const char *item) {
        size_t have = *s ? strlen(*s) : 0, ls = *s ? strlen(sep) : 0, li = strlen(item);
        char *n = realloc(*s, have + ls + li + 1);
        if (!n)
                return -ENOMEM;
        memcpy(n + have, sep, ls);
        memcpy(n + have + ls, item, li + 1);
        *s = n;
        return 0;
}

static int check_critical(struct doctor *d, const struct vc_pci_dev *dev) {
        const char *why = critical(d, dev);
        if (!why)
                return 0;
        if (vc_critical_reason_is_use(why))
                return add(d, "critical", VC_DOCTOR_FAIL, dev,
                           fmt("%s is in use: %s; giving it to a VM takes it from under its users",
                               vc_pci_dev_name(dev), why),
                           strdup("unmount the file system, or close what is built on the disk, then claim it; "
                                  "vfio-claim refuses it until then unless --force is given"));
        if (vc_critical_reason_is_session(why))
                return add(d, "critical", VC_DOCTOR_FAIL, dev,
                           fmt("%s is what this session stands on: %s; giving it to a VM from here cuts the session off",
                               vc_pci_dev_name(dev), why),
                           strdup("claim it from another session (over SSH through another NIC, at another "
                                  "console), or give the console a keyboard on another controller; vfio-claim "
                                  "refuses it from this session unless --force is given"));
        return add(d, "critical", VC_DOCTOR_FAIL, dev,
                   fmt("%s is host-critical: %s; giving it to a VM takes it from the host", vc_pci_dev_name(dev), why),
                   strdup("pass through another device; vfio-claim refuses this one unless --force is given"));
}

/* "0000:00:17.0 (sata, ahci)", with ", host-critical: WHY" inside the parentheses when it is. */
static char *describe_critical(struct doctor *d, const struct vc_pci_dev *o, bool *ret_critical) {
        const char *why = critical(d, o), *drv = vc_pci_dev_driver(o);
        *ret_critical = why != NULL;
        return fmt("%s (%s, %s%s%s)", vc_pci_dev_name(o), vc_pci_class_to_string(vc_pci_dev_class(o)),
                   drv ? drv : "no driver", why ? ", host-critical: " : "", strempty(why));
}

static int check_group(struct doctor *d, const struct vc_pci_dev *dev) {
        const struct vc_group *g = vc_topology_find_group(d->topo, vc_pci_dev_addr(dev));
        if (!g)
                return add(d, "group", VC_DOCTOR_FAIL, dev,
                           fmt("%s belongs to no IOMMU group: it cannot be passed through", vc_pci_dev_name(dev)),
                           strdup("enable the IOMMU (see the iommu finding)"));
        _cleanup_free_ char *companions = NULL, *others = NULL, *all = NULL;
        bool any_critical = false;
        for (size_t i = 0; i < vc_group_n_devices(g); i++) {
                const struct vc_pci_dev *o = vc_group_device(g, i);
                bool crit;
                if (o == dev || vc_pci_dev_is_bridge(o))
                        continue;
                _cleanup_free_ char *desc = describe_critical(d, o, &crit);
                if (!desc || append(&all, ", ", desc) < 0 || append(same_slot(o, dev) ? &companions : &others, ", ", desc) < 0)
                        return -ENOMEM;
                any_critical |= crit;
        }
        unsigned num = vc_group_number(g);
        if (any_critical)
                return add(d, "group", VC_DOCTOR_FAIL, dev,
                           fmt("IOMMU group %u of %s also holds %s: the whole group goes to the VM together, and the host cannot lose a host-critical device",
                               num, vc_pci_dev_name(dev), all),
                           strdup("move the card to another slot (one wired to the CPU usually has its own group); vfio-claim refuses this group unless --force is given"));
        if (others)
                return add(d, "group", VC_DOCTOR_WARN, dev,
                           fmt("IOMMU group %u of %s also holds %s%s%s: claiming it takes them from the host too", num, vc_pci_dev_name(dev),
                               others, companions ? " and its own functions " : "", strempty(companions)),
                           strdup("accept that they all go to the VM, or move the card to a slot with its own group (one wired to the CPU); pcie_acs_override only hides the sharing"));
        return add(d, "group", VC_DOCTOR_OK, dev,
                   fmt("IOMMU group %u: %s%s%s", num, vc_pci_dev_name(dev),
                       companions ? " with its own functions " : " is alone", strempty(companions)),
                   NULL);
}

static bool has_method(const char *methods, const char *m) {
        _cleanup_strv_free_ char **w = NULL;
        if (!methods || vc_cmdline_split(methods, &w) < 0)
                return false;
        for (char **i = w; *i; i++) {
                /* older kernels separated with commas */
                if (vc_option_list_has(*i, m))
                        return true;
        }
        return false;
}

static bool dev_attr_exists(const struct vc_pci_dev *dev, const char *attr) {
        _cleanup_free_ char *p = fmt("%s/%s", vc_pci_dev_syspath(dev), attr);
        return p && vc_path_exists(p);
}

/* Does a vfio-claim state record hold the device's group? */
static bool claimed_by_us(struct doctor *d, const struct vc_pci_dev *dev) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        int g = vc_pci_dev_iommu_group(dev);
        return g >= 0 && vc_record_read(d->ctx, (unsigned) g, &rec) >= 0 &&
               vc_record_find_device(rec, vc_pci_dev_addr(dev));
}

/* AMD GPU families that do not come back from a reset without the vendor-reset module. */
static int check_vendor_reset(struct doctor *d, const struct vc_pci_dev *dev) {
        const char *methods = vc_pci_dev_reset_method(dev);
        const char *family = vc_vendor_reset_family(vc_pci_dev_vendor(dev), vc_pci_dev_device(dev));
        const char *name = vc_pci_dev_name(dev);

        if (!family)
                return 0;
        enum vc_module_state s = vc_modinfo_module_state(d->mods, "vendor_reset");
        bool ds = has_method(methods, "device_specific");
        if (s == VC_MODULE_LOADED || s == VC_MODULE_BUILTIN) {
                if (!methods || (ds && strncmp(methods, "device_specific", 15) == 0))
                        return add(d, "vendor-reset", VC_DOCTOR_OK, dev,
                                   fmt("%s: AMD %s GPU; vendor-reset is loaded%s", name, family,
                                       methods ? " and reset_method uses device_specific first" : ""),
                                   NULL);
                return add(d, "vendor-reset", VC_DOCTOR_WARN, dev,
                           fmt("%s: AMD %s GPU; vendor-reset is loaded but reset_method is \"%s\", so the kernel does not use it", name, family, methods),
                           fmt("set reset = device_specific for %s in vfio-claim.conf (written to reset_method at claim)", name));
        }
        return add(d, "vendor-reset", VC_DOCTOR_WARN, dev,
                   fmt("%s: AMD %s GPU: this family does not come back from a reset (the \"AMD reset bug\"), so a VM reboot or a second VM start finds it dead; the vendor-reset module%s",
                       name, family, s == VC_MODULE_AVAILABLE ? " is installed but not loaded" : " is not installed"),
                   s == VC_MODULE_AVAILABLE ? fmt("load vendor-reset at boot (echo vendor-reset > /etc/modules-load.d/vendor-reset.conf) and set reset = device_specific for %s", name)
                                            : fmt("install vendor-reset (github.com/gnif/vendor-reset, DKMS), load it at boot and set reset = device_specific for %s", name));
}

/* An explicit "reset =" the kernel cannot honour makes every claim fail. */
static int check_reset_configured(struct doctor *d, const struct vc_pci_dev *dev) {
        const char *methods = vc_pci_dev_reset_method(dev);
        const char *name = vc_pci_dev_name(dev);
        const struct vc_config_device *cd = d->opts->config ? vc_config_match_device(d->opts->config, dev) : NULL;

        if (!cd || !(cd->reset == VC_RESET_FLR || cd->reset == VC_RESET_BUS || cd->reset == VC_RESET_DEVICE_SPECIFIC) ||
            has_method(methods, vc_reset_to_string(cd->reset)))
                return 0;
        if (methods && methods[0] && claimed_by_us(d, dev))
                /* reset_method shows the methods enabled now, and a claim under an earlier
                 * "reset =" narrowed them: what else the device supports is not visible. */
                return add(d, "reset", VC_DOCTOR_WARN, dev,
                           fmt("%s: configured with reset = %s, but reset_method says \"%s\", which vfio-claim may have narrowed at an earlier claim; whether the device supports %s shows only after the kernel's list is back",
                               name, vc_reset_to_string(cd->reset), methods, vc_reset_to_string(cd->reset)),
                           fmt("run vfio-claim apply (it writes the configured method, and fails if the device lacks it), or echo default > /sys/bus/pci/devices/%s/reset_method and run doctor again", name));
        return add(d, "reset", VC_DOCTOR_FAIL, dev,
                   fmt("%s: configured with reset = %s, but the kernel %s%s%s: every claim of it will fail", name,
                       vc_reset_to_string(cd->reset), !methods ? "has no reset_method for it" : "offers only: ",
                       methods && methods[0] ? methods : "", methods && !methods[0] ? "none" : ""),
                   fmt("set reset = auto for [device %s] (%s:%u)%s", cd->name, cd->file, cd->line,
                       cd->reset == VC_RESET_DEVICE_SPECIFIC ? ", or load the module that provides the device-specific reset (vendor-reset)" : ""));
}

/* Is "bus" the only method reset_method lists (older kernels separated them with commas)?
 * 1 or 0, -ENOMEM. */
static int only_bus_reset(const char *methods) {
        _cleanup_strv_free_ char **w = NULL;
        if (vc_cmdline_split(methods, &w) < 0)
                return -ENOMEM;
        for (char **i = w; *i; i++)
                for (const char *p = *i; *p;) {
                        size_t l = strcspn(p, ",");
                        if (!(l == 3 && strncmp(p, "bus", 3) == 0))
                                return 0;
                        p += l;
                        p += *p == ',';
                }
        return 1;
}

static int index_compare(const void *a, const void *b) {
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        return x < y ? -1 : x > y;
}

/* Bus reset is the only method: it resets every device on the bus, and the kernel refuses it
 * while other devices share the bus; QEMU can still reset the bus when the VM owns them all. */
static int check_bus_reset(struct doctor *d, const struct vc_pci_dev *dev) {
        const struct vc_group *g = vc_topology_find_group(d->topo, vc_pci_dev_addr(dev));
        const struct vc_pci_addr *b = vc_pci_dev_addr(dev);
        _cleanup_free_ char *active = NULL;
        _cleanup_free_ size_t *on_bus = NULL;
        size_t n_on_bus = 0;

        /* The devices of the bus, found by bisection, named in the order of all[] */
        size_t first = lower_bound(d, &(struct vc_pci_addr){ .domain = b->domain, .bus = b->bus });
        size_t end = first;
        while (end < d->n_all && vc_pci_dev_addr(d->all[d->by_addr[end]])->domain == b->domain &&
               vc_pci_dev_addr(d->all[d->by_addr[end]])->bus == b->bus)
                end++;
        if (!(on_bus = calloc(end - first + 1, sizeof *on_bus)))
                return -ENOMEM;
        for (size_t i = first; i < end; i++)
                on_bus[n_on_bus++] = d->by_addr[i];
        qsort(on_bus, n_on_bus, sizeof *on_bus, index_compare);
        for (size_t k = 0; k < n_on_bus; k++) {
                const struct vc_pci_dev *o = d->all[on_bus[k]];
                const struct vc_pci_addr *a = vc_pci_dev_addr(o);
                if (o == dev)
                        continue;
                bool in_group = g && vc_topology_find_group(d->topo, a) == g;
                if (in_group || !vc_pci_dev_driver(o) || vc_pci_dev_is_on_vfio(o))
                        continue;
                _cleanup_free_ char *desc = describe(o);
                if (!desc || append(&active, ", ", desc) < 0)
                        return -ENOMEM;
        }
        if (active)
                return add(d, "reset", VC_DOCTOR_WARN, dev,
                           fmt("%s: bus reset is its only reset method, but bus %04x:%02x also holds %s in use by the host: the reset cannot happen",
                               vc_pci_dev_name(dev), b->domain, b->bus, active),
                           strdup("move the card to a slot of its own, or pass the other devices on that bus to the same VM"));
        return add(d, "reset", VC_DOCTOR_OK, dev,
                   fmt("%s: reset by bus reset (no FLR); nothing else on its bus is in use by the host", vc_pci_dev_name(dev)), NULL);
}

static int check_reset(struct doctor *d, const struct vc_pci_dev *dev) {
        const char *methods = vc_pci_dev_reset_method(dev);
        const char *family = vc_vendor_reset_family(vc_pci_dev_vendor(dev), vc_pci_dev_device(dev));
        const char *name = vc_pci_dev_name(dev);
        int r;

        if ((r = check_reset_configured(d, dev)) < 0)
                return r;
        if (!methods) {
                if (dev_attr_exists(dev, "reset"))
                        return add(d, "reset", VC_DOCTOR_OK, dev,
                                   fmt("%s: can be reset (the kernel is older than 5.15 and does not list the method)", name), NULL);
                return add(d, "reset", VC_DOCTOR_WARN, dev,
                           fmt("%s has no reset method (no FLR, no power-management or bus reset): the VM inherits whatever state the host or the last VM left, and it may fail to start again after a VM stops", name),
                           family ? strdup("install vendor-reset (see the vendor-reset finding)")
                                  : strdup("expect to reboot the host between VM runs; another card model or slot (one not sharing its bus) may offer a reset"));
        }
        if (!methods[0])
                return add(d, "reset", VC_DOCTOR_WARN, dev,
                           fmt("%s: reset_method is empty: no reset method is enabled (all were disabled, or the kernel offers none), so the VM inherits the device's state", name),
                           fmt("set reset = auto for %s (vfio-claim writes \"default\" to reset_method at claim); if it stays empty the device cannot be reset", name));
        if ((r = only_bus_reset(methods)) < 0)
                return r;
        if (r > 0)
                return check_bus_reset(d, dev);
        return add(d, "reset", VC_DOCTOR_OK, dev, fmt("%s: reset methods: %s", name, methods), NULL);
}

static char *human_size(uint64_t s) {
        if (s >= (UINT64_C(1) << 30) && !(s & ((UINT64_C(1) << 30) - 1)))
                return fmt("%" PRIu64 " GiB", s >> 30);
        if (s >= (UINT64_C(1) << 20) && !(s & ((UINT64_C(1) << 20) - 1)))
                return fmt("%" PRIu64 " MiB", s >> 20);
        if (s >= 1024 && !(s & 1023))
                return fmt("%" PRIu64 " KiB", s >> 10);
        return fmt("%" PRIu64 " bytes", s);
}

static int check_bars(struct doctor *d, const struct vc_pci_dev *dev) {
        _cleanup_free_ struct vc_pci_bar *bars = NULL;
        size_t n = 0;
        int r = vc_pci_dev_read_bars(dev, &bars, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return add(d, "bars", VC_DOCTOR_WARN, dev,
                           fmt("%s: cannot read its BARs (resource): %s", vc_pci_dev_name(dev), strerror(-r)), NULL);
        uint64_t total64 = 0, largest = 0;
        unsigned largest_index = 0;
        for (size_t i = 0; i < n; i++) {
                if (bars[i].io || bars[i].index == 6)
                        continue;
                /* 64-bit non-prefetchable BARs cannot sit behind a bridge's 64-bit window: the
                 * firmware places them below 4 GiB. */
                if (bars[i].mem64 && bars[i].prefetchable)
                        total64 += bars[i].size;
                if (bars[i].size > largest) {
                        largest = bars[i].size;
                        largest_index = bars[i].index;
                }
        }
        _cleanup_free_ char *big = human_size(largest), *sum = human_size(total64);
        if (!big || !sum)
                return -ENOMEM;
        if (largest > VC_OVMF_DEFAULT_MMIO64 || total64 > VC_OVMF_DEFAULT_MMIO64) {
                uint64_t mib = vc_mmio64_window_mib(total64 > largest ? total64 : largest);
                return add(d, "bars", VC_DOCTOR_WARN, dev,
                           fmt("%s: BAR%u is %s (64-bit prefetchable BARs %s in all), more than the 32 GiB 64-bit MMIO window OVMF gives a VM by default: the guest sees the device but its driver fails to initialise it",
                               vc_pci_dev_name(dev), largest_index, big, sum),
                           fmt("enlarge the VM firmware's window: in the domain XML add <qemu:commandline><qemu:arg value='-fw_cfg'/><qemu:arg value='opt/ovmf/X-PciMmio64Mb,string=%" PRIu64 "'/></qemu:commandline> (with xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' on <domain>)",
                               mib));
        }
        if (total64 == 0)
                return add(d, "bars", VC_DOCTOR_OK, dev,
                           fmt("%s: largest BAR is %s, no 64-bit prefetchable BAR: fits the VM firmware's default MMIO windows", vc_pci_dev_name(dev), big),
                           NULL);
        return add(d, "bars", VC_DOCTOR_OK, dev,
                   fmt("%s: largest BAR is %s, 64-bit prefetchable BARs %s in all: fits the VM firmware's default 64-bit MMIO window", vc_pci_dev_name(dev), big, sum),
                   NULL);
}

static const struct vc_pci_dev *find_dev(struct doctor *d, const struct vc_pci_addr *a) {
        size_t i = lower_bound(d, a);
        return i < d->n_all && vc_pci_addr_equal(vc_pci_dev_addr(d->all[d->by_addr[i]]), a) ? d->all[d->by_addr[i]]
                                                                                            : NULL;
}

static int check_link(struct doctor *d, const struct vc_pci_dev *dev) {
        struct vc_pci_link l, up = {};
        int r = vc_pci_dev_read_link(dev, &l);
        if (r < 0) {
                vc_pci_link_done(&l);
                return 0; /* not PCIe, or no link attributes: nothing to judge */
        }
        /* What the link can do is limited by both ends: the upstream port's capability too. */
        double max_gts = l.max_gts;
        unsigned max_w = l.max_width;
        struct vc_pci_addr pa;
        const struct vc_pci_dev *parent = vc_pci_dev_parent(dev, &pa) ? find_dev(d, &pa) : NULL;
        if (parent && vc_pci_dev_read_link(parent, &up) >= 0) {
                if (up.max_gts > 0 && (max_gts <= 0 || up.max_gts < max_gts))
                        max_gts = up.max_gts;
                if (up.max_width > 0 && (max_w == 0 || up.max_width < max_w))
                        max_w = up.max_width;
        }
        vc_pci_link_done(&up);

        bool slow = l.current_gts > 0 && max_gts > 0 && l.current_gts + 0.01 < max_gts;
        bool narrow = l.current_width > 0 && max_w > 0 && l.current_width < max_w;
        bool gpu = (vc_pci_dev_class(dev) >> 16) == 0x03;
        const char *name = vc_pci_dev_name(dev);
        if (narrow)
                r = add(d, "link", VC_DOCTOR_WARN, dev,
                        fmt("%s: PCIe link runs at x%u, below the x%u both ends support (%s of %s): less bandwidth for the VM",
                            name, l.current_width, max_w, strna(l.current_speed), strna(l.max_speed)),
                        strdup("reseat the card, check that the slot is wired for full width (slots sharing lanes with M.2 or another slot drop to x8/x4) and the firmware's lane bifurcation setting"));
        else if (slow && gpu && l.current_gts <= 2.5 + 0.01)
                r = add(d, "link", VC_DOCTOR_OK, dev,
                        fmt("%s: PCIe link at %s x%u of %s: GPUs drop to the lowest speed while idle, which is normal; check again under load",
                            name, strna(l.current_speed), l.current_width, strna(l.max_speed)),
                        NULL);
        else if (slow)
                r = add(d, "link", VC_DOCTOR_WARN, dev,
                        fmt("%s: PCIe link runs at %s, below the %.1f GT/s both ends support (x%u of x%u)", name,
                            strna(l.current_speed), max_gts, l.current_width, max_w),
                        strdup("check the firmware's PCIe generation setting for the slot, reseat the card, and avoid riser cables not rated for the speed"));
        else
                r = add(d, "link", VC_DOCTOR_OK, dev,
                        fmt("%s: PCIe link at %s x%u, the best both ends support", name, strna(l.current_speed), l.current_width),
                        NULL);
        vc_pci_link_done(&l);
        return r;
}

static int check_config_devices(struct doctor *d) {
        const struct vc_config *c = d->opts->config; /* NEEDS_CONFIG */
        if (d->opts->n_targets > 0 || d->opts->explicit_targets)
                return 0;
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct vc_config_device *cd = &c->devices[i];
                bool present = false;
                for (size_t k = 0; k < d->n_all && !present; k++)
                        present = vc_config_match_device(c, d->all[k]) == cd;
                if (present)
                        continue;
                int r = add(d, "config", VC_DOCTOR_WARN, NULL,
                            fmt("configured device %s (%s:%u) matches no PCI device on this host", cd->name, cd->file, cd->line),
                            fmt("check the match = lines of [device %s]; 'vfio-claim list' shows the addresses and ids present", cd->name));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ------------------------------------------------------------------ [usb] entries */

/* "3-1.2, 3-1.3" */
static char *ports_text(const struct vc_usb_dev *v, const size_t *idx, size_t n) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s", i ? ", " : "", v[idx[i]].port);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

/* One [usb] entry against the USB devices present @v: none selected (warning), several selected
 * by a boot = yes entry (warning: boot holds each), a selected device the host needs (failure: a
 * stick holding /, the USB NIC of the default route, which the hook refuses and the boot claims
 * leave to the host). */
static int check_usb_entry(struct doctor *d, const struct vc_config_usb *u, const struct vc_usb_dev *v, size_t n,
                           const struct vc_critical_set *critical) {
        _cleanup_free_ size_t *idx = calloc(n + 1, sizeof *idx);
        size_t k = 0;
        int r;
        if (!idx)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (vc_config_usb_selects(u, &v[i]))
                        idx[k++] = i;
        if (k == 0)
                return add(d, "usb", VC_DOCTOR_WARN, NULL,
                           fmt("configured USB device %s (%s:%u) matches no USB device on this host", u->name, u->file,
                               u->line),
                           fmt("check the match =, serial = and port = lines of [usb %s]; 'vfio-claim list' shows the "
                               "USB devices present", u->name));
        if (u->boot && k > 1) {
                _cleanup_free_ char *ports = ports_text(v, idx, k);
                if (!ports || (r = add(d, "usb", VC_DOCTOR_WARN, NULL,
                                       fmt("[usb %s] (%s:%u) selects %zu USB devices (%s), and boot = yes holds each of "
                                           "them at boot", u->name, u->file, u->line, k, ports),
                                       fmt("add serial = or port = to [usb %s] to select one", u->name))) < 0)
                        return ports ? r : -ENOMEM;
        }
        for (size_t i = 0; critical && i < k; i++) {
                _cleanup_free_ char *why = NULL;
                if ((r = vc_usb_dev_needed(critical, &v[idx[i]], &why)) < 0)
                        return r;
                if (why && (r = add(d, "usb", VC_DOCTOR_FAIL, NULL,
                                    fmt("USB device %s (%04x:%04x), which [usb %s] selects, is one the host needs: %s",
                                        v[idx[i]].port, v[idx[i]].vendor, v[idx[i]].product, u->name, why),
                                    fmt("narrow [usb %s] with serial = or port =; the hook refuses this device and the "
                                        "boot claims leave it to the host unless protect = no", u->name))) < 0)
                        return r;
        }
        return 0;
}

/* The USB device a keyboard's input device sits below (the deepest port path among the components
 * of @syspath), or NULL: a keyboard on no USB device (the i8042's). */
static const struct vc_usb_dev *keyboard_usb_device(const char *syspath, const struct vc_usb_dev *v, size_t n) {
        const struct vc_usb_dev *found = NULL;
        _cleanup_free_ char *copy = strdup(syspath);
        for (char *save = NULL, *c = copy ? strtok_r(copy, "/", &save) : NULL; c; c = strtok_r(NULL, "/", &save))
                for (size_t i = 0; i < n; i++)
                        if (streq(v[i].port, c))
                                found = &v[i];
        return found;
}

/* boot = yes entries that hold every keyboard present: at the next boot nobody can type at the
 * console, not even a disk's passphrase the initramfs asks for (the initramfs holds them too). An
 * entry by ids alone also selects the host's own keyboard of that model. */
static int check_usb_boot_keyboards(struct doctor *d, const struct vc_usb_dev *v, size_t n) {
        const struct vc_config *c = d->opts->config;
        struct vc_keyboard *kb = NULL;
        size_t n_kb = 0;
        const struct vc_config_usb *by = NULL;
        const struct vc_keyboard *shown = NULL;
        int r = vc_input_keyboards(d->ctx, &kb, &n_kb);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        bool all = n_kb > 0;
        for (size_t i = 0; i < n_kb && all; i++) {
                const struct vc_usb_dev *u = keyboard_usb_device(kb[i].syspath, v, n);
                const struct vc_config_usb *e = u ? vc_config_match_usb(c, u) : NULL;
                all = e && e->boot;
                if (all && !by) {
                        by = e;
                        shown = &kb[i];
                }
        }
        if (all && by) {
                const struct vc_usb_dev *u = keyboard_usb_device(shown->syspath, v, n);
                r = add(d, "usb", VC_DOCTOR_WARN, NULL,
                        fmt("boot = yes of [usb %s] (%s:%u) holds %s keyboard of this host (%s: %s): from the next "
                            "boot nobody can type at the console, not even a disk's passphrase in the initramfs",
                            by->name, by->file, by->line, n_kb == 1 ? "the only" : "every", u->port,
                            isempty(shown->name) ? "unnamed" : shown->name),
                        fmt("keep a keyboard on the host, or narrow [usb %s] with serial = or port = if it selects the "
                            "host's own keyboard too", by->name));
        }
        vc_keyboards_free(kb, n_kb);
        return r < 0 ? r : 0;
}

static int check_usb_entries(struct doctor *d) {
        const struct vc_config *c = d->opts->config; /* NEEDS_CONFIG */
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        int r;
        if (d->opts->n_targets > 0 || d->opts->explicit_targets || c->n_usbs == 0)
                return 0;
        if ((r = vc_usb_enumerate(d->ctx, VC_USB_READ_STRINGS, &v, &n)) < 0)
                return r == -ENOMEM ? r : 0;
        const struct vc_critical_set *critical = d->opts->critical_set ? d->opts->critical_set(d->opts->critical_userdata)
                                                                       : NULL;
        for (size_t i = 0; i < c->n_usbs && r >= 0; i++)
                r = check_usb_entry(d, &c->usbs[i], v, n, critical);
        if (r >= 0)
                r = check_usb_boot_keyboards(d, v, n);
        vc_usb_devs_free(v, n);
        return r < 0 ? r : 0;
}

/* ------------------------------------------------------------------ boot setup */

/* The newest modification time of the configuration: vfio-claim.conf, conf.d itself (a file
 * removed) and every conf.d/ *.conf. 0 when none can be read. */
static time_t config_mtime(const char *dir) {
        _cleanup_free_ char *main_conf = NULL, *confd = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct stat st;
        time_t newest = 0;

        if (asprintf(&main_conf, "%s/vfio-claim.conf", dir) < 0 || asprintf(&confd, "%s/conf.d", dir) < 0)
                return 0;
        if (vc_path_stat(main_conf, &st) >= 0 && st.st_mtime > newest)
                newest = st.st_mtime;
        if (vc_path_stat(confd, &st) >= 0 && st.st_mtime > newest)
                newest = st.st_mtime;
        if (vc_dir_list(confd, &names) < 0)
                return newest;
        for (char **n = names; *n; n++) {
                _cleanup_free_ char *p = NULL;
                size_t l = strlen(*n);
                if (l < 5 || !streq(*n + l - 5, ".conf") || asprintf(&p, "%s/%s", confd, *n) < 0)
                        continue;
                if (vc_path_stat(p, &st) >= 0 && st.st_mtime > newest)
                        newest = st.st_mtime;
        }
        return newest;
}

/* @rel exists under the root, itself: an enablement link counts even when its absolute target
 * is only valid inside the root. */
static bool root_link_exists(struct doctor *d, const char *rel) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int dfd = -1;
        const char *name;
        struct stat st;
        if (vc_ctx_path(d->ctx, VC_PLACE_ROOT, &p, "%s", rel) < 0 || (dfd = vc_path_open_parent(p, &name)) < 0)
                return false;
        return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0;
}

/* boot = yes needs the initramfs to carry the current configuration and, on systemd, the early
 * unit to be enabled; neither is visible anywhere else. */
static int check_boot_setup(struct doctor *d) {
        static const struct {
                const char *prefix, *suffix; /* around the kernel release, under the root */
                const char *rebuild;         /* followed by the kernel release */
        } images[] = {
                { "boot/initrd.img-", "", "update-initramfs -u -k " }, /* Debian, Ubuntu */
                { "boot/initramfs-", ".img", "dracut -f --kver " },    /* Fedora, RHEL */
        };
        const struct vc_config *c = d->opts->config; /* NEEDS_CONFIG */
        int r;

        if (!vc_config_has_boot_entries(c))
                return 0;

        if (d->kver) {
                time_t conf = c->dir ? config_mtime(c->dir) : 0;
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(images) && !found; i++) {
                        _cleanup_free_ char *path = NULL, *shown = NULL;
                        struct stat st;
                        if ((r = vc_ctx_path(d->ctx, VC_PLACE_ROOT, &path, "%s%s%s", images[i].prefix, d->kver,
                                             images[i].suffix)) < 0)
                                return r;
                        if (vc_path_stat(path, &st) < 0)
                                continue;
                        found = true;
                        shown = fmt("%s%s%s", images[i].prefix, d->kver, images[i].suffix);
                        if (!shown)
                                return -ENOMEM;
                        if (conf > st.st_mtime)
                                r = add(d, "initramfs", VC_DOCTOR_FAIL, NULL,
                                        fmt("/%s is older than the configuration in %s: at boot it claims what the old configuration said",
                                            shown, c->dir),
                                        fmt("%s%s", images[i].rebuild, d->kver));
                        else
                                r = add(d, "initramfs", VC_DOCTOR_OK, NULL,
                                        fmt("/%s is newer than the configuration (it carries the boot = yes devices; its contents are not read)",
                                            shown),
                                        NULL);
                        if (r < 0)
                                return r;
                }
                if (!found && (r = add(d, "initramfs", VC_DOCTOR_SKIP, NULL,
                                       fmt("no initramfs for kernel %s under /boot (initrd.img-%s or initramfs-%s.img): its age was not checked",
                                           d->kver, d->kver, d->kver),
                                       NULL)) < 0)
                        return r;
        }

        /* The early unit: only where systemd manages the root (it has /etc/systemd/system). */
        if (!root_exists(d, VC_PLACE_ROOT, "etc/systemd/system"))
                return 0;
        if (root_link_exists(d, "etc/systemd/system/sysinit.target.wants/vfio-claim-early.service") ||
            root_link_exists(d, "usr/lib/systemd/system/sysinit.target.wants/vfio-claim-early.service") ||
            root_link_exists(d, "lib/systemd/system/sysinit.target.wants/vfio-claim-early.service"))
                return add(d, "early-unit", VC_DOCTOR_OK, NULL,
                           strdup("vfio-claim-early.service is enabled: boot = yes devices are claimed before udev's coldplug"), NULL);
        return add(d, "early-unit", VC_DOCTOR_FAIL, NULL,
                   strdup("boot = yes devices are configured but vfio-claim-early.service is not enabled: a host driver that another device's coldplug loads can take them first"),
                   strdup("systemctl enable vfio-claim-early.service"));
}

/* ------------------------------------------------------------------ the run */

/* What a check needs besides the host's facts (the root's command line, its kernel's modules,
 * sysfs): a device to examine (it then runs once for each, after the host checks, all of a
 * device's checks together) or a configuration (without one it does not run). */
enum {
        NEEDS_DEVICE = 1 << 0,
        NEEDS_CONFIG = 1 << 1,
};

/* Every check, in the order of the report. */
static const struct check {
        const char *ids; /* the check ids of its findings */
        unsigned needs;
        union {
                int (*host)(struct doctor *d);
                int (*device)(struct doctor *d, const struct vc_pci_dev *dev);
        };
} checks[] = {
        { "iommu",                     0,                          .host = check_iommu },
        { "interrupt-remapping",       0,                          .host = check_interrupt_remapping },
        { "unsafe-interrupts",         0,                          .host = check_unsafe_interrupts },
        { "acs-override",              0,                          .host = check_acs_override },
        { "vfio-modules",              0,                          .host = check_vfio_modules },
        { "vfio-pci-ids",              0,                          .host = check_vfio_ids },
        { "config",                    NEEDS_CONFIG,               .host = check_config_devices },
        { "usb",                       NEEDS_CONFIG,               .host = check_usb_entries },
        { "initramfs early-unit",      NEEDS_CONFIG,               .host = check_boot_setup },
        { "critical",                  NEEDS_DEVICE,               .device = check_critical },
        { "group",                     NEEDS_DEVICE,               .device = check_group },
        { "host-driver",               NEEDS_DEVICE,               .device = check_host_driver },
        { "vendor-reset",              NEEDS_DEVICE,               .device = check_vendor_reset },
        { "reset",                     NEEDS_DEVICE,               .device = check_reset },
        { "bars",                      NEEDS_DEVICE,               .device = check_bars },
        { "link",                      NEEDS_DEVICE,               .device = check_link },
};

static int run_checks(struct doctor *d, const struct vc_pci_dev *dev) {
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                const struct check *c = &checks[i];
                int r;
                if (!(c->needs & NEEDS_DEVICE) != !dev || ((c->needs & NEEDS_CONFIG) && !d->opts->config))
                        continue;
                r = dev ? c->device(d, dev) : c->host(d);
                if (r < 0)
                        return log_debug_errno(r, "doctor check %s failed: %m", c->ids);
        }
        return 0;
}

/* Reading the facts the checks share: the devices, the examined ones, the kernel and its modules. */
static int doctor_load(struct doctor *d) {
        int r;
        if (d->opts->topology)
                d->topo = d->opts->topology;
        else {
                /* No check needs every device's driver_override: one asked for is read then. */
                if ((r = vc_topology_read_full(d->ctx, VC_PCI_READ_OVERRIDE_ON_DEMAND, &d->own_topo, NULL)) < 0)
                        return r;
                d->topo = d->own_topo;
        }
        if ((r = collect(d)) < 0)
                return r;
        return load_kernel_facts(d);
}

int vc_doctor_run(struct vc_ctx *ctx, const struct vc_doctor_opts *opts, struct vc_doctor_report *report) {
        _cleanup_(doctor_done) struct doctor d = { .ctx = ctx, .opts = opts, .report = report };
        int r;

        if ((r = doctor_load(&d)) < 0 || (r = run_checks(&d, NULL)) < 0)
                return r;
        for (size_t i = 0; i < d.n_targets; i++)
                if ((r = run_checks(&d, d.targets[i])) < 0)
                        return r;
        if (d.n_targets == 0 && opts->n_targets == 0 && !opts->explicit_targets)
                return add(&d, "devices", VC_DOCTOR_SKIP, NULL,
                           fmt("no PCI device to examine: %s and there is no display controller; name one: "
                               "vfio-claim doctor DEVICE",
                               opts->config && opts->config->n_usbs > 0 ? "only [usb] entries are configured"
                                                                         : "nothing is configured"),
                           NULL);
        return 0;
}
