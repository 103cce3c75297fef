/* test_fcgi_router.c -- the REST API and the page: request in, status, headers and body out */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jwt.h>

#include "api.h"
#include "http.h"
#include "page.h"
#include "router.h"
#include "store.h"
#include "token.h"

#define JSON_CT "application/json"

/* The secret the router is given in these tests. */
static token_secret test_secret;

/* "Bearer <admin token>": what run() sends with message POSTs and health, so
 * that the table's writes under any user name pass and health shows its
 * details (every other request goes without a token); test_names_owned and
 * test_health_public check those rules themselves. Set in main. */
static char admin_authz[1024];

/* One request of the scripted table and what its answer must hold. */
typedef struct router_case {
    const char *method;
    const char *target;  /* path?query, percent-encoded as on the wire */
    const char *ctype;   /* Content-Type, NULL for none */
    const char *body;    /* NULL for none */
    int status;          /* expected status */
    const char *want[4]; /* fragments the body must contain */
    const char *nowant;  /* a fragment the body must not contain */
    const char *header;  /* a header that must be present ... */
    const char *has;     /* ... and contain this */
} router_case;

/* The cases run in order against one database: the schema seeds room 1,
 * "general"; the cases create the rest. */
static const router_case router_cases[] = {
    /* GET /api/rooms */
    {"GET",
     "/api/rooms",
     NULL,
     NULL,
     200,
     {"{\"rooms\":[{\"id\":1,\"name\":\"general\"", "\"namespace\":\"/\"", "\"online\":0",
      "\"last_message_id\":0"}},
    {"GET", "/api/rooms?namespace=%2F", NULL, NULL, 200, {"\"general\""}},
    {"GET", "/api/rooms?namespace=/", NULL, NULL, 200, {"\"created_at\":"}},
    {"GET", "/api/rooms?namespace=/ws-1", NULL, NULL, 200, {"{\"rooms\":[],\"more\":false}"}},
    {"GET", "/api/rooms?namespace=", NULL, NULL, 400, {"namespace"}},
    {"GET", "/api/rooms?namespace=bad", NULL, NULL, 400, {"\"error\""}},
    {"GET", "/api/rooms?namespace=/Upper", NULL, NULL, 400, {"\"error\""}},
    {"GET", "/api/rooms?namespace=/admin", NULL, NULL, 400, {"\"error\""}},
    {"GET", "/api/rooms?namespace=%00", NULL, NULL, 400, {"\"error\""}},
    {"GET", "/api/rooms?namespace=/%zz", NULL, NULL, 400, {"\"error\""}},
    {"GET", "/api/rooms?x=%4", NULL, NULL, 400, {"\"error\""}},
    {"GET", "/api/rooms?namespace=/&namespace=bad", NULL, NULL, 200, {"general"}},

    /* POST /api/rooms */
    {"POST",
     "/api/rooms",
     JSON_CT,
     "{\"name\":\"lobby\"}",
     201,
     {"\"id\":2,", "\"name\":\"lobby\"", "\"namespace\":\"/\"", "\"last_message_id\":0"},
     NULL,
     "Location",
     "/api/rooms/2"},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"lobby\"}", 409, {"\"error\""}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"  lobby\\t\"}", 409, {"\"error\""}},
    {"POST",
     "/api/rooms",
     JSON_CT,
     "{\"name\":\"dev\",\"namespace\":\"/ws-1\"}",
     201,
     {"\"name\":\"dev\"", "\"namespace\":\"/ws-1\""},
     NULL,
     "Location",
     "/api/rooms/3"},
    {"GET", "/api/rooms?namespace=/ws-1", NULL, NULL, 200, {"\"dev\""}, "general"},
    {"POST",
     "/api/rooms",
     JSON_CT,
     "{\"name\":\"dev\",\"namespace\":\"/nowhere\"}",
     404,
     {"no such workspace"}},
    {"POST",
     "/api/rooms",
     JSON_CT,
     "{\"name\":\"lobby\",\"namespace\":\"/ws-1\"}",
     201,
     {"\"id\":4"}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"x\",\"namespace\":\"/admin\"}", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"x\",\"namespace\":\"nope\"}", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"x\",\"namespace\":5}", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"x\",\"namespace\":null}", 201, {"\"x\""}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"\"}", 400, {"room name"}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"   \"}", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":5}", 400, {"must be a string"}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":null}", 400, {"required"}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":[\"a\"]}", 400},
    {"POST", "/api/rooms", JSON_CT, "{}", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"a\\u0001b\"}", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"a\\nb\"}", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"a\\u0000b\"}", 400, {"invalid JSON"}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"\xff\"}", 400, {"invalid JSON"}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"\xc0\xaf\"}", 400, {"invalid JSON"}},
    {"POST", "/api/rooms", JSON_CT, "{", 400, {"invalid JSON"}},
    {"POST", "/api/rooms", JSON_CT, "", 400, {"\"error\""}},
    {"POST", "/api/rooms", JSON_CT, "[]", 400, {"JSON object"}},
    {"POST", "/api/rooms", JSON_CT, "\"lobby\"", 400, {"JSON object"}},
    {"POST", "/api/rooms", JSON_CT, "null", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"a\"} x", 400},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"a\",\"name\":\"b\"}", 400},
    {"POST", "/api/rooms", JSON_CT, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 400},
    {"POST", "/api/rooms", "text/plain", "{\"name\":\"plain\"}", 415, {"application/json"}},
    {"POST", "/api/rooms", NULL, "{\"name\":\"none\"}", 415},
    {"POST", "/api/rooms", "application/jsonp", "{\"name\":\"p\"}", 415},
    {"POST", "/api/rooms", "application/x-www-form-urlencoded", "name=x", 415},
    {"POST", "/api/rooms", "application/json; charset=utf-8", "{\"name\":\"charset\"}", 201},
    {"POST", "/api/rooms", "APPLICATION/JSON;charset=UTF-8", "{\"name\":\"upper\"}", 201},
    {"POST",
     "/api/rooms",
     JSON_CT,
     "{\"name\":\"caf\xc3\xa9 \xe2\x98\x95\",\"extra\":1}",
     201,
     {"\"name\":\"caf\xc3\xa9 \xe2\x98\x95\""}},

    /* GET /api/rooms/{id} */
    {"GET", "/api/rooms/1", NULL, NULL, 200, {"\"id\":1,", "\"name\":\"general\""}},
    {"GET", "/api/rooms/2", NULL, NULL, 200, {"\"name\":\"lobby\""}},
    {"GET", "/api/rooms/%32", NULL, NULL, 200, {"\"name\":\"lobby\""}},
    {"GET", "/api/rooms/0002", NULL, NULL, 200, {"\"name\":\"lobby\""}},
    {"GET", "/api/rooms/999", NULL, NULL, 404, {"room not found"}},
    {"GET", "/api/rooms/0", NULL, NULL, 404},
    {"GET", "/api/rooms/-1", NULL, NULL, 404},
    {"GET", "/api/rooms/abc", NULL, NULL, 404},
    {"GET", "/api/rooms/1abc", NULL, NULL, 404},
    {"GET", "/api/rooms/%201", NULL, NULL, 404},
    {"GET", "/api/rooms/9223372036854775807", NULL, NULL, 404},
    {"GET", "/api/rooms/9223372036854775808", NULL, NULL, 404},
    {"GET", "/api/rooms/99999999999999999999999999", NULL, NULL, 404},
    {"GET", "/api/rooms/1/", NULL, NULL, 404},
    {"GET", "/api/rooms/", NULL, NULL, 404},
    {"GET", "/api/rooms//1", NULL, NULL, 404},
    {"GET", "/api/rooms/1%00", NULL, NULL, 400},
    {"GET", "/api/rooms/1%", NULL, NULL, 400},
    {"GET", "/api/rooms/1%G0", NULL, NULL, 400},

    /* POST /api/rooms/{id}/messages */
    {"POST",
     "/api/rooms/2/messages",
     JSON_CT,
     "{\"user\":\"ann\",\"text\":\"hi\"}",
     201,
     {"\"id\":1,", "\"room\":\"lobby\"", "\"room_id\":2", "\"user\":\"ann\""},
     "client_id",
     "Location",
     "/api/rooms/2/messages/1"},
    {"POST",
     "/api/rooms/2/messages",
     JSON_CT,
     "{\"user\":\" bob \",\"text\":\" yo \",\"client_id\":\"c-1\"}",
     201,
     {"\"id\":2,", "\"user\":\"bob\"", "\"text\":\" yo \"", "\"client_id\":\"c-1\""}},
    {"POST",
     "/api/rooms/2/messages",
     JSON_CT,
     "{\"user\":\"bob\",\"text\":\"again\",\"client_id\":\"c-1\"}",
     200,
     {"\"id\":2,", "\"text\":\" yo \""},
     "again",
     "Location",
     "/api/rooms/2/messages/2"},
    /* the same client_id in another room is another message:
     * test_client_id_per_room (a row here would shift the ids below) */
    {"POST",
     "/api/rooms/2/messages",
     JSON_CT,
     "{\"user\":\"carl\",\"text\":\"x\",\"client_id\":\"c-1\"}",
     201,
     {"\"id\":3,"}},
    {"POST",
     "/api/rooms/2/messages",
     JSON_CT,
     "{\"user\":\"ann\",\"text\":\"<b>&amp;</b>\",\"client_id\":null}",
     201,
     {"\"id\":4,", "\"text\":\"<b>&amp;</b>\""}},
    {"POST", "/api/rooms/999/messages", JSON_CT, "{\"user\":\"a\",\"text\":\"b\"}", 404},
    {"POST", "/api/rooms/abc/messages", JSON_CT, "{\"user\":\"a\",\"text\":\"b\"}", 404},
    {"POST",
     "/api/rooms/2/messages",
     JSON_CT,
     "{\"user\":\"\",\"text\":\"x\"}",
     400,
     {"invalid user"}},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"user\":\"  \",\"text\":\"x\"}", 400},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"user\":\"a\\u0007\",\"text\":\"x\"}", 400},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"user\":\"a\"}", 400, {"required"}},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"text\":\"x\"}", 400, {"required"}},
    {"POST",
     "/api/rooms/2/messages",
     JSON_CT,
     "{\"user\":\"a\",\"text\":\"\"}",
     400,
     {"invalid text"}},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"user\":\"a\",\"text\":5}", 400},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"user\":true,\"text\":\"x\"}", 400},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"user\":\"a\",\"text\":\"x\",\"client_id\":5}",
     400},
    {"POST",
     "/api/rooms/2/messages",
     JSON_CT,
     "{\"user\":\"a\",\"text\":\"x\",\"client_id\":\"\"}",
     400,
     {"client_id"}},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"user\":\"a\",\"text\":\"a\\u0000\"}", 400},
    {"POST", "/api/rooms/2/messages", JSON_CT, "{\"user\":\"a\",\"text\":\"\xed\xa0\x80\"}", 400},
    {"POST", "/api/rooms/2/messages", "text/plain", "{\"user\":\"a\",\"text\":\"x\"}", 415},
    {"POST", "/api/rooms/2/messages", JSON_CT, "not json", 400},

    /* GET /api/rooms/{id}/messages */
    {"GET",
     "/api/rooms/2/messages",
     NULL,
     NULL,
     200,
     {"{\"messages\":[{\"id\":1,\"room\":\"lobby\",\"room_id\":2,\"user\":\"ann\","
      "\"text\":\"hi\",\"ts\":"}},
    {"GET", "/api/rooms/2/messages?limit=1", NULL, NULL, 200, {"\"id\":4,"}, "\"id\":1,"},
    {"GET", "/api/rooms/2/messages?after=1&limit=1", NULL, NULL, 200, {"\"id\":2,"}, "\"id\":3,"},
    {"GET",
     "/api/rooms/2/messages?before=3",
     NULL,
     NULL,
     200,
     {"\"id\":1,", "\"id\":2,"},
     "\"id\":3,"},
    {"GET", "/api/rooms/2/messages?after=4", NULL, NULL, 200, {"{\"messages\":[],\"more\":false}"}},
    {"GET", "/api/rooms/1/messages", NULL, NULL, 200, {"{\"messages\":[],\"more\":false}"}},
    {"GET", "/api/rooms/2/messages?limit=500", NULL, NULL, 200},
    {"GET", "/api/rooms/2/messages?limit=1&limit=abc", NULL, NULL, 200},
    {"GET", "/api/rooms/2/messages?after=&before=&limit=", NULL, NULL, 200, {"\"id\":1,"}},
    {"GET", "/api/rooms/2/messages?limit=0", NULL, NULL, 400, {"limit"}},
    {"GET", "/api/rooms/2/messages?limit=501", NULL, NULL, 400, {"limit"}},
    {"GET", "/api/rooms/2/messages?limit=-1", NULL, NULL, 400, {"limit"}},
    {"GET", "/api/rooms/2/messages?limit=abc", NULL, NULL, 400, {"limit"}},
    {"GET", "/api/rooms/2/messages?limit=1.5", NULL, NULL, 400},
    {"GET", "/api/rooms/2/messages?limit=+5", NULL, NULL, 400},
    {"GET", "/api/rooms/2/messages?limit=99999999999999999999999", NULL, NULL, 400},
    {"GET", "/api/rooms/2/messages?after=abc", NULL, NULL, 400, {"after"}},
    {"GET", "/api/rooms/2/messages?after=-1", NULL, NULL, 400, {"after"}},
    {"GET", "/api/rooms/2/messages?before=x", NULL, NULL, 400, {"before"}},
    {"GET", "/api/rooms/2/messages?after=99999999999999999999", NULL, NULL, 400},
    {"GET", "/api/rooms/2/messages?after=%00", NULL, NULL, 400},
    {"GET", "/api/rooms/999/messages", NULL, NULL, 404},
    {"GET", "/api/rooms/abc/messages", NULL, NULL, 404},
    {"GET", "/api/rooms/2/messages/", NULL, NULL, 404},
    {"GET", "/api/rooms/2/messagesx", NULL, NULL, 404},

    /* GET /api/rooms/{id}/messages/{mid}: the target of Location */
    {"GET", "/api/rooms/2/messages/1", NULL, NULL, 200, {"\"id\":1,", "\"text\":\"hi\""}},
    {"GET", "/api/rooms/1/messages/1", NULL, NULL, 404},
    {"GET", "/api/rooms/2/messages/999", NULL, NULL, 404},
    {"GET", "/api/rooms/2/messages/0", NULL, NULL, 404},
    {"GET", "/api/rooms/2/messages/x", NULL, NULL, 404},

    /* GET /api/health */
    {"GET",
     "/api/health",
     NULL,
     NULL,
     200,
     {"\"status\":\"ok\"", "\"database\":{\"ok\":true", "\"messages\":4", "\"ws\":[]"}},

    /* Paths, methods, escapes, lengths */
    {"GET", "/nope", NULL, NULL, 404, {"\"error\""}},
    {"GET", "/api", NULL, NULL, 404},
    {"GET", "/api/", NULL, NULL, 404},
    {"GET", "/api/rooms/", NULL, NULL, 404},
    {"GET", "/API/ROOMS", NULL, NULL, 404},
    {"GET", "/index.html", NULL, NULL, 404},
    {"GET", "/%zz", NULL, NULL, 400},
    {"GET", "/%00", NULL, NULL, 400},
    {"GET", "/api%2Frooms", NULL, NULL, 200, {"\"rooms\""}},
    {"GET", "", NULL, NULL, 404},
    {"DELETE", "/api/rooms", NULL, NULL, 405, {"\"error\""}, NULL, "Allow", "GET, HEAD, POST"},
    {"PUT", "/api/rooms/1", JSON_CT, "{}", 405, {"\"error\""}, NULL, "Allow", "GET"},
    {"DELETE",
     "/api/rooms/1",
     NULL,
     NULL,
     401,
     {"bearer token"},
     NULL,
     "WWW-Authenticate",
     "Bearer realm="},
    {"OPTIONS", "/api/rooms/1", NULL, NULL, 204, {NULL}, NULL, "Allow", "GET, HEAD, DELETE"},
    {"POST", "/api/workspaces/acme", JSON_CT, "{}", 405, {"\"error\""}, NULL, "Allow", "PUT"},
    {"POST", "/api/rooms/1", JSON_CT, "{}", 405, {"\"error\""}, NULL, "Allow", "GET"},
    {"POST", "/api/health", JSON_CT, "{}", 405, {"\"error\""}, NULL, "Allow", "GET"},
    {"PATCH", "/api/rooms/2/messages", JSON_CT, "{}", 405, {"\"error\""}, NULL, "Allow", "POST"},
    {"POST", "/", JSON_CT, "{}", 405, {"\"error\""}, NULL, "Allow", "GET"},
    {"get", "/api/rooms", NULL, NULL, 405},
    {"", "/api/rooms", NULL, NULL, 405},
    {"DELETE", "/nope", NULL, NULL, 404},
    {"OPTIONS", "/api/rooms", NULL, NULL, 204, {NULL}, NULL, "Allow", "POST"},
    /* moderation (api_moderation.c): the routes and their methods */
    {"OPTIONS", "/api/rooms/1/messages/1", NULL, NULL, 204, {NULL}, NULL, "Allow", "PATCH, DELETE"},
    {"PATCH", "/api/rooms/1/messages/1", JSON_CT, "{\"text\":\"x\"}", 401, {"\"error\""}},
    {"DELETE", "/api/rooms/1/messages/1", NULL, NULL, 401, {"\"error\""}},
    {"GET", "/api/moderation/roles", NULL, NULL, 200, {"\"roles\":[]"}},
    {"OPTIONS", "/api/moderation/roles", NULL, NULL, 204, {NULL}, NULL, "Allow", "PUT"},
    {"GET", "/api/moderation/audit", NULL, NULL, 401, {"\"error\""}},
    {"POST", "/api/moderation/ban", JSON_CT, "{\"user\":\"x\"}", 401, {"\"error\""}},
    {"PUT", "/api/moderation/mute", JSON_CT, "{}", 405, {"\"error\""}, NULL, "Allow", "POST"},
    {"GET", "/api/moderation/bogus", NULL, NULL, 404},
    {"HEAD", "/api/rooms", NULL, NULL, 200, {"\"rooms\""}},

    /* The page */
    {"GET",
     "/",
     NULL,
     NULL,
     200,
     {"href=\"/static/chat.css\"", "src=\"/static/chat.js\"",
      "src=\"/static/vendor/socket.io.min.js\"", "<script type=\"application/json\""},
     "style=",
     "Content-Security-Policy",
     "default-src 'self'"},
    {"GET",
     "/",
     NULL,
     NULL,
     200,
     {"data-room-id=\"2\"", ">lobby</span>", "\"rooms\":[{"},
     ">dev<",
     "Content-Type",
     "text/html; charset=utf-8"},
    {"POST",
     "/api/rooms",
     JSON_CT,
     "{\"name\":\"<script>alert(\\\"x\\\")&'</script>\"}",
     201,
     {"\"name\":\"<script>alert(\\\"x\\\")&'</script>\""}},
    {"POST", "/api/rooms", JSON_CT, "{\"name\":\"<img src=x onerror=alert(1)>\"}", 201},
    {"GET",
     "/",
     NULL,
     NULL,
     200,
     {"&lt;script&gt;alert(&quot;x&quot;)&amp;&#39;&lt;/script&gt;",
      "&lt;img src=x onerror=alert(1)&gt;", "\\u003cscript\\u003ealert(\\\"x\\\")\\u0026'"},
     "<script>alert"},
    {"GET", "/", NULL, NULL, 200, {"\\u003c/script\\u003e"}, "<img"},
    {"GET",
     "/",
     NULL,
     NULL,
     200,
     {"</html>"},
     "unsafe-inline",
     "Content-Security-Policy",
     "script-src 'self'"},
};

