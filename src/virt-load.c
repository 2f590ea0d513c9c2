/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The libvirt functions the CLI calls (src/virt.h lists the callers), resolved from libvirt.so.0
 * on first use instead of at every start: libvirt brings some fifty libraries (GLib, GnuTLS,
 * ...) whose loading and relocation cost every command, `list` and `status` included, more
 * CPU than the command's own work (docs/PERFORMANCE.md, "Start of the CLI"). The CLI is built
 * against libvirt's headers and does not link it; these definitions take the API's names, so
 * the callers are unchanged. When libvirt cannot be loaded, each call fails as libvirt's own
 * would (NULL or -1) and virGetLastErrorMessage() says why. */

#include <dlfcn.h>
#include <stdio.h>

#include "virt.h"

static void *libvirt;
static char load_error[256];

static void *sym(const char *name) {
        if (!libvirt && !load_error[0]) {
                libvirt = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
                if (!libvirt) {
                        const char *e = dlerror();
                        snprintf(load_error, sizeof load_error, "cannot load libvirt: %s", e ? e : "libvirt.so.0");
                }
        }
        return libvirt ? dlsym(libvirt, name) : NULL;
}

/* Resolve NAME once, into a function pointer of the declared type of NAME. */
#define RESOLVE(name)                                                          \
        static __typeof__(&name) fn;                                           \
        if (!fn)                                                               \
                *(void **) &fn = sym(#name)

virConnectPtr virConnectOpen(const char *name) {
        RESOLVE(virConnectOpen);
        return fn ? fn(name) : NULL;
}

virConnectPtr virConnectOpenReadOnly(const char *name) {
        RESOLVE(virConnectOpenReadOnly);
        return fn ? fn(name) : NULL;
}

int virConnectClose(virConnectPtr conn) {
        RESOLVE(virConnectClose);
        return fn ? fn(conn) : -1;
}

int virConnectListAllDomains(virConnectPtr conn, virDomainPtr **domains, unsigned int flags) {
        RESOLVE(virConnectListAllDomains);
        return fn ? fn(conn, domains, flags) : -1;
}

virDomainPtr virDomainLookupByName(virConnectPtr conn, const char *name) {
        RESOLVE(virDomainLookupByName);
        return fn ? fn(conn, name) : NULL;
}

int virDomainFree(virDomainPtr domain) {
        RESOLVE(virDomainFree);
        return fn ? fn(domain) : -1;
}

char *virDomainGetXMLDesc(virDomainPtr domain, unsigned int flags) {
        RESOLVE(virDomainGetXMLDesc);
        return fn ? fn(domain, flags) : NULL;
}

virDomainPtr virDomainDefineXML(virConnectPtr conn, const char *xml) {
        RESOLVE(virDomainDefineXML);
        return fn ? fn(conn, xml) : NULL;
}

int virDomainAttachDeviceFlags(virDomainPtr domain, const char *xml, unsigned int flags) {
        RESOLVE(virDomainAttachDeviceFlags);
        return fn ? fn(domain, xml, flags) : -1;
}

int virDomainIsActive(virDomainPtr dom) {
        RESOLVE(virDomainIsActive);
        return fn ? fn(dom) : -1;
}

int virDomainIsPersistent(virDomainPtr dom) {
        RESOLVE(virDomainIsPersistent);
        return fn ? fn(dom) : -1;
}

virErrorPtr virGetLastError(void) {
        RESOLVE(virGetLastError);
        return fn ? fn() : NULL;
}

const char *virGetLastErrorMessage(void) {
        RESOLVE(virGetLastErrorMessage);
        return fn ? fn() : load_error;
}

void virSetErrorFunc(void *userData, virErrorFunc handler) {
        RESOLVE(virSetErrorFunc);
        if (fn)
                fn(userData, handler);
}
