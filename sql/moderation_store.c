/* moderation_store.c -- roles, sanctions, the audit log and message edits and
 * deletions on either backend. The statements are written once in the SQL
 * both engines read ($n parameters, "user" quoted, no casts); the few that
 * differ (appending to the log) have one text per engine. None of them is on
 * a hot path: SQLite prepares each per call, PostgreSQL once per connection
 * (store_query.h). */
#include "moderation_store.h"

#include <jansson.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "store_query.h"

/* ---- roles ------------------------------------------------------------ */

static const char *const role_names[] = {"member", "moderator", "owner"};

const char *modstore_role_name(int role) {
    return role >= 0 && role <= MODSTORE_ROLE_OWNER ? role_names[role] : NULL;
}

int modstore_role_parse(const char *name) {
    for (int i = 0; name && i <= MODSTORE_ROLE_OWNER; i++)
        if (strcmp(name, role_names[i]) == 0) return i;
    return -1;
}

static int role_of_row(const ms_row *w, void *ctx) {
    *(int *)ctx = modstore_role_parse(ms_text(w, 0));
    return 1;
}

int modstore_role_get(store *st, const char *ns, const char *user, int *role) {
    ms_args a = {0};
    ms_s(&a, ns);
    ms_s(&a, user);
    *role = MODSTORE_ROLE_MEMBER;
    int rc =
        ms_run(st, "mod_role_get", "SELECT role FROM roles WHERE namespace = $1 AND \"user\" = $2",
               NULL, &a, role_of_row, role, NULL);
    if (*role < 0) *role = MODSTORE_ROLE_MEMBER;
    return rc;
}

int modstore_role_set(store *st, const char *ns, const char *user, int role, const char *by) {
    if (!store_valid_namespace(ns) || !store_valid_user_name(user) || !modstore_role_name(role))
        return STORE_INVALID;
    ms_args a = {0};
    ms_s(&a, ns);
    ms_s(&a, user);
    if (role == MODSTORE_ROLE_MEMBER)
        return ms_run(st, "mod_role_del",
                      "DELETE FROM roles WHERE namespace = $1 AND \"user\" = $2", NULL, &a, NULL,
                      NULL, NULL);
    ms_s(&a, modstore_role_name(role));
    ms_s(&a, by);
    ms_i(&a, store_now_ms());
    return ms_run(st, "mod_role_set",
                  "INSERT INTO roles (namespace, \"user\", role, granted_by, granted_at)"
                  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace, \"user\") DO UPDATE"
                  " SET role = excluded.role, granted_by = excluded.granted_by,"
                  " granted_at = excluded.granted_at",
                  NULL, &a, NULL, NULL, NULL);
}

int modstore_owner_claim(store *st, const char *ns, const char *user, bool *granted) {
    if (!store_valid_namespace(ns) || !store_valid_user_name(user)) return STORE_INVALID;
    ms_args a = {0};
    ms_s(&a, ns);
    ms_s(&a, user);
    ms_i(&a, store_now_ms());
    int64_t n = 0;
    int rc = ms_run(st, "mod_owner_claim",
                    "INSERT INTO roles (namespace, \"user\", role, granted_by, granted_at)"
                    " SELECT $1, $2, 'owner', 'creator', $3 WHERE NOT EXISTS"
                    " (SELECT 1 FROM roles WHERE namespace = $1 AND role = 'owner')"
                    " ON CONFLICT (namespace, \"user\") DO NOTHING",
                    "INSERT INTO roles (namespace, \"user\", role, granted_by, granted_at)"
                    " SELECT $1::text, $2::text, 'owner', 'creator', $3::bigint WHERE NOT EXISTS"
                    " (SELECT 1 FROM roles WHERE namespace = $1 AND role = 'owner')"
                    " ON CONFLICT (namespace, \"user\") DO NOTHING",
                    &a, NULL, NULL, &n);
    *granted = rc == STORE_OK && n > 0;
    return rc;
}

typedef struct roles_ctx {
    modstore_role_cb cb;
    void *ctx;
} roles_ctx;

static int role_row(const ms_row *w, void *ctx) {
    roles_ctx *r = ctx;
    return r->cb(ms_text(w, 0), modstore_role_parse(ms_text(w, 1)), ms_text(w, 2), ms_int(w, 3),
                 r->ctx);
}

int modstore_roles_list(store *st, const char *ns, modstore_role_cb cb, void *ctx) {
    ms_args a = {0};
    ms_s(&a, ns);
    roles_ctx r = {cb, ctx};
    return ms_run(st, "mod_roles_list",
                  "SELECT \"user\", role, granted_by, granted_at FROM roles WHERE namespace = $1"
                  " ORDER BY \"user\"",
                  NULL, &a, role_row, &r, NULL);
}

