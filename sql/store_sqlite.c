/* store_sqlite.c -- the SQLite backend of the store: rooms, the message log,
 * presence, sessions and cursors in one database file shared by every process
 * of the machine */
#include "store.h"
#include "store_internal.h"

#include <assert.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern const char store_schema_sql[]; /* sql/schema.sql, compiled in by the Makefile */

/* Migrations after schema.sql (version 1), in order: migrations[i] takes the
 * database from version i + 1 to i + 2. A later one appends here. Each runs in
 * migrate()'s transaction with the bump of user_version. */
static const char *const migrations[] = {
    /* 2: retention (sql/retention.c). pruned_upto is the highest message id
     * pruning deleted from the room: a read from below it was cut short. The
     * workspaces' NULL retention columns take the config table's defaults. */
    "ALTER TABLE rooms ADD COLUMN pruned_upto INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE workspaces ADD COLUMN retention_days INTEGER;"
    "ALTER TABLE workspaces ADD COLUMN retention_max_messages INTEGER;"
    "CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO config (key, value) VALUES ('retention_days', 90),"
    " ('retention_max_messages', 0);"
    "CREATE INDEX IF NOT EXISTS sessions_by_age ON sessions(updated_at);",
    /* 3: hostile clients (issue 14). client_id is unique per (room, user),
     * not per user across rooms; claimed user names; pages of a namespace's
     * rooms by id are a range seek. */
    "DROP INDEX IF EXISTS messages_by_client;"
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_by_room_client"
    " ON messages(room_id, user, client_id) WHERE client_id IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, claimed_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS rooms_by_namespace ON rooms(namespace, id);",
    /* 4: write budgets, shared by every process: messages written per user
     * ('u:name') and per client address ('a:address') in minute and day
     * windows; rows of past windows are pruned by store_process_reap(). */
    "CREATE TABLE IF NOT EXISTS budgets (key TEXT NOT NULL, span INTEGER NOT NULL,"
    " start INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (key, span, start))"
    " WITHOUT ROWID;",
    /* 5: nodes on several hosts (README "Scaling out"): which node on which
     * host a ws process is, for /api/health. */
    "ALTER TABLE processes ADD COLUMN node TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE processes ADD COLUMN host TEXT NOT NULL DEFAULT '';",
    /* 6: a room's present users (store_presence_users, on every join) come
     * from this index alone, in order, without a sort or a table lookup. */
    "CREATE INDEX IF NOT EXISTS presence_by_room_user ON presence(room_id, user, process_id);"
    "DROP INDEX IF EXISTS presence_by_room;",
    /* (issue 20) a live socket's session is stored from its CONNECT on:
     * owner is the process serving it (NULL once disconnected), whose
     * sessions_touch keeps it young while it lives. */
    "ALTER TABLE sessions ADD COLUMN owner INTEGER;"
    "CREATE INDEX IF NOT EXISTS sessions_by_owner ON sessions(owner, updated_at)"
    " WHERE owner IS NOT NULL;",
    /* (issue 21.12): Engine.IO sessions per client address and ws process,
     * so --max-per-address holds across processes; a dead process's rows go
     * with it (cascade from processes) and are ignored once it is stale. */
    "CREATE TABLE IF NOT EXISTS address_sessions (addr TEXT NOT NULL,"
    " process_id INTEGER NOT NULL REFERENCES processes(id) ON DELETE CASCADE,"
    " n INTEGER NOT NULL, PRIMARY KEY (addr, process_id)) WITHOUT ROWID;",
    /* accounts (sql/account.c, issue 24): a name's argon2id password hash,
     * and every credential of a user as a row that can be listed and
     * revoked; a claim never used expires (its row goes, the name is free). */
    "CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, pwhash TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS credentials (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " kind TEXT NOT NULL, secret TEXT, label TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL, used_at INTEGER, expires_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS credentials_by_name ON credentials(name);"
    "CREATE INDEX IF NOT EXISTS credentials_unused_claims ON credentials(created_at)"
    " WHERE kind = 'claim' AND used_at IS NULL;"
    "CREATE INDEX IF NOT EXISTS credentials_by_expiry ON credentials(expires_at);",
    /* (moderation, issue 24): edits and deletions are rows of the log
     * (kind 1 edit, 2 deletion, of message target); a message keeps when it
     * was last edited; roles per workspace; mutes and bans; the audit log of
     * moderation actions (sql/moderation_store.c). */
    "ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN target INTEGER;"
    "ALTER TABLE messages ADD COLUMN edited_at INTEGER;"
    "CREATE INDEX IF NOT EXISTS messages_by_target ON messages(target) WHERE target IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS roles (namespace TEXT NOT NULL, user TEXT NOT NULL,"
    " role TEXT NOT NULL, granted_by TEXT NOT NULL, granted_at INTEGER NOT NULL,"
    " PRIMARY KEY (namespace, user)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sanctions (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " namespace TEXT NOT NULL, kind TEXT NOT NULL, user TEXT NOT NULL DEFAULT '',"
    " address TEXT NOT NULL DEFAULT '', until INTEGER NOT NULL, given_by TEXT NOT NULL,"
    " reason TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL, with_address INTEGER NOT NULL DEFAULT "
    "0,"
    " UNIQUE (namespace, kind, user, address));"
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " namespace TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
    " target TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}', ts INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_by_namespace ON audit(namespace, id);",
    /* (webhooks, issue 25.5): outgoing webhooks, each with its cursor in the
     * log (the last id delivered), the batch in flight (batch_upto, so a
     * retry sends the same events under the same delivery id), its failures
     * and its lease: the sender process holding it until lease_until
     * (sql/webhook_store.c). events is a bit set of the log's kinds. */
    "CREATE TABLE IF NOT EXISTS webhooks (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " namespace TEXT NOT NULL, url TEXT NOT NULL, events INTEGER NOT NULL,"
    " secret TEXT NOT NULL, log_cursor INTEGER NOT NULL, batch_upto INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, failing_since INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER NOT NULL DEFAULT 0, last_status INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '', parked INTEGER NOT NULL DEFAULT 0,"
    " delivered INTEGER NOT NULL DEFAULT 0, lease_owner TEXT NOT NULL DEFAULT '',"
    " lease_until INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);",
};
#define STORE_SCHEMA_VERSION (1 + (int)(sizeof migrations / sizeof migrations[0]))

