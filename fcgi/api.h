/* api.h -- the REST handlers: rooms, message history and health, JSON in and out */
#ifndef API_H
#define API_H

#include "bus.h"
#include "http.h"
#include "metrics.h"
#include "settings.h"
#include "store.h"
#include "token.h"

/* What the handlers count: series of the program's registry (borrowed, in
 * memory shared by the workers). A NULL series counts nothing. */
typedef struct api_metrics {
    metrics_series *messages_stored; /* REST POSTs of a new message */
    metrics_series *db_errors;       /* answers 500/507 from a store error */
    metrics_series *db_busy;         /* answers 503 "database busy" */
} api_metrics;

/* What the handlers work with: st, the worker's connection, NULL when the
 * database could not be opened (the handlers then answer 503); secret, the
 * server's token secret, NULL or empty when none is configured (every token
 * is then refused). */
typedef struct api_env {
    store *st;
    const token_secret *secret;
    bus *bus; /* what is committed is published on it, for the ws processes; NULL: not */
    const char *cors_origins;      /* browser origins allowed to call /api/ (cors.h); NULL: none */
    const api_metrics *metrics;    /* where errors and stored messages count; NULL: nowhere */
    const chat_settings *settings; /* the deployment's: write budget, sign-in rates, trust in
                                      nginx's auth_request; NULL: the defaults */
} api_env;

/* Every handler fills resp completely (status, headers, JSON body). Input
 * never makes them answer 500: only a failure of the database or of memory
 * does.
 *
 * Tokens: "Authorization: Bearer <token>", an HS256 JWT checked with
 * token_verify. Admin calls answer 401 + WWW-Authenticate without a valid
 * token and 403 when it is not an admin one ("admin": true). Calls that read
 * or write the rooms of a private workspace need a token of that workspace
 * ("workspace": "/name") or an admin one: 401 without, 403 with another. */

/* GET /api/rooms?namespace=/&after=&limit= -> 200 {"rooms":[room...],"more":bool}:
 * the rooms with id > after (0), ascending, at most limit (1..
 * CONTRACT_ROOMS_PAGE_MAX, default contract_default(CONTRACT_ROOMS_PAGE)); more tells that
 * another page follows (page on with after = the last id). 400 bad namespace
 * or number. */
void api_rooms_list(const api_env *env, const http_request *req, http_response *resp);

/* POST /api/rooms {"name","namespace"?} -> 201 + Location, the room; 409 when
 * the name is taken; 403 when the namespace has its maximum of rooms; 400
 * invalid; 413 too large; 415 not JSON. */
void api_rooms_create(const api_env *env, const http_request *req, http_response *resp);

/* GET /api/rooms/{id} -> 200 the room; 404. */
void api_room_get(const api_env *env, const http_request *req, int64_t room_id,
                  http_response *resp);

/* DELETE /api/rooms/{id} (admin) -> 204; 404 unknown; 409 for the "general"
 * room of a namespace. The room's messages, presence and cursors go with it,
 * and a "room_deleted" control event {"id","name","namespace"} is appended in
 * the same transaction for the ws processes. */
void api_room_delete(const api_env *env, const http_request *req, int64_t room_id,
                     http_response *resp);

/* GET /api/rooms/{id}/messages?after=&before=&limit= -> 200 {"messages":[...]}
 * ascending by id; limit 1..CONTRACT_MESSAGES_PAGE_MAX (default 50) else 400; 404. */
void api_messages_list(const api_env *env, const http_request *req, int64_t room_id,
                       http_response *resp);

/* POST /api/rooms/{id}/messages {"user","text","client_id"?} -> 201 + Location,
 * the message; 200 with the stored message when client_id was already used by
 * that user in this room; 404 unknown room; 400/413/415 as for rooms. Needs
 * a bearer token whose "sub" is user (or an admin token): 401 without a
 * valid one, 403 with one for another name. */
void api_messages_create(const api_env *env, const http_request *req, int64_t room_id,
                         http_response *resp);

/* GET /api/rooms/{id}/messages/{mid} -> 200 the message; 404 (also when the
 * message belongs to another room). The target of the POST's Location. */
void api_message_get(const api_env *env, const http_request *req, int64_t room_id,
                     int64_t message_id, http_response *resp);

