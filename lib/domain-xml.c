/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "domain-xml.h"
#include "xml-load.h"

/* Reading: never the network, never a DTD, never substitute entities (no XML_PARSE_NOENT,
 * XML_PARSE_DTDLOAD, XML_PARSE_HUGE); libxml2 prints nothing (NOERROR, NOWARNING). */
#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

static void xml_free_docp(xmlDocPtr *d) {
        if (*d)
                xmlFreeDoc(*d);
}
#define _cleanup_xml_doc_ _cleanup_(xml_free_docp)

static void xml_free_parser_ctxtp(xmlParserCtxtPtr *c) {
        if (*c)
                xmlFreeParserCtxt(*c);
}

static void xml_freep(xmlChar **p) {
        vc_xml_free(*p);
}
#define _cleanup_xml_free_ _cleanup_(xml_freep)

static void xml_discard(void *ctx, const char *fmt, ...) {}

void vc_xml_quiet(void) {
        xmlSetGenericErrorFunc(NULL, xml_discard);
}

static const char *const hostdev_kind_table[_VC_HOSTDEV_KIND_MAX] = {
        [VC_HOSTDEV_PCI] = "hostdev",
        [VC_HOSTDEV_INTERFACE] = "interface",
};

DEFINE_STRING_TABLE_TO_STRING(vc_hostdev_kind, enum vc_hostdev_kind, hostdev_kind_table, _VC_HOSTDEV_KIND_MAX)

struct vc_domain *vc_domain_free(struct vc_domain *d) {
        if (!d)
                return NULL;
        free(d->name);
        free(d->hostdevs);
        free(d->usbs);
        free(d);
        return NULL;
}

bool vc_domain_has_hostdev(const struct vc_domain *d, const struct vc_pci_addr *addr) {
        for (size_t i = 0; i < d->n_hostdevs; i++)
                if (vc_pci_addr_equal(&d->hostdevs[i].addr, addr))
                        return true;
        return false;
}

/* @s with control characters written as \xHH: a message quotes attribute values, and a
 * character reference such as "&#10;" puts any of them there. NULL on OOM (@s is freed). */
static char *escape_controls(char *s) {
        size_t n = 0;
        for (const char *p = s; *p; p++)
                n += (unsigned char) *p < 0x20 || *p == 0x7f;
        if (n == 0)
                return s;
        char *e = malloc(strlen(s) + 3 * n + 1), *o = e;
        if (e) {
                for (const char *p = s; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                o += sprintf(o, "\\x%02x", (unsigned) *p);
                        else
                                *o++ = *p;
                *o = '\0';
        }
        free(s);
        return e;
}

/* Set *ret_error (when wanted) to one line and return -EBADMSG. */
_printf_(2, 3) static int bad(char **ret_error, const char *fmt, ...) {
        if (ret_error) {
                va_list ap;
                char *s = NULL;
                va_start(ap, fmt);
                if (vasprintf(&s, fmt, ap) < 0)
                        s = NULL;
                va_end(ap);
                free(*ret_error);
                *ret_error = s ? escape_controls(s) : NULL;
        }
        return -EBADMSG;
}

static bool is_element(const xmlNode *n, const char *name) {
        return n && n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *) name);
}

static long prop_long(xmlNode *n, const char *name);
static bool prop_is(xmlNode *n, const char *name, const char *value);

static xmlNode *first_child(xmlNode *parent, const char *name) {
        for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
                if (is_element(c, name))
                        return c;
        return NULL;
}

/* An attribute as libvirt reads an unsigned number (strtoul with base 0): "0x1f" hexadecimal,
 * "017" octal, "31" decimal. Unlike strtoul, no sign and no blanks. -ENOENT when absent. */
static int prop_uint(xmlNode *n, const char *name, unsigned max, unsigned *ret, char **ret_value) {
        _cleanup_xml_free_ xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
        const char *s = (const char *) v, *p;
        unsigned base = 10;
        unsigned long value = 0;

        if (!v)
                return -ENOENT;
        *ret_value = strdup(s);
        if (!*ret_value)
                return -ENOMEM;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                p = s + 2;
        } else if (s[0] == '0' && s[1]) {
                base = 8;
                p = s + 1;
        } else
                p = s;
        if (!*p)
                return -EINVAL;
        for (; *p; p++) {
                unsigned digit;
                if (*p >= '0' && *p <= '9')
                        digit = (unsigned) (*p - '0');
                else if (*p >= 'a' && *p <= 'f')
                        digit = (unsigned) (*p - 'a' + 10);
                else if (*p >= 'A' && *p <= 'F')
                        digit = (unsigned) (*p - 'A' + 10);
                else
                        return -EINVAL;
                if (digit >= base)
                        return -EINVAL;
                value = value * base + digit;
                if (value > max)
                        return -ERANGE;
        }
        *ret = (unsigned) value;
        return 0;
}

static int parse_address(xmlNode *element, xmlNode *address, struct vc_pci_addr *ret,
                         char **ret_error) {
        static const struct {
                const char *name;
                unsigned max;
        } fields[] = {
                { "domain", 0xffff },
                { "bus", 0xff },
                { "slot", 0x1f },
                { "function", 0x7 },
        };
        unsigned values[ELEMENTSOF(fields)] = {};
        bool any = false;
        long line = xmlGetLineNo(address);
        const char *el = (const char *) element->name;

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                _cleanup_free_ char *text = NULL;
                int r = prop_uint(address, fields[i].name, fields[i].max, &values[i], &text);
                if (r == -ENOENT)
                        continue;
                if (r == -ENOMEM)
                        return r;
                if (r == -ERANGE)
                        return bad(ret_error, "line %ld: <%s> source <address %s='%s'>: out of range (at most 0x%x)",
                                   line, el, fields[i].name, text, fields[i].max);
                if (r < 0)
                        return bad(ret_error, "line %ld: <%s> source <address %s='%s'>: not a number",
                                   line, el, fields[i].name, text);
                any = true;
        }
        if (!any)
                return bad(ret_error, "line %ld: <%s> source <address>: no domain, bus, slot or function",
                           line, el);
        *ret = (struct vc_pci_addr){
                .domain = (uint16_t) values[0],
                .bus = (uint8_t) values[1],
                .slot = (uint8_t) values[2],
                .func = (uint8_t) values[3],
        };
        return 0;
}

/* The PCI address under <source> of a <hostdev type='pci'> or an <interface type='hostdev'>.
 * 1 when it is a PCI address, 0 when the source names something else (ignored). */