/* Every statement the store runs. One prepared statement each, made once in
 * store_open(), reset after each use. */
enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_ROOM_INSERT,
    S_ROOM_GET,
    S_ROOM_FIND,
    S_ROOM_ID,
    S_ROOM_LOOKUP,
    S_ROOMS_LIST,
    S_ROOM_COUNT,
    S_USER_CLAIM,
    S_USER_GET,
    S_ROOM_DELETE,
    S_MSG_INSERT,
    S_MSG_BY_CLIENT,
    S_MSG_AFTER,
    S_MSG_LATEST,
    S_MSG_BEFORE,
    S_LOG_TAIL,
    S_LOG_HEAD,
    S_PROC_INSERT,
    S_PROC_HEARTBEAT,
    S_PROC_DELETE,
    S_PROC_REAP,
    S_PROC_LIST,
    S_PRES_INSERT,
    S_PRES_DELETE,
    S_PRES_DELETE_SID,
    S_PRES_USERS,
    S_SESS_SAVE,
    S_SESS_LOAD,
    S_SESS_DELETE,
    S_SESS_EXPIRE,
    S_SESS_TOUCH,
    S_CUR_GET,
    S_CUR_SET,
    S_WS_GET,
    S_WS_SET,
    S_WS_EXISTS,
    S_BUDGET_GET,
    S_BUDGET_ADD,
    S_BUDGET_PRUNE,
    S_ADDR_SET,
    S_ADDR_DELETE,
    S_ADDR_ELSEWHERE,
    S_WS_CREATE,
    S_COUNTS,
    S_CTL_INSERT,
    S_CTL_TAIL,
    S_CTL_HEAD,
    S_COUNT
};

/* A room's columns, shared by every query that returns rooms. online counts
 * distinct users of processes whose heartbeat is recent (a crashed process's
 * presence rows stop counting before anyone reaps them). */
#define ROOM_COLUMNS                                                                               \
    "r.id, r.name, r.namespace, r.created_at,"                                                     \
    " (SELECT COUNT(DISTINCT p.user) FROM presence p JOIN processes w ON w.id = p.process_id"      \
    "   WHERE p.room_id = r.id AND w.heartbeat_at > ?9),"                                          \
    " COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.room_id = r.id), 0), r.pruned_upto"

