/* account.c -- accounts and credentials in the store: one SQL text per
 * statement, run on either backend by store_query.h, so both read the same
 * rows the same way. */
#include "account.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "names.h"
#include "store_internal.h"
#include "store_query.h"

#define ACCOUNT_LIST_MAX 200

enum account_stmt {
    A_PW_GET,
    A_PW_SET,
    A_CLAIM,
    A_CRED_ADD,
    A_CRED_GET,
    A_CRED_USED,
    A_CRED_ROTATE,
    A_CRED_DELETE,
    A_CRED_DELETE_ALL,
    A_CRED_LIST,
    A_EXPIRE_USERS,
    A_UNCLAIM,
    A_EXPIRE_CLAIMS_OF,
    A_EXPIRE_CLAIMS,
    A_EXPIRE_OLD,
    A_COUNT
};

/* Valid on both engines: no casts, types inferred from the columns. */
static const char *const account_sql[A_COUNT] = {
    [A_PW_GET] = "SELECT pwhash FROM accounts WHERE name = $1",
    [A_PW_SET] = "INSERT INTO accounts (name, pwhash, created_at) VALUES ($1, $2, $3)"
                 " ON CONFLICT (name) DO UPDATE SET pwhash = excluded.pwhash",
    [A_CLAIM] = "INSERT INTO users (name, claimed_at) VALUES ($1, $2)"
                " ON CONFLICT (name) DO NOTHING",
    [A_CRED_ADD] = "INSERT INTO credentials (id, name, kind, secret, label, created_at,"
                   " used_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [A_CRED_GET] = "SELECT name, kind, secret, label, created_at, used_at, expires_at"
                   " FROM credentials WHERE id = $1 AND expires_at > $2",
    [A_CRED_USED] = "UPDATE credentials SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
    [A_CRED_ROTATE] = "UPDATE credentials SET secret = $3, expires_at = $4"
                      " WHERE id = $1 AND secret = $2",
    [A_CRED_DELETE] = "DELETE FROM credentials WHERE id = $1",
    [A_CRED_DELETE_ALL] = "DELETE FROM credentials WHERE name = $1",
    [A_CRED_LIST] = "SELECT id, name, kind, secret, label, created_at, used_at, expires_at"
                    " FROM credentials WHERE name = $1 AND kind <> 'link' AND expires_at > $2"
                    " ORDER BY created_at, id LIMIT $3",
    /* a name whose only trace is a never-used claim is free again */
    /* the names whose only credentials are claims never used, made before $1:
     * their claim rows (under the name's key, computed in C) go */
    [A_EXPIRE_USERS] = "SELECT DISTINCT name FROM credentials cl WHERE kind = 'claim'"
                       " AND used_at IS NULL AND created_at <= $1"
                       " AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.name = cl.name)"
                       " AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.name = cl.name"
                       " AND (c.kind <> 'claim' OR c.used_at IS NOT NULL))",
    [A_UNCLAIM] = "DELETE FROM users WHERE name = $1",
    [A_EXPIRE_CLAIMS_OF] = "DELETE FROM credentials WHERE kind = 'claim' AND used_at IS NULL"
                           " AND created_at <= $1 AND name = $2",
    [A_EXPIRE_CLAIMS] = "DELETE FROM credentials WHERE kind = 'claim' AND used_at IS NULL"
                        " AND created_at <= $1",
    [A_EXPIRE_OLD] = "DELETE FROM credentials WHERE expires_at <= $1",
};

/* Names of the prepared statements on PostgreSQL (they live as long as st). */
static const char *const account_pg_name[A_COUNT] = {
    [A_PW_GET] = "account_pw_get",
    [A_PW_SET] = "account_pw_set",
    [A_CLAIM] = "account_claim",
    [A_CRED_ADD] = "account_cred_add",
    [A_CRED_GET] = "account_cred_get",
    [A_CRED_USED] = "account_cred_used",
    [A_CRED_ROTATE] = "account_cred_rotate",
    [A_CRED_DELETE] = "account_cred_delete",
    [A_CRED_DELETE_ALL] = "account_cred_delete_all",
    [A_CRED_LIST] = "account_cred_list",
    [A_EXPIRE_USERS] = "account_expire_users",
    [A_UNCLAIM] = "account_unclaim",
    [A_EXPIRE_CLAIMS_OF] = "account_expire_claims_of",
    [A_EXPIRE_CLAIMS] = "account_expire_claims",
    [A_EXPIRE_OLD] = "account_expire_old",
};

