/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>
#include <string.h>

#include "device-arg.h"

static bool name_valid(const char *s) {
        return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == strlen(s);
}

/* Decimal digits only: strtoul() alone would take white space, a sign and "0x". */
static int parse_group(const char *s, unsigned *ret) {
        unsigned long v = 0;
        if (!*s)
                return -EDOM;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EDOM;
                v = v * 10 + (unsigned long) (*s - '0');
                if (v > 0x7fffffff)
                        return -EDOM;
        }
        *ret = (unsigned) v;
        return 0;
}

int vc_device_arg_parse(const char *text, struct vc_device_spec *ret) {
        struct vc_device_spec s = {};
        const char *num;

        if (!text || !ret)
                return -EINVAL;
        if ((num = startswith(text, "group:"))) {
                if (parse_group(num, &s.group) < 0)
                        return -EDOM;
                s.kind = VC_DEVICE_ARG_GROUP;
        } else if (vc_pci_addr_parse(text, &s.addr) >= 0)
                s.kind = VC_DEVICE_ARG_ADDRESS;
        else if (name_valid(text))
                s.kind = VC_DEVICE_ARG_NAME;
        else
                return -EINVAL;
        *ret = s;
        return 0;
}
