/* store_query.c -- one statement on either engine (store_query.h); the
 * backends run it (store_ops.query) */
#include "store_query.h"

#include <inttypes.h>
#include <stdio.h>

#include "store_internal.h"

void ms_s(ms_args *a, const char *s) {
    a->v[a->n++] = s;
}

void ms_i(ms_args *a, int64_t x) {
    snprintf(a->buf[a->n], sizeof a->buf[a->n], "%" PRId64, x);
    a->v[a->n] = a->buf[a->n];
    a->is_int[a->n] = true;
    a->i[a->n++] = x;
}

int64_t ms_int(const ms_row *w, int col) {
    return w->int_at(w, col);
}

const char *ms_text(const ms_row *w, int col) {
    return w->text_at(w, col);
}

int ms_run(store *st, const char *name, const char *sql, const char *pg_sql, const ms_args *a,
           ms_row_cb cb, void *ctx, int64_t *changed) {
    static const ms_args none;
    return st->ops->query(st, name, sql, pg_sql ? pg_sql : sql, a ? a : &none, cb, ctx, changed);
}

int ms_first_int(const ms_row *w, void *ctx) {
    *(int64_t *)ctx = ms_int(w, 0);
    return 1;
}
