/* store_query.h -- one statement on either engine, for sql/'s modules whose
 * statements are off the hot path (account.c, moderation_store.c,
 * webhook_store.c, retention.c's settings): written once in the SQL both
 * engines read ($n parameters, "user" quoted, no casts), or as a pair when
 * they differ. The backend runs it (store_ops.query): SQLite prepares each
 * per call, PostgreSQL once per connection (and reconnects). */
#ifndef STORE_QUERY_H
#define STORE_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define MS_ARGS_MAX 12

/* Parameters $1..$n: text, integer or NULL. */
typedef struct ms_args {
    const char *v[MS_ARGS_MAX]; /* text (PostgreSQL takes every one as text) */
    char buf[MS_ARGS_MAX][24];
    bool is_int[MS_ARGS_MAX];
    int64_t i[MS_ARGS_MAX];
    int n;
} ms_args;

/* Appends a text (NULL: SQL NULL) or an integer parameter. */
void ms_s(ms_args *a, const char *s);
void ms_i(ms_args *a, int64_t x);

/* A result row of either engine: the backend that runs the statement fills
 * it and reads its columns. */
typedef struct ms_row {
    int64_t (*int_at)(const struct ms_row *w, int col);
    const char *(*text_at)(const struct ms_row *w, int col);
    void *res; /* the backend's statement or result, borrowed */
    int row;   /* the row in res, when res holds them all */
} ms_row;

/* Column col of the row: an integer (NULL reads 0), or text (NULL stays
 * NULL; valid during the row callback only). */
int64_t ms_int(const ms_row *w, int col);
const char *ms_text(const ms_row *w, int col);

typedef int (*ms_row_cb)(const ms_row *w, void *ctx);

/* Runs one statement: sql on SQLite, pg_sql (NULL: sql) on PostgreSQL,
 * prepared there under name (a string that lives as long as st; one name,
 * one text). cb (may be NULL) gets each row until it returns non-zero;
 * *changed (may be NULL) the rows written. Returns a STORE_ status. */
int ms_run(store *st, const char *name, const char *sql, const char *pg_sql, const ms_args *a,
           ms_row_cb cb, void *ctx, int64_t *changed);

/* A row callback storing column 0 as an integer in *(int64_t *)ctx. */
int ms_first_int(const ms_row *w, void *ctx);

#endif
