/* account.h -- accounts (a name with an argon2id password hash) and the
 * credentials of a user (page sessions, API refresh tokens, name claims,
 * device-link codes), each a row that can be listed and revoked; and rate
 * windows shared by every process (sign-in, claims). SQLite or PostgreSQL,
 * the same statements on both. */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define ACCOUNT_ID_BUF 40     /* a credential id: 32 hex digits and a NUL */
#define ACCOUNT_HASH_BUF 160  /* a crypto_pwhash_str or a hex secret hash */
#define ACCOUNT_LABEL_BUF 128 /* what the user sees of a device (User-Agent, cut) */
#define ACCOUNT_KIND_BUF 12

/* The kinds of credentials (the kind column). */
#define ACCOUNT_KIND_CLAIM "claim"   /* POST /api/users: a long JWT naming this row */
#define ACCOUNT_KIND_COOKIE "cookie" /* the page's HttpOnly cookie session */
#define ACCOUNT_KIND_API "api"       /* an API client's refresh token */
#define ACCOUNT_KIND_LINK "link"     /* a one-time device-link code (not listed) */

/* Name claims (README "Security"): per client address, at most this many a
 * minute and a day (CHAT_CLAIM_RATE "M/D" changes them, 0 = none), and a
 * claim never used is forgotten after ACCOUNT_CLAIM_TTL_S (CHAT_CLAIM_TTL_S):
 * the defaults of store_limits, which the programs fill (edge/settings.h). */
#define ACCOUNT_CLAIMS_MINUTE 60
#define ACCOUNT_CLAIMS_DAY 1000
#define ACCOUNT_CLAIM_TTL_S 86400

typedef struct account_credential {
    char id[ACCOUNT_ID_BUF];
    char name[CONTRACT_USER_NAME_BUF];       /* the user it acts as */
    char kind[ACCOUNT_KIND_BUF];             /* one of ACCOUNT_KIND_* */
    char secret[ACCOUNT_HASH_BUF];           /* hash of its secret part, "" for claims */
    char label[ACCOUNT_LABEL_BUF];           /* the device, as it said at sign-in */
    int64_t created_at, used_at, expires_at; /* ms since the epoch; used_at 0: never */
} account_credential;

typedef int (*account_credential_cb)(const account_credential *c, void *ctx);

/* The password hash of account name into hash (hashlen bytes): STORE_OK, or
 * STORE_NOTFOUND when the name has no password. */
int account_password_get(store *st, const char *name, char *hash, size_t hashlen);

/* Sets (or replaces) name's password hash, and claims the name if nobody
 * has (the caller checked that it may). */
int account_password_set(store *st, const char *name, const char *hash);

/* Stores credential c (used_at 0: never used). STORE_EXISTS if the id is
 * taken. */
int account_credential_add(store *st, const account_credential *c);

/* A fresh random credential id (128 bits, hex). */
void account_new_id(char id[ACCOUNT_ID_BUF]);

/* The first claim of name from client address addr (NULL or "": not
 * counted): forgets expired claims, spends the address's claim rate
 * (STORE_OVER_BUDGET with *retry_after_s), then records the claim and its
 * credential (expiring in ttl_ms; used now when used, e.g. claimed by a
 * connection that holds the name) and gives its id. STORE_EXISTS when the
 * name is claimed. */
int account_claim(store *st, const char *name, const char *addr, bool used, int64_t ttl_ms,
                  char id[ACCOUNT_ID_BUF], int64_t *retry_after_s);

/* Claims name unless it is (a user nginx's auth_request vouched for). */
int account_user_ensure(store *st, const char *name);

/* Reads credential id if it is live (not expired at now_ms) into out:
 * STORE_OK or STORE_NOTFOUND (unknown, revoked or expired). */
int account_credential_get(store *st, const char *id, int64_t now_ms, account_credential *out);

/* Marks credential id used at now_ms, if it never was (a claim that was used
 * never expires). */
int account_credential_used(store *st, const char *id, int64_t now_ms);

/* Whether token credential id is live for name: STORE_OK and marks it used;
 * STORE_NOTFOUND when unknown, revoked, expired or another user's. This is
 * what a connection or a REST call presenting a session token checks. */
int account_credential_check(store *st, const char *id, const char *name);

/* Replaces the secret hash of id from old_secret to new_secret and its
 * expiry (a refresh token's rotation): STORE_NOTFOUND when id's secret is
 * no longer old_secret (a replayed refresh token). */
int account_credential_rotate(store *st, const char *id, const char *old_secret,
                              const char *new_secret, int64_t expires_at);

/* Revokes credential id: STORE_NOTFOUND when there is none. */
int account_credential_delete(store *st, const char *id);

/* Revokes every credential of name (sign out everywhere); *n (may be NULL)
 * how many. */
int account_credentials_delete_all(store *st, const char *name, int64_t *n);

/* Calls cb for the live credentials of name but link codes, oldest first,
 * at most 200. */
int account_credentials_list(store *st, const char *name, account_credential_cb cb, void *ctx);

/* Forgets name claims made before claimed_before_ms that were never used
 * and have no password (their name is free again), and every expired
 * credential. */
int account_expire(store *st, int64_t claimed_before_ms);

/* Counts one attempt under key (e.g. "signin:a:<addr>") in the current
 * window of span_ms, unless limit attempts were counted there already:
 * STORE_OVER_BUDGET then, with *retry_after_s the seconds until the window
 * ends. Shared by every process and node (the budgets table). */
int account_rate_spend(store *st, const char *key, int64_t span_ms, int64_t limit,
                       int64_t *retry_after_s);

#endif