static int parse_source(xmlNode *element, struct vc_pci_addr *ret, char **ret_error) {
        long line = xmlGetLineNo(element);
        const char *el = (const char *) element->name;
        xmlNode *source = first_child(element, "source");
        if (!source)
                return bad(ret_error, "line %ld: <%s> has no <source>", line, el);
        xmlNode *address = first_child(source, "address");
        if (!address)
                return bad(ret_error, "line %ld: <%s> <source> has no <address>", line, el);
        _cleanup_xml_free_ xmlChar *type = xmlGetProp(address, (const xmlChar *) "type");
        if (type && !xmlStrEqual(type, (const xmlChar *) "pci")) {
                if (is_element(element, "interface"))
                        return 0; /* not a PCI function of the host */
                return bad(ret_error, "line %ld: <%s> source <address type='%s'>: not a PCI address",
                           line, el, (const char *) type);
        }
        int r = parse_address(element, address, ret, ret_error);
        return r < 0 ? r : 1;
}

static int parse_managed(xmlNode *element, bool *ret, char **ret_error) {
        _cleanup_xml_free_ xmlChar *m = xmlGetProp(element, (const xmlChar *) "managed");
        if (!m || xmlStrEqual(m, (const xmlChar *) "no"))
                *ret = false;
        else if (xmlStrEqual(m, (const xmlChar *) "yes"))
                *ret = true;
        else
                return bad(ret_error, "line %ld: <%s managed='%s'>: expected yes or no",
                           xmlGetLineNo(element), (const char *) element->name, (const char *) m);
        return 0;
}

/* Is this element a PCI function of the host? 1 yes (*ret filled), 0 no, <0 malformed. */
static int element_hostdev(xmlNode *n, struct vc_domain_hostdev *ret, char **ret_error) {
        struct vc_domain_hostdev h = {};
        int r;

        if (is_element(n, "hostdev")) {
                _cleanup_xml_free_ xmlChar *mode = xmlGetProp(n, (const xmlChar *) "mode");
                _cleanup_xml_free_ xmlChar *type = xmlGetProp(n, (const xmlChar *) "type");
                if (mode && !xmlStrEqual(mode, (const xmlChar *) "subsystem"))
                        return 0; /* mode='capabilities': block devices, consoles, host interfaces */
                if (!type)
                        return bad(ret_error, "line %ld: <hostdev> has no type", xmlGetLineNo(n));
                if (!xmlStrEqual(type, (const xmlChar *) "pci"))
                        return 0; /* usb, scsi, scsi_host, mdev */
                h.kind = VC_HOSTDEV_PCI;
        } else if (is_element(n, "interface")) {
                _cleanup_xml_free_ xmlChar *type = xmlGetProp(n, (const xmlChar *) "type");
                if (!type || !xmlStrEqual(type, (const xmlChar *) "hostdev"))
                        return 0;
                h.kind = VC_HOSTDEV_INTERFACE;
        } else
                return 0;

        if ((r = parse_managed(n, &h.managed, ret_error)) < 0)
                return r;
        r = parse_source(n, &h.addr, ret_error);
        if (r <= 0)
                return r;
        *ret = h;
        return 1;
}

/* libxml2 reports every error; the first one names the real problem ("Opening and ending tag
 * mismatch"), later ones are consequences ("Premature end of data"). */
struct first_error {
        bool set;
        int line;
        char message[256];
};

static void keep_first_error(void *user_data, xmlErrorPtr e) {
        xmlParserCtxtPtr ctxt = user_data;
        struct first_error *f = ctxt ? ctxt->_private : NULL;
        if (!f || f->set || !e || e->level < XML_ERR_ERROR)
                return;
        f->set = true;
        f->line = e->line;
        snprintf(f->message, sizeof f->message, "%s", e->message ? e->message : "");
        /* Some messages take two lines ("... indicate encoding !\nBytes: 0xBE ..."): one. */
        for (char *p = f->message; *p; p++)
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
        size_t l = strlen(f->message);
        while (l > 0 && (f->message[l - 1] == '\n' || f->message[l - 1] == ' '))
                f->message[--l] = 0;
}

/* A namespace name with a character no URI has: '<', '&', '"' or a control character, which
 * a character reference can put there. libxml2 writes namespace names back unescaped, so an
 * edited document would not parse again (libvirt would refuse it): refuse it when reading. */
static xmlNode *find_bad_namespace(xmlNode *n, const xmlNs **ret_ns) {
        for (; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                for (const xmlNs *ns = n->nsDef; ns; ns = ns->next)
                        for (const xmlChar *c = ns->href; c && *c; c++)
                                if (*c < 0x20 || *c == 0x7f || *c == '<' || *c == '&' || *c == '"') {
                                        *ret_ns = ns;
                                        return n;
                                }
                xmlNode *bad = find_bad_namespace(n->children, ret_ns);
                if (bad)
                        return bad;
        }
        return NULL;
}

static int read_doc(const char *buf, size_t len, xmlDocPtr *ret, char **ret_error) {
        struct first_error first = {};
        _cleanup_(xml_free_parser_ctxtp) xmlParserCtxtPtr ctxt = NULL;
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;

        if (len > VC_DOMAIN_XML_MAX) {
                bad(ret_error, "the domain XML is larger than %u bytes", VC_DOMAIN_XML_MAX);
                return -EFBIG;
        }
        if (len == 0)
                return bad(ret_error, "the domain XML is empty");
        if (vc_xml_load() < 0) {
                bad(ret_error, "%s", vc_xml_load_error());
                return -ELIBACC;
        }
        ctxt = xmlNewParserCtxt();
        if (!ctxt || !ctxt->sax)
                return -ENOMEM;
        ctxt->_private = &first;
        ctxt->sax->serror = keep_first_error;
        doc = xmlCtxtReadMemory(ctxt, buf, (int) len, "domain.xml", NULL, PARSE_OPTIONS);
        if (!doc || !ctxt->wellFormed) {
                if (first.set)
                        return bad(ret_error, "line %d: malformed XML: %s", first.line, first.message);
                return bad(ret_error, "malformed XML");
        }
        if (doc->intSubset || doc->extSubset)
                return bad(ret_error, "a domain XML must not have a DOCTYPE");
        xmlNode *root = xmlDocGetRootElement(doc);
        if (!is_element(root, "domain"))
                return bad(ret_error, "the root element is <%s>, not <domain>",
                           root ? (const char *) root->name : "");
        *ret = TAKE_PTR(doc);
        return 0;
}

/* read_doc() for a document that is edited and written back: also refused when a namespace
 * name would not survive the writing (find_bad_namespace()). Reading alone (the hook) accepts
 * it, as libvirt gave it. */
static int read_doc_to_edit(const char *buf, size_t len, xmlDocPtr *ret, char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        int r = read_doc(buf, len, &doc, ret_error);
        if (r < 0)
                return r;
        const xmlNs *ns = NULL;
        xmlNode *at = find_bad_namespace(xmlDocGetRootElement(doc), &ns);
        if (at)
                return bad(ret_error, "line %ld: xmlns%s%s on <%s> is not a URI (it has '<', '&', '\"' or a control character)",
                           xmlGetLineNo(at), ns->prefix ? ":" : "", ns->prefix ? (const char *) ns->prefix : "",
                           (const char *) at->name);
        *ret = TAKE_PTR(doc);
        return 0;
}

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"
#define MMIO64_FW_CFG "opt/ovmf/X-PciMmio64Mb"

