/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* hook-bench RUNS INPUT COMMAND [ARGS...] [-- COMMAND [ARGS...]]...
 *
 * Start each COMMAND RUNS times the way libvirtd starts a hook (fork, stdin from INPUT, stdout
 * and stderr to /dev/null, wait) and time each run from fork() to the end of waitpid(). The
 * commands take turns run by run, so that a change of machine load hits them alike. Prints one
 * line per command: "median_us p90_us min_us". A run that exits non-zero is an error: a
 * benchmark of a failing hook measures nothing. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int run_once(char **cmd, const char *input, int devnull, double *ret_us) {
        int in = open(input, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
                fprintf(stderr, "hook-bench: %s: %s\n", input, strerror(errno));
                return -1;
        }
        double start = now_us();
        pid_t pid = fork();
        if (pid < 0) {
                perror("hook-bench: fork");
                close(in);
                return -1;
        }
        if (pid == 0) {
                if (dup2(in, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0 ||
                    dup2(devnull, STDERR_FILENO) < 0)
                        _exit(127);
                execv(cmd[0], cmd);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        perror("hook-bench: waitpid");
                        close(in);
                        return -1;
                }
        *ret_us = now_us() - start;
        close(in);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "hook-bench: %s failed (status 0x%x)\n", cmd[0], (unsigned) status);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        char **cmds[MAX_COMMANDS];
        size_t n_cmds = 0;

        if (argc < 4) {
                fprintf(stderr, "usage: hook-bench RUNS INPUT COMMAND [ARGS...] [-- COMMAND [ARGS...]]...\n");
                return 2;
        }
        long runs = strtol(argv[1], NULL, 10);
        if (runs < 1 || runs > 1000000) {
                fprintf(stderr, "hook-bench: RUNS must be 1..1000000\n");
                return 2;
        }
        cmds[n_cmds++] = argv + 3;
        for (int i = 3; i < argc; i++)
                if (strcmp(argv[i], "--") == 0) {
                        argv[i] = NULL;
                        if (i + 1 >= argc || n_cmds == MAX_COMMANDS) {
                                fprintf(stderr, "hook-bench: a command is missing after --, or too many\n");
                                return 2;
                        }
                        cmds[n_cmds++] = argv + i + 1;
                }

        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull < 0) {
                perror("hook-bench: /dev/null");
                return 1;
        }
        double *t[MAX_COMMANDS];
        for (size_t c = 0; c < n_cmds; c++)
                if (!(t[c] = calloc((size_t) runs, sizeof(double))))
                        return 1;

        for (long i = 0; i < runs; i++)
                for (size_t c = 0; c < n_cmds; c++)
                        if (run_once(cmds[c], argv[2], devnull, &t[c][i]) < 0)
                                return 1;

        for (size_t c = 0; c < n_cmds; c++) {
                qsort(t[c], (size_t) runs, sizeof(double), cmp_double);
                printf("%.0f %.0f %.0f\n", t[c][runs / 2], t[c][(runs * 9) / 10], t[c][0]);
                free(t[c]);
        }
        close(devnull);
        return 0;
}
