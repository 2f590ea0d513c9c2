/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration loader: DIR/vfio-claim.conf, then DIR/conf.d/ *.conf in byte order.
 *
 * inih splits "key = value" lines and strips ";" inline comments, but it is fed through our own
 * line reader, which owns everything inih would get wrong for us or does differently depending
 * on how it was built:
 *   - line numbers (Debian's inih is built without INI_HANDLER_LINENO; the handler runs right
 *     after the reader returned the line, so the reader's counter is the handler's line);
 *   - lines longer than inih's buffer, which inih would split or truncate: one error, line dropped;
 *   - section headers: parsed here (inih truncates section names to 49 bytes), inih only gets a
 *     placeholder; a broken header is reported and the keys below it are skipped;
 *   - indentation: stripped before inih sees the line, so inih's multi-line mode (an indented line
 *     continues the previous value) never applies; an indented line is an ordinary line;
 *   - every syntax error, not only the first one inih reports.
 * Every problem becomes one string "FILE:LINE: message"; loading goes on to find them all. */

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <ini.h>

#include "config.h"
#include "log.h"
#include "root.h"
#include "units.h"

#define CONFIG_FILE "vfio-claim.conf"
#define DROPIN_DIR "conf.d"

static const char *const release_table[_VC_RELEASE_MAX] = {
        [VC_RELEASE_HOST] = "host",
        [VC_RELEASE_KEEP] = "keep",
};

static const char *const reset_table[_VC_RESET_MAX] = {
        [VC_RESET_AUTO] = "auto",
        [VC_RESET_FLR] = "flr",
        [VC_RESET_BUS] = "bus",
        [VC_RESET_NONE] = "none",
        [VC_RESET_DEVICE_SPECIFIC] = "device_specific",
};

DEFINE_STRING_TABLE_LOOKUP(vc_release, enum vc_release, release_table, _VC_RELEASE_MAX)
DEFINE_STRING_TABLE_LOOKUP(vc_reset, enum vc_reset, reset_table, _VC_RESET_MAX)

/* ------------------------------------------------------------------ keys */

enum device_key {
        DKEY_MATCH,
        DKEY_ID,
        DKEY_BOOT,
        DKEY_RELEASE,
        DKEY_VM,
        DKEY_RESET,
        DKEY_CONSENT,
        DKEY_CONSOLE,
        DKEY_STOP,
        _DKEY_MAX,
};

static const char *const device_key_table[_DKEY_MAX] = {
        [DKEY_MATCH] = "match", [DKEY_ID] = "id",  [DKEY_BOOT] = "boot",
        [DKEY_RELEASE] = "release", [DKEY_VM] = "vm", [DKEY_RESET] = "reset",
        [DKEY_CONSENT] = "consent", [DKEY_CONSOLE] = "console", [DKEY_STOP] = "stop",
};

/* "console =": keep (the default: the boot VGA driving the console is host-critical) or handoff */
static const char *const console_table[] = { "keep", "handoff" };

enum usb_key {
        UKEY_MATCH,
        UKEY_SERIAL,
        UKEY_PORT,
        UKEY_VM,
        UKEY_BOOT,
        _UKEY_MAX,
};

static const char *const usb_key_table[_UKEY_MAX] = {
        [UKEY_MATCH] = "match", [UKEY_SERIAL] = "serial", [UKEY_PORT] = "port",
        [UKEY_VM] = "vm",       [UKEY_BOOT] = "boot",
};

enum global_key {
        GKEY_RELEASE,
        GKEY_PROTECT,
        GKEY_LOG_LEVEL,
        GKEY_HOOK_CLAIM_UNCONFIGURED,
        GKEY_TIMEOUT,
        _GKEY_MAX,
};

static const char *const global_key_table[_GKEY_MAX] = {
        [GKEY_RELEASE] = "release",
        [GKEY_PROTECT] = "protect",
        [GKEY_LOG_LEVEL] = "log-level",
        [GKEY_HOOK_CLAIM_UNCONFIGURED] = "hook-claim-unconfigured",
        [GKEY_TIMEOUT] = "timeout",
};

#define BOOLEAN_WORDS "yes, no, true, false, on, off, 1, 0"
#define LOG_LEVEL_WORDS "debug, info, notice, warning, err"

static int parse_boolean(const char *s) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (streq(s, yes[i]))
                        return 1;
                if (streq(s, no[i]))
                        return 0;
        }
        return -EINVAL;
}

/* "a, b, c" from a string table. */
static char *table_join(const char *const *table, size_t n) {
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(table[i]) + 2;
        char *s = malloc(len), *p = s;
        if (!s)
                return NULL;
        *p = '\0';
        for (size_t i = 0; i < n; i++)
                p = stpcpy(stpcpy(p, i > 0 ? ", " : ""), table[i]);
        return s;
}

/* A value quoted in a message: '"' and '\' escaped, control characters as \xHH, so that an
 * error stays on one line and cannot drive a terminal. */
static char *escape(const char *s) {
        char *r = malloc(strlen(s) * 4 + 1), *p = r;
        if (!r)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\') {
                        *p++ = '\\';
                        *p++ = (char) c;
                } else if (c < 0x20 || c == 0x7f)
                        p += sprintf(p, "\\x%02x", c);
                else
                        *p++ = (char) c;
        }
        *p = '\0';
        return r;
}

/* ------------------------------------------------------------------ parser state */

enum section {
        SECTION_NONE,    /* before the first header of a file */
        SECTION_GLOBAL,
        SECTION_DEVICE,
        SECTION_USB,
        SECTION_IGNORED, /* a header that was already reported as wrong: skip its keys */
};

