/* moderation_store.h -- roles per workspace, mutes and bans, the audit log of
 * moderation actions, and edits and deletions of messages as rows of the log,
 * on either backend (SQLite or PostgreSQL, as store_open chose) */
#ifndef MODERATION_STORE_H
#define MODERATION_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Roles in a workspace ("/" included). Every named user is a member; the
 * others are rows of the roles table. */
#define MODSTORE_ROLE_MEMBER 0
#define MODSTORE_ROLE_MODERATOR 1
#define MODSTORE_ROLE_OWNER 2

/* A sanction lasting until the end of time. */
#define MODSTORE_FOREVER INT64_MAX

/* "member", "moderator", "owner"; NULL for another value. */
const char *modstore_role_name(int role);
/* The role named name, or -1. */
int modstore_role_parse(const char *name);

/* user's role in ns (MEMBER when it has no row). */
int modstore_role_get(store *st, const char *ns, const char *user, int *role);
/* Sets user's role in ns (MEMBER deletes its row), granted by `by` (a user
 * name, or "admin"). STORE_INVALID for a bad ns, user or role. */
int modstore_role_set(store *st, const char *ns, const char *user, int role, const char *by);
/* Makes user the owner of ns unless ns has an owner already; *granted says
 * whether it did. For the creator of a workspace. */
int modstore_owner_claim(store *st, const char *ns, const char *user, bool *granted);
/* Calls cb for each row of ns's roles (moderators and owners), by user. */
typedef int (*modstore_role_cb)(const char *user, int role, const char *by, int64_t at, void *ctx);
int modstore_roles_list(store *st, const char *ns, modstore_role_cb cb, void *ctx);

/* A mute (a write ban) or a ban (no connect) in a namespace. A ban of a name
 * with with_address also bans each address the name is later seen from: a
 * row with both user and address, added by modstore_sanction_put. */
typedef struct modstore_sanction {
    const char *ns;
    const char *kind;    /* "mute" or "ban" */
    const char *user;    /* the user name it applies to */
    const char *address; /* "" for the name itself, else a client address key */
    int64_t until;       /* ms since the epoch; MODSTORE_FOREVER */
    const char *by;      /* who: a user name or "admin" */
    const char *reason;  /* free text, may be "" */
    int64_t at;          /* ms, when it was given */
    bool with_address;   /* a ban that follows the name to its addresses */
} modstore_sanction;

/* Inserts s, or replaces the sanction of the same (ns, kind, user, address).
 * STORE_INVALID for a bad kind or namespace. */
int modstore_sanction_put(store *st, const modstore_sanction *s);
/* Lifts every sanction of kind on user in ns (the addresses a ban followed
 * too); *n (may be NULL) says how many rows went. */
int modstore_sanction_lift(store *st, const char *ns, const char *kind, const char *user, int *n);
/* The latest end (*until, ms; 0: none) of the sanctions of kind in force at
 * now on user in ns, or on address (NULL or "": not looked at). */
int modstore_sanction_until(store *st, const char *ns, const char *kind, const char *user,
                            const char *address, int64_t now, int64_t *until);
/* When a sanction given at now for duration_ms (< 0: none given) ends: a
 * ban without one lasts until lifted, a mute the contract's default
 * (CONTRACT_SANCTION_MINUTES). */
int64_t modstore_sanction_end(const char *kind, int64_t duration_ms, int64_t now);
/* Gives s (lift false) or lifts the sanctions of s->kind on s->user in s->ns
 * (lift true), and records the action in the audit log by s->by, in one
 * transaction (joined when one is open). */
int modstore_sanction_give(store *st, const modstore_sanction *s, bool lift);
/* Calls cb for each sanction in force at now (until > now): of ns, or of
 * every namespace when ns is NULL. The strings live during the call only. */
typedef int (*modstore_sanction_cb)(const modstore_sanction *s, void *ctx);
int modstore_sanctions_active(store *st, const char *ns, int64_t now, modstore_sanction_cb cb,
                              void *ctx);

/* The audit log of moderation actions. detail is JSON object text. */
typedef struct modstore_audit {
    int64_t id;
    const char *ns, *actor, *action, *target, *detail;
    int64_t ts; /* ms */
} modstore_audit;
int modstore_audit_add(store *st, const char *ns, const char *actor, const char *action,
                       const char *target, const char *detail);
/* Calls cb for the entries of ns (NULL: every namespace) with id > after,
 * ascending, at most limit. */
typedef int (*modstore_audit_cb)(const modstore_audit *a, void *ctx);
int modstore_audit_list(store *st, const char *ns, int64_t after, int limit, modstore_audit_cb cb,
                        void *ctx);

/* Message id as history shows it (a message, not an event row): cb once, or
 * STORE_NOTFOUND. */
int modstore_message_get(store *st, int64_t id, store_message_cb cb, void *ctx);
/* A message as modstore_message_find copies it: m's strings point into the
 * struct itself (text and client_id are NULL). */
typedef struct modstore_found {
    store_message m;
    char room[STORE_ROOM_NAME_BUF], ns[STORE_NAMESPACE_BUF], user[STORE_USER_NAME_BUF];
} modstore_found;
/* Message id (not an event row) into *out, or STORE_NOTFOUND. */
int modstore_message_find(store *st, int64_t id, modstore_found *out);
/* The log row of an edit or deletion (kind) of f's message by user, stored
 * as event_id at ts: what bus_publish_messages tells the other processes.
 * Its strings are borrowed from f, user and text. */
store_message modstore_event_row(const modstore_found *f, int kind, const char *user,
                                 const char *text, int64_t event_id, int64_t ts);
/* Replaces message id's text (by its author, user: else STORE_NOTFOUND) and
 * appends the edit to the log, in one transaction (joined when one is open).
 * *event_id / *ts are the edit's row. STORE_NOTFOUND when id is no message. */
int modstore_message_edit(store *st, int64_t id, const char *user, const char *text,
                          int64_t *event_id, int64_t *ts);
/* Deletes message id with its edits (their text is gone from the store) and
 * appends the deletion by actor to the log, in one transaction. */
int modstore_message_delete(store *st, int64_t id, const char *actor, int64_t *event_id,
                            int64_t *ts);
/* Every row of room_id's log (messages, edits, deletions) with id > after,
 * ascending, at most limit (capped at STORE_LIST_MAX): what a recovery
 * replays. */
int modstore_room_log(store *st, int64_t room_id, int64_t after, int limit, store_message_cb cb,
                      void *ctx);

#endif
