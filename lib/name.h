/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The names users give (configuration entries, libvirt domains) and the kernel's names of
 * drivers and modules. One rule per kind, used by every reader and writer (the configuration,
 * the state records, the CLI, the sysfs readers), so that a name one of them accepts is never
 * refused by another. */

#include <stdbool.h>
#include <stdint.h>

/* Longest VM name: a libvirt domain's definition is a file named after it. */
#define VC_VM_NAME_MAX 255

/* A device entry's name ([device NAME], [usb NAME], enable --name): letters, digits, '_', '.',
 * '-', not empty. */
bool vc_config_name_is_valid(const char *s);

/* A libvirt domain name as vfio-claim stores it (vm = in the configuration, the owner of a state
 * record): not empty, at most VC_VM_NAME_MAX bytes, no '/', no control characters, no white
 * space at either end (libvirt refuses '/'; the rest would end up in file names, logs and a
 * record's line format). */
bool vc_vm_name_is_valid(const char *s);

/* A name the kernel gives a driver or a module, as sysfs shows it (a driver link's last
 * component, uevent's DRIVER=, a module's directory): it goes into sysfs paths, so one path
 * component, not "." or "..", at most 255 bytes, no white space, no control characters. */
bool vc_kernel_name_is_valid(const char *s);

/* The UTF-8 character at @s (NUL-terminated): its length in bytes (1 to 4) and its code point in
 * *@ret, or -1 for a byte that starts no valid character (a stray continuation byte, an overlong
 * or truncated sequence, a surrogate, past U+10FFFF). */
int vc_utf8_char(const char *s, uint32_t *ret);

/* A copy of @s that a terminal shows as text: every control character (C0, DEL, C1) and every
 * byte that is not valid UTF-8 becomes '?'. For what comes from outside (a USB device's strings,
 * a libvirt domain's name) before it is printed for a person; NULL when out of memory. */
char *vc_text_printable(const char *s);
