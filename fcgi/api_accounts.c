/* api_accounts.c -- accounts over REST: passwords (libsodium's argon2id),
 * cookie and token sessions, revocation, device codes, nginx auth_request */
#include "api_accounts.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "log.h"

#define SECRET_HEX 64                  /* a session's secret: 32 random bytes, hex */
#define PAIR_LEN (32 + 1 + SECRET_HEX) /* "<32 hex id>.<64 hex secret>" */
#define CODE_LEN 8                     /* a device code, without its dash */

static const char code_alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; /* 32: 5 bits each */

/* Who made the request, once authenticated. */
typedef struct caller {
    char name[CONTRACT_USER_NAME_BUF];
    char sess[ACCOUNT_ID_BUF]; /* the credential it came with ("" for admin) */
    bool admin;
    bool cookie; /* authenticated by the page's cookie */
} caller;

static const token_secret no_secret; /* len 0: every token refused */

static const token_secret *secret_of(const api_env *env) {
    return env->secret != NULL ? env->secret : &no_secret;
}

static void hex(char *out, const unsigned char *b, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The stored form of a secret: BLAKE2b-256 of it, hex. */
static void secret_hash(const char *secret, size_t len, char out[SECRET_HEX + 1]) {
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)secret, len, NULL, 0);
    hex(out, h, sizeof h);
}

static bool all_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return false;
    return true;
}

/* Splits "<id>.<secret>" (exactly that shape) into id; *secret points into
 * pair. */
static bool pair_split(const char *pair, size_t len, char id[ACCOUNT_ID_BUF], const char **secret) {
    if (len != PAIR_LEN || pair[32] != '.' || !all_hex(pair, 32) || !all_hex(pair + 33, SECRET_HEX))
        return false;
    memcpy(id, pair, 32);
    id[32] = '\0';
    *secret = pair + 33;
    return true;
}

/* The live credential of kind that pair names, its secret checked. */
static int pair_check(store *st, const char *pair, size_t len, const char *kind,
                      account_credential *out) {
    char id[ACCOUNT_ID_BUF], h[SECRET_HEX + 1];
    const char *secret;
    if (!pair_split(pair, len, id, &secret)) return STORE_NOTFOUND;
    int rc = account_credential_get(st, id, store_now_ms(), out);
    if (rc) return rc;
    secret_hash(secret, SECRET_HEX, h);
    if (strcmp(out->kind, kind) != 0 || strlen(out->secret) != SECRET_HEX ||
        sodium_memcmp(h, out->secret, SECRET_HEX) != 0)
        return STORE_NOTFOUND;
    return STORE_OK;
}

/* The value of the session cookie in req's Cookie header, or NULL; *len its
 * length. */
static const char *cookie_value(const http_request *req, size_t *len) {
    const char *p = req->cookie;
    size_t nlen = strlen(API_ACCOUNTS_COOKIE);
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > nlen && strncmp(p, API_ACCOUNTS_COOKIE, nlen) == 0 && p[nlen] == '=') {
            *len = n - nlen - 1;
            return p + nlen + 1;
        }
        p = end;
    }
    return NULL;
}

/* Whether a cookie-authenticated request comes from our own pages: no
 * Origin (not a browser's cross-site request), or the site's own. */
static bool same_origin(const http_request *req) {
    char own[HTTP_HEADER_VALUE_BUF];
    if (!req->origin) return true;
    if (!req->host) return false;
    snprintf(own, sizeof own, "%s://%s", req->https ? "https" : "http", req->host);
    return strcmp(req->origin, own) == 0;
}

static void cookie_set(const http_request *req, http_response *resp, const char *value,
                       long max_age) {
    http_set_header(resp, "Set-Cookie", "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s",
                    API_ACCOUNTS_COOKIE, value, max_age, req->https ? "; Secure" : "");
}

/* Authenticates the caller: a bearer token (an admin token, or a session's
 * access token whose credential lives), else the page's cookie. Returns
 * false after a 401/403/503. */
