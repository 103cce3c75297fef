/* router.c -- maps a parsed request to its handler: path, method, ids, common headers */
#include "router.h"

#include <string.h>

#include "api.h"
#include "page.h"

typedef enum router_route {
    ROUTE_NONE,
    ROUTE_PAGE,     /* / */
    ROUTE_HEALTH,   /* /api/health */
    ROUTE_ROOMS,    /* /api/rooms */
    ROUTE_ROOM,     /* /api/rooms/{id} */
    ROUTE_MESSAGES, /* /api/rooms/{id}/messages */
    ROUTE_MESSAGE,  /* /api/rooms/{id}/messages/{mid} */
} router_route;

typedef struct router_match {
    router_route route;
    int64_t id;  /* the room id of the room routes */
    int64_t mid; /* the message id of ROUTE_MESSAGE */
} router_match;

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
    static const char rooms[] = "/api/rooms/";
    router_match m = {ROUTE_NONE, 0, 0};
    const char *p, *slash;

    if (strcmp(path, "/") == 0) {
        m.route = ROUTE_PAGE;
    } else if (strcmp(path, "/api/health") == 0) {
        m.route = ROUTE_HEALTH;
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
static const char *router_allow(router_route route) {
    switch (route) {
    case ROUTE_ROOMS:
    case ROUTE_MESSAGES:
        return "GET, HEAD, POST, OPTIONS";
    case ROUTE_NONE:
        return "";
    default:
        return "GET, HEAD, OPTIONS";
    }
}

/* Calls the handler of m for method (GET, HEAD or POST). Returns false when
 * the route does not answer that method. */
static bool router_dispatch(store *st, const http_request *req, const router_match *m, bool get,
                            http_response *resp) {
    switch (m->route) {
    case ROUTE_PAGE:
        if (!get) return false;
        page_chat(st, "/", resp);
        return true;
    case ROUTE_HEALTH:
        if (!get) return false;
        api_health(st, resp);
        return true;
    case ROUTE_ROOMS:
        if (get)
            api_rooms_list(st, req, resp);
        else
            api_rooms_create(st, req, resp);
        return true;
    case ROUTE_ROOM:
        if (!get) return false;
        api_room_get(st, m->id, resp);
        return true;
    case ROUTE_MESSAGES:
        if (get)
            api_messages_list(st, m->id, req, resp);
        else
            api_messages_create(st, m->id, req, resp);
        return true;
    case ROUTE_MESSAGE:
        if (!get) return false;
        api_message_get(st, m->id, m->mid, resp);
        return true;
    case ROUTE_NONE:
    default:
        return false;
    }
}

void router_handle(store *st, const http_request *req, http_response *resp) {
    char path[HTTP_PATH_MAX + 1];
    const char *method = req->method != NULL ? req->method : "";
    const char *raw = req->path != NULL ? req->path : "";
    const char *query = req->query != NULL ? req->query : "";
    http_request r = *req;
    router_match m;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int rc;

    http_set_header(resp, "X-Content-Type-Options", "nosniff");
    if (strlen(raw) > HTTP_PATH_MAX) {
        http_reply_error(resp, 414, "path too long");
        return;
    }
    if (strlen(query) > HTTP_QUERY_MAX) {
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
    if (strcmp(method, "OPTIONS") == 0) {
        resp->status = 204;
        http_set_header(resp, "Allow", "%s", router_allow(m.route));
        return;
    }
    if ((get || strcmp(method, "POST") == 0) && router_dispatch(st, &r, &m, get, resp)) return;
    http_reply_error(resp, 405, "method not allowed");
    http_set_header(resp, "Allow", "%s", router_allow(m.route));
}
