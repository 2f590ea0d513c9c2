/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The functions of libxml2 the project calls, resolved from libxml2.so.2 on first use instead of
 * at every start. libxml2 brings ICU (a 30 MB data library) and libstdc++; mapping and relocating
 * them cost every run of the CLI, `list` and `status` included, which never read XML, and every
 * run of the udev helper that shares this library (docs/PERFORMANCE.md, "Start of the CLI").
 * Nothing links libxml2: these definitions take the API's names and types (the headers check
 * them), so lib/domain-xml.c and the CLI's verbs call libxml2 as if it were linked.
 *
 * libxml2 is opened RTLD_LOCAL and each name looked up in its own scope (dlsym on its handle),
 * never RTLD_DEFAULT, which would find the definition below again. libvirt, when src/virt-load.c
 * has loaded it, links libxml2.so.2 itself: both get the one copy in the process, so the error
 * handler vc_xml_quiet() sets applies to libvirt's parsing too.
 *
 * When libxml2 cannot be loaded each function fails as its own failure looks (NULL, -1, 0) and
 * vc_xml_load() says why; callers that parse call it first. */

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

#include "xml-load.h"

static void *libxml2;
static char load_error[256];

int vc_xml_load(void) {
        if (!libxml2 && !load_error[0]) {
                /* RTLD_LAZY: libstdc++ (built without -z now, about a thousand functions) binds
                 * each function at its first call, not all here; libxml2 and ICU are bound at
                 * load either way. */
                libxml2 = dlopen("libxml2.so.2", RTLD_LAZY | RTLD_LOCAL);
                if (!libxml2) {
                        const char *e = dlerror();
                        snprintf(load_error, sizeof load_error, "cannot load libxml2: %s", e ? e : "libxml2.so.2");
                }
        }
        return libxml2 ? 0 : -ELIBACC;
}

const char *vc_xml_load_error(void) {
        return load_error[0] ? load_error : NULL;
}

static void *sym(const char *name) {
        return vc_xml_load() < 0 ? NULL : dlsym(libxml2, name);
}

