/* api.c -- the REST handlers: validate the request, call the store, answer JSON */
#include "api.h"
#include "api_moderation.h"
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_json.h"
#include "contract.h"
#include "log.h"
#include "post.h"
#include "status.h"

#define API_NUM_BUF 32      /* a query number: digits of INT64_MAX and slack */
#define API_RETRY_AFTER_S 1 /* what a 503 or a 429 asks the client to wait */

/* Answers what breaks row id of the contract: 413 for the body, else 400,
 * with the message built from the table (contract_message; field: the
 * request's word for it, or NULL). */
void api_refuse(http_response *resp, contract_id id, const char *field) {
    char msg[CONTRACT_MESSAGE_MAX];

    http_reply_error(resp, id == CONTRACT_BODY ? 413 : 400,
                     contract_message(id, field, msg, sizeof msg));
}

void api_unavailable(http_response *resp, const char *message) {
    http_reply_error(resp, 503, message);
    http_set_header(resp, "Retry-After", "%d", API_RETRY_AFTER_S);
}

/* env's metrics, or none (every series NULL: nothing is counted). */
static const api_metrics *api_counters(const api_env *env) {
    static const api_metrics none;

    return env->metrics != NULL ? env->metrics : &none;
}

void api_store_error(const api_env *env, int rc, http_response *resp) {
    const status_reply *r = status_of_store(rc);
    store *st = env->st;

    http_reply_error(resp, r->http, r->message);
    if (r->retry) http_set_header(resp, "Retry-After", "%d", API_RETRY_AFTER_S);
    if (rc == STORE_BUSY) metrics_inc(api_counters(env)->db_busy);
    if (r->http >= 500 && rc != STORE_BUSY) {
        metrics_inc(api_counters(env)->db_errors);
        log_event(LOG_LEVEL_ERROR, "store error", "func", __func__, "status", LOG_I(rc), "error",
                  st != NULL ? store_errmsg(st) : "no connection", NULL);
    }
}

/* Answers 503 and returns false when there is no database connection. */
bool api_have_store(store *st, http_response *resp) {
    if (st != NULL) return true;
    api_unavailable(resp, "database unavailable");
    return false;
}

/* Answers 401 with the challenge of RFC 6750: why is NULL when the request
 * had no bearer token, else the reason the token was refused. */
void api_unauthorized(http_response *resp, const char *why) {
    if (why == NULL) {
        http_reply_error(resp, 401, "a bearer token is required");
        http_set_header(resp, "WWW-Authenticate", "Bearer realm=\"chat\"");
        return;
    }
    http_reply_error(resp, 401, why);
    http_set_header(resp, "WWW-Authenticate",
                    "Bearer realm=\"chat\", error=\"invalid_token\", error_description=\"%s\"",
                    why);
}

/* Verifies the request's bearer token into claims. Returns false after a 401
 * when there is none or it does not verify. The token is never logged. */
bool api_token(const api_env *env, const http_request *req, token_claims *claims,
               http_response *resp) {
    static const token_secret no_secret; /* len 0: every token is refused */
    const char *token = token_bearer(req->authorization);
    const char *why = "invalid token";

    if (token == NULL) {
        api_unauthorized(resp, NULL);
        return false;
    }
    if (token_verify(env->secret != NULL ? env->secret : &no_secret, token, claims, &why) != 0) {
        api_unauthorized(resp, why);
        return false;
    }
    return true;
}

/* Returns true when the request carries a valid admin token, else false
 * after a 401 (no or bad token) or a 403 (a valid token, not an admin one). */
bool api_require_admin(const api_env *env, const http_request *req, http_response *resp) {
    token_claims claims;

    if (!api_token(env, req, &claims, resp)) return false;
    if (claims.admin) return true;
    http_reply_error(resp, 403, "an admin token is required");
    return false;
}

bool api_namespace_access(const api_env *env, const http_request *req, const char *ns,
                          http_response *resp) {
    token_claims claims;
    bool is_private = false;
    int rc;

    if (strcmp(ns, "/") == 0) return true;
    if (!api_have_store(env->st, resp)) return false;
    rc = store_workspace_private(env->st, ns, &is_private);
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return false;
    }
    if (!is_private) return true;
    if (!api_token(env, req, &claims, resp)) return false;
    if (claims.admin || strcmp(claims.workspace, ns) == 0) return true;
    http_reply_error(resp, 403, "this token does not admit this workspace");
    return false;
}