/* Runs statement id with args on st's engine (store_query.h); cb (may be
 * NULL) sees every row until it returns non-zero; *changes (may be NULL)
 * gets the rows written. */
static int account_run(store *st, enum account_stmt id, const ms_args *a, ms_row_cb cb, void *ctx,
                       int64_t *changes) {
    return ms_run(st, account_pg_name[id], account_sql[id], NULL, a, cb, ctx, changes);
}

/* Runs one writing statement in its own transaction unless one is open. */
static int account_write(store *st, enum account_stmt id, const ms_args *a, int64_t *changes) {
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    return store_write_end(st, &w, account_run(st, id, a, NULL, NULL, changes));
}

/* Column col of w as text into dst ("" for NULL). */
static void col_str(char *dst, size_t len, const ms_row *w, int col) {
    const char *s = ms_text(w, col);
    snprintf(dst, len, "%s", s ? s : "");
}

typedef struct text_ctx {
    char *buf;
    size_t len;
    bool found;
} text_ctx;

static int first_text(const ms_row *w, void *ctx) {
    text_ctx *t = ctx;
    col_str(t->buf, t->len, w, 0);
    t->found = true;
    return 1;
}

int account_password_get(store *st, const char *name, char *hash, size_t hashlen) {
    ms_args a = {.n = 0};
    text_ctx t = {hash, hashlen, false};
    ms_s(&a, name);
    int rc = account_run(st, A_PW_GET, &a, first_text, &t, NULL);
    return rc ? rc : t.found ? STORE_OK : STORE_NOTFOUND;
}

int account_password_set(store *st, const char *name, const char *hash) {
    if (!contract_valid_user_name(name)) return STORE_INVALID;
    int64_t now = store_now_ms();
    char key[NAMES_KEY_BUF];
    if (names_key(name, key, sizeof key) != 0) return STORE_INVALID;
    ms_args a = {.n = 0}, c = {.n = 0};
    ms_s(&a, name);
    ms_s(&a, hash);
    ms_i(&a, now);
    ms_s(&c, key); /* claims are kept under the name's key, as store_user_claim's */
    ms_i(&c, now);
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    rc = account_run(st, A_CLAIM, &c, NULL, NULL, NULL);
    if (!rc) rc = account_run(st, A_PW_SET, &a, NULL, NULL, NULL);
    return store_write_end(st, &w, rc);
}

int account_credential_add(store *st, const account_credential *c) {
    ms_args a = {.n = 0};
    ms_s(&a, c->id);
    ms_s(&a, c->name);
    ms_s(&a, c->kind);
    ms_s(&a, c->secret[0] ? c->secret : NULL);
    ms_s(&a, c->label);
    ms_i(&a, c->created_at);
    if (c->used_at)
        ms_i(&a, c->used_at);
    else
        ms_s(&a, NULL);
    ms_i(&a, c->expires_at);
    return account_write(st, A_CRED_ADD, &a, NULL);
}

void account_new_id(char id[ACCOUNT_ID_BUF]) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0) got += (size_t)n; /* the kernel's pool never runs dry after boot */
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(id + 2 * i, 3, "%02x", b[i]);
}