static xmlChar *prop(xmlNode *n, const char *name) {
        return n ? xmlGetProp(n, (const xmlChar *) name) : NULL;
}

static bool is_qemu_element(const xmlNode *n, const char *name) {
        return is_element(n, name) && n->ns && xmlStrEqual(n->ns->href, (const xmlChar *) QEMU_NS);
}

/* "[name=]opt/ovmf/X-PciMmio64Mb,string=N": N, else 0. */
static uint64_t fw_cfg_mmio64(const char *v) {
        if (strncmp(v, "name=", 5) == 0)
                v += 5;
        if (strncmp(v, MMIO64_FW_CFG ",string=", strlen(MMIO64_FW_CFG ",string=")) != 0)
                return 0;
        v += strlen(MMIO64_FW_CFG ",string=");
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        return errno || *end || end == v || *v == '-' ? 0 : x;
}

/* QEMU's named x86 CPU models whose definition has pdpe1gb, as QEMU 7.2 (Debian 12) expands
 * them (QMP query-cpu-model-expansion, type "full"): a model whose name starts with one of these
 * (its versions and -IBRS/-noTSX variants have it too). Every other model lacks it. */
static const char *const models_with_1g_pages[] = {
        "Cascadelake-Server", "Cooperlake", "Denverton", "Dhyana", "EPYC", "Icelake-Server",
        "KnightsMill", "Opteron_G4", "Opteron_G5", "Skylake-Server", "Snowridge", "phenom",
};

static enum vc_domain_1g_pages read_cpu_1g_pages(xmlNode *cpu) {
        _cleanup_xml_free_ xmlChar *mode = prop(cpu, "mode");
        enum vc_domain_1g_pages pages = VC_DOMAIN_1G_PAGES_NO;
        if (mode && (xmlStrEqual(mode, (const xmlChar *) "host-passthrough") ||
                     xmlStrEqual(mode, (const xmlChar *) "host-model") ||
                     xmlStrEqual(mode, (const xmlChar *) "maximum")))
                pages = VC_DOMAIN_1G_PAGES_HOST;
        else {
                xmlNode *model = first_child(cpu, "model");
                _cleanup_xml_free_ xmlChar *name = model ? xmlNodeGetContent(model) : NULL;
                for (size_t i = 0; name && i < ELEMENTSOF(models_with_1g_pages); i++)
                        if (startswith((const char *) name, models_with_1g_pages[i]))
                                pages = VC_DOMAIN_1G_PAGES_YES;
        }
        for (xmlNode *f = cpu ? cpu->children : NULL; f; f = f->next) {
                if (!is_element(f, "feature") || !prop_is(f, "name", "pdpe1gb"))
                        continue;
                _cleanup_xml_free_ xmlChar *policy = prop(f, "policy"); /* libvirt's default: require */
                if (!policy || xmlStrEqual(policy, (const xmlChar *) "require") ||
                    xmlStrEqual(policy, (const xmlChar *) "force"))
                        pages = VC_DOMAIN_1G_PAGES_YES;
                else if (xmlStrEqual(policy, (const xmlChar *) "disable") ||
                         xmlStrEqual(policy, (const xmlChar *) "forbid"))
                        pages = VC_DOMAIN_1G_PAGES_NO;
                else if (xmlStrEqual(policy, (const xmlChar *) "optional") && pages == VC_DOMAIN_1G_PAGES_NO)
                        pages = VC_DOMAIN_1G_PAGES_HOST;
        }
        return pages;
}

static void read_window_facts(xmlNode *root, struct vc_domain *d) {
        xmlNode *os = first_child(root, "os");
        _cleanup_xml_free_ xmlChar *fw = prop(os, "firmware");
        xmlNode *loader = first_child(os, "loader");
        _cleanup_xml_free_ xmlChar *ltype = prop(loader, "type");
        _cleanup_xml_free_ xmlChar *lpath = loader ? xmlNodeGetContent(loader) : NULL;
        d->efi = (fw && xmlStrEqual(fw, (const xmlChar *) "efi")) || (ltype && xmlStrEqual(ltype, (const xmlChar *) "pflash")) ||
                 (lpath && (strstr((const char *) lpath, "OVMF") || strstr((const char *) lpath, "ovmf") ||
                            strstr((const char *) lpath, "edk2")));

        d->cpu_1g_pages = read_cpu_1g_pages(first_child(root, "cpu"));
        xmlNode *mpa = first_child(first_child(root, "cpu"), "maxphysaddr");
        _cleanup_xml_free_ xmlChar *mode = prop(mpa, "mode");
        if (mode && xmlStrEqual(mode, (const xmlChar *) "passthrough"))
                d->maxphysaddr_passthrough = true;
        else if (mode && xmlStrEqual(mode, (const xmlChar *) "emulate")) {
                long bits = prop_long(mpa, "bits");
                d->maxphysaddr_bits = bits > 0 && bits <= 64 ? (unsigned) bits : 0;
        }

        for (xmlNode *devs = root->children; devs; devs = devs->next)
                for (xmlNode *c = is_element(devs, "devices") ? devs->children : NULL; c; c = c->next) {
                        if (!is_element(c, "controller") || !prop_is(c, "type", "pci"))
                                continue;
                        xmlNode *hole = first_child(c, "pcihole64");
                        _cleanup_xml_free_ xmlChar *v = hole ? xmlNodeGetContent(hole) : NULL;
                        _cleanup_xml_free_ xmlChar *unit = prop(hole, "unit");
                        if (!v)
                                continue;
                        unsigned long long x = strtoull((const char *) v, NULL, 10);
                        if (unit && (xmlStrEqual(unit, (const xmlChar *) "MiB") || xmlStrEqual(unit, (const xmlChar *) "M")))
                                x <<= 10;
                        else if (unit && (xmlStrEqual(unit, (const xmlChar *) "GiB") || xmlStrEqual(unit, (const xmlChar *) "G")))
                                x <<= 20;
                        d->pcihole64_kib = x;
                }

        bool video = false, graphics = false;
        for (xmlNode *devs = root->children; devs; devs = devs->next)
                for (xmlNode *c = is_element(devs, "devices") ? devs->children : NULL; c; c = c->next) {
                        graphics |= is_element(c, "graphics");
                        if (!is_element(c, "video"))
                                continue;
                        video = true;
                        xmlNode *model = first_child(c, "model");
                        if (!model || !prop_is(model, "type", "none"))
                                d->emulated_display = true;
                }
        if (!video && graphics)
                d->emulated_display = true;

        for (xmlNode *cl = root->children; cl; cl = cl->next) {
                if (!is_qemu_element(cl, "commandline"))
                        continue;
                bool after_fw_cfg = false;
                for (xmlNode *a = cl->children; a; a = a->next) {
                        if (!is_qemu_element(a, "arg"))
                                continue;
                        _cleanup_xml_free_ xmlChar *v = prop(a, "value");
                        if (!v)
                                continue;
                        if (after_fw_cfg && fw_cfg_mmio64((const char *) v))
                                d->fw_cfg_mmio64_mib = fw_cfg_mmio64((const char *) v);
                        after_fw_cfg = xmlStrEqual(v, (const xmlChar *) "-fw_cfg");
                }
        }
}

