/* chat_json.h -- the JSON of a room and a message, one shape for REST and sockets */
#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <jansson.h>

#include "store.h"

/* {id, name, namespace, created_at, online, last_message_id}, in that
 * order. Returns a new reference, or NULL when out of memory. */
json_t *chat_json_room(const store_room *room);

/* {id, room, room_id, user, text, ts[, client_id][, edited_at]}, in that
 * order; client_id only when the sender gave one, edited_at (ms) only when
 * the text was edited. A NULL string field is written as "".
 * Returns a new reference, or NULL when out of memory. */
json_t *chat_json_message(const store_message *msg);

/* A row of the log as the room is told it: a message as `chat message`
 * (chat_json_message); an edit as `message edited` {id, room, room_id, user,
 * text, edited_at} and a deletion as `message deleted` {id, room, room_id,
 * by, ts}, where id is the message changed. *event gets the event's name.
 * Returns a new reference, or NULL when out of memory. */
json_t *chat_json_event(const store_message *msg, const char **event);

/* The "sanction" control event that tells every ws process of a mute or ban
 * given or lifted: {namespace, kind, user, address, until, with_address};
 * until 0 lifts the sanctions of kind on user (address "" for the name).
 * Returns a new reference, or NULL when out of memory. */
json_t *chat_json_sanction(const char *ns, const char *kind, const char *user, const char *address,
                           int64_t until, bool with_address);

/* How long the mute or ban that body ({minutes?} or {seconds?}) asks for,
 * in *ms (-1: neither given). Returns 0, or -1 when one is not an integer
 * in range (CONTRACT_SANCTION_MINUTES, in minutes or its seconds). */
int chat_json_sanction_duration(const json_t *body, int64_t *ms);

#endif
