/* store_pg.c -- the PostgreSQL backend of the store (libpq): the same tables
 * and semantics as the SQLite one, shared by processes on any number of
 * hosts. Prepared statements only; a lost connection makes calls fail with
 * STORE_BUSY and is re-made, with backoff, by a later call. */
#include "store_pg.h"
#include "store.h"
#include "store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char store_schema_pg_sql[]; /* sql/schema_pg.sql, compiled in by the Makefile */

/* Migrations after schema_pg.sql (version 1), in order: pg_migrations[i]
 * takes the database from version i + 1 to i + 2, in migrate()'s transaction
 * with its row in schema_version. A later one appends here. */
static const char *const pg_migrations[] = {
    /* 2: nodes on several hosts (README "Scaling out"): which node on which
     * host a ws process is, for /api/health. */
    "ALTER TABLE processes ADD COLUMN IF NOT EXISTS node text NOT NULL DEFAULT '';"
    "ALTER TABLE processes ADD COLUMN IF NOT EXISTS host text NOT NULL DEFAULT '';",
    NULL, /* the list ends at the first NULL */
};

static int pg_schema_version(void) {
    int v = 1;
    while (pg_migrations[v - 1])
        v++;
    return v;
}

/* How long a reconnect attempt may take, and the waits between attempts. */
#define PG_CONNECT_TIMEOUT_S "3"
#define PG_CONNECT_TIMEOUT_MS 3000
/* The most one call waits for the server while reconnecting: the attempt
 * goes on in later calls, so a dead or slow server never holds chat-ws's
 * event loop (a blocking PQreset held it up to PG_CONNECT_TIMEOUT_S). */
#define PG_RECONNECT_STEP_MS 20
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 5000
/* Most lazily prepared statements of other sql/ modules (store_pg_query). */
#define PG_EXTRA_MAX 24
/* The advisory lock that serialises migrations of one database. */
#define PG_MIGRATE_LOCK "8124170401"
/* The advisory lock of message writers (P_WRITER_LOCK). */
#define PG_WRITER_LOCK "8124170402"

enum pg_stmt {
    P_ROOM_LOCK,
    P_ROOM_COUNT,
    P_ROOM_INSERT,
    P_ROOM_GET,
    P_ROOM_FIND,
    P_ROOM_ID,
    P_ROOMS_LIST,
    P_ROOM_DELETE,
    P_USER_CLAIM,
    P_USER_GET,
    P_MSG_APPEND,
    P_MSG_BY_CLIENT,
    P_MSG_AFTER,
    P_MSG_LATEST,
    P_MSG_BEFORE,
    P_LOG_TAIL,
    P_LOG_HEAD,
    P_PROC_INSERT,
    P_PROC_HEARTBEAT,
    P_PROC_DELETE,
    P_PROC_REAP,
    P_PROC_LIST,
    P_PRES_INSERT,
    P_PRES_DELETE,
    P_PRES_DELETE_SID,
    P_PRES_USERS,
    P_SESS_SAVE,
    P_SESS_LOAD,
    P_SESS_DELETE,
    P_SESS_EXPIRE,
    P_CUR_GET,
    P_CUR_SET,
    P_WS_GET,
    P_WS_SET,
    P_WS_EXISTS,
    P_WS_LOCK,
    P_WS_CREATE,
    P_WRITER_LOCK,
    P_BUDGET_GET,
    P_BUDGET_ADD,
    P_BUDGET_PRUNE,
    P_COUNTS,
    P_CTL_APPEND,
    P_CTL_TAIL,
    P_CTL_HEAD,
    P_COUNT
};

/* A room's columns; alive is the parameter holding the oldest heartbeat that
 * still counts as alive (see schema.sql's ROOM_COLUMNS in store_sqlite.c). */
#define ROOM_COLUMNS(alive)                                                                        \
    "r.id, r.name, r.namespace, r.created_at,"                                                     \
    " (SELECT COUNT(DISTINCT p.\"user\") FROM presence p JOIN processes w ON w.id = p.process_id"  \
    "   WHERE p.room_id = r.id AND w.heartbeat_at > " alive "),"                                   \
    " COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.room_id = r.id), 0), r.pruned_upto"

#define MSG_COLUMNS "m.id, m.room_id, r.name, r.namespace, m.\"user\", m.text, m.client_id, m.ts"

/* Appends one row to a log: its id is the log's head plus one, taken under
 * the head row's lock, which the transaction holds until it ends. */
#define LOG_NEXT(log) "UPDATE log_head SET last = last + 1 WHERE name = '" log "' RETURNING last"