/* Whether the request may write under user name: its bearer token has "sub"
 * name, or is an admin token. Else fills resp (401, 403, 503) and returns
 * false. */
static bool api_may_write_as(const api_env *env, const http_request *req, const char *name,
                             http_response *resp) {
    static const token_secret no_secret;
    const char *token = token_bearer(req->authorization), *why = "invalid token";

    if (token == NULL) {
        http_reply_error(resp, 401, "writing as a user needs that user's token (POST /api/users)");
        http_set_header(resp, "WWW-Authenticate", "Bearer realm=\"chat\"");
        return false;
    }
    switch (token_name_check(env->st, env->secret != NULL ? env->secret : &no_secret, name, token,
                             &why)) {
    case TOKEN_NAME_OWNER:
    case TOKEN_NAME_ADMIN:
        return true;
    case TOKEN_NAME_STORE:
        api_unavailable(resp, why);
        return false;
    case TOKEN_NAME_OTHER:
        http_reply_error(resp, 403, why);
        return false;
    case TOKEN_NAME_BAD_TOKEN:
    case TOKEN_NAME_REVOKED:
        api_unauthorized(resp, why);
        return false;
    default: /* a valid token without "sub": no credential for a name */
        http_reply_error(resp, 403, "this token names no user");
        return false;
    }
}

/* Parses the request body as a JSON object. Returns a new reference, or NULL
 * after filling resp with the error (413, 415 or 400). */
json_t *api_body_object(const http_request *req, http_response *resp) {
    json_error_t jerr;
    json_t *obj;
    char msg[96];

    switch (req->body_state) {
    case HTTP_BODY_OK:
        break;
    case HTTP_BODY_TOO_LARGE:
        api_refuse(resp, CONTRACT_BODY, NULL);
        return NULL;
    case HTTP_BODY_BAD_LENGTH:
        http_reply_error(resp, 400, "invalid Content-Length");
        return NULL;
    case HTTP_BODY_SHORT:
    default:
        http_reply_error(resp, 400, "incomplete request body");
        return NULL;
    }
    if (req->body_len > CONTRACT_BODY_MAX) {
        api_refuse(resp, CONTRACT_BODY, NULL);
        return NULL;
    }
    if (!http_is_json_type(req->content_type)) {
        http_reply_error(resp, 415, "Content-Type must be application/json");
        return NULL;
    }
    if (req->body == NULL || req->body_len == 0) {
        http_reply_error(resp, 400, "empty body: a JSON object is expected");
        return NULL;
    }
    obj = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (obj == NULL) {
        /* jerr.text may quote the input, which may not be UTF-8: not echoed. */
        snprintf(msg, sizeof msg, "invalid JSON at line %d, column %d", jerr.line, jerr.column);
        http_reply_error(resp, 400, msg);
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        http_reply_error(resp, 400, "the body must be a JSON object");
        return NULL;
    }
    return obj;
}

/* Reads the optional string member key of obj into *out (borrowed from obj,
 * NULL when absent or null). Returns false after a 400 when it is another type. */
bool api_string_member(json_t *obj, const char *key, const char **out, http_response *resp) {
    json_t *v = json_object_get(obj, key);
    char msg[64];

    *out = NULL;
    if (v == NULL || json_is_null(v)) return true;
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return true;
    }
    snprintf(msg, sizeof msg, "\"%s\" must be a string", key);
    http_reply_error(resp, 400, msg);
    return false;
}

/* Decodes the query parameter name as a namespace into ns (default "/").
 * Returns false after filling resp (400) when it is invalid. */
bool api_query_namespace(const http_request *req, char *ns, size_t nslen, http_response *resp) {
    int rc = http_query_get(req->query, "namespace", ns, nslen);

    if (rc == HTTP_ENOTFOUND) {
        snprintf(ns, nslen, "/");
        return true;
    }
    if (rc != HTTP_OK || !contract_valid_chat_namespace(ns)) {
        api_refuse(resp, CONTRACT_WORKSPACE_NAME, NULL);
        return false;
    }
    return true;
}

typedef struct api_list_ctx {
    json_t *array;
    bool oom;
} api_list_ctx;