/* GET /api/workspaces/{name} (admin) -> 200 {"namespace":"/name",
 * "private":bool, "retention":{"days","max_messages"}} (a workspace nobody
 * configured is not private; retention is the policy in force, 0 = no
 * limit); 401/403 without an admin token, whether the workspace is private
 * or not. ns is "/name", already validated by the router. */
void api_workspace_get(const api_env *env, const http_request *req, const char *ns,
                       http_response *resp);

/* PUT /api/workspaces/{name} (admin) {"private"?: bool, "retention"?:
 * {"days"?: 0..36500|null, "max_messages"?: 0..1e9|null}} -> 200 as GET;
 * a retention field left out keeps its setting, null takes the deployment's
 * default (0 = no limit); 400 for anything else or an empty body; 413/415. */
void api_workspace_put(const api_env *env, const http_request *req, const char *ns,
                       http_response *resp);

/* GET /api/health -> 200 {"status":"ok"}, or 503 {"status":"error"} when the
 * database fails. With an admin bearer token the answer also has
 * "database":{...} and "ws":[...] (pids, listen addresses, connections). */
void api_health(const api_env *env, const http_request *req, http_response *resp);

/* Whether namespace ns may be read by this request: true when ns is not a
 * private workspace, or the request's token admits it. Otherwise fills resp
 * (401/403, or the store error) and returns false. */
bool api_namespace_access(const api_env *env, const http_request *req, const char *ns,
                          http_response *resp);

/* Helpers the handlers of other modules (api_moderation.c) share. */
/* Answers 503 and returns false when there is no database connection. */
bool api_have_store(store *st, http_response *resp);
/* Verifies the request's bearer token into claims; false after a 401. */
bool api_token(const api_env *env, const http_request *req, token_claims *claims,
               http_response *resp);
/* The body as a JSON object (a new reference), or NULL after 400/413/415. */
json_t *api_body_object(const http_request *req, http_response *resp);
/* The optional string member key of obj (borrowed; NULL when absent or
 * null), or false after a 400 when it is another type. */
bool api_string_member(json_t *obj, const char *key, const char **out, http_response *resp);
/* True when the request carries a valid admin token, else false after a
 * 401 (no or bad token) or a 403 (a valid token, not an admin one). */
bool api_require_admin(const api_env *env, const http_request *req, http_response *resp);
/* The query's namespace (default "/"), or false after a 400. */
bool api_query_namespace(const http_request *req, char *ns, size_t nslen, http_response *resp);
/* The optional non-negative integer query parameter name into *out (left
 * alone when absent), or false after a 400. */
bool api_query_number(const http_request *req, const char *name, int64_t *out, http_response *resp);
/* Room room_id into *room when the request may read its namespace, or false
 * after 404/401/403/503. */
bool api_load_room(const api_env *env, const http_request *req, int64_t room_id, store_room *room,
                   http_response *resp);
/* Answers what breaks row id of the contract (413 for the body, else 400). */
void api_refuse(http_response *resp, contract_id id, const char *field);

/* Fills resp with the error answer of store status rc (not STORE_OK), the
 * HTTP status and message of core/status.h's table, Retry-After on the
 * transient ones; a 5xx but BUSY is logged with the message of env's
 * connection. Counts it in env's metrics. */
void api_store_error(const api_env *env, int rc, http_response *resp);

/* Helpers the handler modules share (api_accounts.c). */

/* Answers 503 + Retry-After with message. */
void api_unavailable(http_response *resp, const char *message);
/* Answers 503 and returns false when st is NULL (no database connection). */
bool api_have_store(store *st, http_response *resp);
/* Answers 401 with RFC 6750's challenge: why NULL when no bearer token came,
 * else the reason it was refused. */
void api_unauthorized(http_response *resp, const char *why);
/* Parses the request body as a JSON object: a new reference, or NULL after
 * filling resp (413, 415 or 400). */
json_t *api_body_object(const http_request *req, http_response *resp);
/* The optional string member key of obj into *out (borrowed; NULL when
 * absent or null); false after a 400 when it is another type. */
bool api_string_member(json_t *obj, const char *key, const char **out, http_response *resp);
/* A canonical (trimmed, NFC) malloc'd copy of in into *out when valid()
 * accepts it; else a 400 naming field with contract row rule, and false
 * (*out is then NULL or a copy the caller frees). */
bool api_trimmed(const char *in, bool (*valid)(const char *), contract_id rule, const char *field,
                 char **out, http_response *resp);

#endif
