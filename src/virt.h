/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The CLI's few uses of the libvirt API: add/remove (verb-vm.c), doctor VM (verb-doctor.c), and
 * whether a group's recorded owner still runs (verb-claim.c). The hook never calls libvirt. */

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