typedef struct fixture {
    char dir[64];
    char db[96];
    store *st;
} fixture;

static int fixture_setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    char err[256];

    if (fx == NULL) return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_fcgi_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) return -1;
    snprintf(fx->db, sizeof fx->db, "%s/chat.db", fx->dir);
    if (store_open(&fx->st, fx->db, NULL, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    /* the workspace the table's rooms go to, as an admin creates it (rooms
     * in a workspace that does not exist are refused) */
    if (store_workspace_set_private(fx->st, "/ws-1", false) != STORE_OK) return -1;
    *state = fx;
    return 0;
}

static int fixture_teardown(void **state) {
    fixture *fx = *state;
    char path[128];

    store_close(fx->st);
    unlink(fx->db);
    snprintf(path, sizeof path, "%s-wal", fx->db);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", fx->db);
    unlink(path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Runs one request through the router with an Authorization header (NULL for
 * none) and the given secret. body may hold NULs (len given). */
static void run_full(store *st, const token_secret *secret, const char *method, const char *target,
                     const char *ctype, const char *body, size_t len, const char *authz,
                     http_response *resp) {
    char path[8192];
    const char *q = strchr(target, '?');
    size_t plen = q != NULL ? (size_t)(q - target) : strlen(target);
    http_request req = {0};

    assert_true(plen < sizeof path);
    memcpy(path, target, plen);
    path[plen] = '\0';
    req.method = method;
    req.path = path;
    req.query = q != NULL ? q + 1 : "";
    req.content_type = ctype;
    req.body = body;
    req.body_len = len;
    req.content_length = body != NULL ? (int64_t)len : -1;
    req.body_state = HTTP_BODY_OK;
    req.authorization = authz;
    http_response_init(resp);
    router_handle(&(api_env){st, secret}, &req, resp);
}

static void run_len(store *st, const char *method, const char *target, const char *ctype,
                    const char *body, size_t len, http_response *resp) {
    bool admin = (strcmp(method, "POST") == 0 && strstr(target, "/messages") != NULL) ||
                 strcmp(target, "/api/health") == 0;
    run_full(st, &test_secret, method, target, ctype, body, len, admin ? admin_authz : NULL, resp);
}

static void run(store *st, const char *method, const char *target, const char *ctype,
                const char *body, http_response *resp) {
    run_len(st, method, target, ctype, body, body != NULL ? strlen(body) : 0, resp);
}

/* The body of resp as a NUL-terminated string (a copy to free). */
static char *body_str(const http_response *resp) {
    char *s = malloc(resp->body_len + 1);

    assert_non_null(s);
    if (resp->body_len > 0) memcpy(s, resp->body, resp->body_len);
    s[resp->body_len] = '\0';
    return s;
}

/* Whether target (path?query) is a page route: / or /w/... */
static bool is_page_target(const char *target) {
    size_t plen = strcspn(target, "?");

    return (plen == 1 && target[0] == '/') || strncmp(target, "/w/", 3) == 0;
}

/* What every answer must hold: never 500; a JSON object with the JSON
 * content type except for the page and 204; {"error": string} on errors. */
static void check_invariants(const char *target, const http_response *resp) {
    const char *ct = http_get_header(resp, "Content-Type");
    json_error_t jerr;
    json_t *obj;

    assert_true(resp->status >= 200 && resp->status < 600);
    assert_int_not_equal(resp->status, 500);
    assert_non_null(http_get_header(resp, "X-Content-Type-Options"));
    if (resp->status == 204) {
        assert_int_equal(resp->body_len, 0);
        return;
    }
    assert_non_null(ct);
    if (is_page_target(target) && (resp->status == 200 || resp->status == 404) &&
        strncmp(ct, "text/html", 9) == 0) {
        assert_string_equal(ct, "text/html; charset=utf-8");
        assert_non_null(http_get_header(resp, "Content-Security-Policy"));
        return;
    }
    assert_string_equal(ct, "application/json; charset=utf-8");
    obj = json_loadb(resp->body, resp->body_len, 0, &jerr);
    assert_non_null(obj);
    assert_true(json_is_object(obj));
    if (resp->status >= 400) assert_true(json_is_string(json_object_get(obj, "error")));
    json_decref(obj);
}

static void test_router_table(void **state) {
    fixture *fx = *state;

    for (size_t i = 0; i < sizeof router_cases / sizeof router_cases[0]; i++) {
        const router_case *c = &router_cases[i];
        http_response resp;
        char *body;

        run(fx->st, c->method, c->target, c->ctype, c->body, &resp);
        body = body_str(&resp);
        if (resp.status != c->status)
            fail_msg("case %zu: %s %s %s -> %d, want %d: %s", i, c->method, c->target,
                     c->body != NULL ? c->body : "", resp.status, c->status, body);
        for (size_t k = 0; k < 4 && c->want[k] != NULL; k++)
            if (strstr(body, c->want[k]) == NULL)
                fail_msg("case %zu: %s %s: body lacks %s: %s", i, c->method, c->target, c->want[k],
                         body);
        if (c->nowant != NULL && strstr(body, c->nowant) != NULL)
            fail_msg("case %zu: %s %s: body has %s: %s", i, c->method, c->target, c->nowant, body);
        if (c->header != NULL) {
            const char *v = http_get_header(&resp, c->header);

            if (v == NULL || strstr(v, c->has) == NULL)
                fail_msg("case %zu: %s %s: header %s is %s, want %s", i, c->method, c->target,
                         c->header, v != NULL ? v : "(none)", c->has);
        }
        check_invariants(c->target, &resp);
        free(body);
        http_response_free(&resp);
    }
}

/* A string of n copies of the UTF-8 character ch, in a JSON member. */
static char *json_member(const char *prefix, const char *ch, size_t n, const char *suffix) {
    size_t clen = strlen(ch), len = strlen(prefix) + clen * n + strlen(suffix) + 1;
    char *s = malloc(len), *p;

    assert_non_null(s);
    p = s + sprintf(s, "%s", prefix);
    for (size_t i = 0; i < n; i++, p += clen)
        memcpy(p, ch, clen);
    strcpy(p, suffix);
    return s;
}

typedef struct limit_case {
    const char *target;
    const char *prefix, *ch, *suffix;
    size_t n;
    int status;
} limit_case;

/* The contract's limits count characters, not bytes. */
static void test_limits(void **state) {
    static const limit_case cases[] = {
        {"/api/rooms", "{\"name\":\"", "\xc3\xa9", "\"}", 64, 201},
        {"/api/rooms", "{\"name\":\"", "\xc3\xa9", "\"}", 65, 400},
        {"/api/rooms", "{\"name\":\"", "\xf0\x9f\x98\x80", "\"}", 64, 201},
        {"/api/rooms", "{\"name\":\"  ", "b", "  \"}", 64, 201},
        {"/api/rooms", "{\"name\":\"", "c", "\"}", 65, 400},
        {"/api/rooms/1/messages", "{\"text\":\"t\",\"user\":\"", "\xe2\x82\xac", "\"}", 32, 201},
        {"/api/rooms/1/messages", "{\"text\":\"t\",\"user\":\"", "u", "\"}", 33, 400},
        {"/api/rooms/1/messages", "{\"user\":\"u\",\"text\":\"", "\xe2\x82\xac", "\"}", 4000, 201},
        {"/api/rooms/1/messages", "{\"user\":\"u\",\"text\":\"", "x", "\"}", 4001, 400},
        {"/api/rooms/1/messages", "{\"user\":\"u\",\"text\":\"t\",\"client_id\":\"", "k", "\"}", 64,
         201},
        {"/api/rooms/1/messages", "{\"user\":\"u\",\"text\":\"t\",\"client_id\":\"", "k", "\"}", 65,
         400},
        {"/api/rooms/1/messages", "{\"user\":\"u\",\"text\":\"t\",\"client_id\":\"", "\xc3\xa9",
         "\"}", 33, 400},
        {"/api/rooms", "{\"name\":\"big\",\"pad\":\"", "x", "\"}", CONTRACT_BODY_MAX - 28, 201},
        {"/api/rooms", "{\"name\":\"bigger\",\"pad\":\"", "x", "\"}", CONTRACT_BODY_MAX, 413},
    };
    fixture *fx = *state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body = json_member(cases[i].prefix, cases[i].ch, cases[i].n, cases[i].suffix);
        http_response resp;

        run(fx->st, "POST", cases[i].target, JSON_CT, body, &resp);
        if (resp.status != cases[i].status)
            fail_msg("limit case %zu (%zu bytes): %d, want %d", i, strlen(body), resp.status,
                     cases[i].status);
        check_invariants(cases[i].target, &resp);
        http_response_free(&resp);
        free(body);
    }
}

/* Long URLs: 414, or 400 when the escape is bad before the length matters. */
static void test_long_target(void **state) {
    fixture *fx = *state;
    char *target = json_member("/api/rooms?namespace=/&pad=", "x", CONTRACT_QUERY_MAX, "");
    http_response resp;

    run(fx->st, "GET", target, NULL, NULL, &resp);
    assert_int_equal(resp.status, 414);
    check_invariants("/api/rooms", &resp);
    http_response_free(&resp);
    free(target);

    target = json_member("/api/rooms?namespace=/&pad=", "x", CONTRACT_QUERY_MAX - 30, "");
    run(fx->st, "GET", target, NULL, NULL, &resp);
    assert_int_equal(resp.status, 200);
    http_response_free(&resp);
    free(target);

    target = json_member("/", "a", CONTRACT_PATH_MAX + 1, "");
    run(fx->st, "GET", target, NULL, NULL, &resp);
    assert_int_equal(resp.status, 414);
    check_invariants("/x", &resp);
    http_response_free(&resp);
    free(target);
}

/* What the gateway reports about the body reaches the POST handlers only. */
static void test_body_states(void **state) {
    static const struct {
        const char *method, *target;
        http_body_state bs;
        int status;
    } cases[] = {
        {"POST", "/api/rooms", HTTP_BODY_TOO_LARGE, 413},
        {"POST", "/api/rooms/1/messages", HTTP_BODY_TOO_LARGE, 413},
        {"POST", "/api/rooms", HTTP_BODY_BAD_LENGTH, 400},
        {"POST", "/api/rooms", HTTP_BODY_SHORT, 400},
        {"POST", "/api/rooms/1/messages", HTTP_BODY_SHORT, 400},
        {"POST", "/api/rooms/999/messages", HTTP_BODY_TOO_LARGE, 404},
        {"POST", "/nope", HTTP_BODY_TOO_LARGE, 404},
        {"GET", "/api/rooms", HTTP_BODY_TOO_LARGE, 200},
    };
    fixture *fx = *state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_request req = {.method = cases[i].method,
                            .path = cases[i].target,
                            .query = "",
                            .content_type = JSON_CT,
                            .content_length = 1 << 20,
                            .body_state = cases[i].bs};
        http_response resp;

        http_response_init(&resp);
        router_handle(&(api_env){fx->st, &test_secret}, &req, &resp);
        if (resp.status != cases[i].status)
            fail_msg("body case %zu: %d, want %d", i, resp.status, cases[i].status);
        check_invariants(cases[i].target, &resp);
        http_response_free(&resp);
    }
}

/* Raw NUL bytes in a JSON body are invalid JSON, not a truncated string. */
static void test_nul_in_body(void **state) {
    static const char body[] = "{\"name\":\"a\0b\"}";
    static const char body2[] = "{\"name\":\"nul\"}\0{\"x\":1}";
    fixture *fx = *state;
    http_response resp;

    run_len(fx->st, "POST", "/api/rooms", JSON_CT, body, sizeof body - 1, &resp);
    assert_int_equal(resp.status, 400);
    http_response_free(&resp);
    run_len(fx->st, "POST", "/api/rooms", JSON_CT, body2, sizeof body2 - 1, &resp);
    assert_int_equal(resp.status, 400);
    http_response_free(&resp);
}

/* History pages: ascending, newest by default, after/before windows. */
static void test_history_order(void **state) {
    fixture *fx = *state;
    http_response resp;
    json_t *obj, *msgs, *m;
    char target[128], body[128];
    int64_t room, first = 0, prev;
    size_t i;

    run(fx->st, "POST", "/api/rooms", JSON_CT, "{\"name\":\"history\"}", &resp);
    assert_int_equal(resp.status, 201);
    obj = json_loadb(resp.body, resp.body_len, 0, NULL);
    room = json_integer_value(json_object_get(obj, "id"));
    json_decref(obj);
    http_response_free(&resp);

    for (int k = 0; k < 10; k++) {
        snprintf(target, sizeof target, "/api/rooms/%lld/messages", (long long)room);
        snprintf(body, sizeof body, "{\"user\":\"h\",\"text\":\"m%d\"}", k);
        run(fx->st, "POST", target, JSON_CT, body, &resp);
        assert_int_equal(resp.status, 201);
        obj = json_loadb(resp.body, resp.body_len, 0, NULL);
        if (k == 0) first = json_integer_value(json_object_get(obj, "id"));
        json_decref(obj);
        http_response_free(&resp);
    }

    /* the newest 3, oldest first */
    snprintf(target, sizeof target, "/api/rooms/%lld/messages?limit=3", (long long)room);
    run(fx->st, "GET", target, NULL, NULL, &resp);
    assert_int_equal(resp.status, 200);
    obj = json_loadb(resp.body, resp.body_len, 0, NULL);
    msgs = json_object_get(obj, "messages");
    assert_int_equal(json_array_size(msgs), 3);
    prev = 0;
    json_array_foreach(msgs, i, m) {
        int64_t id = json_integer_value(json_object_get(m, "id"));

        assert_true(id > prev);
        prev = id;
        assert_int_equal(json_integer_value(json_object_get(m, "room_id")), room);
        assert_string_equal(json_string_value(json_object_get(m, "room")), "history");
        assert_true(json_is_integer(json_object_get(m, "ts")));
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 2), "text")), "m9");
    assert_true(json_is_true(json_object_get(obj, "more"))); /* older ones */
    json_decref(obj);
    http_response_free(&resp);

    /* after the first: the next two */
    snprintf(target, sizeof target, "/api/rooms/%lld/messages?after=%lld&limit=2", (long long)room,
             (long long)first);
    run(fx->st, "GET", target, NULL, NULL, &resp);
    obj = json_loadb(resp.body, resp.body_len, 0, NULL);
    msgs = json_object_get(obj, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "text")), "m1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "text")), "m2");
    assert_true(json_is_true(json_object_get(obj, "more")));
    json_decref(obj);
    http_response_free(&resp);

    /* more: false exactly when nothing follows, also on a full page */
    static const struct {
        const char *query; /* %lld: first + offset */
        int64_t offset;
        size_t count;
        bool more;
    } pages[] = {
        {"after=%lld&limit=2", 7, 2, false},  /* m8 m9: the end */
        {"after=%lld&limit=3", 7, 2, false},  /* short page */
        {"after=%lld&limit=2", 6, 2, true},   /* m7 m8, m9 follows */
        {"before=%lld&limit=3", 3, 3, false}, /* m0 m1 m2: the start */
        {"before=%lld&limit=2", 3, 2, true},  /* m1 m2, m0 precedes */
        {"after=%lld&limit=2", -1, 2, true},  /* after 0: m0 m1 */
    };
    for (size_t p = 0; p < sizeof pages / sizeof *pages; p++) {
        char q[64];
        snprintf(q, sizeof q, pages[p].query,
                 (long long)(pages[p].offset < 0 ? 0 : first + pages[p].offset));
        snprintf(target, sizeof target, "/api/rooms/%lld/messages?%s", (long long)room, q);
        run(fx->st, "GET", target, NULL, NULL, &resp);
        obj = json_loadb(resp.body, resp.body_len, 0, NULL);
        print_message("%s\n", target);
        assert_int_equal(json_array_size(json_object_get(obj, "messages")), pages[p].count);
        assert_int_equal(json_is_true(json_object_get(obj, "more")), pages[p].more);
        json_decref(obj);
        http_response_free(&resp);
    }

    /* before the fourth: the three before it */
    snprintf(target, sizeof target, "/api/rooms/%lld/messages?before=%lld", (long long)room,
             (long long)(first + 3));
    run(fx->st, "GET", target, NULL, NULL, &resp);
    obj = json_loadb(resp.body, resp.body_len, 0, NULL);
    msgs = json_object_get(obj, "messages");
    assert_int_equal(json_array_size(msgs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "text")), "m0");
    json_decref(obj);
    http_response_free(&resp);

    /* the room's last_message_id follows */
    snprintf(target, sizeof target, "/api/rooms/%lld", (long long)room);
    run(fx->st, "GET", target, NULL, NULL, &resp);
    obj = json_loadb(resp.body, resp.body_len, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(obj, "last_message_id")), first + 9);
    json_decref(obj);
    http_response_free(&resp);
}

