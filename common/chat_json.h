/* chat_json.h -- the JSON of a room and a message, one shape for REST and sockets */
#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <jansson.h>

#include "store.h"

/* {id, name, namespace, created_at, online, last_message_id}, in that
 * order. Returns a new reference, or NULL when out of memory. */
json_t *chat_json_room(const store_room *room);

/* {id, room, room_id, user, text, ts[, client_id]}, in that order; client_id
 * only when the sender gave one. A NULL string field is written as "".
 * Returns a new reference, or NULL when out of memory. */
json_t *chat_json_message(const store_message *msg);

#endif