bool vc_domain_has_1g_pages(const struct vc_domain *d, bool host_1g_pages) {
        return d->cpu_1g_pages == VC_DOMAIN_1G_PAGES_YES ||
               (d->cpu_1g_pages == VC_DOMAIN_1G_PAGES_HOST && host_1g_pages);
}

uint64_t vc_domain_mmio64_window(const struct vc_domain *d, bool host_1g_pages) {
        if (!d->efi)
                return 0;
        if (d->fw_cfg_mmio64_mib)
                return d->fw_cfg_mmio64_mib << 20;
        uint64_t classic = UINT64_C(32) << 30;
        if (d->maxphysaddr_bits >= 41) {
                unsigned cap = vc_domain_has_1g_pages(d, host_1g_pages) ? 46 : 40;
                unsigned bits = d->maxphysaddr_bits > cap ? cap : d->maxphysaddr_bits;
                uint64_t dynamic = UINT64_C(1) << (bits - 3);
                return dynamic > classic ? dynamic : classic;
        }
        return classic;
}

/* ------------------------------------------------------------ USB host devices */

static int doc_to_string(xmlDocPtr doc, char **ret);
static char *node_to_string(xmlDocPtr doc, xmlNode *n);

/* The element @n leaves the document, and the indentation in front of it as well. */
static void remove_node_and_indent(xmlNode *n) {
        if (n->prev && n->prev->type == XML_TEXT_NODE && xmlIsBlankNode(n->prev)) {
                xmlNode *blank = n->prev;
                xmlUnlinkNode(blank);
                xmlFreeNode(blank);
        }
        xmlUnlinkNode(n);
        xmlFreeNode(n);
}

static bool is_usb_hostdev(xmlNode *n) {
        return is_element(n, "hostdev") && prop_is(n, "type", "usb") &&
               (!xmlHasProp(n, (const xmlChar *) "mode") || prop_is(n, "mode", "subsystem"));
}

/* 1 and the device for a <hostdev type='usb'>, 0 for any other element. */
static int element_usb(xmlNode *n, struct vc_domain_usb *ret, char **ret_error) {
        struct vc_domain_usb u = {};
        _cleanup_free_ char *v = NULL;
        int r;
        if (!is_usb_hostdev(n))
                return 0;
        xmlNode *source = first_child(n, "source"), *vendor = first_child(source, "vendor"),
                *product = first_child(source, "product"), *address = first_child(source, "address");
        if (vendor || product) {
                if ((r = prop_uint(vendor, "id", 0xffff, &u.vendor, &v)) < 0 ||
                    (free(v), v = NULL, r = prop_uint(product, "id", 0xffff, &u.product, &v)) < 0)
                        return r == -ENOMEM ? r
                                            : bad(ret_error, "line %ld: <hostdev type='usb'>: <vendor> and <product> need an id (0..0xffff)",
                                                  xmlGetLineNo(n));
                u.has_ids = true;
        }
        if (address) {
                free(v);
                v = NULL;
                if ((r = prop_uint(address, "bus", 0xffff, &u.bus, &v)) < 0 ||
                    (free(v), v = NULL, r = prop_uint(address, "device", 0xffff, &u.device, &v)) < 0)
                        return r == -ENOMEM ? r
                                            : bad(ret_error, "line %ld: <hostdev type='usb'>: <address> needs bus and device",
                                                  xmlGetLineNo(n));
                u.has_addr = true;
        }
        if (!u.has_ids && !u.has_addr)
                return bad(ret_error, "line %ld: <hostdev type='usb'> has no <vendor>/<product> and no <address>",
                           xmlGetLineNo(n));
        *ret = u;
        return 1;
}

bool vc_domain_usb_selects(const struct vc_domain_usb *e, const struct vc_domain_usb *d) {
        if (!e || !d)
                return false;
        if (e->has_ids && (!d->has_ids || e->vendor != d->vendor || e->product != d->product))
                return false;
        if (e->has_addr && d->has_addr && (e->bus != d->bus || e->device != d->device))
                return false;
        return e->has_ids || (e->has_addr && d->has_addr);
}

bool vc_domain_has_usb(const struct vc_domain *dom, const struct vc_domain_usb *d) {
        for (size_t i = 0; dom && i < dom->n_usbs; i++)
                if (vc_domain_usb_selects(&dom->usbs[i], d))
                        return true;
        return false;
}

static int add_usb_node(xmlNode *devices, const struct vc_domain_usb *d, const char *policy) {
        char v[3][16];
        xmlNode *hostdev = xmlNewNode(NULL, (const xmlChar *) "hostdev");
        if (!hostdev)
                return -ENOMEM;
        xmlAddChild(devices, hostdev);
        xmlNode *source = xmlNewChild(hostdev, NULL, (const xmlChar *) "source", NULL);
        xmlNode *vendor = source ? xmlNewChild(source, NULL, (const xmlChar *) "vendor", NULL) : NULL;
        xmlNode *product = source ? xmlNewChild(source, NULL, (const xmlChar *) "product", NULL) : NULL;
        snprintf(v[0], sizeof v[0], "0x%04x", d->vendor);
        snprintf(v[1], sizeof v[1], "0x%04x", d->product);
        if (!vendor || !product || !xmlNewProp(hostdev, (const xmlChar *) "mode", (const xmlChar *) "subsystem") ||
            !xmlNewProp(hostdev, (const xmlChar *) "type", (const xmlChar *) "usb") ||
            !xmlNewProp(hostdev, (const xmlChar *) "managed", (const xmlChar *) "no") ||
            (policy && !xmlNewProp(source, (const xmlChar *) "startupPolicy", (const xmlChar *) policy)) ||
            !xmlNewProp(vendor, (const xmlChar *) "id", (const xmlChar *) v[0]) ||
            !xmlNewProp(product, (const xmlChar *) "id", (const xmlChar *) v[1]))
                return -ENOMEM;
        if (!d->has_addr)
                return 0;
        snprintf(v[0], sizeof v[0], "%u", d->bus);
        snprintf(v[2], sizeof v[2], "%u", d->device);
        xmlNode *a = xmlNewChild(source, NULL, (const xmlChar *) "address", NULL);
        if (!a || !xmlNewProp(a, (const xmlChar *) "bus", (const xmlChar *) v[0]) ||
            !xmlNewProp(a, (const xmlChar *) "device", (const xmlChar *) v[2]))
                return -ENOMEM;
        return 0;
}

