/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "json.h"
#include "macro.h"

#define DEPTH_MAX 32

struct vc_json {
        FILE *f;
        int error;
        unsigned depth;
        bool first[DEPTH_MAX];     /* no value written yet at this level */
        bool is_object[DEPTH_MAX];
        bool after_key;
};

struct vc_json *vc_json_new(FILE *f) {
        struct vc_json *j = calloc(1, sizeof *j);
        if (j) {
                j->f = f;
                j->first[0] = true;
        }
        return j;
}

void vc_json_free(struct vc_json *j) { free(j); }

static void indent(struct vc_json *j) {
        fputc('\n', j->f);
        for (unsigned i = 0; i < j->depth; i++)
                fputs("  ", j->f);
}

/* Called before every value and key: separators and indentation. */
static void before_item(struct vc_json *j, bool is_key) {
        if (j->after_key) {
                if (is_key)
                        j->error = -EINVAL;
                j->after_key = false;
                return;
        }
        if (j->depth > 0 && j->is_object[j->depth] && !is_key)
                j->error = -EINVAL; /* a value in an object needs a key */
        if (!j->first[j->depth])
                fputc(',', j->f);
        if (j->depth > 0)
                indent(j);
        j->first[j->depth] = false;
}

static void push(struct vc_json *j, bool object) {
        before_item(j, false);
        fputc(object ? '{' : '[', j->f);
        if (j->depth + 1 >= DEPTH_MAX) {
                j->error = -E2BIG;
                return;
        }
        j->depth++;
        j->first[j->depth] = true;
        j->is_object[j->depth] = object;
}

static void pop(struct vc_json *j, bool object) {
        if (j->depth == 0 || j->is_object[j->depth] != object || j->after_key) {
                j->error = -EINVAL;
                return;
        }
        bool empty = j->first[j->depth];
        j->depth--;
        if (!empty)
                indent(j);
        fputc(object ? '}' : ']', j->f);
}

void vc_json_object_begin(struct vc_json *j) { push(j, true); }
void vc_json_object_end(struct vc_json *j) { pop(j, true); }
void vc_json_array_begin(struct vc_json *j) { push(j, false); }
void vc_json_array_end(struct vc_json *j) { pop(j, false); }

static void write_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                switch (*p) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '\r': fputs("\\r", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
}

void vc_json_key(struct vc_json *j, const char *key) {
        if (j->depth == 0 || !j->is_object[j->depth]) {
                j->error = -EINVAL;
                return;
        }
        before_item(j, true);
        write_string(j->f, key);
        fputs(": ", j->f);
        j->after_key = true;
}

void vc_json_string(struct vc_json *j, const char *s) {
        if (!s) {
                vc_json_null(j);
                return;
        }
        before_item(j, false);
        write_string(j->f, s);
}

void vc_json_int(struct vc_json *j, int64_t v) {
        before_item(j, false);
        fprintf(j->f, "%" PRId64, v);
}

void vc_json_uint(struct vc_json *j, uint64_t v) {
        before_item(j, false);
        fprintf(j->f, "%" PRIu64, v);
}

void vc_json_bool(struct vc_json *j, bool v) {
        before_item(j, false);
        fputs(v ? "true" : "false", j->f);
}

void vc_json_null(struct vc_json *j) {
        before_item(j, false);
        fputs("null", j->f);
}

void vc_json_kv_string(struct vc_json *j, const char *key, const char *s) {
        vc_json_key(j, key);
        vc_json_string(j, s);
}
void vc_json_kv_int(struct vc_json *j, const char *key, int64_t v) {
        vc_json_key(j, key);
        vc_json_int(j, v);
}
void vc_json_kv_uint(struct vc_json *j, const char *key, uint64_t v) {
        vc_json_key(j, key);
        vc_json_uint(j, v);
}
void vc_json_kv_bool(struct vc_json *j, const char *key, bool v) {
        vc_json_key(j, key);
        vc_json_bool(j, v);
}

int vc_json_finish(struct vc_json *j) {
        if (!j)
                return -ENOMEM;
        if (j->depth != 0 || j->after_key)
                j->error = j->error ?: -EINVAL;
        fputc('\n', j->f);
        if (fflush(j->f) != 0 && !j->error)
                j->error = negative_errno();
        return j->error;
}
