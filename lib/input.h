/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The keyboards the kernel knows: sys/class/input/inputN entries whose capabilities are a
 * keyboard's, as udev's input_id builtin tells one (its ID_INPUT_KEYBOARD): EV_KEY among
 * capabilities/ev, and among capabilities/key every one of the first 32 key codes but
 * KEY_RESERVED (Esc, the digits, Q to D). A power button, a mouse's or a remote's keys are not a
 * keyboard. What an admin at the machine types on (lib/critical.h protects the last ones). */

#include <stddef.h>

#include "root.h"

struct vc_keyboard {
        char *syspath; /* its real directory, under the context's root */
        char *name;    /* the device's name ("Logitech USB Keyboard"), control bytes as '?'; "" when none */
};

void vc_keyboards_free(struct vc_keyboard *v, size_t n);

/* Every keyboard a person can type on, in the order of sys/class/input: not the virtual ones under
 * sys/devices/virtual (uinput, which a program types on; uhid, which a Bluetooth keyboard comes
 * through, has no device of its own to follow). -ENOMEM; an entry that cannot be read is passed
 * over, and a host without sys/class/input has none. */
int vc_input_keyboards(struct vc_ctx *ctx, struct vc_keyboard **ret, size_t *ret_n);
