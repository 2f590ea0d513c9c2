/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "domain-xml.h"

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
        if (*p)
                xmlFree(*p);
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

const char *vc_hostdev_kind_to_string(enum vc_hostdev_kind k) {
        return k >= 0 && k < _VC_HOSTDEV_KIND_MAX ? hostdev_kind_table[k] : NULL;
}

struct vc_domain *vc_domain_free(struct vc_domain *d) {
        if (!d)
                return NULL;
        free(d->name);
        free(d->hostdevs);
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

        for (xmlNode *devices = root->children; devices; devices = devices->next) {
                if (!is_element(devices, "devices"))
                        continue;
                for (xmlNode *n = devices->children; n; n = n->next) {
                        struct vc_domain_hostdev h;
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

int vc_domain_hostdev_xml(const struct vc_pci_addr *a, char **ret) {
        int n = asprintf(ret,
                         "<hostdev mode='subsystem' type='pci' managed='no'>\n"
                         "  <source>\n"
                         "    <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
                         "  </source>\n"
                         "</hostdev>",
                         a->domain, a->bus, a->slot, a->func);
        return n < 0 ? -ENOMEM : 0;
}

static int strv_push(char ***v, size_t *n, char *s) {
        if (!s)
                return -ENOMEM;
        char **a = realloc(*v, (*n + 2) * sizeof *a);
        if (!a) {
                free(s);
                return -ENOMEM;
        }
        a[(*n)++] = s;
        a[*n] = NULL;
        *v = a;
        return 0;
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

static int add_hostdev_node(xmlNode *devices, const struct vc_pci_addr *a) {
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
        return 0;
}

int vc_domain_edit_hostdevs(const char *xml, size_t len, const struct vc_pci_addr *addrs,
                            size_t n_addrs, bool add, char **ret_xml, char ***ret_changed,
                            char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        size_t n_changed = 0;
        int r;

        r = read_doc(xml, len, &doc, ret_error);
        if (r < 0)
                return r;
        xmlNode *root = xmlDocGetRootElement(doc);
        xmlNode *devices = first_child(root, "devices");
        if (!devices) {
                if (!add)
                        goto done;
                devices = xmlNewChild(root, NULL, (const xmlChar *) "devices", NULL);
                if (!devices)
                        return -ENOMEM;
        }

        if (add) {
                for (size_t i = 0; i < n_addrs; i++) {
                        bool present = false;
                        for (xmlNode *devs = root->children; devs && !present; devs = devs->next) {
                                if (!is_element(devs, "devices"))
                                        continue;
                                for (xmlNode *n = devs->children; n && !present; n = n->next) {
                                        struct vc_domain_hostdev h;
                                        r = element_hostdev(n, &h, ret_error);
                                        if (r < 0)
                                                return r;
                                        present = r > 0 && vc_pci_addr_equal(&h.addr, &addrs[i]);
                                }
                        }
                        if (present)
                                continue;
                        char *s = NULL;
                        if ((r = vc_domain_hostdev_xml(&addrs[i], &s)) < 0 ||
                            (r = strv_push(&changed, &n_changed, s)) < 0 ||
                            (r = add_hostdev_node(devices, &addrs[i])) < 0)
                                return r;
                }
        } else {
                for (xmlNode *devs = root->children; devs; devs = devs->next) {
                        if (!is_element(devs, "devices"))
                                continue;
                        xmlNode *next;
                        for (xmlNode *n = devs->children; n; n = next) {
                                struct vc_domain_hostdev h;
                                bool match = false;
                                next = n->next;
                                r = element_hostdev(n, &h, ret_error);
                                if (r < 0)
                                        return r;
                                for (size_t i = 0; r > 0 && i < n_addrs && !match; i++)
                                        match = vc_pci_addr_equal(&h.addr, &addrs[i]);
                                if (!match)
                                        continue;
                                if ((r = strv_push(&changed, &n_changed, node_to_string(doc, n))) < 0)
                                        return r;
                                /* Drop the indentation in front of it as well. */
                                if (n->prev && n->prev->type == XML_TEXT_NODE && xmlIsBlankNode(n->prev)) {
                                        xmlNode *blank = n->prev;
                                        xmlUnlinkNode(blank);
                                        xmlFreeNode(blank);
                                }
                                xmlUnlinkNode(n);
                                xmlFreeNode(n);
                        }
                }
        }

done:
        if (!changed && !(changed = calloc(1, sizeof *changed)))
                return -ENOMEM;
        xmlChar *mem = NULL;
        int size = 0;
        xmlDocDumpMemory(doc, &mem, &size);
        if (!mem)
                return -ENOMEM;
        *ret_xml = strndup((const char *) mem, (size_t) size);
        xmlFree(mem);
        if (!*ret_xml)
                return -ENOMEM;
        if (ret_changed)
                *ret_changed = TAKE_PTR(changed);
        return 0;
}
