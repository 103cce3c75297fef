/* auth.h -- the server secret and HS256 tokens (JWT, through libjwt) */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define AUTH_SECRET_MAX 256

typedef struct auth_secret {
    unsigned char key[AUTH_SECRET_MAX];
    size_t len; /* 0: no secret configured, every token is refused */
} auth_secret;

/* What a verified token grants. */
typedef struct auth_claims {
    bool admin;                          /* "admin": true */
    char workspace[STORE_NAMESPACE_BUF]; /* "workspace": "/acme", or "" */
    char sub[STORE_USER_NAME_BUF];       /* "sub", or "" */
    long exp;                            /* "exp" in seconds since the epoch, 0 if none */
} auth_claims;

/* Loads the secret from CHAT_SECRET (the secret itself) or CHAT_SECRET_FILE
 * (a file holding it; trailing whitespace dropped). Neither set leaves
 * out->len 0. Returns 0, or -1 with err filled (unreadable file, a secret
 * shorter than 16 or longer than AUTH_SECRET_MAX bytes). */
int auth_secret_load(auth_secret *out, char *err, size_t errlen);

/* Verifies token: an HS256 JWT signed with the secret (any other alg is
 * refused, "none" included), not expired ("exp") and not before "nbf".
 * Returns 0 and fills out, or -1 with *why set to a static reason. The token
 * is never logged. */
int auth_verify(const auth_secret *s, const char *token, auth_claims *out, const char **why);

/* Issues an HS256 token with the given claims and an exp ttl_s seconds
 * from now (no exp when ttl_s <= 0). Returns a malloc'd string, or NULL. */
char *auth_issue(const auth_secret *s, bool admin, const char *workspace, const char *sub,
                 long ttl_s);

/* Takes "Bearer <token>" from an Authorization header value: returns a
 * pointer to the token inside header, or NULL. */
const char *auth_bearer(const char *header);

#endif
