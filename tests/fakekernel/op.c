/* fakesys-op: drive the fake kernel the way vfio-claim does, for the model's
 * own tests (run under LD_PRELOAD=libfakekernel.so):
 *   fakesys-op write FILE VALUE       one write(2) of VALUE (may be empty)
 *   fakesys-op modprobe MOD [--fail-on-loaded]
 *                                      kmod_module_probe_insert_module()
 *   fakesys-op insmod MOD             kmod_module_insert_module()
 * Exit 0 on success, else prints the errno name and exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"

static int fail(const char *what, int e) {
        fprintf(stderr, "%s: %s\n", what, strerrorname_np(e) ? strerrorname_np(e) : strerror(e));
        return 1;
}

int main(int argc, char **argv) {
        if (argc == 4 && strcmp(argv[1], "write") == 0) {
                int fd = open(argv[2], O_WRONLY | O_CLOEXEC);
                if (fd < 0)
                        return fail(argv[2], errno);
                ssize_t n = write(fd, argv[3], strlen(argv[3]));
                int e = errno;
                close(fd);
                return n < 0 ? fail(argv[2], e) : 0;
        }
        if ((argc == 3 || argc == 4) && (strcmp(argv[1], "modprobe") == 0 || strcmp(argv[1], "insmod") == 0)) {
                struct kmod_ctx *ctx = kmod_new(NULL, NULL);
                struct kmod_module *mod = NULL;
                int r;
                if (!ctx)
                        return fail("kmod_new", ENOMEM);
                r = kmod_module_new_from_name(ctx, argv[2], &mod);
                if (r == 0) {
                        if (argv[1][0] == 'm')
                                r = kmod_module_probe_insert_module(
                                        mod, argc == 4 && strcmp(argv[3], "--fail-on-loaded") == 0 ? KMOD_PROBE_FAIL_ON_LOADED : 0,
                                        NULL, NULL, NULL, NULL);
                        else
                                r = kmod_module_insert_module(mod, 0, NULL);
                        kmod_module_unref(mod);
                }
                kmod_unref(ctx);
                return r < 0 ? fail(argv[2], -r) : 0;
        }
        fprintf(stderr, "usage: fakesys-op write FILE VALUE | modprobe MOD [--fail-on-loaded] | insmod MOD\n");
        return 2;
}
