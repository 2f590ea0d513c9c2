/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <string.h>

#include "macro.h"
#include "name.h"

bool vc_config_name_is_valid(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if (!isascii((unsigned char) *s) || !(isalnum((unsigned char) *s) || strchr("_.-", *s)))
                        return false;
        return true;
}

bool vc_kernel_name_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 255 || streq(s, ".") || streq(s, ".."))
                return false;
        for (; *s; s++)
                if (*s == '/' || isspace((unsigned char) *s) || iscntrl((unsigned char) *s))
                        return false;
        return true;
}

bool vc_vm_name_is_valid(const char *s) {
        if (isempty(s))
                return false;
        size_t l = strlen(s);
        if (l > VC_VM_NAME_MAX || isspace((unsigned char) s[0]) || isspace((unsigned char) s[l - 1]))
                return false;
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f || *s == '/')
                        return false;
        return true;
}