#define MSG_COLUMNS                                                                                \
    "m.id, m.room_id, r.name, r.namespace, m.user, m.text, m.client_id, m.ts, m.kind,"             \
    " COALESCE(m.target, 0), COALESCE(m.edited_at, 0)"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_ROOM_INSERT] = "INSERT INTO rooms (namespace, name, created_at) VALUES (?1, ?2, ?3)",
    [S_ROOM_GET] = "SELECT " ROOM_COLUMNS " FROM rooms r WHERE r.id = ?1",
    [S_ROOM_FIND] = "SELECT " ROOM_COLUMNS " FROM rooms r WHERE r.namespace = ?1 AND r.name = ?2",
    [S_ROOM_ID] = "SELECT id FROM rooms WHERE namespace = ?1 AND name = ?2",
    /* ROOM_COLUMNS without the presence count: online is 0 */
    [S_ROOM_LOOKUP] = "SELECT r.id, r.name, r.namespace, r.created_at, 0,"
                      " COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.room_id = r.id), 0),"
                      " r.pruned_upto FROM rooms r WHERE r.namespace = ?1 AND r.name = ?2",
    [S_ROOMS_LIST] = "SELECT " ROOM_COLUMNS " FROM rooms r WHERE r.namespace = ?1 AND r.id > ?2"
                     " ORDER BY r.id LIMIT ?3",
    [S_ROOM_COUNT] = "SELECT COUNT(*) FROM rooms WHERE namespace = ?1",
    [S_USER_CLAIM] = "INSERT INTO users (name, claimed_at) VALUES (?1, ?2)",
    [S_USER_GET] = "SELECT claimed_at FROM users WHERE name = ?1",
    [S_ROOM_DELETE] = "DELETE FROM rooms WHERE id = ?1",
    [S_MSG_INSERT] = "INSERT INTO messages (room_id, user, text, ts, client_id)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_MSG_BY_CLIENT] = "SELECT id, ts FROM messages"
                        " WHERE room_id = ?1 AND user = ?2 AND client_id = ?3",
    [S_MSG_AFTER] = "SELECT " MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
                    " WHERE m.room_id = ?1 AND m.kind = 0 AND m.id > ?2 AND (?3 <= 0 OR m.id < ?3)"
                    " ORDER BY m.id LIMIT ?4",
    [S_MSG_LATEST] =
        "SELECT * FROM (SELECT " MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
        " WHERE m.room_id = ?1 AND m.kind = 0 ORDER BY m.id DESC LIMIT ?4) ORDER BY 1",
    [S_MSG_BEFORE] =
        "SELECT * FROM (SELECT " MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
        " WHERE m.room_id = ?1 AND m.kind = 0 AND m.id < ?3 ORDER BY m.id DESC LIMIT ?4)"
        " ORDER BY 1",
    [S_LOG_TAIL] = "SELECT " MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
                   " WHERE m.id > ?1 ORDER BY m.id LIMIT ?2",
    /* MAX(id) alone would drop when retention empties the log */
    [S_LOG_HEAD] = "SELECT MAX(COALESCE((SELECT MAX(id) FROM messages), 0),"
                   " COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))",
    [S_PROC_INSERT] = "INSERT INTO processes (pid, listen, started_at, heartbeat_at, node, host)"
                      " VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
    [S_PROC_HEARTBEAT] = "UPDATE processes SET heartbeat_at = ?2, connections = ?3 WHERE id = ?1",
    [S_PROC_DELETE] = "DELETE FROM processes WHERE id = ?1",
    [S_PROC_REAP] = "DELETE FROM processes WHERE heartbeat_at <= ?1",
    [S_PROC_LIST] = "SELECT id, pid, listen, started_at, heartbeat_at, connections, node, host"
                    " FROM processes ORDER BY id",
    [S_PRES_INSERT] = "INSERT OR REPLACE INTO presence (process_id, sid, room_id, user, joined_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_PRES_DELETE] = "DELETE FROM presence WHERE sid = ?1 AND room_id = ?2",
    [S_PRES_DELETE_SID] = "DELETE FROM presence WHERE sid = ?1",
    [S_PRES_USERS] =
        "SELECT DISTINCT p.user FROM presence p JOIN processes w ON w.id = p.process_id"
        " WHERE p.room_id = ?1 AND w.heartbeat_at > ?2 ORDER BY p.user",
    [S_SESS_SAVE] = "INSERT INTO sessions (pid, sid, namespace, user, rooms, data, updated_at,"
                    " owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (pid) DO UPDATE"
                    " SET sid = excluded.sid, namespace = excluded.namespace,"
                    " user = excluded.user, rooms = excluded.rooms, data = excluded.data,"
                    " updated_at = excluded.updated_at, owner = excluded.owner"
                    " WHERE excluded.owner IS NOT NULL OR sessions.owner IS NULL"
                    " OR sessions.owner = ?9",
    [S_SESS_LOAD] = "SELECT pid, sid, namespace, user, rooms, data, updated_at, owner FROM sessions"
                    " WHERE pid = ?1 AND updated_at > ?2",
    [S_SESS_TOUCH] = "UPDATE sessions SET updated_at = ?3 WHERE owner = ?1 AND updated_at <= ?2",
    [S_SESS_DELETE] = "DELETE FROM sessions WHERE pid = ?1",
    [S_SESS_EXPIRE] = "DELETE FROM sessions WHERE updated_at <= ?1",
    [S_CUR_GET] = "SELECT last_id FROM cursors WHERE user = ?1 AND room_id = ?2",
    [S_CUR_SET] =
        "INSERT INTO cursors (user, room_id, last_id) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (user, room_id) DO UPDATE SET last_id = MAX(last_id, excluded.last_id)",
    [S_WS_GET] = "SELECT private FROM workspaces WHERE namespace = ?1",
    [S_BUDGET_GET] = "SELECT count FROM budgets WHERE key = ?1 AND span = ?2 AND start = ?3",
    [S_BUDGET_ADD] = "INSERT INTO budgets (key, span, start, count) VALUES (?1, ?2, ?3, 1)"
                     " ON CONFLICT (key, span, start) DO UPDATE SET count = count + 1",
    [S_BUDGET_PRUNE] = "DELETE FROM budgets WHERE start + span <= ?1",
    [S_ADDR_SET] = "INSERT INTO address_sessions (addr, process_id, n) VALUES (?1, ?2, ?3)"
                   " ON CONFLICT (addr, process_id) DO UPDATE SET n = excluded.n",
    [S_ADDR_DELETE] = "DELETE FROM address_sessions WHERE addr = ?1 AND process_id = ?2",
    [S_ADDR_ELSEWHERE] = "SELECT COALESCE(SUM(a.n), 0) FROM address_sessions a"
                         " JOIN processes p ON p.id = a.process_id"
                         " WHERE a.addr = ?1 AND a.process_id <> ?2 AND p.heartbeat_at > ?3",
    [S_WS_EXISTS] = "SELECT EXISTS (SELECT 1 FROM workspaces WHERE namespace = ?1)"
                    " OR EXISTS (SELECT 1 FROM rooms WHERE namespace = ?1)",
    [S_WS_CREATE] = "INSERT OR IGNORE INTO workspaces (namespace, private, created_at)"
                    " SELECT ?1, 0, ?2 WHERE (SELECT COUNT(*) FROM workspaces) < ?3",
    [S_WS_SET] = "INSERT INTO workspaces (namespace, private, created_at) VALUES (?1, ?2, ?3)"
                 " ON CONFLICT (namespace) DO UPDATE SET private = excluded.private",
    [S_COUNTS] = "SELECT (SELECT COUNT(*) FROM rooms),"
                 " MAX(COALESCE((SELECT MAX(id) FROM messages), 0),"
                 " COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))",
    [S_CTL_INSERT] = "INSERT INTO control (kind, payload, ts) VALUES (?1, ?2, ?3)",
    [S_CTL_TAIL] = "SELECT id, kind, payload FROM control WHERE id > ?1 ORDER BY id LIMIT 1000",
    [S_CTL_HEAD] = "SELECT COALESCE(MAX(id), 0) FROM control",
};

/* The pruner's statements (retention.c), prepared at their first use: only
 * the process that prunes pays for them. */
enum prune_stmt {
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

static const char *const prune_sql[R_COUNT] = {
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
    [R_VACUUM] = NULL, /* made by sq_vacuum: a pragma takes no parameter */
};

typedef struct sq_store {
    store base; /* first: a store * is a sq_store * */
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    sqlite3_stmt *prune[R_COUNT]; /* NULL until first used */
    int vacuum_pages;             /* the page count prune[R_VACUUM] was made with */
} sq_store;

static const store_ops sq_ops;
static void sq_close(store *st);

/* The SQLite connection of a store of this backend. */
static sq_store *sq(store *st) {
    return (sq_store *)st;
}

/* Maps an SQLite result code to a store status. */
static int status_of(int rc) {
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_CONSTRAINT:
        return STORE_EXISTS;
    case SQLITE_FULL:
    case SQLITE_IOERR:
        return STORE_FULL;
    default:
        return STORE_ERROR;
    }
}

static const char *sq_errmsg(const store *st) {
    return sqlite3_errmsg(((const sq_store *)st)->db);
}

/* Takes a statement for use: clears the old bindings and the error note. */
static sqlite3_stmt *take(store *st, enum stmt_id id) {
    sqlite3_stmt *s = sq(st)->stmt[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    st->err[0] = '\0';
    return s;
}

/* Steps a statement that returns no row (or whose rows are ignored) and
 * resets it. Returns a status. */
static int run(sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return status_of(rc);
}

/* Steps a statement expected to give one row of integers: column 0 into *a
 * and, when b is not NULL, column 1 into *b. STORE_NOTFOUND for no row. */
static int row_ints(sqlite3_stmt *s, int64_t *a, int64_t *b) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(s, 0);
        if (b) *b = sqlite3_column_int64(s, 1);
        rc = STORE_OK;
    } else {
        rc = rc == SQLITE_DONE ? STORE_NOTFOUND : status_of(rc);
    }
    sqlite3_reset(s);
    return rc;
}