struct where {
        const char *file; /* points into parser.files */
        unsigned line;
};

struct parser {
        struct vc_config *config;
        int oom; /* 0 or -ENOMEM, once anything failed to allocate */

        /* The file being read. */
        const char *file;
        FILE *f;
        unsigned line;
        char *buf;
        size_t bufsz;
        int read_error;
        bool indented; /* the current line started with whitespace */

        enum section section;
        char *label; /* "[global]", "[device gpu]": how messages name the section */

        /* The device section being read; appended to config->devices when it ends. */
        struct vc_config_device dev;
        bool dev_redefined;        /* already defined: check its keys, then drop it */
        bool dev_syntax_error;     /* a line of the section was unreadable: it may be the match */
        size_t dev_error_index;    /* where the "no match" error belongs among the errors */
        unsigned dev_key_line[_DKEY_MAX];

        /* The [usb NAME] section being read. */
        struct vc_config_usb usb;
        bool usb_redefined;
        unsigned usb_key_line[_UKEY_MAX];

        struct where global_key_set[_GKEY_MAX];

        char **files; /* every file name read, for struct where */
        size_t n_files;
};

static void device_done(struct vc_config_device *d) {
        free(d->name);
        free(d->file);
        free(d->matches);
        free(d->vm);
        strv_free(d->stop_units);
        *d = (struct vc_config_device){};
}

static void usb_done(struct vc_config_usb *u) {
        free(u->name);
        free(u->file);
        free(u->serial);
        free(u->port);
        free(u->vm);
        *u = (struct vc_config_usb){};
}

static int insert_error(struct parser *p, size_t index, char *msg) {
        struct vc_config *c = p->config;
        char **e = reallocarray(c->errors, c->n_errors + 1, sizeof *e);
        if (!e) {
                free(msg);
                return p->oom = -ENOMEM;
        }
        c->errors = e;
        memmove(e + index + 1, e + index, (c->n_errors - index) * sizeof *e);
        e[index] = msg;
        c->n_errors++;
        return 0;
}

/* "FILE:LINE: message" (or "FILE: message" when @line is 0) at position @index. */
_printf_(5, 0) static int add_errorv(struct parser *p, size_t index, const char *file, unsigned line,
                                     const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        char *full;

        if (vasprintf(&msg, fmt, ap) < 0)
                return p->oom = -ENOMEM;
        if ((line > 0 ? asprintf(&full, "%s:%u: %s", file, line, msg)
                      : asprintf(&full, "%s: %s", file, msg)) < 0)
                return p->oom = -ENOMEM;
        return insert_error(p, index, full);
}

_printf_(4, 5) static int insert_error_fmt(struct parser *p, const char *file, unsigned line,
                                          const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = add_errorv(p, p->config->n_errors, file, line, fmt, ap);
        va_end(ap);
        return r;
}

_printf_(2, 3) static int error_here(struct parser *p, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = add_errorv(p, p->config->n_errors, p->file, p->line, fmt, ap);
        va_end(ap);
        return r;
}

/* A key whose value is one word of @table: its index, or an error naming the words (-EINVAL). */
static int parse_word(struct parser *p, const char *key, const char *value, const char *q,
                      const char *const *table, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(value, table[i]))
                        return (int) i;
        _cleanup_free_ char *words = table_join(table, n);
        if (words)
                error_here(p, "%s %s: \"%s\" is not one of %s", p->label, key, q, words);
        else
                p->oom = -ENOMEM;
        return -EINVAL;
}

_printf_(3, 4) static int error_file(struct parser *p, const char *file, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = add_errorv(p, p->config->n_errors, file, 0, fmt, ap);
        va_end(ap);
        return r;
}

/* ------------------------------------------------------------------ sections */

static const struct vc_config_device *find_device(const struct vc_config *c, const char *name) {
        for (size_t i = 0; i < c->n_devices; i++)
                if (streq(c->devices[i].name, name))
                        return &c->devices[i];
        return NULL;
}

static const struct vc_config_usb *find_usb(const struct vc_config *c, const char *name) {
        for (size_t i = 0; i < c->n_usbs; i++)
                if (streq(c->usbs[i].name, name))
                        return &c->usbs[i];
        return NULL;
}

/* Where a device or USB entry called @name was defined: 0 when none is. */
static unsigned name_defined(const struct vc_config *c, const char *name, const char **ret_file) {
        const struct vc_config_device *d = find_device(c, name);
        const struct vc_config_usb *u = find_usb(c, name);
        *ret_file = d ? d->file : u ? u->file : NULL;
        return d ? d->line : u ? u->line : 0;
}