static const char *const pg_sql[P_COUNT] = {
    /* Serialises room creation per namespace, so that counting against the
     * cap and inserting are one step across every connection. */
    [P_ROOM_LOCK] = "SELECT pg_advisory_xact_lock(hashtextextended('room:' || $1::text, 0))",
    [P_ROOM_COUNT] = "SELECT COUNT(*) FROM rooms WHERE namespace = $1",
    [P_ROOM_INSERT] = "INSERT INTO rooms (namespace, name, created_at) VALUES ($1, $2, $3)"
                      " ON CONFLICT (namespace, name) DO NOTHING RETURNING id",
    [P_ROOM_GET] = "SELECT " ROOM_COLUMNS("$2") " FROM rooms r WHERE r.id = $1",
    [P_ROOM_FIND] = "SELECT " ROOM_COLUMNS("$3") " FROM rooms r WHERE r.namespace = $1"
                                                 " AND r.name = $2",
    [P_ROOM_ID] = "SELECT id FROM rooms WHERE namespace = $1 AND name = $2",
    [P_ROOMS_LIST] = "SELECT " ROOM_COLUMNS("$4") " FROM rooms r WHERE r.namespace = $1"
                                                  " AND r.id > $2 ORDER BY r.id LIMIT $3",
    [P_ROOM_DELETE] = "DELETE FROM rooms WHERE id = $1",
    [P_USER_CLAIM] = "INSERT INTO users (name, claimed_at) VALUES ($1, $2)"
                     " ON CONFLICT (name) DO NOTHING",
    [P_USER_GET] = "SELECT claimed_at FROM users WHERE name = $1",
    /* One statement: a retry with a stored client_id answers the stored row
     * (dup), an unknown room inserts nothing, anything else takes the next
     * id. A concurrent twin that commits first makes the insert do nothing;
     * the caller then reads the twin (P_MSG_BY_CLIENT). */
    [P_MSG_APPEND] =
        "WITH dup AS (SELECT id, ts FROM messages"
        "   WHERE $5::text IS NOT NULL AND room_id = $1 AND \"user\" = $2 AND client_id = $5),"
        " head AS (UPDATE log_head SET last = last + 1 WHERE name = 'messages'"
        "   AND NOT EXISTS (SELECT 1 FROM dup) AND EXISTS (SELECT 1 FROM rooms WHERE id = $1)"
        "   RETURNING last),"
        " ins AS (INSERT INTO messages (id, room_id, \"user\", text, ts, client_id)"
        "   SELECT last, $1::bigint, $2::text, $3::text, $4::bigint, $5::text FROM head"
        "   ON CONFLICT (room_id, \"user\", client_id) WHERE client_id IS NOT NULL DO NOTHING"
        "   RETURNING id, ts)"
        " SELECT id, ts, 0 FROM ins UNION ALL SELECT id, ts, 1 FROM dup"
        " UNION ALL SELECT 0, 0, 2 WHERE NOT EXISTS (SELECT 1 FROM rooms WHERE id = $1)",
    [P_MSG_BY_CLIENT] = "SELECT id, ts FROM messages"
                        " WHERE room_id = $1 AND \"user\" = $2 AND client_id = $3",
    [P_MSG_AFTER] = "SELECT " MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
                    " WHERE m.room_id = $1 AND m.id > $2 AND ($3::bigint <= 0 OR m.id < $3)"
                    " ORDER BY m.id LIMIT $4",
    [P_MSG_LATEST] =
        "SELECT * FROM (SELECT " MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
        " WHERE m.room_id = $1 ORDER BY m.id DESC LIMIT $2) t ORDER BY 1",
    [P_MSG_BEFORE] =
        "SELECT * FROM (SELECT " MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
        " WHERE m.room_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3) t"
        " ORDER BY 1",
    [P_LOG_TAIL] = "SELECT " MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
                   " WHERE m.id > $1 ORDER BY m.id LIMIT $2",
    [P_LOG_HEAD] = "SELECT last FROM log_head WHERE name = 'messages'",
    [P_PROC_INSERT] = "INSERT INTO processes (pid, listen, started_at, heartbeat_at, node, host)"
                      " VALUES ($1, $2, $3, $3, $4, $5) RETURNING id",
    [P_PROC_HEARTBEAT] = "UPDATE processes SET heartbeat_at = $2, connections = $3 WHERE id = $1",
    [P_PROC_DELETE] = "DELETE FROM processes WHERE id = $1",
    [P_PROC_REAP] = "DELETE FROM processes WHERE heartbeat_at <= $1",
    [P_PROC_LIST] = "SELECT id, pid, listen, started_at, heartbeat_at, connections, node, host"
                    " FROM processes ORDER BY id",
    [P_PRES_INSERT] = "INSERT INTO presence (process_id, sid, room_id, \"user\", joined_at)"
                      " SELECT $1::bigint, $2::text, $3::bigint, $4::text, $5::bigint"
                      " WHERE EXISTS (SELECT 1 FROM rooms WHERE id = $3)"
                      " AND EXISTS (SELECT 1 FROM processes WHERE id = $1)"
                      " ON CONFLICT (sid, room_id) DO UPDATE SET process_id = excluded.process_id,"
                      " \"user\" = excluded.\"user\", joined_at = excluded.joined_at",
    [P_PRES_DELETE] = "DELETE FROM presence WHERE sid = $1 AND room_id = $2",
    [P_PRES_DELETE_SID] = "DELETE FROM presence WHERE sid = $1",
    [P_PRES_USERS] = "SELECT DISTINCT p.\"user\" COLLATE \"C\" AS u FROM presence p"
                     " JOIN processes w ON w.id = p.process_id"
                     " WHERE p.room_id = $1 AND w.heartbeat_at > $2 ORDER BY 1",
    [P_SESS_SAVE] = "INSERT INTO sessions (pid, sid, namespace, \"user\", rooms, data, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (pid) DO UPDATE SET"
                    " sid = excluded.sid, namespace = excluded.namespace,"
                    " \"user\" = excluded.\"user\", rooms = excluded.rooms, data = excluded.data,"
                    " updated_at = excluded.updated_at",
    [P_SESS_LOAD] = "SELECT pid, sid, namespace, \"user\", rooms, data, updated_at FROM sessions"
                    " WHERE pid = $1 AND updated_at > $2",
    [P_SESS_DELETE] = "DELETE FROM sessions WHERE pid = $1",
    [P_SESS_EXPIRE] = "DELETE FROM sessions WHERE updated_at <= $1",
    [P_CUR_GET] = "SELECT last_id FROM cursors WHERE \"user\" = $1 AND room_id = $2",
    [P_CUR_SET] =
        "INSERT INTO cursors (\"user\", room_id, last_id)"
        " SELECT $1::text, $2::bigint, $3::bigint WHERE EXISTS (SELECT 1 FROM rooms WHERE id = $2)"
        " ON CONFLICT (\"user\", room_id)"
        " DO UPDATE SET last_id = GREATEST(cursors.last_id, excluded.last_id)",
    [P_WS_GET] = "SELECT private FROM workspaces WHERE namespace = $1",
    [P_WS_SET] = "INSERT INTO workspaces (namespace, private, created_at) VALUES ($1, $2, $3)"
                 " ON CONFLICT (namespace) DO UPDATE SET private = excluded.private",
    [P_WS_EXISTS] = "SELECT (EXISTS (SELECT 1 FROM workspaces WHERE namespace = $1)"
                    " OR EXISTS (SELECT 1 FROM rooms WHERE namespace = $1))::int",
    [P_WS_LOCK] = "SELECT pg_advisory_xact_lock(hashtextextended('workspaces', 0))",
    [P_WS_CREATE] =
        "INSERT INTO workspaces (namespace, private, created_at)"
        " SELECT $1::text, 0, $2::bigint WHERE (SELECT COUNT(*) FROM workspaces) < $3::bigint"
        " ON CONFLICT (namespace) DO NOTHING RETURNING 1",
    /* The first lock of a transaction that writes messages (and counts
     * budgets): appends take turns on log_head anyway, and taking this one
     * first keeps every writer's locks in one order (writer, log_head,
     * budget rows), so two batches of messages never deadlock, and budgets
     * are counted by one transaction at a time. */
    [P_WRITER_LOCK] = "SELECT pg_advisory_xact_lock(" PG_WRITER_LOCK ")",
    [P_BUDGET_GET] = "SELECT count FROM budgets WHERE key = $1 AND span = $2 AND start = $3",
    [P_BUDGET_ADD] = "INSERT INTO budgets (key, span, start, count) VALUES ($1, $2, $3, 1)"
                     " ON CONFLICT (key, span, start) DO UPDATE SET count = budgets.count + 1",
    [P_BUDGET_PRUNE] = "DELETE FROM budgets WHERE start + span <= $1",
    [P_COUNTS] = "SELECT (SELECT COUNT(*) FROM rooms),"
                 " (SELECT last FROM log_head WHERE name = 'messages')",
    [P_CTL_APPEND] = "WITH head AS (" LOG_NEXT(
        "control") ")"
                   " INSERT INTO control (id, kind, payload, ts)"
                   " SELECT last, $1::text, $2::text, $3::bigint FROM head RETURNING id",
    [P_CTL_TAIL] = "SELECT id, kind, payload FROM control WHERE id > $1 ORDER BY id LIMIT 1000",
    [P_CTL_HEAD] = "SELECT last FROM log_head WHERE name = 'control'",
};