static bool authenticate(const api_env *env, const http_request *req, caller *who,
                         http_response *resp) {
    const char *token = token_bearer(req->authorization), *why = "invalid token";
    size_t len = 0;
    const char *pair = cookie_value(req, &len);
    token_claims cl;
    account_credential c;
    int rc;

    memset(who, 0, sizeof *who);
    if (!api_have_store(env->st, resp)) return false;
    if (token) {
        if (token_verify(secret_of(env), token, &cl, &why) != 0) {
            api_unauthorized(resp, why);
            return false;
        }
        if (cl.admin) {
            who->admin = true;
            return true;
        }
        if (!cl.sub[0] || !cl.sess[0]) {
            api_unauthorized(resp, "this token is no session's: sign in (POST /api/sessions)");
            return false;
        }
        rc = account_credential_check(env->st, cl.sess, cl.sub);
        if (rc == STORE_NOTFOUND) {
            api_unauthorized(resp, "this session was revoked or has expired");
            return false;
        }
        if (rc) {
            api_store_error(env, rc, resp);
            return false;
        }
        snprintf(who->name, sizeof who->name, "%s", cl.sub);
        snprintf(who->sess, sizeof who->sess, "%s", cl.sess);
        return true;
    }
    if (!pair) {
        api_unauthorized(resp, NULL);
        return false;
    }
    if (!same_origin(req)) {
        http_reply_error(resp, 403, "cross-site request refused");
        return false;
    }
    rc = pair_check(env->st, pair, len, ACCOUNT_KIND_COOKIE, &c);
    if (rc == STORE_NOTFOUND) {
        http_reply_error(resp, 401, "not signed in (the session was revoked or has expired)");
        cookie_set(req, resp, "", 0);
        return false;
    }
    if (rc) {
        api_store_error(env, rc, resp);
        return false;
    }
    snprintf(who->name, sizeof who->name, "%s", c.name);
    snprintf(who->sess, sizeof who->sess, "%s", c.id);
    who->cookie = true;
    return true;
}

/* Spends one attempt of key; false after a 429 + Retry-After (or a store
 * error). */
static bool rate_ok(const api_env *env, const char *key, int64_t span_s, int64_t limit,
                    const char *what, http_response *resp) {
    int64_t retry = 1;
    int rc = account_rate_spend(env->st, key, span_s * 1000, limit, &retry);
    if (rc == STORE_OVER_BUDGET) {
        http_reply_error(resp, 429, what);
        http_set_header(resp, "Retry-After", "%lld", (long long)(retry > 0 ? retry : 1));
        return false;
    }
    if (rc) {
        api_store_error(env, rc, resp);
        return false;
    }
    return true;
}

/* What a device says of itself: its User-Agent, printable ASCII, cut. */
static void device_label(const http_request *req, char out[ACCOUNT_LABEL_BUF]) {
    size_t n = 0;
    for (const char *p = req->user_agent ? req->user_agent : ""; *p && n < 100; p++)
        if (*p >= 0x20 && *p < 0x7f) out[n++] = *p;
    out[n] = '\0';
}

/* An access token of session sess for name. */
static char *access_token(const api_env *env, const char *name, const char *sess) {
    return token_issue_session(secret_of(env), NULL, name, sess, API_ACCOUNTS_ACCESS_TTL_S);
}

/* Starts a session for name: a cookie (cookie true) or a refresh token and
 * an access token, answered with status. */
