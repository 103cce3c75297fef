/* token.c -- the server secret and HS256 tokens (JWT, through libjwt) */
#include "token.h"

#include "account.h"
#include "status.h"
#include <jansson.h>

#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int token_secret_load(token_secret *out, const char *inline_secret, const char *file, char *err,
                      size_t errlen) {
    memset(out, 0, sizeof *out);
    size_t n = 0;
    if (inline_secret && *inline_secret) {
        n = strlen(inline_secret);
        if (n > TOKEN_SECRET_MAX) goto too_long;
        memcpy(out->key, inline_secret, n);
    } else if (file && *file) {
        FILE *f = fopen(file, "rb");
        if (!f) {
            snprintf(err, errlen, "cannot read CHAT_SECRET_FILE %s", file);
            return -1;
        }
        n = fread(out->key, 1, sizeof out->key, f);
        int more = fgetc(f) != EOF;
        fclose(f);
        while (n && (out->key[n - 1] == '\n' || out->key[n - 1] == '\r' || out->key[n - 1] == ' '))
            n--;
        if (more) goto too_long;
    } else {
        return 0;
    }
    if (n < 16) {
        memset(out, 0, sizeof *out);
        snprintf(err, errlen, "the secret must be at least 16 bytes");
        return -1;
    }
    out->len = n;
    return 0;
too_long:
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "the secret must be at most %d bytes", TOKEN_SECRET_MAX);
    return -1;
}

/* A time claim ("exp", "nbf") from the payload: *v gets its value, 0 when
 * absent. Returns -1 when present but not a JSON integer (a string or a
 * float "exp" is no expiry: RFC 7519 wants a NumericDate, and we accept only
 * whole seconds). */
static int time_grant(json_t *grants, const char *name, long *v) {
    json_t *j = json_object_get(grants, name);
    *v = 0;
    if (!j) return 0;
    if (!json_is_integer(j)) return -1;
    *v = (long)json_integer_value(j);
    return 0;
}

/* The header and expiry rules libjwt leaves to us: no "crit" header (we
 * understand no extension, and RFC 7515 4.1.11 says a token naming one we do
 * not understand is invalid), and a numeric "exp" in the future (a token
 * without one would be valid forever). Returns 0 and fills *exp, or -1 with
 * *why. */
static int check_times(jwt_t *jwt, long now, long *exp, const char **why) {
    char *crit = jwt_get_headers_json(jwt, "crit");
    char *payload = jwt_get_grants_json(jwt, NULL);
    json_t *grants = payload ? json_loads(payload, 0, NULL) : NULL;
    long nbf;
    int rc = -1;

    if (crit) {
        *why = "token has a crit header";
    } else if (!json_is_object(grants) || time_grant(grants, "exp", exp) ||
               time_grant(grants, "nbf", &nbf)) {
        *why = "invalid exp or nbf";
    } else if (!*exp) {
        *why = "token has no exp";
    } else if (*exp <= now) {
        *why = "token expired";
    } else if (nbf && nbf > now) {
        *why = "token not yet valid";
    } else {
        rc = 0;
    }
    json_decref(grants);
    free(payload);
    free(crit);
    return rc;
}

int token_verify(const token_secret *s, const char *token, token_claims *out, const char **why) {
    memset(out, 0, sizeof *out);
    if (!s->len) return *why = "no server secret configured", -1;
    if (!token || !*token || strlen(token) > 4096) return *why = "missing or oversized token", -1;
    jwt_t *jwt = NULL;
    /* libjwt checks the signature when given a key */
    if (jwt_decode(&jwt, token, s->key, (int)s->len) != 0 || !jwt) {
        *why = "invalid token";
        return -1;
    }
    int rc = -1;
    long now = (long)time(NULL), exp = 0;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
        *why = "token must be HS256";
        goto out;
    }
    if (check_times(jwt, now, &exp, why)) goto out;
    out->exp = exp;
    out->admin = jwt_get_grant_bool(jwt, "admin") == 1;
    const char *ws = jwt_get_grant(jwt, "workspace"), *sub = jwt_get_grant(jwt, "sub");
    const char *scope = jwt_get_grant(jwt, "scope");
    if (scope) snprintf(out->scope, sizeof out->scope, "%s", scope);
    if (ws) snprintf(out->workspace, sizeof out->workspace, "%s", ws);
    if (sub) snprintf(out->sub, sizeof out->sub, "%s", sub);
    const char *sess = jwt_get_grant(jwt, "sess");
    if (sess) snprintf(out->sess, sizeof out->sess, "%s", sess);
    rc = 0;
out:
    jwt_free(jwt);
    return rc;
}