typedef struct pg_store {
    store base; /* first: a store * is a pg_store * */
    PGconn *conn;
    bool ready;       /* connected, session set up, statements prepared */
    bool in_txn;      /* between begin and commit/rollback */
    bool txn_lost;    /* the connection dropped inside that transaction */
    bool writer;      /* that transaction holds P_WRITER_LOCK */
    int64_t retry_at; /* no reconnect before this time (ms) */
    int backoff_ms;   /* the next wait after a failed reconnect */
    bool connecting;  /* between PQresetStart and the end of its PQresetPoll steps */
    PostgresPollingStatusType polling; /* what the next step waits for */
    int64_t connect_deadline;          /* the attempt fails at this time (ms) */
    int lock_timeout_ms;
    const char *extra[PG_EXTRA_MAX]; /* names prepared by store_pg_query on this connection */
    int nextra;
} pg_store;

static const store_ops pg_ops;
static void pg_close(store *st);

static pg_store *pg(store *st) {
    return (pg_store *)st;
}

PGconn *store_pg_conn(store *st) {
    return st && st->ops == &pg_ops ? pg(st)->conn : NULL;
}

/* ---- results and errors ----------------------------------------------- */

/* Notes msg (libpq's, ends in a newline) as st's error. */
static void pg_note(store *st, const char *what, const char *msg) {
    size_t n = msg ? strcspn(msg, "\n") : 0;
    snprintf(st->err, sizeof st->err, "%s%s%.*s", what, n ? ": " : "", (int)n, msg ? msg : "");
}

/* The connection is gone (or going): later calls reconnect. */
static void pg_lost(pg_store *q) {
    q->ready = false;
    if (q->in_txn) q->txn_lost = true;
}

/* Maps a failed result's SQLSTATE to a status: lock waits, serialization
 * failures, deadlocks, cancels and connection or server shutdown errors are
 * STORE_BUSY (try again); disk full and I/O errors STORE_FULL; integrity
 * violations STORE_EXISTS (as SQLite's SQLITE_CONSTRAINT). */
static int pg_status_of(const char *state) {
    if (!state || strlen(state) != 5) return STORE_BUSY; /* no server answer: the connection */
    if (strncmp(state, "23", 2) == 0) return STORE_EXISTS;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
        strcmp(state, "57014") == 0 || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P", 3) == 0 || strcmp(state, "53300") == 0)
        return STORE_BUSY;
    if (strncmp(state, "53", 2) == 0 || strcmp(state, "58030") == 0) return STORE_FULL;
    return STORE_ERROR;
}

/* The status of r (which may be NULL); notes a failure in st->err. */
static int pg_result_status(pg_store *q, PGresult *r) {
    ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) return STORE_OK;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    pg_note(&q->base, "postgresql", r ? PQresultErrorMessage(r) : PQerrorMessage(q->conn));
    if (PQstatus(q->conn) != CONNECTION_OK) {
        pg_lost(q);
        return STORE_BUSY;
    }
    return pg_status_of(state);
}

/* Whether s is valid UTF-8 (PostgreSQL refuses anything else in text). */
static bool pg_utf8_ok(const char *s) {
    return !s || contract_utf8_len(s, strlen(s)) >= 0;
}

/* ---- the connection --------------------------------------------------- */

static int pg_exec_simple(pg_store *q, const char *sql) {
    PGresult *r = PQexec(q->conn, sql);
    int rc = pg_result_status(q, r);
    PQclear(r);
    return rc;
}