int account_claim(store *st, const char *name, const char *addr, bool used, int64_t ttl_ms,
                  char id[ACCOUNT_ID_BUF], int64_t *retry_after_s) {
    /* the claim limits are the store's (store_options.limits) */
    int64_t minute = st->limits.claim_minute, day = st->limits.claim_day;
    int64_t unused_ms = st->limits.claim_ttl_ms, now = store_now_ms(), changes = 0;
    if (!contract_valid_user_name(name)) return STORE_INVALID;
    int rc = account_expire(st, now - unused_ms);
    if (rc) return rc;
    /* claims are kept under the name's key (store_user_claim): "kim", "KIM"
     * and look-alikes are one claim, and a claim of before keys counts too */
    char key[NAMES_KEY_BUF];
    bool claimed = false;
    if (names_key(name, key, sizeof key) != 0) return STORE_INVALID;
    if ((rc = store_user_claimed(st, name, &claimed))) return rc;
    if (claimed) return STORE_EXISTS;
    if (addr && *addr) {
        char rate_key[160];
        snprintf(rate_key, sizeof rate_key, "claim:a:%s", addr);
        rc = account_rate_spend(st, rate_key, 60000, minute, retry_after_s);
        if (!rc) rc = account_rate_spend(st, rate_key, 86400000, day, retry_after_s);
        if (rc) return rc;
    }
    account_credential c = {
        .created_at = now, .used_at = used ? now : 0, .expires_at = now + ttl_ms};
    account_new_id(c.id);
    snprintf(c.name, sizeof c.name, "%s", name);
    snprintf(c.kind, sizeof c.kind, "%s", ACCOUNT_KIND_CLAIM);
    ms_args a = {.n = 0};
    ms_s(&a, key);
    ms_i(&a, now);
    store_write_scope w;
    if ((rc = store_write_begin(st, &w))) return rc;
    rc = account_run(st, A_CLAIM, &a, NULL, NULL, &changes);
    if (!rc && !changes) rc = STORE_EXISTS;
    if (!rc) rc = account_credential_add(st, &c);
    rc = store_write_end(st, &w, rc);
    if (!rc) memcpy(id, c.id, ACCOUNT_ID_BUF);
    return rc;
}

int account_user_ensure(store *st, const char *name) {
    char key[NAMES_KEY_BUF];
    if (!contract_valid_user_name(name) || names_key(name, key, sizeof key) != 0)
        return STORE_INVALID;
    ms_args a = {.n = 0};
    ms_s(&a, key);
    ms_i(&a, store_now_ms());
    return account_write(st, A_CLAIM, &a, NULL);
}

/* Fills an account_credential from the columns of A_CRED_LIST's shape, from
 * column first on (A_CRED_GET's rows have no id: first is -1 and id is
 * given). */
static void cred_from(account_credential *out, const ms_row *w, int first, const char *id) {
    if (id)
        snprintf(out->id, sizeof out->id, "%s", id);
    else
        col_str(out->id, sizeof out->id, w, first);
    col_str(out->name, sizeof out->name, w, first + 1);
    col_str(out->kind, sizeof out->kind, w, first + 2);
    col_str(out->secret, sizeof out->secret, w, first + 3);
    col_str(out->label, sizeof out->label, w, first + 4);
    out->created_at = ms_int(w, first + 5);
    out->used_at = ms_int(w, first + 6);
    out->expires_at = ms_int(w, first + 7);
}

typedef struct get_ctx {
    account_credential *out;
    const char *id;
    bool found;
} get_ctx;

static int got_credential(const ms_row *w, void *ctx) {
    get_ctx *g = ctx;
    cred_from(g->out, w, -1, g->id);
    g->found = true;
    return 1;
}

int account_credential_get(store *st, const char *id, int64_t now_ms, account_credential *out) {
    ms_args a = {.n = 0};
    get_ctx g = {out, id, false};
    ms_s(&a, id);
    ms_i(&a, now_ms);
    int rc = account_run(st, A_CRED_GET, &a, got_credential, &g, NULL);
    return rc ? rc : g.found ? STORE_OK : STORE_NOTFOUND;
}

int account_credential_used(store *st, const char *id, int64_t now_ms) {
    ms_args a = {.n = 0};
    ms_s(&a, id);
    ms_i(&a, now_ms);
    return account_write(st, A_CRED_USED, &a, NULL);
}

int account_credential_check(store *st, const char *id, const char *name) {
    account_credential c;
    int64_t now = store_now_ms();
    int rc = account_credential_get(st, id, now, &c);
    if (rc) return rc;
    if (strcmp(c.name, name) != 0 || strcmp(c.kind, ACCOUNT_KIND_LINK) == 0) return STORE_NOTFOUND;
    /* only the first use writes: a connect otherwise costs one read */
    return c.used_at ? STORE_OK : account_credential_used(st, id, now);
}

int account_credential_rotate(store *st, const char *id, const char *old_secret,
                              const char *new_secret, int64_t expires_at) {
    ms_args a = {.n = 0};
    int64_t n = 0;
    ms_s(&a, id);
    ms_s(&a, old_secret);
    ms_s(&a, new_secret);
    ms_i(&a, expires_at);
    int rc = account_write(st, A_CRED_ROTATE, &a, &n);
    return rc ? rc : n ? STORE_OK : STORE_NOTFOUND;
}

