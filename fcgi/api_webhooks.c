/* api_webhooks.c -- REST for outgoing webhooks (api_webhooks.h). The sender
 * is another process (webhooks/); this only writes and reads the rows. */
#include "api_webhooks.h"

#include <sodium.h>

#include <stdio.h>
#include <string.h>

#include "contract.h"
#include "webhook_store.h"

static const char prefix[] = "/api/webhooks";

/* The id of /api/webhooks/{id}[/unpark] into *id, and whether it ends in
 * /unpark; false for another path. */
static bool webhook_path(const char *path, int64_t *id, bool *unpark) {
    char buf[24];
    const char *p = path + sizeof prefix - 1, *end;
    size_t len;

    if (strncmp(path, prefix, sizeof prefix - 1) != 0 || *p != '/') return false;
    p++;
    end = strchr(p, '/');
    *unpark = end != NULL;
    if (end && strcmp(end, "/unpark") != 0) return false;
    len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return http_parse_uint(buf, id) == HTTP_OK && *id > 0;
}

bool api_webhooks_route(const char *path) {
    int64_t id;
    bool unpark;
    return strcmp(path, prefix) == 0 || webhook_path(path, &id, &unpark);
}

const char *api_webhooks_allow(const char *path) {
    int64_t id;
    bool unpark;
    if (strcmp(path, prefix) == 0) return "GET, HEAD, POST, OPTIONS";
    if (webhook_path(path, &id, &unpark) && unpark) return "POST, OPTIONS";
    return "GET, HEAD, DELETE, OPTIONS";
}

static json_t *webhook_json(const webhook *w) {
    json_t *events = json_array();
    for (int k = STORE_EVENT_MESSAGE; k <= STORE_EVENT_DELETE; k++)
        if (w->events & (1 << k)) json_array_append_new(events, json_string(webhook_event_name(k)));
    const char *state = w->parked ? "parked" : w->attempts > 0 ? "retrying" : "ok";
    return json_pack("{s:I,s:s,s:s,s:o,s:I,s:s,s:I,s:I,s:s,s:b,s:I,s:I,s:I}", "id",
                     (json_int_t)w->id, "namespace", w->ns, "url", w->url, "events", events,
                     "cursor", (json_int_t)w->cursor, "state", state, "attempts",
                     (json_int_t)w->attempts, "last_status", (json_int_t)w->last_status,
                     "last_error", w->last_error ? w->last_error : "", "parked", w->parked,
                     "next_at", (json_int_t)w->next_at, "delivered", (json_int_t)w->delivered,
                     "created_at", (json_int_t)w->created_at);
}

static int webhook_into_array(const webhook *w, void *ctx) {
    json_array_append_new(ctx, webhook_json(w));
    return 0;
}

static int webhook_into_obj(const webhook *w, void *ctx) {
    *(json_t **)ctx = webhook_json(w);
    return 1;
}

/* A URL the sender can reach: http:// or https://, a host, no space or control. */
static bool webhook_url_ok(const char *url) {
    const char *host;

    if (strlen(url) > WEBHOOK_URL_MAX) return false;
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return false;
    if (*host == '\0' || *host == '/' || *host == ':') return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) return false;
    return true;
}

/* The events member (absent: "chat message") as a bit set, or 0 after a 400. */
static int webhook_events_of(json_t *body, http_response *resp) {
    json_t *list = json_object_get(body, "events"), *v;
    size_t i;
    int bits = 0;

    if (!list || json_is_null(list)) return WEBHOOK_EV_MESSAGE;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        http_reply_error(resp, 400, "events must be a non-empty array of event names");
        return 0;
    }
    json_array_foreach(list, i, v) {
        int bit = webhook_event_bit(json_string_value(v));
        if (!bit) {
            http_reply_error(resp, 400,
                             "unknown event (chat message, message edited, message deleted)");
            return 0;
        }
        bits |= bit;
    }
    return bits;
}