int vc_domain_edit_usb(const char *xml, size_t len, const struct vc_domain_usb *d, const char *policy, bool add,
                       char **ret_xml, char ***ret_changed, char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        size_t n_changed = 0;
        bool present = false;
        int r;

        if (!d || !d->has_ids)
                return -EINVAL;
        if ((r = read_doc_to_edit(xml, len, &doc, ret_error)) < 0)
                return r;
        xmlNode *root = xmlDocGetRootElement(doc);
        for (xmlNode *devs = root->children; devs; devs = devs->next) {
                if (!is_element(devs, "devices"))
                        continue;
                xmlNode *next;
                for (xmlNode *n = devs->children; n; n = next) {
                        struct vc_domain_usb u;
                        next = n->next;
                        if ((r = element_usb(n, &u, ret_error)) < 0)
                                return r;
                        if (r == 0 || !vc_domain_usb_selects(&u, d))
                                continue;
                        present = true;
                        if (add)
                                continue;
                        if ((r = strv_push(&changed, &n_changed, node_to_string(doc, n))) < 0)
                                return r;
                        remove_node_and_indent(n);
                }
        }
        if (add && !present) {
                xmlNode *devices = first_child(root, "devices");
                if (!devices && !(devices = xmlNewChild(root, NULL, (const xmlChar *) "devices", NULL)))
                        return -ENOMEM;
                if ((r = add_usb_node(devices, d, policy)) < 0)
                        return r;
                if ((r = strv_push(&changed, &n_changed, node_to_string(doc, devices->last))) < 0)
                        return r;
        }
        if (!changed && !(changed = calloc(1, sizeof *changed)))
                return -ENOMEM;
        if (doc_to_string(doc, ret_xml) < 0)
                return -ENOMEM;
        if (ret_changed)
                *ret_changed = TAKE_PTR(changed);
        return 0;
}

int vc_domain_parse(const char *buf, size_t len, struct vc_domain **ret, char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        int r;

        r = read_doc(buf, len, &doc, ret_error);
        if (r < 0)
                return r;
        xmlNode *root = xmlDocGetRootElement(doc);

        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        xmlNode *name = first_child(root, "name");
        if (name) {
                _cleanup_xml_free_ xmlChar *s = xmlNodeGetContent(name);
                if (s && *s && !(d->name = strdup((const char *) s)))
                        return -ENOMEM;
        }
        if (!d->name)
                return bad(ret_error, "<domain> has no <name>");
        read_window_facts(root, d);

        for (xmlNode *devices = root->children; devices; devices = devices->next) {
                if (!is_element(devices, "devices"))
                        continue;
                for (xmlNode *n = devices->children; n; n = n->next) {
                        struct vc_domain_hostdev h;
                        struct vc_domain_usb u;
                        r = element_usb(n, &u, ret_error);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                struct vc_domain_usb *a = realloc(d->usbs, (d->n_usbs + 1) * sizeof *a);
                                if (!a)
                                        return -ENOMEM;
                                d->usbs = a;
                                d->usbs[d->n_usbs++] = u;
                                continue;
                        }
                        r = element_hostdev(n, &h, ret_error);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                continue;
                        struct vc_domain_hostdev *a = realloc(d->hostdevs, (d->n_hostdevs + 1) * sizeof *a);
                        if (!a)
                                return -ENOMEM;
                        d->hostdevs = a;
                        d->hostdevs[d->n_hostdevs++] = h;
                }
        }
        *ret = TAKE_PTR(d);
        return 0;
}

int vc_domain_hostdev_xml(const struct vc_pci_addr *a, const struct vc_pci_addr *guest, bool multifunction,
                          char **ret) {
        char g[128] = "";
        if (guest)
                snprintf(g, sizeof g,
                         "  <address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'%s/>\n",
                         guest->domain, guest->bus, guest->slot, guest->func, multifunction ? " multifunction='on'" : "");
        int n = asprintf(ret,
                         "<hostdev mode='subsystem' type='pci' managed='no'>\n"
                         "  <source>\n"
                         "    <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
                         "  </source>\n"
                         "%s"
                         "</hostdev>",
                         a->domain, a->bus, a->slot, a->func, g);
        return n < 0 ? -ENOMEM : 0;
}

/* The whole document as text, in a string of ours (free()). */
static int doc_to_string(xmlDocPtr doc, char **ret) {
        xmlChar *mem = NULL;
        int size = 0;
        xmlDocDumpMemory(doc, &mem, &size);
        if (!mem)
                return -ENOMEM;
        *ret = strndup((const char *) mem, (size_t) size);
        vc_xml_free(mem);
        return *ret ? 0 : -ENOMEM;
}

static char *node_to_string(xmlDocPtr doc, xmlNode *n) {
        xmlBufferPtr b = xmlBufferCreate();
        char *s = NULL;
        if (!b)
                return NULL;
        if (xmlNodeDump(b, doc, n, 0, 0) >= 0)
                s = strdup((const char *) xmlBufferContent(b));
        xmlBufferFree(b);
        return s;
}

static int add_hostdev_node(xmlNode *devices, const struct vc_pci_addr *a, const struct vc_pci_addr *guest,
                            bool multifunction) {
        char v[4][8];
        xmlNode *hostdev = xmlNewNode(NULL, (const xmlChar *) "hostdev");
        if (!hostdev)
                return -ENOMEM;
        xmlAddChild(devices, hostdev);
        snprintf(v[0], sizeof v[0], "0x%04x", a->domain);
        snprintf(v[1], sizeof v[1], "0x%02x", a->bus);
        snprintf(v[2], sizeof v[2], "0x%02x", a->slot);
        snprintf(v[3], sizeof v[3], "0x%x", a->func);
        xmlNode *source = xmlNewChild(hostdev, NULL, (const xmlChar *) "source", NULL);
        xmlNode *address = source ? xmlNewChild(source, NULL, (const xmlChar *) "address", NULL) : NULL;
        if (!address ||
            !xmlNewProp(hostdev, (const xmlChar *) "mode", (const xmlChar *) "subsystem") ||
            !xmlNewProp(hostdev, (const xmlChar *) "type", (const xmlChar *) "pci") ||
            !xmlNewProp(hostdev, (const xmlChar *) "managed", (const xmlChar *) "no") ||
            !xmlNewProp(address, (const xmlChar *) "domain", (const xmlChar *) v[0]) ||
            !xmlNewProp(address, (const xmlChar *) "bus", (const xmlChar *) v[1]) ||
            !xmlNewProp(address, (const xmlChar *) "slot", (const xmlChar *) v[2]) ||
            !xmlNewProp(address, (const xmlChar *) "function", (const xmlChar *) v[3]))
                return -ENOMEM;
        if (!guest)
                return 0;
        snprintf(v[0], sizeof v[0], "0x%04x", guest->domain);
        snprintf(v[1], sizeof v[1], "0x%02x", guest->bus);
        snprintf(v[2], sizeof v[2], "0x%02x", guest->slot);
        snprintf(v[3], sizeof v[3], "0x%x", guest->func);
        xmlNode *g = xmlNewChild(hostdev, NULL, (const xmlChar *) "address", NULL);
        if (!g || !xmlNewProp(g, (const xmlChar *) "type", (const xmlChar *) "pci") ||
            !xmlNewProp(g, (const xmlChar *) "domain", (const xmlChar *) v[0]) ||
            !xmlNewProp(g, (const xmlChar *) "bus", (const xmlChar *) v[1]) ||
            !xmlNewProp(g, (const xmlChar *) "slot", (const xmlChar *) v[2]) ||
            !xmlNewProp(g, (const xmlChar *) "function", (const xmlChar *) v[3]) ||
            (multifunction && !xmlNewProp(g, (const xmlChar *) "multifunction", (const xmlChar *) "on")))
                return -ENOMEM;
        return 0;
}

