/* store.c -- the store's public functions: the contract's checks, then the
 * backend (SQLite, store_sqlite.c, or PostgreSQL, store_pg.c) that the path
 * chose */
#include "store.h"
#include "account.h"
#include "store_internal.h"

#include "names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t store_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- opening ---------------------------------------------------------- */

void store_limits_default(store_limits *l) {
    *l = (store_limits){
        .room_rate_user = contract_default(CONTRACT_ROOM_RATE_USER),
        .room_rate_address = contract_default(CONTRACT_ROOM_RATE_ADDRESS),
        .claim_minute = ACCOUNT_CLAIMS_MINUTE,
        .claim_day = ACCOUNT_CLAIMS_DAY,
        .claim_ttl_ms = ACCOUNT_CLAIM_TTL_S * 1000LL,
    };
}

void store_limits_set(store *st, const store_limits *l) {
    st->limits = *l;
}

bool store_path_is_pg(const char *path) {
    return path &&
           (strncmp(path, "postgres://", 11) == 0 || strncmp(path, "postgresql://", 13) == 0);
}

int store_open(store **out, const char *path, const store_options *opt, char *err, size_t errlen) {
    store_options o = {0};
    if (opt) o = *opt;
    *out = NULL;
    if (!path || !*path) {
        if (err) snprintf(err, errlen, "no database path");
        return STORE_INVALID;
    }
    if (o.max_rooms <= 0) o.max_rooms = STORE_ROOMS_MAX_DEFAULT;
    if (o.busy_timeout_ms <= 0) o.busy_timeout_ms = 5000;
    if (!o.sync) o.sync = STORE_SYNC_NORMAL;
    int rc = store_path_is_pg(path) ? store_pg_open(out, path, &o, err, errlen)
                                    : store_sqlite_open(out, path, &o, err, errlen);
    if (rc == STORE_OK) {
        (*out)->max_rooms = o.max_rooms;
        if (o.limits)
            (*out)->limits = *o.limits;
        else
            store_limits_default(&(*out)->limits);
    }
    return rc;
}

void store_close(store *st) {
    if (!st) return;
    store_batch_end(st);
    st->ops->close(st);
}

const char *store_errmsg(const store *st) {
    if (!st) return "no store";
    if (st->err[0]) return st->err;
    return st->ops->errmsg(st);
}

/* ---- transactions ----------------------------------------------------- */

int store_begin(store *st) {
    store_batch_end(st); /* its failure is its writes' own, not this transaction's */
    st->err[0] = '\0';
    return st->ops->begin(st);
}

int store_batch_begin(store *st) {
    if (st->batch || st->ops->in_transaction(st)) return STORE_OK;
    st->err[0] = '\0';
    int rc = st->ops->begin(st);
    st->batch = rc == STORE_OK;
    return rc;
}

int store_batch_end(store *st) {
    if (!st->batch) return STORE_OK;
    st->batch = false;
    return store_commit(st);
}

int store_commit(store *st) {
    st->err[0] = '\0';
    return st->ops->commit(st);
}

int store_rollback(store *st) {
    st->batch = false;
    return st->ops->rollback(st);
}

int store_write_begin(store *st, store_write_scope *w) {
    w->own = !st->ops->in_transaction(st);
    return w->own ? store_begin(st) : STORE_OK;
}

int store_write_end(store *st, store_write_scope *w, int rc) {
    if (!w->own) return rc;
    if (rc) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st);
}

/* ---- rooms ------------------------------------------------------------ */

int store_room_create(store *st, const char *ns, const char *name, store_room *out) {
    if (!store_valid_namespace(ns) || !store_valid_room_name(name)) return STORE_INVALID;
    st->err[0] = '\0';
    int64_t id = 0;
    int rc = st->ops->room_create(st, ns, name, &id);
    if (rc == STORE_OK && out) rc = store_room_get(st, id, out);
    return rc;
}

int store_room_get(store *st, int64_t id, store_room *out) {
    st->err[0] = '\0';
    return st->ops->room_get(st, id, out);
}

int store_room_find(store *st, const char *ns, const char *name, store_room *out) {
    st->err[0] = '\0';
    return st->ops->room_find(st, ns, name, out);
}

int store_room_lookup(store *st, const char *ns, const char *name, store_room *out) {
    st->err[0] = '\0';
    return st->ops->room_lookup ? st->ops->room_lookup(st, ns, name, out)
                                : st->ops->room_find(st, ns, name, out);
}

int store_room_id(store *st, const char *ns, const char *name, int64_t *id) {
    st->err[0] = '\0';
    return st->ops->room_id(st, ns, name, id);
}