/* The end of a section: a device is checked for completeness and kept. */
static void section_end(struct parser *p) {
        if (p->section == SECTION_DEVICE) {
                struct vc_config *c = p->config;

                /* A wrong match line was reported already: not also "no match line". */
                if (p->dev_key_line[DKEY_MATCH] == 0 && !p->dev_syntax_error) {
                        char *msg;
                        if (asprintf(&msg, "%s:%u: %s has no \"match\" line", p->dev.file, p->dev.line,
                                     p->label) < 0)
                                p->oom = -ENOMEM;
                        else
                                (void) insert_error(p, p->dev_error_index, msg);
                }

                if (!p->dev_redefined) {
                        struct vc_config_device *d =
                                reallocarray(c->devices, c->n_devices + 1, sizeof *d);
                        if (!d)
                                p->oom = -ENOMEM;
                        else {
                                c->devices = d;
                                d[c->n_devices++] = p->dev;
                                p->dev = (struct vc_config_device){};
                        }
                }
                device_done(&p->dev);
        } else if (p->section == SECTION_USB) {
                struct vc_config *c = p->config;
                if (p->usb_key_line[UKEY_MATCH] == 0)
                        insert_error_fmt(p, p->usb.file, p->usb.line, "%s has no \"match\" line", p->label);
                else if (p->usb_key_line[UKEY_SERIAL] > 0 && p->usb_key_line[UKEY_PORT] > 0)
                        insert_error_fmt(p, p->usb.file, p->usb_key_line[UKEY_PORT],
                                         "%s port: set together with serial (line %u); use one of them", p->label,
                                         p->usb_key_line[UKEY_SERIAL]);
                if (!p->usb_redefined) {
                        struct vc_config_usb *u = reallocarray(c->usbs, c->n_usbs + 1, sizeof *u);
                        if (!u)
                                p->oom = -ENOMEM;
                        else {
                                c->usbs = u;
                                u[c->n_usbs++] = p->usb;
                                p->usb = (struct vc_config_usb){};
                        }
                }
                usb_done(&p->usb);
        }
        p->section = SECTION_NONE;
        free(p->label);
        p->label = NULL;
}

static void section_begin_usb(struct parser *p, const char *name) {
        const char *old_file;
        unsigned old_line = name_defined(p->config, name, &old_file);

        p->usb = (struct vc_config_usb){ .name = strdup(name), .file = strdup(p->file), .line = p->line };
        if (!p->usb.name || !p->usb.file || asprintf(&p->label, "[usb %s]", name) < 0) {
                p->label = NULL;
                usb_done(&p->usb);
                p->oom = -ENOMEM;
                p->section = SECTION_IGNORED;
                return;
        }
        memset(p->usb_key_line, 0, sizeof p->usb_key_line);
        p->usb_redefined = old_line > 0;
        p->section = SECTION_USB;
        if (old_line > 0)
                error_here(p, "%s: the name is already defined at %s:%u", p->label, old_file, old_line);
}

static void section_begin_device(struct parser *p, const char *name) {
        const struct vc_config_device *old = find_device(p->config, name);
        const struct vc_config_usb *old_usb = find_usb(p->config, name);

        p->dev = (struct vc_config_device){
                .name = strdup(name),
                .file = strdup(p->file),
                .line = p->line,
                .reset = VC_RESET_AUTO,
        };
        if (!p->dev.name || !p->dev.file || asprintf(&p->label, "[device %s]", name) < 0) {
                p->label = NULL;
                device_done(&p->dev);
                p->oom = -ENOMEM;
                p->section = SECTION_IGNORED;
                return;
        }
        memset(p->dev_key_line, 0, sizeof p->dev_key_line);
        p->dev_redefined = false;
        p->dev_syntax_error = false;
        p->section = SECTION_DEVICE;

        if (old) {
                p->dev_redefined = true;
                error_here(p, "%s is already defined at %s:%u", p->label, old->file, old->line);
        } else if (old_usb) {
                p->dev_redefined = true;
                error_here(p, "%s: the name is already defined at %s:%u", p->label, old_usb->file, old_usb->line);
        }
        p->dev_error_index = p->config->n_errors;
}

/* @s: the line, without leading whitespace, starting with '['. */

/* "KEYWORD NAME" or "KEYWORD": what follows the keyword, blanks skipped; NULL for another section. */
static const char *section_keyword(const char *inner, const char *keyword) {
        const char *rest = startswith(inner, keyword);
        if (!rest || (*rest && !isspace((unsigned char) *rest)))
                return NULL;
        return rest + strspn(rest, " \t");
}

/* The NAME of [KEYWORD NAME] is there and valid; otherwise the error is reported at this line. */
static bool section_name_ok(struct parser *p, const char *inner, const char *keyword, const char *name) {
        _cleanup_free_ char *q = escape(inner), *qn = NULL;
        if (!q) {
                p->oom = -ENOMEM;
                return false;
        }
        if (!*name) {
                error_here(p, "[%s] has no name: write [%s NAME]", q, keyword);
                return false;
        }
        if (vc_config_name_is_valid(name))
                return true;
        if (!(qn = escape(name)))
                p->oom = -ENOMEM;
        else
                error_here(p, "[%s]: \"%s\" is not a valid device name (letters, digits, \"_\", \".\", \"-\")", q, qn);
        return false;
}

static void section_header(struct parser *p, const char *s) {
        _cleanup_free_ char *q = NULL;
        const char *close, *rest;

        section_end(p);
        p->section = SECTION_IGNORED;

        /* inih's rule: the header ends at the first ']' (a " ;" before it starts a comment). */
        close = s + 1;
        for (bool was_space = false; *close && *close != ']' && !(was_space && *close == ';'); close++)
                was_space = isspace((unsigned char) *close);
        if (*close != ']') {
                q = escape(s);
                if (q)
                        error_here(p, "syntax error: \"%s\" has no closing \"]\"", q);
                else
                        p->oom = -ENOMEM;
                return;
        }
        rest = close + 1 + strspn(close + 1, " \t\r\v\f");
        if (*rest && *rest != ';') {
                q = escape(rest);
                if (q)
                        error_here(p, "syntax error: unexpected \"%s\" after the section header", q);
                else
                        p->oom = -ENOMEM;
                return;
        }

        /* The text between the brackets, surrounding whitespace ignored. */
        const char *a = s + 1, *b = close;
        while (a < b && isspace((unsigned char) *a))
                a++;
        while (b > a && isspace((unsigned char) b[-1]))
                b--;
        _cleanup_free_ char *inner = strndup(a, (size_t) (b - a));
        if (!inner) {
                p->oom = -ENOMEM;
                return;
        }

        const char *name = section_keyword(inner, "device"), *usb = section_keyword(inner, "usb");
        if (usb) {
                if (section_name_ok(p, inner, "usb", usb))
                        section_begin_usb(p, usb);
        } else if (streq(inner, "global")) {
                p->label = strdup("[global]");
                if (!p->label) {
                        p->oom = -ENOMEM;
                        return;
                }
                p->section = SECTION_GLOBAL;
        } else if (name) {
                if (section_name_ok(p, inner, "device", name))
                        section_begin_device(p, name);
        } else {
                q = escape(inner);
                if (q)
                        error_here(p, "unknown section [%s] (known: [global], [device NAME], [usb NAME])", q);
                else
                        p->oom = -ENOMEM;
        }
}

