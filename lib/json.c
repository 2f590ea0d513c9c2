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

/* The stream is written with the *_unlocked calls: a vc_json is written by one thread, and
 * taking the stream's lock once per character was most of list --json's own CPU at 4,096
 * devices (docs/PERFORMANCE.md). Plain runs go out in one fwrite. */
static void put(struct vc_json *j, const char *s, size_t n) { fwrite_unlocked(s, 1, n, j->f); }

static void indent(struct vc_json *j) {
        static const char spaces[] = "\n                                                                ";
        _Static_assert(sizeof spaces >= 2 * DEPTH_MAX, "one newline and two spaces per level");
        size_t n = 1 + 2 * (size_t) j->depth;
        put(j, spaces, n);
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
                fputc_unlocked(',', j->f);
        if (j->depth > 0)
                indent(j);
        j->first[j->depth] = false;
}

static void push(struct vc_json *j, bool object) {
        before_item(j, false);
        fputc_unlocked(object ? '{' : '[', j->f);
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
        fputc_unlocked(object ? '}' : ']', j->f);
}

void vc_json_object_begin(struct vc_json *j) { push(j, true); }
void vc_json_object_end(struct vc_json *j) { pop(j, true); }
void vc_json_array_begin(struct vc_json *j) { push(j, false); }
void vc_json_array_end(struct vc_json *j) { pop(j, false); }

static void write_string(struct vc_json *j, const char *s) {
        const unsigned char *run = (const unsigned char *) s, *p = run;
        fputc_unlocked('"', j->f);
        for (;; p++) {
                unsigned char c = *p;
                if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
                        continue;
                put(j, (const char *) run, (size_t) (p - run));
                run = p + 1;
                switch (c) {
                case '\0': fputc_unlocked('"', j->f); return;
                case '"': put(j, "\\\"", 2); break;
                case '\\': put(j, "\\\\", 2); break;
                case '\n': put(j, "\\n", 2); break;
                case '\t': put(j, "\\t", 2); break;
                case '\r': put(j, "\\r", 2); break;
                default: fprintf(j->f, "\\u%04x", c);
                }
        }
}

void vc_json_key(struct vc_json *j, const char *key) {
        if (j->depth == 0 || !j->is_object[j->depth]) {
                j->error = -EINVAL;
                return;
        }
        before_item(j, true);
        write_string(j, key);
        put(j, ": ", 2);
        j->after_key = true;
}

void vc_json_string(struct vc_json *j, const char *s) {
        if (!s) {
                vc_json_null(j);
                return;
        }
        before_item(j, false);
        write_string(j, s);
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
        if (v)
                put(j, "true", 4);
        else
                put(j, "false", 5);
}

void vc_json_null(struct vc_json *j) {
        before_item(j, false);
        put(j, "null", 4);
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