static void webhook_create_call(const api_env *env, const http_request *req, http_response *resp) {
    unsigned char key[WEBHOOK_SECRET_HEX / 2];
    char secret[WEBHOOK_SECRET_HEX + 1];
    const char *ns = "/", *url = NULL;
    json_t *body = api_body_object(req, resp), *out = NULL;
    int64_t id = 0;
    int events, rc;

    if (!body) return;
    if (!api_string_member(body, "namespace", &ns, resp) ||
        !api_string_member(body, "url", &url, resp))
        goto done;
    if (!ns) ns = "/";
    if (!contract_valid_namespace(ns)) {
        http_reply_error(resp, 400, "namespace must be \"/\" or \"/<workspace>\"");
        goto done;
    }
    if (!url || !webhook_url_ok(url)) {
        http_reply_error(resp, 400, "url must be an http:// or https:// URL of at most 2048 bytes");
        goto done;
    }
    if (!(events = webhook_events_of(body, resp))) goto done;
    if (sodium_init() < 0) {
        http_reply_error(resp, 500, "no random source");
        goto done;
    }
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(secret, sizeof secret, key, sizeof key);
    rc = webhook_create(env->st, ns, url, events, secret, &id);
    if (rc == STORE_LIMIT) {
        http_reply_error(resp, 429, "too many webhooks in this namespace");
        goto done;
    }
    if (rc == STORE_OK) rc = webhook_get(env->st, id, webhook_into_obj, &out);
    if (rc != STORE_OK) {
        api_store_error(env, rc, resp);
        goto done;
    }
    json_object_set_new(out, "secret", json_string(secret));
    http_reply_json(resp, 201, out);
done:
    sodium_memzero(key, sizeof key);
    sodium_memzero(secret, sizeof secret);
    json_decref(body);
}

static void webhook_list_call(const api_env *env, const http_request *req, http_response *resp) {
    char ns[CONTRACT_NAMESPACE_BUF];
    bool all = http_query_get(req->query, "namespace", ns, sizeof ns) == HTTP_ENOTFOUND;
    json_t *list;
    int rc;

    if (!all && !api_query_namespace(req, ns, sizeof ns, resp)) return;
    list = json_array();
    rc = webhook_list(env->st, all ? NULL : ns, webhook_into_array, list);
    if (rc != STORE_OK) {
        json_decref(list);
        api_store_error(env, rc, resp);
        return;
    }
    http_reply_json(resp, 200, json_pack("{s:o}", "webhooks", list));
}

/* Replies with webhook id (after an action that returned rc). */
static void webhook_reply(const api_env *env, int64_t id, int rc, http_response *resp) {
    json_t *out = NULL;

    if (rc == STORE_OK) rc = webhook_get(env->st, id, webhook_into_obj, &out);
    if (rc == STORE_NOTFOUND)
        http_reply_error(resp, 404, "no such webhook");
    else if (rc != STORE_OK)
        api_store_error(env, rc, resp);
    else
        http_reply_json(resp, 200, out);
}

bool api_webhooks_handle(const api_env *env, const http_request *req, const char *path,
                         const char *method, http_response *resp) {
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
    bool unpark = false, root = strcmp(path, prefix) == 0;
    int64_t id = 0;
    int rc;

    if (!root && !webhook_path(path, &id, &unpark)) return false;
    if (root ? !(get || post) : unpark ? !post : !(get || del)) return false;
    if (!api_require_admin(env, req, resp) || !api_have_store(env->st, resp)) return true;
    if (root && get) {
        webhook_list_call(env, req, resp);
    } else if (root) {
        webhook_create_call(env, req, resp);
    } else if (unpark) {
        webhook_reply(env, id, webhook_unpark(env->st, id), resp);
    } else if (get) {
        webhook_reply(env, id, STORE_OK, resp);
    } else {
        rc = webhook_delete(env->st, id);
        if (rc == STORE_NOTFOUND)
            http_reply_error(resp, 404, "no such webhook");
        else if (rc != STORE_OK)
            api_store_error(env, rc, resp);
        else
            resp->status = 204;
    }
    return true;
}