/* ------------------------------------------------------------------ keys */

/* The key setters' shared steps. Each reports a bad value at the current line and leaves the
 * setting as it was. */

/* The index of @key in @table, -1 after reporting it unknown (@known lists the keys). */
static int key_index(struct parser *p, const char *const *table, int n, const char *key, const char *known) {
        int k = string_table_lookup(table, n, key);
        if (k >= 0)
                return k;
        _cleanup_free_ char *qk = escape(key);
        if (qk)
                error_here(p, "%s unknown key \"%s\" (known: %s)", p->label, qk, known);
        else
                p->oom = -ENOMEM;
        return -1;
}

/* Has this key of the section been set before (reported), else remember its line. */
static bool key_repeated(struct parser *p, const char *key, unsigned *line) {
        if (*line > 0) {
                error_here(p, "%s %s: already set at %s:%u", p->label, key, p->file, *line);
                return true;
        }
        *line = p->line;
        return false;
}

static void set_boolean(struct parser *p, const char *key, const char *value, const char *q, bool *ret) {
        int r = parse_boolean(value);
        if (r < 0)
                error_here(p, "%s %s: \"%s\" is not a boolean (" BOOLEAN_WORDS ")", p->label, key, q);
        else
                *ret = r;
}

/* A number of seconds from 1 to VC_CONFIG_TIMEOUT_MAX_S, decimal digits only, stored in ms. */
static void set_seconds(struct parser *p, const char *key, const char *value, const char *q, unsigned *ret_ms) {
        unsigned long s = 0;
        const char *c = value;
        for (; *c >= '0' && *c <= '9' && s <= VC_CONFIG_TIMEOUT_MAX_S; c++)
                s = s * 10 + (unsigned long) (*c - '0');
        if (c == value || *c || s == 0 || s > VC_CONFIG_TIMEOUT_MAX_S)
                error_here(p, "%s %s: \"%s\" is not a number of seconds from 1 to %u", p->label, key, q,
                           VC_CONFIG_TIMEOUT_MAX_S);
        else
                *ret_ms = (unsigned) s * 1000;
}

static void set_vm_name(struct parser *p, const char *key, const char *value, const char *q, char **ret) {
        if (!vc_vm_name_is_valid(value))
                error_here(p, "%s %s: \"%s\" is not a libvirt domain name "
                           "(not empty, at most 255 bytes, no \"/\", no control characters)", p->label, key, q);
        else if (!(*ret = strdup(value)))
                p->oom = -ENOMEM;
}

static void set_key_global(struct parser *p, const char *key, const char *value, const char *q) {
        struct vc_config *c = p->config;
        int k = key_index(p, global_key_table, _GKEY_MAX, key, "release, protect, log-level, hook-claim-unconfigured, timeout"), r;

        if (k < 0)
                return;
        if (p->global_key_set[k].line > 0) {
                error_here(p, "%s %s: already set at %s:%u", p->label, key, p->global_key_set[k].file,
                           p->global_key_set[k].line);
                return;
        }
        p->global_key_set[k] = (struct where){ p->file, p->line };

        switch (k) {
        case GKEY_RELEASE:
                r = parse_word(p, key, value, q, release_table, _VC_RELEASE_MAX);
                if (r >= 0)
                        c->release = (enum vc_release) r;
                break;
        case GKEY_PROTECT:
                set_boolean(p, key, value, q, &c->protect);
                break;
        case GKEY_LOG_LEVEL:
                r = vc_log_level_from_string(value);
                if (r < 0)
                        error_here(p, "%s %s: \"%s\" is not one of " LOG_LEVEL_WORDS, p->label, key, q);
                else
                        c->log_level = r;
                break;
        case GKEY_HOOK_CLAIM_UNCONFIGURED:
                set_boolean(p, key, value, q, &c->hook_claim_unconfigured);
                break;
        case GKEY_TIMEOUT:
                set_seconds(p, key, value, q, &c->timeout_ms);
                break;
        }
}

/* match = ADDRESS or ID, one more way the device section matches (the key may repeat). */
static void device_add_match(struct parser *p, const char *key, const char *value, const char *q) {
        struct vc_config_device *d = &p->dev;
        struct vc_match m = { .line = p->line };
        if (vc_pci_addr_parse(value, &m.addr) >= 0)
                m.kind = VC_MATCH_ADDRESS;
        else if (vc_pci_id_parse(value, &m.id) >= 0)
                m.kind = VC_MATCH_ID;
        else {
                error_here(p, "%s %s: \"%s\" is not a PCI address or vendor:device id", p->label, key, q);
                return;
        }
        struct vc_match *v = reallocarray(d->matches, d->n_matches + 1, sizeof *v);
        if (!v) {
                p->oom = -ENOMEM;
                return;
        }
        d->matches = v;
        v[d->n_matches++] = m;
}

