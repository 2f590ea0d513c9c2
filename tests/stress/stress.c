/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vc-stress: generated operation sequences against the fake kernel, checked against invariants
 * after every step (tests/stress/README.md, docs/RELIABILITY.md).
 *
 * A run is a series of episodes; an episode starts from a fresh tree (tests/stress/stress.topo),
 * a hand-written configuration and four libvirt domains, and runs steps. A step is one admin
 * action (a VM that dies while libvirtd is down, an edit of "reset =") or one to --actors
 * concurrent operations of the real programs (vfio-claim, the hook worker, the udev helper),
 * with at most one fault armed in the fake kernel for the step (EIO, EBUSY, ENODEV, a hang,
 * SIGKILL of the writer's process group, or a device's lock held by a task stuck in the kernel). After every step the invariants are checked; a
 * violation is shrunk (delta debugging over the steps of the episode) and printed with a
 * command line that replays it.
 *
 * This is test code: it reads the tree with plain libc, never with the library under test. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

int vc_stress_main_cli(int argc, char **argv);
int vc_stress_main_hook(int argc, char **argv);
int vc_stress_main_udev(int argc, char **argv);

#define MAX_ACTORS 8
#define MAX_JOBS 64
#define MAX_GROUPS 8
#define MAX_DEVS 4
#define MAX_STEPS 100000
#define MAX_FILES 32
#define OP_DEADLINE_S 120 /* an operation still running after this is a hang (a violation) */

/* ------------------------------------------------------------------ options, paths */

static uint64_t arg_seed = 1;
static long arg_steps = 2000;
static int arg_actors = 3;
static int arg_episode_steps = 50;
static bool arg_exec;
static bool arg_verbose;
static int arg_hang_permille = 5;
static int arg_shrink_seconds = 120;
static int arg_repeat = 1;
static int arg_jobs = 1;
static uint64_t arg_first_episode; /* the run's episodes are FIRST, FIRST+1, ... (a run that goes on) */
static int arg_job_index = -1; /* a worker of a run with --jobs: which one (internal) */
static const char *arg_replay;
static char arg_tolerate[512];
static char arg_builddir[PATH_MAX], arg_srcdir[PATH_MAX], arg_workdir[PATH_MAX];

static char root[PATH_MAX], confdir[PATH_MAX], statedir[PATH_MAX], node_xml[PATH_MAX], uri[PATH_MAX + 16];

_Noreturn static void die(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("vc-stress: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(2);
}

static void pathf(char *buf, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, PATH_MAX, fmt, ap);
        va_end(ap);
        if (n < 0 || n >= PATH_MAX)
                die("path too long");
}

static int read_text(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int e = errno;
        close(fd);
        if (n < 0)
                return -e;
        buf[n] = 0;
        return (int) n;
}

static void write_text(const char *path, const char *text) {
        char tmp[PATH_MAX];
        pathf(tmp, "%s.vc-stress-tmp", path);
        FILE *f = fopen(tmp, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0)
                die("cannot write %s: %s", path, strerror(errno));
}

static void chomp(char *s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = 0;
}

/* ------------------------------------------------------------------ random numbers */

static uint64_t rng;
static uint64_t splitmix(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}
static unsigned rnd(unsigned n) { return n ? (unsigned) (splitmix(&rng) % n) : 0; }
static bool chance(unsigned permille) { return rnd(1000) < permille; }

/* ------------------------------------------------------------------ the machine */

/* What the episode starts from, per group: its endpoints and their host state. */
struct dev_state {
        char addr[16];
        char driver[64];   /* "" unbound */
        char override[64]; /* "" none */
        char reset[128];
};
struct group {
        unsigned number;
        int n;
        struct dev_state dev[MAX_DEVS];
};
static struct group groups[MAX_GROUPS];
static int n_groups;

/* The libvirt domains: which host devices they name, and whether libvirt runs them. */
struct vm {
        const char *name;
        const char *addrs[2];
        bool running;
        bool holds[MAX_GROUPS]; /* the groups of its configured devices when it started */
};
static struct vm vms[] = {
        { .name = "vm1", .addrs = { "0000:01:00.0" } },
        { .name = "vm2", .addrs = { "0000:02:00.0" } },
        { .name = "vm3", .addrs = { "0000:02:00.0", "0000:04:00.0" } },
        { .name = "vm4", .addrs = { "0000:03:00.0" } },
};
#define N_VMS (int) (sizeof vms / sizeof vms[0])

static const char *const dev_args[] = {
        "0000:01:00.0", "01:00.1", "0000:02:00.0", "0000:03:00.0", "04:00.0", "0000:04:00.1",
        "group:1", "group:3", "group:5", "group:7", "gpu", "router-nic", "boot-nic", "coldplug",
};
static const char *const event_addrs[] = { "0000:01:00.0", "0000:01:00.1", "0000:02:00.0", "0000:03:00.0",
                                           "0000:04:00.0", "0000:04:00.1" };
#define ELEMS(a) (int) (sizeof(a) / sizeof((a)[0]))

static bool reset_configured;
static bool route_on; /* the default route goes through the coldplug NIC (set_default_route()) */

static void read_dev(const char *addr, struct dev_state *d) {
        char p[PATH_MAX], buf[256];
        ssize_t n;
        memset(d, 0, sizeof *d);
        snprintf(d->addr, sizeof d->addr, "%s", addr);
        pathf(p, "%s/sys/bus/pci/devices/%s/driver", root, addr);
        n = readlink(p, buf, sizeof buf - 1);
        if (n > 0) {
                buf[n] = 0;
                const char *b = strrchr(buf, '/');
                snprintf(d->driver, sizeof d->driver, "%s", b ? b + 1 : buf);
        }
        pathf(p, "%s/sys/bus/pci/devices/%s/driver_override", root, addr);
        if (read_text(p, buf, sizeof buf) >= 0) {
                chomp(buf);
                if (strcmp(buf, "(null)") != 0)
                        snprintf(d->override, sizeof d->override, "%s", buf);
        }
        pathf(p, "%s/sys/bus/pci/devices/%s/reset_method", root, addr);
        if (read_text(p, d->reset, sizeof d->reset) >= 0)
                chomp(d->reset);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *) a, *(char *const *) b); }

/* Endpoints of every group, from the tree (bridges stay on their drivers and are skipped). */
static void read_baseline(void) {
        char p[PATH_MAX];
        n_groups = 0;
        for (unsigned g = 0; g < 64 && n_groups < MAX_GROUPS; g++) {
                pathf(p, "%s/sys/kernel/iommu_groups/%u/devices", root, g);
                DIR *d = opendir(p);
                if (!d)
                        continue;
                struct group *gr = &groups[n_groups];
                memset(gr, 0, sizeof *gr);
                gr->number = g;
                char *names[MAX_DEVS * 2];
                int nn = 0;
                struct dirent *e;
                while ((e = readdir(d)) && nn < MAX_DEVS * 2)
                        if (e->d_name[0] != '.')
                                names[nn++] = strdup(e->d_name);
                closedir(d);
                qsort(names, (size_t) nn, sizeof names[0], cmp_str);
                for (int i = 0; i < nn; i++) {
                        char cls[32] = "";
                        pathf(p, "%s/sys/bus/pci/devices/%s/class", root, names[i]);
                        (void) read_text(p, cls, sizeof cls);
                        if (strncmp(cls, "0x0604", 6) != 0 && gr->n < MAX_DEVS)
                                read_dev(names[i], &gr->dev[gr->n++]);
                        free(names[i]);
                }
                if (gr->n > 0)
                        n_groups++;
        }
}

static int group_of_addr(const char *addr) {
        char full[16];
        snprintf(full, sizeof full, "%s%s", strlen(addr) == 7 ? "0000:" : "", addr);
        for (int i = 0; i < n_groups; i++)
                for (int k = 0; k < groups[i].n; k++)
                        if (strcmp(groups[i].dev[k].addr, full) == 0)
                                return i;
        return -1;
}

/* The group index a DEVICE argument of the CLI names (-1: unknown). */
static int group_of_arg(const char *a) {
        static const struct { const char *name, *addr; } names[] = {
                { "gpu", "0000:01:00.0" }, { "router-nic", "0000:02:00.0" },
                { "boot-nic", "0000:03:00.0" }, { "coldplug", "0000:04:00.0" },
        };
        if (strncmp(a, "group:", 6) == 0) {
                for (int i = 0; i < n_groups; i++)
                        if (groups[i].number == (unsigned) atoi(a + 6))
                                return i;
                return -1;
        }
        for (int i = 0; i < ELEMS(names); i++)
                if (strcmp(a, names[i].name) == 0)
                        return group_of_addr(names[i].addr);
        return group_of_addr(a);
}

/* ------------------------------------------------------------------ configuration, VMs */

/* [global] timeout of the main configuration: the bound of one write for the hook and the udev
 * helper, which take no options (the CLI gets --timeout). 1 s for a step whose fault makes a write
 * hang, else one no loaded machine reaches (step_may_hang). */
static unsigned conf_timeout_s = 60;

static void write_main_conf(void) {
        char p[PATH_MAX], text[1024];
        snprintf(text, sizeof text,
                 "# Hand-written by the admin: vc-stress checks that no command rewrites it.\n"
                 "[global]\n"
                 "release = host\n"
                 "timeout = %u\n"
                 "\n"
                 "[device gpu]\n"
                 "match = 0000:01:00.0\n"
                 "\n"
                 "# the NIC a boot = yes claim keeps on vfio-pci\n"
                 "[device boot-nic]\n"
                 "match = 0000:03:00.0\n"
                 "boot = yes\n"
                 "%s"
                 "\n"
                 "[device coldplug]\n"
                 "match = 0000:04:00.0\n"
                 "boot = yes\n",
                 conf_timeout_s, reset_configured ? "reset = flr\n" : "");
        pathf(p, "%s/vfio-claim.conf", confdir);
        write_text(p, text);
}

/* libvirtd, as the hook and the CLI see it: vc-stress is the hook's parent, and its
 * ROOT/proc/PID/stat (the fake tree's /proc) gives it a start time. A libvirtd that restarts
 * (the "crash" step: the VM died while libvirtd was down) is a new process under the same PID:
 * another start time. */
static unsigned long long libvirtd_start;

static void write_libvirtd_stat(void) {
        char p[PATH_MAX], text[256];
        pid_t self = getpid();
        pathf(p, "%s/proc", root);
        (void) mkdir(p, 0755);
        pathf(p, "%s/proc/%d", root, (int) self);
        (void) mkdir(p, 0755);
        snprintf(text, sizeof text, "%d (libvirtd) S 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0\n",
                 (int) self, (int) self, (int) self, libvirtd_start);
        pathf(p, "%s/proc/%d/stat", root, (int) self);
        write_text(p, text);
}

