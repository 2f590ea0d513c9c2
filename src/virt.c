/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "name.h"
#include "virt.h"

void vc_virt_connect_closep(virConnectPtr *c) {
        if (*c)
                virConnectClose(*c);
}

void vc_virt_domain_freep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}

static void quiet(void *user_data, virErrorPtr e) {
        (void) user_data;
        (void) e;
}

void vc_virt_quiet(void) {
        virSetErrorFunc(NULL, quiet);
}

const char *vc_virt_error(void) {
        const char *m = virGetLastErrorMessage();
        return m ? m : "unknown libvirt error";
}

int vc_virt_domain_is_running(const char *uri, const char *name, char **ret_error) {
        vc_virt_quiet();
        _cleanup_(vc_virt_connect_closep) virConnectPtr conn = virConnectOpenReadOnly(uri);
        if (!conn) {
                if (ret_error)
                        *ret_error = strdup(vc_virt_error());
                return -ECONNREFUSED;
        }
        _cleanup_(vc_virt_domain_freep) virDomainPtr dom = virDomainLookupByName(conn, name);
        if (!dom) {
                virErrorPtr e = virGetLastError();
                if (e && e->code == VIR_ERR_NO_DOMAIN)
                        return -ENOENT;
                if (ret_error)
                        *ret_error = strdup(vc_virt_error());
                return -EIO;
        }
        int r = virDomainIsActive(dom);
        if (r < 0) {
                if (ret_error)
                        *ret_error = strdup(vc_virt_error());
                return -EIO;
        }
        return r > 0;
}

void vc_virt_definitions_done(struct vc_virt_definitions *d) {
        for (size_t i = 0; i < d->n_domains; i++)
                vc_domain_free(d->domains[i]);
        free(d->domains);
        *d = (struct vc_virt_definitions){};
}