static void session_start(const api_env *env, const http_request *req, const char *name,
                          bool cookie, int status, http_response *resp) {
    unsigned char raw[32];
    char secret[SECRET_HEX + 1], pair[PAIR_LEN + 1], *access = NULL;
    int64_t now = store_now_ms();
    account_credential c = {.created_at = now,
                            .expires_at = now + API_ACCOUNTS_SESSION_TTL_S * 1000LL};
    int rc;

    account_new_id(c.id);
    randombytes_buf(raw, sizeof raw);
    hex(secret, raw, sizeof raw);
    secret_hash(secret, SECRET_HEX, c.secret);
    snprintf(c.name, sizeof c.name, "%s", name);
    snprintf(c.kind, sizeof c.kind, "%s", cookie ? ACCOUNT_KIND_COOKIE : ACCOUNT_KIND_API);
    device_label(req, c.label);
    snprintf(pair, sizeof pair, "%.32s.%.64s", c.id, secret);
    if (!cookie && (access = access_token(env, name, c.id)) == NULL) {
        api_unavailable(resp, "no server secret configured");
        return;
    }
    if ((rc = account_credential_add(env->st, &c)) != STORE_OK) {
        api_store_error(env, rc, resp);
        free(access);
        return;
    }
    log_event(LOG_LEVEL_INFO, "accounts: signed in", "user", name, "kind", c.kind, "addr",
              req->remote_addr ? req->remote_addr : "", NULL);
    if (cookie) {
        http_reply_json(resp, status, json_pack("{s:s,s:s}", "name", name, "session", c.id));
        cookie_set(req, resp, pair, API_ACCOUNTS_SESSION_TTL_S);
    } else {
        http_reply_json(resp, status,
                        json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "name", name, "session", c.id,
                                  "access_token", access, "token_type", "Bearer", "expires_in",
                                  API_ACCOUNTS_ACCESS_TTL_S, "refresh_token", pair));
    }
    free(access);
}

/* The body's "cookie": true asks for the page's cookie session. */
static bool wants_cookie(json_t *body) {
    return json_is_true(json_object_get(body, "cookie"));
}

/* The body's password: a string of the allowed length, else a 400. */
static const char *password_of(json_t *body, http_response *resp) {
    const char *pw = NULL;
    if (!api_string_member(body, "password", &pw, resp)) return NULL;
    if (!pw || strlen(pw) < API_ACCOUNTS_PASSWORD_MIN || strlen(pw) > API_ACCOUNTS_PASSWORD_MAX) {
        http_reply_error(resp, 400, "\"password\" must be 8 to 1024 bytes");
        return NULL;
    }
    return pw;
}

/* The body's "name", canonical, malloc'd; NULL after a 400. */
static char *name_of(json_t *body, http_response *resp) {
    const char *in = NULL;
    char *name = NULL;
    if (!api_string_member(body, "name", &in, resp)) return NULL;
    if (!in) {
        http_reply_error(resp, 400, "\"name\" is required");
        return NULL;
    }
    if (!api_trimmed(in, contract_valid_user_name, CONTRACT_USER_NAME, "user", &name, resp)) {
        free(name);
        return NULL;
    }
    return name;
}

static void signup(const api_env *env, const http_request *req, http_response *resp) {
    json_t *body = api_body_object(req, resp);
    char *name = NULL, hash[ACCOUNT_HASH_BUF], id[ACCOUNT_ID_BUF];
    const char *pw, *why = "";
    int64_t retry = 1;
    int rc;

    if (!body || !(name = name_of(body, resp)) || !(pw = password_of(body, resp))) goto out;
    if (!api_have_store(env->st, resp)) goto out;
    rc = account_password_get(env->st, name, hash, sizeof hash);
    if (rc == STORE_OK) {
        http_reply_error(resp, 409, "this name has an account: sign in");
        goto out;
    }
    if (rc != STORE_NOTFOUND) goto store_error;
    /* a new name is a claim (rate-limited per address); a claimed one needs
     * its credential: that is how today's names get a password */
    rc = account_claim(env->st, name, req->remote_addr, true, API_ACCOUNTS_SESSION_TTL_S * 1000LL,
                       id, &retry);
    if (rc == STORE_OVER_BUDGET) {
        http_reply_error(resp, 429, "too many names claimed from this address");
        http_set_header(resp, "Retry-After", "%lld", (long long)(retry > 0 ? retry : 1));
        goto out;
    }
    if (rc == STORE_EXISTS) {
        token_name_status s =
            token_name_check(env->st, secret_of(env), name, token_bearer(req->authorization), &why);
        if (s == TOKEN_NAME_STORE) {
            api_unavailable(resp, why);
            goto out;
        }
        if (s != TOKEN_NAME_OWNER) {
            http_reply_error(resp, 409,
                             "this name is claimed: send its token (Authorization: Bearer) "
                             "to set its password");
            goto out;
        }
    } else if (rc) {
        goto store_error;
    } else {
        account_credential_delete(env->st, id); /* the session below stands for the claim */
    }
    if (crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        http_reply_error(resp, 500, "out of memory");
        goto out;
    }
    if ((rc = account_password_set(env->st, name, hash)) != STORE_OK) goto store_error;
    session_start(env, req, name, wants_cookie(body), 201, resp);
    goto out;
store_error:
    api_store_error(env, rc, resp);
out:
    free(name);
    json_decref(body);
}

