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

#ifdef __SANITIZE_ADDRESS__
/* Only in a build with AddressSanitizer (Makefile.am's check-asan): its runtime's defaults for
 * this program, the one that loads libvirt. intercept_tls_get_addr=0 leaves the runtime's hook on
 * __tls_get_addr out. The libraries dlopen() brings here (libvirt, GLib, GIO, ...) reach their
 * thread-local variables through that call, and the C library allocates each one's block with
 * malloc() on first use; the hook takes a block that starts 16 bytes past a page boundary for
 * the kind older C libraries allocated with a {size, start} header in front, and reads the
 * allocator's own chunk header there as one. LeakSanitizer then scans that range at exit
 * (0xb1-0x4000011b3 in tests/bats/vm-edit.bats's add on i440fx) and its tracer dies of SIGSEGV.
 * Where the block lands follows from every allocation before it: a longer path to the test's
 * tree is enough to bring it about or to make it go. Without the hook nothing is missed: the
 * leak checker counts every block the dynamic linker allocated, those included, as reachable
 * (LeakSanitizer's use_ld_allocations, on by default).
 * ASAN_OPTIONS is read after these and can set the option back. */
const char *__asan_default_options(void);
__attribute__((used, visibility("default"))) const char *__asan_default_options(void) {
        return "intercept_tls_get_addr=0";
}
#endif

static void *libvirt;
static char load_error[256];

static void *sym(const char *name) {
        if (!libvirt && !load_error[0]) {
                /* RTLD_LAZY: the libraries built without -z now (libstdc++, Kerberos, GMP, ...)
                 * bind each function at its first call instead of all of them here; the rest
                 * are bound at load either way. */
                libvirt = dlopen("libvirt.so.0", RTLD_LAZY | RTLD_LOCAL);
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

int virDomainDetachDeviceFlags(virDomainPtr domain, const char *xml, unsigned int flags) {
        RESOLVE(virDomainDetachDeviceFlags);
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