int vc_virt_definitions_read(virConnectPtr conn, struct vc_virt_definitions *ret) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(conn, &doms, 0);
        if (n < 0)
                return -EIO;
        struct vc_virt_definitions d = { .domains = calloc((size_t) n + 1, sizeof *d.domains) };
        int r = d.domains ? 0 : -ENOMEM;
        for (int i = 0; i < n; i++) {
                if (r == 0) {
                        /* The definition, not the running state: what the VM gets at its next start. */
                        _cleanup_free_ char *xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE);
                        struct vc_domain *dom = NULL;
                        if (xml && vc_domain_parse(xml, strlen(xml), &dom, NULL) >= 0 && dom->name)
                                d.domains[d.n_domains++] = dom;
                        else
                                vc_domain_free(dom);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        if (r < 0) {
                vc_virt_definitions_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

int vc_virt_definitions_read_uri(const char *uri, struct vc_virt_definitions *ret, char **ret_error) {
        vc_virt_quiet();
        vc_xml_quiet(); /* libvirt's libxml2 I/O warnings would be a raw stderr line */
        _cleanup_(vc_virt_connect_closep) virConnectPtr conn = virConnectOpenReadOnly(uri);
        if (!conn) {
                if (ret_error)
                        *ret_error = strdup(vc_virt_error());
                return -ECONNREFUSED;
        }
        int r = vc_virt_definitions_read(conn, ret);
        if (r == -EIO && ret_error)
                *ret_error = strdup(vc_virt_error());
        return r;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Would @dom fail at its next start with @g the host's and named by no entry? A managed='no'
 * device of the group must be on vfio-pci before the start. managed='yes' ones libvirt detaches
 * itself, and the hook (hooks/vfio-claim-hook-worker.c, unconfigured_managed()) lets the start
 * go on when the domain lists every endpoint of the group, or claims the group itself with
 * hook-claim-unconfigured = yes; an endpoint left out would stay on its host driver. */
static bool domain_needs_group(const struct vc_domain *dom, const struct vc_group *g, bool hook_claims_unconfigured) {
        bool whole = true;
        for (size_t k = 0; k < vc_group_n_devices(g); k++) {
                const struct vc_pci_dev *m = vc_group_device(g, k);
                bool listed = false;
                for (size_t i = 0; i < dom->n_hostdevs; i++) {
                        const struct vc_domain_hostdev *h = &dom->hostdevs[i];
                        if (!vc_pci_addr_equal(&h->addr, vc_pci_dev_addr(m)))
                                continue;
                        if (!h->managed)
                                return true;
                        listed = true;
                }
                if (!listed && !vc_pci_dev_is_bridge(m))
                        whole = false;
        }
        return !whole && !hook_claims_unconfigured;
}

enum users_filter { USERS_ALL, USERS_NEEDING, USERS_MANAGED };

static int users(const struct vc_virt_definitions *d, const struct vc_group *g, const char *except,
                 enum users_filter filter, bool hook_claims_unconfigured, char ***ret) {
        char **names = calloc(d->n_domains + 1, sizeof *names);
        size_t n = 0;
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_domains; i++) {
                const struct vc_domain *dom = d->domains[i];
                if (except && streq(dom->name, except))
                        continue;
                bool uses = false;
                for (size_t k = 0; !uses && k < vc_group_n_devices(g); k++)
                        uses = vc_domain_has_hostdev(dom, vc_pci_dev_addr(vc_group_device(g, k)));
                if (!uses || (filter != USERS_ALL &&
                              domain_needs_group(dom, g, hook_claims_unconfigured) != (filter == USERS_NEEDING)))
                        continue;
                if (!(names[n++] = strdup(dom->name))) {
                        strv_free(names);
                        return -ENOMEM;
                }
        }
        qsort(names, n, sizeof *names, cmp_str);
        *ret = names;
        return 0;
}

int vc_virt_definitions_users(const struct vc_virt_definitions *d, const struct vc_group *g, const char *except,
                              char ***ret) {
        return users(d, g, except, USERS_ALL, false, ret);
}

int vc_virt_definitions_users_split(const struct vc_virt_definitions *d, const struct vc_group *g,
                                    bool hook_claims_unconfigured, char ***ret_needing, char ***ret_managed) {
        _cleanup_strv_free_ char **needing = NULL;
        int r = users(d, g, NULL, USERS_NEEDING, hook_claims_unconfigured, &needing);
        if (r < 0 || (r = users(d, g, NULL, USERS_MANAGED, hook_claims_unconfigured, ret_managed)) < 0)
                return r;
        *ret_needing = TAKE_PTR(needing);
        return 0;
}

char *vc_virt_names_join(char *const *names) {
        size_t n = 0, len = 8;
        while (names[n])
                len += strlen(names[n++]) + 6;
        char *s = malloc(len);
        if (!s)
                return NULL;
        strcpy(s, n == 1 ? "VM " : "VMs ");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strcat(s, i + 1 == n ? " and " : ", ");
                /* libvirt lets a domain's name hold a tab or a carriage return: shown as '?'
                 * (no longer than the name) */
                _cleanup_free_ char *shown = vc_text_printable(names[i]);
                strcat(s, shown ? shown : "?");
        }
        return s;
}

uint64_t vc_virt_mmio64_need(const struct vc_topology *t, const struct vc_domain *d) {
        uint64_t sum = 0;
        for (size_t i = 0; i < d->n_hostdevs; i++) {
                /* A function listed twice is placed once. */
                bool seen = false;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = vc_pci_addr_equal(&d->hostdevs[k].addr, &d->hostdevs[i].addr);
                const struct vc_group *g = seen ? NULL : vc_topology_find_group(t, &d->hostdevs[i].addr);
                for (size_t k = 0; g && k < vc_group_n_devices(g); k++) {
                        const struct vc_pci_dev *dev = vc_group_device(g, k);
                        _cleanup_free_ struct vc_pci_bar *bars = NULL;
                        size_t n = 0;
                        if (!vc_pci_addr_equal(vc_pci_dev_addr(dev), &d->hostdevs[i].addr) ||
                            vc_pci_dev_read_bars(dev, &bars, &n) < 0)
                                continue;
                        for (size_t b = 0; b < n; b++)
                                if (!bars[b].io && bars[b].index < 6 && bars[b].mem64 && bars[b].prefetchable)
                                        sum += bars[b].size;
                }
        }
        return sum;
}
