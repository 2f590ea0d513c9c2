/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmdline.h"
#include "fileio.h"
#include "macro.h"

/* White space as the kernel's ctype table has it: the C locale's, and 0xa0. */
static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || (unsigned char) c == 0xa0;
}

/* The word at *p (not white space), as the kernel's parameter parser takes it: returns "name" or
 * "name=value" with the quotes removed that the kernel removes (cmdline.h), and moves *p past
 * the word. NULL when out of memory. */
static char *next_word(const char **p) {
        const char *s = *p;
        bool quoted = false, in_quote = false;
        if (*s == '"') {
                s++;
                quoted = in_quote = true;
        }
        /* The first '=' after the word's first character ends the name. */
        size_t n = 0, equals = 0;
        for (; s[n] && (in_quote || !is_space(s[n])); n++) {
                if (equals == 0 && n > 0 && s[n] == '=')
                        equals = n;
                if (s[n] == '"')
                        in_quote = !in_quote;
        }
        *p = s + n;

        /* A value that opens with a quote starts after it; a closing quote at the word's end goes
         * when the value or the word opened with one. */
        size_t value = equals + 1, end = n;
        bool value_quoted = equals > 0 && value < n && s[value] == '"';
        if (value_quoted)
                value++;
        if ((value_quoted || quoted) && n > 0 && s[n - 1] == '"')
                end = n - 1;

        char *w;
        if (equals == 0)
                w = strndup(s, end);
        else if (asprintf(&w, "%.*s=%.*s", (int) equals, s, (int) (value < end ? end - value : 0), s + value) < 0)
                w = NULL;
        return w;
}

static int split(const char *text, bool stop_at_dashes, char ***ret) {
        size_t n = 0, alloc = 8;
        char **v = calloc(alloc + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (const char *p = text ? text : "";;) {
                while (is_space(*p))
                        p++;
                if (!*p)
                        break;
                char *w = next_word(&p);
                if (!w)
                        goto oom;
                if (stop_at_dashes && streq(w, "--")) {
                        free(w);
                        break;
                }
                if (n == alloc) {
                        char **nv = realloc(v, (alloc * 2 + 1) * sizeof *v);
                        if (!nv) {
                                free(w);
                                goto oom;
                        }
                        v = nv;
                        alloc *= 2;
                }
                v[n++] = w;
                v[n] = NULL;
        }
        *ret = v;
        return 0;
oom:
        strv_free(v);
        return -ENOMEM;
}

int vc_cmdline_split(const char *text, char ***ret_words) { return split(text, false, ret_words); }

int vc_cmdline_parse(const char *text, char ***ret_params) { return split(text, true, ret_params); }

int vc_cmdline_read(struct vc_ctx *ctx, char ***ret_params) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        *ret_params = NULL;
        r = vc_ctx_path(ctx, VC_PLACE_PROC, &path, "cmdline");
        if (r < 0)
                return r;
        r = vc_read_file(path, &text);
        if (r < 0)
                return r;
        return vc_cmdline_parse(text, ret_params);
}

bool vc_cmdline_name_equal(const char *name, size_t len, const char *want) {
        if (strlen(want) != len)
                return false;
        for (size_t i = 0; i < len; i++) {
                char a = name[i] == '-' ? '_' : name[i], b = want[i] == '-' ? '_' : want[i];
                if (a != b)
                        return false;
        }
        return true;
}

const char *vc_cmdline_get(char *const *words, const char *name) {
        const char *found = NULL;
        for (char *const *w = words; w && *w; w++) {
                /* As next_word() reads it: the first '=' after the first character. */
                const char *eq = **w ? strchr(*w + 1, '=') : NULL;
                size_t len = eq ? (size_t) (eq - *w) : strlen(*w);
                if (vc_cmdline_name_equal(*w, len, name))
                        found = eq ? eq + 1 : "";
        }
        return found;
}

bool vc_cmdline_get_bool(char *const *words, const char *name, bool absent) {
        static const char *const off[] = { "0", "no", "off", "false" };
        const char *v = vc_cmdline_get(words, name);
        if (!v)
                return absent;
        for (size_t i = 0; i < ELEMENTSOF(off); i++)
                if (strcasecmp(v, off[i]) == 0)
                        return false;
        return true;
}

bool vc_option_list_has(const char *value, const char *item) {
        size_t il = strlen(item);
        for (const char *p = value; p && *p;) {
                size_t l = strcspn(p, ",");
                if (l == il && strncmp(p, item, il) == 0)
                        return true;
                p += l;
                p += *p == ',';
        }
        return false;
}