/* Without a database every API answer is 503 (health says "error"); the page
 * still renders. */
static void test_no_database(void **state) {
    static const struct {
        const char *method, *target, *body;
        int status;
    } cases[] = {
        {"GET", "/api/rooms", NULL, 503},
        {"GET", "/api/rooms?namespace=bad", NULL, 400},
        {"POST", "/api/rooms", "{\"name\":\"x\"}", 503},
        {"POST", "/api/rooms", "{", 400},
        {"GET", "/api/rooms/1", NULL, 503},
        {"GET", "/api/rooms/1/messages", NULL, 503},
        {"GET", "/api/rooms/1/messages?limit=0", NULL, 400},
        {"POST", "/api/rooms/1/messages", "{\"user\":\"a\",\"text\":\"b\"}", 503},
        {"GET", "/api/rooms/1/messages/1", NULL, 503},
        {"GET", "/api/health", NULL, 503},
        {"GET", "/", NULL, 200},
    };
    http_response resp;
    char *body;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(NULL, cases[i].method, cases[i].target, JSON_CT, cases[i].body, &resp);
        if (resp.status != cases[i].status)
            fail_msg("no-db case %zu: %s %s -> %d, want %d", i, cases[i].method, cases[i].target,
                     resp.status, cases[i].status);
        if (resp.status == 503) {
            assert_non_null(http_get_header(&resp, "Retry-After"));
            assert_string_equal(http_get_header(&resp, "Content-Type"),
                                "application/json; charset=utf-8");
        }
        body = body_str(&resp);
        if (strcmp(cases[i].target, "/api/health") == 0) {
            assert_non_null(strstr(body, "\"status\":\"error\""));
            assert_non_null(strstr(body, "\"ok\":false"));
        }
        if (strcmp(cases[i].target, "/") == 0)
            assert_non_null(strstr(body, "data-offline=\"true\""));
        free(body);
        http_response_free(&resp);
    }
}