static int api_room_cb(const store_room *room, void *ctx) {
    api_list_ctx *c = ctx;

    if (json_array_append_new(c->array, chat_json_room(room)) != 0) {
        c->oom = true;
        return 1;
    }
    return 0;
}

static int api_message_cb(const store_message *msg, void *ctx) {
    api_list_ctx *c = ctx;

    if (json_array_append_new(c->array, chat_json_message(msg)) != 0) {
        c->oom = true;
        return 1;
    }
    return 0;
}

/* A canonical copy of name in (trimmed, NFC: contract_name_clean), malloc'd
 * into *out, when valid() accepts it. Else answers 400 with the rule of row
 * rule, naming field (500 when out
 * of memory) and returns false; *out is then NULL or a copy the caller frees
 * as usual. */
bool api_trimmed(const char *in, bool (*valid)(const char *), contract_id rule, const char *field,
                 char **out, http_response *resp) {
    if ((*out = malloc(CONTRACT_ROOM_NAME_BUF)) == NULL) {
        http_reply_error(resp, 500, "out of memory");
        return false;
    }
    if (strlen(in) >= CONTRACT_ROOM_NAME_BUF) {
        api_refuse(resp, rule, field);
        return false;
    }
    memcpy(*out, in, strlen(in) + 1);
    if (contract_name_clean(*out, CONTRACT_ROOM_NAME_BUF) != 0 || !valid(*out)) {
        api_refuse(resp, rule, field);
        return false;
    }
    return true;
}

