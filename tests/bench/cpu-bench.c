/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cpu-bench RUNS [-k] [-i INPUT] [NAME=VALUE...] COMMAND [ARGS...] [-- [NAME=VALUE...] COMMAND [ARGS...]]...
 *
 * Start each COMMAND RUNS times (fork, stdin from INPUT or /dev/null, stdout and stderr to
 * /dev/null, wait4) and measure each run's CPU time (user + system, from the rusage wait4()
 * returns, so the child's own time whatever else the machine runs) and its wall time from fork()
 * to the end of wait4(). The commands take turns run by run: a pair such as claim and release
 * makes round trips, and a change of load hits every command alike. Prints one line per
 * command: "cpu_median_us cpu_min_us wall_median_us". A run that exits non-zero is an error
 * unless -k (doctor exits 1 when it has a failing finding). A COMMAND may begin with NAME=VALUE
 * words, set in that command's environment only (as env(1) would, without starting it). Used by
 * tests/bench/bench.sh. */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_COMMANDS 8

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static double tv_us(struct timeval tv) {
        return (double) tv.tv_sec * 1e6 + (double) tv.tv_usec;
}

/* The command's leading NAME=VALUE words: how many. */
static int n_assignments(char **cmd) {
        int n = 0;
        while (cmd[n] && cmd[n][0] != '/' && strchr(cmd[n], '='))
                n++;
        return n;
}

static int run_once(char **cmd, const char *input, int devnull, bool keep_going, double *ret_cpu,
                    double *ret_wall) {
        int n_env = n_assignments(cmd);
        int in = open(input, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
                fprintf(stderr, "cpu-bench: %s: %s\n", input, strerror(errno));
                return -1;
        }
        double start = now_us();
        pid_t pid = fork();
        if (pid < 0) {
                perror("cpu-bench: fork");
                close(in);
                return -1;
        }
        if (pid == 0) {
                if (dup2(in, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0 ||
                    dup2(devnull, STDERR_FILENO) < 0)
                        _exit(127);
                for (int i = 0; i < n_env; i++)
                        if (putenv(cmd[i]) != 0)
                                _exit(127);
                execv(cmd[n_env], cmd + n_env);
                _exit(127);
        }
        close(in);
        int status;
        struct rusage ru;
        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR) {
                        perror("cpu-bench: wait4");
                        return -1;
                }
        *ret_wall = now_us() - start;
        *ret_cpu = tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
        if (!WIFEXITED(status) || WEXITSTATUS(status) == 127 || (!keep_going && WEXITSTATUS(status) != 0)) {
                fprintf(stderr, "cpu-bench: %s: exit status %d\n", cmd[n_env],
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        char **cmds[MAX_COMMANDS];
        int n_cmds = 0, runs, a = 2;
        bool keep_going = false;
        const char *input = "/dev/null";

        if (argc < 3 || (runs = atoi(argv[1])) < 1) {
                fprintf(stderr, "usage: cpu-bench RUNS [-k] [-i INPUT] [NAME=VALUE...] COMMAND [ARGS...] "
                                "[-- [NAME=VALUE...] COMMAND [ARGS...]]...\n");
                return 2;
        }
        for (;;) {
                if (a < argc && strcmp(argv[a], "-k") == 0) {
                        keep_going = true;
                        a++;
                } else if (a + 1 < argc && strcmp(argv[a], "-i") == 0) {
                        input = argv[a + 1];
                        a += 2;
                } else
                        break;
        }
        while (a < argc && n_cmds < MAX_COMMANDS) {
                cmds[n_cmds++] = &argv[a];
                while (a < argc && strcmp(argv[a], "--") != 0)
                        a++;
                if (a < argc)
                        argv[a++] = NULL;
        }
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        double *cpu = calloc((size_t) runs * (size_t) n_cmds, sizeof *cpu);
        double *wall = calloc((size_t) runs * (size_t) n_cmds, sizeof *wall);
        if (devnull < 0 || !cpu || !wall) {
                perror("cpu-bench");
                return 1;
        }
        for (int r = 0; r < runs; r++)
                for (int c = 0; c < n_cmds; c++)
                        if (run_once(cmds[c], input, devnull, keep_going, &cpu[c * runs + r], &wall[c * runs + r]) < 0)
                                return 1;
        for (int c = 0; c < n_cmds; c++) {
                double *u = &cpu[c * runs], *w = &wall[c * runs];
                qsort(u, (size_t) runs, sizeof *u, cmp_double);
                qsort(w, (size_t) runs, sizeof *w, cmp_double);
                printf("%.0f %.0f %.0f\n", u[runs / 2], u[0], w[runs / 2]);
        }
        free(cpu);
        free(wall);
        close(devnull);
        return 0;
}