static void write_node_xml(void) {
        char text[4096];
        size_t n = 0;
        n += (size_t) snprintf(text + n, sizeof text - n, "<node>\n");
        for (int i = 0; i < N_VMS; i++)
                n += (size_t) snprintf(text + n, sizeof text - n,
                                       "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
                                       "<name>%s</name><memory>1048576</memory><os><type>hvm</type></os>%s</domain>\n",
                                       vms[i].name, vms[i].running ? "" : "<test:runstate>5</test:runstate>");
        snprintf(text + n, sizeof text - n, "</node>\n");
        write_text(node_xml, text);
}

static void write_vm_xml(const struct vm *v) {
        char p[PATH_MAX], text[2048];
        size_t n = 0;
        n += (size_t) snprintf(text + n, sizeof text - n,
                               "<domain type='kvm'>\n  <name>%s</name>\n  <memory unit='MiB'>1024</memory>\n"
                               "  <devices>\n",
                               v->name);
        for (int k = 0; k < 2 && v->addrs[k]; k++) {
                unsigned bus, slot, fn;
                if (sscanf(v->addrs[k], "0000:%x:%x.%x", &bus, &slot, &fn) != 3)
                        die("bad address %s", v->addrs[k]);
                n += (size_t) snprintf(text + n, sizeof text - n,
                                       "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
                                       "      <source><address domain='0x0000' bus='0x%02x' slot='0x%02x' "
                                       "function='0x%x'/></source>\n    </hostdev>\n",
                                       bus, slot, fn);
        }
        snprintf(text + n, sizeof text - n, "  </devices>\n</domain>\n");
        pathf(p, "%s/%s.xml", arg_workdir, v->name);
        write_text(p, text);
}

/* Configuration files: name and a hash of the content, to see what a step changed. */
struct conf_file {
        char name[128];
        uint64_t hash;
        char text[4096]; /* the start of the file: what disable's section removal is checked on */
};
struct conf_snap {
        int n;
        struct conf_file f[MAX_FILES];
};

static uint64_t fnv(const char *s, size_t n) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) s[i]) * 0x100000001b3ULL;
        return h;
}

static void snap_dir(struct conf_snap *s, const char *sub) {
        char p[PATH_MAX], buf[16384];
        pathf(p, "%s%s%s", confdir, *sub ? "/" : "", sub);
        DIR *d = opendir(p);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d)) && s->n < MAX_FILES) {
                if (e->d_name[0] == '.' || strcmp(e->d_name, "conf.d") == 0)
                        continue;
                char f[PATH_MAX];
                pathf(f, "%s/%s", p, e->d_name);
                int n = read_text(f, buf, sizeof buf);
                struct conf_file *cf = &s->f[s->n++];
                snprintf(cf->name, sizeof cf->name, "%s%s%s", sub, *sub ? "/" : "", e->d_name);
                cf->hash = n < 0 ? 0 : fnv(buf, (size_t) n);
                snprintf(cf->text, sizeof cf->text, "%s", n < 0 ? "" : buf);
        }
        closedir(d);
}

static void snap_conf(struct conf_snap *s) {
        s->n = 0;
        snap_dir(s, "");
        snap_dir(s, "conf.d");
}

static const struct conf_file *snap_find(const struct conf_snap *s, const char *name) {
        for (int i = 0; i < s->n; i++)
                if (strcmp(s->f[i].name, name) == 0)
                        return &s->f[i];
        return NULL;
}

/* Files that "vfio-claim enable" created: the only ones "disable" may remove. */
static struct conf_snap enable_written;

/* ------------------------------------------------------------------ state records */

enum { REC_NONE, REC_CLAIMING, REC_CLAIMED, REC_RELEASING, REC_BAD };
struct record {
        int state;
        char owner[64];
        bool host_probe[MAX_DEVS];
};

static void read_record(const struct group *g, struct record *r) {
        char p[PATH_MAX], buf[8192];
        memset(r, 0, sizeof *r);
        pathf(p, "%s/group-%u", statedir, g->number);
        if (read_text(p, buf, sizeof buf) < 0) {
                r->state = REC_NONE;
                return;
        }
        r->state = REC_BAD;
        for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (strncmp(l, "state ", 6) == 0)
                        r->state = strcmp(l + 6, "claiming") == 0    ? REC_CLAIMING
                                   : strcmp(l + 6, "claimed") == 0   ? REC_CLAIMED
                                   : strcmp(l + 6, "releasing") == 0 ? REC_RELEASING
                                                                     : REC_BAD;
                else if (strncmp(l, "owner ", 6) == 0)
                        snprintf(r->owner, sizeof r->owner, "%s", l + 6);
                else if (strncmp(l, "device ", 7) == 0 && strstr(l, "host=probe"))
                        for (int k = 0; k < g->n; k++)
                                if (strncmp(l + 7, g->dev[k].addr, strlen(g->dev[k].addr)) == 0)
                                        r->host_probe[k] = true;
        }
}

/* ------------------------------------------------------------------ invariants */

enum { CLS_HOST, CLS_CLAIMED, CLS_PENDING, CLS_BROKEN };
struct gview {
        int cls;
        char owner[64];
};

struct violation {
        char name[32];
        char detail[1024];
};
static struct violation viol;
static bool violated;
static long tolerated_count[16];
static const char *const invariant_names[] = {
        "not-whole", "half-claimed-no-record", "given-back-to-vfio", "reset-restored",
        "held-given-back", "failed-changed", "verb-result", "config-touched",
        "pending-unfinished", "hang", "refused-wrote", NULL,
};

static int invariant_index(const char *name) {
        for (int i = 0; invariant_names[i]; i++)
                if (strcmp(invariant_names[i], name) == 0)
                        return i;
        return -1;
}

/* A group a tolerated violation left broken is tainted until the episode ends: what happens to
 * it later follows from the known defect, and is counted apart. */
static bool tainted[MAX_GROUPS];
static int cur_group = -1; /* the group a check is about, -1: none */
static long cascade_count;

