/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hook worker's main() under another name: see prog-cli.c. */

int vc_stress_main_hook(int argc, char **argv);
#define main vc_stress_main_hook
#include "hooks/vfio-claim-hook-worker.c"
#undef main