int account_credential_delete(store *st, const char *id) {
    ms_args a = {.n = 0};
    int64_t n = 0;
    ms_s(&a, id);
    int rc = account_write(st, A_CRED_DELETE, &a, &n);
    return rc ? rc : n ? STORE_OK : STORE_NOTFOUND;
}

int account_credentials_delete_all(store *st, const char *name, int64_t *n) {
    ms_args a = {.n = 0};
    ms_s(&a, name);
    return account_write(st, A_CRED_DELETE_ALL, &a, n);
}

typedef struct list_ctx {
    account_credential_cb cb;
    void *ctx;
} list_ctx;

static int listed(const ms_row *w, void *ctx) {
    list_ctx *l = ctx;
    account_credential c;
    cred_from(&c, w, 0, NULL);
    return l->cb(&c, l->ctx);
}

int account_credentials_list(store *st, const char *name, account_credential_cb cb, void *ctx) {
    ms_args a = {.n = 0};
    list_ctx l = {cb, ctx};
    ms_s(&a, name);
    ms_i(&a, store_now_ms());
    ms_i(&a, ACCOUNT_LIST_MAX);
    return account_run(st, A_CRED_LIST, &a, listed, &l, NULL);
}

/* The names A_EXPIRE_USERS finds; more than fit wait for the next pass
 * (their claims stay until then: only the claims of the names seen go). */
#define EXPIRE_NAMES_MAX 256
typedef struct expired_names {
    char name[EXPIRE_NAMES_MAX][CONTRACT_USER_NAME_BUF];
    int n;
} expired_names;

static int expired_name(const ms_row *w, void *ctx) {
    expired_names *e = ctx;
    const char *name = ms_text(w, 0);
    if (!name || e->n >= EXPIRE_NAMES_MAX) return 0;
    snprintf(e->name[e->n++], sizeof e->name[0], "%s", name);
    return 0;
}

int account_expire(store *st, int64_t claimed_before_ms) {
    ms_args a = {.n = 0}, now = {.n = 0};
    ms_i(&a, claimed_before_ms);
    ms_i(&now, store_now_ms());
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    expired_names names = {.n = 0};
    rc = account_run(st, A_EXPIRE_USERS, &a, expired_name, &names, NULL);
    for (int i = 0; !rc && i < names.n; i++) {
        char key[NAMES_KEY_BUF];
        ms_args k = {.n = 0};
        if (names_key(names.name[i], key, sizeof key) != 0) continue;
        ms_s(&k, key);
        rc = account_run(st, A_UNCLAIM, &k, NULL, NULL, NULL);
        ms_args of = {.n = 0};
        ms_i(&of, claimed_before_ms);
        ms_s(&of, names.name[i]);
        if (!rc) rc = account_run(st, A_EXPIRE_CLAIMS_OF, &of, NULL, NULL, NULL);
    }
    /* the rest of the expired claims, once every name's claim row went */
    if (!rc && names.n < EXPIRE_NAMES_MAX)
        rc = account_run(st, A_EXPIRE_CLAIMS, &a, NULL, NULL, NULL);
    if (!rc) rc = account_run(st, A_EXPIRE_OLD, &now, NULL, NULL, NULL);
    return store_write_end(st, &w, rc);
}

int account_rate_spend(store *st, const char *key, int64_t span_ms, int64_t limit,
                       int64_t *retry_after_s) {
    int64_t now = store_now_ms(), start = now - now % span_ms, count = 0;
    if (limit <= 0) return STORE_OK;
    st->err[0] = '\0';
    store_write_scope w;
    int rc = store_write_begin(st, &w);
    if (rc) return rc;
    rc = st->ops->budget_get(st, key, span_ms, start, &count);
    if (!rc && count >= limit) {
        if (retry_after_s) *retry_after_s = (start + span_ms - now + 999) / 1000;
        store_write_end(st, &w, STORE_OK); /* nothing counted */
        return STORE_OVER_BUDGET;
    }
    if (!rc) rc = st->ops->budget_add(st, key, span_ms, start);
    return store_write_end(st, &w, rc);
}
