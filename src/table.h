/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Column-aligned text tables for terminal output. */

#include <stddef.h>
#include <stdio.h>

struct table;

struct table *table_new(size_t n_columns, const char *const *headers);
void table_free(struct table *t);
/* Add one cell; rows fill left to right. NULL is shown as "-". */
int table_add(struct table *t, const char *cell);
int table_addf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print; the last column is cut to @width when @width > 0 (a terminal's width). */
void table_print(const struct table *t, FILE *f, size_t width);
