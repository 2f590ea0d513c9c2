/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
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