/* "stop = UNIT...": systemd units, separated by spaces, each once. */
#define STOP_UNITS_MAX 8
static void set_stop_units(struct parser *p, const char *key, const char *value, const char *q,
                           struct vc_config_device *d) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;
        if (!copy) {
                p->oom = -ENOMEM;
                return;
        }
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (!vc_unit_name_is_valid(w)) {
                        error_here(p, "%s %s: \"%s\" is not a systemd unit name (NAME.service, .socket, .target, ...)",
                                   p->label, key, w);
                        return;
                }
                for (size_t i = 0; i < d->n_stop_units; i++)
                        if (streq(d->stop_units[i], w)) {
                                error_here(p, "%s %s: \"%s\" is listed twice", p->label, key, w);
                                return;
                        }
                if (d->n_stop_units == STOP_UNITS_MAX) {
                        error_here(p, "%s %s: more than %d units", p->label, key, STOP_UNITS_MAX);
                        return;
                }
                if (strv_push(&d->stop_units, &d->n_stop_units, strdup(w)) < 0) {
                        p->oom = -ENOMEM;
                        return;
                }
        }
        if (d->n_stop_units == 0)
                error_here(p, "%s %s: %s names no unit", p->label, key, q);
}

static void set_key_device(struct parser *p, const char *key, const char *value, const char *q) {
        struct vc_config_device *d = &p->dev;
        int k = key_index(p, device_key_table, _DKEY_MAX, key, "match, id, boot, release, vm, reset, consent, console, stop"), r;

        if (k < 0)
                return;
        if (k == DKEY_MATCH) {
                p->dev_key_line[k] = p->line;
                device_add_match(p, key, value, q);
                return;
        }
        if (key_repeated(p, key, &p->dev_key_line[k]))
                return;

        switch (k) {
        case DKEY_ID:
                if (vc_pci_id_parse(value, &d->id) < 0)
                        error_here(p, "%s %s: \"%s\" is not a vendor:device or vendor:device:subvendor:subdevice id",
                                   p->label, key, q);
                else
                        d->has_id = true;
                break;
        case DKEY_BOOT:
                set_boolean(p, key, value, q, &d->boot);
                break;
        case DKEY_RELEASE:
                r = parse_word(p, key, value, q, release_table, _VC_RELEASE_MAX);
                if (r >= 0) {
                        d->has_release = true;
                        d->release = (enum vc_release) r;
                }
                break;
        case DKEY_VM:
                set_vm_name(p, key, value, q, &d->vm);
                break;
        case DKEY_RESET:
                r = parse_word(p, key, value, q, reset_table, _VC_RESET_MAX);
                if (r >= 0)
                        d->reset = (enum vc_reset) r;
                break;
        case DKEY_CONSENT:
                set_boolean(p, key, value, q, &d->consent);
                break;
        case DKEY_CONSOLE:
                r = parse_word(p, key, value, q, console_table, ELEMENTSOF(console_table));
                if (r >= 0)
                        d->console_handoff = r == 1;
                break;
        case DKEY_STOP:
                set_stop_units(p, key, value, q, d);
                break;
        }
}

bool vc_usb_port_is_valid(const char *s) {
        char *end;
        errno = 0;
        long bus = strtol(s, &end, 10);
        if (errno || end == s || !isdigit((unsigned char) *s) || bus < 1 || bus > 255 || *end != '-')
                return false;
        s = end + 1;
        for (int tier = 0;; tier++) {
                if (tier >= 6 || !isdigit((unsigned char) *s) || *s == '0')
                        return false;
                long port = strtol(s, &end, 10);
                if (port < 1 || port > 31)
                        return false;
                if (!*end)
                        return true;
                if (*end != '.')
                        return false;
                s = end + 1;
        }
}

bool vc_usb_serial_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 126)
                return false;
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        return false;
        return true;
}

/* "VVVV:PPPP", four hex digits each. */
static int parse_usb_id(const char *s, unsigned *ret_vendor, unsigned *ret_product) {
        if (strlen(s) != 9 || s[4] != ':')
                return -EINVAL;
        for (int i = 0; i < 9; i++)
                if (i != 4 && !isxdigit((unsigned char) s[i]))
                        return -EINVAL;
        *ret_vendor = (unsigned) strtoul(s, NULL, 16);
        *ret_product = (unsigned) strtoul(s + 5, NULL, 16);
        return 0;
}

static void set_key_usb(struct parser *p, const char *key, const char *value, const char *q) {
        struct vc_config_usb *u = &p->usb;
        int k = key_index(p, usb_key_table, _UKEY_MAX, key, "match, serial, port, vm, boot");

        if (k < 0 || key_repeated(p, key, &p->usb_key_line[k]))
                return;

        switch (k) {
        case UKEY_MATCH:
                if (parse_usb_id(value, &u->vendor, &u->product) < 0)
                        error_here(p, "%s %s: \"%s\" is not a USB vendor:product id (VVVV:PPPP, hex)", p->label,
                                   key, q);
                break;
        case UKEY_SERIAL:
                if (!vc_usb_serial_is_valid(value))
                        error_here(p, "%s %s: \"%s\" is not a serial number (1-126 printable ASCII characters)",
                                   p->label, key, q);
                else if (!(u->serial = strdup(value)))
                        p->oom = -ENOMEM;
                break;
        case UKEY_PORT:
                if (!vc_usb_port_is_valid(value))
                        error_here(p, "%s %s: \"%s\" is not a USB port path (BUS-PORT[.PORT]..., e.g. 3-1.2)",
                                   p->label, key, q);
                else if (!(u->port = strdup(value)))
                        p->oom = -ENOMEM;
                break;
        case UKEY_VM:
                set_vm_name(p, key, value, q, &u->vm);
                break;
        case UKEY_BOOT:
                set_boolean(p, key, value, q, &u->boot);
                break;
        }
}

