/* store_query.c -- one statement on either engine (store_query.h) */
#include "store_query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_internal.h"
#include "store_pg.h"

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
    if (w->s) return sqlite3_column_int64(w->s, col);
    return PQgetisnull(w->r, w->row, col) ? 0 : strtoll(PQgetvalue(w->r, w->row, col), NULL, 10);
}

const char *ms_text(const ms_row *w, int col) {
    if (w->s) return (const char *)sqlite3_column_text(w->s, col);
    return PQgetisnull(w->r, w->row, col) ? NULL : PQgetvalue(w->r, w->row, col);
}

/* Runs one statement: sql on SQLite, pg_sql (NULL: sql) on PostgreSQL,
 * prepared there under name. cb (may be NULL) gets each row until it returns
 * non-zero; *changed (may be NULL) the rows written. */
int ms_run(store *st, const char *name, const char *sql, const char *pg_sql, const ms_args *a,
           ms_row_cb cb, void *ctx, int64_t *changed) {
    static const ms_args none;
    if (!a) a = &none;
    int rc;
    if (store_pg_conn(st)) {
        PGresult *r;
        rc = store_pg_query(st, name, pg_sql ? pg_sql : sql, a->n, a->v, &r);
        if (rc) return rc;
        for (int i = 0; cb && i < PQntuples(r); i++) {
            ms_row w = {NULL, r, i};
            if (cb(&w, ctx)) break;
        }
        if (changed) *changed = strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        return STORE_OK;
    }
    sqlite3 *db = store_sqlite(st);
    sqlite3_stmt *s = NULL;
    if (!db) return STORE_ERROR;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "%s: %s", name, sqlite3_errmsg(db));
        return STORE_ERROR;
    }
    for (int i = 0; i < a->n; i++) {
        char key[16];
        snprintf(key, sizeof key, "$%d", i + 1);
        int at = sqlite3_bind_parameter_index(s, key);
        if (at == 0) continue; /* a parameter this text does not use */
        if (!a->v[i])
            sqlite3_bind_null(s, at);
        else if (a->is_int[i])
            sqlite3_bind_int64(s, at, a->i[i]);
        else
            sqlite3_bind_text(s, at, a->v[i], -1, SQLITE_STATIC);
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ms_row w = {s, NULL, 0};
        if (cb && cb(&w, ctx)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? STORE_OK : store_status(rc);
    if (changed) *changed = sqlite3_changes(db);
    sqlite3_finalize(s);
    return rc;
}

int ms_first_int(const ms_row *w, void *ctx) {
    *(int64_t *)ctx = ms_int(w, 0);
    return 1;
}
