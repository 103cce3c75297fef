/* router.c -- maps a parsed request to its handler: path, method, ids, common headers */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "api_accounts.h"
#include "api_moderation.h"
#include "api_webhooks.h"
#include "contract.h"
#include "cors.h"
#include "openapi.h"
#include "page.h"

typedef enum router_route {
    ROUTE_NONE,
    ROUTE_PAGE,         /* / and /w/<workspace> */
    ROUTE_NO_WORKSPACE, /* /w/<anything else>: the HTML 404 page */
    ROUTE_HEALTH,       /* /api/health */
    ROUTE_ROOMS,        /* /api/rooms */
    ROUTE_ROOM,         /* /api/rooms/{id} */
    ROUTE_MESSAGES,     /* /api/rooms/{id}/messages */
    ROUTE_MESSAGE,      /* /api/rooms/{id}/messages/{mid} */
    ROUTE_WORKSPACE,    /* /api/workspaces/{name} */
    ROUTE_USERS,        /* /api/users */
    ROUTE_ACCOUNTS,     /* /api/accounts, /api/sessions..., /api/link-codes (api_accounts.h) */
    ROUTE_MOD_ACTION,   /* /api/moderation/{mute,unmute,ban,unban} */
    ROUTE_MOD_READ,     /* /api/moderation/{sanctions,audit} */
    ROUTE_MOD_ROLES,    /* /api/moderation/roles */
    ROUTE_OPENAPI,      /* /api/openapi.json */
    ROUTE_WEBHOOKS,     /* /api/webhooks[/{id}[/unpark]] (api_webhooks.h) */
} router_route;

typedef struct router_match {
    router_route route;
    int64_t id;                      /* the room id of the room routes */
    int64_t mid;                     /* the message id of ROUTE_MESSAGE */
    char ns[CONTRACT_NAMESPACE_BUF]; /* the namespace of ROUTE_PAGE and ROUTE_WORKSPACE */
    const char *what;                /* the ROUTE_MOD_* call: the path's last segment */
} router_match;

/* Reads a workspace name, the whole rest of the path at name, into m->ns as
 * "/name". Returns false when it is not a valid workspace name. */
static bool router_workspace(const char *name, router_match *m) {
    size_t len = strlen(name);

    if (len == 0 || len >= sizeof m->ns - 1) return false;
    m->ns[0] = '/';
    memcpy(m->ns + 1, name, len + 1);
    return contract_valid_workspace(m->ns);
}

/* Parses a positive id that is the whole segment [s, s+len). */
static bool router_id(const char *s, size_t len, int64_t *out) {
    char buf[24];

    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return http_parse_uint(buf, out) == HTTP_OK && *out > 0;
}

/* Matches a decoded path against the routes. */
static router_match router_match_path(const char *path) {
    static const char rooms[] = "/api/rooms/", workspaces[] = "/api/workspaces/";
    router_match m = {ROUTE_NONE, 0, 0, "/", NULL};
    const char *p, *slash;

    if (strcmp(path, "/") == 0) {
        m.route = ROUTE_PAGE;
    } else if (strncmp(path, "/w/", 3) == 0) {
        m.route = router_workspace(path + 3, &m) ? ROUTE_PAGE : ROUTE_NO_WORKSPACE;
    } else if (strncmp(path, workspaces, sizeof workspaces - 1) == 0) {
        if (router_workspace(path + sizeof workspaces - 1, &m)) m.route = ROUTE_WORKSPACE;
    } else if (strncmp(path, "/api/moderation/", 16) == 0) {
        m.what = path + 16;
        if (strcmp(m.what, "roles") == 0)
            m.route = ROUTE_MOD_ROLES;
        else if (strcmp(m.what, "sanctions") == 0 || strcmp(m.what, "audit") == 0)
            m.route = ROUTE_MOD_READ;
        else if (strcmp(m.what, "mute") == 0 || strcmp(m.what, "unmute") == 0 ||
                 strcmp(m.what, "ban") == 0 || strcmp(m.what, "unban") == 0)
            m.route = ROUTE_MOD_ACTION;
    } else if (strcmp(path, "/api/health") == 0) {
        m.route = ROUTE_HEALTH;
    } else if (strcmp(path, "/api/openapi.json") == 0) {
        m.route = ROUTE_OPENAPI;
    } else if (strcmp(path, "/api/users") == 0) {
        m.route = ROUTE_USERS;
    } else if (api_accounts_route(path)) {
        m.route = ROUTE_ACCOUNTS;
    } else if (api_webhooks_route(path)) {
        m.route = ROUTE_WEBHOOKS;
    } else if (strcmp(path, "/api/rooms") == 0) {
        m.route = ROUTE_ROOMS;
    } else if (strncmp(path, rooms, sizeof rooms - 1) == 0) {
        p = path + sizeof rooms - 1;
        slash = strchr(p, '/');
        if (slash == NULL) {
            if (router_id(p, strlen(p), &m.id)) m.route = ROUTE_ROOM;
        } else if (router_id(p, (size_t)(slash - p), &m.id)) {
            if (strcmp(slash, "/messages") == 0) {
                m.route = ROUTE_MESSAGES;
            } else if (strncmp(slash, "/messages/", 10) == 0 &&
                       router_id(slash + 10, strlen(slash + 10), &m.mid)) {
                m.route = ROUTE_MESSAGE;
            }
        }
    }
    return m;
}

