/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "name.h"
#include "table.h"

#define TABLE_MAX_COLUMNS 32
#define LAST_COLUMN_MIN 12

struct table {
        size_t n_columns;
        unsigned drop_rank[TABLE_MAX_COLUMNS];
        char **cells;
        size_t n_cells, alloc;
};

struct table *table_new(size_t n_columns, const char *const *headers) {
        struct table *t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        assert(n_columns > 0 && n_columns <= TABLE_MAX_COLUMNS);
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
        /* a cell is one line of text whatever it holds (a USB device's strings, a VM's name):
         * control characters and bytes that are not UTF-8 are shown as '?' */
        char *s = vc_text_printable(cell ? cell : "-");
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

void table_set_drop_rank(struct table *t, size_t column, unsigned rank) {
        if (column < t->n_columns)
                t->drop_rank[column] = rank;
}

/* The width of the row with columns @shown, the last one at full width. */
static size_t row_width(const struct table *t, const size_t *w, const bool *shown) {
        size_t used = 0, n = 0;
        for (size_t c = 0; c < t->n_columns; c++)
                if (shown[c]) {
                        used += w[c];
                        n++;
                }
        return n ? used + 2 * (n - 1) : 0;
}

/* At most @max bytes of @s, not cutting a UTF-8 sequence in two. */
static size_t utf8_prefix(const char *s, size_t max) {
        size_t l = strlen(s);
        if (l <= max)
                return l;
        while (max > 0 && ((unsigned char) s[max] & 0xc0) == 0x80)
                max--;
        return max;
}

void table_print(const struct table *t, FILE *f, size_t width) {
        size_t w[TABLE_MAX_COLUMNS] = {};
        bool shown[TABLE_MAX_COLUMNS];
        size_t nc = t->n_columns;

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t l = strlen(t->cells[i]);
                if (l > w[i % nc])
                        w[i % nc] = l;
        }
        for (size_t c = 0; c < nc; c++)
                shown[c] = true;

        size_t last = nc - 1;
        if (width > 0)
                /* Drop columns, highest rank first, until the last one keeps LAST_COLUMN_MIN
                 * characters (or is complete). */
                for (;;) {
                        size_t need = row_width(t, w, shown);
                        size_t min_last = w[last] < LAST_COLUMN_MIN ? w[last] : LAST_COLUMN_MIN;
                        if (need <= width || need - w[last] + min_last <= width)
                                break;
                        size_t drop = SIZE_MAX;
                        for (size_t c = 0; c < nc; c++)
                                if (shown[c] && t->drop_rank[c] > 0 &&
                                    (drop == SIZE_MAX || t->drop_rank[c] > t->drop_rank[drop]))
                                        drop = c;
                        if (drop == SIZE_MAX)
                                break; /* nothing more to drop: the line is cut below */
                        shown[drop] = false;
                        if (drop == last) /* the last column went: the one before it is last now */
                                while (last > 0 && !shown[last])
                                        last--;
                }

        size_t room = SIZE_MAX; /* what the last shown column may take */
        if (width > 0) {
                size_t before = row_width(t, w, shown) - w[last];
                room = width > before ? width - before : 0;
        }
        for (size_t row = 0; row < t->n_cells / nc; row++) {
                char line[4096];
                size_t len = 0;
                for (size_t c = 0; c <= last && len < sizeof line; c++) {
                        if (!shown[c])
                                continue;
                        const char *cell = t->cells[row * nc + c];
                        int n;
                        if (c != last)
                                n = snprintf(line + len, sizeof line - len, "%-*s  ", (int) w[c], cell);
                        else if (strlen(cell) <= room)
                                n = snprintf(line + len, sizeof line - len, "%s", cell);
                        else if (room > 3)
                                n = snprintf(line + len, sizeof line - len, "%.*s...",
                                             (int) utf8_prefix(cell, room - 3), cell);
                        else
                                n = snprintf(line + len, sizeof line - len, "%.*s", (int) utf8_prefix(cell, room), cell);
                        len += n > 0 ? (size_t) n : 0;
                }
                if (len >= sizeof line)
                        len = sizeof line - 1;
                /* The columns that cannot be dropped may not fit either: cut the line. */
                line[len] = '\0';
                if (width > 0 && len > width)
                        len = utf8_prefix(line, width);
                while (len > 0 && line[len - 1] == ' ') /* no trailing blanks */
                        len--;
                fprintf(f, "%.*s\n", (int) len, line);
        }
}
