/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* tests/bench/machine-cost [ROUNDS]: what two things every figure of `make bench` is made of
 * cost on this machine, so that tables from different machines can be read side by side
 * (docs/PERFORMANCE.md): a page fault (the first write to a fresh anonymous page: the kernel's
 * entry, a zeroed page, the return) and a system call that does nothing (getppid(2) through
 * syscall(2), which the C library cannot answer from a cache). A program's start, its loader's
 * relocations and its heap are page faults; its reads of sysfs are system calls. Each figure is
 * the median over ROUNDS rounds (default 21) of the mean over one round's PAGES faults or CALLS
 * calls. Prints one line: "page fault X.XX us, system call Y.YY us". */

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGES 1024
#define CALLS 4096

static double now_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec * 1e6 + (double) t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof *v, cmp_double);
        return v[n / 2];
}

int main(int argc, char **argv) {
        long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 21;
        if (rounds < 1 || rounds > 10000) {
                fprintf(stderr, "usage: %s [ROUNDS]\n", argv[0]);
                return 2;
        }
        long page = sysconf(_SC_PAGESIZE);
        double *fault = calloc((size_t) rounds, sizeof *fault), *call = calloc((size_t) rounds, sizeof *call);
        if (!fault || !call || page <= 0)
                return 1;
        for (long r = 0; r < rounds; r++) {
                volatile char *p = mmap(NULL, (size_t) (PAGES * page), PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        return 1;
                double t0 = now_us();
                for (long i = 0; i < PAGES; i++)
                        p[i * page] = 1;
                double t1 = now_us();
                for (long i = 0; i < CALLS; i++)
                        (void) syscall(SYS_getppid);
                double t2 = now_us();
                munmap((void *) p, (size_t) (PAGES * page));
                fault[r] = (t1 - t0) / PAGES;
                call[r] = (t2 - t1) / CALLS;
        }
        printf("page fault %.2f us, system call %.2f us\n", median(fault, (size_t) rounds),
               median(call, (size_t) rounds));
        free(fault);
        free(call);
        return 0;
}