/* A writer holding the lock past busy_timeout gives 503 + Retry-After; reads
 * go on (WAL). */
static void test_busy_database(void **state) {
    fixture *fx = *state;
    store_options opt = {.busy_timeout_ms = 50};
    store *st = NULL, *locker = NULL;
    http_response resp;
    char err[256];

    assert_int_equal(store_open(&st, fx->db, &opt, err, sizeof err), STORE_OK);
    assert_int_equal(store_open(&locker, fx->db, &opt, err, sizeof err), STORE_OK);
    assert_int_equal(store_begin(locker), STORE_OK);

    run(st, "POST", "/api/rooms", JSON_CT, "{\"name\":\"busy\"}", &resp);
    assert_int_equal(resp.status, 503);
    assert_string_equal(http_get_header(&resp, "Retry-After"), "1");
    check_invariants("/api/rooms", &resp);
    http_response_free(&resp);

    run(st, "POST", "/api/rooms/1/messages", JSON_CT, "{\"user\":\"a\",\"text\":\"b\"}", &resp);
    assert_int_equal(resp.status, 503);
    http_response_free(&resp);

    run(st, "GET", "/api/rooms", NULL, NULL, &resp);
    assert_int_equal(resp.status, 200);
    http_response_free(&resp);

    assert_int_equal(store_rollback(locker), STORE_OK);
    run(st, "POST", "/api/rooms", JSON_CT, "{\"name\":\"busy\"}", &resp);
    assert_int_equal(resp.status, 201);
    http_response_free(&resp);
    store_close(locker);
    store_close(st);
}