/* The signin rates: CHAT_SIGNIN_RATE "account/address" per window, from the
 * settings, else the defaults. */
static void signin_rates(const api_env *env, int64_t *account, int64_t *address) {
    const chat_settings *s = env->settings;
    bool set = s && s->signin_account >= 0 && s->signin_address >= 0;
    *account = set ? s->signin_account : API_ACCOUNTS_SIGNIN_ACCOUNT;
    *address = set ? s->signin_address : API_ACCOUNTS_SIGNIN_ADDRESS;
}

/* Signs in with a device code: the code's user, the code spent. */
static void signin_code(const api_env *env, const http_request *req, const char *code, bool cookie,
                        http_response *resp) {
    char norm[CODE_LEN + 1], key[160], h[SECRET_HEX + 1], id[ACCOUNT_ID_BUF];
    size_t n = 0;
    account_credential c;

    snprintf(key, sizeof key, "code:a:%s", req->remote_addr ? req->remote_addr : "");
    if (!rate_ok(env, key, 60, API_ACCOUNTS_CODES_MINUTE, "too many codes tried", resp)) return;
    for (const char *p = code; *p; p++) {
        char ch = (char)toupper((unsigned char)*p);
        if (ch == '-' || ch == ' ') continue;
        if (n == CODE_LEN || !strchr(code_alphabet, ch)) n = CODE_LEN + 1;
        if (n >= CODE_LEN) break;
        norm[n++] = ch;
    }
    norm[n < sizeof norm ? n : CODE_LEN] = '\0';
    secret_hash(norm, strlen(norm), h);
    memcpy(id, h, 32);
    id[32] = '\0';
    if (n != CODE_LEN || account_credential_get(env->st, id, store_now_ms(), &c) != STORE_OK ||
        strcmp(c.kind, ACCOUNT_KIND_LINK) != 0 ||
        account_credential_delete(env->st, id) != STORE_OK) { /* one use: the first wins */
        http_reply_error(resp, 401, "wrong or expired code");
        return;
    }
    session_start(env, req, c.name, cookie, 200, resp);
}

