/* retention.c -- retention settings and the pruner that deletes, in small steps, what they no
 * longer keep. The algorithm is here, once; each backend runs its statements
 * (store_ops: room_next ... vacuum), and the settings are store_query.h's
 * statements on either engine. */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "store_query.h"

#define DAY_MS 86400000LL

/* The settings' statements: one text for both engines but where a
 * PostgreSQL parameter in a multi-row VALUES needs its type. */
static const char SQL_DEF_GET[] =
    "SELECT COALESCE((SELECT value FROM config WHERE key = 'retention_days'), 90),"
    " COALESCE((SELECT value FROM config WHERE key = 'retention_max_messages'), 0)";
static const char SQL_DEF_SET[] = "INSERT INTO config (key, value) VALUES ('retention_days', $1),"
                                  " ('retention_max_messages', $2)"
                                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char PG_DEF_SET[] =
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

/* A row callback reading a policy from columns 0 and 1. */
static int policy_row(const ms_row *w, void *ctx) {
    retention_policy *p = ctx;
    p->days = ms_int(w, 0);
    p->max_messages = ms_int(w, 1);
    return 1;
}

static int retention_valid(const retention_policy *p, bool inherit_ok) {
    int64_t low = inherit_ok ? RETENTION_INHERIT : 0;
    return p->days >= low && p->days <= CONTRACT_RETENTION_DAYS_MAX && p->max_messages >= low &&
           p->max_messages <= CONTRACT_RETENTION_MESSAGES_MAX;
}

int retention_defaults_get(store *st, retention_policy *out) {
    return ms_run(st, "retention_def_get", SQL_DEF_GET, NULL, NULL, policy_row, out, NULL);
}

int retention_defaults_set(store *st, const retention_policy *p) {
    if (!retention_valid(p, false)) return STORE_INVALID;
    ms_args a = {0};
    ms_i(&a, p->days);
    ms_i(&a, p->max_messages);
    return ms_run(st, "retention_def_set", SQL_DEF_SET, PG_DEF_SET, &a, NULL, NULL, NULL);
}

int retention_own(store *st, const char *ns, retention_policy *out) {
    out->days = out->max_messages = RETENTION_INHERIT;
    ms_args a = {0};
    ms_s(&a, ns);
    return ms_run(st, "retention_ws_get", SQL_WS_GET, NULL, &a, policy_row, out, NULL);
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
    ms_args a = {0};
    ms_s(&a, ns);
    ms_i(&a, store_now_ms());
    if (p->days != RETENTION_INHERIT) /* NULL: the default */
        ms_i(&a, p->days);
    else
        ms_s(&a, NULL);
    if (p->max_messages != RETENTION_INHERIT)
        ms_i(&a, p->max_messages);
    else
        ms_s(&a, NULL);
    return ms_run(st, "retention_ws_set", SQL_WS_SET, NULL, &a, NULL, NULL, NULL);
}

struct retention {
    store *st; /* borrowed */
    retention_config cfg;
    int64_t after; /* the next step looks at the first room with a greater id */
};

retention *retention_new(store *st, const retention_config *cfg) {
    retention *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->st = st;
    if (cfg) r->cfg = *cfg;
    if (r->cfg.batch <= 0) r->cfg.batch = 500;
    if (r->cfg.vacuum_pages <= 0) r->cfg.vacuum_pages = 256;
    if (r->cfg.session_max_age_ms <= 0) r->cfg.session_max_age_ms = DAY_MS;
    if (r->cfg.control_max_age_ms <= 0) r->cfg.control_max_age_ms = 3600 * 1000;
    return r;
}

void retention_free(retention *r) {
    free(r);
}

/* The room the step looks at: the first with an id past r->after, wrapping
 * around once. *room_id is 0 when there is no room at all. */
static int next_room(retention *r, int64_t *room_id, char *ns, size_t nslen) {
    *room_id = 0;
    for (int pass = 0; pass < 2; pass++) {
        int rc = r->st->ops->room_next(r->st, pass ? 0 : r->after, room_id, ns, nslen);
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
    int rc = r->st->ops->room_span(r->st, room_id, &lo, &hi);
    if (rc || hi - lo + 1 <= max) return rc;
    return r->st->ops->room_nth_newest(r->st, room_id, max - 1, keep_from);
}

/* What prune_room's walk over the oldest messages found. */
typedef struct prune_walk {
    int64_t keep_from, cutoff; /* a message with an id below or a ts before goes */
    int64_t last;              /* the last id that goes */
    int n;                     /* how many go */
} prune_walk;

/* Ids and timestamps grow together: the walk stops at the first message kept. */
static int prune_walk_row(int64_t id, int64_t ts, void *ctx) {
    prune_walk *w = ctx;
    if (!(id < w->keep_from || ts < w->cutoff)) return 1;
    w->last = id;
    w->n++;
    return 0;
}

/* Deletes, in one transaction, up to cfg.batch of room_id's oldest messages
 * that policy p no longer keeps at now_ms, and records the last id deleted. */
static int prune_room(retention *r, int64_t room_id, const retention_policy *p, int64_t now_ms,
                      retention_stats *out) {
    store *st = r->st;
    int rc = store_begin(st);
    if (rc) return rc;
    prune_walk w = {.cutoff = p->days > 0 ? now_ms - p->days * DAY_MS : INT64_MIN};
    if (p->max_messages > 0) rc = count_boundary(r, room_id, p->max_messages, &w.keep_from);
    if (rc == STORE_OK) rc = st->ops->room_oldest(st, room_id, r->cfg.batch, prune_walk_row, &w);
    if (rc == STORE_OK && w.n > 0) rc = st->ops->room_prune(st, room_id, w.last);
    if (rc == STORE_OK) rc = store_commit(st);
    if (rc) {
        store_rollback(st);
        return rc;
    }
    out->messages = w.n;
    out->more = w.n == r->cfg.batch;
    return STORE_OK;
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
    store *st = r->st;
    if (rc == STORE_OK)
        rc = st->ops->sessions_prune(st, now_ms - r->cfg.session_max_age_ms, r->cfg.batch,
                                     &out->sessions);
    if (rc == STORE_OK)
        rc = st->ops->control_prune(st, now_ms - r->cfg.control_max_age_ms, r->cfg.batch,
                                    &out->control);
    if (rc == STORE_OK && st->ops->vacuum)
        rc = st->ops->vacuum(st, r->cfg.vacuum_pages, &out->pages);
    return rc;
}