/* Health lists the ws processes. */
static void test_health_processes(void **state) {
    fixture *fx = *state;
    http_response resp;
    json_t *obj, *ws, *p;
    int64_t id;

    assert_int_equal(store_process_register(fx->st, 4242, "unix:/tmp/ws.sock", "q", "web7", &id),
                     STORE_OK);
    run(fx->st, "GET", "/api/health", NULL, NULL, &resp);
    assert_int_equal(resp.status, 200);
    obj = json_loadb(resp.body, resp.body_len, 0, NULL);
    assert_non_null(obj);
    ws = json_object_get(obj, "ws");
    assert_int_equal(json_array_size(ws), 1);
    p = json_array_get(ws, 0);
    assert_int_equal(json_integer_value(json_object_get(p, "id")), id);
    assert_int_equal(json_integer_value(json_object_get(p, "pid")), 4242);
    assert_string_equal(json_string_value(json_object_get(p, "listen")), "unix:/tmp/ws.sock");
    assert_string_equal(json_string_value(json_object_get(p, "node")), "q");
    assert_string_equal(json_string_value(json_object_get(p, "host")), "web7");
    assert_true(json_is_true(json_object_get(p, "alive")));
    assert_int_equal(json_integer_value(json_object_get(p, "connections")), 0);
    assert_true(json_is_integer(json_object_get(p, "heartbeat_at")));
    assert_true(json_is_integer(json_object_get(json_object_get(obj, "database"), "rooms")));
    json_decref(obj);
    http_response_free(&resp);
    assert_int_equal(store_process_unregister(fx->st, id), STORE_OK);
}

/* Random requests: never a 500, never a crash, always valid JSON. */
static void test_random_input(void **state) {
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "OPTIONS", "DELETE"};
    static const char *const targets[] = {"/api/workspaces/acme",
                                          "/w/acme",
                                          "/api/rooms",
                                          "/api/rooms/1",
                                          "/api/rooms/1/messages",
                                          "/api/rooms/2/messages?limit=",
                                          "/api/health",
                                          "/api/rooms?namespace=",
                                          "/api/rooms/1/messages?after=",
                                          "/",
                                          "/x/%"};
    static const char alphabet[] = "{}[]\":,\\/ -_aeuz019%+&=?<>\x01\xc3\xa9\xff\x00";
    fixture *fx = *state;
    unsigned seed = 12345;

    for (int i = 0; i < 3000; i++) {
        char body[128], target[256];
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof body), tlen;
        const char *m = methods[rand_r(&seed) % 6];
        const char *t = targets[rand_r(&seed) % (int)(sizeof targets / sizeof targets[0])];
        http_response resp;

        for (size_t k = 0; k < len; k++)
            body[k] = alphabet[rand_r(&seed) % (int)(sizeof alphabet - 1)];
        if (i % 3 == 0) { /* mostly valid JSON with random members */
            len = (size_t)snprintf(body, sizeof body,
                                   "{\"user\":\"%c\",\"text\":\"%c%c\",\"name\":\"r%d\"}",
                                   alphabet[rand_r(&seed) % 20], alphabet[rand_r(&seed) % 30],
                                   alphabet[rand_r(&seed) % 30], i);
        }
        tlen = (size_t)snprintf(target, sizeof target, "%s", t);
        for (int k = rand_r(&seed) % 6; k > 0 && tlen + 1 < sizeof target; k--)
            target[tlen++] = alphabet[rand_r(&seed) % (int)(sizeof alphabet - 2)];
        target[tlen] = '\0';
        run_len(fx->st, m, target, JSON_CT, body, len, &resp);
        assert_true(resp.status != 500);
        check_invariants(target, &resp);
        http_response_free(&resp);
    }
}

/* ---- tokens, admin calls, workspaces ------------------------------------ */

/* "Bearer <token>", to free. */
static char *bearer(const char *token) {
    char *h = NULL;

    assert_non_null(token);
    assert_true(asprintf(&h, "Bearer %s", token) > 0);
    return h;
}

/* An HS256 token signed with key, with admin and exp (0: none), to free. */
static char *signed_token(const unsigned char *key, size_t keylen, bool admin, long exp,
                          jwt_alg_t alg) {
    jwt_t *jwt = NULL;
    char *out;

    assert_int_equal(jwt_new(&jwt), 0);
    if (admin) assert_int_equal(jwt_add_grant_bool(jwt, "admin", 1), 0);
    if (exp) assert_int_equal(jwt_add_grant_int(jwt, "exp", exp), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, alg == JWT_ALG_NONE ? NULL : key,
                                 alg == JWT_ALG_NONE ? 0 : (int)keylen),
                     0);
    out = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(out);
    return out;
}

/* One call with the test secret; returns the status, resp to free. */
static int call(store *st, const char *method, const char *target, const char *body,
                const char *authz, http_response *resp) {
    run_full(st, &test_secret, method, target, body != NULL ? JSON_CT : NULL, body,
             body != NULL ? strlen(body) : 0, authz, resp);
    check_invariants(target, resp);
    return resp->status;
}

/* The status of one call, its response freed. */
static int call_status(store *st, const char *method, const char *target, const char *body,
                       const char *authz) {
    http_response resp;
    int status = call(st, method, target, body, authz, &resp);

    http_response_free(&resp);
    return status;
}

/* Creates room name in ns through the API (with authz) and returns its id. */
static int64_t make_room(store *st, const char *ns, const char *name, const char *authz) {
    char body[256];
    http_response resp;
    json_t *obj;
    int64_t id;

    bool exists = true;
    store_workspace_exists(st, ns, &exists);
    if (!exists) store_workspace_set_private(st, ns, false); /* an admin made it */
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"namespace\":\"%s\"}", name, ns);
    if (call(st, "POST", "/api/rooms", body, authz, &resp) != 201)
        fail_msg("create %s in %s: %d %.*s", name, ns, resp.status, (int)resp.body_len, resp.body);
    obj = json_loadb(resp.body, resp.body_len, 0, NULL);
    id = json_integer_value(json_object_get(obj, "id"));
    json_decref(obj);
    http_response_free(&resp);
    assert_true(id > 0);
    return id;
}

typedef struct control_seen {
    int64_t id;
    char kind[32];
    char payload[256];
} control_seen;

static int control_last_cb(int64_t id, const char *kind, const char *payload, void *ctx) {
    control_seen *c = ctx;

    c->id = id;
    snprintf(c->kind, sizeof c->kind, "%s", kind);
    snprintf(c->payload, sizeof c->payload, "%s", payload);
    return 0;
}

/* DELETE /api/rooms/{id}: 401 without or with a bad token, 403 for a
 * non-admin one, 204, then 404; "general" is kept (409). */
static void test_admin_delete_room(void **state) {
    fixture *fx = *state;
    char *admin = token_issue(&test_secret, true, NULL, "root", 600);
    char *user = token_issue(&test_secret, false, "/acme", "ann", 600);
    static const unsigned char other_key[] = "another-secret-of-32-bytes-000000";
    char *wrong = signed_token(other_key, sizeof other_key - 1, true, 0, JWT_ALG_HS256);
    char *expired =
        signed_token(test_secret.key, test_secret.len, true, (long)time(NULL) - 60, JWT_ALG_HS256);
    char *none = signed_token(NULL, 0, true, 0, JWT_ALG_NONE);
    char *hs512 = signed_token(test_secret.key, test_secret.len, true, 0, JWT_ALG_HS512);
    char *h_admin = bearer(admin), *h_user = bearer(user), *h_wrong = bearer(wrong);
    char *h_expired = bearer(expired), *h_none = bearer(none), *h_512 = bearer(hs512);
    char target[64], msgs[80];
    http_response resp;
    control_seen seen = {0};
    int64_t id, general_id, before = 0;
    store_room room;
    const char *www;

    id = make_room(fx->st, "/", "doomed", NULL);
    snprintf(target, sizeof target, "/api/rooms/%lld", (long long)id);
    snprintf(msgs, sizeof msgs, "/api/rooms/%lld/messages", (long long)id);
    assert_int_equal(
        call_status(fx->st, "POST", msgs, "{\"user\":\"a\",\"text\":\"bye\"}", admin_authz), 201);

    /* no token: 401 with the bare challenge */
    assert_int_equal(call(fx->st, "DELETE", target, NULL, NULL, &resp), 401);
    www = http_get_header(&resp, "WWW-Authenticate");
    assert_non_null(www);
    assert_string_equal(www, "Bearer realm=\"chat\"");
    http_response_free(&resp);

    /* bad tokens: 401 with error="invalid_token" */
    const char *bad[] = {"Basic YTpi", "Bearer",  "Bearer not.a.token", h_wrong, h_expired, h_none,
                         h_512,        "bearer x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (call(fx->st, "DELETE", target, NULL, bad[i], &resp) != 401)
            fail_msg("bad token %zu: %d", i, resp.status);
        www = http_get_header(&resp, "WWW-Authenticate");
        assert_non_null(www);
        assert_true(strncmp(www, "Bearer realm=\"chat\"", 19) == 0);
        http_response_free(&resp);
    }
    assert_int_equal(call(fx->st, "DELETE", target, NULL, h_expired, &resp), 401);
    assert_non_null(strstr(http_get_header(&resp, "WWW-Authenticate"), "error=\"invalid_token\""));
    assert_non_null(strstr(http_get_header(&resp, "WWW-Authenticate"), "expired"));
    http_response_free(&resp);

    /* a valid token that is not an admin one: 403 */
    assert_int_equal(call(fx->st, "DELETE", target, NULL, h_user, &resp), 403);
    assert_null(http_get_header(&resp, "WWW-Authenticate"));
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "GET", target, NULL, NULL), 200);

    /* admin: 204 with no body; the room, its messages and the control event */
    assert_int_equal(store_control_head(fx->st, &before), STORE_OK);
    assert_int_equal(call(fx->st, "DELETE", target, NULL, h_admin, &resp), 204);
    assert_int_equal(resp.body_len, 0);
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "GET", target, NULL, NULL), 404);
    assert_int_equal(call_status(fx->st, "GET", msgs, NULL, NULL), 404);
    assert_int_equal(store_control_tail(fx->st, before, control_last_cb, &seen), STORE_OK);
    assert_true(seen.id > before);
    assert_string_equal(seen.kind, "room_deleted");
    assert_non_null(strstr(seen.payload, "\"name\":\"doomed\""));
    assert_non_null(strstr(seen.payload, "\"namespace\":\"/\""));

    /* again, and unknown ids: 404; but auth comes first */
    assert_int_equal(call_status(fx->st, "DELETE", target, NULL, h_admin), 404);
    assert_int_equal(call_status(fx->st, "DELETE", "/api/rooms/987654", NULL, h_admin), 404);
    assert_int_equal(call_status(fx->st, "DELETE", "/api/rooms/987654", NULL, NULL), 401);
    assert_int_equal(call_status(fx->st, "DELETE", "/api/rooms/abc", NULL, h_admin), 404);

    /* general, of "/" and of a workspace: 409 */
    assert_int_equal(store_room_find(fx->st, "/", "general", &room), STORE_OK);
    snprintf(target, sizeof target, "/api/rooms/%lld", (long long)room.id);
    assert_int_equal(call(fx->st, "DELETE", target, NULL, h_admin, &resp), 409);
    assert_non_null(strstr(resp.body, "general"));
    http_response_free(&resp);
    assert_int_equal(store_namespace_ensure(fx->st, "/del-ws"), STORE_OK);
    assert_int_equal(store_room_find(fx->st, "/del-ws", "general", &room), STORE_OK);
    general_id = room.id;
    snprintf(target, sizeof target, "/api/rooms/%lld", (long long)general_id);
    assert_int_equal(call_status(fx->st, "DELETE", target, NULL, h_admin), 409);
    assert_int_equal(call_status(fx->st, "GET", target, NULL, NULL), 200);

    /* a workspace room goes like any other */
    id = make_room(fx->st, "/del-ws", "tmp", NULL);
    snprintf(target, sizeof target, "/api/rooms/%lld", (long long)id);
    assert_int_equal(call_status(fx->st, "DELETE", target, NULL, h_admin), 204);

    /* without a database: the token is checked first, then 503 */
    run_full(NULL, &test_secret, "DELETE", target, NULL, NULL, 0, h_admin, &resp);
    assert_int_equal(resp.status, 503);
    http_response_free(&resp);
    run_full(NULL, &test_secret, "DELETE", target, NULL, NULL, 0, NULL, &resp);
    assert_int_equal(resp.status, 401);
    http_response_free(&resp);

    /* with no secret configured every token is refused */
    id = make_room(fx->st, "/", "kept", NULL);
    snprintf(target, sizeof target, "/api/rooms/%lld", (long long)id);
    run_full(fx->st, NULL, "DELETE", target, NULL, NULL, 0, h_admin, &resp);
    assert_int_equal(resp.status, 401);
    assert_non_null(strstr(resp.body, "secret"));
    http_response_free(&resp);
    run_full(fx->st, &(token_secret){.len = 0}, "DELETE", target, NULL, NULL, 0, h_admin, &resp);
    assert_int_equal(resp.status, 401);
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "GET", target, NULL, NULL), 200);

    free(admin), free(user), free(wrong), free(expired), free(none), free(hs512);
    free(h_admin), free(h_user), free(h_wrong), free(h_expired), free(h_none), free(h_512);
}