static void signin(const api_env *env, const http_request *req, http_response *resp) {
    json_t *body = api_body_object(req, resp);
    char *name = NULL, hash[ACCOUNT_HASH_BUF], key[200];
    const char *pw, *code = NULL;
    int64_t per_account, per_address;
    int rc;

    if (!body || !api_string_member(body, "code", &code, resp)) goto out;
    if (!api_have_store(env->st, resp)) goto out;
    if (code) {
        signin_code(env, req, code, wants_cookie(body), resp);
        goto out;
    }
    if (!(name = name_of(body, resp)) || !(pw = password_of(body, resp))) goto out;
    signin_rates(env, &per_account, &per_address);
    snprintf(key, sizeof key, "signin:a:%s", req->remote_addr ? req->remote_addr : "");
    if (!rate_ok(env, key, API_ACCOUNTS_SIGNIN_WINDOW_S, per_address,
                 "too many sign-in attempts from this address", resp))
        goto out;
    snprintf(key, sizeof key, "signin:u:%s", name);
    if (!rate_ok(env, key, API_ACCOUNTS_SIGNIN_WINDOW_S, per_account,
                 "too many sign-in attempts for this account", resp))
        goto out;
    rc = account_password_get(env->st, name, hash, sizeof hash);
    if (rc != STORE_OK && rc != STORE_NOTFOUND) {
        api_store_error(env, rc, resp);
        goto out;
    }
    if (rc == STORE_NOTFOUND) {
        /* as slow as a wrong password: the time does not tell which names exist */
        static char decoy[crypto_pwhash_STRBYTES];
        if (!decoy[0] && crypto_pwhash_str(decoy, "decoy", 5, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                           crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            decoy[0] = '\0';
        if (decoy[0] && crypto_pwhash_str_verify(decoy, pw, strlen(pw)) == 0) decoy[0] = '\0';
    }
    if (rc == STORE_NOTFOUND || crypto_pwhash_str_verify(hash, pw, strlen(pw)) != 0) {
        log_event(LOG_LEVEL_INFO, "accounts: sign-in refused", "user", name, "addr",
                  req->remote_addr ? req->remote_addr : "", NULL);
        http_reply_error(resp, 401, "wrong name or password");
        goto out;
    }
    session_start(env, req, name, wants_cookie(body), 200, resp);
out:
    free(name);
    json_decref(body);
}

/* Revokes credentials (one, ids; or all of user) and tells every ws process
 * through the control log, in one transaction. */
static int revoke_credentials(const api_env *env, const char *user, const char *id) {
    json_t *p = id ? json_pack("{s:s,s:[s]}", "user", user, "ids", id)
                   : json_pack("{s:s,s:b}", "user", user, "all", 1);
    char *payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
    int64_t event = 0;
    int rc = payload ? store_begin(env->st) : STORE_ERROR;

    if (!rc) {
        rc = id ? account_credential_delete(env->st, id)
                : account_credentials_delete_all(env->st, user, NULL);
        if (!rc) rc = store_control_append(env->st, "credentials_revoked", payload, &event);
        rc = rc ? (store_rollback(env->st), rc) : store_commit(env->st);
    }
    if (!rc) bus_publish_control(env->bus, event);
    json_decref(p);
    free(payload);
    return rc;
}

static void refresh(const api_env *env, const http_request *req, http_response *resp) {
    json_t *body = api_body_object(req, resp);
    const char *pair = NULL, *secret;
    char id[ACCOUNT_ID_BUF], old_hash[SECRET_HEX + 1], new_secret[SECRET_HEX + 1],
        new_hash[SECRET_HEX + 1], out_pair[PAIR_LEN + 1], *access = NULL;
    unsigned char raw[32];
    account_credential c;
    int rc;

    if (!body || !api_string_member(body, "refresh_token", &pair, resp)) goto out;
    if (!api_have_store(env->st, resp)) goto out;
    if (!pair || !pair_split(pair, strlen(pair), id, &secret)) {
        api_unauthorized(resp, "invalid refresh token");
        goto out;
    }
    rc = account_credential_get(env->st, id, store_now_ms(), &c);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && strcmp(c.kind, ACCOUNT_KIND_API) != 0)) {
        api_unauthorized(resp, "this session was revoked or has expired");
        goto out;
    }
    if (rc) {
        api_store_error(env, rc, resp);
        goto out;
    }
    secret_hash(secret, SECRET_HEX, old_hash);
    randombytes_buf(raw, sizeof raw);
    hex(new_secret, raw, sizeof raw);
    secret_hash(new_secret, SECRET_HEX, new_hash);
    rc = account_credential_rotate(env->st, id, old_hash, new_hash,
                                   store_now_ms() + API_ACCOUNTS_SESSION_TTL_S * 1000LL);
    if (rc == STORE_NOTFOUND) {
        /* a spent refresh token came back: someone holds a copy; end it all */
        revoke_credentials(env, c.name, id);
        log_event(LOG_LEVEL_WARN, "accounts: spent refresh token reused, session revoked", "user",
                  c.name, "addr", req->remote_addr ? req->remote_addr : "", NULL);
        api_unauthorized(resp, "this refresh token was used already: the session is revoked");
        goto out;
    }
    if (rc) {
        api_store_error(env, rc, resp);
        goto out;
    }
    if (!(access = access_token(env, c.name, id))) {
        api_unavailable(resp, "no server secret configured");
        goto out;
    }
    snprintf(out_pair, sizeof out_pair, "%.32s.%.64s", id, new_secret);
    http_reply_json(resp, 200,
                    json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "name", c.name, "session", id,
                              "access_token", access, "token_type", "Bearer", "expires_in",
                              API_ACCOUNTS_ACCESS_TTL_S, "refresh_token", out_pair));