int store_rooms_list(store *st, const char *ns, int64_t after, int limit, store_room_cb cb,
                     void *ctx) {
    if (limit <= 0 || limit > STORE_ROOMS_PAGE_MAX + 1) limit = STORE_ROOMS_PAGE_MAX + 1;
    st->err[0] = '\0';
    return st->ops->rooms_list(st, ns, after, limit, cb, ctx);
}

int store_room_delete(store *st, int64_t id) {
    st->err[0] = '\0';
    return st->ops->room_delete(st, id);
}

int store_namespace_ensure(store *st, const char *ns) {
    if (!store_valid_namespace(ns)) return STORE_INVALID;
    int64_t id;
    int rc = store_room_id(st, ns, "general", &id);
    if (rc != STORE_NOTFOUND) return rc;
    rc = store_room_create(st, ns, "general", NULL);
    return rc == STORE_EXISTS ? STORE_OK : rc; /* another process made it first */
}

/* ---- messages --------------------------------------------------------- */

int store_message_append(store *st, int64_t room_id, const char *user, const char *text,
                         const char *client_id, int64_t *id, int64_t *ts, bool *duplicate) {
    *duplicate = false;
    if (!store_valid_sender(user) || !store_valid_text(text) ||
        (client_id && (strlen(client_id) > STORE_CLIENT_ID_MAX || !client_id[0])))
        return STORE_INVALID;
    st->err[0] = '\0';
    return st->ops->message_append(st, room_id, user, text, client_id, id, ts, duplicate);
}

int store_messages_list(store *st, int64_t room_id, int64_t after, int64_t before, int limit,
                        store_message_cb cb, void *ctx) {
    if (limit <= 0 || limit > STORE_LIST_MAX) limit = STORE_LIST_MAX;
    st->err[0] = '\0';
    return st->ops->messages_list(st, room_id, after, before, limit, cb, ctx);
}

int store_log_tail(store *st, int64_t after, int limit, store_message_cb cb, void *ctx) {
    st->err[0] = '\0';
    return st->ops->log_tail(st, after, limit > 0 ? limit : 1000, cb, ctx);
}

int store_log_head(store *st, int64_t *id) {
    st->err[0] = '\0';
    return st->ops->log_head(st, id);
}

/* ---- processes and presence ------------------------------------------- */

int store_process_register(store *st, int64_t pid, const char *listen, const char *node,
                           const char *host, int64_t *id) {
    st->err[0] = '\0';
    return st->ops->process_register(st, pid, listen, node ? node : "", host ? host : "", id);
}

int store_process_heartbeat(store *st, int64_t id, int64_t connections) {
    st->err[0] = '\0';
    return st->ops->process_heartbeat(st, id, connections);
}

int store_process_unregister(store *st, int64_t id) {
    st->err[0] = '\0';
    return st->ops->process_unregister(st, id);
}

int store_process_reap(store *st) {
    st->err[0] = '\0';
    int64_t now = store_now_ms();
    return st->ops->process_reap(st, now - STORE_PROCESS_STALE_MS, now);
}

int store_processes_list(store *st, store_process_cb cb, void *ctx) {
    st->err[0] = '\0';
    return st->ops->processes_list(st, cb, ctx);
}

int store_presence_add(store *st, int64_t process_id, const char *sid, int64_t room_id,
                       const char *user) {
    st->err[0] = '\0';
    return st->ops->presence_add(st, process_id, sid, room_id, user);
}

int store_presence_remove(store *st, const char *sid, int64_t room_id) {
    st->err[0] = '\0';
    return st->ops->presence_remove(st, sid, room_id);
}

int store_presence_remove_sid(store *st, const char *sid) {
    st->err[0] = '\0';
    return st->ops->presence_remove_sid(st, sid);
}

int store_presence_users(store *st, int64_t room_id, int (*cb)(const char *user, void *ctx),
                         void *ctx) {
    st->err[0] = '\0';
    return st->ops->presence_users(st, room_id, cb, ctx);
}

/* ---- write budgets ---------------------------------------------------- */

void store_write_budget_init(store_write_budget *b) {
    *b = (store_write_budget)STORE_BUDGET_DEFAULT;
}

int store_write_budget_parse(store_write_budget *b, const char *s) {
    long long v[4];
    char tail;
    if (sscanf(s, "%lld/%lld/%lld/%lld%c", &v[0], &v[1], &v[2], &v[3], &tail) != 4) return -1;
    for (int i = 0; i < 4; i++)
        if (v[i] < 0) return -1;
    *b = (store_write_budget){v[0], v[1], v[2], v[3]};
    return 0;
}

