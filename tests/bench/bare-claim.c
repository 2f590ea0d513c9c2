/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* bare-claim claim|release ROOT ADDR...
 *
 * The anchor of the claim figures in tests/bench/bench.sh: the sysfs writes that move each
 * device to vfio-pci and back, and nothing else (no checks, no records, no lock, no child per
 * write, vfio-pci already loaded). claim: driver_override "vfio-pci", unbind from the current
 * driver, drivers_probe. release: driver_override "\n", unbind from vfio-pci, drivers_probe.
 * Under the fake kernel's shim, as vfio-claim is in the same table. */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int put(const char *path, const char *value) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t k = write(fd, value, strlen(value));
        int r = k < 0 ? -errno : 0;
        close(fd);
        return r;
}

int main(int argc, char **argv) {
        char p[PATH_MAX], link[PATH_MAX];
        int status = 0;

        if (argc < 4 || (strcmp(argv[1], "claim") != 0 && strcmp(argv[1], "release") != 0)) {
                fprintf(stderr, "usage: bare-claim claim|release ROOT ADDR...\n");
                return 2;
        }
        bool claim = strcmp(argv[1], "claim") == 0;
        const char *root = argv[2];
        for (int i = 3; i < argc; i++) {
                const char *a = argv[i];
                snprintf(p, sizeof p, "%s/sys/bus/pci/devices/%s/driver_override", root, a);
                if (put(p, claim ? "vfio-pci" : "\n") < 0)
                        status = 1;
                snprintf(p, sizeof p, "%s/sys/bus/pci/devices/%s/driver", root, a);
                ssize_t n = readlink(p, link, sizeof link - 1);
                if (n > 0) {
                        link[n] = '\0';
                        const char *drv = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
                        snprintf(p, sizeof p, "%s/sys/bus/pci/drivers/%.64s/unbind", root, drv);
                        if (put(p, a) < 0)
                                status = 1;
                }
                snprintf(p, sizeof p, "%s/sys/bus/pci/drivers_probe", root);
                if (put(p, a) < 0)
                        status = 1;
        }
        return status;
}