out:
    free(access);
    json_decref(body);
}

/* The page's access token for its socket. A private workspace's token in
 * "workspace_token" is folded in ("workspace", and the same expiry as
 * that token), so one token names both the user and the workspace. */
static void access_issue(const api_env *env, const http_request *req, http_response *resp) {
    caller who;
    json_t *body = NULL;
    const char *ws_token = NULL, *why = "";
    token_claims ws = {0};
    long ttl = API_ACCOUNTS_ACCESS_TTL_S, now = (long)time(NULL);
    char *token = NULL;
    size_t len;

    if (!req->authorization && !cookie_value(req, &len)) {
        /* the page asks on every visit: no session is an answer, not an error */
        http_reply_json(resp, 200, json_pack("{s:b}", "signed_in", 0));
        return;
    }
    if (!authenticate(env, req, &who, resp)) return;
    if (who.admin) {
        http_reply_error(resp, 400, "an admin token has no session");
        return;
    }
    if (req->body_len > 0 && !(body = api_body_object(req, resp))) return;
    if (body && !api_string_member(body, "workspace_token", &ws_token, resp)) goto out;
    if (ws_token && (token_verify(secret_of(env), ws_token, &ws, &why) != 0 || !ws.workspace[0])) {
        http_reply_error(resp, 403, "the workspace token does not verify");
        goto out;
    }
    /* a private workspace's socket leaves when its token expires: the token
     * lives as long as the workspace's one (revocable all the same) */
    if (ws.workspace[0] && ws.exp) ttl = ws.exp - now;
    if (!(token = token_issue_session(secret_of(env), ws.workspace, who.name, who.sess, ttl))) {
        api_unavailable(resp, "no server secret configured");
        goto out;
    }
    http_reply_json(resp, 200,
                    json_pack("{s:b,s:s,s:s,s:s,s:i}", "signed_in", 1, "name", who.name, "session",
                              who.sess, "access_token", token, "expires_in", (int)ttl));
out:
    free(token);
    json_decref(body);
}

static void sso(const api_env *env, const http_request *req, http_response *resp) {
    char name[CONTRACT_USER_NAME_BUF];
    json_t *body = NULL;
    int rc;

    if (!env->settings || !env->settings->auth_request) {
        http_reply_error(resp, 404, "sign-in through nginx is not enabled (CHAT_AUTH_REQUEST)");
        return;
    }
    if (!req->sso_user || !*req->sso_user) {
        http_reply_error(resp, 401, "nginx vouched for no user");
        return;
    }
    snprintf(name, sizeof name, "%s", req->sso_user);
    if (strlen(req->sso_user) >= sizeof name || contract_name_clean(name, sizeof name) ||
        !contract_valid_user_name(name)) {
        http_reply_error(resp, 403, "the user nginx vouched for is not a valid name here");
        return;
    }
    if (!api_have_store(env->st, resp)) return;
    if (req->body_len > 0 && !(body = api_body_object(req, resp))) return;
    if ((rc = account_user_ensure(env->st, name)) != STORE_OK) {
        api_store_error(env, rc, resp);
    } else {
        session_start(env, req, name, body ? wants_cookie(body) : true, 200, resp);
    }
    json_decref(body);
}

typedef struct list_ctx {
    json_t *array;
    const char *current;
} list_ctx;

static int list_one(const account_credential *c, void *ud) {
    list_ctx *l = ud;
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:b}", "id", c->id, "kind", c->kind, "label",
                          c->label, "created_at", (json_int_t)c->created_at, "used_at",
                          (json_int_t)c->used_at, "expires_at", (json_int_t)c->expires_at,
                          "current", strcmp(c->id, l->current) == 0);
    return json_array_append_new(l->array, o);
}

/* The user a call is about: the caller, or ?user= for an admin. */
static bool subject(const caller *who, const http_request *req, char *user, size_t len,
                    http_response *resp) {
    int rc = http_query_get(req->query, "user", user, len);
    if (rc == HTTP_ENOTFOUND) {
        if (who->admin) {
            http_reply_error(resp, 400, "an admin names the user: ?user=");
            return false;
        }
        snprintf(user, len, "%s", who->name);
        return true;
    }
    if (!who->admin) {
        http_reply_error(resp, 403, "only an admin acts on another user's sessions");
        return false;
    }
    if (rc != HTTP_OK || !contract_valid_user_name(user)) {
        http_reply_error(resp, 400, "invalid user");
        return false;
    }
    return true;
}

