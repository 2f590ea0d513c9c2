/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "name.h"
#include "state.h"
#include "units.h"
#include "sysfs.h"

#define RECORD_MAX (64 * 1024)
#define NAME_MAX_LEN 255

static const char *const record_state_table[_VC_RECORD_STATE_MAX] = {
        [VC_RECORD_CLAIMING] = "claiming",
        [VC_RECORD_CLAIMED] = "claimed",
        [VC_RECORD_RELEASING] = "releasing",
};

DEFINE_STRING_TABLE_LOOKUP(vc_record_state, enum vc_record_state, record_state_table, _VC_RECORD_STATE_MAX)

/* mkdir -p for the state directory only: its parents (ROOT/run) are expected to exist on a
 * host, but a fresh test root or an image may lack them. */
static int make_state_dir(struct vc_ctx *ctx, char **ret) {
        _cleanup_free_ char *dir = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL);
        if (r < 0)
                return r;
        /* Below the root only, every component inside it (lib/root.h). */
        if ((r = vc_mkdir_p(dir, 0755)) < 0)
                return log_debug_errno(r, "Cannot create %s: %m", dir);
        if (ret)
                *ret = TAKE_PTR(dir);
        return 0;
}

/* flock(LOCK_EX) of @fd: for ever (@timeout_ms < 0), once (0), or polled until @deadline. */
static int lock_fd(int fd, const char *path, int timeout_ms, uint64_t deadline) {
        if (timeout_ms < 0) {
                while (flock(fd, LOCK_EX) < 0)
                        if (errno != EINTR)
                                return negative_errno();
                return 0;
        }
        for (;;) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return negative_errno();
                if (timeout_ms == 0)
                        return -EWOULDBLOCK;
                if (vc_now_ms() >= deadline)
                        return log_debug_errno(-ETIMEDOUT, "Lock %s is held by another writer", path);
                vc_sleep_us(10000);
        }
}

/* Is the file locked on @fd still the one at @path? A lock file removed or replaced (mv) while
 * this process waited on it is one that no later writer takes: holding it excludes nobody. */
static bool lock_still_at(int fd, const char *path) {
        struct stat held, now;
        _cleanup_close_ int at = vc_path_open(path, O_PATH | O_NOFOLLOW, 0);
        return at >= 0 && fstat(fd, &held) == 0 && fstat(at, &now) == 0 && held.st_dev == now.st_dev &&
               held.st_ino == now.st_ino;
}

/* How often a lock file found replaced after locking it is opened again, before giving up. */
#define LOCK_REPLACED_MAX 100

int vc_state_lock(struct vc_ctx *ctx, int timeout_ms, int *ret_fd) {
        _cleanup_free_ char *dir = NULL, *path = NULL;
        int r;

        r = make_state_dir(ctx, &dir);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/lock", dir) < 0)
                return -ENOMEM;

        uint64_t deadline = vc_now_ms() + (uint64_t) (timeout_ms > 0 ? timeout_ms : 0);
        for (unsigned tries = 0; tries < LOCK_REPLACED_MAX; tries++) {
                _cleanup_close_ int fd = vc_path_open(path, O_RDWR | O_CREAT | O_NOCTTY | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return log_debug_errno(fd, "Cannot open %s: %m", path);
                if ((r = lock_fd(fd, path, timeout_ms, deadline)) < 0)
                        return r;
                if (lock_still_at(fd, path)) {
                        vc_ctx_set_device_reads_bounded(ctx, true);
                        vc_ctx_set_state_locked(ctx, true);
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
                log_debug("Lock %s was removed or replaced while this process waited for it; opening it again", path);
        }
        return log_debug_errno(-ESTALE, "Lock %s keeps being replaced", path);
}

/* ------------------------------------------------------------------ records */

static int parse_u64(const char *s, uint64_t *ret);

static void record_device_done(struct vc_record_device *d) {
        free(d->driver);
        free(d->module);
        free(d->override);
        free(d->reset_method);
}

struct vc_record *vc_record_free(struct vc_record *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_devices; i++)
                record_device_done(&r->devices[i]);
        free(r->devices);
        strv_free(r->consoles);
        strv_free(r->stopped_units);
        free(r->owner);
        free(r->by);
        free(r);
        return NULL;
}

int vc_record_new(unsigned group, struct vc_record **ret) {
        struct vc_record *r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->group = group;
        r->since = (uint64_t) time(NULL);
        r->state = VC_RECORD_CLAIMING;
        *ret = r;
        return 0;
}

/* Driver and module names: what the kernel would print as a directory name. */
static bool name_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > NAME_MAX_LEN || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || *p == '=' || isspace((unsigned char) *p) || iscntrl((unsigned char) *p))
                        return false;
        return true;
}