#define BUDGET_MINUTE_MS 60000LL
#define BUDGET_DAY_MS 86400000LL
#define RATE_HOUR_MS 3600000LL

/* One counter of the budgets table: events under key in fixed windows of
 * span ms, at most limit a window (0: not counted). */
typedef struct window_count {
    const char *key;
    int64_t span, limit;
    const char *name; /* what is used up, for messages */
} window_count;

/* Counts one event in each of the n counters, or in none when one of them is
 * used up: STORE_OVER_BUDGET then, with *which its name and *retry_ms the
 * time until its window ends (either may be NULL). Joins a caller's
 * transaction. */
static int windows_spend(store *st, const window_count *c, size_t n, const char **which,
                         int64_t *retry_ms) {
    int64_t now = store_now_ms();
    st->err[0] = '\0';
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        if (c[i].limit <= 0) continue;
        int64_t count = 0;
        rc = st->ops->budget_get(st, c[i].key, c[i].span, now - now % c[i].span, &count);
        if (!rc && count >= c[i].limit) {
            if (which) *which = c[i].name;
            if (retry_ms) *retry_ms = c[i].span - now % c[i].span;
            rc = STORE_OVER_BUDGET;
        }
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (c[i].limit <= 0) continue;
        rc = st->ops->budget_add(st, c[i].key, c[i].span, now - now % c[i].span);
    }
    if (rc == STORE_OVER_BUDGET) { /* nothing was counted: no rollback of the caller's work */
        store_write_end(st, &w, STORE_OK);
        return rc;
    }
    return store_write_end(st, &w, rc);
}

int store_budget_spend(store *st, const store_write_budget *b, const char *user, const char *addr,
                       const char **which) {
    char ukey[STORE_USER_NAME_BUF + 2], akey[128];
    snprintf(ukey, sizeof ukey, "u:%s", user ? user : "");
    snprintf(akey, sizeof akey, "a:%s", addr ? addr : "");
    const window_count c[4] = {
        {ukey, BUDGET_MINUTE_MS, user ? b->user_minute : 0, "messages per minute for this user"},
        {ukey, BUDGET_DAY_MS, user ? b->user_day : 0, "messages per day for this user"},
        {akey, BUDGET_MINUTE_MS, addr && *addr ? b->addr_minute : 0,
         "messages per minute from this address"},
        {akey, BUDGET_DAY_MS, addr && *addr ? b->addr_day : 0,
         "messages per day from this address"},
    };
    return windows_spend(st, c, 4, which, NULL);
}

int store_room_rate_spend(store *st, const char *user, const char *addr, int64_t *retry_s) {
    char ukey[STORE_USER_NAME_BUF + 4], akey[128];
    int64_t retry_ms = 0;
    snprintf(ukey, sizeof ukey, "ru:%s", user ? user : "");
    snprintf(akey, sizeof akey, "ra:%s", addr ? addr : "");
    const window_count c[2] = {
        {ukey, RATE_HOUR_MS, user && *user ? st->limits.room_rate_user : 0,
         "rooms created by this user this hour"},
        {akey, RATE_HOUR_MS, addr && *addr ? st->limits.room_rate_address : 0,
         "rooms created from this address this hour"},
    };
    int rc = windows_spend(st, c, 2, NULL, &retry_ms);
    if (retry_s) *retry_s = rc == STORE_OVER_BUDGET ? (retry_ms + 999) / 1000 : 0;
    return rc;
}

int store_workspace_rate_spend(store *st, const char *addr, int64_t per_hour, int64_t *retry_s) {
    char akey[128];
    int64_t retry_ms = 0;
    snprintf(akey, sizeof akey, "wa:%s", addr ? addr : "");
    const window_count c = {akey, RATE_HOUR_MS, addr && *addr ? per_hour : 0,
                            "workspaces created from this address this hour"};
    int rc = windows_spend(st, &c, 1, NULL, &retry_ms);
    if (retry_s) *retry_s = rc == STORE_OVER_BUDGET ? (retry_ms + 999) / 1000 : 0;
    return rc;
}

/* ---- sessions per address --------------------------------------------- */

int store_address_sessions_set(store *st, int64_t process_id, const char *addr, int64_t n) {
    st->err[0] = '\0';
    return st->ops->address_sessions_set(st, process_id, addr, n);
}

int store_address_sessions_elsewhere(store *st, int64_t process_id, const char *addr, int64_t *n) {
    *n = 0;
    st->err[0] = '\0';
    return st->ops->address_sessions_elsewhere(st, process_id, addr,
                                               store_now_ms() - STORE_PROCESS_STALE_MS, n);
}