/* A number attribute read as libvirt reads it (base 0); -1 when absent or not a number. */
static long prop_long(xmlNode *n, const char *name) {
        _cleanup_xml_free_ xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
        if (!v || !*v)
                return -1;
        char *end;
        errno = 0;
        unsigned long x = strtoul((const char *) v, &end, 0);
        return errno || *end || x > 0xffff ? -1 : (long) x;
}

static bool prop_is(xmlNode *n, const char *name, const char *value) {
        _cleanup_xml_free_ xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
        return v && xmlStrEqual(v, (const xmlChar *) value);
}

/* Guest PCI addresses in the subtree of @n: every <address type='pci'> that is not a <source>'s
 * (those name the host's device). @f is called with the address element. */
static void walk_guest_addresses(xmlNode *n, void (*f)(xmlNode *address, void *userdata), void *userdata) {
        for (xmlNode *c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE || is_element(c, "source"))
                        continue;
                if (is_element(c, "address") && prop_is(c, "type", "pci"))
                        f(c, userdata);
                else
                        walk_guest_addresses(c, f, userdata);
        }
}

static void mark_bus0_slot(xmlNode *a, void *userdata) {
        bool *used = userdata;
        long slot = prop_long(a, "slot");
        if (prop_long(a, "domain") <= 0 && prop_long(a, "bus") <= 0 && slot >= 0 && slot < 32)
                used[slot] = true;
}

struct bus_use {
        long bus;
        bool used;
};
static void mark_bus_use(xmlNode *a, void *userdata) {
        struct bus_use *u = userdata;
        if (prop_long(a, "bus") == u->bus)
                u->used = true;
}

static bool machine_is_q35(xmlNode *root) {
        xmlNode *type = first_child(first_child(root, "os"), "type");
        _cleanup_xml_free_ xmlChar *m = type ? xmlGetProp(type, (const xmlChar *) "machine") : NULL;
        return m && strstr((const char *) m, "q35");
}

/* The guest slot for one multi-function card: on q35 a new PCIe root port (the next free PCI
 * controller index; the card sits at its slot 0), otherwise a free slot of the root bus (from 3:
 * libvirt keeps 1 for the PIIX3 functions and 2 for the primary video on i440fx). The
 * controller added is appended to *changed. -ENOSPC when no slot is left. */
static int guest_slot(xmlDocPtr doc, xmlNode *root, xmlNode *devices, bool used0[static 32], char ***changed,
                      size_t *n_changed, struct vc_pci_addr *ret) {
        if (machine_is_q35(root)) {
                long index = 0;
                for (xmlNode *c = devices->children; c; c = c->next)
                        if (is_element(c, "controller") && prop_is(c, "type", "pci") && prop_long(c, "index") > index)
                                index = prop_long(c, "index");
                if (index >= 0xff)
                        return -ENOSPC;
                char v[24];
                snprintf(v, sizeof v, "%ld", index + 1);
                xmlNode *ctl = xmlNewNode(NULL, (const xmlChar *) "controller");
                if (!ctl)
                        return -ENOMEM;
                xmlAddChild(devices, ctl);
                if (!xmlNewProp(ctl, (const xmlChar *) "type", (const xmlChar *) "pci") ||
                    !xmlNewProp(ctl, (const xmlChar *) "index", (const xmlChar *) v) ||
                    !xmlNewProp(ctl, (const xmlChar *) "model", (const xmlChar *) "pcie-root-port"))
                        return -ENOMEM;
                int r = strv_push(changed, n_changed, node_to_string(doc, ctl));
                if (r < 0)
                        return r;
                *ret = (struct vc_pci_addr){ .bus = (uint8_t) (index + 1) };
                return 0;
        }
        for (unsigned slot = 3; slot < 32; slot++)
                if (!used0[slot]) {
                        used0[slot] = true;
                        *ret = (struct vc_pci_addr){ .slot = (uint8_t) slot };
                        return 0;
                }
        return -ENOSPC;
}

static int cmp_addr(const void *a, const void *b) {
        return vc_pci_addr_compare(a, b);
}

/* What an edit of the PCI host devices works on: the document, its first <devices>, and the
 * elements added or removed so far, as text in the order of the edit. */
struct hostdev_edit {
        xmlDocPtr doc;
        xmlNode *root, *devices;
        char **changed;
        size_t n_changed;
};

static void hostdev_edit_done(struct hostdev_edit *e) {
        xml_free_docp(&e->doc);
        strv_free(e->changed);
}

static bool addr_listed(const struct vc_pci_addr *v, size_t n, const struct vc_pci_addr *a) {
        for (size_t k = 0; k < n; k++)
                if (vc_pci_addr_equal(&v[k], a))
                        return true;
        return false;
}

/* Functions of one card: the same domain, bus and slot. */
static bool same_card(const struct vc_pci_addr *a, const struct vc_pci_addr *b) {
        return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot;
}

/* What the domain has: the host PCI devices of its <hostdev>s appended to *have, and the slots
 * of the guest's root bus in use marked in @used0. */
static int read_present_hostdevs(xmlNode *root, bool used0[static 32], struct vc_pci_addr **have,
                                 size_t *n_have, char **ret_error) {
        for (xmlNode *devs = root->children; devs; devs = devs->next) {
                if (!is_element(devs, "devices"))
                        continue;
                walk_guest_addresses(devs, mark_bus0_slot, used0);
                for (xmlNode *n = devs->children; n; n = n->next) {
                        struct vc_domain_hostdev h;
                        int r = element_hostdev(n, &h, ret_error);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                continue;
                        struct vc_pci_addr *a = realloc(*have, (*n_have + 1) * sizeof *a);
                        if (!a)
                                return -ENOMEM;
                        *have = a;
                        (*have)[(*n_have)++] = h.addr;
                }
        }
        return 0;
}

/* @addrs that the domain does not have, each once, sorted (the functions of one card next to
 * each other) into @todo, which has room for @n_addrs. Returns how many. */