static int one_int(sqlite3_stmt *s, int64_t *v) {
    return row_ints(s, v, NULL);
}

static void copy_text(char *dst, size_t cap, const unsigned char *src) {
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* ---- opening ---------------------------------------------------------- */

static int exec_all(store *st, const char *sql) {
    char *msg = NULL;
    int rc = sqlite3_exec(sq(st)->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return status_of(rc);
}

/* Applies schema.sql when user_version says it is missing, then the
 * migrations the file has not had, in one transaction, so two processes opening a new file at once
 * both end up with one schema. */
static int migrate(store *st) {
    int rc = exec_all(st, "BEGIN IMMEDIATE");
    if (rc) return rc;
    sqlite3_stmt *s = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(sq(st)->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version < 1) {
        rc = exec_all(st, store_schema_sql);
        if (rc) goto fail;
        version = 1;
    }
    int from = version;
    for (; version < STORE_SCHEMA_VERSION; version++) {
        rc = exec_all(st, migrations[version - 1]);
        if (rc) goto fail;
    }
    if (from != version) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
        rc = exec_all(st, sql);
        /* Migrations that drop an index leave free pages: give them back now,
         * or the first retention step rewrites the schema's pages on a
         * server at rest. (No-op while auto_vacuum is off.) */
        if (rc == STORE_OK) rc = exec_all(st, "PRAGMA incremental_vacuum");
        if (rc) goto fail;
    }
    return exec_all(st, "COMMIT");
fail:
    sqlite3_exec(sq(st)->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* A database made before retention has auto_vacuum NONE: converting it takes
 * one VACUUM (a copy of the whole file, in one transaction: it either
 * completes or leaves the file as it was). Done once, by the first process to
 * open it; while another holds the lock past busy_timeout, the conversion is
 * left for a later open and the database works as before (pruned pages are
 * reused, the file just does not shrink). */
static int vacuum_mode(store *st) {
    sqlite3_stmt *s = NULL;
    int mode = 2;
    if (sqlite3_prepare_v2(sq(st)->db, "PRAGMA auto_vacuum", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        mode = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (mode == 2) return STORE_OK;
    int rc = exec_all(st, "PRAGMA auto_vacuum = INCREMENTAL");
    if (rc == STORE_OK) rc = exec_all(st, "VACUUM");
    if (rc == STORE_BUSY) {
        st->err[0] = '\0';
        return STORE_OK;
    }
    return rc;
}

int store_sqlite_open(store **out, const char *path, const store_options *opt, char *err,
                      size_t errlen) {
    *out = NULL;
    sq_store *q = calloc(1, sizeof *q);
    if (!q) {
        if (err) snprintf(err, errlen, "out of memory");
        return STORE_ERROR;
    }
    store *st = &q->base;
    st->ops = &sq_ops;
    int rc = sqlite3_open_v2(
        path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "%s: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        rc = STORE_ERROR;
        goto fail;
    }
    sqlite3_busy_timeout(q->db, opt->busy_timeout_ms);
    sqlite3_extended_result_codes(q->db, 0);
    const char *sync =
        opt->sync == STORE_SYNC_FULL ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    /* auto_vacuum first: on a new file it only takes effect before the first
     * table exists. */
    if ((rc = exec_all(st, "PRAGMA auto_vacuum = INCREMENTAL")) ||
        (rc = exec_all(st, "PRAGMA journal_mode = WAL")) || (rc = exec_all(st, sync)) ||
        (rc = exec_all(st, "PRAGMA foreign_keys = ON")) ||
        /* a deleted message's text is overwritten, not left in free space (the
         * default of Debian's build, made sure of for others) */
        (rc = exec_all(st, "PRAGMA secure_delete = ON")) || (rc = migrate(st)) ||
        (rc = vacuum_mode(st)))
        goto fail;
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->stmt[i],
                               NULL) != SQLITE_OK) {
            snprintf(st->err, sizeof st->err, "prepare %d: %s", i, sqlite3_errmsg(q->db));
            rc = STORE_ERROR;
            goto fail;
        }
    }
    *out = st;
    return STORE_OK;
fail:
    if (err) snprintf(err, errlen, "%s", st->err[0] ? st->err : sq_errmsg(st));
    sq_close(st);
    return rc ? rc : STORE_ERROR;
}

static void sq_close(store *st) {
    if (!st) return;
    sq_store *q = sq(st);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(q->stmt[i]);
    for (int i = 0; i < R_COUNT; i++)
        sqlite3_finalize(q->prune[i]);
    sqlite3_close(q->db);
    free(q);
}

/* ---- transactions ----------------------------------------------------- */

static bool sq_in_transaction(store *st) {
    return sqlite3_get_autocommit(sq(st)->db) == 0;
}

static int sq_begin(store *st) {
    return run(take(st, S_BEGIN));
}

static int sq_commit(store *st) {
    int rc = run(take(st, S_COMMIT));
    /* A failed COMMIT (disk full, busy) may leave the transaction open: roll
     * it back so nothing half-written stays and the next writer can begin. */
    if (rc && !sqlite3_get_autocommit(sq(st)->db)) sqlite3_exec(sq(st)->db, "ROLLBACK", 0, 0, 0);
    return rc;
}

static int sq_rollback(store *st) {
    if (sqlite3_get_autocommit(sq(st)->db)) return STORE_OK;
    return run(take(st, S_ROLLBACK));
}

/* ---- rooms ------------------------------------------------------------ */

static void read_room(sqlite3_stmt *s, store_room *r) {
    r->id = sqlite3_column_int64(s, 0);
    copy_text(r->name, sizeof r->name, sqlite3_column_text(s, 1));
    copy_text(r->ns, sizeof r->ns, sqlite3_column_text(s, 2));
    r->created_at = sqlite3_column_int64(s, 3);
    r->online = sqlite3_column_int64(s, 4);
    r->last_message_id = sqlite3_column_int64(s, 5);
    r->pruned_upto = sqlite3_column_int64(s, 6);
}

static void bind_alive_since(sqlite3_stmt *s) {
    sqlite3_bind_int64(s, 9, store_now_ms() - STORE_PROCESS_STALE_MS);
}

/* Steps a statement expected to give one room. */
static int one_room(sqlite3_stmt *s, store_room *out) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (out) read_room(s, out);
        rc = STORE_OK;
    } else {
        rc = rc == SQLITE_DONE ? STORE_NOTFOUND : status_of(rc);
    }
    sqlite3_reset(s);
    return rc;
}

