/* retention_pg.c -- retention settings and pruning on the PostgreSQL backend:
 * the same steps as retention.c's SQLite ones, through store_pg_query's
 * prepared statements. PostgreSQL's autovacuum gives space back, so a step
 * returns no pages. */
#include "retention_pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* Statement names (prepared once per connection by store_pg_query). */
#define RPG(name) "retention_" name

static const char SQL_DEF_GET[] =
    "SELECT COALESCE((SELECT value FROM config WHERE key = 'retention_days'), 90),"
    " COALESCE((SELECT value FROM config WHERE key = 'retention_max_messages'), 0)";
static const char SQL_DEF_SET[] =
    "INSERT INTO config (key, value) VALUES ('retention_days', $1::bigint),"
    " ('retention_max_messages', $2::bigint)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char SQL_WS_GET[] =
    "SELECT COALESCE(retention_days, -1), COALESCE(retention_max_messages, -1)"
    " FROM workspaces WHERE namespace = $1";
static const char SQL_WS_SET[] =
    "INSERT INTO workspaces (namespace, private, created_at, retention_days,"
    " retention_max_messages) VALUES ($1, 0, $2, $3, $4)"
    " ON CONFLICT (namespace) DO UPDATE SET retention_days = excluded.retention_days,"
    " retention_max_messages = excluded.retention_max_messages";
static const char SQL_NEXT_ROOM[] =
    "SELECT id, namespace FROM rooms WHERE id > $1 ORDER BY id LIMIT 1";
static const char SQL_SPAN[] = "SELECT (SELECT MIN(id) FROM messages WHERE room_id = $1),"
                               " (SELECT MAX(id) FROM messages WHERE room_id = $1)";
static const char SQL_NTH_NEWEST[] =
    "SELECT id FROM messages WHERE room_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2";
static const char SQL_OLDEST[] =
    "SELECT id, ts FROM messages WHERE room_id = $1 ORDER BY id LIMIT $2";
static const char SQL_DELETE[] = "DELETE FROM messages WHERE room_id = $1 AND id <= $2";
static const char SQL_MARK[] =
    "UPDATE rooms SET pruned_upto = GREATEST(pruned_upto, $2) WHERE id = $1";
static const char SQL_SESSIONS[] = "DELETE FROM sessions WHERE pid IN"
                                   " (SELECT pid FROM sessions WHERE updated_at <= $1 LIMIT $2)";
static const char SQL_CONTROL[] = "DELETE FROM control WHERE id IN"
                                  " (SELECT id FROM control WHERE ts <= $1 ORDER BY id LIMIT $2)";

typedef struct rpg_args {
    const char *v[4];
    char buf[4][24];
    int n;
} rpg_args;

static void rpg_i(rpg_args *a, int64_t x) {
    snprintf(a->buf[a->n], sizeof a->buf[a->n], "%" PRId64, x);
    a->v[a->n] = a->buf[a->n];
    a->n++;
}

