/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keyboards (lib/input.h). Formats: Linux's drivers/input/input.c prints capabilities/ev and
 * capabilities/key as bitmaps of longs in hex, the most significant first, blank-separated and
 * without the leading zero longs, so the last one holds bits 0 to 31 (and 32 to 63 on a 64-bit
 * kernel). */

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "input.h"
#include "log.h"
#include "sysfs.h"

#define EV_KEY_BIT 0x2u           /* EV_KEY is event type 1 */
#define KEYBOARD_KEYS 0xfffffffeu /* key codes 1 (KEY_ESC) to 31 (KEY_S); with 32, KEY_D, of the next */

void vc_keyboards_free(struct vc_keyboard *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].syspath);
                free(v[i].name);
        }
        free(v);
}

/* The lowest long of a bitmap attribute: its last hex word. false when @text is not one. */
static bool bitmap_low(const char *text, uint64_t *ret) {
        const char *last = strrchr(text, ' ');
        last = last ? last + 1 : text;
        if (!*last || strlen(last) > 16 || strspn(last, "0123456789abcdefABCDEF") != strlen(last))
                return false;
        *ret = strtoull(last, NULL, 16);
        return true;
}

/* The attribute @name of the input device in @dir. */
static int attr_read(const char *dir, const char *name, char **ret) {
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return vc_sysfs_read(p, ret);
}

/* Does the input device in @dir have a keyboard's capabilities? */
static bool is_keyboard(const char *dir) {
        _cleanup_free_ char *ev = NULL, *key = NULL;
        uint64_t evbits, keybits;
        return attr_read(dir, "capabilities/ev", &ev) >= 0 && bitmap_low(ev, &evbits) && (evbits & EV_KEY_BIT) &&
               attr_read(dir, "capabilities/key", &key) >= 0 && bitmap_low(key, &keybits) &&
               (keybits & KEYBOARD_KEYS) == KEYBOARD_KEYS;
}

/* Add the keyboard in @dir, whose real directory is @syspath (taken in every case). */
static int keyboard_add(struct vc_keyboard **v, size_t *n, const char *dir, char *syspath) {
        _cleanup_free_ char *owned = syspath, *name = NULL;
        int r = attr_read(dir, "name", &name);
        if (r == -ENOMEM || (r < 0 && !(name = strdup(""))))
                return -ENOMEM;
        for (char *c = name; *c; c++) /* a device names itself: never a control byte to a terminal */
                if (iscntrl((unsigned char) *c))
                        *c = '?';
        struct vc_keyboard *w = realloc(*v, (*n + 1) * sizeof *w);
        if (!w)
                return -ENOMEM;
        *v = w;
        w[(*n)++] = (struct vc_keyboard){ .syspath = TAKE_PTR(owned), .name = TAKE_PTR(name) };
        return 0;
}

int vc_input_keyboards(struct vc_ctx *ctx, struct vc_keyboard **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL, *virt = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct vc_keyboard *v = NULL;
        size_t n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if ((r = vc_ctx_path(ctx, VC_PLACE_CLASS, &dir, "input")) < 0 ||
            (r = vc_ctx_path(ctx, VC_PLACE_SYS_DEVICES, &virt, "virtual/")) < 0)
                return r;
        if ((r = vc_dir_list(dir, &names)) < 0)
                return r == -ENOMEM ? r : 0;
        for (char **i = names; *i; i++) {
                _cleanup_free_ char *entry = NULL;
                char *syspath = NULL;
                const char *num = startswith(*i, "input");
                /* the devices only: input5, not event3 or mouse0 (their handlers) */
                if (!num || !*num || strspn(num, "0123456789") != strlen(num))
                        continue;
                if (asprintf(&entry, "%s/%s", dir, *i) < 0) {
                        vc_keyboards_free(v, n);
                        return -ENOMEM;
                }
                if (!is_keyboard(entry))
                        continue;
                if ((r = vc_path_canonical(entry, &syspath)) == -ENOMEM) {
                        vc_keyboards_free(v, n);
                        return r;
                }
                if (r < 0)
                        continue;
                if (startswith(syspath, virt)) { /* uinput, uhid: no device of its own */
                        free(syspath);
                        continue;
                }
                if ((r = keyboard_add(&v, &n, entry, syspath)) < 0) {
                        vc_keyboards_free(v, n);
                        return r;
                }
                log_debug("keyboard %s: %s", *i, v[n - 1].name);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
