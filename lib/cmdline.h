/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The kernel command line (ROOT/proc/cmdline) and the module option strings of modprobe.d, read
 * the way the kernel's own parameter parser reads them, in one place for doctor and boot.
 *
 * Words are separated by white space. Double quotes keep white space inside a word; the kernel
 * removes only the quote that opens the word and its partner at the word's end, and the quote
 * that opens the value and its partner at the word's end ("a=\"b c\"" is a=b c, "\"a=b c\"" is
 * a=b c, a="b c"d is a=b c"d). The first '=' ends the name: the value may hold more ('='s
 * included). A word "--" ends the kernel's parameters: what follows it goes to init. In a
 * parameter name '-' and '_' are the same character (vfio-pci.ids is vfio_pci.ids), and when a
 * name repeats, the last word wins. */

#include <stdbool.h>
#include <stddef.h>

#include "root.h"

/* Split @text (NULL: empty) into words "name" or "name=value", quotes removed as the kernel does,
 * every word to the end (also past "--": for option strings and command words). *ret_words is a
 * NULL-terminated vector to free with strv_free(). Returns 0 or -ENOMEM. */
int vc_cmdline_split(const char *text, char ***ret_words);

/* The kernel's own parameters of @text: vc_cmdline_split() up to the first bare "--". */
int vc_cmdline_parse(const char *text, char ***ret_params);

/* Read ROOT/proc/cmdline of @ctx and vc_cmdline_parse() it. Returns 0, or the negative errno of
 * the read (-ENOENT when the root has no such file; *ret_params is then NULL) or -ENOMEM. */
int vc_cmdline_read(struct vc_ctx *ctx, char ***ret_params);

/* Are the parameter names @name (its first @len bytes) and @want the same, '-' being '_'? */
bool vc_cmdline_name_equal(const char *name, size_t len, const char *want);

/* The value of the last word naming @name in @words (NULL allowed): "" for a bare "name" (and for
 * "name="), NULL when no word names it. Points into @words. */
const char *vc_cmdline_get(char *const *words, const char *name);

/* @name read as dracut's getargbool does: absent gives @absent; "0", "no", "off" and "false"
 * (any case) give false; a bare name or any other value gives true. The last word wins. */
bool vc_cmdline_get_bool(char *const *words, const char *name, bool absent);

/* Does a comma-separated option value ("on,igfx_off", "modprobe.blacklist=a,b") contain @item,
 * byte for byte? */
bool vc_option_list_has(const char *value, const char *item);
