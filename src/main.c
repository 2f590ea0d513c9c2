/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "log.h"

/* The options that belong to some verbs only; the others (--config, --sysroot, --json,
 * --verbose) apply to every verb. */
enum {
        OPT_DRY_RUN = 1 << 0,
        OPT_FORCE = 1 << 1,
        OPT_BOOT = 1 << 2,
        OPT_CONNECT = 1 << 3,
        OPT_TIMEOUT = 1 << 4,
        OPT_NAME = 1 << 5,
        OPT_ALL = 1 << 6,
        OPT_FORMAT = 1 << 7,
        OPT_YES = 1 << 8,
        OPT_NO_MMIO_FIX = 1 << 9,
        OPT_PRIMARY = 1 << 10,
        OPT_ROM = 1 << 11,
        OPT_ROMBAR = 1 << 12,
        OPT_STARTUP_POLICY = 1 << 13,
};

static const struct option_help {
        unsigned flag;
        const char *name;  /* as typed */
        const char *label; /* in help, with its argument */
        const char *help; /* lines of at most 80 columns after the 23-column indent */
} option_help[] = {
        { OPT_DRY_RUN, "--dry-run", "--dry-run", "print the plan and every write, change nothing" },
        { OPT_FORCE, "--force", "--force", "claim host-critical devices, storage in use, what this\n"
                                "session stands on, a GPU or disk held open; with release\n"
                                "and disable, also a group whose VM hold libvirt cannot\n"
                                "confirm; with add and disable, a group another VM's\n"
                                "definition lists; with rom, replace FILE" },
        { OPT_BOOT, "--boot", "--boot", "also claim the group at every boot (boot = yes)" },
        { OPT_NAME, "--name", "--name NAME", "name the entry NAME (conf.d/NAME.conf), not by address" },
        { OPT_YES, "--yes", "--yes", "agree that other slots' devices in the group move too\n"
                                     "(enable writes consent = yes); needed without a terminal" },
        { OPT_FORMAT, "--format", "--format F", "nova, kubevirt or proxmox" },
        { OPT_ALL, "--all", "--all", "every claimed group, one at a time; a summary at the end" },
        { OPT_CONNECT, "--connect", "--connect URI", "libvirt connection (default qemu:///system)" },
        { OPT_NO_MMIO_FIX, "--no-mmio-fix", "--no-mmio-fix", "leave OVMF's 64-bit MMIO window as it is" },
        { OPT_PRIMARY, "--primary", "--primary", "make the group's GPU the VM's display" },
        { OPT_ROM, "--rom", "--rom FILE", "the GPU's ROM image for the VM (<rom file=FILE>)" },
        { OPT_ROMBAR, "--rombar", "--rombar on|off", "show the device's ROM BAR to the VM or not" },
        { OPT_STARTUP_POLICY, "--startup-policy", "--startup-policy P", "a USB device's startupPolicy: optional\n"
                                                                       "(default), requisite or mandatory" },
        { OPT_TIMEOUT, "--timeout", "--timeout SEC", "give up on one unbind, or on a device a write\n"
                                                     "left stuck, after SEC seconds (default 10)" },
};

/* What a verb needs before it runs; main() loads it once (load_needs()). */
enum {
        NEEDS_CONFIG = 1 << 0,   /* a valid configuration: refused with EXIT_CONFIG otherwise */
        READS_CONFIG = 1 << 1,   /* the configuration when valid; an invalid one is reported and
                                  * left out (cli->config NULL, cli->config_errors) */
        NEEDS_TOPOLOGY = 1 << 2, /* the PCI devices and their IOMMU groups (cli->topology) */
        USES_LIBVIRT = 1 << 3,   /* talks to libvirt (on its own terms): takes --connect */
        OVERRIDES_LATE = 1 << 4, /* with NEEDS_TOPOLOGY: a device's driver_override is read when
                                  * the verb asks for it, not with every device (doctor and export
                                  * ask for none or few; list shows every one) */
};

