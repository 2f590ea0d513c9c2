/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The PCI host devices of a libvirt domain, read from its XML with libxml2 (no network, no
 * entity expansion, no DTD, at most VC_DOMAIN_XML_MAX bytes), and the edit that adds or removes
 * them for "vfio-claim add/remove".
 *
 * Two elements name a PCI device of the host:
 *   <hostdev mode='subsystem' type='pci' managed='yes|no'>
 *     <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>
 *   </hostdev>
 *   <interface type='hostdev' managed='yes|no'>
 *     <source><address type='pci' domain=... bus=... slot=... function=.../></source>
 *   </interface>
 * Other host devices (USB, SCSI, mdev) are not PCI functions of the host and are ignored.
 * Address values are read as libvirt reads them: "0x" hexadecimal, a leading "0" octal,
 * otherwise decimal; a missing attribute is 0; domain <= 0xffff, bus <= 0xff, slot <= 0x1f,
 * function <= 7. Anything malformed is -EBADMSG with a message naming the element. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "pci.h"

/* The largest domain XML vfio-claim reads, and the one limit of the libvirt hook's input: its
 * front (hooks/vfio-claim-hook.c) and its worker (hooks/vfio-claim-hook-worker.c) both refuse a
 * larger one with VC_DOMAIN_XML_TOO_LARGE (arguments: the domain, the limit, the domain), so that
 * a VM never starts with a <hostdev> nobody read. */
#define VC_DOMAIN_XML_MAX (4u * 1024 * 1024)
#define VC_DOMAIN_XML_TOO_LARGE \
        "the domain XML of VM \"%s\" is larger than %u bytes, the most vfio-claim reads; VM \"%s\" was not started"

enum vc_hostdev_kind {
        VC_HOSTDEV_PCI,       /* <hostdev type='pci'> */
        VC_HOSTDEV_INTERFACE, /* <interface type='hostdev'> */
        _VC_HOSTDEV_KIND_MAX,
};
const char *vc_hostdev_kind_to_string(enum vc_hostdev_kind k);

struct vc_domain_hostdev {
        enum vc_hostdev_kind kind;
        struct vc_pci_addr addr;
        bool managed; /* managed='yes' (libvirt's default for <interface>: no) */
};

struct vc_domain;

/* A USB device of the host in a domain: <hostdev mode='subsystem' type='usb'><source> with
 * <vendor id=/>, <product id=/> and/or <address bus= device=/> (libvirt's formatdomain). */
struct vc_domain_usb {
        bool has_ids, has_addr;
        unsigned vendor, product; /* has_ids */
        unsigned bus, device;     /* has_addr: busnum and devnum, as /sys/bus/usb shows them */
};

/* Does the element @e select the device @d (its ids, and its bus and device number when @d has
 * them)? An element without ids selects by address only; one with both needs both. */
bool vc_domain_usb_selects(const struct vc_domain_usb *e, const struct vc_domain_usb *d);
/* Does the domain list @d? */
bool vc_domain_has_usb(const struct vc_domain *dom, const struct vc_domain_usb *d);

/* Add one <hostdev mode='subsystem' type='usb'> for @d (its ids; its address when @d->has_addr),
 * with <source startupPolicy='@policy'> when @policy is not NULL, unless an element selects it
 * already; or remove every such element that selects @d. Output and errors as for
 * vc_domain_edit_hostdevs(). */
int vc_domain_edit_usb(const char *xml, size_t len, const struct vc_domain_usb *d, const char *policy, bool add,
                       char **ret_xml, char ***ret_changed, char **ret_error);

/* Whether the guest CPU a definition describes has 1 GiB pages (CPUID 0x80000001 EDX bit 26,
 * "pdpe1gb"): OVMF uses at most 40 address bits for its dynamic MMIO window without them. */
enum vc_domain_1g_pages {
        VC_DOMAIN_1G_PAGES_NO,   /* a named model without them (QEMU 7.2's definitions), no <cpu>
                                  * model (QEMU's qemu64), an unknown model, or the feature disabled */
        VC_DOMAIN_1G_PAGES_YES,  /* a named model with them, or <feature policy='require'|'force'> */
        VC_DOMAIN_1G_PAGES_HOST, /* as the host's CPU: host-passthrough, host-model, maximum, or
                                  * <feature policy='optional'> */
};

struct vc_domain {
        char *name;
        struct vc_domain_hostdev *hostdevs; /* document order */
        size_t n_hostdevs;
        /* What decides the guest's 64-bit PCI MMIO window (vc_domain_mmio64_window()). */
        bool efi;                  /* OVMF: <os firmware='efi'>, a pflash or OVMF/edk2 <loader> */
        uint64_t fw_cfg_mmio64_mib; /* <qemu:commandline> -fw_cfg opt/ovmf/X-PciMmio64Mb,string=N; 0 none */
        unsigned maxphysaddr_bits; /* <cpu><maxphysaddr mode='emulate' bits='N'/>; 0 none */
        bool maxphysaddr_passthrough; /* <maxphysaddr mode='passthrough'/> */
        enum vc_domain_1g_pages cpu_1g_pages; /* does the guest CPU have 1 GiB pages (CPUID pdpe1gb)? */
        uint64_t pcihole64_kib;    /* <controller type='pci'><pcihole64>; 0 none */
        bool emulated_display;     /* a <video> whose model is not 'none', or <graphics> without <video> */
        struct vc_domain_usb *usbs; /* <hostdev type='usb'>, document order */
        size_t n_usbs;
};

