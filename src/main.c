/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "log.h"

static const struct verb {
        const char *name;
        int min_args, max_args; /* arguments after the verb */
        verb_fn fn;
        const char *synopsis;
} verbs[] = {
        { "list", 0, 0, verb_list, "list                    every IOMMU group and its devices" },
        { "show", 1, 1, verb_show, "show DEVICE             one group in detail" },
        { "enable", 1, 1, verb_enable, "enable DEVICE [--boot]  claim the group now and add it to the configuration" },
        { "disable", 1, 1, verb_disable, "disable DEVICE          give the group back and drop it from the configuration" },
        { "apply", 0, 0, verb_apply, "apply                   claim every group with a boot = yes device (idempotent)" },
        { "release", 1, 1, verb_release, "release DEVICE          give a claimed group back to its host drivers now" },
        { "status", 0, 0, verb_status, "status                  claimed groups, owner VM, original drivers, since when" },
        { "add", 2, 2, verb_add, "add VM DEVICE           put DEVICE's whole group into a stopped VM's definition" },
        { "remove", 2, 2, verb_remove, "remove VM DEVICE        take DEVICE's whole group out of a stopped VM" },
        { "doctor", 0, 1, verb_doctor, "doctor [DEVICE|VM]      what stands between this host and working passthrough" },
        { "check-config", 0, 0, verb_check_config, "check-config            validate the configuration, print every error" },
        { "export", 0, 0, verb_export, "export --format F       configured devices for a scheduler: nova, kubevirt, proxmox" },
};

static void help(FILE *f) {
        fprintf(f,
                "Usage: vfio-claim [OPTIONS] VERB [ARGS]\n"
                "Hand whole IOMMU groups of PCI devices to virtual machines through vfio-pci.\n\n"
                "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %s\n", verbs[i].synopsis);
        fprintf(f,
                "\nDEVICE is a PCI address (0000:01:00.0 or 01:00.0), a configured device name,\n"
                "or group:N.\n\n"
                "Options:\n"
                "      --config DIR     configuration directory (default %s/vfio-claim)\n"
                "      --sysroot DIR    operate on the system below DIR instead of /\n"
                "      --json           machine-readable output: one JSON document on stdout\n"
                "      --dry-run        print the plan, change nothing\n"
                "      --force          override host-critical device protection (and, for release and disable,\n"
                "                       a VM hold libvirt cannot confirm)\n"
                "      --boot           with enable: claim at every boot (boot = yes)\n"
                "      --connect URI    libvirt connection for add/remove, doctor VM, and the VM-hold check of\n"
                "                       release and disable (default qemu:///system)\n"
                "      --timeout SEC    give up on one unbind after SEC seconds (default 10)\n"
                "      --format F       with export: nova, kubevirt or proxmox\n"
                "  -v, --verbose        more messages (repeat for debug)\n"
                "  -h, --help           this help\n"
                "      --version        version\n\n"
                "Exit status: 0 done, 1 failed (nothing changed or rolled back), 2 usage error,\n"
                "3 configuration invalid, 4 refused for safety.\n"
                "See vfio-claim(8) and vfio-claim.conf(5).\n",
                SYSCONFDIR);
}

enum {
        ARG_CONFIG = 0x100,
        ARG_SYSROOT,
        ARG_JSON,
        ARG_DRY_RUN,
        ARG_FORCE,
        ARG_BOOT,
        ARG_CONNECT,
        ARG_TIMEOUT,
        ARG_VERSION,
        ARG_FORMAT,
};

