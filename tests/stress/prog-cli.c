/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real CLI's main() under another name (tests/stress/stress.c runs it in a forked child
 * without paying for execve(2) and the dynamic loader: libvirt alone costs tens of milliseconds
 * per start). The file is compiled unchanged: the code under test is the code that ships. */

int vc_stress_main_cli(int argc, char **argv);
#define main vc_stress_main_cli
#include "src/main.c"
#undef main
