/* webhook_store.c -- outgoing webhooks on either backend (webhook_store.h).
 * Every write of the sender's side names the lease owner, so a process that
 * lost its lease (stalled past lease_until) changes nothing. */
#include "webhook_store.h"

#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "store_query.h"

static const char *const event_names[] = {"chat message", "message edited", "message deleted"};

const char *webhook_event_name(int kind) {
    return kind >= 0 && kind <= STORE_EVENT_DELETE ? event_names[kind] : NULL;
}

int webhook_event_bit(const char *name) {
    for (int i = 0; name && i <= STORE_EVENT_DELETE; i++)
        if (strcmp(name, event_names[i]) == 0) return 1 << i;
    return 0;
}

#define WEBHOOK_COLUMNS                                                                            \
    "id, namespace, url, events, log_cursor, batch_upto, attempts, failing_since, next_at,"        \
    " last_status, delivered, created_at, last_error, parked"

typedef struct webhook_read {
    webhook_cb cb;
    void *ctx;
    bool found;
} webhook_read;

static int webhook_row(const ms_row *r, void *ctx) {
    webhook_read *rd = ctx;
    webhook w = {
        .id = ms_int(r, 0),
        .ns = ms_text(r, 1),
        .url = ms_text(r, 2),
        .events = (int)ms_int(r, 3),
        .cursor = ms_int(r, 4),
        .batch_upto = ms_int(r, 5),
        .attempts = ms_int(r, 6),
        .failing_since = ms_int(r, 7),
        .next_at = ms_int(r, 8),
        .last_status = ms_int(r, 9),
        .delivered = ms_int(r, 10),
        .created_at = ms_int(r, 11),
        .last_error = ms_text(r, 12),
        .parked = ms_int(r, 13) != 0,
    };
    rd->found = true;
    return rd->cb(&w, rd->ctx);
}