/* The retention of a workspace without its own: the config table's defaults. */
#define DEFAULT_RETENTION ",\"retention\":{\"days\":90,\"max_messages\":0}"

/* GET/PUT /api/workspaces/{name}. */
static void test_workspaces(void **state) {
    static const char *const bad_names[] = {
        "/api/workspaces/",      "/api/workspaces/Acme",
        "/api/workspaces/admin", "/api/workspaces/a_b",
        "/api/workspaces/a/b",   "/api/workspaces/acme/",
        "/api/workspaces/%2Fa",  "/api/workspaces/a%00",
        "/api/workspaces/.",     "/api/workspaces/abcdefghijabcdefghijabcdefghijabc"};
    fixture *fx = *state;
    char *admin = token_issue(&test_secret, true, NULL, NULL, 600);
    char *user = token_issue(&test_secret, false, "/team-1", NULL, 600);
    char *h_admin = bearer(admin), *h_user = bearer(user);
    http_response resp;

    /* GET: admin only, private or not (issue 21.14) */
    assert_int_equal(call(fx->st, "GET", "/api/workspaces/team-1", NULL, NULL, &resp), 401);
    assert_null(strstr(resp.body, "private"));
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "GET", "/api/workspaces/team-1", NULL, h_user), 403);
    assert_int_equal(call(fx->st, "GET", "/api/workspaces/team-1", NULL, h_admin, &resp), 200);
    assert_string_equal(resp.body,
                        "{\"namespace\":\"/team-1\",\"private\":false" DEFAULT_RETENTION "}");
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "GET", "/api/workspaces/abcdefghijabcdefghijabcdefghijab",
                                 NULL, h_admin),
                     200);
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        int st = call_status(fx->st, "GET", bad_names[i], NULL, NULL);

        if (st != 404 && st != 400) fail_msg("%s: %d", bad_names[i], st);
    }

    /* PUT: admin only, then the body */
    assert_int_equal(
        call(fx->st, "PUT", "/api/workspaces/team-1", "{\"private\":true}", NULL, &resp), 401);
    assert_non_null(http_get_header(&resp, "WWW-Authenticate"));
    http_response_free(&resp);
    assert_int_equal(
        call_status(fx->st, "PUT", "/api/workspaces/team-1", "{\"private\":true}", h_user), 403);
    assert_int_equal(call_status(fx->st, "PUT", "/api/workspaces/team-1", "{}", h_admin), 400);
    assert_int_equal(
        call_status(fx->st, "PUT", "/api/workspaces/team-1", "{\"private\":1}", h_admin), 400);
    assert_int_equal(
        call_status(fx->st, "PUT", "/api/workspaces/team-1", "{\"private\":\"yes\"}", h_admin),
        400);
    assert_int_equal(call_status(fx->st, "PUT", "/api/workspaces/team-1", "{", h_admin), 400);
    assert_int_equal(call_status(fx->st, "PUT", "/api/workspaces/team-1", "[true]", h_admin), 400);
    run_full(fx->st, &test_secret, "PUT", "/api/workspaces/team-1", "text/plain",
             "{\"private\":true}", 16, h_admin, &resp);
    assert_int_equal(resp.status, 415);
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "GET", "/api/workspaces/team-1", NULL, h_admin), 200);

    assert_int_equal(
        call(fx->st, "PUT", "/api/workspaces/team-1", "{\"private\":true}", h_admin, &resp), 200);
    assert_string_equal(resp.body,
                        "{\"namespace\":\"/team-1\",\"private\":true" DEFAULT_RETENTION "}");
    http_response_free(&resp);
    assert_int_equal(call(fx->st, "GET", "/api/workspaces/team-1", NULL, h_admin, &resp), 200);
    assert_string_equal(resp.body,
                        "{\"namespace\":\"/team-1\",\"private\":true" DEFAULT_RETENTION "}");
    http_response_free(&resp);
    /* made private, its flag and retention stay hidden from everyone else */
    assert_int_equal(call(fx->st, "GET", "/api/workspaces/team-1", NULL, NULL, &resp), 401);
    assert_null(strstr(resp.body, "retention"));
    http_response_free(&resp);
    assert_int_equal(call(fx->st, "GET", "/api/workspaces/team-1", NULL, h_user, &resp), 403);
    assert_null(strstr(resp.body, "retention"));
    http_response_free(&resp);
    assert_int_equal(
        call(fx->st, "PUT", "/api/workspaces/team-1", "{\"private\":false}", h_admin, &resp), 200);
    assert_string_equal(resp.body,
                        "{\"namespace\":\"/team-1\",\"private\":false" DEFAULT_RETENTION "}");
    http_response_free(&resp);
    assert_int_equal(call(fx->st, "GET", "/api/workspaces/team-1", NULL, h_admin, &resp), 200);
    assert_non_null(strstr(resp.body, "\"private\":false"));
    http_response_free(&resp);

    /* retention: each bad body a 400, nothing changed */
    static const char *const bad_retention[] = {
        "{\"retention\":5}",
        "{\"retention\":{\"days\":-1}}",
        "{\"retention\":{\"days\":36501}}",
        "{\"retention\":{\"days\":\"7\"}}",
        "{\"retention\":{\"days\":1.5}}",
        "{\"retention\":{\"max_messages\":1000000001}}",
        "{\"retention\":{\"max_messages\":true}}",
        "{\"private\":false,\"retention\":[]}",
    };
    for (size_t i = 0; i < sizeof bad_retention / sizeof bad_retention[0]; i++) {
        int st = call_status(fx->st, "PUT", "/api/workspaces/team-1", bad_retention[i], h_admin);
        if (st != 400) fail_msg("%s: %d", bad_retention[i], st);
    }
    assert_int_equal(
        call_status(fx->st, "PUT", "/api/workspaces/team-1", "{\"retention\":{\"days\":7}}", NULL),
        401);
    assert_int_equal(call(fx->st, "PUT", "/api/workspaces/team-1",
                          "{\"retention\":{\"days\":7,\"max_messages\":50}}", h_admin, &resp),
                     200);
    assert_string_equal(resp.body, "{\"namespace\":\"/team-1\",\"private\":false,"
                                   "\"retention\":{\"days\":7,\"max_messages\":50}}");
    http_response_free(&resp);
    /* a field left out is kept; null is the default again */
    assert_int_equal(call(fx->st, "PUT", "/api/workspaces/team-1",
                          "{\"retention\":{\"days\":null}}", h_admin, &resp),
                     200);
    assert_string_equal(resp.body, "{\"namespace\":\"/team-1\",\"private\":false,"
                                   "\"retention\":{\"days\":90,\"max_messages\":50}}");
    http_response_free(&resp);

    /* methods */
    assert_int_equal(call(fx->st, "DELETE", "/api/workspaces/team-1", NULL, h_admin, &resp), 405);
    assert_string_equal(http_get_header(&resp, "Allow"), "GET, HEAD, PUT, OPTIONS");
    http_response_free(&resp);
    assert_int_equal(call(fx->st, "HEAD", "/api/workspaces/team-1", NULL, h_admin, &resp), 200);
    http_response_free(&resp);
    run_full(NULL, &test_secret, "GET", "/api/workspaces/team-1", NULL, NULL, 0, h_admin, &resp);
    assert_int_equal(resp.status, 503);
    http_response_free(&resp);

    free(admin), free(user), free(h_admin), free(h_user);
}

/* A private workspace's rooms and messages need a token of that workspace
 * (or an admin one) over REST too; the page renders without them. */