/* ---- sanctions -------------------------------------------------------- */

static bool valid_kind(const char *kind) {
    return kind && (strcmp(kind, "mute") == 0 || strcmp(kind, "ban") == 0);
}

int modstore_sanction_put(store *st, const modstore_sanction *s) {
    if (!valid_kind(s->kind) || !store_valid_namespace(s->ns) || !s->user || !s->address)
        return STORE_INVALID;
    ms_args a = {0};
    ms_s(&a, s->ns);
    ms_s(&a, s->kind);
    ms_s(&a, s->user);
    ms_s(&a, s->address);
    ms_i(&a, s->until);
    ms_s(&a, s->by ? s->by : "");
    ms_s(&a, s->reason ? s->reason : "");
    ms_i(&a, s->at);
    ms_i(&a, s->with_address);
    return ms_run(
        st, "mod_sanction_put",
        "INSERT INTO sanctions (namespace, kind, \"user\", address, until, given_by, reason,"
        " at, with_address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (namespace, kind, \"user\", address) DO UPDATE SET"
        " until = excluded.until, given_by = excluded.given_by, reason = excluded.reason,"
        " at = excluded.at, with_address = excluded.with_address",
        NULL, &a, NULL, NULL, NULL);
}

int modstore_sanction_lift(store *st, const char *ns, const char *kind, const char *user, int *n) {
    if (!valid_kind(kind)) return STORE_INVALID;
    ms_args a = {0};
    ms_s(&a, ns);
    ms_s(&a, kind);
    ms_s(&a, user);
    int64_t changed = 0;
    int rc = ms_run(st, "mod_sanction_lift",
                    "DELETE FROM sanctions WHERE namespace = $1 AND kind = $2 AND \"user\" = $3",
                    NULL, &a, NULL, NULL, &changed);
    if (n) *n = (int)changed;
    return rc;
}

int modstore_sanction_until(store *st, const char *ns, const char *kind, const char *user,
                            const char *address, int64_t now, int64_t *until) {
    ms_args a = {0};
    ms_s(&a, ns);
    ms_s(&a, kind);
    ms_s(&a, user ? user : "");
    ms_s(&a, address && *address ? address : "");
    ms_i(&a, now);
    *until = 0;
    return ms_run(
        st, "mod_sanction_until",
        "SELECT COALESCE(MAX(until), 0) FROM sanctions WHERE namespace = $1 AND kind = $2"
        " AND until > $5 AND ((\"user\" = $3 AND $3 <> '') OR (address = $4 AND $4 <> ''))",
        NULL, &a, ms_first_int, until, NULL);
}

typedef struct sanctions_ctx {
    modstore_sanction_cb cb;
    void *ctx;
} sanctions_ctx;

static int sanction_row(const ms_row *w, void *ctx) {
    sanctions_ctx *c = ctx;
    modstore_sanction s = {.ns = ms_text(w, 0),
                           .kind = ms_text(w, 1),
                           .user = ms_text(w, 2),
                           .address = ms_text(w, 3),
                           .until = ms_int(w, 4),
                           .by = ms_text(w, 5),
                           .reason = ms_text(w, 6),
                           .at = ms_int(w, 7),
                           .with_address = ms_int(w, 8) != 0};
    return c->cb(&s, c->ctx);
}

int modstore_sanctions_active(store *st, const char *ns, int64_t now, modstore_sanction_cb cb,
                              void *ctx) {
    ms_args a = {0};
    ms_i(&a, now);
    if (ns) ms_s(&a, ns); /* none: every namespace */
    sanctions_ctx c = {cb, ctx};
    return ms_run(st, ns ? "mod_sanctions_ns" : "mod_sanctions_all",
                  ns ? "SELECT namespace, kind, \"user\", address, until, given_by, reason, at,"
                       " with_address FROM sanctions WHERE until > $1 AND namespace = $2"
                       " ORDER BY id"
                     : "SELECT namespace, kind, \"user\", address, until, given_by, reason, at,"
                       " with_address FROM sanctions WHERE until > $1 ORDER BY id",
                  NULL, &a, sanction_row, &c, NULL);
}

int64_t modstore_sanction_end(const char *kind, int64_t duration_ms, int64_t now) {
    if (duration_ms >= 0) return now + duration_ms;
    if (strcmp(kind, "ban") == 0) return MODSTORE_FOREVER;
    return now + contract_default(CONTRACT_SANCTION_MINUTES) * 60000;
}