static size_t hostdevs_to_add(const struct vc_pci_addr *addrs, size_t n_addrs, const struct vc_pci_addr *have,
                              size_t n_have, struct vc_pci_addr *todo) {
        size_t n_todo = 0;
        for (size_t i = 0; i < n_addrs; i++)
                if (!addr_listed(have, n_have, &addrs[i]) && !addr_listed(todo, n_todo, &addrs[i]))
                        todo[n_todo++] = addrs[i];
        qsort(todo, n_todo, sizeof *todo, cmp_addr);
        return n_todo;
}

/* The @n functions @card[0..n) of one card go into one guest slot, as functions 0, 1, ... with
 * multifunction='on' on function 0, as the card looks on the host. When the domain has a
 * function of the card already (in @have), libvirt placed it: the rest is left to libvirt as
 * well, as is a card of one function. */
static int add_card(struct hostdev_edit *e, const struct vc_pci_addr *card, size_t n, const struct vc_pci_addr *have,
                    size_t n_have, bool used0[static 32], char **ret_error) {
        struct vc_pci_addr guest = {};
        bool one_slot = n >= 2;
        int r;

        for (size_t m = 0; m < n_have && one_slot; m++)
                one_slot = !same_card(&have[m], &card[0]);
        if (one_slot) {
                r = guest_slot(e->doc, e->root, e->devices, used0, &e->changed, &e->n_changed, &guest);
                if (r == -ENOSPC)
                        return bad(ret_error, "no free guest PCI slot for the functions of %s",
                                   VC_PCI_ADDR_TO_STRING(&card[0]));
                if (r < 0)
                        return r;
        }
        for (size_t m = 0; m < n; m++) {
                struct vc_pci_addr g = guest;
                g.func = (uint8_t) m;
                char *s = NULL;
                if ((r = vc_domain_hostdev_xml(&card[m], one_slot ? &g : NULL, one_slot && m == 0, &s)) < 0 ||
                    (r = strv_push(&e->changed, &e->n_changed, s)) < 0 ||
                    (r = add_hostdev_node(e->devices, &card[m], one_slot ? &g : NULL, one_slot && m == 0)) < 0)
                        return r;
        }
        return 0;
}