/* The 64-bit PCI MMIO window the guest firmware gives the devices, in bytes; 0 when the
 * firmware has no fixed window (SeaBIOS places 64-bit BARs above the guest's RAM, as far as
 * its physical address bits reach). For OVMF (tianocore edk2 OvmfPkg, PlatformInitLib):
 * X-PciMmio64Mb when set; else 1/8 of the guest's address space when <maxphysaddr
 * mode='emulate'> gives it 41 bits or more (at most 46 bits count, 40 when the guest CPU has no
 * 1 GiB pages: d->cpu_1g_pages, with @host_1g_pages for a CPU that is the host's), if that is
 * larger than the classic 32 GiB; else 32 GiB. <maxphysaddr mode='passthrough'/> depends on the
 * host's bits and <pcihole64> only sizes the window QEMU describes to the guest OS after the
 * firmware ran: neither is counted. Where edk2 releases differ (a 47-bit cap before
 * edk2-stable202308) the smaller window is returned: a fix written for it works on every release. */
uint64_t vc_domain_mmio64_window(const struct vc_domain *d, bool host_1g_pages);

/* The guest's CPU has 1 GiB pages: d->cpu_1g_pages, resolved with the host's for HOST. */
bool vc_domain_has_1g_pages(const struct vc_domain *d, bool host_1g_pages);

/* Set the OVMF 64-bit MMIO window of a domain XML document to @mib MiB: the
 * <qemu:commandline> arguments -fw_cfg opt/ovmf/X-PciMmio64Mb,string=@mib (the namespace
 * declared on <domain> when missing; an existing X-PciMmio64Mb argument is replaced). The new
 * document to *ret_xml, the <qemu:commandline> element written to *ret_element. Errors as for
 * vc_domain_edit_hostdevs(). */
/* Make the passed-through function @gpu the domain's display: every <video>'s <model> becomes
 * <model type='none'/> (a <video> with it is added when there is none), and the <hostdev> of
 * @gpu moves in front of the other host devices. The elements changed go to *ret_changed
 * (NULL-terminated, empty: nothing to do). -ENOENT when the domain does not pass @gpu through;
 * other errors as for vc_domain_edit_hostdevs(). */
int vc_domain_edit_primary(const char *xml, size_t len, const struct vc_pci_addr *gpu, char **ret_xml,
                           char ***ret_changed, char **ret_error);

int vc_domain_edit_mmio64(const char *xml, size_t len, uint64_t mib, char **ret_xml, char **ret_element,
                          char **ret_error);

/* Give the passed-through function @dev a <rom> element (the one it had is replaced):
 * <rom bar='@bar' file='@file'/>, each attribute only when non-NULL (libvirt's domain schema:
 * bar 'on' or 'off', file an absolute path). The <hostdev> as changed to *ret_element. -ENOENT when
 * the domain does not pass @dev through; other errors as for vc_domain_edit_hostdevs(). */
int vc_domain_edit_rom(const char *xml, size_t len, const struct vc_pci_addr *dev, const char *file, const char *bar,
                       char **ret_xml, char **ret_element, char **ret_error);

/* Parse @len bytes of @buf. Returns 0, -EBADMSG for malformed input (with *ret_error, when
 * non-NULL, set to one line such as "<hostdev> #2: <address> bus='0x100': out of range
 * (0..0xff)"), -EFBIG beyond VC_DOMAIN_XML_MAX, -ENOMEM. */
int vc_domain_parse(const char *buf, size_t len, struct vc_domain **ret, char **ret_error);
struct vc_domain *vc_domain_free(struct vc_domain *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_domain *, vc_domain_free);

/* Does the domain pass @addr through (either element)? */
bool vc_domain_has_hostdev(const struct vc_domain *d, const struct vc_pci_addr *addr);

/* The element "vfio-claim add" adds for one PCI function, without a trailing newline:
 * <hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x01'
 * slot='0x00' function='0x0'/></source></hostdev> (on separate, indented lines); with @guest, also
 * the guest address <address type='pci' domain=... bus=... slot=... function=.../> after
 * <source>, with multifunction='on' when @multifunction. */
int vc_domain_hostdev_xml(const struct vc_pci_addr *addr, const struct vc_pci_addr *guest, bool multifunction,
                          char **ret);

/* Edit a domain XML document: with @add, append one <hostdev> (as vc_domain_hostdev_xml()) for
 * every address in @addrs that the domain does not pass through yet, in address order. Two or more
 * functions of one card (one host slot), none of which the domain has yet, go into one guest slot
 * as functions 0, 1, ... (multifunction='on' on the first): on a q35 machine at slot 0 of a new
 * <controller type='pci' model='pcie-root-port'> (the next free index), otherwise at a free slot
 * (3 and up) of the root bus. Otherwise remove every <hostdev type='pci'> and
 * <interface type='hostdev'> whose source is one of @addrs, and a pcie-root-port controller that
 * one of them sat on when nothing else sits on it now. The new
 * document goes to *ret_xml; *ret_changed (may be NULL) receives a NULL-terminated list of the
 * elements added or removed (controllers included), each serialized as XML (empty list: nothing to do). Errors as for
 * vc_domain_parse(), and -EBADMSG when the document has no <devices> to add to. */
int vc_domain_edit_hostdevs(const char *xml, size_t len, const struct vc_pci_addr *addrs,
                            size_t n_addrs, bool add, char **ret_xml, char ***ret_changed,
                            char **ret_error);

/* Stop libxml2's generic error handler from printing to stderr in this process (other users of
 * libxml2 in the process, such as libvirt, report their errors their own way). */
void vc_xml_quiet(void);
