/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <stdlib.h>
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

int vc_utf8_char(const char *s, uint32_t *ret) {
        const unsigned char *p = (const unsigned char *) s;
        uint32_t c;
        int n;
        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        }
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                n = 2, c = p[0] & 0x1f;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                n = 3, c = p[0] & 0x0f;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                n = 4, c = p[0] & 0x07;
        else
                return -1; /* a continuation byte, an overlong lead (c0, c1), or past U+10FFFF */
        for (int i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80) /* the string's NUL ends it here too */
                        return -1;
                c = c << 6 | (p[i] & 0x3f);
        }
        if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
                return -1; /* overlong, out of range, a surrogate */
        *ret = c;
        return n;
}

char *vc_text_printable(const char *s) {
        size_t l = strlen(s);
        char *out = malloc(l + 1), *o = out;
        if (!out)
                return NULL;
        while (*s) {
                uint32_t c;
                int n = vc_utf8_char(s, &c);
                if (n < 0 || c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
                        *o++ = '?';
                        s += n < 0 ? 1 : n;
                        continue;
                }
                memcpy(o, s, (size_t) n);
                o += n;
                s += n;
        }
        *o = '\0';
        return out;
}