/* Answers {key: array} with status, or 500 when the list ran out of memory. */
/* Answers 200 {key: the list}, plus "truncated": true when asked. */
static void api_reply_list(http_response *resp, const char *key, api_list_ctx *c, bool more,
                           bool truncated) {
    json_t *obj;

    if (c->oom) {
        json_decref(c->array);
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    obj = json_pack("{s:o,s:b}", key, c->array, "more", more);
    if (obj != NULL && truncated) json_object_set_new(obj, "truncated", json_true());
    http_reply_json(resp, 200, obj);
}

/* Reads the optional non-negative integer parameter name of the query into
 * *out (left alone when absent or empty). Returns false after a 400. */
bool api_query_number(const http_request *req, const char *name, int64_t *out,
                      http_response *resp) {
    char buf[API_NUM_BUF], msg[64];
    int rc = http_query_get(req->query, name, buf, sizeof buf);

    if (rc == HTTP_ENOTFOUND || (rc == HTTP_OK && buf[0] == '\0')) return true;
    if (rc == HTTP_OK && http_parse_uint(buf, out) == HTTP_OK) return true;
    snprintf(msg, sizeof msg, "\"%s\" must be a non-negative integer", name);
    http_reply_error(resp, 400, msg);
    return false;
}

void api_rooms_list(const api_env *env, const http_request *req, http_response *resp) {
    store *st = env->st;
    char ns[CONTRACT_NAMESPACE_BUF];
    api_list_ctx c = {NULL, false};
    int64_t after = 0, limit = contract_default(CONTRACT_ROOMS_PAGE);
    bool more;
    int rc;

    if (!api_query_namespace(req, ns, sizeof ns, resp)) return;
    if (!api_query_number(req, "after", &after, resp)) return;
    if (!api_query_number(req, "limit", &limit, resp)) return;
    if (!contract_in_range(CONTRACT_ROOMS_PAGE, limit)) {
        api_refuse(resp, CONTRACT_ROOMS_PAGE, NULL);
        return;
    }
    if (!api_have_store(st, resp)) return;
    if (!api_namespace_access(env, req, ns, resp)) return;
    if ((c.array = json_array()) == NULL) {
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    /* one more than the page tells whether another page follows */
    rc = store_rooms_list(st, ns, after, (int)limit + 1, api_room_cb, &c);
    if (rc != STORE_OK) {
        json_decref(c.array);
        api_store_error(env, rc, resp);
        return;
    }
    more = json_array_size(c.array) > (size_t)limit;
    if (more) json_array_remove(c.array, (size_t)limit);
    if (c.oom) {
        json_decref(c.array);
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    http_reply_json(resp, 200, json_pack("{s:o,s:b}", "rooms", c.array, "more", more));
}

/* Counts one room created by this request's client in the hourly rates of
 * its address and, with a token naming a user, of that user (an admin token
 * is not counted). Returns true, or false after a 429 with Retry-After (or a
 * store error). Runs inside the caller's transaction. */
static bool api_room_rate(const api_env *env, const http_request *req, http_response *resp) {
    static const token_secret no_secret;
    const char *token = token_bearer(req->authorization), *why = "";
    token_claims claims;
    bool verified = token != NULL && token_verify(env->secret != NULL ? env->secret : &no_secret,
                                                  token, &claims, &why) == 0;
    int64_t retry_s = 0;
    int rc;

    if (verified && claims.admin) return true;
    rc = store_room_rate_spend(env->st, verified ? claims.sub : NULL, req->remote_addr, &retry_s);
    if (rc == STORE_OVER_BUDGET) {
        http_reply_error(resp, 429, "too many rooms created, try later");
        http_set_header(resp, "Retry-After", "%lld", (long long)(retry_s > 0 ? retry_s : 1));
        return false;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return false;
    }
    return true;
}

void api_rooms_create(const api_env *env, const http_request *req, http_response *resp) {
    store *st = env->st;
    json_t *body = NULL;
    const char *name_in, *ns_in;
    char *name = NULL, *trimmed;
    store_room room;
    int rc;

    if ((body = api_body_object(req, resp)) == NULL) goto out;
    if (!api_string_member(body, "name", &name_in, resp)) goto out;
    if (!api_string_member(body, "namespace", &ns_in, resp)) goto out;
    if (name_in == NULL) {
        http_reply_error(resp, 400, "\"name\" is required");
        goto out;
    }
    if (ns_in == NULL) ns_in = "/";
    if (!contract_valid_chat_namespace(ns_in)) {
        api_refuse(resp, CONTRACT_WORKSPACE_NAME, NULL);
        goto out;
    }
    if (!api_trimmed(name_in, contract_valid_room_name, CONTRACT_ROOM_NAME, NULL, &name, resp))
        goto out;
    trimmed = name;
    if (!api_have_store(st, resp)) goto out;
    if (!api_namespace_access(env, req, ns_in, resp)) goto out;
    if (strcmp(ns_in, "/") != 0) { /* a room makes no workspace: an admin does */
        bool exists = false;
        rc = store_workspace_exists(st, ns_in, &exists);
        if (rc != STORE_OK) {
            api_store_error(env, rc, resp);
            goto out;
        }
        if (!exists) {
            http_reply_error(resp, 404,
                             "no such workspace (an admin creates it: PUT /api/workspaces/{name})");
            goto out;
        }
    }
    memset(&room, 0, sizeof room);
    /* the room and its place in the creator's hourly rate: one commit, so a
     * refused creation (409, the cap) is not counted */
    rc = store_begin(st);
    if (rc == STORE_OK && !api_room_rate(env, req, resp)) {
        store_rollback(st);
        goto out;
    }
    if (rc == STORE_OK) rc = store_room_create(st, ns_in, trimmed, &room);
    if (rc == STORE_OK) rc = store_commit(st);
    if (rc != STORE_OK) store_rollback(st);
    if (rc == STORE_EXISTS) {
        http_reply_error(resp, 409, "a room with this name exists in this namespace");
        goto out;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        goto out;
    }
    if (http_reply_json(resp, 201, chat_json_room(&room)) == HTTP_OK)
        http_set_header(resp, "Location", "/api/rooms/%lld", (long long)room.id);
out:
    free(name);
    json_decref(body);
}

/* Reads room room_id into room and checks that the request may use it.
 * Returns false after filling resp (503, 404, 401/403 or a store error). */
bool api_load_room(const api_env *env, const http_request *req, int64_t room_id, store_room *room,
                   http_response *resp) {
    int rc;

    if (!api_have_store(env->st, resp)) return false;
    memset(room, 0, sizeof *room);
    rc = store_room_get(env->st, room_id, room);
    if (rc == STORE_NOTFOUND) {
        http_reply_error(resp, 404, "room not found");
        return false;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return false;
    }
    return api_namespace_access(env, req, room->ns, resp);
}

void api_room_get(const api_env *env, const http_request *req, int64_t room_id,
                  http_response *resp) {
    store_room room;

    if (!api_load_room(env, req, room_id, &room, resp)) return;
    http_reply_json(resp, 200, chat_json_room(&room));
}

void api_room_delete(const api_env *env, const http_request *req, int64_t room_id,
                     http_response *resp) {
    store *st = env->st;
    store_room room;
    json_t *event;
    char *payload = NULL;
    int64_t event_id = 0;
    int rc;

    if (!api_require_admin(env, req, resp)) return;
    if (!api_have_store(st, resp)) return;
    memset(&room, 0, sizeof room);
    rc = store_room_get(st, room_id, &room);
    if (rc == STORE_NOTFOUND) {
        http_reply_error(resp, 404, "room not found");
        return;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return;
    }
    if (strcmp(room.name, "general") == 0) {
        http_reply_error(resp, 409, "the general room of a namespace cannot be deleted");
        return;
    }
    event = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)room.id, "name", room.name, "namespace",
                      room.ns);
    payload = event != NULL ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);
    if (payload == NULL) {
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    /* The deletion and the event that tells the ws processes, in one commit. */
    rc = store_begin(st);
    if (rc == STORE_OK) {
        rc = store_room_delete(st, room_id);
        if (rc == STORE_OK) rc = store_control_append(st, "room_deleted", payload, &event_id);
        if (rc == STORE_OK) rc = store_commit(st);
        if (rc != STORE_OK) store_rollback(st);
    }
    free(payload);
    if (rc == STORE_NOTFOUND) {
        http_reply_error(resp, 404, "room not found");
        return;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return;
    }
    bus_publish_control(env->bus, event_id);
    resp->status = 204;
}

/* The JSON of a workspace's settings: privacy and the retention in force. */
static json_t *api_workspace_json(const char *ns, bool is_private, const retention_policy *p) {
    return json_pack("{s:s,s:b,s:{s:I,s:I}}", "namespace", ns, "private", is_private, "retention",
                     "days", (json_int_t)p->days, "max_messages", (json_int_t)p->max_messages);
}

/* Answers 200 with ns's settings as stored now. */
static void api_workspace_reply(const api_env *env, const char *ns, http_response *resp) {
    bool is_private = false;
    retention_policy p;
    int rc;

    rc = store_workspace_private(env->st, ns, &is_private);
    if (rc == STORE_OK) rc = retention_get(env->st, ns, &p);
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return;
    }
    http_reply_json(resp, 200, api_workspace_json(ns, is_private, &p));
}

