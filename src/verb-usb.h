/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "cli.h"

/* The USB table under `list` (with a heading line when @heading); nothing when there are none.
 * 0 or a negative errno (logged). */
int usb_list_text(struct vc_cli *cli, bool heading);
/* "usb": [...] into an open object of `list --json`. */
int usb_list_json(struct vc_cli *cli, struct vc_json *j);
/* Does a DEVICE argument name USB devices: a port path or a [usb NAME] entry? */
bool usb_arg_is_usb(struct vc_cli *cli, const char *text);
/* `show PORT|NAME` for USB devices: an exit code. */
int usb_show(struct vc_cli *cli, const char *text);
/* `enable` of USB devices: their interfaces lose their host drivers, recorded in the state
 * directory; the keyboard and the boot storage device are refused (EXIT_REFUSED) without --force. */
int usb_enable(struct vc_cli *cli, const char *text);
/* `disable`: the recorded interfaces go back to their drivers. */
int usb_disable(struct vc_cli *cli, const char *text);
/* `add VM PORT|NAME` / `remove VM PORT|NAME`: a <hostdev type='usb'> into or out of a stopped
 * VM's definition, refused (EXIT_REFUSED) when another VM's definition lists the device, unless
 * --force. */
int usb_vm_edit(struct vc_cli *cli, const char *vm, const char *text, bool add);