static const struct verb {
        const char *name;
        int min_args, max_args; /* arguments after the verb */
        verb_fn fn;
        const char *usage;   /* "enable DEVICE [--boot]" */
        const char *summary; /* one line */
        unsigned needs;      /* NEEDS_*, READS_CONFIG, USES_LIBVIRT */
        unsigned options;    /* OPT_* it accepts besides --connect (USES_LIBVIRT) */
        bool writes;         /* changes the system: needs root on the real root */
        const char *config_hint; /* logged when NEEDS_CONFIG refuses, NULL: none */
} verbs[] = {
        { "list", 0, 0, verb_list, "list", "every IOMMU group and its devices",
          READS_CONFIG | NEEDS_TOPOLOGY, OPT_TIMEOUT, false, NULL },
        { "show", 1, 1, verb_show, "show DEVICE", "one group in detail",
          READS_CONFIG | USES_LIBVIRT, OPT_TIMEOUT, false, NULL },
        { "enable", 1, 1, verb_enable, "enable DEVICE [--boot] [--name NAME] [--yes]",
          "claim the group now, add it to the configuration",
          NEEDS_CONFIG, OPT_DRY_RUN | OPT_FORCE | OPT_BOOT | OPT_TIMEOUT | OPT_NAME | OPT_YES, true, NULL },
        { "disable", 0, 1, verb_disable, "disable DEVICE|--all", "give the group back, drop it from the configuration",
          /* a claimed group goes back from its record even when the configuration is invalid;
           * only --all needs it (src/verb-claim.c verb_disable) */
          READS_CONFIG | USES_LIBVIRT, OPT_DRY_RUN | OPT_FORCE | OPT_TIMEOUT | OPT_ALL, true, NULL },
        { "apply", 0, 0, verb_apply, "apply [--yes]", "claim every group with a boot = yes device",
          NEEDS_CONFIG, OPT_DRY_RUN | OPT_FORCE | OPT_TIMEOUT | OPT_YES, true, NULL },
        /* release decides from the state records alone: an invalid configuration must not stop a
         * group from going back to the host. */
        { "release", 0, 1, verb_release, "release DEVICE|--all", "give a claimed group back to the host now",
          READS_CONFIG | USES_LIBVIRT, OPT_DRY_RUN | OPT_FORCE | OPT_TIMEOUT | OPT_ALL, true, NULL },
        { "status", 0, 0, verb_status, "status", "claimed groups, owner VM, original drivers",
          USES_LIBVIRT, OPT_TIMEOUT, false, NULL },
        { "add", 2, 2, verb_add, "add VM DEVICE", "put DEVICE's group into a stopped VM",
          NEEDS_CONFIG | USES_LIBVIRT, OPT_DRY_RUN | OPT_FORCE | OPT_NO_MMIO_FIX | OPT_PRIMARY | OPT_ROM | OPT_ROMBAR |
                  OPT_STARTUP_POLICY,
          false, NULL },
        { "remove", 2, 2, verb_remove, "remove VM DEVICE", "take DEVICE's group out of a stopped VM",
          NEEDS_CONFIG | USES_LIBVIRT, OPT_DRY_RUN, false, NULL },
        /* started by vfio-claim-usb-reattach@PORT.service, which the generated udev rule wants
         * when a [usb NAME] device with vm = is plugged in (lib/boot.h) */
        { "usb-reattach", 1, 1, verb_usb_reattach, "usb-reattach PORT",
          "attach a replugged USB device to its running VM again", NEEDS_CONFIG | USES_LIBVIRT, 0, false, NULL },
        { "rom", 2, 2, verb_rom, "rom DEVICE FILE", "save DEVICE's expansion ROM to FILE",
          0, OPT_FORCE, true, NULL },
        /* doctor reports an invalid configuration as a finding */
        { "doctor", 0, 1, verb_doctor, "doctor [DEVICE|VM]", "what stands between this host and passthrough",
          READS_CONFIG | NEEDS_TOPOLOGY | OVERRIDES_LATE | USES_LIBVIRT, OPT_TIMEOUT, false, NULL },
        /* check-config reads the configuration itself: its errors are its output */
        { "check-config", 0, 0, verb_check_config, "check-config", "validate the configuration, print every error",
          0, 0, false, NULL },
        { "export", 0, 0, verb_export, "export --format F", "configured devices for a scheduler",
          NEEDS_CONFIG | NEEDS_TOPOLOGY | OVERRIDES_LATE, OPT_FORMAT, false, NULL },
        { "help", 0, 1, NULL, "help [VERB]", "this help, or one verb's", 0, 0, false, NULL },
};