void api_workspace_get(const api_env *env, const http_request *req, const char *ns,
                       http_response *resp) {
    /* admin only: a workspace's settings are the admin's business (issue 21.14) */
    if (!api_require_admin(env, req, resp)) return;
    if (!api_have_store(env->st, resp)) return;
    api_workspace_reply(env, ns, resp);
}

/* Reads one retention field of obj: absent leaves *v, null is
 * RETENTION_INHERIT, else an integer in 0..max. Returns false after a 400. */
static bool api_retention_field(json_t *obj, const char *key, int64_t max, int64_t *v,
                                http_response *resp) {
    json_t *f = json_object_get(obj, key);
    char msg[96];

    if (f == NULL) return true;
    if (json_is_null(f)) {
        *v = RETENTION_INHERIT;
        return true;
    }
    if (json_is_integer(f) && json_integer_value(f) >= 0 && json_integer_value(f) <= max) {
        *v = json_integer_value(f);
        return true;
    }
    snprintf(msg, sizeof msg, "\"retention.%s\" must be null or an integer in 0..%lld", key,
             (long long)max);
    http_reply_error(resp, 400, msg);
    return false;
}

void api_workspace_put(const api_env *env, const http_request *req, const char *ns,
                       http_response *resp) {
    json_t *body, *flag, *ret;
    retention_policy p;
    int rc = STORE_OK;

    if (!api_require_admin(env, req, resp)) return;
    if ((body = api_body_object(req, resp)) == NULL) return;
    flag = json_object_get(body, "private");
    ret = json_object_get(body, "retention");
    if ((flag == NULL && ret == NULL) || (flag != NULL && !json_is_boolean(flag))) {
        json_decref(body);
        http_reply_error(resp, 400, "\"private\" must be true or false");
        return;
    }
    if (ret != NULL && !json_is_object(ret)) {
        json_decref(body);
        http_reply_error(resp, 400, "\"retention\" must be an object {days, max_messages}");
        return;
    }
    if (!api_have_store(env->st, resp)) {
        json_decref(body);
        return;
    }
    /* An admin's PUT makes the workspace exist (rooms and sockets may then
     * use it), whichever settings it carries. */
    bool exists = false;
    rc = store_workspace_exists(env->st, ns, &exists);
    /* Fields left out keep their setting: start from what is stored. */
    if (rc == STORE_OK && ret != NULL) rc = retention_own(env->st, ns, &p);
    if (rc != STORE_OK) {
        json_decref(body);
        api_store_error(env, rc, resp);
        return;
    }
    if (ret != NULL &&
        (!api_retention_field(ret, "days", CONTRACT_RETENTION_DAYS_MAX, &p.days, resp) ||
         !api_retention_field(ret, "max_messages", CONTRACT_RETENTION_MESSAGES_MAX, &p.max_messages,
                              resp))) {
        json_decref(body);
        return;
    }
    /* The change and, made private, the event that makes every ws process
     * evict the sockets that no longer qualify: one commit. */
    char payload[CONTRACT_NAMESPACE_BUF + 32];
    snprintf(payload, sizeof payload, "{\"namespace\":\"%s\"}", ns); /* ns is [a-z0-9/-] */
    int64_t event_id;
    rc = store_begin(env->st);
    if (rc == STORE_OK && (flag != NULL || !exists))
        rc = store_workspace_set_private(env->st, ns, json_is_true(flag));
    if (rc == STORE_OK && json_is_true(flag))
        rc = store_control_append(env->st, "workspace_private", payload, &event_id);
    if (rc == STORE_OK && ret != NULL) rc = retention_set(env->st, ns, &p);
    if (rc == STORE_OK) rc = store_commit(env->st);
    if (rc != STORE_OK) store_rollback(env->st);
    bool made_private = json_is_true(flag); /* flag goes with body */
    json_decref(body);
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return;
    }
    if (made_private) bus_publish_control(env->bus, event_id);
    api_workspace_reply(env, ns, resp);
}