/* A token with the given claims (sess: NULL or "" for none). */
static char *token_make(const token_secret *s, bool admin, const char *workspace, const char *sub,
                        const char *sess, long ttl_s) {
    if (!s->len) return NULL;
    jwt_t *jwt = NULL;
    char *token = NULL;
    if (jwt_new(&jwt)) return NULL;
    long now = (long)time(NULL);
    if (jwt_add_grant_int(jwt, "iat", now) || (admin && jwt_add_grant_bool(jwt, "admin", 1)) ||
        (workspace && *workspace && jwt_add_grant(jwt, "workspace", workspace)) ||
        (sub && *sub && jwt_add_grant(jwt, "sub", sub)) ||
        (sess && *sess && jwt_add_grant(jwt, "sess", sess)) ||
        (ttl_s > 0 && jwt_add_grant_int(jwt, "exp", now + ttl_s)) ||
        jwt_set_alg(jwt, JWT_ALG_HS256, s->key, (int)s->len))
        goto out;
    token = jwt_encode_str(jwt);
out:
    jwt_free(jwt);
    return token;
}

char *token_issue_scoped(const token_secret *s, const char *scope, long ttl_s) {
    jwt_t *jwt = NULL;
    char *token = NULL;
    long now = (long)time(NULL);

    if (!s->len || ttl_s <= 0 || jwt_new(&jwt)) return NULL;
    if (!jwt_add_grant_int(jwt, "iat", now) && !jwt_add_grant(jwt, "scope", scope) &&
        !jwt_add_grant_int(jwt, "exp", now + ttl_s) &&
        !jwt_set_alg(jwt, JWT_ALG_HS256, s->key, (int)s->len))
        token = jwt_encode_str(jwt);
    jwt_free(jwt);
    return token;
}

char *token_issue(const token_secret *s, bool admin, const char *workspace, const char *sub,
                  long ttl_s) {
    return token_make(s, admin, workspace, sub, NULL, ttl_s);
}

char *token_issue_session(const token_secret *s, const char *workspace, const char *sub,
                          const char *sess, long ttl_s) {
    return token_make(s, false, workspace, sub, sess, ttl_s);
}

const char *token_bearer(const char *header) {
    if (!header || strncasecmp(header, "Bearer ", 7) != 0) return NULL;
    header += 7;
    while (*header == ' ')
        header++;
    return *header ? header : NULL;
}

token_name_status token_name_check(store *st, const token_secret *s, const char *name,
                                   const char *token, const char **why) {
    token_claims claims;
    bool claimed = false;
    if (token && *token) {
        if (token_verify(s, token, &claims, why) != 0) return TOKEN_NAME_BAD_TOKEN;
        if (claims.admin) return TOKEN_NAME_ADMIN;
        if (claims.sub[0] && strcmp(claims.sub, name) != 0) {
            *why = "the token is for another name";
            return TOKEN_NAME_OTHER;
        }
        if (claims.sub[0] && claims.sess[0]) {
            /* a credential row: alive, or revoked/expired */
            int rc = account_credential_check(st, claims.sess, name);
            if (rc == STORE_NOTFOUND) {
                *why = "this credential was revoked or has expired: sign in again";
                return TOKEN_NAME_REVOKED;
            }
            if (rc != STORE_OK) {
                *why = status_of_store(rc)->message; /* "database busy, ..." */
                return TOKEN_NAME_STORE;
            }
            return TOKEN_NAME_OWNER;
        }
        if (claims.sub[0]) {
            /* a token of before accounts: not for a name that has a password */
            char hash[ACCOUNT_HASH_BUF];
            int rc = account_password_get(st, name, hash, sizeof hash);
            if (rc == STORE_OK) {
                *why = "this name has a password: sign in";
                return TOKEN_NAME_REVOKED;
            }
            /* read first: the usual case (claimed) costs no write */
            rc = rc == STORE_NOTFOUND ? store_user_claimed(st, name, &claimed) : rc;
            if (rc == STORE_OK && !claimed) rc = store_user_claim(st, name);
            if (rc != STORE_OK && rc != STORE_EXISTS) {
                *why = status_of_store(rc)->message;
                return TOKEN_NAME_STORE;
            }
            return TOKEN_NAME_OWNER;
        }
    }
    int rc = store_user_claimed(st, name, &claimed);
    if (rc != STORE_OK) {
        *why = status_of_store(rc)->message;
        return TOKEN_NAME_STORE;
    }
    *why = "this name is taken: present its token";
    return claimed ? TOKEN_NAME_TAKEN : TOKEN_NAME_FREE;
}