/* The OPT_* @v takes. */
static unsigned verb_options(const struct verb *v) {
        return v->options | (v->needs & USES_LIBVIRT ? OPT_CONNECT : 0);
}

static const struct verb *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: vfio-claim [OPTIONS] VERB [ARGS]\n"
                "Hand whole IOMMU groups of PCI devices to virtual machines through vfio-pci.\n\n"
                "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strlen(verbs[i].usage) <= 22)
                        fprintf(f, "  %-22s %s\n", verbs[i].usage, verbs[i].summary);
                else /* a long synopsis gets a line of its own */
                        fprintf(f, "  %s\n  %-22s %s\n", verbs[i].usage, "", verbs[i].summary);
        fprintf(f,
                "\nDEVICE is a PCI address (0000:01:00.0 or 01:00.0), a configured device name,\n"
                "or group:N.\n\n"
                "Options:\n"
                "      --config DIR     configuration directory (default %s/vfio-claim)\n"
                "      --sysroot DIR    operate on the system below DIR instead of /\n"
                "      --json           machine-readable output: one JSON document on stdout\n"
                "      --dry-run        print the plan, change nothing\n"
                "      --force          claim host-critical devices, storage in use, what this\n"
                "                       session stands on, a GPU or disk held open; with release\n"
                "                       and disable, also a group whose VM hold libvirt cannot\n"
                "                       confirm; with add and disable, a group another VM's\n"
                "                       definition lists; with rom: replace an existing FILE\n"
                "      --boot           with enable: claim at every boot (boot = yes)\n"
                "      --yes            with enable/apply: other slots' devices in the group move\n"
                "                       too (asked on a terminal; refused without one)\n"
                "      --connect URI    libvirt connection (default qemu:///system)\n"
                "      --timeout SEC    give up on one sysfs write (an unbind, a probe) or a read\n"
                "                       of driver_override after SEC seconds (default:\n"
                "                       [global] timeout, else 10)\n"
                "      --format F       with export: nova, kubevirt or proxmox\n"
                "      --no-mmio-fix    with add: leave OVMF's 64-bit MMIO window as it is\n"
                "      --primary        with add: make the group's GPU the VM's display\n"
                "      --rom FILE       with add: the GPU's ROM image for the VM (absolute path)\n"
                "      --rombar on|off  with add: show the GPU's ROM BAR to the VM or not\n"
                "      --startup-policy P  with add of a USB device: optional (default),\n"
                "                       requisite or mandatory\n"
                "  -v, --verbose        more messages (repeat for debug)\n"
                "  -h, --help           this help ('vfio-claim help VERB': one verb)\n"
                "      --version        version\n\n"
                "Exit status: 0 done, 1 failed (nothing changed or rolled back), 2 usage error,\n"
                "3 configuration invalid, 4 refused for safety.\n"
                "See vfio-claim(8) and vfio-claim.conf(5).\n",
                SYSCONFDIR);
}

static void help_verb(FILE *f, const struct verb *v) {
        fprintf(f, "Usage: vfio-claim [OPTIONS] %s\n%c%s.\n", v->usage, toupper((unsigned char) v->summary[0]),
                v->summary + 1);
        if (verb_options(v)) {
                fprintf(f, "\nOptions of %s:\n", v->name);
                for (size_t i = 0; i < ELEMENTSOF(option_help); i++) {
                        if (!(verb_options(v) & option_help[i].flag))
                                continue;
                        fprintf(f, "  %-20s ", option_help[i].label);
                        for (const char *p = option_help[i].help; *p; p++) {
                                fputc(*p, f);
                                if (*p == '\n')
                                        fprintf(f, "  %-20s ", "");
                        }
                        fputc('\n', f);
                }
        }
        fprintf(f, "\nEvery verb also takes --config DIR, --sysroot DIR, --json and --verbose.\n"
                   "See vfio-claim(8).\n");
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
        ARG_NAME,
        ARG_ALL,
        ARG_FORMAT,
        ARG_YES,
        ARG_NO_MMIO_FIX,
        ARG_PRIMARY,
        ARG_ROM,
        ARG_ROMBAR,
        ARG_STARTUP_POLICY,
};