static bool tolerated(const char *name) {
        char list[512];
        snprintf(list, sizeof list, "%s", arg_tolerate);
        for (char *save = NULL, *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
                if (strcmp(t, name) == 0 || strcmp(t, "all") == 0)
                        return true;
        return false;
}

/* Report a violation; returns true when it is tolerated (the run goes on). */
__attribute__((format(printf, 2, 3))) static bool report(const char *name, const char *fmt, ...) {
        if (tolerated(name)) {
                int i = invariant_index(name);
                if (i >= 0)
                        tolerated_count[i]++;
                /* only a group the violation left broken (reset_method, an owner: it is still whole) */
                if (cur_group >= 0 && (strcmp(name, "not-whole") == 0 || strcmp(name, "half-claimed-no-record") == 0 ||
                                       strcmp(name, "given-back-to-vfio") == 0))
                        tainted[cur_group] = true;
                return true;
        }
        if (cur_group >= 0 && tainted[cur_group]) {
                cascade_count++;
                return true;
        }
        if (violated)
                return false;
        violated = true;
        snprintf(viol.name, sizeof viol.name, "%s", name);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(viol.detail, sizeof viol.detail, fmt, ap);
        va_end(ap);
        return false;
}

static bool host_driver_ok(const struct dev_state *base, const struct dev_state *now, bool host_probe) {
        if (strcmp(now->driver, base->driver) == 0)
                return true;
        /* Unbound at the start (coldplug): the kernel's pick is the host's too, never vfio-pci. */
        return (!base->driver[0] || host_probe) && strcmp(now->driver, "vfio-pci") != 0;
}

/* Fully claimed, fully the host's, or a pending record: anything else is a violation. */
static void view_group(int gi, struct gview *v, bool check) {
        const struct group *g = &groups[gi];
        struct dev_state now[MAX_DEVS];
        struct record rec;
        char p[PATH_MAX];
        bool all_vfio = true, any_vfio = false, host = true, reset_same = true, vfio_no_override = false,
             any_override_vfio = false;
        int bad = -1;

        cur_group = gi;
        read_record(g, &rec);
        for (int k = 0; k < g->n; k++) {
                read_dev(g->dev[k].addr, &now[k]);
                bool on = strcmp(now[k].driver, "vfio-pci") == 0;
                all_vfio &= on && strcmp(now[k].override, "vfio-pci") == 0;
                any_vfio |= on;
                any_override_vfio |= strcmp(now[k].override, "vfio-pci") == 0;
                vfio_no_override |= on && strcmp(now[k].override, "vfio-pci") != 0;
                bool h = host_driver_ok(&g->dev[k], &now[k], false) && strcmp(now[k].override, g->dev[k].override) == 0;
                if (!h && bad < 0)
                        bad = k;
                host &= h;
                reset_same &= strcmp(now[k].reset, g->dev[k].reset) == 0;
        }
        pathf(p, "%s/dev/vfio/%u", root, g->number);
        bool node = access(p, F_OK) == 0;
        memset(v, 0, sizeof *v);
        snprintf(v->owner, sizeof v->owner, "%s", rec.owner);

        if (rec.state == REC_CLAIMING || rec.state == REC_RELEASING) {
                v->cls = CLS_PENDING;
                return;
        }
        if (rec.state == REC_CLAIMED && all_vfio && node) {
                v->cls = CLS_CLAIMED;
                return;
        }
        /* Reserved for a boot claim: the udev helper set vfio-pci overrides of the unbound endpoints of
         * a boot = yes group ahead of their own add events (udev/vfio-claim-udev.c, run_event); no
         * host driver can take them, and nothing is on vfio-pci yet. The host's, for these checks. */
        bool reserved = rec.state == REC_NONE && any_override_vfio && !any_vfio;
        for (int k = 0; k < g->n && reserved; k++)
                reserved = (!now[k].driver[0] || strcmp(now[k].driver, g->dev[k].driver) == 0) &&
                           (strcmp(now[k].override, "vfio-pci") == 0 || strcmp(now[k].override, g->dev[k].override) == 0);
        if (rec.state == REC_NONE && (host || reserved)) {
                v->cls = CLS_HOST;
                if (!reset_same && check) {
                        for (int k = 0; k < g->n; k++)
                                if (strcmp(now[k].reset, g->dev[k].reset) != 0) {
                                        report("reset-restored",
                                               "group %u is the host's again, but %s has reset_method \"%s\" (before the "
                                               "claim: \"%s\")",
                                               g->number, g->dev[k].addr, now[k].reset, g->dev[k].reset);
                                        break;
                                }
                }
                return;
        }
        v->cls = CLS_BROKEN;
        if (!check)
                return;
        char devs[512] = "";
        size_t n = 0;
        for (int k = 0; k < g->n; k++)
                n += (size_t) snprintf(devs + n, sizeof devs - n, "%s%s driver=%s override=%s", k ? "; " : "",
                                       now[k].addr, now[k].driver[0] ? now[k].driver : "none",
                                       now[k].override[0] ? now[k].override : "none");
        const char *rs = rec.state == REC_NONE      ? "no record"
                         : rec.state == REC_CLAIMED ? "record \"claimed\""
                                                    : "an unreadable record";
        if (rec.state == REC_NONE && any_override_vfio)
                report("half-claimed-no-record", "group %u: %s, %s", g->number, devs, rs);
        else if (rec.state == REC_NONE && vfio_no_override)
                report("given-back-to-vfio", "group %u: %s, %s (given back, but vfio-pci has it)", g->number, devs, rs);
        else
                report("not-whole", "group %u: %s, %s, /dev/vfio/%u %s", g->number, devs, rs, g->number,
                       node ? "exists" : "missing");
        (void) bad;
}

static void view_all(struct gview *v, bool check) {
        for (int i = 0; i < n_groups; i++)
                view_group(i, &v[i], check);
        cur_group = -1;
}

static const char *cls_name(int c) {
        static const char *const n[] = { "the host's", "claimed", "pending", "broken" };
        return n[c];
}

/* ------------------------------------------------------------------ steps */

enum op_kind { OP_CLI, OP_HOOK, OP_UDEV, OP_BOOT };
struct op {
        enum op_kind kind;
        char a[3][32]; /* cli: VERB DEVICE [--boot]; hook: VM prepare|release; udev: ADDR */
        int n;
        int status; /* after the run: wait status */
};
struct step {
        int n_ops;
        struct op ops[MAX_ACTORS];
        char fault[160]; /* "+K ERR" (K-th write from the step's start) or "glob:PATTERN ERR", or "" */
        char admin[32];  /* "crash VM", "reset on|off", "route on|off", or "" */
};

static int parse_op(char *s, struct op *o) {
        char *w[5];
        int n = 0;
        memset(o, 0, sizeof *o);
        for (char *save = NULL, *t = strtok_r(s, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save))
                w[n++] = t;
        if (n == 0)
                return -1;
        if (strcmp(w[0], "cli") == 0 && n >= 2)
                o->kind = OP_CLI;
        else if (strcmp(w[0], "hook") == 0 && n == 3)
                o->kind = OP_HOOK;
        else if (strcmp(w[0], "udev") == 0 && n == 2)
                o->kind = OP_UDEV;
        else if (strcmp(w[0], "boot") == 0 && n == 1)
                o->kind = OP_BOOT;
        else
                return -1;
        for (int i = 1; i < n && i <= 3; i++)
                snprintf(o->a[o->n++], sizeof o->a[0], "%s", w[i]);
        return 0;
}

/* "OP & OP ... [; fault SPEC]" or "crash VM" / "reset on|off" / "route on|off" */
static int parse_step(const char *line, struct step *st) {
        char buf[512];
        memset(st, 0, sizeof *st);
        snprintf(buf, sizeof buf, "%s", line);
        chomp(buf);
        if (strncmp(buf, "crash ", 6) == 0 || strncmp(buf, "reset ", 6) == 0 || strncmp(buf, "route ", 6) == 0) {
                snprintf(st->admin, sizeof st->admin, "%s", buf);
                return 0;
        }
        char *semi = strstr(buf, " ; fault ");
        if (semi) {
                snprintf(st->fault, sizeof st->fault, "%s", semi + 9);
                *semi = 0;
        }
        char *p = buf;
        while (p && st->n_ops < MAX_ACTORS) {
                char *amp = strstr(p, " & ");
                if (amp)
                        *amp = 0;
                if (parse_op(p, &st->ops[st->n_ops++]) < 0)
                        return -1;
                p = amp ? amp + 3 : NULL;
        }
        return st->n_ops > 0 ? 0 : -1;
}

static void format_step(const struct step *st, char *buf, size_t size) {
        size_t n = 0;
        if (st->admin[0]) {
                snprintf(buf, size, "%s", st->admin);
                return;
        }
        buf[0] = 0;
        for (int i = 0; i < st->n_ops; i++) {
                const struct op *o = &st->ops[i];
                n += (size_t) snprintf(buf + n, size - n, "%s%s", i ? " & " : "",
                                       o->kind == OP_CLI    ? "cli"
                                       : o->kind == OP_HOOK ? "hook"
                                       : o->kind == OP_UDEV ? "udev"
                                                            : "boot");
                for (int k = 0; k < o->n; k++)
                        n += (size_t) snprintf(buf + n, size - n, " %s", o->a[k]);
        }
        if (st->fault[0])
                snprintf(buf + n, size - n, " ; fault %s", st->fault);
}

static struct vm *find_vm(const char *name) {
        for (int i = 0; i < N_VMS; i++)
                if (strcmp(vms[i].name, name) == 0)
                        return &vms[i];
        return NULL;
}

/* ------------------------------------------------------------------ running an operation */

static long n_execs, n_killed, n_faulted, n_pending, n_concurrent;

/* Does the step's fault make a write hang? Only then does the CLI run with a 1 s unbind
 * timeout (a hang costs that much); otherwise with a bound no loaded machine reaches, so that a
 * write slowed by the load is never taken for a hang. */
static bool step_may_hang;

/* A "lock:ADDR" fault: a task stuck in the kernel holds the device lock of ADDR for the whole of
 * the step's operations (a driver's probe or remove that does not return). In the fake kernel
 * that is .fakekernel/devlock/ADDR, which its reads of driver_override, sriov_numvfs and uevent
 * and every write to the device wait for. Not a fault of the fake kernel's own: the harness holds
 * it (devlock_hold()). */
static bool fault_is_devlock(const char *fault) {
        return strncmp(fault, "lock:", 5) == 0;
}

/* Does the step's fault cost a write bound? Then its operations run with a 1 s one. */
static bool fault_may_hang(const char *fault) {
        return strstr(fault, "HANG") != NULL || fault_is_devlock(fault);
}

/* Take ADDR's device lock in a child that keeps it until killed; returns once it holds it. */
static pid_t devlock_hold(const char *addr) {
        char p[PATH_MAX], c;
        int pfd[2];
        pathf(p, "%s/.fakekernel/devlock", root);
        (void) mkdir(p, 0755);
        pathf(p, "%s/.fakekernel/devlock/%s", root, addr);
        if (pipe(pfd) < 0)
                die("pipe: %s", strerror(errno));
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                close(pfd[0]);
                int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0 || flock(fd, LOCK_EX) < 0)
                        _exit(1);
                if (write(pfd[1], "x", 1) != 1)
                        _exit(1);
                close(pfd[1]);
                for (;;)
                        pause();
        }
        close(pfd[1]);
        if (pid < 0 || read(pfd[0], &c, 1) != 1)
                die("cannot hold the device lock of %s", addr);
        close(pfd[0]);
        return pid;
}

static void devlock_let_go(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

static void child_env(const char *k, const char *v) {
        if (setenv(k, v, 1) < 0)
                _exit(125);
}

_Noreturn static void run_child(const struct op *o, int actor) {
        char log[PATH_MAX], prog[PATH_MAX], xml[PATH_MAX], *argv[16];
        int argc = 0, fd;

        (void) setpgid(0, 0);
        signal(SIGALRM, SIG_DFL);
        pathf(log, "%s/actor%d.log", arg_workdir, actor);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                _exit(125);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (o->kind == OP_HOOK) {
                pathf(xml, "%s/%s.xml", arg_workdir, o->a[0]);
                fd = open(xml, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0 || dup2(fd, 0) < 0)
                _exit(125);

        switch (o->kind) {
        case OP_CLI:
                pathf(prog, "%s/vfio-claim", arg_builddir);
                argv[argc++] = "vfio-claim";
                if (strcmp(o->a[0], "apply") != 0) { /* apply asks libvirt nothing: no --connect */
                        argv[argc++] = "--connect";
                        argv[argc++] = uri;
                }
                argv[argc++] = "--timeout";
                argv[argc++] = step_may_hang ? "1" : "60";
                for (int k = 0; k < o->n; k++)
                        argv[argc++] = (char *) o->a[k];
                argv[argc] = NULL;
                break;
        case OP_HOOK:
                pathf(prog, "%s/vfio-claim-hook", arg_builddir);
                argv[argc++] = prog; /* the front finds the worker next to itself */
                argv[argc++] = (char *) o->a[0];
                argv[argc++] = (char *) o->a[1];
                argv[argc++] = strcmp(o->a[1], "release") == 0 ? "end" : "begin"; /* prepare, started */
                argv[argc++] = "-";
                argv[argc] = NULL;
                if (!arg_exec)
                        argv[0] = "vfio-claim-hook-worker";
                break;
        case OP_UDEV:
        case OP_BOOT: {
                char dp[128], id[16] = "", p[PATH_MAX], v[16] = "", d[16] = "";
                child_env("VFIO_CLAIM_LOG", "stderr");
                pathf(prog, "%s/vfio-claim-udev", arg_builddir);
                argv[argc++] = "vfio-claim-udev";
                if (o->kind == OP_BOOT) {
                        argv[argc++] = "--all";
                        argv[argc] = NULL;
                        break;
                }
                argv[argc] = NULL;
                snprintf(dp, sizeof dp, "/devices/pci0000:00/%s", o->a[0]);
                pathf(p, "%s/sys/bus/pci/devices/%s/vendor", root, o->a[0]);
                (void) read_text(p, v, sizeof v);
                pathf(p, "%s/sys/bus/pci/devices/%s/device", root, o->a[0]);
                (void) read_text(p, d, sizeof d);
                chomp(v);
                chomp(d);
                snprintf(id, sizeof id, "%s:%s", v + 2, d + 2);
                for (char *c = id; *c; c++)
                        if (*c >= 'a' && *c <= 'f')
                                *c = (char) (*c - 'a' + 'A');
                child_env("ACTION", "add");
                child_env("SUBSYSTEM", "pci");
                child_env("DEVPATH", dp);
                child_env("PCI_SLOT_NAME", o->a[0]);
                child_env("PCI_ID", id);
                break;
        }
        }
        if (arg_exec) {
                execv(prog, argv);
                _exit(126);
        }
        /* As after execve(2): getopt starts afresh (this process parsed its own options). */
        optind = 0;
        int r = o->kind == OP_CLI    ? vc_stress_main_cli(argc, argv)
                : o->kind == OP_HOOK ? vc_stress_main_hook(argc, argv)
                                     : vc_stress_main_udev(argc, argv);
        /* Skip the exit handlers and library destructors: they only cost page copies here. */
        fflush(NULL);
        _exit(r);
}

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig) {
        (void) sig;
        alarmed = 1;
}

/* SIGINT/SIGTERM: a worker of --jobs ends after the step it runs (tests/stress/README.md). */
static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) {
        (void) sig;
        stop_requested = 1;
}