/* Does the value carry a "#" comment? Only ";" comments may follow a value (inih's rule); a
 * "#" after whitespace would otherwise silently become part of it. */
static bool has_hash_comment(const char *v) {
        for (const char *s = v; *s; s++)
                if (*s == '#' && (s == v || isspace((unsigned char) s[-1])))
                        return true;
        return false;
}

/* Called by inih for each "key = value" line, right after our reader returned that line, so
 * p->line is its number. inih's @section is our placeholder: the reader keeps the real one. */
static int handler(void *userdata, const char *section, const char *name, const char *value) {
        struct parser *p = userdata;
        _cleanup_free_ char *v = NULL, *q = NULL;

        if (p->oom || p->section == SECTION_IGNORED)
                return 1;
        v = strdup(value ?: "");
        if (!v) {
                p->oom = -ENOMEM;
                return 1;
        }
        /* Strip a " ;" comment whether or not this inih build does (INI_ALLOW_INLINE_COMMENTS). */
        for (char *s = v; *s; s++)
                if (*s == ';' && s > v && isspace((unsigned char) s[-1])) {
                        *s = '\0';
                        break;
                }
        for (size_t l = strlen(v); l > 0 && isspace((unsigned char) v[l - 1]); l--)
                v[l - 1] = '\0';

        q = escape(v);
        if (!q) {
                p->oom = -ENOMEM;
                return 1;
        }

        if (p->section == SECTION_NONE) {
                _cleanup_free_ char *qk = escape(name);
                if (qk)
                        error_here(p, "\"%s\" is outside of any section (put it under [global] or [device NAME])",
                                   qk);
                else
                        p->oom = -ENOMEM;
                return 1;
        }
        if (has_hash_comment(v) &&
            (p->section == SECTION_USB ? string_table_lookup(usb_key_table, _UKEY_MAX, name)
                                       : string_table_lookup(p->section == SECTION_GLOBAL ? global_key_table : device_key_table,
                                                      p->section == SECTION_GLOBAL ? _GKEY_MAX : _DKEY_MAX, name)) >= 0) {
                error_here(p, "%s %s: \"%s\" has a \"#\" comment after the value; only \";\" comments may follow a value",
                           p->label, name, q);
                if (p->section == SECTION_DEVICE && streq(name, "match"))
                        p->dev_key_line[DKEY_MATCH] = p->line;
                if (p->section == SECTION_USB && streq(name, "match"))
                        p->usb_key_line[UKEY_MATCH] = p->line;
                return 1;
        }

        if (p->section == SECTION_GLOBAL)
                set_key_global(p, name, v, q);
        else if (p->section == SECTION_USB)
                set_key_usb(p, name, v, q);
        else
                set_key_device(p, name, v, q);
        return 1;
}

/* ------------------------------------------------------------------ the reader */

/* Find the first '=' or ':' the way inih does (stopping at a " ;" comment); we accept only '='. */
static const char *find_separator(const char *s) {
        bool was_space = false;
        for (; *s; s++) {
                if (*s == '=' || *s == ':')
                        return s;
                if (was_space && *s == ';')
                        return NULL;
                was_space = isspace((unsigned char) *s);
        }
        return NULL;
}

/* The reader's steps. */

/* The next line of the file without its line end, in p->buf; its length, or -1 at the end of
 * the file (a read error kept in p->read_error). After an allocation failure the rest is
 * drained: there is no room to report anything anyway. */
static ssize_t reader_next_line(struct parser *p) {
        ssize_t n;
        do {
                errno = 0;
                n = getline(&p->buf, &p->bufsz, p->f);
                if (n < 0) {
                        if (ferror(p->f))
                                p->read_error = errno > 0 ? -errno : -EIO;
                        return -1;
                }
                p->line++;
        } while (p->oom);
        if (n > 0 && p->buf[n - 1] == '\n')
                p->buf[--n] = '\0';
        if (n > 0 && p->buf[n - 1] == '\r') /* CRLF files */
                p->buf[--n] = '\0';
        return n;
}

/* A line inih cannot take (a NUL byte in it, longer than @max): reported, and a section header
 * on it lost with the keys below it. False for a line that is fine. */
static bool reader_line_unusable(struct parser *p, const char *s, size_t n, size_t max) {
        if (strlen(s) == n && n <= max)
                return false;
        p->dev_syntax_error = true; /* whatever the line said is lost */
        if (strlen(s) != n)
                error_here(p, "line contains a NUL byte");
        else
                error_here(p, "line is longer than %zu characters", max);
        if (*(s + strspn(s, " \t")) == '[')
                section_end(p), p->section = SECTION_IGNORED;
        return true;
}