static void test_private_workspace(void **state) {
    fixture *fx = *state;
    char *admin = token_issue(&test_secret, true, NULL, NULL, 600);
    char *mine = token_issue(&test_secret, false, "/secret-ws", "ann", 600);
    char *other = token_issue(&test_secret, false, "/other-ws", "bob", 600);
    char *h_admin = bearer(admin), *h_mine = bearer(mine), *h_other = bearer(other);
    char room[64], msgs[80], msg[96];
    const char *list = "/api/rooms?namespace=/secret-ws";
    http_response resp;
    int64_t id;

    id = make_room(fx->st, "/secret-ws", "plans", NULL);
    snprintf(room, sizeof room, "/api/rooms/%lld", (long long)id);
    snprintf(msgs, sizeof msgs, "/api/rooms/%lld/messages", (long long)id);
    assert_int_equal(
        call_status(fx->st, "POST", msgs, "{\"user\":\"a\",\"text\":\"s3cr3t\"}", admin_authz),
        201);
    snprintf(msg, sizeof msg, "%s/%lld", msgs, (long long)id); /* some id; 404 or 200 */
    assert_int_equal(
        call_status(fx->st, "PUT", "/api/workspaces/secret-ws", "{\"private\":true}", h_admin),
        200);

    const char *targets[] = {list, room, msgs};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(call(fx->st, "GET", targets[i], NULL, NULL, &resp), 401);
        assert_non_null(http_get_header(&resp, "WWW-Authenticate"));
        assert_null(strstr(resp.body, "s3cr3t"));
        http_response_free(&resp);
        assert_int_equal(call_status(fx->st, "GET", targets[i], NULL, h_other), 403);
        assert_int_equal(call_status(fx->st, "GET", targets[i], NULL, h_mine), 200);
        assert_int_equal(call_status(fx->st, "GET", targets[i], NULL, h_admin), 200);
    }
    assert_int_equal(call(fx->st, "GET", msgs, NULL, h_mine, &resp), 200);
    assert_non_null(strstr(resp.body, "s3cr3t"));
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "POST", msgs, "{\"user\":\"a\",\"text\":\"x\"}", NULL),
                     401);
    assert_int_equal(call_status(fx->st, "POST", msgs, "{\"user\":\"a\",\"text\":\"x\"}", h_other),
                     403);
    assert_int_equal(call_status(fx->st, "POST", msgs, "{\"user\":\"ann\",\"text\":\"x\"}", h_mine),
                     201);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms",
                                 "{\"name\":\"new\",\"namespace\":\"/secret-ws\"}", NULL),
                     401);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms",
                                 "{\"name\":\"new\",\"namespace\":\"/secret-ws\"}", h_mine),
                     201);
    {
        int st = call_status(fx->st, "GET", msg, NULL, NULL);
        assert_true(st == 401);
    }
    /* the workspace's settings are the admin's alone (issue 21.14), its own
     * members' included */
    assert_int_equal(call_status(fx->st, "GET", "/api/workspaces/secret-ws", NULL, NULL), 401);
    assert_int_equal(call_status(fx->st, "GET", "/api/workspaces/secret-ws", NULL, h_mine), 403);
    assert_int_equal(call_status(fx->st, "GET", "/api/workspaces/secret-ws", NULL, h_admin), 200);

    /* the page: no rooms, data-private */
    assert_int_equal(call(fx->st, "GET", "/w/secret-ws", NULL, NULL, &resp), 200);
    assert_non_null(strstr(resp.body, "data-private=\"true\""));
    assert_non_null(strstr(resp.body, "\"private\":true"));
    assert_null(strstr(resp.body, "plans"));
    assert_null(strstr(resp.body, "data-room-id"));
    http_response_free(&resp);

    /* public again: open to all */
    assert_int_equal(
        call_status(fx->st, "PUT", "/api/workspaces/secret-ws", "{\"private\":false}", h_admin),
        200);
    assert_int_equal(call_status(fx->st, "GET", msgs, NULL, NULL), 200);
    assert_int_equal(call(fx->st, "GET", "/w/secret-ws", NULL, NULL, &resp), 200);
    assert_non_null(strstr(resp.body, ">plans</span>"));
    assert_null(strstr(resp.body, "data-private"));
    http_response_free(&resp);

    free(admin), free(mine), free(other), free(h_admin), free(h_mine), free(h_other);
}

/* /w/<name>: the page of that workspace; invalid names get the HTML 404. */
static void test_workspace_pages(void **state) {
    static const char *const bad[] = {
        "/w/",        "/w/Acme",  "/w/admin",
        "/w/a_b",     "/w/a/b",   "/w/acme/",
        "/w/%2Facme", "/w/a%20b", "/w/abcdefghijabcdefghijabcdefghijabc"};
    fixture *fx = *state;
    http_response resp;

    make_room(fx->st, "/page-ws", "design", NULL);
    assert_int_equal(call(fx->st, "GET", "/w/page-ws", NULL, NULL, &resp), 200);
    assert_string_equal(http_get_header(&resp, "Content-Type"), "text/html; charset=utf-8");
    assert_non_null(strstr(http_get_header(&resp, "Content-Security-Policy"), "script-src 'self'"));
    assert_non_null(strstr(resp.body, "data-namespace=\"/page-ws\""));
    assert_non_null(strstr(resp.body, "<title>page-ws · Chat</title>"));
    assert_non_null(strstr(resp.body, "class=\"workspace\""));
    assert_non_null(strstr(resp.body, ">design</span>"));
    assert_non_null(strstr(resp.body, "\"namespace\":\"/page-ws\""));
    assert_null(strstr(resp.body, ">lobby</span>")); /* a room of "/" */
    assert_null(strstr(resp.body, "data-private"));
    assert_null(strstr(resp.body, " style="));
    http_response_free(&resp);

    /* a workspace nobody used yet: the page, with no rooms (the socket makes general) */
    assert_int_equal(call(fx->st, "GET", "/w/fresh-1", NULL, NULL, &resp), 200);
    assert_non_null(strstr(resp.body, "\"rooms\":[]"));
    http_response_free(&resp);

    /* the root page names no workspace */
    assert_int_equal(call(fx->st, "GET", "/", NULL, NULL, &resp), 200);
    assert_non_null(strstr(resp.body, "<title>Chat</title>"));
    assert_null(strstr(resp.body, "class=\"workspace\""));
    http_response_free(&resp);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call(fx->st, "GET", bad[i], NULL, NULL, &resp);
        if (resp.status != 404 && resp.status != 400) fail_msg("%s: %d", bad[i], resp.status);
        if (resp.status == 404) {
            assert_string_equal(http_get_header(&resp, "Content-Type"), "text/html; charset=utf-8");
            assert_non_null(http_get_header(&resp, "Content-Security-Policy"));
            assert_non_null(strstr(resp.body, "No such workspace"));
        }
        http_response_free(&resp);
    }
    assert_int_equal(call(fx->st, "HEAD", "/w/Nope", NULL, NULL, &resp), 404);
    http_response_free(&resp);
    assert_int_equal(call(fx->st, "POST", "/w/page-ws", "{}", NULL, &resp), 405);
    http_response_free(&resp);

    /* without a database the page still renders, offline */
    run_full(NULL, &test_secret, "GET", "/w/page-ws", NULL, NULL, 0, NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body, "data-offline=\"true\""));
    http_response_free(&resp);
}

static void test_page_escape(void **state) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"<a href='x'>\"&\"</a>", "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"&amp;", "&amp;amp;"},
    };
    char *buf = NULL;
    size_t len = 0;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        assert_int_equal(page_html_escape(f, cases[i].in), 0);
        fclose(f);
        assert_string_equal(buf, cases[i].out);
        free(buf);
        buf = NULL;
    }
}

static void test_page_json_script(void **state) {
    json_t *obj = json_pack("{s:s}", "n", "</script><!--&>");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_t *back;

    (void)state;
    assert_non_null(f);
    assert_int_equal(page_json_script(f, obj), 0);
    fclose(f);
    assert_null(strchr(buf, '<'));
    assert_null(strchr(buf, '>'));
    assert_null(strchr(buf, '&'));
    back = json_loads(buf, 0, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "n")), "</script><!--&>");
    json_decref(back);
    json_decref(obj);
    free(buf);
}

/* The value of string member key of resp's JSON body, a copy to free. */
static char *body_member(const http_response *resp, const char *key) {
    json_t *obj = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *v = json_string_value(json_object_get(obj, key));
    char *copy = v != NULL ? strdup(v) : NULL;

    json_decref(obj);
    return copy;
}

/* Names are owned: POST /api/users claims one and answers its token; REST
 * writes under a name need that token (or an admin token). */
static void test_names_owned(void **state) {
    fixture *fx = *state;
    http_response resp;
    char *zoe, *h_zoe, *h_yan, *yan;
    const char *as_zoe = "{\"user\":\"zoe\",\"text\":\"hi\"}";

    assert_int_equal(call(fx->st, "POST", "/api/users", "{\"name\":\" zoe \"}", NULL, &resp), 201);
    zoe = body_member(&resp, "token");
    assert_non_null(zoe);
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "POST", "/api/users", "{\"name\":\"zoe\"}", NULL), 409);
    assert_int_equal(call(fx->st, "POST", "/api/users", "{\"name\":\"yan\"}", NULL, &resp), 201);
    yan = body_member(&resp, "token");
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "POST", "/api/users", "{\"name\":\"~guest-1\"}", NULL),
                     400);
    assert_int_equal(call_status(fx->st, "POST", "/api/users", "{\"name\":\"a\\u202eb\"}", NULL),
                     400);
    h_zoe = bearer(zoe);
    h_yan = bearer(yan);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms/1/messages", as_zoe, NULL), 401);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms/1/messages", as_zoe, h_yan), 403);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms/1/messages", as_zoe, "Bearer x.y.z"),
                     401);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms/1/messages", as_zoe, h_zoe), 201);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms/1/messages", as_zoe, admin_authz),
                     201);
    /* a workspace token names no user */
    char *ws = token_issue(&test_secret, false, "/w1", NULL, 600), *h_ws = bearer(ws);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms/1/messages", as_zoe, h_ws), 403);
    /* a token of an unclaimed name (chat-ws --issue-token --sub) claims it */
    char *kim = token_issue(&test_secret, false, NULL, "kim", 600), *h_kim = bearer(kim);
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms/1/messages",
                                 "{\"user\":\"kim\",\"text\":\"x\"}", h_kim),
                     201);
    assert_int_equal(call_status(fx->st, "POST", "/api/users", "{\"name\":\"kim\"}", NULL), 409);
    free(kim), free(h_kim), free(ws), free(h_ws);
    free(zoe), free(yan), free(h_zoe), free(h_yan);
}