static int parse_argv(struct vc_cli *cli, int argc, char **argv, const char **ret_sysroot,
                      unsigned *ret_timeout_ms) {
        static const struct option options[] = {
                { "config", required_argument, NULL, ARG_CONFIG },
                { "sysroot", required_argument, NULL, ARG_SYSROOT },
                { "json", no_argument, NULL, ARG_JSON },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "force", no_argument, NULL, ARG_FORCE },
                { "boot", no_argument, NULL, ARG_BOOT },
                { "connect", required_argument, NULL, ARG_CONNECT },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "format", required_argument, NULL, ARG_FORMAT },
                {}
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":vh", options, NULL)) >= 0) {
                switch (c) {
                case ARG_CONFIG:
                        free(cli->config_dir);
                        cli->config_dir = strdup(optarg);
                        if (!cli->config_dir)
                                return log_error_errno(ENOMEM, "out of memory");
                        break;
                case ARG_SYSROOT:
                        *ret_sysroot = optarg;
                        break;
                case ARG_JSON: cli->json = true; break;
                case ARG_DRY_RUN: cli->dry_run = true; break;
                case ARG_FORCE: cli->force = true; break;
                case ARG_BOOT: cli->boot = true; break;
                case ARG_CONNECT: cli->connect_uri = optarg; break;
                case ARG_FORMAT: cli->format = optarg; break;
                case ARG_TIMEOUT: {
                        char *end;
                        errno = 0;
                        unsigned long s = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || s == 0 || s > 3600)
                                return log_error_errno(EINVAL, "--timeout: \"%s\" is not a number of seconds from 1 to 3600", optarg);
                        *ret_timeout_ms = (unsigned) s * 1000;
                        break;
                }
                case 'v': cli->verbose++; break;
                case 'h':
                        help(stdout);
                        return 1;
                case ARG_VERSION:
                        puts(PACKAGE_STRING);
                        return 1;
                case ':':
                        return log_error_errno(EINVAL, "option %s needs an argument", argv[optind - 1]);
                default:
                        return log_error_errno(EINVAL, "unknown option %s (see --help)", argv[optind - 1]);
                }
        }
        return 0;
}

int main(int argc, char **argv) {
        struct vc_cli cli = { .connect_uri = "qemu:///system" };
        const char *sysroot = NULL;
        unsigned timeout_ms = 0;
        int r;

        vc_log_open(VC_LOG_STDERR, "vfio-claim");
        r = parse_argv(&cli, argc, argv, &sysroot, &timeout_ms);
        if (r != 0) {
                free(cli.config_dir);
                return r > 0 ? EXIT_DONE : EXIT_USAGE;
        }
        if (cli.verbose)
                vc_log_set_max_level(cli.verbose > 1 ? LOG_DEBUG : LOG_INFO);
        else
                vc_log_set_max_level(LOG_NOTICE);

        if (optind >= argc) {
                help(stderr);
                free(cli.config_dir);
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        const struct verb *verb = NULL;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        verb = &verbs[i];
        int n_args = argc - optind - 1;
        if (!verb) {
                log_error("unknown verb \"%s\" (see --help)", name);
                free(cli.config_dir);
                return EXIT_USAGE;
        }
        if (n_args < verb->min_args || n_args > verb->max_args) {
                log_error("%s: wrong number of arguments; usage: vfio-claim %s", name, verb->synopsis);
                free(cli.config_dir);
                return EXIT_USAGE;
        }

        r = vc_ctx_new(sysroot, &cli.ctx);
        if (r < 0) {
                if (r == -EINVAL)
                        log_error("--sysroot %s: not an absolute path", sysroot);
                else
                        log_error_errno(r, "--sysroot %s: %m", sysroot);
                free(cli.config_dir);
                return EXIT_USAGE;
        }
        if (timeout_ms)
                vc_ctx_set_unbind_timeout_ms(cli.ctx, timeout_ms);
        if (!cli.config_dir && vc_ctx_path(cli.ctx, VC_PLACE_SYSCONF, &cli.config_dir, NULL) < 0) {
                log_error("out of memory");
                vc_ctx_unref(cli.ctx);
                return EXIT_FAILED;
        }

        cli.verb = verb->name;
        r = verb->fn(&cli, n_args, argv + optind + 1);
        return cli_done(&cli, r);
}
