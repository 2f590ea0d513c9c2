/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The CLI's few uses of the libvirt API: add/remove (verb-vm.c), doctor VM (verb-doctor.c),
 * whether a group's recorded owner still runs (verb-claim.c), and usb-reattach (verb-usb.c). The
 * hook never calls libvirt. */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

void vc_virt_connect_closep(virConnectPtr *c);
void vc_virt_domain_freep(virDomainPtr *d);

/* libvirt prints every error on stderr by default; the CLI says it once, in its words. */
void vc_virt_quiet(void);

/* The message of libvirt's last error, never NULL. */
const char *vc_virt_error(void);

/* Is the domain @name at @uri running? 1 yes, 0 no (defined, shut off), -ENOENT when libvirt at
 * @uri knows no domain of that name (gone, or defined under another connection URI: the caller
 * says which URI it asked), -ECONNREFUSED when libvirt cannot be reached, -EIO when it cannot
 * tell; on -ECONNREFUSED and -EIO *ret_error (when not NULL) gets libvirt's message (free() it).
 * A read-only connection. */
int vc_virt_domain_is_running(const char *uri, const char *name, char **ret_error);

#include "domain-xml.h"
#include "iommu.h"

/* The PCI host devices every domain at one connection lists, running or not: one
 * virConnectListAllDomains() and each definition's XML (the persistent one for a defined domain,
 * VIR_DOMAIN_XML_INACTIVE). A domain whose XML cannot be read or parsed is left out. */
struct vc_virt_definitions {
        struct vc_domain **domains;
        size_t n_domains;
};
int vc_virt_definitions_read(virConnectPtr conn, struct vc_virt_definitions *ret);
void vc_virt_definitions_done(struct vc_virt_definitions *d);

/* The names of the domains (other than @except, may be NULL) whose definitions list a device of
 * @g (a NULL-terminated list, sorted, in *ret; empty when none). 0 or -ENOMEM. */
int vc_virt_definitions_users(const struct vc_virt_definitions *d, const struct vc_group *g, const char *except,
                              char ***ret);

/* The same domains in two lists (each as above): *ret_needing, those that would fail at their
 * next start with @g given back to the host and named by no entry (a managed='no' device of @g,
 * or managed='yes' ones that leave an endpoint of @g out, unless @hook_claims_unconfigured:
 * [global] hook-claim-unconfigured = yes); *ret_managed, the others, whose devices libvirt
 * detaches itself at their start. 0 or -ENOMEM. */
int vc_virt_definitions_users_split(const struct vc_virt_definitions *d, const struct vc_group *g,
                                    bool hook_claims_unconfigured, char ***ret_needing, char ***ret_managed);

/* Both steps through a read-only connection to @uri: -ECONNREFUSED (with *ret_error, free() it)
 * when libvirt cannot be reached. */
int vc_virt_definitions_read_uri(const char *uri, struct vc_virt_definitions *ret, char **ret_error);

/* The sum of the 64-bit prefetchable BARs of the domain's PCI host devices present in @t (what
 * the firmware must place in its 64-bit MMIO window). */
uint64_t vc_virt_mmio64_need(const struct vc_topology *t, const struct vc_domain *d);

/* "VM a", "VMs a and b", "VMs a, b and c" (NULL on OOM). */
char *vc_virt_names_join(char *const *names);