static int api_count_cb(const store_message *msg, void *ctx) {
    (void)msg;
    (*(int *)ctx)++;
    return 0;
}

/* Whether room_id has a message beyond the full page page (ascending ids)
 * in the direction it was read: after the last one when paging forward
 * (after >= 0, still below before when before > 0), else before the first
 * one. One probe of one row, since the page size may already be the store's
 * cap. Returns a store status. */
static int api_messages_more(store *st, int64_t room_id, int64_t after, int64_t before,
                             const json_t *page, bool *more) {
    size_t n = json_array_size(page);
    int found = 0, rc;

    *more = false;
    if (n == 0) return STORE_OK;
    if (after >= 0) {
        json_int_t last = json_integer_value(json_object_get(json_array_get(page, n - 1), "id"));
        rc = store_messages_list(st, room_id, (int64_t)last, before, 1, api_count_cb, &found);
    } else {
        json_int_t first = json_integer_value(json_object_get(json_array_get(page, 0), "id"));
        rc = store_messages_list(st, room_id, -1, (int64_t)first, 1, api_count_cb, &found);
    }
    *more = found > 0;
    return rc;
}

void api_messages_list(const api_env *env, const http_request *req, int64_t room_id,
                       http_response *resp) {
    store *st = env->st;
    int64_t after = -1, before = 0,
            limit = contract_default(CONTRACT_MESSAGES_PAGE); /* after -1: no cursor */
    api_list_ctx c = {NULL, false};
    store_room room;
    int rc;

    if (!api_query_number(req, "after", &after, resp)) return;
    if (!api_query_number(req, "before", &before, resp)) return;
    if (!api_query_number(req, "limit", &limit, resp)) return;
    if (!contract_in_range(CONTRACT_MESSAGES_PAGE, limit)) {
        api_refuse(resp, CONTRACT_MESSAGES_PAGE, NULL);
        return;
    }
    if (!api_load_room(env, req, room_id, &room, resp)) return;
    if ((c.array = json_array()) == NULL) {
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    bool more = false;
    rc = store_messages_list(st, room_id, after, before, (int)limit, api_message_cb, &c);
    if (rc == STORE_OK && !c.oom && json_array_size(c.array) == (size_t)limit)
        rc = api_messages_more(st, room_id, after, before, c.array, &more);
    if (rc != STORE_OK) {
        json_decref(c.array);
        api_store_error(env, rc, resp);
        return;
    }
    /* Retention deleted messages this page would have held: from after on,
     * or, paging back from the newest, below the oldest one kept. */
    api_reply_list(resp, "messages", &c, more,
                   room.pruned_upto > 0 && (after > 0 ? room.pruned_upto > after
                                                      : (int64_t)json_array_size(c.array) < limit));
}

typedef struct api_fetch_ctx {
    int64_t id;
    json_t *msg; /* the message found, a new reference */
    int64_t room_id;
} api_fetch_ctx;

static int api_fetch_cb(const store_message *msg, void *ctx) {
    api_fetch_ctx *f = ctx;

    if (msg->id == f->id && msg->kind == STORE_EVENT_MESSAGE) {
        f->msg = chat_json_message(msg);
        f->room_id = msg->room_id;
    }
    return 1;
}

/* Reads message id back from the log into f. Returns a store status;
 * STORE_NOTFOUND when there is no such message. */
static int api_fetch_message(store *st, int64_t id, api_fetch_ctx *f) {
    int rc;

    f->id = id;
    f->msg = NULL;
    f->room_id = 0;
    if (id < 1) return STORE_NOTFOUND;
    rc = store_log_tail(st, id - 1, 1, api_fetch_cb, f);
    if (rc != STORE_OK) return rc;
    return f->msg != NULL ? STORE_OK : STORE_NOTFOUND;
}

void api_message_get(const api_env *env, const http_request *req, int64_t room_id,
                     int64_t message_id, http_response *resp) {
    store *st = env->st;
    store_room room;
    api_fetch_ctx f;
    int rc;

    if (!api_load_room(env, req, room_id, &room, resp)) return;
    rc = api_fetch_message(st, message_id, &f);
    if (rc == STORE_OK && f.room_id != room_id) rc = STORE_NOTFOUND;
    if (rc == STORE_NOTFOUND) {
        json_decref(f.msg);
        http_reply_error(resp, 404, "message not found");
        return;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        return;
    }
    http_reply_json(resp, 200, f.msg);
}

void api_messages_create(const api_env *env, const http_request *req, int64_t room_id,
                         http_response *resp) {
    store *st = env->st;
    json_t *body = NULL;
    const char *user_in, *text, *client_id;
    char *user = NULL;
    contract_id broken;
    store_room room;
    store_message m;
    post_result r;
    api_fetch_ctx f = {0, NULL, 0};
    int rc;

    if (!api_load_room(env, req, room_id, &room, resp)) goto out;
    if ((body = api_body_object(req, resp)) == NULL) goto out;
    if (!api_string_member(body, "user", &user_in, resp)) goto out;
    if (!api_string_member(body, "text", &text, resp)) goto out;
    if (!api_string_member(body, "client_id", &client_id, resp)) goto out;
    if (user_in == NULL || text == NULL) {
        http_reply_error(resp, 400, "\"user\" and \"text\" are required");
        goto out;
    }
    if (!api_trimmed(user_in, contract_valid_user_name, CONTRACT_USER_NAME, "user", &user, resp))
        goto out;
    if (!post_valid(text, client_id, &broken)) {
        api_refuse(resp, broken, NULL);
        goto out;
    }
    if (!api_may_write_as(env, req, user, resp)) goto out;
    if (!api_moderation_may_post(env, room.ns, user, resp)) goto out; /* muted, banned */
    /* The write budget and the message, in one transaction: the count holds
     * across every process (chat-ws counts in the same table). */
    post_msg pm = {.room_id = room_id,
                   .room = room.name,
                   .ns = room.ns,
                   .user = user,
                   .text = text,
                   .client_id = client_id,
                   .budget_user = user,
                   .addr = req->remote_addr};
    store_write_budget budget;
    store_write_budget_init(&budget);
    if (env->settings) budget = env->settings->write_budget; /* CHAT_WRITE_BUDGET */
    rc = post_one(st, &budget, &pm, &r);
    if (rc == STORE_OVER_BUDGET) {
        char msg[STATUS_MESSAGE_MAX];
        http_reply_error(resp, 429, status_over_budget(r.over, msg, sizeof msg));
        http_set_header(resp, "Retry-After", "%d", API_RETRY_AFTER_S);
        goto out;
    }
    if (rc == STORE_NOTFOUND) {
        http_reply_error(resp, 404, "room not found");
        goto out;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        goto out;
    }
    m = post_row(&pm, &r);
    if (!r.dup) {
        metrics_inc(api_counters(env)->messages_stored);
        /* Tell the ws processes, with the row, so that they deliver it
         * without reading it back. */
        bus_publish_messages(env->bus, &m, 1);
    }
    /* Answer what the log holds: for a duplicate that is the first message. */
    rc = api_fetch_message(st, r.id, &f);
    if (rc == STORE_BUSY) {
        /* Stored but not readable now: answer from what we wrote. */
        rc = STORE_NOTFOUND;
    }
    if (rc == STORE_NOTFOUND && !r.dup) {
        f.msg = chat_json_message(&m);
        f.room_id = room_id;
        rc = STORE_OK;
    }
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        goto out;
    }
    if (http_reply_json(resp, r.dup ? 200 : 201, f.msg) == HTTP_OK)
        http_set_header(resp, "Location", "/api/rooms/%lld/messages/%lld", (long long)f.room_id,
                        (long long)r.id);
    f.msg = NULL; /* stolen by http_reply_json */
out:
    json_decref(f.msg);
    free(user);
    json_decref(body);
}