static int dup_optional(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        if (!name_is_valid(s) || streq(s, "none"))
                return -EINVAL;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int vc_record_add_device(struct vc_record *r, const struct vc_pci_addr *addr, const char *driver,
                         const char *module, const char *override) {
        struct vc_record_device d = { .addr = *addr };
        int k;

        if (vc_record_find_device(r, addr))
                return -EEXIST;
        if ((k = dup_optional(driver, &d.driver)) < 0 || (k = dup_optional(module, &d.module)) < 0 ||
            (k = dup_optional(override, &d.override)) < 0) {
                record_device_done(&d);
                return k;
        }
        struct vc_record_device *v = realloc(r->devices, (r->n_devices + 1) * sizeof *v);
        if (!v) {
                record_device_done(&d);
                return -ENOMEM;
        }
        r->devices = v;
        r->devices[r->n_devices++] = d;
        return 0;
}

/* The kernel's reset_method list: at most 6 names of [a-z_], single spaces between ("" for none). */
static bool reset_methods_are_valid(const char *s) {
        size_t n = 0, len = 0;
        for (const char *p = s;; p++) {
                if (*p == ' ' || *p == '\0') {
                        if (len == 0 || len > 32 || ++n > 6)
                                return false;
                        len = 0;
                        if (*p == '\0')
                                return true;
                } else if ((*p >= 'a' && *p <= 'z') || *p == '_')
                        len++;
                else
                        return false;
        }
}

int vc_record_set_host_probe(struct vc_record *r, const struct vc_pci_addr *addr) {
        struct vc_record_device *d = (struct vc_record_device *) vc_record_find_device(r, addr);
        if (!d)
                return -ENOENT;
        d->host_probe = true;
        return 0;
}

int vc_record_drop_boot_override(struct vc_record *r, const struct vc_pci_addr *addr) {
        struct vc_record_device *d = (struct vc_record_device *) vc_record_find_device(r, addr);
        if (!d)
                return -ENOENT;
        if (!streq_ptr(d->override, "vfio-pci"))
                return 0;
        free(d->override);
        d->override = NULL;
        if (!d->driver)
                d->host_probe = true;
        return 1;
}

int vc_record_set_reset_method(struct vc_record *r, const struct vc_pci_addr *addr, const char *value) {
        struct vc_record_device *d = (struct vc_record_device *) vc_record_find_device(r, addr);
        _cleanup_free_ char *v = strdup(value);
        size_t l;

        if (!d)
                return -ENOENT;
        if (!v)
                return -ENOMEM;
        l = strlen(v);
        if (l > 0 && v[l - 1] == '\n')
                v[--l] = '\0';
        if (l > 0 && !reset_methods_are_valid(v))
                return -EINVAL;
        free(d->reset_method);
        d->reset_method = TAKE_PTR(v);
        return 0;
}

int vc_record_set_owner(struct vc_record *r, const char *owner) {
        char *o = NULL;
        if (!streq_ptr(owner, r->owner))
                r->starter = (struct vc_process_id){};
        if (owner) {
                if (!vc_vm_name_is_valid(owner))
                        return -EINVAL;
                o = strdup(owner);
                if (!o)
                        return -ENOMEM;
        }
        free(r->owner);
        r->owner = o;
        return 0;
}

int vc_record_set_starter(struct vc_record *r, const struct vc_process_id *starter) {
        if (!starter || starter->pid == 0) {
                if (starter && starter->start_time)
                        return -EINVAL;
                r->starter = (struct vc_process_id){};
                return 0;
        }
        if (!r->owner || starter->pid > INT32_MAX)
                return -EINVAL;
        r->starter = *starter;
        return 0;
}

int vc_process_id_read(struct vc_ctx *ctx, uint32_t pid, struct vc_process_id *ret) {
        _cleanup_free_ char *proc = NULL, *path = NULL, *text = NULL;
        if (pid == 0 || pid > INT32_MAX)
                return -EINVAL;
        int r = vc_ctx_path(ctx, VC_PLACE_PROC, &proc, NULL);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/%" PRIu32 "/stat", proc, pid) < 0)
                return -ENOMEM;
        r = vc_sysfs_read(path, &text);
        if (r == -ENOENT || r == -ESRCH)
                return -ESRCH;
        if (r < 0)
                return r;
        /* "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so the fields are
         * counted from the last ')'; the start time is field 22, the 20th after it. */
        const char *p = strrchr(text, ')');
        if (!p)
                return -EBADMSG;
        p++;
        for (int field = 3; field < 22; field++) {
                if (*p != ' ')
                        return -EBADMSG;
                p++;
                size_t k = strcspn(p, " \n");
                if (k == 0)
                        return -EBADMSG;
                p += k;
        }
        if (*p++ != ' ')
                return -EBADMSG;
        char word[32];
        size_t k = strcspn(p, " \n");
        if (k == 0 || k >= sizeof word)
                return -EBADMSG;
        memcpy(word, p, k);
        word[k] = 0;
        uint64_t start;
        if (parse_u64(word, &start) < 0)
                return -EBADMSG;
        *ret = (struct vc_process_id){ .pid = pid, .start_time = start };
        return 0;
}

int vc_process_id_alive(struct vc_ctx *ctx, const struct vc_process_id *id) {
        struct vc_process_id now;
        int r = vc_process_id_read(ctx, id->pid, &now);
        if (r == -ESRCH)
                return 0;
        if (r < 0)
                return r;
        return now.start_time == id->start_time;
}

/* One printable line: no control characters, no leading or trailing space. */
static bool by_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 64 || isspace((unsigned char) s[0]) ||
            isspace((unsigned char) s[strlen(s) - 1]))
                return false;
        for (const char *p = s; *p; p++)
                if (iscntrl((unsigned char) *p))
                        return false;
        return true;
}

