/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libxml2 is opened on first use (lib/xml-load.c), not linked. */

/* Open libxml2.so.2: 0, or -ELIBACC when it cannot be loaded (vc_xml_load_error() says why).
 * Every function of libxml2 the project calls loads it too; this is for a caller that wants to
 * tell "cannot load libxml2" from "malformed XML" before it parses. */
int vc_xml_load(void);
const char *vc_xml_load_error(void);

/* Free memory libxml2 allocated (its xmlFree, a variable in libxml2's API, which a program that
 * does not link libxml2 cannot name). */
void vc_xml_free(void *p);