static int sq_room_get(store *st, int64_t id, store_room *out) {
    sqlite3_stmt *s = take(st, S_ROOM_GET);
    sqlite3_bind_int64(s, 1, id);
    bind_alive_since(s);
    return one_room(s, out);
}

static int sq_room_find(store *st, const char *ns, const char *name, store_room *out) {
    sqlite3_stmt *s = take(st, S_ROOM_FIND);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    bind_alive_since(s);
    return one_room(s, out);
}

static int sq_room_lookup(store *st, const char *ns, const char *name, store_room *out) {
    sqlite3_stmt *s = take(st, S_ROOM_LOOKUP);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    return one_room(s, out);
}

static int sq_room_id(store *st, const char *ns, const char *name, int64_t *id) {
    sqlite3_stmt *s = take(st, S_ROOM_ID);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    return one_int(s, id);
}

static int sq_room_create(store *st, const char *ns, const char *name, int64_t *id) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    /* counted inside the write transaction: two creators cannot both pass */
    sqlite3_stmt *s = take(st, S_ROOM_COUNT);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    int64_t have = 0;
    rc = one_int(s, &have);
    if (rc) return store_write_end(st, &w, rc);
    if (have >= st->max_rooms) return store_write_end(st, &w, STORE_LIMIT);
    s = take(st, S_ROOM_INSERT);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, store_now_ms());
    rc = run(s);
    *id = sqlite3_last_insert_rowid(sq(st)->db);
    return store_write_end(st, &w, rc);
}

static int sq_rooms_list(store *st, const char *ns, int64_t after, int limit, store_room_cb cb,
                         void *ctx) {
    sqlite3_stmt *s = take(st, S_ROOMS_LIST);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    bind_alive_since(s);
    int rc;
    store_room r;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_room(s, &r);
        if (cb(&r, ctx)) break;
    }
    rc = rc == SQLITE_ROW ? STORE_OK : status_of(rc);
    sqlite3_reset(s);
    return rc;
}

static int sq_room_delete(store *st, int64_t id) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_ROOM_DELETE);
    sqlite3_bind_int64(s, 1, id);
    rc = run(s);
    if (rc == STORE_OK && sqlite3_changes(sq(st)->db) == 0) rc = STORE_NOTFOUND;
    return store_write_end(st, &w, rc);
}

/* ---- messages --------------------------------------------------------- */

static int find_by_client(store *st, int64_t room_id, const char *user, const char *client_id,
                          int64_t *id, int64_t *ts) {
    sqlite3_stmt *s = take(st, S_MSG_BY_CLIENT);
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_text(s, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, client_id, -1, SQLITE_STATIC);
    return row_ints(s, id, ts);
}

static int sq_message_append(store *st, int64_t room_id, const char *user, const char *text,
                             const char *client_id, int64_t *id, int64_t *ts, bool *duplicate) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    if (client_id) {
        rc = find_by_client(st, room_id, user, client_id, id, ts);
        if (rc == STORE_OK) {
            *duplicate = true;
            return store_write_end(st, &w, STORE_OK);
        }
        if (rc != STORE_NOTFOUND) return store_write_end(st, &w, rc);
    }
    sqlite3_stmt *s = take(st, S_MSG_INSERT);
    *ts = store_now_ms();
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_text(s, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, *ts);
    if (client_id) sqlite3_bind_text(s, 5, client_id, -1, SQLITE_STATIC);
    rc = run(s);
    /* The only constraint an insert can break here is the room's foreign key:
     * client_id duplicates were answered above inside the same transaction. */
    if (rc == STORE_EXISTS) rc = STORE_NOTFOUND;
    *id = sqlite3_last_insert_rowid(sq(st)->db);
    return store_write_end(st, &w, rc);
}

static int each_message(sqlite3_stmt *s, store_message_cb cb, void *ctx) {
    int rc;
    store_message m;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        m.id = sqlite3_column_int64(s, 0);
        m.room_id = sqlite3_column_int64(s, 1);
        m.room = (const char *)sqlite3_column_text(s, 2);
        m.ns = (const char *)sqlite3_column_text(s, 3);
        m.user = (const char *)sqlite3_column_text(s, 4);
        m.text = (const char *)sqlite3_column_text(s, 5);
        m.client_id = (const char *)sqlite3_column_text(s, 6);
        m.ts = sqlite3_column_int64(s, 7);
        m.kind = sqlite3_column_int(s, 8);
        m.target = sqlite3_column_int64(s, 9);
        m.edited_at = sqlite3_column_int64(s, 10);
        if (cb(&m, ctx)) break;
    }
    rc = rc == SQLITE_ROW ? STORE_OK : status_of(rc);
    sqlite3_reset(s);
    return rc;
}

static int sq_messages_list(store *st, int64_t room_id, int64_t after, int64_t before, int limit,
                            store_message_cb cb, void *ctx) {
    enum stmt_id id = after >= 0 ? S_MSG_AFTER : before > 0 ? S_MSG_BEFORE : S_MSG_LATEST;
    sqlite3_stmt *s = take(st, id);
    sqlite3_bind_int64(s, 1, room_id);
    if (id == S_MSG_AFTER) sqlite3_bind_int64(s, 2, after);
    if (id != S_MSG_LATEST) sqlite3_bind_int64(s, 3, before);
    sqlite3_bind_int(s, 4, limit);
    return each_message(s, cb, ctx);
}

static int sq_log_tail(store *st, int64_t after, int limit, store_message_cb cb, void *ctx) {
    sqlite3_stmt *s = take(st, S_LOG_TAIL);
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int(s, 2, limit);
    return each_message(s, cb, ctx);
}

static int sq_log_head(store *st, int64_t *id) {
    return one_int(take(st, S_LOG_HEAD), id);
}

/* ---- processes and presence ------------------------------------------- */

static int sq_process_register(store *st, int64_t pid, const char *listen, const char *node,
                               const char *host, int64_t *id) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_PROC_INSERT);
    sqlite3_bind_int64(s, 1, pid);
    sqlite3_bind_text(s, 2, listen, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, store_now_ms());
    sqlite3_bind_text(s, 4, node, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, host, -1, SQLITE_STATIC);
    rc = run(s);
    *id = sqlite3_last_insert_rowid(sq(st)->db);
    return store_write_end(st, &w, rc);
}