int vc_record_set_by(struct vc_record *r, const char *by) {
        char *b = NULL;
        if (by) {
                if (!by_is_valid(by))
                        return -EINVAL;
                b = strdup(by);
                if (!b)
                        return -ENOMEM;
        }
        free(r->by);
        r->by = b;
        return 0;
}

bool vc_vtconsole_name_is_valid(const char *name) {
        const char *num = name ? startswith(name, "vtcon") : NULL;
        size_t l = num ? strlen(num) : 0;
        return l > 0 && l <= 4 && strspn(num, "0123456789") == l;
}

#define RECORD_CONSOLES_MAX 64

int vc_record_add_console(struct vc_record *r, const char *name) {
        if (name && !vc_vtconsole_name_is_valid(name))
                return -EINVAL;
        r->console_handoff = true;
        if (!name)
                return 0;
        for (size_t i = 0; i < r->n_consoles; i++)
                if (streq(r->consoles[i], name))
                        return 0;
        if (r->n_consoles == RECORD_CONSOLES_MAX)
                return -E2BIG;
        return strv_push(&r->consoles, &r->n_consoles, strdup(name));
}

int vc_record_add_stopped_unit(struct vc_record *r, const char *name) {
        if (!vc_unit_name_is_valid(name))
                return -EINVAL;
        for (size_t i = 0; i < r->n_stopped_units; i++)
                if (streq(r->stopped_units[i], name))
                        return 0;
        if (r->n_stopped_units == RECORD_CONSOLES_MAX)
                return -E2BIG;
        return strv_push(&r->stopped_units, &r->n_stopped_units, strdup(name));
}

const struct vc_record_device *vc_record_find_device(const struct vc_record *r,
                                                     const struct vc_pci_addr *addr) {
        for (size_t i = 0; i < r->n_devices; i++)
                if (vc_pci_addr_equal(&r->devices[i].addr, addr))
                        return &r->devices[i];
        return NULL;
}

int vc_record_format(const struct vc_record *r, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fprintf(f, "group %u\n", r->group);
        if (r->owner)
                fprintf(f, "owner %s\n", r->owner);
        if (r->owner && r->starter.pid)
                fprintf(f, "starter %" PRIu32 " %" PRIu64 "\n", r->starter.pid, r->starter.start_time);
        if (r->by)
                fprintf(f, "by %s\n", r->by);
        fprintf(f, "since %" PRIu64 "\n", r->since);
        fprintf(f, "state %s\n", vc_record_state_to_string(r->state));
        if (r->console_handoff) {
                fputs("consoles", f);
                for (size_t i = 0; i < r->n_consoles; i++)
                        fprintf(f, " %s", r->consoles[i]);
                fputs(r->n_consoles ? "\n" : " none\n", f);
        }
        if (r->n_stopped_units) {
                fputs("stopped", f);
                for (size_t i = 0; i < r->n_stopped_units; i++)
                        fprintf(f, " %s", r->stopped_units[i]);
                fputc('\n', f);
        }
        for (size_t i = 0; i < r->n_devices; i++) {
                const struct vc_record_device *d = &r->devices[i];
                fprintf(f, "device %s driver=%s module=%s override=%s%s", VC_PCI_ADDR_TO_STRING(&d->addr),
                        d->driver ?: "none", d->module ?: "none", d->override ?: "none",
                        d->host_probe ? " host=probe" : "");
                if (d->reset_method) {
                        fputs(" reset_method=", f);
                        if (isempty(d->reset_method))
                                fputs("none", f);
                        for (const char *p = d->reset_method; *p; p++)
                                fputc(*p == ' ' ? ',' : *p, f);
                }
                fputc('\n', f);
        }
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));
        *ret = TAKE_PTR(buf);
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
        if (!isdigit((unsigned char) s[0]) || (s[0] == '0' && s[1]))
                return -EBADMSG;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* "key=value" where value is a name or "none". */
