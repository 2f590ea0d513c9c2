/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The udev helper's main() under another name: see prog-cli.c. */

int vc_stress_main_udev(int argc, char **argv);
#define main vc_stress_main_udev
#include "udev/vfio-claim-udev.c"
#undef main
