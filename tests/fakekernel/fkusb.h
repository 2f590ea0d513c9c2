/* USB devices of the fake kernel: fixture lines, the tree they expand to, and the bind,
 * unbind and drivers_probe stores of /sys/bus/usb (tests/fakekernel/README.md, "USB"). */
#pragma once

#include <stddef.h>

#include "fkmodel.h"

/* A fixture line whose keyword is @kw ("usbdriver", "usbbus", "usbdev", "usbif"): 1 when it
 * was one of them (parsed), 0 when @kw is not a USB keyword, -1 on error (message in @err). */
int fk_usb_parse(const struct fk_model *m, const char *kw, char *rest, char *err, size_t errn);
/* Checks that need the whole fixture; -1 with a message on error. */
int fk_usb_check(char *err, size_t errn);
/* Expand what was parsed under m->root (after the PCI devices); 0 or a negative errno. */
int fk_usb_build(const struct fk_model *m);

/* A write of the value @v to @rel (relative to ROOT) under sys/bus/usb: 1 when it is not one the
 * USB model handles (the caller stores the bytes), else 0 or a negative errno. */
int fk_usb_write(const char *root, const char *rel, const char *v);