/* ---- sessions --------------------------------------------------------- */

int store_session_save(store *st, const store_session *s) {
    st->err[0] = '\0';
    return st->ops->session_save(st, s);
}

int store_session_load(store *st, const char *pid, int64_t max_age_ms, store_session *out) {
    memset(out, 0, sizeof *out);
    st->err[0] = '\0';
    return st->ops->session_load(st, pid, store_now_ms() - max_age_ms, out);
}

void store_session_free(store_session *s) {
    if (!s) return;
    free(s->rooms);
    free(s->data);
    s->rooms = s->data = NULL;
}

int store_sessions_touch(store *st, int64_t owner, int64_t max_age_ms) {
    st->err[0] = '\0';
    return st->ops->sessions_touch(st, owner, store_now_ms() - max_age_ms);
}

int store_session_delete(store *st, const char *pid) {
    st->err[0] = '\0';
    return st->ops->session_delete(st, pid);
}

int store_session_expire(store *st, int64_t max_age_ms) {
    st->err[0] = '\0';
    return st->ops->session_expire(st, store_now_ms() - max_age_ms);
}

/* ---- claimed names ---------------------------------------------------- */

/* A claim is kept under the name's key (names_key: case folded, look-alikes
 * mapped to one skeleton), so "abc", "ABC" and "аbc" are one claim. */
int store_user_claim(store *st, const char *name) {
    char key[NAMES_KEY_BUF];
    bool claimed = false;
    int rc;

    if (!store_valid_user_name(name) || names_key(name, key, sizeof key) != 0) return STORE_INVALID;
    st->err[0] = '\0';
    /* a claim made before keys were kept is under its name as typed */
    if (strcmp(key, name) != 0 && (rc = st->ops->user_claimed(st, name, &claimed)) != STORE_OK)
        return rc;
    return claimed ? STORE_EXISTS : st->ops->user_claim(st, key);
}

int store_user_claimed(store *st, const char *name, bool *claimed) {
    char key[NAMES_KEY_BUF];
    int rc;

    *claimed = false;
    st->err[0] = '\0';
    if (names_key(name, key, sizeof key) != 0) return STORE_INVALID;
    rc = st->ops->user_claimed(st, key, claimed);
    if (rc == STORE_OK && !*claimed && strcmp(key, name) != 0)
        rc = st->ops->user_claimed(st, name, claimed);
    return rc;
}

/* ---- cursors and workspaces ------------------------------------------- */

int store_cursor_get(store *st, const char *user, int64_t room_id, int64_t *last_id) {
    st->err[0] = '\0';
    return st->ops->cursor_get(st, user, room_id, last_id);
}

int store_cursor_set(store *st, const char *user, int64_t room_id, int64_t last_id) {
    st->err[0] = '\0';
    return st->ops->cursor_set(st, user, room_id, last_id);
}

int store_workspace_private(store *st, const char *ns, bool *is_private) {
    st->err[0] = '\0';
    return st->ops->workspace_private(st, ns, is_private);
}

int store_workspace_exists(store *st, const char *ns, bool *exists) {
    st->err[0] = '\0';
    return st->ops->workspace_exists(st, ns, exists);
}

int store_workspace_create(store *st, const char *ns, int64_t max_workspaces, bool *created) {
    *created = false;
    if (!store_valid_workspace(ns)) return STORE_INVALID;
    st->err[0] = '\0';
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    rc = st->ops->workspace_insert(st, ns, max_workspaces, created);
    if (rc == STORE_OK && *created) rc = store_namespace_ensure(st, ns);
    if (rc) *created = false;
    return store_write_end(st, &w, rc);
}

int store_workspace_set_private(store *st, const char *ns, bool is_private) {
    if (!store_valid_workspace(ns)) return STORE_INVALID;
    st->err[0] = '\0';
    return st->ops->workspace_set_private(st, ns, is_private);
}

int store_counts(store *st, int64_t *rooms, int64_t *messages) {
    st->err[0] = '\0';
    return st->ops->counts(st, rooms, messages);
}

/* ---- control events --------------------------------------------------- */

int store_control_append(store *st, const char *kind, const char *payload, int64_t *id) {
    st->err[0] = '\0';
    return st->ops->control_append(st, kind, payload, id);
}

int store_control_tail(store *st, int64_t after, store_control_cb cb, void *ctx) {
    st->err[0] = '\0';
    return st->ops->control_tail(st, after, cb, ctx);
}

int store_control_head(store *st, int64_t *id) {
    st->err[0] = '\0';
    return st->ops->control_head(st, id);
}