/* The methods a route answers, for Allow. */
static const char *router_allow(router_route route, const char *path) {
    switch (route) {
    case ROUTE_ACCOUNTS:
        return api_accounts_allow(path);
    case ROUTE_WEBHOOKS:
        return api_webhooks_allow(path);
    case ROUTE_ROOMS:
    case ROUTE_MESSAGES:
        return "GET, HEAD, POST, OPTIONS";
    case ROUTE_ROOM:
        return "GET, HEAD, DELETE, OPTIONS";
    case ROUTE_WORKSPACE:
        return "GET, HEAD, PUT, OPTIONS";
    case ROUTE_USERS:
    case ROUTE_MOD_ACTION:
        return "POST, OPTIONS";
    case ROUTE_MESSAGE:
        return "GET, HEAD, PATCH, DELETE, OPTIONS";
    case ROUTE_MOD_ROLES:
        return "GET, HEAD, PUT, OPTIONS";
    case ROUTE_NONE:
    case ROUTE_NO_WORKSPACE:
        return "";
    default:
        return "GET, HEAD, OPTIONS";
    }
}

/* Calls the handler of m for method (GET or HEAD when get, else as given).
 * Returns false when the route does not answer that method. */
static bool router_dispatch(const api_env *env, const http_request *req, const router_match *m,
                            const char *method, bool get, http_response *resp) {
    bool post = strcmp(method, "POST") == 0;

    switch (m->route) {
    case ROUTE_PAGE:
        if (!get) return false;
        page_chat(env->st, m->ns, resp);
        return true;
    case ROUTE_HEALTH:
        if (!get) return false;
        api_health(env, req, resp);
        return true;
    case ROUTE_OPENAPI:
        if (!get) return false;
        openapi_reply(resp);
        return true;
    case ROUTE_ROOMS:
        if (get)
            api_rooms_list(env, req, resp);
        else if (post)
            api_rooms_create(env, req, resp);
        return get || post;
    case ROUTE_ROOM:
        if (get)
            api_room_get(env, req, m->id, resp);
        else if (strcmp(method, "DELETE") == 0)
            api_room_delete(env, req, m->id, resp);
        else
            return false;
        return true;
    case ROUTE_MESSAGES:
        if (get)
            api_messages_list(env, req, m->id, resp);
        else if (post)
            api_messages_create(env, req, m->id, resp);
        return get || post;
    case ROUTE_MESSAGE:
        if (get)
            api_message_get(env, req, m->id, m->mid, resp);
        else if (strcmp(method, "PATCH") == 0)
            api_message_edit(env, req, m->id, m->mid, resp);
        else if (strcmp(method, "DELETE") == 0)
            api_message_delete(env, req, m->id, m->mid, resp);
        else
            return false;
        return true;
    case ROUTE_MOD_ACTION:
    case ROUTE_MOD_READ:
    case ROUTE_MOD_ROLES:
        return api_moderation(env, req, get ? "GET" : method, m->what, resp);
    case ROUTE_WORKSPACE:
        if (get)
            api_workspace_get(env, req, m->ns, resp);
        else if (strcmp(method, "PUT") == 0)
            api_workspace_put(env, req, m->ns, resp);
        else
            return false;
        return true;
    case ROUTE_USERS:
        if (!post) return false;
        api_accounts_claim(env, req, resp);
        return true;
    case ROUTE_ACCOUNTS:
        return api_accounts_handle(env, req, req->path, method, resp);
    case ROUTE_WEBHOOKS:
        return api_webhooks_handle(env, req, req->path, get ? "GET" : method, resp);
    case ROUTE_NONE:
    case ROUTE_NO_WORKSPACE:
    default:
        return false;
    }
}

void router_handle(const api_env *env, const http_request *req, http_response *resp) {
    char path[CONTRACT_PATH_MAX + 1];
    const char *method = req->method != NULL ? req->method : "";
    const char *raw = req->path != NULL ? req->path : "";
    const char *query = req->query != NULL ? req->query : "";
    http_request r = *req;
    router_match m;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int rc;

    http_set_header(resp, "X-Content-Type-Options", "nosniff");
    if (strlen(raw) > CONTRACT_PATH_MAX) {
        http_reply_error(resp, 414, "path too long");
        return;
    }
    if (strlen(query) > CONTRACT_QUERY_MAX) {
        http_reply_error(resp, 414, "query string too long (4 KiB at most)");
        return;
    }
    if (req->path_decoded) {
        memcpy(path, raw, strlen(raw) + 1);
    } else if ((rc = http_url_decode(path, sizeof path, raw, strlen(raw), false)) != HTTP_OK) {
        http_reply_error(resp, rc == HTTP_ETOOLONG ? 414 : 400, "invalid escape in the path");
        return;
    }
    if (http_query_validate(query) != HTTP_OK) {
        http_reply_error(resp, 400, "invalid escape in the query string");
        return;
    }
    r.method = method;
    r.path = path;
    r.path_decoded = true;
    r.query = query;

    m = router_match_path(path);
    if (strncmp(path, "/api/", 5) == 0) http_set_header(resp, "Cache-Control", "no-store");
    if (m.route == ROUTE_NONE) {
        http_reply_error(resp, 404, "no such path");
        return;
    }
    if (m.route == ROUTE_NO_WORKSPACE) {
        page_not_found(resp);
        return;
    }
    bool preflight = strcmp(method, "OPTIONS") == 0;
    if (strncmp(path, "/api/", 5) == 0)
        cors_apply(env->cors_origins, &r, preflight, router_allow(m.route, path), resp);
    if (preflight) {
        resp->status = 204;
        http_set_header(resp, "Allow", "%s", router_allow(m.route, path));
        return;
    }
    if (router_dispatch(env, &r, &m, method, get, resp)) return;
    http_reply_error(resp, 405, "method not allowed");
    http_set_header(resp, "Allow", "%s", router_allow(m.route, path));
}