int modstore_sanction_give(store *st, const modstore_sanction *s, bool lift) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    rc = lift ? modstore_sanction_lift(st, s->ns, s->kind, s->user, NULL)
              : modstore_sanction_put(st, s);
    if (rc == STORE_OK) {
        char action[16];
        snprintf(action, sizeof action, "%s%s", lift ? "un" : "", s->kind);
        json_t *d = lift ? json_object()
                         : json_pack("{s:I,s:s,s:b}", "until", (json_int_t)s->until, "reason",
                                     s->reason ? s->reason : "", "address", s->with_address);
        char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        rc = detail ? modstore_audit_add(st, s->ns, s->by, action, s->user, detail) : STORE_ERROR;
        free(detail);
    }
    return store_write_end(st, &w, rc);
}

/* ---- audit ------------------------------------------------------------ */

int modstore_audit_add(store *st, const char *ns, const char *actor, const char *action,
                       const char *target, const char *detail) {
    ms_args a = {0};
    ms_s(&a, ns);
    ms_s(&a, actor);
    ms_s(&a, action);
    ms_s(&a, target ? target : "");
    ms_s(&a, detail ? detail : "{}");
    ms_i(&a, store_now_ms());
    return ms_run(st, "mod_audit_add",
                  "INSERT INTO audit (namespace, actor, action, target, detail, ts)"
                  " VALUES ($1, $2, $3, $4, $5, $6)",
                  NULL, &a, NULL, NULL, NULL);
}

typedef struct audit_ctx {
    modstore_audit_cb cb;
    void *ctx;
} audit_ctx;

static int audit_row(const ms_row *w, void *ctx) {
    audit_ctx *c = ctx;
    modstore_audit e = {ms_int(w, 0),  ms_text(w, 1), ms_text(w, 2), ms_text(w, 3),
                        ms_text(w, 4), ms_text(w, 5), ms_int(w, 6)};
    return c->cb(&e, c->ctx);
}

int modstore_audit_list(store *st, const char *ns, int64_t after, int limit, modstore_audit_cb cb,
                        void *ctx) {
    ms_args a = {0};
    ms_i(&a, after);
    ms_i(&a, limit);
    if (ns) ms_s(&a, ns);
    audit_ctx c = {cb, ctx};
    return ms_run(st, ns ? "mod_audit_ns" : "mod_audit_all",
                  ns ? "SELECT id, namespace, actor, action, target, detail, ts FROM audit"
                       " WHERE id > $1 AND namespace = $3 ORDER BY id LIMIT $2"
                     : "SELECT id, namespace, actor, action, target, detail, ts FROM audit"
                       " WHERE id > $1 ORDER BY id LIMIT $2",
                  NULL, &a, audit_row, &c, NULL);
}

/* ---- edits and deletions ---------------------------------------------- */

/* A log row's columns, as store.c's readers take them. */
#define MS_MSG_COLUMNS                                                                             \
    "m.id, m.room_id, r.name, r.namespace, m.\"user\", m.text, m.client_id, m.ts, m.kind,"         \
    " COALESCE(m.target, 0), COALESCE(m.edited_at, 0)"

typedef struct msg_ctx {
    store_message_cb cb;
    void *ctx;
} msg_ctx;

static int msg_row(const ms_row *w, void *ctx) {
    msg_ctx *c = ctx;
    store_message m = {.id = ms_int(w, 0),
                       .room_id = ms_int(w, 1),
                       .room = ms_text(w, 2),
                       .ns = ms_text(w, 3),
                       .user = ms_text(w, 4),
                       .text = ms_text(w, 5),
                       .client_id = ms_text(w, 6),
                       .ts = ms_int(w, 7),
                       .kind = (int)ms_int(w, 8),
                       .target = ms_int(w, 9),
                       .edited_at = ms_int(w, 10)};
    return c->cb(&m, c->ctx);
}

typedef struct get_ctx {
    store_message_cb cb;
    void *ctx;
    bool found;
} get_ctx;

static int get_row(const store_message *m, void *ctx) {
    get_ctx *g = ctx;
    g->found = true;
    g->cb(m, g->ctx);
    return 1;
}

int modstore_message_get(store *st, int64_t id, store_message_cb cb, void *ctx) {
    ms_args a = {0};
    ms_i(&a, id);
    get_ctx g = {cb, ctx, false};
    msg_ctx c = {get_row, &g};
    int rc = ms_run(st, "mod_msg_get",
                    "SELECT " MS_MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
                    " WHERE m.id = $1 AND m.kind = 0",
                    NULL, &a, msg_row, &c, NULL);
    return rc ? rc : g.found ? STORE_OK : STORE_NOTFOUND;
}

/* Appends an event row (kind, of message target in room_id) by user; *id
 * and *ts are its. PostgreSQL takes the log's next id under the writers'
 * lock and the head row's lock, as store_pg.c's appends do. */