static void sessions_list(const api_env *env, const http_request *req, http_response *resp) {
    caller who;
    char user[CONTRACT_USER_NAME_BUF];
    list_ctx l = {NULL, ""};
    int rc;

    if (!authenticate(env, req, &who, resp) || !subject(&who, req, user, sizeof user, resp)) return;
    l.current = who.sess;
    if (!(l.array = json_array())) {
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    if ((rc = account_credentials_list(env->st, user, list_one, &l)) != STORE_OK) {
        json_decref(l.array);
        api_store_error(env, rc, resp);
        return;
    }
    http_reply_json(resp, 200, json_pack("{s:o}", "sessions", l.array));
}

static void sessions_revoke(const api_env *env, const http_request *req, const char *id,
                            http_response *resp) {
    caller who;
    char user[CONTRACT_USER_NAME_BUF];
    account_credential c;
    int rc;

    if (!authenticate(env, req, &who, resp)) return;
    if (id) {
        rc = account_credential_get(env->st, id, store_now_ms(), &c);
        if (rc == STORE_OK && !who.admin && strcmp(c.name, who.name) != 0) rc = STORE_NOTFOUND;
        if (rc == STORE_NOTFOUND) {
            http_reply_error(resp, 404, "no such session");
            return;
        }
        if (!rc) rc = revoke_credentials(env, c.name, id);
        snprintf(user, sizeof user, "%s", c.name);
    } else {
        if (!subject(&who, req, user, sizeof user, resp)) return;
        rc = revoke_credentials(env, user, NULL);
    }
    if (rc) {
        api_store_error(env, rc, resp);
        return;
    }
    log_event(LOG_LEVEL_INFO, "accounts: revoked", "user", user, "session", id ? id : "all", "by",
              who.admin ? "admin" : who.name, NULL);
    resp->status = 204;
    if (who.cookie && (!id || strcmp(id, who.sess) == 0)) cookie_set(req, resp, "", 0);
}

static void link_code(const api_env *env, const http_request *req, http_response *resp) {
    caller who;
    char code[CODE_LEN + 1], shown[CODE_LEN + 2], h[SECRET_HEX + 1], key[160];
    unsigned char raw[CODE_LEN];
    int64_t now = store_now_ms();
    account_credential c = {.created_at = now,
                            .expires_at = now + API_ACCOUNTS_LINK_TTL_S * 1000LL};
    int rc;

    if (!authenticate(env, req, &who, resp)) return;
    if (who.admin) {
        http_reply_error(resp, 400, "an admin token links no device");
        return;
    }
    snprintf(key, sizeof key, "code:u:%s", who.name);
    if (!rate_ok(env, key, 60, API_ACCOUNTS_CODES_MINUTE, "too many codes asked for", resp)) return;
    randombytes_buf(raw, sizeof raw);
    for (int i = 0; i < CODE_LEN; i++)
        code[i] = code_alphabet[raw[i] & 31];
    code[CODE_LEN] = '\0';
    secret_hash(code, CODE_LEN, h);
    memcpy(c.id, h, 32);
    c.id[32] = '\0';
    snprintf(c.name, sizeof c.name, "%s", who.name);
    snprintf(c.kind, sizeof c.kind, "%s", ACCOUNT_KIND_LINK);
    if ((rc = account_credential_add(env->st, &c)) != STORE_OK) {
        api_store_error(env, rc, resp);
        return;
    }
    snprintf(shown, sizeof shown, "%.4s-%.4s", code, code + 4);
    http_reply_json(resp, 201,
                    json_pack("{s:s,s:i}", "code", shown, "expires_in", API_ACCOUNTS_LINK_TTL_S));
}

void api_accounts_claim(const api_env *env, const http_request *req, http_response *resp) {
    json_t *body = api_body_object(req, resp);
    char *name = NULL, *token = NULL, id[ACCOUNT_ID_BUF];
    const char *why = "";
    int64_t retry = 1;
    bool cookie;
    int rc;

    if (!body || !(name = name_of(body, resp)) || !api_have_store(env->st, resp)) goto out;
    if (!secret_of(env)->len) {
        api_unavailable(resp, "no server secret configured");
        goto out;
    }
    cookie = wants_cookie(body);
    if (cookie && token_bearer(req->authorization) &&
        token_name_check(env->st, secret_of(env), name, token_bearer(req->authorization), &why) ==
            TOKEN_NAME_OWNER) {
        /* the page trades a credential it kept in localStorage (before
         * accounts) for the cookie session */
        session_start(env, req, name, true, 200, resp);
        goto out;
    }
    rc = account_claim(env->st, name, req->remote_addr, cookie, TOKEN_USER_TTL_S * 1000LL, id,
                       &retry);
    if (rc == STORE_OVER_BUDGET) {
        http_reply_error(resp, 429, "too many names claimed from this address");
        http_set_header(resp, "Retry-After", "%lld", (long long)(retry > 0 ? retry : 1));
        goto out;
    }
    if (rc == STORE_EXISTS) {
        http_reply_error(resp, 409, "this name is taken: sign in, or present its token");
        goto out;
    }
    if (rc) {
        api_store_error(env, rc, resp);
        goto out;
    }
    if (cookie) {
        /* the page's claim: its cookie session is the credential */
        account_credential_delete(env->st, id);
        session_start(env, req, name, true, 201, resp);
        goto out;
    }
    if (!(token = token_issue_session(secret_of(env), NULL, name, id, TOKEN_USER_TTL_S))) {
        account_credential_delete(env->st, id);
        http_reply_error(resp, 500, "out of memory");
        goto out;
    }
    http_reply_json(resp, 201, json_pack("{s:s,s:s}", "name", name, "token", token));
out:
    free(token);
    free(name);
    json_decref(body);
}

/* The id of /api/sessions/{id}, or NULL. */
static const char *session_id_of(const char *path) {
    static const char prefix[] = "/api/sessions/";
    const char *id = path + sizeof prefix - 1;
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) return NULL;
    return strlen(id) == 32 && all_hex(id, 32) ? id : NULL;
}