/* Resolve NAME once, into a function pointer of the declared type of NAME. */
#define RESOLVE(name)                                                                              \
        static __typeof__(&name) fn;                                                               \
        if (!fn)                                                                                   \
                *(void **) &fn = sym(#name)

void vc_xml_free(void *p) {
        if (!p)
                return;
        /* xmlFree is a variable of libxml2 holding its deallocator (free() unless xmlMemSetup()
         * changed it): its address is looked up once, its value read at each call, as a program
         * linking libxml2 does. */
        static xmlFreeFunc *f;
        if (!f)
                f = sym("xmlFree");
        if (f && *f)
                (*f)(p);
}

/* ---- parser.h */
xmlParserCtxtPtr xmlNewParserCtxt(void) {
        RESOLVE(xmlNewParserCtxt);
        return fn ? fn() : NULL;
}
void xmlFreeParserCtxt(xmlParserCtxtPtr ctxt) {
        RESOLVE(xmlFreeParserCtxt);
        if (fn)
                fn(ctxt);
}
xmlDocPtr xmlCtxtReadMemory(xmlParserCtxtPtr ctxt, const char *buffer, int size, const char *URL,
                            const char *encoding, int options) {
        RESOLVE(xmlCtxtReadMemory);
        return fn ? fn(ctxt, buffer, size, URL, encoding, options) : NULL;
}
xmlDocPtr xmlReadMemory(const char *buffer, int size, const char *URL, const char *encoding, int options) {
        RESOLVE(xmlReadMemory);
        return fn ? fn(buffer, size, URL, encoding, options) : NULL;
}

/* ---- xmlerror.h */
void xmlSetGenericErrorFunc(void *ctx, xmlGenericErrorFunc handler) {
        RESOLVE(xmlSetGenericErrorFunc);
        if (fn)
                fn(ctx, handler);
}

/* ---- tree.h: documents */
void xmlFreeDoc(xmlDocPtr cur) {
        RESOLVE(xmlFreeDoc);
        if (fn)
                fn(cur);
}
xmlNodePtr xmlDocGetRootElement(const xmlDoc *doc) {
        RESOLVE(xmlDocGetRootElement);
        return fn ? fn(doc) : NULL;
}
void xmlDocDumpMemory(xmlDocPtr cur, xmlChar **mem, int *size) {
        RESOLVE(xmlDocDumpMemory);
        if (fn) {
                fn(cur, mem, size);
                return;
        }
        *mem = NULL;
        *size = 0;
}

/* ---- tree.h: nodes */
xmlNodePtr xmlNewNode(xmlNsPtr ns, const xmlChar *name) {
        RESOLVE(xmlNewNode);
        return fn ? fn(ns, name) : NULL;
}
xmlNodePtr xmlNewChild(xmlNodePtr parent, xmlNsPtr ns, const xmlChar *name, const xmlChar *content) {
        RESOLVE(xmlNewChild);
        return fn ? fn(parent, ns, name, content) : NULL;
}
xmlNodePtr xmlAddChild(xmlNodePtr parent, xmlNodePtr cur) {
        RESOLVE(xmlAddChild);
        return fn ? fn(parent, cur) : NULL;
}
xmlNodePtr xmlAddPrevSibling(xmlNodePtr cur, xmlNodePtr elem) {
        RESOLVE(xmlAddPrevSibling);
        return fn ? fn(cur, elem) : NULL;
}
xmlNodePtr xmlReplaceNode(xmlNodePtr old, xmlNodePtr cur) {
        RESOLVE(xmlReplaceNode);
        return fn ? fn(old, cur) : NULL;
}
void xmlUnlinkNode(xmlNodePtr cur) {
        RESOLVE(xmlUnlinkNode);
        if (fn)
                fn(cur);
}
void xmlFreeNode(xmlNodePtr cur) {
        RESOLVE(xmlFreeNode);
        if (fn)
                fn(cur);
}
long xmlGetLineNo(const xmlNode *node) {
        RESOLVE(xmlGetLineNo);
        return fn ? fn(node) : -1;
}
int xmlIsBlankNode(const xmlNode *node) {
        RESOLVE(xmlIsBlankNode);
        return fn ? fn(node) : 0;
}
xmlChar *xmlNodeGetContent(const xmlNode *cur) {
        RESOLVE(xmlNodeGetContent);
        return fn ? fn(cur) : NULL;
}

/* ---- tree.h: attributes and namespaces */
xmlChar *xmlGetProp(const xmlNode *node, const xmlChar *name) {
        RESOLVE(xmlGetProp);
        return fn ? fn(node, name) : NULL;
}
xmlAttrPtr xmlHasProp(const xmlNode *node, const xmlChar *name) {
        RESOLVE(xmlHasProp);
        return fn ? fn(node, name) : NULL;
}
xmlAttrPtr xmlNewProp(xmlNodePtr node, const xmlChar *name, const xmlChar *value) {
        RESOLVE(xmlNewProp);
        return fn ? fn(node, name, value) : NULL;
}
xmlAttrPtr xmlSetProp(xmlNodePtr node, const xmlChar *name, const xmlChar *value) {
        RESOLVE(xmlSetProp);
        return fn ? fn(node, name, value) : NULL;
}
xmlNsPtr xmlNewNs(xmlNodePtr node, const xmlChar *href, const xmlChar *prefix) {
        RESOLVE(xmlNewNs);
        return fn ? fn(node, href, prefix) : NULL;
}
xmlNsPtr xmlSearchNsByHref(xmlDocPtr doc, xmlNodePtr node, const xmlChar *href) {
        RESOLVE(xmlSearchNsByHref);
        return fn ? fn(doc, node, href) : NULL;
}

/* ---- tree.h: buffers */
xmlBufferPtr xmlBufferCreate(void) {
        RESOLVE(xmlBufferCreate);
        return fn ? fn() : NULL;
}
void xmlBufferFree(xmlBufferPtr buf) {
        RESOLVE(xmlBufferFree);
        if (fn)
                fn(buf);
}
const xmlChar *xmlBufferContent(const xmlBuffer *buf) {
        RESOLVE(xmlBufferContent);
        return fn ? fn(buf) : NULL;
}
int xmlNodeDump(xmlBufferPtr buf, xmlDocPtr doc, xmlNodePtr cur, int level, int format) {
        RESOLVE(xmlNodeDump);
        return fn ? fn(buf, doc, cur, level, format) : -1;
}

/* ---- xmlstring.h */
int xmlStrEqual(const xmlChar *str1, const xmlChar *str2) {
        RESOLVE(xmlStrEqual);
        return fn ? fn(str1, str2) : 0;
}

/* ---- xpath.h */
xmlXPathContextPtr xmlXPathNewContext(xmlDocPtr doc) {
        RESOLVE(xmlXPathNewContext);
        return fn ? fn(doc) : NULL;
}
void xmlXPathFreeContext(xmlXPathContextPtr ctxt) {
        RESOLVE(xmlXPathFreeContext);
        if (fn)
                fn(ctxt);
}
xmlXPathObjectPtr xmlXPathEvalExpression(const xmlChar *str, xmlXPathContextPtr ctxt) {
        RESOLVE(xmlXPathEvalExpression);
        return fn ? fn(str, ctxt) : NULL;
}
void xmlXPathFreeObject(xmlXPathObjectPtr obj) {
        RESOLVE(xmlXPathFreeObject);
        if (fn)
                fn(obj);
}
