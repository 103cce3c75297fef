/* moderation.h -- editing and deleting messages, roles, mutes and bans on the
 * chat's sockets */
#ifndef MODERATION_H
#define MODERATION_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter.h"
#include "hub.h"
#include "sio.h"
#include "store.h"

/* Socket events (chat namespaces), each answered by an ack {ok...} or
 * {error}:
 *   `edit message` {id, text}       the author, within the edit window
 *                                   (CONTRACT_EDIT_WINDOW), not muted
 *   `delete message` {id}           the author, or a moderator or owner
 *   `mute` / `ban` {user, minutes? or seconds?, reason?, address?}
 *   `unmute` / `unban` {user}       moderators and owners
 *   `role` ({user?, role?})         without role: {user, role} of user (or
 *                                   of the caller); with one: an owner sets it
 * A socket with an admin token acts above every role (operators).
 *   `roles`                         {roles: [{user, role, by, at}]}
 * Edits and deletions are rows of the log: the room hears `message edited`
 * / `message deleted` as it hears messages, on every process. Mutes and bans
 * are control events ("sanction") that every process keeps in memory. */
typedef struct moderation moderation;

typedef struct moderation_config {
    sio_server *srv;
    store *st;                 /* borrowed, outlives the moderation */
    adapter *adapter;          /* sanctions reach every process through its control log */
    hub *hub;                  /* edits and deletions are published through it */
    store_write_budget budget; /* edits spend the writer's message budget */
    /* Delivers the log past the chat's cursor (chat_deliver_new): an edit or
     * deletion committed here reaches this process's sockets that way. */
    void (*deliver)(void *ud);
    void *deliver_ud;
    /* The socket's user name ("~guest-..." for a guest). */
    const char *(*user_of)(const sio_socket *s);
    /* Whether the socket holds an admin token: it acts above every role. */
    bool (*is_admin)(const sio_socket *s);
} moderation_config;

/* Loads the sanctions in force. NULL when out of memory. */
moderation *moderation_new(const moderation_config *cfg);
void moderation_free(moderation *m); /* accepts NULL */

/* Registers the socket events above on a chat namespace. */
void moderation_define(moderation *m, sio_nsp_def *def);

/* Middleware, after the user is identified: refuses a user banned from the
 * namespace, or a client address banned there ("banned"). ud is m. */
int moderation_gate(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud);

/* Whether user (or the address addr, may be NULL) is banned from ns now. */
bool moderation_banned(moderation *m, const char *ns, const char *user, const char *addr);

/* When user's mute in ns ends (ms since the epoch), 0 when not muted. */
int64_t moderation_muted_until(moderation *m, const char *ns, const char *user);

/* The error text of a refused write of a muted user. */
void moderation_muted_message(int64_t until, char *buf, size_t len);

#endif