/* Public health says up or down; the details need an admin token. */
static void test_health_public(void **state) {
    fixture *fx = *state;
    http_response resp;

    assert_int_equal(call(fx->st, "GET", "/api/health", NULL, NULL, &resp), 200);
    assert_int_equal(resp.body_len, strlen("{\"status\":\"ok\"}"));
    assert_memory_equal(resp.body, "{\"status\":\"ok\"}", resp.body_len);
    http_response_free(&resp);
    assert_int_equal(call(fx->st, "GET", "/api/health", NULL, admin_authz, &resp), 200);
    assert_non_null(strstr(resp.body, "\"ws\":["));
    http_response_free(&resp);
    assert_int_equal(call(NULL, "GET", "/api/health", NULL, NULL, &resp), 503);
    assert_null(strstr(resp.body, "database"));
    http_response_free(&resp);
}

/* The page may connect (fetch, WebSocket) to its own origin only. */
static void test_csp_same_origin(void **state) {
    fixture *fx = *state;
    http_response resp;
    const char *csp;

    run(fx->st, "GET", "/", NULL, NULL, &resp);
    csp = http_get_header(&resp, "Content-Security-Policy");
    assert_non_null(csp);
    assert_non_null(strstr(csp, "connect-src 'self';"));
    assert_null(strstr(csp, "ws:"));
    assert_null(strstr(csp, "wss:"));
    assert_null(strstr(csp, "*"));
    http_response_free(&resp);
}

/* GET /api/rooms pages by id with limit and after; more tells a next page. */
static void test_rooms_pages(void **state) {
    fixture *fx = *state;
    http_response resp;
    json_t *obj;
    int64_t a = make_room(fx->st, "/pg", "a", NULL), b = make_room(fx->st, "/pg", "b", NULL);
    char target[96];

    (void)b;
    assert_int_equal(call(fx->st, "GET", "/api/rooms?namespace=/pg&limit=1", NULL, NULL, &resp),
                     200);
    obj = json_loadb(resp.body, resp.body_len, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(obj, "rooms")), 1);
    assert_true(json_is_true(json_object_get(obj, "more")));
    json_decref(obj);
    http_response_free(&resp);
    snprintf(target, sizeof target, "/api/rooms?namespace=/pg&limit=1&after=%lld", (long long)a);
    assert_int_equal(call(fx->st, "GET", target, NULL, NULL, &resp), 200);
    assert_non_null(strstr(resp.body, "\"name\":\"b\""));
    assert_non_null(strstr(resp.body, "\"more\":false"));
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "GET", "/api/rooms?limit=0", NULL, NULL), 400);
    assert_int_equal(call_status(fx->st, "GET", "/api/rooms?limit=501", NULL, NULL), 400);
    assert_int_equal(call_status(fx->st, "GET", "/api/rooms?after=x", NULL, NULL), 400);
}

/* The same client_id in two rooms: two messages, each answered with its own
 * text (it was answered with the first room's message before). */
static void test_client_id_per_room(void **state) {
    fixture *fx = *state;
    http_response resp;
    int64_t a = make_room(fx->st, "/", "cid-a", NULL), b = make_room(fx->st, "/", "cid-b", NULL);
    char ta[64], tb[64];

    snprintf(ta, sizeof ta, "/api/rooms/%lld/messages", (long long)a);
    snprintf(tb, sizeof tb, "/api/rooms/%lld/messages", (long long)b);
    assert_int_equal(call_status(fx->st, "POST", ta,
                                 "{\"user\":\"bot\",\"text\":\"in A\",\"client_id\":\"x\"}",
                                 admin_authz),
                     201);
    assert_int_equal(call(fx->st, "POST", tb,
                          "{\"user\":\"bot\",\"text\":\"in B\",\"client_id\":\"x\"}", admin_authz,
                          &resp),
                     201);
    assert_non_null(strstr(resp.body, "\"text\":\"in B\""));
    assert_null(strstr(resp.body, "in A"));
    http_response_free(&resp);
    assert_int_equal(call(fx->st, "POST", tb,
                          "{\"user\":\"bot\",\"text\":\"again\",\"client_id\":\"x\"}", admin_authz,
                          &resp),
                     200);
    assert_non_null(strstr(resp.body, "\"text\":\"in B\""));
    http_response_free(&resp);
}

/* Accounts (fcgi/api_accounts.c): sign-up and sign-in with a password,
 * access tokens that die with their session, refresh rotation, listing and
 * revoking, device codes, and the routes' methods. */
static void test_accounts(void **state) {
    fixture *fx = *state;
    http_response resp;
    char *access, *refresh, *session, *h, *h2, *code, body[256], path[64];

    assert_int_equal(call_status(fx->st, "POST", "/api/accounts",
                                 "{\"name\":\"acc-ada\",\"password\":\"short\"}", NULL),
                     400);
    assert_int_equal(call(fx->st, "POST", "/api/accounts",
                          "{\"name\":\"acc-ada\",\"password\":\"long enough\"}", NULL, &resp),
                     201);
    access = body_member(&resp, "access_token");
    refresh = body_member(&resp, "refresh_token");
    session = body_member(&resp, "session");
    http_response_free(&resp);
    assert_int_equal(call_status(fx->st, "POST", "/api/accounts",
                                 "{\"name\":\"acc-ada\",\"password\":\"long enough\"}", NULL),
                     409);
    assert_int_equal(call_status(fx->st, "POST", "/api/sessions",
                                 "{\"name\":\"acc-ada\",\"password\":\"not this one\"}", NULL),
                     401);
    assert_int_equal(call_status(fx->st, "POST", "/api/sessions",
                                 "{\"name\":\"acc-nobody\",\"password\":\"long enough\"}", NULL),
                     401);
    h = bearer(access);
    assert_int_equal(call(fx->st, "GET", "/api/sessions", NULL, h, &resp), 200);
    assert_non_null(strstr(resp.body, session));
    http_response_free(&resp);
    /* an access token writes as its user */
    assert_int_equal(call_status(fx->st, "POST", "/api/rooms/1/messages",
                                 "{\"user\":\"acc-ada\",\"text\":\"hi\"}", h),
                     201);
    /* a code signs another device in, once */
    assert_int_equal(call(fx->st, "POST", "/api/link-codes", "{}", h, &resp), 201);
    code = body_member(&resp, "code");
    http_response_free(&resp);
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    assert_int_equal(call_status(fx->st, "POST", "/api/sessions", body, NULL), 200);
    assert_int_equal(call_status(fx->st, "POST", "/api/sessions", body, NULL), 401);
    /* refresh rotates; the spent token revokes the session */
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", refresh);
    assert_int_equal(call_status(fx->st, "POST", "/api/sessions/refresh", body, NULL), 200);
    assert_int_equal(call_status(fx->st, "POST", "/api/sessions/refresh", body, NULL), 401);
    assert_int_equal(call_status(fx->st, "GET", "/api/sessions", NULL, h), 401);
    /* another session, revoked by an admin */
    assert_int_equal(call(fx->st, "POST", "/api/sessions",
                          "{\"name\":\"acc-ada\",\"password\":\"long enough\"}", NULL, &resp),
                     200);
    free(access);
    access = body_member(&resp, "access_token");
    http_response_free(&resp);
    h2 = bearer(access);
    assert_int_equal(call_status(fx->st, "GET", "/api/sessions?user=acc-ada", NULL, h2), 403);
    assert_int_equal(call_status(fx->st, "DELETE", "/api/sessions?user=acc-ada", NULL, admin_authz),
                     204);
    assert_int_equal(call_status(fx->st, "GET", "/api/sessions", NULL, h2), 401);
    snprintf(path, sizeof path, "/api/sessions/%s", session);
    assert_int_equal(call_status(fx->st, "DELETE", path, NULL, admin_authz), 404);
    assert_int_equal(call_status(fx->st, "PUT", "/api/sessions", "{}", NULL), 405);
    assert_int_equal(call_status(fx->st, "GET", "/api/link-codes", NULL, NULL), 405);
    assert_int_equal(call_status(fx->st, "GET", "/api/sessions", NULL, NULL), 401);
    assert_int_equal(call_status(fx->st, "POST", "/api/sessions/sso", "{}", NULL), 404);
    free(h);
    free(h2);
    free(code);
    free(access);
    free(refresh);
    free(session);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_table),     cmocka_unit_test(test_limits),
        cmocka_unit_test(test_long_target),      cmocka_unit_test(test_body_states),
        cmocka_unit_test(test_nul_in_body),      cmocka_unit_test(test_history_order),
        cmocka_unit_test(test_no_database),      cmocka_unit_test(test_busy_database),
        cmocka_unit_test(test_health_processes), cmocka_unit_test(test_admin_delete_room),
        cmocka_unit_test(test_workspaces),       cmocka_unit_test(test_private_workspace),
        cmocka_unit_test(test_workspace_pages),  cmocka_unit_test(test_random_input),
        cmocka_unit_test(test_page_escape),      cmocka_unit_test(test_page_json_script),
        cmocka_unit_test(test_names_owned),      cmocka_unit_test(test_health_public),
        cmocka_unit_test(test_rooms_pages),      cmocka_unit_test(test_client_id_per_room),
        cmocka_unit_test(test_csp_same_origin),  cmocka_unit_test(test_accounts),
    };

    static const char key[] = "unit-test-secret-0123456789abcdef";

    memcpy(test_secret.key, key, sizeof key - 1);
    test_secret.len = sizeof key - 1;
    char *admin = token_issue(&test_secret, true, NULL, "admin", 3600);
    if (admin == NULL) return 1;
    snprintf(admin_authz, sizeof admin_authz, "Bearer %s", admin);
    free(admin);
    return cmocka_run_group_tests_name("fcgi router", tests, fixture_setup, fixture_teardown);
}
