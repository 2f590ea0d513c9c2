/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "macro.h"
#include "name.h"

#define DEPTH_MAX 32

struct vc_json {
        FILE *f;
        int error;
        unsigned depth;
        bool first[DEPTH_MAX];     /* no value written yet at this level */
        bool is_object[DEPTH_MAX];
        bool after_key;
        size_t len;                /* bytes in buf not yet handed to f */
        char buf[16384];
};

struct vc_json *vc_json_new(FILE *f) {
        struct vc_json *j = calloc(1, sizeof *j);
        if (j) {
                j->f = f;
                j->first[0] = true;
        }
        return j;
}

/* The document is gathered in the object's own buffer and handed to the stream when the buffer
 * is full, at vc_json_finish() and at vc_json_free(): a call into stdio per token (its lock at
 * first, then fwrite_unlocked's own work) was most of list --json's own CPU at 4,096 devices
 * (docs/PERFORMANCE.md). */
static void hand_over(struct vc_json *j) {
        if (j->len > 0)
                fwrite_unlocked(j->buf, 1, j->len, j->f);
        j->len = 0;
}

void vc_json_free(struct vc_json *j) {
        if (j)
                hand_over(j); /* a document left unfinished goes out as far as it got, as before */
        free(j);
}

static void put(struct vc_json *j, const char *s, size_t n) {
        if (n > sizeof j->buf - j->len) {
                hand_over(j);
                if (n > sizeof j->buf) {
                        fwrite_unlocked(s, 1, n, j->f);
                        return;
                }
        }
        memcpy(j->buf + j->len, s, n);
        j->len += n;
}

static void put_char(struct vc_json *j, char c) {
        if (j->len == sizeof j->buf)
                hand_over(j);
        j->buf[j->len++] = c;
}

static void put_u64(struct vc_json *j, bool negative, uint64_t v) {
        char digits[24];
        size_t i = sizeof digits;
        do
                digits[--i] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        if (negative)
                digits[--i] = '-';
        put(j, digits + i, sizeof digits - i);
}

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
                put_char(j, ',');
        if (j->depth > 0)
                indent(j);
        j->first[j->depth] = false;
}

static void push(struct vc_json *j, bool object) {
        before_item(j, false);
        put_char(j, object ? '{' : '[');
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
        put_char(j, object ? '}' : ']');
}

void vc_json_object_begin(struct vc_json *j) { push(j, true); }
void vc_json_object_end(struct vc_json *j) { pop(j, true); }
void vc_json_array_begin(struct vc_json *j) { push(j, false); }
void vc_json_array_end(struct vc_json *j) { pop(j, false); }

/* 1: the byte goes out as it is; 0: it is escaped (control characters, DEL, '"' and '\\') or
 * looked at as the start of a UTF-8 character (bytes from 0x80: JSON text is UTF-8, RFC 8259).
 * A table: one load a byte to find the end of a run (docs/PERFORMANCE.md, "Scale"). */
static const unsigned char plain_byte[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x00 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
        1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x20 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x30 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x40 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,  /* 0x50 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x60 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,  /* 0x70 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x80 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x90 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xa0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xb0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xc0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xd0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xe0 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xf0 */
};

static void write_string(struct vc_json *j, const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        put_char(j, '"');
        for (;;) {
                const unsigned char *run = p;
                while (plain_byte[*p])
                        p++;
                put(j, (const char *) run, (size_t) (p - run));
                unsigned char c = *p++;
                switch (c) {
                case '\0': put_char(j, '"'); return;
                case '"': put(j, "\\\"", 2); break;
                case '\\': put(j, "\\\\", 2); break;
                case '\n': put(j, "\\n", 2); break;
                case '\t': put(j, "\\t", 2); break;
                case '\r': put(j, "\\r", 2); break;
                default: {
                        static const char hex[] = "0123456789abcdef";
                        uint32_t cp = c;
                        int n = c < 0x80 ? 1 : vc_utf8_char((const char *) p - 1, &cp);
                        if (n < 0) { /* not UTF-8 (an old record, a device's string): one U+FFFD a byte */
                                put(j, "\\ufffd", 6);
                                break;
                        }
                        if (cp >= 0xa0) { /* a character: as it is */
                                put(j, (const char *) p - 1, (size_t) n);
                                p += n - 1;
                                break;
                        }
                        p += n - 1; /* a control character, C0, DEL or C1: escaped */
                        char u[6] = { '\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 0xf] };
                        put(j, u, sizeof u);
                }
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
        put_u64(j, v < 0, v < 0 ? (uint64_t) -(v + 1) + 1 : (uint64_t) v);
}

void vc_json_uint(struct vc_json *j, uint64_t v) {
        before_item(j, false);
        put_u64(j, false, v);
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
        put_char(j, '\n');
        hand_over(j);
        if ((fflush(j->f) != 0 || ferror(j->f)) && !j->error)
                j->error = negative_errno();
        return j->error;
}
