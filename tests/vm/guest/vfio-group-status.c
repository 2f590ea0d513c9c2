/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-group-status N: what the VFIO API says about /dev/vfio/N, in the lab
 * guest. Prints "viable=0|1" and, when viable, tries what QEMU does: attach
 * the group to a container, select the type1 IOMMU, map 1 MiB for DMA, and
 * open one device fd ("container=ok iommu=ok dma=ok device=ok").
 * Exit 0 when every attempted step worked, 1 otherwise, 2 on usage error.
 * Built statically by run.sh so the busybox guest can run it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
        struct vfio_group_status st = { .argsz = sizeof(st) };
        char path[64];
        int group, container, dev;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: %s GROUP [DEVICE-ADDRESS]\n", argv[0]);
                return 2;
        }
        snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]);
        group = open(path, O_RDWR | O_CLOEXEC);
        if (group < 0) {
                printf("open=%s\n", strerror(errno));
                return 1;
        }
        if (ioctl(group, VFIO_GROUP_GET_STATUS, &st) < 0) {
                printf("status=%s\n", strerror(errno));
                return 1;
        }
        printf("viable=%d", !!(st.flags & VFIO_GROUP_FLAGS_VIABLE));
        if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
                printf("\n");
                return 1;
        }
        container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (container < 0 || ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
                printf(" container=%s\n", strerror(errno));
                return 1;
        }
        printf(" container=ok");
        if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0 &&
            ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) {
                printf(" iommu=%s\n", strerror(errno));
                return 1;
        }
        printf(" iommu=ok");
        void *buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        struct vfio_iommu_type1_dma_map map = {
                .argsz = sizeof(map),
                .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                .vaddr = (unsigned long) buf,
                .iova = 0,
                .size = 1 << 20,
        };
        if (buf == MAP_FAILED || ioctl(container, VFIO_IOMMU_MAP_DMA, &map) < 0) {
                printf(" dma=%s\n", strerror(errno));
                return 1;
        }
        printf(" dma=ok");
        if (argc == 3) {
                dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
                if (dev < 0) {
                        printf(" device=%s\n", strerror(errno));
                        return 1;
                }
                printf(" device=ok");
                close(dev);
        }
        printf("\n");
        return 0;
}
