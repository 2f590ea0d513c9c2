/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "table.h"

struct table {
        size_t n_columns;
        char **cells;
        size_t n_cells, alloc;
};

struct table *table_new(size_t n_columns, const char *const *headers) {
        struct table *t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        for (size_t i = 0; i < n_columns; i++)
                if (table_add(t, headers[i]) < 0) {
                        table_free(t);
                        return NULL;
                }
        return t;
}

void table_free(struct table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}

int table_add(struct table *t, const char *cell) {
        if (t->n_cells == t->alloc) {
                size_t n = t->alloc ? t->alloc * 2 : 64;
                char **c = realloc(t->cells, n * sizeof *c);
                if (!c)
                        return -ENOMEM;
                t->cells = c;
                t->alloc = n;
        }
        char *s = strdup(cell ? cell : "-");
        if (!s)
                return -ENOMEM;
        t->cells[t->n_cells++] = s;
        return 0;
}

int table_addf(struct table *t, const char *fmt, ...) {
        char *s;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = table_add(t, s);
        free(s);
        return r;
}

void table_print(const struct table *t, FILE *f, size_t width) {
        size_t w[32] = {};
        size_t nc = t->n_columns < ELEMENTSOF(w) ? t->n_columns : ELEMENTSOF(w);

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t l = strlen(t->cells[i]);
                if (l > w[i % t->n_columns])
                        w[i % t->n_columns] = l;
        }
        size_t used = 0;
        for (size_t c = 0; c + 1 < nc; c++)
                used += w[c] + 2;
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t c = i % t->n_columns;
                if (c + 1 < nc)
                        fprintf(f, "%-*s  ", (int) w[c], t->cells[i]);
                else {
                        int max = width > used + 8 ? (int) (width - used) : (int) strlen(t->cells[i]);
                        /* no trailing blanks: the last column is printed as is, maybe cut */
                        fprintf(f, "%.*s\n", max, t->cells[i]);
                }
        }
}
