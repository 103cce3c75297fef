/* api.h -- the REST handlers: rooms, message history and health, JSON in and out */
#ifndef API_H
#define API_H

#include "http.h"
#include "store.h"

/* Every handler fills resp completely (status, headers, JSON body). st is the
 * worker's connection; when it is NULL (the database could not be opened) the
 * handlers answer 503. Input never makes them answer 500: only a failure of
 * the database or of memory does. */

/* GET /api/rooms?namespace=/ -> 200 {"rooms":[room...]}; 400 bad namespace. */
void api_rooms_list(store *st, const http_request *req, http_response *resp);

/* POST /api/rooms {"name","namespace"?} -> 201 + Location, the room; 409 when
 * the name is taken; 400 invalid; 413 too large; 415 not JSON. */
void api_rooms_create(store *st, const http_request *req, http_response *resp);

/* GET /api/rooms/{id} -> 200 the room; 404. */
void api_room_get(store *st, int64_t room_id, http_response *resp);

/* GET /api/rooms/{id}/messages?after=&before=&limit= -> 200 {"messages":[...]}
 * ascending by id; limit 1..STORE_LIST_MAX (default 50) else 400; 404. */
void api_messages_list(store *st, int64_t room_id, const http_request *req, http_response *resp);

/* POST /api/rooms/{id}/messages {"user","text","client_id"?} -> 201 + Location,
 * the message; 200 with the stored message when client_id was already used by
 * that user; 404 unknown room; 400/413/415 as for rooms. */
void api_messages_create(store *st, int64_t room_id, const http_request *req, http_response *resp);

/* GET /api/rooms/{id}/messages/{mid} -> 200 the message; 404 (also when the
 * message belongs to another room). The target of the POST's Location. */
void api_message_get(store *st, int64_t room_id, int64_t message_id, http_response *resp);

/* GET /api/health -> 200 {"status":"ok","database":{...},"ws":[...]}, or 503
 * with "status":"error" when the database fails. */
void api_health(store *st, http_response *resp);

/* The JSON object of a room / a message, a new reference or NULL (no memory).
 * Shapes: {"id","name","namespace","created_at","online","last_message_id"}
 * and {"id","room","room_id","user","text","ts"[,"client_id"]}. */
json_t *api_room_json(const store_room *room);
json_t *api_message_json(const store_message *msg);

/* Fills resp with the error answer of store status rc (not STORE_OK):
 * NOTFOUND 404, EXISTS 409, INVALID 400, BUSY 503 + Retry-After, FULL 507,
 * anything else 500 (logged to stderr with the connection's message). */
void api_store_error(store *st, int rc, http_response *resp);

#endif
