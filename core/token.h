/* token.h -- the server secret and HS256 tokens (JWT, through libjwt), and who
 * may act under a user name */
#ifndef TOKEN_H
#define TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define TOKEN_SECRET_MAX 256
#define TOKEN_SESS_BUF 40 /* a "sess" claim: a credential id (32 hex digits) */
/* Lifetime of a user credential issued on a name's first claim, in seconds;
 * each connection that presents a valid one gets a fresh one. */
#define TOKEN_USER_TTL_S (365L * 86400)

typedef struct token_secret {
    unsigned char key[TOKEN_SECRET_MAX];
    size_t len; /* 0: no secret configured, every token is refused */
} token_secret;

/* Bytes of a token's "scope" claim, NUL included; a longer one is cut. */
#define TOKEN_SCOPE_BUF 32

/* What a verified token grants. A scoped token (TOKEN_SCOPE_*) is good only
 * where its scope is checked: it carries no "admin", "workspace" or "sub". */
typedef struct token_claims {
    bool admin;                             /* "admin": true */
    char workspace[CONTRACT_NAMESPACE_BUF]; /* "workspace": "/acme", or "" */
    char sub[CONTRACT_USER_NAME_BUF];       /* "sub", or "" */
    long exp;                               /* "exp" in seconds since the epoch */
    char scope[TOKEN_SCOPE_BUF];            /* "scope": a session's use ("admin-ui"), or "" */
    char sess[TOKEN_SESS_BUF];              /* "sess": the credential row it belongs to
                                               (sql/account.h; revocable), or "" */
} token_claims;

/* Loads the secret from inline_secret (the secret itself, CHAT_SECRET) or,
 * when that is NULL or empty, from file (a file holding it, trailing
 * whitespace dropped; CHAT_SECRET_FILE). Neither set leaves out->len 0.
 * Returns 0, or -1 with err filled (unreadable file, a secret shorter than 16
 * or longer than TOKEN_SECRET_MAX bytes). */
int token_secret_load(token_secret *out, const char *inline_secret, const char *file, char *err,
                      size_t errlen);

/* Verifies token: an HS256 JWT signed with the secret (any other alg is
 * refused, "none" included), with no "crit" header, an integer "exp" in the
 * future (a token without one is refused) and not before an integer "nbf".
 * Returns 0 and fills out, or -1 with *why set to a static reason. The token
 * is never logged. */
int token_verify(const token_secret *s, const char *token, token_claims *out, const char **why);

/* Issues an HS256 token with the given claims and an exp ttl_s seconds
 * from now (no exp when ttl_s <= 0: such a token does not verify). Returns a
 * malloc'd string, or NULL. */
char *token_issue(const token_secret *s, bool admin, const char *workspace, const char *sub,
                  long ttl_s);

/* Issues an HS256 token that grants only scope (a TOKEN_SCOPE_* value), with
 * an exp ttl_s (> 0) seconds from now. Returns a malloc'd string, or NULL. */
char *token_issue_scoped(const token_secret *s, const char *scope, long ttl_s);

/* token_issue for a user with "sess": sess (a credential id, sql/account.h;
 * NULL or "" for none), so that revoking that credential ends the token. */
char *token_issue_session(const token_secret *s, const char *workspace, const char *sub,
                          const char *sess, long ttl_s);

/* Takes "Bearer <token>" from an Authorization header value: returns a
 * pointer to the token inside header, or NULL. */
const char *token_bearer(const char *header);

/* Who may act under a user name (sql/store.c keeps the claims). */
typedef enum token_name_status {
    TOKEN_NAME_OWNER = 0,      /* the token's "sub" is the name: act as it */
    TOKEN_NAME_ADMIN = 1,      /* an admin token: may act as any name */
    TOKEN_NAME_FREE = 2,       /* no credential, and nobody claimed the name yet */
    TOKEN_NAME_TAKEN = -1,     /* no credential for a claimed name */
    TOKEN_NAME_BAD_TOKEN = -2, /* a token that does not verify */
    TOKEN_NAME_STORE = -3,     /* the store failed; retry later */
    TOKEN_NAME_OTHER = -4,     /* a valid token whose "sub" is another name */
    TOKEN_NAME_REVOKED = -5,   /* a token of a credential revoked or expired */
} token_name_status;

/* Decides whether a client presenting token (NULL or "" when none) may act
 * as the valid user name. A verified token with "sub" equal to name makes
 * it the owner (and records the claim when the name was unclaimed: tokens
 * from `chat-ws --issue-token --sub`); a token with "sess" only while that
 * credential lives (sql/account.h); a token without "sess" is refused for a
 * name that has a password (sign in instead); an admin token may act as anyone; a
 * verified token without "sub" (a workspace token) is no credential for a
 * name. *why gets a static reason for the negative answers. */
token_name_status token_name_check(store *st, const token_secret *s, const char *name,
                                   const char *token, const char **why);

#endif