static int64_t rpg_int(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* One row of two integers; STORE_NOTFOUND for none. */
static int rpg_two(store *st, const char *name, const char *sql, const rpg_args *a, int64_t *x,
                   int64_t *y) {
    PGresult *r;
    int rc = store_pg_query(st, name, sql, a->n, a->v, &r);
    if (rc) return rc;
    if (PQntuples(r) < 1) {
        rc = STORE_NOTFOUND;
    } else {
        *x = rpg_int(r, 0, 0);
        if (y) *y = rpg_int(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

/* A statement whose rows are not read; *n (may be NULL) the rows written. */
static int rpg_do(store *st, const char *name, const char *sql, const rpg_args *a, int *n) {
    PGresult *r;
    int rc = store_pg_query(st, name, sql, a->n, a->v, &r);
    if (rc == STORE_OK && n) *n = atoi(PQcmdTuples(r));
    PQclear(r);
    return rc;
}

int retention_pg_defaults_get(store *st, retention_policy *out) {
    rpg_args a = {0};
    return rpg_two(st, RPG("def_get"), SQL_DEF_GET, &a, &out->days, &out->max_messages);
}

int retention_pg_defaults_set(store *st, const retention_policy *p) {
    rpg_args a = {0};
    rpg_i(&a, p->days);
    rpg_i(&a, p->max_messages);
    return rpg_do(st, RPG("def_set"), SQL_DEF_SET, &a, NULL);
}

int retention_pg_own(store *st, const char *ns, retention_policy *out) {
    rpg_args a = {.v = {ns}, .n = 1};
    int rc = rpg_two(st, RPG("ws_get"), SQL_WS_GET, &a, &out->days, &out->max_messages);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int retention_pg_set(store *st, const char *ns, const retention_policy *p) {
    rpg_args a = {.v = {ns}, .n = 1};
    rpg_i(&a, store_now_ms());
    rpg_i(&a, p->days);
    rpg_i(&a, p->max_messages);
    if (p->days == RETENTION_INHERIT) a.v[2] = NULL; /* NULL: the default */
    if (p->max_messages == RETENTION_INHERIT) a.v[3] = NULL;
    return rpg_do(st, RPG("ws_set"), SQL_WS_SET, &a, NULL);
}

int retention_pg_next_room(store *st, int64_t after, int64_t *room_id, char *ns, size_t nslen) {
    rpg_args a = {0};
    rpg_i(&a, after);
    PGresult *r;
    int rc = store_pg_query(st, RPG("next_room"), SQL_NEXT_ROOM, a.n, a.v, &r);
    if (rc) return rc;
    *room_id = 0;
    if (PQntuples(r) > 0) {
        *room_id = rpg_int(r, 0, 0);
        snprintf(ns, nslen, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return STORE_OK;
}

/* The lowest id room_id keeps under a count limit of max, or 0 when it holds
 * no more than max (as retention.c's count_boundary). */
static int rpg_boundary(store *st, int64_t room_id, int64_t max, int64_t *keep_from) {
    rpg_args a = {0};
    rpg_i(&a, room_id);
    int64_t lo = 0, hi = 0;
    *keep_from = 0;
    int rc = rpg_two(st, RPG("span"), SQL_SPAN, &a, &lo, &hi);
    if (rc || hi - lo + 1 <= max) return rc;
    rpg_i(&a, max - 1);
    rc = rpg_two(st, RPG("nth_newest"), SQL_NTH_NEWEST, &a, keep_from, NULL);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int retention_pg_prune_room(store *st, int64_t room_id, const retention_policy *p, int64_t now_ms,
                            int batch, int *deleted) {
    *deleted = 0;
    int rc = store_begin(st);
    if (rc) return rc;
    int64_t keep_from = 0, last = 0;
    if (p->max_messages > 0) rc = rpg_boundary(st, room_id, p->max_messages, &keep_from);
    int64_t cutoff = p->days > 0 ? now_ms - p->days * RETENTION_DAY_MS : INT64_MIN;
    int n = 0;
    if (rc == STORE_OK) {
        rpg_args a = {0};
        rpg_i(&a, room_id);
        rpg_i(&a, batch);
        PGresult *r;
        rc = store_pg_query(st, RPG("oldest"), SQL_OLDEST, a.n, a.v, &r);
        /* Ids and timestamps grow together: stop at the first message kept. */
        for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
            int64_t id = rpg_int(r, i, 0), ts = rpg_int(r, i, 1);
            if (!(id < keep_from || ts < cutoff)) break;
            last = id;
            n++;
        }
        PQclear(r);
    }
    rpg_args a = {0};
    rpg_i(&a, room_id);
    rpg_i(&a, last);
    if (rc == STORE_OK && n > 0) rc = rpg_do(st, RPG("delete"), SQL_DELETE, &a, NULL);
    if (rc == STORE_OK && n > 0) rc = rpg_do(st, RPG("mark"), SQL_MARK, &a, NULL);
    if (rc == STORE_OK) rc = store_commit(st);
    if (rc) {
        store_rollback(st);
        return rc;
    }
    *deleted = n;
    return STORE_OK;
}

int retention_pg_prune_rows(store *st, bool control, int64_t older_than, int batch, int *n) {
    rpg_args a = {0};
    rpg_i(&a, older_than);
    rpg_i(&a, batch);
    *n = 0;
    return control ? rpg_do(st, RPG("control"), SQL_CONTROL, &a, n)
                   : rpg_do(st, RPG("sessions"), SQL_SESSIONS, &a, n);
}