static int parse_kv(const char *word, const char *key, char **ret) {
        const char *v = startswith(word, key);
        if (!v || *v != '=')
                return -EBADMSG;
        v++;
        if (streq(v, "none")) {
                *ret = NULL;
                return 0;
        }
        if (!name_is_valid(v))
                return -EBADMSG;
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

static int parse_device_line(struct vc_record *rec, char *args) {
        char *words[6], *save = NULL;
        size_t n = 0;
        struct vc_pci_addr addr;
        _cleanup_free_ char *driver = NULL, *module = NULL, *override = NULL, *reset_method = NULL;
        bool host_probe = false;
        int r;

        for (char *w = strtok_r(args, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                if (n == ELEMENTSOF(words))
                        return -EBADMSG;
                words[n++] = w;
        }
        if (n < 4 || strlen(words[0]) != 12 || vc_pci_addr_parse(words[0], &addr) < 0)
                return -EBADMSG;
        if ((r = parse_kv(words[1], "driver", &driver)) < 0 ||
            (r = parse_kv(words[2], "module", &module)) < 0 ||
            (r = parse_kv(words[3], "override", &override)) < 0)
                return r;
        /* Optional, in this order: host=probe (only for a device that had no driver), then
         * reset_method= (added later: records without it still parse). */
        size_t i = 4;
        if (i < n && streq(words[i], "host=probe")) {
                if (driver)
                        return -EBADMSG;
                host_probe = true;
                i++;
        }
        if (i < n) {
                const char *v = startswith(words[i], "reset_method=");
                if (!v || isempty(v))
                        return -EBADMSG;
                reset_method = streq(v, "none") ? strdup("") : strdup(v);
                if (!reset_method)
                        return -ENOMEM;
                for (char *p = reset_method; *p; p++)
                        if (*p == ',')
                                *p = ' ';
                i++;
        }
        if (i != n)
                return -EBADMSG;
        r = vc_record_add_device(rec, &addr, driver, module, override);
        if (r == -EEXIST || r == -EINVAL)
                return -EBADMSG;
        if (r < 0)
                return r;
        rec->devices[rec->n_devices - 1].host_probe = host_probe;
        if (reset_method) {
                r = vc_record_set_reset_method(rec, &addr, reset_method);
                if (r < 0)
                        return r == -EINVAL ? -EBADMSG : r;
        }
        return 0;
}

/* After the owner line, once: "starter PID START". */
static int parse_starter_line(struct vc_record *rec, char *args) {
        char *sp = strchr(args, ' ');
        uint64_t pid, start;
        if (!rec->owner || rec->starter.pid || !sp)
                return -EBADMSG;
        *sp = '\0';
        if (parse_u64(args, &pid) < 0 || pid == 0 || pid > INT32_MAX || parse_u64(sp + 1, &start) < 0)
                return -EBADMSG;
        rec->starter = (struct vc_process_id){ .pid = (uint32_t) pid, .start_time = start };
        return 0;
}

/* "stopped gdm.service ...": once, each unit once. */
static int parse_stopped_line(struct vc_record *rec, char *args) {
        char *save = NULL;
        int r;

        if (rec->n_stopped_units)
                return -EBADMSG;
        for (char *w = strtok_r(args, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                size_t n = rec->n_stopped_units;
                if ((r = vc_record_add_stopped_unit(rec, w)) < 0)
                        return r == -ENOMEM ? r : -EBADMSG;
                if (rec->n_stopped_units == n)
                        return -EBADMSG; /* listed twice */
        }
        return rec->n_stopped_units > 0 ? 0 : -EBADMSG;
}

/* "consoles none" or "consoles vtcon1 vtcon7": once, each console once. */
static int parse_consoles_line(struct vc_record *rec, char *args) {
        char *save = NULL;
        int r;

        if (rec->console_handoff)
                return -EBADMSG;
        if (streq(args, "none"))
                return vc_record_add_console(rec, NULL);
        for (char *w = strtok_r(args, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                size_t n = rec->n_consoles;
                if ((r = vc_record_add_console(rec, w)) < 0)
                        return r == -ENOMEM ? r : -EBADMSG;
                if (rec->n_consoles == n)
                        return -EBADMSG; /* listed twice */
        }
        return rec->n_consoles > 0 ? 0 : -EBADMSG;
}

int vc_record_parse(const char *text, int expected_group, struct vc_record **ret) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        _cleanup_free_ char *copy = NULL;
        bool have_group = false, have_since = false, have_state = false;
        int r;

        if (strlen(text) > RECORD_MAX)
                return -EBADMSG;
        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        r = vc_record_new(0, &rec);
        if (r < 0)
                return r;

        for (char *line = copy, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                char *sp = strchr(line, ' ');
                if (!sp || sp[1] == '\0')
                        return -EBADMSG;
                *sp = '\0';
                char *arg = sp + 1;
                uint64_t v;

                if (streq(line, "group")) {
                        if (have_group || parse_u64(arg, &v) < 0 || v > INT32_MAX)
                                return -EBADMSG;
                        rec->group = (unsigned) v;
                        have_group = true;
                } else if (streq(line, "owner")) {
                        if (rec->owner || !vc_vm_name_is_valid(arg))
                                return -EBADMSG;
                        r = vc_record_set_owner(rec, arg);
                        if (r < 0)
                                return r;
                } else if (streq(line, "starter")) {
                        if ((r = parse_starter_line(rec, arg)) < 0)
                                return r;
                } else if (streq(line, "by")) {
                        if (rec->by || !by_is_valid(arg))
                                return -EBADMSG;
                        r = vc_record_set_by(rec, arg);
                        if (r < 0)
                                return r;
                } else if (streq(line, "since")) {
                        if (have_since || parse_u64(arg, &rec->since) < 0)
                                return -EBADMSG;
                        have_since = true;
                } else if (streq(line, "state")) {
                        int s = vc_record_state_from_string(arg);
                        if (have_state || s < 0)
                                return -EBADMSG;
                        rec->state = (enum vc_record_state) s;
                        have_state = true;
                } else if (streq(line, "stopped")) {
                        if ((r = parse_stopped_line(rec, arg)) < 0)
                                return r;
                } else if (streq(line, "consoles")) {
                        if ((r = parse_consoles_line(rec, arg)) < 0)
                                return r;
                } else if (streq(line, "device")) {
                        r = parse_device_line(rec, arg);
                        if (r < 0)
                                return r;
                } else
                        return -EBADMSG;
        }
        if (!have_group || !have_since || !have_state)
                return -EBADMSG;
        if (expected_group >= 0 && rec->group != (unsigned) expected_group)
                return -EBADMSG;
        *ret = TAKE_PTR(rec);
        return 0;
}

static int record_path(struct vc_ctx *ctx, unsigned group, char **ret) {
        return vc_ctx_path(ctx, VC_PLACE_RUN_STATE, ret, "group-%u", group);
}

int vc_record_write(struct vc_ctx *ctx, const struct vc_record *rec) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        r = record_path(ctx, rec->group, &path);
        if (r < 0)
                return r;
        r = vc_record_format(rec, &text);
        if (r < 0)
                return r;
        /* The directory exists whenever the lock was taken (its file is in it): it is made
         * here only when a write finds it missing. */
        r = vc_write_runtime_file(path, text, 0644);
        if (r == -ENOENT && (r = make_state_dir(ctx, NULL)) == 0)
                r = vc_write_runtime_file(path, text, 0644);
        if (r < 0)
                return log_debug_errno(r, "Cannot write %s: %m", path);
        log_debug("Wrote %s (state %s)", path, vc_record_state_to_string(rec->state));
        return 0;
}

int vc_record_read(struct vc_ctx *ctx, unsigned group, struct vc_record **ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (group > INT32_MAX)
                return -EINVAL;
        r = record_path(ctx, group, &path);
        if (r < 0)
                return r;
        r = vc_read_file(path, &text);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        r = vc_record_parse(text, (int) group, ret);
        if (r == -EBADMSG)
                log_debug("Record %s is malformed", path);
        return r;
}

int vc_record_remove(struct vc_ctx *ctx, unsigned group) {
        _cleanup_free_ char *path = NULL;
        int r = record_path(ctx, group, &path);
        if (r < 0)
                return r;
        return vc_unlink_runtime_file(path);
}

int vc_record_list(struct vc_ctx *ctx, unsigned **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL);
        if (r < 0)
                return r;
        return vc_dir_list_numbers(dir, "group-", ret, ret_n);
}