/* Session settings and statements of a new connection. */
static int pg_setup(pg_store *q) {
    char ms[24];
    snprintf(ms, sizeof ms, "%d", q->lock_timeout_ms);
    const char *vals[1] = {ms};
    /* A writer waits for a lock as long as SQLite's busy_timeout, then gets
     * STORE_BUSY. Commits wait for the WAL flush whatever CHAT_SYNC says (both
     * of SQLite's levels map to "on"): no acknowledged message is lost when
     * the server crashes or restarts. */
    PGresult *r = PQexecParams(q->conn,
                               "SELECT set_config('lock_timeout', $1, false),"
                               " set_config('synchronous_commit', 'on', false)",
                               1, NULL, vals, NULL, NULL, 0);
    int rc = pg_result_status(q, r);
    PQclear(r);
    for (int i = 0; i < P_COUNT && rc == STORE_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        r = PQprepare(q->conn, name, pg_sql[i], 0, NULL);
        rc = pg_result_status(q, r);
        if (rc) {
            char what[48];
            snprintf(what, sizeof what, "prepare s%d", i);
            pg_note(&q->base, what, PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    q->nextra = 0;
    return rc;
}

/* Advances a reconnect as far as the server answers within
 * PG_RECONNECT_STEP_MS (PQresetPoll, each step when the socket is ready for
 * it). Returns PGRES_POLLING_OK, _FAILED, or what it still waits for. */
static PostgresPollingStatusType pg_reconnect_step(pg_store *q) {
    int64_t until = store_now_ms() + PG_RECONNECT_STEP_MS;
    for (;;) {
        struct pollfd p = {PQsocket(q->conn),
                           q->polling == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        if (p.fd < 0) return PGRES_POLLING_FAILED;
        int64_t left = until - store_now_ms();
        int n = poll(&p, 1, left > 0 ? (int)left : 0);
        if (n < 0 && errno != EINTR) return PGRES_POLLING_FAILED;
        if (n == 0) return q->polling;
        if (n > 0) q->polling = PQresetPoll(q->conn);
        if (q->polling == PGRES_POLLING_OK || q->polling == PGRES_POLLING_FAILED) return q->polling;
    }
}

/* Makes sure the connection is usable: re-made (PQresetStart, then steps of
 * PQresetPoll in this and later calls) when it dropped, an attempt at most
 * once per backoff period. STORE_BUSY while it is down, and for every call
 * inside a transaction the drop broke, until it ends. */
static int pg_ready(pg_store *q) {
    store *st = &q->base;
    if (q->txn_lost) {
        snprintf(st->err, sizeof st->err, "postgresql: connection lost inside a transaction");
        return STORE_BUSY;
    }
    if (q->ready && PQstatus(q->conn) == CONNECTION_OK) return STORE_OK;
    int64_t now = store_now_ms();
    if (!q->connecting && now < q->retry_at) {
        snprintf(st->err, sizeof st->err, "postgresql: connection lost; reconnecting");
        return STORE_BUSY;
    }
    q->ready = false;
    if (!q->connecting) {
        q->connecting = PQresetStart(q->conn) == 1;
        /* PQresetStart's contract: go on as if PQresetPoll said WRITING */
        q->polling = q->connecting ? PGRES_POLLING_WRITING : PGRES_POLLING_FAILED;
        q->connect_deadline = now + PG_CONNECT_TIMEOUT_MS;
    }
    PostgresPollingStatusType s = q->connecting ? pg_reconnect_step(q) : PGRES_POLLING_FAILED;
    if (s != PGRES_POLLING_OK && s != PGRES_POLLING_FAILED &&
        store_now_ms() < q->connect_deadline) {
        snprintf(st->err, sizeof st->err, "postgresql: connection lost; reconnecting");
        return STORE_BUSY;
    }
    q->connecting = false;
    int rc = STORE_BUSY;
    if (s == PGRES_POLLING_OK)
        rc = pg_setup(q);
    else if (s == PGRES_POLLING_FAILED)
        pg_note(st, "postgresql: reconnect", PQerrorMessage(q->conn));
    else
        snprintf(st->err, sizeof st->err, "postgresql: reconnect: timeout");
    if (rc) {
        q->retry_at = now + q->backoff_ms;
        q->backoff_ms =
            q->backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : q->backoff_ms * 2;
        return STORE_BUSY; /* callers answer "try again" (503, an {error} ack) */
    }
    q->ready = true;
    q->backoff_ms = PG_BACKOFF_MIN_MS;
    q->retry_at = 0;
    return STORE_OK;
}

/* Parameters of one statement call, as text. */
typedef struct pg_args {
    const char *v[8];
    char buf[8][24];
    int n;
} pg_args;

static void arg_i(pg_args *a, int64_t x) {
    snprintf(a->buf[a->n], sizeof a->buf[a->n], "%" PRId64, x);
    a->v[a->n] = a->buf[a->n];
    a->n++;
}

static void arg_s(pg_args *a, const char *s) { /* NULL: SQL NULL */
    a->v[a->n++] = s;
}

/* Runs statement id with args; *out gets the result (PQclear it) when the
 * status is STORE_OK. */
static int pg_run(store *st, enum pg_stmt id, const pg_args *a, PGresult **out) {
    pg_store *q = pg(st);
    *out = NULL;
    int rc = pg_ready(q);
    if (rc) return rc;
    for (int i = 0; a && i < a->n; i++) {
        if (!pg_utf8_ok(a->v[i])) {
            snprintf(st->err, sizeof st->err, "invalid UTF-8 in a parameter");
            return STORE_INVALID;
        }
    }
    char name[16];
    snprintf(name, sizeof name, "s%d", (int)id);
    PGresult *r = PQexecPrepared(q->conn, name, a ? a->n : 0, a ? a->v : NULL, NULL, NULL, 0);
    rc = pg_result_status(q, r);
    if (rc) {
        PQclear(r);
        return rc;
    }
    *out = r;
    return STORE_OK;
}

/* Runs a statement whose rows are not read; *changed (may be NULL) gets the
 * number of rows it wrote. */
static int pg_do(store *st, enum pg_stmt id, const pg_args *a, int64_t *changed) {
    PGresult *r;
    int rc = pg_run(st, id, a, &r);
    if (rc == STORE_OK && changed) *changed = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

static int64_t pg_int(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static const char *pg_text(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* One row of integers: column 0 into *a, column 1 into *b (may be NULL).
 * STORE_NOTFOUND for no row. */
static int pg_row_ints(store *st, enum pg_stmt id, const pg_args *args, int64_t *a, int64_t *b) {
    PGresult *r;
    int rc = pg_run(st, id, args, &r);
    if (rc) return rc;
    if (PQntuples(r) < 1) {
        rc = STORE_NOTFOUND;
    } else {
        *a = pg_int(r, 0, 0);
        if (b) *b = pg_int(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

int store_pg_query(store *st, const char *name, const char *sql, int n, const char *const *params,
                   PGresult **out) {
    pg_store *q = pg(st);
    *out = NULL;
    int rc = pg_ready(q);
    if (rc) return rc;
    for (int i = 0; i < n; i++)
        if (!pg_utf8_ok(params[i])) return STORE_INVALID;
    bool prepared = false;
    for (int i = 0; i < q->nextra && !prepared; i++)
        prepared = strcmp(q->extra[i], name) == 0;
    if (!prepared) {
        if (q->nextra == PG_EXTRA_MAX) {
            snprintf(st->err, sizeof st->err, "postgresql: too many statements");
            return STORE_ERROR;
        }
        PGresult *r = PQprepare(q->conn, name, sql, 0, NULL);
        rc = pg_result_status(q, r);
        PQclear(r);
        if (rc) return rc;
        q->extra[q->nextra++] = name;
    }
    PGresult *r = PQexecPrepared(q->conn, name, n, params, NULL, NULL, 0);
    rc = pg_result_status(q, r);
    if (rc) {
        PQclear(r);
        return rc;
    }
    *out = r;
    return STORE_OK;
}

int store_pg_status(const char *sqlstate) {
    return pg_status_of(sqlstate);
}

/* Applies schema_pg.sql and the migrations the database has not had, in one
 * transaction under an advisory lock, so that processes opening a new
 * database at once end up with one schema. */
static int pg_migrate(pg_store *q) {
    int want = pg_schema_version();
    int rc = pg_exec_simple(q, "BEGIN");
    if (rc) return rc;
    rc = pg_exec_simple(q, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")");
    if (!rc)
        rc = pg_exec_simple(q, "CREATE TABLE IF NOT EXISTS schema_version ("
                               " version integer PRIMARY KEY, applied_at bigint NOT NULL)");
    int version = 0;
    if (!rc) {
        PGresult *r = PQexec(q->conn, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
        rc = pg_result_status(q, r);
        if (!rc) version = (int)pg_int(r, 0, 0);
        PQclear(r);
    }
    if (!rc && version > want) {
        snprintf(q->base.err, sizeof q->base.err,
                 "postgresql: the database has schema version %d, newer than this program's %d",
                 version, want);
        rc = STORE_ERROR;
    }
    if (!rc && version < 1) {
        rc = pg_exec_simple(q, store_schema_pg_sql);
        version = 1;
    }
    for (; !rc && version < want; version++)
        rc = pg_exec_simple(q, pg_migrations[version - 1]);
    for (int v = 1; !rc && v <= want; v++) {
        char num[16], now[24];
        snprintf(num, sizeof num, "%d", v);
        snprintf(now, sizeof now, "%" PRId64, store_now_ms());
        const char *vals[2] = {num, now};
        PGresult *r = PQexecParams(q->conn,
                                   "INSERT INTO schema_version (version, applied_at)"
                                   " VALUES ($1::int, $2::bigint) ON CONFLICT (version) DO NOTHING",
                                   2, NULL, vals, NULL, NULL, 0);
        rc = pg_result_status(q, r);
        PQclear(r);
    }
    if (!rc) return pg_exec_simple(q, "COMMIT");
    char keep[sizeof q->base.err];
    memcpy(keep, q->base.err, sizeof keep);
    pg_exec_simple(q, "ROLLBACK");
    memcpy(q->base.err, keep, sizeof keep);
    return rc;
}

/* Server notices ("relation already exists, skipping") are not errors: no
 * output on stderr. */
static void pg_quiet(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

int store_pg_open(store **out, const char *conninfo, const store_options *opt, char *err,
                  size_t errlen) {
    *out = NULL;
    pg_store *q = calloc(1, sizeof *q);
    if (!q) {
        if (err) snprintf(err, errlen, "out of memory");
        return STORE_ERROR;
    }
    store *st = &q->base;
    st->ops = &pg_ops;
    q->lock_timeout_ms = opt->busy_timeout_ms;
    q->backoff_ms = PG_BACKOFF_MIN_MS;
    /* The URL's own settings win over these defaults (expand_dbname). */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT_S, "chat", conninfo, NULL};
    q->conn = PQconnectdbParams(keys, vals, 1);
    int rc = STORE_ERROR;
    if (!q->conn) {
        snprintf(st->err, sizeof st->err, "out of memory");
        goto fail;
    }
    if (PQstatus(q->conn) != CONNECTION_OK) {
        pg_note(st, "postgresql: connect", PQerrorMessage(q->conn));
        goto fail;
    }
    PQsetNoticeProcessor(q->conn, pg_quiet, NULL);
    if ((rc = pg_migrate(q)) || (rc = pg_setup(q))) goto fail;
    q->ready = true;
    *out = st;
    return STORE_OK;
fail:
    if (err) snprintf(err, errlen, "%s", st->err);
    pg_close(st);
    return rc ? rc : STORE_ERROR;
}

static void pg_close(store *st) {
    if (!st) return;
    PQfinish(pg(st)->conn);
    free(st);
}

static const char *pg_errmsg(const store *st) {
    const pg_store *q = (const pg_store *)st;
    const char *m = q->conn ? PQerrorMessage(q->conn) : NULL;
    return m && *m ? m : "postgresql: no error";
}

/* ---- transactions ----------------------------------------------------- */

static bool pg_in_transaction(store *st) {
    return pg(st)->in_txn;
}

static int pg_begin(store *st) {
    pg_store *q = pg(st);
    if (q->in_txn) {
        snprintf(st->err, sizeof st->err, "a transaction is open already");
        return STORE_ERROR;
    }
    int rc = pg_ready(q);
    if (!rc) rc = pg_exec_simple(q, "BEGIN");
    if (!rc) q->in_txn = true, q->writer = false;
    return rc;
}

static int pg_commit(store *st) {
    pg_store *q = pg(st);
    int rc;
    if (q->txn_lost || !q->ready) {
        snprintf(st->err, sizeof st->err, "postgresql: connection lost inside a transaction");
        rc = STORE_BUSY;
    } else if (PQtransactionStatus(q->conn) == PQTRANS_INERROR) {
        /* a statement failed: COMMIT would only roll back */
        if (!st->err[0])
            snprintf(st->err, sizeof st->err, "the transaction had a failed statement");
        pg_exec_simple(q, "ROLLBACK");
        rc = STORE_ERROR;
    } else {
        PGresult *r = PQexec(q->conn, "COMMIT");
        rc = pg_result_status(q, r);
        if (rc == STORE_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) rc = STORE_ERROR;
        PQclear(r);
        /* a COMMIT that failed leaves no transaction (PostgreSQL ends it) */
        if (rc && PQstatus(q->conn) == CONNECTION_OK &&
            PQtransactionStatus(q->conn) != PQTRANS_IDLE)
            pg_exec_simple(q, "ROLLBACK");
    }
    q->in_txn = q->txn_lost = q->writer = false;
    return rc;
}

static int pg_rollback(store *st) {
    pg_store *q = pg(st);
    int rc = STORE_OK;
    if (q->ready && PQstatus(q->conn) == CONNECTION_OK &&
        PQtransactionStatus(q->conn) != PQTRANS_IDLE)
        rc = pg_exec_simple(q, "ROLLBACK");
    q->in_txn = q->txn_lost = q->writer = false;
    return rc;
}

/* Takes P_WRITER_LOCK once per transaction (none outside one: a single
 * statement holds no other lock while it waits). */
static int pg_writer(store *st) {
    pg_store *q = pg(st);
    if (!q->in_txn || q->writer) return STORE_OK;
    int rc = pg_do(st, P_WRITER_LOCK, NULL, NULL);
    if (rc == STORE_OK) q->writer = true;
    return rc;
}

/* ---- rooms ------------------------------------------------------------ */

static void pg_read_room(PGresult *r, int row, store_room *out) {
    out->id = pg_int(r, row, 0);
    snprintf(out->name, sizeof out->name, "%s", PQgetvalue(r, row, 1));
    snprintf(out->ns, sizeof out->ns, "%s", PQgetvalue(r, row, 2));
    out->created_at = pg_int(r, row, 3);
    out->online = pg_int(r, row, 4);
    out->last_message_id = pg_int(r, row, 5);
    out->pruned_upto = pg_int(r, row, 6);
}

static int pg_one_room(store *st, enum pg_stmt id, const pg_args *a, store_room *out) {
    PGresult *r;
    int rc = pg_run(st, id, a, &r);
    if (rc) return rc;
    if (PQntuples(r) < 1)
        rc = STORE_NOTFOUND;
    else if (out)
        pg_read_room(r, 0, out);
    PQclear(r);
    return rc;
}

static int64_t alive_since(void) {
    return store_now_ms() - STORE_PROCESS_STALE_MS;
}

static int pg_room_get(store *st, int64_t id, store_room *out) {
    pg_args a = {0};
    arg_i(&a, id);
    arg_i(&a, alive_since());
    return pg_one_room(st, P_ROOM_GET, &a, out);
}

static int pg_room_find(store *st, const char *ns, const char *name, store_room *out) {
    pg_args a = {0};
    arg_s(&a, ns);
    arg_s(&a, name);
    arg_i(&a, alive_since());
    return pg_one_room(st, P_ROOM_FIND, &a, out);
}

static int pg_room_id(store *st, const char *ns, const char *name, int64_t *id) {
    pg_args a = {0};
    arg_s(&a, ns);
    arg_s(&a, name);
    return pg_row_ints(st, P_ROOM_ID, &a, id, NULL);
}

static int pg_room_create(store *st, const char *ns, const char *name, int64_t *id) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    pg_args a = {0};
    arg_s(&a, ns);
    rc = pg_do(st, P_ROOM_LOCK, &a, NULL);
    int64_t have = 0;
    if (!rc) rc = pg_row_ints(st, P_ROOM_COUNT, &a, &have, NULL);
    if (!rc && have >= st->max_rooms) rc = STORE_LIMIT;
    if (!rc) {
        arg_s(&a, name);
        arg_i(&a, store_now_ms());
        rc = pg_row_ints(st, P_ROOM_INSERT, &a, id, NULL);
        if (rc == STORE_NOTFOUND) rc = STORE_EXISTS; /* ON CONFLICT DO NOTHING */
    }
    return store_write_end(st, &w, rc);
}

static int pg_rooms_list(store *st, const char *ns, int64_t after, int limit, store_room_cb cb,
                         void *ctx) {
    pg_args a = {0};
    arg_s(&a, ns);
    arg_i(&a, after);
    arg_i(&a, limit);
    arg_i(&a, alive_since());
    PGresult *r;
    int rc = pg_run(st, P_ROOMS_LIST, &a, &r);
    if (rc) return rc;
    store_room room;
    for (int i = 0; i < PQntuples(r); i++) {
        pg_read_room(r, i, &room);
        if (cb(&room, ctx)) break;
    }
    PQclear(r);
    return STORE_OK;
}

static int pg_room_delete(store *st, int64_t id) {
    pg_args a = {0};
    arg_i(&a, id);
    int64_t n = 0;
    int rc = pg_do(st, P_ROOM_DELETE, &a, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

/* ---- messages --------------------------------------------------------- */

static int pg_message_append(store *st, int64_t room_id, const char *user, const char *text,
                             const char *client_id, int64_t *id, int64_t *ts, bool *duplicate) {
    int rc = pg_writer(st);
    if (rc) return rc;
    pg_args a = {0};
    int64_t now = store_now_ms();
    arg_i(&a, room_id);
    arg_s(&a, user);
    arg_s(&a, text);
    arg_i(&a, now);
    arg_s(&a, client_id);
    PGresult *r;
    rc = pg_run(st, P_MSG_APPEND, &a, &r);
    if (rc) return rc;
    int rows = PQntuples(r);
    int64_t kind = rows > 0 ? pg_int(r, 0, 2) : -1;
    if (kind == 0 || kind == 1) {
        *id = pg_int(r, 0, 0);
        *ts = pg_int(r, 0, 1);
        *duplicate = kind == 1;
    }
    PQclear(r);
    if (kind == 2) return STORE_NOTFOUND; /* no such room */
    if (kind >= 0) return STORE_OK;
    /* A concurrent append with the same client_id committed in between: it
     * is the stored one (its committed row is visible to a new statement). */
    pg_args b = {0};
    arg_i(&b, room_id);
    arg_s(&b, user);
    arg_s(&b, client_id);
    rc = pg_row_ints(st, P_MSG_BY_CLIENT, &b, id, ts);
    if (rc == STORE_OK) *duplicate = true;
    return rc == STORE_NOTFOUND ? STORE_BUSY : rc;
}

static int pg_each_message(store *st, enum pg_stmt id, const pg_args *a, store_message_cb cb,
                           void *ctx) {
    PGresult *r;
    int rc = pg_run(st, id, a, &r);
    if (rc) return rc;
    store_message m;
    for (int i = 0; i < PQntuples(r); i++) {
        m.id = pg_int(r, i, 0);
        m.room_id = pg_int(r, i, 1);
        m.room = pg_text(r, i, 2);
        m.ns = pg_text(r, i, 3);
        m.user = pg_text(r, i, 4);
        m.text = pg_text(r, i, 5);
        m.client_id = pg_text(r, i, 6);
        m.ts = pg_int(r, i, 7);
        if (cb(&m, ctx)) break;
    }
    PQclear(r);
    return STORE_OK;
}

static int pg_messages_list(store *st, int64_t room_id, int64_t after, int64_t before, int limit,
                            store_message_cb cb, void *ctx) {
    pg_args a = {0};
    arg_i(&a, room_id);
    if (after >= 0) {
        arg_i(&a, after);
        arg_i(&a, before);
        arg_i(&a, limit);
        return pg_each_message(st, P_MSG_AFTER, &a, cb, ctx);
    }
    if (before > 0) {
        arg_i(&a, before);
        arg_i(&a, limit);
        return pg_each_message(st, P_MSG_BEFORE, &a, cb, ctx);
    }
    arg_i(&a, limit);
    return pg_each_message(st, P_MSG_LATEST, &a, cb, ctx);
}

static int pg_log_tail(store *st, int64_t after, int limit, store_message_cb cb, void *ctx) {
    pg_args a = {0};
    arg_i(&a, after);
    arg_i(&a, limit);
    return pg_each_message(st, P_LOG_TAIL, &a, cb, ctx);
}

static int pg_log_head(store *st, int64_t *id) {
    return pg_row_ints(st, P_LOG_HEAD, NULL, id, NULL);
}

/* ---- processes and presence ------------------------------------------- */

static int pg_process_register(store *st, int64_t pid, const char *listen, const char *node,
                               const char *host, int64_t *id) {
    pg_args a = {0};
    arg_i(&a, pid);
    arg_s(&a, listen);
    arg_i(&a, store_now_ms());
    arg_s(&a, node);
    arg_s(&a, host);
    return pg_row_ints(st, P_PROC_INSERT, &a, id, NULL);
}

static int pg_process_heartbeat(store *st, int64_t id, int64_t connections) {
    pg_args a = {0};
    arg_i(&a, id);
    arg_i(&a, store_now_ms());
    arg_i(&a, connections);
    int64_t n = 0;
    int rc = pg_do(st, P_PROC_HEARTBEAT, &a, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

/* Runs a one-statement write bound to one integer (autocommit, or inside
 * the caller's transaction). */
static int pg_write_int(store *st, enum pg_stmt id, int64_t v) {
    pg_args a = {0};
    arg_i(&a, v);
    return pg_do(st, id, &a, NULL);
}

static int pg_process_unregister(store *st, int64_t id) {
    return pg_write_int(st, P_PROC_DELETE, id);
}

static int pg_process_reap(store *st, int64_t stale_before, int64_t now) {
    int rc = pg_write_int(st, P_PROC_REAP, stale_before);
    return rc ? rc : pg_write_int(st, P_BUDGET_PRUNE, now);
}

static int pg_processes_list(store *st, store_process_cb cb, void *ctx) {
    PGresult *r;
    int rc = pg_run(st, P_PROC_LIST, NULL, &r);
    if (rc) return rc;
    int64_t alive = alive_since();
    store_process p;
    for (int i = 0; i < PQntuples(r); i++) {
        p.id = pg_int(r, i, 0);
        p.pid = pg_int(r, i, 1);
        p.listen = pg_text(r, i, 2);
        p.started_at = pg_int(r, i, 3);
        p.heartbeat_at = pg_int(r, i, 4);
        p.connections = pg_int(r, i, 5);
        p.node = pg_text(r, i, 6);
        p.host = pg_text(r, i, 7);
        p.alive = p.heartbeat_at > alive;
        if (cb(&p, ctx)) break;
    }
    PQclear(r);
    return STORE_OK;
}

static int pg_presence_add(store *st, int64_t process_id, const char *sid, int64_t room_id,
                           const char *user) {
    pg_args a = {0};
    arg_i(&a, process_id);
    arg_s(&a, sid);
    arg_i(&a, room_id);
    arg_s(&a, user);
    arg_i(&a, store_now_ms());
    int64_t n = 0;
    int rc = pg_do(st, P_PRES_INSERT, &a, &n);
    /* an unknown room or process: a foreign key, as SQLite reports it */
    return rc == STORE_OK && n == 0 ? STORE_EXISTS : rc;
}

static int pg_presence_remove(store *st, const char *sid, int64_t room_id) {
    pg_args a = {0};
    arg_s(&a, sid);
    arg_i(&a, room_id);
    return pg_do(st, P_PRES_DELETE, &a, NULL);
}

static int pg_presence_remove_sid(store *st, const char *sid) {
    pg_args a = {0};
    arg_s(&a, sid);
    return pg_do(st, P_PRES_DELETE_SID, &a, NULL);
}

static int pg_presence_users(store *st, int64_t room_id, int (*cb)(const char *user, void *ctx),
                             void *ctx) {
    pg_args a = {0};
    arg_i(&a, room_id);
    arg_i(&a, alive_since());
    PGresult *r;
    int rc = pg_run(st, P_PRES_USERS, &a, &r);
    if (rc) return rc;
    for (int i = 0; i < PQntuples(r); i++)
        if (cb(PQgetvalue(r, i, 0), ctx)) break;
    PQclear(r);
    return STORE_OK;
}

/* ---- sessions --------------------------------------------------------- */

static int pg_session_save(store *st, const store_session *s) {
    pg_args a = {0};
    arg_s(&a, s->pid);
    arg_s(&a, s->sid);
    arg_s(&a, s->ns);
    arg_s(&a, s->user);
    arg_s(&a, s->rooms ? s->rooms : "[]");
    arg_s(&a, s->data ? s->data : "{}");
    arg_i(&a, s->updated_at ? s->updated_at : store_now_ms());
    return pg_do(st, P_SESS_SAVE, &a, NULL);
}

static int pg_session_load(store *st, const char *pid, int64_t updated_after, store_session *out) {
    pg_args a = {0};
    arg_s(&a, pid);
    arg_i(&a, updated_after);
    PGresult *r;
    int rc = pg_run(st, P_SESS_LOAD, &a, &r);
    if (rc) return rc;
    if (PQntuples(r) < 1) {
        rc = STORE_NOTFOUND;
    } else {
        snprintf(out->pid, sizeof out->pid, "%s", PQgetvalue(r, 0, 0));
        snprintf(out->sid, sizeof out->sid, "%s", PQgetvalue(r, 0, 1));
        snprintf(out->ns, sizeof out->ns, "%s", PQgetvalue(r, 0, 2));
        snprintf(out->user, sizeof out->user, "%s", PQgetvalue(r, 0, 3));
        out->rooms = strdup(PQgetvalue(r, 0, 4));
        out->data = strdup(PQgetvalue(r, 0, 5));
        out->updated_at = pg_int(r, 0, 6);
        rc = out->rooms && out->data ? STORE_OK : STORE_ERROR;
        if (rc) store_session_free(out);
    }
    PQclear(r);
    return rc;
}

static int pg_session_delete(store *st, const char *pid) {
    pg_args a = {0};
    arg_s(&a, pid);
    return pg_do(st, P_SESS_DELETE, &a, NULL);
}

static int pg_session_expire(store *st, int64_t updated_before) {
    return pg_write_int(st, P_SESS_EXPIRE, updated_before);
}

/* ---- claimed names, cursors, workspaces ------------------------------- */

static int pg_user_claim(store *st, const char *name) {
    pg_args a = {0};
    arg_s(&a, name);
    arg_i(&a, store_now_ms());
    int64_t n = 0;
    int rc = pg_do(st, P_USER_CLAIM, &a, &n);
    return rc == STORE_OK && n == 0 ? STORE_EXISTS : rc;
}

static int pg_user_claimed(store *st, const char *name, bool *claimed) {
    pg_args a = {0};
    arg_s(&a, name);
    int64_t at = 0;
    int rc = pg_row_ints(st, P_USER_GET, &a, &at, NULL);
    *claimed = rc == STORE_OK;
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int pg_cursor_get(store *st, const char *user, int64_t room_id, int64_t *last_id) {
    pg_args a = {0};
    arg_s(&a, user);
    arg_i(&a, room_id);
    int rc = pg_row_ints(st, P_CUR_GET, &a, last_id, NULL);
    if (rc == STORE_NOTFOUND) {
        *last_id = -1;
        rc = STORE_OK;
    }
    return rc;
}

static int pg_cursor_set(store *st, const char *user, int64_t room_id, int64_t last_id) {
    pg_args a = {0};
    arg_s(&a, user);
    arg_i(&a, room_id);
    arg_i(&a, last_id);
    int64_t n = 0;
    int rc = pg_do(st, P_CUR_SET, &a, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc; /* no such room */
}

static int pg_workspace_private(store *st, const char *ns, bool *is_private) {
    pg_args a = {0};
    arg_s(&a, ns);
    int64_t v = 0;
    int rc = pg_row_ints(st, P_WS_GET, &a, &v, NULL);
    *is_private = rc == STORE_OK && v != 0;
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int pg_workspace_set_private(store *st, const char *ns, bool is_private) {
    pg_args a = {0};
    arg_s(&a, ns);
    arg_i(&a, is_private ? 1 : 0);
    arg_i(&a, store_now_ms());
    return pg_do(st, P_WS_SET, &a, NULL);
}

static int pg_workspace_exists(store *st, const char *ns, bool *exists) {
    pg_args a = {0};
    arg_s(&a, ns);
    int64_t v = 0;
    int rc = pg_row_ints(st, P_WS_EXISTS, &a, &v, NULL);
    *exists = rc == STORE_OK && v != 0;
    return rc;
}

/* Runs inside store_workspace_create's transaction. */
static int pg_workspace_insert(store *st, const char *ns, int64_t max, bool *created) {
    *created = false;
    int rc = pg_do(st, P_WS_LOCK, NULL, NULL);
    if (rc) return rc;
    pg_args a = {0};
    arg_s(&a, ns);
    arg_i(&a, store_now_ms());
    arg_i(&a, max);
    int64_t n = 0;
    rc = pg_do(st, P_WS_CREATE, &a, &n);
    *created = rc == STORE_OK && n == 1;
    return rc;
}

/* ---- write budgets ---------------------------------------------------- */

static int pg_budget_get(store *st, const char *key, int64_t span, int64_t start, int64_t *count) {
    int rc = pg_writer(st);
    if (rc) return rc;
    pg_args a = {0};
    arg_s(&a, key);
    arg_i(&a, span);
    arg_i(&a, start);
    *count = 0;
    rc = pg_row_ints(st, P_BUDGET_GET, &a, count, NULL);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int pg_budget_add(store *st, const char *key, int64_t span, int64_t start) {
    pg_args a = {0};
    arg_s(&a, key);
    arg_i(&a, span);
    arg_i(&a, start);
    return pg_do(st, P_BUDGET_ADD, &a, NULL);
}

static int pg_counts(store *st, int64_t *rooms, int64_t *messages) {
    return pg_row_ints(st, P_COUNTS, NULL, rooms, messages);
}

/* ---- control events --------------------------------------------------- */

static int pg_control_append(store *st, const char *kind, const char *payload, int64_t *id) {
    pg_args a = {0};
    arg_s(&a, kind);
    arg_s(&a, payload);
    arg_i(&a, store_now_ms());
    return pg_row_ints(st, P_CTL_APPEND, &a, id, NULL);
}

static int pg_control_tail(store *st, int64_t after, store_control_cb cb, void *ctx) {
    pg_args a = {0};
    arg_i(&a, after);
    PGresult *r;
    int rc = pg_run(st, P_CTL_TAIL, &a, &r);
    if (rc) return rc;
    for (int i = 0; i < PQntuples(r); i++)
        if (cb(pg_int(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), ctx)) break;
    PQclear(r);
    return STORE_OK;
}

static int pg_control_head(store *st, int64_t *id) {
    return pg_row_ints(st, P_CTL_HEAD, NULL, id, NULL);
}

static const store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .errmsg = pg_errmsg,
    .in_transaction = pg_in_transaction,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .room_create = pg_room_create,
    .room_get = pg_room_get,
    .room_find = pg_room_find,
    .room_id = pg_room_id,
    .rooms_list = pg_rooms_list,
    .room_delete = pg_room_delete,
    .message_append = pg_message_append,
    .messages_list = pg_messages_list,
    .log_tail = pg_log_tail,
    .log_head = pg_log_head,
    .process_register = pg_process_register,
    .process_heartbeat = pg_process_heartbeat,
    .process_unregister = pg_process_unregister,
    .process_reap = pg_process_reap,
    .processes_list = pg_processes_list,
    .presence_add = pg_presence_add,
    .presence_remove = pg_presence_remove,
    .presence_remove_sid = pg_presence_remove_sid,
    .presence_users = pg_presence_users,
    .session_save = pg_session_save,
    .session_load = pg_session_load,
    .session_delete = pg_session_delete,
    .session_expire = pg_session_expire,
    .user_claim = pg_user_claim,
    .user_claimed = pg_user_claimed,
    .cursor_get = pg_cursor_get,
    .cursor_set = pg_cursor_set,
    .workspace_private = pg_workspace_private,
    .workspace_set_private = pg_workspace_set_private,
    .workspace_exists = pg_workspace_exists,
    .workspace_insert = pg_workspace_insert,
    .budget_get = pg_budget_get,
    .budget_add = pg_budget_add,
    .control_append = pg_control_append,
    .control_tail = pg_control_tail,
    .control_head = pg_control_head,
    .counts = pg_counts,
};
