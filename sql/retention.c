/* retention.c -- retention settings and the pruner that deletes, in small steps, what they no
 * longer keep. The statements here are SQLite's; on PostgreSQL each step goes
 * to retention_pg.c. */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retention_pg.h"
#include "store_internal.h"
#include "store_pg.h"

#define DAY_MS RETENTION_DAY_MS

enum retention_stmt {
    R_DEF_GET,
    R_DEF_SET,
    R_WS_GET,
    R_WS_SET,
    R_NEXT_ROOM,
    R_SPAN,
    R_NTH_NEWEST,
    R_OLDEST,
    R_DELETE,
    R_MARK,
    R_SESSIONS,
    R_CONTROL,
    R_FREELIST,
    R_VACUUM,
    R_COUNT
};

static const char *const retention_sql[R_COUNT] = {
    [R_DEF_GET] = "SELECT COALESCE((SELECT value FROM config WHERE key = 'retention_days'), 90),"
                  " COALESCE((SELECT value FROM config WHERE key = 'retention_max_messages'), 0)",
    [R_DEF_SET] = "INSERT INTO config (key, value) VALUES ('retention_days', ?1),"
                  " ('retention_max_messages', ?2)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [R_WS_GET] = "SELECT COALESCE(retention_days, -1), COALESCE(retention_max_messages, -1)"
                 " FROM workspaces WHERE namespace = ?1",
    [R_WS_SET] = "INSERT INTO workspaces (namespace, private, created_at, retention_days,"
                 " retention_max_messages) VALUES (?1, 0, ?2, ?3, ?4)"
                 " ON CONFLICT (namespace) DO UPDATE SET retention_days = excluded.retention_days,"
                 " retention_max_messages = excluded.retention_max_messages",
    [R_NEXT_ROOM] = "SELECT id, namespace FROM rooms WHERE id > ?1 ORDER BY id LIMIT 1",
    /* two subqueries: each is one index probe, MIN and MAX side by side scan */
    [R_SPAN] = "SELECT (SELECT MIN(id) FROM messages WHERE room_id = ?1),"
               " (SELECT MAX(id) FROM messages WHERE room_id = ?1)",
    [R_NTH_NEWEST] =
        "SELECT id FROM messages WHERE room_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
    [R_OLDEST] = "SELECT id, ts FROM messages WHERE room_id = ?1 ORDER BY id LIMIT ?2",
    [R_DELETE] = "DELETE FROM messages WHERE room_id = ?1 AND id <= ?2",
    [R_MARK] = "UPDATE rooms SET pruned_upto = MAX(pruned_upto, ?2) WHERE id = ?1",
    [R_SESSIONS] = "DELETE FROM sessions WHERE pid IN"
                   " (SELECT pid FROM sessions WHERE updated_at <= ?1 LIMIT ?2)",
    [R_CONTROL] = "DELETE FROM control WHERE id IN"
                  " (SELECT id FROM control WHERE ts <= ?1 ORDER BY id LIMIT ?2)",
    [R_FREELIST] = "PRAGMA freelist_count",
    [R_VACUUM] = NULL, /* made in retention_new: a pragma takes no parameter */
};

struct retention {
    store *st;   /* borrowed */
    sqlite3 *db; /* NULL on PostgreSQL: no statements here */
    sqlite3_stmt *stmt[R_COUNT];
    retention_config cfg;
    int64_t after; /* the next step looks at the first room with a greater id */
};

/* Prepares a statement of the retention module on st's connection, for the
 * one-off calls that have no pruner. The caller finalizes it. */
static sqlite3_stmt *retention_prepare(store *st, enum retention_stmt id) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(store_sqlite(st), retention_sql[id], -1, &s, NULL) != SQLITE_OK)
        return NULL;
    return s;
}

/* Steps s for one row of two integers; finalizes it. */
static int retention_two_ints(sqlite3_stmt *s, int64_t *a, int64_t *b) {
    if (!s) return STORE_ERROR;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(s, 0);
        *b = sqlite3_column_int64(s, 1);
        rc = STORE_OK;
    } else {
        rc = rc == SQLITE_DONE ? STORE_NOTFOUND : store_status(rc);
    }
    sqlite3_finalize(s);
    return rc;
}

static int retention_run(sqlite3_stmt *s) {
    if (!s) return STORE_ERROR;
    int rc = store_status(sqlite3_step(s));
    sqlite3_finalize(s);
    return rc;
}

static int retention_valid(const retention_policy *p, bool inherit_ok) {
    int64_t low = inherit_ok ? RETENTION_INHERIT : 0;
    return p->days >= low && p->days <= CONTRACT_RETENTION_DAYS_MAX && p->max_messages >= low &&
           p->max_messages <= CONTRACT_RETENTION_MESSAGES_MAX;
}

int retention_defaults_get(store *st, retention_policy *out) {
    if (store_pg_conn(st)) return retention_pg_defaults_get(st, out);
    return retention_two_ints(retention_prepare(st, R_DEF_GET), &out->days, &out->max_messages);
}

