/* post.h -- posting a chat message: the steps the socket handler (chat-ws's
 * `chat message`, with its group commit) and the REST handler (chat-fcgi's
 * POST /api/rooms/{id}/messages) share */
#ifndef POST_H
#define POST_H

#include <stdbool.h>
#include <stdint.h>

#include "contract.h"
#include "store.h"

/* A message to post. Every string is borrowed: the caller keeps it alive
 * until the row is published (post_row). */
typedef struct post_msg {
    int64_t room_id;
    const char *room;        /* the room's name, for the row published */
    const char *ns;          /* the room's namespace, for the row published */
    const char *user;        /* the author as stored: an owned name or a guest's */
    const char *text;        /* post_valid's */
    const char *client_id;   /* post_valid's; NULL: none (no idempotency) */
    const char *budget_user; /* the name a per-user write budget counts; NULL: a
                                guest, counted per address only */
    const char *addr;        /* the client's address, for its write budget */
} post_msg;

/* What posting one message did. */
typedef struct post_result {
    int rc;           /* STORE_OK; STORE_OVER_BUDGET (nothing counted, nothing
                         stored); STORE_NOTFOUND (the room is gone); or a store
                         error */
    int64_t id;       /* the message's offset in the log; of the first one
                         for a duplicate */
    int64_t ts;       /* ms since the epoch; of the first one for a duplicate */
    bool dup;         /* the author stored client_id in this room before:
                         nothing was written (idempotency) */
    const char *over; /* STORE_OVER_BUDGET: which budget is used up, for
                         status_over_budget (static) */
} post_result;

/* Whether text and client_id (NULL: none) may be posted; else false with
 * *broken the contract row the first broken one breaks (CONTRACT_TEXT, then
 * CONTRACT_CLIENT_ID), whose message the caller answers (contract_message).
 * Who may post where (room membership, the token, mutes and bans) is the
 * caller's to check first. */
bool post_valid(const char *text, const char *client_id, contract_id *broken);

/* Spends one message of m's write budgets (b) and appends m to its room's
 * log, inside the caller's open transaction (store_begin): the group commit
 * of chat-ws posts many in one. Fills *r (zeroed first) and returns r->rc.
 * A refused message counts nothing, but a failed append leaves the budget
 * spent: roll back, or accept that, before committing. */
int post_append(store *st, const store_write_budget *b, const post_msg *m, post_result *r);

/* Posts m alone: post_append in its own transaction, committed when it
 * succeeded, else rolled back (nothing counted, nothing stored). Fills *r
 * and returns r->rc, the status of the first step that failed (a failed
 * BEGIN or COMMIT included). */
int post_one(store *st, const store_write_budget *b, const post_msg *m, post_result *r);

/* The log row m became (r: its post_append, STORE_OK): what is delivered
 * and published on the bus after the commit. Its strings are m's
 * (borrowed). */
store_message post_row(const post_msg *m, const post_result *r);

#endif