static int add_hostdevs(struct hostdev_edit *e, const struct vc_pci_addr *addrs, size_t n_addrs,
                        char **ret_error) {
        _cleanup_free_ struct vc_pci_addr *have = NULL, *todo = calloc(n_addrs + 1, sizeof *todo);
        size_t n_have = 0, n_todo;
        bool used0[32] = {};
        int r;

        if (!todo)
                return -ENOMEM;
        r = read_present_hostdevs(e->root, used0, &have, &n_have, ret_error);
        if (r < 0)
                return r;
        n_todo = hostdevs_to_add(addrs, n_addrs, have, n_have, todo);
        for (size_t i = 0, k; i < n_todo; i = k) {
                k = i + 1;
                while (k < n_todo && same_card(&todo[k], &todo[i]))
                        k++;
                r = add_card(e, &todo[i], k - i, have, n_have, used0, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The guest buses (above 0) of removed <hostdev>s: the PCIe root ports they may have sat on.
 * Buses past the first 64 are not looked at. */
struct guest_buses {
        long bus[64];
        size_t n;
};

static void note_guest_buses(xmlNode *hostdev, struct guest_buses *b) {
        for (xmlNode *c = hostdev->children; c; c = c->next)
                if (is_element(c, "address") && prop_is(c, "type", "pci") && prop_long(c, "bus") > 0 &&
                    b->n < ELEMENTSOF(b->bus))
                        b->bus[b->n++] = prop_long(c, "bus");
}

/* A PCIe root port the removed functions sat on, now empty, goes with them. */
static int remove_empty_root_ports(struct hostdev_edit *e, const struct guest_buses *b) {
        for (size_t i = 0; i < b->n; i++) {
                struct bus_use u = { .bus = b->bus[i] };
                walk_guest_addresses(e->root, mark_bus_use, &u);
                if (u.used)
                        continue;
                xmlNode *next;
                for (xmlNode *c = e->devices->children; c; c = next) {
                        next = c->next;
                        if (!is_element(c, "controller") || !prop_is(c, "type", "pci") ||
                            !prop_is(c, "model", "pcie-root-port") || prop_long(c, "index") != b->bus[i])
                                continue;
                        int r = strv_push(&e->changed, &e->n_changed, node_to_string(e->doc, c));
                        if (r < 0)
                                return r;
                        remove_node_and_indent(c);
                }
        }
        return 0;
}

static int remove_hostdevs(struct hostdev_edit *e, const struct vc_pci_addr *addrs, size_t n_addrs,
                           char **ret_error) {
        struct guest_buses buses = {};
        for (xmlNode *devs = e->root->children; devs; devs = devs->next) {
                if (!is_element(devs, "devices"))
                        continue;
                xmlNode *next;
                for (xmlNode *n = devs->children; n; n = next) {
                        struct vc_domain_hostdev h;
                        next = n->next;
                        int r = element_hostdev(n, &h, ret_error);
                        if (r < 0)
                                return r;
                        if (r == 0 || !addr_listed(addrs, n_addrs, &h.addr))
                                continue;
                        if ((r = strv_push(&e->changed, &e->n_changed, node_to_string(e->doc, n))) < 0)
                                return r;
                        note_guest_buses(n, &buses);
                        remove_node_and_indent(n);
                }
        }
        return remove_empty_root_ports(e, &buses);
}

int vc_domain_edit_hostdevs(const char *xml, size_t len, const struct vc_pci_addr *addrs,
                            size_t n_addrs, bool add, char **ret_xml, char ***ret_changed,
                            char **ret_error) {
        _cleanup_(hostdev_edit_done) struct hostdev_edit e = {};
        int r;

        r = read_doc_to_edit(xml, len, &e.doc, ret_error);
        if (r < 0)
                return r;
        e.root = xmlDocGetRootElement(e.doc);
        e.devices = first_child(e.root, "devices");
        if (!e.devices && add && !(e.devices = xmlNewChild(e.root, NULL, (const xmlChar *) "devices", NULL)))
                return -ENOMEM;
        if (add)
                r = add_hostdevs(&e, addrs, n_addrs, ret_error);
        else if (e.devices) /* without <devices>, nothing to remove */
                r = remove_hostdevs(&e, addrs, n_addrs, ret_error);
        if (r < 0)
                return r;

        if (!e.changed && !(e.changed = calloc(1, sizeof *e.changed)))
                return -ENOMEM;
        if (doc_to_string(e.doc, ret_xml) < 0)
                return -ENOMEM;
        if (ret_changed)
                *ret_changed = TAKE_PTR(e.changed);
        return 0;
}

int vc_domain_edit_mmio64(const char *xml, size_t len, uint64_t mib, char **ret_xml, char **ret_element,
                          char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        char value[96];
        int r = read_doc_to_edit(xml, len, &doc, ret_error);
        if (r < 0)
                return r;
        xmlNode *root = xmlDocGetRootElement(doc);
        xmlNsPtr ns = xmlSearchNsByHref(doc, root, (const xmlChar *) QEMU_NS);
        if (!ns && !(ns = xmlNewNs(root, (const xmlChar *) QEMU_NS, (const xmlChar *) "qemu")))
                return -ENOMEM;
        snprintf(value, sizeof value, MMIO64_FW_CFG ",string=%llu", (unsigned long long) mib);

        xmlNode *cl = NULL;
        for (xmlNode *c = root->children; c && !cl; c = c->next)
                if (is_qemu_element(c, "commandline"))
                        cl = c;
        if (!cl && !(cl = xmlNewChild(root, ns, (const xmlChar *) "commandline", NULL)))
                return -ENOMEM;
        bool done = false, after_fw_cfg = false;
        for (xmlNode *a = cl->children; a && !done; a = a->next) {
                if (!is_qemu_element(a, "arg"))
                        continue;
                _cleanup_xml_free_ xmlChar *v = prop(a, "value");
                if (v && after_fw_cfg && fw_cfg_mmio64((const char *) v)) {
                        if (!xmlSetProp(a, (const xmlChar *) "value", (const xmlChar *) value))
                                return -ENOMEM;
                        done = true;
                }
                after_fw_cfg = v && xmlStrEqual(v, (const xmlChar *) "-fw_cfg");
        }
        if (!done) {
                xmlNode *a1 = xmlNewChild(cl, ns, (const xmlChar *) "arg", NULL);
                xmlNode *a2 = a1 ? xmlNewChild(cl, ns, (const xmlChar *) "arg", NULL) : NULL;
                if (!a2 || !xmlNewProp(a1, (const xmlChar *) "value", (const xmlChar *) "-fw_cfg") ||
                    !xmlNewProp(a2, (const xmlChar *) "value", (const xmlChar *) value))
                        return -ENOMEM;
        }
        _cleanup_free_ char *element = node_to_string(doc, cl);
        if (!element)
                return -ENOMEM;
        if (doc_to_string(doc, ret_xml) < 0)
                return -ENOMEM;
        *ret_element = TAKE_PTR(element);
        return 0;
}

int vc_domain_edit_primary(const char *xml, size_t len, const struct vc_pci_addr *gpu, char **ret_xml,
                           char ***ret_changed, char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        size_t n_changed = 0;
        int r = read_doc_to_edit(xml, len, &doc, ret_error);
        if (r < 0)
                return r;
        xmlNode *root = xmlDocGetRootElement(doc);
        xmlNode *devices = first_child(root, "devices");
        xmlNode *gpu_node = NULL, *first_hostdev = NULL;
        bool video = false;
        for (xmlNode *c = devices ? devices->children : NULL; c; c = c->next) {
                struct vc_domain_hostdev h;
                r = element_hostdev(c, &h, ret_error);
                if (r < 0)
                        return r;
                if (r > 0 && !first_hostdev)
                        first_hostdev = c;
                if (r > 0 && !gpu_node && vc_pci_addr_equal(&h.addr, gpu))
                        gpu_node = c;
                if (!is_element(c, "video"))
                        continue;
                video = true;
                xmlNode *model = first_child(c, "model");
                if (model && prop_is(model, "type", "none") && !model->properties->next && !model->children)
                        continue;
                xmlNode *none = xmlNewNode(NULL, (const xmlChar *) "model");
                if (!none || !xmlNewProp(none, (const xmlChar *) "type", (const xmlChar *) "none"))
                        return -ENOMEM;
                if (model) {
                        xmlReplaceNode(model, none);
                        xmlFreeNode(model);
                } else
                        xmlAddChild(c, none);
                /* A video device without a display has no guest PCI address of its own. */
                for (xmlNode *a = c->children, *next; a; a = next) {
                        next = a->next;
                        if (is_element(a, "address") || is_element(a, "driver")) {
                                xmlUnlinkNode(a);
                                xmlFreeNode(a);
                        }
                }
                if ((r = strv_push(&changed, &n_changed, node_to_string(doc, c))) < 0)
                        return r;
        }
        if (!gpu_node)
                return -ENOENT;
        if (!video) {
                xmlNode *v = xmlNewChild(devices, NULL, (const xmlChar *) "video", NULL);
                xmlNode *m = v ? xmlNewChild(v, NULL, (const xmlChar *) "model", NULL) : NULL;
                if (!m || !xmlNewProp(m, (const xmlChar *) "type", (const xmlChar *) "none"))
                        return -ENOMEM;
                if ((r = strv_push(&changed, &n_changed, node_to_string(doc, v))) < 0)
                        return r;
        }
        if (gpu_node != first_hostdev) {
                xmlUnlinkNode(gpu_node);
                xmlAddPrevSibling(first_hostdev, gpu_node);
                if ((r = strv_push(&changed, &n_changed, node_to_string(doc, gpu_node))) < 0)
                        return r;
        }
        if (!changed && !(changed = calloc(1, sizeof *changed)))
                return -ENOMEM;
        if (doc_to_string(doc, ret_xml) < 0)
                return -ENOMEM;
        *ret_changed = TAKE_PTR(changed);
        return 0;
}

int vc_domain_edit_rom(const char *xml, size_t len, const struct vc_pci_addr *dev, const char *file, const char *bar,
                       char **ret_xml, char **ret_element, char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        int r = read_doc_to_edit(xml, len, &doc, ret_error);
        if (r < 0)
                return r;
        xmlNode *devices = first_child(xmlDocGetRootElement(doc), "devices");
        xmlNode *node = NULL;
        for (xmlNode *c = devices ? devices->children : NULL; c && !node; c = c->next) {
                struct vc_domain_hostdev h;
                r = element_hostdev(c, &h, ret_error);
                if (r < 0)
                        return r;
                if (r > 0 && vc_pci_addr_equal(&h.addr, dev))
                        node = c;
        }
        if (!node)
                return -ENOENT;
        /* one <rom> per device: the new one replaces what was there */
        for (xmlNode *c = node->children, *next; c; c = next) {
                next = c->next;
                if (is_element(c, "rom")) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                }
        }
        xmlNode *rom = xmlNewChild(node, NULL, (const xmlChar *) "rom", NULL);
        if (!rom || (bar && !xmlNewProp(rom, (const xmlChar *) "bar", (const xmlChar *) bar)) ||
            (file && !xmlNewProp(rom, (const xmlChar *) "file", (const xmlChar *) file)))
                return -ENOMEM;
        _cleanup_free_ char *element = node_to_string(doc, node);
        if (!element)
                return -ENOMEM;
        if (doc_to_string(doc, ret_xml) < 0)
                return -ENOMEM;
        *ret_element = TAKE_PTR(element);
        return 0;
}
