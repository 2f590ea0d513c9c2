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
/* Make column @column droppable when the table does not fit: columns with a higher @rank go
 * first; 0 (the default) keeps the column always. */
void table_set_drop_rank(struct table *t, size_t column, unsigned rank);
/* Print. With @width > 0 (a terminal's width) no line is longer than @width: droppable columns
 * are left out, highest rank first, until the rest fits with at least 12 characters of the last
 * column, which is then cut to fit ("..." marks a cut). @width 0: everything, full width. */
void table_print(const struct table *t, FILE *f, size_t width);