static int sq_process_heartbeat(store *st, int64_t id, int64_t connections) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_PROC_HEARTBEAT);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, store_now_ms());
    sqlite3_bind_int64(s, 3, connections);
    rc = run(s);
    if (rc == STORE_OK && sqlite3_changes(sq(st)->db) == 0) rc = STORE_NOTFOUND;
    return store_write_end(st, &w, rc);
}

/* Runs a one-statement write bound to one integer. */
static int write_int(store *st, enum stmt_id id, int64_t v) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, id);
    sqlite3_bind_int64(s, 1, v);
    return store_write_end(st, &w, run(s));
}

static int sq_process_unregister(store *st, int64_t id) {
    return write_int(st, S_PROC_DELETE, id);
}

static int sq_process_reap(store *st, int64_t stale_before, int64_t now) {
    int rc = write_int(st, S_PROC_REAP, stale_before);
    return rc ? rc : write_int(st, S_BUDGET_PRUNE, now);
}

static int sq_processes_list(store *st, store_process_cb cb, void *ctx) {
    sqlite3_stmt *s = take(st, S_PROC_LIST);
    int64_t alive_since = store_now_ms() - STORE_PROCESS_STALE_MS;
    int rc;
    store_process p;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        p.id = sqlite3_column_int64(s, 0);
        p.pid = sqlite3_column_int64(s, 1);
        p.listen = (const char *)sqlite3_column_text(s, 2);
        p.started_at = sqlite3_column_int64(s, 3);
        p.heartbeat_at = sqlite3_column_int64(s, 4);
        p.connections = sqlite3_column_int64(s, 5);
        p.node = (const char *)sqlite3_column_text(s, 6);
        p.host = (const char *)sqlite3_column_text(s, 7);
        p.alive = p.heartbeat_at > alive_since;
        if (cb(&p, ctx)) break;
    }
    rc = rc == SQLITE_ROW ? STORE_OK : status_of(rc);
    sqlite3_reset(s);
    return rc;
}

static int sq_presence_add(store *st, int64_t process_id, const char *sid, int64_t room_id,
                           const char *user) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_PRES_INSERT);
    sqlite3_bind_int64(s, 1, process_id);
    sqlite3_bind_text(s, 2, sid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, room_id);
    sqlite3_bind_text(s, 4, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, store_now_ms());
    return store_write_end(st, &w, run(s));
}

static int sq_presence_remove(store *st, const char *sid, int64_t room_id) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_PRES_DELETE);
    sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, room_id);
    return store_write_end(st, &w, run(s));
}

static int sq_presence_remove_sid(store *st, const char *sid) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_PRES_DELETE_SID);
    sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC);
    return store_write_end(st, &w, run(s));
}

static int sq_presence_users(store *st, int64_t room_id, int (*cb)(const char *user, void *ctx),
                             void *ctx) {
    sqlite3_stmt *s = take(st, S_PRES_USERS);
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_int64(s, 2, store_now_ms() - STORE_PROCESS_STALE_MS);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb((const char *)sqlite3_column_text(s, 0), ctx)) break;
    rc = rc == SQLITE_ROW ? STORE_OK : status_of(rc);
    sqlite3_reset(s);
    return rc;
}

/* ---- sessions --------------------------------------------------------- */

static int sq_session_save(store *st, const store_session *ss) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_SESS_SAVE);
    sqlite3_bind_text(s, 1, ss->pid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, ss->sid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, ss->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, ss->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, ss->rooms ? ss->rooms : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, ss->data ? ss->data : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, ss->updated_at ? ss->updated_at : store_now_ms());
    if (ss->owner)
        sqlite3_bind_int64(s, 8, ss->owner);
    else
        sqlite3_bind_null(s, 8);
    sqlite3_bind_int64(s, 9, ss->by);
    return store_write_end(st, &w, run(s));
}

static int sq_session_load(store *st, const char *pid, int64_t updated_after, store_session *out) {
    sqlite3_stmt *s = take(st, S_SESS_LOAD);
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, updated_after);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        copy_text(out->pid, sizeof out->pid, sqlite3_column_text(s, 0));
        copy_text(out->sid, sizeof out->sid, sqlite3_column_text(s, 1));
        copy_text(out->ns, sizeof out->ns, sqlite3_column_text(s, 2));
        copy_text(out->user, sizeof out->user, sqlite3_column_text(s, 3));
        out->rooms = strdup((const char *)sqlite3_column_text(s, 4));
        out->data = strdup((const char *)sqlite3_column_text(s, 5));
        out->updated_at = sqlite3_column_int64(s, 6);
        out->owner = sqlite3_column_int64(s, 7); /* NULL reads 0 */
        rc = out->rooms && out->data ? STORE_OK : STORE_ERROR;
        if (rc) store_session_free(out);
    } else {
        rc = rc == SQLITE_DONE ? STORE_NOTFOUND : status_of(rc);
    }
    sqlite3_reset(s);
    return rc;
}

static int sq_session_delete(store *st, const char *pid) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_SESS_DELETE);
    sqlite3_bind_text(s, 1, pid, -1, SQLITE_STATIC);
    return store_write_end(st, &w, run(s));
}

static int sq_session_expire(store *st, int64_t updated_before) {
    return write_int(st, S_SESS_EXPIRE, updated_before);
}

static int sq_sessions_touch(store *st, int64_t owner, int64_t updated_before) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_SESS_TOUCH);
    sqlite3_bind_int64(s, 1, owner);
    sqlite3_bind_int64(s, 2, updated_before);
    sqlite3_bind_int64(s, 3, store_now_ms());
    return store_write_end(st, &w, run(s));
}

/* ---- claimed names ---------------------------------------------------- */

static int sq_user_claim(store *st, const char *name) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_USER_CLAIM);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, store_now_ms());
    return store_write_end(st, &w, run(s));
}