int retention_defaults_set(store *st, const retention_policy *p) {
    if (!retention_valid(p, false)) return STORE_INVALID;
    if (store_pg_conn(st)) return retention_pg_defaults_set(st, p);
    sqlite3_stmt *s = retention_prepare(st, R_DEF_SET);
    if (s) {
        sqlite3_bind_int64(s, 1, p->days);
        sqlite3_bind_int64(s, 2, p->max_messages);
    }
    return retention_run(s);
}

int retention_own(store *st, const char *ns, retention_policy *out) {
    out->days = out->max_messages = RETENTION_INHERIT;
    if (store_pg_conn(st)) return retention_pg_own(st, ns, out);
    sqlite3_stmt *s = retention_prepare(st, R_WS_GET);
    if (s) sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    int rc = retention_two_ints(s, &out->days, &out->max_messages);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int retention_get(store *st, const char *ns, retention_policy *out) {
    retention_policy def, own;
    int rc = retention_defaults_get(st, &def);
    if (rc == STORE_OK) rc = retention_own(st, ns, &own);
    if (rc) return rc;
    out->days = own.days == RETENTION_INHERIT ? def.days : own.days;
    out->max_messages = own.max_messages == RETENTION_INHERIT ? def.max_messages : own.max_messages;
    return STORE_OK;
}

int retention_set(store *st, const char *ns, const retention_policy *p) {
    if (!contract_valid_namespace(ns) || !retention_valid(p, true)) return STORE_INVALID;
    if (store_pg_conn(st)) return retention_pg_set(st, ns, p);
    sqlite3_stmt *s = retention_prepare(st, R_WS_SET);
    if (s) {
        sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, store_now_ms());
        if (p->days != RETENTION_INHERIT) sqlite3_bind_int64(s, 3, p->days);
        if (p->max_messages != RETENTION_INHERIT) sqlite3_bind_int64(s, 4, p->max_messages);
    }
    return retention_run(s);
}

retention *retention_new(store *st, const retention_config *cfg) {
    retention *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->st = st;
    r->db = store_sqlite(st);
    if (cfg) r->cfg = *cfg;
    if (r->cfg.batch <= 0) r->cfg.batch = 500;
    if (r->cfg.vacuum_pages <= 0) r->cfg.vacuum_pages = 256;
    if (r->cfg.session_max_age_ms <= 0) r->cfg.session_max_age_ms = DAY_MS;
    if (r->cfg.control_max_age_ms <= 0) r->cfg.control_max_age_ms = 3600 * 1000;
    if (!r->db) return r; /* PostgreSQL: retention_pg.c prepares its own */
    /* The page count is our own integer, not input. */
    char vacuum[64];
    snprintf(vacuum, sizeof vacuum, "PRAGMA incremental_vacuum(%d)", r->cfg.vacuum_pages);
    for (int i = 0; i < R_COUNT; i++) {
        const char *sql = i == R_VACUUM ? vacuum : retention_sql[i];
        if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &r->stmt[i], NULL) !=
            SQLITE_OK) {
            retention_free(r);
            return NULL;
        }
    }
    return r;
}

void retention_free(retention *r) {
    if (!r) return;
    for (int i = 0; i < R_COUNT; i++)
        sqlite3_finalize(r->stmt[i]);
    free(r);
}

static sqlite3_stmt *take(retention *r, enum retention_stmt id) {
    sqlite3_stmt *s = r->stmt[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Steps s for one integer row into *v (left alone when there is no row or
 * the value is NULL); resets it. */
static int one_int(sqlite3_stmt *s, int64_t *v) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *v = sqlite3_column_int64(s, 0);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : store_status(rc);
    sqlite3_reset(s);
    return rc;
}

static int run(sqlite3_stmt *s) {
    int rc = store_status(sqlite3_step(s));
    sqlite3_reset(s);
    return rc;
}

/* The room the step looks at: the first with an id past r->after, wrapping
 * around once. *room_id is 0 when there is no room at all. */
static int next_room(retention *r, int64_t *room_id, char *ns, size_t nslen) {
    *room_id = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (!r->db) {
            int rc = retention_pg_next_room(r->st, pass ? 0 : r->after, room_id, ns, nslen);
            if (rc || *room_id) return rc;
            continue;
        }
        sqlite3_stmt *s = take(r, R_NEXT_ROOM);
        sqlite3_bind_int64(s, 1, pass ? 0 : r->after);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *room_id = sqlite3_column_int64(s, 0);
            snprintf(ns, nslen, "%s", (const char *)sqlite3_column_text(s, 1));
        }
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : store_status(rc);
        sqlite3_reset(s);
        if (rc || *room_id) return rc;
    }
    return STORE_OK;
}

/* The lowest id room_id keeps under a count limit of max (ids below go), or 0
 * when the room holds no more than max. Cheap when the room's id span already
 * shows it holds no more than max; otherwise one index walk of max entries. */