static int parse_argv(struct vc_cli *cli, int argc, char **argv, const char **ret_sysroot,
                      unsigned *ret_timeout_ms, unsigned *ret_given) {
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
                { "name", required_argument, NULL, ARG_NAME },
                { "all", no_argument, NULL, ARG_ALL },
                { "format", required_argument, NULL, ARG_FORMAT },
                { "yes", no_argument, NULL, ARG_YES },
                { "no-mmio-fix", no_argument, NULL, ARG_NO_MMIO_FIX },
                { "primary", no_argument, NULL, ARG_PRIMARY },
                { "rom", required_argument, NULL, ARG_ROM },
                { "rombar", required_argument, NULL, ARG_ROMBAR },
                { "startup-policy", required_argument, NULL, ARG_STARTUP_POLICY },
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
                case ARG_DRY_RUN: cli->dry_run = true; *ret_given |= OPT_DRY_RUN; break;
                case ARG_FORCE: cli->force = true; *ret_given |= OPT_FORCE; break;
                case ARG_BOOT: cli->boot = true; *ret_given |= OPT_BOOT; break;
                case ARG_NAME:
                        /* not a dot first: conf.d/NAME.conf would be a hidden file, which is not read */
                        if (!vc_config_name_is_valid(optarg) || optarg[0] == '.' || strlen(optarg) > 64)
                                return log_error_errno(EINVAL, "--name: \"%s\" is not a name (up to 64 letters, digits, '_', '.', '-'; not '.' first)", optarg);
                        cli->name = optarg;
                        *ret_given |= OPT_NAME;
                        break;
                case ARG_ALL: cli->all = true; *ret_given |= OPT_ALL; break;
                case ARG_YES: cli->yes = true; *ret_given |= OPT_YES; break;
                case ARG_CONNECT: cli->connect_uri = optarg; *ret_given |= OPT_CONNECT; break;
                case ARG_FORMAT: cli->format = optarg; *ret_given |= OPT_FORMAT; break;
                case ARG_NO_MMIO_FIX: cli->no_mmio_fix = true; *ret_given |= OPT_NO_MMIO_FIX; break;
                case ARG_PRIMARY: cli->primary = true; *ret_given |= OPT_PRIMARY; break;
                case ARG_ROM:
                        /* libvirt takes an absolute path; it reaches no sysfs path */
                        if (optarg[0] != '/' || strlen(optarg) >= 4096 || strpbrk(optarg, "\n\r\t"))
                                return log_error_errno(EINVAL, "--rom: \"%s\" is not an absolute path", optarg);
                        cli->rom = optarg;
                        *ret_given |= OPT_ROM;
                        break;
                case ARG_ROMBAR:
                        if (!streq(optarg, "on") && !streq(optarg, "off"))
                                return log_error_errno(EINVAL, "--rombar: \"%s\" is neither on nor off", optarg);
                        cli->rombar = optarg;
                        *ret_given |= OPT_ROMBAR;
                        break;
                case ARG_STARTUP_POLICY:
                        if (!streq(optarg, "optional") && !streq(optarg, "requisite") && !streq(optarg, "mandatory"))
                                return log_error_errno(EINVAL, "--startup-policy: \"%s\" is not optional, requisite or mandatory", optarg);
                        cli->startup_policy = optarg;
                        *ret_given |= OPT_STARTUP_POLICY;
                        break;
                case ARG_TIMEOUT: {
                        *ret_given |= OPT_TIMEOUT;
                        char *end;
                        errno = 0;
                        unsigned long s = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || s == 0 || s > VC_CONFIG_TIMEOUT_MAX_S)
                                return log_error_errno(EINVAL, "--timeout: \"%s\" is not a number of seconds from 1 to %u", optarg,
                                                       VC_CONFIG_TIMEOUT_MAX_S);
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

/* "--boot" for the first option in @given that @v does not take. */
static const char *first_foreign_option(const struct verb *v, unsigned given) {
        for (size_t i = 0; i < ELEMENTSOF(option_help); i++)
                if ((given & option_help[i].flag) && !(verb_options(v) & option_help[i].flag))
                        return option_help[i].name;
        return NULL;
}

/* Load once what the verb's table entry says it needs. An exit code. */
static int load_needs(struct vc_cli *cli, const struct verb *v) {
        int r;

        if (v->needs & NEEDS_CONFIG) {
                r = cli_load_config(cli);
                if (r != EXIT_DONE) {
                        if (r == EXIT_CONFIG && v->config_hint)
                                log_notice("%s", v->config_hint);
                        return r;
                }
        } else if (v->needs & READS_CONFIG) {
                r = cli_load_config_to_read(cli);
                if (r != EXIT_DONE)
                        return r;
        }
        if (v->needs & NEEDS_TOPOLOGY)
                return cli_load_devices_full(cli, v->needs & OVERRIDES_LATE ? VC_PCI_READ_OVERRIDE_ON_DEMAND : 0,
                                             &cli->topology);
        return EXIT_DONE;
}

/* help [VERB] */
static int run_help(int n_args, char **args) {
        if (n_args == 0) {
                help(stdout);
                return EXIT_DONE;
        }
        const struct verb *v = find_verb(args[0]);
        if (!v) {
                log_error("help: unknown verb \"%s\" (see --help)", args[0]);
                return EXIT_USAGE;
        }
        help_verb(stdout, v);
        return EXIT_DONE;
}

int main(int argc, char **argv) {
        _cleanup_(cli_clear) struct vc_cli cli = { .connect_uri = "qemu:///system" };
        const char *sysroot = NULL;
        unsigned timeout_ms = 0, given = 0;
        int r;

        vc_log_open(VC_LOG_STDERR, "vfio-claim");
        r = parse_argv(&cli, argc, argv, &sysroot, &timeout_ms, &given);
        if (r != 0)
                return r > 0 ? EXIT_DONE : EXIT_USAGE;
        if (cli.verbose)
                vc_log_set_max_level(cli.verbose > 1 ? LOG_DEBUG : LOG_INFO);
        else
                vc_log_set_max_level(LOG_NOTICE);

        if (optind >= argc) {
                help(stderr);
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        const struct verb *verb = find_verb(name);
        int n_args = argc - optind - 1;
        char **args = argv + optind + 1;
        if (!verb)
                return log_error("unknown verb \"%s\" (see --help)", name), EXIT_USAGE;
        /* release and disable take DEVICE or --all, never both */
        bool all_ok = (verb->options & OPT_ALL) && ((given & OPT_ALL) ? n_args == 0 : n_args == 1);
        if ((verb->options & OPT_ALL) ? !all_ok : n_args < verb->min_args || n_args > verb->max_args)
                return log_error("%s: wrong number of arguments; usage: vfio-claim %s", name, verb->usage), EXIT_USAGE;
        const char *foreign = first_foreign_option(verb, given);
        if (foreign)
                return log_error("%s: %s is not an option of %s; usage: vfio-claim %s", name, foreign, name, verb->usage),
                       EXIT_USAGE;
        if (!verb->fn)
                return run_help(n_args, args);
        /* Writing to the real /sys needs root: say so before anything is read or locked. */
        if (verb->writes && !sysroot && !cli.dry_run && geteuid() != 0)
                return log_error("%s changes the system and needs root: run it with sudo (--dry-run shows "
                                 "the plan without root)", name),
                       EXIT_FAILED;

        r = vc_ctx_new(sysroot, &cli.ctx);
        if (r == -EINVAL)
                return log_error("--sysroot %s: not an absolute path", sysroot), EXIT_USAGE;
        if (r < 0)
                return log_error_errno(r, "--sysroot %s: %m", sysroot), EXIT_USAGE;
        if ((cli.timeout_given = timeout_ms != 0))
                vc_ctx_set_unbind_timeout_ms(cli.ctx, timeout_ms);
        vc_ctx_set_session_critical(cli.ctx, true); /* an admin may run it over SSH */
        /* A verb that moves devices reads what takes a device's lock with a deadline from the
         * start, not only under the state lock (lib/root.h): a driver's probe stuck on a member
         * of the group must not leave the command in the kernel, where no Ctrl-C reaches it. */
        if (verb->writes)
                vc_ctx_set_device_reads_bounded(cli.ctx, true);
        vc_ctx_set_dry_run(cli.ctx, cli.dry_run);
        if (!cli.config_dir && vc_ctx_path(cli.ctx, VC_PLACE_SYSCONF, &cli.config_dir, NULL) < 0)
                return log_error("out of memory"), EXIT_FAILED;

        cli.verb = verb->name;
        r = load_needs(&cli, verb);
        if (r == EXIT_DONE)
                r = cli_exit_status(verb->fn(&cli, n_args, args));
        return cli_done(&cli, r);
}
