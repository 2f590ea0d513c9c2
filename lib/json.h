/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small streaming JSON writer for --json output: correct escaping, commas and nesting, two-space
 * indentation. Errors are sticky: vc_json_finish() reports the first one. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct vc_json;

struct vc_json *vc_json_new(FILE *f);
/* Writes the final newline; returns 0 or the first error (-EINVAL for unbalanced nesting). */
int vc_json_finish(struct vc_json *j);
void vc_json_free(struct vc_json *j);

void vc_json_object_begin(struct vc_json *j);
void vc_json_object_end(struct vc_json *j);
void vc_json_array_begin(struct vc_json *j);
void vc_json_array_end(struct vc_json *j);
/* Inside an object, every value is preceded by its key. */
void vc_json_key(struct vc_json *j, const char *key);
void vc_json_string(struct vc_json *j, const char *s); /* NULL writes null */
void vc_json_int(struct vc_json *j, int64_t v);
void vc_json_uint(struct vc_json *j, uint64_t v);
void vc_json_bool(struct vc_json *j, bool v);
void vc_json_null(struct vc_json *j);

/* Shorthands for "key": value. */
void vc_json_kv_string(struct vc_json *j, const char *key, const char *s);
void vc_json_kv_int(struct vc_json *j, const char *key, int64_t v);
void vc_json_kv_uint(struct vc_json *j, const char *key, uint64_t v);
void vc_json_kv_bool(struct vc_json *j, const char *key, bool v);