bool api_accounts_route(const char *path) {
    return strcmp(path, "/api/accounts") == 0 || strcmp(path, "/api/sessions") == 0 ||
           strcmp(path, "/api/sessions/refresh") == 0 ||
           strcmp(path, "/api/sessions/access") == 0 || strcmp(path, "/api/sessions/sso") == 0 ||
           strcmp(path, "/api/link-codes") == 0 || session_id_of(path) != NULL;
}

const char *api_accounts_allow(const char *path) {
    if (strcmp(path, "/api/sessions") == 0) return "GET, HEAD, POST, DELETE, OPTIONS";
    if (session_id_of(path)) return "DELETE, OPTIONS";
    return "POST, OPTIONS";
}

bool api_accounts_handle(const api_env *env, const http_request *req, const char *path,
                         const char *method, http_response *resp) {
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
    const char *id = session_id_of(path);

    if (sodium_init() < 0) {
        api_unavailable(resp, "no randomness");
        return true;
    }
    if (id) {
        if (del) sessions_revoke(env, req, id, resp);
        return del;
    }
    if (strcmp(path, "/api/sessions") == 0) {
        if (get)
            sessions_list(env, req, resp);
        else if (post)
            signin(env, req, resp);
        else if (del)
            sessions_revoke(env, req, NULL, resp);
        return get || post || del;
    }
    if (!post) return false;
    if (strcmp(path, "/api/accounts") == 0)
        signup(env, req, resp);
    else if (strcmp(path, "/api/sessions/refresh") == 0)
        refresh(env, req, resp);
    else if (strcmp(path, "/api/sessions/access") == 0)
        access_issue(env, req, resp);
    else if (strcmp(path, "/api/sessions/sso") == 0)
        sso(env, req, resp);
    else
        link_code(env, req, resp);
    return true;
}