/* A line that is not a comment or a section: "key = value", or it is reported. True when it is. */
static bool reader_key_line_ok(struct parser *p, const char *start) {
        const char *sep = find_separator(start);
        if (sep && *sep == '=' && sep != start)
                return true;
        p->dev_syntax_error = true;
        _cleanup_free_ char *q = escape(start);
        if (!q)
                p->oom = -ENOMEM;
        else if (sep && *sep == '=')
                error_here(p, "syntax error: \"%s\" has no key before \"=\"", q);
        else if (p->indented)
                error_here(p, "syntax error: \"%s\" is not \"key = value\" "
                           "(values cannot continue on an indented line)", q);
        else
                error_here(p, "syntax error: \"%s\" is not \"key = value\", a [section] or a comment", q);
        return false;
}

/* inih's reader callback, fgets()-like: hands inih one line, or a blank line in place of one we
 * handled (or rejected) ourselves. Never returns a partial line. */
static char *reader(char *str, int num, void *stream) {
        struct parser *p = stream;
        ssize_t n = reader_next_line(p);
        if (n < 0)
                return NULL;

        /* inih needs room for the line, "\r\n" and the NUL. */
        size_t max = num > 3 ? (size_t) num - 3 : 0;
        char *s = p->buf;
        strcpy(str, "\n");
        if (reader_line_unusable(p, s, (size_t) n, max))
                return str;

        if (p->line == 1 && startswith(s, "\xef\xbb\xbf")) /* UTF-8 byte order mark */
                s += 3;
        const char *start = s + strspn(s, " \t\v\f");
        p->indented = start > s;

        if (*start == '\0' || *start == ';' || *start == '#')
                return str;
        if (*start == '[') {
                section_header(p, start);
                strcpy(str, "[-]\n");
                return str;
        }
        if (!reader_key_line_ok(p, start))
                return str;

        /* Without the indentation inih cannot take the line for a continuation. */
        size_t l = strlen(start);
        memcpy(str, start, l);
        str[l] = '\n';
        str[l + 1] = '\0';
        return str;
}

static void parse_file(struct parser *p, int fd, const char *file) {
        _cleanup_fclose_ FILE *f = NULL;
        char *name;
        char **files;

        files = reallocarray(p->files, p->n_files + 1, sizeof *files);
        if (!files) {
                close(fd);
                p->oom = -ENOMEM;
                return;
        }
        p->files = files;
        name = strdup(file);
        if (!name) {
                close(fd);
                p->oom = -ENOMEM;
                return;
        }
        p->files[p->n_files++] = name;

        f = fdopen(fd, "re");
        if (!f) {
                close(fd);
                p->oom = -ENOMEM;
                return;
        }

        p->f = f;
        p->file = name;
        p->line = 0;
        p->read_error = 0;
        p->section = SECTION_NONE;

        size_t n_errors_before = p->config->n_errors;
        int r = ini_parse_stream(reader, p, handler, p);
        section_end(p);

        if (r == -2)
                p->oom = -ENOMEM;
        else if (r > 0 && p->config->n_errors == n_errors_before)
                /* inih found something the reader let through; it only tells the first line. */
                (void) insert_error_fmt(p, name, (unsigned) r, "syntax error");
        if (p->read_error < 0)
                error_file(p, name, "read error: %s", strerror(-p->read_error));

        p->f = NULL;
        p->file = NULL;
}

/* ------------------------------------------------------------------ files */

/* Open a configuration file below @dfd into *ret_fd. Returns 1 when opened, 0 when it is to be
 * skipped (absent, or in conf.d not a regular file), or a negative errno already reported. */