static int count_boundary(retention *r, int64_t room_id, int64_t max, int64_t *keep_from) {
    int64_t lo = 0, hi = 0;
    *keep_from = 0;
    sqlite3_stmt *s = take(r, R_SPAN);
    sqlite3_bind_int64(s, 1, room_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        lo = sqlite3_column_int64(s, 0);
        hi = sqlite3_column_int64(s, 1);
    }
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : store_status(rc);
    sqlite3_reset(s);
    if (rc || hi - lo + 1 <= max) return rc;
    s = take(r, R_NTH_NEWEST);
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_int64(s, 2, max - 1);
    return one_int(s, keep_from);
}

/* Deletes, in one transaction, up to cfg.batch of room_id's oldest messages
 * that policy p no longer keeps at now_ms, and records the last id deleted. */
static int prune_room(retention *r, int64_t room_id, const retention_policy *p, int64_t now_ms,
                      retention_stats *out) {
    if (!r->db) {
        int rc = retention_pg_prune_room(r->st, room_id, p, now_ms, r->cfg.batch, &out->messages);
        out->more = rc == STORE_OK && out->messages == r->cfg.batch;
        return rc;
    }
    int rc = store_begin(r->st);
    if (rc) return rc;
    int64_t keep_from = 0, last = 0;
    if (p->max_messages > 0) rc = count_boundary(r, room_id, p->max_messages, &keep_from);
    int64_t cutoff = p->days > 0 ? now_ms - p->days * DAY_MS : INT64_MIN;
    int n = 0;
    if (rc == STORE_OK) {
        sqlite3_stmt *s = take(r, R_OLDEST);
        sqlite3_bind_int64(s, 1, room_id);
        sqlite3_bind_int(s, 2, r->cfg.batch);
        /* Ids and timestamps grow together: stop at the first message kept. */
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(s, 0), ts = sqlite3_column_int64(s, 1);
            if (!(id < keep_from || ts < cutoff)) break;
            last = id;
            n++;
        }
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : store_status(rc);
        sqlite3_reset(s);
    }
    if (rc == STORE_OK && n > 0) {
        sqlite3_stmt *s = take(r, R_DELETE);
        sqlite3_bind_int64(s, 1, room_id);
        sqlite3_bind_int64(s, 2, last);
        rc = run(s);
    }
    if (rc == STORE_OK && n > 0) {
        sqlite3_stmt *s = take(r, R_MARK);
        sqlite3_bind_int64(s, 1, room_id);
        sqlite3_bind_int64(s, 2, last);
        rc = run(s);
    }
    if (rc == STORE_OK) rc = store_commit(r->st);
    if (rc) {
        store_rollback(r->st);
        return rc;
    }
    out->messages = n;
    out->more = n == r->cfg.batch;
    return STORE_OK;
}

/* Deletes up to cfg.batch rows of one of the bounded-age tables. */
static int prune_rows(retention *r, enum retention_stmt id, int64_t older_than, int *n) {
    if (!r->db) return retention_pg_prune_rows(r->st, id == R_CONTROL, older_than, r->cfg.batch, n);
    sqlite3_stmt *s = take(r, id);
    sqlite3_bind_int64(s, 1, older_than);
    sqlite3_bind_int(s, 2, r->cfg.batch);
    int rc = run(s);
    *n = rc == STORE_OK ? sqlite3_changes(r->db) : 0;
    return rc;
}

static int vacuum(retention *r, int *pages) {
    if (!r->db) return STORE_OK; /* PostgreSQL's autovacuum */
    int64_t before = 0, after = 0;
    int rc = one_int(take(r, R_FREELIST), &before);
    if (rc || before == 0) return rc;
    sqlite3_stmt *s = take(r, R_VACUUM);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    rc = store_status(rc);
    sqlite3_reset(s);
    if (rc == STORE_OK) rc = one_int(take(r, R_FREELIST), &after);
    *pages = rc == STORE_OK && before > after ? (int)(before - after) : 0;
    return rc;
}

int retention_step(retention *r, int64_t now_ms, retention_stats *stats) {
    retention_stats local;
    retention_stats *out = stats ? stats : &local;
    memset(out, 0, sizeof *out);
    char ns[CONTRACT_NAMESPACE_BUF];
    retention_policy p;
    int rc = next_room(r, &out->room_id, ns, sizeof ns);
    if (rc == STORE_OK && out->room_id) {
        rc = retention_get(r->st, ns, &p);
        if (rc == STORE_OK && (p.days > 0 || p.max_messages > 0))
            rc = prune_room(r, out->room_id, &p, now_ms, out);
        /* a busy room keeps its turn; the next step goes on with it */
        if (rc == STORE_OK) r->after = out->more ? out->room_id - 1 : out->room_id;
    }
    if (rc == STORE_OK)
        rc = prune_rows(r, R_SESSIONS, now_ms - r->cfg.session_max_age_ms, &out->sessions);
    if (rc == STORE_OK)
        rc = prune_rows(r, R_CONTROL, now_ms - r->cfg.control_max_age_ms, &out->control);
    if (rc == STORE_OK) rc = vacuum(r, &out->pages);
    return rc;
}