int webhook_create(store *st, const char *ns, const char *url, int events, const char *secret,
                   int64_t *id) {
    int64_t head = 0, count = 0;
    store_write_scope w;
    ms_args a = {0};
    int rc;

    if (!store_valid_namespace(ns) || !url || strlen(url) > WEBHOOK_URL_MAX || events <= 0 ||
        (events & ~WEBHOOK_EV_ALL) || !secret)
        return STORE_INVALID;
    rc = store_write_begin(st, &w);
    if (rc != STORE_OK) return rc;
    ms_s(&a, ns);
    rc = ms_run(st, "wh_count", "SELECT count(*) FROM webhooks WHERE namespace = $1", NULL, &a,
                ms_first_int, &count, NULL);
    if (rc == STORE_OK && count >= WEBHOOKS_PER_NAMESPACE_MAX) rc = STORE_LIMIT;
    if (rc == STORE_OK)
        rc = ms_run(st, "wh_head", "SELECT coalesce(max(id), 0) FROM messages", NULL, NULL,
                    ms_first_int, &head, NULL);
    if (rc == STORE_OK) {
        ms_s(&a, url);
        ms_i(&a, events);
        ms_s(&a, secret);
        ms_i(&a, head);
        ms_i(&a, store_now_ms());
        rc = ms_run(st, "wh_create",
                    "INSERT INTO webhooks (namespace, url, events, secret, log_cursor, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    NULL, &a, ms_first_int, id, NULL);
    }
    return store_write_end(st, &w, rc);
}

int webhook_list(store *st, const char *ns, webhook_cb cb, void *ctx) {
    webhook_read rd = {cb, ctx, false};
    ms_args a = {0};

    if (!ns)
        return ms_run(st, "wh_list_all", "SELECT " WEBHOOK_COLUMNS " FROM webhooks ORDER BY id",
                      NULL, NULL, webhook_row, &rd, NULL);
    ms_s(&a, ns);
    return ms_run(st, "wh_list",
                  "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE namespace = $1 ORDER BY id", NULL,
                  &a, webhook_row, &rd, NULL);
}

int webhook_get(store *st, int64_t id, webhook_cb cb, void *ctx) {
    webhook_read rd = {cb, ctx, false};
    ms_args a = {0};

    ms_i(&a, id);
    int rc = ms_run(st, "wh_get", "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE id = $1", NULL,
                    &a, webhook_row, &rd, NULL);
    return rc == STORE_OK && !rd.found ? STORE_NOTFOUND : rc;
}

/* Runs a write on webhook id; STORE_NOTFOUND when it changed no row. */
static int webhook_write(store *st, const char *name, const char *sql, const ms_args *a) {
    int64_t changed = 0;
    int rc = ms_run(st, name, sql, NULL, a, NULL, NULL, &changed);
    return rc == STORE_OK && changed == 0 ? STORE_NOTFOUND : rc;
}

int webhook_delete(store *st, int64_t id) {
    ms_args a = {0};
    ms_i(&a, id);
    return webhook_write(st, "wh_delete", "DELETE FROM webhooks WHERE id = $1", &a);
}

int webhook_unpark(store *st, int64_t id) {
    ms_args a = {0};
    ms_i(&a, id);
    return webhook_write(st, "wh_unpark",
                         "UPDATE webhooks SET parked = 0, attempts = 0, failing_since = 0,"
                         " next_at = 0 WHERE id = $1",
                         &a);
}

/* ---- the sender's side ------------------------------------------------ */

typedef struct due_ctx {
    int64_t *ids;
    int max, n;
} due_ctx;

static int due_row(const ms_row *r, void *ctx) {
    due_ctx *d = ctx;
    d->ids[d->n++] = ms_int(r, 0);
    return d->n >= d->max;
}

int webhook_due(store *st, int64_t now, int64_t *ids, int max, int *n) {
    due_ctx d = {ids, max, 0};
    ms_args a = {0};

    ms_i(&a, now);
    int rc = ms_run(st, "wh_due",
                    "SELECT w.id FROM webhooks w WHERE w.parked = 0 AND w.next_at <= $1"
                    " AND w.lease_until <= $1 AND EXISTS (SELECT 1 FROM messages m"
                    " JOIN rooms r ON r.id = m.room_id WHERE m.id > w.log_cursor"
                    " AND r.namespace = w.namespace AND ((w.events >> m.kind) & 1) = 1)"
                    " ORDER BY w.next_at, w.id",
                    NULL, &a, due_row, &d, NULL);
    *n = d.n;
    return rc;
}

int webhook_lease(store *st, int64_t id, const char *owner, int64_t now, int64_t until, bool *got) {
    int64_t changed = 0;
    ms_args a = {0};

    ms_i(&a, id);
    ms_s(&a, owner);
    ms_i(&a, now);
    ms_i(&a, until);
    int rc = ms_run(st, "wh_lease",
                    "UPDATE webhooks SET lease_owner = $2, lease_until = $4 WHERE id = $1"
                    " AND parked = 0 AND (lease_owner = $2 OR lease_until <= $3)",
                    NULL, &a, NULL, NULL, &changed);
    *got = rc == STORE_OK && changed == 1;
    return rc;
}

int webhook_release(store *st, int64_t id, const char *owner) {
    ms_args a = {0};
    ms_i(&a, id);
    ms_s(&a, owner);
    return ms_run(st, "wh_release",
                  "UPDATE webhooks SET lease_owner = '', lease_until = 0"
                  " WHERE id = $1 AND lease_owner = $2",
                  NULL, &a, NULL, NULL, NULL);
}

typedef struct batch_ctx {
    webhook_event_cb cb;
    void *ctx;
    char *secret;
} batch_ctx;

static int batch_row(const ms_row *r, void *ctx) {
    batch_ctx *b = ctx;
    webhook_event e = {
        .id = ms_int(r, 0),
        .kind = (int)ms_int(r, 1),
        .target = ms_int(r, 2),
        .ts = ms_int(r, 3),
        .user = ms_text(r, 4),
        .text = ms_text(r, 5),
        .room = ms_text(r, 6),
        .room_id = ms_int(r, 7),
    };
    return b->cb(&e, b->ctx);
}

static int secret_row(const ms_row *r, void *ctx) {
    const char *s = ms_text(r, 0);
    snprintf(ctx, WEBHOOK_SECRET_HEX + 1, "%s", s ? s : "");
    return 1;
}

int webhook_batch(store *st, int64_t id, int limit, char *secret, webhook_event_cb cb, void *ctx) {
    batch_ctx b = {cb, ctx, secret};
    ms_args a = {0};

    secret[0] = '\0';
    ms_i(&a, id);
    int rc = ms_run(st, "wh_secret", "SELECT secret FROM webhooks WHERE id = $1", NULL, &a,
                    secret_row, secret, NULL);
    if (rc != STORE_OK) return rc;
    if (!secret[0]) return STORE_NOTFOUND;
    ms_i(&a, limit);
    return ms_run(st, "wh_batch",
                  "SELECT m.id, m.kind, coalesce(m.target, 0), m.ts, m.\"user\", m.text, r.name,"
                  " r.id FROM webhooks w JOIN rooms r ON r.namespace = w.namespace"
                  " JOIN messages m ON m.room_id = r.id WHERE w.id = $1 AND m.id > w.log_cursor"
                  " AND (w.batch_upto = 0 OR m.id <= w.batch_upto)"
                  " AND ((w.events >> m.kind) & 1) = 1 ORDER BY m.id LIMIT $2",
                  NULL, &a, batch_row, &b, NULL);
}

int webhook_batch_fix(store *st, int64_t id, const char *owner, int64_t upto) {
    ms_args a = {0};
    ms_i(&a, id);
    ms_s(&a, owner);
    ms_i(&a, upto);
    return webhook_write(st, "wh_batch_fix",
                         "UPDATE webhooks SET batch_upto = $3 WHERE id = $1 AND lease_owner = $2",
                         &a);
}

int webhook_delivered(store *st, int64_t id, const char *owner, int64_t upto, int64_t n, int status,
                      bool *held) {
    ms_args a = {0};
    ms_i(&a, id);
    ms_s(&a, owner);
    ms_i(&a, upto);
    ms_i(&a, n);
    ms_i(&a, status);
    int rc = webhook_write(st, "wh_delivered",
                           "UPDATE webhooks SET log_cursor = $3, batch_upto = 0, attempts = 0,"
                           " failing_since = 0, next_at = 0, last_status = $5, last_error = '',"
                           " delivered = delivered + $4 WHERE id = $1 AND lease_owner = $2",
                           &a);
    *held = rc == STORE_OK;
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int webhook_failed(store *st, int64_t id, const char *owner, int status, const char *error,
                   int64_t now, int64_t next_at, int64_t max_attempts, int64_t park_after_ms) {
    ms_args a = {0};
    ms_i(&a, id);
    ms_s(&a, owner);
    ms_i(&a, status);
    ms_s(&a, error);
    ms_i(&a, now);
    ms_i(&a, next_at);
    ms_i(&a, max_attempts);
    ms_i(&a, park_after_ms);
    int rc = webhook_write(
        st, "wh_failed",
        "UPDATE webhooks SET attempts = attempts + 1, last_status = $3, last_error = $4,"
        " failing_since = CASE WHEN failing_since = 0 THEN $5 ELSE failing_since END,"
        " next_at = $6, parked = CASE WHEN attempts + 1 >= $7 OR (failing_since > 0 AND"
        " $5 - failing_since >= $8) THEN 1 ELSE 0 END WHERE id = $1 AND lease_owner = $2",
        &a);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}