/* Run the operations at once; each in its own process group (a KILL fault takes the group). */
static void run_ops(struct step *st) {
        pid_t pid[MAX_ACTORS];
        int left = st->n_ops;
        step_may_hang = fault_may_hang(st->fault);
        fflush(NULL);
        for (int i = 0; i < st->n_ops; i++) {
                pid[i] = fork();
                if (pid[i] < 0)
                        die("fork: %s", strerror(errno));
                if (pid[i] == 0)
                        run_child(&st->ops[i], i);
                (void) setpgid(pid[i], pid[i]);
                n_execs++;
        }
        alarmed = 0;
        alarm(OP_DEADLINE_S);
        while (left > 0) {
                int status;
                pid_t p = waitpid(-1, &status, 0);
                if (p < 0 && errno == EINTR && alarmed) {
                        char s[512];
                        format_step(st, s, sizeof s);
                        report("hang", "an operation of \"%s\" still runs after %d s", s, OP_DEADLINE_S);
                        for (int i = 0; i < st->n_ops; i++)
                                (void) kill(-pid[i], SIGKILL);
                        alarmed = 0;
                        continue;
                }
                if (p < 0)
                        break;
                for (int i = 0; i < st->n_ops; i++)
                        if (pid[i] == p) {
                                st->ops[i].status = status;
                                n_killed += WIFSIGNALED(status);
                                left--;
                        }
        }
        alarm(0);
        /* A write child the engine left behind (stuck in a fake hang) goes with its group. */
        for (int i = 0; i < st->n_ops; i++)
                (void) kill(-pid[i], SIGKILL);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

static long write_counter(void) {
        char p[PATH_MAX], buf[64];
        pathf(p, "%s/.fakekernel/counter", root);
        return read_text(p, buf, sizeof buf) > 0 ? atol(buf) : 0;
}

static void set_fault(const char *spec) {
        char p[PATH_MAX], text[256] = "";
        pathf(p, "%s/.fakekernel/faults", root);
        if (spec && spec[0] == '+')
                snprintf(text, sizeof text, "%ld %s\n", write_counter() + atol(spec + 1), strchr(spec, ' ') + 1);
        else if (spec && spec[0])
                snprintf(text, sizeof text, "%s\n", spec);
        write_text(p, text);
}

/* ------------------------------------------------------------------ one step and its checks */

static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

static bool op_is(const struct op *o, enum op_kind k, const char *a0) {
        return o->kind == k && (!a0 || strcmp(o->a[0], a0) == 0);
}

/* Whether a "match = ADDR" line in the configuration names the device (the configuration is
 * ours: every match is a full address). */
static bool configured(const char *addr) {
        char line[256], want[64], p[PATH_MAX];
        snprintf(want, sizeof want, "match = %s", addr);
        for (int sub = 0; sub < 2; sub++) {
                pathf(p, "%s%s", confdir, sub ? "/conf.d" : "");
                DIR *d = opendir(p);
                struct dirent *e;
                while (d && (e = readdir(d))) {
                        char f[PATH_MAX];
                        size_t n = strlen(e->d_name);
                        if (n < 6 || strcmp(e->d_name + n - 5, ".conf") != 0)
                                continue;
                        pathf(f, "%s/%s", p, e->d_name);
                        FILE *fp = fopen(f, "re");
                        bool hit = false;
                        while (fp && !hit && fgets(line, sizeof line, fp)) {
                                chomp(line);
                                hit = strcmp(line, want) == 0;
                        }
                        if (fp)
                                fclose(fp);
                        if (hit) {
                                closedir(d);
                                return true;
                        }
                }
                if (d)
                        closedir(d);
        }
        return false;
}

/* The groups the hook claims for VM: those of its configured devices (the others are libvirt's). */
static void vm_groups(const struct vm *v, bool *ret) {
        for (int k = 0; k < 2 && v->addrs[k]; k++) {
                int g = group_of_addr(v->addrs[k]);
                if (g >= 0 && configured(v->addrs[k]))
                        ret[g] = true;
        }
}

/* Is @after what disable may make of @before: whole [device] sections taken out (a header and
 * the lines up to the next header, or fewer), every other line kept, in order? */
static bool sections_removed(const char *before, const char *after) {
        const char *b = before, *a = after;
        bool in_removed = false;
        while (*b) {
                const char *be = strchrnul(b, '\n'), *ae = strchrnul(a, '\n');
                size_t bl = (size_t) (be - b), al = (size_t) (ae - a);
                if (*a && bl == al && memcmp(a, b, bl) == 0 && !(in_removed && bl > 0 && b[0] != '[' && b[0] != '#' && b[0] != ';')) {
                        in_removed = false;
                        a = *ae ? ae + 1 : ae;
                } else if (strncmp(b, "[device ", 8) == 0)
                        in_removed = true; /* a section that goes */
                else if (!in_removed || b[0] == '[')
                        return false; /* a line outside a removed section went, or changed */
                b = *be ? be + 1 : be;
        }
        return *a == '\0';
}

/* Does a configuration file of @snap name a device of group @k (its address, "BB:DD.F" or the
 * whole "DDDD:BB:DD.F": every entry of the harness and of "enable" matches by address)? */
static bool group_configured(int k, const struct conf_snap *snap) {
        for (int d = 0; d < groups[k].n; d++)
                for (int f = 0; f < snap->n; f++)
                        if (strstr(snap->f[f].text, groups[k].dev[d].addr + 5))
                                return true;
        return false;
}

static void check_config(const struct conf_snap *before, const struct step *st, const char *what) {
        struct conf_snap after;
        bool enable = false, disable = false;
        snap_conf(&after);
        for (int i = 0; i < st->n_ops; i++) {
                enable |= op_is(&st->ops[i], OP_CLI, "enable");
                disable |= op_is(&st->ops[i], OP_CLI, "disable");
        }
        for (int i = 0; i < after.n; i++) {
                const struct conf_file *b = snap_find(before, after.f[i].name);
                if (b && b->hash == after.f[i].hash)
                        continue;
                if (!b && enable && strncmp(after.f[i].name, "conf.d/", 7) == 0) {
                        if (enable_written.n < MAX_FILES)
                                enable_written.f[enable_written.n++] = after.f[i];
                        continue;
                }
                /* disable takes its group's sections out of a file enable did not write */
                if (b && disable && sections_removed(b->text, after.f[i].text))
                        continue;
                report("config-touched", "\"%s\" %s %s", what, b ? "changed" : "created", after.f[i].name);
        }
        for (int i = 0; i < before->n; i++) {
                if (snap_find(&after, before->f[i].name))
                        continue;
                const struct conf_file *w = snap_find(&enable_written, before->f[i].name);
                if (disable && w)
                        continue;
                report("config-touched", "\"%s\" removed %s%s", what, before->f[i].name,
                       w ? "" : ", which \"vfio-claim enable\" did not write");
        }
}

/* Leave a pending record to the next command: a release of the group must finish it. */
static void finish_pending(struct gview *v) {
        for (int i = 0; i < n_groups && !violated; i++) {
                if (v[i].cls != CLS_PENDING)
                        continue;
                struct step rec = { .n_ops = 1 };
                n_pending++;
                char arg[32];
                snprintf(arg, sizeof arg, "group:%u", groups[i].number);
                rec.ops[0] = (struct op){ .kind = OP_CLI, .n = 2 };
                snprintf(rec.ops[0].a[0], sizeof rec.ops[0].a[0], "release");
                snprintf(rec.ops[0].a[1], sizeof rec.ops[0].a[1], "%s", arg);
                set_fault(NULL);
                run_ops(&rec);
                int code = exit_code(rec.ops[0].status);
                struct gview now;
                view_group(i, &now, true);
                if (code == 4 && now.cls == CLS_PENDING)
                        continue; /* a running VM holds it: release refuses, rightly */
                if (code != 0 || now.cls != CLS_HOST)
                        report("pending-unfinished",
                               "group %u had a pending record; \"vfio-claim release %s\" then exited %d and left the "
                               "group %s",
                               groups[i].number, arg, code, cls_name(now.cls));
                v[i] = now;
        }
}

/* "route on": the host's default route goes through eth9, the coldplug NIC's first function
 * (0000:04:00.0, group 7, a boot = yes entry's): every claim of its group is refused as
 * host-critical, so an apply of the boot groups meets a refusal after claiming group 5 first.
 * "route off": no route. As the kernel shows it: proc/net/route, and class/net/eth9/device
 * leading to the PCI device (relative, as sysfs makes its links). */
static void set_default_route(bool on) {
        char p[PATH_MAX], dev[PATH_MAX], target[PATH_MAX + 64];
        route_on = on;
        pathf(p, "%s/proc/net", root);
        (void) mkdir(p, 0755);
        pathf(p, "%s/proc/net/route", root);
        write_text(p, on ? "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
                           "eth9\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                         : "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n");
        pathf(p, "%s/sys/class/net", root);
        (void) mkdir(p, 0755);
        pathf(p, "%s/sys/class/net/eth9", root);
        (void) mkdir(p, 0755);
        pathf(p, "%s/sys/class/net/eth9/device", root);
        (void) unlink(p);
        pathf(dev, "%s/sys/bus/pci/devices/0000:04:00.0", root);
        char real[PATH_MAX], real_root[PATH_MAX];
        size_t lr = realpath(root, real_root) ? strlen(real_root) : 0;
        if (on && lr && realpath(dev, real) && strncmp(real, real_root, lr) == 0 && strncmp(real + lr, "/sys/", 5) == 0) {
                snprintf(target, sizeof target, "../../..%s", real + lr + 4);
                if (symlink(target, p) < 0)
                        die("symlink %s: %s", p, strerror(errno));
        }
}

static void run_step(struct step *st, const char *text) {
        struct gview before[MAX_GROUPS], after[MAX_GROUPS];
        struct conf_snap conf_before;

        /* The configuration's write bound for this step, in place before the step's snapshot:
         * a change of it is the harness's, not the step's. */
        unsigned timeout_s = fault_may_hang(st->fault) ? 1 : 60;
        if (timeout_s != conf_timeout_s) {
                conf_timeout_s = timeout_s;
                write_main_conf();
        }
        view_all(before, false);
        snap_conf(&conf_before);

        if (st->admin[0]) {
                if (strncmp(st->admin, "crash ", 6) == 0) {
                        /* The VM died while libvirtd was down: no release hook ran, its record
                         * still names it, libvirt now says it is shut off. */
                        struct vm *v = find_vm(st->admin + 6);
                        if (v) {
                                v->running = false;
                                write_node_xml();
                        }
                        libvirtd_start++; /* libvirtd came back: another process */
                        write_libvirtd_stat();
                } else if (strncmp(st->admin, "route ", 6) == 0)
                        set_default_route(strcmp(st->admin, "route on") == 0);
                else {
                        reset_configured = strcmp(st->admin, "reset on") == 0;
                        write_main_conf();
                }
                view_all(after, true);
                return;
        }

        /* libvirt may report a domain whose prepare hook runs as shut off (the hook must not take
         * libvirt's word for it), and reports a stopping one shut off before its release hook. */
        bool changed_vms = false;
        for (int i = 0; i < st->n_ops; i++)
                if (st->ops[i].kind == OP_HOOK) {
                        struct vm *v = find_vm(st->ops[i].a[0]);
                        if (v) {
                                v->running = false;
                                memset(v->holds, 0, sizeof v->holds);
                                if (strcmp(st->ops[i].a[1], "prepare") == 0)
                                        vm_groups(v, v->holds);
                                changed_vms = true;
                        }
                }
        if (changed_vms)
                write_node_xml();
        pid_t holder = fault_is_devlock(st->fault) ? devlock_hold(st->fault + 5) : 0;
        set_fault(holder ? NULL : st->fault);
        n_faulted += st->fault[0] != 0;
        n_concurrent += st->n_ops > 1;
        long writes_before = write_counter();
        run_ops(st);
        long writes_made = write_counter() - writes_before;
        set_fault(NULL);
        devlock_let_go(holder);

        /* Then libvirt goes on as it does after a prepare hook: on success the VM runs (libvirt
         * reports it running, then runs the "started" hook); on failure libvirt stops the start
         * and runs the "release" hook. Each runs alone, without a fault. */
        for (int i = 0; i < st->n_ops; i++) {
                if (st->ops[i].kind != OP_HOOK || strcmp(st->ops[i].a[1], "prepare") != 0)
                        continue;
                struct vm *v = find_vm(st->ops[i].a[0]);
                bool ok = exit_code(st->ops[i].status) == 0;
                struct step nxt = { .n_ops = 1 };
                nxt.ops[0] = (struct op){ .kind = OP_HOOK, .n = 2 };
                snprintf(nxt.ops[0].a[0], sizeof nxt.ops[0].a[0], "%s", v->name);
                snprintf(nxt.ops[0].a[1], sizeof nxt.ops[0].a[1], "%s", ok ? "started" : "release");
                v->running = ok;
                if (!ok)
                        memset(v->holds, 0, sizeof v->holds);
                write_node_xml();
                run_ops(&nxt);
        }

        view_all(after, true);
        check_config(&conf_before, st, text);

        /* A VM libvirt runs keeps every group its prepare claimed. A group no configuration file
         * names any more (a "disable" that ran first) is not the hook's: it leaves such a
         * managed='yes' device to libvirt, whose own detach the harness's libvirt does not
         * model (tests/stress/seqs/prepare-after-disable-leaves-device-to-libvirt.seq). */
        struct conf_snap conf_after;
        snap_conf(&conf_after);
        for (int i = 0; i < N_VMS; i++) {
                if (!vms[i].running)
                        continue;
                for (int k = 0; k < n_groups; k++)
                        if (vms[i].holds[k] && !group_configured(k, &conf_after) && after[k].cls == CLS_HOST)
                                vms[i].holds[k] = false;
                for (int k = 0; k < n_groups; k++)
                        if (vms[i].holds[k] && (after[k].cls != CLS_CLAIMED || strcmp(after[k].owner, vms[i].name) != 0) &&
                            (cur_group = k) >= 0)
                                report("held-given-back",
                                       "VM %s runs, but its group %u is %s%s%s (after \"%s\")", vms[i].name,
                                       groups[k].number, cls_name(after[k].cls), after[k].owner[0] ? ", owner " : "",
                                       after[k].owner, text);
        }

        /* One operation alone: its exit status must match what it did. */
        if (st->n_ops == 1 && WIFEXITED(st->ops[0].status)) {
                const struct op *o = &st->ops[0];
                int code = exit_code(o->status);
                bool checked = (o->kind == OP_CLI && strcmp(o->a[0], "disable") != 0) ||
                               (o->kind == OP_HOOK && strcmp(o->a[1], "prepare") == 0);
                /* A group a tolerated violation left broken is not this operation's doing. */
                if (checked && code != 0) {
                        /* Failed or refused: nothing changed, or rolled back (a timed-out write
                         * may leave a pending record for the next command). After a failed
                         * prepare, libvirt's "release" of the VM (run above) gives back what the
                         * record held for that VM before the start (a run that ended while
                         * libvirtd was down, "crash VM"): that group may go to the host. */
                        bool failed_start = o->kind == OP_HOOK;
                        for (int k = 0; k < n_groups; k++)
                                if (after[k].cls != before[k].cls && after[k].cls != CLS_PENDING &&
                                    before[k].cls != CLS_BROKEN &&
                                    !(failed_start && before[k].cls == CLS_CLAIMED && after[k].cls == CLS_HOST &&
                                      strcmp(before[k].owner, o->a[0]) == 0) &&
                                    (cur_group = k) >= 0)
                                        report("failed-changed", "\"%s\" exited %d, but group %u went from %s to %s",
                                               text, code, groups[k].number, cls_name(before[k].cls),
                                               cls_name(after[k].cls));
                }
                /* Refused (exit 4: host-critical, in use, held, hardware changed): decided
                 * before the first write, for every group of the command, so a refusal writes
                 * nothing at all, not even what it puts back (vfio-claim(8), EXIT STATUS). */
                if (o->kind == OP_CLI && code == 4 && writes_made > 0)
                        report("refused-wrote", "\"%s\" was refused (exit 4) after %ld sysfs writes", text,
                               writes_made);
                if (o->kind == OP_CLI && code == 0 && o->n >= 2) {
                        int g = group_of_arg(o->a[1]);
                        bool give = strcmp(o->a[0], "release") == 0 || strcmp(o->a[0], "disable") == 0;
                        bool claim = strcmp(o->a[0], "enable") == 0;
                        /* (a broken group was reported as such already) */
                        cur_group = g;
                        if (g >= 0 && before[g].cls != CLS_BROKEN && after[g].cls != CLS_BROKEN && ((give && after[g].cls != CLS_HOST) || (claim && after[g].cls != CLS_CLAIMED)))
                                report("verb-result", "\"%s\" exited 0, but group %u is %s", text, groups[g].number,
                                       cls_name(after[g].cls));
                }
        }
        cur_group = -1;
        finish_pending(after);
}

/* ------------------------------------------------------------------ generation */

static void gen_op(struct op *o, const bool *vm_used) {
        memset(o, 0, sizeof *o);
        for (;;) {
                unsigned w = rnd(100);
                if (w < 14) {
                        o->kind = OP_CLI;
                        snprintf(o->a[o->n++], 32, "enable");
                        snprintf(o->a[o->n++], 32, "%s", dev_args[rnd(ELEMS(dev_args))]);
                        if (chance(300))
                                snprintf(o->a[o->n++], 32, "--boot");
                } else if (w < 40) {
                        static const char *const v[] = { "release", "release", "disable", "apply" };
                        o->kind = OP_CLI;
                        snprintf(o->a[o->n++], 32, "%s", v[rnd(4)]);
                        if (strcmp(o->a[0], "apply") != 0)
                                snprintf(o->a[o->n++], 32, "%s", dev_args[rnd(ELEMS(dev_args))]);
                } else if (w < 72) {
                        int i = (int) rnd(N_VMS);
                        if (vm_used[i])
                                continue;
                        o->kind = OP_HOOK;
                        snprintf(o->a[o->n++], 32, "%s", vms[i].name);
                        snprintf(o->a[o->n++], 32, "%s", vms[i].running ? "release" : "prepare");
                } else if (w < 96) {
                        o->kind = OP_UDEV;
                        snprintf(o->a[o->n++], 32, "%s", event_addrs[rnd(ELEMS(event_addrs))]);
                } else
                        o->kind = OP_BOOT;
                return;
        }
}

static void gen_step(struct step *st) {
        memset(st, 0, sizeof *st);
        if (chance(80)) {
                int running[N_VMS], n = 0;
                for (int i = 0; i < N_VMS; i++)
                        if (vms[i].running)
                                running[n++] = i;
                if (n > 0 && chance(600))
                        snprintf(st->admin, sizeof st->admin, "crash %s", vms[running[rnd((unsigned) n)]].name);
                else if (chance(300))
                        snprintf(st->admin, sizeof st->admin, "route %s", route_on ? "off" : "on");
                else
                        snprintf(st->admin, sizeof st->admin, "reset %s", reset_configured ? "off" : "on");
                return;
        }
        int n = 1;
        if (arg_actors > 1 && chance(400))
                n = 2 + (int) rnd((unsigned) arg_actors - 1);
        bool vm_used[N_VMS] = { false };
        for (int i = 0; i < n; i++) {
                gen_op(&st->ops[i], vm_used);
                if (st->ops[i].kind == OP_HOOK)
                        vm_used[find_vm(st->ops[i].a[0]) - vms] = true;
        }
        st->n_ops = n;
        if (!chance(350))
                return;
        /* A hang costs the write bound (the CLI's --timeout 1, the configuration's timeout = 1
         * for the hook and the udev helper, run_step()): only a lone operation gets one. */
        bool may_hang = n == 1;
        static const char *const errs[] = { "EIO", "EBUSY", "ENODEV" };
        static const char *const attrs[] = { "driver_override", "unbind", "bind", "reset_method", "drivers_probe" };
        unsigned k = rnd(100);
        /* Most operations make a few writes: an early write is hit more often. */
        unsigned nth = chance(700) ? 1 + rnd(4) : 1 + rnd(12);
        if (may_hang && chance((unsigned) arg_hang_permille * 1000 / 350))
                snprintf(st->fault, sizeof st->fault, "+%u HANG", nth);
        else if (may_hang && k < 8)
                snprintf(st->fault, sizeof st->fault, "lock:%s", event_addrs[rnd(ELEMS(event_addrs))]);
        else if (k < 50)
                snprintf(st->fault, sizeof st->fault, "+%u %s", nth, errs[rnd(3)]);
        else if (k < 72)
                snprintf(st->fault, sizeof st->fault, "glob:*%s %s", attrs[rnd(ELEMS(attrs))], errs[rnd(3)]);
        else
                snprintf(st->fault, sizeof st->fault, "+%u KILL", nth);
}

/* ------------------------------------------------------------------ episodes */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
        (void) sb;
        (void) flag;
        (void) ftw;
        return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void fresh_tree(void) {
        char mktree[PATH_MAX], fixture[PATH_MAX], p[PATH_MAX];
        if (access(root, F_OK) == 0 && nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
                die("cannot remove %s: %s", root, strerror(errno));
        pathf(mktree, "%s/tests/fakekernel/fakesys-mktree", arg_builddir);
        pathf(fixture, "%s/tests/stress/stress.topo", arg_srcdir);
        pid_t pid = fork();
        if (pid == 0) {
                unsetenv("LD_PRELOAD");
                execl(mktree, mktree, fixture, root, (char *) NULL);
                _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || exit_code(status) != 0)
                die("%s %s %s failed", mktree, fixture, root);

        /* ROOT/SYSCONFDIR/vfio-claim/conf.d, every level (a distcheck prefix is deep) */
        pathf(p, "%s/conf.d", confdir);
        for (char *slash = p + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
                *slash = '\0';
                (void) mkdir(p, 0755);
                *slash = '/';
        }
        (void) mkdir(p, 0755);
        reset_configured = false;
        route_on = false;
        write_main_conf();
        pathf(p, "%s/conf.d/50-router.conf", confdir);
        write_text(p, "# Hand-written: the router VM's NIC. Settings and comments that are not\n"
                      "# vfio-claim's to remove.\n"
                      "[global]\n"
                      "protect = yes\n"
                      "\n"
                      "[device router-nic]\n"
                      "match = 0000:02:00.0\n"
                      "reset = flr\n");
        for (int i = 0; i < N_VMS; i++) {
                vms[i].running = false;
                write_vm_xml(&vms[i]);
        }
        write_node_xml();
        libvirtd_start = 1000;
        write_libvirtd_stat();
        enable_written.n = 0;
        memset(tainted, 0, sizeof tainted);
        cur_group = -1;
        read_baseline();
}

/* Run an episode's steps; returns the index of the step after which a violation was found, -1,
 * or -2 when a worker of --jobs was asked to stop. With @gen, steps are generated (into @seq)
 * as the run goes. */
static int run_episode(char (*seq)[512], int n, bool gen, bool quiet) {
        violated = false;
        fresh_tree();
        for (int i = 0; i < n; i++) {
                if (stop_requested)
                        return -2;
                struct step st;
                if (gen) {
                        gen_step(&st);
                        format_step(&st, seq[i], 512);
                } else if (parse_step(seq[i], &st) < 0)
                        die("cannot parse step: %s", seq[i]);
                if (arg_verbose && !quiet)
                        fprintf(stderr, "  %d: %s\n", i + 1, seq[i]);
                run_step(&st, seq[i]);
                if (violated)
                        return i;
        }
        return -1;
}

/* ------------------------------------------------------------------ shrinking */

static bool reproduces(char (*seq)[512], int n, const char *name) {
        bool concurrent = false;
        for (int i = 0; i < n; i++)
                concurrent |= strstr(seq[i], " & ") != NULL;
        for (int attempt = 0; attempt < (concurrent ? 3 : 1); attempt++)
                if (run_episode(seq, n, false, true) >= 0 && strcmp(viol.name, name) == 0)
                        return true;
        return false;
}

static char cand[MAX_STEPS][512];

/* Delta debugging (ddmin) over the steps. */
static int ddmin(char (*seq)[512], int n, const char *name, time_t deadline) {
        int chunks = 2;
        while (n >= 2 && time(NULL) < deadline) {
                int size = (n + chunks - 1) / chunks;
                bool reduced = false;
                for (int c = 0; c < chunks && time(NULL) < deadline; c++) {
                        int m = 0;
                        for (int i = 0; i < n; i++)
                                if (i / size != c)
                                        memcpy(cand[m++], seq[i], 512);
                        if (m == n || m == 0)
                                continue;
                        if (reproduces(cand, m, name)) {
                                memcpy(seq, cand, (size_t) m * 512);
                                n = m;
                                chunks = chunks > 2 ? chunks - 1 : 2;
                                reduced = true;
                                break;
                        }
                }
                if (!reduced) {
                        if (chunks >= n)
                                break;
                        chunks = chunks * 2 > n ? n : chunks * 2;
                }
        }
        return n;
}

/* A concurrent step run as one step per operation, in order or in reverse order (each with the
 * step's fault): a sequential reproducer is easier to read and does not depend on timing. */
static bool split_one(char (*seq)[512], int *n, const char *name, time_t deadline) {
        for (int i = 0, rev = 0; i < *n && time(NULL) < deadline; rev = !rev, i += !rev) {
                struct step st;
                if (parse_step(seq[i], &st) < 0 || st.admin[0] || st.n_ops < 2 || *n + st.n_ops > MAX_STEPS)
                        continue;
                int m = 0;
                for (int k = 0; k < i; k++)
                        memcpy(cand[m++], seq[k], 512);
                for (int k = 0; k < st.n_ops; k++) {
                        struct step one = st;
                        one.n_ops = 1;
                        one.ops[0] = st.ops[rev ? st.n_ops - 1 - k : k];
                        format_step(&one, cand[m++], 512);
                }
                for (int k = i + 1; k < *n; k++)
                        memcpy(cand[m++], seq[k], 512);
                if (reproduces(cand, m, name)) {
                        memcpy(seq, cand, (size_t) m * 512);
                        *n = m;
                        return true;
                }
        }
        return false;
}

/* Within the steps: drop an operation of a concurrent step, or the fault. */
static bool simplify_ops(char (*seq)[512], int n, const char *name, time_t deadline) {
        bool any = false;
        for (int i = 0; i < n && time(NULL) < deadline; i++) {
                struct step st;
                if (parse_step(seq[i], &st) < 0 || st.admin[0])
                        continue;
                for (int k = 0; k <= st.n_ops && time(NULL) < deadline;) {
                        struct step t = st;
                        if (k < st.n_ops && st.n_ops > 1) {
                                memmove(&t.ops[k], &t.ops[k + 1], (size_t) (t.n_ops - k - 1) * sizeof t.ops[0]);
                                t.n_ops--;
                        } else if (k == st.n_ops && st.fault[0])
                                t.fault[0] = 0;
                        else {
                                k++;
                                continue;
                        }
                        memcpy(cand, seq, (size_t) n * 512);
                        format_step(&t, cand[i], 512);
                        if (reproduces(cand, n, name)) {
                                memcpy(seq[i], cand[i], 512);
                                st = t;
                                any = true;
                                continue; /* the same k now names the next operation */
                        }
                        k++;
                }
        }
        return any;
}

/* Shrink within a time budget: ddmin, then simpler steps, until nothing changes. */
static int shrink(char (*seq)[512], int n, const char *name) {
        time_t deadline = time(NULL) + arg_shrink_seconds;
        for (;;) {
                n = ddmin(seq, n, name, deadline);
                bool changed = simplify_ops(seq, n, name, deadline);
                changed |= split_one(seq, &n, name, deadline);
                if (!changed || time(NULL) >= deadline)
                        return n;
        }
}

/* ------------------------------------------------------------------ main */

static double cpu_seconds(void) {
        struct rusage s, c;
        getrusage(RUSAGE_SELF, &s);
        getrusage(RUSAGE_CHILDREN, &c);
        return (double) (s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec + c.ru_stime.tv_sec) +
               (double) (s.ru_utime.tv_usec + s.ru_stime.tv_usec + c.ru_utime.tv_usec + c.ru_stime.tv_usec) / 1e6;
}

static double now_seconds(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void usage(void) {
        fprintf(stderr,
                "usage: vc-stress [--seed N] [--steps N] [--actors N] [--episode-steps N] [--exec]\n"
                "                 [--tolerate INVARIANT,...] [--hang-permille N] [--shrink-seconds N]\n"
                "                 [--jobs N] [--first-episode N] [--replay FILE [--repeat N]] [--workdir DIR]\n"
                "                 [--verbose]\n"
                "  invariants: not-whole half-claimed-no-record given-back-to-vfio reset-restored\n"
                "              held-given-back failed-changed verb-result config-touched pending-unfinished hang\n"
                "              refused-wrote\n"
                "  environment: abs_top_builddir, abs_top_srcdir; STRESS_TOLERATE (as --tolerate)\n");
        exit(2);
}

/* A work directory vc-stress made itself goes when nothing is left to look at. */
static void remove_own_workdir(void) {
        if (getenv("VC_STRESS_OWN_WORKDIR") && nftw(arg_workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
                fprintf(stderr, "vc-stress: cannot remove %s: %s\n", arg_workdir, strerror(errno));
}

static void print_sequence(FILE *f, char (*seq)[512], int n, const char *indent) {
        for (int i = 0; i < n; i++)
                fprintf(f, "%s%s\n", indent, seq[i]);
}

/* The work directory: --workdir's (made if missing), or a new one on tmpfs when there is one (the
 * engine fsyncs every record it writes). True when vc-stress made it, so it may remove it. */
static bool prepare_workdir(void) {
        if (arg_workdir[0]) {
                (void) mkdir(arg_workdir, 0755);
                return false;
        }
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
                tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        pathf(arg_workdir, "%s/vc-stress.XXXXXX", tmp);
        if (!mkdtemp(arg_workdir))
                die("mkdtemp: %s", strerror(errno));
        return true;
}

static void self_exe(char buf[static PATH_MAX]) {
        ssize_t n = readlink("/proc/self/exe", buf, PATH_MAX - 1);
        if (n < 0)
                die("/proc/self/exe: %s", strerror(errno));
        buf[n] = 0;
}

/* ------------------------------------------------------------------ --jobs: episodes side by side */

/* A worker's counters, sent to the coordinator at its end ("S ..." on the progress pipe). */
static void send_stats(int fd) {
        char line[512];
        int k = snprintf(line, sizeof line, "S %ld %ld %ld %ld %ld %ld", n_execs, n_killed, n_faulted, n_pending,
                         n_concurrent, cascade_count);
        for (int i = 0; invariant_names[i]; i++)
                k += snprintf(line + k, sizeof line - (size_t) k, " %ld", tolerated_count[i]);
        snprintf(line + k, sizeof line - (size_t) k, "\n");
        (void) !write(fd, line, strlen(line));
}

static volatile sig_atomic_t coordinator_stop;
static void on_coordinator_stop(int sig) {
        (void) sig;
        coordinator_stop = 1;
}

/* Run the episodes of the run in @arg_jobs worker processes, worker J taking episodes J, J+jobs,
 * ...: each is vc-stress started again with its own work directory (its own tree, fake kernel,
 * libvirt and lock), so the episodes are the ones a run with one job makes, side by side. A
 * worker reports each episode it finished; the first violation stops the others after their
 * current step, and the worker that found it shrinks and prints it. */
static int run_jobs(int argc, char **argv) {
        pid_t pid[MAX_JOBS];
        FILE *in[MAX_JOBS];
        char self[PATH_MAX], dir[PATH_MAX];
        int failed = -1, failed_status = 0, left = arg_jobs;
        long steps = 0, episodes = 0, execs = 0, killed = 0, faulted = 0, pending = 0, concurrent = 0, cascade = 0;
        long tol[16] = { 0 };
        double t0 = now_seconds();
        /* Which episodes are done, to say up to which one all are: a run stopped from outside
         * goes on from there with --first-episode (tests/stress/README.md). */
        size_t n_episodes = (size_t) ((arg_steps + arg_episode_steps - 1) / arg_episode_steps), prefix = 0;
        bool *done = calloc(n_episodes + 1, sizeof *done);
        if (!done)
                die("out of memory");

        self_exe(self);
        bool own = prepare_workdir();

        printf("vc-stress: seed %" PRIu64 ", %ld steps, up to %d actors, %d steps per episode, %d jobs%s%s\n",
               arg_seed, arg_steps, arg_actors, arg_episode_steps, arg_jobs, arg_tolerate[0] ? ", tolerating " : "",
               arg_tolerate);
        if (arg_first_episode)
                printf("vc-stress: from episode %" PRIu64 " on\n", arg_first_episode);
        fflush(stdout);

        struct sigaction sa = { .sa_handler = on_coordinator_stop };
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        for (int j = 0; j < arg_jobs; j++) {
                int fds[2];
                char index[16];
                if (pipe2(fds, O_CLOEXEC) < 0)
                        die("pipe: %s", strerror(errno));
                pathf(dir, "%s/job%d", arg_workdir, j);
                (void) mkdir(dir, 0755);
                snprintf(index, sizeof index, "%d", j);
                fflush(NULL);
                pid[j] = fork();
                if (pid[j] < 0)
                        die("fork: %s", strerror(errno));
                if (pid[j] == 0) {
                        char fd[16];
                        int w = dup(fds[1]); /* without O_CLOEXEC: it survives the execv */
                        char **nargv = calloc((size_t) argc + 6, sizeof *nargv);
                        int k = 0;
                        if (w < 0 || !nargv)
                                _exit(125);
                        snprintf(fd, sizeof fd, "%d", w);
                        setenv("VC_STRESS_PROGRESS_FD", fd, 1);
                        unsetenv("VC_STRESS_OWN_WORKDIR");
                        signal(SIGINT, SIG_DFL);
                        signal(SIGTERM, SIG_DFL);
                        nargv[k++] = argv[0];
                        for (int i = 1; i < argc; i++)
                                nargv[k++] = argv[i];
                        nargv[k++] = "--workdir"; /* the last one counts */
                        nargv[k++] = dir;
                        nargv[k++] = "--job-index";
                        nargv[k++] = index;
                        execv(self, nargv);
                        _exit(126);
                }
                close(fds[1]);
                in[j] = fdopen(fds[0], "re");
                if (!in[j])
                        die("fdopen: %s", strerror(errno));
        }

        struct pollfd pfd[MAX_JOBS];
        for (int j = 0; j < arg_jobs; j++)
                pfd[j] = (struct pollfd){ .fd = fileno(in[j]), .events = POLLIN };
        bool stopping = false;
        while (left > 0) {
                if (coordinator_stop && !stopping) {
                        stopping = true;
                        for (int j = 0; j < arg_jobs; j++)
                                if (pfd[j].fd >= 0 && j != failed) /* that one is shrinking its episode */
                                        (void) kill(pid[j], SIGTERM);
                }
                if (poll(pfd, (nfds_t) arg_jobs, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %s", strerror(errno));
                }
                for (int j = 0; j < arg_jobs; j++) {
                        char line[512];
                        if (pfd[j].fd < 0 || !pfd[j].revents)
                                continue;
                        /* A worker writes whole short lines with one write(2) each. */
                        if (fgets(line, sizeof line, in[j])) {
                                long e, n;
                                if (line[0] == 'E' && sscanf(line, "E %ld %ld", &e, &n) == 2) {
                                        long before = steps;
                                        steps += n;
                                        episodes++;
                                        if (e >= (long) arg_first_episode && (size_t) (e - (long) arg_first_episode) < n_episodes)
                                                done[e - (long) arg_first_episode] = true;
                                        while (prefix < n_episodes && done[prefix])
                                                prefix++;
                                        if (steps / 1000 != before / 1000 && failed < 0) {
                                                if (prefix > 0)
                                                        printf("vc-stress: %ld steps without a violation so far (episodes %"
                                                               PRIu64 " to %" PRIu64 " all done)\n", steps,
                                                               arg_first_episode, arg_first_episode + prefix - 1);
                                                else
                                                        printf("vc-stress: %ld steps without a violation so far\n", steps);
                                                fflush(stdout);
                                        }
                                } else if (line[0] == 'V') {
                                        if (failed < 0)
                                                failed = j;
                                        coordinator_stop = 1; /* the others end after their step */
                                } else if (line[0] == 'S') {
                                        long v[6 + 16] = { 0 };
                                        char *p = line + 1;
                                        for (int i = 0; i < 6 + 16 && *p; i++)
                                                v[i] = strtol(p, &p, 10);
                                        execs += v[0], killed += v[1], faulted += v[2], pending += v[3];
                                        concurrent += v[4], cascade += v[5];
                                        for (int i = 0; i < 16; i++)
                                                tol[i] += v[6 + i];
                                }
                                continue;
                        }
                        /* End of the pipe: the worker is done. */
                        int status;
                        fclose(in[j]);
                        pfd[j].fd = -1;
                        left--;
                        while (waitpid(pid[j], &status, 0) < 0 && errno == EINTR)
                                ;
                        if (exit_code(status) != 0 && !(stopping && failed < 0 && exit_code(status) == 3)) {
                                if (failed < 0)
                                        failed = j;
                                if (failed == j)
                                        failed_status = status;
                                if (!stopping) {
                                        stopping = true;
                                        for (int i = 0; i < arg_jobs; i++)
                                                if (pfd[i].fd >= 0)
                                                        (void) kill(pid[i], SIGTERM);
                                }
                        }
                }
        }

        double wall = now_seconds() - t0, cpu = cpu_seconds();
        if (failed >= 0) {
                if (WIFSIGNALED(failed_status))
                        printf("vc-stress: job %d died of signal %d (%s)", failed, WTERMSIG(failed_status),
                               strsignal(WTERMSIG(failed_status)));
                else
                        printf("vc-stress: job %d stopped the run with exit status %d (its report is above)", failed,
                               exit_code(failed_status));
                printf("; the jobs finished %ld steps without a violation before\n", steps);
                free(done);
                return 1;
        }
        printf("vc-stress: %ld steps (%ld program runs) in %ld episodes%s without a violation: "
               "%.0f s wall, %.0f s CPU, %.0f steps/s wall, %.0f steps per CPU second (%d jobs)\n",
               steps, execs, episodes, stopping ? " (stopped from outside before the end)" : "", wall, cpu,
               steps / (wall > 0 ? wall : 1), steps / (cpu > 0 ? cpu : 1), arg_jobs);
        printf("vc-stress: %ld steps with a fault, %ld with concurrent operations, %ld operations killed, "
               "%ld pending records finished by the next command\n",
               faulted, concurrent, killed, pending);
        if (cascade)
                printf("vc-stress: tolerated %ld violations on groups a tolerated violation had left wrong\n", cascade);
        for (int i = 0; invariant_names[i]; i++)
                if (tol[i])
                        printf("vc-stress: tolerated %ld violations of [%s]\n", tol[i], invariant_names[i]);
        if (stopping && prefix < n_episodes) {
                if (prefix > 0)
                        printf("vc-stress: episodes %" PRIu64 " to %" PRIu64 " are all done\n", arg_first_episode,
                               arg_first_episode + prefix - 1);
                printf("vc-stress: to go on: --seed %" PRIu64 " --first-episode %" PRIu64
                       " --steps %ld (the same --actors and --episode-steps)\n",
                       arg_seed, arg_first_episode + prefix, arg_steps - (long) prefix * arg_episode_steps);
        }
        free(done);
        if (own && !stopping && nftw(arg_workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
                fprintf(stderr, "vc-stress: cannot remove %s: %s\n", arg_workdir, strerror(errno));
        return stopping ? 130 : 0;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "seed", required_argument, NULL, 's' },       { "steps", required_argument, NULL, 'n' },
                { "actors", required_argument, NULL, 'a' },     { "episode-steps", required_argument, NULL, 'e' },
                { "exec", no_argument, NULL, 'x' },             { "tolerate", required_argument, NULL, 't' },
                { "hang-permille", required_argument, NULL, 'H' }, { "shrink-seconds", required_argument, NULL, 'S' },
                { "replay", required_argument, NULL, 'r' },     { "workdir", required_argument, NULL, 'w' },
                { "verbose", no_argument, NULL, 'v' },          { "help", no_argument, NULL, 'h' },
                { "repeat", required_argument, NULL, 'R' },     { "jobs", required_argument, NULL, 'j' },
                { "job-index", required_argument, NULL, 'J' },  { "first-episode", required_argument, NULL, 'F' },
                {},
        };
        const char *e;
        int c;

        if ((e = getenv("STRESS_TOLERATE")))
                snprintf(arg_tolerate, sizeof arg_tolerate, "%s", e);
        while ((c = getopt_long(argc, argv, "s:n:a:e:xt:H:S:r:w:vhR:j:J:F:", longopts, NULL)) >= 0) {
                switch (c) {
                case 's': arg_seed = strtoull(optarg, NULL, 0); break;
                case 'n': arg_steps = atol(optarg); break;
                case 'a': arg_actors = atoi(optarg); break;
                case 'e': arg_episode_steps = atoi(optarg); break;
                case 'x': arg_exec = true; break;
                case 't': snprintf(arg_tolerate, sizeof arg_tolerate, "%s", optarg); break;
                case 'H': arg_hang_permille = atoi(optarg); break;
                case 'S': arg_shrink_seconds = atoi(optarg); break;
                case 'r': arg_replay = optarg; break;
                case 'w': snprintf(arg_workdir, sizeof arg_workdir, "%s", optarg); break;
                case 'v': arg_verbose = true; break;
                case 'R': arg_repeat = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
                case 'j': arg_jobs = atoi(optarg); break;
                case 'J': arg_job_index = atoi(optarg); break;
                case 'F': arg_first_episode = strtoull(optarg, NULL, 0); break;
                default: usage();
                }
        }
        if (arg_actors < 1 || arg_actors > MAX_ACTORS || arg_episode_steps < 1 || arg_episode_steps > MAX_STEPS ||
            arg_steps < 0 || arg_jobs < 1 || arg_jobs > MAX_JOBS || arg_job_index >= arg_jobs)
                usage();
        for (char *t = arg_tolerate; *t; t++)
                if (*t == ' ')
                        *t = ',';
        {
                char list[512];
                snprintf(list, sizeof list, "%s", arg_tolerate);
                for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        if (invariant_index(t) < 0 && strcmp(t, "all") != 0)
                                die("--tolerate: unknown invariant \"%s\"", t);
        }

        snprintf(arg_builddir, sizeof arg_builddir, "%s", (e = getenv("abs_top_builddir")) ? e : ".");
        snprintf(arg_srcdir, sizeof arg_srcdir, "%s", (e = getenv("abs_top_srcdir")) ? e : arg_builddir);

        if (arg_jobs > 1 && arg_job_index < 0 && !arg_replay)
                return run_jobs(argc, argv);

        /* The shim must be loaded before anything runs: start again under it. */
        if (!getenv("VC_STRESS_UNDER_SHIM")) {
                char self[PATH_MAX], shim[PATH_MAX], b[PATH_MAX], s[PATH_MAX];
                if (!realpath(arg_builddir, b) || !realpath(arg_srcdir, s))
                        die("abs_top_builddir/abs_top_srcdir: %s", strerror(errno));
                if (prepare_workdir())
                        setenv("VC_STRESS_OWN_WORKDIR", "1", 1); /* removed after a clean run */
                char w[PATH_MAX];
                if (!realpath(arg_workdir, w))
                        die("%s: %s", arg_workdir, strerror(errno));
                pathf(shim, "%s/.libs/libfakekernel.so", b);
                pathf(root, "%s/root", w);
                self_exe(self);
                setenv("LD_PRELOAD", shim, 1);
                setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
                setenv("FAKEKERNEL_ROOT", root, 1);
                /* The tree is the programs' running system (no --sysroot): under a --sysroot they
                 * never load a module, and every episode needs vfio-pci and igb loaded. */
                setenv("FAKEKERNEL_HOST", "1", 1);
                setenv("VC_STRESS_UNDER_SHIM", "1", 1);
                setenv("abs_top_builddir", b, 1);
                setenv("abs_top_srcdir", s, 1);
                char **nargv = calloc((size_t) argc + 4, sizeof *nargv);
                int k = 0;
                nargv[k++] = argv[0];
                nargv[k++] = "--workdir";
                nargv[k++] = w;
                for (int i = 1; i < argc; i++)
                        nargv[k++] = argv[i];
                execv(self, nargv);
                die("cannot start again under the shim: %s", strerror(errno));
        }
        pathf(root, "%s/root", arg_workdir);
        pathf(confdir, "%s%s/vfio-claim", root, SYSCONFDIR);
        pathf(statedir, "%s%s/vfio-claim", root, RUNSTATEDIR);
        pathf(node_xml, "%s/node.xml", arg_workdir);
        snprintf(uri, sizeof uri, "test://%s", node_xml);
        /* libvirt's one-time set-up (TLS, error handling) once, not in every forked CLI. */
        if (!arg_exec && virInitialize() < 0)
                die("virInitialize failed");
        struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: waitpid() returns EINTR */
        sigaction(SIGALRM, &sa, NULL);

        static char seq[MAX_STEPS][512];
        double t0 = now_seconds(), c0 = cpu_seconds();
        long steps = 0;
        int n = 0, at = -1;
        uint64_t episode = 0;

        if (arg_replay) {
                FILE *f = fopen(arg_replay, "re");
                char line[512];
                if (!f)
                        die("%s: %s", arg_replay, strerror(errno));
                while (n < MAX_STEPS && fgets(line, sizeof line, f)) {
                        chomp(line);
                        /* "#! tolerate INVARIANT,...": what the sequence goes past to reach its point */
                        if (strncmp(line, "#! tolerate ", 12) == 0) {
                                size_t k = strlen(arg_tolerate);
                                snprintf(arg_tolerate + k, sizeof arg_tolerate - k, "%s%s", k ? "," : "", line + 12);
                        } else if (line[0] && line[0] != '#')
                                snprintf(seq[n++], 512, "%s", line);
                }
                fclose(f);
                for (int r = 0; r < arg_repeat; r++) {
                        arg_verbose = r == 0;
                        at = run_episode(seq, n, false, false);
                        if (at >= 0)
                                break;
                }
                steps = at < 0 ? n : at + 1;
                if (at < 0) {
                        printf("vc-stress: replayed %d steps of %s%s: no violation\n", n, arg_replay,
                               arg_repeat > 1 ? " (every repetition)" : "");
                        remove_own_workdir();
                        return 0;
                }
                printf("vc-stress: VIOLATION [%s] after step %d (%s): %s\n", viol.name, at + 1, seq[at], viol.detail);
                printf("vc-stress: the tree is in %s; the programs' messages of the last step in %s/actor*.log\n", root,
                       arg_workdir);
                return 1;
        }

        /* A worker of --jobs: episodes job, job + jobs, ...; reports each finished one on the pipe. */
        int progress_fd = -1;
        if (arg_job_index >= 0) {
                if (!(e = getenv("VC_STRESS_PROGRESS_FD")))
                        die("--job-index is vc-stress's own (--jobs)");
                progress_fd = atoi(e);
                (void) fcntl(progress_fd, F_SETFD, FD_CLOEXEC);
                episode = arg_first_episode + (uint64_t) arg_job_index;
                struct sigaction st = { .sa_handler = on_stop, .sa_flags = SA_RESTART };
                sigaction(SIGINT, &st, NULL);
                sigaction(SIGTERM, &st, NULL);
        } else {
                printf("vc-stress: seed %" PRIu64 ", %ld steps, up to %d actors, %d steps per episode%s%s%s\n",
                       arg_seed, arg_steps, arg_actors, arg_episode_steps, arg_exec ? ", exec" : "",
                       arg_tolerate[0] ? ", tolerating " : "", arg_tolerate);
                if (arg_first_episode)
                        printf("vc-stress: from episode %" PRIu64 " on\n", arg_first_episode);
                fflush(stdout);
                episode = arg_first_episode;
        }
        for (;;) {
                long first_step = (long) (episode - arg_first_episode) * arg_episode_steps;
                if (first_step >= arg_steps)
                        break;
                n = (int) (arg_steps - first_step < arg_episode_steps ? arg_steps - first_step : arg_episode_steps);
                uint64_t s = arg_seed ^ (episode * 0x2545f4914f6cdd1dULL);
                rng = splitmix(&s);
                at = run_episode(seq, n, true, false);
                if (at == -2) {
                        send_stats(progress_fd);
                        return 3;
                }
                if (at >= 0)
                        break;
                steps += n;
                if (progress_fd >= 0) {
                        char line[64];
                        snprintf(line, sizeof line, "E %" PRIu64 " %d\n", episode, n);
                        (void) !write(progress_fd, line, strlen(line));
                        episode += (uint64_t) arg_jobs;
                        continue;
                }
                episode++;
                /* A long run stopped from outside still tells how far it got. */
                if (steps / 1000 != (steps - n) / 1000) {
                        printf("vc-stress: %ld steps without a violation so far (episodes %" PRIu64 " to %" PRIu64
                               " done)\n", steps, arg_first_episode, episode - 1);
                        fflush(stdout);
                }
        }
        double wall = now_seconds() - t0, cpu = cpu_seconds() - c0;
        if (at < 0 && progress_fd >= 0) {
                send_stats(progress_fd);
                remove_own_workdir();
                return 0;
        }
        if (at < 0) {
                printf("vc-stress: %ld steps (%ld program runs) in %" PRIu64 " episodes without a violation: "
                       "%.0f s wall, %.0f s CPU, %.0f steps/s wall, %.0f steps per CPU second\n",
                       steps, n_execs, episode - arg_first_episode, wall, cpu, steps / (wall > 0 ? wall : 1),
                       steps / (cpu > 0 ? cpu : 1));
                printf("vc-stress: %ld steps with a fault, %ld with concurrent operations, %ld operations killed, "
                       "%ld pending records finished by the next command\n",
                       n_faulted, n_concurrent, n_killed, n_pending);
                if (cascade_count)
                        printf("vc-stress: tolerated %ld violations on groups a tolerated violation had left wrong\n",
                               cascade_count);
                for (int i = 0; invariant_names[i]; i++)
                        if (tolerated_count[i])
                                printf("vc-stress: tolerated %ld violations of [%s]\n", tolerated_count[i],
                                       invariant_names[i]);
                remove_own_workdir();
                return 0;
        }

        struct violation first = viol;
        if (progress_fd >= 0) {
                (void) !write(progress_fd, "V\n", 2); /* the coordinator stops the other jobs */
                send_stats(progress_fd);
        }
        steps += at + 1;
        long whole_run = (long) episode * arg_episode_steps + at + 1; /* the steps a one-job run takes to get here */
        printf("vc-stress: VIOLATION [%s] at episode %" PRIu64 ", step %d (%ld steps run, %.0f steps per CPU second)\n"
               "  %s\n  after: %s\n",
               first.name, episode, at + 1, steps, steps / (cpu > 0 ? cpu : 1), first.detail, seq[at]);
        fflush(stdout);
        int m = shrink(seq, at + 1, first.name);
        char out[PATH_MAX];
        pathf(out, "%s/tests/stress/failure-%" PRIu64 "-%s.seq", arg_builddir, arg_seed, first.name);
        FILE *f = fopen(out, "we");
        if (f) {
                fprintf(f, "# vc-stress seed %" PRIu64 " episode %" PRIu64 ": [%s] %s\n", arg_seed, episode, first.name,
                        first.detail);
                print_sequence(f, seq, m, "");
                fclose(f);
        }
        (void) reproduces(seq, m, first.name);
        printf("vc-stress: shrunk from %d to %d steps (tests/stress/README.md has the step syntax):\n", at + 1, m);
        print_sequence(stdout, seq, m, "  ");
        printf("vc-stress: on the shrunk sequence: [%s] %s\n", viol.name, viol.detail);
        printf("vc-stress: replay: abs_top_builddir=%s abs_top_srcdir=%s %s/tests/stress/vc-stress --replay %s\n",
               arg_builddir, arg_srcdir, arg_builddir, out);
        printf("vc-stress: the tree of the last replay is in %s\n", root);
        printf("vc-stress: or the whole run: make stress STRESS_SEED=%" PRIu64 " STRESS_STEPS=%ld STRESS_ACTORS=%d\n",
               arg_seed, whole_run, arg_actors);
        return 1;
}