static int open_config_file(struct parser *p, int dfd, const char *name, const char *file, bool dropin,
                            int *ret_fd) {
        struct stat st;
        _cleanup_free_ char *full = NULL;
        (void) dfd; /* by path: under a root other than "/" resolved inside it (lib/root.h) */
        (void) name;
        if (asprintf(&full, "%s/%s", p->config->dir, file) < 0)
                return p->oom = -ENOMEM;
        /* O_NONBLOCK: a FIFO named *.conf must not hang the loader before fstat() sees it. */
        _cleanup_close_ int fd = vc_path_open(full, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
        if (fd < 0) {
                if (fd == -ENOENT)
                        return 0;
                int r = fd;
                error_file(p, file, "cannot open: %s", strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                error_file(p, file, "cannot stat: %s", strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                if (dropin)
                        return 0;
                error_file(p, file, "not a regular file");
                return -EINVAL;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0)
                (void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        *ret_fd = TAKE_FD(fd);
        return 1;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool is_dropin_name(const char *name) {
        size_t l = strlen(name);
        return name[0] != '.' && l > strlen(".conf") && streq(name + l - strlen(".conf"), ".conf");
}

/* The names of conf.d/ *.conf in byte order; NULL (and 0) when there is no conf.d. */
static int list_dropins(struct parser *p, int dfd, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        _cleanup_free_ char *full = NULL;
        (void) dfd;
        if (asprintf(&full, "%s/" DROPIN_DIR, p->config->dir) < 0)
                return p->oom = -ENOMEM;
        int fd = vc_path_open(full, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0) {
                if (fd == -ENOENT) {
                        *ret = NULL;
                        return 0;
                }
                int r = fd;
                error_file(p, DROPIN_DIR, "cannot open directory: %s", strerror(-r));
                return r;
        }
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return p->oom = -ENOMEM;
        }
        names = calloc(1, sizeof *names);
        if (!names) {
                closedir(d);
                return p->oom = -ENOMEM;
        }
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno > 0) {
                                int r = -errno;
                                closedir(d);
                                error_file(p, DROPIN_DIR, "cannot read directory: %s", strerror(-r));
                                return r;
                        }
                        break;
                }
                if (!is_dropin_name(de->d_name))
                        continue;
                char **v = reallocarray(names, n + 2, sizeof *v);
                if (!v) {
                        closedir(d);
                        return p->oom = -ENOMEM;
                }
                names = v;
                if (!(names[n] = strdup(de->d_name))) {
                        closedir(d);
                        return p->oom = -ENOMEM;
                }
                names[++n] = NULL;
        }
        closedir(d);
        qsort(names, n, sizeof *names, compare_names);
        *ret = TAKE_PTR(names);
        return 0;
}

int vc_config_load(const char *dir, struct vc_config **ret) {
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        _cleanup_strv_free_ char **dropins = NULL;
        _cleanup_close_ int dfd = -1, dropfd = -1;
        struct parser p = {};
        int r;

        if (isempty(dir) || !ret)
                return -EINVAL;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (struct vc_config){
                .release = VC_RELEASE_HOST,
                .protect = true,
                .log_level = LOG_INFO,
        };
        c->dir = strdup(dir);
        if (!c->dir)
                return -ENOMEM;
        p.config = c;

        dfd = vc_path_open(dir, O_RDONLY | O_DIRECTORY | O_PATH, 0);
        if (dfd < 0) {
                if (dfd != -ENOENT) {
                        r = dfd;
                        error_file(&p, dir, "cannot open directory: %s", strerror(-r));
                }
        } else {
                int fd;
                if (open_config_file(&p, dfd, CONFIG_FILE, CONFIG_FILE, false, &fd) > 0)
                        parse_file(&p, fd, CONFIG_FILE);

                _cleanup_free_ char *dropins_dir = NULL;
                if (list_dropins(&p, dfd, &dropins) >= 0 && dropins &&
                    asprintf(&dropins_dir, "%s/" DROPIN_DIR, dir) >= 0) {
                        dropfd = vc_path_open(dropins_dir, O_RDONLY | O_DIRECTORY | O_PATH, 0);
                        for (char **n = dropins; dropfd >= 0 && *n && !p.oom; n++) {
                                _cleanup_free_ char *file = NULL;
                                if (asprintf(&file, DROPIN_DIR "/%s", *n) < 0) {
                                        p.oom = -ENOMEM;
                                        break;
                                }
                                if (open_config_file(&p, dropfd, *n, file, true, &fd) > 0)
                                        parse_file(&p, fd, file);
                        }
                }
        }

        free(p.buf);
        free(p.label);
        device_done(&p.dev);
        usb_done(&p.usb);
        for (size_t i = 0; i < p.n_files; i++)
                free(p.files[i]);
        free(p.files);

        if (p.oom)
                return p.oom;
        r = c->n_errors > 0 ? -EINVAL : 0;
        *ret = TAKE_PTR(c);
        return r;
}

struct vc_config *vc_config_free(struct vc_config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_devices; i++)
                device_done(&c->devices[i]);
        free(c->devices);
        for (size_t i = 0; i < c->n_usbs; i++)
                usb_done(&c->usbs[i]);
        free(c->usbs);
        for (size_t i = 0; i < c->n_errors; i++)
                free(c->errors[i]);
        free(c->errors);
        free(c->dir);
        free(c);
        return NULL;
}

/* ------------------------------------------------------------------ queries */

const struct vc_config_device *vc_config_find_device(const struct vc_config *c, const char *name) {
        if (!c || !name)
                return NULL;
        return find_device(c, name);
}

const struct vc_config_usb *vc_config_find_usb(const struct vc_config *c, const char *name) {
        if (!c || !name)
                return NULL;
        return find_usb(c, name);
}

static bool match_selects(const struct vc_match *m, const struct vc_pci_dev *d) {
        switch (m->kind) {
        case VC_MATCH_ADDRESS:
                return vc_pci_addr_equal(&m->addr, vc_pci_dev_addr(d));
        case VC_MATCH_ID:
                return vc_pci_dev_has_id(d, &m->id);
        }
        return false;
}

const struct vc_config_device *vc_config_match_device(const struct vc_config *c,
                                                      const struct vc_pci_dev *d) {
        if (!c || !d)
                return NULL;
        /* The first entry in file order wins when several select the device. */
        for (size_t i = 0; i < c->n_devices; i++)
                for (size_t j = 0; j < c->devices[i].n_matches; j++)
                        if (match_selects(&c->devices[i].matches[j], d))
                                return &c->devices[i];
        return NULL;
}

unsigned vc_config_device_match_line(const struct vc_config_device *cd, const struct vc_pci_dev *d) {
        for (size_t j = 0; d && j < cd->n_matches; j++)
                if (match_selects(&cd->matches[j], d))
                        return cd->matches[j].line;
        return cd->line;
}

bool vc_config_device_id_ok(const struct vc_config_device *cd, const struct vc_pci_dev *d) {
        if (!cd || !d)
                return false;
        return !cd->has_id || vc_pci_dev_has_id(d, &cd->id);
}

enum vc_release vc_config_device_release(const struct vc_config *c, const struct vc_config_device *cd) {
        if (cd && cd->has_release)
                return cd->release;
        if (cd && cd->boot)
                return VC_RELEASE_KEEP;
        return c ? c->release : VC_RELEASE_HOST;
}

bool vc_config_has_boot_devices(const struct vc_config *c) {
        if (!c)
                return false;
        for (size_t i = 0; i < c->n_devices; i++)
                if (c->devices[i].boot)
                        return true;
        return false;
}

bool vc_config_has_boot_entries(const struct vc_config *c) {
        if (vc_config_has_boot_devices(c))
                return true;
        for (size_t i = 0; c && i < c->n_usbs; i++)
                if (c->usbs[i].boot)
                        return true;
        return false;
}