static int append_event(store *st, int64_t room_id, const char *user, const char *text, int kind,
                        int64_t target, int64_t *id, int64_t *ts) {
    if (st->ops->lock_writers) {
        int rc = st->ops->lock_writers(st);
        if (rc) return rc;
    }
    ms_args a = {0};
    *ts = store_now_ms();
    ms_i(&a, room_id);
    ms_s(&a, user);
    ms_s(&a, text);
    ms_i(&a, *ts);
    ms_i(&a, kind);
    ms_i(&a, target);
    *id = 0;
    int rc = ms_run(st, "mod_event_append",
                    "INSERT INTO messages (room_id, \"user\", text, ts, kind, target)"
                    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    "WITH head AS (UPDATE log_head SET last = last + 1 WHERE name = 'messages'"
                    " RETURNING last)"
                    " INSERT INTO messages (id, room_id, \"user\", text, ts, kind, target)"
                    " SELECT last, $1::bigint, $2::text, $3::text, $4::bigint, $5::integer,"
                    " $6::bigint FROM head RETURNING id",
                    &a, ms_first_int, id, NULL);
    return rc ? rc : *id > 0 ? STORE_OK : STORE_ERROR;
}

static int found_row(const store_message *msg, void *ctx) {
    modstore_found *f = ctx;
    f->m = *msg;
    snprintf(f->room, sizeof f->room, "%s", msg->room ? msg->room : "");
    snprintf(f->ns, sizeof f->ns, "%s", msg->ns ? msg->ns : "");
    snprintf(f->user, sizeof f->user, "%s", msg->user ? msg->user : "");
    f->m.room = f->room;
    f->m.ns = f->ns;
    f->m.user = f->user;
    f->m.text = f->m.client_id = NULL;
    return 1;
}

int modstore_message_find(store *st, int64_t id, modstore_found *out) {
    return modstore_message_get(st, id, found_row, out);
}

store_message modstore_event_row(const modstore_found *f, int kind, const char *user,
                                 const char *text, int64_t event_id, int64_t ts) {
    return (store_message){.id = event_id,
                           .room_id = f->m.room_id,
                           .room = f->room,
                           .ns = f->ns,
                           .user = user,
                           .text = text,
                           .ts = ts,
                           .kind = kind,
                           .target = f->m.id};
}

int modstore_message_edit(store *st, int64_t id, const char *user, const char *text,
                          int64_t *event_id, int64_t *ts) {
    if (!store_valid_text(text)) return STORE_INVALID;
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    modstore_found t;
    rc = modstore_message_find(st, id, &t);
    if (rc == STORE_OK && strcmp(t.user, user) != 0) rc = STORE_NOTFOUND;
    if (rc == STORE_OK)
        rc = append_event(st, t.m.room_id, user, text, STORE_EVENT_EDIT, id, event_id, ts);
    if (rc == STORE_OK) {
        ms_args a = {0};
        ms_i(&a, id);
        ms_s(&a, text);
        ms_i(&a, *ts);
        rc = ms_run(st, "mod_msg_edit",
                    "UPDATE messages SET text = $2, edited_at = $3 WHERE id = $1", NULL, &a, NULL,
                    NULL, NULL);
    }
    return store_write_end(st, &w, rc);
}

int modstore_message_delete(store *st, int64_t id, const char *actor, int64_t *event_id,
                            int64_t *ts) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    modstore_found t;
    rc = modstore_message_find(st, id, &t);
    if (rc == STORE_OK) {
        /* the message and every edit of it: no copy of its text stays */
        ms_args a = {0};
        ms_i(&a, id);
        rc = ms_run(st, "mod_msg_delete",
                    "DELETE FROM messages WHERE id = $1 OR (target = $1 AND kind = 1)", NULL, &a,
                    NULL, NULL, NULL);
    }
    if (rc == STORE_OK)
        rc = append_event(st, t.m.room_id, actor, "", STORE_EVENT_DELETE, id, event_id, ts);
    return store_write_end(st, &w, rc);
}

int modstore_room_log(store *st, int64_t room_id, int64_t after, int limit, store_message_cb cb,
                      void *ctx) {
    if (limit > STORE_LIST_MAX) limit = STORE_LIST_MAX;
    ms_args a = {0};
    ms_i(&a, room_id);
    ms_i(&a, after);
    ms_i(&a, limit);
    msg_ctx c = {cb, ctx};
    return ms_run(st, "mod_room_log",
                  "SELECT " MS_MSG_COLUMNS " FROM messages m JOIN rooms r ON r.id = m.room_id"
                  " WHERE m.room_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3",
                  NULL, &a, msg_row, &c, NULL);
}