static int sq_user_claimed(store *st, const char *name, bool *claimed) {
    sqlite3_stmt *s = take(st, S_USER_GET);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int64_t at = 0;
    int rc = one_int(s, &at);
    *claimed = rc == STORE_OK;
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* ---- cursors and workspaces ------------------------------------------- */

static int sq_cursor_get(store *st, const char *user, int64_t room_id, int64_t *last_id) {
    sqlite3_stmt *s = take(st, S_CUR_GET);
    sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, room_id);
    int rc = one_int(s, last_id);
    if (rc == STORE_NOTFOUND) {
        *last_id = -1;
        rc = STORE_OK;
    }
    return rc;
}

static int sq_cursor_set(store *st, const char *user, int64_t room_id, int64_t last_id) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_CUR_SET);
    sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, room_id);
    sqlite3_bind_int64(s, 3, last_id);
    rc = run(s);
    if (rc == STORE_EXISTS) rc = STORE_NOTFOUND; /* the room's foreign key */
    return store_write_end(st, &w, rc);
}

static int sq_workspace_private(store *st, const char *ns, bool *is_private) {
    sqlite3_stmt *s = take(st, S_WS_GET);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    int64_t v = 0;
    int rc = one_int(s, &v);
    *is_private = rc == STORE_OK && v != 0;
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int sq_workspace_exists(store *st, const char *ns, bool *exists) {
    sqlite3_stmt *s = take(st, S_WS_EXISTS);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    int64_t v = 0;
    int rc = one_int(s, &v);
    *exists = rc == STORE_OK && v != 0;
    return rc;
}

/* Runs inside store_workspace_create's write scope. */
static int sq_workspace_insert(store *st, const char *ns, int64_t max_workspaces, bool *created) {
    sqlite3_stmt *s = take(st, S_WS_CREATE);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, store_now_ms());
    sqlite3_bind_int64(s, 3, max_workspaces);
    int rc = run(s);
    *created = rc == STORE_OK && sqlite3_changes(sq(st)->db) == 1;
    return rc;
}

static int sq_workspace_set_private(store *st, const char *ns, bool is_private) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_WS_SET);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, is_private ? 1 : 0);
    sqlite3_bind_int64(s, 3, store_now_ms());
    return store_write_end(st, &w, run(s));
}

/* ---- sessions per address ---------------------------------------------- */

static int sq_address_sessions_set(store *st, int64_t process_id, const char *addr, int64_t n) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, n > 0 ? S_ADDR_SET : S_ADDR_DELETE);
    sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, process_id);
    if (n > 0) sqlite3_bind_int64(s, 3, n);
    return store_write_end(st, &w, run(s));
}

static int sq_address_sessions_elsewhere(store *st, int64_t process_id, const char *addr,
                                         int64_t alive_since, int64_t *n) {
    sqlite3_stmt *s = take(st, S_ADDR_ELSEWHERE);
    sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, process_id);
    sqlite3_bind_int64(s, 3, alive_since);
    return one_int(s, n);
}

static int sq_budget_get(store *st, const char *key, int64_t span, int64_t start, int64_t *count) {
    sqlite3_stmt *s = take(st, S_BUDGET_GET);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, span);
    sqlite3_bind_int64(s, 3, start);
    *count = 0;
    int rc = one_int(s, count);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int sq_budget_add(store *st, const char *key, int64_t span, int64_t start) {
    sqlite3_stmt *s = take(st, S_BUDGET_ADD);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, span);
    sqlite3_bind_int64(s, 3, start);
    return run(s);
}

static int sq_counts(store *st, int64_t *rooms, int64_t *messages) {
    return row_ints(take(st, S_COUNTS), rooms, messages);
}

/* ---- control events --------------------------------------------------- */

static int sq_control_append(store *st, const char *kind, const char *payload, int64_t *id) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    sqlite3_stmt *s = take(st, S_CTL_INSERT);
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, payload, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, store_now_ms());
    rc = run(s);
    *id = sqlite3_last_insert_rowid(sq(st)->db);
    return store_write_end(st, &w, rc);
}

static int sq_control_tail(store *st, int64_t after, store_control_cb cb, void *ctx) {
    sqlite3_stmt *s = take(st, S_CTL_TAIL);
    sqlite3_bind_int64(s, 1, after);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cb(sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
               (const char *)sqlite3_column_text(s, 2), ctx))
            break;
    }
    rc = rc == SQLITE_ROW ? STORE_OK : status_of(rc);
    sqlite3_reset(s);
    return rc;
}

static int sq_control_head(store *st, int64_t *id) {
    return one_int(take(st, S_CTL_HEAD), id);
}

/* ---- statements of sql/'s other modules (store_query.h) -------------- */

static int64_t sq_row_int(const ms_row *w, int col) {
    return sqlite3_column_int64(w->res, col);
}

static const char *sq_row_text(const ms_row *w, int col) {
    return (const char *)sqlite3_column_text(w->res, col);
}

/* Prepared per call: these statements are off the hot path, and a module's
 * row callback may run another one meanwhile. */
static int sq_query(store *st, const char *name, const char *sql, const char *pg_sql,
                    const ms_args *a, ms_row_cb cb, void *ctx, int64_t *changed) {
    (void)pg_sql;
    sqlite3 *db = sq(st)->db;
    sqlite3_stmt *s = NULL;
    st->err[0] = '\0';
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
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ms_row w = {sq_row_int, sq_row_text, s, 0};
        if (cb && cb(&w, ctx)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? STORE_OK : status_of(rc);
    if (changed) *changed = sqlite3_changes(db);
    sqlite3_finalize(s);
    return rc;
}

/* ---- retention's pruning ---------------------------------------------- */

/* The pruner's statement id, prepared at its first use, reset and cleared
 * as take()'s; NULL (error noted) when it does not prepare. */
static sqlite3_stmt *take_prune(store *st, enum prune_stmt id) {
    sq_store *q = sq(st);
    st->err[0] = '\0';
    if (!q->prune[id] && sqlite3_prepare_v3(q->db, prune_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                            &q->prune[id], NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "prepare: %s", sqlite3_errmsg(q->db));
        return NULL;
    }
    sqlite3_reset(q->prune[id]);
    sqlite3_clear_bindings(q->prune[id]);
    return q->prune[id];
}

/* Steps s for one integer row into *v (left alone when there is no row or
 * the value is NULL); resets it. */
static int int_or_keep(sqlite3_stmt *s, int64_t *v) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *v = sqlite3_column_int64(s, 0);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : status_of(rc);
    sqlite3_reset(s);
    return rc;
}