static int api_process_cb(const store_process *p, void *ctx) {
    api_list_ctx *c = ctx;
    json_t *obj = json_pack(
        "{s:I,s:I,s:s,s:s,s:s,s:b,s:I,s:I}", "id", (json_int_t)p->id, "pid", (json_int_t)p->pid,
        "listen", p->listen != NULL ? p->listen : "", "node", p->node != NULL ? p->node : "",
        "host", p->host != NULL ? p->host : "", "alive", p->alive, "connections",
        (json_int_t)p->connections, "heartbeat_at", (json_int_t)p->heartbeat_at);

    if (json_array_append_new(c->array, obj) != 0) {
        c->oom = true;
        return 1;
    }
    return 0;
}

void api_health(const api_env *env, const http_request *req, http_response *resp) {
    static const token_secret no_secret;
    store *st = env->st;
    int64_t rooms = 0, messages = 0;
    api_list_ctx c = {NULL, false};
    const char *why = "database unavailable", *token = token_bearer(req->authorization);
    token_claims claims;
    bool details =
        token != NULL &&
        token_verify(env->secret != NULL ? env->secret : &no_secret, token, &claims, &why) == 0 &&
        claims.admin;
    json_t *obj;
    int rc = STORE_ERROR;

    why = "database unavailable";
    if ((c.array = json_array()) == NULL) {
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    if (st != NULL) {
        rc = store_counts(st, &rooms, &messages);
        if (rc == STORE_OK && details) rc = store_processes_list(st, api_process_cb, &c);
        if (rc != STORE_OK) why = rc == STORE_BUSY ? "database busy" : "database error";
    }
    if (rc != STORE_OK || c.oom) {
        if (rc != STORE_OK && st != NULL)
            log_event(LOG_LEVEL_WARN, "store error", "func", __func__, "status", LOG_I(rc), "error",
                      store_errmsg(st), NULL);
        json_array_clear(c.array);
        obj = details ? json_pack("{s:s,s:{s:b,s:s},s:o}", "status", "error", "database", "ok", 0,
                                  "error", c.oom ? "out of memory" : why, "ws", c.array)
                      : json_pack("{s:s,s:s}", "status", "error", "error", "unavailable");
        if (!details) json_decref(c.array);
        http_reply_json(resp, 503, obj);
        http_set_header(resp, "Retry-After", "%d", API_RETRY_AFTER_S);
        return;
    }
    if (!details) {
        /* the public answer: up or down, nothing about the machine */
        json_decref(c.array);
        http_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    obj = json_pack("{s:s,s:{s:b,s:I,s:I},s:o}", "status", "ok", "database", "ok", 1, "rooms",
                    (json_int_t)rooms, "messages", (json_int_t)messages, "ws", c.array);
    http_reply_json(resp, 200, obj);
}