static int sq_room_next(store *st, int64_t after, int64_t *room_id, char *ns, size_t nslen) {
    sqlite3_stmt *s = take_prune(st, R_NEXT_ROOM);
    if (!s) return STORE_ERROR;
    sqlite3_bind_int64(s, 1, after);
    *room_id = 0;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *room_id = sqlite3_column_int64(s, 0);
        copy_text(ns, nslen, sqlite3_column_text(s, 1));
    }
    sqlite3_reset(s);
    return status_of(rc);
}

static int sq_room_span(store *st, int64_t room_id, int64_t *lo, int64_t *hi) {
    sqlite3_stmt *s = take_prune(st, R_SPAN);
    if (!s) return STORE_ERROR;
    sqlite3_bind_int64(s, 1, room_id);
    *lo = *hi = 0;
    int rc = row_ints(s, lo, hi);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int sq_room_nth_newest(store *st, int64_t room_id, int64_t offset, int64_t *id) {
    sqlite3_stmt *s = take_prune(st, R_NTH_NEWEST);
    if (!s) return STORE_ERROR;
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_int64(s, 2, offset);
    return int_or_keep(s, id);
}

static int sq_room_oldest(store *st, int64_t room_id, int limit,
                          int (*cb)(int64_t id, int64_t ts, void *ctx), void *ctx) {
    sqlite3_stmt *s = take_prune(st, R_OLDEST);
    if (!s) return STORE_ERROR;
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_int(s, 2, limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), ctx)) break;
    sqlite3_reset(s);
    return status_of(rc);
}

static int sq_room_prune(store *st, int64_t room_id, int64_t upto) {
    int rc = STORE_OK;
    for (int i = R_DELETE; i <= R_MARK && rc == STORE_OK; i++) {
        sqlite3_stmt *s = take_prune(st, i);
        if (!s) return STORE_ERROR;
        sqlite3_bind_int64(s, 1, room_id);
        sqlite3_bind_int64(s, 2, upto);
        rc = run(s);
    }
    return rc;
}

/* Deletes at most limit rows of a bounded-age table (statement id). */
static int prune_rows(store *st, enum prune_stmt id, int64_t older_than, int limit, int *n) {
    *n = 0;
    sqlite3_stmt *s = take_prune(st, id);
    if (!s) return STORE_ERROR;
    sqlite3_bind_int64(s, 1, older_than);
    sqlite3_bind_int(s, 2, limit);
    int rc = run(s);
    if (rc == STORE_OK) *n = sqlite3_changes(sq(st)->db);
    return rc;
}

static int sq_sessions_prune(store *st, int64_t older_than, int limit, int *n) {
    return prune_rows(st, R_SESSIONS, older_than, limit, n);
}

static int sq_control_prune(store *st, int64_t older_than, int limit, int *n) {
    return prune_rows(st, R_CONTROL, older_than, limit, n);
}

static int sq_vacuum(store *st, int pages, int *freed) {
    sq_store *q = sq(st);
    int64_t before = 0, after = 0;
    *freed = 0;
    sqlite3_stmt *s = take_prune(st, R_FREELIST);
    if (!s) return STORE_ERROR;
    int rc = int_or_keep(s, &before);
    if (rc || before == 0) return rc;
    if (q->prune[R_VACUUM] && q->vacuum_pages != pages) {
        sqlite3_finalize(q->prune[R_VACUUM]);
        q->prune[R_VACUUM] = NULL;
    }
    if (!q->prune[R_VACUUM]) {
        /* The page count is the caller's integer, not input. */
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", pages);
        if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->prune[R_VACUUM],
                               NULL) != SQLITE_OK)
            return STORE_ERROR;
        q->vacuum_pages = pages;
    }
    s = q->prune[R_VACUUM];
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    rc = status_of(rc);
    sqlite3_reset(s);
    if (rc == STORE_OK && (s = take_prune(st, R_FREELIST)) == NULL) rc = STORE_ERROR;
    if (rc == STORE_OK) rc = int_or_keep(s, &after);
    *freed = rc == STORE_OK && before > after ? (int)(before - after) : 0;
    return rc;
}

static const store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .errmsg = sq_errmsg,
    .in_transaction = sq_in_transaction,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .room_create = sq_room_create,
    .room_get = sq_room_get,
    .room_find = sq_room_find,
    .room_lookup = sq_room_lookup,
    .room_id = sq_room_id,
    .rooms_list = sq_rooms_list,
    .room_delete = sq_room_delete,
    .message_append = sq_message_append,
    .messages_list = sq_messages_list,
    .log_tail = sq_log_tail,
    .log_head = sq_log_head,
    .process_register = sq_process_register,
    .process_heartbeat = sq_process_heartbeat,
    .process_unregister = sq_process_unregister,
    .process_reap = sq_process_reap,
    .processes_list = sq_processes_list,
    .presence_add = sq_presence_add,
    .presence_remove = sq_presence_remove,
    .presence_remove_sid = sq_presence_remove_sid,
    .presence_users = sq_presence_users,
    .session_save = sq_session_save,
    .session_load = sq_session_load,
    .session_delete = sq_session_delete,
    .session_expire = sq_session_expire,
    .sessions_touch = sq_sessions_touch,
    .user_claim = sq_user_claim,
    .user_claimed = sq_user_claimed,
    .cursor_get = sq_cursor_get,
    .cursor_set = sq_cursor_set,
    .workspace_private = sq_workspace_private,
    .workspace_set_private = sq_workspace_set_private,
    .workspace_exists = sq_workspace_exists,
    .workspace_insert = sq_workspace_insert,
    .budget_get = sq_budget_get,
    .budget_add = sq_budget_add,
    .address_sessions_set = sq_address_sessions_set,
    .address_sessions_elsewhere = sq_address_sessions_elsewhere,
    .control_append = sq_control_append,
    .control_tail = sq_control_tail,
    .control_head = sq_control_head,
    .counts = sq_counts,
    .query = sq_query,
    .room_next = sq_room_next,
    .room_span = sq_room_span,
    .room_nth_newest = sq_room_nth_newest,
    .room_oldest = sq_room_oldest,
    .room_prune = sq_room_prune,
    .sessions_prune = sq_sessions_prune,
    .control_prune = sq_control_prune,
    .vacuum = sq_vacuum,
};
